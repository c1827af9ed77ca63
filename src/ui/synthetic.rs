//! Synthetic trainer messages for the dashboard's tests, benchmark and demo example.
//!
//! Nothing here trains anything: losses, norms, trajectories and digits are made-up curves with
//! deterministic noise, shaped like a real run so the panels can be looked at and tested before
//! (and independently of) the real trainer. [`spawn`] wraps them in a thread that answers
//! commands like a trainer would.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::optim::{LodoStats, OptimizerSpec, StepStats};
use crate::schema::{LaneId, LaneSummary};
use crate::task::{Digits, Heatmap, Metrics, TaskKind, TaskView};
use crate::train::{
    Command, Event, EventKind, LaneStatus, Msg, RunState, StartInfo, StepRecord, Summary,
    TrainerHandle,
};

/// A uniform number in `[0, 1)` from a counter (splitmix64).
fn noise(mut z: u64) -> f64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn spec(name: &str, lr: f32, meta_lr: Option<f32>, beta: Option<f32>) -> OptimizerSpec {
    OptimizerSpec {
        lr: Some(lr),
        meta_lr,
        beta,
        ..OptimizerSpec::named(name)
    }
}

/// The optimizers a preset might offer.
pub fn alternatives() -> Vec<OptimizerSpec> {
    vec![
        spec("lodo", 0.085, Some(8e-6), Some(0.9)),
        spec("adam", 1e-3, None, None),
        spec("momentum", 0.01, None, Some(0.9)),
        spec("lodo-diagonal", 0.085, Some(8e-6), Some(0.9)),
        spec("rmsprop", 1e-3, None, None),
        spec("sgd", 0.05, None, None),
        spec("olbfgs", 0.1, None, None),
    ]
}

fn spec_named(name: &str) -> OptimizerSpec {
    alternatives()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| OptimizerSpec::named(name))
}

/// What the optimizer summary of a non-LODO optimizer might say.
fn summary_of(name: &str) -> Vec<(String, String)> {
    match name {
        n if n.starts_with("lodo") => vec![],
        "adam" | "rmsprop" => vec![
            ("‖m‖".into(), "3.1e-3".into()),
            ("‖√v‖".into(), "4.4e-2".into()),
            ("bias corr.".into(), "0.999".into()),
        ],
        "olbfgs" => vec![("history".into(), "7/10".into())],
        _ => vec![("‖m‖".into(), "2.2e-2".into())],
    }
}

pub fn status(lane: LaneId, name: &str, step: u64, state: RunState) -> LaneStatus {
    LaneStatus {
        lane,
        optimizer: spec_named(name),
        step,
        state,
        summary: summary_of(name),
    }
}

fn title(task: TaskKind) -> (&'static str, &'static str, usize) {
    match task {
        TaskKind::MnistAr => ("mnist", "MNIST autoregressive CNN", 94_696),
        TaskKind::MnistClassify => ("mnist-classify", "MNIST classifier CNN", 26_010),
        TaskKind::Quadratic => ("quadratic", "noisy quadratic bowl", 100),
        TaskKind::Rosenbrock => ("rosenbrock", "Rosenbrock function", 2),
    }
}

pub fn start_info(task: TaskKind, lanes: Vec<LaneStatus>) -> StartInfo {
    let (preset, title, n_params) = title(task);
    StartInfo {
        preset: preset.into(),
        task,
        task_title: title.into(),
        n_params,
        seed: 0,
        batch_size: matches!(task, TaskKind::MnistAr | TaskKind::MnistClassify).then_some(64),
        max_steps: Some(10_000),
        eval_interval: 250,
        pace: None,
        alternatives: alternatives(),
        lanes,
        face: None,
    }
}

