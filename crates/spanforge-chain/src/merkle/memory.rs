//! [`MemoryTree`]: an in-memory [`NodeStore`] driven by a [`Frontier`], for tests, benchmarks
//! and small logs that do not need persistence.

use std::convert::Infallible;

use crate::error::Result;
use crate::merkle::frontier::Frontier;
use crate::merkle::hash::{Hash, leaf_hash};
use crate::merkle::store::{self, NodeId, NodeStore};

/// An append-only RFC 6962 tree held in memory: every complete-subtree hash by level, plus the
/// frontier that produces them.
///
/// It uses about two hashes (64 bytes) per leaf. Proofs and historical roots go through the
/// same [`NodeStore`] code paths a persistent store uses.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[L][i]` is the hash of the complete node at level `L`, index `i`.
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        MemoryTree {
            levels: Vec::new(),
            frontier: Frontier::new(),
        }
    }

    /// An empty tree with room for `leaves` leaves before reallocating.
    pub fn with_capacity(leaves: usize) -> Self {
        let mut tree = MemoryTree::new();
        let mut width = leaves;
        while width > 0 {
            tree.levels.push(Vec::with_capacity(width));
            width /= 2;
        }
        tree
    }

    /// Hashes `data` as a leaf (`SHA-256(0x00 || data)`), appends it and returns its index.
    pub fn append_leaf(&mut self, data: &[u8]) -> Result<u64> {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Appends an already-computed leaf hash and returns its index.
    pub fn append_leaf_hash(&mut self, hash: Hash) -> Result<u64> {
        let levels = &mut self.levels;
        self.frontier.append(hash, |id, node| {
            let level = usize::from(id.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            // Completed nodes arrive in index order per level, so pushing keeps
            // `levels[L][i]` addressed by index.
            if let Some(row) = levels.get_mut(level) {
                row.push(node);
            }
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The root of the tree made of the first `tree_size` leaves.
    pub fn root_at(&self, tree_size: u64) -> Result<Hash> {
        store::root_at(self, tree_size)
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        self.node_at(NodeId::leaf(index))
    }

    /// The frontier (compact range) of the current tree.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// The inclusion proof for `leaf_index` in the tree of the first `tree_size` leaves.
    pub fn inclusion_proof(&self, leaf_index: u64, tree_size: u64) -> Result<Vec<Hash>> {
        store::inclusion_proof(self, leaf_index, tree_size)
    }

    /// The consistency proof from the tree of `size1` leaves to the tree of `size2` leaves.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>> {
        store::consistency_proof(self, size1, size2)
    }

    fn node_at(&self, id: NodeId) -> Option<Hash> {
        let index = usize::try_from(id.index).ok()?;
        self.levels.get(usize::from(id.level))?.get(index).copied()
    }
}

impl NodeStore for MemoryTree {
    type Error = Infallible;

    fn size(&self) -> Result<u64, Infallible> {
        Ok(self.frontier.size())
    }

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Infallible> {
        Ok(self.node_at(NodeId::new(level, index)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::proof::{verify_consistency, verify_inclusion};
    use crate::merkle::reference::root_from_leaves;

    #[test]
    fn proofs_verify_for_every_pair_up_to_33() {
        let data: Vec<Vec<u8>> = (0u32..33).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut tree = MemoryTree::with_capacity(33);
        for (i, d) in data.iter().enumerate() {
            assert_eq!(tree.append_leaf(d).unwrap(), i as u64);
        }
        for n in 1..=33u64 {
            let root = tree.root_at(n).unwrap();
            assert_eq!(root, root_from_leaves(&data[..n as usize]));
            for i in 0..n {
                let proof = tree.inclusion_proof(i, n).unwrap();
                let leaf = tree.leaf_hash(i).unwrap();
                verify_inclusion(i, n, &leaf, &proof, &root).unwrap();
            }
            for m in 1..=n {
                let proof = tree.consistency_proof(m, n).unwrap();
                verify_consistency(m, n, &proof, &tree.root_at(m).unwrap(), &root).unwrap();
            }
        }
        assert_eq!(tree.root(), tree.root_at(33).unwrap());
        assert!(tree.root_at(34).is_err());
        assert!(tree.inclusion_proof(0, 34).is_err());
        assert!(tree.consistency_proof(0, 3).is_err());
    }
}
