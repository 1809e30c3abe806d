#!/usr/bin/env python3
"""Generate the event corpus the spanforge-event tests compare against, with the real reference SDK.

Usage (from the workspace root):

    python3 -m venv target/venv && target/venv/bin/pip install spanforge==1.0.4
    target/venv/bin/python crates/spanforge-event/tests/data/gen_events.py

It writes, next to this script:

* reference_events.jsonl         one signed event per line, as the reference's ``to_json()`` writes it: every one of
                                 the 74 registered types, plus extension types; payloads full of Python float reprs,
                                 huge integers, non-ASCII, U+2028, control characters, nested nulls; unknown
                                 top-level fields; lowercase ULIDs; schema 1.0 and 2.0. The events form one chain
                                 signed with TEST_KEY (each ``prev_id`` is the previous line's ``event_id``).
* reference_noncanonical.jsonl   {"input", "canonical"}: the same kind of events written differently (indented,
                                 ASCII-escaped, unsorted, with null fields) and what ``Event.from_json(input).to_json()``
                                 gives back.
* invalid_events.jsonl           {"line", "field", "why", "reference_rejects"}: events each broken in one field; the
                                 Rust side must reject every one and name ``field``. ``reference_rejects`` records
                                 whether the reference itself refuses it (from_json + validate()).
* field_cases.jsonl              {"field", "value", "accepted"}: single field values (event_type, source, timestamp,
                                 event_id) and whether the reference's own validators accept them.
* reference_chain_rotated.jsonl  an AuditStream chain with a key rotation and GDPR tombstones.
* reference_chain_rotated.keys.json  the secrets and key map needed to verify that chain, and the reference's own
                                 verification result.

Everything is deterministic: ids, timestamps and random choices are fixed, so re-running gives identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent

# `import spanforge` creates ./.sf-gate/ in the working directory; keep that out of the repository.
os.chdir(tempfile.mkdtemp(prefix="sf-gen-"))
os.environ.pop("SPANFORGE_SIGNING_KEY", None)

import spanforge  # noqa: E402
import spanforge.event as sf_event  # noqa: E402
from spanforge.event import Event, Tags  # noqa: E402
from spanforge.namespaces.consent import ConsentPayload  # noqa: E402
from spanforge.namespaces.decision import DecisionDriver, DecisionPayload  # noqa: E402
from spanforge.namespaces.drift import DriftPayload  # noqa: E402
from spanforge.namespaces.guard import GuardPayload  # noqa: E402
from spanforge.namespaces.hitl import HITLPayload  # noqa: E402
from spanforge.namespaces.redact import (  # noqa: E402
    RedactAppliedPayload,
    RedactPhiDetectedPayload,
    RedactPiiDetectedPayload,
)
from spanforge.namespaces.trace import CostBreakdown, ModelInfo, SpanPayload, TokenUsage  # noqa: E402
from spanforge.model_registry import ModelRegistryEntry  # noqa: E402
from spanforge.signing import AuditStream, sign, verify, verify_chain  # noqa: E402
from spanforge.types import EventType  # noqa: E402
from spanforge.ulid import _encode_ulid  # noqa: E402

assert spanforge.__version__ == "1.0.4", spanforge.__version__

TEST_KEY = "spanforge-event-corpus-test-key-0123456789abcdef"  # a test key, not a secret
ALL_TYPES = [et.value for et in EventType]
assert len(ALL_TYPES) == 74

rng = random.Random(20260103)

# --------------------------------------------------------------------------------------------------------------
# Deterministic ids and timestamps
# --------------------------------------------------------------------------------------------------------------

_BASE_MS = 1_767_434_401_250  # 2026-01-03T10:00:01.250Z
_counter = 0


def next_id_ts(lower: bool = False) -> tuple[str, str]:
    """A fresh (ULID, timestamp) pair, 37 ms and a few microseconds apart each time."""
    global _counter
    _counter += 1
    ms = _BASE_MS + 37 * _counter
    micros = ms * 1000 + (_counter * 7919) % 1000
    ulid = _encode_ulid(ms, rng.getrandbits(80))
    import datetime

    dt = datetime.datetime.fromtimestamp(micros / 1_000_000, tz=datetime.timezone.utc)
    ts = dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{micros % 1_000_000:06d}Z"
    return (ulid.lower() if lower else ulid), ts


# Events the SDK builds itself (rotate_key) take their id and time from these two module functions.
sf_event._generate_ulid = lambda: next_id_ts()[0]
sf_event._utcnow_iso = lambda: next_id_ts()[1]

# --------------------------------------------------------------------------------------------------------------
# Payload ingredients
# --------------------------------------------------------------------------------------------------------------

FLOATS = [
    1.0, 1e16, 1e-05, 1e-07, 5e-324, -0.0, 1.7976931348623157e308, 0.1, 123456789012345.6, 2.5e-10, 1e22,
    0.0001, 1000000000000000.0, 3.141592653589793, -1.5e-300, 12345678.9, float("nan"), float("inf"),
    float("-inf"),
]
INTS = [0, -1, 2**53 + 1, 2**63, 2**64 + 1, 10**30, -(10**40), 18446744073709551617]
TEXTS = [
    "caf\u00e9",
    "\u65e5\u672c\u8a9e",
    "\U0001f600 emoji",
    "line\u2028sep\u2029para",
    "ctrl\x00\x01\x1f\x7f end",
    "tab\there nl\nhere cr\rhere",
    'quote" backslash\\ slash/',
    "ZWJ \U0001f469\u200d\U0001f4bb",
    "e\u0301 combining",
    "\ud7ff\ue000\uffff",
    "",
]


def torture(i: int) -> dict:
    """Awkward JSON for payloads: varies with i so the corpus covers many combinations."""
    pick = lambda seq, n: [seq[(i * 7 + k * 3) % len(seq)] for k in range(n)]  # noqa: E731
    return {
        "floats": pick(FLOATS, 5),
        "ints": pick(INTS, 3),
        "text": pick(TEXTS, 3),
        "nested": {
            "none": None,
            "list": [None, {"deep": None, "\u00e9": pick(FLOATS, 1)[0]}, []],
            "": "empty key",
            "Z": i,
            "\U0001f600": {"a": {"b": {"c": [i, None]}}},
            "key\u2028": True,
        },
        "big": INTS[i % len(INTS)] * (i + 1),
        "exp": FLOATS[i % len(FLOATS)] * 10.0 ** ((i % 9) - 4),
    }


H64 = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731


def typed_payload(event_type: str, i: int) -> dict:
    """A payload that the reference's own payload class for this type accepts (to_dict output), when it has one."""
    if event_type.startswith("llm.trace.span."):
        start = 1_767_434_400_000_000_000 + i * 1_000_000
        end = start + 1_250_000_000 + i
        return SpanPayload(
            span_id=f"{i:016x}",
            trace_id=f"{i:032x}",
            span_name=f"chat-{TEXTS[i % 3]}",
            operation="chat",
            span_kind="CLIENT",
            status={"llm.trace.span.failed": "error"}.get(event_type, "ok"),
            start_time_unix_nano=start,
            end_time_unix_nano=end,
            duration_ms=(end - start) / 1_000_000,
            model=ModelInfo(system="openai", name="gpt-4o", version="2024-08-06"),
            token_usage=TokenUsage(input_tokens=120 + i, output_tokens=80, total_tokens=200 + i, cached_tokens=0),
            cost=CostBreakdown(input_cost_usd=0.0003, output_cost_usd=0.0008, total_cost_usd=0.0011),
            temperature=0.7,
            attributes={"weird": torture(i)},
            error="boom" if event_type.endswith("failed") else None,
        ).to_dict()
    if event_type.startswith("model_registry."):
        e = ModelRegistryEntry(
            model_id=f"model-{i}",
            name="GPT-4o \u2014 support",
            version="2024-08",
            risk_tier=["low", "medium", "high", "critical"][i % 4],
            owner="platform-team",
            purpose="customer support",
            status={"deprecated": "deprecated", "retired": "retired"}.get(event_type.split(".")[1], "active"),
            deployment_date="2026-01-01T00:00:00.000000Z",
            metadata={"note": torture(i)["text"], "weights": None},
        )
        d = e.to_dict()
        assert "decommission_date" in d  # a null member the payload keeps
        return d
    if event_type == "llm.audit.key.rotated":
        return {"rotation_marker": "true", "new_secret_hash": H64(f"next-key-{i}"), "reason": "scheduled",
                "rotated_by": "ops-team"}
    if event_type == "llm.audit.tombstone":
        return {"erased_subject_id_hash": H64(f"user-{i}"), "original_event_type": "decision.made",
                "erased_by": "dpo@example.com", "reason": "GDPR Art.17 right to erasure",
                "erasure_request_ref": f"REQ-{i}"}
    if event_type.startswith("llm.guard."):
        direction, action = event_type.split(".")[2:4]
        return GuardPayload(classifier="toxicity-v2", direction=direction, action=action, score=0.5 + i / 1000,
                            threshold=0.8, categories=["toxicity", "pii"], triggered_categories=["toxicity"],
                            latency_ms=1.25e-3, content_hash=H64("content")).to_dict()
    if event_type == "llm.redact.pii.detected":
        return RedactPiiDetectedPayload(detected_categories=["email", "phone"], field_names=["payload.prompt"],
                                        sensitivity_level="PII", detection_count=2, detector="presidio").to_dict()
    if event_type == "llm.redact.phi.detected":
        return RedactPhiDetectedPayload(detected_categories=["diagnosis"], field_names=["payload.note"],
                                        hipaa_covered=True).to_dict()
    if event_type == "llm.redact.applied":
        return RedactAppliedPayload(policy_min_sensitivity="PII", redacted_by="policy-7", redacted_count=3,
                                    redacted_field_names=["a", "b", "c"], verified=False).to_dict()
    if event_type.startswith("drift."):
        return DriftPayload(metric_name="latency_p95", agent_id="agent-1", current_value=1.5e3, baseline_mean=900.0,
                            baseline_stddev=1e-05, z_score=3.2, threshold=3.0, window_seconds=3600,
                            status=event_type.split(".")[1], kl_divergence=2.5e-7).to_dict()
    if event_type.startswith("decision."):
        return DecisionPayload(decision_id=f"dec-{i}", agent_id="agent-1", decision_type="routing",
                               input_summary="route \u2028 ticket", output_summary="tier-2", confidence=0.875,
                               latency_ms=12.5, rationale_hash=H64("because"),
                               decision_drivers=[DecisionDriver(factor_name="urgency", weight=0.6, contribution=-0.25,
                                                                evidence="SLA \u00e9", confidence=0.9)],
                               actor={"user_id": "user-42", "roles": None}).to_dict()
    if event_type.startswith("hitl."):
        status = {"queued": "queued", "reviewed": "approved", "escalated": "escalated", "timeout": "timeout"}
        return HITLPayload(decision_id=f"dec-{i}", agent_id="agent-1", risk_tier="high",
                           status=status[event_type.split(".")[1]], reason="high-risk action", reviewer="alice",
                           queued_at="2026-01-03T10:00:00.000000Z", confidence=0.42).to_dict()
    if event_type.startswith("consent."):
        return ConsentPayload(subject_id="user-42", scope="chat-history", purpose="support",
                              status=event_type.split(".")[1], legal_basis="contract", data_categories=["email"],
                              violation_detail="used for ads" if event_type.endswith("violation") else None).to_dict()
    return {"kind": event_type, "seq": i}


