//! The main link: two channels, a listener thread on each side, handlers per
//! message ID, requests with reply callbacks, and sends from any thread.

mod dispatch;
mod incoming;
mod raw;

pub use incoming::Incoming;
pub use raw::expect_reply_id;

use crate::error::Waited;
use crate::protocol::{RemoteError, RESERVED_IDS};
use crate::LinkError;
use ipc_channel_shm::{Deadline, Reader, Segment, Writer};
use ipc_msgpack::{Error as MsgError, Flags, Header, Limits, Message, Payload};
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
type PanicHook = Arc<dyn Fn(&LinkError) + Send + Sync>;
/// Where a blocking request's outcome lands.
type Slot<T> = Arc<(Mutex<Option<Result<T, LinkError>>>, Condvar)>;

enum State {
    Connected,
    Disconnected(LinkError),
}

struct Shared {
    writer: Mutex<Option<Writer>>,
    /// The segment and channel `writer` writes: closing it wakes a send
    /// blocked on a full ring, which holds `writer`.
    outgoing: (Segment, usize),
    reader: Mutex<Reader>,
    limits: Limits,
    send_timeout: Duration,
    handlers: RwLock<HashMap<u32, Decoder>>,
    fallback: RwLock<Fallback>,
    panic_hook: RwLock<PanicHook>,
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
/// for replies ([`request_timeout`](MainLink::request_timeout)) without
/// deadlocking: on the listener thread, waiting keeps dispatching. A handler
/// that panics is reported (see [`on_panic`](MainLink::on_panic)) and the
/// link carries on.
///
/// Nothing here waits without bound: sends wait for ring space at most the
/// link's [`send_timeout`](crate::LinkConfig::send_timeout) (or the time
/// given), requests at most the time given.
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

/// Checks that `id` is free for users.
fn user_id(id: u32) -> Result<(), LinkError> {
    if id >= RESERVED_IDS {
        return Err(LinkError::InvalidArgument(
            "message IDs from 0xFFFF_FF00 up are reserved for the link",
        ));
    }
    Ok(())
}

impl MainLink {
    /// Wraps the two endpoints, runs `setup` (to register handlers before any
    /// message is dispatched), then starts the listener thread.
    pub(crate) fn start(
        (writer, outgoing): (Writer, (Segment, usize)),
        reader: Reader,
        limits: Limits,
        send_timeout: Duration,
        setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
    ) -> Result<MainLink, LinkError> {
        let link = MainLink {
            shared: Arc::new(Shared {
                writer: Mutex::new(Some(writer)),
                outgoing,
                reader: Mutex::new(reader),
                limits,
                send_timeout,
                handlers: RwLock::new(HashMap::new()),
                fallback: RwLock::new(Arc::new(|h: &Header| {
                    log::warn!("no handler for message {} ({} bytes): skipped", h.id, h.len);
                })),
                panic_hook: RwLock::new(Arc::new(|e: &LinkError| log::error!("main link: {e}"))),
                pending: Mutex::new(HashMap::new()),
                next_correlation: AtomicU32::new(1),
                state: Mutex::new(State::Connected),
                state_changed: Condvar::new(),
                listener: OnceLock::new(),
                hooks: Mutex::new(Vec::new()),
            }),
        };
        setup(&link)?;
        let listener = link.clone();
        let handle = thread::Builder::new()
            .name("ipc-main-link".into())
            .spawn(move || listener.listen())
            .map_err(|e| LinkError::Os(Arc::new(e)))?;
        let _ = link.shared.listener.set(handle.thread().id());
        Ok(link)
    }

