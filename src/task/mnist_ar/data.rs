//! The mnist-ar data: which images train and validate, the order minibatches visit them, and the
//! query pixel of every example.
//!
//! The last [`VAL_IMAGES`] training images are held out for validation, as the authors do (docs/algorithm.md §8.3); the
//! rest train. By default minibatches are drawn without replacement from a seeded shuffle of the
//! training images, a new shuffle each epoch, dropping the incomplete last batch. The query pixel
//! of the example at position `k` of epoch `e` is the `k`-th draw of stream `e` of
//! [`Purpose::QueryPixels`]; each draw takes exactly two words of the stream, so the stream can
//! be positioned directly and the state is just (epoch, batch).
//!
//! With replacement (the authors' sampler: every image of every minibatch uniform over the
//! training images, independently), batch `t` takes its images from stream `t` of
//! [`Purpose::DataOrder`] and its query pixels from stream `t` of [`Purpose::QueryPixels`]; the
//! state is just `t`.

use anyhow::{Result, bail, ensure};
use rand::RngCore;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::input::Query;
use super::layout::PIXELS;
use crate::task::rng::{self, Purpose};

/// Training images held out for validation (the last ones).
pub const VAL_IMAGES: usize = 64;

/// A uniform pixel index from one 64-bit draw (multiply-shift; bias below 1e-16).
fn draw_query(rng: &mut ChaCha8Rng) -> Query {
    Query::from_index(((u128::from(rng.next_u64()) * PIXELS as u128) >> 64) as usize)
}

/// The fixed validation queries: query `k` asks about validation image `k mod 64` at a pixel
/// drawn from the seed. Returns (index into the validation images, query).
pub fn validation_queries(seed: u64, count: usize) -> Vec<(usize, Query)> {
    let mut rng = rng::stream(seed, Purpose::Validation, 0);
    (0..count)
        .map(|k| (k % VAL_IMAGES, draw_query(&mut rng)))
        .collect()
}

/// The position of the training stream: epoch and batch, and the epoch's image order.
#[derive(Clone, Debug)]
pub struct Stream {
    seed: u64,
    batch_size: usize,
    train_len: usize,
    epoch: u64,
    /// Batches drawn in this epoch; the current batch is number `cursor − 1`.
    cursor: usize,
    order: Vec<u32>,
    /// Draw with replacement: then `epoch` counts batches and `cursor` stays 1.
    replacement: bool,
}

/// The extra state word that marks a with-replacement stream.
const REPLACEMENT_WORD: u64 = 1;

impl Stream {
    /// A stream over `train_len` images, positioned at its first batch.
    pub fn new(seed: u64, batch_size: usize, train_len: usize) -> Result<Self> {
        ensure!(
            (1..=train_len).contains(&batch_size),
            "mnist-ar: batch_size {batch_size} is out of range 1..={train_len}"
        );
        let mut s = Self {
            seed,
            batch_size,
            train_len,
            epoch: 0,
            cursor: 1,
            order: Vec::new(),
            replacement: false,
        };
        s.shuffle();
        Ok(s)
    }

    /// A stream drawing every minibatch with replacement, positioned at its first batch.
    pub fn with_replacement(seed: u64, batch_size: usize, train_len: usize) -> Result<Self> {
        ensure!(
            batch_size >= 1 && train_len >= 1,
            "mnist-ar: batch_size {batch_size} over {train_len} images: both must be at least 1"
        );
        Ok(Self {
            seed,
            batch_size,
            train_len,
            epoch: 0,
            cursor: 1,
            order: Vec::new(),
            replacement: true,
        })
    }

    fn batches_per_epoch(&self) -> usize {
        self.train_len / self.batch_size
    }

    fn shuffle(&mut self) {
        if self.replacement {
            return;
        }
        self.order = (0..self.train_len as u32).collect();
        let mut rng = rng::stream(self.seed, Purpose::DataOrder, self.epoch);
        self.order.shuffle(&mut rng);
    }

    /// Moves to the next batch.
    pub fn advance(&mut self) {
        if self.replacement {
            self.epoch += 1;
            return;
        }
        if self.cursor == self.batches_per_epoch() {
            self.epoch += 1;
            self.cursor = 0;
            self.shuffle();
        }
        self.cursor += 1;
    }

    /// The current batch: (training image index, query) pairs.
    pub fn batch(&self) -> Vec<(usize, Query)> {
        if self.replacement {
            let mut images = rng::stream(self.seed, Purpose::DataOrder, self.epoch);
            let mut pixels = rng::stream(self.seed, Purpose::QueryPixels, self.epoch);
            let n = self.train_len as u128;
            return (0..self.batch_size)
                .map(|_| {
                    // Multiply-shift, as for the query pixels: bias below 1e-14.
                    let image = ((u128::from(images.next_u64()) * n) >> 64) as usize;
                    (image, draw_query(&mut pixels))
                })
                .collect();
        }
        let start = (self.cursor - 1) * self.batch_size;
        let mut rng = rng::stream(self.seed, Purpose::QueryPixels, self.epoch);
        rng.set_word_pos(2 * start as u128);
        self.order[start..start + self.batch_size]
            .iter()
            .map(|&i| (i as usize, draw_query(&mut rng)))
            .collect()
    }

    #[cfg(test)]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Seed, batch size, epoch, batch: all it takes to continue the identical stream.
    pub fn words(&self) -> Vec<u64> {
        let b = self.batch_size as u64;
        let mut words = vec![self.seed, b, self.epoch, self.cursor as u64];
        if self.replacement {
            words.push(REPLACEMENT_WORD);
        }
        words
    }