EXTENSION_TYPES = [
    "com.example.model.call.completed",
    "x.acme.foo.bar",
    "com.example-corp.billing.invoice_sent",
    "io.k8s.cluster.pod.restarted",
    "llmx.tools.run.done",
]

# --------------------------------------------------------------------------------------------------------------
# reference_events.jsonl
# --------------------------------------------------------------------------------------------------------------


def build(event_type: str, i: int, prev: Event | None) -> tuple[Event, str]:
    lower = i % 9 == 4
    event_id, ts = next_id_ts(lower=lower)
    payload = typed_payload(event_type, i)
    if i % 3 != 2:
        payload = dict(payload, x_torture=torture(i))
    opt: dict = {}
    if i % 2 == 0:
        opt.update(trace_id=f"{rng.getrandbits(128):032x}", span_id=f"{rng.getrandbits(64):016x}")
    if i % 4 == 0:
        opt["parent_span_id"] = f"{rng.getrandbits(64):016x}"
    if i % 3 == 0:
        opt.update(org_id="acme", team_id="support \u00e9quipe")
    if i % 5 == 1:
        opt.update(actor_id=f"user-{i}", session_id=f"sess\u2028{i}")
    if i % 4 == 1:
        opt["tags"] = Tags(env="prod", region="eu-west-1", **{"\u00fcber": "v\u00e4l", "ctrl": "a\x01b", "Z": "z"})
    elif i % 4 == 3:
        opt["tags"] = Tags()
    event = Event(
        schema_version="1.0" if i % 11 == 5 else "2.0",
        event_id=event_id,
        event_type=event_type,
        timestamp=ts,
        source=["support-bot@3.0.0", "my-agent@2.1.0-beta.1", "A_b.c-d@10.20.30.40", "x@0.0.1.rc1"][i % 4],
        payload=payload,
        **opt,
    )
    event.validate()
    signed = sign(event, TEST_KEY, prev_event=prev)
    assert verify(signed, TEST_KEY)
    if i % 2 == 1:
        # Unknown top-level fields survive from_dict / to_json; null ones are dropped by to_json.
        d = signed.to_dict()
        d.update({"x_unknown": {"nested": [None, 1.0, "\u2028"]}, "zz_last": 10**25, "aa_first": "A",
                  "prev": None, "payloads": [1e16]})
        signed = Event.from_dict(d)
        signed.validate()
    return signed, signed.to_json()


