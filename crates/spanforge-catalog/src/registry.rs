//! The loaded catalog data and the queries over it (lookups, mappings, crosswalk).

use std::collections::HashMap;

use crate::canonical::{CanonicalControl, ControlsMeta, GuideItem};
use crate::error::{Error, Result};
use crate::framework::FrameworkId;
use crate::hash::ContentHash;
use crate::mapping::{Crosswalk, Mapping, MappingProvenance, NotCoverable, Subject};
use crate::model::{Catalog, Node};

/// All catalog data: six framework catalogs, the canonical controls, the guide items and the
/// mappings between them.
///
/// The shipped registry is reached through [`crate::registry()`] (or the free functions at the
/// crate root that delegate to it).
#[derive(Debug)]
pub struct Registry {
    pub(crate) catalogs: Vec<Catalog>,
    pub(crate) controls_meta: ControlsMeta,
    pub(crate) guide: Vec<GuideItem>,
    pub(crate) controls: Vec<CanonicalControl>,
    pub(crate) controls_hash: ContentHash,
    pub(crate) provenance: MappingProvenance,
    pub(crate) mappings: Vec<Mapping>,
    pub(crate) not_coverable: Vec<NotCoverable>,
    pub(crate) mappings_hash: ContentHash,
    pub(crate) control_index: HashMap<String, usize>,
}

impl Registry {
    /// The catalog of one framework.
    pub fn catalog(&self, id: FrameworkId) -> &Catalog {
        self.catalogs
            .iter()
            .find(|c| c.id() == id)
            .expect("load() builds one catalog for each FrameworkId, so every id is present")
    }

    /// All six catalogs, in [`FrameworkId::ALL`] order.
    pub fn catalogs(&self) -> &[Catalog] {
        &self.catalogs
    }

    /// All canonical controls, in data order.
    pub fn controls(&self) -> &[CanonicalControl] {
        &self.controls
    }

    /// A canonical control by id (case-insensitive: `sf-log-01` finds `SF-LOG-01`).
    pub fn control(&self, id: &str) -> Option<&CanonicalControl> {
        self.control_index
            .get(&id.trim().to_ascii_uppercase())
            .and_then(|&i| self.controls.get(i))
    }

    /// Version and release date of the canonical-control data.
    pub fn controls_meta(&self) -> ControlsMeta {
        self.controls_meta
    }

    /// Hash of the canonical controls and the guide items they reference.
    pub fn controls_hash(&self) -> ContentHash {
        self.controls_hash
    }

    /// The guide items (gaps, checklist items, auditor questions).
    pub fn guide(&self) -> &[GuideItem] {
        &self.guide
    }

    /// All mapping rows, in data order.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// How the mapping set was made.
    pub fn provenance(&self) -> &MappingProvenance {
        &self.provenance
    }

    /// Hash of the mapping set (provenance, mappings and the non-coverage inventory).
    pub fn mappings_hash(&self) -> ContentHash {
        self.mappings_hash
    }

    /// Mappings from one canonical control.
    pub fn mappings_from<'a>(&'a self, control: &'a str) -> impl Iterator<Item = &'a Mapping> {
        self.mappings.iter().filter(move |m| m.control == control)
    }

