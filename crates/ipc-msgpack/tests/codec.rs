//! The codec on its own: wire compatibility with `rmp-serde`, the `io`
//! stream transport, messages in memory (`slice`), borrowed decoding, the
//! envelope parser and the limits; and the channel functions in one process.

use ipc_msgpack::slice::{self, to_vec};
use ipc_msgpack::stream;
use ipc_msgpack::{Error, Flags, FramesInto, Header, Limits, Message};
use ipc_test_support::shapes::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::io::Cursor;
use std::time::Duration;

/// Decodes a bare payload (no envelope) of message `id`, which is used up
/// whatever the outcome.
fn decode_bare<'de, T: Deserialize<'de>>(
    payload: &'de [u8],
    id: u32,
    limits: &Limits,
) -> Result<T, Error> {
    let mut input = payload;
    let value = slice::recv_payload(&mut input, &Header::new(id, payload.len() as u32), limits);
    assert!(input.is_empty(), "the payload is consumed whatever happens");
    value
}

fn samples() -> (Numbers, Text, Tuple, Shapes, Blob, Frames) {
    (
        Numbers {
            a: 1,
            b: 300,
            c: 70_000,
            d: 1 << 40,
            e: -5,
            f: -3000,
            g: -70_000,
            h: -(1 << 40),
            x: 1.25,
            y: -2.5,
            flag: true,
            letter: '♪',
        },
        Text {
            s: "κλειδί".into(),
            empty: String::new(),
            some: Some("s".into()),
            none: None,
        },
        Tuple(1, "one".into(), (-1, 1.0)),
        Shapes(vec![
            Shape::Empty,
            Shape::Circle(1.0),
            Shape::Point(3, -4),
            Shape::Rect { w: 1, h: 2 },
            Shape::Group(vec![]),
        ]),
        Blob {
            data: (0..=255).collect(),
        },
        Frames {
            channels: 1,
            samples: vec![0.5, -0.5, 1.0],
        },
    )
}

/// Our payload is byte-for-byte what rmp-serde writes, and each side
/// decodes the other's.
fn wire_compatible<M: Message + DeserializeOwned + PartialEq + Debug>(msg: &M) {
    let ours = to_vec(msg, 0, Flags::NONE).unwrap();
    let theirs = rmp_serde::to_vec(msg).unwrap();
    assert_eq!(&ours[ipc_msgpack::HEADER_LEN..], &theirs[..]);
    let back: M = rmp_serde::from_slice(&ours[ipc_msgpack::HEADER_LEN..]).unwrap();
    assert_eq!(&back, msg);
    let back: M = decode_bare(&theirs, M::ID, &Limits::default()).unwrap();
    assert_eq!(&back, msg);
}

