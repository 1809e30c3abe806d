//! Making new events: [`EventBuilder`] collects the fields and checks them all when it builds.

use crate::clock::{Clock, Entropy};
use crate::envelope::{self, Event, MAX_EVENT_BYTES};
use crate::error::{EventError, Result};
use crate::event_type::EventType;
use crate::ids::{SchemaVersion, Source, SpanId, TraceId};
use crate::json::{Map, Value};
use crate::tags::Tags;
use crate::timestamp::Timestamp;
use crate::ulid::{EventId, UlidGenerator};

/// Room kept free under [`MAX_EVENT_BYTES`] for the integrity fields the chain layer adds later
/// (`"checksum":"sha256:…"`, `"signature":"hmac-sha256:…"`, `"prev_id":"…"` and their commas), so that a built
/// event still passes the size guard once signed.
const INTEGRITY_RESERVE: usize = 256;

/// Collects the fields of a new event; [`EventBuilder::build`] checks them and fills in the id and timestamp.
///
/// Setters never fail: every rule is checked once, in `build`, and the error names the field. New events get
/// schema version `2.0`, a fresh ULID and the current time from the generator's clock, unless
/// [`EventBuilder::event_id`] / [`EventBuilder::timestamp`] give them (as when re-issuing an event under the same
/// id, e.g. a tombstone).
///
/// ```
/// # use spanforge_event::*;
/// # struct Zeros;
/// # impl Entropy for Zeros { fn fill(&mut self, b: &mut [u8]) -> Result<(), EntropyError> { b.fill(0); Ok(()) } }
/// let payload = json::parse(r#"{"decision_id":"d1"}"#)?;
/// let mut ids = UlidGenerator::new(FixedClock(1_700_000_000_000_000), Zeros);
/// let event = EventBuilder::new(RegisteredType::DecisionMade, Source::parse("agent@1.2.3")?, payload)
///     .tags(Tags::from_pairs([("env", "prod")])?)
///     .build(&mut ids)?;
/// assert_eq!(event.to_canonical_json(), concat!(
///     r#"{"event_id":"01HF7YAT000000000000000000","event_type":"decision.made","payload":{"decision_id":"d1"},"#,
///     r#""schema_version":"2.0","source":"agent@1.2.3","tags":{"env":"prod"},"#,
///     r#""timestamp":"2023-11-14T22:13:20.000000Z"}"#));
/// # Ok::<(), EventError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBuilder {
    schema_version: SchemaVersion,
    event_type: EventType,
    source: Source,
    payload: Value,
    event_id: Option<EventId>,
    timestamp: Option<Timestamp>,
    trace_id: Option<TraceId>,
    span_id: Option<SpanId>,
    parent_span_id: Option<SpanId>,
    org_id: Option<String>,
    team_id: Option<String>,
    actor_id: Option<String>,
    session_id: Option<String>,
    tags: Option<Tags>,
    extra: Map,
}

impl EventBuilder {
    /// Starts an event of `event_type` from `source` carrying `payload` (which must be a non-empty object).
    pub fn new(event_type: impl Into<EventType>, source: Source, payload: Value) -> Self {
        Self {
            schema_version: SchemaVersion::V2_0,
            event_type: event_type.into(),
            source,
            payload,
            event_id: None,
            timestamp: None,
            trace_id: None,
            span_id: None,
            parent_span_id: None,
            org_id: None,
            team_id: None,
            actor_id: None,
            session_id: None,
            tags: None,
            extra: Map::new(),
        }
    }

    /// Starts from every field of `event` except `checksum`, `signature` and `prev_id`, keeping its id and
    /// timestamp; change what differs and build.
    pub fn from_event(event: &Event) -> Self {
        Self {
            schema_version: event.schema_version,
            event_type: event.event_type.clone(),
            source: event.source.clone(),
            payload: event.payload.clone(),
            event_id: Some(event.event_id),
            timestamp: Some(event.timestamp),
            trace_id: event.trace_id,
            span_id: event.span_id,
            parent_span_id: event.parent_span_id,
            org_id: event.org_id.clone(),
            team_id: event.team_id.clone(),
            actor_id: event.actor_id.clone(),
            session_id: event.session_id.clone(),
            tags: event.tags.clone(),
            extra: event.extra.clone(),
        }
    }

