//! Canonical serialisation: the exact bytes of Python's `json.dumps(v, sort_keys=True,
//! separators=(",", ":"), ensure_ascii=False)`, and the length of its ASCII form.

use std::fmt;

use super::parse::scan_plain;
use super::value::Value;

/// Where the writer puts its output, which is always valid UTF-8 as a whole.
pub(crate) trait Sink {
    fn bytes(&mut self, b: &[u8]);
    fn byte(&mut self, b: u8);
}

impl Sink for Vec<u8> {
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
}

/// A sink that only counts bytes.
#[derive(Default)]
pub(crate) struct Counter {
    pub(crate) len: usize,
}

impl Sink for Counter {
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.len += b.len();
    }

    #[inline]
    fn byte(&mut self, _: u8) {
        self.len += 1;
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_string<S: Sink>(s: &str, out: &mut S) {
    let bytes = s.as_bytes();
    out.byte(b'"');
    let mut start = 0;
    loop {
        // Runs without `"`, `\` or control characters are copied as they are; everything else,
        // including U+007F and all non-ASCII characters, is written raw, as Python does.
        let stop = scan_plain(bytes, start);
        out.bytes(bytes.get(start..stop).unwrap_or_default());
        let Some(&b) = bytes.get(stop) else { break };
        match b {
            b'"' => out.bytes(b"\\\""),
            b'\\' => out.bytes(b"\\\\"),
            b'\n' => out.bytes(b"\\n"),
            b'\r' => out.bytes(b"\\r"),
            b'\t' => out.bytes(b"\\t"),
            0x08 => out.bytes(b"\\b"),
            0x0c => out.bytes(b"\\f"),
            _ => out.bytes(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = stop + 1;
    }
    out.byte(b'"');
}

pub(crate) fn write_value<S: Sink>(value: &Value, out: &mut S) {
    match value {
        Value::Null => out.bytes(b"null"),
        Value::Bool(true) => out.bytes(b"true"),
        Value::Bool(false) => out.bytes(b"false"),
        Value::Number(n) => n.write_to(out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.byte(b'[');
            let mut first = true;
            for item in items {
                if !first {
                    out.byte(b',');
                }
                first = false;
                write_value(item, out);
            }
            out.byte(b']');
        }
        Value::Object(map) => {
            out.byte(b'{');
            let mut first = true;
            for (key, item) in map {
                if !first {
                    out.byte(b',');
                }
                first = false;
                write_string(key, out);
                out.byte(b':');
                write_value(item, out);
            }
            out.byte(b'}');
        }
    }
}

/// Appends the canonical JSON text of `value` to `out`: keys sorted by code point, no whitespace,
/// non-ASCII written as raw UTF-8, floats in Python `repr` form, `NaN`/`Infinity` bare.
///
/// This (and [`to_canonical_string`]) is the byte-exact path that checksums must be computed over.
/// It allocates nothing besides growing `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    write_value(value, out);
}

/// Returns the canonical JSON text of `value`; see [`write_canonical`].
#[must_use]
pub fn to_canonical_string(value: &Value) -> String {
    // Sizing the buffer exactly would take a second pass over the tree; growing it is cheaper.
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    // The writer copies whole UTF-8 sequences from strings and adds only ASCII, so the conversion
    // always succeeds; the lossy fallback exists only so that this function cannot panic.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Returns the length in bytes of the canonical text of `value`, without building it.
#[must_use]
pub fn canonical_len(value: &Value) -> usize {
    let mut counter = Counter::default();
    write_value(value, &mut counter);
    counter.len
}

/// Returns the length of `json.dumps(value, separators=(",", ":"))`, Python's compact form with the
/// default `ensure_ascii=True`: the measure the reference SDK's `Event.from_dict` compares against
/// `max_size_bytes`.
///
/// Key order does not change the length. In this form every non-ASCII character and U+007F is
/// escaped: characters in the Basic Multilingual Plane take 6 bytes (`\u00e9`), others 12 (a
/// surrogate pair, `\ud83d\ude00`). Note that `Event.from_json` measures the raw input string
/// instead, before parsing.
#[must_use]
pub fn ascii_compact_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => n.canonical_len(),
        Value::String(s) => ascii_string_len(s),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(ascii_compact_len).sum::<usize>()
        }
        Value::Object(map) => {
            // Each entry adds a ':' and all but the first a ','.
            2 + (2 * map.len()).saturating_sub(1)
                + map
                    .iter()
                    .map(|(k, v)| ascii_string_len(k) + ascii_compact_len(v))
                    .sum::<usize>()
        }
    }
}

fn ascii_string_len(s: &str) -> usize {
    let mut len = 2;
    for c in s.chars() {
        len += match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            ' '..='~' => 1,
            c if u32::from(c) > 0xffff => 12,
            _ => 6,
        };
    }
    len
}

impl fmt::Display for Value {
    /// Writes the canonical JSON text (see [`to_canonical_string`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_canonical_string(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{Map, Number};

    #[test]
    fn strings_escape_like_python_with_ensure_ascii_false() {
        let text: String =
            (0u8..0x20).map(char::from).collect::<String>() + "\"\\/\u{7f}\u{2028}\u{2029}é😀";
        let expected = concat!(
            r#""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#,
            r#"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017"#,
            r#"\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#,
            "\\\"\\\\/\u{7f}\u{2028}\u{2029}é😀\""
        );
        assert_eq!(to_canonical_string(&Value::from(text)), expected);
    }

    #[test]
    fn objects_are_sorted_and_compact() {
        let map: Map = [
            ("é", Value::from(1)),
            ("Z", Value::from(1.0)),
            (
                "a",
                Value::Array(vec![Value::Null, Value::Bool(true), Value::Bool(false)]),
            ),
        ]
        .into_iter()
        .collect();
        let value = Value::Object(map);
        assert_eq!(
            to_canonical_string(&value),
            r#"{"Z":1.0,"a":[null,true,false],"é":1}"#
        );
        assert_eq!(value.to_string(), to_canonical_string(&value));
        let mut bytes = b"prefix".to_vec();
        write_canonical(&value, &mut bytes);
        assert_eq!(
            bytes,
            [b"prefix".as_slice(), to_canonical_string(&value).as_bytes()].concat()
        );
        assert_eq!(canonical_len(&value), to_canonical_string(&value).len());
    }

    #[test]
    fn ascii_length_escapes_non_ascii() {
        // json.dumps({"é": ["\x7f😀", 1e16, None, True, False, "a\n\x01"], "k": {}},
        // separators=(",", ":")) ==
        // '{"\\u00e9":["\\u007f\\ud83d\\ude00",1e+16,null,true,false,"a\\n\\u0001"],"k":{}}' (72
        // characters)
        let inner = Value::Array(vec![
            Value::from("\u{7f}😀"),
            Value::Number(Number::from_f64(1e16)),
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::from("a\n\u{1}"),
        ]);
        let map: Map = [("é", inner), ("k", Value::Object(Map::new()))]
            .into_iter()
            .collect();
        let value = Value::Object(map);
        let python =
            r#"{"\u00e9":["\u007f\ud83d\ude00",1e+16,null,true,false,"a\n\u0001"],"k":{}}"#;
        assert_eq!(ascii_compact_len(&value), python.len());
        assert_eq!(ascii_compact_len(&Value::Array(vec![])), 2);
        assert_eq!(ascii_compact_len(&Value::Object(Map::new())), 2);
    }
}
