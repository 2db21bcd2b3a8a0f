//! A plain shared region: bytes that two processes map, with no ring and no
//! protocol of its own. Upper layers put audio buffers in one and order
//! access to it through a channel (a committed request or reply carries the
//! release/acquire edge that makes the region's contents visible).

use crate::layout::LINE;
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::sys::{self, local, Backend, Memory, SharedMemory};
use crate::Error;
use std::fmt;
use std::sync::Arc;

/// `b"ipc-rgn\0"` read as a little-endian `u64`.
const REGION_MAGIC: u64 = u64::from_le_bytes(*b"ipc-rgn\0");
const REGION_VERSION: u32 = 1;
/// The region's data starts one line after the mapping's start.
const HEADER: usize = LINE;

/// Laid out like the start of a segment header (the total size at offset 16
/// is what the Windows backend reads to learn a mapping's exact length).
#[repr(C)]
struct RegionHeader {
    magic: AtomicU64,
    version: AtomicU32,
    header_size: AtomicU32,
    total_size: AtomicU64,
    data_len: AtomicU64,
    /// Set by the one opener (Windows names cannot be removed early).
    attached: AtomicU32,
}

#[derive(Debug)]
struct Inner {
    memory: Memory,
    connection: Option<String>,
    data_len: usize,
    /// Mapped read-only (by [`Region::open_read_only`]).
    read_only: bool,
}

// SAFETY: the region only hands out raw pointers, whose use the caller
// synchronises; the mapping and the heap block are plain memory.
unsafe impl Send for Inner {}
// SAFETY: as above.
unsafe impl Sync for Inner {}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.memory.withdraw();
    }
}

/// A block of shared memory without a ring, for data whose access the two
/// sides order by other means (audio buffers handed over by a real-time
/// call). Created, opened, permission-checked, withdrawn and locked in
/// memory like a [`Segment`](crate::Segment).
///
/// The contents are plain bytes that the peer may change at any time: treat
/// them as untrusted input.
#[derive(Clone)]
pub struct Region {
    inner: Arc<Inner>,
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("connection", &self.inner.connection)
            .field("len", &self.inner.data_len)
            .finish()
    }
}

fn initialise(base: *mut u8, data_len: usize) {
    // SAFETY: `base` is fresh, zeroed, exclusively ours and at least HEADER
    // bytes long; the header is written before anyone else can see it.
    unsafe {
        let h = base.cast::<RegionHeader>();
        h.write(RegionHeader {
            magic: AtomicU64::new(0),
            version: AtomicU32::new(REGION_VERSION),
            header_size: AtomicU32::new(HEADER as u32),
            total_size: AtomicU64::new((HEADER + data_len) as u64),
            data_len: AtomicU64::new(data_len as u64),
            attached: AtomicU32::new(0),
        });
        (*h).magic.store(REGION_MAGIC, Ordering::Release);
    }
}

impl Region {
    /// Creates a zero-filled region of `len` data bytes in the system's
    /// shared memory.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a length of 0 or above 1 GiB,
    /// [`Error::Os`] if the system refuses.
    pub fn create(len: usize) -> Result<Region, Error> {
        Self::create_in::<sys::Os>(len, Memory::Os)
    }

    /// Like [`create`](Region::create), in this process's heap, with a
    /// connection string [`open_in_process`](Region::open_in_process) takes.
    ///
    /// # Errors
    /// As for [`create`](Region::create).
    pub fn create_in_process_named(len: usize) -> Result<Region, Error> {
        Self::create_in::<local::Local>(len, Memory::Local)
    }

    fn create_in<B: Backend>(
        len: usize,
        wrap: impl FnOnce(B::Memory) -> Memory,
    ) -> Result<Region, Error> {
        check_len(len)?;
        let (memory, _name, connection) = sys::create_named::<B::Memory>(HEADER + len)?;
        initialise(memory.as_ptr(), len);
        let memory = wrap(memory);
        lock(&memory, len);
        Ok(Region {
            inner: Arc::new(Inner {
                memory,
                connection: Some(connection),
                data_len: len,
                read_only: false,
            }),
        })
    }

    /// Opens a region by its connection string.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed string, [`Error::Corrupted`]
    /// for a bad header, [`Error::AlreadyClaimed`] if another process opened
    /// it, [`Error::Os`] if it does not exist (any more) or is not private.
    pub fn open(connection: &str) -> Result<Region, Error> {
        if !sys::is_connection_string(connection) {
            return Err(Error::InvalidArgument("not a region connection string"));
        }
        Self::open_in::<sys::Os>(connection, Memory::Os, false)
    }

