//! Typed, borrowed views of the payloads the later layers read.
//!
//! The envelope only requires a payload to be a non-empty object; the reference ties no payload shape to an
//! event type. These views give the shapes its payload classes define (field names, required fields and value
//! rules taken from `spanforge/namespaces/*.py`, `model_registry.py` and the ad-hoc payloads its `AuditStream`
//! writes), so code can read a payload without re-checking it, and so [`Event::check_payload_strict`] can check
//! an event's payload against the view registered for its type.
//!
//! Views are lenient about what they do not describe: unknown members are allowed (the whole object stays
//! reachable through each view's `raw` field), and an optional member that is `null` counts as absent. Where the
//! reference would coerce (`int("3")`, `float(True)`), a view instead requires the JSON kind it names: an integer
//! where the reference stores an `int`, a number where it stores a `float`, a boolean where a `bool`.
//!
//! Each view implements `TryFrom<&Value>`; errors name the member's path from the event (`payload.model.name`,
//! `payload.decision_drivers[1].weight`).

use crate::envelope::Event;
use crate::error::{EventError, Result};
use crate::event_type::RegisteredType;
use crate::ids::{SpanId, TraceId, decode_hex32};
use crate::json::{Map, Value};

/// A JSON object being read as a view, with the path used in errors.
struct Obj<'a> {
    map: &'a Map,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: &str) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_owned(),
            }),
            other => Err(EventError::wrong_type(path, "an object", other)),
        }
    }

    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The member, with `null` counted as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str, expected: &str) -> Result<&'a Value> {
        self.get(key)
            .ok_or_else(|| EventError::missing(self.path(key), expected))
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(EventError::wrong_type(self.path(key), "a string", other)),
        }
    }

    fn str(&self, key: &str) -> Result<&'a str> {
        match self.required(key, "a string")? {
            Value::String(s) => Ok(s),
            other => Err(EventError::wrong_type(self.path(key), "a string", other)),
        }
    }

    fn non_empty(&self, key: &str) -> Result<&'a str> {
        let s = self.str(key)?;
        if s.is_empty() {
            return Err(EventError::invalid(self.path(key), "a non-empty string", s));
        }
        Ok(s)
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(n.as_f64())),
            Some(other) => Err(EventError::wrong_type(self.path(key), "a number", other)),
        }
    }

    fn f64(&self, key: &str) -> Result<f64> {
        self.opt_f64(key)?
            .ok_or_else(|| EventError::missing(self.path(key), "a number"))
    }

    /// A number satisfying `ok`, described by `expected`.
    fn f64_where(&self, key: &str, expected: &str, ok: impl Fn(f64) -> bool) -> Result<f64> {
        let v = self
            .opt_f64(key)?
            .ok_or_else(|| EventError::missing(self.path(key), expected))?;
        self.check_f64(key, v, expected, ok)
    }

    fn opt_f64_where(
        &self,
        key: &str,
        expected: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<Option<f64>> {
        self.opt_f64(key)?
            .map(|v| self.check_f64(key, v, expected, ok))
            .transpose()
    }

    fn check_f64(
        &self,
        key: &str,
        v: f64,
        expected: &str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64> {
        if ok(v) {
            Ok(v)
        } else {
            Err(EventError::invalid_value(
                self.path(key),
                expected,
                self.map.get(key).unwrap_or(&Value::Null),
            ))
        }
    }

    fn opt_i64(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => {
                if !n.is_integer() {
                    return Err(EventError::wrong_type(self.path(key), "an integer", v));
                }
                n.as_i64()
                    .map(Some)
                    .ok_or_else(|| EventError::invalid_value(self.path(key), "a 64-bit integer", v))
            }
            Some(other) => Err(EventError::wrong_type(self.path(key), "an integer", other)),
        }
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        const EXPECTED: &str = "a non-negative integer";
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) if n.is_integer() => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| EventError::invalid_value(self.path(key), EXPECTED, v)),
            Some(other) => Err(EventError::wrong_type(self.path(key), EXPECTED, other)),
        }
    }

    fn u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?
            .ok_or_else(|| EventError::missing(self.path(key), "a non-negative integer"))
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(EventError::wrong_type(self.path(key), "a boolean", other)),
        }
    }

    fn opt_object(&self, key: &str) -> Result<Option<&'a Map>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(EventError::wrong_type(self.path(key), "an object", other)),
        }
    }

    fn opt_array(&self, key: &str) -> Result<&'a [Value]> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(EventError::wrong_type(self.path(key), "an array", other)),
        }
    }

    fn str_list(&self, key: &str) -> Result<Vec<&'a str>> {
        self.opt_array(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(EventError::wrong_type(
                    format!("{}[{i}]", self.path(key)),
                    "a string",
                    other,
                )),
            })
            .collect()
    }

    fn non_empty_str_list(&self, key: &str) -> Result<Vec<&'a str>> {
        let list = self.str_list(key)?;
        if list.is_empty() {
            return Err(match self.get(key) {
                None => EventError::missing(self.path(key), "a non-empty array of strings"),
                Some(v) => {
                    EventError::invalid_value(self.path(key), "a non-empty array of strings", v)
                }
            });
        }
        Ok(list)
    }

    /// A string member that must be one of a closed set.
    fn one_of<T: Closed>(&self, key: &str) -> Result<T> {
        let s = self.str(key)?;
        T::from_wire(s).ok_or_else(|| EventError::invalid(self.path(key), T::expected(), s))
    }

    fn opt_one_of<T: Closed>(&self, key: &str) -> Result<Option<T>> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => T::from_wire(s)
                .map(Some)
                .ok_or_else(|| EventError::invalid(self.path(key), T::expected(), s)),
        }
    }

    fn hash32(&self, key: &str) -> Result<[u8; 32]> {
        let s = self.str(key)?;
        decode_hex32(s.as_bytes()).ok_or_else(|| {
            EventError::invalid(
                self.path(key),
                "64 lowercase hexadecimal digits (SHA-256)",
                s,
            )
        })
    }
}

/// A string enumeration with a fixed set of wire values.
trait Closed: Sized {
    fn from_wire(s: &str) -> Option<Self>;
    fn expected() -> String;
}

macro_rules! closed {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The value as written.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }
        }

        impl Closed for $name {
            fn from_wire(s: &str) -> Option<Self> {
                match s {
                    $($wire => Some($name::$variant),)*
                    _ => None,
                }
            }

            fn expected() -> String {
                format!("one of {}", [$(concat!("\"", $wire, "\""),)*].join(", "))
            }
        }
    };
}

