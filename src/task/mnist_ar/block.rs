//! The residual block as one fused op: y = x + conv2(atan(dw(atan(conv1(x))))) with
//! conv1 1×1 20→40, dw the 3×3 depthwise ×3 (40→120, SAME), conv2 1×1 120→20, all with biases.
//!
//! Fusing keeps a task's intermediates (≤ 784 rows × 120 channels, ~1.6 MB) in L2 instead of
//! streaming full-batch tensors through memory between ops. Only the block input is kept for
//! the backward pass, which recomputes the inner activations (checkpointing): that costs ~15%
//! more arithmetic but writes and reads 20 instead of 180 values per pixel and block through
//! memory (the machine is bandwidth-bound before it is FMA-bound) and needs 9× less memory.
//! The depthwise channels are permuted to the kernels' multiplier-major order on the way in
//! and their gradients permuted back on the way out (see `depthwise.rs`).

use anyhow::Result;
use dfdx::prelude::{Cpu, Tape};
use rayon::prelude::*;

use super::act::{bias_atan_pad, grad_atan_pad, mul_atan_grad};
use super::atan::atan_slice;
use super::buffers;
use super::depthwise::{self, padded_len, tf_channel};
use super::layout::block::{CONV1_B, CONV1_W, CONV2_B, CONV2_W, DW_B, DW_W, LEN};
use super::layout::{DW_CH, HIDDEN, TAPS, WIDTH, block_range};
use super::par::{Partials, add_column_sums, carve, images_per_task, with_scratch};
use super::tape::{self, Flat, InputGrad, Params};
use super::thin;

/// Batch size and image side of a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
}

impl Geometry {
    fn pixels(self) -> usize {
        self.h * self.w
    }

    fn padded(self) -> usize {
        padded_len(self.h, self.w)
    }

    fn hw(self) -> (usize, usize) {
        (self.h, self.w)
    }
}

/// Residual block `k` (0..20) on `x`, a batch of NHWC images with 20 channels.
pub fn block<T: Tape<f32, Cpu>>(
    x: Flat<T>,
    k: usize,
    geo: Geometry,
    params: &Params,
) -> Result<Flat<T>> {
    let xs = tape::values(&x);
    let rows = geo.batch * geo.pixels();
    let tr = images_per_task(geo.batch, geo.pixels()) * geo.pixels();
    let p = to_internal(&params.values[block_range(k)]);
    let mut y = buffers::take(rows * WIDTH);
    let tasks = (xs.par_chunks(tr * WIDTH), y.par_chunks_mut(tr * WIDTH));
    tasks.into_par_iter().for_each(|(x, y)| {
        let rows = x.len() / WIDTH;
        with_scratch(forward_scratch(geo, rows), |s| {
            forward_task(&p, geo, x, y, s)
        });
    });
    if !T::OWNS_TAPE {
        buffers::give(xs);
        return tape::record(x, y, params, InputGrad::Write, |_| {});
    }
    tape::record(x, y, params, InputGrad::Write, move |g| {
        let mut partials = Partials::new(rows.div_ceil(tr), LEN);
        let tasks = (
            xs.par_chunks(tr * WIDTH),
            g.output.par_chunks(tr * WIDTH),
            g.input.par_chunks_mut(tr * WIDTH),
            partials.rows(),
        );
        tasks.into_par_iter().for_each(|(x, dy, dx, gp)| {
            let rows = x.len() / WIDTH;
            with_scratch(backward_scratch(geo, rows), |s| {
                backward_task(&p, geo, x, (dy, dx), gp, s);
            });
        });
        let mut sum = [0.0; LEN];
        partials.add_into(&mut sum);
        add_from_internal(&sum, &mut g.params[block_range(k)]);
        buffers::give(xs);
    })
}

/// One block's parameters with the depthwise channels in the kernels' order.
fn to_internal(p: &[f32]) -> Vec<f32> {
    let mut q = p.to_vec();
    for o in 0..DW_CH {
        let t = tf_channel(o);
        for tap in 0..TAPS {
            q[DW_W + tap * DW_CH + o] = p[DW_W + tap * DW_CH + t];
        }
        q[DW_B + o] = p[DW_B + t];
        q[CONV2_W + o * WIDTH..CONV2_W + (o + 1) * WIDTH]
            .copy_from_slice(&p[CONV2_W + t * WIDTH..CONV2_W + (t + 1) * WIDTH]);
    }
    q
}

/// Adds a block gradient in the kernels' channel order into `dst` in TF order.
fn add_from_internal(g: &[f32], dst: &mut [f32]) {
    for (d, v) in dst[..DW_W].iter_mut().zip(&g[..DW_W]) {
        *d += v;
    }
    for (d, v) in dst[CONV2_B..].iter_mut().zip(&g[CONV2_B..]) {
        *d += v;
    }
    for o in 0..DW_CH {
        let t = tf_channel(o);
        for tap in 0..TAPS {
            dst[DW_W + tap * DW_CH + t] += g[DW_W + tap * DW_CH + o];
        }
        dst[DW_B + t] += g[DW_B + o];
        for c in 0..WIDTH {
            dst[CONV2_W + t * WIDTH + c] += g[CONV2_W + o * WIDTH + c];
        }
    }
}

/// Scratch floats of the inner activations of `rows` pixels: `z1`, padded `a1`, `z2`.
fn inner_scratch(geo: Geometry, rows: usize) -> [usize; 3] {
    let images = rows / geo.pixels();
    [rows * HIDDEN, images * geo.padded() * HIDDEN, rows * DW_CH]
}

fn forward_scratch(geo: Geometry, rows: usize) -> usize {
    inner_scratch(geo, rows).iter().sum::<usize>() + rows * DW_CH
}

