//! The crate's single error type, its `Result` alias, and [`Location`], the place in the input an
//! error refers to.
//!
//! Every error says what went wrong and where: the input file and line for ingest errors, the
//! tenant and event id for ledger errors, the operation for storage errors. No variant ever holds
//! key material.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::tenant::TenantId;

/// The result type used throughout this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an input event came from: the name of its source (a file name, `-` for stdin, or a
/// caller-chosen label) and its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The source name, shared between all lines of one source.
    pub source: Arc<str>,
    /// The 1-based line number (or position, for sources that are not line-based).
    pub line: u64,
}

impl Location {
    /// Builds a location.
    pub fn new(source: impl Into<Arc<str>>, line: u64) -> Self {
        Self {
            source: source.into(),
            line,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// Everything that can go wrong in `spanforge-store`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage backend failed.
    #[error("storage error while {operation}")]
    Backend {
        /// What the ledger was doing, e.g. `"appending events"`.
        operation: String,
        /// The backend's own error.
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },

    /// The database was written by a newer version of this crate.
    #[error(
        "the ledger database has schema version {found}, newer than the {supported} this build understands; upgrade spanforge"
    )]
    SchemaTooNew {
        /// The schema version found in the database.
        found: i64,
        /// The newest schema version this build knows.
        supported: i64,
    },

    /// The file or database is not a SpanForge ledger, or its bookkeeping is damaged.
    #[error("not a usable ledger: {reason}")]
    NotALedger {
        /// What is missing or wrong.
        reason: String,
    },

    /// An input line could not be read or is not a valid event.
    #[error("{location}: {reason}")]
    Input {
        /// Where the line is.
        location: Location,
        /// What is wrong with it (the field and the rule, for validation errors).
        reason: String,
    },

    /// A pre-signed input event failed its integrity check: its checksum or signature does not
    /// verify, so the whole input is refused.
    #[error("{location}: event {event_id} is tampered: {reason}; nothing was written")]
    TamperedInput {
        /// Where the event is.
        location: Location,
        /// The event's id.
        event_id: String,
        /// Which check failed.
        reason: String,
    },

