//! Shared helpers: realistic events, keys, ledgers in temp dirs, and raw-SQL "attacker" access.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use spanforge_chain::compat::{self, HmacSecret};
use spanforge_chain::merkle::{Frontier, leaf_hash};
use spanforge_chain::note::NoteSigner;
use spanforge_event::{Event, EventId, Timestamp};
use spanforge_store::{HmacKey, InputLine, KeyId, Location, SqliteLedger, StaticKeys, TenantId};

pub(crate) const SECRET: &str = "ledger-test-secret-0123456789abcdefghijklmnop";
pub(crate) const SECRET_B: &str = "ledger-test-secret-B-9876543210zyxwvutsrqponm";
/// 2026-01-03T10:00:00Z in microseconds.
pub(crate) const T0: i64 = 1_767_434_400_000_000;

pub(crate) fn key() -> HmacKey {
    HmacKey::new(KeyId::new("k1").unwrap(), HmacSecret::new(SECRET).unwrap())
}

pub(crate) fn key_b() -> HmacKey {
    HmacKey::new(
        KeyId::new("k2").unwrap(),
        HmacSecret::new(SECRET_B).unwrap(),
    )
}

pub(crate) fn log_signer(ledger: &SqliteLedger) -> NoteSigner {
    NoteSigner::from_seed(&ledger.log_key_name(), &[42; 32]).unwrap()
}

/// The default key for every tenant plus the ledger's checkpoint key.
pub(crate) fn keys(ledger: &SqliteLedger) -> StaticKeys {
    StaticKeys::new()
        .with_default_key(key())
        .with_checkpoint_signer(log_signer(ledger))
}

pub(crate) struct TestLedger {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
    pub(crate) ledger: SqliteLedger,
}

pub(crate) fn ledger() -> TestLedger {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    TestLedger { dir, path, ledger }
}

/// A distinct, valid ULID for event `n` at `ts_micros`.
pub(crate) fn event_id(n: u64, ts_micros: i64) -> EventId {
    EventId::from_parts(
        (ts_micros / 1000) as u64,
        (0xABCD_u128 << 64) | u128::from(n),
    )
    .unwrap()
}

/// A realistic ~500-byte span event.
pub(crate) fn event_json(
    n: u64,
    org: Option<&str>,
    ts_micros: i64,
    event_type: &str,
    model: &str,
) -> String {
    let id = event_id(n, ts_micros);
    let ts = Timestamp::from_unix_micros(ts_micros).unwrap();
    let org = org
        .map(|o| format!(r#""org_id":"{o}","#))
        .unwrap_or_default();
    format!(
        concat!(
            r#"{{"actor_id":"user-{actor}","event_id":"{id}","event_type":"{ty}",{org}"#,
            r#""payload":{{"duration_ms":1250.5,"finish_reason":"stop","model":{{"name":"{model}","system":"openai"}},"#,
            r#""n":{n},"operation":"chat","span_id":"00f067aa0ba902b7","span_kind":"CLIENT","span_name":"chat","#,
            r#""status":"ok","temperature":0.7,"token_usage":{{"input_tokens":120,"output_tokens":80,"total_tokens":200}},"#,
            r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}},"schema_version":"2.0","session_id":"s-{session}","#,
            r#""source":"support-bot@3.0.0","span_id":"00f067aa0ba902b7","tags":{{"env":"prod","region":"eu-west-1"}},"#,
            r#""timestamp":"{ts}","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}"#
        ),
        actor = n % 7,
        id = id,
        ty = event_type,
        org = org,
        model = model,
        n = n,
        session = n % 3,
        ts = ts.as_str(),
    )
}

pub(crate) fn event(n: u64, org: Option<&str>) -> Event {
    Event::from_json_str(&event_json(
        n,
        org,
        T0 + n as i64 * 1_000_000,
        "llm.trace.span.completed",
        "gpt-4o",
    ))
    .unwrap()
}

/// `count` events numbered from `start`, one second apart, for `org`.
pub(crate) fn events(start: u64, count: u64, org: Option<&str>) -> Vec<Event> {
    (start..start + count).map(|n| event(n, org)).collect()
}

