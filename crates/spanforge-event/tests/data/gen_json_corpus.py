#!/usr/bin/env python3
"""Generate json_python_corpus.jsonl: JSON texts and what CPython's json module makes of them.

Each output line is a JSON object (written with ensure_ascii=True; keys kept short because there are ~48,000 lines):
  k  kind: "ok": json.loads accepts the text, and "c" is what json.dumps writes for it;
           "reject": json.loads raises;
           "reject_duplicate": json.loads accepts it, but an object repeats a key (we reject those on purpose);
           "reject_surrogate": json.loads accepts it, but a string holds a lone surrogate, so the canonical text
                               cannot be UTF-8 encoded (the reference's sign() fails on it; we reject it);
  g  group: which generator below produced the line (for failure messages);
  i  input: the JSON text;
  c  canonical: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)  (kind "ok" only;
     omitted when it equals the input);
  n  len(json.dumps(v, separators=(",", ":"))), the reference's from_dict size measure  (kind "ok" only);
  d  for some objects: whether spanforge 1.0.4's Event.from_dict depth guard (max_payload_depth=10) accepts the
     value as a payload (only when the spanforge package is importable).

The Rust test does not run this script. Regenerate with the reference environment:
  python3 -m venv target/venv && target/venv/bin/pip install spanforge==1.0.4
  target/venv/bin/python crates/spanforge-event/tests/data/gen_json_corpus.py \
      > crates/spanforge-event/tests/data/json_python_corpus.jsonl
The output is deterministic for a given CPython version (seeded random generator).
"""

import decimal
import json
import math
import random
import struct
import sys

rng = random.Random(20260103)
out = []

try:
    from spanforge.event import _check_nesting_depth
    from spanforge.exceptions import DeserializationError
except ImportError:  # the depth field is optional
    _check_nesting_depth = None


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def has_duplicate_keys(text):
    found = False

    def hook(pairs):
        nonlocal found
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            found = True
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


def record(group, text, depth_probe=False):
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text), "inputs must not hold raw surrogates"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        out.append({"k": "reject", "g": group, "i": text})
        return
    if has_duplicate_keys(text):
        out.append({"k": "reject_duplicate", "g": group, "i": text})
        return
    canon = canonical(value)
    try:
        canon.encode("utf-8")
    except UnicodeEncodeError:
        out.append({"k": "reject_surrogate", "g": group, "i": text})
        return
    rec = {"k": "ok", "g": group, "i": text}
    if canon != text:
        rec["c"] = canon
    rec["n"] = len(json.dumps(value, separators=(",", ":")))
    if depth_probe and _check_nesting_depth is not None:
        try:
            _check_nesting_depth(value, 10, "corpus")
            rec["d"] = True
        except DeserializationError:
            rec["d"] = False
    out.append(rec)


def float_literal(text):
    """Make sure a number literal reads as a float (json.loads makes '1000' an int)."""
    if not any(c in text for c in ".eE") and text not in ("NaN", "Infinity", "-Infinity"):
        text += ".0"
    return text


def float_inputs(x, all_forms_wanted=False):
    """Several spellings of the same double: repr, 17 significant digits, long forms, the exact decimal."""
    if math.isnan(x):
        return ["NaN"]
    if math.isinf(x):
        return ["Infinity" if x > 0 else "-Infinity"]
    forms = [json.dumps(x), "%.17e" % x, float_literal("%.17g" % x), "%.25E" % x]
    # The exact decimal expansion can run to hundreds of digits: use it for a twentieth of the values.
    if all_forms_wanted or rng.random() < 0.05:
        forms = [float_literal(str(decimal.Decimal(x)))] + (forms if all_forms_wanted else [])
    return forms


def add_float(group, x, all_forms=False):
    forms = float_inputs(x, all_forms)
    if all_forms:
        for f in forms:
            record(group, f)
    else:
        record(group, rng.choice(forms))


# A. Random bit patterns: every exponent equally likely, subnormals, NaN and infinities included.
for _ in range(20000):
    bits = rng.getrandbits(64)
    add_float("random_bits", struct.unpack("<d", bits.to_bytes(8, "little"))[0])

# B. Subnormals.
for _ in range(2000):
    mantissa = rng.getrandbits(52) or 1
    sign = rng.getrandbits(1) << 63
    add_float("subnormal", struct.unpack("<d", (sign | mantissa).to_bytes(8, "little"))[0])

# C. Integral and nearly integral doubles around 1e15..1e17, where repr switches to exponent notation.
for _ in range(3000):
    k = rng.randint(10**14, 3 * 10**17)
    choice = rng.random()
    if choice < 0.4:
        x = float(k)
    elif choice < 0.8:
        x = k + rng.random()
    else:
        x = float(k) * (-1 if rng.random() < 0.5 else 1)
    add_float("around_1e16", x)

