//! The event envelope: reading it from JSON (with the DoS guards), checking every field once, and writing it back
//! as the reference's canonical JSON, byte for byte.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Range;

use crate::error::{EventError, Result, WHOLE_EVENT, kind_of};
use crate::event_type::EventType;
use crate::ids::{Checksum, SchemaVersion, Signature, Source, SpanId, TraceId};
use crate::json::{self, Map, Value};
use crate::tags::{MAX_TAGS, Tags};
use crate::timestamp::Timestamp;
use crate::ulid::EventId;

/// The largest event the size guard lets through, in bytes (1 MiB, the reference's `max_size_bytes`).
pub const MAX_EVENT_BYTES: usize = 1_048_576;

/// The largest payload depth the depth guard lets through (the reference's `max_payload_depth`).
///
/// Depth counts as [`json::Value::depth`] does: a scalar is 1 and a container is one more than its deepest member,
/// so `{"a": 1}` has depth 2 and ten nested objects around a scalar have depth 11.
pub const MAX_PAYLOAD_DEPTH: usize = 10;

/// The envelope's fields, in canonical (code point) order of their names.
#[derive(Clone, Copy)]
enum Field {
    ActorId,
    Checksum,
    EventId,
    EventType,
    OrgId,
    ParentSpanId,
    Payload,
    PrevId,
    SchemaVersion,
    SessionId,
    Signature,
    Source,
    SpanId,
    Tags,
    TeamId,
    Timestamp,
    TraceId,
}

const FIELDS: [(&str, Field); 17] = [
    ("actor_id", Field::ActorId),
    ("checksum", Field::Checksum),
    ("event_id", Field::EventId),
    ("event_type", Field::EventType),
    ("org_id", Field::OrgId),
    ("parent_span_id", Field::ParentSpanId),
    ("payload", Field::Payload),
    ("prev_id", Field::PrevId),
    ("schema_version", Field::SchemaVersion),
    ("session_id", Field::SessionId),
    ("signature", Field::Signature),
    ("source", Field::Source),
    ("span_id", Field::SpanId),
    ("tags", Field::Tags),
    ("team_id", Field::TeamId),
    ("timestamp", Field::Timestamp),
    ("trace_id", Field::TraceId),
];

/// The envelope's field names, in canonical (code point) order.
pub const FIELD_NAMES: [&str; 17] = {
    let mut names = [""; 17];
    let mut i = 0;
    while i < FIELDS.len() {
        names[i] = FIELDS[i].0;
        i += 1;
    }
    names
};

/// The fields every event must carry.
pub const REQUIRED_FIELDS: [&str; 6] = [
    "schema_version",
    "event_id",
    "event_type",
    "timestamp",
    "source",
    "payload",
];

/// One event, every field checked.
///
/// An `Event` can only be made by parsing ([`Event::from_json_str`], [`Event::from_value`]) or by the
/// [`EventBuilder`](crate::EventBuilder), and both check every rule, so holding one means holding a valid event.
/// Fields are read through accessors; the integrity fields the chain layer sets have `with_` methods that return
/// the changed event.
///
/// Unknown top-level fields are kept in [`Event::extra`] and written back, as the reference does. Top-level
/// fields whose value is `null` count as absent and are never written, also as the reference does; `null`
/// values *inside* the payload or inside an unknown field are kept.
///
/// Equality compares every field (two events with the same id but different payloads differ).
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    pub(crate) schema_version: SchemaVersion,
    pub(crate) event_id: EventId,
    pub(crate) event_type: EventType,
    pub(crate) timestamp: Timestamp,
    pub(crate) source: Source,
    pub(crate) payload: Value,
    pub(crate) trace_id: Option<TraceId>,
    pub(crate) span_id: Option<SpanId>,
    pub(crate) parent_span_id: Option<SpanId>,
    pub(crate) org_id: Option<String>,
    pub(crate) team_id: Option<String>,
    pub(crate) actor_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) tags: Option<Tags>,
    pub(crate) checksum: Option<Checksum>,
    pub(crate) signature: Option<Signature>,
    pub(crate) prev_id: Option<EventId>,
    pub(crate) extra: Map,
    /// The text the event was read from, when that was its canonical JSON; cleared by every change.
    pub(crate) verbatim: Verbatim,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The verbatim text is a copy of what the fields say, so it is left out.
        f.debug_struct("Event")
            .field("schema_version", &self.schema_version)
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("timestamp", &self.timestamp)
            .field("source", &self.source)
            .field("payload", &self.payload)
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("parent_span_id", &self.parent_span_id)
            .field("org_id", &self.org_id)
            .field("team_id", &self.team_id)
            .field("actor_id", &self.actor_id)
            .field("session_id", &self.session_id)
            .field("tags", &self.tags)
            .field("checksum", &self.checksum)
            .field("signature", &self.signature)
            .field("prev_id", &self.prev_id)
            .field("extra", &self.extra)
            .finish()
    }
}

/// The canonical JSON an event was read from, kept when the input already was canonical so that writing the event
/// and hashing its payload copy bytes instead of walking the tree again.
///
/// It is a cache of what the fields say, so it takes no part in equality: an event read from canonical text equals
/// the same event read from any other rendering, or built.
#[derive(Clone, Default)]
pub(crate) struct Verbatim(Option<VerbatimText>);

#[derive(Clone)]
pub(crate) struct VerbatimText {
    /// The event's canonical JSON.
    text: Box<str>,
    /// Where the payload's canonical JSON lies in `text`.
    payload: Range<usize>,
    /// Where the members `checksum`, `prev_id` and `signature` lie in `text`, with their leading `,` (none for
    /// the first member), or an empty range where they would be inserted: so that signing can splice new
    /// integrity fields into the text instead of writing the event again ([`Event::write_signed_canonical`]).
    integrity: [Range<u32>; 3],
}

/// The integrity members, in canonical key order, as [`VerbatimText::integrity`] lists them.
const INTEGRITY_KEYS: [&str; 3] = ["checksum", "prev_id", "signature"];

/// Finds the [`VerbatimText::integrity`] ranges while the members of canonical text are read in key order.
struct IntegritySlots {
    slots: [Range<u32>; 3],
    next: usize,
}

impl IntegritySlots {
    fn new() -> Self {
        Self {
            slots: [0..0, 0..0, 0..0],
            next: 0,
        }
    }

    /// Notes the member `key`, which spans `start..end` (with its leading `,`). Keys arrive in increasing order.
    #[inline]
    fn member(&mut self, key: &str, start: usize, end: usize) {
        while let Some(name) = INTEGRITY_KEYS.get(self.next) {
            let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else {
                return;
            };
            match json::compare_keys(name.as_bytes(), key.as_bytes()) {
                Ordering::Greater => return,
                Ordering::Equal => self.slots[self.next] = start..end,
                Ordering::Less => self.slots[self.next] = start..start,
            }
            self.next += 1;
        }
    }

