//! The kill campaign: plugins and hosts killed with SIGKILL at random
//! moments of every kind of traffic (real-time calls, requests, large
//! messages streaming either way) and around the handshake. Every kill must
//! be reported to the survivor on both of its links as `PeerDied`; a host's
//! death must make its plugin exit; nothing may be left in `/dev/shm`, and no
//! process behind. Prints kill-to-error times per kind of kill and link.
//!
//! `IPC_SOAK_SEED` repeats a run (the seed is printed), `IPC_SOAK_KILLS`
//! sets the number of kills (default 96, 12 of each kind: a few seconds on
//! two cores), and
//! `IPC_SOAK_PROGRESS=1` prints a line every 10 %.
#![cfg(target_os = "linux")]

use ipc_link::{Host, LinkConfig, LinkError, MainLink, RtCaller};
use ipc_test_support::campaign::*;
use ipc_test_support::NEVER;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const DEFAULT_KILLS: usize = 96;

fn peer_exe() -> &'static str {
    env!("CARGO_BIN_EXE_ipc-campaign-peer")
}

fn plugin_command() -> Command {
    let mut c = Command::new(peer_exe());
    c.arg("plugin").stdin(Stdio::null()).stdout(Stdio::null());
    c
}

/// What is killed, and during what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The plugin, while the host's audio thread makes real-time calls.
    PluginRt,
    /// The plugin, while host threads make main-link requests (blocking
    /// ones and a window of ones answered through callbacks).
    PluginRequests,
    /// The plugin, while the host sends it blobs of 1 MiB and more.
    PluginLargeIn,
    /// The plugin, while it streams blobs of 1 MiB and more to the host.
    PluginLargeOut,
    /// The plugin, while it echoes blobs (large messages both ways).
    PluginLargeEcho,
    /// The plugin, during the handshake.
    PluginHandshake,
    /// The host, while it drives its plugin with all of the above.
    HostTraffic,
    /// The host, right after it started its plugin.
    HostEarly,
}

const KINDS: [Kind; 8] = [
    Kind::PluginRt,
    Kind::PluginRequests,
    Kind::PluginLargeIn,
    Kind::PluginLargeOut,
    Kind::PluginLargeEcho,
    Kind::PluginHandshake,
    Kind::HostTraffic,
    Kind::HostEarly,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::PluginRt => "plugin killed, real-time calls",
            Kind::PluginRequests => "plugin killed, requests",
            Kind::PluginLargeIn => "plugin killed, large host->plugin",
            Kind::PluginLargeOut => "plugin killed, large plugin->host",
            Kind::PluginLargeEcho => "plugin killed, large echo",
            Kind::PluginHandshake => "plugin killed, handshake",
            Kind::HostTraffic => "host killed, all traffic",
            Kind::HostEarly => "host killed, just started",
        }
    }
}

/// splitmix64: small, fast, and the same sequence for a seed everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A moment from zero to `max`, in microseconds.
    fn upto(&mut self, max: Duration) -> Duration {
        Duration::from_micros(self.next() % (max.as_micros() as u64 + 1))
    }

    fn pick<T: Copy>(&mut self, of: &[T]) -> T {
        of[(self.next() % of.len() as u64) as usize]
    }
}

/// What the campaign measured.
#[derive(Default)]
struct Tally {
    /// Kill-to-report times per kind and what reported.
    times: BTreeMap<(Kind, &'static str), Vec<Duration>>,
    /// How kills around the handshake landed.
    outcomes: BTreeMap<(Kind, String), usize>,
}

impl Tally {
    fn time(&mut self, kind: Kind, what: &'static str, t: Duration) {
        self.times.entry((kind, what)).or_default().push(t);
    }

    fn outcome(&mut self, kind: Kind, what: impl Into<String>) {
        *self.outcomes.entry((kind, what.into())).or_default() += 1;
    }

