//! Adam (Kingma & Ba 2015, Algorithm 1) with bias correction:
//!
//! ```text
//! g ← g + wd·x
//! m ← β1·m + (1 − β1)·g            m̂ = m/(1 − β1ᵗ)
//! v ← β2·v + (1 − β2)·g²           v̂ = v/(1 − β2ᵗ)
//! Δx = −lr·m̂/(√v̂ + ε)
//! ```
//!
//! ε is added to √v̂ as in the paper's Algorithm 1 and PyTorch (`torch.optim.Adam`), whose
//! evaluation order — `lr/(1 − β1ᵗ)·m / (√v/√(1 − β2ᵗ) + ε)` — this follows. Weight decay is the L2
//! term PyTorch's Adam adds to g, not AdamW's decoupled decay.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Settings};
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{check_dims, fused_step, norm};
use super::registry::Entry;
use super::snapshot::buffer;
use super::{OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "adam";

/// Hyperparameters of the optimizers built on Adam's two moments (Adam, Yogi); each keeps its
/// own defaults ([`DEFAULTS`], [`super::yogi::DEFAULTS`]) and names itself in errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomentConfig {
    /// Learning rate α.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay (Adam) or rate (Yogi).
    pub beta2: f32,
    /// Added to √v̂.
    pub eps: f32,
    /// L2 weight decay (see [`hyper::weight_decay`]).
    pub weight_decay: f32,
}

/// Adam's defaults, the paper's (also PyTorch's): lr 1e-3, β1 0.9, β2 0.999, ε 1e-8, no decay.
pub const DEFAULTS: MomentConfig = MomentConfig {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weight_decay: 0.0,
};

pub static IDENTITY: Identity<MomentConfig> = Identity {
    name: NAME,
    defaults: DEFAULTS,
};

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| Ok(Box::new(Adam::new(IDENTITY.from_spec(spec)?, ctx.n)?)),
    state_words: |_, n| 3 * n,
};

impl Hyperparameters for MomentConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::unit(name, "beta1", self.beta1)?;
        hyper::unit(name, "beta2", self.beta2)?;
        hyper::positive(name, "eps", self.eps)?;
        hyper::weight_decay(name, self.weight_decay)
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

/// The bias corrections `1 − βᵗ` after `t` steps, in f64 (β2ᵗ stays meaningful for t in the
/// millions, where f32 powers would have rounded to 0 long before).
pub fn bias_correction(beta: f32, t: u64) -> f64 {
    1.0 - (beta as f64).powf(t as f64)
}

/// The two moment buffers Adam and Yogi keep, with their snapshot.
pub struct Moments {
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl Moments {
    pub fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    pub fn clear(&mut self) {
        self.m.fill(0.0);
        self.v.fill(0.0);
    }

    pub fn save(&self, state: &mut OptimizerState) {
        state.buffers.push(("m".into(), self.m.clone()));
        state.buffers.push(("v".into(), self.v.clone()));
    }

    pub fn load(&mut self, state: &OptimizerState) -> Result<()> {
        let m = buffer(state, "m", self.m.len())?;
        let v = buffer(state, "v", self.v.len())?;
        (self.m, self.v) = (m, v);
        Ok(())
    }
}

pub struct Adam {
    settings: Settings<MomentConfig>,
    moments: Moments,
}

impl Adam {
    pub fn new(cfg: MomentConfig, n: usize) -> Result<Self> {
        Ok(Self {
            settings: Settings::new(&IDENTITY, cfg)?,
            moments: Moments::new(n),
        })
    }
}

impl Baseline for Adam {
    type Config = MomentConfig;

