//! What a peer that stops partway, lies about lengths or nests without end
//! gets from a receiver: an error, within the receiver's timeout, and never
//! a panic, an abort or a wait without end.
#![cfg(not(miri))]

use ipc_channel_shm::{Reader, Segment, Writer};
use ipc_msgpack::{slice, Error, Flags, Header, Limits, HEADER_LEN};
use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The deadline a call was given, plus room for a loaded machine's
/// scheduling: a call that takes longer did not honour its timeout.
const SLACK: Duration = Duration::from_secs(2);
/// A wait that never ends would show as this (the test then fails instead
/// of hanging).
const NEVER: Duration = Duration::from_secs(60);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Blob(#[serde(with = "serde_bytes")] Vec<u8>);
ipc_msgpack::message!(Blob = 7);

fn pair(capacity: usize) -> (Writer, Reader) {
    let segment = Segment::in_process(&[capacity]).unwrap();
    (segment.writer(0).unwrap(), segment.reader(0).unwrap())
}

/// An envelope for message 7 announcing `len` payload bytes.
fn envelope(len: u32) -> [u8; HEADER_LEN] {
    Header::new(7, len).to_bytes()
}

/// Runs `f` on a thread and returns its result and how long it took, or
/// fails the test if it does not return at all.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let out = f();
        let _ = tx.send((out, start.elapsed()));
    });
    rx.recv_timeout(NEVER)
        .expect("the call never returned: a wait without end")
}

#[test]
fn a_stream_that_ends_inside_an_envelope_is_reported_not_sliced_past() {
    let (mut w, mut r) = pair(4096);
    w.append(&envelope(100)[..5]).unwrap();
    w.commit().unwrap();
    drop(w);
    let got = ipc_msgpack::recv_timeout::<Blob>(&mut r, &Limits::default(), Duration::from_secs(1));
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Closed))),
        "{got:?}"
    );
}

#[test]
fn a_stream_that_ends_inside_a_payload_is_reported_not_sliced_past() {
    for limits in [
        Limits::default(),
        Limits {
            payload_timeout: None,
            ..Limits::default()
        },
    ] {
        let (mut w, mut r) = pair(4096);
        w.append(&envelope(100)).unwrap();
        w.append(&[0xc4, 97, 1]).unwrap();
        w.commit().unwrap();
        drop(w);
        let got = ipc_msgpack::recv_timeout::<Blob>(&mut r, &limits, Duration::from_secs(1));
        assert!(
            matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Closed))),
            "{got:?}"
        );
        // And through every other receive.
        let (mut w, mut r) = pair(4096);
        w.append(&envelope(100)).unwrap();
        w.append(&[1, 2, 3]).unwrap();
        w.commit().unwrap();
        drop(w);
        let h = ipc_msgpack::recv_header(&mut r, &limits).unwrap();
        let got = ipc_msgpack::recv_payload::<Blob>(&mut r, &h, &limits);
        assert!(
            matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Closed))),
            "{got:?}"
        );
    }
}

#[test]
fn a_payload_that_never_completes_ends_the_call_at_its_timeout() {
    // The writer stays alive and silent after 3 of the 100 bytes: the
    // receiver's timeout, not the peer, decides when the call ends.
    let (got, took) = bounded(|| {
        let (mut w, mut r) = pair(4096);
        w.append(&envelope(100)).unwrap();
        w.append(&[0xc4, 97, 1]).unwrap();
        w.commit().unwrap();
        let limits = Limits {
            payload_timeout: None,
            ..Limits::default()
        };
        let got = ipc_msgpack::recv_timeout::<Blob>(&mut r, &limits, Duration::from_millis(100));
        drop(w);
        got
    });
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    assert!(took < Duration::from_millis(100) + SLACK, "took {took:?}");
}

/// A timeout inside a message leaves the reader in its middle: the reader
/// is closed, so the next receive says `Closed` at once instead of taking
/// the rest of the message for the next envelope, and the writer learns it.
#[test]
fn a_timeout_inside_a_message_closes_the_reader() {
    let (mut w, mut r) = pair(4096);
    w.append(&envelope(100)).unwrap();
    w.append(&[0xc4, 97, 1]).unwrap();
    w.commit().unwrap();
    let limits = Limits::default();
    let got = ipc_msgpack::recv_timeout::<Blob>(&mut r, &limits, Duration::from_millis(50));
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    // The other 97 bytes now arrive: they are not an envelope, and nobody
    // may read them as one.
    w.append(&[0xa7; 97]).unwrap();
    let sent = w.commit();
    let got = ipc_msgpack::try_recv::<Blob>(&mut r, &limits);
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Closed))),
        "{got:?}"
    );
    assert!(
        sent.is_err() || w.append(&[0]).is_err(),
        "the writer learns that the reader is gone"
    );
    // A timeout before any envelope consumes nothing and closes nothing.
    let (_w, mut r) = pair(4096);
    let got = ipc_msgpack::recv_timeout::<Blob>(&mut r, &limits, Duration::from_millis(10));
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    let got = ipc_msgpack::try_recv::<Blob>(&mut r, &limits);
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
}

#[test]
fn a_claim_of_four_gib_ends_the_call_at_its_timeout() {
    for max_message in [u32::MAX, Limits::default().max_message] {
        let (got, took) = bounded(move || {
            let (mut w, mut r) = pair(4096);
            w.append(&envelope(u32::MAX)).unwrap();
            w.commit().unwrap();
            let limits = Limits {
                max_message,
                payload_timeout: None,
                ..Limits::default()
            };
            let got =
                ipc_msgpack::recv_timeout::<Blob>(&mut r, &limits, Duration::from_millis(100));
            drop(w);
            got
        });
        assert!(
            matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
            "{got:?}"
        );
        assert!(took < Duration::from_millis(100) + SLACK, "took {took:?}");
    }
}