# D. Neighbours of the layout thresholds and of every power of ten, and the digits 1-9 times powers of ten.
for t in (1e-5, 1e-4, 1e15, 1e16, 1e17, 1e22, 1e23, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308):
    x = t
    for _ in range(6):
        add_float("threshold", x, all_forms=True)
        add_float("threshold", -x)
        x = math.nextafter(x, math.inf)
    x = t
    for _ in range(6):
        x = math.nextafter(x, 0.0)
        add_float("threshold", x, all_forms=True)
for e in range(-325, 309):
    for d in range(1, 10):
        text = "%de%d" % (d, e)
        record("digit_pow10", text)
    p = 10.0**e if e > -308 else float("1e%d" % e)
    add_float("pow10_neighbour", math.nextafter(p, math.inf))
    add_float("pow10_neighbour", math.nextafter(p, 0.0))

# E. Powers of two.
for e in range(-1074, 1024):
    add_float("pow2", math.ldexp(1.0, e))

# F. Random decimal literals, including ones that are not shortest forms, and halfway cases.
for _ in range(5000):
    ndigits = rng.randint(1, 30)
    digits = "".join(rng.choice("0123456789") for _ in range(ndigits)).lstrip("0") or "0"
    exponent = rng.randint(-345, 320)
    sign = "-" if rng.random() < 0.3 else ""
    if rng.random() < 0.5 and len(digits) > 1:
        text = "%s%s.%se%d" % (sign, digits[0], digits[1:], exponent)
    else:
        text = "%s%se%+d" % (sign, digits, exponent)
    record("random_decimal", text)
for _ in range(1000):
    # The decimal exactly halfway between two neighbouring doubles (round-half-even in the parser).
    x = struct.unpack("<d", rng.getrandbits(63).to_bytes(8, "little"))[0]
    if math.isnan(x) or math.isinf(x) or x == 0:
        continue
    y = math.nextafter(x, math.inf)
    if math.isinf(y):
        continue
    mid = (decimal.Decimal(x) + decimal.Decimal(y)) / 2
    record("halfway", float_literal(str(mid)))

# Special literals and spellings.
for text in [
    "0.0", "-0.0", "0e0", "-0e0", "0E+0", "0.0e-999", "-0.0E+999", "1e400", "-1e400", "1e-400", "-1e-400",
    "1e99999999999999999999", "-1e-99999999999999999999", "2.4703282292062328e-324", "2.4703282292062327e-324",
    "1.7976931348623158e308", "1.7976931348623159e308", "179769313486231580793728971405301e276",
    "NaN", "Infinity", "-Infinity", "[NaN,Infinity,-Infinity]", "1.0", "1E2", "1e+2", "1.5e16", "123456789012345.6",
    "0.1", "0.30000000000000004", "100000.0", "1e5", "2.5e-300", "5e-324", "1e-7", "1e-5", "0.0001", "0.000123",
    "9007199254740993.0", "0." + "0" * 400 + "1", "1" + "0" * 400 + ".0",
]:
    record("special_float", text)

# G. Integers: Python int() normalisation, 64/128-bit boundaries, up to CPython's 4300-digit limit.
boundaries = []
for b in (63, 64, 127, 128, 256, 1000):
    for delta in (-2, -1, 0, 1, 2):
        boundaries += [2**b + delta, -(2**b) + delta]
for n in boundaries + [0, 1, -1, 10**19, 10**19 - 1, 10**20, -(10**19)]:
    record("int_boundary", str(n))
for text in ["-0", "0", "-1", "00", "01", "-00", "-01", "+1", "1" * 4300, "-" + "9" * 4300, "1" * 4301, "-" + "1" * 4301]:
    record("int_special", text)
for _ in range(400):
    length = int(math.exp(rng.uniform(0, math.log(4300))))
    digits = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 1))
    record("int_random", ("-" if rng.random() < 0.5 else "") + digits)

# H. Strings: every ASCII character raw and escaped, short escapes, U+007F, U+2028/9, astral characters.
for c in range(0x80):
    record("string_escape", '"\\u%04x"' % c)
    record("string_escape", '"\\u%04X"' % c)
    record("string_raw", json.dumps(chr(c), ensure_ascii=False) if c != 0x22 and c != 0x5C else '"\\%s"' % chr(c))
    if c < 0x20:
        record("string_raw_control", '"' + chr(c) + '"')
for esc in ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\a", "\\x41", "\\U0041", "\\0", "\\'", "\\u", "\\u12", "\\u12G4"]:
    record("string_short_escape", '"a' + esc + 'b"')
for c in [0x7F, 0x80, 0x9F, 0xA0, 0xAD, 0xFF, 0x100, 0x2028, 0x2029, 0x200D, 0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF,
          0xE000, 0xD7FF, 0x10000, 0x1F600, 0x1F469, 0x10FFFF]:
    record("string_unicode", '"\\u%04x"' % c if c <= 0xFFFF else json.dumps(chr(c)))
    record("string_unicode", json.dumps(chr(c), ensure_ascii=False))
    record("string_unicode", json.dumps(chr(c)).upper().replace("\\U", "\\u"))
