//! The real-time call allocates nothing, on either side: this process
//! counts its own allocations around `call`, the plugin counts those of its
//! serving thread and reports them.
#![cfg(not(miri))]

#[path = "../src/bin/ipc-link-test-plugin/counting.rs"]
mod counting;
#[path = "../src/bin/ipc-link-test-plugin/messages.rs"]
#[allow(dead_code)]
mod messages;

use ipc_link::{Host, LinkConfig};
use messages::*;
use std::process::Command;
use std::time::Duration;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

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
    let before = counting::allocations();
    counting::count_this_thread(true);
    for frame in 10..2010u64 {
        let audio = rt.audio_mut().unwrap();
        audio.input_mut(0).fill(frame as f32);
        let reply: RtReply = rt
            .call(&RtRequest::Process { frame, gain: 2.0 }, timeout)
            .unwrap();
        assert_eq!(reply.frame, frame);
        assert_eq!(rt.audio().unwrap().output(0)[0], frame as f32 * 3.0);
    }
    counting::count_this_thread(false);
    assert_eq!(
        counting::allocations() - before,
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
