//! The assessment: verify the ledger, anchor it to signed checkpoints, stream each tenant's
//! events once through per-control accumulators, and conclude per control and per framework
//! node.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError, mpsc};

use foldhash::HashMap;
use rayon::prelude::*;
use serde::Serialize;
use spanforge_catalog::FrameworkId;
use spanforge_chain::checkpoint::SignedCheckpoint;
use spanforge_event::{Event, Timestamp};
use spanforge_store::{
    Backend, EventPage, KeyProvider, Ledger, LedgerReport, Query, QueryPages, TenantId,
    VerifyOptions,
};

use crate::accumulator::{
    CitedEvent, ControlAcc, Deviation, EventText, EvidenceSink, ItemContext, selects,
};
use crate::conclusion::{Conclusion, DeviationPolicy, Facts, decide};
use crate::coverage::{CoverageResult, LOOKBACK_DAYS, judge};
use crate::error::{Error, Result};
use crate::fields::model_matches;
use crate::framework::{self, NodeResult};
use crate::period::{MICROS_PER_DAY, Period};
use crate::rules::{Hook, ItemTestKind, PeriodTest, RuleSet};
use crate::sampling::{SampleTable, Selection, select};

/// Days after the period during which events are still read as join partners (an alert raised
/// on the last day and acknowledged the next morning), never as population items.
pub const LOOKAHEAD_DAYS: i64 = 7;

/// Events parsed together (in parallel) before they are fed to the accumulators in order.
const BATCH: usize = 4096;
/// Pages of rows the reader and the feeder pass around (see `read_tenant`).
const PAGES_IN_FLIGHT: usize = 4;
/// Rows a query window should hold; windows grow or shrink to stay near it.
const WINDOW_ROWS: usize = 4096;
/// The first query window: one hour.
const WINDOW_START_MICROS: i64 = 3_600_000_000;
/// The smallest window: one second.
const WINDOW_MIN_MICROS: i64 = 1_000_000;
/// The largest window: thirty days.
const WINDOW_MAX_MICROS: i64 = 30 * MICROS_PER_DAY;

/// Which canonical controls an assessment evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlScope {
    /// The controls mapped to the framework, plus those answering the guide's auditor
    /// questions (the report answers all eight for every framework).
    Framework,
    /// Every canonical control (readiness).
    All,
}

/// What to assess.
#[derive(Clone, Debug)]
pub struct AssessmentRequest {
    /// The framework whose nodes are concluded on.
    pub framework: FrameworkId,
    /// The period (whole UTC days, `to` included).
    pub period: Period,
    /// Only events about this model (events naming no model concern the whole organisation
    /// and are kept).
    pub model_id: Option<String>,
    /// Only this tenant (org id); every tenant when `None`.
    pub org: Option<String>,
    /// Census (`None`) or a deterministic sample with this table.
    pub sampling: Option<SampleTable>,
    /// Include each population item's payload (prompt and output text included).
    pub include_text: bool,
    /// Controls scoped out, with the reason.
    pub not_applicable: BTreeMap<String, String>,
    /// The instant the assessment runs (microseconds since the epoch); the period must have
    /// ended before it.
    pub now_micros: i64,
    /// Which controls to evaluate.
    pub scope: ControlScope,
    /// When deviations are systematic.
    pub policy: DeviationPolicy,
    /// Sign a checkpoint of every tenant in scope and bound the populations by it (packages);
    /// without it, the populations are bounded by the verified tree sizes (gap reports).
    pub anchor: bool,
    /// Signed checkpoint notes kept outside the database, compared during verification.
    pub external_checkpoints: Vec<String>,
}

impl AssessmentRequest {
    /// A census of every tenant for `framework` over `period`, run at `now_micros`, anchored
    /// to signed checkpoints.
    pub fn new(framework: FrameworkId, period: Period, now_micros: i64) -> Self {
        Self {
            framework,
            period,
            model_id: None,
            org: None,
            sampling: None,
            include_text: false,
            not_applicable: BTreeMap::new(),
            now_micros,
            scope: ControlScope::Framework,
            policy: DeviationPolicy::default(),
            anchor: true,
            external_checkpoints: Vec::new(),
        }
    }

    /// Restricts the assessment to one model.
    #[must_use]
    pub fn with_model(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = Some(model_id.into());
        self
    }

    /// Restricts the assessment to one tenant.
    #[must_use]
    pub fn with_org(mut self, org: impl Into<String>) -> Self {
        self.org = Some(org.into());
        self
    }

    /// Samples instead of a census.
    #[must_use]
    pub fn with_sampling(mut self, table: SampleTable) -> Self {
        self.sampling = Some(table);
        self
    }

    /// Scopes a control out, with the reason.
    #[must_use]
    pub fn with_not_applicable(mut self, control: &str, reason: &str) -> Self {
        self.not_applicable
            .insert(control.to_owned(), reason.to_owned());
        self
    }

    /// Evaluates every control, not only those of the framework.
    #[must_use]
    pub fn with_scope(mut self, scope: ControlScope) -> Self {
        self.scope = scope;
        self
    }

    /// Turns checkpoint anchoring off (no signing key needed).
    #[must_use]
    pub fn unanchored(mut self) -> Self {
        self.anchor = false;
        self
    }
}

/// One tenant in the assessment.
#[derive(Clone, Debug, Serialize)]
pub struct TenantScope {
    /// The tenant.
    pub tenant: TenantId,
    /// Its origin path (`org/acme`), as population listings name it.
    pub path: String,
    /// Its checkpoint origin.
    pub origin: String,
    /// Events of its chain the assessment may read (positions `0..size`).
    pub size: u64,
    /// The signed checkpoint the populations are bounded by (anchored assessments).
    #[serde(skip)]
    pub checkpoint: Option<SignedCheckpoint>,
    /// Events read from the tenant's stream (period, look-back and look-ahead).
    pub events_read: u64,
}

