//! Momentum SGD, heavy ball (`momentum`) and Nesterov (`nesterov`), in PyTorch's convention:
//!
//! ```text
//! g ← g + wd·x
//! v ← β·v + g
//! heavy ball: Δx = −lr·v            Nesterov: Δx = −lr·(g + β·v)
//! ```
//!
//! (`torch.optim.SGD` with `dampening = 0`; Sutskever et al. 2013 write the same methods with the
//! learning rate inside the buffer, which differs from this one only when lr changes mid-run.)
//! The buffer starts at zero, so the first step is a plain gradient step, as in PyTorch.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::kernels::{check_dims, fused_step, norm};
use super::snapshot::{buffer, check_owner};
use super::{Optimizer, OptimizerSpec, OptimizerState, SameBatch, StepStats, hyper};

/// Which of the two momentum methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    HeavyBall,
    Nesterov,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::HeavyBall => "momentum",
            Variant::Nesterov => "nesterov",
        }
    }
}

/// Momentum SGD hyperparameters (shared by both variants).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MomentumConfig {
    /// Learning rate; default 0.01 (Keras `SGD`).
    pub lr: f32,
    /// Momentum coefficient β in [0, 1); default 0.9 (the customary value, Sutskever et al. 2013).
    pub beta: f32,
    /// L2 weight decay (see [`hyper::weight_decay`]); default 0.
    pub weight_decay: f32,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            beta: 0.9,
            weight_decay: 0.0,
        }
    }
}

impl MomentumConfig {
    pub const FIELDS: &[&str] = &["lr", "beta", "weight_decay"];

    pub fn from_spec(spec: &OptimizerSpec, variant: Variant) -> Result<Self> {
        spec.ensure_only(Self::FIELDS)?;
        let d = Self::default();
        let cfg = Self {
            lr: spec.lr.unwrap_or(d.lr),
            beta: spec.beta.unwrap_or(d.beta),
            weight_decay: spec.weight_decay.unwrap_or(d.weight_decay),
        };
        cfg.validate(variant)?;
        Ok(cfg)
    }

    pub fn validate(&self, variant: Variant) -> Result<()> {
        let name = variant.name();
        hyper::lr(name, self.lr)?;
        hyper::unit(name, "beta", self.beta)?;
        hyper::weight_decay(name, self.weight_decay)
    }

    pub fn to_spec(&self, variant: Variant) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(self.lr),
            beta: Some(self.beta),
            weight_decay: Some(self.weight_decay),
            ..OptimizerSpec::named(variant.name())
        }
    }
}

pub struct Momentum {
    variant: Variant,
    cfg: MomentumConfig,
    t: u64,
    /// The velocity buffer `v`.
    v: Vec<f32>,
}

impl Momentum {
    pub fn new(variant: Variant, cfg: MomentumConfig, n: usize) -> Result<Self> {
        cfg.validate(variant)?;
        Ok(Self {
            variant,
            cfg,
            t: 0,
            v: vec![0.0; n],
        })
    }
}

impl Optimizer for Momentum {
    fn name(&self) -> &'static str {
        self.variant.name()
    }

    fn spec(&self) -> OptimizerSpec {
        self.cfg.to_spec(self.variant)
    }

    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(self.name(), self.v.len(), params, grad)?;
        let MomentumConfig {
            lr,
            beta,
            weight_decay: wd,
        } = self.cfg;
        let nesterov = self.variant == Variant::Nesterov;
        let v = &mut self.v;
        self.t += 1;
        Ok(fused_step(params, grad, |r, x, g, dx| {
            let v = &mut v[r];
            for i in 0..x.len() {
                let g = g[i] + wd * x[i];
                let vi = beta * v[i] + g;
                v[i] = vi;
                let d = if nesterov {
                    -lr * (g + beta * vi)
                } else {
                    -lr * vi
                };
                dx[i] = d;
                x[i] += d;
            }
        }))
    }

    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        hyper::lr(self.name(), lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn reset(&mut self) {
        self.t = 0;
        self.v.fill(0.0);
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            spec: self.spec(),
            step: self.t,
            scalars: Vec::new(),
            buffers: vec![("v".into(), self.v.clone())],
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        check_owner(state, self.name())?;
        let cfg = MomentumConfig::from_spec(&state.spec, self.variant)?;
        let v = buffer(state, "v", self.v.len())?;
        (self.cfg, self.t, self.v) = (cfg, state.step, v);
        Ok(())
    }

    fn summary(&self) -> Vec<(String, String)> {
        vec![
            ("‖v‖".into(), hyper::sci(norm(&self.v))),
            ("steps".into(), self.t.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::no_same_batch;

    fn run(variant: Variant, steps: usize) -> Vec<f32> {
        let cfg = MomentumConfig {
            lr: 0.1,
            beta: 0.9,
            weight_decay: 0.0,
        };
        let mut opt = Momentum::new(variant, cfg, 1).unwrap();
        let mut x = [1.0f32];
        (0..steps)
            .map(|_| {
                let g = [2.0 * x[0]];
                opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
                x[0]
            })
            .collect()
    }

    #[test]
    fn heavy_ball_three_steps_on_a_parabola() {
        // f = x², g = 2x, x0 = 1, lr = 0.1, β = 0.9 (PyTorch rule v ← βv + g, Δx = −lr·v):
        // v1 = 2            x1 = 1 − 0.2     = 0.8
        // v2 = 1.8 + 1.6    x2 = 0.8 − 0.34  = 0.46
        // v3 = 3.06 + 0.92  x3 = 0.46 − 0.398 = 0.062
        let xs = run(Variant::HeavyBall, 3);
        for (x, want) in xs.iter().zip([0.8, 0.46, 0.062]) {
            assert!((x - want).abs() < 1e-6, "{xs:?}");
        }
    }

    #[test]
    fn nesterov_two_steps_on_a_parabola() {
        // Same problem, Δx = −lr·(g + βv):
        // v1 = 2,           d1 = 2 + 1.8 = 3.8,          x1 = 1 − 0.38 = 0.62
        // g1 = 1.24, v2 = 1.8 + 1.24 = 3.04, d2 = 1.24 + 2.736 = 3.976, x2 = 0.62 − 0.3976 = 0.2224
        let xs = run(Variant::Nesterov, 2);
        for (x, want) in xs.iter().zip([0.62, 0.2224]) {
            assert!((x - want).abs() < 1e-6, "{xs:?}");
        }
    }

    #[test]
    fn set_lr_keeps_the_velocity() {
        let mut opt = Momentum::new(Variant::HeavyBall, MomentumConfig::default(), 2).unwrap();
        let mut x = [1.0f32, -1.0];
        opt.step(&mut x, &[1.0, 2.0], &mut no_same_batch()).unwrap();
        opt.set_lr(0.5).unwrap();
        assert_eq!(opt.state().buffer("v", 2).unwrap(), &[1.0, 2.0]);
        assert_eq!(opt.spec().lr, Some(0.5));
        assert_eq!(
            opt.set_lr(0.0).unwrap_err().to_string(),
            "momentum: lr must be a positive finite number, got 0"
        );
    }
}
