//! A peer that scribbles on the shared memory, played in one process: every
//! position and length read from the segment is validated, so garbage there
//! causes `Error::Corrupted` (or at worst a spurious wake-up), never an
//! access out of bounds. In-process, so these run under Miri as well:
//! `cargo +nightly miri test -p ipc-channel-shm --lib -- channel::hostile_tests`.

use crate::{Error, Reader, Segment, Writer};

/// Offset of channel 0's control block in a one-channel segment.
const CH0: usize = 256;
/// Offsets inside a control block (docs/PROTOCOL.md).
const CAPACITY: usize = 8;
const WRITE_POS: usize = 128;
const READ_POS: usize = 256;
const READER_SLEEP: usize = 384;
const WRITER_SLEEP: usize = 512;

fn pair(capacity: usize) -> (Segment, Writer, Reader) {
    let segment = Segment::in_process(&[capacity]).unwrap();
    let writer = segment.writer(0).unwrap();
    let reader = segment.reader(0).unwrap();
    (segment, writer, reader)
}

/// Stores `v` at byte `off` of the segment, as a hostile peer would.
fn poke(s: &Segment, off: usize, v: u64) {
    let (base, len) = s.memory();
    assert!(off + 8 <= len && off % 8 == 0, "poke outside the segment");
    // SAFETY: in bounds and 8-aligned (checked above; the mapping is
    // LINE-aligned); only this thread touches the segment while it runs,
    // as a scribbling peer's store would race with nothing in these tests.
    unsafe { std::ptr::write_volatile(base.add(off).cast::<u64>(), v) };
}

#[test]
fn a_write_position_beyond_the_capacity_is_corrupted_and_sticky() {
    let (s, _w, mut r) = pair(64);
    poke(&s, CH0 + WRITE_POS, 65);
    let mut buf = [0u8; 8];
    assert!(matches!(r.read_into(&mut buf), Err(Error::Corrupted(_))));
    assert!(matches!(r.try_peek(1), Err(Error::Corrupted(_))));
    assert!(matches!(r.peek(1), Err(Error::Corrupted(_))));
}

#[test]
fn a_write_position_moving_backwards_is_corrupted() {
    let (s, mut w, mut r) = pair(64);
    w.append(&[0; 40]).unwrap();
    w.commit().unwrap();
    r.read_exact_into(&mut [0; 40]).unwrap();
    poke(&s, CH0 + WRITE_POS, 5);
    let mut buf = [0u8; 8];
    assert!(matches!(r.read_into(&mut buf), Err(Error::Corrupted(_))));
}

#[test]
fn a_read_position_beyond_what_was_written_is_corrupted() {
    let (s, mut w, _r) = pair(64);
    poke(&s, CH0 + READ_POS, 1000);
    w.append(&[0; 64]).unwrap();
    assert!(matches!(w.append(&[0; 1]), Err(Error::Corrupted(_))));
    assert!(matches!(w.commit(), Err(Error::Corrupted(_))));
    assert!(matches!(w.try_append(&[0; 1]), Err(Error::Corrupted(_))));
}

#[test]
fn a_garbage_capacity_in_the_control_block_is_never_trusted_after_open() {
    let (s, mut w, mut r) = pair(64);
    poke(&s, CH0 + CAPACITY, u64::MAX);
    w.append(b"still fine").unwrap();
    w.commit().unwrap();
    let mut ten = [0u8; 10];
    r.read_exact_into(&mut ten).unwrap();
    assert_eq!(&ten, b"still fine");
}

#[test]
fn a_scribbled_sleep_word_causes_at_most_a_spurious_wake() {
    let (s, mut w, mut r) = pair(64);
    poke(&s, CH0 + READER_SLEEP, 1);
    poke(&s, CH0 + WRITER_SLEEP, u64::MAX);
    w.append(b"ok").unwrap();
    w.commit().unwrap();
    let mut two = [0u8; 2];
    r.read_exact_into(&mut two).unwrap();
    assert_eq!(&two, b"ok");
}
