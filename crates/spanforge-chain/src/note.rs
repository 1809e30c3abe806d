//! C2SP signed notes (`c2sp.org/signed-note`) with Ed25519 keys: key IDs, verifier and signer
//! key strings, signing, strict parsing and verification.
//!
//! A note is UTF-8 text ending in `\n`, a blank line, then one or more signature lines
//! `— <key name> <base64(key ID || signature)>\n` (the dash is U+2014). The key ID is the first
//! four bytes of `SHA-256(key name || 0x0A || 0x01 || public key)` for Ed25519.
//!
//! Verification follows the spec: signatures from unknown keys are ignored (they may be
//! witness cosignatures or a rotated key), any signature from a known key that fails to verify
//! rejects the whole note, and a note with no verified signature is rejected. Up to
//! [`MAX_SIGNATURES`] signature lines are accepted (the spec asks for at least 16).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Signature type byte for Ed25519 keys in key IDs and verifier keys.
pub const ALG_ED25519: u8 = 0x01;

/// The most signature lines a note may carry before it is rejected as malformed.
pub const MAX_SIGNATURES: usize = 100;

/// The em dash and space that open every signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Prefix of the signer key string format.
const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// The 4-byte key ID that ties a signature line to a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 4]);

impl KeyId {
    /// Computes `SHA-256(name || 0x0A || alg || public_key)[..4]`.
    pub fn compute(name: &str, alg: u8, public_key: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        hasher.update([b'\n', alg]);
        hasher.update(public_key);
        let digest = hasher.finalize();
        let mut id = [0u8; 4];
        id.copy_from_slice(&digest[..4]);
        KeyId(id)
    }

    /// Wraps four raw bytes.
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        KeyId(bytes)
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }

    /// The key ID as a big-endian integer, as some tools print it.
    pub const fn to_u32(self) -> u32 {
        u32::from_be_bytes(self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Reports whether `name` can be a key name: non-empty, no Unicode whitespace, no `+`, and no
/// control characters.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

fn check_key_name(name: &str, what: &'static str) -> Result<()> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::KeyFormat {
            what,
            reason: format!("invalid key name {name:?}"),
        })
    }
}

/// Reports whether `text` may be the text of a note: it ends in `\n` and contains no control
/// characters other than `\n`. (Being a `&str`, it is already valid UTF-8.)
pub fn is_valid_note_text(text: &str) -> bool {
    text.ends_with('\n') && !text.chars().any(|c| c.is_control() && c != '\n')
}

/// An Ed25519 verifier key for signed notes: a key name, its key ID and the public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: KeyId,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Builds a verifier from a key name and a 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self> {
        check_key_name(name, "verifier key")?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| Error::KeyFormat {
            what: "verifier key",
            reason: "not a valid Ed25519 public key".into(),
        })?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: KeyId::compute(name, ALG_ED25519, public_key),
            key,
        })
    }

    /// Parses a verifier key string `<name>+<hex key ID>+<base64(0x01 || public key)>`,
    /// checking that the key ID matches the name and key.
    pub fn from_vkey(vkey: &str) -> Result<Self> {
        let bad = |reason: &str| Error::KeyFormat {
            what: "verifier key",
            reason: reason.to_owned(),
        };
        // Names and key IDs never contain '+', but base64 keys may.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected <name>+<key id>+<key>"));
        };
        check_key_name(name, "verifier key")?;
        let id = parse_key_id(id_hex).ok_or_else(|| bad("key ID is not 8 hex digits"))?;
        let key_bytes = BASE64
            .decode(key_b64)
            .map_err(|_| bad("key is not valid base64"))?;
        let (alg, public) = key_bytes.split_first().ok_or_else(|| bad("key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad(&format!("unsupported signature type 0x{alg:02x}")));
        }
        let public: &[u8; 32] = public
            .try_into()
            .map_err(|_| bad("Ed25519 public key must be 32 bytes"))?;
        let verifier = NoteVerifier::new(name, public)?;
        if verifier.key_id != id {
            return Err(bad("key ID does not match the name and key"));
        }
        Ok(verifier)
    }

    /// Formats the verifier key string `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(ALG_ED25519);
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, self.key_id, BASE64.encode(key))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Checks an Ed25519 signature over `message` (strict verification: no malleable
    /// signatures, no small-order keys).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <&[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify_strict(message, &Signature::from_bytes(bytes))
            .is_ok()
    }

    fn matches(&self, name: &str, key_id: KeyId) -> bool {
        self.key_id == key_id && self.name == name
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NoteVerifier")
            .field(&self.to_vkey())
            .finish()
    }
}

