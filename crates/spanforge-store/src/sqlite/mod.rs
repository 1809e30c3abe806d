//! [`SqliteBackend`]: the ledger in one SQLite file (bundled SQLite, WAL, `synchronous=FULL`).
//!
//! Connection settings and why:
//! * `journal_mode=WAL`: readers never block the writer and a commit appends to one file.
//! * `synchronous=FULL`: in WAL mode, `NORMAL` does not sync the log on commit, so a
//!   transaction the ledger acknowledged could vanish on power loss. `FULL` syncs the WAL on
//!   every commit; group commit (many events per transaction) keeps that affordable.
//! * `busy_timeout=5000`: a second process waits for the write lock instead of failing at once.
//! * `page_size=16384` for new ledgers: rows are about 1 KiB, and with 4 KiB pages splitting
//!   pages was a third of the insert cost. Existing ledgers keep their page size.
//! * Checkpoints (copying the WAL back into the database and syncing it) run on a background
//!   thread with its own connection, a `PASSIVE` pass whenever a commit leaves more than 32 MiB
//!   in the WAL, so no commit pays for one (`wal_autocheckpoint=0` on the writing connection). A checkpoint only moves frames that
//!   are already durable in the WAL, so acknowledgement and crash safety do not depend on it.
//!   When the WAL passes 128 MiB, a commit waits for a pass that started after it, so that the
//!   next transaction can rewind the WAL instead of growing it for as long as ingest runs. Where
//!   the thread cannot start (a database without a file name), commits checkpoint themselves
//!   every 32 MiB of WAL (`wal_autocheckpoint`, 8 times SQLite's default).
//! * `cache_size=-65536` (64 MiB) from a connection's first write transaction on: a group
//!   commit of 8,192 ~1 KiB events dirties about 10 MiB of table and index pages, which then
//!   stay in the cache until the commit instead of spilling into the WAL early. Until then (a
//!   process that only verifies or queries) the cache is 8 MiB: scans read each page once, and a
//!   larger cache would only keep pages they have passed, as resident memory.
//! * `foreign_keys=ON`: events, keys and checkpoints must name an existing tenant.
//! * `secure_delete=ON`: a deleted or overwritten cell (an erased or re-wrapped data key) is
//!   zeroed in its page instead of lingering in free space; after an erasure
//!   [`Backend::scrub`] truncates the WAL so no old page copy survives there either.
//! * Write transactions are `BEGIN IMMEDIATE`, so the write lock is taken up front and a
//!   transaction never fails half-way on a lock upgrade.

mod schema;

use std::path::Path;
use std::time::Duration;

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use spanforge_chain::merkle::{Frontier, HASH_LEN, Hash, NodeId};
use spanforge_event::EventId;

pub use schema::LATEST as SCHEMA_VERSION;

use crate::backend::{
    Backend, CheckpointRecord, DataKeyRecord, ErasedKeyRecord, KeyRecord, NewRecord, Reader,
    Record, RecordFilter, RecordScan, TenantKey, TenantState, Writer,
};
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::page::{RecordPage, RecordRef};
use crate::tenant::TenantId;

/// Bits of `events.id` that hold the sequence number; the tenant handle is above them.
const SEQ_BITS: u32 = 40;
/// The largest sequence number a tenant can reach.
pub const MAX_SEQ: u64 = (1 << SEQ_BITS) - 1;
/// The largest tenant handle that fits above the sequence bits in a positive 64-bit id.
const MAX_TENANT: i64 = (1 << (63 - SEQ_BITS)) - 1;

const EVENT_COLUMNS: &str = "id, tenant, event_id, ts, event_type, model_id, actor_id, session_id, key_id, envelope, leaf_hash, nodes";
/// [`EVENT_COLUMNS`] for queries, which return events, not tree state: the leaf hash and the
/// interior nodes come back empty instead of being copied out of every row.
const QUERY_COLUMNS: &str = "id, tenant, event_id, ts, event_type, model_id, actor_id, session_id, key_id, envelope, X'', X''";
/// The names in [`EVENT_COLUMNS`], for errors.
const EVENT_COLUMN_NAMES: [&str; 12] = [
    "id",
    "tenant",
    "event_id",
    "ts",
    "event_type",
    "model_id",
    "actor_id",
    "session_id",
    "key_id",
    "envelope",
    "leaf_hash",
    "nodes",
];

fn sql(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| Error::backend(operation, e)
}

fn row_id(tenant: TenantKey, seq: u64) -> Result<i64> {
    if !(1..=MAX_TENANT).contains(&tenant.0) || seq > MAX_SEQ {
        return Err(Error::Capacity(format!(
            "tenant handle {} or sequence number {seq} is outside the storage layout",
            tenant.0
        )));
    }
    // Both parts are range-checked above, so the id is positive and does not overflow.
    Ok((tenant.0 << SEQ_BITS) | seq as i64)
}

/// The first id past the tenant's range.
fn tenant_end(tenant: TenantKey) -> i64 {
    tenant.0.saturating_add(1).saturating_mul(1 << SEQ_BITS)
}

fn to_u64(value: i64, what: &'static str) -> rusqlite::Result<u64> {
    u64::try_from(value).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Integer,
            format!("{what} is negative").into(),
        )
    })
}

fn read_record(row: &Row<'_>) -> rusqlite::Result<Record> {
    let id: i64 = row.get(0)?;
    Ok(Record {
        tenant: TenantKey(row.get(1)?),
        seq: to_u64(id & MAX_SEQ as i64, "seq")?,
        event_id: row.get(2)?,
        ts_micros: row.get(3)?,
        event_type: row.get(4)?,
        model_id: row.get(5)?,
        actor_id: row.get(6)?,
        session_id: row.get(7)?,
        key_id: row.get(8)?,
        envelope: row.get(9)?,
        leaf_hash: row.get(10)?,
        nodes: row.get(11)?,
    })
}

/// Copies one row of [`EVENT_COLUMNS`] into `page` without allocating, with the same type
/// rules as [`read_record`]: text columns must hold UTF-8 text (or NULL where optional), blob
/// columns blobs.
fn push_record(row: &Row<'_>, page: &mut RecordPage) -> rusqlite::Result<()> {
    with_record(row, |r| page.push(&r))
}

/// Calls `f` with one row of [`EVENT_COLUMNS`] borrowed from SQLite, with the type rules of
/// [`read_record`].
fn with_record<T>(row: &Row<'_>, f: impl FnOnce(RecordRef<'_>) -> T) -> rusqlite::Result<T> {
    use rusqlite::types::ValueRef;
    let wrong = |i: usize, v: ValueRef<'_>| {
        rusqlite::Error::InvalidColumnType(i, EVENT_COLUMN_NAMES[i].to_owned(), v.data_type())
    };
    let text = |i: usize| -> rusqlite::Result<Option<&str>> {
        match row.get_ref(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(Some)
                .map_err(rusqlite::Error::Utf8Error),
            other => Err(wrong(i, other)),
        }
    };
    let required = |i: usize| -> rusqlite::Result<&str> {
        text(i)?.ok_or_else(|| wrong(i, rusqlite::types::ValueRef::Null))
    };
    let blob = |i: usize| -> rusqlite::Result<&[u8]> {
        match row.get_ref(i)? {
            ValueRef::Blob(b) => Ok(b),
            other => Err(wrong(i, other)),
        }
    };
    let id: i64 = row.get(0)?;
    Ok(f(RecordRef {
        tenant: TenantKey(row.get(1)?),
        seq: to_u64(id & MAX_SEQ as i64, "seq")?,
        event_id: required(2)?,
        ts_micros: row.get(3)?,
        event_type: required(4)?,
        model_id: text(5)?,
        actor_id: text(6)?,
        session_id: text(7)?,
        key_id: required(8)?,
        envelope: blob(9)?,
        leaf_hash: blob(10)?,
        nodes: blob(11)?,
    }))
}

