//! Sampling digits from the model one pixel at a time, in raster order: pixel `p` of every image
//! is drawn from the model's softmax given pixels `0..p` (the query mask hides the rest, so the
//! not-yet-drawn zeros are never seen).

use anyhow::Result;
use dfdx::prelude::Cpu;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::input::{Batch, Query};
use super::layout::{CLASSES, PIXELS, SIDE};
use super::model;
use crate::task::Digits;

/// Samples `count` images; `progress` sees the images after each pixel and returns `false` to
/// stop early, in which case the partly drawn images are returned (`pixels_done < 784`).
pub fn generate(
    dev: &Cpu,
    params: &[f32],
    count: usize,
    seed: u64,
    progress: &mut dyn FnMut(&Digits) -> bool,
) -> Result<Digits> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut digits = Digits {
        rows: SIDE,
        cols: SIDE,
        count,
        pixels: vec![0; count * PIXELS],
        pixels_done: 0,
    };
    if count == 0 {
        return Ok(digits);
    }
    for p in 0..PIXELS {
        let query = Query::from_index(p);
        let items: Vec<(&[u8], Query)> = digits
            .pixels
            .chunks_exact(PIXELS)
            .map(|im| (im, query))
            .collect();
        let log_probs = model::predict(dev, params, &Batch::new(&items))?;
        for (k, row) in log_probs.chunks_exact(CLASSES).enumerate() {
            digits.pixels[k * PIXELS + p] = sample(row, rng.r#gen::<f32>());
        }
        digits.pixels_done = p + 1;
        if !progress(&digits) {
            break;
        }
    }
    Ok(digits)
}

/// The class whose cumulative probability first exceeds `u ∈ [0, 1)` (inverse CDF); rounding
/// that leaves the total below `u` falls to the most likely class.
fn sample(log_probs: &[f32], u: f32) -> u8 {
    let mut cumulative = 0.0f32;
    for (c, &lp) in log_probs.iter().enumerate() {
        cumulative += lp.exp();
        if u < cumulative {
            return c as u8;
        }
    }
    let best = log_probs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(c, _)| c);
    best as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_cdf_sampling() {
        let mut lp = vec![f32::NEG_INFINITY; CLASSES];
        lp[3] = 0.25f32.ln();
        lp[200] = 0.75f32.ln();
        assert_eq!(sample(&lp, 0.0), 3);
        assert_eq!(sample(&lp, 0.2499), 3);
        assert_eq!(sample(&lp, 0.2501), 200);
        assert_eq!(sample(&lp, 0.999_999_9), 200);
        // Probabilities summing to slightly less than u fall to the most likely class.
        lp[200] = 0.7f32.ln();
        assert_eq!(sample(&lp, 0.99), 200);
    }
}
