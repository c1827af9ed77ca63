//! Runs and viewers: every run owns a run directory and serves a private control socket, so it
//! outlives the terminal it was started from; dashboards, `ps` and `stop` reach it through the
//! socket.

pub mod client;
pub mod dir;
pub mod host;
pub mod server;
pub mod spawn;
