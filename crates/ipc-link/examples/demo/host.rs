//! The host process: starts the plugin, plays a melody through it in real
//! time, measures, saves and restores its state, then kills it.

use crate::messages::{
    LoadState, Loaded, LogLine, Midi, ParamChanged, Ready, RtReply, RtRequest, SaveState, Stalling,
    State,
};
use crate::plugin::RT_PRIORITY;
use crate::state::{self, STATE_LEN};
use crate::stats::{dbfs, dur, line, ms, Samples};
use crate::synth::RATE;
use crate::{step, Failure};
use ipc_link::{AudioBuffers, Host, LinkConfig, LinkError, MainLink, RtCaller};
use parking_lot::Mutex;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

/// Frames per period.
const FRAMES: usize = 256;
/// One period: 256 frames at 48 kHz, 5.33 ms. Also each call's deadline.
const PERIOD: Duration = Duration::from_nanos(FRAMES as u64 * 1_000_000_000 / RATE as u64);
/// The bounded spin of the last latency row (both sides).
const SPIN: Duration = Duration::from_micros(50);
/// Deadline of requests that are not real-time (start, state).
const SLOW: Duration = Duration::from_secs(30);

/// What the command line asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Periods paced in real time.
    pub periods: u64,
    /// Unpaced periods, and round trips of each kind for the latency table.
    pub unpaced: u64,
}

/// What the plugin sent on its own, as the host's handlers saw it.
#[derive(Debug, Default)]
struct Inbox {
    params: AtomicU64,
    logs: AtomicU64,
    unknown: AtomicU64,
    param_examples: Mutex<Vec<ParamChanged>>,
    log_example: Mutex<Option<String>>,
}

/// Levels of the audio the plugin rendered.
#[derive(Debug, Default, Clone, Copy)]
struct Level {
    peak: f32,
    sum_squares: f64,
    samples: u64,
    audible_periods: u64,
    not_finite: u64,
}

impl Level {
    fn add(&mut self, audio: &AudioBuffers) {
        let mut period_peak = 0f32;
        for ch in 0..audio.outputs() {
            for &x in audio.output(ch) {
                if !x.is_finite() {
                    self.not_finite += 1;
                    continue;
                }
                period_peak = period_peak.max(x.abs());
                self.sum_squares += f64::from(x) * f64::from(x);
                self.samples += 1;
            }
        }
        self.peak = self.peak.max(period_peak);
        if period_peak > 1e-3 {
            self.audible_periods += 1;
        }
    }

    fn rms(&self) -> f32 {
        (self.sum_squares / self.samples.max(1) as f64).sqrt() as f32
    }
}

/// The outcome of a run of periods.
#[derive(Debug)]
struct Run {
    rtt: Samples,
    /// Calls that timed out (silent periods).
    timeouts: u64,
    /// Calls answered after their deadline (late audio).
    late: u64,
    /// How late the audio thread woke for each paced period.
    wakeup: Samples,
    max_voices: u32,
    level: Level,
    elapsed: Duration,
}

impl Run {
    fn new(periods: u64) -> Run {
        Run {
            rtt: Samples::with_capacity(periods as usize),
            timeouts: 0,
            late: 0,
            wakeup: Samples::with_capacity(periods as usize),
            max_voices: 0,
            level: Level::default(),
            elapsed: Duration::ZERO,
        }
    }

    /// Periods whose audio was missing or late.
    fn xruns(&self) -> String {
        match (self.timeouts, self.late) {
            (0, 0) => "0 xruns".into(),
            (1, 0) => "1 xrun (timed out)".into(),
            (0, 1) => "1 xrun (answered late)".into(),
            (t, l) => format!("{} xruns ({t} timed out, {l} answered late)", t + l),
        }
    }
}

