//! Output for the `spanforge catalog` subcommands, as plain-text tables and JSON, so the CLI
//! only parses arguments and prints what these functions return.
//!
//! | command | text | JSON |
//! |---|---|---|
//! | `catalog list` | [`list_text`] | [`list`] (serialise it) or [`list_json`] |
//! | `catalog show FRAMEWORK [ID]` | [`show_text`] | [`show_json`] |
//! | `catalog map ID` | [`map_text`] | [`map_json`] |
//! | `catalog export --oscal FRAMEWORK --out DIR` | [`crate::oscal::export_files`] | |
//! | (canonical controls, if a command lists them) | [`controls_text`] | [`controls_json`] |

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::canonical::CanonicalControl;
use crate::error::{Error, Result};
use crate::framework::FrameworkId;
use crate::hash::ContentHash;
use crate::mapping::{Crosswalk, Mapping, Subject};
use crate::model::{Catalog, Facets, Node};
use crate::oscal::kebab;
use crate::registry::Registry;

/// Longest title shown in a table cell before it is cut with an ellipsis.
const TITLE_WIDTH: usize = 72;

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Renders rows as left-aligned columns separated by two spaces; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == columns {
                text.push_str(cell);
            } else {
                let pad = width.saturating_sub(cell.chars().count());
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

/// One entry of `catalog list --format json`. Serialising it keeps the field order
/// `id, name, edition, controls, content_hash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FrameworkSummary {
    /// Canonical framework id.
    pub id: FrameworkId,
    /// Display name.
    pub name: String,
    /// Edition description.
    pub edition: String,
    /// Number of nodes (criteria, controls, subcategories, articles, specifications).
    pub controls: usize,
    /// Content hash of the edition, `sha256:<hex>`.
    pub content_hash: ContentHash,
}

/// The summaries behind `catalog list`, in [`FrameworkId::ALL`] order.
pub fn list() -> Vec<FrameworkSummary> {
    crate::registry()
        .catalogs()
        .iter()
        .map(|c| FrameworkSummary {
            id: c.id(),
            name: c.name().to_owned(),
            edition: c.edition().edition.clone(),
            controls: c.len(),
            content_hash: c.content_hash(),
        })
        .collect()
}

/// `catalog list --format json` as a value: `[{"id","name","edition","controls","content_hash"}]`.
/// (A `Value` sorts keys unless serde_json's `preserve_order` is on; serialise [`list`] to keep
/// the field order.)
pub fn list_json() -> Value {
    Value::Array(
        list()
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "name": s.name,
                    "edition": s.edition,
                    "controls": s.controls,
                    "content_hash": s.content_hash,
                })
            })
            .collect(),
    )
}

/// `catalog list`: one line per framework with its edition, node count, how many nodes
/// canonical controls map to, and the content hash.
pub fn list_text() -> String {
    let registry = crate::registry();
    let rows: Vec<Vec<String>> = registry
        .catalogs()
        .iter()
        .map(|c| {
            vec![
                c.id().to_string(),
                c.name().to_owned(),
                c.edition().edition.clone(),
                c.len().to_string(),
                registry.mapped_nodes(c.id()).len().to_string(),
                c.content_hash().to_string(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "EDITION",
            "CONTROLS",
            "MAPPED",
            "CONTENT HASH",
        ],
        &rows,
    )
}

// ---------------------------------------------------------------------------------------------
// show
// ---------------------------------------------------------------------------------------------

/// `catalog show FRAMEWORK [ID]` as text: the whole framework grouped, or one node with the
/// canonical controls that map to it.
///
/// # Errors
///
/// [`Error::UnknownNode`] when `node` names no node of the framework.
pub fn show_text(framework: FrameworkId, node: Option<&str>) -> Result<String> {
    let registry = crate::registry();
    let catalog = registry.catalog(framework);
    match node {
        None => Ok(framework_text(registry, catalog)),
        Some(query) => Ok(node_text(registry, catalog, find(catalog, query)?)),
    }
}

/// `catalog show FRAMEWORK [ID] --format json`.
///
/// # Errors
///
/// [`Error::UnknownNode`] when `node` names no node of the framework.
pub fn show_json(framework: FrameworkId, node: Option<&str>) -> Result<Value> {
    let registry = crate::registry();
    let catalog = registry.catalog(framework);
    match node {
        None => Ok(framework_json(registry, catalog)),
        Some(query) => Ok(node_json(registry, catalog, find(catalog, query)?)),
    }
}

fn find<'a>(catalog: &'a Catalog, query: &str) -> Result<&'a Node> {
    catalog.find_node(query).ok_or_else(|| Error::UnknownNode {
        framework: catalog.id(),
        id: query.to_owned(),
    })
}

