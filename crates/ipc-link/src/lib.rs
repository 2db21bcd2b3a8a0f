//! Links between an audio plugin host and its plugin processes.
//!
//! A link is one shared segment of four channels (Layer I) carrying typed
//! messages (Layer II):
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
//! [`Plugin::connect`]. A versioned handshake checks that both speak the same
//! protocol; a plugin's death is reported on both links within milliseconds,
//! and a host's death makes [`Plugin::wait_for_stop`] return, so no plugin
//! outlives its host.
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod audio;
mod error;
mod host;
mod main_link;
mod plugin;
pub mod protocol;
mod rt;
mod sys;

pub use audio::AudioBuffers;
pub use error::LinkError;
pub use host::Host;
pub use main_link::{Incoming, MainLink};
pub use plugin::{Plugin, Stop};
pub use rt::{RtCaller, RtServer};

use ipc_msgpack::Limits;
use std::time::Duration;

/// Channels in a link segment: main host->plugin, main plugin->host,
/// real-time host->plugin, real-time plugin->host.
pub const CHANNELS: usize = 4;

/// Gives the calling thread real-time scheduling: `SCHED_FIFO` at `priority`
/// on Linux and macOS, time-critical priority on Windows. For the plugin's
/// serving thread and the host's audio thread.
///
/// # Errors
/// [`LinkError::Os`] saying why the system refused (commonly: neither
/// `CAP_SYS_NICE` nor an `RLIMIT_RTPRIO` allowance); the thread then keeps
/// its normal priority.
pub fn promote_current_thread(priority: u8) -> Result<(), LinkError> {
    sys::set_realtime_priority(priority).map_err(LinkError::Os)
}

/// Sizes and bounds of a link.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// Ring size of each main-link channel (messages larger than this stream
    /// through it). Default: 1 MiB.
    pub main_capacity: usize,
    /// Ring size of each real-time channel. Default: 64 KiB.
    pub rt_capacity: usize,
    /// How long the handshake may take. Default: 10 s.
    pub connect_timeout: Duration,
    /// Bounds on incoming messages.
    pub limits: Limits,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            main_capacity: 1 << 20,
            rt_capacity: 1 << 16,
            connect_timeout: Duration::from_secs(10),
            limits: Limits::default(),
        }
    }
}

impl LinkConfig {
    fn capacities(&self) -> [usize; CHANNELS] {
        [
            self.main_capacity,
            self.main_capacity,
            self.rt_capacity,
            self.rt_capacity,
        ]
    }
}
