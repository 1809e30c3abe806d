//! [`Ledger`]: every ledger rule, generic over the storage [`Backend`]: ingest and group commit,
//! key rotation, checkpoints, inclusion proofs, export and queries. Verification lives in
//! [`crate::verify`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use spanforge_chain::checkpoint::{Checkpoint, SignedCheckpoint};
use spanforge_chain::merkle::{self, Hash, NodeId, NodeStore};
use spanforge_chain::note::{Note, NoteVerifier};
use spanforge_chain::tlog_proof::{Leaf, TlogProof};
use spanforge_event::json::{Map, Value};
use spanforge_event::{
    Clock, Entropy, Event, EventBuilder, RegisteredType, Source, Timestamp, UlidGenerator,
};

use crate::backend::{
    Backend, CheckpointRecord, KeyRecord, Reader, Record, RecordFilter, TenantKey, TenantState,
    Writer,
};
use crate::encryption::{
    DataKeyService, ENCRYPTION_SETTING, ERASURE_EVENT_TYPE, PayloadKeys, PayloadSession,
    PayloadState, SUBJECT_KEY_SETTING, data_key_scope, open_record,
};
use crate::error::{Error, Result};
use crate::ingest::{
    BatchReceipt, CHUNK, ChainCursor, Chunk, IncomingChain, IngestReceipt, InputLine, Sealed,
    Session, check_current_key, parse_chunk,
};
use crate::keys::{HmacKey, KeyId, KeyProvider};
use crate::page::RecordPage;
use crate::sqlite::SqliteBackend;
use crate::tenant::TenantId;

/// The `source` of events the ledger itself writes (key rotations).
pub const LEDGER_SOURCE: &str = concat!("spanforge-ledger@", env!("CARGO_PKG_VERSION"));

/// Rows fetched per storage round trip when streaming.
pub(crate) const PAGE: usize = 2048;

/// The durable ledger: per-tenant compatible HMAC chains and RFC 6962 trees over one storage
/// backend.
#[derive(Debug)]
pub struct Ledger<B: Backend> {
    pub(crate) backend: B,
    /// The data-key service and unwrapped keys, when payload encryption is configured.
    pub(crate) payload_keys: Option<Arc<PayloadKeys>>,
    /// Whether the next write turns payload encryption on.
    pub(crate) encrypt_new: bool,
}

/// The ledger in one SQLite file.
pub type SqliteLedger = Ledger<SqliteBackend>;

impl Ledger<SqliteBackend> {
    /// Opens (creating if needed) the SQLite ledger at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(SqliteBackend::open(path)?))
    }

    /// Opens an existing SQLite ledger; a missing file is an error.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(SqliteBackend::open_existing(path)?))
    }
}

/// A tenant's current state, for listings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantSummary {
    /// The tenant.
    pub tenant: TenantId,
    /// Its checkpoint origin.
    pub origin: String,
    /// Events in its chain (the tree size).
    pub size: u64,
    /// The last event's id.
    pub head_event_id: Option<String>,
    /// The tree root, hex.
    pub root: String,
    /// The key new events are signed with.
    pub key_id: KeyId,
}

/// A key the ledger recorded, for `keys list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    /// The tenant.
    pub tenant: TenantId,
    /// The key record.
    #[serde(flatten)]
    pub record: KeyRecord,
    /// Whether new events of the tenant are signed with it.
    pub current: bool,
}

/// What a key rotation wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RotationReceipt {
    /// The tenant.
    pub tenant: TenantId,
    /// The rotation event's id (the reference's `key_map` key for the new secret).
    pub rotation_event_id: String,
    /// The key the rotation event was signed with.
    pub previous_key_id: KeyId,
    /// The key events after it are signed with.
    pub key_id: KeyId,
}

/// A filter for [`Ledger::query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The tenant; results never include another tenant's events.
    pub tenant: TenantId,
    /// Earliest timestamp, inclusive.
    pub from: Option<Timestamp>,
    /// Latest timestamp, inclusive.
    pub to: Option<Timestamp>,
    /// Only event types starting with this string (a plain prefix, e.g. `llm.trace.`).
    pub event_type_prefix: Option<String>,
    /// Only events about this model ([`Event::model_id`]).
    pub model_id: Option<String>,
    /// Only events whose position in the tenant's chain is below this: the events of the tree
    /// of this size (a verified checkpoint's, say), not those appended since.
    pub before_seq: Option<u64>,
}

impl Query {
    /// All events of `tenant`.
    pub fn tenant(tenant: TenantId) -> Self {
        Self {
            tenant,
            from: None,
            to: None,
            event_type_prefix: None,
            model_id: None,
            before_seq: None,
        }
    }

    fn filter(&self, tenant: TenantKey) -> RecordFilter {
        RecordFilter {
            tenant,
            from_micros: self.from.map(|t| t.unix_micros()),
            to_micros: self.to.map(|t| t.unix_micros()),
            event_type_prefix: self.event_type_prefix.clone(),
            model_id: self.model_id.clone(),
            before_seq: self.before_seq,
        }
    }
}

/// One stored event with its index columns, as queries return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The tenant.
    pub tenant: TenantId,
    /// Its position in the tenant's chain (and leaf index in the tenant's tree).
    pub seq: u64,
    /// The event id.
    pub event_id: String,
    /// The timestamp in microseconds since the epoch.
    pub ts_micros: i64,
    /// The event type.
    pub event_type: String,
    /// The model id.
    pub model_id: Option<String>,
    /// The actor id.
    pub actor_id: Option<String>,
    /// The session id.
    pub session_id: Option<String>,
    /// The key that signed it.
    pub key_id: String,
    /// The canonical signed envelope (one JSONL line without the newline). An encrypted
    /// payload is decrypted here; an erased one is left as stored (see [`StoredEvent::payload`]).
    pub envelope: String,
    /// Whether the payload was stored in the clear, decrypted, or erased.
    pub payload: PayloadState,
}

impl StoredEvent {
    /// The fields an [`EventPage`] holds, borrowed: the same view of the event that
    /// [`QueryPages`] gives.
    pub fn borrowed(&self) -> EventRef<'_> {
        EventRef {
            seq: self.seq,
            ts_micros: self.ts_micros,
            event_id: &self.event_id,
            event_type: &self.event_type,
            envelope: &self.envelope,
            payload: self.payload,
        }
    }

    /// The stored event with its payload opened (decrypted when stored encrypted).
    fn opened<R: Reader + ?Sized>(
        keys: Option<&PayloadKeys>,
        reader: &R,
        tenant: &TenantId,
        mut record: Record,
    ) -> Result<Self> {
        let stored = envelope_text(tenant, &mut record)?;
        let (opened, payload) = open_record(keys, reader, tenant, &record.borrowed(), &stored)?;
        Ok(Self::with_envelope(
            tenant,
            record,
            opened.unwrap_or(stored),
            payload,
        ))
    }

    /// The stored event exactly as stored (an encrypted payload stays encrypted).
    fn from_record(tenant: &TenantId, mut record: Record) -> Result<Self> {
        let envelope = envelope_text(tenant, &mut record)?;
        Ok(Self::with_envelope(
            tenant,
            record,
            envelope,
            PayloadState::Plain,
        ))
    }

    /// The record's columns with `envelope` in place of its (taken) envelope bytes.
    fn with_envelope(
        tenant: &TenantId,
        record: Record,
        envelope: String,
        payload: PayloadState,
    ) -> Self {
        Self {
            tenant: tenant.clone(),
            seq: record.seq,
            event_id: record.event_id,
            ts_micros: record.ts_micros,
            event_type: record.event_type,
            model_id: record.model_id,
            actor_id: record.actor_id,
            session_id: record.session_id,
            key_id: record.key_id,
            envelope,
            payload,
        }
    }

    /// Parses the envelope.
    pub fn event(&self) -> Result<Event> {
        Event::from_json_str(&self.envelope).map_err(|source| Error::Event {
            context: format!("parsing stored event {}", self.event_id),
            source,
        })
    }
}

