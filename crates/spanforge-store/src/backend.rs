//! The storage interface: what the ledger needs from a database, and the records it stores.
//!
//! [`Ledger`](crate::Ledger) holds every rule (sealing, verification, proofs, export) and talks
//! to storage only through these traits, so a server database can be added by implementing
//! [`Backend`], [`Reader`] and [`Writer`] without touching the ledger or its callers. A backend
//! stores and returns bytes faithfully and enforces append-only access where it can; it never
//! decides whether data is authentic.
//!
//! Storage layout the traits assume:
//! * a tenant row per tenant: its chain head, tree size, serialised frontier and current key id;
//! * an event record per event, addressed by `(tenant, seq)` and by event id, holding the index
//!   columns, the canonical envelope, its leaf hash and the interior tree nodes its append
//!   completed (see [`NewRecord::nodes`]);
//! * key records (ids and rotations, never secrets) and signed checkpoints per tenant;
//! * for payload encryption (optional for a backend: the defaults below store nothing and
//!   refuse writes): named settings, one wrapped data key per (tenant, subject scope), and the
//!   append-only record of data keys an erasure destroyed.

use std::ops::Range;

use spanforge_chain::merkle::{Frontier, Hash, NodeId};
use spanforge_event::json::Str;
use spanforge_event::{EventId, EventType};

use crate::error::Result;
use crate::keys::KeyId;
use crate::page::{RecordPage, RecordRef};
use crate::tenant::TenantId;

/// A backend's handle for a tenant (a small integer assigned when the tenant is created).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantKey(pub i64);

/// A tenant's chain and tree head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantState {
    /// The backend's handle.
    pub key: TenantKey,
    /// The tenant.
    pub id: TenantId,
    /// How many events the tenant's chain holds (the tree size; the next `seq`).
    pub size: u64,
    /// The id of the last event, the `prev_id` of the next one.
    pub head: Option<EventId>,
    /// The tree's right edge after `size` leaves.
    pub frontier: Frontier,
    /// The key the next event is signed with.
    pub key_id: KeyId,
}

/// One event about to be appended, sealed: signed, serialised and hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    /// The tenant.
    pub tenant: TenantKey,
    /// Its position in the tenant's chain and leaf index in the tenant's tree, from 0.
    pub seq: u64,
    /// The event id, as written in the envelope.
    pub event_id: EventId,
    /// The event timestamp in microseconds since the Unix epoch.
    pub ts_micros: i64,
    /// The event type.
    pub event_type: EventType,
    /// The model the event concerns ([`spanforge_event::Event::model_id`]).
    pub model_id: Option<Str>,
    /// The envelope's `actor_id`.
    pub actor_id: Option<Str>,
    /// The envelope's `session_id`.
    pub session_id: Option<Str>,
    /// The key that signed the event.
    pub key_id: KeyId,
    /// The canonical envelope, signature included: the Merkle leaf data.
    pub envelope: Vec<u8>,
    /// `leaf_hash(envelope)`.
    pub leaf_hash: Hash,
    /// The interior nodes appending this leaf completed, bottom-up: the node at level `L`
    /// (`1 <= L <= nodes.len()`) has index `(seq + 1) / 2^L - 1`. Every interior node of the
    /// tree is completed by exactly one append, so storing them with the record stores the
    /// whole tree without a separate table.
    pub nodes: Vec<Hash>,
}

/// One stored event, as read back. Fields are raw: a tampered database may hold anything, and
/// the ledger checks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The tenant.
    pub tenant: TenantKey,
    /// The position in the tenant's chain.
    pub seq: u64,
    /// The event id column.
    pub event_id: String,
    /// The timestamp column, microseconds since the Unix epoch.
    pub ts_micros: i64,
    /// The event type column.
    pub event_type: String,
    /// The model id column.
    pub model_id: Option<String>,
    /// The actor id column.
    pub actor_id: Option<String>,
    /// The session id column.
    pub session_id: Option<String>,
    /// The key id column.
    pub key_id: String,
    /// The stored envelope bytes.
    pub envelope: Vec<u8>,
    /// The stored leaf hash (32 bytes when intact).
    pub leaf_hash: Vec<u8>,
    /// The stored interior nodes, concatenated (32 bytes each when intact).
    pub nodes: Vec<u8>,
}