/// The result of one period-level check of an attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeriodCheck {
    /// What was checked.
    pub method: String,
    /// Whether it passed.
    pub passed: bool,
    /// How many violations (for gap and ordering checks).
    pub violations: u64,
    /// The first violations, in words.
    pub listed: Vec<String>,
}

/// One test attribute's results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttributeResult {
    /// The catalog's attribute id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it checks, in words.
    pub test: String,
    /// The machine tests bound to it (empty: a person tests it).
    pub methods: Vec<String>,
    /// `pass`, `fail`, `manual` (no machine test) or `not-tested` (nothing to test).
    pub status: String,
    /// Items tested.
    pub tested: u64,
    /// Items that failed.
    pub failed: u64,
    /// Period-level checks.
    pub period_checks: Vec<PeriodCheck>,
}

/// Configuration snapshots seen for a control that needs one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigurationResult {
    /// Snapshots in the period that meet the rule.
    pub in_period_meeting_rule: u64,
    /// Snapshots in the period that do not.
    pub in_period_failing_rule: u64,
    /// Snapshots before the period.
    pub before_period: u64,
    /// Why snapshots failed.
    pub failures: Vec<String>,
}

/// The conclusion on one canonical control for the period, with everything it rests on.
#[derive(Clone, Debug, Serialize)]
pub struct ControlResult {
    /// Canonical control id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Objective.
    pub objective: String,
    /// Guide domain.
    pub domain: String,
    /// Operating frequency.
    pub frequency: String,
    /// Automation level.
    pub automation: String,
    /// The conclusion.
    pub conclusion: Conclusion,
    /// Why, in words.
    pub reason: String,
    /// The role whose events form the population.
    pub population_role: Option<String>,
    /// Population items in the period.
    pub population: u64,
    /// SHA-256 (hex) of `population.jsonl`.
    pub population_sha256: String,
    /// Size of `population.jsonl` in bytes.
    pub population_bytes: u64,
    /// Items per event type.
    pub population_by_type: BTreeMap<String, u64>,
    /// Timestamp of the first item.
    pub first_item: Option<String>,
    /// Timestamp of the last item.
    pub last_item: Option<String>,
    /// How tested items were chosen.
    pub selection: Selection,
    /// Deviations the conclusion counts (in the sample when sampling).
    pub deviations_counted: u64,
    /// Items with at least one failed attribute (whole population).
    pub deviating_items: u64,
    /// Exception-role events in the period.
    pub exception_events: u64,
    /// Period-level test violations.
    pub period_violations: u64,
    /// Every deviation recorded (also listed in `exceptions.jsonl`).
    pub deviations_total: u64,
    /// The first deviations (at most 100), each cited with a proof.
    pub deviations: Vec<Deviation>,
    /// Attribute results.
    pub attributes: Vec<AttributeResult>,
    /// Period coverage.
    pub coverage: CoverageResult,
    /// Configuration snapshots, for controls that need one.
    pub configuration: Option<ConfigurationResult>,
    /// The most recent population items.
    pub recent: Vec<CitedEvent>,
    /// Documents an auditor also expects.
    pub documents: Vec<String>,
    /// Event types and conditions that make up the evidence, in words.
    pub evidence_rules: Vec<String>,
    /// What to do next.
    pub remediation: Vec<String>,
    /// Framework nodes of the assessed framework this control maps to.
    pub maps_to: Vec<String>,
    /// Guide questions (1–8) the control answers.
    pub questions: Vec<u8>,
    /// Readiness-checklist items the control satisfies.
    pub checklist: Vec<String>,
    /// Whether the deviating bitset marks sampled item positions (used by the package writer).
    #[serde(skip)]
    pub(crate) sampled_deviating: Vec<u64>,
}

/// The full result of an assessment.
#[derive(Clone, Debug, Serialize)]
pub struct Assessment {
    /// The framework.
    pub framework: FrameworkId,
    /// The period.
    #[serde(serialize_with = "serialize_period")]
    pub period: Period,
    /// The model filter.
    pub model_id: Option<String>,
    /// The tenant filter.
    pub org: Option<String>,
    /// Census or sample.
    pub sampling: Option<SampleTable>,
    /// Whether populations include payload text.
    pub include_text: bool,
    /// Tenants in scope.
    pub tenants: Vec<TenantScope>,
    /// The ledger verification the assessment rests on.
    pub verification: LedgerReport,
    /// Per-control results, in catalog order.
    pub controls: Vec<ControlResult>,
    /// Per-node status of the framework, in catalog order.
    pub nodes: Vec<NodeResult>,
    /// Revision and hash of the attribute-test data.
    pub rules_version: u32,
    /// SHA-256 of the attribute-test data.
    pub rules_hash: String,
    /// The deviation policy.
    pub policy: DeviationPolicy,
}

fn serialize_period<S: serde::Serializer>(
    p: &Period,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(2))?;
    map.serialize_entry("from", &p.from().to_string())?;
    map.serialize_entry("to", &p.to().to_string())?;
    map.end()
}

impl Assessment {
    /// A control result by id.
    pub fn control(&self, id: &str) -> Option<&ControlResult> {
        self.controls.iter().find(|c| c.id == id)
    }

    /// Every event the results cite individually (deviations and recent items), sorted.
    pub fn cited_events(&self) -> BTreeSet<CitedEvent> {
        let mut out = BTreeSet::new();
        for c in &self.controls {
            out.extend(c.deviations.iter().filter_map(|d| d.event.clone()));
            out.extend(c.recent.iter().cloned());
        }
        out
    }
}

