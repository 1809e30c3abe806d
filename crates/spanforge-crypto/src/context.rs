//! The encryption context: the non-secret key-value pairs every envelope and every wrapped data
//! key is bound to.
//!
//! One context type serves two purposes:
//!
//! * the **message context** is bound into an AEV1 envelope's authenticated header. It must hold
//!   [`TENANT`], [`EVENT`] and [`PURPOSE`], so a ciphertext copied to another tenant or another
//!   event fails to open;
//! * the **data-key scope** is the message context without [`EVENT`]. It is what a data key is
//!   wrapped under at the KMS (AWS `EncryptionContext`, the local keyring's AAD), and it is the
//!   cache key for data-key reuse. Dropping the per-event entry is what lets one data key serve
//!   many events of the same tenant (or subject) while each envelope stays bound to its event.
//!
//! Contexts are **not secret**: AWS records them in plaintext in CloudTrail, and AEV1 stores them
//! in the clear. Never put raw personal data in a context; use
//! [`subject_hash`](crate::subject_hash) for subject identifiers.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// Context key naming the tenant. Required in message contexts and data-key scopes.
pub const TENANT: &str = "tenant";
/// Context key naming the event (log index or event id). Required in message contexts and
/// forbidden in data-key scopes.
pub const EVENT: &str = "event";
/// Context key naming what the ciphertext is for, for example `ai-call/v1`. Required in
/// message contexts and data-key scopes.
pub const PURPOSE: &str = "purpose";

/// Longest accepted context key, in bytes.
pub const MAX_KEY_LEN: usize = 128;
/// Longest accepted context value, in bytes.
pub const MAX_VALUE_LEN: usize = 1024;
/// Largest accepted number of entries.
pub const MAX_ENTRIES: usize = 32;

/// A canonical, sorted map of non-secret strings that ciphertexts and wrapped keys are bound to.
///
/// Keys are 1 to [`MAX_KEY_LEN`] bytes of ASCII letters, digits and `. _ : -`; values are up to
/// [`MAX_VALUE_LEN`] bytes of UTF-8 without control characters; at most [`MAX_ENTRIES`] entries.
/// These limits are checked on every insertion, so a constructed context always encodes.
///
/// ```
/// use spanforge_crypto::EncryptionContext;
///
/// let ctx = EncryptionContext::for_event("acme", "01JABCDEF", "ai-call/v1")?
///     .with("region", "eu-west-1")?;
/// assert_eq!(ctx.tenant(), Some("acme"));
/// // The data-key scope is the same map without the event.
/// assert_eq!(ctx.dek_scope().get("event"), None);
/// # Ok::<(), spanforge_crypto::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct EncryptionContext {
    entries: BTreeMap<String, String>,
}

impl EncryptionContext {
    /// Creates an empty context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a message context with the three required entries.
    ///
    /// # Errors
    /// Returns [`Error::InvalidContext`] if a value is empty or breaks the value rules.
    pub fn for_event(tenant: &str, event: &str, purpose: &str) -> Result<Self> {
        let ctx = Self::new()
            .with(TENANT, tenant)?
            .with(EVENT, event)?
            .with(PURPOSE, purpose)?;
        ctx.validate_message()?;
        Ok(ctx)
    }

    /// Creates a data-key scope (a context without an event) for a tenant and purpose.
    ///
    /// # Errors
    /// Returns [`Error::InvalidContext`] if a value is empty or breaks the value rules.
    pub fn for_scope(tenant: &str, purpose: &str) -> Result<Self> {
        let ctx = Self::new().with(TENANT, tenant)?.with(PURPOSE, purpose)?;
        ctx.validate_scope()?;
        Ok(ctx)
    }

    /// Returns the context with one more entry (replacing any entry with the same key).
    ///
    /// # Errors
    /// Returns [`Error::InvalidContext`] if the key or value breaks the rules above or the
    /// context would exceed [`MAX_ENTRIES`].
    pub fn with(mut self, key: &str, value: &str) -> Result<Self> {
        self.insert(key, value)?;
        Ok(self)
    }

    /// Inserts or replaces one entry.
    ///
    /// # Errors
    /// Returns [`Error::InvalidContext`] if the key or value breaks the rules above or the
    /// context would exceed [`MAX_ENTRIES`].
    pub fn insert(&mut self, key: &str, value: &str) -> Result<()> {
        check_key(key)?;
        check_value(key, value)?;
        if !self.entries.contains_key(key) && self.entries.len() >= MAX_ENTRIES {
            return Err(Error::InvalidContext {
                key: key.to_owned(),
                reason: "too many entries (the limit is 32)",
            });
        }
        self.entries.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// Returns the value stored under `key`, if any.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Returns the [`TENANT`] entry.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.get(TENANT)
    }

