//! RMSprop (Tieleman & Hinton 2012), as the LODO authors ran it: Keras' `RMSprop` (their
//! `hyperparameter_setup.py` builds `tf.keras.optimizers.RMSprop(lr, rho, momentum)`, not
//! centered), whose two branches place ε differently:
//!
//! ```text
//! g ← g + wd·x
//! v ← ρ·v + (1 − ρ)·g²                 v starts at 0
//! β = 0: Δx = −lr·g/(√v + ε)           ε outside the root
//! β > 0: b ← β·b + lr·g/√(v + ε)       ε inside the root (TF's ApplyRMSProp kernel),
//!        Δx = −b                       lr inside the momentum buffer
//! ```
//!
//! Defaults are Keras' and the authors': lr 1e-3, ρ 0.9, ε 1e-7, no momentum. (PyTorch's
//! `RMSprop` differs: ρ 0.99, ε 1e-8 always outside the root, lr outside the buffer.) Weight
//! decay is an addition of this project (default 0).

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Settings};
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{check_dims, fused_step, norm};
use super::registry::Entry;
use super::snapshot::buffer;
use super::{OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "rmsprop";

/// RMSprop hyperparameters; defaults are Keras' (the authors').
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmspropConfig {
    /// Learning rate; default 1e-3.
    pub lr: f32,
    /// Decay of the squared-gradient average; default 0.9.
    pub rho: f32,
    /// Added to √v (β = 0) or to v under the root (β > 0); default 1e-7.
    pub eps: f32,
    /// Momentum (Keras' `momentum`); default 0 (off).
    pub beta: f32,
    /// L2 weight decay (see [`hyper::weight_decay`]); default 0.
    pub weight_decay: f32,
}

impl Default for RmspropConfig {
    fn default() -> Self {
        IDENTITY.defaults.clone()
    }
}

pub static IDENTITY: Identity<RmspropConfig> = Identity {
    name: NAME,
    defaults: RmspropConfig {
        lr: 1e-3,
        rho: 0.9,
        eps: 1e-7,
        beta: 0.0,
        weight_decay: 0.0,
    },
};

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| Ok(Box::new(Rmsprop::new(IDENTITY.from_spec(spec)?, ctx.n)?)),
    state_words: |_, n| 2 * n,
};

impl Hyperparameters for RmspropConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::unit(name, "rho", self.rho)?;
        hyper::positive(name, "eps", self.eps)?;
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

pub struct Rmsprop {
    settings: Settings<RmspropConfig>,
    /// Running average of g².
    v: Vec<f32>,
    /// Momentum buffer (the step itself, lr included); stays zero while β = 0.
    b: Vec<f32>,
}

impl Rmsprop {
    pub fn new(cfg: RmspropConfig, n: usize) -> Result<Self> {
        Ok(Self {
            settings: Settings::new(&IDENTITY, cfg)?,
            v: vec![0.0; n],
            b: vec![0.0; n],
        })
    }
}

impl Baseline for Rmsprop {
    type Config = RmspropConfig;

    fn settings(&self) -> &Settings<RmspropConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<RmspropConfig> {
        &mut self.settings
    }

