//! The executable rule set: the catalog's evidence rules and this crate's attribute tests
//! (`data/attribute-tests.toml`) compiled into matchers the engine runs on each event.
//!
//! Rules are data. The catalog says which events are evidence for a canonical control and in
//! which role; the attribute-test data says how each test attribute is checked from those
//! events (field conditions, joins to earlier or later events, period checks). The engine has
//! one code path per *kind* of test, never one per control or per framework.

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use spanforge_catalog::canonical::{
    Automation, CanonicalControl, EvidenceRole, EvidenceRule, Frequency,
};
use spanforge_catalog::rules::{Condition, EventPattern, FieldPath};

use crate::error::{Error, Result};

/// The attribute-test data shipped with the crate.
const DATA: &str = include_str!("../data/attribute-tests.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    meta: RawMeta,
    #[serde(default)]
    control: Vec<RawControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    data_version: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    id: String,
    conditions: Option<String>,
    #[serde(default)]
    as_tests: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    coverage: Option<String>,
    coverage_days: Option<u32>,
    coverage_events: Option<Vec<String>>,
    #[serde(default)]
    require_population: bool,
    #[serde(default)]
    test: Vec<RawTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    attribute: String,
    kind: String,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    distinct: Vec<[String; 2]>,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    on: Vec<[String; 2]>,
    #[serde(default)]
    on_optional: Vec<[String; 2]>,
    within_s: Option<i64>,
    within_field: Option<String>,
    #[serde(default)]
    differ: Vec<[String; 2]>,
    #[serde(default)]
    latest: Vec<String>,
    seconds: Option<i64>,
    field: Option<String>,
    list_field: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    events: Vec<String>,
    #[serde(default)]
    when: Vec<String>,
}

/// Event types plus the conditions that select events of those types.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Event types or prefixes.
    pub patterns: Vec<EventPattern>,
    /// Conditions that choose which events of the types belong here.
    pub selectors: Vec<Condition>,
    /// Conditions an event that belongs here is tested against.
    pub tests: Vec<Condition>,
}

impl Matcher {
    /// Whether an event type falls under one of the patterns.
    pub fn matches_type(&self, event_type: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(event_type))
    }
}

/// How the period coverage of a control is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Event-driven: no periodic expectation.
    None,
    /// Every UTC day of the period has evidence.
    Daily,
    /// No stretch of the period longer than this many days is without evidence, counting the
    /// last occurrence before the period.
    MaxGapDays(u32),
}

impl Coverage {
    /// The coverage a frequency implies.
    pub fn of(frequency: Frequency) -> Self {
        match frequency {
            Frequency::Continuous | Frequency::Daily => Coverage::Daily,
            Frequency::Weekly => Coverage::MaxGapDays(7),
            Frequency::Monthly => Coverage::MaxGapDays(31),
            Frequency::Quarterly => Coverage::MaxGapDays(92),
            Frequency::Annual => Coverage::MaxGapDays(366),
            Frequency::PerEvent | Frequency::PerChange => Coverage::None,
        }
    }

    /// Days before the period that can still hold a valid occurrence.
    pub fn lookback_days(self) -> u32 {
        match self {
            Coverage::None => 0,
            Coverage::Daily => 1,
            Coverage::MaxGapDays(n) => n,
        }
    }
}

/// A join from population items to other events.
#[derive(Clone, Debug)]
pub struct JoinSpec {
    /// Where joined events come from (types and selecting conditions).
    pub sources: Vec<Matcher>,
    /// Key pairs (item field, joined field) that must be equal.
    pub on: Vec<(FieldPath, FieldPath)>,
    /// Key pairs compared only when the item has the field.
    pub on_optional: Vec<(FieldPath, FieldPath)>,
    /// Largest distance in seconds between item and joined event.
    pub within_s: Option<i64>,
    /// An item field holding that distance, for per-item deadlines.
    pub within_field: Option<FieldPath>,
    /// Pairs (item field, joined field) that must differ for at least one joined event.
    pub differ: Vec<(FieldPath, FieldPath)>,
    /// Conditions the most recent joined event must meet.
    pub latest: Vec<Condition>,
}

