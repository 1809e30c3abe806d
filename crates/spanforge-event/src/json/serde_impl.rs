//! `serde::Serialize` for [`Value`], so higher layers can embed JSON values in their own serde
//! types.
//!
//! This path is convenient but not byte-exact: a serde serializer such as `serde_json` writes
//! floats its own way (`1e-5` where Python writes `1e-05`), writes `NaN` and the infinities as
//! `null`, and has no representation for integers beyond 128 bits, which are therefore handed to it
//! as (lossy) `f64`. Checksums and signatures must be computed over
//! [`write_canonical`](super::write_canonical) or
//! [`to_canonical_string`](super::to_canonical_string).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::number::Number;
use super::value::{Map, Value};

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(u) = self.as_u64() {
            serializer.serialize_u64(u)
        } else if let Some(i) = self.as_i64() {
            serializer.serialize_i64(i)
        } else if let Some(i) = self.as_i128() {
            serializer.serialize_i128(i)
        } else if let Some(u) = self
            .is_integer()
            .then(|| self.to_string().parse::<u128>().ok())
            .flatten()
        {
            serializer.serialize_u128(u)
        } else {
            serializer.serialize_f64(self.as_f64())
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self {
            map.serialize_entry(key.as_str(), value)?;
        }
        map.end()
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => map.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::json::parse;

    #[test]
    fn serializes_through_serde_json() {
        let value = parse(
            r#"{"b":[1,-2,1.5,null,true,"x"],"a":{"big":340282366920938463463374607431768211455}}"#,
        )
        .expect("valid JSON");
        let text = serde_json::to_string(&value).expect("serialisable");
        assert_eq!(
            text,
            r#"{"a":{"big":340282366920938463463374607431768211455},"b":[1,-2,1.5,null,true,"x"]}"#
        );
        // The documented differences: serde_json lays out floats its own way and writes NaN as
        // null.
        let floats = parse("[1e-05, NaN]").expect("valid JSON");
        assert_eq!(floats.to_string(), "[1e-05,NaN]");
        let via_serde = serde_json::to_string(&floats).expect("serialisable");
        assert!(
            via_serde.ends_with(",null]") && !via_serde.starts_with("[1e-05"),
            "{via_serde}"
        );
    }
}
