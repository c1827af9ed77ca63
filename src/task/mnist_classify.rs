//! MNIST digit classification with a one-hidden-layer MLP (784 → hidden → 10, ReLU), the quick,
//! familiar demo.
//!
//! Why an MLP: dfdx 0.13's convolutions need its `nightly` feature, and at the default width of
//! 128 the MLP has 101,770 parameters, about the size of the paper's 94,696-parameter CNN, so
//! LODO's cost per step is comparable while a step stays cheap (~a millisecond).
//!
//! Data: the first 55,000 training images train, the last 5,000 validate, the 10,000 test
//! images test. Pixels are scaled to `(p/255 − 0.1307)/0.3081`, the mean and standard deviation
//! of the training pixels. Minibatches are drawn without replacement from a seeded shuffle of the
//! training split, a new shuffle each epoch, dropping the incomplete last batch.

use anyhow::{Result, bail, ensure};
use dfdx::tensor::Cpu;
use rand::seq::SliceRandom;

use super::mlp::{Mlp, Tally};
use super::rng::{self, Purpose};
use super::{EvalContext, Layer, Metrics, Task, TaskKind, TaskState};
use crate::data::mnist::{Mnist, PIXELS, TEST_LEN, TRAIN_LEN};

pub const DEFAULT_BATCH_SIZE: usize = 128;
pub const DEFAULT_HIDDEN: usize = 128;
pub const VALIDATION_LEN: usize = 5_000;
pub const TRAIN_SPLIT: usize = TRAIN_LEN - VALIDATION_LEN;
pub const MAX_HIDDEN: usize = 4096;
/// Mean and standard deviation of the MNIST training pixels on the 0..1 scale (checked in a test).
pub const PIXEL_MEAN: f32 = 0.1307;
pub const PIXEL_STD: f32 = 0.3081;
const CLASSES: usize = 10;
/// Images per forward pass during evaluation (bounds memory).
const EVAL_CHUNK: usize = 1000;

/// The checks of the task's settings that need no data (run again when a preset loads).
pub fn check_sizes(batch_size: usize, hidden: usize) -> Result<()> {
    ensure!(
        (1..=TRAIN_SPLIT).contains(&batch_size),
        "mnist-classify: batch_size {batch_size} is out of range 1..={TRAIN_SPLIT}"
    );
    ensure!(
        (1..=MAX_HIDDEN).contains(&hidden),
        "mnist-classify: hidden {hidden} is out of range 1..={MAX_HIDDEN}"
    );
    Ok(())
}

pub struct MnistClassify {
    model: Mlp,
    seed: u64,
    batch_size: usize,
    data: Mnist,
    dev: Cpu,
    /// Epoch of the current batch; its order is a shuffle drawn from the epoch's own stream.
    epoch: u64,
    order: Vec<u32>,
    /// Batches drawn in this epoch; the current batch is number `cursor − 1`.
    cursor: usize,
    batch_x: Vec<f32>,
    batch_y: Vec<u8>,
}

impl MnistClassify {
    /// A classifier over `data` whose current minibatch is the first of the stream.
    pub fn new(data: Mnist, batch_size: usize, hidden: usize, seed: u64) -> Result<Self> {
        check_sizes(batch_size, hidden)?;
        ensure!(
            data.train_len() == TRAIN_LEN && data.test_len() == TEST_LEN,
            "mnist-classify: expected 60,000 training and 10,000 test images, got {} and {}",
            data.train_len(),
            data.test_len()
        );
        let mut task = Self {
            model: Mlp {
                inputs: PIXELS,
                hidden,
                classes: CLASSES,
            },
            seed,
            batch_size,
            data,
            dev: Cpu::default(),
            epoch: 0,
            order: Vec::new(),
            cursor: 1,
            batch_x: Vec::with_capacity(batch_size * PIXELS),
            batch_y: Vec::with_capacity(batch_size),
        };
        task.shuffle();
        task.fill_batch();
        Ok(task)
    }

    fn batches_per_epoch(&self) -> usize {
        TRAIN_SPLIT / self.batch_size
    }

    fn shuffle(&mut self) {
        self.order = (0..TRAIN_SPLIT as u32).collect();
        let mut rng = rng::stream(self.seed, Purpose::DataOrder, self.epoch);
        self.order.shuffle(&mut rng);
    }

