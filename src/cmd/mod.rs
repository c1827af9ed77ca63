//! The program's commands, one file each: `start` is the default (train a preset), the rest are
//! the subcommands of the command line (see `cli`).

pub mod attach;
pub mod compare;
pub mod evaluate;
pub mod plot;
pub mod presets;
pub mod prune;
pub mod ps;
pub mod sample;
pub mod shell;
pub mod start;
pub mod stop;
pub mod view;

use anyhow::Result;

use crate::builders::Builders;
use crate::cli;

/// Runs the command the parsed arguments name.
pub fn run(cli: cli::Cli) -> Result<()> {
    let runs_dir = cli.runs_dir.as_deref();
    match cli.command {
        Some(cli::Command::Presets { name }) => presets::run(name.as_deref()),
        Some(cli::Command::Compare(args)) => compare::run(&args, Builders::default()),
        Some(cli::Command::Plot(args)) => plot::run(&args),
        Some(cli::Command::Sample(args)) => sample::run(&args),
        Some(cli::Command::Evaluate(args)) => evaluate::run(&args),
        Some(cli::Command::Completions { shell }) => {
            shell::completions(shell, &mut std::io::stdout().lock())
        }
        Some(cli::Command::Man) => shell::man(&mut std::io::stdout().lock()),
        Some(cli::Command::Attach(args)) => attach::run(&args, runs_dir),
        Some(cli::Command::View(args)) => view::run(&args, runs_dir),
        Some(cli::Command::Ps(args)) => ps::run(&args, runs_dir),
        Some(cli::Command::Stop(args)) => stop::run(&args, runs_dir),
        Some(cli::Command::Prune(args)) => prune::run(&args, runs_dir),
        None => start::run(&cli.run, runs_dir),
    }
}

/// Prints to stdout without panicking when it is gone (a terminal that hung up, a closed pipe):
/// the run is over by then and its record is complete.
pub(crate) fn print_quietly(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