    /// Returns the [`EVENT`] entry.
    #[must_use]
    pub fn event(&self) -> Option<&str> {
        self.get(EVENT)
    }

    /// Returns the [`PURPOSE`] entry.
    #[must_use]
    pub fn purpose(&self) -> Option<&str> {
        self.get(PURPOSE)
    }

    /// Iterates over the entries in canonical (byte-wise sorted key) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Returns the number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns true when the context has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns the data-key scope of a message context: every entry except [`EVENT`].
    #[must_use]
    pub fn dek_scope(&self) -> EncryptionContext {
        let mut entries = self.entries.clone();
        entries.remove(EVENT);
        EncryptionContext { entries }
    }

    /// Returns a message context made of this scope plus an [`EVENT`] entry.
    ///
    /// # Errors
    /// Returns [`Error::InvalidContext`] if `event` is empty or breaks the value rules.
    pub fn with_event(&self, event: &str) -> Result<EncryptionContext> {
        let ctx = self.clone().with(EVENT, event)?;
        ctx.validate_message()?;
        Ok(ctx)
    }

    /// Checks that this is a valid message context: [`TENANT`], [`EVENT`] and [`PURPOSE`] are
    /// present and non-empty.
    ///
    /// # Errors
    /// Returns [`Error::InvalidContext`] naming the first missing or empty required key.
    pub fn validate_message(&self) -> Result<()> {
        for key in [TENANT, EVENT, PURPOSE] {
            self.require(key)?;
        }
        Ok(())
    }

    /// Checks that this is a valid data-key scope: [`TENANT`] and [`PURPOSE`] are present and
    /// non-empty and [`EVENT`] is absent.
    ///
    /// # Errors
    /// Returns [`Error::InvalidContext`] naming the offending key.
    pub fn validate_scope(&self) -> Result<()> {
        for key in [TENANT, PURPOSE] {
            self.require(key)?;
        }
        if self.entries.contains_key(EVENT) {
            return Err(Error::InvalidContext {
                key: EVENT.to_owned(),
                reason: "a data-key scope must not name an event (one data key serves many events)",
            });
        }
        Ok(())
    }

