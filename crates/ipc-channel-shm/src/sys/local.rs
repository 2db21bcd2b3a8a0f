//! In-process backend: memory on the heap, sleeping on a condition variable.
//! Both endpoints live in one process. Memory and signals made by `create`
//! are found by `open` through a registry keyed by name, so a "peer" in
//! another thread opens a segment by its connection string exactly as a
//! peer process would. This is what `Segment::in_process`, Miri and loom
//! use.

use super::{Backend, DeathWatch, NoDeathWatch, SharedMemory, Slot, WaitWord, WatchPeer};
use crate::sync::{AtomicU32, Condvar, Mutex, Ordering};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// The in-process backend.
#[derive(Debug)]
pub(crate) struct Local;

/// Under Miri and loom the in-process backend is also the "system" one.
#[cfg(any(loom, miri))]
pub(crate) type Os = Local;

impl Backend for Local {
    type Memory = HeapMemory;
    type Signal = Signal;
    type Peer = SameProcess;
    type DeathWatch = NoDeathWatch;
}

/// What `open` can find: memory blocks and signals by name. A plain std
/// mutex (the one exception to the loom seam, allowed by `cargo xtask
/// seams`): the registry is touched only when segments are made or opened,
/// never by the protocol that loom checks.
type Registry<T> = std::sync::Mutex<Option<HashMap<String, Arc<T>>>>; // seam: registry

static MEMORY: Registry<Block> = Registry::new(None);
static SIGNALS: Registry<Pair> = Registry::new(None);

