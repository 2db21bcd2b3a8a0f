//! The main link: two channels, a listener thread on each side, handlers per
//! message ID, requests with reply callbacks, and sends from any thread.

use crate::protocol::{RemoteError, RESERVED_IDS};
use crate::LinkError;
use ipc_channel_shm::{Reader, Writer};
use ipc_msgpack::{recv_with, send, Error as MsgError, Flags, Header, Limits, Message, Payload};
use parking_lot::{Condvar, Mutex, RwLock};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// Work produced by decoding one message, run after the reader is released
/// (so that it may itself send, or wait for replies, freely).
type Job = Box<dyn FnOnce() + Send>;
/// Decodes a message of one ID into a job.
type Decoder = Arc<dyn Fn(&Header, Payload<'_>, &MainLink) -> Result<Job, MsgError> + Send + Sync>;
/// What waits for a reply: decodes it (or takes the failure) into a job.
type Pending = Box<dyn FnOnce(Result<(&Header, Payload<'_>), LinkError>) -> Job + Send>;
type Fallback = Arc<dyn Fn(&Header) + Send + Sync>;
type Hook = Box<dyn FnOnce(&LinkError) + Send>;
/// Where a blocking request's outcome lands.
type Slot<T> = Arc<(Mutex<Option<Result<T, LinkError>>>, Condvar)>;

enum State {
    Connected,
    Disconnected(LinkError),
}

struct Shared {
    writer: Mutex<Option<Writer>>,
    reader: Mutex<Reader>,
    limits: Limits,
    handlers: RwLock<HashMap<u32, Decoder>>,
    fallback: RwLock<Fallback>,
    pending: Mutex<HashMap<u32, Pending>>,
    next_correlation: AtomicU32,
    state: Mutex<State>,
    state_changed: Condvar,
    listener: OnceLock<ThreadId>,
    hooks: Mutex<Vec<Hook>>,
}

/// One side of the main link. Cheap to clone; usable from any thread.
///
/// Both sides listen all the time on a thread of their own, so either side may
/// send at any moment. Handlers run on that listener thread, one at a time, in
/// the order messages arrived; they may send, make requests, and even wait
/// for replies ([`request_blocking`](MainLink::request_blocking)) without
/// deadlocking: on the listener thread, waiting keeps dispatching.
#[derive(Clone)]
pub struct MainLink {
    shared: Arc<Shared>,
}

impl fmt::Debug for MainLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MainLink")
            .field("connected", &self.is_connected())
            .finish()
    }
}

/// A message being handled: its envelope, and the link to answer on.
#[derive(Debug)]
pub struct Incoming<'a> {
    /// The message's envelope.
    pub header: Header,
    /// The link it arrived on.
    pub link: &'a MainLink,
}

impl Incoming<'_> {
    /// Sends `reply` as the answer to this message (its correlation number,
    /// flagged `REPLY`).
    ///
    /// # Errors
    /// As for [`MainLink::send`].
    pub fn reply<M: Message + ?Sized>(&self, reply: &M) -> Result<(), LinkError> {
        self.link
            .send_with(reply, self.header.correlation, Flags::REPLY)
    }

    /// Answers this request with an error text.
    ///
    /// # Errors
    /// As for [`MainLink::send`].
    pub fn reply_error(&self, error: &str) -> Result<(), LinkError> {
        self.link.send_with(
            &RemoteError(error.to_owned()),
            self.header.correlation,
            Flags::REPLY | Flags::ERROR,
        )
    }
}

