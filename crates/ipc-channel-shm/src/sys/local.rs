//! In-process backend: segment memory on the heap, sleeping on a condition
//! variable. Both endpoints live in one process and share one `Signal`.
//! This is what Miri and loom run, and what `Segment::in_process` offers.

use crate::sync::{AtomicU32, Condvar, Mutex, Ordering};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::time::Duration;

/// Zeroed heap memory aligned like a mapped segment.
#[derive(Debug)]
pub(crate) struct HeapMemory {
    ptr: *mut u8,
    layout: Layout,
}

impl HeapMemory {
    pub(crate) fn new(len: usize) -> HeapMemory {
        let layout =
            Layout::from_size_align(len.max(1), crate::layout::LINE).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        HeapMemory { ptr, layout }
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for HeapMemory {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; dropped once.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

/// A sleep word's partner in one process: a mutex and a condition variable.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    lock: Mutex<()>,
    cond: Condvar,
}

impl Signal {
    /// Blocks while `word == expected`, at most `timeout` (loom has no clocks:
    /// there the wait lasts until a wake-up).
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration) {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `wake` takes: a wake-up between this
        // check and the wait below cannot be lost.
        if word.load(Ordering::SeqCst) != expected {
            return;
        }
        #[cfg(loom)]
        {
            let _ = timeout;
            drop(self.cond.wait(guard));
        }
        #[cfg(not(loom))]
        drop(self.cond.wait_timeout(guard, timeout));
    }

    /// Wakes the waiter, if any. The caller has changed the word first.
    pub(crate) fn wake(&self) {
        drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        self.cond.notify_all();
    }
}
