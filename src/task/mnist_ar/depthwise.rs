//! 3×3 depthwise convolution with channel multiplier 3 and TF "SAME" padding, on one NHWC image.
//!
//! Internally the 120 output channels are ordered multiplier-major, `o' = m·40 + c` (TF's order
//! is `o = 3c + m`; `block.rs` permutes the weights), so every 8-channel block `o'..o'+8` reads
//! one contiguous block of input channels `c = o' mod 40` and no expanded copy of the input is
//! needed. Inputs are stored padded, `(h+2) × (w+2)` pixels with a zero border, so the 9 taps
//! need no bounds tests: output `(i, j)` reads padded pixel `(i+di, j+dj)` through tap
//! `t = 3·di + dj`, di, dj ∈ 0..3.
//!
//! The passes work on one 8-channel block at a time with its 9 tap weights held in registers,
//! and on `J` neighbouring output pixels at once, so that `J` independent accumulator chains
//! hide the FMA latency and neighbouring outputs share the loads of their input columns.

use super::layout::{DW_CH, HIDDEN, MULT, TAPS};
use super::simd::{
    LANES, V, load, load_unchecked, multiversion, store, store_unchecked, vadd, vmadd,
};

/// Channel blocks of 8 among the 40 input channels.
const IN_BLOCKS: usize = HIDDEN / LANES;
/// Channel blocks of 8 among the 120 output channels.
const OUT_BLOCKS: usize = DW_CH / LANES;

/// Pixels of a padded `h × w` image.
pub fn padded_len(h: usize, w: usize) -> usize {
    (h + 2) * (w + 2)
}

/// Input channel block read by output channel block `ob` (multiplier-major order).
fn in_block(ob: usize) -> usize {
    ob % IN_BLOCKS
}

/// A channel block inside an NHWC buffer: `stride` channels per pixel, block at `offset`.
#[derive(Clone, Copy)]
struct Lanes {
    stride: usize,
    offset: usize,
}

/// How a pass starts its accumulators.
#[derive(Clone, Copy)]
enum Init {
    Bias(V),
    Zero,
    /// Add to what `out` holds.
    Add,
}

/// `out[p] (=|+=) init + Σ_t input[p + tap t] · weights[t]` for the pixels `p` of output row `i`,
/// over one channel block; `input` padded, `out` not.
#[inline(always)]
fn pass_row<const FMA: bool>(
    input: (&[f32], Lanes),
    out: (&mut [f32], Lanes),
    (i, w): (usize, usize),
    weights: &[V; TAPS],
    init: Init,
) {
    let mut j = 0;
    while j + 8 <= w {
        pass_run::<FMA, 8>(input, (&mut *out.0, out.1), (i, j, w), weights, init);
        j += 8;
    }
    if j + 4 <= w {
        pass_run::<FMA, 4>(input, (&mut *out.0, out.1), (i, j, w), weights, init);
        j += 4;
    }
    while j < w {
        pass_run::<FMA, 1>(input, (&mut *out.0, out.1), (i, j, w), weights, init);
        j += 1;
    }
}

