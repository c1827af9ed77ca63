//! The meta optimizer's Adam update of one chunk of θ, fused with the chunk's statistics.
//!
//! One pass reads the hypergradient, θ and both moments once, writes them back, and sums
//! Σ(∂f/∂θ)², Σ Δθ² and Σ θ² (before the update) on the way. The sums use eight independent f32
//! lanes, so the accumulation is not a serial chain of dependent adds (which cost more than the
//! update itself on a cache-resident chunk), folded into f64 in lane order.
//!
//! On x86-64 CPUs with AVX2 the same loop runs as explicit 8-wide instructions. Both versions
//! perform the same correctly rounded operations in the same order (no fused multiply-add), with
//! lane `i` taking the entries at `i mod 8` of the 8-aligned body, so they give bit-identical
//! updates and sums.

use super::meta::{META_ADAM_BETA1, META_ADAM_BETA2, META_ADAM_EPS, MetaSums};

/// Lanes of the sums (one AVX2 register).
const LANES: usize = 8;

/// The constants of one Adam update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamConstants {
    pub lr: f32,
    /// 1 / (1 − β1ᵗ).
    pub first_correction: f32,
    /// 1 / (1 − β2ᵗ).
    pub second_correction: f32,
}

/// Bias-corrected Adam (Kingma & Ba 2015, Algorithm 1) on one chunk; `grad` becomes the step
/// taken (Δθ = −grad afterwards). Returns the chunk's sums.
pub(crate) fn adam_chunk(
    c: AdamConstants,
    theta: &mut [f32],
    grad: &mut [f32],
    first: &mut [f32],
    second: &mut [f32],
) -> MetaSums {
    assert!(
        grad.len() == theta.len() && first.len() == theta.len() && second.len() == theta.len(),
        "adam_chunk: θ, gradient and moments must have one length"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the running CPU was just shown to have AVX2; the lengths are checked above.
        return unsafe { x86::adam_avx2(c, theta, grad, first, second) };
    }
    adam_portable(c, theta, grad, first, second)
}

/// One entry's update; returns (g, step, θ before).
#[inline(always)]
fn update(c: AdamConstants, th: &mut f32, g: &mut f32, m: &mut f32, v: &mut f32) -> [f32; 3] {
    let (b1, b2) = (META_ADAM_BETA1, META_ADAM_BETA2);
    let grad = *g;
    *m = b1 * *m + (1.0 - b1) * grad;
    *v = b2 * *v + (1.0 - b2) * grad * grad;
    let step =
        c.lr * (*m * c.first_correction) / ((*v * c.second_correction).sqrt() + META_ADAM_EPS);
    let old = *th;
    *th = old - step;
    *g = step;
    [grad, step, old]
}

/// The 8-lane sums and the entries past the 8-aligned body, folded the same way by both versions.
fn finish(
    c: AdamConstants,
    lanes: [[f32; LANES]; 3],
    tail: (&mut [f32], &mut [f32], &mut [f32], &mut [f32]),
) -> MetaSums {
    let fold = |l: &[f32; LANES]| l.iter().map(|&x| f64::from(x)).sum::<f64>();
    let mut sums = MetaSums {
        grad_sq: fold(&lanes[0]),
        step_sq: fold(&lanes[1]),
        theta_sq: fold(&lanes[2]),
    };
    let (theta, grad, first, second) = tail;
    for (((th, g), m), v) in theta.iter_mut().zip(grad).zip(first).zip(second) {
        let [g, step, old] = update(c, th, g, m, v).map(f64::from);
        sums.grad_sq += g * g;
        sums.step_sq += step * step;
        sums.theta_sq += old * old;
    }
    sums
}

