//! Ledger verification: every stored event re-checked, every tenant's tree rebuilt, and the
//! result compared with the stored heads, the stored checkpoints and checkpoints kept outside the
//! database.
//!
//! Per tenant, rows stream in `seq` order a page at a time (memory stays flat). Where the store
//! can open readers of its own for other threads ([`Reader::scan_readers`]: SQLite files), each
//! thread of the pool reads the next chunk of rows with its own reader, checks every row where
//! the store lends it, and the chunks are folded into the chain and the tree strictly in order
//! (`read_on_every_thread`). Elsewhere three stages overlap: the calling thread reads the next
//! page from storage while the pool (rayon) checks the rows of the current page in parallel and
//! one pool task folds the previous page (`read_on_one_thread`). Both report the same.
//!
//! The row check recomputes the leaf hash over the stored envelope, checks that the index columns
//! agree with the envelope and its `org_id` with the tenant, that the key the tenant's key
//! schedule assigns to that position signed it (checksum over the payload, HMAC over the ids),
//! and notes tombstones and rotations. An intact ordinary row takes a fast path that reads the
//! fields these checks need straight from the canonical text (`scan`) instead of building an
//! event; any row that fails a fast check, or that the scanner does not take, is checked again
//! by the full path, which parses and validates the envelope as an event, requires it to
//! re-serialise to the stored bytes, and words every finding. The fast path does not repeat the
//! field rules of members no check reads (`source`, `schema_version`, trace and span ids, tags,
//! number forms in the payload, and whether those members are UTF-8): those bytes were validated
//! when the event was sealed, and any later change to them changes the leaf hash. A rewrite that
//! also replaces the leaf hash, the nodes and the head is caught by the signed checkpoints, as for
//! every field outside the HMAC; after the last checkpoint, the full path would have flagged such
//! a rewrite only when the new value broke a field rule, never when it was valid, so no
//! undetectable change becomes possible.
//!
//! The fold checks the sequence numbers and the `prev_id` links, rebuilds the tree with a
//! [`Frontier`], compares every stored interior node and, at each checkpoint size, the root.
//!
//! What each check catches:
//! * a change to any byte of a stored envelope: its leaf hash (and, for `event_id`, `payload` and
//!   `prev_id`, also the HMAC);
//! * a change to an index column: the column comparison;
//! * a rewrite of envelope, leaf hash, nodes and head together (an attacker with file access but
//!   without the HMAC key): the root no longer matches stored and external checkpoints, whose
//!   Ed25519 signatures cannot be forged;
//! * deleted, inserted or reordered rows: sequence numbers, links and the root;
//! * truncation or rollback (rows and head cut back together): an external checkpoint larger
//!   than the tree; a fork (same size, other root): its root.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

use rayon::prelude::*;
use spanforge_chain::checkpoint::Checkpoint;
use spanforge_chain::compat::{self, EventCheck, KEY_ROTATED_TYPE, TOMBSTONE_TYPE};
use spanforge_chain::merkle::{self, Frontier, HASH_LEN, Hash, leaf_hash};
use spanforge_chain::note::NoteVerifier;
use spanforge_event::ids::digests_equal;
use spanforge_event::{Checksum, Event, EventId, EventType, MAX_EVENT_BYTES, Timestamp};

use crate::backend::{Backend, Reader, RecordScan, TenantKey, TenantState};
use crate::encryption::{ERASURE_EVENT_TYPE, EncryptedPayload};
use crate::error::Result;
use crate::keys::{HmacKey, KeyId, KeyProvider};
use crate::ledger::{Ledger, TenantNodes, open_checkpoint, parse_origin, split_checkpoints};
use crate::page::{RecordPage, RecordRef};
use crate::scan;
use crate::tenant::TenantId;

/// How many ids a report lists per kind of finding by default; counts are always exact.
pub const DEFAULT_MAX_LISTED: usize = 1000;

/// Pages a verification reads into: one being read, one queued, one being checked and one
/// being folded.
const PAGES_IN_FLIGHT: usize = 4;

/// Rows per page. With ~1 KiB rows, a page of 1,024 is ~1 MiB, which the cores' caches keep
/// between reading, checking and folding it. Verifying 1,000,000 events, alternated runs gave
/// 904,000–933,000 events/s against 844,000–874,000 with 2,048 rows and 813,000–827,000 with
/// 4,096; 512 and 256 rows were slower than 1,024. In the host's slower phases all sizes ran
/// alike.
const PAGE: usize = 1024;

/// What to verify and against what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Only this tenant (all tenants when `None`).
    pub tenant: Option<TenantId>,
    /// Signed checkpoint notes kept outside the database.
    pub checkpoints: Vec<String>,
    /// How many ids to list per kind of finding.
    pub max_listed: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            tenant: None,
            checkpoints: Vec::new(),
            max_listed: DEFAULT_MAX_LISTED,
        }
    }
}

impl VerifyOptions {
    /// Verify everything, against nothing external.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the checkpoints of a checkpoint file (one signed note, or several separated by blank
    /// lines, as [`format_checkpoints`](crate::format_checkpoints) writes).
    pub fn with_checkpoint_file(mut self, text: &str) -> Result<Self> {
        self.checkpoints.extend(split_checkpoints(text)?);
        Ok(self)
    }

    /// Verifies only `tenant`.
    #[must_use]
    pub fn only_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }
}

/// The result of [`Ledger::verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerReport {
    /// True when every tenant is intact and every external checkpoint is consistent.
    pub valid: bool,
    /// The ledger's id.
    pub ledger_id: String,
    /// Events checked, all tenants.
    pub events: u64,
    /// The first event that failed any check: the first tenant's (in the order of
    /// [`LedgerReport::tenants`]) that has one.
    pub first_tampered: Option<String>,
    /// Events that failed a check, all tenants.
    pub tampered_count: u64,
    /// Events that do not follow the event before them, all tenants (each tenant's first
    /// `max_listed`, up to `max_listed` in all).
    pub gaps: Vec<String>,
    /// How many such breaks were found, all tenants.
    pub gap_count: u64,
    /// Tombstone events, all tenants (up to `max_listed`).
    pub tombstones: Vec<String>,
    /// How many tombstones the ledger holds.
    pub tombstone_count: u64,
    /// The fields the checks cover: the whole envelope, through the Merkle leaf.
    pub covered_fields: Vec<String>,
    /// One report per tenant verified.
    pub tenants: Vec<TenantReport>,
    /// The external checkpoints and what comparing them found.
    pub checkpoints: Vec<CheckpointCheck>,
    /// Problems outside any one tenant.
    pub problems: Vec<String>,
}

/// The result of verifying one tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantReport {
    /// The tenant.
    pub tenant: TenantId,
    /// Its checkpoint origin.
    pub origin: String,
    /// True when nothing below is wrong.
    pub valid: bool,
    /// Events checked.
    pub events: u64,
    /// The tree size the tenant's head records.
    pub size: u64,
    /// The root rebuilt from the stored events, hex.
    pub root: String,
    /// The first event (in chain order) that failed any check.
    pub first_tampered: Option<String>,
    /// Events that failed a check.
    pub tampered_count: u64,
    /// The failed events with the reasons (the first `max_listed`).
    pub tampered: Vec<TamperFinding>,
    /// Events whose `prev_id` or sequence number does not follow the event before them (the
    /// first `max_listed`).
    pub gaps: Vec<String>,
    /// How many such breaks were found.
    pub gap_count: u64,
    /// Events whose key is not configured, so their HMAC could not be checked.
    pub unverified_count: u64,
    /// Tombstone events (GDPR erasures).
    pub tombstones: Vec<String>,
    /// How many tombstones the chain holds.
    pub tombstone_count: u64,
    /// Events whose payload is stored encrypted (erased ones included).
    pub encrypted_count: u64,
    /// Encrypted events whose data key an erasure destroyed (crypto-shredded, GDPR Art. 17):
    /// intact, but their payload can no longer be read by anyone.
    pub erased_count: u64,
    /// The erased events (the first `max_listed`).
    pub erased: Vec<String>,
    /// Erasure records (`io.spanforge.privacy.subject_erased` events) in the chain.
    pub erasure_events: Vec<String>,
    /// Key rotations met along the chain.
    pub rotations: Vec<RotationCheck>,
    /// The fields the native checks cover: the whole envelope, through the Merkle leaf.
    pub covered_fields: Vec<String>,
    /// Stored checkpoints compared with the rebuilt tree.
    pub stored_checkpoints: u64,
    /// Problems with the tenant's head, tree, keys or checkpoints.
    pub problems: Vec<String>,
}

