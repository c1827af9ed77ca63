//! What the dashboard knows about the run: everything the trainer's messages said, kept in
//! bounded form. Applying a message never draws and never blocks.

use std::collections::{BTreeMap, VecDeque};

use crate::format;
use crate::optim::OptimizerSpec;
use crate::schema::msg::{LaneId, SysStats};
use crate::task::{Digits, Heatmap, Metrics, TaskFace, TaskView};
use crate::train::{Event, EventKind, LaneStatus, Msg, RunState, StartInfo, StepRecord, Summary};

use super::app::XAxis;
use super::history::{Series, Trail};

/// Events kept for the log.
const EVENT_LOG: usize = 500;
/// Event markers kept for the charts.
const RULES: usize = 256;
/// Trainer seconds of step samples the speed is measured over.
const RATE_WINDOW_S: f64 = 5.0;
/// Samples closer than this are merged, so the speed meter stays small at any step rate.
const RATE_SAMPLE_S: f64 = 0.1;

/// Everything one lane has reported.
#[derive(Clone, Debug)]
pub struct LaneData {
    pub status: LaneStatus,
    /// An optimizer switch the user asked for that no `Msg::Lanes` has confirmed yet.
    pub pending: Option<OptimizerSpec>,
    pub loss: Series,
    /// The loss over the lane's gradient evaluations (steps that report the count) and over
    /// trainer seconds, for the loss chart's other x axes.
    pub loss_by_grad_evals: Series,
    pub loss_by_time: Series,
    pub step_norm: Series,
    pub grad_norm: Series,
    pub cos: Series,
    pub effective_lr: Series,
    pub hypergrad: Series,
    pub rel_meta_step: Series,
    /// The newest per-layer hypergradient norms.
    pub layer_hypergrad: Vec<f32>,
    pub last_step: Option<StepRecord>,
    /// One series per evaluation metric, x = step.
    pub evals: BTreeMap<String, Series>,
    /// The same over gradient evaluations (where the evaluated step's count is known) and time.
    pub evals_by_grad_evals: BTreeMap<String, Series>,
    pub evals_by_time: BTreeMap<String, Series>,
    pub last_metrics: Metrics,
    pub trail: Trail,
    /// `(t, step)` samples at least `RATE_SAMPLE_S` apart over the last `RATE_WINDOW_S`, plus
    /// the newest step.
    rate: VecDeque<(f64, u64)>,
    latest: Option<(f64, u64)>,
}

impl LaneData {
    fn new(status: LaneStatus) -> Self {
        Self {
            status,
            pending: None,
            loss: Series::default(),
            loss_by_grad_evals: Series::default(),
            loss_by_time: Series::default(),
            step_norm: Series::default(),
            grad_norm: Series::default(),
            cos: Series::default(),
            effective_lr: Series::default(),
            hypergrad: Series::default(),
            rel_meta_step: Series::default(),
            layer_hypergrad: Vec::new(),
            last_step: None,
            evals: BTreeMap::new(),
            evals_by_grad_evals: BTreeMap::new(),
            evals_by_time: BTreeMap::new(),
            last_metrics: Metrics::new(),
            trail: Trail::default(),
            rate: VecDeque::new(),
            latest: None,
        }
    }

    /// The loss over the x axis `x`.
    pub fn loss_over(&self, x: XAxis) -> &Series {
        match x {
            XAxis::Steps => &self.loss,
            XAxis::GradEvals => &self.loss_by_grad_evals,
            XAxis::Time => &self.loss_by_time,
        }
    }

    /// The evaluation metrics over the x axis `x`.
    pub fn evals_over(&self, x: XAxis) -> &BTreeMap<String, Series> {
        match x {
            XAxis::Steps => &self.evals,
            XAxis::GradEvals => &self.evals_by_grad_evals,
            XAxis::Time => &self.evals_by_time,
        }
    }

    /// The optimizer to show: the one asked for, until the trainer confirms.
    pub fn optimizer(&self) -> &OptimizerSpec {
        self.pending.as_ref().unwrap_or(&self.status.optimizer)
    }