    fn update(
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
        } = self.settings.cfg;
        let (v, b) = (&mut self.v, &mut self.b);
        self.settings.t += 1;
        Ok(fused_step(params, grad, |r, x, g, dx| {
            let v = &mut v[r.clone()];
            let b = &mut b[r];
            for i in 0..x.len() {
                let g = g[i] + wd * x[i];
                let vi = rho * v[i] + (1.0 - rho) * g * g;
                v[i] = vi;
                let d = if beta > 0.0 {
                    let bi = beta * b[i] + lr * g / (vi + eps).sqrt();
                    b[i] = bi;
                    -bi
                } else {
                    -lr * g / (vi.sqrt() + eps)
                };
                dx[i] = d;
                x[i] += d;
            }
        }))
    }

    fn clear(&mut self) {
        self.v.fill(0.0);
        self.b.fill(0.0);
    }

    fn save(&self, state: &mut OptimizerState) {
        state.buffers.push(("v".into(), self.v.clone()));
        state.buffers.push(("b".into(), self.b.clone()));
    }

    fn load(&mut self, _cfg: &RmspropConfig, state: &OptimizerState) -> Result<()> {
        let v = buffer(state, "v", self.v.len())?;
        let b = buffer(state, "b", self.b.len())?;
        (self.v, self.b) = (v, b);
        Ok(())
    }

    fn figures(&self) -> Vec<(String, String)> {
        let n = self.v.len().max(1) as f64;
        let mean_rms = self.v.iter().map(|&v| (v as f64).sqrt()).sum::<f64>() / n;
        let mut out = vec![("mean √v".into(), hyper::sci(mean_rms))];
        if self.settings.cfg.beta > 0.0 {
            out.push(("‖b‖".into(), hyper::sci(norm(&self.b))));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;
    use crate::optim::testkit::no_same_batch;

    #[test]
    fn two_steps_follow_keras_rmsprop() {
        // Worked by hand from the rule above (digits checked with a calculator): f = x²,
        // g = 2x, x0 = 1, lr = 0.01 and the defaults ρ = 0.9, ε = 1e-7, β = 0:
        // step 1: g = 2, v = 0.1·4 = 0.4, √v = 0.632455532,
        //         Δx = −0.01·2/(0.632455532 + 1e-7) = −0.0316227716  → x1 = 0.968377228
        // step 2: g = 1.936754457, v = 0.36 + 0.1·g² = 0.735101783, √v = 0.857380769,
        //         Δx = −0.01·1.936754457/(0.857380769 + 1e-7) = −0.0225891961 → x2 = 0.945788032
        let mut opt = Rmsprop::new(
            RmspropConfig {
                lr: 0.01,
                ..RmspropConfig::default()
            },
            1,
        )
        .unwrap();
        let mut x = [1.0f32];
        for want in [0.968377228, 0.945788032] {
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
    fn without_momentum_eps_is_outside_the_root() {
        // g = 3, ρ = 0.5, ε = 0.5, lr = 1: v = 4.5, Δx = −3/(√4.5 + 0.5) = −3/2.621320344
        // = −1.144461419 (inside the root it would be −3/√5 = −1.341640786).
        let cfg = RmspropConfig {
            lr: 1.0,
            rho: 0.5,
            eps: 0.5,
            ..RmspropConfig::default()
        };
        let mut opt = Rmsprop::new(cfg, 1).unwrap();
        let mut x = [0.0f32];
        opt.step(&mut x, &[3.0], &mut no_same_batch()).unwrap();
        assert!((x[0] + 1.144_461_4).abs() < 1e-6, "{}", x[0]);
    }

    #[test]
    fn momentum_takes_eps_inside_the_root_and_lr_inside_the_buffer() {
        // Constant g = 3, ρ = 0.5, β = 0.5, ε = 0.5, lr = 0.5 for step 1 then 1 for step 2:
        // t1: v = 4.5,  b = 0.5·3/√(4.5 + 0.5) = 0.670820393,            x1 = −0.670820393
        // t2: v = 6.75, b = 0.5·0.670820393 + 1·3/√7.25 = 0.335410197 + 1.114172029
        //     = 1.449582226,                                              x2 = −2.120402619
        // (lr outside the buffer, PyTorch's way, would give b2 = 0.5·1.341640786 + 1.114172029
        // and Δx2 = −1.785 instead of −1.450.)
        let cfg = RmspropConfig {
            lr: 0.5,
            rho: 0.5,
            beta: 0.5,
            eps: 0.5,
            ..RmspropConfig::default()
        };
        let mut opt = Rmsprop::new(cfg, 1).unwrap();
        let mut x = [0.0f32];
        opt.step(&mut x, &[3.0], &mut no_same_batch()).unwrap();
        assert!((x[0] + 0.670_820_4).abs() < 1e-6, "{}", x[0]);
        opt.set_lr(1.0).unwrap();
        opt.step(&mut x, &[3.0], &mut no_same_batch()).unwrap();
        assert!((x[0] + 2.120_402_6).abs() < 2e-6, "{}", x[0]);
    }

    #[test]
    fn defaults_are_the_authors() {
        // `tf.keras.optimizers.RMSprop(lr=0.001, rho=0.9, momentum=0.0)`, Keras' ε = 1e-7.
        assert_eq!(
            RmspropConfig::default(),
            RmspropConfig {
                lr: 1e-3,
                rho: 0.9,
                eps: 1e-7,
                beta: 0.0,
                weight_decay: 0.0
            }
        );
    }
}
