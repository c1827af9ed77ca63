//! The 1×1 convolutions' matrix products (K, N ∈ {20, 40, 120}) as register-blocked kernels with
//! nothing packed: products of many rows with a small matrix, `dst (R×N) = a (R×K) · b (K×N)`,
//! several rows at a time with `b` read from L1; and the weight gradients, `out (K×N) += aᵀ·d`
//! summed over the R rows.
//!
//! A general GEMM packs both operands into panels and pays a per-tile setup that only a long
//! inner dimension amortises; here K is 20 to 120 and `b` (≤ 2,400 values) fits in L1 as it
//! is. In the row products each output value is summed in the order k = 0, 1, …, K−1, starting
//! from 0 (or from `dst` when accumulating); in the reductions over the rows in order from 0 and
//! then added to `out`: neither depends on the blocking.

use super::simd::{LANES, V, load, multiversion, vmadd};

/// One panel of columns, `c0..c0 + w` of `dst`'s `n`, for `M` rows at a time: `b`'s columns
/// padded with zeros to `NV` whole vectors, so every operation is on whole vectors and the
/// `M × NV` accumulators stay in registers across `k` (left to itself, the compiler vectorises
/// over rows instead, with gathers and scatters).
#[inline(always)]
fn panel<const FMA: bool, const K: usize, const NV: usize, const M: usize>(
    dst: &mut [f32],
    a: &[f32],
    b: &[[V; NV]; K],
    (n, c0, w): (usize, usize, usize),
    accumulate: bool,
) {
    for (d, x) in dst.chunks_exact_mut(M * n).zip(a.chunks_exact(M * K)) {
        let mut acc = [[[0.0f32; LANES]; NV]; M];
        if accumulate {
            for (r, acc) in acc.iter_mut().enumerate() {
                for (j, &v) in d[r * n + c0..r * n + c0 + w].iter().enumerate() {
                    acc[j / LANES][j % LANES] = v;
                }
            }
        }
        for (k, bk) in b.iter().enumerate() {
            for (r, acc) in acc.iter_mut().enumerate() {
                let xv = [x[r * K + k]; LANES];
                for v in 0..NV {
                    acc[v] = vmadd::<FMA>(xv, bk[v], acc[v]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (j, d) in d[r * n + c0..r * n + c0 + w].iter_mut().enumerate() {
                *d = acc[j / LANES][j % LANES];
            }
        }
    }
}

/// The whole product, panel by panel of `NV` vectors' width, each in blocks of `M` rows and
/// then the remaining rows one at a time.
#[inline(always)]
fn thin_body<const FMA: bool, const K: usize, const N: usize, const NV: usize, const M: usize>(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    accumulate: bool,
) {
    assert!(b.len() == K * N, "b is {K}×{N}");
    let r = a.len() / K;
    assert!(
        a.len() == r * K && dst.len() == r * N,
        "a is R×{K}, dst R×{N}"
    );
    let full = r / M * M;
    let (d_blocks, d_tail) = dst.split_at_mut(full * N);
    let (a_blocks, a_tail) = a.split_at(full * K);
    for c0 in (0..N).step_by(NV * LANES) {
        let w = (N - c0).min(NV * LANES);
        let mut bp = [[[0.0f32; LANES]; NV]; K];
        for (p, row) in bp.iter_mut().zip(b.chunks_exact(N)) {
            for (j, &v) in row[c0..c0 + w].iter().enumerate() {
                p[j / LANES][j % LANES] = v;
            }
        }
        panel::<FMA, K, NV, M>(d_blocks, a_blocks, &bp, (N, c0, w), accumulate);
        panel::<FMA, K, NV, 1>(d_tail, a_tail, &bp, (N, c0, w), accumulate);
    }
}

macro_rules! shape {
    ($(#[$meta:meta])* $name:ident, $body:ident, $k:literal, $n:literal, $nv:literal, $m:literal) => {
        #[inline(always)]
        fn $body<const FMA: bool>(dst: &mut [f32], a: &[f32], b: &[f32], accumulate: bool) {
            thin_body::<FMA, $k, $n, $nv, $m>(dst, a, b, accumulate)
        }
        multiversion! {
            $(#[$meta])*
            pub fn $name(dst: &mut [f32], a: &[f32], b: &[f32], accumulate: bool) => $body
        }
    };
}

// Panels of 5 vectors (40 columns) or 3 (20, padded to 24) by 4 rows: 20 or 12 accumulators,
// which leaves room in the 16 AVX2 registers only for the narrow ones but in the 32 of AVX-512
// for both.
shape!(
    /// `dst = a·b` (or `+=` when `accumulate`), a: R×20, b: 20×40 (conv1).
    mul_20_40, mul_20_40_body, 20, 40, 5, 4
);
shape!(
    /// `dst = a·b` (or `+=`), a: R×40, b: 40×20 (conv1's input gradient).
    mul_40_20, mul_40_20_body, 40, 20, 3, 4
);
shape!(
    /// `dst = a·b` (or `+=`), a: R×120, b: 120×20 (conv2).
    mul_120_20, mul_120_20_body, 120, 20, 3, 4
);
shape!(
    /// `dst = a·b` (or `+=`), a: R×20, b: 20×120 (conv2's input gradient), in three panels.
    mul_20_120, mul_20_120_body, 20, 120, 5, 4
);

/// `out (K×N) += aᵀ·d` for `a`: R×K and `d`: R×N, summing over the R rows (a weight gradient),
/// in tiles of `KB` rows of `out` by `PV` vectors of its `N = NV·8` columns, whose accumulators
/// stay in registers across the rows.
#[inline(always)]
fn reduce_body<
    const FMA: bool,
    const K: usize,
    const N: usize,
    const NV: usize,
    const PV: usize,
    const KB: usize,
>(
    out: &mut [f32],
    a: &[f32],
    d: &[f32],
) {
    assert!(
        N == NV * LANES && NV.is_multiple_of(PV),
        "N = {N} is not NV = {NV} vectors"
    );
    assert!(K.is_multiple_of(KB) && out.len() == K * N, "out is {K}×{N}");
    let r = a.len() / K;
    assert!(a.len() == r * K && d.len() == r * N, "a is R×{K}, d R×{N}");
    for p0 in (0..NV).step_by(PV) {
        for k0 in (0..K).step_by(KB) {
            let mut acc = [[[0.0f32; LANES]; PV]; KB];
            for (x, dr) in a.chunks_exact(K).zip(d.chunks_exact(N)) {
                let mut dv = [[0.0f32; LANES]; PV];
                for (v, dv) in dv.iter_mut().enumerate() {
                    *dv = load(dr, (p0 + v) * LANES);
                }
                for (kb, acc) in acc.iter_mut().enumerate() {
                    let xv = [x[k0 + kb]; LANES];
                    for v in 0..PV {
                        acc[v] = vmadd::<FMA>(xv, dv[v], acc[v]);
                    }
                }
            }
            for (kb, acc) in acc.iter().enumerate() {
                let row = &mut out[(k0 + kb) * N + p0 * LANES..(k0 + kb) * N + (p0 + PV) * LANES];
                for (o, v) in row.iter_mut().zip(acc.as_flattened()) {
                    *o += v;
                }
            }
        }
    }
}

#[inline(always)]
fn grad_120_20_body<const FMA: bool>(out: &mut [f32], a: &[f32], d: &[f32]) {
    // Summed as its transpose dᵀ·a (20×120), whose rows are whole vectors of `a`'s contiguous
    // 120-value rows (20 columns are not): reducing over `a`'s columns directly reads 4 of them
    // from each row per pass, and measured more than twice as slow.
    let mut t = [0.0f32; 20 * 120];
    reduce_body::<FMA, 20, 120, 15, 5, 4>(&mut t, d, a);
    for (k, row) in out.chunks_exact_mut(20).enumerate() {
        for (n, o) in row.iter_mut().enumerate() {
            *o += t[n * 120 + k];
        }
    }
}

multiversion! {
    /// `out (120×20) += aᵀ·d`, a: R×120, d: R×20 (conv2's weight gradient).
    pub fn grad_120_20(out: &mut [f32], a: &[f32], d: &[f32]) => grad_120_20_body
}

#[inline(always)]
fn grad_20_40_body<const FMA: bool>(out: &mut [f32], a: &[f32], d: &[f32]) {
    reduce_body::<FMA, 20, 40, 5, 5, 4>(out, a, d)
}

multiversion! {
    /// `out (20×40) += aᵀ·d`, a: R×20, d: R×40 (conv1's weight gradient).
    pub fn grad_20_40(out: &mut [f32], a: &[f32], d: &[f32]) => grad_20_40_body
}

/// `m` (rows × cols, row-major) transposed into `out` (cols × rows).
pub fn transpose(m: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    assert!(m.len() == rows * cols && out.len() == rows * cols);
    for (i, row) in m.chunks_exact(cols).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[j * rows + i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    type Kernel = fn(&mut [f32], &[f32], &[f32], bool);

    /// Every shape, for row counts that leave every remainder of the blocking, against an f64
    /// product; accumulating adds to what `dst` held.
    #[test]
    fn agree_with_the_f64_product_for_every_shape_and_remainder() {
        // The dispatched kernels (AVX-512 or AVX2 where the CPU has them) and the portable ones.
        let kernels: [(Kernel, usize, usize); 8] = [
            (mul_20_40, 20, 40),
            (mul_40_20, 40, 20),
            (mul_120_20, 120, 20),
            (mul_20_120, 20, 120),
            (mul_20_40_body::<false>, 20, 40),
            (mul_40_20_body::<false>, 40, 20),
            (mul_120_20_body::<false>, 120, 20),
            (mul_20_120_body::<false>, 20, 120),
        ];
        for (f, k, n) in kernels {
            for r in [0, 1, 2, 3, 7, 8, 9, 49] {
                let a = values(r * k, 1);
                let b = values(k * n, 2);
                let start = values(r * n, 3);
                let mut want = vec![0.0f64; r * n];
                for i in 0..r {
                    for j in 0..n {
                        want[i * n + j] = (0..k)
                            .map(|l| a[i * k + l] as f64 * b[l * n + j] as f64)
                            .sum();
                    }
                }
                let mut set = vec![f32::NAN; r * n];
                f(&mut set, &a, &b, false);
                let mut added = start.clone();
                f(&mut added, &a, &b, true);
                for i in 0..r * n {
                    let tol = 1e-5 * k as f64;
                    assert!(
                        (set[i] as f64 - want[i]).abs() < tol,
                        "{k}×{n}, {r} rows, {i}"
                    );
                    let w = want[i] + start[i] as f64;
                    assert!(
                        (added[i] as f64 - w).abs() < tol,
                        "{k}×{n} +=, {r} rows, {i}"
                    );
                }
            }
        }
    }

    type Reduction = fn(&mut [f32], &[f32], &[f32]);

    #[test]
    fn reductions_agree_with_the_f64_sum_and_add_to_out() {
        let kernels: [(Reduction, usize, usize); 4] = [
            (grad_120_20, 120, 20),
            (grad_20_40, 20, 40),
            (grad_120_20_body::<false>, 120, 20),
            (grad_20_40_body::<false>, 20, 40),
        ];
        for (f, k, n) in kernels {
            for r in [0, 1, 5, 49] {
                let a = values(r * k, 7);
                let d = values(r * n, 8);
                let start = values(k * n, 9);
                let mut out = start.clone();
                f(&mut out, &a, &d);
                for i in 0..k {
                    for j in 0..n {
                        let sum: f64 = (0..r)
                            .map(|l| a[l * k + i] as f64 * d[l * n + j] as f64)
                            .sum();
                        let want = start[i * n + j] as f64 + sum;
                        let got = out[i * n + j] as f64;
                        assert!(
                            (got - want).abs() < 1e-5 * (r + 1) as f64,
                            "{k}×{n} {r}: {i},{j}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn blocked_rows_equal_single_rows_bit_for_bit() {
        let (k, n, r) = (120, 20, 19);
        let (a, b) = (values(r * k, 5), values(k * n, 6));
        let mut all = vec![0.0; r * n];
        mul_120_20(&mut all, &a, &b, false);
        for i in 0..r {
            let mut one = vec![0.0; n];
            mul_120_20(&mut one, &a[i * k..(i + 1) * k], &b, false);
            assert_eq!(one, all[i * n..(i + 1) * n], "row {i}");
        }
    }

    #[test]
    fn transposes() {
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut t = [0.0; 6];
        transpose(&m, 2, 3, &mut t);
        assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
