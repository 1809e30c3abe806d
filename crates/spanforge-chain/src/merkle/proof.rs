//! Proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2, plus the subtree variants) and the
//! proof "shape" shared by verification and storage-backed generation.
//!
//! # One engine for four proof kinds
//!
//! Every proof this module handles says: "this subtree `[start, end)` of a tree of `size`
//! leaves hashes to X, and the whole tree hashes to Y". An inclusion proof is the subtree
//! `[i, i + 1)`; an RFC 6962 consistency proof is the prefix `[0, size1)`; the subtree
//! variants (as used by Merkle Tree Certificates and exercised by the transparency-dev
//! vectors) are general aligned subtrees.
//!
//! [`Shape`] walks from the root down the RFC 6962 split (`k` = largest power of two below
//! the node size) until it reaches the subtree, recording each sibling it passes. The proof
//! lists those siblings bottom-up, preceded by the hash of the deepest node when the subtree
//! is not itself a node of the tree (the `b = false` case of RFC 6962 `SUBPROOF`).
//! Verification folds the proof back up; generation looks the same ranges up in a store.
//! Because the number of proof hashes is fixed by the sizes, any proof of the wrong length is
//! rejected before hashing, which is the property the RFC's `sn == 0` check enforces.
//!
//! All index arithmetic is checked or provably in range, and nothing here can panic on
//! hostile sizes, indices or proofs.

use crate::error::{Error, Result};
use crate::merkle::hash::{EMPTY_ROOT, Hash, node_hash};

/// The deepest possible tree: a tree of at most 2^64 - 1 leaves has at most 64 levels of
/// interior nodes above its leaves.
pub(crate) const MAX_DEPTH: usize = 64;

/// Which side of the path a sibling hash is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// The sibling covers lower leaf indices than the path node.
    Left,
    /// The sibling covers higher leaf indices than the path node.
    Right,
}

/// One level of the descent from the root towards the subtree.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// Where the sibling sits relative to the path.
    pub(crate) side: Side,
    /// True when the sibling lies inside the subtree being proven, so it contributes to the
    /// subtree's own hash as well as to the tree root.
    pub(crate) in_subtree: bool,
    /// First leaf covered by the sibling.
    pub(crate) lo: u64,
    /// One past the last leaf covered by the sibling.
    pub(crate) hi: u64,
}

const NO_STEP: Step = Step {
    side: Side::Left,
    in_subtree: false,
    lo: 0,
    hi: 0,
};

/// The sequence of siblings (top-down) that a proof for a given subtree and tree size holds.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    steps: [Step; MAX_DEPTH],
    len: usize,
    /// When the subtree is not a single node of the tree, the proof starts with the hash of
    /// this range (the deepest node on the path, which lies inside the subtree).
    base: Option<(u64, u64)>,
}

impl Shape {
    /// Computes the shape for the subtree `[start, end)` of a tree of `size` leaves.
    ///
    /// Requires `start < end <= size` and an aligned subtree (see [`is_valid_subtree`]);
    /// returns [`Error::MalformedProof`] otherwise.
    pub(crate) fn new(start: u64, end: u64, size: u64) -> Result<Self> {
        if start >= end || end > size {
            return Err(Error::malformed(format!(
                "subtree [{start}, {end}) is empty or not within a tree of size {size}"
            )));
        }
        let mut shape = Shape {
            steps: [NO_STEP; MAX_DEPTH],
            len: 0,
            base: None,
        };
        let (mut lo, mut hi) = (0u64, size);
        // `start` moves right when the path enters the part of the subtree that lies in a
        // right child; from then on the subtree is a prefix of the current node.
        let mut start = start;
        let mut subtree_is_node = true;
        loop {
            if lo == start && hi == end {
                break;
            }
            // Here [start, end) is a strict part of [lo, hi), so hi - lo >= 2.
            let width = hi - lo;
            if width < 2 {
                return Err(Error::malformed("proof descent reached a leaf"));
            }
            let mid = lo + largest_power_of_two_below(width);
            let step = if end <= mid {
                let step = Step {
                    side: Side::Right,
                    in_subtree: false,
                    lo: mid,
                    hi,
                };
                hi = mid;
                step
            } else if start >= mid {
                let step = Step {
                    side: Side::Left,
                    in_subtree: false,
                    lo,
                    hi: mid,
                };
                lo = mid;
                step
            } else if start == lo {
                // The subtree straddles the split: its left part is the whole left child.
                let step = Step {
                    side: Side::Left,
                    in_subtree: true,
                    lo,
                    hi: mid,
                };
                lo = mid;
                start = mid;
                subtree_is_node = false;
                step
            } else {
                return Err(Error::malformed(format!(
                    "subtree ending at {end} is not aligned within the tree"
                )));
            };
            let slot = shape
                .steps
                .get_mut(shape.len)
                .ok_or_else(|| Error::malformed("proof deeper than 64 levels"))?;
            *slot = step;
            shape.len += 1;
        }
        if !subtree_is_node {
            shape.base = Some((lo, hi));
        }
        Ok(shape)
    }

