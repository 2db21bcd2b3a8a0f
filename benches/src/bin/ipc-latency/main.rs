//! `ipc-latency`: round-trip latency and streaming throughput between two
//! processes, for the channel and for baselines measured in the same run
//! (a raw futex, pure spinning, a Unix socket). See `docs/BENCHMARKS.md`.
//!
//! ```text
//! ipc-latency [--json] [--progress] [--only a,b] [--pin none|split|same] [--iters N] [--rounds N]
//! ```
//!
//! The binary plays both processes: it re-executes itself with the hidden
//! first argument `__peer` for the other side.
//!
//! Where things are:
//!
//! * this file: the registry ([`BENCHES`]), the entry point and the run loop
//!   (selection, rounds, the report);
//! * [`options`]: the command line;
//! * [`harness`]: starting and watching the peer process, timing round trips
//!   and streams;
//! * [`baselines`]: raw futex, pure spin and Unix-socket baselines;
//! * [`channel`], [`msgpack`], [`link`]: one file per layer under test;
//! * [`loaded`]: the real-time calls again under main-link load;
//! * [`scale`]: many plugins on one host, called once per period each;
//! * [`ffi`]: the link rows again with a C++ host over the C ABI.
//! * [`lmms`]: the LMMS adapter against LMMS's socket transport, both
//!   sides C++ programs.
//!
//! Adding a benchmark takes a measuring function
//! (`fn(&mut Harness) -> Result<Measured, Failure>`, which spawns the peer
//! with [`Harness::spawn_peer`]), a peer function (`fn(&Peer) -> Result<(),
//! Failure>`) and one line in [`BENCHES`].

mod baselines;
mod channel;
mod external;
mod ffi;
mod harness;
mod link;
mod lmms;
mod loaded;
mod msgpack;
mod options;
mod scale;
mod state;

use harness::{Harness, Measured, Peer, PEER_ROLE};
use ipc_benches::report::{self, Outcome, Row};
use ipc_benches::Failure;
use options::Options;
use std::process::ExitCode;

/// One benchmark: a name, what it is compared with, and the code for each
/// of the two processes.
struct Bench {
    name: &'static str,
    /// The result this one is compared with in the table (it must come
    /// earlier in [`BENCHES`]).
    baseline: Option<&'static str>,
    /// Runs in the measuring process, which spawns the peer.
    measure: fn(&mut Harness) -> Result<Measured, Failure>,
    /// Runs in the peer process.
    peer: fn(&Peer) -> Result<(), Failure>,
}

