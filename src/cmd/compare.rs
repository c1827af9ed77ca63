//! `lodo-tui compare`: every optimizer × seed, headless, one after another. For a given seed every
//! run builds the same task, so all optimizers start from the same parameters and see the same
//! minibatch stream. Prints markdown tables and optionally writes JSON and per-run records.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::plot;
use crate::builders::Builders;
use crate::cli::CompareArgs;
use crate::format::cell;
use crate::headless;
use crate::launch::{self, spec_arg::SpecArg, writable};
use crate::optim::OptimizerSpec;
use crate::preset::Preset;
use crate::record::{Open, Recorder};
use crate::table::markdown;
use crate::task::Metrics;
use crate::train::{self, Command, TrainerConfig, checkpoint_dir};

/// The JSON written by `--json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub preset: String,
    pub task: String,
    /// The step limit of every run (with `grad_evals`, a bound it never reaches first).
    pub steps: u64,
    /// The gradient-evaluation budget of every run (`--grad-evals`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_evals: Option<u64>,
    pub seeds: u64,
    pub batch_size: Option<usize>,
    pub runs: Vec<RunResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The entry as given on the command line, e.g. `lodo:meta_lr=1e-5`.
    pub optimizer: String,
    /// Its complete hyperparameters.
    pub spec: OptimizerSpec,
    pub seed: u64,
    /// Steps actually taken (fewer than asked if the run diverged or was interrupted).
    pub steps: u64,
    /// Gradient evaluations used: one per step plus the optimizer's same-minibatch
    /// re-evaluations (`None` in reports written before they were counted).
    #[serde(default)]
    pub grad_evals: Option<u64>,
    #[serde(deserialize_with = "crate::jsonfloat::f32_or_nan")]
    pub final_loss: f32,
    #[serde(deserialize_with = "crate::jsonfloat::f32_or_nan")]
    pub mean_loss_last_10pct: f32,
    #[serde(deserialize_with = "crate::jsonfloat::f32_or_nan")]
    pub best_loss: f32,
    pub diverged: bool,
    #[serde(deserialize_with = "crate::jsonfloat::f64_or_nan")]
    pub steps_per_s: f64,
    #[serde(deserialize_with = "crate::jsonfloat::f64_or_nan")]
    pub task_ms_median: f64,
    #[serde(deserialize_with = "crate::jsonfloat::f64_or_nan")]
    pub optimizer_ms_median: f64,
    #[serde(deserialize_with = "crate::jsonfloat::metrics")]
    pub metrics: Metrics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<PathBuf>,
    /// The run's final checkpoint (with `--checkpoint-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
    /// Ctrl-C stopped the run before its last step.
    #[serde(default)]
    pub interrupted: bool,
    /// What the run failed to save (its record, its checkpoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
}

/// Lets Ctrl-C stop the run in progress and skip the rest, keeping the results so far.
#[derive(Clone, Default)]
pub struct Interrupt {
    current: Arc<Mutex<Option<Sender<Command>>>>,
    stopped: Arc<AtomicBool>,
}

