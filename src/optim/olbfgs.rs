//! O-LBFGS, online L-BFGS (Schraudolph, Yu & Günter, "A Stochastic Quasi-Newton Method for
//! Online Convex Optimization", AISTATS 2007, Algorithm oLBFGS):
//!
//! ```text
//! η_t = lr·τ/(τ + t)                                   (gain schedule)
//! t with no pair: p = −ε·g                             (a small first step)
//! otherwise:      p = −H·g, two-loop with H0 = γ·I,  γ = (1/k)·Σ_{pairs} sᵀy/yᵀy
//! s = η_t·p,  x ← x + s
//! y = ∇f(x + s; same minibatch) − g + λ·s,   keep (s, y) if sᵀy > 0
//! ```
//!
//! Differences from [`super::lbfgs`] are the point of the method: averaging γ over the memory
//! smooths the curvature estimate of noisy minibatch pairs, λ-regularization keeps `sᵀy` away from
//! 0, and the decaying gain gives the stochastic-approximation convergence. The paper writes the
//! step as `η_t/c·p` with `c ∈ (0, 1]`; in O-LBFGS (unlike its oBFGS) `c` appears nowhere else,
//! so it is folded into `lr = η0/c`.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::curvature::CurvatureMemory;
use super::kernels::{check_dims, move_and_record};
use super::snapshot::check_owner;
use super::{
    Optimizer, OptimizerSpec, OptimizerState, Preconditioner, SameBatch, StepStats, hyper,
};

pub const NAME: &str = "olbfgs";

/// O-LBFGS hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OlbfgsConfig {
    /// Initial gain `η0/c`; default 1 (the unit quasi-Newton step; η0 = c = 0.1 in a public
    /// PyTorch re-implementation of the paper's setup gives the same).
    pub lr: f32,
    /// Number of curvature pairs kept (m); default 10 (one of the paper's settings).
    pub memory: usize,
    /// Curvature regularizer λ ≥ 0 (y ← y + λ·s); default 0, as in the paper's experiments.
    pub lambda: f32,
    /// Scale of the first step `−η0·ε·g`; default 1e-4. The paper uses 1e-10 in double
    /// precision; in f32 a step that small does not change parameters of order 0.1 at all, so
    /// the first pair would be empty.
    pub eps: f32,
    /// Gain decay time τ (η_t = lr·τ/(τ + t)); default 2·10⁴ steps (the same re-implementation's
    /// value), so the gain is still 0.8·lr after 5,000 steps.
    pub tau: f32,
}

impl Default for OlbfgsConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            memory: 10,
            lambda: 0.0,
            eps: 1e-4,
            tau: 2e4,
        }
    }
}

impl OlbfgsConfig {
    pub const FIELDS: &[&str] = &["lr", "memory", "lambda", "eps", "tau"];

    pub fn from_spec(spec: &OptimizerSpec) -> Result<Self> {
        spec.ensure_only(Self::FIELDS)?;
        let d = Self::default();
        let cfg = Self {
            lr: spec.lr.unwrap_or(d.lr),
            memory: spec.memory.unwrap_or(d.memory),
            lambda: spec.lambda.unwrap_or(d.lambda),
            eps: spec.eps.unwrap_or(d.eps),
            tau: spec.tau.unwrap_or(d.tau),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        hyper::lr(NAME, self.lr)?;
        hyper::at_least(NAME, "memory", self.memory, 1)?;
        hyper::non_negative(NAME, "lambda", self.lambda)?;
        hyper::positive(NAME, "eps", self.eps)?;
        hyper::positive(NAME, "tau", self.tau)
    }

    pub fn to_spec(&self) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(self.lr),
            memory: Some(self.memory),
            lambda: Some(self.lambda),
            eps: Some(self.eps),
            tau: Some(self.tau),
            ..OptimizerSpec::named(NAME)
        }
    }

    /// The gain `η_t = lr·τ/(τ + t)` of step `t` (0-based).
    pub fn gain(&self, t: u64) -> f64 {
        let tau = self.tau as f64;
        self.lr as f64 * tau / (tau + t as f64)
    }
}

