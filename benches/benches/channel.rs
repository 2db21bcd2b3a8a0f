//! In-process cost of moving one blob through a channel: append + commit,
//! then read_exact_into, on one thread (no waiting, no wake-ups: the pure
//! copy and bookkeeping cost), next to a plain memcpy of the same size.
//!
//! The channel copies twice (into the ring, out of it), memcpy once. Each
//! ring holds two blobs (at least 4 KiB), the size a user would pick.
//!
//! `cargo bench -p ipc-benches --bench channel` (add `-- --quick` for a
//! short run).

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use ipc_benches::loopback;
use std::hint::black_box;
use std::time::Duration;

/// Offset between the end of the source and the start of the destination.
const SKEW: usize = 4096 + 2048;

const SIZES: [(usize, &str); 3] = [(8, "8B"), (4 << 10, "4KiB"), (1 << 20, "1MiB")];

fn ring_for(blob: usize) -> usize {
    (2 * blob).next_power_of_two().max(4096)
}

fn blob_through_channel(c: &mut Criterion) {
    let mut group = c.benchmark_group("blob");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (size, label) in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        // Source and destination a page and a half apart: buffers whose
        // distance is (nearly) a multiple of 4 KiB send `rep movsb` down a
        // slow path on some AMD CPUs (this VM's included), which would make
        // the baseline measure an aliasing accident instead of a copy.
        let mut buffers = vec![0u8; 2 * size + SKEW];
        let (src, dst) = buffers.split_at_mut(size + SKEW);
        let src = &mut src[..size];
        src.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let src: &[u8] = src;

        group.bench_with_input(BenchmarkId::new("memcpy", label), &size, |b, _| {
            b.iter(|| {
                dst.copy_from_slice(black_box(src));
                black_box(&mut *dst);
            })
        });

        let (_segment, mut writer, mut reader) = loopback(ring_for(size));
        group.bench_with_input(BenchmarkId::new("channel", label), &size, |b, _| {
            b.iter(|| {
                writer
                    .append(black_box(src))
                    .unwrap_or_else(|e| panic!("append: {e}"));
                writer.commit().unwrap_or_else(|e| panic!("commit: {e}"));
                reader
                    .read_exact_into(dst)
                    .unwrap_or_else(|e| panic!("read: {e}"));
                black_box(&mut *dst);
            })
        });
    }
    group.finish();
}

/// The harness's entry (private: criterion's macro makes an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(benches, super::blob_through_channel);
}
criterion_main!(group::benches);
