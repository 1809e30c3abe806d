#!/usr/bin/env python3
"""Independent reference implementation of the AEV1 envelope (docs/adr/002-aev1-envelope.md),
used to generate tests/vectors/aev1.json.

It shares no code with the Rust crate: HKDF-Expand is written out with the standard library's
hmac module and AES-256-GCM comes from the `cryptography` package (OpenSSL). The Rust tests check
that the crate produces exactly these bytes and opens them.

Usage: target/venv/bin/python crates/spanforge-crypto/tests/vectors/gen_aev1_vectors.py > aev1.json
(needs `pip install cryptography`; `cargo xtask setup` installs it).
"""
import hashlib
import hmac
import json
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SUITE_MESSAGE_KEYS = 0x0001
SUITE_BLOCK_KEYS = 0x0002


def hkdf_expand_32(prk: bytes, info: bytes) -> bytes:
    # RFC 5869 HKDF-Expand for L = 32: T(1) = HMAC-Hash(PRK, info || 0x01).
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def encode_context(ctx: dict) -> bytes:
    items = sorted((k.encode(), v.encode()) for k, v in ctx.items())
    out = struct.pack(">H", len(items))
    for k, v in items:
        out += struct.pack(">H", len(k)) + k + struct.pack(">H", len(v)) + v
    return out


def encode_edk(edk: dict) -> bytes:
    kid = edk["key_id"].encode()
    blob = bytes.fromhex(edk["blob"])
    return (bytes([edk["provider"]]) + struct.pack(">H", len(kid)) + kid
            + struct.pack(">H", len(blob)) + blob)


def seal(v: dict) -> dict:
    dek = bytes.fromhex(v["dek"])
    mid = bytes.fromhex(v["message_id"])
    pt = bytes.fromhex(v["plaintext"])
    suite_id = v["suite"]
    suite = struct.pack(">H", suite_id)
    if suite_id == SUITE_MESSAGE_KEYS:
        # Suite 1: one key per message id, all-zero nonce.
        block, nonce = mid, b"\x00" * 12
    else:
        # Suite 2: one key per block (the id with its last 2 bytes zeroed); those 2 bytes,
        # left-padded with zeros, are the nonce.
        block, nonce = mid[:30] + b"\x00\x00", b"\x00" * 10 + mid[30:]
    commitment = hkdf_expand_32(dek, b"AEV1 commit" + suite + block)
    message_key = hkdf_expand_32(dek, b"AEV1 key" + suite + block)
    kid = v["key_id"].encode()
    header = (b"AEV\x01" + suite + b"\x00" + mid + bytes([len(kid)]) + kid
              + encode_context(v["context"]) + commitment + struct.pack(">I", len(pt) + 16))
    edks = bytes([len(v["edks"])]) + b"".join(encode_edk(e) for e in v["edks"])
    body = AESGCM(message_key).encrypt(nonce, pt, header)
    out = dict(v)
    out["commitment"] = commitment.hex()
    out["message_key"] = message_key.hex()
    out["envelope"] = (header + edks + body).hex()
    return out


def main() -> None:
    ctx = {"tenant": "acme", "event": "01J9Z3K4QW8N6V2X5T7R0M1B3C", "purpose": "ai-call/v1"}
    vectors = [
        {
            "name": "detached, empty plaintext, required context only",
            "dek": bytes(range(32)).hex(),
            "message_id": bytes(range(0x40, 0x60)).hex(),
            "key_id": "dk-00000000000000000000000000000001",
            "context": ctx,
            "edks": [],
            "plaintext": "",
        },
        {
            "name": "detached, short plaintext, subject-scoped context",
            "dek": ("11" * 32),
            "message_id": ("a5" * 32),
            "key_id": "acme/subject-key-7",
            "context": dict(ctx, subject="6b86b273ff34fce19d6b804eff5a3f57"),
            "edks": [],
            "plaintext": b"hello, AEV1".hex(),
        },
        {
            "name": "one local EDK, 100-byte plaintext",
            "dek": hashlib.sha256(b"aev1 vector 3 dek").hexdigest(),
            "message_id": hashlib.sha256(b"aev1 vector 3 message id").hexdigest(),
            "key_id": "dk-3c9a7f00e1d2b4a5968778695a4b3c2d",
            "context": dict(ctx, event="42"),
            "edks": [
                {"provider": 0xFF, "key_id": "local:main/v1",
                 "blob": "01" + hashlib.sha512(b"aev1 vector 3 edk").hexdigest()[:160]},
            ],
            "plaintext": bytes(i % 251 for i in range(100)).hex(),
        },
        {
            "name": "AWS and local EDKs, non-ASCII context value, 300-byte plaintext",
            "dek": hashlib.sha256(b"aev1 vector 4 dek").hexdigest(),
            "message_id": hashlib.sha256(b"aev1 vector 4 message id").hexdigest(),
            "key_id": "dk-ffeeddccbbaa99887766554433221100",
            "context": {"tenant": "zürich-ag", "event": "7", "purpose": "ai-call/v1",
                        "region": "eu-central-1"},
            "edks": [
                {"provider": 1,
                 "key_id": "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                 "blob": hashlib.sha512(b"aev1 vector 4 aws edk").hexdigest() * 2},
                {"provider": 0xFF, "key_id": "local:backup/v3",
                 "blob": "01" + hashlib.sha512(b"aev1 vector 4 local edk").hexdigest()[:160]},
            ],
            "plaintext": (b"The quick brown fox jumps over the lazy dog. " * 7)[:300].hex(),
        },
    ]
    vectors = [dict(v, suite=SUITE_MESSAGE_KEYS) for v in vectors] + [
        dict(v, suite=SUITE_BLOCK_KEYS, name=v["name"] + ", block-key suite")
        for v in vectors
    ]
    # Two messages of one block: same key and commitment, different nonce.
    for counter in (0x0001_0000_0000_fffe, 0x0001_0000_0000_ffff):
        vectors.append({
            "name": f"block-key suite, counter {counter:#x}",
            "suite": SUITE_BLOCK_KEYS,
            "dek": ("22" * 32),
            "message_id": (bytes(range(0x80, 0x98)) + struct.pack(">Q", counter)).hex(),
            "key_id": "dk-block",
            "context": ctx,
            "edks": [],
            "plaintext": b"same block, next nonce".hex(),
        })
    doc = {
        "description": "AEV1 envelope format vectors (suites 0x0001 and 0x0002). Generated by "
                       "gen_aev1_vectors.py, an independent Python implementation "
                       "(stdlib hmac + cryptography/OpenSSL AES-GCM). EDK blobs are "
                       "arbitrary bytes: the format treats them as opaque.",
        "vectors": [seal(v) for v in vectors],
    }
    json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