/// Every benchmark, in the order they are reported (each runs right after
/// its baseline, see [`run_order`]).
#[rustfmt::skip]
const BENCHES: &[Bench] = &[
    Bench { name: "baseline_futex_pingpong", baseline: None, measure: baselines::futex_pingpong, peer: baselines::futex_pingpong_peer },
    Bench { name: "baseline_spin_pingpong", baseline: None, measure: baselines::spin_pingpong, peer: baselines::spin_pingpong_peer },
    Bench { name: "baseline_uds_pingpong", baseline: None, measure: baselines::uds_pingpong, peer: baselines::uds_pingpong_peer },
    Bench { name: "channel_pingpong", baseline: Some("baseline_futex_pingpong"), measure: channel::pingpong, peer: channel::pingpong_peer },
    Bench { name: "channel_pingpong_spin", baseline: Some("baseline_spin_pingpong"), measure: channel::pingpong_spin, peer: channel::pingpong_spin_peer },
    Bench { name: "baseline_uds_stream", baseline: None, measure: baselines::uds_stream, peer: baselines::uds_stream_peer },
    Bench { name: "channel_stream", baseline: Some("baseline_uds_stream"), measure: channel::stream, peer: channel::stream_peer },
    Bench { name: "msgpack_pingpong", baseline: Some("channel_pingpong"), measure: msgpack::pingpong, peer: msgpack::pingpong_peer },
    Bench { name: "rt_call", baseline: Some("baseline_futex_pingpong"), measure: link::rt_call, peer: link::peer },
    Bench { name: "rt_call_spin", baseline: Some("baseline_spin_pingpong"), measure: link::rt_call_spin, peer: link::rt_call_spin_peer },
    Bench { name: "rt_call_loaded", baseline: Some("rt_call"), measure: loaded::rt_call_loaded, peer: loaded::peer },
    Bench { name: "rt_call_spin_loaded", baseline: Some("rt_call_spin"), measure: loaded::rt_call_spin_loaded, peer: loaded::spin_peer },
    Bench { name: "main_link_request", baseline: Some("baseline_uds_pingpong"), measure: link::main_link_request, peer: link::peer },
    Bench { name: "baseline_uds_msgs", baseline: None, measure: baselines::uds_msgs, peer: baselines::uds_msgs_peer },
    Bench { name: "main_link_stream", baseline: Some("baseline_uds_msgs"), measure: link::main_link_stream, peer: link::peer },
    Bench { name: "ffi_rt_call", baseline: Some("rt_call"), measure: ffi::rt_call, peer: link::peer },
    Bench { name: "ffi_rt_call_spin", baseline: Some("rt_call_spin"), measure: ffi::rt_call_spin, peer: link::rt_call_spin_peer },
    Bench { name: "ffi_main_link_stream", baseline: Some("main_link_stream"), measure: ffi::main_link_stream, peer: link::peer },
    Bench { name: "baseline_lmms_socket_process", baseline: None, measure: lmms::socket_process, peer: lmms::no_peer },
    Bench { name: "baseline_spin_audio_process", baseline: Some("baseline_lmms_socket_process"), measure: baselines::spin_audio_process, peer: baselines::spin_audio_process_peer },
    Bench { name: "lmms_process", baseline: Some("baseline_lmms_socket_process"), measure: lmms::process, peer: lmms::no_peer },
    Bench { name: "lmms_process_spin", baseline: Some("baseline_lmms_socket_process"), measure: lmms::process_spin, peer: lmms::no_peer },
    Bench { name: "baseline_lmms_socket_midi", baseline: None, measure: lmms::socket_midi, peer: lmms::no_peer },
    Bench { name: "lmms_midi_stream", baseline: Some("baseline_lmms_socket_midi"), measure: lmms::midi_stream, peer: lmms::no_peer },
    Bench { name: "baseline_memcpy_fresh_64mib_x4", baseline: None, measure: state::memcpy_fresh, peer: state::no_peer },
    Bench { name: "state_roundtrip_64mib", baseline: Some("baseline_memcpy_fresh_64mib_x4"), measure: state::roundtrip_fresh, peer: state::peer },
    Bench { name: "baseline_memcpy_warm_64mib_x4", baseline: None, measure: state::memcpy_warm, peer: state::no_peer },
    Bench { name: "state_roundtrip_64mib_into", baseline: Some("baseline_memcpy_warm_64mib_x4"), measure: state::roundtrip_into, peer: state::peer },
    Bench { name: "baseline_round_robin_1", baseline: None, measure: scale::round_robin_1, peer: scale::raw_peer },
    Bench { name: "baseline_round_robin_64", baseline: Some("baseline_round_robin_1"), measure: scale::round_robin_64, peer: scale::raw_peer },
    Bench { name: "baseline_round_robin_spin_1", baseline: None, measure: scale::round_robin_spin_1, peer: scale::raw_peer },
    Bench { name: "baseline_round_robin_spin_64", baseline: Some("baseline_round_robin_spin_1"), measure: scale::round_robin_spin_64, peer: scale::raw_peer },
    Bench { name: "link_scale_1", baseline: Some("rt_call"), measure: scale::link_scale_1, peer: scale::peer },
    Bench { name: "link_scale_8", baseline: Some("rt_call"), measure: scale::link_scale_8, peer: scale::peer },
    Bench { name: "link_scale_32", baseline: Some("rt_call"), measure: scale::link_scale_32, peer: scale::peer },
    Bench { name: "link_scale_64", baseline: Some("rt_call"), measure: scale::link_scale_64, peer: scale::peer },
    Bench { name: "link_scale_spin_1", baseline: Some("rt_call_spin"), measure: scale::link_scale_spin_1, peer: scale::peer },
    Bench { name: "link_scale_spin_8", baseline: Some("rt_call_spin"), measure: scale::link_scale_spin_8, peer: scale::peer },
    Bench { name: "link_scale_spin_32", baseline: Some("rt_call_spin"), measure: scale::link_scale_spin_32, peer: scale::peer },
    Bench { name: "link_scale_spin_64", baseline: Some("rt_call_spin"), measure: scale::link_scale_spin_64, peer: scale::peer },
];

fn find_bench(name: &str) -> Option<&'static Bench> {
    BENCHES.iter().find(|b| b.name == name)
}