    fn settings(&self) -> &Settings<MomentConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<MomentConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.moments.m.len(), params, grad)?;
        let MomentConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay: wd,
        } = self.settings.cfg;
        self.settings.t += 1;
        let t = self.settings.t;
        let step_size = (lr as f64 / bias_correction(beta1, t)) as f32;
        let inv_sqrt_bc2 = (1.0 / bias_correction(beta2, t).sqrt()) as f32;
        let Moments { m, v } = &mut self.moments;
        Ok(fused_step(params, grad, |r, x, g, dx| {
            let m = &mut m[r.clone()];
            let v = &mut v[r];
            for i in 0..x.len() {
                let g = g[i] + wd * x[i];
                let mi = beta1 * m[i] + (1.0 - beta1) * g;
                let vi = beta2 * v[i] + (1.0 - beta2) * g * g;
                m[i] = mi;
                v[i] = vi;
                let d = -step_size * mi / (vi.sqrt() * inv_sqrt_bc2 + eps);
                dx[i] = d;
                x[i] += d;
            }
        }))
    }

    fn clear(&mut self) {
        self.moments.clear();
    }

    fn save(&self, state: &mut OptimizerState) {
        self.moments.save(state);
    }

    fn load(&mut self, _cfg: &MomentConfig, state: &OptimizerState) -> Result<()> {
        self.moments.load(state)
    }

    fn figures(&self) -> Vec<(String, String)> {
        let MomentConfig { beta1, beta2, .. } = self.settings.cfg;
        moment_summary(
            &self.moments.m,
            &self.moments.v,
            beta1,
            beta2,
            self.settings.t,
        )
    }
}

/// `‖m̂‖` and mean `√v̂` (bias-corrected), the figures the UI shows for Adam.
pub fn moment_summary(
    m: &[f32],
    v: &[f32],
    beta1: f32,
    beta2: f32,
    t: u64,
) -> Vec<(String, String)> {
    if t == 0 {
        return vec![("steps".into(), "0".into())];
    }
    let n = v.len().max(1) as f64;
    let m_hat = norm(m) / bias_correction(beta1, t);
    let rms = v.iter().map(|&v| (v as f64).sqrt()).sum::<f64>() / n;
    let rms_hat = rms / bias_correction(beta2, t).sqrt();
    vec![
        ("‖m̂‖".into(), hyper::sci(m_hat)),
        ("mean √v̂".into(), hyper::sci(rms_hat)),
        ("steps".into(), t.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;
    use crate::optim::testkit::no_same_batch;

    #[test]
    fn two_steps_follow_kingma_and_ba() {
        // f = x², g = 2x, x0 = 1, lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8 (Algorithm 1):
        // t=1: g = 2, m = 0.2, v = 0.004, m̂ = 2, v̂ = 4, Δx = −0.1·2/(2 + 1e-8) → x1 = 0.9000000005
        // t=2: g = 1.800000001, m = 0.18 + 0.1800000001 = 0.3600000001,
        //      v = 0.003996 + 0.001·3.240000004 = 0.007236000004,
        //      m̂ = m/0.19 = 1.894736843, v̂ = v/0.001999 = 3.619809907, √v̂ = 1.902579803,
        //      Δx = −0.1·1.894736843/(1.902579803 + 1e-8) = −0.0995877718 → x2 = 0.8004122287
        let mut opt = Adam::new(
            MomentConfig {
                lr: 0.1,
                ..DEFAULTS
            },
            1,
        )
        .unwrap();
        let mut x = [1.0f32];
        for want in [0.9000000005, 0.8004122287] {
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
    fn first_step_is_lr_times_sign_of_g_whatever_the_scale() {
        // m̂1 = g and v̂1 = g², so Δx1 = −lr·g/(|g| + ε) = −lr·sign(g) to a relative 1e-5 when
        // |g| ≥ 1e-3 = 1e5·ε.
        let mut opt = Adam::new(DEFAULTS, 3).unwrap();
        let mut x = [0.0f32; 3];
        opt.step(&mut x, &[1e6, -1e-3, 5.0], &mut no_same_batch())
            .unwrap();
        for (x, want) in x.iter().zip([-1e-3, 1e-3, -1e-3]) {
            assert!((x - want).abs() < 2e-8, "{x} vs {want}");
        }
    }
}