    /// Mappings into one framework node.
    pub fn mappings_to<'a>(
        &'a self,
        framework: FrameworkId,
        node: &'a str,
    ) -> impl Iterator<Item = &'a Mapping> {
        self.mappings
            .iter()
            .filter(move |m| m.framework == framework && m.node == node)
    }

    /// The nodes listed as not coverable by telemetry, with reasons.
    pub fn not_coverable(&self) -> &[NotCoverable] {
        &self.not_coverable
    }

    /// The non-coverage entry for one node, if it has one.
    pub fn not_coverable_entry(&self, framework: FrameworkId, node: &str) -> Option<&NotCoverable> {
        self.not_coverable
            .iter()
            .find(|n| n.framework == framework && n.node == node)
    }

    /// Ids (in catalog order) of the nodes of a framework that at least one canonical control
    /// maps to: the telemetry-coverable part of the framework.
    pub fn mapped_nodes(&self, framework: FrameworkId) -> Vec<&Node> {
        self.catalog(framework)
            .nodes()
            .iter()
            .filter(|n| self.mappings_to(framework, &n.id).next().is_some())
            .collect()
    }

    /// Finds a framework node from a query: `FRAMEWORK:ID` (`gdpr:Art. 17`), or a bare id
    /// that names a node in exactly one framework (`CC8.1`, `GOVERN 1.6`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownFramework`] or [`Error::UnknownNode`] for a bad qualified query,
    /// [`Error::Ambiguous`] when a bare id names nodes in several frameworks, and
    /// [`Error::NotFound`] when it names none.
    pub fn resolve_node(&self, query: &str) -> Result<(FrameworkId, &Node)> {
        let query = query.trim();
        if let Some((fw_text, id)) = query.split_once(':')
            && let Ok(fw) = FrameworkId::parse(fw_text)
        {
            let id = id.trim();
            let node = self
                .catalog(fw)
                .find_node(id)
                .ok_or_else(|| Error::UnknownNode {
                    framework: fw,
                    id: id.to_owned(),
                })?;
            return Ok((fw, node));
        }
        // Exact ids first, so that an exact hit in one framework wins over a loose one elsewhere.
        let exact: Vec<(FrameworkId, &Node)> = self
            .catalogs
            .iter()
            .filter_map(|c| c.node(query).map(|n| (c.id(), n)))
            .collect();
        let hits = if exact.is_empty() {
            self.catalogs
                .iter()
                .filter_map(|c| c.find_node(query).map(|n| (c.id(), n)))
                .collect()
        } else {
            exact
        };
        match hits.as_slice() {
            [] => Err(Error::NotFound {
                query: query.to_owned(),
            }),
            [one] => Ok(*one),
            many => Err(Error::Ambiguous {
                query: query.to_owned(),
                candidates: many
                    .iter()
                    .map(|(fw, n)| format!("{fw}:{}", n.id))
                    .collect(),
            }),
        }
    }

    /// The crosswalk for a canonical control id or a framework node (see
    /// [`Registry::resolve_node`] for how nodes are named).
    ///
    /// # Errors
    ///
    /// As for [`Registry::resolve_node`], when the query is not a canonical control id.
    pub fn crosswalk(&self, query: &str) -> Result<Crosswalk<'_>> {
        if let Some(control) = self.control(query) {
            return Ok(Crosswalk {
                subject: Subject::Control(control),
                direct: self.mappings_from(&control.id).collect(),
                related: Vec::new(),
                not_coverable: None,
            });
        }
        let (framework, node) = self.resolve_node(query)?;
        let direct: Vec<&Mapping> = self.mappings_to(framework, &node.id).collect();
        let related: Vec<&Mapping> = self
            .mappings
            .iter()
            .filter(|m| direct.iter().any(|d| d.control == m.control))
            .filter(|m| !(m.framework == framework && m.node == node.id))
            .collect();
        Ok(Crosswalk {
            subject: Subject::Node { framework, node },
            direct,
            related,
            not_coverable: self.not_coverable_entry(framework, &node.id),
        })
    }

    /// Distinct extension event types (outside the reference SDK's registry) that the
    /// canonical controls' rules name, sorted. The event layer documents these types.
    pub fn extension_event_types(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .controls
            .iter()
            .flat_map(|c| c.event_patterns())
            .filter(|p| p.is_extension())
            .map(ToString::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Relationship;

    fn reg() -> &'static Registry {
        crate::registry()
    }

    #[test]
    fn control_lookup_is_case_insensitive() {
        assert_eq!(
            reg().control("sf-log-01").map(|c| c.id.as_str()),
            Some("SF-LOG-01")
        );
        assert!(reg().control("SF-LOG-99").is_none());
    }

    #[test]
    fn resolve_node_handles_loose_and_qualified_ids() {
        let (fw, node) = reg().resolve_node("cc8.1").unwrap();
        assert_eq!((fw, node.id.as_str()), (FrameworkId::Soc2, "CC8.1"));
        let (fw, node) = reg().resolve_node("govern-1.6").unwrap();
        assert_eq!(
            (fw, node.id.as_str()),
            (FrameworkId::NistAiRmf, "GOVERN 1.6")
        );
        let (fw, node) = reg().resolve_node("164.312(b)").unwrap();
        assert_eq!((fw, node.id.as_str()), (FrameworkId::Hipaa, "164.312(b)"));
        let (fw, node) = reg().resolve_node("gdpr:Art. 17").unwrap();
        assert_eq!((fw, node.id.as_str()), (FrameworkId::Gdpr, "Art. 17"));
        let (fw, node) = reg().resolve_node("eu_ai_act: article 12").unwrap();
        assert_eq!((fw, node.id.as_str()), (FrameworkId::EuAiAct, "Art. 12"));
        let (fw, node) = reg().resolve_node("iso_42001:a.6.2.8").unwrap();
        assert_eq!((fw, node.id.as_str()), (FrameworkId::Iso42001, "A.6.2.8"));
    }

    #[test]
    fn ambiguous_and_unknown_queries() {
        // Art. 17 exists in both the EU AI Act (QMS) and GDPR (erasure).
        match reg().resolve_node("Art. 17") {
            Err(Error::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates, vec!["eu-ai-act:Art. 17", "gdpr:Art. 17"]);
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
        assert!(matches!(
            reg().resolve_node("CC10.1"),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            reg().resolve_node("soc2:CC10.1"),
            Err(Error::UnknownNode {
                framework: FrameworkId::Soc2,
                ..
            })
        ));
    }

    #[test]
    fn crosswalk_from_a_control() {
        let walk = reg().crosswalk("SF-CHG-01").unwrap();
        assert!(matches!(walk.subject, Subject::Control(c) if c.id == "SF-CHG-01"));
        assert!(walk.related.is_empty());
        let targets: Vec<String> = walk
            .direct
            .iter()
            .map(|m| format!("{}:{}", m.framework, m.target_label()))
            .collect();
        for want in [
            "soc2:CC8.1",
            "iso42001:A.6.2.5",
            "nist-ai-rmf:MANAGE 1.1",
            "eu-ai-act:Art. 17(1)(a)",
        ] {
            assert!(
                targets.iter().any(|t| t == want),
                "{want} missing from {targets:?}"
            );
        }
    }

    #[test]
    fn crosswalk_from_a_node_reaches_other_frameworks() {
        let walk = reg().crosswalk("CC8.1").unwrap();
        let Subject::Node { framework, node } = walk.subject else {
            panic!("node expected")
        };
        assert_eq!((framework, node.id.as_str()), (FrameworkId::Soc2, "CC8.1"));
        assert!(walk.not_coverable.is_none());
        assert!(
            walk.direct
                .iter()
                .all(|m| m.framework == FrameworkId::Soc2 && m.node == "CC8.1")
        );
        assert!(
            walk.direct
                .iter()
                .any(|m| m.control == "SF-CHG-01" && m.relationship == Relationship::Subset)
        );
        // Every related mapping comes from a control in `direct` and is not the node itself.
        for m in &walk.related {
            assert!(walk.direct.iter().any(|d| d.control == m.control));
            assert!(!(m.framework == FrameworkId::Soc2 && m.node == "CC8.1"));
        }
        let frameworks: std::collections::HashSet<FrameworkId> =
            walk.related.iter().map(|m| m.framework).collect();
        assert!(
            frameworks.contains(&FrameworkId::Iso42001)
                && frameworks.contains(&FrameworkId::NistAiRmf)
        );
    }

    #[test]
    fn crosswalk_of_a_not_coverable_node() {
        let walk = reg().crosswalk("CC1.2").unwrap();
        assert!(walk.direct.is_empty() && walk.related.is_empty());
        assert!(
            walk.not_coverable
                .is_some_and(|n| n.reason.contains("board"))
        );
    }

    #[test]
    fn every_node_is_found_by_its_spellings() {
        for catalog in reg().catalogs() {
            for node in catalog.nodes() {
                for spelling in [
                    node.id.clone(),
                    node.oscal_id.clone(),
                    node.id.to_lowercase(),
                ] {
                    let found = catalog.find_node(&spelling).map(|n| n.id.as_str());
                    assert_eq!(
                        found,
                        Some(node.id.as_str()),
                        "{}: {spelling}",
                        catalog.id()
                    );
                }
                let qualified = format!("{}:{}", catalog.id(), node.oscal_id);
                let (fw, found) = reg().resolve_node(&qualified).unwrap();
                assert_eq!((fw, found.id.as_str()), (catalog.id(), node.id.as_str()));
            }
        }
    }

    #[test]
    fn extension_event_types_are_in_our_namespace() {
        let types = reg().extension_event_types();
        assert!(types.iter().any(|t| t == "dev.spanforge.access.reviewed"));
        assert!(
            types.iter().all(|t| t.starts_with("dev.spanforge.")),
            "{types:?}"
        );
    }
}
