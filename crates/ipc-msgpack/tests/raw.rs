//! Messages whose payload the caller encodes and reads itself, through
//! spans of ring memory: in place, counted then placed, and streamed
//! through a ring smaller than the message; read back as typed values and
//! as bytes.
#![cfg(not(miri))]

use ipc_channel_shm::{Deadline, Segment};
use ipc_msgpack::{Error, Flags, Limits, Sink};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct State {
    name: String,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
}
ipc_msgpack::message!(State = 5);

/// What a C++ encoder does: its own MessagePack bytes, span by span.
fn encode_bytes<'b>(bytes: &'b [u8]) -> impl FnMut(&mut dyn Sink) -> Result<(), Error> + 'b {
    move |sink| sink.put(bytes)
}

/// Sends a raw `State` of `size` blob bytes (after `prefill` bytes of
/// another message, so that the free space is less than the ring) and
/// returns how often the encoder ran.
fn roundtrip(capacity: usize, size: usize, prefill: usize) -> u32 {
    let segment = Segment::in_process(&[capacity]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let state = State {
        name: "preset".into(),
        blob: (0..size).map(|i| (i * 7) as u8).collect(),
    };
    let payload = rmp_serde::to_vec(&state).unwrap();
    let expected = payload.clone();
    let limits = Limits::default();
    let (counted, counted_rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        if prefill > 0 {
            let filler = State {
                name: String::new(),
                blob: vec![0; prefill],
            };
            ipc_msgpack::send(&mut w, &filler, 0, Flags::NONE).unwrap();
        }
        let mut calls = 0;
        ipc_msgpack::send_raw(&mut w, 5, 9, Flags::REQUEST, &Deadline::never(), |sink| {
            calls += 1;
            if calls == 2 {
                // Counted: now the filler may go, and room come.
                let _ = counted.send(());
            }
            encode_bytes(&payload)(sink)
        })
        .unwrap();
        // The same message again, read back as bytes below.
        ipc_msgpack::send_raw(
            &mut w,
            5,
            10,
            Flags::NONE,
            &Deadline::never(),
            encode_bytes(&payload),
        )
        .unwrap();
        calls
    });
    if prefill > 0 {
        // Taken only once the raw message did not fit and was counted.
        counted_rx.recv().unwrap();
        ipc_msgpack::recv::<State>(&mut r, &limits).unwrap();
    }
    let (header, got) = ipc_msgpack::recv::<State>(&mut r, &limits).unwrap();
    assert_eq!(
        (header.id, header.correlation, header.flags),
        (5, 9, Flags::REQUEST)
    );
    assert_eq!(got, state);
    let bytes = ipc_msgpack::recv_with(&mut r, &limits, |header, payload| {
        assert_eq!(header.len as usize, expected.len());
        let mut bytes = payload.bytes();
        let mut all = Vec::new();
        while bytes.remaining() > 0 {
            let chunk = bytes.chunk()?.to_vec();
            bytes.consume(chunk.len())?;
            all.extend(chunk);
        }
        Ok(all)
    })
    .unwrap();
    assert_eq!(bytes, expected);
    sender.join().unwrap()
}

#[test]
fn a_raw_payload_in_place_counted_or_streamed_arrives_whole() {
    // In place: one pass.
    assert_eq!(roundtrip(4096, 10, 0), 1);
    // Larger than the free space but not the ring: the attempt in place,
    // the count, then the write once there is room for all of it.
    assert_eq!(roundtrip(4096, 3000, 2000), 3);
    // Larger than the ring: streamed through it.
    assert_eq!(roundtrip(1024, 100_000, 0), 3);
}

#[test]
fn an_encoder_that_writes_other_bytes_the_second_time_is_refused() {
    let segment = Segment::in_process(&[4096]).unwrap();
    let mut w = segment.writer(0).unwrap();
    // Too large for the free space, then counted at 3000, then 3001 bytes.
    let mut lens = [5000, 3000, 3001].into_iter();
    let got = ipc_msgpack::send_raw(&mut w, 5, 0, Flags::NONE, &Deadline::never(), |sink| {
        sink.put(&vec![0xc0; lens.next().unwrap_or(0)])
    });
    assert!(matches!(got, Err(Error::Encode { .. })), "{got:?}");
    assert_eq!(w.uncommitted(), 0, "nothing of it was written");
}

