//! Evidence-rule building blocks: event-type patterns checked against the SpanForge event-type
//! grammar, and simple typed field conditions.
//!
//! The mapping engine (a higher layer) evaluates these against events; this module only defines
//! and parses them, so that a rule that names an impossible event type or a malformed condition
//! can never reach the engine.

use std::fmt;

use serde::{Serialize, Serializer};

use spanforge_event::event_type::BARE_NAMESPACES;
use spanforge_event::{EventType, RegisteredType};

use crate::error::{Error, Result};

/// How an event type satisfies the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventTypeKind {
    /// One of the 74 types the reference SDK registers ([`RegisteredType`]).
    Registered,
    /// A reverse-domain extension type with at least four segments, outside every reserved
    /// namespace (for example `dev.spanforge.access.reviewed`).
    Extension,
}

/// Checks one concrete event type with the envelope's own validator
/// ([`spanforge_event::EventType::parse`]), so the catalog can never name a type that an
/// event could not carry.
///
/// # Errors
///
/// [`Error::EventType`] with the validator's reason.
pub fn check_event_type(event_type: &str) -> Result<EventTypeKind> {
    match EventType::parse(event_type) {
        Ok(t) if t.is_registered() => Ok(EventTypeKind::Registered),
        Ok(_) => Ok(EventTypeKind::Extension),
        Err(e) => Err(Error::EventType {
            event_type: event_type.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Whether any registered type starts with `prefix.`.
fn prefix_of_registered(dotted: &str) -> bool {
    RegisteredType::ALL
        .iter()
        .any(|t| t.as_str().starts_with(dotted))
}

/// The event types an evidence rule selects: one exact type, or every type under a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventPattern {
    /// Exactly this event type.
    Exact(String),
    /// Every event type that starts with this prefix followed by a dot (written `prefix.*`).
    Prefix(String),
}

impl EventPattern {
    /// Parses `a.b.c` (exact) or `a.b.*` (prefix) and checks it against the grammar.
    ///
    /// A prefix inside a reserved namespace must be a prefix of at least one registered type
    /// (so `llm.trace.*` and `model_registry.*` are fine, `llm.drift.*` is not); an extension
    /// prefix needs at least two segments and must leave room for a valid extension type.
    ///
    /// # Errors
    ///
    /// [`Error::EventType`] when the pattern can match no valid event type.
    pub fn parse(text: &str) -> Result<Self> {
        let Some(prefix) = text.strip_suffix(".*") else {
            check_event_type(text)?;
            return Ok(EventPattern::Exact(text.to_owned()));
        };
        let fail = |reason: &str| {
            Err(Error::EventType {
                event_type: text.to_owned(),
                reason: reason.to_owned(),
            })
        };
        let dotted = format!("{prefix}.");
        let first = prefix.split('.').next().unwrap_or_default();
        if first == "llm" || BARE_NAMESPACES.contains(&first) {
            if prefix_of_registered(&dotted) {
                return Ok(EventPattern::Prefix(prefix.to_owned()));
            }
            return fail("the prefix is in a reserved namespace but matches no registered type");
        }
        let segments: Vec<&str> = prefix.split('.').collect();
        if segments.len() < 2 {
            return fail("an extension prefix needs at least two segments");
        }
        // A valid extension type with this prefix exists iff the prefix plus two placeholder
        // segments is valid (segments after the prefix can always be chosen freely).
        check_event_type(&format!("{prefix}.x.y")).map_err(|_| Error::EventType {
            event_type: text.to_owned(),
            reason: "no valid extension type can start with this prefix".to_owned(),
        })?;
        Ok(EventPattern::Prefix(prefix.to_owned()))
    }

    /// Whether a concrete event type falls under this pattern.
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            EventPattern::Exact(t) => t == event_type,
            EventPattern::Prefix(p) => {
                event_type.len() > p.len() + 1
                    && event_type.starts_with(p.as_str())
                    && event_type.as_bytes().get(p.len()) == Some(&b'.')
            }
        }
    }

    /// Whether the pattern selects only extension types (outside the reference SDK's registry).
    pub fn is_extension(&self) -> bool {
        let text = match self {
            EventPattern::Exact(t) | EventPattern::Prefix(t) => t,
        };
        let first = text.split('.').next().unwrap_or_default();
        first != "llm" && !BARE_NAMESPACES.contains(&first)
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventPattern::Exact(t) => f.write_str(t),
            EventPattern::Prefix(p) => write!(f, "{p}.*"),
        }
    }
}

