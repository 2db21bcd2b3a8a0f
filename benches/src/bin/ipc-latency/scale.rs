//! Many plugins on one host: `link_scale_N` and `link_scale_spin_N` start N
//! plugin processes and call each one's real-time link once per period, in
//! order, as a host's audio thread does with remote plugins; they report the
//! period's cost divided by N, and what each plugin costs the host in
//! threads, mappings, locked memory and descriptors.
//!
//! `baseline_round_robin_N` and `baseline_round_robin_spin_N` do the same
//! with N processes that each sleep on a raw futex in a shared page (the
//! host sleeps for each answer, or spins): what switching one core between
//! N processes costs whatever the channel does.

use crate::channel::CHANNEL_SPIN;
use crate::harness::{Harness, Measured, Pace, Peer, PeerProcess, LIVENESS_INTERVAL, STALL_LIMIT};
use ipc_benches::report::LatencySummary;
use ipc_benches::sys::{self, SharedPage, Woken};
use ipc_benches::{Context, Failure};
use ipc_link::{Ended, Host, LinkConfig, LinkError, Plugin, RtCaller, Stop};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A real-time request and its answer (the complement). The same shapes
/// and IDs as the other link rows, though only this file's peer serves them.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Ping(u64);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Pong(u64);

ipc_link::message!(Ping = 3, Pong = 4);

/// Fewest periods a row times, whatever N: enough for a p99.
const MIN_PERIODS: u64 = 400;

/// How long the idle links are watched for wake-ups (eight of the 25 ms
/// peer-check slices that sleepers use where no death watch wakes them).
const IDLE_WINDOW: Duration = Duration::from_millis(200);

fn link_error(what: &str, e: LinkError) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

/// What the host process holds, from `/proc/self`.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    threads: u64,
    /// `VmLck`.
    locked: u64,
    /// Every mapping of the process (`VmSize`).
    mapped: u64,
    /// Mappings of memory files: link segments and audio regions.
    shared: u64,
    fds: u64,
}

impl Usage {
    fn now() -> Result<Usage, Failure> {
        let status =
            std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
        let field = |name: &str| -> Result<u64, Failure> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .ok_or_else(|| Failure::new(format!("no {name} in /proc/self/status")))
        };
        let maps = std::fs::read_to_string("/proc/self/maps").context("reading /proc/self/maps")?;
        let shared = maps
            .lines()
            .filter(|l| l.contains("/memfd:"))
            .filter_map(|l| {
                let (range, _) = l.split_once(' ')?;
                let (a, b) = range.split_once('-')?;
                Some(u64::from_str_radix(b, 16).ok()? - u64::from_str_radix(a, 16).ok()?)
            })
            .sum();
        let fds = std::fs::read_dir("/proc/self/fd")
            .context("listing /proc/self/fd")?
            .count() as u64;
        Ok(Usage {
            threads: field("Threads:")?,
            locked: field("VmLck:")? * 1024,
            mapped: field("VmSize:")? * 1024,
            shared,
            fds,
        })
    }

    /// What `n` plugins added between `before` and `self`, per plugin, as
    /// a note.
    fn per_plugin(&self, before: &Usage, n: u64) -> String {
        let each = |after: u64, before: u64| (after as f64 - before as f64) / n as f64;
        let mib = |bytes: f64| bytes / f64::from(1 << 20);
        format!(
            "host per plugin: {:.2} threads, {:.2} MiB shared mapped ({:.2} MiB all mappings), {:.2} MiB locked, {:.2} fds",
            each(self.threads, before.threads),
            mib(each(self.shared, before.shared)),
            mib(each(self.mapped, before.mapped)),
            mib(each(self.locked, before.locked)),
            each(self.fds, before.fds),
        )
    }
}