/// Takes the record's envelope bytes as text, without copying them.
fn envelope_text(tenant: &TenantId, record: &mut Record) -> Result<String> {
    String::from_utf8(std::mem::take(&mut record.envelope))
        .map_err(|_| envelope_not_text(tenant, record.seq))
}

/// A stored envelope that is not UTF-8: no ledger writes one.
fn envelope_not_text(tenant: &TenantId, seq: u64) -> Error {
    Error::NotALedger {
        reason: format!("tenant {tenant}: the stored envelope at seq {seq} is not UTF-8"),
    }
}

/// A proof that one event is in its tenant's tree, packaged for an auditor who has only the
/// checkpoint public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventProof {
    /// The tenant.
    pub tenant: TenantId,
    /// The event id.
    pub event_id: String,
    /// The leaf index (the event's seq).
    pub index: u64,
    /// The canonical envelope: the leaf data.
    pub envelope: String,
    /// The `c2sp.org/tlog-proof@v1` bundle. Its `extra` line carries the envelope, so the bundle
    /// alone is enough to verify.
    pub bundle: TlogProof,
}

impl EventProof {
    /// The bundle's text.
    pub fn to_text(&self) -> String {
        self.bundle.to_string()
    }
}

/// What verifying a proof bundle established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The checkpoint the event is included in (its signature verified).
    pub checkpoint: Checkpoint,
    /// The tenant, from the checkpoint origin.
    pub tenant: Option<TenantId>,
    /// The event, parsed from the leaf data.
    pub event: Event,
    /// The leaf index.
    pub index: u64,
}

/// Verifies a proof bundle written by [`Ledger::prove`] with only the checkpoint public key.
///
/// The leaf is the bundle's `extra` data (the canonical envelope); when `event_line` is given
/// (the event as the auditor received it, e.g. a line of an export) it must be byte-identical,
/// or, for a payload stored encrypted, be the leaf with the payload decrypted: every other byte
/// identical and the payload hashing to the signed checksum the leaf carries (see
/// `docs/adr/003-encrypted-payloads.md`). [`VerifiedProof::event`] is then the leaf as stored.
pub fn verify_event_proof(
    bundle: &[u8],
    log_key: &NoteVerifier,
    event_line: Option<&[u8]>,
) -> Result<VerifiedProof> {
    let proof =
        TlogProof::parse(bundle).map_err(|e| Error::chain("reading the proof bundle", e))?;
    let leaf = match (proof.extra(), event_line) {
        (Some(extra), Some(line)) if extra != line => {
            if !crate::encryption::is_decryption_of(line, extra) {
                return Err(Error::Checkpoint(
                    "the event line differs from the event the proof carries".to_owned(),
                ));
            }
            // The line is the decrypted form of the encrypted leaf: the leaf is what is proven.
            extra
        }
        (_, Some(line)) => line,
        (Some(extra), None) => extra,
        (None, None) => {
            return Err(Error::Checkpoint(
                "the bundle carries no event and none was given".to_owned(),
            ));
        }
    };
    let checkpoint = proof
        .verify(Leaf::Data(leaf), log_key)
        .map_err(|e| Error::chain("verifying the proof bundle", e))?;
    let text = std::str::from_utf8(leaf)
        .map_err(|_| Error::Checkpoint("the proven event is not UTF-8".to_owned()))?;
    let event = Event::from_json_str(text).map_err(|source| Error::Event {
        context: "parsing the proven event".to_owned(),
        source,
    })?;
    let tenant = parse_origin(checkpoint.origin()).map(|(_, t)| t);
    Ok(VerifiedProof {
        tenant,
        event,
        index: proof.index(),
        checkpoint,
    })
}

/// Splits an origin `spanforge/<ledger id>/<tenant path>` into the ledger id and the tenant.
pub fn parse_origin(origin: &str) -> Option<(String, TenantId)> {
    let rest = origin.strip_prefix("spanforge/")?;
    let (ledger, path) = rest.split_once('/')?;
    Some((ledger.to_owned(), TenantId::from_origin_path(path)?))
}

/// Writes signed checkpoints one after another, separated by a blank line: the checkpoint file
/// `audit verify --checkpoint` reads.
pub fn format_checkpoints(checkpoints: &[SignedCheckpoint]) -> String {
    checkpoints
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits a checkpoint file (one signed note, or several separated by blank lines) into notes.
pub fn split_checkpoints(text: &str) -> Result<Vec<String>> {
    // A signed note is `text\n\nsignatures\n`, and a checkpoint text has no blank line, so the
    // paragraphs alternate: checkpoint text, signature lines, checkpoint text, ...
    let paragraphs: Vec<&str> = text
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.is_empty())
        .collect();
    if paragraphs.is_empty() {
        return Err(Error::Checkpoint("the checkpoint file is empty".to_owned()));
    }
    if !paragraphs.len().is_multiple_of(2) {
        return Err(Error::Checkpoint(
            "the checkpoint file is not a sequence of signed notes (a note lacks its signature lines)"
                .to_owned(),
        ));
    }
    Ok(paragraphs
        .chunks(2)
        .map(|pair| format!("{}\n\n{}\n", pair[0], pair[1]))
        .collect())
}

/// A tenant's stored tree seen as a [`NodeStore`] of a fixed size.
pub(crate) struct TenantNodes<'r, R: Reader + ?Sized> {
    pub(crate) reader: &'r R,
    pub(crate) tenant: TenantKey,
    pub(crate) size: u64,
}

impl<R: Reader + ?Sized> NodeStore for TenantNodes<'_, R> {
    type Error = Error;

    fn size(&self) -> Result<u64> {
        Ok(self.size)
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>> {
        Ok(self
            .reader
            .nodes(self.tenant, &[NodeId::new(level, index)])?
            .into_iter()
            .next()
            .flatten())
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        self.reader.nodes(self.tenant, ids)
    }
}