impl Serialize for EventPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Envelope fields a condition may start from (the SpanForge event envelope, schema 2.0).
const SCALAR_ROOTS: [&str; 14] = [
    "schema_version",
    "event_id",
    "event_type",
    "timestamp",
    "source",
    "trace_id",
    "span_id",
    "parent_span_id",
    "checksum",
    "signature",
    "prev_id",
    "actor_id",
    "org_id",
    "team_id",
];
/// Envelope fields that hold objects; a path must go at least one level into them.
const OBJECT_ROOTS: [&str; 2] = ["payload", "tags"];

/// A dotted path to a field of an event, such as `payload.status` or `actor_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// Parses and checks a path: the first segment is an envelope field; `payload` and `tags`
    /// need at least one more segment; other roots take none; segments use `[A-Za-z0-9_]`.
    ///
    /// # Errors
    ///
    /// [`Error::Condition`] when the path breaks one of those rules.
    pub fn parse(text: &str) -> Result<Self> {
        let fail = |reason: &str| {
            Err(Error::Condition {
                input: text.to_owned(),
                reason: reason.to_owned(),
            })
        };
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return fail("path segments must be non-empty and use only letters, digits and _");
        }
        let root = segments.first().map(String::as_str).unwrap_or_default();
        if OBJECT_ROOTS.contains(&root) {
            if segments.len() < 2 {
                return fail("payload and tags paths must name a field inside them");
            }
        } else if SCALAR_ROOTS.contains(&root) {
            if segments.len() != 1 {
                return fail("this envelope field holds a scalar and has no sub-fields");
            }
        } else {
            return fail(
                "the path must start with an envelope field (payload, tags, actor_id, ...)",
            );
        }
        Ok(FieldPath(segments))
    }

    /// The path's segments, root first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// A literal value in a condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A string (quoted, or a bare word in the source).
    Str(String),
    /// A whole number.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // JSON quoting, so that `Condition::parse` reads the rendered form back unchanged.
            Scalar::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One field condition an event must meet to count as evidence.
///
/// Source syntax (one condition per string):
///
/// ```text
/// actor_id present            payload.error absent
/// payload.status == ok        payload.result != "fail"
/// payload.kind in [a, b]      payload.interval_s <= 3600      payload.days >= 183
/// ```
///
/// Strings may be bare words (`[A-Za-z0-9_.:/-]+`) or double-quoted; `true`/`false` are
/// booleans and numbers are integers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The field exists and is not null.
    Present(FieldPath),
    /// The field is missing or null.
    Absent(FieldPath),
    /// The field equals the value.
    Equals(FieldPath, Scalar),
    /// The field is present and differs from the value.
    NotEquals(FieldPath, Scalar),
    /// The field equals one of the values.
    OneOf(FieldPath, Vec<Scalar>),
    /// The field is a number greater than or equal to the bound.
    AtLeast(FieldPath, i64),
    /// The field is a number less than or equal to the bound.
    AtMost(FieldPath, i64),
}

