//! The host side: create the link, start the plugin process, check its
//! handshake, supervise it, shut it down.

use crate::protocol::{Hello, Layout, Quit, Welcome, LINK_MAGIC, PROTOCOL_VERSION};
use crate::{LinkConfig, LinkError, MainLink, RtCaller};
use ipc_channel_shm::Segment;
use ipc_msgpack::{recv, send, Flags};
use std::fmt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A running plugin process and the host's ends of its two links.
///
/// Dropping a `Host` kills the plugin if it still runs (no orphans).
pub struct Host {
    child: Child,
    main: MainLink,
    rt: Option<RtCaller>,
    plugin_pid: u32,
    _segment: Segment,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("plugin_pid", &self.plugin_pid)
            .field("main", &self.main)
            .finish()
    }
}

/// Why the handshake refuses a plugin, or `None` if it is welcome.
fn refusal(hello: &Hello) -> Option<String> {
    if hello.magic != LINK_MAGIC {
        return Some(format!(
            "not an ipc-link peer (magic {:#018x})",
            hello.magic
        ));
    }
    if hello.version != PROTOCOL_VERSION {
        return Some(format!(
            "plugin speaks link protocol {}, host speaks {PROTOCOL_VERSION}",
            hello.version
        ));
    }
    let ours = Layout::current();
    if hello.layout != ours {
        return Some(format!(
            "layout differs: plugin {:?}, host {ours:?}",
            hello.layout
        ));
    }
    None
}

impl Host {
    /// Creates a link, starts `command` with the link's connection string
    /// appended as its last argument, and waits (at most
    /// `config.connect_timeout`) for the plugin's handshake. `setup` registers
    /// main-link handlers before any message is dispatched.
    ///
    /// # Errors
    /// [`LinkError::Spawn`] if the process cannot start, exits or does not
    /// connect in time; [`LinkError::Handshake`] if it speaks another protocol
    /// (it is told why, then stopped).
    pub fn spawn(
        mut command: Command,
        config: &LinkConfig,
        setup: impl FnOnce(&MainLink),
    ) -> Result<Host, LinkError> {
        let segment = Segment::create(&config.capacities())?;
        let conn = segment
            .connection_string()
            .expect("named segment")
            .to_owned();
        let mut child = command
            .arg(&conn)
            .spawn()
            .map_err(|e| LinkError::Spawn(format!("{command:?}: {e}")))?;
        let fail = |child: &mut Child, e: LinkError| {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        };
        let (mut main_w, mut main_r) = (segment.writer(0)?, segment.reader(1)?);
        let (rt_w, rt_r) = (segment.writer(2)?, segment.reader(3)?);
        let deadline = Instant::now() + config.connect_timeout;
        let hello = loop {
            match recv::<Hello>(&mut main_r, &config.limits, Some(Duration::from_millis(20))) {
                Ok((_, hello)) => break hello,
                Err(ipc_msgpack::Error::Channel(ipc_channel_shm::Error::Timeout)) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(LinkError::Spawn(format!(
                            "the plugin exited with {status} before connecting"
                        )));
                    }
                    if Instant::now() >= deadline {
                        return fail(
                            &mut child,
                            LinkError::Spawn(format!(
                                "the plugin did not connect within {:?}",
                                config.connect_timeout
                            )),
                        );
                    }
                }
                Err(e) => return fail(&mut child, LinkError::Handshake(e.to_string())),
            }
        };
        let refused = refusal(&hello);
        let welcome = Welcome {
            refused: refused.clone().unwrap_or_default(),
        };
        if let Err(e) = send(&mut main_w, &welcome, 0, Flags::REPLY) {
            return fail(&mut child, e.into());
        }
        if let Some(reason) = refused {
            return fail(&mut child, LinkError::Handshake(reason));
        }
        // The plugin has attached: watch it from here, not from whichever
        // thread sleeps first (possibly the audio thread).
        segment.watch_peer();
        let main = MainLink::start(main_w, main_r, config.limits, setup)?;
        Ok(Host {
            child,
            main,
            rt: Some(RtCaller::new(rt_w, rt_r, config.limits)),
            plugin_pid: hello.pid,
            _segment: segment,
        })
    }

    /// The main link.
    pub fn main(&self) -> &MainLink {
        &self.main
    }

    /// Takes the real-time link, to move it to the audio thread (once).
    pub fn take_rt(&mut self) -> Option<RtCaller> {
        self.rt.take()
    }

    /// The plugin's process ID (as it reported it in the handshake).
    pub fn plugin_pid(&self) -> u32 {
        self.plugin_pid
    }

    /// Whether the plugin process has exited (reaping it if so).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, LinkError> {
        self.child.try_wait().map_err(LinkError::Os)
    }

    /// Kills the plugin process at once and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus, LinkError> {
        let _ = self.child.kill();
        self.child.wait().map_err(LinkError::Os)
    }

    /// Clean shutdown: sends `Quit`, waits for the plugin to close the link
    /// and exit, at most `timeout`, then kills it.
    ///
    /// # Errors
    /// [`LinkError::Os`] if the process cannot be waited for.
    pub fn shutdown(mut self, timeout: Duration) -> Result<ExitStatus, LinkError> {
        let deadline = Instant::now() + timeout;
        let _ = self.main.send(&Quit);
        // The plugin closes its end as it exits; then reap it.
        let _ = self.main.wait_disconnected(timeout);
        loop {
            if let Some(status) = self.child.try_wait().map_err(LinkError::Os)? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return self.kill();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
