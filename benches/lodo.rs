//! Speed of one LODO step (lodo.md §2–3) at the paper's CNN size and at the quadratic task's size.
//!
//! `cargo bench --bench lodo`. Targets (issue 2): ≤ 40 ms median per step at n = 94,696 (N = 16,
//! k = 4, θ ≈ 12.1M entries) and ≥ 20,000 steps/s at n = 100, on the 2-core build machine.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lodo_tui::optim::spec::build;
use lodo_tui::optim::{BuildContext, Optimizer, OptimizerSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Parameters of the paper's MNIST autoregression CNN (lodo.md §6).
const CNN_PARAMS: usize = 94_696;

fn optimizer(spec: OptimizerSpec, n: usize) -> Box<dyn Optimizer> {
    build(
        &spec,
        &BuildContext {
            n,
            layers: &[],
            seed: 0,
        },
    )
    .unwrap()
}

fn random(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}

/// A stream of steps on fixed random gradients (two alternating, so momentum keeps changing).
fn bench_steps(c: &mut Criterion, id: &str, mut opt: Box<dyn Optimizer>, n: usize) {
    let mut params = random(n, 1.0, 1);
    let grads = [random(n, 1e-2, 2), random(n, 1e-2, 3)];
    let mut no_batch = |_: &[f32], _: &mut [f32]| -> anyhow::Result<f32> { unreachable!() };
    let mut t = 0;
    c.bench_function(id, |b| {
        b.iter(|| {
            t += 1;
            black_box(opt.step(&mut params, &grads[t % 2], &mut no_batch).unwrap());
        })
    });
}

fn lodo_spec(name: &str) -> OptimizerSpec {
    let mut spec = OptimizerSpec::named(name);
    spec.lr = Some(0.085);
    spec.meta_lr = Some(8e-6);
    spec
}

fn cnn_size(c: &mut Criterion) {
    bench_steps(
        c,
        "lodo step n=94696 N=16 k=4",
        optimizer(lodo_spec("lodo"), CNN_PARAMS),
        CNN_PARAMS,
    );
    let mut depth0 = lodo_spec("lodo");
    depth0.depth = Some(0);
    bench_steps(
        c,
        "lodo step n=94696 depth 0 (momentum SGD)",
        optimizer(depth0, CNN_PARAMS),
        CNN_PARAMS,
    );
    adam_reference(c);
}

/// The memory floor for comparison: one bias-corrected Adam update over as many floats as θ
/// (16 layers × 189,392 × 4 = 12,121,088), reading and writing θ and both moments once.
fn adam_reference(c: &mut Criterion) {
    let len = 16 * lodo_tui::optim::lodo::hidden_width(CNN_PARAMS, 4) * 4;
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
    let n = 100;
    let mut group = c.benchmark_group("lodo n=100");
    group.throughput(Throughput::Elements(1));
    let mut params = random(n, 1.0, 1);
    let grads = [random(n, 1e-2, 2), random(n, 1e-2, 3)];
    let mut no_batch = |_: &[f32], _: &mut [f32]| -> anyhow::Result<f32> { unreachable!() };
    for name in ["lodo", "lodo-residuals", "lodo-diagonal"] {
        let mut opt = optimizer(lodo_spec(name), n);
        let mut t = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                t += 1;
                black_box(opt.step(&mut params, &grads[t % 2], &mut no_batch).unwrap());
            })
        });
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
