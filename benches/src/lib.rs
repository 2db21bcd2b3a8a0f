//! Support code for the benchmarks of this workspace: the two-process latency
//! harness (`src/bin/ipc-latency/`) and the criterion benches (`benches/`).
//!
//! * [`report`]: latency summaries, throughput, the human table and the
//!   one-object-per-line JSON output;
//! * [`sys`]: the little operating-system code the raw baselines need
//!   (pinning, a shared page with futex words, inheritable descriptors);
//! * [`Failure`] and [`Context`]: errors that say what was being done;
//! * [`run_order`]: each result runs right after the baseline it is compared with;
//! * [`loopback`]: a channel with both ends in this process, for the criterion
//!   benches.
#![deny(unsafe_op_in_unsafe_fn, missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod report;
pub mod sys;

use ipc_channel_shm::{Reader, Segment, Writer};
use std::fmt;

/// A benchmark that could not run, with a message saying what failed.
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure(message.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// Attaches what was being done to an error: `.context("opening the segment")?`.
pub trait Context<T> {
    /// Turns the error into a [`Failure`] reading "`what`: `error`".
    ///
    /// # Errors
    /// The wrapped error, described.
    fn context(self, what: &str) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure(format!("{what}: {e}")))
    }
}

/// A segment of one channel of `capacity` bytes, created as for another
/// process (`Segment::create`), with both of its ends claimed here: the
/// channel as two processes would use it, without the second process. The
/// segment is returned too, to live as long as the ends are used.
///
/// # Panics
/// If the segment cannot be created or an end claimed (a bench cannot run
/// then).
pub fn loopback(capacity: usize) -> (Segment, Writer, Reader) {
    let segment = Segment::create(&[capacity])
        .unwrap_or_else(|e| panic!("creating a {capacity} byte shared segment: {e}"));
    let writer = segment
        .writer(0)
        .unwrap_or_else(|e| panic!("claiming the writer: {e}"));
    let reader = segment
        .reader(0)
        .unwrap_or_else(|e| panic!("claiming the reader: {e}"));
    (segment, writer, reader)
}

/// The order to run benchmarks in, as indices into `benches` (given in
/// registry order as `(name, baseline)`): registry order, except that each
/// one whose baseline is among them runs right after that baseline (and its
/// own dependents right after it). The machine drifts (a VM's vCPUs move
/// between host cores), so a ratio is only as good as the time between its
/// two measurements is short. Every index appears exactly once.
pub fn run_order(benches: &[(&str, Option<&str>)]) -> Vec<usize> {
    fn visit(
        i: usize,
        benches: &[(&str, Option<&str>)],
        done: &mut [bool],
        order: &mut Vec<usize>,
    ) {
        if done[i] {
            return;
        }
        done[i] = true;
        order.push(i);
        for (j, (_, baseline)) in benches.iter().enumerate() {
            if *baseline == Some(benches[i].0) {
                visit(j, benches, done, order);
            }
        }
    }
    let selected = |name: &str| benches.iter().any(|(n, _)| *n == name);
    let mut done = vec![false; benches.len()];
    let mut order = Vec::with_capacity(benches.len());
    for (i, (_, baseline)) in benches.iter().enumerate() {
        if !baseline.is_some_and(selected) {
            visit(i, benches, &mut done, &mut order);
        }
    }
    // Only a cycle of baselines is left: run it in registry order.
    for i in 0..benches.len() {
        visit(i, benches, &mut done, &mut order);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::run_order;

    #[test]
    fn results_run_right_after_their_baselines() {
        let benches = [
            ("futex", None),
            ("spin", None),
            ("chan", Some("futex")),
            ("chan_spin", Some("spin")),
            ("msgpack", Some("chan")),
            ("rt", Some("futex")),
            ("orphan", Some("not selected")),
        ];
        let names: Vec<&str> = run_order(&benches)
            .into_iter()
            .map(|i| benches[i].0)
            .collect();
        assert_eq!(
            names,
            [
                "futex",
                "chan",
                "msgpack",
                "rt",
                "spin",
                "chan_spin",
                "orphan"
            ]
        );
        let cycle = [("a", Some("b")), ("b", Some("a"))];
        assert_eq!(run_order(&cycle), [0, 1]);
    }
}
