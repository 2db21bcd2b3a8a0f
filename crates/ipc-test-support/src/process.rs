//! Starting peer programs and following them: a child with piped standard
//! streams that reports one line per event, and the choice of which build
//! of a peer to run.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};

/// The peer program to run: the one the environment variable `var` names
/// if it is set (CI points it at a 32-bit build, to run 64-bit tests
/// against a 32-bit peer), else `built`, which a test passes as
/// `env!("CARGO_BIN_EXE_<name>")`.
pub fn program(var: &str, built: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(built), PathBuf::from)
}

/// A running child with stdin and stdout piped. Dropping it kills and
/// reaps the child if it still runs, so a failing test leaves no process
/// behind.
#[derive(Debug)]
pub struct PipedChild {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl PipedChild {
    /// Starts `program` with `args`.
    ///
    /// # Panics
    /// If it cannot be started.
    pub fn spawn<I, S>(program: impl AsRef<OsStr>, args: I) -> PipedChild
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let program = program.as_ref();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.to_string_lossy()));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        PipedChild {
            child,
            stdin,
            stdout,
        }
    }

    /// The child's process ID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line the child (or a process that inherited its stdout)
    /// writes, without the line end; empty once the pipe is closed.
    ///
    /// # Panics
    /// If the pipe cannot be read.
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout
            .read_line(&mut s)
            .expect("read the child's output");
        s.trim_end().to_owned()
    }

    /// Reads the next line and checks that it is `want`.
    ///
    /// # Panics
    /// If it is not.
    pub fn expect_line(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "the child said {got:?}, expected {want:?}");
    }

    /// Whether every process holding the stdout pipe has closed it: the
    /// next read finds the end of the stream (after any lines still unread,
    /// which are discarded).
    ///
    /// # Panics
    /// If the pipe cannot be read.
    pub fn output_ends(&mut self) -> bool {
        let mut rest = String::new();
        loop {
            rest.clear();
            match self.stdout.read_line(&mut rest) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => panic!("read the child's output: {e}"),
            }
        }
    }

    /// Writes `line` and a line end to the child's stdin.
    ///
    /// # Panics
    /// If stdin is closed or the write fails.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("write the child's stdin");
        stdin.flush().expect("flush the child's stdin");
    }

    /// Closes the child's stdin (it sees the end of its input).
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Closes stdin and waits for the child to exit.
    ///
    /// # Panics
    /// If it cannot be waited for.
    pub fn wait(&mut self) -> ExitStatus {
        self.close_stdin();
        self.child.wait().expect("wait for the child")
    }

    /// Closes stdin and checks that the child then exits successfully.
    ///
    /// # Panics
    /// If it does not.
    pub fn finish(mut self) {
        let status = self.wait();
        assert!(status.success(), "the child exited with {status}");
    }

    /// Kills the child at once (SIGKILL, TerminateProcess on Windows) and
    /// reaps it.
    ///
    /// # Panics
    /// If it cannot be killed or waited for.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("kill the child");
        self.child.wait().expect("reap the child")
    }
}

impl Drop for PipedChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
