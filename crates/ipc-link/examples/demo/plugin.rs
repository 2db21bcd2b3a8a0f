//! The plugin process: a synthesizer served over the link.
//!
//! Three threads: the main link's listener (MIDI, state requests), the
//! real-time thread (renders each period the host asks for), and a messenger
//! that sends what the real-time thread has to say (parameter changes, log
//! lines) to the host, so that the real-time thread never touches the main
//! link, its lock or the allocator. The main thread waits for the host to
//! say quit, then joins the other two.

use crate::messages::{
    LoadState, Loaded, LogLine, Midi, ParamChanged, Ready, RtReply, RtRequest, SaveState, Stalling,
    State,
};
use crate::promote_current_thread;
use crate::state::{self, Params};
use crate::stats::dbfs;
use crate::synth::{Synth, MAX_FRAMES};
use ipc_link::{AudioBuffers, LinkConfig, LinkError, MainLink, Plugin, RtServer, Stop};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The parameters a fresh synthesizer starts with.
pub const DEFAULT_PARAMS: Params = Params {
    filter_hz: 2000.0,
    volume: 0.8,
};
/// The real-time thread reports every this many periods (0.67 s).
pub const LOG_EVERY: u64 = 125;

/// From the main link's listener to the real-time thread.
#[derive(Debug, Clone, Copy)]
enum Control {
    NoteOn(u8, u8),
    NoteOff(u8),
    Load(Params),
}

/// From the real-time thread to the messenger. Plain values: sending one
/// allocates nothing and never blocks (a full queue drops the event).
#[derive(Debug, Clone, Copy)]
enum Event {
    Filter {
        hz: f32,
        period: u64,
    },
    Report {
        period: u64,
        voices: usize,
        peak: f32,
        notes: u64,
    },
    Stalling(u64),
}

/// The parameters as the main link sees them (for saving), published by
/// whoever changes them.
#[derive(Debug)]
struct Published {
    filter_hz: AtomicU32,
    volume: AtomicU32,
}

impl Published {
    fn new(p: Params) -> Published {
        Published {
            filter_hz: AtomicU32::new(p.filter_hz.to_bits()),
            volume: AtomicU32::new(p.volume.to_bits()),
        }
    }
    fn get(&self) -> Params {
        Params {
            filter_hz: f32::from_bits(self.filter_hz.load(Ordering::Acquire)),
            volume: f32::from_bits(self.volume.load(Ordering::Acquire)),
        }
    }
    fn set(&self, p: Params) {
        self.filter_hz
            .store(p.filter_hz.to_bits(), Ordering::Release);
        self.volume.store(p.volume.to_bits(), Ordering::Release);
    }
}

/// Runs the plugin process on the link its host started it with (the
/// connection string in its environment). Exits with success once the host
/// said quit and both of its threads ended.
pub fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo plugin: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let (control_tx, control_rx) = sync_channel::<Control>(1024);
    let (event_tx, event_rx) = sync_channel::<Event>(1024);
    let published = Arc::new(Published::new(DEFAULT_PARAMS));
    let (for_save, for_load) = (published.clone(), published.clone());
    let load_tx = control_tx.clone();
    let mut plugin = Plugin::connect_from_env(&LinkConfig::default(), move |link| {
        link.on(move |m: Midi, _| {
            let control = match (m.status & 0xF0, m.velocity) {
                (0x90, v) if v > 0 => Control::NoteOn(m.key, v),
                (0x80 | 0x90, _) => Control::NoteOff(m.key),
                _ => return,
            };
            let _ = control_tx.try_send(control);
        })?;
        link.on_request(move |SaveState| {
            let started = Instant::now();
            let blob = state::save(&for_save.get());
            State {
                blob,
                built_us: started.elapsed().as_micros() as u64,
            }
        })?;
        link.on_request(move |LoadState { blob }| {
            let started = Instant::now();
            let checksum = state::checksum(&blob);
            let (ok, problem) = match state::load(&blob) {
                Ok(params) => {
                    for_load.set(params);
                    let _ = load_tx.try_send(Control::Load(params));
                    (true, None)
                }
                Err(e) => (false, Some(e)),
            };
            Loaded {
                ok,
                checksum,
                problem,
                checked_us: started.elapsed().as_micros() as u64,
            }
        })
    })
    .map_err(|e| e.to_string())?;
    let rt = plugin.take_rt().ok_or("no real-time link")?;
    let spawn = |name: &str| thread::Builder::new().name(name.into());
    let link = plugin.main_link().clone();
    let messenger = spawn("demo-messenger")
        .spawn(move || messenger(&link, &event_rx))
        .map_err(|e| format!("cannot start the messenger: {e}"))?;
    let link = plugin.main_link().clone();
    let real_time = spawn("demo-rt")
        .spawn(move || real_time(rt, &link, &control_rx, &event_tx, &published))
        .map_err(|e| format!("cannot start the real-time thread: {e}"))?;
    let stop = plugin.wait_for_stop();
    // Joining is safe: a `Quit` (or the host's death) also ends the
    // real-time thread's serving, and with it the messenger's queue.
    let served = real_time
        .join()
        .map_err(|_| "the real-time thread panicked")?;
    messenger.join().map_err(|_| "the messenger panicked")?;
    match (stop, served) {
        (Stop::Quit, Stop::Quit) => Ok(()),
        (Stop::HostGone(e), _) | (_, Stop::HostGone(e)) => Err(format!("the host is gone: {e}")),
    }
}