/// Lane `lane`'s step `step` with optimizer `name`, at 50 steps per trainer second.
pub fn record(task: TaskKind, lane: LaneId, step: u64, name: &str) -> StepRecord {
    let s = step as f64;
    let salt = (lane as u64 + 1) * 1_000_003;
    let (floor, scale, tau) = match task {
        TaskKind::MnistAr => (0.75, 4.8, 300.0),
        TaskKind::MnistClassify => (0.05, 2.2, 200.0),
        TaskKind::Quadratic => (12.0, 400.0, 150.0),
        TaskKind::Rosenbrock => (1e-4, 2.0, 120.0),
    };
    let lane_speed = 1.0 + 0.35 * lane as f64;
    let trend = floor + scale / (1.0 + s / (tau * lane_speed));
    let jitter = 1.0 + 0.25 * (noise(step ^ salt) - 0.5);
    let loss = trend * jitter;
    let grad = 2.0 * trend.sqrt() * (1.0 + 0.3 * noise(step * 7 + salt));
    let lr = 0.02 / (1.0 + s / 5_000.0);
    let cos = 0.55 + 0.4 * noise(step * 13 + salt) - 0.2 * (-s / 200.0).exp();
    let lodo = name.starts_with("lodo").then(|| {
        let h = 1e-2 / (1.0 + s / 400.0) * (0.6 + 0.8 * noise(step * 17 + salt));
        LodoStats {
            hypergrad_norm: h as f32,
            layer_hypergrad_norms: (0..16)
                .map(|l| (h * 0.3 * 10f64.powf(-(l as f64) / 8.0)) as f32)
                .collect(),
            rel_meta_step: (3e-4 / (1.0 + s / 800.0)) as f32,
        }
    });
    // The two-evaluation optimizers re-evaluate the minibatch once per step, as in a real run.
    let evals_per_step = if name.contains("lbfgs") { 2 } else { 1 };
    StepRecord {
        lane,
        step,
        grad_evals: Some(evals_per_step * step),
        t: s / 50.0,
        optimizer: name.into(),
        loss: loss as f32,
        stats: StepStats {
            step_norm: (lr * grad * cos) as f32,
            grad_norm: grad as f32,
            cos_step_neg_grad: cos as f32,
            effective_lr: lr as f32,
            lodo,
        },
    }
}

fn metrics(task: TaskKind, lane: LaneId, step: u64, lane_is_lodo: bool) -> Metrics {
    let s = step as f64;
    let k = 1.0 + 0.35 * lane as f64;
    let mut m = Metrics::new();
    match task {
        TaskKind::MnistAr => {
            let nats = 0.8 + 4.6 / (1.0 + s / (300.0 * k));
            m.insert("val_loss".into(), nats);
            m.insert("val_bits_per_pixel".into(), nats / std::f64::consts::LN_2);
        }
        TaskKind::MnistClassify => {
            m.insert("val_loss".into(), 0.08 + 2.1 / (1.0 + s / (200.0 * k)));
            m.insert(
                "test_accuracy".into(),
                0.985 - 0.87 / (1.0 + s / (150.0 * k)),
            );
        }
        TaskKind::Quadratic => {
            m.insert(
                "distance_to_centre".into(),
                9.0 + 40.0 / (1.0 + s / (200.0 * k)),
            );
            if lane_is_lodo {
                m.insert(
                    "hessian_error".into(),
                    0.35 + 0.64 * (-s / (900.0 * k)).exp(),
                );
            }
        }
        TaskKind::Rosenbrock => {
            let [x, y] = rosenbrock_point(lane, step);
            m.insert(
                "distance_to_minimum".into(),
                f64::from(x - 1.0).hypot(f64::from(y - 1.0)),
            );
        }
    }
    m
}

/// A point along a path from Rosenbrock's start (−0.5, 2) into the valley and towards (1, 1).
pub fn rosenbrock_point(lane: LaneId, step: u64) -> [f32; 2] {
    let s = step as f64;
    let k = 1.0 + 0.5 * lane as f64;
    let x = -0.5 + 1.45 * (1.0 - (-s / (700.0 * k)).exp());
    let y = x * x + 1.75 * (-s / (40.0 * k)).exp() * (1.0 + 0.1 * (s / 9.0).sin());
    [x as f32, y as f32]
}

/// log f of Rosenbrock on a grid over `[-2, 2] × [-1, 3]`.
pub fn heatmap() -> Heatmap {
    let (w, h) = (96, 64);
    let (xr, yr) = ((-2.0f32, 2.0f32), (-1.0f32, 3.0f32));
    let mut values = Vec::with_capacity(w * h);
    for j in 0..h {
        for i in 0..w {
            let x = xr.0 + (xr.1 - xr.0) * (i as f32 + 0.5) / w as f32;
            let y = yr.0 + (yr.1 - yr.0) * (j as f32 + 0.5) / h as f32;
            let f = 0.01 * (1.0 - x).powi(2) + (y - x * x).powi(2);
            values.push((f + 1e-6).ln());
        }
    }
    Heatmap {
        x_range: xr,
        y_range: yr,
        width: w,
        height: h,
        values,
        minimum: [1.0, 1.0],
    }
}

