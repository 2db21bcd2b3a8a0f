//! The host against plugins that attack it (`ipc-hostile-peer`): one that
//! scribbles on the shared memory while it still answers, one that tries
//! to resize the memory, and plugins that lie or go silent at the message
//! level. The host must never panic, fault or hang: every call returns
//! within its timeout (plus [`SLACK`] for a loaded machine) with an error
//! of a documented kind.
//!
//! Every panic is fatal in this binary: each test first installs a panic
//! hook that prints the panic and aborts, so that a panic on any thread,
//! a library thread such as a listener above all, fails the run. Tests
//! that need this belong in this file.
//!
//! `IPC_SOAK_MUTATIONS` sets how many words the scribbling peers overwrite
//! in all (default [`MUTATIONS`]), `IPC_SOAK_SEED` the seed (default: from
//! the clock; printed either way), and `IPC_SOAK_PROGRESS` asks for a line
//! every tenth of the way (`cargo xtask soak` sets all three).

use ipc_channel_shm::{Reader, Segment, Writer};
use ipc_link::{
    protocol, ErrorKind, Host, Limits, LinkConfig, LinkError, MainLink, Message, RtCaller, Waited,
};
use ipc_msgpack::Flags;
use ipc_test_support::hostile::{self, round_seed, XorShift};
use ipc_test_support::link_protocol::*;
use ipc_test_support::process::program;
use ipc_test_support::NEVER;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

/// What a call may take beyond its timeout on a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(2);
/// Words the scribbling peers overwrite in all, by default: enough to
/// reach every kind of field many times, small enough for CI.
const MUTATIONS: u64 = 40_000;
/// Mutations per peer: once a link is broken for good every call fails at
/// once, so many short-lived peers reach more than one long-lived one.
const PER_PEER: u64 = 500;

/// Makes every panic, on any thread, abort the process.
fn fatal_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            // Straight to stderr: the test harness's capture dies with us.
            let _ = writeln!(
                std::io::stderr(),
                "hostile_peer: panic (fatal in this test binary): {info}\n{}",
                std::backtrace::Backtrace::capture()
            );
            std::process::abort();
        }));
    });
}

/// Prints past the test harness's capture (which an abort would lose).
fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "hostile_peer: {line}");
}

fn env_u64(var: &str) -> Option<u64> {
    let v = std::env::var(var).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{var}={v:?} is not a number")),
    )
}

/// The peer program in `role`, its stdout going to a file the test reads.
fn peer(role: &str) -> (Command, PeerOutput) {
    let exe = program("IPC_HOSTILE_PEER", env!("CARGO_BIN_EXE_ipc-hostile-peer"));
    let (output, stdout) = PeerOutput::new(role);
    let mut c = Command::new(exe);
    c.arg(role).stdout(stdout);
    (c, output)
}

/// A link config for these tests: the connection string only in the
/// environment (the peer's arguments stay its own).
fn config() -> LinkConfig {
    LinkConfig {
        connection_argument: false,
        ..LinkConfig::default()
    }
}

/// Runs `f` on a thread of its own and waits for it at most its `timeout`
/// plus [`SLACK`], so that a call that hangs fails the test instead of
/// hanging it. Returns what `f` returned.
fn bounded<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let value = f();
        let _ = tx.send((value, start.elapsed()));
    });
    match rx.recv_timeout(timeout + SLACK) {
        Ok((value, took)) => {
            assert!(
                took <= timeout + SLACK,
                "{what} took {took:?}, its timeout is {timeout:?}"
            );
            value
        }
        Err(_) => panic!("{what} did not return within {timeout:?} + {SLACK:?}"),
    }
}

/// A peer's stdout, in a file the test reads while the peer runs.
struct PeerOutput {
    path: PathBuf,
}

