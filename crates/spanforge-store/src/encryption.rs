//! Payload encryption at rest and crypto-shredding: the stored form of an encrypted payload,
//! the per-subject data keys, and the synchronous seam to a KMS.
//!
//! The format and the decisions behind it are in `docs/adr/003-encrypted-payloads.md`. In
//! short:
//!
//! * The compatible `checksum` and `signature` are computed over the **plaintext** payload,
//!   exactly as without encryption, so a decrypted export verifies with the reference SDK's
//!   `verify_chain`.
//! * The stored envelope carries the payload as an object
//!   `{"ciphertext":"<base64 AEV1>","data_key_id":"dk-…","encryption":"spanforge-aev1"}`, and
//!   that stored envelope is the Merkle leaf, so verifying the tree and the HMAC over
//!   `event_id|checksum|prev_id` needs no plaintext and no KMS.
//! * Every (tenant, `actor_id`, `session_id`, payload `subject_id`) scope has its own data key,
//!   wrapped by the KMS and kept in the `data_keys` table. The scope columns hold keyed
//!   subject hashes ([`spanforge_crypto::subject_hash`]) under a ledger subject-hash key that is
//!   itself wrapped by the KMS, so the table never holds a subject id.
//! * Erasing a subject destroys every data key whose actor, session or payload subject is that
//!   subject; their payloads become unreadable while every chain and tree still verifies.
//!
//! # The seam
//!
//! The store is synchronous and [`spanforge_crypto::Kms`] is async. The store never starts a
//! runtime: it asks a [`DataKeyService`] (for synchronous callers [`crate::BlockingKms`], which
//! drives any `Kms` on a small runtime of its own) for data keys when it meets a scope it has not unwrapped yet, and then seals
//! and opens envelopes synchronously with the unwrapped keys, in parallel.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use spanforge_crypto::envelope::{self, Envelope};
use spanforge_crypto::{
    DataKeyId, Dek, EncryptionContext, SubjectHashKey, WrappedDek, subject_hash,
};
use spanforge_event::json::Value;
use spanforge_event::{Checksum, Event};

use crate::backend::{DataKeyRecord, Reader, TenantKey, Writer};
use crate::error::{Error, Result};
use crate::page::RecordRef;
use crate::tenant::TenantId;

/// The `encryption` tag of a stored encrypted payload, and the value of the ledger's
/// `payload_encryption` setting.
pub const PAYLOAD_ENCRYPTION: &str = "spanforge-aev1";
/// The `meta` setting that records that a ledger encrypts payloads.
pub const ENCRYPTION_SETTING: &str = "payload_encryption";
/// The `meta` setting that holds the wrapped subject-hash key (hex of
/// [`WrappedDek::to_bytes`]).
pub const SUBJECT_KEY_SETTING: &str = "subject_hash_key";
/// The `purpose` of payload data-key scopes.
pub const PAYLOAD_PURPOSE: &str = "spanforge.payload/v1";
/// The `purpose` of the subject-hash key's scope.
pub const SUBJECT_KEY_PURPOSE: &str = "spanforge.subject-hash/v1";
/// The encryption-context entry that names the data key a scope belongs to.
pub const DATA_KEY_ENTRY: &str = "data_key";
/// The payload member that names a data subject besides `actor_id` and `session_id`: a
/// top-level string `subject_id` puts the payload in that subject's key scope too.
pub const SUBJECT_FIELD: &str = "subject_id";
/// The event type of the erasure record the ledger writes (an extension type: the registered
/// `llm.audit.tombstone` describes an event replaced in place, with an unsalted hash).
pub const ERASURE_EVENT_TYPE: &str = "io.spanforge.privacy.subject_erased";

/// Synchronous data-key operations: the seam between the synchronous store and an async KMS.
///
/// [`crate::BlockingKms`] implements it over any [`spanforge_crypto::Kms`] for synchronous
/// callers; an async caller implements it over its own runtime's handle. Implementations must
/// never put key material in errors or `Debug` output.
pub trait DataKeyService: Send + Sync + fmt::Debug {
    /// The key-encryption key new data keys are wrapped under (recorded with each data key).
    fn kek(&self) -> String;

    /// Generates a data key for `scope`, returning it with its wrapped form.
    fn generate(&self, scope: &EncryptionContext) -> spanforge_crypto::Result<(Dek, WrappedDek)>;

