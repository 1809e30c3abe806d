//! AES-256-GCM known-answer tests: NIST CAVP gcmEncryptExtIV256 vectors, run one by one against
//! the AEAD implementation this crate uses.
#![allow(clippy::unwrap_used)]

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

fn field(v: &serde_json::Value, name: &str) -> Vec<u8> {
    hex::decode(v[name].as_str().unwrap()).unwrap()
}

#[test]
fn nist_cavp_aes256_gcm_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/nist-gcm-ext-iv256.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read NIST GCM vectors at {path}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 25);
    for (i, v) in vectors.iter().enumerate() {
        let cipher = Aes256Gcm::new_from_slice(&field(v, "key")).unwrap();
        let nonce = Nonce::try_from(field(v, "iv").as_slice()).unwrap();
        let (pt, aad, ct) = (field(v, "pt"), field(v, "aad"), field(v, "ct"));
        let tag = Tag::try_from(field(v, "tag").as_slice()).unwrap();

        let mut buf = pt.clone();
        let got = cipher
            .encrypt_inout_detached(&nonce, &aad, InOutBuf::from(buf.as_mut_slice()))
            .unwrap();
        assert_eq!(buf, ct, "vector {i}: ciphertext");
        assert_eq!(got, tag, "vector {i}: tag");

        cipher
            .decrypt_inout_detached(&nonce, &aad, InOutBuf::from(buf.as_mut_slice()), &tag)
            .unwrap();
        assert_eq!(buf, pt, "vector {i}: decryption");

        let mut bad = tag;
        bad[0] ^= 1;
        let mut buf = ct.clone();
        assert!(
            cipher
                .decrypt_inout_detached(&nonce, &aad, InOutBuf::from(buf.as_mut_slice()), &bad)
                .is_err(),
            "vector {i}: a wrong tag must be rejected"
        );
    }
}