    /// Compares with an expected context and names the first key whose presence or value
    /// differs, in canonical order.
    #[must_use]
    pub fn first_difference(&self, expected: &EncryptionContext) -> Option<String> {
        let mut keys: Vec<&String> = self.entries.keys().chain(expected.entries.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .find(|k| self.entries.get(*k) != expected.entries.get(*k))
            .cloned()
    }

    /// Returns the canonical binary encoding: `u16 count`, then for each entry in sorted order
    /// `u16 key length ‖ key ‖ u16 value length ‖ value`, all big-endian. This is the encoding
    /// AEV1 puts in its header and the local keyring uses as wrapping AAD.
    #[must_use]
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Checks what [`EncryptionContext::with_event`] would check, without building the context:
    /// `event` is a valid, non-empty value and this context plus `event` is a valid message
    /// context.
    pub(crate) fn check_with_event(&self, event: &str) -> Result<()> {
        check_value(EVENT, event)?;
        if event.is_empty() {
            return Err(Error::InvalidContext {
                key: EVENT.to_owned(),
                reason: "required entry is empty",
            });
        }
        if !self.entries.contains_key(EVENT) && self.entries.len() >= MAX_ENTRIES {
            return Err(Error::InvalidContext {
                key: EVENT.to_owned(),
                reason: "too many entries (the limit is 32)",
            });
        }
        for key in [TENANT, PURPOSE] {
            self.require(key)?;
        }
        Ok(())
    }

    /// Length of the encoding of `self.with_event(event)`, without building it.
    pub(crate) fn encoded_len_with_event(&self, event: &str) -> usize {
        let replaced = self
            .entries
            .get(EVENT)
            .map_or(0, |v| 4 + EVENT.len() + v.len());
        self.encoded_len() - replaced + 4 + EVENT.len() + event.len()
    }

    /// Writes the encoding of `self.with_event(event)` without building it: the entries in
    /// sorted order with the [`EVENT`] entry set to `event` in its place.
    pub(crate) fn encode_with_event_into(&self, event: &str, out: &mut Vec<u8>) {
        fn put(out: &mut Vec<u8>, k: &str, v: &str) {
            out.extend_from_slice(&u16_len(k.len()).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&u16_len(v.len()).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        let count = self.entries.len() + usize::from(!self.entries.contains_key(EVENT));
        out.extend_from_slice(&u16_len(count).to_be_bytes());
        let mut event_pending = true;
        for (k, v) in &self.entries {
            // Keys are ordered byte-wise, as `String`'s `Ord` (and so the map) orders them.
            if event_pending && k.as_str() >= EVENT {
                put(out, EVENT, event);
                event_pending = false;
            }
            if k != EVENT {
                put(out, k, v);
            }
        }
        if event_pending {
            put(out, EVENT, event);
        }
    }

    /// Length of [`EncryptionContext::canonical_bytes`] without building it.
    pub(crate) fn encoded_len(&self) -> usize {
        2 + self
            .entries
            .iter()
            .map(|(k, v)| 4 + k.len() + v.len())
            .sum::<usize>()
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        // The limits checked on insertion (32 entries, 128-byte keys, 1024-byte values) keep
        // every length below u16::MAX, so these conversions cannot saturate.
        out.extend_from_slice(&u16_len(self.entries.len()).to_be_bytes());
        for (k, v) in &self.entries {
            out.extend_from_slice(&u16_len(k.len()).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&u16_len(v.len()).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
    }

    /// True when [`EncryptionContext::canonical_bytes`] would equal `bytes`, checked without
    /// allocating (the hot path of opening an envelope).
    pub(crate) fn encodes_to(&self, bytes: &[u8]) -> bool {
        fn next<'b>(bytes: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
            if bytes.len() < n {
                return None;
            }
            let (head, tail) = bytes.split_at(n);
            *bytes = tail;
            Some(head)
        }
        fn field<'b>(bytes: &mut &'b [u8]) -> Option<&'b [u8]> {
            let len = next(bytes, 2)?;
            let len = usize::from(u16::from_be_bytes([*len.first()?, *len.get(1)?]));
            next(bytes, len)
        }
        if bytes.len() != self.encoded_len() {
            return false;
        }
        let mut rest = bytes;
        let count_matches =
            next(&mut rest, 2).is_some_and(|c| c == u16_len(self.entries.len()).to_be_bytes());
        count_matches
            && self.entries.iter().all(|(k, v)| {
                field(&mut rest) == Some(k.as_bytes()) && field(&mut rest) == Some(v.as_bytes())
            })
            && rest.is_empty()
    }

    /// Builds a context from already-parsed entries, enforcing strictly increasing key order so
    /// that every context has exactly one encoding.
    pub(crate) fn push_sorted(&mut self, key: &str, value: &str) -> Result<(), &'static str> {
        if let Some(reason) = key_problem(key).or_else(|| value_problem(value)) {
            return Err(reason);
        }
        if self.entries.len() >= MAX_ENTRIES {
            return Err("too many context entries");
        }
        if let Some((last, _)) = self.entries.last_key_value()
            && last.as_bytes() >= key.as_bytes()
        {
            return Err("context keys are not strictly sorted");
        }
        self.entries.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn require(&self, key: &str) -> Result<()> {
        match self.entries.get(key) {
            Some(v) if !v.is_empty() => Ok(()),
            Some(_) => Err(Error::InvalidContext {
                key: key.to_owned(),
                reason: "required entry is empty",
            }),
            None => Err(Error::InvalidContext {
                key: key.to_owned(),
                reason: "required entry is missing",
            }),
        }
    }
}

fn u16_len(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Why `key` is not an acceptable context key, if it is not.
pub(crate) fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("key is empty")
    } else if key.len() > MAX_KEY_LEN {
        Some("key is longer than 128 bytes")
    } else if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        Some("key may only hold ASCII letters, digits and . _ : -")
    } else {
        None
    }
}

/// Why `value` is not an acceptable context value, if it is not.
pub(crate) fn value_problem(value: &str) -> Option<&'static str> {
    if value.len() > MAX_VALUE_LEN {
        Some("value is longer than 1024 bytes")
    } else if value.chars().any(char::is_control) {
        Some("value contains control characters")
    } else {
        None
    }
}

fn check_key(key: &str) -> Result<()> {
    match key_problem(key) {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidContext {
            key: key.chars().take(MAX_KEY_LEN).collect(),
            reason,
        }),
    }
}

fn check_value(key: &str, value: &str) -> Result<()> {
    match value_problem(value) {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidContext {
            key: key.to_owned(),
            reason,
        }),
    }
}

impl fmt::Debug for EncryptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Contexts are non-secret by contract, so printing them in full is intended.
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

impl TryFrom<BTreeMap<String, String>> for EncryptionContext {
    type Error = Error;

    fn try_from(map: BTreeMap<String, String>) -> Result<Self> {
        let mut ctx = EncryptionContext::new();
        for (k, v) in &map {
            ctx.insert(k, v)?;
        }
        Ok(ctx)
    }
}

