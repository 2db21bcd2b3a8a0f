//! The LMMS adapter (`adapters/lmms`) against LMMS's transport of today:
//! `lmms_process` and `lmms_process_spin` (one `RemotePlugin::process`
//! round trip of 2 channels x 256 frames through the adapter at stage 3,
//! blocking and with its bounded spin) against
//! `baseline_lmms_socket_process` (LMMS's string-vector messages over an
//! `AF_UNIX` socket, StartProcessing -> ProcessingDone, the same audio copy
//! through shared memory), and `lmms_midi_stream` against
//! `baseline_lmms_socket_midi` (MIDI events per second host -> plugin).
//! Both sides are C++ programs (`adapters/lmms/bench`, built with
//! `-DIPC_LMMS_BENCH=ON`): the measuring host is started here with the
//! plugin's CPU, starts its plugin program itself and prints its samples
//! (or its rate); the summary is made here, as for the other rows.

use crate::channel::CHANNEL_SPIN;
use crate::external::Program;
use crate::harness::{Harness, Measured, Pace, Peer, STALL_LIMIT};
use ipc_benches::report::{LatencySummary, Measurement};
use ipc_benches::Failure;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How to build the programs, for the failure that says they are missing.
const HOW_TO_BUILD: &str = "build them with `CI=true cargo xtask ci --only setup,lmms`, or by hand:\n  \
cargo xtask install --release --prefix target/lmms-bench/prefix\n  \
cmake -S adapters/lmms -B target/lmms-bench -DIPC_LMMS_BENCH=ON -DIPC_LMMS_TESTS=OFF -DIPC_LMMS_STATIC=ON \
-DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=$PWD/target/lmms-bench/prefix\n  \
cmake --build target/lmms-bench\n\
(or set IPC_LMMS_BENCH to an ipc_lmms_bench built elsewhere, its plugins next to it)";

/// The host program: `$IPC_LMMS_BENCH` (its plugins next to it), else where
/// `cargo xtask ci` builds it (`target/lmms-bench/ipc_lmms_bench`).
const PROGRAM: Program = Program {
    variable: "IPC_LMMS_BENCH",
    dir: "lmms-bench",
    name: "ipc_lmms_bench",
    what: "the LMMS bench program",
    how_to_build: HOW_TO_BUILD,
};

/// The plugin's CPU as the harness pins peers (`-`: anywhere); this
/// process's own pinning is inherited by the host program.
fn plugin_cpu(h: &Harness) -> Result<String, Failure> {
    let peer = h.peer_command()?;
    // `EXE __peer NAME CPU PARENT`
    let args: Vec<String> = peer
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match args.as_slice() {
        [_, _, cpu, _] => Ok(cpu.clone()),
        _ => Err(Failure::new("unexpected peer command line")),
    }
}

/// Runs the host program with `args` to its end (at most `limit`) and
/// returns what it printed.
fn run(h: &Harness, args: &[String], limit: Duration) -> Result<String, Failure> {
    let mut command = Command::new(PROGRAM.path()?);
    command
        .args(args)
        .arg("--cpu")
        .arg(plugin_cpu(h)?)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    PROGRAM.run(command, limit)
}

/// `mode` (`socket_process` or `lmms_process`) with the plugin spinning
/// `spin` before it sleeps (the adapter's only).
fn process_with(h: &mut Harness, mode: &str, spin: Duration) -> Result<Measured, Failure> {
    let (warmup, iters) = h.iterations(Pace::of_spin(spin));
    let args = [
        mode.to_owned(),
        "--warmup".to_owned(),
        warmup.to_string(),
        "--iters".to_owned(),
        iters.to_string(),
        "--spin-ns".to_owned(),
        spin.as_nanos().to_string(),
    ];
    // Each round trip may take up to the stall limit; that bounds the run
    // far beyond what it takes.
    let out = run(h, &args, STALL_LIMIT * 6)?;
    let mut samples = PROGRAM.parse_samples(&out)?;
    let summary = LatencySummary::from_samples(&mut samples)
        .ok_or_else(|| Failure::new("no iterations measured"))?;
    let note = match (mode, spin.is_zero()) {
        ("socket_process", _) => {
            "LMMS today: StartProcessing/ProcessingDone as string-vector messages, \
field by field over socketpair(AF_UNIX), 2 x 256 floats in and out through a shared segment"
                .to_owned()
        }
        (_, true) => "RemotePlugin::process at stage 3: one real-time call, shared audio buffer, \
2 x 256 frames interleaved, blocking"
            .to_owned(),
        (_, false) => format!(
            "RemotePlugin::process at stage 3, realtimeSpin {} us both sides",
            spin.as_micros()
        ),
    };
    Ok(Measured::latency(summary, note))
}

pub(crate) fn socket_process(h: &mut Harness) -> Result<Measured, Failure> {
    process_with(h, "socket_process", Duration::ZERO)
}

pub(crate) fn process(h: &mut Harness) -> Result<Measured, Failure> {
    process_with(h, "lmms_process", Duration::ZERO)
}

pub(crate) fn process_spin(h: &mut Harness) -> Result<Measured, Failure> {
    process_with(h, "lmms_process", CHANNEL_SPIN)
}

/// `mode` (`socket_midi` or `lmms_midi`): events host -> plugin, confirmed
/// by the period after them.
fn midi_with(h: &mut Harness, mode: &str) -> Result<Measured, Failure> {
    let n = h.stream_messages();
    let args = [mode.to_owned(), "--events".to_owned(), n.to_string()];
    let out = run(h, &args, STALL_LIMIT * 8)?;
    let parsed = out.lines().find_map(|l| {
        let mut words = l.strip_prefix("rate ")?.split_whitespace();
        let events: u64 = words.next()?.parse().ok()?;
        let seconds: f64 = words.next()?.parse().ok()?;
        Some((events, seconds))
    });
    let Some((messages, seconds)) = parsed.filter(|(m, s)| *m == n && *s > 0.0) else {
        return Err(Failure::new(
            "the LMMS bench program printed no `rate N SECONDS` line for this stream",
        ));
    };
    let note = if mode == "socket_midi" {
        format!("{n} IdMidiEvent (five %d strings) over the socket, then one period")
    } else {
        format!("{n} RemotePlugin::processMidiEvent at stage 3 (batched into the real-time call), then one period")
    };
    Ok(Measured {
        measurement: Measurement::Rate { messages, seconds },
        note,
    })
}

pub(crate) fn socket_midi(h: &mut Harness) -> Result<Measured, Failure> {
    midi_with(h, "socket_midi")
}

pub(crate) fn midi_stream(h: &mut Harness) -> Result<Measured, Failure> {
    midi_with(h, "lmms_midi")
}

/// The plugin side is a C++ program the host program starts: this binary
/// is never the peer of these rows.
pub(crate) fn no_peer(_: &Peer) -> Result<(), Failure> {
    Err(Failure::new(
        "the lmms_* rows have C++ plugins; ipc-latency is not their peer",
    ))
}
