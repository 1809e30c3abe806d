//! A deterministic generator of realistic AI-event workloads (feature `testing`).
//!
//! [`Workload`] produces, for a number of days and tenants, the events an AI team instrumented
//! with SpanForge would emit: model calls with guard decisions and redactions, latency and
//! checkpoint heartbeats, daily chain verifications and backups, weekly isolation checks,
//! alerts, reviews and drift signals, monthly evaluations and credential rotations, quarterly
//! access reviews, and a model lifecycle (registrations, evaluations, approvals, deployments,
//! deprecation, retirement) in which chosen tenants deploy one version without approval. Every
//! payload of a type the reference SDK registers has the shape its payload class requires.
//!
//! The same workload always produces the same events, byte for byte (ids and timestamps come
//! from a seeded generator), so tests and benchmarks are reproducible.

use spanforge_event::json::{Map, Value};
use spanforge_event::{Event, EventBuilder, EventId, EventType, Source, Tags, Timestamp};
use spanforge_store::{Backend, KeyProvider, Ledger};

use crate::error::{Error, Result};
use crate::period::{Day, MICROS_PER_DAY};

/// The models the workload serves: id, provider, versions released over the period.
pub const MODELS: [(&str, &str, &[&str]); 2] = [
    ("support-bot", "openai", &["1.0", "1.1", "2.0"]),
    ("claims-llm", "anthropic", &["3.0", "3.1"]),
];

/// The asset classes reviewed each quarter.
const ASSET_CLASSES: [&str; 5] = [
    "models",
    "training_data",
    "prompt_logs",
    "api_keys",
    "vector_stores",
];

/// A deterministic workload description.
#[derive(Clone, Debug)]
pub struct Workload {
    /// First day.
    pub start: Day,
    /// Number of days.
    pub days: u32,
    /// Tenants (org ids), each with the same activity pattern.
    pub tenants: Vec<String>,
    /// Model calls per tenant per day.
    pub calls_per_day: u32,
    /// Seed of the id and choice generator.
    pub seed: u64,
    /// How many tenants (the first ones) deploy one model version without an approval.
    pub unapproved_deployments: usize,
}

/// SplitMix64: a small, fast, well-distributed generator for reproducible choices.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn chance(&mut self, per_thousand: u64) -> bool {
        self.below(1000) < per_thousand
    }
}

/// Events of one tenant-day under construction.
struct DayBuilder<'a> {
    org: &'a str,
    day: Day,
    rng: Rng,
    source: Source,
    events: Vec<(i64, Event)>,
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(*k, v.clone());
    }
    Value::Object(map)
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn int(n: i64) -> Value {
    Value::from(n)
}

fn float(x: f64) -> Value {
    Value::from(x)
}

impl DayBuilder<'_> {
    /// Adds an event at `second` of the day (plus a random sub-second part).
    fn push(
        &mut self,
        second: i64,
        event_type: &str,
        payload: Value,
        configure: impl FnOnce(EventBuilder) -> EventBuilder,
    ) -> Result<String> {
        let micros = self.day.start_micros()
            + second.clamp(0, 86_399) * 1_000_000
            + i64::try_from(self.rng.below(1_000_000)).unwrap_or(0);
        let event_type = EventType::parse(event_type).map_err(|source| Error::Event {
            context: format!("building a workload event of type {event_type}"),
            source,
        })?;
        let millis = u64::try_from(micros / 1000).unwrap_or(0);
        let random = (u128::from(self.rng.next()) << 16) | u128::from(self.rng.next() & 0xFFFF);
        let id = EventId::from_parts(millis, random).map_err(|source| Error::Event {
            context: "building a workload event id".to_owned(),
            source,
        })?;
        let ts = Timestamp::from_unix_micros(micros).map_err(|source| Error::Event {
            context: "building a workload timestamp".to_owned(),
            source,
        })?;
        let builder = EventBuilder::new(event_type, self.source.clone(), payload)
            .event_id(id)
            .timestamp(ts)
            .org_id(self.org);
        let event = configure(builder)
            .build_exact()
            .map_err(|source| Error::Event {
                context: "building a workload event".to_owned(),
                source,
            })?;
        let id = event.event_id().to_string();
        self.events.push((micros, event));
        Ok(id)
    }

    fn hex_id(&mut self, bytes: usize) -> String {
        let mut out = String::with_capacity(bytes * 2);
        while out.len() < bytes * 2 {
            out.push_str(&format!("{:016x}", self.rng.next()));
        }
        out.truncate(bytes * 2);
        out
    }
}