impl<B: Backend> Ledger<B> {
    /// A ledger over `backend`.
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            payload_keys: None,
            encrypt_new: false,
        }
    }

    /// Configures the data-key service that encrypts and decrypts payloads (see
    /// [`crate::encryption`]). Reading an encrypted ledger needs it; verifying does not.
    pub fn with_data_keys(mut self, service: Arc<dyn DataKeyService>) -> Self {
        self.payload_keys = Some(Arc::new(PayloadKeys::new(service)));
        self
    }

    /// Turns payload encryption on with the next write: from then on (a setting stored in the
    /// ledger) every ingested payload is stored encrypted. Needs [`Ledger::with_data_keys`].
    pub fn encrypt_payloads(&mut self) {
        self.encrypt_new = true;
    }

    /// Whether the ledger stores payloads encrypted.
    pub fn is_encrypted(&self) -> Result<bool> {
        Ok(self.backend.read()?.meta(ENCRYPTION_SETTING)?.is_some())
    }

    /// The payload session of a write transaction: `None` when the ledger does not encrypt.
    fn payload_session<W: Writer + ?Sized>(
        keys: Option<&Arc<PayloadKeys>>,
        encrypt_new: bool,
        tx: &mut W,
        ledger_id: &str,
    ) -> Result<Option<PayloadSession>> {
        if !encrypt_new && tx.meta(ENCRYPTION_SETTING)?.is_none() {
            return Ok(None);
        }
        let keys = keys.ok_or_else(|| {
            Error::encryption(
                "this ledger stores payloads encrypted; configure the KMS (the keyring that holds its key-encryption key) to write to it",
                None,
            )
        })?;
        PayloadSession::start(keys.clone(), tx, ledger_id).map(Some)
    }

    /// The storage backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The ledger's unique id.
    pub fn ledger_id(&self) -> &str {
        self.backend.ledger_id()
    }

    /// The name checkpoint signing keys of this ledger should carry: `spanforge/<ledger id>`.
    pub fn log_key_name(&self) -> String {
        format!("spanforge/{}", self.ledger_id())
    }

    /// The checkpoint origin of a tenant's tree: `spanforge/<ledger id>/<tenant path>` (see
    /// [`TenantId::origin_path`]).
    pub fn origin(&self, tenant: &TenantId) -> String {
        format!("spanforge/{}/{}", self.ledger_id(), tenant.origin_path())
    }

    /// Every tenant with its head.
    pub fn tenants(&self) -> Result<Vec<TenantSummary>> {
        let read = self.backend.read()?;
        Ok(read
            .tenants()?
            .into_iter()
            .map(|s| self.summary(&s))
            .collect())
    }

    fn summary(&self, s: &TenantState) -> TenantSummary {
        TenantSummary {
            tenant: s.id.clone(),
            origin: self.origin(&s.id),
            size: s.size,
            head_event_id: s.head.map(|h| h.to_string()),
            root: s.frontier.root().to_hex(),
            key_id: s.key_id.clone(),
        }
    }

    /// The keys recorded for one tenant, or for all.
    pub fn keys(&self, tenant: Option<&TenantId>) -> Result<Vec<KeyInfo>> {
        let read = self.backend.read()?;
        let tenants = read.tenants()?;
        let mut out = Vec::new();
        for state in tenants.iter().filter(|s| tenant.is_none_or(|t| *t == s.id)) {
            for record in read.keys(Some(state.key))? {
                out.push(KeyInfo {
                    tenant: state.id.clone(),
                    current: record.key_id == state.key_id,
                    record,
                });
            }
        }
        Ok(out)
    }

    /// Ingests events in ONE transaction: every event is validated (JSON lines are parsed in
    /// parallel), events that arrive signed are verified as a chain first (see
    /// [`IncomingChain`](crate::ingest)), then all are signed into their tenants' chains and
    /// appended. Any invalid line, tampered or unlinked signed event, duplicate id or storage
    /// error rolls everything back and names the input line; nothing is written.
    pub fn ingest<I>(&mut self, keys: &dyn KeyProvider, input: I) -> Result<IngestReceipt>
    where
        I: IntoIterator<Item = Result<InputLine>>,
    {
        self.run_ingest(keys, &mut LineChunks(input.into_iter()), None, &mut |_| {
            Ok(())
        })
    }

    /// Ingests a long-running stream with group commit: one durable transaction per
    /// `commit_every` events (and one for the rest at the end). `on_commit` runs after each
    /// commit has returned, i.e. once its events are on stable storage: the place to
    /// acknowledge them (`acked <total> <last id>`). An error refuses the current batch only;
    /// earlier batches stay committed. Signed input is verified as one chain across batches.
    pub fn ingest_streaming<I>(
        &mut self,
        keys: &dyn KeyProvider,
        input: I,
        commit_every: usize,
        on_commit: &mut dyn FnMut(&BatchReceipt) -> Result<()>,
    ) -> Result<IngestReceipt>
    where
        I: IntoIterator<Item = Result<InputLine>>,
    {
        self.run_ingest(
            keys,
            &mut LineChunks(input.into_iter()),
            Some(commit_every.max(1)),
            on_commit,
        )
    }

    /// Appends a batch of parsed events in one durable transaction (group commit: one sync for
    /// the whole batch). The same rules as [`Ledger::ingest`] apply; errors name the event's
    /// position in the batch (`batch:<n>`, from 1).
    pub fn append_batch(
        &mut self,
        keys: &dyn KeyProvider,
        events: Vec<Event>,
    ) -> Result<BatchReceipt> {
        let mut input = EventChunks {
            source: std::sync::Arc::from("batch"),
            position: 0,
            events: events.into_iter(),
        };
        let receipt = self.run_ingest(keys, &mut input, None, &mut |_| Ok(()))?;
        Ok(BatchReceipt {
            events: receipt.events,
            total: receipt.events,
            last_event_id: receipt.last_event_id,
        })
    }

    fn run_ingest(
        &mut self,
        keys: &dyn KeyProvider,
        input: &mut dyn Chunks,
        commit_every: Option<usize>,
        on_commit: &mut dyn FnMut(&BatchReceipt) -> Result<()>,
    ) -> Result<IngestReceipt> {
        let mut incoming = IncomingChain::default();
        let mut receipt = IngestReceipt::default();
        let chunk_cap = commit_every.map_or(CHUNK, |n| n.min(CHUNK));
        let ledger_id = self.backend.ledger_id().to_owned();
        loop {
            let mut tx = self.backend.write()?;
            // Heads are re-read in every transaction, so another writer's commits between two
            // of ours are picked up rather than forked.
            let mut session = Session::default();
            session.payload = Self::payload_session(
                self.payload_keys.as_ref(),
                self.encrypt_new,
                &mut tx,
                &ledger_id,
            )?;
            let mut in_tx = 0u64;
            let mut planned_in_tx = 0usize;
            let mut first_id = None;
            let mut last_id = None;
            // Pipeline over chunks: while the pool seals chunk k, this thread folds chunk k-1
            // into the trees (the nodes its appends complete are stored with it), stores it, and
            // reads and plans chunk k+1; so the pool never waits for the fold. Errors are
            // reported in input order: folding and storing chunk k-1 before sealing chunk k
            // before planning chunk k+1.
            let mut pending: Option<Sealed> = None;
            let want = |planned_in_tx: usize| match commit_every {
                Some(n) => chunk_cap.min(n.saturating_sub(planned_in_tx)),
                None => chunk_cap,
            };
            let mut next = match want(0) {
                0 => None,
                n => {
                    let events = input.next_chunk(n)?;
                    if events.is_empty() {
                        None
                    } else {
                        Some(session.plan(
                            &mut tx,
                            keys,
                            &mut incoming,
                            events,
                            &foldhash::HashSet::default(),
                        )?)
                    }
                }
            };
            while let Some(mut planned) = next.take() {
                planned_in_tx += planned.len();
                let ids = planned.take_ids();
                let sealers = session.sealers();
                let mut sealed = None;
                let sealing_done = AtomicBool::new(false);
                let mut stored = Ok(());
                let mut following = Ok(None);
                rayon::in_place_scope(|scope| {
                    scope.spawn(|_| {
                        sealed = Some(sealers.seal(planned));
                        sealing_done.store(true, Ordering::Release);
                    });
                    let mut used_events = None;
                    if let Some(mut p) = pending.take() {
                        used_events = Some(p.take_events());
                        // The stored records are freed on the pool: they were allocated there
                        // (so freeing them there takes no other thread's allocator lock), and
                        // this thread, the only one that can write, has better things to do.
                        match session.fold(&mut p).and_then(|()| p.append_to(&mut tx)) {
                            // A backend that keeps the records (in memory) hands back none, and
                            // waking a pool thread to free nothing would cost more than it saves.
                            Ok(spent) if spent.is_empty() => {}
                            Ok(spent) => scope.spawn(move |_| drop(spent)),
                            Err(e) => stored = Err(e),
                        }
                    }
                    let n = want(planned_in_tx);
                    if stored.is_ok() && n > 0 {
                        following = input.next_chunk(n).and_then(|events| {
                            if events.is_empty() {
                                return Ok(None);
                            }
                            session
                                .plan(&mut tx, keys, &mut incoming, events, &ids)
                                .map(Some)
                        });
                    }
                    // The stored chunk's input events are freed by this thread when the pool is
                    // still sealing (it would only wait for it; and events a caller built on
                    // this thread are freed locally, without the allocator's cross-thread
                    // path), else by a detached task on the pool, which nothing waits for, so
                    // that storing (the durable bottleneck) never waits for them.
                    if let Some(events) = used_events {
                        if sealing_done.load(Ordering::Acquire) {
                            rayon::spawn(move || drop(events));
                        } else {
                            drop(events);
                        }
                    }
                });
                stored?;
                let mut sealed = sealed.ok_or_else(|| Error::NotALedger {
                    reason: "a sealing task did not run".to_owned(),
                })??;
                if first_id.is_none() {
                    first_id = sealed.first_event_id();
                }
                last_id = sealed.last_event_id();
                in_tx += sealed.len() as u64;
                match following {
                    Ok(following) => {
                        pending = Some(sealed);
                        next = following;
                    }
                    Err(e) => {
                        // A duplicate in the sealed chunk comes first in the input.
                        session.fold(&mut sealed)?;
                        sealed.append_to(&mut tx)?;
                        return Err(e);
                    }
                }
            }
            if let Some(mut p) = pending.take() {
                let events = p.take_events();
                session.fold(&mut p)?;
                let spent = p.append_to(&mut tx)?;
                // Nothing is left to seal, so the pool frees both, and the commit does not wait.
                rayon::spawn(move || drop((spent, events)));
            }
            if in_tx == 0 {
                break;
            }
            session.finish(&mut tx)?;
            tx.commit()?;
            if let Some(p) = session.payload.as_mut() {
                p.committed();
            }
            receipt.events += in_tx;
            receipt.commits += 1;
            if receipt.first_event_id.is_none() {
                receipt.first_event_id = first_id;
            }
            receipt.last_event_id.clone_from(&last_id);
            receipt.verified_presigned = incoming.verified;
            receipt.warnings.clone_from(&incoming.warnings);
            merge_heads(&mut receipt.tenants, session.heads());
            on_commit(&BatchReceipt {
                events: in_tx,
                total: receipt.events,
                last_event_id: last_id,
            })?;
            if commit_every.is_none() {
                break;
            }
        }
        Ok(receipt)
    }

    /// Rotates a tenant's key: appends an `llm.audit.key.rotated` event signed with the current
    /// key, whose payload carries `rotation_marker: "true"`, `new_secret_hash` (SHA-256 hex of
    /// the new secret, the reference's convention), `rotated_by`, `key_id` and
    /// `previous_key_id`; records the new key; events after it are signed with `new_key`, which
    /// the key provider must return as the tenant's signing key from then on.
    ///
    /// The reference verifies the rotated chain with `verify_chain(events, old_secret,
    /// key_map={rotation_event_id: new_secret})`.
    pub fn rotate_key<C: Clock, E: Entropy>(
        &mut self,
        keys: &dyn KeyProvider,
        tenant: &TenantId,
        new_key: &HmacKey,
        rotated_by: &str,
        ids: &mut UlidGenerator<C, E>,
    ) -> Result<RotationReceipt> {
        new_key.require_native()?;
        let mut tx = self.backend.write()?;
        let Some(mut state) = tx.tenant(tenant)? else {
            return Err(Error::TenantNotFound {
                tenant: tenant.clone(),
            });
        };
        let old = keys
            .key(tenant, &state.key_id)?
            .ok_or_else(|| Error::UnknownKey {
                tenant: tenant.clone(),
                key_id: state.key_id.to_string(),
            })?;
        old.require_native()?;
        check_current_key(&tx, &state, &old)?;
        if tx
            .keys(Some(state.key))?
            .iter()
            .any(|k| &k.key_id == new_key.id())
        {
            return Err(Error::InvalidKeyId {
                id: new_key.id().to_string(),
                reason: "this tenant has already used a key with this id",
            });
        }

        let mut payload = Map::new();
        payload.insert("key_id", new_key.id().as_str());
        payload.insert("new_secret_hash", new_key.secret().fingerprint());
        payload.insert("previous_key_id", state.key_id.as_str());
        payload.insert("rotated_by", rotated_by);
        payload.insert("rotation_marker", "true");
        let source = Source::parse(LEDGER_SOURCE).map_err(|source| Error::Event {
            context: "building the rotation event source".to_owned(),
            source,
        })?;
        let mut builder = EventBuilder::new(
            RegisteredType::LlmAuditKeyRotated,
            source,
            Value::Object(payload),
        );
        if let Some(org) = tenant.org_id() {
            builder = builder.org_id(org);
        }
        let event = builder.build(ids).map_err(|source| Error::Event {
            context: "building the rotation event".to_owned(),
            source,
        })?;
        let rotation_id = event.event_id().to_string();
        let rotation_seq = state.size;
        let previous_key_id = state.key_id.clone();

        // Seal the rotation event with the old key, then switch the tenant to the new key.
        state.key_id = old.id().clone();
        let mut session = Session::default();
        session.insert(ChainCursor {
            state,
            key: std::sync::Arc::new(old),
            dirty: false,
        });
        let location = crate::Location::new("rotation", 1);
        session.seal_and_append(
            &mut tx,
            keys,
            &mut IncomingChain::default(),
            Chunk::one(location, event),
        )?;
        let cursor = session
            .chains
            .first_mut()
            .ok_or_else(|| Error::NotALedger {
                reason: "rotation lost its chain cursor".to_owned(),
            })?;
        cursor.state.key_id = new_key.id().clone();
        let tenant_key = cursor.state.key;
        session.finish(&mut tx)?;
        tx.add_key(&KeyRecord {
            tenant: tenant_key,
            key_id: new_key.id().clone(),
            check: new_key.check_value(),
            first_seq: rotation_seq + 1,
            rotation_event_id: Some(rotation_id.clone()),
            previous_key_id: Some(previous_key_id.clone()),
        })?;
        tx.commit()?;
        Ok(RotationReceipt {
            tenant: tenant.clone(),
            rotation_event_id: rotation_id,
            previous_key_id,
            key_id: new_key.id().clone(),
        })
    }

    /// Signs and stores a checkpoint of `tenant`'s tree, after checking that the stored tree
    /// agrees with its frontier and extends the last checkpoint the ledger signed (a log must
    /// never sign two inconsistent checkpoints). If the tree has not grown since the last
    /// checkpoint, that checkpoint is returned.
    pub fn checkpoint(
        &mut self,
        keys: &dyn KeyProvider,
        tenant: &TenantId,
    ) -> Result<SignedCheckpoint> {
        let signer = keys
            .checkpoint_signer()
            .ok_or(Error::NoCheckpointKey("signing"))?;
        let origin = self.origin(tenant);
        let verifiers = keys.checkpoint_verifiers();
        let mut tx = self.backend.write()?;
        let Some(state) = tx.tenant(tenant)? else {
            return Err(Error::TenantNotFound {
                tenant: tenant.clone(),
            });
        };
        let tree_error = |reason: String| Error::TreeState {
            tenant: tenant.clone(),
            reason,
        };
        let root = state.frontier.root();
        {
            let store = TenantNodes {
                reader: &tx,
                tenant: state.key,
                size: state.size,
            };
            state
                .frontier
                .verify_against_store(&store)
                .map_err(|e| tree_error(format!("the stored tree disagrees with its head: {e}")))?;
            if let Some(last) = tx.checkpoints(state.key)?.pop() {
                let signed_previous =
                    open_checkpoint(last.note.as_bytes(), &verifiers).map_err(|e| {
                        tree_error(format!("the last stored checkpoint does not verify: {e}"))
                    })?;
                let previous = signed_previous.checkpoint();
                if previous.size() == state.size && *previous.root() == root {
                    return Ok(signed_previous);
                }
                let proof = if previous.size() == 0 || previous.size() > state.size {
                    Vec::new()
                } else {
                    merkle::consistency_proof(&store, previous.size(), state.size)
                        .map_err(|e| tree_error(format!("cannot prove consistency: {e}")))?
                };
                Checkpoint::new(&origin, state.size, root)
                    .map_err(|e| Error::chain("building a checkpoint", e))?
                    .verify_extends(previous, &proof)
                    .map_err(|e| {
                        tree_error(format!(
                            "refusing to sign: the tree does not extend the checkpoint of size {} signed before ({e})",
                            previous.size()
                        ))
                    })?;
            }
        }
        let signed = Checkpoint::new(&origin, state.size, root)
            .and_then(|c| c.sign(signer))
            .map_err(|e| Error::chain("signing a checkpoint", e))?;
        tx.add_checkpoint(&CheckpointRecord {
            tenant: state.key,
            size: state.size,
            root,
            note: signed.to_string(),
        })?;
        tx.commit()?;
        Ok(signed)
    }

    /// Checkpoints every tenant (see [`Ledger::checkpoint`]), in tenant order.
    pub fn checkpoint_all(&mut self, keys: &dyn KeyProvider) -> Result<Vec<SignedCheckpoint>> {
        let tenants: Vec<TenantId> = self
            .backend
            .read()?
            .tenants()?
            .into_iter()
            .map(|s| s.id)
            .collect();
        tenants.iter().map(|t| self.checkpoint(keys, t)).collect()
    }

    /// A proof that event `event_id` is in its tenant's tree, against the newest stored
    /// checkpoint that covers it, signing a new checkpoint first if none does.
    pub fn prove(&mut self, keys: &dyn KeyProvider, event_id: &str) -> Result<EventProof> {
        let verifiers = keys.checkpoint_verifiers();
        let (tenant, seq, covering) = {
            let read = self.backend.read()?;
            let record =
                read.record_by_event_id(event_id)?
                    .ok_or_else(|| Error::EventNotFound {
                        event_id: event_id.to_owned(),
                    })?;
            let state = tenant_of(&read, record.tenant)?;
            let covering = read
                .checkpoints(record.tenant)?
                .into_iter()
                .rev()
                .find(|c| c.size > record.seq);
            (state.id, record.seq, covering)
        };
        let signed = match covering {
            Some(c) => open_checkpoint(c.note.as_bytes(), &verifiers)?,
            None => self.checkpoint(keys, &tenant)?,
        };
        if signed.checkpoint().size() <= seq {
            return Err(Error::TreeState {
                tenant,
                reason: format!("no checkpoint covers leaf {seq}"),
            });
        }
        self.prove_against(event_id, &signed)
    }

    /// A proof that event `event_id` is in the tree of `checkpoint` (which must be this
    /// ledger's checkpoint of the event's tenant and cover the event). The proof is checked
    /// before it is returned, so a stored tree that disagrees with the checkpoint is an error.
    pub fn prove_against(
        &self,
        event_id: &str,
        checkpoint: &SignedCheckpoint,
    ) -> Result<EventProof> {
        let read = self.backend.read()?;
        let record = read
            .record_by_event_id(event_id)?
            .ok_or_else(|| Error::EventNotFound {
                event_id: event_id.to_owned(),
            })?;
        let state = tenant_of(&read, record.tenant)?;
        let cp = checkpoint.checkpoint();
        if cp.origin() != self.origin(&state.id) {
            return Err(Error::Checkpoint(format!(
                "the checkpoint is for {}, not for tenant {} of this ledger",
                cp.origin(),
                state.id
            )));
        }
        if cp.size() <= record.seq || cp.size() > state.size {
            return Err(Error::Checkpoint(format!(
                "a checkpoint of size {} cannot prove leaf {} of a tree of size {}",
                cp.size(),
                record.seq,
                state.size
            )));
        }
        let store = TenantNodes {
            reader: &read,
            tenant: record.tenant,
            size: state.size,
        };
        let path = merkle::inclusion_proof(&store, record.seq, cp.size())
            .map_err(|e| Error::chain("building an inclusion proof", e))?;
        merkle::verify_inclusion(
            record.seq,
            cp.size(),
            &merkle::leaf_hash(&record.envelope),
            &path,
            cp.root(),
        )
        .map_err(|e| Error::TreeState {
            tenant: state.id.clone(),
            reason: format!("the stored tree does not match the checkpoint: {e}"),
        })?;
        let bundle = TlogProof::new(record.seq, path, checkpoint)
            .map_err(|e| Error::chain("building the proof bundle", e))?
            .with_extra(record.envelope.clone());
        let stored = StoredEvent::from_record(&state.id, record)?;
        Ok(EventProof {
            tenant: state.id,
            event_id: stored.event_id,
            index: stored.seq,
            envelope: stored.envelope,
            bundle,
        })
    }

    /// The tenant's chain in `seq` order as canonical JSON lines with the compatible integrity
    /// fields, optionally limited to an inclusive time range.
    ///
    /// Without bounds the export is a whole chain that the reference's
    /// `verify_chain(events, key)` accepts with the tenant's key (with a `key_map` after a
    /// rotation). With bounds it starts and may continue mid-chain, so the reference reports
    /// the first event (and any event after a skipped one) as a gap; [`Export::notice`] says so.
    pub fn export(
        &self,
        tenant: &TenantId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Export<'_, B>> {
        let state = self.backend.read()?.tenant(tenant)?;
        Ok(Export {
            ledger: self,
            tenant: tenant.clone(),
            key: state.as_ref().map(|s| s.key),
            next_seq: 0,
            end_seq: state.map_or(0, |s| s.size),
            from: from.map(|t| t.unix_micros()),
            to: to.map(|t| t.unix_micros()),
            buffer: Vec::new().into_iter(),
            done: false,
            decrypted: 0,
        })
    }

    /// Streams the events matching `query` in `(timestamp, seq)` order, a page at a time, using
    /// the time or model index.
    pub fn query(&self, query: &Query) -> Result<QueryIter<'_, B>> {
        let state = self.backend.read()?.tenant(&query.tenant)?;
        Ok(QueryIter {
            ledger: self,
            tenant: query.tenant.clone(),
            filter: state.map(|s| query.filter(s.key)),
            after: None,
            buffer: Vec::new().into_iter(),
            done: false,
        })
    }

    /// Streams the events matching `query` like [`Ledger::query`], but into an [`EventPage`]
    /// the caller reuses, so that reading allocates nothing per event once the buffers have
    /// grown. Each page is read in its own snapshot, as with [`Ledger::query`].
    pub fn query_pages(&self, query: &Query) -> Result<QueryPages<'_, B>> {
        let mut pages = QueryPages {
            ledger: self,
            tenant: query.tenant.clone(),
            filter: None,
            after: None,
            done: true,
            rows: RecordPage::new(),
        };
        pages.restart(query)?;
        Ok(pages)
    }

    /// The stored event with this id, in any tenant.
    pub fn get(&self, event_id: &str) -> Result<Option<StoredEvent>> {
        let read = self.backend.read()?;
        let Some(record) = read.record_by_event_id(event_id)? else {
            return Ok(None);
        };
        let state = tenant_of(&read, record.tenant)?;
        StoredEvent::opened(self.payload_keys.as_deref(), &read, &state.id, record).map(Some)
    }

    /// Opens a page of records (decrypting encrypted payloads). Records are read one by one
    /// but their data keys are cached, so a page costs at most one KMS call per new key.
    fn open_page<R: Reader + ?Sized>(
        &self,
        reader: &R,
        tenant: &TenantId,
        rows: Vec<Record>,
    ) -> Vec<Result<StoredEvent>> {
        let keys = self.payload_keys.as_deref();
        rows.into_iter()
            .map(|r| StoredEvent::opened(keys, reader, tenant, r))
            .collect()
    }

    /// Erases a data subject by crypto-shredding (GDPR Art. 17): destroys every data key whose
    /// scope has `subject` as its `actor_id`, `session_id` or payload `subject_id`, after
    /// appending to each affected tenant's chain an erasure record
    /// ([`ERASURE_EVENT_TYPE`]) that names the subject
    /// only by its keyed hash and lists the destroyed key ids. One transaction; afterwards the
    /// store is scrubbed ([`Backend::scrub`]) so the wrapped keys survive nowhere on disk.
    ///
    /// Events stay in their chains and trees (which still verify); their payloads can no longer
    /// be decrypted by anyone. Plaintext payloads written before encryption was turned on are
    /// not covered (see `docs/adr/003-encrypted-payloads.md`).
    pub fn erase_subject<C: Clock, E: Entropy>(
        &mut self,
        keys: &dyn KeyProvider,
        subject: &str,
        erased_by: &str,
        reason: &str,
        ids: &mut UlidGenerator<C, E>,
    ) -> Result<ErasureReceipt> {
        if subject.is_empty() {
            return Err(Error::encryption("the subject to erase is empty", None));
        }
        let payload_keys = self.payload_keys.clone().ok_or_else(|| {
            Error::encryption(
                "erasing a subject needs the KMS that holds the ledger's keys (to compute the keyed subject hash)",
                None,
            )
        })?;
        let ledger_id = self.ledger_id().to_owned();
        let source = Source::parse(LEDGER_SOURCE).map_err(|source| Error::Event {
            context: "building the erasure event source".to_owned(),
            source,
        })?;
        let event_type =
            spanforge_event::EventType::parse(ERASURE_EVENT_TYPE).map_err(|source| {
                Error::Event {
                    context: "building the erasure event type".to_owned(),
                    source,
                }
            })?;
        let mut tx = self.backend.write()?;
        if tx.meta(ENCRYPTION_SETTING)?.is_none() {
            return Err(Error::encryption(
                "this ledger does not encrypt payloads, so nothing can be erased by destroying keys",
                None,
            ));
        }
        let subject_hash = payload_keys.hash_subject(&tx, &ledger_id, subject)?;
        let mut by_tenant: BTreeMap<TenantKey, Vec<String>> = BTreeMap::new();
        for record in tx.data_keys_of_subject(&subject_hash)? {
            by_tenant
                .entry(record.tenant)
                .or_default()
                .push(record.key_id);
        }
        let tenants = tx.tenants()?;
        let mut receipt = ErasureReceipt {
            subject_hash: subject_hash.clone(),
            destroyed_keys: 0,
            erasures: Vec::new(),
        };
        for (tenant_key, key_ids) in by_tenant {
            let state = tenants
                .iter()
                .find(|s| s.key == tenant_key)
                .ok_or_else(|| Error::NotALedger {
                    reason: format!(
                        "a data key names tenant handle {}, which does not exist",
                        tenant_key.0
                    ),
                })?;
            let mut payload = Map::new();
            payload.insert(
                "data_key_ids",
                Value::Array(key_ids.iter().map(|k| Value::from(k.as_str())).collect()),
            );
            payload.insert("erased_by", erased_by);
            payload.insert("legal_basis", "GDPR Art. 17");
            payload.insert("method", "crypto-shredding");
            payload.insert("reason", reason);
            payload.insert("subject_hash", subject_hash.as_str());
            payload.insert("subject_hash_alg", "hmac-sha256/spanforge-subject-v1");
            let mut builder =
                EventBuilder::new(event_type.clone(), source.clone(), Value::Object(payload));
            if let Some(org) = state.id.org_id() {
                builder = builder.org_id(org);
            }
            let event = builder.build(ids).map_err(|source| Error::Event {
                context: "building the erasure event".to_owned(),
                source,
            })?;
            let erasure_id = event.event_id().to_string();
            let mut session = Session::default();
            session.seal_and_append(
                &mut tx,
                keys,
                &mut IncomingChain::default(),
                Chunk::one(crate::Location::new("erasure", 1), event),
            )?;
            session.finish(&mut tx)?;
            tx.erase_data_keys(tenant_key, &key_ids, &erasure_id)?;
            // Writers (in this or another process) drop their cached scope mappings.
            let generation = tx
                .meta(crate::encryption::ERASURE_GENERATION_SETTING)?
                .and_then(|g| g.parse::<u64>().ok())
                .unwrap_or(0);
            tx.set_meta(
                crate::encryption::ERASURE_GENERATION_SETTING,
                &(generation + 1).to_string(),
            )?;
            receipt.destroyed_keys += key_ids.len() as u64;
            receipt.erasures.push(ErasureRecord {
                tenant: state.id.clone(),
                erasure_event_id: erasure_id,
                data_key_ids: key_ids,
            });
        }
        tx.commit()?;
        for e in &receipt.erasures {
            for k in &e.data_key_ids {
                payload_keys.forget(k);
            }
        }
        self.backend.scrub()?;
        Ok(receipt)
    }

    /// Re-wraps every stored data key (and the subject-hash key) under the data-key service's
    /// current key-encryption key, in one transaction, without decrypting or re-encrypting any
    /// payload. Keys already wrapped under it are left alone. Afterwards older key-encryption
    /// keys can be retired ([`Ledger::keks_in_use`] says which are still needed).
    pub fn rewrap_data_keys(&mut self) -> Result<RewrapReceipt> {
        let payload_keys = self
            .payload_keys
            .clone()
            .ok_or_else(|| Error::encryption("re-wrapping data keys needs the KMS", None))?;
        let service = payload_keys.service().clone();
        let kek = service.kek();
        let ledger_id = self.ledger_id().to_owned();
        let mut tx = self.backend.write()?;
        let tenants = tx.tenants()?;
        let mut receipt = RewrapReceipt {
            kek: kek.clone(),
            rewrapped: 0,
            already_current: 0,
        };
        for record in tx.data_keys(None)? {
            if record.kek == kek {
                receipt.already_current += 1;
                continue;
            }
            let tenant = tenant_of_states(&tenants, record.tenant)?;
            let scope = data_key_scope(&tenant, &record.key_id)?;
            let wrapped =
                spanforge_crypto::WrappedDek::from_bytes(&record.wrapped).map_err(|e| {
                    Error::encryption(
                        format!("reading wrapped data key {}", record.key_id),
                        Some(e),
                    )
                })?;
            let new = service.rewrap(&wrapped, &scope).map_err(|e| {
                Error::encryption(format!("re-wrapping data key {}", record.key_id), Some(e))
            })?;
            tx.rewrap_data_key(&record.key_id, new.key_id(), &new.to_bytes())?;
            payload_keys.forget(&record.key_id);
            receipt.rewrapped += 1;
        }
        if let Some(hex_text) = tx.meta(SUBJECT_KEY_SETTING)? {
            let bytes = hex::decode(hex_text.trim()).map_err(|_| Error::NotALedger {
                reason: "the stored subject-hash key is not hex".to_owned(),
            })?;
            let wrapped = spanforge_crypto::WrappedDek::from_bytes(&bytes)
                .map_err(|e| Error::encryption("reading the stored subject-hash key", Some(e)))?;
            if wrapped.key_id() != kek {
                let scope = spanforge_crypto::EncryptionContext::for_scope(
                    &format!("ledger/{ledger_id}"),
                    crate::encryption::SUBJECT_KEY_PURPOSE,
                )
                .map_err(|e| Error::encryption("building the subject-hash key scope", Some(e)))?;
                let new = service
                    .rewrap(&wrapped, &scope)
                    .map_err(|e| Error::encryption("re-wrapping the subject-hash key", Some(e)))?;
                tx.set_meta(SUBJECT_KEY_SETTING, &hex::encode(new.to_bytes()))?;
                receipt.rewrapped += 1;
            } else {
                receipt.already_current += 1;
            }
        }
        tx.commit()?;
        // The old wrapped bytes were overwritten in place (secure_delete); cut the WAL copies.
        self.backend.scrub()?;
        Ok(receipt)
    }

    /// The key-encryption keys the stored data keys (and the subject-hash key) are wrapped
    /// under, with how many keys each wraps: a KEK not listed can be retired.
    pub fn keks_in_use(&self) -> Result<BTreeMap<String, u64>> {
        let read = self.backend.read()?;
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        for record in read.data_keys(None)? {
            *out.entry(record.kek).or_default() += 1;
        }
        if let Some(hex_text) = read.meta(SUBJECT_KEY_SETTING)? {
            let bytes = hex::decode(hex_text.trim()).map_err(|_| Error::NotALedger {
                reason: "the stored subject-hash key is not hex".to_owned(),
            })?;
            let wrapped = spanforge_crypto::WrappedDek::from_bytes(&bytes)
                .map_err(|e| Error::encryption("reading the stored subject-hash key", Some(e)))?;
            *out.entry(wrapped.key_id().to_owned()).or_default() += 1;
        }
        Ok(out)
    }

    /// The rotation events of a tenant, from the type index.
    pub fn rotations(&self, tenant: &TenantId) -> Result<Vec<StoredEvent>> {
        let read = self.backend.read()?;
        let Some(state) = read.tenant(tenant)? else {
            return Ok(Vec::new());
        };
        read.rotation_records(state.key)?
            .into_iter()
            .map(|r| StoredEvent::from_record(tenant, r))
            .collect()
    }
}

