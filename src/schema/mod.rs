//! One stream, one schema: the types the trainer sends, the record stores and the socket carries.
//!
//! The trainer's [`Msg`]s go to its observers (dashboard, headless printer, the run's socket
//! server, which sends them to viewers as they are); the trainer's record writes [`Line`]s, which
//! hold the same [`StepRecord`], [`Event`] and [`Summary`] values; a record read back is
//! replayed as the same messages. Everything that carries these types (`train`, `record`, `run`,
//! `ui`) depends on this module, and this module on none of them, so the dashboard cannot tell
//! a thread from a socket from a record file.
//!
//! Two encodings: the socket writes the derived form (RON, bit-exact floats), the record writes
//! JSON lines in which a step's statistics are flattened ([`step_line`]). Where the two hold
//! different data it is said on the type: a start line keeps the version, the configuration and
//! the resumed-from step, the `Started` message the live speed limit and lane states; trajectory
//! points and evaluations are lines of their own in the record, parts of a message on the socket.

pub mod line;
pub mod msg;
pub mod step_line;

pub use line::{EvalLine, Line, PointLine, StartLine};
pub use msg::{
    Command, Event, EventKind, LaneId, LaneStatus, LaneSummary, MAX_PACE, Msg, RunState, StartInfo,
    StepRecord, Summary,
};
