//! 2×2 average pooling, stride 2, TensorFlow "SAME" padding: the output is ⌈h/2⌉ × ⌈w/2⌉; an odd
//! side is padded by one cell at the bottom/right (TF puts the extra padding after), and padded
//! cells are not counted in the average (so the last row/column of 7→4 averages 2 or 1 cells).

use anyhow::Result;
use dfdx::prelude::{Cpu, Tape};
use rayon::prelude::*;

use super::buffers;
use super::tape::{self, Flat, InputGrad, Params};

/// Output side for input side `n`.
pub fn pooled(n: usize) -> usize {
    n.div_ceil(2)
}

/// Input cells covered by output index `o` along a side of length `n`: `2o .. min(2o+2, n)`.
fn span(o: usize, n: usize) -> std::ops::Range<usize> {
    2 * o..(2 * o + 2).min(n)
}

/// Pools one `h × w × c` image into `y` (`⌈h/2⌉ × ⌈w/2⌉ × c`).
pub fn forward_image(x: &[f32], h: usize, w: usize, c: usize, y: &mut [f32]) {
    let wo = pooled(w);
    for io in 0..pooled(h) {
        for jo in 0..wo {
            let out = &mut y[(io * wo + jo) * c..(io * wo + jo + 1) * c];
            out.fill(0.0);
            let (rows, cols) = (span(io, h), span(jo, w));
            let scale = 1.0 / (rows.len() * cols.len()) as f32;
            for i in rows {
                for j in cols.clone() {
                    for (o, v) in out.iter_mut().zip(&x[(i * w + j) * c..(i * w + j + 1) * c]) {
                        *o += v;
                    }
                }
            }
            out.iter_mut().for_each(|o| *o *= scale);
        }
    }
}

/// Writes the input gradient of one image into `dx` given the output gradient `dy`.
pub fn backward_image(dy: &[f32], h: usize, w: usize, c: usize, dx: &mut [f32]) {
    let wo = pooled(w);
    for i in 0..h {
        for j in 0..w {
            let (io, jo) = (i / 2, j / 2);
            let count = span(io, h).len() * span(jo, w).len();
            let scale = 1.0 / count as f32;
            let g = &dy[(io * wo + jo) * c..(io * wo + jo + 1) * c];
            for (d, v) in dx[(i * w + j) * c..(i * w + j + 1) * c].iter_mut().zip(g) {
                *d = v * scale;
            }
        }
    }
}

/// The pooling op on a batch of `batch` images of `h × w × c`.
pub fn pool<T: Tape<f32, Cpu>>(
    x: Flat<T>,
    (batch, h, w, c): (usize, usize, usize, usize),
    params: &Params,
) -> Result<Flat<T>> {
    let (ho, wo) = (pooled(h), pooled(w));
    let (in_len, out_len) = (h * w * c, ho * wo * c);
    let xs = tape::values(&x);
    let mut y = buffers::take(batch * out_len);
    y.par_chunks_mut(out_len)
        .zip(xs.par_chunks(in_len))
        .for_each(|(y, x)| forward_image(x, h, w, c, y));
    buffers::give(xs);
    tape::record(x, y, params, InputGrad::Write, move |g| {
        g.input
            .par_chunks_mut(in_len)
            .zip(g.output.par_chunks(out_len))
            .for_each(|(dx, dy)| backward_image(dy, h, w, c, dx));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 7×7 ramp x[i][j] = 7i + j. The 4×4 SAME output averages rows {2io, 2io+1} ∩ [0, 7) and
    /// likewise columns, so out = 7·r̄ + c̄ with r̄, c̄ ∈ {0.5, 2.5, 4.5, 6} (the last row/column
    /// covers only index 6 because the padded cell is not counted).
    #[test]
    fn seven_by_seven_ramp_gives_the_tf_same_values() {
        let x: Vec<f32> = (0..49).map(|v| v as f32).collect();
        let mut y = vec![f32::NAN; 16];
        forward_image(&x, 7, 7, 1, &mut y);
        #[rustfmt::skip]
        let want = [
             4.0,  6.0,  8.0,  9.5, // 7·0.5 + {0.5, 2.5, 4.5, 6}
            18.0, 20.0, 22.0, 23.5, // 7·2.5 + …
            32.0, 34.0, 36.0, 37.5, // 7·4.5 + …
            42.5, 44.5, 46.5, 48.0, // 7·6   + …
        ];
        for (g, w) in y.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{y:?}");
        }
    }

    #[test]
    fn sides_follow_the_paper() {
        let mut n = 28;
        let mut sides = vec![n];
        for _ in 0..5 {
            n = pooled(n);
            sides.push(n);
        }
        assert_eq!(sides, [28, 14, 7, 4, 2, 1]);
    }

    /// Pooling is linear, so for L = Σ y ⊙ u central differences are exact up to rounding.
    #[test]
    fn backward_matches_central_differences() {
        let (h, w, c) = (7, 5, 3);
        let x: Vec<f32> = (0..h * w * c)
            .map(|k| ((k * 37) % 11) as f32 - 5.0)
            .collect();
        let u: Vec<f32> = (0..pooled(h) * pooled(w) * c)
            .map(|k| ((k * 13) % 7) as f32 - 3.0)
            .collect();
        let loss = |x: &[f32]| -> f64 {
            let mut y = vec![0.0; u.len()];
            forward_image(x, h, w, c, &mut y);
            y.iter().zip(&u).map(|(&a, &b)| a as f64 * b as f64).sum()
        };
        let mut dx = vec![f32::NAN; x.len()];
        backward_image(&u, h, w, c, &mut dx);
        for k in 0..x.len() {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[k] += 0.5;
            xm[k] -= 0.5;
            let fd = (loss(&xp) - loss(&xm)) / 1.0;
            assert!((fd - dx[k] as f64).abs() < 1e-4, "{k}: {fd} vs {}", dx[k]);
        }
    }
}
