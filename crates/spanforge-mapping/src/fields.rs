//! Reading event fields by the catalog's dotted paths, and evaluating the catalog's field
//! conditions against events. Nothing here panics on an odd payload shape: a path that meets a
//! string where it expects an object simply finds nothing.

use spanforge_catalog::rules::{Condition, FieldPath, Scalar};
use spanforge_event::Event;
use spanforge_event::json::Value;

/// A field value found on an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field<'a> {
    /// A string (envelope ids, tags, payload strings).
    Str(&'a str),
    /// Any other JSON value inside the payload.
    Json(&'a Value),
    /// A field that is present but not read as text (the checksum and the signature).
    Opaque,
}

impl<'a> Field<'a> {
    /// The value as text when it is a string, a number or a boolean (numbers and booleans in
    /// their JSON spelling); `None` for null, objects and arrays.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Field::Str(s) => Some((*s).to_owned()),
            Field::Json(Value::String(s)) => Some(s.to_string()),
            Field::Json(Value::Bool(b)) => Some(b.to_string()),
            Field::Json(Value::Number(n)) => Some(n.to_string()),
            Field::Json(_) | Field::Opaque => None,
        }
    }

    /// The value as a string slice when it is a string.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Json(Value::String(s)) => Some(s),
            Field::Json(_) | Field::Opaque => None,
        }
    }

    /// Whether the value counts as present: not null, and not an empty string.
    pub fn is_present(&self) -> bool {
        match self {
            Field::Str(s) => !s.is_empty(),
            Field::Json(Value::Null) => false,
            Field::Json(Value::String(s)) => !s.is_empty(),
            Field::Json(_) | Field::Opaque => true,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Field::Json(Value::Number(n)) => Some(n.as_f64()),
            _ => None,
        }
    }

    fn equals(&self, scalar: &Scalar) -> bool {
        match (self, scalar) {
            (_, Scalar::Str(want)) => self.as_str() == Some(want.as_str()),
            (Field::Json(Value::Number(n)), Scalar::Int(want)) => {
                n.as_i64() == Some(*want) || (n.as_i64().is_none() && n.as_f64() == *want as f64)
            }
            (Field::Json(Value::Bool(b)), Scalar::Bool(want)) => b == want,
            _ => false,
        }
    }
}

/// Reads the field at `path` on `event`.
pub fn get<'a>(event: &'a Event, path: &FieldPath) -> Option<Field<'a>> {
    let segments = path.segments();
    let (root, rest) = segments.split_first()?;
    match root.as_str() {
        "payload" => {
            let mut value = event.payload();
            for segment in rest {
                value = value.get(segment)?;
            }
            Some(Field::Json(value))
        }
        "tags" => {
            let [key] = rest else { return None };
            event.tags()?.get(key).map(Field::Str)
        }
        "schema_version" => Some(Field::Str(event.schema_version().as_str())),
        "event_id" => Some(Field::Str(event.event_id().as_str())),
        "event_type" => Some(Field::Str(event.event_type().as_str())),
        "timestamp" => Some(Field::Str(event.timestamp().as_str())),
        "source" => Some(Field::Str(event.source().as_str())),
        "trace_id" => event.trace_id().map(|t| Field::Str(t.as_str())),
        "span_id" => event.span_id().map(|t| Field::Str(t.as_str())),
        "parent_span_id" => event.parent_span_id().map(|t| Field::Str(t.as_str())),
        "checksum" => event.checksum().map(|_| Field::Opaque),
        "signature" => event.signature().map(|_| Field::Opaque),
        "prev_id" => event.prev_id().map(|t| Field::Str(t.as_str())),
        "actor_id" => event.actor_id().map(Field::Str),
        "org_id" => event.org_id().map(Field::Str),
        "team_id" => event.team_id().map(Field::Str),
        _ => None,
    }
}

/// Whether `event` meets `condition`.
pub fn holds(event: &Event, condition: &Condition) -> bool {
    let field = get(event, condition.path());
    match condition {
        Condition::Present(_) => field.is_some_and(|f| f.is_present()),
        Condition::Absent(_) => !field.is_some_and(|f| f.is_present()),
        Condition::Equals(_, v) => field.is_some_and(|f| f.equals(v)),
        Condition::NotEquals(_, v) => field.is_some_and(|f| f.is_present() && !f.equals(v)),
        Condition::OneOf(_, vs) => field.is_some_and(|f| vs.iter().any(|v| f.equals(v))),
        Condition::AtLeast(_, n) => field
            .and_then(|f| f.as_f64())
            .is_some_and(|x| x >= *n as f64),
        Condition::AtMost(_, n) => field
            .and_then(|f| f.as_f64())
            .is_some_and(|x| x <= *n as f64),
    }
}

