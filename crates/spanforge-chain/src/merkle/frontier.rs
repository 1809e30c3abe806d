//! The [`Frontier`]: the compact range `[0, n)` of an append-only RFC 6962 tree, i.e. the roots
//! of the at most 64 complete subtrees along its right edge.
//!
//! Appending a leaf hash merges equal-sized subtrees like a binary counter increments
//! (amortised one node hash per append) and reports every newly completed node so that a store
//! can persist it and never recompute anything. The root of the current tree is a right-to-left
//! fold of the frontier (at most 63 node hashes). The frontier serialises to a small byte
//! string so a store can persist it next to the node hashes and resume after a restart.

use crate::error::{Error, Result};
use crate::merkle::hash::{EMPTY_ROOT, HASH_LEN, Hash, node_hash};
use crate::merkle::store::{NodeId, NodeStore, root_at};

/// Version byte that opens the serialised form.
const ENCODING_VERSION: u8 = 1;
/// Bytes before the hashes: version (1) and big-endian size (8).
const HEADER_LEN: usize = 9;

/// The right-edge complete subtrees of an append-only Merkle tree of `size` leaves.
///
/// Invariant: `hashes` holds one entry per set bit of `size`, from the most significant bit
/// (the largest, leftmost subtree) to the least significant one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Frontier {
            size: 0,
            hashes: Vec::with_capacity(64),
        }
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The right-edge subtree roots, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The addresses of the right-edge subtrees, matching [`Frontier::hashes`] one to one.
    pub fn node_ids(&self) -> Vec<NodeId> {
        let mut ids = Vec::with_capacity(self.hashes.len());
        let mut pos = 0u64;
        for level in (0..64u8).rev() {
            if self.size & (1u64 << level) != 0 {
                ids.push(NodeId::new(level, pos >> level));
                pos += 1u64 << level;
            }
        }
        ids
    }

    /// The root of the current tree ([`EMPTY_ROOT`] when empty).
    pub fn root(&self) -> Hash {
        let mut subtrees = self.hashes.iter().rev();
        let Some(last) = subtrees.next() else {
            return EMPTY_ROOT;
        };
        let mut root = *last;
        for left in subtrees {
            root = node_hash(left, &root);
        }
        root
    }

    /// Appends one leaf hash and returns its index.
    ///
    /// `on_node` is called with every node completed by this append, bottom-up: first the leaf
    /// itself at level 0, then each interior node the append finished. These are exactly the
    /// hashes a [`NodeStore`] must hold; none of them changes later.
    ///
    /// Fails with [`Error::TreeFull`] when the tree already has 2^64 - 1 leaves.
    pub fn append(
        &mut self,
        leaf_hash: Hash,
        mut on_node: impl FnMut(NodeId, Hash),
    ) -> Result<u64> {
        let index = self.size;
        let new_size = index.checked_add(1).ok_or(Error::TreeFull)?;
        on_node(NodeId::leaf(index), leaf_hash);
        let mut hash = leaf_hash;
        let mut level = 0u8;
        let mut node_index = index;
        // Every set low bit of the old size is a complete subtree of the current height that
        // now has a right sibling: merge them, exactly like carrying in binary addition.
        // `index < u64::MAX` has a clear bit at or below 63, so the shift stays in range.
        while index & (1u64 << level) != 0 {
            let Some(left) = self.hashes.pop() else {
                // The invariant (one hash per set bit) makes this unreachable; failing safely
                // keeps a corrupted frontier from panicking.
                return Err(Error::FrontierEncoding {
                    reason: "frontier has fewer hashes than its size requires".into(),
                });
            };
            hash = node_hash(&left, &hash);
            level += 1;
            node_index >>= 1;
            on_node(NodeId::new(level, node_index), hash);
        }
        self.hashes.push(hash);
        self.size = new_size;
        Ok(index)
    }

    /// Appends one leaf hash, discarding the completed nodes. Returns the leaf's index.
    pub fn push(&mut self, leaf_hash: Hash) -> Result<u64> {
        self.append(leaf_hash, |_, _| {})
    }

    /// Serialises as: version byte `0x01`, size as 8 big-endian bytes, then one 32-byte hash
    /// per set bit of the size, largest subtree first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.hashes.len() * HASH_LEN);
        out.push(ENCODING_VERSION);
        out.extend_from_slice(&self.size.to_be_bytes());
        for hash in &self.hashes {
            out.extend_from_slice(hash.as_bytes());
        }
        out
    }

    /// Parses the form written by [`Frontier::to_bytes`], checking the version and that the
    /// number of hashes matches the size exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (header, body) =
            bytes
                .split_at_checked(HEADER_LEN)
                .ok_or_else(|| Error::FrontierEncoding {
                    reason: format!("{} bytes is shorter than the 9-byte header", bytes.len()),
                })?;
        let (version, size_bytes) = header.split_at(1);
        if version != [ENCODING_VERSION] {
            return Err(Error::FrontierEncoding {
                reason: format!("unknown version {:?}", version.first()),
            });
        }
        let size_array: [u8; 8] = size_bytes.try_into().map_err(|_| Error::FrontierEncoding {
            reason: "truncated size".into(),
        })?;
        let size = u64::from_be_bytes(size_array);
        let expected = size.count_ones() as usize * HASH_LEN;
        if body.len() != expected {
            return Err(Error::FrontierEncoding {
                reason: format!(
                    "size {size} needs {expected} bytes of hashes, found {}",
                    body.len()
                ),
            });
        }
        let mut hashes = Vec::with_capacity(64);
        for chunk in body.chunks_exact(HASH_LEN) {
            hashes.push(Hash::from_slice(chunk, "frontier hash")?);
        }
        Ok(Frontier { size, hashes })
    }

    /// Rebuilds the frontier of the first `size` leaves from a store's complete subtrees.
    pub fn from_store<S: NodeStore + ?Sized>(store: &S, size: u64) -> Result<Self> {
        let available = store.size().map_err(Error::store)?;
        if size > available {
            return Err(Error::SizeBeyondStore {
                requested: size,
                available,
            });
        }
        let mut frontier = Frontier {
            size,
            hashes: Vec::with_capacity(64),
        };
        let ids = frontier.node_ids();
        let fetched = store.nodes(&ids).map_err(Error::store)?;
        for (i, id) in ids.iter().enumerate() {
            match fetched.get(i).copied().flatten() {
                Some(hash) => frontier.hashes.push(hash),
                None => {
                    return Err(Error::MissingNode {
                        level: id.level,
                        index: id.index,
                    });
                }
            }
        }
        Ok(frontier)
    }

    /// Checks that this frontier describes the tree of `size` leaves with root `root`, e.g. a
    /// frontier restored from storage against the last signed checkpoint.
    pub fn verify(&self, size: u64, root: &Hash) -> Result<()> {
        if self.size != size {
            return Err(Error::FrontierEncoding {
                reason: format!("frontier holds {} leaves, expected {size}", self.size),
            });
        }
        if self.root() != *root {
            return Err(Error::RootMismatch {
                what: "frontier root",
            });
        }
        Ok(())
    }

    /// Checks this frontier against the root the store computes for the same size, catching a
    /// frontier and a node table that disagree after a crash.
    pub fn verify_against_store<S: NodeStore + ?Sized>(&self, store: &S) -> Result<()> {
        let stored = root_at(store, self.size)?;
        self.verify(self.size, &stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::hash::leaf_hash;
    use crate::merkle::reference::root_from_leaf_hashes;

    #[test]
    fn roots_match_reference_and_nodes_are_emitted_once() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut frontier = Frontier::new();
        let mut emitted = Vec::new();
        assert_eq!(frontier.root(), EMPTY_ROOT);
        for (i, leaf) in leaves.iter().enumerate() {
            let index = frontier
                .append(*leaf, |id, hash| emitted.push((id, hash)))
                .unwrap();
            assert_eq!(index, i as u64);
            assert_eq!(frontier.root(), root_from_leaf_hashes(&leaves[..=i]));
            assert_eq!(
                frontier.hashes().len(),
                frontier.size().count_ones() as usize
            );
        }
        // Each complete node appears once and hashes its leaves.
        let mut ids: Vec<NodeId> = emitted.iter().map(|(id, _)| *id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), emitted.len());
        for (id, hash) in &emitted {
            let (lo, hi) = id.leaf_range().unwrap();
            assert!(hi <= 70);
            assert_eq!(
                *hash,
                root_from_leaf_hashes(&leaves[lo as usize..hi as usize])
            );
        }
        // 70 leaves have 70 + 35 + 17 + 8 + 4 + 2 + 1 complete nodes.
        assert_eq!(emitted.len(), 137);
    }

    #[test]
    fn serialisation_round_trip_and_rejections() {
        let mut frontier = Frontier::new();
        assert_eq!(
            Frontier::from_bytes(&frontier.to_bytes()).unwrap(),
            frontier
        );
        for i in 0u32..13 {
            frontier.push(leaf_hash(&i.to_le_bytes())).unwrap();
        }
        let bytes = frontier.to_bytes();
        assert_eq!(bytes.len(), 9 + 3 * 32);
        let restored = Frontier::from_bytes(&bytes).unwrap();
        assert_eq!(restored, frontier);
        restored.verify(13, &frontier.root()).unwrap();
        assert!(restored.verify(12, &frontier.root()).is_err());
        assert!(matches!(
            restored.verify(13, &EMPTY_ROOT),
            Err(Error::RootMismatch { .. })
        ));

        assert!(Frontier::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Frontier::from_bytes(&bytes[..5]).is_err());
        let mut extra = bytes.clone();
        extra.extend_from_slice(&[0; 32]);
        assert!(Frontier::from_bytes(&extra).is_err());
        let mut version = bytes.clone();
        version[0] = 2;
        assert!(Frontier::from_bytes(&version).is_err());
        let mut size = bytes;
        size[8] = 12; // two set bits instead of three
        assert!(Frontier::from_bytes(&size).is_err());
    }

    #[test]
    fn full_tree_is_an_error() {
        let mut bytes = vec![1u8];
        bytes.extend_from_slice(&u64::MAX.to_be_bytes());
        bytes.extend(std::iter::repeat_n(7u8, 64 * 32));
        let mut frontier = Frontier::from_bytes(&bytes).unwrap();
        assert_eq!(frontier.node_ids().len(), 64);
        assert!(matches!(
            frontier.push(leaf_hash(b"x")),
            Err(Error::TreeFull)
        ));
        assert_eq!(frontier.size(), u64::MAX);
    }
}
