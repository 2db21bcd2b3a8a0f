//! `ipc-wire-vectors`: the Rust side of the C++ layer's wire tests (see
//! `ipc_test_support::wire` and `tests/cpp/`).
//!
//! * `ipc-wire-vectors encode`: one line per value of the set,
//!   `<name> <id> <hex payload>`, as `ipc-msgpack` (and `rmp-serde`, which
//!   it is checked against) encodes it;
//! * `ipc-wire-vectors hostile`: one line per hostile payload,
//!   `<id> <hex payload> <what>`;
//! * `ipc-wire-vectors decode [FILE]`: reads lines `<name> <id> <hex>` (a
//!   C++ encoding of the value of that name) from FILE or standard input,
//!   decodes each as the type of that ID and prints `ok <name>` if it is
//!   the value of that name, else `error <name>: <why>`. Exits with 1 if
//!   any line was not ok.

use ipc_test_support::wire::{hostile, vectors, Any};
use std::io::{BufRead, Read, Write};
use std::process::ExitCode;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

/// Checks one `<name> <id> <hex>` line.
fn check(line: &str) -> Result<String, (String, String)> {
    let mut parts = line.split_whitespace();
    let (Some(name), Some(id), hex) = (parts.next(), parts.next(), parts.next().unwrap_or(""))
    else {
        return Err(("?".into(), format!("not `<name> <id> <hex>`: {line:?}")));
    };
    let fail = |why: String| (name.to_owned(), why);
    let id: u32 = id.parse().map_err(|_| fail(format!("bad id {id:?}")))?;
    let bytes = unhex(hex).map_err(fail)?;
    let all = vectors();
    let vector = all
        .iter()
        .find(|v| v.name == name)
        .ok_or_else(|| fail("no value of that name".into()))?;
    if vector.value.id() != id {
        return Err(fail(format!(
            "id {id}, but the value's type has {}",
            vector.value.id()
        )));
    }
    match vector.value.decode_like(&bytes) {
        Ok(got) if got == vector.value => Ok(name.to_owned()),
        Ok(got) => Err(fail(format!("decoded another value: {got:?}"))),
        Err(e) => Err(fail(e)),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.first().map(String::as_str) {
        Some("encode") => {
            for v in vectors() {
                let _ = writeln!(
                    out,
                    "{} {} {}",
                    v.name,
                    v.value.id(),
                    hex(&v.value.encode())
                );
            }
            ExitCode::SUCCESS
        }
        Some("hostile") => {
            for h in hostile() {
                let _ = writeln!(out, "{} {} {}", h.id, hex(&h.bytes), h.what);
            }
            ExitCode::SUCCESS
        }
        Some("decode") => {
            let mut input = String::new();
            let read = match args.get(1) {
                Some(path) => std::fs::read_to_string(path).map(|s| input = s),
                None => std::io::stdin().read_to_string(&mut input).map(drop),
            };
            if let Err(e) = read {
                eprintln!("ipc-wire-vectors: cannot read the input: {e}");
                return ExitCode::FAILURE;
            }
            let mut all_ok = true;
            for line in input.as_bytes().lines() {
                let line = line.unwrap_or_default();
                if line.trim().is_empty() {
                    continue;
                }
                match check(&line) {
                    Ok(name) => {
                        let _ = writeln!(out, "ok {name}");
                    }
                    Err((name, why)) => {
                        all_ok = false;
                        let _ = writeln!(out, "error {name}: {why}");
                    }
                }
            }
            if all_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!("usage: ipc-wire-vectors encode | hostile | decode [FILE]");
            let _ = Any::default_of(0);
            ExitCode::from(2)
        }
    }
}
