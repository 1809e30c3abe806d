//! The crate's error type: every failure names what went wrong and where (file, control,
//! model, tenant or event).

use std::path::PathBuf;

/// Errors of the mapping engine, the package writer and verifier, the model registry and the
/// isolation and readiness checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A date is not a calendar day in `YYYY-MM-DD` form.
    #[error("invalid date {input:?}: {reason}")]
    Date {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The assessment period is unusable.
    #[error("invalid period: {0}")]
    Period(String),

    /// The period has not ended yet: a Type II population is pulled only after the period
    /// closes, so that no later event of the period can be missing from it.
    #[error(
        "the period ends {period_end}, which is not before now ({now}): populations are pulled only after the \
         period closes"
    )]
    PeriodOpen {
        /// The last instant of the period.
        period_end: String,
        /// The instant given as "now".
        now: String,
    },

    /// The ledger failed verification: no package is built on a tampered ledger.
    #[error("the ledger failed integrity verification; no evidence was produced: {summary}")]
    LedgerIntegrity {
        /// What verification found, tenant by tenant (first tampered event, gaps, problems).
        summary: String,
    },

    /// A tenant named in the request has no events in the ledger.
    #[error("tenant {tenant} has no events in the ledger")]
    UnknownTenant {
        /// The tenant.
        tenant: String,
    },

    /// No checkpoint signing key was given, so no signed checkpoint can anchor the package.
    #[error(
        "a checkpoint signing key is needed to anchor the package to a signed ledger checkpoint"
    )]
    NoCheckpointSigner,

    /// The ledger reported an error.
    #[error("ledger error while {context}: {source}")]
    Store {
        /// What the engine was doing.
        context: String,
        /// The ledger's error.
        #[source]
        source: Box<spanforge_store::Error>,
    },

    /// The catalog reported an error.
    #[error("catalog error: {0}")]
    Catalog(#[from] spanforge_catalog::Error),

    /// An event could not be parsed or built.
    #[error("event error while {context}: {source}")]
    Event {
        /// What the engine was doing (with the event id when known).
        context: String,
        /// The envelope's error.
        #[source]
        source: spanforge_event::EventError,
    },

    /// A signature, checkpoint or proof operation failed.
    #[error("integrity error while {context}: {source}")]
    Chain {
        /// What the engine was doing.
        context: String,
        /// The chain crate's error.
        #[source]
        source: Box<spanforge_chain::Error>,
    },

    /// The engine's attribute-test data is inconsistent with the catalog.
    #[error("attribute-test data, {location}: {reason}")]
    Rules {
        /// Where in the data (control and entry).
        location: String,
        /// What is wrong.
        reason: String,
    },

    /// A file or directory could not be read or written.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The output directory of a package is not empty, so writing could mix two packages.
    #[error("the package directory {} is not empty", path.display())]
    OutputNotEmpty {
        /// The directory.
        path: PathBuf,
    },

    /// A package could not be read at all (missing manifest, unreadable directory). Content
    /// mismatches are reported by [`crate::package::verify_package`], not as this error.
    #[error("cannot read the package at {}: {reason}", path.display())]
    Package {
        /// The package directory or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A model-registry action breaks a lifecycle rule.
    #[error("model {model}: {reason}")]
    Lifecycle {
        /// The model (and version) concerned.
        model: String,
        /// The rule broken, and how to satisfy it.
        reason: String,
    },

    /// An argument is out of range or malformed.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The argument.
        what: String,
        /// Why it is refused.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn store(context: impl Into<String>, source: spanforge_store::Error) -> Self {
        Error::Store {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn chain(context: impl Into<String>, source: spanforge_chain::Error) -> Self {
        Error::Chain {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
