//! The forward product `W·y` of 4×4 blocks (the default block size) in AVX2 registers.
//!
//! The portable kernel is a dot product per row, which the compiler turns into shuffles of single
//! floats. Here two blocks (32 weights) are multiplied by their inputs at once, and an in-lane
//! transpose lines the products up so that each row's four terms are added as vectors, in the
//! same order as the portable kernel (`((p₀ + p₁) + p₂) + p₃`, no fused multiply-add): the
//! results are bit-identical.

/// `out[b] = W[b]·y[b]` for every 4×4 block `b` on the AVX2 path, or `false` (nothing written)
/// when the CPU lacks AVX2.
pub(crate) fn forward(weights: &[f32], y: &[f32], out: &mut [f32]) -> bool {
    assert!(
        weights.len() == 4 * y.len() && out.len() == y.len() && y.len() % 4 == 0,
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
    use super::super::block_kernels::{Cap, DYNAMIC, Source, forward_chunk};

    #[test]
    fn avx2_forward_is_bit_identical_to_the_portable_kernel() {
        // 1, 2 and 7 blocks: a lone block, one pair, pairs plus a tail. Signed zeros included.
        for blocks in [1usize, 2, 7] {
            let weights: Vec<f32> = (0..16 * blocks)
                .map(|i| if i % 5 == 0 { -0.0 } else { (i as f32 * 0.731).sin() })
                .collect();
            let input: Vec<f32> = (0..4 * blocks).map(|i| (i as f32 * 1.37).cos()).collect();
            let source = Source::Direct(&input);
            let (mut y_a, mut y_b) = (vec![0.0; 4 * blocks], vec![0.0; 4 * blocks]);
            let (mut fast, mut portable) = (vec![0.0; 4 * blocks], vec![0.0; 4 * blocks]);
            forward_chunk(Cap::<4>, 4, &weights, source, 0, &mut y_a, &mut fast);
            forward_chunk(Cap::<DYNAMIC>, 4, &weights, source, 0, &mut y_b, &mut portable);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&portable), "{blocks} blocks");
            assert_eq!(y_a, input);
        }
    }
}
