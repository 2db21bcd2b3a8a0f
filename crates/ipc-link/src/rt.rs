//! The real-time link: the host calls, the plugin serves, one signal each
//! way, no allocation and no lock on either side.

use crate::audio::AudioBuffers;
use crate::error::Waited;
use crate::main_link::{panic_message, remote_error};
use crate::protocol::{AttachAudio, Attached, RemoteError};
use crate::{ErrorKind, LinkError, Stop};
use ipc_channel_shm::{Deadline, Reader, Writer};
use ipc_msgpack::{Error as MsgError, Flags, Header, Limits, Message, Payload, Sink};
use serde::de::{DeserializeOwned, DeserializeSeed};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// The host's end of the real-time link. Owned by the audio thread.
#[derive(Debug)]
pub struct RtCaller {
    writer: Writer,
    reader: Reader,
    limits: Limits,
    sequence: u32,
    audio: Option<AudioBuffers>,
}

impl RtCaller {
    pub(crate) fn new(mut writer: Writer, mut reader: Reader, limits: Limits) -> RtCaller {
        writer.set_align(crate::protocol::RT_ALIGN);
        reader.set_align(crate::protocol::RT_ALIGN);
        RtCaller {
            writer,
            reader,
            limits,
            sequence: 0,
            audio: None,
        }
    }

    /// Sends `request` and blocks until the plugin's reply, which must be a
    /// `Rep`; at most `timeout` in all, the send included (a plugin that
    /// stopped reading cannot block the call on a full ring).
    ///
    /// Costs one wake-up of the plugin and one wait for its answer; nothing
    /// is allocated or locked for messages of fixed-size fields, and the
    /// clock is read only if the call has to wait. Each call carries a new
    /// sequence number: a reply that comes too late for its call is
    /// recognised and discarded by a later one, never mistaken for its
    /// answer.
    ///
    /// # Errors
    /// `Timeout(Waited::Reply)` (the link stays usable) or
    /// `Timeout(Waited::Space)` (the request did not fit: the plugin does not
    /// read), [`LinkError::PeerDied`], [`LinkError::Closed`],
    /// [`LinkError::Remote`] if the plugin could not serve the request (its
    /// handler panicked, the request did not decode),
    /// [`LinkError::UnexpectedId`] for a reply of another type,
    /// [`LinkError::Malformed`] for a reply that does not decode.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use ipc_link::{message, RtCaller};
    /// # use std::time::Duration;
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Process { frames: u32 }
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Processed { frames: u32 }
    /// message!(Process = 9, Processed = 10);
    ///
    /// fn period(rt: &mut RtCaller) {
    ///     // One period of 256 frames at 48 kHz: 5.3 ms. A plugin that takes
    ///     // longer costs one period of silence, never a freeze.
    ///     match rt.call_timeout::<_, Processed>(&Process { frames: 256 }, Duration::from_millis(5)) {
    ///         Ok(done) => assert_eq!(done.frames, 256),
    ///         Err(_) => { /* output silence for this period */ }
    ///     }
    /// }
    /// # let _ = period;
    /// ```
    pub fn call_timeout<Req, Rep>(
        &mut self,
        request: &Req,
        timeout: Duration,
    ) -> Result<Rep, LinkError>
    where
        Req: Message + ?Sized,
        Rep: Message + DeserializeOwned,
    {
        self.call_seed_timeout(request, Rep::ID, PhantomData::<Rep>, timeout)
    }

    /// Like [`call_timeout`](RtCaller::call_timeout), decoding the reply with
    /// a seed (e.g. into a caller's buffer); the reply must carry
    /// `reply_id`.
    ///
    /// # Errors
    /// As for [`call_timeout`](RtCaller::call_timeout).
    pub fn call_seed_timeout<Req, S, V>(
        &mut self,
        request: &Req,
        reply_id: u32,
        seed: S,
        timeout: Duration,
    ) -> Result<V, LinkError>
    where
        Req: Message + ?Sized,
        S: for<'de> DeserializeSeed<'de, Value = V>,
    {
        // One deadline for the send and the reply; it reads the clock only
        // if something has to wait.
        let deadline = Deadline::after(timeout);
        self.call_by(
            &deadline,
            |writer, sequence| {
                ipc_msgpack::send_deadline(writer, request, sequence, Flags::REQUEST, &deadline)
            },
            reply_id,
            |payload| payload.decode_seed(seed),
        )
    }

