//! `demo wire`: one sample of each message of the protocol, encoded, one
//! line `<name> <id> <hex payload>` each, for the C++ mirror of
//! `messages.rs` (`examples/cpp/demo_protocol.hpp`) to compare byte for
//! byte (`ipc_demo_host --wire FILE`, which holds the same samples).

use crate::messages::{
    LoadState, Loaded, LogLine, Midi, ParamChanged, Ready, RtReply, RtRequest, SaveState, Stalling,
    State,
};
use ipc_link::messages::{slice, Flags, Message, HEADER_LEN};
use std::process::ExitCode;

/// `len` bytes of a fixed pattern (the C++ side makes the same).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// The line of one sample.
fn line<M: Message>(name: &str, value: &M) -> Result<String, String> {
    let bytes = slice::to_vec(value, 0, Flags::NONE).map_err(|e| format!("{name}: {e}"))?;
    let hex: String = bytes[HEADER_LEN..]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("{name} {} {hex}", M::ID))
}

/// Prints every sample.
pub fn print() -> ExitCode {
    let lines = [
        line(
            "ready_ok",
            &Ready {
                rt_priority: Ok(80),
            },
        ),
        line(
            "ready_err",
            &Ready {
                rt_priority: Err("Operation not permitted (os error 1)".into()),
            },
        ),
        line(
            "midi",
            &Midi {
                status: 0x90,
                key: 69,
                velocity: 127,
            },
        ),
        line(
            "param_changed",
            &ParamChanged {
                name: "filter".into(),
                value: 2620.0,
                period: 1,
            },
        ),
        line(
            "log_line",
            &LogLine("period 124: 3 voices, peak -13.5 dBFS, 7 notes so far".into()),
        ),
        line("stalling", &Stalling { millis: 10_000 }),
        line("save_state", &SaveState),
        line(
            "state",
            &State {
                blob: pattern(40),
                built_us: 1234,
            },
        ),
        line(
            "state_bin16",
            &State {
                blob: pattern(300),
                built_us: 70_000,
            },
        ),
        line("load_state", &LoadState { blob: pattern(40) }),
        line(
            "loaded_ok",
            &Loaded {
                ok: true,
                checksum: 0xb2cd_5f4e_a341_18c2,
                problem: None,
                checked_us: 12,
            },
        ),
        line(
            "loaded_refused",
            &Loaded {
                ok: false,
                checksum: 42,
                problem: Some("byte 33566777 differs".into()),
                checked_us: 3,
            },
        ),
        line("rt_process", &RtRequest::Process { period: 300 }),
        line("rt_ping", &RtRequest::Ping(u64::MAX)),
        line("rt_stall", &RtRequest::Stall { millis: 10_000 }),
        line("rt_spin", &RtRequest::Spin { micros: 50 }),
        line(
            "rt_reply",
            &RtReply {
                period: 70_000,
                voices: 3,
            },
        ),
    ];
    for l in lines {
        match l {
            Ok(l) => println!("{l}"),
            Err(e) => {
                eprintln!("demo wire: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
