//! The spanforge-compatible HMAC chain: signing and verification byte-exact with spanforge 1.0.4.
//!
//! The reference SDK links events by id and signs `event_id | checksum | prev_id` with
//! HMAC-SHA256, the key being the UTF-8 bytes of a secret string, and the checksum being
//! `sha256:` over the canonical payload. That format is what Python users already have on disk,
//! so this module reproduces it exactly: a chain we export verifies with the reference's own
//! `verify_chain`, and a chain the reference wrote verifies here.
//!
//! What the format does **not** protect, and this module reports rather than hides: the
//! signature covers only the event id, the payload (through the checksum) and the predecessor
//! id ([`COMPAT_COVERED_FIELDS`]). A change to the timestamp, type, org, actor or tags still
//! verifies, and cutting events off the end of a chain is invisible. The native ledger closes
//! both holes with a Merkle tree over the whole envelope ([`crate::merkle`]) and signed
//! checkpoints ([`crate::checkpoint`]); the `spanforge-store` ledger seals events into both.
//!
//! Verification streams: [`ChainVerifier`] takes one event at a time and keeps only the
//! predecessor id and the current key, so a chain of any length verifies in constant memory.
//! Key rotation is followed offline: at each `llm.audit.key.rotated` event the verifier switches
//! to the key in its [`Keyring`] whose SHA-256 fingerprint equals the event's
//! `new_secret_hash`, so no `event id → key` map is needed from the user.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use spanforge_event::ids::digests_equal;
use spanforge_event::{Checksum, Event, EventId, Signature};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The envelope fields that the compatible signature actually covers.
pub const COMPAT_COVERED_FIELDS: &[&str] = &["event_id", "payload", "prev_id"];

/// The event type that marks a key rotation in a chain.
pub const KEY_ROTATED_TYPE: &str = "llm.audit.key.rotated";

/// The event type of a GDPR erasure tombstone.
pub const TOMBSTONE_TYPE: &str = "llm.audit.tombstone";

/// The shortest secret the native ledger accepts for signing, in bytes.
///
/// Compatible verification accepts shorter secrets (the reference SDK does) and reports a
/// warning instead.
pub const MIN_NATIVE_SECRET_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// An HMAC signing secret: the UTF-8 bytes of the secret string, as the reference uses them.
///
/// The bytes are zeroized on drop and never printed: `Debug` shows only that a secret is there.
#[derive(Clone)]
pub struct HmacSecret {
    bytes: Zeroizing<Vec<u8>>,
    /// The HMAC state keyed with `bytes` (the inner and outer pads already hashed), cloned for every
    /// signature instead of hashing the pads again. It is as secret as the key: it is zeroized on drop
    /// (the `zeroize` feature of `sha2`) and never printed.
    keyed: HmacSha256,
}

impl HmacSecret {
    /// Wraps a secret string, rejecting an empty or whitespace-only one as the reference does.
    pub fn new(secret: &str) -> Result<Self> {
        if secret.trim().is_empty() {
            return Err(Error::Key(
                "the signing secret is empty or only whitespace".to_owned(),
            ));
        }
        // HMAC accepts keys of every length, so this cannot fail.
        let keyed = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
            .expect("invariant: HMAC-SHA256 accepts keys of every length");
        Ok(Self {
            bytes: Zeroizing::new(secret.as_bytes().to_vec()),
            keyed,
        })
    }

    /// Like [`HmacSecret::new`], but also refuses secrets shorter than
    /// [`MIN_NATIVE_SECRET_BYTES`], for keys the native ledger signs with.
    pub fn new_native(secret: &str) -> Result<Self> {
        let key = Self::new(secret)?;
        if key.len() < MIN_NATIVE_SECRET_BYTES {
            return Err(Error::Key(format!(
                "the signing secret is {} bytes long; the ledger requires at least {MIN_NATIVE_SECRET_BYTES}",
                key.len()
            )));
        }
        Ok(key)
    }

    /// The secret's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the secret is empty (never true for a constructed secret).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether the secret is shorter than [`MIN_NATIVE_SECRET_BYTES`].
    pub fn is_weak(&self) -> bool {
        self.len() < MIN_NATIVE_SECRET_BYTES
    }

