//! 3×3 depthwise convolution with channel multiplier 3 and TF "SAME" padding, on one NHWC image.
//!
//! Internally the 120 output channels are ordered multiplier-major, `o' = m·40 + c` (TF's order
//! is `o = 3c + m`; `block.rs` permutes the weights), so every block of output channels `o'..o'+B::LANES`
//! (within one `m`) reads one contiguous block of input channels `c = o' mod 40` and no expanded copy of the input is
//! needed. Inputs are stored padded, `(h+2) × (w+2)` pixels with a zero border, so the 9 taps
//! need no bounds tests: output `(i, j)` reads padded pixel `(i+di, j+dj)` through tap
//! `t = 3·di + dj`, di, dj ∈ 0..3.
//!
//! The passes work on one block of channels at a time with its 9 tap weights held in registers,
//! and on `J` neighbouring output pixels at once, so that `J` independent accumulator chains
//! hide the FMA latency and neighbouring outputs share the loads of their input columns. A
//! block is 16 channels wide with AVX-512 (the 40 input channels as 16 + 16 + 8) and 8
//! otherwise (5 × 8), see `simd.rs`. Every output value is summed in the same order whatever
//! the width, so all widths give the same bits.

use super::layout::{DW_CH, HIDDEN, MULT, TAPS};
use super::simd::{Block, LANES, V, multiversion};

/// Pixels of a padded `h × w` image.
pub fn padded_len(h: usize, w: usize) -> usize {
    (h + 2) * (w + 2)
}

/// Calls `$f::<FMA, block>(c, $args…)` for each block of input channels `c..c + width`: of
/// type `B` while they fill the 40 channels, then of 8 ([`V`]).
macro_rules! for_channel_blocks {
    ($fma:ident, $b:ident, $f:ident($($arg:expr),* $(,)?)) => {
        let wide = HIDDEN / $b::LANES * $b::LANES;
        for c in (0..wide).step_by($b::LANES) {
            $f::<$fma, $b>(c, $($arg),*);
        }
        for c in (wide..HIDDEN).step_by(LANES) {
            $f::<$fma, V>(c, $($arg),*);
        }
    };
}

/// A channel block inside an NHWC buffer: `stride` channels per pixel, block at `offset`.
#[derive(Clone, Copy)]
struct Lanes {
    stride: usize,
    offset: usize,
}

/// How a pass starts its accumulators.
#[derive(Clone, Copy)]
enum Init<B> {
    Bias(B),
    Zero,
    /// Add to what `out` holds.
    Add,
}

/// `out[p] (=|+=) init + Σ_t input[p + tap t] · weights[t]` for the pixels `p` of output row `i`,
/// over one channel block; `input` padded, `out` not.
#[inline(always)]
fn pass_row<const FMA: bool, B: Block>(
    input: (&[f32], Lanes),
    out: (&mut [f32], Lanes),
    (i, w): (usize, usize),
    weights: &[B; TAPS],
    init: Init<B>,
) {
    let mut j = 0;
    while j + 8 <= w {
        pass_run::<FMA, B, 8>(input, (&mut *out.0, out.1), (i, j, w), weights, init);
        j += 8;
    }
    if j + 4 <= w {
        pass_run::<FMA, B, 4>(input, (&mut *out.0, out.1), (i, j, w), weights, init);
        j += 4;
    }
    while j < w {
        pass_run::<FMA, B, 1>(input, (&mut *out.0, out.1), (i, j, w), weights, init);
        j += 1;
    }
}

