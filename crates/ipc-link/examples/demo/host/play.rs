//! Step 2: an audio thread (with real-time priority if the system allows)
//! makes one real-time call per period, paced in real time, while the main
//! thread plays a melody as MIDI messages on the main link; then, on the
//! same thread, the unpaced run of step 4.

use super::latency::{self, Fast};
use super::melody::melody;
use super::start::priority;
use super::{sleep_until, Options, PERIOD};
use crate::messages::{RtReply, RtRequest};
use crate::stats::{dbfs, dur, line, ms, Samples};
use crate::{step, Failure};
use ipc_link::{AudioBuffers, LinkError, MainLink, RtCaller};
use std::thread;
use std::time::{Duration, Instant};

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
    /// Adds one period of the plugin's output.
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
pub struct Run {
    /// Each call's round trip.
    pub rtt: Samples,
    /// Calls that timed out (silent periods).
    timeouts: u64,
    /// Calls answered after their deadline (late audio).
    late: u64,
    /// How late the audio thread woke for each paced period.
    wakeup: Samples,
    max_voices: u32,
    level: Level,
    /// How long the whole run took.
    pub elapsed: Duration,
}

impl Run {
    /// An empty run with room for `periods`.
    pub fn new(periods: u64) -> Run {
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
    pub fn xruns(&self) -> String {
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
pub fn period(rt: &mut RtCaller, period: u64, run: &mut Run) -> Result<(), String> {
    let started = Instant::now();
    match rt.call_timeout::<_, RtReply>(&RtRequest::Process { period }, PERIOD) {
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
        Err(LinkError::Timeout(_)) => {
            run.timeouts += 1;
            Ok(())
        }
        Err(e) => Err(format!("real-time call for period {period}: {e}")),
    }
}

/// What the audio thread did.
#[derive(Debug)]
pub struct Audio {
    /// What the system said to real-time priority for it.
    promoted: Result<u8, String>,
    /// The paced run.
    pub paced: Run,
    /// The unpaced run and the latency samples (unless skipped).
    pub fast: Option<Fast>,
}

/// Steps 2 and 4 as they ran.
#[derive(Debug)]
pub struct Played {
    /// The real-time link, back from the audio thread.
    pub rt: RtCaller,
    /// What the audio thread measured.
    pub audio: Audio,
    /// MIDI messages sent on the main link.
    sent: u64,
}

/// Steps 2 and 4: the audio thread's paced and unpaced runs, and the
/// melody on the main link meanwhile.
pub fn play(mut rt: RtCaller, link: &MainLink, options: &Options) -> Result<Played, String> {
    let (periods, unpaced) = (options.periods, options.unpaced);
    let start = Instant::now() + Duration::from_millis(50);
    let audio = thread::Builder::new()
        .name("audio".into())
        .spawn(move || {
            let promoted = crate::promote_current_thread();
            let mut paced = Run::new(periods);
            for p in 0..periods {
                let due = start + PERIOD * p as u32;
                sleep_until(due);
                paced.wakeup.push(Instant::now() - due);
                if let Err(e) = period(&mut rt, p, &mut paced) {
                    return (rt, Err(e));
                }
            }
            paced.elapsed = start.elapsed();
            let fast = if unpaced > 0 {
                step("unpaced");
                match latency::unpaced(&mut rt, periods, unpaced) {
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
    Ok(Played {
        rt,
        audio: audio?,
        sent,
    })
}

/// Step 2's report.
pub fn report(options: &Options, played: &Played) -> Result<(), Failure> {
    let run = &played.audio.paced;
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
            "{} MIDI messages (note on/off) sent by the main thread on the main link; up to {} voices",
            played.sent, run.max_voices
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
    line("", priority("host audio thread", &played.audio.promoted));
    let mut wakeup = run.wakeup.clone();
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
