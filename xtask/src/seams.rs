//! `cargo xtask seams`: the two seams of the design, checked on the source.
//!
//! * The operating-system seam: in the library crates, only files under a
//!   `sys/` directory may name an operating system (`target_os`,
//!   `cfg(windows)`, `cfg(unix)`, `target_family`, `target_vendor`).
//! * The loom seam: in `ipc-channel-shm`, atomics, mutexes and condition
//!   variables come from `src/sync.rs` only, so that `--cfg loom` checks all
//!   of them. A line may opt out with a `// seam: <why>` comment (the
//!   in-process backend's name registry, which no protocol touches).

use std::fs;
use std::path::{Path, PathBuf};

/// The crates whose source must keep to the seams.
pub(crate) const LIBRARY_CRATES: &[&str] = &[
    "crates/ipc-channel-shm",
    "crates/ipc-msgpack",
    "crates/ipc-link",
    "ffi",
];

const OS_WORDS: &[&str] = &[
    "target_os",
    "cfg(windows)",
    "cfg(unix)",
    "not(windows)",
    "not(unix)",
    "any(windows",
    "any(unix",
    "target_family",
    "target_vendor",
];

/// Whether a line of code takes an atomic, a mutex or a condition variable
/// from std or core.
fn takes_std_sync(code: &str) -> bool {
    code.contains("sync::atomic")
        || (code.contains("std::sync::")
            && ["Mutex", "Condvar", "RwLock", "Atomic"]
                .iter()
                .any(|w| code.contains(w)))
}

/// A place where a seam is broken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Breach {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) text: String,
    pub(crate) rule: &'static str,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn in_sys(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "sys")
}

/// Every breach of the seams under `root`.
pub(crate) fn breaches(root: &Path) -> Vec<Breach> {
    let mut found = Vec::new();
    for krate in LIBRARY_CRATES {
        let src = root.join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        for file in files {
            let Ok(text) = fs::read_to_string(&file) else {
                continue;
            };
            let loom_seam = *krate == "crates/ipc-channel-shm"
                && file.file_name().is_some_and(|n| n != "sync.rs");
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                let mut breach = |rule| {
                    found.push(Breach {
                        file: file.strip_prefix(root).unwrap_or(&file).to_owned(),
                        line: i + 1,
                        text: line.trim().to_owned(),
                        rule,
                    })
                };
                if !in_sys(&file) && OS_WORDS.iter().any(|w| code.contains(w)) {
                    breach("names an operating system outside sys/");
                }
                if loom_seam && !line.contains("// seam:") && takes_std_sync(code) {
                    breach("takes a synchronisation primitive from std, not crate::sync");
                }
            }
        }
    }
    found
}

pub(crate) fn main(root: &Path) -> std::process::ExitCode {
    let found = breaches(root);
    if found.is_empty() {
        println!("seams: no operating system outside sys/, no std atomics outside sync.rs");
        return std::process::ExitCode::SUCCESS;
    }
    for b in &found {
        println!("{}:{}: {}: {}", b.file.display(), b.line, b.rule, b.text);
    }
    println!("seams: {} breach(es)", found.len());
    std::process::ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_crates_keep_to_their_seams() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let found = breaches(root);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn a_breach_is_found() {
        let dir = std::env::temp_dir().join(format!("seams-test-{}", std::process::id()));
        let src = dir.join("crates/ipc-channel-shm/src");
        fs::create_dir_all(src.join("sys")).unwrap();
        fs::write(
            src.join("a.rs"),
            "#[cfg(target_os = \"linux\")]\nuse std::sync::atomic::AtomicU32;\n",
        )
        .unwrap();
        fs::write(src.join("sys/b.rs"), "#[cfg(windows)]\nfn f() {}\n").unwrap();
        fs::write(src.join("c.rs"), "// cfg(windows) in a comment is fine\n").unwrap();
        let found = breaches(&dir);
        fs::remove_dir_all(&dir).unwrap();
        let rules: Vec<_> = found.iter().map(|b| (b.line, b.rule)).collect();
        assert_eq!(rules.len(), 2, "{found:#?}");
        assert!(found.iter().all(|b| b.file.ends_with("a.rs")));
    }
}
