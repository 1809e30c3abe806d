//! Ingest: reading input events, verifying the ones that arrive signed, and sealing them into the
//! tenants' chains and trees (sign, serialise, hash, append) inside one transaction.
//!
//! The sealing pipeline per event is: tenant chain head → [`compat::sign`] with the tenant's key
//! → canonical envelope (signature included) → [`leaf_hash`] → [`Frontier::append`](spanforge_chain::merkle::Frontier::append), which yields
//! the completed tree nodes → one [`NewRecord`]. Signing and hashing run in parallel over a chunk
//! of events (the HMAC covers only the predecessor's *id*, which is known before any signature
//! is computed); the frontier fold and the storage writes are sequential.
//!
//! What one event costs, and why it is no more: the payload's canonical bytes are hashed where
//! they lie in the input text (events read from canonical JSON keep it), the HMAC starts from a
//! pre-keyed state, and the signed envelope is the input text with the three integrity members
//! spliced in ([`Event::write_signed_canonical`]), written once into its final buffer and hashed
//! once for the leaf. Chunks are pipelined over the ledger's thread and the pool: while the pool
//! seals chunk k, the ledger's thread stores chunk k-1 and reads and plans chunk k+1.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::sync::Arc;

use rayon::prelude::*;
use spanforge_chain::compat::{self, EventCheck, KEY_ROTATED_TYPE};
use spanforge_chain::merkle::leaf_hash;
use spanforge_event::json::Str;
use spanforge_event::{Checksum, Event, EventId, Integrity, MAX_EVENT_BYTES};

use crate::backend::{KeyRecord, NewRecord, Reader, TenantKey, TenantState, Writer};
use crate::encryption::{PayloadSession, SCRATCH_KEEP, ScopeKey, encrypts};
use crate::error::{Error, Location, Result};
use crate::keys::{HmacKey, KeyProvider};
use crate::sqlite::MAX_SEQ;
use crate::tenant::TenantId;

/// How many events are parsed, verified and sealed together. Small, because two steps of each
/// transaction cannot overlap: the pool seals the first chunk while the ledger's thread has
/// nothing to store yet, and that thread stores the last chunk while the pool has nothing left to
/// seal. With 8,192 events per commit, 256 made the best durable rounds 2–7% (encrypted) and 7–33%
/// (plain) faster than 1,024, and the in-memory ones no slower (`docs/benchmarks.md`, #4).
pub(crate) const CHUNK: usize = 256;

/// One input event and where it came from.
#[derive(Debug, Clone)]
pub struct InputLine {
    /// Where the event came from.
    pub location: Location,
    /// The event, as JSON text still to be parsed or already parsed.
    pub content: InputContent,
}

/// The content of an [`InputLine`].
#[derive(Debug, Clone)]
pub enum InputContent {
    /// One line of JSONL, parsed (in parallel) by the ledger.
    Json(String),
    /// An event the caller already parsed.
    Event(Box<Event>),
}

impl InputLine {
    /// An input line holding JSON text.
    pub fn json(location: Location, text: impl Into<String>) -> Self {
        Self {
            location,
            content: InputContent::Json(text.into()),
        }
    }

    /// An input line holding a parsed event.
    pub fn event(location: Location, event: Event) -> Self {
        Self {
            location,
            content: InputContent::Event(Box::new(event)),
        }
    }
}

/// Reads JSONL from a buffered reader, one [`InputLine`] per non-blank line, numbering lines from
/// 1. A read error (including invalid UTF-8) is an [`Error::Input`] naming the line.
///
/// ```
/// use spanforge_store::JsonlLines;
/// let text = "{\"a\":1}\n\n{\"b\":2}\r\n";
/// let lines: Vec<_> = JsonlLines::new("events.jsonl", text.as_bytes()).collect::<Result<_, _>>().unwrap();
/// assert_eq!(lines.len(), 2);
/// assert_eq!(lines[1].location.to_string(), "events.jsonl:3");
/// ```
#[derive(Debug)]
pub struct JsonlLines<R> {
    source: Arc<str>,
    reader: R,
    line: u64,
    buf: String,
    failed: bool,
}

