//! The real-time claim of Layer II: encoding a message of fixed-size fields
//! into a channel, and decoding it out (audio samples into a caller's
//! buffer), performs no heap allocation. A counting global allocator proves
//! it.

use ipc_channel_shm::Segment;
use ipc_msgpack::{
    recv_header, recv_payload, recv_payload_seed, recv_with, send, Flags, FramesInto, Limits,
};
use ipc_test_support::counting::{allocations_in, Counting};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
struct Transport {
    playing: bool,
    tempo: f64,
    position: u64,
    signature: (u8, u8),
    gains: [f32; 8],
}
ipc_msgpack::message!(Transport = 4);

/// One period of audio: borrowed samples when sending.
#[derive(Serialize)]
struct Process<'a> {
    frame: u64,
    gain: f32,
    samples: &'a [f32],
}
ipc_msgpack::message!(Process<'_> = 9);

/// A byte string, as a plugin state travels.
#[derive(Serialize, Deserialize, Debug)]
struct Bytes(#[serde(with = "serde_bytes")] Vec<u8>);
ipc_msgpack::message!(Bytes = 11);

/// Decodes a `Process` with its samples into a caller's buffer.
struct ProcessInto<'a>(&'a mut [f32]);

impl<'de> DeserializeSeed<'de> for ProcessInto<'_> {
    type Value = (u64, f32, usize);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ProcessInto<'_> {
    type Value = (u64, f32, usize);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Process message")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let frame = seq
            .next_element()?
            .ok_or_else(|| A::Error::invalid_length(0, &self))?;
        let gain = seq
            .next_element()?
            .ok_or_else(|| A::Error::invalid_length(1, &self))?;
        let n = seq
            .next_element_seed(FramesInto(self.0))?
            .ok_or_else(|| A::Error::invalid_length(2, &"3 fields"))?;
        Ok((frame, gain, n))
    }
}

#[test]
fn real_time_messages_are_encoded_and_decoded_without_allocating() {
    let segment = Segment::in_process(&[1 << 16]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let limits = Limits::default();
    let t = Transport {
        playing: true,
        tempo: 120.5,
        position: 48_000,
        signature: (7, 8),
        gains: [0.5; 8],
    };
    let samples: Vec<f32> = (0..512).map(|i| (i as f32 * 0.1).sin()).collect();
    let mut out = vec![0f32; 512];
    // Warm up once (first use of the thread's state, lazily sized things).
    send(&mut w, &t, 1, Flags::NONE).unwrap();
    let h = recv_header(&mut r, &limits).unwrap();
    let _: Transport = recv_payload(&mut r, &h, &limits).unwrap();

    for round in 0..1000u64 {
        let mut got = None;
        let mut seen = None;
        let mut frames = (0, 0.0, 0);
        let n = allocations_in(|| {
            send(
                &mut w,
                &Transport {
                    position: round,
                    ..t
                },
                round as u32,
                Flags::REQUEST,
            )
            .unwrap();
            let h = recv_header(&mut r, &limits).unwrap();
            got = Some(recv_payload::<Transport>(&mut r, &h, &limits).unwrap());
            send(
                &mut w,
                &Process {
                    frame: round,
                    gain: 0.25,
                    samples: &samples,
                },
                0,
                Flags::NONE,
            )
            .unwrap();
            let h = recv_header(&mut r, &limits).unwrap();
            frames = recv_payload_seed(&mut r, &h, &limits, ProcessInto(&mut out)).unwrap();
            // Envelope and payload from one look at the ring, as a listener
            // receives.
            send(&mut w, &t, round as u32, Flags::NONE).unwrap();
            seen = Some(
                recv_with(&mut r, &limits, |h, payload| {
                    Ok((h.correlation, payload.decode::<Transport>()?))
                })
                .unwrap(),
            );
        });
        assert_eq!(n, 0, "round {round}: {n} allocations on the real-time path");
        assert_eq!(
            got,
            Some(Transport {
                position: round,
                ..t
            })
        );
        assert_eq!(frames, (round, 0.25, 512));
        assert_eq!(seen, Some((round as u32, t)));
        assert_eq!(out, samples);
    }
}

#[test]
fn the_counter_sees_allocations() {
    // The test above would pass vacuously if the counter were broken.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);
}

/// A byte string that claims 4 GiB (with the message limit raised to
/// `u32::MAX`) and then does not come: the receiver must not reserve what is
/// only claimed. What arrived is all it may hold.
#[test]
fn a_claimed_length_reserves_nothing_before_its_bytes_arrive() {
    use ipc_msgpack::{Header, Message};
    let segment = Segment::in_process(&[4096]).unwrap();
    let (mut w, mut r) = (segment.writer(0).unwrap(), segment.reader(0).unwrap());
    let claim = u32::MAX - 16;
    w.append(&Header::new(Bytes::ID, claim).to_bytes()).unwrap();
    let mut head = vec![0xc6];
    head.extend_from_slice(&(claim - 5).to_be_bytes());
    head.extend_from_slice(&[7; 100]);
    w.append(&head).unwrap();
    w.commit().unwrap();
    let limits = Limits {
        max_message: u32::MAX,
        payload_timeout: None,
        ..Limits::default()
    };
    let mut got = None;
    let largest = ipc_test_support::counting::largest_allocation_in(|| {
        got = Some(ipc_msgpack::recv_timeout::<Bytes>(
            &mut r,
            &limits,
            std::time::Duration::from_millis(50),
        ));
    });
    assert!(
        matches!(
            got,
            Some(Err(ipc_msgpack::Error::Channel(
                ipc_channel_shm::Error::Timeout
            )))
        ),
        "{got:?}"
    );
    assert!(
        largest <= 1 << 20,
        "reserved {largest} bytes for a claim of {claim} of which 100 came"
    );
    drop(w);
}

/// A big state decoded with `BytesInto` into a buffer kept from the last
/// one allocates nothing when it lies in the ring, and only the 16 KiB
/// read-ahead (for the value's header) when it streams through a smaller
/// ring, whose bytes it then lends: never anything of the state's size.
#[test]
fn a_state_decoded_into_a_kept_buffer_allocates_nothing_of_its_size() {
    use ipc_msgpack::BytesInto;
    let state: Vec<u8> = (0..1usize << 20).map(|i| (i * 31) as u8).collect();
    for (ring, largest_allowed) in [(4 << 20, 0), (64 << 10, 16 << 10)] {
        let segment = Segment::in_process(&[ring]).unwrap();
        let mut writer = segment.writer(0).unwrap();
        let mut reader = segment.reader(0).unwrap();
        let limits = Limits::default();
        let mut kept = Vec::with_capacity(state.len());
        for round in 0..3 {
            let sent = Bytes(state.clone());
            std::thread::scope(|s| {
                s.spawn(|| send(&mut writer, &sent, round, Flags::NONE).unwrap());
                let largest = ipc_test_support::counting::largest_allocation_in(|| {
                    let header = recv_header(&mut reader, &limits).unwrap();
                    let n = recv_payload_seed(&mut reader, &header, &limits, BytesInto(&mut kept))
                        .unwrap();
                    assert_eq!(n, state.len());
                });
                assert!(
                    largest <= largest_allowed,
                    "ring {ring}: largest allocation {largest} bytes"
                );
            });
            assert_eq!(kept, state, "ring {ring}, round {round}");
            assert!(kept.capacity() >= state.len());
        }
    }
}
