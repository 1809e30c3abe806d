//! The keyring: the ledger's HMAC chain keys (per tenant, with their rotation history) and its
//! checkpoint signing keys, in one JSON document.
//!
//! The document is what `spanforge keys init` writes to a file created with mode 0600; this
//! module only parses, builds and serialises it (no I/O), so that the CLI reads and writes the
//! file and every rule lives here.
//!
//! ```json
//! {"format": "spanforge-keyring/v1",
//!  "hmac_keys": [{"id": "hk-…", "tenant": null, "secret": "…", "created": "…", "status": "active"}],
//!  "checkpoint_keys": [{"skey": "PRIVATE+KEY+…", "created": "…", "status": "active"}]}
//! ```
//!
//! - An HMAC key with `"tenant": null` is the default key, used by every tenant that has no key
//!   of its own. A secret is a string whose UTF-8 bytes are the key, as in the Python SDK;
//!   generated secrets are 64 hex characters (256 bits of entropy).
//! - Rotation never deletes: the old key becomes `retired` and stays in the file, because
//!   verifying the events it signed needs it.
//! - Key ids are random and say nothing about the secret.
//!
//! Which key signs for which tenant at run time (keyring entries and the environment
//! variables of the Python SDK) is decided by the store's key provider; this module only holds
//! the document.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::compat::HmacSecret;
use crate::note::{NoteSigner, NoteVerifier};
use crate::{Error, Result};

/// The `format` value of a keyring document.
pub const FORMAT: &str = "spanforge-keyring/v1";

/// Whether a key signs new entries or only verifies old ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// The key signs new entries.
    Active,
    /// The key was rotated out; it only verifies what it signed.
    Retired,
}

/// One HMAC chain key.
#[derive(Clone)]
pub struct HmacKey {
    id: String,
    tenant: Option<String>,
    secret: HmacSecret,
    secret_text: Zeroizing<String>,
    created: String,
    status: KeyStatus,
}

impl HmacKey {
    /// The key's id (random, `hk-` and 16 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tenant (org id) the key belongs to, or `None` for the default key.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The secret.
    pub fn secret(&self) -> &HmacSecret {
        &self.secret
    }

    /// When the key was made (RFC 3339, as given by the caller).
    pub fn created(&self) -> &str {
        &self.created
    }