#[test]
fn payloads_are_wire_compatible_with_rmp_serde() {
    let (n, t, tu, s, b, f) = samples();
    wire_compatible(&n);
    wire_compatible(&t);
    wire_compatible(&tu);
    wire_compatible(&s);
    wire_compatible(&b);
    wire_compatible(&f);
    wire_compatible(&Unit);
    wire_compatible(&Newtype(u64::MAX));
    // Byte strings are `bin`, not arrays of integers.
    let bin = to_vec(
        &Blob {
            data: vec![1, 2, 3],
        },
        0,
        Flags::NONE,
    )
    .unwrap();
    assert_eq!(&bin[ipc_msgpack::HEADER_LEN..], &[0x91, 0xc4, 3, 1, 2, 3]);
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Wide {
    a: i128,
    b: u128,
}
ipc_msgpack::message!(Wide = 60);

#[test]
fn wide_integers_round_trip_as_rmp_serde_writes_them() {
    wire_compatible(&Wide { a: -5, b: 7 });
    wire_compatible(&Wide {
        a: i128::MIN,
        b: u128::MAX,
    });
    // A plain integer is accepted for a 128-bit field too.
    let small: Wide = decode_bare(&[0x92, 0x05, 0xcc, 0xff], 60, &Limits::default()).unwrap();
    assert_eq!(small, Wide { a: 5, b: 255 });
}

#[test]
fn the_envelope_is_laid_out_as_documented() {
    let bytes = to_vec(&Newtype(5), 0x0102_0304, Flags::REQUEST).unwrap();
    assert_eq!(
        bytes,
        [0xa7, 1, 1, 0, 7, 0, 0, 0, 4, 3, 2, 1, 1, 0, 0, 0, 5]
    );
    let mut input = &bytes[..];
    let h = slice::recv_header(&mut input, &Limits::default()).unwrap();
    assert_eq!(
        h,
        Header {
            id: 7,
            correlation: 0x0102_0304,
            flags: Flags::REQUEST,
            len: 1
        }
    );
    assert_eq!(input, &[5u8][..], "the cursor is at the payload");
    let back: Newtype = slice::recv_payload(&mut input, &h, &Limits::default()).unwrap();
    assert_eq!((back, input), (Newtype(5), &[][..]));
    let bad = |i: usize, v: u8| {
        let mut b = bytes.clone();
        b[i] = v;
        let mut input = &b[..];
        let e = slice::recv_header(&mut input, &Limits::default()).unwrap_err();
        assert_eq!(input.len(), b.len(), "a bad envelope is not consumed");
        e
    };
    assert!(matches!(bad(0, 0xa8), Error::Framing("bad envelope magic")));
    assert!(matches!(
        bad(1, 2),
        Error::Framing("unknown envelope version")
    ));
    assert!(matches!(
        bad(2, 8),
        Error::Framing("unknown envelope flags")
    ));
    assert!(matches!(bad(3, 1), Error::Framing(_)));
    assert!(matches!(
        bad(12, 2),
        Error::Framing("the stream ended inside a message")
    ));
    assert!(matches!(
        slice::recv_header(&mut &bytes[..15], &Limits::default()),
        Err(Error::Framing("the stream ended inside an envelope"))
    ));
    // An oversized payload is skipped with its envelope: the cursor moves on
    // to the next message.
    let small = Limits {
        max_message: 0,
        ..Limits::default()
    };
    let mut two = bytes.clone();
    two.extend_from_slice(&to_vec(&Unit, 9, Flags::NONE).unwrap());
    let mut input = &two[..];
    assert!(matches!(
        slice::recv_header(&mut input, &small),
        Err(Error::TooLarge {
            id: 7,
            len: 1,
            max: 0
        })
    ));
    assert_eq!(
        slice::recv::<Unit>(&mut input, &Limits::default())
            .unwrap()
            .1,
        Unit
    );
    assert!(input.is_empty());
    assert!((Flags::REPLY | Flags::ERROR).contains(Flags::ERROR));
}

#[derive(Serialize, Deserialize)]
struct NoteOn {
    channel: u8,
    key: u8,
    velocity: f32,
}
ipc_msgpack::message!(NoteOn = 8);

#[test]
fn the_worked_example_of_the_protocol_document_holds() {
    let bytes = to_vec(
        &NoteOn {
            channel: 0,
            key: 60,
            velocity: 0.8,
        },
        0,
        Flags::NONE,
    )
    .unwrap();
    let expected = [
        0xa7, 0x01, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00,
        0x00, //
        0x93, 0x00, 0x3c, 0xca, 0x3f, 0x4c, 0xcc, 0xcd,
    ];
    assert_eq!(bytes, expected);
}

#[test]
fn messages_round_trip_over_an_io_stream_and_bad_ones_are_skipped() {
    let (n, t, tu, s, b, f) = samples();
    let mut wire = Vec::new();
    stream::send(&mut wire, &n, 1, Flags::NONE).unwrap();
    stream::send(&mut wire, &t, 2, Flags::NONE).unwrap();
    // A payload that is not a Tuple, framed correctly.
    let mut bad = Header::new(Tuple::ID, 2).to_bytes().to_vec();
    bad.extend_from_slice(&[0xc3, 0xc3]);
    wire.extend_from_slice(&bad);
    stream::send(&mut wire, &tu, 3, Flags::NONE).unwrap();
    stream::send(&mut wire, &s, 4, Flags::NONE).unwrap();
    stream::send(&mut wire, &b, 5, Flags::NONE).unwrap();
    stream::send(&mut wire, &f, 6, Flags::NONE).unwrap();
    let limits = Limits::default();
    let mut input = Cursor::new(wire);
    assert_eq!(
        stream::recv::<Numbers, _>(&mut input, &limits).unwrap().1,
        n
    );
    assert_eq!(stream::recv::<Text, _>(&mut input, &limits).unwrap().1, t);
    match stream::recv::<Tuple, _>(&mut input, &limits) {
        Err(e @ Error::Malformed { id: 5, .. }) => assert!(e.stream_usable()),
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert_eq!(stream::recv::<Tuple, _>(&mut input, &limits).unwrap().1, tu);
    let h = stream::recv_header(&mut input, &limits).unwrap();
    assert_eq!((h.id, h.correlation), (Shapes::ID, 4));
    assert_eq!(
        stream::recv_payload::<Shapes, _>(&mut input, &h, &limits).unwrap(),
        s
    );
    // The wrong type is asked for: skipped, reported, and the stream goes on.
    assert!(matches!(
        stream::recv::<Frames, _>(&mut input, &limits),
        Err(Error::UnexpectedId {
            expected: 9,
            got: Header { id: 4, .. }
        })
    ));
    assert_eq!(stream::recv::<Frames, _>(&mut input, &limits).unwrap().1, f);
    assert!(matches!(
        stream::recv_header(&mut input, &limits),
        Err(Error::Io(_))
    ));
}

#[cfg(unix)]
#[test]
fn messages_cross_a_unix_socket_between_threads() {
    use std::os::unix::net::UnixStream;
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let big = Blob {
        data: vec![0xab; 3 << 20],
    };
    let sent = big.clone();
    let t = std::thread::spawn(move || {
        let mut out = std::io::BufWriter::new(&mut a);
        for i in 0..10u64 {
            stream::send(&mut out, &Newtype(i), 0, Flags::NONE).unwrap();
        }
        stream::send(&mut out, &sent, 0, Flags::NONE).unwrap();
    });
    let limits = Limits::default();
    for i in 0..10u64 {
        assert_eq!(
            stream::recv::<Newtype, _>(&mut b, &limits).unwrap().1,
            Newtype(i)
        );
    }
    assert_eq!(stream::recv::<Blob, _>(&mut b, &limits).unwrap().1, big);
    t.join().unwrap();
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Borrowed<'a> {
    name: &'a str,
    #[serde(with = "serde_bytes")]
    data: &'a [u8],
}
ipc_msgpack::message!(Borrowed<'_> = 50);

#[test]
fn a_payload_in_memory_can_be_decoded_without_copying_strings() {
    let bytes = to_vec(
        &Borrowed {
            name: "preset",
            data: b"\x00\x01",
        },
        0,
        Flags::NONE,
    )
    .unwrap();
    let mut input = &bytes[..];
    let h = slice::recv_header(&mut input, &Limits::default()).unwrap();
    let payload = input;
    let b: Borrowed<'_> = slice::recv_payload(&mut input, &h, &Limits::default()).unwrap();
    assert!(input.is_empty());
    assert_eq!(
        b,
        Borrowed {
            name: "preset",
            data: b"\x00\x01"
        }
    );
    let inside = payload.as_ptr_range();
    assert!(inside.contains(&b.name.as_ptr()) && inside.contains(&b.data.as_ptr()));
}

#[test]
fn frames_decode_into_a_callers_buffer_and_never_past_it() {
    let samples: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let payload = rmp_serde::to_vec(&samples).unwrap();
    let header = Header::new(1, payload.len() as u32);
    let mut buf = [0f32; 64];
    let n = slice::recv_payload_seed(
        &mut &payload[..],
        &header,
        &Limits::default(),
        FramesInto(&mut buf),
    )
    .unwrap();
    assert_eq!((n, &buf[..]), (64, &samples[..]));
    let mut small = [0f32; 63];
    let e = slice::recv_payload_seed(
        &mut &payload[..],
        &header,
        &Limits::default(),
        FramesInto(&mut small),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Malformed { id: 1, .. }), "{e}");
}

#[test]
fn limits_apply_to_payloads_in_memory() {
    let payload = rmp_serde::to_vec(&vec![vec![vec![1u8]]]).unwrap();
    let shallow = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(matches!(
        decode_bare::<Vec<Vec<Vec<u8>>>>(&payload, 3, &shallow),
        Err(Error::Malformed { id: 3, .. })
    ));
    assert!(decode_bare::<Vec<Vec<Vec<u8>>>>(&payload, 3, &Limits::default()).is_ok());
    let tiny = Limits {
        max_message: 2,
        ..Limits::default()
    };
    assert!(matches!(
        decode_bare::<Vec<Vec<Vec<u8>>>>(&payload, 3, &tiny),
        Err(Error::TooLarge { .. })
    ));
    // A value that cannot be encoded is refused before a byte is written.
    struct Unknown;
    impl Serialize for Unknown {
        fn serialize<S: serde::Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refuses to serialise"))
        }
    }
    ipc_msgpack::message!(Unknown = 77);
    let mut out = Vec::new();
    assert!(matches!(
        stream::send(&mut out, &Unknown, 0, Flags::NONE),
        Err(Error::Encode { id: 77, .. })
    ));
    assert!(out.is_empty());
}

/// Encoding in place into a channel gives the same bytes as `to_vec` wherever
/// the message starts in the ring: envelope or payload cut by the wrap, and
/// messages larger than the free space (encoded in two passes).
#[test]
fn messages_encode_in_place_at_every_ring_offset() {
    use ipc_channel_shm::Segment;
    use ipc_msgpack::{recv_header, recv_payload, recv_with, send};
    const RING: usize = 256;
    let (numbers, text, ..) = samples();
    let limits = Limits::default();
    let segment = Segment::in_process(&[RING]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let expected_numbers = to_vec(&numbers, 9, Flags::REQUEST).unwrap();
    let expected_text = to_vec(&text, 10, Flags::REPLY).unwrap();
    for offset in 0..RING {
        // Move the ring's positions to `offset` past a multiple of RING.
        let pad = (offset + RING - w.stats().bytes as usize % RING) % RING;
        if pad > 0 {
            w.append(&vec![0; pad]).unwrap();
            w.commit().unwrap();
            let peek = r.peek(pad).unwrap();
            peek.consume(pad);
        }
        for (expected, correlation) in [(&expected_numbers, 9), (&expected_text, 10)] {
            if correlation == 9 {
                send(&mut w, &numbers, 9, Flags::REQUEST).unwrap();
            } else {
                send(&mut w, &text, 10, Flags::REPLY).unwrap();
            }
            let mut bytes = vec![0; expected.len()];
            r.read_exact_into(&mut bytes).unwrap();
            assert_eq!(&bytes, expected, "message at ring offset {offset}");
        }
        // And the decoding side at the same offset.
        send(&mut w, &numbers, 9, Flags::REQUEST).unwrap();
        let header = recv_header(&mut r, &limits).unwrap();
        assert_eq!((header.id, header.correlation), (Numbers::ID, 9));
        let back: Numbers = recv_payload(&mut r, &header, &limits).unwrap();
        assert_eq!(back, numbers, "decoded at ring offset {offset}");
        // Envelope and payload from one look at the ring; a payload left
        // undecoded is skipped, and the next message follows intact.
        send(&mut w, &text, 11, Flags::REPLY).unwrap();
        send(&mut w, &numbers, 12, Flags::NONE).unwrap();
        let skipped = recv_with(&mut r, &limits, |h, _| Ok(h.correlation)).unwrap();
        assert_eq!(skipped, 11, "at ring offset {offset}");
        let (h, back) = recv_with(&mut r, &limits, |h, payload| {
            Ok((*h, payload.decode::<Numbers>()?))
        })
        .unwrap();
        assert_eq!(
            (h.id, h.correlation, back),
            (Numbers::ID, 12, numbers.clone())
        );
    }
    // A message larger than the free space: streams through the ring in two
    // passes while a reader thread drains it.
    let big = Blob {
        data: (0..4096u32).map(|i| i as u8).collect(),
    };
    let expected = to_vec(&big, 3, Flags::NONE).unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = vec![0; expected.len()];
        r.read_exact_into(&mut bytes).unwrap();
        assert_eq!(bytes, expected);
        r
    });
    send(&mut w, &big, 3, Flags::NONE).unwrap();
    let mut r = reader.join().unwrap();
    // The same through `recv_with`: the payload streams as it is decoded,
    // or is skipped if not decoded.
    let reader = std::thread::spawn(move || {
        let back = recv_with(&mut r, &limits, |_, p| p.decode::<Blob>()).unwrap();
        let skipped = recv_with(&mut r, &limits, |h, _| Ok(h.len)).unwrap();
        let last = recv_with(&mut r, &limits, |_, p| p.decode::<Text>()).unwrap();
        (back, skipped, last)
    });
    send(&mut w, &big, 3, Flags::NONE).unwrap();
    send(&mut w, &big, 4, Flags::NONE).unwrap();
    send(&mut w, &text, 5, Flags::NONE).unwrap();
    let (back, skipped, last) = reader.join().unwrap();
    assert_eq!(back, big);
    assert_eq!(skipped as usize, expected_len(&big));
    assert_eq!(last, text);
}

