//! When a wait must end, fixed lazily: most calls find their data or space
//! at once, and a deadline that is never needed never reads the clock.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The moment by which a wait must end: never, now (for `try_` calls), or
/// some time after the first moment anything had to wait.
///
/// `Deadline::after(d)` does not read the clock when it is made: the clock
/// is read the first time a wait needs it, and the moment is fixed then. So
/// a deadline can span several calls (a request's send and the wait for
/// its reply) at the cost of one clock read, and none at all when nothing
/// waited. The work done before the first wait (copying, encoding) is not
/// counted against it.
///
/// The `x_deadline` methods of [`Reader`](crate::Reader) and
/// [`Writer`](crate::Writer) (and of the layers above) take one; `x`,
/// `try_x` and `x_timeout(d)` are `x_deadline` with [`never`](Deadline::never),
/// [`now`](Deadline::now) and [`after(d)`](Deadline::after).
#[derive(Debug, Clone)]
pub struct Deadline {
    timeout: Option<Duration>,
    at: Cell<Option<Instant>>,
}

impl Deadline {
    /// No deadline: wait as long as it takes.
    pub const fn never() -> Deadline {
        Deadline {
            timeout: None,
            at: Cell::new(None),
        }
    }

    /// Do not wait at all.
    pub const fn now() -> Deadline {
        Deadline::after(Duration::ZERO)
    }

    /// `timeout` after the first moment a wait needs the deadline.
    pub const fn after(timeout: Duration) -> Deadline {
        Deadline {
            timeout: Some(timeout),
            at: Cell::new(None),
        }
    }

    /// A fixed moment.
    pub fn at(instant: Instant) -> Deadline {
        Deadline {
            timeout: Some(instant.saturating_duration_since(Instant::now())),
            at: Cell::new(Some(instant)),
        }
    }

    /// `Some(timeout)` for [`after`](Deadline::after), `None` for
    /// [`never`](Deadline::never).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether there is a deadline at all.
    pub fn is_set(&self) -> bool {
        self.timeout.is_some()
    }

    /// Whether this is [`now`](Deadline::now): nothing may wait.
    pub fn is_now(&self) -> bool {
        self.timeout == Some(Duration::ZERO)
    }

    /// The moment, fixed the first time it is asked for (`None`: never).
    #[inline]
    pub fn instant(&self) -> Option<Instant> {
        let timeout = self.timeout?;
        if let Some(at) = self.at.get() {
            return Some(at);
        }
        let now = Instant::now();
        let at = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        self.at.set(Some(at));
        Some(at)
    }

    /// Time left, fixing the moment if needed (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.instant()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether the moment has passed (never for no deadline).
    pub fn has_passed(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// The earlier of this deadline and `bound` from now (`None`: no bound);
    /// reads the clock if both are set.
    pub fn within(&self, bound: Option<Duration>) -> Deadline {
        match (bound, self.timeout) {
            (None, _) => self.clone(),
            (Some(b), None) => Deadline::after(b),
            (Some(b), Some(_)) => match self.remaining() {
                Some(left) if left <= b => Deadline::at(Instant::now() + left),
                _ => Deadline::after(b),
            },
        }
    }

    pub(crate) fn from(timeout: Option<Duration>) -> Deadline {
        Deadline {
            timeout,
            at: Cell::new(None),
        }
    }
}

impl Default for Deadline {
    fn default() -> Self {
        Deadline::never()
    }
}
