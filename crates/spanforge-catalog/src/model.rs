//! The framework catalog model: one [`Catalog`] per framework edition, holding groups and
//! nodes (criteria, controls, subcategories, articles, standards and specifications).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::framework::FrameworkId;
use crate::hash::ContentHash;

/// A calendar date (`YYYY-MM-DD`), used for edition dates and application dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`, checking the month and the day against the month's length.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u16> {
            let part = text.get(range)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let year = number(0..4)?;
        let month = u8::try_from(number(5..7)?).ok()?;
        let day = u8::try_from(number(8..10)?).ok()?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (day >= 1 && day <= days_in_month).then_some(Date { year, month, day })
    }

    /// The date at midnight UTC in RFC 3339 form, e.g. `2023-01-26T00:00:00Z`.
    pub fn midnight_utc(&self) -> String {
        format!("{self}T00:00:00Z")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Whether, and under what terms, the authority's own wording ships in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextLicence {
    /// The wording is copyrighted (AICPA, ISO): ids ship with titles in our own words only.
    IdsOnly,
    /// US Government work (NIST, the CFR): the wording ships.
    PublicDomain,
    /// EU legislation, reusable under Commission Decision 2011/833/EU: the wording may ship.
    EuReuse,
}

/// Facts about one framework edition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edition {
    /// Display name of the framework, e.g. "NIST AI Risk Management Framework".
    pub name: String,
    /// The body that issues it, e.g. "NIST".
    pub authority: String,
    /// Human description of the edition, e.g. "AI RMF 1.0 (NIST AI 100-1)".
    pub edition: String,
    /// Stable machine id of the edition, e.g. `nist-ai-rmf-1.0`.
    pub edition_id: String,
    /// Publication date of the edition (the OSCAL `last-modified` is derived from it).
    pub edition_date: Date,
    /// Why this date was chosen, when the authority gives none precisely.
    pub edition_date_note: Option<String>,
    /// Revision of SpanForge's data for this edition; bumped on every reviewed change.
    pub data_version: u32,
    /// Licence of the authority's wording.
    pub text_licence: TextLicence,
    /// How to cite the authoritative source.
    pub citation: String,
}

/// A group of nodes: a SOC 2 series or category, an ISO clause of Annex A, a NIST function or
/// category, an EU chapter or section, a GDPR chapter or section, a HIPAA section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Id as the authority writes it (for example `CC6`, `A.6.2`, `GOVERN 1`, `164.312`).
    pub id: String,
    /// Title (our own words for AICPA and ISO).
    pub title: String,
    /// Enclosing group, if any.
    pub parent: Option<String>,
    /// Statement of the group where the authority publishes one (NIST categories).
    pub statement: Option<String>,
    /// NCName-safe id used in OSCAL exports (derived; not part of the content hash).
    #[serde(skip)]
    pub oscal_id: String,
}

/// One assessable framework node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Id exactly as the authority writes it (`CC6.1`, `A.6.2.8`, `GOVERN 1.6`, `Art. 12`,
    /// `164.312(b)`).
    pub id: String,
    /// The group it belongs to.
    pub group: String,
    /// Title: our own words for AICPA and ISO; the official wording otherwise (for NIST the
    /// full subcategory statement).
    pub title: String,
    /// Further text where it may ship: our summary of an article's obligation for EU law.
    pub text: Option<String>,
    /// Framework-specific attributes.
    pub facets: Facets,
    /// NCName-safe id used in OSCAL exports (derived; not part of the content hash).
    #[serde(skip)]
    pub oscal_id: String,
}

/// Framework-specific attributes of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Facets {
    /// A Trust Services criterion.
    Soc2 {
        /// Trust services category the criterion belongs to.
        category: TscCategory,
        /// COSO 2013 principle number for CC1–CC5.
        coso_principle: Option<u8>,
    },
    /// An ISO/IEC 42001 Annex A control.
    Iso42001,
    /// A NIST AI RMF subcategory.
    NistAiRmf {
        /// The Core function it sits in.
        function: NistFunction,
    },
    /// An EU AI Act article.
    EuAiAct {
        /// Operators the article places duties on.
        roles: Vec<EuRole>,
        /// Which AI systems the article concerns.
        scope: EuScope,
        /// When the article applies, per condition (enacted and pending dates).
        applies_from: Vec<Application>,
    },
    /// A GDPR article.
    Gdpr {
        /// Who the article places duties on.
        roles: Vec<GdprRole>,
    },
    /// A HIPAA Security Rule standard or implementation specification.
    Hipaa {
        /// Standard or implementation specification.
        kind: HipaaKind,
        /// Required or addressable.
        obligation: Obligation,
        /// For a specification, the standard it implements.
        standard: Option<String>,
    },
}

