//! `cargo +nightly fuzz run decode`: arbitrary bytes as a stream of
//! enveloped MessagePack messages, decoded from a slice and from a stream as
//! one of several message types, every decoded value round-tripped through
//! the encoder. See `src/lib.rs` for what counts as a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ipc_msgpack_fuzz::check(data);
});
