//! The real-time call allocates nothing, on either side: this process
//! counts its own allocations around `call`, the plugin counts those of its
//! serving thread and reports them.
#![cfg(not(miri))]

#[path = "../src/bin/ipc-link-test-plugin/messages.rs"]
#[allow(dead_code)]
mod messages;

use ipc_link::{Host, LinkConfig};
use messages::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::process::Command;
use std::time::Duration;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counters are const-initialised
// thread-local `Cell`s, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn the_real_time_call_allocates_nothing_on_either_side() {
    let exe = std::env::var("IPC_TEST_PLUGIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_ipc-link-test-plugin").to_owned());
    let mut cmd = Command::new(exe);
    cmd.arg("echo");
    let mut host = Host::spawn(cmd, &LinkConfig::default(), |_| {}).unwrap();
    let mut rt = host.take_rt().unwrap();
    rt.attach_audio(2, 2, 256, Duration::from_secs(10)).unwrap();
    let timeout = Duration::from_secs(10);
    for frame in 0..10 {
        let _: RtReply = rt
            .call(&RtRequest::Process { frame, gain: 1.0 }, timeout)
            .unwrap();
    }
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    for frame in 10..2010u64 {
        let audio = rt.audio_mut().unwrap();
        audio.input_mut(0).fill(frame as f32);
        let reply: RtReply = rt
            .call(&RtRequest::Process { frame, gain: 2.0 }, timeout)
            .unwrap();
        assert_eq!(reply.frame, frame);
        assert_eq!(rt.audio().unwrap().output(0)[0], frame as f32 * 3.0);
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        ALLOCATIONS.with(Cell::get),
        0,
        "host side of 2000 real-time calls"
    );
    let counters: CounterValues = host.main().request_blocking(&Counters, timeout).unwrap();
    assert_eq!(counters.rt_calls, 2010, "every call reached the handler");
    assert_eq!(
        counters.rt_allocations, 0,
        "plugin side of the real-time calls"
    );
    assert!(host.shutdown(timeout).unwrap().success());
}