/// Renders one period: a real-time call with a one-period deadline. A
/// timeout or a late answer is an xrun; any other error ends the run.
fn period(rt: &mut RtCaller, period: u64, run: &mut Run) -> Result<(), String> {
    let started = Instant::now();
    match rt.call::<_, RtReply>(&RtRequest::Process { period }, PERIOD) {
        Ok(reply) => {
            let took = started.elapsed();
            run.rtt.push(took);
            if took > PERIOD {
                run.late += 1;
            }
            if reply.period != period {
                return Err(format!(
                    "period {period} was answered for period {}",
                    reply.period
                ));
            }
            run.max_voices = run.max_voices.max(reply.voices);
            if let Some(audio) = rt.audio() {
                run.level.add(audio);
            }
            Ok(())
        }
        Err(LinkError::Timeout) => {
            run.timeouts += 1;
            Ok(())
        }
        Err(e) => Err(format!("real-time call for period {period}: {e}")),
    }
}

/// Round trips without pacing: the rt link's empty call, and the Unix
/// socket (when there is one), measured in interleaved blocks so that both
/// see the same machine.
#[derive(Debug)]
struct Fast {
    run: Run,
    pings: Samples,
    /// Empty calls again, both sides spinning before they sleep.
    spinning: Samples,
    /// The socket's round trips, and whether its echo process got
    /// real-time priority.
    socket: Option<(Samples, bool)>,
}

/// What the audio thread did.
#[derive(Debug)]
struct Audio {
    promoted: Result<(), String>,
    paced: Run,
    fast: Option<Fast>,
}

/// The melody as MIDI events, each with its time in ms from the start: the
/// first phrase of the "Ode to Joy" over two held bass notes (saw voices).
fn melody() -> Vec<(u64, Midi)> {
    const BEAT: f64 = 115.0;
    let tune: [(f64, f64, u8); 15] = [
        (0.0, 1.0, 64),
        (1.0, 1.0, 64),
        (2.0, 1.0, 65),
        (3.0, 1.0, 67),
        (4.0, 1.0, 67),
        (5.0, 1.0, 65),
        (6.0, 1.0, 64),
        (7.0, 1.0, 62),
        (8.0, 1.0, 60),
        (9.0, 1.0, 60),
        (10.0, 1.0, 62),
        (11.0, 1.0, 64),
        (12.0, 1.5, 64),
        (13.5, 0.5, 62),
        (14.0, 2.0, 62),
    ];
    let mut notes: Vec<(u64, u64, u8, u8)> = vec![(0, 900, 48, 80), (920, 880, 43, 80)];
    notes.extend(
        tune.iter()
            .map(|&(at, len, key)| ((at * BEAT) as u64, (len * BEAT) as u64 - 20, key, 100)),
    );
    let mut events: Vec<(u64, Midi)> = Vec::new();
    for (at, len, key, velocity) in notes {
        events.push((
            at,
            Midi {
                status: 0x90,
                key,
                velocity,
            },
        ));
        events.push((
            at + len,
            Midi {
                status: 0x80,
                key,
                velocity: 0,
            },
        ));
    }
    // Note-offs first at equal times, so a repeated key sounds again.
    events.sort_by_key(|(at, m)| (*at, m.status == 0x90));
    events
}

fn sleep_until(when: Instant) {
    let now = Instant::now();
    if when > now {
        thread::sleep(when - now);
    }
}