#[test]
fn a_raw_payload_can_be_read_in_parts_and_the_rest_is_skipped() {
    let segment = Segment::in_process(&[1024]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let limits = Limits::default();
    let sender = std::thread::spawn(move || {
        let big = vec![3u8; 5000];
        ipc_msgpack::send_raw(&mut w, 7, 0, Flags::NONE, &Deadline::never(), |s| {
            s.put(&big)
        })
        .unwrap();
        ipc_msgpack::send(
            &mut w,
            &State {
                name: "next".into(),
                blob: vec![],
            },
            0,
            Flags::NONE,
        )
        .unwrap();
    });
    let first = ipc_msgpack::recv_with(&mut r, &limits, |_, payload| {
        let mut bytes = payload.bytes();
        let mut head = [0u8; 10];
        bytes.read_exact(&mut head)?;
        assert!(
            bytes.read_exact(&mut vec![0; 6000]).is_err(),
            "past the payload"
        );
        Ok(head)
    })
    .unwrap();
    assert_eq!(first, [3; 10]);
    let (_, next) = ipc_msgpack::recv::<State>(&mut r, &limits).unwrap();
    assert_eq!(next.name, "next");
    sender.join().unwrap();
}

#[test]
fn a_payload_read_until_an_earlier_deadline_gives_up_then_the_rest_is_skipped() {
    // A reader that must answer its own caller in time reads a payload
    // whose rest is late: its reads fail at its deadline, nothing is
    // lost, and once the rest arrives (within the payload timeout) the
    // receive skips it and the next message reads whole.
    let segment = Segment::in_process(&[4096]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let limits = Limits::default();
    let (gave_up, gave_up_rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        let header = ipc_msgpack::Header::new(7, 100);
        w.append(&header.to_bytes()).unwrap();
        w.append(&[1u8; 10]).unwrap();
        w.commit().unwrap();
        // The rest only once the reader gave up on it.
        gave_up_rx.recv().unwrap();
        w.append(&[2u8; 90]).unwrap();
        w.commit().unwrap();
        let next = State {
            name: "next".into(),
            blob: vec![],
        };
        ipc_msgpack::send(&mut w, &next, 0, Flags::NONE).unwrap();
    });
    let got = ipc_msgpack::recv_with(&mut r, &limits, |header, payload| {
        assert_eq!(header.len, 100);
        let soon = Deadline::after(std::time::Duration::from_millis(20));
        let mut bytes = payload.bytes().until(&soon);
        let mut head = [0u8; 10];
        bytes.read_exact(&mut head)?;
        let rest = bytes.read_exact(&mut [0u8; 90]);
        assert!(
            matches!(rest, Err(Error::Channel(ipc_channel_shm::Error::Timeout))),
            "{rest:?}"
        );
        assert!(soon.has_passed());
        gave_up.send(()).unwrap();
        Ok(head)
    })
    .unwrap();
    assert_eq!(got, [1u8; 10]);
    let (_, next) = ipc_msgpack::recv::<State>(&mut r, &limits).unwrap();
    assert_eq!(next.name, "next");
    sender.join().unwrap();
}

#[test]
fn waiting_for_a_whole_message_consumes_nothing_until_it_is_there() {
    let segment = Segment::in_process(&[4096]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let limits = Limits::default();
    let soon = || Deadline::after(std::time::Duration::from_millis(10));
    // Nothing, then an envelope and part of its payload: both time out.
    let timeout = |e| matches!(e, Error::Channel(ipc_channel_shm::Error::Timeout));
    assert!(ipc_msgpack::wait_whole_deadline(&mut r, &limits, &soon()).is_err_and(timeout));
    let next = State {
        name: "whole".into(),
        blob: vec![9; 40],
    };
    let bytes = rmp_serde::to_vec(&next).unwrap();
    let header = ipc_msgpack::Header::new(5, bytes.len() as u32);
    w.append(&header.to_bytes()).unwrap();
    w.append(&bytes[..10]).unwrap();
    w.commit().unwrap();
    assert!(ipc_msgpack::wait_whole_deadline(&mut r, &limits, &soon()).is_err_and(timeout));
    // The rest: now it is there, and the envelope was not consumed.
    w.append(&bytes[10..]).unwrap();
    w.commit().unwrap();
    ipc_msgpack::wait_whole_deadline(&mut r, &limits, &soon()).unwrap();
    let (_, got) = ipc_msgpack::try_recv::<State>(&mut r, &limits).unwrap();
    assert_eq!(got, next);
}
