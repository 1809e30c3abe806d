//! Loading the embedded data files into the typed model, checking every cross-reference.
//!
//! The TOML sources under `data/` are compiled in with `include_str!`. [`load`] parses them
//! into the model types ("parse, don't validate"): after it succeeds, every id is unique, every
//! reference resolves, every event type fits the grammar and every framework node is either
//! mapped or listed as not coverable. The shipped data is loaded by a unit test, so the
//! registry's `expect` can never fire in a released build.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde::de::IntoDeserializer;
use serde_json::json;

use crate::canonical::{
    Automation, CanonicalControl, ControlsMeta, Domain, EvidenceRole, EvidenceRule, Frequency,
    GuideItem, GuideItemKind, GuideRefs, TestAttribute,
};
use crate::error::{Error, Result};
use crate::framework::FrameworkId;
use crate::hash::ContentHash;
use crate::mapping::{
    Mapping, MappingProvenance, NotCoverable, Relationship, ReviewStatus, Strength,
};
use crate::model::{
    Application, ApplicationStatus, Catalog, Date, Edition, EuRole, EuScope, Facets, Group,
    HipaaKind, NistFunction, Node, Obligation, TextLicence, TscCategory, lookup_key, oscal_id,
};
use crate::registry::Registry;
use crate::rules::{Condition, EventPattern};

/// The text of every data file, with the file names used in error messages.
#[derive(Clone, Debug)]
pub(crate) struct Sources {
    /// One TOML file per framework, in [`FrameworkId::ALL`] order.
    pub(crate) frameworks: [(FrameworkId, &'static str, String); 6],
    /// `canonical-controls.toml`.
    pub(crate) canonical: String,
    /// `guide.toml`.
    pub(crate) guide: String,
    /// `mappings.toml`.
    pub(crate) mappings: String,
}

impl Sources {
    /// The data files compiled into the crate.
    pub(crate) fn shipped() -> Self {
        Sources {
            frameworks: [
                (
                    FrameworkId::Soc2,
                    "soc2.toml",
                    include_str!("../data/soc2.toml").to_owned(),
                ),
                (
                    FrameworkId::Iso42001,
                    "iso42001.toml",
                    include_str!("../data/iso42001.toml").to_owned(),
                ),
                (
                    FrameworkId::NistAiRmf,
                    "nist-ai-rmf.toml",
                    include_str!("../data/nist-ai-rmf.toml").to_owned(),
                ),
                (
                    FrameworkId::EuAiAct,
                    "eu-ai-act.toml",
                    include_str!("../data/eu-ai-act.toml").to_owned(),
                ),
                (
                    FrameworkId::Gdpr,
                    "gdpr.toml",
                    include_str!("../data/gdpr.toml").to_owned(),
                ),
                (
                    FrameworkId::Hipaa,
                    "hipaa.toml",
                    include_str!("../data/hipaa.toml").to_owned(),
                ),
            ],
            canonical: include_str!("../data/canonical-controls.toml").to_owned(),
            guide: include_str!("../data/guide.toml").to_owned(),
            mappings: include_str!("../data/mappings.toml").to_owned(),
        }
    }
}

const CANONICAL_FILE: &str = "canonical-controls.toml";
const GUIDE_FILE: &str = "guide.toml";
const MAPPINGS_FILE: &str = "mappings.toml";

fn parse_toml<T: DeserializeOwned>(file: &'static str, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|source| Error::Toml {
        file,
        source: Box::new(source),
    })
}

/// Reads a kebab-case enum value from a string, reporting the file and location on failure.
fn parse_enum<T: DeserializeOwned>(
    file: &'static str,
    location: &str,
    field: &str,
    text: &str,
) -> Result<T> {
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.into_deserializer();
    T::deserialize(de).map_err(|e| Error::data(file, location, format!("field `{field}`: {e}")))
}

