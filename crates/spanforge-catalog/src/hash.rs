//! Content hashes: SHA-256 over a canonical JSON serialisation of catalog data.
//!
//! The canonical form is the one RFC 8785 (JCS) prescribes for the values the catalog holds:
//! object keys sorted, no insignificant whitespace, strings escaped as JSON requires (non-ASCII
//! characters written as UTF-8, not `\u` escapes), integers in plain decimal. The catalog data
//! holds no floating-point numbers, so JCS's number rules reduce to integer printing, and all
//! keys are ASCII, so sorting by code point equals JCS's UTF-16 ordering. The result is
//! independent of platform, of line endings in the data files, and of serde_json's
//! `preserve_order` feature (the writer sorts keys itself).
//!
//! What is hashed is the JSON the model types serialise to (for a framework: its id, edition
//! metadata, groups and nodes), not the bytes of the data file, so comments and layout do not
//! count. A change to the serde shape of the model types therefore changes the hashes; the
//! snapshot test in `tests/catalog/hashes.rs` makes every such change visible.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// A SHA-256 content hash, written `sha256:<64 lowercase hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    /// Hashes the canonical JSON form of a value.
    pub fn of_value(value: &Value) -> Self {
        ContentHash::of_bytes(canonical_json(value).as_bytes())
    }

    /// Hashes raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        ContentHash(Sha256::digest(bytes).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ContentHash {
    type Err = Error;

    /// Parses `sha256:<64 lowercase hex digits>`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidHash {
            input: s.to_owned(),
        };
        let hex_part = s.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex_part.len() != 64 || hex_part.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut out = [0_u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| bad())?;
        Ok(ContentHash(out))
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Writes a value in canonical JSON (see the module documentation).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // Null, booleans, integers and strings print canonically through serde_json.
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_are_sorted_at_every_level_and_whitespace_is_dropped() {
        let v = json!({"b": [3, {"z": null, "a": true}], "a": "x\u{e9}\n", "c": -7});
        assert_eq!(
            canonical_json(&v),
            "{\"a\":\"x\u{e9}\\n\",\"b\":[3,{\"a\":true,\"z\":null}],\"c\":-7}"
        );
    }

    #[test]
    fn known_digest() {
        // SHA-256 of the empty JSON object "{}".
        let h = ContentHash::of_value(&json!({}));
        assert_eq!(
            h.to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn display_parse_round_trip() {
        let h = ContentHash::of_bytes(b"spanforge");
        assert_eq!(h.to_string().parse::<ContentHash>().unwrap(), h);
        assert!("sha256:ABC".parse::<ContentHash>().is_err());
        assert!("md5:00".parse::<ContentHash>().is_err());
        let upper = h.to_string().to_uppercase().replace("SHA256", "sha256");
        assert!(upper.parse::<ContentHash>().is_err());
    }
}
