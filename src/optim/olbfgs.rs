//! O-LBFGS, online L-BFGS (Schraudolph, Yu & Günter, "A Stochastic Quasi-Newton Method for
//! Online Convex Optimization", AISTATS 2007, Algorithm 1 with §3.2's stochastic changes), as the
//! paper's authors run it: the step of [`super::online_qn`] with `H0 = γ̄·I`,
//! `γ̄ = (1/k)·Σ_{pairs} sᵀy/yᵀy`, and `y ← y + λ·s`.
//!
//! Differences from [`super::lbfgs`] are the point of the method: averaging γ over the memory
//! smooths the curvature estimate of noisy minibatch pairs, λ-regularization keeps `sᵀy` away from
//! 0. The paper writes the step as `η_t/c·p` with `c ∈ (0, 1]`; in O-LBFGS (unlike its oBFGS) `c`
//! appears nowhere else, so it is folded into `lr = η0/c`, as the authors' code does.
//!
//! Defaults are the authors' (the same for every task in their code): η0 = 1e-3,
//! τ = 10⁴, memory 48, ε = 1e-10, λ = 0. Their departures are listed in [`super::online_qn`].

use anyhow::Result;

use super::hyperparameters::Identity;
use super::online_qn::{self, AUTHORS_DEFAULTS, H0, OnlineQn, OnlineQnConfig};
use super::registry::Entry;

pub const NAME: &str = "olbfgs";

/// The authors' defaults.
pub const DEFAULTS: OnlineQnConfig = OnlineQnConfig {
    lambda: Some(0.0),
    ..AUTHORS_DEFAULTS
};

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
    OnlineQn::new(&IDENTITY, H0::Mean, cfg, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::{Quadratic, TestRng};
    use crate::optim::{Optimizer, OptimizerSpec, Preconditioner};

    fn parabola(x: &[f32], g: &mut [f32]) -> Result<f32> {
        g[0] = 2.0 * x[0];
        Ok(x[0] * x[0])
    }

    /// The authors' defaults at η0 = 1 (hand-computable steps).
    fn unit_gain() -> OnlineQnConfig {
        OnlineQnConfig {
            lr: 1.0,
            ..DEFAULTS
        }
    }

    fn run_1d(cfg: OnlineQnConfig, steps: usize) -> Vec<f32> {
        let mut opt = new(cfg, 1).unwrap();
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
        let cfg = OnlineQnConfig {
            eps: 0.1,
            tau: 10.0,
            ..unit_gain()
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
        let cfg = OnlineQnConfig {
            eps: 0.1,
            tau: 10.0,
            lambda: Some(2.0),
            ..unit_gain()
        };
        let xs = run_1d(cfg, 2);
        for (x, want) in xs.iter().zip([2.4, 1.3090909]) {
            assert!((x - want).abs() < 1e-6, "{xs:?}");
        }
    }

    #[test]
    fn solves_an_ill_conditioned_quadratic_with_the_same_batch_oracle() {
        // n = 20, condition 100, minimum at a random c, start at 0, the authors' defaults but
        // η0 = 1 (the unit quasi-Newton step; the gain stays above 0.99 over the run). Tolerance
        // ‖x − c‖ ≤ 1e-4·‖c‖ within 100 steps. Measured: 39 steps.
        let mut rng = TestRng::new(5);
        let c: Vec<f32> = (0..20).map(|_| rng.normal()).collect();
        let q = Quadratic::new(20, 1.0, 100.0, 6).centred(c);
        let cfg = unit_gain();
        let mut opt = new(cfg, 20).unwrap();
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
        let cfg = OnlineQnConfig {
            lr: 2.0,
            tau: 100.0,
            eps: 1e-3,
            ..unit_gain()
        };
        assert!((cfg.gain(0) - 2.0).abs() < 1e-12);
        assert!((cfg.gain(100) - 1.0).abs() < 1e-12);
        let opt = new(cfg, 2).unwrap();
        let mut out = [0.0f32; 2];
        opt.apply(&[1.0, -4.0], &mut out);
        // G = η0·ε·I = 2e-3·I.
        assert!(
            (out[0] - 2e-3).abs() < 1e-9 && (out[1] + 8e-3).abs() < 1e-9,
            "{out:?}"
        );
    }

    #[test]
    fn h0_is_the_mean_over_the_pairs() {
        // f = x⁴/4, x0 = 1, η0 = 1, τ = 1e30 (gain 1), ε = 0.5: the pairs of the hand-computed
        // run in `lbfgs`'s tests, γ = 0.5714286 then 1.5433071; O-LBFGS uses their mean
        // 1.0573678 (hand arithmetic).
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = x[0] * x[0] * x[0];
            Ok(0.25 * x[0].powi(4))
        };
        let cfg = OnlineQnConfig {
            eps: 0.5,
            tau: 1e30,
            ..unit_gain()
        };
        let mut opt = new(cfg, 1).unwrap();
        let mut x = [1.0f32];
        let mut g = [0.0f32];
        for want in [0.5714286, 1.0573678] {
            f(&x, &mut g).unwrap();
            opt.step(&mut x, &g.clone(), &mut { f }).unwrap();
            let gamma = opt.gamma().unwrap();
            assert!((gamma - want).abs() < 1e-5 * want, "γ̄ = {gamma}");
        }
    }

    #[test]
    fn defaults_are_the_authors() {
        let opt = new(IDENTITY.from_spec(&OptimizerSpec::named(NAME)).unwrap(), 3).unwrap();
        assert_eq!(opt.config(), &DEFAULTS);
        assert_eq!(
            (
                DEFAULTS.lr,
                DEFAULTS.memory,
                DEFAULTS.eps,
                DEFAULTS.tau,
                DEFAULTS.lambda
            ),
            (1e-3, 48, 1e-10, 1e4, Some(0.0))
        );
    }
}
