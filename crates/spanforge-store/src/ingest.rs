//! Ingest: reading input events, verifying the ones that arrive signed, and sealing them into the
//! tenants' chains and trees (sign, serialise, hash, append) inside one transaction.
//!
//! The sealing pipeline per event is: tenant chain head → [`compat::sign`] with the tenant's key
//! → canonical envelope (signature included) → [`leaf_hash`] → [`Frontier::append`], which yields
//! the completed tree nodes → one [`NewRecord`]. Signing and hashing run in parallel over a chunk
//! of events (the HMAC covers only the predecessor's *id*, which is known before any signature
//! is computed); the frontier fold and the storage writes are sequential.

use std::collections::HashMap;
use std::collections::HashSet;
use std::io::BufRead;
use std::sync::Arc;

use rayon::prelude::*;
use spanforge_chain::compat::{self, EventCheck, KEY_ROTATED_TYPE};
use spanforge_chain::merkle::leaf_hash;
use spanforge_event::{Event, EventId, MAX_EVENT_BYTES};

use crate::backend::{KeyRecord, NewRecord, Reader, TenantState, Writer};
use crate::error::{Error, Location, Result};
use crate::keys::{HmacKey, KeyProvider};
use crate::sqlite::MAX_SEQ;
use crate::tenant::TenantId;

/// How many events are parsed, verified and sealed together.
pub(crate) const CHUNK: usize = 4096;

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
        loop {
            self.buf.clear();
            self.line += 1;
            let location = Location::new(self.source.clone(), self.line);
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {
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
#[derive(Debug, Default)]
pub(crate) struct IncomingChain {
    source: Option<Arc<str>>,
    prev: Option<EventId>,
    keys: HashMap<TenantId, Option<HmacKey>>,
    pub(crate) verified: u64,
}

impl IncomingChain {
    /// Checks one event. Returns whether it arrived signed.
    fn check<R: Reader + ?Sized>(
        &mut self,
        reader: &R,
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
            (None, Some(found)) => reader.contains_event_id(found.as_str())?,
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
            Some(Some(key)) => match compat::check_event(event, key.secret()) {
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
            Some(None) => {
                return Err(tampered(format!(
                    "tenant {tenant}'s chain rotated to a key that is not configured, so this event cannot be verified"
                )));
            }
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
                        self.keys.insert(tenant.clone(), Some(key));
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
            self.keys.insert(tenant, next);
        }
        self.prev = Some(*event.event_id());
        self.verified += 1;
        Ok(true)
    }
}

/// A tenant chain being extended inside one write transaction.
#[derive(Debug)]
pub(crate) struct ChainCursor {
    pub(crate) state: TenantState,
    pub(crate) key: HmacKey,
    pub(crate) dirty: bool,
}

/// The tenant chains touched by one write transaction.
#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) chains: Vec<ChainCursor>,
    index: HashMap<TenantId, usize>,
}

/// Where one event goes: its chain, position and predecessor.
struct Plan {
    slot: usize,
    seq: u64,
    prev: Option<EventId>,
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
            key,
            dirty: false,
        });
        Ok(self.chains.len() - 1)
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
        events: Vec<(Location, Event)>,
    ) -> Result<()> {
        // Duplicates within the chunk are caught here; duplicates of stored events (or of
        // earlier chunks) by the store's unique index, which then names exactly one event.
        let mut seen = HashSet::with_capacity(events.len());
        let mut plans = Vec::with_capacity(events.len());
        for (location, event) in &events {
            if !seen.insert(*event.event_id()) {
                return Err(Error::DuplicateEventId {
                    location: Some(location.clone()),
                    event_id: event.event_id().to_string(),
                });
            }
            incoming.check(tx, provider, location, event)?;
            let slot = self.slot(tx, provider, &TenantId::of_event(event))?;
            let chain = &mut self.chains[slot];
            let seq = chain.state.size;
            if seq > MAX_SEQ {
                return Err(Error::Capacity(format!(
                    "{location}: tenant {} has reached the largest chain the ledger can hold",
                    chain.state.id
                )));
            }
            // The cursor advances at once; if anything later fails, the transaction and this
            // session are discarded together.
            let prev = chain.state.head;
            chain.state.head = Some(*event.event_id());
            chain.state.size = seq + 1;
            chain.dirty = true;
            plans.push(Plan { slot, seq, prev });
        }
        let (locations, events): (Vec<Location>, Vec<Event>) = events.into_iter().unzip();
        let chains = &self.chains;
        let sealed: Vec<std::result::Result<NewRecord, String>> = events
            .into_par_iter()
            .zip(plans.par_iter())
            .map(|(event, plan)| {
                let chain = &chains[plan.slot];
                seal(
                    event,
                    &chain.key,
                    &chain.state,
                    plan.seq,
                    plan.prev.as_ref(),
                )
            })
            .collect();
        let mut records = Vec::with_capacity(sealed.len());
        for (record, location) in sealed.into_iter().zip(&locations) {
            records.push(record.map_err(|reason| Error::Input {
                location: location.clone(),
                reason,
            })?);
        }
        for (record, plan) in records.iter_mut().zip(&plans) {
            let frontier = &mut self.chains[plan.slot].state.frontier;
            let nodes = &mut record.nodes;
            frontier
                .append(record.leaf_hash, |id, hash| {
                    if id.level > 0 {
                        nodes.push(hash);
                    }
                })
                .map_err(|e| Error::chain("appending to the tree", e))?;
        }
        tx.append(&records).map_err(|e| match e {
            Error::DuplicateEventId {
                location: None,
                event_id,
            } => Error::DuplicateEventId {
                location: records
                    .iter()
                    .position(|r| r.event_id.as_str() == event_id)
                    .and_then(|i| locations.get(i).cloned()),
                event_id,
            },
            other => other,
        })
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

/// Seals one event: signs it into its chain, serialises it and hashes the leaf.
pub(crate) fn seal(
    event: Event,
    key: &HmacKey,
    state: &TenantState,
    seq: u64,
    prev: Option<&EventId>,
) -> std::result::Result<NewRecord, String> {
    let signed = compat::sign(event, key.secret(), prev);
    let mut envelope = Vec::with_capacity(1024);
    signed.write_canonical(&mut envelope);
    if envelope.len() > MAX_EVENT_BYTES || signed.ascii_compact_len() > MAX_EVENT_BYTES {
        return Err(format!(
            "the event is larger than {MAX_EVENT_BYTES} bytes once signed, so no reader could load it back"
        ));
    }
    let leaf = leaf_hash(&envelope);
    Ok(NewRecord {
        tenant: state.key,
        seq,
        event_id: *signed.event_id(),
        ts_micros: signed.timestamp().unix_micros(),
        event_type: signed.event_type().as_str().to_owned(),
        model_id: signed.model_id().map(str::to_owned),
        actor_id: signed.actor_id().map(str::to_owned),
        session_id: signed.session_id().map(str::to_owned),
        key_id: key.id().clone(),
        envelope,
        leaf_hash: leaf,
        nodes: Vec::new(),
    })
}

/// Parses a chunk of input lines in parallel; the first bad line in input order is the error.
pub(crate) fn parse_chunk(lines: Vec<InputLine>) -> Result<Vec<(Location, Event)>> {
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
    parsed.into_iter().collect()
}