/// `J` consecutive outputs `(i, j..j+J)` of [`pass_row`].
#[inline(always)]
fn pass_run<const FMA: bool, const J: usize>(
    (input, il): (&[f32], Lanes),
    (out, ol): (&mut [f32], Lanes),
    (i, j, w): (usize, usize, usize),
    weights: &[V; TAPS],
    init: Init,
) {
    let at = |jj: usize| (i * w + j + jj) * ol.stride + ol.offset;
    // The run reads padded pixels up to (i+2, j+J+1) and writes outputs up to (i, j+J−1); check
    // those once so the loads and stores below need no per-access checks.
    let last_in = ((i + 2) * (w + 2) + j + J + 1) * il.stride + il.offset;
    assert!(il.offset + LANES <= il.stride && last_in + LANES <= input.len());
    assert!(ol.offset + LANES <= ol.stride && at(J - 1) + LANES <= out.len());
    let mut acc = [[0.0f32; LANES]; J];
    for (jj, a) in acc.iter_mut().enumerate() {
        *a = match init {
            Init::Bias(b) => b,
            Init::Zero => [0.0; LANES],
            // SAFETY: at(jj) ≤ at(J − 1), checked above.
            Init::Add => unsafe { load_unchecked(out, at(jj)) },
        };
    }
    for di in 0..3 {
        let row = (i + di) * (w + 2) + j;
        // Input columns j .. j+J+2 of this padded row; output jj uses columns jj .. jj+3.
        let mut cols = [[0.0f32; LANES]; 10];
        for (k, col) in cols.iter_mut().enumerate().take(J + 2) {
            // SAFETY: row + k ≤ (i+2)(w+2) + j + J + 1, so the index is ≤ last_in (checked).
            *col = unsafe { load_unchecked(input, (row + k) * il.stride + il.offset) };
        }
        for dj in 0..3 {
            let wt = weights[3 * di + dj];
            for (jj, a) in acc.iter_mut().enumerate() {
                *a = vmadd::<FMA>(cols[jj + dj], wt, *a);
            }
        }
    }
    for (jj, a) in acc.into_iter().enumerate() {
        // SAFETY: at(jj) ≤ at(J − 1), checked above.
        unsafe { store_unchecked(out, at(jj), a) };
    }
}

/// The 9 tap weights of output channel block `ob` (`weight` is `9 × 120`), optionally flipped
/// (tap t ↔ 8 − t) for the transposed convolution.
fn tap_weights(weight: &[f32], ob: usize, flip: bool) -> [V; TAPS] {
    let mut out = [[0.0f32; LANES]; TAPS];
    for (t, w) in out.iter_mut().enumerate() {
        let t = if flip { TAPS - 1 - t } else { t };
        *w = load(weight, t * DW_CH + ob * LANES);
    }
    out
}

#[inline(always)]
fn forward_body<const FMA: bool>(
    a: &[f32],
    (h, w): (usize, usize),
    weight: &[f32],
    bias: &[f32],
    z: &mut [f32],
) {
    let taps: [[V; TAPS]; OUT_BLOCKS] = std::array::from_fn(|ob| tap_weights(weight, ob, false));
    // Row by row, all channel blocks of a row before the next, so the three input rows and the
    // output row being written stay in L1.
    for i in 0..h {
        for (ob, weights) in taps.iter().enumerate() {
            let input = (
                a,
                Lanes {
                    stride: HIDDEN,
                    offset: in_block(ob) * LANES,
                },
            );
            let out = (
                &mut *z,
                Lanes {
                    stride: DW_CH,
                    offset: ob * LANES,
                },
            );
            let init = Init::Bias(load(bias, ob * LANES));
            pass_row::<FMA>(input, out, (i, w), weights, init);
        }
    }
}

multiversion! {
    /// `z = depthwise(a) + bias` for one `h × w` image: `a` is the padded 40-channel input,
    /// `z` is `h·w × 120`, `weight` `9 × 120` and `bias` `120`, all multiplier-major.
    pub fn forward(a: &[f32], hw: (usize, usize), weight: &[f32], bias: &[f32], z: &mut [f32])
        => forward_body
}

#[inline(always)]
fn backward_input_body<const FMA: bool>(
    dz: &[f32],
    (h, w): (usize, usize),
    weight: &[f32],
    da: &mut [f32],
) {
    let taps: [[V; TAPS]; OUT_BLOCKS] = std::array::from_fn(|ob| tap_weights(weight, ob, true));
    for i in 0..h {
        for cb in 0..IN_BLOCKS {
            for m in 0..MULT {
                let ob = m * IN_BLOCKS + cb;
                let input = (
                    dz,
                    Lanes {
                        stride: DW_CH,
                        offset: ob * LANES,
                    },
                );
                let out = (
                    &mut *da,
                    Lanes {
                        stride: HIDDEN,
                        offset: cb * LANES,
                    },
                );
                let init = if m == 0 { Init::Zero } else { Init::Add };
                pass_row::<FMA>(input, out, (i, w), &taps[ob], init);
            }
        }
    }
}