/// `count` digit-like 28×28 images (rings and strokes), the first `done` pixels of each drawn.
pub fn digits(count: usize, done: usize) -> Digits {
    let (rows, cols) = (28usize, 28usize);
    let mut pixels = Vec::with_capacity(count * rows * cols);
    for n in 0..count {
        let ring = n % 2 == 0;
        let tilt = (n as f32 - count as f32 / 2.0) * 0.08;
        for r in 0..rows {
            for c in 0..cols {
                let (y, x) = (r as f32 - 13.5, c as f32 - 13.5);
                let d = if ring {
                    let e = (x * x / 36.0 + y * y / 81.0).sqrt();
                    (e - 1.0).abs() * 6.0
                } else {
                    (x - tilt * y).abs()
                };
                let v = (255.0 * (-(d * d) / 3.0).exp()).round() as u8;
                let inside = y.abs() < 11.0 && x.abs() < 11.0;
                pixels.push(if inside { v } else { 0 });
            }
        }
    }
    Digits {
        rows,
        cols,
        count,
        pixels,
        pixels_done: done.min(rows * cols),
    }
}

/// Built through serde, so fields the trainer's summary gains later (with defaults) need no
/// change here.
fn lane_summary(
    lane: LaneId,
    optimizer: &str,
    steps: u64,
    final_loss: f32,
    steps_per_s: f64,
) -> LaneSummary {
    serde_json::from_value(serde_json::json!({
        "lane": lane,
        "optimizer": optimizer,
        "steps": steps,
        "final_loss": final_loss,
        "best_loss": final_loss,
        "steps_per_s": steps_per_s,
        "diverged": false,
        "metrics": {},
    }))
    .expect("the fields every LaneSummary has")
}

pub fn summary(lanes: usize) -> Summary {
    Summary {
        lanes: (0..lanes)
            .map(|lane| lane_summary(lane, "lodo", 2_000, 0.8, 50.0))
            .collect(),
        elapsed_s: 40.0,
        lost: vec![],
    }
}

fn event(lane: Option<LaneId>, step: u64, kind: EventKind, detail: &str) -> Event {
    Event {
        lane,
        step,
        t: step as f64 / 50.0,
        kind,
        detail: detail.into(),
    }
}

/// The first 2,000 steps of a run with one lane per name: start, steps, evaluations, task views
/// and a few events. Deterministic (no wall clock), for snapshots.
pub fn opening(task: TaskKind, lanes: &[&str]) -> Vec<Msg> {
    let statuses: Vec<LaneStatus> = lanes
        .iter()
        .enumerate()
        .map(|(i, n)| status(i, n, 2_000, RunState::Running))
        .collect();
    let mut msgs = vec![Msg::Started(start_info(task, statuses.clone()))];
    if task == TaskKind::Rosenbrock {
        msgs.push(Msg::View {
            lane: None,
            view: TaskView::Heatmap(heatmap()),
        });
    }
    let first = lanes.first().copied().unwrap_or("lodo");
    for batch in (1..=2_000u64).collect::<Vec<_>>().chunks(50) {
        let mut steps = Vec::new();
        let mut points = Vec::new();
        for &step in batch {
            for (lane, name) in lanes.iter().enumerate() {
                let name = if lane == 0 && step <= 1_200 && first != "lodo" {
                    "lodo"
                } else {
                    name
                };
                steps.push(record(task, lane, step, name));
                if task == TaskKind::Rosenbrock {
                    points.push((lane, step, rosenbrock_point(lane, step)));
                }
            }
        }
        msgs.push(Msg::Steps(steps));
        if !points.is_empty() {
            msgs.push(Msg::Points(points));
        }
        let last = *batch.last().expect("chunks are non-empty");
        if last % 250 == 0 {
            for (lane, name) in lanes.iter().enumerate() {
                msgs.push(Msg::Eval {
                    lane,
                    step: last,
                    t: last as f64 / 50.0,
                    metrics: metrics(task, lane, last, name.starts_with("lodo")),
                });
            }
        }
        if last == 800 {
            msgs.push(Msg::Event(event(
                Some(0),
                800,
                EventKind::MetaLr,
                "meta_lr 8e-6 -> 1.6e-5",
            )));
        }
        if last == 1_200 && first != "lodo" {
            msgs.push(Msg::Event(event(
                Some(0),
                1_200,
                EventKind::Switch,
                &format!("lodo -> {first}"),
            )));
        }
        if last == 1_500 {
            msgs.push(Msg::Event(event(
                None,
                1_500,
                EventKind::Checkpoint,
                "checkpoint runs/ckpt-001500.bin",
            )));
        }
    }
    if task == TaskKind::MnistAr {
        msgs.push(Msg::View {
            lane: None,
            view: TaskView::Digits(digits(8, 28 * 28 * 3 / 4)),
        });
    }
    msgs.push(Msg::Lanes(statuses));
    msgs
}

