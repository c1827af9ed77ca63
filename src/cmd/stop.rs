//! `lodo-tui stop ID [--no-wait]`: stops a run as `q` would (final checkpoint, summary in the
//! record), waits for its summary and exits with the status the run itself has.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cli::StopArgs;
use crate::run::dir::{self, Liveness};
use crate::train::{Command, EventKind, Msg};

/// How long a stopped run's process may take to end after sending its summary (it lets its
/// viewers take the last messages first).
const EXIT_PATIENCE: Duration = Duration::from_secs(10);
/// How long `--no-wait` waits for the run to confirm it is stopping.
const ACK_PATIENCE: Duration = Duration::from_secs(10);

/// The trainer's "stopped: …" event (it took the `Quit`), or its summary.
fn acknowledges_stop(msg: &Msg) -> bool {
    match msg {
        Msg::Event(e) => e.kind == EventKind::Info && e.detail.starts_with("stopped"),
        Msg::Finished(_) => true,
        _ => false,
    }
}

pub fn run(args: &StopArgs, runs_dir: Option<&Path>) -> Result<()> {
    let root = dir::root(runs_dir)?;
    let listed = dir::find(&root, &args.id)?;
    if listed.liveness != Liveness::Live {
        bail!("{}", dir::how_to_continue(&listed));
    }
    let id = &listed.info.id;
    let handle = crate::run::client::connect(&listed.info.socket)
        .with_context(|| format!("cannot reach run {id}"))?;
    handle.send(Command::Quit);
    if args.no_wait {
        // Not waiting for the summary, but for the run to say it took the request: leaving at
        // once could close the connection before the command is through.
        let until = Instant::now() + ACK_PATIENCE;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match handle.messages.recv_timeout(left) {
                Ok(msg) if acknowledges_stop(&msg) => {
                    println!("run {id} is stopping (final checkpoint, summary in its record)");
                    handle.detach();
                    return Ok(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        bail!("asked run {id} to stop, but it did not confirm; `lodo-tui ps` shows whether it did");
    }
    eprintln!("stopping run {id}…");
    let mut summary = None;
    for msg in handle.messages.iter() {
        if let Msg::Finished(result) = msg {
            summary = Some(result);
            break;
        }
    }
    handle.detach();
    let summary = match summary {
        Some(Ok(summary)) => summary,
        Some(Err(e)) => bail!("run {id} failed: {e}"),
        None => bail!(
            "run {id} went away without a summary; its log {} may say why",
            listed.info.log.display()
        ),
    };
    let until = Instant::now() + EXIT_PATIENCE;
    while dir::process_alive(listed.info.pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    crate::cmd::print_quietly(&crate::headless::summary_table(&summary));
    crate::exit::check(&summary)
}