    /// Unwraps a data key made for `scope`.
    fn unwrap(
        &self,
        wrapped: &WrappedDek,
        scope: &EncryptionContext,
    ) -> spanforge_crypto::Result<Dek>;

    /// Re-wraps a data key under the current key-encryption key ([`DataKeyService::kek`])
    /// without changing the data key.
    fn rewrap(
        &self,
        wrapped: &WrappedDek,
        scope: &EncryptionContext,
    ) -> spanforge_crypto::Result<WrappedDek>;
}

/// A stored encrypted payload, read from an envelope's `payload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedPayload {
    /// The data key it was sealed with.
    pub data_key_id: String,
    /// The detached AEV1 envelope.
    pub ciphertext: Vec<u8>,
}

impl EncryptedPayload {
    /// Whether a payload has the shape of the stored form (exactly the members `ciphertext`,
    /// `data_key_id` and `encryption` = [`PAYLOAD_ENCRYPTION`]), well-formed or not. A payload
    /// with this shape that [`EncryptedPayload::from_payload`] rejects was damaged.
    pub fn has_stored_shape(payload: &Value) -> bool {
        payload.as_object().is_some_and(|map| {
            map.len() == 3
                && map.contains_key("ciphertext")
                && map.contains_key("data_key_id")
                && map.get("encryption").and_then(Value::as_str) == Some(PAYLOAD_ENCRYPTION)
        })
    }

    /// Reads the stored form from a payload, or `None` when the payload is not one.
    pub fn from_payload(payload: &Value) -> Option<Self> {
        let map = payload.as_object()?;
        if map.len() != 3 {
            return None;
        }
        if map.get("encryption")?.as_str()? != PAYLOAD_ENCRYPTION {
            return None;
        }
        let data_key_id = map.get("data_key_id")?.as_str()?.to_owned();
        let ciphertext = BASE64.decode(map.get("ciphertext")?.as_str()?).ok()?;
        Some(Self {
            data_key_id,
            ciphertext,
        })
    }

    /// The length of [`EncryptedPayload::write_canonical`]'s output for an AEV1 envelope of
    /// `ciphertext_len` bytes.
    pub fn canonical_len(data_key_id: &DataKeyId, ciphertext_len: usize) -> usize {
        let id = data_key_id.as_str();
        let escapes = id.bytes().filter(|&b| b == b'"' || b == b'\\').count();
        let b64 = base64::encoded_len(ciphertext_len, true).unwrap_or(0);
        r#"{"ciphertext":""#.len()
            + b64
            + r#"","data_key_id":""#.len()
            + id.len()
            + escapes
            + r#"","encryption":""#.len()
            + PAYLOAD_ENCRYPTION.len()
            + r#""}"#.len()
    }

    /// Writes the stored form as canonical JSON (keys sorted, no spaces). Base64 needs no
    /// escaping; a data key id is printable ASCII ([`DataKeyId`]), of which only `"` and `\`
    /// are escaped, as the reference's `json.dumps` does.
    pub fn write_canonical(data_key_id: &DataKeyId, ciphertext: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"ciphertext\":\"");
        let start = out.len();
        out.resize(
            start + base64::encoded_len(ciphertext.len(), true).unwrap_or(0),
            0,
        );
        let written = BASE64
            .encode_slice(ciphertext, &mut out[start..])
            .unwrap_or(0);
        out.truncate(start + written);
        out.extend_from_slice(b"\",\"data_key_id\":\"");
        for &b in data_key_id.as_str().as_bytes() {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.extend_from_slice(b"\",\"encryption\":\"");
        out.extend_from_slice(PAYLOAD_ENCRYPTION.as_bytes());
        out.extend_from_slice(b"\"}");
    }
}

/// The data-key scope of `key_id` in `tenant`: what the KMS binds the wrapped key to.
pub fn data_key_scope(tenant: &TenantId, key_id: &str) -> Result<EncryptionContext> {
    EncryptionContext::for_scope(&tenant.origin_path(), PAYLOAD_PURPOSE)
        .and_then(|c| c.with(DATA_KEY_ENTRY, key_id))
        .map_err(|e| Error::encryption(format!("building the scope of data key {key_id}"), Some(e)))
}

/// The message context of one event's payload: its data-key scope plus the event id.
fn message_context(scope: &EncryptionContext, event_id: &str) -> Result<EncryptionContext> {
    scope.with_event(event_id).map_err(|e| {
        Error::encryption(format!("building the context of event {event_id}"), Some(e))
    })
}

