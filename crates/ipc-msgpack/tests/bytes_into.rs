//! `BytesInto`: a byte string of any form into a caller's buffer, from
//! memory, across a ring's wrap and streamed through a small ring; with
//! this crate's decoder and with rmp-serde's; and what it refuses.

use ipc_channel_shm::Segment;
use ipc_msgpack::{recv_header, recv_payload_seed, slice, BytesInto, Error, Flags, Header, Limits};
use serde::de::DeserializeSeed;
use serde::Serialize;

#[derive(Serialize)]
struct Bin(#[serde(with = "serde_bytes")] Vec<u8>);
#[derive(Serialize)]
struct Ints(Vec<u8>);
#[derive(Serialize)]
struct Text(String);
#[derive(Serialize)]
struct Other(std::collections::BTreeMap<u8, u8>);
ipc_msgpack::message!(Bin = 1, Ints = 2, Text = 3, Other = 4);

fn into_from_memory(wire: &[u8], buf: &mut Vec<u8>) -> Result<usize, Error> {
    let mut input = wire;
    let header = slice::recv_header(&mut input, &Limits::default())?;
    slice::recv_payload_seed(&mut input, &header, &Limits::default(), BytesInto(buf))
}

#[test]
fn every_form_of_byte_string_lands_in_the_buffer_replacing_its_content() {
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let mut buf = b"old content".to_vec();
    let forms = [
        slice::to_vec(&Bin(data.clone()), 0, Flags::NONE).unwrap(),
        slice::to_vec(&Ints(data.clone()), 0, Flags::NONE).unwrap(),
    ];
    for wire in &forms {
        assert_eq!(into_from_memory(wire, &mut buf).unwrap(), data.len());
        assert_eq!(buf, data);
    }
    let text = slice::to_vec(&Text("é and more".into()), 0, Flags::NONE).unwrap();
    into_from_memory(&text, &mut buf).unwrap();
    assert_eq!(buf, "é and more".as_bytes());
    for n in [0usize, 1, 31, 32, 255, 256, 65_536] {
        let wire = slice::to_vec(&Bin(vec![9; n]), 0, Flags::NONE).unwrap();
        assert_eq!(into_from_memory(&wire, &mut buf).unwrap(), n);
        assert_eq!(buf, vec![9; n]);
    }
}

#[test]
fn anything_else_is_malformed_and_a_claim_beyond_the_payload_reserves_nothing() {
    let mut buf = Vec::new();
    let map = slice::to_vec(&Other([(1, 2)].into()), 0, Flags::NONE).unwrap();
    assert!(matches!(
        into_from_memory(&map, &mut buf),
        Err(Error::Malformed { .. })
    ));
    // A bin 32 claiming 4 GiB in a 5-byte payload.
    let payload = [0xc6, 0xff, 0xff, 0xff, 0xff];
    let mut input = &payload[..];
    let header = Header::new(1, payload.len() as u32);
    let got =
        slice::recv_payload_seed(&mut input, &header, &Limits::default(), BytesInto(&mut buf));
    assert!(matches!(got, Err(Error::Malformed { .. })), "{got:?}");
    assert_eq!(buf.capacity(), 0);
}

#[test]
fn rmp_serde_can_decode_into_the_buffer_too() {
    let wire = rmp_serde::to_vec(&Bin(vec![1, 2, 3])).unwrap();
    let mut buf = Vec::new();
    let n = BytesInto(&mut buf)
        .deserialize(&mut rmp_serde::Deserializer::new(&wire[..]))
        .unwrap();
    assert_eq!((n, &buf[..]), (3, &[1u8, 2, 3][..]));
}

/// Through a ring: whole in place (at several offsets, so some messages
/// straddle the wrap) and streamed through a ring far smaller.
#[test]
fn through_a_ring_in_place_across_the_wrap_and_streamed() {
    let limits = Limits::default();
    for (ring, len) in [(64 << 10, 40_000usize), (4 << 10, 300_000)] {
        let segment = Segment::in_process(&[ring]).unwrap();
        let mut writer = segment.writer(0).unwrap();
        let mut reader = segment.reader(0).unwrap();
        let mut buf = Vec::new();
        for round in 0..5u32 {
            let data: Vec<u8> = (0..len).map(|i| (i as u32 ^ round) as u8).collect();
            std::thread::scope(|s| {
                let sent = Bin(data.clone());
                let writer = &mut writer;
                s.spawn(move || ipc_msgpack::send(writer, &sent, round, Flags::NONE).unwrap());
                let header = recv_header(&mut reader, &limits).unwrap();
                let n =
                    recv_payload_seed(&mut reader, &header, &limits, BytesInto(&mut buf)).unwrap();
                assert_eq!(n, len);
            });
            assert_eq!(buf, data, "ring {ring}, round {round}");
        }
    }
}