    /// Handles every incoming message of type `M` with `handler`, on the
    /// listener thread.
    ///
    /// # Errors
    /// [`LinkError::HandlerExists`] if a handler for `M::ID` is registered
    /// already (by this type or another with the same ID): registration
    /// never replaces one silently. [`LinkError::InvalidArgument`] for an
    /// ID reserved for the link (`0xFFFF_FF00` and up).
    ///
    /// # Examples
    ///
    /// ```
    /// # use ipc_link::{message, MainLink};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct NoteOn { key: u8, velocity: f32 }
    /// message!(NoteOn = 8);
    ///
    /// fn setup(link: &MainLink) -> Result<(), ipc_link::LinkError> {
    ///     link.on(|note: NoteOn, _| println!("key {} at {}", note.key, note.velocity))?;
    ///     // A second handler for the same ID is refused.
    ///     assert!(link.on(|_: NoteOn, _| {}).is_err());
    ///     Ok(())
    /// }
    /// # let _ = setup;
    /// ```
    pub fn on<M, F>(&self, handler: F) -> Result<(), LinkError>
    where
        M: Message + DeserializeOwned + Send + 'static,
        F: Fn(M, &Incoming<'_>) + Send + Sync + 'static,
    {
        user_id(M::ID)?;
        self.on_any(handler)
    }

    /// Like `on`, also for the link's own IDs.
    pub(crate) fn on_any<M, F>(&self, handler: F) -> Result<(), LinkError>
    where
        M: Message + DeserializeOwned + Send + 'static,
        F: Fn(M, &Incoming<'_>) + Send + Sync + 'static,
    {
        self.register(M::ID, |_, payload| payload.decode::<M>(), handler)
    }

    /// Registers a handler for `id`: `decode` runs while the reader is held
    /// (it reads the payload, in place), `handle` afterwards on the listener
    /// thread (it may send, reply and make requests).
    pub(crate) fn register<D, DF, HF>(
        &self,
        id: u32,
        decode: DF,
        handle: HF,
    ) -> Result<(), LinkError>
    where
        D: Send + 'static,
        DF: Fn(&Header, Payload<'_>) -> Result<D, MsgError> + Send + Sync + 'static,
        HF: Fn(D, &Incoming<'_>) + Send + Sync + 'static,
    {
        let handle = Arc::new(handle);
        let decoder: Decoder = Arc::new(move |header, payload, link| {
            let msg = decode(header, payload)?;
            let (handle, link, header) = (handle.clone(), link.clone(), *header);
            Ok(Box::new(move || {
                let incoming = Incoming::new(header, &link);
                link.guarded(&incoming, || handle(msg, &incoming));
            }))
        });
        let mut handlers = self.shared.handlers.write();
        if handlers.contains_key(&id) {
            return Err(LinkError::HandlerExists { id });
        }
        handlers.insert(id, decoder);
        Ok(())
    }

    /// Answers every incoming request of type `Req` with what `handler`
    /// returns (a reply carries its own type's ID; the requester checks it).
    ///
    /// # Errors
    /// As for [`on`](MainLink::on).
    pub fn on_request<Req, Rep, F>(&self, handler: F) -> Result<(), LinkError>
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
        })
    }

    /// Removes the handler for `id`; returns whether there was one.
    pub fn remove_handler(&self, id: u32) -> bool {
        self.shared.handlers.write().remove(&id).is_some()
    }

    /// Called for messages no handler takes (after their payload was
    /// skipped; a request among them has been answered with
    /// [`LinkError::NoHandler`] already). The default logs a warning.
    pub fn on_unknown(&self, fallback: impl Fn(&Header) + Send + Sync + 'static) {
        *self.shared.fallback.write() = Arc::new(fallback);
    }

    /// Called with a [`LinkError::HandlerPanicked`] when a handler, a reply
    /// callback or a hook panics (the link carries on; a request being
    /// handled is answered with that error). The default logs it at error
    /// level. A panic inside this hook is dropped.
    pub fn on_panic(&self, hook: impl Fn(&LinkError) + Send + Sync + 'static) {
        *self.shared.panic_hook.write() = Arc::new(hook);
    }

    /// Runs `hook` once when the link goes down (peer closed, died, or broke
    /// the framing); at once if it is down already.
    pub fn on_disconnect(&self, hook: impl FnOnce(&LinkError) + Send + 'static) {
        let state = self.shared.state.lock();
        match &*state {
            State::Connected => self.shared.hooks.lock().push(Box::new(hook)),
            State::Disconnected(e) => {
                let e = e.clone();
                drop(state);
                hook(&e);
            }
        }
    }

    /// Whether the link is up.
    pub fn is_connected(&self) -> bool {
        matches!(*self.shared.state.lock(), State::Connected)
    }

    /// Waits until the link goes down, however long it takes; returns why.
    pub fn wait_disconnected(&self) -> LinkError {
        let mut state = self.shared.state.lock();
        loop {
            if let State::Disconnected(e) = &*state {
                return e.clone();
            }
            self.shared.state_changed.wait(&mut state);
        }
    }

    /// Waits until the link goes down, at most `timeout`; returns why.
    ///
    /// # Errors
    /// `Timeout(Waited::Disconnect)` if the link is still up.
    pub fn wait_disconnected_timeout(&self, timeout: Duration) -> Result<LinkError, LinkError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock();
        loop {
            if let State::Disconnected(e) = &*state {
                return Ok(e.clone());
            }
            if self
                .shared
                .state_changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                return Err(LinkError::Timeout(Waited::Disconnect));
            }
        }
    }

