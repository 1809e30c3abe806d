#!/usr/bin/env python3
"""Writes N unsigned `llm.trace.span.completed` events (~650 bytes, canonical JSON) to a JSONL
file, for timing `spanforge ingest` end to end: four orgs, 50 actors, 200 sessions, ULIDs in
time order. Usage: gen-span-events.py N OUT.jsonl (deterministic: seeded)."""
import json
import random
import sys

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ms, rand):
    n = (ms << 80) | rand
    return "".join(ALPHABET[(n >> (5 * i)) & 31] for i in range(25, -1, -1))


def main():
    count, path = int(sys.argv[1]), sys.argv[2]
    base_ms = 1767434400000
    random.seed(7)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            ts = (f"2026-01-03T{(i // 36000000) % 24:02d}:{(i // 600000) % 60:02d}:"
                  f"{(i // 10000) % 60:02d}.{(i % 10000) * 100:06d}Z")
            event = {
                "actor_id": f"user-{i % 50}",
                "event_id": ulid(base_ms + i // 10, random.getrandbits(80)),
                "event_type": "llm.trace.span.completed",
                "org_id": f"org-{i % 4}",
                "payload": {
                    "duration_ms": 1250.5,
                    "model": {"name": "gpt-4o", "system": "openai"},
                    "operation": "chat",
                    "span_id": f"{i + 1:016x}",
                    "span_kind": "CLIENT",
                    "span_name": "chat",
                    "start_time_unix_nano": 1767434400001000000 + i,
                    "end_time_unix_nano": 1767434401251000000 + i,
                    "status": "ok",
                    "token_usage": {"input_tokens": 121, "output_tokens": 80, "total_tokens": 201},
                    "trace_id": f"{i + 1:032x}",
                },
                "schema_version": "2.0",
                "session_id": f"sess-{i % 200}",
                "source": "my-agent@2.1.0",
                "tags": {"env": "prod", "region": "eu-west-1"},
                "timestamp": ts,
            }
            out.write(json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
            out.write("\n")


if __name__ == "__main__":
    main()
