//! Per-control accumulators: everything the engine keeps about one control while events
//! stream past, with memory bounded by the data it must hold rather than by the number of
//! events (a bitset of deviating items, occurrence days, join keys of low-volume events, and
//! capped lists of cited events).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt::Write as _;

use foldhash::{HashMap, HashSet};
use serde::Serialize;
use sha2::{Digest, Sha256};
use spanforge_catalog::rules::{Condition, FieldPath};
use spanforge_event::Event;
use spanforge_event::json::Value;

use crate::coverage::{DayBits, LOOKBACK_DAYS};
use crate::error::Result;
use crate::fields::{self, Field};
use crate::json::{write_plain, write_string};
use crate::period::{Day, Period};
use crate::rules::{ControlRules, ItemTestKind, JoinSpec, Matcher, PeriodTest};

/// Most exceptions kept in memory (and cited with a proof) per control; every exception is
/// still written to the control's `exceptions.jsonl`.
pub const MAX_CITED_EXCEPTIONS: usize = 100;
/// Population items cited as "most recent" per control.
pub const RECENT_ITEMS: usize = 3;
/// Most period-level violations listed per control.
const MAX_LISTED_VIOLATIONS: usize = 20;
/// Most distinct values remembered per join key for `differ` checks.
const MAX_DIFFER_VALUES: usize = 32;

/// Where population and exception lines go: files for a package, nowhere for a gap report.
///
/// The lines of one control's file arrive in order; lines of different controls may be
/// interleaved in any order (the engine evaluates independent controls in parallel).
pub trait EvidenceSink {
    /// One line (without the newline) of a control's `population.jsonl`.
    ///
    /// # Errors
    ///
    /// When the line cannot be stored.
    fn population_line(&mut self, control: &str, line: &str) -> Result<()>;

    /// One line (without the newline) of a control's `exceptions.jsonl`.
    ///
    /// # Errors
    ///
    /// When the line cannot be stored.
    fn exception_line(&mut self, control: &str, line: &str) -> Result<()>;

    /// Consecutive lines of a control's `population.jsonl`, each ending with a newline. The
    /// default hands them to [`EvidenceSink::population_line`] one at a time.
    ///
    /// # Errors
    ///
    /// When the lines cannot be stored.
    fn population_lines(&mut self, control: &str, lines: &str) -> Result<()> {
        lines
            .split_terminator('\n')
            .try_for_each(|line| self.population_line(control, line))
    }

    /// Consecutive lines of a control's `exceptions.jsonl`, each ending with a newline. The
    /// default hands them to [`EvidenceSink::exception_line`] one at a time.
    ///
    /// # Errors
    ///
    /// When the lines cannot be stored.
    fn exception_lines(&mut self, control: &str, lines: &str) -> Result<()> {
        lines
            .split_terminator('\n')
            .try_for_each(|line| self.exception_line(control, line))
    }
}

/// A sink that keeps nothing (hashes and counts are still computed by the engine).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFiles;

impl EvidenceSink for NoFiles {
    fn population_line(&mut self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }

    fn exception_line(&mut self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }

    fn population_lines(&mut self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }

    fn exception_lines(&mut self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }
}

/// An event a package cites individually (an exception, a recent item, a sampled item), for
/// which it ships an inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CitedEvent {
    /// The tenant's origin path (`org/acme`, `default`).
    pub tenant: String,
    /// Position in the tenant's chain (the Merkle leaf index).
    pub seq: u64,
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The event timestamp.
    pub timestamp: String,
}

/// One deviation found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deviation {
    /// `item` (a population item failed an attribute), `exception-event` (an event whose
    /// occurrence is a deviation) or `period` (a period-level test failed).
    pub kind: String,
    /// The attribute failed, for items and period tests.
    pub attribute: Option<String>,
    /// Position in `population.jsonl`, for items.
    pub index: Option<u64>,
    /// The event concerned, if any.
    pub event: Option<CitedEvent>,
    /// What failed.
    pub reason: String,
}

/// The per-item context the engine passes in.
pub(crate) struct ItemContext<'a> {
    pub tenant_path: &'a str,
    pub seq: u64,
    pub ts: i64,
    pub event: &'a Event,
    pub text: &'a EventText<'a>,
    pub include_text: bool,
}

/// The event's identifying fields as text, taken from the event once and shared by every
/// control that writes or cites it (each `as_str` of an id checks its bytes again).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventText<'a> {
    pub event_id: &'a str,
    pub timestamp: &'a str,
    pub trace_id: Option<&'a str>,
}

impl<'a> EventText<'a> {
    pub(crate) fn of(event: &'a Event) -> Self {
        Self {
            event_id: event.event_id().as_str(),
            timestamp: event.timestamp().as_str(),
            trace_id: event.trace_id().map(|t| t.as_str()),
        }
    }
}

#[derive(Clone, Debug)]
struct ItemRef {
    index: u64,
    cited: CitedEvent,
    ts: i64,
}

