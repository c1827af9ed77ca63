//! The 4×4 block kernels four blocks (one 512-bit register of inputs) at a time, with the
//! permutation gather fused into the loads.
//!
//! At small n the separate gather pass and the one- or two-block kernels of `block4.rs` cost
//! more instructions than the products themselves; here one `vgatherdps` fetches the sixteen
//! permuted inputs of four blocks and lane shuffles line the products up, so a layer costs about
//! a third of the instructions. Each sum is formed in the portable kernels' order without fused
//! multiply-add (the transposed products start from +0 as the portable loop does, which matters
//! for signed zeros), so the results are bit-identical to them.
//!
//! Each kernel covers the largest multiple of four blocks and returns how many entries (4 per
//! block) it did; the caller finishes the rest with the other kernels. Off x86-64 or without
//! AVX-512F it does nothing and returns 0.

use super::block_kernels::{Source, Upstream};

/// Entries (floats of `y`) in one step of the kernels: four 4-blocks.
const STEP: usize = 16;

/// Whether the running CPU takes the kernels of this file.
fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The leading entries of `len` the kernels cover.
fn covered(len: usize) -> usize {
    if available() { len - len % STEP } else { 0 }
}

/// Checks that every index a gathered input may use is addressable by a 32-bit gather.
fn check_gather_len(len: usize) {
    assert!(
        i32::try_from(len).is_ok(),
        "block4_avx512: a gathered vector has {len} entries, more than a 32-bit index reaches"
    );
}