/// Steps 2 and 4: an audio thread (with real-time priority if the system
/// allows) plays periods paced in real time while the main thread plays the
/// melody on the main link; then, unpaced, periods back to back and the
/// round trips for the latency table.
fn play(
    mut rt: RtCaller,
    link: &MainLink,
    options: Options,
) -> Result<(RtCaller, Audio, u64), String> {
    let start = Instant::now() + Duration::from_millis(50);
    let audio = thread::Builder::new()
        .name("audio".into())
        .spawn(move || {
            let promoted = crate::plugin::promote_current_thread();
            let mut paced = Run::new(options.periods);
            for p in 0..options.periods {
                let due = start + PERIOD * p as u32;
                sleep_until(due);
                paced.wakeup.push(Instant::now() - due);
                if let Err(e) = period(&mut rt, p, &mut paced) {
                    return (rt, Err(e));
                }
            }
            paced.elapsed = start.elapsed();
            let fast = if options.unpaced > 0 {
                step("unpaced");
                match unpaced(&mut rt, options.periods, options.unpaced) {
                    Ok(fast) => Some(fast),
                    Err(e) => return (rt, Err(e)),
                }
            } else {
                None
            };
            let audio = Audio {
                promoted,
                paced,
                fast,
            };
            (rt, Ok(audio))
        })
        .map_err(|e| format!("cannot start the audio thread: {e}"))?;
    let mut sent = 0;
    let mut send_error = None;
    // The melody stops with the paced run (it lasts 1.84 s of the 2 s).
    let end = PERIOD * options.periods as u32;
    for (at, midi) in melody()
        .into_iter()
        .filter(|(at, _)| Duration::from_millis(*at) < end)
    {
        sleep_until(start + Duration::from_millis(at));
        match link.send(&midi) {
            Ok(()) => sent += 1,
            Err(e) => {
                send_error = Some(format!("MIDI message on the main link: {e}"));
                break;
            }
        }
    }
    let (rt, audio) = audio
        .join()
        .map_err(|_| "the audio thread panicked".to_string())?;
    if let Some(e) = send_error {
        return Err(e);
    }
    Ok((rt, audio?, sent))
}

/// Back-to-back periods, then empty calls interleaved with the Unix-socket
/// baseline.
fn unpaced(rt: &mut RtCaller, first: u64, n: u64) -> Result<Fast, String> {
    let mut run = Run::new(n);
    let started = Instant::now();
    for p in first..first + n {
        period(rt, p, &mut run)?;
    }
    run.elapsed = started.elapsed();

    let mut pings = Samples::with_capacity(n as usize);
    let mut ping = |rt: &mut RtCaller, i: u64, record: bool| -> Result<(), String> {
        let started = Instant::now();
        let reply: RtReply = rt
            .call(&RtRequest::Ping(i), PERIOD)
            .map_err(|e| format!("empty real-time call: {e}"))?;
        if record {
            pings.push(started.elapsed());
        }
        if reply.period != i {
            return Err(format!("ping {i} answered as {}", reply.period));
        }
        Ok(())
    };
    #[cfg(unix)]
    {
        const BLOCK: u64 = 1000;
        let mut pinger = crate::uds::Pinger::start()?;
        let mut socket = Samples::with_capacity(n as usize);
        for i in 0..200 {
            ping(rt, i, false)?;
            pinger.ping()?;
        }
        let mut done = 0;
        while done < n {
            let block = BLOCK.min(n - done);
            for i in 0..block {
                ping(rt, done + i, true)?;
            }
            for _ in 0..block {
                socket.push(pinger.ping()?);
            }
            done += block;
        }
        let real_time = pinger.real_time;
        pinger.finish();
        let spinning = spinning(rt, n)?;
        Ok(Fast {
            run,
            pings,
            spinning,
            socket: Some((socket, real_time)),
        })
    }
    #[cfg(not(unix))]
    {
        for i in 0..n {
            ping(rt, i, true)?;
        }
        let spinning = spinning(rt, n)?;
        Ok(Fast {
            run,
            pings,
            spinning,
            socket: None,
        })
    }
}

/// Empty calls with both sides spinning up to [`SPIN`] before they sleep.
fn spinning(rt: &mut RtCaller, n: u64) -> Result<Samples, String> {
    let set = |rt: &mut RtCaller, spin: Duration| -> Result<(), String> {
        let micros = spin.as_micros() as u32;
        let _: RtReply = rt
            .call(&RtRequest::Spin { micros }, PERIOD)
            .map_err(|e| format!("setting the plugin's spin: {e}"))?;
        rt.set_spin(spin);
        Ok(())
    };
    set(rt, SPIN)?;
    let mut samples = Samples::with_capacity(n as usize);
    for i in 0..n + 200 {
        let started = Instant::now();
        let reply: RtReply = rt
            .call(&RtRequest::Ping(i), PERIOD)
            .map_err(|e| format!("empty real-time call, spinning: {e}"))?;
        if i >= 200 {
            samples.push(started.elapsed());
        }
        if reply.period != i {
            return Err(format!("ping {i} answered as {}", reply.period));
        }
    }
    set(rt, Duration::ZERO)?;
    Ok(samples)
}

