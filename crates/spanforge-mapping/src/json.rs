//! Canonical JSON for package files: object keys sorted by code point, stable formatting, no
//! dependence on serde_json's map implementation or features.
//!
//! Two forms are written. [`pretty`] (two-space indentation, one member per line, a final
//! newline) is used for documents people open; [`compact`] (no whitespace) is the catalog's
//! canonical form, for bytes that are hashed. Population lines are written in the same compact
//! form by the accumulator, straight from event values. Strings are escaped as JSON requires
//! ([`write_string`]) and non-ASCII characters are written as UTF-8; numbers print as
//! serde_json prints them (integers in decimal, floats in their shortest round-trip form), so
//! the same value always gives the same bytes.

use std::fmt::Write as _;

use serde_json::Value;

/// Compact canonical JSON of a value: the catalog's canonical form
/// ([`spanforge_catalog::hash::canonical_json`], the bytes its content hashes cover), so the
/// workspace has one definition of it.
pub fn compact(value: &Value) -> String {
    spanforge_catalog::hash::canonical_json(value)
}

/// Pretty canonical JSON of a value, ending with a newline.
pub fn pretty(value: &Value) -> String {
    let mut out = String::new();
    write_pretty(value, 0, &mut out);
    out.push('\n');
    out
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_pretty(value: &Value, level: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("{\n");
            let count = entries.len();
            for (i, (key, item)) in entries.into_iter().enumerate() {
                indent(level + 1, out);
                write_string(key, out);
                out.push_str(": ");
                write_pretty(item, level + 1, out);
                if i + 1 < count {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(level, out);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            let count = items.len();
            for (i, item) in items.iter().enumerate() {
                indent(level + 1, out);
                write_pretty(item, level + 1, out);
                if i + 1 < count {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(level, out);
            out.push(']');
        }
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        Value::String(text) => write_string(text, out),
        // Null, booleans and numbers print canonically through serde_json.
        other => out.push_str(&other.to_string()),
    }
}

/// Appends `text` as a JSON string that needs no escapes: for text whose grammar excludes the
/// characters JSON escapes (quotes, backslashes, control characters), checked when it was
/// parsed: event ids, event types, timestamps, trace ids. Skips [`write_string`]'s scan.
pub fn write_plain(text: &str, out: &mut String) {
    debug_assert!(
        text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'),
        "{text:?} needs escaping"
    );
    out.push('"');
    out.push_str(text);
    out.push('"');
}

/// Writes a JSON string literal.
pub fn write_string(text: &str, out: &mut String) {
    out.push('"');
    let bytes = text.as_bytes();
    let mut start = 0;
    loop {
        // Runs without escapes are copied whole; most strings (ids, types, timestamps) are one.
        let stop = spanforge_event::json::scan_plain(bytes, start);
        // `stop` is the length or an ASCII byte, so both ends are character boundaries.
        out.push_str(text.get(start..stop).unwrap_or_default());
        let Some(&b) = bytes.get(stop) else {
            break;
        };
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            control => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{control:04x}");
            }
        }
        start = stop + 1;
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_text_is_written_as_write_string_writes_it() {
        let event = spanforge_event::Event::from_json_str(concat!(
            r#"{"event_id":"01JQ7ZK3D0000000000000000A","event_type":"dev.spanforge.model.deployed","#,
            r#""payload":{"a":1},"schema_version":"2.0","source":"svc@1.0.0","#,
            r#""timestamp":"2026-01-04T19:58:40.035039Z","trace_id":"3fafe48dffed24fc72ab19f8e5522c94"}"#
        ))
        .unwrap();
        for text in [
            event.event_id().as_str(),
            event.event_type().as_str(),
            event.timestamp().as_str(),
            event.trace_id().unwrap().as_str(),
        ] {
            let (mut plain, mut escaped) = (String::new(), String::new());
            write_plain(text, &mut plain);
            write_string(text, &mut escaped);
            assert_eq!(plain, escaped);
        }
    }

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let tricky = [
            "",
            "plain-id-01KDZ5T8Q3M9V6W2X4Y7Z0A1B3",
            "a\"b\\c",
            "line\nbreak\r\ttab\u{8}\u{c}",
            "\u{1}\u{1f} control at both ends \u{0}",
            "long run without escapes, then one at the end of a 64-byte stretch\"",
            "é, 中文, emoji 🙂 and \u{2028}",
            "\u{7f} is not escaped",
        ];
        for text in tricky {
            let mut out = String::new();
            write_string(text, &mut out);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn keys_are_sorted_and_output_is_stable() {
        let v = json!({"b": [1, {"z": true, "a": null}], "a": "é\n\"", "c": {}, "d": []});
        assert_eq!(
            compact(&v),
            r#"{"a":"é\n\"","b":[1,{"a":null,"z":true}],"c":{},"d":[]}"#
        );
        assert_eq!(
            pretty(&v),
            "{\n  \"a\": \"é\\n\\\"\",\n  \"b\": [\n    1,\n    {\n      \"a\": null,\n      \"z\": true\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}\n"
        );
    }

    #[test]
    fn output_parses_back_to_the_same_value() {
        let v = json!({"x": [1.5, -2, "\u{1}", {"k": "v"}], "y": 1e300});
        assert_eq!(serde_json::from_str::<Value>(&pretty(&v)).unwrap(), v);
        assert_eq!(serde_json::from_str::<Value>(&compact(&v)).unwrap(), v);
    }
}
