//! Validation: the mean negative log-likelihood of a fixed set of (image, pixel) queries.

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