closed!(
    /// The outcome of a span.
    SpanStatus {
        /// `ok`
        Ok => "ok",
        /// `error`
        Error => "error",
        /// `timeout`
        Timeout => "timeout",
    }
);

closed!(
    /// A model's or a review's risk tier.
    RiskTier {
        /// `low`
        Low => "low",
        /// `medium`
        Medium => "medium",
        /// `high`
        High => "high",
        /// `critical`
        Critical => "critical",
    }
);

closed!(
    /// A registered model's lifecycle state.
    ModelStatus {
        /// `active`
        Active => "active",
        /// `deprecated`
        Deprecated => "deprecated",
        /// `retired`
        Retired => "retired",
    }
);

closed!(
    /// What a guard classifier looked at.
    GuardDirection {
        /// `input`
        Input => "input",
        /// `output`
        Output => "output",
    }
);

closed!(
    /// What a guard did.
    GuardAction {
        /// `blocked`
        Blocked => "blocked",
        /// `passed`
        Passed => "passed",
        /// `flagged`
        Flagged => "flagged",
        /// `modified`
        Modified => "modified",
        /// `escalated`
        Escalated => "escalated",
    }
);

closed!(
    /// A redaction sensitivity level.
    Sensitivity {
        /// `LOW`
        Low => "LOW",
        /// `MEDIUM`
        Medium => "MEDIUM",
        /// `HIGH`
        High => "HIGH",
        /// `PII`
        Pii => "PII",
        /// `PHI`
        Phi => "PHI",
    }
);

closed!(
    /// The state a drift signal reports.
    DriftStatus {
        /// `detected`
        Detected => "detected",
        /// `threshold_breach`
        ThresholdBreach => "threshold_breach",
        /// `resolved`
        Resolved => "resolved",
    }
);

closed!(
    /// The kind of decision an agent made.
    DecisionType {
        /// `classification`
        Classification => "classification",
        /// `routing`
        Routing => "routing",
        /// `generation`
        Generation => "generation",
        /// `tool_selection`
        ToolSelection => "tool_selection",
        /// `other`
        Other => "other",
    }
);

closed!(
    /// The state of a human review.
    HitlStatus {
        /// `queued`
        Queued => "queued",
        /// `approved`
        Approved => "approved",
        /// `rejected`
        Rejected => "rejected",
        /// `escalated`
        Escalated => "escalated",
        /// `timeout`
        Timeout => "timeout",
    }
);

closed!(
    /// The state of a consent record.
    ConsentStatus {
        /// `granted`
        Granted => "granted",
        /// `revoked`
        Revoked => "revoked",
        /// `violation`
        Violation => "violation",
    }
);

closed!(
    /// The GDPR Art. 6 legal basis for processing.
    LegalBasis {
        /// `consent`
        Consent => "consent",
        /// `contract`
        Contract => "contract",
        /// `legal_obligation`
        LegalObligation => "legal_obligation",
        /// `vital_interest`
        VitalInterest => "vital_interest",
        /// `public_task`
        PublicTask => "public_task",
        /// `legitimate_interest`
        LegitimateInterest => "legitimate_interest",
    }
);

fn unit_interval(v: f64) -> bool {
    (0.0..=1.0).contains(&v)
}

fn non_negative(v: f64) -> bool {
    v >= 0.0
}

/// Implements `TryFrom<&Value>` for a view, reading it at `$path`.
macro_rules! view_try_from {
    ($name:ident, $path:literal) => {
        impl<'a> TryFrom<&'a Value> for $name<'a> {
            type Error = EventError;
            #[doc = concat!("Reads the view from a payload, naming `", $path, "` in errors.")]
            fn try_from(value: &'a Value) -> Result<Self> {
                Self::read(&Obj::new(value, $path)?)
            }
        }
    };
}

/// Token counts of a model call (`TokenUsage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenUsage {
    /// Tokens sent to the model.
    pub input_tokens: u64,
    /// Tokens the model produced.
    pub output_tokens: u64,
    /// The total the provider reported.
    pub total_tokens: u64,
    /// Tokens served from the provider's prompt cache.
    pub cached_tokens: Option<u64>,
    /// Tokens written to the provider's prompt cache.
    pub cache_creation_tokens: Option<u64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u64>,
    /// Image tokens.
    pub image_tokens: Option<u64>,
}

impl TokenUsage {
    fn read(o: &Obj<'_>) -> Result<Self> {
        Ok(Self {
            input_tokens: o.u64("input_tokens")?,
            output_tokens: o.u64("output_tokens")?,
            total_tokens: o.u64("total_tokens")?,
            cached_tokens: o.opt_u64("cached_tokens")?,
            cache_creation_tokens: o.opt_u64("cache_creation_tokens")?,
            reasoning_tokens: o.opt_u64("reasoning_tokens")?,
            image_tokens: o.opt_u64("image_tokens")?,
        })
    }
}

impl TryFrom<&Value> for TokenUsage {
    type Error = EventError;
    /// Reads token counts, naming `payload.token_usage` in errors.
    fn try_from(value: &Value) -> Result<Self> {
        Self::read(&Obj::new(value, "payload.token_usage")?)
    }
}

/// The model behind a call (`ModelInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo<'a> {
    /// The provider (`openai`, `anthropic`, ..., or `_custom`).
    pub system: &'a str,
    /// The model name (non-empty).
    pub name: &'a str,
    /// The model the provider says answered.
    pub response_model: Option<&'a str>,
    /// The model version.
    pub version: Option<&'a str>,
    /// The provider's name when `system` is `_custom` (then required).
    pub custom_system_name: Option<&'a str>,
}

impl<'a> ModelInfo<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        let system = o.str("system")?;
        let custom_system_name = o.opt_str("custom_system_name")?;
        if system == "_custom" && custom_system_name.is_none_or(str::is_empty) {
            return Err(EventError::missing(
                o.path("custom_system_name"),
                "a non-empty string when system is \"_custom\"",
            ));
        }
        Ok(Self {
            system,
            name: o.non_empty("name")?,
            response_model: o.opt_str("response_model")?,
            version: o.opt_str("version")?,
            custom_system_name,
        })
    }
}
view_try_from!(ModelInfo, "payload.model");

