//! The `#[repr(C)]` structures placed in shared memory, byte for byte as
//! `docs/PROTOCOL.md` describes them, and the checks applied when a segment is
//! opened.
//!
//! Every field is an atomic: the peer may change any of them at any time, so no
//! plain Rust reference to peer-writable data is ever formed. The layout is the
//! same for 32-bit and 64-bit processes (`AtomicU64` is 8-byte aligned on every
//! supported target, and all padding is explicit); the `const` assertions below
//! pin every offset.

use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::Error;

/// `b"ipc-shm\0"` read as a little-endian `u64`.
pub(crate) const SEGMENT_MAGIC: u64 = u64::from_le_bytes(*b"ipc-shm\0");
/// Protocol version of the segment and ring layout; bumped on any change.
pub(crate) const LAYOUT_VERSION: u32 = 1;
/// `b"chan"` read as a little-endian `u32`.
pub(crate) const CHANNEL_MAGIC: u32 = u32::from_le_bytes(*b"chan");
/// Every structure starts on a 128-byte boundary: two cache lines, so that the
/// adjacent-line prefetcher of x86 does not couple writer and reader fields.
pub(crate) const LINE: usize = 128;
/// Largest number of channels in one segment.
pub const MAX_CHANNELS: usize = 64;
/// Smallest ring capacity in bytes.
pub const MIN_CAPACITY: usize = 64;
/// Largest ring capacity in bytes (1 GiB).
pub const MAX_CAPACITY: usize = 1 << 30;

/// Value of a sleep word while its owner is (about to be) blocked on it.
pub(crate) const SLEEPING: u32 = 1;
/// Value of a sleep word otherwise.
pub(crate) const AWAKE: u32 = 0;

/// Endpoint state bits (`writer_state`, `reader_state`).
pub(crate) const STATE_CLAIMED: u32 = 1;
pub(crate) const STATE_CLOSED: u32 = 2;

/// Explicit padding. It is never read; `UnsafeCell` says that the peer may
/// write it even while a shared reference to the enclosing struct exists.
#[repr(transparent)]
pub(crate) struct Pad<const N: usize>(core::cell::UnsafeCell<[u8; N]>);

impl<const N: usize> Pad<N> {
    const fn zero() -> Self {
        Pad(core::cell::UnsafeCell::new([0; N]))
    }
}

/// The first 128 bytes of a segment, followed by the channel table.
#[repr(C)]
pub(crate) struct SegmentHeader {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    /// Size of this header plus the channel table, rounded up to [`LINE`].
    pub header_size: AtomicU32,
    pub segment_size: AtomicU64,
    pub channel_count: AtomicU32,
    /// `size_of::<ChannelHeader>()`, so that a peer built with another layout
    /// is refused rather than misread.
    pub channel_header_size: AtomicU32,
    pub creator_pid: AtomicU32,
    pub opener_pid: AtomicU32,
    pub attach_count: AtomicU32,
    _reserved: Pad<84>,
}

/// One row of the channel table that follows the segment header.
#[repr(C)]
pub(crate) struct ChannelEntry {
    /// Offset of the channel header from the start of the segment.
    pub offset: AtomicU64,
    /// Ring capacity in bytes (a power of two).
    pub capacity: AtomicU64,
}