impl Workload {
    /// Two tenants (`acme`, `globex`), 200 calls per tenant per day, seed 7, and the first
    /// tenant deploying one version without approval.
    pub fn new(start: Day, days: u32) -> Self {
        Self {
            start,
            days,
            tenants: vec!["acme".to_owned(), "globex".to_owned()],
            calls_per_day: 200,
            seed: 7,
            unapproved_deployments: 1,
        }
    }

    /// Sets the number of model calls per tenant per day.
    #[must_use]
    pub fn with_calls_per_day(mut self, calls: u32) -> Self {
        self.calls_per_day = calls;
        self
    }

    /// Sets the tenants.
    #[must_use]
    pub fn with_tenants(mut self, tenants: &[&str]) -> Self {
        self.tenants = tenants.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// Sets how many tenants deploy one version without approval.
    #[must_use]
    pub fn with_unapproved_deployments(mut self, n: usize) -> Self {
        self.unapproved_deployments = n;
        self
    }

    /// Chooses calls per day so that the whole workload holds about `total` events.
    #[must_use]
    pub fn sized_for(mut self, total: u64) -> Self {
        let tenant_days = u64::from(self.days) * self.tenants.len().max(1) as u64;
        // About 3.1 events per call plus about 70 fixed events per tenant-day.
        let per_day = (total / tenant_days.max(1)).saturating_sub(70);
        self.calls_per_day = u32::try_from(per_day * 10 / 31).unwrap_or(u32::MAX).max(1);
        self
    }

    /// The last day of the workload.
    pub fn last_day(&self) -> Day {
        self.start
            .plus(i32::try_from(self.days).unwrap_or(i32::MAX) - 1)
    }

    /// The day index at which each lifecycle step happens.
    fn milestones(&self) -> [u32; 5] {
        let d = self.days.max(12);
        [0, d / 3, (2 * d) / 3, (5 * d) / 6, d.saturating_sub(5)]
    }

    /// The version of `model` (index into [`MODELS`]) deployed on day `day`.
    fn deployed_version(&self, model: usize, day: u32) -> &'static str {
        let m = self.milestones();
        match model {
            0 if day >= m[3] => "2.0",
            0 if day >= m[1] => "1.1",
            0 => "1.0",
            _ if day >= m[2] => "3.1",
            _ => "3.0",
        }
    }

    /// The events of one tenant on one day, in time order.
    ///
    /// # Errors
    ///
    /// Only if an event cannot be built, which would be a bug in the generator.
    pub fn events_for_day(&self, tenant: usize, day: u32) -> Result<Vec<Event>> {
        let org = self
            .tenants
            .get(tenant)
            .ok_or_else(|| Error::invalid("tenant index", "out of range"))?;
        let source = Source::parse("support-platform@4.2.0").map_err(|source| Error::Event {
            context: "parsing the workload source".to_owned(),
            source,
        })?;
        let mut b = DayBuilder {
            org,
            day: self.start.plus(i32::try_from(day).unwrap_or(0)),
            rng: Rng(self
                .seed
                .wrapping_mul(0x1000_0000_01B3)
                .wrapping_add((tenant as u64) << 32)
                .wrapping_add(u64::from(day))),
            source,
            events: Vec::new(),
        };
        self.fixed_events(&mut b, tenant, day)?;
        self.calls(&mut b, day)?;
        let mut events = b.events;
        events.sort_by_key(|(micros, _)| *micros);
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }

    fn calls(&self, b: &mut DayBuilder<'_>, day: u32) -> Result<()> {
        let calls = i64::from(self.calls_per_day.max(1));
        for i in 0..i64::from(self.calls_per_day) {
            // Calls start after the day's configuration snapshots and heartbeats.
            let second = 120 + i * (86_400 - 240) / calls;
            let model = usize::from(!b.rng.chance(700));
            let (name, provider, _) = MODELS[model];
            let version = self.deployed_version(model, day);
            let trace = b.hex_id(16);
            let span = b.hex_id(8);
            let user = format!("user-{}", b.rng.below(500));
            let failed = b.rng.chance(10);
            let blocked = b.rng.chance(20);
            let pii = b.rng.chance(30);
            let start_ns = u64::try_from(b.day.start_micros() + second * 1_000_000)
                .unwrap_or(0)
                .saturating_mul(1000);
            let duration_ms = 200 + b.rng.below(1800);
            let input_tokens = 50 + b.rng.below(900);
            let output_tokens = 20 + b.rng.below(600);
            let guard = |action: &str, direction: &str, score: f64| {
                obj(&[
                    ("action", s(action)),
                    (
                        "categories",
                        Value::Array(vec![s("prompt_injection"), s("jailbreak")]),
                    ),
                    ("classifier", s("sf-guard")),
                    ("direction", s(direction)),
                    ("policy_id", s("guard-policy-3")),
                    ("score", float(score)),
                    ("span_id", s(&span)),
                    ("threshold", float(0.8)),
                    ("triggered_categories", Value::Array(Vec::new())),
                ])
            };
            let trace_id =
                spanforge_event::TraceId::parse(&trace).map_err(|source| Error::Event {
                    context: "building a workload trace id".to_owned(),
                    source,
                })?;
            let with_trace = |tid: spanforge_event::TraceId| move |e: EventBuilder| e.trace_id(tid);
            b.push(
                second,
                if blocked {
                    "llm.guard.input.blocked"
                } else {
                    "llm.guard.input.passed"
                },
                guard(
                    if blocked { "blocked" } else { "passed" },
                    "input",
                    if blocked { 0.93 } else { 0.04 },
                ),
                with_trace(trace_id),
            )?;
            if blocked {
                continue;
            }
            if pii {
                b.push(
                    second,
                    "llm.redact.pii.detected",
                    obj(&[
                        ("detected_categories", Value::Array(vec![s("EMAIL")])),
                        ("detection_count", int(1)),
                        ("detector", s("sf-pii")),
                        ("field_names", Value::Array(vec![s("prompt")])),
                        ("sensitivity_level", s("PII")),
                    ]),
                    with_trace(trace_id),
                )?;
                b.push(
                    second + 1,
                    "llm.redact.applied",
                    obj(&[
                        ("policy_min_sensitivity", s("PII")),
                        ("redacted_by", s("sf-redact")),
                        ("redacted_count", int(1)),
                        ("redacted_field_names", Value::Array(vec![s("prompt")])),
                    ]),
                    with_trace(trace_id),
                )?;
            }
            let mut payload = vec![
                ("duration_ms", float(duration_ms as f64)),
                (
                    "end_time_unix_nano",
                    int(i64::try_from(start_ns + duration_ms * 1_000_000).unwrap_or(0)),
                ),
                (
                    "model",
                    obj(&[
                        ("name", s(name)),
                        ("system", s(provider)),
                        ("version", s(version)),
                    ]),
                ),
                ("operation", s("chat")),
                ("span_id", s(&span)),
                ("span_kind", s("CLIENT")),
                ("span_name", s("answer_customer")),
                (
                    "start_time_unix_nano",
                    int(i64::try_from(start_ns).unwrap_or(0)),
                ),
                ("status", s(if failed { "error" } else { "ok" })),
                (
                    "token_usage",
                    obj(&[
                        (
                            "input_tokens",
                            int(i64::try_from(input_tokens).unwrap_or(0)),
                        ),
                        (
                            "output_tokens",
                            int(i64::try_from(output_tokens).unwrap_or(0)),
                        ),
                        (
                            "total_tokens",
                            int(i64::try_from(input_tokens + output_tokens).unwrap_or(0)),
                        ),
                    ]),
                ),
                ("trace_id", s(&trace)),
            ];
            if failed {
                payload.push(("error", s("upstream timeout")));
                payload.push(("error_category", s("provider_timeout")));
            }
            let tags = Tags::from_pairs([
                ("ai_disclosure", "banner"),
                ("authn", "oidc"),
                ("surface", "user_facing"),
            ])
            .map_err(|source| Error::Event {
                context: "building workload tags".to_owned(),
                source,
            })?;
            let tid = trace_id;
            b.push(
                second + 2 + i64::try_from(duration_ms / 1000).unwrap_or(0),
                if failed {
                    "llm.trace.span.failed"
                } else {
                    "llm.trace.span.completed"
                },
                obj(&payload),
                move |e| e.trace_id(tid).actor_id(user).tags(tags),
            )?;
            if !failed {
                b.push(
                    second + 3 + i64::try_from(duration_ms / 1000).unwrap_or(0),
                    "llm.guard.output.passed",
                    guard("passed", "output", 0.02),
                    with_trace(trace_id),
                )?;
            }
        }
        Ok(())
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one timeline, easier to read in one place"
    )]
    fn fixed_events(&self, b: &mut DayBuilder<'_>, tenant: usize, day: u32) -> Result<()> {
        let none = |e: EventBuilder| e;
        // Hourly heartbeats: signed checkpoints of the ledger and latency samples.
        for hour in 0..24_i64 {
            let root = b.hex_id(32);
            b.push(
                hour * 3600 + 5,
                "dev.spanforge.ledger.checkpointed",
                obj(&[
                    ("root_hash", s(&root)),
                    ("tree_size", int(i64::from(day) * 10_000 + hour * 400 + 1)),
                ]),
                none,
            )?;
            let model = usize::try_from(hour % 2).unwrap_or(0);
            let p50 = 400 + i64::try_from(b.rng.below(200)).unwrap_or(0);
            let p99 = 1500 + i64::try_from(b.rng.below(900)).unwrap_or(0);
            b.push(
                hour * 3600 + 30,
                "latency.sample",
                obj(&[
                    ("model_id", s(MODELS[model].0)),
                    ("p50_ms", int(p50)),
                    ("p99_ms", int(p99)),
                    ("window_s", int(3600)),
                ]),
                none,
            )?;
        }
        // Daily: chain verification, backup, confidence samples.
        b.push(
            2 * 3600,
            "audit.chain_verified",
            obj(&[
                ("events_checked", int(i64::from(day) * 700 + 700)),
                ("result", s("pass")),
                ("source", s("spanforge-ledger")),
                ("tampered_count", int(0)),
            ]),
            none,
        )?;
        b.push(
            3 * 3600,
            "dev.spanforge.backup.completed",
            obj(&[
                (
                    "assets",
                    Value::Array(vec![s("weights"), s("prompts"), s("logs")]),
                ),
                ("status", s("ok")),
            ]),
            none,
        )?;
        for (i, (model, _, _)) in MODELS.iter().enumerate() {
            b.push(
                4 * 3600 + i64::try_from(i).unwrap_or(0) * 60,
                "confidence.sample",
                obj(&[("confidence", float(0.91)), ("model_id", s(model))]),
                none,
            )?;
        }

        let m = self.milestones();
        if day == 0 {
            self.baseline(b)?;
        }
        // Model lifecycle.
        let unapproved = tenant < self.unapproved_deployments;
        if day == m[0] {
            self.release(b, 0, "1.0", 9 * 3600, true)?;
            self.release(b, 1, "3.0", 10 * 3600, true)?;
        }
        if day == m[1] {
            self.release(b, 0, "1.1", 9 * 3600, true)?;
        }
        if day == m[2] {
            self.release(b, 1, "3.1", 9 * 3600, !unapproved)?;
        }
        if day == m[3] {
            self.release(b, 0, "2.0", 9 * 3600, true)?;
            b.push(
                16 * 3600,
                "model_registry.deprecated",
                registry_payload(
                    "support-bot",
                    "1.0",
                    "deprecated",
                    &[("reason", s("superseded by 2.0"))],
                ),
                |e| e.actor_id("ml-lead"),
            )?;
        }
        if day == m[4] {
            b.push(
                11 * 3600,
                "model_registry.retired",
                registry_payload(
                    "support-bot",
                    "1.0",
                    "retired",
                    &[("approved_by", s("cto"))],
                ),
                |e| e.actor_id("ml-lead"),
            )?;
        }
        // Weekly: isolation check, an alert, feedback, a human review, a drift breach.
        if day % 7 == 3 {
            b.push(
                5 * 3600,
                "dev.spanforge.tenant.isolation_verified",
                obj(&[
                    ("result", s("pass")),
                    (
                        "tenants_checked",
                        int(i64::try_from(self.tenants.len()).unwrap_or(0)),
                    ),
                ]),
                none,
            )?;
            let alert = format!("alert-{}-{day}", b.org);
            b.push(
                13 * 3600,
                "dev.spanforge.alert.raised",
                obj(&[
                    ("alert_id", s(&alert)),
                    ("rule", s("guard_block_rate")),
                    ("severity", s("medium")),
                ]),
                none,
            )?;
            b.push(
                13 * 3600 + 600,
                "dev.spanforge.alert.acknowledged",
                obj(&[("alert_id", s(&alert))]),
                |e| e.actor_id("oncall-1"),
            )?;
            b.push(
                15 * 3600,
                "dev.spanforge.alert.resolved",
                obj(&[
                    ("alert_id", s(&alert)),
                    ("disposition", s("false_positive")),
                    ("note", s("benign spike")),
                ]),
                |e| e.actor_id("oncall-1"),
            )?;
            let ticket = format!("fb-{}-{day}", b.org);
            b.push(
                14 * 3600,
                "dev.spanforge.feedback.received",
                obj(&[("channel", s("in_app")), ("feedback_id", s(&ticket))]),
                none,
            )?;
            b.push(
                20 * 3600,
                "dev.spanforge.feedback.resolved",
                obj(&[
                    ("feedback_id", s(&ticket)),
                    ("answer_sent", Value::Bool(true)),
                ]),
                |e| e.actor_id("support-lead"),
            )?;
            let decision = format!("dec-{}-{day}", b.org);
            let hitl = |status: &str, reviewer: Option<&str>| {
                let mut pairs = vec![
                    ("agent_id", s("claims-agent")),
                    ("decision_id", s(&decision)),
                    ("reason", s("low confidence claim decision")),
                    ("risk_tier", s("high")),
                    ("sla_seconds", int(3600)),
                    ("status", s(status)),
                ];
                if let Some(r) = reviewer {
                    pairs.push(("reviewer", s(r)));
                }
                obj(&pairs)
            };
            b.push(16 * 3600, "hitl.queued", hitl("queued", None), none)?;
            b.push(
                16 * 3600 + 900,
                "hitl.reviewed",
                hitl("approved", Some("claims-reviewer")),
                |e| e.actor_id("claims-reviewer"),
            )?;
            let drift = |status: &str, value: f64| {
                obj(&[
                    ("agent_id", s("claims-agent")),
                    ("baseline_mean", float(0.9)),
                    ("baseline_stddev", float(0.02)),
                    ("current_value", float(value)),
                    ("metric_name", s("answer_accuracy")),
                    ("model_id", s("claims-llm")),
                    ("status", s(status)),
                    ("threshold", float(3.0)),
                    ("window_seconds", int(3600)),
                    ("z_score", float((value - 0.9) / 0.02)),
                ])
            };
            b.push(
                17 * 3600,
                "drift.threshold_breach",
                drift("threshold_breach", 0.81),
                none,
            )?;
            b.push(19 * 3600, "drift.resolved", drift("resolved", 0.9), none)?;
        }
        // Monthly: evaluations of the deployed versions, credential rotation, management review.
        if day % 30 == 15 {
            for (model, (name, _, _)) in MODELS.iter().enumerate() {
                let version = self.deployed_version(model, day);
                b.push(
                    6 * 3600 + i64::try_from(model).unwrap_or(0) * 60,
                    "llm.eval.score.recorded",
                    eval_payload(name, version, "accuracy", 0.93, true),
                    none,
                )?;
            }
            b.push(
                7 * 3600,
                "dev.spanforge.credential.rotated",
                obj(&[
                    ("credential_id", s("openai-api-key")),
                    ("reason", s("scheduled")),
                ]),
                |e| e.actor_id("secops"),
            )?;
            let doc_hash = b.hex_id(32);
            b.push(
                8 * 3600,
                "dev.spanforge.review.completed",
                obj(&[
                    ("document_sha256", s(&doc_hash)),
                    ("review", s("ai_monitoring")),
                ]),
                |e| e.actor_id("cto"),
            )?;
        }
        // Quarterly (from day 10): access reviews, fairness and adversarial testing.
        if day % 91 == 10 {
            for (i, class) in ASSET_CLASSES.iter().enumerate() {
                b.push(
                    10 * 3600 + i64::try_from(i).unwrap_or(0) * 300,
                    "dev.spanforge.access.reviewed",
                    obj(&[
                        ("asset_class", s(class)),
                        ("decisions", int(12)),
                        ("removals", int(1)),
                    ]),
                    |e| e.actor_id("security-lead"),
                )?;
            }
            b.push(
                12 * 3600,
                "dev.spanforge.access.revoked",
                obj(&[
                    ("grantee", s("contractor-7")),
                    ("reason", s("access review removal")),
                ]),
                |e| e.actor_id("it-admin"),
            )?;
            for (name, _, _) in MODELS {
                let mut payload = eval_payload(
                    name,
                    self.deployed_version(0, day),
                    "demographic_parity",
                    0.97,
                    true,
                );
                if let Value::Object(map) = &mut payload {
                    map.insert("dimension", "fairness");
                }
                b.push(11 * 3600, "llm.eval.score.recorded", payload, none)?;
            }
            b.push(
                11 * 3600 + 600,
                "llm.eval.scenario.completed",
                obj(&[
                    ("cases", int(240)),
                    ("failed", int(0)),
                    ("suite", s("adversarial")),
                ]),
                none,
            )?;
        }
        // One-off activities.
        if day == 20 {
            b.push(
                9 * 3600,
                "dev.spanforge.recovery.tested",
                obj(&[
                    ("rpo_met", Value::Bool(true)),
                    ("rto_met", Value::Bool(true)),
                    ("scenario", s("provider_failover")),
                ]),
                |e| e.actor_id("sre-lead"),
            )?;
        }
        if day == 35 {
            b.push(
                9 * 3600,
                "llm.prompt.version.changed",
                obj(&[
                    ("approved_by", s("product-owner")),
                    ("new_version", s("v8")),
                    ("old_version", s("v7")),
                    ("template", s("support-system-prompt")),
                ]),
                |e| e.actor_id("prompt-engineer"),
            )?;
        }
        if day == 40 {
            b.push(
                9 * 3600,
                "dev.spanforge.subject_request.completed",
                obj(&[
                    ("request_type", s("erasure")),
                    (
                        "stores",
                        Value::Array(vec![s("prompt_logs"), s("vector_store")]),
                    ),
                    ("days_to_complete", int(12)),
                ]),
                |e| e.actor_id("privacy-officer"),
            )?;
        }
        if day == 45 {
            let incident = format!("inc-{}-1", b.org);
            b.push(
                10 * 3600,
                "dev.spanforge.incident.declared",
                obj(&[
                    ("incident_id", s(&incident)),
                    ("incident_type", s("prompt_injection")),
                    ("severity", s("high")),
                ]),
                |e| e.actor_id("oncall-1"),
            )?;
            b.push(
                18 * 3600,
                "dev.spanforge.incident.resolved",
                obj(&[
                    ("incident_id", s(&incident)),
                    ("root_cause", s("unfiltered tool output")),
                ]),
                |e| e.actor_id("oncall-1"),
            )?;
            b.push(
                20 * 3600,
                "dev.spanforge.incident.notified",
                obj(&[("incident_id", s(&incident)), ("recipient", s("customer"))]),
                |e| e.actor_id("privacy-officer"),
            )?;
        }
        if day == 50 {
            b.push(
                9 * 3600,
                "playbook.completed",
                obj(&[
                    ("exercise", Value::Bool(true)),
                    ("playbook", s("ai-incident-tabletop")),
                ]),
                none,
            )?;
        }
        Ok(())
    }

    /// Configuration snapshots, documents and data records of day 0.
    fn baseline(&self, b: &mut DayBuilder<'_>) -> Result<()> {
        let none = |e: EventBuilder| e;
        let configs: [(&str, &[(&str, Value)]); 5] = [
            (
                "retention_policy",
                &[("max_days", int(730)), ("min_days", int(365))],
            ),
            (
                "log_encryption",
                &[("algorithm", s("AES-256-GCM")), ("kek", s("kms"))],
            ),
            ("checkpoint_schedule", &[("interval_s", int(3600))]),
            (
                "approved_providers",
                &[("providers", Value::Array(vec![s("openai"), s("anthropic")]))],
            ),
            (
                "availability_slo",
                &[("p99_ms", int(3000)), ("uptime", s("99.9"))],
            ),
        ];
        for (i, (kind, fields)) in configs.iter().enumerate() {
            let mut pairs: Vec<(&str, Value)> = vec![("kind", s(kind))];
            pairs.extend(fields.iter().cloned());
            b.push(
                60 + i64::try_from(i).unwrap_or(0),
                "dev.spanforge.config.captured",
                obj(&pairs),
                none,
            )?;
        }
        for (vendor, _) in [("openai", 0), ("anthropic", 1)] {
            let doc_hash = b.hex_id(32);
            b.push(
                8 * 3600,
                "dev.spanforge.vendor.assessed",
                obj(&[
                    ("document_sha256", s(&doc_hash)),
                    ("report", s("SOC 2 Type II")),
                    ("vendor", s(vendor)),
                ]),
                |e| e.actor_id("vendor-manager"),
            )?;
        }
        let doc_hash = b.hex_id(32);
        b.push(
            8 * 3600 + 300,
            "dev.spanforge.risk.assessed",
            obj(&[("approved_by", s("cto")), ("document_sha256", s(&doc_hash))]),
            |e| e.actor_id("risk-officer"),
        )?;
        let doc_hash = b.hex_id(32);
        b.push(
            8 * 3600 + 400,
            "dev.spanforge.policy.reviewed",
            obj(&[
                ("document_sha256", s(&doc_hash)),
                ("policy", s("ai_policy")),
            ]),
            |e| e.actor_id("cto"),
        )?;
        let doc_hash = b.hex_id(32);
        b.push(
            8 * 3600 + 500,
            "dev.spanforge.impact.assessed",
            obj(&[
                ("ai_system_id", s("claims-assistant")),
                ("document_sha256", s(&doc_hash)),
            ]),
            |e| e.actor_id("privacy-officer"),
        )?;
        b.push(
            8 * 3600 + 600,
            "dev.spanforge.dataset.registered",
            obj(&[
                ("dataset_id", s("claims-2025")),
                ("licence", s("internal")),
                ("owner", s("data-team")),
                ("source", s("claims warehouse")),
            ]),
            |e| e.actor_id("data-steward"),
        )?;
        b.push(
            8 * 3600 + 700,
            "dev.spanforge.dataset.validated",
            obj(&[("dataset_id", s("claims-2025")), ("result", s("pass"))]),
            |e| e.actor_id("data-steward"),
        )?;
        b.push(
            8 * 3600 + 800,
            "consent.granted",
            obj(&[
                ("legal_basis", s("consent")),
                ("purpose", s("model_training")),
                ("scope", s("model_training")),
                ("subject_id", s("customer-42")),
            ]),
            none,
        )?;
        for (i, person) in ["ml-lead", "prompt-engineer", "oncall-1"]
            .iter()
            .enumerate()
        {
            b.push(
                9 * 3600 + i64::try_from(i).unwrap_or(0) * 60,
                "dev.spanforge.training.completed",
                obj(&[("course", s("ai-security-2026"))]),
                |e| e.actor_id(*person),
            )?;
        }
        b.push(
            9 * 3600 + 500,
            "dev.spanforge.access.granted",
            obj(&[
                ("approved_by", s("security-lead")),
                ("grantee", s("ml-engineer-3")),
                ("role", s("model-operator")),
            ]),
            |e| e.actor_id("it-admin"),
        )?;
        Ok(())
    }

    /// Registers, evaluates, approves (or not) and deploys one model version.
    fn release(
        &self,
        b: &mut DayBuilder<'_>,
        model: usize,
        version: &str,
        second: i64,
        approved: bool,
    ) -> Result<()> {
        let (name, _, _) = MODELS[model];
        let change = format!("{name}@{version}");
        b.push(
            second,
            "model_registry.registered",
            registry_payload(name, version, "active", &[]),
            |e| e.actor_id("ml-lead"),
        )?;
        b.push(
            second + 600,
            "llm.eval.score.recorded",
            eval_payload(name, version, "accuracy", 0.94, true),
            |e| e.actor_id("eval-runner"),
        )?;
        if approved {
            b.push(
                second + 1200,
                "decision.made",
                crate::registry::approval_payload(
                    name,
                    version,
                    &change,
                    "release approved after evaluation",
                ),
                |e| e.actor_id("change-board"),
            )?;
        }
        b.push(
            second + 1800,
            "dev.spanforge.model.deployed",
            obj(&[
                ("author", s("ml-lead")),
                ("change_id", s(&change)),
                (
                    "doc_uri",
                    s(&format!("https://docs.example/models/{name}/{version}")),
                ),
                ("environment", s("production")),
                ("model_id", s(name)),
                ("version", s(version)),
            ]),
            |e| e.actor_id("release-bot"),
        )?;
        Ok(())
    }

    /// Appends the whole workload to `ledger`, one batch per tenant-day; returns the number of
    /// events appended.
    ///
    /// # Errors
    ///
    /// When the ledger refuses a batch.
    pub fn append_to<B: Backend>(
        &self,
        ledger: &mut Ledger<B>,
        keys: &dyn KeyProvider,
    ) -> Result<u64> {
        let mut total = 0;
        for day in 0..self.days {
            for tenant in 0..self.tenants.len() {
                let events = self.events_for_day(tenant, day)?;
                total += events.len() as u64;
                ledger
                    .append_batch(keys, events)
                    .map_err(|e| Error::store(format!("appending workload day {day}"), e))?;
            }
        }
        Ok(total)
    }

    /// Midnight UTC of the first day, in microseconds.
    pub fn start_micros(&self) -> i64 {
        self.start.start_micros()
    }

    /// The first instant after the workload, in microseconds.
    pub fn end_micros(&self) -> i64 {
        self.start_micros() + i64::from(self.days) * MICROS_PER_DAY
    }
}

/// A `model_registry.*` payload for the workload's models, with extra fields.
fn registry_payload(model: &str, version: &str, status: &str, extra: &[(&str, Value)]) -> Value {
    let mut value = crate::registry::entry_payload(
        model,
        version,
        model,
        "ml-platform",
        "customer support answers",
        "high",
        status,
    );
    if let Value::Object(map) = &mut value {
        for (k, v) in extra {
            map.insert(*k, v.clone());
        }
    }
    value
}

/// An `llm.eval.score.recorded` payload.
fn eval_payload(model: &str, version: &str, metric: &str, score: f64, passed: bool) -> Value {
    obj(&[
        ("metric", s(metric)),
        ("model_id", s(model)),
        ("model_version", s(version)),
        ("passed", Value::Bool(passed)),
        ("score", float(score)),
        ("test_set", s("golden-v4")),
        ("threshold", float(0.9)),
    ])
}
