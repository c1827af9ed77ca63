//! L-BFGS without line search, as the paper's authors run it ("L-BFGS-no-line-search" in their
//! runner; Liu & Nocedal 1989 with the online changes of Schraudolph, Yu & Günter 2007): the
//! step of [`super::online_qn`] with `H0 = γ·I`, `γ = sᵀy/yᵀy` of the newest pair
//! (Nocedal & Wright, *Numerical Optimization*, 2nd ed., eq. 7.20), no λ.
//!
//! Defaults are the authors': gain η0 = 1e-3 decaying as `τ/(τ + t)` with τ = 10⁴, memory 48,
//! first step `−η0·ε·g` with ε = 1e-10. Besides the departures shared with O-LBFGS (listed in
//! [`super::online_qn`]), one is a bug fix: the authors' code scales `H0` by
//! `s_oldestᵀy_newest/y_newestᵀy_newest`, reading the oldest `s` through the loop variable the
//! first loop left behind; this uses the newest pair, as the method (and eq. 7.20) intends.
//!
//! The curvature pair needs the gradient after the step on the *same* minibatch, which the
//! trainer provides through [`super::SameBatch`]: two gradient evaluations per step.

use anyhow::Result;

use super::hyperparameters::Identity;
use super::online_qn::{self, AUTHORS_DEFAULTS, H0, OnlineQn, OnlineQnConfig};
use super::registry::Entry;

pub const NAME: &str = "lbfgs";

/// The authors' defaults, the same for every task in their code (no λ).
pub const DEFAULTS: OnlineQnConfig = AUTHORS_DEFAULTS;

pub static IDENTITY: Identity<OnlineQnConfig> = Identity {
    name: NAME,
    defaults: DEFAULTS,
};

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| Ok(Box::new(new(IDENTITY.from_spec(spec)?, ctx.n)?)),
    state_words: |spec, n| online_qn::state_words(spec, &DEFAULTS, n),
};

