//! Conformance of the envelope with the reference SDK (`spanforge==1.0.4`), run file by file.
//!
//! The data files under `tests/data/` were written by the real reference with `tests/data/gen_events.py`; these
//! tests never run Python. Each module covers one file or one rule of the issue.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::path::{Path, PathBuf};

use spanforge_event::json::{self, Value};
use spanforge_event::{Event, EventError, EventId, EventType, RegisteredType, Source, Timestamp};

mod common;

fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read(name: &str) -> String {
    let path = data_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The non-empty lines of a data file, numbered from 1.
fn lines(name: &str) -> Vec<(usize, String)> {
    read(name)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

fn record(line: &str) -> json::Map {
    match json::parse(line) {
        Ok(Value::Object(m)) => m,
        other => panic!("not a JSON object record: {other:?}"),
    }
}

fn str_of<'a>(m: &'a json::Map, key: &str) -> &'a str {
    m.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("record lacks string {key}"))
}

mod reference_corpus {
    use super::*;

    #[test]
    fn every_line_parses_validates_and_round_trips_byte_for_byte() {
        let corpus = lines("reference_events.jsonl");
        assert!(corpus.len() >= 80, "corpus too small: {}", corpus.len());
        let mut prev: Option<Event> = None;
        for (n, line) in &corpus {
            let event = Event::from_json_str(line).unwrap_or_else(|e| panic!("line {n}: {e}"));
            assert_eq!(
                &event.to_canonical_json(),
                line,
                "line {n} does not round-trip"
            );
            let mut buf = Vec::new();
            event.write_canonical(&mut buf);
            assert_eq!(buf, line.as_bytes(), "line {n}: write_canonical differs");
            // The reference signed every line, so its checksum is ours.
            assert_eq!(
                event.checksum(),
                Some(&event.payload_checksum()),
                "line {n}: checksum"
            );
            // The lines form one chain.
            assert_eq!(
                event.prev_id(),
                prev.as_ref().map(Event::event_id),
                "line {n}: prev_id"
            );
            // Reading the parsed value gives the same event (the other entry point, other size measure).
            assert_eq!(
                Event::from_value(json::parse(line).unwrap()).unwrap(),
                event,
                "line {n}"
            );
            assert_eq!(
                event.ascii_compact_len(),
                json::ascii_compact_len(&json::parse(line).unwrap())
            );
            // Payloads built from the reference's payload classes pass the registered view.
            event
                .check_payload_strict()
                .unwrap_or_else(|e| panic!("line {n}: strict payload check: {e}"));
            prev = Some(event);
        }
    }

    #[test]
    fn corpus_covers_all_74_types_and_extensions() {
        let mut seen = std::collections::BTreeSet::new();
        let mut extensions = 0;
        for (_, line) in lines("reference_events.jsonl") {
            match Event::from_json_str(&line).unwrap().event_type() {
                EventType::Registered(t) => {
                    seen.insert(*t);
                }
                EventType::Extension(_) => extensions += 1,
            }
        }
        assert_eq!(
            seen.len(),
            74,
            "missing: {:?}",
            RegisteredType::ALL.iter().filter(|t| !seen.contains(t))
        );
        assert!(extensions >= 3);
    }

    #[test]
    fn lowercase_ids_are_preserved_byte_for_byte() {
        let mut lowercase = 0;
        for (n, line) in lines("reference_events.jsonl") {
            let event = Event::from_json_str(&line).unwrap();
            let written = str_of(&record(&line), "event_id").to_owned();
            assert_eq!(event.event_id().as_str(), written, "line {n}");
            if !event.event_id().is_uppercase() {
                lowercase += 1;
                assert!(
                    event
                        .to_canonical_json()
                        .contains(&format!("\"event_id\":\"{written}\""))
                );
            }
        }
        assert!(lowercase > 0, "the corpus should contain lowercase ULIDs");
    }

