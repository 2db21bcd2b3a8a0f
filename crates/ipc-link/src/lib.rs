//! Links between an audio plugin host and its plugin processes.
//!
//! A link is one shared segment of four channels (Layer I,
//! [`ipc_channel_shm`]) carrying typed MessagePack messages (Layer II,
//! [`ipc_msgpack`]); this crate re-exports what a host or a plugin needs
//! from both, so it is the only dependency either needs:
//!
//! * the **main link** ([`MainLink`]), asynchronous and bidirectional: both
//!   sides listen on a thread of their own, dispatch incoming messages to
//!   handlers registered per message type, send from any thread, and make
//!   requests answered through reply callbacks (or blocking, with a timeout);
//! * the **real-time link** ([`RtCaller`] on the host, [`RtServer`] on the
//!   plugin): the host's audio thread calls and blocks for the plugin's reply,
//!   one wake-up each way, with no allocation and no lock; audio itself goes
//!   through shared [`AudioBuffers`].
//!
//! The host starts the plugin with [`Host::spawn`]; the plugin connects with
//! [`Plugin::connect_from_env`]. A versioned handshake checks that both speak
//! the same protocol. A plugin's death is reported on both links within
//! milliseconds, a hung plugin costs a real-time call its timeout, and a
//! host's death (or `Quit`) makes [`Plugin::wait_for_stop`] and
//! [`RtServer::serve`] return, so no plugin outlives its host.
//!
//! # Tutorial
//!
//! Messages are serde types with an ID ([`message!`]). Here one program is
//! both host and plugin: the host starts the program again, which finds the
//! link's connection string in its environment and plays the plugin.
//!
//! ```
//! use ipc_link::{message, AudioBuffers, Host, LinkConfig, Plugin, Stop};
//! use serde::{Deserialize, Serialize};
//! use std::process::Command;
//! use std::time::Duration;
//!
//! // The protocol: IDs are per protocol, chosen by its author.
//! #[derive(Serialize, Deserialize)]
//! struct SetGain(f32);
//! #[derive(Serialize, Deserialize)]
//! struct Process { frames: u32 }
//! #[derive(Serialize, Deserialize)]
//! struct Processed { peak: f32 }
//! #[derive(Serialize, Deserialize)]
//! struct GainSet;
//! message!(SetGain = 1, Process = 2, Processed = 3, GainSet = 4);
//!
//! fn plugin() -> Result<(), ipc_link::LinkError> {
//!     let gain = std::sync::Arc::new(std::sync::Mutex::new(1.0f32));
//!     let g = gain.clone();
//!     let mut plugin = Plugin::connect_from_env(&LinkConfig::default(), move |link| {
//!         link.on_request(move |SetGain(x)| {
//!             *g.lock().unwrap() = x;
//!             GainSet
//!         })
//!     })?;
//!     let mut rt = plugin.take_rt().expect("the real-time end");
//!     // The audio thread: answers every call until the host says stop.
//!     let audio = std::thread::spawn(move || {
//!         rt.serve(move |_: Process, buffers: Option<&mut AudioBuffers>| {
//!             let mut peak = 0.0f32;
//!             if let Some(b) = buffers {
//!                 let g = *gain.lock().unwrap();
//!                 let (input, output) = b.planar_mut();
//!                 for (o, i) in output.iter_mut().zip(input) {
//!                     *o = i * g;
//!                     peak = peak.max(o.abs());
//!                 }
//!             }
//!             Processed { peak }
//!         })
//!     });
//!     assert!(matches!(audio.join().unwrap(), Stop::Quit));
//!     Ok(())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! if ipc_link::connection_from_env().is_some() {
//!     return Ok(plugin()?);
//! }
//! // The host.
//! let mut host = Host::spawn(Command::new(std::env::current_exe()?), &LinkConfig::default(), |_| Ok(()))?;
//! let t = Duration::from_secs(5);
//! let GainSet = host.main_link().request_timeout(&SetGain(0.5), t)?;
//! let mut rt = host.take_rt().expect("the real-time end");
//! rt.attach_audio(1, 1, 64, t)?;
//! rt.audio_mut().unwrap().input_mut(0).fill(0.8);
//! let Processed { peak } = rt.call_timeout(&Process { frames: 64 }, t)?;
//! assert_eq!((peak, rt.audio().unwrap().output(0)[0]), (0.4, 0.4));
//! // Quit ends the plugin's serving loop and the plugin.
//! assert!(host.shutdown_timeout(Duration::from_secs(10))?.is_clean());
//! # Ok(())
//! # }
//! ```
//!
//! # Waiting and timeouts
//!
//! One scheme holds at every layer: `x` waits as long as it takes (and still
//! reports a closed or dead peer), `try_x` never waits, `x_timeout(d)` waits
//! at most `d`. Where an unbounded wait would be a design error, only the
//! bounded forms exist: a real-time call is always
//! [`call_timeout`](RtCaller::call_timeout), a blocking request always
//! [`request_timeout`](MainLink::request_timeout), and a plain
//! [`send`](MainLink::send) waits at most [`LinkConfig::send_timeout`].
#![warn(clippy::undocumented_unsafe_blocks)]