/// The page cache of a [`SqliteScan`] connection: a scan reads each page once.
const SCAN_CACHE_KIB: i64 = 2 << 10;

/// A read-only connection of its own, in one read transaction for its whole life, for
/// [`Reader::scan_readers`].
struct SqliteScan {
    conn: Connection,
}

impl SqliteScan {
    fn open(path: &str) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::backend("opening another reader of the ledger", e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sql("setting the busy timeout"))?;
        conn.pragma_update(None, "cache_size", -SCAN_CACHE_KIB)
            .map_err(sql("sizing the page cache"))?;
        // The snapshot is taken at the first read, after the snapshot this reader was opened
        // beside.
        conn.execute_batch("BEGIN DEFERRED")
            .map_err(sql("starting a read snapshot"))?;
        Ok(Self { conn })
    }
}

impl RecordScan for SqliteScan {
    fn scan(
        &self,
        tenant: TenantKey,
        seqs: std::ops::Range<u64>,
        f: &mut dyn FnMut(RecordRef<'_>) -> bool,
    ) -> Result<()> {
        let end = seqs.end.min(MAX_SEQ + 1);
        if seqs.start >= end {
            return Ok(());
        }
        let (first, last) = (row_id(tenant, seqs.start)?, row_id(tenant, end - 1)?);
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id >= ?1 AND id <= ?2 ORDER BY id"
            ))
            .map_err(sql("reading events"))?;
        let mut rows = stmt
            .query(params![first, last])
            .map_err(sql("reading events"))?;
        while let Some(row) = rows.next().map_err(sql("reading events"))? {
            if !with_record(row, &mut *f).map_err(sql("reading events"))? {
                break;
            }
        }
        Ok(())
    }
}

/// Raw tenant row, converted to a [`TenantState`] after the statement is done.
struct TenantRow {
    key: i64,
    org_id: Option<String>,
    size: i64,
    head: Option<String>,
    frontier: Vec<u8>,
    key_id: String,
}

fn read_tenant_row(row: &Row<'_>) -> rusqlite::Result<TenantRow> {
    Ok(TenantRow {
        key: row.get(0)?,
        org_id: row.get(1)?,
        size: row.get(2)?,
        head: row.get(3)?,
        frontier: row.get(4)?,
        key_id: row.get(5)?,
    })
}

impl TenantRow {
    fn into_state(self) -> Result<TenantState> {
        let id = TenantId::from_org_id(self.org_id.as_deref());
        let corrupt = |what: String| Error::NotALedger {
            reason: format!("tenant {id}: {what}"),
        };
        let size = u64::try_from(self.size).map_err(|_| corrupt("negative size".into()))?;
        let frontier = Frontier::from_bytes(&self.frontier)
            .map_err(|e| corrupt(format!("unreadable frontier: {e}")))?;
        if frontier.size() != size {
            return Err(corrupt(format!(
                "frontier size {} differs from chain size {size}",
                frontier.size()
            )));
        }
        let head = self
            .head
            .map(|h| EventId::parse(&h).map_err(|_| corrupt(format!("unreadable head id {h:?}"))))
            .transpose()?;
        let key_id = KeyId::new(self.key_id).map_err(|e| corrupt(e.to_string()))?;
        Ok(TenantState {
            key: TenantKey(self.key),
            id,
            size,
            head,
            frontier,
            key_id,
        })
    }
}

/// The ledger stored in one SQLite database file.
#[derive(Debug)]
pub struct SqliteBackend {
    conn: Connection,
    ledger_id: String,
    /// Whether the page cache has been grown to [`WRITE_CACHE_KIB`] for writing.
    write_cache: bool,
    /// Copies the WAL into the database off the commit path; `None` when it could not start, in
    /// which case commits checkpoint themselves (`wal_autocheckpoint`).
    checkpointer: Option<Checkpointer>,
}

/// The page cache of a connection that has not written (see the module docs).
const READ_CACHE_KIB: i64 = 8 << 10;
/// The page cache from a connection's first write transaction on (see the module docs).
const WRITE_CACHE_KIB: i64 = 64 << 10;

/// The page size of new ledgers. Rows are about 1 KiB (the envelope dominates); with 4 KiB pages
/// every few inserts split a page, and the splits (`balance_nonroot`, which rewrites the
/// neighbouring pages) were a third of the insert cost. 16 KiB pages cut the writing thread's CPU
/// per event by about a fifth (`write_loop time sqlite`; 32 and 64 KiB gained little more).
const PAGE_SIZE: i64 = 16384;

/// The WAL size after a commit above which the checkpointer is asked for a pass (and the
/// `wal_autocheckpoint` size without one): pages that several commits change are then copied once
/// per pass rather than once per commit.
const CHECKPOINT_BYTES: u64 = 32 << 20;

/// Above this WAL size a commit waits for a checkpoint that started after it, so that the next
/// transaction can rewind the WAL: checkpoints that always overlap a transaction never let it
/// rewind, and the file would grow for as long as ingest runs.
const WAL_WAIT_BYTES: u64 = 128 << 20;

