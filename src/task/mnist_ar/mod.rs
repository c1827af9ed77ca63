//! mnist-ar: the paper's 94,696-parameter autoregressive CNN on MNIST (docs/algorithm.md §8.3).
//!
//! Each example is a training image and a query pixel drawn uniformly; the network sees the
//! pixels before the query in raster order (5-channel input, `input.rs`) and predicts the query
//! pixel's 8-bit intensity with a 256-way softmax. The loss is the mean cross-entropy in nats.
//!
//! The model runs on dfdx tensors and tape with all parameters in one flat tensor; the
//! convolutions, activations and pooling are hand-written ops recorded on the tape (`tape.rs`),
//! the dense head and the loss are dfdx's own ops (`head.rs`). The tape is not `Send`, so a whole
//! forward/backward pass happens inside one `loss_and_grad` call; the task itself holds no tape
//! and is `Send`. Kernels run on the global rayon pool.

mod act;
mod atan;
mod atan_avx512;
mod block;
mod buffers;
mod data;
mod depthwise;
mod eval;
mod generate;
mod head;
pub mod input;
pub mod layout;
mod matmul;
pub mod model;
mod par;
mod pool;
mod simd;
mod stem;
mod tape;
mod thin;

#[cfg(test)]
mod gradcheck;
#[cfg(test)]
mod tests;

use anyhow::{Result, ensure};
use dfdx::prelude::Cpu;

use self::data::{Stream, VAL_IMAGES, validation_queries};
use self::input::{Batch, Query};
use self::layout::{PARAM_COUNT, PIXELS};
use super::{Digits, EvalContext, Layer, Metrics, Task, TaskKind, TaskState};

/// Default minibatch size (the paper used 256).
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// Default number of validation queries: 64 held-out images × 16 pixels.
pub const DEFAULT_VAL_QUERIES: usize = 1024;
/// Upper bound on `val_queries` (an evaluation costs one forward pass per query).
pub const MAX_VAL_QUERIES: usize = 1 << 20;
/// Metric: the authors' validation loss, every pixel of the 64 held-out images, in nats.
pub const FULL_VAL_NATS: &str = "val_full_nats";
/// Metric: the same in bits per pixel.
pub const FULL_VAL_BITS: &str = "val_full_bits_per_pixel";

/// Samples `count` digits from the model at `params` pixel by pixel, as [`Task::generate`] does,
/// without a task: generation needs no data. `lodo-tui sample` uses it on checkpoints.
pub fn generate_digits(
    params: &[f32],
    count: usize,
    seed: u64,
    progress: &mut dyn FnMut(&Digits) -> bool,
) -> Result<Digits> {
    ensure!(
        params.len() == PARAM_COUNT,
        "mnist-ar: expected {PARAM_COUNT} parameters, got {}",
        params.len()
    );
    generate::generate(&model::device(), params, count, seed, progress)
}

/// The autoregressive CNN task over a set of 28×28 images.
pub struct MnistAr {
    seed: u64,
    /// All images, training first, the last [`VAL_IMAGES`] for validation.
    images: Vec<u8>,
    stream: Stream,
    batch: Batch,
    val: Vec<(usize, Query)>,
    dev: Cpu,
}

fn check_val_queries(val_queries: usize) -> Result<()> {
    ensure!(
        (1..=MAX_VAL_QUERIES).contains(&val_queries),
        "mnist-ar: val_queries {val_queries} is out of range 1..={MAX_VAL_QUERIES}"
    );
    Ok(())
}

/// The checks of the task's settings that need no data (run again when a preset loads), for the
/// standard MNIST training set.
pub fn check_sizes(batch_size: usize, val_queries: usize) -> Result<()> {
    check_val_queries(val_queries)?;
    let train_len = crate::data::mnist::TRAIN_LEN - data::VAL_IMAGES;
    ensure!(
        (1..=train_len).contains(&batch_size),
        "mnist-ar: batch_size {batch_size} is out of range 1..={train_len}"
    );
    Ok(())
}

