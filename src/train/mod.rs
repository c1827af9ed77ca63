//! The trainer: a background thread that owns the task, the lanes and their optimizers.
//! Commands in, messages out; nothing here draws.

pub mod checkpoint;
pub mod checkpoint_dir;
mod commands;
pub mod emit;
mod finish;
pub mod guard;
pub mod handle;
pub mod lane;
pub mod pace;
pub mod setup;
pub mod slot;
pub mod spawn;
pub mod stats;
pub mod throttle;
pub mod trainer;

pub use checkpoint::Checkpoint;
pub use checkpoint_dir::RunId;
pub use handle::TrainerHandle;
pub use spawn::{TrainerConfig, spawn};

/// The trainer's messages and commands, defined in the schema every observer shares.
pub use crate::schema::{
    Command, Event, EventKind, LaneStatus, Msg, RunState, StartInfo, StepRecord, Summary,
};

#[cfg(test)]
mod tests;