    /// Whether the shown optimizer is of the LODO family (has a meta learning rate and
    /// hypergradient statistics).
    pub fn is_lodo(&self) -> bool {
        self.optimizer().name.starts_with("lodo")
    }

    pub fn step(&self) -> u64 {
        let reported = self.last_step.as_ref().map_or(0, |s| s.step);
        reported.max(self.status.step)
    }

    /// Steps per second over the last few trainer seconds.
    pub fn steps_per_s(&self) -> Option<f64> {
        let (&(t0, s0), (t1, s1)) = (self.rate.front()?, self.latest?);
        (t1 > t0 && s1 > s0).then(|| (s1 - s0) as f64 / (t1 - t0))
    }

    fn push_step(&mut self, r: StepRecord) {
        let x = r.step as f64;
        self.loss.push(x, r.loss);
        if let Some(n) = r.grad_evals {
            self.loss_by_grad_evals.push(n as f64, r.loss);
        }
        self.loss_by_time.push(r.t, r.loss);
        self.step_norm.push(x, r.stats.step_norm);
        self.grad_norm.push(x, r.stats.grad_norm);
        self.cos.push(x, r.stats.cos_step_neg_grad);
        self.effective_lr.push(x, r.stats.effective_lr);
        if let Some(lodo) = &r.stats.lodo {
            self.hypergrad.push(x, lodo.hypergrad_norm);
            self.rel_meta_step.push(x, lodo.rel_meta_step);
            self.layer_hypergrad.clone_from(&lodo.layer_hypergrad_norms);
        }
        if self
            .rate
            .back()
            .is_none_or(|&(t, _)| r.t - t >= RATE_SAMPLE_S)
        {
            self.rate.push_back((r.t, r.step));
        }
        while self
            .rate
            .front()
            .is_some_and(|&(t, _)| r.t - t > RATE_WINDOW_S && self.rate.len() > 2)
        {
            self.rate.pop_front();
        }
        self.latest = Some((r.t, r.step));
        self.last_step = Some(r);
    }
}

/// The run as a whole, as the header states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    Waiting,
    Running,
    Paused,
    Diverged,
    Finished,
    Failed(String),
}

#[derive(Debug, Default)]
pub struct RunModel {
    pub start: Option<StartInfo>,
    /// How to show the task, from the start message.
    pub face: Option<TaskFace>,
    pub lanes: Vec<LaneData>,
    pub events: VecDeque<Event>,
    /// Steps at which an event changed a lane's optimizer or hyperparameters, for chart rules.
    pub rules: VecDeque<(Option<LaneId>, u64)>,
    pub heatmap: Option<Heatmap>,
    pub digits: Option<Digits>,
    pub finished: Option<Result<Summary, String>>,
    /// Latest trainer time seen (seconds since the run started).
    pub t: f64,
    /// The trainer's speed limit in steps per second (`None`: full speed).
    pub pace: Option<f64>,
    /// The run process's latest resource reading, if its server sends them.
    pub system: Option<SysStats>,
}

