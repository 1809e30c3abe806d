//! Canonical JSON, byte-identical to the reference SDK's checksum input.
//!
//! The reference Python SDK computes every payload checksum over `json.dumps(payload,
//! sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")`, applied to what
//! `json.loads` returned. This module reproduces that pipeline exactly: [`parse`] reads text into a
//! [`Value`] the way `json.loads` would, and [`write_canonical`] / [`to_canonical_string`] write
//! the bytes `json.dumps` would.
//!
//! ```
//! use spanforge_event::json::{parse, to_canonical_string};
//!
//! let text = r#"{ "z": 1e16, "a": [1.0, 1e-5, -0, "é\u2028"], "big": 18446744073709551617 }"#;
//! let value = parse(text)?;
//! assert_eq!(
//!     to_canonical_string(&value),
//!     "{\"a\":[1.0,1e-05,0,\"é\u{2028}\"],\"big\":18446744073709551617,\"z\":1e+16}"
//! );
//! # Ok::<(), spanforge_event::json::ParseError>(())
//! ```
//!
//! # What is reproduced
//! * Numbers keep Python's `int`/`float` split: `1` stays `1`, `1.0` stays `1.0`, `1e5` is the
//!   float `100000.0`. Integers are exact at any size. Floats are written as Python's `repr` writes
//!   them: shortest round-trip digits, positional between `1e-4` and `1e16` (`1e-05`, `0.0001`,
//!   `1000000000000000.0`, `1e+16`).
//! * `NaN`, `Infinity` and `-Infinity` are read and written bare; a literal beyond the `f64` range
//!   such as `1e400` becomes `Infinity`, as Python's `float()` makes it.
//! * Strings are written as raw UTF-8 with only `"`, `\` and control characters below U+0020
//!   escaped (short forms `\n \r \t \b \f`, otherwise lowercase `\u00XX`); U+007F, U+2028 and
//!   U+2029 are written raw.
//! * Object keys are sorted by code point, which for Rust strings is byte order.
//!
//! # Where this parser is stricter than `json.loads`, on purpose
//! * **Duplicate keys** in one object are rejected. Python keeps the last value silently, while
//!   other readers keep the first: a payload with duplicates can show one value to a reviewer and
//!   checksum another, so it is refused.
//! * **Lone surrogates** (`"\ud800"`) are rejected: Python accepts them, but the reference's
//!   `sign()` then fails to UTF-8-encode the canonical text, so such a payload can never carry a
//!   valid checksum.
//! * **Nesting** deeper than [`Limits::max_depth`] (default 128) is rejected, so hostile input
//!   cannot exhaust the stack. Envelope rules apply their own payload depth limit with
//!   [`Value::depth`].
//! * **Integers** longer than 4300 digits are rejected, as CPython's `json.loads` itself does by
//!   default.
//!
//! Like `json.loads`, the parser allows only space, tab, LF and CR as whitespace, rejects a byte
//! order mark, raw control characters in strings, leading zeros, trailing commas, comments and
//! single quotes, and rejects any text after the value.
//!
//! # Text that already is canonical
//! Nearly every event line was written by the reference's `to_json()` and so already is canonical.
//! [`parse_and_check_canonical`] reports, at almost no cost while parsing, whether the input is
//! byte for byte the canonical text of its value; the envelope layer uses the same check to keep
//! such lines verbatim instead of writing them again.
//!
//! # Byte-exact paths
//! Only [`write_canonical`] and [`to_canonical_string`] (and `Display` for [`Value`], which uses
//! them) are byte-exact. The `serde::Serialize` implementation exists for embedding values in other
//! serde types; a serde serializer lays out floats its own way.

mod number;
mod parse;
mod serde_impl;
mod value;
mod write;

pub use number::Number;
pub(crate) use parse::{Decline, Member, MemberReader};
pub use parse::{
    Limits, ParseError, ParseErrorKind, compare_keys, parse, parse_and_check_canonical,
    parse_with_limits, scan_plain,
};
pub use value::{IntoIter, Iter, Key, Map, Str, Value};
pub use write::{ascii_compact_len, canonical_len, to_canonical_string, write_canonical};

/// Parses UTF-8 bytes, as read from a file or socket, with the given [`Limits`].
///
/// # Errors
/// Returns a [`ParseError`] of kind [`ParseErrorKind::InvalidUtf8`] at the first invalid byte, or
/// any error [`parse_with_limits`] returns.
pub fn parse_slice(bytes: &[u8], limits: Limits) -> Result<Value, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_with_limits(text, limits),
        Err(e) => {
            let valid = bytes
                .get(..e.valid_up_to())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or("");
            Err(ParseError::invalid_utf8(valid, e.valid_up_to()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_slice_reports_invalid_utf8_position() {
        let e = parse_slice(b"[\"ok\",\n \"\xff\"]", Limits::default()).expect_err("invalid UTF-8");
        assert_eq!(e.kind(), &ParseErrorKind::InvalidUtf8);
        assert_eq!((e.line(), e.column(), e.offset()), (2, 3, 9));
        assert_eq!(parse_slice(b"[1]", Limits::default()), parse("[1]"));
    }
}
