//! The [`NodeStore`] interface that persistent layers implement, and proof generation and
//! historical roots computed from stored complete-subtree hashes in O(log n) lookups.
//!
//! A store keeps the hash of every *complete* subtree, addressed by [`NodeId`]: level 0 holds
//! leaf hashes, and the node at level `L`, index `i` covers leaves `[i * 2^L, (i + 1) * 2^L)`.
//! Those hashes never change once written, so a store can keep them in append-only tables or
//! immutable tiles. Incomplete nodes on the right edge of a tree are never stored: they are
//! recomputed from at most 64 complete subtrees when a proof or root needs them. The
//! [`Frontier`](crate::merkle::Frontier) yields exactly the complete nodes to persist as leaves
//! are appended.

use std::error::Error as StdError;

use crate::error::{Error, Result};
use crate::merkle::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::merkle::proof::{Shape, is_valid_subtree};

/// The address of a complete subtree: its level (0 = leaves) and index within that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves; a node at level `L` covers `2^L` leaves.
    pub level: u8,
    /// Position within the level, counting from 0 at the left.
    pub index: u64,
}

impl NodeId {
    /// Builds a node address.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// The address of the leaf hash at `index`.
    pub const fn leaf(index: u64) -> Self {
        NodeId { level: 0, index }
    }

    /// The leaves this node covers, as `(first, one past last)`, or `None` when the node lies
    /// beyond any representable tree (level above 63 or range past 2^64 - 1).
    pub fn leaf_range(&self) -> Option<(u64, u64)> {
        if self.level > 63 {
            return None;
        }
        let first = self.index.checked_mul(1u64 << self.level)?;
        let end = first.checked_add(1u64 << self.level)?;
        Some((first, end))
    }
}

/// Read access to stored complete-subtree hashes.
///
/// Implementations must return, for every node whose leaf range lies within `size()`, the hash
/// that [`Frontier::append`](crate::merkle::Frontier::append) emitted for it. Methods are
/// synchronous: this crate does no I/O itself and a store decides how to reach its data.
pub trait NodeStore {
    /// The store's own error type, kept as the source of [`Error::Store`].
    type Error: StdError + Send + Sync + 'static;

    /// The number of leaves the store holds.
    fn size(&self) -> Result<u64, Self::Error>;

    /// The hash of the complete subtree at `level`, `index`, or `None` if it is not stored.
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error>;

    /// Fetches several nodes at once, in order. Proof generation calls this once per proof,
    /// so a database-backed store can answer with one query. The default calls
    /// [`NodeStore::node`] for each id.
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>, Self::Error> {
        ids.iter().map(|id| self.node(id.level, id.index)).collect()
    }
}

impl<S: NodeStore + ?Sized> NodeStore for &S {
    type Error = S::Error;

