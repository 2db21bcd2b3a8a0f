//! Per-endpoint counters. They live in the endpoint (not in shared memory),
//! cost one add each, and let tests and benchmarks check how often the
//! protocol signals and sleeps.

/// What one endpoint has done since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Wake-ups this endpoint sent to its peer (each is one system call).
    pub signals: u64,
    /// Times this endpoint found the ring empty (reader) or full (writer)
    /// and had to wait for its peer, counted once per operation. A writer
    /// publishes what it has written at each of these.
    pub waits: u64,
    /// Waits that the bounded spin ended without sleeping.
    pub spin_hits: u64,
    /// Times this endpoint went to sleep in the kernel (a wait may sleep
    /// more than once: the sleep is cut into slices to check the peer's
    /// health).
    pub sleeps: u64,
    /// Times the writer published a blob (`commit`); zero for a reader.
    pub commits: u64,
    /// Bytes written or read.
    pub bytes: u64,
}