/// SOC 2 trust services categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TscCategory {
    /// Common criteria (always in scope).
    Security,
    /// A1.
    Availability,
    /// C1.
    Confidentiality,
    /// PI1.
    ProcessingIntegrity,
    /// P1–P8.
    Privacy,
}

/// The four NIST AI RMF Core functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NistFunction {
    /// GOVERN.
    Govern,
    /// MAP.
    Map,
    /// MEASURE.
    Measure,
    /// MANAGE.
    Manage,
}

/// Operators under the EU AI Act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EuRole {
    /// Develops the system or has it developed and places it on the market under its name.
    Provider,
    /// Uses the system under its authority.
    Deployer,
}

/// Which AI systems an EU AI Act article concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EuScope {
    /// Every AI system (for example Art. 4).
    AllAiSystems,
    /// High-risk AI systems only (Annex I and Annex III).
    HighRisk,
    /// The systems Art. 50 names: those interacting with people, generating synthetic
    /// content, emotion recognition, biometric categorisation and deep fakes.
    CertainAiSystems,
    /// General-purpose AI models (Chapter V).
    GeneralPurposeAi,
}

/// Whether an application date is law or still pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplicationStatus {
    /// Set by the regulation as published in the Official Journal.
    Enacted,
    /// Agreed or proposed but not yet published; may change.
    Pending,
}

/// One application date of an EU AI Act article.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Application {
    /// Date from which the duty applies.
    pub date: Date,
    /// Which systems or operators the date concerns (e.g. "Annex III high-risk systems").
    pub applies_to: String,
    /// Legal basis of the date (e.g. "Art. 113").
    pub basis: String,
    /// Enacted or pending.
    pub status: ApplicationStatus,
}

/// Parties GDPR duties fall on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GdprRole {
    /// Determines purposes and means of processing.
    Controller,
    /// Processes on behalf of a controller.
    Processor,
}

/// Kinds of HIPAA Security Rule nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HipaaKind {
    /// A standard.
    Standard,
    /// An implementation specification under a standard.
    ImplementationSpec,
}

/// Whether a HIPAA specification must be implemented as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Obligation {
    /// Must be implemented.
    Required,
    /// Implemented if reasonable and appropriate; otherwise the decision and any alternative
    /// are documented.
    Addressable,
}

impl fmt::Display for Obligation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Obligation::Required => "required",
            Obligation::Addressable => "addressable",
        })
    }
}

/// One framework edition: metadata, groups and nodes, with its content hash.
#[derive(Debug)]
pub struct Catalog {
    pub(crate) id: FrameworkId,
    pub(crate) edition: Edition,
    pub(crate) groups: Vec<Group>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) content_hash: ContentHash,
    pub(crate) by_id: HashMap<String, usize>,
    pub(crate) by_key: HashMap<String, usize>,
}

impl Catalog {
    /// Which framework this is.
    pub fn id(&self) -> FrameworkId {
        self.id
    }

    /// Edition metadata.
    pub fn edition(&self) -> &Edition {
        &self.edition
    }

    /// Display name of the framework.
    pub fn name(&self) -> &str {
        &self.edition.name
    }

    /// SHA-256 over the canonical JSON of this edition's data (see [`crate::hash`]).
    pub fn content_hash(&self) -> ContentHash {
        self.content_hash
    }

    /// All groups, outer groups before the groups they contain, in document order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// A group by its id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Groups whose parent is `parent` (`None` for the top level), in document order.
    pub fn child_groups<'a>(&'a self, parent: Option<&'a str>) -> impl Iterator<Item = &'a Group> {
        self.groups
            .iter()
            .filter(move |g| g.parent.as_deref() == parent)
    }

