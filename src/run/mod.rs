//! Runs and viewers: every run owns a run directory and serves its trainer on a private Unix
//! socket, so it outlives the terminal it was started from; dashboards attach to it, detach and
//! come back, `ps` and `stop` reach it the same way, and a dropped connection never costs the run.

pub mod admit;
pub mod client;
mod connection;
pub mod dir;
pub mod host;
pub mod hub;
pub mod peers;
pub mod protocol;
pub mod server;
pub mod snapshot;
pub mod spawn;
pub mod sysinfo;

pub use client::connect;
pub use server::{Server, serve};