    fn fill_batch(&mut self) {
        let start = (self.cursor - 1) * self.batch_size;
        self.batch_x.clear();
        self.batch_y.clear();
        for &i in &self.order[start..start + self.batch_size] {
            let i = i as usize;
            normalize(self.data.train_image(i), &mut self.batch_x);
            self.batch_y.push(self.data.train_labels[i]);
        }
    }

    /// The training-set indices of the current minibatch.
    pub fn batch_indices(&self) -> &[u32] {
        let start = (self.cursor - 1) * self.batch_size;
        &self.order[start..start + self.batch_size]
    }

    /// Loss and accuracy over `images`/`labels`, a chunk at a time.
    fn tally(&self, params: &[f32], images: &[u8], labels: &[u8]) -> Result<Tally> {
        let mut total = Tally::default();
        let mut x = Vec::with_capacity(EVAL_CHUNK * PIXELS);
        for (pixels, labels) in images
            .chunks(EVAL_CHUNK * PIXELS)
            .zip(labels.chunks(EVAL_CHUNK))
        {
            x.clear();
            normalize(pixels, &mut x);
            total.add(self.model.tally(&self.dev, params, x.clone(), labels)?);
        }
        Ok(total)
    }
}

fn normalize(pixels: &[u8], out: &mut Vec<f32>) {
    out.extend(
        pixels
            .iter()
            .map(|&p| (f32::from(p) / 255.0 - PIXEL_MEAN) / PIXEL_STD),
    );
}

impl Task for MnistClassify {
    fn kind(&self) -> TaskKind {
        TaskKind::MnistClassify
    }

    fn title(&self) -> String {
        format!(
            "MNIST classifier: MLP 784→{}→10, ReLU ({} params)",
            self.model.hidden,
            crate::format::thousands(self.model.dim() as u64)
        )
    }

    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn init_params(&self) -> Vec<f32> {
        self.model
            .init(&mut rng::stream(self.seed, Purpose::InitParams, 0))
    }

    fn layers(&self) -> Vec<Layer> {
        self.model.layers()
    }

    fn next_batch(&mut self) {
        if self.cursor == self.batches_per_epoch() {
            self.epoch += 1;
            self.cursor = 0;
            self.shuffle();
        }
        self.cursor += 1;
        self.fill_batch();
    }

    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> Result<f32> {
        self.model
            .loss_and_grad(&self.dev, params, self.batch_x.clone(), &self.batch_y, grad)
    }

    /// `val_loss`/`val_accuracy` on the 5,000 held-out training images and
    /// `test_loss`/`test_accuracy` on the 10,000 test images; losses are mean cross-entropy in
    /// nats, accuracies fractions in 0..1.
    fn evaluate(&mut self, params: &[f32], _ctx: &EvalContext) -> Result<Metrics> {
        let val = self.tally(
            params,
            &self.data.train_images[TRAIN_SPLIT * PIXELS..],
            &self.data.train_labels[TRAIN_SPLIT..],
        )?;
        let test = self.tally(params, &self.data.test_images, &self.data.test_labels)?;
        let mut metrics = Metrics::new();
        metrics.insert("val_loss".into(), val.mean_loss());
        metrics.insert("val_accuracy".into(), val.accuracy());
        metrics.insert("test_loss".into(), test.mean_loss());
        metrics.insert("test_accuracy".into(), test.accuracy());
        Ok(metrics)
    }

    fn state(&self) -> TaskState {
        TaskState {
            words: vec![
                self.seed,
                self.batch_size as u64,
                self.epoch,
                self.cursor as u64,
            ],
            buffers: Vec::new(),
        }
    }

    fn load_state(&mut self, state: &TaskState) -> Result<()> {
        rng::check_state_words("mnist-classify", &state.words, 4, self.seed)?;
        let (batch_size, epoch, cursor) = (state.words[1], state.words[2], state.words[3]);
        if batch_size != self.batch_size as u64 {
            bail!(
                "mnist-classify: saved task state has batch size {batch_size}, this run {}; \
                 resume with the same batch_size",
                self.batch_size
            );
        }
        let cursor = usize::try_from(cursor).unwrap_or(usize::MAX);
        ensure!(
            (1..=self.batches_per_epoch()).contains(&cursor),
            "mnist-classify: saved task state has batch {cursor} of an epoch of {}; the \
             checkpoint is damaged",
            self.batches_per_epoch()
        );
        self.epoch = epoch;
        self.cursor = cursor;
        self.shuffle();
        self.fill_batch();
        Ok(())
    }
}

#[cfg(test)]
#[path = "mnist_classify_tests.rs"]
mod tests;
