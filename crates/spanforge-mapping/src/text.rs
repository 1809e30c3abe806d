//! Plain-text renderings for terminals: the gap report and a package summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::conclusion::Conclusion;
use crate::engine::Assessment;
use crate::framework::NodeStatus;
use crate::package::PackageReport;

fn counts(a: &Assessment) -> (BTreeMap<Conclusion, usize>, BTreeMap<NodeStatus, usize>) {
    let mut controls = BTreeMap::new();
    for c in &a.controls {
        *controls.entry(c.conclusion).or_default() += 1;
    }
    let mut nodes = BTreeMap::new();
    for n in &a.nodes {
        *nodes.entry(n.status).or_default() += 1;
    }
    (controls, nodes)
}

fn scope_line(a: &Assessment) -> String {
    let catalog = spanforge_catalog::catalog(a.framework);
    format!(
        "{} ({}), {} to {}, model {}, {}",
        a.framework,
        catalog.name(),
        a.period.from(),
        a.period.to(),
        a.model_id.as_deref().unwrap_or("(all)"),
        a.org
            .as_deref()
            .map_or_else(|| "every tenant".to_owned(), |o| format!("org {o}"))
    )
}

/// A summary of an assessment: scope, ledger, conclusions and criteria counts.
pub fn summary(a: &Assessment) -> String {
    let (controls, nodes) = counts(a);
    let mut out = String::new();
    let _ = writeln!(out, "  scope: {}", scope_line(a));
    let _ = writeln!(
        out,
        "  ledger {}: verified, {} event(s) checked",
        a.verification.ledger_id, a.verification.events
    );
    for t in &a.tenants {
        match &t.checkpoint {
            Some(cp) => {
                let _ = writeln!(
                    out,
                    "  checkpoint {}: size {}, root {}",
                    t.path,
                    cp.checkpoint().size(),
                    cp.checkpoint().root().to_hex()
                );
            }
            None => {
                let _ = writeln!(out, "  tenant {}: {} event(s) in scope", t.path, t.size);
            }
        }
    }
    let list = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let c: BTreeMap<String, usize> = controls
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), *v))
        .collect();
    let n: BTreeMap<String, usize> = nodes
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), *v))
        .collect();
    let _ = writeln!(out, "  controls: {}", list(&c));
    let _ = writeln!(out, "  criteria: {}", list(&n));
    out
}

/// The gap report: every criterion that needs action, with what is missing and what to do.
pub fn gap_report(a: &Assessment) -> String {
    let mut out = format!("Gap report: {}\n", scope_line(a));
    out.push_str(&summary(a));
    let needing: Vec<_> = a.nodes.iter().filter(|n| n.status.needs_action()).collect();
    let _ = writeln!(
        out,
        "\n{} of {} criteria need action (evidence relevant to each criterion; not a statement of compliance)",
        needing.len(),
        a.nodes.len()
    );
    for n in needing {
        let _ = writeln!(out, "\n{} {} [{}]", n.id, n.title, n.status.label());
        let _ = writeln!(out, "  why: {}", n.reason);
        for m in &n.missing {
            let _ = writeln!(out, "  missing: {m}");
        }
        for r in &n.remediation {
            let _ = writeln!(out, "  do: {r}");
        }
    }
    out
}

/// A package verification result.
pub fn package_report(r: &PackageReport) -> String {
    let mut out = String::new();
    if r.ok {
        let _ = writeln!(
            out,
            "OK: {} file(s), {} checkpoint(s) and {} inclusion proof(s) verified",
            r.files_checked, r.checkpoints_checked, r.proofs_checked
        );
    } else {
        let _ = writeln!(out, "FAIL: {} problem(s)", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(out, "  {}: {}", p.file, p.reason);
        }
    }
    out
}
