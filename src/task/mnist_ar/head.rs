//! The head, on dfdx's own ops: dense 20→256 with bias on the pooled 1×1×20 features, log-softmax
//! over the 256 intensities, and the mean negative log-likelihood of the targets. The dense
//! weights are slices of the flat parameter tensor, so their gradient lands in the flat gradient
//! through dfdx's slice backward.

use anyhow::{Context, Result};
use dfdx::prelude::*;

use super::layout::{CLASSES, DENSE_B, DENSE_W, PARAM_COUNT, WIDTH};
use super::tape::{Flat, Params};

/// Log-probabilities of the 256 classes, one row per image.
pub type LogProbs<T> = Tensor<(usize, Const<CLASSES>), f32, Cpu, T>;

/// Dense layer and log-softmax on the trunk's output `h` (`batch × 20`).
pub fn log_probs<T: Tape<f32, Cpu>>(
    h: Flat<T>,
    batch: usize,
    params: &Params,
) -> Result<LogProbs<T>> {
    let h = h
        .try_reshape_like(&(batch, Const::<WIDTH>))
        .context("reshaping the pooled features")?;
    let weight = params
        .tensor
        .retaped::<T>()
        .try_slice((DENSE_W..DENSE_B,))
        .and_then(|w| w.try_reshape_like(&(Const::<WIDTH>, Const::<CLASSES>)))
        .context("slicing the dense weights")?;
    let bias = params
        .tensor
        .retaped::<T>()
        .try_slice((DENSE_B..PARAM_COUNT,))
        .and_then(|b| b.try_reshape_like(&(Const::<CLASSES>,)))
        .and_then(|b| b.try_broadcast_like(&(batch, Const::<CLASSES>)))
        .context("slicing the dense bias")?;
    h.try_matmul(weight)
        .and_then(|z| z.try_add(bias))
        .and_then(|z| z.try_log_softmax::<Axis<1>>())
        .context("dense layer and log-softmax")
}

/// Mean negative log-likelihood (nats) of `targets` under `log_probs`.
pub fn nll<T: Tape<f32, Cpu>>(
    log_probs: LogProbs<T>,
    targets: &[usize],
) -> Result<Tensor<Rank0, f32, Cpu, T>> {
    let dev = log_probs.device().clone();
    let idx = dev
        .try_tensor_from_vec(targets.to_vec(), (targets.len(),))
        .context("target tensor")?;
    log_probs
        .try_select(idx)
        .and_then(|t| t.try_mean())
        .and_then(|t| t.try_negate())
        .context("cross-entropy")
}