/// What [`Ledger::erase_subject`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReceipt {
    /// The subject's keyed hash, as recorded in the erasure events.
    pub subject_hash: String,
    /// How many data keys were destroyed.
    pub destroyed_keys: u64,
    /// One erasure record per tenant that held the subject's data.
    pub erasures: Vec<ErasureRecord>,
}

/// One tenant's part of an erasure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErasureRecord {
    /// The tenant.
    pub tenant: TenantId,
    /// The erasure event appended to its chain.
    pub erasure_event_id: String,
    /// The data keys destroyed.
    pub data_key_ids: Vec<String>,
}

/// What [`Ledger::rewrap_data_keys`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RewrapReceipt {
    /// The key-encryption key everything is now wrapped under.
    pub kek: String,
    /// Keys re-wrapped (data keys and the subject-hash key).
    pub rewrapped: u64,
    /// Keys that were already wrapped under it.
    pub already_current: u64,
}

fn tenant_of_states(states: &[TenantState], key: TenantKey) -> Result<TenantId> {
    states
        .iter()
        .find(|s| s.key == key)
        .map(|s| s.id.clone())
        .ok_or_else(|| Error::NotALedger {
            reason: format!(
                "a data key names tenant handle {}, which does not exist",
                key.0
            ),
        })
}