fn bench_names() -> Vec<&'static str> {
    BENCHES.iter().map(|b| b.name).collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(PEER_ROLE) {
        return harness::peer_main(&args[1..]);
    }
    match Options::parse(&args) {
        Ok(None) => {
            print!("{}", options::usage());
            ExitCode::SUCCESS
        }
        Ok(Some(options)) => run(&options),
        Err(e) => {
            eprintln!("ipc-latency: {e}\n\n{}", options::usage());
            ExitCode::from(2)
        }
    }
}

fn run(options: &Options) -> ExitCode {
    if let Err(e) = harness::pin_parent(options.pin) {
        eprintln!("ipc-latency: {e}");
        return ExitCode::FAILURE;
    }
    let selected: Vec<&Bench> = BENCHES
        .iter()
        .filter(|b| {
            options
                .only
                .as_ref()
                .is_none_or(|only| only.contains(&b.name))
        })
        .collect();
    if !options.json || options.progress {
        eprintln!(
            "ipc-latency: pin {}, {} round trips spinning / {} blocking (plus a tenth as warm-up)",
            options.pin.name(),
            options.iters,
            options::blocking_iters(options.iters)
        );
    }
    let order = run_order(&selected);
    // rounds[r] holds what ran in round r; each round runs every benchmark
    // right after its baseline, and ratios never mix rounds.
    let mut rounds: Vec<Vec<Outcome>> = Vec::new();
    let mut failed = false;
    for round in 1..=options.rounds {
        if !options.json && options.rounds > 1 {
            eprintln!(" round {round} of {}", options.rounds);
        }
        let mut outcomes = Vec::new();
        for bench in &order {
            if !options.json {
                eprintln!("  {} ...", bench.name);
            } else if options.progress {
                eprintln!("round {round}/{}: {} ...", options.rounds, bench.name);
            }
            let mut harness = Harness::new(bench.name, options.pin, options.iters);
            match (bench.measure)(&mut harness) {
                Ok(m) => {
                    let outcome = Outcome {
                        name: bench.name,
                        measurement: m.measurement,
                        note: m.note,
                    };
                    if options.json {
                        let round = (options.rounds > 1).then_some(round);
                        println!(
                            "{}",
                            report::json_line_in_context(&outcome, round, bench.baseline)
                        );
                    }
                    outcomes.push(outcome);
                }
                Err(e) => {
                    eprintln!("ipc-latency: {} failed: {e}", bench.name);
                    failed = true;
                }
            }
        }
        rounds.push(outcomes);
    }
    if !options.json {
        print_table(&selected, &rounds, options.rounds);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The human report: one row per benchmark that ran, in registry order
/// (whatever the order they ran in), with its median round and its ratios
/// to its baseline within each round.
fn print_table(selected: &[&Bench], rounds: &[Vec<Outcome>], round_count: usize) {
    let in_round =
        |r: &[Outcome], name: &str| -> Option<usize> { r.iter().position(|o| o.name == name) };
    let mut rows: Vec<Row<'_>> = Vec::new();
    for bench in selected {
        let ran: Vec<&Outcome> = rounds
            .iter()
            .filter_map(|r| in_round(r, bench.name).map(|i| &r[i]))
            .collect();
        let Some(shown) = report::representative(&ran) else {
            continue;
        };
        let versus = bench.baseline.and_then(|base| {
            let ratios: Vec<f64> = rounds
                .iter()
                .filter_map(|r| {
                    let of = &r[in_round(r, bench.name)?];
                    let baseline = &r[in_round(r, base)?];
                    report::ratio(&of.measurement, &baseline.measurement)
                })
                .collect();
            (!ratios.is_empty()).then_some((base, ratios))
        });
        rows.push(Row {
            outcome: ran[shown],
            versus,
        });
    }
    print!("{}", report::table(&rows));
    println!("ratio: p50 / baseline p50 for latencies (lower is better), rate / baseline rate for throughputs (higher is better)");
    if round_count > 1 {
        println!(
            "{round_count} rounds: each row shows its median round; the ratio is the median of the same-round ratios, their range in brackets"
        );
    }
}

/// The order to run `selected` in (see [`ipc_benches::run_order`]).
fn run_order<'a>(selected: &[&'a Bench]) -> Vec<&'a Bench> {
    let pairs: Vec<(&str, Option<&str>)> = selected.iter().map(|b| (b.name, b.baseline)).collect();
    ipc_benches::run_order(&pairs)
        .into_iter()
        .map(|i| selected[i])
        .collect()
}