def write_corpus() -> list[str]:
    lines: list[str] = []
    prev: Event | None = None
    types = ALL_TYPES + EXTENSION_TYPES + ALL_TYPES[::7]
    for i, et in enumerate(types):
        prev, line = build(et, i, prev)
        lines.append(line)
    # Boundary: a payload nested exactly 10 levels deep is accepted.
    deep: dict = {"leaf": 1}
    for _ in range(8):
        deep = {"d": deep}
    assert _depth(deep) == 10
    event_id, ts = next_id_ts()
    e = Event(event_id=event_id, event_type="confidence.sample", timestamp=ts, source="bot@1.0.0", payload=deep)
    e = Event.from_json(e.to_json())
    e.validate()
    prev = sign(e, TEST_KEY, prev_event=prev)
    lines.append(prev.to_json())
    # Boundary: exactly 50 tags.
    event_id, ts = next_id_ts()
    e = Event(event_id=event_id, event_type="latency.sample", timestamp=ts, source="bot@1.0.0",
              payload={"ms": 1e-05}, tags=Tags(**{f"k{n:02d}": f"v{n}" for n in range(50)}))
    e = Event.from_json(e.to_json())
    e.validate()
    prev = sign(e, TEST_KEY, prev_event=prev)
    lines.append(prev.to_json())
    # Every line reads back and re-serialises identically in the reference too.
    for line in lines:
        again = Event.from_json(line)
        again.validate()
        assert again.to_json() == line
    return lines


