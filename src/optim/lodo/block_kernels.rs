//! Per-chunk kernels of the block-diagonal permuted network (one layer, a run of blocks).
//!
//! For 4×4 blocks the kernels of `block4_avx512.rs` take the leading multiple of four blocks,
//! gathering the permuted inputs as they load them; the rest (or everything, on CPUs without
//! AVX-512F) first gathers its inputs into contiguous memory, then runs the kernels of
//! `block4.rs` or plain `k×k` loops on small arrays. The block size's capacity is a const
//! parameter ([`Cap`]) so that the common sizes compile to fully unrolled loops in registers
//! while any other `k` still works.

use std::cell::RefCell;

use super::block4::BackwardBlocks;
use super::block4_avx512::Backward;
use super::meta::{MetaStep, MetaSums, MomentsMut};

/// Number of weights a chunk covers: big enough to amortise task scheduling and let the hardware
/// prefetchers ramp up on each stream (measured at n = 94,696: 4096 → 16384 saves ~5% of the
/// step's CPU time), small enough that a chunk's weights, moments and scratch stay in L2 while it
/// is processed and that a layer splits into dozens of tasks for the two threads.
const CHUNK_WEIGHTS: usize = 16384;

/// The largest supported block size (a chunk must hold at least one block).
pub const MAX_BLOCK_SIZE: usize = 64;

/// Blocks per chunk for block size `k`.
pub(crate) fn blocks_per_chunk(k: usize) -> usize {
    (CHUNK_WEIGHTS / (k * k)).max(1)
}

/// A block-size capacity as a type: `Cap<4>` compiles the kernels for `k = 4` exactly (fully
/// unrolled, in registers); `Cap<DYNAMIC>` runs any `k ≤ MAX_BLOCK_SIZE` from a runtime value.
#[derive(Clone, Copy)]
pub(crate) struct Cap<const CAP: usize>;

/// The capacity of the runtime-`k` kernels.
pub(crate) const DYNAMIC: usize = MAX_BLOCK_SIZE;

/// The block size the kernels of capacity `CAP` run with.
#[inline(always)]
fn block_size<const CAP: usize>(k: usize) -> usize {
    if CAP == DYNAMIC {
        debug_assert!(k <= DYNAMIC);
        k
    } else {
        debug_assert_eq!(k, CAP);
        CAP
    }
}

/// Runs `$body` with `$d` bound to the [`Cap`] for block size `$k`: the common sizes get their
/// own compiled kernels, any other size the runtime-`k` ones.
macro_rules! with_block_cap {
    ($k:expr, |$d:ident| $body:expr) => {
        match $k {
            1 => {
                let $d = $crate::optim::lodo::block_kernels::Cap::<1>;
                $body
            }
            2 => {
                let $d = $crate::optim::lodo::block_kernels::Cap::<2>;
                $body
            }
            4 => {
                let $d = $crate::optim::lodo::block_kernels::Cap::<4>;
                $body
            }
            8 => {
                let $d = $crate::optim::lodo::block_kernels::Cap::<8>;
                $body
            }
            _ => {
                let $d = $crate::optim::lodo::block_kernels::Cap::<
                    { $crate::optim::lodo::block_kernels::DYNAMIC },
                >;
                $body
            }
        }
    };
}
pub(crate) use with_block_cap;

/// Where entry `j` of a layer's input comes from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// `values[j]`.
    Direct(&'a [f32]),
    /// `values[index[j]]` (a permutation).
    Gathered(&'a [f32], &'a [u32]),
}

impl Source<'_> {
    /// Entries `start..start + out.len()` of the input.
    #[inline]
    fn read_into(self, start: usize, out: &mut [f32]) {
        match self {
            Source::Direct(values) => out.copy_from_slice(&values[start..start + out.len()]),
            Source::Gathered(values, index) => {
                let len = out.len();
                for (o, &i) in out.iter_mut().zip(&index[start..start + len]) {
                    *o = values[i as usize];
                }
            }
        }
    }
}

/// Where the upstream gradients `(δ_g, δ_m)` of a layer come from in the backward pass.
#[derive(Clone, Copy)]
pub(crate) enum Upstream<'a> {
    /// The top layer: `δ_g = values_g`, `δ_m = values_m`.
    Top(&'a [f32], &'a [f32]),
    /// Below: `(δ_g[j], δ_m[j]) = (pairs[2i], pairs[2i+1])` with `i = index[j]`. The two paths
    /// are interleaved so that one random access fetches both.
    Pairs(&'a [f32], &'a [u32]),
}

