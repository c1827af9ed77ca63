//! Command-line interface.
//!
//! ```text
//! lodo-tui [--preset NAME|PATH] [--optimizer SPEC] [--steps N] [--seed S] [--batch-size B]
//!          [--record FILE.jsonl] [--checkpoint-dir DIR] [--resume FILE|DIR] [--headless]
//!          [--data-dir DIR] …
//! lodo-tui presets [NAME]
//! lodo-tui compare --preset NAME --optimizers SPEC,SPEC,… [--steps N | --grad-evals N] [--seeds S] …
//! lodo-tui plot RECORD.jsonl… -o FILE.png [--x steps|grad-evals|time] [--log-y] [--metric NAME] …
//! lodo-tui sample --resume CHECKPOINT [--count N] [--seed S] -o FILE.png
//! lodo-tui evaluate --resume CHECKPOINT [--json FILE] [--lane L]
//! lodo-tui … --detach | attach [ID] [--socket PATH] | ps [--json] [--all] | stop ID [--no-wait]
//! lodo-tui completions bash|zsh|fish|elvish|powershell
//! lodo-tui man
//! ```

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lodo-tui",
    version,
    about = "Watch LODO, a learned quasi-Newton optimizer, train",
    long_about = "Watch LODO, a learned quasi-Newton optimizer, train.\n\n\
        Without a subcommand, trains the preset in a terminal dashboard, or headless (progress on \
        stderr, summary on stdout) with --headless or when stdout is not a terminal.\n\n\
        Optimizer SPECs are a name, optionally followed by hyperparameters: \
        `adam`, `lodo:meta_lr=1e-5`, `lodo:lr=0.1,meta_lr=1e-5`. A bare name takes the preset's \
        hyperparameters for that optimizer; KEY=VALUE pairs override them.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Where run directories go [default: $LODO_TUI_RUNS_DIR, else
    /// $XDG_STATE_HOME/lodo-tui/runs, else ~/.local/state/lodo-tui/runs].
    #[arg(long, global = true, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the built-in presets, or print one as RON (a starting point for a preset file).
    Presets {
        /// A built-in preset to print.
        name: Option<String>,
    },
    /// Run optimizers × seeds headlessly from the same start and tabulate the results.
    Compare(CompareArgs),
    /// Draw run records as a PNG: loss or metric curves, or 2-D trajectories on the heat map.
    Plot(PlotArgs),
    /// Draw digits with a trained mnist-ar model from a checkpoint and save them as a PNG grid.
    Sample(SampleArgs),
    /// Evaluate a checkpoint's lanes as at the end of a run, including the costly final
    /// metrics (mnist-ar: validation loss over all 784 pixels of the held-out images, in nats).
    Evaluate(EvaluateArgs),
    /// Open the dashboard on a live run (default: the most recent one); `d` detaches again.
    Attach(AttachArgs),
    /// The dashboard, read-only, over run records, finished or still being written; several are
    /// overlaid as lanes of one dashboard for comparison.
    View(ViewArgs),
    /// List the live runs (with --all, the ended and dead ones too).
    Ps(PsArgs),
    /// Stop a run as `q` would (final checkpoint, summary) and wait for its summary.
    Stop(StopArgs),
    /// Delete finished and dead runs (or only their checkpoints) to free disk; lists what it
    /// would delete unless --yes. Never touches a live run.
    Prune(PruneArgs),
    /// Print a shell completion script: `lodo-tui completions bash > ~/.local/share/bash-completion/completions/lodo-tui`.
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `lodo-tui man > ~/.local/share/man/man1/lodo-tui.1`.
    Man,
}

/// Options of `lodo-tui attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The run's id, as `lodo-tui ps` lists it [default: the most recent live run].
    #[arg(value_name = "ID", conflicts_with = "socket")]
    pub id: Option<String>,
    /// Attach through this socket instead (e.g. one forwarded with `ssh -L`).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Draw the dashboard with ASCII only (automatic when the locale is not UTF-8).
    #[arg(long)]
    pub ascii: bool,
}

/// Options of `lodo-tui view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Records to show: a record file (`--record FILE.jsonl`), a run directory, or a run id as
    /// `lodo-tui ps --all` lists it (its record.jsonl).
    #[arg(value_name = "RECORD|RUN_DIR|ID", required = true)]
    pub records: Vec<PathBuf>,
    /// Draw the dashboard with ASCII only (automatic when the locale is not UTF-8).
    #[arg(long)]
    pub ascii: bool,
}