impl RunModel {
    pub fn apply(&mut self, msg: Msg) {
        match msg {
            Msg::Started(info) => self.start(info),
            Msg::Steps(records) => {
                for r in records {
                    self.t = self.t.max(r.t);
                    let lane = self.lane_mut(r.lane, Some(&r.optimizer));
                    lane.push_step(r);
                }
            }
            Msg::Eval {
                lane,
                step,
                t,
                metrics,
            } => {
                self.t = self.t.max(t);
                let data = self.lane_mut(lane, None);
                // The trainer evaluates right after a step, so the lane's last step line holds
                // the count of the evaluated parameters; a run's first evaluation is at 0.
                let grad_evals = match &data.last_step {
                    Some(r) if r.step == step => r.grad_evals,
                    None if step == 0 => Some(0),
                    _ => None,
                };
                for (name, &value) in &metrics {
                    data.evals
                        .entry(name.clone())
                        .or_default()
                        .push(step as f64, value as f32);
                    if let Some(n) = grad_evals {
                        data.evals_by_grad_evals
                            .entry(name.clone())
                            .or_default()
                            .push(n as f64, value as f32);
                    }
                    data.evals_by_time
                        .entry(name.clone())
                        .or_default()
                        .push(t, value as f32);
                }
                data.last_metrics = metrics;
            }
            Msg::View { view, .. } => match view {
                TaskView::Heatmap(h) => self.heatmap = Some(h),
                TaskView::Digits(d) => self.digits = Some(d),
            },
            Msg::Points(points) => {
                for (lane, _step, p) in points {
                    self.lane_mut(lane, None).trail.push(p);
                }
            }
            Msg::Event(e) => self.event(e),
            Msg::Lanes(statuses) => {
                for s in statuses {
                    let lane = self.lane_mut(s.lane, None);
                    lane.pending = None;
                    lane.status = s;
                }
            }
            Msg::Pace(pace) => self.pace = pace,
            Msg::System(stats) => self.system = Some(stats),
            Msg::Finished(result) => self.finish(result),
        }
    }

    fn start(&mut self, info: StartInfo) {
        if self.start.is_some() {
            // Sent again after a race, which replaces the lanes by forks of lane 0's parameters:
            // lane 0 continues its own curves; every other lane is new and starts empty.
            self.lanes.truncate(1);
        }
        for s in &info.lanes {
            let lane = self.lane_mut(s.lane, None);
            lane.status = s.clone();
            lane.pending = None;
        }
        self.pace = info.pace;
        self.face = Some(info.face());
        self.start = Some(info);
    }

    fn event(&mut self, e: Event) {
        self.t = self.t.max(e.t);
        if matches!(
            e.kind,
            EventKind::Switch
                | EventKind::Reset
                | EventKind::Lr
                | EventKind::MetaLr
                | EventKind::Race
                | EventKind::Diverged
        ) {
            if self.rules.len() == RULES {
                self.rules.pop_front();
            }
            self.rules.push_back((e.lane, e.step));
        }
        self.log(e);
    }

