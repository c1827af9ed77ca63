//! The network's shape and where each weight and bias tensor lives in the flat parameter vector.
//!
//! Order: stem (1×1 conv 5→20), then 20 residual blocks (5 stages × 4) each holding
//! conv1 (1×1, 20→40), depthwise (3×3, ×3, 40→120), conv2 (1×1, 120→20), then the dense 20→256.
//! Every weight is stored `[input][output]` row-major, so a 1×1 conv is `x (rows×in) · W`.
//! The depthwise filter uses TensorFlow's `[kh][kw][in][multiplier]` order, i.e. `[tap][o]` with
//! output channel `o = c·3 + m` reading input channel `c = o / 3`.

use std::ops::Range;

use rand_distr::{Distribution, Normal};

use crate::task::Layer;
use crate::task::rng::{self, Purpose};

/// Image side.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// Input channels built per pixel.
pub const IN_CH: usize = 5;
/// Channels of the residual stream.
pub const WIDTH: usize = 20;
/// Channels after each block's first 1×1 conv.
pub const HIDDEN: usize = 40;
/// Depthwise channel multiplier.
pub const MULT: usize = 3;
/// Channels after the depthwise conv.
pub const DW_CH: usize = HIDDEN * MULT;
/// Taps of a 3×3 filter.
pub const TAPS: usize = 9;
/// Softmax classes: the 8-bit intensities.
pub const CLASSES: usize = 256;
/// Pooling stages (28→14→7→4→2→1).
pub const STAGES: usize = 5;
/// Residual blocks per stage.
pub const BLOCKS_PER_STAGE: usize = 4;
/// Residual blocks in total.
pub const BLOCKS: usize = STAGES * BLOCKS_PER_STAGE;

/// Offsets inside one block's parameter slice.
pub mod block {
    use super::{DW_CH, HIDDEN, TAPS, WIDTH};
    pub const CONV1_W: usize = 0;
    pub const CONV1_B: usize = CONV1_W + WIDTH * HIDDEN;
    pub const DW_W: usize = CONV1_B + HIDDEN;
    pub const DW_B: usize = DW_W + TAPS * DW_CH;
    pub const CONV2_W: usize = DW_B + DW_CH;
    pub const CONV2_B: usize = CONV2_W + DW_CH * WIDTH;
    /// Parameters per residual block.
    pub const LEN: usize = CONV2_B + WIDTH;
}

pub const STEM_W: usize = 0;
pub const STEM_B: usize = STEM_W + IN_CH * WIDTH;
/// Start of the first residual block.
pub const BLOCKS_START: usize = STEM_B + WIDTH;
pub const DENSE_W: usize = BLOCKS_START + BLOCKS * block::LEN;
pub const DENSE_B: usize = DENSE_W + WIDTH * CLASSES;
/// Total parameter count (94,696 in the paper).
pub const PARAM_COUNT: usize = DENSE_B + CLASSES;

/// The parameter range of residual block `k` (0..20, in forward order).
pub fn block_range(k: usize) -> Range<usize> {
    let start = BLOCKS_START + k * block::LEN;
    start..start + block::LEN
}

/// One weight or bias tensor: its name, range and the fan-in its initialization uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub range: Range<usize>,
    pub fan_in: usize,
}

/// Every tensor in flat-vector order; the ranges tile `0..PARAM_COUNT`.
pub fn tensors() -> Vec<TensorInfo> {
    let mut out = Vec::new();
    let mut push = |name: String, start: usize, len: usize, fan_in: usize| {
        out.push(TensorInfo {
            name,
            range: start..start + len,
            fan_in,
        });
    };
    push("stem.weight".into(), STEM_W, IN_CH * WIDTH, IN_CH);
    push("stem.bias".into(), STEM_B, WIDTH, IN_CH);
    for k in 0..BLOCKS {
        let base = block_range(k).start;
        let prefix = format!(
            "stage{}.block{}",
            k / BLOCKS_PER_STAGE,
            k % BLOCKS_PER_STAGE
        );
        let parts = [
            ("conv1.weight", block::CONV1_W, WIDTH * HIDDEN, WIDTH),
            ("conv1.bias", block::CONV1_B, HIDDEN, WIDTH),
            ("depthwise.weight", block::DW_W, TAPS * DW_CH, TAPS),
            ("depthwise.bias", block::DW_B, DW_CH, TAPS),
            ("conv2.weight", block::CONV2_W, DW_CH * WIDTH, DW_CH),
            ("conv2.bias", block::CONV2_B, WIDTH, DW_CH),
        ];
        for (name, offset, len, fan_in) in parts {
            push(format!("{prefix}.{name}"), base + offset, len, fan_in);
        }
    }
    push("dense.weight".into(), DENSE_W, WIDTH * CLASSES, WIDTH);
    push("dense.bias".into(), DENSE_B, CLASSES, WIDTH);
    out
}

/// The tensors as `Layer`s for the optimizers (LARS).
pub fn layers() -> Vec<Layer> {
    tensors()
        .into_iter()
        .map(|t| Layer {
            name: t.name,
            range: t.range,
        })
        .collect()
}

/// Seeded initialization: every weight and bias normal with std 1/√(fan_in + 1) (the +1 counts
/// the bias as one more input), as docs/algorithm.md §8.3 prescribes.
pub fn init_params(seed: u64) -> Vec<f32> {
    let mut rng = rng::stream(seed, Purpose::InitParams, 0);
    let mut params = vec![0.0f32; PARAM_COUNT];
    for t in tensors() {
        let std = 1.0 / ((t.fan_in + 1) as f32).sqrt();
        let normal = Normal::new(0.0, std).expect("std is finite and positive");
        for p in &mut params[t.range] {
            *p = normal.sample(&mut rng);
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper states 94,696 parameters; by hand: stem 5·20+20 = 120; each block
    /// 20·40+40 + 9·120+120 + 120·20+20 = 4,460, times 20 = 89,200; dense 20·256+256 = 5,376.
    #[test]
    fn parameter_count_is_the_papers() {
        assert_eq!(block::LEN, 4_460);
        assert_eq!(PARAM_COUNT, 94_696);
        assert_eq!(120 + 20 * 4_460 + 5_376, 94_696);
    }

    #[test]
    fn tensors_tile_the_vector_and_have_unique_names() {
        let ts = tensors();
        assert_eq!(ts.len(), 2 + BLOCKS * 6 + 2);
        let mut next = 0;
        for t in &ts {
            assert_eq!(t.range.start, next, "{}", t.name);
            next = t.range.end;
        }
        assert_eq!(next, PARAM_COUNT);
        let mut names: Vec<_> = ts.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ts.len());
        assert_eq!(ts[2].name, "stage0.block0.conv1.weight");
        assert_eq!(ts[ts.len() - 3].name, "stage4.block3.conv2.bias");
    }

    #[test]
    fn init_is_seeded_with_the_stated_std() {
        let a = init_params(7);
        assert_eq!(a, init_params(7));
        assert_ne!(a, init_params(8));
        // conv2 weights of all blocks: 48,000 samples of N(0, 1/121); sample std within 2%.
        let mut sum_sq = 0.0f64;
        let mut count = 0usize;
        for t in tensors()
            .iter()
            .filter(|t| t.name.ends_with("conv2.weight"))
        {
            for &p in &a[t.range.clone()] {
                sum_sq += (p as f64).powi(2);
                count += 1;
            }
        }
        let std = (sum_sq / count as f64).sqrt();
        assert!((std - 1.0 / 11.0).abs() < 0.02 / 11.0, "std {std}");
    }
}