/// `J` consecutive outputs `(i, j..j+J)` of [`pass_row`].
#[inline(always)]
fn pass_run<const FMA: bool, B: Block, const J: usize>(
    (input, il): (&[f32], Lanes),
    (out, ol): (&mut [f32], Lanes),
    (i, j, w): (usize, usize, usize),
    weights: &[B; TAPS],
    init: Init<B>,
) {
    let at = |jj: usize| (i * w + j + jj) * ol.stride + ol.offset;
    // The run reads padded pixels up to (i+2, j+J+1) and writes outputs up to (i, j+J−1); check
    // those once so the loads and stores below need no per-access checks.
    let last_in = ((i + 2) * (w + 2) + j + J + 1) * il.stride + il.offset;
    assert!(il.offset + B::LANES <= il.stride && last_in + B::LANES <= input.len());
    assert!(ol.offset + B::LANES <= ol.stride && at(J - 1) + B::LANES <= out.len());
    let mut acc = [B::zero(); J];
    for (jj, a) in acc.iter_mut().enumerate() {
        *a = match init {
            Init::Bias(b) => b,
            Init::Zero => B::zero(),
            // SAFETY: at(jj) ≤ at(J − 1), checked above.
            Init::Add => unsafe { B::load_unchecked(out, at(jj)) },
        };
    }
    for di in 0..3 {
        let row = (i + di) * (w + 2) + j;
        // Input columns j .. j+J+2 of this padded row; output jj uses columns jj .. jj+3.
        let mut cols = [B::zero(); 10];
        for (k, col) in cols.iter_mut().enumerate().take(J + 2) {
            // SAFETY: row + k ≤ (i+2)(w+2) + j + J + 1, so the index is ≤ last_in (checked).
            *col = unsafe { B::load_unchecked(input, (row + k) * il.stride + il.offset) };
        }
        for dj in 0..3 {
            let wt = weights[3 * di + dj];
            for (jj, a) in acc.iter_mut().enumerate() {
                *a = cols[jj + dj].madd::<FMA>(wt, *a);
            }
        }
    }
    for (jj, a) in acc.into_iter().enumerate() {
        // SAFETY: at(jj) ≤ at(J − 1), checked above.
        unsafe { a.store_unchecked(out, at(jj)) };
    }
}

/// The 9 tap weights of output channels `o..o + B::LANES` (`weight` is `9 × 120`), optionally flipped
/// (tap t ↔ 8 − t) for the transposed convolution.
#[inline(always)]
fn tap_weights<B: Block>(weight: &[f32], o: usize, flip: bool) -> [B; TAPS] {
    let mut out = [B::zero(); TAPS];
    for (t, w) in out.iter_mut().enumerate() {
        let t = if flip { TAPS - 1 - t } else { t };
        *w = B::load(weight, t * DW_CH + o);
    }
    out
}

/// Output row `i` of [`forward`] for input channels `c..c + B::LANES` and their `MULT` copies.
#[inline(always)]
fn forward_row<const FMA: bool, B: Block>(
    c: usize,
    (a, z): (&[f32], &mut [f32]),
    (i, w): (usize, usize),
    (weight, bias): (&[f32], &[f32]),
) {
    for m in 0..MULT {
        let o = m * HIDDEN + c;
        let input = (
            a,
            Lanes {
                stride: HIDDEN,
                offset: c,
            },
        );
        let out = (
            &mut *z,
            Lanes {
                stride: DW_CH,
                offset: o,
            },
        );
        let init = Init::Bias(B::load(bias, o));
        pass_row::<FMA, B>(input, out, (i, w), &tap_weights(weight, o, false), init);
    }
}

#[inline(always)]
fn forward_body<const FMA: bool, B: Block>(
    a: &[f32],
    (h, w): (usize, usize),
    weight: &[f32],
    bias: &[f32],
    z: &mut [f32],
    after_row: &mut dyn FnMut(usize, &[f32]),
) {
    // Row by row, all channel blocks of a row before the next, so the three input rows and the
    // output row being written stay in L1, also for `after_row`.
    for i in 0..h {
        for_channel_blocks!(FMA, B, forward_row((a, &mut *z), (i, w), (weight, bias)));
        after_row(i, &z[i * w * DW_CH..(i + 1) * w * DW_CH]);
    }
}

multiversion! {
    /// `z = depthwise(a) + bias` for one `h × w` image: `a` is the padded 40-channel input,
    /// `z` is `h·w × 120`, `weight` `9 × 120` and `bias` `120`, all multiplier-major. Calls
    /// `after_row(i, z's row i)` as soon as row `i` is done, while it is still in L1.
    pub fn forward(
        a: &[f32],
        hw: (usize, usize),
        weight: &[f32],
        bias: &[f32],
        z: &mut [f32],
        after_row: &mut dyn FnMut(usize, &[f32]),
    ) => wide forward_body
}

