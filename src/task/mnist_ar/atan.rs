//! A branch-free arctangent and its derivative, written so that loops over slices vectorize
//! (dfdx has no `atan`, and `f32::atan` is a scalar libm call).
//!
//! Range reduction: for |x| > tan(3π/8) use atan(x) = π/2 + atan(−1/x); for |x| > tan(π/8) use
//! atan(x) = π/4 + atan((x−1)/(x+1)); both map the argument into |z| ≤ tan(π/8) ≈ 0.414, where
//! atan(z) = z + z³·P(z²) with a cubic P. The three cases are selects on one division, so the
//! compiler emits no branches.

#[cfg(target_arch = "x86_64")]
use super::atan_avx512;
use super::simd::{has_avx512, madd, multiversion};

pub(super) const TAN_PI_8: f32 = 0.414_213_57;
pub(super) const TAN_3PI_8: f32 = 2.414_213_7;

/// Coefficients of P, fitted by us: least squares of the absolute error of atan on 2000
/// Chebyshev nodes in [0, tan(π/8)], in f64. Fit error 5.0e-9; the f32 evaluation error
/// dominates (tested below against `f32::atan`).
pub(super) const P0: f32 = -0.333_327_61;
pub(super) const P1: f32 = 0.199_720_15;
pub(super) const P2: f32 = -0.138_256_42;
pub(super) const P3: f32 = 0.079_058_54;

/// atan(x) to within 2e-7 absolute; NaN in gives NaN out, ±∞ gives ±π/2.
#[inline(always)]
pub fn atan<const FMA: bool>(x: f32) -> f32 {
    let t = x.abs();
    let big = t > TAN_3PI_8;
    let mid = t > TAN_PI_8;
    let num = if big {
        -1.0
    } else if mid {
        t - 1.0
    } else {
        t
    };
    let den = if big {
        t
    } else if mid {
        t + 1.0
    } else {
        1.0
    };
    let base = if big {
        std::f32::consts::FRAC_PI_2
    } else if mid {
        std::f32::consts::FRAC_PI_4
    } else {
        0.0
    };
    let z = num / den;
    let w = z * z;
    let p = madd::<FMA>(madd::<FMA>(madd::<FMA>(P3, w, P2), w, P1), w, P0);
    let r = base + madd::<FMA>(z * w, p, z);
    r.copysign(x)
}

/// d/dx atan(x) = 1 / (1 + x²).
#[inline(always)]
pub fn atan_grad<const FMA: bool>(x: f32) -> f32 {
    1.0 / madd::<FMA>(x, x, 1.0)
}

#[inline(always)]
fn atan_slice_body<const FMA: bool>(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = atan::<FMA>(v);
    }
}

multiversion! {
    /// `out[i] = atan(x[i])` over the common length, dividing exactly.
    pub fn atan_slice_portable(x: &[f32], out: &mut [f32]) => atan_slice_body
}

#[inline(always)]
fn mul_grad_into_body<const FMA: bool>(g: &[f32], z: &[f32], out: &mut [f32]) {
    for (o, (&g, &z)) in out.iter_mut().zip(g.iter().zip(z)) {
        *o = g * atan_grad::<FMA>(z);
    }
}

multiversion! {
    /// `out[i] = g[i] · atan'(z[i])` over the common length, dividing exactly.
    pub fn mul_grad_into_portable(g: &[f32], z: &[f32], out: &mut [f32]) => mul_grad_into_body
}

#[inline(always)]
fn mul_grad_body<const FMA: bool>(z: &[f32], g: &mut [f32]) {
    for (g, &z) in g.iter_mut().zip(z) {
        *g *= atan_grad::<FMA>(z);
    }
}

multiversion! {
    /// `g[i] *= atan'(z[i])` over the common length, dividing exactly.
    pub fn mul_grad_portable(z: &[f32], g: &mut [f32]) => mul_grad_body
}

/// `out[i] = atan(x[i])` over the common length: the AVX-512 kernel where the CPU has it (a few
/// ulp from the portable one, see `atan_avx512.rs`), the portable one otherwise.
pub fn atan_slice(x: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { atan_avx512::atan_slice(x, out) };
    }
    atan_slice_portable(x, out)
}

/// `out[i] = g[i] · atan'(z[i])` over the common length (dispatched as [`atan_slice`]).
pub fn mul_grad_into(g: &[f32], z: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { atan_avx512::mul_grad_into(g, z, out) };
    }
    mul_grad_into_portable(g, z, out)
}

