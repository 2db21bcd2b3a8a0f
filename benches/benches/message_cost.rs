//! The CPU cost of one small message through a channel on one thread (no
//! second core, no waiting): the message layer's `send` + `recv_header` +
//! `recv_payload` of a one-field message against the channel's own
//! `append` + `commit` + `peek` + `consume` of the same number of bytes;
//! `message_recv_with` receives envelope and payload from one look at the
//! ring, as the real-time link does.
//! What the message layer adds here is what it adds to each direction of a
//! real-time call.

use criterion::{criterion_main, Criterion};
use ipc_channel_shm::Segment;
use ipc_msgpack::{recv_header, recv_payload, recv_with, send, Flags, Header, Limits, Message};
use serde::{Deserialize, Serialize};
use std::hint::black_box;

#[derive(Serialize, Deserialize)]
struct Ping(u64);

ipc_msgpack::message!(Ping = 3);

fn message_cost(c: &mut Criterion) {
    let segment = Segment::in_process(&[1 << 16]).expect("segment");
    let mut writer = segment.writer(0).expect("writer");
    let mut reader = segment.reader(0).expect("reader");
    let limits = Limits::default();
    let mut group = c.benchmark_group("message_cost");
    // Envelope (16) + a u32-sized integer (5): what `Ping(100_000)` encodes to.
    let raw = [0x5au8; 21];
    group.bench_function("channel_bytes", |b| {
        b.iter(|| {
            writer.append(black_box(&raw)).expect("append");
            writer.commit().expect("commit");
            let peek = reader.peek(raw.len()).expect("peek");
            black_box(peek.as_slices());
            peek.consume(raw.len());
        })
    });
    let mut seq = 100_000u64;
    group.bench_function("message", |b| {
        b.iter(|| {
            seq += 1;
            send(&mut writer, &Ping(black_box(seq)), 7, Flags::REQUEST).expect("send");
            let header = recv_header(&mut reader, &limits).expect("header");
            let Ping(x) = recv_payload(&mut reader, &header, &limits).expect("payload");
            black_box(x)
        })
    });
    group.bench_function("message_recv_with", |b| {
        b.iter(|| {
            seq += 1;
            send(&mut writer, &Ping(black_box(seq)), 7, Flags::REQUEST).expect("send");
            let x = recv_with(&mut reader, &limits, |_, payload| {
                payload.decode::<Ping>().map(|Ping(x)| x)
            })
            .expect("recv");
            black_box(x)
        })
    });
    group.bench_function("send_only", |b| {
        b.iter(|| {
            seq += 1;
            send(&mut writer, &Ping(black_box(seq)), 7, Flags::REQUEST).expect("send");
            let peek = reader.peek(21).expect("peek");
            black_box(peek.as_slices());
            peek.consume(21);
        })
    });
    let mut encoded = Vec::new();
    ipc_msgpack::stream::send(&mut encoded, &Ping(100_001), 7, Flags::REQUEST).expect("encode");
    group.bench_function("recv_only", |b| {
        b.iter(|| {
            writer.append(black_box(&encoded)).expect("append");
            writer.commit().expect("commit");
            let header = recv_header(&mut reader, &limits).expect("header");
            let Ping(x) = recv_payload(&mut reader, &header, &limits).expect("payload");
            black_box(x)
        })
    });
    let mut buf = [0u8; 64];
    group.bench_function("rmp_encode_only", |b| {
        b.iter(|| {
            seq += 1;
            let mut out: &mut [u8] = &mut buf;
            rmp_serde::encode::write(&mut out, &Ping(black_box(seq))).expect("encode");
            black_box(out.len())
        })
    });
    let payload = rmp_serde::to_vec(&Ping(100_001)).expect("encode");
    let header = Header::new(Ping::ID, payload.len() as u32);
    group.bench_function("decode_only", |b| {
        b.iter(|| {
            let Ping(x) =
                ipc_msgpack::slice::recv_payload(&mut black_box(&payload[..]), &header, &limits)
                    .expect("decode");
            black_box(x)
        })
    });
    group.bench_function("header_only", |b| {
        b.iter(|| {
            let h = Header::new(3, black_box(5));
            let bytes = black_box(h.to_bytes());
            black_box(Header::parse(&bytes, 1 << 20).expect("parse"))
        })
    });
    group.finish();
}

/// The harness's entry (private: criterion's macro makes an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(benches, super::message_cost);
}
criterion_main!(group::benches);