fn machine() -> String {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| format!(" {}", k.trim()))
        .unwrap_or_default();
    let build = if cfg!(debug_assertions) {
        "DEBUG build: timings are not representative"
    } else {
        "release build"
    };
    format!(
        "{cpus} CPUs, {model}, {}{kernel} {}; {build}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Kills the plugin process at once, without reaping it.
#[cfg(unix)]
fn kill_plugin(host: &mut Host) -> Result<(), String> {
    let pid = libc::pid_t::try_from(host.plugin_pid()).map_err(|_| "bad plugin pid")?;
    // SAFETY: `kill` has no memory-safety preconditions; the pid is the
    // plugin's, our child, which we have not reaped, so it cannot have been
    // reused by another process.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("kill: {}", std::io::Error::last_os_error()))
    }
}

/// Kills the plugin process at once (and reaps it).
#[cfg(not(unix))]
fn kill_plugin(host: &mut Host) -> Result<(), String> {
    host.kill().map(drop).map_err(|e| format!("kill: {e}"))
}

fn exit_status(host: &mut Host) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match host.try_wait() {
            Ok(Some(status)) => {
                #[cfg(unix)]
                {
                    use std::os::unix::process::ExitStatusExt;
                    if status.signal() == Some(libc::SIGKILL) {
                        return "killed by SIGKILL and reaped".into();
                    }
                }
                return format!("{status}, reaped");
            }
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(1)),
            Ok(None) => return "still running after 2 s (killed again on exit)".into(),
            Err(e) => return format!("cannot wait for it: {e}"),
        }
    }
}

/// Runs the whole demo.
pub fn run(options: Options) -> Result<(), Failure> {
    let all = Instant::now();
    println!("ipc-link demo: an LMMS-style host and an out-of-process synthesizer");
    line("machine", machine());
    println!();
    step("start");
    let inbox = Arc::new(Inbox::default());
    let (mut host, rt, stalls, plugin_rt) = start(&inbox)?;
    step("play");
    let (rt, audio, sent) = play(rt, host.main(), options)?;
    let Audio {
        promoted,
        paced,
        fast,
    } = audio;
    report_play(options, &paced, &promoted, sent)?;
    step("plugin messages");
    report_messages(&inbox, options)?;
    step("latency");
    report_latency(options, paced, fast, plugin_rt);
    step("state");
    move_state(host.main())?;
    step("death");
    kill_during_call(&mut host, rt, &stalls)?;
    drop(host);
    println!();
    println!("demo: all steps passed in {}", dur(all.elapsed()));
    Ok(())
}

/// The host, its real-time link, where the plugin's `Stalling` notices
/// arrive, and whether the plugin's thread got real-time priority.
type Started = (Host, RtCaller, mpsc::Receiver<Stalling>, bool);

/// Step 1: starts the plugin process and attaches the audio buffers.
fn start(inbox: &Arc<Inbox>) -> Result<Started, Failure> {
    let (ready_tx, ready_rx) = mpsc::channel::<Ready>();
    let (stall_tx, stall_rx) = mpsc::channel::<Stalling>();
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut command = Command::new(exe);
    command.arg("plugin");
    let started = Instant::now();
    let (i1, i2, i3) = (inbox.clone(), inbox.clone(), inbox.clone());
    let mut host = Host::spawn(command, &LinkConfig::default(), move |link| {
        link.on(move |m: ParamChanged, _| {
            i1.params.fetch_add(1, Ordering::Relaxed);
            // Keep the first and the last.
            let mut examples = i1.param_examples.lock();
            if examples.len() == 2 {
                examples.pop();
            }
            examples.push(m);
        });
        link.on(move |LogLine(text), _| {
            i2.logs.fetch_add(1, Ordering::Relaxed);
            i2.log_example.lock().get_or_insert(text);
        });
        link.on(move |r: Ready, _| {
            let _ = ready_tx.send(r);
        });
        link.on(move |s: Stalling, _| {
            let _ = stall_tx.send(s);
        });
        link.on_unknown(move |_| {
            i3.unknown.fetch_add(1, Ordering::Relaxed);
        });
    })?;
    let connected = started.elapsed();
    let ready = ready_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "the plugin did not report ready within 5 s")?;
    let mut rt = host
        .take_rt()
        .ok_or("the real-time link was already taken")?;
    rt.attach_audio(0, 2, FRAMES, Duration::from_secs(2))
        .map_err(|e| format!("attach audio: {e}"))?;
    line(
        "1 start",
        format!(
            "plugin process {} connected in {} (spawn, versioned handshake)",
            host.plugin_pid(),
            ms(connected)
        ),
    );
    line(
        "",
        format!(
            "audio: {RATE} Hz, {FRAMES} frames per period ({}), 0 inputs, 2 outputs, shared buffers",
            ms(PERIOD)
        ),
    );
    let plugin_rt = ready.rt_priority.is_ok();
    line(
        "",
        match ready.rt_priority {
            Ok(p) => format!("plugin's real-time thread: real-time priority {p} granted"),
            Err(e) => format!("plugin's real-time thread: real-time priority refused ({e})"),
        },
    );
    Ok((host, rt, stall_rx, plugin_rt))
}

