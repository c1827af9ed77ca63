//! LODO learns the inverse Hessian: on a fixed, noise-free, ill-conditioned quadratic its
//! Hessian error ‖I − G·H‖_F/√n (docs/algorithm.md §9) falls substantially.
//!
//! The quadratic is fixed and every gradient is exact. The starting point is re-drawn every
//! 20 steps: on a quadratic the iterates converge geometrically, so without restarts the
//! gradient — and with it the hypergradient, which is quadratic in the gradient — vanishes within
//! a few hundred steps and Adam's second moment (β2 = 0.999) remembers the early magnitudes, so
//! the preconditioner stops learning (measured: the error freezes after ~400 steps at 0.62 from
//! 0.66). Restarts keep every direction excited with the same, exact curvature.
#![allow(clippy::unwrap_used)]

use lodo_tui::optim::spec::build;
use lodo_tui::optim::{BuildContext, Optimizer, OptimizerSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const N: usize = 10;
/// Condition number: eigenvalues log-spaced from 1 down to 1/10.
const KAPPA: f64 = 10.0;
const STEPS: usize = 4000;
const RESTART_EVERY: usize = 20;

struct Quadratic {
    h: Vec<f64>,
    c: Vec<f64>,
}

impl Quadratic {
    /// `H = Q·diag(λ)·Qᵀ` with a random orthogonal `Q`, `λ_i = κ^(−i/(n−1))`; centre `c ~ N(0, I)`.
    fn new(rng: &mut ChaCha8Rng) -> Self {
        let mut q: Vec<Vec<f64>> = Vec::new();
        while q.len() < N {
            let mut v: Vec<f64> = (0..N).map(|_| StandardNormal.sample(rng)).collect();
            for u in &q {
                let p: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, ui)| *x -= p * ui);
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            q.push(v.iter().map(|x| x / norm).collect());
        }
        let lambda: Vec<f64> = (0..N)
            .map(|i| KAPPA.powf(-(i as f64) / (N - 1) as f64))
            .collect();
        let mut h = vec![0.0; N * N];
        for a in 0..N {
            for b in 0..N {
                h[a * N + b] = (0..N).map(|i| q[i][a] * lambda[i] * q[i][b]).sum();
            }
        }
        let c = (0..N).map(|_| StandardNormal.sample(rng)).collect();
        Self { h, c }
    }

    fn grad(&self, x: &[f32]) -> Vec<f32> {
        let d: Vec<f64> = x
            .iter()
            .zip(&self.c)
            .map(|(&a, b)| f64::from(a) - b)
            .collect();
        (0..N)
            .map(|a| (0..N).map(|b| self.h[a * N + b] * d[b]).sum::<f64>() as f32)
            .collect()
    }

    /// ‖I − G·H‖_F / √n, with `G` the optimizer's preconditioner applied to the columns of `H`.
    fn hessian_error(&self, opt: &dyn Optimizer) -> f64 {
        let g = opt.preconditioner().unwrap();
        let mut out = vec![0.0f32; N];
        let mut total = 0.0;
        for b in 0..N {
            let column: Vec<f32> = (0..N).map(|a| self.h[a * N + b] as f32).collect();
            g.apply(&column, &mut out);
            for (a, &o) in out.iter().enumerate() {
                let identity = if a == b { 1.0 } else { 0.0 };
                total += (identity - f64::from(o)).powi(2);
            }
        }
        (total / N as f64).sqrt()
    }
}

/// Runs LODO and returns the Hessian error at steps 0, 400, …, 4000.
fn run(seed: u64, meta_lr: f32) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let f = Quadratic::new(&mut rng);
    let mut spec = OptimizerSpec::named("lodo");
    spec.lr = Some(1.0);
    spec.meta_lr = Some(meta_lr);
    let ctx = BuildContext {
        n: N,
        layers: &[],
        seed: 7 * seed,
        horizon: None,
    };
    let mut opt = build(&spec, &ctx).unwrap();
    let mut x = vec![0.0f32; N];
    let mut no_batch = |_: &[f32], _: &mut [f32]| -> anyhow::Result<f32> { unreachable!() };
    let mut errors = Vec::new();
    for t in 0..=STEPS {
        if t % (STEPS / 10) == 0 {
            errors.push(f.hessian_error(opt.as_ref()));
        }
        if t % RESTART_EVERY == 0 {
            x.iter_mut()
                .for_each(|xi| *xi = StandardNormal.sample(&mut rng));
        }
        let g = f.grad(&x);
        let stats = opt.step(&mut x, &g, &mut no_batch).unwrap();
        assert!(stats.step_norm.is_finite());
    }
    errors
}

#[test]
fn hessian_error_falls_substantially() {
    // Settings found by a sweep (α0 ∈ {0.05…1}, meta_lr ∈ {1e-3, 3e-3, 1e-2}, β ∈ {0, 0.9},
    // κ ∈ {10, 30, 100}, restarts every 20/50 steps): with α0 = 1, meta_lr = 3e-3, β = 0.9,
    // N = 16, k = 4 the error starts at ‖I − H‖_F/√n = 0.656 and the mean of the last five
    // checkpoints was 0.28–0.33 over six seeds (worst single checkpoint 0.37).
    for seed in [1, 2] {
        let errors = run(seed, 3e-3);
        let initial = errors[0];
        assert!((initial - 0.656).abs() < 1e-3, "G = I at init: {initial}");
        let late = &errors[6..];
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        assert!(
            mean < 0.6 * initial && late.iter().all(|&e| e < 0.8 * initial),
            "seed {seed}: Hessian error {errors:?} did not fall substantially"
        );
    }
}

#[test]
fn without_meta_learning_the_error_stays_put() {
    // meta_lr = 0 freezes θ: G stays α0·I, so the error stays ‖I − H‖_F/√n exactly (to f32).
    let errors = run(1, 0.0);
    assert!(
        errors.iter().all(|&e| (e - errors[0]).abs() < 1e-6),
        "{errors:?}"
    );
}