impl MainLink {
    /// Wraps the two endpoints, runs `setup` (to register handlers before any
    /// message is dispatched), then starts the listener thread.
    pub(crate) fn start(
        writer: Writer,
        reader: Reader,
        limits: Limits,
        setup: impl FnOnce(&MainLink),
    ) -> Result<MainLink, LinkError> {
        let link = MainLink {
            shared: Arc::new(Shared {
                writer: Mutex::new(Some(writer)),
                reader: Mutex::new(reader),
                limits,
                handlers: RwLock::new(HashMap::new()),
                fallback: RwLock::new(Arc::new(|h: &Header| {
                    log::warn!("no handler for message {} ({} bytes): skipped", h.id, h.len);
                })),
                pending: Mutex::new(HashMap::new()),
                next_correlation: AtomicU32::new(1),
                state: Mutex::new(State::Connected),
                state_changed: Condvar::new(),
                listener: OnceLock::new(),
                hooks: Mutex::new(Vec::new()),
            }),
        };
        setup(&link);
        let listener = link.clone();
        let handle = thread::Builder::new()
            .name("ipc-main-link".into())
            .spawn(move || listener.listen())
            .map_err(LinkError::Os)?;
        let _ = link.shared.listener.set(handle.thread().id());
        Ok(link)
    }

    fn listen(self) {
        let _ = self.shared.listener.set(thread::current().id());
        loop {
            if let Err(e) = self.pump(None) {
                self.disconnect(e);
                return;
            }
        }
    }