/// Step 2's report.
fn report_play(
    options: Options,
    run: &Run,
    promoted: &Result<(), String>,
    sent: u64,
) -> Result<(), Failure> {
    line(
        "2 play",
        format!(
            "{} periods paced in real time over {}, deadline {} per call: {}",
            options.periods,
            dur(run.elapsed),
            ms(PERIOD),
            run.xruns()
        ),
    );
    line(
        "",
        format!(
            "{sent} MIDI messages (note on/off) sent by the main thread on the main link; up to {} voices",
            run.max_voices
        ),
    );
    let level = run.level;
    line(
        "",
        format!(
            "output: {} audible periods, peak {}, rms {}, {} non-finite samples",
            level.audible_periods,
            dbfs(level.peak),
            dbfs(level.rms()),
            level.not_finite
        ),
    );
    let mut wakeup = run.wakeup.clone();
    line(
        "",
        match promoted {
            Ok(()) => format!("host audio thread: real-time priority {RT_PRIORITY} granted"),
            Err(e) => format!("host audio thread: real-time priority refused ({e})"),
        },
    );
    line(
        "",
        format!(
            "it woke {} late at p99, {} at most (sleeps to an absolute schedule)",
            dur(wakeup.quantile(0.99)),
            dur(wakeup.quantile(1.0))
        ),
    );
    if level.audible_periods == 0 || level.not_finite > 0 {
        return Err("the plugin's audio is silent or not finite".into());
    }
    Ok(())
}

/// Step 3: what the plugin said on its own. It sends asynchronously: its
/// last messages get a moment to arrive.
fn report_messages(inbox: &Inbox, options: Options) -> Result<(), Failure> {
    let total = options.periods + options.unpaced;
    let expected_logs = u64::from(total >= crate::plugin::LOG_EVERY);
    let deadline = Instant::now() + Duration::from_secs(1);
    while (inbox.params.load(Ordering::Relaxed) == 0
        || inbox.logs.load(Ordering::Relaxed) < expected_logs)
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(5));
    }
    let params = inbox.params.load(Ordering::Relaxed);
    let logs = inbox.logs.load(Ordering::Relaxed);
    let examples: Vec<String> = inbox
        .param_examples
        .lock()
        .iter()
        .map(|p| format!("{} = {:.0} Hz (period {})", p.name, p.value, p.period))
        .collect();
    line(
        "3 plugin",
        format!(
            "{params} parameter changes, e.g. {}",
            examples.join(" ... ")
        ),
    );
    let log_example = inbox.log_example.lock().clone();
    line(
        "  talks",
        match log_example {
            Some(example) => format!("{logs} log lines, e.g. \"{example}\""),
            None => format!(
                "{logs} log lines (one every {} periods)",
                crate::plugin::LOG_EVERY
            ),
        },
    );
    line(
        "",
        format!(
            "sent unprompted from the plugin's messenger thread; {} unknown messages",
            inbox.unknown.load(Ordering::Relaxed)
        ),
    );
    if params == 0 || logs < expected_logs {
        return Err("the plugin's own messages did not arrive".into());
    }
    Ok(())
}