    /// Places the integrity members that sort after every key at `close`, the offset of the closing `}`.
    fn finish(mut self, close: usize) -> Option<[Range<u32>; 3]> {
        let close = u32::try_from(close).ok()?;
        while self.next < INTEGRITY_KEYS.len() {
            self.slots[self.next] = close..close;
            self.next += 1;
        }
        Some(self.slots)
    }
}

/// The integrity fields [`Event::write_signed_canonical`] writes in place of an event's own.
#[derive(Clone, Copy, Debug)]
pub struct Integrity<'a> {
    /// The payload checksum.
    pub checksum: &'a Checksum,
    /// The chain signature.
    pub signature: &'a Signature,
    /// The predecessor's id; `None` for the first event of a chain (the member is then left out).
    pub prev_id: Option<&'a EventId>,
}

impl VerbatimText {
    /// Appends the text with the integrity members replaced, and returns where the payload lies in `out`; `None`
    /// (nothing appended) in the one case splicing cannot express: removing a `prev_id` that is the first member.
    fn write_spliced(&self, out: &mut Vec<u8>, integrity: &Integrity<'_>) -> Option<Range<usize>> {
        let start = out.len();
        let written = self.try_write_spliced(out, integrity);
        if written.is_none() {
            out.truncate(start);
        }
        written
    }

    fn try_write_spliced(
        &self,
        out: &mut Vec<u8>,
        integrity: &Integrity<'_>,
    ) -> Option<Range<usize>> {
        let text = self.text.as_bytes();
        // The three members add at most 215 bytes (`,"checksum":"sha256:<64>"`, `,"prev_id":"<26>"`,
        // `,"signature":"hmac-sha256:<64>"`).
        out.reserve(text.len() + 215);
        let [checksum, prev, signature] = self
            .integrity
            .clone()
            .map(|r| r.start as usize..r.end as usize);
        if integrity.prev_id.is_none() && prev.start == 1 && !prev.is_empty() {
            return None;
        }
        // The payload member sorts between `checksum` and `prev_id`, so it lies in the text copied between them.
        let payload_from_checksum = self.payload.start.checked_sub(checksum.end)?;
        let payload_len = self.payload.len();
        if self.payload.end > prev.start {
            return None;
        }
        let mut at = 0;
        let mut payload_start = 0;
        for (slot, range) in [checksum, prev, signature].into_iter().enumerate() {
            let chunk = text.get(at..range.start)?;
            if slot == 1 {
                payload_start = out.len() + payload_from_checksum;
            }
            out.extend_from_slice(chunk);
            let first = range.start == 1;
            let member = |out: &mut Vec<u8>, write: &dyn Fn(&mut Vec<u8>)| {
                if !first {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(INTEGRITY_KEYS[slot].as_bytes());
                out.extend_from_slice(b"\":\"");
                write(out);
                out.push(b'"');
                if first && range.is_empty() {
                    out.push(b',');
                }
            };
            match slot {
                0 => member(out, &|out| integrity.checksum.write_to(out)),
                1 => {
                    if let Some(prev) = integrity.prev_id {
                        member(out, &|out| out.extend_from_slice(prev.as_bytes()));
                    }
                }
                _ => member(out, &|out| integrity.signature.write_to(out)),
            }
            at = range.end;
        }
        out.extend_from_slice(text.get(at..)?);
        Some(payload_start..payload_start + payload_len)
    }
}

impl Verbatim {
    /// The event's canonical JSON, if kept.
    fn event(&self) -> Option<&str> {
        self.0.as_ref().map(|v| &*v.text)
    }

    /// The payload's canonical JSON, if kept.
    fn payload(&self) -> Option<&[u8]> {
        self.0
            .as_ref()
            .and_then(|v| v.text.as_bytes().get(v.payload.clone()))
    }
}

impl PartialEq for Verbatim {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Verbatim {}

/// A known field's value before it is checked. Strings are borrowed from the input text where the fast reader can
/// do so; everything else (and every field the general path reads) is a parsed [`Value`].
enum Raw<'a> {
    Str(Cow<'a, str>),
    Json(Value),
}

impl From<Value> for Raw<'_> {
    fn from(value: Value) -> Self {
        match value {
            Value::String(s) => Raw::Str(Cow::Owned(String::from(s))),
            other => Raw::Json(other),
        }
    }
}

/// The raw values of the known fields, taken out of the input before they are checked. Both ways of reading an
/// event (the fast member reader and the general parser) fill this, and one function checks it, so the two cannot
/// apply different rules.
#[derive(Default)]
struct RawFields<'a> {
    schema_version: Option<Raw<'a>>,
    event_id: Option<Raw<'a>>,
    event_type: Option<Raw<'a>>,
    timestamp: Option<Raw<'a>>,
    source: Option<Raw<'a>>,
    payload: Option<Value>,
    /// The payload's [`Value::depth`] when the reader counted it while parsing.
    payload_depth: Option<usize>,
    trace_id: Option<Raw<'a>>,
    span_id: Option<Raw<'a>>,
    parent_span_id: Option<Raw<'a>>,
    org_id: Option<Raw<'a>>,
    team_id: Option<Raw<'a>>,
    actor_id: Option<Raw<'a>>,
    session_id: Option<Raw<'a>>,
    tags: Option<Value>,
    checksum: Option<Raw<'a>>,
    signature: Option<Raw<'a>>,
    prev_id: Option<Raw<'a>>,
}

impl<'a> RawFields<'a> {
    /// The slot of a field whose value should be a string; `None` for `payload` and `tags`.
    fn text_slot(&mut self, field: Field) -> Option<&mut Option<Raw<'a>>> {
        Some(match field {
            Field::ActorId => &mut self.actor_id,
            Field::Checksum => &mut self.checksum,
            Field::EventId => &mut self.event_id,
            Field::EventType => &mut self.event_type,
            Field::OrgId => &mut self.org_id,
            Field::ParentSpanId => &mut self.parent_span_id,
            Field::PrevId => &mut self.prev_id,
            Field::SchemaVersion => &mut self.schema_version,
            Field::SessionId => &mut self.session_id,
            Field::Signature => &mut self.signature,
            Field::Source => &mut self.source,
            Field::SpanId => &mut self.span_id,
            Field::TeamId => &mut self.team_id,
            Field::Timestamp => &mut self.timestamp,
            Field::TraceId => &mut self.trace_id,
            Field::Payload | Field::Tags => return None,
        })
    }

    /// Stores a known field's parsed value (which is not `null`).
    fn set(&mut self, field: Field, value: Value) {
        match field {
            Field::Payload => self.payload = Some(value),
            Field::Tags => self.tags = Some(value),
            _ => {
                if let Some(slot) = self.text_slot(field) {
                    *slot = Some(Raw::from(value));
                }
            }
        }
    }
}

