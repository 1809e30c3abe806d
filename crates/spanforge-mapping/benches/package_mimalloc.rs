//! The evidence-package bench of `benches/package.rs`, run with mimalloc as the global
//! allocator, as the `spanforge` binary runs it.
//!
//! The library never sets a global allocator; a binary may, and the CLI does. Run it beside
//! `--bench package`, with the same variables:
//! `SPANFORGE_BENCH_ONCE=1 SPANFORGE_BENCH_EVENTS=1000000 cargo bench -p spanforge-mapping --bench package_mimalloc`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "package.rs"]
mod package;

fn main() {
    package::main();
}
