//! The plugin process: a synthesizer served over the link.
//!
//! Three threads: the main link's listener (MIDI, state requests), the
//! real-time thread (renders each period the host asks for), and a messenger
//! that sends what the real-time thread has to say (parameter changes, log
//! lines) to the host, so that the real-time thread never touches the main
//! link, its lock or the allocator.

use crate::messages::{
    LoadState, Loaded, LogLine, Midi, ParamChanged, Ready, RtReply, RtRequest, SaveState, Stalling,
    State,
};
use crate::state::{self, Params};
use crate::stats::dbfs;
use crate::synth::{Synth, MAX_FRAMES};
use ipc_link::{LinkConfig, LinkError, Plugin, RtServer, Stop};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The parameters a fresh synthesizer starts with.
pub const DEFAULT_PARAMS: Params = Params {
    filter_hz: 2000.0,
    volume: 0.8,
};
/// The real-time thread reports every this many periods (0.67 s).
pub const LOG_EVERY: u64 = 125;
/// Priority asked for the real-time thread (`SCHED_FIFO` 80, like JACK's clients).
pub const RT_PRIORITY: u8 = 80;

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

/// Asks for real-time priority ([`RT_PRIORITY`]) for the calling thread;
/// says why not if the system refuses.
pub fn promote_current_thread() -> Result<(), String> {
    RtServer::promote_current_thread(RT_PRIORITY).map_err(|e| match e {
        LinkError::Os(e) => e.to_string(),
        other => other.to_string(),
    })
}

/// Runs the plugin process on the link named by `connection`.
pub fn main(connection: &str) -> ExitCode {
    let (control_tx, control_rx) = sync_channel::<Control>(1024);
    let (event_tx, event_rx) = sync_channel::<Event>(1024);
    let published = Arc::new(Published::new(DEFAULT_PARAMS));
    let (for_save, for_load) = (published.clone(), published.clone());
    let load_tx = control_tx.clone();
    let mut plugin = match Plugin::connect(connection, &LinkConfig::default(), move |link| {
        link.on(move |m: Midi, _| {
            let control = match (m.status & 0xF0, m.velocity) {
                (0x90, v) if v > 0 => Control::NoteOn(m.key, v),
                (0x80 | 0x90, _) => Control::NoteOff(m.key),
                _ => return,
            };
            let _ = control_tx.try_send(control);
        });
        link.on_request(move |SaveState| {
            let started = Instant::now();
            let blob = state::save(&for_save.get());
            State {
                blob,
                built_us: started.elapsed().as_micros() as u64,
            }
        });
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
        });
    }) {
        Ok(plugin) => plugin,
        Err(e) => {
            eprintln!("demo plugin: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(rt) = plugin.take_rt() else {
        eprintln!("demo plugin: no real-time link");
        return ExitCode::FAILURE;
    };
    let link = plugin.main().clone();
    let spawned = std::thread::Builder::new()
        .name("demo-messenger".into())
        .spawn(move || messenger(&link, &event_rx))
        .and_then(|_| {
            let link = plugin.main().clone();
            std::thread::Builder::new()
                .name("demo-rt".into())
                .spawn(move || real_time(rt, &link, &control_rx, &event_tx, &published))
        });
    if let Err(e) = spawned {
        eprintln!("demo plugin: cannot start a thread: {e}");
        return ExitCode::FAILURE;
    }
    // The threads are not joined: the real-time thread may be blocked in a
    // call (or a stall) when the host says quit; they end with the process.
    match plugin.wait_for_stop() {
        Stop::Quit | Stop::HostGone(_) => ExitCode::SUCCESS,
    }
}

/// Sends the real-time thread's events to the host.
fn messenger(link: &ipc_link::MainLink, events: &Receiver<Event>) {
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
/// serves the host's calls until the link goes down.
fn real_time(
    mut rt: RtServer,
    link: &ipc_link::MainLink,
    controls: &Receiver<Control>,
    events: &SyncSender<Event>,
    published: &Published,
) {
    let rt_priority = promote_current_thread().map(|()| RT_PRIORITY);
    if link.send(&Ready { rt_priority }).is_err() {
        return;
    }
    let mut synth = Synth::new(DEFAULT_PARAMS);
    let (mut left, mut right) = ([0f32; MAX_FRAMES], [0f32; MAX_FRAMES]);
    let (mut notes, mut peak) = (0u64, 0f32);
    let mut spin = None;
    // `serve_one` rather than `serve`: between calls, the server may change
    // how it waits (a spin asked for by the host).
    loop {
        let served = rt.serve_one(None, |request: RtRequest, audio| match request {
            RtRequest::Process { period } => {
                while let Ok(control) = controls.try_recv() {
                    match control {
                        Control::NoteOn(key, velocity) => {
                            let hz = synth.note_on(key, velocity);
                            notes += 1;
                            published.set(synth.params());
                            let _ = events.try_send(Event::Filter { hz, period });
                        }
                        Control::NoteOff(key) => synth.note_off(key),
                        Control::Load(params) => synth = Synth::new(params),
                    }
                }
                if let Some(audio) = audio.filter(|a| a.outputs() >= 2 && a.frames() <= MAX_FRAMES)
                {
                    let n = audio.frames();
                    synth.render(&mut left[..n], &mut right[..n]);
                    audio.output_mut(0).copy_from_slice(&left[..n]);
                    audio.output_mut(1).copy_from_slice(&right[..n]);
                    for x in left[..n].iter().chain(&right[..n]) {
                        peak = peak.max(x.abs());
                    }
                }
                let voices = synth.voices();
                if period % LOG_EVERY == LOG_EVERY - 1 {
                    let report = Event::Report {
                        period,
                        voices,
                        peak,
                        notes,
                    };
                    let _ = events.try_send(report);
                    peak = 0.0;
                }
                RtReply {
                    period,
                    voices: voices as u32,
                }
            }
            RtRequest::Ping(n) => RtReply {
                period: n,
                voices: synth.voices() as u32,
            },
            RtRequest::Stall { millis } => {
                let _ = events.try_send(Event::Stalling(millis));
                std::thread::sleep(Duration::from_millis(millis));
                RtReply {
                    period: 0,
                    voices: 0,
                }
            }
            RtRequest::Spin { micros } => {
                spin = Some(Duration::from_micros(micros.into()));
                RtReply {
                    period: micros.into(),
                    voices: 0,
                }
            }
        });
        if served.is_err() {
            return; // the host closed the link or died
        }
        if let Some(spin) = spin.take() {
            rt.set_spin(spin);
        }
    }
}
