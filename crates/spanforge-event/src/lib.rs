//! The SpanForge event envelope (RFC-0001, schema 2.0): parsing, validation and canonical JSON.
//!
//! This is the bottom layer of SpanForge for Rust. Every other crate (crypto, catalog, chain, store, mapping,
//! alert, export, cli) reads and writes events through it, and it depends on none of them. It reads and writes
//! the envelope the Python SDK `spanforge==1.0.4` emits, byte for byte, and applies one set of rules where the
//! reference has three validators that disagree.
//!
//! The crate does no I/O, starts no threads, and never reads the clock or the operating system's random source
//! by itself: code that creates events passes a [`Clock`] and an [`Entropy`] in (see [`clock`]).
//!
//! ```
//! use spanforge_event::{Event, EventBuilder, FixedClock, RegisteredType, Source, UlidGenerator, json};
//! # use spanforge_event::{Entropy, EntropyError};
//! # struct Counter(u8);
//! # impl Entropy for Counter {
//! #     fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> { self.0 += 1; buf.fill(self.0); Ok(()) }
//! # }
//!
//! // Read one line of a reference JSONL file: parse, guard, validate.
//! let line = r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","payload":{"confidence":0.9},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#;
//! let event = Event::from_json_str(line)?;
//! assert_eq!(event.event_type().namespace(), "decision");
//! assert_eq!(event.to_canonical_json(), line); // byte-identical to the reference's to_json()
//!
//! // Make a new event with an injected clock and entropy source.
//! let mut ids = UlidGenerator::new(FixedClock(1_767_434_401_250_000), Counter(0));
//! let payload = json::parse(r#"{"model_id":"gpt-4o","status":"active"}"#)?;
//! let new = EventBuilder::new(RegisteredType::ModelRegistryRegistered, Source::parse("registry@1.0.0")?, payload)
//!     .org_id("acme")
//!     .build(&mut ids)?;
//! assert_eq!(new.timestamp().as_str(), "2026-01-03T10:00:01.250000Z");
//! assert_eq!(new.model_id(), Some("gpt-4o"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//! * `std-clock` (default): [`SystemClock`] and [`OsEntropy`], backed by `std::time` and `getrandom`.
//!
//! # Modules
//! * [`json`]: the JSON value tree and the canonical (Python-compatible) writer.
//! * [`Event`] ([`envelope`]): the envelope, its guards and its canonical form; [`EventBuilder`] makes new ones.
//! * [`EventType`], [`EventId`], [`Timestamp`], [`Source`], [`TraceId`], [`SpanId`], [`Checksum`],
//!   [`Signature`], [`Tags`]: the checked field types.
//! * [`payload`]: typed views of the payloads the later layers read.
//! * [`schema`]: the JSON Schema of the envelope, generated from the same constants the validator uses.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod json;

pub mod builder;
pub mod clock;
pub mod envelope;
pub mod error;
pub mod event_type;
pub mod ids;
pub mod payload;
pub mod schema;
pub mod sha256;
pub mod tags;
pub mod timestamp;
pub mod ulid;

pub use builder::EventBuilder;
pub use clock::{Clock, Entropy, EntropyError, FixedClock};
#[cfg(feature = "std-clock")]
pub use clock::{OsEntropy, SystemClock};
pub use envelope::{Event, Integrity, MAX_EVENT_BYTES, MAX_PAYLOAD_DEPTH};
pub use error::{EventError, Result};
pub use event_type::{EventType, ExtensionType, RegisteredType};
pub use ids::{Checksum, SchemaVersion, Signature, Source, SpanId, TraceId};
pub use tags::{MAX_TAGS, Tags};
pub use timestamp::Timestamp;
pub use ulid::{EventId, UlidGenerator};
