//! Systems the harness does not support yet: every call fails.

use super::Woken;
use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

fn unsupported<T>() -> io::Result<T> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the latency harness supports only Linux so far",
    ))
}

/// The CPUs this process may run on.
pub fn available_cpus() -> io::Result<Vec<usize>> {
    unsupported()
}

/// Restricts the calling thread to `cpu`.
pub fn pin_to_cpu(_cpu: usize) -> io::Result<()> {
    unsupported()
}

/// Has this process die with its parent.
pub fn exit_with_parent(_parent: u32) -> io::Result<()> {
    unsupported()
}

/// Whether the process that started us is still our parent.
pub fn parent_alive(_parent: u32) -> bool {
    false
}

/// Sleeps while `*word == expected`.
pub fn futex_wait(_word: &AtomicU32, _expected: u32, _timeout: Duration) -> io::Result<Woken> {
    unsupported()
}

/// Wakes one process sleeping on `word`.
pub fn futex_wake(_word: &AtomicU32) -> io::Result<()> {
    unsupported()
}

/// A descriptor made inheritable for the next child spawned.
#[derive(Debug)]
pub struct Inherited<'a> {
    never: Infallible,
    _borrow: std::marker::PhantomData<&'a ()>,
}

impl Inherited<'_> {
    /// The argument that names the descriptor to the child.
    pub fn arg(&self) -> String {
        match self.never {}
    }
}

/// A page of memory shared with a child process.
#[derive(Debug)]
pub struct SharedPage {
    never: Infallible,
}

impl SharedPage {
    /// Creates a zeroed shared mapping of `len` bytes.
    pub fn create(_len: usize) -> io::Result<SharedPage> {
        unsupported()
    }

    /// Maps the page a parent passed as `arg`.
    pub fn open_inherited(_arg: &str) -> io::Result<SharedPage> {
        unsupported()
    }

    /// Makes the page inheritable by the next child spawned.
    pub fn inheritable(&self) -> io::Result<Inherited<'_>> {
        match self.never {}
    }

    /// The 32-bit word at byte `offset`.
    pub fn word(&self, _offset: usize) -> &AtomicU32 {
        match self.never {}
    }

    /// Copies `src` into the page at byte `offset`.
    pub fn write(&self, _offset: usize, _src: &[u8]) {
        match self.never {}
    }

    /// Copies bytes of the page at `offset` into `dst`.
    pub fn read(&self, _offset: usize, _dst: &mut [u8]) {
        match self.never {}
    }
}

/// One end of a connected stream socket.
#[derive(Debug)]
pub struct Socket {
    never: Infallible,
}

impl Socket {
    /// A connected pair.
    pub fn pair() -> io::Result<(Socket, Socket)> {
        unsupported()
    }

    /// The end a parent passed as `arg`.
    pub fn open_inherited(_arg: &str) -> io::Result<Socket> {
        unsupported()
    }

    /// Makes this end inheritable by the next child spawned.
    pub fn inheritable(&self) -> io::Result<Inherited<'_>> {
        match self.never {}
    }

    /// Bounds every blocking read.
    pub fn set_read_timeout(&self, _timeout: Option<Duration>) -> io::Result<()> {
        match self.never {}
    }
}

/// Mirrors the real socket, which closes its end when dropped.
impl Drop for Socket {
    fn drop(&mut self) {
        match self.never {}
    }
}

impl Read for Socket {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        match self.never {}
    }
}

impl Write for Socket {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        match self.never {}
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.never {}
    }
}