def _depth(v) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 1


# --------------------------------------------------------------------------------------------------------------
# reference_noncanonical.jsonl
# --------------------------------------------------------------------------------------------------------------


def write_noncanonical(lines: list[str]) -> list[dict]:
    out = []
    for n, line in enumerate(lines[::6]):
        d = json.loads(line)
        d["trace_id"] = None
        d["org_id"] = None if "org_id" not in d else d["org_id"]
        d["x_null_unknown"] = None
        items = list(d.items())
        rng.shuffle(items)
        shuffled = dict(items)
        text = json.dumps(shuffled, indent=(None if n % 2 else 2), ensure_ascii=bool(n % 3),
                          separators=((", ", ": ") if n % 2 else None))
        canonical = Event.from_json(text).to_json()
        out.append({"input": text, "canonical": canonical})
    return out


# --------------------------------------------------------------------------------------------------------------
# invalid_events.jsonl
# --------------------------------------------------------------------------------------------------------------

BASE = {
    "event_id": "01KDZ5T8Q3M9V6W2X4Y7Z0A1B3",
    "event_type": "llm.trace.span.completed",
    "org_id": "acme",
    "payload": {"span_name": "chat", "status": "ok", "nested": {"a": None}},
    "schema_version": "2.0",
    "source": "support-bot@3.0.0",
    "tags": {"env": "prod"},
    "timestamp": "2026-01-03T10:00:01.250000Z",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
}


