//! Typed messages between two processes over a Layer I channel: this test
//! process encodes, `ipc-msgpack-peer` decodes each message into its type and
//! sends it back re-encoded. Hostile payloads are written as raw bytes.
//!
//! `IPC_TEST_MSGPACK_PEER` may name another build of the peer (a 32-bit one,
//! say) to run the same tests across architectures.

use ipc_channel_shm::{Reader, Segment, Writer};
use ipc_msgpack::{recv_timeout, send, Flags, Header, Limits, Message};
use ipc_test_support::process::program;
use ipc_test_support::shapes::*;
use ipc_test_support::NEVER;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::process::{Child, Command};

const RING: usize = 64 * 1024;

/// What this side accepts: the defaults, but a message that has begun may
/// take as long as the test's safety bound (a 64 MiB echo through a 64 KiB
/// ring on a loaded machine is not what these tests time).
fn limits() -> Limits {
    Limits {
        payload_timeout: Some(NEVER),
        ..Limits::default()
    }
}

struct Peer {
    child: Child,
    writer: Writer,
    reader: Reader,
    _segment: Segment,
}

impl Peer {
    fn start(max_message: u32) -> Peer {
        let segment = Segment::create(&[RING, RING]).unwrap();
        let conn = segment.connection_string().unwrap().to_owned();
        let exe = program(
            "IPC_TEST_MSGPACK_PEER",
            env!("CARGO_BIN_EXE_ipc-msgpack-peer"),
        );
        let child = Command::new(exe)
            .args([conn.as_str(), &max_message.to_string()])
            .spawn()
            .expect("spawn ipc-msgpack-peer");
        let writer = segment.writer(0).unwrap();
        let reader = segment.reader(1).unwrap();
        Peer {
            child,
            writer,
            reader,
            _segment: segment,
        }
    }

    /// Sends `msg` and expects it back, decoded and re-encoded by the peer.
    fn round_trip<M: Message + DeserializeOwned + PartialEq + Debug>(
        &mut self,
        msg: &M,
        correlation: u32,
    ) {
        send(&mut self.writer, msg, correlation, Flags::REQUEST).unwrap();
        let (header, back) = recv_timeout::<M>(&mut self.reader, &limits(), NEVER).unwrap();
        assert_eq!(header.correlation, correlation);
        assert_eq!(header.flags, Flags::REPLY);
        assert_eq!(&back, msg);
    }

    /// Writes raw bytes (a hand-made envelope and payload) and commits.
    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.append(bytes).unwrap();
        self.writer.commit().unwrap();
    }

    fn report(&mut self) -> Report {
        recv_timeout::<Report>(&mut self.reader, &limits(), NEVER)
            .unwrap()
            .1
    }

    /// Closes our writer (the peer sees the end of the stream and exits)
    /// and checks that the peer exits successfully.
    fn finish(mut self) {
        self.writer.close();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "peer exited with {status}");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A failed test leaves no peer behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn numbers() -> Numbers {
    Numbers {
        a: 255,
        b: 65535,
        c: u32::MAX,
        d: u64::MAX,
        e: i8::MIN,
        f: -300,
        g: i32::MIN,
        h: i64::MIN,
        x: -1.5e-7,
        y: std::f64::consts::PI,
        flag: true,
        letter: 'ß',
    }
}

#[test]
fn every_serde_shape_round_trips_between_two_processes() {
    let mut peer = Peer::start(128 << 20);
    peer.round_trip(&numbers(), 1);
    peer.round_trip(
        &Numbers {
            a: 0,
            b: 0,
            c: 0,
            d: 0,
            e: -1,
            f: 127,
            g: 128,
            h: -33,
            x: 0.0,
            y: -0.0,
            flag: false,
            letter: 'a',
        },
        2,
    );
    peer.round_trip(
        &Text {
            s: "grüße, 音楽 🎹".into(),
            empty: String::new(),
            some: Some("x".repeat(300)),
            none: None,
        },
        3,
    );
    let mut by_name = BTreeMap::new();
    by_name.insert("first".to_owned(), vec![1, -2, 3]);
    by_name.insert(String::new(), vec![]);
    by_name.insert(
        "big".to_owned(),
        (0..70_000).map(|i| i * 1_000_003).collect(),
    );
    let by_id: HashMap<u32, String> = (0..100).map(|i| (i, format!("v{i}"))).collect();
    peer.round_trip(
        &Nested {
            rows: vec![vec![], vec![1], (0..1000).collect()],
            by_name,
            by_id,
        },
        4,
    );
    peer.round_trip(&Tuple(7, "seven".into(), (-7, 7.5)), 5);
    peer.round_trip(&Unit, 6);
    peer.round_trip(&Newtype(1 << 40), 7);
    peer.round_trip(
        &Shapes(vec![
            Shape::Empty,
            Shape::Circle(2.5),
            Shape::Point(-1, 1),
            Shape::Rect { w: 640, h: 480 },
            Shape::Group(vec![Shape::Empty, Shape::Group(vec![Shape::Circle(1.0)])]),
        ]),
        8,
    );
    peer.round_trip(
        &Frames {
            channels: 2,
            samples: (0..512).map(|i| (i as f32 * 0.01).sin()).collect(),
        },
        9,
    );
    peer.finish();
}

