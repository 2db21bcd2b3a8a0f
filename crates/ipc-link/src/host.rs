//! The host side: create the link, start the plugin process, check its
//! handshake, supervise it, shut it down.

use crate::error::Waited;
use crate::protocol::Quit;
use crate::{handshake, LinkConfig, LinkError, MainLink, RtCaller, CONNECTION_ENV};
use ipc_channel_shm::Segment;
use std::borrow::BorrowMut;
use std::fmt;
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running plugin process and the host's ends of its two links.
///
/// Dropping a `Host` closes its ends of both links and kills the plugin if
/// it still runs (no orphans); [`shutdown_timeout`](Host::shutdown_timeout)
/// asks it to quit first.
pub struct Host {
    child: Child,
    main: MainLink,
    rt: Option<RtCaller>,
    plugin_pid: u32,
    segment: Segment,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("plugin_pid", &self.plugin_pid)
            .field("main", &self.main)
            .finish()
    }
}

/// How a plugin ended under [`Host::shutdown_timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It quit when asked, and exited with this status.
    Exited(ExitStatus),
    /// It did not exit in time and was killed (the status shows the kill).
    Killed(ExitStatus),
}

impl Ended {
    /// Whether the plugin quit when asked and exited successfully.
    pub fn is_clean(&self) -> bool {
        matches!(self, Ended::Exited(status) if status.success())
    }

    /// The process's exit status.
    pub fn status(&self) -> ExitStatus {
        match self {
            Ended::Exited(s) | Ended::Killed(s) => *s,
        }
    }
}

impl Host {
    /// Creates a link, starts `command` with the link's connection string in
    /// the environment variable [`CONNECTION_ENV`] (and, unless
    /// [`LinkConfig::connection_argument`] is off, as its last argument), and
    /// waits at most [`LinkConfig::connect_timeout`] for the plugin's
    /// handshake. `setup` registers main-link handlers before any message
    /// is dispatched.
    ///
    /// # Errors
    /// [`LinkError::Spawn`] if the process cannot start (a missing program
    /// is `NotFound`), [`LinkError::PluginExited`] if it exits before
    /// connecting, `Timeout(Waited::Connect)` if it does not connect in
    /// time, [`LinkError::Handshake`] if it speaks another protocol (it is
    /// told why, then stopped), [`LinkError::TooLarge`] if its `Hello`
    /// claims more than a handshake message may hold (4 KiB), or what
    /// `setup` returns.
    ///
    /// # Examples
    ///
    /// A host and its plugin in one program, the plugin being the same
    /// executable started again (it finds the connection string in its
    /// environment):
    ///
    /// ```
    /// use ipc_link::{message, Host, LinkConfig, Plugin, Stop};
    /// use std::process::Command;
    /// use std::time::Duration;
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Ping(u32);
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Pong(u32);
    /// message!(Ping = 1, Pong = 2);
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = LinkConfig::default();
    /// if ipc_link::connection_from_env().is_some() {
    ///     // The plugin: answer pings until the host says stop.
    ///     let plugin = Plugin::connect_from_env(&config, |link| {
    ///         link.on_request(|Ping(n)| Pong(n + 1))
    ///     })?;
    ///     assert!(matches!(plugin.wait_for_stop(), Stop::Quit));
    ///     return Ok(());
    /// }
    /// let host = Host::spawn(Command::new(std::env::current_exe()?), &config, |_| Ok(()))?;
    /// let Pong(n) = host.main_link().request_timeout(&Ping(41), Duration::from_secs(10))?;
    /// assert_eq!(n, 42);
    /// assert!(host.shutdown_timeout(Duration::from_secs(10))?.is_clean());
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn(
        mut command: impl BorrowMut<Command>,
        config: &LinkConfig,
        setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
    ) -> Result<Host, LinkError> {
        let command = command.borrow_mut();
        let until = Instant::now() + config.connect_timeout;
        let segment = Segment::create(&config.capacities()?)
            .map_err(|e| LinkError::from_channel(e, Waited::Connect))?;
        let conn = segment.connection_string().unwrap_or_default().to_owned();
        command.env(CONNECTION_ENV, &conn);
        if config.connection_argument {
            command.arg(&conn);
        }
        let mut child = command.spawn().map_err(|e| LinkError::Spawn {
            program: command.get_program().to_string_lossy().into_owned(),
            error: Arc::new(e),
        })?;
        let endpoints = (|| {
            Ok::<_, ipc_channel_shm::Error>((
                segment.writer(0)?,
                segment.reader(1)?,
                segment.writer(2)?,
                segment.reader(3)?,
            ))
        })();
        let stop = |child: &mut Child, e: LinkError| {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        };
        let (mut main_w, mut main_r, rt_w, rt_r) = match endpoints {
            Ok(e) => e,
            Err(e) => return stop(&mut child, LinkError::from_channel(e, Waited::Connect)),
        };
        let hello =
            handshake::host_side(&mut main_w, &mut main_r, until, || match child.try_wait() {
                Ok(Some(status)) => Some(LinkError::PluginExited(status)),
                _ => None,
            });
        let hello = match hello {
            Ok(h) => h,
            Err(e) => return stop(&mut child, e),
        };
        // The plugin has attached: watch it from here, not from whichever
        // thread sleeps first (possibly the audio thread).
        segment.watch_peer();
        let main = match MainLink::start(
            (main_w, (segment.clone(), 0)),
            main_r,
            config.limits,
            config.send_timeout,
            setup,
        ) {
            Ok(m) => m,
            Err(e) => return stop(&mut child, e),
        };
        Ok(Host {
            child,
            main,
            rt: Some(RtCaller::new(rt_w, rt_r, config.limits)),
            plugin_pid: hello.pid,
            segment,
        })
    }

