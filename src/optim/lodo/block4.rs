//! The block kernels for 4×4 blocks (the default block size) in x86-64 vector registers.
//!
//! The portable kernels leave the compiler to find vectors in per-entry loops, which it does with
//! many shuffles of single floats. Here each operation is written on whole rows: the forward
//! product `W·y` two blocks (32 weights) at a time in AVX2, with an in-lane transpose that lines
//! the products up so each row's four terms are added as vectors; `Wᵀ·x` and the backward pass
//! one block at a time in SSE (part of every x86-64 CPU). Every sum is formed in the portable
//! kernels' order with no fused multiply-add, so the results are bit-identical.

/// `out[b] = W[b]·y[b]` for every 4×4 block `b` on the AVX2 path, or `false` (nothing written)
/// when the CPU lacks AVX2.
pub(crate) fn forward(weights: &[f32], y: &[f32], out: &mut [f32]) -> bool {
    assert!(
        weights.len() == 4 * y.len() && out.len() == y.len() && y.len().is_multiple_of(4),
        "block4::forward: 16 weights and 4 inputs and outputs per block"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the running CPU was just shown to have AVX2; the lengths are checked above.
        unsafe { x86::forward_avx2(weights, y, out) };
        return true;
    }
    false
}

/// `out[b] = W[b]ᵀ·x[b]` for every 4×4 block `b`, or `false` (nothing written) off x86-64.
pub(crate) fn transpose(weights: &[f32], x: &[f32], out: &mut [f32]) -> bool {
    assert!(
        weights.len() == 4 * x.len() && out.len() == x.len() && x.len().is_multiple_of(4),
        "block4::transpose: 16 weights and 4 inputs and outputs per block"
    );
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE is part of every x86-64 CPU.
        unsafe { sse::transpose(weights, x, out) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The blocks of one backward chunk (see `block_kernels::backward_chunk`): block inputs `y_g`,
/// `y_m` and upstream gradients `d_g`, `d_m` on both paths.
pub(crate) struct BackwardBlocks<'a> {
    pub y_g: &'a [f32],
    pub y_m: &'a [f32],
    pub d_g: &'a [f32],
    pub d_m: &'a [f32],
}

/// Writes the weight gradient `scale·(δ_g y_gᵀ + δ_m y_mᵀ)` of every block into `grad` and
/// `(Wᵀδ_g, Wᵀδ_m)` interleaved into `down`; `false` (nothing written) off x86-64.
pub(crate) fn backward(
    scale: f32,
    weights: &[f32],
    blocks: &BackwardBlocks<'_>,
    grad: &mut [f32],
    down: &mut [f32],
) -> bool {
    let len = blocks.y_g.len();
    assert!(
        weights.len() == 4 * len
            && grad.len() == 4 * len
            && down.len() == 2 * len
            && [blocks.y_m.len(), blocks.d_g.len(), blocks.d_m.len()] == [len; 3]
            && len.is_multiple_of(4),
        "block4::backward: 16 weights and 4 entries per path per block"
    );
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE is part of every x86-64 CPU.
        unsafe { sse::backward(scale, weights, blocks, grad, down) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
mod sse {
    use std::arch::x86_64::{
        __m128, _mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_set1_ps, _mm_setzero_ps, _mm_shuffle_ps,
        _mm_storeu_ps, _mm_unpackhi_ps, _mm_unpacklo_ps,
    };

    use super::BackwardBlocks;

    #[target_feature(enable = "sse")]
    pub(super) fn transpose(weights: &[f32], x: &[f32], out: &mut [f32]) {
        for ((w, x), out) in weights
            .chunks_exact(16)
            .zip(x.chunks_exact(4))
            .zip(out.chunks_exact_mut(4))
        {
            store(out, transposed_times(w, load(x)));
        }
    }

    #[target_feature(enable = "sse")]
    pub(super) fn backward(
        scale: f32,
        weights: &[f32],
        blocks: &BackwardBlocks<'_>,
        grad: &mut [f32],
        down: &mut [f32],
    ) {
        let inputs = blocks.y_g.chunks_exact(4).zip(blocks.y_m.chunks_exact(4));
        let upstream = blocks.d_g.chunks_exact(4).zip(blocks.d_m.chunks_exact(4));
        let outputs = grad.chunks_exact_mut(16).zip(down.chunks_exact_mut(8));
        for ((w, (gw, out)), ((yg, ym), (dg, dm))) in weights
            .chunks_exact(16)
            .zip(outputs)
            .zip(inputs.zip(upstream))
        {
            let v = [load(yg), load(ym), load(dg), load(dm)];
            backward_block(scale, w, v, gw, out);
        }
    }

    #[target_feature(enable = "sse")]
    #[inline]
    fn load(x: &[f32]) -> __m128 {
        let x: &[f32; 4] = x.try_into().expect("a block row holds 4 floats");
        // SAFETY: `x` is 4 floats; SSE is part of every x86-64 CPU.
        unsafe { _mm_loadu_ps(x.as_ptr()) }
    }

    #[target_feature(enable = "sse")]
    #[inline]
    fn store(out: &mut [f32], v: __m128) {
        let out: &mut [f32; 4] = out.try_into().expect("a block row holds 4 floats");
        // SAFETY: `out` is 4 floats; SSE is part of every x86-64 CPU.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), v) }
    }

    /// Every lane set to lane `r` of `v`.
    #[target_feature(enable = "sse")]
    #[inline]
    fn lanes_of(v: __m128) -> [__m128; 4] {
        [
            _mm_shuffle_ps::<0x00>(v, v),
            _mm_shuffle_ps::<0x55>(v, v),
            _mm_shuffle_ps::<0xAA>(v, v),
            _mm_shuffle_ps::<0xFF>(v, v),
        ]
    }

    /// `Wᵀ·x` for one row-major block: `(((0 + W₀·x₀) + W₁·x₁) + W₂·x₂) + W₃·x₃` by rows.
    #[target_feature(enable = "sse")]
    #[inline]
    fn transposed_times(w: &[f32], x: __m128) -> __m128 {
        let mut out = _mm_setzero_ps();
        for (r, x_r) in lanes_of(x).into_iter().enumerate() {
            out = _mm_add_ps(out, _mm_mul_ps(load(&w[4 * r..4 * r + 4]), x_r));
        }
        out
    }

    /// One block of the backward pass; `v` is `[y_g, y_m, δ_g, δ_m]`.
    #[target_feature(enable = "sse")]
    #[inline]
    fn backward_block(scale: f32, w: &[f32], v: [__m128; 4], grad: &mut [f32], down: &mut [f32]) {
        let [yg, ym, dg, dm] = v;
        let scale = _mm_set1_ps(scale);
        let (sg, sm) = (
            lanes_of(_mm_mul_ps(scale, dg)),
            lanes_of(_mm_mul_ps(scale, dm)),
        );
        for r in 0..4 {
            let row = _mm_add_ps(_mm_mul_ps(sg[r], yg), _mm_mul_ps(sm[r], ym));
            store(&mut grad[4 * r..4 * r + 4], row);
        }
        let (pg, pm) = (transposed_times(w, dg), transposed_times(w, dm));
        store(&mut down[..4], _mm_unpacklo_ps(pg, pm));
        store(&mut down[4..], _mm_unpackhi_ps(pg, pm));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128, _mm256_add_ps, _mm256_broadcast_ps, _mm256_loadu_ps, _mm256_mul_ps,
        _mm256_permutevar8x32_ps, _mm256_set_epi32, _mm256_shuffle_ps, _mm256_storeu_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };

    /// # Safety
    /// The CPU must support AVX2; `weights` holds 16 floats and `out` 4 per 4 floats of `y`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn forward_avx2(weights: &[f32], y: &[f32], out: &mut [f32]) {
        let blocks = y.len() / 4;
        let pairs = blocks / 2;
        // The row sums come out as [b0r0 b0r2 b1r0 b1r2 | b0r1 b0r3 b1r1 b1r3]; this puts
        // them back in order.
        let order = _mm256_set_epi32(7, 3, 6, 2, 5, 1, 4, 0);
        let (w, yp, o) = (weights.as_ptr(), y.as_ptr(), out.as_mut_ptr());
        for p in 0..pairs {
            // SAFETY: block pair `p` is weights[32p..32p + 32], y and out [8p..8p + 8], all in
            // bounds as p < blocks / 2.
            unsafe {
                let (w, yp, o) = (w.add(32 * p), yp.add(8 * p), o.add(8 * p));
                let ya = _mm256_broadcast_ps(&*yp.cast::<__m128>());
                let yb = _mm256_broadcast_ps(&*yp.add(4).cast::<__m128>());
                // Lane L of p0 is row L of the first block, of p1 its row 2 + L; p2, p3 the same
                // for the second block.
                let p0 = _mm256_mul_ps(_mm256_loadu_ps(w), ya);
                let p1 = _mm256_mul_ps(_mm256_loadu_ps(w.add(8)), ya);
                let p2 = _mm256_mul_ps(_mm256_loadu_ps(w.add(16)), yb);
                let p3 = _mm256_mul_ps(_mm256_loadu_ps(w.add(24)), yb);
                let (t0, t1) = (_mm256_unpacklo_ps(p0, p1), _mm256_unpackhi_ps(p0, p1));
                let (t2, t3) = (_mm256_unpacklo_ps(p2, p3), _mm256_unpackhi_ps(p2, p3));
                // Column c of the four rows each lane holds.
                let c0 = _mm256_shuffle_ps::<0b01_00_01_00>(t0, t2);
                let c1 = _mm256_shuffle_ps::<0b11_10_11_10>(t0, t2);
                let c2 = _mm256_shuffle_ps::<0b01_00_01_00>(t1, t3);
                let c3 = _mm256_shuffle_ps::<0b11_10_11_10>(t1, t3);
                let sums = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), c2), c3);
                _mm256_storeu_ps(o, _mm256_permutevar8x32_ps(sums, order));
            }
        }
        if blocks % 2 == 1 {
            let last = blocks - 1;
            let (w, y) = (&weights[16 * last..], &y[4 * last..]);
            for (r, o) in out[4 * last..].iter_mut().enumerate() {
                *o = ((w[4 * r] * y[0] + w[4 * r + 1] * y[1]) + w[4 * r + 2] * y[2])
                    + w[4 * r + 3] * y[3];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::block_kernels::{
        BackwardChunk, BackwardLayer, Cap, DYNAMIC, Source, Upstream, backward_chunk,
        forward_chunk, transpose_chunk,
    };
    use super::super::meta::{MetaOptimizer, MetaOptimizerKind};

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Deterministic test values with some signed zeros.
    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                if i % 7 == 3 {
                    -0.0
                } else {
                    (i as f32 * seed).sin()
                }
            })
            .collect()
    }

    #[test]
    fn sse_transpose_is_bit_identical_to_the_portable_kernel() {
        let blocks = 7;
        let (weights, mut input) = (values(16 * blocks, 0.731), values(4 * blocks, 1.37));
        // A block of zero inputs (as the padding gives): its sums are signed zeros, which only
        // the portable order (starting from +0) gets right.
        input[4..8].fill(0.0);
        let mut weights = weights;
        weights[16..32].iter_mut().for_each(|w| *w = -0.1 - w.abs());
        let source = Source::Direct(&input);
        let (mut fast, mut portable) = (vec![0.0; 4 * blocks], vec![0.0; 4 * blocks]);
        // Called directly: through `transpose_chunk` an AVX-512 CPU takes `block4_avx512`.
        assert!(super::transpose(&weights, &input, &mut fast));
        transpose_chunk(Cap::<DYNAMIC>, 4, &weights, source, 0, &mut portable);
        assert_eq!(bits(&fast), bits(&portable));
    }

    #[test]
    fn sse_backward_is_bit_identical_to_the_portable_kernel() {
        // A whole backward chunk with Adam: weights after the update, the gradients passed down
        // and the sums must all agree bit for bit.
        let blocks = 7;
        let len = 4 * blocks;
        let (y_g, y_m) = (values(len, 0.93), values(len, 0.41));
        let (mut top_g, top_m) = (values(len, 1.7), values(len, 2.3));
        top_g[4..8].fill(0.0);
        let negative_block = |w: &mut [f32]| w[16..32].iter_mut().for_each(|w| *w = -0.1 - w.abs());
        let run = |fast: bool| {
            let mut meta = MetaOptimizer::new(MetaOptimizerKind::Adam, 1e-3, 4 * len);
            let mut weights = values(4 * len, 0.731);
            negative_block(&mut weights);
            let mut down = vec![0.0; 2 * len];
            let layer = BackwardLayer {
                upstream: Upstream::Top(&top_g, &top_m),
                scale: -0.085,
                meta: meta.begin_step(),
            };
            let chunk = BackwardChunk {
                start: 0,
                weights: &mut weights,
                moments: meta.moments_mut(),
                y_g: &y_g,
                y_m: &y_m,
                down: &mut down,
            };
            let sums = if fast {
                // Called directly: through `backward_chunk` an AVX-512 CPU takes
                // `block4_avx512`.
                let blocks = super::BackwardBlocks {
                    y_g: chunk.y_g,
                    y_m: chunk.y_m,
                    d_g: &top_g,
                    d_m: &top_m,
                };
                let mut grad = vec![0.0; 4 * len];
                assert!(super::backward(
                    layer.scale,
                    chunk.weights,
                    &blocks,
                    &mut grad,
                    chunk.down
                ));
                layer.meta.apply(chunk.weights, &mut grad, chunk.moments)
            } else {
                backward_chunk(Cap::<DYNAMIC>, 4, &layer, chunk)
            };
            (bits(&weights), bits(&down), sums)
        };
        assert_eq!(run(true), run(false));
    }

    #[test]
    fn avx2_forward_is_bit_identical_to_the_portable_kernel() {
        // 1, 2 and 7 blocks: a lone block, one pair, pairs plus a tail. Signed zeros included.
        for blocks in [1usize, 2, 7] {
            let weights: Vec<f32> = (0..16 * blocks)
                .map(|i| {
                    if i % 5 == 0 {
                        -0.0
                    } else {
                        (i as f32 * 0.731).sin()
                    }
                })
                .collect();
            let input: Vec<f32> = (0..4 * blocks).map(|i| (i as f32 * 1.37).cos()).collect();
            let source = Source::Direct(&input);
            let mut y = vec![0.0; 4 * blocks];
            let (mut fast, mut portable) = (vec![0.0; 4 * blocks], vec![0.0; 4 * blocks]);
            // Called directly: through `forward_chunk` an AVX-512 CPU takes `block4_avx512`.
            if !super::forward(&weights, &input, &mut fast) {
                eprintln!("no AVX2 on this CPU: the portable kernel is the only one");
                return;
            }
            forward_chunk(
                Cap::<DYNAMIC>,
                4,
                &weights,
                source,
                0,
                &mut y,
                &mut portable,
            );
            assert_eq!(bits(&fast), bits(&portable), "{blocks} blocks");
            assert_eq!(y, input);
        }
    }
}