    /// The lowercase hex SHA-256 of the secret: what the reference writes as `new_secret_hash`
    /// in a rotation event, and how a [`Keyring`] finds the key a rotation switches to.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.bytes.as_slice()))
    }

    /// The compatible signature of `event_id | checksum | prev_id`.
    ///
    /// The message is assembled on the stack and MACed in one pass from the pre-keyed state, so a
    /// signature costs four SHA-256 compressions and no allocation.
    pub fn sign_parts(
        &self,
        event_id: &EventId,
        checksum: &Checksum,
        prev_id: Option<&EventId>,
    ) -> Signature {
        const ID: usize = spanforge_event::ulid::ULID_LEN;
        // `event_id|sha256:<64 hex>|prev_id`, every part of fixed length.
        let mut message = [0u8; ID + 1 + 7 + 64 + 1 + ID];
        message[..ID].copy_from_slice(event_id.as_bytes());
        message[ID] = b'|';
        message[ID + 1..ID + 8].copy_from_slice(b"sha256:");
        message[ID + 8..ID + 72].copy_from_slice(&checksum.hex_digits());
        message[ID + 72] = b'|';
        let len = match prev_id {
            Some(prev) => {
                message[ID + 73..].copy_from_slice(prev.as_bytes());
                message.len()
            }
            None => ID + 73,
        };
        let mut mac = self.keyed.clone();
        mac.update(&message[..len]);
        Signature::from_mac(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacSecret(<redacted>)")
    }
}

/// Signs `event` as the reference's `sign(event, secret, prev_event)` does: sets the checksum of
/// its payload, the predecessor id and the signature. Any integrity fields it carried are
/// replaced; callers must have verified them first if they came from outside.
pub fn sign(event: Event, secret: &HmacSecret, prev_id: Option<&EventId>) -> Event {
    let checksum = event.payload_checksum();
    let signature = secret.sign_parts(event.event_id(), &checksum, prev_id);
    event.with_integrity(checksum, signature, prev_id.copied())
}

/// What checking one event's integrity fields found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCheck {
    /// The checksum matches the payload and the signature matches under the key.
    Valid,
    /// The event has no checksum or no signature.
    Unsigned,
    /// The checksum does not match the payload.
    ChecksumMismatch,
    /// The checksum matches but the signature does not (wrong key or forged).
    SignatureMismatch,
}

/// Checks one event's checksum and signature under `secret`, comparing in constant time.
pub fn check_event(event: &Event, secret: &HmacSecret) -> EventCheck {
    let (Some(checksum), Some(signature)) = (event.checksum(), event.signature()) else {
        return EventCheck::Unsigned;
    };
    let actual = event.payload_checksum();
    if !digests_equal(actual.digest(), checksum.digest()) {
        return EventCheck::ChecksumMismatch;
    }
    let expected = secret.sign_parts(event.event_id(), checksum, event.prev_id());
    if digests_equal(expected.mac(), signature.mac()) {
        EventCheck::Valid
    } else {
        EventCheck::SignatureMismatch
    }
}

/// Checks only the signature of an event whose payload is withheld (stored encrypted and erased,
/// so it no longer hashes to its checksum): the HMAC over `event_id | checksum | prev_id` with the
/// checksum as recorded, compared in constant time. It shows the event's id, link and checksum are
/// authentic; it cannot show anything about the payload.
pub fn check_signature(event: &Event, secret: &HmacSecret) -> EventCheck {
    let (Some(checksum), Some(signature)) = (event.checksum(), event.signature()) else {
        return EventCheck::Unsigned;
    };
    let expected = secret.sign_parts(event.event_id(), checksum, event.prev_id());
    if digests_equal(expected.mac(), signature.mac()) {
        EventCheck::Valid
    } else {
        EventCheck::SignatureMismatch
    }
}

/// The secrets a verifier may use: an initial key, and every key a rotation may switch to.
///
/// `Debug` shows how many keys it holds and for which tenants, never the keys or their
/// fingerprints (a fingerprint of a weak key can be brute-forced).
#[derive(Default, Clone)]
pub struct Keyring {
    initial: Option<HmacSecret>,
    by_fingerprint: BTreeMap<String, HmacSecret>,
    per_tenant: BTreeMap<String, HmacSecret>,
}

impl Keyring {
    /// A keyring whose chains start under `initial`.
    pub fn new(initial: HmacSecret) -> Self {
        let mut ring = Self::default();
        ring.add(initial.clone());
        ring.initial = Some(initial);
        ring
    }