    /// Sets the schema version (default `2.0`).
    pub fn schema_version(mut self, version: SchemaVersion) -> Self {
        self.schema_version = version;
        self
    }

    /// Replaces the event type.
    pub fn event_type(mut self, event_type: impl Into<EventType>) -> Self {
        self.event_type = event_type.into();
        self
    }

    /// Replaces the source.
    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Replaces the payload.
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }

    /// Uses this id instead of generating one.
    pub fn event_id(mut self, id: EventId) -> Self {
        self.event_id = Some(id);
        self
    }

    /// Uses this timestamp instead of reading the clock.
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Sets the trace id.
    pub fn trace_id(mut self, id: TraceId) -> Self {
        self.trace_id = Some(id);
        self
    }

    /// Sets the span id.
    pub fn span_id(mut self, id: SpanId) -> Self {
        self.span_id = Some(id);
        self
    }

    /// Sets the parent span id.
    pub fn parent_span_id(mut self, id: SpanId) -> Self {
        self.parent_span_id = Some(id);
        self
    }

    /// Sets the organisation id (must be non-empty).
    pub fn org_id(mut self, id: impl Into<String>) -> Self {
        self.org_id = Some(id.into());
        self
    }

    /// Sets the team id (must be non-empty).
    pub fn team_id(mut self, id: impl Into<String>) -> Self {
        self.team_id = Some(id.into());
        self
    }

    /// Sets the actor id (must be non-empty).
    pub fn actor_id(mut self, id: impl Into<String>) -> Self {
        self.actor_id = Some(id.into());
        self
    }

    /// Removes the actor id.
    pub fn clear_actor_id(mut self) -> Self {
        self.actor_id = None;
        self
    }

    /// Sets the session id (must be non-empty).
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Removes the session id.
    pub fn clear_session_id(mut self) -> Self {
        self.session_id = None;
        self
    }

    /// Sets the tags.
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = Some(tags);
        self
    }

    /// Adds an unknown top-level field (its name must not be an envelope field; a `null` value is dropped, as the
    /// reference drops it on output).
    pub fn extra_field(mut self, key: impl Into<String>, value: Value) -> Self {
        if !value.is_null() {
            self.extra.insert(key, value);
        }
        self
    }

    /// Removes every unknown top-level field.
    pub fn clear_extra(mut self) -> Self {
        self.extra = Map::new();
        self
    }

    /// Checks every field and builds the event, taking the id and timestamp not given from `ids` (both from the
    /// same clock reading, so the id's time and the timestamp agree).
    pub fn build<C: Clock, E: Entropy>(mut self, ids: &mut UlidGenerator<C, E>) -> Result<Event> {
        match (self.event_id, self.timestamp) {
            (Some(_), Some(_)) => {}
            (None, None) => {
                let (id, ts) = ids.next_id_and_timestamp()?;
                self.event_id = Some(id);
                self.timestamp = Some(ts);
            }
            (None, Some(_)) => self.event_id = Some(ids.next_id()?),
            (Some(_), None) => {
                self.timestamp = Some(Timestamp::from_unix_micros(ids.clock().unix_micros())?);
            }
        }
        self.build_exact()
    }

    /// Checks every field and builds the event from the id and timestamp already given.
    pub fn build_exact(self) -> Result<Event> {
        let event_id = self
            .event_id
            .ok_or_else(|| EventError::missing("event_id", "a ULID"))?;
        let timestamp = self
            .timestamp
            .ok_or_else(|| EventError::missing("timestamp", "a timestamp"))?;
        envelope::check_payload_depth(&self.payload)?;
        envelope::check_payload_not_empty(&self.payload)?;
        for (field, value) in [
            ("org_id", &self.org_id),
            ("team_id", &self.team_id),
            ("actor_id", &self.actor_id),
            ("session_id", &self.session_id),
        ] {
            if value.as_deref() == Some("") {
                return Err(EventError::invalid(field, "a non-empty string", ""));
            }
        }
        if let Some((key, _)) = self
            .extra
            .iter()
            .find(|(k, _)| envelope::FIELD_NAMES.contains(&k.as_str()))
        {
            return Err(EventError::invalid(
                key.as_str(),
                "an unknown field name (envelope fields have their own setters)",
                key,
            ));
        }
        let event = Event {
            schema_version: self.schema_version,
            event_id,
            event_type: self.event_type,
            timestamp,
            source: self.source,
            payload: self.payload,
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            org_id: self.org_id,
            team_id: self.team_id,
            actor_id: self.actor_id,
            session_id: self.session_id,
            tags: self.tags,
            checksum: None,
            signature: None,
            prev_id: None,
            extra: self.extra,
            verbatim: envelope::Verbatim::default(),
        };
        let size = event.ascii_compact_len() + INTEGRITY_RESERVE;
        if size > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size,
                limit: MAX_EVENT_BYTES,
            });
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{EntropyError, FixedClock};
    use crate::event_type::RegisteredType;
    use crate::json;

    struct Zeros;
    impl Entropy for Zeros {
        fn fill(&mut self, buf: &mut [u8]) -> std::result::Result<(), EntropyError> {
            buf.fill(0);
            Ok(())
        }
    }

    fn ids() -> UlidGenerator<FixedClock, Zeros> {
        UlidGenerator::new(FixedClock(1_767_434_401_250_001), Zeros)
    }

    fn builder(payload: &str) -> EventBuilder {
        EventBuilder::new(
            RegisteredType::LlmTraceSpanCompleted,
            Source::parse("bot@1.0.0").unwrap(),
            json::parse(payload).unwrap(),
        )
    }

    #[test]
    fn built_events_parse_back_identically() {
        let e = builder(r#"{"a":[1,null,{"b":"\u2028"}]}"#)
            .org_id("acme")
            .actor_id("a \"quoted\" actor")
            .trace_id(TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").unwrap())
            .tags(Tags::from_pairs([("k", "v\n")]).unwrap())
            .extra_field("x_custom", json::parse("[1.5]").unwrap())
            .extra_field("x_null", Value::Null)
            .build(&mut ids())
            .unwrap();
        assert_eq!(e.timestamp().as_str(), "2026-01-03T10:00:01.250001Z");
        assert_eq!(e.event_id().timestamp_millis(), 1_767_434_401_250);
        let text = e.to_canonical_json();
        assert!(
            text.contains(r#""actor_id":"a \"quoted\" actor""#),
            "{text}"
        );
        assert!(!text.contains("x_null"));
        let back = Event::from_json_str(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.to_canonical_json(), text);
    }

    #[test]
    fn build_checks_fields() {
        let err = builder("{}").build(&mut ids()).unwrap_err();
        assert_eq!(err.field(), "payload");
        let err = builder("[1]").build(&mut ids()).unwrap_err();
        assert_eq!(err.field(), "payload");
        let deep = format!("{}1{}", r#"{"a":"#.repeat(10), "}".repeat(10));
        assert!(matches!(
            builder(&deep).build(&mut ids()),
            Err(EventError::TooDeep { depth: 11, .. })
        ));
        let ok_deep = format!("{}1{}", r#"{"a":"#.repeat(9), "}".repeat(9));
        assert!(builder(&ok_deep).build(&mut ids()).is_ok());
        let err = builder(r#"{"a":1}"#)
            .team_id("")
            .build(&mut ids())
            .unwrap_err();
        assert_eq!(err.field(), "team_id");
        let err = builder(r#"{"a":1}"#)
            .extra_field("payload", Value::Bool(true))
            .build(&mut ids())
            .unwrap_err();
        assert_eq!(err.field(), "payload");
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES - 300));
        assert!(matches!(
            builder(&big).build(&mut ids()),
            Err(EventError::TooLarge { .. })
        ));
        assert_eq!(
            builder(r#"{"a":1}"#).build_exact().unwrap_err().field(),
            "event_id"
        );
    }

    #[test]
    fn from_event_keeps_id_and_timestamp() {
        let original = builder(r#"{"a":1}"#)
            .actor_id("u1")
            .session_id("s1")
            .build(&mut ids())
            .unwrap();
        let tomb = EventBuilder::from_event(&original)
            .event_type(RegisteredType::LlmAuditTombstone)
            .payload(json::parse(r#"{"erased_by":"ops"}"#).unwrap())
            .clear_actor_id()
            .clear_session_id()
            .build_exact()
            .unwrap();
        assert_eq!(tomb.event_id(), original.event_id());
        assert_eq!(tomb.timestamp(), original.timestamp());
        assert!(tomb.actor_id().is_none() && tomb.session_id().is_none());
        assert_eq!(tomb.event_type().as_str(), "llm.audit.tombstone");
    }
}