fn coverage_label(registry: &Registry, framework: FrameworkId, node: &Node) -> String {
    let mut controls: Vec<&str> = Vec::new();
    for m in registry.mappings_to(framework, &node.id) {
        if !controls.contains(&m.control.as_str()) {
            controls.push(&m.control);
        }
    }
    if controls.is_empty() {
        "not coverable".to_owned()
    } else {
        controls.join(" ")
    }
}

fn framework_text(registry: &Registry, catalog: &Catalog) -> String {
    let edition = catalog.edition();
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", catalog.name(), catalog.id());
    let _ = writeln!(
        out,
        "Edition:      {} [{}], {}",
        edition.edition, edition.edition_id, edition.edition_date
    );
    let _ = writeln!(out, "Nodes:        {}", catalog.len());
    let _ = writeln!(
        out,
        "Mapped:       {}",
        registry.mapped_nodes(catalog.id()).len()
    );
    let _ = writeln!(out, "Content hash: {}", catalog.content_hash());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for group in catalog.groups() {
        let depth = {
            let mut d = 0;
            let mut parent = group.parent.as_deref();
            while let Some(p) = parent {
                d += 1;
                parent = catalog.group(p).and_then(|g| g.parent.as_deref());
            }
            d
        };
        rows.push(vec![
            format!("{}{}", "  ".repeat(depth), group.id),
            cut(&group.title, TITLE_WIDTH),
            String::new(),
        ]);
        for node in catalog.nodes_in(&group.id) {
            rows.push(vec![
                format!("{}{}", "  ".repeat(depth + 1), node.id),
                cut(&node.title, TITLE_WIDTH),
                coverage_label(registry, catalog.id(), node),
            ]);
        }
    }
    out.push('\n');
    out.push_str(&table(&["ID", "TITLE", "CANONICAL CONTROLS"], &rows));
    out
}

fn framework_json(registry: &Registry, catalog: &Catalog) -> Value {
    let nodes: Vec<Value> = catalog
        .nodes()
        .iter()
        .map(|n| node_json(registry, catalog, n))
        .collect();
    json!({
        "id": catalog.id(),
        "name": catalog.name(),
        "edition": catalog.edition(),
        "content_hash": catalog.content_hash(),
        "groups": catalog.groups(),
        "nodes": nodes,
    })
}

fn facet_lines(facets: &Facets) -> Vec<(String, String)> {
    let join = |items: Vec<String>| items.join(", ");
    match facets {
        Facets::Soc2 {
            category,
            coso_principle,
        } => {
            let mut out = vec![("Category".to_owned(), kebab(category))];
            if let Some(p) = coso_principle {
                out.push(("COSO principle".to_owned(), p.to_string()));
            }
            out
        }
        Facets::Iso42001 => Vec::new(),
        Facets::NistAiRmf { function } => vec![("Function".to_owned(), kebab(function))],
        Facets::EuAiAct {
            roles,
            scope,
            applies_from,
        } => {
            let mut out = vec![
                ("Roles".to_owned(), join(roles.iter().map(kebab).collect())),
                ("Scope".to_owned(), kebab(scope)),
            ];
            for a in applies_from {
                out.push((
                    "Applies from".to_owned(),
                    format!(
                        "{} ({}) {}; {}",
                        a.date,
                        kebab(&a.status),
                        a.applies_to,
                        a.basis
                    ),
                ));
            }
            out
        }
        Facets::Gdpr { roles } => {
            vec![("Roles".to_owned(), join(roles.iter().map(kebab).collect()))]
        }
        Facets::Hipaa {
            kind,
            obligation,
            standard,
        } => {
            let mut out = vec![
                ("Kind".to_owned(), kebab(kind)),
                ("Obligation".to_owned(), obligation.to_string()),
            ];
            if let Some(s) = standard {
                out.push(("Standard".to_owned(), s.clone()));
            }
            out
        }
    }
}

fn node_text(registry: &Registry, catalog: &Catalog, node: &Node) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", catalog.id(), node.id);
    let _ = writeln!(out, "Title:  {}", node.title);
    let group = catalog
        .group(&node.group)
        .map_or(node.group.clone(), |g| format!("{} ({})", g.id, g.title));
    let _ = writeln!(out, "Group:  {group}");
    for (label, value) in facet_lines(&node.facets) {
        let _ = writeln!(out, "{label}: {value}");
    }
    if let Some(text) = &node.text {
        let _ = writeln!(out, "\n{text}");
    }
    out.push('\n');
    let direct: Vec<&Mapping> = registry.mappings_to(catalog.id(), &node.id).collect();
    if direct.is_empty() {
        if let Some(nc) = registry.not_coverable_entry(catalog.id(), &node.id) {
            let _ = writeln!(out, "Not coverable by telemetry: {}", nc.reason);
        }
    } else {
        out.push_str("Canonical controls that produce evidence for it:\n");
        out.push_str(&mapping_table(registry, &direct, MappingColumns::Control));
    }
    out
}