struct BeforeEntry {
    last_ts: i64,
    differ_values: Vec<Vec<String>>,
    latest_failed: Vec<String>,
}

struct Pending {
    item: ItemRef,
    key: String,
    deadline: Option<i64>,
    generation: u64,
    optional: Vec<Option<String>>,
}

enum JoinState {
    NotAJoin,
    Before(HashMap<String, BeforeEntry>),
    After {
        slab: Vec<Option<Pending>>,
        free: Vec<usize>,
        by_key: HashMap<String, Vec<(usize, u64)>>,
        deadlines: BinaryHeap<Reverse<(i64, usize, u64)>>,
        generation: u64,
    },
    NoneAfter(Vec<Pending>),
}

/// A compact growable bitset.
#[derive(Clone, Debug, Default)]
pub(crate) struct BitVec(Vec<u64>);

impl BitVec {
    fn set(&mut self, i: u64) -> bool {
        let word = usize::try_from(i / 64).unwrap_or(usize::MAX);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let Some(w) = self.0.get_mut(word) else {
            return false;
        };
        let mask = 1 << (i % 64);
        let was = *w & mask != 0;
        *w |= mask;
        !was
    }

    pub(crate) fn get(&self, i: u64) -> bool {
        let word = usize::try_from(i / 64).unwrap_or(usize::MAX);
        self.0.get(word).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// Configuration snapshots seen.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConfigSeen {
    pub in_period_ok: u64,
    pub in_period_failed: u64,
    pub before_period: u64,
    pub failed_reasons: Vec<String>,
}

/// What a period-level test found.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeriodFindings {
    pub violations: u64,
    pub listed: Vec<String>,
}

/// Everything kept about one control.
pub(crate) struct ControlAcc<'r> {
    pub rules: &'r ControlRules,
    pub population: u64,
    pub population_bytes: u64,
    hasher: Sha256,
    pub deviating: BitVec,
    pub deviating_items: u64,
    pub attr_tested: Vec<u64>,
    pub attr_failed: Vec<u64>,
    pub exception_events: u64,
    pub by_type: BTreeMap<String, u64>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub days: DayBits,
    pub config: ConfigSeen,
    pub deviations: Vec<Deviation>,
    pub deviations_total: u64,
    pub recent: VecDeque<CitedEvent>,
    pub period_findings: Vec<PeriodFindings>,
    deferred_failed: HashSet<(u64, usize)>,
    joins: Vec<JoinState>,
    config_lists: Vec<Option<Vec<String>>>,
    max_gap_last: Vec<Option<i64>>,
    increasing_last: Vec<Option<f64>>,
    period: Period,
    tenant_path: String,
    projected: Vec<(String, FieldPath)>,
    /// The population line being written, kept to reuse its buffer.
    line: String,
}

fn join_key(event: &Event, pairs: &[(FieldPath, FieldPath)], item_side: bool) -> Option<String> {
    let mut key = String::new();
    for (i, (item, joined)) in pairs.iter().enumerate() {
        let path = if item_side { item } else { joined };
        let value = fields::get(event, path)
            .filter(Field::is_present)
            .and_then(|f| f.as_text())?;
        if i > 0 {
            key.push('\u{1f}');
        }
        key.push_str(&value);
    }
    Some(key)
}

fn text_of(event: &Event, path: &FieldPath) -> Option<String> {
    fields::get(event, path)
        .filter(Field::is_present)
        .and_then(|f| f.as_text())
}

fn unmet(event: &Event, conditions: &[Condition]) -> Vec<String> {
    conditions
        .iter()
        .filter(|c| !fields::holds(event, c))
        .map(ToString::to_string)
        .collect()
}

/// Whether an event is selected by a matcher (its type is already known to match).
pub(crate) fn selects(event: &Event, matcher: &Matcher) -> bool {
    matcher.selectors.iter().all(|c| fields::holds(event, c))
}

fn describe_sources(spec: &JoinSpec) -> String {
    spec.sources
        .iter()
        .flat_map(|s| s.patterns.iter().map(ToString::to_string))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn describe_key(spec: &JoinSpec, event: &Event) -> String {
    spec.on
        .iter()
        .map(|(item, _)| {
            format!(
                "{item} {}",
                text_of(event, item).unwrap_or_else(|| "(missing)".to_owned())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Converts an envelope JSON value to a serde_json value: the form [`write_value`] must write
/// byte for byte (tests compare them).
#[cfg(test)]
fn to_serde(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                serde_json::Number::from_f64(n.as_f64())
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
        Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), to_serde(v)))
                .collect(),
        ),
    }
}

/// Writes `value` byte for byte as [`crate::json::compact`] writes it converted to a
/// `serde_json` value, without building that value first (this runs for every projected field
/// of every population item).
fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // Writing into a String cannot fail.
            let _ = if let Some(i) = n.as_i64() {
                write!(out, "{i}")
            } else if let Some(u) = n.as_u64() {
                write!(out, "{u}")
            } else {
                match serde_json::Number::from_f64(n.as_f64()) {
                    Some(f) => write!(out, "{f}"),
                    None => write!(out, "null"),
                }
            };
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        // Keys are kept in code-point order, the byte order the canonical form sorts them in.
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