    fn check_connected(&self) -> Result<(), LinkError> {
        match &*self.shared.state.lock() {
            State::Connected => Ok(()),
            State::Disconnected(e) => Err(e.clone()),
        }
    }

    /// Sends with this envelope, waiting for the writer and for space until
    /// `deadline`.
    pub(crate) fn send_with<M: Message + ?Sized>(
        &self,
        msg: &M,
        correlation: u32,
        flags: Flags,
        deadline: &Deadline,
    ) -> Result<(), LinkError> {
        self.send_by(deadline, |writer| {
            ipc_msgpack::send_deadline(writer, msg, correlation, flags, deadline)
        })
    }

    /// Runs `send` on the writer, waiting for it until `deadline`; a send
    /// that cut its message closes the link.
    pub(crate) fn send_by(
        &self,
        deadline: &Deadline,
        send: impl FnOnce(&mut Writer) -> Result<(), MsgError>,
    ) -> Result<(), LinkError> {
        self.check_connected()?;
        let guard = match deadline.instant() {
            None => Some(self.shared.writer.lock()),
            Some(at) => self.shared.writer.try_lock_until(at),
        };
        let mut guard = guard.ok_or(LinkError::Timeout(Waited::Space))?;
        let writer = guard.as_mut().ok_or(LinkError::Closed)?;
        match send(writer) {
            Ok(()) => Ok(()),
            Err(e) => {
                let cut = writer.is_closed();
                drop(guard);
                let e = LinkError::from_message(e, Waited::Space);
                if cut && !e.is_disconnect() {
                    // A message cut partway: nothing can follow it.
                    self.disconnect(LinkError::Closed);
                }
                Err(e)
            }
        }
    }

    /// Sends `msg` (fire and forget), waiting for ring space at most the
    /// link's [`send_timeout`](crate::LinkConfig::send_timeout). Callable
    /// from any thread; messages from one thread arrive in the order sent.
    ///
    /// # Errors
    /// [`LinkError::PeerDied`]/[`LinkError::Closed`] once the link is down;
    /// `Timeout(Waited::Space)` if the peer does not read (see
    /// [`send_timeout`](MainLink::send_timeout)); [`LinkError::Encode`] if
    /// the value cannot be encoded.
    pub fn send<M: Message + ?Sized>(&self, msg: &M) -> Result<(), LinkError> {
        self.send_timeout(msg, self.shared.send_timeout)
    }

    /// Sends `msg` only if it fits in the ring now.
    ///
    /// # Errors
    /// `Timeout(Waited::Space)` if it does not fit (nothing was sent);
    /// otherwise as for [`send`](MainLink::send).
    pub fn try_send<M: Message + ?Sized>(&self, msg: &M) -> Result<(), LinkError> {
        self.send_with(msg, 0, Flags::NONE, &Deadline::now())
    }

    /// Sends `msg`, waiting for ring space at most `timeout`. A message that
    /// fits in the ring is sent whole or not at all; a larger one that the
    /// peer stops taking partway is cut, and the link is then closed (the
    /// peer could not tell its rest from the next message).
    ///
    /// # Errors
    /// As for [`send`](MainLink::send).
    pub fn send_timeout<M: Message + ?Sized>(
        &self,
        msg: &M,
        timeout: Duration,
    ) -> Result<(), LinkError> {
        self.send_with(msg, 0, Flags::NONE, &Deadline::after(timeout))
    }