pub fn new(cfg: OnlineQnConfig, n: usize) -> Result<OnlineQn> {
    OnlineQn::new(&IDENTITY, H0::Newest, cfg, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::{Quadratic, TestRng};
    use crate::optim::{Optimizer, OptimizerSpec, Preconditioner};

    /// A gain that stays 1 in f64 for the few steps of a hand-computed run: τ/(τ + t) = 1.
    const FLAT: f32 = 1e30;

    #[test]
    fn hand_computed_steps_use_the_newest_pair_for_h0() {
        // f = x⁴/4 (g = x³), x0 = 1, η0 = 1, τ = 1e30 (gain 1), ε = 0.5, memory 2; worked out by
        // hand (checked in a few lines of Python f64):
        // t=0: no pair, s = −0.5·g = −0.5, x1 = 0.5; same batch g(0.5) = 0.125, y = −0.875,
        //      γ = sᵀy/yᵀy = 0.5/0.875 = 0.5714286.
        // t=1: in 1-D H = s/y exactly, s = −0.5714286·0.125 = −0.0714286, x2 = 0.4285714;
        //      g(x2) = 0.0787172, y = −0.0462828, γ_newest = 0.0714286/0.0462828 = 1.5433071.
        //      (The authors' leftover-variable scale s_oldestᵀy_newest/y_newestᵀy_newest would
        //      be 0.5/0.0462828 = 10.80.)
        // t=2: H = s_newest/y_newest = 1.5433071, x3 = 0.4285714 − 1.5433071·0.0787172
        //      = 0.3070866 (whatever γ: in 1-D the newest pair's update fixes H = s/y).
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = x[0] * x[0] * x[0];
            Ok(0.25 * x[0].powi(4))
        };
        let cfg = OnlineQnConfig {
            lr: 1.0,
            memory: 2,
            eps: 0.5,
            tau: FLAT,
            lambda: None,
        };
        let mut opt = new(cfg, 1).unwrap();
        let mut x = [1.0f32];
        let mut g = [0.0f32];
        let want_x = [0.5, 0.4285714, 0.3070866];
        let want_gamma = [0.5714286, 1.5433071];
        for (t, want) in want_x.iter().enumerate() {
            f(&x, &mut g).unwrap();
            opt.step(&mut x, &g.clone(), &mut { f }).unwrap();
            assert!((x[0] - want).abs() < 2e-6, "t = {t}: x = {}", x[0]);
            let gamma = opt.gamma().unwrap();
            if let Some(&want) = want_gamma.get(t) {
                assert!((gamma - want).abs() < 1e-5 * want, "t = {t}: γ = {gamma}");
            }
        }
    }

    #[test]
    fn the_h0_scale_comes_from_the_newest_pair_not_the_oldest_s() {
        // f = ½·(x₀² + 4x₁²), x0 = (1, 1), η0 = 1, flat gain, ε = 0.5, memory 2. The third step is
        // the first with two pairs, where the authors' leftover-variable scale
        // s_oldestᵀy_newest/y_newestᵀy_newest (= −0.519 here) and the newest pair's
        // sᵀy/yᵀy (= 0.2500932) differ. Computed with a 20-line f64 two-loop recursion in Python
        // (independent of this code): x1 = (0.5, −1), x2 = (0.5430709, −0.0339419), then
        // x3 = (0.3977294, −0.0044331) with the newest pair, (0.8311011, −0.0092635) with the
        // authors' scale.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = x[0];
            g[1] = 4.0 * x[1];
            Ok(0.5 * x[0] * x[0] + 2.0 * x[1] * x[1])
        };
        let cfg = OnlineQnConfig {
            lr: 1.0,
            memory: 2,
            eps: 0.5,
            tau: FLAT,
            lambda: None,
        };
        let mut opt = new(cfg, 2).unwrap();
        let mut x = [1.0f32, 1.0];
        let mut g = [0.0f32; 2];
        let want = [
            [0.5, -1.0],
            [0.5430709, -0.0339419],
            [0.3977294, -0.0044331],
        ];
        for (t, want) in want.iter().enumerate() {
            f(&x, &mut g).unwrap();
            opt.step(&mut x, &g.clone(), &mut { f }).unwrap();
            for (got, want) in x.iter().zip(want) {
                assert!((got - want).abs() < 1e-5, "t = {t}: x = {x:?}");
            }
        }
    }

    #[test]
    fn defaults_are_the_authors() {
        let opt = new(IDENTITY.from_spec(&OptimizerSpec::named(NAME)).unwrap(), 3).unwrap();
        let cfg = opt.config();
        assert_eq!(
            (cfg.lr, cfg.memory, cfg.eps, cfg.tau, cfg.lambda),
            (1e-3, 48, 1e-10, 1e4, None)
        );
        // Step t's gain η0·τ/(τ + t): 1e-3 at t = 0, half of it at t = τ.
        assert!((cfg.gain(0) / 1e-3 - 1.0).abs() < 1e-6);
        assert!((cfg.gain(10_000) / 5e-4 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn solves_an_ill_conditioned_quadratic_with_the_same_batch_oracle() {
        // n = 20, eigenvalues log-spaced in [1, 100] (condition 100), minimum at a random c,
        // start at 0, the authors' ε = 1e-10 but η0 = 1 and a flat gain (the unit quasi-Newton
        // step). Tolerance: ‖x − c‖ ≤ 1e-4·‖c‖ within 80 steps (L-BFGS converges superlinearly
        // on a quadratic of this size; f32 limits ~1e-6 relative; the first ~9 steps are the
        // growing probe). Measured: 48 steps.
        let mut rng = TestRng::new(3);
        let c: Vec<f32> = (0..20).map(|_| rng.normal()).collect();
        let q = Quadratic::new(20, 1.0, 100.0, 4).centred(c);
        let cfg = OnlineQnConfig {
            lr: 1.0,
            memory: 10,
            tau: FLAT,
            ..DEFAULTS
        };
        let mut opt = new(cfg, 20).unwrap();
        let mut x = vec![0.0f32; 20];
        let mut g = vec![0.0f32; 20];
        let d0 = q.distance(&x);
        let mut steps = 0;
        while q.distance(&x) > 1e-4 * d0 && steps < 80 {
            q.loss_and_grad(&x, &mut g);
            opt.step(&mut x, &g, &mut q.oracle()).unwrap();
            steps += 1;
        }
        assert!(
            q.distance(&x) <= 1e-4 * d0,
            "after {steps} steps ‖x − c‖ = {}",
            q.distance(&x)
        );
        assert_eq!(opt.memory().skipped(), 0);
    }

    #[test]
    fn preconditioner_is_gain_times_h() {
        // After pairs from a quadratic, G·y_newest = η_t·s_newest (the secant equation, scaled by
        // the gain of the next step, 0.5·τ/(τ + 3) with τ = 10⁴ and 3 steps taken).
        let q = Quadratic::new(4, 1.0, 10.0, 8);
        let cfg = OnlineQnConfig {
            lr: 0.5,
            memory: 3,
            eps: 0.1,
            ..DEFAULTS
        };
        let mut opt = new(cfg, 4).unwrap();
        let mut x = vec![1.0f32, -2.0, 0.5, 3.0];
        let mut g = vec![0.0; 4];
        let mut last = (vec![], vec![]);
        for _ in 0..3 {
            q.loss_and_grad(&x, &mut g);
            let x0 = x.clone();
            opt.step(&mut x, &g, &mut q.oracle()).unwrap();
            let s: Vec<f32> = x.iter().zip(&x0).map(|(a, b)| a - b).collect();
            last = (q.hessian_times(&s), s);
        }
        assert_eq!(opt.memory().len(), 3);
        let gain = 0.5 * 1e4 / (1e4 + 3.0);
        let mut out = vec![0.0; 4];
        opt.apply(&last.0, &mut out);
        for (o, s) in out.iter().zip(&last.1) {
            assert!(
                (o - gain * s).abs() < 1e-5 * (1.0 + s.abs()),
                "{out:?} vs {:?}",
                last.1
            );
        }
    }
}