/// Context switches of every thread of process `pid` so far.
fn switches(pid: u32) -> Result<u64, Failure> {
    let tasks = format!("/proc/{pid}/task");
    let mut total = 0;
    for task in std::fs::read_dir(&tasks).context(&format!("listing {tasks}"))? {
        let path = task.context("listing threads")?.path().join("status");
        // A thread that ended meanwhile has nothing more to count.
        let Ok(status) = std::fs::read_to_string(&path) else {
            continue;
        };
        total += status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    Ok(total)
}

/// Wake-ups per plugin and second while nothing is called: the context
/// switches of the host's threads and of the plugin processes' threads
/// during `window` of idleness, divided by the plugins and the seconds.
/// An idle link should cost none (docs/ARCHITECTURE.md, Cost per plugin).
fn idle_wakeups(plugins: &[u32], window: Duration) -> Result<f64, Failure> {
    let pids: Vec<u32> = std::iter::once(std::process::id())
        .chain(plugins.iter().copied())
        .collect();
    let count = || -> Result<u64, Failure> { pids.iter().map(|&p| switches(p)).sum() };
    let before = count()?;
    std::thread::sleep(window);
    let after = count()?;
    Ok(after.saturating_sub(before) as f64 / plugins.len() as f64 / window.as_secs_f64())
}

/// Asks a plugin to quit and checks that it exited cleanly.
fn stop_plugin(host: Host) -> Result<(), Failure> {
    match host
        .shutdown_timeout(STALL_LIMIT)
        .map_err(|e| link_error("stopping a plugin", e))?
    {
        ended if ended.is_clean() => Ok(()),
        Ended::Exited(status) => Err(Failure::new(format!("a plugin process failed ({status})"))),
        Ended::Killed(status) => Err(Failure::new(format!(
            "a plugin process did not quit in time and was killed ({status})"
        ))),
    }
}

/// Times `periods` calls of `period` (which calls `n` peers) and returns
/// the distribution of a period's time divided by `n`.
fn time_periods(
    periods: u64,
    n: u64,
    period: &mut dyn FnMut() -> Result<(), Failure>,
) -> Result<LatencySummary, Failure> {
    let mut samples = Vec::with_capacity(periods as usize);
    let mut last = Instant::now();
    for _ in 0..periods {
        period()?;
        let now = Instant::now();
        samples.push(u64::try_from((now - last).as_nanos()).unwrap_or(u64::MAX) / n);
        last = now;
    }
    LatencySummary::from_samples(&mut samples).ok_or_else(|| Failure::new("no periods measured"))
}

/// Starts `n` plugins (default configuration), then times periods in
/// which every plugin's real-time link is called once, in order. The host
/// spins `spin` for each reply.
fn scale(h: &mut Harness, n: u64, spin: Duration, note: &str) -> Result<Measured, Failure> {
    let before = Usage::now()?;
    let mut hosts = Vec::new();
    for _ in 0..n {
        hosts.push(
            Host::spawn(h.peer_command()?, &LinkConfig::default(), |_| Ok(()))
                .map_err(|e| link_error("starting a plugin process", e))?,
        );
    }
    let mut rts: Vec<RtCaller> = hosts
        .iter_mut()
        .map(|host| {
            host.take_rt()
                .ok_or_else(|| Failure::new("no real-time link"))
        })
        .collect::<Result<_, _>>()?;
    let after = Usage::now()?;
    for rt in &mut rts {
        rt.set_spin(spin);
    }
    let (_, calls) = h.iterations(Pace::of_spin(spin));
    let periods = (calls / n).max(MIN_PERIODS);
    let warmup = (periods / 10).max(10);
    let mut seq = 0u64;
    let mut period = || -> Result<(), Failure> {
        for rt in &mut rts {
            let Pong(reply) = rt
                .call_timeout(&Ping(seq), STALL_LIMIT)
                .map_err(|e| link_error("real-time call", e))?;
            if reply != !seq {
                return Err(Failure::new(format!(
                    "reply {reply:#x} to request {seq} is wrong"
                )));
            }
            seq += 1;
        }
        Ok(())
    };
    for _ in 0..warmup {
        period()?;
    }
    let summary = time_periods(periods, n, &mut period)?;
    let pids: Vec<u32> = hosts.iter().map(Host::plugin_pid).collect();
    let idle = idle_wakeups(&pids, IDLE_WINDOW)?;
    drop(rts);
    for host in hosts {
        stop_plugin(host)?;
    }
    Ok(Measured::latency(
        summary,
        format!(
            "{n} plugins, {periods} periods, p50/p99 of a period / {n}; {note}; {}; idle: {idle:.1} wake-ups/s per plugin",
            after.per_plugin(&before, n)
        ),
    ))
}

fn blocking(h: &mut Harness, n: u64) -> Result<Measured, Failure> {
    scale(h, n, Duration::ZERO, "blocking both sides")
}

fn spinning(h: &mut Harness, n: u64) -> Result<Measured, Failure> {
    scale(
        h,
        n,
        CHANNEL_SPIN,
        &format!(
            "host spins {} us for each reply, plugins block between periods (docs/ARCHITECTURE.md, Cost per plugin)",
            CHANNEL_SPIN.as_micros()
        ),
    )
}

/// A plugin: serves `Ping`s on its real-time link until the host says
/// quit. Its serving thread sleeps between requests in every row: a
/// plugin's next request comes a period later, so a spin after its answer
/// could never catch it, and with more plugins than cores it would only
/// take the core from the plugin called next (docs/ARCHITECTURE.md, "Cost
/// per plugin").
pub(crate) fn peer(p: &Peer) -> Result<(), Failure> {
    let mut plugin = Plugin::connect(&p.arg, &LinkConfig::default(), |_| Ok(()))
        .map_err(|e| link_error("connecting to the host", e))?;
    let mut rt = plugin
        .take_rt()
        .ok_or_else(|| Failure::new("no real-time link"))?;
    // The serving thread ends with the process.
    std::thread::spawn(move || rt.serve(|Ping(x), _| Pong(!x)));
    match plugin.wait_for_stop() {
        Stop::Quit => Ok(()),
        Stop::HostGone(e) => Err(link_error("the host went away", e)),
    }
}

pub(crate) fn link_scale_1(h: &mut Harness) -> Result<Measured, Failure> {
    blocking(h, 1)
}

pub(crate) fn link_scale_8(h: &mut Harness) -> Result<Measured, Failure> {
    blocking(h, 8)
}

pub(crate) fn link_scale_32(h: &mut Harness) -> Result<Measured, Failure> {
    blocking(h, 32)
}

pub(crate) fn link_scale_64(h: &mut Harness) -> Result<Measured, Failure> {
    blocking(h, 64)
}

pub(crate) fn link_scale_spin_1(h: &mut Harness) -> Result<Measured, Failure> {
    spinning(h, 1)
}

pub(crate) fn link_scale_spin_8(h: &mut Harness) -> Result<Measured, Failure> {
    spinning(h, 8)
}

pub(crate) fn link_scale_spin_32(h: &mut Harness) -> Result<Measured, Failure> {
    spinning(h, 32)
}

pub(crate) fn link_scale_spin_64(h: &mut Harness) -> Result<Measured, Failure> {
    spinning(h, 64)
}

// ---------------------------------------------------------------------------
// The floor: N processes, each asleep on a raw futex in a page of its own.

/// The request word (the host posts the call's number) and the reply word
/// (the peer posts it back), on cache lines of their own.
const REQUEST_WORD: usize = 0;
const REPLY_WORD: usize = 256;
/// The request that tells a raw peer to exit.
const QUIT_WORD: u32 = u32::MAX;

/// Waits until `word` no longer holds `seen`, sleeping on it; `alive` is
/// asked whenever a sleep times out.
fn sleep_while(
    word: &AtomicU32,
    seen: u32,
    alive: &mut dyn FnMut() -> Result<(), Failure>,
) -> Result<u32, Failure> {
    let since = Instant::now();
    loop {
        let now = word.load(Ordering::Acquire);
        if now != seen {
            return Ok(now);
        }
        if sys::futex_wait(word, seen, LIVENESS_INTERVAL).context("FUTEX_WAIT")? == Woken::TimedOut
        {
            alive()?;
            if since.elapsed() > STALL_LIMIT {
                return Err(Failure::new("no answer from a peer process"));
            }
        }
    }
}

/// `n` raw peers called in turn, once per period; the host sleeps for each
/// answer, or (`spin`) spins for it. The peers always sleep.
fn round_robin(h: &mut Harness, n: u64, spin: bool) -> Result<Measured, Failure> {
    let mut peers: Vec<(SharedPage, PeerProcess)> = Vec::new();
    for _ in 0..n {
        let page = SharedPage::create(4096).context("creating a shared page")?;
        let peer = {
            let inherited = page.inheritable().context("passing the page to a peer")?;
            h.spawn_peer(&inherited.arg())?
        };
        peers.push((page, peer));
    }
    let (_, calls) = h.iterations(if spin { Pace::Spinning } else { Pace::Blocking });
    let periods = (calls / n).max(MIN_PERIODS);
    let warmup = (periods / 10).max(10);
    let mut number = 0u32;
    let mut period = || -> Result<(), Failure> {
        for (page, peer) in &mut peers {
            number = number.wrapping_add(1) % QUIT_WORD;
            let (request, reply) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
            let before = reply.load(Ordering::Acquire);
            request.store(number, Ordering::Release);
            sys::futex_wake(request).context("FUTEX_WAKE")?;
            let got = if spin {
                let since = Instant::now();
                let mut spins = 0u32;
                loop {
                    let now = reply.load(Ordering::Acquire);
                    if now != before {
                        break now;
                    }
                    std::hint::spin_loop();
                    spins = spins.wrapping_add(1);
                    if spins % 4096 == 0 {
                        peer.check_alive()?;
                        if since.elapsed() > STALL_LIMIT {
                            return Err(Failure::new("no answer from a peer process"));
                        }
                    }
                }
            } else {
                sleep_while(reply, before, &mut || peer.check_alive())?
            };
            if got != number {
                return Err(Failure::new(format!("answer {got} to call {number}")));
            }
        }
        Ok(())
    };
    for _ in 0..warmup {
        period()?;
    }
    let summary = time_periods(periods, n, &mut period)?;
    for (page, _) in &peers {
        page.word(REQUEST_WORD).store(QUIT_WORD, Ordering::Release);
        sys::futex_wake(page.word(REQUEST_WORD)).context("FUTEX_WAKE")?;
    }
    for (_, peer) in peers {
        peer.finish()?;
    }
    Ok(Measured::latency(
        summary,
        format!(
            "{n} processes, {periods} periods, p50/p99 of a period / {n}; raw futex in a page each, peers sleep, host {}",
            if spin { "spins" } else { "sleeps" }
        ),
    ))
}

/// A raw peer: answers each request with its number, sleeping between
/// them, until told to quit. It wakes the host on every answer (a host
/// that spins is not asleep, and the wake then finds nobody).
pub(crate) fn raw_peer(p: &Peer) -> Result<(), Failure> {
    let page = SharedPage::open_inherited(&p.arg).context("mapping the shared page")?;
    let (request, reply) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
    let mut seen = 0u32;
    loop {
        seen = sleep_while(request, seen, &mut || p.check_parent())?;
        if seen == QUIT_WORD {
            return Ok(());
        }
        reply.store(seen, Ordering::Release);
        sys::futex_wake(reply).context("FUTEX_WAKE")?;
    }
}

pub(crate) fn round_robin_1(h: &mut Harness) -> Result<Measured, Failure> {
    round_robin(h, 1, false)
}

pub(crate) fn round_robin_64(h: &mut Harness) -> Result<Measured, Failure> {
    round_robin(h, 64, false)
}

pub(crate) fn round_robin_spin_1(h: &mut Harness) -> Result<Measured, Failure> {
    round_robin(h, 1, true)
}

pub(crate) fn round_robin_spin_64(h: &mut Harness) -> Result<Measured, Failure> {
    round_robin(h, 64, true)
}