    fn print(&self) {
        println!(
            "{:<36} {:<26} {:>5} {:>9} {:>9} {:>9}",
            "kill-to-report times", "", "n", "p50 ms", "p99 ms", "max ms"
        );
        let row = |label: &str, what: &str, v: &[Duration]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{label:<36} {what:<26} {:>5} {:>9.3} {:>9.3} {:>9.3}",
                v.len(),
                ms(at(0.5)),
                ms(at(0.99)),
                ms(v[v.len() - 1])
            );
        };
        for ((kind, what), v) in &self.times {
            row(kind.name(), what, v);
        }
        // All kinds together, per survivor and link.
        let mut all: BTreeMap<(&str, &str), Vec<Duration>> = BTreeMap::new();
        for ((kind, what), v) in &self.times {
            let who = if matches!(kind, Kind::HostTraffic | Kind::HostEarly) {
                "all host kills"
            } else {
                "all plugin kills"
            };
            all.entry((who, what)).or_default().extend(v);
        }
        for ((who, what), v) in &all {
            row(who, what, v);
        }
        for ((kind, what), n) in &self.outcomes {
            println!("{:<36} {what}: {n}", kind.name());
        }
    }
}

/// Names in /dev/shm that the library could have left (it never should:
/// on Linux its memory has no name).
fn shm_names() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("ipc-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Processes that would be orphans of the campaign: as subreaper, this
/// process inherits every descendant whose parent died (the plugins of
/// killed hosts), so any child still listed once all rounds reaped theirs
/// was left behind.
fn children() -> BTreeSet<u32> {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("PPid:"))
                .is_some_and(|p| p.trim() == me)
        })
        .collect()
}

fn pidfd_open(pid: u32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(
        fd >= 0,
        "pidfd of {pid}: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) }
}

/// Waits (at most `NEVER`) for the process behind `pidfd` to exit; returns
/// when it was seen to.
fn wait_exit(pidfd: &OwnedFd, pid: u32) -> Instant {
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let until = Instant::now() + NEVER;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, left.as_millis() as libc::c_int) };
        if n == 1 {
            return Instant::now();
        }
        assert!(
            Instant::now() < until,
            "process {pid} still runs {NEVER:?} after its host was killed (an orphan)"
        );
    }
}

/// Reaps `pid`, a child of this process (directly, or inherited as
/// subreaper), and returns its status.
fn reap(pid: u32) -> ExitStatus {
    let mut status = 0;
    // SAFETY: a valid pointer to an int; a plain pid.
    let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    assert_eq!(
        r,
        pid as libc::pid_t,
        "reap {pid}: {}",
        std::io::Error::last_os_error()
    );
    ExitStatus::from_raw(status)
}

fn killed(status: ExitStatus) -> bool {
    status.signal() == Some(libc::SIGKILL)
}

fn expect_peer_died(what: &str, r: Result<impl std::fmt::Debug, LinkError>) {
    match r {
        Err(LinkError::PeerDied) => {}
        other => panic!("{what}: expected PeerDied, got {other:?}"),
    }
}

/// After a plugin's death was reported: every later use of both links
/// reports it too, at once.
fn check_dead_links(main: &MainLink, rt: &mut RtCaller) {
    expect_peer_died("a send", main.send(&Ping(0)));
    expect_peer_died(
        "a request",
        main.request_timeout::<_, Pong>(&Ping(0), NEVER),
    );
    expect_peer_died(
        "a real-time call",
        rt.call_timeout::<_, Processed>(
            &Process {
                frame: 0,
                gain: 1.0,
            },
            NEVER,
        ),
    );
    assert!(!main.is_connected());
}

/// The first error of one traffic thread, and when it came.
type Ended = (Instant, LinkError);

/// The error of a link call, stamped the moment the call returned (not
/// after the checks of the traffic thread's own work).
fn stamped<T>(r: Result<T, LinkError>) -> Result<T, Ended> {
    r.map_err(|e| (Instant::now(), e))
}

/// Loops `op` until it fails; signals `first` after its first success.
fn traffic(
    first: &mpsc::SyncSender<()>,
    mut op: impl FnMut(u64) -> Result<(), Ended> + Send + 'static,
) -> thread::JoinHandle<Ended> {
    let first = first.clone();
    thread::spawn(move || {
        for n in 0.. {
            if let Err(e) = op(n) {
                return e;
            }
            let _ = first.try_send(());
        }
        unreachable!()
    })
}

