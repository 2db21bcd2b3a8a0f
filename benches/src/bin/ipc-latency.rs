//! `ipc-latency`: round-trip latency and streaming throughput between two
//! processes, for the channel and for baselines measured in the same run
//! (a raw futex, pure spinning, a Unix socket). See `docs/BENCHMARKS.md`.
//!
//! ```text
//! ipc-latency [--json] [--only a,b] [--pin none|split|same] [--iters N]
//! ```
//!
//! The binary plays both processes: it re-executes itself with the hidden
//! first argument `__peer` for the other side.
//!
//! Adding a benchmark takes a measuring function
//! (`fn(&mut Harness) -> Result<Measured, Failure>`, which spawns the peer
//! with [`Harness::spawn_peer`]), a peer function (`fn(&Peer) -> Result<(),
//! Failure>`) and one line in [`BENCHES`].

use ipc_benches::report::{self, LatencySummary, Measurement, Outcome, Row};
use ipc_benches::sys::{self, SharedPage, Socket, Woken};
use ipc_benches::{Context, Failure};
use ipc_channel_shm::{Error as ChannelError, Reader, Segment, Stats, Writer};
use std::io::{self, Read, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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

/// Every benchmark, in the order they run and are reported.
#[rustfmt::skip]
const BENCHES: &[Bench] = &[
    Bench { name: "baseline_futex_pingpong", baseline: None, measure: baseline_futex_pingpong, peer: baseline_futex_pingpong_peer },
    Bench { name: "baseline_spin_pingpong", baseline: None, measure: baseline_spin_pingpong, peer: baseline_spin_pingpong_peer },
    Bench { name: "baseline_uds_pingpong", baseline: None, measure: baseline_uds_pingpong, peer: baseline_uds_pingpong_peer },
    Bench { name: "channel_pingpong", baseline: Some("baseline_futex_pingpong"), measure: channel_pingpong, peer: channel_pingpong_peer },
    Bench { name: "channel_pingpong_spin", baseline: Some("baseline_spin_pingpong"), measure: channel_pingpong_spin, peer: channel_pingpong_spin_peer },
    Bench { name: "baseline_uds_stream", baseline: None, measure: baseline_uds_stream, peer: baseline_uds_stream_peer },
    Bench { name: "channel_stream", baseline: Some("baseline_uds_stream"), measure: channel_stream, peer: channel_stream_peer },
    Bench { name: "msgpack_pingpong", baseline: Some("channel_pingpong"), measure: msgpack_pingpong, peer: msgpack_pingpong_peer },
    Bench { name: "rt_call", baseline: Some("baseline_futex_pingpong"), measure: rt_call, peer: link_peer },
    Bench { name: "rt_call_spin", baseline: Some("baseline_spin_pingpong"), measure: rt_call_spin, peer: rt_call_spin_peer },
    Bench { name: "main_link_request", baseline: Some("baseline_uds_pingpong"), measure: main_link_request, peer: link_peer },
    Bench { name: "baseline_uds_msgs", baseline: None, measure: baseline_uds_msgs, peer: baseline_uds_msgs_peer },
    Bench { name: "main_link_stream", baseline: Some("baseline_uds_msgs"), measure: main_link_stream, peer: link_peer },
];

/// The hidden first argument that makes this binary the peer process.
const PEER_ROLE: &str = "__peer";

/// Default `--iters`: round trips of the spinning ping-pongs. The blocking
/// ones (a hundred times slower per round trip on a VM) run a fifth of it.
const DEFAULT_ITERS: u64 = 100_000;
const BLOCKING_SHARE: u64 = 5;

/// How often a waiting side checks that its peer still runs.
const LIVENESS_INTERVAL: Duration = Duration::from_millis(100);
/// How long a side waits for an answer before it calls the peer hung.
const STALL_LIMIT: Duration = Duration::from_secs(10);
/// Spins between two liveness checks (and yields) in the pure-spin baseline.
const SPINS_PER_CHECK: u32 = 1024;

/// Ring of each ping-pong channel: room for many 8-byte messages.
const PINGPONG_RING: usize = 4096;
/// The bounded spin of `channel_pingpong_spin` and `channel_stream`.
const CHANNEL_SPIN: Duration = Duration::from_micros(50);

/// Bytes timed in each run of a streaming benchmark; it reports the median
/// of the runs, which follow a warm-up in one continuous stream.
const STREAM_BYTES: u64 = 256 << 20;
const STREAM_REPEATS: u64 = 5;
const STREAM_WARMUP: u64 = 32 << 20;
/// Size of each write (socket) or blob (channel), and of the reader's buffer.
const STREAM_CHUNK: usize = 1 << 20;
/// Ring of `channel_stream`: two blobs, so the producer fills one while the
/// consumer drains the other.
const STREAM_RING: usize = 2 * STREAM_CHUNK;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(PEER_ROLE) {
        return peer_main(&args[1..]);
    }
    match Options::parse(&args) {
        Ok(None) => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Ok(Some(options)) => run(&options),
        Err(e) => {
            eprintln!("ipc-latency: {e}\n\n{}", usage());
            ExitCode::from(2)
        }
    }
}

fn usage() -> String {
    let names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
    format!(
        "\
usage: ipc-latency [--json] [--only NAME,...] [--pin none|split|same] [--iters N] [--rounds N]

  --json         one JSON object per result and line instead of a table
  --only LIST    run only these benchmarks (comma-separated names; they run
                 in the order below)
  --pin MODE     split: parent on CPU 0, peer on CPU 1 (default);
                 same: both on CPU 0; none: no pinning
  --iters N      round trips of the spinning ping-pongs (default {DEFAULT_ITERS});
                 the blocking ones run N/{BLOCKING_SHARE}; each is preceded by a tenth as warm-up
  --rounds N     run everything N times (default 1), round after round; the
                 table shows each benchmark's median round and the median of
                 its same-round ratios (steadier on machines whose cores move)

benchmarks, in order:
  {}
",
        names.join("\n  ")
    )
}