impl TenantReport {
    /// The report of a tenant before anything is checked.
    fn empty(tenant: TenantId, origin: String, size: u64) -> Self {
        Self {
            tenant,
            origin,
            valid: false,
            events: 0,
            size,
            root: String::new(),
            first_tampered: None,
            tampered_count: 0,
            tampered: Vec::new(),
            gaps: Vec::new(),
            gap_count: 0,
            unverified_count: 0,
            tombstones: Vec::new(),
            tombstone_count: 0,
            encrypted_count: 0,
            erased_count: 0,
            erased: Vec::new(),
            erasure_events: Vec::new(),
            rotations: Vec::new(),
            covered_fields: covered_fields(),
            stored_checkpoints: 0,
            problems: Vec::new(),
        }
    }
}

/// One event that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TamperFinding {
    /// Its position in the chain.
    pub seq: u64,
    /// Its id (from the envelope when it parses, else from the id column).
    pub event_id: String,
    /// Every check it failed.
    pub reasons: Vec<String>,
}

/// A key rotation found in a chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RotationCheck {
    /// The rotation event's id.
    pub event_id: String,
    /// Its position in the chain.
    pub seq: u64,
    /// The key the rotation switches to, if the ledger recorded it.
    pub key_id: Option<String>,
    /// Whether that key is configured, so the events after it could be checked.
    pub key_found: bool,
}

/// Where a checkpoint compared during verification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointSource {
    /// Given by the caller (kept outside the database).
    External,
}

/// What comparing a checkpoint with the ledger found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStatus {
    /// The ledger's tree has the checkpoint's root at its size and extends it.
    Consistent,
    /// The ledger's tree is smaller than the checkpoint: events were removed (truncation or
    /// rollback).
    Truncated,
    /// The ledger's tree has another root at the checkpoint's size: history was rewritten.
    Forked,
    /// The ledger's stored nodes do not prove that the tree extends the checkpoint.
    Inconsistent,
    /// The checkpoint's signature does not verify with the configured keys.
    BadSignature,
    /// The checkpoint belongs to another ledger.
    OtherLedger,
    /// The checkpoint's origin is not a SpanForge tenant origin.
    Unreadable,
    /// The checkpoint's tenant was not verified (another tenant was selected).
    NotChecked,
}

impl CheckpointStatus {
    fn is_ok(self) -> bool {
        matches!(self, Self::Consistent | Self::NotChecked)
    }
}

/// One checkpoint compared with the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointCheck {
    /// Where it came from.
    pub source: CheckpointSource,
    /// Its origin, when it could be read.
    pub origin: Option<String>,
    /// Its tenant, when the origin names one of this ledger's tenants.
    pub tenant: Option<TenantId>,
    /// Its tree size.
    pub size: Option<u64>,
    /// Its root, hex.
    pub root: Option<String>,
    /// The verdict.
    pub status: CheckpointStatus,
    /// Details for a failed comparison.
    pub detail: Option<String>,
}

/// The key of one stretch of a tenant's chain.
struct Segment {
    first_seq: u64,
    key_id: KeyId,
    key: Option<HmacKey>,
    rotation_event_id: Option<String>,
    previous_key_id: Option<KeyId>,
    matched: bool,
}

/// What the parallel per-row check found.
struct RowOutcome {
    /// The event id from the envelope, when it could be read.
    parsed_id: Option<EventId>,
    prev_id: Option<EventId>,
    parsed: bool,
    leaf: Hash,
    reasons: Vec<String>,
    unverified: bool,
    kind: RowKind,
    encrypted: bool,
    erased: bool,
}

impl RowOutcome {
    /// The id to report: the envelope's, else the id column's. Built only when a report needs
    /// it, so an intact row allocates nothing for it.
    fn id_text(&self, row: RecordRef<'_>) -> String {
        self.parsed_id
            .map_or_else(|| row.event_id.to_owned(), |id| id.as_str().to_owned())
    }
}

enum RowKind {
    Plain,
    Tombstone,
    Erasure,
    /// Boxed: rotations are rare, and every row's outcome is as large as its largest kind.
    Rotation(Box<Rotation>),
}

/// What a key-rotation event's payload names.
struct Rotation {
    key_id: Option<String>,
    previous_key_id: Option<String>,
    new_secret_hash: Option<String>,
}

struct RowContext<'a> {
    tenant: &'a TenantId,
    tenant_key: TenantKey,
    segments: &'a [Segment],
    /// The tenant's stored data keys, by id.
    data_keys: &'a HashSet<String>,
    /// Data keys whose destruction an erasure record and the erasure event it names agree on.
    erased_keys: &'a HashSet<String>,
    /// The tenant's checkpoint origin path (the `tenant` entry of its encryption contexts).
    origin_path: String,
}

impl RowContext<'_> {
    fn segment(&self, seq: u64) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.first_seq <= seq);
        i.checked_sub(1).and_then(|i| self.segments.get(i))
    }
}

fn check_row(row: RecordRef<'_>, ctx: &RowContext<'_>) -> RowOutcome {
    let leaf = leaf_hash(row.envelope);
    let segment = ctx.segment(row.seq);
    if row.leaf_hash == leaf.as_bytes()
        && row.tenant == ctx.tenant_key
        && let Some(outcome) = fast_check(row, ctx, segment, leaf)
    {
        return outcome;
    }
    full_check(row, ctx, segment, leaf)
}

/// A text column's bytes, to compare with what the scanner read.
fn bytes(column: Option<&str>) -> Option<&[u8]> {
    column.map(str::as_bytes)
}

/// The check of an intact ordinary event without building it: the envelope is read with
/// [`scan`](crate::scan::scan), which borrows the fields the checks need from the canonical
/// text. The same checks as [`full_check`] then run on them: the index columns against the
/// envelope, the tenant, the key schedule, the checksum over the payload's stored bytes and the
/// HMAC over the ids. The leaf hash over every stored byte was compared by the caller.
///
/// Returns `None` (and [`full_check`] runs) unless every check passes and the event is a plain
/// one (not a tombstone or a rotation, whose payloads the fold reads), so every finding is
/// diagnosed, and worded, by the full parser. The checksum is computed over the payload's bytes
/// as stored; it equals the signed checksum only when those bytes are the canonical payload that
/// was signed, so no payload that differs from the signed one passes here.
fn fast_check(
    row: RecordRef<'_>,
    ctx: &RowContext<'_>,
    segment: Option<&Segment>,
    leaf: Hash,
) -> Option<RowOutcome> {
    let segment = segment?;
    let key = segment.key.as_ref()?;
    if row.key_id != segment.key_id.as_str() || row.envelope.len() > MAX_EVENT_BYTES {
        return None;
    }
    // The scanner returns bytes. The envelope's event id, type, model, actor and session must
    // equal the index columns, which are text, and are then read from the columns; the
    // timestamp and `prev_id` are ASCII formats, checked as UTF-8 first.
    let s = scan::scan(row.envelope)?;
    let columns_agree = row.event_id.as_bytes() == s.event_id
        && row.event_type.as_bytes() == s.event_type
        && bytes(row.model_id) == s.model_id
        && bytes(row.actor_id) == s.actor_id
        && bytes(row.session_id) == s.session_id
        && bytes(ctx.tenant.org_id()) == s.org_id;
    if !columns_agree {
        return None;
    }
    // Events whose payloads the fold reads leave the fast path; every other type the
    // validator accepts (registered or a documented extension) takes it.
    if row.event_type == TOMBSTONE_TYPE
        || row.event_type == KEY_ROTATED_TYPE
        || row.event_type == ERASURE_EVENT_TYPE
        || EventType::parse(row.event_type).is_err()
    {
        return None;
    }
    let event_id = EventId::parse(row.event_id).ok()?;
    let prev_id = match s.prev_id {
        None => None,
        Some(p) => Some(EventId::parse(std::str::from_utf8(p).ok()?).ok()?),
    };
    let ts = Timestamp::parse(std::str::from_utf8(s.timestamp).ok()?).ok()?;
    if row.ts_micros != ts.unix_micros() {
        return None;
    }
    let (checksum_wire, signature_wire) = (s.checksum?, s.signature?);
    // The stored checksum and signature are compared in their wire form with the recomputed
    // values, which is what parsing them and comparing the digests would decide.
    let payload = row.envelope.get(s.payload)?;
    let checksum = Checksum::of_canonical(payload);
    if !checksum.matches_wire(checksum_wire) {
        return None;
    }
    let expected = key
        .secret()
        .sign_parts(&event_id, &checksum, prev_id.as_ref());
    if !expected.matches_wire(signature_wire) {
        return None;
    }
    Some(RowOutcome {
        parsed_id: Some(event_id),
        prev_id,
        parsed: true,
        leaf,
        reasons: Vec::new(),
        unverified: false,
        kind: RowKind::Plain,
        // The stored payload hashes to the signed checksum: it is the plaintext.
        encrypted: false,
        erased: false,
    })
}

