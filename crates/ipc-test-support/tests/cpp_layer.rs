//! The C++ layer (`include/ipc.hpp`) from the Rust side: its test programs
//! (`tests/cpp/`, built with CMake against the libipc cargo built) run here
//! with this build of `ipc-wire-vectors`, so that the byte-for-byte
//! comparison with Rust's encoding is part of `cargo test`.
//!
//! The programs are looked for in `IPC_CPP_TESTS_DIR`, else in
//! `target/cpp-tests` (where `tests/cpp/README.md` builds them). Under CI
//! (`CI` set) or with `IPC_REQUIRE_CPP_TESTS=1`, missing programs fail the
//! test; elsewhere the test says they did not run. The programs are built
//! for this Linux machine: a Windows build of these tests (run under Wine)
//! has nothing it could start, so that test is Linux-only (the i686 build
//! runs them against its 32-bit `ipc-wire-vectors`).
#![cfg(not(miri))]

use ipc_test_support::wire::{hostile, vectors, Any};

/// The C++ programs, run against this build of the Rust side.
#[cfg(target_os = "linux")]
mod programs {
    use std::path::PathBuf;
    use std::process::Command;

    /// The C++ test programs: the plain build and the sanitizer build.
    const PROGRAMS: [&str; 2] = ["ipc-cpp-tests", "ipc-cpp-tests-asan"];

    fn programs_dir() -> PathBuf {
        std::env::var_os("IPC_CPP_TESTS_DIR")
            .filter(|v| !v.is_empty())
            .map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/cpp-tests"),
                PathBuf::from,
            )
    }

    fn required() -> bool {
        let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
        set("CI") || set("IPC_REQUIRE_CPP_TESTS")
    }

    #[test]
    fn the_cpp_test_programs_pass_against_this_build_of_the_rust_side() {
        let dir = programs_dir();
        let found: Vec<PathBuf> = PROGRAMS
            .iter()
            .map(|p| dir.join(p))
            .filter(|p| p.is_file())
            .collect();
        if found.len() < PROGRAMS.len() {
            let missing = format!(
                "the C++ tests are not built in {} (found {found:?}): see tests/cpp/README.md",
                dir.display()
            );
            assert!(!required(), "{missing}");
            eprintln!("note: {missing}; they did not run");
            return;
        }
        for program in found {
            let out = Command::new(&program)
                .env("IPC_WIRE_VECTORS", env!("CARGO_BIN_EXE_ipc-wire-vectors"))
                .env("IPC_HOSTILE_PEER", env!("CARGO_BIN_EXE_ipc-hostile-peer"))
                .env(
                    "ASAN_OPTIONS",
                    "detect_leaks=1:halt_on_error=1:abort_on_error=0",
                )
                .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{} failed ({}):\n{stdout}\n{stderr}",
                program.display(),
                out.status
            );
            assert!(
                stdout.contains(" passed, 0 failed"),
                "{}:\n{stdout}",
                program.display()
            );
            assert!(
                !stderr.contains("Sanitizer"),
                "{} reported:\n{stderr}",
                program.display()
            );
        }
    }
}

#[test]
fn the_rust_decoder_refuses_every_hostile_payload_the_cpp_tests_feed() {
    let cases = hostile();
    assert!(cases.len() > 30);
    for h in cases {
        let like = Any::default_of(h.id).expect("a known ID");
        assert!(
            like.decode_like(&h.bytes).is_err(),
            "the Rust decoder took {:?}",
            h.what
        );
    }
}

#[test]
fn the_wire_set_has_unique_names_and_round_trips() {
    let all = vectors();
    let mut names: Vec<_> = all.iter().map(|v| v.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len(), "two values share a name");
    for v in all {
        assert_eq!(
            v.value.decode_like(&v.value.encode()),
            Ok(v.value.clone()),
            "{}",
            v.name
        );
    }
}