/// An unwrapped data key ready to seal payloads of one scope.
pub(crate) struct ScopeKey {
    id: DataKeyId,
    dek: Dek,
    scope: EncryptionContext,
}

impl fmt::Debug for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// A sealing thread's buffer for the AEV1 bytes of one payload, reused from event to event.
    static SEALED_PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Scratch buffers above this size are not kept between events, so a rare large event does not
/// pin its memory on every sealing thread.
pub(crate) const SCRATCH_KEEP: usize = 64 * 1024;

impl ScopeKey {
    /// The stored envelope of an event: `signed` (its signed envelope) with the bytes at
    /// `payload_span` (its payload, whose canonical bytes are `plaintext`) replaced by the stored
    /// encrypted form, sealed for event `event_id`. The AEV1 bytes go through a per-thread
    /// buffer, and the result is allocated once at its exact size.
    pub(crate) fn seal_envelope(
        &self,
        event_id: &str,
        plaintext: &[u8],
        signed: &[u8],
        payload_span: Range<usize>,
    ) -> std::result::Result<Vec<u8>, String> {
        let (Some(head), Some(tail)) = (
            signed.get(..payload_span.start),
            signed.get(payload_span.end..),
        ) else {
            return Err("the signed envelope has no payload where expected".to_owned());
        };
        SEALED_PAYLOAD.with(|cell| {
            let mut blob = cell.borrow_mut();
            blob.clear();
            envelope::seal_event_into(
                &self.dek,
                &self.id,
                &self.scope,
                event_id,
                plaintext,
                &mut blob,
            )
            .map_err(|e| format!("cannot encrypt the payload: {e}"))?;
            let len =
                head.len() + EncryptedPayload::canonical_len(&self.id, blob.len()) + tail.len();
            let mut stored = Vec::with_capacity(len);
            stored.extend_from_slice(head);
            EncryptedPayload::write_canonical(&self.id, &blob, &mut stored);
            stored.extend_from_slice(tail);
            debug_assert_eq!(stored.len(), len);
            if blob.capacity() > SCRATCH_KEEP {
                *blob = Vec::new();
            }
            Ok(stored)
        })
    }
}

/// The scope of one event as it arrives: tenant and its subject ids (in memory only; what is
/// stored are their keyed hashes).
#[derive(Debug, Clone)]
struct ScopeId {
    tenant: TenantKey,
    actor: Option<Box<str>>,
    session: Option<Box<str>>,
    subject: Option<Box<str>>,
}

/// A scope borrowed from an event: what the scope maps are probed with, so that a scope already
/// met (every event but the first of each scope) costs no allocation on the writing thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ScopeRef<'a> {
    tenant: TenantKey,
    actor: Option<&'a str>,
    session: Option<&'a str>,
    subject: Option<&'a str>,
}

impl<'a> ScopeRef<'a> {
    fn of(tenant: TenantKey, event: &'a Event) -> Self {
        Self {
            tenant,
            actor: event.actor_id(),
            session: event.session_id(),
            subject: payload_subject(event),
        }
    }

    fn to_owned_id(self) -> ScopeId {
        ScopeId {
            tenant: self.tenant,
            actor: self.actor.map(Box::from),
            session: self.session.map(Box::from),
            subject: self.subject.map(Box::from),
        }
    }
}

/// What owned and borrowed scopes have in common, so a map keyed by [`ScopeId`] can be probed
/// with a [`ScopeRef`] (the standard map only looks up through [`Borrow`]).
trait AsScopeRef {
    fn scope_ref(&self) -> ScopeRef<'_>;
}

impl AsScopeRef for ScopeId {
    fn scope_ref(&self) -> ScopeRef<'_> {
        ScopeRef {
            tenant: self.tenant,
            actor: self.actor.as_deref(),
            session: self.session.as_deref(),
            subject: self.subject.as_deref(),
        }
    }
}

impl AsScopeRef for ScopeRef<'_> {
    fn scope_ref(&self) -> ScopeRef<'_> {
        *self
    }
}

impl<'a> Borrow<dyn AsScopeRef + 'a> for ScopeId {
    fn borrow(&self) -> &(dyn AsScopeRef + 'a) {
        self
    }
}

// Owned and borrowed scopes hash and compare through the same `ScopeRef`, as `Borrow` requires.
impl Hash for dyn AsScopeRef + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.scope_ref().hash(state);
    }
}