fn parse_key_id(hex_text: &str) -> Option<KeyId> {
    if hex_text.len() != 8 {
        return None;
    }
    let bytes = hex::decode(hex_text).ok()?;
    let array: [u8; 4] = bytes.try_into().ok()?;
    Some(KeyId(array))
}

/// An Ed25519 note signing key with its key name.
///
/// The secret key is zeroized when the signer is dropped (`ed25519-dalek` with `zeroize`),
/// and neither `Debug` nor any error ever shows it.
pub struct NoteSigner {
    name: String,
    key_id: KeyId,
    key: SigningKey,
}

impl NoteSigner {
    /// Builds a signer from a key name and a 32-byte Ed25519 seed (the secret key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self> {
        check_key_name(name, "signer key")?;
        let key = SigningKey::from_bytes(seed);
        let key_id = KeyId::compute(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Generates a fresh key. `fill` must fill the buffer with cryptographically secure random
    /// bytes (e.g. `getrandom::fill`); this crate never chooses a randomness source itself.
    pub fn generate<E>(name: &str, fill: impl FnOnce(&mut [u8]) -> Result<(), E>) -> Result<Self>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut seed = Zeroizing::new([0u8; 32]);
        fill(&mut seed[..]).map_err(|e| Error::Randomness {
            source: Box::new(e),
        })?;
        NoteSigner::from_seed(name, &seed)
    }

    /// Parses a signer key string `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`,
    /// checking that the key ID matches. Errors never include key bytes.
    pub fn from_skey(skey: &str) -> Result<Self> {
        let bad = |reason: &str| Error::KeyFormat {
            what: "signer key",
            reason: reason.to_owned(),
        };
        let rest = skey
            .strip_prefix(SKEY_PREFIX)
            .ok_or_else(|| bad("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected PRIVATE+KEY+<name>+<key id>+<key>"));
        };
        check_key_name(name, "signer key")?;
        let id = parse_key_id(id_hex).ok_or_else(|| bad("key ID is not 8 hex digits"))?;
        let decoded = Zeroizing::new(
            BASE64
                .decode(key_b64)
                .map_err(|_| bad("key is not valid base64"))?,
        );
        let (alg, seed) = decoded.split_first().ok_or_else(|| bad("key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad("unsupported signature type"));
        }
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| bad("Ed25519 seed must be 32 bytes"))?;
        let signer = NoteSigner::from_seed(name, seed)?;
        if signer.key_id != id {
            return Err(bad("key ID does not match the name and key"));
        }
        Ok(signer)
    }

    /// Formats the signer key string. The result holds the secret and is zeroized on drop.
    pub fn to_skey(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(Vec::with_capacity(33));
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        let encoded = Zeroizing::new(BASE64.encode(&raw[..]));
        let mut out = Zeroizing::new(String::with_capacity(
            SKEY_PREFIX.len() + self.name.len() + 10 + encoded.len(),
        ));
        out.push_str(SKEY_PREFIX);
        out.push_str(&self.name);
        out.push('+');
        out.push_str(&self.key_id.to_string());
        out.push('+');
        out.push_str(&encoded);
        out
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The matching verifier key string.
    pub fn vkey(&self) -> String {
        self.verifier().to_vkey()
    }

    /// Signs `message` (Ed25519, deterministic) and returns the 64-byte signature.
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: KeyId,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// Builds a signature line from its parts; `signature` excludes the key ID.
    pub fn new(name: &str, key_id: KeyId, signature: Vec<u8>) -> Result<Self> {
        check_key_name(name, "signature key name")?;
        if signature.is_empty() {
            return Err(Error::KeyFormat {
                what: "signature",
                reason: "empty signature".into(),
            });
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id,
            signature,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature bytes (after the key ID).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Formats the line, including the final `\n`.
    pub fn to_line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id.0);
        blob.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(blob))
    }

    /// Parses one line without its `\n`. `line_no` is used in errors.
    fn parse_line(line: &str, line_no: usize) -> Result<Self> {
        let bad = |reason: &str| Error::NoteFormat {
            line: line_no,
            reason: reason.to_owned(),
        };
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("signature line must start with an em dash and a space"))?;
        let (name, blob_b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("signature line must be \"— <name> <signature>\""))?;
        if !is_valid_key_name(name) {
            return Err(bad("invalid key name"));
        }
        let blob = BASE64
            .decode(blob_b64)
            .map_err(|_| bad("signature is not valid base64"))?;
        if blob.len() < 5 {
            return Err(bad("signature is shorter than a key ID and one byte"));
        }
        let (id, signature) = blob.split_at(4);
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(id);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: KeyId(key_id),
            signature: signature.to_vec(),
        })
    }
}

