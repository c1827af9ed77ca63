//! Starting a trainer: its thread, its rayon pool, its channels.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::builders::Builders;
use crate::preset::Preset;
use crate::record::Recorder;

use super::checkpoint::Checkpoint;
use super::checkpoint_dir::RunId;
use super::emit::{Clock, Emitter};
use super::handle::TrainerHandle;
use super::setup::Setup;
use super::throttle::{self, Outbox};
use super::trainer::{Settings, Trainer};
use crate::schema::Msg;

/// Everything a trainer needs to start.
pub struct TrainerConfig {
    /// The effective preset (after command-line overrides; from the checkpoint when resuming).
    pub preset: Preset,
    pub builders: Builders,
    /// Size of the trainer's rayon pool; `None` uses every core.
    pub threads: Option<usize>,
    /// The record, opened by the caller so a bad path fails before the run starts.
    pub record: Option<Recorder>,
    pub checkpoint_dir: Option<PathBuf>,
    /// Names this run's checkpoints (fresh for a resumed run too, so it never replaces the files
    /// of the run it continues).
    pub run: RunId,
    pub resume: Option<Checkpoint>,
    /// See [`Settings::halt_when_stalled`].
    pub halt_when_stalled: bool,
    /// Step batching interval (at most one `Msg::Steps` per interval).
    pub message_interval: Duration,
    /// Start with every lane paused (the first steps come from `Step` or `Resume`).
    pub start_paused: bool,
    /// See [`Settings::pace`].
    pub pace: Option<f64>,
    /// See [`Settings::max_grad_evals`].
    pub max_grad_evals: Option<u64>,
    /// See [`Settings::final_evaluation`].
    pub final_evaluation: bool,
}

impl TrainerConfig {
    pub fn new(preset: Preset) -> Self {
        Self {
            preset,
            builders: Builders::default(),
            threads: None,
            record: None,
            checkpoint_dir: None,
            run: RunId::new(),
            resume: None,
            halt_when_stalled: false,
            message_interval: throttle::INTERVAL,
            start_paused: false,
            pace: None,
            max_grad_evals: None,
            final_evaluation: false,
        }
    }
}

/// Starts a trainer thread. It builds the task inside the thread (tasks need not be `Send`) and
/// reports every failure, including a panic, as `Msg::Finished(Err)`.
pub fn spawn(config: TrainerConfig) -> Result<TrainerHandle> {
    let (command_tx, command_rx) = channel();
    let (message_tx, message_rx) = sync_channel(throttle::CAPACITY);
    let panic_tx = message_tx.clone();
    let thread = std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || {
            let run = AssertUnwindSafe(move || {
                let clock = Clock::starting_at(config.resume.as_ref().map_or(0.0, |c| c.elapsed_s));
                let outbox = Outbox::new(message_tx, config.message_interval);
                let mut emit = Emitter::new(outbox, config.record, clock);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(config.threads.unwrap_or(0))
                    .thread_name(|i| format!("trainer-{i}"))
                    .build();
                let pool = match pool {
                    Ok(pool) => pool,
                    Err(e) => return emit.finish(Err(format!("cannot start worker threads: {e}"))),
                };
                let settings = Settings {
                    preset: config.preset,
                    checkpoint_dir: config.checkpoint_dir,
                    run: config.run,
                    halt_when_stalled: config.halt_when_stalled,
                    start_paused: config.start_paused,
                    pace: config.pace,
                    max_grad_evals: config.max_grad_evals,
                    final_evaluation: config.final_evaluation,
                };
                pool.install(move || {
                    let setup =
                        Setup::build(&settings.preset, &config.builders, config.resume.as_ref());
                    match setup {
                        Ok(setup) => Trainer::new(settings, setup, emit, command_rx).run(),
                        Err(e) => emit.finish(Err(format!("{e:#}"))),
                    }
                })
            });
            if let Err(panic) = catch_unwind(run) {
                let text = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let _ = panic_tx.send(Msg::Finished(Err(format!("the trainer crashed: {text}"))));
            }
        })
        .context("cannot start the trainer thread")?;
    Ok(TrainerHandle::new(command_tx, message_rx, Some(thread)))
}