/// The control block of one channel; its ring data follows it directly.
#[repr(C)]
pub(crate) struct ChannelHeader {
    // Line 0: read-mostly. Written once by the creator, then only when an
    // endpoint is claimed or closed.
    pub magic: AtomicU32,
    pub index: AtomicU32,
    pub capacity: AtomicU64,
    pub writer_state: AtomicU32,
    pub writer_pid: AtomicU32,
    pub reader_state: AtomicU32,
    pub reader_pid: AtomicU32,
    _pad0: Pad<96>,
    // Line 1: written by the writer only.
    /// Free-running count of bytes the writer has published.
    pub write_pos: AtomicU64,
    _pad1: Pad<120>,
    // Line 2: written by the reader only.
    /// Free-running count of bytes the reader has consumed.
    pub read_pos: AtomicU64,
    _pad2: Pad<120>,
    // Line 3: the reader sleeps on this word; the writer clears it to wake it.
    pub reader_sleep: AtomicU32,
    _pad3: Pad<124>,
    // Line 4: the writer sleeps on this word; the reader clears it to wake it.
    pub writer_sleep: AtomicU32,
    _pad4a: Pad<4>,
    /// Free bytes the sleeping writer needs before it is worth waking.
    pub space_wanted: AtomicU64,
    _pad4: Pad<112>,
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<SegmentHeader>() == LINE);
    assert!(offset_of!(SegmentHeader, version) == 8);
    assert!(offset_of!(SegmentHeader, header_size) == 12);
    assert!(offset_of!(SegmentHeader, segment_size) == 16);
    assert!(offset_of!(SegmentHeader, channel_count) == 24);
    assert!(offset_of!(SegmentHeader, channel_header_size) == 28);
    assert!(offset_of!(SegmentHeader, creator_pid) == 32);
    assert!(offset_of!(SegmentHeader, opener_pid) == 36);
    assert!(offset_of!(SegmentHeader, attach_count) == 40);
    assert!(size_of::<ChannelEntry>() == 16);
    assert!(size_of::<ChannelHeader>() == 5 * LINE);
    assert!(offset_of!(ChannelHeader, index) == 4);
    assert!(offset_of!(ChannelHeader, capacity) == 8);
    assert!(offset_of!(ChannelHeader, writer_state) == 16);
    assert!(offset_of!(ChannelHeader, writer_pid) == 20);
    assert!(offset_of!(ChannelHeader, reader_state) == 24);
    assert!(offset_of!(ChannelHeader, reader_pid) == 28);
    assert!(offset_of!(ChannelHeader, write_pos) == LINE);
    assert!(offset_of!(ChannelHeader, read_pos) == 2 * LINE);
    assert!(offset_of!(ChannelHeader, reader_sleep) == 3 * LINE);
    assert!(offset_of!(ChannelHeader, writer_sleep) == 4 * LINE);
    assert!(offset_of!(ChannelHeader, space_wanted) == 4 * LINE + 8);
};

/// Generates a constructor that zeroes every field, so that the struct can be
/// written in place whatever `crate::sync` atomics are (core or loom).
macro_rules! zeroed_atomics {
    ($($field:ident : $kind:ident $([$n:literal])?),* $(,)?) => {
        Self { $($field: zeroed_atomics!(@one $kind $([$n])?)),* }
    };
    (@one u32) => { AtomicU32::new(0) };
    (@one u64) => { AtomicU64::new(0) };
    (@one pad) => { Pad::zero() };
}

impl SegmentHeader {
    pub(crate) fn zeroed() -> Self {
        zeroed_atomics!(
            magic: u64, version: u32, header_size: u32, segment_size: u64,
            channel_count: u32, channel_header_size: u32, creator_pid: u32,
            opener_pid: u32, attach_count: u32, _reserved: pad,
        )
    }
}

impl ChannelEntry {
    pub(crate) fn zeroed() -> Self {
        zeroed_atomics!(offset: u64, capacity: u64)
    }
}

impl ChannelHeader {
    pub(crate) fn zeroed() -> Self {
        zeroed_atomics!(
            magic: u32, index: u32, capacity: u64, writer_state: u32,
            writer_pid: u32, reader_state: u32, reader_pid: u32, _pad0: pad,
            write_pos: u64, _pad1: pad,
            read_pos: u64, _pad2: pad,
            reader_sleep: u32, _pad3: pad,
            writer_sleep: u32, _pad4a: pad, space_wanted: u64, _pad4: pad,
        )
    }
}

/// Rounds `n` up to a multiple of [`LINE`], or `None` on overflow.
pub(crate) fn align_line(n: u64) -> Option<u64> {
    n.checked_add(LINE as u64 - 1)
        .map(|v| v & !(LINE as u64 - 1))
}