fn integrity_summary(report: &LedgerReport) -> Option<String> {
    let mut problems = Vec::new();
    for t in &report.tenants {
        if t.valid {
            continue;
        }
        let mut parts = Vec::new();
        if t.tampered_count > 0 {
            parts.push(format!(
                "{} tampered event(s), first {}",
                t.tampered_count,
                t.first_tampered.as_deref().unwrap_or("(unknown)")
            ));
            if let Some(first) = t.tampered.first() {
                parts.push(format!("{}: {}", first.event_id, first.reasons.join("; ")));
            }
        }
        if t.gap_count > 0 {
            parts.push(format!("{} chain gap(s)", t.gap_count));
        }
        parts.extend(t.problems.iter().cloned());
        problems.push(format!("tenant {}: {}", t.tenant, parts.join("; ")));
    }
    for c in &report.checkpoints {
        if !matches!(
            c.status,
            spanforge_store::CheckpointStatus::Consistent
                | spanforge_store::CheckpointStatus::NotChecked
        ) {
            problems.push(format!(
                "checkpoint {} of size {}: {:?}{}",
                c.origin.as_deref().unwrap_or("(unreadable)"),
                c.size.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                c.status,
                c.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
    }
    problems.extend(report.problems.iter().cloned());
    if problems.is_empty() && !report.valid {
        problems.push("the verification report is not valid".to_owned());
    }
    (!problems.is_empty()).then(|| problems.join(" | "))
}

fn verify<B: Backend>(
    ledger: &Ledger<B>,
    keys: &dyn KeyProvider,
    req: &AssessmentRequest,
    single: Option<&TenantId>,
    checkpoints: &[String],
) -> Result<LedgerReport> {
    let mut opts = VerifyOptions::new();
    if let Some(t) = single {
        opts = opts.only_tenant(t.clone());
    }
    opts.checkpoints = req.external_checkpoints.clone();
    opts.checkpoints.extend(checkpoints.iter().cloned());
    let report = ledger
        .verify(keys, &opts)
        .map_err(|e| Error::store("verifying the ledger", e))?;
    match integrity_summary(&report) {
        Some(summary) => Err(Error::LedgerIntegrity { summary }),
        None => Ok(report),
    }
}

/// Verifies the ledger, anchors the tenants in scope and evaluates every control in scope,
/// writing population and exception lines to `sink`.
///
/// # Errors
///
/// [`Error::PeriodOpen`] when the period has not ended, [`Error::UnknownTenant`],
/// [`Error::LedgerIntegrity`] when verification finds any problem (nothing is evaluated then),
/// [`Error::NoCheckpointSigner`] for an anchored assessment without a signing key, and ledger,
/// event or sink errors.
pub fn assess<B: Backend>(
    ledger: &mut Ledger<B>,
    keys: &dyn KeyProvider,
    rules: &RuleSet,
    req: &AssessmentRequest,
    sink: &mut (dyn EvidenceSink + Send),
) -> Result<Assessment> {
    let period = req.period;
    if req.now_micros <= period.end_micros() {
        return Err(Error::PeriodOpen {
            period_end: period.end_rfc3339(),
            now: Timestamp::from_unix_micros(req.now_micros)
                .map(|t| t.as_str().to_owned())
                .unwrap_or_else(|_| req.now_micros.to_string()),
        });
    }
    if let Some(model) = &req.model_id
        && model.trim().is_empty()
    {
        return Err(Error::invalid("model id", "it is empty"));
    }
    for id in req.not_applicable.keys() {
        if rules.control(id).is_none() {
            return Err(Error::invalid(
                "not-applicable control",
                format!("{id} is not a canonical control"),
            ));
        }
    }
    let all = ledger
        .tenants()
        .map_err(|e| Error::store("listing tenants", e))?;
    let tenants: Vec<TenantId> = match &req.org {
        Some(org) => {
            let t = TenantId::org(org.clone()).map_err(|e| Error::invalid("org", e.to_string()))?;
            if !all.iter().any(|s| s.tenant == t) {
                return Err(Error::UnknownTenant {
                    tenant: org.clone(),
                });
            }
            vec![t]
        }
        None => all.iter().map(|s| s.tenant.clone()).collect(),
    };
    let single = req.org.as_ref().and(tenants.first());

    // Integrity first: nothing is evaluated, signed or written on a ledger that fails.
    let mut report = verify(ledger, keys, req, single, &[])?;
    let mut scopes = Vec::new();
    let mut notes = Vec::new();
    let mut grew = false;
    for t in &tenants {
        let (verified, verified_root) = report
            .tenants
            .iter()
            .find(|r| &r.tenant == t)
            .map_or((0, String::new()), |r| (r.size, r.root.clone()));
        let mut scope = TenantScope {
            tenant: t.clone(),
            path: t.origin_path(),
            origin: ledger.origin(t),
            size: verified,
            checkpoint: None,
            events_read: 0,
        };
        if req.anchor {
            if keys.checkpoint_signer().is_none() {
                return Err(Error::NoCheckpointSigner);
            }
            let cp = ledger.checkpoint(keys, t).map_err(|e| match e {
                spanforge_store::Error::TreeState { .. } => Error::LedgerIntegrity {
                    summary: e.to_string(),
                },
                other => Error::store(format!("checkpointing tenant {t}"), other),
            })?;
            scope.size = cp.checkpoint().size();
            // The checkpoint must sign exactly the tree just verified; if events arrived in
            // between (or the roots differ), verify again against the checkpoint.
            grew |= scope.size != verified || cp.checkpoint().root().to_hex() != verified_root;
            notes.push(cp.to_string());
            scope.checkpoint = Some(cp);
        }
        scopes.push(scope);
    }
    if grew {
        report = verify(ledger, keys, req, single, &notes)?;
    }

    let mut evaluator = Evaluator::new(rules, req);
    for scope in &mut scopes {
        evaluator.run_tenant(ledger, scope, sink)?;
    }
    let controls = evaluator.finish();
    let nodes = framework::node_results(req.framework, &controls);
    Ok(Assessment {
        framework: req.framework,
        period,
        model_id: req.model_id.clone(),
        org: req.org.clone(),
        sampling: req.sampling,
        include_text: req.include_text,
        tenants: scopes,
        verification: report,
        controls,
        nodes,
        rules_version: rules.data_version(),
        rules_hash: rules.data_hash().to_owned(),
        policy: req.policy,
    })
}

/// The controls in scope for a request.
pub fn controls_in_scope(
    rules: &RuleSet,
    framework: FrameworkId,
    scope: ControlScope,
) -> Vec<bool> {
    let registry = spanforge_catalog::registry();
    rules
        .controls()
        .iter()
        .map(|c| match scope {
            ControlScope::All => true,
            ControlScope::Framework => {
                registry
                    .mappings_from(c.id())
                    .any(|m| m.framework == framework)
                    || !c.control.guide.questions.is_empty()
            }
        })
        .collect()
}

struct Evaluator<'r> {
    rules: &'r RuleSet,
    req: &'r AssessmentRequest,
    in_scope: Vec<bool>,
    hooks: HashMap<String, Vec<Hook>>,
    groups: Vec<Group<'r>>,
}

/// A share of the controls in scope. Controls are independent of each other, so the groups
/// are fed the same batch of events in parallel; within a group every control still sees every
/// event of a tenant once, in ledger order, so results do not depend on how many groups there
/// are (the test `the_package_does_not_depend_on_the_number_of_threads` checks it).
struct Group<'r> {
    /// Indexed like the rule set's controls; `Some` for this group's controls only.
    accs: Vec<Option<ControlAcc<'r>>>,
    with_deadlines: Vec<usize>,
    last_item: Vec<Option<u64>>,
}

/// Bytes of lines a group keeps per control and file before handing them to the shared sink.
const SINK_CHUNK: usize = 1 << 16;

/// The lines of one group's controls, buffered per control and file and handed to the shared
/// sink a chunk at a time: one lock per chunk instead of one per line, and each control's lines
/// stay in order because only its group writes them.
struct ChunkSink<'a, 's> {
    shared: &'a Mutex<&'s mut (dyn EvidenceSink + Send)>,
    /// Per control id: population lines, exception lines.
    buffers: HashMap<String, [String; 2]>,
}

impl<'a, 's> ChunkSink<'a, 's> {
    fn new(shared: &'a Mutex<&'s mut (dyn EvidenceSink + Send)>) -> Self {
        Self {
            shared,
            buffers: HashMap::default(),
        }
    }

    fn push(&mut self, control: &str, file: usize, line: &str) -> Result<()> {
        if !self.buffers.contains_key(control) {
            self.buffers.insert(control.to_owned(), Default::default());
        }
        let Some(buf) = self
            .buffers
            .get_mut(control)
            .and_then(|files| files.get_mut(file))
        else {
            return Ok(());
        };
        buf.push_str(line);
        buf.push('\n');
        if buf.len() >= SINK_CHUNK {
            hand_over(self.shared, control, file, buf)?;
            buf.clear();
        }
        Ok(())
    }

    /// Hands every buffered line to the shared sink.
    fn flush(&mut self) -> Result<()> {
        for (control, files) in &mut self.buffers {
            for (file, buf) in files.iter_mut().enumerate() {
                if !buf.is_empty() {
                    hand_over(self.shared, control, file, buf)?;
                    buf.clear();
                }
            }
        }
        Ok(())
    }
}

fn hand_over(
    shared: &Mutex<&mut (dyn EvidenceSink + Send)>,
    control: &str,
    file: usize,
    lines: &str,
) -> Result<()> {
    // A poisoned lock means another group panicked; that panic is re-raised when its thread
    // is joined, so the sink itself is still usable here.
    let mut sink = shared.lock().unwrap_or_else(PoisonError::into_inner);
    if file == 0 {
        sink.population_lines(control, lines)
    } else {
        sink.exception_lines(control, lines)
    }
}

impl EvidenceSink for ChunkSink<'_, '_> {
    fn population_line(&mut self, control: &str, line: &str) -> Result<()> {
        self.push(control, 0, line)
    }

    fn exception_line(&mut self, control: &str, line: &str) -> Result<()> {
        self.push(control, 1, line)
    }
}

impl<'r> Evaluator<'r> {
    fn new(rules: &'r RuleSet, req: &'r AssessmentRequest) -> Self {
        let in_scope = controls_in_scope(rules, req.framework, req.scope);
        let n = rules.controls().len();
        let active: Vec<usize> = (0..n)
            .filter(|i| in_scope.get(*i).copied().unwrap_or(false))
            .collect();
        // A few groups per thread, so that work stealing evens out controls of unequal cost.
        let count = (rayon::current_num_threads() * 4).clamp(1, active.len().max(1));
        let mut groups: Vec<Group<'r>> = (0..count)
            .map(|_| Group {
                accs: (0..n).map(|_| None).collect(),
                with_deadlines: Vec::new(),
                last_item: vec![None; n],
            })
            .collect();
        for (k, &ci) in active.iter().enumerate() {
            let (Some(group), Some(control)) =
                (groups.get_mut(k % count), rules.controls().get(ci))
            else {
                continue;
            };
            if let Some(slot) = group.accs.get_mut(ci) {
                *slot = Some(ControlAcc::new(control, req.period));
            }
            if control
                .item_tests
                .iter()
                .any(|t| matches!(t.kind, ItemTestKind::After(_)))
            {
                group.with_deadlines.push(ci);
            }
        }
        Self {
            rules,
            req,
            in_scope,
            hooks: HashMap::default(),
            groups,
        }
    }

    /// Streams one tenant through every control: this thread reads the rows while another
    /// parses them (on the pool) and feeds the groups (in parallel), batch by batch.
    fn run_tenant<B: Backend>(
        &mut self,
        ledger: &Ledger<B>,
        scope: &mut TenantScope,
        sink: &mut (dyn EvidenceSink + Send),
    ) -> Result<()> {
        for group in &mut self.groups {
            for acc in group.accs.iter_mut().flatten() {
                acc.begin_tenant(&scope.path);
            }
            group.last_item.iter_mut().for_each(|l| *l = None);
        }
        let req = self.req;
        let shared = Mutex::new(sink);
        // At most four batches exist at once: one being fed, one being parsed, one queued and
        // one being read.
        let (full_tx, full_rx) = mpsc::sync_channel::<EventPage>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<EventPage>();
        let path = scope.path.as_str();
        let shared_sink = &shared;
        let (read, fed) = std::thread::scope(|s| {
            let feeder = s.spawn(move || self.feed_batches(path, full_rx, empty_tx, shared_sink));
            let read = read_tenant(ledger, &scope.tenant, scope.size, req, &full_tx, &empty_rx);
            drop(full_tx);
            (read, feeder.join())
        });
        let fed = fed.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        read?;
        scope.events_read += fed?;
        Ok(())
    }

    /// The feeding side of [`Evaluator::run_tenant`]: returns the events fed.
    ///
    /// Two batches are in flight: while the groups are fed batch k (each group on its own, in
    /// parallel), batch k+1 is parsed, so that neither step waits for the other's slowest
    /// part. The hooks of an event type are looked up once, between the two steps.
    fn feed_batches(
        &mut self,
        tenant_path: &str,
        full: mpsc::Receiver<EventPage>,
        empty: mpsc::Sender<EventPage>,
        shared: &Mutex<&mut (dyn EvidenceSink + Send)>,
    ) -> Result<u64> {
        let Self {
            rules,
            req,
            in_scope,
            hooks,
            groups,
        } = self;
        let (rules, req) = (*rules, *req);
        let mut sinks: Vec<ChunkSink<'_, '_>> =
            groups.iter().map(|_| ChunkSink::new(shared)).collect();
        let mut fed = 0_u64;
        let mut incoming = full.iter();
        let mut parsed: Option<Parsed> = None;
        // Parsed events are written straight into a reused vector, never moved after parsing.
        let mut spare: Vec<Result<Event>> = Vec::new();
        // The items of a batch, likewise in one reused vector (a new one per batch was ~0.5 MB
        // of fresh memory each time).
        let mut spare_items: Vec<Item<'static>> = Vec::new();
        loop {
            let next = incoming.next();
            if next.is_none() && parsed.is_none() {
                break;
            }
            let hooks_now: &HashMap<String, Vec<Hook>> = hooks;
            let mut into = std::mem::take(&mut spare);
            let (next, done) = rayon::join(
                || -> Result<Option<Parsed>> {
                    let Some(batch) = next else {
                        return Ok(None);
                    };
                    parse_batch(&batch, &mut into)?;
                    Ok(Some((batch, into)))
                },
                || -> Result<Option<(u64, Parsed)>> {
                    let Some((batch, mut events)) = parsed.take() else {
                        return Ok(None);
                    };
                    let n = feed_groups(
                        groups,
                        &mut sinks,
                        rules,
                        req,
                        tenant_path,
                        hooks_now,
                        &batch,
                        &events,
                        &mut spare_items,
                    )?;
                    // Freed here, on the pool, while the next batch is still being parsed.
                    events.clear();
                    Ok(Some((n, (batch, events))))
                },
            );
            if let Some((n, (batch, events))) = done? {
                fed += n;
                spare = events;
                // The reader empties it for reuse (off this thread, which the pool waits on);
                // if the reader has finished, the batch is simply dropped.
                let _ = empty.send(batch);
            }
            parsed = next?;
            if let Some((_, events)) = &parsed {
                for event in events.iter().flatten() {
                    let event_type = event.event_type().as_str();
                    if !hooks.contains_key(event_type) {
                        hooks.insert(event_type.to_owned(), rules.hooks_for(event_type, in_scope));
                    }
                }
            }
        }
        for (group, sink) in groups.iter_mut().zip(&mut sinks) {
            for acc in group.accs.iter_mut().flatten() {
                acc.end_tenant(sink)?;
            }
            sink.flush()?;
        }
        Ok(fed)
    }

    fn finish(self) -> Vec<ControlResult> {
        let registry = spanforge_catalog::registry();
        let req = self.req;
        let mut accs: Vec<Option<ControlAcc<'r>>> = Vec::new();
        for group in self.groups {
            accs.resize_with(accs.len().max(group.accs.len()), || None);
            for (slot, acc) in accs.iter_mut().zip(group.accs) {
                if acc.is_some() {
                    *slot = acc;
                }
            }
        }
        let mut out = Vec::new();
        for acc in accs.into_iter().flatten() {
            let rules = acc.rules;
            let control = rules.control;
            let coverage = judge(rules.coverage, &req.period, &acc.days);
            let hash = acc.population_hash();
            let selection = match &req.sampling {
                None => Selection::Census {
                    population: acc.population,
                },
                Some(table) => select(
                    rules.id(),
                    &hash,
                    acc.population,
                    table.size(control.frequency, acc.population),
                ),
            };
            let sampled_deviating: Vec<u64> = selection
                .indices()
                .map(|idx| {
                    idx.iter()
                        .copied()
                        .filter(|i| acc.deviating.get(*i))
                        .collect()
                })
                .unwrap_or_default();
            let period_violations: u64 = acc.period_findings.iter().map(|f| f.violations).sum();
            let item_deviations = match selection {
                Selection::Census { .. } => acc.deviating_items,
                Selection::Sample { .. } => sampled_deviating.len() as u64,
            };
            let deviations_counted = item_deviations + acc.exception_events + period_violations;
            let needs_config = rules
                .period_tests
                .iter()
                .any(|t| matches!(t, PeriodTest::Configuration { .. }));
            let cfg = &acc.config;
            let configuration_missing =
                needs_config && cfg.in_period_ok + cfg.in_period_failed == 0;
            let facts = Facts {
                not_applicable: req.not_applicable.contains_key(rules.id()),
                manual: rules.is_manual(),
                population: acc.population,
                deviations: deviations_counted,
                sampled: matches!(selection, Selection::Sample { .. }),
                coverage: coverage.clone(),
                coverage_from_other_events: rules.coverage_events.is_some(),
                require_population: rules.require_population,
                configuration_missing,
                configuration_stale: configuration_missing && cfg.before_period > 0,
                configuration_failed: needs_config
                    && cfg.in_period_ok == 0
                    && cfg.in_period_failed > 0,
            };
            let (conclusion, mut reason) = decide(&facts, &req.policy);
            if let Some(why) = req.not_applicable.get(rules.id()) {
                reason = format!("scoped out: {why}");
            }
            let attributes = attribute_results(&acc, &coverage);
            let configuration = needs_config.then(|| ConfigurationResult {
                in_period_meeting_rule: cfg.in_period_ok,
                in_period_failing_rule: cfg.in_period_failed,
                before_period: cfg.before_period,
                failures: cfg.failed_reasons.clone(),
            });
            let maps_to: Vec<String> = registry
                .mappings_from(rules.id())
                .filter(|m| m.framework == req.framework)
                .map(|m| m.target_label())
                .collect();
            let mut result = ControlResult {
                id: control.id.clone(),
                title: control.title.clone(),
                objective: control.objective.clone(),
                domain: control.domain.to_string(),
                frequency: control.frequency.to_string(),
                automation: control.automation.to_string(),
                conclusion,
                reason,
                population_role: rules.population_role.map(|r| r.to_string()),
                population: acc.population,
                population_sha256: hex::encode(hash),
                population_bytes: acc.population_bytes,
                population_by_type: acc.by_type.clone(),
                first_item: acc
                    .first_ts
                    .and_then(|t| Timestamp::from_unix_micros(t).ok())
                    .map(|t| t.as_str().to_owned()),
                last_item: acc
                    .last_ts
                    .and_then(|t| Timestamp::from_unix_micros(t).ok())
                    .map(|t| t.as_str().to_owned()),
                selection,
                deviations_counted,
                deviating_items: acc.deviating_items,
                exception_events: acc.exception_events,
                period_violations,
                deviations_total: acc.deviations_total,
                deviations: acc.deviations.clone(),
                attributes,
                coverage,
                configuration,
                recent: acc.recent.iter().cloned().collect(),
                documents: control.documents.clone(),
                evidence_rules: control
                    .evidence
                    .iter()
                    .map(|r| {
                        let events: Vec<String> =
                            r.events.iter().map(ToString::to_string).collect();
                        let conditions: Vec<String> =
                            r.conditions.iter().map(ToString::to_string).collect();
                        if conditions.is_empty() {
                            format!("{} ({})", events.join(", "), r.role)
                        } else {
                            format!(
                                "{} ({}) where {}",
                                events.join(", "),
                                r.role,
                                conditions.join(", ")
                            )
                        }
                    })
                    .collect(),
                remediation: Vec::new(),
                maps_to,
                questions: control.guide.questions.clone(),
                checklist: control.guide.checklist.clone(),
                sampled_deviating,
            };
            result.remediation = crate::remediation::for_control(rules, &result, &req.period);
            out.push(result);
        }
        out
    }
}

/// A batch of stored rows and the result of parsing each, in row order.
type Parsed = (EventPage, Vec<Result<Event>>);

/// Parses a batch of stored events (on the pool) into `events`, one result per row in row
/// order; fails with the first row that does not parse.
fn parse_batch(batch: &EventPage, events: &mut Vec<Result<Event>>) -> Result<()> {
    (0..batch.len())
        .into_par_iter()
        .map(|i| {
            let row = batch.get(i).ok_or_else(|| {
                Error::invalid("a page of stored events", format!("it has no row {i}"))
            })?;
            Event::from_json_str_for_reading(row.envelope).map_err(|source| Error::Event {
                context: format!("parsing stored event {}", row.event_id),
                source,
            })
        })
        .collect_into_vec(events);
    match events.iter().position(Result::is_err) {
        Some(first) => match events.swap_remove(first) {
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        },
        None => Ok(()),
    }
}

/// One event of a batch as every group of controls sees it.
struct Item<'a> {
    /// The event's position in the tenant's chain.
    seq: u64,
    /// Its timestamp, microseconds since the epoch (the time index's column).
    ts: i64,
    event: &'a Event,
    text: EventText<'a>,
    /// The hooks of its event type, or none when it is outside the request's model filter.
    hooks: &'a [Hook],
}

