//! Verification over untyped bytes, for proofs that arrive from a wire format or a
//! conformance suite before they have been checked into [`Hash`] values.
//!
//! The typed verifiers take 32-byte [`Hash`] values, so a field of the wrong length is refused
//! at the type boundary. A few cases never look at a hash's content: two trees of the same
//! size are consistent exactly when their roots are the same bytes, and an empty subtree is
//! consistent with any tree without consulting the tree's root. Other RFC 9162
//! implementations (transparency-dev/merkle among them) answer those cases on the bytes as
//! given, and their conformance vectors expect it. These functions do the same: they decide
//! the byte-only cases first, then convert every remaining field strictly (anything but 32
//! bytes is [`Error::HashLength`]) and call the typed verifier.

use subtle::ConstantTimeEq;

use crate::merkle::hash::{EMPTY_ROOT, Hash};
use crate::merkle::proof::{verify_consistency, verify_subtree_consistency};
use crate::{Error, Result};

fn typed(bytes: &[u8], field: &'static str) -> Result<Hash> {
    Hash::from_slice(bytes, field)
}

fn typed_proof<B: AsRef<[u8]>>(proof: &[B]) -> Result<Vec<Hash>> {
    proof.iter().map(|p| typed(p.as_ref(), "proof")).collect()
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    // `ct_eq` on slices of different lengths is false without comparing content.
    bool::from(a.ct_eq(b))
}

/// [`verify_consistency`] over raw bytes. Equal sizes (other than zero) need an empty proof and
/// byte-identical roots, whatever their length; every other case is checked strictly.
pub fn verify_consistency_bytes<B: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[B],
    root1: &[u8],
    root2: &[u8],
) -> Result<()> {
    if size1 != 0 && size1 == size2 {
        if !proof.is_empty() {
            return Err(Error::malformed(
                "consistency proof between equal sizes must be empty",
            ));
        }
        if !same_bytes(root1, root2) {
            return Err(Error::RootMismatch {
                what: "consistency: roots of equal-size trees",
            });
        }
        return Ok(());
    }
    verify_consistency(
        size1,
        size2,
        &typed_proof(proof)?,
        &typed(root1, "root1")?,
        &typed(root2, "root2")?,
    )
}

/// [`verify_subtree_consistency`] over raw bytes. An empty subtree never consults the tree
/// root, and a subtree that is the whole tree needs an empty proof and byte-identical roots;
/// every other case is checked strictly.
pub fn verify_subtree_consistency_bytes<B: AsRef<[u8]>>(
    start: u64,
    end: u64,
    tree_size: u64,
    proof: &[B],
    subtree_root: &[u8],
    root: &[u8],
) -> Result<()> {
    if start == end && end <= tree_size {
        if !proof.is_empty() {
            return Err(Error::malformed("proof for an empty subtree must be empty"));
        }
        if !same_bytes(subtree_root, EMPTY_ROOT.as_bytes()) {
            return Err(Error::RootMismatch {
                what: "subtree consistency: empty subtree hash",
            });
        }
        return Ok(());
    }
    if start == 0 && end == tree_size && proof.is_empty() {
        if !same_bytes(subtree_root, root) {
            return Err(Error::RootMismatch {
                what: "subtree consistency: tree root",
            });
        }
        return Ok(());
    }
    verify_subtree_consistency(
        start,
        end,
        tree_size,
        &typed_proof(proof)?,
        &typed(subtree_root, "subtree_root")?,
        &typed(root, "root")?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::MemoryTree;

    #[test]
    fn equal_sizes_compare_bytes_of_any_length() {
        let none: [&[u8]; 0] = [];
        assert!(verify_consistency_bytes(1, 1, &none, b"abc", b"abc").is_ok());
        assert!(verify_consistency_bytes(1, 1, &none, b"abc", b"abd").is_err());
        assert!(verify_consistency_bytes(1, 1, &none, b"abc", b"abcd").is_err());
        // Size zero stays an error, as in the typed verifier.
        assert!(verify_consistency_bytes(0, 0, &none, b"abc", b"abc").is_err());
        assert!(verify_consistency_bytes(1, 1, &[b"x".as_slice()], b"abc", b"abc").is_err());
    }

    #[test]
    fn real_proofs_are_checked_strictly() {
        let mut tree = MemoryTree::new();
        for i in 0u8..7 {
            tree.append_leaf(&[i]).unwrap();
        }
        let proof = tree.consistency_proof(3, 7).unwrap();
        let raw: Vec<Vec<u8>> = proof.iter().map(|h| h.as_bytes().to_vec()).collect();
        let r1 = tree.root_at(3).unwrap();
        let r2 = tree.root_at(7).unwrap();
        assert!(verify_consistency_bytes(3, 7, &raw, r1.as_bytes(), r2.as_bytes()).is_ok());
        assert!(verify_consistency_bytes(3, 7, &raw, r1.as_bytes(), b"short").is_err());
        let mut bad = raw.clone();
        bad[0].pop();
        assert!(matches!(
            verify_consistency_bytes(3, 7, &bad, r1.as_bytes(), r2.as_bytes()),
            Err(Error::HashLength { .. })
        ));
    }

    #[test]
    fn empty_subtree_ignores_the_tree_root() {
        let none: [&[u8]; 0] = [];
        assert!(
            verify_subtree_consistency_bytes(1, 1, 1, &none, EMPTY_ROOT.as_bytes(), b"junk")
                .is_ok()
        );
        assert!(verify_subtree_consistency_bytes(1, 1, 1, &none, b"junk", b"junk").is_err());
        assert!(
            verify_subtree_consistency_bytes(2, 2, 1, &none, EMPTY_ROOT.as_bytes(), b"junk")
                .is_err()
        );
    }
}