impl<'r> ControlAcc<'r> {
    pub(crate) fn new(rules: &'r ControlRules, period: Period) -> Self {
        let attrs = rules.attributes.len();
        let first = period.from().plus(-LOOKBACK_DAYS);
        let span = u32::try_from(LOOKBACK_DAYS).unwrap_or(0) + period.days() + 8;
        let mut acc = Self {
            rules,
            population: 0,
            population_bytes: 0,
            hasher: Sha256::new(),
            deviating: BitVec::default(),
            deviating_items: 0,
            attr_tested: vec![0; attrs],
            attr_failed: vec![0; attrs],
            exception_events: 0,
            by_type: BTreeMap::new(),
            first_ts: None,
            last_ts: None,
            days: DayBits::new(first, span),
            config: ConfigSeen::default(),
            deviations: Vec::new(),
            deviations_total: 0,
            recent: VecDeque::new(),
            period_findings: vec![PeriodFindings::default(); rules.period_tests.len()],
            deferred_failed: HashSet::default(),
            joins: Vec::new(),
            config_lists: Vec::new(),
            max_gap_last: Vec::new(),
            increasing_last: Vec::new(),
            period,
            tenant_path: String::new(),
            projected: rules
                .projected_paths()
                .into_iter()
                .filter_map(|p| FieldPath::parse(&p).ok().map(|f| (p, f)))
                .collect(),
            line: String::new(),
        };
        acc.reset_tenant_state();
        acc
    }

    fn reset_tenant_state(&mut self) {
        self.joins = self
            .rules
            .item_tests
            .iter()
            .map(|t| match t.kind {
                ItemTestKind::Before(_) => JoinState::Before(HashMap::default()),
                ItemTestKind::After(_) => JoinState::After {
                    slab: Vec::new(),
                    free: Vec::new(),
                    by_key: HashMap::default(),
                    deadlines: BinaryHeap::new(),
                    generation: 0,
                },
                ItemTestKind::NoneAfter(_) => JoinState::NoneAfter(Vec::new()),
                _ => JoinState::NotAJoin,
            })
            .collect();
        self.config_lists = vec![None; self.rules.item_tests.len()];
        self.max_gap_last = vec![None; self.rules.period_tests.len()];
        self.increasing_last = vec![None; self.rules.period_tests.len()];
    }

