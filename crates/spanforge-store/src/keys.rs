//! Keys: the HMAC keys tenants' chains are signed with, the checkpoint (note) keys, and the
//! [`KeyProvider`] trait through which the ledger asks for them.
//!
//! The ledger never stores a secret. It records, per tenant, the id of every key its chain was
//! signed with and a *check value* (a domain-separated hash of the key's fingerprint) so that a
//! misconfigured key is caught before it signs anything. Key ids are either chosen by the
//! operator or derived from the secret the same way ([`KeyId::derive`]), so a key configured
//! only through an environment variable has a stable id across runs.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};
use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::{NoteSigner, NoteVerifier};
use spanforge_event::json::Str;

use crate::error::{Error, Result};
use crate::tenant::TenantId;

/// The environment variable that holds the key every tenant uses unless it has its own.
pub const SIGNING_KEY_ENV: &str = "SPANFORGE_SIGNING_KEY";

/// The prefix of per-org key variables, the reference's `EnvKeyResolver` convention.
pub const ORG_KEY_ENV_PREFIX: &str = "SPANFORGE_KEY_";

/// The longest key id accepted.
pub const MAX_KEY_ID_LEN: usize = 64;

/// The name of an HMAC key, recorded with every event it signs.
///
/// One to [`MAX_KEY_ID_LEN`] characters from `A-Z a-z 0-9 . _ : -`. Ids of up to 23 bytes (every
/// derived id, `hk-` and 16 hex digits, is 19) are held inline, so the copy each sealed event
/// carries costs no allocation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(Str);

