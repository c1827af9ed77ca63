//! One mnist-ar training step (loss + gradient through the dfdx tape) at batch 16, 64 and 256.
//!
//! Criterion's throughput is set to the step's arithmetic, so its "elem/s" reads as FLOP/s.
//! Counted as 2 FLOP per multiply-add of the layers as specified (the kernels' recomputation of
//! each block's inner activations in the backward pass is not counted): per pixel and block,
//! forward 20·40 + 9·120 + 120·20 = 4,280 MACs and backward twice that (weight and input
//! gradients), 12,840 MACs; blocks see 4·(784 + 196 + 49 + 16 + 4) = 4,196 pixels per image;
//! the stem adds 2·784·5·20 MACs and the head 3·20·256: ≈ 107.9 MFLOP per image, 6.9 GFLOP at
//! batch 64.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
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
    group.finish();
}

criterion_group! {
    name = benches;
    // Plots off: the SVG/PDF plotting backend is not needed and fails without fonts.
    config = Criterion::default().without_plots();
    targets = training_step
}
criterion_main!(benches);