/// What an item test checks.
#[derive(Clone, Debug)]
pub enum ItemTestKind {
    /// The test conditions of the population rule the item matched.
    RuleConditions,
    /// Field conditions on the item.
    Fields {
        /// All must hold.
        all: Vec<Condition>,
        /// At least one must hold (when not empty).
        any: Vec<Condition>,
        /// Pairs of item fields that must both be present and differ.
        distinct: Vec<(FieldPath, FieldPath)>,
    },
    /// A joined event at or before the item.
    Before(JoinSpec),
    /// A joined event after the item.
    After(JoinSpec),
    /// No joined event after the item.
    NoneAfter(JoinSpec),
    /// The item's field is listed in the latest configuration snapshot.
    InConfiguration {
        /// The item field.
        field: FieldPath,
        /// The snapshot field holding the allowed values.
        list_field: FieldPath,
    },
}

/// One machine test of one attribute, applied to population items.
#[derive(Clone, Debug)]
pub struct ItemTest {
    /// Index into [`ControlRules::attributes`].
    pub attribute: usize,
    /// Only items of these types are tested (all items when empty).
    pub types: Vec<EventPattern>,
    /// What is checked.
    pub kind: ItemTestKind,
}

/// A test of the period as a whole.
#[derive(Clone, Debug)]
pub enum PeriodTest {
    /// The period coverage check.
    Coverage {
        /// Attribute index.
        attribute: usize,
    },
    /// Consecutive items no more than `seconds` apart.
    MaxGap {
        /// Attribute index.
        attribute: usize,
        /// Largest allowed gap.
        seconds: i64,
    },
    /// A field never decreases from item to item.
    Increasing {
        /// Attribute index.
        attribute: usize,
        /// The field.
        field: FieldPath,
    },
    /// A configuration snapshot meeting the configuration rule exists in the period.
    Configuration {
        /// Attribute index.
        attribute: usize,
    },
}

impl PeriodTest {
    /// The attribute the test evidences.
    pub fn attribute(&self) -> usize {
        match self {
            PeriodTest::Coverage { attribute }
            | PeriodTest::MaxGap { attribute, .. }
            | PeriodTest::Increasing { attribute, .. }
            | PeriodTest::Configuration { attribute } => *attribute,
        }
    }
}

/// One test attribute of a control with how it is tested.
#[derive(Clone, Debug)]
pub struct AttributeSpec {
    /// The catalog's attribute id (`A1`, ...).
    pub id: String,
    /// Its short name.
    pub name: String,
    /// What it checks, in words.
    pub test: String,
    /// Descriptions of the machine tests bound to it (empty: tested by a person).
    pub methods: Vec<String>,
}

impl AttributeSpec {
    /// Whether the engine tests the attribute.
    pub fn is_automated(&self) -> bool {
        !self.methods.is_empty()
    }
}

/// Everything the engine needs to evaluate one canonical control.
#[derive(Clone, Debug)]
pub struct ControlRules {
    /// The catalog control.
    pub control: &'static CanonicalControl,
    /// The role whose events form the population (population, or for controls without such
    /// rules: completeness, attestation, then configuration).
    pub population_role: Option<EvidenceRole>,
    /// Population rules.
    pub population: Vec<Matcher>,
    /// Events meeting any of these are left out of the population.
    pub exclude: Vec<Condition>,
    /// Exception-role rules: each matching event is a deviation.
    pub exceptions: Vec<Matcher>,
    /// Configuration-role rules.
    pub configuration: Vec<Matcher>,
    /// Period coverage.
    pub coverage: Coverage,
    /// Events counted for coverage (the population rules when `None`).
    pub coverage_events: Option<Vec<EventPattern>>,
    /// Whether an empty population is insufficient evidence.
    pub require_population: bool,
    /// Tests on population items.
    pub item_tests: Vec<ItemTest>,
    /// Tests on the period.
    pub period_tests: Vec<PeriodTest>,
    /// The attributes, in catalog order.
    pub attributes: Vec<AttributeSpec>,
}