/// Bytes taken by the segment header and a table of `channels` entries.
pub(crate) fn header_size(channels: usize) -> u64 {
    let raw =
        core::mem::size_of::<SegmentHeader>() + channels * core::mem::size_of::<ChannelEntry>();
    align_line(raw as u64).expect("small")
}

/// Bytes taken by one channel (control block and ring) of `capacity` bytes.
pub(crate) fn channel_size(capacity: u64) -> Option<u64> {
    align_line((core::mem::size_of::<ChannelHeader>() as u64).checked_add(capacity)?)
}

/// Where one channel lives inside a mapped segment, validated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelGeometry {
    /// Offset of the [`ChannelHeader`] from the segment start.
    pub offset: usize,
    /// Ring capacity (power of two).
    pub capacity: usize,
}

/// Computes the geometry of a new segment holding rings of `capacities`.
pub(crate) fn plan(capacities: &[usize]) -> Result<(Vec<ChannelGeometry>, usize), Error> {
    if capacities.is_empty() || capacities.len() > MAX_CHANNELS {
        return Err(Error::InvalidArgument("a segment holds 1 to 64 channels"));
    }
    let mut offset = header_size(capacities.len());
    let mut out = Vec::with_capacity(capacities.len());
    for &cap in capacities {
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) || !cap.is_power_of_two() {
            return Err(Error::InvalidArgument(
                "a ring capacity is a power of two from 64 bytes to 1 GiB",
            ));
        }
        out.push(ChannelGeometry {
            offset: usize::try_from(offset)
                .map_err(|_| Error::InvalidArgument("segment too large"))?,
            capacity: cap,
        });
        offset = offset
            .checked_add(channel_size(cap as u64).expect("bounded"))
            .ok_or(Error::InvalidArgument("segment too large"))?;
    }
    let total = usize::try_from(offset).map_err(|_| Error::InvalidArgument("segment too large"))?;
    Ok((out, total))
}

/// Writes the headers of a new segment into zeroed memory.
///
/// # Safety
/// `base` points to `total` writable bytes, aligned to [`LINE`], that no other
/// process or thread accesses yet; `geometry` and `total` come from [`plan`].
pub(crate) unsafe fn initialise(
    base: *mut u8,
    total: usize,
    geometry: &[ChannelGeometry],
    creator_pid: u32,
) {
    let header = base.cast::<SegmentHeader>();
    // SAFETY: the caller guarantees exclusive access to `total` aligned bytes,
    // and `total` is at least `header_size(geometry.len())`.
    unsafe { header.write(SegmentHeader::zeroed()) };
    for (i, g) in geometry.iter().enumerate() {
        // SAFETY: the table follows the header inside `header_size`, and each
        // channel block lies inside `total` by construction of `plan`.
        unsafe {
            let entry = base
                .add(core::mem::size_of::<SegmentHeader>())
                .cast::<ChannelEntry>()
                .add(i);
            entry.write(ChannelEntry::zeroed());
            (*entry).offset.store(g.offset as u64, Ordering::Relaxed);
            (*entry)
                .capacity
                .store(g.capacity as u64, Ordering::Relaxed);
            let ch = base.add(g.offset).cast::<ChannelHeader>();
            ch.write(ChannelHeader::zeroed());
            (*ch).index.store(i as u32, Ordering::Relaxed);
            (*ch).capacity.store(g.capacity as u64, Ordering::Relaxed);
            (*ch).magic.store(CHANNEL_MAGIC, Ordering::Relaxed);
        }
    }
    // SAFETY: as above; the magic is stored last (Release) so that an opener
    // that sees it also sees every other field.
    unsafe {
        let h = &*header;
        h.version.store(LAYOUT_VERSION, Ordering::Relaxed);
        h.header_size
            .store(header_size(geometry.len()) as u32, Ordering::Relaxed);
        h.segment_size.store(total as u64, Ordering::Relaxed);
        h.channel_count
            .store(geometry.len() as u32, Ordering::Relaxed);
        h.channel_header_size.store(
            core::mem::size_of::<ChannelHeader>() as u32,
            Ordering::Relaxed,
        );
        h.creator_pid.store(creator_pid, Ordering::Relaxed);
        h.magic.store(SEGMENT_MAGIC, Ordering::Release);
    }
}

