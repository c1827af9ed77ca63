//! LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg, "Large Batch Training of
//! Convolutional Networks", 2017, Algorithm 1), as the LODO authors ran it
//! (`LARSMinimizationProcedure` in their `training/minimization_procedure.py`). Each parameter
//! group `l` (a layer's weight and bias together, from [`BuildContext::layers`]) gets its own
//! local rate from the trust ratio, computed from this step's gradient:
//!
//! ```text
//! γ_t = lr·(1 − t/T)²                    T = the run's step limit; γ_t = lr without one
//! λˡ = η·‖wˡ‖ / (‖∇ˡ‖ + wd·‖wˡ‖)
//! vˡ ← β·vˡ + γ_t·λˡ·(∇ˡ + wd·wˡ)
//! Δwˡ = −vˡ
//! ```
//!
//! with the local rate inside the momentum, as in the paper and the authors' code. Defaults are
//! the authors': lr 1e-3, β 0.9, η 1 (their ratio has no trust coefficient), wd 5e-4. The
//! schedule counts t from 1 at the first step, as their `training_completed_proportion` counts
//! the gradient just taken, so the last step of a run is taken at γ = 0; past T (a raised step
//! limit) γ stays 0. t is LARS's own step count, so LARS switched on mid-run decays over T
//! steps from then. Departure: when `‖wˡ‖ = 0`, or `‖∇ˡ‖ = 0` without weight decay, the ratio is
//! 1 (as in TensorFlow's and NVIDIA Apex's LARS), where the authors' formula gives 0 (a zero
//! group would never move) or 0/0.

use std::ops::Range;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Settings};
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{StepSums, check_dims, fused_sums, norm};
use super::registry::Entry;
use super::snapshot::buffer;
use super::{BuildContext, OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "lars";

/// LARS hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LarsConfig {
    /// Global learning rate before the schedule; default 1e-3 (the authors'): a group then
    /// moves about 0.1% of its norm per step before momentum.
    pub lr: f32,
    /// Momentum β; default 0.9.
    pub beta: f32,
    /// Trust coefficient η; default 1 (the authors' ratio has none). Only η·lr matters: the
    /// LARS paper writes η = 1e-3 with a correspondingly larger lr.
    pub trust: f32,
    /// L2 weight decay, inside both the ratio and the update; default 5e-4.
    pub weight_decay: f32,
}

impl Default for LarsConfig {
    fn default() -> Self {
        IDENTITY.defaults.clone()
    }
}

pub static IDENTITY: Identity<LarsConfig> = Identity {
    name: NAME,
    defaults: LarsConfig {
        lr: 1e-3,
        beta: 0.9,
        trust: 1.0,
        weight_decay: 5e-4,
    },
};

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| Ok(Box::new(Lars::new(IDENTITY.from_spec(spec)?, ctx)?)),
    state_words: |_, n| 2 * n,
};

impl Hyperparameters for LarsConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::unit(name, "beta", self.beta)?;
        hyper::positive(name, "trust", self.trust)?;
        hyper::weight_decay(name, self.weight_decay)
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

/// Fails unless `layers` are non-empty ranges that tile `0..n` in order.
pub fn validate_layers(layers: &[Range<usize>], n: usize) -> Result<()> {
    let Some(last) = layers.last() else {
        bail!("{NAME}: needs the layer boundaries of the parameter vector, but none were given");
    };
    let mut expected_start = 0;
    for (i, r) in layers.iter().enumerate() {
        if r.start != expected_start {
            bail!(
                "{NAME}: layers must tile the parameter vector in order; layer {i} starts at {} \
                 but should start at {expected_start}",
                r.start
            );
        }
        if r.start >= r.end {
            bail!("{NAME}: layer {i} is empty ({}..{})", r.start, r.end);
        }
        expected_start = r.end;
    }
    if last.end != n {
        bail!(
            "{NAME}: layers cover 0..{} but there are {n} parameters",
            last.end
        );
    }
    Ok(())
}

pub struct Lars {
    settings: Settings<LarsConfig>,
    layers: Vec<Range<usize>>,
    /// The run's step limit T of the schedule, if any.
    horizon: Option<u64>,
    v: Vec<f32>,
    /// Each layer's trust ratio at the last step (1 before the first).
    ratios: Vec<f32>,
}

impl Lars {
    pub fn new(cfg: LarsConfig, ctx: &BuildContext) -> Result<Self> {
        let settings = Settings::new(&IDENTITY, cfg)?;
        validate_layers(ctx.layers, ctx.n)?;
        if ctx.horizon == Some(0) {
            bail!("{NAME}: the run's step limit (the schedule's horizon) must be at least 1");
        }
        Ok(Self {
            settings,
            layers: ctx.layers.to_vec(),
            horizon: ctx.horizon,
            v: vec![0.0; ctx.n],
            ratios: vec![1.0; ctx.layers.len()],
        })
    }