/// A kill of the plugin while the host (this process) runs one kind of
/// traffic.
fn plugin_traffic_round(kind: Kind, rng: &mut Rng, tally: &mut Tally) {
    let (first_tx, first_rx) = mpsc::sync_channel::<()>(1);
    let (down_tx, down_rx) = mpsc::channel::<Ended>();
    let stream_len = rng.pick(&BLOB_SIZES);
    let streamed = Arc::new(AtomicU64::new(0));
    let (first, count) = (first_tx.clone(), streamed.clone());
    let mut host = Host::spawn(plugin_command(), &LinkConfig::default(), move |link| {
        link.on_disconnect(move |e| {
            let _ = down_tx.send((Instant::now(), e.clone()));
        });
        link.on(move |b: Blob, _| {
            assert!(intact(&b, stream_len), "streamed blob {} damaged", b.seq);
            count.fetch_add(1, Ordering::Relaxed);
            let _ = first.try_send(());
        })
    })
    .expect("start the plugin");
    let main = host.main_link().clone();
    let mut rt = host.take_rt().expect("the real-time end");
    rt.attach_audio(2, 2, 128, NEVER).expect("attach audio");
    let mut rt = Some(rt);
    let mut threads = Vec::new();
    let mut rt_thread = None;
    match kind {
        Kind::PluginRt => {
            let first = first_tx.clone();
            let mut rt = rt.take().expect("the real-time end");
            rt_thread = Some(thread::spawn(move || {
                for frame in 0.. {
                    let audio = rt.audio_mut().expect("attached");
                    audio.input_mut(0).fill(0.25);
                    audio.input_mut(1).fill(0.25);
                    match rt.call_timeout::<_, Processed>(&Process { frame, gain: 4.0 }, NEVER) {
                        Ok(p) => {
                            assert_eq!((p.frame, p.outputs), (frame, 2));
                            let out = rt.audio().expect("attached").output(1)[127];
                            assert_eq!(out, 1.0 + frame as f32);
                        }
                        Err(e) => return (Instant::now(), e, rt),
                    }
                    let _ = first.try_send(());
                }
                unreachable!()
            }));
        }
        Kind::PluginRequests => {
            for t in 0..2u64 {
                let link = main.clone();
                threads.push(traffic(&first_tx, move |n| {
                    let n = t << 32 | n;
                    let Pong(m) = stamped(link.request_timeout(&Ping(n), NEVER))?;
                    assert_eq!(m, n);
                    Ok(())
                }));
            }
            // A window of requests answered through callbacks: when the
            // link goes, every one still waiting must get the death.
            let link = main.clone();
            let first = first_tx.clone();
            threads.push(thread::spawn(move || {
                let (tx, rx) = mpsc::channel();
                let mut waiting = 0;
                let mut failed = None;
                let mut n = 0u64;
                loop {
                    while failed.is_none() && waiting < 16 {
                        n += 1;
                        let tx = tx.clone();
                        let sent = link.request(&Ping(n), move |r: Result<Pong, LinkError>| {
                            let _ = tx.send((n, r, Instant::now()));
                        });
                        match sent {
                            Ok(()) => waiting += 1,
                            Err(e) => failed = Some((Instant::now(), e)),
                        }
                    }
                    if waiting == 0 {
                        break;
                    }
                    let (asked, r, at) = rx.recv_timeout(NEVER).expect("every request ends");
                    waiting -= 1;
                    match r {
                        Ok(Pong(m)) => {
                            assert_eq!(m, asked);
                            let _ = first.try_send(());
                        }
                        Err(e) => {
                            expect_peer_died("a request still waiting", Err::<(), _>(e.clone()));
                            failed.get_or_insert((at, e));
                        }
                    }
                }
                failed.expect("the link failed")
            }));
        }
        Kind::PluginLargeIn => {
            let link = main.clone();
            let len = stream_len;
            // Made once: the thread's time goes to the link, not to making
            // blobs (a kill then finds a transfer in flight).
            let store = Store(blob(1, len));
            threads.push(traffic(&first_tx, move |_| {
                let s: Stored = stamped(link.request_timeout(&store, NEVER))?;
                assert!(s.intact && s.seq == 1 && s.len == len as u64, "{s:?}");
                Ok(())
            }));
        }
        Kind::PluginLargeOut => {
            main.send(&StreamBlobs {
                len: stream_len as u64,
            })
            .expect("ask for blobs");
        }
        Kind::PluginLargeEcho => {
            let link = main.clone();
            let len = stream_len;
            let echo = Echo(blob(2, len));
            threads.push(traffic(&first_tx, move |_| {
                let Echoed(b) = stamped(link.request_timeout(&echo, NEVER))?;
                assert!(b == echo.0, "an echo came back damaged");
                Ok(())
            }));
        }
        _ => unreachable!("not a traffic kind"),
    }
    first_rx.recv_timeout(NEVER).expect("traffic flows");
    // A random moment of it; large blobs take a few milliseconds each.
    thread::sleep(rng.upto(Duration::from_millis(20)));
    let killed_at = Instant::now();
    let status = host.kill().expect("kill the plugin");
    assert!(killed(status), "the plugin died before the kill: {status}");
    // The real-time link: the audio thread's call, or (between calls) the
    // next one.
    let mut rt = match rt_thread {
        Some(h) => {
            let (at, e, rt) = h.join().expect("the audio thread");
            expect_peer_died("the real-time call", Err::<(), _>(e));
            tally.time(kind, "rt: the call", at - killed_at);
            rt
        }
        None => {
            let mut rt = rt.take().expect("the real-time end");
            let r = rt.call_timeout::<_, Processed>(
                &Process {
                    frame: 0,
                    gain: 1.0,
                },
                NEVER,
            );
            expect_peer_died("the next real-time call", r);
            tally.time(kind, "rt: the next call", killed_at.elapsed());
            rt
        }
    };
    // The main link: the disconnect hook and the waiter.
    let (at, e) = down_rx
        .recv_timeout(NEVER)
        .expect("the disconnect hook runs");
    expect_peer_died("the disconnect hook", Err::<(), _>(e));
    tally.time(kind, "main: disconnect hook", at - killed_at);
    expect_peer_died(
        "wait_disconnected",
        main.wait_disconnected_timeout(NEVER).and_then(Err::<(), _>),
    );
    for t in threads {
        let (at, e) = t.join().expect("a traffic thread");
        expect_peer_died("an operation in flight", Err::<(), _>(e));
        tally.time(kind, "main: operation in flight", at - killed_at);
    }
    if kind == Kind::PluginLargeOut {
        assert!(streamed.load(Ordering::Relaxed) >= 1);
    }
    check_dead_links(&main, &mut rt);
    drop(host);
}