    /// Adds a key that a rotation event may name by its fingerprint.
    pub fn add(&mut self, secret: HmacSecret) {
        self.by_fingerprint.insert(secret.fingerprint(), secret);
    }

    /// Sets the key a tenant's (org's) chain starts under, overriding the initial key for
    /// events of that org.
    pub fn set_tenant_key(&mut self, tenant: &str, secret: HmacSecret) {
        self.add(secret.clone());
        self.per_tenant.insert(tenant.to_owned(), secret);
    }

    /// The key a chain of `tenant` starts under (`None` for the default tenant).
    pub fn starting_key(&self, tenant: Option<&str>) -> Option<&HmacSecret> {
        tenant
            .and_then(|t| self.per_tenant.get(t))
            .or(self.initial.as_ref())
    }

    /// The key whose fingerprint is `hex` (case-insensitive), if the keyring holds it.
    pub fn by_fingerprint(&self, hex: &str) -> Option<&HmacSecret> {
        self.by_fingerprint.get(&hex.to_ascii_lowercase())
    }

    /// The key under which the signature of `first` (a chain's first signed event) verifies,
    /// if the keyring holds one: how a verifier given several secrets finds where a chain starts
    /// without being told. Only the signature decides, so a first event whose payload is
    /// withheld (or damaged) still selects its key and is then judged on its own. Each candidate
    /// is checked in constant time.
    pub fn detect_starting_key(&self, first: &Event) -> Option<&HmacSecret> {
        self.by_fingerprint
            .values()
            .find(|k| check_signature(first, k) == EventCheck::Valid)
    }

    /// Whether the keyring holds any key.
    pub fn is_empty(&self) -> bool {
        self.by_fingerprint.is_empty()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.by_fingerprint.len())
            .field("has_initial", &self.initial.is_some())
            .field("tenants", &self.per_tenant.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// How many event ids a report lists per kind of failure; the counts are always exact.
pub const MAX_LISTED_IDS: usize = 1000;

/// The result of verifying a chain, with the reference's fields and more.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    /// True when no event is tampered, no link is broken and every needed key was found.
    pub valid: bool,
    /// How many events were checked.
    pub events: u64,
    /// The first event whose checksum or signature failed.
    pub first_tampered: Option<String>,
    /// How many events failed their checksum or signature.
    pub tampered_count: u64,
    /// Events whose checksum failed or whose signature failed (the first [`MAX_LISTED_IDS`]).
    pub tampered: Vec<TamperedEvent>,
    /// Events whose `prev_id` does not name the event before them (the first
    /// [`MAX_LISTED_IDS`]); a deletion, insertion or reordering shows up here.
    pub gaps: Vec<String>,
    /// How many link breaks were found.
    pub gap_count: u64,
    /// Tombstone events (GDPR erasures): valid, and reported so that they are not mistaken
    /// for tampering.
    pub tombstones: Vec<String>,
    /// How many tombstones the chain holds.
    pub tombstone_count: u64,
    /// Events pushed with [`ChainVerifier::push_withheld`] whose signature verified: their
    /// payload was withheld (crypto-shredded), so only their id, link and checksum are checked.
    pub withheld: Vec<String>,
    /// How many such events the chain holds.
    pub withheld_count: u64,
    /// Which envelope fields the signatures cover; anything else is not protected by the
    /// compatible chain.
    pub covered_fields: Vec<String>,
    /// Key rotations met along the chain.
    pub rotations: Vec<Rotation>,
    /// Things that do not fail the chain but that a reviewer should know.
    pub warnings: Vec<String>,
}

/// One event that failed its integrity check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TamperedEvent {
    /// The event's id.
    pub event_id: String,
    /// Why it failed: `checksum`, `signature` or `unsigned`.
    pub reason: &'static str,
}

/// A key rotation found in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The rotation event's id.
    pub event_id: String,
    /// Whether the keyring held the key the rotation switched to.
    pub key_found: bool,
}

/// The warning for a chain whose first events are signed with a secret shorter than
/// [`MIN_NATIVE_SECRET_BYTES`] (the secret itself, and its hash, are never shown: the hash of a
/// short secret gives it away to a brute-force search).
const WEAK_STARTING_KEY: &str = "the signing key is shorter than 32 bytes: the reference accepts it, the native ledger would refuse it";