for text in ['"\\ud800"', '"\\udbff"', '"\\udc00"', '"\\udfff"', '"\\ud83d\\u0041"', '"\\ud83d\\ud83d"',
             '"\\ude00\\ud83d"', '"\\ud83d"', '"a\\ud83dx"', '"\\ud83d\\ude00"', '"\\uD83D\\uDE00"', '"\\ud83d\\uDe00"',
             '"\\ud83d\\u"', '"\\ud83d\\"']:
    record("surrogate", text)
alphabet = [chr(c) for c in list(range(0x20, 0x7F)) + [0x7F, 0xE9, 0x301, 0x2028, 0x2029, 0x65E5, 0xFFFF, 0x1F600,
                                                          0x10FFFF, 0x0, 0x1, 0x1F, 0x8, 0xC, 0xA, 0xD, 0x9]]
for _ in range(1500):
    s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    record("string_random", json.dumps(s, ensure_ascii=rng.random() < 0.5))

# Objects: key order by code point, nesting, whitespace.
key_alphabet = ["a", "B", "Z", "_", "-", " ", "1", "\u00e9", "e\u0301", "\U0001F600", "\uFFFF", "\u65e5", "\x7f", "\x00"]
scalars = [None, True, False, 0, -1, 1.0, 1e16, 1e-5, "x", float("nan"), float("-inf"), 2**70]


def random_value(depth):
    r = rng.random()
    if depth <= 0 or r < 0.4:
        return rng.choice(scalars)
    if r < 0.7:
        return [random_value(depth - 1) for _ in range(rng.randint(0, 4))]
    return {"".join(rng.choice(key_alphabet) for _ in range(rng.randint(0, 3))): random_value(depth - 1)
            for _ in range(rng.randint(0, 5))}


for i in range(1000):
    v = random_value(5)
    indent = rng.choice([None, 0, 1, 2, "\t"])
    text = json.dumps(v, ensure_ascii=rng.random() < 0.5, indent=indent, sort_keys=rng.random() < 0.3)
    record("object_random", text)

# Nesting depth as the reference's payload guard sees it.
for depth in range(1, 14):
    for shape in ("dict", "list", "mixed", "scalar_leaf", "empty_leaf"):
        v = {"leaf": 1} if shape != "empty_leaf" else {}
        for level in range(depth - 1):
            v = [v] if shape == "list" or (shape == "mixed" and level % 2) else {"k": v}
        if shape == "scalar_leaf":
            v = {"k": v, "s": "x"}
        record("payload_depth", json.dumps(v), depth_probe=isinstance(v, dict))

# I. Invalid JSON and Python-only forms.
for text in [
    "", " ", "\n", "\ufeff{}", "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\":1,}", "{,}", "{\"a\"}", "{\"a\":}", "{1:2}",
    "{'a':1}", "'a'", "[1 2]", "{\"a\":1 \"b\":2}", "01", "-", "--1", "-a", "+1", ".5", "1.", "1.e5", "1e", "1e+",
    "0x10", "1_000", "nan", "inf", "-NaN", "+Infinity", "infinity", "NAN", "True", "None", "null null", "[]]",
    "{}x", "/* c */ 1", "// c\n1", "1 # c", "\"abc", "\"a\\\"", "\"\\x41\"", "[\"a\"\t,\"b\"]", "\u00a01", "1\u00a0",
    "\u20281", "[1,\u20292]", "\x0c1", "\x0b1", "{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"b\":1}}", "[{\"x\":1,\"y\":2,\"x\":3}]",
    "\"\\u00\"", "tru", "truee", "nul", "fals", "[1,2", "{\"a\":[1,{\"b\":2}]", "[" * 50 + "]" * 49,
]:
    record("invalid", text)

# Differential fuzzing: single-character mutations of valid documents, classified by json.loads.
seeds = [json.dumps(random_value(3), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1])) for _ in range(300)]
mutation_chars = list('{}[],:"\\ -+.eE0123456789tfnaNIul\n\t\x00\x1f') + ["\u00e9", "\u2028", "\U0001F600"]
for _ in range(4000):
    s = rng.choice(seeds)
    if not s:
        continue
    i = rng.randrange(len(s))
    op = rng.random()
    if op < 0.33:
        s = s[:i] + s[i + 1:]
    elif op < 0.66:
        s = s[:i] + rng.choice(mutation_chars) + s[i:]
    else:
        s = s[:i] + rng.choice(mutation_chars) + s[i + 1:]
    record("mutation", s)

for rec in out:
    sys.stdout.write(json.dumps(rec, ensure_ascii=True, separators=(",", ":")) + "\n")