/// A signed note: text plus signature lines, parsed but not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Starts an unsigned note. The text must end in `\n` and contain no control characters
    /// other than `\n`.
    pub fn new(text: impl Into<String>) -> Result<Self> {
        let text = text.into();
        if !is_valid_note_text(&text) {
            return Err(Error::NoteFormat {
                line: 1,
                reason: "text must end in a newline and contain no control characters".into(),
            });
        }
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// The signed text, ending in `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Signs the text with `signer` and appends the signature line.
    pub fn sign(&mut self, signer: &NoteSigner) -> Result<()> {
        let signature = signer.sign_bytes(self.text.as_bytes()).to_vec();
        self.add_signature(NoteSignature {
            name: signer.name.clone(),
            key_id: signer.key_id,
            signature,
        })
    }

    /// Appends a signature line obtained elsewhere (e.g. a witness cosignature).
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<()> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(Error::NoteFormat {
                line: 1,
                reason: format!("more than {MAX_SIGNATURES} signatures"),
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Serialises the note: text, blank line, signature lines. A note needs at least one
    /// signature before [`Note::parse`] accepts its serialisation.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Parses a note without verifying signatures. Rejects invalid UTF-8, control characters,
    /// a missing blank line, no signatures, more than [`MAX_SIGNATURES`] signatures and any
    /// malformed signature line.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let all = std::str::from_utf8(bytes).map_err(|e| Error::NoteFormat {
            line: line_of(bytes, e.valid_up_to()),
            reason: "note is not valid UTF-8".into(),
        })?;
        // Signature lines never contain a blank line, so the last one separates text from
        // signatures.
        let split = all.rfind("\n\n").ok_or_else(|| Error::NoteFormat {
            line: all.lines().count().max(1),
            reason: "missing blank line before the signatures".into(),
        })?;
        let (text, rest) = all.split_at(split + 1);
        let sig_block = rest.get(1..).unwrap_or("");
        if let Some(pos) = text.find(|c: char| c.is_control() && c != '\n') {
            return Err(Error::NoteFormat {
                line: line_of(text.as_bytes(), pos),
                reason: "text contains a control character".into(),
            });
        }
        let first_sig_line = text.matches('\n').count() + 2;
        if sig_block.is_empty() {
            return Err(Error::NoteFormat {
                line: first_sig_line,
                reason: "note has no signatures".into(),
            });
        }
        let Some(sig_block) = sig_block.strip_suffix('\n') else {
            return Err(Error::NoteFormat {
                line: first_sig_line + sig_block.matches('\n').count(),
                reason: "last signature line does not end in a newline".into(),
            });
        };
        let mut signatures = Vec::new();
        for (i, line) in sig_block.split('\n').enumerate() {
            let line_no = first_sig_line + i;
            if i >= MAX_SIGNATURES {
                return Err(Error::NoteFormat {
                    line: line_no,
                    reason: format!("more than {MAX_SIGNATURES} signatures"),
                });
            }
            signatures.push(NoteSignature::parse_line(line, line_no)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the signatures against `verifiers`.
    ///
    /// Signatures whose (name, key ID) match no verifier are ignored. Every signature that
    /// matches a verifier must verify, or the note is rejected with
    /// [`Error::SignatureInvalid`]. At least one must verify, or the result is
    /// [`Error::NoVerifiedSignature`]. Returns the indices of the verified signatures.
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<Vec<usize>> {
        let mut verified = Vec::new();
        for (index, sig) in self.signatures.iter().enumerate() {
            let mut candidates = verifiers
                .iter()
                .filter(|v| v.matches(&sig.name, sig.key_id))
                .peekable();
            if candidates.peek().is_none() {
                continue;
            }
            if candidates.any(|v| v.verify(self.text.as_bytes(), &sig.signature)) {
                verified.push(index);
            } else {
                return Err(Error::SignatureInvalid {
                    key_name: sig.name.clone(),
                    key_id: sig.key_id.to_string(),
                });
            }
        }
        if verified.is_empty() {
            return Err(Error::NoVerifiedSignature);
        }
        Ok(verified)
    }

    /// Parses and verifies in one step (see [`Note::parse`] and [`Note::verify`]).
    pub fn open(bytes: &[u8], verifiers: &[NoteVerifier]) -> Result<VerifiedNote> {
        let note = Note::parse(bytes)?;
        let verified = note.verify(verifiers)?;
        Ok(VerifiedNote { note, verified })
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            f.write_str(&sig.to_line())?;
        }
        Ok(())
    }
}

/// A note whose signatures passed [`Note::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    note: Note,
    verified: Vec<usize>,
}