    /// The SHA-256 of the population lines written so far (each followed by a newline).
    pub(crate) fn population_hash(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// Starts a tenant's stream.
    pub(crate) fn begin_tenant(&mut self, tenant_path: &str) {
        tenant_path.clone_into(&mut self.tenant_path);
        self.reset_tenant_state();
        for (i, t) in self.rules.period_tests.iter().enumerate() {
            if let PeriodTest::MaxGap { .. } = t
                && let Some(slot) = self.max_gap_last.get_mut(i)
            {
                *slot = Some(self.period.start_micros());
            }
        }
    }

    /// Ends a tenant's stream: open "after" joins fail, open "none-after" joins pass, and
    /// period-level tests look at the end of the period.
    pub(crate) fn end_tenant(&mut self, sink: &mut dyn EvidenceSink) -> Result<()> {
        let end = self.period.end_micros();
        for ti in 0..self.joins.len() {
            let mut failed = Vec::new();
            if let Some(JoinState::After { slab, .. }) = self.joins.get_mut(ti) {
                for p in slab.iter_mut().filter_map(Option::take) {
                    failed.push(p);
                }
            }
            for p in failed {
                let reason = self.after_reason(ti, "by the end of the data");
                self.fail_deferred(ti, &p.item, reason, sink)?;
            }
        }
        let tests = &self.rules.period_tests;
        for (i, t) in tests.iter().enumerate() {
            if let PeriodTest::MaxGap { attribute, seconds } = t
                && let Some(Some(last)) = self.max_gap_last.get(i).copied()
                && end / 1_000_000 - last / 1_000_000 > *seconds
            {
                let reason = format!(
                    "tenant {}: no item from {} to the end of the period (more than {seconds} s)",
                    self.tenant_path,
                    micros_text(last)
                );
                self.period_violation(i, *attribute, reason, sink)?;
            }
        }
        Ok(())
    }

    fn after_reason(&self, test: usize, when: &str) -> String {
        match self.rules.item_tests.get(test).map(|t| &t.kind) {
            Some(ItemTestKind::After(spec)) => {
                let window = match (spec.within_s, &spec.within_field) {
                    (Some(s), _) => format!("within {s} s"),
                    (None, Some(f)) => format!("within the item's {f}"),
                    (None, None) => when.to_owned(),
                };
                format!("no {} followed {window}", describe_sources(spec))
            }
            _ => format!("the joined event did not follow {when}"),
        }
    }

    /// Records an occurrence day for coverage.
    pub(crate) fn note_day(&mut self, ts: i64) {
        self.days.insert(Day::of_micros(ts));
    }

    /// Expires "after" joins whose deadline passed before `ts`.
    pub(crate) fn advance(&mut self, ts: i64, sink: &mut dyn EvidenceSink) -> Result<()> {
        for ti in 0..self.joins.len() {
            let mut expired = Vec::new();
            if let Some(JoinState::After {
                slab,
                free,
                deadlines,
                ..
            }) = self.joins.get_mut(ti)
            {
                while let Some(Reverse((deadline, slot, generation))) = deadlines.peek().copied() {
                    if deadline >= ts {
                        break;
                    }
                    deadlines.pop();
                    if let Some(entry) = slab.get_mut(slot)
                        && entry.as_ref().is_some_and(|p| p.generation == generation)
                        && let Some(p) = entry.take()
                    {
                        free.push(slot);
                        expired.push(p);
                    }
                }
            }
            for p in expired {
                let reason = self.after_reason(ti, "in time");
                self.fail_deferred(ti, &p.item, reason, sink)?;
            }
        }
        Ok(())
    }

    fn fail_deferred(
        &mut self,
        test: usize,
        item: &ItemRef,
        reason: String,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        let Some(attribute) = self.rules.item_tests.get(test).map(|t| t.attribute) else {
            return Ok(());
        };
        if self.deferred_failed.insert((item.index, attribute))
            && let Some(f) = self.attr_failed.get_mut(attribute)
        {
            *f += 1;
        }
        if self.deviating.set(item.index) {
            self.deviating_items += 1;
        }
        self.record_item_deviation(item, attribute, reason, sink)
    }

    fn record_item_deviation(
        &mut self,
        item: &ItemRef,
        attribute: usize,
        reason: String,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        let attr = self.rules.attributes.get(attribute);
        let mut line = String::with_capacity(256);
        line.push_str("{\"attribute\":");
        write_string(attr.map_or("", |a| a.id.as_str()), &mut line);
        line.push_str(",\"attribute_name\":");
        write_string(attr.map_or("", |a| a.name.as_str()), &mut line);
        line.push_str(",\"event_id\":");
        write_string(&item.cited.event_id, &mut line);
        line.push_str(",\"event_type\":");
        write_string(&item.cited.event_type, &mut line);
        line.push_str(&format!(
            ",\"index\":{},\"kind\":\"item\",\"reason\":",
            item.index
        ));
        write_string(&reason, &mut line);
        line.push_str(&format!(",\"seq\":{},\"tenant\":", item.cited.seq));
        write_string(&item.cited.tenant, &mut line);
        line.push_str(",\"timestamp\":");
        write_string(&item.cited.timestamp, &mut line);
        line.push('}');
        sink.exception_line(self.rules.id(), &line)?;
        self.deviations_total += 1;
        if self.deviations.len() < MAX_CITED_EXCEPTIONS {
            self.deviations.push(Deviation {
                kind: "item".to_owned(),
                attribute: attr.map(|a| a.id.clone()),
                index: Some(item.index),
                event: Some(item.cited.clone()),
                reason,
            });
        }
        Ok(())
    }

    fn period_violation(
        &mut self,
        test: usize,
        attribute: usize,
        reason: String,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        let attr_id = self
            .rules
            .attributes
            .get(attribute)
            .map(|a| a.id.clone())
            .unwrap_or_default();
        if let Some(f) = self.period_findings.get_mut(test) {
            f.violations += 1;
            if f.listed.len() < MAX_LISTED_VIOLATIONS {
                f.listed.push(reason.clone());
            }
        }
        let mut line = String::with_capacity(160);
        line.push_str("{\"attribute\":");
        write_string(&attr_id, &mut line);
        line.push_str(",\"kind\":\"period\",\"reason\":");
        write_string(&reason, &mut line);
        line.push('}');
        sink.exception_line(self.rules.id(), &line)?;
        self.deviations_total += 1;
        if self.deviations.len() < MAX_CITED_EXCEPTIONS {
            self.deviations.push(Deviation {
                kind: "period".to_owned(),
                attribute: Some(attr_id),
                index: None,
                event: None,
                reason,
            });
        }
        Ok(())
    }

    /// An exception-role event occurred in the period.
    pub(crate) fn exception_event(
        &mut self,
        ctx: &ItemContext<'_>,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        self.exception_events += 1;
        let cited = cite(ctx);
        let reason = format!(
            "a {} event is a deviation of this control",
            ctx.event.event_type().as_str()
        );
        let mut line = String::with_capacity(256);
        line.push_str("{\"event_id\":");
        write_string(&cited.event_id, &mut line);
        line.push_str(",\"event_type\":");
        write_string(&cited.event_type, &mut line);
        line.push_str(",\"kind\":\"exception-event\",\"reason\":");
        write_string(&reason, &mut line);
        line.push_str(&format!(",\"seq\":{},\"tenant\":", cited.seq));
        write_string(&cited.tenant, &mut line);
        line.push_str(",\"timestamp\":");
        write_string(&cited.timestamp, &mut line);
        line.push('}');
        sink.exception_line(self.rules.id(), &line)?;
        self.deviations_total += 1;
        if self.deviations.len() < MAX_CITED_EXCEPTIONS {
            self.deviations.push(Deviation {
                kind: "exception-event".to_owned(),
                attribute: None,
                index: None,
                event: Some(cited),
                reason,
            });
        }
        Ok(())
    }

    /// A configuration snapshot of this control (its selectors already hold).
    pub(crate) fn configuration(
        &mut self,
        rule: usize,
        event: &Event,
        in_period: bool,
        before: bool,
    ) {
        let Some(matcher) = self.rules.configuration.get(rule) else {
            return;
        };
        let failed = unmet(event, &matcher.tests);
        if in_period {
            if failed.is_empty() {
                self.config.in_period_ok += 1;
            } else {
                self.config.in_period_failed += 1;
                if self.config.failed_reasons.len() < 5 {
                    self.config.failed_reasons.push(format!(
                        "snapshot {} does not meet {}",
                        event.event_id().as_str(),
                        failed.join(", ")
                    ));
                }
            }
        } else if before {
            self.config.before_period += 1;
        }
        // The latest snapshot (before any later item) feeds in-configuration tests.
        for (ti, t) in self.rules.item_tests.iter().enumerate() {
            if let ItemTestKind::InConfiguration { list_field, .. } = &t.kind {
                let list = match fields::get(event, list_field) {
                    Some(Field::Json(Value::Array(items))) => items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                if let Some(slot) = self.config_lists.get_mut(ti) {
                    *slot = Some(list);
                }
            }
        }
    }

    /// An event that a join test of this control draws on (its source selectors hold).
    pub(crate) fn join_source(
        &mut self,
        test: usize,
        ts: i64,
        event: &Event,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        let Some(spec) = self.rules.item_tests.get(test).map(|t| &t.kind) else {
            return Ok(());
        };
        match (spec, self.joins.get_mut(test)) {
            (ItemTestKind::Before(spec), Some(JoinState::Before(index))) => {
                let Some(key) = join_key(event, &spec.on, false) else {
                    return Ok(());
                };
                let entry = index.entry(key).or_insert_with(|| BeforeEntry {
                    last_ts: ts,
                    differ_values: vec![Vec::new(); spec.differ.len()],
                    latest_failed: Vec::new(),
                });
                entry.last_ts = entry.last_ts.max(ts);
                for (i, (_, joined)) in spec.differ.iter().enumerate() {
                    if let (Some(values), Some(v)) =
                        (entry.differ_values.get_mut(i), text_of(event, joined))
                        && values.len() < MAX_DIFFER_VALUES
                        && !values.contains(&v)
                    {
                        values.push(v);
                    }
                }
                entry.latest_failed = unmet(event, &spec.latest);
            }
            (
                ItemTestKind::After(spec),
                Some(JoinState::After {
                    slab, free, by_key, ..
                }),
            ) => {
                let Some(key) = join_key(event, &spec.on, false) else {
                    return Ok(());
                };
                if let Some(list) = by_key.get_mut(&key) {
                    list.retain(|&(slot, generation)| {
                        let Some(entry) = slab.get_mut(slot) else {
                            return false;
                        };
                        match entry {
                            Some(p) if p.generation == generation => {
                                let in_window =
                                    p.item.ts <= ts && p.deadline.is_none_or(|d| ts <= d);
                                if in_window {
                                    *entry = None;
                                    free.push(slot);
                                    false
                                } else {
                                    true
                                }
                            }
                            _ => false,
                        }
                    });
                    if list.is_empty() {
                        by_key.remove(&key);
                    }
                }
            }
            (ItemTestKind::NoneAfter(spec), Some(JoinState::NoneAfter(pending))) => {
                let Some(key) = join_key(event, &spec.on, false) else {
                    return Ok(());
                };
                let optional: Vec<Option<String>> = spec
                    .on_optional
                    .iter()
                    .map(|(_, joined)| text_of(event, joined))
                    .collect();
                let mut offending = Vec::new();
                pending.retain(|p| {
                    let matches = p.key == key
                        && p.item.ts < ts
                        && p.optional
                            .iter()
                            .zip(&optional)
                            .all(|(want, got)| match want {
                                None => true,
                                Some(w) => got.as_ref() == Some(w),
                            });
                    if matches {
                        offending.push(p.item.clone());
                    }
                    !matches
                });
                for item in offending {
                    let reason = format!(
                        "a later {} event ({}) matches it",
                        event.event_type().as_str(),
                        event.event_id().as_str()
                    );
                    self.fail_deferred(test, &item, reason, sink)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A population item: written to the listing, tested, and remembered where needed.
    #[expect(clippy::too_many_lines, reason = "one place for every item test kind")]
    pub(crate) fn item(
        &mut self,
        rule: usize,
        ctx: &ItemContext<'_>,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        let index = self.population;
        self.population += 1;
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        self.population_line(ctx, &mut line);
        self.hasher.update(line.as_bytes());
        self.hasher.update(b"\n");
        self.population_bytes += line.len() as u64 + 1;
        sink.population_line(self.rules.id(), &line)?;
        self.line = line;
        let event = ctx.event;
        let event_type = event.event_type().as_str();
        match self.by_type.get_mut(event_type) {
            Some(n) => *n += 1,
            None => {
                self.by_type.insert(event_type.to_owned(), 1);
            }
        }
        self.first_ts = Some(self.first_ts.map_or(ctx.ts, |t| t.min(ctx.ts)));
        self.last_ts = Some(self.last_ts.map_or(ctx.ts, |t| t.max(ctx.ts)));
        self.note_day(ctx.ts);
        // Built only where it is kept: a deferred test, a deviation (most items need neither).
        let item_ref = || ItemRef {
            index,
            cited: cite(ctx),
            ts: ctx.ts,
        };
        let rules = self.rules;
        let attrs = rules.attributes.len();
        // Attributes as bits (the rule compiler refuses controls with more than 64).
        let bit = |a: usize| {
            1_u64
                .checked_shl(u32::try_from(a).unwrap_or(u32::MAX))
                .unwrap_or(0)
        };
        let mut tested = 0_u64;
        let mut failures: Vec<(usize, String)> = Vec::new();
        let mut deferred: Vec<(usize, Pending)> = Vec::new();
        for (ti, test) in rules.item_tests.iter().enumerate() {
            if !test.types.is_empty() && !test.types.iter().any(|p| p.matches(event_type)) {
                continue;
            }
            let attribute = test.attribute;
            match &test.kind {
                ItemTestKind::RuleConditions => {
                    let Some(matcher) = rules.population.get(rule) else {
                        continue;
                    };
                    if matcher.tests.is_empty() {
                        continue;
                    }
                    let failed = unmet(event, &matcher.tests);
                    if !failed.is_empty() {
                        failures.push((attribute, format!("does not meet {}", failed.join(", "))));
                    }
                }
                ItemTestKind::Fields { all, any, distinct } => {
                    let mut reasons = unmet(event, all);
                    if !any.is_empty() && !any.iter().any(|c| fields::holds(event, c)) {
                        reasons.push(format!(
                            "none of {}",
                            any.iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    for (a, b) in distinct {
                        match (text_of(event, a), text_of(event, b)) {
                            (Some(x), Some(y)) if x != y => {}
                            (Some(x), Some(_)) => reasons.push(format!("{a} and {b} are both {x}")),
                            _ => reasons.push(format!("{a} or {b} is missing")),
                        }
                    }
                    if !reasons.is_empty() {
                        failures.push((attribute, format!("does not meet {}", reasons.join("; "))));
                    }
                }
                ItemTestKind::Before(spec) => {
                    let Some(JoinState::Before(index)) = self.joins.get(ti) else {
                        continue;
                    };
                    let reason = match join_key(event, &spec.on, true) {
                        None => Some(format!("cannot be joined: {}", describe_key(spec, event))),
                        Some(key) => match index.get(&key) {
                            None => Some(format!(
                                "no earlier {} with {}",
                                describe_sources(spec),
                                describe_key(spec, event)
                            )),
                            Some(entry) => {
                                let mut problems = Vec::new();
                                if let Some(w) = spec.within_s
                                    && ctx.ts - entry.last_ts > w.saturating_mul(1_000_000)
                                {
                                    problems.push(format!(
                                        "the latest {} is more than {w} s earlier",
                                        describe_sources(spec)
                                    ));
                                }
                                for (i, (item_path, joined_path)) in spec.differ.iter().enumerate()
                                {
                                    match text_of(event, item_path) {
                                        None => problems
                                            .push(format!("it has no {item_path} to compare")),
                                        Some(mine) => {
                                            let values = entry
                                                .differ_values
                                                .get(i)
                                                .map(Vec::as_slice)
                                                .unwrap_or(&[]);
                                            if !values.iter().any(|v| *v != mine) {
                                                problems.push(format!(
                                                    "every joined {joined_path} equals its {item_path} ({mine})"
                                                ));
                                            }
                                        }
                                    }
                                }
                                if !entry.latest_failed.is_empty() {
                                    problems.push(format!(
                                        "the latest {} does not meet {}",
                                        describe_sources(spec),
                                        entry.latest_failed.join(", ")
                                    ));
                                }
                                (!problems.is_empty()).then(|| problems.join("; "))
                            }
                        },
                    };
                    if let Some(r) = reason {
                        failures.push((attribute, r));
                    }
                }
                ItemTestKind::After(spec) => match join_key(event, &spec.on, true) {
                    None => failures.push((
                        attribute,
                        format!("cannot be joined: {}", describe_key(spec, event)),
                    )),
                    Some(key) => {
                        let window = spec.within_s.or_else(|| {
                            spec.within_field
                                .as_ref()
                                .and_then(|f| fields::get(event, f))
                                .and_then(|f| f.as_text())
                                .and_then(|t| t.parse::<i64>().ok())
                                .filter(|s| *s > 0)
                        });
                        deferred.push((
                            ti,
                            Pending {
                                item: item_ref(),
                                key,
                                deadline: window
                                    .map(|w| ctx.ts.saturating_add(w.saturating_mul(1_000_000))),
                                generation: 0,
                                optional: Vec::new(),
                            },
                        ));
                    }
                },
                ItemTestKind::NoneAfter(spec) => match join_key(event, &spec.on, true) {
                    None => failures.push((
                        attribute,
                        format!("cannot be joined: {}", describe_key(spec, event)),
                    )),
                    Some(key) => deferred.push((
                        ti,
                        Pending {
                            item: item_ref(),
                            key,
                            deadline: None,
                            generation: 0,
                            optional: spec
                                .on_optional
                                .iter()
                                .map(|(p, _)| text_of(event, p))
                                .collect(),
                        },
                    )),
                },
                ItemTestKind::InConfiguration { field, list_field } => {
                    let value = text_of(event, field);
                    let list = self.config_lists.get(ti).and_then(Option::as_ref);
                    let reason = match (value, list) {
                        (None, _) => Some(format!("it has no {field}")),
                        (Some(_), None) => Some(format!(
                            "no configuration snapshot with {list_field} was captured before it"
                        )),
                        (Some(v), Some(list)) if !list.contains(&v) => Some(format!(
                            "{field} {v} is not in the configured {list_field} ({})",
                            list.join(", ")
                        )),
                        _ => None,
                    };
                    if let Some(r) = reason {
                        failures.push((attribute, r));
                    }
                }
            }
            tested |= bit(attribute);
        }
        let failed_attr = failures.iter().fold(0_u64, |m, (a, _)| m | bit(*a));
        for a in 0..attrs {
            if tested & bit(a) != 0
                && let Some(t) = self.attr_tested.get_mut(a)
            {
                *t += 1;
            }
            if failed_attr & bit(a) != 0
                && let Some(f) = self.attr_failed.get_mut(a)
            {
                *f += 1;
            }
        }
        if !failures.is_empty() && self.deviating.set(index) {
            self.deviating_items += 1;
        }
        if !failures.is_empty() {
            let item = item_ref();
            for (attribute, reason) in failures {
                self.record_item_deviation(&item, attribute, reason, sink)?;
            }
        }
        for (ti, pending) in deferred {
            if let Some(t) = rules.item_tests.get(ti)
                && failed_attr & bit(t.attribute) != 0
            {
                // Already failed this attribute; the deferred outcome cannot change it.
                self.deferred_failed.insert((index, t.attribute));
            }
            self.defer(ti, pending);
        }
        // The oldest of the recent items gives its buffers to the newest.
        let recent = if self.recent.len() == RECENT_ITEMS {
            self.recent.pop_front().map(|mut c| {
                recite(&mut c, ctx);
                c
            })
        } else {
            None
        };
        self.recent.push_back(recent.unwrap_or_else(|| cite(ctx)));
        self.period_item_tests(ctx, sink)
    }

    fn defer(&mut self, test: usize, mut pending: Pending) {
        match self.joins.get_mut(test) {
            Some(JoinState::After {
                slab,
                free,
                by_key,
                deadlines,
                generation,
            }) => {
                *generation += 1;
                pending.generation = *generation;
                let slot = match free.pop() {
                    Some(s) => s,
                    None => {
                        slab.push(None);
                        slab.len() - 1
                    }
                };
                if let Some(d) = pending.deadline {
                    deadlines.push(Reverse((d, slot, *generation)));
                }
                by_key
                    .entry(pending.key.clone())
                    .or_default()
                    .push((slot, *generation));
                if let Some(entry) = slab.get_mut(slot) {
                    *entry = Some(pending);
                }
            }
            Some(JoinState::NoneAfter(list)) => list.push(pending),
            _ => {}
        }
    }

    fn period_item_tests(
        &mut self,
        ctx: &ItemContext<'_>,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        let tests = &self.rules.period_tests;
        for (i, t) in tests.iter().enumerate() {
            match t {
                PeriodTest::MaxGap { attribute, seconds } => {
                    let last = self.max_gap_last.get(i).copied().flatten();
                    if let Some(last) = last
                        && ctx.ts / 1_000_000 - last / 1_000_000 > *seconds
                    {
                        let reason = format!(
                            "tenant {}: {} s between {} and {}",
                            ctx.tenant_path,
                            ctx.ts / 1_000_000 - last / 1_000_000,
                            micros_text(last),
                            ctx.text.timestamp
                        );
                        self.period_violation(i, *attribute, reason, sink)?;
                    }
                    if let Some(slot) = self.max_gap_last.get_mut(i) {
                        *slot = Some(ctx.ts);
                    }
                }
                PeriodTest::Increasing { attribute, field } => {
                    let value = match fields::get(ctx.event, field) {
                        Some(Field::Json(Value::Number(n))) => Some(n.as_f64()),
                        _ => None,
                    };
                    let last = self.increasing_last.get(i).copied().flatten();
                    match (value, last) {
                        (None, _) => {
                            let reason = format!("{} has no numeric {field}", ctx.text.event_id);
                            self.period_violation(i, *attribute, reason, sink)?;
                        }
                        (Some(v), Some(prev)) if v < prev => {
                            let reason = format!(
                                "{} has {field} {v}, less than the {prev} before it",
                                ctx.text.event_id
                            );
                            self.period_violation(i, *attribute, reason, sink)?;
                        }
                        _ => {}
                    }
                    if let (Some(v), Some(slot)) = (value, self.increasing_last.get_mut(i)) {
                        *slot = Some(v);
                    }
                }
                PeriodTest::Coverage { .. } | PeriodTest::Configuration { .. } => {}
            }
        }
        Ok(())
    }

    /// Appends the item's line of `population.jsonl` (without the newline) to `line`.
    fn population_line(&self, ctx: &ItemContext<'_>, line: &mut String) {
        let event = ctx.event;
        line.push('{');
        if let Some(actor) = event.actor_id() {
            line.push_str("\"actor_id\":");
            write_string(actor, line);
            line.push(',');
        }
        line.push_str("\"event_id\":");
        write_plain(ctx.text.event_id, line);
        line.push_str(",\"event_type\":");
        write_plain(event.event_type().as_str(), line);
        self.write_projection(event, line);
        let model = fields::model_ref(event);
        if let Some(name) = model.names().next() {
            line.push_str(",\"model\":");
            write_string(name, line);
        }
        if ctx.include_text {
            line.push_str(",\"payload\":");
            write_value(event.payload(), line);
        }
        // Writing into a String cannot fail.
        let _ = write!(line, ",\"seq\":{},\"tenant\":", ctx.seq);
        write_string(ctx.tenant_path, line);
        line.push_str(",\"timestamp\":");
        write_plain(ctx.text.timestamp, line);
        if let Some(trace) = ctx.text.trace_id {
            line.push_str(",\"trace_id\":");
            write_plain(trace, line);
        }
        line.push('}');
    }

    /// Appends `,"fields":{...}` with the fields the control's rules read (in path order),
    /// when the event has any of them; large structures are not copied.
    fn write_projection(&self, event: &Event, line: &mut String) {
        let mut first = true;
        for (path, parsed) in &self.projected {
            let field = match fields::get(event, parsed) {
                Some(Field::Json(Value::Object(_)) | Field::Opaque) | None => continue,
                Some(Field::Json(Value::Array(items))) if items.len() > 32 => continue,
                Some(field) => field,
            };
            line.push_str(if first { ",\"fields\":{" } else { "," });
            first = false;
            write_string(path, line);
            line.push(':');
            match field {
                Field::Str(s) => write_string(s, line),
                Field::Json(v) => write_value(v, line),
                Field::Opaque => {}
            }
        }
        if !first {
            line.push('}');
        }
    }
}

/// Overwrites `cited` with the item of `ctx`, reusing its strings.
fn recite(cited: &mut CitedEvent, ctx: &ItemContext<'_>) {
    let set = |s: &mut String, v: &str| {
        s.clear();
        s.push_str(v);
    };
    set(&mut cited.tenant, ctx.tenant_path);
    cited.seq = ctx.seq;
    set(&mut cited.event_id, ctx.text.event_id);
    set(&mut cited.event_type, ctx.event.event_type().as_str());
    set(&mut cited.timestamp, ctx.text.timestamp);
}

fn cite(ctx: &ItemContext<'_>) -> CitedEvent {
    CitedEvent {
        tenant: ctx.tenant_path.to_owned(),
        seq: ctx.seq,
        event_id: ctx.text.event_id.to_owned(),
        event_type: ctx.event.event_type().as_str().to_owned(),
        timestamp: ctx.text.timestamp.to_owned(),
    }
}

/// An instant in RFC 3339 form, for messages.
fn micros_text(micros: i64) -> String {
    spanforge_event::Timestamp::from_unix_micros(micros)
        .map(|t| t.as_str().to_owned())
        .unwrap_or_else(|_| format!("{micros} µs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projected_values_are_written_as_the_serde_json_form() {
        let samples = [
            r#"{"a":null,"b":true,"c":false,"d":"x\"y\\z\n","e":[],"f":{}}"#,
            r#"[0,-1,9223372036854775807,-9223372036854775808,18446744073709551615]"#,
            r#"[0.5,-0.0,1.0,1e16,1e-7,123456.789,1.7976931348623157e308,5e-324]"#,
            r#"{"nested":{"list":[{"k":"é 中 🙂"},[1,[2,[3]]]],"z":"\u0001"},"Z":1,"é":2}"#,
            r#""plain string""#,
        ];
        for text in samples {
            let value = spanforge_event::json::parse(text).unwrap();
            let mut direct = String::new();
            write_value(&value, &mut direct);
            assert_eq!(direct, crate::json::compact(&to_serde(&value)), "{text}");
        }
    }
}