fn node_json(registry: &Registry, catalog: &Catalog, node: &Node) -> Value {
    let direct: Vec<&Mapping> = registry.mappings_to(catalog.id(), &node.id).collect();
    json!({
        "framework": catalog.id(),
        "node": node,
        "oscal_id": node.oscal_id,
        "mappings": direct,
        "not_coverable": registry.not_coverable_entry(catalog.id(), &node.id).map(|n| &n.reason),
    })
}

// ---------------------------------------------------------------------------------------------
// map (crosswalk)
// ---------------------------------------------------------------------------------------------

/// `catalog map ID` as text: for a canonical control, the control and every node it maps to;
/// for a framework node, the controls that map to it and the nodes of every framework those
/// controls also serve.
///
/// # Errors
///
/// As for [`Registry::crosswalk`].
pub fn map_text(query: &str) -> Result<String> {
    let registry = crate::registry();
    Ok(crosswalk_text(registry, &registry.crosswalk(query)?))
}

/// `catalog map ID --format json`.
///
/// # Errors
///
/// As for [`Registry::crosswalk`].
pub fn map_json(query: &str) -> Result<Value> {
    Ok(crosswalk_json(&crate::registry().crosswalk(query)?))
}

#[derive(Clone, Copy)]
enum MappingColumns {
    /// Show the canonical control (the target is known).
    Control,
    /// Show the framework target (the control is known).
    Target,
    /// Show both.
    Both,
}

fn mapping_table(registry: &Registry, mappings: &[&Mapping], columns: MappingColumns) -> String {
    let title_of = |m: &Mapping| {
        registry
            .catalog(m.framework)
            .node(&m.node)
            .map(|n| cut(&n.title, 48))
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = mappings
        .iter()
        .map(|m| {
            let mut row = Vec::new();
            if matches!(columns, MappingColumns::Control | MappingColumns::Both) {
                row.push(m.control.clone());
            }
            if matches!(columns, MappingColumns::Target | MappingColumns::Both) {
                row.push(m.framework.to_string());
                row.push(m.target_label());
                row.push(title_of(m));
            }
            row.push(m.relationship.to_string());
            row.push(m.strength.to_string());
            row.push(m.rationale.clone());
            row
        })
        .collect();
    let header: &[&str] = match columns {
        MappingColumns::Control => &["CONTROL", "RELATION", "STRENGTH", "RATIONALE"],
        MappingColumns::Target => &[
            "FRAMEWORK",
            "NODE",
            "TITLE",
            "RELATION",
            "STRENGTH",
            "RATIONALE",
        ],
        MappingColumns::Both => &[
            "VIA",
            "FRAMEWORK",
            "NODE",
            "TITLE",
            "RELATION",
            "STRENGTH",
            "RATIONALE",
        ],
    };
    table(header, &rows)
}

/// All canonical controls, one line each: id, domain, frequency, automation, number of
/// framework nodes mapped, title.
pub fn controls_text() -> String {
    let registry = crate::registry();
    let rows: Vec<Vec<String>> = registry
        .controls()
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.domain.to_string(),
                c.frequency.to_string(),
                c.automation.to_string(),
                registry.mappings_from(&c.id).count().to_string(),
                c.title.clone(),
            ]
        })
        .collect();
    table(
        &["ID", "DOMAIN", "FREQUENCY", "AUTOMATION", "MAPS", "TITLE"],
        &rows,
    )
}

/// All canonical controls as JSON (the full records, including rules and attributes).
pub fn controls_json() -> Value {
    json!(crate::registry().controls())
}

/// A canonical control described in full: objective, attributes, evidence rules, documents.
pub fn control_text(control: &CanonicalControl) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", control.id, control.title);
    let _ = writeln!(out, "Domain:     {}", control.domain);
    let _ = writeln!(out, "Frequency:  {}", control.frequency);
    let _ = writeln!(out, "Automation: {}", control.automation);
    let _ = writeln!(out, "\n{}", control.objective);
    out.push_str("\nTest attributes:\n");
    for a in &control.attributes {
        let _ = writeln!(out, "  {} {}: {}", a.id, a.name, a.test);
    }
    if !control.evidence.is_empty() {
        out.push_str("\nEvidence:\n");
        for r in &control.evidence {
            let events: Vec<String> = r.events.iter().map(ToString::to_string).collect();
            let _ = write!(out, "  {}: {}", r.role, events.join(", "));
            if !r.conditions.is_empty() {
                let conditions: Vec<String> =
                    r.conditions.iter().map(ToString::to_string).collect();
                let _ = write!(out, " where {}", conditions.join(" and "));
            }
            out.push('\n');
        }
    }
    if let Some(reason) = &control.manual_reason {
        let _ = writeln!(out, "\nManual evidence: {reason}");
    }
    if !control.documents.is_empty() {
        let _ = writeln!(out, "\nDocuments: {}", control.documents.join("; "));
    }
    out
}