    /// The main link.
    pub fn main_link(&self) -> &MainLink {
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
    ///
    /// # Errors
    /// [`LinkError::Os`] if the process cannot be waited for.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, LinkError> {
        self.child
            .try_wait()
            .map_err(|e| LinkError::Os(Arc::new(e)))
    }

    /// Kills the plugin process at once and reaps it.
    ///
    /// # Errors
    /// [`LinkError::Os`] if the process cannot be waited for.
    pub fn kill(&mut self) -> Result<ExitStatus, LinkError> {
        let _ = self.child.kill();
        self.child.wait().map_err(|e| LinkError::Os(Arc::new(e)))
    }

    /// Closes this side's ends of both links, from any thread, even while
    /// the audio thread still holds the [`RtCaller`] (its calls then return
    /// [`LinkError::Closed`]): the plugin sees both links closed.
    fn close_links(&self) {
        // The channels first: a send blocked on a plugin that does not read
        // (the listener answering one of its requests, say) holds the main
        // link's writer for up to its send timeout; closing the channel
        // wakes it with `Closed`, so that taking the writer below cannot
        // outlast the shutdown's own timeout.
        for channel in 0..crate::CHANNELS {
            let _ = self.segment.close(channel);
        }
        self.main.close();
    }

    /// Clean shutdown: sends `Quit` (which ends the plugin's
    /// [`RtServer::serve`](crate::RtServer::serve) and
    /// [`Plugin::wait_for_stop`](crate::Plugin::wait_for_stop)), closes this
    /// side's ends of both links (whether or not the audio thread still
    /// holds the [`RtCaller`]), and waits at most `timeout` for the plugin
    /// to exit; then kills it.
    ///
    /// # Errors
    /// [`LinkError::Os`] if the process cannot be waited for.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Result<Ended, LinkError> {
        let until = Instant::now() + timeout;
        let _ = self.main.send_timeout(&Quit, timeout);
        self.close_links();
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Ended::Exited(status));
            }
            if Instant::now() >= until {
                return self.kill().map(Ended::Killed);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.close_links();
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
