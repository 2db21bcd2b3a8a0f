//! One test suite for every backend of the seam: what the rest of the crate
//! relies on, checked against `Os` (this system's backend: Linux here, and
//! Windows when the tests run under Wine) and `Local` (in-process).

use super::{
    create_named, is_connection_string, local::Local, Backend, DeathWatch, Os, PeerFlags,
    SharedMemory, Slot, WaitWord, WatchPeer,
};
use crate::layout::{AWAKE, SLEEPING};
use crate::sync::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Long enough never to be reached when the code is right.
const NEVER: Duration = Duration::from_secs(20);

/// Memory made by `create` is opened from its connection string, shows the
/// same bytes, and cannot be opened once withdrawn.
fn memory_is_shared_and_withdrawn<B: Backend>(open_in_this_process: bool) {
    let len = 3 * 4096 + 128;
    let (a, name, connection) = create_named::<B::Memory>(len).expect("create");
    assert!(connection.starts_with(&name), "{connection} names {name}");
    assert!(a.len() >= len);
    // SAFETY: offset 16 is inside the mapping and aligned; only this test
    // uses the memory. (Windows reads the length recorded there.)
    unsafe { std::ptr::write_volatile(a.as_ptr().add(16).cast::<u64>(), len as u64) };
    if open_in_this_process {
        let (b, opened_name) = B::Memory::open(&connection).expect("open");
        assert_eq!(opened_name, name);
        assert_eq!(b.len(), len);
        // SAFETY: offset 4096 is inside both mappings.
        unsafe { std::ptr::write_volatile(a.as_ptr().add(4096), 0x5a) };
        // SAFETY: as above.
        let seen = unsafe { std::ptr::read_volatile(b.as_ptr().add(4096)) };
        assert_eq!(seen, 0x5a);
        // A read-only opening sees the same bytes (on macOS the first
        // opener removed the name already).
        match B::Memory::open_read_only(&connection) {
            Ok((c, read_name)) => {
                assert_eq!(read_name, name);
                assert_eq!(c.len(), len);
                // SAFETY: offset 4096 is inside the mapping; only read.
                let seen = unsafe { std::ptr::read_volatile(c.as_ptr().add(4096)) };
                assert_eq!(seen, 0x5a);
            }
            #[cfg(target_os = "macos")]
            Err(_) => {}
            #[cfg(not(target_os = "macos"))]
            Err(e) => panic!("a read-only opening failed: {e}"),
        }
        a.lock().ok();
        drop(b);
    }
    a.withdraw().expect("withdraw");
    a.withdraw().expect("withdraw twice");
    drop(a);
    assert!(
        B::Memory::open(&connection).is_err(),
        "opened after withdraw"
    );
}

/// A wait on a word that already differs returns at once, a wake before the
/// wait is not lost, and a wait without a wake ends after its timeout.
fn waits_and_wakes<B: Backend>() {
    let name = super::random_name().unwrap();
    let a = B::Signal::create(&name, 3, Slot::Reader).expect("create");
    let b = B::Signal::open(&name, 3, Slot::Reader).expect("open");
    let word = AtomicU32::new(AWAKE);
    let t = Instant::now();
    b.wait(&word, SLEEPING, NEVER, None);
    assert!(t.elapsed() < NEVER, "waited although the word differed");
    word.store(SLEEPING, Ordering::SeqCst);
    let t = Instant::now();
    b.wait(&word, SLEEPING, Duration::from_millis(30), None);
    assert!(t.elapsed() >= Duration::from_millis(25), "returned early");
    // Across threads: the waker changes the word, then wakes.
    std::thread::scope(|s| {
        s.spawn(|| {
            let t = Instant::now();
            while word.load(Ordering::SeqCst) == SLEEPING {
                b.wait(&word, SLEEPING, NEVER, None);
                assert!(t.elapsed() < NEVER, "never woken");
            }
        });
        std::thread::sleep(Duration::from_millis(10));
        word.store(AWAKE, Ordering::SeqCst);
        a.wake(&word);
    });
}

/// This process is alive; a process that has ended is not.
fn peers_are_watched<B: Backend>(other_processes: bool) {
    let mut me = B::Peer::new(std::process::id()).expect("watch this process");
    assert!(me.is_alive());
    if !other_processes {
        return;
    }
    let mut child = short_lived_child();
    let mut watch = B::Peer::new(child.id()).expect("watch the child");
    child.wait().expect("reap");
    assert!(!watch.is_alive(), "an ended process counts as alive");
    assert!(B::Peer::new(0).is_none(), "pid 0 is nobody");
}

