//! Latency samples, percentiles and the formatting of the report.

use std::time::Duration;

/// Round-trip times of one kind of call.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    ns: Vec<u64>,
    sorted: bool,
}

impl Samples {
    /// Room for `n` samples (so that recording never allocates).
    pub fn with_capacity(n: usize) -> Samples {
        Samples {
            ns: Vec::with_capacity(n),
            sorted: false,
        }
    }

    /// Records one round trip.
    pub fn push(&mut self, d: Duration) {
        self.ns.push(d.as_nanos().min(u128::from(u64::MAX)) as u64);
        self.sorted = false;
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.ns.len()
    }

    /// The `p` quantile (0..=1), nearest rank; zero when empty.
    pub fn quantile(&mut self, p: f64) -> Duration {
        if self.ns.is_empty() {
            return Duration::ZERO;
        }
        if !self.sorted {
            self.ns.sort_unstable();
            self.sorted = true;
        }
        let rank = ((p * self.ns.len() as f64).ceil() as usize).clamp(1, self.ns.len());
        Duration::from_nanos(self.ns[rank - 1])
    }
}

/// A duration for humans: `4.52 us`, `45.2 us`, `1.23 ms`, `2.00 s`.
pub fn dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.2} us")
    } else if us < 1000.0 {
        format!("{us:.1} us")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// A level in dBFS.
pub fn dbfs(amplitude: f32) -> String {
    if amplitude <= 0.0 {
        "-inf dBFS".into()
    } else {
        format!("{:.1} dBFS", 20.0 * amplitude.log10())
    }
}

/// Prints one line of the report under a step label (empty: continuation).
pub fn line(label: &str, text: impl std::fmt::Display) {
    println!("{label:<10}{text}");
}