/// Every check on one row, with the envelope parsed and validated as an event: the path for
/// rows [`fast_check`] does not pass, which also words every finding.
fn full_check(
    row: RecordRef<'_>,
    ctx: &RowContext<'_>,
    segment: Option<&Segment>,
    leaf: Hash,
) -> RowOutcome {
    let mut reasons = Vec::new();
    if row.leaf_hash != leaf.as_bytes() {
        reasons.push("the stored leaf hash differs from the envelope's".to_owned());
    }
    if row.tenant != ctx.tenant_key {
        reasons.push("the tenant column differs from the row's position".to_owned());
    }
    let mut out = RowOutcome {
        parsed_id: None,
        prev_id: None,
        parsed: false,
        leaf,
        reasons: Vec::new(),
        unverified: false,
        kind: RowKind::Plain,
        encrypted: false,
        erased: false,
    };
    let event = match std::str::from_utf8(row.envelope) {
        Err(_) => {
            reasons.push("the envelope is not UTF-8".to_owned());
            out.reasons = reasons;
            return out;
        }
        Ok(text) => Event::from_json_str(text),
    };
    let event = match event {
        Err(e) => {
            reasons.push(format!("the envelope is not a valid event: {e}"));
            out.reasons = reasons;
            return out;
        }
        Ok(event) => event,
    };
    out.parsed = true;
    out.parsed_id = Some(*event.event_id());
    out.prev_id = event.prev_id().copied();

    let mut canonical = Vec::with_capacity(row.envelope.len());
    let payload_span = event.write_canonical_parts(&mut canonical, None);
    if canonical.as_slice() != row.envelope {
        reasons.push("the envelope is not in canonical form".to_owned());
    }
    let mut column = |name: &str, ok: bool| {
        if !ok {
            reasons.push(format!("the {name} column differs from the envelope"));
        }
    };
    column("event_id", row.event_id == event.event_id().as_str());
    column("ts", row.ts_micros == event.timestamp().unix_micros());
    column("event_type", row.event_type == event.event_type().as_str());
    // An encrypted payload's model id (taken from the payload) cannot be read without the key;
    // decrypting readers compare the column with the decrypted payload instead.
    let encrypted = EncryptedPayload::from_payload(event.payload());
    column(
        "model_id",
        encrypted.is_some() || row.model_id == event.model_id(),
    );
    column("actor_id", row.actor_id == event.actor_id());
    column("session_id", row.session_id == event.session_id());
    if !ctx.tenant.owns(event.org_id()) {
        reasons.push(format!(
            "its org_id does not belong to tenant {}",
            ctx.tenant
        ));
    }
    let sealed = encrypted;
    if sealed.is_none() && EncryptedPayload::has_stored_shape(event.payload()) {
        reasons.push("its encrypted payload is malformed (not base64 or not text)".to_owned());
    }
    if let Some(sealed) = &sealed {
        out.encrypted = true;
        check_sealed(&event, sealed, ctx, &mut out, &mut reasons);
    }
    match segment {
        None => {
            out.unverified = true;
        }
        Some(segment) => {
            if row.key_id != segment.key_id.as_str() {
                reasons.push(format!(
                    "the key_id column says {}, the key schedule says {}",
                    row.key_id, segment.key_id
                ));
            }
            match &segment.key {
                None => out.unverified = true,
                Some(key) => match check_integrity(
                    &event,
                    if sealed.is_some() {
                        None
                    } else {
                        canonical.get(payload_span)
                    },
                    sealed.is_some(),
                    key,
                ) {
                    EventCheck::Valid => {}
                    EventCheck::ChecksumMismatch => {
                        reasons.push("its checksum does not match its payload".to_owned());
                    }
                    EventCheck::SignatureMismatch => reasons.push(format!(
                        "its signature does not verify under key {}",
                        key.id()
                    )),
                    EventCheck::Unsigned => reasons.push("it is not signed".to_owned()),
                },
            }
        }
    }
    let kind = event.event_type().as_str();
    if kind == TOMBSTONE_TYPE {
        out.kind = RowKind::Tombstone;
    } else if kind == ERASURE_EVENT_TYPE {
        out.kind = RowKind::Erasure;
    } else if kind == KEY_ROTATED_TYPE {
        let field = |name: &str| {
            event
                .payload_field(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        out.kind = RowKind::Rotation(Box::new(Rotation {
            key_id: field("key_id"),
            previous_key_id: field("previous_key_id"),
            new_secret_hash: field("new_secret_hash"),
        }));
    }
    out.reasons = reasons;
    out
}

/// What can be checked of an encrypted payload without its key: that the ciphertext is an AEV1
/// envelope sealed for this tenant, this event and the data key the payload names, and that the
/// data key is either stored or destroyed by a recorded erasure.
fn check_sealed(
    event: &Event,
    sealed: &EncryptedPayload,
    ctx: &RowContext<'_>,
    out: &mut RowOutcome,
    reasons: &mut Vec<String>,
) {
    match spanforge_crypto::Envelope::parse(&sealed.ciphertext) {
        Err(e) => reasons.push(format!(
            "its encrypted payload is not an AEV1 envelope: {e}"
        )),
        Ok(env) => {
            if env.key_id().as_str() != sealed.data_key_id {
                reasons.push("its ciphertext names another data key than its payload".to_owned());
            }
            let c = env.context();
            if c.event() != Some(event.event_id().as_str())
                || c.tenant() != Some(ctx.origin_path.as_str())
            {
                reasons.push("its ciphertext was sealed for another event or tenant".to_owned());
            }
        }
    }
    if ctx.data_keys.contains(&sealed.data_key_id) {
        return;
    }
    if ctx.erased_keys.contains(&sealed.data_key_id) {
        out.erased = true;
    } else {
        reasons.push(format!(
            "its data key {} is missing and no erasure records its destruction",
            sealed.data_key_id
        ));
    }
}

/// [`compat::check_event`] with the payload's canonical bytes already at hand (a slice of the
/// re-serialised envelope), so the payload is not serialised a second time. For an encrypted
/// payload (`encrypted`) the checksum cannot be recomputed without the key; the signature over
/// `event_id|checksum|prev_id` is checked, and readers that decrypt check the checksum.
fn check_integrity(
    event: &Event,
    payload: Option<&[u8]>,
    encrypted: bool,
    key: &HmacKey,
) -> EventCheck {
    let (Some(checksum), Some(signature)) = (event.checksum(), event.signature()) else {
        return compat::check_event(event, key.secret());
    };
    if !encrypted {
        let Some(payload) = payload else {
            return compat::check_event(event, key.secret());
        };
        let actual = Checksum::of_canonical(payload);
        if !digests_equal(actual.digest(), checksum.digest()) {
            return EventCheck::ChecksumMismatch;
        }
    }
    let expected = key
        .secret()
        .sign_parts(event.event_id(), checksum, event.prev_id());
    if digests_equal(expected.mac(), signature.mac()) {
        EventCheck::Valid
    } else {
        EventCheck::SignatureMismatch
    }
}

/// The tenant's stored data key ids, and the ids of the data keys an erasure destroyed: those the
/// `erased_keys` table records *and* the erasure event it names lists (that event is in the
/// tenant's chain, so the main pass checks its integrity). A disagreement is a problem.
fn erasure_state<R: Reader>(
    read: &R,
    state: &TenantState,
    problems: &mut Vec<String>,
) -> Result<(HashSet<String>, HashSet<String>)> {
    let data_keys: HashSet<String> = read
        .data_keys(Some(state.key))?
        .into_iter()
        .map(|k| k.key_id)
        .collect();
    let mut listed: HashMap<String, Option<HashSet<String>>> = HashMap::new();
    let mut erased = HashSet::new();
    for record in read.erased_keys(state.key)? {
        let ids = listed
            .entry(record.erasure_event_id.clone())
            .or_insert_with(|| erasure_event_keys(read, state.key, &record.erasure_event_id));
        match ids {
            Some(ids) if ids.contains(&record.key_id) => {
                erased.insert(record.key_id);
            }
            Some(_) => problems.push(format!(
                "data key {} is recorded as erased by {}, which does not list it",
                record.key_id, record.erasure_event_id
            )),
            None => problems.push(format!(
                "data key {} is recorded as erased by {}, which is not an erasure event of this tenant",
                record.key_id, record.erasure_event_id
            )),
        }
    }
    Ok((data_keys, erased))
}

/// The data key ids an erasure event of `tenant` lists, or `None` if there is no such event.
fn erasure_event_keys<R: Reader>(
    read: &R,
    tenant: TenantKey,
    event_id: &str,
) -> Option<HashSet<String>> {
    let record = read.record_by_event_id(event_id).ok()??;
    if record.tenant != tenant {
        return None;
    }
    let event = Event::from_json_str(std::str::from_utf8(&record.envelope).ok()?).ok()?;
    Some(
        crate::encryption::erased_key_ids(&event)?
            .into_iter()
            .collect(),
    )
}

/// A checkpoint root to compare when the rebuilt tree reaches its size.
struct Target {
    /// Index into the report's external checkpoints, or `None` for a stored checkpoint.
    external: Option<usize>,
    root: Hash,
}

/// Verification's row stages for a store without [`Reader::scan_readers`]: see the comments.
/// Returns what reading found and the fold.
fn read_on_one_thread<R: Reader>(
    read: &R,
    tenant: TenantKey,
    ctx: &RowContext<'_>,
    fold: Fold,
    checks: &mut [CheckpointCheck],
) -> (Result<()>, Fold) {
    // Three stages overlap: this thread reads pages from storage and queues them, the pool
    // checks the rows of page N in parallel, and a checking thread folds page N-1 into the
    // chain and the tree meanwhile (which must go in order). Reading runs ahead of the other
    // two, one queued page at most, instead of waiting for them page by page. Pages are
    // handed back for reuse, so memory stays flat and, once they have grown, reading
    // allocates nothing.
    let (full_tx, full_rx) = mpsc::sync_channel::<RecordPage>(1);
    let (empty_tx, empty_rx) = mpsc::channel::<RecordPage>();
    std::thread::scope(|s| {
        let checks = &mut *checks;
        let checker = s.spawn(move || {
            let mut fold = fold;
            let mut checked: Option<(RecordPage, Vec<Option<RowOutcome>>)> = None;
            // The outcomes of one page are folded while the next page's are checked into
            // the other of two vectors, which are reused.
            let mut spare = Vec::new();
            let mut incoming = full_rx.iter();
            // Once the tree cannot grow, nothing after that point is folded (or read).
            while !fold.stopped {
                let page = incoming.next();
                if page.is_none() && checked.is_none() {
                    break;
                }
                let mut outcomes = std::mem::take(&mut spare);
                let mut to_fold = checked.take();
                rayon::in_place_scope(|scope| {
                    if let Some(page) = &page {
                        scope.spawn(|_| {
                            (0..page.len())
                                .into_par_iter()
                                .map(|i| page.get(i).map(|r| check_row(r, ctx)))
                                .collect_into_vec(&mut outcomes);
                        });
                    }
                    if let Some((rows, outcomes)) = to_fold.as_mut() {
                        fold.page(rows, outcomes.drain(..).flatten(), &mut *checks);
                    }
                });
                if let Some((folded, used)) = to_fold {
                    spare = used;
                    // The reader may have finished; then the page is simply dropped.
                    let _ = empty_tx.send(folded);
                }
                checked = page.map(|page| (page, outcomes));
            }
            fold
        });
        let mut next_seq = 0u64;
        // Four pages circulate (one being read, one queued, one being checked, one being
        // folded); the reader waits for a folded one rather than growing a new page, whose
        // buffers would fault in fresh memory.
        let mut made = 0;
        let read_result = loop {
            let mut page = if made < PAGES_IN_FLIGHT {
                made += 1;
                RecordPage::new()
            } else {
                match empty_rx.recv() {
                    Ok(page) => page,
                    // The checker has stopped (the tree cannot grow).
                    Err(_) => break Ok(()),
                }
            };
            page.clear();
            if let Err(e) = read.records_page(tenant, next_seq, PAGE, &mut page) {
                break Err(e);
            }
            let full = page.len() == PAGE;
            next_seq = page.last().map_or(next_seq, |r| r.seq.saturating_add(1));
            // A send fails only when the checker has stopped (the tree cannot grow).
            if page.is_empty() || full_tx.send(page).is_err() || !full {
                break Ok(());
            }
        };
        drop(full_tx);
        let fold = checker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read_result, fold)
    })
}

/// Chunks of rows the checking threads may finish ahead of the fold, each thread's rows and
/// outcomes held until the chunks before them are folded.
const CHUNKS_AHEAD: u64 = 4;

/// Verification's row stages with one [`RecordScan`] per thread: each thread claims the next
/// chunk of [`PAGE`] sequence numbers, reads its rows from its own snapshot and checks each row
/// where the store lends it (no envelope is copied), keeping only what the fold reads (the index
/// columns, the stored leaf hash and nodes) and the outcome. Finished chunks are folded strictly
/// in order by whichever thread completes the chunk the fold waits for; a thread waits before
/// starting a chunk more than [`CHUNKS_AHEAD`] past it, so memory stays flat. Rows are read up to
/// `last`, the last `seq` this tenant has in the verifying snapshot (see
/// [`Reader::scan_readers`]).
fn read_on_every_thread(
    scanners: &mut [Box<dyn RecordScan + Send>],
    tenant: TenantKey,
    last: Option<u64>,
    ctx: &RowContext<'_>,
    fold: Fold,
    checks: &mut [CheckpointCheck],
) -> (Result<()>, Fold) {
    let Some(last) = last else {
        return (Ok(()), fold);
    };
    let page = PAGE as u64;
    let chunks = last / page + 1;
    let shared = Mutex::new(Folding {
        fold,
        checks,
        ready: BTreeMap::new(),
        next: 0,
        spare: Vec::new(),
        error: None,
        abandoned: false,
    });
    let room = Condvar::new();
    let claimed = AtomicU64::new(0);
    std::thread::scope(|s| {
        for scanner in scanners.iter_mut() {
            let (shared, room, claimed) = (&shared, &room, &claimed);
            s.spawn(move || {
                let _wake = WakeOnPanic { shared, room };
                loop {
                    let chunk = claimed.fetch_add(1, Ordering::Relaxed);
                    if chunk >= chunks {
                        return;
                    }
                    let (mut rows, mut outcomes) = {
                        let mut folding = lock(shared);
                        while chunk >= folding.next + CHUNKS_AHEAD && !folding.done() {
                            folding = room
                                .wait(folding)
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                        }
                        if folding.done() {
                            return;
                        }
                        folding.spare.pop().unwrap_or_default()
                    };
                    rows.clear();
                    outcomes.clear();
                    let from = chunk * page;
                    let read =
                        scanner.scan(tenant, from..(from + page).min(last + 1), &mut |row| {
                            outcomes.push(check_row(row, ctx));
                            // Only what the fold reads (see `Fold::row`).
                            rows.push(&RecordRef {
                                event_type: "",
                                model_id: None,
                                actor_id: None,
                                session_id: None,
                                key_id: "",
                                envelope: &[],
                                ..row
                            });
                            true
                        });
                    let mut folding = lock(shared);
                    match read {
                        Ok(()) => folding.deliver(chunk, rows, outcomes),
                        Err(e) => {
                            folding.error.get_or_insert(e);
                        }
                    }
                    room.notify_all();
                }
            });
        }
    });
    let Folding { fold, error, .. } = shared
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (error.map_or(Ok(()), Err), fold)
}

/// The state [`read_on_every_thread`]'s threads share.
struct Folding<'c> {
    fold: Fold,
    checks: &'c mut [CheckpointCheck],
    /// Checked chunks waiting for the ones before them, by chunk number.
    ready: BTreeMap<u64, (RecordPage, Vec<RowOutcome>)>,
    /// The chunk the fold waits for.
    next: u64,
    /// Folded chunks' buffers, for reuse.
    spare: Vec<(RecordPage, Vec<RowOutcome>)>,
    /// The first read error; no chunk is started after it.
    error: Option<crate::Error>,
    /// A thread panicked: the others stop instead of waiting for its chunk, and the scope
    /// resumes its panic.
    abandoned: bool,
}

