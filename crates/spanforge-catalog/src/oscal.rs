//! OSCAL 1.2 export: a catalog and a profile per framework, a mapping collection from the
//! canonical controls to each framework, and a catalog of the canonical controls themselves.
//!
//! Exports are reproducible byte for byte. UUIDs are version-5 UUIDs derived from a fixed
//! namespace and a name built from the framework, the object and (for whole documents) the
//! content hashes of the data they were made from, so a document's UUID changes exactly when
//! its data changes, as OSCAL asks. `last-modified` is midnight UTC of the edition date (for a
//! framework catalog) or of the data release date (canonical catalog, profiles and mapping
//! collections); no clock is read.
//!
//! Ids follow OSCAL's NCName rule: `cc6.1`, `a.6.2.8`, `govern-1.6`, `art-12`,
//! `hipaa-164.312-b`; the authority's own spelling is kept in a `label` property. Properties
//! SpanForge defines carry the namespace [`PROP_NAMESPACE`].
//!
//! Documents reference each other by relative file name, as written by [`export_files`]:
//! `<framework>-catalog.json`, `<framework>-profile.json`,
//! `<framework>-mapping-collection.json` and [`CANONICAL_CATALOG_FILE`].

use serde_json::{Value, json};
use uuid::Uuid;

use crate::canonical::{Automation, CanonicalControl, Domain};
use crate::framework::FrameworkId;
use crate::model::{Catalog, Facets, Group, Node, TextLicence};
use crate::registry::Registry;

/// The OSCAL version the exports conform to.
pub const OSCAL_VERSION: &str = "1.2.1";

/// Namespace of the properties SpanForge defines (derived from the workspace's repository
/// URL, so it follows the project's home).
pub const PROP_NAMESPACE: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/ns/oscal");

/// File name of the canonical-control catalog, the source of every mapping collection.
pub const CANONICAL_CATALOG_FILE: &str = "spanforge-canonical-catalog.json";

/// Name (in the URL namespace) from which the UUID namespace of every export is derived.
const UUID_NAMESPACE_NAME: &str = "urn:spanforge:catalog:oscal-export";

fn uuid_for(name: &str) -> String {
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, UUID_NAMESPACE_NAME.as_bytes());
    Uuid::new_v5(&namespace, name.as_bytes()).to_string()
}

/// File name of a framework's exported catalog.
pub fn catalog_file(framework: FrameworkId) -> String {
    format!("{framework}-catalog.json")
}

/// File name of a framework's exported profile.
pub fn profile_file(framework: FrameworkId) -> String {
    format!("{framework}-profile.json")
}

/// File name of a framework's exported mapping collection.
pub fn mapping_collection_file(framework: FrameworkId) -> String {
    format!("{framework}-mapping-collection.json")
}

fn prop(name: &str, value: &str) -> Value {
    json!({ "name": name, "ns": PROP_NAMESPACE, "value": value })
}

/// `cc6.1` becomes `cc006.001` so that ids sort naturally as text.
fn sort_id(oscal_id: &str) -> String {
    let mut out = String::with_capacity(oscal_id.len() + 8);
    let mut digits = String::new();
    for c in oscal_id.chars().chain(std::iter::once('\u{0}')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            out.push_str(&format!("{digits:0>3}"));
            digits.clear();
        }
        if c != '\u{0}' {
            out.push(c);
        }
    }
    out
}

fn metadata(
    title: &str,
    last_modified: String,
    version: &str,
    props: Vec<Value>,
    remarks: &str,
) -> Value {
    json!({
        "title": title,
        "last-modified": last_modified,
        "version": version,
        "oscal-version": OSCAL_VERSION,
        "props": props,
        "remarks": remarks,
    })
}

fn edition_version(catalog: &Catalog) -> String {
    format!(
        "{}+sf.{}",
        catalog.edition().edition_id,
        catalog.edition().data_version
    )
}

// ---------------------------------------------------------------------------------------------
// Framework catalog
// ---------------------------------------------------------------------------------------------

/// The OSCAL catalog of a framework edition.
pub fn catalog_json(framework: FrameworkId) -> Value {
    catalog_json_in(crate::registry(), framework)
}