/// Classifies keys that arrive in strictly increasing code point order: since `FIELDS` is sorted too, one forward
/// walk over it finds every known key with a comparison or two instead of a 17-way string match.
struct FieldWalk {
    next: usize,
}

impl FieldWalk {
    fn new() -> Self {
        FieldWalk { next: 0 }
    }

    /// The known field named `key`, if any; `key` must be greater than every key passed before.
    fn classify(&mut self, key: &str) -> Option<Field> {
        while let Some(&(name, field)) = FIELDS.get(self.next) {
            match json::compare_keys(name.as_bytes(), key.as_bytes()) {
                Ordering::Less => self.next += 1,
                Ordering::Equal => {
                    self.next += 1;
                    return Some(field);
                }
                Ordering::Greater => return None,
            }
        }
        None
    }
}

impl Event {
    /// Reads one event from JSON text (one line of a JSONL file), applying the DoS guards and every rule.
    ///
    /// The size guard measures the UTF-8 length of `text` against [`MAX_EVENT_BYTES`], as the reference's
    /// `Event.from_json` does, before parsing. Then the payload depth ([`MAX_PAYLOAD_DEPTH`]) and tag count
    /// ([`MAX_TAGS`]) guards apply, then the field rules.
    ///
    /// When `text` already is the event's canonical JSON (as every line the reference's `to_json()` writes is), the
    /// event keeps a copy of it, and [`Event::write_canonical`] and [`Event::payload_checksum`] use those bytes
    /// instead of writing the event again. Every rule is checked either way.
    ///
    /// ```
    /// # use spanforge_event::Event;
    /// let line = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made",
    ///   "payload":{"ok":true},"schema_version":"2.0","source":"bot@1.0.0",
    ///   "timestamp":"2026-01-03T10:00:01.250000Z","trace_id":null}"#;
    /// let event = Event::from_json_str(line).unwrap();
    /// assert!(event.trace_id().is_none()); // null counts as absent and is not written back
    /// assert!(!event.to_canonical_json().contains("trace_id"));
    /// let err = Event::from_json_str(&line.replace("bot@1.0.0", "bot")).unwrap_err();
    /// assert_eq!(err.field(), "source");
    /// ```
    pub fn from_json_str(text: &str) -> Result<Self> {
        Self::from_json_str_keeping(text, true)
    }

    /// Reads one event exactly as [`Event::from_json_str`] does, every guard and rule included, but keeps no copy
    /// of `text`: for readers that only look at the event's fields, such as a query over stored events. Writing
    /// such an event still gives its canonical JSON, from the fields.
    ///
    /// ```
    /// # use spanforge_event::Event;
    /// let line = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{"ok":true},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#;
    /// let kept = Event::from_json_str(line).unwrap();
    /// let read = Event::from_json_str_for_reading(line).unwrap();
    /// assert_eq!(kept, read);
    /// assert!(kept.writes_verbatim() && !read.writes_verbatim());
    /// assert_eq!(read.to_canonical_json(), line);
    /// ```
    pub fn from_json_str_for_reading(text: &str) -> Result<Self> {
        Self::from_json_str_keeping(text, false)
    }