/// Steps 4 and 5: the unpaced run and the latency table.
fn report_latency(options: Options, mut paced: Run, fast: Option<Fast>, plugin_rt: bool) {
    if let Some(fast) = &fast {
        line(
            "4 unpaced",
            format!(
                "{} periods back to back in {} ({} per period): {}",
                options.unpaced,
                dur(fast.run.elapsed),
                dur(fast.run.elapsed / options.unpaced.max(1) as u32),
                fast.run.xruns()
            ),
        );
    }
    line(
        "5 latency",
        format!(
            "{:<44}{:>6}{:>10}{:>10}{:>10}{:>10}",
            "round trip, host <-> plugin process", "n", "p50", "p99", "p99.9", "max"
        ),
    );
    let row = |name: &str, s: &mut Samples| {
        line(
            "",
            format!(
                "{name:<44}{:>6}{:>10}{:>10}{:>10}{:>10}",
                s.len(),
                dur(s.quantile(0.5)),
                dur(s.quantile(0.99)),
                dur(s.quantile(0.999)),
                dur(s.quantile(1.0))
            ),
        );
    };
    row("rt link, render call, paced", &mut paced.rtt);
    let Some(Fast {
        mut run,
        mut pings,
        mut spinning,
        socket,
    }) = fast
    else {
        return;
    };
    row("rt link, render call, unpaced", &mut run.rtt);
    row("rt link, empty call (~25 bytes each way)", &mut pings);
    let socket = socket.map(|(mut socket, real_time)| {
        row("Unix socket, 8 bytes each way (LMMS today)", &mut socket);
        (socket, real_time)
    });
    row(
        &format!("rt link, empty call, both spin <= {} us", SPIN.as_micros()),
        &mut spinning,
    );
    let note =
        "paced calls wake processes that slept since the last period; unpaced ones find them awake";
    let Some((mut socket, real_time)) = socket else {
        line("", note);
        line("", "Unix-socket baseline skipped: not a Unix system");
        return;
    };
    let mut ratio = |rt: &mut Samples, p: f64| {
        rt.quantile(p).as_secs_f64() / socket.quantile(p).as_secs_f64().max(1e-12)
    };
    line(
        "",
        format!(
            "rt link / Unix socket at p50: {:.2}x sleeping, {:.3}x spinning; at p99: {:.2}x, {:.3}x",
            ratio(&mut pings, 0.5),
            ratio(&mut spinning, 0.5),
            ratio(&mut pings, 0.99),
            ratio(&mut spinning, 0.99)
        ),
    );
    line(
        "",
        format!(
            "socket and sleeping calls alternate in blocks of 1000; echo process real-time priority: {}",
            match (real_time, plugin_rt) {
                (true, true) => "granted",
                (false, false) => "refused",
                (true, false) => "granted (plugin: refused)",
                (false, true) => "refused (plugin: granted)",
            }
        ),
    );
    line("", note);
}