mod audio;
mod error;
mod handshake;
mod host;
mod main_link;
mod plugin;
pub mod protocol;
mod rt;
mod sys;

pub use audio::AudioBuffers;
pub use error::{ErrorKind, HandshakeError, LinkError, Waited};
pub use host::{Ended, Host};
pub use main_link::{expect_reply_id, Incoming, MainLink};
pub use plugin::{connection_from_env, Plugin, Stop};
pub use rt::{Responder, RtCaller, RtServer};

/// The lower layers, for users that want them directly.
pub use ipc_channel_shm as channel;
pub use ipc_msgpack as messages;
/// Message types: the trait, the declaring macro, and what a handler sees.
pub use ipc_msgpack::{
    message, serde_bytes, BytesInto, FramesInto, Header, Limits, Message, Payload, PayloadBytes,
    Sink,
};

use std::sync::Arc;
use std::time::Duration;

/// Channels in a link segment: main host->plugin, main plugin->host,
/// real-time host->plugin, real-time plugin->host.
pub const CHANNELS: usize = 4;

/// The environment variable through which [`Host::spawn`] hands the plugin
/// its connection string (wrappers such as `sh -c` or a Wine launcher keep
/// the environment, while they may move or drop arguments).
pub const CONNECTION_ENV: &str = "IPC_LINK_CONNECTION";

/// Gives the calling thread real-time scheduling: `SCHED_FIFO` at `priority`
/// on Linux and macOS, time-critical priority on Windows. For the plugin's
/// serving thread and the host's audio thread.
///
/// # Errors
/// [`LinkError::Os`] saying why the system refused (commonly: neither
/// `CAP_SYS_NICE` nor an `RLIMIT_RTPRIO` allowance); the thread then keeps
/// its normal priority.
pub fn promote_current_thread(priority: u8) -> Result<(), LinkError> {
    sys::set_realtime_priority(priority).map_err(|e| LinkError::Os(Arc::new(e)))
}

/// Sizes and bounds of a link.
///
/// Which side's values count: the ring capacities are the host's (they
/// shape the segment it creates; the plugin's are ignored). Every other
/// field applies to the side that sets it: its own connect timeout, how
/// long its own sends may wait, and the limits on what it accepts.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Ring size of each main-link channel, in bytes: a power of two from
    /// 64 bytes to 1 GiB. Messages larger than this stream through it.
    /// Default: 1 MiB.
    pub main_capacity: usize,
    /// Ring size of each real-time channel (same rule). Default: 64 KiB.
    pub rt_capacity: usize,
    /// How long the handshake may take. Default: 10 s.
    pub connect_timeout: Duration,
    /// How long a main-link [`send`](MainLink::send) (and the send of a
    /// request) may wait for ring space when the peer does not read.
    /// Default: 10 s.
    pub send_timeout: Duration,
    /// Whether [`Host::spawn`] also appends the connection string to the
    /// plugin's arguments (it is always in [`CONNECTION_ENV`]). Default: on.
    pub connection_argument: bool,
    /// Bounds on incoming messages.
    pub limits: Limits,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            main_capacity: 1 << 20,
            rt_capacity: 1 << 16,
            connect_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(10),
            connection_argument: true,
            limits: Limits::default(),
        }
    }
}

impl LinkConfig {
    fn capacities(&self) -> Result<[usize; CHANNELS], LinkError> {
        for c in [self.main_capacity, self.rt_capacity] {
            if !c.is_power_of_two()
                || !(ipc_channel_shm::MIN_CAPACITY..=ipc_channel_shm::MAX_CAPACITY).contains(&c)
            {
                return Err(LinkError::InvalidArgument(
                    "ring capacities are powers of two from 64 bytes to 1 GiB",
                ));
            }
        }
        Ok([
            self.main_capacity,
            self.main_capacity,
            self.rt_capacity,
            self.rt_capacity,
        ])
    }
}