pub(crate) fn lines(source: &str, events: &[Event]) -> Vec<spanforge_store::Result<InputLine>> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(InputLine::json(
                Location::new(source, i as u64 + 1),
                e.to_canonical_json(),
            ))
        })
        .collect()
}

pub(crate) fn text_lines(
    source: &str,
    texts: &[String],
) -> Vec<spanforge_store::Result<InputLine>> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Ok(InputLine::json(
                Location::new(source, i as u64 + 1),
                t.clone(),
            ))
        })
        .collect()
}

/// Signs `events` as one reference chain with `secret`.
pub(crate) fn reference_chain(events: &[Event], secret: &str) -> Vec<Event> {
    let key = HmacSecret::new(secret).unwrap();
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        let prev = out.last().map(|p| *p.event_id());
        out.push(compat::sign(e.clone(), &key, prev.as_ref()));
    }
    out
}

/// A second connection to the database file, as an attacker with file access would open it.
pub(crate) fn attacker(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS events_append_only_update;
         DROP TRIGGER IF EXISTS events_append_only_delete;
         DROP TRIGGER IF EXISTS checkpoints_append_only_delete;
         DROP TRIGGER IF EXISTS keys_append_only_delete;",
    )
    .unwrap();
    conn
}

/// The lines of a whole-chain export of `tenant`.
pub(crate) fn export_lines(ledger: &SqliteLedger, tenant: &TenantId) -> Vec<String> {
    ledger
        .export(tenant, None, None)
        .unwrap()
        .collect::<spanforge_store::Result<_>>()
        .unwrap()
}

pub(crate) fn envelope_of(conn: &Connection, event_id: &str) -> String {
    let bytes: Vec<u8> = conn
        .query_row(
            "SELECT envelope FROM events WHERE event_id = ?1",
            [event_id],
            |r| r.get(0),
        )
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

pub(crate) fn count_rows(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

/// Recomputes every leaf hash, stored node and the head of a tenant after an attacker edited
/// envelopes, so the tree is internally consistent again (only checkpoints can tell).
pub(crate) fn rebuild_tree(conn: &Connection, tenant_org: Option<&str>) {
    let tenant: i64 = match tenant_org {
        Some(org) => conn.query_row("SELECT tenant FROM tenants WHERE org_id = ?1", [org], |r| {
            r.get(0)
        }),
        None => conn.query_row("SELECT tenant FROM tenants WHERE org_id IS NULL", [], |r| {
            r.get(0)
        }),
    }
    .unwrap();
    let rows: Vec<(i64, Vec<u8>, String)> = conn
        .prepare("SELECT id, envelope, event_id FROM events WHERE tenant = ?1 ORDER BY id")
        .unwrap()
        .query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut frontier = Frontier::new();
    for (id, envelope, _) in &rows {
        let leaf = leaf_hash(envelope);
        let mut nodes = Vec::new();
        frontier
            .append(leaf, |n, h| {
                if n.level > 0 {
                    nodes.extend_from_slice(h.as_bytes());
                }
            })
            .unwrap();
        conn.execute(
            "UPDATE events SET leaf_hash = ?2, nodes = ?3 WHERE id = ?1",
            rusqlite::params![id, leaf.as_bytes().as_slice(), nodes],
        )
        .unwrap();
    }
    conn.execute(
        "UPDATE tenants SET size = ?2, frontier = ?3, head_event_id = ?4 WHERE tenant = ?1",
        rusqlite::params![
            tenant,
            rows.len() as i64,
            frontier.to_bytes(),
            rows.last().map(|r| r.2.clone())
        ],
    )
    .unwrap();
}

pub(crate) fn default_tenant() -> TenantId {
    TenantId::Default
}

pub(crate) fn org(name: &str) -> TenantId {
    TenantId::org(name).unwrap()
}

/// Asserts that `err` names `location` (`file:line` or `batch:n`) as the input it refused.
#[track_caller]
pub(crate) fn assert_refused_at(err: &spanforge_store::Error, location: &str) {
    assert_eq!(
        err.location().map(ToString::to_string).as_deref(),
        Some(location),
        "{err}"
    );
}