#[test]
fn the_payload_timeout_bounds_a_call_without_one() {
    // `recv` waits as long as it takes for a message to begin, but a message
    // that has begun must finish within the payload timeout.
    let (got, took) = bounded(|| {
        let (mut w, mut r) = pair(4096);
        w.append(&envelope(100)).unwrap();
        w.commit().unwrap();
        let limits = Limits {
            payload_timeout: Some(Duration::from_millis(100)),
            ..Limits::default()
        };
        let got = ipc_msgpack::recv::<Blob>(&mut r, &limits);
        drop(w);
        got
    });
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    assert!(took < Duration::from_millis(100) + SLACK, "took {took:?}");
}

#[test]
fn skipping_a_message_nobody_takes_is_bounded_too() {
    let (got, took) = bounded(|| {
        let (mut w, mut r) = pair(4096);
        w.append(&envelope(100)).unwrap();
        w.commit().unwrap();
        let limits = Limits {
            payload_timeout: Some(Duration::from_millis(100)),
            ..Limits::default()
        };
        let h = ipc_msgpack::recv_header(&mut r, &limits).unwrap();
        let got = ipc_msgpack::skip(&mut r, &h, &limits);
        // recv_with leaves an undecoded payload to the same skip.
        let (mut w2, mut r2) = pair(4096);
        w2.append(&envelope(100)).unwrap();
        w2.commit().unwrap();
        let got2 = ipc_msgpack::recv_with(&mut r2, &limits, |_, _| Ok(()));
        drop((w, w2));
        (got, got2)
    });
    assert!(
        matches!(got.0, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    assert!(
        matches!(got.1, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    assert!(took < Duration::from_millis(200) + SLACK, "took {took:?}");
}

#[test]
fn a_send_into_a_ring_nobody_reads_ends_at_its_timeout_and_leaves_nothing() {
    let (mut w, mut r) = pair(4096);
    let big = Blob(vec![7; 3000]);
    ipc_msgpack::send(&mut w, &big, 0, Flags::NONE).unwrap();
    // The ring is too full for a second one: nothing of it is written.
    let started = Instant::now();
    let got = ipc_msgpack::send_timeout(&mut w, &big, 0, Flags::NONE, Duration::from_millis(50));
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(50) + SLACK);
    assert!(matches!(
        ipc_msgpack::try_send(&mut w, &big, 0, Flags::NONE),
        Err(Error::Channel(ipc_channel_shm::Error::Timeout))
    ));
    assert_eq!(w.uncommitted(), 0, "a failed send left bytes behind");
    let limits = Limits::default();
    assert_eq!(ipc_msgpack::recv::<Blob>(&mut r, &limits).unwrap().1, big);
    assert!(matches!(
        ipc_msgpack::try_recv::<Blob>(&mut r, &limits),
        Err(Error::Channel(ipc_channel_shm::Error::Timeout))
    ));
}

#[test]
fn a_message_larger_than_the_ring_cut_by_a_timeout_closes_the_writer() {
    let (mut w, mut r) = pair(1024);
    let got = ipc_msgpack::send_timeout(
        &mut w,
        &Blob(vec![1; 10_000]),
        0,
        Flags::NONE,
        Duration::from_millis(50),
    );
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
        "{got:?}"
    );
    assert!(matches!(
        ipc_msgpack::send(&mut w, &Blob(vec![]), 0, Flags::NONE),
        Err(Error::Channel(ipc_channel_shm::Error::Closed))
    ));
    // The reader sees the stream end inside the message, not a next one.
    let got = ipc_msgpack::recv::<Blob>(&mut r, &Limits::default());
    assert!(
        matches!(got, Err(Error::Channel(ipc_channel_shm::Error::Closed))),
        "{got:?}"
    );
}

/// Each level consumes no byte of its own: `Some(x)` and a newtype are `x`.
#[derive(Deserialize, Debug)]
struct Deep(#[allow(dead_code)] Option<Box<Deep>>);

#[test]
fn levels_that_consume_no_input_count_against_the_depth_limit() {
    let limits = Limits::default();
    let got = slice::recv_payload::<Deep>(&mut &[0x01][..], &Header::new(9, 1), &limits);
    match got {
        Err(Error::Malformed { reason, .. }) => assert!(reason.contains("nesting"), "{reason}"),
        other => panic!("expected a depth error, got {other:?}"),
    }
    // Within the limit, such levels decode.
    #[derive(Deserialize, Debug, PartialEq)]
    struct Shallow(Option<Box<Option<u8>>>);
    let got = slice::recv_payload::<Shallow>(&mut &[0x05][..], &Header::new(9, 1), &limits);
    assert_eq!(got.unwrap(), Shallow(Some(Box::new(Some(5)))));
}

#[test]
fn a_payload_over_the_stream_reader_is_decoded_as_it_arrives() {
    // 300 KiB through a 4 KiB ring: the byte string is collected as it comes.
    let (mut w, mut r) = pair(4096);
    let blob = Blob((0..300 * 1024).map(|i| i as u8).collect());
    let expected = blob.0.clone();
    let sender = std::thread::spawn(move || ipc_msgpack::send(&mut w, &blob, 0, Flags::NONE));
    let (_, got) = ipc_msgpack::recv::<Blob>(&mut r, &Limits::default()).unwrap();
    assert_eq!(got.0, expected);
    sender.join().unwrap().unwrap();
}
