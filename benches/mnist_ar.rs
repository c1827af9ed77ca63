//! One mnist-ar training step (loss + gradient through the dfdx tape) at batch 16, 64 and 256.
//!
//! Criterion's throughput is set to the step's arithmetic, so its "elem/s" reads as FLOP/s.
//! Counted as 2 FLOP per multiply-add of the layers as specified (the kernels' recomputation of
//! each block's inner activations in the backward pass is not counted): per pixel and block,
//! forward 20·40 + 9·120 + 120·20 = 4,280 MACs and backward twice that (weight and input
//! gradients), 12,840 MACs; blocks see 4·(784 + 196 + 49 + 16 + 4) = 4,196 pixels per image;
//! the stem adds 2·784·5·20 MACs and the head 3·20·256: ≈ 107.9 MFLOP per image, 6.9 GFLOP at
//! batch 64.
//!
//! `mnist_ar_train_step/{lodo,adam}` times a whole training step at batch 64 — loss and
//! gradient, then the `mnist` preset's optimizer (LODO as it starts, and its Adam alternative)
//! built the way the trainer builds it — and prints the LODO/Adam ratio of the medians (issue 13).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

#[path = "support/cold.rs"]
mod cold;
use cold::Cold;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lodo_tui::optim::{Optimizer, OptimizerSpec};
use lodo_tui::preset::Preset;
use lodo_tui::task::layer_groups;
use lodo_tui::task::mnist_ar::input::{Batch, Query};
use lodo_tui::task::mnist_ar::layout::layers;
use lodo_tui::task::mnist_ar::layout::{PARAM_COUNT, PIXELS, init_params};
use lodo_tui::task::mnist_ar::model;
use lodo_tui::train::slot::Factory;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn batch(size: usize) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let images: Vec<u8> = (0..size * PIXELS).map(|_| rng.r#gen()).collect();
    let items: Vec<(&[u8], Query)> = images
        .chunks_exact(PIXELS)
        .map(|im| (im, Query::from_index(rng.gen_range(0..PIXELS))))
        .collect();
    Batch::new(&items)
}

/// FLOP of one training step per image (see the module comment).
const FLOP_PER_IMAGE: u64 = 2 * (12_840 * 4_196 + 2 * 784 * 5 * 20 + 3 * 20 * 256);

fn training_step(c: &mut Criterion) {
    let dev = model::device();
    let params = init_params(0);
    let mut grad = vec![0.0; PARAM_COUNT];
    let mut group = c.benchmark_group("mnist_ar_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(12));
    for size in [16, 64, 256] {
        let b = batch(size);
        group.throughput(Throughput::Elements(FLOP_PER_IMAGE * size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &b, |bench, b| {
            bench.iter(|| model::loss_and_grad(&dev, black_box(&params), b, &mut grad).unwrap())
        });
    }
    // As in a LODO training step, where the update's sweep over θ, its moments and its indices
    // (≈ 0.5 GB) runs between two gradient passes.
    let mut cold = Cold::new();
    let b = batch(64);
    group.throughput(Throughput::Elements(FLOP_PER_IMAGE * 64));
    group.bench_function("64 cold cache", |bench| {
        bench.iter_custom(|iters| {
            cold.time(iters, || {
                model::loss_and_grad(&dev, black_box(&params), &b, &mut grad).unwrap();
            })
        })
    });
    group.finish();
}

/// The `mnist` preset's optimizer named `name` (its starting one or an alternative), built by the
/// trainer's factory for the CNN's layers.
fn preset_optimizer(name: &str) -> Box<dyn Optimizer> {
    let preset = Preset::load("mnist").unwrap();
    let spec: &OptimizerSpec = std::iter::once(&preset.optimizer)
        .chain(&preset.alternatives)
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("the mnist preset has no {name}"));
    let factory = Factory {
        builder: lodo_tui::optim::spec::build,
        n: PARAM_COUNT,
        layers: layer_groups(&layers()),
        seed: preset.seed,
        horizon: preset.max_steps,
    };
    factory.build(spec).unwrap()
}

/// One training step per call.
type Stepper = Box<dyn FnMut()>;

/// Median of `steps` timed calls of `step`, in seconds.
fn median_time(steps: usize, mut step: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..steps)
        .map(|_| {
            let start = std::time::Instant::now();
            step();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[steps / 2]
}

/// Loss, gradient and update at batch 64 for LODO and Adam, from the same initial parameters on
/// the same minibatch (the update's cost does not depend on the values).
fn optimizer_step(c: &mut Criterion) {
    let dev = model::device();
    let b = batch(64);
    let stepper = |name: &str| -> Stepper {
        let mut opt = preset_optimizer(name);
        let mut params = init_params(0);
        let mut grad = vec![0.0; PARAM_COUNT];
        let (dev, b) = (dev.clone(), b.clone());
        Box::new(move || {
            model::loss_and_grad(&dev, &params, &b, &mut grad).unwrap();
            let mut same_batch = |p: &[f32], g: &mut [f32]| model::loss_and_grad(&dev, p, &b, g);
            black_box(opt.step(&mut params, &grad, &mut same_batch).unwrap());
        })
    };
    // Built on first use: LODO's construction (random orthogonal blocks over 12 M entries) would
    // otherwise run, and show in profiles, even when a filter selects other benchmarks.
    let mut steppers: [(&str, Option<Stepper>); 2] = [("lodo", None), ("adam", None)];
    let mut group = c.benchmark_group("mnist_ar_train_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(12));
    for (name, step) in &mut steppers {
        group.bench_function(*name, |bench| {
            bench.iter(step.get_or_insert_with(|| stepper(name)))
        });
    }
    group.finish();
    // Criterion reports each alone; the ratio needs both medians from the same moment, so time
    // them again interleaved (other load on a shared machine then hits both alike) — only when
    // both were measured (not filtered out, not a `cargo test` smoke run).
    let measuring = std::env::args().any(|a| a == "--bench");
    let [(_, Some(lodo)), (_, Some(adam))] = &mut steppers else {
        return;
    };
    if !measuring {
        return;
    }
    let (mut l, mut a) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        l.push(median_time(3, &mut *lodo));
        a.push(median_time(3, &mut *adam));
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (l, a) = (med(&mut l), med(&mut a));
    println!(
        "mnist_ar_train_step: lodo {:.1} ms / adam {:.1} ms = {:.3} (interleaved medians)",
        l * 1e3,
        a * 1e3,
        l / a
    );
}

criterion_group! {
    name = benches;
    // Plots off: the SVG/PDF plotting backend is not needed and fails without fonts.
    config = Criterion::default().without_plots();
    targets = training_step, optimizer_step
}
criterion_main!(benches);
