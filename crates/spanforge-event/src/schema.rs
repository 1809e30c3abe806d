//! The JSON Schema (draft 2020-12) of the envelope, built from the constants the validator itself uses.
//!
//! The schema is generated, not written: field names, required fields, schema versions, the 74 registered
//! types, reserved namespaces, limits and patterns all come from this crate's modules, and each pattern sits next
//! to the hand-written check it describes (a test compares the two on many inputs). The generated text is
//! committed as `docs/schema/event-envelope.schema.json` and a test fails when it drifts from this code;
//! `cargo xtask codegen` (or `SPANFORGE_BLESS=1 cargo test -p spanforge-event`) rewrites it.
//!
//! Some rules cannot be written in JSON Schema and are only described: the size guard (1 MiB), the payload
//! depth guard (10), calendar validity of timestamps, and the extension-type rule that a type must not start
//! with a reserved namespace is written with `not`.

use crate::envelope::{FIELD_NAMES, MAX_EVENT_BYTES, MAX_PAYLOAD_DEPTH, REQUIRED_FIELDS};
use crate::event_type::{BARE_NAMESPACES, EXTENSION_PATTERN, RegisteredType};
use crate::ids::{
    CHECKSUM_PATTERN, SIGNATURE_PATTERN, SOURCE_PATTERN, SPAN_ID_PATTERN, SchemaVersion,
    TRACE_ID_PATTERN,
};
use crate::json::{self, Map, Value};
use crate::tags::MAX_TAGS;
use crate::timestamp::TIMESTAMP_PATTERN;
use crate::ulid::ULID_PATTERN;

/// Where the generated schema is committed, relative to the workspace root.
pub const SCHEMA_PATH: &str = "docs/schema/event-envelope.schema.json";

fn obj<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(entries.into_iter().collect())
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Array(items.into_iter().map(s).collect())
}

/// A string property that may also be `null` (null counts as absent).
fn optional_string(description: &str, pattern: Option<&str>, min_length: bool) -> Value {
    let mut m = Map::new();
    m.insert("type", strings(["string", "null"]));
    m.insert("description", s(description));
    if let Some(p) = pattern {
        m.insert("pattern", s(p));
    }
    if min_length {
        m.insert("minLength", Value::from(1u64));
    }
    Value::Object(m)
}

fn required_string(description: &str, pattern: &str) -> Value {
    obj([
        ("type", s("string")),
        ("description", s(description)),
        ("pattern", s(pattern)),
    ])
}

fn property(name: &str) -> Value {
    match name {
        "schema_version" => obj([
            ("type", s("string")),
            (
                "description",
                s("Schema version; new events carry \"2.0\"."),
            ),
            (
                "enum",
                strings(SchemaVersion::ALL.iter().map(|v| v.as_str())),
            ),
        ]),
        "event_id" => required_string(
            "ULID: 26 Crockford base-32 characters, either case, first character 0-7. Kept exactly as written.",
            ULID_PATTERN,
        ),
        "event_type" => {
            let reserved: Vec<&str> = std::iter::once("llm").chain(BARE_NAMESPACES).collect();
            let reserved_prefix = format!("^({})\\.", reserved.join("|"));
            obj([
                ("type", s("string")),
                (
                    "description",
                    s(
                        "A registered event type, or an extension type of four or more segments outside the reserved \
                       namespaces.",
                    ),
                ),
                (
                    "anyOf",
                    Value::Array(vec![
                        obj([(
                            "enum",
                            strings(RegisteredType::ALL.iter().map(|t| t.as_str())),
                        )]),
                        obj([
                            ("pattern", s(EXTENSION_PATTERN)),
                            ("not", obj([("pattern", s(&reserved_prefix))])),
                        ]),
                    ]),
                ),
            ])
        }
        "timestamp" => required_string(
            "UTC time with exactly six fractional digits; the date must exist and the year lie in 0001-9999.",
            TIMESTAMP_PATTERN,
        ),
        "source" => required_string("The emitting tool, name@semver.", SOURCE_PATTERN),
        "payload" => obj([
            ("type", s("object")),
            (
                "description",
                s(&format!(
                    "Event data: a non-empty object, nested at most {MAX_PAYLOAD_DEPTH} levels deep (a scalar \
                     counts 1, a container one more than its deepest member)."
                )),
            ),
            ("minProperties", Value::from(1u64)),
        ]),
        "trace_id" => optional_string("W3C trace id.", Some(TRACE_ID_PATTERN), false),
        "span_id" => optional_string("W3C span id.", Some(SPAN_ID_PATTERN), false),
        "parent_span_id" => optional_string(
            "W3C span id of the parent span.",
            Some(SPAN_ID_PATTERN),
            false,
        ),
        "org_id" => optional_string("Organisation id.", None, true),
        "team_id" => optional_string("Team id.", None, true),
        "actor_id" => optional_string("User or service-account id.", None, true),
        "session_id" => optional_string("Session id.", None, true),
        "tags" => obj([
            ("type", strings(["object", "null"])),
            (
                "description",
                s("String metadata; keys and values are non-empty strings."),
            ),
            ("maxProperties", Value::from(MAX_TAGS)),
            ("propertyNames", obj([("minLength", Value::from(1u64))])),
            (
                "additionalProperties",
                obj([("type", s("string")), ("minLength", Value::from(1u64))]),
            ),
        ]),
        "checksum" => optional_string(
            "SHA-256 of the payload's canonical JSON, \"sha256:\" + 64 lowercase hex digits.",
            Some(CHECKSUM_PATTERN),
            false,
        ),
        "signature" => optional_string(
            "Chain signature, \"hmac-sha256:\" + 64 lowercase hex digits.",
            Some(SIGNATURE_PATTERN),
            false,
        ),
        "prev_id" => optional_string(
            "The previous event's id in the chain (a ULID).",
            Some(ULID_PATTERN),
            false,
        ),
        _ => Value::Null,
    }
}

