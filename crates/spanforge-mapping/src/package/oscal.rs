//! OSCAL 1.2 assessment results for a package.
//!
//! Conventions (OSCAL leaves evidence handling to implementers): one observation per canonical
//! control, with method `TEST` for automated controls and `EXAMINE` for attestation-based ones,
//! whose `relevant-evidence` points (`#uuid`) to back-matter resources for the control's
//! population and exception listings, each with its SHA-256; one finding per framework node,
//! targeting the node's objective (`<oscal id>_obj`) and relating the observations of the
//! controls mapped to it. Status follows the recommendation: evidenced nodes are
//! `satisfied`/`pass`, gaps `not-satisfied`/`fail`, everything else `not-satisfied`/`other`
//! with remarks. UUIDs are version-5 UUIDs derived from the package identity, and the
//! timestamps are the period's end, so the document is reproducible.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::hash_file;
use crate::engine::Assessment;
use crate::error::Result;
use crate::framework::NodeStatus;

/// The OSCAL version written.
const OSCAL_VERSION: &str = "1.2.1";
const NS: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/ns/oscal");

/// A name that identifies the package's content (not its files), for UUIDs.
fn identity(a: &Assessment) -> String {
    let mut h = Sha256::new();
    h.update(a.framework.as_str());
    h.update(format!("|{}|{}", a.period.from(), a.period.to()));
    h.update(format!("|{:?}|{:?}|{}", a.model_id, a.org, a.rules_hash));
    for t in &a.tenants {
        if let Some(cp) = &t.checkpoint {
            h.update(format!(
                "|{}|{}|{}",
                t.origin,
                cp.checkpoint().size(),
                cp.checkpoint().root().to_hex()
            ));
        }
    }
    hex::encode(h.finalize())
}

fn uuid(package: &str, name: &str) -> String {
    let ns = Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"urn:spanforge:mapping:evidence-package",
    );
    Uuid::new_v5(&ns, format!("{package}/{name}").as_bytes()).to_string()
}

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "ns": NS, "value": value})
}

/// Builds the assessment-results document; `out` is the package directory (exception listings
/// are hashed from disk).
pub(crate) fn assessment_results(a: &Assessment, out: &Path) -> Result<Value> {
    let package = identity(a);
    let catalog = spanforge_catalog::catalog(a.framework);
    let end = format!("{}T23:59:59Z", a.period.to());
    let start = format!("{}T00:00:00Z", a.period.from());
    let plan_uuid = uuid(&package, "assessment-plan");
    let mut observations = Vec::new();
    // package.json is written before this document.
    let (package_hash, _) = hash_file(&out.join("package.json"))?;
    let mut resources = vec![json!({
        "uuid": plan_uuid,
        "title": "Assessment scope: package.json (framework, period, model, tenants, checkpoints)",
        "rlinks": [{
            "href": "../package.json",
            "media-type": "application/json",
            "hashes": [{"algorithm": "SHA-256", "value": package_hash}],
        }],
    })];
    for c in &a.controls {
        let obs_uuid = uuid(&package, &format!("observation/{}", c.id));
        let pop_uuid = uuid(&package, &format!("population/{}", c.id));
        let exc_uuid = uuid(&package, &format!("exceptions/{}", c.id));
        let (exceptions_hash, _) =
            hash_file(&out.join("controls").join(&c.id).join("exceptions.jsonl"))?;
        resources.push(json!({
            "uuid": pop_uuid,
            "title": format!("Population of {} ({} items, {} to {})", c.id, c.population, a.period.from(), a.period.to()),
            "rlinks": [{
                "href": format!("../controls/{}/population.jsonl", c.id),
                "media-type": "application/x-ndjson",
                "hashes": [{"algorithm": "SHA-256", "value": c.population_sha256}],
            }],
        }));
        resources.push(json!({
            "uuid": exc_uuid,
            "title": format!("Deviations of {} ({} recorded)", c.id, c.deviations_total),
            "rlinks": [{
                "href": format!("../controls/{}/exceptions.jsonl", c.id),
                "media-type": "application/x-ndjson",
                "hashes": [{"algorithm": "SHA-256", "value": exceptions_hash}],
            }],
        }));
        let method = if c.automation == "manual" {
            "EXAMINE"
        } else {
            "TEST"
        };
        observations.push(json!({
            "uuid": obs_uuid,
            "title": format!("{} {}: {}", c.id, c.title, c.conclusion.label()),
            "description": format!("{} {} item(s); {} deviation(s) counted. {}", match c.selection { crate::sampling::Selection::Census { .. } => "Census of", crate::sampling::Selection::Sample { .. } => "Sample from" }, c.population, c.deviations_counted, c.reason),
            "props": [prop("canonical-control", &c.id), prop("conclusion", c.conclusion.as_str())],
            "methods": [method],
            "types": ["control-objective"],
            "relevant-evidence": [
                {"href": format!("#{pop_uuid}"), "description": "population listing (JSON Lines, hashed)"},
                {"href": format!("#{exc_uuid}"), "description": "deviation listing (JSON Lines, hashed)"},
            ],
            "collected": end,
        }));
    }
    let mut findings = Vec::new();
    let mut reviewed = Vec::new();
    for n in &a.nodes {
        reviewed.push(json!({"control-id": n.oscal_id}));
        let (state, reason) = match n.status {
            NodeStatus::Satisfied | NodeStatus::SatisfiedWithExceptions => ("satisfied", "pass"),
            NodeStatus::Gap => ("not-satisfied", "fail"),
            _ => ("not-satisfied", "other"),
        };
        let related: Vec<Value> = n
            .controls
            .iter()
            .map(|c| json!({"observation-uuid": uuid(&package, &format!("observation/{}", c.control))}))
            .collect();
        let mut finding = json!({
            "uuid": uuid(&package, &format!("finding/{}", n.id)),
            "title": format!("{} {}: {}", n.id, n.title, n.status.label()),
            "description": n.reason,
            "props": [prop("node-status", n.status.as_str())],
            "target": {
                "type": "objective-id",
                "target-id": format!("{}_obj", n.oscal_id),
                "status": {"state": state, "reason": reason},
            },
        });
        if let Some(map) = finding.as_object_mut() {
            if !related.is_empty() {
                map.insert("related-observations".to_owned(), Value::Array(related));
            }
            if reason == "other" || n.status == NodeStatus::SatisfiedWithExceptions {
                map.insert("remarks".to_owned(), Value::String(n.missing.join("; ")));
            }
        }
        findings.push(finding);
    }
    Ok(json!({
        "assessment-results": {
            "uuid": uuid(&package, "assessment-results"),
            "metadata": {
                "title": format!("SpanForge evidence package: {} ({} to {})", catalog.name(), a.period.from(), a.period.to()),
                "last-modified": end,
                "version": package.get(..16).unwrap_or(&package),
                "oscal-version": OSCAL_VERSION,
                "remarks": "Evidence relevant to each criterion, collected from a verified SpanForge ledger; not a statement of compliance.",
            },
            "import-ap": {"href": format!("#{plan_uuid}")},
            "results": [{
                "uuid": uuid(&package, "result"),
                "title": format!("{} period {} to {}", catalog.name(), a.period.from(), a.period.to()),
                "description": "Automated test of canonical AI controls over a verified ledger, mapped to the framework's criteria.",
                "start": start,
                "end": end,
                "reviewed-controls": {"control-selections": [{"include-controls": reviewed}]},
                "observations": observations,
                "findings": findings,
            }],
            "back-matter": {"resources": resources},
        }
    }))
}
