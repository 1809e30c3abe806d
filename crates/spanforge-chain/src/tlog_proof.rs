//! `c2sp.org/tlog-proof@v1` bundles: an inclusion proof packaged with the signed checkpoint it
//! is relative to, verifiable offline.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <leaf index>
//! <base64 hash>            (inclusion path, leaf sibling first, one per line)
//! ...
//! <blank line>
//! <signed checkpoint note, verbatim, including any cosignatures>
//! ```
//!
//! A proof is only meaningful together with *its* checkpoint; carrying both in one bundle
//! avoids the classic mistake of checking a path against some other tree head.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::error::{Error, Result};
use crate::merkle::{Hash, leaf_hash, verify_inclusion};
use crate::note::NoteVerifier;

/// The first line of every bundle.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most path lines a bundle may hold: an inclusion path in a tree of at most 2^64 - 1
/// leaves has at most 64 hashes.
pub const MAX_PATH_LEN: usize = 64;

/// The leaf a bundle is checked against: either the raw entry, hashed here as an RFC 6962 leaf,
/// or an already computed leaf hash.
#[derive(Clone, Copy, Debug)]
pub enum Leaf<'a> {
    /// The log entry's bytes; its leaf hash is `SHA-256(0x00 || data)`.
    Data(&'a [u8]),
    /// The leaf hash itself.
    Hash(Hash),
}

impl Leaf<'_> {
    fn hash(&self) -> Hash {
        match self {
            Leaf::Data(data) => leaf_hash(data),
            Leaf::Hash(hash) => *hash,
        }
    }
}

/// A parsed `c2sp.org/tlog-proof@v1` bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    path: Vec<Hash>,
    checkpoint: String,
}

fn format_err(line: usize, reason: impl Into<String>) -> Error {
    Error::TlogProofFormat {
        line,
        reason: reason.into(),
    }
}

/// Parses a decimal index: digits only, no leading zeros, fits in u64.
fn parse_index(text: &str, line: usize) -> Result<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format_err(line, "index must be ASCII decimal digits"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(format_err(line, "index must not have leading zeros"));
    }
    text.parse::<u64>()
        .map_err(|_| format_err(line, "index does not fit in 64 bits"))
}

impl TlogProof {
    /// Builds a bundle from a leaf index, its inclusion path and the signed checkpoint the path
    /// leads to. The checkpoint is parsed (not verified) to check that the index lies within
    /// its tree and that the path is not longer than any tree allows.
    pub fn new(index: u64, path: Vec<Hash>, signed_checkpoint: &SignedCheckpoint) -> Result<Self> {
        let size = signed_checkpoint.checkpoint().size();
        if index >= size {
            return Err(Error::malformed(format!(
                "leaf index {index} is not below checkpoint size {size}"
            )));
        }
        if path.len() > MAX_PATH_LEN {
            return Err(Error::malformed(format!(
                "inclusion path of {} hashes is longer than {MAX_PATH_LEN}",
                path.len()
            )));
        }
        Ok(TlogProof {
            extra: None,
            index,
            path,
            checkpoint: signed_checkpoint.to_string(),
        })
    }

    /// Attaches application data for the `extra` line (e.g. what the verifier needs to
    /// rebuild the leaf).
    pub fn with_extra(mut self, extra: Vec<u8>) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The optional `extra` data.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The leaf index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion path, leaf sibling first.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// The signed checkpoint note, verbatim.
    pub fn checkpoint_note(&self) -> &str {
        &self.checkpoint
    }

    /// Serialises the bundle.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Parses a bundle strictly: exact header, optional `extra` line directly after it, an
    /// `index` line with a canonical decimal, at most [`MAX_PATH_LEN`] canonical base64 hash
    /// lines, a blank line, then a well-formed signed checkpoint note (not yet verified).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| format_err(1, "bundle is not valid UTF-8"))?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| format_err(1, "missing blank line before the checkpoint"))?;
        let mut lines = head.split('\n').enumerate().map(|(i, l)| (i + 1, l));