impl Folding<'_> {
    /// Whether no further chunk is needed: the tree cannot grow, reading failed or a thread
    /// panicked.
    fn done(&self) -> bool {
        self.fold.stopped || self.error.is_some() || self.abandoned
    }

    /// Takes a checked chunk and folds every chunk that is now next in order.
    fn deliver(&mut self, chunk: u64, rows: RecordPage, outcomes: Vec<RowOutcome>) {
        self.ready.insert(chunk, (rows, outcomes));
        while let Some((rows, mut outcomes)) = self.ready.remove(&self.next) {
            if !self.fold.stopped {
                self.fold.page(&rows, outcomes.drain(..), self.checks);
            }
            self.next += 1;
            self.spare.push((rows, outcomes));
        }
    }
}

/// Wakes the other threads of [`read_on_every_thread`] when its thread unwinds, so that none
/// waits forever for a chunk that thread will never deliver.
struct WakeOnPanic<'a, 'c> {
    shared: &'a Mutex<Folding<'c>>,
    room: &'a Condvar,
}

impl Drop for WakeOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(self.shared).abandoned = true;
            self.room.notify_all();
        }
    }
}

/// Locks `m`; a thread that panicked while holding it leaves nothing half-done that the others
/// could trip over (its panic is resumed when the scope ends).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps a list capped at `max` while counting every push.
fn push_capped<T>(list: &mut Vec<T>, max: usize, item: T) {
    if list.len() < max {
        list.push(item);
    }
}