    /// All nodes in document order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Number of nodes (61 for SOC 2, 38 for ISO/IEC 42001, 72 for NIST AI RMF, ...).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: every shipped catalog has nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Nodes directly inside a group, in document order.
    pub fn nodes_in<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a Node> {
        self.nodes.iter().filter(move |n| n.group == group)
    }

    /// A node by its exact id (`CC8.1`, `Art. 12`, `164.312(b)`).
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.by_id.get(id).and_then(|&i| self.nodes.get(i))
    }

    /// A node by a loosely written id: case, spaces and punctuation are ignored, OSCAL ids
    /// (`cc8.1`, `govern-1.6`, `hipaa-164.312-b`) work, for EU AI Act and GDPR articles an
    /// `Art.`/`Article` prefix is optional (`12`, `art12`, `Article 12`), and HIPAA ids may
    /// start with `45 CFR`.
    pub fn find_node(&self, query: &str) -> Option<&Node> {
        self.node(query).or_else(|| {
            self.by_key
                .get(&lookup_key(self.id, query))
                .and_then(|&i| self.nodes.get(i))
        })
    }
}

/// The normalised form used by [`Catalog::find_node`].
pub(crate) fn lookup_key(framework: FrameworkId, text: &str) -> String {
    let mut key: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if matches!(framework, FrameworkId::EuAiAct | FrameworkId::Gdpr) {
        for prefix in ["article", "art"] {
            if let Some(rest) = key.strip_prefix(prefix) {
                key = rest.to_owned();
                break;
            }
        }
    }
    if framework == FrameworkId::Hipaa {
        // "45 CFR 164.312(b)", the OSCAL id "hipaa-164.312-b" and "164.312(b)" name one node.
        for prefix in ["45cfr", "hipaa"] {
            if let Some(rest) = key.strip_prefix(prefix) {
                key = rest.to_owned();
                break;
            }
        }
    }
    key
}

/// The NCName-safe OSCAL id for an authority id: runs of letters, digits and dots joined by
/// `-`, lowercased, dots trimmed from each run, and prefixed with the framework id when the
/// result would not start with a letter (`164.312(b)` becomes `hipaa-164.312-b`).
pub(crate) fn oscal_id(framework: FrameworkId, id: &str) -> String {
    let runs: Vec<String> = id
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .map(|run| run.trim_matches('.').to_ascii_lowercase())
        .filter(|run| !run.is_empty())
        .collect();
    let joined = runs.join("-");
    if joined.starts_with(|c: char| c.is_ascii_alphabetic()) {
        joined
    } else {
        format!("{}-{joined}", framework.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(
            Date::parse("2023-01-26").unwrap().midnight_utc(),
            "2023-01-26T00:00:00Z"
        );
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-1-01",
            "20230101",
            "2023-01-32",
            "2023-+1-01",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn oscal_ids() {
        assert_eq!(oscal_id(FrameworkId::Soc2, "CC6.1"), "cc6.1");
        assert_eq!(oscal_id(FrameworkId::Iso42001, "A.6.2.8"), "a.6.2.8");
        assert_eq!(oscal_id(FrameworkId::NistAiRmf, "GOVERN 1.6"), "govern-1.6");
        assert_eq!(oscal_id(FrameworkId::EuAiAct, "Art. 12"), "art-12");
        assert_eq!(
            oscal_id(FrameworkId::Hipaa, "164.312(b)"),
            "hipaa-164.312-b"
        );
        assert_eq!(
            oscal_id(FrameworkId::Hipaa, "164.308(a)(1)(ii)(A)"),
            "hipaa-164.308-a-1-ii-a"
        );
    }

    #[test]
    fn lookup_keys() {
        assert_eq!(lookup_key(FrameworkId::EuAiAct, "Art. 12"), "12");
        assert_eq!(lookup_key(FrameworkId::EuAiAct, "article 12"), "12");
        assert_eq!(lookup_key(FrameworkId::Gdpr, "art-17"), "17");
        assert_eq!(lookup_key(FrameworkId::NistAiRmf, "govern-1.6"), "govern16");
        assert_eq!(
            lookup_key(FrameworkId::Hipaa, "45 CFR 164.312(b)"),
            "164312b"
        );
    }
}
