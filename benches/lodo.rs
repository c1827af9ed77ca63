//! Speed of one LODO step (docs/algorithm.md §2–3) at the paper's CNN size and the quadratic's.
//!
//! `cargo bench --bench lodo`. Targets (issue 2): ≤ 40 ms median per step at n = 94,696 (N = 16,
//! k = 4, θ ≈ 12.1M entries) and ≥ 20,000 steps/s at n = 100, on the 2-core build machine;
//! issue 13: ≤ 20 ms and ≤ 10 µs. Compare builds side by side with `--save-baseline before` and
//! `--baseline before`, or by running both builds' binaries alternately on a shared machine.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

#[path = "support/cold.rs"]
mod cold;
use cold::Cold;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lodo_tui::optim::lodo::hidden_width;
use lodo_tui::optim::spec::build;
use lodo_tui::optim::{BuildContext, OptimizerSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Parameters of the paper's MNIST autoregression CNN (docs/algorithm.md §8.3).
const CNN_PARAMS: usize = 94_696;

fn random(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}

/// The MNIST presets' LODO hyperparameters (docs/algorithm.md §5), with `tweak` applied.
fn spec(name: &str, tweak: impl Fn(&mut OptimizerSpec)) -> OptimizerSpec {
    let mut spec = OptimizerSpec::named(name);
    spec.lr = Some(0.085);
    spec.meta_lr = Some(8e-6);
    tweak(&mut spec);
    spec
}

/// One optimizer step per call, on two alternating fixed random gradients (so the momentum keeps
/// changing), from random parameters.
fn stepper(spec: OptimizerSpec, n: usize) -> impl FnMut() {
    stepper_scaled(spec, n, 1e-2)
}

/// As [`stepper`], with gradient entries up to `scale` in size.
fn stepper_scaled(spec: OptimizerSpec, n: usize, scale: f32) -> impl FnMut() {
    let mut opt = build(
        &spec,
        &BuildContext {
            n,
            layers: &[],
            seed: 0,
            horizon: None,
        },
    )
    .unwrap();
    let mut params = random(n, 1.0, 1);
    let grads = [random(n, scale, 2), random(n, scale, 3)];
    let mut no_batch = |_: &[f32], _: &mut [f32]| -> anyhow::Result<f32> { unreachable!() };
    let mut t = 0;
    move || {
        t += 1;
        black_box(opt.step(&mut params, &grads[t % 2], &mut no_batch).unwrap());
    }
}

fn cnn_size(c: &mut Criterion) {
    let mut step = stepper(spec("lodo", |_| {}), CNN_PARAMS);
    c.bench_function("lodo step n=94696 N=16 k=4", |b| b.iter(&mut step));
    cold_cache(c);
    let mut step = stepper(spec("lodo", |s| s.depth = Some(0)), CNN_PARAMS);
    c.bench_function("lodo step n=94696 depth 0 (momentum SGD)", |b| {
        b.iter(&mut step)
    });
    adam_reference(c);

    let mut group = c.benchmark_group("ablations n=94696");
    group.sample_size(10);
    for name in ["lodo-residuals", "lodo-diagonal"] {
        let mut step = stepper(spec(name, |_| {}), CNN_PARAMS);
        group.bench_function(name, |b| b.iter(&mut step));
    }
    group.finish();
}

/// The same step with the caches cold, as in training, where the gradient pass runs between
/// two updates; and with gradients small enough to make its arithmetic subnormal.
fn cold_cache(c: &mut Criterion) {
    let mut step = stepper(spec("lodo", |_| {}), CNN_PARAMS);
    let mut group = c.benchmark_group("lodo step n=94696 N=16 k=4");
    group.sample_size(10);
    // Gradients this small make the meta-Adam's squared terms subnormal: what that costs.
    let mut tiny = stepper_scaled(spec("lodo", |_| {}), CNN_PARAMS, 1e-18);
    group.bench_function("gradients below 1e-18 (subnormal squares)", |b| {
        b.iter(&mut tiny)
    });
    let mut cold = Cold::new();
    group.bench_function("cold cache", |b| {
        b.iter_custom(|iters| cold.time(iters, &mut step))
    });
    group.finish();
}

/// The memory floor for comparison: one bias-corrected Adam update over as many floats as θ
/// (16 layers × 189,392 × 4 = 12,121,088), reading and writing θ and both moments once.
fn adam_reference(c: &mut Criterion) {
    let len = 16 * hidden_width(CNN_PARAMS, 4) * 4;
    let mut theta = random(len, 0.5, 4);
    let grad = random(len, 1e-3, 5);
    let (mut m, mut v) = (vec![0.0f32; len], vec![0.0f32; len]);
    let (b1, b2, lr, eps) = (0.9f32, 0.999f32, 1e-3f32, 1e-7f32);
    c.bench_function(
        "reference: one Adam update over 12.1M floats (single thread)",
        |b| {
            b.iter(|| {
                for (((th, m), v), &g) in theta.iter_mut().zip(&mut m).zip(&mut v).zip(&grad) {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *th -= lr * *m / (v.sqrt() + eps);
                }
                black_box(&theta);
            })
        },
    );
}

fn quadratic_size(c: &mut Criterion) {
    let mut group = c.benchmark_group("lodo n=100");
    group.throughput(Throughput::Elements(1));
    for name in ["lodo", "lodo-residuals", "lodo-diagonal"] {
        let mut step = stepper(spec(name, |_| {}), 100);
        group.bench_function(name, |b| b.iter(&mut step));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(10))
        .without_plots();
    targets = cnn_size, quadratic_size
}
criterion_main!(benches);
