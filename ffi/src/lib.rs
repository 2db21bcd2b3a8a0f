//! `libipc`: the C ABI of the three layers, for C and C++ hosts and plugins
//! (`include/ipc.h`, generated from this crate by `cargo xtask codegen`, and
//! `include/ipc.hpp`, a C++17 layer over it).
//!
//! Every layer is usable on its own: [`channel`] and [`region`] (Layer I:
//! segments of byte channels, plain shared regions), [`message`] (Layer II:
//! framed MessagePack messages over a channel, encoded straight into the
//! ring and decoded straight out of it),
//! [`link`] and [`rt`] (Layer III: host and plugin, main link, real-time
//! link, audio buffers). The conventions are rustls-ffi's:
//!
//! * every name starts with `ipc_`; handles are opaque; what the caller owns
//!   comes from a `_new`-like call and goes back through its `_free`, which
//!   takes NULL as a no-op;
//! * every fallible call returns an `ipc_result` (`IPC_OK` = 0, stable
//!   numbers, `ipc_result_str` names each; `ipc_last_error` describes the
//!   last failure of the thread); out-parameters end in `_out` and are
//!   written only on success;
//! * every pointer argument is checked for NULL (`IPC_NULL_ARGUMENT`) before
//!   anything else happens; `user` pointers are passed through untouched;
//! * no panic crosses the boundary (`IPC_PANIC`), and nothing here decides
//!   behaviour: every function is a thin mirror of the Rust API it names;
//! * timeouts are `uint64_t` nanoseconds: `IPC_FOREVER` waits as long as it
//!   takes, 0 never waits;
//! * each function says whether it is thread-safe and real-time safe.

// The C names (`ipc_result`, `ipc_encode_fn`, ...) are the interface.
#![allow(non_camel_case_types)]

mod boundary;
pub mod channel;
pub mod link;
pub mod message;
pub mod region;
pub mod rt;

pub use boundary::{ipc_last_error, ipc_result, ipc_result_str, IPC_FOREVER};
