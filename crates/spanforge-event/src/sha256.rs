//! SHA-256 of a whole message in one call, for the digests computed for every event.
//!
//! The streaming hasher (`sha2::Sha256`) copies input into its block buffer between calls, and
//! with the `zeroize` feature, which the crates that hold keys enable for the whole build, it
//! wipes its state when dropped. For the digests of public bytes that the ledger computes per
//! event (payload checksums, Merkle leaves and nodes) neither does anything useful. Here the
//! whole blocks of the message go straight from the input to the same compression function
//! (`sha2::block_api::compress256`, which uses the CPU's SHA extensions where it has them) and
//! only the last one or two blocks are padded on the stack.

use sha2::block_api::compress256;

/// SHA-256's block length in bytes.
const BLOCK_LEN: usize = 64;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 of `prefix` (when given) followed by `data`.
fn digest(prefix: Option<u8>, data: &[u8]) -> [u8; 32] {
    let mut state = IV;
    let total = u64::from(prefix.is_some()) + data.len() as u64;
    // The last one or two blocks: what is left of the message, 0x80, zeros, and the
    // message's length in bits, big-endian, in the last eight bytes.
    let mut last = [0u8; 2 * BLOCK_LEN];
    let mut used = 0;
    let mut rest = data;
    if let Some(prefix) = prefix {
        if let Some((head, tail)) = data.split_at_checked(BLOCK_LEN - 1) {
            // A first block of the prefix and 63 bytes of data; the rest stays aligned to
            // the input.
            let mut first = [0u8; BLOCK_LEN];
            first[0] = prefix;
            first[1..].copy_from_slice(head);
            compress256(&mut state, &[first]);
            rest = tail;
        } else {
            last[0] = prefix;
            used = 1;
        }
    }
    let (blocks, tail) = rest.as_chunks::<BLOCK_LEN>();
    compress256(&mut state, blocks);
    last[used..used + tail.len()].copy_from_slice(tail);
    used += tail.len();
    last[used] = 0x80;
    let end = if used + 1 + 8 <= BLOCK_LEN {
        BLOCK_LEN
    } else {
        2 * BLOCK_LEN
    };
    last[end - 8..end].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
    compress256(&mut state, last[..end].as_chunks::<BLOCK_LEN>().0);
    let mut out = [0u8; 32];
    for (bytes, word) in out.as_chunks_mut::<4>().0.iter_mut().zip(state) {
        *bytes = word.to_be_bytes();
    }
    out
}

/// SHA-256 of `data`.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    digest(None, data)
}

/// SHA-256 of the byte `prefix` followed by `data` (RFC 6962's leaf and node hashes).
#[must_use]
pub fn sha256_prefixed(prefix: u8, data: &[u8]) -> [u8; 32] {
    digest(Some(prefix), data)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn reference(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    #[test]
    fn agrees_with_the_streaming_hasher_at_every_length_around_the_block_edges() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in 0..data.len() {
            let d = &data[..len];
            assert_eq!(sha256(d), reference(&[d]), "len {len}");
            assert_eq!(
                sha256_prefixed(0x00, d),
                reference(&[&[0x00], d]),
                "len {len}"
            );
            assert_eq!(
                sha256_prefixed(0x01, d),
                reference(&[&[0x01], d]),
                "len {len}"
            );
        }
    }

    #[test]
    fn known_answers() {
        // FIPS 180-4 examples.
        assert_eq!(sha256(b"abc"), reference(&[b"abc"]),);
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }
}