def reference_rejects(text: str) -> bool:
    try:
        Event.from_json(text).validate()
    except Exception:  # noqa: BLE001 - any refusal counts
        return True
    return False


def invalid_cases() -> list[dict]:
    cases: list[tuple[str, str, object]] = []

    def mutate(field: str, why: str, **changes):
        d = json.loads(json.dumps(BASE))
        for k, v in changes.items():
            if v is _DROP:
                d.pop(k, None)
            else:
                d[k] = v
        cases.append((field, why, json.dumps(d, ensure_ascii=False, separators=(",", ":"))))

    deep: object = 1
    for _ in range(9):
        deep = {"d": deep}
    assert _depth({"d": deep}) == 11
    mutate("event_id", "required field missing", event_id=_DROP)
    mutate("event_id", "required field null", event_id=None)
    mutate("event_id", "not a ULID", event_id="not-a-ulid")
    mutate("event_id", "contains U", event_id="01KDZ5T8Q3M9V6W2X4Y7Z0A1BU")
    mutate("event_id", "time beyond 48 bits", event_id="81KDZ5T8Q3M9V6W2X4Y7Z0A1B3")
    mutate("event_id", "25 characters", event_id="01KDZ5T8Q3M9V6W2X4Y7Z0A1B")
    mutate("event_id", "a number", event_id=12345)
    mutate("event_type", "unregistered type in a reserved namespace", event_type="decision.made.extra")
    mutate("event_type", "future-reserved namespace", event_type="llm.rag.query")
    mutate("event_type", "unknown llm namespace", event_type="llm.drift.detected")
    mutate("event_type", "three segments outside the registry", event_type="a.b.c")
    mutate("event_type", "bare namespace with extension shape", event_type="chain.x.y.z")
    mutate("event_type", "uppercase", event_type="LLM.trace.span.completed")
    mutate("event_type", "trailing newline (the reference's $ allows it)", event_type="com.example.a.b\n")
    mutate("event_type", "required field null", event_type=None)
    mutate("timestamp", "three fractional digits", timestamp="2026-01-03T10:00:01.250Z")
    mutate("timestamp", "no fraction", timestamp="2026-01-03T10:00:01Z")
    mutate("timestamp", "not a leap year", timestamp="2023-02-29T00:00:00.000000Z")
    mutate("timestamp", "hour 24", timestamp="2026-01-03T24:00:00.000000Z")
    mutate("timestamp", "offset instead of Z", timestamp="2026-01-03T10:00:01.250000+00:00")
    mutate("timestamp", "a number", timestamp=1767434401.25)
    mutate("source", "no version", source="langsmith-import")
    mutate("source", "two-part version", source="bot@1.0")
    mutate("source", "hyphen inside suffix", source="bot@1.0.0-beta-1")
    mutate("source", "trailing newline (the reference's $ allows it)", source="bot@1.0.0\n")
    mutate("source", "Arabic-Indic digit (the reference's \\d allows it)", source="bot@\u0661.0.0")
    mutate("schema_version", "unknown version", schema_version="3.0")
    mutate("schema_version", "a number", schema_version=2.0)
    mutate("payload", "empty object", payload={})
    mutate("payload", "an array", payload=[1, 2])
    mutate("payload", "a string", payload="x")
    mutate("payload", "missing", payload=_DROP)
    mutate("payload", "nested 11 deep", payload={"d": deep})
    mutate("trace_id", "uppercase hex", trace_id="4BF92F3577B34DA6A3CE929D0E0E4736")
    mutate("trace_id", "31 characters", trace_id="4bf92f3577b34da6a3ce929d0e0e473")
    mutate("span_id", "15 characters", span_id="00f067aa0ba902b")
    mutate("span_id", "a number", span_id=7)
    mutate("parent_span_id", "not hex", parent_span_id="zzzzzzzzzzzzzzzz")
    mutate("org_id", "empty", org_id="")
    mutate("team_id", "a number", team_id=5)
    mutate("actor_id", "empty", actor_id="")
    mutate("session_id", "an array", session_id=["s"])
    mutate("tags", "51 tags", tags={f"k{n}": "v" for n in range(51)})
    mutate("tags.env", "empty tag value", tags={"env": ""})
    mutate("tags.env", "number tag value", tags={"env": 1})
    mutate("tags", "empty tag key", tags={"": "v"})
    mutate("tags", "tags as an array", tags=["env"])
    mutate("prev_id", "not a ULID", prev_id="not-a-ulid")
    mutate("checksum", "md5 prefix (validate() does not check checksum format)", checksum="md5:" + "0" * 32)
    mutate("checksum", "uppercase hex", checksum="sha256:" + "A" * 64)
    mutate("signature", "short mac", signature="hmac-sha256:abcd")
    out = [{"line": line, "field": field, "why": why, "reference_rejects": reference_rejects(line)}
           for field, why, line in cases]
    # Whole-event failures.
    for line, why in [
        ("[1, 2]", "top level is not an object"),
        ('{"event_id": ', "truncated JSON"),
        (json.dumps(BASE)[:-1] + ', "org_id": "dup"}', "duplicate key (json.loads keeps the last; we refuse)"),
        (json.dumps(BASE).replace('"chat"', '"\\ud800"'), "lone surrogate (the reference accepts, then cannot sign)"),
    ]:
        out.append({"line": line, "field": "<event>", "why": why, "reference_rejects": reference_rejects(line)})
    return out


