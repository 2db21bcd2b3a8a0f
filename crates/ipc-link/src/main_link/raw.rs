//! The main link with payloads the caller encodes and decodes itself (a C
//! or C++ peer's own MessagePack): the same handlers, sends, requests and
//! replies as the typed forms, which are built on the same paths.

use super::{user_id, Incoming, MainLink};
use crate::LinkError;
use ipc_channel_shm::Deadline;
use ipc_msgpack::{Error as MsgError, Flags, Header, Message, Payload, Sink};
use std::time::{Duration, Instant};

impl MainLink {
    /// Handles every incoming message with ID `id` in two steps: `decode`
    /// reads its payload in place (while the link's reader is held: decode
    /// only, do not wait there), then `handle` runs on the listener thread
    /// with what `decode` returned (it may send, reply and make requests,
    /// as a typed handler may). A `decode` error answers a request with
    /// that error ([`ErrorKind::Malformed`](crate::ErrorKind::Malformed) for
    /// a payload that does not decode).
    ///
    /// # Errors
    /// As for [`on`](MainLink::on).
    pub fn on_raw<D, DF, HF>(&self, id: u32, decode: DF, handle: HF) -> Result<(), LinkError>
    where
        D: Send + 'static,
        DF: Fn(&Header, Payload<'_>) -> Result<D, MsgError> + Send + Sync + 'static,
        HF: Fn(D, &Incoming<'_>) + Send + Sync + 'static,
    {
        user_id(id)?;
        self.register(id, decode, handle)
    }

    /// Sends a message with ID `id` whose payload `encode` writes (see
    /// [`ipc_msgpack::send_raw`]: it may run twice for a message larger than
    /// the free space), waiting for ring space at most the link's send
    /// timeout.
    ///
    /// # Errors
    /// As for [`send`](MainLink::send), and what `encode` returns.
    pub fn send_raw(
        &self,
        id: u32,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
    ) -> Result<(), LinkError> {
        self.send_raw_timeout(id, self.shared.send_timeout, encode)
    }

    /// Like [`send_raw`](MainLink::send_raw), waiting at most `timeout`.
    ///
    /// # Errors
    /// As for [`send_timeout`](MainLink::send_timeout).
    pub fn send_raw_timeout(
        &self,
        id: u32,
        timeout: Duration,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
    ) -> Result<(), LinkError> {
        let deadline = Deadline::after(timeout);
        self.send_raw_with(id, 0, Flags::NONE, &deadline, encode)
    }

    pub(crate) fn send_raw_with(
        &self,
        id: u32,
        correlation: u32,
        flags: Flags,
        deadline: &Deadline,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
    ) -> Result<(), LinkError> {
        self.send_by(deadline, |writer| {
            ipc_msgpack::send_raw(writer, id, correlation, flags, deadline, encode)
        })
    }

    /// Sends a request with ID `id` whose payload `encode` writes; its reply
    /// goes through `decode` (in place, while the reader is held; it should
    /// check the reply's ID) to `on_reply` (on the listener thread), or the
    /// failure if there is none. An error reply never reaches `decode`.
    ///
    /// # Errors
    /// As for [`request`](MainLink::request).
    pub fn request_raw<D, DF, F>(
        &self,
        id: u32,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
        decode: DF,
        on_reply: F,
    ) -> Result<(), LinkError>
    where
        D: Send + 'static,
        DF: FnOnce(&Header, Payload<'_>) -> Result<D, LinkError> + Send + 'static,
        F: FnOnce(Result<D, LinkError>) + Send + 'static,
    {
        let deadline = Deadline::after(self.shared.send_timeout);
        self.request_by(
            |correlation| self.send_raw_with(id, correlation, Flags::REQUEST, &deadline, encode),
            decode,
            on_reply,
        )
        .map(drop)
    }

    /// Like [`request_raw`](MainLink::request_raw), waiting at most
    /// `timeout` in all for the reply `decode` makes of it.
    ///
    /// # Errors
    /// As for [`request_timeout`](MainLink::request_timeout).
    pub fn request_raw_timeout<D, DF>(
        &self,
        id: u32,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
        decode: DF,
        timeout: Duration,
    ) -> Result<D, LinkError>
    where
        D: Send + 'static,
        DF: FnOnce(&Header, Payload<'_>) -> Result<D, LinkError> + Send + 'static,
    {
        let until = Instant::now() + timeout;
        let deadline = Deadline::at(until);
        self.request_blocking_by(
            |correlation| self.send_raw_with(id, correlation, Flags::REQUEST, &deadline, encode),
            decode,
            until,
        )
    }
}

impl MainLink {
    /// Sends the request `req` and waits at most `timeout` in all for its
    /// reply, which `decode` turns into a value in place (while the reader
    /// is held; it should check the reply's ID with [`expect_reply_id`]).
    /// The way to decode a big reply into memory the caller already has:
    /// move a buffer kept from the last reply in, decode into it with
    /// [`BytesInto`](ipc_msgpack::BytesInto), and return it.
    ///
    /// ```no_run
    /// # use ipc_link::{message, BytesInto, LinkError, MainLink};
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct SaveState;
    /// # message!(SaveState = 30);
    /// const STATE: u32 = 31;
    /// # fn f(link: &MainLink, kept: Vec<u8>) -> Result<Vec<u8>, LinkError> {
    /// let mut buffer = kept; // the last state's buffer: no new memory
    /// let state = link.request_with_timeout(
    ///     &SaveState,
    ///     move |header, payload| {
    ///         ipc_link::expect_reply_id(header, STATE)?;
    ///         payload
    ///             .decode_seed(BytesInto(&mut buffer))
    ///             .map_err(|e| LinkError::from_message(e, ipc_link::Waited::Reply))?;
    ///         Ok(buffer)
    ///     },
    ///     Duration::from_secs(10),
    /// )?;
    /// # Ok(state) }
    /// ```
    ///
    /// # Errors
    /// As for [`request_timeout`](MainLink::request_timeout), and what
    /// `decode` returns.
    pub fn request_with_timeout<Req, D, DF>(
        &self,
        req: &Req,
        decode: DF,
        timeout: Duration,
    ) -> Result<D, LinkError>
    where
        Req: Message + ?Sized,
        D: Send + 'static,
        DF: FnOnce(&Header, Payload<'_>) -> Result<D, LinkError> + Send + 'static,
    {
        let until = Instant::now() + timeout;
        let deadline = Deadline::at(until);
        self.request_blocking_by(
            |correlation| self.send_with(req, correlation, Flags::REQUEST, &deadline),
            decode,
            until,
        )
    }
}

impl Incoming<'_> {
    /// Answers this message with a reply of ID `id` whose payload `encode`
    /// writes (flagged `REPLY`, with the request's correlation number).
    ///
    /// # Errors
    /// As for [`MainLink::send`].
    pub fn reply_raw(
        &self,
        id: u32,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
    ) -> Result<(), LinkError> {
        self.mark_replied();
        let deadline = Deadline::after(self.link.shared.send_timeout);
        self.link
            .send_raw_with(id, self.header.correlation, Flags::REPLY, &deadline, encode)
    }
}

/// The ID check a raw reply decoder makes first.
///
/// # Errors
/// [`LinkError::UnexpectedId`] if `header` is not `expected`'s.
pub fn expect_reply_id(header: &Header, expected: u32) -> Result<(), LinkError> {
    if header.id == expected {
        Ok(())
    } else {
        Err(LinkError::UnexpectedId {
            expected,
            got: header.id,
        })
    }
}