impl ControlRules {
    /// The control's id.
    pub fn id(&self) -> &'static str {
        &self.control.id
    }

    /// Whether evidence comes only from documents and attestations.
    pub fn is_manual(&self) -> bool {
        self.control.automation == Automation::Manual
    }

    /// Every field path the rules and tests of this control read from population items: the
    /// "projected fields" a population listing carries.
    pub fn projected_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |p: &FieldPath| {
            let text = p.to_string();
            if (text.starts_with("payload.") || text.starts_with("tags.")) && !out.contains(&text) {
                out.push(text);
            }
        };
        for m in &self.population {
            for c in m.selectors.iter().chain(&m.tests) {
                add(c.path());
            }
        }
        for t in &self.item_tests {
            match &t.kind {
                ItemTestKind::RuleConditions => {}
                ItemTestKind::Fields { all, any, distinct } => {
                    for c in all.iter().chain(any) {
                        add(c.path());
                    }
                    for (a, b) in distinct {
                        add(a);
                        add(b);
                    }
                }
                ItemTestKind::Before(j) | ItemTestKind::After(j) | ItemTestKind::NoneAfter(j) => {
                    for (item, _) in j.on.iter().chain(&j.on_optional).chain(&j.differ) {
                        add(item);
                    }
                    if let Some(w) = &j.within_field {
                        add(w);
                    }
                }
                ItemTestKind::InConfiguration { field, .. } => add(field),
            }
        }
        for t in &self.period_tests {
            if let PeriodTest::Increasing { field, .. } = t {
                add(field);
            }
        }
        out.sort();
        out
    }
}

/// What an event means to one control, found by event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// A population rule (index into [`ControlRules::population`]).
    Population {
        /// Control index.
        control: usize,
        /// Rule index.
        rule: usize,
    },
    /// An exception rule.
    Exception {
        /// Control index.
        control: usize,
        /// Rule index.
        rule: usize,
    },
    /// A configuration rule.
    Configuration {
        /// Control index.
        control: usize,
        /// Rule index.
        rule: usize,
    },
    /// A coverage event pattern (only for controls with `coverage_events`).
    Coverage {
        /// Control index.
        control: usize,
    },
    /// A source of a join test.
    JoinSource {
        /// Control index.
        control: usize,
        /// Item-test index.
        test: usize,
        /// Source index.
        source: usize,
    },
}

/// The compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    controls: Vec<ControlRules>,
    data_version: u32,
    data_hash: String,
}

fn rules_error(location: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Rules {
        location: location.into(),
        reason: reason.into(),
    }
}

fn parse_path(text: &str, location: &str) -> Result<FieldPath> {
    FieldPath::parse(text).map_err(|e| rules_error(location, e.to_string()))
}

fn parse_conditions(texts: &[String], location: &str) -> Result<Vec<Condition>> {
    texts
        .iter()
        .map(|t| Condition::parse(t).map_err(|e| rules_error(location, e.to_string())))
        .collect()
}

fn parse_patterns(texts: &[String], location: &str) -> Result<Vec<EventPattern>> {
    texts
        .iter()
        .map(|t| EventPattern::parse(t).map_err(|e| rules_error(location, e.to_string())))
        .collect()
}

fn parse_pairs(pairs: &[[String; 2]], location: &str) -> Result<Vec<(FieldPath, FieldPath)>> {
    pairs
        .iter()
        .map(|[a, b]| Ok((parse_path(a, location)?, parse_path(b, location)?)))
        .collect()
}

/// Splits a catalog rule's conditions into selectors and tests (see the data file's header).
fn compile_rule(rule: &EvidenceRule, as_tests: &[Condition]) -> Matcher {
    let mut selectors = Vec::new();
    let mut tests = Vec::new();
    for c in &rule.conditions {
        let selects = matches!(c, Condition::Equals(..) | Condition::OneOf(..));
        if selects && !as_tests.contains(c) {
            selectors.push(c.clone());
        } else {
            tests.push(c.clone());
        }
    }
    Matcher {
        patterns: rule.events.clone(),
        selectors,
        tests,
    }
}

impl RuleSet {
    /// The rule set compiled from the shipped catalog and attribute-test data.
    ///
    /// # Errors
    ///
    /// [`Error::Rules`] when the data names an unknown control, attribute or event type, or
    /// leaves a population rule's test conditions unbound. The crate's tests load the shipped
    /// data, so a released build does not fail here.
    pub fn shipped() -> Result<Self> {
        Self::from_toml(DATA, spanforge_catalog::canonical_controls())
    }

