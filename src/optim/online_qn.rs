//! The step L-BFGS without line search and O-LBFGS share, as the paper's authors run both
//! (Schraudolph, Yu & Günter, "A Stochastic Quasi-Newton Method for Online Convex
//! Optimization", AISTATS 2007, Algorithm 1 with the stochastic changes of its §3.2):
//!
//! ```text
//! η_t = lr·τ/(τ + t)                                       gain, t = 0, 1, …
//! no pair yet:  s = −η_t·ε·g                               a small first step
//! otherwise:    s = −η_t·H·g                               two-loop recursion, H0 = γ·I
//! y = ∇f(x + s; same minibatch) − g + λ·s,  keep (s, y) if sᵀy > 0
//! ```
//!
//! The two differ only in `γ` ([`H0`]) and λ (O-LBFGS only). Where this departs from the
//! authors' code, on purpose:
//! - A pair with `sᵀy ≤ 0` (possible on non-convex tasks) is skipped and counted; the authors
//!   store every pair, and one with `sᵀy < 0` makes `H` indefinite.
//! - The first step. In the authors' f64 arithmetic `−η0·ε·g` with ε = 1e-10 moves `x` by ~1e-13
//!   of the gradient: a finite-difference probe of the curvature along `g` that leaves `x` in
//!   place. In f32 such a step is lost to rounding — `x` or the gradient change rounds to zero —
//!   and no pair would ever form. So while no pair is held, the probe's scale ε grows tenfold
//!   after each step whose pair is not accepted, up to 1 (a plain step of the gain), and a probe
//!   pair is accepted only once the gradient change it measures is resolved in f32,
//!   `‖y‖ ≥ 2⁻¹⁰·‖g‖` (about three correct digits). With ε = 1e-10 this costs about ten
//!   probes (twenty gradient evaluations) at the start of a run and nothing after.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Settings};
use super::curvature::CurvatureMemory;
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{check_dims, move_and_record, norm};
use super::snapshot::count;
use super::{OptimizerSpec, OptimizerState, Preconditioner, SameBatch, StepStats, hyper};

/// A probe pair counts once `‖y‖ ≥ RESOLVED·‖g‖`: `y` then keeps ~14 of f32's 24 bits.
const RESOLVED: f64 = 1.0 / 1024.0;

/// The probe scale grows by this factor after each probe whose pair was not accepted.
const PROBE_GROWTH: f64 = 10.0;

/// The authors' defaults, shared by L-BFGS and O-LBFGS and the same for every task in their code:
/// gain η0 = 1e-3 decaying as τ/(τ + t) with τ = 10⁴, memory 48, first-step ε = 1e-10; no λ
/// (O-LBFGS adds its own, λ = 0).
pub const AUTHORS_DEFAULTS: OnlineQnConfig = OnlineQnConfig {
    lr: 1e-3,
    memory: 48,
    lambda: None,
    eps: 1e-10,
    tau: 1e4,
};

/// Hyperparameters of the online limited-memory methods; each optimizer keeps its own defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineQnConfig {
    /// Initial gain η0.
    pub lr: f32,
    /// Number of curvature pairs kept (m).
    pub memory: usize,
    /// Curvature regularizer λ ≥ 0 (y ← y + λ·s); `None` for a method without one (L-BFGS),
    /// which then does not take the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f32>,
    /// Initial scale of the first step `−η0·ε·g` (see the module doc for f32).
    pub eps: f32,
    /// Gain decay time τ (η_t = lr·τ/(τ + t)).
    pub tau: f32,
}

impl Hyperparameters for OnlineQnConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::at_least(name, "memory", self.memory, 1)?;
        hyper::positive(name, "eps", self.eps)?;
        hyper::positive(name, "tau", self.tau)?;
        match self.lambda {
            Some(lambda) => hyper::non_negative(name, "lambda", lambda),
            None => Ok(()),
        }
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

impl OnlineQnConfig {
    /// The gain `η_t = lr·τ/(τ + t)` of step `t` (0-based).
    pub fn gain(&self, t: u64) -> f64 {
        let tau = self.tau as f64;
        self.lr as f64 * tau / (tau + t as f64)
    }

    /// λ, 0 for a method without one.
    fn lambda(&self) -> f32 {
        self.lambda.unwrap_or(0.0)
    }
}