/// Verifies a chain one event at a time, in constant memory.
///
/// Feed events in chain order with [`ChainVerifier::push`], then call
/// [`ChainVerifier::finish`].
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    keys: &'k Keyring,
    current: Option<HmacSecret>,
    prev: Option<EventId>,
    first: bool,
    report: ChainReport,
    missing_key: bool,
}

impl<'k> ChainVerifier<'k> {
    /// A verifier for a chain of `tenant` (the org id, or `None` for the default tenant)
    /// whose first event must have no predecessor.
    pub fn new(keys: &'k Keyring, tenant: Option<&str>) -> Self {
        let current = keys.starting_key(tenant).cloned();
        let mut warnings = Vec::new();
        if current.as_ref().is_some_and(HmacSecret::is_weak) {
            warnings.push(WEAK_STARTING_KEY.to_owned());
        }
        Self {
            keys,
            missing_key: current.is_none(),
            current,
            prev: None,
            first: true,
            report: ChainReport {
                valid: true,
                events: 0,
                first_tampered: None,
                tampered_count: 0,
                tampered: Vec::new(),
                gaps: Vec::new(),
                gap_count: 0,
                tombstones: Vec::new(),
                tombstone_count: 0,
                withheld: Vec::new(),
                withheld_count: 0,
                covered_fields: COMPAT_COVERED_FIELDS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                rotations: Vec::new(),
                warnings,
            },
        }
    }

    /// A verifier for a chain that continues after `prev`: its first event must name `prev`.
    pub fn continuing(keys: &'k Keyring, tenant: Option<&str>, prev: Option<EventId>) -> Self {
        let mut v = Self::new(keys, tenant);
        v.prev = prev;
        v.first = prev.is_none();
        v
    }

    /// Replaces the key the next event is checked under (a chain that resumes mid-way, where the
    /// caller already knows which key is current).
    pub fn set_current_key(&mut self, key: HmacSecret) {
        let warnings = &mut self.report.warnings;
        if key.is_weak() && !warnings.iter().any(|w| w == WEAK_STARTING_KEY) {
            warnings.push(WEAK_STARTING_KEY.to_owned());
        }
        self.missing_key = false;
        self.current = Some(key);
    }

    /// Checks the next event of the chain. Returns what the integrity check found.
    pub fn push(&mut self, event: &Event) -> EventCheck {
        let check = match &self.current {
            Some(key) => check_event(event, key),
            None => EventCheck::SignatureMismatch,
        };
        self.record(event, check, false)
    }

    /// Checks the next event of the chain, whose payload the caller knows to be withheld
    /// (crypto-shredded): only its signature is checked ([`check_signature`]), and a valid one
    /// is counted in [`ChainReport::withheld`] instead of passing as a verified event. The caller
    /// must establish that the withholding is legitimate (for SpanForge exports: an erasure
    /// record in the chain lists the event's data key) and otherwise call
    /// [`ChainVerifier::reject_withheld`].
    pub fn push_withheld(&mut self, event: &Event) -> EventCheck {
        let check = match &self.current {
            Some(key) => check_signature(event, key),
            None => EventCheck::SignatureMismatch,
        };
        self.record(event, check, true)
    }

    /// Turns an event counted as withheld into a tampered one (`reason` says why), for a
    /// withheld payload that nothing accounts for.
    pub fn reject_withheld(&mut self, event_id: &str, reason: &'static str) {
        let report = &mut self.report;
        let Some(pos) = report.withheld.iter().position(|w| w == event_id) else {
            return;
        };
        report.withheld.remove(pos);
        report.withheld_count = report.withheld_count.saturating_sub(1);
        report.tampered_count += 1;
        if report.first_tampered.is_none() {
            report.first_tampered = Some(event_id.to_owned());
        }
        if report.tampered.len() < MAX_LISTED_IDS {
            report.tampered.push(TamperedEvent {
                event_id: event_id.to_owned(),
                reason,
            });
        }
    }