    fn log(&mut self, e: Event) {
        if self.events.len() == EVENT_LOG {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn finish(&mut self, result: Result<Summary, String>) {
        let (kind, detail) = match &result {
            Ok(summary) => (
                EventKind::Info,
                format!("finished after {}", format::span(summary.elapsed_s)),
            ),
            Err(e) => (EventKind::Error, format!("trainer failed: {e}")),
        };
        let step = self.lanes.iter().map(LaneData::step).max().unwrap_or(0);
        self.log(Event {
            lane: None,
            step,
            t: self.t,
            kind,
            detail,
        });
        self.finished = Some(result);
    }

    /// The trainer hung up without a `Finished` message.
    pub fn disconnected(&mut self) {
        if self.finished.is_none() {
            self.finish(Err("the trainer stopped without reporting why".into()));
        }
    }

    /// The lane with this id, created (from a step record's optimizer name, if any) when a
    /// message mentions it before any status did.
    fn lane_mut(&mut self, id: LaneId, optimizer: Option<&str>) -> &mut LaneData {
        while self.lanes.len() <= id {
            let lane = self.lanes.len();
            self.lanes.push(LaneData::new(LaneStatus {
                lane,
                optimizer: OptimizerSpec::named(optimizer.unwrap_or("?")),
                step: 0,
                state: RunState::Running,
                summary: Vec::new(),
            }));
        }
        &mut self.lanes[id]
    }

    /// Whether the task can draw samples (`g`).
    pub fn generates(&self) -> bool {
        self.face.as_ref().is_some_and(|f| f.generates)
    }

    pub fn phase(&self) -> Phase {
        match &self.finished {
            Some(Err(e)) => return Phase::Failed(e.clone()),
            Some(Ok(_)) => return Phase::Finished,
            None => {}
        }
        if self.start.is_none() {
            return Phase::Waiting;
        }
        let states = || self.lanes.iter().map(|l| l.status.state);
        if states().any(|s| s == RunState::Running) {
            Phase::Running
        } else if states().any(|s| s == RunState::Diverged) {
            Phase::Diverged
        } else if states().len() > 0 && states().all(|s| s == RunState::Finished) {
            Phase::Finished
        } else {
            Phase::Paused
        }
    }

    /// Whether quitting would interrupt training (and so deserves a confirmation).
    pub fn training_active(&self) -> bool {
        !matches!(self.phase(), Phase::Finished | Phase::Failed(_))
    }

    /// The newest step any lane has reached.
    pub fn step(&self) -> u64 {
        self.lanes.iter().map(LaneData::step).max().unwrap_or(0)
    }

    /// The x range (steps) covered by any lane's losses and evaluations (an evaluation may come
    /// before the first step).
    pub fn x_span(&self) -> Option<(f64, f64)> {
        self.x_span_of(XAxis::Steps)
    }

    /// The same over the loss chart's x axis `x`.
    pub fn x_span_of(&self, x: XAxis) -> Option<(f64, f64)> {
        self.lanes
            .iter()
            .flat_map(|l| std::iter::once(l.loss_over(x)).chain(l.evals_over(x).values()))
            .filter_map(Series::x_span)
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// Steps per second of the main lane (lanes of a race step together).
    pub fn steps_per_s(&self) -> Option<f64> {
        self.lanes.first()?.steps_per_s()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(lane: LaneId, name: &str, state: RunState) -> LaneStatus {
        LaneStatus {
            lane,
            optimizer: OptimizerSpec::named(name),
            step: 0,
            state,
            summary: vec![],
        }
    }

    fn record(lane: LaneId, step: u64, loss: f32) -> StepRecord {
        crate::testkit::lodo_step(lane, step, 0.01, loss)
    }

    #[test]
    fn steps_fill_series_and_rate() {
        let mut m = RunModel::default();
        m.apply(Msg::Steps((1..=200).map(|i| record(0, i, 1.0)).collect()));
        let lane = &m.lanes[0];
        assert_eq!(lane.loss.len(), 200);
        assert_eq!(lane.hypergrad.len(), 200);
        assert_eq!(lane.layer_hypergrad.len(), 4);
        // 100 steps per trainer second.
        let rate = m.steps_per_s().unwrap();
        assert!((rate - 100.0).abs() < 1e-6, "{rate}");
        // A million steps in ten trainer seconds keep a handful of samples, not a million.
        m.apply(Msg::Steps(
            (201..=1_000_200)
                .map(|i| StepRecord {
                    t: 2.0 + (i - 200) as f64 * 1e-5,
                    ..record(0, i, 1.0)
                })
                .collect(),
        ));
        assert!(m.lanes[0].rate.len() <= 60, "{}", m.lanes[0].rate.len());
        let rate = m.steps_per_s().unwrap();
        assert!((rate - 1e5).abs() < 1.0, "{rate}");
        assert_eq!(m.step(), 1_000_200);
    }

    #[test]
    fn lanes_message_confirms_a_pending_switch() {
        let mut m = RunModel::default();
        m.apply(Msg::Lanes(vec![status(0, "lodo", RunState::Running)]));
        m.lanes[0].pending = Some(OptimizerSpec::named("adam"));
        assert_eq!(m.lanes[0].optimizer().name, "adam");
        m.apply(Msg::Lanes(vec![status(0, "adam", RunState::Running)]));
        assert!(m.lanes[0].pending.is_none());
        assert_eq!(m.lanes[0].optimizer().name, "adam");
    }

    #[test]
    fn phase_follows_lane_states_and_finish() {
        let mut m = RunModel::default();
        assert_eq!(m.phase(), Phase::Waiting);
        m.apply(Msg::Lanes(vec![
            status(0, "lodo", RunState::Paused),
            status(1, "adam", RunState::Diverged),
        ]));
        m.start = Some(crate::testkit::fixture_start("quadratic-lodo-seed0.jsonl"));
        assert_eq!(m.phase(), Phase::Diverged);
        m.apply(Msg::Lanes(vec![status(1, "adam", RunState::Running)]));
        assert_eq!(m.phase(), Phase::Running);
        assert!(m.training_active());
        m.apply(Msg::Finished(Err("out of memory".into())));
        assert_eq!(m.phase(), Phase::Failed("out of memory".into()));
        assert!(!m.training_active());
        assert!(m.events.back().unwrap().detail.contains("out of memory"));
    }

    #[test]
    fn a_race_keeps_lane_0_and_starts_the_forks_afresh() {
        let mut m = RunModel::default();
        let fixtures = ["quadratic-lodo-seed0.jsonl", "quadratic-adam-seed0.jsonl"];
        for msg in crate::testkit::fixture_messages(&fixtures) {
            m.apply(msg);
        }
        assert_eq!(m.lanes.len(), 2);
        assert_eq!(m.lanes[1].loss.len(), 100);
        // Race two optimizers from step 100: two lanes remain, the second one empty.
        m.apply(Msg::Started(StartInfo {
            lanes: vec![
                status(0, "momentum", RunState::Running),
                status(1, "lodo", RunState::Running),
            ],
            ..crate::testkit::fixture_start(fixtures[0])
        }));
        assert_eq!(m.lanes.len(), 2);
        assert_eq!(m.lanes[0].loss.len(), 100);
        assert_eq!(m.lanes[0].optimizer().name, "momentum");
        assert!(m.lanes[1].loss.is_empty());
        assert_eq!(m.lanes[1].optimizer().name, "lodo");
    }

    #[test]
    fn event_log_and_rules_are_bounded() {
        let mut m = RunModel::default();
        for i in 0..2_000 {
            m.apply(Msg::Event(Event {
                lane: Some(0),
                step: i,
                t: i as f64,
                kind: EventKind::Lr,
                detail: "lr 1 -> 2".into(),
            }));
        }
        assert_eq!(m.events.len(), EVENT_LOG);
        assert_eq!(m.rules.len(), RULES);
        assert_eq!(m.rules.back(), Some(&(Some(0), 1_999)));
    }

    #[test]
    fn disconnect_without_finish_is_a_failure() {
        let mut m = RunModel::default();
        m.disconnected();
        assert!(matches!(m.phase(), Phase::Failed(_)));
    }

    #[test]
    fn the_loss_and_evaluations_are_kept_over_every_x_axis() {
        let mut m = RunModel::default();
        m.apply(Msg::Eval {
            lane: 0,
            step: 0,
            t: 0.0,
            metrics: [("val_loss".to_string(), 3.0)].into(),
        });
        // `record` counts two gradient evaluations a step and 0.01 s a step.
        m.apply(Msg::Steps((1..=10).map(|s| record(0, s, 1.0)).collect()));
        m.apply(Msg::Eval {
            lane: 0,
            step: 10,
            t: 0.1,
            metrics: [("val_loss".to_string(), 2.0)].into(),
        });
        let lane = &m.lanes[0];
        assert_eq!(lane.loss_over(XAxis::Steps).x_span(), Some((1.0, 10.0)));
        assert_eq!(lane.loss_over(XAxis::GradEvals).x_span(), Some((2.0, 20.0)));
        let (t0, t1) = lane.loss_over(XAxis::Time).x_span().unwrap();
        assert!((t0 - 0.01).abs() < 1e-12 && (t1 - 0.1).abs() < 1e-12);
        assert_eq!(
            lane.evals_over(XAxis::GradEvals)["val_loss"].x_span(),
            Some((0.0, 20.0))
        );
        assert_eq!(m.x_span_of(XAxis::GradEvals), Some((0.0, 20.0)));
        // Steps without a count (a run resumed from an older checkpoint) leave that axis empty.
        let mut old = RunModel::default();
        old.apply(Msg::Steps(vec![StepRecord {
            grad_evals: None,
            ..record(0, 1, 1.0)
        }]));
        assert!(old.lanes[0].loss_over(XAxis::GradEvals).is_empty());
        assert_eq!(old.lanes[0].loss_over(XAxis::Steps).len(), 1);
    }
}
