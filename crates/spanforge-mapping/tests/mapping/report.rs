//! `report/index.html` in a real headless browser (Chromium from Debian's packages): it
//! renders, raises no console or script error, loads nothing from outside the package, and
//! every link resolves inside the package.
//!
//! The test needs `chromium` (listed in `scripts/apt-packages.txt`, installed by
//! `cargo xtask setup`) and fails, naming that command, when it is missing. Set
//! `SPANFORGE_CHROMIUM` to use another binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use spanforge_catalog::FrameworkId;

use crate::support::*;

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SPANFORGE_CHROMIUM") {
        return PathBuf::from(p);
    }
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "chromium is not installed: run `cargo xtask setup` (it installs the Debian packages of scripts/apt-packages.txt) or set SPANFORGE_CHROMIUM"
    );
}

/// Runs headless Chromium on a local file with network access cut off.
fn browse(page: &Path, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            // Any attempt to load something from the network fails and is logged.
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every value of `attr="..."` in the page.
fn attribute_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&needle) {
        rest = &rest[i + needle.len()..];
        let end = rest.find('"').unwrap();
        out.push(rest[..end].replace("&amp;", "&").replace("&quot;", "\""));
        rest = &rest[end..];
    }
    out
}

#[test]
fn the_report_renders_in_a_browser_and_its_links_resolve() {
    let mut f = shared();
    let (dir, assessment) = standard_package(&mut f, FrameworkId::Soc2);
    drop(f);
    let page = dir.join("report/index.html");
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: no scripts, no external assets, no remote links.
    assert!(
        !html.contains("<script"),
        "the report must not need scripts"
    );
    for attr in ["src", "href"] {
        for v in attribute_values(&html, attr) {
            assert!(
                !v.contains("://") && !v.starts_with("//"),
                "external {attr}: {v}"
            );
        }
    }
    assert!(!html.contains("<link"), "no external stylesheet");

    // Every link resolves inside the package: files exist, anchors exist in the page.
    let ids: BTreeSet<String> = attribute_values(&html, "id").into_iter().collect();
    let root = dir.canonicalize().unwrap();
    let links = attribute_values(&html, "href");
    assert!(links.len() > 100, "the report links into the evidence");
    for link in &links {
        if let Some(anchor) = link.strip_prefix('#') {
            assert!(ids.contains(anchor), "anchor #{anchor} has no target");
            continue;
        }
        let target = dir.join("report").join(link);
        assert!(target.is_file(), "link {link} does not resolve to a file");
        assert!(
            target.canonicalize().unwrap().starts_with(&root),
            "link {link} leaves the package"
        );
    }
    // The eight questions are answered, each with evidence links.
    for q in 1..=8 {
        assert!(ids.contains(&format!("q{q}")), "question {q} missing");
    }
    assert!(
        links
            .iter()
            .any(|l| l.starts_with("../integrity/proofs/") && l.ends_with(".tlog-proof"))
    );
    assert!(
        links
            .iter()
            .any(|l| l == "../controls/SF-CHG-01/exceptions.jsonl")
    );

    // Question 2 (the last model deployments) lists the unapproved deployment as an exception,
    // whether or not it is among the most recent deployments.
    let q2 = &html[html.find("id=\"q2\"").unwrap()..html.find("id=\"q3\"").unwrap()];
    let listed = &q2[q2
        .find("Exceptions (")
        .expect("question 2 lists its exceptions")..];
    assert!(
        listed.contains("class=\"badge bad\">exception</span>"),
        "{listed}"
    );
    assert!(listed.contains("approv"), "{listed}");

    // Chromium renders it: the DOM after load holds every section and no error page.
    let (dom, _) = browse(&page, &["--dump-dom"]);
    for section in [
        "id=\"integrity\"",
        "id=\"summary\"",
        "id=\"questions\"",
        "id=\"criteria\"",
        "id=\"gaps\"",
        "id=\"controls\"",
    ] {
        assert!(dom.contains(section), "rendered DOM lacks {section}");
    }
    assert!(dom.contains("The auditor's eight questions"));
    assert!(dom.contains(&assessment.nodes[0].id));
    assert!(!dom.contains("ERR_FILE_NOT_FOUND"));

    // No console message at all (the page has no script), and no failed load.
    let problems = console_problems(&page);
    assert!(problems.is_empty(), "{problems:?}");
}

/// Lines of Chromium's log that report a console message, a script error or a failed load.
fn console_problems(page: &Path) -> Vec<String> {
    let (_, log) = browse(page, &["--enable-logging=stderr", "--v=0", "--dump-dom"]);
    log.lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.to_lowercase().contains("uncaught")
                || l.contains("net::ERR_")
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_browser_harness_catches_script_errors() {
    // Guards the harness: a page with a script error must be reported.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>missingFunction();</script></body></html>",
    )
    .unwrap();
    let problems = console_problems(&page);
    assert!(
        problems.iter().any(|l| l.contains("missingFunction")),
        "{problems:?}"
    );
}