impl Interrupt {
    /// Stops the run in progress and the ones after it; `true` if this had been asked before.
    pub fn trigger(&self) -> bool {
        let again = self.stopped.swap(true, Ordering::SeqCst);
        if let Ok(current) = self.current.lock()
            && let Some(tx) = current.as_ref()
        {
            let _ = tx.send(Command::Quit);
        }
        again
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn watch(&self, commands: Option<Sender<Command>>) {
        if let Ok(mut current) = self.current.lock() {
            *current = commands;
        }
    }
}

/// Every place the comparison will write, checked before the first run: the `--json` and
/// `--plot` files, the directories, and records that would replace existing ones.
fn check_outputs(args: &CompareArgs, preset: &str, entries: &[SpecArg]) -> Result<()> {
    for (flag, path) in [("--json", &args.json), ("--plot", &args.plot)] {
        if let Some(path) = path {
            writable::check_file(path).context(flag)?;
        }
    }
    if let Some(dir) = &args.checkpoint_dir {
        writable::check_dir(dir).context("--checkpoint-dir")?;
    }
    let Some(dir) = &args.record_dir else {
        return Ok(());
    };
    writable::check_dir(dir).context("--record-dir")?;
    if args.force {
        return Ok(());
    }
    for seed in 0..args.seeds {
        for entry in entries {
            let path = dir.join(record_name(preset, &entry.label, seed));
            if path.metadata().is_ok_and(|m| m.len() > 0) {
                bail!(
                    "record {} already exists; pass --force to replace the records in {}",
                    path.display(),
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

/// Runs the comparison, prints its tables, writes `--json`.
pub fn run(args: &CompareArgs, builders: Builders) -> Result<()> {
    let interrupt = Interrupt::default();
    let on_ctrl_c = interrupt.clone();
    ctrlc::set_handler(move || {
        if on_ctrl_c.trigger() {
            eprintln!("interrupted again: exiting without waiting");
            std::process::exit(crate::exit::INTERRUPTED_TWICE);
        }
        eprintln!("interrupted: finishing the current run (again to exit at once)");
    })
    .context("cannot install the Ctrl-C handler")?;
    // The plot is drawn from the records: without --record-dir they go to a scratch directory.
    let scratch = match (&args.plot, &args.record_dir) {
        (Some(_), None) => Some(ScratchDir::create()?),
        _ => None,
    };
    let mut args = args.clone();
    if let Some(dir) = &scratch {
        args.record_dir = Some(dir.path.clone());
    }
    let mut report = compare(&args, builders, &interrupt)?;
    print!("{}", tables(&report));
    if interrupt.stopped() {
        eprintln!("interrupted: the tables show the runs so far");
    }
    let lost: Vec<String> = report.runs.iter().flat_map(|r| r.lost.clone()).collect();
    if let Some(png) = &args.plot {
        let drawn = plot_runs(&report, png)?;
        eprintln!("wrote {} ({} curves)", png.display(), drawn.series);
    }
    if scratch.is_some() {
        report.runs.iter_mut().for_each(|r| r.record = None);
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        crate::output_file::write_private(path, (text + "\n").as_bytes())?;
    }
    if lost.is_empty() {
        Ok(())
    } else {
        Err(crate::exit::DataLost(lost).into())
    }
}

/// A directory for records nobody asked to keep, removed when dropped.
struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    fn create() -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let stem = format!("lodo-tui-compare-{}-{nanos}", std::process::id());
        Self::create_in(&std::env::temp_dir(), &stem)
    }

    /// A new private directory `stem-N` under `root`: the temporary directory is shared with
    /// other users, so an existing name (anyone's) is never reused.
    fn create_in(root: &Path, stem: &str) -> Result<Self> {
        let (_, path) = crate::run::dir::claim_fresh(root, 0, |n| format!("{stem}-{n}"))
            .context("cannot create a directory for the plot's records")?;
        Ok(Self { path })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Runs of at least this many steps are drawn smoothed (see [`plot_runs`]).
const SMOOTH_FROM_STEPS: u64 = 1000;
/// Losses spanning more than this ratio are drawn on a log axis.
const LOG_FROM_RATIO: f64 = 1e3;

/// The loss curves of every run with a record, one colour per optimizer entry (its seeds share
/// it). Long runs are smoothed over 1% of the steps, raw curves faint behind; losses spanning
/// more than three decades go on a log axis. `lodo-tui plot` redraws the records otherwise.
pub fn plot_runs(report: &Report, png: &Path) -> Result<plot::Drawn> {
    let mut inputs = Vec::new();
    for run in &report.runs {
        if let Some(path) = &run.record {
            inputs.push(plot::Input {
                path: path.clone(),
                record: crate::record::read(path)?,
                label: Some(run.optimizer.clone()),
            });
        }
    }
    if inputs.is_empty() {
        bail!("no run finished, so there is nothing to plot");
    }
    let losses = inputs
        .iter()
        .flat_map(|i| i.record.steps.iter().map(|s| f64::from(s.loss)));
    let (lo, hi) = losses.fold((f64::INFINITY, 0.0f64), |(lo, hi), l| {
        (lo.min(l), hi.max(l))
    });
    let mut options = plot::Options::curves(png);
    if report.grad_evals.is_some() {
        options.x = plot::XAxis::GradEvals;
    }
    options.log_y = lo > 0.0 && hi / lo > LOG_FROM_RATIO;
    if report.steps >= SMOOTH_FROM_STEPS {
        options.smooth = Some((report.steps / 100) as usize);
    }
    options.title = Some(format!(
        "{}: training loss, {}{}",
        report.preset,
        match report.grad_evals {
            Some(n) => format!("{} gradient evaluations", crate::format::thousands(n)),
            None => format!("{} steps", crate::format::thousands(report.steps)),
        },
        if report.seeds > 1 {
            format!(", seeds 0..{}", report.seeds)
        } else {
            String::new()
        }
    ));
    plot::plot(&inputs, &options)
}

/// Every run, without printing the tables.
pub fn compare(args: &CompareArgs, builders: Builders, interrupt: &Interrupt) -> Result<Report> {
    let mut base = Preset::load_with(&args.preset, &builders)?;
    if let Some(b) = args.batch_size {
        launch::set_batch_size(&mut base, b)?;
    }
    if let Some(n) = args.eval_interval {
        base.eval_interval = n;
    }
    launch::use_data_dir(&mut base, args.data_dir.as_deref())?;
    // Every step takes at least one gradient evaluation, so a budget of N is also a bound of N
    // steps.
    let steps = match args.grad_evals.or(args.steps).or(base.max_steps) {
        Some(0) if args.grad_evals.is_some() => bail!("--grad-evals must be at least 1"),
        Some(0) => bail!("--steps must be at least 1"),
        Some(steps) => steps,
        None => bail!(
            "--steps or --grad-evals is required: preset {} sets no max_steps",
            base.name
        ),
    };
    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let entries = launch::spec_arg::parse_lists(&args.optimizers, &base)?;
    for e in &entries {
        builders
            .check_optimizer(&e.spec)
            .with_context(|| format!("`{}`", e.label))?;
    }
    check_outputs(args, &base.name, &entries)?;
    let mut runs = Vec::new();
    'seeds: for seed in 0..args.seeds {
        for entry in &entries {
            if interrupt.stopped() {
                break 'seeds;
            }
            runs.push(run_one(
                &base, entry, seed, steps, args, builders, interrupt,
            )?);
        }
    }
    Ok(Report {
        preset: base.name.clone(),
        task: base.task.name.clone(),
        steps,
        grad_evals: args.grad_evals,
        seeds: args.seeds,
        batch_size: base.task.batch_size,
        runs,
    })
}

fn run_one(
    base: &Preset,
    entry: &SpecArg,
    seed: u64,
    steps: u64,
    args: &CompareArgs,
    builders: Builders,
    interrupt: &Interrupt,
) -> Result<RunResult> {
    let mut preset = base.clone();
    preset.seed = seed;
    preset.optimizer = entry.spec.clone();
    preset.max_steps = Some(steps);
    preset.checkpoint_interval = None;
    let record = args
        .record_dir
        .as_ref()
        .map(|dir| dir.join(record_name(&base.name, &entry.label, seed)));
    let checkpoint_dir = args
        .checkpoint_dir
        .as_ref()
        .map(|dir| dir.join(run_name(&base.name, &entry.label, seed)));
    let mut config = TrainerConfig::new(preset.clone());
    config.builders = builders;
    config.threads = args.threads;
    config.halt_when_stalled = true;
    config.max_grad_evals = args.grad_evals;
    config.final_evaluation = true;
    config.checkpoint_dir = checkpoint_dir.clone();
    let run = config.run.clone();
    config.record = match &record {
        Some(path) => Some(Recorder::create(path, Open::New { force: args.force })?),
        None => None,
    };
    let handle = train::spawn(config)?;
    interrupt.watch(Some(handle.commands.clone()));
    let options = headless::Options {
        color: false,
        label: Some(format!("{} seed {seed}", entry.label)),
        after_start: None,
    };
    let result = headless::run(&handle, &options);
    interrupt.watch(None);
    handle.shutdown()?;
    let summary = result.with_context(|| format!("run `{}` seed {seed}", entry.label))?;
    let lost = summary.lost;
    let lane = summary
        .lanes
        .into_iter()
        .next()
        .context("the run reported no lane")?;
    let interrupted = interrupt.stopped() && lane.steps < steps && !lane.diverged;
    // The final checkpoint is named after the step the run stopped at.
    let checkpoint = checkpoint_dir
        .map(|dir| {
            dir.join(checkpoint_dir::file_name(
                &preset.name,
                preset.seed,
                &run,
                lane.steps,
            ))
        })
        .filter(|path| path.is_file());
    Ok(RunResult {
        optimizer: entry.label.clone(),
        spec: entry.spec.clone(),
        seed,
        steps: lane.steps,
        grad_evals: lane.grad_evals,
        final_loss: lane.final_loss,
        mean_loss_last_10pct: lane.mean_loss_last_10pct,
        best_loss: lane.best_loss,
        diverged: lane.diverged,
        steps_per_s: lane.steps_per_s,
        task_ms_median: lane.task_ms_median,
        optimizer_ms_median: lane.optimizer_ms_median,
        metrics: lane.metrics,
        record,
        checkpoint,
        interrupted,
        lost,
    })
}

/// `PRESET-ENTRY-seedS.jsonl`, see [`run_name`].
pub fn record_name(preset: &str, label: &str, seed: u64) -> String {
    format!("{}.jsonl", run_name(preset, label, seed))
}

/// `PRESET-ENTRY-seedS`, with the entry's `:` and `,` made file-name friendly: the name of a
/// run's record and of its checkpoint directory.
pub fn run_name(preset: &str, label: &str, seed: u64) -> String {
    let entry: String = label
        .chars()
        .map(|c| {
            if c == ':' || c == ',' || c == '/' {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{preset}-{entry}-seed{seed}")
}

/// The per-run table, and a per-optimizer one (mean ± sd over seeds) when there are several.
pub fn tables(report: &Report) -> String {
    let metric_names =
        crate::table::metric_columns(report.runs.iter().flat_map(|r| r.metrics.keys()));
    let mut headers: Vec<String> = [
        "optimizer",
        "seed",
        "steps",
        "grad evals",
        "final loss",
        "mean loss last 10%",
        "best loss",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    headers.extend(metric_names.iter().map(|m| m.to_string()));
    headers.extend(["steps/s", "task ms", "optimizer ms", "diverged"].map(String::from));
    let rows: Vec<Vec<String>> = report
        .runs
        .iter()
        .map(|r| {
            let mut row = vec![
                optimizer_cell(r, report.steps),
                r.seed.to_string(),
                r.steps.to_string(),
                r.grad_evals.map_or("-".into(), |n| n.to_string()),
                cell(r.final_loss as f64),
                cell(r.mean_loss_last_10pct as f64),
                cell(r.best_loss as f64),
            ];
            row.extend(
                metric_names
                    .iter()
                    .map(|m| r.metrics.get(*m).map_or("-".into(), |v| cell(*v))),
            );
            row.extend([
                cell(r.steps_per_s),
                cell(r.task_ms_median),
                cell(r.optimizer_ms_median),
                diverged_cell(r),
            ]);
            row
        })
        .collect();
    let budget = match report.grad_evals {
        Some(n) => format!("{n} gradient evaluations"),
        None => format!("{} steps", report.steps),
    };
    let mut out = format!(
        "## {} ({}): {budget}, seeds 0..{}\n\n{}",
        report.preset,
        report.task,
        report.seeds,
        markdown(&headers, &rows)
    );
    if report.seeds > 1 {
        out.push('\n');
        out.push_str(&aggregate_table(report));
    }
    out
}

/// The entry, marked when Ctrl-C cut the run short (its numbers are not the full run's).
fn optimizer_cell(r: &RunResult, steps: u64) -> String {
    if r.interrupted {
        format!(
            "{} (interrupted at {} of {})",
            r.optimizer,
            crate::format::thousands(r.steps),
            crate::format::thousands(steps)
        )
    } else {
        r.optimizer.clone()
    }
}

fn diverged_cell(r: &RunResult) -> String {
    if r.diverged {
        format!("yes (at {})", r.steps)
    } else {
        "no".into()
    }
}

fn aggregate_table(report: &Report) -> String {
    let mut labels: Vec<&String> = Vec::new();
    for r in &report.runs {
        if !labels.contains(&&r.optimizer) {
            labels.push(&r.optimizer);
        }
    }
    let headers: Vec<String> = [
        "optimizer",
        "runs",
        "final loss",
        "mean loss last 10%",
        "diverged",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = labels
        .iter()
        .map(|label| {
            let runs: Vec<&RunResult> = report
                .runs
                .iter()
                .filter(|r| &r.optimizer == *label)
                .collect();
            let finals: Vec<f64> = runs.iter().map(|r| r.final_loss as f64).collect();
            let tails: Vec<f64> = runs.iter().map(|r| r.mean_loss_last_10pct as f64).collect();
            let diverged = runs.iter().filter(|r| r.diverged).count();
            let cut = runs.iter().filter(|r| r.interrupted).count();
            vec![
                label.to_string(),
                if cut > 0 {
                    format!("{} ({cut} interrupted)", runs.len())
                } else {
                    runs.len().to_string()
                },
                mean_sd(&finals),
                mean_sd(&tails),
                format!("{diverged}/{}", runs.len()),
            ]
        })
        .collect();
    markdown(&headers, &rows)
}

/// `mean ± sd` (sample standard deviation), `-` when empty.
fn mean_sd(xs: &[f64]) -> String {
    if xs.is_empty() {
        return "-".into();
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() == 1 {
        return cell(mean);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    format!("{} ± {}", cell(mean), cell(var.sqrt()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn scratch_directories_are_fresh_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        // Someone else's directory with the first name: never written into.
        let taken = root.path().join("s-0");
        std::fs::create_dir(&taken).unwrap();
        std::fs::set_permissions(&taken, std::fs::Permissions::from_mode(0o755)).unwrap();
        let first = super::ScratchDir::create_in(root.path(), "s").unwrap();
        let second = super::ScratchDir::create_in(root.path(), "s").unwrap();
        assert_eq!(first.path, root.path().join("s-1"));
        assert_eq!(second.path, root.path().join("s-2"));
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&first.path), 0o700);
        assert_eq!(mode(&taken), 0o755);
        let path = first.path.clone();
        drop(first);
        assert!(!path.exists());
        assert!(taken.is_dir());
    }

    use super::*;
    use crate::testkit;
    use crate::train::Checkpoint;

    const PRESET: &str = r#"(
        name: "bowl",
        description: "test bowl",
        task: (name: "quadratic", dim: 5),
        optimizer: (name: "lodo", lr: 0.5),
        alternatives: [(name: "momentum", lr: 0.2)],
        eval_interval: 10,
    )"#;

    fn args(dir: &Path, optimizers: &str, seeds: u64) -> CompareArgs {
        let preset = dir.join("bowl.ron");
        std::fs::write(&preset, PRESET).unwrap();
        CompareArgs {
            preset: preset.display().to_string(),
            optimizers: vec![optimizers.into()],
            steps: Some(30),
            grad_evals: None,
            seeds,
            batch_size: None,
            json: None,
            plot: None,
            record_dir: Some(dir.join("records")),
            force: false,
            checkpoint_dir: None,
            data_dir: None,
            eval_interval: None,
            threads: Some(1),
        }
    }

    #[test]
    fn every_optimizer_and_seed_from_the_same_start() {
        let dir = tempfile::tempdir().unwrap();
        let a = args(dir.path(), "lodo,momentum,sgd:lr=0.3", 2);
        let report = compare(&a, testkit::builders(), &Interrupt::default()).unwrap();
        assert_eq!(report.runs.len(), 6);
        assert_eq!(report.steps, 30);
        // The preset's hyperparameters for momentum, the entry's for sgd.
        assert_eq!(report.runs[1].spec.lr, Some(0.2));
        assert_eq!(report.runs[2].spec.lr, Some(0.3));
        let first_loss = |r: &RunResult| {
            let rec = crate::record::read(r.record.as_ref().unwrap()).unwrap();
            assert_eq!(rec.steps.len(), 30);
            rec.steps[0].loss
        };
        let seed0: Vec<f32> = report.runs[..3].iter().map(first_loss).collect();
        let seed1: Vec<f32> = report.runs[3..].iter().map(first_loss).collect();
        assert!(seed0.iter().all(|l| *l == seed0[0]), "{seed0:?}");
        assert!(seed1.iter().all(|l| *l == seed1[0]), "{seed1:?}");
        assert_ne!(seed0[0], seed1[0]);
        for r in &report.runs {
            assert_eq!(r.steps, 30);
            assert!(r.final_loss.is_finite() && !r.diverged);
            assert!(r.metrics.contains_key("distance"));
        }
        let text = tables(&report);
        assert!(
            text.starts_with("## bowl (quadratic): 30 steps, seeds 0..2\n\n| optimizer"),
            "{text}"
        );
        assert!(text.contains("| sgd:lr=0.3 | 2    |"), "{text}");
    }

    #[test]
    fn json_report_round_trips_and_records_divergence() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), "sgd:lr=3", 1);
        a.json = Some(dir.path().join("out.json"));
        let report = compare(&a, testkit::builders(), &Interrupt::default()).unwrap();
        let run = &report.runs[0];
        assert!(run.diverged);
        assert!(run.steps < 30);
        let text = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back.runs[0].steps, run.steps);
        assert!(tables(&report).contains(&format!("yes (at {})", run.steps)));
    }

    #[test]
    fn every_run_leaves_its_own_final_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), "lodo,momentum,sgd:lr=3", 1);
        a.checkpoint_dir = Some(dir.path().join("ck"));
        let report = compare(&a, testkit::builders(), &Interrupt::default()).unwrap();
        let mut params = Vec::new();
        for (r, name) in report.runs.iter().zip(["lodo", "momentum", "sgd"]) {
            let path = r.checkpoint.as_ref().unwrap();
            assert_eq!(
                path.parent().unwrap(),
                dir.path()
                    .join("ck")
                    .join(run_name("bowl", &r.optimizer, 0))
            );
            let ck = Checkpoint::load(path).unwrap();
            assert_eq!(ck.step(), r.steps, "{}", r.optimizer);
            assert_eq!(ck.preset().unwrap().optimizer.name, name);
            assert_eq!(ck.lanes[0].optimizers().unwrap()[0].origin.name, name);
            params.push(ck.lanes[0].params.clone());
        }
        // The diverged run's checkpoint is there too, at the step it stopped.
        assert!(report.runs[2].diverged && report.runs[2].steps < 30);
        assert_ne!(params[0], params[1]);
        let text = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back.runs[1].checkpoint, report.runs[1].checkpoint);
        // Without the flag nothing is written and the JSON has no `checkpoint` field.
        let mut again = args(dir.path(), "momentum", 1);
        again.force = true;
        let plain = compare(&again, testkit::builders(), &Interrupt::default()).unwrap();
        assert_eq!(plain.runs[0].checkpoint, None);
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("checkpoint")
        );
    }

    #[test]
    fn a_gradient_evaluation_budget_gives_two_evaluation_optimizers_half_the_steps() {
        // The test `lbfgs` re-evaluates its minibatch once a step (testkit): 2 evaluations a step.
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), "sgd:lr=0.1,lbfgs:lr=0.1", 1);
        a.steps = None;
        a.grad_evals = Some(30);
        a.json = Some(dir.path().join("out.json"));
        let report = compare(&a, testkit::builders(), &Interrupt::default()).unwrap();
        let taken: Vec<(u64, Option<u64>)> = report
            .runs
            .iter()
            .map(|r| (r.steps, r.grad_evals))
            .collect();
        assert_eq!(taken, [(30, Some(30)), (15, Some(30))]);
        let rec = crate::record::read(report.runs[1].record.as_ref().unwrap()).unwrap();
        assert_eq!(rec.steps.last().map(|s| s.grad_evals), Some(Some(30)));
        let text = tables(&report);
        assert!(
            text.starts_with("## bowl (quadratic): 30 gradient evaluations, seeds 0..1"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["grad_evals"], 30);
        assert_eq!(json["runs"][1]["grad_evals"], 30);
        // A report written before the count reads back with it unknown.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("grad_evals");
        for run in old["runs"].as_array_mut().unwrap() {
            run.as_object_mut().unwrap().remove("grad_evals");
        }
        let back: Report = serde_json::from_value(old).unwrap();
        assert_eq!((back.grad_evals, back.runs[0].grad_evals), (None, None));
    }

