//! Canonical JSON for package files: object keys sorted by code point, stable formatting, no
//! dependence on serde_json's map implementation or features.
//!
//! Two forms are written. [`pretty`] (two-space indentation, one member per line, a final
//! newline) is used for documents people open; [`compact`] (no whitespace) for JSON Lines and for
//! bytes that are hashed or signed. Strings are escaped as JSON requires and non-ASCII
//! characters are written as UTF-8; numbers print as serde_json prints them (integers in
//! decimal, floats in their shortest round-trip form), so the same value always gives the same
//! bytes.

use serde_json::Value;

/// Compact canonical JSON of a value.
pub fn compact(value: &Value) -> String {
    let mut out = String::new();
    write_compact(value, &mut out);
    out
}

/// Appends the compact canonical JSON of a value to `out`.
pub fn write_compact(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_compact(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        other => out.push_str(&other.to_string()),
    }
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
        other => write_compact(other, out),
    }
}

/// Writes a JSON string literal.
pub fn write_string(text: &str, out: &mut String) {
    out.push('"');
    // Most strings (ids, types, timestamps) need no escape: copy them whole.
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(text);
        out.push('"');
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