/// A thread that behaves like a trainer on the outside: streams synthetic steps at about
/// `steps_per_s`, answers every command with the events and lane states a trainer would send,
/// and finishes after `max_steps` or on `Quit`.
pub fn spawn(task: TaskKind, lanes: &[&str], steps_per_s: f64, max_steps: u64) -> TrainerHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (msg_tx, msg_rx) = mpsc::channel();
    let names: Vec<String> = lanes.iter().map(|s| s.to_string()).collect();
    let thread = thread::spawn(move || {
        let mut fake = Fake::new(task, names, steps_per_s, max_steps, msg_tx);
        fake.run(&cmd_rx);
    });
    TrainerHandle::new(cmd_tx, msg_rx, Some(thread))
}

struct Fake {
    task: TaskKind,
    specs: Vec<OptimizerSpec>,
    state: RunState,
    step: u64,
    steps_per_s: f64,
    max_steps: u64,
    started: Instant,
    out: mpsc::Sender<Msg>,
    pending_steps: u32,
    generating: Option<usize>,
}

impl Fake {
    fn new(
        task: TaskKind,
        names: Vec<String>,
        steps_per_s: f64,
        max_steps: u64,
        out: mpsc::Sender<Msg>,
    ) -> Self {
        Self {
            task,
            specs: names.iter().map(|n| spec_named(n)).collect(),
            state: RunState::Running,
            step: 0,
            steps_per_s,
            max_steps,
            started: Instant::now(),
            out,
            pending_steps: 0,
            generating: None,
        }
    }