impl<R: BufRead> JsonlLines<R> {
    /// Reads `reader`, naming it `source` in locations.
    pub fn new(source: impl Into<Arc<str>>, reader: R) -> Self {
        Self {
            source: source.into(),
            reader,
            line: 0,
            buf: String::new(),
            failed: false,
        }
    }
}

impl<R: BufRead> Iterator for JsonlLines<R> {
    type Item = Result<InputLine>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // No line longer than an event may be (plus its line ending) is read into memory.
        let limit = MAX_EVENT_BYTES as u64 + 2;
        loop {
            self.buf.clear();
            self.line += 1;
            let location = Location::new(self.source.clone(), self.line);
            match self.reader.by_ref().take(limit).read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(n) => {
                    if n as u64 == limit && !self.buf.ends_with('\n') {
                        self.failed = true;
                        return Some(Err(Error::Input {
                            location,
                            reason: format!(
                                "the line is longer than the {MAX_EVENT_BYTES}-byte event limit"
                            ),
                        }));
                    }
                    let text = self.buf.trim_end_matches(['\n', '\r']);
                    if text.trim().is_empty() {
                        continue;
                    }
                    return Some(Ok(InputLine::json(location, text)));
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(Error::Input {
                        location,
                        reason: format!("cannot read the line: {e}"),
                    }));
                }
            }
        }
    }
}

/// What one successful commit wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BatchReceipt {
    /// Events in this commit.
    pub events: u64,
    /// Events committed so far in this call, this commit included.
    pub total: u64,
    /// The id of the last event of this commit, in input order.
    pub last_event_id: Option<String>,
}

/// A tenant's chain head after a write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantHead {
    /// The tenant.
    pub tenant: TenantId,
    /// The tree size (events in the tenant's chain).
    pub size: u64,
    /// The last event's id.
    pub head_event_id: Option<String>,
    /// The tree root, hex.
    pub root: String,
}

/// What an ingest call wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct IngestReceipt {
    /// Events appended.
    pub events: u64,
    /// Of those, events that arrived signed and were verified before being re-signed.
    pub verified_presigned: u64,
    /// Transactions committed.
    pub commits: u64,
    /// The first and last event ids appended, in input order.
    pub first_event_id: Option<String>,
    /// The last event id appended.
    pub last_event_id: Option<String>,
    /// The heads of the tenants written to, after the last commit.
    pub tenants: Vec<TenantHead>,
    /// Things that did not stop the ingest but that an operator should know (for example signed
    /// input verified under a key shorter than 32 bytes).
    pub warnings: Vec<String>,
}

/// The verification state of the chain that pre-signed input events form, in input order within
/// one source.
///
/// Rules (the reference's `verify_chain` semantics, applied before anything is re-signed):
/// * the signed events of one source are one chain: each names the previous signed event of
///   that source as `prev_id`; the first names none, or an event already in the ledger (a file
///   that continues a chain ingested earlier);
/// * each event's checksum must match its payload and its signature must verify under the
///   tenant's key: the first event of a tenant is tried against every key configured for that
///   tenant, after which the chain stays on that key until a `llm.audit.key.rotated` event
///   switches to the configured key whose SHA-256 fingerprint the rotation names.
///
/// What this cannot show: the compatible signature covers only `event_id`, `payload` and
/// `prev_id`, so an edit to any other field of a signed input event (timestamp, type, org,
/// tags, ...) made before ingest, or a cut at the end of the input, verifies. From ingest on, the
/// ledger's tree covers every field.
#[derive(Debug, Default)]
pub(crate) struct IncomingChain {
    source: Option<Arc<str>>,
    prev: Option<EventId>,
    keys: HashMap<TenantId, HmacKey>,
    pub(crate) verified: u64,
    pub(crate) warnings: Vec<String>,
}

