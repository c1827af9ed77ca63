//! `lodo-tui view RECORD|RUN_DIR|ID …`: the dashboard, read-only, over records, finished or
//! still being written; several are overlaid as lanes of one dashboard.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cli::ViewArgs;
use crate::record::overlay::{self, Source};
use crate::run::dir::{self, RunDir};
use crate::ui::{self, Ended, UiOptions};

pub fn run(args: &ViewArgs, runs_dir: Option<&Path>) -> Result<()> {
    let sources = args
        .records
        .iter()
        .map(|arg| resolve(arg, runs_dir).map(|path| source(arg, &path)))
        .collect::<Result<Vec<_>>>()?;
    let (handle, label) = overlay::spawn(&sources)?;
    let options = UiOptions {
        ascii: args.ascii,
        color: true,
    };
    if let Ended::Finished(summary) = ui::view_records(handle, options, &label)? {
        crate::cmd::print_quietly(&crate::headless::summary_table(&summary));
    }
    Ok(())
}

/// The record an argument means: a file is a record; a directory is a run directory (its
/// run.json says where its record is; else its record.jsonl); anything else a run id under the
/// runs root.
pub fn resolve(arg: &Path, runs_dir: Option<&Path>) -> Result<PathBuf> {
    if arg.is_file() {
        return Ok(arg.to_path_buf());
    }
    if arg.is_dir() {
        return run_record(&RunDir::open(arg)?);
    }
    let id = arg.to_string_lossy();
    if id.contains('/') || id.ends_with(".jsonl") {
        bail!("{}: no such record or run directory", arg.display());
    }
    let root = dir::root(runs_dir)?;
    run_record(&dir::find(&root, &id)?.dir)
}

fn run_record(run: &RunDir) -> Result<PathBuf> {
    let record = match run.read_info() {
        Ok(info) => info.record,
        Err(_) => Some(run.record()),
    };
    match record {
        Some(path) if path.is_file() => Ok(path),
        Some(path) => bail!(
            "{}: the run has no record at {}",
            run.path.display(),
            path.display()
        ),
        None => bail!(
            "{}: the run was started without a record (--record)",
            run.path.display()
        ),
    }
}

/// A record named after the argument that chose it when that was a run (its id), else as
/// [`Source::new`] names it.
fn source(arg: &Path, path: &Path) -> Source {
    let mut source = Source::new(path);
    if !arg.is_file()
        && let Some(name) = arg.file_name()
    {
        source.name = name.to_string_lossy().into_owned();
    }
    source
}
