//! A message being handled, and the answers a handler gives.

use super::MainLink;
use crate::LinkError;
use ipc_channel_shm::Deadline;
use ipc_msgpack::{Flags, Header, Message};
use std::cell::Cell;
use std::fmt;

/// A message being handled: its envelope, and the link to answer on.
pub struct Incoming<'a> {
    /// The message's envelope.
    pub header: Header,
    /// The link it arrived on.
    pub link: &'a MainLink,
    /// Whether an answer went out (so a panic after it sends no second one).
    replied: Cell<bool>,
}

impl fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("header", &self.header)
            .field("replied", &self.replied.get())
            .finish()
    }
}

impl<'a> Incoming<'a> {
    pub(crate) fn new(header: Header, link: &'a MainLink) -> Incoming<'a> {
        Incoming {
            header,
            link,
            replied: Cell::new(false),
        }
    }

    pub(super) fn replied(&self) -> bool {
        self.replied.get()
    }

    pub(super) fn mark_replied(&self) {
        self.replied.set(true);
    }

    /// Whether the sender waits for an answer.
    pub fn is_request(&self) -> bool {
        self.header.flags.contains(Flags::REQUEST)
    }

    /// Sends `reply` as the answer to this message: flagged `REPLY`, with the
    /// request's correlation number and the reply type's own ID (which the
    /// requester checks against the type it expects).
    ///
    /// # Errors
    /// As for [`MainLink::send`].
    pub fn reply<M: Message + ?Sized>(&self, reply: &M) -> Result<(), LinkError> {
        self.mark_replied();
        self.link.send_with(
            reply,
            self.header.correlation,
            Flags::REPLY,
            &Deadline::after(self.link.shared.send_timeout),
        )
    }

    /// Answers this request with an error: the requester gets
    /// [`LinkError::Remote`] with [`ErrorKind::Rejected`](crate::ErrorKind::Rejected)
    /// and this text.
    ///
    /// # Errors
    /// As for [`MainLink::send`].
    pub fn reply_error(&self, message: &str) -> Result<(), LinkError> {
        self.answer_error(&LinkError::Remote {
            kind: crate::ErrorKind::Rejected,
            message: message.to_owned(),
        })
    }
}
