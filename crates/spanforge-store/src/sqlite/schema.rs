//! The SQLite schema and its versioned migrations (`PRAGMA user_version`).
//!
//! Migrations run in order inside one `IMMEDIATE` transaction when a database is opened; a
//! database whose version is newer than [`LATEST`] is refused instead of being misread.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Error, Result};

/// Version 1: the initial ledger.
///
/// * `events.id` is `(tenant << 40) | seq`, so rowid order is `(tenant, seq)` order and a
///   tenant's chain is one contiguous rowid range; no separate `(tenant, seq)` index is needed.
/// * Three secondary indexes: `event_id` (unique), `(tenant, ts)` for time queries and
///   `(tenant, model_id, ts)` for model queries. Key rotations have a partial index of their own,
///   so it costs nothing per ordinary event; event-type prefixes filter the time index.
/// * `events.nodes` holds the interior Merkle nodes the event's append completed
///   ([`NewRecord::nodes`](crate::NewRecord::nodes)); with `leaf_hash` that is the whole tree.
/// * `events`, `keys` and `checkpoints` refuse `UPDATE` and `DELETE` through triggers. Only
///   `tenants` (the chain heads) is updated in place.
const V1: &str = r#"
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE tenants (
    tenant        INTEGER PRIMARY KEY,
    org_id        TEXT UNIQUE,
    size          INTEGER NOT NULL CHECK (size >= 0),
    head_event_id TEXT,
    frontier      BLOB NOT NULL,
    key_id        TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX tenants_one_default ON tenants ((org_id IS NULL)) WHERE org_id IS NULL;

CREATE TABLE keys (
    tenant            INTEGER NOT NULL REFERENCES tenants (tenant),
    key_id            TEXT NOT NULL,
    key_check         TEXT NOT NULL,
    first_seq         INTEGER NOT NULL,
    rotation_event_id TEXT,
    previous_key_id   TEXT,
    PRIMARY KEY (tenant, key_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    tenant     INTEGER NOT NULL REFERENCES tenants (tenant) CHECK ((id >> 40) = tenant),
    event_id   TEXT NOT NULL UNIQUE,
    ts         INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    model_id   TEXT,
    actor_id   TEXT,
    session_id TEXT,
    key_id     TEXT NOT NULL,
    envelope   BLOB NOT NULL,
    leaf_hash  BLOB NOT NULL,
    nodes      BLOB NOT NULL
) STRICT;
CREATE INDEX events_time ON events (tenant, ts);
CREATE INDEX events_model ON events (tenant, model_id, ts) WHERE model_id IS NOT NULL;
CREATE INDEX events_rotation ON events (tenant) WHERE event_type = 'llm.audit.key.rotated';

CREATE TABLE checkpoints (
    tenant INTEGER NOT NULL REFERENCES tenants (tenant),
    size   INTEGER NOT NULL,
    root   BLOB NOT NULL,
    note   TEXT NOT NULL,
    PRIMARY KEY (tenant, size)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: events are append-only'); END;
CREATE TRIGGER keys_append_only_update BEFORE UPDATE ON keys
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: key records are append-only'); END;
CREATE TRIGGER keys_append_only_delete BEFORE DELETE ON keys
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: key records are append-only'); END;
CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: checkpoints are append-only'); END;
"#;

/// Version 2: payload encryption at rest and crypto-shredding (`docs/adr/003-encrypted-payloads.md`).
///
/// * `data_keys` holds one wrapped data key per (tenant, subject scope). The scope columns are
///   keyed hashes (`subject_hash`) of the event's `actor_id`, `session_id` and payload
///   `subject_id`, never the identifiers themselves. It is the only table erasure deletes from
///   and the only one key rotation updates (`wrapped`, `kek`); there are no triggers on it.
/// * `erased_keys` records, append-only, which data key an erasure destroyed and which erasure
///   event (in the tenant's chain) recorded it, so verification can tell an erased payload
///   from a data key that went missing.
/// * Whether the ledger encrypts payloads is the `payload_encryption` row of `meta`.
const V2: &str = r#"
CREATE TABLE data_keys (
    key_id       TEXT PRIMARY KEY,
    tenant       INTEGER NOT NULL REFERENCES tenants (tenant),
    actor_hash   TEXT,
    session_hash TEXT,
    subject_hash TEXT,
    kek          TEXT NOT NULL,
    wrapped      BLOB NOT NULL
) STRICT;
CREATE INDEX data_keys_scope ON data_keys (tenant, actor_hash, session_hash, subject_hash);
CREATE INDEX data_keys_actor ON data_keys (actor_hash) WHERE actor_hash IS NOT NULL;
CREATE INDEX data_keys_session ON data_keys (session_hash) WHERE session_hash IS NOT NULL;
CREATE INDEX data_keys_subject ON data_keys (subject_hash) WHERE subject_hash IS NOT NULL;

CREATE TABLE erased_keys (
    key_id           TEXT PRIMARY KEY,
    tenant           INTEGER NOT NULL REFERENCES tenants (tenant),
    erasure_event_id TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TRIGGER erased_keys_append_only_update BEFORE UPDATE ON erased_keys
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: erasure records are append-only'); END;
CREATE TRIGGER erased_keys_append_only_delete BEFORE DELETE ON erased_keys
BEGIN SELECT RAISE(ABORT, 'spanforge ledger: erasure records are append-only'); END;
"#;

/// The migrations, in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

fn sql(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| Error::backend(operation, e)
}

/// Brings the database up to [`LATEST`], creating the ledger (and its id) if it is empty.
/// Returns the ledger id.
pub(crate) fn migrate(
    conn: &mut Connection,
    new_ledger_id: impl FnOnce() -> Result<String>,
) -> Result<String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the schema migration"))?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql("reading the schema version"))?;
    if version > LATEST {
        return Err(Error::SchemaTooNew {
            found: version,
            supported: LATEST,
        });
    }
    if version < 0 {
        return Err(Error::NotALedger {
            reason: format!("negative schema version {version}"),
        });
    }
    if version == 0 {
        let objects: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(sql("inspecting the database"))?;
        if objects > 0 {
            return Err(Error::NotALedger {
                reason: "the database already holds tables but no spanforge schema".to_owned(),
            });
        }
    }
    // `version` is within 0..=LATEST here, so the range is in bounds.
    let pending = MIGRATIONS
        .iter()
        .skip(usize::try_from(version).unwrap_or(0));
    for (step, migration) in pending.enumerate() {
        tx.execute_batch(migration).map_err(|e| {
            Error::backend(
                format!("applying schema migration {}", version + step as i64 + 1),
                e,
            )
        })?;
    }
    if version == 0 {
        let id = new_ledger_id()?;
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('ledger_id', ?1), ('created_by', ?2)",
            rusqlite::params![id, concat!("spanforge-store ", env!("CARGO_PKG_VERSION"))],
        )
        .map_err(sql("recording the ledger id"))?;
    }
    if version != LATEST {
        tx.pragma_update(None, "user_version", LATEST)
            .map_err(sql("recording the schema version"))?;
    }
    let id: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE name = 'ledger_id'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql("reading the ledger id"))?;
    tx.commit()
        .map_err(sql("committing the schema migration"))?;
    id.ok_or_else(|| Error::NotALedger {
        reason: "the ledger id is missing from the meta table".to_owned(),
    })
}