/// A thread with its own connection that runs a `PASSIVE` checkpoint when a commit leaves more than
/// [`CHECKPOINT_BYTES`] in the WAL, so that
/// copying the WAL back into the database (and syncing it) overlaps the next transaction instead
/// of lengthening the commit that crosses a threshold.
///
/// Durability does not depend on it: a commit is durable once its WAL frames are synced, which
/// the writer does itself (`synchronous=FULL`); a checkpoint only moves frames that are already
/// durable. A checkpoint that fails or is cut short by a crash leaves the frames in the WAL,
/// where readers and recovery find them, and the next one starts over.
#[derive(Debug)]
struct Checkpointer {
    shared: std::sync::Arc<(std::sync::Mutex<Passes>, std::sync::Condvar)>,
    wal: std::path::PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Checkpoint passes asked for and finished, counted, and whether the thread should stop.
#[derive(Debug, Default)]
struct Passes {
    requested: u64,
    done: u64,
    stop: bool,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts the thread, or returns `None`.
    fn start(path: &str) -> Option<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        // `FULL` makes the checkpoint sync the database file before the WAL may be reused.
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;")
            .ok()?;
        let shared = std::sync::Arc::new((
            std::sync::Mutex::new(Passes::default()),
            std::sync::Condvar::new(),
        ));
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("spanforge-checkpoint".to_owned())
            .spawn(move || checkpoint_loop(&conn, &theirs))
            .ok()?;
        Some(Self {
            shared,
            wal: std::path::PathBuf::from(format!("{path}-wal")),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint pass after a commit; when the WAL has grown past
    /// [`WAL_WAIT_BYTES`], waits until a pass that started after the commit has finished.
    fn after_commit(&self) {
        let wal = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if wal > CHECKPOINT_BYTES {
            self.request(wal > WAL_WAIT_BYTES);
        }
    }

    /// Asks for a checkpoint pass and, if `wait`, waits until it has finished.
    fn request(&self, wait: bool) {
        let (lock, wake) = &*self.shared;
        let Ok(mut passes) = lock.lock() else {
            return;
        };
        passes.requested += 1;
        let target = passes.requested;
        wake.notify_all();
        if wait {
            // A poisoned lock or a stopped thread ends the wait; the next commit asks again.
            while passes.done < target && !passes.stop {
                passes = match wake.wait(passes) {
                    Ok(p) => p,
                    Err(_) => return,
                };
            }
        }
    }
}

/// The checkpointer thread: one `PASSIVE` checkpoint per batch of requests, until stopped.
fn checkpoint_loop(conn: &Connection, shared: &(std::sync::Mutex<Passes>, std::sync::Condvar)) {
    let (lock, wake) = shared;
    loop {
        let target = {
            let Ok(mut passes) = lock.lock() else {
                return;
            };
            while passes.requested == passes.done && !passes.stop {
                passes = match wake.wait(passes) {
                    Ok(p) => p,
                    Err(_) => return,
                };
            }
            if passes.stop {
                return;
            }
            passes.requested
        };
        // A busy or failed checkpoint is retried on the next request.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        let Ok(mut passes) = lock.lock() else {
            return;
        };
        passes.done = target;
        wake.notify_all();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        if let Ok(mut passes) = lock.lock() {
            passes.stop = true;
            wake.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl SqliteBackend {
    /// Opens the ledger at `path`, creating the file and the schema if it does not exist, and
    /// applying pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(
            path.as_ref(),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
    }

    /// Opens an existing ledger; a missing file is an error instead of a new empty ledger (for
    /// verification, where a typo must not pass as an empty, intact ledger).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::NotALedger {
                reason: format!("{} does not exist", path.display()),
            });
        }
        Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Self> {
        let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::backend(format!("opening {}", path.display()), e))?;
        configure(&conn)?;
        let ledger_id = schema::migrate(&mut conn, new_ledger_id)?;
        // In-memory and temporary databases (no file name) cannot be opened twice.
        let checkpointer = conn
            .path()
            .filter(|p| !p.is_empty())
            .and_then(Checkpointer::start);
        if checkpointer.is_some() {
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(sql("handing checkpoints to the checkpointer"))?;
        }
        Ok(Self {
            conn,
            ledger_id,
            write_cache: false,
            checkpointer,
        })
    }

    /// The underlying connection, for diagnostics and tests (for example `EXPLAIN QUERY PLAN`).
    /// Writing through it bypasses the ledger's rules.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sql("setting the busy timeout"))?;
    // Only a database without pages takes a new page size, so this sets it for new ledgers and
    // leaves existing ones as they are (WAL mode cannot change it later).
    conn.pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(sql("setting the page size"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
        .map_err(sql("enabling WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::NotALedger {
            reason: format!("the database refused WAL mode (journal_mode={mode})"),
        });
    }
    // Without a checkpointer thread, a checkpoint copies the WAL into the database and syncs
    // both inside the commit that triggers it; every 32 MiB instead of SQLite's ~4 MiB makes
    // that happen every few group commits instead of after each.
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
         PRAGMA trusted_schema=OFF; PRAGMA secure_delete=ON;",
    )
    .map_err(sql("configuring the connection"))?;
    conn.pragma_update(None, "cache_size", -READ_CACHE_KIB)
        .map_err(sql("sizing the page cache"))?;
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .map_err(sql("reading the page size"))?;
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        (CHECKPOINT_BYTES as i64 / page_size.max(512)).max(1),
    )
    .map_err(sql("configuring the connection"))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// A random (version 4) UUID for a new ledger.
pub(crate) fn new_ledger_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| Error::Entropy)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A read snapshot: a deferred transaction on the backend's connection, ended on drop.
#[derive(Debug)]
pub struct SqliteRead<'a> {
    conn: &'a Connection,
    owns_transaction: bool,
}

impl Drop for SqliteRead<'_> {
    fn drop(&mut self) {
        if self.owns_transaction {
            // A read-only transaction has nothing to lose; ending it releases the snapshot.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A write transaction (`BEGIN IMMEDIATE`); rolled back on drop unless committed.
#[derive(Debug)]
pub struct SqliteWrite<'a> {
    tx: Transaction<'a>,
    checkpointer: Option<&'a Checkpointer>,
}

impl Backend for SqliteBackend {
    type Read<'a> = SqliteRead<'a>;
    type Write<'a> = SqliteWrite<'a>;

    fn ledger_id(&self) -> &str {
        &self.ledger_id
    }

    fn read(&self) -> Result<SqliteRead<'_>> {
        let owns_transaction = self.conn.is_autocommit();
        if owns_transaction {
            self.conn
                .execute_batch("BEGIN DEFERRED")
                .map_err(sql("starting a read snapshot"))?;
        }
        Ok(SqliteRead {
            conn: &self.conn,
            owns_transaction,
        })
    }

    fn write(&mut self) -> Result<SqliteWrite<'_>> {
        if !self.write_cache {
            self.conn
                .pragma_update(None, "cache_size", -WRITE_CACHE_KIB)
                .map_err(sql("sizing the page cache for writing"))?;
            self.write_cache = true;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting a write transaction"))?;
        Ok(SqliteWrite {
            tx,
            checkpointer: self.checkpointer.as_ref(),
        })
    }

    fn scrub(&mut self) -> Result<()> {
        // TRUNCATE copies every WAL frame into the database (where secure_delete already zeroed
        // the deleted cells) and then cuts the WAL file to zero bytes, so no earlier copy of a
        // page survives. It cannot complete while another connection reads.
        let (busy, _, _): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(sql("checkpointing the write-ahead log"))?;
        if busy != 0 {
            return Err(Error::NotALedger {
                reason: "another connection is reading the ledger, so the write-ahead log could not be \
                         truncated; the erased keys are deleted but old copies may remain in the WAL \
                         until the next checkpoint; run the erasure again when no reader is open"
                    .to_owned(),
            });
        }
        Ok(())
    }
}

