//! The smallest plugin, started by `minimal_host`: answers a request on the
//! main link, says once on its own that it runs, and applies a gain to the
//! host's audio on the real-time link until the host says quit.

#[path = "minimal/protocol.rs"]
mod protocol;

use ipc_link::{AudioBuffers, LinkConfig, Plugin, Stop};
use protocol::{Hello, Process, Processed, Started, Welcome};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The host put the connection string in our environment.
    let mut plugin = Plugin::connect_from_env(&LinkConfig::default(), |link| {
        link.on_request(|Hello(host)| Welcome(format!("minimal_plugin greets {host}")))
    })?;
    let mut rt = plugin.take_rt().ok_or("the real-time link was taken")?;
    // The real-time thread serves calls until the host says quit.
    let audio = std::thread::spawn(move || {
        rt.serve(|Process { gain }, audio: Option<&mut AudioBuffers>| {
            let Some(audio) = audio else {
                return Processed { frames: 0 };
            };
            let (input, output) = audio.planar_mut();
            for (out, x) in output.iter_mut().zip(input) {
                *out = x * gain;
            }
            Processed {
                frames: audio.frames() as u32,
            }
        })
    });
    // Unprompted: the host has a handler for it.
    plugin.main_link().send(&Started {
        pid: std::process::id(),
    })?;
    let stop = plugin.wait_for_stop();
    // A `Quit` ends `serve` too, so the thread can be joined.
    let served = audio.join().map_err(|_| "the real-time thread panicked")?;
    println!("minimal_plugin: stopped ({stop:?}), real-time thread stopped ({served:?})");
    match (stop, served) {
        (Stop::Quit, Stop::Quit) => Ok(()),
        _ => Err("the host went away without saying quit".into()),
    }
}
