//! The real-time link: the host calls, the plugin serves, one signal each
//! way, no allocation and no lock on either side.

use crate::audio::AudioBuffers;
use crate::protocol::{AttachAudio, Attached, RemoteError};
use crate::LinkError;
use ipc_channel_shm::{Reader, Writer};
use ipc_msgpack::{recv_with, send, Flags, Limits, Message};
use serde::de::{DeserializeOwned, DeserializeSeed};
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// The host's end of the real-time link. Owned by the audio thread.
#[derive(Debug)]
pub struct RtCaller {
    writer: Writer,
    reader: Reader,
    limits: Limits,
    sequence: u32,
    /// Calls that timed out and whose replies may still come.
    late: u32,
    audio: Option<AudioBuffers>,
}

impl RtCaller {
    pub(crate) fn new(writer: Writer, reader: Reader, limits: Limits) -> RtCaller {
        RtCaller {
            writer,
            reader,
            limits,
            sequence: 0,
            late: 0,
            audio: None,
        }
    }

    /// Sends `request` and blocks until the plugin's reply, at most
    /// `timeout`.
    ///
    /// Costs one wake-up of the plugin and one wait for its answer; nothing
    /// is allocated or locked for messages of fixed-size fields. Each call
    /// carries a new sequence number: a reply that comes too late for its
    /// call is recognised and discarded by the next one, never mistaken for
    /// its answer.
    ///
    /// # Errors
    /// [`LinkError::Timeout`] (the link stays usable), [`LinkError::PeerDied`],
    /// [`LinkError::Closed`], [`LinkError::Remote`] if the plugin could not
    /// decode the request, [`LinkError::Message`] for a malformed reply.
    pub fn call<Req, Rep>(&mut self, request: &Req, timeout: Duration) -> Result<Rep, LinkError>
    where
        Req: Message + ?Sized,
        Rep: DeserializeOwned,
    {
        self.call_seed(request, timeout, PhantomData::<Rep>)
    }