/// Where ingest takes its events from, a chunk at a time.
trait Chunks {
    /// Up to `want` events in input order (fewer only at the end); the first bad one is the error.
    fn next_chunk(&mut self, want: usize) -> Result<Chunk>;
}

/// Input lines, parsed a chunk at a time (in parallel).
struct LineChunks<I>(I);

impl<I: Iterator<Item = Result<InputLine>>> Chunks for LineChunks<I> {
    fn next_chunk(&mut self, want: usize) -> Result<Chunk> {
        let mut lines = Vec::with_capacity(want);
        for item in self.0.by_ref().take(want) {
            // A read error is returned as is.
            lines.push(item?);
        }
        parse_chunk(lines)
    }
}

/// Parsed events of [`Ledger::append_batch`], numbered from 1 as `batch:<n>`.
struct EventChunks {
    source: std::sync::Arc<str>,
    position: u64,
    events: std::vec::IntoIter<Event>,
}

impl Chunks for EventChunks {
    fn next_chunk(&mut self, want: usize) -> Result<Chunk> {
        let events: Vec<Event> = self.events.by_ref().take(want).collect();
        let first = self.position + 1;
        self.position += events.len() as u64;
        let locations = (first..=self.position)
            .map(|n| crate::Location::new(self.source.clone(), n))
            .collect();
        Ok(Chunk { locations, events })
    }
}