/// The in-order part of a tenant's verification: sequence numbers, `prev_id` links, the tree
/// rebuilt from the recomputed leaves, the stored interior nodes and the checkpoint roots.
struct Fold {
    report: TenantReport,
    max: usize,
    /// The tree of the recomputed leaves: the truth heads and checkpoints are compared with.
    frontier: Frontier,
    /// The tree of the *stored* leaf hashes, which checks the stored interior nodes so that an
    /// edited envelope is blamed on its own row and not on the rows that hold its ancestors.
    /// While every stored leaf equals its recomputed one the two trees are the same tree, so it
    /// is built only from the first row where they differ (`None` until then).
    stored_frontier: Option<Frontier>,
    expected_seq: u64,
    last_id: Option<EventId>,
    rotations_seen: Vec<(u64, String, Rotation)>,
    targets: BTreeMap<u64, Vec<Target>>,
    /// Set when the tree cannot grow: nothing after that can be checked.
    stopped: bool,
}

impl Fold {
    fn new(report: TenantReport, max: usize, targets: BTreeMap<u64, Vec<Target>>) -> Self {
        Self {
            report,
            max,
            frontier: Frontier::new(),
            stored_frontier: None,
            expected_seq: 0,
            last_id: None,
            rotations_seen: Vec::new(),
            targets,
            stopped: false,
        }
    }

    fn page(
        &mut self,
        rows: &RecordPage,
        outcomes: impl Iterator<Item = RowOutcome>,
        checks: &mut [CheckpointCheck],
    ) {
        for (row, outcome) in rows.iter().zip(outcomes) {
            if !self.row(row, outcome, checks) {
                self.stopped = true;
                return;
            }
        }
    }

    /// Folds one row in; `false` when the tree cannot grow. Of the row it reads the sequence
    /// number, the event id column, the stored leaf hash and the stored nodes, nothing else.
    fn row(
        &mut self,
        row: RecordRef<'_>,
        mut outcome: RowOutcome,
        checks: &mut [CheckpointCheck],
    ) -> bool {
        let max = self.max;
        let report = &mut self.report;
        report.events += 1;
        let mut reasons = std::mem::take(&mut outcome.reasons);
        let mut gap = false;
        let expected_seq = self.expected_seq;
        if row.seq != expected_seq {
            report.problems.push(if row.seq > expected_seq {
                format!("events at seq {expected_seq}..{} are missing", row.seq - 1)
            } else {
                format!("seq {} appears out of order", row.seq)
            });
            gap = true;
        }
        self.expected_seq = row.seq.saturating_add(1);
        if outcome.parsed {
            let linked = match &self.last_id {
                None => outcome.prev_id.is_none() && row.seq == 0,
                Some(prev) => outcome.prev_id.as_ref() == Some(prev),
            };
            gap |= !linked;
        }
        if gap {
            report.gap_count += 1;
            push_capped(&mut report.gaps, max, outcome.id_text(row));
        }
        self.last_id = outcome
            .parsed_id
            .or_else(|| EventId::parse(row.event_id).ok());

        let stored_leaf = Hash::from_slice(row.leaf_hash, "stored leaf").unwrap_or(outcome.leaf);
        if self.stored_frontier.is_none() && stored_leaf != outcome.leaf {
            self.stored_frontier = Some(self.frontier.clone());
        }
        let mut nodes_ok = true;
        let mut count = 0usize;
        let check_node = |id: merkle::NodeId, hash: Hash| {
            if id.level > 0 {
                let start = (usize::from(id.level) - 1) * HASH_LEN;
                if row.nodes.get(start..start + HASH_LEN) != Some(hash.as_bytes().as_slice()) {
                    nodes_ok = false;
                }
                count += 1;
            }
        };
        let appended = match &mut self.stored_frontier {
            None => self.frontier.append(outcome.leaf, check_node),
            Some(stored) => self
                .frontier
                .push(outcome.leaf)
                .and_then(|_| stored.append(stored_leaf, check_node)),
        };
        if let Err(e) = appended {
            report.problems.push(format!("the tree cannot grow: {e}"));
            return false;
        }
        if !nodes_ok || row.nodes.len() != count * HASH_LEN {
            reasons.push("its stored tree nodes differ from the recomputed ones".to_owned());
        }
        if let Some(list) = self.targets.remove(&self.frontier.size()) {
            compare_targets(
                &list,
                self.frontier.size(),
                &self.frontier.root(),
                &mut report.problems,
                checks,
            );
        }

        if outcome.encrypted {
            report.encrypted_count += 1;
        }
        if outcome.erased {
            report.erased_count += 1;
            push_capped(&mut report.erased, max, outcome.id_text(row));
        }
        match std::mem::replace(&mut outcome.kind, RowKind::Plain) {
            RowKind::Plain => {}
            RowKind::Erasure => {
                push_capped(&mut report.erasure_events, max, outcome.id_text(row));
            }
            RowKind::Tombstone => {
                report.tombstone_count += 1;
                push_capped(&mut report.tombstones, max, outcome.id_text(row));
            }
            RowKind::Rotation(rotation) => {
                self.rotations_seen
                    .push((row.seq, outcome.id_text(row), *rotation));
            }
        }
        if outcome.unverified {
            report.unverified_count += 1;
        }
        if !reasons.is_empty() {
            report.tampered_count += 1;
            let event_id = outcome.id_text(row);
            if report.first_tampered.is_none() {
                report.first_tampered = Some(event_id.clone());
            }
            push_capped(
                &mut report.tampered,
                max,
                TamperFinding {
                    seq: row.seq,
                    event_id,
                    reasons,
                },
            );
        }
        true
    }
}

impl<B: Backend> Ledger<B> {
    /// Verifies the ledger (see [`crate::verify`] for what is checked). Integrity failures are
    /// reported in the [`LedgerReport`], not returned as errors; an error means verification
    /// could not run (for example the database cannot be read).
    pub fn verify(&self, keys: &dyn KeyProvider, opts: &VerifyOptions) -> Result<LedgerReport> {
        self.verify_on(keys, opts, rayon::current_num_threads())
    }