    fn from_json_str_keeping(text: &str, keep_text: bool) -> Result<Self> {
        if text.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size: text.len(),
                limit: MAX_EVENT_BYTES,
            });
        }
        match Self::read_members(text, keep_text) {
            Ok(checked) => checked,
            // The member reader declined (a syntax error, keys out of order or duplicated, a top level that is not
            // an object): the general parser reads the text, or reports exactly what is wrong with it.
            Err(json::Decline) => Self::from_checked_size(json::parse(text)?),
        }
    }

    /// The fast way to read an event: the top-level members one at a time, the known string fields borrowed from
    /// `text` rather than copied into a tree and out again. It accepts only what [`json::parse`] accepts, with the
    /// same members, and hands them to the same checks as [`Event::from_checked_size`]; it declines the rest.
    /// With `keep_text`, a canonical `text` is kept as the event's verbatim rendering.
    fn read_members(text: &str, keep_text: bool) -> Result<Result<Self>, json::Decline> {
        let mut reader = json::MemberReader::open(text)?;
        let mut raw = RawFields::default();
        let mut extra: Vec<(json::Key, Value)> = Vec::new();
        let mut walk = FieldWalk::new();
        let mut dropped_null = false;
        let mut payload_span = None;
        let mut slots = IntegritySlots::new();
        let mut member_start = reader.pos();
        while let Some(key) = reader.next_key()? {
            let field = walk.classify(&key);
            match field {
                Some(Field::Payload) => {
                    let spanned = reader.value_span()?;
                    if spanned.value.is_null() {
                        dropped_null = true;
                    } else {
                        payload_span = Some(spanned.span);
                        raw.payload = Some(spanned.value);
                        raw.payload_depth = Some(spanned.depth);
                    }
                }
                Some(field @ Field::Tags) => match reader.value()? {
                    Value::Null => dropped_null = true,
                    value => raw.set(field, value),
                },
                Some(field) => match reader.string_or_value()? {
                    json::Member::Str(s) => {
                        if let Some(slot) = raw.text_slot(field) {
                            *slot = Some(Raw::Str(s));
                        }
                    }
                    json::Member::Value(Value::Null) => dropped_null = true,
                    json::Member::Value(value) => raw.set(field, value),
                },
                None => match reader.value()? {
                    Value::Null => dropped_null = true,
                    value => extra.push((json::Key::new(&key), value)),
                },
            }
            let member_end = reader.pos();
            // The integrity ranges serve only the kept text.
            if keep_text {
                slots.member(&key, member_start, member_end);
            }
            member_start = member_end;
        }
        let close = member_start;
        let canonical = reader.finish()?;
        let event = match Self::check(raw, extra) {
            Ok(event) => event,
            Err(e) => return Ok(Err(e)),
        };
        // The event's canonical JSON is the canonical JSON of the object read, less the top-level nulls: every
        // field is written back as it was read (ids and timestamps as written, registered types by their one name,
        // digests only in lowercase hex, which is all the checks let through). So when the text was canonical and
        // dropped no null, it is the event's canonical JSON.
        let verbatim = match (payload_span, slots.finish(close)) {
            (Some(payload), Some(integrity)) if keep_text && canonical && !dropped_null => {
                Verbatim(Some(VerbatimText {
                    text: text.into(),
                    payload,
                    integrity,
                }))
            }
            _ => Verbatim::default(),
        };
        Ok(Ok(Self { verbatim, ..event }))
    }

    /// Reads one event from an already parsed JSON value, applying the DoS guards and every rule.
    ///
    /// The size guard measures the value as the reference's `Event.from_dict` does: the length of its compact
    /// JSON with every non-ASCII character escaped ([`json::ascii_compact_len`]).
    pub fn from_value(value: Value) -> Result<Self> {
        let size = json::ascii_compact_len(&value);
        if size > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size,
                limit: MAX_EVENT_BYTES,
            });
        }
        Self::from_checked_size(value)
    }

    fn from_checked_size(value: Value) -> Result<Self> {
        let Value::Object(map) = value else {
            return Err(EventError::wrong_type(WHOLE_EVENT, "a JSON object", &value));
        };
        let mut raw = RawFields::default();
        let mut extra: Vec<(json::Key, Value)> = Vec::new();
        // The object's keys arrive in code point order.
        let mut walk = FieldWalk::new();
        for (key, value) in map.into_entries() {
            let known = walk.classify(&key);
            // A null top-level value counts as absent, for known and unknown fields alike.
            if value.is_null() {
                continue;
            }
            match known {
                Some(field) => raw.set(field, value),
                None => extra.push((key, value)),
            }
        }
        Self::check(raw, extra)
    }

    /// Applies the guards and every field rule to the fields read, in the reference's order. `extra` holds the
    /// unknown fields in strictly increasing key order, none `null`.
    fn check(raw: RawFields<'_>, extra: Vec<(json::Key, Value)>) -> Result<Self> {
        // The guards run before any field rule, in the reference's order: tag count, then payload depth.
        if let Some(Value::Object(tags)) = &raw.tags
            && tags.len() > MAX_TAGS
        {
            return Err(EventError::TooManyTags {
                count: tags.len(),
                limit: MAX_TAGS,
            });
        }
        if let Some(payload) = &raw.payload {
            check_depth(raw.payload_depth.unwrap_or_else(|| payload.depth()))?;
        }
        let tags = raw.tags.map(Tags::from_json).transpose()?;

        // Presence and kind of the required fields, then their rules, in the reference's order.
        let schema_version =
            required_str(raw.schema_version, "schema_version", "\"2.0\" (or \"1.0\")")?;
        let event_id = required_str(raw.event_id, "event_id", "a ULID string")?;
        let event_type = required_str(raw.event_type, "event_type", "an event type string")?;
        let timestamp = required_str(raw.timestamp, "timestamp", "a timestamp string")?;
        let source = required_str(raw.source, "source", "a name@semver string")?;
        let payload = match raw.payload {
            None => return Err(EventError::missing("payload", "a non-empty JSON object")),
            Some(p @ Value::Object(_)) => p,
            Some(other) => {
                return Err(EventError::wrong_type(
                    "payload",
                    "a non-empty JSON object",
                    &other,
                ));
            }
        };

        let schema_version = SchemaVersion::parse(&schema_version)?;
        let event_id = EventId::parse(&event_id)?;
        let event_type = EventType::parse(&event_type)?;
        let timestamp = Timestamp::parse(&timestamp)?;
        let source = Source::parse_owned(source.into_owned())?;
        check_payload_not_empty(&payload)?;

        let trace_id = optional_str(raw.trace_id, "trace_id")?
            .map(|s| TraceId::parse(&s))
            .transpose()?;
        let span_id = optional_str(raw.span_id, "span_id")?
            .map(|s| SpanId::parse(&s))
            .transpose()?;
        let parent_span_id = optional_str(raw.parent_span_id, "parent_span_id")?
            .map(|s| SpanId::parse_field(&s, "parent_span_id"))
            .transpose()?;
        let org_id = optional_context(raw.org_id, "org_id")?;
        let team_id = optional_context(raw.team_id, "team_id")?;
        let actor_id = optional_context(raw.actor_id, "actor_id")?;
        let session_id = optional_context(raw.session_id, "session_id")?;
        let prev_id = optional_str(raw.prev_id, "prev_id")?
            .map(|s| EventId::parse_field(&s, "prev_id"))
            .transpose()?;
        let checksum = optional_str(raw.checksum, "checksum")?
            .map(|s| Checksum::parse(&s))
            .transpose()?;
        let signature = optional_str(raw.signature, "signature")?
            .map(|s| Signature::parse(&s))
            .transpose()?;

        Ok(Self {
            schema_version,
            event_id,
            event_type,
            timestamp,
            source,
            payload,
            trace_id,
            span_id,
            parent_span_id,
            org_id,
            team_id,
            actor_id,
            session_id,
            tags,
            checksum,
            signature,
            prev_id,
            extra: Map::from_sorted_unique(extra),
            verbatim: Verbatim::default(),
        })
    }

    /// The schema version.
    pub fn schema_version(&self) -> SchemaVersion {
        self.schema_version
    }

    /// The event id, exactly as written.
    pub fn event_id(&self) -> &EventId {
        &self.event_id
    }

    /// The event type.
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    /// The timestamp.
    pub fn timestamp(&self) -> &Timestamp {
        &self.timestamp
    }

    /// The emitting tool.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The payload: always a non-empty JSON object no deeper than [`MAX_PAYLOAD_DEPTH`].
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// The payload's member `key`, if present.
    pub fn payload_field(&self, key: &str) -> Option<&Value> {
        self.payload.get(key)
    }

    /// The trace id.
    pub fn trace_id(&self) -> Option<&TraceId> {
        self.trace_id.as_ref()
    }

    /// The span id.
    pub fn span_id(&self) -> Option<&SpanId> {
        self.span_id.as_ref()
    }

    /// The parent span id.
    pub fn parent_span_id(&self) -> Option<&SpanId> {
        self.parent_span_id.as_ref()
    }

    /// The organisation id (non-empty when present). It is not covered by the reference's signature.
    pub fn org_id(&self) -> Option<&str> {
        self.org_id.as_deref()
    }

    /// The team id (non-empty when present).
    pub fn team_id(&self) -> Option<&str> {
        self.team_id.as_deref()
    }

    /// The actor (user or service account) id (non-empty when present).
    pub fn actor_id(&self) -> Option<&str> {
        self.actor_id.as_deref()
    }

    /// The session id (non-empty when present).
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The tags, if the event carries a `tags` object (possibly empty).
    pub fn tags(&self) -> Option<&Tags> {
        self.tags.as_ref()
    }

    /// The payload checksum the event carries, if any. It is not recomputed here; compare it with
    /// [`Event::payload_checksum`].
    pub fn checksum(&self) -> Option<&Checksum> {
        self.checksum.as_ref()
    }

    /// The chain signature the event carries, if any.
    pub fn signature(&self) -> Option<&Signature> {
        self.signature.as_ref()
    }

    /// The id of the previous event in the chain, exactly as written.
    pub fn prev_id(&self) -> Option<&EventId> {
        self.prev_id.as_ref()
    }

    /// Unknown top-level fields, kept so that they survive a round trip (never `null`).
    pub fn extra(&self) -> &Map {
        &self.extra
    }

    /// The model the event concerns, as the reference's compliance filter finds it: `payload.model.name`, else
    /// `payload.model_id`, else `payload.model` when that is a string. Empty strings and other shapes are skipped.
    ///
    /// ```
    /// # use spanforge_event::{Event, json};
    /// let mut e = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"llm.trace.span.completed",
    ///   "payload":{"model":{"name":"gpt-4o","system":"openai"}},"schema_version":"2.0",
    ///   "source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#;
    /// assert_eq!(Event::from_json_str(e).unwrap().model_id(), Some("gpt-4o"));
    /// ```
    pub fn model_id(&self) -> Option<&str> {
        fn non_empty(v: Option<&Value>) -> Option<&str> {
            v.and_then(Value::as_str).filter(|s| !s.is_empty())
        }
        let model = self.payload.get("model");
        non_empty(model.and_then(|m| m.get("name")))
            .or_else(|| non_empty(self.payload.get("model_id")))
            .or_else(|| non_empty(model))
    }

    /// Returns the event with `checksum` set.
    #[must_use]
    pub fn with_checksum(mut self, checksum: Checksum) -> Self {
        self.verbatim = Verbatim::default();
        self.checksum = Some(checksum);
        self
    }

    /// Returns the event with `signature` set.
    #[must_use]
    pub fn with_signature(mut self, signature: Signature) -> Self {
        self.verbatim = Verbatim::default();
        self.signature = Some(signature);
        self
    }

    /// Returns the event with `prev_id` set (or removed, for the first event of a chain).
    #[must_use]
    pub fn with_prev_id(mut self, prev_id: Option<EventId>) -> Self {
        self.verbatim = Verbatim::default();
        self.prev_id = prev_id;
        self
    }

    /// Returns the event with all three integrity fields replaced at once, as signing does.
    #[must_use]
    pub fn with_integrity(
        self,
        checksum: Checksum,
        signature: Signature,
        prev_id: Option<EventId>,
    ) -> Self {
        self.with_checksum(checksum)
            .with_signature(signature)
            .with_prev_id(prev_id)
    }

    /// Returns the event with `checksum`, `signature` and `prev_id` removed.
    #[must_use]
    pub fn without_integrity(mut self) -> Self {
        self.verbatim = Verbatim::default();
        self.checksum = None;
        self.signature = None;
        self.prev_id = None;
        self
    }

    /// Whether [`Event::write_canonical`] copies the text the event was read from: true when
    /// [`Event::from_json_str`] was given the event's canonical JSON (as every line the reference's `to_json()`
    /// writes is) and the event has not been changed since.
    ///
    /// A validator can use this to flag lines that are valid but not canonical.
    ///
    /// ```
    /// # use spanforge_event::Event;
    /// let line = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{"ok":true},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#;
    /// assert!(Event::from_json_str(line).unwrap().writes_verbatim());
    /// let spaced = line.replace(r#""ok":true"#, r#""ok": true"#);
    /// let event = Event::from_json_str(&spaced).unwrap();
    /// assert!(!event.writes_verbatim());
    /// assert_eq!(event.to_canonical_json(), line);
    /// ```
    pub fn writes_verbatim(&self) -> bool {
        self.verbatim.0.is_some()
    }

    /// The canonical JSON of the payload: the bytes the reference hashes for `checksum`.
    pub fn payload_canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write_payload_canonical(&mut out);
        out
    }

    /// Appends [`Event::payload_canonical`]'s bytes to `out`, so a caller checking many events can reuse one buffer.
    pub fn write_payload_canonical(&self, out: &mut Vec<u8>) {
        match self.verbatim.payload() {
            Some(bytes) => out.extend_from_slice(bytes),
            None => json::write_canonical(&self.payload, out),
        }
    }

    /// [`Event::payload_canonical`]'s bytes without copying them when the event keeps the text it was read from;
    /// otherwise they are written into `scratch` (cleared first), which a caller checking or signing many events
    /// reuses.
    pub fn canonical_payload<'a>(&'a self, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        match self.verbatim.payload() {
            Some(bytes) => bytes,
            None => {
                scratch.clear();
                json::write_canonical(&self.payload, scratch);
                scratch
            }
        }
    }

    /// `sha256:` + SHA-256 of [`Event::payload_canonical`]; equal to [`Event::checksum`] on an intact signed event.
    pub fn payload_checksum(&self) -> Checksum {
        match self.verbatim.payload() {
            Some(bytes) => Checksum::of_canonical(bytes),
            None => Checksum::of_canonical(&self.payload_canonical()),
        }
    }

    /// The event as the reference's `to_json()` writes it: canonical JSON of the envelope, absent fields left out.
    pub fn to_canonical_json(&self) -> String {
        if let Some(text) = self.verbatim.event() {
            return text.to_owned();
        }
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out);
        String::from_utf8(out)
            .expect("invariant: the canonical writer emits only UTF-8 taken from `str` values")
    }

    /// Appends [`Event::to_canonical_json`]'s bytes to `out` (no newline), without other allocation.
    ///
    /// An event read from text that already was canonical copies that text; any other event is written from its
    /// fields.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        self.write_canonical_parts(out, None);
    }

    /// Like [`Event::write_canonical`], and returns the range of `out` that holds the payload's
    /// canonical bytes (the checksum input), so a caller that needs both hashes the payload without
    /// serialising it twice.
    ///
    /// When `payload_canonical` is given it is copied in place of serialising the payload again; it
    /// must be this event's [`Event::payload_canonical`] (a caller that signs has just computed it),
    /// otherwise the output is not this event's canonical form. An event read from canonical text
    /// copies that text and ignores `payload_canonical`.
    pub fn write_canonical_parts(
        &self,
        out: &mut Vec<u8>,
        payload_canonical: Option<&[u8]>,
    ) -> std::ops::Range<usize> {
        if let Some(v) = &self.verbatim.0 {
            let start = out.len();
            out.extend_from_slice(v.text.as_bytes());
            return start + v.payload.start..start + v.payload.end;
        }
        self.write_fields(out, payload_canonical)
    }

    /// Appends the canonical JSON of this event with its integrity fields replaced by `integrity`, exactly what
    /// `self.clone().with_integrity(checksum, signature, prev_id).write_canonical(out)` appends, without the clone,
    /// and returns where the payload lies in `out`.
    ///
    /// This is the signing step's writer. An event read from canonical text splices the three members into that
    /// text (replacing them if it carried them); any other event is written from its fields, copying
    /// `payload_canonical` for the payload when given (it must then be this event's [`Event::payload_canonical`]).
    pub fn write_signed_canonical(
        &self,
        out: &mut Vec<u8>,
        payload_canonical: Option<&[u8]>,
        integrity: Integrity<'_>,
    ) -> std::ops::Range<usize> {
        if let Some(v) = &self.verbatim.0
            && let Some(payload) = v.write_spliced(out, &integrity)
        {
            return payload;
        }
        self.write_fields_with(out, payload_canonical, Some(&integrity))
    }

    /// Writes the canonical JSON from the fields, whether or not the verbatim text is kept, and
    /// returns where the payload lies in `out`.
    pub(crate) fn write_fields(
        &self,
        out: &mut Vec<u8>,
        payload_canonical: Option<&[u8]>,
    ) -> std::ops::Range<usize> {
        self.write_fields_with(out, payload_canonical, None)
    }

    /// [`Event::write_fields`], with the integrity fields taken from `integrity` when given.
    fn write_fields_with(
        &self,
        out: &mut Vec<u8>,
        payload_canonical: Option<&[u8]>,
        integrity: Option<&Integrity<'_>>,
    ) -> std::ops::Range<usize> {
        let mut extra = self.extra.iter().peekable();
        let mut first = true;
        let mut payload = 0..0;
        out.push(b'{');
        for (name, field) in FIELDS {
            // Unknown fields are interleaved in key order.
            while let Some((key, value)) = extra.next_if(|(k, _)| k.as_str() < name) {
                write_key(key, out, &mut first);
                json::write_canonical(value, out);
            }
            if let Field::Payload = field {
                write_key(name, out, &mut first);
                let start = out.len();
                match payload_canonical {
                    Some(bytes) => out.extend_from_slice(bytes),
                    None => json::write_canonical(&self.payload, out),
                }
                payload = start..out.len();
            } else {
                self.write_field(name, field, out, &mut first, integrity);
            }
        }
        for (key, value) in extra {
            write_key(key, out, &mut first);
            json::write_canonical(value, out);
        }
        out.push(b'}');
        payload
    }

    /// Writes one field with its key, if the event has it.
    fn write_field(
        &self,
        name: &str,
        field: Field,
        out: &mut Vec<u8>,
        first: &mut bool,
        integrity: Option<&Integrity<'_>>,
    ) {
        let plain = |value: Option<&[u8]>, out: &mut Vec<u8>, first: &mut bool| {
            if let Some(v) = value {
                write_known_key(name, out, first);
                write_plain(v, out);
            }
        };
        let text = |value: Option<&str>, out: &mut Vec<u8>, first: &mut bool| {
            if let Some(v) = value {
                write_known_key(name, out, first);
                write_str(v, out);
            }
        };
        match field {
            Field::ActorId => text(self.actor_id.as_deref(), out, first),
            Field::OrgId => text(self.org_id.as_deref(), out, first),
            Field::SessionId => text(self.session_id.as_deref(), out, first),
            Field::TeamId => text(self.team_id.as_deref(), out, first),
            Field::Source => text(Some(self.source.as_str()), out, first),
            Field::EventId => plain(Some(self.event_id.as_bytes()), out, first),
            Field::EventType => plain(Some(self.event_type.as_str().as_bytes()), out, first),
            Field::SchemaVersion => {
                plain(Some(self.schema_version.as_str().as_bytes()), out, first)
            }
            Field::Timestamp => plain(Some(self.timestamp.as_bytes()), out, first),
            Field::ParentSpanId => plain(
                self.parent_span_id.as_ref().map(SpanId::as_bytes),
                out,
                first,
            ),
            Field::SpanId => plain(self.span_id.as_ref().map(SpanId::as_bytes), out, first),
            Field::TraceId => plain(self.trace_id.as_ref().map(TraceId::as_bytes), out, first),
            Field::PrevId => {
                let prev = match integrity {
                    Some(i) => i.prev_id,
                    None => self.prev_id.as_ref(),
                };
                plain(prev.map(EventId::as_bytes), out, first);
            }
            Field::Checksum => {
                let checksum = integrity.map_or(self.checksum.as_ref(), |i| Some(i.checksum));
                if let Some(c) = checksum {
                    write_known_key(name, out, first);
                    write_quoted(out, |out| c.write_to(out));
                }
            }
            Field::Signature => {
                let signature = integrity.map_or(self.signature.as_ref(), |i| Some(i.signature));
                if let Some(sig) = signature {
                    write_known_key(name, out, first);
                    write_quoted(out, |out| sig.write_to(out));
                }
            }
            Field::Payload => {
                write_known_key(name, out, first);
                json::write_canonical(&self.payload, out);
            }
            Field::Tags => {
                if let Some(tags) = &self.tags {
                    write_known_key(name, out, first);
                    out.push(b'{');
                    for (i, (k, v)) in tags.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_str(k, out);
                        out.push(b':');
                        write_str(v, out);
                    }
                    out.push(b'}');
                }
            }
        }
    }

    /// The event's size as the reference's `from_dict` guard measures it (compact JSON, non-ASCII escaped),
    /// computed without building the JSON.
    pub fn ascii_compact_len(&self) -> usize {
        let mut total = 2; // braces
        let mut count = 0usize;
        let mut add = |key: &str, value_len: usize| {
            total += json_str_ascii_len(key) + 1 + value_len;
            count += 1;
        };
        let s = |v: &str| json_str_ascii_len(v);
        add("schema_version", s(self.schema_version.as_str()));
        add("event_id", s(self.event_id.as_str()));
        add("event_type", s(self.event_type.as_str()));
        add("timestamp", s(self.timestamp.as_str()));
        add("source", s(self.source.as_str()));
        add("payload", json::ascii_compact_len(&self.payload));
        let ids = [
            ("trace_id", self.trace_id.as_ref().map(TraceId::as_str)),
            ("span_id", self.span_id.as_ref().map(SpanId::as_str)),
            (
                "parent_span_id",
                self.parent_span_id.as_ref().map(SpanId::as_str),
            ),
            ("org_id", self.org_id.as_deref()),
            ("team_id", self.team_id.as_deref()),
            ("actor_id", self.actor_id.as_deref()),
            ("session_id", self.session_id.as_deref()),
            ("prev_id", self.prev_id.as_ref().map(EventId::as_str)),
        ];
        for (key, value) in ids {
            if let Some(v) = value {
                add(key, s(v));
            }
        }
        if self.checksum.is_some() {
            add("checksum", 2 + 71);
        }
        if self.signature.is_some() {
            add("signature", 2 + 76);
        }
        if let Some(tags) = &self.tags {
            let entries: usize = tags.iter().map(|(k, v)| s(k) + 1 + s(v)).sum();
            add("tags", 2 + entries + tags.len().saturating_sub(1));
        }
        for (key, value) in &self.extra {
            add(key, json::ascii_compact_len(value));
        }
        total + count.saturating_sub(1)
    }
}