    /// Receives and dispatches one message, waiting at most `timeout`.
    fn pump(&self, timeout: Option<Duration>) -> Result<(), LinkError> {
        let limits = self.shared.limits;
        let job: Job = {
            let mut reader = self.shared.reader.lock();
            // Envelope and payload from one look at the ring. The closure
            // returns `Err` inside `Ok` for a payload that broke the stream,
            // so that only the envelope wait can end in a harmless timeout.
            let outcome = recv_with(&mut reader, &limits, timeout, |header, payload| {
                Ok(self.dispatch(header, payload))
            });
            match outcome {
                Ok(Ok(job)) => job,
                Ok(Err(e)) => return Err(e.into()),
                Err(MsgError::Channel(ipc_channel_shm::Error::Timeout)) => return Ok(()),
                Err(e) if e.stream_usable() => {
                    log::warn!("main link: {e}");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        };
        job();
        Ok(())
    }

    /// Turns one received message into the job that handles it: a reply
    /// goes to whoever waits for it, a message to its type's handler, an
    /// unknown ID to the fallback. A payload left undecoded is skipped by
    /// the caller. `Err` only for a payload that broke the stream.
    fn dispatch(&self, header: &Header, payload: Payload<'_>) -> Result<Job, MsgError> {
        if header.flags.contains(Flags::REPLY) {
            let waiting = self.shared.pending.lock().remove(&header.correlation);
            // Without a waiter: a reply whose request timed out (skipped).
            return Ok(match waiting {
                Some(p) => p(Ok((header, payload))),
                None => Box::new(|| {}),
            });
        }
        let decoder = self.shared.handlers.read().get(&header.id).cloned();
        let Some(decoder) = decoder else {
            let fallback = self.shared.fallback.read().clone();
            let header = *header;
            return Ok(Box::new(move || fallback(&header)));
        };
        match decoder(header, payload, self) {
            Ok(job) => Ok(job),
            Err(e) if e.stream_usable() => {
                log::warn!("main link: {e}");
                let (link, header, text) = (self.clone(), *header, e.to_string());
                Ok(Box::new(move || {
                    if header.flags.contains(Flags::REQUEST) {
                        let _ = Incoming {
                            header,
                            link: &link,
                        }
                        .reply_error(&text);
                    }
                }))
            }
            Err(e) => Err(e),
        }
    }

    fn disconnect(&self, error: LinkError) {
        {
            let mut state = self.shared.state.lock();
            if let State::Disconnected(_) = *state {
                return;
            }
            *state = State::Disconnected(error.duplicate());
        }
        let waiting: Vec<Pending> = self.shared.pending.lock().drain().map(|(_, p)| p).collect();
        for p in waiting {
            p(Err(error.duplicate()))();
        }
        self.shared.state_changed.notify_all();
        let hooks: Vec<Hook> = std::mem::take(&mut *self.shared.hooks.lock());
        for hook in hooks {
            hook(&error);
        }
    }

    /// Handles every incoming message of type `M` with `handler` (replacing
    /// any earlier handler for its ID).
    ///
    /// # Panics
    /// If `M::ID` is in the range reserved for the link (`0xFFFF_FF00` and up).
    pub fn on<M, F>(&self, handler: F)
    where
        M: Message + DeserializeOwned + Send + 'static,
        F: Fn(M, &Incoming<'_>) + Send + Sync + 'static,
    {
        assert!(
            M::ID < RESERVED_IDS,
            "message IDs from 0xFFFF_FF00 up are reserved for the link"
        );
        self.on_any(handler);
    }

    /// Like `on`, also for the link's own IDs.
    pub(crate) fn on_any<M, F>(&self, handler: F)
    where
        M: Message + DeserializeOwned + Send + 'static,
        F: Fn(M, &Incoming<'_>) + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let decoder: Decoder = Arc::new(move |header, payload, link| {
            let msg: M = payload.decode()?;
            let (handler, link, header) = (handler.clone(), link.clone(), *header);
            Ok(Box::new(move || {
                handler(
                    msg,
                    &Incoming {
                        header,
                        link: &link,
                    },
                )
            }))
        });
        self.shared.handlers.write().insert(M::ID, decoder);
    }

    /// Answers every incoming request of type `Req` with what `handler`
    /// returns.
    ///
    /// # Panics
    /// As for [`on`](MainLink::on).
    pub fn on_request<Req, Rep, F>(&self, handler: F)
    where
        Req: Message + DeserializeOwned + Send + 'static,
        Rep: Message,
        F: Fn(Req) -> Rep + Send + Sync + 'static,
    {
        self.on(move |req: Req, incoming| {
            let reply = handler(req);
            if let Err(e) = incoming.reply(&reply) {
                log::warn!(
                    "main link: cannot send the reply to message {}: {e}",
                    incoming.header.id
                );
            }
        });
    }

    /// Called for messages no handler takes (after their payload was
    /// skipped). The default logs a warning.
    pub fn on_unknown(&self, fallback: impl Fn(&Header) + Send + Sync + 'static) {
        *self.shared.fallback.write() = Arc::new(fallback);
    }

    /// Runs `hook` once when the link goes down (peer died, closed, or broken
    /// framing); at once if it is down already.
    pub fn on_disconnect(&self, hook: impl FnOnce(&LinkError) + Send + 'static) {
        let state = self.shared.state.lock();
        match &*state {
            State::Connected => self.shared.hooks.lock().push(Box::new(hook)),
            State::Disconnected(e) => {
                let e = e.duplicate();
                drop(state);
                hook(&e);
            }
        }
    }

    /// Whether the link is up.
    pub fn is_connected(&self) -> bool {
        matches!(*self.shared.state.lock(), State::Connected)
    }

    /// Waits until the link goes down, at most `timeout`; returns why it
    /// went down, or `None` if it is still up.
    pub fn wait_disconnected(&self, timeout: Duration) -> Option<LinkError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock();
        loop {
            if let State::Disconnected(e) = &*state {
                return Some(e.duplicate());
            }
            if self
                .shared
                .state_changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                return None;
            }
        }
    }

    fn check_connected(&self) -> Result<(), LinkError> {
        match &*self.shared.state.lock() {
            State::Connected => Ok(()),
            State::Disconnected(e) => Err(e.duplicate()),
        }
    }

    pub(crate) fn send_with<M: Message + ?Sized>(
        &self,
        msg: &M,
        correlation: u32,
        flags: Flags,
    ) -> Result<(), LinkError> {
        self.check_connected()?;
        let mut writer = self.shared.writer.lock();
        let writer = writer.as_mut().ok_or(LinkError::Closed)?;
        send(writer, msg, correlation, flags).map_err(LinkError::from)
    }

    /// Sends `msg` (fire and forget). Callable from any thread; messages from
    /// one thread arrive in the order sent.
    ///
    /// # Errors
    /// [`LinkError::PeerDied`]/[`LinkError::Closed`] once the link is down;
    /// [`LinkError::Message`] if the value cannot be encoded.
    pub fn send<M: Message + ?Sized>(&self, msg: &M) -> Result<(), LinkError> {
        self.send_with(msg, 0, Flags::NONE)
    }

    /// Sends the request `req`; `on_reply` runs on the listener thread when
    /// the reply arrives, or with the error if the link goes down first.
    ///
    /// # Errors
    /// As for [`send`](MainLink::send) (then `on_reply` is not called).
    pub fn request<Req, Rep, F>(&self, req: &Req, on_reply: F) -> Result<(), LinkError>
    where
        Req: Message + ?Sized,
        Rep: DeserializeOwned + Send + 'static,
        F: FnOnce(Result<Rep, LinkError>) + Send + 'static,
    {
        self.request_correlated(req, on_reply).map(drop)
    }

    fn request_correlated<Req, Rep, F>(&self, req: &Req, on_reply: F) -> Result<u32, LinkError>
    where
        Req: Message + ?Sized,
        Rep: DeserializeOwned + Send + 'static,
        F: FnOnce(Result<Rep, LinkError>) + Send + 'static,
    {
        let mut correlation = self.shared.next_correlation.fetch_add(1, Ordering::Relaxed);
        if correlation == 0 {
            correlation = self.shared.next_correlation.fetch_add(1, Ordering::Relaxed);
        }
        let pending: Pending = Box::new(move |outcome| {
            let result = match outcome {
                Ok((header, payload)) if header.flags.contains(Flags::ERROR) => {
                    match payload.decode::<RemoteError>() {
                        Ok(RemoteError(text)) => Err(LinkError::Remote(text)),
                        Err(e) => Err(e.into()),
                    }
                }
                Ok((_, payload)) => payload.decode::<Rep>().map_err(LinkError::from),
                Err(e) => Err(e),
            };
            Box::new(move || on_reply(result))
        });
        self.shared.pending.lock().insert(correlation, pending);
        if let Err(e) = self.send_with(req, correlation, Flags::REQUEST) {
            self.shared.pending.lock().remove(&correlation);
            return Err(e);
        }
        Ok(correlation)
    }

    /// Sends the request `req` and waits for its reply, at most `timeout`.
    ///
    /// Called from a handler (on the listener thread), it keeps dispatching
    /// other incoming messages while it waits, so a handler that asks the
    /// peer something cannot deadlock the link.
    ///
    /// # Errors
    /// [`LinkError::Timeout`] (a late reply is then discarded),
    /// [`LinkError::Remote`] if the peer answered with an error, or as for
    /// [`send`](MainLink::send).
    pub fn request_blocking<Req, Rep>(&self, req: &Req, timeout: Duration) -> Result<Rep, LinkError>
    where
        Req: Message + ?Sized,
        Rep: DeserializeOwned + Send + 'static,
    {
        let deadline = Instant::now() + timeout;
        let slot: Slot<Rep> = Arc::new((Mutex::new(None), Condvar::new()));
        let filler = slot.clone();
        let correlation = self.request_correlated(req, move |result| {
            *filler.0.lock() = Some(result);
            filler.1.notify_all();
        })?;
        let on_listener = self.shared.listener.get() == Some(&thread::current().id());
        loop {
            if let Some(result) = slot.0.lock().take() {
                return result;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if on_listener {
                if let Err(e) = self.pump(Some(deadline - now)) {
                    self.disconnect(e);
                }
            } else {
                let mut guard = slot.0.lock();
                if guard.is_none() {
                    slot.1.wait_until(&mut guard, deadline);
                }
            }
        }
        // Timed out: forget the request so that a late reply is discarded.
        self.shared.pending.lock().remove(&correlation);
        let late = slot.0.lock().take();
        late.unwrap_or(Err(LinkError::Timeout))
    }

    /// Closes our sending side: the peer drains what was sent, then sees
    /// the link close.
    pub fn close(&self) {
        drop(self.shared.writer.lock().take());
    }
}
