//! The activation passes (atan and its derivative over slices) in explicit AVX-512 vectors, where
//! each division becomes a reciprocal estimate (`vrcp14ps`) refined by one Newton step.
//!
//! The portable kernels (`atan.rs`) divide once per value, in the range reduction of atan and in
//! atan' = 1/(1+x²); these passes took a sixth of a training step, and `vdivps` is their
//! slowest instruction. Without it they cost about 15% less (profile of a batch-64 step). The
//! refined reciprocal is within about one ulp of the quotient, so these kernels agree with the
//! portable ones to a few ulp, not bit for bit (tested in `atan.rs`): a machine with AVX-512
//! trains on slightly different numbers than one without, each deterministically.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::atan::{P0, P1, P2, P3, TAN_3PI_8, TAN_PI_8};

const LANES: usize = 16;

/// Denominators are capped here: the estimate of 1/∞ is 0, which the Newton step would turn
/// into NaN (∞·0). 1e-30 instead of 0 changes nothing next to the π/2 or the gradient it meets.
const MAX_DEN: f32 = 1e30;

/// Mask of the first `n < 16` lanes.
#[inline(always)]
fn head(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// `num / den` for `den ≥ 1` (capped at [`MAX_DEN`]), to about one ulp.
#[inline]
#[target_feature(enable = "avx512f")]
fn div(num: __m512, den: __m512) -> __m512 {
    // The cap is the first operand: `min` returns the second when either is NaN, and a NaN
    // denominator must stay NaN.
    let den = _mm512_min_ps(_mm512_set1_ps(MAX_DEN), den);
    let r = _mm512_rcp14_ps(den);
    let q = _mm512_mul_ps(num, r);
    // The residual num − den·q, exact in one FMA, corrects q to ~28 bits.
    let e = _mm512_fnmadd_ps(den, q, num);
    _mm512_fmadd_ps(r, e, q)
}

/// atan of 16 values: the portable `atan` lane by lane, with `div` for the division.
#[inline]
#[target_feature(enable = "avx512f")]
fn atan_v(x: __m512) -> __m512 {
    let sign = _mm512_set1_epi32(i32::MIN);
    let xi = _mm512_castps_si512(x);
    let t = _mm512_castsi512_ps(_mm512_andnot_si512(sign, xi));
    let big = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(t, _mm512_set1_ps(TAN_3PI_8));
    let mid = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(t, _mm512_set1_ps(TAN_PI_8));
    let one = _mm512_set1_ps(1.0);
    let num = _mm512_mask_blend_ps(mid, t, _mm512_sub_ps(t, one));
    let num = _mm512_mask_blend_ps(big, num, _mm512_set1_ps(-1.0));
    let den = _mm512_mask_blend_ps(mid, one, _mm512_add_ps(t, one));
    let den = _mm512_mask_blend_ps(big, den, t);
    let base = _mm512_mask_blend_ps(
        mid,
        _mm512_setzero_ps(),
        _mm512_set1_ps(std::f32::consts::FRAC_PI_4),
    );
    let base = _mm512_mask_blend_ps(big, base, _mm512_set1_ps(std::f32::consts::FRAC_PI_2));
    let z = div(num, den);
    let w = _mm512_mul_ps(z, z);
    let p = _mm512_fmadd_ps(_mm512_set1_ps(P3), w, _mm512_set1_ps(P2));
    let p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(P1));
    let p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(P0));
    let r = _mm512_add_ps(base, _mm512_fmadd_ps(_mm512_mul_ps(z, w), p, z));
    // copysign(r, x)
    let ri = _mm512_andnot_si512(sign, _mm512_castps_si512(r));
    _mm512_castsi512_ps(_mm512_or_si512(ri, _mm512_and_si512(sign, xi)))
}

/// `g · atan'(z)` for 16 values.
#[inline]
#[target_feature(enable = "avx512f")]
fn grad_v(g: __m512, z: __m512) -> __m512 {
    div(g, _mm512_fmadd_ps(z, z, _mm512_set1_ps(1.0)))
}

/// `out[i] = atan(x[i])` over the common length.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn atan_slice(x: &[f32], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let (xp, op) = (x.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    // SAFETY (all accesses): lanes i..i+16 are below n, or masked to those below n.
    while i + LANES <= n {
        unsafe { _mm512_storeu_ps(op.add(i), atan_v(_mm512_loadu_ps(xp.add(i)))) };
        i += LANES;
    }
    if i < n {
        let m = head(n - i);
        unsafe {
            let v = atan_v(_mm512_maskz_loadu_ps(m, xp.add(i)));
            _mm512_mask_storeu_ps(op.add(i), m, v);
        }
    }
}

/// `out[i] = g[i] · atan'(z[i])` over the common length.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn mul_grad_into(g: &[f32], z: &[f32], out: &mut [f32]) {
    let n = g.len().min(z.len()).min(out.len());
    // SAFETY: the three slices hold at least n elements each; the CPU supports AVX-512F.
    unsafe { mul_grad_raw(g.as_ptr(), z.as_ptr(), out.as_mut_ptr(), n) }
}

/// `g[i] *= atan'(z[i])` over the common length.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub unsafe fn mul_grad(z: &[f32], g: &mut [f32]) {
    let n = g.len().min(z.len());
    let gp = g.as_mut_ptr();
    // SAFETY: both slices hold at least n elements; each lane is read before it is written.
    unsafe { mul_grad_raw(gp, z.as_ptr(), gp, n) }
}

/// `out[i] = g[i]·atan'(z[i])` for i < n; `out` may be `g` (in place: each block of lanes is
/// loaded before it is stored).
///
/// # Safety
/// `gp`, `zp` and `op` are valid for n elements; the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn mul_grad_raw(gp: *const f32, zp: *const f32, op: *mut f32, n: usize) {
    let mut i = 0;
    // SAFETY (all accesses): lanes i..i+16 are below n, or masked to those below n.
    while i + LANES <= n {
        unsafe {
            let v = grad_v(_mm512_loadu_ps(gp.add(i)), _mm512_loadu_ps(zp.add(i)));
            _mm512_storeu_ps(op.add(i), v);
        }
        i += LANES;
    }
    if i < n {
        let m = head(n - i);
        unsafe {
            let v = grad_v(
                _mm512_maskz_loadu_ps(m, gp.add(i)),
                _mm512_maskz_loadu_ps(m, zp.add(i)),
            );
            _mm512_mask_storeu_ps(op.add(i), m, v);
        }
    }
}