/// Feeds a parsed batch to every group, the groups in parallel; returns the events fed.
#[allow(clippy::too_many_arguments)]
fn feed_groups(
    groups: &mut [Group<'_>],
    sinks: &mut [ChunkSink<'_, '_>],
    rules: &RuleSet,
    req: &AssessmentRequest,
    tenant_path: &str,
    hooks: &HashMap<String, Vec<Hook>>,
    batch: &EventPage,
    events: &[Result<Event>],
    spare_items: &mut Vec<Item<'static>>,
) -> Result<u64> {
    // `events` holds no error here: `parse_batch` fails on the first one. The model filter is
    // decided here, once per event, not once per group.
    let mut items = recycle(std::mem::take(spare_items));
    items.extend(
        batch
            .positions()
            .zip(events)
            .filter_map(|((seq, ts), event)| {
                let event = event.as_ref().ok()?;
                let in_filter = req
                    .model_id
                    .as_deref()
                    .is_none_or(|model| model_matches(event, model));
                let hooks = hooks
                    .get(event.event_type().as_str())
                    .filter(|_| in_filter)
                    .map_or(&[][..], Vec::as_slice);
                Some(Item {
                    seq,
                    ts,
                    event,
                    text: EventText::of(event),
                    hooks,
                })
            }),
    );
    let fed = groups
        .par_iter_mut()
        .zip(sinks.par_iter_mut())
        .try_for_each(|(group, sink)| {
            items
                .iter()
                .try_for_each(|item| group.feed(rules, req, tenant_path, item, sink))
        });
    let n = items.len() as u64;
    *spare_items = recycle(items);
    fed.map(|()| n)
}

/// Empties `items` and hands back its allocation for items of another lifetime: collecting an
/// emptied vector's iterator in place reuses its buffer (the element types have one layout).
#[allow(
    clippy::unnecessary_filter_map,
    reason = "the map changes the item type; `filter` would not"
)]
fn recycle<'a>(mut items: Vec<Item<'_>>) -> Vec<Item<'a>> {
    items.clear();
    items.into_iter().filter_map(|_| None).collect()
}