/// A pipe whose ends do not leak into other children.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: two fresh descriptors nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A kill of the plugin while this process, its host, waits in
/// `Host::spawn`, a random moment after the plugin process forked (it
/// says so between fork and exec) or after the plugin started to connect
/// (it says its pid first): before it runs, while it connects, or just
/// after the handshake.
fn plugin_handshake_round(rng: &mut Rng, tally: &mut Tally) {
    let kind = Kind::PluginHandshake;
    let (read, write) = pipe();
    let mut cmd = plugin_command();
    let (prefix, delay) = if rng.next() % 2 == 0 {
        let hook = move || {
            let (line, len) = pid_line(SPAWNED_LINE, std::process::id());
            // SAFETY: writes `len` initialised bytes to our pipe; `write` is
            // async-signal-safe and nothing here allocates or locks, which
            // is all that runs between fork and exec may do.
            unsafe { libc::write(write.as_raw_fd(), line.as_ptr().cast(), len) };
            Ok(())
        };
        // SAFETY: the hook only does what is allowed between fork and exec.
        unsafe { cmd.pre_exec(hook) };
        (SPAWNED_LINE, rng.upto(Duration::from_millis(3)))
    } else {
        cmd.stdout(Stdio::from(write));
        (PID_LINE, rng.upto(Duration::from_micros(400)))
    };
    let killer = thread::spawn(move || {
        // The pipe ends with `cmd` (which holds its other end) if no
        // process ever started.
        let mut line = String::new();
        BufReader::new(File::from(read))
            .read_line(&mut line)
            .expect("read the plugin's pid");
        let pid: u32 = line
            .trim_end()
            .strip_prefix(prefix)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected the plugin's pid, got {line:?}"));
        thread::sleep(delay);
        let at = Instant::now();
        // SAFETY: a plain kill of our own child, which this process reaps
        // only once it has seen it die (no other process can have its pid).
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        at
    });
    let (down_tx, down_rx) = mpsc::channel::<Ended>();
    let spawned = Host::spawn(cmd, &LinkConfig::default(), move |link| {
        link.on_disconnect(move |e| {
            let _ = down_tx.send((Instant::now(), e.clone()));
        });
        Ok(())
    });
    let returned = Instant::now();
    let killed_at = killer.join().expect("the killer");
    match spawned {
        Err(e) => {
            assert!(
                returned >= killed_at,
                "Host::spawn failed before the kill: {e:?}"
            );
            match &e {
                LinkError::PeerDied => {}
                LinkError::PluginExited(status) => assert!(killed(*status), "{status}"),
                other => panic!("a plugin killed in the handshake: expected PeerDied or PluginExited, got {other:?}"),
            }
            tally.time(kind, "Host::spawn error", returned - killed_at);
            tally.outcome(kind, format!("killed before it connected: {:?}", e.kind()));
        }
        Ok(mut host) => {
            // The kill came after the handshake: the links report it.
            let status = host.kill().expect("reap the plugin");
            assert!(killed(status), "{status}");
            let main = host.main_link().clone();
            let mut rt = host.take_rt().expect("the real-time end");
            let r = rt.call_timeout::<_, Processed>(
                &Process {
                    frame: 0,
                    gain: 1.0,
                },
                NEVER,
            );
            expect_peer_died("the first real-time call", r);
            tally.time(kind, "rt: the next call", killed_at.elapsed());
            let (at, e) = down_rx
                .recv_timeout(NEVER)
                .expect("the disconnect hook runs");
            expect_peer_died("the disconnect hook", Err::<(), _>(e));
            tally.time(
                kind,
                "main: disconnect hook",
                at.saturating_duration_since(killed_at),
            );
            check_dead_links(&main, &mut rt);
            tally.outcome(kind, "killed after it connected");
            drop(host);
        }
    }
}

