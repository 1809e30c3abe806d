//! Property tests for the text formats: checkpoint and tlog-proof round trips on random
//! contents, parsers that never panic on arbitrary bytes, and mutations that never verify.

// Test helpers outside #[test] functions may unwrap: a failure is a broken fixture.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use proptest::prelude::*;
use spanforge_chain::checkpoint::{Checkpoint, SignedCheckpoint};
use spanforge_chain::merkle::{Hash, MemoryTree};
use spanforge_chain::note::{Note, NoteSigner, NoteVerifier};
use spanforge_chain::tlog_proof::{Leaf, TlogProof};

fn log_key() -> &'static NoteSigner {
    static KEY: OnceLock<NoteSigner> = OnceLock::new();
    KEY.get_or_init(|| NoteSigner::from_seed("log.example/ai", &[11; 32]).unwrap())
}

fn verifier() -> NoteVerifier {
    log_key().verifier()
}

/// A tree of 37 entries and a bundle for every leaf, built once.
fn bundles() -> &'static Vec<Vec<u8>> {
    static BUNDLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        let mut tree = MemoryTree::new();
        for i in 0..37u32 {
            tree.append_leaf(format!("entry {i}").as_bytes()).unwrap();
        }
        let signed = Checkpoint::new("log.example/ai", 37, tree.root())
            .unwrap()
            .sign(log_key())
            .unwrap();
        (0..37)
            .map(|i| {
                TlogProof::new(i, tree.inclusion_proof(i, 37).unwrap(), &signed)
                    .unwrap()
                    .to_bytes()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn checkpoint_text_round_trips(
        origin in "[a-z0-9./_-]{1,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        extensions in proptest::collection::vec("[ -~]{1,30}", 0..3),
    ) {
        let mut cp = Checkpoint::new(&origin, size, Hash::from_bytes(root)).unwrap();
        for ext in &extensions {
            cp = cp.with_extension(ext).unwrap();
        }
        let text = cp.to_text();
        prop_assert_eq!(Checkpoint::parse(&text).unwrap(), cp.clone());
        let signed = cp.sign(log_key()).unwrap();
        let opened = SignedCheckpoint::open(&signed.to_bytes(), &verifier()).unwrap();
        prop_assert_eq!(opened.checkpoint(), &cp);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Note::parse(&bytes);
        let _ = TlogProof::parse(&bytes);
        let _ = SignedCheckpoint::parse_unverified(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse(text);
            let _ = NoteVerifier::from_vkey(text);
            let _ = NoteSigner::from_skey(text);
        }
    }

    #[test]
    fn bundle_mutations_never_verify(
        index in 0usize..37,
        pos in any::<prop::sample::Index>(),
        bit in 0u8..8,
        other in 0usize..37,
    ) {
        let bytes = &bundles()[index];
        let entry = format!("entry {index}");
        let parsed = TlogProof::parse(bytes).unwrap();
        prop_assert_eq!(parsed.to_bytes(), bytes.clone());
        prop_assert!(parsed.verify(Leaf::Data(entry.as_bytes()), &verifier()).is_ok());
        // Any single bit flip anywhere in the bundle is rejected.
        let mut bad = bytes.clone();
        bad[pos.index(bytes.len())] ^= 1 << bit;
        let outcome = TlogProof::parse(&bad)
            .and_then(|p| p.verify(Leaf::Data(entry.as_bytes()), &verifier()));
        prop_assert!(outcome.is_err());
        // Another entry does not verify against this bundle.
        if other != index {
            let wrong = format!("entry {other}");
            prop_assert!(parsed.verify(Leaf::Data(wrong.as_bytes()), &verifier()).is_err());
        }
    }
}