impl MnistAr {
    /// A task over `images` (n·784 intensities, e.g. the 60,000 MNIST training images), whose
    /// current minibatch is the first of the stream.
    pub fn new(images: Vec<u8>, batch_size: usize, val_queries: usize, seed: u64) -> Result<Self> {
        ensure!(
            images.len().is_multiple_of(PIXELS),
            "mnist-ar: {} bytes is not a whole number of 28×28 images",
            images.len()
        );
        let n = images.len() / PIXELS;
        ensure!(
            n > VAL_IMAGES,
            "mnist-ar: needs more than {VAL_IMAGES} images (they are held out), got {n}"
        );
        check_val_queries(val_queries)?;
        let stream = Stream::new(seed, batch_size, n - VAL_IMAGES)?;
        let val = validation_queries(seed, val_queries)
            .into_iter()
            .map(|(i, q)| (n - VAL_IMAGES + i, q))
            .collect();
        let mut task = Self {
            seed,
            images,
            stream,
            batch: Batch::default(),
            val,
            dev: model::device(),
        };
        task.fill_batch();
        Ok(task)
    }

    fn fill_batch(&mut self) {
        let examples = self.stream.batch();
        let items: Vec<(&[u8], Query)> = examples
            .iter()
            .map(|&(i, q)| (&self.images[i * PIXELS..(i + 1) * PIXELS], q))
            .collect();
        self.batch = Batch::new(&items);
    }

    /// The same task with minibatches drawn with replacement (see `data.rs`), positioned at the
    /// first of them.
    pub fn drawing_with_replacement(mut self) -> Result<Self> {
        let n = self.images.len() / PIXELS;
        let b = self.batch.len();
        self.stream = Stream::with_replacement(self.seed, b, n - VAL_IMAGES)?;
        self.fill_batch();
        Ok(self)
    }

    /// The current minibatch's network inputs and targets.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }
}

impl Task for MnistAr {
    fn kind(&self) -> TaskKind {
        TaskKind::MnistAr
    }

    fn title(&self) -> String {
        "MNIST autoregressive CNN (94,696 params)".into()
    }

    fn dim(&self) -> usize {
        PARAM_COUNT
    }

    fn init_params(&self) -> Vec<f32> {
        layout::init_params(self.seed)
    }

    fn layers(&self) -> Vec<Layer> {
        layout::layers()
    }

    fn next_batch(&mut self) {
        self.stream.advance();
        self.fill_batch();
    }

    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> Result<f32> {
        model::loss_and_grad(&self.dev, params, &self.batch, grad)
    }

    /// `val_loss`: mean cross-entropy (nats) of the fixed subset of `val_queries` validation
    /// queries (cheap enough to repeat during training); `val_bits_per_pixel`: the same in bits.
    fn evaluate(&mut self, params: &[f32], _ctx: &EvalContext) -> Result<Metrics> {
        let nats = eval::mean_nll(&self.dev, params, &self.images, &self.val)?;
        let mut metrics = Metrics::new();
        metrics.insert("val_loss".into(), nats);
        metrics.insert("val_bits_per_pixel".into(), nats / std::f64::consts::LN_2);
        Ok(metrics)
    }

    /// [`FULL_VAL_NATS`] and [`FULL_VAL_BITS`]: all 784 pixels of the 64 held-out images,
    /// 50,176 predictions.
    fn final_evaluation(&mut self, params: &[f32]) -> Result<Metrics> {
        let n = self.images.len() / PIXELS;
        let nats = eval::all_pixels_nll(&self.dev, params, &self.images, n - VAL_IMAGES..n)?;
        let mut metrics = Metrics::new();
        metrics.insert(FULL_VAL_NATS.into(), nats);
        metrics.insert(FULL_VAL_BITS.into(), nats / std::f64::consts::LN_2);
        Ok(metrics)
    }

    fn can_generate(&self) -> bool {
        true
    }

    /// Samples `count` digits pixel by pixel; `progress` is called after every pixel and may
    /// return `false` to stop, which returns the partly drawn digits.
    fn generate(
        &mut self,
        params: &[f32],
        count: usize,
        seed: u64,
        progress: &mut dyn FnMut(&Digits) -> bool,
    ) -> Result<Digits> {
        generate::generate(&self.dev, params, count, seed, progress)
    }

    fn state(&self) -> TaskState {
        TaskState {
            words: self.stream.words(),
            buffers: Vec::new(),
        }
    }

    fn load_state(&mut self, state: &TaskState) -> Result<()> {
        self.stream.restore(&state.words)?;
        self.fill_batch();
        Ok(())
    }
}
