//! Small, complete test implementations of `Task` and `Optimizer`, so the trainer, presets and
//! `compare` are tested on their own, independently of the real tasks and optimizers.

use anyhow::{Result, bail, ensure};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::builders::Builders;
use crate::optim::{
    BuildContext, Optimizer, OptimizerSpec, OptimizerState, Preconditioner, SameBatch, StepStats,
};
use crate::task::{Digits, EvalContext, Layer, Metrics, Task, TaskKind, TaskSpec, TaskState};

pub fn builders() -> Builders {
    Builders {
        task: build_task,
        optimizer: build_optimizer,
    }
}

/// A noisy diagonal quadratic `½ Σ λᵢ (xᵢ − cᵢ)²` whose centre takes a seeded random-walk step per
/// minibatch. The loss is NaN once any |xᵢ| exceeds 1e3 (to exercise the divergence guard).
pub struct Bowl {
    dim: usize,
    seed: u64,
    rng: ChaCha8Rng,
    centre: Vec<f32>,
    noise: f32,
    /// Fail `loss_and_grad` from this minibatch on (to exercise task errors).
    pub fail_from_batch: Option<u64>,
    batches: u64,
    /// Calls to `loss_and_grad` since the last `next_batch` (checks "same batch" plumbing).
    pub evals_this_batch: usize,
}

fn build_task(spec: &TaskSpec, seed: u64) -> Result<Box<dyn Task>> {
    ensure!(
        spec.name == "quadratic",
        "test builders: no task `{}`",
        spec.name
    );
    spec.ensure_only(&["dim", "noise"])?;
    let dim = spec.dim.unwrap_or(4);
    Ok(Box::new(Bowl {
        dim,
        seed,
        rng: ChaCha8Rng::seed_from_u64(seed),
        centre: vec![0.0; dim],
        noise: spec.noise.unwrap_or(0.1),
        fail_from_batch: None,
        batches: 0,
        evals_this_batch: 0,
    }))
}

/// Builders whose quadratic fails with a task error on its fourth minibatch.
pub fn failing_builders() -> Builders {
    fn build(spec: &TaskSpec, seed: u64) -> Result<Box<dyn Task>> {
        let task = Bowl {
            dim: spec.dim.unwrap_or(4),
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            centre: vec![0.0; spec.dim.unwrap_or(4)],
            noise: 0.1,
            fail_from_batch: Some(4),
            batches: 0,
            evals_this_batch: 0,
        };
        Ok(Box::new(task))
    }
    Builders {
        task: build,
        optimizer: build_optimizer,
    }
}

impl Bowl {
    fn lambda(i: usize) -> f32 {
        1.0 / (1 + i) as f32
    }
}

