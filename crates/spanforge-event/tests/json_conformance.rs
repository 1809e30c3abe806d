//! Conformance of `spanforge_event::json` with the reference SDK's canonical JSON: the shared
//! checksum vectors, a corpus generated with the real CPython `json` module, and property tests.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use spanforge_event::json::{
    Limits, Map, Number, ParseErrorKind, Value, ascii_compact_len, parse,
    parse_and_check_canonical, parse_with_limits, to_canonical_string, write_canonical,
};

mod common;

/// Locates `shared/`: `SPANFORGE_SHARED_DIR` if set, else `<workspace root>/../shared`.
fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("SPANFORGE_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    assert!(
        dir.is_dir(),
        "shared vectors directory {} is missing: set SPANFORGE_SHARED_DIR to the shared/ directory",
        dir.display()
    );
    dir
}

fn checksum(canonical: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    )
}

mod vectors {
    use super::*;

    #[test]
    fn all_canonical_json_vectors_match_byte_for_byte() {
        let path = shared_dir().join("vectors/canonical-json/vectors.jsonl");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut failures = Vec::new();
        let mut count = 0;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            count += 1;
            let line_no = index + 1;
            // The wrapper line is read with serde_json, independently of the parser under test.
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {line_no}: bad vector line: {e}"));
            let field = |name: &str| {
                record[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("line {line_no}: missing {name}"))
                    .to_owned()
            };
            let (input, canonical, expected_sum) =
                (field("input_pretty"), field("canonical"), field("checksum"));
            match parse(&input) {
                Err(e) => failures.push(format!("line {line_no}: parse error: {e}")),
                Ok(value) => {
                    let ours = to_canonical_string(&value);
                    if ours != canonical {
                        let what =
                            format!("canonical differs:\n  ours  {ours}\n  want  {canonical}");
                        failures.push(format!("line {line_no}: {what}"));
                    } else if checksum(&ours) != expected_sum {
                        failures.push(format!("line {line_no}: checksum differs"));
                    }
                    // Canonical text is a fixed point.
                    match parse(&ours) {
                        Ok(again) if again == value && to_canonical_string(&again) == ours => {}
                        _ => failures.push(format!(
                            "line {line_no}: canonical text does not re-parse to itself"
                        )),
                    }
                    // The canonical check agrees with the writer, on both texts.
                    match parse_and_check_canonical(&input) {
                        Ok((again, flag)) if again == value && flag == (input == canonical) => {}
                        other => failures.push(format!(
                            "line {line_no}: canonical check on the input: {other:?}"
                        )),
                    }
                    if parse_and_check_canonical(&canonical).map(|(_, flag)| flag) != Ok(true) {
                        failures.push(format!(
                            "line {line_no}: canonical text not recognised as canonical"
                        ));
                    }
                }
            }
        }
        assert_eq!(count, 433, "expected 433 vectors in {}", path.display());
        assert!(
            failures.is_empty(),
            "{} of {count} vectors failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

mod python_corpus {
    use super::*;

    /// Checks every line of the corpus generated with CPython by `tests/data/gen_json_corpus.py`.
    #[test]
    fn matches_cpython_json_on_every_corpus_line() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/json_python_corpus.jsonl");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut failures = Vec::new();
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        let mut depth_probes = 0;
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {line_no}: bad corpus line: {e}"));
            let kind = record["k"].as_str().unwrap_or_default().to_owned();
            let group = record["g"].as_str().unwrap_or_default();
            let input = record["i"]
                .as_str()
                .unwrap_or_else(|| panic!("line {line_no}: no input"));
            *kinds.entry(kind.clone()).or_default() += 1;
            let outcome = parse(input);
            let mut fail = |what: String| {
                failures.push(format!("line {line_no} ({group}) input {input:?}: {what}"));
            };
            match (kind.as_str(), outcome) {
                ("ok", Ok(value)) => {
                    let expected = record["c"].as_str().unwrap_or(input);
                    let ours = to_canonical_string(&value);
                    if ours != expected {
                        fail(format!("canonical {ours:?}, CPython {expected:?}"));
                        continue;
                    }
                    // The text is recognised as canonical exactly when it is the canonical text.
                    match parse_and_check_canonical(input) {
                        Ok((again, flag)) if again == value => {
                            if flag != (input == expected) {
                                fail(format!("canonical check says {flag}"));
                                continue;
                            }
                        }
                        other => {
                            fail(format!("parse_and_check_canonical disagrees: {other:?}"));
                            continue;
                        }
                    }
                    let ascii = record["n"].as_u64().and_then(|n| usize::try_from(n).ok());
                    if ascii != Some(ascii_compact_len(&value)) {
                        fail(format!(
                            "ascii_compact_len {}, CPython {ascii:?}",
                            ascii_compact_len(&value)
                        ));
                    }
                    if let Some(ok) = record["d"].as_bool() {
                        depth_probes += 1;
                        if (value.depth() <= 10) != ok {
                            fail(format!(
                                "depth {} but the reference guard says ok={ok}",
                                value.depth()
                            ));
                        }
                    }
                }
                ("ok", Err(e)) => fail(format!("CPython accepts it, we reject it: {e}")),
                ("reject", Err(_)) => {}
                ("reject_duplicate", Err(e)) => {
                    if !matches!(e.kind(), ParseErrorKind::DuplicateKey { .. }) {
                        fail(format!("expected a duplicate-key error, got: {e}"));
                    }
                }
                ("reject_surrogate", Err(e)) => {
                    if !matches!(e.kind(), ParseErrorKind::LoneSurrogate { .. }) {
                        fail(format!("expected a lone-surrogate error, got: {e}"));
                    }
                }
                (_, Ok(value)) => fail(format!("expected {kind}, but parsed as {value}")),
                (other, Err(_)) => fail(format!("unknown kind {other:?}")),
            }
        }
        assert!(
            kinds.get("ok").copied().unwrap_or(0) > 40_000,
            "corpus too small: {kinds:?}"
        );
        assert!(
            kinds.get("reject").copied().unwrap_or(0) > 1_000,
            "too few rejects: {kinds:?}"
        );
        assert!(
            depth_probes > 20,
            "corpus lacks payload depth probes (generate it with spanforge installed)"
        );
        assert!(
            failures.is_empty(),
            "{} corpus lines failed ({kinds:?}):\n{}",
            failures.len(),
            failures
                .iter()
                .take(50)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_number() -> impl Strategy<Value = Number> {
        prop_oneof![
            any::<i64>().prop_map(Number::from),
            any::<u64>().prop_map(Number::from),
            any::<i128>().prop_map(Number::from),
            "-?[1-9][0-9]{0,80}".prop_map(|s| {
                Number::integer_from_decimal(&s).expect("the pattern produces decimal integers")
            }),
            any::<f64>().prop_map(Number::from_f64),
            // Short decimals such as 0.7 or 1250.0, as event payloads carry them.
            (-10_000_000i64..10_000_000, 0i32..10).prop_map(|(n, k)| {
                Number::from_f64(format!("{n}e-{k}").parse().expect("a float literal"))
            }),
            any::<u64>().prop_map(|bits| Number::from_f64(f64::from_bits(bits))),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1e16,
                1e-5,
                5e-324,
                f64::MAX,
                f64::NAN,
                f64::INFINITY
            ])
            .prop_map(Number::from_f64),
        ]
    }

