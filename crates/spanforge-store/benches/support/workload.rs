//! The workload the ledger's bench and its `write_loop` and `verify_rss` examples share: a
//! realistic `llm.trace.span.completed` event of about 500 bytes (before signing), spread over
//! four tenants, 97 actors and 13 sessions, one millisecond apart.

use spanforge_event::{EventId, Timestamp};

/// The first event's timestamp, in microseconds since the Unix epoch (2026-01-03T10:00:00Z).
const T0: i64 = 1_767_434_400_000_000;

/// Event `n` of the workload as canonical JSON. `salt` fills the high bits of the ULID's random
/// part, so workloads with different salts never share an event id.
pub(crate) fn event_json(n: u64, salt: u16) -> Result<String, Box<dyn std::error::Error>> {
    let ts_micros = T0 + n as i64 * 1000;
    let id = EventId::from_parts(
        (ts_micros / 1000) as u64,
        (u128::from(salt) << 64) | u128::from(n),
    )?;
    let ts = Timestamp::from_unix_micros(ts_micros)?;
    let org = ["acme", "globex", "initech", "umbrella"][(n % 4) as usize];
    Ok(format!(
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
    ))
}
