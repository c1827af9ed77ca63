//! `lodo-tui attach [ID] [--socket PATH]`: the dashboard on a live run, everything it shows
//! coming over the run's socket.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cli::AttachArgs;
use crate::run::dir::{self, Liveness};
use crate::ui::{self, Ended, UiOptions};

pub fn run(args: &AttachArgs, runs_dir: Option<&Path>) -> Result<()> {
    let options = UiOptions {
        ascii: args.ascii,
        color: true,
    };
    if let Some(socket) = &args.socket {
        let again = format!("lodo-tui attach --socket {}", socket.display());
        return dashboard_as(socket, &socket.display().to_string(), &again, options);
    }
    let root = dir::root(runs_dir)?;
    let listed = match &args.id {
        Some(id) => dir::find(&root, id)?,
        None => dir::most_recent_live(&root)?,
    };
    if listed.liveness != Liveness::Live {
        bail!("{}", dir::how_to_continue(&listed));
    }
    dashboard(&listed.info.socket, &listed.info.id, options)
}

/// The dashboard on the run `id` served at `socket`, until it detaches or the run ends; then
/// the summary and the run's own exit status.
pub fn dashboard(socket: &Path, id: &str, options: UiOptions) -> Result<()> {
    dashboard_as(socket, id, &format!("lodo-tui attach {id}"), options)
}

fn dashboard_as(socket: &Path, id: &str, again: &str, options: UiOptions) -> Result<()> {
    let handle = crate::run::client::connect(socket)
        .with_context(|| format!("cannot attach to run {id} ({})", socket.display()))?;
    match ui::view(handle, options, id)? {
        Ended::Finished(summary) => {
            crate::cmd::print_quietly(&crate::headless::summary_table(&summary));
            crate::exit::check(&summary)
        }
        Ended::Detached => {
            crate::cmd::print_quietly(&format!("detached from {id}; `{again}` to come back\n"));
            Ok(())
        }
        Ended::Abandoned => {
            crate::cmd::print_quietly(&format!(
                "left run {id} without waiting for it to stop (`lodo-tui ps --all` shows it)\n"
            ));
            Ok(())
        }
    }
}