    /// Opens a region by its connection string for reading only: the
    /// mapping is read-only (a write through [`as_ptr`](Region::as_ptr)
    /// faults), and the region is not claimed, so the creator can also hand
    /// it to a read-write opener. For data one side publishes and the other
    /// only reads (LMMS's tempo and position block).
    ///
    /// # Errors
    /// As for [`open`](Region::open), without [`Error::AlreadyClaimed`].
    pub fn open_read_only(connection: &str) -> Result<Region, Error> {
        if !sys::is_connection_string(connection) {
            return Err(Error::InvalidArgument("not a region connection string"));
        }
        Self::open_in::<sys::Os>(connection, Memory::Os, true)
    }

    /// Opens a region made by [`create_in_process_named`](Region::create_in_process_named).
    ///
    /// # Errors
    /// As for [`open`](Region::open).
    pub fn open_in_process(connection: &str) -> Result<Region, Error> {
        if !sys::is_name(connection) {
            return Err(Error::InvalidArgument("not a region connection string"));
        }
        Self::open_in::<local::Local>(connection, Memory::Local, false)
    }

    fn open_in<B: Backend>(
        connection: &str,
        wrap: impl FnOnce(B::Memory) -> Memory,
        read_only: bool,
    ) -> Result<Region, Error> {
        let (memory, _name) = if read_only {
            B::Memory::open_read_only(connection)?
        } else {
            B::Memory::open(connection)?
        };
        let memory = wrap(memory);
        if memory.len() < HEADER {
            return Err(Error::Corrupted("region smaller than its header"));
        }
        // SAFETY: the mapping holds at least a header; all fields are atomics.
        let h = unsafe { &*memory.as_ptr().cast::<RegionHeader>() };
        if h.magic.load(Ordering::Acquire) != REGION_MAGIC {
            return Err(Error::Corrupted("bad region magic"));
        }
        let version = h.version.load(Ordering::Relaxed);
        if version != REGION_VERSION {
            return Err(Error::VersionMismatch {
                ours: REGION_VERSION,
                theirs: version,
            });
        }
        let data_len = h.data_len.load(Ordering::Relaxed);
        if h.header_size.load(Ordering::Relaxed) as usize != HEADER
            || h.total_size.load(Ordering::Relaxed) != memory.len() as u64
            || data_len == 0
            || data_len > (memory.len() - HEADER) as u64
        {
            return Err(Error::Corrupted("region size out of range"));
        }
        // A read-only mapping cannot claim (it cannot write), nor harm the
        // region: any number of readers may look.
        if !read_only {
            h.attached
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
                .map_err(|_| Error::AlreadyClaimed)?;
        }
        lock(&memory, data_len as usize);
        Ok(Region {
            inner: Arc::new(Inner {
                memory,
                connection: Some(connection.to_owned()),
                data_len: data_len as usize,
                read_only,
            }),
        })
    }

    /// A region on this process's heap (tests, Miri, single-process use).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a length of 0 or above 1 GiB.
    pub fn in_process(len: usize) -> Result<Region, Error> {
        check_len(len)?;
        let memory = local::HeapMemory::anonymous(HEADER + len);
        initialise(memory.as_ptr(), len);
        Ok(Region {
            inner: Arc::new(Inner {
                memory: Memory::Local(memory),
                connection: None,
                data_len: len,
                read_only: false,
            }),
        })
    }

    /// Makes the region impossible to open from now on (once the peer has
    /// opened it; done anyway when the creator drops it). Mappings stay
    /// valid.
    ///
    /// # Errors
    /// [`Error::Os`] if the system refuses.
    pub fn withdraw(&self) -> Result<(), Error> {
        self.inner.memory.withdraw().map_err(Error::from)
    }

    /// The string [`Region::open`] takes; `None` for an in-process region.
    pub fn connection_string(&self) -> Option<&str> {
        self.inner.connection.as_deref()
    }

    /// Data bytes in the region (as created; never re-read from the header).
    pub fn len(&self) -> usize {
        self.inner.data_len
    }

    /// Always false: a region holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether this mapping is read-only ([`open_read_only`](Region::open_read_only)).
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The first data byte, aligned to 128 bytes. Valid for [`len`](Region::len)
    /// bytes for as long as any clone of this `Region` lives; only for
    /// reading if the region [`is_read_only`](Region::is_read_only).
    pub fn as_ptr(&self) -> *mut u8 {
        // SAFETY: the header is HEADER bytes long and the mapping holds
        // HEADER + data_len bytes.
        unsafe { self.inner.memory.as_ptr().add(HEADER) }
    }
}

fn check_len(len: usize) -> Result<(), Error> {
    if len == 0 || len > crate::MAX_CAPACITY {
        return Err(Error::InvalidArgument("a region holds 1 byte to 1 GiB"));
    }
    Ok(())
}

fn lock(memory: &Memory, len: usize) {
    if matches!(memory, Memory::Local(_)) {
        return;
    }
    if let Err(e) = memory.lock() {
        log::warn!("could not lock a {len}-byte shared region in RAM ({e})");
    }
}