/// A death watch, where the backend has one, wakes sleepers when the peer
/// exits and marks it gone; dropped, it stops and touches nothing.
fn death_watch_wakes_sleepers<B: Backend>() {
    let words = [AtomicU32::new(SLEEPING), AtomicU32::new(SLEEPING)];
    let gone = Arc::new(PeerFlags::default());
    let mut child = long_lived_child();
    let watch = B::DeathWatch::start(
        child.id(),
        words.iter().map(|w| w as *const AtomicU32).collect(),
        Arc::clone(&gone),
    );
    let Some(watch) = watch else {
        let _ = child.kill();
        let _ = child.wait();
        return; // this backend notices death otherwise
    };
    child.kill().expect("kill");
    child.wait().expect("reap");
    let t = Instant::now();
    for word in &words {
        while word.load(Ordering::SeqCst) == SLEEPING {
            std::thread::sleep(Duration::from_millis(1));
            assert!(t.elapsed() < NEVER, "the watch never woke the word");
        }
    }
    assert!(gone.gone.load(Ordering::SeqCst));
    drop(watch);

    // A peer that ended (and was reaped) before the watch could start is
    // marked gone at once, not when a sleeper's slice ends.
    let mut child = short_lived_child();
    let pid = child.id();
    child.wait().expect("reap");
    let word = AtomicU32::new(SLEEPING);
    let gone = Arc::new(PeerFlags::default());
    drop(B::DeathWatch::start(
        pid,
        vec![&word as *const AtomicU32],
        gone.clone(),
    ));
    assert!(
        gone.gone.load(Ordering::SeqCst),
        "a peer gone before the watch"
    );

    let word = AtomicU32::new(SLEEPING);
    let gone = Arc::new(PeerFlags::default());
    let mut child = long_lived_child();
    let watch = B::DeathWatch::start(child.id(), vec![&word as *const AtomicU32], gone.clone());
    drop(watch); // stops watching: the death below must not be reported
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert_eq!(word.load(Ordering::SeqCst), SLEEPING);
    assert!(!gone.gone.load(Ordering::SeqCst));
}

fn short_lived_child() -> std::process::Child {
    if cfg!(windows) {
        std::process::Command::new("cmd")
            .args(["/c", "exit"])
            .spawn()
    } else {
        std::process::Command::new("true").spawn()
    }
    .expect("start a short-lived process")
}

fn long_lived_child() -> std::process::Child {
    if cfg!(windows) {
        std::process::Command::new("cmd")
            .args(["/c", "ping -n 600 127.0.0.1 >NUL"])
            .spawn()
    } else {
        std::process::Command::new("sleep").arg("600").spawn()
    }
    .expect("start a long-lived process")
}

#[test]
fn os_memory_is_shared_and_withdrawn() {
    memory_is_shared_and_withdrawn::<Os>(true);
}

#[test]
fn local_memory_is_shared_and_withdrawn() {
    memory_is_shared_and_withdrawn::<Local>(true);
}

#[test]
fn os_waits_and_wakes() {
    waits_and_wakes::<Os>();
}

#[test]
fn local_waits_and_wakes() {
    waits_and_wakes::<Local>();
}

#[test]
fn os_peers_are_watched() {
    peers_are_watched::<Os>(true);
}

#[test]
fn local_peers_are_watched() {
    peers_are_watched::<Local>(false);
}

#[test]
fn os_death_watch_wakes_sleepers() {
    death_watch_wakes_sleepers::<Os>();
}

#[test]
fn local_death_watch_wakes_sleepers() {
    death_watch_wakes_sleepers::<Local>();
}

#[test]
fn connection_strings_name_nothing_else() {
    for bad in [
        "",
        "ipc-",
        "/etc/passwd",
        "ipc-../../x",
        "ipc-abcdefghijklmnopqrst/x",
    ] {
        assert!(!is_connection_string(bad), "{bad:?} accepted");
    }
    let (_m, _name, connection) = create_named::<<Os as Backend>::Memory>(4096).unwrap();
    assert!(is_connection_string(&connection), "{connection}");
}
