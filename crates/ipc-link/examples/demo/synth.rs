//! A small polyphonic synthesizer: eight voices (saw below middle C, sine
//! from there up), each with an attack-decay-sustain-release envelope, a
//! stereo pan that follows the key, and a one-pole low-pass "filter" whose
//! cut-off follows the last note played. Allocation-free after `new`.

use crate::state::Params;

/// Sample rate of the demo.
pub const RATE: u32 = 48_000;
/// Largest period the synthesizer renders at once.
pub const MAX_FRAMES: usize = 2048;
const VOICES: usize = 8;
const ATTACK_S: f32 = 0.005;
const DECAY_S: f32 = 0.12;
const SUSTAIN: f32 = 0.6;
const RELEASE_S: f32 = 0.18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Off,
    Attack,
    Decay,
    Sustain,
    Release,
}

#[derive(Debug, Clone, Copy)]
struct Voice {
    key: u8,
    stage: Stage,
    level: f32,
    velocity: f32,
    phase: f32,
    step: f32,
    saw: bool,
    gains: (f32, f32),
}

const SILENT: Voice = Voice {
    key: 0,
    stage: Stage::Off,
    level: 0.0,
    velocity: 0.0,
    phase: 0.0,
    step: 0.0,
    saw: false,
    gains: (0.0, 0.0),
};

/// The synthesizer's state; lives on the plugin's real-time thread.
#[derive(Debug)]
pub struct Synth {
    voices: [Voice; VOICES],
    params: Params,
    coeff: f32,
    lowpass: (f32, f32),
}

impl Synth {
    /// A silent synthesizer with these parameters.
    pub fn new(params: Params) -> Synth {
        let mut synth = Synth {
            voices: [SILENT; VOICES],
            params,
            coeff: 1.0,
            lowpass: (0.0, 0.0),
        };
        synth.set_filter(params.filter_hz);
        synth
    }

    /// The current parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// Sets the filter's cut-off.
    pub fn set_filter(&mut self, hz: f32) {
        self.params.filter_hz = hz;
        self.coeff = 1.0 - (-2.0 * std::f32::consts::PI * hz / RATE as f32).exp();
    }

    /// Starts a note (stealing the quietest voice if all sound); the filter
    /// follows the note. Returns the new cut-off.
    pub fn note_on(&mut self, key: u8, velocity: u8) -> f32 {
        let slot = match self.voices.iter().position(|v| v.stage == Stage::Off) {
            Some(i) => i,
            None => (0..VOICES)
                .min_by(|&a, &b| self.voices[a].level.total_cmp(&self.voices[b].level))
                .unwrap_or(0),
        };
        let freq = 440.0 * 2f32.powf((f32::from(key) - 69.0) / 12.0);
        let pan = ((f32::from(key) - 60.0) / 24.0).clamp(-1.0, 1.0) * 0.7;
        self.voices[slot] = Voice {
            key,
            stage: Stage::Attack,
            level: 0.0,
            velocity: f32::from(velocity) / 127.0,
            phase: 0.0,
            step: freq / RATE as f32,
            saw: key < 60,
            gains: ((1.0 - pan) * 0.5, (1.0 + pan) * 0.5),
        };
        let cutoff = (300.0 + (f32::from(key) - 36.0) * 60.0 + f32::from(velocity) * 20.0)
            .clamp(200.0, 12_000.0);
        self.set_filter(cutoff);
        cutoff
    }

    /// Releases every voice playing `key`.
    pub fn note_off(&mut self, key: u8) {
        for v in &mut self.voices {
            if v.key == key && v.stage != Stage::Off {
                v.stage = Stage::Release;
            }
        }
    }

    /// Voices sounding.
    pub fn voices(&self) -> usize {
        self.voices.iter().filter(|v| v.stage != Stage::Off).count()
    }

    /// Renders one period into `left` and `right` (same length, at most
    /// [`MAX_FRAMES`]).
    pub fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        left.fill(0.0);
        right.fill(0.0);
        let rate = RATE as f32;
        let (attack, decay, release) = (
            1.0 / (ATTACK_S * rate),
            (1.0 - SUSTAIN) / (DECAY_S * rate),
            SUSTAIN / (RELEASE_S * rate),
        );
        for v in self.voices.iter_mut().filter(|v| v.stage != Stage::Off) {
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                match v.stage {
                    Stage::Attack => {
                        v.level += attack;
                        if v.level >= 1.0 {
                            v.level = 1.0;
                            v.stage = Stage::Decay;
                        }
                    }
                    Stage::Decay => {
                        v.level -= decay;
                        if v.level <= SUSTAIN {
                            v.level = SUSTAIN;
                            v.stage = Stage::Sustain;
                        }
                    }
                    Stage::Sustain => {}
                    Stage::Release => {
                        v.level -= release;
                        if v.level <= 0.0 {
                            v.level = 0.0;
                            v.stage = Stage::Off;
                            break;
                        }
                    }
                    Stage::Off => break,
                }
                let osc = if v.saw {
                    2.0 * v.phase - 1.0
                } else {
                    (2.0 * std::f32::consts::PI * v.phase).sin()
                };
                v.phase += v.step;
                if v.phase >= 1.0 {
                    v.phase -= 1.0;
                }
                let x = osc * v.level * v.velocity * 0.3;
                *l += x * v.gains.0;
                *r += x * v.gains.1;
            }
        }
        let (k, gain) = (self.coeff, self.params.volume);
        let (mut yl, mut yr) = self.lowpass;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            yl += k * (*l - yl);
            yr += k * (*r - yr);
            *l = yl * gain;
            *r = yr * gain;
        }
        self.lowpass = (yl, yr);
    }
}
