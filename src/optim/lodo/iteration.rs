//! The LODO iteration (docs/algorithm.md §3), written once for every preconditioner family.
//!
//! On receiving `g_t = ∇f(x_t)`:
//! 1. meta step: the hypergradient `∂f(x_t)/∂θ = −α0'·∂/∂θ ⟨g_t, M(θ)·m_{t−1}⟩` of the step that
//!    led to `x_t` (α0' is the α0 that step used), handed to Adam/SGD; skipped on the first step;
//! 2. `m_t = β·m_{t−1} + (1−β)·g_t`;
//! 3. `Δx_t = −α0·M(θ)·m_t`, `x_{t+1} = x_t + Δx_t`.

use anyhow::{Result, ensure};

use super::config::{FamilyConfig, LodoConfig, check_lr, check_meta_lr};
use super::family::Family;
use super::meta::{MetaOptimizer, MetaOptimizerKind};
use crate::optim::vecmath::norm;
use crate::optim::{
    BuildContext, LodoStats, Optimizer, OptimizerSpec, OptimizerState, Preconditioner, SameBatch,
    StepStats,
};

/// A member of the LODO family: the shared iteration around a preconditioner family `F`.
pub(crate) struct Lodo<F: Family> {
    name: &'static str,
    config: LodoConfig,
    family: F,
    meta: MetaOptimizer,
    /// `m_{t−1}` between steps.
    momentum: Vec<f32>,
    /// `M(θ)·m_t` and `Δx_t` of the current step.
    direction: Vec<f32>,
    step: Vec<f32>,
    layer_sq: Vec<f64>,
    steps: u64,
    /// α0 of the previous step (`None` before the first step and after a reset).
    last_step_lr: Option<f32>,
    /// ‖θ‖ as of the last meta step, for the summary.
    last_theta_norm: f64,
}

impl<F: Family> Lodo<F> {
    pub fn new(name: &'static str, config: LodoConfig, family: F, n: usize) -> Self {
        let meta = MetaOptimizer::new(config.meta_optimizer, config.meta_lr, family.theta().len());
        let layers = family.layer_count();
        let last_theta_norm = norm(family.theta());
        Self {
            name,
            config,
            family,
            meta,
            momentum: vec![0.0; n],
            direction: vec![0.0; n],
            step: vec![0.0; n],
            layer_sq: vec![0.0; layers],
            steps: 0,
            last_step_lr: None,
            last_theta_norm,
        }
    }

    /// Step 1 of the iteration: judge the previous step and update θ.
    fn meta_step(&mut self, grad: &[f32]) -> LodoStats {
        let Some(prev_lr) = self.last_step_lr else {
            return LodoStats {
                hypergrad_norm: 0.0,
                layer_hypergrad_norms: vec![0.0; self.layer_sq.len()],
                rel_meta_step: 0.0,
            };
        };
        let sums = self.family.meta_step(
            grad,
            &self.momentum,
            -prev_lr,
            &mut self.meta,
            &mut self.layer_sq,
        );
        self.last_theta_norm = sums.theta_sq.sqrt();
        LodoStats {
            hypergrad_norm: sums.grad_sq.sqrt() as f32,
            layer_hypergrad_norms: self.layer_sq.iter().map(|s| s.sqrt() as f32).collect(),
            rel_meta_step: if sums.theta_sq > 0.0 {
                (sums.step_sq / sums.theta_sq).sqrt() as f32
            } else {
                0.0
            },
        }
    }

    /// Steps 1–3: the meta step, then `m_t` and `direction = M(θ)·m_t`.
    fn precondition_step(&mut self, grad: &[f32]) -> LodoStats {
        let hyper = self.meta_step(grad);
        self.family.precondition_momentum(
            &mut self.momentum,
            grad,
            self.config.beta,
            &mut self.direction,
        );
        hyper
    }

    /// Refuses mismatched lengths and non-finite gradients before any state is touched.
    fn check_inputs(&self, params: &[f32], grad: &[f32]) -> Result<()> {
        let n = self.momentum.len();
        ensure!(
            params.len() == n && grad.len() == n,
            "{}: built for {n} parameters, got {} parameters and {} gradient entries",
            self.name,
            params.len(),
            grad.len()
        );
        ensure!(
            grad.iter().all(|g| g.is_finite()),
            "{}: the gradient has non-finite entries (step {}); optimizer state left unchanged",
            self.name,
            self.steps + 1
        );
        Ok(())
    }
}