impl KeyId {
    /// Checks and wraps a key id.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() {
            return Err(Error::InvalidKeyId {
                id,
                reason: "it is empty",
            });
        }
        if id.len() > MAX_KEY_ID_LEN {
            return Err(Error::InvalidKeyId {
                id,
                reason: "it is longer than 64 characters",
            });
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err(Error::InvalidKeyId {
                id,
                reason: "only A-Z a-z 0-9 . _ : - are allowed",
            });
        }
        Ok(KeyId(Str::new(&id)))
    }

    /// The id derived from a secret: `hk-` and 16 hex digits of a domain-separated hash of the
    /// secret's fingerprint. Used for keys that come without an id (environment variables).
    pub fn derive(secret: &HmacSecret) -> Self {
        let digest = Sha256::new()
            .chain_update(b"spanforge/hmac-key-id/v1\n")
            .chain_update(secret.fingerprint().as_bytes())
            .finalize();
        let short = digest.get(..8).unwrap_or(&[]);
        KeyId(Str::new(&format!("hk-{}", hex::encode(short))))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// An HMAC key with its id. `Debug` shows the id only; the secret is zeroized on drop.
#[derive(Clone)]
pub struct HmacKey {
    id: KeyId,
    secret: HmacSecret,
}

impl HmacKey {
    /// Pairs a secret with an id.
    pub fn new(id: KeyId, secret: HmacSecret) -> Self {
        Self { id, secret }
    }

    /// Pairs a secret with its derived id ([`KeyId::derive`]).
    pub fn derived(secret: HmacSecret) -> Self {
        Self {
            id: KeyId::derive(&secret),
            secret,
        }
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The secret.
    pub fn secret(&self) -> &HmacSecret {
        &self.secret
    }

    /// The check value the ledger records for this key: hex SHA-256 over a domain label and the
    /// key's fingerprint. It tells a wrong key from the right one without being the raw hash of
    /// the secret.
    pub fn check_value(&self) -> String {
        hex::encode(
            Sha256::new()
                .chain_update(b"spanforge/hmac-key-check/v1\n")
                .chain_update(self.secret.fingerprint().as_bytes())
                .finalize(),
        )
    }

    /// Refuses the key for native signing if it is shorter than
    /// [`MIN_NATIVE_SECRET_BYTES`](spanforge_chain::compat::MIN_NATIVE_SECRET_BYTES).
    pub fn require_native(&self) -> Result<()> {
        if self.secret.is_weak() {
            return Err(Error::WeakSigningKey {
                key_id: self.id.to_string(),
                len: self.secret.len(),
                min: spanforge_chain::compat::MIN_NATIVE_SECRET_BYTES,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Where the ledger gets its keys. The CLI implements it (or fills a [`StaticKeys`]); a KMS-backed
/// provider can implement it later without the ledger changing.
pub trait KeyProvider: Send + Sync {
    /// The key new events of `tenant` are signed with, if one is configured.
    fn signing_key(&self, tenant: &TenantId) -> Result<Option<HmacKey>>;

    /// Every key a chain of `tenant` may be signed with: its current and retired keys and the
    /// keys shared by all tenants. Used to verify pre-signed input and to follow rotations.
    fn keys_for(&self, tenant: &TenantId) -> Result<Vec<HmacKey>>;

    /// The key with id `key_id` that `tenant` may use. The default searches
    /// [`KeyProvider::keys_for`].
    fn key(&self, tenant: &TenantId, key_id: &KeyId) -> Result<Option<HmacKey>> {
        Ok(self
            .keys_for(tenant)?
            .into_iter()
            .find(|k| k.id() == key_id))
    }

    /// The note signer for checkpoints, if this process may sign them.
    fn checkpoint_signer(&self) -> Option<&NoteSigner>;

    /// The public keys checkpoints are verified with.
    fn checkpoint_verifiers(&self) -> Vec<NoteVerifier>;
}

/// An environment lookup function (`|name| std::env::var(name).ok()` in the CLI).
type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A [`KeyProvider`] filled by the caller: a key shared by all tenants, per-tenant keys, retired
/// keys kept for verification, optionally the reference's environment-variable convention, and
/// the checkpoint keys.
///
/// ```
/// use spanforge_chain::compat::HmacSecret;
/// use spanforge_store::{HmacKey, KeyId, KeyProvider, StaticKeys, TenantId};
///
/// let shared = HmacSecret::new("a-shared-signing-secret-of-32-bytes!!")?;
/// let acme = HmacKey::new(KeyId::new("acme-2026")?, HmacSecret::new("acme-only-secret-0123456789abcdef")?);
/// let keys = StaticKeys::new().with_default_key(HmacKey::derived(shared)).with_tenant_key(TenantId::org("acme")?, acme);
/// assert_eq!(keys.signing_key(&TenantId::org("acme")?)?.unwrap().id().as_str(), "acme-2026");
/// assert!(keys.signing_key(&TenantId::Default)?.unwrap().id().as_str().starts_with("hk-"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct StaticKeys {
    default_key: Option<HmacKey>,
    tenant_keys: BTreeMap<TenantId, HmacKey>,
    retired: Vec<(Option<TenantId>, HmacKey)>,
    env: Option<EnvLookup>,
    checkpoint_signer: Option<NoteSigner>,
    checkpoint_verifiers: Vec<NoteVerifier>,
}

impl StaticKeys {
    /// An empty provider: no keys at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// The reference's convention: `SPANFORGE_SIGNING_KEY` is the key of every tenant without
    /// its own, and `SPANFORGE_KEY_<ORG>` (upper-cased, `-` as `_`) is an org's own key. Keys
    /// taken from the environment get derived ids ([`KeyId::derive`]). `lookup` reads a variable
    /// (`|name| std::env::var(name).ok()`), so this crate never touches the process environment
    /// itself.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self> {
        let mut keys = Self::new();
        if let Some(value) = lookup(SIGNING_KEY_ENV) {
            let secret = HmacSecret::new(&value)
                .map_err(|_| Error::KeyConfig(format!("{SIGNING_KEY_ENV} is set but empty")))?;
            keys.default_key = Some(HmacKey::derived(secret));
        }
        keys.env = Some(Box::new(lookup));
        Ok(keys)
    }

    /// Sets the key shared by every tenant that has no key of its own.
    #[must_use]
    pub fn with_default_key(mut self, key: HmacKey) -> Self {
        self.default_key = Some(key);
        self
    }

    /// Sets a tenant's own current key.
    #[must_use]
    pub fn with_tenant_key(mut self, tenant: TenantId, key: HmacKey) -> Self {
        self.tenant_keys.insert(tenant, key);
        self
    }

    /// Adds a retired key, kept to verify events signed before a rotation: for one tenant, or
    /// for every tenant when `tenant` is `None`.
    #[must_use]
    pub fn with_retired_key(mut self, tenant: Option<TenantId>, key: HmacKey) -> Self {
        self.retired.push((tenant, key));
        self
    }

    /// Sets the checkpoint signer; its verifier is added to the checkpoint verifiers.
    #[must_use]
    pub fn with_checkpoint_signer(mut self, signer: NoteSigner) -> Self {
        self.checkpoint_verifiers.push(signer.verifier());
        self.checkpoint_signer = Some(signer);
        self
    }

    /// Adds a public key checkpoints may be verified with.
    #[must_use]
    pub fn with_checkpoint_verifier(mut self, verifier: NoteVerifier) -> Self {
        self.checkpoint_verifiers.push(verifier);
        self
    }

    /// The key configured for `tenant` in the environment, if any.
    fn env_key(&self, tenant: &TenantId) -> Result<Option<HmacKey>> {
        let (Some(lookup), Some(org)) = (&self.env, tenant.org_id()) else {
            return Ok(None);
        };
        let name = org_key_env_var(org);
        match lookup(&name) {
            None => Ok(None),
            Some(value) => {
                let secret = HmacSecret::new(&value)
                    .map_err(|_| Error::KeyConfig(format!("{name} is set but empty")))?;
                Ok(Some(HmacKey::derived(secret)))
            }
        }
    }
}

/// The environment variable the reference's `EnvKeyResolver` reads for `org`:
/// `SPANFORGE_KEY_` + the org id upper-cased with `-` replaced by `_`. Distinct orgs such as
/// `a-b` and `A_B` share a variable, as they do in the reference.
pub fn org_key_env_var(org: &str) -> String {
    format!(
        "{ORG_KEY_ENV_PREFIX}{}",
        org.to_uppercase().replace('-', "_")
    )
}

impl KeyProvider for StaticKeys {
    fn signing_key(&self, tenant: &TenantId) -> Result<Option<HmacKey>> {
        if let Some(key) = self.tenant_keys.get(tenant) {
            return Ok(Some(key.clone()));
        }
        if let Some(key) = self.env_key(tenant)? {
            return Ok(Some(key));
        }
        Ok(self.default_key.clone())
    }

    fn keys_for(&self, tenant: &TenantId) -> Result<Vec<HmacKey>> {
        let mut out = Vec::new();
        out.extend(self.tenant_keys.get(tenant).cloned());
        out.extend(self.env_key(tenant)?);
        out.extend(self.default_key.clone());
        for (scope, key) in &self.retired {
            if scope.as_ref().is_none_or(|s| s == tenant) {
                out.push(key.clone());
            }
        }
        Ok(out)
    }

    fn checkpoint_signer(&self) -> Option<&NoteSigner> {
        self.checkpoint_signer.as_ref()
    }

    fn checkpoint_verifiers(&self) -> Vec<NoteVerifier> {
        self.checkpoint_verifiers.clone()
    }
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeys")
            .field("default_key", &self.default_key)
            .field("tenant_keys", &self.tenant_keys)
            .field("retired", &self.retired)
            .field("env", &self.env.is_some())
            .field("checkpoint_signer", &self.checkpoint_signer)
            .field("checkpoint_verifiers", &self.checkpoint_verifiers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "keys-test-secret-0123456789abcdefghij";

    #[test]
    fn key_ids_are_checked() {
        assert!(KeyId::new("k1").is_ok());
        assert!(KeyId::new("acme:2026-01.a_b").is_ok());
        assert!(KeyId::new("").is_err());
        assert!(KeyId::new("has space").is_err());
        assert!(KeyId::new("x".repeat(65)).is_err());
    }

    #[test]
    fn derived_ids_are_stable_and_reveal_no_fingerprint() {
        let a = HmacSecret::new(SECRET).unwrap();
        let id = KeyId::derive(&a);
        assert_eq!(id, KeyId::derive(&HmacSecret::new(SECRET).unwrap()));
        assert!(id.as_str().starts_with("hk-") && id.as_str().len() == 19);
        assert!(!a.fingerprint().contains(&id.as_str()[3..]));
        let key = HmacKey::derived(a.clone());
        assert_ne!(key.check_value(), a.fingerprint());
        assert!(!format!("{key:?}").contains("keys-test"));
    }

    #[test]
    fn weak_keys_are_refused_for_native_signing() {
        let weak = HmacKey::derived(HmacSecret::new("short").unwrap());
        assert!(matches!(
            weak.require_native(),
            Err(Error::WeakSigningKey { len: 5, .. })
        ));
        assert!(
            HmacKey::derived(HmacSecret::new(SECRET).unwrap())
                .require_native()
                .is_ok()
        );
    }

    #[test]
    fn environment_convention() {
        assert_eq!(org_key_env_var("acme-eu"), "SPANFORGE_KEY_ACME_EU");
        let keys = StaticKeys::from_env(|name| match name {
            "SPANFORGE_SIGNING_KEY" => Some(SECRET.to_owned()),
            "SPANFORGE_KEY_ACME" => Some(format!("{SECRET}-acme")),
            "SPANFORGE_KEY_EMPTY" => Some("  ".to_owned()),
            _ => None,
        })
        .unwrap();
        let shared = keys.signing_key(&TenantId::Default).unwrap().unwrap();
        let other = keys
            .signing_key(&TenantId::org("globex").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(shared.id(), other.id());
        let acme = keys
            .signing_key(&TenantId::org("acme").unwrap())
            .unwrap()
            .unwrap();
        assert_ne!(acme.id(), shared.id());
        assert_eq!(
            keys.keys_for(&TenantId::org("acme").unwrap())
                .unwrap()
                .len(),
            2
        );
        let err = keys
            .signing_key(&TenantId::org("empty").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("SPANFORGE_KEY_EMPTY"), "{err}");
    }
}
