//! Real-time calls under main-link load: the `rt_call` and `rt_call_spin`
//! round trips while, on the same link, a host thread moves a 64 MiB
//! `serde_bytes` state there and back, request after request, and small
//! `Tick`s flow host -> plugin with a `Tock` back for each.
//!
//! Where the threads run (2 cores): the host's audio thread (the calls) and
//! the plugin's serving thread are pinned as `--pin` says (split: CPU 0 and
//! CPU 1) and promoted to `SCHED_FIFO` 80 as the demo does; the load threads
//! and the links' own threads (listeners, death watches) are unpinned at
//! normal priority, so they run wherever a real-time thread leaves room.
//! The note says whether each promotion was granted, how much load moved
//! while the calls were timed, how much CPU every other thread got, how
//! long the two real-time threads waited on a runqueue, and how often the
//! audio thread was switched out: a load that stood still would make
//! "loaded" mean nothing. With spinning calls on two cores, the two
//! real-time threads take both CPUs and the load gets none (the note says
//! 0 ms): that row then shows the link without a load's CPU contention,
//! and only the blocking row measures calls and load sharing the machine.

use crate::channel::CHANNEL_SPIN;
use crate::harness::{time_round_trips, Harness, Measured, Pace, Peer, STALL_LIMIT};
use ipc_benches::sys;
use ipc_benches::Failure;
use ipc_link::{Ended, Host, LinkConfig, LinkError, MainLink, Plugin, RtCaller, Stop};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The real-time ping-pong (the reply is the complement).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Ping(u64);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Pong(u64);

/// The small main-link traffic: a `Tick` host -> plugin, a `Tock` back.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Tick(u64);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Tock(u64);

/// The plugin tells the host whether its serving thread got real-time
/// priority, and its thread ID (the host reports both).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Promoted(bool, u32);