pub(crate) fn catalog_json_in(registry: &Registry, framework: FrameworkId) -> Value {
    let catalog = registry.catalog(framework);
    let edition = catalog.edition();
    let licence_note = match edition.text_licence {
        TextLicence::IdsOnly => format!(
            "The {} wording is copyrighted and is not included: ids are the authority's, titles are SpanForge's own summaries.",
            edition.authority
        ),
        TextLicence::PublicDomain => "The text is a US Government work in the public domain.".to_owned(),
        TextLicence::EuReuse => {
            "Titles are those of the Official Journal; statements are SpanForge summaries, not the legal text (reuse under Commission Decision 2011/833/EU).".to_owned()
        }
    };
    let props = vec![
        prop("edition-id", &edition.edition_id),
        prop("content-hash", &catalog.content_hash().to_string()),
        prop("text-licence", licence_label(edition.text_licence)),
    ];
    let remarks = format!("Source: {}. {licence_note}", edition.citation);
    let groups: Vec<Value> = catalog
        .child_groups(None)
        .map(|g| group_json(catalog, g))
        .collect();
    json!({
        "catalog": {
            "uuid": uuid_for(&format!("catalog|{framework}|{}", catalog.content_hash())),
            "metadata": metadata(
                &format!("{} ({})", catalog.name(), edition.edition),
                edition.edition_date.midnight_utc(),
                &edition_version(catalog),
                props,
                &remarks,
            ),
            "groups": groups,
        }
    })
}

fn licence_label(licence: TextLicence) -> &'static str {
    match licence {
        TextLicence::IdsOnly => "ids-only",
        TextLicence::PublicDomain => "public-domain",
        TextLicence::EuReuse => "eu-reuse",
    }
}

fn group_json(catalog: &Catalog, group: &Group) -> Value {
    let mut out = json!({
        "id": group.oscal_id,
        "title": group.title,
        "props": [{ "name": "label", "value": group.id }],
    });
    if let Some(statement) = &group.statement {
        out["parts"] = json!([{
            "id": format!("{}_smt", group.oscal_id),
            "name": "statement",
            "prose": statement,
        }]);
    }
    let subgroups: Vec<Value> = catalog
        .child_groups(Some(&group.id))
        .map(|g| group_json(catalog, g))
        .collect();
    if !subgroups.is_empty() {
        out["groups"] = Value::Array(subgroups);
    }
    let controls: Vec<Value> = catalog
        .nodes_in(&group.id)
        .map(|n| control_json(catalog, n))
        .collect();
    if !controls.is_empty() {
        out["controls"] = Value::Array(controls);
    }
    out
}

fn control_json(catalog: &Catalog, node: &Node) -> Value {
    let edition = catalog.edition();
    let mut props = vec![
        json!({ "name": "label", "value": node.id }),
        json!({ "name": "sort-id", "value": sort_id(&node.oscal_id) }),
    ];
    props.extend(facet_props(&node.facets));
    let prose = match edition.text_licence {
        TextLicence::IdsOnly => format!(
            "SpanForge summary: {}. The authoritative wording of {} is copyrighted by {} and is not reproduced; see {}.",
            node.title, node.id, edition.authority, edition.citation
        ),
        TextLicence::PublicDomain => node.text.clone().unwrap_or_else(|| node.title.clone()),
        TextLicence::EuReuse => format!(
            "{} (SpanForge summary; the legal text is in the Official Journal.)",
            node.text.as_deref().unwrap_or(&node.title)
        ),
    };
    json!({
        "id": node.oscal_id,
        "title": node.title,
        "props": props,
        "parts": [{
            "id": format!("{}_smt", node.oscal_id),
            "name": "statement",
            "prose": prose,
        }],
    })
}

