//! Step 6: the plugin's 64 MiB state, saved to the host and loaded back
//! through the main link, one MessagePack `bin` message each way (see
//! `messages::State` for why that takes `serde_bytes`). Another plugin
//! program (`--plugin`) may save a state of another size: its header says
//! which.

use super::SLOW;
use crate::messages::{LoadState, Loaded, SaveState, State};
use crate::state;
use crate::stats::{line, ms};
use crate::Failure;
use ipc_link::MainLink;
use std::time::{Duration, Instant};

/// Saves the state, checks it, loads it back, then loads a damaged copy,
/// which the plugin must refuse.
pub fn move_state(link: &MainLink) -> Result<(), Failure> {
    let started = Instant::now();
    let State { blob, built_us } = link
        .request_timeout(&SaveState, SLOW)
        .map_err(|e| format!("save: {e}"))?;
    let saved_in = started.elapsed();
    state::load(&blob).map_err(|e| format!("the saved state is wrong: {e}"))?;
    let len = blob.len();
    let sum = state::checksum(&blob);
    let mut request = LoadState { blob };
    let started = Instant::now();
    let loaded: Loaded = link
        .request_timeout(&request, SLOW)
        .map_err(|e| format!("load: {e}"))?;
    let loaded_in = started.elapsed();
    if !loaded.ok || loaded.checksum != sum {
        return Err(format!(
            "load: refused ({}), checksum {:#018x} vs {sum:#018x}",
            loaded.problem.unwrap_or_default(),
            loaded.checksum
        )
        .into());
    }
    let flip = len / 2 + 12_345;
    if flip >= len {
        return Err(format!("save: a state of {len} bytes is too small for this step").into());
    }
    request.blob[flip] ^= 0x10;
    let refused: Loaded = link
        .request_timeout(&request, SLOW)
        .map_err(|e| format!("load of a damaged state: {e}"))?;
    let refusal = match (refused.ok, refused.problem) {
        (false, Some(problem)) if problem.contains(&flip.to_string()) => problem,
        (ok, problem) => {
            return Err(
                format!("a damaged state was not refused properly: ok {ok}, {problem:?}").into(),
            )
        }
    };
    let mib = len as f64 / f64::from(1 << 20);
    let row = |what: &str, total: Duration, work_us: u64| {
        let work = Duration::from_micros(work_us);
        line(
            "",
            format!(
                "{what:<22}{:>10}{:>8.0} MiB/s   plugin's own work {:>9} ({:.0} MiB/s without it)",
                ms(total),
                mib / total.as_secs_f64(),
                ms(work),
                mib / total.saturating_sub(work).as_secs_f64().max(1e-9)
            ),
        );
    };
    line(
        "6 state",
        format!(
            "{mib:.0} MiB each way on the main link: one MessagePack bin message, no temporary file"
        ),
    );
    row("save, plugin -> host", saved_in, built_us);
    row("load, host -> plugin", loaded_in, loaded.checked_us);
    line(
        "",
        format!("checked byte for byte; the same checksum on both sides ({sum:#018x})"),
    );
    line(
        "",
        format!("a copy with one byte flipped is refused: \"{refusal}\""),
    );
    Ok(())
}
