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
