//! What every benchmark shares: starting the peer process (this binary
//! again, pinned and tied to the measuring process's life), watching it,
//! and timing round trips and streams.

use crate::find_bench;
use crate::options::{self, Pin};
use ipc_benches::report::{LatencySummary, Measurement};
use ipc_benches::sys;
use ipc_benches::{Context, Failure};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The hidden first argument that makes this binary the peer process.
pub(crate) const PEER_ROLE: &str = "__peer";

/// The environment variable naming a command to start each peer process
/// under (words split at white space), e.g. a memory tracer for `cargo
/// xtask footprint`.
const PEER_WRAPPER: &str = "IPC_LATENCY_PEER_WRAPPER";

/// How often a waiting side checks that its peer still runs.
pub(crate) const LIVENESS_INTERVAL: Duration = Duration::from_millis(100);
/// How long a side waits for an answer before it calls the peer hung.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(10);

/// A request payload that tells the peer to exit.
pub(crate) const QUIT: u64 = u64::MAX;

/// Bytes timed in each run of a streaming benchmark; it reports the median
/// of the runs, which follow a warm-up in one continuous stream.
const STREAM_BYTES: u64 = 256 << 20;
const STREAM_REPEATS: u64 = 5;
const STREAM_WARMUP: u64 = 32 << 20;
/// Size of each write (socket) or blob (channel), and of the reader's buffer.
pub(crate) const STREAM_CHUNK: usize = 1 << 20;

/// What a measuring function returns: the result and a note for the table.
pub(crate) struct Measured {
    pub(crate) measurement: Measurement,
    pub(crate) note: String,
}

impl Measured {
    /// A latency with its note.
    pub(crate) fn latency(summary: LatencySummary, note: impl Into<String>) -> Measured {
        Measured {
            measurement: Measurement::Latency(summary),
            note: note.into(),
        }
    }
}

/// Whether a benchmark's round trips spin or sleep: this sets how many it
/// runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    Spinning,
    Blocking,
}

impl Pace {
    /// The pace of endpoints that spin for `spin` before sleeping: blocking
    /// when they do not spin at all.
    pub(crate) fn of_spin(spin: Duration) -> Pace {
        if spin.is_zero() {
            Pace::Blocking
        } else {
            Pace::Spinning
        }
    }
}

/// What the measuring side of a benchmark gets from the harness.
pub(crate) struct Harness {
    bench: &'static str,
    pin: Pin,
    iters: u64,
}

impl Harness {
    pub(crate) fn new(bench: &'static str, pin: Pin, iters: u64) -> Harness {
        Harness { bench, pin, iters }
    }

    /// The `--iters` count.
    pub(crate) fn iters(&self) -> u64 {
        self.iters
    }

    /// `(warm-up, measured)` round trips for a benchmark of this pace.
    pub(crate) fn iterations(&self, pace: Pace) -> (u64, u64) {
        let iters = match pace {
            Pace::Spinning => self.iters,
            Pace::Blocking => options::blocking_iters(self.iters),
        };
        ((iters / 10).max(10), iters)
    }

    /// Messages in the one-way message-rate benchmarks.
    pub(crate) fn stream_messages(&self) -> u64 {
        (self.iters * 10).max(1000)
    }