impl Condition {
    /// Parses one condition written in the syntax above.
    ///
    /// # Errors
    ///
    /// [`Error::Condition`] for an unknown operator, a bad path or a malformed value.
    pub fn parse(text: &str) -> Result<Self> {
        let fail = |reason: &str| {
            Err(Error::Condition {
                input: text.to_owned(),
                reason: reason.to_owned(),
            })
        };
        let trimmed = text.trim();
        let (path_text, rest) = trimmed
            .split_once(char::is_whitespace)
            .unwrap_or((trimmed, ""));
        let path = FieldPath::parse(path_text).map_err(|e| match e {
            Error::Condition { reason, .. } => Error::Condition {
                input: text.to_owned(),
                reason,
            },
            other => other,
        })?;
        let rest = rest.trim();
        match rest {
            "present" => return Ok(Condition::Present(path)),
            "absent" => return Ok(Condition::Absent(path)),
            "" => return fail("expected an operator: present, absent, ==, !=, in, >=, <="),
            _ => {}
        }
        let (op, value_text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let value_text = value_text.trim();
        if value_text.is_empty() {
            return fail("the operator needs a value");
        }
        let scalar = |t: &str| -> Result<Scalar> {
            parse_scalar(t).ok_or_else(|| Error::Condition {
                input: text.to_owned(),
                reason: format!("{t:?} is not a string, integer or boolean literal"),
            })
        };
        let integer = |t: &str| -> Result<i64> {
            match parse_scalar(t) {
                Some(Scalar::Int(i)) => Ok(i),
                _ => Err(Error::Condition {
                    input: text.to_owned(),
                    reason: "ordered comparisons need an integer".to_owned(),
                }),
            }
        };
        match op {
            "==" => Ok(Condition::Equals(path, scalar(value_text)?)),
            "!=" => Ok(Condition::NotEquals(path, scalar(value_text)?)),
            ">=" => Ok(Condition::AtLeast(path, integer(value_text)?)),
            "<=" => Ok(Condition::AtMost(path, integer(value_text)?)),
            "in" => {
                let Some(inner) = value_text
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                else {
                    return fail("`in` needs a list such as [a, b]");
                };
                let values = inner
                    .split(',')
                    .map(|item| scalar(item.trim()))
                    .collect::<Result<Vec<_>>>()?;
                if values.is_empty() {
                    return fail("`in` needs at least one value");
                }
                Ok(Condition::OneOf(path, values))
            }
            _ => fail("unknown operator; expected present, absent, ==, !=, in, >=, <="),
        }
    }

    /// The field the condition tests.
    pub fn path(&self) -> &FieldPath {
        match self {
            Condition::Present(p)
            | Condition::Absent(p)
            | Condition::Equals(p, _)
            | Condition::NotEquals(p, _)
            | Condition::OneOf(p, _)
            | Condition::AtLeast(p, _)
            | Condition::AtMost(p, _) => p,
        }
    }
}

fn parse_scalar(text: &str) -> Option<Scalar> {
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // Quoted strings use JSON string syntax, so escapes have one meaning everywhere.
        return serde_json::from_str::<String>(&format!("\"{inner}\""))
            .ok()
            .map(Scalar::Str);
    }
    match text {
        "true" => return Some(Scalar::Bool(true)),
        "false" => return Some(Scalar::Bool(false)),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Scalar::Int(i));
    }
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:/-".contains(c))
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    bare.then(|| Scalar::Str(text.to_owned()))
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Present(p) => write!(f, "{p} present"),
            Condition::Absent(p) => write!(f, "{p} absent"),
            Condition::Equals(p, v) => write!(f, "{p} == {v}"),
            Condition::NotEquals(p, v) => write!(f, "{p} != {v}"),
            Condition::OneOf(p, vs) => {
                let items: Vec<String> = vs.iter().map(ToString::to_string).collect();
                write!(f, "{p} in [{}]", items.join(", "))
            }
            Condition::AtLeast(p, n) => write!(f, "{p} >= {n}"),
            Condition::AtMost(p, n) => write!(f, "{p} <= {n}"),
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn registered_types_are_recognised() {
        assert_eq!(RegisteredType::ALL.len(), 74);
        for t in RegisteredType::ALL {
            assert_eq!(
                check_event_type(t.as_str()).unwrap(),
                EventTypeKind::Registered
            );
        }
    }

    #[test]
    fn extension_grammar() {
        for ok in [
            "dev.spanforge.access.reviewed",
            "dev.spanforge.model.deployed",
            "com.example.model.call.completed",
            "x.acme.foo.bar",
            "dev.span-forge.tenant.isolation_verified",
        ] {
            assert_eq!(
                check_event_type(ok).unwrap(),
                EventTypeKind::Extension,
                "{ok}"
            );
        }
        for bad in [
            "llm.call",
            "llm.drift.detected",
            "llm.tool.call.completed",
            "llm.rag.query.done.now",
            "decision.made.extra",
            "audit.log.written",
            "audit.log.written.now",
            "model.promoted",
            "dev.spanforge.access",
            "dev.span_forge.access.reviewed",
            "dev.spanforge.access.re-viewed",
            "Dev.spanforge.access.reviewed",
            "dev..access.reviewed",
            "dev.spanforge.access.1reviewed",
        ] {
            assert!(check_event_type(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn patterns() {
        let p = EventPattern::parse("llm.trace.*").unwrap();
        assert!(p.matches("llm.trace.span.completed"));
        assert!(!p.matches("llm.tracer.span"));
        assert!(!p.matches("llm.trace"));
        assert!(!p.is_extension());
        assert!(EventPattern::parse("model_registry.*").is_ok());
        assert!(
            EventPattern::parse("dev.spanforge.incident.*")
                .unwrap()
                .is_extension()
        );
        assert!(EventPattern::parse("llm.drift.*").is_err());
        assert!(EventPattern::parse("dev.*").is_err());
        assert!(EventPattern::parse("decision.made.*").is_err());
        let exact = EventPattern::parse("hitl.reviewed").unwrap();
        assert!(exact.matches("hitl.reviewed") && !exact.matches("hitl.queued"));
        assert_eq!(exact.to_string(), "hitl.reviewed");
        assert_eq!(p.to_string(), "llm.trace.*");
    }

    #[test]
    fn conditions_parse_and_render() {
        let cases = [
            ("actor_id present", "actor_id present"),
            ("payload.error absent", "payload.error absent"),
            ("payload.status == ok", "payload.status == \"ok\""),
            ("payload.result != \"fail\"", "payload.result != \"fail\""),
            (
                "payload.kind in [a, \"b c\", 3]",
                "payload.kind in [\"a\", \"b c\", 3]",
            ),
            ("payload.days >= 183", "payload.days >= 183"),
            ("payload.interval_s <= 3600", "payload.interval_s <= 3600"),
            ("tags.exercise == true", "tags.exercise == true"),
        ];
        for (input, rendered) in cases {
            let c = Condition::parse(input).unwrap();
            assert_eq!(c.to_string(), rendered);
            assert_eq!(
                Condition::parse(rendered).unwrap(),
                c,
                "re-parse of {rendered}"
            );
        }
    }

    #[test]
    fn bad_conditions_are_rejected() {
        for bad in [
            "",
            "payload",
            "tags present",
            "actor_id.name present",
            "user.id present",
            "payload.status",
            "payload.status ~= ok",
            "payload.status ==",
            "payload.days >= many",
            "payload.kind in a, b",
            "payload.kind in []",
            "payload.status == \"unterminated",
            "payload..x present",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    proptest! {
        #[test]
        fn condition_display_round_trips(
            field in "[a-z][a-z0-9_]{0,8}",
            word in "[a-z][a-z0-9_]{0,8}",
            n in any::<i64>(),
        ) {
            let texts = [
                format!("payload.{field} == {word}"),
                format!("payload.{field} >= {n}"),
                format!("tags.{field} in [{word}, {n}]"),
            ];
            for text in texts {
                let c = Condition::parse(&text).unwrap();
                prop_assert_eq!(Condition::parse(&c.to_string()).unwrap(), c);
            }
        }

        #[test]
        fn extension_types_need_four_segments(segs in proptest::collection::vec("[a-z][a-z0-9]{0,5}", 1..7)) {
            let t = format!("dev.{}", segs.join("."));
            let ok = check_event_type(&t).is_ok();
            prop_assert_eq!(ok, segs.len() >= 3);
        }
    }
}