/// The envelope schema as a JSON value.
pub fn envelope_schema() -> Value {
    let properties: Map = FIELD_NAMES
        .iter()
        .map(|&name| (name, property(name)))
        .collect();
    obj([
        ("$schema", s("https://json-schema.org/draft/2020-12/schema")),
        (
            "title",
            s("SpanForge event envelope (RFC-0001, schema 2.0)"),
        ),
        (
            "description",
            s(&format!(
                "Generated by spanforge-event from the constants its validator uses; do not edit, run `cargo xtask \
                 codegen`. One event per line of a JSONL file. Fields set to null count as absent. Unknown \
                 top-level fields are allowed and kept. An event may be at most {MAX_EVENT_BYTES} bytes."
            )),
        ),
        ("type", s("object")),
        ("required", strings(REQUIRED_FIELDS)),
        ("properties", Value::Object(properties)),
        ("additionalProperties", Value::Bool(true)),
    ])
}

/// The envelope schema as the text committed at [`SCHEMA_PATH`]: indented by two spaces, keys sorted, non-ASCII
/// written raw, ending in a newline.
pub fn envelope_schema_json() -> String {
    let mut out = Vec::new();
    write_pretty(&envelope_schema(), 0, &mut out);
    out.push(b'\n');
    String::from_utf8(out)
        .expect("invariant: the JSON writer emits only UTF-8 taken from `str` values")
}

/// Writes `value` indented; scalars use the canonical writer.
fn write_pretty(value: &Value, indent: usize, out: &mut Vec<u8>) {
    let newline = |out: &mut Vec<u8>, level: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', 2 * level));
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, indent + 1);
                write_pretty(item, indent + 1, out);
            }
            newline(out, indent);
            out.push(b']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                newline(out, indent + 1);
                json::write_canonical(&Value::from(key.as_str()), out);
                out.extend_from_slice(b": ");
                write_pretty(item, indent + 1, out);
            }
            newline(out, indent);
            out.push(b'}');
        }
        scalar => json::write_canonical(scalar, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lists_every_field_and_type() {
        let schema = envelope_schema();
        let props = schema.get("properties").and_then(Value::as_object).unwrap();
        assert_eq!(props.len(), FIELD_NAMES.len());
        assert!(props.iter().all(|(_, v)| v.as_object().is_some()));
        let text = envelope_schema_json();
        assert_eq!(json::parse(&text).unwrap(), schema);
        assert!(text.ends_with("}\n"));
        for t in RegisteredType::ALL {
            assert!(text.contains(&format!("\"{}\"", t.as_str())), "{t}");
        }
    }
}
