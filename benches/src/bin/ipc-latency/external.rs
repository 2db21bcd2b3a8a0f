//! Rows measured by an external program (the C++ hosts of [`crate::ffi`]
//! and [`crate::lmms`]): finding it, running it with a time limit, and
//! reading the samples it prints.

use ipc_benches::{Context, Failure};
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// An external bench program: where to find it and how to name it.
pub(crate) struct Program {
    /// The environment variable naming another build of it.
    pub(crate) variable: &'static str,
    /// Its directory under the target directory, where CI builds it.
    pub(crate) dir: &'static str,
    /// Its file name, without the platform's suffix.
    pub(crate) name: &'static str,
    /// What it is, in messages ("the C++ bench program").
    pub(crate) what: &'static str,
    /// How to build it, for the failure that says it is missing.
    pub(crate) how_to_build: &'static str,
}

impl Program {
    /// `$variable`, else `<target>/<dir>/<name>` next to the profile
    /// directory this binary runs from.
    pub(crate) fn path(&self) -> Result<PathBuf, Failure> {
        let path = match std::env::var_os(self.variable).filter(|p| !p.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => {
                let exe = std::env::current_exe().context("finding this executable")?;
                let target = exe
                    .parent()
                    .and_then(|profile| profile.parent())
                    .ok_or_else(|| Failure::new("this executable is not in a target directory"))?;
                target
                    .join(self.dir)
                    .join(format!("{}{}", self.name, std::env::consts::EXE_SUFFIX))
            }
        };
        if path.is_file() {
            Ok(path)
        } else {
            Err(Failure::new(format!(
                "{} {} is not built; {}",
                self.what,
                path.display(),
                self.how_to_build
            )))
        }
    }

    /// Runs `command` (this program, stdout piped) to its end, at most
    /// `limit`, and returns what it printed.
    pub(crate) fn run(&self, mut command: Command, limit: Duration) -> Result<String, Failure> {
        let what = self.what;
        let mut child = command.spawn().context(&format!("starting {what}"))?;
        let mut stdout = child.stdout.take().expect("piped");
        // Read on a thread: the program may print more than a pipe holds.
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            stdout.read_to_string(&mut out).map(|_| out)
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait().context(&format!("waiting for {what}"))? {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Failure::new(format!(
                        "{what} did not finish within {} s",
                        limit.as_secs()
                    )));
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let out = reader
            .join()
            .map_err(|_| Failure::new(format!("reading the output of {what} failed")))?
            .context(&format!("reading the output of {what}"))?;
        if !status.success() {
            return Err(Failure::new(format!(
                "{what} failed ({status}); its messages are above"
            )));
        }
        Ok(out)
    }

    /// `samples N`, N lines of nanoseconds, `end`.
    pub(crate) fn parse_samples(&self, out: &str) -> Result<Vec<u64>, Failure> {
        let what = self.what;
        let mut lines = out.lines();
        let n: usize = lines
            .next()
            .and_then(|l| l.strip_prefix("samples "))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| Failure::new(format!("{what} printed no `samples N` line")))?;
        let samples: Vec<u64> = lines
            .by_ref()
            .take(n)
            .map(|l| l.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .context(&format!("a sample of {what}"))?;
        if samples.len() != n || lines.next() != Some("end") {
            return Err(Failure::new(format!("the samples of {what} are cut short")));
        }
        Ok(samples)
    }
}
