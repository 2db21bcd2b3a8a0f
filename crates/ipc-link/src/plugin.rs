//! The plugin side: connect to the host's link, handshake, and learn when to
//! stop (a `Quit` from the host, or the host gone).

use crate::error::Waited;
use crate::protocol::{Hello, Quit};
use crate::{handshake, LinkConfig, LinkError, MainLink, RtServer, CONNECTION_ENV};
use ipc_channel_shm::Segment;
use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a plugin should stop.
#[derive(Debug, Clone)]
pub enum Stop {
    /// The host asked it to quit (or closed the link cleanly).
    Quit,
    /// The link went down otherwise: the host died, or broke the link.
    HostGone(LinkError),
}

type StopSlot = Arc<(Mutex<Option<Stop>>, Condvar)>;

fn set_stop(slot: &StopSlot, stop: Stop) {
    slot.0.lock().get_or_insert(stop);
    slot.1.notify_all();
}

/// The plugin's ends of the links.
///
/// Dropping it closes them, so that the host sees [`LinkError::Closed`] (a
/// clean exit), not [`LinkError::PeerDied`] (a crash).
pub struct Plugin {
    main: MainLink,
    rt: Option<RtServer>,
    stop: StopSlot,
    segment: Segment,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("main", &self.main).finish()
    }
}

/// The link's connection string as a host passed it: the environment
/// variable [`CONNECTION_ENV`], or else the last command-line argument if it
/// has the shape of one.
pub fn connection_from_env() -> Option<String> {
    if let Some(conn) = std::env::var_os(CONNECTION_ENV) {
        return conn.into_string().ok().filter(|c| !c.is_empty());
    }
    std::env::args()
        .skip(1)
        .last()
        .filter(|a| a.starts_with("ipc-") && a.len() < 64)
}

impl Plugin {
    /// Connects to the link named by `connection`, performs the handshake
    /// (at most [`LinkConfig::connect_timeout`]; a host that dies meanwhile
    /// is noticed at once), runs `setup` to register main-link handlers,
    /// then starts listening.
    ///
    /// # Errors
    /// [`LinkError::InvalidArgument`] for a malformed connection string,
    /// [`LinkError::Os`] if the link does not exist (any more),
    /// [`LinkError::Handshake`] if the host refuses,
    /// `Timeout(Waited::Connect)` if it does not answer in time,
    /// [`LinkError::PeerDied`] if it died, or what `setup` returns.
    pub fn connect(
        connection: &str,
        config: &LinkConfig,
        setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
    ) -> Result<Plugin, LinkError> {
        Self::connect_as(connection, config, handshake::hello(), setup)
    }

    /// [`connect`](Plugin::connect) with the connection string of
    /// [`connection_from_env`].
    ///
    /// # Errors
    /// [`LinkError::InvalidArgument`] if there is none; otherwise as for
    /// [`connect`](Plugin::connect).
    pub fn connect_from_env(
        config: &LinkConfig,
        setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
    ) -> Result<Plugin, LinkError> {
        let conn = connection_from_env().ok_or(LinkError::InvalidArgument(
            "no connection string: neither IPC_LINK_CONNECTION nor a last argument",
        ))?;
        Self::connect(&conn, config, setup)
    }

    /// `connect` with a given handshake (tests play an incompatible plugin).
    #[doc(hidden)]
    pub fn connect_as(
        connection: &str,
        config: &LinkConfig,
        hello: Hello,
        setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
    ) -> Result<Plugin, LinkError> {
        let until = Instant::now() + config.connect_timeout;
        let connect = |e| LinkError::from_channel(e, Waited::Connect);
        let segment = Segment::open(connection).map_err(connect)?;
        // Watch the host from here: a host that dies before it answers is
        // noticed at once (and the real-time thread never starts the watch).
        segment.watch_peer();
        let (mut main_r, mut main_w) = (
            segment.reader(0).map_err(connect)?,
            segment.writer(1).map_err(connect)?,
        );
        let (rt_r, rt_w) = (
            segment.reader(2).map_err(connect)?,
            segment.writer(3).map_err(connect)?,
        );
        handshake::plugin_side(&mut main_w, &mut main_r, &hello, until)?;
        let stop: StopSlot = Arc::new((Mutex::new(None), Condvar::new()));
        let (on_quit, on_gone, rt_segment) = (stop.clone(), stop.clone(), segment.clone());
        let main = MainLink::start(
            (main_w, (segment.clone(), 1)),
            main_r,
            config.limits,
            config.send_timeout,
            move |link| {
                link.on_any(move |_: Quit, _| {
                    set_stop(&on_quit, Stop::Quit);
                    // End the real-time serving loop too, wherever it runs.
                    close_rt(&rt_segment);
                })?;
                link.on_disconnect(move |e| {
                    let stop = match e {
                        LinkError::Closed => Stop::Quit,
                        other => Stop::HostGone(other.clone()),
                    };
                    set_stop(&on_gone, stop);
                });
                setup(link)
            },
        )?;
        Ok(Plugin {
            main,
            rt: Some(RtServer::new(rt_w, rt_r, config.limits)),
            stop,
            segment,
        })
    }

    /// The main link.
    pub fn main_link(&self) -> &MainLink {
        &self.main
    }

    /// Takes the real-time link, to move it to the real-time thread (once).
    pub fn take_rt(&mut self) -> Option<RtServer> {
        self.rt.take()
    }

    /// Blocks until the host says `Quit`, closes the link, or goes away. A
    /// plugin process returns from `main` after this, so it never outlives
    /// its host.
    pub fn wait_for_stop(&self) -> Stop {
        let mut slot = self.stop.0.lock();
        loop {
            if let Some(stop) = slot.clone() {
                return stop;
            }
            self.stop.1.wait(&mut slot);
        }
    }

    /// Like [`wait_for_stop`](Plugin::wait_for_stop), at most `timeout`.
    ///
    /// # Errors
    /// `Timeout(Waited::Stop)` if neither happened in time.
    pub fn wait_for_stop_timeout(&self, timeout: Duration) -> Result<Stop, LinkError> {
        let until = Instant::now() + timeout;
        let mut slot = self.stop.0.lock();
        loop {
            if let Some(stop) = slot.clone() {
                return Ok(stop);
            }
            if self.stop.1.wait_until(&mut slot, until).timed_out() {
                return Err(LinkError::Timeout(Waited::Stop));
            }
        }
    }
}

/// Closes the plugin's ends of the real-time link: a serving loop drains
/// what came and returns [`Stop::Quit`].
fn close_rt(segment: &Segment) {
    let _ = segment.close(2);
    let _ = segment.close(3);
}

impl Drop for Plugin {
    fn drop(&mut self) {
        // The channels first: a send blocked on a host that does not read
        // holds the main link's writer; closing wakes it with `Closed`.
        let _ = self.segment.close(0);
        let _ = self.segment.close(1);
        close_rt(&self.segment);
        self.main.close();
    }
}