    /// The siblings, top-down.
    pub(crate) fn steps(&self) -> &[Step] {
        self.steps.get(..self.len).unwrap_or(&[])
    }

    /// The range whose hash opens the proof, if any.
    pub(crate) fn base(&self) -> Option<(u64, u64)> {
        self.base
    }

    /// The exact number of hashes a proof of this shape holds.
    pub(crate) fn proof_len(&self) -> usize {
        self.len + usize::from(self.base.is_some())
    }

    /// Folds `proof` up the shape. `known` is the subtree hash when the subtree is a node.
    /// Returns `(subtree hash, tree root)` as recomputed from the proof.
    pub(crate) fn fold(&self, known: &Hash, proof: &[Hash]) -> Result<(Hash, Hash)> {
        if proof.len() != self.proof_len() {
            return Err(Error::malformed(format!(
                "proof has {} hashes, expected exactly {}",
                proof.len(),
                self.proof_len()
            )));
        }
        let mut hashes = proof.iter();
        let (mut sub, mut root) = match self.base {
            Some(_) => match hashes.next() {
                Some(first) => (*first, *first),
                None => return Err(Error::malformed("proof is empty")),
            },
            None => (*known, *known),
        };
        for (step, sibling) in self.steps().iter().rev().zip(hashes) {
            match step.side {
                Side::Right => root = node_hash(&root, sibling),
                Side::Left => {
                    if step.in_subtree {
                        sub = node_hash(sibling, &sub);
                    }
                    root = node_hash(sibling, &root);
                }
            }
        }
        Ok((sub, root))
    }
}

/// Largest power of two strictly below `n`, for `n >= 2` (the RFC 6962 split point `k`).
/// Returns 0 for `n < 2`, which callers never pass.
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    match n {
        0 | 1 => 0,
        _ => 1u64 << (63 - (n - 1).leading_zeros()),
    }
}

/// Reports whether `[start, end)` is a valid subtree: non-empty, and `start` is a multiple of
/// the smallest power of two that is at least `end - start`.
///
/// Exactly these ranges are nodes of every RFC 6962 tree that contains them whole, so their
/// hash is the Merkle tree hash of their own leaves.
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start >= end {
        return false;
    }
    match (end - start).checked_next_power_of_two() {
        Some(width) => start.is_multiple_of(width),
        // Wider than 2^63: only a range starting at 0 can be aligned.
        None => start == 0,
    }
}

/// Recomputes the root of a tree of `tree_size` leaves from a leaf hash and its inclusion
/// proof (audit path, leaf sibling first).
///
/// Fails with [`Error::MalformedProof`] when the index is out of range or the proof length is
/// wrong for the index and size.
pub fn root_from_inclusion_proof(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    if leaf_index >= tree_size {
        return Err(Error::malformed(format!(
            "leaf index {leaf_index} is not below tree size {tree_size}"
        )));
    }
    // leaf_index < tree_size <= u64::MAX, so leaf_index + 1 cannot overflow.
    let shape = Shape::new(leaf_index, leaf_index + 1, tree_size)?;
    Ok(shape.fold(leaf_hash, proof)?.1)
}

