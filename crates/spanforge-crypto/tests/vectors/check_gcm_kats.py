#!/usr/bin/env python3
"""Re-checks nist-gcm-ext-iv256.json against OpenSSL (via the `cryptography` package).

The vectors are NIST CAVP data; this script is how their transcription was verified before they
were committed. Run: target/venv/bin/python crates/spanforge-crypto/tests/vectors/check_gcm_kats.py
"""
import json
import pathlib
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

path = pathlib.Path(__file__).with_name("nist-gcm-ext-iv256.json")
vectors = json.loads(path.read_text())["vectors"]
for i, v in enumerate(vectors):
    out = AESGCM(bytes.fromhex(v["key"])).encrypt(
        bytes.fromhex(v["iv"]), bytes.fromhex(v["pt"]), bytes.fromhex(v["aad"]) or None
    )
    if out.hex() != v["ct"] + v["tag"]:
        sys.exit(f"vector {i} does not match OpenSSL")
print(f"{len(vectors)} vectors match OpenSSL")