impl std::fmt::Display for Event {
    /// Writes the canonical JSON.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_canonical_json())
    }
}

impl std::str::FromStr for Event {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_json_str(s)
    }
}

impl TryFrom<Value> for Event {
    type Error = EventError;
    fn try_from(value: Value) -> Result<Self> {
        Self::from_value(value)
    }
}

pub(crate) fn check_payload_depth(payload: &Value) -> Result<()> {
    check_depth(payload.depth())
}

/// The depth guard, for a payload whose depth is known.
fn check_depth(depth: usize) -> Result<()> {
    if depth > MAX_PAYLOAD_DEPTH {
        return Err(EventError::TooDeep {
            field: "payload".to_owned(),
            depth,
            limit: MAX_PAYLOAD_DEPTH,
        });
    }
    Ok(())
}

pub(crate) fn check_payload_not_empty(payload: &Value) -> Result<()> {
    match payload {
        Value::Object(map) if !map.is_empty() => Ok(()),
        Value::Object(_) => Err(EventError::invalid_value(
            "payload",
            "a non-empty JSON object",
            &Value::Object(Map::new()),
        )),
        other => Err(EventError::wrong_type(
            "payload",
            "a non-empty JSON object",
            other,
        )),
    }
}

fn required_str<'a>(value: Option<Raw<'a>>, field: &str, expected: &str) -> Result<Cow<'a, str>> {
    match value {
        None => Err(EventError::missing(field, expected)),
        Some(Raw::Str(s)) => Ok(s),
        Some(Raw::Json(other)) => Err(EventError::wrong_type(field, expected, &other)),
    }
}