multiversion! {
    /// Input gradient of [`forward`]: `da` (`h·w × 40`) from the padded output gradient `dz`
    /// (`(h+2)(w+2) × 120`); the transposed convolution with flipped taps, summed over the
    /// three multiplier copies of each input channel.
    pub fn backward_input(dz: &[f32], hw: (usize, usize), weight: &[f32], da: &mut [f32])
        => backward_input_body
}

#[inline(always)]
fn backward_weights_body<const FMA: bool>(
    a: &[f32],
    dz: &[f32],
    (h, w): (usize, usize),
    (g_weight, g_bias): (&mut [f32], &mut [f32]),
) {
    // Accumulators for every block and tap, kept in L1 across rows; within a row a block's 9 tap
    // sums (and the bias sum) live in registers.
    let mut g = [[[0.0f32; LANES]; TAPS]; OUT_BLOCKS];
    let mut gb = [[0.0f32; LANES]; OUT_BLOCKS];
    for i in 0..h {
        for ob in 0..OUT_BLOCKS {
            let (c, o) = (in_block(ob) * LANES, ob * LANES);
            let (mut acc, mut acc_b) = (g[ob], gb[ob]);
            // The row reads `a` up to padded pixel (i+2, w+1) and `dz` up to (i+1, w).
            assert!(((i + 2) * (w + 2) + w + 1) * HIDDEN + c + LANES <= a.len());
            assert!(((i + 1) * (w + 2) + w) * DW_CH + o + LANES <= dz.len());
            for j in 0..w {
                // SAFETY: j ≤ w − 1 and di, dj ≤ 2 keep both indices within the checks above.
                let d = unsafe { load_unchecked(dz, ((i + 1) * (w + 2) + j + 1) * DW_CH + o) };
                acc_b = vadd(acc_b, d);
                for di in 0..3 {
                    for dj in 0..3 {
                        let at = ((i + di) * (w + 2) + j + dj) * HIDDEN + c;
                        // SAFETY: as above.
                        let x = unsafe { load_unchecked(a, at) };
                        acc[3 * di + dj] = vmadd::<FMA>(x, d, acc[3 * di + dj]);
                    }
                }
            }
            (g[ob], gb[ob]) = (acc, acc_b);
        }
    }
    for ob in 0..OUT_BLOCKS {
        let o = ob * LANES;
        for (t, gt) in g[ob].into_iter().enumerate() {
            let at = t * DW_CH + o;
            store(g_weight, at, vadd(load(g_weight, at), gt));
        }
        store(g_bias, o, vadd(load(g_bias, o), gb[ob]));
    }
}

multiversion! {
    /// Weight and bias gradients of [`forward`], added into `grads` (`9 × 120`, `120`), from the
    /// padded input `a` and the padded output gradient `dz`.
    pub fn backward_weights(
        a: &[f32],
        dz: &[f32],
        hw: (usize, usize),
        grads: (&mut [f32], &mut [f32]),
    ) => backward_weights_body
}

/// Zeroes the border of the padded image `dst` (`(h+2)(w+2) × channels`) and lets `fill` write
/// each interior row `i` (`w · channels` values).
#[inline(always)]
pub fn pad_rows(
    (h, w): (usize, usize),
    channels: usize,
    dst: &mut [f32],
    mut fill: impl FnMut(usize, &mut [f32]),
) {
    let row = (w + 2) * channels;
    dst[..row].fill(0.0);
    dst[(h + 1) * row..(h + 2) * row].fill(0.0);
    for i in 0..h {
        let d = &mut dst[(i + 1) * row..(i + 2) * row];
        d[..channels].fill(0.0);
        d[(w + 1) * channels..].fill(0.0);
        fill(i, &mut d[channels..(w + 1) * channels]);
    }
}

/// TF's channel order `3c + m` for internal channel `m·40 + c`.
pub fn tf_channel(internal: usize) -> usize {
    let (m, c) = (internal / HIDDEN, internal % HIDDEN);
    MULT * c + m
}

#[cfg(test)]
#[path = "depthwise_tests.rs"]
mod tests;