/// Reads and validates the headers of a mapped segment of `len` bytes.
///
/// Every value is checked against `len` and against each other before it is
/// used, so that a scribbled segment is reported as [`Error::Corrupted`].
///
/// # Safety
/// `base` points to `len` mapped bytes aligned to [`LINE`], valid for as long
/// as the returned geometry is used.
#[cfg_attr(any(loom, miri), allow(dead_code))]
pub(crate) unsafe fn validate(base: *const u8, len: usize) -> Result<Vec<ChannelGeometry>, Error> {
    if len < core::mem::size_of::<SegmentHeader>() {
        return Err(Error::Corrupted("segment smaller than its header"));
    }
    // SAFETY: `len` covers the header; every field is an atomic, valid for any
    // bit pattern.
    let h = unsafe { &*base.cast::<SegmentHeader>() };
    if h.magic.load(Ordering::Acquire) != SEGMENT_MAGIC {
        return Err(Error::Corrupted("bad segment magic"));
    }
    let version = h.version.load(Ordering::Relaxed);
    if version != LAYOUT_VERSION {
        return Err(Error::VersionMismatch {
            ours: LAYOUT_VERSION,
            theirs: version,
        });
    }
    if h.channel_header_size.load(Ordering::Relaxed) as usize
        != core::mem::size_of::<ChannelHeader>()
    {
        return Err(Error::Corrupted("channel header size differs"));
    }
    if h.segment_size.load(Ordering::Relaxed) != len as u64 {
        return Err(Error::Corrupted("segment size differs from the mapping"));
    }
    let count = h.channel_count.load(Ordering::Relaxed) as usize;
    if count == 0 || count > MAX_CHANNELS {
        return Err(Error::Corrupted("channel count out of range"));
    }
    let table_end = header_size(count);
    if h.header_size.load(Ordering::Relaxed) as u64 != table_end || table_end > len as u64 {
        return Err(Error::Corrupted("header size out of range"));
    }
    let mut out = Vec::with_capacity(count);
    let mut next_free = table_end;
    for i in 0..count {
        // SAFETY: `i < count` and the whole table lies inside `table_end <= len`.
        let e = unsafe {
            &*base
                .add(core::mem::size_of::<SegmentHeader>())
                .cast::<ChannelEntry>()
                .add(i)
        };
        let offset = e.offset.load(Ordering::Relaxed);
        let capacity = e.capacity.load(Ordering::Relaxed);
        let cap_ok = (MIN_CAPACITY as u64..=MAX_CAPACITY as u64).contains(&capacity)
            && capacity.is_power_of_two();
        // Channels are laid out in order without overlap: each must start at
        // or after the end of the previous one and end inside the segment.
        let end = channel_size(capacity).and_then(|s| offset.checked_add(s));
        match end {
            Some(end)
                if cap_ok
                    && offset % LINE as u64 == 0
                    && offset >= next_free
                    && end <= len as u64 =>
            {
                next_free = end;
            }
            _ => return Err(Error::Corrupted("channel table entry out of range")),
        }
        // SAFETY: the channel block was just checked to lie inside the mapping.
        let ch = unsafe { &*base.add(offset as usize).cast::<ChannelHeader>() };
        if ch.magic.load(Ordering::Relaxed) != CHANNEL_MAGIC
            || ch.index.load(Ordering::Relaxed) as usize != i
            || ch.capacity.load(Ordering::Relaxed) != capacity
        {
            return Err(Error::Corrupted("channel header does not match the table"));
        }
        out.push(ChannelGeometry {
            offset: offset as usize,
            capacity: capacity as usize,
        });
    }
    Ok(out)
}