    /// A pre-signed input event does not link to the event before it in its input chain.
    #[error(
        "{location}: event {event_id} breaks the input chain: its prev_id is {found}, expected {expected}; nothing was written"
    )]
    BrokenInputChain {
        /// Where the event is.
        location: Location,
        /// The event's id.
        event_id: String,
        /// The predecessor the chain requires (`none` for the first event).
        expected: String,
        /// The predecessor the event names (`none` if it names none).
        found: String,
    },

    /// An event id is already in the ledger, or appears twice in the input.
    #[error("{}event id {event_id} is already in the ledger; nothing was written", location_prefix(.location))]
    DuplicateEventId {
        /// Where the duplicate is, when it came from an input line.
        location: Option<Location>,
        /// The duplicated id.
        event_id: String,
    },

    /// No signing key is configured for a tenant.
    #[error(
        "no signing key for tenant {tenant}: set SPANFORGE_SIGNING_KEY or the tenant's own key"
    )]
    MissingSigningKey {
        /// The tenant.
        tenant: TenantId,
    },

    /// A native signing key is shorter than the ledger requires.
    #[error(
        "signing key {key_id} is {len} bytes long; the ledger signs only with keys of at least {min} bytes"
    )]
    WeakSigningKey {
        /// The key's id.
        key_id: String,
        /// Its length in bytes.
        len: usize,
        /// The minimum length.
        min: usize,
    },

    /// The configured signing key is not the key the tenant's chain is currently signed with.
    #[error(
        "tenant {tenant}: the chain is signed with key {recorded}, but the configured key is {configured}; configure key {recorded} or rotate to the new key"
    )]
    KeyMismatch {
        /// The tenant.
        tenant: TenantId,
        /// The key id recorded in the ledger.
        recorded: String,
        /// The key id (or description) of the configured key.
        configured: String,
    },

    /// A key the ledger needs is not configured.
    #[error("tenant {tenant}: key {key_id} is not configured")]
    UnknownKey {
        /// The tenant.
        tenant: TenantId,
        /// The key's id.
        key_id: String,
    },

    /// A key id is not well formed.
    #[error("invalid key id {id:?}: {reason}")]
    InvalidKeyId {
        /// The id as given.
        id: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// A key configuration value is unusable (for example an empty secret in an environment
    /// variable). The message names the variable, never its value.
    #[error("key configuration: {0}")]
    KeyConfig(String),

    /// A checkpoint operation needs the log's note signer or verifier and none is configured.
    #[error("no checkpoint {0} key is configured")]
    NoCheckpointKey(&'static str),

    /// No event has this id.
    #[error("event {event_id} is not in the ledger")]
    EventNotFound {
        /// The id looked up.
        event_id: String,
    },

    /// A tenant name is not usable.
    #[error("invalid tenant: {0}")]
    InvalidTenant(String),

    /// No tenant with this id has events in the ledger.
    #[error("tenant {tenant} has no events in the ledger")]
    TenantNotFound {
        /// The tenant.
        tenant: TenantId,
    },

    /// The tree is not in a state the ledger may sign or prove from (for example it is
    /// inconsistent with a checkpoint it signed before).
    #[error("tenant {tenant}: {reason}")]
    TreeState {
        /// The tenant.
        tenant: TenantId,
        /// What is wrong.
        reason: String,
    },

    /// A tenant's chain or the ledger reached a size limit of the storage layout.
    #[error("{0}")]
    Capacity(String),

    /// A checkpoint file or proof bundle could not be used.
    #[error("checkpoint: {0}")]
    Checkpoint(String),

    /// An error from the Merkle, note or checkpoint layer.
    #[error("{context}")]
    Chain {
        /// What the ledger was doing.
        context: String,
        /// The chain layer's error.
        #[source]
        source: spanforge_chain::Error,
    },

    /// An event could not be built (for example a rotation event).
    #[error("{context}")]
    Event {
        /// What the ledger was building.
        context: String,
        /// The event layer's error.
        #[source]
        source: spanforge_event::EventError,
    },

    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Entropy,

    /// Payload encryption could not be used: the ledger encrypts but no data-key service is
    /// configured, the backend cannot store data keys, or the KMS failed.
    #[error("payload encryption: {context}")]
    Encryption {
        /// What the ledger was doing and what is missing.
        context: String,
        /// The crypto layer's error, if one caused it.
        #[source]
        source: Option<spanforge_crypto::Error>,
    },

    /// A stored encrypted payload could not be decrypted (its envelope does not open, or the
    /// plaintext does not match the signed checksum). Never raised for an erased payload.
    #[error("event {event_id}: the encrypted payload cannot be read: {reason}")]
    Decryption {
        /// The event.
        event_id: String,
        /// Why (never key material).
        reason: String,
    },
}

fn location_prefix(location: &Option<Location>) -> String {
    location
        .as_ref()
        .map(|l| format!("{l}: "))
        .unwrap_or_default()
}

impl Error {
    /// Wraps a storage error with the operation that failed.
    pub fn backend<E: StdError + Send + Sync + 'static>(
        operation: impl Into<String>,
        source: E,
    ) -> Self {
        Error::Backend {
            operation: operation.into(),
            source: Box::new(source),
        }
    }

    /// A payload-encryption error with what the ledger was doing.
    pub(crate) fn encryption(
        context: impl Into<String>,
        source: Option<spanforge_crypto::Error>,
    ) -> Self {
        Error::Encryption {
            context: context.into(),
            source,
        }
    }

    /// Wraps a chain-layer error with what the ledger was doing.
    pub(crate) fn chain(context: impl Into<String>, source: spanforge_chain::Error) -> Self {
        Error::Chain {
            context: context.into(),
            source,
        }
    }

    /// The input location this error names, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Input { location, .. }
            | Error::TamperedInput { location, .. }
            | Error::BrokenInputChain { location, .. } => Some(location),
            Error::DuplicateEventId { location, .. } => location.as_ref(),
            _ => None,
        }
    }

    /// Whether this error means that data was checked and found not to be authentic (a tampered
    /// or unlinked pre-signed input event), as opposed to an operational failure.
    pub fn is_integrity_failure(&self) -> bool {
        matches!(
            self,
            Error::TamperedInput { .. } | Error::BrokenInputChain { .. }
        )
    }
}