impl Upstream<'_> {
    #[inline]
    fn read_into(self, start: usize, dg: &mut [f32], dm: &mut [f32]) {
        match self {
            Upstream::Top(g, m) => {
                dg.copy_from_slice(&g[start..start + dg.len()]);
                dm.copy_from_slice(&m[start..start + dm.len()]);
            }
            Upstream::Pairs(pairs, index) => {
                let len = dg.len();
                for ((g, m), &i) in dg
                    .iter_mut()
                    .zip(dm.iter_mut())
                    .zip(&index[start..start + len])
                {
                    let i = 2 * i as usize;
                    *g = pairs[i];
                    *m = pairs[i + 1];
                }
            }
        }
    }
}

/// Per-thread scratch, so chunks neither allocate nor touch cold memory.
#[derive(Default)]
struct Scratch {
    vectors: [Vec<f32>; 2],
    grad: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with two scratch vectors of `vec_len` and one of `grad_len` entries.
fn with_scratch<R>(
    vec_len: usize,
    grad_len: usize,
    f: impl FnOnce([&mut [f32]; 2], &mut [f32]) -> R,
) -> R {
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let Scratch { vectors, grad } = &mut *scratch;
        let [a, b] = vectors;
        f(
            [grown(a, vec_len), grown(b, vec_len)],
            grown(grad, grad_len),
        )
    })
}

/// The first `len` entries of `v`, which grows once per thread to the largest chunk, then never
/// again.
fn grown(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len {
        v.resize(len, 0.0);
    }
    &mut v[..len]
}

/// The first `k` entries of `s` as an array of capacity `CAP` (zeros beyond `k`).
#[inline(always)]
fn load<const CAP: usize>(k: usize, s: &[f32]) -> [f32; CAP] {
    let mut out = [0.0; CAP];
    out[..k].copy_from_slice(&s[..k]);
    out
}

/// `W·x` for one row-major `k×k` block.
#[inline(always)]
fn block_times<const CAP: usize>(k: usize, w: &[f32], x: &[f32; CAP]) -> [f32; CAP] {
    let mut out = [0.0; CAP];
    for (r, o) in out.iter_mut().enumerate().take(k) {
        let row = &w[r * k..r * k + k];
        *o = (0..k).map(|c| row[c] * x[c]).sum();
    }
    out
}

/// `Wᵀ·x` for one row-major `k×k` block.
#[inline(always)]
fn block_transposed_times<const CAP: usize>(k: usize, w: &[f32], x: &[f32; CAP]) -> [f32; CAP] {
    let mut out = [0.0; CAP];
    for r in 0..k {
        let row = &w[r * k..r * k + k];
        for c in 0..k {
            out[c] += row[c] * x[r];
        }
    }
    out
}

/// `out[b] = W[b]·y[b]` for the chunk's blocks, where `y` (the layer input read from `input` at
/// `start`) is stored in `y` for the backward pass.
pub(crate) fn forward_chunk<const CAP: usize>(
    _: Cap<CAP>,
    k: usize,
    weights: &[f32],
    input: Source<'_>,
    start: usize,
    y: &mut [f32],
    out: &mut [f32],
) {
    let k = block_size::<CAP>(k);
    let done = if CAP == 4 {
        super::block4_avx512::forward(weights, input, start, y, out)
    } else {
        0
    };
    let (weights, y, out) = (&weights[k * done..], &mut y[done..], &mut out[done..]);
    input.read_into(start + done, y);
    if CAP == 4 && super::block4::forward(weights, y, out) {
        return;
    }
    for ((w, y), o) in weights
        .chunks_exact(k * k)
        .zip(y.chunks_exact(k))
        .zip(out.chunks_exact_mut(k))
    {
        o.copy_from_slice(&block_times(k, w, &load::<CAP>(k, y))[..k]);
    }
}

/// `out[b] = W[b]ᵀ·x[b]` for the chunk's blocks, `x` read from `input` at `start`.
pub(crate) fn transpose_chunk<const CAP: usize>(
    _: Cap<CAP>,
    k: usize,
    weights: &[f32],
    input: Source<'_>,
    start: usize,
    out: &mut [f32],
) {
    let done = if CAP == 4 {
        super::block4_avx512::transpose(weights, input, start, out)
    } else {
        0
    };
    let (weights, out) = (&weights[block_size::<CAP>(k) * done..], &mut out[done..]);
    if out.is_empty() {
        return;
    }
    let start = start + done;
    with_scratch(out.len(), 0, |[x, _], _| {
        // Inside the closure so that `k` is the constant `CAP` where it is one.
        let k = block_size::<CAP>(k);
        input.read_into(start, x);
        if CAP == 4 && super::block4::transpose(weights, x, out) {
            return;
        }
        for ((w, x), o) in weights
            .chunks_exact(k * k)
            .zip(x.chunks_exact(k))
            .zip(out.chunks_exact_mut(k))
        {
            o.copy_from_slice(&block_transposed_times(k, w, &load::<CAP>(k, x))[..k]);
        }
    });
}