/// A key the ledger has used for a tenant. Never holds the secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyRecord {
    /// The tenant's handle.
    #[serde(skip)]
    pub tenant: TenantKey,
    /// The key's id.
    pub key_id: KeyId,
    /// The key's check value ([`HmacKey::check_value`](crate::HmacKey::check_value)).
    pub check: String,
    /// The first event sequence number signed with this key.
    pub first_seq: u64,
    /// The rotation event that switched to this key (`None` for a tenant's first key).
    pub rotation_event_id: Option<String>,
    /// The key this one replaced.
    pub previous_key_id: Option<KeyId>,
}

/// A checkpoint the ledger signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// The tenant's handle.
    pub tenant: TenantKey,
    /// The tree size.
    pub size: u64,
    /// The root at that size.
    pub root: Hash,
    /// The signed checkpoint note, verbatim.
    pub note: String,
}

/// A wrapped data key of one (tenant, subject scope), as the backend stores it. The scope
/// columns are keyed subject hashes, never subject ids; the wrapped key is ciphertext under a
/// KMS key-encryption key, so nothing here is secret on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataKeyRecord {
    /// The data key's id (named by every envelope sealed with it).
    pub key_id: String,
    /// The tenant.
    pub tenant: TenantKey,
    /// Keyed hash of the events' `actor_id`, if they have one.
    pub actor_hash: Option<String>,
    /// Keyed hash of the events' `session_id`, if they have one.
    pub session_hash: Option<String>,
    /// Keyed hash of the payloads' `subject_id`, if they name one.
    pub subject_hash: Option<String>,
    /// The key-encryption key the data key is wrapped under (`local:main/v2`, an AWS key ARN).
    pub kek: String,
    /// The wrapped data key ([`spanforge_crypto::WrappedDek::to_bytes`]).
    pub wrapped: Vec<u8>,
}

/// A data key an erasure destroyed, and the erasure event that recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasedKeyRecord {
    /// The destroyed data key's id.
    pub key_id: String,
    /// The tenant.
    pub tenant: TenantKey,
    /// The erasure event (in the tenant's chain) that lists the key.
    pub erasure_event_id: String,
}

/// Filters for [`Reader::query`]: one tenant, an inclusive time range, an event-type prefix, a
/// model id and a bound on the position in the chain. Results come in `(timestamp, seq)` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFilter {
    /// The tenant; a query never returns another tenant's events.
    pub tenant: TenantKey,
    /// Earliest timestamp (inclusive), microseconds since the epoch.
    pub from_micros: Option<i64>,
    /// Latest timestamp (inclusive), microseconds since the epoch.
    pub to_micros: Option<i64>,
    /// Only event types that start with this string.
    pub event_type_prefix: Option<String>,
    /// Only events about this model.
    pub model_id: Option<String>,
    /// Only events with a `seq` below this (the events of a tree of this size).
    pub before_seq: Option<u64>,
}

/// Read access, inside a consistent snapshot or a write transaction.
pub trait Reader {
    /// Every tenant, in handle order.
    fn tenants(&self) -> Result<Vec<TenantState>>;

    /// One tenant's state, if it has events.
    fn tenant(&self, id: &TenantId) -> Result<Option<TenantState>>;

    /// Up to `limit` records of `tenant` with `seq >= from_seq`, in `seq` order.
    fn records(&self, tenant: TenantKey, from_seq: u64, limit: usize) -> Result<Vec<Record>>;

    /// Like [`Reader::records`], into `page` (cleared first), so that a scan over many pages
    /// reuses its buffers. Backends that can read rows without allocating should override it.
    fn records_page(
        &self,
        tenant: TenantKey,
        from_seq: u64,
        limit: usize,
        page: &mut RecordPage,
    ) -> Result<()> {
        page.clear();
        for record in self.records(tenant, from_seq, limit)? {
            page.push(&record.borrowed());
        }
        Ok(())
    }

    /// The highest `seq` among `tenant`'s records, or `None` when it has none. (Not the head's
    /// size: verification also reads records stored beyond the head.)
    fn last_seq(&self, tenant: TenantKey) -> Result<Option<u64>>;