        match lines.next() {
            Some((_, TLOG_PROOF_HEADER)) => {}
            _ => {
                return Err(format_err(
                    1,
                    format!("first line must be {TLOG_PROOF_HEADER}"),
                ));
            }
        }
        let (mut line_no, mut line) = lines
            .next()
            .ok_or_else(|| format_err(2, "missing index line"))?;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(
                BASE64
                    .decode(encoded)
                    .map_err(|_| format_err(line_no, "extra is not valid base64"))?,
            );
            (line_no, line) = lines
                .next()
                .ok_or_else(|| format_err(line_no + 1, "missing index line"))?;
        }
        let index_text = line
            .strip_prefix("index ")
            .ok_or_else(|| format_err(line_no, "expected \"index <n>\""))?;
        let index = parse_index(index_text, line_no)?;
        let mut path = Vec::new();
        for (line_no, line) in lines {
            if path.len() == MAX_PATH_LEN {
                return Err(format_err(line_no, "more than 64 path hashes"));
            }
            let hash = Hash::from_base64(line, "tlog-proof path")
                .map_err(|e| format_err(line_no, e.to_string()))?;
            path.push(hash);
        }
        let first_checkpoint_line = head.matches('\n').count() + 3;
        let signed = SignedCheckpoint::parse_unverified(checkpoint.as_bytes()).map_err(|e| {
            format_err(
                first_checkpoint_line,
                format!("invalid checkpoint note: {e}"),
            )
        })?;
        if index >= signed.checkpoint().size() {
            return Err(format_err(
                first_checkpoint_line - 2,
                "index is not below the checkpoint's tree size",
            ));
        }
        Ok(TlogProof {
            extra,
            index,
            path,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Verifies the bundle offline: the checkpoint must carry a valid signature by `log_key`,
    /// and `leaf` must be included at the bundle's index in the checkpoint's tree. Returns the
    /// verified checkpoint, which callers should also check against the newest checkpoint
    /// they trust ([`Checkpoint::verify_extends`]) and their expected origin.
    ///
    /// Witness cosignature policies (k of n) are not evaluated here.
    pub fn verify(&self, leaf: Leaf<'_>, log_key: &NoteVerifier) -> Result<Checkpoint> {
        let signed = SignedCheckpoint::open(self.checkpoint.as_bytes(), log_key)?;
        let checkpoint = signed.checkpoint();
        verify_inclusion(
            self.index,
            checkpoint.size(),
            &leaf.hash(),
            &self.path,
            checkpoint.root(),
        )?;
        Ok(checkpoint.clone())
    }
}

impl fmt::Display for TlogProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{TLOG_PROOF_HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", BASE64.encode(extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.path {
            writeln!(f, "{}", hash.to_base64())?;
        }
        writeln!(f)?;
        f.write_str(&self.checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryTree;
    use crate::note::NoteSigner;

    struct Fixture {
        log: NoteSigner,
        tree: MemoryTree,
        signed: SignedCheckpoint,
    }

    fn fixture(n: u64) -> Fixture {
        let log = NoteSigner::from_seed("example.com/log", &[3; 32]).unwrap();
        let mut tree = MemoryTree::new();
        for i in 0..n {
            tree.append_leaf(format!("event {i}").as_bytes()).unwrap();
        }
        let signed = Checkpoint::new("example.com/log", n, tree.root())
            .unwrap()
            .sign(&log)
            .unwrap();
        Fixture { log, tree, signed }
    }

    #[test]
    fn build_format_parse_verify() {
        let f = fixture(13);
        let proof = TlogProof::new(6, f.tree.inclusion_proof(6, 13).unwrap(), &f.signed).unwrap();
        let bytes = proof.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 6\n"));
        assert!(text.ends_with(&f.signed.to_string()));
        let parsed = TlogProof::parse(&bytes).unwrap();
        assert_eq!(parsed, proof);
        let cp = parsed
            .verify(Leaf::Data(b"event 6"), &f.log.verifier())
            .unwrap();
        assert_eq!(cp.size(), 13);
        parsed
            .verify(Leaf::Hash(f.tree.leaf_hash(6).unwrap()), &f.log.verifier())
            .unwrap();
        // Wrong leaf, wrong key.
        assert!(matches!(
            parsed.verify(Leaf::Data(b"event 7"), &f.log.verifier()),
            Err(Error::RootMismatch { .. })
        ));
        let other = NoteSigner::from_seed("example.com/log", &[4; 32]).unwrap();
        assert!(matches!(
            parsed.verify(Leaf::Data(b"event 6"), &other.verifier()),
            Err(Error::NoVerifiedSignature)
        ));
    }

    #[test]
    fn extra_line_round_trip() {
        let f = fixture(1);
        let proof = TlogProof::new(0, Vec::new(), &f.signed)
            .unwrap()
            .with_extra(b"opaque".to_vec());
        let bytes = proof.to_bytes();
        assert!(
            String::from_utf8(bytes.clone())
                .unwrap()
                .starts_with("c2sp.org/tlog-proof@v1\nextra b3BhcXVl\nindex 0\n\n")
        );
        let parsed = TlogProof::parse(&bytes).unwrap();
        assert_eq!(parsed.extra(), Some(&b"opaque"[..]));
        parsed
            .verify(Leaf::Data(b"event 0"), &f.log.verifier())
            .unwrap();
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let f = fixture(9);
        let proof = TlogProof::new(4, f.tree.inclusion_proof(4, 9).unwrap(), &f.signed).unwrap();
        let bytes = proof.to_bytes();
        let key = f.log.verifier();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1 << (i % 8);
            let outcome =
                TlogProof::parse(&bad).and_then(|p| p.verify(Leaf::Data(b"event 4"), &key));
            assert!(outcome.is_err(), "flip at byte {i} accepted");
        }
    }

    #[test]
    fn strict_parsing() {
        let f = fixture(5);
        let path = f.tree.inclusion_proof(2, 5).unwrap();
        let good = TlogProof::new(2, path.clone(), &f.signed)
            .unwrap()
            .to_string();
        let cp = f.signed.to_string();
        let p0 = path[0].to_base64();
        let cases = [
            good.replace("tlog-proof@v1", "tlog-proof@v2"),
            good.replace("index 2", "index 02"),
            good.replace("index 2", "index  2"),
            good.replace("index 2", "index -2"),
            good.replace("index 2", "index 5"), // not below size
            good.replace("index 2\n", ""),
            good.replacen(&p0, &p0[..p0.len() - 1], 1),
            good.replacen("\n\n", "\n", 1),
            format!("c2sp.org/tlog-proof@v1\nindex 2\nextra AA==\n{p0}\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 2\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\r\nindex 2\n\n{cp}"),
            format!("c2sp.org/tlog-proof@v1\nindex 2\n{p0}\n\nnot a note"),
            format!("{good}trailing"),
        ];
        for case in &cases {
            assert!(
                TlogProof::parse(case.as_bytes()).is_err(),
                "{case:?} accepted"
            );
        }
        let many: String = (0..65).map(|_| format!("{p0}\n")).collect();
        let too_long = format!("c2sp.org/tlog-proof@v1\nindex 2\n{many}\n{cp}");
        assert!(TlogProof::parse(too_long.as_bytes()).is_err());
        assert!(TlogProof::new(5, path.clone(), &f.signed).is_err());
        assert!(TlogProof::new(0, vec![path[0]; 65], &f.signed).is_err());
    }
}
