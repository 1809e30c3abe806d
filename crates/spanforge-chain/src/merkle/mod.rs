//! RFC 6962 / RFC 9162 Merkle trees: hashing, proof verification, storage-backed proof
//! generation and the append frontier.
//!
//! * [`leaf_hash`], [`node_hash`], [`EMPTY_ROOT`] and the [`Hash`](struct@Hash) newtype are the RFC 6962
//!   hashing rules.
//! * [`verify_inclusion`], [`verify_consistency`], [`verify_subtree_inclusion`] and
//!   [`verify_subtree_consistency`] check proofs strictly: 32-byte hashes by type, exact proof
//!   lengths, no consistency from the empty tree, and no panics or overflow on any input.
//! * [`NodeStore`] is what a persistent layer implements; [`inclusion_proof`],
//!   [`consistency_proof`] and friends build proofs from it in O(log n) reads.
//! * [`Frontier`] appends leaves in amortised O(1) and tells the store which complete nodes to
//!   persist; [`MemoryTree`] combines both in memory.
//! * [`root_from_leaves`] is the naive recursive definition, kept as a test oracle.

mod frontier;
mod hash;
mod memory;
mod proof;
mod raw;
mod reference;
mod store;

pub use frontier::Frontier;
pub use hash::{EMPTY_ROOT, HASH_LEN, Hash, leaf_hash, node_hash};
pub use memory::MemoryTree;
pub use proof::{
    is_valid_subtree, root_from_inclusion_proof, verify_consistency, verify_inclusion,
    verify_subtree_consistency, verify_subtree_inclusion,
};
pub use raw::{verify_consistency_bytes, verify_subtree_consistency_bytes};
pub use reference::{root_from_leaf_hashes, root_from_leaves};
pub use store::{
    NodeId, NodeStore, consistency_proof, inclusion_proof, root_at, subtree_consistency_proof,
    subtree_inclusion_proof, subtree_root,
};