fn merge_heads(into: &mut Vec<crate::ingest::TenantHead>, heads: Vec<crate::ingest::TenantHead>) {
    for head in heads {
        match into.iter_mut().find(|h| h.tenant == head.tenant) {
            Some(existing) => *existing = head,
            None => into.push(head),
        }
    }
}

/// The state of the tenant a record belongs to.
fn tenant_of<R: Reader + ?Sized>(read: &R, key: TenantKey) -> Result<TenantState> {
    read.tenants()?
        .into_iter()
        .find(|s| s.key == key)
        .ok_or_else(|| Error::NotALedger {
            reason: format!(
                "an event names tenant handle {} which does not exist",
                key.0
            ),
        })
}

/// Opens a signed checkpoint note with any of `verifiers`.
pub(crate) fn open_checkpoint(note: &[u8], verifiers: &[NoteVerifier]) -> Result<SignedCheckpoint> {
    if verifiers.is_empty() {
        return Err(Error::NoCheckpointKey("verification"));
    }
    let verified = Note::open(note, verifiers)
        .map_err(|e| Error::chain("verifying a checkpoint signature", e))?;
    let text = verified.text().to_owned();
    Checkpoint::parse(&text).map_err(|e| Error::chain("reading a checkpoint", e))?;
    SignedCheckpoint::parse_unverified(note).map_err(|e| Error::chain("reading a checkpoint", e))
}

