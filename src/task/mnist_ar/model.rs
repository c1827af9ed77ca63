//! The whole network: stem, 5 stages of 4 residual blocks each followed by SAME pooling, and the
//! head; loss and gradient through the dfdx tape, and log-probabilities without one.

use anyhow::{Context, Result, ensure};
use dfdx::prelude::*;

use super::block::{Geometry, block};
use super::buffers;
use super::head::{log_probs, nll};
use super::input::Batch;
use super::layout::{BLOCKS_PER_STAGE, CLASSES, PARAM_COUNT, SIDE, STAGES, WIDTH};
use super::pool::{pool, pooled};
use super::stem::stem;
use super::tape::{Flat, Params};

/// The dfdx CPU device for this model. dfdx's allocation cache stays off: the hand-written ops
/// recycle their own large buffers (`buffers.rs`), and the cache would keep every buffer that
/// is freed but never requested again in the same size (all of them, in forward-only passes).
pub fn device() -> Cpu {
    Cpu::default()
}

/// Stem, blocks and pooling: the batch's inputs to its `batch × 20` features.
fn trunk<T: Tape<f32, Cpu>>(inputs: Vec<f32>, batch: usize, params: &Params) -> Result<Flat<T>> {
    let dev = params.tensor.device().clone();
    let n = inputs.len();
    let x = dev
        .try_tensor_from_vec(inputs, (n,))
        .context("input tensor")?
        .put_tape(T::default());
    let mut x = stem(x, batch, params)?;
    let mut side = SIDE;
    for stage in 0..STAGES {
        let geo = Geometry {
            batch,
            h: side,
            w: side,
        };
        for b in 0..BLOCKS_PER_STAGE {
            x = block(x, stage * BLOCKS_PER_STAGE + b, geo, params)?;
        }
        x = pool(x, (batch, side, side, WIDTH), params)?;
        side = pooled(side);
    }
    Ok(x)
}

/// A copy of the batch's inputs for the input tensor, in a reused buffer.
fn inputs(batch: &Batch) -> Vec<f32> {
    let mut v = buffers::take(batch.inputs.len());
    v.copy_from_slice(&batch.inputs);
    v
}

fn check(params: &[f32], batch: &Batch) -> Result<()> {
    ensure!(
        params.len() == PARAM_COUNT,
        "mnist-ar: expected {PARAM_COUNT} parameters, got {}",
        params.len()
    );
    ensure!(!batch.is_empty(), "mnist-ar: empty batch");
    Ok(())
}

/// Mean cross-entropy (nats) of `batch` at `params`; writes its gradient into `grad`.
pub fn loss_and_grad(dev: &Cpu, params: &[f32], batch: &Batch, grad: &mut [f32]) -> Result<f32> {
    check(params, batch)?;
    ensure!(grad.len() == PARAM_COUNT, "gradient buffer size");
    let p = Params::new(dev, params)?;
    let h = trunk::<OwnedTape<f32, Cpu>>(inputs(batch), batch.len(), &p)?;
    let loss = nll(log_probs(h, batch.len(), &p)?, &batch.targets)?;
    let value = loss.array();
    let mut grads = loss.try_backward().context("backward pass")?;
    let g = grads
        .get_or_alloc_mut(&p.tensor)
        .context("parameter gradient")?;
    grad.copy_from_slice(g);
    Ok(value)
}

/// Log-probabilities (`batch × 256`, row-major) of every intensity for each query of `batch`.
pub fn predict(dev: &Cpu, params: &[f32], batch: &Batch) -> Result<Vec<f32>> {
    check(params, batch)?;
    let p = Params::new(dev, params)?;
    let h = trunk::<NoneTape>(inputs(batch), batch.len(), &p)?;
    let out = log_probs(h, batch.len(), &p)?.as_vec();
    debug_assert_eq!(out.len(), batch.len() * CLASSES);
    Ok(out)
}