/// What an event says about models: whether it names one at all, and the names it gives.
///
/// An event names a model through `payload.model.name`, `payload.model_id` or a plain-string
/// `payload.model`. Any of the three may be absent, null, or of another JSON type; none of that
/// is an error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelRef<'a> {
    /// Whether any of the three fields is present and not null.
    pub names_a_model: bool,
    /// The non-empty string values found, in the order above (read them with
    /// [`ModelRef::names`]); kept inline, since this is read for every population item.
    found: [Option<&'a str>; 3],
}

impl<'a> ModelRef<'a> {
    /// The non-empty string values found, in the order above.
    pub fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.found.iter().flatten().copied()
    }
}

/// Reads the model fields of an event (see [`ModelRef`]).
pub fn model_ref(event: &Event) -> ModelRef<'_> {
    let payload = event.payload();
    let model = payload.get("model");
    let mut out = ModelRef::default();
    let candidates = [
        model.and_then(|m| m.get("name")),
        payload.get("model_id"),
        model.filter(|m| !matches!(m, Value::Object(_))),
    ];
    for (slot, value) in out.found.iter_mut().zip(candidates) {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            continue;
        };
        out.names_a_model = true;
        *slot = value.as_str().filter(|s| !s.is_empty());
    }
    // An object under `model` without a usable name still says the event concerns a model.
    if model.is_some_and(|m| matches!(m, Value::Object(_))) {
        out.names_a_model = true;
    }
    out
}

/// Whether an event passes a package's model filter: events that name no model concern the
/// whole organisation and always pass; events that name models pass when one of the names
/// equals `model_id` (ASCII case-insensitively, as the reference SDK compares).
pub fn model_matches(event: &Event, model_id: &str) -> bool {
    let found = model_ref(event);
    !found.names_a_model || found.names().any(|n| n.eq_ignore_ascii_case(model_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(payload: &str) -> Event {
        let line = format!(
            r#"{{"actor_id":"u1","event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{payload},"schema_version":"2.0","source":"bot@1.0.0","tags":{{"surface":"user_facing"}},"timestamp":"2026-01-03T10:00:01.250000Z"}}"#
        );
        Event::from_json_str(&line).unwrap()
    }

    fn cond(text: &str) -> Condition {
        Condition::parse(text).unwrap()
    }

    #[test]
    fn conditions() {
        let e = event(
            r#"{"status":"ok","n":5,"f":2.5,"flag":true,"empty":"","none":null,"model":{"name":"m"}}"#,
        );
        for (text, want) in [
            ("payload.status present", true),
            ("payload.empty present", false),
            ("payload.none present", false),
            ("payload.none absent", true),
            ("payload.missing absent", true),
            ("payload.status == ok", true),
            ("payload.status != ok", false),
            ("payload.status != bad", true),
            ("payload.missing != bad", false),
            ("payload.status in [x, ok]", true),
            ("payload.n >= 5", true),
            ("payload.n <= 4", false),
            ("payload.f >= 2", true),
            ("payload.status >= 1", false),
            ("payload.flag == true", true),
            ("payload.n == 5", true),
            ("payload.model.name == m", true),
            ("payload.status.deeper present", false),
            ("tags.surface == user_facing", true),
            ("tags.other present", false),
            ("actor_id present", true),
            ("team_id present", false),
            ("event_type == decision.made", true),
        ] {
            assert_eq!(holds(&e, &cond(text)), want, "{text}");
        }
    }

    #[test]
    fn model_filter_handles_every_shape() {
        assert!(model_matches(&event(r#"{"model_id":"m1"}"#), "m1"));
        assert!(model_matches(&event(r#"{"model_id":"M1"}"#), "m1"));
        assert!(model_matches(&event(r#"{"model":{"name":"m2"}}"#), "m2"));
        assert!(model_matches(&event(r#"{"model":"m3"}"#), "m3"));
        // Both fields present: either name matches.
        assert!(model_matches(
            &event(r#"{"model":{"name":"a"},"model_id":"b"}"#),
            "b"
        ));
        // Other models are excluded; odd shapes name a model that is not ours, without crashing.
        assert!(!model_matches(&event(r#"{"model_id":"other"}"#), "m1"));
        assert!(!model_matches(&event(r#"{"model":5}"#), "m1"));
        assert!(!model_matches(&event(r#"{"model":[1,2]}"#), "m1"));
        assert!(!model_matches(&event(r#"{"model":{"name":7}}"#), "m1"));
        assert!(!model_matches(&event(r#"{"model":{}}"#), "m1"));
        // Null fields name nothing; events without model fields concern the whole organisation.
        assert!(model_matches(&event(r#"{"model_id":null}"#), "m1"));
        assert!(model_matches(&event(r#"{"other":1}"#), "m1"));
    }
}
