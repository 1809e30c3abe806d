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
//! * key records (ids and rotations, never secrets) and signed checkpoints per tenant.

use spanforge_chain::merkle::{Frontier, Hash, NodeId};
use spanforge_event::EventId;

use crate::error::Result;
use crate::keys::KeyId;
use crate::page::RecordPage;
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
    pub event_type: String,
    /// The model the event concerns ([`spanforge_event::Event::model_id`]).
    pub model_id: Option<String>,
    /// The envelope's `actor_id`.
    pub actor_id: Option<String>,
    /// The envelope's `session_id`.
    pub session_id: Option<String>,
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

/// Filters for [`Reader::query`]: one tenant, an inclusive time range, an event-type prefix and
/// a model id. Results come in `(timestamp, seq)` order.
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
    fn query(
        &self,
        filter: &RecordFilter,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Result<Vec<Record>>;

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
}

/// Write access inside one transaction. Dropping it without [`Writer::commit`] rolls back.
pub trait Writer: Reader {
    /// Creates a tenant with an empty chain whose first key is `key_id`.
    fn create_tenant(&mut self, id: &TenantId, key_id: &KeyId) -> Result<TenantState>;

    /// Appends sealed records. A record whose event id is already stored fails with
    /// [`Error::DuplicateEventId`](crate::Error::DuplicateEventId) (without a location).
    fn append(&mut self, records: &[NewRecord]) -> Result<()>;

    /// Stores a tenant's new head, size, frontier and current key.
    fn update_tenant(&mut self, state: &TenantState) -> Result<()>;

    /// Records a key used by a tenant.
    fn add_key(&mut self, key: &KeyRecord) -> Result<()>;

    /// Stores a signed checkpoint.
    fn add_checkpoint(&mut self, checkpoint: &CheckpointRecord) -> Result<()>;

    /// Makes everything written in this transaction durable. Returns only after the data is on
    /// stable storage.
    fn commit(self) -> Result<()>;
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
}