    /// Like [`call`](RtCaller::call), decoding the reply with a seed (e.g. into
    /// a caller's buffer).
    ///
    /// # Errors
    /// As for [`call`](RtCaller::call).
    pub fn call_seed<Req, S, V>(
        &mut self,
        request: &Req,
        timeout: Duration,
        seed: S,
    ) -> Result<V, LinkError>
    where
        Req: Message + ?Sized,
        S: for<'de> DeserializeSeed<'de, Value = V>,
    {
        self.sequence = self.sequence.wrapping_add(1).max(1);
        send(&mut self.writer, request, self.sequence, Flags::REQUEST)?;
        // Only after a timeout can a reply be late; until then the clock is
        // not read (the wait itself reads it only if it has to sleep).
        let deadline = (self.late > 0).then(|| Instant::now() + timeout);
        let mut seed = Some(seed);
        loop {
            let left = deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
            let sequence = self.sequence;
            let (late, seed) = (&mut self.late, &mut seed);
            // `None`: the answer to an earlier call that timed out (skipped).
            let answer = recv_with(
                &mut self.reader,
                &self.limits,
                Some(left),
                |header, payload| {
                    if header.correlation != sequence {
                        *late = late.saturating_sub(1);
                        return Ok(None);
                    }
                    // Failures inside the reply are the call's result, not
                    // a wait that timed out.
                    if header.flags.contains(Flags::ERROR) {
                        return Ok(Some(match payload.decode() {
                            Ok(RemoteError(text)) => Err(LinkError::Remote(text)),
                            Err(e) => Err(e.into()),
                        }));
                    }
                    let seed = seed.take().expect("one matching reply per call");
                    Ok(Some(payload.decode_seed(seed).map_err(LinkError::from)))
                },
            );
            match answer {
                Ok(Some(reply)) => return reply,
                Ok(None) => {}
                Err(ipc_msgpack::Error::Channel(ipc_channel_shm::Error::Timeout)) => {
                    self.late = self.late.saturating_add(1);
                    return Err(LinkError::Timeout);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Creates shared audio buffers of these counts, hands them to the
    /// plugin over this link, and keeps them for [`audio_mut`](RtCaller::audio_mut).
    /// Call again whenever the counts change; the old buffers are released.
    ///
    /// # Errors
    /// As for [`call`](RtCaller::call); [`LinkError::Remote`] if the plugin
    /// could not map them.
    pub fn attach_audio(
        &mut self,
        inputs: usize,
        outputs: usize,
        frames: usize,
        timeout: Duration,
    ) -> Result<(), LinkError> {
        let audio = AudioBuffers::create(inputs, outputs, frames)?;
        let request = AttachAudio {
            region: audio.name().to_owned(),
            inputs: inputs as u32,
            outputs: outputs as u32,
            frames: frames as u32,
        };
        let Attached { error } = self.call(&request, timeout)?;
        if !error.is_empty() {
            return Err(LinkError::Remote(error));
        }
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
    pub(crate) fn new(writer: Writer, reader: Reader, limits: Limits) -> RtServer {
        RtServer {
            writer,
            reader,
            limits,
            audio: None,
        }
    }

    /// Waits for one request (at most `timeout`; `None`: as long as it takes)
    /// and answers it with `handler`'s result. Audio attachments from the
    /// host are handled here too. Returns `false` on timeout.
    ///
    /// # Errors
    /// [`LinkError::Closed`] once the host closed the link,
    /// [`LinkError::PeerDied`] if it died.
    pub fn serve_one<Req, Rep, F>(
        &mut self,
        timeout: Option<Duration>,
        handler: F,
    ) -> Result<bool, LinkError>
    where
        Req: DeserializeOwned,
        Rep: Message,
        F: FnOnce(Req, Option<&mut AudioBuffers>) -> Rep,
    {
        let Self {
            reader,
            writer,
            limits,
            audio,
        } = self;
        let served = recv_with(reader, limits, timeout, |header, payload| {
            if header.id == AttachAudio::ID {
                let attach: AttachAudio = payload.decode()?;
                let error = match AudioBuffers::open(
                    &attach.region,
                    attach.inputs as usize,
                    attach.outputs as usize,
                    attach.frames as usize,
                ) {
                    Ok(buffers) => {
                        *audio = Some(buffers);
                        String::new()
                    }
                    Err(e) => e.to_string(),
                };
                return Ok(send(
                    writer,
                    &Attached { error },
                    header.correlation,
                    Flags::REPLY,
                ));
            }
            // Failures from here on are the request's, not a wait that
            // timed out.
            Ok(match payload.decode::<Req>() {
                Ok(request) => {
                    let reply = handler(request, audio.as_mut());
                    send(writer, &reply, header.correlation, Flags::REPLY)
                }
                Err(e) if e.stream_usable() => {
                    let answer = RemoteError(e.to_string());
                    send(
                        writer,
                        &answer,
                        header.correlation,
                        Flags::REPLY | Flags::ERROR,
                    )
                }
                Err(e) => Err(e),
            })
        });
        match served {
            Ok(Ok(())) => Ok(true),
            Ok(Err(e)) => Err(e.into()),
            Err(ipc_msgpack::Error::Channel(ipc_channel_shm::Error::Timeout)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Serves requests until the host closes the link (`Ok`) or dies.
    ///
    /// # Errors
    /// [`LinkError::PeerDied`], or a broken stream.
    pub fn serve<Req, Rep, F>(&mut self, mut handler: F) -> Result<(), LinkError>
    where
        Req: DeserializeOwned,
        Rep: Message,
        F: FnMut(Req, Option<&mut AudioBuffers>) -> Rep,
    {
        loop {
            match self.serve_one(None, &mut handler) {
                Ok(_) => {}
                Err(LinkError::Closed) => return Ok(()),
                Err(e) => return Err(e),
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

    /// Same as [`promote_current_thread`](crate::promote_current_thread).
    ///
    /// # Errors
    /// As for [`promote_current_thread`](crate::promote_current_thread).
    pub fn promote_current_thread(priority: u8) -> Result<(), LinkError> {
        crate::promote_current_thread(priority)
    }
}