fn optional_str<'a>(value: Option<Raw<'a>>, field: &str) -> Result<Option<Cow<'a, str>>> {
    match value {
        None => Ok(None),
        Some(Raw::Str(s)) => Ok(Some(s)),
        Some(Raw::Json(other)) => Err(EventError::WrongType {
            field: field.to_owned(),
            expected: "a string".to_owned(),
            received: kind_of(&other),
        }),
    }
}

fn optional_context(value: Option<Raw<'_>>, field: &str) -> Result<Option<String>> {
    match optional_str(value, field)? {
        Some(s) if s.is_empty() => Err(EventError::invalid(field, "a non-empty string", &s)),
        other => Ok(other.map(Cow::into_owned)),
    }
}

/// Writes `,` unless this is the first member.
fn member_separator(out: &mut Vec<u8>, first: &mut bool) {
    if *first {
        *first = false;
    } else {
        out.push(b',');
    }
}

/// Writes the separator, the quoted key and `:`.
fn write_key(key: &str, out: &mut Vec<u8>, first: &mut bool) {
    member_separator(out, first);
    write_str(key, out);
    out.push(b':');
}

/// Like [`write_key`] for an envelope field name, which never needs escaping.
fn write_known_key(name: &str, out: &mut Vec<u8>, first: &mut bool) {
    member_separator(out, first);
    write_plain(name.as_bytes(), out);
    out.push(b':');
}