impl PeerOutput {
    fn new(tag: &str) -> (PeerOutput, Stdio) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ipc-hostile-peer-{}-{tag}-{}.out",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&path).expect("create the peer's output file");
        (PeerOutput { path }, Stdio::from(file))
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The lines once one starts with `prefix` (at most [`NEVER`]).
    fn wait_for(&self, prefix: &str) -> Vec<String> {
        let until = Instant::now() + NEVER;
        loop {
            let lines = self.lines();
            if lines.iter().any(|l| l.starts_with(prefix)) {
                return lines;
            }
            assert!(
                Instant::now() < until,
                "the peer never said {prefix:?}; it said {lines:#?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Fails if the peer reported a panic (a library panic in the peer is
    /// a finding too).
    fn check_no_panic(&self) {
        let lines = self.lines();
        assert!(
            !lines.iter().any(|l| l.starts_with(hostile::PANIC)),
            "the peer panicked: {lines:#?}"
        );
    }
}

impl Drop for PeerOutput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Checks the peer's `resize` lines: on Linux the seals refuse every
/// attempt with `EPERM`; macOS refuses to resize a shared-memory object
/// once sized; Windows has no call to try.
fn check_resize_refused(lines: &[String]) {
    let attempts: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with(hostile::RESIZE) && !l.starts_with(hostile::RESIZE_DONE))
        .collect();
    assert!(
        !attempts.is_empty(),
        "no resize attempt reported: {lines:#?}"
    );
    for line in attempts {
        let outcome = line.split_once(": ").map_or("", |(_, o)| o);
        if cfg!(target_os = "linux") {
            assert!(
                outcome.starts_with(&format!("refused errno {}", eperm())),
                "{line}"
            );
        } else if cfg!(target_os = "macos") {
            assert!(outcome.starts_with("refused"), "{line}");
        } else {
            assert_eq!(outcome, "unsupported", "{line}");
        }
    }
}

#[cfg(unix)]
fn eperm() -> i32 {
    libc::EPERM
}

#[cfg(not(unix))]
fn eperm() -> i32 {
    1
}

/// The kinds a call may fail with when the peer is hostile: the peer's
/// doing (a timeout, a broken or closed link, a dead peer, garbage in
/// the memory or in a message, an error answer), never a local failure.
fn expected_kind(kind: ErrorKind) -> bool {
    use ErrorKind::*;
    matches!(
        kind,
        Closed
            | PeerDied
            | Timeout
            | Corrupted
            | Framing
            | TooLarge
            | Malformed
            | UnexpectedId
            | Remote
    )
}

/// How one kind of call fared.
#[derive(Default, Debug)]
struct CallStats {
    ok: u64,
    errors: u64,
}

/// What a scribble run saw, over all its peers.
#[derive(Default)]
struct Summary {
    calls: BTreeMap<&'static str, CallStats>,
    errors: BTreeMap<String, u64>,
    /// The call that went furthest past its timeout: (overrun, name,
    /// took, timeout).
    worst: Option<(Duration, &'static str, Duration, Duration)>,
    /// Answers that arrived but were not the ones asked for.
    wrong_answers: u64,
}

impl Summary {
    fn line(&self, seed: u64, mutations: u64) -> String {
        let calls: u64 = self.calls.values().map(|c| c.ok + c.errors).sum();
        let ok: u64 = self.calls.values().map(|c| c.ok).sum();
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let worst = self
            .worst
            .map_or("none".to_owned(), |(_, what, took, timeout)| {
                format!("{what} {took:?} against {timeout:?}")
            });
        format!(
            "seed {seed}: {mutations} mutations, {calls} calls ({ok} ok, {} wrong answers), \
             errors: {}; longest past its timeout: {worst}",
            self.wrong_answers,
            if errors.is_empty() {
                "none".to_owned()
            } else {
                errors.join(", ")
            }
        )
    }
}

/// A call in progress on a worker thread, for the watchdog.
type InFlight = Mutex<Option<(&'static str, Instant, Duration)>>;

/// What the worker threads of one scribble run share.
struct Run {
    seed: u64,
    summary: Mutex<Summary>,
    in_flight: Vec<InFlight>,
    /// Set once the peer has exited: each worker makes a few more calls,
    /// then stops.
    peer_gone: AtomicBool,
    /// Workers of the current peer that have stopped.
    finished: AtomicUsize,
}

impl Run {
    /// Makes one call on worker `worker`'s behalf: measures it against
    /// `timeout` (+ [`SLACK`]), checks the kind of its error, records it.
    fn call<T, E>(
        &self,
        worker: usize,
        what: &'static str,
        timeout: Duration,
        kind: impl Fn(&E) -> String,
        error_kind: impl Fn(&E) -> ErrorKind,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Option<T>
    where
        E: std::fmt::Debug,
    {
        let start = Instant::now();
        *self.in_flight[worker].lock().unwrap() = Some((what, start, timeout));
        let result = f();
        let took = start.elapsed();
        *self.in_flight[worker].lock().unwrap() = None;
        assert!(
            took <= timeout + SLACK,
            "seed {}: {what} took {took:?}, its timeout is {timeout:?} ({:?})",
            self.seed,
            result.as_ref().err()
        );
        let mut s = self.summary.lock().unwrap();
        let overrun = took.saturating_sub(timeout);
        if s.worst.is_none_or(|(worst, ..)| overrun > worst) {
            s.worst = Some((overrun, what, took, timeout));
        }
        let stats = s.calls.entry(what).or_default();
        match result {
            Ok(value) => {
                stats.ok += 1;
                Some(value)
            }
            Err(e) => {
                stats.errors += 1;
                assert!(
                    expected_kind(error_kind(&e)),
                    "seed {}: {what} failed with {e:?}, not a kind a hostile peer may cause",
                    self.seed
                );
                *s.errors.entry(kind(&e)).or_default() += 1;
                None
            }
        }
    }

    fn link_call<T>(
        &self,
        worker: usize,
        what: &'static str,
        timeout: Duration,
        f: impl FnOnce() -> Result<T, LinkError>,
    ) -> Option<T> {
        self.call(
            worker,
            what,
            timeout,
            |e: &LinkError| match e {
                LinkError::Timeout(w) => format!("Timeout({w:?})"),
                other => format!("{:?}", other.kind()),
            },
            LinkError::kind,
            f,
        )
    }

    fn channel_call<T>(
        &self,
        worker: usize,
        what: &'static str,
        timeout: Duration,
        f: impl FnOnce() -> Result<T, ipc_channel_shm::Error>,
    ) -> Option<T> {
        self.call(
            worker,
            what,
            timeout,
            |e| format!("{:?}", ErrorKind::from(e)),
            |e| ErrorKind::from(e),
            f,
        )
    }

    fn message_call<T>(
        &self,
        worker: usize,
        what: &'static str,
        timeout: Duration,
        f: impl FnOnce() -> Result<T, ipc_msgpack::Error>,
    ) -> Option<T> {
        self.call(
            worker,
            what,
            timeout,
            |e| format!("{:?}", ErrorKind::from(e)),
            |e| ErrorKind::from(e),
            f,
        )
    }

    fn wrong_answer(&self) {
        self.summary.lock().unwrap().wrong_answers += 1;
    }

    /// Fails if a call has been running longer than its timeout + slack.
    fn watchdog(&self) {
        for slot in &self.in_flight {
            if let Some((what, start, timeout)) = *slot.lock().unwrap() {
                let took = start.elapsed();
                assert!(
                    took <= timeout + SLACK,
                    "seed {}: {what} has been running for {took:?}, its timeout is {timeout:?}",
                    self.seed
                );
            }
        }
    }

    /// Whether worker loops should go on: until a few calls after the
    /// peer's exit (`left` counts them down).
    fn go_on(&self, left: &mut u32) -> bool {
        if self.peer_gone.load(Ordering::SeqCst) {
            if *left == 0 {
                return false;
            }
            *left -= 1;
        }
        true
    }

    /// A pause after a failed call: a link that is down fails every call
    /// at once, and spinning on it would starve the peer.
    fn after(&self, ok: bool) {
        if !ok {
            thread::sleep(Duration::from_millis(1));
        }
    }
}

const RT_TIMEOUT: Duration = Duration::from_millis(20);
const MAIN_TIMEOUT: Duration = Duration::from_millis(20);
const SEND_TIMEOUT: Duration = Duration::from_millis(50);
const CHANNEL_TIMEOUT: Duration = Duration::from_millis(20);
/// Calls each worker makes after the peer exited.
const AFTER_EXIT: u32 = 3;
/// Worker threads per peer: real-time, main link, Layer I, Layer II.
const WORKERS: usize = 4;

/// The audio thread: real-time calls with audio, re-attached now and then.
fn rt_worker(run: &Run, mut rt: RtCaller) {
    let w = 0;
    let attach = |rt: &mut RtCaller| {
        run.link_call(w, "attach_audio", Duration::from_secs(1), || {
            rt.attach_audio(2, 2, 64, Duration::from_secs(1))
        })
    };
    attach(&mut rt);
    let (mut frame, mut left) = (0u64, AFTER_EXIT);
    while run.go_on(&mut left) {
        frame += 1;
        if frame % 256 == 0 {
            attach(&mut rt);
        }
        if let Some(audio) = rt.audio_mut() {
            audio.input_mut(0).fill(0.25);
        }
        let request = RtRequest::Process { frame, gain: 0.5 };
        let reply = run.link_call(w, "rt call_timeout", RT_TIMEOUT, || {
            rt.call_timeout::<_, RtReply>(&request, RT_TIMEOUT)
        });
        if let Some(reply) = reply {
            if reply.frame != frame {
                run.wrong_answer();
            }
            // Whatever the peer wrote there is some f32.
            if let Some(audio) = rt.audio() {
                let _ = audio.output(0).iter().sum::<f32>();
            }
        }
        run.after(reply.is_some());
    }
}

/// A thread of the host's application: requests and sends on the main link.
fn main_worker(run: &Run, link: MainLink) {
    let w = 1;
    let (mut i, mut left) = (0u64, AFTER_EXIT);
    while run.go_on(&mut left) {
        i += 1;
        let ok = match i % 5 {
            0 => {
                let pong = run.link_call(w, "main request_timeout", MAIN_TIMEOUT, || {
                    link.request_timeout::<_, Pong>(&Ping(i), MAIN_TIMEOUT)
                });
                if pong.is_some_and(|Pong(n)| n != i) {
                    run.wrong_answer();
                }
                pong.is_some()
            }
            1 => run
                .link_call(w, "main request", SEND_TIMEOUT, || {
                    link.request(&Ping(i), |_: Result<Pong, LinkError>| {})
                })
                .is_some(),
            2 => run
                .link_call(w, "main try_send", Duration::ZERO, || {
                    link.try_send(&Tick(i))
                })
                .is_some(),
            3 => run
                .link_call(w, "main send_timeout", MAIN_TIMEOUT, || {
                    link.send_timeout(&Tick(i), MAIN_TIMEOUT)
                })
                .is_some(),
            _ => run
                .link_call(w, "main send", SEND_TIMEOUT, || link.send(&Tick(i)))
                .is_some(),
        };
        run.after(ok);
    }
}

/// Layer I on the extra segment: bytes out on channel 0, echoed back on 1.
fn bytes_worker(run: &Run, mut out: Writer, mut back: Reader, seed: u64) {
    let w = 2;
    let mut rng = XorShift::new(seed);
    let mut buf = vec![0u8; 1024];
    // What the echo should bring back, while nothing has failed (a failed
    // call may have sent or taken part of a blob: from then on the bytes
    // are not compared).
    let mut expected: VecDeque<u8> = VecDeque::new();
    let mut in_step = true;
    let (mut i, mut left) = (0u64, AFTER_EXIT);
    while run.go_on(&mut left) {
        i += 1;
        let n = 1 + rng.below(600) as usize;
        let data: Vec<u8> = (0..n).map(|k| (i as usize + k) as u8).collect();
        let sent = match i % 3 {
            0 => run.channel_call(w, "shm append_timeout", CHANNEL_TIMEOUT, || {
                out.append_timeout(&data, CHANNEL_TIMEOUT)
            }),
            1 => run.channel_call(w, "shm try_append", Duration::ZERO, || {
                out.try_append(&data)
            }),
            _ => run.channel_call(w, "shm reserve_timeout", CHANNEL_TIMEOUT, || {
                let mut space = out.reserve_timeout(n, CHANNEL_TIMEOUT)?;
                let (a, b) = space.as_mut_slices();
                let first = a.len().min(n);
                a[..first].copy_from_slice(&data[..first]);
                b[..n - first].copy_from_slice(&data[first..]);
                space.advance(n);
                Ok(n)
            }),
        };
        let committed = sent.is_some()
            && run
                .channel_call(w, "shm commit", Duration::ZERO, || out.commit())
                .is_some();
        match sent {
            Some(k) if committed => expected.extend(&data[..k]),
            _ => in_step = false,
        }
        let want = expected.len().clamp(1, buf.len());
        let got = match i % 3 {
            0 => run.channel_call(w, "shm read_exact_into_timeout", CHANNEL_TIMEOUT, || {
                back.read_exact_into_timeout(&mut buf[..want], CHANNEL_TIMEOUT)
                    .map(|()| want)
            }),
            1 => run.channel_call(w, "shm peek_timeout", CHANNEL_TIMEOUT, || {
                let peek = back.peek_timeout(1, CHANNEL_TIMEOUT)?;
                let (a, b) = peek.as_slices();
                let len = (a.len() + b.len()).min(buf.len());
                for (d, s) in buf.iter_mut().zip(a.iter().chain(b)).take(len) {
                    *d = *s;
                }
                peek.consume(len);
                Ok(len)
            }),
            _ => run.channel_call(w, "shm read_into_timeout", CHANNEL_TIMEOUT, || {
                back.read_into_timeout(&mut buf, CHANNEL_TIMEOUT)
            }),
        };
        match got {
            Some(k) if in_step => {
                if k > expected.len() || !expected.drain(..k).eq(buf[..k].iter().copied()) {
                    run.wrong_answer();
                    in_step = false;
                }
            }
            Some(_) => {}
            None => in_step = false,
        }
        run.after(committed && got.is_some());
    }
}

/// Layer II on the extra segment: `Tick`s out on channel 2, echoed on 3.
fn messages_worker(run: &Run, mut out: Writer, mut back: Reader) {
    let w = 3;
    // A message that has begun must end within this too: the bound of a
    // `try_recv` that found an envelope.
    let limits = Limits {
        max_message: 1 << 16,
        payload_timeout: Some(CHANNEL_TIMEOUT),
        ..Limits::default()
    };
    let mut expected: VecDeque<u64> = VecDeque::new();
    let mut in_step = true;
    let (mut i, mut left) = (0u64, AFTER_EXIT);
    while run.go_on(&mut left) {
        i += 1;
        let sent = if i % 4 == 0 {
            run.message_call(w, "msgpack try_send", Duration::ZERO, || {
                ipc_msgpack::try_send(&mut out, &Tick(i), 0, Flags::NONE)
            })
        } else {
            run.message_call(w, "msgpack send_timeout", CHANNEL_TIMEOUT, || {
                ipc_msgpack::send_timeout(&mut out, &Tick(i), 0, Flags::NONE, CHANNEL_TIMEOUT)
            })
        };
        match sent {
            Some(()) => expected.push_back(i),
            None => in_step = false,
        }
        let got = if i % 4 == 1 {
            run.message_call(w, "msgpack try_recv", CHANNEL_TIMEOUT, || {
                ipc_msgpack::try_recv::<Tick>(&mut back, &limits)
            })
        } else {
            run.message_call(w, "msgpack recv_timeout", CHANNEL_TIMEOUT, || {
                ipc_msgpack::recv_timeout::<Tick>(&mut back, &limits, CHANNEL_TIMEOUT)
            })
        };
        match got {
            Some((_, Tick(n))) if in_step => {
                if expected.pop_front() != Some(n) {
                    run.wrong_answer();
                    in_step = false;
                }
            }
            Some(_) => {}
            None => in_step = false,
        }
        run.after(sent.is_some() && got.is_some());
    }
}

/// One scribbling peer, start to end: returns the mutations it made.
fn scribble_round(run: &Run, seed: u64, mutations: u64) -> u64 {
    let extra = Segment::create(&[4096, 4096, 1024, 1024]).expect("create the extra segment");
    let (bytes_out, bytes_back) = (extra.writer(0).unwrap(), extra.reader(1).unwrap());
    let (msgs_out, msgs_back) = (extra.writer(2).unwrap(), extra.reader(3).unwrap());
    let extra_conn = extra.connection_string().expect("shared").to_owned();
    let (mut command, output) = peer("scribble");
    command.args([seed.to_string(), mutations.to_string(), extra_conn]);
    let config = LinkConfig {
        main_capacity: 8192,
        rt_capacity: 2048,
        send_timeout: SEND_TIMEOUT,
        limits: Limits {
            max_message: 1 << 20,
            ..Limits::default()
        },
        ..config()
    };
    let connect = config.connect_timeout;
    let spawned = bounded("Host::spawn", connect, move || {
        Host::spawn(command, &config, |link| {
            link.on(|Tick(_), _| {})?;
            link.on_request(|Question(x)| Answer(x))?;
            link.on_unknown(|_| {});
            Ok(())
        })
    });
    let mut host = spawned.unwrap_or_else(|e| {
        panic!(
            "seed {seed}: start the peer: {e}; it said {:#?}",
            output.lines()
        )
    });
    // The peer opened the extra segment before it connected.
    assert!(
        extra.peer_attached(),
        "seed {seed}: the peer did not open the extra segment"
    );
    extra.watch_peer();
    let rt = host.take_rt().expect("taken once");
    let link = host.main_link().clone();
    run.peer_gone.store(false, Ordering::SeqCst);
    run.finished.store(0, Ordering::SeqCst);
    let done = || run.finished.fetch_add(1, Ordering::SeqCst);
    thread::scope(|s| {
        s.spawn(|| (rt_worker(run, rt), done()));
        s.spawn(|| (main_worker(run, link), done()));
        s.spawn(|| (bytes_worker(run, bytes_out, bytes_back, seed), done()));
        s.spawn(|| (messages_worker(run, msgs_out, msgs_back), done()));
        let until = Instant::now() + NEVER;
        loop {
            run.watchdog();
            if host.try_wait().expect("wait for the peer").is_some() {
                break;
            }
            assert!(
                Instant::now() < until,
                "seed {seed}: the peer has not finished after {NEVER:?}: {:#?}",
                output.lines()
            );
            thread::sleep(Duration::from_millis(2));
        }
        run.peer_gone.store(true, Ordering::SeqCst);
        // The workers make their last calls against the dead peer; watch them.
        while run.finished.load(Ordering::SeqCst) < WORKERS {
            run.watchdog();
            thread::sleep(Duration::from_millis(2));
        }
    });
    let shutdown = Duration::from_millis(500);
    let ended = bounded("Host::shutdown_timeout", shutdown, move || {
        host.shutdown_timeout(shutdown)
    });
    ended.expect("the peer has exited already");
    output.check_no_panic();
    let lines = output.lines();
    check_resize_refused(&lines);
    let done = lines
        .iter()
        .find_map(|l| l.strip_prefix(hostile::SCRIBBLE_DONE))
        .unwrap_or_else(|| panic!("seed {seed}: the peer did not finish: {lines:#?}"));
    done.trim().parse().expect("a count")
}

#[test]
fn the_host_survives_a_peer_that_scribbles_on_the_segment() {
    fatal_panics();
    let total = env_u64("IPC_SOAK_MUTATIONS").unwrap_or(MUTATIONS).max(1);
    let seed = env_u64("IPC_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let progress = std::env::var_os("IPC_SOAK_PROGRESS").is_some();
    note(&format!(
        "scribble: seed {seed} ({total} mutations; replay with IPC_SOAK_SEED={seed} IPC_SOAK_MUTATIONS={total})"
    ));
    let run = Run {
        seed,
        summary: Mutex::new(Summary::default()),
        in_flight: (0..WORKERS).map(|_| Mutex::new(None)).collect(),
        peer_gone: AtomicBool::new(false),
        finished: AtomicUsize::new(0),
    };
    let started = Instant::now();
    let (mut done, mut round, mut tenth) = (0u64, 0u64, 0u64);
    while done < total {
        let n = PER_PEER.min(total - done);
        let made = scribble_round(&run, round_seed(seed, round), n);
        assert_eq!(
            made, n,
            "seed {seed}: peer {round} made {made} of {n} mutations"
        );
        done += made;
        round += 1;
        if progress && done * 10 / total > tenth {
            tenth = done * 10 / total;
            note(&format!(
                "scribble: {}% ({done} mutations, {round} peers, {:.0?})",
                tenth * 10,
                started.elapsed()
            ));
        }
    }
    let summary = run.summary.lock().unwrap();
    note(&summary.line(seed, done));
    // The calls reached the peer: each kind succeeded at least once (in
    // the honest phase at the latest).
    for what in [
        "rt call_timeout",
        "main request_timeout",
        "shm commit",
        "msgpack recv_timeout",
    ] {
        let ok = summary.calls.get(what).map_or(0, |c| c.ok);
        assert!(
            ok > 0,
            "seed {seed}: no {what} ever succeeded: {:?}",
            summary.calls
        );
    }
}

#[test]
fn a_peer_cannot_shrink_or_grow_the_shared_memory() {
    fatal_panics();
    let extra = Segment::create(&[4096, 4096, 1024, 1024]).unwrap();
    let (mut bytes_out, mut bytes_back) = (extra.writer(0).unwrap(), extra.reader(1).unwrap());
    let (mut msgs_out, mut msgs_back) = (extra.writer(2).unwrap(), extra.reader(3).unwrap());
    let (mut command, output) = peer("resize");
    command.arg(extra.connection_string().unwrap());
    let mut host = Host::spawn(command, &config(), |_| Ok(()))
        .unwrap_or_else(|e| panic!("start the peer: {e}; it said {:#?}", output.lines()));
    extra.watch_peer();
    let mut rt = host.take_rt().expect("taken once");
    let link = host.main_link().clone();
    let limits = Limits::default();
    // The peer waits for some traffic before it tries; then it goes on
    // serving and the host on working, the real-time rings (the last
    // channels, which a shrink would take away first) included.
    let t = Duration::from_secs(5);
    let mut buf = [0u8; 64];
    let mut exercise = |from: u64| {
        for i in from..from + 200 {
            let RtReply { frame, .. } = rt
                .call_timeout(
                    &RtRequest::Process {
                        frame: i,
                        gain: 1.0,
                    },
                    t,
                )
                .unwrap();
            assert_eq!(frame, i);
            let Pong(n) = link.request_timeout(&Ping(i), t).unwrap();
            assert_eq!(n, i);
            let data = [i as u8; 64];
            bytes_out.append_timeout(&data, t).unwrap();
            bytes_out.commit().unwrap();
            bytes_back.read_exact_into_timeout(&mut buf, t).unwrap();
            assert_eq!(buf, data);
            ipc_msgpack::send_timeout(&mut msgs_out, &Tick(i), 0, Flags::NONE, t).unwrap();
            let (_, Tick(n)) =
                ipc_msgpack::recv_timeout::<Tick>(&mut msgs_back, &limits, t).unwrap();
            assert_eq!(n, i);
        }
    };
    exercise(0);
    let lines = output.wait_for(hostile::RESIZE_DONE);
    check_resize_refused(&lines);
    exercise(1000);
    output.check_no_panic();
    let ended = host.shutdown_timeout(NEVER).unwrap();
    assert!(
        ended.is_clean(),
        "{ended:?}; the peer said {:#?}",
        output.lines()
    );
}

/// Starts `role` with a 1 s connect timeout and expects the handshake to
/// fail within it.
fn spawn_fails(role: &str) -> LinkError {
    let connect = Duration::from_secs(1);
    let config = LinkConfig {
        connect_timeout: connect,
        ..config()
    };
    let (command, output) = peer(role);
    let result = bounded("Host::spawn", connect, move || {
        Host::spawn(command, &config, |_| Ok(()))
    });
    output.check_no_panic();
    match result {
        Ok(host) => panic!(
            "{role}: the host accepted {host:?}; it said {:#?}",
            output.lines()
        ),
        Err(e) => e,
    }
}

#[test]
fn a_hello_claiming_four_gigabytes_is_refused_at_once() {
    fatal_panics();
    let e = spawn_fails("huge-hello");
    assert!(
        matches!(
            e,
            LinkError::TooLarge {
                id: protocol::Hello::ID,
                len: u32::MAX,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_hello_that_never_finishes_times_out_the_handshake() {
    fatal_panics();
    let e = spawn_fails("partial-hello");
    assert!(matches!(e, LinkError::Timeout(Waited::Connect)), "{e:?}");
}

/// A connected `role`, its real-time caller and what it says.
fn connected(role: &str, config: &LinkConfig) -> (Host, RtCaller, PeerOutput) {
    let (command, output) = peer(role);
    let mut host = Host::spawn(command, config, |_| Ok(()))
        .unwrap_or_else(|e| panic!("start {role}: {e}; it said {:#?}", output.lines()));
    let rt = host.take_rt().expect("taken once");
    (host, rt, output)
}

/// One real-time call of `timeout` on its own thread, bounded.
fn rt_call(
    mut rt: RtCaller,
    frame: u64,
    timeout: Duration,
) -> (RtCaller, Result<RtReply, LinkError>) {
    bounded("RtCaller::call_timeout", timeout, move || {
        let r = rt.call_timeout::<_, RtReply>(&RtRequest::Process { frame, gain: 1.0 }, timeout);
        (rt, r)
    })
}

#[test]
fn a_reply_that_stops_partway_times_out_the_call() {
    fatal_panics();
    let (_host, rt, _output) = connected("partial-reply", &config());
    let t = Duration::from_millis(100);
    let (rt, r) = rt_call(rt, 1, t);
    assert!(matches!(r, Err(LinkError::Timeout(Waited::Reply))), "{r:?}");
    // The rest never comes. The reply ring is left inside a message, which
    // nothing can follow: it was closed, and the next call says so at once
    // instead of reading the middle of the message as a reply.
    let (_, r) = rt_call(rt, 2, t);
    assert!(matches!(r, Err(LinkError::Closed)), "{r:?}");
}

/// The C++ tests' Ping and Pong: what `partial-main-reply` answers (a reply
/// of the request's ID + 1) begins to be a `CppPong`.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct CppPing(u32, String);
#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct CppPong(u32, String);
ipc_link::message!(CppPing = 100, CppPong = 101);

/// A link whose listener reads the rest of a message within 60 s: far
/// longer than the requests of the tests that use it.
fn long_payload_config() -> LinkConfig {
    LinkConfig {
        limits: Limits {
            payload_timeout: Some(Duration::from_secs(60)),
            ..Limits::default()
        },
        ..config()
    }
}

#[test]
fn a_main_link_reply_that_stops_partway_times_out_the_request() {
    fatal_panics();
    // The listener reads the rest of a reply that has begun within the
    // payload timeout; the request waits only its own.
    let (host, _rt, output) = connected("partial-main-reply", &long_payload_config());
    let link = host.main_link().clone();
    let t = Duration::from_millis(100);
    for _ in 0..2 {
        // The first gets the partial reply; the second's reply is never
        // read, the listener being inside the first.
        let l = link.clone();
        let r = bounded("MainLink::request_timeout", t, move || {
            l.request_timeout::<_, CppPong>(&CppPing(1, "x".into()), t)
        });
        assert!(
            matches!(r, Err(LinkError::Timeout(Waited::Reply))),
            "{r:?}; the peer said {:#?}",
            output.lines()
        );
    }
    assert!(
        output
            .lines()
            .iter()
            .any(|l| l == "partial-main-reply: sent"),
        "{:#?}",
        output.lines()
    );
}

#[test]
fn a_reply_that_stops_partway_cannot_hold_a_request_made_by_a_handler() {
    fatal_panics();
    // A request made on the listener thread reads its reply itself: it
    // must not take in the envelope of a reply whose rest may never come.
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let (command, output) = peer("tick-then-partial-reply");
    let t = Duration::from_millis(100);
    let host = Host::spawn(command, &long_payload_config(), move |link| {
        link.on(move |Tick(_), incoming| {
            let start = Instant::now();
            let r = incoming
                .link
                .request_timeout::<_, CppPong>(&CppPing(1, "x".into()), t);
            let _ = tx.lock().unwrap().send((r, start.elapsed()));
        })
    })
    .unwrap_or_else(|e| panic!("start the peer: {e}; it said {:#?}", output.lines()));
    let (r, took) = rx.recv_timeout(t + SLACK).unwrap_or_else(|_| {
        panic!(
            "the handler's request did not return within {t:?} + {SLACK:?}; the peer said {:#?}",
            output.lines()
        )
    });
    assert!(
        matches!(r, Err(LinkError::Timeout(Waited::Reply))),
        "{r:?}; the peer said {:#?}",
        output.lines()
    );
    assert!(took <= t + SLACK, "the handler's request took {took:?}");
    drop(host);
}

#[test]
fn a_reply_claiming_four_gigabytes_times_out_the_call() {
    fatal_panics();
    let (_host, rt, _output) = connected("huge-reply", &config());
    let t = Duration::from_millis(100);
    let (rt, r) = rt_call(rt, 1, t);
    assert!(matches!(r, Err(LinkError::Timeout(Waited::Reply))), "{r:?}");
    // Skipping the claimed bytes timed out inside the message: closed.
    let (_, r) = rt_call(rt, 2, t);
    assert!(matches!(r, Err(LinkError::Closed)), "{r:?}");
}

#[test]
fn a_flood_of_stale_replies_cannot_hold_a_real_time_call() {
    fatal_panics();
    // A ring that takes the host tens of milliseconds to go through: the
    // peer refreshes it long before the host could find it empty (and so
    // come to look at the clock while waiting).
    let config = LinkConfig {
        rt_capacity: 16 << 20,
        ..config()
    };
    let (_host, mut rt, output) = connected("reply-flood", &config);
    let t = Duration::from_millis(100);
    // The calls start once the ring is full of stale answers.
    output.wait_for("reply-flood: flooding");
    for frame in 1..=3 {
        let (back, r) = rt_call(rt, frame, t);
        rt = back;
        assert!(matches!(r, Err(LinkError::Timeout(Waited::Reply))), "{r:?}");
    }
}

#[test]
fn a_plugin_that_never_reads_fills_the_ring_and_every_call_returns_in_time() {
    fatal_panics();
    let config = LinkConfig {
        rt_capacity: 1024,
        ..config()
    };
    let (_host, mut rt, _output) = connected("no-read", &config);
    let t = Duration::from_millis(5);
    let mut replies = 0;
    for frame in 1.. {
        let (back, r) = rt_call(rt, frame, t);
        rt = back;
        match r {
            Err(LinkError::Timeout(Waited::Reply)) => replies += 1,
            Err(LinkError::Timeout(Waited::Space)) => break,
            other => panic!("call {frame}: {other:?}"),
        }
        assert!(frame < 1024, "1024 requests fit in a ring of 1024 bytes");
    }
    assert!(replies > 0, "the first requests fit in the ring");
    // Full it stays, and each call still returns in time.
    for frame in 0..3 {
        let (back, r) = rt_call(rt, frame, t);
        rt = back;
        assert!(matches!(r, Err(LinkError::Timeout(Waited::Space))), "{r:?}");
    }
}

#[test]
fn a_handler_that_never_returns_fills_the_main_ring_and_every_call_returns_in_time() {
    fatal_panics();
    let send = Duration::from_millis(200);
    let config = LinkConfig {
        main_capacity: 4096,
        send_timeout: send,
        ..config()
    };
    let (command, output) = peer("block-handler");
    let host = Host::spawn(command, &config, |_| Ok(()))
        .unwrap_or_else(|e| panic!("start the peer: {e}; it said {:#?}", output.lines()));
    let link = host.main_link().clone();
    let t = Duration::from_millis(20);
    let (mut request_full, mut send_full) = (false, false);
    let mut i = 0u64;
    while !(request_full && send_full) {
        i += 1;
        assert!(i < 10_000, "4096 bytes of ring never filled up");
        let l = link.clone();
        let r = bounded("MainLink::request_timeout", t, move || {
            l.request_timeout::<_, Pong>(&Ping(i), t)
        });
        match r {
            Err(LinkError::Timeout(Waited::Reply)) => {}
            Err(LinkError::Timeout(Waited::Space)) => request_full = true,
            other => panic!("request {i}: {other:?}"),
        }
        for _ in 0..8 {
            let l = link.clone();
            let r = bounded("MainLink::send", send, move || l.send(&Tick(i)));
            match r {
                Ok(()) => {}
                Err(LinkError::Timeout(Waited::Space)) => send_full = true,
                other => panic!("send {i}: {other:?}"),
            }
        }
    }
    // The link is still up: the plugin is only slow.
    assert!(link.is_connected());
}

#[test]
fn a_plugin_that_never_reads_its_answers_cannot_hold_the_shutdown() {
    fatal_panics();
    // The listener's answers wait for room up to the send timeout (10 s):
    // the shutdown must not wait for them.
    let config = LinkConfig {
        main_capacity: 4096,
        ..config()
    };
    let (command, output) = peer("ask-no-read");
    let host = Host::spawn(command, &config, |link| {
        link.on_request(|Question(x)| Answer(x))
    })
    .unwrap_or_else(|e| panic!("start the peer: {e}; it said {:#?}", output.lines()));
    output.wait_for("ask-no-read: the host stopped reading");
    let t = Duration::from_millis(500);
    let ended = bounded("Host::shutdown_timeout", t, move || {
        host.shutdown_timeout(t)
    });
    // It never read the Quit either: killed.
    assert!(matches!(ended, Ok(ipc_link::Ended::Killed(_))), "{ended:?}");
}

/// The state letter of thread `tid` of this process (`S` while it sleeps).
#[cfg(target_os = "linux")]
fn thread_state(tid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses.
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// `MainLink::close` returns at once even while a send waits on a ring the
/// plugin stopped reading (it holds the link's writer for up to the send
/// timeout): the channel is closed first, which wakes the send with
/// `Closed`.
#[cfg(target_os = "linux")]
#[test]
fn closing_the_main_link_does_not_wait_for_a_blocked_send() {
    fatal_panics();
    let send = Duration::from_secs(30);
    let config = LinkConfig {
        main_capacity: 4096,
        send_timeout: send,
        ..config()
    };
    let (command, output) = peer("block-handler");
    let host = Host::spawn(command, &config, |_| Ok(()))
        .unwrap_or_else(|e| panic!("start the peer: {e}; it said {:#?}", output.lines()));
    let link = host.main_link().clone();
    // The handler never returns, so nothing is read after this request.
    let l = link.clone();
    let t = Duration::from_millis(20);
    let _ = bounded("MainLink::request_timeout", t, move || {
        l.request_timeout::<_, Pong>(&Ping(0), t)
    });
    // Fill the ring without waiting.
    let mut i = 0;
    while link.try_send(&Tick(i)).is_ok() {
        i += 1;
        assert!(i < 10_000, "4096 bytes of ring never filled up");
    }
    // A send that must wait; the test goes on once its thread sleeps.
    let (tid_tx, tid_rx) = mpsc::channel();
    let l = link.clone();
    let sender = thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        let _ = tid_tx.send(unsafe { libc::gettid() });
        let start = Instant::now();
        (l.send(&Tick(u64::MAX)), start.elapsed())
    });
    let tid = tid_rx.recv().expect("the sender's thread id");
    let start = Instant::now();
    while thread_state(tid) != Some('S') {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the send never went to sleep"
        );
        thread::yield_now();
    }
    // Bounded: it fails if close takes longer than SLACK (the old close
    // waited for the send's 30 s).
    bounded("MainLink::close", Duration::ZERO, move || link.close());
    let (sent, waited) = sender.join().expect("the sender");
    assert!(matches!(sent, Err(LinkError::Closed)), "{sent:?}");
    assert!(
        waited < send,
        "the send waited {waited:?}: its full timeout"
    );
}