/// The state, decoded into a fresh vector each way.
#[derive(serde::Serialize, serde::Deserialize)]
struct State(#[serde(with = "serde_bytes")] Vec<u8>);

#[derive(serde::Serialize, serde::Deserialize)]
struct StateBack(#[serde(with = "serde_bytes")] Vec<u8>);

/// `State` sent from borrowed bytes (same ID).
#[derive(serde::Serialize)]
struct StateRef<'a>(#[serde(with = "serde_bytes")] &'a [u8]);

ipc_link::message!(Ping = 3, Pong = 4, Tick = 7, Tock = 8, Promoted = 9);
ipc_link::message!(State = 44, StateBack = 45, StateRef<'_> = 44);

/// The size of the state moved each way.
const STATE_LEN: usize = 64 << 20;
/// Time between two `Tick`s: about 4000 a second each way.
const TICK_PERIOD: Duration = Duration::from_micros(250);
/// The real-time priority of the audio and serving threads (as the demo).
const RT_PRIORITY: u8 = 80;

/// `Promoted` not heard of yet, refused, granted.
const PROMOTION_UNKNOWN: u8 = 0;
const PROMOTION_REFUSED: u8 = 1;
const PROMOTION_GRANTED: u8 = 2;

fn link_error(what: &str, e: LinkError) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

/// Lets the calling thread (and the threads it spawns from now on) run on
/// every CPU: the harness pinned the process, the load must not be.
fn unpin() -> Result<(), Failure> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: an all-zero cpu_set_t is the empty set, a valid value.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for cpu in 0..8 * std::mem::size_of::<libc::cpu_set_t>() {
            // SAFETY: `cpu` is inside the set.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        // SAFETY: `set` is a valid cpu_set_t of the size passed; the kernel
        // keeps the CPUs that exist and are allowed.
        let ret =
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if ret != 0 {
            return Err(Failure::new(format!(
                "unpinning a load thread: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// The one CPU this thread is pinned to, if it is pinned to one.
fn pinned_cpu() -> Option<usize> {
    match sys::available_cpus().ok()?.as_slice() {
        [cpu] => Some(*cpu),
        _ => None,
    }
}

/// Pins the calling thread back to `cpu`, if any.
fn repin(cpu: Option<usize>) -> Result<(), Failure> {
    match cpu {
        Some(cpu) => sys::pin_to_cpu(cpu)
            .map_err(|e| Failure::new(format!("pinning back to CPU {cpu}: {e}"))),
        None => Ok(()),
    }
}

/// The calling thread's ID (Linux), from `/proc/thread-self`.
fn this_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// Nanoseconds on a CPU and waiting on a runqueue so far, by thread ID,
/// for every thread of process `pid` (`/proc/PID/task/*/schedstat`; empty
/// where there is none).
fn thread_times(pid: u32) -> Vec<(u32, u64, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let tid: u32 = task.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let mut fields = stat.split_whitespace().map(str::parse::<u64>);
            Some((tid, fields.next()?.ok()?, fields.next()?.ok()?))
        })
        .collect()
}

/// What the threads of both processes did between two `thread_times`.
struct CpuUse {
    /// Runqueue wait of the audio thread and of the serving thread (ns).
    audio_waited: Option<u64>,
    serving_waited: Option<u64>,
    /// CPU time of every other thread of both processes (ns): the load and
    /// the links' own threads.
    others_ran: u64,
}

impl CpuUse {
    fn between(
        before: &[(u32, u64, u64)],
        after: &[(u32, u64, u64)],
        audio: Option<u32>,
        serving: Option<u32>,
    ) -> CpuUse {
        let delta = |tid: u32| -> Option<(u64, u64)> {
            let (_, r1, w1) = after.iter().find(|t| t.0 == tid)?;
            let (r0, w0) = before
                .iter()
                .find(|t| t.0 == tid)
                .map_or((0, 0), |t| (t.1, t.2));
            Some((r1.saturating_sub(r0), w1.saturating_sub(w0)))
        };
        let others_ran = after
            .iter()
            .filter(|t| Some(t.0) != audio && Some(t.0) != serving)
            .filter_map(|t| delta(t.0))
            .map(|(ran, _)| ran)
            .sum();
        CpuUse {
            audio_waited: audio.and_then(delta).map(|d| d.1),
            serving_waited: serving.and_then(delta).map(|d| d.1),
            others_ran,
        }
    }
}

/// Voluntary and involuntary context switches of the calling thread so far.
fn context_switches() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    Some((
        field("voluntary_ctxt_switches:")?,
        field("nonvoluntary_ctxt_switches:")?,
    ))
}

/// How far the load has come.
#[derive(Default)]
struct Progress {
    /// State round trips completed (64 MiB each way).
    states: AtomicU64,
    ticks: AtomicU64,
    tocks: AtomicU64,
}

#[derive(Clone, Copy)]
struct Snapshot {
    states: u64,
    ticks: u64,
    tocks: u64,
    at: Instant,
}

impl Progress {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            states: self.states.load(Ordering::Relaxed),
            ticks: self.ticks.load(Ordering::Relaxed),
            tocks: self.tocks.load(Ordering::Relaxed),
            at: Instant::now(),
        }
    }
}

/// The load threads of the host.
struct Load {
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
    threads: Vec<JoinHandle<Result<(), Failure>>>,
}

impl Load {
    /// Starts the state and tick threads on `link`; they inherit the
    /// caller's (unpinned) affinity and normal priority.
    fn start(link: &MainLink, progress: Arc<Progress>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let states = {
            let (link, stop, progress) = (link.clone(), stop.clone(), progress.clone());
            std::thread::spawn(move || -> Result<(), Failure> {
                let mut state: Vec<u8> = (0..STATE_LEN).map(|i| i as u8).collect();
                for i in 0u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    state[..8].copy_from_slice(&i.to_le_bytes());
                    let StateBack(back) = link
                        .request_timeout(&StateRef(&state), STALL_LIMIT)
                        .map_err(|e| link_error("the state request", e))?;
                    if back.len() != STATE_LEN || back[..8] != i.to_le_bytes() {
                        return Err(Failure::new(format!("state {i} came back wrong")));
                    }
                    progress.states.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        };
        let ticks = {
            let (link, stop, progress) = (link.clone(), stop.clone(), progress.clone());
            std::thread::spawn(move || -> Result<(), Failure> {
                let mut next = Instant::now();
                for i in 0u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    link.send(&Tick(i))
                        .map_err(|e| link_error("sending a tick", e))?;
                    progress.ticks.fetch_add(1, Ordering::Relaxed);
                    // Paced, not as fast as possible: a few thousand a
                    // second, what a busy host's automation might send.
                    next += TICK_PERIOD;
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    } else {
                        next = now;
                    }
                }
                Ok(())
            })
        };
        Load {
            stop,
            progress,
            threads: vec![states, ticks],
        }
    }

    /// Waits until the load is flowing (a state round trip and a `Tock`
    /// completed) and the plugin has said how its serving thread runs.
    fn await_flowing(&self, served: &AtomicU8) -> Result<(), Failure> {
        let deadline = Instant::now() + STALL_LIMIT;
        while self.progress.states.load(Ordering::Relaxed) == 0
            || self.progress.tocks.load(Ordering::Relaxed) == 0
            || served.load(Ordering::Relaxed) == PROMOTION_UNKNOWN
        {
            if Instant::now() > deadline {
                return Err(Failure::new("the load did not start flowing"));
            }
            if self.threads.iter().any(JoinHandle::is_finished) {
                return Err(Failure::new("a load thread ended early"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Stops the load threads and reports their failure, if any.
    fn stop(self) -> Result<(), Failure> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread
                .join()
                .map_err(|_| Failure::new("a load thread panicked"))??;
        }
        Ok(())
    }
}

fn promotion_text(p: &Result<(), LinkError>) -> String {
    match p {
        Ok(()) => format!("SCHED_FIFO {RT_PRIORITY}"),
        Err(e) => format!("SCHED_FIFO refused ({e}), normal priority"),
    }
}

/// Starts the plugin with the host's handlers of the load, takes its
/// real-time end, and starts the load threads.
fn start_loaded(
    h: &Harness,
    spin: Duration,
    progress: &Arc<Progress>,
    served: &Arc<AtomicU8>,
    serving_tid: &Arc<AtomicU32>,
) -> Result<(Host, RtCaller, Load), Failure> {
    let mut host = {
        let (progress, served) = (progress.clone(), served.clone());
        let serving_tid = serving_tid.clone();
        Host::spawn(h.peer_command()?, &LinkConfig::default(), move |link| {
            link.on(move |Tock(_), _| {
                progress.tocks.fetch_add(1, Ordering::Relaxed);
            })?;
            link.on(move |Promoted(granted, tid), _| {
                let value = if granted {
                    PROMOTION_GRANTED
                } else {
                    PROMOTION_REFUSED
                };
                serving_tid.store(tid, Ordering::Relaxed);
                served.store(value, Ordering::Relaxed);
            })
        })
        .map_err(|e| link_error("starting the plugin process", e))?
    };
    let mut rt = host
        .take_rt()
        .ok_or_else(|| Failure::new("no real-time link"))?;
    rt.set_spin(spin);
    let load = Load::start(host.main_link(), progress.clone());
    Ok((host, rt, load))
}

fn loaded_with(h: &mut Harness, spin: Duration) -> Result<Measured, Failure> {
    let home = pinned_cpu();
    // The link's threads (started by `Host::spawn`) and the load threads
    // inherit this: unpinned.
    unpin()?;
    let progress = Arc::new(Progress::default());
    let served = Arc::new(AtomicU8::new(PROMOTION_UNKNOWN));
    let serving_tid = Arc::new(AtomicU32::new(0));
    let started = start_loaded(h, spin, &progress, &served, &serving_tid);
    // Threads started from here on (the audio thread) run where the
    // harness put this process again.
    repin(home)?;
    let (host, mut rt, load) = started?;
    let plugin_pid = host.plugin_pid();
    let timed = load.await_flowing(&served).and_then(|()| {
        let (warmup, iters) = h.iterations(Pace::of_spin(spin));
        let serving = Some(serving_tid.load(Ordering::Relaxed)).filter(|&t| t != 0);
        std::thread::scope(|s| {
            s.spawn(|| timed_calls(&mut rt, warmup, iters, &progress, plugin_pid, serving))
                .join()
                .map_err(|_| Failure::new("the audio thread panicked"))?
        })
    });
    let stopped = load.stop();
    drop(rt);
    let timed = timed?;
    stopped?;
    stop_plugin(host)?;
    let serving = match served.load(Ordering::Relaxed) {
        PROMOTION_GRANTED => format!("SCHED_FIFO {RT_PRIORITY}"),
        _ => "SCHED_FIFO refused, normal priority".to_owned(),
    };
    Ok(Measured::latency(timed.summary, timed.note(spin, &serving)))
}

/// What the audio thread measured: the calls, and around them the load's
/// progress, both processes' thread times and its own context switches.
struct Timed {
    summary: ipc_benches::report::LatencySummary,
    audio: String,
    before: Snapshot,
    after: Snapshot,
    cpu: CpuUse,
    switches: Option<(u64, u64)>,
}

impl Timed {
    fn note(&self, spin: Duration, serving: &str) -> String {
        let (before, after) = (&self.before, &self.after);
        let seconds = (after.at - before.at).as_secs_f64().max(1e-9);
        let mode = if spin.is_zero() {
            "as rt_call, blocking".to_owned()
        } else {
            format!("as rt_call_spin, spin {} us both sides", spin.as_micros())
        };
        let us = |ns: Option<u64>| ns.map_or_else(|| "?".to_owned(), |n| format!("{}", n / 1000));
        let switches = self.switches.map_or_else(String::new, |(v, n)| {
            format!(", switched out {v} times waiting and {n} times preempted")
        });
        format!(
            "{mode}; audio thread {}, serving thread {serving}; in the {:.0} ms timed, the load \
             threads (unpinned, normal priority) completed {} state round trips (64 MiB each way), \
             sent {:.0} Tick/s and got {:.0} Tock/s back, and all threads but the two real-time \
             ones ran {:.0} ms of CPU; runqueue wait: audio thread {} us{switches}, serving thread \
             {} us",
            self.audio,
            seconds * 1e3,
            after.states - before.states,
            (after.ticks - before.ticks) as f64 / seconds,
            (after.tocks - before.tocks) as f64 / seconds,
            self.cpu.others_ran as f64 / 1e6,
            us(self.cpu.audio_waited),
            us(self.cpu.serving_waited),
        )
    }
}

/// The audio thread (pinned where the harness put the measuring process):
/// promoted, then the timed calls.
fn timed_calls(
    rt: &mut RtCaller,
    warmup: u64,
    iters: u64,
    progress: &Progress,
    plugin_pid: u32,
    serving: Option<u32>,
) -> Result<Timed, Failure> {
    let audio = promotion_text(&ipc_link::promote_current_thread(RT_PRIORITY));
    let audio_tid = this_tid();
    let mut call = |seq: u64| {
        let Pong(reply) = rt
            .call_timeout(&Ping(seq), STALL_LIMIT)
            .map_err(|e| link_error("real-time call", e))?;
        Ok(reply)
    };
    for seq in 0..warmup {
        call(seq)?;
    }
    let threads = || {
        let mut all = thread_times(std::process::id());
        all.extend(thread_times(plugin_pid));
        all
    };
    let switches_before = context_switches();
    let threads_before = threads();
    let before = progress.snapshot();
    let summary = time_round_trips(0, iters, &mut call)?;
    let after = progress.snapshot();
    let threads_after = threads();
    let switches = context_switches()
        .zip(switches_before)
        .map(|((v1, n1), (v0, n0))| (v1 - v0, n1 - n0));
    Ok(Timed {
        summary,
        audio,
        before,
        after,
        cpu: CpuUse::between(&threads_before, &threads_after, audio_tid, serving),
        switches,
    })
}

fn stop_plugin(host: Host) -> Result<(), Failure> {
    match host
        .shutdown_timeout(STALL_LIMIT)
        .map_err(|e| link_error("stopping the plugin", e))?
    {
        ended if ended.is_clean() => Ok(()),
        Ended::Exited(status) | Ended::Killed(status) => Err(Failure::new(format!(
            "the plugin process did not end cleanly ({status})"
        ))),
    }
}

pub(crate) fn rt_call_loaded(h: &mut Harness) -> Result<Measured, Failure> {
    loaded_with(h, Duration::ZERO)
}

pub(crate) fn rt_call_spin_loaded(h: &mut Harness) -> Result<Measured, Failure> {
    loaded_with(h, CHANNEL_SPIN)
}

/// The plugin: echoes states and answers ticks on its (unpinned) listener
/// thread, serves the real-time calls on a pinned, promoted thread.
fn peer_with(p: &Peer, spin: Duration) -> Result<(), Failure> {
    let home = pinned_cpu();
    unpin()?;
    let mut plugin = Plugin::connect(&p.arg, &LinkConfig::default(), |link| {
        link.on_request(|State(v)| StateBack(v))?;
        link.on(|Tick(i), incoming| {
            let _ = incoming.link.send(&Tock(i));
        })
    })
    .map_err(|e| link_error("connecting to the host", e))?;
    let mut rt = plugin
        .take_rt()
        .ok_or_else(|| Failure::new("no real-time link"))?;
    rt.set_spin(spin);
    let link = plugin.main_link().clone();
    // The serving thread ends with the process.
    std::thread::spawn(move || {
        let pinned = repin(home).is_ok();
        let granted = ipc_link::promote_current_thread(RT_PRIORITY).is_ok();
        let _ = link.send(&Promoted(pinned && granted, this_tid().unwrap_or(0)));
        rt.serve(|Ping(x), _| Pong(!x))
    });
    match plugin.wait_for_stop() {
        Stop::Quit => Ok(()),
        Stop::HostGone(e) => Err(link_error("the host went away", e)),
    }
}

pub(crate) fn peer(p: &Peer) -> Result<(), Failure> {
    peer_with(p, Duration::ZERO)
}

pub(crate) fn spin_peer(p: &Peer) -> Result<(), Failure> {
    peer_with(p, CHANNEL_SPIN)
}
