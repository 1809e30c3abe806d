//! C2SP `tlog-checkpoint` tree heads: the text format, signing into a signed note, opening a
//! signed checkpoint with the log's key, and checking that one checkpoint extends another.
//!
//! The checkpoint text is
//!
//! ```text
//! <origin>
//! <tree size in decimal, no leading zeros>
//! <base64 of the 32-byte RFC 6962 root>
//! [extension lines...]
//! ```
//!
//! [`Checkpoint::verify_extends`] is the anti-truncation check: it compares size **and** root,
//! so a smaller size (rollback or truncation), a different root at the same size (fork) and a
//! larger size without a valid consistency proof are all rejected with distinct errors.

use std::fmt;

use crate::error::{Error, Result};
use crate::merkle::{EMPTY_ROOT, Hash, verify_consistency};
use crate::note::{Note, NoteSigner, NoteVerifier};

/// A log's tree head: origin, tree size, root hash and optional extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn check_origin(origin: &str, line: usize) -> Result<()> {
    if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::CheckpointFormat {
            line,
            reason: "origin must be non-empty without whitespace or control characters".into(),
        });
    }
    Ok(())
}

fn check_extension(ext: &str, line: usize) -> Result<()> {
    if ext.is_empty() || ext.chars().any(char::is_control) {
        return Err(Error::CheckpointFormat {
            line,
            reason: "extension lines must be non-empty without control characters".into(),
        });
    }
    Ok(())
}

