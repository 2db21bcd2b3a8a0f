//! Ring logic on the in-process backend: wrap-around, zero-copy access,
//! closing, timeouts and statistics. These tests also run under Miri
//! (`cargo +nightly miri test -p ipc-channel-shm --test ring`), with smaller
//! iteration counts. A peer scribbling on the memory is played by the unit
//! tests in `src/channel/hostile_tests.rs`, which can reach the mapping.

use ipc_channel_shm::{Error, Reader, Segment, Writer};
use std::io::{Read, Write};
use std::thread;
use std::time::Duration;

/// Scales an iteration count down under Miri.
fn n(full: usize) -> usize {
    if cfg!(miri) {
        (full / 100).max(3)
    } else {
        full
    }
}

fn pair(capacity: usize) -> (Segment, Writer, Reader) {
    let segment = Segment::in_process(&[capacity]).unwrap();
    let writer = segment.writer(0).unwrap();
    let reader = segment.reader(0).unwrap();
    (segment, writer, reader)
}

fn byte(i: usize) -> u8 {
    (i.wrapping_mul(131) ^ (i >> 8)) as u8
}

#[test]
fn bytes_wrap_around_the_ring_intact() {
    let (_s, mut w, mut r) = pair(64);
    let mut next_w = 0;
    let mut next_r = 0;
    // Odd sizes so that every offset of the ring is a wrap point at some time.
    for round in 0..n(2000) {
        let len = 1 + round % 61;
        let chunk: Vec<u8> = (next_w..next_w + len).map(byte).collect();
        w.append(&chunk).unwrap();
        w.commit().unwrap();
        next_w += len;
        let mut back = vec![0u8; len];
        r.read_exact_into(&mut back).unwrap();
        for (k, b) in back.iter().enumerate() {
            assert_eq!(*b, byte(next_r + k));
        }
        next_r += len;
    }
    assert_eq!(w.stats().bytes, next_w as u64);
    assert_eq!(r.stats().bytes, next_r as u64);
}

#[test]
fn nothing_is_visible_before_commit() {
    let (_s, mut w, mut r) = pair(128);
    w.append(b"abc").unwrap();
    assert_eq!(w.uncommitted(), 3);
    // Nothing readable: a look that may not wait says so.
    assert!(matches!(r.try_peek(1), Err(Error::Timeout)));
    assert!(matches!(
        r.peek_timeout(1, Duration::from_millis(1)),
        Err(Error::Timeout)
    ));
    w.commit().unwrap();
    assert_eq!(w.uncommitted(), 0);
    // Fewer bytes than asked for are not enough, even if some are there.
    assert!(matches!(r.try_peek(4), Err(Error::Timeout)));
    let p = r.try_peek(3).unwrap();
    assert_eq!(p.as_slices(), (&b"abc"[..], &b""[..]));
    p.consume(2);
    assert_eq!(r.try_peek(1).unwrap().as_slices().0, b"c");
    assert_eq!(r.peek(1).unwrap().len(), 1);
}

#[test]
fn reserve_and_peek_give_two_slices_around_the_wrap() {
    let (_s, mut w, mut r) = pair(64);
    w.append(&[0u8; 50]).unwrap();
    w.commit().unwrap();
    r.peek(50).unwrap().consume(50);
    // Write position 50: 14 bytes to the end, then 50 more after the wrap.
    let mut res = w.reserve(20).unwrap();
    assert_eq!(res.len(), 64);
    let (a, b) = res.as_mut_slices();
    assert_eq!((a.len(), b.len()), (14, 50));
    a.copy_from_slice(&[1; 14]);
    b[..6].copy_from_slice(&[2; 6]);
    res.advance(20);
    w.commit().unwrap();
    let p = r.peek(20).unwrap();
    let (a, b) = p.as_slices();
    assert_eq!(a, &[1; 14]);
    assert_eq!(b, &[2; 6]);
    p.consume(20);
    assert!(matches!(w.reserve(65), Err(Error::InvalidArgument(_))));
    assert!(matches!(w.try_reserve(65), Err(Error::InvalidArgument(_))));
    assert!(matches!(r.peek(65), Err(Error::InvalidArgument(_))));
    assert!(matches!(r.try_peek(65), Err(Error::InvalidArgument(_))));
}

#[test]
fn a_dropped_reservation_writes_nothing() {
    let (_s, mut w, mut r) = pair(64);
    let mut res = w.reserve(8).unwrap();
    res.as_mut_slices().0[..8].copy_from_slice(b"ignored!");
    // Not advanced: the reservation ends here and adds nothing to the blob.
    let _ = res;
    w.append(b"kept").unwrap();
    w.commit().unwrap();
    let mut buf = [0u8; 4];
    r.read_exact_into(&mut buf).unwrap();
    assert_eq!(&buf, b"kept");
}

