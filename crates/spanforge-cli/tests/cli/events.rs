//! `spanforge events validate`.

use std::fs;

use crate::support::{root, run, run_stdin};

fn example() -> String {
    root().join("examples/events.jsonl").display().to_string()
}

#[test]
fn the_bundled_examples_are_all_valid() {
    let r = run(&["events", "validate", &example()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lines = fs::read_to_string(example())
        .expect("example file")
        .lines()
        .count();
    assert!(lines >= 74, "the example file covers every registered type");
    assert!(
        r.stdout
            .contains(&format!("{lines} events checked: {lines} valid, 0 invalid")),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_lines_are_named_with_file_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mixed.jsonl");
    let good = fs::read_to_string(example()).expect("example file");
    let first = good.lines().next().expect("one line");
    let bad_id = first.replacen("\"event_id\":\"", "\"event_id\":\"I", 1);
    let bad_tag = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{"a":1},"schema_version":"2.0","source":"bot@1.0.0","tags":{"env":""},"timestamp":"2026-01-03T10:00:01.250000Z"}"#;
    let bad_type = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made.extra","payload":{"a":1},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#;
    let text = format!("{first}\n{bad_id}\n\n{bad_tag}\n{{\"event_id\": 5\n{bad_type}\n");
    fs::write(&path, text).expect("write");
    let name = path.display().to_string();
    let r = run(&["events", "validate", &name]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let out: Vec<&str> = r.stdout.lines().collect();
    assert!(
        out[0].starts_with(&format!("{name}:2: event_id: ")),
        "{}",
        r.stdout
    );
    assert!(
        out[1].starts_with(&format!("{name}:4: tags.env: ")),
        "{}",
        r.stdout
    );
    assert!(
        out[2].starts_with(&format!("{name}:5: <event>: ")),
        "{}",
        r.stdout
    );
    assert!(
        out[3].starts_with(&format!("{name}:6: event_type: ")),
        "{}",
        r.stdout
    );
    assert_eq!(out[4], "5 events checked: 1 valid, 4 invalid");
}

#[test]
fn json_format_lists_every_invalid_line() {
    let bad = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#;
    let good = fs::read_to_string(example()).expect("example file");
    let input = format!("{}\n{bad}\n", good.lines().next().expect("line"));
    let r = run_stdin(
        &["events", "validate", "--format", "json", "-"],
        input.as_bytes(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one JSON object");
    assert_eq!(v["total"], 2);
    assert_eq!(v["valid"], 1);
    let inv = &v["invalid"][0];
    assert_eq!(inv["file"], "<stdin>");
    assert_eq!(inv["line"], 2);
    assert_eq!(inv["event_id"], "01KDZ5T8Q3M9V6W2X4Y7Z0A1B3");
    assert_eq!(inv["field"], "payload");
    assert!(
        inv["error"]
            .as_str()
            .is_some_and(|e| e.contains("non-empty")),
        "{inv}"
    );
}

#[test]
fn a_file_that_is_not_jsonl_gets_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "pretty.json",
            b"{\n  \"event_id\": \"x\"\n}\n",
            "pretty-printed",
        ),
        ("array.json", b"[{\"a\":1},\n{\"b\":2}]\n", "JSON array"),
        (
            "binary.bin",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\n",
            "not UTF-8",
        ),
        (
            "prose.txt",
            b"hello world\nthis is text\nmore text\n",
            "not JSON",
        ),
    ];
    for (name, data, hint) in cases {
        let path = dir.path().join(name);
        fs::write(&path, data).expect("write");
        let r = run(&["events", "validate", &path.display().to_string()]);
        assert_eq!(r.code, 1, "{name}: {}{}", r.stdout, r.stderr);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "{name}: one error and the summary: {}",
            r.stdout
        );
        assert!(
            lines[0].contains("<file>: not a JSONL file"),
            "{name}: {}",
            lines[0]
        );
        assert!(lines[0].contains(hint), "{name}: {}", lines[0]);
    }
}

#[test]
fn usage_and_io_errors_exit_2() {
    let r = run(&["events", "validate"]);
    assert_eq!(r.code, 2, "no file: {}", r.stderr);
    let r = run(&["events", "validate", "/nonexistent/events.jsonl"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("/nonexistent/events.jsonl: cannot open"),
        "{}",
        r.stderr
    );
    let r = run(&["events", "validate", "--format", "xml", &example()]);
    assert_eq!(r.code, 2);
    let r = run(&["events", "validate", "/tmp"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
}

#[test]
fn large_inputs_stream() {
    // 20,000 lines through stdin: the command must handle them without holding the file.
    let good = fs::read_to_string(example()).expect("example file");
    let line = good.lines().next().expect("line");
    let mut big = String::with_capacity((line.len() + 1) * 20_000);
    for _ in 0..20_000 {
        big.push_str(line);
        big.push('\n');
    }
    let r = run_stdin(&["events", "validate", "-"], big.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("20000 events checked: 20000 valid, 0 invalid"),
        "{}",
        r.stdout
    );
}