/// Options of `lodo-tui ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also list runs whose process is gone.
    #[arg(long)]
    pub all: bool,
    /// Every column whole, however wide (the default when the output is not a terminal).
    #[arg(long)]
    pub wide: bool,
}

/// Options of `lodo-tui prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete; without it, only list what would be deleted and the bytes that frees.
    #[arg(long)]
    pub yes: bool,
    /// Only runs whose files last changed longer ago than this (90s, 30m, 12h, 7d, 2w).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<crate::cmd::prune::Age>,
    /// Only runs that died without finishing (their record has no summary).
    #[arg(long)]
    pub dead: bool,
    /// Keep the N most recently started runs whose process is gone.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep: usize,
    /// Delete only checkpoints (all but each run's newest), keeping record, run.json and log.
    #[arg(long)]
    pub checkpoints_only: bool,
    /// With --checkpoints-only: the newest checkpoint too.
    #[arg(long, requires = "checkpoints_only")]
    pub drop_last: bool,
}

/// Options of `lodo-tui stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The run's id, as `lodo-tui ps` lists it.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Only ask the run to stop; do not wait for its summary.
    #[arg(long)]
    pub no_wait: bool,
}

/// Options of `lodo-tui evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// A checkpoint file, or a directory (its newest checkpoint).
    #[arg(long, visible_alias = "checkpoint", value_name = "FILE|DIR")]
    pub resume: PathBuf,
    /// Also write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Only this lane [default: every lane].
    #[arg(long, value_name = "L")]
    pub lane: Option<usize>,
    /// Directory with the four MNIST files [default: the checkpoint's, else as for a run].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Options of a training run.
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Built-in preset name or path to a .ron file [default: mnist].
    #[arg(long, value_name = "NAME|PATH")]
    pub preset: Option<String>,
    /// Starting optimizer, e.g. `adam` or `lodo:meta_lr=1e-5` (see above).
    #[arg(long, value_name = "SPEC")]
    pub optimizer: Option<String>,
    /// Stop after N steps (overrides the preset's max_steps; with --resume, the new total).
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// Seed of the task and optimizers.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Minibatch size (MNIST tasks).
    #[arg(long, value_name = "B")]
    pub batch_size: Option<usize>,
    /// Write a JSONL record of every step, evaluation and event (appends when resuming).
    #[arg(long, value_name = "FILE.jsonl")]
    pub record: Option<PathBuf>,
    /// Replace an existing --record file (without it, a run refuses to overwrite one).
    #[arg(long, requires = "record")]
    pub force: bool,
    /// Where checkpoints go; a final one is written when the run ends or is interrupted.
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Also write a checkpoint every N steps (keeps the latest two of these).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    /// Continue a run from a checkpoint file, or from the newest checkpoint in a directory.
    #[arg(long, value_name = "FILE|DIR")]
    pub resume: Option<PathBuf>,
    /// Print progress instead of showing the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// Directory with the four MNIST files [default: $LODO_TUI_DATA_DIR, else the source tree's
    /// assets/mnist, else ./assets/mnist].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Evaluate every N steps (overrides the preset).
    #[arg(long, value_name = "N")]
    pub eval_interval: Option<u64>,
    /// Worker threads for the model [default: all cores].
    #[arg(long, value_name = "N", value_parser = thread_count)]
    pub threads: Option<usize>,
    /// Draw the dashboard with ASCII only (automatic when the locale is not UTF-8).
    #[arg(long)]
    pub ascii: bool,
    /// Start the dashboard paused.
    #[arg(long)]
    pub paused: bool,
    /// At most N steps per second (0: full speed) [default: the preset's `pace` in the
    /// dashboard, full speed headless].
    #[arg(long, value_name = "N")]
    pub pace: Option<f64>,
    /// Start the run in the background, print its id and how to attach, and exit.
    #[arg(long, conflicts_with = "headless")]
    pub detach: bool,
    /// Internal: be the server process of the run in this (claimed) run directory.
    #[arg(long, hide = true, value_name = "DIR")]
    pub serve_run: Option<PathBuf>,
    /// Internal: how the server process was started.
    #[arg(long, hide = true, value_enum, requires = "serve_run")]
    pub serve_as: Option<ServeAs>,
}

