//! What the tests of the ipc crates share with the peer programs they start
//! (`ipc-shm-peer`, `ipc-msgpack-peer`, `ipc-link-test-plugin`,
//! `ipc-campaign-peer`, the binaries of this package) and with each other.
//! Not published: nothing here is API.
//!
//! * [`campaign`]: the protocol of the kill campaign and its peer;
//! * [`counting`]: a global allocator that counts the allocations of the
//!   threads that ask, for the "allocates nothing" claims;
//! * [`shapes`]: the message types of the Layer II tests and their peer;
//! * [`link_protocol`]: the protocol the Layer III tests speak to their
//!   plugin;
//! * [`process`]: starting a peer with piped standard streams and following
//!   what it says, line by line;
//! * [`raw`]: a segment's memory mapped behind the library's back, as a
//!   hostile peer sees it;
//! * [`hostile`]: what `ipc-hostile-peer` and its tests share (a seeded
//!   random generator, the words of its reports);
//! * [`wire`]: the message set and hostile payloads the C++ layer is
//!   checked against (`ipc-wire-vectors`, `tests/cpp_layer.rs`).
//!
//! The process tests are in `tests/`; each finds its peer program through
//! `CARGO_BIN_EXE_<name>`, or through an environment variable naming another
//! build of it (a 32-bit one, say: see [`process::program`]).

pub mod campaign;
pub mod counting;
pub mod hostile;
pub mod link_protocol;
pub mod process;
pub mod raw;
pub mod shapes;
pub mod wire;

use std::time::Duration;

/// A bound no correct run ever reaches: a wait that ends by it instead of
/// by what it waited for makes the test fail rather than hang.
pub const NEVER: Duration = Duration::from_secs(60);
