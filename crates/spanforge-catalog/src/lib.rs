//! SpanForge control catalog: framework catalogs, canonical AI controls, typed mappings and
//! OSCAL export.
//!
//! This crate sits in the second layer of the workspace, beside `spanforge-crypto`, below the
//! mapping engine and the CLI. Architecture invariant: pure data and logic, with no runtime
//! file I/O, no async and no clock; everything it knows is compiled in. It does not depend on
//! `spanforge-event`: the event-type grammar it checks rules against ([`rules`]) restates the
//! reference SDK's, and should be cross-checked with the event crate's once both exist.
//!
//! # What it holds
//!
//! - **Six framework catalogs**, one edition each, with a content hash that evidence packages
//!   record: SOC 2 (TSC 2017, points of focus revised 2022; 61 criteria), ISO/IEC 42001:2023
//!   Annex A (38 controls), NIST AI RMF 1.0 (72 subcategories in 19 categories and 4
//!   functions), the EU AI Act (17 articles with roles, scope and application dates), GDPR (10
//!   articles) and the HIPAA Security Rule (64 standards and implementation specifications,
//!   each required or addressable). AICPA and ISO wording is copyrighted, so those two ship ids
//!   with titles in our own words.
//! - **Canonical AI controls** (`SF-LOG-01`, `SF-CHG-01`, ...): SpanForge's own controls for the
//!   guide's four AI domains, each with test attributes, evidence rules written as data (event
//!   types checked against the SpanForge event-type grammar, plus typed field conditions) and an
//!   operating frequency.
//! - **Typed mappings** from each canonical control to framework nodes (equal, subset,
//!   superset, intersects; with strength and rationale), so one piece of evidence counts for
//!   every requirement it serves, and a **non-coverage inventory** giving the reason for every
//!   node that telemetry cannot evidence.
//! - **OSCAL 1.2 export** ([`oscal`]) of catalogs, profiles and mapping collections, with
//!   deterministic UUIDs and timestamps; and **rendering helpers** ([`render`]) so the CLI only
//!   wires arguments to functions.
//!
//! # Design
//!
//! The data lives in reviewable TOML files under `data/`, compiled in with `include_str!` and
//! parsed once on first use. Parsing checks every reference (duplicate ids, dangling mapping
//! targets, unknown guide items, event types outside the grammar, uncovered nodes), and the
//! crate's tests load the shipped data, so the one `expect` on the loaded registry cannot fire
//! in a released build. Content hashes are SHA-256 over canonical JSON of the parsed data (see
//! [`hash`]), independent of platform and line endings.
//!
//! # Changing the data
//!
//! Edit the TOML file, bump its `data_version` (and `release_date` for the canonical controls
//! and mappings), run `cargo test -p spanforge-catalog`, and update the hash snapshot in
//! `tests/catalog/hashes.rs` in the same commit: a changed hash is a new edition of the data,
//! and evidence packages record which one they used.
//!
//! # Example
//!
//! ```
//! use spanforge_catalog::{FrameworkId, catalog, crosswalk, mapping::Subject};
//!
//! let soc2 = catalog(FrameworkId::parse("SOC 2 Type II")?);
//! assert_eq!(soc2.len(), 61);
//! assert_eq!(soc2.node("CC8.1").map(|n| n.group.as_str()), Some("CC8"));
//! assert!(soc2.content_hash().to_string().starts_with("sha256:"));
//!
//! // Which canonical controls produce evidence for CC8.1, and what else they serve.
//! let walk = crosswalk("CC8.1")?;
//! assert!(matches!(walk.subject, Subject::Node { .. }));
//! assert!(walk.direct.iter().any(|m| m.control == "SF-CHG-01"));
//! assert!(walk.related.iter().any(|m| m.node == "A.6.2.5"));
//! # Ok::<(), spanforge_catalog::Error>(())
//! ```

// Tests may unwrap: a panic there is a test failure with a message.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod canonical;
mod data;
pub mod error;
pub mod framework;
pub mod hash;
pub mod mapping;
pub mod model;
pub mod oscal;
pub mod registry;
pub mod render;
pub mod rules;

use std::sync::LazyLock;

pub use canonical::CanonicalControl;
pub use error::{Error, Result};
pub use framework::FrameworkId;
pub use hash::ContentHash;
pub use mapping::{Crosswalk, Mapping};
pub use model::{Catalog, Node};
pub use registry::Registry;

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    data::load(&data::Sources::shipped())
        .expect("shipped catalog data is checked by the unit test data::tests::shipped_data_loads")
});

/// The shipped catalog data, parsed on first use.
pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// The catalog of one framework.
pub fn catalog(id: FrameworkId) -> &'static Catalog {
    registry().catalog(id)
}

/// All six catalogs, in [`FrameworkId::ALL`] order.
pub fn all_frameworks() -> &'static [Catalog] {
    registry().catalogs()
}

/// All canonical controls.
pub fn canonical_controls() -> &'static [CanonicalControl] {
    registry().controls()
}

/// One canonical control by id (case-insensitive).
pub fn canonical_control(id: &str) -> Option<&'static CanonicalControl> {
    registry().control(id)
}

/// All mapping rows.
pub fn mappings() -> &'static [Mapping] {
    registry().mappings()
}

/// The crosswalk for a canonical control id (`SF-CHG-01`) or a framework node (`CC8.1`,
/// `gdpr:Art. 17`): what maps to it or from it.
///
/// # Errors
///
/// When the query names no control or node, or names nodes in several frameworks.
pub fn crosswalk(query: &str) -> Result<Crosswalk<'static>> {
    registry().crosswalk(query)
}