impl<F: Family + 'static> Optimizer for Lodo<F> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn spec(&self) -> OptimizerSpec {
        self.config.to_spec(self.name)
    }

    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        self.check_inputs(params, grad)?;
        let hyper = if self.family.runs_in_parallel() {
            // One hand-over to the thread pool per step instead of one per parallel pass.
            rayon::scope(|_| self.precondition_step(grad))
        } else {
            self.precondition_step(grad)
        };
        let lr = self.config.lr;
        for ((x, dx), &d) in params.iter_mut().zip(&mut self.step).zip(&self.direction) {
            *dx = -lr * d;
            *x += *dx;
        }
        let mut stats = StepStats::measure(&self.step, grad);
        stats.lodo = Some(hyper);
        self.last_step_lr = Some(lr);
        self.steps += 1;
        Ok(stats)
    }

    fn lr(&self) -> f32 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        check_lr(self.name, lr)?;
        self.config.lr = lr;
        Ok(())
    }

    fn meta_lr(&self) -> Option<f32> {
        Some(self.config.meta_lr)
    }

    fn set_meta_lr(&mut self, meta_lr: f32) -> Result<()> {
        check_meta_lr(self.name, meta_lr)?;
        self.config.meta_lr = meta_lr;
        self.meta.set_lr(meta_lr);
        Ok(())
    }

    fn reset(&mut self) {
        self.family.reinit();
        self.meta.reset();
        self.momentum.fill(0.0);
        self.steps = 0;
        self.last_step_lr = None;
        self.last_theta_norm = norm(self.family.theta());
    }

    fn state(&self) -> OptimizerState {
        let mut buffers = vec![
            ("theta".to_string(), self.family.theta().to_vec()),
            ("momentum".to_string(), self.momentum.clone()),
        ];
        if self.meta.kind() == MetaOptimizerKind::Adam {
            let (first, second) = self.meta.moments();
            buffers.push(("meta_first".to_string(), first.to_vec()));
            buffers.push(("meta_second".to_string(), second.to_vec()));
        }
        OptimizerState {
            spec: self.spec(),
            step: self.steps,
            scalars: vec![
                ("meta_steps".to_string(), self.meta.steps() as f64),
                (
                    "has_previous_step".to_string(),
                    f64::from(u8::from(self.last_step_lr.is_some())),
                ),
                (
                    "last_step_lr".to_string(),
                    f64::from(self.last_step_lr.unwrap_or(0.0)),
                ),
            ],
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let saved = self.saved_config(state)?;
        let theta = state.buffer("theta", self.family.theta().len())?;
        let momentum = state.buffer("momentum", self.momentum.len())?;
        let meta_steps = state.scalar("meta_steps")? as u64;
        let has_previous = state.scalar("has_previous_step")? != 0.0;
        let last_lr = state.scalar("last_step_lr")? as f32;
        if self.meta.kind() == MetaOptimizerKind::Adam {
            let len = theta.len();
            let first = state.buffer("meta_first", len)?;
            let second = state.buffer("meta_second", len)?;
            self.meta.restore(meta_steps, first, second);
        } else {
            self.meta.restore(meta_steps, &[], &[]);
        }
        self.family.load_theta(theta)?;
        self.momentum.copy_from_slice(momentum);
        self.meta.set_lr(saved.meta_lr);
        self.config = saved;
        self.steps = state.step;
        self.last_step_lr = has_previous.then_some(last_lr);
        self.last_theta_norm = norm(self.family.theta());
        Ok(())
    }

    fn preconditioner(&self) -> Option<&dyn Preconditioner> {
        Some(self)
    }

    fn summary(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("family".to_string(), self.family.describe()),
            ("|θ|".to_string(), self.family.theta().len().to_string()),
            ("‖θ‖".to_string(), format!("{:.4e}", self.last_theta_norm)),
            ("‖m‖".to_string(), format!("{:.3e}", norm(&self.momentum))),
            ("meta steps".to_string(), self.meta.steps().to_string()),
        ];
        if let FamilyConfig::Global = self.config.family {
            out.push(("θ".to_string(), format!("{:.4}", self.family.theta()[0])));
        }
        out
    }
}

impl<F: Family> Lodo<F> {
    /// The config a snapshot was taken with, checked to describe this same network.
    fn saved_config(&self, state: &OptimizerState) -> Result<LodoConfig> {
        ensure!(
            state.spec.name == self.name,
            "{}: cannot load the state of a `{}` optimizer",
            self.name,
            state.spec.name
        );
        let ctx = BuildContext {
            n: self.momentum.len(),
            layers: &[],
            seed: self.config.seed,
            horizon: None,
        };
        let saved = LodoConfig::from_spec(&state.spec, &ctx)?;
        ensure!(
            saved.family == self.config.family && saved.seed == self.config.seed,
            "{}: the state is of a different network ({:?}, seed {}) than this one ({:?}, seed {})",
            self.name,
            saved.family,
            saved.seed,
            self.config.family,
            self.config.seed
        );
        Ok(saved)
    }
}

/// `out = G·v = α0·M(θ)·v`: the linear map the step applies to the momentum (`Δx = −G·m`).
impl<F: Family> Preconditioner for Lodo<F> {
    fn apply(&self, v: &[f32], out: &mut [f32]) {
        self.family.apply(v, out);
        let lr = self.config.lr;
        out.iter_mut().for_each(|o| *o *= lr);
    }
}