    /// Compiles attribute-test data in the shipped format against a set of catalog controls.
    ///
    /// # Errors
    ///
    /// As for [`RuleSet::shipped`], and for malformed TOML.
    pub fn from_toml(text: &str, controls: &'static [CanonicalControl]) -> Result<Self> {
        let raw: RawFile = toml::from_str(text).map_err(|e| rules_error("file", e.to_string()))?;
        let mut by_id: HashMap<&str, &RawControl> = HashMap::new();
        for c in &raw.control {
            if by_id.insert(c.id.as_str(), c).is_some() {
                return Err(rules_error(&c.id, "the control is listed twice"));
            }
            if !controls.iter().any(|k| k.id == c.id) {
                return Err(rules_error(
                    &c.id,
                    "no such canonical control in the catalog",
                ));
            }
        }
        let mut compiled = Vec::with_capacity(controls.len());
        for control in controls {
            compiled.push(compile_control(
                control,
                by_id.get(control.id.as_str()).copied(),
            )?);
        }
        Ok(RuleSet {
            controls: compiled,
            data_version: raw.meta.data_version,
            data_hash: format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes()))),
        })
    }

    /// All controls, in catalog order.
    pub fn controls(&self) -> &[ControlRules] {
        &self.controls
    }

    /// A control by id.
    pub fn control(&self, id: &str) -> Option<&ControlRules> {
        self.controls.iter().find(|c| c.id() == id)
    }

    /// The position of a control by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.controls.iter().position(|c| c.id() == id)
    }

    /// Revision of the attribute-test data.
    pub fn data_version(&self) -> u32 {
        self.data_version
    }

    /// SHA-256 of the attribute-test data file (`sha256:<hex>`), recorded in packages.
    pub fn data_hash(&self) -> &str {
        &self.data_hash
    }

    /// Everything controls do with events of `event_type`, for the controls selected by
    /// `in_scope`.
    pub fn hooks_for(&self, event_type: &str, in_scope: &[bool]) -> Vec<Hook> {
        let mut hooks = Vec::new();
        for (ci, c) in self.controls.iter().enumerate() {
            if !in_scope.get(ci).copied().unwrap_or(false) {
                continue;
            }
            for (ri, m) in c.population.iter().enumerate() {
                if m.matches_type(event_type) {
                    hooks.push(Hook::Population {
                        control: ci,
                        rule: ri,
                    });
                }
            }
            for (ri, m) in c.exceptions.iter().enumerate() {
                if m.matches_type(event_type) {
                    hooks.push(Hook::Exception {
                        control: ci,
                        rule: ri,
                    });
                }
            }
            for (ri, m) in c.configuration.iter().enumerate() {
                if m.matches_type(event_type) {
                    hooks.push(Hook::Configuration {
                        control: ci,
                        rule: ri,
                    });
                }
            }
            if let Some(patterns) = &c.coverage_events
                && patterns.iter().any(|p| p.matches(event_type))
            {
                hooks.push(Hook::Coverage { control: ci });
            }
            for (ti, t) in c.item_tests.iter().enumerate() {
                let spec = match &t.kind {
                    ItemTestKind::Before(j)
                    | ItemTestKind::After(j)
                    | ItemTestKind::NoneAfter(j) => j,
                    _ => continue,
                };
                for (si, s) in spec.sources.iter().enumerate() {
                    if s.matches_type(event_type) {
                        hooks.push(Hook::JoinSource {
                            control: ci,
                            test: ti,
                            source: si,
                        });
                    }
                }
            }
        }
        hooks
    }
}

