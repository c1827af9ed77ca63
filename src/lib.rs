//! lodo-tui: train neural networks and synthetic problems with LODO and watch the run live.

pub mod builders;
pub mod cli;
pub mod jsonfloat;
pub mod optim;
pub mod preset;
pub mod record;
pub mod task;
pub mod train;

#[cfg(test)]
pub mod testkit;

/// Runs the program for parsed command-line arguments.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let _ = cli;
    Ok(())
}
