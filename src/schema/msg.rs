//! Messages from the trainer to its observers (dashboard, headless printer, recorder) and
//! commands back.

use serde::{Deserialize, Serialize};

use crate::optim::{OptimizerSpec, StepStats};
use crate::task::{Metrics, TaskFace, TaskKind, TaskView};

/// Speed limits above this many steps per second mean "no limit".
pub const MAX_PACE: f64 = 1e6;

/// Index of a lane (0 is the main run; races add more).
pub type LaneId = usize;

/// Sent once when training starts (and again after a race forks new lanes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartInfo {
    pub preset: String,
    pub task: TaskKind,
    /// E.g. "MNIST autoregressive CNN".
    pub task_title: String,
    pub n_params: usize,
    pub seed: u64,
    pub batch_size: Option<usize>,
    pub max_steps: Option<u64>,
    pub eval_interval: u64,
    /// The dashboard's speed limit in steps per second (`None`: full speed).
    #[serde(default)]
    pub pace: Option<f64>,
    /// The optimizers the preset offers for hot-swapping and racing.
    pub alternatives: Vec<OptimizerSpec>,
    pub lanes: Vec<LaneStatus>,
    /// How the dashboard shows the task (`None` from a sender that predates it: see
    /// [`StartInfo::face`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<TaskFace>,
}

impl StartInfo {
    /// How the dashboard shows the task: as the trainer said, or as its kind is shown.
    pub fn face(&self) -> TaskFace {
        self.face.clone().unwrap_or_else(|| self.task.face())
    }
}

/// The live state of one lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneStatus {
    pub lane: LaneId,
    /// Current optimizer with its live hyperparameters (lr, meta_lr, …).
    pub optimizer: OptimizerSpec,
    pub step: u64,
    pub state: RunState,
    /// The optimizer's own state summary (for non-LODO optimizers), see `Optimizer::summary`.
    pub summary: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    Paused,
    /// Paused by the divergence guard; parameters were restored to before the bad step.
    Diverged,
    Finished,
}

/// One optimizer step of one lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub lane: LaneId,
    /// 1-based count of steps taken by this lane.
    pub step: u64,
    /// Gradient evaluations of this lane so far, this step's included (`None`: unknown).
    pub grad_evals: Option<u64>,
    /// Seconds since the run started.
    pub t: f64,
    pub optimizer: String,
    pub loss: f32,
    pub stats: StepStats,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Switch,
    Reset,
    Lr,
    MetaLr,
    Pause,
    Resume,
    Diverged,
    Checkpoint,
    Race,
    Generate,
    Info,
    Error,
}

/// Something that happened, for the event log, the chart markers and the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `None` for run-wide events.
    pub lane: Option<LaneId>,
    pub step: u64,
    pub t: f64,
    pub kind: EventKind,
    /// E.g. "lodo -> adam", "meta_lr 8e-6 -> 1.6e-5", "non-finite loss; paused".
    pub detail: String,
}

/// Per-lane results at the end of a run. Losses are NaN for a lane that took no step (written as
/// JSON `null`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneSummary {
    pub lane: LaneId,
    pub optimizer: String,
    pub steps: u64,
    /// Gradient evaluations at the end (`None`: unknown, or a summary written before counting).
    #[serde(default)]
    pub grad_evals: Option<u64>,
    #[serde(deserialize_with = "crate::jsonfloat::f32_or_nan")]
    pub final_loss: f32,
    #[serde(deserialize_with = "crate::jsonfloat::f32_or_nan")]
    pub best_loss: f32,
    #[serde(deserialize_with = "crate::jsonfloat::f64_or_nan")]
    pub steps_per_s: f64,
    pub diverged: bool,
    #[serde(deserialize_with = "crate::jsonfloat::metrics")]
    pub metrics: Metrics,
    /// Mean loss over the last 10% of the lane's steps.
    #[serde(default, deserialize_with = "crate::jsonfloat::f32_or_nan")]
    pub mean_loss_last_10pct: f32,
    /// Median time per step of the task's loss and gradient (including same-batch re-evaluations).
    #[serde(default, deserialize_with = "crate::jsonfloat::f64_or_nan")]
    pub task_ms_median: f64,
    /// Median time per step of the optimizer's update (excluding same-batch re-evaluations).
    #[serde(default, deserialize_with = "crate::jsonfloat::f64_or_nan")]
    pub optimizer_ms_median: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub lanes: Vec<LaneSummary>,
    pub elapsed_s: f64,
    /// What the run failed to save (record lines, checkpoints), one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
}

/// Trainer → observers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    Started(StartInfo),
    /// A batch of steps (the trainer sends at most ~50 of these per second).
    Steps(Vec<StepRecord>),
    Eval {
        lane: LaneId,
        step: u64,
        t: f64,
        metrics: Metrics,
    },
    /// A task view; `lane` is `None` for views shared by all lanes (heat map, digits).
    View {
        lane: Option<LaneId>,
        view: TaskView,
    },
    /// The per-step point of each lane for 2-D tasks (Rosenbrock trajectory).
    Points(Vec<(LaneId, u64, [f32; 2])>),
    Event(Event),
    /// The speed limit changed (steps per second; `None`: full speed).
    Pace(Option<f64>),
    /// Lane states after anything changed them (command applied, divergence, finish).
    Lanes(Vec<LaneStatus>),
    Finished(Result<Summary, String>),
    /// The run process's resource use, sampled by the process serving the run (never by the
    /// trainer, never recorded) about once a second for viewers that asked for it.
    System(SysStats),
}

/// The run process's CPU, memory and threads and the machine's load; `None` where the platform
/// does not say (everything but Linux).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SysStats {
    /// Over the last interval; 100 is one core fully busy.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub threads: Option<u32>,
    /// The machine's 1-minute load average.
    pub load1: Option<f64>,
    pub cores: Option<u32>,
}

/// Observers → trainer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Pause,
    Resume,
    /// Take `n` steps while paused, then stay paused.
    Step(u32),
    /// Hot-swap a lane's optimizer, keeping the parameters; each optimizer keeps its own state so
    /// switching back resumes it.
    SwitchOptimizer {
        lane: LaneId,
        spec: OptimizerSpec,
    },
    /// Forget the lane's current optimizer state.
    ResetOptimizer {
        lane: LaneId,
    },
    SetLr {
        lane: LaneId,
        value: f32,
    },
    ScaleLr {
        lane: LaneId,
        factor: f32,
    },
    SetMetaLr {
        lane: LaneId,
        value: f32,
    },
    ScaleMetaLr {
        lane: LaneId,
        factor: f32,
    },
    /// Fork the current parameters of lane 0 into one lane per spec, all on the same minibatches.
    Race {
        specs: Vec<OptimizerSpec>,
    },
    /// Multiply the speed limit (steps per second) by `factor`; slowing down a run at full speed
    /// starts from its current rate, speeding up past [`MAX_PACE`] removes the limit.
    ScalePace {
        factor: f64,
    },
    /// Write a checkpoint now.
    Checkpoint,
    /// Sample `count` images from the model (mnist-ar).
    Generate {
        count: usize,
    },
    Quit,
}