/// The reading side of [`Evaluator::run_tenant`]: the tenant's rows of the look-back, the
/// period and the look-ahead, in consecutive time windows (each one query, sized to hold a few
/// pages), sent in batches. Stops early, without error, when the feeder has stopped.
fn read_tenant<B: Backend>(
    ledger: &Ledger<B>,
    tenant: &TenantId,
    size: u64,
    req: &AssessmentRequest,
    full: &mpsc::SyncSender<EventPage>,
    empty: &mpsc::Receiver<EventPage>,
) -> Result<()> {
    let period = req.period;
    let from = period.start_micros() - i64::from(LOOKBACK_DAYS) * MICROS_PER_DAY;
    let to = period.end_micros() + LOOKAHEAD_DAYS * MICROS_PER_DAY;
    let ts = |m: i64| {
        Timestamp::from_unix_micros(m).map_err(|source| Error::Event {
            context: "building the query bounds".to_owned(),
            source,
        })
    };
    let mut window = WINDOW_START_MICROS;
    let mut start = from;
    // Pages come back from the feeder once fed and are refilled: reading allocates nothing
    // per event once their buffers have grown.
    let mut batch = EventPage::new();
    let mut made = 1;
    let window_query = |start: i64, end: i64| -> Result<Query> {
        Ok(Query {
            tenant: tenant.clone(),
            from: Some(ts(start)?),
            to: Some(ts(end)?),
            event_type_prefix: None,
            model_id: None,
            // Only the events of the verified tree, not any appended since.
            before_seq: Some(size),
        })
    };
    let querying = |e| Error::store(format!("querying tenant {tenant}"), e);
    // One reader for every window, so its buffers are reused too.
    let mut reader: Option<QueryPages<'_, B>> = None;
    while start <= to {
        let end = start.saturating_add(window - 1).min(to);
        let query = window_query(start, end)?;
        let pages = match &mut reader {
            Some(pages) => {
                pages.restart(&query).map_err(querying)?;
                pages
            }
            None => reader.insert(ledger.query_pages(&query).map_err(querying)?),
        };
        let mut in_window = 0_usize;
        loop {
            let read = pages
                .next_into(&mut batch)
                .map_err(|e| Error::store(format!("reading tenant {tenant}"), e))?;
            if read == 0 {
                break;
            }
            in_window += read;
            // Sent before another read could take it past `BATCH` events.
            if batch.len() + QueryPages::<B>::READ_ROWS > BATCH {
                // Four pages circulate (one being read, one queued, one being parsed, one being
                // fed); past that the reader waits for a fed one rather than growing a new page,
                // whose buffers would fault in fresh memory.
                let next = if made < PAGES_IN_FLIGHT {
                    made += 1;
                    EventPage::new()
                } else {
                    match empty.recv() {
                        Ok(mut used) => {
                            used.clear();
                            used
                        }
                        // The feeder has stopped.
                        Err(_) => return Ok(()),
                    }
                };
                if full.send(std::mem::replace(&mut batch, next)).is_err() {
                    return Ok(());
                }
            }
        }
        start = end.saturating_add(1);
        window = if in_window > WINDOW_ROWS * 2 {
            (window / 2).max(WINDOW_MIN_MICROS)
        } else if in_window < WINDOW_ROWS / 4 {
            window.saturating_mul(2).min(WINDOW_MAX_MICROS)
        } else {
            window
        };
    }
    if !batch.is_empty() {
        let _ = full.send(batch);
    }
    Ok(())
}