    /// Like [`call_timeout`](RtCaller::call_timeout) with a request of ID
    /// `id` whose payload `encode` writes, and a reply of ID `reply_id`
    /// whose payload `decode` reads in place (a C or C++ peer's own
    /// MessagePack). Allocation-free if `encode` and `decode` are.
    ///
    /// # Errors
    /// As for [`call_timeout`](RtCaller::call_timeout), and what `encode`
    /// and `decode` return.
    pub fn call_raw_timeout<V>(
        &mut self,
        id: u32,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
        reply_id: u32,
        decode: impl FnOnce(Payload<'_>) -> Result<V, MsgError>,
        timeout: Duration,
    ) -> Result<V, LinkError> {
        let deadline = Deadline::after(timeout);
        self.call_by(
            &deadline,
            |writer, sequence| {
                ipc_msgpack::send_raw(writer, id, sequence, Flags::REQUEST, &deadline, encode)
            },
            reply_id,
            decode,
        )
    }

    /// One call: `send` writes the request with the call's sequence number,
    /// then the reply with that number and `reply_id` goes to `decode`;
    /// replies to earlier calls that timed out are skipped.
    fn call_by<V>(
        &mut self,
        deadline: &Deadline,
        send: impl FnOnce(&mut Writer, u32) -> Result<(), MsgError>,
        reply_id: u32,
        decode: impl FnOnce(Payload<'_>) -> Result<V, MsgError>,
    ) -> Result<V, LinkError> {
        self.sequence = self.sequence.wrapping_add(1).max(1);
        send(&mut self.writer, self.sequence)
            .map_err(|e| LinkError::from_message(e, Waited::Space))?;
        let mut decode = Some(decode);
        loop {
            let sequence = self.sequence;
            let decode = &mut decode;
            // `None`: the answer to an earlier call that timed out (skipped).
            let answer = ipc_msgpack::recv_with_deadline(
                &mut self.reader,
                &self.limits,
                deadline,
                |header, payload| {
                    if header.correlation != sequence {
                        return Ok(None);
                    }
                    // Failures inside the reply are the call's result, not
                    // a wait that timed out.
                    if header.flags.contains(Flags::ERROR) {
                        return Ok(Some(match payload.decode::<RemoteError>() {
                            Ok(remote) => Err(remote.into_error()),
                            Err(e) => Err(LinkError::from_message(e, Waited::Reply)),
                        }));
                    }
                    if header.id != reply_id {
                        return Ok(Some(Err(LinkError::UnexpectedId {
                            expected: reply_id,
                            got: header.id,
                        })));
                    }
                    let Some(decode) = decode.take() else {
                        return Ok(None);
                    };
                    Ok(Some(
                        decode(payload).map_err(|e| LinkError::from_message(e, Waited::Reply)),
                    ))
                },
            );
            match answer {
                Ok(Some(reply)) => return reply,
                // A late answer, skipped: look at the clock before the next
                // one. Only waits check the deadline, and a peer that keeps
                // the ring full of such answers would never let this wait.
                Ok(None) if deadline.has_passed() => {
                    return Err(LinkError::Timeout(Waited::Reply));
                }
                Ok(None) => {}
                Err(e) => return Err(LinkError::from_message(e, Waited::Reply)),
            }
        }
    }

    /// Creates shared audio buffers of these counts, hands them to the
    /// plugin over this link, and keeps them for [`audio_mut`](RtCaller::audio_mut).
    /// Call again whenever the counts change; the old buffers are released.
    ///
    /// # Errors
    /// [`LinkError::InvalidArgument`] for counts out of range; as for
    /// [`call_timeout`](RtCaller::call_timeout); [`LinkError::Remote`] if the
    /// plugin could not map them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use ipc_link::RtCaller;
    /// # use std::time::Duration;
    /// # fn f(rt: &mut RtCaller) -> Result<(), ipc_link::LinkError> {
    /// rt.attach_audio(2, 2, 256, Duration::from_secs(1))?;
    /// let audio = rt.audio_mut().expect("attached");
    /// audio.input_mut(0).fill(0.25);
    /// // ... a call, then read audio.output(0)
    /// # Ok(()) }
    /// ```
    pub fn attach_audio(
        &mut self,
        inputs: usize,
        outputs: usize,
        frames: usize,
        timeout: Duration,
    ) -> Result<(), LinkError> {
        let audio = AudioBuffers::create(inputs, outputs, frames)?;
        let request = AttachAudio {
            region: audio.connection_string().to_owned(),
            inputs: inputs as u32,
            outputs: outputs as u32,
            frames: frames as u32,
        };
        let Attached = self.call_timeout(&request, timeout)?;
        // The plugin has it mapped: nobody else may open it from now on.
        audio.withdraw()?;
        self.audio = Some(audio);
        Ok(())
    }

    /// The attached audio buffers.
    pub fn audio(&self) -> Option<&AudioBuffers> {
        self.audio.as_ref()
    }

    /// The attached audio buffers, to fill the inputs and read the outputs.
    pub fn audio_mut(&mut self) -> Option<&mut AudioBuffers> {
        self.audio.as_mut()
    }

    /// Spin for up to `spin` before sleeping while waiting for a reply (and
    /// before sleeping for space): removes the wake-up latency when the
    /// plugin answers quickly. Zero (the default) sleeps at once.
    pub fn set_spin(&mut self, spin: Duration) {
        self.reader.set_spin(spin);
        self.writer.set_spin(spin);
    }
}

/// The plugin's end of the real-time link. Owned by its real-time thread.
#[derive(Debug)]
pub struct RtServer {
    writer: Writer,
    reader: Reader,
    limits: Limits,
    audio: Option<AudioBuffers>,
}

impl RtServer {
    pub(crate) fn new(mut writer: Writer, mut reader: Reader, limits: Limits) -> RtServer {
        writer.set_align(crate::protocol::RT_ALIGN);
        reader.set_align(crate::protocol::RT_ALIGN);
        RtServer {
            writer,
            reader,
            limits,
            audio: None,
        }
    }

    /// Waits for one request, however long it takes, and answers it with
    /// `handler`'s result. The request must be a `Req`: one of another ID is
    /// answered with [`LinkError::UnexpectedId`], never decoded as `Req`.
    /// Audio attachments from the host are handled here too. A handler that
    /// panics is caught: the host's call gets an error, and so does this
    /// call; the link stays usable.
    ///
    /// # Errors
    /// [`LinkError::Closed`] once the host closed the link or asked to quit,
    /// [`LinkError::PeerDied`] if it died; for one request that could not
    /// be served (the link stays usable): [`LinkError::UnexpectedId`],
    /// [`LinkError::Malformed`], [`LinkError::HandlerPanicked`].
    pub fn serve_one<Req, Rep, F>(&mut self, handler: F) -> Result<(), LinkError>
    where
        Req: Message + DeserializeOwned,
        Rep: Message,
        F: FnOnce(Req, Option<&mut AudioBuffers>) -> Rep,
    {
        self.serve_one_deadline(&Deadline::never(), handler)
    }

    /// Like [`serve_one`](RtServer::serve_one), without waiting for a request.
    ///
    /// # Errors
    /// `Timeout(Waited::Message)` if none is there; otherwise as for
    /// [`serve_one`](RtServer::serve_one).
    pub fn try_serve_one<Req, Rep, F>(&mut self, handler: F) -> Result<(), LinkError>
    where
        Req: Message + DeserializeOwned,
        Rep: Message,
        F: FnOnce(Req, Option<&mut AudioBuffers>) -> Rep,
    {
        self.serve_one_deadline(&Deadline::now(), handler)
    }

    /// Like [`serve_one`](RtServer::serve_one), waiting at most `timeout`.
    ///
    /// # Errors
    /// `Timeout(Waited::Message)` if no request came in time; otherwise as
    /// for [`serve_one`](RtServer::serve_one).
    pub fn serve_one_timeout<Req, Rep, F>(
        &mut self,
        timeout: Duration,
        handler: F,
    ) -> Result<(), LinkError>
    where
        Req: Message + DeserializeOwned,
        Rep: Message,
        F: FnOnce(Req, Option<&mut AudioBuffers>) -> Rep,
    {
        self.serve_one_deadline(&Deadline::after(timeout), handler)
    }

    fn serve_one_deadline<Req, Rep, F>(
        &mut self,
        deadline: &Deadline,
        handler: F,
    ) -> Result<(), LinkError>
    where
        Req: Message + DeserializeOwned,
        Rep: Message,
        F: FnOnce(Req, Option<&mut AudioBuffers>) -> Rep,
    {
        self.serve_one_raw_deadline(deadline, |header, payload, audio, responder| {
            if header.id != Req::ID {
                return Err(LinkError::UnexpectedId {
                    expected: Req::ID,
                    got: header.id,
                });
            }
            let request = payload
                .decode::<Req>()
                .map_err(|e| LinkError::from_message(e, Waited::Message))?;
            responder.reply(&handler(request, audio))
        })
    }

    /// Serves one request whose payload `handler` reads in place (a C or C++
    /// peer's own MessagePack) and answers through the [`Responder`],
    /// waiting until `deadline` for it. The request's ID is in the header:
    /// `handler` checks it. An error `handler` returns, a panic in it, or
    /// no answer at all is answered with an error reply (so the host's call
    /// returns at once) and returned; audio attachments are handled here,
    /// as by [`serve_one`](RtServer::serve_one).
    ///
    /// # Errors
    /// As for [`serve_one`](RtServer::serve_one), and what `handler` returns.
    pub fn serve_one_raw_deadline<F>(
        &mut self,
        deadline: &Deadline,
        handler: F,
    ) -> Result<(), LinkError>
    where
        F: FnOnce(
            &Header,
            Payload<'_>,
            Option<&mut AudioBuffers>,
            &mut Responder<'_>,
        ) -> Result<(), LinkError>,
    {
        let Self {
            reader,
            writer,
            limits,
            audio,
        } = self;
        let served =
            ipc_msgpack::recv_with_deadline(reader, limits, deadline, |header, payload| {
                let mut responder = Responder {
                    writer,
                    correlation: header.correlation,
                    answered: false,
                };
                if header.id == AttachAudio::ID {
                    let attach: AttachAudio = payload.decode()?;
                    let attached = AudioBuffers::open(
                        &attach.region,
                        attach.inputs as usize,
                        attach.outputs as usize,
                        attach.frames as usize,
                    );
                    return Ok(match attached {
                        Ok(buffers) => {
                            *audio = Some(buffers);
                            responder.reply(&Attached)
                        }
                        Err(e) => responder.fail(e),
                    });
                }
                // Catching costs nothing unless the handler panics.
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    handler(header, payload, audio.as_mut(), &mut responder)
                }));
                let outcome = outcome.unwrap_or_else(|panic| {
                    let error = LinkError::HandlerPanicked {
                        id: header.id,
                        message: panic_message(&*panic),
                    };
                    log::error!("real-time link: {error}");
                    Err(error)
                });
                Ok(match outcome {
                    Ok(()) if responder.answered => Ok(()),
                    Ok(()) => responder.fail(LinkError::Remote {
                        kind: ErrorKind::Rejected,
                        message: format!("the handler of message {} did not answer", header.id),
                    }),
                    Err(e) if e.is_disconnect() || responder.answered => Err(e),
                    Err(e) => responder.fail(e),
                })
            });
        match served {
            Ok(outcome) => outcome,
            Err(e) => Err(LinkError::from_message(e, Waited::Message)),
        }
    }

    /// Serves requests until the host asks to quit or closes the link
    /// ([`Stop::Quit`]), or goes away ([`Stop::HostGone`]). A request that
    /// cannot be served is answered with its error and logged; serving
    /// goes on.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use ipc_link::{message, Plugin, Stop};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Process { frames: u32 }
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Processed { frames: u32 }
    /// # message!(Process = 9, Processed = 10);
    /// # fn f(mut plugin: Plugin) {
    /// let mut rt = plugin.take_rt().expect("first take");
    /// let audio_thread = std::thread::spawn(move || {
    ///     let _ = ipc_link::promote_current_thread(80); // or tell the user why not
    ///     rt.serve(|req: Process, audio| {
    ///         if let Some(audio) = audio {
    ///             let (inputs, outputs) = audio.planar_mut();
    ///             outputs.copy_from_slice(&inputs[..outputs.len()]);
    ///         }
    ///         Processed { frames: req.frames }
    ///     })
    /// });
    /// // Joining is safe: a Quit from the host ends `serve`.
    /// assert!(matches!(audio_thread.join().unwrap(), Stop::Quit));
    /// # }
    /// ```
    pub fn serve<Req, Rep, F>(&mut self, mut handler: F) -> Stop
    where
        Req: Message + DeserializeOwned,
        Rep: Message,
        F: FnMut(Req, Option<&mut AudioBuffers>) -> Rep,
    {
        loop {
            match self.serve_one(&mut handler) {
                Ok(()) => {}
                Err(LinkError::Closed) => return Stop::Quit,
                Err(e) if e.is_disconnect() => return Stop::HostGone(e),
                // Logged where it was caught.
                Err(LinkError::HandlerPanicked { .. }) => {}
                Err(e) => log::warn!("real-time link: {e}"),
            }
        }
    }

    /// The audio buffers the host attached last.
    pub fn audio_mut(&mut self) -> Option<&mut AudioBuffers> {
        self.audio.as_mut()
    }

    /// Spin for up to `spin` before sleeping while waiting for a request.
    pub fn set_spin(&mut self, spin: Duration) {
        self.reader.set_spin(spin);
        self.writer.set_spin(spin);
    }
}