/// What one layer's backward pass reads besides its own chunk, for both paths of
/// ⟨A·E·g, A·E·m⟩.
#[derive(Clone, Copy)]
pub(crate) struct BackwardLayer<'a> {
    /// ∂⟨·,·⟩/∂(layer output) on each path.
    pub upstream: Upstream<'a>,
    /// Factor of the hypergradient (−α0 of the step being judged).
    pub scale: f32,
    pub meta: MetaStep,
}

/// One chunk of a layer: its weights, their meta moments, the block inputs stored by the forward
/// passes, and where the gradients passed down go (interleaved `(g, m)` pairs).
pub(crate) struct BackwardChunk<'a> {
    pub start: usize,
    pub weights: &'a mut [f32],
    pub moments: MomentsMut<'a>,
    pub y_g: &'a [f32],
    pub y_m: &'a [f32],
    pub down: &'a mut [f32],
}

/// Backward pass of one chunk of blocks with the meta update fused in.
///
/// With `δ` the upstream gradient and `y` the block input on each path, the weight gradient is
/// `scale·(δ_g y_gᵀ + δ_m y_mᵀ)` and the gradient passed down is `Wᵀδ` (computed with the weights
/// *before* this update). The chunk's weights are updated by the meta optimizer right away.
pub(crate) fn backward_chunk<const CAP: usize>(
    _: Cap<CAP>,
    k: usize,
    layer: &BackwardLayer<'_>,
    chunk: BackwardChunk<'_>,
) -> MetaSums {
    let BackwardChunk {
        start,
        weights,
        moments,
        y_g,
        y_m,
        down,
    } = chunk;
    with_scratch(y_g.len(), weights.len(), |[dg, dm], grad| {
        // Leading blocks: the wide kernel.
        let done = if CAP == 4 {
            let blocks = Backward {
                scale: layer.scale,
                y_g,
                y_m,
                upstream: layer.upstream,
                start,
            };
            super::block4_avx512::backward(weights, blocks, grad, down)
        } else {
            0
        };
        let split = block_size::<CAP>(k) * done;
        backward_rest(
            Cap::<CAP>,
            k,
            layer,
            BackwardChunk {
                start: start + done,
                weights: &mut weights[split..],
                moments: None,
                y_g: &y_g[done..],
                y_m: &y_m[done..],
                down: &mut down[2 * done..],
            },
            &mut grad[split..],
            [&mut dg[done..], &mut dm[done..]],
        );
        layer.meta.apply(weights, grad, moments)
    })
}

/// The weight gradients of the chunk's blocks into `grad` and the gradients passed down, without
/// the meta update (`chunk.moments` unused), with `[dg, dm]` as scratch for the upstream.
fn backward_rest<const CAP: usize>(
    _: Cap<CAP>,
    k: usize,
    layer: &BackwardLayer<'_>,
    chunk: BackwardChunk<'_>,
    grad: &mut [f32],
    [dg, dm]: [&mut [f32]; 2],
) {
    let BackwardChunk {
        start,
        weights,
        y_g,
        y_m,
        down,
        ..
    } = chunk;
    if y_g.is_empty() {
        return;
    }
    let k = block_size::<CAP>(k);
    {
        layer.upstream.read_into(start, dg, dm);
        let blocks = BackwardBlocks {
            y_g,
            y_m,
            d_g: dg,
            d_m: dm,
        };
        if CAP == 4 && super::block4::backward(layer.scale, weights, &blocks, grad, down) {
            return;
        }
        let inputs = y_g.chunks_exact(k).zip(y_m.chunks_exact(k));
        let upstream = dg.chunks_exact(k).zip(dm.chunks_exact(k));
        let blocks = weights
            .chunks_exact(k * k)
            .zip(grad.chunks_exact_mut(k * k));
        for (((w, gw), out), ((yg, ym), (dg, dm))) in blocks
            .zip(down.chunks_exact_mut(2 * k))
            .zip(inputs.zip(upstream))
        {
            let (yg, ym) = (load::<CAP>(k, yg), load::<CAP>(k, ym));
            let (dg, dm) = (load::<CAP>(k, dg), load::<CAP>(k, dm));
            for r in 0..k {
                let (sg, sm) = (layer.scale * dg[r], layer.scale * dm[r]);
                let row = &mut gw[r * k..r * k + k];
                for c in 0..k {
                    row[c] = sg * yg[c] + sm * ym[c];
                }
            }
            let (pg, pm) = (
                block_transposed_times(k, w, &dg),
                block_transposed_times(k, w, &dm),
            );
            for c in 0..k {
                out[2 * c] = pg[c];
                out[2 * c + 1] = pm[c];
            }
        }
    }
}
