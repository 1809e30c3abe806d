//! `spanforge-chain` is the integrity core of SpanForge: an RFC 6962 Merkle tree over ledger
//! entries, the C2SP signed-note, checkpoint and tlog-proof formats, and the checks that detect
//! tampering, truncation, rollback and forks.
//!
//! # Where it sits
//!
//! It is a synchronous layer above `spanforge-event` and `spanforge-crypto` and below
//! `spanforge-store`. It performs no I/O, spawns nothing, reads no clock and chooses no
//! randomness: storage comes in through the [`merkle::NodeStore`] trait, and key generation
//! takes caller-supplied random bytes. (The spanforge-compatible keyed HMAC chain will also
//! live here.)
//!
//! # Design
//!
//! * [`merkle`] hashes and verifies strictly (32-byte hashes by type, exact proof lengths,
//!   no consistency proof from an empty tree, no panics or overflow on hostile input) and
//!   generates proofs from stored complete subtrees in O(log n) reads. The [`merkle::Frontier`]
//!   appends in amortised O(1) and hands the store every node it must persist.
//! * [`note`] implements C2SP signed notes with Ed25519; [`checkpoint`] builds, signs, opens and
//!   compares tree heads; [`tlog_proof`] packages an inclusion proof with its signed checkpoint
//!   for offline verification.
//! * One error enum, [`Error`], distinguishes malformed input, root mismatches, bad
//!   signatures and history violations (rollback, fork, inconsistency).
//!
//! # Example
//!
//! ```
//! use spanforge_chain::checkpoint::{Checkpoint, SignedCheckpoint};
//! use spanforge_chain::merkle::MemoryTree;
//! use spanforge_chain::note::NoteSigner;
//! use spanforge_chain::tlog_proof::{Leaf, TlogProof};
//!
//! # fn main() -> spanforge_chain::Result<()> {
//! // Append three events to an in-memory tree.
//! let mut tree = MemoryTree::new();
//! for event in [&b"event 0"[..], b"event 1", b"event 2"] {
//!     tree.append_leaf(event)?;
//! }
//!
//! // Sign a checkpoint with the log key (the seed would come from a KMS or a key file).
//! let log_key = NoteSigner::from_seed("example.com/ledger", &[7; 32])?;
//! let signed = Checkpoint::new("example.com/ledger", tree.size(), tree.root())?.sign(&log_key)?;
//!
//! // Export an offline proof that event 1 is in the log, then verify it elsewhere.
//! let bundle = TlogProof::new(1, tree.inclusion_proof(1, tree.size())?, &signed)?.to_bytes();
//! let checkpoint = TlogProof::parse(&bundle)?.verify(Leaf::Data(b"event 1"), &log_key.verifier())?;
//! assert_eq!(checkpoint.size(), 3);
//!
//! // Later, a larger checkpoint must prove that it extends the one we trusted.
//! tree.append_leaf(b"event 3")?;
//! let newer = Checkpoint::new("example.com/ledger", tree.size(), tree.root())?;
//! let proof = tree.consistency_proof(3, 4)?;
//! newer.verify_extends(signed.checkpoint(), &proof)?;
//! # let _ = SignedCheckpoint::open(&signed.to_bytes(), &log_key.verifier())?;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! None. The crate always builds the same way.

pub mod checkpoint;
pub mod compat;
mod error;
pub mod merkle;
pub mod note;
pub mod tlog_proof;

pub use error::{Error, Result};