/// The state words of a method with these defaults for `spec` on `n` parameters: the pairs
/// (2 vectors each) plus the spare slot's two and two scratch vectors.
pub fn state_words(spec: &OptimizerSpec, defaults: &OnlineQnConfig, n: u64) -> u64 {
    let m = spec.memory.unwrap_or(defaults.memory) as u64;
    m.saturating_mul(2).saturating_add(4).saturating_mul(n)
}

/// The scale `γ` of the initial inverse Hessian `H0 = γ·I`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum H0 {
    /// `sᵀy/yᵀy` of the newest pair (L-BFGS; Nocedal & Wright eq. 7.20).
    Newest,
    /// The average of `sᵀy/yᵀy` over the pairs held (O-LBFGS).
    Mean,
}

pub struct OnlineQn {
    settings: Settings<OnlineQnConfig>,
    h0: H0,
    n: usize,
    /// Probes taken whose pair was not accepted; the probe scale is `ε·10^probes` (≤ 1).
    probes: u64,
    mem: CurvatureMemory,
    /// Scratch: the direction `H·g`.
    dir: Vec<f32>,
    /// Scratch: the same-batch gradient after the step.
    g_new: Vec<f32>,
}

impl OnlineQn {
    pub fn new(
        id: &'static Identity<OnlineQnConfig>,
        h0: H0,
        cfg: OnlineQnConfig,
        n: usize,
    ) -> Result<Self> {
        let mem = CurvatureMemory::new(n, cfg.memory);
        Ok(Self {
            settings: Settings::new(id, cfg)?,
            h0,
            mem,
            n,
            probes: 0,
            dir: vec![0.0; n],
            g_new: vec![0.0; n],
        })
    }

    pub fn config(&self) -> &OnlineQnConfig {
        &self.settings.cfg
    }

    /// `γ`, or `None` while no pair is held.
    pub fn gamma(&self) -> Option<f64> {
        match self.h0 {
            H0::Newest => self.mem.gamma_newest(),
            H0::Mean => self.mem.gamma_mean(),
        }
    }

    /// The scale of the first step's `−η_t·scale·g`: `ε·10^probes`, at most 1.
    pub fn probe_scale(&self) -> f64 {
        let growth = PROBE_GROWTH.powi(self.probes.min(64) as i32);
        (self.settings.cfg.eps as f64 * growth).min(1.0)
    }

    #[cfg(test)]
    pub fn memory(&self) -> &CurvatureMemory {
        &self.mem
    }
}

impl Baseline for OnlineQn {
    type Config = OnlineQnConfig;

    fn settings(&self) -> &Settings<OnlineQnConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<OnlineQnConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        let name = self.settings.name();
        check_dims(name, self.n, params, grad)?;
        let gain = self.settings.cfg.gain(self.settings.t);
        let lambda = self.settings.cfg.lambda();
        let gamma = self.gamma();
        let (dir, eta): (&[f32], f32) = match gamma {
            Some(gamma) => {
                self.mem.apply(grad, gamma, &mut self.dir);
                (&self.dir, gain as f32)
            }
            None => (grad, (gain * self.probe_scale()) as f32),
        };
        let sums = move_and_record(params, dir, eta, self.mem.next_step(), grad);
        self.settings.t += 1;
        // On failure the parameters have moved and no pair is recorded; the trainer stops.
        same_batch
            .loss_and_grad(params, &mut self.g_new)
            .with_context(|| format!("{name}: same-batch gradient after the step"))?;
        if gamma.is_some() {
            self.mem.push(grad, &self.g_new, lambda);
        } else {
            let capped = self.probe_scale() >= 1.0;
            let resolved = |y: &[f32]| capped || norm(y) >= RESOLVED * norm(grad);
            if !self.mem.push_if(grad, &self.g_new, lambda, resolved) {
                self.probes += 1;
            }
        }
        Ok(sums.stats())
    }

    fn clear(&mut self) {
        self.probes = 0;
        self.mem.clear();
    }

    fn save(&self, state: &mut OptimizerState) {
        state.scalars.push(("probes".into(), self.probes as f64));
        self.mem.save(state);
    }

    fn load(&mut self, cfg: &OnlineQnConfig, state: &OptimizerState) -> Result<()> {
        let probes = count(state, "probes")?;
        let mem = CurvatureMemory::load(self.n, cfg.memory, state)?;
        (self.probes, self.mem) = (probes, mem);
        Ok(())
    }

    fn preconditioner_view(&self) -> Option<&dyn Preconditioner> {
        Some(self)
    }

    fn figures(&self) -> Vec<(String, String)> {
        let gamma = self.gamma().map_or("—".into(), hyper::sci);
        let gamma_label = match self.h0 {
            H0::Newest => "H0 scale γ",
            H0::Mean => "H0 scale γ̄",
        };
        vec![
            (
                "history".into(),
                format!("{}/{}", self.mem.len(), self.mem.memory()),
            ),
            ("skipped sᵀy≤0".into(), self.mem.skipped().to_string()),
            ("probes refused".into(), self.probes.to_string()),
            (
                "gain η_t".into(),
                hyper::sci(self.settings.cfg.gain(self.settings.t)),
            ),
            (gamma_label.into(), gamma),
        ]
    }
}