    /// Sends the request `req`; `on_reply` runs on the listener thread with
    /// the reply (which must be a `Rep`: another ID is
    /// [`LinkError::UnexpectedId`]), the peer's error, or the failure if the
    /// link goes down first. Waits for ring space as [`send`](MainLink::send)
    /// does.
    ///
    /// # Errors
    /// As for [`send`](MainLink::send) (then `on_reply` is not called).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use ipc_link::{message, LinkError, MainLink};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct GetPreset(u32);
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Preset(String);
    /// # message!(GetPreset = 30, Preset = 31);
    /// # fn f(link: &MainLink) -> Result<(), LinkError> {
    /// link.request(&GetPreset(3), |reply: Result<Preset, LinkError>| match reply {
    ///     Ok(Preset(name)) => println!("preset 3 is {name}"),
    ///     Err(e) => eprintln!("no preset: {e}"),
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn request<Req, Rep, F>(&self, req: &Req, on_reply: F) -> Result<(), LinkError>
    where
        Req: Message + ?Sized,
        Rep: Message + DeserializeOwned + Send + 'static,
        F: FnOnce(Result<Rep, LinkError>) + Send + 'static,
    {
        let deadline = Deadline::after(self.shared.send_timeout);
        self.request_by(
            |correlation| self.send_with(req, correlation, Flags::REQUEST, &deadline),
            decode_reply::<Rep>,
            on_reply,
        )
        .map(drop)
    }

