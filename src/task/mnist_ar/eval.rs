//! Validation: the mean negative log-likelihood of a fixed set of (image, pixel) queries (the
//! cheap subset evaluated during training), and of every pixel of the held-out images (the
//! authors' validation loss, for the end of a run).

use std::ops::Range;

use anyhow::Result;
use dfdx::prelude::Cpu;

use super::input::{Batch, Query};
use super::layout::{CLASSES, PIXELS};
use super::model;

/// Queries per forward pass (bounds the memory of an evaluation).
const CHUNK: usize = 128;

/// Mean cross-entropy in nats of `queries` (index into `images`, query) at `params`.
pub fn mean_nll(
    dev: &Cpu,
    params: &[f32],
    images: &[u8],
    queries: &[(usize, Query)],
) -> Result<f64> {
    let mut total = 0.0f64;
    for chunk in queries.chunks(CHUNK) {
        let items: Vec<(&[u8], Query)> = chunk
            .iter()
            .map(|&(i, q)| (&images[i * PIXELS..(i + 1) * PIXELS], q))
            .collect();
        let batch = Batch::new(&items);
        let log_probs = model::predict(dev, params, &batch)?;
        for (row, &t) in log_probs.chunks_exact(CLASSES).zip(&batch.targets) {
            total -= f64::from(row[t]);
        }
    }
    Ok(total / queries.len().max(1) as f64)
}

/// Mean cross-entropy in nats over all 784 pixels of each of the images `held_out` (indices into
/// `images`), each pixel predicted from the pixels before it. This is the authors' validation
/// loss: their mean over pixels of the mean over images, the same number since every pixel
/// covers every image.
pub fn all_pixels_nll(
    dev: &Cpu,
    params: &[f32],
    images: &[u8],
    held_out: Range<usize>,
) -> Result<f64> {
    let queries: Vec<(usize, Query)> = held_out
        .flat_map(|i| (0..PIXELS).map(move |p| (i, Query::from_index(p))))
        .collect();
    mean_nll(dev, params, images, &queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::mnist_ar::layout;

    #[test]
    fn all_pixels_nll_is_the_mean_of_every_pixel_predicted_alone() {
        // Two synthetic images (a gradient and a checker pattern) at seeded initial parameters.
        let images: Vec<u8> = (0..2 * PIXELS)
            .map(|k| match k / PIXELS {
                0 => (k % PIXELS / 4) as u8,
                _ => {
                    if (k / 28 + k) % 2 == 0 {
                        250
                    } else {
                        3
                    }
                }
            })
            .collect();
        let dev = model::device();
        let params = layout::init_params(5);
        let got = all_pixels_nll(&dev, &params, &images, 0..2).expect("evaluate");
        // Independently: one forward pass per (image, pixel), −log p of the true intensity.
        let mut sum = 0.0f64;
        for i in 0..2 {
            let image = &images[i * PIXELS..(i + 1) * PIXELS];
            for p in 0..PIXELS {
                let batch = Batch::new(&[(image, Query::from_index(p))]);
                let log_probs = model::predict(&dev, &params, &batch).expect("predict");
                sum -= f64::from(log_probs[usize::from(image[p])]);
            }
        }
        let want = sum / (2 * PIXELS) as f64;
        // f32 log-probabilities summed in f64: agreement to a few ulps of f32.
        assert!((got - want).abs() < 1e-5 * want, "{got} vs {want}");
        // Only the second image: a different number, so the range is honoured.
        let second = all_pixels_nll(&dev, &params, &images, 1..2).expect("evaluate");
        assert!((second - got).abs() > 1e-3, "{second} vs {got}");
    }
}
