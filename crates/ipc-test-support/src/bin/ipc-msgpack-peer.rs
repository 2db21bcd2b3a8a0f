//! Test peer: `ipc-msgpack-peer <connection> <max-message-bytes>`.
//!
//! Opens the segment, reads typed messages from channel 0 and sends each back
//! on channel 1, decoded and re-encoded in this process. A message it cannot
//! decode is answered with a `Report` naming the error; it keeps going while
//! the stream is usable, and exits once the channel closes.

use ipc_channel_shm::{Reader, Segment, Writer};
use ipc_msgpack::{recv_header, recv_payload, send, skip, Error, Flags, Header, Limits, Message};
use ipc_test_support::shapes::*;
use serde::de::DeserializeOwned;
use std::process::ExitCode;

fn echo<M: Message + DeserializeOwned>(
    r: &mut Reader,
    w: &mut Writer,
    h: &Header,
    limits: &Limits,
) -> Result<(), Error> {
    let msg: M = recv_payload(r, h, limits)?;
    send(w, &msg, h.correlation, Flags::REPLY)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [conn, max] = &args[..] else {
        eprintln!("usage: ipc-msgpack-peer <connection> <max-message-bytes>");
        return ExitCode::FAILURE;
    };
    let limits = Limits {
        max_message: max.parse().expect("max-message-bytes"),
        max_depth: 32,
        // The test sends each message whole: a wait inside one is a bug
        // there, which the test's own bound reports.
        payload_timeout: None,
    };
    let segment = Segment::open(conn).expect("open segment");
    let mut r = segment.reader(0).expect("reader");
    let mut w = segment.writer(1).expect("writer");
    loop {
        let result = match recv_header(&mut r, &limits) {
            Ok(h) => match h.id {
                Numbers::ID => echo::<Numbers>(&mut r, &mut w, &h, &limits),
                Text::ID => echo::<Text>(&mut r, &mut w, &h, &limits),
                Nested::ID => echo::<Nested>(&mut r, &mut w, &h, &limits),
                Blob::ID => echo::<Blob>(&mut r, &mut w, &h, &limits),
                Tuple::ID => echo::<Tuple>(&mut r, &mut w, &h, &limits),
                Unit::ID => echo::<Unit>(&mut r, &mut w, &h, &limits),
                Newtype::ID => echo::<Newtype>(&mut r, &mut w, &h, &limits),
                Shapes::ID => echo::<Shapes>(&mut r, &mut w, &h, &limits),
                Frames::ID => echo::<Frames>(&mut r, &mut w, &h, &limits),
                other => skip(&mut r, &h, &limits).and_then(|()| {
                    let report = Report {
                        id: other,
                        error: "skipped".into(),
                        usable: true,
                    };
                    send(&mut w, &report, h.correlation, Flags::REPLY)
                }),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {}
            Err(Error::Channel(ipc_channel_shm::Error::Closed)) => return ExitCode::SUCCESS,
            Err(e) => {
                let id = match &e {
                    Error::Malformed { id, .. } | Error::TooLarge { id, .. } => *id,
                    _ => 0,
                };
                let report = Report {
                    id,
                    error: e.to_string(),
                    usable: e.stream_usable(),
                };
                if send(&mut w, &report, 0, Flags::REPLY | Flags::ERROR).is_err()
                    || !e.stream_usable()
                {
                    return ExitCode::SUCCESS;
                }
            }
        }
    }
}
