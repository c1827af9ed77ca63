//! The trainer: a background thread that owns the task, the lanes and their optimizers.
//! Commands in, messages out; nothing here draws.

pub mod handle;
pub mod msg;

pub use handle::TrainerHandle;

pub use msg::{
    Command, Event, EventKind, LaneStatus, Msg, RunState, StartInfo, StepRecord, Summary,
};
