//! A one-hidden-layer ReLU perceptron on dfdx, with all parameters in one flat vector.
//!
//! The flat vector becomes one rank-1 tensor; the forward pass slices and reshapes it into the
//! weight matrices and bias vectors, so backpropagation delivers the gradient as one flat vector
//! in the same layout, which is what the optimizers take. Layout, in order:
//! `hidden.weight` (`inputs × hidden`, row-major, so the layer is `x · W`), `hidden.bias`,
//! `output.weight` (`hidden × classes`), `output.bias`.
//!
//! Generic over the float type so the gradient can be checked against finite differences in f64
//! on the very code that trains in f32.

use std::ops::Range;

use anyhow::{Result, ensure};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::shapes::{Axis, Dtype, HasShape};
use dfdx::tensor::{AsArray, Cpu, OwnedTape, Tape, Tensor, TensorFromVec};
use dfdx::tensor_ops::{Backward, BroadcastTo, Device, ReshapeTo, TryMatMul};
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::Layer;

/// The float types the model runs in: f32 for training, f64 for gradient checks.
pub trait Float: Dtype {
    fn of(v: f64) -> Self;
    fn wide(self) -> f64;
}

impl Float for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn wide(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn wide(self) -> f64 {
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mlp {
    pub inputs: usize,
    pub hidden: usize,
    pub classes: usize,
}

/// Loss summed over examples and the number classified correctly.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub loss_sum: f64,
    pub correct: usize,
    pub count: usize,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
    }

    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.count.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.count.max(1) as f64
    }
}

impl Mlp {
    fn ranges(&self) -> [Range<usize>; 4] {
        let w1 = self.inputs * self.hidden;
        let b1 = w1 + self.hidden;
        let w2 = b1 + self.hidden * self.classes;
        [0..w1, w1..b1, b1..w2, w2..w2 + self.classes]
    }

    pub fn dim(&self) -> usize {
        self.ranges()[3].end
    }

    pub fn layers(&self) -> Vec<Layer> {
        let names = [
            "hidden.weight",
            "hidden.bias",
            "output.weight",
            "output.bias",
        ];
        names
            .iter()
            .zip(self.ranges())
            .map(|(name, range)| Layer {
                name: (*name).into(),
                range,
            })
            .collect()
    }

    /// Weights `N(0, 1/fan_in)` (LeCun normal: unit-variance inputs give unit-variance
    /// pre-activations), biases 0.
    pub fn init(&self, rng: &mut impl Rng) -> Vec<f32> {
        let mut out = vec![0.0; self.dim()];
        let [w1, _, w2, _] = self.ranges();
        for (range, fan_in) in [(w1, self.inputs), (w2, self.hidden)] {
            let normal = Normal::new(0.0, 1.0 / (fan_in as f32).sqrt())
                .expect("a positive finite standard deviation");
            out[range].iter_mut().for_each(|w| *w = normal.sample(rng));
        }
        out
    }

    /// Logits `(batch, classes)` for inputs `x` `(batch, inputs)`; `T` decides whether the
    /// operations are recorded for backpropagation.
    fn logits<E, T>(
        &self,
        params: &Tensor<(usize,), E, Cpu>,
        x: Tensor<(usize, usize), E, Cpu, T>,
    ) -> Tensor<(usize, usize), E, Cpu, T>
    where
        E: Float,
        Cpu: Device<E>,
        T: Tape<E, Cpu>,
    {
        let batch = x.shape().0;
        let [w1, b1, w2, b2] = self.ranges();
        // Each slice records its own backward op writing into the flat gradient; the slices are
        // disjoint (dfdx's slice backward assigns rather than adds, so each must be used once).
        let take = |range: Range<usize>| params.retaped::<T>().slice((range,));
        let w1 = take(w1).reshape_like(&(self.inputs, self.hidden));
        let b1 = take(b1).broadcast_like::<_, Axis<0>>(&(batch, self.hidden));
        let w2 = take(w2).reshape_like(&(self.hidden, self.classes));
        let b2 = take(b2).broadcast_like::<_, Axis<0>>(&(batch, self.classes));
        let hidden = (x.matmul(w1) + b1).relu();
        hidden.matmul(w2) + b2
    }

    fn check(&self, params: usize, x: usize, labels: &[u8]) -> Result<()> {
        ensure!(
            params == self.dim(),
            "mlp: {params} parameters, expected {}",
            self.dim()
        );
        ensure!(
            x == labels.len() * self.inputs,
            "mlp: {x} input values for {} labels of {} inputs each",
            labels.len(),
            self.inputs
        );
        ensure!(
            labels.iter().all(|&l| usize::from(l) < self.classes),
            "mlp: a label is not below {} classes",
            self.classes
        );
        Ok(())
    }

    /// Mean cross-entropy (nats) over the batch and its gradient with respect to `params`.
    pub fn loss_and_grad<E>(
        &self,
        dev: &Cpu,
        params: &[E],
        x: Vec<E>,
        labels: &[u8],
        grad: &mut [E],
    ) -> Result<E>
    where
        E: Float,
        Cpu: Device<E>,
    {
        self.check(params.len(), x.len(), labels)?;
        ensure!(
            grad.len() == params.len(),
            "mlp: gradient buffer has the wrong length"
        );
        let batch = labels.len();
        let p = dev.tensor_from_vec(params.to_vec(), (params.len(),));
        let x = dev
            .tensor_from_vec(x, (batch, self.inputs))
            .retaped::<OwnedTape<E, Cpu>>();
        let mut onehot = vec![E::of(0.0); batch * self.classes];
        for (i, &l) in labels.iter().enumerate() {
            onehot[i * self.classes + usize::from(l)] = E::of(1.0);
        }
        let targets = dev.tensor_from_vec(onehot, (batch, self.classes));
        let loss = cross_entropy_with_logits_loss(self.logits(&p, x), targets);
        let value = loss.array();
        let grads = loss.backward();
        grad.copy_from_slice(&grads.get(&p).as_vec());
        Ok(value)
    }

    /// Loss and accuracy on a batch, without recording a tape.
    pub fn tally<E>(&self, dev: &Cpu, params: &[E], x: Vec<E>, labels: &[u8]) -> Result<Tally>
    where
        E: Float,
        Cpu: Device<E>,
    {
        self.check(params.len(), x.len(), labels)?;
        let p = dev.tensor_from_vec(params.to_vec(), (params.len(),));
        let x = dev.tensor_from_vec(x, (labels.len(), self.inputs));
        let logits = self.logits(&p, x).as_vec();
        let mut tally = Tally {
            count: labels.len(),
            ..Tally::default()
        };
        for (row, &label) in logits.chunks_exact(self.classes).zip(labels) {
            let row: Vec<f64> = row.iter().map(|v| Float::wide(*v)).collect();
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            tally.loss_sum += log_sum - row[usize::from(label)];
            let best = (0..self.classes)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            tally.correct += usize::from(best == usize::from(label));
        }
        Ok(tally)
    }
}

#[cfg(test)]
#[path = "mlp_tests.rs"]
mod tests;
