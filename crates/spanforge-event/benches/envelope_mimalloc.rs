//! The envelope bench groups of `benches/envelope.rs`, run with mimalloc as the global allocator.
//!
//! The library never sets a global allocator; a binary such as the CLI may. This bench shows what that choice is
//! worth: run it beside `--bench envelope` (`cargo bench -p spanforge-event --bench envelope_mimalloc`).

use criterion::criterion_main;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/mod.rs"]
mod common;
#[path = "groups/mod.rs"]
mod groups;

// The macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::groups::envelope);
}
use group::benches;

criterion_main!(benches);
