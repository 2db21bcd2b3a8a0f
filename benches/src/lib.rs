//! Benchmark support (see the binaries and `benches/`).
