//! The loom seam: every atomic, lock and spin hint of the crate comes from
//! here, so that `RUSTFLAGS="--cfg loom"` model-checks the real protocol code.

#[cfg(loom)]
pub(crate) use loom::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicU32, AtomicU64, Ordering},
    sync::{Condvar, Mutex},
};

#[cfg(not(loom))]
pub(crate) use std::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicU32, AtomicU64, Ordering},
    sync::{Condvar, Mutex},
};
