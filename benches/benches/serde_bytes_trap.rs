//! The `serde_bytes` trap: 10 MiB of bytes as a plain `Vec<u8>` field (an
//! array of integers on the wire, one value per byte) against the same
//! bytes with `#[serde(with = "serde_bytes")]` (one `bin`, two copies), each
//! sent and decoded into a fresh vector:
//!
//! * `in_memory`: `slice::to_vec`, then `slice::recv`;
//! * `ring`: through a 32 MiB ring the message fits in (send, then receive);
//! * `streamed`: through a 1 MiB ring, sender and receiver on two threads.
//!
//! `in_memory` also runs `tight_loop`: the same integers written and read
//! back by a hand-written loop, no serde, no message (branch-free per byte,
//! each into a fresh vector of the exact size): what one loop over the
//! elements costs on this machine, the floor of any decoder that hands
//! serde one element at a time.
//!
//! After the groups it prints, per path, the median plain time over the
//! median `serde_bytes` time of this run (the figure `docs/BENCHMARKS.md`
//! quotes; the target is at most 10x), and the tight loop's ratio.

use criterion::Criterion;
use ipc_channel_shm::{Reader, Segment, Writer};
use ipc_msgpack::{slice, Flags, Limits, Message};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

const LEN: usize = 10 << 20;

#[derive(Serialize, Deserialize)]
struct Plain(Vec<u8>);

#[derive(Serialize, Deserialize)]
struct Bytes(#[serde(with = "serde_bytes")] Vec<u8>);

ipc_msgpack::message!(Plain = 1, Bytes = 2);

/// Random bytes (xorshift): half below 128 (one byte on the wire as an
/// integer), half above (two), in no order a branch predictor could learn,
/// as in audio or compressed data.
fn data() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn limits() -> Limits {
    Limits {
        payload_timeout: None,
        ..Limits::default()
    }
}

fn in_memory<M: Message + DeserializeOwned>(msg: &M) -> usize {
    let bytes = slice::to_vec(msg, 0, Flags::NONE).expect("encode");
    let (_, back): (_, M) = slice::recv(&mut &bytes[..], &limits()).expect("decode");
    drop(black_box(back));
    bytes.len()
}

/// MessagePack's integers for `data` (a positive fixint below 128,
/// `0xcc` and the byte above), written without a branch per byte.
fn tight_encode(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 2 * data.len()];
    let mut k = 0;
    for &b in data {
        let wide = usize::from(b >> 7);
        out[k] = if wide == 1 { 0xcc } else { b };
        out[k + wide] = b;
        k += 1 + wide;
    }
    out.truncate(k);
    out
}

/// `n` integers of `tight_encode` read back, checked as a decoder must.
fn tight_decode(wire: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    for _ in 0..n {
        let m = wire[i];
        let next = wire.get(i + 1).copied().unwrap_or(0);
        let wide = m == 0xcc;
        assert!(m < 0x80 || wide, "not a u8 at {i}");
        out.push(if wide { next } else { m });
        i += 1 + usize::from(wide);
    }
    out
}

fn tight_loop(data: &[u8]) {
    let wire = tight_encode(data);
    let back = tight_decode(&wire, data.len());
    assert_eq!(back.len(), data.len());
    drop(black_box(back));
}

/// Both ends of a loopback channel.
struct Loop {
    _segment: Segment,
    ends: RefCell<(Writer, Reader)>,
}

impl Loop {
    fn new(capacity: usize) -> Loop {
        let segment = Segment::in_process(&[capacity]).expect("segment");
        let ends = (
            segment.writer(0).expect("writer"),
            segment.reader(0).expect("reader"),
        );
        Loop {
            _segment: segment,
            ends: RefCell::new(ends),
        }
    }
}

fn through_ring<M: Message + DeserializeOwned>(msg: &M, ring: &Loop) {
    let (writer, reader) = &mut *ring.ends.borrow_mut();
    ipc_msgpack::send(writer, msg, 0, Flags::NONE).expect("send");
    let (_, back): (_, M) = ipc_msgpack::recv(reader, &limits()).expect("recv");
    drop(black_box(back));
}