impl IncomingChain {
    /// Checks one event. Returns whether it arrived signed.
    fn check<R: Reader + ?Sized>(
        &mut self,
        reader: &R,
        pending: &foldhash::HashSet<EventId>,
        provider: &dyn KeyProvider,
        location: &Location,
        event: &Event,
    ) -> Result<bool> {
        let (checksum, signature, prev) = (event.checksum(), event.signature(), event.prev_id());
        if checksum.is_none() && signature.is_none() && prev.is_none() {
            return Ok(false);
        }
        let event_id = event.event_id().to_string();
        let (Some(checksum), Some(_)) = (checksum, signature) else {
            return Err(Error::TamperedInput {
                location: location.clone(),
                event_id,
                reason:
                    "it is partially signed (checksum, signature and prev_id must come together)"
                        .to_owned(),
            });
        };
        if self.source.as_ref() != Some(&location.source) {
            self.source = Some(location.source.clone());
            self.prev = None;
            self.keys.clear();
        }
        let linked = match (&self.prev, prev) {
            (Some(expected), found) => found == Some(expected),
            (None, None) => true,
            (None, Some(found)) => {
                pending.contains(found) || reader.contains_event_id(found.as_str())?
            }
        };
        if !linked {
            let show =
                |id: Option<&EventId>| id.map_or_else(|| "none".to_owned(), ToString::to_string);
            return Err(Error::BrokenInputChain {
                location: location.clone(),
                event_id,
                expected: match &self.prev {
                    Some(p) => p.to_string(),
                    None => "none, or an event already in the ledger".to_owned(),
                },
                found: show(prev),
            });
        }

        let tenant = TenantId::of_event(event);
        let tampered = |reason: String| Error::TamperedInput {
            location: location.clone(),
            event_id: event_id.clone(),
            reason,
        };
        match self.keys.get(&tenant) {
            Some(key) => match compat::check_event(event, key.secret()) {
                EventCheck::Valid => {}
                EventCheck::ChecksumMismatch => {
                    return Err(tampered("its checksum does not match its payload".into()));
                }
                _ => {
                    return Err(tampered(format!(
                        "its signature does not verify under key {}, the key of tenant {tenant}'s chain at this point",
                        key.id()
                    )));
                }
            },
            None => {
                if event.payload_checksum() != *checksum {
                    return Err(tampered("its checksum does not match its payload".into()));
                }
                let candidates = provider.keys_for(&tenant)?;
                let found = candidates
                    .into_iter()
                    .find(|k| compat::check_event(event, k.secret()) == EventCheck::Valid);
                match found {
                    Some(key) => {
                        self.warn_if_weak(&key, location);
                        self.keys.insert(tenant.clone(), key);
                    }
                    None => {
                        return Err(tampered(format!(
                            "its signature does not verify under any key configured for tenant {tenant}"
                        )));
                    }
                }
            }
        }
        if event.event_type().as_str() == KEY_ROTATED_TYPE {
            let next = match event
                .payload_field("new_secret_hash")
                .and_then(|v| v.as_str())
            {
                Some(hash) => {
                    let hash = hash.to_ascii_lowercase();
                    provider
                        .keys_for(&tenant)?
                        .into_iter()
                        .find(|k| k.secret().fingerprint() == hash)
                }
                None => None,
            };
            if let Some(key) = &next {
                self.warn_if_weak(key, location);
            }
            // A rotation to a key we do not hold keeps the current key, as the reference's
            // verify_chain does without a key_map: if the chain really switched keys, the
            // next event fails under the current one and the input is refused there; if the
            // rotation event was only carried along (for example a foreign chain's rotation
            // in our own export), the chain goes on verifying.
            if let Some(key) = next {
                self.keys.insert(tenant, key);
            }
        }
        self.prev = Some(*event.event_id());
        self.verified += 1;
        Ok(true)
    }
}

