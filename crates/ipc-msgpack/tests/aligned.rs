//! Messages at an alignment (`Writer::set_align`, `Reader::set_align`):
//! where they land in the stream, that both send paths and every receive
//! path agree on the padding across the ring's wrap and for messages larger
//! than the ring, and what a reader makes of a writer that does not pad.

use ipc_channel_shm::{Deadline, Reader, Segment, Writer};
use ipc_msgpack::{
    recv, recv_header, recv_payload, recv_timeout, recv_with, send, send_raw, try_recv,
    write_token, Error, Flags, Limits, Sink, Token, MAGIC,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Small(u64);

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Sized(#[serde(with = "serde_bytes")] Vec<u8>);

ipc_msgpack::message!(Small = 1, Sized = 2);

fn ends(capacity: usize) -> (Segment, Writer, Reader) {
    let segment = Segment::in_process(&[capacity]).unwrap();
    let writer = segment.writer(0).unwrap();
    let reader = segment.reader(0).unwrap();
    (segment, writer, reader)
}

fn aligned(capacity: usize, align: usize) -> (Segment, Writer, Reader) {
    let (segment, mut writer, mut reader) = ends(capacity);
    writer.set_align(align);
    reader.set_align(align);
    (segment, writer, reader)
}

/// Every byte the writer has committed, read by a reader without alignment.
fn raw_bytes(reader: &mut Reader, n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    reader.read_exact_into(&mut out).unwrap();
    out
}

#[test]
fn each_message_starts_at_a_multiple_of_the_alignment_with_zeros_in_front() {
    let (_segment, mut writer, mut reader) = ends(4096);
    writer.set_align(32);
    // 21, 25 and 40 bytes with their envelopes: none a multiple of 32.
    let sizes = [Small(100_000), Small(u64::MAX), Small(7)];
    for m in &sizes {
        send(&mut writer, m, 0, Flags::NONE).unwrap();
    }
    let big = Sized(vec![0xab; 22]);
    send_raw(
        &mut writer,
        2,
        0,
        Flags::NONE,
        &Deadline::never(),
        |sink: &mut dyn Sink| {
            write_token(sink, Token::Bin(22))?;
            sink.put(&big.0)
        },
    )
    .unwrap();
    let committed = writer.uncommitted();
    assert_eq!(committed, 0, "every send commits");
    // 21 -> 32, 25 -> 64, 17 -> 96, then the raw one (16 + 2 + 22).
    let bytes = raw_bytes(&mut reader, 96 + 16 + 24);
    for start in [0, 32, 64, 96] {
        assert_eq!(bytes[start], MAGIC, "an envelope at {start}");
    }
    assert!(bytes[21..32].iter().all(|&b| b == 0));
    assert!(bytes[57..64].iter().all(|&b| b == 0));
    assert!(bytes[81..96].iter().all(|&b| b == 0));
}

#[test]
fn an_aligned_reader_takes_every_message_by_every_path_across_the_wrap() {
    // 256 bytes of ring: the stream wraps every few messages.
    let (_segment, mut writer, mut reader) = aligned(256, 32);
    for round in 0..200u64 {
        let n = (round % 70) as usize;
        send(&mut writer, &Small(round << (round % 60)), 0, Flags::NONE).unwrap();
        send(&mut writer, &Sized(vec![round as u8; n]), 0, Flags::NONE).unwrap();
        assert_eq!(
            recv::<Small>(&mut reader, &Limits::default()).unwrap().1,
            Small(round << (round % 60))
        );
        let header = recv_header(&mut reader, &Limits::default()).unwrap();
        let back: Sized = recv_payload(&mut reader, &header, &Limits::default()).unwrap();
        assert_eq!(back, Sized(vec![round as u8; n]));
        send(&mut writer, &Small(round), 0, Flags::NONE).unwrap();
        let got = recv_with(&mut reader, &Limits::default(), |h, p| {
            assert_eq!(h.id, 1);
            p.decode::<Small>()
        })
        .unwrap();
        assert_eq!(got, Small(round));
    }
    assert!(matches!(
        try_recv::<Small>(&mut reader, &Limits::default()),
        Err(Error::Channel(ipc_channel_shm::Error::Timeout))
    ));
}

#[test]
fn a_message_larger_than_the_ring_streams_through_it_aligned() {
    let (_segment, mut writer, mut reader) = aligned(256, 64);
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    std::thread::scope(|s| {
        let sent = data.clone();
        s.spawn(move || {
            send(&mut writer, &Small(3), 0, Flags::NONE).unwrap();
            send(&mut writer, &Sized(sent), 0, Flags::NONE).unwrap();
            send(&mut writer, &Small(4), 0, Flags::NONE).unwrap();
        });
        assert_eq!(
            recv::<Small>(&mut reader, &Limits::default()).unwrap().1,
            Small(3)
        );
        assert_eq!(
            recv::<Sized>(&mut reader, &Limits::default()).unwrap().1,
            Sized(data)
        );
        assert_eq!(
            recv::<Small>(&mut reader, &Limits::default()).unwrap().1,
            Small(4)
        );
    });
}

#[test]
fn a_writer_that_does_not_pad_is_a_framing_error_not_a_misread() {
    let (_segment, mut writer, mut reader) = ends(4096);
    reader.set_align(32);
    for i in 1..=3 {
        send(&mut writer, &Small(i), 0, Flags::NONE).unwrap();
    }
    assert_eq!(
        recv::<Small>(&mut reader, &Limits::default()).unwrap().1,
        Small(1)
    );
    // The second envelope starts at 17, the reader looks at 32: inside it.
    assert!(matches!(
        recv_timeout::<Small>(&mut reader, &Limits::default(), Duration::from_secs(5)),
        Err(Error::Framing(_))
    ));
}

#[test]
fn a_stream_that_ends_inside_the_padding_says_so() {
    let (_segment, mut writer, mut reader) = ends(4096);
    reader.set_align(32);
    send(&mut writer, &Small(1), 0, Flags::NONE).unwrap();
    writer.append(&[0; 4]).unwrap();
    writer.commit().unwrap();
    drop(writer);
    assert_eq!(
        recv::<Small>(&mut reader, &Limits::default()).unwrap().1,
        Small(1)
    );
    let e = recv::<Small>(&mut reader, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Framing(_) | Error::Channel(ipc_channel_shm::Error::Closed)
        ),
        "{e:?}"
    );
}

#[test]
#[should_panic(expected = "power of two from 1 to 64")]
fn an_alignment_must_be_a_power_of_two() {
    let (_segment, mut writer, _reader) = ends(4096);
    writer.set_align(48);
}
