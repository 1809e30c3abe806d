//! Locating the workspace, the shared reference directory and the Python venv, and reading CSV.

use std::path::{Path, PathBuf};

/// The workspace root: two levels above this crate's manifest.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `SPANFORGE_SHARED_DIR`, or `<workspace>/../shared`. Panics (fails the test) when missing.
pub(crate) fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("SPANFORGE_SHARED_DIR")
        .map_or_else(|| workspace_root().join("../shared"), PathBuf::from);
    assert!(
        dir.join("reference/catalogs").is_dir(),
        "the shared reference directory is missing: expected {}/reference/catalogs \
         (set SPANFORGE_SHARED_DIR to the directory that holds reference/)",
        dir.display()
    );
    dir
}

/// One CSV file of `reference/catalogs/` as rows of named fields.
pub(crate) fn reference_csv(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let path = shared_dir().join("reference/catalogs").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rows = parse_csv(&text).into_iter();
    let header = rows.next().unwrap_or_else(|| panic!("{name} is empty"));
    rows.map(|row| {
        assert_eq!(
            row.len(),
            header.len(),
            "{name}: row {row:?} has the wrong field count"
        );
        header.iter().cloned().zip(row).collect()
    })
    .collect()
}

/// RFC 4180 CSV: fields separated by commas, optionally double-quoted, `""` escaping a quote.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[test]
fn csv_parser_handles_quotes() {
    let rows = parse_csv("a,b\n\"x, y\",\"say \"\"hi\"\"\"\r\nlast,row");
    assert_eq!(
        rows,
        vec![
            vec!["a", "b"],
            vec!["x, y", "say \"hi\""],
            vec!["last", "row"]
        ]
    );
}