impl IncomingChain {
    /// Notes (once per key) that signed input verified under a key the ledger itself would
    /// refuse to sign with: accepted, as the reference accepts it, but worth knowing.
    fn warn_if_weak(&mut self, key: &HmacKey, location: &Location) {
        if key.secret().is_weak() {
            let text = format!(
                "{location}: signed input verified under key {}, which is shorter than {} bytes",
                key.id(),
                compat::MIN_NATIVE_SECRET_BYTES
            );
            let id = format!(" key {} ", key.id());
            if !self.warnings.iter().any(|w| w.contains(&id)) {
                self.warnings.push(text);
            }
        }
    }
}

/// A tenant chain being extended inside one write transaction.
#[derive(Debug)]
pub(crate) struct ChainCursor {
    pub(crate) state: TenantState,
    /// Shared with the [`Sealers`] of the chunks in flight.
    pub(crate) key: Arc<HmacKey>,
    pub(crate) dirty: bool,
}

/// The tenant chains touched by one write transaction.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) chains: Vec<ChainCursor>,
    index: HashMap<TenantId, usize>,
    /// The data keys of this transaction, when the ledger encrypts payloads.
    pub(crate) payload: Option<PayloadSession>,
}

/// Events in input order with where each came from, as two vectors of the same length (so that
/// the 500-byte events are moved once from the input, not again to take them apart from their
/// locations).
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    pub(crate) locations: Vec<Location>,
    pub(crate) events: Vec<Event>,
}

impl Chunk {
    /// One event.
    pub(crate) fn one(location: Location, event: Event) -> Self {
        Self {
            locations: vec![location],
            events: vec![event],
        }
    }

    /// How many events it holds.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds no event.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// Where one event goes: its chain, position and predecessor.
#[derive(Debug)]
struct Plan {
    slot: usize,
    seq: u64,
    prev: Option<EventId>,
    /// The data key that encrypts the payload, when the ledger encrypts payloads.
    payload_key: Option<Arc<ScopeKey>>,
}

/// A chunk of events with their places in the chains, ready to seal.
#[derive(Debug)]
pub(crate) struct Planned {
    locations: Vec<Location>,
    events: Vec<Event>,
    plans: Vec<Plan>,
    /// Hashed with `foldhash`: a chunk holds at most [`CHUNK`] ids, so no choice of ids can make
    /// the set slow, and SipHash cost more than the rest of planning an event.
    ids: foldhash::HashSet<EventId>,
}

impl Planned {
    /// How many events the chunk holds.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Takes the chunk's event ids out: planning the next chunk, while this one is sealed, must
    /// treat them as stored.
    pub(crate) fn take_ids(&mut self) -> foldhash::HashSet<EventId> {
        std::mem::take(&mut self.ids)
    }
}

/// The signing key and storage handle of each chain of a session, by slot.
#[derive(Debug)]
pub(crate) struct Sealers(Vec<(Arc<HmacKey>, TenantKey)>);

impl Sealers {
    /// Signs, serialises and hashes a planned chunk in parallel.
    pub(crate) fn seal(&self, planned: Planned) -> Result<Sealed> {
        let Planned {
            locations,
            events,
            plans,
            ..
        } = planned;
        let chains = &self.0;
        let mut sealed: Vec<std::result::Result<NewRecord, String>> = events
            .par_iter()
            .zip(plans.par_iter())
            .map(|(event, plan)| match chains.get(plan.slot) {
                Some((key, tenant)) => seal(
                    event,
                    key,
                    *tenant,
                    plan.seq,
                    plan.prev.as_ref(),
                    plan.payload_key.as_deref(),
                ),
                None => Err("the event's chain was not loaded".to_owned()),
            })
            .collect();
        // The first failure in input order is the error; without one, the records are taken out
        // of their results in place (the two have the same layout), not moved to a new vector.
        let failed =
            sealed
                .iter_mut()
                .zip(&locations)
                .find_map(|(record, location)| match record {
                    Err(reason) => Some((std::mem::take(reason), location)),
                    Ok(_) => None,
                });
        if let Some((reason, location)) = failed {
            return Err(Error::Input {
                location: location.clone(),
                reason,
            });
        }
        let records: Vec<NewRecord> = sealed.into_iter().filter_map(|r| r.ok()).collect();
        Ok(Sealed {
            locations,
            records,
            slots: plans.into_iter().map(|p| p.slot).collect(),
            events,
        })
    }
}

/// A sealed chunk, ready to store.
#[derive(Debug)]
pub(crate) struct Sealed {
    locations: Vec<Location>,
    records: Vec<NewRecord>,
    slots: Vec<usize>,
    /// The input events, kept so that the caller can free them where that is cheapest
    /// ([`Sealed::take_events`]) rather than inside the parallel sealing.
    events: Vec<Event>,
}

impl Sealed {
    /// Takes the chunk's input events out, for the caller to free.
    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Stores the chunk, naming the input line of a duplicate id. Returns the records the
    /// backend did not keep ([`Writer::append_owned`]), for the caller to free where it costs
    /// the writing thread nothing.
    pub(crate) fn append_to<W: Writer + ?Sized>(self, tx: &mut W) -> Result<Vec<NewRecord>> {
        let Sealed {
            locations, records, ..
        } = self;
        // Kept for naming a duplicate: the backend takes the records.
        let order: Vec<EventId> = records.iter().map(|r| r.event_id).collect();
        tx.append_owned(records).map_err(|e| match e {
            Error::DuplicateEventId {
                location: None,
                event_id,
            } => Error::DuplicateEventId {
                location: order
                    .iter()
                    .position(|id| id.as_str() == event_id)
                    .and_then(|i| locations.get(i).cloned()),
                event_id,
            },
            other => other,
        })
    }