fn describe_test(raw: &RawTest) -> String {
    let list = |items: &[String]| items.join(", ");
    let pairs = |items: &[[String; 2]], op: &str| {
        items
            .iter()
            .map(|[a, b]| format!("{a} {op} {b}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sources = || {
        raw.sources
            .iter()
            .map(|s| {
                if s.when.is_empty() {
                    s.events.join(" | ")
                } else {
                    format!("{} where {}", s.events.join(" | "), s.when.join(" and "))
                }
            })
            .collect::<Vec<_>>()
            .join("; or ")
    };
    let types = if raw.types.is_empty() {
        String::new()
    } else {
        format!(" (items of type {})", list(&raw.types))
    };
    let window = match (&raw.within_s, &raw.within_field) {
        (Some(s), _) => format!(" within {s} s"),
        (None, Some(f)) => format!(" within the item's {f} seconds"),
        (None, None) => String::new(),
    };
    let keyed = if raw.on.is_empty() {
        String::new()
    } else {
        format!(" with {}", pairs(&raw.on, "="))
    };
    match raw.kind.as_str() {
        "fields" => {
            let mut parts = Vec::new();
            if !raw.all.is_empty() {
                parts.push(format!("all of: {}", list(&raw.all)));
            }
            if !raw.any.is_empty() {
                parts.push(format!("any of: {}", list(&raw.any)));
            }
            if !raw.distinct.is_empty() {
                parts.push(format!("differ: {}", pairs(&raw.distinct, "!=")));
            }
            format!("fields{types}: {}", parts.join("; "))
        }
        "before" => {
            let mut text = format!("an earlier {}{keyed}{window}{types}", sources());
            if !raw.differ.is_empty() {
                text.push_str(&format!(", with {}", pairs(&raw.differ, "!=")));
            }
            if !raw.latest.is_empty() {
                text.push_str(&format!("; the latest meets {}", list(&raw.latest)));
            }
            text
        }
        "after" => format!("a later {}{keyed}{window}{types}", sources()),
        "none-after" => format!("no later {}{keyed}{types}", sources()),
        "coverage" => "period coverage at the control's frequency".to_owned(),
        "max-gap" => format!(
            "consecutive items at most {} s apart",
            raw.seconds.unwrap_or_default()
        ),
        "increasing" => format!(
            "{} never decreases",
            raw.field.as_deref().unwrap_or_default()
        ),
        "configuration" => "a configuration snapshot captured in the period".to_owned(),
        "in-configuration" => format!(
            "{} listed in the configuration's {}",
            raw.field.as_deref().unwrap_or_default(),
            raw.list_field.as_deref().unwrap_or_default()
        ),
        other => other.to_owned(),
    }
}

#[expect(clippy::too_many_lines, reason = "one pass over the data of a control")]
fn compile_control(
    control: &'static CanonicalControl,
    raw: Option<&RawControl>,
) -> Result<ControlRules> {
    let id = control.id.as_str();
    let as_tests = match raw {
        Some(r) => parse_conditions(&r.as_tests, id)?,
        None => Vec::new(),
    };
    for c in &as_tests {
        if !control.evidence.iter().any(|r| r.conditions.contains(c)) {
            return Err(rules_error(
                id,
                format!("as_tests names {c}, which no evidence rule of the control has"),
            ));
        }
    }
    let by_role = |role: EvidenceRole| -> Vec<Matcher> {
        control
            .evidence
            .iter()
            .filter(|r| r.role == role)
            .map(|r| compile_rule(r, &as_tests))
            .collect()
    };
    let mut population_role = None;
    let mut population = Vec::new();
    for role in [
        EvidenceRole::Population,
        EvidenceRole::Completeness,
        EvidenceRole::Attestation,
        EvidenceRole::Configuration,
    ] {
        let rules = by_role(role);
        if !rules.is_empty() {
            population_role = Some(role);
            population = rules;
            break;
        }
    }
    let exceptions = by_role(EvidenceRole::Exception);
    let configuration = by_role(EvidenceRole::Configuration);
    let mut attributes: Vec<AttributeSpec> = control
        .attributes
        .iter()
        .map(|a| AttributeSpec {
            id: a.id.clone(),
            name: a.name.clone(),
            test: a.test.clone(),
            methods: Vec::new(),
        })
        .collect();
    let attribute_index = |name: &str, attrs: &[AttributeSpec]| {
        attrs
            .iter()
            .position(|a| a.id == name)
            .ok_or_else(|| rules_error(id, format!("no attribute {name} in the catalog")))
    };

    let mut coverage = Coverage::of(control.frequency);
    let mut coverage_events = None;
    let mut exclude = Vec::new();
    let mut require_population = false;
    let mut item_tests = Vec::new();
    let mut period_tests = Vec::new();

    let has_rule_tests = population.iter().any(|m| !m.tests.is_empty());
    match raw.and_then(|r| r.conditions.as_deref()) {
        Some(name) => {
            let attribute = attribute_index(name, &attributes)?;
            if !has_rule_tests {
                return Err(rules_error(
                    id,
                    "`conditions` is set but the population rules have no test conditions",
                ));
            }
            if let Some(a) = attributes.get_mut(attribute) {
                let texts: Vec<String> = population
                    .iter()
                    .flat_map(|m| m.tests.iter().map(ToString::to_string))
                    .collect();
                a.methods
                    .push(format!("evidence rule conditions: {}", texts.join(", ")));
            }
            item_tests.push(ItemTest {
                attribute,
                types: Vec::new(),
                kind: ItemTestKind::RuleConditions,
            });
        }
        None if has_rule_tests => {
            return Err(rules_error(
                id,
                "the population rules have test conditions; name the attribute they evidence with `conditions`",
            ));
        }
        None => {}
    }

    if let Some(r) = raw {
        exclude = parse_conditions(&r.exclude, id)?;
        require_population = r.require_population;
        match (r.coverage.as_deref(), r.coverage_days) {
            (Some("none"), None) => coverage = Coverage::None,
            (Some(other), _) => {
                return Err(rules_error(
                    id,
                    format!("coverage must be \"none\" (without coverage_days), not {other:?}"),
                ));
            }
            (None, Some(days)) if days > 0 => coverage = Coverage::MaxGapDays(days),
            (None, Some(_)) => return Err(rules_error(id, "coverage_days must be positive")),
            (None, None) => {}
        }
        if let Some(events) = &r.coverage_events {
            coverage_events = Some(parse_patterns(events, id)?);
        }
        for (n, t) in r.test.iter().enumerate() {
            let location = format!("{id} test {} ({})", n + 1, t.attribute);
            let attribute = attribute_index(&t.attribute, &attributes)?;
            let types = parse_patterns(&t.types, &location)?;
            let join = || -> Result<JoinSpec> {
                if t.sources.is_empty() {
                    return Err(rules_error(&location, "a join needs at least one source"));
                }
                let sources = t
                    .sources
                    .iter()
                    .map(|s| {
                        Ok(Matcher {
                            patterns: parse_patterns(&s.events, &location)?,
                            selectors: parse_conditions(&s.when, &location)?,
                            tests: Vec::new(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(JoinSpec {
                    sources,
                    on: parse_pairs(&t.on, &location)?,
                    on_optional: parse_pairs(&t.on_optional, &location)?,
                    within_s: t.within_s,
                    within_field: t
                        .within_field
                        .as_deref()
                        .map(|f| parse_path(f, &location))
                        .transpose()?,
                    differ: parse_pairs(&t.differ, &location)?,
                    latest: parse_conditions(&t.latest, &location)?,
                })
            };
            let field = |name: &Option<String>| -> Result<FieldPath> {
                let text = name
                    .as_deref()
                    .ok_or_else(|| rules_error(&location, "this kind needs `field`"))?;
                parse_path(text, &location)
            };
            let kind = match t.kind.as_str() {
                "fields" => {
                    if t.all.is_empty() && t.any.is_empty() && t.distinct.is_empty() {
                        return Err(rules_error(&location, "a fields test needs conditions"));
                    }
                    Some(ItemTestKind::Fields {
                        all: parse_conditions(&t.all, &location)?,
                        any: parse_conditions(&t.any, &location)?,
                        distinct: parse_pairs(&t.distinct, &location)?,
                    })
                }
                "before" => Some(ItemTestKind::Before(join()?)),
                // Without a window, an item stays open until the end of the data.
                "after" => Some(ItemTestKind::After(join()?)),
                "none-after" => Some(ItemTestKind::NoneAfter(join()?)),
                "in-configuration" => {
                    if configuration.is_empty() {
                        return Err(rules_error(
                            &location,
                            "in-configuration needs a configuration rule in the catalog",
                        ));
                    }
                    Some(ItemTestKind::InConfiguration {
                        field: field(&t.field)?,
                        list_field: field(&t.list_field)?,
                    })
                }
                "coverage" => {
                    if coverage == Coverage::None {
                        return Err(rules_error(
                            &location,
                            "a coverage test needs a periodic control (coverage is none)",
                        ));
                    }
                    period_tests.push(PeriodTest::Coverage { attribute });
                    None
                }
                "max-gap" => {
                    let seconds = t.seconds.filter(|s| *s > 0).ok_or_else(|| {
                        rules_error(&location, "max-gap needs positive `seconds`")
                    })?;
                    period_tests.push(PeriodTest::MaxGap { attribute, seconds });
                    None
                }
                "increasing" => {
                    period_tests.push(PeriodTest::Increasing {
                        attribute,
                        field: field(&t.field)?,
                    });
                    None
                }
                "configuration" => {
                    if configuration.is_empty() {
                        return Err(rules_error(
                            &location,
                            "a configuration test needs a configuration rule in the catalog",
                        ));
                    }
                    period_tests.push(PeriodTest::Configuration { attribute });
                    None
                }
                other => {
                    return Err(rules_error(
                        &location,
                        format!("unknown test kind {other:?}"),
                    ));
                }
            };
            if let Some(a) = attributes.get_mut(attribute) {
                a.methods.push(describe_test(t));
            }
            if let Some(kind) = kind {
                item_tests.push(ItemTest {
                    attribute,
                    types,
                    kind,
                });
            }
        }
    }
    if attributes.len() > 64 {
        return Err(rules_error(
            id,
            "a control may have at most 64 test attributes",
        ));
    }
    if population_role.is_none() && !item_tests.is_empty() {
        return Err(rules_error(
            id,
            "item tests need evidence rules that define a population",
        ));
    }
    Ok(ControlRules {
        control,
        population_role,
        population,
        exclude,
        exceptions,
        configuration,
        coverage,
        coverage_events,
        require_population,
        item_tests,
        period_tests,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_data_compiles() {
        let rules = RuleSet::shipped().unwrap();
        assert_eq!(
            rules.controls().len(),
            spanforge_catalog::canonical_controls().len()
        );
        assert!(rules.data_hash().starts_with("sha256:"));
        let chg = rules.control("SF-CHG-01").unwrap();
        assert_eq!(chg.population_role, Some(EvidenceRole::Population));
        assert!(chg.attributes.iter().all(AttributeSpec::is_automated));
        // `==` selects, `present` tests.
        let evl2 = rules.control("SF-EVL-02").unwrap();
        assert_eq!(evl2.population[0].selectors.len(), 1);
        assert!(evl2.population[0].tests.is_empty());
        // ... unless the data says the `==` condition is a test.
        let iso = rules.control("SF-ISO-01").unwrap();
        assert!(iso.population[0].selectors.is_empty());
        assert_eq!(iso.population[0].tests.len(), 1);
        assert_eq!(iso.coverage, Coverage::MaxGapDays(7));
        // Controls without population rules take their population from the next role.
        let log3 = rules.control("SF-LOG-03").unwrap();
        assert_eq!(log3.population_role, Some(EvidenceRole::Completeness));
        let gov1 = rules.control("SF-GOV-01").unwrap();
        assert_eq!(gov1.population_role, Some(EvidenceRole::Attestation));
        assert!(gov1.is_manual());
    }

    #[test]
    fn hooks_follow_event_types() {
        let rules = RuleSet::shipped().unwrap();
        let all = vec![true; rules.controls().len()];
        let hooks = rules.hooks_for("dev.spanforge.model.deployed", &all);
        let chg1 = rules.index_of("SF-CHG-01").unwrap();
        assert!(hooks.contains(&Hook::Population {
            control: chg1,
            rule: 0
        }));
        let approvals = rules.hooks_for("decision.made", &all);
        assert!(
            approvals
                .iter()
                .any(|h| matches!(h, Hook::JoinSource { control, .. } if *control == chg1))
        );
        let none = vec![false; rules.controls().len()];
        assert!(rules.hooks_for("decision.made", &none).is_empty());
    }

    #[test]
    fn bad_data_is_refused_with_its_location() {
        let controls = spanforge_catalog::canonical_controls();
        let cases = [
            (
                "[meta]\ndata_version = 1\n[[control]]\nid = \"SF-NOPE-01\"\n",
                "SF-NOPE-01",
            ),
            (
                "[meta]\ndata_version = 1\n[[control]]\nid = \"SF-LOG-01\"\n[[control.test]]\nattribute = \"A9\"\nkind = \"fields\"\nall = [\"actor_id present\"]\n",
                "A9",
            ),
            (
                "[meta]\ndata_version = 1\n[[control]]\nid = \"SF-LOG-01\"\n[[control.test]]\nattribute = \"A1\"\nkind = \"magic\"\n",
                "magic",
            ),
            (
                "[meta]\ndata_version = 1\n[[control]]\nid = \"SF-LOG-01\"\n[[control.test]]\nattribute = \"A1\"\nkind = \"fields\"\nall = [\"bogus.path present\"]\n",
                "SF-LOG-01",
            ),
            (
                "[meta]\ndata_version = 1\n",
                "name the attribute they evidence",
            ),
        ];
        for (text, needle) in cases {
            let err = RuleSet::from_toml(text, controls).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
