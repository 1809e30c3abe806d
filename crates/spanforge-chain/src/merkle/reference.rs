//! Naive, recursive RFC 6962 Merkle tree hash (`MTH`) straight from the RFC's definition.
//!
//! These functions hash every leaf and node on each call. They exist as an obviously correct
//! reference for tests and for small trees, not for production paths; use
//! [`Frontier`](crate::merkle::Frontier) or a [`NodeStore`](crate::merkle::NodeStore) instead.

use crate::merkle::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
use crate::merkle::proof::largest_power_of_two_below;

/// `MTH(D[n])` over raw log entries: hashes each entry as a leaf, then builds the tree.
pub fn root_from_leaves<T: AsRef<[u8]>>(leaves: &[T]) -> Hash {
    let hashes: Vec<Hash> = leaves.iter().map(|leaf| leaf_hash(leaf.as_ref())).collect();
    root_from_leaf_hashes(&hashes)
}

/// `MTH` over already-computed leaf hashes, splitting at the largest power of two below `n`.
pub fn root_from_leaf_hashes(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes {
        [] => EMPTY_ROOT,
        [single] => *single,
        _ => {
            // Slice lengths fit in u64 on every supported target, and k < len.
            let k = largest_power_of_two_below(leaf_hashes.len() as u64) as usize;
            let (left, right) = leaf_hashes.split_at(k);
            node_hash(&root_from_leaf_hashes(left), &root_from_leaf_hashes(right))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6962 test leaves used by transparency-dev (`testonly/constants.go`).
    fn rfc_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect()
    }

    #[test]
    fn rfc_known_answer_roots() {
        let leaves = rfc_leaves();
        assert_eq!(root_from_leaves::<Vec<u8>>(&[]), EMPTY_ROOT);
        let r1 = root_from_leaves(&leaves[..1]).to_hex();
        assert!(r1.starts_with("6e340b9c") && r1.ends_with("a01d"), "{r1}");
        let r3 = root_from_leaves(&leaves[..3]).to_hex();
        assert!(r3.starts_with("aeb6bcfe") && r3.ends_with("6e77"), "{r3}");
        assert_eq!(
            root_from_leaves(&leaves).to_hex(),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }
}