pub struct Olbfgs {
    cfg: OlbfgsConfig,
    n: usize,
    t: u64,
    mem: CurvatureMemory,
    dir: Vec<f32>,
    g_new: Vec<f32>,
}

impl Olbfgs {
    pub fn new(cfg: OlbfgsConfig, n: usize) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            mem: CurvatureMemory::new(n, cfg.memory),
            cfg,
            n,
            t: 0,
            dir: vec![0.0; n],
            g_new: vec![0.0; n],
        })
    }
}

impl Optimizer for Olbfgs {
    fn name(&self) -> &'static str {
        NAME
    }

    fn spec(&self) -> OptimizerSpec {
        self.cfg.to_spec()
    }

    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.n, params, grad)?;
        let gain = self.cfg.gain(self.t);
        let (dir, eta): (&[f32], f32) = match self.mem.gamma_mean() {
            Some(gamma) => {
                self.mem.apply(grad, gamma, &mut self.dir);
                (&self.dir, gain as f32)
            }
            None => (grad, (gain * self.cfg.eps as f64) as f32),
        };
        let sums = move_and_record(params, dir, eta, self.mem.next_step(), grad);
        self.t += 1;
        // On failure the parameters have moved and no pair is recorded; the trainer stops.
        same_batch
            .loss_and_grad(params, &mut self.g_new)
            .context("olbfgs: same-batch gradient after the step")?;
        self.mem.push(grad, &self.g_new, self.cfg.lambda);
        Ok(sums.stats())
    }

    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        hyper::lr(NAME, lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn reset(&mut self) {
        self.t = 0;
        self.mem.clear();
    }

    fn state(&self) -> OptimizerState {
        let mut state = OptimizerState {
            spec: self.spec(),
            step: self.t,
            ..OptimizerState::default()
        };
        self.mem.save(&mut state);
        state
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        check_owner(state, NAME)?;
        let cfg = OlbfgsConfig::from_spec(&state.spec)?;
        let mem = CurvatureMemory::load(self.n, cfg.memory, state)?;
        (self.cfg, self.t, self.mem) = (cfg, state.step, mem);
        Ok(())
    }

    fn preconditioner(&self) -> Option<&dyn Preconditioner> {
        Some(self)
    }

    fn summary(&self) -> Vec<(String, String)> {
        let gamma = self.mem.gamma_mean().map_or("—".into(), hyper::sci);
        vec![
            (
                "history".into(),
                format!("{}/{}", self.mem.len(), self.mem.memory()),
            ),
            ("skipped sᵀy≤0".into(), self.mem.skipped().to_string()),
            ("gain η_t".into(), hyper::sci(self.cfg.gain(self.t))),
            ("H0 scale γ̄".into(), gamma),
        ]
    }
}

