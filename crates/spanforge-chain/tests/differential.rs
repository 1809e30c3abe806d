//! Differential and mutation tests: store-backed proofs and frontier roots against a naive
//! transcription of the RFC 6962 definitions (`MTH`, `PATH`, `SUBPROOF`), and "any mutation
//! of a valid proof, root, index or size is rejected".
//!
//! One subtlety is inherent to RFC 6962: an inclusion or consistency proof binds the *shape*
//! of the path, not the tree size itself, so a different size whose path has the same shape
//! (e.g. leaf 0 in trees of 5 and 7 leaves) accepts the same proof for the same root. A signed
//! checkpoint binds size and root together, which is why bundles always carry one. The size
//! mutation tests therefore assert: a mutated size is rejected whenever its path shape differs.

// Test helpers outside #[test] functions may unwrap: a failure is a broken fixture.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use spanforge_chain::Error;
use spanforge_chain::merkle::{
    Frontier, Hash, MemoryTree, consistency_proof, inclusion_proof, is_valid_subtree, leaf_hash,
    node_hash, root_at, root_from_leaf_hashes, subtree_consistency_proof, subtree_inclusion_proof,
    subtree_root, verify_consistency, verify_inclusion, verify_subtree_consistency,
    verify_subtree_inclusion,
};

/// What one proof entry does when folded, used to compare path shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// The first hash of a consistency proof whose old tree is not a single node.
    Base,
    /// A sibling on the left; `old` when it also belongs to the old tree.
    Left { old: bool },
    /// A sibling on the right.
    Right,
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1.1 `PATH(m, D[n])`, with the role of each entry.
fn ref_path(m: usize, leaves: &[Hash]) -> Vec<(Hash, Op)> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = ref_path(m, &leaves[..k]);
        path.push((root_from_leaf_hashes(&leaves[k..]), Op::Right));
        path
    } else {
        let mut path = ref_path(m - k, &leaves[k..]);
        path.push((root_from_leaf_hashes(&leaves[..k]), Op::Left { old: false }));
        path
    }
}

