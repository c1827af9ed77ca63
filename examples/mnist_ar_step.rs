//! Runs mnist-ar training steps (loss + gradient) on random images, for profiling and for
//! measuring peak memory: `cargo run --release --example mnist_ar_step -- [batch] [steps]`,
//! e.g. under `/usr/bin/time -v` or `perf record`.

use std::time::Instant;

use anyhow::{Context, Result};
use lodo_tui::task::mnist_ar::input::{Batch, Query};
use lodo_tui::task::mnist_ar::layout::{PARAM_COUNT, PIXELS, init_params};
use lodo_tui::task::mnist_ar::model;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().map_or(Ok(64), |a| a.parse()).context("batch")?;
    let steps: usize = args.next().map_or(Ok(5), |a| a.parse()).context("steps")?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let images: Vec<u8> = (0..size * PIXELS).map(|_| rng.r#gen()).collect();
    let items: Vec<(&[u8], Query)> = images
        .chunks_exact(PIXELS)
        .map(|im| (im, Query::from_index(rng.gen_range(0..PIXELS))))
        .collect();
    let batch = Batch::new(&items);
    let dev = model::device();
    let params = init_params(0);
    let mut grad = vec![0.0; PARAM_COUNT];
    for step in 0..steps {
        let t = Instant::now();
        let loss = model::loss_and_grad(&dev, &params, &batch, &mut grad)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!("step {step}: batch {size}, loss {loss:.4}, {ms:.1} ms");
    }
    Ok(())
}
