//! Per-endpoint counters. They live in the endpoint (not in shared memory),
//! cost one add each, and let tests and benchmarks check how often the
//! protocol signals and sleeps.

/// What one endpoint has done since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Wake-ups this endpoint sent to its peer (each is one system call).
    pub signals: u64,
    /// Times this endpoint had to block for its peer (data for a reader,
    /// space for a writer), counted once per blocking operation.
    pub waits: u64,
    /// Blocking operations that the bounded spin satisfied without sleeping.
    pub spin_hits: u64,
    /// Times the writer published a blob (`commit`); zero for a reader.
    pub commits: u64,
    /// Bytes written or read.
    pub bytes: u64,
}