    /// Up to `count` readers beside this snapshot, each for one thread, so that a scan of every
    /// record (verification) reads and checks rows on several cores at once instead of copying
    /// them from one reading thread to the others.
    ///
    /// Each has a snapshot of its own, taken after this one. Records are only ever appended,
    /// never changed or removed, so for every tenant such a snapshot holds the same records as
    /// this one up to this one's [`Reader::last_seq`]; a scan bounded by it reads exactly what
    /// this snapshot holds.
    ///
    /// The default returns none, as must a store that cannot open another reader (an in-memory
    /// one) and a snapshot whose own uncommitted writes another reader would not see; callers
    /// then read on one thread.
    fn scan_readers(&self, count: usize) -> Result<Vec<Box<dyn RecordScan + Send>>> {
        let _ = count;
        Ok(Vec::new())
    }

    /// The record of `tenant` at `seq`.
    fn record_at(&self, tenant: TenantKey, seq: u64) -> Result<Option<Record>>;

    /// The record with this event id, in any tenant.
    fn record_by_event_id(&self, event_id: &str) -> Result<Option<Record>>;

    /// Whether an event with this id is stored.
    fn contains_event_id(&self, event_id: &str) -> Result<bool>;

    /// Every key-rotation event (`llm.audit.key.rotated`) of `tenant`, in `seq` order. Backends
    /// should index these, and only these, so that the index costs nothing per ordinary event.
    fn rotation_records(&self, tenant: TenantKey) -> Result<Vec<Record>>;

