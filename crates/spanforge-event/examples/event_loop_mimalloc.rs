//! `event_loop` with mimalloc as the global allocator, to count what a faster allocator saves per event:
//!
//! ```text
//! cargo build --release -p spanforge-event --example event_loop_mimalloc
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/event_loop_mimalloc span_552b 1000
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    common::main_with_args();
}