fn backward_scratch(geo: Geometry, rows: usize) -> usize {
    let images = rows / geo.pixels();
    let own = rows * DW_CH + images * geo.padded() * DW_CH + rows * HIDDEN;
    inner_scratch(geo, rows).iter().sum::<usize>() + own
}

/// The block's inner activations for a run of whole images: `z1 = x·W1 + b1`, the padded
/// `a1 = atan(z1)`, `z2 = depthwise(a1) + b2` and `a2 = atan(z2)` (row by row as the depthwise
/// pass finishes them, before they leave L1).
fn inner(p: &[f32], geo: Geometry, x: &[f32], [z1, a1, z2, a2]: [&mut [f32]; 4]) {
    thin::mul_20_40(z1, x, &p[CONV1_W..CONV1_B], false);
    let (px40, px120, pad40) = (
        geo.pixels() * HIDDEN,
        geo.pixels() * DW_CH,
        geo.padded() * HIDDEN,
    );
    let per_image = z1.chunks_exact_mut(px40).zip(a1.chunks_exact_mut(pad40));
    let per_image = per_image.zip(z2.chunks_exact_mut(px120).zip(a2.chunks_exact_mut(px120)));
    let row = geo.w * DW_CH;
    for ((z1, a1), (z2, a2)) in per_image {
        bias_atan_pad(z1, &p[CONV1_B..DW_W], geo.hw(), a1);
        let (weight, bias) = (&p[DW_W..DW_B], &p[DW_B..CONV2_W]);
        depthwise::forward(a1, geo.hw(), weight, bias, z2, &mut |i, z| {
            atan_slice(z, &mut a2[i * row..(i + 1) * row]);
        });
    }
}

/// Forward for a run of whole images: `y = x + atan(z2)·W2 + b`.
fn forward_task(p: &[f32], geo: Geometry, x: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    let rows = x.len() / WIDTH;
    let [z1, a1, z2, a2] = carve(scratch, {
        let [a, b, c] = inner_scratch(geo, rows);
        [a, b, c, rows * DW_CH]
    });
    inner(p, geo, x, [z1, a1, z2, &mut *a2]);
    for (yr, xr) in y.chunks_exact_mut(WIDTH).zip(x.chunks_exact(WIDTH)) {
        for ((y, x), b) in yr.iter_mut().zip(xr).zip(&p[CONV2_B..LEN]) {
            *y = x + b;
        }
    }
    thin::mul_120_20(y, a2, &p[CONV2_W..CONV2_B], true);
}

/// Backward for a run of whole images, recomputing the inner activations from the block input
/// `x` (only `x` is kept between the passes): adds the parameter gradient into `gp` (one
/// block's `LEN` values, kernel channel order) and writes the input gradient into `dx`.
fn backward_task(
    p: &[f32],
    geo: Geometry,
    x: &[f32],
    (dy, dx): (&[f32], &mut [f32]),
    gp: &mut [f32],
    scratch: &mut [f32],
) {
    let rows = x.len() / WIDTH;
    let images = rows / geo.pixels();
    let [i1, i2, i3] = inner_scratch(geo, rows);
    let sizes = [
        i1,
        i2,
        i3,
        rows * DW_CH,
        images * geo.padded() * DW_CH,
        rows * HIDDEN,
    ];
    let [z1, a1, z2, s1, dz2, da1] = carve(scratch, sizes);
    inner(p, geo, x, [&mut *z1, &mut *a1, &mut *z2, &mut *s1]);
    // conv2: weight gradient from a2 = atan(z2) (in s1); then da2 = dy · W2ᵀ.
    thin::grad_120_20(&mut gp[CONV2_W..CONV2_B], s1, dy);
    add_column_sums(&mut gp[CONV2_B..LEN], dy);
    let mut w2t = [0.0; WIDTH * DW_CH];
    thin::transpose(&p[CONV2_W..CONV2_B], DW_CH, WIDTH, &mut w2t);
    thin::mul_20_120(s1, dy, &w2t, false);
    // depthwise, per image: dz2 = da2 · atan'(z2) (padded); gradients of the weights and of a1.
    let (px40, px120) = (geo.pixels() * HIDDEN, geo.pixels() * DW_CH);
    let (pad40, pad120) = (geo.padded() * HIDDEN, geo.padded() * DW_CH);
    let (g_dw_w, g_dw_b) = gp[DW_W..CONV2_W].split_at_mut(TAPS * DW_CH);
    for img in 0..images {
        let px = img * px120..(img + 1) * px120;
        let dz = &mut dz2[img * pad120..(img + 1) * pad120];
        grad_atan_pad(&s1[px.clone()], &z2[px], geo.hw(), dz);
        let a = &a1[img * pad40..(img + 1) * pad40];
        depthwise::backward_weights(a, dz, geo.hw(), (&mut *g_dw_w, &mut *g_dw_b));
        let da = &mut da1[img * px40..(img + 1) * px40];
        depthwise::backward_input(dz, geo.hw(), &p[DW_W..DW_B], da);
    }
    // conv1: dz1 = da1 · atan'(z1); weight gradient xᵀ·dz1; input gradient dy + dz1 · W1ᵀ.
    mul_atan_grad(z1, da1);
    thin::grad_20_40(&mut gp[CONV1_W..CONV1_B], x, da1);
    add_column_sums(&mut gp[CONV1_B..DW_W], da1);
    dx.copy_from_slice(dy);
    let mut w1t = [0.0; HIDDEN * WIDTH];
    thin::transpose(&p[CONV1_W..CONV1_B], WIDTH, HIDDEN, &mut w1t);
    thin::mul_40_20(dx, da1, &w1t, true);
}
