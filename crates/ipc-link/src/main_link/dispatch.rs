//! The listener: receives each message, turns it into a job (a handler
//! call, a reply callback, the fallback), runs it with panics caught, and
//! reports the end of the link.

use super::{panic_message, remote_error, Hook, Incoming, Job, MainLink, Pending, State};
use crate::error::Waited;
use crate::LinkError;
use ipc_channel_shm::Deadline;
use ipc_msgpack::{Error as MsgError, Flags, Header, Payload};
use std::panic::{catch_unwind, AssertUnwindSafe};

impl MainLink {
    /// The listener thread's loop, until the link goes down.
    pub(super) fn listen(self) {
        let _ = self.shared.listener.set(std::thread::current().id());
        loop {
            if let Err(e) = self.pump(&Deadline::never()) {
                self.disconnect(e);
                return;
            }
        }
    }

    /// Receives and dispatches one message, waiting until `deadline` for it
    /// to begin. A nested wait never cuts a message in half: one that fits
    /// in the ring is taken only once all of it is there, waiting until
    /// `deadline` at most and consuming nothing if it is not (so a message
    /// that stops partway cannot hold a nested request past its timeout;
    /// the listener reads it on afterwards); the rest of a larger one is
    /// bounded by the limits' payload timeout.
    pub(super) fn pump(&self, deadline: &Deadline) -> Result<(), LinkError> {
        let limits = self.shared.limits;
        let job: Job = {
            let mut reader = self.shared.reader.lock();
            let dispatch =
                |header: &Header, payload: Payload<'_>| Ok(self.dispatch(header, payload));
            let outcome = if deadline.is_set() {
                // A nested wait: only until `deadline`, for the whole of a
                // message that fits in the ring.
                match ipc_msgpack::wait_whole_deadline(&mut reader, &limits, deadline) {
                    Ok(()) => {}
                    Err(MsgError::Channel(ipc_channel_shm::Error::Timeout)) => return Ok(()),
                    Err(e) => return Err(LinkError::from_message(e, Waited::Message)),
                }
                ipc_msgpack::try_recv_with(&mut reader, &limits, dispatch)
            } else {
                // Envelope and payload from one look at the ring. The closure
                // returns `Err` inside `Ok` for a payload that broke the
                // stream, so that only the envelope wait can end in a
                // harmless timeout.
                ipc_msgpack::recv_with(&mut reader, &limits, dispatch)
            };
            match outcome {
                Ok(Ok(job)) => job,
                Ok(Err(e)) => return Err(LinkError::from_message(e, Waited::Message)),
                Err(e) if e.stream_usable() => {
                    log::warn!("main link: {e}");
                    return Ok(());
                }
                Err(e) => return Err(LinkError::from_message(e, Waited::Message)),
            }
        };
        job();
        Ok(())
    }

    /// Turns one received message into the job that handles it: a reply
    /// goes to whoever waits for it, a message to its type's handler, an
    /// unknown ID to the fallback (a request with one is answered with
    /// [`LinkError::NoHandler`]). A payload left undecoded is skipped by the
    /// caller. `Err` only for a payload that broke the stream.
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
            let (link, header) = (self.clone(), *header);
            return Ok(Box::new(move || {
                if header.flags.contains(Flags::REQUEST) {
                    let error = LinkError::NoHandler { id: header.id };
                    let _ = Incoming::new(header, &link).answer_error(&error);
                }
                link.guard_callback(header.id, || fallback(&header));
            }));
        };
        match decoder(header, payload, self) {
            Ok(job) => Ok(job),
            Err(e) if e.stream_usable() => {
                log::warn!("main link: {e}");
                let (link, header) = (self.clone(), *header);
                let error = LinkError::from_message(e, Waited::Message);
                Ok(Box::new(move || {
                    if header.flags.contains(Flags::REQUEST) {
                        let _ = Incoming::new(header, &link).answer_error(&error);
                    }
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// Runs a handler for `incoming` with panics caught: a panic is
    /// reported, and a request it left unanswered gets an error reply.
    pub(super) fn guarded(&self, incoming: &Incoming<'_>, handler: impl FnOnce()) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(handler)) {
            let error = LinkError::HandlerPanicked {
                id: incoming.header.id,
                message: panic_message(&*panic),
            };
            if incoming.header.flags.contains(Flags::REQUEST) && !incoming.replied() {
                let _ = incoming.answer_error(&error);
            }
            self.report_panic(&error);
        }
    }

    /// Runs a reply callback, fallback or hook (for message `id`) with
    /// panics caught and reported.
    pub(super) fn guard_callback(&self, id: u32, f: impl FnOnce()) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
            self.report_panic(&LinkError::HandlerPanicked {
                id,
                message: panic_message(&*panic),
            });
        }
    }

    fn report_panic(&self, error: &LinkError) {
        let hook = self.shared.panic_hook.read().clone();
        let _ = catch_unwind(AssertUnwindSafe(|| hook(error)));
    }

    /// Marks the link down (once), fails every pending request and runs the
    /// disconnect hooks.
    pub(crate) fn disconnect(&self, error: LinkError) {
        {
            let mut state = self.shared.state.lock();
            if let State::Disconnected(_) = *state {
                return;
            }
            *state = State::Disconnected(error.clone());
        }
        let waiting: Vec<Pending> = self.shared.pending.lock().drain().map(|(_, p)| p).collect();
        for p in waiting {
            p(Err(error.clone()))();
        }
        self.shared.state_changed.notify_all();
        let hooks: Vec<Hook> = std::mem::take(&mut *self.shared.hooks.lock());
        for hook in hooks {
            self.guard_callback(0, || hook(&error));
        }
    }
}

impl Incoming<'_> {
    /// Answers this request with `error` (flagged `REPLY | ERROR`).
    pub(crate) fn answer_error(&self, error: &LinkError) -> Result<(), LinkError> {
        self.mark_replied();
        self.link.send_with(
            &remote_error(error),
            self.header.correlation,
            Flags::REPLY | Flags::ERROR,
            &Deadline::after(self.link.shared.send_timeout),
        )
    }
}