/// Verifies that `leaf_hash` is the leaf at `leaf_index` in the tree of `tree_size` leaves
/// whose root is `root` (RFC 9162 §2.1.3.2).
///
/// Returns [`Error::RootMismatch`] for a well-formed proof that leads elsewhere and
/// [`Error::MalformedProof`] for an impossible index, size or proof length.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    let computed = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, proof)?;
    if computed != *root {
        return Err(Error::RootMismatch {
            what: "inclusion root",
        });
    }
    Ok(())
}

/// Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of
/// `size2` leaves with root `root2` (RFC 9162 §2.1.4.2).
///
/// Strict rules: `size1 == 0` is an error (a proof from the empty tree is meaningless and is
/// not accepted even when `size2 == 0`); `size1 > size2` is an error; equal sizes need an empty
/// proof and equal roots.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<()> {
    if size1 == 0 {
        return Err(Error::malformed(
            "consistency proof from an empty tree is meaningless",
        ));
    }
    if size1 > size2 {
        return Err(Error::malformed(format!(
            "old tree size {size1} exceeds new tree size {size2}"
        )));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(Error::malformed(
                "consistency proof between equal sizes must be empty",
            ));
        }
        if root1 != root2 {
            return Err(Error::RootMismatch {
                what: "consistency: roots of equal-size trees",
            });
        }
        return Ok(());
    }
    let shape = Shape::new(0, size1, size2)?;
    let (old, new) = shape.fold(root1, proof)?;
    if old != *root1 {
        return Err(Error::RootMismatch {
            what: "consistency: old root",
        });
    }
    if new != *root2 {
        return Err(Error::RootMismatch {
            what: "consistency: new root",
        });
    }
    Ok(())
}

/// Verifies that `leaf_hash` is the leaf at absolute index `leaf_index` of the subtree
/// `[start, end)` whose hash is `subtree_root`.
///
/// The subtree must be valid (see [`is_valid_subtree`]) and contain the index.
pub fn verify_subtree_inclusion(
    leaf_index: u64,
    start: u64,
    end: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    subtree_root: &Hash,
) -> Result<()> {
    if !is_valid_subtree(start, end) {
        return Err(Error::malformed(format!(
            "[{start}, {end}) is not a valid subtree"
        )));
    }
    if leaf_index < start || leaf_index >= end {
        return Err(Error::malformed(format!(
            "leaf index {leaf_index} is outside subtree [{start}, {end})"
        )));
    }
    // A valid subtree hashes exactly like a standalone tree of its own leaves.
    let computed = root_from_inclusion_proof(leaf_index - start, end - start, leaf_hash, proof)?;
    if computed != *subtree_root {
        return Err(Error::RootMismatch {
            what: "subtree inclusion root",
        });
    }
    Ok(())
}