    /// [`Ledger::verify`] with up to `threads` threads that read rows with readers of their own
    /// ([`Reader::scan_readers`]); with `0`, or when the store has no such readers, one thread
    /// reads and the pool checks.
    pub(crate) fn verify_on(
        &self,
        keys: &dyn KeyProvider,
        opts: &VerifyOptions,
        threads: usize,
    ) -> Result<LedgerReport> {
        let read = self.backend.read()?;
        let verifiers = keys.checkpoint_verifiers();
        let mut report = LedgerReport {
            valid: true,
            ledger_id: self.ledger_id().to_owned(),
            events: 0,
            first_tampered: None,
            tampered_count: 0,
            gaps: Vec::new(),
            gap_count: 0,
            tombstones: Vec::new(),
            tombstone_count: 0,
            covered_fields: covered_fields(),
            tenants: Vec::new(),
            checkpoints: Vec::new(),
            problems: Vec::new(),
        };

        // External checkpoints: signature first, then which tenant of which ledger.
        let mut external: Vec<(TenantId, Checkpoint, usize)> = Vec::new();
        for note in &opts.checkpoints {
            let (mut check, opened) = open_external(note, &verifiers);
            match opened {
                Some(found) if found.ledger != self.ledger_id() => {
                    check.tenant = None;
                    check.status = CheckpointStatus::OtherLedger;
                    check.detail = Some(format!(
                        "the checkpoint is for ledger {}, this is {}",
                        found.ledger,
                        self.ledger_id()
                    ));
                }
                Some(found) => {
                    external.push((found.tenant, found.checkpoint, report.checkpoints.len()));
                }
                None => {}
            }
            report.checkpoints.push(check);
        }

        let tenants = match read.tenants() {
            Ok(t) => t,
            Err(e) => {
                report.problems.push(format!(
                    "the tenant heads cannot be read: {}",
                    error_chain(&e)
                ));
                report.valid = false;
                return Ok(report);
            }
        };
        // A checkpointed tenant that has vanished entirely was truncated to nothing.
        for (tenant, cp, index) in &external {
            let selected = opts.tenant.as_ref().is_none_or(|t| t == tenant);
            if selected && !tenants.iter().any(|s| &s.id == tenant) && cp.size() > 0 {
                let check = &mut report.checkpoints[*index];
                check.status = CheckpointStatus::Truncated;
                check.detail = Some(format!(
                    "the ledger holds no events of tenant {tenant}, the checkpoint has {}",
                    cp.size()
                ));
            }
        }
        // Readers beside this snapshot, one per reading thread, when the store has them.
        let mut scanners = if threads == 0 {
            Vec::new()
        } else {
            read.scan_readers(threads)?
        };
        for state in &tenants {
            if opts.tenant.as_ref().is_some_and(|t| *t != state.id) {
                continue;
            }
            let mine: Vec<(Checkpoint, usize)> = external
                .iter()
                .filter(|(t, _, _)| *t == state.id)
                .map(|(_, cp, i)| (cp.clone(), *i))
                .collect();
            let tenant_report = self.verify_tenant(
                &read,
                &mut scanners,
                keys,
                &verifiers,
                state,
                &mine,
                &mut report.checkpoints,
                opts,
            )?;
            report.events += tenant_report.events;
            report.tampered_count += tenant_report.tampered_count;
            report.gap_count += tenant_report.gap_count;
            report.tombstone_count += tenant_report.tombstone_count;
            if report.first_tampered.is_none() {
                report.first_tampered = tenant_report.first_tampered.clone();
            }
            for gap in &tenant_report.gaps {
                push_capped(&mut report.gaps, opts.max_listed, gap.clone());
            }
            for tombstone in &tenant_report.tombstones {
                push_capped(&mut report.tombstones, opts.max_listed, tombstone.clone());
            }
            report.tenants.push(tenant_report);
        }
        if let Some(tenant) = &opts.tenant
            && !tenants.iter().any(|s| &s.id == tenant)
        {
            report
                .problems
                .push(format!("tenant {tenant} has no events in the ledger"));
        }
        report.valid = report.problems.is_empty()
            && report.tenants.iter().all(|t| t.valid)
            && report.checkpoints.iter().all(|c| c.status.is_ok());
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn verify_tenant<R: Reader>(
        &self,
        read: &R,
        scanners: &mut [Box<dyn RecordScan + Send>],
        keys: &dyn KeyProvider,
        verifiers: &[NoteVerifier],
        state: &TenantState,
        external: &[(Checkpoint, usize)],
        checks: &mut [CheckpointCheck],
        opts: &VerifyOptions,
    ) -> Result<TenantReport> {
        let max = opts.max_listed;
        let origin = self.origin(&state.id);
        let mut report = TenantReport::empty(state.id.clone(), origin.clone(), state.size);

        let mut segments = self.key_schedule(read, keys, state, &mut report.problems);

        // Roots to compare when the rebuilt tree reaches a size: stored and external checkpoints.
        let mut targets: BTreeMap<u64, Vec<Target>> = BTreeMap::new();
        match read.checkpoints(state.key) {
            Err(e) => report.problems.push(format!(
                "the stored checkpoints cannot be read: {}",
                error_chain(&e)
            )),
            Ok(stored) => {
                for record in stored {
                    report.stored_checkpoints += 1;
                    let opened = if verifiers.is_empty() {
                        spanforge_chain::checkpoint::SignedCheckpoint::parse_unverified(
                            record.note.as_bytes(),
                        )
                        .map_err(|e| crate::Error::chain("reading a stored checkpoint", e))
                    } else {
                        open_checkpoint(record.note.as_bytes(), verifiers)
                    };
                    match opened {
                        Err(e) => report.problems.push(format!(
                            "the stored checkpoint of size {} does not verify: {}",
                            record.size,
                            error_chain(&e)
                        )),
                        Ok(signed) => {
                            let cp = signed.checkpoint();
                            if cp.origin() != origin
                                || cp.size() != record.size
                                || *cp.root() != record.root
                            {
                                report.problems.push(format!(
                                    "the stored checkpoint of size {} does not match its note",
                                    record.size
                                ));
                            }
                            targets.entry(cp.size()).or_default().push(Target {
                                external: None,
                                root: *cp.root(),
                            });
                        }
                    }
                }
            }
        }
        for (cp, index) in external {
            targets.entry(cp.size()).or_default().push(Target {
                external: Some(*index),
                root: *cp.root(),
            });
            if let Some(check) = checks.get_mut(*index) {
                check.status = CheckpointStatus::Consistent;
            }
        }
        // The empty tree's root is fixed; compare it up front.
        if let Some(zero) = targets.remove(&0) {
            compare_targets(&zero, 0, &merkle::EMPTY_ROOT, &mut report.problems, checks);
        }

        let (data_keys, erased_keys) = erasure_state(read, state, &mut report.problems)?;
        let ctx = RowContext {
            tenant: &state.id,
            tenant_key: state.key,
            segments: &segments,
            data_keys: &data_keys,
            erased_keys: &erased_keys,
            origin_path: state.id.origin_path(),
        };
        let fold = Fold::new(report, max, targets);
        let (read_result, fold) = if scanners.is_empty() {
            read_on_one_thread(read, state.key, &ctx, fold, checks)
        } else {
            let last = read.last_seq(state.key)?;
            read_on_every_thread(scanners, state.key, last, &ctx, fold, checks)
        };
        read_result?;
        let Fold {
            mut report,
            frontier,
            expected_seq,
            last_id,
            rotations_seen,
            targets,
            ..
        } = fold;

        // Rotations: each rotation the ledger recorded must be the event just before its key's
        // first event, name that key and the one before it, and carry its fingerprint.
        for (seq, event_id, rotation) in rotations_seen {
            let Rotation {
                key_id,
                previous_key_id,
                new_secret_hash,
            } = rotation;
            let Some(index) = segments.iter().position(|s| s.first_seq == seq + 1) else {
                // A rotation that arrived in signed input from another chain: an ordinary event.
                continue;
            };
            let previous = index
                .checked_sub(1)
                .and_then(|i| segments.get(i))
                .map(|s| s.key_id.clone());
            let segment = &mut segments[index];
            segment.matched = true;
            let mut wrong = Vec::new();
            if segment.rotation_event_id.as_deref() != Some(event_id.as_str()) {
                wrong.push("the key record names another rotation event");
            }
            if key_id.as_deref() != Some(segment.key_id.as_str()) {
                wrong.push("its key_id is not the key recorded");
            }
            if previous_key_id.as_deref() != previous.as_ref().map(KeyId::as_str)
                || segment.previous_key_id != previous
            {
                wrong.push("its previous_key_id is not the key before it");
            }
            if let Some(key) = &segment.key
                && new_secret_hash.map(|h| h.to_ascii_lowercase())
                    != Some(key.secret().fingerprint())
            {
                wrong.push("its new_secret_hash is not the configured key's fingerprint");
            }
            if !wrong.is_empty() {
                report.problems.push(format!(
                    "rotation {event_id} at seq {seq}: {}",
                    wrong.join("; ")
                ));
            }
            report.rotations.push(RotationCheck {
                event_id,
                seq,
                key_id: Some(segment.key_id.to_string()),
                key_found: segment.key.is_some(),
            });
        }
        for segment in segments.iter().skip(1).filter(|s| !s.matched) {
            if segment.first_seq <= expected_seq {
                report.problems.push(format!(
                    "key {} starts at seq {}, but no rotation event precedes it",
                    segment.key_id, segment.first_seq
                ));
            }
        }

        // The head must describe exactly the events stored.
        if expected_seq != state.size {
            report.problems.push(format!(
                "the tenant head records {} events but the stored events end at {expected_seq}",
                state.size
            ));
        }
        if frontier != state.frontier {
            report.problems.push(
                "the stored tree head differs from the tree rebuilt from the events".to_owned(),
            );
        }
        if last_id != state.head {
            report
                .problems
                .push("the stored chain head is not the last stored event".to_owned());
        }
        // Checkpoints larger than the stored tree: events were removed.
        for (size, list) in targets {
            for target in list {
                match target.external {
                    None => report.problems.push(format!(
                        "a checkpoint of size {size} was signed, but only {} events remain: the tree was truncated",
                        frontier.size()
                    )),
                    Some(index) => {
                        if let Some(check) = checks.get_mut(index) {
                            check.status = CheckpointStatus::Truncated;
                            check.detail = Some(format!(
                                "the checkpoint has {size} events, the ledger {}: events were removed",
                                frontier.size()
                            ));
                        }
                    }
                }
            }
        }
        // And, from the stored nodes, the consistency proof the tree owes each smaller external
        // checkpoint.
        let store = TenantNodes {
            reader: read,
            tenant: state.key,
            size: state.size,
        };
        for (cp, index) in external {
            let Some(check) = checks.get_mut(*index) else {
                continue;
            };
            if check.status != CheckpointStatus::Consistent
                || cp.size() == 0
                || cp.size() >= state.size
            {
                continue;
            }
            let result =
                merkle::consistency_proof(&store, cp.size(), state.size).and_then(|proof| {
                    Checkpoint::new(&origin, state.size, state.frontier.root())?
                        .verify_extends(cp, &proof)
                });
            if let Err(e) = result {
                check.status = CheckpointStatus::Inconsistent;
                check.detail = Some(format!("the stored nodes do not prove consistency: {e}"));
            }
        }

        report.root = frontier.root().to_hex();
        report.valid = report.tampered_count == 0
            && report.gap_count == 0
            && report.unverified_count == 0
            && report.problems.is_empty()
            && external
                .iter()
                .all(|(_, i)| checks.get(*i).is_none_or(|c| c.status.is_ok()));
        Ok(report)
    }

    /// The tenant's key schedule from its key records, with the configured secrets.
    fn key_schedule<R: Reader>(
        &self,
        read: &R,
        keys: &dyn KeyProvider,
        state: &TenantState,
        problems: &mut Vec<String>,
    ) -> Vec<Segment> {
        let records = match read.keys(Some(state.key)) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!(
                    "the key records cannot be read: {}",
                    error_chain(&e)
                ));
                return Vec::new();
            }
        };
        if records.is_empty() {
            problems.push("no key records: no event can be verified".to_owned());
        }
        let mut segments: Vec<Segment> = Vec::with_capacity(records.len());
        for (i, record) in records.into_iter().enumerate() {
            if i == 0 && (record.first_seq != 0 || record.rotation_event_id.is_some()) {
                problems.push(format!(
                    "the first key record ({}) does not start the chain",
                    record.key_id
                ));
            }
            if i > 0 && record.rotation_event_id.is_none() {
                problems.push(format!(
                    "key {} replaced another without a rotation event",
                    record.key_id
                ));
            }
            let key = match keys.key(&state.id, &record.key_id) {
                Ok(Some(key)) if key.check_value() == record.check => Some(key),
                Ok(Some(_)) => {
                    problems.push(format!(
                        "the configured key {} is not the key the ledger recorded under that id",
                        record.key_id
                    ));
                    None
                }
                Ok(None) => {
                    problems.push(format!(
                        "key {} (events from seq {}) is not configured, so those events cannot be verified",
                        record.key_id, record.first_seq
                    ));
                    None
                }
                Err(e) => {
                    problems.push(format!(
                        "key {} cannot be loaded: {}",
                        record.key_id,
                        error_chain(&e)
                    ));
                    None
                }
            };
            segments.push(Segment {
                first_seq: record.first_seq,
                key_id: record.key_id,
                key,
                rotation_event_id: record.rotation_event_id,
                previous_key_id: record.previous_key_id,
                matched: i == 0,
            });
        }
        if let Some(last) = segments.last()
            && last.key_id != state.key_id
        {
            problems.push(format!(
                "the head's current key {} is not the last recorded key {}",
                state.key_id, last.key_id
            ));
        }
        segments
    }
}

