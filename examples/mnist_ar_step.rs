//! Runs mnist-ar training steps (loss + gradient) on random images, for profiling and for
//! measuring peak memory: `cargo run --release --example mnist_ar_step -- [batch] [steps]`,
//! e.g. under `/usr/bin/time -v` or `perf record`. `-- generate [count]` times sampling `count`
//! digits from the untrained model instead.

use std::time::Instant;

use anyhow::{Context, Result};
use lodo_tui::task::mnist_ar::input::{Batch, Query};
use lodo_tui::task::mnist_ar::layout::{PARAM_COUNT, PIXELS, init_params};
use lodo_tui::task::mnist_ar::{MnistAr, model};
use lodo_tui::task::{Digits, Task};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn random_images(count: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    (0..count * PIXELS).map(|_| rng.r#gen()).collect()
}

fn steps(size: usize, steps: usize) -> Result<()> {
    let images = random_images(size);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
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

fn generate(count: usize) -> Result<()> {
    let mut task = MnistAr::new(random_images(100), 1, 1, 0)?;
    let params = task.init_params();
    let t = Instant::now();
    let digits = task.generate(&params, count, 0, &mut |_: &Digits| true)?;
    let s = t.elapsed().as_secs_f64();
    println!("generated {} digits in {s:.2} s", digits.count);
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("generate") {
        let count = args.nth(1).map_or(Ok(16), |a| a.parse()).context("count")?;
        return generate(count);
    }
    let size = args.next().map_or(Ok(64), |a| a.parse()).context("batch")?;
    let n = args.next().map_or(Ok(5), |a| a.parse()).context("steps")?;
    steps(size, n)
}
