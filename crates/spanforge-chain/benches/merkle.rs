//! Merkle benchmarks: append throughput into [`MemoryTree`], proof verification at realistic
//! path lengths, and store-backed proof generation.
//!
//! Run with `cargo bench -p spanforge-chain --bench merkle`.

// Benchmarks are test code: a failed unwrap is a broken benchmark, not a user-facing error.
#![allow(clippy::unwrap_used)]
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use spanforge_chain::merkle::{
    Frontier, Hash, MemoryTree, leaf_hash, node_hash, root_from_inclusion_proof,
    verify_consistency, verify_inclusion,
};

/// Leaves per measured batch of appends.
const APPEND_BATCH: u64 = 1 << 16;
/// Size of a typical serialised AI event record.
const RECORD_LEN: usize = 500;

fn records() -> Vec<Vec<u8>> {
    (0..APPEND_BATCH)
        .map(|i| {
            let mut record = vec![0x5a; RECORD_LEN];
            record[..8].copy_from_slice(&i.to_be_bytes());
            record
        })
        .collect()
}

fn bench_hashes(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash");
    let a = leaf_hash(b"a");
    let b = leaf_hash(b"b");
    group.bench_function("node_hash", |bench| {
        bench.iter(|| node_hash(black_box(&a), black_box(&b)));
    });
    let record = vec![0x5a; RECORD_LEN];
    group.bench_function("leaf_hash_500B", |bench| {
        bench.iter(|| leaf_hash(black_box(&record)));
    });
    group.finish();
}

fn bench_append(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(APPEND_BATCH));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("memory_tree_500B_leaves", |b| {
        b.iter_batched(
            || MemoryTree::with_capacity(APPEND_BATCH as usize),
            |mut tree| {
                for record in &records {
                    tree.append_leaf(record).unwrap();
                }
                tree
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("frontier_only_500B_leaves", |b| {
        b.iter_batched(
            Frontier::new,
            |mut frontier| {
                for record in &records {
                    frontier.push(leaf_hash(record)).unwrap();
                }
                frontier
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// A deterministic pseudo-random hash for synthetic proofs.
fn synthetic_hash(seed: u64) -> Hash {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_be_bytes());
    leaf_hash(&bytes)
}

fn bench_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify_inclusion");
    // A proof for the last leaf of a size that is one below a power of two has the maximum
    // length for that size: 20 hashes near 1e6, 30 near 1e9.
    for (name, size) in [("n=1e6", 1_000_000u64), ("n=1e9", 1_000_000_000u64)] {
        let index = size / 3;
        let depth = 64 - (size - 1).leading_zeros() as usize;
        let leaf = synthetic_hash(index);
        // Build a proof of the right length for (index, size), then derive its root; a
        // synthetic proof exercises exactly the same verification work as a real one.
        let mut proof = None;
        for len in (1..=depth).rev() {
            let candidate: Vec<Hash> = (0..len as u64).map(synthetic_hash).collect();
            if root_from_inclusion_proof(index, size, &leaf, &candidate).is_ok() {
                proof = Some(candidate);
                break;
            }
        }
        let proof = proof.expect("some proof length fits the index and size");
        let root = root_from_inclusion_proof(index, size, &leaf, &proof).unwrap();
        group.bench_function(format!("{name}_path={}", proof.len()), |b| {
            b.iter(|| {
                verify_inclusion(
                    black_box(index),
                    black_box(size),
                    black_box(&leaf),
                    black_box(&proof),
                    black_box(&root),
                )
                .unwrap()
            });
        });
    }
    group.finish();
}

fn bench_proofs_from_store(c: &mut Criterion) {
    let size = 1u64 << 20;
    let mut tree = MemoryTree::with_capacity(size as usize);
    for i in 0..size {
        tree.append_leaf(&i.to_be_bytes()).unwrap();
    }
    let old = size / 3;
    let old_root = tree.root_at(old).unwrap();
    let root = tree.root();
    let mut group = c.benchmark_group("store_2^20");
    group.bench_function("inclusion_proof", |b| {
        b.iter(|| tree.inclusion_proof(black_box(123_457), size).unwrap());
    });
    group.bench_function("consistency_proof", |b| {
        b.iter(|| tree.consistency_proof(black_box(old), size).unwrap());
    });
    let proof = tree.consistency_proof(old, size).unwrap();
    group.bench_function("verify_consistency", |b| {
        b.iter(|| verify_consistency(black_box(old), size, &proof, &old_root, &root).unwrap());
    });
    group.bench_function("root_at_old_size", |b| {
        b.iter(|| tree.root_at(black_box(old)).unwrap());
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_hashes,
    bench_append,
    bench_verify,
    bench_proofs_from_store
);
criterion_main!(benches);
