//! The crate's single error type: every failure names the field it concerns and says what was expected.

use crate::json;

/// The name used for the event as a whole when an error concerns no single field.
pub const WHOLE_EVENT: &str = "<event>";

/// How many characters of a received value an error message may echo before it is cut short.
const MAX_ECHO_CHARS: usize = 60;

/// Everything that can go wrong while reading, checking or building an event.
///
/// Each variant that concerns a field carries its path (`event_id`, `tags.env`, `payload.model.name`,
/// `payload.tool_calls[2]`), and each says what was expected and, where it helps, what was received
/// (cut to about 60 characters, so that an error never echoes a large or sensitive value in full).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The text is not JSON; the parser's error carries line, column and byte offset.
    #[error("{WHOLE_EVENT}: invalid JSON: {0}")]
    Json(#[from] json::ParseError),

    /// The event is larger than the size guard allows.
    #[error("{WHOLE_EVENT}: expected an event of at most {limit} bytes, received {size} bytes")]
    TooLarge {
        /// The measured size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// A value is nested more deeply than the depth guard allows.
    #[error("{field}: expected nesting at most {limit} levels deep, received {depth} levels")]
    TooDeep {
        /// The path of the value that is too deep (normally `payload`).
        field: String,
        /// The measured depth (a scalar counts 1, a container 1 more than its deepest member).
        depth: usize,
        /// The largest depth allowed.
        limit: usize,
    },

    /// The event carries more tags than the guard allows.
    #[error("tags: expected at most {limit} tags, received {count}")]
    TooManyTags {
        /// The number of tags received.
        count: usize,
        /// The largest number allowed.
        limit: usize,
    },

    /// A required field is absent (or `null`, which counts as absent).
    #[error("{field}: required field is missing; expected {expected}")]
    Missing {
        /// The path of the missing field.
        field: String,
        /// What a valid value looks like.
        expected: String,
    },

    /// A field holds a JSON value of the wrong kind.
    #[error("{field}: expected {expected}, received {received}")]
    WrongType {
        /// The path of the field.
        field: String,
        /// What a valid value looks like.
        expected: String,
        /// The kind of JSON value received (`number`, `array`, ...).
        received: &'static str,
    },

    /// A field holds a value of the right kind that breaks the field's rule.
    #[error("{field}: expected {expected}, received {received}")]
    Invalid {
        /// The path of the field.
        field: String,
        /// What a valid value looks like.
        expected: String,
        /// The value received, quoted and cut to about 60 characters.
        received: String,
    },

    /// A new identifier or timestamp could not be made (clock out of range, entropy source failed).
    #[error("cannot generate {what}: {reason}")]
    Generate {
        /// What was being generated (`event_id`, `timestamp`).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T, E = EventError> = std::result::Result<T, E>;

impl EventError {
    /// The path of the field the error concerns, or [`WHOLE_EVENT`] when it concerns the event as a whole
    /// (JSON syntax, size, generation failures).
    pub fn field(&self) -> &str {
        match self {
            Self::TooDeep { field, .. }
            | Self::Missing { field, .. }
            | Self::WrongType { field, .. }
            | Self::Invalid { field, .. } => field,
            Self::TooManyTags { .. } => "tags",
            Self::Generate { what, .. } => what,
            Self::Json(_) | Self::TooLarge { .. } => WHOLE_EVENT,
        }
    }

    pub(crate) fn missing(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::Missing {
            field: field.into(),
            expected: expected.into(),
        }
    }

    pub(crate) fn wrong_type(
        field: impl Into<String>,
        expected: impl Into<String>,
        received: &json::Value,
    ) -> Self {
        Self::WrongType {
            field: field.into(),
            expected: expected.into(),
            received: kind_of(received),
        }
    }

    pub(crate) fn invalid(
        field: impl Into<String>,
        expected: impl Into<String>,
        received: &str,
    ) -> Self {
        Self::Invalid {
            field: field.into(),
            expected: expected.into(),
            received: echo(received),
        }
    }

    /// Like [`EventError::invalid`] for a received value that is not a string (a number, an array).
    pub(crate) fn invalid_value(
        field: impl Into<String>,
        expected: impl Into<String>,
        received: &json::Value,
    ) -> Self {
        let shown = match received {
            json::Value::String(s) => echo(s),
            json::Value::Array(_) | json::Value::Object(_) => kind_of(received).to_owned(),
            other => echo_raw(&json::to_canonical_string(other)),
        };
        Self::Invalid {
            field: field.into(),
            expected: expected.into(),
            received: shown,
        }
    }
}

/// The JSON kind of a value, as error messages name it.
pub(crate) fn kind_of(v: &json::Value) -> &'static str {
    match v {
        json::Value::Null => "null",
        json::Value::Bool(_) => "boolean",
        json::Value::Number(n) if n.is_integer() => "integer",
        json::Value::Number(_) => "number",
        json::Value::String(_) => "string",
        json::Value::Array(_) => "array",
        json::Value::Object(_) => "object",
    }
}

/// A received string as an error shows it: quoted, with control and non-ASCII characters escaped
/// the way Rust's `Debug` does, and cut after [`MAX_ECHO_CHARS`] characters.
pub(crate) fn echo(s: &str) -> String {
    let mut cut = s
        .char_indices()
        .nth(MAX_ECHO_CHARS)
        .map_or(s, |(i, _)| &s[..i])
        .to_owned();
    let truncated = cut.len() < s.len();
    cut = format!("{cut:?}");
    if truncated {
        cut.push_str(&format!("... ({} bytes in all)", s.len()));
    }
    cut
}

/// Like [`echo`] for text that is already a rendering (a number), so it is not quoted.
fn echo_raw(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        Some((i, _)) => format!("{}... ({} bytes in all)", &s[..i], s.len()),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_quotes_escapes_and_truncates() {
        assert_eq!(echo("abc"), "\"abc\"");
        assert_eq!(echo("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(500);
        let shown = echo(&long);
        assert!(shown.len() < 100, "{shown}");
        assert!(shown.ends_with("(500 bytes in all)"), "{shown}");
        // Cutting never splits a multi-byte character.
        let wide = "\u{00e9}".repeat(100);
        assert!(echo(&wide).starts_with("\"\u{00e9}"));
    }

    #[test]
    fn field_names_the_whole_event_for_size_errors() {
        let e = EventError::TooLarge { size: 2, limit: 1 };
        assert_eq!(e.field(), WHOLE_EVENT);
        assert!(e.to_string().contains("at most 1 bytes"));
        let e = EventError::invalid("tags.env", "a non-empty string", "");
        assert_eq!(e.field(), "tags.env");
        assert_eq!(
            e.to_string(),
            "tags.env: expected a non-empty string, received \"\""
        );
    }
}