/// The matrix of the next step, `Δx = −G·g`: `G = η_t·H`, or `η_t·ε·I` while no pair is held.
impl Preconditioner for Olbfgs {
    fn apply(&self, v: &[f32], out: &mut [f32]) {
        let gain = self.cfg.gain(self.t);
        let (gamma, scale) = match self.mem.gamma_mean() {
            Some(gamma) => (gamma, gain),
            None => (1.0, gain * self.cfg.eps as f64),
        };
        let mut alpha = vec![0.0; self.mem.len()];
        self.mem.apply_with(v, gamma, out, &mut alpha);
        out.iter_mut().for_each(|o| *o *= scale as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::{Quadratic, TestRng};

    fn parabola(x: &[f32], g: &mut [f32]) -> Result<f32> {
        g[0] = 2.0 * x[0];
        Ok(x[0] * x[0])
    }

    fn run_1d(cfg: OlbfgsConfig, steps: usize) -> Vec<f32> {
        let mut opt = Olbfgs::new(cfg, 1).unwrap();
        let mut x = [3.0f32];
        let mut g = [0.0f32];
        (0..steps)
            .map(|_| {
                parabola(&x, &mut g).unwrap();
                opt.step(&mut x, &g.clone(), &mut parabola).unwrap();
                x[0]
            })
            .collect()
    }

    #[test]
    fn one_dimensional_trajectory_follows_the_paper() {
        // f = x² (a = 2), x0 = 3, lr = 1, ε = 0.1, τ = 10, λ = 0.
        // t=0: η0 = 1, no pair: s = −η0·ε·g = −0.1·6 = −0.6, x1 = 2.4; y = 2·(−0.6) = −1.2,
        //      γ̄ = sᵀy/yᵀy = 0.72/1.44 = 0.5 (= 1/a; in 1-D H = 1/a exactly).
        // t=1: η1 = 10/11, p = −g/a = −2.4, s = −2.181818, x2 = 0.218182.
        // t=2: η2 = 10/12, p = −0.218182, s = −0.181818, x3 = 0.036364.
        let cfg = OlbfgsConfig {
            eps: 0.1,
            tau: 10.0,
            ..OlbfgsConfig::default()
        };
        let xs = run_1d(cfg, 3);
        for (x, want) in xs.iter().zip([2.4, 0.2181818, 0.0363636]) {
            assert!((x - want).abs() < 1e-6, "{xs:?}");
        }
    }

    #[test]
    fn lambda_regularizes_the_curvature_pairs() {
        // As above with λ = 2: y = a·s + λ·s = 4·s, so γ̄ = 1/4 and H = 1/(a + λ):
        // t=0: s = −0.6, x1 = 2.4, y = −2.4; t=1: p = −4.8/4 = −1.2, s = −1.2·10/11 = −1.090909,
        // x2 = 1.309091.
        let cfg = OlbfgsConfig {
            eps: 0.1,
            tau: 10.0,
            lambda: 2.0,
            ..OlbfgsConfig::default()
        };
        let xs = run_1d(cfg, 2);
        for (x, want) in xs.iter().zip([2.4, 1.3090909]) {
            assert!((x - want).abs() < 1e-6, "{xs:?}");
        }
    }

    #[test]
    fn solves_an_ill_conditioned_quadratic_with_the_same_batch_oracle() {
        // n = 20, condition 100, minimum at a random c, start at 0, paper defaults but τ = 10⁴
        // (the gain stays above 0.99 over the run). Tolerance ‖x − c‖ ≤ 1e-4·‖c‖ within 100 steps.
        // Measured: 41 steps.
        let mut rng = TestRng::new(5);
        let c: Vec<f32> = (0..20).map(|_| rng.normal()).collect();
        let q = Quadratic::new(20, 1.0, 100.0, 6).centred(c);
        let cfg = OlbfgsConfig {
            tau: 1e4,
            ..OlbfgsConfig::default()
        };
        let mut opt = Olbfgs::new(cfg, 20).unwrap();
        let mut x = vec![0.0f32; 20];
        let mut g = vec![0.0f32; 20];
        let d0 = q.distance(&x);
        let mut steps = 0;
        while q.distance(&x) > 1e-4 * d0 && steps < 100 {
            q.loss_and_grad(&x, &mut g);
            opt.step(&mut x, &g, &mut q.oracle()).unwrap();
            steps += 1;
        }
        assert!(
            q.distance(&x) <= 1e-4 * d0,
            "after {steps} steps ‖x − c‖ = {}",
            q.distance(&x)
        );
    }

    #[test]
    fn gain_schedule_and_preconditioner_before_any_pair() {
        let cfg = OlbfgsConfig {
            lr: 2.0,
            tau: 100.0,
            eps: 1e-3,
            ..OlbfgsConfig::default()
        };
        assert!((cfg.gain(0) - 2.0).abs() < 1e-12);
        assert!((cfg.gain(100) - 1.0).abs() < 1e-12);
        let opt = Olbfgs::new(cfg, 2).unwrap();
        let mut out = [0.0f32; 2];
        opt.apply(&[1.0, -4.0], &mut out);
        // G = η0·ε·I = 2e-3·I.
        assert!(
            (out[0] - 2e-3).abs() < 1e-9 && (out[1] + 8e-3).abs() < 1e-9,
            "{out:?}"
        );
    }
}
