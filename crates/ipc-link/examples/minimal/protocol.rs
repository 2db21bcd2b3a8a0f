//! The protocol `minimal_host` and `minimal_plugin` share: serde types, each
//! with an ID chosen by the protocol's author (`message!`).

use ipc_link::message;
use serde::{Deserialize, Serialize};

/// Host -> plugin request on the main link: who asks.
#[derive(Serialize, Deserialize, Debug)]
pub struct Hello(pub String);

/// Plugin -> host: the answer to [`Hello`], a greeting.
#[derive(Serialize, Deserialize, Debug)]
pub struct Welcome(pub String);

/// Plugin -> host, sent on the plugin's own initiative once it runs.
#[derive(Serialize, Deserialize, Debug)]
pub struct Started {
    /// The plugin's process ID.
    pub pid: u32,
}

/// Host -> plugin on the real-time link: the output is the input times
/// `gain`.
#[derive(Serialize, Deserialize, Debug)]
pub struct Process {
    /// The gain to apply.
    pub gain: f32,
}

/// Plugin -> host: the answer to [`Process`].
#[derive(Serialize, Deserialize, Debug)]
pub struct Processed {
    /// Frames written.
    pub frames: u32,
}

message!(
    Hello = 1,
    Welcome = 2,
    Started = 3,
    Process = 4,
    Processed = 5
);