/// A kill of a host (`ipc-campaign-peer host`), early or during its
/// traffic: its plugin must notice on both links, say so on the stdout it
/// inherited, and exit.
fn host_round(kind: Kind, rng: &mut Rng, tally: &mut Tally) {
    let mut host = Command::new(peer_exe())
        .args(["host", peer_exe()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the host");
    let out = BufReader::new(host.stdout.take().expect("piped"));
    let (tx, lines) = mpsc::channel();
    // Ends when every process holding the pipe (host and plugin) is gone.
    thread::spawn(move || {
        for line in out.lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = |what: &str| {
        lines
            .recv_timeout(NEVER)
            .unwrap_or_else(|e| panic!("{}: no {what} ({e})", kind.name()))
    };
    // Said by the plugin process between fork and exec.
    let spawned = |line: String| -> u32 {
        line.strip_prefix(SPAWNED_LINE)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected the plugin's pid, got {line:?}"))
    };
    let chatter = |line: &str| {
        line.starts_with(PID_LINE)
            || line.starts_with(HOST_PLUGIN_LINE)
            || line == HOST_DRIVING_LINE
    };
    // Half the early kills come at a moment after the host started, blind:
    // perhaps before it made its link or started its plugin.
    let blind = kind == Kind::HostEarly && rng.next() % 2 == 0;
    let mut plugin = None;
    if blind {
        thread::sleep(rng.upto(Duration::from_millis(4)));
    } else {
        let pid = spawned(next("plugin pid"));
        // Taken while the host still runs: the pid is the plugin's.
        plugin = Some((pid, pidfd_open(pid)));
        if kind == Kind::HostEarly {
            // The plugin process exists; it may not even run the plugin yet.
            thread::sleep(rng.upto(Duration::from_millis(2)));
        } else {
            loop {
                let line = next("traffic");
                if line == HOST_DRIVING_LINE {
                    break;
                }
                assert!(chatter(&line), "the host said {line:?}");
            }
            thread::sleep(rng.upto(Duration::from_millis(30)));
        }
    }
    let (killed_ns, killed_at) = (monotonic_ns(), Instant::now());
    host.kill().expect("kill the host");
    let status = host.wait().expect("reap the host");
    assert!(
        killed(status),
        "the host died before the kill: {status}; it said {:?}",
        lines.try_iter().collect::<Vec<_>>()
    );
    let (pid, pidfd) = match plugin {
        Some(p) => p,
        None => match lines.recv_timeout(NEVER) {
            Ok(line) => {
                // Its host is gone: it is this process's child now (dead
                // or alive, its pid cannot be reused before we reap it).
                let pid = spawned(line);
                (pid, pidfd_open(pid))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                tally.outcome(kind, "killed before it started its plugin");
                return;
            }
            Err(e) => panic!("{}: no plugin pid ({e})", kind.name()),
        },
    };
    let report = loop {
        let line = next("report from the plugin");
        if let Some(r) = Report::parse(&line) {
            break r;
        }
        assert!(chatter(&line), "unexpected line {line:?}");
    };
    let since = |ns: u64, what: &str| {
        Duration::from_nanos(
            ns.checked_sub(killed_ns)
                .unwrap_or_else(|| panic!("the plugin's {what} noticed before the kill")),
        )
    };
    let code = match &report {
        Report::Stopped {
            main,
            main_ns,
            rt,
            rt_ns,
        } => {
            assert_eq!(main, "HostGone(PeerDied)", "wait_for_stop: {report:?}");
            assert_eq!(rt, "HostGone(PeerDied)", "RtServer::serve: {report:?}");
            tally.time(
                kind,
                "plugin main: wait_for_stop",
                since(*main_ns, "main link"),
            );
            tally.time(kind, "plugin rt: serve", since(*rt_ns, "real-time link"));
            if kind == Kind::HostEarly {
                tally.outcome(kind, "killed after the handshake");
            }
            0
        }
        Report::ConnectFailed {
            kind: failed,
            error,
            ..
        } => {
            assert_eq!(kind, Kind::HostEarly, "{report:?}");
            // Prompt: the host's death, or its memory already gone; never
            // the connect timeout.
            assert!(
                failed == "PeerDied" || failed == "Os",
                "the plugin must notice its host's death, not wait: {report:?}"
            );
            tally.outcome(kind, format!("connect failed: {failed} ({error})"));
            3
        }
    };
    let exited = wait_exit(&pidfd, pid);
    tally.time(kind, "plugin exit", exited - killed_at);
    let status = reap(pid);
    assert_eq!(status.code(), Some(code), "the plugin's exit: {status}");
    // The pipe ends: no process of this round holds it any more.
    match lines.recv_timeout(NEVER) {
        Err(mpsc::RecvTimeoutError::Disconnected) => {}
        other => panic!("after the plugin's exit: {other:?}"),
    }
}

#[test]
fn every_kill_is_reported_on_both_links_and_leaves_nothing_behind() {
    // A panic anywhere (a listener thread included, where the library would
    // catch it) fails the run.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("panic: {info}");
        std::process::abort();
    }));
    // Plugins of killed hosts become this process's children, so that it
    // can see them exit and reap them.
    // SAFETY: plain values.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "subreaper: {}", std::io::Error::last_os_error());

    let seed = std::env::var("IPC_SOAK_SEED")
        .ok()
        .map(|s| s.trim().parse::<u64>().expect("IPC_SOAK_SEED is a number"))
        .unwrap_or_else(|| monotonic_ns() ^ u64::from(std::process::id()) << 40);
    let kills = std::env::var("IPC_SOAK_KILLS")
        .ok()
        .map(|s| {
            s.trim()
                .parse::<usize>()
                .expect("IPC_SOAK_KILLS is a number")
        })
        .unwrap_or(DEFAULT_KILLS);
    let progress = std::env::var("IPC_SOAK_PROGRESS").is_ok_and(|v| v == "1");
    println!("kill campaign: {kills} kills, seed {seed} (IPC_SOAK_SEED={seed} repeats it)");

    let shm_before = shm_names();
    let children_before = children();
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let started = Instant::now();
    let step = kills.div_ceil(10).max(1);
    for i in 0..kills {
        let kind = KINDS[i % KINDS.len()];
        match kind {
            Kind::PluginHandshake => plugin_handshake_round(&mut rng, &mut tally),
            Kind::HostTraffic | Kind::HostEarly => host_round(kind, &mut rng, &mut tally),
            _ => plugin_traffic_round(kind, &mut rng, &mut tally),
        }
        if progress && ((i + 1) % step == 0 || i + 1 == kills) {
            println!(
                "kill campaign: {}/{kills} kills ({}%), {:.1} s",
                i + 1,
                (i + 1) * 100 / kills,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let elapsed = started.elapsed();

    let left: Vec<_> = shm_names().difference(&shm_before).cloned().collect();
    let orphans: Vec<_> = children().difference(&children_before).copied().collect();
    tally.print();
    println!(
        "kill campaign: {kills} kills in {:.1} s, seed {seed}; new /dev/shm entries: {}, orphans: {}",
        elapsed.as_secs_f64(),
        left.len(),
        orphans.len()
    );
    assert!(left.is_empty(), "left in /dev/shm: {left:?}");
    assert!(orphans.is_empty(), "processes left behind: {orphans:?}");
}
