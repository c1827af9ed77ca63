//! The trainer: a background thread that owns the task, the lanes and their optimizers.
//! Commands in, messages out; nothing here draws.

pub mod guard;
pub mod handle;
pub mod msg;
pub mod stats;
pub mod throttle;

pub use handle::TrainerHandle;

pub use msg::{
    Command, Event, EventKind, LaneStatus, Msg, RunState, StartInfo, StepRecord, Summary,
};