fn facet_props(facets: &Facets) -> Vec<Value> {
    match facets {
        Facets::Soc2 {
            category,
            coso_principle,
        } => {
            let mut out = vec![prop("tsc-category", &kebab(category))];
            if let Some(p) = coso_principle {
                out.push(prop("coso-principle", &p.to_string()));
            }
            out
        }
        Facets::Iso42001 => Vec::new(),
        Facets::NistAiRmf { function } => vec![prop("function", &kebab(function))],
        Facets::EuAiAct {
            roles,
            scope,
            applies_from,
        } => {
            let mut out: Vec<Value> = roles.iter().map(|r| prop("role", &kebab(r))).collect();
            out.push(prop("scope", &kebab(scope)));
            out.extend(applies_from.iter().map(|a| {
                prop(
                    "applies-from",
                    &format!(
                        "{} ({}): {}; {}",
                        a.date,
                        kebab(&a.status),
                        a.applies_to,
                        a.basis
                    ),
                )
            }));
            out
        }
        Facets::Gdpr { roles } => roles.iter().map(|r| prop("role", &kebab(r))).collect(),
        Facets::Hipaa {
            kind,
            obligation,
            standard,
        } => {
            let mut out = vec![
                prop("kind", &kebab(kind)),
                prop("obligation", &obligation.to_string()),
            ];
            if let Some(s) = standard {
                out.push(prop("implements-standard", s));
            }
            out
        }
    }
}

/// The serde (kebab-case) name of a unit enum value, so OSCAL properties always agree with
/// the JSON and data-file spelling.
pub(crate) fn kebab<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        // Facet enums are unit variants and always serialise to strings.
        _ => String::from("unknown"),
    }
}

// ---------------------------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------------------------

/// The OSCAL profile selecting the nodes of a framework that canonical controls map to: the
/// part of the framework SpanForge telemetry can produce evidence for.
pub fn profile_json(framework: FrameworkId) -> Value {
    profile_json_in(crate::registry(), framework)
}

