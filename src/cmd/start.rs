//! The default command: start a run — with the dashboard (a served run the dashboard attaches
//! to), in the background (`--detach`), or headless — and the hidden `--serve-run` mode the first
//! two start their server process in.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use anyhow::{Context, Result};

use super::{attach, print_quietly};
use crate::builders::Builders;
use crate::train::Command;
use crate::{cli, exit, headless, launch, record, ui};

/// Starts the run the arguments describe and returns when it ends (headless) or when the
/// dashboard lets go of it (stopped or detached).
pub fn run(args: &cli::RunArgs, runs_dir: Option<&std::path::Path>) -> Result<()> {
    if let Some(dir) = &args.serve_run {
        return serve_run(args, dir);
    }
    let mut config = launch::prepare_run(args, Builders::default())?;
    if let Some(note) = config.record.as_ref().and_then(record::Recorder::repaired) {
        eprintln!("warning: {note}");
    }
    let interactive = !args.headless && std::io::stdout().is_terminal();
    if args.detach || interactive {
        // Validated here, where errors reach the terminal; the server process opens the record
        // and checkpoints again (so this one must let go of them first).
        let preset = config.preset.name.clone();
        drop(config);
        let root = crate::run::dir::root(runs_dir)?;
        let serve_as = if args.detach {
            cli::ServeAs::Detached
        } else {
            cli::ServeAs::Dashboard
        };
        let started = crate::run::spawn::start(&root, &preset, serve_as)?;
        if args.detach {
            println!(
                "run {} started in the background (pid {})\n  socket: {}\n  dir:    {}\n\
                 attach with `lodo-tui attach {}`, stop with `lodo-tui stop {}`",
                started.id,
                started.pid,
                started.socket.display(),
                started.dir.display(),
                started.id,
                started.id
            );
            return Ok(());
        }
        eprintln!("run {} (dir {})", started.id, started.dir.display());
        let options = ui::UiOptions {
            ascii: args.ascii,
            color: true,
        };
        return attach::dashboard(&started.socket, &started.id, options);
    }
    if args.paused {
        anyhow::bail!("--paused needs the dashboard (a terminal, without --headless)");
    }
    // Nobody can send commands to a headless run: stop when every lane has diverged.
    config.halt_when_stalled = true;
    config.final_evaluation = true;
    // A preset's pace is for watching; headless runs keep only an explicit --pace.
    if args.pace.is_none() {
        config.pace = None;
    }
    let root = crate::run::dir::root(runs_dir)?;
    let dir =
        crate::run::dir::RunDir::claim(&root, &config.preset.name, std::time::SystemTime::now())?;
    let hosted = crate::run::host::host(config, dir, crate::run::dir::StartedAs::Headless, None)?;
    on_interrupt(hosted.local.commands.clone())?;
    // A hang-up only takes the terminal away: the run goes on, its progress lines are lost.
    ignore_hang_up();
    hosted.announce()?;
    let options = headless::Options {
        color: std::io::stderr().is_terminal() && color_allowed(),
        label: None,
        after_start: Some(format!(
            "run {} · dir {} · `lodo-tui attach {}` watches it",
            hosted.info.id,
            hosted.dir.path.display(),
            hosted.info.id
        )),
    };
    let result = headless::run(&hosted.local, &options);
    hosted.close()?;
    let summary = result?;
    print_quietly(&headless::summary_table(&summary));
    exit::check(&summary)
}

/// The background server process of a dashboard or `--detach` run: trains as a dashboard run
/// would (the preset's pace, waiting for commands when every lane diverged), with its progress
/// and summary in the run's log and the exit status the run would have had.
fn serve_run(args: &cli::RunArgs, dir: &std::path::Path) -> Result<()> {
    let config = launch::prepare_run(args, Builders::default())?;
    let started_as = match args.serve_as {
        Some(cli::ServeAs::Detached) => crate::run::dir::StartedAs::Detached,
        _ => crate::run::dir::StartedAs::Dashboard,
    };
    let dir = crate::run::dir::RunDir::open(dir)?;
    let log = dir.log();
    let hosted = crate::run::host::host(config, dir, started_as, Some(log))?;
    eprintln!(
        "run {} serving on {}",
        hosted.info.id,
        hosted.info.socket.display()
    );
    on_interrupt(hosted.local.commands.clone())?;
    // It has no terminal; a stray hang-up is not a request to stop.
    ignore_hang_up();
    hosted.announce()?;
    let options = headless::Options {
        color: false,
        label: None,
        after_start: None,
    };
    let result = headless::run(&hosted.local, &options);
    hosted.close()?;
    let summary = result?;
    print_quietly(&headless::summary_table(&summary));
    exit::check(&summary)
}

/// SIGHUP: ignored (after [`on_interrupt`], which would take it for a request to stop).
fn ignore_hang_up() {
    // SAFETY: SIG_IGN installs no handler.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}

/// `NO_COLOR` (any non-empty value) turns colour off, see no-color.org.
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Ctrl-C / SIGTERM: the first asks the trainer to quit (final checkpoint, record flush,
/// summary); a second one exits at once.
pub fn on_interrupt(commands: Sender<Command>) -> Result<()> {
    static ASKED: AtomicBool = AtomicBool::new(false);
    ctrlc::set_handler(move || {
        if ASKED.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: exiting without waiting");
            std::process::exit(exit::INTERRUPTED_TWICE);
        }
        eprintln!("interrupted: stopping after the current step (again to exit at once)");
        let _ = commands.send(Command::Quit);
    })
    .context("cannot install the Ctrl-C handler")
}