    /// How many events the chunk holds.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The id of the chunk's last event.
    pub(crate) fn last_event_id(&self) -> Option<String> {
        self.records.last().map(|r| r.event_id.to_string())
    }

    /// The id of the chunk's first event.
    pub(crate) fn first_event_id(&self) -> Option<String> {
        self.records.first().map(|r| r.event_id.to_string())
    }
}

impl Session {
    /// The slot of `tenant`'s chain, loading it (checking the configured key against the one the
    /// chain is signed with) or creating it (recording its first key).
    fn slot<W: Writer + ?Sized>(
        &mut self,
        tx: &mut W,
        provider: &dyn KeyProvider,
        tenant: &TenantId,
    ) -> Result<usize> {
        if let Some(&slot) = self.index.get(tenant) {
            return Ok(slot);
        }
        let key = provider
            .signing_key(tenant)?
            .ok_or_else(|| Error::MissingSigningKey {
                tenant: tenant.clone(),
            })?;
        key.require_native()?;
        let state = match tx.tenant(tenant)? {
            Some(state) => {
                check_current_key(tx, &state, &key)?;
                state
            }
            None => {
                let state = tx.create_tenant(tenant, key.id())?;
                tx.add_key(&KeyRecord {
                    tenant: state.key,
                    key_id: key.id().clone(),
                    check: key.check_value(),
                    first_seq: 0,
                    rotation_event_id: None,
                    previous_key_id: None,
                })?;
                state
            }
        };
        self.insert(ChainCursor {
            state,
            key: Arc::new(key),
            dirty: false,
        });
        Ok(self.chains.len() - 1)
    }

    /// The slot of the chain of the tenant with this org id (`None`: the default tenant), if the
    /// session has loaded it. A few chains are scanned rather than hashed, which saves building a
    /// [`TenantId`] per event.
    fn find(&self, org: Option<&str>) -> Option<usize> {
        if self.chains.len() <= 8 {
            self.chains.iter().position(|c| c.state.id.org_id() == org)
        } else {
            self.index.get(&TenantId::from_org_id(org)).copied()
        }
    }

