//! Shared audio buffers: planar `f32` channels (inputs first, then outputs)
//! in a shared region, so that audio never goes through a ring.

use crate::LinkError;
use ipc_channel_shm::Region;
use std::fmt;

/// Planar audio channels shared by host and plugin.
///
/// The host makes them with [`RtCaller::attach_audio`](crate::RtCaller::attach_audio);
/// the plugin finds them in its real-time handler.
///
/// # Examples
///
/// ```no_run
/// # use ipc_link::AudioBuffers;
/// // In the plugin's real-time handler: a gain of one half, channel by channel.
/// fn process(audio: &mut AudioBuffers) {
///     for ch in 0..audio.outputs().min(audio.inputs()) {
///         let input: Vec<f32> = audio.input(ch).to_vec(); // (a real plugin would not allocate)
///         for (out, x) in audio.output_mut(ch).iter_mut().zip(input) {
///             *out = 0.5 * x;
///         }
///     }
/// }
/// # let _ = process;
/// ```
///
/// The host fills the inputs, makes a real-time call, and reads the outputs
/// the plugin wrote; the call orders the two sides' accesses. The samples are
/// plain `f32`s that the peer could change at any time: a misbehaving plugin
/// can only produce wrong audio (any bit pattern is some `f32`), never a fault.
pub struct AudioBuffers {
    region: Region,
    inputs: usize,
    outputs: usize,
    frames: usize,
}

impl fmt::Debug for AudioBuffers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioBuffers")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("frames", &self.frames)
            .finish()
    }
}

fn bytes(inputs: usize, outputs: usize, frames: usize) -> Result<usize, LinkError> {
    inputs
        .checked_add(outputs)
        .and_then(|c| c.checked_mul(frames))
        .and_then(|s| s.checked_mul(std::mem::size_of::<f32>()))
        .filter(|&b| b > 0 && b <= ipc_channel_shm::MAX_CAPACITY)
        .ok_or(LinkError::InvalidArgument(
            "audio buffers hold 1 byte to 1 GiB of samples",
        ))
}

fn shared_memory(e: ipc_channel_shm::Error) -> LinkError {
    LinkError::from_channel(e, crate::Waited::Message)
}

impl AudioBuffers {
    /// Creates zeroed buffers in a new shared region (host side).
    pub(crate) fn create(
        inputs: usize,
        outputs: usize,
        frames: usize,
    ) -> Result<AudioBuffers, LinkError> {
        let region = Region::create(bytes(inputs, outputs, frames)?).map_err(shared_memory)?;
        Ok(AudioBuffers {
            region,
            inputs,
            outputs,
            frames,
        })
    }

    /// Opens the host's region (plugin side), checking that it is as large as
    /// the counts say.
    pub(crate) fn open(
        name: &str,
        inputs: usize,
        outputs: usize,
        frames: usize,
    ) -> Result<AudioBuffers, LinkError> {
        let need = bytes(inputs, outputs, frames)?;
        let region = Region::open(name).map_err(shared_memory)?;
        if region.len() < need {
            return Err(LinkError::InvalidArgument(
                "the audio region is smaller than its channel counts say",
            ));
        }
        Ok(AudioBuffers {
            region,
            inputs,
            outputs,
            frames,
        })
    }

    /// The region's connection string.
    pub(crate) fn connection_string(&self) -> &str {
        self.region.connection_string().unwrap_or("")
    }

    /// Makes the region impossible to open from now on.
    pub(crate) fn withdraw(&self) -> Result<(), LinkError> {
        self.region.withdraw().map_err(shared_memory)
    }

    /// Input channels.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Output channels.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.frames
    }

    fn channel(&self, index: usize) -> *mut f32 {
        // SAFETY: `index < inputs + outputs` (checked by callers), so the
        // channel lies inside the region, which is 128-byte aligned.
        unsafe { self.region.as_ptr().cast::<f32>().add(index * self.frames) }
    }

    /// Input channel `ch`.
    ///
    /// # Panics
    /// If `ch >= inputs()`.
    pub fn input(&self, ch: usize) -> &[f32] {
        assert!(ch < self.inputs, "input channel out of range");
        // SAFETY: in range (above); shared `f32`s are valid for any bits.
        unsafe { std::slice::from_raw_parts(self.channel(ch), self.frames) }
    }

    /// Input channel `ch`, to fill.
    ///
    /// # Panics
    /// If `ch >= inputs()`.
    pub fn input_mut(&mut self, ch: usize) -> &mut [f32] {
        assert!(ch < self.inputs, "input channel out of range");
        // SAFETY: in range; `&mut self` makes this the only slice of ours.
        unsafe { std::slice::from_raw_parts_mut(self.channel(ch), self.frames) }
    }

    /// Output channel `ch`.
    ///
    /// # Panics
    /// If `ch >= outputs()`.
    pub fn output(&self, ch: usize) -> &[f32] {
        assert!(ch < self.outputs, "output channel out of range");
        // SAFETY: in range; shared `f32`s are valid for any bits.
        unsafe { std::slice::from_raw_parts(self.channel(self.inputs + ch), self.frames) }
    }

    /// All channels at once, planar: the inputs (channel `c` at
    /// `[c * frames..(c + 1) * frames]`) to read, and the outputs, laid out
    /// the same way, to fill. For rendering every output in one pass.
    pub fn planar_mut(&mut self) -> (&[f32], &mut [f32]) {
        let (ni, no) = (self.inputs * self.frames, self.outputs * self.frames);
        // SAFETY: the two ranges are disjoint parts of the region (inputs
        // first, outputs after), both inside it; `&mut self` makes the output
        // slice the only mutable one of ours.
        unsafe {
            (
                std::slice::from_raw_parts(self.channel(0), ni),
                std::slice::from_raw_parts_mut(self.channel(0).add(ni), no),
            )
        }
    }

    /// Output channel `ch`, to fill.
    ///
    /// # Panics
    /// If `ch >= outputs()`.
    pub fn output_mut(&mut self, ch: usize) -> &mut [f32] {
        assert!(ch < self.outputs, "output channel out of range");
        // SAFETY: in range; `&mut self` makes this the only slice of ours.
        unsafe { std::slice::from_raw_parts_mut(self.channel(self.inputs + ch), self.frames) }
    }
}