/// The portable version (also the reference of the AVX2 one in the tests).
pub(crate) fn adam_portable(
    c: AdamConstants,
    theta: &mut [f32],
    grad: &mut [f32],
    first: &mut [f32],
    second: &mut [f32],
) -> MetaSums {
    let body = theta.len() - theta.len() % LANES;
    let (theta, theta_tail) = theta.split_at_mut(body);
    let (grad, grad_tail) = grad.split_at_mut(body);
    let (first, first_tail) = first.split_at_mut(body);
    let (second, second_tail) = second.split_at_mut(body);
    let mut lanes = [[0.0f32; LANES]; 3];
    let chunks = theta
        .chunks_exact_mut(LANES)
        .zip(grad.chunks_exact_mut(LANES))
        .zip(
            first
                .chunks_exact_mut(LANES)
                .zip(second.chunks_exact_mut(LANES)),
        );
    for ((th, g), (m, v)) in chunks {
        for i in 0..LANES {
            let [g, step, old] = update(c, &mut th[i], &mut g[i], &mut m[i], &mut v[i]);
            lanes[0][i] += g * g;
            lanes[1][i] += step * step;
            lanes[2][i] += old * old;
        }
    }
    finish(c, lanes, (theta_tail, grad_tail, first_tail, second_tail))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_div_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps,
        _mm256_setzero_ps, _mm256_sqrt_ps, _mm256_storeu_ps, _mm256_sub_ps,
    };

    use super::{AdamConstants, LANES, MetaSums, finish};
    use crate::optim::lodo::meta::{META_ADAM_BETA1, META_ADAM_BETA2, META_ADAM_EPS};

    /// [`super::adam_portable`] in AVX2 registers: the same operations lane by lane.
    ///
    /// # Safety
    /// The CPU must support AVX2 and the four slices must have one length.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn adam_avx2(
        c: AdamConstants,
        theta: &mut [f32],
        grad: &mut [f32],
        first: &mut [f32],
        second: &mut [f32],
    ) -> MetaSums {
        let body = theta.len() - theta.len() % LANES;
        let b1 = _mm256_set1_ps(META_ADAM_BETA1);
        let one_b1 = _mm256_set1_ps(1.0 - META_ADAM_BETA1);
        let b2 = _mm256_set1_ps(META_ADAM_BETA2);
        let one_b2 = _mm256_set1_ps(1.0 - META_ADAM_BETA2);
        let lr = _mm256_set1_ps(c.lr);
        let c1 = _mm256_set1_ps(c.first_correction);
        let c2 = _mm256_set1_ps(c.second_correction);
        let eps = _mm256_set1_ps(META_ADAM_EPS);
        let (mut grad_sq, mut step_sq, mut theta_sq) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let (th_p, g_p) = (theta.as_mut_ptr(), grad.as_mut_ptr());
        let (m_p, v_p) = (first.as_mut_ptr(), second.as_mut_ptr());
        let mut i = 0;
        while i < body {
            // SAFETY: i + 8 ≤ body ≤ the common length of the four slices.
            unsafe {
                let g = _mm256_loadu_ps(g_p.add(i));
                let th = _mm256_loadu_ps(th_p.add(i));
                let m = _mm256_add_ps(
                    _mm256_mul_ps(b1, _mm256_loadu_ps(m_p.add(i))),
                    _mm256_mul_ps(one_b1, g),
                );
                let v = _mm256_add_ps(
                    _mm256_mul_ps(b2, _mm256_loadu_ps(v_p.add(i))),
                    _mm256_mul_ps(_mm256_mul_ps(one_b2, g), g),
                );
                let step = _mm256_div_ps(
                    _mm256_mul_ps(lr, _mm256_mul_ps(m, c1)),
                    _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(v, c2)), eps),
                );
                _mm256_storeu_ps(m_p.add(i), m);
                _mm256_storeu_ps(v_p.add(i), v);
                _mm256_storeu_ps(th_p.add(i), _mm256_sub_ps(th, step));
                _mm256_storeu_ps(g_p.add(i), step);
                grad_sq = _mm256_add_ps(grad_sq, _mm256_mul_ps(g, g));
                step_sq = _mm256_add_ps(step_sq, _mm256_mul_ps(step, step));
                theta_sq = _mm256_add_ps(theta_sq, _mm256_mul_ps(th, th));
            }
            i += LANES;
        }
        let lanes = [to_array(grad_sq), to_array(step_sq), to_array(theta_sq)];
        finish(
            c,
            lanes,
            (
                &mut theta[body..],
                &mut grad[body..],
                &mut first[body..],
                &mut second[body..],
            ),
        )
    }

    #[target_feature(enable = "avx2")]
    fn to_array(x: __m256) -> [f32; LANES] {
        let mut out = [0.0f32; LANES];
        // SAFETY: `out` holds exactly one 8-float register.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), x) };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constants(t: i32) -> AdamConstants {
        AdamConstants {
            lr: 3e-3,
            first_correction: 1.0 / (1.0 - META_ADAM_BETA1.powi(t)),
            second_correction: 1.0 / (1.0 - META_ADAM_BETA2.powi(t)),
        }
    }

    #[test]
    fn dispatched_kernel_is_bit_identical_to_the_portable_loop() {
        // `adam_chunk` may take the AVX2 version; updates and sums must round identically.
        // 1003 entries: a body of 125 registers and a tail of 3.
        let len = 1003;
        let mut theta_a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut theta_b = theta_a.clone();
        let (mut ma, mut va) = (vec![0.0f32; len], vec![0.0f32; len]);
        let (mut mb, mut vb) = (ma.clone(), va.clone());
        for t in 1..6 {
            let grad: Vec<f32> = (0..len)
                .map(|i| ((i * (t as usize + 3)) as f32 * 0.11).cos() * 1e-3)
                .collect();
            let (mut ga, mut gb) = (grad.clone(), grad);
            let sa = adam_chunk(constants(t), &mut theta_a, &mut ga, &mut ma, &mut va);
            let sb = adam_portable(constants(t), &mut theta_b, &mut gb, &mut mb, &mut vb);
            assert_eq!(ga, gb);
            assert_eq!(sa, sb);
        }
        assert_eq!(theta_a, theta_b);
        assert_eq!((ma, va), (mb, vb));
    }

    #[test]
    fn sums_are_those_of_the_gradient_the_step_and_the_old_theta() {
        // Against f64 sums computed directly from the inputs and the returned steps; the f32
        // lane sums of ~1000 terms of one sign agree to ~1e-6 relative.
        let len = 1003;
        let theta0: Vec<f32> = (0..len).map(|i| (i as f32 * 0.21).cos()).collect();
        let grad0: Vec<f32> = (0..len).map(|i| (i as f32 * 0.05).sin() * 1e-2).collect();
        let (mut theta, mut grad) = (theta0.clone(), grad0.clone());
        let (mut m, mut v) = (vec![0.0f32; len], vec![0.0f32; len]);
        let sums = adam_chunk(constants(1), &mut theta, &mut grad, &mut m, &mut v);
        let sq = |x: &[f32]| x.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b;
        assert!(
            close(sums.grad_sq, sq(&grad0)),
            "{} vs {}",
            sums.grad_sq,
            sq(&grad0)
        );
        assert!(
            close(sums.step_sq, sq(&grad)),
            "{} vs {}",
            sums.step_sq,
            sq(&grad)
        );
        assert!(
            close(sums.theta_sq, sq(&theta0)),
            "{} vs {}",
            sums.theta_sq,
            sq(&theta0)
        );
        for ((new, old), step) in theta.iter().zip(&theta0).zip(&grad) {
            assert_eq!(*new, old - step);
        }
    }
}