// ---------------------------------------------------------------------------
// Command line and the measuring process.

/// Where the two processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    None,
    Split,
    Same,
}

impl Pin {
    fn parent_cpu(self) -> Option<usize> {
        match self {
            Pin::None => None,
            Pin::Split | Pin::Same => Some(0),
        }
    }

    fn peer_cpu(self) -> Option<usize> {
        match self {
            Pin::None => None,
            Pin::Split => Some(1),
            Pin::Same => Some(0),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Pin::None => "none",
            Pin::Split => "split",
            Pin::Same => "same",
        }
    }
}

#[derive(Debug)]
struct Options {
    json: bool,
    only: Option<Vec<&'static str>>,
    pin: Pin,
    iters: u64,
    rounds: usize,
}

impl Options {
    /// `Ok(None)` asks for the usage text.
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut options = Options {
            json: false,
            only: None,
            pin: Pin::Split,
            iters: DEFAULT_ITERS,
            rounds: 1,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next().cloned())
                    .ok_or(format!("{flag} needs a value"))
            };
            match flag {
                "-h" | "--help" => return Ok(None),
                "--json" => options.json = true,
                "--only" => {
                    let mut names = Vec::new();
                    for name in value()?.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        let bench = find_bench(name).ok_or_else(|| {
                            let known: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
                            format!("unknown benchmark {name:?} (known: {})", known.join(", "))
                        })?;
                        names.push(bench.name);
                    }
                    if names.is_empty() {
                        return Err("--only needs at least one name".into());
                    }
                    options.only = Some(names);
                }
                "--pin" => {
                    options.pin = match value()?.as_str() {
                        "none" => Pin::None,
                        "split" => Pin::Split,
                        "same" => Pin::Same,
                        other => {
                            return Err(format!("--pin takes none, split or same, not {other:?}"))
                        }
                    }
                }
                "--iters" => {
                    let v = value()?;
                    options.iters = v
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("--iters takes a positive number, not {v:?}"))?;
                }
                "--rounds" => {
                    let v = value()?;
                    options.rounds =
                        v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                            format!("--rounds takes a positive number, not {v:?}")
                        })?;
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Some(options))
    }
}

fn find_bench(name: &str) -> Option<&'static Bench> {
    BENCHES.iter().find(|b| b.name == name)
}