fn crosswalk_text(registry: &Registry, walk: &Crosswalk<'_>) -> String {
    let mut out = String::new();
    match walk.subject {
        Subject::Control(control) => {
            out.push_str(&control_text(control));
            let _ = writeln!(out, "\nMaps to {} framework nodes:", walk.direct.len());
            out.push_str(&mapping_table(
                registry,
                &walk.direct,
                MappingColumns::Target,
            ));
        }
        Subject::Node { framework, node } => {
            let catalog = registry.catalog(framework);
            out.push_str(&node_text(registry, catalog, node));
            if !walk.related.is_empty() {
                out.push_str("\nThe same controls' evidence also serves:\n");
                out.push_str(&mapping_table(
                    registry,
                    &walk.related,
                    MappingColumns::Both,
                ));
            }
        }
    }
    out
}

/// The crosswalk as JSON: `{"subject": {...}, "direct": [...], "related": [...],
/// "not_coverable": reason-or-null}`.
pub fn crosswalk_json(walk: &Crosswalk<'_>) -> Value {
    let subject = match walk.subject {
        Subject::Control(control) => json!({ "kind": "control", "control": control }),
        Subject::Node { framework, node } => {
            json!({ "kind": "node", "framework": framework, "node": node })
        }
    };
    json!({
        "subject": subject,
        "direct": walk.direct,
        "related": walk.related,
        "not_coverable": walk.not_coverable.map(|n| &n.reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["A", "BB"],
            &[vec!["xxx".into(), "y".into()], vec!["z".into(), "w".into()]],
        );
        assert_eq!(t, "A    BB\nxxx  y\nz    w\n");
    }

    #[test]
    fn list_has_one_line_per_framework() {
        let text = list_text();
        assert_eq!(text.lines().count(), 7);
        assert!(text.lines().nth(1).unwrap().starts_with("soc2 "));
        let json = serde_json::to_string(&list()).unwrap();
        assert!(json.starts_with("[{\"id\":\"soc2\",\"name\":"), "{json}");
    }

    #[test]
    fn show_node_and_framework() {
        let text = show_text(FrameworkId::Soc2, Some("cc8.1")).unwrap();
        assert!(text.starts_with("soc2 CC8.1\n"), "{text}");
        assert!(text.contains("SF-CHG-01"));
        let text = show_text(FrameworkId::Soc2, Some("CC1.2")).unwrap();
        assert!(text.contains("Not coverable by telemetry"));
        let text = show_text(FrameworkId::Hipaa, None).unwrap();
        assert!(text.contains("164.312(b)") && text.contains("Nodes:        64"));
        assert!(matches!(
            show_text(FrameworkId::Hipaa, Some("164.999")),
            Err(Error::UnknownNode {
                framework: FrameworkId::Hipaa,
                ..
            })
        ));
        let json = show_json(FrameworkId::EuAiAct, Some("12")).unwrap();
        assert_eq!(json["node"]["id"], "Art. 12");
        assert_eq!(json["node"]["facets"]["eu-ai-act"]["scope"], "high-risk");
        let json = show_json(FrameworkId::NistAiRmf, None).unwrap();
        assert_eq!(json["nodes"].as_array().unwrap().len(), 72);
    }

    #[test]
    fn map_control_and_node() {
        let text = map_text("sf-ret-01").unwrap();
        assert!(text.starts_with("SF-RET-01  Log retention\n"), "{text}");
        assert!(text.contains("Art. 26(6)") && text.contains("Art. 19(1)"));
        let json = map_json("GOVERN 1.7").unwrap();
        assert_eq!(json["subject"]["kind"], "node");
        assert_eq!(json["direct"][0]["control"], "SF-DEC-01");
        assert!(matches!(map_text("Art. 17"), Err(Error::Ambiguous { .. })));
        assert!(matches!(
            map_text("nothing-like-this"),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn controls_listing() {
        let text = controls_text();
        assert_eq!(text.lines().count(), crate::canonical_controls().len() + 1);
        assert_eq!(
            controls_json().as_array().unwrap().len(),
            crate::canonical_controls().len()
        );
    }

    #[test]
    fn cut_adds_ellipsis() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }
}
