//! A branch-free arctangent and its derivative, written so that loops over slices vectorize
//! (dfdx has no `atan`, and `f32::atan` is a scalar libm call).
//!
//! Range reduction: for |x| > tan(3π/8) use atan(x) = π/2 + atan(−1/x); for |x| > tan(π/8) use
//! atan(x) = π/4 + atan((x−1)/(x+1)); both map the argument into |z| ≤ tan(π/8) ≈ 0.414, where
//! atan(z) = z + z³·P(z²) with a cubic P. The three cases are selects on one division, so the
//! compiler emits no branches.

use super::simd::{madd, multiversion};

const TAN_PI_8: f32 = 0.414_213_57;
const TAN_3PI_8: f32 = 2.414_213_7;

/// Coefficients of P, fitted by us: least squares of the absolute error of atan on 2000
/// Chebyshev nodes in [0, tan(π/8)], in f64. Fit error 5.0e-9; the f32 evaluation error
/// dominates (tested below against `f32::atan`).
const P0: f32 = -0.333_327_61;
const P1: f32 = 0.199_720_15;
const P2: f32 = -0.138_256_42;
const P3: f32 = 0.079_058_54;

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
    /// `out[i] = atan(x[i])` over the common length.
    pub fn atan_slice(x: &[f32], out: &mut [f32]) => atan_slice_body
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

    #[test]
    fn slice_version_agrees_with_scalar() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.037).collect();
        let mut out = vec![0.0; x.len()];
        atan_slice(&x, &mut out);
        for (&v, &o) in x.iter().zip(&out) {
            assert!((o - v.atan()).abs() <= 2e-7);
        }
    }
}