    pub fn restore(&mut self, words: &[u64]) -> Result<()> {
        let len = if self.replacement { 5 } else { 4 };
        rng::check_state_words("mnist-ar", words, len, self.seed)?;
        let (batch_size, epoch, cursor) = (words[1], words[2], words[3]);
        if batch_size != self.batch_size as u64 {
            bail!(
                "mnist-ar: saved task state has batch size {batch_size}, this run {}; resume \
                 with the same batch_size",
                self.batch_size
            );
        }
        let cursor = usize::try_from(cursor).unwrap_or(usize::MAX);
        if self.replacement {
            ensure!(
                cursor == 1 && words[4] == REPLACEMENT_WORD,
                "mnist-ar: saved task state is not of a with-replacement stream; the checkpoint \
                 is damaged"
            );
            self.epoch = epoch;
            return Ok(());
        }
        ensure!(
            (1..=self.batches_per_epoch()).contains(&cursor),
            "mnist-ar: saved task state has batch {cursor} of an epoch of {}; the checkpoint \
             is damaged",
            self.batches_per_epoch()
        );
        self.epoch = epoch;
        self.cursor = cursor;
        self.shuffle();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn an_epoch_visits_every_image_once_then_reshuffles() {
        let mut s = Stream::new(3, 10, 35).expect("stream");
        let mut seen = HashSet::new();
        let mut first = Vec::new();
        for b in 0..3 {
            let batch = s.batch();
            assert_eq!(batch.len(), 10);
            if b == 0 {
                first = batch.clone();
            }
            seen.extend(batch.iter().map(|&(i, _)| i));
            s.advance();
        }
        // 35 images, batches of 10: 3 batches, 30 distinct images, the last 5 dropped.
        assert_eq!(seen.len(), 30);
        assert!(seen.iter().all(|&i| i < 35));
        assert_eq!(s.epoch(), 1);
        assert_ne!(s.batch(), first);
    }

    #[test]
    fn query_pixels_cover_the_image_uniformly() {
        let queries = validation_queries(1, 78_400);
        let mut counts = vec![0usize; PIXELS];
        for &(img, q) in &queries {
            assert!(img < VAL_IMAGES);
            counts[q.row * 28 + q.col] += 1;
        }
        // 100 expected per pixel; a binomial count is within ±50 with probability > 1 − 1e-6.
        assert!(
            counts.iter().all(|&c| (50..=150).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(
            queries[..64].iter().map(|q| q.0).collect::<Vec<_>>(),
            (0..64).collect::<Vec<_>>()
        );
        assert_eq!(validation_queries(1, 100), queries[..100]);
    }

    #[test]
    fn with_replacement_draws_repeat_images_deterministically_per_seed() {
        // 8 draws from 10 images: a batch without a repeat has probability 10!/(2!·10⁸) ≈ 0.018,
        // so among 20 seeded batches repeats are all but certain; the draws are fixed by the seed.
        let batches = |seed| {
            let mut s = Stream::with_replacement(seed, 8, 10).expect("stream");
            (0..20)
                .map(|_| {
                    let b = s.batch();
                    s.advance();
                    b
                })
                .collect::<Vec<_>>()
        };
        let a = batches(4);
        assert_eq!(a, batches(4));
        assert_ne!(a, batches(5));
        let repeats = a
            .iter()
            .filter(|b| b.iter().map(|&(i, _)| i).collect::<HashSet<_>>().len() < b.len())
            .count();
        assert!(repeats > 0);
        // Uniform over the images: 160 draws, every image drawn (each is missed with probability
        // 0.9^160 ≈ 5e-8).
        let seen: HashSet<usize> = a.iter().flatten().map(|&(i, _)| i).collect();
        assert_eq!(seen.len(), 10);
        // Consecutive batches differ, and the state continues the identical stream.
        assert_ne!(a[0], a[1]);
        let mut s = Stream::with_replacement(4, 8, 10).expect("stream");
        for _ in 0..7 {
            s.advance();
        }
        let mut t = Stream::with_replacement(4, 8, 10).expect("stream");
        t.restore(&s.words()).expect("restore");
        assert_eq!(t.batch(), a[7]);
        // An epoch stream's state is refused by name.
        let epochs = Stream::new(4, 8, 10).expect("stream");
        let err = t.restore(&epochs.words()).unwrap_err().to_string();
        assert!(err.contains("has 4 words, expected 5"), "{err}");
    }

    #[test]
    fn state_restores_the_identical_stream() {
        let mut a = Stream::new(9, 7, 50).expect("stream");
        for _ in 0..9 {
            a.advance();
        }
        let words = a.words();
        let mut b = Stream::new(9, 7, 50).expect("stream");
        b.restore(&words).expect("restore");
        for _ in 0..20 {
            assert_eq!(a.batch(), b.batch());
            a.advance();
            b.advance();
        }
        let mut other_seed = Stream::new(8, 7, 50).expect("stream");
        let err = other_seed.restore(&words).unwrap_err().to_string();
        assert!(err.contains("seed 9"), "{err}");
        let mut other_batch = Stream::new(9, 5, 50).expect("stream");
        let err = other_batch.restore(&words).unwrap_err().to_string();
        assert!(err.contains("batch size 7"), "{err}");
    }
}