/// Sends the real-time thread's events to the host.
fn messenger(link: &MainLink, events: &Receiver<Event>) {
    for event in events {
        let sent = match event {
            Event::Filter { hz, period } => link.send(&ParamChanged {
                name: "filter".into(),
                value: hz,
                period,
            }),
            Event::Report {
                period,
                voices,
                peak,
                notes,
            } => link.send(&LogLine(format!(
                "period {period}: {voices} voices, peak {}, {notes} notes so far",
                dbfs(peak)
            ))),
            Event::Stalling(millis) => link.send(&Stalling { millis }),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// The real-time thread: asks for real-time priority, says hello, then
/// serves the host's calls until the host says quit (or goes away); returns
/// why it stopped.
fn real_time(
    mut rt: RtServer,
    link: &MainLink,
    controls: &Receiver<Control>,
    events: &SyncSender<Event>,
    published: &Published,
) -> Stop {
    let rt_priority = promote_current_thread();
    if let Err(e) = link.send(&Ready { rt_priority }) {
        return Stop::HostGone(e);
    }
    let mut renderer = Renderer {
        synth: Synth::new(DEFAULT_PARAMS),
        left: [0.0; MAX_FRAMES],
        right: [0.0; MAX_FRAMES],
        notes: 0,
        peak: 0.0,
        spin: None,
        controls,
        events,
        published,
    };
    // `serve_one` rather than `serve`: between calls, the server may change
    // how it waits (a spin asked for by the host). It stops as `serve` does.
    loop {
        match rt.serve_one(|request: RtRequest, audio| renderer.answer(request, audio)) {
            Ok(()) => {}
            Err(LinkError::Closed) => return Stop::Quit,
            Err(e) if e.is_disconnect() => return Stop::HostGone(e),
            Err(e) => eprintln!("demo plugin: a real-time request was not served: {e}"),
        }
        if let Some(spin) = renderer.spin.take() {
            rt.set_spin(spin);
        }
    }
}

/// What the real-time thread keeps between calls. Allocation-free.
struct Renderer<'a> {
    synth: Synth,
    left: [f32; MAX_FRAMES],
    right: [f32; MAX_FRAMES],
    notes: u64,
    /// Peak since the last report.
    peak: f32,
    /// A spin the host asked for, to apply after this call.
    spin: Option<Duration>,
    controls: &'a Receiver<Control>,
    events: &'a SyncSender<Event>,
    published: &'a Published,
}

impl Renderer<'_> {
    /// Answers one real-time request.
    fn answer(&mut self, request: RtRequest, audio: Option<&mut AudioBuffers>) -> RtReply {
        match request {
            RtRequest::Process { period } => self.process(period, audio),
            RtRequest::Ping(n) => RtReply {
                period: n,
                voices: self.synth.voices() as u32,
            },
            RtRequest::Stall { millis } => {
                let _ = self.events.try_send(Event::Stalling(millis));
                thread::sleep(Duration::from_millis(millis));
                RtReply {
                    period: 0,
                    voices: 0,
                }
            }
            RtRequest::Spin { micros } => {
                self.spin = Some(Duration::from_micros(micros.into()));
                RtReply {
                    period: micros.into(),
                    voices: 0,
                }
            }
        }
    }

    /// Renders one period: applies the notes that came, then fills the
    /// shared output buffers.
    fn process(&mut self, period: u64, audio: Option<&mut AudioBuffers>) -> RtReply {
        while let Ok(control) = self.controls.try_recv() {
            match control {
                Control::NoteOn(key, velocity) => {
                    let hz = self.synth.note_on(key, velocity);
                    self.notes += 1;
                    self.published.set(self.synth.params());
                    let _ = self.events.try_send(Event::Filter { hz, period });
                }
                Control::NoteOff(key) => self.synth.note_off(key),
                Control::Load(params) => self.synth = Synth::new(params),
            }
        }
        if let Some(audio) = audio.filter(|a| a.outputs() >= 2 && a.frames() <= MAX_FRAMES) {
            let n = audio.frames();
            let (left, right) = (&mut self.left[..n], &mut self.right[..n]);
            self.synth.render(left, right);
            audio.output_mut(0).copy_from_slice(left);
            audio.output_mut(1).copy_from_slice(right);
            for x in left.iter().chain(right.iter()) {
                self.peak = self.peak.max(x.abs());
            }
        }
        let voices = self.synth.voices();
        if period % LOG_EVERY == LOG_EVERY - 1 {
            let _ = self.events.try_send(Event::Report {
                period,
                voices,
                peak: self.peak,
                notes: self.notes,
            });
            self.peak = 0.0;
        }
        RtReply {
            period,
            voices: voices as u32,
        }
    }
}
