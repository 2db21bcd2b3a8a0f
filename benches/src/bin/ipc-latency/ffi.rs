//! Layer III through the C ABI: `ffi_rt_call`, `ffi_rt_call_spin` and
//! `ffi_main_link_stream` do the work of `rt_call`, `rt_call_spin` and
//! `main_link_stream` ([`crate::link`]) with the host side written in C++
//! over `ipc.hpp` (`benches/cpp/ipc_ffi_bench.cpp`, linked with a release
//! `libipc.a`). The plugin side is this binary's own Rust peer, so only the
//! host side changes. The C++ program is started here, starts the peer
//! itself, and prints its samples (or its rate); the summary is made here
//! from them, as for the Rust rows.

use crate::channel::CHANNEL_SPIN;
use crate::external::Program;
use crate::harness::{Harness, Measured, Pace, STALL_LIMIT};
use ipc_benches::report::{LatencySummary, Measurement};
use ipc_benches::Failure;
use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How to build the C++ program, for the failure that says it is missing.
const HOW_TO_BUILD: &str =
    "build it with `CI=true cargo xtask ci --only setup,c-cpp`, or by hand:\n  \
cargo xtask install --release --prefix target/ffi-bench/prefix\n  \
cmake -S benches/cpp -B target/ffi-bench -DCMAKE_PREFIX_PATH=$PWD/target/ffi-bench/prefix\n  \
cmake --build target/ffi-bench\n\
(or set IPC_FFI_BENCH to a build elsewhere)";

/// The C++ program: `$IPC_FFI_BENCH`, else where the `c-cpp` step of
/// `cargo xtask ci` builds it (`target/ffi-bench/ipc_ffi_bench`).
const PROGRAM: Program = Program {
    variable: "IPC_FFI_BENCH",
    dir: "ffi-bench",
    name: "ipc_ffi_bench",
    what: "the C++ bench program",
    how_to_build: HOW_TO_BUILD,
};

/// The C++ program's command line for one row: its mode and arguments,
/// then the peer it starts (`EXE NAME CPU`, as the harness starts peers;
/// the program adds its own process ID and the connection string).
fn command(h: &Harness, args: &[String]) -> Result<Command, Failure> {
    let peer = h.peer_command()?;
    // `EXE __peer NAME CPU PARENT`: the peer is this binary, for this row,
    // pinned as the harness pins it; its parent will be the C++ program.
    let peer_args: Vec<OsString> = peer.get_args().map(|a| a.to_owned()).collect();
    let [_, name, cpu, _] = peer_args.as_slice() else {
        return Err(Failure::new("unexpected peer command line"));
    };
    let mut command = Command::new(PROGRAM.path()?);
    command
        .args(args)
        .arg("--peer")
        .arg(peer.get_program())
        .arg(name)
        .arg(cpu)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    Ok(command)
}

fn rt_call_with(h: &mut Harness, spin: Duration) -> Result<Measured, Failure> {
    let (warmup, iters) = h.iterations(Pace::of_spin(spin));
    let args = [
        "rt_call".to_owned(),
        "--warmup".to_owned(),
        warmup.to_string(),
        "--iters".to_owned(),
        iters.to_string(),
        "--spin-ns".to_owned(),
        spin.as_nanos().to_string(),
    ];
    // Each round trip may take up to the stall limit; that bounds the run
    // far beyond what it takes.
    let out = PROGRAM.run(command(h, &args)?, STALL_LIMIT * 6)?;
    let mut samples = PROGRAM.parse_samples(&out)?;
    let summary = LatencySummary::from_samples(&mut samples)
        .ok_or_else(|| Failure::new("no iterations measured"))?;
    let note = if spin.is_zero() {
        "C++ host (ipc.hpp RtCaller::call, std::nothrow) / Rust RtServer::serve, blocking"
            .to_owned()
    } else {
        format!(
            "C++ host (ipc.hpp RtCaller::call, std::nothrow) / Rust RtServer::serve, spin {} us both sides",
            spin.as_micros()
        )
    };
    Ok(Measured::latency(summary, note))
}

pub(crate) fn rt_call(h: &mut Harness) -> Result<Measured, Failure> {
    rt_call_with(h, Duration::ZERO)
}

pub(crate) fn rt_call_spin(h: &mut Harness) -> Result<Measured, Failure> {
    rt_call_with(h, CHANNEL_SPIN)
}

pub(crate) fn main_link_stream(h: &mut Harness) -> Result<Measured, Failure> {
    let n = h.stream_messages();
    let args = [
        "main_link_stream".to_owned(),
        "--messages".to_owned(),
        n.to_string(),
    ];
    let out = PROGRAM.run(command(h, &args)?, STALL_LIMIT * 8)?;
    let parsed = out.lines().find_map(|l| {
        let mut words = l.strip_prefix("rate ")?.split_whitespace();
        let messages: u64 = words.next()?.parse().ok()?;
        let seconds: f64 = words.next()?.parse().ok()?;
        Some((messages, seconds))
    });
    let Some((messages, seconds)) = parsed.filter(|(m, s)| *m == n && *s > 0.0) else {
        return Err(Failure::new(
            "the C++ bench program printed no `rate N SECONDS` line for this stream",
        ));
    };
    Ok(Measured {
        measurement: Measurement::Rate { messages, seconds },
        note: format!("{n} Tick(u64) messages plugin -> C++ host (ipc.hpp MainLink::on), each dispatched to a handler"),
    })
}