fn compare_targets(
    targets: &[Target],
    size: u64,
    root: &Hash,
    problems: &mut Vec<String>,
    checks: &mut [CheckpointCheck],
) {
    for target in targets {
        if target.root == *root {
            continue;
        }
        match target.external {
            None => problems.push(format!(
                "the tree of size {size} rebuilt from the events has another root than the checkpoint signed at that size"
            )),
            Some(index) => {
                if let Some(check) = checks.get_mut(index) {
                    check.status = CheckpointStatus::Forked;
                    check.detail = Some(format!(
                        "at size {size} the ledger's root is {}, the checkpoint's {}",
                        root.to_hex(),
                        target.root.to_hex()
                    ));
                }
            }
        }
    }
}

/// The envelope fields the native ledger covers: all of them, known and unknown, through the
/// Merkle leaf over the whole canonical envelope.
fn covered_fields() -> Vec<String> {
    let mut fields: Vec<String> = spanforge_event::envelope::FIELD_NAMES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    fields.push("(unknown top-level fields)".to_owned());
    fields
}

/// A checkpoint note given from outside, opened: the ledger and tenant its origin names.
pub(crate) struct OpenedCheckpoint {
    pub(crate) ledger: String,
    pub(crate) tenant: TenantId,
    pub(crate) checkpoint: Checkpoint,
}

