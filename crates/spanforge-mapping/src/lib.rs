//! SpanForge mapping engine: from a verified ledger to conclusions per canonical control, a
//! status per framework criterion, gap reports, and signed evidence packages an auditor can
//! verify with a public key.
//!
//! # Where it sits
//!
//! Layer 4, above `spanforge-event` (the envelope), `spanforge-catalog` (frameworks, canonical
//! controls, evidence rules, typed mappings), `spanforge-chain` (signed notes, checkpoints,
//! proofs) and `spanforge-store` (the ledger), below the CLI. It is synchronous and reads no
//! clock: the period and "now" come in as arguments, so the same ledger and arguments always
//! give the same bytes. The only I/O is the package directory it is asked to write or verify.
//!
//! # Pipeline
//!
//! **event → population per canonical control → per-item test attributes → a conclusion per
//! control for the period → a status per framework node through the catalog's mappings.**
//!
//! 1. The ledger is verified first ([`engine::assess`]); any integrity finding stops the run
//!    with [`Error::LedgerIntegrity`] and nothing is written. Each tenant in scope is then
//!    anchored to a signed checkpoint, and populations never reach past it.
//! 2. Each tenant's events stream once, in time order, through per-control accumulators
//!    ([`accumulator`]) whose memory is bounded by what they must keep (a bitset of deviating
//!    items, occurrence days, join keys of low-volume events, capped citation lists), not by
//!    the number of events. Controls are independent, so groups of them are fed the same
//!    batch of events in parallel; each control still sees every event once, in order.
//! 3. Rules are data: the catalog's evidence rules say which events form a control's
//!    population; `data/attribute-tests.toml` says how each test attribute is checked (field
//!    conditions, joins to earlier or later events, period checks), compiled in [`rules`].
//!    There is one code path per kind of test, none per control or framework.
//! 4. Period coverage is judged at the control's frequency ([`coverage`]): a daily control
//!    needs evidence on every day of the period, a quarterly one no stretch longer than a
//!    quarter without it.
//! 5. Conclusions follow a lattice ([`conclusion::Conclusion`]): effective, effective with
//!    exceptions, ineffective, not occurred, insufficient evidence, stale, manual evidence
//!    pending, not applicable. Framework nodes get a design and an operating coverage through
//!    the typed mappings, weakest link first ([`framework`]), and a gap report with
//!    remediation derived from each control's own data ([`remediation`]).
//! 6. A census by default; on request a deterministic sample seeded from each population's
//!    hash, per the methodology's sample-size table ([`sampling`]).
//! 7. The package ([`package`]) holds the populations, test results, exceptions and
//!    conclusions per control, the gap report, integrity evidence (verification report,
//!    signed checkpoints, an inclusion proof per cited event), OSCAL assessment results and a
//!    self-contained HTML report; `manifest.json` lists every file's SHA-256 and
//!    `manifest.sig` signs it with Ed25519. [`package::verify_package`] checks all of it.
//!
//! Beside the engine: the model registry as change-management evidence ([`registry`]),
//! tenant-isolation checks ([`isolation`]) and readiness answers to the guide ([`readiness`]).
//!
//! # Example
//!
//! ```
//! use spanforge_catalog::FrameworkId;
//! use spanforge_chain::compat::HmacSecret;
//! use spanforge_chain::note::NoteSigner;
//! use spanforge_event::{EventBuilder, EventId, EventType, Source, Timestamp, json};
//! use spanforge_mapping::engine::AssessmentRequest;
//! use spanforge_mapping::package::{generate_package, verify_package};
//! use spanforge_mapping::period::Period;
//! use spanforge_mapping::rules::RuleSet;
//! use spanforge_store::{HmacKey, SqliteLedger, StaticKeys};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut ledger = SqliteLedger::open(dir.path().join("ledger.db"))?;
//! let signer = NoteSigner::from_seed(&ledger.log_key_name(), &[7; 32])?;
//! let keys = StaticKeys::new()
//!     .with_default_key(HmacKey::derived(HmacSecret::new_native("an-example-signing-secret-of-32+bytes")?))
//!     .with_checkpoint_signer(NoteSigner::from_seed(&ledger.log_key_name(), &[7; 32])?);
//!
//! // A model deployment recorded without any approval on record.
//! let ts = Timestamp::parse("2026-01-10T09:00:00.000000Z")?;
//! let deployment = EventBuilder::new(
//!     EventType::parse("dev.spanforge.model.deployed")?,
//!     Source::parse("deployer@1.0.0")?,
//!     json::parse(r#"{"author":"ml-lead","change_id":"bot@2","doc_uri":"https://docs.example/bot","model_id":"bot","version":"2"}"#)?,
//! )
//! .event_id(EventId::from_parts(u64::try_from(ts.unix_millis())?, 1)?)
//! .timestamp(ts)
//! .org_id("acme")
//! .actor_id("release-bot")
//! .build_exact()?;
//! ledger.append_batch(&keys, vec![deployment])?;
//!
//! // Build the SOC 2 package for January; the deployment is an exception of SF-CHG-01.
//! let period = Period::parse("2026-01-01", "2026-01-31")?;
//! let request = AssessmentRequest::new(FrameworkId::Soc2, period, period.end_micros() + 1);
//! let out = dir.path().join("package");
//! let summary = generate_package(&mut ledger, &keys, &RuleSet::shipped()?, &request, &out, &signer, "example")?;
//! let change = summary.assessment.control("SF-CHG-01").expect("SF-CHG-01 serves SOC 2");
//! assert_eq!(change.deviating_items, 1);
//!
//! // An auditor holding only the public key verifies every byte and every cited proof.
//! assert!(verify_package(&out, &[signer.verifier()])?.ok);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! * `testing` (off by default): `testing::Workload`, a deterministic generator of realistic
//!   AI-event workloads for tests and benchmarks of this crate and the layers above it. It
//!   adds no behaviour to the engine.

// Tests may unwrap: a panic there is a test failure with a message.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod accumulator;
pub mod conclusion;
pub mod coverage;
pub mod engine;
pub mod error;
pub mod fields;
pub mod framework;
pub mod isolation;
pub mod json;
pub mod package;
pub mod period;
pub mod readiness;
pub mod registry;
pub mod remediation;
pub mod rules;
pub mod sampling;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use error::{Error, Result};