#[test]
fn blobs_larger_than_the_ring_stream_between_threads() {
    let (_s, mut w, mut r) = pair(256);
    let total = n(1 << 20);
    let producer = thread::spawn(move || {
        let data: Vec<u8> = (0..total).map(byte).collect();
        for part in data.chunks(1000) {
            w.write_all(part).unwrap();
        }
        w.flush().unwrap();
        w.stats()
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    let stats = producer.join().unwrap();
    assert_eq!(got.len(), total);
    assert!(got.iter().enumerate().all(|(i, &b)| b == byte(i)));
    assert!(stats.signals <= stats.commits + stats.waits, "{stats:?}");
    assert!(
        r.stats().signals <= stats.waits,
        "the reader wakes a writer only once per wait"
    );
}

#[test]
fn a_sleeping_reader_is_signalled_at_most_once_per_commit_or_full_wait() {
    let (_s, mut w, mut r) = pair(1 << 12);
    let blobs = n(300);
    let consumer = thread::spawn(move || {
        let mut buf = [0u8; 100];
        for _ in 0..blobs {
            r.read_exact_into(&mut buf).unwrap();
            assert_eq!(buf, [9u8; 100]);
        }
        r
    });
    for _ in 0..blobs {
        for _ in 0..10 {
            w.append(&[9u8; 10]).unwrap();
        }
        w.commit().unwrap();
    }
    let r = consumer.join().unwrap();
    let ws = w.stats();
    assert_eq!(ws.commits, blobs as u64);
    assert!(ws.signals <= ws.commits + ws.waits, "{ws:?}");
    // Each reader wait is ended by at most one signal (or a spin).
    assert!(ws.signals <= r.stats().waits);
}

#[test]
fn the_reader_drains_then_sees_the_end_of_the_stream() {
    let (_s, mut w, mut r) = pair(64);
    w.append(b"tail").unwrap();
    drop(w);
    let mut buf = [0u8; 16];
    assert_eq!(r.read_into(&mut buf).unwrap(), 4);
    assert!(matches!(r.read_into(&mut buf), Err(Error::Closed)));
    assert!(matches!(r.try_read_into(&mut buf), Err(Error::Closed)));
    assert!(matches!(r.try_peek(1), Err(Error::Closed)));
    assert!(matches!(r.peek(1), Err(Error::Closed)));
    assert_eq!(r.read(&mut buf).unwrap(), 0, "io::Read reports end of file");
}

#[test]
fn a_writer_gets_closed_once_the_reader_is_gone() {
    let (_s, mut w, r) = pair(64);
    assert!(!w.is_closed());
    drop(r);
    assert!(w.is_closed());
    assert!(matches!(w.commit(), Err(Error::Closed)));
    let e = w.write_all(&[0; 100]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(matches!(Error::from_io(&e), Some(Error::Closed)));
}

#[test]
fn closing_wakes_a_sleeping_peer() {
    let (_s, w, mut r) = pair(64);
    let t = thread::spawn(move || {
        let mut buf = [0u8; 1];
        r.read_into(&mut buf)
    });
    // Whether the reader already sleeps or not, it must end with Closed.
    drop(w);
    assert!(matches!(t.join().unwrap(), Err(Error::Closed)));

    let (_s, mut w, r) = pair(64);
    let t = thread::spawn(move || w.append(&[0u8; 1000]));
    drop(r);
    assert!(matches!(t.join().unwrap(), Err(Error::Closed)));
}

#[test]
fn timeouts_are_reported_and_the_channel_stays_usable() {
    let (_s, mut w, mut r) = pair(64);
    let mut buf = [0u8; 8];
    assert!(matches!(
        r.read_into_timeout(&mut buf, Duration::from_millis(5)),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        r.read_exact_into_timeout(&mut buf, Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert!(matches!(r.try_read_into(&mut buf), Err(Error::Timeout)));
    w.append(&[1; 64]).unwrap();
    assert!(matches!(
        w.append_timeout(&[1; 8], Duration::from_millis(5)),
        Err(Error::Timeout)
    ));
    assert!(matches!(w.try_append(&[1; 8]), Err(Error::Timeout)));
    assert!(matches!(
        w.reserve_timeout(1, Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert!(matches!(w.try_reserve(1), Err(Error::Timeout)));
    // Half a read that fits the ring does not consume anything on timeout.
    w.commit().unwrap();
    let mut big = [0u8; 64];
    r.read_exact_into_timeout(&mut big, Duration::from_millis(5))
        .unwrap();
    assert_eq!(big, [1; 64]);
    r.set_io_timeout(Some(Duration::from_millis(1)));
    let e = r.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn try_calls_do_what_they_can_now_and_never_wait() {
    let (_s, mut w, mut r) = pair(64);
    assert_eq!(w.try_append(&[3; 100]).unwrap(), 64, "what fits, no more");
    assert!(matches!(w.try_append(&[3]), Err(Error::Timeout)));
    w.commit().unwrap();
    let mut buf = [0u8; 100];
    assert_eq!(r.try_read_into(&mut buf).unwrap(), 64);
    assert_eq!(buf[..64], [3; 64]);
    assert!(matches!(r.try_read_into(&mut buf), Err(Error::Timeout)));
    assert_eq!(w.try_append(&[4; 10]).unwrap(), 10);
}

#[test]
fn a_closed_writer_delivers_what_it_committed_and_nothing_more() {
    let (_s, mut w, mut r) = pair(64);
    w.append(b"kept").unwrap();
    w.commit().unwrap();
    w.append(b"lost").unwrap();
    w.close();
    assert!(matches!(w.append(b"x"), Err(Error::Closed)));
    assert!(matches!(w.commit(), Err(Error::Closed)));
    let mut buf = [0u8; 8];
    assert_eq!(r.read_into(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"kept");
    assert!(matches!(r.read_into(&mut buf), Err(Error::Closed)));
}

#[test]
fn closing_a_channel_through_the_segment_ends_its_ends_here_from_any_thread() {
    let (s, mut w, mut r) = pair(64);
    w.append(b"drained").unwrap();
    w.commit().unwrap();
    let t = thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            match r.read_into(&mut buf) {
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) => return (all, e),
            }
        }
    });
    // Whether the reader already sleeps or not, it drains and ends.
    s.close(0).unwrap();
    let (all, end) = t.join().unwrap();
    assert_eq!(all, b"drained");
    assert!(matches!(end, Error::Closed), "{end:?}");
    assert!(w.is_closed());
    assert!(matches!(w.commit(), Err(Error::Closed)));
    assert!(matches!(s.close(1), Err(Error::InvalidArgument(_))));
}

#[test]
fn each_endpoint_can_be_claimed_once() {
    let s = Segment::in_process(&[64, 128]).unwrap();
    assert_eq!(s.channel_count(), 2);
    assert_eq!(s.capacity(1), 128);
    assert!(s.connection_string().is_none());
    let _w = s.writer(1).unwrap();
    assert!(matches!(s.writer(1), Err(Error::AlreadyClaimed)));
    assert!(matches!(s.writer(2), Err(Error::InvalidArgument(_))));
    let _r = s.reader(1).unwrap();
    assert!(matches!(s.clone().reader(1), Err(Error::AlreadyClaimed)));
}

#[test]
fn bad_capacities_are_refused() {
    for caps in [&[][..], &[63], &[100], &[1 << 31], &[64; 65][..]] {
        assert!(
            matches!(Segment::in_process(caps), Err(Error::InvalidArgument(_))),
            "{caps:?}"
        );
    }
}

#[test]
fn the_bounded_spin_catches_a_quick_peer() {
    let (_s, mut w, mut r) = pair(1024);
    r.set_spin(Duration::from_millis(if cfg!(miri) { 1 } else { 200 }));
    let rounds = n(200);
    let t = thread::spawn(move || {
        let mut one = [0u8; 1];
        for _ in 0..rounds {
            r.read_exact_into(&mut one).unwrap();
        }
        r.stats()
    });
    for _ in 0..rounds {
        w.append(&[1]).unwrap();
        w.commit().unwrap();
    }
    let rs = t.join().unwrap();
    assert_eq!(rs.bytes, rounds as u64);
    // Every blocking read ended by spinning or by sleeping, none by magic.
    assert!(rs.spin_hits + rs.waits <= rounds as u64);
}

#[test]
fn space_consumed_without_telling_is_handed_back_before_the_reader_waits() {
    let (_s, mut w, mut r) = pair(64);
    let t = thread::spawn(move || {
        w.append(&[5u8; 100]).unwrap();
        w.commit().unwrap();
        w
    });
    // Take the whole first ring-full without handing it back...
    let p = r.peek(64).unwrap();
    assert_eq!(p.len(), 64);
    p.consume_deferred(64);
    // ...then wait for the rest: the writer needs that space to publish it.
    let mut rest = [0u8; 36];
    r.read_exact_into_timeout(&mut rest, Duration::from_secs(30))
        .unwrap();
    assert_eq!(rest, [5u8; 36]);
    drop(t.join().unwrap());
}