/// Opens a checkpoint note kept outside the database: its signature with `verifiers` first,
/// then its origin. The check says what was found: `BadSignature` or `Unreadable` when it cannot
/// be used (and no checkpoint is returned), else `NotChecked` with its origin, tenant, size and
/// root, for the caller to compare.
pub(crate) fn open_external(
    note: &str,
    verifiers: &[NoteVerifier],
) -> (CheckpointCheck, Option<OpenedCheckpoint>) {
    let mut check = CheckpointCheck {
        source: CheckpointSource::External,
        origin: None,
        tenant: None,
        size: None,
        root: None,
        status: CheckpointStatus::Unreadable,
        detail: None,
    };
    let signed = match open_checkpoint(note.as_bytes(), verifiers) {
        Ok(signed) => signed,
        Err(e) => {
            check.status = CheckpointStatus::BadSignature;
            check.detail = Some(error_chain(&e));
            return (check, None);
        }
    };
    let cp = signed.checkpoint();
    check.origin = Some(cp.origin().to_owned());
    check.size = Some(cp.size());
    check.root = Some(cp.root().to_hex());
    let Some((ledger, tenant)) = parse_origin(cp.origin()) else {
        check.detail = Some("the origin is not spanforge/<ledger>/<tenant>".into());
        return (check, None);
    };
    check.tenant = Some(tenant.clone());
    check.status = CheckpointStatus::NotChecked;
    let opened = OpenedCheckpoint {
        ledger,
        tenant,
        checkpoint: cp.clone(),
    };
    (check, Some(opened))
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use spanforge_chain::compat::HmacSecret;

    use super::*;
    use crate::StaticKeys;
    use crate::memory::MemoryBackend;

    fn typed_event(n: u64, org: &str, event_type: &str, payload: &str) -> Event {
        let ts = Timestamp::from_unix_micros(1_767_434_400_000_000 + n as i64 * 1000).unwrap();
        let id = EventId::from_parts(1_767_434_400_000 + n, u128::from(n) + 7).unwrap();
        Event::from_json_str(&format!(
            r#"{{"actor_id":"u-{n}","event_id":"{id}","event_type":"{event_type}","org_id":"{org}","payload":{payload},"schema_version":"2.0","source":"bot@1.0.0","tags":{{"env":"prod"}},"timestamp":"{}"}}"#,
            ts.as_str()
        ))
        .unwrap()
    }

    /// The fast path must take every intact ordinary row and agree with the full path on it,
    /// else verification would silently fall back to parsing every row.
    #[test]
    fn intact_rows_take_the_fast_path_and_agree_with_the_full_one() {
        let keys = StaticKeys::new().with_default_key(HmacKey::derived(
            HmacSecret::new_native("unit-test-signing-secret-0123456789abcdef").unwrap(),
        ));
        let mut ledger = Ledger::new(MemoryBackend::new().unwrap());
        let payloads = [
            r#"{"model":{"name":"gpt-4o","system":"openai"},"n":1.5}"#,
            r#"{"model_id":"m-2","text":"a\"quote\" and é"}"#,
            r#"{"model":"plain","list":[1,{"a":null},[]]}"#,
            r#"{"ok":true}"#,
        ];
        // Registered types and documented extension types alike.
        let types = [
            "llm.trace.span.completed",
            "dev.spanforge.model.deployed",
            "decision.made",
        ];
        let events = (0..40)
            .map(|n| {
                let i = n as usize;
                typed_event(
                    n,
                    "acme",
                    types[i % types.len()],
                    payloads[i % payloads.len()],
                )
            })
            .collect();
        ledger.append_batch(&keys, events).unwrap();
        let read = ledger.backend.read().unwrap();
        let state = read.tenants().unwrap().remove(0);
        let mut problems = Vec::new();
        let segments = ledger.key_schedule(&read, &keys, &state, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let no_keys = std::collections::HashSet::new();
        let ctx = RowContext {
            tenant: &state.id,
            tenant_key: state.key,
            segments: &segments,
            data_keys: &no_keys,
            erased_keys: &no_keys,
            origin_path: state.id.origin_path(),
        };
        let mut page = RecordPage::new();
        read.records_page(state.key, 0, 100, &mut page).unwrap();
        assert_eq!(page.len(), 40);
        for row in page.iter() {
            let leaf = leaf_hash(row.envelope);
            let segment = ctx.segment(row.seq);
            let fast =
                fast_check(row, &ctx, segment, leaf).expect("an intact row takes the fast path");
            let full = full_check(row, &ctx, segment, leaf);
            assert!(full.reasons.is_empty(), "{:?}", full.reasons);
            assert_eq!(
                (fast.parsed_id, fast.prev_id, fast.leaf, fast.unverified),
                (full.parsed_id, full.prev_id, full.leaf, full.unverified)
            );
        }

        // A row whose model_id column disagrees with its payload leaves the fast path, and the
        // full path names the column.
        let mut copy = page.clone();
        copy.clear();
        for row in page.iter() {
            let model = (row.seq == 5).then_some("other").or(row.model_id);
            copy.push(&RecordRef {
                model_id: model,
                ..row
            });
        }
        let row = copy.get(5).unwrap();
        let leaf = leaf_hash(row.envelope);
        assert!(fast_check(row, &ctx, ctx.segment(5), leaf).is_none());
        let full = full_check(row, &ctx, ctx.segment(5), leaf);
        assert!(
            full.reasons.iter().any(|r| r.contains("model_id column")),
            "{:?}",
            full.reasons
        );
    }

    /// Reading with a reader per thread must find exactly what reading on one thread finds:
    /// the same events, findings, gaps and checkpoint verdicts in the same order, whatever the
    /// number of threads, with findings on chunk edges, a removed row and a row beyond the head.
    #[test]
    fn every_thread_count_reports_what_one_reading_thread_reports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let keys = StaticKeys::new().with_default_key(HmacKey::derived(
            HmacSecret::new_native("unit-test-signing-secret-0123456789abcdef").unwrap(),
        ));
        let mut ledger = crate::SqliteLedger::open(&path).unwrap();
        let events: Vec<Event> = (0..5000)
            .map(|n| {
                let org = ["acme", "globex"][(n % 2) as usize];
                typed_event(n, org, "llm.trace.span.completed", r#"{"model":"m","n":1}"#)
            })
            .collect();
        ledger.append_batch(&keys, events).unwrap();
        let intact = ledger.verify_on(&keys, &VerifyOptions::new(), 0).unwrap();
        assert!(intact.valid, "{intact:?}");
        drop(ledger);

        // Edit envelopes at chunk edges of the first tenant, remove a row of the second and
        // store a copy of its last row beyond its head.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TRIGGER IF EXISTS events_append_only_update;
             DROP TRIGGER IF EXISTS events_append_only_delete;",
        )
        .unwrap();
        let first = 1i64 << 40;
        let second = 2i64 << 40;
        for seq in [0i64, 1023, 1024, 2047, 2048, 2499] {
            conn.execute(
                "UPDATE events SET envelope = CAST(replace(CAST(envelope AS TEXT), '\"n\":1', '\"n\":2') AS BLOB) WHERE id = ?1",
                [first + seq],
            )
            .unwrap();
        }
        conn.execute("DELETE FROM events WHERE id = ?1", [second + 1500])
            .unwrap();
        conn.execute(
            "INSERT INTO events (id, tenant, event_id, ts, event_type, model_id, actor_id, session_id, key_id, envelope, leaf_hash, nodes) \
             SELECT ?1, tenant, 'X' || event_id, ts, event_type, model_id, actor_id, session_id, key_id, envelope, leaf_hash, nodes FROM events WHERE id = ?2",
            [second + 2500, second + 2499],
        )
        .unwrap();
        drop(conn);

        let ledger = crate::SqliteLedger::open(&path).unwrap();
        let one = ledger.verify_on(&keys, &VerifyOptions::new(), 0).unwrap();
        assert!(!one.valid);
        let acme = &one.tenants[0];
        assert_eq!(acme.tampered_count, 6, "{acme:?}");
        let globex = &one.tenants[1];
        assert_eq!(globex.events, 2500, "{globex:?}");
        assert!(globex.gap_count >= 1, "{globex:?}");
        for threads in [1, 2, 3, 7] {
            let many = ledger
                .verify_on(&keys, &VerifyOptions::new(), threads)
                .unwrap();
            assert_eq!(many, one, "{threads} threads");
        }
    }

    /// A reader that panics on its first chunk, and one that returns no rows but finishes none of
    /// its chunks before the other has started one, so that the panic happens whatever the
    /// scheduler does (with a reader that panicked on a later chunk, the other could read every
    /// chunk first and no panic would happen at all).
    struct Scripted {
        panics: bool,
        panicker_started: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl RecordScan for Scripted {
        fn scan(
            &self,
            _tenant: TenantKey,
            _seqs: std::ops::Range<u64>,
            _f: &mut dyn FnMut(RecordRef<'_>) -> bool,
        ) -> Result<()> {
            if self.panics {
                self.panicker_started.store(true, Ordering::Release);
                panic!("a reader failed on purpose");
            }
            while !self.panicker_started.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            Ok(())
        }
    }

    /// When one reading thread panics, the others must not wait forever for its chunk: the
    /// verification ends and the panic reaches the caller.
    #[test]
    fn a_panicking_reader_ends_the_verification_instead_of_hanging_it() {
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let tenant = TenantId::Default;
            let (segments, keys) = (Vec::new(), HashSet::new());
            let ctx = RowContext {
                tenant: &tenant,
                tenant_key: TenantKey(1),
                segments: &segments,
                data_keys: &keys,
                erased_keys: &keys,
                origin_path: tenant.origin_path(),
            };
            let panicker_started = std::sync::Arc::default();
            let mut scanners: Vec<Box<dyn RecordScan + Send>> = vec![
                Box::new(Scripted {
                    panics: true,
                    panicker_started: std::sync::Arc::clone(&panicker_started),
                }),
                Box::new(Scripted {
                    panics: false,
                    panicker_started,
                }),
            ];
            let fold = Fold::new(
                TenantReport::empty(tenant.clone(), String::new(), 0),
                10,
                BTreeMap::new(),
            );
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                read_on_every_thread(
                    &mut scanners,
                    TenantKey(1),
                    Some(100 * PAGE as u64),
                    &ctx,
                    fold,
                    &mut [],
                )
            }));
            let _ = done_tx.send(outcome.is_err());
        });
        let panicked = done_rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("verification ended");
        assert!(panicked);
    }
}
