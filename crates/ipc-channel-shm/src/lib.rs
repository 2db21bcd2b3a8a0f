//! One-way byte channels between processes, through a ring in shared memory.
//!
//! A [`Segment`] holds one or more channels. One process creates it and hands
//! the [`connection string`](Segment::connection_string) to another, which
//! opens it. Each channel has one [`Writer`] and one [`Reader`], in either
//! process. The channel carries bytes, not messages: framing is the job of
//! the layer above.
//!
//! * The writer appends bytes in parts and [`commit`](Writer::commit)s a
//!   blob; the reader is signalled only if it sleeps, so a blob costs at most
//!   one wake-up however many parts it was written in. A blob larger than the
//!   ring streams through it.
//! * Both sides offer zero-copy access ([`Writer::reserve`], [`Reader::peek`])
//!   and the standard `io::Write`/`io::Read` traits.
//! * Every call that may wait comes in three forms: `x` waits as long as it
//!   takes (and still reports a closed or dead peer), `try_x` never waits,
//!   `x_timeout(d)` waits at most `d`; an optional bounded spin precedes
//!   sleeping.
//! * Sleeping uses the operating system's own primitive on a word in the
//!   segment (Linux futex, Windows event, macOS wait-on-address), works
//!   between 32-bit and 64-bit processes, and notices a dead peer.
//! * Every position and length read from shared memory is validated: a peer
//!   that scribbles on the segment causes [`Error::Corrupted`], never
//!   undefined behaviour.
//!
//! # Example
//!
//! ```
//! use ipc_channel_shm::Segment;
//! use std::io::{Read, Write};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In real use: `Segment::create`, then `Segment::open` in the peer process.
//! let segment = Segment::in_process(&[4096])?;
//! let mut writer = segment.writer(0)?;
//! let mut reader = segment.reader(0)?;
//!
//! let sender = std::thread::spawn(move || -> std::io::Result<()> {
//!     writer.write_all(b"hello, ")?;
//!     writer.write_all(b"plugin")?;
//!     writer.flush()?; // commit: one wake-up for the whole blob, if any
//!     Ok(())
//! });
//!
//! let mut text = String::new();
//! reader.read_to_string(&mut text)?; // until the writer is dropped
//! assert_eq!(text, "hello, plugin");
//! sender.join().unwrap()?;
//! # Ok(())
//! # }
//! ```
mod channel;
mod error;
mod layout;
mod region;
mod segment;
mod stats;
mod sync;
mod sys;

pub use channel::{Deadline, Peek, Reader, Reservation, Writer};
pub use error::Error;
pub use layout::{MAX_CAPACITY, MAX_CHANNELS, MIN_CAPACITY};
pub use region::Region;
pub use segment::Segment;
pub use stats::Stats;