/// The SQL and arguments of one page of a filtered query.
///
/// The model index serves model queries and the time index serves the rest; both keep
/// `(ts, id)` order, so a page continues after the last row with a row-value comparison and no
/// sort (checked with `EXPLAIN QUERY PLAN` in the tests). The event-type prefix is compared with `substr`, not `LIKE`, so `%` and `_` in a
/// prefix are literal.
fn query_sql(
    filter: &RecordFilter,
    after: Option<(i64, u64)>,
    limit: usize,
) -> Result<(String, Vec<rusqlite::types::Value>)> {
    // `INDEXED BY` pins the plan: without statistics SQLite may pick the time index for a
    // model query, and a pinned index that cannot be used is an error rather than a scan.
    let index = if filter.model_id.is_some() {
        "events_model"
    } else {
        "events_time"
    };
    let mut sql_text =
        format!("SELECT {QUERY_COLUMNS} FROM events INDEXED BY {index} WHERE tenant = ?1");
    let mut args: Vec<rusqlite::types::Value> = vec![filter.tenant.0.into()];
    let mut arg = |sql_text: &mut String, clause: &str, value: rusqlite::types::Value| {
        args.push(value);
        sql_text.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(model) = &filter.model_id {
        arg(&mut sql_text, " AND model_id = ?", model.clone().into());
    }
    // The lower bound the index seeks to. A later page starts at the previous page's last
    // timestamp, not at the filter's: SQLite seeks on the `ts` bound and only filters with the
    // row value below, so with the filter's bound every page would walk again over all the rows
    // of the earlier pages (quadratic in the rows a query returns).
    let lower = match (filter.from_micros, after) {
        (Some(from), Some((ts, _))) => Some(from.max(ts)),
        (None, Some((ts, _))) => Some(ts),
        (from, None) => from,
    };
    if let Some(from) = lower {
        arg(&mut sql_text, " AND ts >= ?", from.into());
    }
    if let Some(to) = filter.to_micros {
        arg(&mut sql_text, " AND ts <= ?", to.into());
    }
    if let Some(prefix) = &filter.event_type_prefix {
        arg(
            &mut sql_text,
            " AND substr(event_type, 1, ?)",
            (prefix.chars().count() as i64).into(),
        );
        arg(&mut sql_text, " = ?", prefix.clone().into());
    }
    if let Some(end) = filter.before_seq {
        // The first id past the tenant's range when `end` is past the last possible seq.
        let end = (filter.tenant.0 << SEQ_BITS) + end.min(MAX_SEQ + 1) as i64;
        arg(&mut sql_text, " AND id < ?", end.into());
    }
    if let Some((ts, seq)) = after {
        let id = row_id(filter.tenant, seq.min(MAX_SEQ))?;
        arg(&mut sql_text, " AND (ts, id) > (?", ts.into());
        arg(&mut sql_text, ", ?)", id.into());
    }
    // The limit is written into the text: SQLite re-prepares a statement whenever a bound
    // `LIMIT` parameter changes (the value may change the plan), which cost a full prepare per
    // page. Callers pass a few constant page sizes, so each gets one cached statement.
    sql_text.push_str(&format!(" ORDER BY ts, id LIMIT {limit}"));
    Ok((sql_text, args))
}

/// The read queries, shared by snapshots and write transactions.
struct Queries<'a>(&'a Connection);