/// Row `i` of [`backward_input`] for input channels `c..c + B::LANES`: the `MULT` copies' transposed
/// convolutions summed in the order m = 0, 1, 2.
#[inline(always)]
fn backward_input_row<const FMA: bool, B: Block>(
    c: usize,
    (dz, da): (&[f32], &mut [f32]),
    (i, w): (usize, usize),
    weight: &[f32],
) {
    for m in 0..MULT {
        let o = m * HIDDEN + c;
        let input = (
            dz,
            Lanes {
                stride: DW_CH,
                offset: o,
            },
        );
        let out = (
            &mut *da,
            Lanes {
                stride: HIDDEN,
                offset: c,
            },
        );
        let init = if m == 0 { Init::Zero } else { Init::Add };
        pass_row::<FMA, B>(input, out, (i, w), &tap_weights(weight, o, true), init);
    }
}

#[inline(always)]
fn backward_input_body<const FMA: bool, B: Block>(
    dz: &[f32],
    (h, w): (usize, usize),
    weight: &[f32],
    da: &mut [f32],
) {
    for i in 0..h {
        for_channel_blocks!(FMA, B, backward_input_row((dz, &mut *da), (i, w), weight));
    }
}

multiversion! {
    /// Input gradient of [`forward`]: `da` (`h·w × 40`) from the padded output gradient `dz`
    /// (`(h+2)(w+2) × 120`); the transposed convolution with flipped taps, summed over the
    /// three multiplier copies of each input channel.
    pub fn backward_input(dz: &[f32], hw: (usize, usize), weight: &[f32], da: &mut [f32])
        => wide backward_input_body
}

/// Weight and bias gradient sums, `[tap][o]` and `[o]`, over the rows done so far.
struct WeightSums {
    taps: [[f32; DW_CH]; TAPS],
    bias: [f32; DW_CH],
}

/// Row `i` of [`backward_weights`] for input channels `c..c + B::LANES` and their `MULT` copies,
/// added into `sums`: within the row a block's 9 tap sums (and the bias sum) live in registers.
#[inline(always)]
fn backward_weights_row<const FMA: bool, B: Block>(
    c: usize,
    (a, dz): (&[f32], &[f32]),
    (i, w): (usize, usize),
    sums: &mut WeightSums,
) {
    for m in 0..MULT {
        let o = m * HIDDEN + c;
        let mut acc: [B; TAPS] = [B::zero(); TAPS];
        for (t, acc) in acc.iter_mut().enumerate() {
            *acc = B::load(&sums.taps[t], o);
        }
        let mut acc_b = B::load(&sums.bias, o);
        // The row reads `a` up to padded pixel (i+2, w+1) and `dz` up to (i+1, w).
        assert!(((i + 2) * (w + 2) + w + 1) * HIDDEN + c + B::LANES <= a.len());
        assert!(((i + 1) * (w + 2) + w) * DW_CH + o + B::LANES <= dz.len());
        for j in 0..w {
            // SAFETY: j ≤ w − 1 and di, dj ≤ 2 keep both indices within the checks above.
            let d = unsafe { B::load_unchecked(dz, ((i + 1) * (w + 2) + j + 1) * DW_CH + o) };
            acc_b = acc_b.add(d);
            for di in 0..3 {
                for dj in 0..3 {
                    let at = ((i + di) * (w + 2) + j + dj) * HIDDEN + c;
                    // SAFETY: as above.
                    let x = unsafe { B::load_unchecked(a, at) };
                    acc[3 * di + dj] = x.madd::<FMA>(d, acc[3 * di + dj]);
                }
            }
        }
        for (t, acc) in acc.into_iter().enumerate() {
            acc.store(&mut sums.taps[t], o);
        }
        acc_b.store(&mut sums.bias, o);
    }
}

#[inline(always)]
fn backward_weights_body<const FMA: bool, B: Block>(
    a: &[f32],
    dz: &[f32],
    (h, w): (usize, usize),
    (g_weight, g_bias): (&mut [f32], &mut [f32]),
) {
    // Kept in L1 across rows, and added to the gradients once at the end.
    let mut sums = WeightSums {
        taps: [[0.0; DW_CH]; TAPS],
        bias: [0.0; DW_CH],
    };
    for i in 0..h {
        for_channel_blocks!(FMA, B, backward_weights_row((a, dz), (i, w), &mut sums));
    }
    for (g, s) in g_weight.chunks_exact_mut(DW_CH).zip(&sums.taps) {
        for (g, s) in g.iter_mut().zip(s) {
            *g += s;
        }
    }
    for (g, s) in g_bias.iter_mut().zip(&sums.bias) {
        *g += s;
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
    ) => wide backward_weights_body
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