/// The cost of a call (`CostBreakdown`), in `currency`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostBreakdown<'a> {
    /// Cost of the input tokens.
    pub input_cost_usd: f64,
    /// Cost of the output tokens.
    pub output_cost_usd: f64,
    /// The total: input + output + reasoning - cached discount, within 1e-6.
    pub total_cost_usd: f64,
    /// Discount for cached input (default 0).
    pub cached_discount_usd: f64,
    /// Cost of reasoning tokens (default 0).
    pub reasoning_cost_usd: f64,
    /// ISO 4217 code, three capital letters (default `USD`).
    pub currency: &'a str,
    /// The price list's date, `YYYY-MM-DD`.
    pub pricing_date: Option<&'a str>,
}

impl<'a> CostBreakdown<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        let amount = |key: &str| o.f64_where(key, "a non-negative number", non_negative);
        let optional = |key: &str| o.opt_f64_where(key, "a non-negative number", non_negative);
        let cost = Self {
            input_cost_usd: amount("input_cost_usd")?,
            output_cost_usd: amount("output_cost_usd")?,
            total_cost_usd: amount("total_cost_usd")?,
            cached_discount_usd: optional("cached_discount_usd")?.unwrap_or(0.0),
            reasoning_cost_usd: optional("reasoning_cost_usd")?.unwrap_or(0.0),
            currency: o.opt_str("currency")?.unwrap_or("USD"),
            pricing_date: o.opt_str("pricing_date")?,
        };
        if !(cost.currency.len() == 3 && cost.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(EventError::invalid(
                o.path("currency"),
                "a three-letter ISO 4217 code",
                cost.currency,
            ));
        }
        if let Some(date) = cost.pricing_date {
            let b = date.as_bytes();
            let shape = b.len() == 10
                && b.iter().enumerate().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        *c == b'-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if !shape {
                return Err(EventError::invalid(
                    o.path("pricing_date"),
                    "a date YYYY-MM-DD",
                    date,
                ));
            }
        }
        let expected = cost.input_cost_usd + cost.output_cost_usd + cost.reasoning_cost_usd
            - cost.cached_discount_usd;
        if (cost.total_cost_usd - expected).abs() > 1e-6 {
            return Err(EventError::invalid_value(
                o.path("total_cost_usd"),
                format!("input + output + reasoning - cached_discount = {expected} (within 1e-6)"),
                o.map.get("total_cost_usd").unwrap_or(&Value::Null),
            ));
        }
        Ok(cost)
    }
}
view_try_from!(CostBreakdown, "payload.cost");

/// A model or tool span (`SpanPayload`): `llm.trace.span.started`, `.completed` and `.failed`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanPayload<'a> {
    /// The span id.
    pub span_id: SpanId,
    /// The trace id.
    pub trace_id: TraceId,
    /// The span's name (non-empty).
    pub span_name: &'a str,
    /// The operation (`chat`, `embeddings`, ...; other strings are allowed).
    pub operation: &'a str,
    /// The OpenTelemetry span kind (`CLIENT`, ...; other strings are allowed).
    pub span_kind: &'a str,
    /// The outcome.
    pub status: SpanStatus,
    /// Start, in nanoseconds since the epoch.
    pub start_time_unix_nano: u64,
    /// End, in nanoseconds since the epoch (not before the start).
    pub end_time_unix_nano: u64,
    /// Duration in milliseconds; within 1 ms of end minus start.
    pub duration_ms: f64,
    /// The parent span.
    pub parent_span_id: Option<SpanId>,
    /// The agent run the span belongs to.
    pub agent_run_id: Option<&'a str>,
    /// The model called.
    pub model: Option<ModelInfo<'a>>,
    /// Token counts.
    pub token_usage: Option<TokenUsage>,
    /// Cost.
    pub cost: Option<CostBreakdown<'a>>,
    /// Tool calls, unchecked.
    pub tool_calls: &'a [Value],
    /// Reasoning steps, unchecked.
    pub reasoning_steps: &'a [Value],
    /// Why the model stopped.
    pub finish_reason: Option<&'a str>,
    /// The error message, for failed spans.
    pub error: Option<&'a str>,
    /// The error's type.
    pub error_type: Option<&'a str>,
    /// The error's category.
    pub error_category: Option<&'a str>,
    /// Free-form attributes.
    pub attributes: Option<&'a Map>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling parameter.
    pub top_p: Option<f64>,
    /// Output token limit.
    pub max_tokens: Option<i64>,
    /// Span events, unchecked.
    pub events: &'a [Value],
    /// Session id: 1 to 256 characters, no whitespace.
    pub session_id: Option<&'a str>,
    /// User id: 1 to 256 characters, no whitespace.
    pub user_id: Option<&'a str>,
    /// The caller's W3C `traceparent` header.
    pub incoming_traceparent: Option<&'a str>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> SpanPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        let span_id = SpanId::parse_field(o.str("span_id")?, &o.path("span_id"))?;
        let trace_id = o.str("trace_id")?;
        let trace_id = TraceId::parse_field(trace_id, &o.path("trace_id"))?;
        let parent_span_id = o
            .opt_str("parent_span_id")?
            .map(|s| SpanId::parse_field(s, &o.path("parent_span_id")))
            .transpose()?;
        let start = o.u64("start_time_unix_nano")?;
        let end = o.u64("end_time_unix_nano")?;
        if end < start {
            return Err(EventError::invalid(
                o.path("end_time_unix_nano"),
                format!("a time not before start_time_unix_nano ({start})"),
                &end.to_string(),
            ));
        }
        let duration_ms = o.f64_where("duration_ms", "a non-negative number", non_negative)?;
        #[expect(
            clippy::cast_precision_loss,
            reason = "a tolerance of 1 ms absorbs the rounding"
        )]
        let computed = (end - start) as f64 / 1_000_000.0;
        if (duration_ms - computed).abs() > 1.0 {
            return Err(EventError::invalid(
                o.path("duration_ms"),
                format!(
                    "(end_time_unix_nano - start_time_unix_nano) / 1e6 = {computed} within 1 ms"
                ),
                &duration_ms.to_string(),
            ));
        }
        let safe_id = |key: &str| -> Result<Option<&'a str>> {
            let v = o.opt_str(key)?;
            if let Some(s) = v
                && !(1..=256).contains(&s.chars().count()) | s.chars().any(char::is_whitespace)
            {
                return Err(EventError::invalid(
                    o.path(key),
                    "1 to 256 characters without whitespace",
                    s,
                ));
            }
            Ok(v)
        };
        let nested = |key: &str| o.get(key).map(|v| Obj::new(v, &o.path(key))).transpose();
        Ok(Self {
            span_id,
            trace_id,
            span_name: o.non_empty("span_name")?,
            operation: o.str("operation")?,
            span_kind: o.str("span_kind")?,
            status: o.one_of("status")?,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            duration_ms,
            parent_span_id,
            agent_run_id: o.opt_str("agent_run_id")?,
            model: nested("model")?.map(|m| ModelInfo::read(&m)).transpose()?,
            token_usage: nested("token_usage")?
                .map(|t| TokenUsage::read(&t))
                .transpose()?,
            cost: nested("cost")?
                .map(|c| CostBreakdown::read(&c))
                .transpose()?,
            tool_calls: o.opt_array("tool_calls")?,
            reasoning_steps: o.opt_array("reasoning_steps")?,
            finish_reason: o.opt_str("finish_reason")?,
            error: o.opt_str("error")?,
            error_type: o.opt_str("error_type")?,
            error_category: o.opt_str("error_category")?,
            attributes: o.opt_object("attributes")?,
            temperature: o.opt_f64("temperature")?,
            top_p: o.opt_f64("top_p")?,
            max_tokens: o.opt_i64("max_tokens")?,
            events: o.opt_array("events")?,
            session_id: safe_id("session_id")?,
            user_id: safe_id("user_id")?,
            incoming_traceparent: o.opt_str("incoming_traceparent")?,
            raw: o.map,
        })
    }
}
view_try_from!(SpanPayload, "payload");