    pub(crate) fn insert(&mut self, cursor: ChainCursor) -> usize {
        self.index
            .insert(cursor.state.id.clone(), self.chains.len());
        self.chains.push(cursor);
        self.chains.len() - 1
    }

    /// Verifies pre-signed events, then seals and appends `events` (in order) to their tenants'
    /// chains. Returns how many pre-signed events were verified.
    pub(crate) fn seal_and_append<W: Writer + ?Sized>(
        &mut self,
        tx: &mut W,
        provider: &dyn KeyProvider,
        incoming: &mut IncomingChain,
        events: Chunk,
    ) -> Result<()> {
        let planned = self.plan(
            tx,
            provider,
            incoming,
            events,
            &foldhash::HashSet::default(),
        )?;
        let mut sealed = self.seal(planned)?;
        self.fold(&mut sealed)?;
        sealed.append_to(tx).map(drop)
    }

    /// Plans a chunk, in order: refuses ids repeated within it, verifies pre-signed events
    /// (`pending` holds the ids of the chunk sealed but not yet stored, which count as stored),
    /// and assigns each event its chain, position and predecessor. The chain cursors advance at
    /// once; if anything later fails, the transaction and this session are discarded together.
    pub(crate) fn plan<W: Writer + ?Sized>(
        &mut self,
        tx: &mut W,
        provider: &dyn KeyProvider,
        incoming: &mut IncomingChain,
        chunk: Chunk,
        pending: &foldhash::HashSet<EventId>,
    ) -> Result<Planned> {
        // Duplicates within the chunk are caught here; duplicates of stored events (or of
        // earlier chunks) by the store's unique index, which then names exactly one event.
        let mut ids = foldhash::HashSet::with_capacity_and_hasher(chunk.len(), Default::default());
        let mut plans = Vec::with_capacity(chunk.len());
        for (location, event) in chunk.locations.iter().zip(&chunk.events) {
            if !ids.insert(*event.event_id()) {
                return Err(Error::DuplicateEventId {
                    location: Some(location.clone()),
                    event_id: event.event_id().to_string(),
                });
            }
            incoming.check(tx, pending, provider, location, event)?;
            let org = event.org_id().filter(|o| !o.is_empty());
            let slot = match self.find(org) {
                Some(slot) => slot,
                None => self.slot(tx, provider, &TenantId::from_org_id(org))?,
            };
            let chain = &mut self.chains[slot];
            let seq = chain.state.size;
            if seq > MAX_SEQ {
                return Err(Error::Capacity(format!(
                    "{location}: tenant {} has reached the largest chain the ledger can hold",
                    chain.state.id
                )));
            }
            let prev = chain.state.head;
            chain.state.head = Some(*event.event_id());
            chain.state.size = seq + 1;
            chain.dirty = true;
            let payload_key = match self.payload.as_mut() {
                Some(payload) if encrypts(event) => {
                    let state = &self.chains[slot].state;
                    Some(payload.key_for(tx, state.key, &state.id, event)?)
                }
                _ => None,
            };
            plans.push(Plan {
                slot,
                seq,
                prev,
                payload_key,
            });
        }
        Ok(Planned {
            locations: chunk.locations,
            events: chunk.events,
            plans,
            ids,
        })
    }

    /// Signs, serialises and hashes a planned chunk in parallel.
    pub(crate) fn seal(&self, planned: Planned) -> Result<Sealed> {
        self.sealers().seal(planned)
    }

    /// What sealing needs of each chain (its key and storage handle), apart from the session,
    /// so that the next chunk can be planned while this one is sealed.
    pub(crate) fn sealers(&self) -> Sealers {
        Sealers(
            self.chains
                .iter()
                .map(|c| (c.key.clone(), c.state.key))
                .collect(),
        )
    }

