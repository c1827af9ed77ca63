//! From command-line arguments to a trainer configuration: the preset (built-in, file or
//! checkpoint) with the command-line overrides applied and re-validated, the MNIST directory, the
//! record file and the checkpoint to resume. Everything that can be wrong with the input fails
//! here, before a thread starts.

pub mod spec_arg;
pub mod writable;

use anyhow::{Context, Result, bail};

use crate::builders::Builders;
use crate::cli::RunArgs;
use crate::optim::OptimizerSpec;
use crate::preset::Preset;
use crate::record::{Open, Recorder};
use crate::train::{Checkpoint, TrainerConfig};

/// The preset to use when `--preset` is not given.
pub const DEFAULT_PRESET: &str = "mnist";

/// Builds the trainer configuration of a run.
pub fn prepare_run(args: &RunArgs, builders: Builders) -> Result<TrainerConfig> {
    let (mut preset, resume) = match &args.resume {
        Some(path) => {
            let fixed = [
                ("--preset", args.preset.is_some()),
                ("--optimizer", args.optimizer.is_some()),
                ("--seed", args.seed.is_some()),
                ("--batch-size", args.batch_size.is_some()),
            ];
            if let Some((flag, _)) = fixed.iter().find(|(_, given)| *given) {
                bail!(
                    "--resume continues the checkpointed run with its own configuration; \
                     {flag} cannot be combined with it"
                );
            }
            let loaded = Checkpoint::open(path)?;
            for note in &loaded.notes {
                eprintln!("{note}");
            }
            let ck = loaded.checkpoint;
            (ck.preset()?, Some(ck))
        }
        None => {
            let name = args.preset.as_deref().unwrap_or(DEFAULT_PRESET);
            let mut preset = Preset::load_with(name, &builders)?;
            if let Some(entry) = &args.optimizer {
                set_optimizer(&mut preset, entry)?;
            }
            if let Some(seed) = args.seed {
                preset.seed = seed;
            }
            if let Some(b) = args.batch_size {
                set_batch_size(&mut preset, b)?;
            }
            (preset, None)
        }
    };
    if let Some(steps) = args.steps {
        preset.max_steps = Some(steps);
    }
    if let Some(n) = args.eval_interval {
        preset.eval_interval = n;
    }
    if let Some(n) = args.checkpoint_every {
        preset.checkpoint_interval = Some(n);
    }
    use_data_dir(&mut preset, args.data_dir.as_deref())?;
    preset
        .check(&builders)
        .context("invalid command-line override")?;
    if let Some(dir) = &args.checkpoint_dir {
        writable::check_dir(dir).context("--checkpoint-dir")?;
    }
    let open = match resume {
        Some(_) => Open::Append,
        None => Open::New { force: args.force },
    };
    let record = match &args.record {
        Some(path) => Some(Recorder::create(path, open)?),
        None => None,
    };
    let mut config = TrainerConfig::new(preset);
    config.builders = builders;
    config.threads = args.threads;
    config.record = record;
    config.checkpoint_dir = args.checkpoint_dir.clone();
    config.resume = resume;
    config.start_paused = args.paused;
    config.pace = match args.pace {
        Some(p) if !(p.is_finite() && p >= 0.0) => {
            anyhow::bail!("--pace must be a number of steps per second >= 0, got {p}")
        }
        Some(p) => (p > 0.0).then_some(p),
        None => config.preset.pace,
    };
    Ok(config)
}

/// Makes `entry` the starting optimizer; both it and the preset's former one stay offered.
pub fn set_optimizer(preset: &mut Preset, entry: &str) -> Result<()> {
    let arg = spec_arg::parse(entry, preset).context("--optimizer")?;
    let old = std::mem::replace(&mut preset.optimizer, arg.spec.clone());
    for spec in [old, arg.spec] {
        offer(&mut preset.alternatives, spec);
    }
    Ok(())
}

fn offer(alternatives: &mut Vec<OptimizerSpec>, spec: OptimizerSpec) {
    if !alternatives.contains(&spec) {
        alternatives.push(spec);
    }
}

/// Sets the minibatch size; only MNIST tasks have minibatches.
pub fn set_batch_size(preset: &mut Preset, batch_size: usize) -> Result<()> {
    if !preset.uses_mnist() {
        bail!(
            "--batch-size applies to the MNIST tasks; {} has no minibatches",
            preset.task.name
        );
    }
    preset.task.batch_size = Some(batch_size);
    Ok(())
}

/// Points MNIST tasks at their data (`--data-dir`, else the preset's, else the loader's default
/// places), checked now so a missing data set fails before the run starts, and its cache
/// verified now so what that says reaches stderr before a dashboard starts. The absolute path is
/// kept so checkpoints and records stay valid from another working directory.
pub fn use_data_dir(preset: &mut Preset, cli: Option<&std::path::Path>) -> Result<()> {
    if !preset.uses_mnist() {
        if cli.is_some() {
            bail!(
                "--data-dir applies to the MNIST tasks; {} reads no data set",
                preset.task.name
            );
        }
        return Ok(());
    }
    let explicit = cli.or(preset.task.data_dir.as_deref());
    let dir = crate::data::mnist::resolve_dir(explicit)?;
    crate::data::mnist::prepare_cache(&dir)?;
    preset.task.data_dir = Some(std::fs::canonicalize(&dir).unwrap_or(dir));
    Ok(())
}