/// A model registry entry (`ModelRegistryEntry`): `model_registry.registered`, `.deprecated`, `.retired`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRegistryPayload<'a> {
    /// The model's id (non-empty).
    pub model_id: &'a str,
    /// Its display name (non-empty).
    pub name: &'a str,
    /// Its version (non-empty).
    pub version: &'a str,
    /// Its risk tier.
    pub risk_tier: RiskTier,
    /// Its owner (non-empty).
    pub owner: &'a str,
    /// What it is used for (non-empty).
    pub purpose: &'a str,
    /// Its lifecycle state (default `active`).
    pub status: ModelStatus,
    /// When it was deployed.
    pub deployment_date: Option<&'a str>,
    /// When it was retired.
    pub decommission_date: Option<&'a str>,
    /// Free-form metadata (`deprecation_reason`, ...).
    pub metadata: Option<&'a Map>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> ModelRegistryPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        Ok(Self {
            model_id: o.non_empty("model_id")?,
            name: o.non_empty("name")?,
            version: o.non_empty("version")?,
            risk_tier: o.one_of("risk_tier")?,
            owner: o.non_empty("owner")?,
            purpose: o.non_empty("purpose")?,
            status: o.opt_one_of("status")?.unwrap_or(ModelStatus::Active),
            deployment_date: o.opt_str("deployment_date")?,
            decommission_date: o.opt_str("decommission_date")?,
            metadata: o.opt_object("metadata")?,
            raw: o.map,
        })
    }
}
view_try_from!(ModelRegistryPayload, "payload");

/// The payload the reference's `AuditStream.rotate_key` writes for `llm.audit.key.rotated`.
///
/// The reference writes `rotation_marker: "true"`, `new_secret_hash` (unsalted SHA-256 of the new secret's UTF-8
/// bytes), the caller's metadata, and `rotated_by` (`"unknown"` when the metadata gave none). Other metadata is
/// reachable through `raw`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRotatedPayload<'a> {
    /// SHA-256 of the new secret.
    pub new_secret_hash: [u8; 32],
    /// Who rotated the key.
    pub rotated_by: &'a str,
    /// The whole payload object, metadata included.
    pub raw: &'a Map,
}

impl<'a> KeyRotatedPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        let marker = o.str("rotation_marker")?;
        if marker != "true" {
            return Err(EventError::invalid(
                o.path("rotation_marker"),
                "the string \"true\"",
                marker,
            ));
        }
        Ok(Self {
            new_secret_hash: o.hash32("new_secret_hash")?,
            rotated_by: o.str("rotated_by")?,
            raw: o.map,
        })
    }
}
view_try_from!(KeyRotatedPayload, "payload");

/// The payload of an erasure tombstone (`llm.audit.tombstone`), as `AuditStream.erase_subject` writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TombstonePayload<'a> {
    /// SHA-256 of the erased subject's id (unsalted in the reference).
    pub erased_subject_id_hash: [u8; 32],
    /// The type of the event the tombstone replaced.
    pub original_event_type: &'a str,
    /// Who performed the erasure.
    pub erased_by: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The erasure request's external reference.
    pub erasure_request_ref: Option<&'a str>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> TombstonePayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        Ok(Self {
            erased_subject_id_hash: o.hash32("erased_subject_id_hash")?,
            original_event_type: o.non_empty("original_event_type")?,
            erased_by: o.str("erased_by")?,
            reason: o.str("reason")?,
            erasure_request_ref: o.opt_str("erasure_request_ref")?,
            raw: o.map,
        })
    }
}
view_try_from!(TombstonePayload, "payload");

/// A guard classifier's result (`GuardPayload`): the four `llm.guard.*` types.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardPayload<'a> {
    /// The classifier (non-empty).
    pub classifier: &'a str,
    /// Input or output.
    pub direction: GuardDirection,
    /// What the guard did.
    pub action: GuardAction,
    /// The classifier's score.
    pub score: f64,
    /// The lowest score the classifier can give.
    pub score_min: Option<f64>,
    /// The highest score the classifier can give.
    pub score_max: Option<f64>,
    /// The threshold applied.
    pub threshold: Option<f64>,
    /// The categories checked.
    pub categories: Vec<&'a str>,
    /// The categories that triggered.
    pub triggered_categories: Vec<&'a str>,
    /// The span checked.
    pub span_id: Option<&'a str>,
    /// How long the check took (non-negative).
    pub latency_ms: Option<f64>,
    /// The policy applied.
    pub policy_id: Option<&'a str>,
    /// SHA-256 of the content checked (never the content itself).
    pub content_hash: Option<&'a str>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> GuardPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        Ok(Self {
            classifier: o.non_empty("classifier")?,
            direction: o.one_of("direction")?,
            action: o.one_of("action")?,
            score: o.f64("score")?,
            score_min: o.opt_f64("score_min")?,
            score_max: o.opt_f64("score_max")?,
            threshold: o.opt_f64("threshold")?,
            categories: o.str_list("categories")?,
            triggered_categories: o.str_list("triggered_categories")?,
            span_id: o.opt_str("span_id")?,
            latency_ms: o.opt_f64_where("latency_ms", "a non-negative number", non_negative)?,
            policy_id: o.opt_str("policy_id")?,
            content_hash: o.opt_str("content_hash")?,
            raw: o.map,
        })
    }
}
view_try_from!(GuardPayload, "payload");

