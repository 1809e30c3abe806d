//! `spanforge-store` is SpanForge's durable ledger: an append-only store of AI events in which
//! every tenant has a spanforge-compatible HMAC chain and an RFC 6962 Merkle tree, with signed
//! C2SP checkpoints, inclusion proofs and verification against checkpoints kept elsewhere.
//!
//! # Where it sits
//!
//! Above `spanforge-event` (the envelope) and `spanforge-chain` (HMAC chain, Merkle tree, signed
//! notes, checkpoints, proof bundles), below the mapping layer and the CLI. It is the only crate
//! that opens databases. It never reads the environment or the clock by itself: keys come in
//! through [`KeyProvider`], event ids and timestamps through a `UlidGenerator`.
//!
//! # Design
//!
//! * [`Ledger`] holds every rule (sealing, verification, proofs, export, queries) and is generic
//!   over a storage [`Backend`]; [`SqliteBackend`] stores a ledger in one SQLite file (bundled
//!   SQLite, WAL, `synchronous=FULL`). A server database can be added by implementing the
//!   backend traits; the ledger and its callers stay unchanged.
//! * **Sealing**: each event is signed into its tenant's chain exactly as the reference SDK signs
//!   (`checksum`, `signature`, `prev_id`), so an export verifies with the reference's own
//!   `verify_chain`. The canonical envelope, signature included, is the tree leaf, so a change
//!   to *any* field is detected, including the fields the compatible signature leaves out.
//! * **Tenants**: one chain and one tree per `org_id`; events without one belong to
//!   [`TenantId::Default`].
//! * **Durability**: an event [`Ledger::ingest`] or [`Ledger::append_batch`] acknowledged is on
//!   stable storage. Group commit keeps that fast: one transaction (one sync) per call or per
//!   batch. Nothing is half-written: any error rolls the transaction back. Copying the WAL back
//!   into the database happens on a background thread, off the commit path.
//! * **Append-only**: the API has no update or delete path, and SQLite triggers refuse `UPDATE`
//!   and `DELETE` on events, keys and checkpoints.
//! * **Laundering is refused**: events that arrive already signed are verified as a chain
//!   before they are re-signed; one tampered or unlinked event refuses the whole input. (The
//!   compatible signature covers only `event_id`, `payload` and `prev_id`, so edits to other
//!   fields made *before* ingest cannot be seen; from ingest on the tree covers every field.)
//! * **Encryption at rest** ([`encryption`], optional, a setting stored in the ledger): payloads
//!   are stored as detached AEV1 ciphertexts under one data key per (tenant, actor, session,
//!   payload subject) scope, while the compatible checksum and signature still cover the
//!   plaintext; the stored envelope is the leaf, so verification needs no KMS. Reads, queries and
//!   exports decrypt through a [`DataKeyService`] given to [`Ledger::with_data_keys`].
//!   [`Ledger::erase_subject`] crypto-shreds a subject; [`Ledger::rewrap_data_keys`] rotates the
//!   key-encryption key without touching payloads.
//! * **Anti-truncation**: [`Ledger::checkpoint`] signs `(size, root)` with Ed25519 as a C2SP
//!   `tlog-checkpoint`; [`Ledger::verify`] compares size *and* root with checkpoints kept outside
//!   the database, so truncation, rollback and forks are detected.
//!
//! Deviations from the initial design, and why:
//! * The interior tree nodes are stored with the event whose append completed them
//!   ([`NewRecord::nodes`]) instead of in a separate nodes table: the same data, one B-tree
//!   insert fewer per event, and the append-only trigger covers the nodes too.
//! * `events.id` is `(tenant << 40) | seq`, so a tenant's chain is one rowid range and needs no
//!   extra index. This bounds a ledger to 2^23 - 1 tenants of 2^40 - 1 events each.
//! * Key schedules are taken from the key records (which the rotation events, signed with the
//!   old key, must agree with) instead of from the rotation events alone, so a rotation event
//!   that arrived in signed input from a foreign chain is stored as an ordinary event.
//!
//! # Example
//!
//! ```
//! use spanforge_chain::compat::HmacSecret;
//! use spanforge_chain::note::NoteSigner;
//! use spanforge_store::{HmacKey, JsonlLines, SqliteLedger, StaticKeys, TenantId, VerifyOptions, verify_event_proof};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut ledger = SqliteLedger::open(dir.path().join("ledger.db"))?;
//! let log_key = NoteSigner::from_seed(&ledger.log_key_name(), &[7; 32])?;
//! let keys = StaticKeys::new()
//!     .with_default_key(HmacKey::derived(HmacSecret::new_native("an-example-signing-secret-of-32+bytes")?))
//!     .with_checkpoint_signer(log_key);
//!
//! // Ingest a JSONL file: validated, signed, appended in one transaction.
//! let jsonl = concat!(
//!     r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B3","event_type":"decision.made","org_id":"acme","payload":{"ok":true},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}"#, "\n",
//!     r#"{"event_id":"01KDZ5T8Q3M9V6W2X4Y7Z0A1B4","event_type":"decision.made","org_id":"acme","payload":{"ok":false},"schema_version":"2.0","source":"bot@1.0.0","timestamp":"2026-01-03T10:00:02.250000Z"}"#, "\n",
//! );
//! let receipt = ledger.ingest(&keys, JsonlLines::new("events.jsonl", jsonl.as_bytes()))?;
//! assert_eq!(receipt.events, 2);
//!
//! // Sign a checkpoint, keep it outside the database, verify against it.
//! let acme = TenantId::org("acme")?;
//! let checkpoint = ledger.checkpoint(&keys, &acme)?.to_string();
//! let report = ledger.verify(&keys, &VerifyOptions::new().with_checkpoint_file(&checkpoint)?)?;
//! assert!(report.valid);
//!
//! // Prove one event to an auditor who holds only the public key.
//! let proof = ledger.prove(&keys, "01KDZ5T8Q3M9V6W2X4Y7Z0A1B3")?;
//! let verifier = keys.checkpoint_signer().map(|s| s.verifier()).unwrap();
//! let verified = verify_event_proof(proof.to_text().as_bytes(), &verifier, None)?;
//! assert_eq!(verified.event.event_id().as_str(), "01KDZ5T8Q3M9V6W2X4Y7Z0A1B3");
//!
//! // Export the tenant's chain; the reference's verify_chain accepts it with the key.
//! let lines: Vec<String> = ledger.export(&acme, None, None)?.collect::<Result<_, _>>()?;
//! assert_eq!(lines.len(), 2);
//! # use spanforge_store::KeyProvider;
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//! * [`Ledger`] ([`ledger`]): ingest, append, rotate, checkpoint, prove, export, query.
//! * [`verify`]: verification and its report; [`export_check`]: an exported chain checked
//!   against signed checkpoints, with no database.
//! * [`ingest`]: input lines, JSONL reading, the sealing pipeline.
//! * [`backend`]: the storage traits; [`sqlite`]: the SQLite backend and its schema;
//!   [`memory`]: an in-memory backend for tests and benchmarks; [`page`]: pages of stored
//!   events in reusable buffers, for scans over every row.
//! * [`keys`]: key ids, HMAC keys, [`KeyProvider`] and [`StaticKeys`].
//! * [`encryption`]: the stored form of encrypted payloads, data-key scopes, [`DataKeyService`].
//! * [`tenant`]: [`TenantId`] and checkpoint origins.
//!
//! # Features
//!
//! None. The crate always builds the same way.