    fn record(&mut self, event: &Event, check: EventCheck, withheld: bool) -> EventCheck {
        let id = *event.event_id();
        let report = &mut self.report;
        report.events += 1;
        if withheld && check == EventCheck::Valid {
            report.withheld_count += 1;
            // Listed in full, unlike the other lists: reject_withheld must find the id again.
            report.withheld.push(id.to_string());
        }
        if check != EventCheck::Valid {
            report.tampered_count += 1;
            if report.first_tampered.is_none() {
                report.first_tampered = Some(id.to_string());
            }
            if report.tampered.len() < MAX_LISTED_IDS {
                report.tampered.push(TamperedEvent {
                    event_id: id.to_string(),
                    reason: match check {
                        EventCheck::Unsigned => "unsigned",
                        EventCheck::ChecksumMismatch => "checksum",
                        _ if self.current.is_none() => "no key",
                        _ => "signature",
                    },
                });
            }
        }

        let linked = if self.first {
            event.prev_id().is_none()
        } else {
            event.prev_id() == self.prev.as_ref()
        };
        if !linked {
            report.gap_count += 1;
            if report.gaps.len() < MAX_LISTED_IDS {
                report.gaps.push(id.to_string());
            }
        }
        self.first = false;
        self.prev = Some(id);

        let kind = event.event_type().as_str();
        if kind == TOMBSTONE_TYPE {
            report.tombstone_count += 1;
            if report.tombstones.len() < MAX_LISTED_IDS {
                report.tombstones.push(id.to_string());
            }
        } else if kind == KEY_ROTATED_TYPE {
            // The rotation event itself is signed with the old key; the new key applies after it.
            let next = event
                .payload_field("new_secret_hash")
                .and_then(|v| v.as_str())
                .and_then(|h| self.keys.by_fingerprint(h))
                .cloned();
            let found = next.is_some();
            report.rotations.push(Rotation {
                event_id: id.to_string(),
                key_found: found,
            });
            if let Some(key) = next {
                if key.is_weak() {
                    report.warnings.push(format!(
                        "the key rotated to at {id} is shorter than {MIN_NATIVE_SECRET_BYTES} bytes"
                    ));
                }
                self.current = Some(key);
            } else {
                // Keep verifying under the current key: a chain that really switched keys
                // then shows every later event as tampered, while a rotation event that was
                // merely carried along (the reference itself switches only with a key_map)
                // verifies as the reference would.
                report.warnings.push(format!(
                    "rotation event {id} names a key the keyring does not hold; later events are checked under the current key"
                ));
            }
        }
        check
    }

    /// The id of the last event pushed.
    pub fn last_id(&self) -> Option<&EventId> {
        self.prev.as_ref()
    }