/// PII or PHI found in an event (`RedactPiiDetectedPayload`, `RedactPhiDetectedPayload`).
#[derive(Debug, Clone, PartialEq)]
pub struct RedactDetectedPayload<'a> {
    /// The categories found (at least one).
    pub detected_categories: Vec<&'a str>,
    /// The fields they were found in (at least one).
    pub field_names: Vec<&'a str>,
    /// How sensitive the finding is (always `PHI` for `llm.redact.phi.detected`).
    pub sensitivity_level: Sensitivity,
    /// How many findings.
    pub detection_count: Option<i64>,
    /// The detector used.
    pub detector: Option<&'a str>,
    /// The event the finding concerns.
    pub subject_event_id: Option<&'a str>,
    /// Whether HIPAA covers the data (PHI only).
    pub hipaa_covered: Option<bool>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> RedactDetectedPayload<'a> {
    fn read(o: &Obj<'a>, phi: bool) -> Result<Self> {
        let sensitivity_level = if phi {
            let level = o
                .opt_one_of("sensitivity_level")?
                .unwrap_or(Sensitivity::Phi);
            if level != Sensitivity::Phi {
                return Err(EventError::invalid(
                    o.path("sensitivity_level"),
                    "\"PHI\"",
                    level.as_str(),
                ));
            }
            level
        } else {
            o.one_of("sensitivity_level")?
        };
        Ok(Self {
            detected_categories: o.non_empty_str_list("detected_categories")?,
            field_names: o.non_empty_str_list("field_names")?,
            sensitivity_level,
            detection_count: o.opt_i64("detection_count")?,
            detector: o.opt_str("detector")?,
            subject_event_id: o.opt_str("subject_event_id")?,
            hipaa_covered: if phi {
                o.opt_bool("hipaa_covered")?
            } else {
                None
            },
            raw: o.map,
        })
    }

    /// Reads a `llm.redact.pii.detected` payload.
    pub fn pii(value: &'a Value) -> Result<Self> {
        Self::read(&Obj::new(value, "payload")?, false)
    }

    /// Reads a `llm.redact.phi.detected` payload (its `sensitivity_level` defaults to and must be `PHI`).
    pub fn phi(value: &'a Value) -> Result<Self> {
        Self::read(&Obj::new(value, "payload")?, true)
    }
}

/// A redaction policy applied (`RedactAppliedPayload`): `llm.redact.applied`.
#[derive(Debug, Clone, PartialEq)]
pub struct RedactAppliedPayload<'a> {
    /// The lowest sensitivity the policy redacts.
    pub policy_min_sensitivity: Sensitivity,
    /// Who or what redacted (non-empty).
    pub redacted_by: &'a str,
    /// How many values were redacted.
    pub redacted_count: u64,
    /// The fields redacted.
    pub redacted_field_names: Vec<&'a str>,
    /// The event redacted.
    pub subject_event_id: Option<&'a str>,
    /// Whether the redaction was verified.
    pub verified: Option<bool>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> RedactAppliedPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        Ok(Self {
            policy_min_sensitivity: o.one_of("policy_min_sensitivity")?,
            redacted_by: o.non_empty("redacted_by")?,
            redacted_count: o.u64("redacted_count")?,
            redacted_field_names: o.str_list("redacted_field_names")?,
            subject_event_id: o.opt_str("subject_event_id")?,
            verified: o.opt_bool("verified")?,
            raw: o.map,
        })
    }
}
view_try_from!(RedactAppliedPayload, "payload");

/// A statistical drift signal (`DriftPayload`): `drift.detected`, `.threshold_breach`, `.resolved`.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftPayload<'a> {
    /// The metric watched (non-empty).
    pub metric_name: &'a str,
    /// The agent watched (non-empty).
    pub agent_id: &'a str,
    /// The metric's current value.
    pub current_value: f64,
    /// The baseline mean.
    pub baseline_mean: f64,
    /// The baseline standard deviation (non-negative).
    pub baseline_stddev: f64,
    /// The Z-score.
    pub z_score: f64,
    /// The threshold applied.
    pub threshold: f64,
    /// The window, in seconds (positive).
    pub window_seconds: i64,
    /// The signal's state.
    pub status: DriftStatus,
    /// The KL divergence, when computed.
    pub kl_divergence: Option<f64>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> DriftPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        let window_seconds = o
            .opt_i64("window_seconds")?
            .ok_or_else(|| EventError::missing(o.path("window_seconds"), "an integer"))?;
        if window_seconds <= 0 {
            return Err(EventError::invalid(
                o.path("window_seconds"),
                "a positive integer",
                &window_seconds.to_string(),
            ));
        }
        Ok(Self {
            metric_name: o.non_empty("metric_name")?,
            agent_id: o.non_empty("agent_id")?,
            current_value: o.f64("current_value")?,
            baseline_mean: o.f64("baseline_mean")?,
            baseline_stddev: o.f64_where(
                "baseline_stddev",
                "a non-negative number",
                non_negative,
            )?,
            z_score: o.f64("z_score")?,
            threshold: o.f64("threshold")?,
            window_seconds,
            status: o.one_of("status")?,
            kl_divergence: o.opt_f64("kl_divergence")?,
            raw: o.map,
        })
    }
}
view_try_from!(DriftPayload, "payload");

/// One factor behind a decision (`DecisionDriver`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionDriver<'a> {
    /// The factor (non-empty).
    pub factor_name: &'a str,
    /// Its share of the decision, 0 to 1.
    pub weight: f64,
    /// Its signed contribution to the score.
    pub contribution: f64,
    /// Evidence, in words.
    pub evidence: &'a str,
    /// Confidence in the factor, 0 to 1.
    pub confidence: f64,
}

impl<'a> DecisionDriver<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        Ok(Self {
            factor_name: o.non_empty("factor_name")?,
            weight: o.f64_where("weight", "a number from 0 to 1", unit_interval)?,
            contribution: o.f64("contribution")?,
            evidence: o.str("evidence")?,
            confidence: o.f64_where("confidence", "a number from 0 to 1", unit_interval)?,
        })
    }
}

