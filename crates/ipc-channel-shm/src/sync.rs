//! The loom seam: every atomic, lock and spin hint of the crate comes from
//! here, so that `RUSTFLAGS="--cfg loom"` model-checks the real protocol code.
//! `cargo xtask seams` (a CI step) fails if any other file of the crate names
//! `std::sync::atomic`, `std::sync::Mutex` or `std::sync::Condvar`.

#[cfg(loom)]
pub(crate) use loom::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering},
    sync::{Condvar, Mutex},
};

#[cfg(not(loom))]
pub(crate) use std::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering},
    sync::{Condvar, Mutex},
};

/// Asks the CPU to start fetching the cache line at `p` (a hint: no access
/// in the memory model, never a fault, whatever `p` is). A spinning reader
/// names the line its next message will land in, so that when the writer's
/// index changes the message's line is already on its way instead of being
/// missed only then. Nothing where the architecture has no stable hint, and
/// under loom and Miri.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(all(target_arch = "x86_64", not(loom), not(miri)))]
    // SAFETY: `prefetcht0` reads nothing the program can observe and does
    // not fault on any address; SSE is part of x86_64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom), not(miri))))]
    let _ = p;
}
