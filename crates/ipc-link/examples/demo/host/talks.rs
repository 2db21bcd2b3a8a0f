//! Step 3: what the plugin sends on its own initiative (parameter changes
//! and log lines from its messenger thread), as the host's handlers saw it.

use super::Options;
use crate::messages::{LogLine, ParamChanged};
use crate::plugin::LOG_EVERY;
use crate::stats::line;
use crate::Failure;
use ipc_link::{LinkError, MainLink};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// What the plugin sent on its own.
#[derive(Debug, Default)]
pub struct Inbox {
    params: AtomicU64,
    logs: AtomicU64,
    unknown: AtomicU64,
    /// The first and the last parameter change.
    param_examples: Mutex<Vec<ParamChanged>>,
    log_example: Mutex<Option<String>>,
}

impl Inbox {
    /// Registers the handlers that fill this inbox (before the link
    /// dispatches anything: nothing is missed).
    pub fn register(self: &Arc<Self>, link: &MainLink) -> Result<(), LinkError> {
        let inbox = self.clone();
        link.on(move |m: ParamChanged, _| {
            inbox.params.fetch_add(1, Ordering::Relaxed);
            let mut examples = inbox.param_examples.lock();
            if examples.len() == 2 {
                examples.pop();
            }
            examples.push(m);
        })?;
        let inbox = self.clone();
        link.on(move |LogLine(text), _| {
            inbox.logs.fetch_add(1, Ordering::Relaxed);
            inbox.log_example.lock().get_or_insert(text);
        })?;
        let inbox = self.clone();
        link.on_unknown(move |_| {
            inbox.unknown.fetch_add(1, Ordering::Relaxed);
        });
        Ok(())
    }

    /// Step 3's report. The plugin sends asynchronously: its last messages
    /// get a moment to arrive.
    pub fn report(&self, options: &Options) -> Result<(), Failure> {
        let total = options.periods + options.unpaced;
        let expected_logs = u64::from(total >= LOG_EVERY);
        let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(1);
        while (count(&self.params) == 0 || count(&self.logs) < expected_logs)
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(5));
        }
        let (params, logs) = (count(&self.params), count(&self.logs));
        let examples: Vec<String> = self
            .param_examples
            .lock()
            .iter()
            .map(|p| format!("{} = {:.0} Hz (period {})", p.name, p.value, p.period))
            .collect();
        line(
            "3 plugin",
            format!(
                "{params} parameter changes, e.g. {}",
                examples.join(" ... ")
            ),
        );
        line(
            "  talks",
            match self.log_example.lock().clone() {
                Some(example) => format!("{logs} log lines, e.g. \"{example}\""),
                None => format!("{logs} log lines (one every {LOG_EVERY} periods)"),
            },
        );
        line(
            "",
            format!(
                "sent unprompted from the plugin's messenger thread; {} unknown messages",
                count(&self.unknown)
            ),
        );
        if params == 0 || logs < expected_logs {
            return Err("the plugin's own messages did not arrive".into());
        }
        Ok(())
    }
}