fn non_empty(file: &'static str, location: &str, field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::data(
            file,
            location,
            format!("field `{field}` must not be empty"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Framework files
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrameworkFile {
    framework: RawEdition,
    group: Vec<RawGroup>,
    node: Vec<RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdition {
    id: String,
    name: String,
    authority: String,
    edition: String,
    edition_id: String,
    edition_date: String,
    edition_date_note: Option<String>,
    data_version: u32,
    text_licence: TextLicence,
    citation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: String,
    title: String,
    parent: Option<String>,
    statement: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: String,
    group: String,
    title: String,
    text: Option<String>,
    // SOC 2
    coso: Option<u8>,
    // EU AI Act and GDPR
    roles: Option<Vec<String>>,
    // EU AI Act
    scope: Option<EuScope>,
    applies_from: Option<Vec<RawApplication>>,
    // HIPAA
    kind: Option<HipaaKind>,
    obligation: Option<Obligation>,
    standard: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    date: String,
    applies_to: String,
    basis: String,
    status: ApplicationStatus,
}

fn load_catalog(framework: FrameworkId, file: &'static str, text: &str) -> Result<Catalog> {
    let raw: RawFrameworkFile = parse_toml(file, text)?;
    let e = raw.framework;
    if FrameworkId::parse(&e.id).ok() != Some(framework) || e.id != framework.as_str() {
        return Err(Error::data(
            file,
            "[framework]",
            format!(
                "id is {:?}; this file must hold {:?}",
                e.id,
                framework.as_str()
            ),
        ));
    }
    for (field, value) in [
        ("name", &e.name),
        ("authority", &e.authority),
        ("edition", &e.edition),
        ("edition_id", &e.edition_id),
        ("citation", &e.citation),
    ] {
        non_empty(file, "[framework]", field, value)?;
    }
    let edition_date = Date::parse(&e.edition_date).ok_or_else(|| {
        Error::data(
            file,
            "[framework]",
            format!("edition_date {:?} is not YYYY-MM-DD", e.edition_date),
        )
    })?;
    let edition = Edition {
        name: e.name,
        authority: e.authority,
        edition: e.edition,
        edition_id: e.edition_id,
        edition_date,
        edition_date_note: e.edition_date_note,
        data_version: e.data_version,
        text_licence: e.text_licence,
        citation: e.citation,
    };

    let mut oscal_ids: HashSet<String> = HashSet::new();
    let mut groups: Vec<Group> = Vec::with_capacity(raw.group.len());
    for g in raw.group {
        let location = format!("group {:?}", g.id);
        non_empty(file, &location, "id", &g.id)?;
        non_empty(file, &location, "title", &g.title)?;
        if groups.iter().any(|seen| seen.id == g.id) {
            return Err(Error::data(file, location, "duplicate group id"));
        }
        if let Some(parent) = &g.parent
            && !groups.iter().any(|seen| &seen.id == parent)
        {
            return Err(Error::data(
                file,
                location,
                format!("parent {parent:?} must be a group defined earlier in the file"),
            ));
        }
        let oscal = oscal_id(framework, &g.id);
        if !oscal_ids.insert(oscal.clone()) {
            return Err(Error::data(
                file,
                location,
                format!("OSCAL id {oscal:?} is not unique"),
            ));
        }
        groups.push(Group {
            id: g.id,
            title: g.title,
            parent: g.parent,
            statement: g.statement,
            oscal_id: oscal,
        });
    }

    let root_of = |group: &str| -> String {
        let mut current = group.to_owned();
        // Parents are defined before children, so the chain is finite and acyclic.
        while let Some(parent) = groups
            .iter()
            .find(|g| g.id == current)
            .and_then(|g| g.parent.clone())
        {
            current = parent;
        }
        current
    };

    let standards: HashSet<String> = raw
        .node
        .iter()
        .filter(|n| n.kind == Some(HipaaKind::Standard))
        .map(|n| n.id.clone())
        .collect();

    let mut nodes: Vec<Node> = Vec::with_capacity(raw.node.len());
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for n in raw.node {
        let location = format!("node {:?}", n.id);
        non_empty(file, &location, "id", &n.id)?;
        non_empty(file, &location, "title", &n.title)?;
        if !groups.iter().any(|g| g.id == n.group) {
            return Err(Error::data(
                file,
                location,
                format!("group {:?} is not defined", n.group),
            ));
        }
        if groups
            .iter()
            .any(|g| g.parent.as_deref() == Some(n.group.as_str()))
        {
            return Err(Error::data(
                file,
                location,
                format!(
                    "group {:?} has sub-groups; nodes belong in leaf groups",
                    n.group
                ),
            ));
        }
        let facets = node_facets(
            framework,
            file,
            &location,
            &n,
            &root_of(&n.group),
            &standards,
        )?;
        let index = nodes.len();
        if by_id.insert(n.id.clone(), index).is_some() {
            return Err(Error::data(file, location, "duplicate node id"));
        }
        let key = lookup_key(framework, &n.id);
        if by_key.insert(key.clone(), index).is_some() {
            return Err(Error::data(
                file,
                location,
                format!("lookup key {key:?} is not unique"),
            ));
        }
        let oscal = oscal_id(framework, &n.id);
        if !oscal_ids.insert(oscal.clone()) {
            return Err(Error::data(
                file,
                location,
                format!("OSCAL id {oscal:?} is not unique"),
            ));
        }
        nodes.push(Node {
            id: n.id,
            group: n.group,
            title: n.title,
            text: n.text,
            facets,
            oscal_id: oscal,
        });
    }
    if nodes.is_empty() {
        return Err(Error::data(
            file,
            "[[node]]",
            "a catalog needs at least one node",
        ));
    }

    let content_hash = ContentHash::of_value(&json!({
        "framework": framework,
        "edition": edition,
        "groups": groups,
        "nodes": nodes,
    }));
    Ok(Catalog {
        id: framework,
        edition,
        groups,
        nodes,
        content_hash,
        by_id,
        by_key,
    })
}

fn node_facets(
    framework: FrameworkId,
    file: &'static str,
    location: &str,
    n: &RawNode,
    root_group: &str,
    standards: &HashSet<String>,
) -> Result<Facets> {
    let fail = |message: String| Err(Error::data(file, location, message));
    // Each framework allows only its own attributes; a stray one is a data error.
    let present: Vec<(&str, bool)> = vec![
        ("coso", n.coso.is_some()),
        ("roles", n.roles.is_some()),
        ("scope", n.scope.is_some()),
        ("applies_from", n.applies_from.is_some()),
        ("kind", n.kind.is_some()),
        ("obligation", n.obligation.is_some()),
        ("standard", n.standard.is_some()),
    ];
    let allowed: &[&str] = match framework {
        FrameworkId::Soc2 => &["coso"],
        FrameworkId::Iso42001 | FrameworkId::NistAiRmf => &[],
        FrameworkId::EuAiAct => &["roles", "scope", "applies_from"],
        FrameworkId::Gdpr => &["roles"],
        FrameworkId::Hipaa => &["kind", "obligation", "standard"],
    };
    if let Some((field, _)) = present.iter().find(|(f, set)| *set && !allowed.contains(f)) {
        return fail(format!("field `{field}` does not apply to {framework}"));
    }
    let facets = match framework {
        FrameworkId::Soc2 => {
            let category: TscCategory =
                parse_enum(file, location, "category (root group)", root_group)?;
            Facets::Soc2 {
                category,
                coso_principle: n.coso,
            }
        }
        FrameworkId::Iso42001 => Facets::Iso42001,
        FrameworkId::NistAiRmf => {
            let function: NistFunction =
                parse_enum(file, location, "function (root group)", root_group)?;
            Facets::NistAiRmf { function }
        }
        FrameworkId::EuAiAct => {
            let roles: Vec<EuRole> = roles(file, location, n.roles.as_deref())?;
            let Some(scope) = n.scope else {
                return fail("field `scope` is required".to_owned());
            };
            let mut applies_from = Vec::new();
            for a in n.applies_from.iter().flatten() {
                let date = Date::parse(&a.date).ok_or_else(|| {
                    Error::data(
                        file,
                        location,
                        format!("applies_from date {:?} is not YYYY-MM-DD", a.date),
                    )
                })?;
                non_empty(file, location, "applies_from.applies_to", &a.applies_to)?;
                non_empty(file, location, "applies_from.basis", &a.basis)?;
                applies_from.push(Application {
                    date,
                    applies_to: a.applies_to.clone(),
                    basis: a.basis.clone(),
                    status: a.status,
                });
            }
            if applies_from.is_empty() {
                return fail("field `applies_from` needs at least one entry".to_owned());
            }
            Facets::EuAiAct {
                roles,
                scope,
                applies_from,
            }
        }
        FrameworkId::Gdpr => Facets::Gdpr {
            roles: roles(file, location, n.roles.as_deref())?,
        },
        FrameworkId::Hipaa => {
            let (Some(kind), Some(obligation)) = (n.kind, n.obligation) else {
                return fail("fields `kind` and `obligation` are required".to_owned());
            };
            match (kind, &n.standard) {
                (HipaaKind::Standard, Some(_)) => {
                    return fail("a standard has no `standard` field".to_owned());
                }
                (HipaaKind::ImplementationSpec, None) => {
                    return fail("an implementation specification names its `standard`".to_owned());
                }
                (HipaaKind::ImplementationSpec, Some(s)) if !standards.contains(s) => {
                    return fail(format!(
                        "standard {s:?} is not a standard node of this file"
                    ));
                }
                _ => {}
            }
            Facets::Hipaa {
                kind,
                obligation,
                standard: n.standard.clone(),
            }
        }
    };
    Ok(facets)
}

fn roles<T: DeserializeOwned + PartialEq>(
    file: &'static str,
    location: &str,
    raw: Option<&[String]>,
) -> Result<Vec<T>> {
    let mut out: Vec<T> = Vec::new();
    for text in raw.unwrap_or_default() {
        let role: T = parse_enum(file, location, "roles", text)?;
        if out.contains(&role) {
            return Err(Error::data(
                file,
                location,
                format!("role {text:?} is listed twice"),
            ));
        }
        out.push(role);
    }
    if out.is_empty() {
        return Err(Error::data(
            file,
            location,
            "field `roles` needs at least one role",
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Guide
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuideFile {
    gap: Vec<RawNumbered>,
    checklist: Vec<RawChecklist>,
    question: Vec<RawNumbered>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNumbered {
    id: u8,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklist {
    id: String,
    category: String,
    text: String,
}

fn load_guide(text: &str) -> Result<Vec<GuideItem>> {
    let raw: RawGuideFile = parse_toml(GUIDE_FILE, text)?;
    let mut items: Vec<GuideItem> = Vec::new();
    for (kind, list) in [
        (GuideItemKind::Gap, raw.gap),
        (GuideItemKind::Question, raw.question),
    ] {
        for (position, item) in list.into_iter().enumerate() {
            let location = format!("{kind:?} {}", item.id);
            if usize::from(item.id) != position + 1 {
                return Err(Error::data(
                    GUIDE_FILE,
                    location,
                    "numbered items run 1, 2, 3, ... in order",
                ));
            }
            non_empty(GUIDE_FILE, &location, "text", &item.text)?;
            items.push(GuideItem {
                kind,
                id: item.id.to_string(),
                category: None,
                text: item.text,
            });
        }
    }
    for item in raw.checklist {
        let location = format!("checklist {:?}", item.id);
        non_empty(GUIDE_FILE, &location, "id", &item.id)?;
        non_empty(GUIDE_FILE, &location, "text", &item.text)?;
        let _: TscCategory = parse_enum(GUIDE_FILE, &location, "category", &item.category)?;
        if items
            .iter()
            .any(|i| i.kind == GuideItemKind::Checklist && i.id == item.id)
        {
            return Err(Error::data(GUIDE_FILE, location, "duplicate checklist id"));
        }
        items.push(GuideItem {
            kind: GuideItemKind::Checklist,
            id: item.id,
            category: Some(item.category),
            text: item.text,
        });
    }
    Ok(items)
}

// ---------------------------------------------------------------------------------------------
// Canonical controls
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanonicalFile {
    meta: RawVersionOnly,
    control: Vec<RawControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersionOnly {
    data_version: u32,
    release_date: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    id: String,
    title: String,
    objective: String,
    domain: Domain,
    frequency: Frequency,
    automation: Automation,
    #[serde(default)]
    documents: Vec<String>,
    manual_reason: Option<String>,
    #[serde(default)]
    guide: RawGuideRefs,
    attribute: Vec<RawAttribute>,
    #[serde(default)]
    evidence: Vec<RawEvidence>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGuideRefs {
    #[serde(default)]
    gaps: Vec<u8>,
    #[serde(default)]
    checklist: Vec<String>,
    #[serde(default)]
    questions: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    id: String,
    name: String,
    test: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvidence {
    events: Vec<String>,
    role: EvidenceRole,
    #[serde(default)]
    when: Vec<String>,
    note: Option<String>,
}

/// Checks the `SF-<FAMILY>-<NN>` shape: 2–4 uppercase letters and two digits.
fn control_id_ok(id: &str) -> bool {
    let mut parts = id.split('-');
    let (Some("SF"), Some(family), Some(number), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    (2..=4).contains(&family.len())
        && family.chars().all(|c| c.is_ascii_uppercase())
        && number.len() == 2
        && number.chars().all(|c| c.is_ascii_digit())
}

fn load_controls(text: &str, guide: &[GuideItem]) -> Result<(ControlsMeta, Vec<CanonicalControl>)> {
    let raw: RawCanonicalFile = parse_toml(CANONICAL_FILE, text)?;
    let meta = ControlsMeta {
        data_version: raw.meta.data_version,
        release_date: Date::parse(&raw.meta.release_date).ok_or_else(|| {
            Error::data(CANONICAL_FILE, "[meta]", "release_date is not YYYY-MM-DD")
        })?,
    };
    let has_item =
        |kind: GuideItemKind, id: &str| guide.iter().any(|g| g.kind == kind && g.id == id);
    let mut controls: Vec<CanonicalControl> = Vec::with_capacity(raw.control.len());
    for c in raw.control {
        let location = format!("control {:?}", c.id);
        let fail = |message: String| Error::data(CANONICAL_FILE, &location, message);
        if !control_id_ok(&c.id) {
            return Err(fail(
                "ids look like SF-LOG-01 (SF, 2-4 capitals, 2 digits)".to_owned(),
            ));
        }
        if controls.iter().any(|seen| seen.id == c.id) {
            return Err(fail("duplicate control id".to_owned()));
        }
        non_empty(CANONICAL_FILE, &location, "title", &c.title)?;
        non_empty(CANONICAL_FILE, &location, "objective", &c.objective)?;
        if c.attribute.is_empty() {
            return Err(fail(
                "a control needs at least one test attribute".to_owned(),
            ));
        }
        let mut attributes: Vec<TestAttribute> = Vec::new();
        for a in c.attribute {
            if attributes.iter().any(|seen| seen.id == a.id) {
                return Err(fail(format!("attribute id {:?} is repeated", a.id)));
            }
            for (field, value) in [
                ("attribute.id", &a.id),
                ("attribute.name", &a.name),
                ("attribute.test", &a.test),
            ] {
                non_empty(CANONICAL_FILE, &location, field, value)?;
            }
            attributes.push(TestAttribute {
                id: a.id,
                name: a.name,
                test: a.test,
            });
        }
        let mut evidence: Vec<EvidenceRule> = Vec::new();
        for (index, r) in c.evidence.into_iter().enumerate() {
            let rule_location = format!("{location}, evidence rule {}", index + 1);
            if r.events.is_empty() {
                return Err(Error::data(
                    CANONICAL_FILE,
                    rule_location,
                    "a rule names at least one event type",
                ));
            }
            let events = r
                .events
                .iter()
                .map(|t| EventPattern::parse(t))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| Error::data(CANONICAL_FILE, &rule_location, e.to_string()))?;
            let conditions = r
                .when
                .iter()
                .map(|t| Condition::parse(t))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| Error::data(CANONICAL_FILE, &rule_location, e.to_string()))?;
            evidence.push(EvidenceRule {
                events,
                role: r.role,
                conditions,
                note: r.note,
            });
        }
        match (&c.manual_reason, evidence.is_empty()) {
            (None, true) => {
                return Err(fail(
                    "a control needs an evidence rule or a `manual_reason`".to_owned(),
                ));
            }
            (Some(_), false) => {
                return Err(fail(
                    "`manual_reason` is only for controls without evidence rules".to_owned(),
                ));
            }
            (Some(reason), true) => non_empty(CANONICAL_FILE, &location, "manual_reason", reason)?,
            (None, false) => {}
        }
        if !evidence.is_empty()
            && !evidence.iter().any(|r| {
                matches!(
                    r.role,
                    EvidenceRole::Population
                        | EvidenceRole::Attestation
                        | EvidenceRole::Configuration
                )
            })
        {
            return Err(fail(
                "a control's rules need a population, attestation or configuration role".to_owned(),
            ));
        }
        for gap in &c.guide.gaps {
            if !has_item(GuideItemKind::Gap, &gap.to_string()) {
                return Err(fail(format!("guide gap {gap} does not exist")));
            }
        }
        for q in &c.guide.questions {
            if !has_item(GuideItemKind::Question, &q.to_string()) {
                return Err(fail(format!("guide question {q} does not exist")));
            }
        }
        for item in &c.guide.checklist {
            if !has_item(GuideItemKind::Checklist, item) {
                return Err(fail(format!("checklist item {item:?} does not exist")));
            }
        }
        let oscal = c.id.to_ascii_lowercase();
        controls.push(CanonicalControl {
            id: c.id,
            title: c.title,
            objective: c.objective,
            domain: c.domain,
            frequency: c.frequency,
            automation: c.automation,
            attributes,
            evidence,
            documents: c.documents,
            manual_reason: c.manual_reason,
            guide: GuideRefs {
                gaps: c.guide.gaps,
                checklist: c.guide.checklist,
                questions: c.guide.questions,
            },
            oscal_id: oscal,
        });
    }
    Ok((meta, controls))
}

// ---------------------------------------------------------------------------------------------
// Mappings
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMappingsFile {
    meta: RawMappingMeta,
    control: Vec<RawControlMaps>,
    not_coverable: Vec<RawNotCoverable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMappingMeta {
    data_version: u32,
    release_date: String,
    status: ReviewStatus,
    method: String,
    matching_rationale: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControlMaps {
    id: String,
    maps: Vec<RawMap>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    fw: String,
    node: String,
    at: Option<String>,
    rel: Relationship,
    strength: Strength,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotCoverable {
    fw: String,
    nodes: Vec<String>,
    reason: String,
}

/// A locator is one or more parenthesised paragraph or point numbers: `(1)`, `(2)(a)`.
fn locator_ok(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return false;
    };
    inner.split(")(").all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    })
}

type MappingData = (MappingProvenance, Vec<Mapping>, Vec<NotCoverable>);

fn load_mappings(
    text: &str,
    catalogs: &[Catalog],
    controls: &[CanonicalControl],
) -> Result<MappingData> {
    let raw: RawMappingsFile = parse_toml(MAPPINGS_FILE, text)?;
    let m = raw.meta;
    for (field, value) in [("method", &m.method), ("description", &m.description)] {
        non_empty(MAPPINGS_FILE, "[meta]", field, value)?;
    }
    if !["syntactic", "semantic", "functional"].contains(&m.matching_rationale.as_str()) {
        return Err(Error::data(
            MAPPINGS_FILE,
            "[meta]",
            "matching_rationale is syntactic, semantic or functional",
        ));
    }
    let release_date = Date::parse(&m.release_date)
        .ok_or_else(|| Error::data(MAPPINGS_FILE, "[meta]", "release_date is not YYYY-MM-DD"))?;
    let provenance = MappingProvenance {
        data_version: m.data_version,
        release_date,
        status: m.status,
        method: m.method,
        matching_rationale: m.matching_rationale,
        description: m.description,
    };
    let catalog_of = |fw: FrameworkId| catalogs.iter().find(|c| c.id() == fw);
    let framework = |location: &str, text: &str| -> Result<FrameworkId> {
        let fw = FrameworkId::parse(text)
            .map_err(|e| Error::data(MAPPINGS_FILE, location, e.to_string()))?;
        if fw.as_str() != text {
            return Err(Error::data(
                MAPPINGS_FILE,
                location,
                format!("write the framework as {:?}", fw.as_str()),
            ));
        }
        Ok(fw)
    };

    let mut mappings: Vec<Mapping> = Vec::new();
    let mut seen_controls: HashSet<String> = HashSet::new();
    for block in raw.control {
        let location = format!("control {:?}", block.id);
        if !controls.iter().any(|c| c.id == block.id) {
            return Err(Error::data(
                MAPPINGS_FILE,
                location,
                "no such canonical control",
            ));
        }
        if !seen_controls.insert(block.id.clone()) {
            return Err(Error::data(
                MAPPINGS_FILE,
                location,
                "a control has one [[control]] block",
            ));
        }
        for map in block.maps {
            let fw = framework(&location, &map.fw)?;
            let target = format!("{location} -> {}:{}", map.fw, map.node);
            let resolves = catalog_of(fw).is_some_and(|c| c.node(&map.node).is_some());
            if !resolves {
                return Err(Error::data(
                    MAPPINGS_FILE,
                    target,
                    "the target node does not exist",
                ));
            }
            if let Some(at) = &map.at
                && (!matches!(fw, FrameworkId::EuAiAct | FrameworkId::Gdpr) || !locator_ok(at))
            {
                return Err(Error::data(
                    MAPPINGS_FILE,
                    target,
                    format!(
                        "locator {at:?}: only EU AI Act and GDPR targets take one, written like (1) or (2)(a)"
                    ),
                ));
            }
            non_empty(MAPPINGS_FILE, &target, "why", &map.why)?;
            let duplicate = mappings.iter().any(|x| {
                x.control == block.id
                    && x.framework == fw
                    && x.node == map.node
                    && x.locator == map.at
            });
            if duplicate {
                return Err(Error::data(MAPPINGS_FILE, target, "duplicate mapping"));
            }
            mappings.push(Mapping {
                control: block.id.clone(),
                framework: fw,
                node: map.node,
                locator: map.at,
                relationship: map.rel,
                strength: map.strength,
                rationale: map.why,
            });
        }
    }
    if let Some(orphan) = controls.iter().find(|c| !seen_controls.contains(&c.id)) {
        return Err(Error::data(
            MAPPINGS_FILE,
            format!("control {:?}", orphan.id),
            "the control maps to nothing",
        ));
    }

    let mut not_coverable: Vec<NotCoverable> = Vec::new();
    for entry in raw.not_coverable {
        let location = format!("not_coverable {} {:?}", entry.fw, entry.nodes);
        let fw = framework(&location, &entry.fw)?;
        non_empty(MAPPINGS_FILE, &location, "reason", &entry.reason)?;
        for node in entry.nodes {
            let node_location = format!("not_coverable {}:{node}", entry.fw);
            if catalog_of(fw).is_none_or(|c| c.node(&node).is_none()) {
                return Err(Error::data(MAPPINGS_FILE, node_location, "no such node"));
            }
            if not_coverable
                .iter()
                .any(|x| x.framework == fw && x.node == node)
            {
                return Err(Error::data(MAPPINGS_FILE, node_location, "listed twice"));
            }
            if mappings.iter().any(|x| x.framework == fw && x.node == node) {
                return Err(Error::data(
                    MAPPINGS_FILE,
                    node_location,
                    "the node is mapped, so it cannot also be listed as not coverable",
                ));
            }
            not_coverable.push(NotCoverable {
                framework: fw,
                node,
                reason: entry.reason.clone(),
            });
        }
    }

    // Deliberate non-coverage inventory: nothing may fall through the cracks.
    for catalog in catalogs {
        let missing: Vec<&str> = catalog
            .nodes()
            .iter()
            .filter(|n| {
                !mappings
                    .iter()
                    .any(|x| x.framework == catalog.id() && x.node == n.id)
                    && !not_coverable
                        .iter()
                        .any(|x| x.framework == catalog.id() && x.node == n.id)
            })
            .map(|n| n.id.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::data(
                MAPPINGS_FILE,
                format!("framework {}", catalog.id()),
                format!(
                    "nodes neither mapped nor listed as not coverable: {}",
                    missing.join(", ")
                ),
            ));
        }
    }
    Ok((provenance, mappings, not_coverable))
}

// ---------------------------------------------------------------------------------------------
// Everything
// ---------------------------------------------------------------------------------------------

/// Parses and checks every source, producing the registry.
pub(crate) fn load(sources: &Sources) -> Result<Registry> {
    let catalogs = sources
        .frameworks
        .iter()
        .map(|(fw, file, text)| load_catalog(*fw, file, text))
        .collect::<Result<Vec<_>>>()?;
    let guide = load_guide(&sources.guide)?;
    let (controls_meta, controls) = load_controls(&sources.canonical, &guide)?;
    let (provenance, mappings, not_coverable) =
        load_mappings(&sources.mappings, &catalogs, &controls)?;
    let controls_hash = ContentHash::of_value(&json!({
        "meta": controls_meta,
        "controls": controls,
        "guide": guide,
    }));
    let mappings_hash = ContentHash::of_value(&json!({
        "provenance": provenance,
        "mappings": mappings,
        "not_coverable": not_coverable,
    }));
    let control_index = controls
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.clone(), i))
        .collect();
    Ok(Registry {
        catalogs,
        controls_meta,
        guide,
        controls,
        controls_hash,
        provenance,
        mappings,
        not_coverable,
        mappings_hash,
        control_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_data_loads() {
        let registry = load(&Sources::shipped()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(registry.catalogs().len(), 6);
        for (catalog, fw) in registry.catalogs().iter().zip(FrameworkId::ALL) {
            assert_eq!(catalog.id(), fw);
        }
    }

    /// The shipped sources with one text replacement in one file; the text must occur.
    fn edited(file: &str, from: &str, to: &str) -> Sources {
        let mut sources = Sources::shipped();
        let text: &mut String = match file {
            "canonical" => &mut sources.canonical,
            "guide" => &mut sources.guide,
            "mappings" => &mut sources.mappings,
            framework => {
                let fw = FrameworkId::parse(framework).unwrap();
                &mut sources
                    .frameworks
                    .iter_mut()
                    .find(|(id, _, _)| *id == fw)
                    .unwrap()
                    .2
            }
        };
        assert!(text.contains(from), "{from:?} not found in {file}");
        *text = text.replacen(from, to, 1);
        sources
    }

    fn load_error(sources: &Sources) -> String {
        match load(sources) {
            Ok(_) => panic!("edited data should be rejected"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn dangling_mapping_target_is_rejected() {
        let err = load_error(&edited("mappings", "node = \"CC7.2\"", "node = \"CC7.9\""));
        assert!(
            err.contains("CC7.9") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn uncovered_node_is_rejected() {
        let err = load_error(&edited("mappings", "nodes = [\"CC3.1\"]", "nodes = []"));
        assert!(
            err.contains("neither mapped nor listed") && err.contains("CC3.1"),
            "{err}"
        );
    }

    #[test]
    fn node_both_mapped_and_not_coverable_is_rejected() {
        let err = load_error(&edited(
            "mappings",
            "nodes = [\"CC3.1\"]",
            "nodes = [\"CC3.1\", \"CC8.1\"]",
        ));
        assert!(
            err.contains("CC8.1") && err.contains("cannot also be listed"),
            "{err}"
        );
    }

    #[test]
    fn empty_not_coverable_reason_is_rejected() {
        let err = load_error(&edited(
            "mappings",
            "reason = \"Setting objectives is a management document; telemetry cannot show objectives were specified.\"",
            "reason = \" \"",
        ));
        assert!(err.contains("reason"), "{err}");
    }

    #[test]
    fn unregistered_event_type_in_reserved_namespace_is_rejected() {
        let err = load_error(&edited(
            "canonical",
            "\"model_registry.registered\"",
            "\"model_registry.promoted\"",
        ));
        assert!(
            err.contains("model_registry.promoted") && err.contains("reserved"),
            "{err}"
        );
        let err = load_error(&edited(
            "canonical",
            "\"dev.spanforge.model.deployed\"",
            "\"llm.call\"",
        ));
        assert!(err.contains("llm.call"), "{err}");
    }

    #[test]
    fn malformed_condition_is_rejected() {
        let err = load_error(&edited(
            "canonical",
            "\"payload.reason present\"",
            "\"payload.reason exists\"",
        ));
        assert!(err.contains("payload.reason exists"), "{err}");
    }

    #[test]
    fn control_needs_rules_or_manual_reason() {
        // Drop every evidence rule of SF-GOV-03 (it has one).
        let rule = "[[control.evidence]]\nevents = [\"dev.spanforge.policy.reviewed\"]\nrole = \"attestation\"\nwhen = [\"payload.policy == ai_policy\", \"payload.document_sha256 present\"]\n";
        let err = load_error(&edited("canonical", rule, ""));
        assert!(
            err.contains("SF-GOV-03") && err.contains("manual_reason"),
            "{err}"
        );
        // With a reason, a manual-evidence control is accepted.
        let mut sources = edited("canonical", rule, "");
        sources.canonical = sources.canonical.replacen(
            "documents = [\"AI policy\"]",
            "documents = [\"AI policy\"]\nmanual_reason = \"The policy review is a document.\"",
            1,
        );
        let registry = load(&sources).unwrap();
        let control = registry.control("SF-GOV-03").unwrap();
        assert!(control.evidence.is_empty());
        assert_eq!(
            control.manual_reason.as_deref(),
            Some("The policy review is a document.")
        );
    }

    #[test]
    fn unknown_guide_reference_is_rejected() {
        let err = load_error(&edited(
            "canonical",
            "guide = { gaps = [1],",
            "guide = { gaps = [9],",
        ));
        assert!(err.contains("gap 9"), "{err}");
    }

    #[test]
    fn orphan_control_is_rejected() {
        // Remove SF-FBK-01's whole [[control]] block from the mappings.
        let block_start = Sources::shipped()
            .mappings
            .find("[[control]]\nid = \"SF-FBK-01\"")
            .unwrap();
        let shipped = Sources::shipped().mappings;
        let block_end = shipped[block_start..].find("\n]\n").unwrap() + block_start + 3;
        let mut sources = Sources::shipped();
        sources.mappings = format!("{}{}", &shipped[..block_start], &shipped[block_end..]);
        let err = load_error(&sources);
        assert!(
            err.contains("SF-FBK-01") && err.contains("maps to nothing"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_node_id_is_rejected() {
        let err = load_error(&edited("iso42001", "id = \"A.2.3\"", "id = \"A.2.2\""));
        assert!(err.contains("duplicate node id"), "{err}");
    }

    #[test]
    fn facet_fields_are_checked() {
        let err = load_error(&edited(
            "iso42001",
            "title = \"Documented AI policy\"",
            "title = \"Documented AI policy\"\ncoso = 1",
        ));
        assert!(err.contains("coso") && err.contains("iso42001"), "{err}");
        let err = load_error(&edited(
            "hipaa",
            "standard = \"164.312(e)(1)\"",
            "standard = \"164.312(e)(2)(i)\"",
        ));
        assert!(err.contains("not a standard node"), "{err}");
        let err = load_error(&edited(
            "eu-ai-act",
            "roles = [\"deployer\"]",
            "roles = [\"controller\"]",
        ));
        assert!(err.contains("roles"), "{err}");
    }

    #[test]
    fn locator_only_for_eu_law() {
        let err = load_error(&edited(
            "mappings",
            "{ fw = \"hipaa\", node = \"164.312(b)\", rel",
            "{ fw = \"hipaa\", node = \"164.312(b)\", at = \"(1)\", rel",
        ));
        assert!(err.contains("locator"), "{err}");
    }

    #[test]
    fn framework_file_must_hold_its_framework() {
        let err = load_error(&edited("gdpr", "id = \"gdpr\"", "id = \"hipaa\""));
        assert!(err.contains("gdpr.toml"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = load_error(&edited(
            "soc2",
            "data_version = 1",
            "data_version = 1\nversion = 2",
        ));
        assert!(
            err.contains("soc2.toml") && err.contains("version"),
            "{err}"
        );
    }

    #[test]
    fn content_hash_follows_the_data() {
        let shipped = load(&Sources::shipped()).unwrap();
        let changed = load(&edited(
            "soc2",
            "Managing vendor and business-partner risk",
            "Managing vendor risk",
        ))
        .unwrap();
        assert_ne!(
            shipped.catalog(FrameworkId::Soc2).content_hash(),
            changed.catalog(FrameworkId::Soc2).content_hash()
        );
        // Other editions and the control and mapping sets are unaffected.
        for fw in FrameworkId::ALL
            .into_iter()
            .filter(|f| *f != FrameworkId::Soc2)
        {
            assert_eq!(
                shipped.catalog(fw).content_hash(),
                changed.catalog(fw).content_hash()
            );
        }
        assert_eq!(shipped.controls_hash(), changed.controls_hash());
        assert_eq!(shipped.mappings_hash(), changed.mappings_hash());

        // Comments and layout are not data: they leave every hash alone.
        let mut relaid = Sources::shipped();
        relaid.frameworks[0].2 = relaid.frameworks[0]
            .2
            .replace("\n[[node]]", "\n# reviewed\n\n[[node]]")
            .replace('\n', "\r\n");
        let relaid = load(&relaid).unwrap();
        assert_eq!(
            shipped.catalog(FrameworkId::Soc2).content_hash(),
            relaid.catalog(FrameworkId::Soc2).content_hash()
        );

        let remapped = load(&edited(
            "mappings",
            "strength = \"partial\", why = \"AI call records",
            "strength = \"strong\", why = \"AI call records",
        ))
        .unwrap();
        assert_ne!(shipped.mappings_hash(), remapped.mappings_hash());
        assert_eq!(shipped.controls_hash(), remapped.controls_hash());

        let recontrolled = load(&edited(
            "canonical",
            "frequency = \"monthly\"",
            "frequency = \"weekly\"",
        ))
        .unwrap();
        assert_ne!(shipped.controls_hash(), recontrolled.controls_hash());
    }

    #[test]
    fn locators() {
        for ok in ["(1)", "(2)(a)", "(12)", "(1)(c)(ii)"] {
            assert!(locator_ok(ok), "{ok}");
        }
        for bad in ["", "1", "(1", "()", "(1)()", "(A)", "(1) (a)", "(1)-(3)"] {
            assert!(!locator_ok(bad), "{bad}");
        }
    }

    #[test]
    fn control_ids() {
        for ok in ["SF-LOG-01", "SF-AB-99", "SF-ABCD-10"] {
            assert!(control_id_ok(ok), "{ok}");
        }
        for bad in [
            "SF-LOG-1",
            "sf-log-01",
            "SF-L-01",
            "SF-LOGGG-01",
            "AIC-LOG-01",
            "SF-LOG-01-x",
        ] {
            assert!(!control_id_ok(bad), "{bad}");
        }
    }
}