impl Queries<'_> {
    fn tenants(&self) -> Result<Vec<TenantState>> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT tenant, org_id, size, head_event_id, frontier, key_id FROM tenants ORDER BY tenant")
            .map_err(sql("listing tenants"))?;
        let rows = stmt
            .query_map([], read_tenant_row)
            .map_err(sql("listing tenants"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("listing tenants"))?;
        rows.into_iter().map(TenantRow::into_state).collect()
    }

    fn tenant(&self, id: &TenantId) -> Result<Option<TenantState>> {
        let row = match id.org_id() {
            Some(org) => self
                .0
                .prepare_cached("SELECT tenant, org_id, size, head_event_id, frontier, key_id FROM tenants WHERE org_id = ?1")
                .and_then(|mut s| s.query_row([org], read_tenant_row).optional()),
            None => self
                .0
                .prepare_cached("SELECT tenant, org_id, size, head_event_id, frontier, key_id FROM tenants WHERE org_id IS NULL")
                .and_then(|mut s| s.query_row([], read_tenant_row).optional()),
        }
        .map_err(sql("reading a tenant"))?;
        row.map(TenantRow::into_state).transpose()
    }

    fn records(&self, tenant: TenantKey, from_seq: u64, limit: usize) -> Result<Vec<Record>> {
        if from_seq > MAX_SEQ {
            return Ok(Vec::new());
        }
        let start = row_id(tenant, from_seq)?;
        let mut stmt = self
            .0
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT {limit}"
            ))
            .map_err(sql("reading events"))?;
        stmt.query_map(params![start, tenant_end(tenant)], read_record)
            .map_err(sql("reading events"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading events"))
    }

    fn records_page(
        &self,
        tenant: TenantKey,
        from_seq: u64,
        limit: usize,
        page: &mut RecordPage,
    ) -> Result<()> {
        page.clear();
        if from_seq > MAX_SEQ {
            return Ok(());
        }
        let start = row_id(tenant, from_seq)?;
        let mut stmt = self
            .0
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT {limit}"
            ))
            .map_err(sql("reading events"))?;
        let mut rows = stmt
            .query(params![start, tenant_end(tenant)])
            .map_err(sql("reading events"))?;
        while let Some(row) = rows.next().map_err(sql("reading events"))? {
            push_record(row, page).map_err(sql("reading events"))?;
        }
        Ok(())
    }

    fn last_seq(&self, tenant: TenantKey) -> Result<Option<u64>> {
        let start = row_id(tenant, 0)?;
        let last: Option<i64> = self
            .0
            .prepare_cached("SELECT max(id) FROM events WHERE id >= ?1 AND id < ?2")
            .and_then(|mut s| s.query_row(params![start, tenant_end(tenant)], |r| r.get(0)))
            .map_err(sql("reading the last sequence number"))?;
        Ok(last.map(|id| (id & MAX_SEQ as i64) as u64))
    }

    fn record_at(&self, tenant: TenantKey, seq: u64) -> Result<Option<Record>> {
        let id = row_id(tenant, seq)?;
        self.0
            .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], read_record).optional())
            .map_err(sql("reading an event"))
    }

    fn record_by_event_id(&self, event_id: &str) -> Result<Option<Record>> {
        self.0
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1"
            ))
            .and_then(|mut s| s.query_row([event_id], read_record).optional())
            .map_err(sql("looking up an event id"))
    }

    fn contains_event_id(&self, event_id: &str) -> Result<bool> {
        self.0
            .prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")
            .and_then(|mut s| s.exists([event_id]))
            .map_err(sql("looking up an event id"))
    }

    fn rotation_records(&self, tenant: TenantKey) -> Result<Vec<Record>> {
        // The type is a literal, not a parameter, so that the partial index applies.
        let mut stmt = self
            .0
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE tenant = ?1 AND event_type = 'llm.audit.key.rotated' ORDER BY id"
            ))
            .map_err(sql("reading rotation events"))?;
        stmt.query_map([tenant.0], read_record)
            .map_err(sql("reading rotation events"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading rotation events"))
    }

    fn query(
        &self,
        filter: &RecordFilter,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let (sql_text, args) = query_sql(filter, after, limit)?;
        let mut stmt = self
            .0
            .prepare_cached(&sql_text)
            .map_err(sql("querying events"))?;
        stmt.query_map(rusqlite::params_from_iter(args), read_record)
            .map_err(sql("querying events"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("querying events"))
    }

    fn query_page(
        &self,
        filter: &RecordFilter,
        after: Option<(i64, u64)>,
        limit: usize,
        page: &mut RecordPage,
    ) -> Result<()> {
        let (sql_text, args) = query_sql(filter, after, limit)?;
        let mut stmt = self
            .0
            .prepare_cached(&sql_text)
            .map_err(sql("querying events"))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(args))
            .map_err(sql("querying events"))?;
        while let Some(row) = rows.next().map_err(sql("querying events"))? {
            push_record(row, page).map_err(sql("querying events"))?;
        }
        Ok(())
    }

    fn records_in_time(
        &self,
        tenant: TenantKey,
        from_seq: u64,
        end_seq: u64,
        from_micros: Option<i64>,
        to_micros: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        if from_seq >= end_seq || from_seq > MAX_SEQ {
            return Ok(Vec::new());
        }
        let start = row_id(tenant, from_seq)?;
        // `end_seq` may be one past the last possible seq; the id stays in range because
        // `row_id` checked the tenant handle.
        let end = (tenant.0 << SEQ_BITS) + end_seq.min(MAX_SEQ + 1) as i64;
        let mut stmt = self
            .0
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id >= ?1 AND id < ?2 AND ts >= ?3 AND ts <= ?4 ORDER BY id LIMIT {limit}"
            ))
            .map_err(sql("reading events in a time range"))?;
        stmt.query_map(
            params![
                start,
                end,
                from_micros.unwrap_or(i64::MIN),
                to_micros.unwrap_or(i64::MAX)
            ],
            read_record,
        )
        .map_err(sql("reading events in a time range"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("reading events in a time range"))
    }

    fn nodes(&self, tenant: TenantKey, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT leaf_hash, nodes FROM events WHERE id = ?1")
            .map_err(sql("reading tree nodes"))?;
        let mut out = Vec::with_capacity(ids.len());
        for node in ids {
            // The append of leaf `(index + 1) * 2^level - 1` completed this node.
            let seq = node
                .index
                .checked_add(1)
                .and_then(|i| i.checked_mul(1u64.checked_shl(u32::from(node.level))?))
                .and_then(|i| i.checked_sub(1))
                .filter(|&s| s <= MAX_SEQ);
            let Some(seq) = seq else {
                out.push(None);
                continue;
            };
            let row: Option<(Vec<u8>, Vec<u8>)> = stmt
                .query_row([row_id(tenant, seq)?], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(sql("reading tree nodes"))?;
            let hash = row.and_then(|(leaf, nodes)| {
                let bytes = if node.level == 0 {
                    Some(leaf.as_slice())
                } else {
                    let start = (usize::from(node.level) - 1) * HASH_LEN;
                    nodes.get(start..start + HASH_LEN)
                };
                bytes.and_then(|b| Hash::from_slice(b, "stored node").ok())
            });
            out.push(hash);
        }
        Ok(out)
    }

    fn keys(&self, tenant: Option<TenantKey>) -> Result<Vec<KeyRecord>> {
        let mut stmt = self
            .0
            .prepare_cached(
                "SELECT tenant, key_id, key_check, first_seq, rotation_event_id, previous_key_id FROM keys \
                 WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, first_seq",
            )
            .map_err(sql("listing keys"))?;
        let rows = stmt
            .query_map([tenant.map(|t| t.0)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(sql("listing keys"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("listing keys"))?;
        rows.into_iter()
            .map(|(t, id, check, first, rotation, previous)| {
                let corrupt = |what: &str| Error::NotALedger {
                    reason: format!("key record {id:?}: {what}"),
                };
                Ok(KeyRecord {
                    tenant: TenantKey(t),
                    key_id: KeyId::new(id.clone()).map_err(|_| corrupt("invalid key id"))?,
                    check,
                    first_seq: u64::try_from(first).map_err(|_| corrupt("negative first_seq"))?,
                    rotation_event_id: rotation,
                    previous_key_id: previous
                        .map(|p| KeyId::new(p).map_err(|_| corrupt("invalid previous key id")))
                        .transpose()?,
                })
            })
            .collect()
    }

    fn checkpoints(&self, tenant: TenantKey) -> Result<Vec<CheckpointRecord>> {
        let mut stmt = self
            .0
            .prepare_cached(
                "SELECT size, root, note FROM checkpoints WHERE tenant = ?1 ORDER BY size",
            )
            .map_err(sql("listing checkpoints"))?;
        let rows = stmt
            .query_map([tenant.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(sql("listing checkpoints"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("listing checkpoints"))?;
        rows.into_iter()
            .map(|(size, root, note)| {
                let corrupt = |what: &str| Error::NotALedger {
                    reason: format!("checkpoint of size {size}: {what}"),
                };
                Ok(CheckpointRecord {
                    tenant,
                    size: u64::try_from(size).map_err(|_| corrupt("negative size"))?,
                    root: Hash::from_slice(&root, "checkpoint root")
                        .map_err(|_| corrupt("root is not 32 bytes"))?,
                    note,
                })
            })
            .collect()
    }
}

const DATA_KEY_COLUMNS: &str =
    "key_id, tenant, actor_hash, session_hash, subject_hash, kek, wrapped";

fn read_data_key(r: &Row<'_>) -> rusqlite::Result<DataKeyRecord> {
    Ok(DataKeyRecord {
        key_id: r.get(0)?,
        tenant: TenantKey(r.get(1)?),
        actor_hash: r.get(2)?,
        session_hash: r.get(3)?,
        subject_hash: r.get(4)?,
        kek: r.get(5)?,
        wrapped: r.get(6)?,
    })
}

impl Queries<'_> {
    fn meta(&self, name: &str) -> Result<Option<String>> {
        self.0
            .prepare_cached("SELECT value FROM meta WHERE name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
            .map_err(sql("reading a ledger setting"))
    }

    fn data_keys_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<DataKeyRecord>> {
        let mut stmt = self
            .0
            .prepare_cached(&format!(
                "SELECT {DATA_KEY_COLUMNS} FROM data_keys WHERE {condition} ORDER BY key_id"
            ))
            .map_err(sql("reading data keys"))?;
        stmt.query_map(args, read_data_key)
            .map_err(sql("reading data keys"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("reading data keys"))
    }

    fn data_key(&self, key_id: &str) -> Result<Option<DataKeyRecord>> {
        Ok(self.data_keys_where("key_id = ?1", [key_id])?.pop())
    }

    fn data_key_for_scope(
        &self,
        tenant: TenantKey,
        actor: Option<&str>,
        session: Option<&str>,
        subject: Option<&str>,
    ) -> Result<Option<DataKeyRecord>> {
        Ok(self
            .data_keys_where(
                "tenant = ?1 AND actor_hash IS ?2 AND session_hash IS ?3 AND subject_hash IS ?4",
                params![tenant.0, actor, session, subject],
            )?
            .into_iter()
            .next())
    }

    fn data_keys(&self, tenant: Option<TenantKey>) -> Result<Vec<DataKeyRecord>> {
        self.data_keys_where("?1 IS NULL OR tenant = ?1", [tenant.map(|t| t.0)])
    }

    fn data_keys_of_subject(&self, hash: &str) -> Result<Vec<DataKeyRecord>> {
        self.data_keys_where(
            "actor_hash = ?1 OR session_hash = ?1 OR subject_hash = ?1",
            [hash],
        )
    }

    fn erased_keys(&self, tenant: TenantKey) -> Result<Vec<ErasedKeyRecord>> {
        let mut stmt = self
            .0
            .prepare_cached(
                "SELECT key_id, erasure_event_id FROM erased_keys WHERE tenant = ?1 ORDER BY key_id",
            )
            .map_err(sql("reading erasure records"))?;
        stmt.query_map([tenant.0], |r| {
            Ok(ErasedKeyRecord {
                key_id: r.get(0)?,
                tenant,
                erasure_event_id: r.get(1)?,
            })
        })
        .map_err(sql("reading erasure records"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql("reading erasure records"))
    }
}

macro_rules! forward_reader {
    ($ty:ty, $conn:ident => $expr:expr $(; $($extra:tt)*)?) => {
        impl Reader for $ty {
            $($($extra)*)?
            fn tenants(&self) -> Result<Vec<TenantState>> {
                let $conn = self;
                Queries($expr).tenants()
            }
            fn tenant(&self, id: &TenantId) -> Result<Option<TenantState>> {
                let $conn = self;
                Queries($expr).tenant(id)
            }
            fn records(
                &self,
                tenant: TenantKey,
                from_seq: u64,
                limit: usize,
            ) -> Result<Vec<Record>> {
                let $conn = self;
                Queries($expr).records(tenant, from_seq, limit)
            }
            fn records_page(
                &self,
                tenant: TenantKey,
                from_seq: u64,
                limit: usize,
                page: &mut RecordPage,
            ) -> Result<()> {
                let $conn = self;
                Queries($expr).records_page(tenant, from_seq, limit, page)
            }
            fn last_seq(&self, tenant: TenantKey) -> Result<Option<u64>> {
                let $conn = self;
                Queries($expr).last_seq(tenant)
            }
            fn record_at(&self, tenant: TenantKey, seq: u64) -> Result<Option<Record>> {
                let $conn = self;
                Queries($expr).record_at(tenant, seq)
            }
            fn record_by_event_id(&self, event_id: &str) -> Result<Option<Record>> {
                let $conn = self;
                Queries($expr).record_by_event_id(event_id)
            }
            fn contains_event_id(&self, event_id: &str) -> Result<bool> {
                let $conn = self;
                Queries($expr).contains_event_id(event_id)
            }
            fn rotation_records(&self, tenant: TenantKey) -> Result<Vec<Record>> {
                let $conn = self;
                Queries($expr).rotation_records(tenant)
            }
            fn query(
                &self,
                filter: &RecordFilter,
                after: Option<(i64, u64)>,
                limit: usize,
            ) -> Result<Vec<Record>> {
                let $conn = self;
                Queries($expr).query(filter, after, limit)
            }
            fn query_page(
                &self,
                filter: &RecordFilter,
                after: Option<(i64, u64)>,
                limit: usize,
                page: &mut RecordPage,
            ) -> Result<()> {
                let $conn = self;
                Queries($expr).query_page(filter, after, limit, page)
            }
            fn records_in_time(
                &self,
                tenant: TenantKey,
                from_seq: u64,
                end_seq: u64,
                from_micros: Option<i64>,
                to_micros: Option<i64>,
                limit: usize,
            ) -> Result<Vec<Record>> {
                let $conn = self;
                Queries($expr).records_in_time(
                    tenant,
                    from_seq,
                    end_seq,
                    from_micros,
                    to_micros,
                    limit,
                )
            }
            fn nodes(&self, tenant: TenantKey, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
                let $conn = self;
                Queries($expr).nodes(tenant, ids)
            }
            fn keys(&self, tenant: Option<TenantKey>) -> Result<Vec<KeyRecord>> {
                let $conn = self;
                Queries($expr).keys(tenant)
            }
            fn checkpoints(&self, tenant: TenantKey) -> Result<Vec<CheckpointRecord>> {
                let $conn = self;
                Queries($expr).checkpoints(tenant)
            }
            fn meta(&self, name: &str) -> Result<Option<String>> {
                let $conn = self;
                Queries($expr).meta(name)
            }
            fn data_key(&self, key_id: &str) -> Result<Option<DataKeyRecord>> {
                let $conn = self;
                Queries($expr).data_key(key_id)
            }
            fn data_key_for_scope(
                &self,
                tenant: TenantKey,
                actor_hash: Option<&str>,
                session_hash: Option<&str>,
                subject_hash: Option<&str>,
            ) -> Result<Option<DataKeyRecord>> {
                let $conn = self;
                Queries($expr).data_key_for_scope(tenant, actor_hash, session_hash, subject_hash)
            }
            fn data_keys(&self, tenant: Option<TenantKey>) -> Result<Vec<DataKeyRecord>> {
                let $conn = self;
                Queries($expr).data_keys(tenant)
            }
            fn data_keys_of_subject(&self, hash: &str) -> Result<Vec<DataKeyRecord>> {
                let $conn = self;
                Queries($expr).data_keys_of_subject(hash)
            }
            fn erased_keys(&self, tenant: TenantKey) -> Result<Vec<ErasedKeyRecord>> {
                let $conn = self;
                Queries($expr).erased_keys(tenant)
            }
        }
    };
}

forward_reader!(SqliteRead<'_>, r => r.conn;
    fn scan_readers(&self, count: usize) -> Result<Vec<Box<dyn RecordScan + Send>>> {
        // A transaction this reader did not open may hold writes no other connection sees, and
        // a database without a file name cannot be opened twice.
        let path = match self.conn.path() {
            Some(path) if self.owns_transaction && !path.is_empty() => path,
            _ => return Ok(Vec::new()),
        };
        (0..count)
            .map(|_| SqliteScan::open(path).map(|s| Box::new(s) as Box<dyn RecordScan + Send>))
            .collect()
    }
);
forward_reader!(SqliteWrite<'_>, w => &w.tx);

impl Writer for SqliteWrite<'_> {
    fn create_tenant(&mut self, id: &TenantId, key_id: &KeyId) -> Result<TenantState> {
        let frontier = Frontier::new();
        self.tx
            .prepare_cached("INSERT INTO tenants (org_id, size, head_event_id, frontier, key_id) VALUES (?1, 0, NULL, ?2, ?3)")
            .and_then(|mut s| s.execute(params![id.org_id(), frontier.to_bytes(), key_id.as_str()]))
            .map_err(sql("creating a tenant"))?;
        let key = TenantKey(self.tx.last_insert_rowid());
        if key.0 > MAX_TENANT {
            return Err(Error::Capacity(format!(
                "the ledger cannot hold more than {MAX_TENANT} tenants"
            )));
        }
        Ok(TenantState {
            key,
            id: id.clone(),
            size: 0,
            head: None,
            frontier,
            key_id: key_id.clone(),
        })
    }

    fn append(&mut self, records: &[NewRecord]) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached(&format!(
                "INSERT INTO events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))
            .map_err(sql("appending events"))?;
        let mut nodes = Vec::with_capacity(2 * HASH_LEN);
        for r in records {
            nodes.clear();
            for n in &r.nodes {
                nodes.extend_from_slice(n.as_bytes());
            }
            let result = stmt.execute(params![
                row_id(r.tenant, r.seq)?,
                r.tenant.0,
                r.event_id.as_str(),
                r.ts_micros,
                r.event_type.as_str(),
                r.model_id.as_deref(),
                r.actor_id.as_deref(),
                r.session_id.as_deref(),
                r.key_id.as_str(),
                r.envelope,
                r.leaf_hash.as_bytes().as_slice(),
                nodes,
            ]);
            if let Err(e) = result {
                if let rusqlite::Error::SqliteFailure(f, _) = &e
                    && f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                {
                    return Err(Error::DuplicateEventId {
                        location: None,
                        event_id: r.event_id.to_string(),
                    });
                }
                return Err(Error::backend("appending events", e));
            }
        }
        Ok(())
    }

    fn update_tenant(&mut self, state: &TenantState) -> Result<()> {
        let changed = self
            .tx
            .prepare_cached("UPDATE tenants SET size = ?2, head_event_id = ?3, frontier = ?4, key_id = ?5 WHERE tenant = ?1")
            .and_then(|mut s| {
                s.execute(params![
                    state.key.0,
                    i64::try_from(state.size).unwrap_or(i64::MAX),
                    state.head.as_ref().map(EventId::as_str),
                    state.frontier.to_bytes(),
                    state.key_id.as_str(),
                ])
            })
            .map_err(sql("updating a tenant head"))?;
        if changed != 1 {
            return Err(Error::NotALedger {
                reason: format!("tenant {} vanished during a write", state.id),
            });
        }
        Ok(())
    }

    fn add_key(&mut self, key: &KeyRecord) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO keys (tenant, key_id, key_check, first_seq, rotation_event_id, previous_key_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key.tenant.0,
                    key.key_id.as_str(),
                    key.check,
                    i64::try_from(key.first_seq).unwrap_or(i64::MAX),
                    key.rotation_event_id,
                    key.previous_key_id.as_ref().map(KeyId::as_str),
                ])
            })
            .map_err(sql("recording a key"))?;
        Ok(())
    }

    fn add_checkpoint(&mut self, checkpoint: &CheckpointRecord) -> Result<()> {
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO checkpoints (tenant, size, root, note) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| {
                s.execute(params![
                    checkpoint.tenant.0,
                    i64::try_from(checkpoint.size).unwrap_or(i64::MAX),
                    checkpoint.root.as_bytes().as_slice(),
                    checkpoint.note,
                ])
            })
            .map_err(sql("storing a checkpoint"))?;
        Ok(())
    }

    fn set_meta(&mut self, name: &str, value: &str) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO meta (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([name, value]))
            .map_err(sql("storing a ledger setting"))?;
        Ok(())
    }

    fn add_data_key(&mut self, key: &DataKeyRecord) -> Result<()> {
        self.tx
            .prepare_cached(&format!(
                "INSERT INTO data_keys ({DATA_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    key.key_id,
                    key.tenant.0,
                    key.actor_hash,
                    key.session_hash,
                    key.subject_hash,
                    key.kek,
                    key.wrapped,
                ])
            })
            .map_err(sql("storing a data key"))?;
        Ok(())
    }

    fn rewrap_data_key(&mut self, key_id: &str, kek: &str, wrapped: &[u8]) -> Result<()> {
        let changed = self
            .tx
            .prepare_cached("UPDATE data_keys SET kek = ?2, wrapped = ?3 WHERE key_id = ?1")
            .and_then(|mut s| s.execute(params![key_id, kek, wrapped]))
            .map_err(sql("re-wrapping a data key"))?;
        if changed != 1 {
            return Err(Error::NotALedger {
                reason: format!("data key {key_id} vanished during a re-wrap"),
            });
        }
        Ok(())
    }

    fn erase_data_keys(
        &mut self,
        tenant: TenantKey,
        key_ids: &[String],
        erasure_event_id: &str,
    ) -> Result<()> {
        for key_id in key_ids {
            let deleted = self
                .tx
                .prepare_cached("DELETE FROM data_keys WHERE key_id = ?1 AND tenant = ?2")
                .and_then(|mut s| s.execute(params![key_id, tenant.0]))
                .map_err(sql("destroying a data key"))?;
            if deleted != 1 {
                return Err(Error::NotALedger {
                    reason: format!("data key {key_id} vanished during an erasure"),
                });
            }
            self.tx
                .prepare_cached(
                    "INSERT INTO erased_keys (key_id, tenant, erasure_event_id) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| s.execute(params![key_id, tenant.0, erasure_event_id]))
                .map_err(sql("recording an erased data key"))?;
        }
        Ok(())
    }

    fn commit(self) -> Result<()> {
        self.tx.commit().map_err(sql("committing"))?;
        if let Some(checkpointer) = self.checkpointer {
            checkpointer.after_commit();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_keep_tenant_and_seq_apart() {
        assert_eq!(row_id(TenantKey(1), 0).unwrap(), 1 << 40);
        assert_eq!(row_id(TenantKey(2), 5).unwrap(), (2 << 40) | 5);
        assert!(row_id(TenantKey(1), MAX_SEQ + 1).is_err());
        assert!(row_id(TenantKey(0), 0).is_err());
        assert!(row_id(TenantKey(MAX_TENANT + 1), 0).is_err());
        assert_eq!(tenant_end(TenantKey(1)), 2 << 40);
    }

    #[test]
    fn ledger_ids_are_v4_uuids() {
        let id = new_ledger_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_ledger_id().unwrap());
    }

    #[test]
    fn schema_migrates_once_and_refuses_newer_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let first = SqliteBackend::open(&path).unwrap();
        let id = first.ledger_id().to_owned();
        drop(first);
        let again = SqliteBackend::open_existing(&path).unwrap();
        assert_eq!(again.ledger_id(), id);
        let v: i64 = again
            .connection()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        again
            .connection()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(again);
        assert!(matches!(
            SqliteBackend::open(&path),
            Err(Error::SchemaTooNew { .. })
        ));
        assert!(matches!(
            SqliteBackend::open_existing(dir.path().join("missing.db")),
            Err(Error::NotALedger { .. })
        ));
    }

    #[test]
    fn foreign_databases_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            SqliteBackend::open(&path),
            Err(Error::NotALedger { .. })
        ));
    }

    fn plan(conn: &Connection, sql_text: &str, args: Vec<rusqlite::types::Value>) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql_text}"))
            .unwrap();
        let rows: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows.join(" | ")
    }

    /// A ledger whose tenant 1 (`acme`) holds `rows` bare rows, row `n` at timestamp `n`.
    fn seeded(rows: u64) -> (tempfile::TempDir, SqliteBackend) {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(dir.path().join("l.db")).unwrap();
        let conn = b.connection();
        conn.execute(
            "INSERT INTO tenants (tenant, org_id, size, head_event_id, frontier, key_id) VALUES (1, 'acme', 0, NULL, x'', 'k')",
            [],
        )
        .unwrap();
        for seq in 0..rows {
            conn.execute(
                &format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES (?1, 1, ?2, ?3, 't', NULL, NULL, NULL, 'k', x'7b7d', x'00', x'')"),
                params![row_id(TenantKey(1), seq).unwrap(), format!("e{seq}"), seq as i64],
            )
            .unwrap();
        }
        (dir, b)
    }

    fn all_of_tenant_1() -> RecordFilter {
        RecordFilter {
            tenant: TenantKey(1),
            from_micros: Some(0),
            to_micros: Some(i64::MAX),
            event_type_prefix: None,
            model_id: None,
            before_seq: None,
        }
    }

    /// A later page of a query seeks to where the previous page ended instead of walking again
    /// over the rows before it: measured in SQLite virtual-machine steps, which do not depend on
    /// timing.
    #[test]
    fn later_query_pages_do_not_walk_over_earlier_rows() {
        let (_dir, b) = seeded(5000);
        let conn = b.connection();
        let filter = all_of_tenant_1();
        let steps = |after: Option<(i64, u64)>| {
            let (sql_text, args) = query_sql(&filter, after, 10).unwrap();
            let mut stmt = conn.prepare(&sql_text).unwrap();
            let got: Vec<i64> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let first = after.map_or(0, |(ts, _)| ts + 1);
            assert_eq!(got, (first..first + 10).collect::<Vec<_>>());
            stmt.get_status(rusqlite::StatementStatus::VmStep)
        };
        let first_page = steps(None);
        let late_page = steps(Some((4000, 4000)));
        // Walking over 4,000 earlier index entries would take tens of thousands of steps.
        assert!(
            late_page < first_page * 3,
            "first page {first_page} steps, page after row 4000 {late_page} steps"
        );
    }

    /// Reading page after page re-uses one prepared statement: a bound `LIMIT` made SQLite
    /// re-prepare the statement at every execution (a full parse and plan per page).
    #[test]
    fn paging_does_not_re_prepare_statements() {
        let (_dir, b) = seeded(100);
        let conn = b.connection();
        let q = Queries(conn);
        let filter = all_of_tenant_1();
        let mut page = RecordPage::default();
        let mut after = None;
        for from in (0..100).step_by(10) {
            q.records_page(TenantKey(1), from, 10, &mut page).unwrap();
            assert_eq!(page.len(), 10);
            assert_eq!(q.records(TenantKey(1), from, 10).unwrap().len(), 10);
            assert_eq!(
                q.records_in_time(TenantKey(1), from, 100, Some(0), None, 10)
                    .unwrap()
                    .len(),
                10
            );
            let rows = q.query(&filter, after, 10).unwrap();
            assert_eq!(rows.len(), 10);
            page.clear();
            q.query_page(&filter, after, 10, &mut page).unwrap();
            assert_eq!(
                page.iter().collect::<Vec<_>>(),
                rows.iter().map(Record::borrowed).collect::<Vec<_>>()
            );
            after = rows.last().map(|r| (r.ts_micros, r.seq));
        }
        let mut statements = vec![
            format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 10"
            ),
            format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id >= ?1 AND id < ?2 AND ts >= ?3 AND ts <= ?4 ORDER BY id LIMIT 10"
            ),
        ];
        statements.push(query_sql(&filter, Some((1, 1)), 10).unwrap().0);
        for sql_text in statements {
            let stmt = conn.prepare_cached(&sql_text).unwrap();
            assert!(
                stmt.get_status(rusqlite::StatementStatus::VmStep) > 0,
                "not the cached statement: {sql_text}"
            );
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{sql_text}"
            );
        }
    }

    #[test]
    fn queries_use_the_indexes_and_never_sort() {
        let dir = tempfile::tempdir().unwrap();
        let b = SqliteBackend::open(dir.path().join("l.db")).unwrap();
        let conn = b.connection();
        let base = RecordFilter {
            tenant: TenantKey(1),
            from_micros: Some(0),
            to_micros: Some(10),
            event_type_prefix: None,
            model_id: None,
            before_seq: None,
        };
        let cases = [
            (base.clone(), None, "USING INDEX events_time"),
            (base.clone(), Some((5, 7)), "USING INDEX events_time"),
            (
                RecordFilter {
                    event_type_prefix: Some("llm.".into()),
                    ..base.clone()
                },
                None,
                "USING INDEX events_time",
            ),
            (
                RecordFilter {
                    model_id: Some("gpt-4o".into()),
                    ..base.clone()
                },
                Some((5, 7)),
                "USING INDEX events_model",
            ),
            (
                RecordFilter {
                    before_seq: Some(100),
                    ..base.clone()
                },
                Some((5, 7)),
                "USING INDEX events_time",
            ),
        ];
        for (filter, after, want) in cases {
            let (sql_text, args) = query_sql(&filter, after, 10).unwrap();
            let p = plan(conn, &sql_text, args);
            assert!(p.contains(want), "{filter:?}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{filter:?} sorts: {p}");
            assert!(!p.contains("SCAN events"), "{filter:?} scans: {p}");
        }
        let lookups = [
            (
                format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?1"),
                "USING INDEX sqlite_autoindex_events_1",
            ),
            (
                format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 2048"
                ),
                "USING INTEGER PRIMARY KEY",
            ),
            (
                format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE tenant = ?1 AND event_type = 'llm.audit.key.rotated' ORDER BY id"
                ),
                "USING INDEX events_rotation",
            ),
        ];
        for (sql_text, want) in lookups {
            let n = sql_text.matches('?').count();
            let args = (0..n).map(|_| rusqlite::types::Value::Integer(1)).collect();
            let p = plan(conn, &sql_text, args);
            assert!(p.contains(want), "{sql_text}: {p}");
            assert!(!p.contains("TEMP B-TREE"), "{sql_text}: {p}");
        }
    }

    #[test]
    fn the_checkpointer_lets_the_wal_rewind() {
        use crate::{HmacKey, Ledger, StaticKeys};
        use spanforge_chain::compat::HmacSecret;
        use spanforge_event::Event;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let keys = StaticKeys::new().with_default_key(HmacKey::derived(
            HmacSecret::new_native("checkpointer-test-secret-0123456789abcdef").unwrap(),
        ));
        let batch = |from: u64| -> Vec<Event> {
            (from..from + 500)
                .map(|n| {
                    let id = EventId::from_parts(1_767_434_401_250 + n, u128::from(n)).unwrap();
                    Event::from_json_str(&format!(
                        r#"{{"event_id":"{id}","event_type":"decision.made","payload":{{"n":{n},"pad":"{}"}},"schema_version":"2.0","source":"t@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}}"#,
                        "x".repeat(400)
                    ))
                    .unwrap()
                })
                .collect()
        };
        let wal = dir.path().join("l.db-wal");
        let mut ledger = Ledger::new(SqliteBackend::open(&path).unwrap());
        let autocheckpoint: i64 = ledger
            .backend
            .connection()
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(autocheckpoint, 0, "commits must not checkpoint themselves");
        let checkpointer = |l: &Ledger<SqliteBackend>| {
            l.backend.checkpointer.as_ref().unwrap().request(true);
        };
        ledger.append_batch(&keys, batch(0)).unwrap();
        checkpointer(&ledger);
        let first = std::fs::metadata(&wal).unwrap().len();
        for round in 1..6 {
            ledger.append_batch(&keys, batch(round * 500)).unwrap();
            checkpointer(&ledger);
        }
        // Each transaction after a finished checkpoint starts the WAL over, so it never grows
        // past about one transaction.
        let last = std::fs::metadata(&wal).unwrap().len();
        assert!(
            last <= first + first / 2,
            "WAL grew from {first} to {last} bytes"
        );
        drop(ledger);
        let ledger = Ledger::new(SqliteBackend::open_existing(&path).unwrap());
        let report = ledger.verify(&keys, &crate::VerifyOptions::new()).unwrap();
        assert!(report.valid);
        assert_eq!(report.events, 3000);
    }

    #[test]
    fn pragmas_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = SqliteBackend::open(dir.path().join("l.db")).unwrap();
        let pragma = |b: &SqliteBackend, p: &str| -> String {
            b.connection()
                .query_row(&format!("PRAGMA {p}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        let get = |p: &str| pragma(&b, p);
        assert_eq!(get("journal_mode"), "wal");
        assert_eq!(get("synchronous"), "2"); // FULL
        assert_eq!(get("foreign_keys"), "1");
        assert_eq!(get("busy_timeout"), "5000");
        assert_eq!(get("page_size"), PAGE_SIZE.to_string());
        // A small cache until the first write transaction, then the large one.
        assert_eq!(get("cache_size"), (-READ_CACHE_KIB).to_string());
        drop(b.write().unwrap());
        assert_eq!(pragma(&b, "cache_size"), (-WRITE_CACHE_KIB).to_string());
    }
}
