//! The workloads the ledger's bench and its `write_loop` and `verify_rss` examples share, spread
//! over four tenants and 97 actors, one millisecond apart. Two shapes of event:
//!
//! * [`Shape::Span`] (the default): a full `llm.trace.span.completed` span with trace and span
//!   ids, tags, one of 13 sessions and a 367-byte payload: 647 bytes unsigned, 862 signed.
//! * [`Shape::Reference`]: the size #3's targets are stated for ("~500-byte events", against the
//!   reference SDK's benchmark, whose workload is eight event types in rotation with a ~110-byte
//!   payload, `org_id` and `actor_id`, 529 bytes per signed JSON line): the same eight-type
//!   rotation with a 109-byte payload, 324–335 bytes unsigned and, as the ledger stores them,
//!   536–550 signed (508–511 for each tenant's first event, which has no `prev_id`).
//!
//! `SPANFORGE_BENCH_WORKLOAD=span|reference` picks one ([`Shape::from_env`]).

use spanforge_event::{EventId, Timestamp};

/// The first event's timestamp, in microseconds since the Unix epoch (2026-01-03T10:00:00Z).
const T0: i64 = 1_767_434_400_000_000;

/// The event types [`Shape::Reference`] rotates through, all ordinary (none is a tombstone, a
/// rotation or an erasure record, whose payloads verification reads).
const REFERENCE_TYPES: [&str; 8] = [
    "llm.trace.span.completed",
    "llm.cost.token.recorded",
    "llm.guard.input.passed",
    "llm.guard.output.passed",
    "llm.cache.hit",
    "llm.eval.score.recorded",
    "llm.prompt.rendered",
    "llm.redact.applied",
];

/// Which events a run is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Full span events, 862 bytes signed.
    Span,
    /// Events of the size the issue's targets name, 536–550 bytes signed.
    Reference,
}

impl Shape {
    /// The shape `SPANFORGE_BENCH_WORKLOAD` names (`span` when it is not set).
    pub(crate) fn from_env() -> Result<Self, String> {
        match std::env::var("SPANFORGE_BENCH_WORKLOAD") {
            Err(std::env::VarError::NotPresent) => Ok(Self::Span),
            Ok(name) if name == "span" => Ok(Self::Span),
            Ok(name) if name == "reference" => Ok(Self::Reference),
            Ok(name) => Err(format!(
                "SPANFORGE_BENCH_WORKLOAD={name:?}: expected \"span\" or \"reference\""
            )),
            Err(e) => Err(format!("SPANFORGE_BENCH_WORKLOAD: {e}")),
        }
    }

    /// The shape's name, as `SPANFORGE_BENCH_WORKLOAD` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Span => "span",
            Self::Reference => "reference",
        }
    }

    /// Event `n` of this shape's workload as canonical JSON. `salt` fills the high bits of the
    /// ULID's random part, so workloads with different salts never share an event id.
    pub(crate) fn event_json(
        self,
        n: u64,
        salt: u16,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let ts_micros = T0 + n as i64 * 1000;
        let id = EventId::from_parts(
            (ts_micros / 1000) as u64,
            (u128::from(salt) << 64) | u128::from(n),
        )?;
        let ts = Timestamp::from_unix_micros(ts_micros)?;
        let org = ["acme", "globex", "initech", "umbrella"][(n % 4) as usize];
        Ok(match self {
            Self::Span => format!(
                concat!(
                    r#"{{"actor_id":"user-{a}","event_id":"{id}","event_type":"llm.trace.span.completed","org_id":"{org}","#,
                    r#""payload":{{"duration_ms":1250.5,"finish_reason":"stop","model":{{"name":"gpt-4o","system":"openai"}},"#,
                    r#""operation":"chat","span_id":"00f067aa0ba902b7","span_kind":"CLIENT","status":"ok","temperature":0.7,"#,
                    r#""token_usage":{{"input_tokens":120,"output_tokens":80,"total_tokens":200}},"#,
                    r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}},"schema_version":"2.0","session_id":"s-{s}","#,
                    r#""source":"support-bot@3.0.0","span_id":"00f067aa0ba902b7","tags":{{"env":"prod"}},"#,
                    r#""timestamp":"{ts}","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}"#
                ),
                a = n % 97,
                id = id,
                org = org,
                s = n % 13,
                ts = ts.as_str(),
            ),
            Self::Reference => format!(
                concat!(
                    r#"{{"actor_id":"user-{a:02}","event_id":"{id}","event_type":"{t}","org_id":"{org}","#,
                    r#""payload":{{"input_tokens":{i},"latency_ms":1250.5,"model":"gpt-4o","operation":"chat","#,
                    r#""output_tokens":{o},"status":"ok"}},"schema_version":"2.0","#,
                    r#""source":"support-bot@3.0.0","timestamp":"{ts}"}}"#
                ),
                a = n % 97,
                id = id,
                t = REFERENCE_TYPES[(n % 8) as usize],
                org = org,
                i = 100 + n % 900,
                o = 10 + n % 90,
                ts = ts.as_str(),
            ),
        })
    }
}
