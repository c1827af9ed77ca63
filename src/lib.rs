//! lodo-tui: train neural networks and synthetic problems with LODO and watch the run live.

pub mod attach;
pub mod builders;
pub mod cli;
pub mod compare;
pub mod data;
pub mod evaluate;
pub mod exit;
pub mod format;
pub mod headless;
pub mod jsonfloat;
pub mod launch;
pub mod optim;
pub mod output_file;
pub mod plot;
pub mod preset;
pub mod prune;
pub mod ps;
pub mod record;
pub mod run;
pub mod sample;
pub mod schema;
pub mod shell;
pub mod stop;
pub mod table;
pub mod task;
pub mod train;
pub mod ui;
pub mod view;

#[cfg(test)]
pub mod testkit;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use anyhow::{Context, Result};

use crate::builders::Builders;
use crate::train::Command;

/// Runs the program for parsed command-line arguments.
pub fn run(cli: cli::Cli) -> Result<()> {
    ignore_file_size_signal();
    match cli.command {
        Some(cli::Command::Presets { name }) => list_presets(name.as_deref()),
        Some(cli::Command::Compare(args)) => compare::run(&args, Builders::default()),
        Some(cli::Command::Plot(args)) => plot::run(&args),
        Some(cli::Command::Sample(args)) => sample::run(&args),
        Some(cli::Command::Evaluate(args)) => evaluate::run(&args),
        Some(cli::Command::Completions { shell }) => {
            shell::completions(shell, &mut std::io::stdout().lock())
        }
        Some(cli::Command::Man) => shell::man(&mut std::io::stdout().lock()),
        Some(cli::Command::Attach(args)) => attach::run(&args, cli.runs_dir.as_deref()),
        Some(cli::Command::View(args)) => view::run(&args, cli.runs_dir.as_deref()),
        Some(cli::Command::Ps(args)) => ps::run(&args, cli.runs_dir.as_deref()),
        Some(cli::Command::Stop(args)) => stop::run(&args, cli.runs_dir.as_deref()),
        Some(cli::Command::Prune(args)) => prune::run(&args, cli.runs_dir.as_deref()),
        None => train(&cli.run, cli.runs_dir.as_deref()),
    }
}

fn train(args: &cli::RunArgs, runs_dir: Option<&std::path::Path>) -> Result<()> {
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
        let root = run::dir::root(runs_dir)?;
        let serve_as = if args.detach {
            cli::ServeAs::Detached
        } else {
            cli::ServeAs::Dashboard
        };
        let started = run::spawn::start(&root, &preset, serve_as)?;
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
    let root = run::dir::root(runs_dir)?;
    let dir = run::dir::RunDir::claim(&root, &config.preset.name, std::time::SystemTime::now())?;
    let hosted = run::host::host(config, dir, run::dir::StartedAs::Headless, None)?;
    on_interrupt(hosted.local.commands.clone())?;
    // A hang-up only takes the terminal away: the run goes on, its progress lines are lost.
    ignore_hang_up();
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
        Some(cli::ServeAs::Detached) => run::dir::StartedAs::Detached,
        _ => run::dir::StartedAs::Dashboard,
    };
    let dir = run::dir::RunDir::open(dir)?;
    let log = dir.log();
    let hosted = run::host::host(config, dir, started_as, Some(log))?;
    eprintln!(
        "run {} serving on {}",
        hosted.info.id,
        hosted.info.socket.display()
    );
    on_interrupt(hosted.local.commands.clone())?;
    // It has no terminal; a stray hang-up is not a request to stop.
    ignore_hang_up();
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

/// A file size limit (`ulimit -f`) kills a process that writes past it with SIGXFSZ: no summary,
/// no message, a temporary file left behind. Ignored, the write fails with EFBIG instead, and the
/// run stops cleanly and says what it could not save.
fn ignore_file_size_signal() {
    // SAFETY: SIG_IGN installs no handler; nothing else in the program handles SIGXFSZ.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Prints to stdout without panicking when it is gone (a terminal that hung up, a closed pipe):
/// the run is over by then and its record is complete.
pub(crate) fn print_quietly(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
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

fn list_presets(name: Option<&str>) -> Result<()> {
    if let Some(name) = name {
        let (_, text) = preset::builtin::find(name)?;
        print!("{text}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = preset::builtin::BUILTIN
        .iter()
        .map(|(name, text)| {
            let description = preset::Preset::parse_syntax(text, name)
                .map(|p| p.description)
                .unwrap_or_else(|e| format!("(invalid: {e})"));
            vec![name.to_string(), description]
        })
        .collect();
    let headers = ["preset".to_string(), "description".to_string()];
    print!("{}", table::plain(&headers, &rows));
    println!(
        "\n`lodo-tui presets NAME` prints one as RON: save it, edit it, run it with \
         `--preset FILE.ron`."
    );
    Ok(())
}