pub mod backend;
pub mod blocking;
pub mod encryption;
mod error;
pub mod export_check;
pub mod ingest;
pub mod keys;
pub mod ledger;
pub mod memory;
pub mod page;
mod scan;
pub mod sqlite;
pub mod tenant;
pub mod verify;

pub use backend::{
    Backend, CheckpointRecord, DataKeyRecord, ErasedKeyRecord, KeyRecord, NewRecord, Reader,
    Record, RecordFilter, RecordScan, TenantKey, TenantState, Writer,
};
pub use blocking::BlockingKms;
pub use encryption::{DataKeyService, PayloadState};
pub use error::{Error, Location, Result};
pub use export_check::{ExportCheck, ExportReport};
pub use ingest::{BatchReceipt, IngestReceipt, InputContent, InputLine, JsonlLines, TenantHead};
pub use keys::{HmacKey, KeyId, KeyProvider, StaticKeys, org_key_env_var};
pub use ledger::{
    ErasureReceipt, ErasureRecord, EventPage, EventProof, EventRef, Export, KeyInfo, LEDGER_SOURCE,
    Ledger, Query, QueryIter, QueryPages, RewrapReceipt, RotationReceipt, SqliteLedger,
    StoredEvent, TenantSummary, VerifiedProof, format_checkpoints, parse_origin, split_checkpoints,
    verify_event_proof,
};
pub use memory::MemoryBackend;
pub use page::{RecordPage, RecordRef};
pub use sqlite::SqliteBackend;
pub use tenant::TenantId;
pub use verify::{
    CheckpointCheck, CheckpointSource, CheckpointStatus, LedgerReport, RotationCheck,
    TamperFinding, TenantReport, VerifyOptions,
};