    #[test]
    fn bad_entries_fail_before_any_run() {
        let dir = tempfile::tempdir().unwrap();
        let a = args(dir.path(), "lodo,sgd:lr=-1", 1);
        let e = compare(&a, testkit::builders(), &Interrupt::default()).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "`sgd:lr=-1`: sgd: lr must be positive (got -1)"
        );
        assert!(!dir.path().join("records").exists());
        let mut a = args(dir.path(), "lodo", 1);
        a.steps = None;
        let e = compare(&a, testkit::builders(), &Interrupt::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--steps or --grad-evals is required: preset bowl sets no max_steps"
        );
    }

    #[test]
    fn zero_steps_and_unwritable_outputs_are_refused_before_any_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), "lodo", 1);
        a.steps = Some(0);
        let e = compare(&a, testkit::builders(), &Interrupt::default()).unwrap_err();
        assert_eq!(e.to_string(), "--steps must be at least 1");
        for (json, plot) in [(Some("nope/out.json"), None), (None, Some("nope/out.png"))] {
            let mut a = args(dir.path(), "lodo", 1);
            a.json = json.map(|j| dir.path().join(j));
            a.plot = plot.map(|p| dir.path().join(p));
            let e = format!(
                "{:#}",
                compare(&a, testkit::builders(), &Interrupt::default()).unwrap_err()
            );
            let flag = if json.is_some() { "--json" } else { "--plot" };
            assert!(e.starts_with(&format!("{flag}: cannot write")), "{e}");
            assert!(e.contains("does not exist"), "{e}");
            assert!(!dir.path().join("records").exists(), "no run started");
        }
    }

    #[test]
    fn existing_records_are_refused_up_front_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let a = args(dir.path(), "lodo,momentum", 1);
        compare(&a, testkit::builders(), &Interrupt::default()).unwrap();
        let lodo = dir
            .path()
            .join("records")
            .join(record_name("bowl", "lodo", 0));
        let before = std::fs::read(&lodo).unwrap();
        // The second entry's record exists too; the first run must not start either.
        let e = compare(&a, testkit::builders(), &Interrupt::default()).unwrap_err();
        assert!(
            e.to_string().ends_with(&format!(
                "bowl-lodo-seed0.jsonl already exists; pass --force to replace the records in {}",
                dir.path().join("records").display()
            )),
            "{e}"
        );
        assert_eq!(std::fs::read(&lodo).unwrap(), before);
        let mut forced = a.clone();
        forced.force = true;
        let report = compare(&forced, testkit::builders(), &Interrupt::default()).unwrap();
        assert_eq!(report.runs.len(), 2);
    }

    #[test]
    fn a_run_cut_short_by_ctrl_c_is_marked() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(dir.path(), "lodo,momentum", 1);
        a.steps = Some(1_000_000_000);
        let interrupt = Interrupt::default();
        let trigger = interrupt.clone();
        let records = dir.path().join("records");
        let stopper = std::thread::spawn(move || {
            // Once the first run is under way (its record exists), as a user's Ctrl-C would.
            while std::fs::read_dir(&records).map_or(true, |mut d| d.next().is_none()) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            trigger.trigger();
        });
        let report = compare(&a, testkit::builders(), &interrupt).unwrap();
        stopper.join().unwrap();
        assert_eq!(report.runs.len(), 1, "the runs after it are skipped");
        let run = &report.runs[0];
        assert!(run.interrupted && !run.diverged && run.steps < 1_000_000_000);
        let text = tables(&report);
        let mark = format!(
            "| lodo (interrupted at {} of 1,000,000,000) | 0 ",
            crate::format::thousands(run.steps)
        );
        assert!(text.contains(&mark), "{text}");
    }

    #[test]
    fn an_interrupt_keeps_the_runs_so_far() {
        let dir = tempfile::tempdir().unwrap();
        let a = args(dir.path(), "lodo,momentum", 1);
        let interrupt = Interrupt::default();
        interrupt.trigger();
        let report = compare(&a, testkit::builders(), &interrupt).unwrap();
        assert!(report.runs.is_empty());
        assert_eq!(
            record_name("mnist", "lodo:lr=0.1,meta_lr=1e-5", 2),
            "mnist-lodo_lr=0.1_meta_lr=1e-5-seed2.jsonl"
        );
        assert_eq!(mean_sd(&[1.0, 3.0]), "2.000 ± 1.414");
    }
}
