//! One optimizer step of the baselines at the paper's CNN size (n = 94,696), to set against the
//! LODO step at the same n (benched with the LODO family).
//!
//! Gradients come from a pool of seeded random vectors so the moments and velocities stay
//! typical instead of converging. O-LBFGS needs a gradient at the stepped point on the same
//! minibatch: a noisy diagonal quadratic `g = d ⊙ (x − cᵢ)` provides both, and its cost alone
//! (two passes) is benched as `olbfgs-oracle` so the optimizer's own share can be read off.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lodo_tui::optim::{BuildContext, Optimizer, OptimizerSpec, spec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 94_696;
const POOL: usize = 8;

fn random_vec(rng: &mut ChaCha8Rng, scale: f32) -> Vec<f32> {
    (0..N)
        .map(|_| scale * rng.gen_range(-1.0f32..1.0))
        .collect()
}

fn build(name: &str, memory: Option<usize>) -> Box<dyn Optimizer> {
    let layers = 0..N;
    let ctx = BuildContext {
        n: N,
        layers: std::slice::from_ref(&layers),
        seed: 0,
        horizon: None,
    };
    let spec = OptimizerSpec {
        memory,
        ..OptimizerSpec::named(name)
    };
    spec::build(&spec, &ctx).unwrap()
}

fn no_same_batch(_: &[f32], _: &mut [f32]) -> anyhow::Result<f32> {
    anyhow::bail!("first-order optimizers do not ask for a same-batch gradient")
}

fn first_order(c: &mut Criterion, name: &str) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let grads: Vec<Vec<f32>> = (0..POOL).map(|_| random_vec(&mut rng, 1e-2)).collect();
    let mut x = random_vec(&mut rng, 0.1);
    let mut opt = build(name, None);
    let mut i = 0;
    c.bench_function(&format!("{name} step n=94696"), |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            black_box(opt.step(&mut x, &grads[i], &mut no_same_batch).unwrap())
        })
    });
}

/// `g = d ⊙ (x − centre)`, `d` in [0.01, 1].
struct DiagonalBowl {
    d: Vec<f32>,
    centres: Vec<Vec<f32>>,
}

impl DiagonalBowl {
    fn new() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let d = (0..N)
            .map(|_| 10f32.powf(rng.gen_range(-2.0..0.0)))
            .collect();
        let centres = (0..POOL).map(|_| random_vec(&mut rng, 0.1)).collect();
        Self { d, centres }
    }

    fn grad(&self, i: usize, x: &[f32], g: &mut [f32]) -> f32 {
        let c = &self.centres[i];
        for j in 0..N {
            g[j] = self.d[j] * (x[j] - c[j]);
        }
        0.0
    }
}

fn olbfgs(c: &mut Criterion) {
    let bowl = DiagonalBowl::new();
    let mut x = vec![0.0f32; N];
    let mut g = vec![0.0f32; N];
    let mut opt = build("olbfgs", Some(10));
    let step = |i: usize, x: &mut Vec<f32>, g: &mut Vec<f32>, opt: &mut Box<dyn Optimizer>| {
        bowl.grad(i, x, g);
        let mut oracle = |x: &[f32], g: &mut [f32]| Ok(bowl.grad(i, x, g));
        opt.step(x, g, &mut oracle).unwrap()
    };
    // Fill the memory so every measured step runs the full two-loop over m = 10 pairs.
    for i in 0..12 {
        step(i % POOL, &mut x, &mut g, &mut opt);
    }
    assert_eq!(opt.summary()[0].1, "10/10");
    let mut i = 0;
    c.bench_function("olbfgs(m=10) step n=94696 incl. oracle", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            black_box(step(i, &mut x, &mut g, &mut opt))
        })
    });
    let mut scratch = vec![0.0f32; N];
    c.bench_function("olbfgs-oracle (2 gradient passes) n=94696", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            bowl.grad(i, &x, &mut g);
            black_box(bowl.grad(i, &x, &mut scratch))
        })
    });
}

fn benches(c: &mut Criterion) {
    first_order(c, "sgd");
    first_order(c, "adam");
    first_order(c, "momentum");
    olbfgs(c);
}

criterion_group! {
    name = baselines;
    // No plots: the plotting backend needs system fonts, which headless machines may lack.
    config = Criterion::default().without_plots();
    targets = benches
}
criterion_main!(baselines);
