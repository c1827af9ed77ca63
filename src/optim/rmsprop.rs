//! RMSprop (Tieleman & Hinton 2012), in PyTorch's convention (`torch.optim.RMSprop`, not
//! centered): ε is added to √v outside the root, and the optional momentum buffer accumulates the
//! normalized gradient.
//!
//! ```text
//! g ← g + wd·x
//! v ← ρ·v + (1 − ρ)·g²
//! β = 0: Δx = −lr·g/(√v + ε)
//! β > 0: b ← β·b + g/(√v + ε),  Δx = −lr·b
//! ```
//!
//! (TensorFlow 1's `RMSPropOptimizer` instead puts ε inside the root, `√(v + ε)`, with ρ = 0.9.)

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::kernels::{check_dims, fused_step, norm};
use super::snapshot::{buffer, check_owner};
use super::{Optimizer, OptimizerSpec, OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "rmsprop";

/// RMSprop hyperparameters; defaults are PyTorch's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmspropConfig {
    /// Learning rate; default 0.01.
    pub lr: f32,
    /// Decay of the squared-gradient average (PyTorch's `alpha`); default 0.99.
    pub rho: f32,
    /// Added to √v; default 1e-8.
    pub eps: f32,
    /// Momentum on the normalized gradient; default 0 (off).
    pub beta: f32,
    /// L2 weight decay (see [`hyper::weight_decay`]); default 0.
    pub weight_decay: f32,
}

impl Default for RmspropConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            rho: 0.99,
            eps: 1e-8,
            beta: 0.0,
            weight_decay: 0.0,
        }
    }
}

impl RmspropConfig {
    pub const FIELDS: &[&str] = &["lr", "rho", "eps", "beta", "weight_decay"];

    pub fn from_spec(spec: &OptimizerSpec) -> Result<Self> {
        spec.ensure_only(Self::FIELDS)?;
        let d = Self::default();
        let cfg = Self {
            lr: spec.lr.unwrap_or(d.lr),
            rho: spec.rho.unwrap_or(d.rho),
            eps: spec.eps.unwrap_or(d.eps),
            beta: spec.beta.unwrap_or(d.beta),
            weight_decay: spec.weight_decay.unwrap_or(d.weight_decay),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        hyper::lr(NAME, self.lr)?;
        hyper::unit(NAME, "rho", self.rho)?;
        hyper::positive(NAME, "eps", self.eps)?;
        hyper::unit(NAME, "beta", self.beta)?;
        hyper::weight_decay(NAME, self.weight_decay)
    }

    pub fn to_spec(&self) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(self.lr),
            rho: Some(self.rho),
            eps: Some(self.eps),
            beta: Some(self.beta),
            weight_decay: Some(self.weight_decay),
            ..OptimizerSpec::named(NAME)
        }
    }
}

pub struct Rmsprop {
    cfg: RmspropConfig,
    t: u64,
    /// Running average of g².
    v: Vec<f32>,
    /// Momentum buffer; stays zero while β = 0.
    b: Vec<f32>,
}

impl Rmsprop {
    pub fn new(cfg: RmspropConfig, n: usize) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            t: 0,
            v: vec![0.0; n],
            b: vec![0.0; n],
        })
    }
}

impl Optimizer for Rmsprop {
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
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.v.len(), params, grad)?;
        let RmspropConfig {
            lr,
            rho,
            eps,
            beta,
            weight_decay: wd,
        } = self.cfg;
        let (v, b) = (&mut self.v, &mut self.b);
        self.t += 1;
        Ok(fused_step(params, grad, |r, x, g, dx| {
            let v = &mut v[r.clone()];
            let b = &mut b[r];
            for i in 0..x.len() {
                let g = g[i] + wd * x[i];
                let vi = rho * v[i] + (1.0 - rho) * g * g;
                v[i] = vi;
                let u = g / (vi.sqrt() + eps);
                // β = 0 gives b = u exactly, so one branch-free loop serves both cases.
                let bi = beta * b[i] + u;
                b[i] = bi;
                let d = -lr * bi;
                dx[i] = d;
                x[i] += d;
            }
        }))
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
        self.v.fill(0.0);
        self.b.fill(0.0);
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            spec: self.spec(),
            step: self.t,
            scalars: Vec::new(),
            buffers: vec![("v".into(), self.v.clone()), ("b".into(), self.b.clone())],
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        check_owner(state, NAME)?;
        let cfg = RmspropConfig::from_spec(&state.spec)?;
        let v = buffer(state, "v", self.v.len())?;
        let b = buffer(state, "b", self.b.len())?;
        (self.cfg, self.t, self.v, self.b) = (cfg, state.step, v, b);
        Ok(())
    }

    fn summary(&self) -> Vec<(String, String)> {
        let n = self.v.len().max(1) as f64;
        let mean_rms = self.v.iter().map(|&v| (v as f64).sqrt()).sum::<f64>() / n;
        let mut out = vec![("mean √v".into(), hyper::sci(mean_rms))];
        if self.cfg.beta > 0.0 {
            out.push(("‖b‖".into(), hyper::sci(norm(&self.b))));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::no_same_batch;

    #[test]
    fn two_steps_follow_pytorch_rmsprop() {
        // f = x², g = 2x, x0 = 1, lr = 0.01, ρ = 0.99, ε = 1e-8, β = 0:
        // step 1: g = 2,   v = 0.01·4 = 0.04,              √v = 0.2,
        //         Δx = −0.01·2/(0.2 + 1e-8)      = −0.09999999500  → x1 = 0.900000005
        // step 2: g = 1.80000001, v = 0.99·0.04 + 0.01·g² = 0.0396 + 0.0324000004 = 0.0720000004,
        //         √v = 0.268328158, Δx = −0.01·1.80000001/(0.268328158 + 1e-8) = −0.0670820364
        //         → x2 = 0.832917969
        let mut opt = Rmsprop::new(
            RmspropConfig {
                lr: 0.01,
                ..RmspropConfig::default()
            },
            1,
        )
        .unwrap();
        let mut x = [1.0f32];
        for want in [0.900000005, 0.832917969] {
            let g = [2.0 * x[0]];
            opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
            assert!(
                (x[0] as f64 - want).abs() < 1e-6,
                "x = {}, want {want}",
                x[0]
            );
        }
    }

    #[test]
    fn momentum_accumulates_the_normalized_gradient() {
        // Constant g = 3, ρ = 0.5, β = 0.5, lr = 1, ε = 1e-8:
        // t1: v = 4.5,  u = 3/√4.5 = 1.41421356, b = 1.41421356
        // t2: v = 6.75, u = 3/√6.75 = 1.15470054, b = 0.70710678 + 1.15470054 = 1.86180732
        let cfg = RmspropConfig {
            lr: 1.0,
            rho: 0.5,
            beta: 0.5,
            ..RmspropConfig::default()
        };
        let mut opt = Rmsprop::new(cfg, 1).unwrap();
        let mut x = [0.0f32];
        opt.step(&mut x, &[3.0], &mut no_same_batch()).unwrap();
        // b1 = 3/√4.5 = √2.
        let b1 = std::f32::consts::SQRT_2;
        assert!((x[0] + b1).abs() < 1e-6);
        opt.step(&mut x, &[3.0], &mut no_same_batch()).unwrap();
        assert!((x[0] + b1 + 1.861_807_3).abs() < 1e-5);
    }
}
