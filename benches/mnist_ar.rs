//! One mnist-ar training step (loss + gradient through the dfdx tape) at batch 16, 64 and 256.
//!
//! Forward+backward is ≈ 108 MFLOP per image (counted in `model::flops_per_image`), so
//! GFLOP/s = batch · 0.108 / (seconds per step).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use lodo_tui::task::mnist_ar::input::{Batch, Query};
use lodo_tui::task::mnist_ar::layout::{PARAM_COUNT, PIXELS, init_params};
use lodo_tui::task::mnist_ar::model;
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
        group.bench_with_input(BenchmarkId::from_parameter(size), &b, |bench, b| {
            bench.iter(|| model::loss_and_grad(&dev, black_box(&params), b, &mut grad).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Plots off: the SVG/PDF plotting backend is not needed and fails without fonts.
    config = Criterion::default().without_plots();
    targets = training_step
}
criterion_main!(benches);