impl Task for Bowl {
    fn kind(&self) -> TaskKind {
        TaskKind::Quadratic
    }
    fn title(&self) -> String {
        "test bowl".into()
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn init_params(&self) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xbeef);
        (0..self.dim).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }
    fn layers(&self) -> Vec<Layer> {
        let half = self.dim / 2;
        vec![
            Layer {
                name: "a".into(),
                range: 0..half,
            },
            Layer {
                name: "b".into(),
                range: half..self.dim,
            },
        ]
    }
    fn next_batch(&mut self) {
        for c in &mut self.centre {
            *c += self.noise * self.rng.gen_range(-1.0f32..1.0);
        }
        self.evals_this_batch = 0;
        self.batches += 1;
    }
    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> Result<f32> {
        ensure!(params.len() == self.dim, "bowl: wrong parameter count");
        if self.fail_from_batch.is_some_and(|b| self.batches >= b) {
            bail!("bowl: minibatch {} could not be read", self.batches);
        }
        self.evals_this_batch += 1;
        let mut loss = 0.0f32;
        for i in 0..self.dim {
            let d = params[i] - self.centre[i];
            loss += 0.5 * Self::lambda(i) * d * d;
            grad[i] = Self::lambda(i) * d;
        }
        if params.iter().any(|x| x.abs() > 1e3) {
            return Ok(f32::NAN);
        }
        Ok(loss)
    }
    fn evaluate(&mut self, params: &[f32], ctx: &EvalContext) -> Result<Metrics> {
        let dist: f32 = params
            .iter()
            .zip(&self.centre)
            .map(|(x, c)| (x - c) * (x - c))
            .sum();
        let mut m = Metrics::new();
        m.insert("distance".into(), dist.sqrt() as f64);
        if let Some(p) = ctx.preconditioner {
            let mut out = vec![0.0; self.dim];
            p.apply(&vec![1.0; self.dim], &mut out);
            m.insert("precond_0".into(), out[0] as f64);
        }
        Ok(m)
    }
    /// `sum`: the sum of the parameters, standing in for a costly end-of-run metric.
    fn final_evaluation(&mut self, params: &[f32]) -> Result<Metrics> {
        let sum: f32 = params.iter().sum();
        Ok([("sum".to_string(), f64::from(sum))].into())
    }
    fn point_view(&self, params: &[f32]) -> Option<[f32; 2]> {
        (self.dim == 2).then(|| [params[0], params[1]])
    }
    fn can_generate(&self) -> bool {
        true
    }
    fn generate(
        &mut self,
        _params: &[f32],
        count: usize,
        seed: u64,
        progress: &mut dyn FnMut(&Digits) -> bool,
    ) -> Result<Digits> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut digits = Digits {
            rows: 2,
            cols: 2,
            count,
            pixels: vec![0; count * 4],
            pixels_done: 0,
        };
        for p in 0..4 {
            for img in 0..count {
                digits.pixels[img * 4 + p] = rng.r#gen();
            }
            digits.pixels_done = p + 1;
            if !progress(&digits) {
                bail!("cancelled");
            }
        }
        Ok(digits)
    }
    fn state(&self) -> TaskState {
        let mut words = vec![self.rng.get_word_pos() as u64];
        words.push((self.rng.get_word_pos() >> 64) as u64);
        TaskState {
            words,
            buffers: vec![("centre".into(), self.centre.clone())],
        }
    }
    fn load_state(&mut self, state: &TaskState) -> Result<()> {
        ensure!(state.words.len() == 2, "bowl: bad state");
        let pos = state.words[0] as u128 | (state.words[1] as u128) << 64;
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        self.rng.set_word_pos(pos);
        self.centre = state.buffers[0].1.clone();
        Ok(())
    }
}

/// Momentum SGD; under the name `lodo` it also learns a global step scale θ by hypergradient
/// descent (a real, if tiny, member of the LODO family), so it has a meta learning rate and a
/// preconditioner `G = lr·θ·I`.
pub struct TestOpt {
    spec: OptimizerSpec,
    lr: f32,
    beta: f32,
    meta_lr: Option<f32>,
    theta: f32,
    momentum: Vec<f32>,
    prev_step: Vec<f32>,
    steps: u64,
    /// Re-evaluate on the same batch each step (like L-BFGS) when the spec is `lbfgs`.
    same_batch: bool,
}

fn build_optimizer(spec: &OptimizerSpec, ctx: &BuildContext) -> Result<Box<dyn Optimizer>> {
    let (beta, meta_lr) = match spec.name.as_str() {
        "sgd" | "lbfgs" => (0.0, None),
        "momentum" | "adam" => (spec.beta.unwrap_or(0.9), None),
        "lodo" => (spec.beta.unwrap_or(0.9), Some(spec.meta_lr.unwrap_or(1e-3))),
        other => bail!("test builders: no optimizer `{other}`"),
    };
    if meta_lr.is_some() {
        spec.ensure_only(&["lr", "meta_lr", "beta", "seed"])?;
    } else {
        spec.ensure_only(&["lr", "beta"])?;
    }
    let lr = spec.lr.unwrap_or(0.1);
    ensure!(lr > 0.0, "{}: lr must be positive (got {lr})", spec.name);
    Ok(Box::new(TestOpt {
        spec: spec.clone(),
        lr,
        beta,
        meta_lr,
        theta: 1.0,
        momentum: vec![0.0; ctx.n],
        prev_step: vec![0.0; ctx.n],
        steps: 0,
        same_batch: spec.name == "lbfgs",
    }))
}

impl Preconditioner for TestOpt {
    fn apply(&self, v: &[f32], out: &mut [f32]) {
        for (o, x) in out.iter_mut().zip(v) {
            *o = self.lr * self.theta * x;
        }
    }
}

