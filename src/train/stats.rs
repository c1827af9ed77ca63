//! Per-lane running statistics for the end-of-run summary, in bounded memory however long the
//! run: best/final loss, the mean loss over the last 10% of steps, median task and optimizer time
//! per step, and throughput.

use serde::{Deserialize, Serialize};

use crate::task::Metrics;

/// Loss history as block sums: exact (one loss per block) for the first `CAP` steps, then blocks
/// merge pairwise, so a tail mean stays accurate to a fraction 1/CAP of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossHistory {
    blocks: Vec<f64>,
    block_len: u64,
    partial_sum: f64,
    partial_len: u64,
}

impl LossHistory {
    const CAP: usize = 1 << 17;

    pub fn push(&mut self, loss: f32) {
        if self.block_len == 0 {
            self.block_len = 1;
        }
        self.partial_sum += loss as f64;
        self.partial_len += 1;
        if self.partial_len == self.block_len {
            self.blocks.push(self.partial_sum);
            self.partial_sum = 0.0;
            self.partial_len = 0;
            if self.blocks.len() == Self::CAP {
                self.blocks = self
                    .blocks
                    .chunks(2)
                    .map(|pair| pair.iter().sum())
                    .collect();
                self.block_len *= 2;
            }
        }
    }

    pub fn len(&self) -> u64 {
        self.blocks.len() as u64 * self.block_len + self.partial_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Mean of the last `ceil(fraction · len)` losses (at least one); NaN when empty.
    pub fn tail_mean(&self, fraction: f64) -> f64 {
        let n = self.len();
        if n == 0 {
            return f64::NAN;
        }
        let want = ((n as f64 * fraction).ceil() as u64).clamp(1, n);
        let (mut sum, mut count) = (self.partial_sum, self.partial_len);
        if count >= want {
            // The window lies inside the unfinished block, whose single losses are gone.
            return sum / count as f64;
        }
        for &block in self.blocks.iter().rev() {
            let missing = want - count;
            if missing >= self.block_len {
                sum += block;
                count += self.block_len;
            } else {
                sum += block * missing as f64 / self.block_len as f64;
                count += missing;
            }
            if count == want {
                break;
            }
        }
        sum / count as f64
    }
}

/// Log-spaced histogram of durations in milliseconds (100 bins per decade, 1e-4 ms .. 1e6 ms):
/// a median to ~2% in constant memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DurationHistogram {
    counts: Vec<u64>,
}

impl Default for DurationHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; Self::BINS],
        }
    }
}

impl DurationHistogram {
    const PER_DECADE: f64 = 100.0;
    const MIN_LOG10: f64 = -4.0;
    const BINS: usize = 1000;

    pub fn add_ms(&mut self, ms: f64) {
        let pos = (ms.max(1e-12).log10() - Self::MIN_LOG10) * Self::PER_DECADE;
        let bin = (pos.max(0.0) as usize).min(Self::BINS - 1);
        self.counts[bin] += 1;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The median (geometric centre of its bin); NaN when empty.
    pub fn median_ms(&self) -> f64 {
        let total = self.count();
        if total == 0 {
            return f64::NAN;
        }
        let mut seen = 0;
        for (bin, &c) in self.counts.iter().enumerate() {
            seen += c;
            if 2 * seen >= total {
                return 10f64.powf(Self::MIN_LOG10 + (bin as f64 + 0.5) / Self::PER_DECADE);
            }
        }
        f64::NAN
    }
}

/// Everything the summary reports about one lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneStats {
    pub final_loss: f32,
    pub best_loss: f32,
    pub losses: LossHistory,
    pub task_ms: DurationHistogram,
    pub optimizer_ms: DurationHistogram,
    /// Steps since this process started, and the wall time they took: the iterations the lane
    /// stepped in and the pace's waits between them, not pauses (throughput is per session).
    #[serde(skip)]
    pub session_steps: u64,
    #[serde(skip)]
    pub session_s: f64,
    /// The divergence guard tripped at least once.
    pub diverged: bool,
    /// The latest evaluation metrics.
    pub metrics: Metrics,
    pub metrics_step: Option<u64>,
}

impl Default for LaneStats {
    fn default() -> Self {
        Self {
            final_loss: f32::NAN,
            best_loss: f32::NAN,
            losses: LossHistory::default(),
            task_ms: DurationHistogram::default(),
            optimizer_ms: DurationHistogram::default(),
            session_steps: 0,
            session_s: 0.0,
            diverged: false,
            metrics: Metrics::new(),
            metrics_step: None,
        }
    }
}

impl LaneStats {
    pub fn record_step(&mut self, loss: f32, task_ms: f64, optimizer_ms: f64) {
        self.final_loss = loss;
        if self.best_loss.is_nan() || loss < self.best_loss {
            self.best_loss = loss;
        }
        self.losses.push(loss);
        self.task_ms.add_ms(task_ms);
        self.optimizer_ms.add_ms(optimizer_ms);
        self.session_steps += 1;
    }

    pub fn steps_per_s(&self) -> f64 {
        if self.session_s > 0.0 {
            self.session_steps as f64 / self.session_s
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_mean_is_exact_for_short_histories() {
        let mut h = LossHistory::default();
        for i in 1..=100 {
            h.push(i as f32);
        }
        // Last 10 of 1..=100: mean of 91..=100 = 95.5.
        assert_eq!(h.tail_mean(0.1), 95.5);
        // 10% of 5 rounds up to one loss.
        let mut short = LossHistory::default();
        for i in 1..=5 {
            short.push(i as f32);
        }
        assert_eq!(short.tail_mean(0.1), 5.0);
        assert!(LossHistory::default().tail_mean(0.1).is_nan());
    }

    #[test]
    fn tail_mean_stays_accurate_after_blocks_merge() {
        let mut h = LossHistory::default();
        let n = LossHistory::CAP as u64 * 3 + 12_345;
        for i in 0..n {
            h.push(i as f32);
        }
        assert_eq!(h.len(), n);
        assert!(h.blocks.len() < LossHistory::CAP);
        // Exact value: mean of the last k integers below n.
        let k = (n as f64 * 0.1).ceil();
        let exact = (n as f64 - 1.0) - (k - 1.0) / 2.0;
        let got = h.tail_mean(0.1);
        // f32 rounding of large integers (spacing ≤ 0.25 below 2^22) bounds the error.
        assert!((got - exact).abs() / exact < 1e-5, "{got} vs {exact}");
    }

    #[test]
    fn histogram_median_within_bin_resolution() {
        let mut h = DurationHistogram::default();
        for ms in [0.5, 1.0, 2.0, 3.0, 40.0] {
            h.add_ms(ms);
        }
        // Median 2.0 ms; bins are 10^(1/100) ≈ 2.3% wide.
        assert!(
            (h.median_ms() / 2.0 - 1.0).abs() < 0.025,
            "{}",
            h.median_ms()
        );
        assert!(DurationHistogram::default().median_ms().is_nan());
        // Out-of-range values land in the end bins rather than panicking.
        h.add_ms(0.0);
        h.add_ms(1e12);
        assert_eq!(h.count(), 7);
    }

    #[test]
    fn best_and_final_loss() {
        let mut s = LaneStats::default();
        for loss in [3.0, 1.0, 2.0] {
            s.record_step(loss, 1.0, 1.0);
        }
        assert_eq!((s.best_loss, s.final_loss), (1.0, 2.0));
    }
}
