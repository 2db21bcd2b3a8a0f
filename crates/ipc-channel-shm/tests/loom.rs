//! Model checks of the wait/wake protocol with loom: every interleaving (up
//! to a preemption bound) of a writer and a reader on the in-process backend,
//! which runs the very same channel code with loom's atomics and condition
//! variable. A lost wake-up shows up as a deadlock, which loom reports.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p ipc-channel-shm --test loom --release`.
#![cfg(loom)]

use ipc_channel_shm::{Error, Segment};
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

#[test]
fn a_sleeping_reader_never_misses_a_commit() {
    model(|| {
        let s = Segment::in_process(&[64]).unwrap();
        let mut w = s.writer(0).unwrap();
        let mut r = s.reader(0).unwrap();
        let t = thread::spawn(move || {
            w.append(&[1; 8]).unwrap();
            w.commit().unwrap();
            w.append(&[2; 8]).unwrap();
            w.commit().unwrap();
            w
        });
        let mut buf = [0u8; 16];
        r.read_exact_into(&mut buf).unwrap();
        assert_eq!(&buf[..8], &[1; 8]);
        assert_eq!(&buf[8..], &[2; 8]);
        drop(t.join().unwrap());
    });
}

#[test]
fn a_writer_waiting_for_space_never_misses_the_reader_freeing_it() {
    model(|| {
        let s = Segment::in_process(&[64]).unwrap();
        let mut w = s.writer(0).unwrap();
        let mut r = s.reader(0).unwrap();
        // 100 bytes through a 64-byte ring: the writer must wait for space at
        // least once, and the reader for data.
        let t = thread::spawn(move || {
            w.append(&[7; 100]).unwrap();
            w.commit().unwrap();
            w.stats()
        });
        let mut buf = [0u8; 100];
        r.read_exact_into(&mut buf).unwrap();
        assert!(buf.iter().all(|&b| b == 7));
        let ws = t.join().unwrap();
        assert!(ws.waits >= 1);
        assert!(ws.signals <= ws.commits + ws.waits);
    });
}

#[test]
fn closing_the_writer_always_wakes_the_reader() {
    model(|| {
        let s = Segment::in_process(&[64]).unwrap();
        let mut w = s.writer(0).unwrap();
        let mut r = s.reader(0).unwrap();
        let t = thread::spawn(move || {
            w.append(&[3; 4]).unwrap();
            drop(w);
        });
        let mut buf = [0u8; 8];
        let mut got = 0;
        loop {
            match r.read_into(&mut buf) {
                Ok(n) => got += n,
                Err(Error::Closed) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, 4);
        t.join().unwrap();
    });
}

#[test]
fn closing_the_reader_always_wakes_a_writer_waiting_for_space() {
    model(|| {
        let s = Segment::in_process(&[64]).unwrap();
        let mut w = s.writer(0).unwrap();
        let r = s.reader(0).unwrap();
        let t = thread::spawn(move || w.append(&[0; 65]));
        drop(r);
        assert!(matches!(t.join().unwrap(), Err(Error::Closed)));
    });
}
