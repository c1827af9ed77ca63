//! The network's 5-channel input for one image and one query pixel (docs/algorithm.md §8.3).
//!
//! The query pixel `(r, c)` is to be predicted from the pixels before it in raster order: pixel
//! `(i, j)` is visible iff `i < r`, or `i == r` and `j < c`. Per pixel, NHWC, the channels are
//! 0. visible intensity / 256, 0 where hidden;
//! 1. `2·[j ≤ c] − 1` (which columns are at or left of the query column);
//! 2. `2·visible − 1`;
//! 3. `2·i/28 − 1` and 4. `2·j/28 − 1` (position).

use rayon::prelude::*;

use super::layout::{IN_CH, PIXELS, SIDE};

/// The pixel to predict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub row: usize,
    pub col: usize,
}

impl Query {
    /// The query for raster index `p` (0..784).
    pub fn from_index(p: usize) -> Self {
        Self {
            row: p / SIDE,
            col: p % SIDE,
        }
    }

    /// The class the network must predict: the query pixel's 8-bit intensity.
    pub fn target(self, image: &[u8]) -> usize {
        image[self.row * SIDE + self.col] as usize
    }
}

/// Writes the `28·28·5` input values of `image` (784 intensities) for `query` into `out`.
pub fn fill(image: &[u8], query: Query, out: &mut [f32]) {
    assert_eq!(image.len(), PIXELS, "an image has {PIXELS} pixels");
    assert_eq!(out.len(), PIXELS * IN_CH, "input buffer size");
    let Query { row: r, col: c } = query;
    for i in 0..SIDE {
        for j in 0..SIDE {
            let p = i * SIDE + j;
            let visible = i < r || (i == r && j < c);
            let sign = |b: bool| if b { 1.0 } else { -1.0 };
            let px = &mut out[p * IN_CH..(p + 1) * IN_CH];
            px[0] = if visible {
                f32::from(image[p]) / 256.0
            } else {
                0.0
            };
            px[1] = sign(j <= c);
            px[2] = sign(visible);
            px[3] = 2.0 * i as f32 / SIDE as f32 - 1.0;
            px[4] = 2.0 * j as f32 / SIDE as f32 - 1.0;
        }
    }
}

/// The network inputs and targets of a minibatch of (image, query) pairs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// `len · 784 · 5` values, image-major NHWC.
    pub inputs: Vec<f32>,
    /// The query pixels' intensities.
    pub targets: Vec<usize>,
}

impl Batch {
    pub fn new(items: &[(&[u8], Query)]) -> Self {
        let mut inputs = vec![0.0; items.len() * PIXELS * IN_CH];
        inputs
            .par_chunks_mut(PIXELS * IN_CH)
            .zip(items)
            .for_each(|(out, &(image, q))| fill(image, q, out));
        let targets = items.iter().map(|&(image, q)| q.target(image)).collect();
        Self { inputs, targets }
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels(out: &[f32], i: usize, j: usize) -> [f32; 5] {
        let p = (i * SIDE + j) * IN_CH;
        out[p..p + IN_CH].try_into().expect("5 channels")
    }

    /// Image with intensity (i·28 + j) mod 256; query (1, 2). Expected values worked out by hand
    /// from the channel definitions in docs/algorithm.md §8.3.
    #[test]
    fn hand_checked_example() {
        let image: Vec<u8> = (0..PIXELS).map(|p| (p % 256) as u8).collect();
        let mut out = vec![f32::NAN; PIXELS * IN_CH];
        let q = Query { row: 1, col: 2 };
        fill(&image, q, &mut out);
        // (0,5): row above the query, visible; column 5 > 2.
        assert_eq!(
            channels(&out, 0, 5),
            [5.0 / 256.0, -1.0, 1.0, -1.0, 10.0 / 28.0 - 1.0]
        );
        // (1,1): same row, left of the query: visible; column 1 ≤ 2.
        assert_eq!(
            channels(&out, 1, 1),
            [29.0 / 256.0, 1.0, 1.0, 2.0 / 28.0 - 1.0, 2.0 / 28.0 - 1.0]
        );
        // (1,2): the query pixel itself is hidden; its column counts as ≤ c.
        assert_eq!(
            channels(&out, 1, 2),
            [0.0, 1.0, -1.0, 2.0 / 28.0 - 1.0, 4.0 / 28.0 - 1.0]
        );
        // (1,3) hidden, right of the query column.
        assert_eq!(
            channels(&out, 1, 3),
            [0.0, -1.0, -1.0, 2.0 / 28.0 - 1.0, 6.0 / 28.0 - 1.0]
        );
        // (27,27): last pixel, hidden; intensity 783 mod 256 = 15 must not leak.
        assert_eq!(
            channels(&out, 27, 27),
            [0.0, -1.0, -1.0, 54.0 / 28.0 - 1.0, 54.0 / 28.0 - 1.0]
        );
        assert_eq!(q.target(&image), 30);
        // Exactly 1·28 + 2 = 30 visible pixels.
        let visible = (0..PIXELS).filter(|&p| out[p * IN_CH + 2] > 0.0).count();
        assert_eq!(visible, 30);
    }

    #[test]
    fn first_pixel_sees_nothing() {
        let image = vec![200u8; PIXELS];
        let mut out = vec![0.0; PIXELS * IN_CH];
        fill(&image, Query::from_index(0), &mut out);
        assert!((0..PIXELS).all(|p| out[p * IN_CH] == 0.0 && out[p * IN_CH + 2] == -1.0));
        assert_eq!(Query::from_index(783), Query { row: 27, col: 27 });
    }
}