fn run(options: &Options) -> ExitCode {
    if let Err(e) = pin_parent(options.pin) {
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
    if !options.json {
        eprintln!(
            "ipc-latency: pin {}, {} round trips spinning / {} blocking (plus a tenth as warm-up)",
            options.pin.name(),
            options.iters,
            blocking_iters(options.iters)
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
            }
            let mut harness = Harness {
                bench: bench.name,
                pin: options.pin,
                iters: options.iters,
            };
            match (bench.measure)(&mut harness) {
                Ok(m) => {
                    let outcome = Outcome {
                        name: bench.name,
                        measurement: m.measurement,
                        note: m.note,
                    };
                    if options.json {
                        let round = (options.rounds > 1).then_some(round);
                        println!("{}", report::json_line_of_round(&outcome, round));
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
        let in_round =
            |r: &[Outcome], name: &str| -> Option<usize> { r.iter().position(|o| o.name == name) };
        let mut rows: Vec<Row<'_>> = Vec::new();
        // Report in registry order, whatever the order they ran in.
        for bench in &selected {
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
        if options.rounds > 1 {
            println!(
                "{} rounds: each row shows its median round; the ratio is the median of the same-round ratios, their range in brackets",
                options.rounds
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
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

fn pin_parent(pin: Pin) -> Result<(), Failure> {
    let Some(cpu) = pin.parent_cpu() else {
        return Ok(());
    };
    let cpus = sys::available_cpus().context("reading this process's CPU affinity")?;
    for needed in [pin.parent_cpu(), pin.peer_cpu()].into_iter().flatten() {
        if !cpus.contains(&needed) {
            return Err(Failure::new(format!(
                "--pin {} needs CPU {needed}, but this process may only use {cpus:?}; try --pin none",
                pin.name()
            )));
        }
    }
    sys::pin_to_cpu(cpu).context("pinning the measuring process to CPU 0")
}

fn blocking_iters(iters: u64) -> u64 {
    (iters / BLOCKING_SHARE).max(1)
}

/// What a measuring function returns: the result and a note for the table.
struct Measured {
    measurement: Measurement,
    note: String,
}

/// Whether a benchmark's round trips spin or sleep: this sets how many it
/// runs.
#[derive(Debug, Clone, Copy)]
enum Pace {
    Spinning,
    Blocking,
}

/// What the measuring side of a benchmark gets from the harness.
struct Harness {
    bench: &'static str,
    pin: Pin,
    iters: u64,
}

impl Harness {
    /// `(warm-up, measured)` round trips for a benchmark of this pace.
    fn iterations(&self, pace: Pace) -> (u64, u64) {
        let iters = match pace {
            Pace::Spinning => self.iters,
            Pace::Blocking => blocking_iters(self.iters),
        };
        ((iters / 10).max(10), iters)
    }

    /// The command that starts the peer process of the current benchmark,
    /// missing only its last argument (see [`spawn_peer`](Harness::spawn_peer);
    /// `ipc_link::Host::spawn` appends the link's connection string).
    fn peer_command(&self) -> Result<Command, Failure> {
        let exe = std::env::current_exe().context("finding this executable to start the peer")?;
        let cpu = self
            .pin
            .peer_cpu()
            .map_or_else(|| "-".to_owned(), |c| c.to_string());
        let mut command = Command::new(&exe);
        command
            .args([PEER_ROLE, self.bench, &cpu, &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Ok(command)
    }

    /// Starts the peer process of the current benchmark, passing it `arg`
    /// (a connection string, an inherited descriptor). Descriptors to
    /// inherit must be made inheritable around this call.
    fn spawn_peer(&self, arg: &str) -> Result<PeerProcess, Failure> {
        let exe = std::env::current_exe().context("finding this executable to start the peer")?;
        let cpu = self
            .pin
            .peer_cpu()
            .map_or_else(|| "-".to_owned(), |c| c.to_string());
        let child = Command::new(&exe)
            .args([
                PEER_ROLE,
                self.bench,
                &cpu,
                &std::process::id().to_string(),
                arg,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context(&format!("starting the peer process {}", exe.display()))?;
        Ok(PeerProcess {
            child,
            finished: false,
        })
    }
}

/// The peer process as seen by the measuring one. Dropping it kills the
/// peer if it has not been [`finish`](PeerProcess::finish)ed.
struct PeerProcess {
    child: Child,
    finished: bool,
}

impl PeerProcess {
    /// Fails if the peer has exited.
    fn check_alive(&mut self) -> Result<(), Failure> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.finished = true;
                Err(Failure::new(format!(
                    "the peer process exited early ({status})"
                )))
            }
            Err(e) => Err(Failure::new(format!("checking on the peer process: {e}"))),
        }
    }

    /// Waits (boundedly) for the peer to exit after the benchmark told it to,
    /// and checks that it succeeded.
    fn finish(mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + STALL_LIMIT;
        loop {
            match self
                .child
                .try_wait()
                .context("waiting for the peer process")?
            {
                Some(status) if status.success() => {
                    self.finished = true;
                    return Ok(());
                }
                Some(status) => {
                    self.finished = true;
                    return Err(Failure::new(format!("the peer process failed ({status})")));
                }
                None if Instant::now() >= deadline => {
                    return Err(Failure::new("the peer process did not exit when told to"));
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `warmup` untimed round trips, then `iters` timed ones; each call
/// gets a fresh sequence number.
fn time_round_trips(
    warmup: u64,
    iters: u64,
    mut round_trip: impl FnMut(u64) -> Result<(), Failure>,
) -> Result<LatencySummary, Failure> {
    for seq in 0..warmup {
        round_trip(seq)?;
    }
    let mut samples = Vec::with_capacity(usize::try_from(iters).context("iteration count")?);
    let mut last = Instant::now();
    for seq in warmup..warmup + iters {
        round_trip(seq)?;
        let now = Instant::now();
        samples.push(u64::try_from((now - last).as_nanos()).unwrap_or(u64::MAX));
        last = now;
    }
    LatencySummary::from_samples(&mut samples).ok_or_else(|| Failure::new("no iterations measured"))
}

/// Fails unless the reply to request `seq` is its bitwise complement.
fn check_reply(seq: u64, reply: [u8; 8]) -> Result<(), Failure> {
    match u64::from_le_bytes(reply) {
        r if r == !seq => Ok(()),
        r => Err(Failure::new(format!(
            "reply {r:#x} to request {seq} is wrong"
        ))),
    }
}

// ---------------------------------------------------------------------------
// The peer process.

/// What the peer side of a benchmark gets: the argument the measuring side
/// passed and a way to tell whether that side still runs.
struct Peer {
    arg: String,
    parent: u32,
}

impl Peer {
    fn check_parent(&self) -> Result<(), Failure> {
        if sys::parent_alive(self.parent) {
            Ok(())
        } else {
            Err(Failure::new("the measuring process died"))
        }
    }
}

/// `__peer NAME CPU|- PARENT_PID ARG`
fn peer_main(args: &[String]) -> ExitCode {
    let [name, cpu, parent, arg] = args else {
        eprintln!("ipc-latency peer: expected NAME CPU PARENT_PID ARG after {PEER_ROLE}");
        return ExitCode::from(2);
    };
    let result = (|| {
        let parent: u32 = parent
            .parse()
            .map_err(|_| Failure::new(format!("bad parent pid {parent:?}")))?;
        // Never outlive the measuring process, whatever we wait on.
        sys::exit_with_parent(parent)
            .context("tying this process's life to the measuring process")?;
        if cpu != "-" {
            let cpu: usize = cpu
                .parse()
                .map_err(|_| Failure::new(format!("bad CPU number {cpu:?}")))?;
            sys::pin_to_cpu(cpu).context(&format!("pinning the peer to CPU {cpu}"))?;
        }
        let bench =
            find_bench(name).ok_or_else(|| Failure::new(format!("unknown benchmark {name:?}")))?;
        (bench.peer)(&Peer {
            arg: arg.clone(),
            parent,
        })
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-latency peer ({name}): {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------
// Raw futex and spin ping-pong on a shared page.
//
// Each direction has a 32-bit sequence word and an 8-byte payload on cache
// lines of their own (128-byte spacing, as in the channel's layout, so the
// adjacent-line prefetcher does not pair them). The sender copies the payload
// in, stores the sequence number (release) and, when blocking, FUTEX_WAKEs the
// word unconditionally; the receiver waits until the word holds the number
// it expects (acquire) and copies the payload out.

const REQUEST_WORD: usize = 0;
const REQUEST_DATA: usize = 128;
const REPLY_WORD: usize = 256;
const REPLY_DATA: usize = 384;
const RAW_PAGE: usize = 4096;
/// A request payload that tells the peer to exit.
const QUIT: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Futex,
    Spin,
}

/// Waits until `word` holds `target`, sleeping on it (futex) or spinning.
/// `alive` is asked every [`LIVENESS_INTERVAL`] (futex) or
/// [`SPINS_PER_CHECK`] spins whether waiting still makes sense; a spinner
/// also yields the CPU then, so that `--pin same` makes progress.
fn wait_for_word(
    word: &AtomicU32,
    target: u32,
    how: Waiting,
    alive: &mut dyn FnMut() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut spins: u32 = 0;
    let mut deadline: Option<Instant> = None;
    let mut check = |alive: &mut dyn FnMut() -> Result<(), Failure>| {
        alive()?;
        let now = Instant::now();
        if now > *deadline.get_or_insert(now + STALL_LIMIT) {
            return Err(Failure::new(format!(
                "no answer from the other process for {STALL_LIMIT:?}"
            )));
        }
        Ok(())
    };
    loop {
        let seen = word.load(Ordering::Acquire);
        if seen == target {
            return Ok(());
        }
        match how {
            Waiting::Futex => {
                if sys::futex_wait(word, seen, LIVENESS_INTERVAL).context("FUTEX_WAIT")?
                    == Woken::TimedOut
                {
                    check(alive)?;
                }
            }
            Waiting::Spin => {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % SPINS_PER_CHECK == 0 {
                    check(alive)?;
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Publishes sequence number `seq` on `word`, waking a futex sleeper.
fn post_word(word: &AtomicU32, seq: u32, how: Waiting) -> Result<(), Failure> {
    word.store(seq, Ordering::Release);
    if how == Waiting::Futex {
        sys::futex_wake(word).context("FUTEX_WAKE")?;
    }
    Ok(())
}

/// The sequence number of round trip `seq` (0 is the page's initial value).
fn word_seq(seq: u64) -> u32 {
    (seq as u32).wrapping_add(1)
}

fn raw_pingpong(h: &mut Harness, how: Waiting) -> Result<Measured, Failure> {
    let page = SharedPage::create(RAW_PAGE).context("creating the shared page")?;
    let mut peer = {
        let inherited = page
            .inheritable()
            .context("passing the shared page to the peer")?;
        h.spawn_peer(&inherited.arg())?
    };
    let (request_word, reply_word) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
    let (warmup, iters) = h.iterations(match how {
        Waiting::Futex => Pace::Blocking,
        Waiting::Spin => Pace::Spinning,
    });
    let summary = {
        let mut alive = || peer.check_alive();
        let mut reply = [0u8; 8];
        time_round_trips(warmup, iters, |seq| {
            page.write(REQUEST_DATA, &seq.to_le_bytes());
            post_word(request_word, word_seq(seq), how)?;
            wait_for_word(reply_word, word_seq(seq), how, &mut alive)?;
            page.read(REPLY_DATA, &mut reply);
            check_reply(seq, reply)
        })?
    };
    page.write(REQUEST_DATA, &QUIT.to_le_bytes());
    post_word(request_word, word_seq(warmup + iters), how)?;
    peer.finish()?;
    let note = match how {
        Waiting::Futex => "FUTEX_WAIT/FUTEX_WAKE (shared), wake on every post",
        Waiting::Spin => "spin on the word, no system call",
    };
    Ok(Measured {
        measurement: Measurement::Latency(summary),
        note: note.into(),
    })
}

fn raw_pingpong_peer(p: &Peer, how: Waiting) -> Result<(), Failure> {
    let page = SharedPage::open_inherited(&p.arg).context("mapping the shared page")?;
    let (request_word, reply_word) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
    let mut alive = || p.check_parent();
    let mut request = [0u8; 8];
    for seq in 0u64.. {
        wait_for_word(request_word, word_seq(seq), how, &mut alive)?;
        page.read(REQUEST_DATA, &mut request);
        let value = u64::from_le_bytes(request);
        if value == QUIT {
            break;
        }
        page.write(REPLY_DATA, &(!value).to_le_bytes());
        post_word(reply_word, word_seq(seq), how)?;
    }
    Ok(())
}

fn baseline_futex_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    raw_pingpong(h, Waiting::Futex)
}

fn baseline_futex_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    raw_pingpong_peer(p, Waiting::Futex)
}

fn baseline_spin_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    raw_pingpong(h, Waiting::Spin)
}

fn baseline_spin_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    raw_pingpong_peer(p, Waiting::Spin)
}

// ---------------------------------------------------------------------------
// Unix stream socket: what LMMS uses today.

/// A socket pair whose second end the peer inherits; returns our end.
fn spawn_with_socket(h: &mut Harness) -> Result<(Socket, PeerProcess), Failure> {
    let (ours, theirs) = Socket::pair().context("creating a Unix socket pair")?;
    let peer = {
        let inherited = theirs
            .inheritable()
            .context("passing the socket to the peer")?;
        h.spawn_peer(&inherited.arg())?
    };
    // Only the peer holds the other end now, so its exit reads as EOF here.
    drop(theirs);
    ours.set_read_timeout(Some(STALL_LIMIT))
        .context("setting the socket's read timeout")?;
    Ok((ours, peer))
}

fn socket_error(what: &str, e: io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            Failure::new(format!("{what}: the other process closed the socket"))
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::new(format!(
            "{what}: no answer from the other process for {STALL_LIMIT:?}"
        )),
        _ => Failure::new(format!("{what}: {e}")),
    }
}

fn baseline_uds_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    let (mut socket, peer) = spawn_with_socket(h)?;
    let (warmup, iters) = h.iterations(Pace::Blocking);
    let mut reply = [0u8; 8];
    let summary = time_round_trips(warmup, iters, |seq| {
        socket
            .write_all(&seq.to_le_bytes())
            .map_err(|e| socket_error("sending a request", e))?;
        socket
            .read_exact(&mut reply)
            .map_err(|e| socket_error("reading a reply", e))?;
        check_reply(seq, reply)
    })?;
    drop(socket);
    peer.finish()?;
    Ok(Measured {
        measurement: Measurement::Latency(summary),
        note: "socketpair(AF_UNIX, SOCK_STREAM)".into(),
    })
}

fn baseline_uds_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    let mut socket = Socket::open_inherited(&p.arg).context("opening the inherited socket")?;
    let mut request = [0u8; 8];
    loop {
        match socket.read_exact(&mut request) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(socket_error("reading a request", e)),
        }
        let reply = !u64::from_le_bytes(request);
        socket
            .write_all(&reply.to_le_bytes())
            .map_err(|e| socket_error("sending a reply", e))?;
    }
}

fn baseline_uds_stream(h: &mut Harness) -> Result<Measured, Failure> {
    let (mut socket, peer) = spawn_with_socket(h)?;
    let mut buf = vec![0u8; STREAM_CHUNK];
    let mut read = |buf: &mut [u8]| loop {
        match socket.read(buf) {
            Ok(0) => return Err(Failure::new("the stream ended early")),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(socket_error("reading the stream", e)),
        }
    };
    let (measurement, spread) = time_stream(&mut buf, &mut read)?;
    // The producer closes after the last byte.
    match socket.read(&mut buf) {
        Ok(0) => {}
        Ok(_) => return Err(Failure::new("the stream carried more than expected")),
        Err(e) => return Err(socket_error("reading the end of the stream", e)),
    }
    peer.finish()?;
    let note = format!(
        "{spread}; {} KiB writes and reads, default socket buffers",
        STREAM_CHUNK >> 10
    );
    Ok(Measured { measurement, note })
}

fn baseline_uds_stream_peer(p: &Peer) -> Result<(), Failure> {
    let mut socket = Socket::open_inherited(&p.arg).context("opening the inherited socket")?;
    let chunk = stream_chunk();
    for _ in 0..stream_chunks() {
        socket
            .write_all(&chunk)
            .map_err(|e| socket_error("writing the stream", e))?;
    }
    Ok(())
}

/// Reads [`STREAM_WARMUP`] bytes, then times [`STREAM_REPEATS`] runs of
/// [`STREAM_BYTES`] each and returns the median one (by rate) as the bytes
/// read while its clock ran and the seconds it took, plus a note on the
/// spread. `read` fills a prefix of the buffer and returns its length (at
/// least 1).
fn time_stream(
    buf: &mut [u8],
    read: &mut dyn FnMut(&mut [u8]) -> Result<usize, Failure>,
) -> Result<(Measurement, String), Failure> {
    let mut read_up_to = |total: &mut u64, end: u64| -> Result<(), Failure> {
        while *total < end {
            let want = usize::try_from(end - *total)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            *total += read(&mut buf[..want])? as u64;
        }
        Ok(())
    };
    let mut total: u64 = 0;
    read_up_to(&mut total, STREAM_WARMUP)?;
    let mut runs = Vec::with_capacity(STREAM_REPEATS as usize);
    for _ in 0..STREAM_REPEATS {
        let (start_bytes, start) = (total, Instant::now());
        read_up_to(&mut total, start_bytes + STREAM_BYTES)?;
        runs.push(Measurement::Throughput {
            bytes: total - start_bytes,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let rate = |m: &Measurement| m.gb_per_s().unwrap_or(0.0);
    runs.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    let note = format!(
        "median of {} x {} MiB (min {:.2}, max {:.2})",
        runs.len(),
        STREAM_BYTES >> 20,
        rate(&runs[0]),
        rate(&runs[runs.len() - 1])
    );
    Ok((runs[runs.len() / 2], note))
}

/// One chunk of the stream, written (and so faulted in) before the clock
/// starts.
fn stream_chunk() -> Vec<u8> {
    (0..STREAM_CHUNK).map(|i| i as u8).collect()
}

fn stream_chunks() -> u64 {
    (STREAM_WARMUP + STREAM_REPEATS * STREAM_BYTES) / STREAM_CHUNK as u64
}

// ---------------------------------------------------------------------------
// The channel under test.

/// The message a peer sends once its endpoints are claimed: one cache line of
/// this byte, so that what follows keeps its alignment in the ring.
const READY: u8 = 0x52;
const READY_LEN: usize = 64;

fn channel_error(what: &str, e: ChannelError) -> Failure {
    match e {
        ChannelError::PeerDied => Failure::new(format!("{what}: the other process died")),
        e => Failure::new(format!("{what}: {e}")),
    }
}

/// Creates a segment with rings of `capacities`; returns it with the peer
/// started on its connection string.
fn spawn_with_segment(
    h: &mut Harness,
    capacities: &[usize],
) -> Result<(Segment, PeerProcess), Failure> {
    let segment = Segment::create(capacities).context("creating the shared segment")?;
    let connection = segment
        .connection_string()
        .ok_or_else(|| Failure::new("the segment has no connection string"))?;
    let peer = h.spawn_peer(connection)?;
    Ok((segment, peer))
}

/// Waits until the peer has sent [`READY`] (once it has claimed its
/// endpoints, the channel itself notices its death), checking that it still
/// runs meanwhile.
fn await_ready(reader: &mut Reader, peer: &mut PeerProcess) -> Result<(), Failure> {
    let deadline = Instant::now() + STALL_LIMIT;
    let mut message = [0u8; READY_LEN];
    loop {
        match reader.read_exact_into_timeout(&mut message, LIVENESS_INTERVAL) {
            Ok(()) if message.iter().all(|&b| b == READY) => return Ok(()),
            Ok(()) => return Err(Failure::new("the peer sent something else than READY")),
            Err(ChannelError::Timeout) => {
                peer.check_alive()?;
                if Instant::now() > deadline {
                    return Err(Failure::new(format!(
                        "the peer was not ready after {STALL_LIMIT:?}"
                    )));
                }
            }
            Err(e) => return Err(channel_error("waiting for the peer", e)),
        }
    }
}

fn send_ready(writer: &mut Writer) -> Result<(), Failure> {
    writer
        .append(&[READY; READY_LEN])
        .and_then(|()| writer.commit())
        .map_err(|e| channel_error("sending READY", e))
}

/// How often the endpoints of one process waited, slept and woke the
/// other side. A peer sends its own at the end of a channel benchmark, so
/// the table can show both sides.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    waits: u64,
    spin_hits: u64,
    sleeps: u64,
    signals: u64,
}

impl Counters {
    const LEN: usize = 32;

    fn of(stats: &[Stats]) -> Counters {
        stats.iter().fold(Counters::default(), |c, s| Counters {
            waits: c.waits + s.waits,
            spin_hits: c.spin_hits + s.spin_hits,
            sleeps: c.sleeps + s.sleeps,
            signals: c.signals + s.signals,
        })
    }

    fn to_bytes(self) -> [u8; Counters::LEN] {
        let mut out = [0u8; Counters::LEN];
        for (chunk, v) in
            out.chunks_exact_mut(8)
                .zip([self.waits, self.spin_hits, self.sleeps, self.signals])
        {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8; Counters::LEN]) -> Counters {
        let v = |i: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[8 * i..8 * i + 8]);
            u64::from_le_bytes(word)
        };
        Counters {
            waits: v(0),
            spin_hits: v(1),
            sleeps: v(2),
            signals: v(3),
        }
    }
}

/// The peer's last message: its counters.
fn send_counters(writer: &mut Writer, counters: Counters) -> Result<(), Failure> {
    writer
        .append(&counters.to_bytes())
        .and_then(|()| writer.commit())
        .map_err(|e| channel_error("sending the counters", e))
}

fn receive_counters(reader: &mut Reader) -> Result<Counters, Failure> {
    let mut bytes = [0u8; Counters::LEN];
    reader
        .read_exact_into(&mut bytes)
        .map_err(|e| channel_error("reading the peer's counters", e))?;
    Ok(Counters::from_bytes(&bytes))
}

fn channel_pingpong_with(h: &mut Harness, spin: Duration) -> Result<Measured, Failure> {
    let (segment, mut peer) = spawn_with_segment(h, &[PINGPONG_RING, PINGPONG_RING])?;
    let mut requests = segment.writer(0).context("claiming the request writer")?;
    let mut replies = segment.reader(1).context("claiming the reply reader")?;
    requests.set_spin(spin);
    replies.set_spin(spin);
    await_ready(&mut replies, &mut peer)?;
    let (warmup, iters) = h.iterations(if spin.is_zero() {
        Pace::Blocking
    } else {
        Pace::Spinning
    });
    let mut reply = [0u8; 8];
    let summary = time_round_trips(warmup, iters, |seq| {
        requests
            .append(&seq.to_le_bytes())
            .map_err(|e| channel_error("sending a request", e))?;
        requests
            .commit()
            .map_err(|e| channel_error("committing a request", e))?;
        replies
            .read_exact_into(&mut reply)
            .map_err(|e| channel_error("reading a reply", e))?;
        check_reply(seq, reply)
    })?;
    let here = Counters::of(&[requests.stats(), replies.stats()]);
    // Closing the request channel tells the peer to report and exit.
    drop(requests);
    let there = receive_counters(&mut replies)?;
    drop(replies);
    peer.finish()?;
    let per_trip = |n: u64| n as f64 / (warmup + iters) as f64;
    let mut note = format!(
        "ring {PINGPONG_RING} B; per round trip, here/peer: {:.2}/{:.2} sleeps, {:.2}/{:.2} wakes sent",
        per_trip(here.sleeps),
        per_trip(there.sleeps),
        per_trip(here.signals),
        per_trip(there.signals)
    );
    if !spin.is_zero() {
        let hit_rate = |c: Counters| c.spin_hits as f64 / c.waits.max(1) as f64;
        note = format!(
            "spin {} us, {note}; waits ended by the spin: {:.1}%/{:.1}%",
            spin.as_micros(),
            100.0 * hit_rate(here),
            100.0 * hit_rate(there)
        );
    }
    Ok(Measured {
        measurement: Measurement::Latency(summary),
        note,
    })
}

fn channel_pingpong_peer_with(p: &Peer, spin: Duration) -> Result<(), Failure> {
    let segment = Segment::open(&p.arg).context("opening the shared segment")?;
    let mut requests = segment.reader(0).context("claiming the request reader")?;
    let mut replies = segment.writer(1).context("claiming the reply writer")?;
    requests.set_spin(spin);
    replies.set_spin(spin);
    send_ready(&mut replies)?;
    let mut request = [0u8; 8];
    loop {
        match requests.read_exact_into(&mut request) {
            Ok(()) => {}
            Err(ChannelError::Closed) => {
                let counters = Counters::of(&[requests.stats(), replies.stats()]);
                return send_counters(&mut replies, counters);
            }
            Err(e) => return Err(channel_error("reading a request", e)),
        }
        let reply = !u64::from_le_bytes(request);
        replies
            .append(&reply.to_le_bytes())
            .map_err(|e| channel_error("sending a reply", e))?;
        replies
            .commit()
            .map_err(|e| channel_error("committing a reply", e))?;
    }
}

fn channel_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    channel_pingpong_with(h, Duration::ZERO)
}

fn channel_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    channel_pingpong_peer_with(p, Duration::ZERO)
}

fn channel_pingpong_spin(h: &mut Harness) -> Result<Measured, Failure> {
    channel_pingpong_with(h, CHANNEL_SPIN)
}

fn channel_pingpong_spin_peer(p: &Peer) -> Result<(), Failure> {
    channel_pingpong_peer_with(p, CHANNEL_SPIN)
}

fn channel_stream(h: &mut Harness) -> Result<Measured, Failure> {
    let (segment, mut peer) = spawn_with_segment(h, &[STREAM_RING])?;
    let mut reader = segment.reader(0).context("claiming the stream reader")?;
    reader.set_spin(CHANNEL_SPIN);
    await_ready(&mut reader, &mut peer)?;
    let mut buf = vec![0u8; STREAM_CHUNK];
    let mut read = |buf: &mut [u8]| {
        reader
            .read_into(buf)
            .map_err(|e| channel_error("reading the stream", e))
    };
    let (measurement, spread) = time_stream(&mut buf, &mut read)?;
    // The producer reports its counters after the last blob, then closes.
    let there = receive_counters(&mut reader)?;
    match reader.read_into(&mut buf) {
        Err(ChannelError::Closed) => {}
        Ok(_) => return Err(Failure::new("the stream carried more than expected")),
        Err(e) => return Err(channel_error("reading the end of the stream", e)),
    }
    let here = Counters::of(&[reader.stats()]);
    drop(reader);
    peer.finish()?;
    let note = format!(
        "{spread}; ring {} KiB, spin {} us, {} KiB blobs and read_into; \
         reader/writer over {} blobs: {}/{} waits, {}/{} sleeps, {}/{} wakes sent",
        STREAM_RING >> 10,
        CHANNEL_SPIN.as_micros(),
        STREAM_CHUNK >> 10,
        stream_chunks(),
        here.waits,
        there.waits,
        here.sleeps,
        there.sleeps,
        here.signals,
        there.signals
    );
    Ok(Measured { measurement, note })
}

fn channel_stream_peer(p: &Peer) -> Result<(), Failure> {
    let segment = Segment::open(&p.arg).context("opening the shared segment")?;
    let mut writer = segment.writer(0).context("claiming the stream writer")?;
    writer.set_spin(CHANNEL_SPIN);
    send_ready(&mut writer)?;
    let blob = stream_chunk();
    for _ in 0..stream_chunks() {
        writer
            .append(&blob)
            .map_err(|e| channel_error("writing a blob", e))?;
        writer
            .commit()
            .map_err(|e| channel_error("committing a blob", e))?;
    }
    let counters = Counters::of(&[writer.stats()]);
    send_counters(&mut writer, counters)
}

// ---------------------------------------------------------------------------
// Layer II (typed messages) and Layer III (links).

/// A typed request of three fields and its typed reply.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct TypedRequest {
    seq: u64,
    gain: f32,
    channel: u16,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct TypedReply {
    seq: u64,
}

/// Real-time and main-link ping-pong messages (the reply is the complement).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Ping(u64);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Pong(u64);

/// A small message of a one-way stream, and the order to send `n` of them.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Tick(u64);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct SendTicks(u64);

ipc_msgpack::message!(
    TypedRequest = 1,
    TypedReply = 2,
    Ping = 3,
    Pong = 4,
    Tick = 5,
    SendTicks = 6
);

fn msgpack_error(what: &str, e: ipc_msgpack::Error) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

fn link_error(what: &str, e: ipc_link::LinkError) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

fn msgpack_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    use ipc_msgpack::{recv, send, Flags, Limits};
    let (segment, mut peer) = spawn_with_segment(h, &[PINGPONG_RING, PINGPONG_RING])?;
    let mut requests = segment.writer(0).context("claiming the request writer")?;
    let mut replies = segment.reader(1).context("claiming the reply reader")?;
    await_ready(&mut replies, &mut peer)?;
    let (warmup, iters) = h.iterations(Pace::Blocking);
    let limits = Limits::default();
    let summary = time_round_trips(warmup, iters, |seq| {
        let request = TypedRequest {
            seq,
            gain: 0.5,
            channel: 1,
        };
        send(&mut requests, &request, 0, Flags::REQUEST)
            .map_err(|e| msgpack_error("sending a request", e))?;
        let (_, reply) = recv::<TypedReply>(&mut replies, &limits, Some(STALL_LIMIT))
            .map_err(|e| msgpack_error("reading a reply", e))?;
        check_reply(seq, reply.seq.to_le_bytes())
    })?;
    let quit = TypedRequest {
        seq: QUIT,
        gain: 0.0,
        channel: 0,
    };
    send(&mut requests, &quit, 0, Flags::NONE).map_err(|e| msgpack_error("sending quit", e))?;
    peer.finish()?;
    Ok(Measured {
        measurement: Measurement::Latency(summary),
        note: "typed request {u64, f32, u16} and reply {u64} over two channels, blocking".into(),
    })
}

fn msgpack_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    use ipc_msgpack::{recv, send, Flags, Limits};
    let segment = Segment::open(&p.arg).context("opening the segment")?;
    let mut requests = segment.reader(0).context("claiming the request reader")?;
    let mut replies = segment.writer(1).context("claiming the reply writer")?;
    send_ready(&mut replies)?;
    let limits = Limits::default();
    loop {
        let (_, request) = recv::<TypedRequest>(&mut requests, &limits, None)
            .map_err(|e| msgpack_error("reading a request", e))?;
        if request.seq == QUIT {
            return Ok(());
        }
        send(
            &mut replies,
            &TypedReply { seq: !request.seq },
            0,
            Flags::REPLY,
        )
        .map_err(|e| msgpack_error("sending a reply", e))?;
    }
}

/// Starts the peer as a plugin process on a new link.
fn spawn_plugin(
    h: &Harness,
    setup: impl FnOnce(&ipc_link::MainLink),
) -> Result<ipc_link::Host, Failure> {
    ipc_link::Host::spawn(h.peer_command()?, &ipc_link::LinkConfig::default(), setup)
        .map_err(|e| link_error("starting the plugin process", e))
}

/// Asks the plugin process to quit and checks that it exited cleanly.
fn stop_plugin(host: ipc_link::Host) -> Result<(), Failure> {
    let status = host
        .shutdown(STALL_LIMIT)
        .map_err(|e| link_error("stopping the plugin", e))?;
    if !status.success() {
        return Err(Failure::new(format!(
            "the plugin process failed ({status})"
        )));
    }
    Ok(())
}

fn rt_call_with(h: &mut Harness, spin: Duration) -> Result<Measured, Failure> {
    let mut host = spawn_plugin(h, |_| {})?;
    let mut rt = host
        .take_rt()
        .ok_or_else(|| Failure::new("no real-time link"))?;
    rt.set_spin(spin);
    let (warmup, iters) = h.iterations(if spin.is_zero() {
        Pace::Blocking
    } else {
        Pace::Spinning
    });
    let summary = time_round_trips(warmup, iters, |seq| {
        let Pong(reply) = rt
            .call(&Ping(seq), STALL_LIMIT)
            .map_err(|e| link_error("real-time call", e))?;
        check_reply(seq, reply.to_le_bytes())
    })?;
    drop(rt);
    stop_plugin(host)?;
    let note = if spin.is_zero() {
        "RtCaller::call / RtServer::serve, blocking".to_owned()
    } else {
        format!(
            "RtCaller::call / RtServer::serve, spin {} us both sides",
            spin.as_micros()
        )
    };
    Ok(Measured {
        measurement: Measurement::Latency(summary),
        note,
    })
}

/// The plugin side of the link benchmarks: answers `Ping`s on both links,
/// sends `Tick`s when asked, and returns when the host says quit.
fn link_peer_with(p: &Peer, spin: Duration) -> Result<(), Failure> {
    let config = ipc_link::LinkConfig::default();
    let mut plugin = ipc_link::Plugin::connect(&p.arg, &config, |link| {
        link.on_request(|Ping(x)| Pong(!x));
        link.on(|SendTicks(n), incoming| {
            for i in 0..n {
                if incoming.link.send(&Tick(i)).is_err() {
                    return;
                }
            }
        });
    })
    .map_err(|e| link_error("connecting to the host", e))?;
    let mut rt = plugin
        .take_rt()
        .ok_or_else(|| Failure::new("no real-time link"))?;
    rt.set_spin(spin);
    // The serving thread ends with the process.
    std::thread::spawn(move || rt.serve(|Ping(x), _| Pong(!x)));
    match plugin.wait_for_stop() {
        ipc_link::Stop::Quit => Ok(()),
        ipc_link::Stop::HostGone(e) => Err(link_error("the host went away", e)),
    }
}

fn rt_call(h: &mut Harness) -> Result<Measured, Failure> {
    rt_call_with(h, Duration::ZERO)
}

fn rt_call_spin(h: &mut Harness) -> Result<Measured, Failure> {
    rt_call_with(h, CHANNEL_SPIN)
}

fn rt_call_spin_peer(p: &Peer) -> Result<(), Failure> {
    link_peer_with(p, CHANNEL_SPIN)
}

fn link_peer(p: &Peer) -> Result<(), Failure> {
    link_peer_with(p, Duration::ZERO)
}

fn main_link_request(h: &mut Harness) -> Result<Measured, Failure> {
    let host = spawn_plugin(h, |_| {})?;
    let (warmup, iters) = h.iterations(Pace::Blocking);
    let summary = time_round_trips(warmup, iters, |seq| {
        let Pong(reply) = host
            .main()
            .request_blocking(&Ping(seq), STALL_LIMIT)
            .map_err(|e| link_error("main-link request", e))?;
        check_reply(seq, reply.to_le_bytes())
    })?;
    stop_plugin(host)?;
    Ok(Measured {
        measurement: Measurement::Latency(summary),
        note: "MainLink::request_blocking: handler on the plugin's listener thread, reply to a waiting host thread".into(),
    })
}

/// Messages in the one-way message-rate benchmarks.
fn stream_messages(h: &Harness) -> u64 {
    (h.iters * 10).max(1000)
}

/// Bytes of one message in `baseline_uds_msgs`: what a `Tick` takes on the
/// main link (16-byte envelope, 9-byte payload).
const SMALL_MESSAGE: usize = 25;

fn baseline_uds_msgs(h: &mut Harness) -> Result<Measured, Failure> {
    let (mut socket, peer) = spawn_with_socket(h)?;
    let n = stream_messages(h);
    socket
        .write_all(&n.to_le_bytes())
        .map_err(|e| socket_error("sending the count", e))?;
    let mut message = [0u8; SMALL_MESSAGE];
    let start = Instant::now();
    for i in 0..n {
        socket
            .read_exact(&mut message)
            .map_err(|e| socket_error("reading a message", e))?;
        if message[..8] != i.to_le_bytes() {
            return Err(Failure::new(format!("message {i} arrived out of order")));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    drop(socket);
    peer.finish()?;
    Ok(Measured {
        measurement: Measurement::Rate {
            messages: n,
            seconds,
        },
        note: format!("{n} messages of {SMALL_MESSAGE} bytes, one write(2) and one read(2) each"),
    })
}

fn baseline_uds_msgs_peer(p: &Peer) -> Result<(), Failure> {
    let mut socket = Socket::open_inherited(&p.arg).context("opening the inherited socket")?;
    let mut count = [0u8; 8];
    socket
        .read_exact(&mut count)
        .map_err(|e| socket_error("reading the count", e))?;
    let mut message = [0u8; SMALL_MESSAGE];
    for i in 0..u64::from_le_bytes(count) {
        message[..8].copy_from_slice(&i.to_le_bytes());
        socket
            .write_all(&message)
            .map_err(|e| socket_error("writing a message", e))?;
    }
    Ok(())
}

fn main_link_stream(h: &mut Harness) -> Result<Measured, Failure> {
    let n = stream_messages(h);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let host = spawn_plugin(h, move |link| {
        let next = std::sync::atomic::AtomicU64::new(0);
        let done = std::sync::Mutex::new(done_tx);
        link.on(move |Tick(i), _| {
            let expected = next.fetch_add(1, Ordering::Relaxed);
            let outcome = if i != expected {
                Some(Err(format!("tick {i} arrived when {expected} was due")))
            } else if expected + 1 == n {
                Some(Ok(()))
            } else {
                None
            };
            if let (Some(outcome), Ok(done)) = (outcome, done.lock()) {
                let _ = done.send(outcome);
            }
        });
    })?;
    let start = Instant::now();
    host.main()
        .send(&SendTicks(n))
        .map_err(|e| link_error("asking for the stream", e))?;
    match done_rx.recv_timeout(STALL_LIMIT * 6) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Failure::new(e)),
        Err(_) => return Err(Failure::new("the stream did not arrive in time")),
    }
    let seconds = start.elapsed().as_secs_f64();
    stop_plugin(host)?;
    Ok(Measured {
        measurement: Measurement::Rate { messages: n, seconds },
        note: format!("{n} Tick(u64) messages plugin -> host, each sent with MainLink::send, each dispatched to a handler"),
    })
}