/// Writes `"`, what `write` appends, and `"`.
fn write_quoted(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    out.push(b'"');
    write(out);
    out.push(b'"');
}

/// Writes a string that is known to need no escaping (identifiers whose alphabet excludes `"`, `\` and controls).
fn write_plain(s: &[u8], out: &mut Vec<u8>) {
    write_quoted(out, |out| out.extend_from_slice(s));
}

/// Whether canonical JSON writes this string byte for byte between quotes.
fn needs_no_escape(s: &str) -> bool {
    !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Writes an arbitrary string as canonical JSON. Strings that need escaping are rare in envelope fields, so they go
/// through the JSON module's writer rather than a second escaper here.
fn write_str(s: &str, out: &mut Vec<u8>) {
    if needs_no_escape(s) {
        write_plain(s.as_bytes(), out);
    } else {
        json::write_canonical(&Value::from(s), out);
    }
}

/// The length of a string in the ASCII-escaped compact form, quotes included.
fn json_str_ascii_len(s: &str) -> usize {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        s.len() + 2
    } else {
        json::ascii_compact_len(&Value::from(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"actor_id":"user-42","checksum":"sha256:6afafecb8f4c3b878d6852607b63f363f82d7f88d75c9b2ab62dc42bb93f10dc","event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"llm.trace.span.completed","org_id":"acme","parent_span_id":"a3ce929d0e0e4736","payload":{"duration_ms":1250.0,"model":{"name":"gpt-4o","system":"openai"},"span_name":"chat","status":"ok","token_usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200}},"prev_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B2","schema_version":"2.0","signature":"hmac-sha256:8670bc140de2609103490ed7cb4917d20722e3a6dcf7790a9939229a1e5a72a9","source":"support-bot@3.0.0","span_id":"00f067aa0ba902b7","tags":{"env":"prod","region":"eu-west-1"},"team_id":"support","timestamp":"2026-01-03T10:00:01.250000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#;

    #[test]
    fn field_table_is_in_code_point_order() {
        // Reading relies on it: keys are classified by one forward walk over `FIELDS`.
        assert!(
            FIELD_NAMES.windows(2).all(|w| w[0] < w[1]),
            "{FIELD_NAMES:?}"
        );
        for name in REQUIRED_FIELDS {
            assert!(FIELD_NAMES.contains(&name));
        }
    }

    #[test]
    fn reference_example_round_trips_and_checksums() {
        let e = Event::from_json_str(FULL).unwrap();
        assert_eq!(e.to_canonical_json(), FULL);
        assert_eq!(e.payload_checksum(), *e.checksum().unwrap());
        assert_eq!(e.model_id(), Some("gpt-4o"));
        assert_eq!(e.tags().unwrap().get("region"), Some("eu-west-1"));
        assert_eq!(e.org_id(), Some("acme"));
        assert_eq!(e.prev_id().unwrap().as_str(), "01KDZ5T8Q3M9V6W2X4Y7Z0A1B2");
        assert_eq!(e.timestamp().unix_micros(), 1_767_434_401_250_000);
        assert_eq!(Event::from_value(json::parse(FULL).unwrap()).unwrap(), e);
        assert_eq!(e.ascii_compact_len(), FULL.len());
    }

    #[test]
    fn signed_writing_splices_exactly_what_rewriting_writes() {
        let unsigned = Event::from_json_str(FULL)
            .unwrap()
            .without_integrity()
            .to_canonical_json();
        let no_actor = unsigned.replacen(r#""actor_id":"user-42","#, "", 1);
        let prev_first_extra = FULL.replacen(r#""actor_id":"user-42","#, "", 1);
        let mut lines = vec![
            FULL.to_owned(),
            unsigned.clone(),
            no_actor.clone(),
            prev_first_extra,
            // Unknown members before, between and after the integrity members.
            unsigned.replacen('{', r#"{"aa":[1,{"checksum":2}],"#, 1),
            no_actor.replacen('{', r#"{"ab":"x","#, 1),
            unsigned.replacen(r#""event_id""#, r#""checksum_note":"c","event_id""#, 1),
            unsigned.replacen(
                r#""schema_version""#,
                r#""prev_idx":{"p":1},"schema_version""#,
                1,
            ),
            unsigned.replacen(r#""source""#, r#""signaturez":null,"source""#, 1),
            unsigned.replacen(r#""trace_id""#, r#""zz":"\u00e9\"","trace_id""#, 1),
            unsigned.replacen(
                r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
                r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","zzz":1}"#,
                1,
            ),
            // Not canonical: written from the fields.
            unsigned.replacen(r#""status":"ok""#, r#""status": "ok""#, 1),
        ];
        lines.push(lines[4].replacen(r#""aa":[1,{"checksum":2}],"#, r#""aa":[1,{"checksum":2}],"checksum":"sha256:6afafecb8f4c3b878d6852607b63f363f82d7f88d75c9b2ab62dc42bb93f10dc","#, 1));
        let checksum = Checksum::of_canonical(b"{}");
        let signature = Signature::from_mac([7; 32]);
        let prev = EventId::parse("01KDZ5T8Q3M9V6W2X4Y7Z0A1B9").unwrap();
        let mut spliced_any = false;
        for line in &lines {
            let event = Event::from_json_str(line).unwrap();
            spliced_any |= event.writes_verbatim();
            for prev_id in [Some(&prev), None] {
                let expected = event
                    .clone()
                    .with_integrity(checksum, signature, prev_id.copied())
                    .to_canonical_json();
                let mut out = b"head".to_vec();
                let integrity = Integrity {
                    checksum: &checksum,
                    signature: &signature,
                    prev_id,
                };
                let payload = event.write_signed_canonical(&mut out, None, integrity);
                assert_eq!(std::str::from_utf8(&out[4..]).unwrap(), expected, "{line}");
                assert_eq!(
                    &out[payload],
                    event.payload_canonical().as_slice(),
                    "{line}"
                );
                let mut scratch = Vec::new();
                assert_eq!(
                    event.canonical_payload(&mut scratch),
                    event.payload_canonical()
                );
            }
        }
        assert!(spliced_any);
    }

    #[test]
    fn canonical_parts_locate_and_reuse_the_payload() {
        // An unknown field whose value holds a "payload" key sorts before the real payload.
        let line = FULL.replacen('{', r#"{"aa":{"payload":{"x":1}},"#, 1);
        let e = Event::from_json_str(&line).unwrap();
        let mut out = Vec::new();
        let span = e.write_canonical_parts(&mut out, None);
        assert_eq!(out, e.to_canonical_json().as_bytes());
        assert_eq!(&out[span.clone()], e.payload_canonical().as_slice());
        let mut reused = Vec::new();
        let span2 = e.write_canonical_parts(&mut reused, Some(&e.payload_canonical()));
        assert_eq!((reused, span2), (out, span));
    }

    #[test]
    fn unknown_fields_are_interleaved_in_key_order() {
        let line = FULL.replacen(
            '{',
            r#"{"zz":[null,{"b":1}],"a":"x\n","pay":null,"s":1e16,"#,
            1,
        );
        let e = Event::from_json_str(&line).unwrap();
        assert_eq!(e.extra().len(), 3);
        let out = e.to_canonical_json();
        assert!(out.starts_with(r#"{"a":"x\n","actor_id""#), "{out}");
        assert!(
            out.contains(r#""prev_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B2","s":1e+16,"schema_version""#),
            "{out}"
        );
        assert!(
            out.ends_with(r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","zz":[null,{"b":1}]}"#),
            "{out}"
        );
        assert!(!out.contains("\"pay\""));
        assert_eq!(e.ascii_compact_len(), out.len());
    }

    #[test]
    fn integrity_setters_return_changed_events() {
        let e = Event::from_json_str(FULL).unwrap();
        let bare = e.clone().without_integrity();
        assert!(
            bare.checksum().is_none() && bare.signature().is_none() && bare.prev_id().is_none()
        );
        let out = bare.to_canonical_json();
        assert!(
            !out.contains("checksum") && !out.contains("signature") && !out.contains("prev_id")
        );
        let back = bare.with_integrity(
            *e.checksum().unwrap(),
            *e.signature().unwrap(),
            e.prev_id().copied(),
        );
        assert_eq!(back, e);
    }

    #[test]
    fn model_id_never_crashes_on_odd_shapes() {
        let with_payload = |p: &str| {
            let line = FULL.replacen(
                r#""payload":{"duration_ms":1250.0,"model":{"name":"gpt-4o","system":"openai"},"span_name":"chat","status":"ok","token_usage":{"input_tokens":120,"output_tokens":80,"total_tokens":200}}"#,
                &format!(r#""payload":{p}"#),
                1,
            );
            Event::from_json_str(&line).unwrap().without_integrity()
        };
        assert_eq!(with_payload(r#"{"model_id":"m1"}"#).model_id(), Some("m1"));
        assert_eq!(with_payload(r#"{"model":"m2"}"#).model_id(), Some("m2"));
        assert_eq!(
            with_payload(r#"{"model":{"name":""},"model_id":"m3"}"#).model_id(),
            Some("m3")
        );
        assert_eq!(with_payload(r#"{"model":[1,2]}"#).model_id(), None);
        assert_eq!(with_payload(r#"{"model":{"name":5}}"#).model_id(), None);
        assert_eq!(with_payload(r#"{"model_id":7}"#).model_id(), None);
    }

    #[test]
    fn size_guard_measures_text_or_ascii_form() {
        let pad = "\u{00e9}".repeat(400_000); // 800,000 UTF-8 bytes, 2,400,000 bytes escaped
        let line = FULL.replacen(
            r#""span_name":"chat""#,
            &format!(r#""span_name":"{pad}""#),
            1,
        );
        let e = Event::from_json_str(&line).unwrap();
        assert!(e.ascii_compact_len() > MAX_EVENT_BYTES);
        let err = Event::from_value(json::parse(&line).unwrap()).unwrap_err();
        assert!(matches!(err, EventError::TooLarge { .. }), "{err}");
        let big = FULL.replacen(
            r#""span_name":"chat""#,
            &format!(r#""span_name":"{}""#, "x".repeat(MAX_EVENT_BYTES)),
            1,
        );
        assert!(matches!(
            Event::from_json_str(&big),
            Err(EventError::TooLarge { .. })
        ));
    }
}
