//! `write_loop` with mimalloc as the global allocator, to measure what a faster allocator saves
//! on the write path (a binary may choose one; the library never does):
//!
//! ```text
//! cargo build --release -p spanforge-store --example write_loop_mimalloc
//! target/release/examples/write_loop_mimalloc time seal 30
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "write_loop.rs"]
mod write_loop;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    write_loop::main()
}
