//! Fused element-wise passes around the atan activations, over NHWC rows; the `_pad` variants
//! write one image into the zero-bordered layout the depthwise convolution reads.

use super::atan::{atan_slice, mul_grad, mul_grad_into};
use super::depthwise::pad_rows;
use super::layout::{DW_CH, HIDDEN};

/// For one `h × w` image: `z += bias` (40 channels) and the padded `out = atan(z)`.
pub fn bias_atan_pad(z: &mut [f32], bias: &[f32], hw: (usize, usize), out: &mut [f32]) {
    let bias: &[f32; HIDDEN] = bias.try_into().expect("HIDDEN biases");
    pad_rows(hw, HIDDEN, out, |i, row| {
        let zr = &mut z[i * row.len()..(i + 1) * row.len()];
        for z in zr.chunks_exact_mut(HIDDEN) {
            for (z, b) in z.iter_mut().zip(bias) {
                *z += b;
            }
        }
        atan_slice(zr, row);
    });
}

/// For one image: the padded `out = g · atan'(z)` (120 channels).
pub fn grad_atan_pad(g: &[f32], z: &[f32], hw: (usize, usize), out: &mut [f32]) {
    pad_rows(hw, DW_CH, out, |i, row| {
        let n = row.len();
        mul_grad_into(&g[i * n..(i + 1) * n], &z[i * n..(i + 1) * n], row);
    });
}

/// `g *= atan'(z)`: chains a gradient through the activation.
pub fn mul_atan_grad(z: &[f32], g: &mut [f32]) {
    mul_grad(z, g);
}

#[cfg(test)]
mod tests {
    use super::super::depthwise::padded_len;
    use super::*;

    #[test]
    fn padded_activations_and_gradients() {
        let (h, w) = (2, 3);
        let n = h * w * HIDDEN;
        let mut z: Vec<f32> = (0..n).map(|k| k as f32 * 0.03 - 3.0).collect();
        let bias: Vec<f32> = (0..HIDDEN).map(|c| c as f32 * 0.01).collect();
        let orig = z.clone();
        let mut out = vec![f32::NAN; padded_len(h, w) * HIDDEN];
        bias_atan_pad(&mut z, &bias, (h, w), &mut out);
        let at = |i: usize, j: usize, c: usize| out[((i * (w + 2)) + j) * HIDDEN + c];
        for i in 0..h + 2 {
            for j in 0..w + 2 {
                for (c, &b) in bias.iter().enumerate() {
                    let border = i == 0 || j == 0 || i == h + 1 || j == w + 1;
                    if border {
                        assert_eq!(at(i, j, c), 0.0);
                    } else {
                        let k = ((i - 1) * w + j - 1) * HIDDEN + c;
                        assert_eq!(z[k], orig[k] + b);
                        assert!((at(i, j, c) - z[k].atan()).abs() <= 2e-7);
                    }
                }
            }
        }

        let g: Vec<f32> = (0..h * w * DW_CH).map(|k| (k % 7) as f32 - 3.0).collect();
        let z2: Vec<f32> = (0..h * w * DW_CH)
            .map(|k| (k % 11) as f32 * 0.4 - 2.0)
            .collect();
        let mut gp = vec![f32::NAN; padded_len(h, w) * DW_CH];
        grad_atan_pad(&g, &z2, (h, w), &mut gp);
        let k = (w + 2 + 1) * DW_CH + 5; // interior pixel (0, 0), channel 5
        assert!((gp[k] - g[5] / (1.0 + z2[5] * z2[5])).abs() < 1e-6);
        assert_eq!(gp[3], 0.0);

        let mut m = g.clone();
        mul_atan_grad(&z2, &mut m);
        for ((m, g), z) in m.iter().zip(&g).zip(&z2) {
            assert!((m - g / (1.0 + z * z)).abs() < 1e-6);
        }
    }
}
