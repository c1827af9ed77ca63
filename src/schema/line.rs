//! The lines of a run record (`--record FILE.jsonl`, a run directory's `record.jsonl`), tagged
//! by `type`. The format is described in [`crate::record`]; the step line is the trainer's
//! [`StepRecord`] in the record's flat encoding ([`super::step_line`]).

use serde::{Deserialize, Serialize};

use crate::optim::OptimizerSpec;
use crate::preset::Preset;
use crate::schema::{Event, LaneId, LaneStatus, RunState, StartInfo, StepRecord, Summary};
use crate::task::{Metrics, TaskKind};

/// One line of a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Start(Box<StartLine>),
    Step(#[serde(with = "super::step_line")] StepRecord),
    Eval(EvalLine),
    Event(Event),
    Point(PointLine),
    Summary(Summary),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartLine {
    pub n_params: usize,
    pub preset: String,
    pub task: TaskKind,
    pub task_title: String,
    pub seed: u64,
    pub batch_size: Option<usize>,
    pub max_steps: Option<u64>,
    pub eval_interval: u64,
    /// Optimizer name of each lane.
    pub lanes: Vec<String>,
    /// The full spec of each lane's optimizer.
    pub optimizers: Vec<OptimizerSpec>,
    /// Set when this run continues a checkpoint.
    #[serde(default)]
    pub resumed_from_step: Option<u64>,
    /// lodo-tui version that wrote the record.
    pub version: String,
    /// The effective configuration (preset after command-line overrides).
    pub config: Preset,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalLine {
    pub lane: LaneId,
    pub step: u64,
    pub t: f64,
    #[serde(deserialize_with = "crate::jsonfloat::metrics")]
    pub metrics: Metrics,
}

/// Where a lane of a 2-D task is after `step` (its trajectory, one line per step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointLine {
    pub lane: LaneId,
    pub step: u64,
    #[serde(deserialize_with = "crate::jsonfloat::pair_or_nan")]
    pub xy: [f32; 2],
}

impl StartLine {
    /// The start line of a run announcing `info`. The line keeps what a reader of the record needs
    /// and the message does not carry (the version, the whole configuration, the step a resumed
    /// run continues from); it leaves out what only a live run has (its speed limit, the lanes'
    /// live states).
    pub fn new(info: &StartInfo, resumed_from_step: Option<u64>, config: Preset) -> Self {
        Self {
            n_params: info.n_params,
            preset: info.preset.clone(),
            task: info.task,
            task_title: info.task_title.clone(),
            seed: info.seed,
            batch_size: info.batch_size,
            max_steps: info.max_steps,
            eval_interval: info.eval_interval,
            lanes: info
                .lanes
                .iter()
                .map(|l| l.optimizer.name.clone())
                .collect(),
            optimizers: info.lanes.iter().map(|l| l.optimizer.clone()).collect(),
            resumed_from_step,
            version: env!("CARGO_PKG_VERSION").to_string(),
            config,
        }
    }

    /// The `Started` message this line stands for when the record is replayed: each lane running
    /// from the step the run started at, at full speed, with the preset's alternatives.
    pub fn info(&self) -> StartInfo {
        StartInfo {
            preset: self.preset.clone(),
            task: self.task,
            task_title: self.task_title.clone(),
            n_params: self.n_params,
            seed: self.seed,
            batch_size: self.batch_size,
            max_steps: self.max_steps,
            eval_interval: self.eval_interval,
            pace: None,
            alternatives: self.config.alternatives.clone(),
            lanes: self
                .optimizers
                .iter()
                .enumerate()
                .map(|(lane, optimizer)| LaneStatus {
                    lane,
                    optimizer: optimizer.clone(),
                    step: self.resumed_from_step.unwrap_or(0),
                    state: RunState::Running,
                    summary: Vec::new(),
                })
                .collect(),
            face: Some(self.task.face()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskSpec;

    #[test]
    fn a_start_line_replays_as_the_message_it_was_written_from() {
        let lane = |lane, name: &str| LaneStatus {
            lane,
            optimizer: OptimizerSpec::named(name),
            step: 40,
            state: RunState::Running,
            summary: Vec::new(),
        };
        let info = StartInfo {
            preset: "p".into(),
            task: TaskKind::Quadratic,
            task_title: "bowl".into(),
            n_params: 3,
            seed: 7,
            batch_size: Some(2),
            max_steps: Some(100),
            eval_interval: 5,
            pace: None,
            alternatives: vec![OptimizerSpec::named("adam")],
            lanes: vec![lane(0, "lodo"), lane(1, "sgd")],
            face: Some(TaskKind::Quadratic.face()),
        };
        let config = Preset {
            name: "p".into(),
            description: "d".into(),
            task: TaskSpec::named("quadratic"),
            optimizer: OptimizerSpec::named("lodo"),
            alternatives: info.alternatives.clone(),
            seed: 7,
            max_steps: Some(100),
            eval_interval: 5,
            loss_bound: None,
            checkpoint_interval: None,
            pace: None,
        };
        let line = StartLine::new(&info, Some(40), config);
        assert_eq!(line.lanes, vec!["lodo", "sgd"]);
        assert_eq!(line.info(), info);
        // What only a live run knows is not in the record: a replay runs at full speed.
        let live = StartInfo {
            pace: Some(10.0),
            ..info.clone()
        };
        assert_eq!(
            StartLine::new(&live, Some(40), line.config.clone()).info(),
            info
        );
    }
}