class _Drop:
    pass


_DROP = _Drop()

# --------------------------------------------------------------------------------------------------------------
# field_cases.jsonl
# --------------------------------------------------------------------------------------------------------------


def field_cases() -> list[dict]:
    from spanforge.event import _validate_event_id, _validate_event_type, _validate_source, _validate_timestamp

    def accepted(fn, v) -> bool:
        try:
            fn(v)
        except Exception:  # noqa: BLE001
            return False
        return True

    values: dict[str, set[str]] = {"event_type": set(ALL_TYPES), "source": set(), "timestamp": set(),
                                   "event_id": set()}
    segs = ["llm", "trace", "cost", "audit", "decision", "chain", "tool_call", "com", "example", "x", "a", "b1",
            "c_d", "e-f", "rag", "drift", "made", "span", "completed", "Z", "9", "", "model_registry", "hitl"]
    for _ in range(3000):
        n = rng.randint(1, 6)
        values["event_type"].add(".".join(rng.choice(segs) for _ in range(n)))
    for t in ALL_TYPES:
        values["event_type"].add(t + ".x")
        values["event_type"].add(t.rsplit(".", 1)[0])
    for _ in range(1500):
        name = rng.choice(["a", "Bot", "my-agent", "x.y_z", "1a", "_a", "", "a b", "A9"])
        ver = ".".join(str(rng.randint(0, 20)) for _ in range(rng.choice([2, 3, 3, 3, 4])))
        suffix = rng.choice(["", "", "-beta.1", ".rc1", "-", "+build", "-a-b", ".", "-x..y", "_1"])
        sep = rng.choice(["@", "@", "@", "#", "@@"])
        values["source"].add(name + sep + ver + suffix)
    for _ in range(1500):
        y = rng.choice([0, 1, 1970, 1999, 2000, 2023, 2024, 2100, 9999])
        mo, d = rng.randint(0, 13), rng.randint(0, 32)
        h, mi, s = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
        frac = rng.choice(["123456", "000000", "999999", "12345", "1234567", ""])
        dot = "." if frac else ""
        z = rng.choice(["Z", "Z", "Z", "z", "+00:00", ""])
        values["timestamp"].add(f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{dot}{frac}{z}")
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyzILOUilou-"
    for _ in range(1500):
        n = rng.choice([25, 26, 26, 26, 27])
        values["event_id"].add("".join(rng.choice(alphabet) for _ in range(n)))
        values["event_id"].add(rng.choice("012345678") + "".join(rng.choice(alphabet[:56]) for _ in range(25)))
    validators = {"event_type": _validate_event_type, "source": _validate_source, "timestamp": _validate_timestamp,
                  "event_id": _validate_event_id}
    return [{"field": f, "value": v, "accepted": accepted(validators[f], v)}
            for f in sorted(values) for v in sorted(values[f])]


# --------------------------------------------------------------------------------------------------------------
# reference_chain_rotated.jsonl
# --------------------------------------------------------------------------------------------------------------

CHAIN_KEY_1 = "chain-test-key-one-0123456789abcdef0123456789"  # test keys, not secrets
CHAIN_KEY_2 = "chain-test-key-two-fedcba9876543210fedcba9876"
SUBJECT = "user-42@example.com"


def write_chain() -> tuple[list[str], dict]:
    stream = AuditStream(org_secret=CHAIN_KEY_1, source="audit-daemon@1.0.0")
    for i in range(6):
        event_id, ts = next_id_ts(lower=(i == 2))
        stream.append(Event(event_id=event_id, event_type=ALL_TYPES[(i * 11) % 74], timestamp=ts,
                            source="support-bot@3.0.0", payload=dict(typed_payload(ALL_TYPES[(i * 11) % 74], i),
                                                                    x_torture=torture(i)),
                            org_id="acme", tags=Tags(env="prod")))
    rotation = stream.rotate_key(CHAIN_KEY_2, metadata={"reason": "scheduled", "rotated_by": "ops-team"})
    for i in range(6, 12):
        event_id, ts = next_id_ts()
        # The erased subject appears only after the rotation: erase_subject re-signs with the current key, which
        # would break pre-rotation events (a known reference defect this corpus does not need to reproduce).
        stream.append(Event(event_id=event_id, event_type="decision.made" if i % 2 else "consent.granted",
                            timestamp=ts, source="support-bot@3.0.0",
                            payload=typed_payload("decision.made" if i % 2 else "consent.granted", i),
                            actor_id=SUBJECT if i in (7, 10) else f"user-{i}", session_id=f"s-{i}",
                            trace_id=f"{i:032x}", tags=Tags(env="prod", subject="yes" if i in (7, 10) else "no")))
    tombstones = stream.erase_subject(SUBJECT, erased_by="dpo@example.com", request_ref="GDPR-REQ-7")
    assert len(tombstones) == 2
    result = stream.verify()
    assert result.valid and result.tombstone_count == 2, result
    events = stream.events
    # Without the key map, the events after the rotation do not verify.
    without_map = verify_chain(events, CHAIN_KEY_1)
    assert not without_map.valid
    lines = [e.to_json() for e in events]
    keys = {
        "note": "Test keys for reference_chain_rotated.jsonl; not secrets. Keys are the UTF-8 bytes of the strings.",
        "initial_key": CHAIN_KEY_1,
        "key_map": {rotation.event_id: CHAIN_KEY_2},
        "rotation_event_id": rotation.event_id,
        "new_secret_sha256": hashlib.sha256(CHAIN_KEY_2.encode()).hexdigest(),
        "erased_subject_id": SUBJECT,
        "tombstone_event_ids": [t.event_id for t in tombstones],
        "reference_verify": {"valid": result.valid, "tampered_count": result.tampered_count,
                             "gaps": result.gaps, "tombstone_count": result.tombstone_count},
        "reference_verify_without_key_map": {"valid": without_map.valid,
                                             "tampered_count": without_map.tampered_count},
    }
    return lines, keys


# --------------------------------------------------------------------------------------------------------------


def write_jsonl(name: str, rows: list) -> None:
    with open(OUT / name, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False, sort_keys=True)) + "\n")


def main() -> int:
    lines = write_corpus()
    write_jsonl("reference_events.jsonl", lines)
    write_jsonl("reference_noncanonical.jsonl", write_noncanonical(lines))
    write_jsonl("invalid_events.jsonl", invalid_cases())
    write_jsonl("field_cases.jsonl", field_cases())
    chain, keys = write_chain()
    write_jsonl("reference_chain_rotated.jsonl", chain)
    (OUT / "reference_chain_rotated.keys.json").write_text(json.dumps(keys, indent=2, sort_keys=True) + "\n")
    print(f"{len(lines)} events, {len(chain)} chain events written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
