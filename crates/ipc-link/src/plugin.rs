//! The plugin side: connect to the host's link, handshake, and learn when to
//! stop (a `Quit` from the host, or the host's death).

use crate::protocol::{Hello, Layout, Quit, Welcome, LINK_MAGIC, PROTOCOL_VERSION};
use crate::{LinkConfig, LinkError, MainLink, RtServer};
use ipc_channel_shm::Segment;
use ipc_msgpack::{recv, send, Flags};
use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::sync::Arc;

/// Why a plugin should stop.
#[derive(Debug)]
pub enum Stop {
    /// The host asked it to quit.
    Quit,
    /// The link went down: the host died or closed it.
    HostGone(LinkError),
}

type StopSlot = Arc<(Mutex<Option<Stop>>, Condvar)>;

/// The plugin's ends of the links.
pub struct Plugin {
    main: MainLink,
    rt: Option<RtServer>,
    stop: StopSlot,
    _segment: Segment,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("main", &self.main).finish()
    }
}

impl Plugin {
    /// Connects to the link named by `connection` (the host passes it as the
    /// last command-line argument), performs the handshake, runs `setup` to
    /// register main-link handlers, then starts listening.
    ///
    /// # Errors
    /// [`LinkError::Channel`] if the segment cannot be opened,
    /// [`LinkError::Handshake`] if the host refuses or does not answer within
    /// `config.connect_timeout`.
    pub fn connect(
        connection: &str,
        config: &LinkConfig,
        setup: impl FnOnce(&MainLink),
    ) -> Result<Plugin, LinkError> {
        let hello = Hello {
            magic: LINK_MAGIC,
            version: PROTOCOL_VERSION,
            layout: Layout::current(),
            pid: std::process::id(),
            pointer_bits: usize::BITS,
        };
        Self::connect_as(connection, config, hello, setup)
    }

    /// `connect` with a given handshake (tests play an incompatible plugin).
    #[doc(hidden)]
    pub fn connect_as(
        connection: &str,
        config: &LinkConfig,
        hello: Hello,
        setup: impl FnOnce(&MainLink),
    ) -> Result<Plugin, LinkError> {
        let segment = Segment::open(connection)?;
        let (mut main_r, mut main_w) = (segment.reader(0)?, segment.writer(1)?);
        let (rt_r, rt_w) = (segment.reader(2)?, segment.writer(3)?);
        send(&mut main_w, &hello, 0, Flags::REQUEST)?;
        let (_, welcome) =
            recv::<Welcome>(&mut main_r, &config.limits, Some(config.connect_timeout)).map_err(
                |e| match e {
                    ipc_msgpack::Error::Channel(ipc_channel_shm::Error::Timeout) => {
                        LinkError::Handshake("the host did not answer".into())
                    }
                    other => LinkError::Handshake(other.to_string()),
                },
            )?;
        if !welcome.refused.is_empty() {
            return Err(LinkError::Handshake(format!(
                "the host refused: {}",
                welcome.refused
            )));
        }
        // Watch the host from here, not from whichever thread sleeps first
        // (possibly the real-time thread).
        segment.watch_peer();
        let stop: StopSlot = Arc::new((Mutex::new(None), Condvar::new()));
        let (on_quit, on_gone) = (stop.clone(), stop.clone());
        let main = MainLink::start(main_w, main_r, config.limits, move |link| {
            link.on_any(move |_: Quit, _| {
                on_quit.0.lock().get_or_insert(Stop::Quit);
                on_quit.1.notify_all();
            });
            link.on_disconnect(move |e| {
                on_gone
                    .0
                    .lock()
                    .get_or_insert(Stop::HostGone(e.duplicate()));
                on_gone.1.notify_all();
            });
            setup(link);
        })?;
        Ok(Plugin {
            main,
            rt: Some(RtServer::new(rt_w, rt_r, config.limits)),
            stop,
            _segment: segment,
        })
    }

    /// The main link.
    pub fn main(&self) -> &MainLink {
        &self.main
    }

    /// Takes the real-time link, to move it to the real-time thread (once).
    pub fn take_rt(&mut self) -> Option<RtServer> {
        self.rt.take()
    }

    /// Blocks until the host says `Quit` or goes away. A plugin process
    /// returns from `main` after this, so it never outlives its host.
    pub fn wait_for_stop(&self) -> Stop {
        let mut slot = self.stop.0.lock();
        loop {
            if let Some(stop) = slot.take() {
                return stop;
            }
            self.stop.1.wait(&mut slot);
        }
    }
}
