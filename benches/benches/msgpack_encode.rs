//! Encoding a message into a channel: straight into the ring (the message
//! layer's path) against `rmp_serde::to_vec` followed by a copy into the
//! ring, for a small and a large message. Each iteration also consumes the
//! message (without copying) so that the ring never fills.

use criterion::{criterion_main, BatchSize, Criterion};
use ipc_channel_shm::{Reader, Segment, Writer};
use ipc_msgpack::{send, Flags, Header, Message};
use serde::Serialize;
use std::hint::black_box;

#[derive(Serialize)]
struct Small {
    note: u8,
    velocity: f32,
    frame: u64,
}

#[derive(Serialize)]
struct Large {
    samples: Vec<f32>,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
}

ipc_msgpack::message!(Small = 1, Large = 2);

fn drain(reader: &mut Reader) {
    // Every iteration sent a message first, so there is one to take.
    let peek = reader.try_peek(1).expect("peek");
    let n = peek.len();
    peek.consume(n);
}

/// The baseline: serialise into a fresh vector, then copy it into the ring.
fn via_vec<M: Message>(writer: &mut Writer, msg: &M) {
    let payload = rmp_serde::to_vec(msg).expect("encode");
    let header = Header::new(M::ID, payload.len() as u32);
    writer.append(&header.to_bytes()).expect("append");
    writer.append(&payload).expect("append");
    writer.commit().expect("commit");
}

fn bench<M: Message>(c: &mut Criterion, name: &str, msg: &M, ring: usize) {
    let segment = Segment::in_process(&[ring]).expect("segment");
    let mut writer = segment.writer(0).expect("writer");
    let mut reader = segment.reader(0).expect("reader");
    let mut group = c.benchmark_group(format!("msgpack_encode/{name}"));
    group.bench_function("direct_into_ring", |b| {
        b.iter_batched(
            || (),
            |()| {
                send(&mut writer, black_box(msg), 0, Flags::NONE).expect("send");
                drain(&mut reader);
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("to_vec_then_copy", |b| {
        b.iter_batched(
            || (),
            |()| {
                via_vec(&mut writer, black_box(msg));
                drain(&mut reader);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn msgpack_encode(c: &mut Criterion) {
    bench(
        c,
        "small",
        &Small {
            note: 60,
            velocity: 0.8,
            frame: 48_000,
        },
        1 << 12,
    );
    let large = Large {
        samples: (0..1024).map(|i| i as f32 * 0.5).collect(),
        blob: vec![0xa5; 1 << 20],
    };
    bench(c, "large", &large, 1 << 22);
}

/// The harness's entry (private: criterion's macro makes an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(benches, super::msgpack_encode);
}
criterion_main!(group::benches);