    /// Sends a request with `send` (given its correlation number); the reply
    /// goes through `decode` (while the reader is held) to `on_reply` (on
    /// the listener thread). Returns the correlation number.
    pub(crate) fn request_by<D, DF, F>(
        &self,
        send: impl FnOnce(u32) -> Result<(), LinkError>,
        decode: DF,
        on_reply: F,
    ) -> Result<u32, LinkError>
    where
        D: Send + 'static,
        DF: FnOnce(&Header, Payload<'_>) -> Result<D, LinkError> + Send + 'static,
        F: FnOnce(Result<D, LinkError>) + Send + 'static,
    {
        let mut correlation = self.shared.next_correlation.fetch_add(1, Ordering::Relaxed);
        if correlation == 0 {
            correlation = self.shared.next_correlation.fetch_add(1, Ordering::Relaxed);
        }
        let link = self.clone();
        let pending: Pending = Box::new(move |outcome| {
            let result = outcome.and_then(|(header, payload)| {
                if header.flags.contains(Flags::ERROR) {
                    return Err(match payload.decode::<RemoteError>() {
                        Ok(remote) => remote.into_error(),
                        Err(e) => LinkError::from_message(e, Waited::Reply),
                    });
                }
                decode(header, payload)
            });
            let id = correlation;
            Box::new(move || link.guard_callback(id, || on_reply(result)))
        });
        self.shared.pending.lock().insert(correlation, pending);
        if let Err(e) = send(correlation) {
            self.shared.pending.lock().remove(&correlation);
            return Err(e);
        }
        Ok(correlation)
    }

    /// Sends a request with `send` and waits until `until` for its reply,
    /// decoded by `decode`; on the listener thread, waiting keeps
    /// dispatching.
    pub(crate) fn request_blocking_by<D, DF>(
        &self,
        send: impl FnOnce(u32) -> Result<(), LinkError>,
        decode: DF,
        until: Instant,
    ) -> Result<D, LinkError>
    where
        D: Send + 'static,
        DF: FnOnce(&Header, Payload<'_>) -> Result<D, LinkError> + Send + 'static,
    {
        let deadline = Deadline::at(until);
        let slot: Slot<D> = Arc::new((Mutex::new(None), Condvar::new()));
        let filler = slot.clone();
        let correlation = self.request_by(send, decode, move |result| {
            *filler.0.lock() = Some(result);
            filler.1.notify_all();
        })?;
        let on_listener = self.shared.listener.get() == Some(&thread::current().id());
        loop {
            if let Some(result) = slot.0.lock().take() {
                return result;
            }
            if Instant::now() >= until {
                break;
            }
            if on_listener {
                if let Err(e) = self.pump(&deadline) {
                    self.disconnect(e);
                }
            } else {
                let mut guard = slot.0.lock();
                if guard.is_none() {
                    slot.1.wait_until(&mut guard, until);
                }
            }
        }
        // Timed out: forget the request so that a late reply is discarded.
        // If the listener took it already, the reply is being decoded right
        // now, within the payload timeout, which is the link's and may be
        // far longer than this caller's: its result is dropped. That is
        // safe because `decode` is `'static`, so it owns whatever it writes
        // into (the C layer, whose decoders write into their callers'
        // memory, waits for its own decoder, which gives up at the
        // caller's deadline: `PayloadBytes::until`).
        self.shared.pending.lock().remove(&correlation);
        let result = slot.0.lock().take();
        result.unwrap_or(Err(LinkError::Timeout(Waited::Reply)))
    }

    /// Sends the request `req` and waits for its reply, at most `timeout` in
    /// all (the send included). The reply must be a `Rep`: one with another
    /// ID is [`LinkError::UnexpectedId`], never decoded as `Rep`.
    ///
    /// Called from a handler (on the listener thread), it keeps dispatching
    /// other incoming messages while it waits, so a handler that asks the
    /// peer something cannot deadlock the link.
    ///
    /// It returns by its timeout even when the reply has begun and its rest
    /// does not come: the listener goes on reading it within
    /// [`Limits::payload_timeout`](crate::Limits::payload_timeout), and drops it.
    ///
    /// # Errors
    /// `Timeout(Waited::Reply)` (a late reply is then discarded),
    /// [`LinkError::Remote`] if the peer answered with an error (a request
    /// it has no handler for is answered at once with
    /// [`ErrorKind::NoHandler`](crate::ErrorKind::NoHandler)), or as for [`send`](MainLink::send).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use ipc_link::{message, LinkError, MainLink};
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct GetPreset(u32);
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Preset(String);
    /// # message!(GetPreset = 30, Preset = 31);
    /// # fn f(link: &MainLink) -> Result<(), LinkError> {
    /// let Preset(name) = link.request_timeout(&GetPreset(3), Duration::from_secs(1))?;
    /// # Ok(()) }
    /// ```
    pub fn request_timeout<Req, Rep>(&self, req: &Req, timeout: Duration) -> Result<Rep, LinkError>
    where
        Req: Message + ?Sized,
        Rep: Message + DeserializeOwned + Send + 'static,
    {
        let until = Instant::now() + timeout;
        let deadline = Deadline::at(until);
        self.request_blocking_by(
            |correlation| self.send_with(req, correlation, Flags::REQUEST, &deadline),
            decode_reply::<Rep>,
            until,
        )
    }

    /// Closes our sending side: the peer drains what was sent, then sees
    /// the link close. Returns at once: a send blocked on a full ring (a
    /// peer that stopped reading) is woken with `Closed` first.
    pub fn close(&self) {
        let (segment, channel) = &self.shared.outgoing;
        let _ = segment.close(*channel);
        drop(self.shared.writer.lock().take());
    }
}

/// A reply's payload as a `Rep` (an error reply never gets here).
fn decode_reply<Rep: Message + DeserializeOwned>(
    header: &Header,
    payload: Payload<'_>,
) -> Result<Rep, LinkError> {
    raw::expect_reply_id(header, Rep::ID)?;
    payload
        .decode::<Rep>()
        .map_err(|e| LinkError::from_message(e, Waited::Reply))
}

/// The description of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// The error reply `kind` sends for a failed request.
pub(crate) fn remote_error(error: &LinkError) -> RemoteError {
    match error {
        // A handler's own answer: its kind and words as they are.
        LinkError::Remote { kind, message } => RemoteError {
            kind: kind.code(),
            message: message.clone(),
        },
        other => RemoteError {
            kind: other.kind().code(),
            message: other.to_string(),
        },
    }
}