/// How a run's server process was started (`--serve-as`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeAs {
    Dashboard,
    Detached,
}

/// Options of `lodo-tui compare`.
#[derive(Clone, Debug, Args)]
pub struct CompareArgs {
    /// Built-in preset name or path to a .ron file.
    #[arg(long, value_name = "NAME|PATH")]
    pub preset: String,
    /// Comma-separated optimizer SPECs, e.g. `lodo,adam:lr=3e-4,lodo:lr=0.1,meta_lr=1e-5`
    /// (may be repeated).
    #[arg(long, value_name = "SPECS", required = true)]
    pub optimizers: Vec<String>,
    /// Steps per run [default: the preset's max_steps].
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// Instead of a step count, stop each run once it has used N gradient evaluations (L-BFGS
    /// and O-LBFGS use two a step, so they take about N/2 steps).
    #[arg(long, value_name = "N", conflicts_with = "steps", value_parser = clap::value_parser!(u64).range(1..))]
    pub grad_evals: Option<u64>,
    /// Run seeds 0..S for every optimizer.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seeds: u64,
    /// Minibatch size (MNIST tasks).
    #[arg(long, value_name = "B")]
    pub batch_size: Option<usize>,
    /// Write the results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw the loss curves of every run into a PNG, one colour per optimizer entry.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    /// Write a JSONL record of every run into this directory.
    #[arg(long, value_name = "DIR")]
    pub record_dir: Option<PathBuf>,
    /// Replace records that already exist in --record-dir (without it, compare refuses to start).
    #[arg(long, requires = "record_dir")]
    pub force: bool,
    /// Write every run's final checkpoint into its own subdirectory of DIR, named like its
    /// record (`PRESET-ENTRY-seedS/`).
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Directory with the four MNIST files.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Evaluate every N steps (overrides the preset; the final evaluation always happens).
    #[arg(long, value_name = "N")]
    pub eval_interval: Option<u64>,
    /// Worker threads for the model [default: all cores].
    #[arg(long, value_name = "N", value_parser = thread_count)]
    pub threads: Option<usize>,
}

/// Options of `lodo-tui plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Run records (`--record` / `compare --record-dir` files).
    #[arg(value_name = "RECORD.jsonl", required = true)]
    pub records: Vec<PathBuf>,
    /// The PNG file to write.
    #[arg(short, long, value_name = "FILE.png")]
    pub output: PathBuf,
    /// Logarithmic y axis (values <= 0 are left out).
    #[arg(long)]
    pub log_y: bool,
    /// Moving average over N points (steps for the loss, evaluations for a metric); the raw
    /// curve stays behind, faint.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub smooth: Option<u32>,
    /// With --smooth: draw only the smoothed curves, not the faint raw ones behind them.
    #[arg(long, requires = "smooth")]
    pub no_raw: bool,
    /// Corner of the legend box.
    #[arg(long, value_enum, value_name = "CORNER", default_value = "upper-right")]
    pub legend: crate::cmd::plot::curves::LegendCorner,
    /// Plot this evaluation metric (e.g. hessian_error, val_loss) instead of the training loss.
    #[arg(long, value_name = "NAME")]
    pub metric: Option<String>,
    /// The x axis: steps, gradient evaluations (records written since they are counted) or
    /// wall time in seconds.
    #[arg(long, value_enum, value_name = "AXIS", default_value = "steps")]
    pub x: crate::cmd::plot::XAxis,
    /// Title above the chart [default: the task and what is plotted].
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Draw each lane's path over the task's heat map of log10 f (2-D tasks: rosenbrock).
    #[arg(long, conflicts_with_all = ["metric", "log_y", "smooth"])]
    pub trajectories: bool,
    /// One colour per seed instead of one per optimizer.
    #[arg(long)]
    pub separate_seeds: bool,
    /// Picture size in pixels.
    #[arg(long, value_name = "WxH", default_value = "1200x700", value_parser = crate::cmd::plot::parse_size)]
    pub size: (u32, u32),
}

