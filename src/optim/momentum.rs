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

use super::baseline::{Baseline, Settings};
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{check_dims, fused_step, norm};
use super::registry::Entry;
use super::snapshot::buffer;
use super::{OptimizerState, SameBatch, StepStats, hyper};

/// Which of the two momentum methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    HeavyBall,
    Nesterov,
}

impl Variant {
    pub fn name(self) -> &'static str {
        self.identity().name
    }

    pub fn identity(self) -> &'static Identity<MomentumConfig> {
        match self {
            Variant::HeavyBall => &MOMENTUM,
            Variant::Nesterov => &NESTEROV,
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

/// The defaults of both variants.
const DEFAULTS: MomentumConfig = MomentumConfig {
    lr: 0.01,
    beta: 0.9,
    weight_decay: 0.0,
};

impl Default for MomentumConfig {
    fn default() -> Self {
        DEFAULTS
    }
}

pub static MOMENTUM: Identity<MomentumConfig> = Identity {
    name: "momentum",
    defaults: DEFAULTS,
};

pub static NESTEROV: Identity<MomentumConfig> = Identity {
    name: "nesterov",
    defaults: DEFAULTS,
};

pub const MOMENTUM_ENTRY: Entry = Entry {
    name: "momentum",
    build: |spec, ctx| Ok(Box::new(Momentum::build(Variant::HeavyBall, spec, ctx.n)?)),
    state_words: |_, n| 2 * n,
};

pub const NESTEROV_ENTRY: Entry = Entry {
    name: "nesterov",
    build: |spec, ctx| Ok(Box::new(Momentum::build(Variant::Nesterov, spec, ctx.n)?)),
    state_words: |_, n| 2 * n,
};

impl Hyperparameters for MomentumConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::unit(name, "beta", self.beta)?;
        hyper::weight_decay(name, self.weight_decay)
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

pub struct Momentum {
    variant: Variant,
    settings: Settings<MomentumConfig>,
    /// The velocity buffer `v`.
    v: Vec<f32>,
}

impl Momentum {
    pub fn new(variant: Variant, cfg: MomentumConfig, n: usize) -> Result<Self> {
        Ok(Self {
            variant,
            settings: Settings::new(variant.identity(), cfg)?,
            v: vec![0.0; n],
        })
    }

    fn build(variant: Variant, spec: &crate::optim::OptimizerSpec, n: usize) -> Result<Self> {
        Self::new(variant, variant.identity().from_spec(spec)?, n)
    }
}

impl Baseline for Momentum {
    type Config = MomentumConfig;

    fn settings(&self) -> &Settings<MomentumConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<MomentumConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(self.variant.name(), self.v.len(), params, grad)?;
        let MomentumConfig {
            lr,
            beta,
            weight_decay: wd,
        } = self.settings.cfg;
        let nesterov = self.variant == Variant::Nesterov;
        let v = &mut self.v;
        self.settings.t += 1;
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

    fn clear(&mut self) {
        self.v.fill(0.0);
    }

    fn save(&self, state: &mut OptimizerState) {
        state.buffers.push(("v".into(), self.v.clone()));
    }

    fn load(&mut self, _cfg: &MomentumConfig, state: &OptimizerState) -> Result<()> {
        self.v = buffer(state, "v", self.v.len())?;
        Ok(())
    }

    fn figures(&self) -> Vec<(String, String)> {
        vec![
            ("‖v‖".into(), hyper::sci(norm(&self.v))),
            ("steps".into(), self.settings.t.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;
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