/// The lines of an export; see [`Ledger::export`].
#[derive(Debug)]
pub struct Export<'a, B: Backend> {
    ledger: &'a Ledger<B>,
    tenant: TenantId,
    key: Option<TenantKey>,
    next_seq: u64,
    end_seq: u64,
    from: Option<i64>,
    to: Option<i64>,
    buffer: std::vec::IntoIter<Result<StoredEvent>>,
    done: bool,
    /// Lines yielded whose payload was stored encrypted and is decrypted in them.
    decrypted: u64,
}

impl<B: Backend> Export<'_, B> {
    /// Whether the export is limited in time, so it is not a whole chain.
    pub fn is_partial(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// What a reader of a partial export should know, or `None` for a whole chain.
    pub fn notice(&self) -> Option<String> {
        self.is_partial().then(|| {
            format!(
                "this export of tenant {} is limited in time, so it starts mid-chain: the reference's verify_chain \
                 reports its first event (and any event after a skipped one) as a gap; export without dates for a \
                 chain that verifies whole",
                self.tenant
            )
        })
    }

    /// How many events the tenant's chain held when the export started.
    pub fn chain_size(&self) -> u64 {
        self.end_seq
    }

    /// How many of the lines yielded so far hold a payload that is stored encrypted, decrypted
    /// for the export. A checkpoint covers such events in their stored form, so an export that
    /// holds any cannot be checked against one (see [`crate::export_check`]).
    pub fn decrypted(&self) -> u64 {
        self.decrypted
    }
}