impl PartialEq for dyn AsScopeRef + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.scope_ref() == other.scope_ref()
    }
}

impl Eq for dyn AsScopeRef + '_ {}

impl Hash for ScopeId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.scope_ref().hash(state);
    }
}

impl PartialEq for ScopeId {
    fn eq(&self, other: &Self) -> bool {
        self.scope_ref() == other.scope_ref()
    }
}

impl Eq for ScopeId {}

/// The `meta` setting bumped by every erasure, so cached scope-to-key mappings (which an
/// erasure in another process may have invalidated) are dropped.
pub const ERASURE_GENERATION_SETTING: &str = "erasure_generation";

/// The payload's subject, per the documented rule ([`SUBJECT_FIELD`]).
pub fn payload_subject(event: &Event) -> Option<&str> {
    event
        .payload_field(SUBJECT_FIELD)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Whether an event's payload is encrypted at rest. The ledger's own key-rotation and erasure
/// records stay readable (they hold key ids and hashes, no personal data) so verification can
/// use them without a KMS.
pub(crate) fn encrypts(event: &Event) -> bool {
    let t = event.event_type().as_str();
    t != spanforge_chain::compat::KEY_ROTATED_TYPE && t != ERASURE_EVENT_TYPE
}

/// A ledger's payload keys: the data-key service, the unwrapped subject-hash key and a cache
/// of unwrapped data keys by id.
pub(crate) struct PayloadKeys {
    /// Committed scope-to-key mappings, valid for the erasure generation they were read in.
    /// Copy-on-write: a transaction takes a cheap snapshot and publishes a new map only when it
    /// met scopes the snapshot lacked.
    scopes: Mutex<(Option<String>, Arc<ScopeMap>)>,
    service: Arc<dyn DataKeyService>,
    /// The unwrapped subject-hash key with the stored (wrapped, hex) form it came from, so a
    /// key from a rolled-back transaction is never used against another stored one.
    subject_key: Mutex<Option<(String, Arc<SubjectHashKey>)>>,
    deks: Mutex<HashMap<String, Arc<ScopeKey>>>,
}

impl fmt::Debug for PayloadKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadKeys")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// What reading a stored payload found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadState {
    /// Stored in the clear.
    Plain,
    /// Stored encrypted and decrypted for this read.
    Decrypted,
    /// Stored encrypted, and its data key was destroyed by an erasure: the envelope is returned
    /// as stored (ciphertext), which no one can decrypt any more.
    Erased,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps are only inserted into; a panic mid-insert leaves them usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PayloadKeys {
    pub(crate) fn new(service: Arc<dyn DataKeyService>) -> Self {
        Self {
            scopes: Mutex::new((None, Arc::new(HashMap::new()))),
            service,
            subject_key: Mutex::new(None),
            deks: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn service(&self) -> &Arc<dyn DataKeyService> {
        &self.service
    }

    fn subject_scope(ledger_id: &str) -> Result<EncryptionContext> {
        EncryptionContext::for_scope(&format!("ledger/{ledger_id}"), SUBJECT_KEY_PURPOSE)
            .map_err(|e| Error::encryption("building the subject-hash key scope", Some(e)))
    }

    /// The ledger's subject-hash key, unwrapped (and created inside `tx` when `create` is set
    /// and the ledger has none yet).
    pub(crate) fn subject_key<R: Reader + ?Sized>(
        &self,
        reader: &R,
        ledger_id: &str,
    ) -> Result<Option<Arc<SubjectHashKey>>> {
        let Some(hex_text) = reader.meta(SUBJECT_KEY_SETTING)? else {
            return Ok(None);
        };
        if let Some((stored, key)) = lock(&self.subject_key).as_ref()
            && *stored == hex_text
        {
            return Ok(Some(key.clone()));
        }
        let bytes = hex::decode(hex_text.trim()).map_err(|_| Error::NotALedger {
            reason: "the stored subject-hash key is not hex".to_owned(),
        })?;
        let wrapped = WrappedDek::from_bytes(&bytes)
            .map_err(|e| Error::encryption("reading the stored subject-hash key", Some(e)))?;
        let dek = self
            .service
            .unwrap(&wrapped, &Self::subject_scope(ledger_id)?)
            .map_err(|e| Error::encryption("unwrapping the ledger's subject-hash key", Some(e)))?;
        let key = Arc::new(
            SubjectHashKey::from_bytes(dek.expose_secret())
                .map_err(|e| Error::encryption("using the subject-hash key", Some(e)))?,
        );
        *lock(&self.subject_key) = Some((hex_text, key.clone()));
        Ok(Some(key))
    }

    /// Marks the ledger as encrypting (inside `tx`) and creates its subject-hash key if needed.
    pub(crate) fn enable<W: Writer + ?Sized>(&self, tx: &mut W, ledger_id: &str) -> Result<()> {
        if tx.meta(ENCRYPTION_SETTING)?.is_none() {
            tx.set_meta(ENCRYPTION_SETTING, PAYLOAD_ENCRYPTION)?;
        }
        if tx.meta(SUBJECT_KEY_SETTING)?.is_none() {
            let (dek, wrapped) = self
                .service
                .generate(&Self::subject_scope(ledger_id)?)
                .map_err(|e| {
                    Error::encryption("creating the ledger's subject-hash key", Some(e))
                })?;
            let hex_text = hex::encode(wrapped.to_bytes());
            tx.set_meta(SUBJECT_KEY_SETTING, &hex_text)?;
            let key = SubjectHashKey::from_bytes(dek.expose_secret())
                .map_err(|e| Error::encryption("using the subject-hash key", Some(e)))?;
            *lock(&self.subject_key) = Some((hex_text, Arc::new(key)));
        }
        Ok(())
    }

    /// The keyed hash of a subject id under this ledger's subject-hash key.
    pub(crate) fn hash_subject<R: Reader + ?Sized>(
        &self,
        reader: &R,
        ledger_id: &str,
        subject: &str,
    ) -> Result<String> {
        let key = self.subject_key(reader, ledger_id)?.ok_or_else(|| {
            Error::encryption(
                "the ledger has no subject-hash key (nothing was ever encrypted)",
                None,
            )
        })?;
        Ok(subject_hash(&key, subject))
    }

    /// The unwrapped key of a stored data key record.
    fn unwrap_record(&self, tenant: &TenantId, record: &DataKeyRecord) -> Result<Arc<ScopeKey>> {
        if let Some(k) = lock(&self.deks).get(&record.key_id) {
            return Ok(k.clone());
        }
        let id = DataKeyId::new(record.key_id.clone()).map_err(|e| {
            Error::encryption(
                format!("data key {} has an invalid id", record.key_id),
                Some(e),
            )
        })?;
        let wrapped = WrappedDek::from_bytes(&record.wrapped).map_err(|e| {
            Error::encryption(
                format!("reading wrapped data key {}", record.key_id),
                Some(e),
            )
        })?;
        let scope = data_key_scope(tenant, &record.key_id)?;
        let dek = self.service.unwrap(&wrapped, &scope).map_err(|e| {
            Error::encryption(format!("unwrapping data key {}", record.key_id), Some(e))
        })?;
        let key = Arc::new(ScopeKey { id, dek, scope });
        let mut deks = lock(&self.deks);
        // Bounded like the scope map: memory stays flat however many subjects a ledger holds.
        if deks.len() >= MAX_SHARED_SCOPES {
            deks.clear();
        }
        deks.insert(record.key_id.clone(), key.clone());
        Ok(key)
    }

    /// Forgets a cached data key (after it was destroyed or re-wrapped), and every cached
    /// scope mapping.
    pub(crate) fn forget(&self, key_id: &str) {
        lock(&self.deks).remove(key_id);
        lock(&self.scopes).1 = Arc::new(HashMap::new());
    }
}

/// Scopes resolved to their unwrapped data keys.
type ScopeMap = HashMap<ScopeId, Arc<ScopeKey>>;

/// How many scope-to-key mappings a ledger handle keeps between transactions.
const MAX_SHARED_SCOPES: usize = 1 << 16;

/// The data keys of one write transaction: scopes already resolved, by scope.
#[derive(Debug)]
pub(crate) struct PayloadSession {
    keys: Arc<PayloadKeys>,
    subject_key: Arc<SubjectHashKey>,
    /// The committed mappings when the transaction started.
    base: Arc<ScopeMap>,
    /// Scopes this transaction resolved that `base` lacks: shared once it commits.
    added: ScopeMap,
}

impl PayloadSession {
    /// Starts a session inside `tx`, enabling encryption on the ledger if needed.
    pub(crate) fn start<W: Writer + ?Sized>(
        keys: Arc<PayloadKeys>,
        tx: &mut W,
        ledger_id: &str,
    ) -> Result<Self> {
        keys.enable(tx, ledger_id)?;
        let subject_key = keys.subject_key(tx, ledger_id)?.ok_or_else(|| {
            Error::encryption("the ledger's subject-hash key was not created", None)
        })?;
        // Mappings cached by earlier transactions hold while no erasure happened since.
        let generation = tx.meta(ERASURE_GENERATION_SETTING)?;
        let base = {
            let mut shared = lock(&keys.scopes);
            if shared.0 != generation {
                *shared = (generation, Arc::new(HashMap::new()));
            }
            shared.1.clone()
        };
        Ok(Self {
            keys,
            subject_key,
            base,
            added: HashMap::new(),
        })
    }

    /// The data key for `event` in `tenant`, creating (and storing, inside `tx`) one for a new
    /// scope. A scope already met costs one or two hash-map lookups.
    pub(crate) fn key_for<W: Writer + ?Sized>(
        &mut self,
        tx: &mut W,
        tenant: TenantKey,
        tenant_id: &TenantId,
        event: &Event,
    ) -> Result<Arc<ScopeKey>> {
        let probe = ScopeRef::of(tenant, event);
        let found = {
            let probe: &dyn AsScopeRef = &probe;
            self.base.get(probe).or_else(|| self.added.get(probe))
        };
        if let Some(k) = found {
            return Ok(k.clone());
        }
        let scope_id = probe.to_owned_id();
        let hash = |s: Option<&str>| s.map(|s| subject_hash(&self.subject_key, s));
        let (actor, session, subject) = (
            hash(scope_id.actor.as_deref()),
            hash(scope_id.session.as_deref()),
            hash(scope_id.subject.as_deref()),
        );
        let key = match tx.data_key_for_scope(
            tenant,
            actor.as_deref(),
            session.as_deref(),
            subject.as_deref(),
        )? {
            Some(record) => self.keys.unwrap_record(tenant_id, &record)?,
            None => {
                let id = DataKeyId::random()
                    .map_err(|e| Error::encryption("naming a new data key", Some(e)))?;
                let scope = data_key_scope(tenant_id, id.as_str())?;
                let (dek, wrapped) = self.keys.service.generate(&scope).map_err(|e| {
                    Error::encryption(
                        format!("creating a data key for tenant {tenant_id}"),
                        Some(e),
                    )
                })?;
                tx.add_data_key(&DataKeyRecord {
                    key_id: id.as_str().to_owned(),
                    tenant,
                    actor_hash: actor,
                    session_hash: session,
                    subject_hash: subject,
                    kek: wrapped.key_id().to_owned(),
                    wrapped: wrapped.to_bytes(),
                })?;
                Arc::new(ScopeKey { id, dek, scope })
            }
        };
        self.added.insert(scope_id, key.clone());
        Ok(key)
    }

    /// Publishes the scopes this transaction resolved, once it has committed (a rolled-back
    /// transaction's new keys are never shared).
    pub(crate) fn committed(&mut self) {
        if self.added.is_empty() {
            return;
        }
        let mut shared = lock(&self.keys.scopes);
        // Another session may have published since our snapshot; extend the newest map. The
        // map is bounded: past MAX_SHARED_SCOPES it restarts from this transaction's scopes
        // (a miss costs one indexed lookup and, once per process and key, one KMS unwrap).
        let mut next = if shared.1.len() + self.added.len() > MAX_SHARED_SCOPES {
            HashMap::new()
        } else {
            (*shared.1).clone()
        };
        next.extend(self.added.drain());
        shared.1 = Arc::new(next);
        self.base = shared.1.clone();
    }
}

/// The data key ids an erasure record (an [`ERASURE_EVENT_TYPE`] event) lists, or `None` for any
/// other event.
pub fn erased_key_ids(event: &Event) -> Option<Vec<String>> {
    if event.event_type().as_str() != ERASURE_EVENT_TYPE {
        return None;
    }
    Some(
        event
            .payload_field("data_key_ids")?
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
    )
}

/// Whether `line` is the decrypted form of the encrypted envelope `stored`: both parse, the
/// stored payload is the encrypted form, `line` with its payload replaced by the stored payload
/// is `stored` byte for byte, and `line`'s payload hashes to the checksum both carry. This links
/// an exported plaintext event to its encrypted Merkle leaf without any key.
pub fn is_decryption_of(line: &[u8], stored: &[u8]) -> bool {
    let parse = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| Event::from_json_str(t).ok())
    };
    let (Some(plain), Some(sealed)) = (parse(line), parse(stored)) else {
        return false;
    };
    if EncryptedPayload::from_payload(sealed.payload()).is_none() {
        return false;
    }
    let mut plain_bytes = Vec::with_capacity(line.len());
    let span = plain.write_canonical_parts(&mut plain_bytes, None);
    if plain_bytes != line {
        return false;
    }
    let Some(payload) = plain_bytes.get(span.clone()) else {
        return false;
    };
    if plain.checksum() != Some(&Checksum::of_canonical(payload)) {
        return false;
    }
    let mut sealed_bytes = Vec::with_capacity(stored.len());
    let sealed_span = sealed.write_canonical_parts(&mut sealed_bytes, None);
    let (Some(stored_payload), Some(head), Some(tail)) = (
        sealed_bytes.get(sealed_span),
        plain_bytes.get(..span.start),
        plain_bytes.get(span.end..),
    ) else {
        return false;
    };
    let mut rebuilt = Vec::with_capacity(stored.len());
    rebuilt.extend_from_slice(head);
    rebuilt.extend_from_slice(stored_payload);
    rebuilt.extend_from_slice(tail);
    rebuilt == stored
}

/// Opens a stored record's payload, given the record and its envelope `text` (the record's
/// envelope bytes, already checked to be UTF-8). Returns the decrypted envelope to hand out, or
/// `None` when the stored one is handed out as it is (plaintext and erased payloads), and what
/// was found.
pub(crate) fn open_record<R: Reader + ?Sized>(
    keys: Option<&PayloadKeys>,
    reader: &R,
    tenant: &TenantId,
    record: &RecordRef<'_>,
    text: &str,
) -> Result<(Option<String>, PayloadState)> {
    // Cheap pre-check before a full parse: a plaintext payload never names our tag where the
    // stored form puts it.
    if !text.contains(PAYLOAD_ENCRYPTION) {
        return Ok((None, PayloadState::Plain));
    }
    let event = Event::from_json_str(text).map_err(|source| Error::Event {
        context: format!("parsing stored event {}", record.event_id),
        source,
    })?;
    let event_id = event.event_id().to_string();
    let Some(sealed) = EncryptedPayload::from_payload(event.payload()) else {
        if EncryptedPayload::has_stored_shape(event.payload()) {
            return Err(Error::Decryption {
                event_id,
                reason: "its encrypted payload is malformed (not base64 or not text)".to_owned(),
            });
        }
        return Ok((None, PayloadState::Plain));
    };
    let Some(data_key) = reader.data_key(&sealed.data_key_id)? else {
        let erased = reader
            .erased_keys(record.tenant)?
            .iter()
            .any(|k| k.key_id == sealed.data_key_id);
        if erased {
            return Ok((None, PayloadState::Erased));
        }
        return Err(Error::Decryption {
            event_id,
            reason: format!(
                "its data key {} is missing and no erasure records its destruction",
                sealed.data_key_id
            ),
        });
    };
    let keys = keys.ok_or_else(|| {
        Error::encryption(
            "the ledger's payloads are encrypted and no KMS is configured to decrypt them",
            None,
        )
    })?;
    if data_key.tenant != record.tenant {
        return Err(Error::Decryption {
            event_id,
            reason: format!("data key {} belongs to another tenant", sealed.data_key_id),
        });
    }
    let key = keys.unwrap_record(tenant, &data_key)?;
    let ctx = message_context(&key.scope, &event_id)?;
    let fail = |reason: String| Error::Decryption {
        event_id: event_id.clone(),
        reason,
    };
    let plaintext = Envelope::parse(&sealed.ciphertext)
        .and_then(|env| env.open(&key.dek, &ctx))
        .map_err(|e| fail(e.to_string()))?;
    let plaintext = zeroize::Zeroizing::new(plaintext);
    let checksum = Checksum::of_canonical(&plaintext);
    if event.checksum() != Some(&checksum) {
        return Err(fail(
            "the decrypted payload does not match the event's signed checksum".to_owned(),
        ));
    }
    // Put the plaintext where the stored form was; everything else stays byte for byte.
    let mut out = Vec::with_capacity(text.len() + plaintext.len());
    let span = event.write_canonical_parts(&mut out, None);
    out.splice(span, plaintext.iter().copied());
    // The model id index column comes from the payload, so only a reader that decrypts can
    // check it (verification checks every other column without the key).
    let out =
        String::from_utf8(out).map_err(|_| fail("the decrypted event is not UTF-8".to_owned()))?;
    let opened = Event::from_json_str(&out)
        .map_err(|_| fail("the decrypted event does not parse".to_owned()))?;
    if opened.model_id() != record.model_id {
        return Err(fail(
            "the model_id column differs from the decrypted payload".to_owned(),
        ));
    }
    Ok((Some(out), PayloadState::Decrypted))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn canonical_len_is_what_write_canonical_writes() {
        for id in ["dk-0123456789abcdef0123456789abcdef", "a\"b\\c"] {
            for n in [0, 1, 2, 3, 4, 100, 1000, 1001, 1002] {
                let id = DataKeyId::new(id).unwrap();
                let mut out = Vec::new();
                EncryptedPayload::write_canonical(&id, &vec![7; n], &mut out);
                assert_eq!(
                    EncryptedPayload::canonical_len(&id, n),
                    out.len(),
                    "{id:?} {n}"
                );
            }
        }
    }

    #[test]
    fn a_borrowed_scope_finds_the_owned_one() {
        let owned = ScopeId {
            tenant: TenantKey(3),
            actor: Some("user-1".into()),
            session: None,
            subject: Some("s".into()),
        };
        let mut map: HashMap<ScopeId, u8> = HashMap::new();
        map.insert(owned.clone(), 1);
        let probe = |actor, session, subject| ScopeRef {
            tenant: TenantKey(3),
            actor,
            session,
            subject,
        };
        let hit = probe(Some("user-1"), None, Some("s"));
        assert_eq!(map.get(&hit as &dyn AsScopeRef), Some(&1));
        assert_eq!(hit.to_owned_id(), owned);
        for miss in [
            probe(Some("user-1"), None, None),
            probe(Some("user-1"), Some("s"), None),
            probe(None, Some("user-1"), Some("s")),
            ScopeRef {
                tenant: TenantKey(4),
                ..hit
            },
        ] {
            assert_eq!(map.get(&miss as &dyn AsScopeRef), None, "{miss:?}");
        }
    }

    fn written(id: &str, ciphertext: &[u8]) -> String {
        let mut out = Vec::new();
        EncryptedPayload::write_canonical(&DataKeyId::new(id).unwrap(), ciphertext, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_stored_form_is_canonical_json_and_reads_back() {
        let text = written("dk-00ff", &[0, 1, 2, 250, 251, 252, 253]);
        assert_eq!(
            text,
            r#"{"ciphertext":"AAEC+vv8/Q==","data_key_id":"dk-00ff","encryption":"spanforge-aev1"}"#
        );
        let value = spanforge_event::json::parse(&text).unwrap();
        let mut canonical = Vec::new();
        spanforge_event::json::write_canonical(&value, &mut canonical);
        assert_eq!(canonical, text.as_bytes());
        let back = EncryptedPayload::from_payload(&value).unwrap();
        assert_eq!(back.data_key_id, "dk-00ff");
        assert_eq!(back.ciphertext, vec![0, 1, 2, 250, 251, 252, 253]);
    }

    #[test]
    fn quotes_in_a_key_id_are_escaped_canonically() {
        let text = written(r#"dk-"x\y"#, b"abc");
        let value = spanforge_event::json::parse(&text).unwrap();
        let mut canonical = Vec::new();
        spanforge_event::json::write_canonical(&value, &mut canonical);
        assert_eq!(canonical, text.as_bytes());
        assert_eq!(
            EncryptedPayload::from_payload(&value).unwrap().data_key_id,
            r#"dk-"x\y"#
        );
    }

    #[test]
    fn other_payloads_are_not_taken_for_the_stored_form() {
        for text in [
            r#"{"ciphertext":"AA==","data_key_id":"dk-1"}"#,
            r#"{"ciphertext":"AA==","data_key_id":"dk-1","encryption":"other"}"#,
            r#"{"ciphertext":"not base64!","data_key_id":"dk-1","encryption":"spanforge-aev1"}"#,
            r#"{"ciphertext":"AA==","data_key_id":"dk-1","encryption":"spanforge-aev1","x":1}"#,
            r#"{"ciphertext":1,"data_key_id":"dk-1","encryption":"spanforge-aev1"}"#,
        ] {
            let value = spanforge_event::json::parse(text).unwrap();
            assert!(EncryptedPayload::from_payload(&value).is_none(), "{text}");
        }
    }
}