/// `g[i] *= atan'(z[i])` over the common length (dispatched as [`atan_slice`]): chains a
/// gradient through the activation.
pub fn mul_grad(z: &[f32], g: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { atan_avx512::mul_grad(z, g) };
    }
    mul_grad_portable(z, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(x: f32) -> [f32; 2] {
        [atan::<false>(x), atan::<true>(x)]
    }

    /// Dense sweep of [-20, 20] plus wide magnitudes; the reference is `f32::atan` (libm).
    #[test]
    fn matches_libm_within_2e_7() {
        let mut worst = 0.0f32;
        let mut check = |x: f32| {
            for y in both(x) {
                let err = (y - x.atan()).abs();
                worst = worst.max(err);
            }
        };
        for i in -2_000_000..=2_000_000 {
            check(i as f32 * 1e-5);
        }
        for e in -30..=30 {
            for m in 1..1000 {
                let x = m as f32 * 10f32.powi(e) / 1000.0;
                check(x);
                check(-x);
            }
        }
        assert!(worst <= 2e-7, "max |atan - f32::atan| = {worst:e}");
    }

    #[test]
    fn special_values() {
        for y in both(0.0) {
            assert_eq!(y, 0.0);
        }
        for y in both(f32::INFINITY) {
            assert!((y - std::f32::consts::FRAC_PI_2).abs() < 1e-7);
        }
        for y in both(f32::NEG_INFINITY) {
            assert!((y + std::f32::consts::FRAC_PI_2).abs() < 1e-7);
        }
        assert!(atan::<true>(f32::NAN).is_nan());
        // Odd symmetry holds exactly by construction (copysign).
        for x in [0.3f32, 0.9, 1.7, 2.5, 40.0] {
            assert_eq!(atan::<true>(-x), -atan::<true>(x));
        }
    }

    #[test]
    fn gradient_matches_central_differences() {
        // f64 differences of f64 atan, so only the f32 rounding of 1/(1+x²) remains (~1e-7).
        for i in -400..=400 {
            let x = i as f64 * 0.01;
            let h = 1e-5;
            let fd = ((x + h).atan() - (x - h).atan()) / (2.0 * h);
            let g = atan_grad::<true>(x as f32) as f64;
            assert!((g - fd).abs() < 1e-6, "x={x} grad={g} fd={fd}");
        }
    }

    /// The sweep of `matches_libm_within_2e_7` as one slice (length not a multiple of 16, so
    /// the vector kernels' masked tail is covered too).
    fn sweep() -> Vec<f32> {
        let mut x: Vec<f32> = (-2_000_000..=2_000_000).map(|i| i as f32 * 1e-5).collect();
        for e in -30..=30 {
            for m in 1..1000 {
                let v = m as f32 * 10f32.powi(e) / 1000.0;
                x.extend([v, -v]);
            }
        }
        x.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            -f32::MAX,
            1e-40,
        ]);
        x
    }

    fn path() -> &'static str {
        if has_avx512() { "AVX-512" } else { "portable" }
    }

    #[test]
    fn slice_version_matches_libm_and_the_scalar_within_a_few_ulp() {
        let x = sweep();
        let mut out = vec![f32::NAN; x.len()];
        atan_slice(&x, &mut out);
        for (&v, &o) in x.iter().zip(&out) {
            let scalar = atan::<true>(v);
            assert!((o - v.atan()).abs() <= 2e-7, "{}: atan({v}) = {o}", path());
            // Within 2 ulp of the exactly dividing scalar version.
            let ulp = f32::EPSILON * scalar.abs().max(f32::MIN_POSITIVE);
            assert!(
                (o - scalar).abs() <= 2.0 * ulp,
                "{}: atan({v}) = {o} vs {scalar}",
                path()
            );
            assert_eq!(
                o.is_sign_negative(),
                v.is_sign_negative(),
                "sign of atan({v})"
            );
        }
        let mut nan = [0.0; 2];
        atan_slice(&[f32::NAN, -f32::NAN], &mut nan);
        assert!(nan.iter().all(|v| v.is_nan()), "{nan:?}");
    }

    #[test]
    fn gradient_passes_match_the_exact_division_within_a_few_ulp() {
        let z: Vec<f32> = sweep().into_iter().step_by(7).collect();
        let g: Vec<f32> = (0..z.len())
            .map(|i| ((i % 13) as f32 - 6.0) * 0.37)
            .collect();
        let mut into = vec![f32::NAN; z.len()];
        mul_grad_into(&g, &z, &mut into);
        let mut in_place = g.clone();
        mul_grad(&z, &mut in_place);
        assert_eq!(into, in_place, "the two gradient kernels agree bit for bit");
        let mut portable = vec![f32::NAN; z.len()];
        mul_grad_into_portable(&g, &z, &mut portable);
        for ((&o, &p), (&g, &z)) in into.iter().zip(&portable).zip(g.iter().zip(&z)) {
            let exact = (g as f64 / (1.0 + z as f64 * z as f64)) as f32;
            // Above 1e30 the vector kernels cap 1 + z², leaving ≤ 1e-30·|g| for 0.
            let tol = (3.0 * f32::EPSILON * exact.abs()).max(6e-30);
            assert!(
                (o - exact).abs() <= tol,
                "{}: {g}·atan'({z}) = {o} vs {exact}",
                path()
            );
            assert!(
                (p - exact).abs() <= tol,
                "portable: {g}·atan'({z}) = {p} vs {exact}"
            );
        }
        let mut nan = [0.0];
        mul_grad_into(&[1.0], &[f32::NAN], &mut nan);
        assert!(nan[0].is_nan());
    }
}