/// Step 6: the plugin's state, saved to the host and loaded back, through
/// the main link.
fn move_state(link: &MainLink) -> Result<(), Failure> {
    let started = Instant::now();
    let State { blob, built_us } = link
        .request_blocking(&SaveState, SLOW)
        .map_err(|e| format!("save: {e}"))?;
    let saved_in = started.elapsed();
    if blob.len() != STATE_LEN {
        return Err(format!("save: {} bytes, {STATE_LEN} expected", blob.len()).into());
    }
    state::load(&blob).map_err(|e| format!("the saved state is wrong: {e}"))?;
    let sum = state::checksum(&blob);
    let mut request = LoadState { blob };
    let started = Instant::now();
    let loaded: Loaded = link
        .request_blocking(&request, SLOW)
        .map_err(|e| format!("load: {e}"))?;
    let loaded_in = started.elapsed();
    if !loaded.ok || loaded.checksum != sum {
        return Err(format!(
            "load: refused ({}), checksum {:#018x} vs {sum:#018x}",
            loaded.problem.unwrap_or_default(),
            loaded.checksum
        )
        .into());
    }
    let flip = STATE_LEN / 2 + 12_345;
    request.blob[flip] ^= 0x10;
    let refused: Loaded = link
        .request_blocking(&request, SLOW)
        .map_err(|e| format!("load of a damaged state: {e}"))?;
    let refusal = match (refused.ok, refused.problem) {
        (false, Some(problem)) if problem.contains(&flip.to_string()) => problem,
        (ok, problem) => {
            return Err(
                format!("a damaged state was not refused properly: ok {ok}, {problem:?}").into(),
            )
        }
    };
    let mib = STATE_LEN as f64 / f64::from(1 << 20);
    let row = |what: &str, total: Duration, work_us: u64| {
        let work = Duration::from_micros(work_us);
        line(
            "",
            format!(
                "{what:<22}{:>10}{:>8.0} MiB/s   plugin's own work {:>9} ({:.0} MiB/s without it)",
                ms(total),
                mib / total.as_secs_f64(),
                ms(work),
                mib / total.saturating_sub(work).as_secs_f64().max(1e-9)
            ),
        );
    };
    line(
        "6 state",
        format!(
            "{mib:.0} MiB each way on the main link: one MessagePack bin message, no temporary file"
        ),
    );
    row("save, plugin -> host", saved_in, built_us);
    row("load, host -> plugin", loaded_in, loaded.checked_us);
    line(
        "",
        format!("checked byte for byte; the same checksum on both sides ({sum:#018x})"),
    );
    line(
        "",
        format!("a copy with one byte flipped is refused: \"{refusal}\""),
    );
    Ok(())
}

/// Step 7: kills the plugin while the audio thread waits in a real-time
/// call, and times how soon each link reports it.
fn kill_during_call(
    host: &mut Host,
    mut rt: RtCaller,
    stalls: &mpsc::Receiver<Stalling>,
) -> Result<(), Failure> {
    let stall = thread::Builder::new()
        .name("audio".into())
        .spawn(move || {
            let result =
                rt.call::<_, RtReply>(&RtRequest::Stall { millis: 10_000 }, Duration::from_secs(5));
            (result, Instant::now(), rt)
        })
        .map_err(|e| format!("cannot start the audio thread: {e}"))?;
    stalls
        .recv_timeout(Duration::from_secs(2))
        .map_err(|_| "the plugin did not start stalling within 2 s")?;
    let killed = Instant::now();
    kill_plugin(host)?;
    let main_said = host.main().wait_disconnected(Duration::from_secs(5));
    let main_after = killed.elapsed();
    let (rt_said, rt_returned, mut rt) = stall
        .join()
        .map_err(|_| "the audio thread panicked".to_string())?;
    let rt_after = rt_returned.saturating_duration_since(killed);
    let status = exit_status(host);
    line(
        "7 death",
        "the plugin is killed while the audio thread waits in a real-time call (a deliberate stall)",
    );
    match rt_said {
        Err(LinkError::PeerDied) => line(
            "",
            format!(
                "{:<36}{:>9} after the kill",
                "real-time call returned PeerDied",
                ms(rt_after)
            ),
        ),
        other => return Err(format!("the real-time call returned {other:?}, not PeerDied").into()),
    }
    match main_said {
        Some(LinkError::PeerDied) => line(
            "",
            format!(
                "{:<36}{:>9} after the kill",
                "main link reported PeerDied",
                ms(main_after)
            ),
        ),
        other => return Err(format!("the main link reported {other:?}, not PeerDied").into()),
    }
    line("", format!("plugin process: {status}"));
    let again = Instant::now();
    match rt.call::<_, RtReply>(&RtRequest::Process { period: 0 }, PERIOD) {
        Err(LinkError::PeerDied) => line(
            "",
            format!(
                "a later call: PeerDied after {} (the death is remembered: no wait)",
                ms(again.elapsed())
            ),
        ),
        other => return Err(format!("a call after the death returned {other:?}").into()),
    }
    Ok(())
}