    /// The command that starts the peer process of the current benchmark,
    /// missing only its last argument (see [`spawn_peer`](Harness::spawn_peer);
    /// `ipc_link::Host::spawn` appends the link's connection string).
    pub(crate) fn peer_command(&self) -> Result<Command, Failure> {
        let exe = std::env::current_exe().context("finding this executable to start the peer")?;
        let cpu = self
            .pin
            .peer_cpu()
            .map_or_else(|| "-".to_owned(), |c| c.to_string());
        // A profiler or tracer for the peer (`valgrind --tool=...`, `perf
        // record`, `strace -f`): its words, then this executable.
        let mut command = match std::env::var(PEER_WRAPPER) {
            Ok(wrapper) if !wrapper.trim().is_empty() => {
                let mut words = wrapper.split_whitespace();
                let mut c = Command::new(words.next().expect("not empty"));
                c.args(words).arg(&exe);
                c
            }
            _ => Command::new(&exe),
        };
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
    pub(crate) fn spawn_peer(&self, arg: &str) -> Result<PeerProcess, Failure> {
        let mut command = self.peer_command()?;
        let child = command.arg(arg).spawn().context(&format!(
            "starting the peer process {}",
            command.get_program().to_string_lossy()
        ))?;
        Ok(PeerProcess {
            child,
            finished: false,
        })
    }
}

/// The peer process as seen by the measuring one. Dropping it kills the
/// peer if it has not been [`finish`](PeerProcess::finish)ed.
pub(crate) struct PeerProcess {
    child: Child,
    finished: bool,
}

impl PeerProcess {
    /// Fails if the peer has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), Failure> {
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
    pub(crate) fn finish(mut self) -> Result<(), Failure> {
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

/// Runs `warmup` untimed round trips, then `iters` timed ones. Each call of
/// `round_trip` gets a fresh sequence number and returns the peer's answer,
/// which must be its bitwise complement (checked inside the timed span, as
/// part of the round trip).
pub(crate) fn time_round_trips(
    warmup: u64,
    iters: u64,
    mut round_trip: impl FnMut(u64) -> Result<u64, Failure>,
) -> Result<LatencySummary, Failure> {
    let mut checked = |seq: u64| match round_trip(seq)? {
        reply if reply == !seq => Ok(()),
        reply => Err(Failure::new(format!(
            "reply {reply:#x} to request {seq} is wrong"
        ))),
    };
    for seq in 0..warmup {
        checked(seq)?;
    }
    let mut samples = Vec::with_capacity(usize::try_from(iters).context("iteration count")?);
    let mut last = Instant::now();
    for seq in warmup..warmup + iters {
        checked(seq)?;
        let now = Instant::now();
        samples.push(u64::try_from((now - last).as_nanos()).unwrap_or(u64::MAX));
        last = now;
    }
    LatencySummary::from_samples(&mut samples).ok_or_else(|| Failure::new("no iterations measured"))
}

/// Reads [`STREAM_WARMUP`] bytes, then times [`STREAM_REPEATS`] runs of
/// [`STREAM_BYTES`] each and returns the median one (by rate) as the bytes
/// read while its clock ran and the seconds it took, plus a note on the
/// spread. `read` fills a prefix of the buffer and returns its length (at
/// least 1).
pub(crate) fn time_stream(
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
pub(crate) fn stream_chunk() -> Vec<u8> {
    (0..STREAM_CHUNK).map(|i| i as u8).collect()
}

/// Chunks the producer of a streaming benchmark writes: the warm-up and
/// every timed run.
pub(crate) fn stream_chunks() -> u64 {
    (STREAM_WARMUP + STREAM_REPEATS * STREAM_BYTES) / STREAM_CHUNK as u64
}

/// Pins the measuring process as `pin` says, after checking that both
/// processes' CPUs are available.
pub(crate) fn pin_parent(pin: Pin) -> Result<(), Failure> {
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

// ---------------------------------------------------------------------------
// The peer process.

/// What the peer side of a benchmark gets: the argument the measuring side
/// passed and a way to tell whether that side still runs.
pub(crate) struct Peer {
    pub(crate) arg: String,
    parent: u32,
}

impl Peer {
    pub(crate) fn check_parent(&self) -> Result<(), Failure> {
        if sys::parent_alive(self.parent) {
            Ok(())
        } else {
            Err(Failure::new("the measuring process died"))
        }
    }
}

/// `__peer NAME CPU|- PARENT_PID ARG`
pub(crate) fn peer_main(args: &[String]) -> ExitCode {
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