    /// Ends verification and returns the report.
    pub fn finish(mut self) -> ChainReport {
        let r = &mut self.report;
        r.valid = r.tampered_count == 0 && r.gap_count == 0;
        if self.missing_key && r.events > 0 {
            r.valid = false;
        }
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spanforge_event::json;

    const KEY_A: &str = "compat-test-key-a-0123456789abcdef0123456789";
    const KEY_B: &str = "compat-test-key-b-fedcba9876543210fedcba9876";

    fn event(n: u32, kind: &str, payload: &str) -> Event {
        // Distinct, valid ULIDs: a fixed time part and a counter in the random part.
        let id = format!("01KDZ5T8Q3M9V6W2X4Y7Z{n:05}");
        let line = format!(
            r#"{{"event_id":"{id}","event_type":"{kind}","payload":{payload},"schema_version":"2.0","source":"test@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}}"#
        );
        Event::from_json_str(&line).expect("test events are valid")
    }

    fn chain(n: u32, key: &HmacSecret) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|e| *e.event_id());
            let e = event(
                i,
                "llm.trace.span.completed",
                &format!(r#"{{"i":{i},"x":1.5e-7}}"#),
            );
            out.push(sign(e, key, prev.as_ref()));
        }
        out
    }

    fn verify(events: &[Event], ring: &Keyring) -> ChainReport {
        let mut v = ChainVerifier::new(ring, None);
        for e in events {
            v.push(e);
        }
        v.finish()
    }

    fn key(s: &str) -> HmacSecret {
        HmacSecret::new(s).expect("test key")
    }

    #[test]
    fn signed_chain_verifies_and_reports_covered_fields() {
        let k = key(KEY_A);
        let events = chain(20, &k);
        let report = verify(&events, &Keyring::new(k));
        assert!(report.valid, "{report:?}");
        assert_eq!(report.events, 20);
        assert_eq!(report.covered_fields, ["event_id", "payload", "prev_id"]);
    }

    #[test]
    fn edited_payload_is_reported_with_its_id() {
        let k = key(KEY_A);
        let mut events = chain(10, &k);
        let text = events[4]
            .to_canonical_json()
            .replace(r#""i":4"#, r#""i":44"#);
        events[4] = Event::from_json_str(&text).expect("still a valid event");
        let report = verify(&events, &Keyring::new(k));
        assert!(!report.valid);
        assert_eq!(
            report.first_tampered.as_deref(),
            Some(events[4].event_id().as_str())
        );
        assert_eq!(report.tampered[0].reason, "checksum");
        assert_eq!(report.tampered_count, 1);
        assert!(report.gaps.is_empty());
    }

    #[test]
    fn deleted_swapped_and_inserted_events_break_links() {
        let k = key(KEY_A);
        let events = chain(10, &k);
        let ring = Keyring::new(k.clone());

        let mut deleted = events.clone();
        deleted.remove(3);
        let r = verify(&deleted, &ring);
        assert_eq!(r.gaps, [events[4].event_id().to_string()]);
        assert!(!r.valid);

        let mut head_cut = events.clone();
        head_cut.remove(0);
        assert_eq!(
            verify(&head_cut, &ring).gaps,
            [events[1].event_id().to_string()]
        );

        let mut swapped = events.clone();
        swapped.swap(2, 3);
        let r = verify(&swapped, &ring);
        assert_eq!(r.gap_count, 3);
        assert_eq!(r.tampered_count, 0);

        // An inserted event signed with the right key but linked to its neighbour still breaks
        // the link of the event after it.
        let mut inserted = events.clone();
        let extra = sign(
            event(99, "decision.made", r#"{"x":true}"#),
            &k,
            Some(events[4].event_id()),
        );
        inserted.insert(5, extra);
        let r = verify(&inserted, &ring);
        assert_eq!(r.gaps, [events[5].event_id().to_string()]);
    }

    #[test]
    fn forged_signature_is_tampered() {
        let k = key(KEY_A);
        let mut events = chain(5, &k);
        let forged = sign(events[2].clone(), &key(KEY_B), Some(events[1].event_id()));
        events[2] = forged;
        let r = verify(&events, &Keyring::new(k));
        assert_eq!(
            r.first_tampered.as_deref(),
            Some(events[2].event_id().as_str())
        );
        assert_eq!(r.tampered[0].reason, "signature");
    }

    #[test]
    fn truncation_is_invisible_to_the_compatible_chain() {
        // This is the reference format's known hole; the Merkle checkpoint closes it.
        let k = key(KEY_A);
        let events = chain(10, &k);
        assert!(verify(&events[..7], &Keyring::new(k)).valid);
    }

    #[test]
    fn rotation_switches_to_the_key_named_by_its_fingerprint() {
        let a = key(KEY_A);
        let b = key(KEY_B);
        let mut events = chain(3, &a);
        let payload = format!(
            r#"{{"new_secret_hash":"{}","rotated_by":"ops","rotation_marker":"true"}}"#,
            b.fingerprint()
        );
        let rot = sign(
            event(50, KEY_ROTATED_TYPE, &payload),
            &a,
            Some(events[2].event_id()),
        );
        events.push(rot);
        for i in 51..55 {
            let prev = *events.last().expect("non-empty").event_id();
            events.push(sign(
                event(i, "decision.made", r#"{"ok":1}"#),
                &b,
                Some(&prev),
            ));
        }
        let mut ring = Keyring::new(a.clone());
        ring.add(b);
        let r = verify(&events, &ring);
        assert!(r.valid, "{r:?}");
        assert_eq!(r.rotations.len(), 1);
        assert!(r.rotations[0].key_found);

        // Without the new key the events after the rotation fail under the old one.
        let r = verify(&events, &Keyring::new(a));
        assert!(!r.valid);
        assert_eq!(r.tampered_count, 4);
        assert!(!r.rotations[0].key_found);
        assert!(
            r.warnings.iter().any(|w| w.contains("does not hold")),
            "{r:?}"
        );
    }

    #[test]
    fn the_starting_key_is_found_among_several() {
        let a = key(KEY_A);
        let b = key(KEY_B);
        let events = chain(3, &b);
        let mut ring = Keyring::default();
        ring.add(a);
        assert!(ring.detect_starting_key(&events[0]).is_none());
        ring.add(b.clone());
        let found = ring.detect_starting_key(&events[0]).expect("b signed it");
        assert_eq!(found.fingerprint(), b.fingerprint());
    }

    #[test]
    fn a_short_key_verifies_with_one_warning_however_it_is_found() {
        assert!(WEAK_STARTING_KEY.contains(&MIN_NATIVE_SECRET_BYTES.to_string()));
        let short = key("zq-7");
        let events = chain(3, &short);
        // The keyring's starting key.
        let r = verify(&events, &Keyring::new(short.clone()));
        assert!(r.valid, "{r:?}");
        assert_eq!(r.warnings, [WEAK_STARTING_KEY]);
        // A key detected from the first event, as the CLI does for a file.
        let mut ring = Keyring::default();
        ring.add(key(KEY_A));
        ring.add(short.clone());
        let mut v = ChainVerifier::new(&ring, None);
        v.set_current_key(ring.detect_starting_key(&events[0]).expect("found").clone());
        v.set_current_key(short);
        for e in &events {
            v.push(e);
        }
        let r = v.finish();
        assert!(r.valid, "{r:?}");
        assert_eq!(r.warnings, [WEAK_STARTING_KEY]);
        assert!(!r.warnings[0].contains("zq-7"));
    }

    #[test]
    fn unsigned_events_are_not_valid() {
        let k = key(KEY_A);
        let events = vec![event(1, "decision.made", r#"{"a":1}"#)];
        let r = verify(&events, &Keyring::new(k));
        assert_eq!(r.tampered[0].reason, "unsigned");
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert!(HmacSecret::new("  ").is_err());
        assert!(HmacSecret::new_native("short-key").is_err());
        assert!(HmacSecret::new_native(KEY_A).is_ok());
        let k = key(KEY_A);
        let shown = format!("{k:?} {:?}", Keyring::new(k.clone()));
        assert!(!shown.contains("compat-test"), "{shown}");
        assert!(!shown.contains(&k.fingerprint()), "{shown}");
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        let k = key(KEY_A);
        let e = event(7, "decision.made", r#"{"b":[1,2.0,null],"a":"é"}"#);
        let signed = sign(e, &k, None);
        let canonical = json::to_canonical_string(signed.payload());
        assert_eq!(canonical, r#"{"a":"é","b":[1,2.0,null]}"#);
        let checksum = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(
            signed.checksum().map(ToString::to_string),
            Some(checksum.clone())
        );
        let msg = format!("{}|{checksum}|", signed.event_id());
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(KEY_A.as_bytes()).expect("key");
        mac.update(msg.as_bytes());
        let want = format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signed.signature().map(ToString::to_string), Some(want));
    }

    #[test]
    fn a_withheld_payload_is_checked_by_signature_and_can_be_rejected() {
        let k = key(KEY_A);
        let events = chain(4, &k);
        // Event 2's payload replaced (as an erased, encrypted payload is exported): its checksum
        // no longer matches, but its signature over the recorded checksum still does.
        let stand_in = event(2, "llm.trace.span.completed", r#"{"withheld":true}"#);
        let e = &events[2];
        let withheld = stand_in.with_integrity(
            *e.checksum().unwrap(),
            *e.signature().unwrap(),
            e.prev_id().copied(),
        );
        assert_eq!(check_event(&withheld, &k), EventCheck::ChecksumMismatch);
        assert_eq!(check_signature(&withheld, &k), EventCheck::Valid);

        let ring = Keyring::new(k.clone());
        let run = |reject: bool| {
            let mut v = ChainVerifier::new(&ring, None);
            v.push(&events[0]);
            v.push(&events[1]);
            assert_eq!(v.push_withheld(&withheld), EventCheck::Valid);
            v.push(&events[3]);
            if reject {
                v.reject_withheld(withheld.event_id().as_str(), "no erasure record");
            }
            v.finish()
        };
        let ok = run(false);
        assert!(ok.valid, "{ok:?}");
        assert_eq!(ok.withheld_count, 1);
        assert_eq!(ok.tampered_count, 0);
        let rejected = run(true);
        assert!(!rejected.valid);
        assert_eq!(rejected.withheld_count, 0);
        assert_eq!(rejected.tampered[0].reason, "no erasure record");

        // A forged signature is not rescued by withholding.
        let forged = withheld
            .clone()
            .with_signature(*events[1].signature().unwrap());
        assert_eq!(check_signature(&forged, &k), EventCheck::SignatureMismatch);
        let mut v = ChainVerifier::new(&ring, None);
        v.push(&events[0]);
        v.push(&events[1]);
        v.push_withheld(&forged);
        let report = v.finish();
        assert!(!report.valid);
        assert_eq!(report.withheld_count, 0);
    }
}
