//! The real-time call allocates nothing, on either side: this process
//! counts its own allocations around `call_timeout`, the plugin counts those
//! of its serving thread and reports them.
//!
//! `IPC_TEST_PLUGIN` may name another build of the plugin.

use ipc_link::{Host, LinkConfig};
use ipc_test_support::counting::{allocations_in, Counting};
use ipc_test_support::link_protocol::*;
use ipc_test_support::process::program;
use ipc_test_support::NEVER;
use std::process::Command;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn the_real_time_call_allocates_nothing_on_either_side() {
    let mut cmd = Command::new(program(
        "IPC_TEST_PLUGIN",
        env!("CARGO_BIN_EXE_ipc-link-test-plugin"),
    ));
    cmd.arg("echo");
    let mut host = Host::spawn(cmd, &LinkConfig::default(), |_| Ok(())).unwrap();
    let mut rt = host.take_rt().unwrap();
    rt.attach_audio(2, 2, 256, NEVER).unwrap();
    for frame in 0..10 {
        let _: RtReply = rt
            .call_timeout(&RtRequest::Process { frame, gain: 1.0 }, NEVER)
            .unwrap();
    }
    let mut replies = 0;
    let n = allocations_in(|| {
        for frame in 10..2010u64 {
            let audio = rt.audio_mut().unwrap();
            audio.input_mut(0).fill(frame as f32);
            let reply: RtReply = rt
                .call_timeout(&RtRequest::Process { frame, gain: 2.0 }, NEVER)
                .unwrap();
            assert_eq!(reply.frame, frame);
            assert_eq!(rt.audio().unwrap().output(0)[0], frame as f32 * 3.0);
            replies += 1;
        }
    });
    assert_eq!(replies, 2000);
    assert_eq!(n, 0, "host side of 2000 real-time calls");
    let counters: CounterValues = host.main_link().request_timeout(&Counters, NEVER).unwrap();
    assert_eq!(counters.rt_calls, 2010, "every call reached the handler");
    assert_eq!(
        counters.rt_allocations, 0,
        "plugin side of the real-time calls"
    );
    assert!(host.shutdown_timeout(NEVER).unwrap().is_clean());
}