pub(crate) fn profile_json_in(registry: &Registry, framework: FrameworkId) -> Value {
    let catalog = registry.catalog(framework);
    let provenance = registry.provenance();
    let ids: Vec<&str> = registry
        .mapped_nodes(framework)
        .iter()
        .map(|n| n.oscal_id.as_str())
        .collect();
    let uncovered = catalog.len() - ids.len();
    let remarks = format!(
        "Selects the {} of {} nodes that SpanForge canonical controls map to. The other {uncovered} are listed, with reasons, as the target gap summary of {}. Mapping status: {}.",
        ids.len(),
        catalog.len(),
        mapping_collection_file(framework),
        provenance.status,
    );
    json!({
        "profile": {
            "uuid": uuid_for(&format!(
                "profile|{framework}|{}|{}",
                catalog.content_hash(),
                registry.mappings_hash()
            )),
            "metadata": metadata(
                &format!("{}: controls SpanForge telemetry can evidence", catalog.name()),
                provenance.release_date.midnight_utc(),
                &format!("{}+sf-mappings.{}", edition_version(catalog), provenance.data_version),
                vec![
                    prop("catalog-content-hash", &catalog.content_hash().to_string()),
                    prop("mappings-content-hash", &registry.mappings_hash().to_string()),
                ],
                &remarks,
            ),
            "imports": [{
                "href": catalog_file(framework),
                "include-controls": [{ "with-ids": ids }],
            }],
            "merge": { "as-is": true },
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Mapping collection
// ---------------------------------------------------------------------------------------------

/// The OSCAL mapping collection from the canonical-control catalog to a framework catalog,
/// with the framework's not-coverable nodes as the target gap summary.
pub fn mapping_collection_json(framework: FrameworkId) -> Value {
    mapping_collection_json_in(crate::registry(), framework)
}

pub(crate) fn mapping_collection_json_in(registry: &Registry, framework: FrameworkId) -> Value {
    let catalog = registry.catalog(framework);
    let provenance = registry.provenance();
    let maps: Vec<Value> = registry
        .mappings()
        .iter()
        .filter(|m| m.framework == framework)
        .filter_map(|m| {
            let control = registry.control(&m.control)?;
            let node = catalog.node(&m.node)?;
            let mut props = vec![prop("strength", &m.strength.to_string())];
            if let Some(at) = &m.locator {
                props.push(prop("locator", &format!("{}{at}", m.node)));
            }
            Some(json!({
                "uuid": uuid_for(&format!(
                    "map|{framework}|{}|{}|{}",
                    m.control,
                    m.node,
                    m.locator.as_deref().unwrap_or_default()
                )),
                "relationship": m.relationship.oscal(),
                "sources": [{ "type": "control", "id-ref": control.oscal_id }],
                "targets": [{ "type": "control", "id-ref": node.oscal_id }],
                "props": props,
                "remarks": m.rationale,
            }))
        })
        .collect();
    let mut mapping = json!({
        "uuid": uuid_for(&format!("mapping|{framework}")),
        "source-resource": { "type": "catalog", "href": CANONICAL_CATALOG_FILE },
        "target-resource": { "type": "catalog", "href": catalog_file(framework) },
        "maps": maps,
    });
    let gaps: Vec<&str> = registry
        .not_coverable()
        .iter()
        .filter(|n| n.framework == framework)
        .filter_map(|n| catalog.node(&n.node).map(|node| node.oscal_id.as_str()))
        .collect();
    if !gaps.is_empty() {
        mapping["target-gap-summary"] = json!({
            "uuid": uuid_for(&format!("gap-summary|{framework}")),
            "unmapped-controls": [{ "with-ids": gaps }],
        });
    }
    json!({
        "mapping-collection": {
            "uuid": uuid_for(&format!(
                "mapping-collection|{framework}|{}|{}|{}",
                catalog.content_hash(),
                registry.controls_hash(),
                registry.mappings_hash()
            )),
            "metadata": metadata(
                &format!("SpanForge canonical AI controls to {}", catalog.name()),
                provenance.release_date.midnight_utc(),
                &format!("sf-mappings.{}", provenance.data_version),
                vec![
                    prop("catalog-content-hash", &catalog.content_hash().to_string()),
                    prop("controls-content-hash", &registry.controls_hash().to_string()),
                    prop("mappings-content-hash", &registry.mappings_hash().to_string()),
                ],
                "Mappings state that a control's evidence is relevant to a requirement, not that the requirement is met. No inference should be drawn from what is not mapped beyond the reasons in the gap summary's source data.",
            ),
            "provenance": {
                "method": provenance.method,
                "matching-rationale": provenance.matching_rationale,
                "status": provenance.status.to_string(),
                "mapping-description": provenance.description,
            },
            "mappings": [mapping],
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Canonical-control catalog
// ---------------------------------------------------------------------------------------------

/// The OSCAL catalog of SpanForge's canonical controls, grouped by guide domain; the source
/// catalog of every mapping collection.
pub fn canonical_catalog_json() -> Value {
    canonical_catalog_json_in(crate::registry())
}

pub(crate) fn canonical_catalog_json_in(registry: &Registry) -> Value {
    let meta = registry.controls_meta();
    let groups: Vec<Value> = Domain::ALL
        .iter()
        .filter_map(|domain| {
            let controls: Vec<Value> = registry
                .controls()
                .iter()
                .filter(|c| c.domain == *domain)
                .map(canonical_control_json)
                .collect();
            (!controls.is_empty()).then(|| {
                json!({
                    "id": domain.as_str(),
                    "title": domain.title(),
                    "controls": controls,
                })
            })
        })
        .collect();
    json!({
        "catalog": {
            "uuid": uuid_for(&format!("catalog|canonical|{}", registry.controls_hash())),
            "metadata": metadata(
                "SpanForge canonical AI controls",
                meta.release_date.midnight_utc(),
                &format!("sf-controls.{}", meta.data_version),
                vec![prop("content-hash", &registry.controls_hash().to_string())],
                "SpanForge's own controls for AI systems. Each states its test attributes and the event types and field conditions that are evidence of it.",
            ),
            "groups": groups,
        }
    })
}

fn canonical_control_json(control: &CanonicalControl) -> Value {
    let id = &control.oscal_id;
    let mut props = vec![
        json!({ "name": "label", "value": control.id }),
        json!({ "name": "sort-id", "value": sort_id(id) }),
        prop("frequency", control.frequency.as_str()),
        prop("automation", &control.automation.to_string()),
    ];
    props.extend(
        control
            .event_patterns()
            .into_iter()
            .map(|p| prop("evidence-event", &p.to_string())),
    );
    let attributes: Vec<Value> = control
        .attributes
        .iter()
        .map(|a| {
            json!({
                "id": format!("{id}_obj.{}", a.id.to_ascii_lowercase()),
                "name": "assessment-objective",
                "title": a.name,
                "prose": a.test,
            })
        })
        .collect();
    let mut parts = vec![
        json!({ "id": format!("{id}_smt"), "name": "statement", "prose": control.objective }),
        json!({
            "id": format!("{id}_obj"),
            "name": "assessment-objective",
            "prose": "Each item of the population, or the period as a whole, is tested against these attributes.",
            "parts": attributes,
        }),
    ];
    let rules: Vec<String> = control
        .evidence
        .iter()
        .map(|r| {
            let events: Vec<String> = r.events.iter().map(ToString::to_string).collect();
            let mut line = format!("{}: {}", r.role, events.join(", "));
            if !r.conditions.is_empty() {
                let conditions: Vec<String> =
                    r.conditions.iter().map(ToString::to_string).collect();
                line.push_str(&format!(" where {}", conditions.join(" and ")));
            }
            line
        })
        .collect();
    let mut method = rules.join("\n");
    if let Some(reason) = &control.manual_reason {
        method = format!("Manual evidence: {reason}");
    }
    if !control.documents.is_empty() {
        method.push_str(&format!("\nDocuments: {}", control.documents.join("; ")));
    }
    // OSCAL assessment methods: TEST for controls whose events are tested item by item,
    // EXAMINE for controls whose evidence is a document or attestation that a person reads.
    let method_kind = match control.automation {
        Automation::Manual => "EXAMINE",
        Automation::Automated | Automation::SemiAutomated => "TEST",
    };
    parts.push(json!({
        "id": format!("{id}_asm"),
        "name": "assessment-method",
        "props": [{ "name": "method", "value": method_kind }],
        "prose": method,
    }));
    json!({
        "id": id,
        "title": control.title,
        "props": props,
        "parts": parts,
    })
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// One exported document and the file name it should be written under.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportFile {
    /// File name (no directory), e.g. `soc2-catalog.json`.
    pub file_name: String,
    /// The OSCAL document.
    pub document: Value,
}

impl ExportFile {
    /// The document as pretty-printed JSON with a trailing newline, the form written to disk.
    pub fn to_pretty_json(&self) -> String {
        // Serialising a `Value` cannot fail: its map keys are strings.
        let mut text = serde_json::to_string_pretty(&self.document).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// The documents `spanforge catalog export --oscal FRAMEWORK` writes: the canonical-control
/// catalog, the framework's catalog, its profile and its mapping collection. The relative
/// references between them resolve when all four sit in one directory.
pub fn export_files(framework: FrameworkId) -> Vec<ExportFile> {
    export_files_in(crate::registry(), framework)
}

pub(crate) fn export_files_in(registry: &Registry, framework: FrameworkId) -> Vec<ExportFile> {
    vec![
        ExportFile {
            file_name: CANONICAL_CATALOG_FILE.to_owned(),
            document: canonical_catalog_json_in(registry),
        },
        ExportFile {
            file_name: catalog_file(framework),
            document: catalog_json_in(registry, framework),
        },
        ExportFile {
            file_name: profile_file(framework),
            document: profile_json_in(registry, framework),
        },
        ExportFile {
            file_name: mapping_collection_file(framework),
            document: mapping_collection_json_in(registry, framework),
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::data::{Sources, load};

    /// Every control id in an OSCAL catalog document, walking nested groups and controls.
    fn control_ids(document: &Value) -> Vec<String> {
        fn walk(value: &Value, out: &mut Vec<String>) {
            for group in value["groups"].as_array().into_iter().flatten() {
                walk(group, out);
            }
            for control in value["controls"].as_array().into_iter().flatten() {
                out.push(control["id"].as_str().unwrap().to_owned());
                walk(control, out);
            }
        }
        let mut out = Vec::new();
        walk(&document["catalog"], &mut out);
        out
    }

    #[test]
    fn every_framework_exports_consistent_documents() {
        let registry = crate::registry();
        let canonical = canonical_catalog_json();
        let canonical_ids: HashSet<String> = control_ids(&canonical).into_iter().collect();
        assert_eq!(canonical_ids.len(), registry.controls().len());
        for fw in FrameworkId::ALL {
            let catalog = registry.catalog(fw);
            let doc = catalog_json(fw);
            let ids = control_ids(&doc);
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(ids.len(), catalog.len(), "{fw}: one OSCAL control per node");
            assert_eq!(unique.len(), ids.len(), "{fw}: OSCAL ids are unique");
            assert_eq!(
                doc["catalog"]["metadata"]["last-modified"],
                catalog.edition().edition_date.midnight_utc(),
            );
            assert_eq!(doc["catalog"]["metadata"]["oscal-version"], OSCAL_VERSION);

            let profile = profile_json(fw);
            let selected: Vec<&str> =
                profile["profile"]["imports"][0]["include-controls"][0]["with-ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
            assert_eq!(selected.len(), registry.mapped_nodes(fw).len());
            assert!(selected.iter().all(|id| unique.contains(&id.to_string())));
            assert_eq!(profile["profile"]["imports"][0]["href"], catalog_file(fw));

            let collection = mapping_collection_json(fw);
            let mapping = &collection["mapping-collection"]["mappings"][0];
            let maps = mapping["maps"].as_array().unwrap();
            assert_eq!(
                maps.len(),
                registry
                    .mappings()
                    .iter()
                    .filter(|m| m.framework == fw)
                    .count()
            );
            for map in maps {
                assert!(canonical_ids.contains(map["sources"][0]["id-ref"].as_str().unwrap()));
                assert!(unique.contains(&map["targets"][0]["id-ref"].as_str().unwrap().to_owned()));
            }
            let gaps = mapping["target-gap-summary"]["unmapped-controls"][0]["with-ids"]
                .as_array()
                .map_or(0, Vec::len);
            assert_eq!(
                gaps + selected.len(),
                catalog.len(),
                "{fw}: mapped + gaps = all nodes"
            );
        }
    }

    #[test]
    fn exports_are_reproducible() {
        for fw in FrameworkId::ALL {
            let a: Vec<String> = export_files(fw)
                .iter()
                .map(ExportFile::to_pretty_json)
                .collect();
            let b: Vec<String> = export_files(fw)
                .iter()
                .map(ExportFile::to_pretty_json)
                .collect();
            assert_eq!(a, b);
            assert_eq!(a.len(), 4);
        }
    }

    #[test]
    fn document_uuids_change_with_the_data_and_object_uuids_do_not() {
        let shipped = crate::registry();
        let mut sources = Sources::shipped();
        sources.frameworks[0].2 = sources.frameworks[0].2.replacen(
            "Managing vendor and business-partner risk",
            "Vendor risk",
            1,
        );
        let changed = load(&sources).unwrap();
        let before = catalog_json_in(shipped, FrameworkId::Soc2);
        let after = catalog_json_in(&changed, FrameworkId::Soc2);
        assert_ne!(before["catalog"]["uuid"], after["catalog"]["uuid"]);
        let before = mapping_collection_json_in(shipped, FrameworkId::Soc2);
        let after = mapping_collection_json_in(&changed, FrameworkId::Soc2);
        assert_ne!(
            before["mapping-collection"]["uuid"],
            after["mapping-collection"]["uuid"]
        );
        assert_eq!(
            before["mapping-collection"]["mappings"][0]["maps"][0]["uuid"],
            after["mapping-collection"]["mappings"][0]["maps"][0]["uuid"],
        );
        // Another framework's documents are untouched.
        assert_eq!(
            catalog_json_in(shipped, FrameworkId::Gdpr),
            catalog_json_in(&changed, FrameworkId::Gdpr)
        );
    }

    #[test]
    fn copyrighted_wording_is_not_exported() {
        let doc = catalog_json(FrameworkId::Soc2).to_string();
        assert!(doc.contains("not reproduced"));
        let doc = catalog_json(FrameworkId::NistAiRmf);
        let first = &doc["catalog"]["groups"][0]["groups"][0]["controls"][0];
        assert_eq!(first["props"][0]["value"], "GOVERN 1.1");
        assert!(
            first["parts"][0]["prose"]
                .as_str()
                .unwrap()
                .starts_with("Legal and regulatory requirements")
        );
    }

    #[test]
    fn sort_ids_pad_numbers() {
        assert_eq!(sort_id("cc6.1"), "cc006.001");
        assert_eq!(sort_id("govern-1.10"), "govern-001.010");
        assert_eq!(sort_id("a.6.2.8"), "a.006.002.008");
        assert_eq!(sort_id("sf-log-01"), "sf-log-001");
    }

    #[test]
    fn uuids_are_v5_and_stable() {
        let a = uuid_for("catalog|soc2|x");
        let b = uuid_for("catalog|soc2|x");
        let c = uuid_for("catalog|soc2|y");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let parsed = Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
    }
}