    /// Appends a sealed chunk's leaves to the tenants' trees, in order, recording the interior
    /// nodes each append completes.
    pub(crate) fn fold(&mut self, sealed: &mut Sealed) -> Result<()> {
        for (record, &slot) in sealed.records.iter_mut().zip(&sealed.slots) {
            let frontier = &mut self.chains[slot].state.frontier;
            let nodes = &mut record.nodes;
            frontier
                .append(record.leaf_hash, |id, hash| {
                    if id.level > 0 {
                        nodes.push(hash);
                    }
                })
                .map_err(|e| Error::chain("appending to the tree", e))?;
        }
        Ok(())
    }

    /// Writes the heads of every chain this session extended.
    pub(crate) fn finish<W: Writer + ?Sized>(&mut self, tx: &mut W) -> Result<()> {
        for chain in &mut self.chains {
            if chain.dirty {
                tx.update_tenant(&chain.state)?;
                chain.dirty = false;
            }
        }
        Ok(())
    }

    /// The heads of every chain this session touched.
    pub(crate) fn heads(&self) -> Vec<TenantHead> {
        self.chains
            .iter()
            .map(|c| TenantHead {
                tenant: c.state.id.clone(),
                size: c.state.size,
                head_event_id: c.state.head.map(|h| h.to_string()),
                root: c.state.frontier.root().to_hex(),
            })
            .collect()
    }
}

/// Checks that `key` is the key `state`'s chain is currently signed with: same id and same
/// recorded check value.
pub(crate) fn check_current_key<R: Reader + ?Sized>(
    reader: &R,
    state: &TenantState,
    key: &HmacKey,
) -> Result<()> {
    if key.id() != &state.key_id {
        return Err(Error::KeyMismatch {
            tenant: state.id.clone(),
            recorded: state.key_id.to_string(),
            configured: key.id().to_string(),
        });
    }
    let recorded = reader
        .keys(Some(state.key))?
        .into_iter()
        .find(|k| k.key_id == state.key_id);
    match recorded {
        Some(record) if record.check == key.check_value() => Ok(()),
        Some(_) => Err(Error::KeyMismatch {
            tenant: state.id.clone(),
            recorded: state.key_id.to_string(),
            configured: format!("a different secret under the id {}", key.id()),
        }),
        None => Err(Error::NotALedger {
            reason: format!(
                "tenant {}: its current key {} has no key record",
                state.id, state.key_id
            ),
        }),
    }
}

thread_local! {
    /// A sealing thread's buffer for the signed envelope of an event whose payload is encrypted.
    static SIGNED_ENVELOPE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Seals one event: signs it into its chain, serialises it and hashes the leaf. With a
/// `payload_key`, the checksum and signature still cover the plaintext payload, and the stored
/// envelope (the leaf) carries the payload encrypted (see [`crate::encryption`]).
pub(crate) fn seal(
    event: &Event,
    key: &HmacKey,
    tenant: TenantKey,
    seq: u64,
    prev: Option<&EventId>,
    payload_key: Option<&ScopeKey>,
) -> std::result::Result<NewRecord, String> {
    // `compat::sign` without building the signed event: the payload's canonical bytes are hashed
    // where they lie (the input text, for events read from canonical JSON), and the signed envelope
    // is the input text with the three integrity members spliced in; it is written once and hashed
    // once for the leaf.
    let mut scratch = Vec::new();
    let payload = event.canonical_payload(&mut scratch);
    let checksum = Checksum::of_canonical(payload);
    let signature = key.secret().sign_parts(event.event_id(), &checksum, prev);
    let integrity = Integrity {
        checksum: &checksum,
        signature: &signature,
        prev_id: prev,
    };
    // Writes the signed envelope (appending to `out`) and checks its size.
    let write_signed = |out: &mut Vec<u8>| {
        let payload_span = event.write_signed_canonical(out, Some(payload), integrity);
        // Escaping non-ASCII grows a byte to at most six, so the ASCII measure (the reference's
        // `from_dict` guard) only needs computing for envelopes above a sixth of the limit.
        if out.len() > MAX_EVENT_BYTES
            || (out.len() > MAX_EVENT_BYTES / 6
                && event
                    .clone()
                    .with_integrity(checksum, signature, prev.copied())
                    .ascii_compact_len()
                    > MAX_EVENT_BYTES)
        {
            return Err(format!(
                "the event is larger than {MAX_EVENT_BYTES} bytes once signed, so no reader could load it back"
            ));
        }
        Ok(payload_span)
    };
    let envelope = match payload_key {
        None => {
            // Sized by the writer: exactly enough for an event read from canonical text.
            let mut envelope = Vec::new();
            write_signed(&mut envelope)?;
            envelope
        }
        Some(payload_key) => {
            // The signed envelope is only a step towards the stored one (the signed one with the
            // payload replaced by its encrypted form): it is written into a per-thread buffer.
            let stored = SIGNED_ENVELOPE.with(|cell| {
                let mut signed = cell.borrow_mut();
                signed.clear();
                let payload_span = write_signed(&mut signed)?;
                let stored = payload_key.seal_envelope(
                    event.event_id().as_str(),
                    payload,
                    &signed,
                    payload_span,
                );
                if signed.capacity() > SCRATCH_KEEP {
                    *signed = Vec::new();
                }
                stored
            })?;
            if stored.len() > MAX_EVENT_BYTES {
                return Err(format!(
                    "the event is larger than {MAX_EVENT_BYTES} bytes once its payload is encrypted, so no reader could load it back"
                ));
            }
            stored
        }
    };
    let leaf = leaf_hash(&envelope);
    Ok(NewRecord {
        tenant,
        seq,
        event_id: *event.event_id(),
        ts_micros: event.timestamp().unix_micros(),
        event_type: event.event_type().clone(),
        model_id: event.model_id().map(Str::new),
        actor_id: event.actor_id().map(Str::new),
        session_id: event.session_id().map(Str::new),
        key_id: key.id().clone(),
        envelope,
        leaf_hash: leaf,
        nodes: Vec::new(),
    })
}

/// Parses a chunk of input lines in parallel; the first bad line in input order is the error.
pub(crate) fn parse_chunk(lines: Vec<InputLine>) -> Result<Chunk> {
    let parsed: Vec<Result<(Location, Event)>> = lines
        .into_par_iter()
        .map(|line| match line.content {
            InputContent::Event(event) => Ok((line.location, *event)),
            InputContent::Json(text) => match Event::from_json_str(&text) {
                Ok(event) => Ok((line.location, event)),
                Err(e) => Err(Error::Input {
                    location: line.location,
                    reason: format!("not a valid event: {e}"),
                }),
            },
        })
        .collect();
    let mut chunk = Chunk {
        locations: Vec::with_capacity(parsed.len()),
        events: Vec::with_capacity(parsed.len()),
    };
    for line in parsed {
        let (location, event) = line?;
        chunk.locations.push(location);
        chunk.events.push(event);
    }
    Ok(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_lines_are_numbered_bounded_and_utf8_checked() {
        let text = "a\n\n  \r\nb\r\nc";
        let lines: Vec<InputLine> = JsonlLines::new("f", text.as_bytes())
            .map(Result::unwrap)
            .collect();
        let got: Vec<(u64, String)> = lines
            .iter()
            .map(|l| match &l.content {
                InputContent::Json(t) => (l.location.line, t.clone()),
                InputContent::Event(_) => (0, String::new()),
            })
            .collect();
        assert_eq!(got, vec![(1, "a".into()), (4, "b".into()), (5, "c".into())]);

        let long = format!("x\n{}\n", "y".repeat(MAX_EVENT_BYTES + 5));
        let mut it = JsonlLines::new("big", long.as_bytes());
        assert!(it.next().unwrap().is_ok());
        let err = it.next().unwrap().unwrap_err();
        assert_eq!(err.location().unwrap().line, 2);
        assert!(it.next().is_none());

        let bad = b"ok\n\xff\xfe\n";
        let mut it = JsonlLines::new("bin", &bad[..]);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.next().unwrap().unwrap_err().location().unwrap().line, 2);
    }
}