    fn size(&self) -> Result<u64, Self::Error> {
        (**self).size()
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error> {
        (**self).node(level, index)
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>, Self::Error> {
        (**self).nodes(ids)
    }
}

/// Splits `[lo, hi)` into the complete subtrees that make it up, left to right, appending their
/// ids to `out`. For a range that is a node of an RFC 6962 tree these are the binary digits of
/// `hi - lo`, largest first.
fn push_complete_subtrees(lo: u64, hi: u64, out: &mut Vec<NodeId>) {
    let mut pos = lo;
    while pos < hi {
        let remaining = hi - pos;
        // The largest power of two that fits in what remains ...
        let mut level = 63 - remaining.leading_zeros();
        // ... and that `pos` is aligned to (always true for node ranges; kept for safety).
        level = level.min(pos.trailing_zeros());
        let width = 1u64 << level;
        // `level` <= 63, so the cast and shift are in range.
        out.push(NodeId::new(level as u8, pos >> level));
        pos += width;
    }
}

/// The hash of each requested range, computed from stored complete subtrees with one batched
/// store read.
fn range_hashes<S: NodeStore + ?Sized>(store: &S, ranges: &[(u64, u64)]) -> Result<Vec<Hash>> {
    let mut ids = Vec::with_capacity(ranges.len() * 2);
    let mut bounds = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges {
        let first = ids.len();
        push_complete_subtrees(lo, hi, &mut ids);
        bounds.push((first, ids.len()));
    }
    let fetched = store.nodes(&ids).map_err(Error::store)?;
    let mut hashes = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match fetched.get(i).copied().flatten() {
            Some(hash) => hashes.push(hash),
            None => {
                return Err(Error::MissingNode {
                    level: id.level,
                    index: id.index,
                });
            }
        }
    }
    let mut out = Vec::with_capacity(ranges.len());
    for (first, end) in bounds {
        let parts = hashes.get(first..end).unwrap_or(&[]);
        // Fold right to left: an RFC 6962 node whose size is not a power of two has a complete
        // left child and a right child made of the remaining parts.
        let mut parts = parts.iter().rev();
        let Some(last) = parts.next() else {
            return Err(Error::malformed("empty range in proof"));
        };
        let mut acc = *last;
        for left in parts {
            acc = node_hash(left, &acc);
        }
        out.push(acc);
    }
    Ok(out)
}

/// Checks that the store holds at least `tree_size` leaves.
fn check_size<S: NodeStore + ?Sized>(store: &S, tree_size: u64) -> Result<()> {
    let available = store.size().map_err(Error::store)?;
    if tree_size > available {
        return Err(Error::SizeBeyondStore {
            requested: tree_size,
            available,
        });
    }
    Ok(())
}

/// The hashes a proof of `shape` holds, in proof order, for a tree whose leaf 0 is at absolute
/// index `offset`.
fn proof_from_shape<S: NodeStore + ?Sized>(
    store: &S,
    shape: &Shape,
    offset: u64,
) -> Result<Vec<Hash>> {
    let mut ranges = Vec::with_capacity(shape.proof_len());
    if let Some((lo, hi)) = shape.base() {
        ranges.push((offset + lo, offset + hi));
    }
    for step in shape.steps().iter().rev() {
        ranges.push((offset + step.lo, offset + step.hi));
    }
    range_hashes(store, &ranges)
}

/// The root of the tree made of the first `tree_size` leaves of `store`, from at most 64
/// stored complete subtrees. Size 0 gives [`EMPTY_ROOT`].
pub fn root_at<S: NodeStore + ?Sized>(store: &S, tree_size: u64) -> Result<Hash> {
    check_size(store, tree_size)?;
    if tree_size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let hashes = range_hashes(store, &[(0, tree_size)])?;
    hashes
        .first()
        .copied()
        .ok_or_else(|| Error::malformed("no root computed"))
}

/// The hash of the valid subtree `[start, end)` (see
/// [`is_valid_subtree`](crate::merkle::is_valid_subtree)).
pub fn subtree_root<S: NodeStore + ?Sized>(store: &S, start: u64, end: u64) -> Result<Hash> {
    if !is_valid_subtree(start, end) {
        return Err(Error::malformed(format!(
            "[{start}, {end}) is not a valid subtree"
        )));
    }
    check_size(store, end)?;
    let hashes = range_hashes(store, &[(start, end)])?;
    hashes
        .first()
        .copied()
        .ok_or_else(|| Error::malformed("no subtree hash computed"))
}

/// The inclusion proof (audit path, leaf sibling first) for the leaf at `leaf_index` in the
/// tree of the first `tree_size` leaves. At most 64 hashes, from O(log n) stored nodes.
pub fn inclusion_proof<S: NodeStore + ?Sized>(
    store: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>> {
    if leaf_index >= tree_size {
        return Err(Error::malformed(format!(
            "leaf index {leaf_index} is not below tree size {tree_size}"
        )));
    }
    check_size(store, tree_size)?;
    let shape = Shape::new(leaf_index, leaf_index + 1, tree_size)?;
    proof_from_shape(store, &shape, 0)
}

/// The RFC 6962 consistency proof from the tree of `size1` leaves to the tree of `size2`.
///
/// Equal sizes give an empty proof. `size1 == 0` is an error, mirroring
/// [`verify_consistency`](crate::merkle::verify_consistency), because such a proof proves
/// nothing; callers that want C2SP witness semantics treat an old size of 0 as trivially
/// consistent before calling this.
pub fn consistency_proof<S: NodeStore + ?Sized>(
    store: &S,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>> {
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
    check_size(store, size2)?;
    if size1 == size2 {
        return Ok(Vec::new());
    }
    let shape = Shape::new(0, size1, size2)?;
    proof_from_shape(store, &shape, 0)
}

/// The proof that the leaf at absolute `leaf_index` is in the valid subtree `[start, end)`,
/// checked by [`verify_subtree_inclusion`](crate::merkle::verify_subtree_inclusion).
pub fn subtree_inclusion_proof<S: NodeStore + ?Sized>(
    store: &S,
    leaf_index: u64,
    start: u64,
    end: u64,
) -> Result<Vec<Hash>> {
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
    check_size(store, end)?;
    let relative = leaf_index - start;
    let shape = Shape::new(relative, relative + 1, end - start)?;
    proof_from_shape(store, &shape, start)
}

/// The proof that the subtree `[start, end)` is part of the tree of the first `tree_size`
/// leaves, checked by
/// [`verify_subtree_consistency`](crate::merkle::verify_subtree_consistency). An empty subtree
/// gets an empty proof.
pub fn subtree_consistency_proof<S: NodeStore + ?Sized>(
    store: &S,
    start: u64,
    end: u64,
    tree_size: u64,
) -> Result<Vec<Hash>> {
    if start > end || end > tree_size {
        return Err(Error::malformed(format!(
            "subtree [{start}, {end}) is not within a tree of size {tree_size}"
        )));
    }
    check_size(store, tree_size)?;
    if start == end {
        return Ok(Vec::new());
    }
    if !is_valid_subtree(start, end) {
        return Err(Error::malformed(format!(
            "[{start}, {end}) is not a valid subtree"
        )));
    }
    let shape = Shape::new(start, end, tree_size)?;
    proof_from_shape(store, &shape, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::memory::MemoryTree;
    use crate::merkle::proof::verify_inclusion;

    /// A store that forgets one node, or fails outright, on top of a memory tree.
    struct Faulty {
        inner: MemoryTree,
        forget: Option<NodeId>,
        fail: bool,
        batches: std::cell::Cell<usize>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("disk on fire")]
    struct Fire;

    impl NodeStore for Faulty {
        type Error = Fire;

        fn size(&self) -> Result<u64, Fire> {
            if self.fail {
                Err(Fire)
            } else {
                Ok(self.inner.size())
            }
        }

        fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Fire> {
            if self.forget == Some(NodeId::new(level, index)) {
                return Ok(None);
            }
            Ok(self.inner.node(level, index).unwrap_or(None))
        }

        fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>, Fire> {
            self.batches.set(self.batches.get() + 1);
            ids.iter().map(|id| self.node(id.level, id.index)).collect()
        }
    }

    fn faulty(forget: Option<NodeId>, fail: bool) -> Faulty {
        let mut inner = MemoryTree::new();
        for i in 0u32..21 {
            inner.append_leaf(&i.to_be_bytes()).unwrap();
        }
        Faulty {
            inner,
            forget,
            fail,
            batches: std::cell::Cell::new(0),
        }
    }

    #[test]
    fn one_batched_read_per_proof() {
        let store = faulty(None, false);
        let proof = inclusion_proof(&store, 3, 21).unwrap();
        assert_eq!(store.batches.get(), 1);
        let root = store.inner.root();
        verify_inclusion(3, 21, &store.inner.leaf_hash(3).unwrap(), &proof, &root).unwrap();
        consistency_proof(&store, 5, 21).unwrap();
        assert_eq!(store.batches.get(), 2);
    }

    #[test]
    fn missing_nodes_and_store_errors_surface() {
        // Leaf 3's path in a tree of 21 needs the right sibling [16, 21), which is computed
        // from the complete nodes (2, 4) and (0, 20).
        let store = faulty(Some(NodeId::new(2, 4)), false);
        assert!(matches!(
            inclusion_proof(&store, 3, 21),
            Err(Error::MissingNode { level: 2, index: 4 })
        ));
        assert!(matches!(
            root_at(&store, 21),
            Err(Error::MissingNode { .. })
        ));
        // Other proofs that do not need the node still work.
        inclusion_proof(&store, 3, 16).unwrap();
        let broken = faulty(None, true);
        let err = inclusion_proof(&broken, 0, 1).unwrap_err();
        assert!(matches!(err, Error::Store { .. }));
        assert_eq!(
            std::error::Error::source(&err).map(|e| e.to_string()),
            Some("disk on fire".to_owned())
        );
        assert!(matches!(
            inclusion_proof(&store, 0, 22),
            Err(Error::SizeBeyondStore {
                requested: 22,
                available: 21
            })
        ));
    }

    #[test]
    fn complete_subtree_decomposition() {
        let mut out = Vec::new();
        push_complete_subtrees(0, 13, &mut out);
        assert_eq!(
            out,
            vec![NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
        out.clear();
        push_complete_subtrees(8, 13, &mut out);
        assert_eq!(out, vec![NodeId::new(2, 2), NodeId::new(0, 12)]);
        out.clear();
        push_complete_subtrees(0, u64::MAX, &mut out);
        assert_eq!(out.len(), 64);
        assert_eq!(out.first(), Some(&NodeId::new(63, 0)));
    }

    #[test]
    fn node_leaf_ranges() {
        assert_eq!(NodeId::new(0, 5).leaf_range(), Some((5, 6)));
        assert_eq!(NodeId::new(3, 2).leaf_range(), Some((16, 24)));
        assert_eq!(NodeId::new(63, 1).leaf_range(), None);
        assert_eq!(NodeId::new(64, 0).leaf_range(), None);
    }
}