    /// Up to `limit` records matching `filter` that come after `after` (a `(ts_micros, seq)`
    /// position, exclusive) in `(ts_micros, seq)` order.
    ///
    /// Their `leaf_hash` and `nodes` may be left empty: callers read events here, never tree
    /// state.
    fn query(
        &self,
        filter: &RecordFilter,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Result<Vec<Record>>;

    /// Like [`Reader::query`], appended to `page` (which is not cleared), so that a reader of
    /// many pages reuses its buffers. Backends that can read rows without allocating should
    /// override it.
    fn query_page(
        &self,
        filter: &RecordFilter,
        after: Option<(i64, u64)>,
        limit: usize,
        page: &mut RecordPage,
    ) -> Result<()> {
        for record in self.query(filter, after, limit)? {
            page.push(&record.borrowed());
        }
        Ok(())
    }

    /// Up to `limit` records of `tenant` with `seq` in `[from_seq, end_seq)` whose timestamp is
    /// within the inclusive bounds, in `seq` order.
    fn records_in_time(
        &self,
        tenant: TenantKey,
        from_seq: u64,
        end_seq: u64,
        from_micros: Option<i64>,
        to_micros: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Record>>;

    /// The stored hashes of tree nodes of `tenant` (level 0 = leaf hashes), `None` where a node
    /// is not stored or not 32 bytes.
    fn nodes(&self, tenant: TenantKey, ids: &[NodeId]) -> Result<Vec<Option<Hash>>>;

    /// The keys recorded for `tenant` (or for every tenant), in `(tenant, first_seq)` order.
    fn keys(&self, tenant: Option<TenantKey>) -> Result<Vec<KeyRecord>>;

    /// The checkpoints stored for `tenant`, in size order.
    fn checkpoints(&self, tenant: TenantKey) -> Result<Vec<CheckpointRecord>>;

    /// A named ledger setting. The default backend stores none.
    fn meta(&self, name: &str) -> Result<Option<String>> {
        let _ = name;
        Ok(None)
    }

    /// The data key with this id. The default backend stores none.
    fn data_key(&self, key_id: &str) -> Result<Option<DataKeyRecord>> {
        let _ = key_id;
        Ok(None)
    }

    /// The data key of exactly this scope (`None` columns match `NULL`).
    fn data_key_for_scope(
        &self,
        tenant: TenantKey,
        actor_hash: Option<&str>,
        session_hash: Option<&str>,
        subject_hash: Option<&str>,
    ) -> Result<Option<DataKeyRecord>> {
        let _ = (tenant, actor_hash, session_hash, subject_hash);
        Ok(None)
    }

    /// Every data key (of `tenant`, or of all tenants), in key id order.
    fn data_keys(&self, tenant: Option<TenantKey>) -> Result<Vec<DataKeyRecord>> {
        let _ = tenant;
        Ok(Vec::new())
    }

    /// Every data key whose actor, session or payload-subject hash is `hash`.
    fn data_keys_of_subject(&self, hash: &str) -> Result<Vec<DataKeyRecord>> {
        let _ = hash;
        Ok(Vec::new())
    }

    /// The data keys erasures destroyed in `tenant`.
    fn erased_keys(&self, tenant: TenantKey) -> Result<Vec<ErasedKeyRecord>> {
        let _ = tenant;
        Ok(Vec::new())
    }
}

/// Write access inside one transaction. Dropping it without [`Writer::commit`] rolls back.
pub trait Writer: Reader {
    /// Creates a tenant with an empty chain whose first key is `key_id`.
    fn create_tenant(&mut self, id: &TenantId, key_id: &KeyId) -> Result<TenantState>;

    /// Appends sealed records. A record whose event id is already stored fails with
    /// [`Error::DuplicateEventId`](crate::Error::DuplicateEventId) (without a location).
    fn append(&mut self, records: &[NewRecord]) -> Result<()>;

    /// [`Writer::append`] for records the caller no longer needs, so that a backend that keeps
    /// them in memory can take them instead of copying. Returns the records the backend did not
    /// keep, so that the caller chooses where they are freed (ingest frees them on the sealing
    /// pool, off the single writing thread). The default appends by reference and returns them
    /// all.
    fn append_owned(&mut self, records: Vec<NewRecord>) -> Result<Vec<NewRecord>> {
        self.append(&records)?;
        Ok(records)
    }

    /// Stores a tenant's new head, size, frontier and current key.
    fn update_tenant(&mut self, state: &TenantState) -> Result<()>;

    /// Records a key used by a tenant.
    fn add_key(&mut self, key: &KeyRecord) -> Result<()>;

    /// Stores a signed checkpoint.
    fn add_checkpoint(&mut self, checkpoint: &CheckpointRecord) -> Result<()>;

    /// Stores a named ledger setting.
    fn set_meta(&mut self, name: &str, value: &str) -> Result<()> {
        let _ = (name, value);
        Err(unsupported("ledger settings"))
    }

    /// Stores a new data key.
    fn add_data_key(&mut self, key: &DataKeyRecord) -> Result<()> {
        let _ = key;
        Err(unsupported("data keys"))
    }

    /// Replaces a data key's wrapped form (key-encryption-key rotation). The old wrapped bytes
    /// must not survive in the store.
    fn rewrap_data_key(&mut self, key_id: &str, kek: &str, wrapped: &[u8]) -> Result<()> {
        let _ = (key_id, kek, wrapped);
        Err(unsupported("data keys"))
    }

    /// Destroys data keys (crypto-shredding) and records each as erased by `erasure_event_id`.
    /// The wrapped bytes must not survive in the store (see [`Backend::scrub`]).
    fn erase_data_keys(
        &mut self,
        tenant: TenantKey,
        key_ids: &[String],
        erasure_event_id: &str,
    ) -> Result<()> {
        let _ = (tenant, key_ids, erasure_event_id);
        Err(unsupported("data keys"))
    }

    /// Makes everything written in this transaction durable. Returns only after the data is on
    /// stable storage.
    fn commit(self) -> Result<()>;
}

fn unsupported(what: &str) -> crate::Error {
    crate::Error::encryption(
        format!("this storage backend cannot store {what}; use the SQLite backend"),
        None,
    )
}

/// A reader that lends records without copying them, for a scan on a thread of its own: see
/// [`Reader::scan_readers`].
pub trait RecordScan {
    /// Calls `f` with each record of `tenant` whose `seq` lies in `seqs`, in `seq` order, each
    /// borrowed for the call only, until `f` returns `false`.
    fn scan(
        &self,
        tenant: TenantKey,
        seqs: Range<u64>,
        f: &mut dyn FnMut(RecordRef<'_>) -> bool,
    ) -> Result<()>;
}

/// A ledger store.
pub trait Backend {
    /// A consistent read snapshot.
    type Read<'a>: Reader
    where
        Self: 'a;

    /// A write transaction.
    type Write<'a>: Writer
    where
        Self: 'a;

    /// The ledger's unique id, fixed when the store was created.
    fn ledger_id(&self) -> &str;

    /// Opens a read snapshot.
    fn read(&self) -> Result<Self::Read<'_>>;

    /// Opens a write transaction; only one exists at a time.
    fn write(&mut self) -> Result<Self::Write<'_>>;

    /// After an erasure: removes every remaining copy of deleted data from the store's files
    /// (for SQLite, a `TRUNCATE` checkpoint of the write-ahead log; deleted cells are already
    /// zeroed by `secure_delete`). The default has nothing to scrub.
    fn scrub(&mut self) -> Result<()> {
        Ok(())
    }
}
