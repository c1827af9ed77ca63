//! lodo-tui: train neural networks and synthetic problems with LODO and watch the run live.

pub mod builders;
pub mod cli;
pub mod compare;
pub mod data;
pub mod evaluate;
pub mod exit;
pub mod headless;
pub mod jsonfloat;
pub mod launch;
pub mod optim;
pub mod output_file;
pub mod plot;
pub mod preset;
pub mod record;
pub mod run;
pub mod sample;
pub mod shell;
pub mod table;
pub mod task;
pub mod train;
pub mod ui;

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
        None => train(&cli.run),
    }
}

fn train(args: &cli::RunArgs) -> Result<()> {
    let mut config = launch::prepare_run(args, Builders::default())?;
    if let Some(note) = config.record.as_ref().and_then(record::Recorder::repaired) {
        eprintln!("warning: {note}");
    }
    let interactive = !args.headless && std::io::stdout().is_terminal();
    if interactive {
        // The dashboard handles its own signals and adapts the options to the locale and
        // NO_COLOR; the summary is printed once it has given the terminal back.
        let options = ui::UiOptions {
            ascii: args.ascii,
            color: true,
        };
        if let Some(summary) = ui::run_with_summary(train::spawn(config)?, options)? {
            print_quietly(&headless::summary_table(&summary));
            return exit::check(&summary);
        }
        return Ok(());
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
    let handle = train::spawn(config)?;
    on_interrupt(handle.commands.clone())?;
    let options = headless::Options {
        color: std::io::stderr().is_terminal() && color_allowed(),
        label: None,
    };
    let result = headless::run(&handle, &options);
    handle.shutdown()?;
    let summary = result?;
    print_quietly(&headless::summary_table(&summary));
    exit::check(&summary)
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
fn print_quietly(text: &str) {
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