    /// Whether the key signs or only verifies.
    pub fn status(&self) -> KeyStatus {
        self.status
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKey")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("created", &self.created)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// One checkpoint signing key (Ed25519, C2SP signed-note).
pub struct CheckpointKey {
    signer: NoteSigner,
    created: String,
    status: KeyStatus,
}

impl CheckpointKey {
    /// The signer.
    pub fn signer(&self) -> &NoteSigner {
        &self.signer
    }

    /// When the key was made.
    pub fn created(&self) -> &str {
        &self.created
    }

    /// Whether the key signs or only verifies.
    pub fn status(&self) -> KeyStatus {
        self.status
    }
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("vkey", &self.signer.vkey())
            .field("created", &self.created)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// What `keys list` shows of a key: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// `hmac` or `checkpoint`.
    pub kind: &'static str,
    /// The key id (`hk-…` for HMAC keys, the signed-note key name+id for checkpoint keys).
    pub id: String,
    /// The tenant, for HMAC keys (`null` for the default key).
    pub tenant: Option<String>,
    /// When the key was made.
    pub created: String,
    /// `active` or `retired`.
    pub status: KeyStatus,
    /// The public verifier key, for checkpoint keys.
    pub public_key: Option<String>,
}

/// The keyring document.
#[derive(Default)]
pub struct KeyringFile {
    hmac: Vec<HmacKey>,
    checkpoint: Vec<CheckpointKey>,
}

impl fmt::Debug for KeyringFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringFile")
            .field("hmac", &self.hmac)
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    format: String,
    #[serde(default)]
    hmac_keys: Vec<HmacDoc>,
    #[serde(default)]
    checkpoint_keys: Vec<CheckpointDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HmacDoc {
    id: String,
    tenant: Option<String>,
    // Plain strings here: the documents live only inside parse and to_json, which move or
    // copy the secrets into zeroizing holders and zeroize what is left (see `Drop`).
    secret: String,
    created: String,
    status: KeyStatus,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointDoc {
    skey: String,
    created: String,
    status: KeyStatus,
}

impl Drop for Doc {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for k in &mut self.hmac_keys {
            k.secret.zeroize();
        }
        for k in &mut self.checkpoint_keys {
            k.skey.zeroize();
        }
    }
}

/// A source of random bytes (the caller's CSPRNG: this crate never reads OS randomness).
pub type Fill<'a> = &'a mut dyn FnMut(&mut [u8]) -> std::result::Result<(), String>;

fn random_hex(fill: Fill<'_>, bytes: usize) -> Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    fill(&mut buf).map_err(|e| Error::Key(format!("cannot get random bytes: {e}")))?;
    Ok(Zeroizing::new(hex::encode(buf.as_slice())))
}

fn key_error(what: impl Into<String>) -> Error {
    Error::Key(what.into())
}

impl KeyringFile {
    /// A new keyring with one default HMAC key and one checkpoint key named `log_name`
    /// (a schema-less URL such as `spanforge.example.com/ledger`).
    pub fn generate(log_name: &str, created: &str, fill: Fill<'_>) -> Result<Self> {
        let mut ring = Self::default();
        ring.add_hmac_key(None, created, fill)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        fill(seed.as_mut_slice())
            .map_err(|e| key_error(format!("cannot get random bytes: {e}")))?;
        let signer = NoteSigner::from_seed(log_name, &seed)?;
        ring.checkpoint.push(CheckpointKey {
            signer,
            created: created.to_owned(),
            status: KeyStatus::Active,
        });
        Ok(ring)
    }

    /// Adds a new active HMAC key for `tenant` (or the default key), retiring the one it
    /// replaces. Returns `(new key, id of the retired key)`.
    pub fn add_hmac_key(
        &mut self,
        tenant: Option<&str>,
        created: &str,
        fill: Fill<'_>,
    ) -> Result<(&HmacKey, Option<String>)> {
        let secret_text = random_hex(fill, 32)?;
        let id = format!("hk-{}", random_hex(fill, 8)?.as_str());
        let secret = HmacSecret::new_native(&secret_text)?;
        let mut retired = None;
        for key in &mut self.hmac {
            if key.tenant.as_deref() == tenant && key.status == KeyStatus::Active {
                key.status = KeyStatus::Retired;
                retired = Some(key.id.clone());
            }
        }
        self.hmac.push(HmacKey {
            id,
            tenant: tenant.map(str::to_owned),
            secret,
            secret_text,
            created: created.to_owned(),
            status: KeyStatus::Active,
        });
        let new = self
            .hmac
            .last()
            .expect("invariant: a key was pushed on the line above");
        Ok((new, retired))
    }

    /// Parses a keyring document. Errors name the entry and field, never a secret.
    pub fn parse(text: &str) -> Result<Self> {
        let mut doc: Doc = serde_json::from_str(text).map_err(|e| {
            key_error(format!(
                "keyring is not valid: line {}, column {}: {}",
                e.line(),
                e.column(),
                classify(&e)
            ))
        })?;
        if doc.format != FORMAT {
            return Err(key_error(format!(
                "keyring format is {:?}; expected {FORMAT:?}",
                doc.format
            )));
        }
        let mut ring = Self::default();
        for (i, k) in doc.hmac_keys.iter_mut().enumerate() {
            let secret_text = Zeroizing::new(std::mem::take(&mut k.secret));
            let secret = HmacSecret::new_native(&secret_text)
                .map_err(|e| key_error(format!("hmac_keys[{i}] ({}): {e}", k.id)))?;
            if ring.hmac.iter().any(|o| o.id == k.id) {
                return Err(key_error(format!(
                    "hmac_keys[{i}]: duplicate key id {}",
                    k.id
                )));
            }
            ring.hmac.push(HmacKey {
                id: k.id.clone(),
                tenant: k.tenant.clone(),
                secret,
                secret_text,
                created: k.created.clone(),
                status: k.status,
            });
        }
        for (i, k) in doc.checkpoint_keys.iter().enumerate() {
            let signer = NoteSigner::from_skey(&k.skey).map_err(|e| {
                key_error(format!(
                    "checkpoint_keys[{i}]: not a valid signer key ({e})"
                ))
            })?;
            ring.checkpoint.push(CheckpointKey {
                signer,
                created: k.created.clone(),
                status: k.status,
            });
        }
        let mut tenants: Vec<Option<&str>> = Vec::new();
        for k in ring.hmac.iter().filter(|k| k.status == KeyStatus::Active) {
            if tenants.contains(&k.tenant()) {
                return Err(key_error(format!(
                    "two active HMAC keys for {}",
                    k.tenant()
                        .map_or("the default tenant".to_owned(), |t| format!("tenant {t:?}"))
                )));
            }
            tenants.push(k.tenant());
        }
        Ok(ring)
    }

    /// The document as pretty JSON, zeroized when dropped (it holds secrets).
    pub fn to_json(&self) -> Zeroizing<String> {
        let doc = Doc {
            format: FORMAT.to_owned(),
            hmac_keys: self
                .hmac
                .iter()
                .map(|k| HmacDoc {
                    id: k.id.clone(),
                    tenant: k.tenant.clone(),
                    secret: k.secret_text.as_str().to_owned(),
                    created: k.created.clone(),
                    status: k.status,
                })
                .collect(),
            checkpoint_keys: self
                .checkpoint
                .iter()
                .map(|k| CheckpointDoc {
                    skey: k.signer.to_skey().as_str().to_owned(),
                    created: k.created.clone(),
                    status: k.status,
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&doc).expect(
            "invariant: the keyring document has only strings and enums, which always serialise",
        );
        text.push('\n');
        Zeroizing::new(text)
    }

    /// Every HMAC key, active and retired.
    pub fn hmac_keys(&self) -> &[HmacKey] {
        &self.hmac
    }

    /// The active HMAC key of exactly `tenant` (`None`: the default key), without fallback.
    pub fn active_hmac(&self, tenant: Option<&str>) -> Option<&HmacKey> {
        self.hmac
            .iter()
            .find(|k| k.status == KeyStatus::Active && k.tenant.as_deref() == tenant)
    }

    /// The active checkpoint signer.
    pub fn checkpoint_signer(&self) -> Option<&NoteSigner> {
        self.checkpoint
            .iter()
            .find(|k| k.status == KeyStatus::Active)
            .map(|k| &k.signer)
    }

    /// Verifiers for every checkpoint key, active and retired.
    pub fn checkpoint_verifiers(&self) -> Vec<NoteVerifier> {
        self.checkpoint
            .iter()
            .map(|k| k.signer.verifier())
            .collect()
    }

    /// What `keys list` shows.
    pub fn list(&self) -> Vec<KeyInfo> {
        let hmac = self.hmac.iter().map(|k| KeyInfo {
            kind: "hmac",
            id: k.id.clone(),
            tenant: k.tenant.clone(),
            created: k.created.clone(),
            status: k.status,
            public_key: None,
        });
        let cp = self.checkpoint.iter().map(|k| KeyInfo {
            kind: "checkpoint",
            id: format!("{}+{}", k.signer.name(), k.signer.key_id()),
            tenant: None,
            created: k.created.clone(),
            status: k.status,
            public_key: Some(k.signer.vkey()),
        });
        hmac.chain(cp).collect()
    }
}

/// Describes a serde error without echoing the input (which may hold a secret).
fn classify(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "read error".to_owned(),
        Category::Syntax => "JSON syntax error".to_owned(),
        Category::Eof => "unexpected end of the document".to_owned(),
        // A data error names a missing or unknown field; serde's message names only the
        // field and the expected type, never the value.
        Category::Data => e
            .to_string()
            .split(" at line")
            .next()
            .unwrap_or("")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter_fill() -> impl FnMut(&mut [u8]) -> std::result::Result<(), String> {
        let mut n = 0u8;
        move |buf: &mut [u8]| {
            for b in buf.iter_mut() {
                n = n.wrapping_add(37);
                *b = n;
            }
            Ok(())
        }
    }

    #[test]
    fn generate_parse_round_trip_keeps_every_key() {
        let mut fill = counter_fill();
        let ring =
            KeyringFile::generate("spanforge.test/ledger", "2026-11-27T00:00:00Z", &mut fill)
                .unwrap();
        let text = ring.to_json();
        let back = KeyringFile::parse(&text).unwrap();
        assert_eq!(back.to_json().as_str(), text.as_str());
        assert_eq!(back.list().len(), 2);
        assert!(back.checkpoint_signer().is_some());
        let k = back.active_hmac(None).unwrap();
        assert_eq!(k.secret().len(), 64);
        assert!(k.id().starts_with("hk-"));
    }

    #[test]
    fn rotation_retires_the_old_key_and_keeps_it() {
        let mut fill = counter_fill();
        let mut ring = KeyringFile::generate("l", "t0", &mut fill).unwrap();
        let old = ring.active_hmac(None).unwrap().id().to_owned();
        let (new, retired) = ring.add_hmac_key(None, "t1", &mut fill).unwrap();
        let new = new.id().to_owned();
        assert_eq!(retired.as_deref(), Some(old.as_str()));
        assert_ne!(old, new);
        assert_eq!(ring.active_hmac(None).unwrap().id(), new);
        assert_eq!(ring.hmac_keys().len(), 2);
        let statuses: Vec<_> = ring.list().iter().map(|k| k.status).collect();
        assert!(statuses.contains(&KeyStatus::Retired));
    }

    #[test]
    fn debug_and_list_never_show_secrets() {
        let mut fill = counter_fill();
        let ring = KeyringFile::generate("l", "t0", &mut fill).unwrap();
        let json = ring.to_json();
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        let secret = doc["hmac_keys"][0]["secret"].as_str().unwrap().to_owned();
        let skey = doc["checkpoint_keys"][0]["skey"]
            .as_str()
            .unwrap()
            .to_owned();
        let shown = format!(
            "{ring:?} {:?}",
            serde_json::to_string(&ring.list()).unwrap()
        );
        assert!(!shown.contains(&secret));
        assert!(!shown.contains(&skey));
        assert!(!shown.contains(&skey[skey.len() - 20..]));
    }

    #[test]
    fn parse_errors_name_the_problem_not_the_secret() {
        let bad = r#"{"format":"spanforge-keyring/v1","hmac_keys":[{"id":"hk-1","tenant":null,"secret":"too-short-secret","created":"t","status":"active"}]}"#;
        let err = KeyringFile::parse(bad).unwrap_err().to_string();
        assert!(
            err.contains("hmac_keys[0]") && err.contains("at least 32"),
            "{err}"
        );
        assert!(!err.contains("too-short-secret"), "{err}");
        let err = KeyringFile::parse(r#"{"format":"other"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("format"), "{err}");
        let err = KeyringFile::parse(r#"{"format":"spanforge-keyring/v1","hmac_keys":[{"id":"x","tenant":null,"secret":"0123456789abcdef0123456789abcdef0123","created":"t","status":"active","extra":"s3cr3t"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(KeyringFile::parse("{").is_err());
    }

    #[test]
    fn two_active_keys_for_one_tenant_are_refused() {
        let k = |id: &str| {
            format!(
                r#"{{"id":"{id}","tenant":"acme","secret":"0123456789abcdef0123456789abcdef0123","created":"t","status":"active"}}"#
            )
        };
        let text = format!(
            r#"{{"format":"spanforge-keyring/v1","hmac_keys":[{},{}]}}"#,
            k("a"),
            k("b")
        );
        let err = KeyringFile::parse(&text).unwrap_err().to_string();
        assert!(err.contains("two active HMAC keys"), "{err}");
    }
}