    /// The trust ratio λˡ each layer used at the last step.
    pub fn trust_ratios(&self) -> &[f32] {
        &self.ratios
    }

    /// `(1 − t/T)²` at step `t` (1 at the first step when there is no horizon).
    fn schedule(&self, t: u64) -> f64 {
        match self.horizon {
            Some(horizon) => (1.0 - (t as f64 / horizon as f64).min(1.0)).powi(2),
            None => 1.0,
        }
    }
}

impl Baseline for Lars {
    type Config = LarsConfig;

    fn settings(&self) -> &Settings<LarsConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<LarsConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.v.len(), params, grad)?;
        let LarsConfig {
            lr,
            beta,
            trust,
            weight_decay: wd,
        } = self.settings.cfg;
        self.settings.t += 1;
        let global = lr as f64 * self.schedule(self.settings.t);
        let mut sums = StepSums::default();
        for (layer, ratio) in self.layers.iter().zip(&mut self.ratios) {
            let (x, g) = (&mut params[layer.clone()], &grad[layer.clone()]);
            let (wn, gn) = (norm(x), norm(g));
            let denominator = gn + wd as f64 * wn;
            let r = if wn > 0.0 && denominator > 0.0 {
                trust as f64 * wn / denominator
            } else {
                1.0
            };
            *ratio = r as f32;
            let local = (global * r) as f32;
            let v = &mut self.v[layer.clone()];
            sums.merge(fused_sums(x, g, |sub, x, g, dx| {
                let v = &mut v[sub];
                for i in 0..x.len() {
                    let vi = beta * v[i] + local * (g[i] + wd * x[i]);
                    v[i] = vi;
                    dx[i] = -vi;
                    x[i] -= vi;
                }
            }));
        }
        Ok(sums.stats())
    }

    fn clear(&mut self) {
        self.v.fill(0.0);
        self.ratios.fill(1.0);
    }

    fn save(&self, state: &mut OptimizerState) {
        state.buffers.push(("v".into(), self.v.clone()));
        state
            .buffers
            .push(("trust_ratios".into(), self.ratios.clone()));
    }

    fn load(&mut self, _cfg: &LarsConfig, state: &OptimizerState) -> Result<()> {
        let v = buffer(state, "v", self.v.len())?;
        let ratios = buffer(state, "trust_ratios", self.ratios.len())?;
        (self.v, self.ratios) = (v, ratios);
        Ok(())
    }

    fn figures(&self) -> Vec<(String, String)> {
        let lo = self.ratios.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = self
            .ratios
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        vec![
            (
                "trust ratio".into(),
                format!("{} … {}", hyper::sci(lo as f64), hyper::sci(hi as f64)),
            ),
            ("‖v‖".into(), hyper::sci(norm(&self.v))),
            (
                "lr now".into(),
                hyper::sci(self.settings.cfg.lr as f64 * self.schedule(self.settings.t.max(1))),
            ),
            ("layers".into(), self.layers.len().to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;
    use crate::optim::testkit::no_same_batch;

    fn ctx(layers: &[Range<usize>], n: usize) -> BuildContext<'_> {
        BuildContext {
            n,
            layers,
            seed: 0,
            horizon: None,
        }
    }

    fn no_decay() -> LarsConfig {
        LarsConfig {
            weight_decay: 0.0,
            ..LarsConfig::default()
        }
    }

    #[test]
    fn trust_ratio_per_layer_and_two_momentum_steps() {
        // Worked by hand from the rule above; lr = 1e-3, η = 1, β = 0.9, wd = 0, no horizon.
        // Layer 0 = x[0..2] = (3, 4), ‖w‖ = 5, g = (0.6, 0.8), ‖g‖ = 1 → λ = 5.
        // Layer 1 = x[2..5] = (1, 0, 0), ‖w‖ = 1, g = (0, 0, 2), ‖g‖ = 2 → λ = 0.5.
        // Layer 2 = x[5..6] = (0): ‖w‖ = 0 → λ = 1 (plain step), g = (1) → x = −1e-3.
        // Step 1: v = 1e-3·λ·g: layer 0: v = (3e-3, 4e-3) → w = (2.997, 3.996);
        //   layer 1: w = (1, 0, −1e-3).
        // Step 2 (same g): ‖w0‖ = 4.995 → λ = 4.995, v = 0.9·(3e-3, 4e-3) + 4.995e-3·(0.6, 0.8)
        //   = (5.697e-3, 7.596e-3) → w = (2.991303, 3.988404).
        let layers = [0..2, 2..5, 5..6];
        let mut opt = Lars::new(no_decay(), &ctx(&layers, 6)).unwrap();
        let mut x = [3.0f32, 4.0, 1.0, 0.0, 0.0, 0.0];
        let g = [0.6f32, 0.8, 0.0, 0.0, 2.0, 1.0];
        opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
        for (r, w) in opt.trust_ratios().iter().zip([5.0, 0.5, 1.0]) {
            assert!((r - w).abs() < 1e-6 * w, "{:?}", opt.trust_ratios());
        }
        let want = [2.997, 3.996, 1.0, 0.0, -1e-3, -1e-3];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{x:?}");
        }
        opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
        assert!((opt.trust_ratios()[0] - 4.995).abs() < 1e-5);
        assert!(
            (x[0] - 2.991303).abs() < 1e-6 && (x[1] - 3.988404).abs() < 1e-6,
            "{x:?}"
        );
    }

    #[test]
    fn weight_decay_enters_ratio_and_update() {
        // The default wd = 5e-4, w = (3, 4) not parallel to g = (0.8, 0.6): ‖w‖ = 5, ‖g‖ = 1,
        // λ = 5/(1 + 5e-4·5) = 4.987531172, g + wd·w = (0.8015, 0.602),
        // v = 1e-3·λ·(0.8015, 0.602) = (3.997506234e-3, 3.002493766e-3)
        // → w = (2.996002494, 3.996997506) (digits checked with a calculator).
        let layer = 0..2;
        let mut opt =
            Lars::new(LarsConfig::default(), &ctx(std::slice::from_ref(&layer), 2)).unwrap();
        let mut x = [3.0f32, 4.0];
        opt.step(&mut x, &[0.8, 0.6], &mut no_same_batch()).unwrap();
        assert!((f64::from(opt.trust_ratios()[0]) - 4.987_531_172).abs() < 1e-5);
        assert!((x[0] - 2.996_002_5).abs() < 1e-6, "{x:?}");
        assert!((x[1] - 3.996_997_5).abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn a_step_limit_decays_the_rate_as_one_minus_progress_squared() {
        // T = 4, β = 0, wd = 0, one group w = (3, 4) and constant g = (0.6, 0.8): each step
        // shrinks w along itself by the factor 1 − 1e-3·(1 − t/4)², i.e. by 1 − 5.625e-4,
        // 1 − 2.5e-4, 1 − 6.25e-5, then 1 (γ = 0 at t = T and after):
        // ‖w‖ = 5 → 4.9971875 → 4.99593820 → 4.99562596 → 4.99562596 → 4.99562596.
        let cfg = LarsConfig {
            beta: 0.0,
            ..no_decay()
        };
        let layer = 0..2;
        let layers = std::slice::from_ref(&layer);
        let mut opt = Lars::new(
            cfg,
            &BuildContext {
                horizon: Some(4),
                ..ctx(layers, 2)
            },
        )
        .unwrap();
        let mut x = [3.0f32, 4.0];
        for want in [4.9971875f64, 4.9959382, 4.99562596, 4.99562596, 4.99562596] {
            opt.step(&mut x, &[0.6, 0.8], &mut no_same_batch()).unwrap();
            let n = f64::from(x[0]).hypot(f64::from(x[1]));
            assert!((n - want).abs() < 2e-6, "‖w‖ = {n}, want {want}");
        }
        let zero = BuildContext {
            horizon: Some(0),
            ..ctx(layers, 2)
        };
        assert_eq!(
            Lars::new(no_decay(), &zero).err().map(|e| e.to_string()),
            Some("lars: the run's step limit (the schedule's horizon) must be at least 1".into())
        );
    }

    #[test]
    fn defaults_are_the_authors() {
        // `LARSMinimizationProcedure(lr=0.001, weight_decay=0.0005, momentum=0.9)`, ratio
        // ‖w‖/(‖g‖ + wd·‖w‖) with no coefficient.
        assert_eq!(
            LarsConfig::default(),
            LarsConfig {
                lr: 1e-3,
                beta: 0.9,
                trust: 1.0,
                weight_decay: 5e-4
            }
        );
    }

    #[test]
    fn layer_boundaries_are_validated_with_named_errors() {
        let err = |layers: &[Range<usize>], n| {
            Lars::new(LarsConfig::default(), &ctx(layers, n))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err(&[], 4),
            "lars: needs the layer boundaries of the parameter vector, but none were given"
        );
        assert_eq!(
            err(std::slice::from_ref(&(1..4)), 4),
            "lars: layers must tile the parameter vector in order; layer 0 starts at 1 but \
             should start at 0"
        );
        assert_eq!(
            err(&[0..2, 3..4], 4),
            "lars: layers must tile the parameter vector in order; layer 1 starts at 3 but \
             should start at 2"
        );
        assert_eq!(err(&[0..2, 2..2, 2..4], 4), "lars: layer 1 is empty (2..2)");
        assert_eq!(
            err(&[0..2, 2..3], 4),
            "lars: layers cover 0..3 but there are 4 parameters"
        );
        assert_eq!(err(&[0..2, 2..4], 4), "");
    }
}