/// An agent decision (`DecisionPayload`): `decision.made`, `.revised`, `.rejected`.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionPayload<'a> {
    /// The decision's id (non-empty).
    pub decision_id: &'a str,
    /// The deciding agent (non-empty).
    pub agent_id: &'a str,
    /// The kind of decision.
    pub decision_type: DecisionType,
    /// What went in, summarised.
    pub input_summary: &'a str,
    /// What came out, summarised.
    pub output_summary: &'a str,
    /// Confidence, 0 to 1.
    pub confidence: f64,
    /// How long it took (non-negative).
    pub latency_ms: f64,
    /// SHA-256 of the full rationale.
    pub rationale_hash: &'a str,
    /// The factors behind it.
    pub decision_drivers: Vec<DecisionDriver<'a>>,
    /// The actor context, as an object.
    pub actor: Option<&'a Map>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> DecisionPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        let drivers_path = o.path("decision_drivers");
        let decision_drivers = o
            .opt_array("decision_drivers")?
            .iter()
            .enumerate()
            .map(|(i, v)| DecisionDriver::read(&Obj::new(v, &format!("{drivers_path}[{i}]"))?))
            .collect::<Result<_>>()?;
        Ok(Self {
            decision_id: o.non_empty("decision_id")?,
            agent_id: o.non_empty("agent_id")?,
            decision_type: o.one_of("decision_type")?,
            input_summary: o.str("input_summary")?,
            output_summary: o.str("output_summary")?,
            confidence: o.f64_where("confidence", "a number from 0 to 1", unit_interval)?,
            latency_ms: o.f64_where("latency_ms", "a non-negative number", non_negative)?,
            rationale_hash: o.str("rationale_hash")?,
            decision_drivers,
            actor: o.opt_object("actor")?,
            raw: o.map,
        })
    }
}
view_try_from!(DecisionPayload, "payload");

/// A human review (`HITLPayload`): `hitl.queued`, `.reviewed`, `.escalated`, `.timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct HitlPayload<'a> {
    /// The decision under review (non-empty).
    pub decision_id: &'a str,
    /// The agent whose decision it is (non-empty).
    pub agent_id: &'a str,
    /// The risk tier.
    pub risk_tier: RiskTier,
    /// The review's state.
    pub status: HitlStatus,
    /// Why it went to review (non-empty).
    pub reason: &'a str,
    /// Who reviewed.
    pub reviewer: Option<&'a str>,
    /// The review deadline in seconds (positive, default 3600).
    pub sla_seconds: i64,
    /// When it was queued.
    pub queued_at: Option<&'a str>,
    /// When it was resolved.
    pub resolved_at: Option<&'a str>,
    /// How many times it was escalated (default 0).
    pub escalation_tier: i64,
    /// The agent's confidence, 0 to 1.
    pub confidence: Option<f64>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> HitlPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        let sla_seconds = o.opt_i64("sla_seconds")?.unwrap_or(3600);
        if sla_seconds <= 0 {
            return Err(EventError::invalid(
                o.path("sla_seconds"),
                "a positive integer",
                &sla_seconds.to_string(),
            ));
        }
        Ok(Self {
            decision_id: o.non_empty("decision_id")?,
            agent_id: o.non_empty("agent_id")?,
            risk_tier: o.one_of("risk_tier")?,
            status: o.one_of("status")?,
            reason: o.non_empty("reason")?,
            reviewer: o.opt_str("reviewer")?,
            sla_seconds,
            queued_at: o.opt_str("queued_at")?,
            resolved_at: o.opt_str("resolved_at")?,
            escalation_tier: o.opt_i64("escalation_tier")?.unwrap_or(0),
            confidence: o.opt_f64_where("confidence", "a number from 0 to 1", unit_interval)?,
            raw: o.map,
        })
    }
}
view_try_from!(HitlPayload, "payload");

/// A consent record (`ConsentPayload`): `consent.granted`, `.revoked`, `.violation`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentPayload<'a> {
    /// The data subject (non-empty).
    pub subject_id: &'a str,
    /// The scope consented to (non-empty).
    pub scope: &'a str,
    /// The purpose (non-empty).
    pub purpose: &'a str,
    /// The record's state.
    pub status: ConsentStatus,
    /// The legal basis (default `consent`).
    pub legal_basis: LegalBasis,
    /// When the consent expires.
    pub expiry: Option<&'a str>,
    /// The agent concerned.
    pub agent_id: Option<&'a str>,
    /// What the violation was.
    pub violation_detail: Option<&'a str>,
    /// The data categories covered.
    pub data_categories: Vec<&'a str>,
    /// The whole payload object.
    pub raw: &'a Map,
}

impl<'a> ConsentPayload<'a> {
    fn read(o: &Obj<'a>) -> Result<Self> {
        Ok(Self {
            subject_id: o.non_empty("subject_id")?,
            scope: o.non_empty("scope")?,
            purpose: o.non_empty("purpose")?,
            status: o.one_of("status")?,
            legal_basis: o.opt_one_of("legal_basis")?.unwrap_or(LegalBasis::Consent),
            expiry: o.opt_str("expiry")?,
            agent_id: o.opt_str("agent_id")?,
            violation_detail: o.opt_str("violation_detail")?,
            data_categories: o.str_list("data_categories")?,
            raw: o.map,
        })
    }
}
view_try_from!(ConsentPayload, "payload");