impl Group<'_> {
    /// Feeds one event to this group's controls, through `hooks`: those of its event type, or
    /// none when the event is outside the request's model filter (deadlines still advance).
    fn feed(
        &mut self,
        rules: &RuleSet,
        req: &AssessmentRequest,
        tenant_path: &str,
        item: &Item<'_>,
        sink: &mut dyn EvidenceSink,
    ) -> Result<()> {
        let Item {
            seq,
            ts,
            event,
            ref text,
            hooks,
        } = *item;
        for &ci in &self.with_deadlines {
            if let Some(Some(acc)) = self.accs.get_mut(ci) {
                acc.advance(ts, sink)?;
            }
        }
        let period = req.period;
        let in_period = period.contains_micros(ts);
        let before = ts < period.start_micros();
        let ctx = ItemContext {
            tenant_path,
            seq,
            ts,
            event,
            text,
            include_text: req.include_text,
        };
        let controls = rules.controls();
        for hook in hooks {
            match *hook {
                Hook::Population { control, rule } => {
                    let (Some(rules), Some(Some(acc))) =
                        (controls.get(control), self.accs.get_mut(control))
                    else {
                        continue;
                    };
                    let Some(matcher) = rules.population.get(rule) else {
                        continue;
                    };
                    if !selects(event, matcher)
                        || rules.exclude.iter().any(|c| crate::fields::holds(event, c))
                    {
                        continue;
                    }
                    if in_period {
                        let last = self.last_item.get_mut(control);
                        if let Some(last) = last {
                            if *last == Some(seq) {
                                continue;
                            }
                            *last = Some(seq);
                        }
                        acc.item(rule, &ctx, sink)?;
                    } else if before {
                        acc.note_day(ts);
                    }
                }
                Hook::Exception { control, rule } => {
                    let (Some(rules), Some(Some(acc))) =
                        (controls.get(control), self.accs.get_mut(control))
                    else {
                        continue;
                    };
                    if in_period
                        && rules
                            .exceptions
                            .get(rule)
                            .is_some_and(|m| selects(event, m))
                    {
                        acc.exception_event(&ctx, sink)?;
                    }
                }
                Hook::Configuration { control, rule } => {
                    let (Some(rules), Some(Some(acc))) =
                        (controls.get(control), self.accs.get_mut(control))
                    else {
                        continue;
                    };
                    if ts <= period.end_micros()
                        && rules
                            .configuration
                            .get(rule)
                            .is_some_and(|m| selects(event, m))
                    {
                        acc.configuration(rule, event, in_period, before);
                    }
                }
                Hook::Coverage { control } => {
                    if ts <= period.end_micros()
                        && let Some(Some(acc)) = self.accs.get_mut(control)
                    {
                        acc.note_day(ts);
                    }
                }
                Hook::JoinSource {
                    control,
                    test,
                    source,
                } => {
                    let (Some(rules), Some(Some(acc))) =
                        (controls.get(control), self.accs.get_mut(control))
                    else {
                        continue;
                    };
                    let selected = rules.item_tests.get(test).is_some_and(|t| match &t.kind {
                        ItemTestKind::Before(j)
                        | ItemTestKind::After(j)
                        | ItemTestKind::NoneAfter(j) => {
                            j.sources.get(source).is_some_and(|m| selects(event, m))
                        }
                        _ => false,
                    });
                    if selected {
                        acc.join_source(test, ts, event, sink)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn attribute_results(acc: &ControlAcc<'_>, coverage: &CoverageResult) -> Vec<AttributeResult> {
    let rules = acc.rules;
    rules
        .attributes
        .iter()
        .enumerate()
        .map(|(a, spec)| {
            let mut period_checks = Vec::new();
            for (i, t) in rules.period_tests.iter().enumerate() {
                if t.attribute() != a {
                    continue;
                }
                let findings = acc.period_findings.get(i);
                let (method, passed, violations, listed) = match t {
                    PeriodTest::Coverage { .. } => (
                        "period coverage at the control's frequency".to_owned(),
                        coverage.is_ok(),
                        0,
                        Vec::new(),
                    ),
                    PeriodTest::Configuration { .. } => (
                        "configuration snapshot in the period meeting the rule".to_owned(),
                        acc.config.in_period_ok > 0,
                        acc.config.in_period_failed,
                        acc.config.failed_reasons.clone(),
                    ),
                    PeriodTest::MaxGap { seconds, .. } => (
                        format!("consecutive items at most {seconds} s apart"),
                        findings.is_none_or(|f| f.violations == 0),
                        findings.map_or(0, |f| f.violations),
                        findings.map(|f| f.listed.clone()).unwrap_or_default(),
                    ),
                    PeriodTest::Increasing { field, .. } => (
                        format!("{field} never decreases"),
                        findings.is_none_or(|f| f.violations == 0),
                        findings.map_or(0, |f| f.violations),
                        findings.map(|f| f.listed.clone()).unwrap_or_default(),
                    ),
                };
                period_checks.push(PeriodCheck {
                    method,
                    passed,
                    violations,
                    listed,
                });
            }
            let tested = acc.attr_tested.get(a).copied().unwrap_or(0);
            let failed = acc.attr_failed.get(a).copied().unwrap_or(0);
            let status = if !spec.is_automated() {
                "manual"
            } else if failed > 0 || period_checks.iter().any(|c| !c.passed) {
                "fail"
            } else if tested > 0 || !period_checks.is_empty() {
                "pass"
            } else {
                "not-tested"
            };
            AttributeResult {
                id: spec.id.clone(),
                name: spec.name.clone(),
                test: spec.test.clone(),
                methods: spec.methods.clone(),
                status: status.to_owned(),
                tested,
                failed,
                period_checks,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_items_keep_their_buffer() {
        let event = Event::from_json_str(concat!(
            r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","#,
            r#""payload":{"ok":true},"schema_version":"2.0","source":"bot@1.0.0","#,
            r#""timestamp":"2026-01-03T10:00:01.250000Z"}"#
        ))
        .unwrap();
        let item = |seq| Item {
            seq,
            ts: 0,
            event: &event,
            text: EventText::of(&event),
            hooks: &[],
        };
        let items: Vec<Item<'_>> = (0..1000).map(item).collect();
        let (buffer, capacity) = (items.as_ptr() as usize, items.capacity());
        let recycled: Vec<Item<'static>> = recycle(items);
        assert!(recycled.is_empty());
        assert_eq!(recycled.capacity(), capacity);
        assert_eq!(recycled.as_ptr() as usize, buffer);
    }
}