impl Optimizer for TestOpt {
    fn name(&self) -> &'static str {
        match self.spec.name.as_str() {
            "sgd" => "sgd",
            "lbfgs" => "lbfgs",
            "momentum" => "momentum",
            "adam" => "adam",
            _ => "lodo",
        }
    }
    fn spec(&self) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(self.lr),
            meta_lr: self.meta_lr,
            ..self.spec.clone()
        }
    }
    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        if let Some(meta_lr) = self.meta_lr
            && self.steps > 0
        {
            // f(x_t) with x_t = x_{t-1} − lr·θ·m_{t-1}: ∂f/∂θ = g_t · prev_step / θ.
            let hyper: f32 = grad.iter().zip(&self.prev_step).map(|(g, s)| g * s).sum();
            self.theta -= meta_lr * hyper / self.theta;
        }
        for (m, g) in self.momentum.iter_mut().zip(grad) {
            *m = self.beta * *m + (1.0 - self.beta) * g;
        }
        for ((x, s), m) in params
            .iter_mut()
            .zip(&mut self.prev_step)
            .zip(&self.momentum)
        {
            *s = -self.lr * self.theta * m;
            *x += *s;
        }
        if self.same_batch {
            let mut g2 = vec![0.0; grad.len()];
            same_batch.loss_and_grad(params, &mut g2)?;
        }
        self.steps += 1;
        Ok(StepStats::measure(&self.prev_step, grad))
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn set_lr(&mut self, lr: f32) -> Result<()> {
        ensure!(lr > 0.0, "{}: lr must be positive (got {lr})", self.name());
        self.lr = lr;
        Ok(())
    }
    fn meta_lr(&self) -> Option<f32> {
        self.meta_lr
    }
    fn set_meta_lr(&mut self, meta_lr: f32) -> Result<()> {
        match self.meta_lr {
            Some(_) => {
                self.meta_lr = Some(meta_lr);
                Ok(())
            }
            None => bail!("{}: has no meta learning rate (got {meta_lr})", self.name()),
        }
    }
    fn reset(&mut self) {
        self.theta = 1.0;
        self.momentum.fill(0.0);
        self.prev_step.fill(0.0);
        self.steps = 0;
    }
    fn state(&self) -> OptimizerState {
        OptimizerState {
            spec: self.spec(),
            step: self.steps,
            scalars: vec![("theta".into(), self.theta as f64)],
            buffers: vec![
                ("momentum".into(), self.momentum.clone()),
                ("prev_step".into(), self.prev_step.clone()),
            ],
        }
    }
    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let n = self.momentum.len();
        self.theta = state.scalar("theta")? as f32;
        self.momentum = state.buffer("momentum", n)?.to_vec();
        self.prev_step = state.buffer("prev_step", n)?.to_vec();
        self.steps = state.step;
        self.lr = state.spec.lr.unwrap_or(self.lr);
        if self.meta_lr.is_some() {
            self.meta_lr = state.spec.meta_lr;
        }
        Ok(())
    }
    fn preconditioner(&self) -> Option<&dyn Preconditioner> {
        self.meta_lr.map(|_| self as &dyn Preconditioner)
    }
    fn summary(&self) -> Vec<(String, String)> {
        vec![("θ".into(), format!("{:.3}", self.theta))]
    }
}

/// A LODO step record with fixed statistics, for tests of what observers do with steps:
/// `grad_evals` is `2·step` so a test can tell it from the step, `t` is `step·dt`.
pub fn lodo_step(
    lane: crate::schema::LaneId,
    step: u64,
    dt: f64,
    loss: f32,
) -> crate::schema::StepRecord {
    use crate::optim::{LodoStats, StepStats};
    crate::schema::StepRecord {
        lane,
        step,
        grad_evals: Some(2 * step),
        t: step as f64 * dt,
        optimizer: "lodo".into(),
        loss,
        stats: StepStats {
            step_norm: 0.1,
            grad_norm: 1.0,
            cos_step_neg_grad: 0.9,
            effective_lr: 0.1,
            lodo: Some(LodoStats {
                hypergrad_norm: 1e-3,
                layer_hypergrad_norms: vec![1e-4; 4],
                rel_meta_step: 1e-5,
            }),
        },
    }
}

/// The messages of the record fixtures `names` (files in tests/fixtures/records, overlaid as
/// `lodo-tui view` does), without their summary: the dashboard as it looked while they were
/// being written.
pub fn fixture_messages(names: &[&str]) -> Vec<crate::train::Msg> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    let sources: Vec<_> = names
        .iter()
        .map(|n| crate::record::overlay::Source::new(&dir.join(n)))
        .collect();
    let mut msgs = crate::record::overlay::messages(&sources).expect("the fixtures read");
    msgs.retain(|m| !matches!(m, crate::train::Msg::Finished(_)));
    msgs
}

/// The `Started` message of the record fixture `name`.
pub fn fixture_start(name: &str) -> crate::train::StartInfo {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/records")
        .join(name);
    let record = crate::record::read(&path).expect("the fixture reads");
    record.start.info()
}
