//! lodo-tui: train neural networks and synthetic problems with LODO and watch the run live.

pub mod cli;
pub mod data;
pub mod optim;
pub mod task;
pub mod train;
pub mod ui;

/// Runs the program for parsed command-line arguments.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let _ = cli;
    Ok(())
}