/// `y = input[start..]` and `out[b] = W[b]·y[b]` for the leading multiple of four blocks;
/// returns the entries done.
pub(crate) fn forward(
    weights: &[f32],
    input: Source<'_>,
    start: usize,
    y: &mut [f32],
    out: &mut [f32],
) -> usize {
    assert!(
        weights.len() == 4 * y.len() && out.len() == y.len(),
        "block4_avx512::forward: 16 weights and 4 inputs and outputs per block"
    );
    let done = covered(y.len());
    if done == 0 {
        return 0;
    }
    if let Source::Gathered(values, _) = input {
        check_gather_len(values.len());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `covered` saw AVX-512F; every access is bounds-checked (gathers by `read16`).
    unsafe {
        x86::forward(
            &weights[..4 * done],
            input,
            start,
            &mut y[..done],
            &mut out[..done],
        );
    }
    done
}

/// `out[b] = W[b]ᵀ·x[b]` with `x = input[start..]`, for the leading multiple of four blocks;
/// returns the entries done.
pub(crate) fn transpose(
    weights: &[f32],
    input: Source<'_>,
    start: usize,
    out: &mut [f32],
) -> usize {
    assert!(
        weights.len() == 4 * out.len(),
        "block4_avx512::transpose: 16 weights and 4 outputs per block"
    );
    let done = covered(out.len());
    if done == 0 {
        return 0;
    }
    if let Source::Gathered(values, _) = input {
        check_gather_len(values.len());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `covered` saw AVX-512F; every access is bounds-checked (gathers by `read16`).
    unsafe {
        x86::transpose(&weights[..4 * done], input, start, &mut out[..done]);
    }
    done
}

/// One backward chunk's blocks (see `block_kernels::backward_chunk`): the block inputs of both
/// paths and where the upstream gradients come from.
#[derive(Clone, Copy)]
pub(crate) struct Backward<'a> {
    pub scale: f32,
    pub y_g: &'a [f32],
    pub y_m: &'a [f32],
    pub upstream: Upstream<'a>,
    /// Entry of the layer at which the chunk starts.
    pub start: usize,
}

/// The weight gradient `scale·(δ_g y_gᵀ + δ_m y_mᵀ)` of the leading multiple of four blocks
/// into `grad` and `(Wᵀδ_g, Wᵀδ_m)` interleaved into `down`; returns the entries (of `y_g`) done.
pub(crate) fn backward(
    weights: &[f32],
    blocks: Backward<'_>,
    grad: &mut [f32],
    down: &mut [f32],
) -> usize {
    let len = blocks.y_g.len();
    assert!(
        weights.len() == 4 * len
            && grad.len() == 4 * len
            && down.len() == 2 * len
            && blocks.y_m.len() == len,
        "block4_avx512::backward: 16 weights and 4 entries per path per block"
    );
    let done = covered(len);
    if done == 0 {
        return 0;
    }
    if let Upstream::Pairs(pairs, _) = blocks.upstream {
        check_gather_len(pairs.len());
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `covered` saw AVX-512F; every access is bounds-checked (gathers by `upstream16`).
    unsafe {
        let blocks = Backward {
            y_g: &blocks.y_g[..done],
            y_m: &blocks.y_m[..done],
            ..blocks
        };
        x86::backward(
            &weights[..4 * done],
            blocks,
            &mut grad[..4 * done],
            &mut down[..2 * done],
        );
    }
    done
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m512, __m512i, _MM_HINT_T0, _mm_prefetch, _mm512_add_ps, _mm512_cmpge_epu32_mask,
        _mm512_i32gather_ps, _mm512_loadu_epi32, _mm512_loadu_ps, _mm512_mul_ps, _mm512_permute_ps,
        _mm512_permutex2var_ps, _mm512_permutexvar_ps, _mm512_set1_epi32, _mm512_set1_ps,
        _mm512_setr_epi32, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_shuffle_ps,
        _mm512_storeu_ps, _mm512_unpackhi_ps, _mm512_unpacklo_ps,
    };

    use super::{Backward, STEP, Source, Upstream};

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn load(s: &[f32]) -> __m512 {
        let s: &[f32; STEP] = s.try_into().expect("16 floats");
        // SAFETY: `s` is 16 floats.
        unsafe { _mm512_loadu_ps(s.as_ptr()) }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    fn store(s: &mut [f32], v: __m512) {
        let s: &mut [f32; STEP] = s.try_into().expect("16 floats");
        // SAFETY: `s` is 16 floats.
        unsafe { _mm512_storeu_ps(s.as_mut_ptr(), v) }
    }

    /// `index[at..at + 16]`, checked to be below `limit` (the caller's checked `i32` length).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn indices(index: &[u32], at: usize, limit: usize) -> __m512i {
        let idx: &[u32; STEP] = index[at..at + STEP].try_into().expect("16 indices");
        // SAFETY: `idx` is 16 u32.
        let idx = unsafe { _mm512_loadu_epi32(idx.as_ptr().cast()) };
        let limit = _mm512_set1_epi32(limit as i32);
        assert!(
            _mm512_cmpge_epu32_mask(idx, limit) == 0,
            "block4_avx512: a permutation index is out of range"
        );
        idx
    }

    /// Entries `at..at + 16` of the input.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn read16(input: Source<'_>, at: usize) -> __m512 {
        match input {
            Source::Direct(values) => load(&values[at..at + STEP]),
            Source::Gathered(values, index) => {
                let idx = indices(index, at, values.len());
                // SAFETY: every index is below `values.len()` (checked by `indices`).
                unsafe { _mm512_i32gather_ps::<4>(idx, values.as_ptr()) }
            }
        }
    }

    /// Asks for the pairs the gather eight steps after the one at `at` will read: at large n
    /// these gathers wait on L3 (the 1.5 MB of pairs with the streams around them do not stay
    /// in L2), and the requests overlap those waits. (The forward passes' gathers, from a
    /// vector half the size, measured no faster with it.)
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn prefetch_pairs(pairs: *const f32, index: &[u32], at: usize) {
        if let Some(ahead) = index.get(at + 8 * STEP..at + 9 * STEP) {
            for &i in ahead {
                // A prefetch never faults, whatever the address.
                _mm_prefetch::<_MM_HINT_T0>(pairs.wrapping_add(2 * i as usize).cast::<i8>());
            }
        }
    }

    /// `(δ_g, δ_m)` at entries `at..at + 16`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn upstream16(upstream: Upstream<'_>, at: usize) -> (__m512, __m512) {
        match upstream {
            Upstream::Top(g, m) => (load(&g[at..at + STEP]), load(&m[at..at + STEP])),
            Upstream::Pairs(pairs, index) => {
                let idx = indices(index, at, pairs.len() / 2);
                let base = pairs.as_ptr();
                prefetch_pairs(base, index, at);
                // SAFETY: every index i is below pairs.len() / 2 (checked by `indices`), so
                // 2i and 2i + 1 are in bounds (scale 8 = two floats per pair).
                unsafe {
                    (
                        _mm512_i32gather_ps::<8>(idx, base),
                        _mm512_i32gather_ps::<8>(idx, base.add(1)),
                    )
                }
            }
        }
    }

    /// The four blocks' weights regrouped by row: `rows[r]` holds row `r` of blocks 0..4 (one
    /// 128-bit lane each).
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn rows_of(w: &[f32]) -> [__m512; 4] {
        let [w0, w1, w2, w3] = [0, 1, 2, 3].map(|b| load(&w[STEP * b..STEP * b + STEP]));
        let a = _mm512_shuffle_f32x4::<0b01_00_01_00>(w0, w1);
        let b = _mm512_shuffle_f32x4::<0b11_10_11_10>(w0, w1);
        let c = _mm512_shuffle_f32x4::<0b01_00_01_00>(w2, w3);
        let d = _mm512_shuffle_f32x4::<0b11_10_11_10>(w2, w3);
        [
            _mm512_shuffle_f32x4::<0b10_00_10_00>(a, c),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(a, c),
            _mm512_shuffle_f32x4::<0b10_00_10_00>(b, d),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(b, d),
        ]
    }

    /// `Wᵀ·x` of four blocks from their `rows_of`: `(((0 + W₀·x₀) + W₁·x₁) + W₂·x₂) + W₃·x₃`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn transposed_times(rows: &[__m512; 4], x: __m512) -> __m512 {
        let terms = [
            _mm512_mul_ps(rows[0], _mm512_permute_ps::<0x00>(x)),
            _mm512_mul_ps(rows[1], _mm512_permute_ps::<0x55>(x)),
            _mm512_mul_ps(rows[2], _mm512_permute_ps::<0xAA>(x)),
            _mm512_mul_ps(rows[3], _mm512_permute_ps::<0xFF>(x)),
        ];
        terms
            .into_iter()
            .fold(_mm512_setzero_ps(), |acc, t| _mm512_add_ps(acc, t))
    }

    /// The 128-bit lane `B` of `v` in all four lanes.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn lane<const B: i32>(v: __m512) -> __m512 {
        _mm512_shuffle_f32x4::<B>(v, v)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn forward(
        weights: &[f32],
        input: Source<'_>,
        start: usize,
        y: &mut [f32],
        out: &mut [f32],
    ) {
        // The row sums come out with block b's row r at lane 4r + b; this puts lane 4b + r there.
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        let groups = weights
            .chunks_exact(4 * STEP)
            .zip(y.chunks_exact_mut(STEP).zip(out.chunks_exact_mut(STEP)));
        for (q, (w, (y, out))) in groups.enumerate() {
            let x = read16(input, start + STEP * q);
            store(y, x);
            // Lane group r of p_b: row r of block b times block b's input.
            let p = [
                _mm512_mul_ps(load(&w[..16]), lane::<0x00>(x)),
                _mm512_mul_ps(load(&w[16..32]), lane::<0x55>(x)),
                _mm512_mul_ps(load(&w[32..48]), lane::<0xAA>(x)),
                _mm512_mul_ps(load(&w[48..]), lane::<0xFF>(x)),
            ];
            let (t0, t1) = (
                _mm512_unpacklo_ps(p[0], p[1]),
                _mm512_unpackhi_ps(p[0], p[1]),
            );
            let (t2, t3) = (
                _mm512_unpacklo_ps(p[2], p[3]),
                _mm512_unpackhi_ps(p[2], p[3]),
            );
            // Column c of the four blocks' row r, per lane group r.
            let c0 = _mm512_shuffle_ps::<0b01_00_01_00>(t0, t2);
            let c1 = _mm512_shuffle_ps::<0b11_10_11_10>(t0, t2);
            let c2 = _mm512_shuffle_ps::<0b01_00_01_00>(t1, t3);
            let c3 = _mm512_shuffle_ps::<0b11_10_11_10>(t1, t3);
            let sums = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), c2), c3);
            store(out, _mm512_permutexvar_ps(order, sums));
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn transpose(weights: &[f32], input: Source<'_>, start: usize, out: &mut [f32]) {
        let groups = weights
            .chunks_exact(4 * STEP)
            .zip(out.chunks_exact_mut(STEP));
        for (q, (w, out)) in groups.enumerate() {
            let x = read16(input, start + STEP * q);
            store(out, transposed_times(&rows_of(w), x));
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn backward(
        weights: &[f32],
        blocks: Backward<'_>,
        grad: &mut [f32],
        down: &mut [f32],
    ) {
        let scale = _mm512_set1_ps(blocks.scale);
        // Lane 4r + c of `spread[b]` picks entry 4b + r: block b's δ_r across its row r.
        let spread = [0, 1, 2, 3].map(|b| {
            let e = 4 * b;
            _mm512_setr_epi32(
                e,
                e,
                e,
                e,
                e + 1,
                e + 1,
                e + 1,
                e + 1,
                e + 2,
                e + 2,
                e + 2,
                e + 2,
                e + 3,
                e + 3,
                e + 3,
                e + 3,
            )
        });
        // (δ_g, δ_m) pairs of entries 0..8 and 8..16.
        let low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let groups = blocks.y_g.len() / STEP;
        for q in 0..groups {
            let (w, y) = (4 * STEP * q..4 * STEP * (q + 1), STEP * q..STEP * (q + 1));
            let (dg, dm) = upstream16(blocks.upstream, blocks.start + y.start);
            let (yg, ym) = (load(&blocks.y_g[y.clone()]), load(&blocks.y_m[y.clone()]));
            let rows = rows_of(&weights[w.clone()]);
            let (pg, pm) = (transposed_times(&rows, dg), transposed_times(&rows, dm));
            let down = &mut down[2 * y.start..2 * y.end];
            store(&mut down[..STEP], _mm512_permutex2var_ps(pg, low, pm));
            store(&mut down[STEP..], _mm512_permutex2var_ps(pg, high, pm));
            let (sg, sm) = (_mm512_mul_ps(scale, dg), _mm512_mul_ps(scale, dm));
            let lanes_g = [
                lane::<0x00>(yg),
                lane::<0x55>(yg),
                lane::<0xAA>(yg),
                lane::<0xFF>(yg),
            ];
            let lanes_m = [
                lane::<0x00>(ym),
                lane::<0x55>(ym),
                lane::<0xAA>(ym),
                lane::<0xFF>(ym),
            ];
            for b in 0..4 {
                let row = _mm512_add_ps(
                    _mm512_mul_ps(_mm512_permutexvar_ps(spread[b], sg), lanes_g[b]),
                    _mm512_mul_ps(_mm512_permutexvar_ps(spread[b], sm), lanes_m[b]),
                );
                store(&mut grad[w.start + STEP * b..w.start + STEP * (b + 1)], row);
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

    /// Block counts: below one step of four blocks, exactly one, steps plus a tail of 1 and 3.
    const BLOCKS: [usize; 5] = [3, 4, 5, 8, 15];

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Deterministic values with signed zeros, and a run of +0 (as the padding gives).
    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| match i % 11 {
                3 => -0.0,
                5..=8 if i < 16 => 0.0,
                _ => (i as f32 * seed).sin(),
            })
            .collect()
    }

    /// A permutation of `0..len` (a fixed stride coprime to `len`, then a rotation).
    fn permutation(len: usize) -> Vec<u32> {
        let stride = (1..len).rev().find(|s| gcd(*s, len) == 1).unwrap_or(1);
        (0..len).map(|i| ((i * stride + 3) % len) as u32).collect()
    }

    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }

    #[test]
    fn forward_is_bit_identical_to_the_portable_kernel() {
        for blocks in BLOCKS {
            let len = 4 * blocks;
            // The chunk starts 8 entries into a longer input, as a chunk of a layer does.
            let (weights, input) = (values(4 * len, 0.731), values(len + 8, 1.37));
            let perm = permutation(len + 8);
            for source in [Source::Direct(&input), Source::Gathered(&input, &perm)] {
                let run = |fast: bool| {
                    let (mut y, mut out) = (vec![0.0; len], vec![0.0; len]);
                    if fast {
                        forward_chunk(Cap::<4>, 4, &weights, source, 8, &mut y, &mut out);
                    } else {
                        forward_chunk(Cap::<DYNAMIC>, 4, &weights, source, 8, &mut y, &mut out);
                    }
                    (bits(&y), bits(&out))
                };
                assert_eq!(run(true), run(false), "{blocks} blocks");
            }
        }
    }

    #[test]
    fn transpose_is_bit_identical_to_the_portable_kernel() {
        for blocks in BLOCKS {
            let len = 4 * blocks;
            let (mut weights, mut input) = (values(4 * len, 0.577), values(len + 8, 2.11));
            // The first block: negative weights on zero inputs give −0 products, whose sum is
            // +0 only when it starts from +0 as the portable loop's does.
            weights[..16].iter_mut().for_each(|w| *w = -0.1 - w.abs());
            input[8..12].fill(0.0);
            let perm = permutation(len + 8);
            for source in [Source::Direct(&input), Source::Gathered(&input, &perm)] {
                let run = |fast: bool| {
                    let mut out = vec![0.0; len];
                    if fast {
                        transpose_chunk(Cap::<4>, 4, &weights, source, 8, &mut out);
                    } else {
                        transpose_chunk(Cap::<DYNAMIC>, 4, &weights, source, 8, &mut out);
                    }
                    bits(&out)
                };
                assert_eq!(run(true), run(false), "{blocks} blocks");
            }
        }
    }

    #[test]
    fn backward_is_bit_identical_to_the_portable_kernel() {
        // Whole chunks with Adam and with SGD: weights after the update,
        // gradients passed down and sums.
        for blocks in BLOCKS {
            let len = 4 * blocks;
            let (y_g, y_m) = (values(len, 0.93), values(len, 0.41));
            let (mut top_g, top_m) = (values(len + 8, 1.7), values(len + 8, 2.3));
            // As in the transpose test: −0 products on the first block's path g.
            top_g[8..12].fill(0.0);
            let pairs: Vec<f32> = top_g
                .iter()
                .zip(&top_m)
                .flat_map(|(&g, &m)| [g, m])
                .collect();
            let perm = permutation(len + 8);
            let upstreams = [
                Upstream::Top(&top_g, &top_m),
                Upstream::Pairs(&pairs, &perm),
            ];
            let kinds = [MetaOptimizerKind::Adam, MetaOptimizerKind::Sgd];
            for (upstream, kind) in upstreams.into_iter().flat_map(|u| kinds.map(|k| (u, k))) {
                let run = |fast: bool| {
                    let mut meta = MetaOptimizer::new(kind, 1e-3, 4 * len);
                    let mut weights = values(4 * len, 0.731);
                    weights[..16].iter_mut().for_each(|w| *w = -0.1 - w.abs());
                    let mut down = vec![0.0; 2 * len];
                    let layer = BackwardLayer {
                        upstream,
                        scale: -0.085,
                        meta: meta.begin_step(),
                    };
                    let chunk = BackwardChunk {
                        start: 8,
                        weights: &mut weights,
                        moments: meta.moments_mut(),
                        y_g: &y_g,
                        y_m: &y_m,
                        down: &mut down,
                    };
                    let sums = if fast {
                        backward_chunk(Cap::<4>, 4, &layer, chunk)
                    } else {
                        backward_chunk(Cap::<DYNAMIC>, 4, &layer, chunk)
                    };
                    (bits(&weights), bits(&down), sums)
                };
                assert_eq!(run(true), run(false), "{blocks} blocks, {kind:?}");
            }
        }
    }

    #[test]
    fn a_permutation_index_out_of_range_panics_instead_of_reading_past_the_input() {
        let (weights, input) = (values(64, 0.3), values(16, 0.7));
        let mut perm: Vec<u32> = (0..16).collect();
        perm[9] = 16;
        let caught = std::panic::catch_unwind(|| {
            let (mut y, mut out) = (vec![0.0; 16], vec![0.0; 16]);
            let source = Source::Gathered(&input, &perm);
            forward_chunk(Cap::<4>, 4, &weights, source, 0, &mut y, &mut out);
        });
        assert!(caught.is_err());
    }
}