/// The view registered for an event's type, read from its payload.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[expect(
    clippy::large_enum_variant,
    reason = "a view is read, matched and dropped; boxing the span view would cost an allocation per read"
)]
pub enum PayloadView<'a> {
    /// `llm.trace.span.*`
    Span(SpanPayload<'a>),
    /// `model_registry.*`
    ModelRegistry(ModelRegistryPayload<'a>),
    /// `llm.audit.key.rotated`
    KeyRotated(KeyRotatedPayload<'a>),
    /// `llm.audit.tombstone`
    Tombstone(TombstonePayload<'a>),
    /// `llm.guard.*`
    Guard(GuardPayload<'a>),
    /// `llm.redact.pii.detected` and `llm.redact.phi.detected`
    RedactDetected(RedactDetectedPayload<'a>),
    /// `llm.redact.applied`
    RedactApplied(RedactAppliedPayload<'a>),
    /// `drift.*`
    Drift(DriftPayload<'a>),
    /// `decision.*`
    Decision(DecisionPayload<'a>),
    /// `hitl.*`
    Hitl(HitlPayload<'a>),
    /// `consent.*`
    Consent(ConsentPayload<'a>),
}

impl<'a> PayloadView<'a> {
    /// Reads `payload` with the view registered for `event_type`; `Ok(None)` when no view is registered for it
    /// (the other registered types and every extension type).
    pub fn read(event_type: RegisteredType, payload: &'a Value) -> Result<Option<Self>> {
        let Some(kind) = ViewKind::of(event_type) else {
            return Ok(None);
        };
        let o = Obj::new(payload, "payload")?;
        Ok(Some(match kind {
            ViewKind::Span => Self::Span(SpanPayload::read(&o)?),
            ViewKind::ModelRegistry => Self::ModelRegistry(ModelRegistryPayload::read(&o)?),
            ViewKind::KeyRotated => Self::KeyRotated(KeyRotatedPayload::read(&o)?),
            ViewKind::Tombstone => Self::Tombstone(TombstonePayload::read(&o)?),
            ViewKind::Guard => Self::Guard(GuardPayload::read(&o)?),
            ViewKind::RedactPii => Self::RedactDetected(RedactDetectedPayload::read(&o, false)?),
            ViewKind::RedactPhi => Self::RedactDetected(RedactDetectedPayload::read(&o, true)?),
            ViewKind::RedactApplied => Self::RedactApplied(RedactAppliedPayload::read(&o)?),
            ViewKind::Drift => Self::Drift(DriftPayload::read(&o)?),
            ViewKind::Decision => Self::Decision(DecisionPayload::read(&o)?),
            ViewKind::Hitl => Self::Hitl(HitlPayload::read(&o)?),
            ViewKind::Consent => Self::Consent(ConsentPayload::read(&o)?),
        }))
    }

    /// Whether a view is registered for `event_type`.
    pub fn is_registered_for(event_type: RegisteredType) -> bool {
        ViewKind::of(event_type).is_some()
    }
}

/// Which view reads which registered type.
#[derive(Clone, Copy)]
enum ViewKind {
    Span,
    ModelRegistry,
    KeyRotated,
    Tombstone,
    Guard,
    RedactPii,
    RedactPhi,
    RedactApplied,
    Drift,
    Decision,
    Hitl,
    Consent,
}

impl ViewKind {
    fn of(event_type: RegisteredType) -> Option<Self> {
        use RegisteredType as T;
        Some(match event_type {
            T::LlmTraceSpanStarted | T::LlmTraceSpanCompleted | T::LlmTraceSpanFailed => Self::Span,
            T::ModelRegistryRegistered | T::ModelRegistryDeprecated | T::ModelRegistryRetired => {
                Self::ModelRegistry
            }
            T::LlmAuditKeyRotated => Self::KeyRotated,
            T::LlmAuditTombstone => Self::Tombstone,
            T::LlmGuardInputBlocked
            | T::LlmGuardInputPassed
            | T::LlmGuardOutputBlocked
            | T::LlmGuardOutputPassed => Self::Guard,
            T::LlmRedactPiiDetected => Self::RedactPii,
            T::LlmRedactPhiDetected => Self::RedactPhi,
            T::LlmRedactApplied => Self::RedactApplied,
            T::DriftDetected | T::DriftThresholdBreach | T::DriftResolved => Self::Drift,
            T::DecisionMade | T::DecisionRevised | T::DecisionRejected => Self::Decision,
            T::HitlQueued | T::HitlReviewed | T::HitlEscalated | T::HitlTimeout => Self::Hitl,
            T::ConsentGranted | T::ConsentRevoked | T::ConsentViolation => Self::Consent,
            _ => return None,
        })
    }
}

impl Event {
    /// Reads the payload with the view registered for the event's type; `Ok(None)` when none is registered.
    pub fn payload_view(&self) -> Result<Option<PayloadView<'_>>> {
        match self.event_type().registered() {
            Some(t) => PayloadView::read(t, self.payload()),
            None => Ok(None),
        }
    }

    /// Checks the payload against the view registered for the event's type, when there is one; the error names
    /// the offending member. Events of other types pass.
    pub fn check_payload_strict(&self) -> Result<()> {
        self.payload_view().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn err_field(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().field().to_owned()
    }

    const SPAN: &str = r#"{"span_id":"00f067aa0ba902b7","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",
        "span_name":"chat","operation":"chat","span_kind":"CLIENT","status":"ok",
        "start_time_unix_nano":1000000000,"end_time_unix_nano":2250000000,"duration_ms":1250.0,
        "model":{"system":"openai","name":"gpt-4o"},
        "token_usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200},
        "cost":{"input_cost_usd":0.001,"output_cost_usd":0.002,"total_cost_usd":0.003},
        "tool_calls":[],"reasoning_steps":[],"extra_member":{"kept":null}}"#;

    #[test]
    fn span_view_reads_model_and_tokens() {
        let v = parse(SPAN).unwrap();
        let span = SpanPayload::try_from(&v).unwrap();
        assert_eq!(span.model.unwrap().name, "gpt-4o");
        assert_eq!(span.token_usage.unwrap().total_tokens, 200);
        assert_eq!(span.status, SpanStatus::Ok);
        assert!(span.raw.contains_key("extra_member"));
        assert_eq!(span.cost.unwrap().currency, "USD");
    }

    #[test]
    fn span_view_errors_name_the_member() {
        let bad = |from: &str, to: &str| {
            let v = parse(&SPAN.replacen(from, to, 1)).unwrap();
            err_field(SpanPayload::try_from(&v))
        };
        assert_eq!(
            bad(r#""name":"gpt-4o""#, r#""name":"""#),
            "payload.model.name"
        );
        assert_eq!(
            bad(r#""total_tokens":200"#, r#""total_tokens":-1"#),
            "payload.token_usage.total_tokens"
        );
        assert_eq!(
            bad(r#""total_tokens":200"#, r#""total_tokens":2.5"#),
            "payload.token_usage.total_tokens"
        );
        assert_eq!(
            bad(r#""status":"ok""#, r#""status":"fine""#),
            "payload.status"
        );
        assert_eq!(
            bad(r#""duration_ms":1250.0"#, r#""duration_ms":5.0"#),
            "payload.duration_ms"
        );
        assert_eq!(
            bad(r#""span_id":"00f067aa0ba902b7""#, r#""span_id":"XX""#),
            "payload.span_id"
        );
        assert_eq!(
            bad(r#""total_cost_usd":0.003"#, r#""total_cost_usd":1"#),
            "payload.cost.total_cost_usd"
        );
        assert_eq!(
            bad(r#""system":"openai""#, r#""system":"_custom""#),
            "payload.model.custom_system_name"
        );
        assert_eq!(bad(r#""span_name":"chat","#, ""), "payload.span_name");
        let msg = {
            let v = parse(&SPAN.replacen(r#""status":"ok""#, r#""status":"fine""#, 1)).unwrap();
            SpanPayload::try_from(&v).unwrap_err().to_string()
        };
        assert!(msg.contains(r#"one of "ok", "error", "timeout""#), "{msg}");
    }

    #[test]
    fn registry_and_audit_views() {
        let v = parse(
            r#"{"model_id":"m1","name":"M","version":"1","risk_tier":"high","owner":"o","purpose":"p",
                "status":"deprecated","deployment_date":"2026-01-01T00:00:00.000000Z","decommission_date":null,
                "metadata":{"deprecation_reason":"old"}}"#,
        )
        .unwrap();
        let m = ModelRegistryPayload::try_from(&v).unwrap();
        assert_eq!(
            (m.status, m.risk_tier, m.decommission_date),
            (ModelStatus::Deprecated, RiskTier::High, None)
        );
        let v = parse(r#"{"model_id":"m1","name":"M","version":"1","risk_tier":"extreme","owner":"o","purpose":"p"}"#)
            .unwrap();
        assert_eq!(
            err_field(ModelRegistryPayload::try_from(&v)),
            "payload.risk_tier"
        );

        let hash = "a".repeat(64);
        let v = parse(&format!(r#"{{"rotation_marker":"true","new_secret_hash":"{hash}","rotated_by":"ops","reason":"x"}}"#))
            .unwrap();
        let k = KeyRotatedPayload::try_from(&v).unwrap();
        assert_eq!((k.rotated_by, k.new_secret_hash), ("ops", [0xaa; 32]));
        let v = parse(r#"{"rotation_marker":"true","new_secret_hash":"AB","rotated_by":"ops"}"#)
            .unwrap();
        assert_eq!(
            err_field(KeyRotatedPayload::try_from(&v)),
            "payload.new_secret_hash"
        );
        let v = parse(r#"{"action":"key_rotation"}"#).unwrap();
        assert_eq!(
            err_field(KeyRotatedPayload::try_from(&v)),
            "payload.rotation_marker"
        );

        let v = parse(&format!(
            r#"{{"erased_subject_id_hash":"{hash}","original_event_type":"decision.made","erased_by":"dpo","reason":"r"}}"#
        ))
        .unwrap();
        assert_eq!(
            TombstonePayload::try_from(&v).unwrap().erasure_request_ref,
            None
        );
    }

    #[test]
    fn governance_views() {
        let v = parse(
            r#"{"decision_id":"d","agent_id":"a","decision_type":"routing","input_summary":"","output_summary":"",
                "confidence":0.5,"latency_ms":3,"rationale_hash":"h",
                "decision_drivers":[{"factor_name":"f","weight":0.5,"contribution":-1,"evidence":"e","confidence":1}]}"#,
        )
        .unwrap();
        assert_eq!(
            DecisionPayload::try_from(&v)
                .unwrap()
                .decision_drivers
                .len(),
            1
        );
        let v = parse(
            r#"{"decision_id":"d","agent_id":"a","decision_type":"routing","input_summary":"","output_summary":"",
                "confidence":0.5,"latency_ms":3,"rationale_hash":"h",
                "decision_drivers":[{"factor_name":"f","weight":1.5,"contribution":0,"evidence":"e","confidence":1}]}"#,
        )
        .unwrap();
        assert_eq!(
            err_field(DecisionPayload::try_from(&v)),
            "payload.decision_drivers[0].weight"
        );

        let v = parse(r#"{"decision_id":"d","agent_id":"a","risk_tier":"low","status":"queued","reason":"r"}"#).unwrap();
        let h = HitlPayload::try_from(&v).unwrap();
        assert_eq!((h.sla_seconds, h.escalation_tier), (3600, 0));
        let v = parse(r#"{"decision_id":"d","agent_id":"a","risk_tier":"low","status":"queued","reason":"r","sla_seconds":0}"#)
            .unwrap();
        assert_eq!(err_field(HitlPayload::try_from(&v)), "payload.sla_seconds");

        let v = parse(r#"{"subject_id":"s","scope":"x","purpose":"p","status":"granted","data_categories":["a",1]}"#)
            .unwrap();
        assert_eq!(
            err_field(ConsentPayload::try_from(&v)),
            "payload.data_categories[1]"
        );

        let v = parse(
            r#"{"metric_name":"m","agent_id":"a","current_value":1,"baseline_mean":0,"baseline_stddev":1,
                "z_score":1,"threshold":3,"window_seconds":60,"status":"resolved","kl_divergence":null}"#,
        )
        .unwrap();
        assert_eq!(DriftPayload::try_from(&v).unwrap().kl_divergence, None);

        let v = parse(r#"{"classifier":"c","direction":"sideways","action":"blocked","score":1}"#)
            .unwrap();
        assert_eq!(err_field(GuardPayload::try_from(&v)), "payload.direction");

        let v = parse(
            r#"{"detected_categories":["ssn"],"field_names":["x"],"sensitivity_level":"HIGH"}"#,
        )
        .unwrap();
        assert!(RedactDetectedPayload::pii(&v).is_ok());
        assert_eq!(
            err_field(RedactDetectedPayload::phi(&v)),
            "payload.sensitivity_level"
        );
        let v =
            parse(r#"{"detected_categories":[],"field_names":["x"],"sensitivity_level":"PII"}"#)
                .unwrap();
        assert_eq!(
            err_field(RedactDetectedPayload::pii(&v)),
            "payload.detected_categories"
        );
        let v = parse(r#"{"policy_min_sensitivity":"PII","redacted_by":"r","redacted_count":-2}"#)
            .unwrap();
        assert_eq!(
            err_field(RedactAppliedPayload::try_from(&v)),
            "payload.redacted_count"
        );
    }

    #[test]
    fn every_view_is_registered_for_its_types() {
        let empty = parse(r#"{"x":1}"#).unwrap();
        for &t in RegisteredType::ALL {
            let read = PayloadView::read(t, &empty);
            // A view that exists rejects an unrelated payload; a type without a view passes it.
            assert_eq!(read.is_err(), PayloadView::is_registered_for(t), "{t}");
        }
    }
}