    fn any_string() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\\x00-\\x1f\"\\\\\u{7f}\u{2028}\u{2029}a-zé😀]{0,12}",
        ]
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any_number().prop_map(Value::Number),
            any_string().prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((any_string(), inner), 0..8)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map>())),
            ]
        })
    }

    /// Characters that make up JSON text, plus a few that must be rejected, for near-miss inputs.
    const JSON_LIKE: &str =
        "[\\[\\]{}\",:0-9eE.+\\-tfnulrsaNIiy\\\\ \t\n\u{0}\u{1f}é😀\u{2028}]{0,64}";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn canonical_text_round_trips(value in any_value()) {
            let text = to_canonical_string(&value);
            let again = parse(&text).map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
            prop_assert_eq!(&again, &value);
            prop_assert_eq!(to_canonical_string(&again), text.clone());
            let mut bytes = Vec::new();
            write_canonical(&value, &mut bytes);
            prop_assert_eq!(bytes, text.clone().into_bytes());
            prop_assert_eq!(value.to_string(), text);
        }

        #[test]
        fn canonical_text_is_recognised_as_canonical(value in any_value()) {
            let text = to_canonical_string(&value);
            let (again, canonical) = parse_and_check_canonical(&text)
                .map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
            prop_assert!(canonical, "not recognised: {}", text);
            prop_assert_eq!(&again, &value);
        }

        #[test]
        fn noncanonical_renderings_are_recognised_and_canonicalise_identically(
            value in any_value(),
            spaces in any::<bool>(),
            reverse_keys in any::<bool>(),
            floats in prop::sample::select(vec![
                common::Floats::Canonical,
                common::Floats::UpperExponent,
                common::Floats::TrailingZero,
            ]),
            escapes in any::<bool>(),
        ) {
            let style = common::Style { spaces, reverse_keys, floats, escapes };
            let text = common::noncanonical(&value, style);
            let (again, canonical) = parse_and_check_canonical(&text)
                .map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
            prop_assert!(!canonical, "taken for canonical: {}", text);
            prop_assert_eq!(&again, &value);
            prop_assert_eq!(to_canonical_string(&again), to_canonical_string(&value));
        }

        #[test]
        fn ascii_length_matches_an_ascii_rendering(value in any_value()) {
            // An independent rendering: the canonical text with every non-ASCII character and
            // U+007F escaped as Python's ensure_ascii=True does; only the length is compared.
            let mut ascii = String::new();
            for c in to_canonical_string(&value).chars() {
                match c {
                    ' '..='~' | '\u{0}'..='\u{1f}' => ascii.push(c),
                    c => {
                        let mut units = [0u16; 2];
                        for unit in c.encode_utf16(&mut units) {
                            ascii.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
            }
            prop_assert_eq!(ascii_compact_len(&value), ascii.len());
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn json_like_text_never_panics(text in JSON_LIKE) {
            match parse(&text) {
                Ok(value) => prop_assert_eq!(parse(&to_canonical_string(&value)).ok(), Some(value)),
                Err(e) => prop_assert!(e.to_string().contains("expected")),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = spanforge_event::json::parse_slice(&bytes, Limits::default());
        }

        #[test]
        fn mutated_canonical_text_never_panics(
            value in any_value(),
            at in any::<usize>(),
            byte in 0u8..128,
        ) {
            let text = to_canonical_string(&value);
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = byte;
            }
            let _ = spanforge_event::json::parse_slice(&bytes, Limits::default());
        }

        #[test]
        fn depth_limit_matches_value_depth(value in any_value(), limit in 1usize..8) {
            let text = to_canonical_string(&value);
            let parsed = parse_with_limits(&text, Limits::default().with_max_depth(limit));
            prop_assert_eq!(parsed.is_ok(), value.depth() <= limit);
        }
    }
}
