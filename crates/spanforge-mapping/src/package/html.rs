//! `report/index.html`: one self-contained page (inline CSS, no scripts, no external assets)
//! that an auditor opens in a browser. Every link is relative and points into the package.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;
use spanforge_catalog::canonical::GuideItemKind;

use super::proof_file;
use crate::accumulator::CitedEvent;
use crate::conclusion::Conclusion;
use crate::engine::{Assessment, ControlResult};
use crate::framework::NodeStatus;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;background:#f6f7f9;line-height:1.45}
header{background:#1d2330;color:#fff;padding:1.5rem 2rem}
header h1{margin:0 0 .3rem;font-size:1.5rem}
header p{margin:.2rem 0;color:#c9cfdb}
main{padding:1rem 2rem 3rem;max-width:1200px}
section{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1rem 1.4rem;margin:1.2rem 0}
h2{font-size:1.2rem;margin:.2rem 0 .8rem}
h3{font-size:1.02rem;margin:1rem 0 .4rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e6e9ef;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f2f6}
code{font-size:.85em;background:#f0f2f6;padding:0 .25em;border-radius:3px;word-break:break-all}
.badge{display:inline-block;border-radius:10px;padding:0 .55em;font-size:.8rem;font-weight:600;white-space:nowrap}
.ok{background:#d8f3df;color:#16612f}.warn{background:#fff1c9;color:#7a5500}.bad{background:#fde0e0;color:#8f1c1c}.info{background:#e3ecfb;color:#1f4a8f}.muted{background:#eceef2;color:#4b5263}
.note{color:#4b5263;font-size:.9rem}
ul.steps li{margin:.25rem 0}
nav a{margin-right:1rem;color:#c9cfdb}
";

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn conclusion_badge(c: Conclusion) -> String {
    let class = match c {
        Conclusion::Effective => "ok",
        Conclusion::EffectiveWithExceptions => "warn",
        Conclusion::NotOccurred | Conclusion::NotApplicable => "muted",
        Conclusion::Ineffective | Conclusion::InsufficientEvidence | Conclusion::Stale => "bad",
        Conclusion::ManualEvidencePending => "info",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(c.label()))
}

fn status_badge(s: NodeStatus) -> String {
    let class = match s {
        NodeStatus::Satisfied => "ok",
        NodeStatus::SatisfiedWithExceptions | NodeStatus::Partial => "warn",
        NodeStatus::NotOccurred | NodeStatus::NotApplicable => "muted",
        NodeStatus::Gap => "bad",
        NodeStatus::ManualEvidenceRequired => "info",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(s.label()))
}

fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn control_link(id: &str) -> String {
    format!("<a href=\"#ctl-{}\">{}</a>", anchor(id), esc(id))
}

fn file_link(path: &str, label: &str) -> String {
    format!("<a href=\"../{}\">{}</a>", esc(path), esc(label))
}

fn event_link(e: &CitedEvent, cited: &BTreeMap<CitedEvent, BTreeSet<String>>) -> String {
    let text = format!("{} {} ({})", e.event_type, e.event_id, e.timestamp);
    if cited.contains_key(e) {
        format!(
            "{} <a href=\"../{}\">[proof]</a>",
            esc(&text),
            esc(&proof_file(&e.event_id))
        )
    } else {
        esc(&text)
    }
}

fn question_status(controls: &[&ControlResult]) -> (&'static str, &'static str) {
    if controls.is_empty() {
        return ("No control answers this question", "bad");
    }
    let operating = controls
        .iter()
        .filter(|c| c.conclusion.is_operating())
        .count();
    let exceptions = controls
        .iter()
        .any(|c| c.conclusion == Conclusion::EffectiveWithExceptions);
    if operating == controls.len() {
        if exceptions {
            ("Evidenced, with exceptions", "warn")
        } else {
            ("Evidenced", "ok")
        }
    } else if operating > 0 {
        ("Partly evidenced", "warn")
    } else {
        ("Not evidenced", "bad")
    }
}

/// Renders the report.
#[expect(
    clippy::too_many_lines,
    reason = "the page is written top to bottom in one place"
)]
pub(crate) fn report(
    a: &Assessment,
    package: &Value,
    cited: &BTreeMap<CitedEvent, BTreeSet<String>>,
) -> String {
    let registry = spanforge_catalog::registry();
    let catalog = registry.catalog(a.framework);
    let mut h = String::with_capacity(1 << 18);
    let title = format!(
        "Evidence package: {} — {} to {}",
        catalog.name(),
        a.period.from(),
        a.period.to()
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = write!(
        h,
        "<header><h1>{}</h1><p>Organisation: <strong>{}</strong> · Model: <strong>{}</strong> · Framework edition: {}</p>\
         <p>Evidence relevant to each criterion, collected from a verified ledger. This page is not a statement of compliance.</p>\
         <nav><a href=\"#integrity\">Integrity</a><a href=\"#summary\">Summary</a><a href=\"#questions\">Auditor questions</a>\
         <a href=\"#criteria\">Criteria</a><a href=\"#gaps\">Gaps</a><a href=\"#controls\">Controls</a></nav></header>\n<main>\n",
        esc(&title),
        esc(a.org.as_deref().unwrap_or("all tenants of the ledger")),
        esc(a.model_id.as_deref().unwrap_or("all models")),
        esc(&catalog.edition().edition)
    );

    // Integrity.
    let _ = write!(
        h,
        "<section id=\"integrity\"><h2>Integrity</h2><p>The ledger <code>{}</code> was verified before any evidence was drawn from it: \
         <strong>{}</strong>, {} event(s) checked (hash chain, Merkle tree, signed checkpoints). Populations are bounded by these signed checkpoints:</p>\
         <table><tr><th>Tenant</th><th>Origin</th><th>Tree size</th><th>Root</th><th>Events read</th></tr>",
        esc(&a.verification.ledger_id),
        if a.verification.valid {
            "intact"
        } else {
            "NOT intact"
        },
        a.verification.events
    );
    for t in &a.tenants {
        let cp = t.checkpoint.as_ref().map(|c| c.checkpoint());
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&t.path),
            esc(&t.origin),
            cp.map_or(t.size, |c| c.size()),
            esc(&cp.map(|c| c.root().to_hex()).unwrap_or_default()),
            t.events_read
        );
    }
    let vkey = package
        .pointer("/signer/vkey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "</table><p>Files: {} · {} · {} · {} · {}</p>\
         <p class=\"note\">Every file is listed with its SHA-256 in {}, which {} signs (Ed25519, C2SP signed note). \
         Verify with <code>spanforge compliance verify-package &lt;dir&gt; --pubkey &lt;file&gt;</code>, where the file holds the signer's public key <code>{}</code>. \
         Verification shows that nothing changed and that each cited event is in the signed tree; it does not show that capture was complete or that timestamps are true.</p></section>",
        file_link("integrity/ledger-verification.json", "ledger verification"),
        file_link("integrity/checkpoints.txt", "signed checkpoints"),
        file_link("integrity/proofs/index.json", "inclusion proofs"),
        file_link("package.json", "package description"),
        file_link("oscal/assessment-results.json", "OSCAL assessment results"),
        file_link("manifest.json", "manifest.json"),
        file_link("manifest.sig", "manifest.sig"),
        esc(vkey)
    );

    // Summary.
    let mut by_status: BTreeMap<NodeStatus, usize> = BTreeMap::new();
    for n in &a.nodes {
        *by_status.entry(n.status).or_default() += 1;
    }
    let mut by_conclusion: BTreeMap<Conclusion, usize> = BTreeMap::new();
    for c in &a.controls {
        *by_conclusion.entry(c.conclusion).or_default() += 1;
    }
    let _ = write!(
        h,
        "<section id=\"summary\"><h2>Summary</h2><p>{} criteria of {} assessed through {} canonical controls ({}).</p><table><tr><th>Criteria status</th><th>Count</th></tr>",
        a.nodes.len(),
        esc(catalog.name()),
        a.controls.len(),
        match a.sampling {
            None => "census of every population",
            Some(_) => "deterministic samples, full populations shipped",
        }
    );
    for (s, n) in &by_status {
        let _ = write!(h, "<tr><td>{}</td><td>{n}</td></tr>", status_badge(*s));
    }
    h.push_str(
        "</table><h3>Control conclusions</h3><table><tr><th>Conclusion</th><th>Count</th></tr>",
    );
    for (c, n) in &by_conclusion {
        let _ = write!(h, "<tr><td>{}</td><td>{n}</td></tr>", conclusion_badge(*c));
    }
    h.push_str(&format!(
        "</table><p>Full gap report: {}</p></section>\n",
        file_link("gaps/gap-report.json", "gaps/gap-report.json")
    ));

    // The eight auditor questions.
    h.push_str("<section id=\"questions\"><h2>The auditor's eight questions</h2>");
    let mut questions: Vec<_> = registry
        .guide()
        .iter()
        .filter(|g| g.kind == GuideItemKind::Question)
        .collect();
    questions.sort_by_key(|g| g.id.parse::<u8>().unwrap_or(u8::MAX));
    for q in questions {
        let number = q.id.parse::<u8>().unwrap_or(0);
        let answering: Vec<&ControlResult> = a
            .controls
            .iter()
            .filter(|c| c.questions.contains(&number))
            .collect();
        let (status, class) = question_status(&answering);
        let _ = write!(
            h,
            "<h3 id=\"q{number}\">{number}. {} <span class=\"badge {class}\">{status}</span></h3><ul>",
            esc(&q.text)
        );
        for c in &answering {
            let _ = write!(
                h,
                "<li>{} {} {} — {} · {} · {} · {}",
                control_link(&c.id),
                esc(&c.title),
                conclusion_badge(c.conclusion),
                esc(&c.reason),
                file_link(&format!("controls/{}/conclusion.json", c.id), "conclusion"),
                file_link(
                    &format!("controls/{}/population.jsonl", c.id),
                    &format!("population ({})", c.population)
                ),
                file_link(
                    &format!("controls/{}/exceptions.jsonl", c.id),
                    &format!("exceptions ({})", c.deviations_total)
                ),
            );
            if !c.recent.is_empty() {
                let _ = write!(
                    h,
                    "<br><span class=\"note\">Most recent {}:</span><ul>",
                    c.recent.len()
                );
                for e in c.recent.iter().rev() {
                    let flagged: Vec<&str> = c
                        .deviations
                        .iter()
                        .filter(|d| d.event.as_ref().is_some_and(|x| x.event_id == e.event_id))
                        .map(|d| d.reason.as_str())
                        .collect();
                    let flag = if flagged.is_empty() {
                        String::from(" <span class=\"badge ok\">no exception</span>")
                    } else {
                        format!(
                            " <span class=\"badge bad\">exception</span> {}",
                            esc(&flagged.join("; "))
                        )
                    };
                    let _ = write!(h, "<li>{}{flag}</li>", event_link(e, cited));
                }
                h.push_str("</ul>");
            }
            if !c.deviations.is_empty() {
                // Every exception the auditor asks about, not only those among the recent items.
                let _ = write!(
                    h,
                    "<br><span class=\"note\">Exceptions ({} in all{}):</span><ul>",
                    c.deviations_total,
                    if c.deviations_total > c.deviations.len() as u64 {
                        ", the first listed here, every one in exceptions.jsonl"
                    } else {
                        ""
                    }
                );
                for d in &c.deviations {
                    let what = d
                        .event
                        .as_ref()
                        .map_or_else(|| esc(&d.kind), |e| event_link(e, cited));
                    let _ = write!(
                        h,
                        "<li><span class=\"badge bad\">exception</span> {what}: {}</li>",
                        esc(&d.reason)
                    );
                }
                h.push_str("</ul>");
            }
            h.push_str("</li>");
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>\n");

    // Criteria table.
    let _ = write!(
        h,
        "<section id=\"criteria\"><h2>Criteria of {}</h2><table><tr><th>Criterion</th><th>Status</th><th>Design</th><th>Operating</th><th>Controls</th></tr>",
        esc(catalog.name())
    );
    for n in &a.nodes {
        let controls: Vec<String> = n
            .controls
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    control_link(&c.control),
                    conclusion_badge(c.conclusion)
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr id=\"node-{}\"><td><strong>{}</strong> {}</td><td>{}</td><td>{:?}</td><td>{:?}</td><td>{}</td></tr>",
            anchor(&n.oscal_id),
            esc(&n.id),
            esc(&n.title),
            status_badge(n.status),
            n.design_coverage,
            n.operating_coverage,
            if controls.is_empty() {
                "—".to_owned()
            } else {
                controls.join("<br>")
            }
        );
    }
    h.push_str("</table></section>\n");

    // Gaps.
    h.push_str("<section id=\"gaps\"><h2>Gaps and remediation</h2>");
    let needing: Vec<_> = a.nodes.iter().filter(|n| n.status.needs_action()).collect();
    if needing.is_empty() {
        h.push_str("<p>No criterion needs action.</p>");
    }
    for n in needing {
        let _ = write!(
            h,
            "<h3><a href=\"#node-{}\">{}</a> {} {}</h3><p>{}</p>",
            anchor(&n.oscal_id),
            esc(&n.id),
            esc(&n.title),
            status_badge(n.status),
            esc(&n.reason)
        );
        if !n.missing.is_empty() {
            h.push_str("<p class=\"note\">Missing evidence:</p><ul>");
            for m in &n.missing {
                let _ = write!(h, "<li>{}</li>", esc(m));
            }
            h.push_str("</ul>");
        }
        if !n.remediation.is_empty() {
            h.push_str("<p class=\"note\">Next steps:</p><ul class=\"steps\">");
            for r in &n.remediation {
                let _ = write!(h, "<li>{}</li>", esc(r));
            }
            h.push_str("</ul>");
        }
    }
    h.push_str("</section>\n");

    // Controls.
    h.push_str("<section id=\"controls\"><h2>Controls</h2>");
    for c in &a.controls {
        let _ = write!(
            h,
            "<h3 id=\"ctl-{}\">{} {} {}</h3><p>{}</p><p class=\"note\">{} · {} · {} · population {} item(s) · {}</p><p>{}</p>",
            anchor(&c.id),
            esc(&c.id),
            esc(&c.title),
            conclusion_badge(c.conclusion),
            esc(&c.objective),
            esc(&c.domain),
            esc(&c.frequency),
            esc(&c.automation),
            c.population,
            esc(&match &c.coverage {
                crate::coverage::CoverageResult::NotPeriodic => "event-driven".to_owned(),
                crate::coverage::CoverageResult::Covered { .. } => "period covered".to_owned(),
                crate::coverage::CoverageResult::Gaps { missing_days, .. } =>
                    format!("{missing_days} day(s) without evidence"),
                crate::coverage::CoverageResult::Stale { last } => format!("stale since {last}"),
                crate::coverage::CoverageResult::NoEvidence => "no evidence".to_owned(),
            }),
            esc(&c.reason)
        );
        let _ = write!(
            h,
            "<p>Evidence: {} · {} · {} · {} · {}</p>",
            file_link(
                &format!("controls/{}/conclusion.json", c.id),
                "conclusion.json"
            ),
            file_link(
                &format!("controls/{}/population.jsonl", c.id),
                "population.jsonl"
            ),
            file_link(
                &format!("controls/{}/test-results.json", c.id),
                "test-results.json"
            ),
            file_link(
                &format!("controls/{}/selection.json", c.id),
                "selection.json"
            ),
            file_link(
                &format!("controls/{}/exceptions.jsonl", c.id),
                "exceptions.jsonl"
            ),
        );
        h.push_str("<table><tr><th>Attribute</th><th>Test</th><th>Status</th><th>Tested</th><th>Failed</th></tr>");
        for at in &c.attributes {
            let class = match at.status.as_str() {
                "pass" => "ok",
                "fail" => "bad",
                "manual" => "info",
                _ => "muted",
            };
            let _ = write!(
                h,
                "<tr><td>{} {}</td><td>{}{}</td><td><span class=\"badge {class}\">{}</span></td><td>{}</td><td>{}</td></tr>",
                esc(&at.id),
                esc(&at.name),
                esc(&at.test),
                if at.methods.is_empty() {
                    String::from(" <span class=\"note\">(tested by inspection)</span>")
                } else {
                    format!(
                        " <span class=\"note\">[{}]</span>",
                        esc(&at.methods.join("; "))
                    )
                },
                esc(&at.status),
                at.tested,
                at.failed
            );
        }
        h.push_str("</table>");
        if !c.deviations.is_empty() {
            let _ = write!(
                h,
                "<p class=\"note\">Deviations ({} recorded; the first {} are cited with proofs):</p><ul>",
                c.deviations_total,
                c.deviations.len().min(20)
            );
            for d in c.deviations.iter().take(20) {
                let what = d
                    .event
                    .as_ref()
                    .map_or_else(String::new, |e| event_link(e, cited));
                let _ = write!(
                    h,
                    "<li>{} {} — {}</li>",
                    esc(d.attribute.as_deref().unwrap_or(&d.kind)),
                    what,
                    esc(&d.reason)
                );
            }
            h.push_str("</ul>");
        }
        if !c.remediation.is_empty() {
            h.push_str("<p class=\"note\">Remediation:</p><ul class=\"steps\">");
            for r in &c.remediation {
                let _ = write!(h, "<li>{}</li>", esc(r));
            }
            h.push_str("</ul>");
        }
        if !c.maps_to.is_empty() {
            let _ = write!(
                h,
                "<p class=\"note\">Relevant to: {}</p>",
                esc(&c.maps_to.join(", "))
            );
        }
    }
    h.push_str("</section>\n");
    let _ = write!(
        h,
        "<section><p class=\"note\">Generated by spanforge {} from catalog {} (framework hash <code>{}</code>, mappings <code>{}</code>) and engine rules <code>{}</code>.</p></section>\n</main>\n</body>\n</html>\n",
        esc(package
            .pointer("/tool/version")
            .and_then(Value::as_str)
            .unwrap_or("")),
        esc(&catalog.edition().edition_id),
        esc(&catalog.content_hash().to_string()),
        esc(&registry.mappings_hash().to_string()),
        esc(&a.rules_hash)
    );
    h
}