/// RFC 6962 §2.1.2 `SUBPROOF(m, D[n], b)`, with the role of each entry.
fn ref_subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<(Hash, Op)> {
    let n = leaves.len();
    if m == n {
        return if b {
            Vec::new()
        } else {
            vec![(root_from_leaf_hashes(leaves), Op::Base)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut proof = ref_subproof(m, &leaves[..k], b);
        proof.push((root_from_leaf_hashes(&leaves[k..]), Op::Right));
        proof
    } else {
        let mut proof = ref_subproof(m - k, &leaves[k..], false);
        proof.push((root_from_leaf_hashes(&leaves[..k]), Op::Left { old: true }));
        proof
    }
}

/// The roles of the entries of `PATH(index, D[size])`, computed from sizes alone.
fn path_shape(index: u64, size: u64) -> Vec<Op> {
    if size <= 1 {
        return Vec::new();
    }
    let k = split(size as usize) as u64;
    let (mut ops, last) = if index < k {
        (path_shape(index, k), Op::Right)
    } else {
        (path_shape(index - k, size - k), Op::Left { old: false })
    };
    ops.push(last);
    ops
}

/// The roles of the entries of `SUBPROOF(size1, D[size2], true)`, from sizes alone.
fn consistency_shape(size1: u64, size2: u64) -> Vec<Op> {
    fn sub(m: u64, n: u64, b: bool) -> Vec<Op> {
        if m == n {
            return if b { Vec::new() } else { vec![Op::Base] };
        }
        let k = split(n as usize) as u64;
        let (mut ops, last) = if m <= k {
            (sub(m, k, b), Op::Right)
        } else {
            (sub(m - k, n - k, false), Op::Left { old: true })
        };
        ops.push(last);
        ops
    }
    sub(size1, size2, true)
}

fn hashes(proof: &[(Hash, Op)]) -> Vec<Hash> {
    proof.iter().map(|(h, _)| *h).collect()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut bytes = hash.to_bytes();
    bytes[(bit / 8) % 32] ^= 1 << (bit % 8);
    Hash::from_bytes(bytes)
}

/// Distinct leaves derived from a seed, and the tree built from them.
fn build(seed: u64, n: u64) -> (Vec<Hash>, MemoryTree) {
    let mut tree = MemoryTree::new();
    let mut leaves = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut data = seed.to_be_bytes().to_vec();
        data.extend_from_slice(&i.to_be_bytes());
        leaves.push(leaf_hash(&data));
        tree.append_leaf(&data).unwrap();
    }
    (leaves, tree)
}

/// Checks one inclusion proof against the reference and every single mutation of it.
fn check_inclusion(leaves: &[Hash], tree: &MemoryTree, n: u64, i: u64, bit: usize) {
    let root = root_from_leaf_hashes(&leaves[..n as usize]);
    let leaf = leaves[i as usize];
    let proof = inclusion_proof(tree, i, n).unwrap();
    let reference = ref_path(i as usize, &leaves[..n as usize]);
    assert_eq!(proof, hashes(&reference));
    let ops: Vec<Op> = reference.iter().map(|(_, op)| *op).collect();
    assert_eq!(path_shape(i, n), ops);
    verify_inclusion(i, n, &leaf, &proof, &root).unwrap();

    for j in 0..proof.len() {
        let mut bad = proof.clone();
        bad[j] = flip(&bad[j], bit);
        assert!(verify_inclusion(i, n, &leaf, &bad, &root).is_err());
    }
    assert!(matches!(
        verify_inclusion(i, n, &leaf, &proof, &flip(&root, bit)),
        Err(Error::RootMismatch { .. })
    ));
    assert!(verify_inclusion(i, n, &flip(&leaf, bit), &proof, &root).is_err());
    // Dropping, adding or reordering hashes is rejected.
    if !proof.is_empty() {
        assert!(verify_inclusion(i, n, &leaf, &proof[1..], &root).is_err());
        assert!(verify_inclusion(i, n, &leaf, &proof[..proof.len() - 1], &root).is_err());
    }
    let mut longer = proof.clone();
    longer.push(leaf);
    assert!(verify_inclusion(i, n, &leaf, &longer, &root).is_err());
    if proof.len() >= 2 && proof[0] != proof[1] {
        let mut swapped = proof.clone();
        swapped.swap(0, 1);
        assert!(verify_inclusion(i, n, &leaf, &swapped, &root).is_err());
    }
    for b in 0..64 {
        let i2 = i ^ (1u64 << b);
        assert!(
            verify_inclusion(i2, n, &leaf, &proof, &root).is_err(),
            "index {i} -> {i2} of {n} accepted"
        );
        let n2 = n ^ (1u64 << b);
        let accepted = verify_inclusion(i, n2, &leaf, &proof, &root).is_ok();
        if accepted {
            assert!(n2 < 1 << 20, "size {n2} accepted");
            assert_eq!(
                path_shape(i, n2),
                path_shape(i, n),
                "size {n} -> {n2} accepted with a different path shape"
            );
        }
    }
}

/// Checks one consistency proof against the reference and every single mutation of it.
fn check_consistency(leaves: &[Hash], tree: &MemoryTree, m: u64, n: u64, bit: usize) {
    let root1 = root_from_leaf_hashes(&leaves[..m as usize]);
    let root2 = root_from_leaf_hashes(&leaves[..n as usize]);
    let proof = consistency_proof(tree, m, n).unwrap();
    let reference = ref_subproof(m as usize, &leaves[..n as usize], true);
    assert_eq!(proof, hashes(&reference));
    let ops: Vec<Op> = reference.iter().map(|(_, op)| *op).collect();
    assert_eq!(consistency_shape(m, n), ops);
    verify_consistency(m, n, &proof, &root1, &root2).unwrap();
    // With start 0 the subtree variant is the same proof.
    assert_eq!(subtree_consistency_proof(tree, 0, m, n).unwrap(), proof);
    verify_subtree_consistency(0, m, n, &proof, &root1, &root2).unwrap();

    for j in 0..proof.len() {
        let mut bad = proof.clone();
        bad[j] = flip(&bad[j], bit);
        assert!(verify_consistency(m, n, &bad, &root1, &root2).is_err());
    }
    if m != n {
        assert!(verify_consistency(m, n, &proof, &flip(&root1, bit), &root2).is_err());
    }
    assert!(verify_consistency(m, n, &proof, &root1, &flip(&root2, bit)).is_err());
    if !proof.is_empty() {
        assert!(verify_consistency(m, n, &proof[1..], &root1, &root2).is_err());
    }
    let mut longer = proof.clone();
    longer.push(root1);
    assert!(verify_consistency(m, n, &longer, &root1, &root2).is_err());
    for b in 0..64 {
        let m2 = m ^ (1u64 << b);
        if m2 <= n && m2 != 0 && verify_consistency(m2, n, &proof, &root1, &root2).is_ok() {
            assert_eq!(
                consistency_shape(m2, n),
                consistency_shape(m, n),
                "size1 {m} -> {m2} accepted with a different shape"
            );
        }
        let n2 = n ^ (1u64 << b);
        if verify_consistency(m, n2, &proof, &root1, &root2).is_ok() {
            assert!(n2 < 1 << 20 && n2 >= m, "size2 {n2} accepted");
            assert_eq!(
                consistency_shape(m, n2),
                consistency_shape(m, n),
                "size2 {n} -> {n2} accepted with a different shape"
            );
        }
    }
}

#[test]
fn exhaustive_small_trees() {
    let (leaves, tree) = build(7, 40);
    for n in 1..=40u64 {
        assert_eq!(
            tree.root_at(n).unwrap(),
            root_from_leaf_hashes(&leaves[..n as usize])
        );
        for i in 0..n {
            check_inclusion(&leaves, &tree, n, i, (i * 37 + n) as usize % 256);
        }
        for m in 1..=n {
            check_consistency(&leaves, &tree, m, n, (m * 11 + n) as usize % 256);
        }
    }
}

#[test]
fn every_valid_subtree_of_small_trees() {
    let (leaves, tree) = build(3, 24);
    for n in 1..=24u64 {
        let root = root_from_leaf_hashes(&leaves[..n as usize]);
        for start in 0..n {
            for end in start + 1..=n {
                if !is_valid_subtree(start, end) {
                    assert!(subtree_consistency_proof(&tree, start, end, n).is_err());
                    continue;
                }
                let sub = root_from_leaf_hashes(&leaves[start as usize..end as usize]);
                assert_eq!(subtree_root(&tree, start, end).unwrap(), sub);
                let proof = subtree_consistency_proof(&tree, start, end, n).unwrap();
                verify_subtree_consistency(start, end, n, &proof, &sub, &root).unwrap();
                for j in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[j] = flip(&bad[j], j * 5);
                    assert!(verify_subtree_consistency(start, end, n, &bad, &sub, &root).is_err());
                }
                assert!(
                    verify_subtree_consistency(start, end, n, &proof, &flip(&sub, 1), &root)
                        .is_err()
                );
                assert!(
                    verify_subtree_consistency(start, end, n, &proof, &sub, &flip(&root, 9))
                        .is_err()
                );
                for i in start..end {
                    let proof = subtree_inclusion_proof(&tree, i, start, end).unwrap();
                    let leaf = leaves[i as usize];
                    verify_subtree_inclusion(i, start, end, &leaf, &proof, &sub).unwrap();
                    for j in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[j] = flip(&bad[j], 200);
                        assert!(
                            verify_subtree_inclusion(i, start, end, &leaf, &bad, &sub).is_err()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn frontier_resume_matches_uninterrupted_tree() {
    let (leaves, tree) = build(11, 300);
    let mut uninterrupted = Frontier::new();
    let mut resumed = Frontier::new();
    for (i, leaf) in leaves.iter().enumerate() {
        uninterrupted.push(*leaf).unwrap();
        // Persist and restore the frontier at irregular points, as a crash-restart would.
        if i % 7 == 3 || i % 64 == 63 {
            let bytes = resumed.to_bytes();
            resumed = Frontier::from_bytes(&bytes).unwrap();
            resumed
                .verify(i as u64, &root_from_leaf_hashes(&leaves[..i]))
                .unwrap();
        }
        resumed.push(*leaf).unwrap();
        assert_eq!(resumed.root(), uninterrupted.root());
        assert_eq!(resumed.root(), tree.root_at(i as u64 + 1).unwrap());
    }
    // A frontier rebuilt from stored nodes equals the live one at every size.
    for n in [0u64, 1, 2, 3, 64, 100, 255, 256, 299, 300] {
        let rebuilt = Frontier::from_store(&tree, n).unwrap();
        assert_eq!(rebuilt.size(), n);
        assert_eq!(rebuilt.root(), root_at(&tree, n).unwrap());
        rebuilt.verify_against_store(&tree).unwrap();
    }
    assert_eq!(Frontier::from_store(&tree, 300).unwrap(), *tree.frontier());
    assert!(Frontier::from_store(&tree, 301).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_trees_up_to_1024(
        seed in any::<u64>(),
        n in 1u64..=1024,
        i_frac in 0.0f64..1.0,
        m_frac in 0.0f64..1.0,
        bit in 0usize..256,
    ) {
        let (leaves, tree) = build(seed, n);
        prop_assert_eq!(tree.root(), root_from_leaf_hashes(&leaves));
        let i = ((n as f64 * i_frac) as u64).min(n - 1);
        let m = ((n as f64 * m_frac) as u64).clamp(1, n);
        check_inclusion(&leaves, &tree, n, i, bit);
        check_consistency(&leaves, &tree, m, n, bit);
        // A random valid subtree ending within the tree.
        let width = 1u64 << (bit % 11);
        let start = (i / width) * width;
        let end = (start + (m % width) + 1).min(n);
        if is_valid_subtree(start, end) {
            let sub = root_from_leaf_hashes(&leaves[start as usize..end as usize]);
            let proof = subtree_consistency_proof(&tree, start, end, n).unwrap();
            prop_assert!(verify_subtree_consistency(start, end, n, &proof, &sub, &tree.root()).is_ok());
            let inc = subtree_inclusion_proof(&tree, start, start, end).unwrap();
            prop_assert!(verify_subtree_inclusion(start, start, end, &leaves[start as usize], &inc, &sub).is_ok());
        }
    }

    #[test]
    fn verifiers_never_panic_on_arbitrary_input(
        a in any::<u64>(),
        b in any::<u64>(),
        c in any::<u64>(),
        len in 0usize..80,
        byte in any::<u8>(),
    ) {
        let h = Hash::from_bytes([byte; 32]);
        let proof = vec![node_hash(&h, &h); len];
        let _ = verify_inclusion(a, b, &h, &proof, &h);
        let _ = verify_consistency(a, b, &proof, &h, &h);
        let _ = verify_subtree_inclusion(a, b, c, &h, &proof, &h);
        let _ = verify_subtree_consistency(a, b, c, &proof, &h, &h);
        let (small, tree) = build(1, 5);
        let _ = small;
        let _ = inclusion_proof(&tree, a % 8, b % 8);
        let _ = consistency_proof(&tree, a % 8, b % 8);
        let _ = subtree_consistency_proof(&tree, a % 8, b % 8, c % 8);
        let _ = subtree_inclusion_proof(&tree, a % 8, b % 8, c % 8);
        let _ = root_at(&tree, a);
    }
}

#[test]
fn inclusion_proofs_bind_path_shape_not_size() {
    // Leaf 0 has the path shape Right, Right, Right in trees of 5, 6, 7 and 8 leaves, so a
    // proof against the size-5 root also "verifies" with sizes 6 and 7. Only a checkpoint that
    // signs (size, root) together pins the size; sizes with another shape are rejected.
    let (leaves, tree) = build(5, 9);
    let root5 = root_at(&tree, 5).unwrap();
    let proof = inclusion_proof(&tree, 0, 5).unwrap();
    for size in [5, 6, 7, 8] {
        assert_eq!(path_shape(0, size), path_shape(0, 5));
        verify_inclusion(0, size, &leaves[0], &proof, &root5).unwrap();
    }
    for size in [1, 2, 3, 4, 9] {
        assert!(verify_inclusion(0, size, &leaves[0], &proof, &root5).is_err());
    }
}