fn streamed<M: Message + DeserializeOwned + Sync>(msg: &M, ring: &Loop) {
    let (writer, reader) = &mut *ring.ends.borrow_mut();
    std::thread::scope(|s| {
        s.spawn(|| ipc_msgpack::send(writer, msg, 0, Flags::NONE).expect("send"));
        let (_, back): (_, M) = ipc_msgpack::recv(reader, &limits()).expect("recv");
        drop(black_box(back));
    });
}

/// Times of single iterations, per benchmark, for the ratio at the end.
type Samples = RefCell<Vec<(String, Vec<Duration>)>>;

fn timed(samples: &Samples, name: &str, iters: u64, mut f: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        f();
        let d = t.elapsed();
        total += d;
        let mut all = samples.borrow_mut();
        match all.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(d),
            None => all.push((name.to_string(), vec![d])),
        }
    }
    total
}

fn median(samples: &Samples, name: &str) -> Option<Duration> {
    let all = samples.borrow();
    let (_, v) = all.iter().find(|(n, _)| n == name)?;
    let mut v = v.clone();
    v.sort();
    v.get(v.len() / 2).copied()
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let plain = Plain(data());
    let bytes = Bytes(data());
    let samples = Samples::default();
    let wire = in_memory(&plain);
    println!(
        "serde_bytes_trap: {} MiB as {} bytes of integers, or {} bytes as bin",
        LEN >> 20,
        wire,
        in_memory(&bytes)
    );
    let big = Loop::new(32 << 20);
    let small = Loop::new(1 << 20);
    let paths: [(&str, &dyn Fn(bool)); 3] = [
        ("in_memory", &|p| {
            if p {
                in_memory(&plain);
            } else {
                in_memory(&bytes);
            }
        }),
        ("ring", &|p| {
            if p {
                through_ring(&plain, &big)
            } else {
                through_ring(&bytes, &big)
            }
        }),
        ("streamed", &|p| {
            if p {
                streamed(&plain, &small)
            } else {
                streamed(&bytes, &small)
            }
        }),
    ];
    assert_eq!(tight_decode(&tight_encode(&plain.0), LEN), plain.0);
    for (path, run) in paths {
        let mut group = c.benchmark_group(format!("serde_bytes_trap/{path}"));
        for (form, is_plain) in [("serde_bytes", false), ("plain_vec", true)] {
            let key = format!("{path}/{form}");
            group.bench_function(form, |b| {
                b.iter_custom(|iters| timed(&samples, &key, iters, || run(is_plain)))
            });
        }
        if path == "in_memory" {
            let key = format!("{path}/tight_loop");
            group.bench_function("tight_loop", |b| {
                b.iter_custom(|iters| timed(&samples, &key, iters, || tight_loop(&plain.0)))
            });
        }
        group.finish();
    }
    for (path, _) in paths {
        let plain = median(&samples, &format!("{path}/plain_vec"));
        let bytes = median(&samples, &format!("{path}/serde_bytes"));
        if let (Some(p), Some(b)) = (plain, bytes) {
            println!(
                "serde_bytes_trap/{path}: plain Vec<u8> {:.2} ms, serde_bytes {:.2} ms: {:.1}x",
                p.as_secs_f64() * 1e3,
                b.as_secs_f64() * 1e3,
                p.as_secs_f64() / b.as_secs_f64()
            );
            if let Some(t) = median(&samples, &format!("{path}/tight_loop")) {
                println!(
                    "serde_bytes_trap/{path}: tight loop {:.2} ms: {:.1}x serde_bytes; plain Vec<u8> at {:.2}x the tight loop",
                    t.as_secs_f64() * 1e3,
                    t.as_secs_f64() / b.as_secs_f64(),
                    p.as_secs_f64() / t.as_secs_f64()
                );
            }
        }
    }
    c.final_summary();
}