/// Options of `lodo-tui sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// An mnist-ar checkpoint file, or a directory (its newest checkpoint).
    #[arg(long, visible_alias = "checkpoint", value_name = "FILE|DIR")]
    pub resume: PathBuf,
    /// The PNG file to write.
    #[arg(short, long, value_name = "FILE.png")]
    pub output: PathBuf,
    /// Number of digits.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub count: usize,
    /// Seed of the sampling.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Digits per row of the grid [default: ⌈√count⌉].
    #[arg(long, value_name = "C")]
    pub cols: Option<usize>,
    /// Screen pixels per digit pixel.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub scale: usize,
    /// Which lane of the checkpoint (0 = the first).
    #[arg(long, value_name = "L", default_value_t = 0)]
    pub lane: usize,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N", value_parser = thread_count)]
    pub threads: Option<usize>,
}

/// More worker threads than this only slows training (measured: `--threads 1000` made a run 17×
/// slower); zero would be taken as "all cores".
pub fn max_threads() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `--threads N`: 1..=[`max_threads`].
fn thread_count(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    let max = max_threads();
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be 1..={max} (4 per core)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_documented_flags_parse() {
        let cli = Cli::try_parse_from([
            "lodo-tui",
            "--preset",
            "quadratic",
            "--optimizer",
            "adam",
            "--steps",
            "10",
            "--seed",
            "3",
            "--batch-size",
            "32",
            "--record",
            "r.jsonl",
            "--checkpoint-dir",
            "ck",
            "--resume",
            "ck/x.ckpt",
            "--headless",
            "--data-dir",
            "d",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.preset.as_deref(), Some("quadratic"));
        assert_eq!(cli.run.steps, Some(10));
        assert!(cli.run.headless);

        let cli = Cli::try_parse_from([
            "lodo-tui",
            "compare",
            "--preset",
            "rosenbrock",
            "--optimizers",
            "lodo,adam:lr=0.1,beta1=0.8",
            "--optimizers",
            "momentum",
            "--seeds",
            "2",
            "--json",
            "out.json",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Compare(c)) => {
                assert_eq!(c.optimizers.len(), 2);
                assert_eq!(c.seeds, 2);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "lodo-tui", "sample", "--resume", "ck", "-o", "d.png", "--count", "4", "--seed", "7",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Sample(s)) => {
                assert_eq!((s.count, s.seed, s.scale, s.lane), (4, 7, 3, 0));
                assert_eq!(s.output, PathBuf::from("d.png"));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["lodo-tui", "sample", "--resume", "ck"]).is_err());
        let compare = |extra: &[&str]| {
            let mut argv = vec![
                "lodo-tui",
                "compare",
                "--preset",
                "p",
                "--optimizers",
                "adam",
            ];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv)
        };
        match compare(&["--grad-evals", "500"]).unwrap().command {
            Some(Command::Compare(c)) => assert_eq!((c.grad_evals, c.steps), (Some(500), None)),
            other => panic!("{other:?}"),
        }
        assert!(compare(&["--grad-evals", "500", "--steps", "10"]).is_err());
        assert!(compare(&["--grad-evals", "0"]).is_err());
        assert!(Cli::try_parse_from(["lodo-tui", "--steps", "5", "presets"]).is_err());
        // Every run has a checkpoint directory now (its run directory's, by default).
        assert!(Cli::try_parse_from(["lodo-tui", "--checkpoint-every", "5"]).is_ok());
        assert!(Cli::try_parse_from(["lodo-tui", "--detach", "--headless"]).is_err());
        let cli = Cli::try_parse_from(["lodo-tui", "ps", "--json", "--runs-dir", "r"]).unwrap();
        assert_eq!(cli.runs_dir, Some(PathBuf::from("r")));
        assert!(matches!(
            cli.command,
            Some(Command::Ps(PsArgs {
                json: true,
                all: false,
                ..
            }))
        ));
        assert!(Cli::try_parse_from(["lodo-tui", "attach", "x", "--socket", "s"]).is_err());
        for bad in ["0".to_string(), (max_threads() + 1).to_string()] {
            for sub in [
                &["lodo-tui"][..],
                &["lodo-tui", "compare", "--optimizers", "sgd"],
            ] {
                let e = Cli::try_parse_from(sub.iter().copied().chain(["--threads", &bad]))
                    .unwrap_err()
                    .to_string();
                assert!(e.contains("must be 1..="), "{bad}: {e}");
            }
        }
        let ok = Cli::try_parse_from(["lodo-tui", "--threads", "1"]).unwrap();
        assert_eq!(ok.run.threads, Some(1));
    }
}