/// Verifies that the subtree `[start, end)` with hash `subtree_root` is part of the tree of
/// `tree_size` leaves with root `root`.
///
/// An empty subtree (`start == end <= tree_size`) is trivially consistent: it requires an
/// empty proof and `subtree_root` equal to the empty-tree hash, and `root` is not consulted.
/// Otherwise the subtree must be valid (see [`is_valid_subtree`]) and end within the tree.
/// With `start == 0` this is exactly [`verify_consistency`] from `end` to `tree_size`, except
/// that equal sizes need no special case.
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    tree_size: u64,
    proof: &[Hash],
    subtree_root: &Hash,
    root: &Hash,
) -> Result<()> {
    if start > end || end > tree_size {
        return Err(Error::malformed(format!(
            "subtree [{start}, {end}) is not within a tree of size {tree_size}"
        )));
    }
    if start == end {
        if !proof.is_empty() {
            return Err(Error::malformed("proof for an empty subtree must be empty"));
        }
        if *subtree_root != EMPTY_ROOT {
            return Err(Error::RootMismatch {
                what: "subtree consistency: empty subtree hash",
            });
        }
        return Ok(());
    }
    if !is_valid_subtree(start, end) {
        return Err(Error::malformed(format!(
            "[{start}, {end}) is not a valid subtree"
        )));
    }
    let shape = Shape::new(start, end, tree_size)?;
    let (sub, computed_root) = shape.fold(subtree_root, proof)?;
    if sub != *subtree_root {
        return Err(Error::RootMismatch {
            what: "subtree consistency: subtree hash",
        });
    }
    if computed_root != *root {
        return Err(Error::RootMismatch {
            what: "subtree consistency: tree root",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::hash::leaf_hash;

    #[test]
    fn split_point() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(u64::MAX), 1 << 63);
        assert_eq!(largest_power_of_two_below((1 << 63) + 1), 1 << 63);
        assert_eq!(largest_power_of_two_below(1 << 63), 1 << 62);
    }

    #[test]
    fn subtree_validity() {
        assert!(is_valid_subtree(0, 1));
        assert!(is_valid_subtree(4, 7));
        assert!(is_valid_subtree(8, 13));
        assert!(is_valid_subtree(0, u64::MAX));
        assert!(!is_valid_subtree(1, 1));
        assert!(!is_valid_subtree(2, 1));
        assert!(!is_valid_subtree(1, 3));
        assert!(!is_valid_subtree(2, 6));
        assert!(!is_valid_subtree(1, (1 << 63) + 2));
        assert!(!is_valid_subtree(1, u64::MAX));
    }

    #[test]
    fn shape_lengths_match_rfc_path_lengths() {
        // Inclusion path length is the number of levels above the leaf on its path.
        assert_eq!(Shape::new(0, 1, 1).unwrap().proof_len(), 0);
        assert_eq!(Shape::new(0, 1, 8).unwrap().proof_len(), 3);
        assert_eq!(Shape::new(6, 7, 7).unwrap().proof_len(), 2);
        // Consistency 3 -> 7: base node [2,3) plus three siblings.
        assert_eq!(Shape::new(0, 3, 7).unwrap().proof_len(), 4);
        // Consistency 4 -> 8: one sibling, no base (the old tree is a node).
        assert_eq!(Shape::new(0, 4, 8).unwrap().proof_len(), 1);
        // Giant trees never exceed 64 steps.
        let shape = Shape::new(u64::MAX - 1, u64::MAX, u64::MAX).unwrap();
        assert!(shape.proof_len() <= 64);
        let shape = Shape::new(0, u64::MAX - 1, u64::MAX).unwrap();
        assert!(shape.proof_len() <= 65);
    }

    #[test]
    fn consistency_from_the_empty_tree_is_rejected() {
        let leaf = leaf_hash(b"");
        assert!(matches!(
            verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT),
            Err(Error::MalformedProof { .. })
        ));
        assert!(verify_consistency(0, 1, &[], &EMPTY_ROOT, &leaf).is_err());
        assert!(verify_consistency(0, 1, &[leaf], &EMPTY_ROOT, &leaf).is_err());
        verify_consistency(1, 1, &[], &leaf, &leaf).unwrap();
        // The subtree variant treats an empty subtree as trivially consistent instead.
        verify_subtree_consistency(0, 0, 0, &[], &EMPTY_ROOT, &leaf).unwrap();
        verify_subtree_consistency(0, 0, 1, &[], &EMPTY_ROOT, &leaf).unwrap();
        assert!(verify_subtree_consistency(0, 0, 1, &[], &leaf, &leaf).is_err());
        assert!(verify_subtree_consistency(2, 2, 1, &[], &EMPTY_ROOT, &leaf).is_err());
    }

    #[test]
    fn hostile_inputs_are_errors_not_panics() {
        let h = leaf_hash(b"x");
        let long = vec![h; 1000];
        for (i, n) in [
            (0, 0),
            (5, 5),
            (u64::MAX, u64::MAX),
            (u64::MAX - 1, u64::MAX),
        ] {
            assert!(verify_inclusion(i, n, &h, &long, &h).is_err());
            assert!(verify_inclusion(i, n, &h, &[], &h).is_err());
        }
        for (a, b) in [
            (0, 0),
            (1, 0),
            (u64::MAX, 1),
            (1, u64::MAX),
            (u64::MAX, u64::MAX),
        ] {
            assert!(verify_consistency(a, b, &long, &h, &h).is_err());
        }
        assert!(verify_subtree_consistency(0, u64::MAX, u64::MAX, &long, &h, &h).is_err());
        assert!(verify_subtree_inclusion(u64::MAX, 0, u64::MAX, &h, &long, &h).is_err());
    }
}
