//! Runs and viewers: a run serves its trainer on a private Unix socket; dashboards attach to it,
//! detach, and come back, and a dropped connection never costs the run.

pub mod admit;
pub mod client;
mod connection;
pub mod hub;
pub mod protocol;
pub mod server;
pub mod snapshot;

pub use client::connect;
pub use server::{Server, serve};