impl From<EncryptionContext> for BTreeMap<String, String> {
    fn from(ctx: EncryptionContext) -> Self {
        ctx.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_keys_are_enforced() {
        let err = EncryptionContext::new()
            .with(TENANT, "t")
            .and_then(|c| c.with(PURPOSE, "p"))
            .and_then(|c| c.validate_message())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidContext { ref key, .. } if key == EVENT));
        assert!(EncryptionContext::for_event("", "e", "p").is_err());
        assert!(EncryptionContext::for_event("t", "e", "p").is_ok());
    }

    #[test]
    fn scope_drops_event_and_rejects_it() {
        let ctx = EncryptionContext::for_event("t", "e", "p").unwrap();
        let scope = ctx.dek_scope();
        scope.validate_scope().unwrap();
        assert!(ctx.validate_scope().is_err());
        assert_eq!(scope.with_event("e").unwrap(), ctx);
    }

    #[test]
    fn key_and_value_rules() {
        let c = EncryptionContext::new();
        assert!(c.clone().with("", "v").is_err());
        assert!(c.clone().with("a b", "v").is_err());
        assert!(c.clone().with(&"k".repeat(129), "v").is_err());
        assert!(c.clone().with("k", &"v".repeat(1025)).is_err());
        assert!(c.clone().with("k", "line\nbreak").is_err());
        assert!(c.clone().with("k.x:y_z-1", "ünïcode ok").is_ok());
        let mut full = EncryptionContext::new();
        for i in 0..MAX_ENTRIES {
            full.insert(&format!("k{i:02}"), "v").unwrap();
        }
        assert!(full.insert("extra", "v").is_err());
        // Replacing an existing key is still allowed at the limit.
        full.insert("k00", "w").unwrap();
    }

    #[test]
    fn canonical_encoding_is_sorted_and_length_prefixed() {
        let ctx = EncryptionContext::new()
            .with("b", "2")
            .unwrap()
            .with("a", "1")
            .unwrap();
        assert_eq!(
            ctx.canonical_bytes(),
            [0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2']
        );
        assert_eq!(ctx.encoded_len(), ctx.canonical_bytes().len());
    }

    #[test]
    fn encodes_to_agrees_with_canonical_bytes() {
        let a = EncryptionContext::for_event("acme", "e-1", "p").unwrap();
        assert!(a.encodes_to(&a.canonical_bytes()));
        for other in [
            EncryptionContext::for_event("acmf", "e-1", "p").unwrap(),
            EncryptionContext::for_event("acme", "e-2", "p").unwrap(),
            a.clone().with("x", "").unwrap(),
            EncryptionContext::new(),
        ] {
            assert!(!a.encodes_to(&other.canonical_bytes()), "{other:?}");
        }
        let bytes = a.canonical_bytes();
        assert!(!a.encodes_to(&bytes[..bytes.len() - 1]));
    }

    #[test]
    fn encoding_with_an_event_equals_encoding_the_message_context() {
        let scope = EncryptionContext::for_scope("acme", "p").unwrap();
        let wide = scope
            .clone()
            .with("zz", "last")
            .unwrap()
            .with("a", "first")
            .unwrap();
        let replaced = EncryptionContext::for_event("acme", "old", "p").unwrap();
        for base in [&scope, &wide, &replaced] {
            for event in ["e-1", "01JABCDEF0123456789ABCDEFG"] {
                let full = base.with_event(event).unwrap();
                let mut bytes = vec![7u8];
                base.encode_with_event_into(event, &mut bytes);
                assert_eq!(
                    &bytes[1..],
                    full.canonical_bytes().as_slice(),
                    "{base:?} {event}"
                );
                assert_eq!(base.encoded_len_with_event(event), full.encoded_len());
                base.check_with_event(event).unwrap();
            }
            assert!(base.check_with_event("").is_err());
            assert!(base.check_with_event("a b").is_ok());
            assert!(base.check_with_event("a\u{7}b").is_err());
        }
        let no_tenant = EncryptionContext::new().with(PURPOSE, "p").unwrap();
        assert!(no_tenant.check_with_event("e").is_err());
        assert!(no_tenant.with_event("e").is_err());
    }

    #[test]
    fn first_difference_names_the_key() {
        let a = EncryptionContext::for_event("t1", "e", "p").unwrap();
        let b = EncryptionContext::for_event("t2", "e", "p").unwrap();
        assert_eq!(a.first_difference(&b).as_deref(), Some(TENANT));
        assert_eq!(a.first_difference(&a), None);
        let c = a.clone().with("extra", "x").unwrap();
        assert_eq!(a.first_difference(&c).as_deref(), Some("extra"));
    }

    #[test]
    fn push_sorted_rejects_disorder_and_duplicates() {
        let mut c = EncryptionContext::new();
        c.push_sorted("a", "1").unwrap();
        assert!(c.push_sorted("a", "2").is_err());
        c.push_sorted("b", "1").unwrap();
        assert!(c.push_sorted("a0", "1").is_err());
    }
}
