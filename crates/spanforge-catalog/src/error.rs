//! The crate's error type: one enum for lookups, parsing and data validation.

use crate::framework::FrameworkId;

/// Everything that can go wrong in this crate.
///
/// Lookup errors (`UnknownFramework`, `UnknownNode`, `NotFound`, `Ambiguous`) come from user
/// input. Data errors (`Toml`, `Data`) can only come from catalog sources other than the shipped
/// ones, because the shipped data is loaded and checked by the crate's tests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A framework name that matches no known framework or alias.
    #[error(
        "unknown framework {input:?}: expected one of soc2, iso42001, nist-ai-rmf, eu-ai-act, gdpr, hipaa"
    )]
    UnknownFramework {
        /// The text that was given.
        input: String,
    },

    /// A node id that does not exist in the named framework.
    #[error("framework {framework} has no node {id:?}")]
    UnknownNode {
        /// The framework that was searched.
        framework: FrameworkId,
        /// The id that was given.
        id: String,
    },

    /// A query that names neither a canonical control nor a framework node.
    #[error("{query:?} names no canonical control and no node of any framework")]
    NotFound {
        /// The text that was given.
        query: String,
    },

    /// A query that names nodes in more than one framework.
    #[error("{query:?} is ambiguous: it names {}; qualify it as FRAMEWORK:ID", candidates.join(", "))]
    Ambiguous {
        /// The text that was given.
        query: String,
        /// The qualified ids (`framework:id`) it could mean.
        candidates: Vec<String>,
    },

    /// An event-type string or pattern that breaks the SpanForge event-type grammar.
    #[error("invalid event type {event_type:?}: {reason}")]
    EventType {
        /// The offending text.
        event_type: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A field condition that does not follow the condition grammar.
    #[error("invalid condition {input:?}: {reason}")]
    Condition {
        /// The offending text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Text that is not a content hash of the form `sha256:<64 lowercase hex digits>`.
    #[error("invalid content hash {input:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidHash {
        /// The offending text.
        input: String,
    },

    /// A catalog source file that is not valid TOML or does not fit the expected shape.
    #[error("{file}: {source}")]
    Toml {
        /// The data file name, e.g. `soc2.toml`.
        file: &'static str,
        /// The parser's error, which carries the line and column.
        #[source]
        source: Box<toml::de::Error>,
    },

    /// A catalog source file that parses but breaks a data rule (duplicate id, dangling
    /// reference, missing reason, ...).
    #[error("{file}: {location}: {message}")]
    Data {
        /// The data file name, e.g. `mappings.toml`.
        file: &'static str,
        /// Where in the file: the record's id or key.
        location: String,
        /// What rule is broken.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn data(
        file: &'static str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Data {
            file,
            location: location.into(),
            message: message.into(),
        }
    }
}