/// Parses a decimal tree size: ASCII digits only, no sign, no leading zeros, fits in u64.
fn parse_size(text: &str, line: usize) -> Result<u64> {
    let bad = |reason: &str| Error::CheckpointFormat {
        line,
        reason: reason.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("tree size must be ASCII decimal digits"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(bad("tree size must not have leading zeros"));
    }
    text.parse::<u64>()
        .map_err(|_| bad("tree size does not fit in 64 bits"))
}

impl Checkpoint {
    /// Builds a checkpoint. The origin must be non-empty, without whitespace or control
    /// characters (it is usually a schema-less URL such as `example.com/log`).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self> {
        check_origin(origin, 1)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (non-empty, no control characters). The C2SP spec calls these
    /// NOT RECOMMENDED because monitors cannot audit them.
    pub fn with_extension(mut self, line: &str) -> Result<Self> {
        check_extension(line, 4 + self.extensions.len())?;
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root of the tree.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The checkpoint text (the body of the signed note), ending in `\n`.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for ext in &self.extensions {
            text.push_str(ext);
            text.push('\n');
        }
        text
    }

    /// Parses checkpoint text strictly: at least three lines, each ending in `\n`, a canonical
    /// decimal size and a canonical base64 root of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<Self> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(Error::CheckpointFormat {
                line: text.matches('\n').count() + 1,
                reason: "checkpoint must end in a newline".into(),
            });
        };
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or("");
        check_origin(origin, 1)?;
        let size_line = lines.next().ok_or_else(|| Error::CheckpointFormat {
            line: 2,
            reason: "missing tree size line".into(),
        })?;
        let size = parse_size(size_line, 2)?;
        let root_line = lines.next().ok_or_else(|| Error::CheckpointFormat {
            line: 3,
            reason: "missing root hash line".into(),
        })?;
        let root = Hash::from_base64(root_line, "checkpoint root").map_err(|e| {
            Error::CheckpointFormat {
                line: 3,
                reason: e.to_string(),
            }
        })?;
        let mut extensions = Vec::new();
        for (i, ext) in lines.enumerate() {
            check_extension(ext, 4 + i)?;
            extensions.push(ext.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint text with `signer` (the log key, whose name should equal the
    /// origin) and returns the signed checkpoint.
    pub fn sign(&self, signer: &NoteSigner) -> Result<SignedCheckpoint> {
        let mut note = Note::new(self.to_text())?;
        note.sign(signer)?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }

    /// Checks that `self` (a newly presented checkpoint) extends `older` (one already
    /// trusted), given a consistency proof from `older.size()` to `self.size()`.
    ///
    /// * different origins: [`Error::OriginMismatch`];
    /// * smaller size: [`Error::Rollback`] (truncation or rollback);
    /// * same size, different root: [`Error::Fork`]; same size and root needs an empty proof;
    /// * larger size: the proof must verify, else [`Error::Inconsistent`] with the reason.
    ///   An older empty tree (size 0, the empty root) is extended by anything with an empty
    ///   proof, as in the C2SP witness protocol.
    pub fn verify_extends(&self, older: &Checkpoint, consistency_proof: &[Hash]) -> Result<()> {
        if self.origin != older.origin {
            return Err(Error::OriginMismatch {
                expected: older.origin.clone(),
                found: self.origin.clone(),
            });
        }
        let inconsistent = |source: Error| Error::Inconsistent {
            old_size: older.size,
            new_size: self.size,
            source: Box::new(source),
        };
        match self.size.cmp(&older.size) {
            std::cmp::Ordering::Less => Err(Error::Rollback {
                trusted_size: older.size,
                presented_size: self.size,
            }),
            std::cmp::Ordering::Equal => {
                if self.root != older.root {
                    return Err(Error::Fork { size: self.size });
                }
                if !consistency_proof.is_empty() {
                    return Err(Error::malformed(
                        "consistency proof between equal checkpoints must be empty",
                    ));
                }
                Ok(())
            }
            std::cmp::Ordering::Greater if older.size == 0 => {
                if older.root != EMPTY_ROOT {
                    return Err(inconsistent(Error::RootMismatch {
                        what: "checkpoint: root of the empty tree",
                    }));
                }
                if !consistency_proof.is_empty() {
                    return Err(inconsistent(Error::malformed(
                        "consistency proof from the empty tree must be empty",
                    )));
                }
                Ok(())
            }
            std::cmp::Ordering::Greater => verify_consistency(
                older.size,
                self.size,
                consistency_proof,
                &older.root,
                &self.root,
            )
            .map_err(inconsistent),
        }
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// A checkpoint together with the signed note that carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint note, requires a valid signature by `log_key` (signatures by
    /// other keys, such as witness cosignatures, are ignored), then parses the checkpoint text.
    ///
    /// The origin is not compared with the key name; callers that pin an origin compare
    /// [`Checkpoint::origin`] themselves.
    pub fn open(bytes: &[u8], log_key: &NoteVerifier) -> Result<Self> {
        let verified = Note::open(bytes, std::slice::from_ref(log_key))?;
        let checkpoint = Checkpoint::parse(verified.text())?;
        Ok(SignedCheckpoint {
            checkpoint,
            note: verified.into_note(),
        })
    }

    /// Parses a signed checkpoint note without verifying any signature, for tools that only
    /// display it. Never trust the result.
    pub fn parse_unverified(bytes: &[u8]) -> Result<Self> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note (text and all signature lines).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Adds another signature, e.g. from a second log key during key rotation.
    pub fn add_signature(&mut self, signer: &NoteSigner) -> Result<()> {
        self.note.sign(signer)
    }

    /// The serialised signed note.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, leaf_hash};

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("example.com/log", &[5; 32]).unwrap()
    }

    fn tree(n: u64) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for i in 0..n {
            tree.append_leaf(&i.to_be_bytes()).unwrap();
        }
        tree
    }

    #[test]
    fn text_round_trip() {
        let root = leaf_hash(b"r");
        let cp = Checkpoint::new("example.com/log", 12345, root)
            .unwrap()
            .with_extension("ext one")
            .unwrap();
        let text = cp.to_text();
        assert_eq!(
            text,
            format!("example.com/log\n12345\n{}\next one\n", root.to_base64())
        );
        assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
        let empty = Checkpoint::new("o", 0, EMPTY_ROOT).unwrap();
        assert_eq!(
            empty.to_text(),
            "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
        assert_eq!(Checkpoint::parse(&empty.to_text()).unwrap(), empty);
    }

    #[test]
    fn strict_parsing() {
        let root = leaf_hash(b"r").to_base64();
        let cases = [
            format!("o\n12\n{root}"),                           // no final newline
            "o\n12\n".to_owned(),                               // no root
            "o\n".to_owned(),                                   // no size
            format!("\n12\n{root}\n"),                          // empty origin
            format!("o o\n12\n{root}\n"),                       // space in origin
            format!("o\n012\n{root}\n"),                        // leading zero
            format!("o\n+12\n{root}\n"),                        // sign
            format!("o\n-1\n{root}\n"),                         // negative
            format!("o\n 12\n{root}\n"),                        // space
            format!("o\n18446744073709551616\n{root}\n"),       // overflow
            format!("o\n12\n{}\n", &root[..root.len() - 1]),    // bad base64
            format!("o\n12\n{}\n", root.trim_end_matches('=')), // unpadded
            "o\n12\nAAAA\n".to_owned(),                         // short hash
            format!("o\n12\n{root}\n\n"),                       // empty extension line
            format!("o\n12\n{root}\r\n"),                       // CR
            format!("o\n12\n{root}\nx\r\n"),                    // control char in extension
        ];
        for case in &cases {
            assert!(Checkpoint::parse(case).is_err(), "{case:?} accepted");
        }
        let max = format!("o\n18446744073709551615\n{root}\n");
        assert_eq!(Checkpoint::parse(&max).unwrap().size(), u64::MAX);
        assert!(matches!(
            Checkpoint::parse(&format!("o\n012\n{root}\n")),
            Err(Error::CheckpointFormat { line: 2, .. })
        ));
    }

    #[test]
    fn sign_open_round_trip_and_bit_flips() {
        let s = signer();
        let t = tree(10);
        let cp = Checkpoint::new("example.com/log", 10, t.root()).unwrap();
        let signed = cp.sign(&s).unwrap();
        let bytes = signed.to_bytes();
        let opened = SignedCheckpoint::open(&bytes, &s.verifier()).unwrap();
        assert_eq!(opened.checkpoint(), &cp);
        assert_eq!(opened, signed);
        assert_eq!(opened.to_string().as_bytes(), &bytes[..]);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1 << (i % 8);
            assert!(
                SignedCheckpoint::open(&bad, &s.verifier()).is_err(),
                "flip at byte {i} accepted"
            );
        }
        let other = NoteSigner::from_seed("example.com/log", &[6; 32]).unwrap();
        assert!(SignedCheckpoint::open(&bytes, &other.verifier()).is_err());
        assert_eq!(
            SignedCheckpoint::parse_unverified(&bytes)
                .unwrap()
                .checkpoint(),
            &cp
        );
    }

    #[test]
    fn rotation_and_cosignatures() {
        let old_key = signer();
        let new_key = NoteSigner::from_seed("example.com/log", &[8; 32]).unwrap();
        let cp = Checkpoint::new("example.com/log", 0, EMPTY_ROOT).unwrap();
        let mut signed = cp.sign(&old_key).unwrap();
        signed.add_signature(&new_key).unwrap();
        let bytes = signed.to_bytes();
        SignedCheckpoint::open(&bytes, &old_key.verifier()).unwrap();
        SignedCheckpoint::open(&bytes, &new_key.verifier()).unwrap();
    }

    #[test]
    fn truncation_rollback_and_fork_detection() {
        let t = tree(20);
        let cp = |n: u64| Checkpoint::new("example.com/log", n, t.root_at(n).unwrap()).unwrap();
        let trusted = cp(12);
        // Growth with a valid proof.
        let proof = t.consistency_proof(12, 20).unwrap();
        cp(20).verify_extends(&trusted, &proof).unwrap();
        // Same checkpoint again.
        cp(12).verify_extends(&trusted, &[]).unwrap();
        // Truncation / rollback.
        assert!(matches!(
            cp(11).verify_extends(&trusted, &[]),
            Err(Error::Rollback {
                trusted_size: 12,
                presented_size: 11
            })
        ));
        // Fork: same size, different root (a rewritten suffix of the same length).
        let mut forked = MemoryTree::new();
        for i in 0..12u64 {
            forked
                .append_leaf(&(if i == 11 { 999 } else { i }).to_be_bytes())
                .unwrap();
        }
        let forked_cp = Checkpoint::new("example.com/log", 12, forked.root()).unwrap();
        assert!(matches!(
            forked_cp.verify_extends(&trusted, &[]),
            Err(Error::Fork { size: 12 })
        ));
        // Growth on top of the fork cannot be proven consistent with the trusted head.
        for _ in 12..20u64 {
            forked.append_leaf(b"more").unwrap();
        }
        let forked20 = Checkpoint::new("example.com/log", 20, forked.root()).unwrap();
        let forked_proof = forked.consistency_proof(12, 20).unwrap();
        let err = forked20
            .verify_extends(&trusted, &forked_proof)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Inconsistent {
                old_size: 12,
                new_size: 20,
                ..
            }
        ));
        assert!(err.is_verification_failure());
        // Growth with a wrong or missing proof.
        assert!(cp(20).verify_extends(&trusted, &[]).is_err());
        assert!(cp(20).verify_extends(&trusted, &proof[1..]).is_err());
        let wrong = t.consistency_proof(11, 20).unwrap();
        assert!(cp(20).verify_extends(&trusted, &wrong).is_err());
        // From the empty tree.
        let empty = Checkpoint::new("example.com/log", 0, EMPTY_ROOT).unwrap();
        cp(20).verify_extends(&empty, &[]).unwrap();
        assert!(cp(20).verify_extends(&empty, &proof).is_err());
        let bogus_empty = Checkpoint::new("example.com/log", 0, t.root()).unwrap();
        assert!(cp(20).verify_extends(&bogus_empty, &[]).is_err());
        // Another log.
        let other = Checkpoint::new("example.com/other", 20, t.root()).unwrap();
        assert!(matches!(
            other.verify_extends(&trusted, &proof),
            Err(Error::OriginMismatch { .. })
        ));
    }
}
