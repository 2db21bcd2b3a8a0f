//! The waiting scheme (`x`, `try_x`, `x_timeout`, `x_deadline`) and closing
//! ends from another thread, on in-process segments and on a named
//! in-process pair that goes through the opener's checks.

use ipc_channel_shm::{Deadline, Error, Segment};
use std::time::{Duration, Instant};

const NEVER: Duration = Duration::from_secs(60);

#[test]
fn try_forms_never_wait_and_say_so() {
    let s = Segment::in_process(&[64]).unwrap();
    let (mut w, mut r) = (s.writer(0).unwrap(), s.reader(0).unwrap());
    let mut buf = [0u8; 8];
    assert!(matches!(r.try_read_into(&mut buf), Err(Error::Timeout)));
    assert!(matches!(r.try_peek(1), Err(Error::Timeout)));
    assert_eq!(w.try_append(&[1; 100]).unwrap(), 64, "what fits, no more");
    assert!(matches!(w.try_append(&[1]), Err(Error::Timeout)));
    assert!(matches!(w.try_reserve(1), Err(Error::Timeout)));
    w.commit().unwrap();
    assert_eq!(r.try_peek(64).unwrap().len(), 64);
    assert!(matches!(r.try_peek(65), Err(Error::InvalidArgument(_))));
}

#[test]
fn a_deadline_spans_calls_and_reads_no_clock_until_a_wait() {
    let s = Segment::in_process(&[64]).unwrap();
    let (mut w, mut r) = (s.writer(0).unwrap(), s.reader(0).unwrap());
    let deadline = Deadline::after(Duration::from_millis(30));
    w.append(b"ab").unwrap();
    w.commit().unwrap();
    let mut buf = [0u8; 2];
    r.read_exact_into_deadline(&mut buf, &deadline).unwrap();
    assert!(deadline.timeout().is_some());
    // Nothing waited yet: the moment is fixed only now, by the wait.
    let started = Instant::now();
    assert!(matches!(
        r.read_into_deadline(&mut buf, &deadline),
        Err(Error::Timeout)
    ));
    assert!(started.elapsed() >= Duration::from_millis(25));
    // Passed: every further wait on it returns at once.
    assert!(deadline.has_passed());
    assert!(matches!(r.peek_deadline(1, &deadline), Err(Error::Timeout)));
    assert!(matches!(
        Deadline::never().within(Some(Duration::ZERO)).remaining(),
        Some(d) if d.is_zero()
    ));
}

#[test]
fn closing_a_channel_wakes_a_reader_sleeping_on_another_thread() {
    let s = Segment::in_process(&[256]).unwrap();
    let (mut w, mut r) = (s.writer(0).unwrap(), s.reader(0).unwrap());
    w.append(b"last words").unwrap();
    w.commit().unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4];
        let ended = loop {
            match r.read_into_timeout(&mut buf, NEVER) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        (got, ended)
    });
    std::thread::sleep(Duration::from_millis(20));
    // The writer is still held here; closing goes through the segment.
    s.close(0).unwrap();
    let (got, ended) = reader.join().unwrap();
    assert_eq!(got, b"last words", "what was committed is drained first");
    assert!(matches!(ended, Error::Closed), "{ended:?}");
    // The writer held here sees the channel closed too.
    assert!(w.is_closed());
    assert!(matches!(w.commit(), Err(Error::Closed)));
}

#[test]
fn closing_from_one_side_is_seen_by_the_other_handle() {
    // Two handles, as two processes have: the creator closes its writer's
    // end, the opener's reader sees the end of the stream.
    let creator = Segment::create_in_process_named(&[256, 256]).unwrap();
    let conn = creator.connection_string().unwrap().to_owned();
    let opener = Segment::open_in_process(&conn).unwrap();
    let mut w = creator.writer(0).unwrap();
    let mut r = opener.reader(0).unwrap();
    let mut back_w = opener.writer(1).unwrap();
    w.append(b"x").unwrap();
    w.commit().unwrap();
    let sleeper = std::thread::spawn(move || {
        let mut b = [0u8; 1];
        r.read_exact_into(&mut b).unwrap();
        r.read_into(&mut b)
    });
    std::thread::sleep(Duration::from_millis(20));
    creator.close(0).unwrap();
    assert!(matches!(sleeper.join().unwrap(), Err(Error::Closed)));
    // Ends this handle does not hold are left alone.
    creator.close(1).unwrap();
    back_w.append(b"still open").unwrap();
    back_w.commit().unwrap();
    // A second opener is refused, and a bad string never names anything.
    assert!(matches!(
        Segment::open_in_process(&conn),
        Err(Error::AlreadyClaimed | Error::Os(_))
    ));
    assert!(matches!(
        Segment::open_in_process("/etc/passwd"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        s_close_out_of_range(&creator),
        Err(Error::InvalidArgument(_))
    ));
}

fn s_close_out_of_range(s: &Segment) -> Result<(), Error> {
    s.close(7)
}

#[test]
fn a_writer_closed_midway_publishes_nothing_more() {
    let s = Segment::in_process(&[256]).unwrap();
    let (mut w, mut r) = (s.writer(0).unwrap(), s.reader(0).unwrap());
    w.append(b"whole").unwrap();
    w.commit().unwrap();
    w.append(b"cut").unwrap();
    w.close();
    assert!(matches!(w.append(b"more"), Err(Error::Closed)));
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    let end = loop {
        match r.read_into(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(got, b"whole");
    assert!(matches!(end, Error::Closed));
}

#[test]
fn errors_are_clone_and_print_their_cause() {
    let e = Error::from(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "not yours",
    ));
    let copy = e.clone();
    assert_eq!(copy.to_string(), "operating system error: not yours");
    assert!(std::error::Error::source(&e).is_none());
    assert_eq!(copy.io_kind(), std::io::ErrorKind::PermissionDenied);
}