/// The matrix of the next step, `Δx = −G·g`: `G = η_t·H`, or `η_t·ε·10^probes·I` while no pair
/// is held.
impl Preconditioner for OnlineQn {
    fn apply(&self, v: &[f32], out: &mut [f32]) {
        let gain = self.settings.cfg.gain(self.settings.t);
        let (gamma, scale) = match self.gamma() {
            Some(gamma) => (gamma, gain),
            None => (1.0, gain * self.probe_scale()),
        };
        let mut alpha = vec![0.0; self.mem.len()];
        self.mem.apply_with(v, gamma, out, &mut alpha);
        out.iter_mut().for_each(|o| *o *= scale as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;

    fn cfg(eps: f32) -> OnlineQnConfig {
        OnlineQnConfig {
            lr: 1.0,
            memory: 4,
            lambda: None,
            eps,
            tau: 1e4,
        }
    }

    #[test]
    fn an_unresolved_probe_grows_tenfold_until_its_pair_is_resolved() {
        // f = ½·x² at x = 1000 (g = 1000): a probe −ε·g with ε = 1e-10 moves x by 1e-7, below
        // half an f32 ulp of 1000 (3.05e-5), so x and g stay put and the pair is empty. Each
        // refused probe multiplies ε by 10 (hand count): ε = 1e-10 … 1e-6 leave x in place or
        // change g by ≤ 1e-3 < 2⁻¹⁰·1000 = 0.98 (unresolved); ε = 1e-3 (the 8th probe) moves
        // x by ~1 and is resolved, so 7 probes are refused and the 8th pair is kept. x moved by
        // the gains (≈ 0.9996) times 1e-4 + 1e-3 + 1e-2 + 0.1 + 1: x ≈ 998.889.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = x[0];
            Ok(0.5 * x[0] * x[0])
        };
        let mut opt =
            OnlineQn::new(&super::super::olbfgs::IDENTITY, H0::Mean, cfg(1e-10), 1).unwrap();
        let mut x = [1000.0f32];
        let mut g = [0.0f32];
        let mut refused = 0;
        while opt.gamma().is_none() {
            assert!(refused < 12, "no pair after {refused} probes");
            let want = 1e-10 * 10f64.powi(refused);
            assert!((opt.probe_scale() / want - 1.0).abs() < 1e-6);
            f(&x, &mut g).unwrap();
            opt.step(&mut x, &g.clone(), &mut { f }).unwrap();
            refused += (opt.gamma().is_none()) as i32;
        }
        assert_eq!(refused, 7);
        // The pair (s, y) = (−1, −1) of f'' = 1: γ = 1.
        assert!((opt.gamma().unwrap() - 1.0).abs() < 1e-6);
        assert!((x[0] - 998.889).abs() < 2e-3, "{x:?}");
    }

    #[test]
    fn a_probe_at_scale_one_keeps_any_positive_pair() {
        // ε = 1 is the cap: the probe −g on a flat f = 1e-6·x² at x = 1 changes g by 4e-12,
        // far below 2⁻¹⁰·‖g‖ = 2e-9 — unresolved, but kept because the scale cannot grow.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = 2e-6 * x[0];
            Ok(1e-6 * x[0] * x[0])
        };
        let mut opt =
            OnlineQn::new(&super::super::lbfgs::IDENTITY, H0::Newest, cfg(1.0), 1).unwrap();
        let mut x = [1.0f32];
        let mut g = [0.0f32];
        f(&x, &mut g).unwrap();
        opt.step(&mut x, &g.clone(), &mut { f }).unwrap();
        assert_eq!(opt.memory().len(), 1);
    }
}