fn expected_len<M: Message>(msg: &M) -> usize {
    to_vec(msg, 0, Flags::NONE).unwrap().len() - ipc_msgpack::HEADER_LEN
}

#[test]
fn a_receiver_skips_what_it_did_not_ask_for() {
    use ipc_channel_shm::Segment;
    use ipc_msgpack::{recv, recv_timeout, send, try_recv};
    let segment = Segment::in_process(&[4096]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let limits = Limits::default();
    send(&mut w, &Newtype(1), 0, Flags::NONE).unwrap();
    send(&mut w, &Unit, 0, Flags::NONE).unwrap();
    match recv::<Unit>(&mut r, &limits) {
        Err(
            e @ Error::UnexpectedId {
                expected: 6,
                got: Header { id: 7, .. },
            },
        ) => assert!(e.stream_usable()),
        other => panic!("expected UnexpectedId, got {other:?}"),
    }
    assert_eq!(recv::<Unit>(&mut r, &limits).unwrap().1, Unit);
    // Waiting for an envelope times out without consuming anything.
    match recv_timeout::<Unit>(&mut r, &limits, Duration::from_millis(5)) {
        Err(e @ Error::Channel(ipc_channel_shm::Error::Timeout)) => assert!(!e.stream_usable()),
        other => panic!("expected a timeout, got {other:?}"),
    }
    match try_recv::<Unit>(&mut r, &limits) {
        Err(Error::Channel(ipc_channel_shm::Error::Timeout)) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    send(&mut w, &Unit, 3, Flags::NONE).unwrap();
    let (h, Unit) = try_recv::<Unit>(&mut r, &limits).unwrap();
    assert_eq!(h.correlation, 3, "nothing was lost to the timeouts");
}