/// How a real-time handler answers its request: once, with a reply or an
/// error.
#[derive(Debug)]
pub struct Responder<'a> {
    writer: &'a mut Writer,
    correlation: u32,
    answered: bool,
}

impl Responder<'_> {
    /// Answers with `reply` (its own type's ID, which the host checks).
    ///
    /// # Errors
    /// [`LinkError::InvalidArgument`] if the request was answered already;
    /// [`LinkError::Closed`]/[`LinkError::PeerDied`] if the host is gone.
    pub fn reply<M: Message + ?Sized>(&mut self, reply: &M) -> Result<(), LinkError> {
        self.answer(|writer, correlation| {
            ipc_msgpack::send(writer, reply, correlation, Flags::REPLY)
        })
    }

    /// Answers with a reply of ID `id` whose payload `encode` writes.
    ///
    /// # Errors
    /// As for [`reply`](Responder::reply), and what `encode` returns.
    pub fn reply_raw(
        &mut self,
        id: u32,
        encode: impl FnMut(&mut dyn Sink) -> Result<(), MsgError>,
    ) -> Result<(), LinkError> {
        self.answer(|writer, correlation| {
            ipc_msgpack::send_raw(
                writer,
                id,
                correlation,
                Flags::REPLY,
                &Deadline::never(),
                encode,
            )
        })
    }

    /// Answers with `error` (the host's call returns it as
    /// [`LinkError::Remote`]), and returns it.
    fn fail(&mut self, error: LinkError) -> Result<(), LinkError> {
        let sent = self.answer(|writer, correlation| {
            ipc_msgpack::send(
                writer,
                &remote_error(&error),
                correlation,
                Flags::REPLY | Flags::ERROR,
            )
        });
        sent.and(Err(error))
    }

    fn answer(
        &mut self,
        send: impl FnOnce(&mut Writer, u32) -> Result<(), MsgError>,
    ) -> Result<(), LinkError> {
        if self.answered {
            return Err(LinkError::InvalidArgument(
                "the request was answered already",
            ));
        }
        self.answered = true;
        send(self.writer, self.correlation).map_err(|e| LinkError::from_message(e, Waited::Space))
    }
}