#[test]
fn byte_blobs_from_0_bytes_to_64_mib_round_trip_through_a_64_kib_ring() {
    let mut peer = Peer::start(128 << 20);
    for (i, size) in [
        0usize,
        1,
        100,
        RING - 100,
        RING,
        RING + 1,
        1 << 20,
        64 << 20,
    ]
    .into_iter()
    .enumerate()
    {
        let data: Vec<u8> = (0..size).map(|j| (j ^ (j >> 9) ^ i) as u8).collect();
        peer.round_trip(&Blob { data }, i as u32);
    }
    peer.finish();
}

/// A hand-made envelope in front of `payload`.
fn raw(id: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Header::new(id, payload.len() as u32).to_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

#[test]
fn hostile_payloads_yield_their_error_and_the_next_message_still_decodes() {
    let mut peer = Peer::start(4096);
    // Shape::Group(vec![Shape::Group(vec![...])]) 40 levels deep.
    let mut deep = vec![0x91u8];
    for _ in 0..40 {
        deep.extend_from_slice(b"\x81\xa5Group\x91");
    }
    deep.extend_from_slice(b"\xa5Empty");
    let cases: Vec<(&str, Vec<u8>, u32, &str)> = vec![
        (
            "oversized",
            raw(Blob::ID, &vec![0u8; 5000]),
            Blob::ID,
            "exceeds the limit of 4096",
        ),
        (
            "too deep",
            raw(Shapes::ID, &deep),
            Shapes::ID,
            "nesting deeper than the limit",
        ),
        (
            "bin claiming 4 GiB",
            raw(Blob::ID, &[0x91, 0xc6, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3]),
            Blob::ID,
            "needs 4294967280 more bytes",
        ),
        (
            "array claiming 4 G elements",
            raw(
                Nested::ID,
                &[0x93, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x90, 0x80, 0x80],
            ),
            Nested::ID,
            "needs 4294967295 more bytes",
        ),
        (
            "map claiming 64 K entries",
            raw(Nested::ID, &[0x93, 0x90, 0xde, 0xff, 0xff, 0x80]),
            Nested::ID,
            "more bytes",
        ),
        (
            "invalid UTF-8",
            raw(Text::ID, &[0x94, 0xa2, 0xff, 0xfe, 0xa0, 0xc0, 0xc0]),
            Text::ID,
            "not UTF-8",
        ),
        (
            "wrong type",
            raw(Newtype::ID, &[0xa3, b'a', b'b', b'c']),
            Newtype::ID,
            "invalid type",
        ),
        (
            "trailing bytes",
            raw(Newtype::ID, &[0x05, 0x06]),
            Newtype::ID,
            "1 bytes left after the value",
        ),
        (
            "cut-short value",
            raw(Newtype::ID, &[0xcf, 1, 2]),
            Newtype::ID,
            "needs 8 more bytes",
        ),
        (
            "reserved marker",
            raw(Newtype::ID, &[0xc1]),
            Newtype::ID,
            "0xc1",
        ),
        (
            "extension type",
            raw(Newtype::ID, &[0xd4, 1, 2]),
            Newtype::ID,
            "extension",
        ),
        (
            "unknown variant",
            raw(Shapes::ID, &[0x91, 0xa4, b'O', b'v', b'a', b'l']),
            Shapes::ID,
            "unknown variant",
        ),
    ];
    for (i, (what, bytes, id, expected)) in cases.into_iter().enumerate() {
        peer.send_raw(&bytes);
        let report = peer.report();
        assert_eq!(report.id, id, "{what}: the error names the message ID");
        assert!(
            report.error.contains(expected),
            "{what}: {:?} lacks {expected:?}",
            report.error
        );
        assert!(report.usable, "{what}: the stream must stay usable");
        // The very next message decodes.
        peer.round_trip(&Newtype(i as u64), i as u32);
    }
    // An ID nobody handles is skipped without being decoded.
    peer.send_raw(&raw(4242, b"\xc1\xc1 not messagepack at all"));
    let report = peer.report();
    assert_eq!((report.id, report.error.as_str()), (4242, "skipped"));
    peer.round_trip(&numbers(), 99);
    // Lost framing cannot be recovered: the peer says so and stops.
    peer.send_raw(b"\x00garbage that is not an envelope");
    let report = peer.report();
    assert!(!report.usable);
    assert!(report.error.contains("framing"), "{}", report.error);
    let status = peer.child.wait().unwrap();
    assert!(status.success());
}
