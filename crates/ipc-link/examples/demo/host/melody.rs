//! The tune step 2 plays over the main link.

use crate::messages::Midi;

/// The melody as MIDI events, each with its time in ms from the start: the
/// first phrase of the "Ode to Joy" over two held bass notes (saw voices).
pub fn melody() -> Vec<(u64, Midi)> {
    const BEAT: f64 = 115.0;
    let tune: [(f64, f64, u8); 15] = [
        (0.0, 1.0, 64),
        (1.0, 1.0, 64),
        (2.0, 1.0, 65),
        (3.0, 1.0, 67),
        (4.0, 1.0, 67),
        (5.0, 1.0, 65),
        (6.0, 1.0, 64),
        (7.0, 1.0, 62),
        (8.0, 1.0, 60),
        (9.0, 1.0, 60),
        (10.0, 1.0, 62),
        (11.0, 1.0, 64),
        (12.0, 1.5, 64),
        (13.5, 0.5, 62),
        (14.0, 2.0, 62),
    ];
    let mut notes: Vec<(u64, u64, u8, u8)> = vec![(0, 900, 48, 80), (920, 880, 43, 80)];
    notes.extend(
        tune.iter()
            .map(|&(at, len, key)| ((at * BEAT) as u64, (len * BEAT) as u64 - 20, key, 100)),
    );
    let mut events: Vec<(u64, Midi)> = Vec::new();
    for (at, len, key, velocity) in notes {
        let on = Midi {
            status: 0x90,
            key,
            velocity,
        };
        let off = Midi {
            status: 0x80,
            key,
            velocity: 0,
        };
        events.extend([(at, on), (at + len, off)]);
    }
    // Note-offs first at equal times, so a repeated key sounds again.
    events.sort_by_key(|(at, m)| (*at, m.status == 0x90));
    events
}