    #[test]
    fn unknown_fields_and_nested_nulls_survive() {
        let mut with_extra = 0;
        for (_, line) in lines("reference_events.jsonl") {
            let event = Event::from_json_str(&line).unwrap();
            if event.extra().contains_key("x_unknown") {
                with_extra += 1;
                assert!(
                    event.extra().contains_key("aa_first") && event.extra().contains_key("zz_last")
                );
                // The reference drops unknown fields whose value is null.
                assert!(!event.extra().contains_key("prev"));
            }
        }
        assert!(with_extra > 10);
        assert!(read("reference_events.jsonl").contains(r#""none":null"#));
    }

    #[test]
    fn noncanonical_inputs_canonicalise_as_the_reference_does() {
        let cases = lines("reference_noncanonical.jsonl");
        assert!(!cases.is_empty());
        for (n, case) in cases {
            let m = record(&case);
            let event = Event::from_json_str(str_of(&m, "input"))
                .unwrap_or_else(|e| panic!("case {n}: {e}"));
            assert!(
                event.trace_id().is_none(),
                "case {n}: \"trace_id\": null counts as absent"
            );
            assert_eq!(
                event.to_canonical_json(),
                str_of(&m, "canonical"),
                "case {n}"
            );
        }
    }
}

mod invalid_events {
    use super::*;

    #[test]
    fn every_invalid_event_is_rejected_naming_the_field() {
        let cases = lines("invalid_events.jsonl");
        assert!(cases.len() >= 40);
        for (n, case) in cases {
            let m = record(&case);
            let (line, field, why) = (str_of(&m, "line"), str_of(&m, "field"), str_of(&m, "why"));
            let err = match Event::from_json_str(line) {
                Ok(_) => panic!("case {n} ({why}) was accepted"),
                Err(e) => e,
            };
            assert_eq!(err.field(), field, "case {n} ({why}): {err}");
            let message = err.to_string();
            assert!(
                message.contains("expected"),
                "case {n}: message says what was expected: {message}"
            );
            assert!(
                message.len() < 600,
                "case {n}: message too long ({} bytes)",
                message.len()
            );
        }
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = Event::from_json_str("{\n  \"event_id\": ,\n}").unwrap_err();
        let EventError::Json(parse) = &err else {
            panic!("{err:?}")
        };
        assert_eq!((parse.line(), parse.column()), (2, 15));
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn received_values_are_cut_short() {
        let long = "x".repeat(10_000);
        let line = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{"a":1},"schema_version":"2.0","source":"SRC","timestamp":"2026-01-03T10:00:01.250000Z"}"#
            .replace("SRC", &long);
        let message = Event::from_json_str(&line).unwrap_err().to_string();
        assert!(message.len() < 500, "{message}");
        assert!(message.contains("10000 bytes in all"), "{message}");
    }
}

mod field_rules {
    use super::*;

    /// Field values the reference's own validators judged; ours must agree on every one.
    #[test]
    fn field_validators_agree_with_the_reference() {
        let mut checked = 0;
        for (n, case) in lines("field_cases.jsonl") {
            let m = record(&case);
            let (field, value) = (str_of(&m, "field"), str_of(&m, "value"));
            let expected = m
                .get("accepted")
                .and_then(Value::as_bool)
                .expect("accepted flag");
            let ours = match field {
                "event_type" => EventType::parse(value).map(drop),
                "source" => Source::parse(value).map(drop),
                "timestamp" => Timestamp::parse(value).map(drop),
                "event_id" => EventId::parse(value).map(drop),
                other => panic!("unknown field {other}"),
            };
            assert_eq!(
                ours.is_ok(),
                expected,
                "case {n}: {field} {value:?}: {ours:?}"
            );
            if let Err(e) = ours {
                assert_eq!(e.field(), field);
            }
            checked += 1;
        }
        assert!(checked > 5000);
    }

    #[test]
    fn reserved_namespaces_and_extensions() {
        for bad in [
            "decision.made.extra",
            "llm.rag.query",
            "llm.drift.detected",
            "abc.def.ghi",
        ] {
            assert_eq!(
                EventType::parse(bad).unwrap_err().field(),
                "event_type",
                "{bad}"
            );
        }
        assert!(
            !EventType::parse("com.example.model.call.completed")
                .unwrap()
                .is_registered()
        );
        for t in RegisteredType::ALL {
            assert!(EventType::parse(t.as_str()).unwrap().is_registered());
        }
    }

    const MINIMAL: &str = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":PAYLOAD,"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"TAIL}"#;

    fn event(payload: &str, tail: &str) -> Result<Event, EventError> {
        Event::from_json_str(&MINIMAL.replace("PAYLOAD", payload).replace("TAIL", tail))
    }

    #[test]
    fn payload_depth_guard_is_ten() {
        let nested =
            |levels: usize| format!("{}1{}", r#"{"d":"#.repeat(levels), "}".repeat(levels));
        assert!(event(&nested(9), "").is_ok(), "depth 10 is allowed");
        let err = event(&nested(10), "").unwrap_err();
        assert!(
            matches!(
                err,
                EventError::TooDeep {
                    depth: 11,
                    limit: 10,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.field(), "payload");
        // Empty containers count as a level too.
        assert!(event(&format!("{}[]{}", r#"{"d":"#.repeat(9), "}".repeat(9)), "").is_ok());
        assert!(
            event(
                &format!("{}[]{}", r#"{"d":"#.repeat(10), "}".repeat(10)),
                ""
            )
            .is_err()
        );
    }

    #[test]
    fn tag_guards() {
        let tags = |n: usize| {
            let body: Vec<String> = (0..n).map(|i| format!(r#""k{i}":"v""#)).collect();
            format!(r#","tags":{{{}}}"#, body.join(","))
        };
        assert_eq!(
            event(r#"{"a":1}"#, &tags(50))
                .unwrap()
                .tags()
                .unwrap()
                .len(),
            50
        );
        let err = event(r#"{"a":1}"#, &tags(51)).unwrap_err();
        assert!(
            matches!(
                err,
                EventError::TooManyTags {
                    count: 51,
                    limit: 50
                }
            ),
            "{err}"
        );
        assert_eq!(
            event(r#"{"a":1}"#, r#","tags":{"env":""}"#)
                .unwrap_err()
                .field(),
            "tags.env"
        );
        let empty = event(r#"{"a":1}"#, r#","tags":{}"#).unwrap();
        assert!(empty.tags().unwrap().is_empty());
        assert!(
            empty.to_canonical_json().contains(r#""tags":{}"#),
            "an empty tag object is kept"
        );
    }

    #[test]
    fn null_optional_fields_count_as_absent() {
        let e = event(
            r#"{"a":null}"#,
            r#","trace_id":null,"org_id":null,"tags":null,"x":null,"y":[null]"#,
        )
        .unwrap();
        assert!(e.trace_id().is_none() && e.org_id().is_none() && e.tags().is_none());
        let out = e.to_canonical_json();
        assert_eq!(
            out,
            r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{"a":null},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z","y":[null]}"#
        );
        assert_eq!(
            event(r#"{"a":1}"#, r#","source":null"#)
                .unwrap_err()
                .field(),
            "<event>"
        );
    }
}

mod rotated_chain {
    use super::*;
    use spanforge_event::payload::{KeyRotatedPayload, PayloadView, TombstonePayload};

    #[test]
    fn chain_fixture_reads_and_exposes_rotation_and_tombstones() {
        let keys = record(&read("reference_chain_rotated.keys.json").replace('\n', ""));
        let rotation_id = str_of(&keys, "rotation_event_id");
        let new_hash = str_of(&keys, "new_secret_sha256");
        let tombstone_ids: Vec<&str> = keys
            .get("tombstone_event_ids")
            .and_then(Value::as_array)
            .expect("tombstone ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(tombstone_ids.len(), 2);
        let mut saw_rotation = false;
        let mut tombstones = 0;
        let mut prev: Option<EventId> = None;
        for (n, line) in lines("reference_chain_rotated.jsonl") {
            let e = Event::from_json_str(&line).unwrap_or_else(|err| panic!("line {n}: {err}"));
            assert_eq!(e.to_canonical_json(), line, "line {n}");
            assert_eq!(e.checksum(), Some(&e.payload_checksum()), "line {n}");
            assert_eq!(e.prev_id(), prev.as_ref(), "line {n}");
            prev = Some(*e.event_id());
            match e
                .payload_view()
                .unwrap_or_else(|err| panic!("line {n}: {err}"))
            {
                Some(PayloadView::KeyRotated(k)) => {
                    assert_eq!(e.event_id().as_str(), rotation_id);
                    let hex: String = k
                        .new_secret_hash
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    assert_eq!(hex, new_hash);
                    assert_eq!(k.rotated_by, "ops-team");
                    assert!(KeyRotatedPayload::try_from(e.payload()).is_ok());
                    saw_rotation = true;
                }
                Some(PayloadView::Tombstone(t)) => {
                    assert!(tombstone_ids.contains(&e.event_id().as_str()));
                    assert_eq!(t.erasure_request_ref, Some("GDPR-REQ-7"));
                    assert!(TombstonePayload::try_from(e.payload()).is_ok());
                    assert!(e.actor_id().is_none());
                    tombstones += 1;
                }
                _ => {}
            }
        }
        assert!(saw_rotation);
        assert_eq!(tombstones, 2);
    }
}

/// `Event::from_json_str` reads most lines with a fast member reader and keeps canonical input verbatim; these tests
/// hold it to the general path (`json::parse`, then `Event::from_value`, which never keeps text and always writes
/// from the fields) on every line of every corpus.
mod fast_path {
    use super::*;

    /// Reads `text` both ways and checks that they agree: the same event or the same error, the same canonical
    /// bytes and payload bytes, and verbatim text kept exactly when the input is the event's canonical JSON.
    pub(crate) fn agree(text: &str) -> Result<Option<Event>, String> {
        let fast = Event::from_json_str(text);
        let general = json::parse(text)
            .map_err(EventError::from)
            .and_then(Event::from_value);
        match (fast, general) {
            (Ok(fast), Ok(general)) => {
                if fast != general {
                    return Err(format!("events differ:\n{fast:?}\n{general:?}"));
                }
                if general.writes_verbatim() {
                    return Err("from_value kept verbatim text".to_owned());
                }
                let written = general.to_canonical_json();
                if fast.to_canonical_json() != written {
                    return Err(format!(
                        "canonical JSON differs:\n  fast    {}\n  fields  {written}",
                        fast.to_canonical_json()
                    ));
                }
                let mut buf = b"prefix".to_vec();
                fast.write_canonical(&mut buf);
                if buf.get(6..) != Some(written.as_bytes()) {
                    return Err("write_canonical differs".to_owned());
                }
                if fast.payload_canonical() != general.payload_canonical()
                    || fast.payload_checksum() != general.payload_checksum()
                {
                    return Err("payload bytes differ".to_owned());
                }
                let mut payload = b"prefix".to_vec();
                fast.write_payload_canonical(&mut payload);
                if payload.get(6..) != Some(general.payload_canonical().as_slice()) {
                    return Err("write_payload_canonical differs".to_owned());
                }
                if fast.writes_verbatim() != (text == written) {
                    return Err(format!(
                        "verbatim {} for a text that {} canonical",
                        fast.writes_verbatim(),
                        if text == written { "is" } else { "is not" }
                    ));
                }
                // Any change drops the verbatim text, and writing then follows the fields.
                let changed = fast.clone().with_prev_id(None);
                if changed.writes_verbatim()
                    || changed.to_canonical_json()
                        != general.clone().with_prev_id(None).to_canonical_json()
                {
                    return Err("a changed event still writes its old text".to_owned());
                }
                Ok(Some(fast))
            }
            (Err(fast), Err(general)) if fast.to_string() == general.to_string() => Ok(None),
            (fast, general) => Err(format!("outcomes differ: {fast:?} vs {general:?}")),
        }
    }

    fn check_all(name: &str, texts: impl IntoIterator<Item = (usize, String)>) -> (usize, usize) {
        let (mut ok, mut verbatim) = (0, 0);
        for (n, text) in texts {
            match agree(&text) {
                Ok(Some(event)) => {
                    ok += 1;
                    verbatim += usize::from(event.writes_verbatim());
                }
                Ok(None) => {}
                Err(why) => panic!("{name} line {n}: {why}\n  input {text}"),
            }
        }
        (ok, verbatim)
    }

    #[test]
    fn reference_lines_are_read_verbatim_and_agree() {
        for name in ["reference_events.jsonl", "reference_chain_rotated.jsonl"] {
            let corpus = lines(name);
            let (ok, verbatim) = check_all(name, corpus.clone());
            assert_eq!((ok, verbatim), (corpus.len(), corpus.len()), "{name}");
        }
    }

    #[test]
    fn noncanonical_and_invalid_lines_agree() {
        let noncanonical: Vec<(usize, String)> = lines("reference_noncanonical.jsonl")
            .into_iter()
            .flat_map(|(n, case)| {
                let m = record(&case);
                [
                    (n, str_of(&m, "input").to_owned()),
                    (n, str_of(&m, "canonical").to_owned()),
                ]
            })
            .collect();
        let (ok, verbatim) = check_all("reference_noncanonical.jsonl", noncanonical.clone());
        assert_eq!((ok, verbatim), (noncanonical.len(), noncanonical.len() / 2));
        let invalid = lines("invalid_events.jsonl")
            .into_iter()
            .map(|(n, case)| (n, str_of(&record(&case), "line").to_owned()));
        assert_eq!(check_all("invalid_events.jsonl", invalid), (0, 0));
    }

    /// Every field value the reference judged, put into an otherwise valid event: the fast path borrows these
    /// strings from the input instead of copying them, and must accept and reject exactly what the general path
    /// does, with the same message.
    #[test]
    fn field_cases_in_whole_events_agree() {
        let base = Event::from_json_str(&lines("reference_events.jsonl")[0].1).unwrap();
        let base = json::parse(&base.to_canonical_json()).unwrap();
        let mut texts = Vec::new();
        for (n, case) in lines("field_cases.jsonl") {
            let m = record(&case);
            let (field, value) = (str_of(&m, "field"), str_of(&m, "value"));
            let mut event = base.as_object().unwrap().clone();
            event.insert(field, value);
            let value = Value::Object(event);
            texts.push((n, json::to_canonical_string(&value)));
            let style = common::Style {
                spaces: n % 2 == 0,
                reverse_keys: n % 3 == 0,
                floats: common::Floats::Canonical,
                escapes: n % 5 == 0,
            };
            texts.push((n, common::noncanonical(&value, style)));
        }
        let (ok, verbatim) = check_all("field_cases.jsonl", texts);
        assert!(
            ok > 1000 && verbatim > 500,
            "{ok} accepted, {verbatim} verbatim"
        );
    }

    #[test]
    fn odd_shapes_agree() {
        let line = &lines("reference_events.jsonl")[0].1;
        let cases = [
            String::new(),
            " ".to_owned(),
            "[]".to_owned(),
            "{}".to_owned(),
            "null".to_owned(),
            format!("\u{feff}{line}"),
            format!("{line} "),
            format!(" {line}"),
            format!("{line}x"),
            format!("{line}}}"),
            line.replacen('{', "{\"checksum\":null,", 1),
            line.replacen('{', "{\"zzz\":1,", 1),
            line.replacen('{', "{\"a\":1,\"a\":2,", 1),
            line.replacen('{', "{\"\\u0061\":1,\"a\":2,", 1),
            line.replacen('{', "{\"payload\":{},", 1),
            line.replacen('{', "{\"aaa\":{\"x\":[1,2,{\"y\":null}]},", 1),
            line.replacen("\"event_id\":", "\"event_id\":null,\"event_id2\":", 1),
            line.replacen("\"org_id\":\"acme\"", "\"org_id\":null", 1),
            line.replacen("\"org_id\":\"acme\"", "\"org_id\":[\"acme\"]", 1),
            line.replacen("\"org_id\":\"acme\"", "\"org_id\":\"ac\\u006de\"", 1),
            line.replacen("\"org_id\":\"acme\"", "\"org_id\":\"\"", 1),
            line.replacen("\"org_id\":\"acme\"", "\"org_id\" : \"acme\"", 1),
            line.replacen("\"payload\":{", "\"payload\":{\"zz\":1e5,", 1),
            line.replacen("\"payload\":{", "\"payload\":{\"zz\":-0,", 1),
            line.replacen("\"payload\":{", "\"payload\":{\"\":1.50,", 1),
            line.replacen("\"payload\":{", "\"payload\":{\"a\":1,\"a\":1,", 1),
            line.replacen("\"payload\":{", "\"payload\":[{", 1),
            line.replacen("\"tags\":{", "\"tags\":{\"b\":\"1\",\"a\":\"2\",", 1),
            line.replacen('}', ",}", 1),
            line[..line.len() - 1].to_owned(),
            // Payload depth 10 passes the guard, 11 does not, with or without arrays on the way.
            line.replacen(
                "\"payload\":{",
                &format!("\"payload\":{{\"d\":{}1{},", "[".repeat(8), "]".repeat(8)),
                1,
            ),
            line.replacen(
                "\"payload\":{",
                &format!("\"payload\":{{\"d\":{}1{},", "[".repeat(9), "]".repeat(9)),
                1,
            ),
            line.replacen(
                "\"payload\":{",
                &format!(
                    "\"payload\":{{\"d\":{}{{}}{},",
                    "[{\"x\":".repeat(4),
                    "}]".repeat(4)
                ),
                1,
            ),
            line.replacen(
                "\"payload\":{",
                &format!(
                    "\"payload\":{{\"d\":{}[]{},",
                    "[{\"x\":".repeat(5),
                    "}]".repeat(5)
                ),
                1,
            ),
        ];
        for (n, text) in cases.iter().enumerate() {
            if let Err(why) = agree(text) {
                panic!("case {n}: {why}\n  input {text}");
            }
        }
    }
}

mod schema_file {
    use super::*;

    /// The generated schema must match the committed file; `SPANFORGE_BLESS=1` rewrites the file instead.
    #[test]
    fn committed_schema_matches_the_code() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(spanforge_event::schema::SCHEMA_PATH);
        let generated = spanforge_event::schema::envelope_schema_json();
        if std::env::var_os("SPANFORGE_BLESS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().expect("schema path has a parent")).unwrap();
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is missing or differs from the schema the code generates; run `cargo xtask codegen` \
             (or `SPANFORGE_BLESS=1 cargo test -p spanforge-event --test event_conformance`) and commit the result",
            path.display()
        );
    }

    fn property<'a>(schema: &'a Value, name: &str) -> &'a json::Map {
        schema
            .get("properties")
            .and_then(|p| p.get(name))
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("schema lacks property {name}"))
    }

    fn pattern(schema: &Value, name: &str) -> regex::Regex {
        let p = property(schema, name)
            .get("pattern")
            .and_then(Value::as_str)
            .expect("pattern");
        regex::Regex::new(p).expect("schema patterns compile")
    }

    /// Each schema pattern accepts exactly what the validator accepts (the timestamp pattern leaves the calendar
    /// check to the validator, so there it may only be looser).
    #[test]
    fn schema_patterns_agree_with_the_validator() {
        let schema = spanforge_event::schema::envelope_schema();
        let (ulid, source, ts) = (
            pattern(&schema, "event_id"),
            pattern(&schema, "source"),
            pattern(&schema, "timestamp"),
        );
        let any_of = property(&schema, "event_type")
            .get("anyOf")
            .and_then(Value::as_array)
            .expect("anyOf");
        let registered: Vec<&str> = any_of[0]
            .get("enum")
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let ext =
            regex::Regex::new(any_of[1].get("pattern").and_then(Value::as_str).unwrap()).unwrap();
        let not_ext = regex::Regex::new(
            any_of[1]
                .get("not")
                .and_then(|n| n.get("pattern"))
                .and_then(Value::as_str)
                .unwrap(),
        )
        .unwrap();
        let schema_accepts_type =
            |v: &str| registered.contains(&v) || (ext.is_match(v) && !not_ext.is_match(v));
        for (n, case) in lines("field_cases.jsonl") {
            let m = record(&case);
            let value = str_of(&m, "value");
            match str_of(&m, "field") {
                "event_type" => assert_eq!(
                    schema_accepts_type(value),
                    EventType::parse(value).is_ok(),
                    "case {n}: {value:?}"
                ),
                "source" => assert_eq!(
                    source.is_match(value),
                    Source::parse(value).is_ok(),
                    "case {n}: {value:?}"
                ),
                "event_id" => assert_eq!(
                    ulid.is_match(value),
                    EventId::parse(value).is_ok(),
                    "case {n}: {value:?}"
                ),
                // The pattern cannot check the calendar, so it may accept more, never less.
                "timestamp" => assert!(
                    ts.is_match(value) || Timestamp::parse(value).is_err(),
                    "case {n}: {value:?}"
                ),
                _ => {}
            }
        }
        let (trace, span) = (pattern(&schema, "trace_id"), pattern(&schema, "span_id"));
        for sample in [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "4bf92f35",
            "",
        ] {
            assert_eq!(
                trace.is_match(sample),
                spanforge_event::TraceId::parse(sample).is_ok(),
                "{sample}"
            );
        }
        for sample in [
            "00f067aa0ba902b7",
            "00F067AA0BA902B7",
            "00f067aa0ba902b",
            "00f067aa0ba902b7a",
        ] {
            assert_eq!(
                span.is_match(sample),
                spanforge_event::SpanId::parse(sample).is_ok(),
                "{sample}"
            );
        }
        let checksum = pattern(&schema, "checksum");
        let signature = pattern(&schema, "signature");
        for (n, line) in lines("reference_events.jsonl") {
            let m = record(&line);
            assert!(checksum.is_match(str_of(&m, "checksum")), "line {n}");
            assert!(signature.is_match(str_of(&m, "signature")), "line {n}");
        }
    }
}

mod shared_vectors {
    use super::*;

    /// `shared/`: `SPANFORGE_SHARED_DIR` if set, else `<workspace root>/../shared`. Missing is a failure.
    fn shared_dir() -> PathBuf {
        let dir = std::env::var_os("SPANFORGE_SHARED_DIR").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
            PathBuf::from,
        );
        assert!(
            dir.is_dir(),
            "shared vectors directory {} is missing: set SPANFORGE_SHARED_DIR to the shared/ directory",
            dir.display()
        );
        dir
    }

    /// Every shared canonical-JSON vector, carried as an event payload, gives the reference's checksum.
    #[test]
    fn payload_checksums_match_the_reference_vectors() {
        let path = shared_dir().join("vectors/canonical-json/vectors.jsonl");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut count = 0;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
            let m = record(line);
            let payload = json::parse(str_of(&m, "input_pretty")).unwrap();
            let mut envelope = json::Map::new();
            envelope.insert("event_id", "01KDZ5T8Q3M9V6W2X4Y7Z0A1B3");
            envelope.insert("event_type", "llm.eval.score.recorded");
            envelope.insert("payload", payload);
            envelope.insert("schema_version", "2.0");
            envelope.insert("source", "vectors@1.0.0");
            envelope.insert("timestamp", "2026-01-03T10:00:01.250000Z");
            let event = Event::from_value(Value::Object(envelope))
                .unwrap_or_else(|e| panic!("vector {}: {e}", n + 1));
            assert_eq!(
                event.payload_canonical(),
                str_of(&m, "canonical").as_bytes(),
                "vector {}",
                n + 1
            );
            assert_eq!(
                event.payload_checksum().to_string(),
                str_of(&m, "checksum"),
                "vector {}",
                n + 1
            );
            count += 1;
        }
        assert_eq!(count, 433);
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use spanforge_event::{
        EntropyError, EventBuilder, FixedClock, SpanId, Tags, TraceId, UlidGenerator,
    };

    struct Seeded(u64);
    impl spanforge_event::Entropy for Seeded {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> {
            for b in buf {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                *b = (self.0 >> 56) as u8;
            }
            Ok(())
        }
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,8}",
            any::<String>(),
            proptest::collection::vec(
                prop_oneof![
                    Just('\u{2028}'),
                    Just('\u{0}'),
                    Just('"'),
                    Just('\\'),
                    Just('\u{1F600}'),
                    Just('é')
                ],
                1..5
            )
            .prop_map(|c| c.into_iter().collect()),
        ]
    }

    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| Value::Number(json::Number::from_f64(f))),
            Just(json::parse("123456789012345678901234567890").unwrap()),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number(),
            text().prop_map(Value::from)
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(text(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    prop_compose! {
        fn event()(
            payload in proptest::collection::btree_map(text(), value(), 1..6),
            type_index in 0..RegisteredType::ALL.len(),
            micros in 0i64..4_102_444_800_000_000,
            seed in any::<u64>(),
            ids in proptest::option::of((any::<u128>(), any::<u64>(), any::<u64>())),
            org in proptest::option::of("[a-z]{1,5}"),
            actor in proptest::option::of(text().prop_filter("non-empty", |s| !s.is_empty())),
            tags in proptest::option::of(proptest::collection::btree_map(text().prop_filter("k", |s| !s.is_empty()), text().prop_filter("v", |s| !s.is_empty()), 0..5)),
            extra in proptest::collection::btree_map("x_[a-z]{1,4}", value(), 0..3),
        ) -> Event {
            let source = Source::parse("gen@1.2.3-rc.1").unwrap();
            let mut b = EventBuilder::new(RegisteredType::ALL[type_index], source, Value::Object(payload.into_iter().collect()));
            if let Some((t, s, p)) = ids {
                b = b.trace_id(TraceId::parse(&format!("{t:032x}")).unwrap())
                    .span_id(SpanId::parse(&format!("{s:016x}")).unwrap())
                    .parent_span_id(SpanId::parse(&format!("{p:016x}")).unwrap());
            }
            if let Some(o) = org { b = b.org_id(o); }
            if let Some(a) = actor { b = b.actor_id(a); }
            if let Some(t) = tags { b = b.tags(Tags::from_pairs(t).unwrap()); }
            for (k, v) in extra { b = b.extra_field(k, v); }
            let mut generator = UlidGenerator::new(FixedClock(micros), Seeded(seed));
            b.build(&mut generator).unwrap()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn valid_events_round_trip_byte_identically(e in event()) {
            let text = e.to_canonical_json();
            let back = Event::from_json_str(&text).unwrap();
            prop_assert_eq!(back.to_canonical_json(), text.clone());
            prop_assert_eq!(&back, &e);
            // Integrity fields round-trip too.
            let signed = e.clone().with_checksum(e.payload_checksum());
            let again = Event::from_json_str(&signed.to_canonical_json()).unwrap();
            prop_assert_eq!(again.checksum(), Some(&e.payload_checksum()));
            prop_assert_eq!(e.ascii_compact_len(), json::ascii_compact_len(&json::parse(&text).unwrap()));
        }

        #[test]
        fn canonical_events_are_read_verbatim(e in event()) {
            let signed = e.clone().with_checksum(e.payload_checksum());
            prop_assert!(!signed.writes_verbatim());
            let text = signed.to_canonical_json();
            let back = super::fast_path::agree(&text).map_err(TestCaseError::fail)?;
            let back = back.ok_or_else(|| TestCaseError::fail("rejected"))?;
            prop_assert!(back.writes_verbatim(), "not verbatim: {}", text);
            prop_assert_eq!(&back, &signed);
            prop_assert_eq!(back.payload_canonical(), e.payload_canonical());
        }

        #[test]
        fn noncanonical_events_are_written_from_their_fields(
            e in event(),
            spaces in any::<bool>(),
            reverse_keys in any::<bool>(),
            floats in proptest::sample::select(vec![
                common::Floats::Canonical,
                common::Floats::UpperExponent,
                common::Floats::TrailingZero,
            ]),
            escapes in any::<bool>(),
        ) {
            let canonical = e.to_canonical_json();
            let style = common::Style { spaces, reverse_keys, floats, escapes };
            let text = common::noncanonical(&json::parse(&canonical).unwrap(), style);
            let back = super::fast_path::agree(&text).map_err(TestCaseError::fail)?;
            let back = back.ok_or_else(|| TestCaseError::fail("rejected"))?;
            prop_assert!(!back.writes_verbatim(), "verbatim: {}", text);
            prop_assert_eq!(&back, &e);
            prop_assert_eq!(back.to_canonical_json(), canonical);
        }
    }
}