fn register<T>(registry: &Registry<T>, key: String, value: &Arc<T>) -> io::Result<()> {
    let mut map = registry.lock().unwrap_or_else(|e| e.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if map.contains_key(&key) {
        return Err(io::ErrorKind::AlreadyExists.into());
    }
    map.insert(key, Arc::clone(value));
    Ok(())
}

fn find<T>(registry: &Registry<T>, key: &str) -> io::Result<Arc<T>> {
    let map = registry.lock().unwrap_or_else(|e| e.into_inner());
    map.as_ref()
        .and_then(|m| m.get(key).cloned())
        .ok_or_else(|| io::ErrorKind::NotFound.into())
}

fn forget<T>(registry: &Registry<T>, key: &str) {
    let mut map = registry.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = map.as_mut() {
        m.remove(key);
    }
}

/// Zeroed heap memory aligned like a mapped segment.
#[derive(Debug)]
struct Block {
    ptr: *mut u8,
    layout: Layout,
}

// SAFETY: plain memory; all access to it goes through atomics or copies whose
// ordering the channel protocol establishes.
unsafe impl Send for Block {}
// SAFETY: as above.
unsafe impl Sync for Block {}

impl Block {
    fn new(len: usize) -> Block {
        let layout =
            Layout::from_size_align(len.max(1), crate::layout::LINE).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Block { ptr, layout }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; dropped once.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

/// A handle to a block of heap memory, shared by its creator and openers.
#[derive(Debug)]
pub(crate) struct HeapMemory {
    block: Arc<Block>,
    len: usize,
    /// The registry name, for the creator (empty for an opener and for
    /// anonymous memory).
    name: String,
}

impl HeapMemory {
    /// Memory with no name: nothing can open it.
    pub(crate) fn anonymous(len: usize) -> HeapMemory {
        HeapMemory {
            block: Arc::new(Block::new(len)),
            len,
            name: String::new(),
        }
    }
}

impl SharedMemory for HeapMemory {
    fn create(name: &str, len: usize) -> io::Result<(Self, String)> {
        let block = Arc::new(Block::new(len));
        register(&MEMORY, name.to_owned(), &block)?;
        let memory = HeapMemory {
            block,
            len,
            name: name.to_owned(),
        };
        Ok((memory, name.to_owned()))
    }

    fn open(connection: &str) -> io::Result<(Self, String)> {
        let block = find(&MEMORY, connection)?;
        let len = block.layout.size();
        let memory = HeapMemory {
            block,
            len,
            name: String::new(),
        };
        Ok((memory, connection.to_owned()))
    }

    /// The same memory: the heap cannot be protected per mapping (callers
    /// keep to reading all the same).
    fn open_read_only(connection: &str) -> io::Result<(Self, String)> {
        Self::open(connection)
    }

    fn as_ptr(&self) -> *mut u8 {
        self.block.ptr
    }

    fn len(&self) -> usize {
        self.len
    }

    fn lock_range(&self, _offset: usize, _len: usize) -> io::Result<()> {
        Ok(())
    }

    fn withdraw(&self) -> io::Result<()> {
        if !self.name.is_empty() {
            forget(&MEMORY, &self.name);
        }
        Ok(())
    }
}

impl Drop for HeapMemory {
    fn drop(&mut self) {
        // The creator's memory is found by name only while it lives.
        let _ = self.withdraw();
    }
}

/// Whether `s` could name in-process memory.
#[cfg(any(loom, miri))]
pub(crate) fn is_connection_string(s: &str) -> bool {
    super::is_name(s)
}

/// A sleep word's partner in one process: a mutex and a condition variable.
#[derive(Debug, Default)]
pub(crate) struct Pair {
    lock: Mutex<()>,
    cond: Condvar,
}

/// A handle to the partner of one sleep word.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    pair: Arc<Pair>,
    /// The registry key, for the creator until an opener took it.
    key: Option<String>,
}

fn signal_key(name: &str, channel: usize, slot: Slot) -> String {
    format!("{name}-{channel}-{}", slot.index())
}

impl WaitWord for Signal {
    type Peer = SameProcess;

    fn create(name: &str, channel: usize, slot: Slot) -> io::Result<Self> {
        let pair = Arc::new(Pair::default());
        let mut key = None;
        if !name.is_empty() {
            let k = signal_key(name, channel, slot);
            register(&SIGNALS, k.clone(), &pair)?;
            key = Some(k);
        }
        Ok(Signal { pair, key })
    }

    fn open(name: &str, channel: usize, slot: Slot) -> io::Result<Self> {
        let key = signal_key(name, channel, slot);
        let pair = find(&SIGNALS, &key)?;
        // One opener per segment: the name has served its purpose.
        forget(&SIGNALS, &key);
        Ok(Signal { pair, key: None })
    }

    /// Blocks while `word == expected`, at most `timeout` (loom has no clocks:
    /// there the wait lasts until a wake-up).
    fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Duration,
        _peer: Option<&SameProcess>,
    ) {
        let guard = self.pair.lock.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `wake` takes: a wake-up between this
        // check and the wait below cannot be lost.
        if word.load(Ordering::SeqCst) != expected {
            return;
        }
        #[cfg(loom)]
        {
            let _ = timeout;
            drop(self.pair.cond.wait(guard));
        }
        #[cfg(not(loom))]
        drop(self.pair.cond.wait_timeout(guard, timeout));
    }

    fn wake(&self, _word: &AtomicU32) {
        drop(self.pair.lock.lock().unwrap_or_else(|e| e.into_inner()));
        self.pair.cond.notify_all();
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // An unopened signal of a dropped segment is not found any more.
        if let Some(key) = &self.key {
            let mut map = SIGNALS.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(m) = map.as_mut() {
                if m.get(key).is_some_and(|p| Arc::ptr_eq(p, &self.pair)) {
                    m.remove(key);
                }
            }
        }
    }
}

/// Both ends run in this process: the peer is alive as long as we are.
#[derive(Debug)]
pub(crate) struct SameProcess;

impl WatchPeer for SameProcess {
    fn new(pid: u32) -> Option<Self> {
        (pid == std::process::id()).then_some(SameProcess)
    }

    fn is_alive(&mut self) -> bool {
        true
    }
}

const _: fn() = || {
    fn is_backend<B: Backend>() {}
    is_backend::<Local>();
    fn is_death_watch<D: DeathWatch>() {}
    is_death_watch::<NoDeathWatch>();
};