impl VerifiedNote {
    /// The verified text.
    pub fn text(&self) -> &str {
        self.note.text()
    }

    /// The whole note, including signatures from unknown keys.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The signatures that verified against a trusted key.
    pub fn verified_signatures(&self) -> impl Iterator<Item = &NoteSignature> {
        self.verified
            .iter()
            .filter_map(|&i| self.note.signatures.get(i))
    }

    /// Consumes the wrapper and returns the note.
    pub fn into_note(self) -> Note {
        self.note
    }
}

/// The 1-based line containing byte offset `pos`.
fn line_of(bytes: &[u8], pos: usize) -> usize {
    bytes.get(..pos).map_or(1, |before| {
        before.iter().filter(|&&b| b == b'\n').count() + 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

    fn signer(name: &str, byte: u8) -> NoteSigner {
        NoteSigner::from_seed(name, &[byte; 32]).unwrap()
    }

    #[test]
    fn spec_verifier_key_id_recomputes() {
        let v = NoteVerifier::from_vkey(SPEC_VKEY).unwrap();
        assert_eq!(v.name(), "example.com/foo");
        assert_eq!(v.key_id().to_string(), "530d903a");
        // Recompute the ID from scratch rather than trusting the parser's own check.
        let id = KeyId::compute("example.com/foo", ALG_ED25519, &v.public_key());
        assert_eq!(id.to_string(), "530d903a");
        assert_eq!(v.to_vkey(), SPEC_VKEY);
    }

    #[test]
    fn verifier_key_strings_are_strict() {
        for bad in [
            "",
            "example.com/foo",
            "example.com/foo+530d903a",
            "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
            "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+x",
            "exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        ] {
            assert!(NoteVerifier::from_vkey(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            NoteVerifier::from_vkey(&SPEC_VKEY.replace("530d903a", "530D903A")).is_ok(),
            "upper-case hex key IDs are accepted"
        );
    }

    #[test]
    fn spec_example_text_sign_and_verify_round_trip() {
        let s = signer("example.com/foo", 7);
        let mut note = Note::new("This is an example message.\n").unwrap();
        note.sign(&s).unwrap();
        let bytes = note.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("This is an example message.\n\n\u{2014} example.com/foo "));
        let opened = Note::open(&bytes, &[s.verifier()]).unwrap();
        assert_eq!(opened.text(), "This is an example message.\n");
        assert_eq!(opened.verified_signatures().count(), 1);
        // The spec's public key does not know this signature: it is ignored, none verifies.
        let spec = NoteVerifier::from_vkey(SPEC_VKEY).unwrap();
        assert!(matches!(
            Note::open(&bytes, &[spec]),
            Err(Error::NoVerifiedSignature)
        ));
    }

    #[test]
    fn every_mutation_is_rejected() {
        let s = signer("log.example/a", 1);
        let mut note = Note::new("origin\n1\nroot\n").unwrap();
        note.sign(&s).unwrap();
        let good = note.to_bytes();
        let verifiers = [s.verifier()];
        Note::open(&good, &verifiers).unwrap();

        // Flip every bit of the text.
        let text_len = note.text().len();
        for i in 0..text_len {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    Note::open(&bad, &verifiers).is_err(),
                    "text byte {i} bit {bit}"
                );
            }
        }
        // Flip a bit in every byte of the signature (after decoding) and re-encode.
        for i in 0..64 {
            {
                let bit = i % 8;
                let mut sig = note.signatures()[0].clone();
                sig.signature[i] ^= 1 << bit;
                let mut bad = Note::new(note.text()).unwrap();
                bad.add_signature(sig).unwrap();
                assert!(matches!(
                    Note::open(&bad.to_bytes(), &verifiers),
                    Err(Error::SignatureInvalid { .. })
                ));
            }
        }
        // Changed key name or key ID: no longer matches the verifier.
        let renamed = String::from_utf8(good.clone())
            .unwrap()
            .replace("\u{2014} log.example/a ", "\u{2014} log.example/b ");
        assert!(matches!(
            Note::open(renamed.as_bytes(), &verifiers),
            Err(Error::NoVerifiedSignature)
        ));
        let mut sig = note.signatures()[0].clone();
        sig.key_id.0[0] ^= 1;
        let mut bad = Note::new(note.text()).unwrap();
        bad.add_signature(sig).unwrap();
        assert!(Note::open(&bad.to_bytes(), &verifiers).is_err());
        // Truncated signature.
        let mut sig = note.signatures()[0].clone();
        sig.signature.pop();
        let mut bad = Note::new(note.text()).unwrap();
        bad.add_signature(sig).unwrap();
        assert!(Note::open(&bad.to_bytes(), &verifiers).is_err());
    }

    #[test]
    fn unknown_keys_are_ignored_and_known_failures_reject() {
        let log = signer("log", 1);
        let witness = signer("witness", 2);
        let stranger = signer("stranger", 3);
        let mut note = Note::new("hello\n").unwrap();
        note.sign(&witness).unwrap();
        note.sign(&log).unwrap();
        note.sign(&stranger).unwrap();
        let opened = Note::open(&note.to_bytes(), &[log.verifier()]).unwrap();
        let names: Vec<&str> = opened.verified_signatures().map(|s| s.name()).collect();
        assert_eq!(names, ["log"]);
        let opened = Note::open(&note.to_bytes(), &[log.verifier(), witness.verifier()]).unwrap();
        assert_eq!(opened.verified_signatures().count(), 2);

        // A known key with a bad signature rejects the note even if another verifies.
        let mut forged = Note::new("hello\n").unwrap();
        forged.sign(&log).unwrap();
        let mut bad = note.signatures()[0].clone(); // witness signature ...
        bad.signature[0] ^= 0x80; // ... corrupted
        forged.add_signature(bad).unwrap();
        assert!(matches!(
            Note::open(&forged.to_bytes(), &[log.verifier(), witness.verifier()]),
            Err(Error::SignatureInvalid { ref key_name, .. }) if key_name == "witness"
        ));
        assert!(Note::open(&forged.to_bytes(), &[log.verifier()]).is_ok());
    }

    #[test]
    fn accepts_many_signatures_up_to_the_limit() {
        let log = signer("log", 1);
        let mut note = Note::new("many\n").unwrap();
        for i in 0..(MAX_SIGNATURES - 1) {
            note.sign(&signer(&format!("w{i}"), i as u8)).unwrap();
        }
        note.sign(&log).unwrap();
        assert_eq!(note.signatures().len(), MAX_SIGNATURES);
        Note::open(&note.to_bytes(), &[log.verifier()]).unwrap();
        assert!(note.sign(&log).is_err());
        let mut text = String::from_utf8(note.to_bytes()).unwrap();
        text.push_str(&note.signatures()[0].to_line());
        assert!(matches!(
            Note::parse(text.as_bytes()),
            Err(Error::NoteFormat { .. })
        ));
    }

    #[test]
    fn malformed_notes() {
        let log = signer("log", 1);
        let mut note = Note::new("a\nb\n").unwrap();
        note.sign(&log).unwrap();
        let good = String::from_utf8(note.to_bytes()).unwrap();
        let sig_line = note.signatures()[0].to_line();
        let cases = [
            good.trim_end_matches('\n').to_owned(), // missing final newline
            good.replacen("\n\n", "\n", 1),         // no blank line
            good.replace('\u{2014}', "-"),          // ASCII dash
            good.replace("\u{2014} log ", "\u{2014}  log "), // double space
            "a\nb\n\n".to_owned(),                  // no signatures
            format!("a\tb\n\n{sig_line}"),          // control character
            format!("a\r\nb\n\n{sig_line}"),        // carriage return
            format!("a\nb\n\n{sig_line}\n"),        // trailing blank line
            "a\nb\n\n\u{2014} log !!!!\n".to_owned(), // bad base64
            "a\nb\n\n\u{2014} log AAAAAA==\n".to_owned(), // too short
            format!("a\nb\n\n\u{2014} lo+g {}", &sig_line[8..]), // '+' in name
        ];
        for case in &cases {
            assert!(Note::parse(case.as_bytes()).is_err(), "{case:?} accepted");
        }
        assert!(Note::parse(b"a\xff\n\n").is_err());
        assert!(Note::new("no newline").is_err());
        assert!(Note::new("bell\u{7}\n").is_err());
        assert!(Note::new("nul\0\n").is_err());
        // Blank lines inside the text are fine; the last blank line separates signatures.
        let mut multi = Note::new("a\n\nb\n").unwrap();
        multi.sign(&log).unwrap();
        let parsed = Note::parse(&multi.to_bytes()).unwrap();
        assert_eq!(parsed.text(), "a\n\nb\n");
        assert_eq!(parsed, multi);
    }

    #[test]
    fn go_sumdb_note_test_keys_agree() {
        // The key pair from the golang.org/x/mod/sumdb/note documentation. Both strings
        // carry a key ID that is checked against the key, and the public key derived from the
        // secret must equal the published verifier key; base64 keys containing '+' parse.
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let signer = NoteSigner::from_skey(skey).unwrap();
        assert_eq!(signer.vkey(), vkey);
        assert_eq!(&*signer.to_skey(), skey);
        assert_eq!(
            NoteVerifier::from_vkey(vkey).unwrap().key_id().to_u32(),
            0xc74f20a3
        );
    }

    #[test]
    fn go_sumdb_note_signed_example() {
        // The signed note from the golang.org/x/mod/sumdb/note documentation. Ed25519 is
        // deterministic, so signing must reproduce it byte for byte, and it must verify.
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let signed = format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        let signer = NoteSigner::from_skey(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        )
        .unwrap();
        let mut note = Note::new(text).unwrap();
        note.sign(&signer).unwrap();
        assert_eq!(note.to_string(), signed);
        let verifier = NoteVerifier::from_vkey(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        )
        .unwrap();
        let opened = Note::open(signed.as_bytes(), &[verifier]).unwrap();
        assert_eq!(opened.text(), text);
    }

    #[test]
    fn signer_key_strings_round_trip_and_never_leak() {
        let s = signer("example.com/log", 42);
        let skey = s.to_skey();
        assert!(skey.starts_with("PRIVATE+KEY+example.com/log+"));
        let back = NoteSigner::from_skey(&skey).unwrap();
        assert_eq!(back.vkey(), s.vkey());
        assert_eq!(back.sign_bytes(b"m"), s.sign_bytes(b"m"));
        let debug = format!("{s:?}");
        assert!(debug.contains("redacted"));
        assert!(!debug.contains(&hex::encode([42u8; 32])));
        let secret_b64 = skey.rsplit('+').next().unwrap().to_owned();
        assert!(!debug.contains(&secret_b64));
        // Errors from malformed secret keys do not echo the key text.
        let wrong_id = skey.replace(&s.key_id().to_string(), "00000000");
        let err = NoteSigner::from_skey(&wrong_id).unwrap_err().to_string();
        assert!(!err.contains(&secret_b64), "{err}");
        assert!(NoteSigner::from_skey(&skey[1..]).is_err());
        assert!(NoteSigner::from_skey(&format!("{}A", &*skey)).is_err());
        assert!(NoteSigner::from_seed("bad name", &[0; 32]).is_err());
    }

    #[test]
    fn generation_uses_the_injected_randomness() {
        let a = NoteSigner::generate("k", |buf: &mut [u8]| {
            buf.fill(9);
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
        assert_eq!(a.vkey(), signer("k", 9).vkey());
        let failed =
            NoteSigner::generate("k", |_: &mut [u8]| Err(std::io::Error::other("no entropy")));
        assert!(matches!(failed, Err(Error::Randomness { .. })));
    }
}