    fn t(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn statuses(&self) -> Vec<LaneStatus> {
        self.specs
            .iter()
            .enumerate()
            .map(|(lane, spec)| LaneStatus {
                lane,
                optimizer: spec.clone(),
                step: self.step,
                state: self.state,
                summary: summary_of(&spec.name),
            })
            .collect()
    }

    fn send(&self, msg: Msg) -> bool {
        self.out.send(msg).is_ok()
    }

    fn event(&self, lane: Option<LaneId>, kind: EventKind, detail: String) -> bool {
        self.send(Msg::Event(Event {
            lane,
            step: self.step,
            t: self.t(),
            kind,
            detail,
        })) && self.send(Msg::Lanes(self.statuses()))
    }

    fn run(&mut self, commands: &mpsc::Receiver<Command>) {
        let mut info = start_info(self.task, self.statuses());
        info.max_steps = Some(self.max_steps);
        if !self.send(Msg::Started(info)) {
            return;
        }
        if self.task == TaskKind::Rosenbrock {
            self.send(Msg::View {
                lane: None,
                view: TaskView::Heatmap(heatmap()),
            });
        }
        let tick = Duration::from_millis(20);
        let mut carry = 0.0;
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Quit) | Err(mpsc::TryRecvError::Disconnected) => {
                        self.finish();
                        return;
                    }
                    Ok(cmd) => {
                        if !self.command(cmd) {
                            return;
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            let n = if self.state == RunState::Running {
                carry += self.steps_per_s * tick.as_secs_f64();
                let n = carry.floor();
                carry -= n;
                n as u64
            } else {
                std::mem::take(&mut self.pending_steps).into()
            };
            if n > 0 && !self.advance(n) {
                return;
            }
            if self.step >= self.max_steps {
                self.state = RunState::Finished;
                self.send(Msg::Lanes(self.statuses()));
                self.finish();
                return;
            }
            self.generate_some();
            thread::sleep(tick);
        }
    }

    fn advance(&mut self, n: u64) -> bool {
        let t = self.t();
        let mut steps = Vec::new();
        let mut points = Vec::new();
        for _ in 0..n.min(self.max_steps - self.step) {
            self.step += 1;
            for (lane, spec) in self.specs.iter().enumerate() {
                let mut r = record(self.task, lane, self.step, &spec.name);
                r.t = t;
                steps.push(r);
                if self.task == TaskKind::Rosenbrock {
                    points.push((lane, self.step, rosenbrock_point(lane, self.step)));
                }
            }
            if self.step.is_multiple_of(250) {
                for (lane, spec) in self.specs.iter().enumerate() {
                    let lodo = spec.name.starts_with("lodo");
                    let metrics = metrics(self.task, lane, self.step, lodo);
                    let eval = Msg::Eval {
                        lane,
                        step: self.step,
                        t,
                        metrics,
                    };
                    if !self.send(eval) {
                        return false;
                    }
                }
            }
        }
        (points.is_empty() || self.send(Msg::Points(points))) && self.send(Msg::Steps(steps))
    }

    fn command(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Pause => {
                self.state = RunState::Paused;
                self.event(None, EventKind::Pause, "paused".into())
            }
            Command::Resume => {
                self.state = RunState::Running;
                self.event(None, EventKind::Resume, "resumed".into())
            }
            Command::Step(n) => {
                self.pending_steps += n;
                true
            }
            Command::SwitchOptimizer { lane, spec } => {
                let Some(slot) = self.specs.get_mut(lane) else {
                    return true;
                };
                let detail = format!("{} -> {}", slot.name, spec.name);
                *slot = spec;
                self.event(Some(lane), EventKind::Switch, detail)
            }
            Command::ResetOptimizer { lane } => {
                let name = self.specs.get(lane).map_or("?", |s| s.name.as_str());
                let detail = format!("{name} state reset");
                self.event(Some(lane), EventKind::Reset, detail)
            }
            Command::ScaleLr { lane, factor }
            | Command::SetLr {
                lane,
                value: factor,
            } => {
                let Some(spec) = self.specs.get_mut(lane) else {
                    return true;
                };
                let old = spec.lr.unwrap_or(1.0);
                spec.lr = Some(old * factor);
                let detail = format!("lr {old:e} -> {:e}", old * factor);
                self.event(Some(lane), EventKind::Lr, detail)
            }
            Command::ScaleMetaLr { lane, factor }
            | Command::SetMetaLr {
                lane,
                value: factor,
            } => {
                let Some(spec) = self.specs.get_mut(lane) else {
                    return true;
                };
                let old = spec.meta_lr.unwrap_or(1e-3);
                spec.meta_lr = Some(old * factor);
                let detail = format!("meta_lr {old:e} -> {:e}", old * factor);
                self.event(Some(lane), EventKind::MetaLr, detail)
            }
            Command::ScalePace { .. } => true,
            Command::Race { specs } => {
                let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
                self.specs.truncate(1);
                self.specs.extend(specs);
                let mut info = start_info(self.task, self.statuses());
                info.max_steps = Some(self.max_steps);
                self.send(Msg::Started(info))
                    && self.event(None, EventKind::Race, format!("race: {}", names.join(", ")))
            }
            Command::Checkpoint => self.event(
                None,
                EventKind::Checkpoint,
                format!("(synthetic) checkpoint at step {}", self.step),
            ),
            Command::Generate { count } => {
                self.generating = Some(0);
                let _ = count;
                self.event(None, EventKind::Generate, "generating 8 digits".into())
            }
            Command::Quit => true,
        }
    }

    fn generate_some(&mut self) {
        if let Some(done) = self.generating {
            let done = (done + 16).min(28 * 28);
            self.send(Msg::View {
                lane: None,
                view: TaskView::Digits(digits(8, done)),
            });
            self.generating = (done < 28 * 28).then_some(done);
        }
    }

    fn finish(&mut self) {
        let lanes = self
            .specs
            .iter()
            .enumerate()
            .map(|(lane, spec)| {
                let loss = record(self.task, lane, self.step.max(1), &spec.name).loss;
                lane_summary(lane, &spec.name, self.step, loss, self.steps_per_s)
            })
            .collect();
        self.send(Msg::Finished(Ok(Summary {
            lanes,
            elapsed_s: self.t(),
            lost: vec![],
        })));
    }
}
