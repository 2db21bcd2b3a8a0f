//! In-process streaming: a producer thread appends and commits 1 MiB blobs,
//! a consumer thread reads them into a 1 MiB buffer, through the same ring
//! and spin setting as `ipc-latency`'s `channel_stream` (2 MiB, 50 us), so
//! the two-process figure can be compared with one without a process
//! boundary. Threads are not pinned.
//!
//! `cargo bench -p ipc-benches --bench stream_threads` (add `-- --quick`).

use criterion::{criterion_main, Criterion, Throughput};
use ipc_benches::loopback;
use std::time::{Duration, Instant};

const BLOB: usize = 1 << 20;
const RING: usize = 2 * BLOB;
const SPIN: Duration = Duration::from_micros(50);

/// Blobs streamed before the clock starts (thread start, first touches).
const WARM_UP_BLOBS: u64 = 8;

/// Streams `blobs` blobs (after a warm-up) from a new producer thread to this
/// thread and returns the time the consumer took to receive them.
fn stream(blobs: u64) -> Duration {
    let (_segment, mut writer, mut reader) = loopback(RING);
    writer.set_spin(SPIN);
    reader.set_spin(SPIN);
    let blob: Vec<u8> = (0..BLOB).map(|i| i as u8).collect();
    let mut buf = vec![0u8; BLOB];
    std::thread::scope(|s| {
        s.spawn(move || {
            for _ in 0..WARM_UP_BLOBS + blobs {
                writer
                    .append(&blob)
                    .unwrap_or_else(|e| panic!("append: {e}"));
                writer.commit().unwrap_or_else(|e| panic!("commit: {e}"));
            }
        });
        let mut receive = |count: u64| {
            let mut left = count * BLOB as u64;
            while left > 0 {
                let want = usize::try_from(left).unwrap_or(usize::MAX).min(BLOB);
                left -= reader
                    .read_into(&mut buf[..want])
                    .unwrap_or_else(|e| panic!("read: {e}")) as u64;
            }
        };
        receive(WARM_UP_BLOBS);
        let start = Instant::now();
        receive(blobs);
        start.elapsed()
    })
}

fn stream_between_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream_threads");
    group
        .throughput(Throughput::Bytes(BLOB as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("channel_1MiB_blobs", |b| b.iter_custom(stream));
    group.finish();
}

/// The harness's entry (private: criterion's macro makes an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(benches, super::stream_between_threads);
}
criterion_main!(group::benches);