impl<B: Backend> Iterator for Export<'_, B> {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.buffer.next() {
                return Some(event.map(|e| {
                    if e.payload == PayloadState::Decrypted {
                        self.decrypted += 1;
                    }
                    e.envelope
                }));
            }
            if self.done {
                return None;
            }
            let Some(key) = self.key else {
                self.done = true;
                return None;
            };
            let page = self.ledger.backend.read().and_then(|r| {
                let rows =
                    r.records_in_time(key, self.next_seq, self.end_seq, self.from, self.to, PAGE)?;
                let last = rows.last().map(|l| l.seq);
                let full = rows.len() == PAGE;
                Ok((self.ledger.open_page(&r, &self.tenant, rows), last, full))
            });
            match page {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok((events, last, full)) => {
                    match last {
                        Some(last) if full => self.next_seq = last + 1,
                        _ => self.done = true,
                    }
                    self.buffer = events.into_iter();
                }
            }
        }
    }
}

/// The results of [`Ledger::query`].
#[derive(Debug)]
pub struct QueryIter<'a, B: Backend> {
    ledger: &'a Ledger<B>,
    tenant: TenantId,
    filter: Option<RecordFilter>,
    after: Option<(i64, u64)>,
    buffer: std::vec::IntoIter<Result<StoredEvent>>,
    done: bool,
}

/// The events of a query, read a page at a time into an [`EventPage`]; see
/// [`Ledger::query_pages`].
pub struct QueryPages<'a, B: Backend> {
    ledger: &'a Ledger<B>,
    tenant: TenantId,
    filter: Option<RecordFilter>,
    after: Option<(i64, u64)>,
    done: bool,
    /// The rows of the last read as stored, before their payloads are opened; reused.
    rows: RecordPage,
}

impl<B: Backend> QueryPages<'_, B> {
    /// The most events one [`QueryPages::next_into`] appends.
    pub const READ_ROWS: usize = PAGE;

    /// Starts over with `query`, keeping the buffers: a reader that runs many queries one after
    /// another needs only one of these.
    pub fn restart(&mut self, query: &Query) -> Result<()> {
        let state = self.ledger.backend.read()?.tenant(&query.tenant)?;
        self.tenant.clone_from(&query.tenant);
        self.filter = state.map(|s| query.filter(s.key));
        self.after = None;
        self.done = false;
        Ok(())
    }

    /// Appends the next events (at most [`Self::READ_ROWS`]) to `page`, their payloads opened as
    /// [`Ledger::query`] opens them; returns how many, 0 once the query has no more. On an
    /// error the page is left as it was.
    pub fn next_into(&mut self, page: &mut EventPage) -> Result<usize> {
        if self.done {
            return Ok(0);
        }
        let mark = page.mark();
        let read = self.fill(page);
        match read {
            Ok(Some(last)) if self.rows.len() == PAGE => self.after = Some(last),
            Ok(_) => self.done = true,
            Err(_) => page.rewind(mark),
        }
        read.map(|_| self.rows.len())
    }

    /// Reads up to a page of rows after `self.after` and appends them to `page`, opened;
    /// returns the position of the last row read (none when the tenant has no events).
    fn fill(&mut self, page: &mut EventPage) -> Result<Option<(i64, u64)>> {
        let (ledger, tenant, rows) = (self.ledger, &self.tenant, &mut self.rows);
        rows.clear();
        let Some(filter) = &self.filter else {
            return Ok(None);
        };
        let reader = ledger.backend.read()?;
        reader.query_page(filter, self.after, PAGE, rows)?;
        let keys = ledger.payload_keys.as_deref();
        for record in rows.iter() {
            let stored = std::str::from_utf8(record.envelope)
                .map_err(|_| envelope_not_text(tenant, record.seq))?;
            let (opened, payload) = open_record(keys, &reader, tenant, &record, stored)?;
            page.push(
                record.seq,
                record.ts_micros,
                [
                    record.event_id,
                    record.event_type,
                    opened.as_deref().unwrap_or(stored),
                ],
                payload,
            );
        }
        Ok(rows.last().map(|r| (r.ts_micros, r.seq)))
    }
}

/// Query results in reusable buffers, filled by [`QueryPages::next_into`]: event ids, event
/// types and envelopes of many events in one string. Holds the columns the evidence engine
/// reads; [`Ledger::query`] returns every column.
#[derive(Clone, Debug, Default)]
pub struct EventPage {
    text: String,
    rows: Vec<EventSpans>,
}

#[derive(Clone, Debug)]
struct EventSpans {
    seq: u64,
    ts_micros: i64,
    /// Into `text`: event id, event type, envelope.
    text: [std::ops::Range<usize>; 3],
    payload: PayloadState,
}

/// One event of an [`EventPage`], borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// Its position in the tenant's chain (and leaf index in the tenant's tree).
    pub seq: u64,
    /// The timestamp in microseconds since the epoch.
    pub ts_micros: i64,
    /// The event id.
    pub event_id: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// The canonical signed envelope, its payload opened as in [`StoredEvent::envelope`].
    pub envelope: &'a str,
    /// Whether the payload was stored in the clear, decrypted, or erased.
    pub payload: PayloadState,
}

impl EventPage {
    /// An empty page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every event, keeping the buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.rows.clear();
    }

    /// How many events the page holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the page holds no event.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The event at `index`.
    pub fn get(&self, index: usize) -> Option<EventRef<'_>> {
        let row = self.rows.get(index)?;
        // Every span was recorded when its text was pushed whole, so it lies on character
        // boundaries; `get` checks that again without panicking.
        let text = |i: usize| {
            row.text
                .get(i)
                .and_then(|r| self.text.get(r.clone()))
                .unwrap_or_default()
        };
        Some(EventRef {
            seq: row.seq,
            ts_micros: row.ts_micros,
            event_id: text(0),
            event_type: text(1),
            envelope: text(2),
            payload: row.payload,
        })
    }

    /// The events, in order.
    pub fn iter(&self) -> impl Iterator<Item = EventRef<'_>> + '_ {
        (0..self.rows.len()).filter_map(|i| self.get(i))
    }

    /// Each event's position in the tenant's chain and its timestamp in microseconds, in order:
    /// [`EventPage::iter`] without the text, for callers that need only these.
    pub fn positions(&self) -> impl Iterator<Item = (u64, i64)> + '_ {
        self.rows.iter().map(|r| (r.seq, r.ts_micros))
    }

    fn mark(&self) -> (usize, usize) {
        (self.text.len(), self.rows.len())
    }

    fn rewind(&mut self, (text, rows): (usize, usize)) {
        self.text.truncate(text);
        self.rows.truncate(rows);
    }

    fn push(&mut self, seq: u64, ts_micros: i64, texts: [&str; 3], payload: PayloadState) {
        let text = &mut self.text;
        let spans = texts.map(|s| {
            let start = text.len();
            text.push_str(s);
            start..text.len()
        });
        self.rows.push(EventSpans {
            seq,
            ts_micros,
            text: spans,
            payload,
        });
    }
}

impl<B: Backend> Iterator for QueryIter<'_, B> {
    type Item = Result<StoredEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.buffer.next() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            let Some(filter) = &self.filter else {
                self.done = true;
                return None;
            };
            let page = self.ledger.backend.read().and_then(|r| {
                let rows = r.query(filter, self.after, PAGE)?;
                let last = rows.last().map(|l| (l.ts_micros, l.seq));
                let full = rows.len() == PAGE;
                Ok((self.ledger.open_page(&r, &self.tenant, rows), last, full))
            });
            match page {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok((events, last, full)) => {
                    match last {
                        Some(last) if full => self.after = Some(last),
                        _ => self.done = true,
                    }
                    self.buffer = events.into_iter();
                }
            }
        }
    }
}
