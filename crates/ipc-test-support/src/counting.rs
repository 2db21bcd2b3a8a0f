//! A global allocator that counts the heap allocations of the threads that
//! ask for it: the test plugin's serving thread, and the real-time paths of
//! the allocation tests. A program installs it, then counts:
//!
//! ```
//! use ipc_test_support::counting::{allocations_in, Counting};
//!
//! #[global_allocator]
//! static GLOBAL: Counting = Counting;
//!
//! let mut v = Vec::with_capacity(4);
//! assert_eq!(allocations_in(|| v.push(1u8)), 0);
//! assert_eq!(allocations_in(|| v.extend([2u8; 100])), 1);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Forwards to the system allocator, counting allocations (and
/// reallocations) made by threads that called [`count_this_thread`].
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static THIS_THREAD: Cell<u64> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}
static ALL_THREADS: AtomicU64 = AtomicU64::new(0);

/// Starts or stops counting this thread's allocations.
pub fn count_this_thread(on: bool) {
    COUNTING.with(|c| c.set(on));
}

/// Allocations counted so far, over all counting threads (for a count kept
/// on one thread and reported from another).
pub fn allocations() -> u64 {
    ALL_THREADS.load(Ordering::Relaxed)
}

/// Allocations this thread made while `f` ran. Other threads, counting or
/// not, do not disturb the number (tests run in parallel).
pub fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = THIS_THREAD.with(Cell::get);
    let was = COUNTING.with(|c| c.replace(true));
    f();
    COUNTING.with(|c| c.set(was));
    THIS_THREAD.with(Cell::get) - before
}

/// The largest single allocation (or reallocation) this thread made while
/// `f` ran, in bytes: what a claimed length could make it reserve.
pub fn largest_allocation_in(f: impl FnOnce()) -> usize {
    let was = COUNTING.with(|c| c.replace(true));
    let before = LARGEST.with(|l| l.replace(0));
    f();
    COUNTING.with(|c| c.set(was));
    let largest = LARGEST.with(Cell::get);
    LARGEST.with(|l| l.set(before.max(largest)));
    largest
}

fn note(size: usize) {
    if COUNTING.with(Cell::get) {
        THIS_THREAD.with(|n| n.set(n.get() + 1));
        LARGEST.with(|l| l.set(l.get().max(size)));
        ALL_THREADS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator; the counters are const-initialised
// thread-local `Cell`s without destructors and a static atomic, none of which
// allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        note(size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, size) }
    }
}
