//! Single-pass vector kernels for the baseline optimizers.
//!
//! The baselines run next to LODO on the 94,696-parameter CNN every step, so each update is one
//! pass over its vectors. Reductions keep `LANES` independent accumulators: a single running sum
//! is a serial dependency chain the compiler may not reorder, while lane-wise sums vectorize.
//! The quasi-Newton dot products use f64 lanes (f32·f32 products are exact in f64, so only the
//! additions round); the display statistics of a step use f32 lanes per block (see
//! [`StepSums::add`]), which halved the cost of an SGD step at n = 94,696.

use std::ops::Range;

use anyhow::{Result, ensure};

use super::StepStats;

/// Independent accumulators per reduction; 8 keeps two 4-wide f64 registers busy per sum.
const LANES: usize = 8;

/// Elements per block of a fused update. A block's Δx lives on the stack (4 KiB), so the update
/// writes it and the statistics read it back from L1.
const BLOCK: usize = 1024;

/// Fails unless the parameters and the gradient both have the optimizer's dimension `n`.
pub fn check_dims(name: &str, n: usize, params: &[f32], grad: &[f32]) -> Result<()> {
    ensure!(
        params.len() == n && grad.len() == n,
        "{name}: built for {n} parameters, got {} parameters and a gradient of {}",
        params.len(),
        grad.len()
    );
    Ok(())
}

/// Running sums `Σ s²`, `Σ g²`, `Σ s·g` of a step and its gradient, for [`StepStats`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StepSums {
    ss: f64,
    gg: f64,
    sg: f64,
}

impl StepSums {
    /// Adds the contribution of `step[i]`, `grad[i]` for all `i`. Called per block (≤ `BLOCK`
    /// elements), which is summed in f32 lanes — each lane adds ≤ 128 products, a relative
    /// error of ~1e-6 that the display statistics can afford at half the instructions of f64
    /// lanes — and then added to the f64 totals.
    pub fn add(&mut self, step: &[f32], grad: &[f32]) {
        debug_assert!(
            step.len() <= BLOCK,
            "StepSums::add takes one block at a time"
        );
        let grad = &grad[..step.len()];
        let (sc, st) = step.as_chunks::<LANES>();
        let (gc, gt) = grad.as_chunks::<LANES>();
        let (mut ss, mut gg, mut sg) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
        for (s, g) in sc.iter().zip(gc) {
            for l in 0..LANES {
                ss[l] += s[l] * s[l];
                gg[l] += g[l] * g[l];
                sg[l] += s[l] * g[l];
            }
        }
        for (&s, &g) in st.iter().zip(gt) {
            let (s, g) = (s as f64, g as f64);
            self.ss += s * s;
            self.gg += g * g;
            self.sg += s * g;
        }
        let total = |a: [f32; LANES]| a.iter().map(|&v| v as f64).sum::<f64>();
        self.ss += total(ss);
        self.gg += total(gg);
        self.sg += total(sg);
    }

    /// Adds the sums of another piece of the same step.
    pub fn merge(&mut self, other: StepSums) {
        self.ss += other.ss;
        self.gg += other.gg;
        self.sg += other.sg;
    }

    pub fn stats(&self) -> StepStats {
        StepStats::from_sums(self.ss, self.gg, self.sg)
    }
}

/// Runs an element-wise update block by block and measures the step in the same sweep.
///
/// `update(range, x, g, dx)` gets the parameters `x` and gradient `g` of the block `range`, must
/// write the step it takes into `dx` and apply it to `x`; the optimizer slices its own state
/// buffers with `range`.
pub fn fused_step<F>(params: &mut [f32], grad: &[f32], update: F) -> StepStats
where
    F: FnMut(Range<usize>, &mut [f32], &[f32], &mut [f32]),
{
    fused_sums(params, grad, update).stats()
}

/// [`fused_step`] returning the raw sums, for optimizers that update a vector piece by piece
/// (LARS, layer by layer) and [`StepSums::merge`] the pieces.
pub fn fused_sums<F>(params: &mut [f32], grad: &[f32], mut update: F) -> StepSums
where
    F: FnMut(Range<usize>, &mut [f32], &[f32], &mut [f32]),
{
    let mut dx = [0f32; BLOCK];
    let mut sums = StepSums::default();
    let n = params.len();
    let grad = &grad[..n];
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let (x, g, d) = (
            &mut params[start..end],
            &grad[start..end],
            &mut dx[..end - start],
        );
        update(start..end, x, g, d);
        sums.add(d, g);
        start = end;
    }
    sums
}

/// `Σ aᵢ·bᵢ` with lane-wise f64 accumulation.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    let b = &b[..a.len()];
    let (ac, at) = a.as_chunks::<LANES>();
    let (bc, bt) = b.as_chunks::<LANES>();
    let mut acc = [0f64; LANES];
    for (a, b) in ac.iter().zip(bc) {
        for l in 0..LANES {
            acc[l] += a[l] as f64 * b[l] as f64;
        }
    }
    let tail: f64 = at.iter().zip(bt).map(|(&a, &b)| a as f64 * b as f64).sum();
    acc.iter().sum::<f64>() + tail
}

/// `‖a‖₂` with lane-wise f64 accumulation.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// `Σ |aᵢ|`.
pub fn norm1(a: &[f32]) -> f64 {
    let (ac, at) = a.as_chunks::<LANES>();
    let mut acc = [0f64; LANES];
    for a in ac {
        for l in 0..LANES {
            acc[l] += a[l].abs() as f64;
        }
    }
    acc.iter().sum::<f64>() + at.iter().map(|a| a.abs() as f64).sum::<f64>()
}

/// `vᵢ ← f(vᵢ, xᵢ)` for all `i`, returning `Σ vᵢ·wᵢ` of the new `v` from the same pass (the
/// two-loop recursion's "update, then project on the next pair" fused into one sweep).
#[inline]
pub fn update_dot(v: &mut [f32], x: &[f32], w: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let n = v.len();
    let (x, w) = (&x[..n], &w[..n]);
    let (vc, vt) = v.as_chunks_mut::<LANES>();
    let (xc, xt) = x.as_chunks::<LANES>();
    let (wc, wt) = w.as_chunks::<LANES>();
    let mut acc = [0f64; LANES];
    for ((v, x), w) in vc.iter_mut().zip(xc).zip(wc) {
        for l in 0..LANES {
            v[l] = f(v[l], x[l]);
            acc[l] += v[l] as f64 * w[l] as f64;
        }
    }
    let mut tail = 0.0;
    for ((v, &x), &w) in vt.iter_mut().zip(xt).zip(wt) {
        *v = f(*v, x);
        tail += *v as f64 * w as f64;
    }
    acc.iter().sum::<f64>() + tail
}

/// The quasi-Newton move `x ← x − η·d`, recording the step actually taken (after rounding) in
/// `s` so that the curvature pair matches the parameters' real displacement; returns the sums
/// for the step statistics against `g`.
pub fn move_and_record(x: &mut [f32], d: &[f32], eta: f32, s: &mut [f32], g: &[f32]) -> StepSums {
    let n = x.len();
    let (d, s, g) = (&d[..n], &mut s[..n], &g[..n]);
    let mut start = 0;
    let mut sums = StepSums::default();
    while start < n {
        let end = (start + BLOCK).min(n);
        for i in start..end {
            let old = x[i];
            let new = old - eta * d[i];
            x[i] = new;
            s[i] = new - old;
        }
        sums.add(&s[start..end], &g[start..end]);
        start = end;
    }
    sums
}

/// Curvature pair of a step: `y ← g_new − g + λ·s`, returning `(sᵀy, yᵀy, sᵀs)` from the same
/// pass.
pub fn curvature_pair(
    y: &mut [f32],
    g_new: &[f32],
    g: &[f32],
    s: &[f32],
    lambda: f32,
) -> (f64, f64, f64) {
    let n = y.len();
    let (g_new, g, s) = (&g_new[..n], &g[..n], &s[..n]);
    let (yc, yt) = y.as_chunks_mut::<LANES>();
    let (nc, nt) = g_new.as_chunks::<LANES>();
    let (gc, gt) = g.as_chunks::<LANES>();
    let (sc, st) = s.as_chunks::<LANES>();
    let (mut sy, mut yy, mut ss) = ([0f64; LANES], [0f64; LANES], [0f64; LANES]);
    for (((y, gn), g), s) in yc.iter_mut().zip(nc).zip(gc).zip(sc) {
        for l in 0..LANES {
            y[l] = gn[l] - g[l] + lambda * s[l];
            let (sl, yl) = (s[l] as f64, y[l] as f64);
            sy[l] += sl * yl;
            yy[l] += yl * yl;
            ss[l] += sl * sl;
        }
    }
    let (mut sy_t, mut yy_t, mut ss_t) = (0.0, 0.0, 0.0);
    for (((y, &gn), &g), &s) in yt.iter_mut().zip(nt).zip(gt).zip(st) {
        *y = gn - g + lambda * s;
        let (sl, yl) = (s as f64, *y as f64);
        sy_t += sl * yl;
        yy_t += yl * yl;
        ss_t += sl * sl;
    }
    (
        sy.iter().sum::<f64>() + sy_t,
        yy.iter().sum::<f64>() + yy_t,
        ss.iter().sum::<f64>() + ss_t,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, irregular test vectors (lengths that are not multiples of LANES or BLOCK).
    fn vec(n: usize, phase: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * 0.37 + phase).sin() * 1.5)
            .collect()
    }

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&a, &b)| a as f64 * b as f64).sum()
    }

    #[test]
    fn lane_reductions_match_sequential_sums() {
        // Both sum exact f64 products; only the summation order differs, so they agree to a few
        // f64 ulps of Σ|aᵢbᵢ| (≈ 1e-12 relative here).
        for n in [0, 1, 7, 8, 9, 1023, 2500] {
            let (a, b) = (vec(n, 0.1), vec(n, 2.0));
            let scale = 1.0 + naive_dot(&a, &a) + naive_dot(&b, &b);
            assert!(
                (dot(&a, &b) - naive_dot(&a, &b)).abs() < 1e-12 * scale,
                "n={n}"
            );
            let l1: f64 = a.iter().map(|x| x.abs() as f64).sum();
            assert!((norm1(&a) - l1).abs() < 1e-12 * (1.0 + l1), "n={n}");
        }
    }

    #[test]
    fn fused_step_measures_like_step_stats_measure() {
        // Update Δx = −0.3·g + 0.01·x over 2,500 elements (three blocks, ragged tail); the fused
        // statistics equal `StepStats::measure` of the same Δx to 1e-5 relative (f32 lane sums
        // inside each block).
        let n = 2500;
        let (mut x, g) = (vec(n, 0.5), vec(n, 1.0));
        let x0 = x.clone();
        let stats = fused_step(&mut x, &g, |_, x, g, dx| {
            for i in 0..x.len() {
                dx[i] = -0.3 * g[i] + 0.01 * x[i];
                x[i] += dx[i];
            }
        });
        let step: Vec<f32> = x.iter().zip(&x0).map(|(a, b)| a - b).collect();
        let want = StepStats::measure(&step, &g);
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * (1.0 + b.abs());
        assert!(close(stats.step_norm, want.step_norm));
        assert!(close(stats.grad_norm, want.grad_norm));
        assert!(close(stats.cos_step_neg_grad, want.cos_step_neg_grad));
        assert!(close(stats.effective_lr, want.effective_lr));
    }

    #[test]
    fn update_dot_and_curvature_pair_follow_their_formulas() {
        let n = 37;
        let (v0, x, w) = (vec(n, 0.0), vec(n, 1.0), vec(n, 2.0));
        let mut v = v0.clone();
        let d = update_dot(&mut v, &x, &w, |v, x| 2.0 * (v - 0.5 * x));
        for i in 0..n {
            assert_eq!(v[i], 2.0 * (v0[i] - 0.5 * x[i]));
        }
        assert!((d - naive_dot(&v, &w)).abs() < 1e-12);

        let (g_new, g, s) = (vec(n, 3.0), vec(n, 4.0), vec(n, 5.0));
        let mut y = vec![0.0; n];
        let (sy, yy, ss) = curvature_pair(&mut y, &g_new, &g, &s, 0.25);
        for i in 0..n {
            assert_eq!(y[i], g_new[i] - g[i] + 0.25 * s[i]);
        }
        assert!((sy - naive_dot(&s, &y)).abs() < 1e-12);
        assert!((yy - naive_dot(&y, &y)).abs() < 1e-12);
        assert!((ss - naive_dot(&s, &s)).abs() < 1e-12);
    }

    #[test]
    fn move_and_record_stores_the_realized_step() {
        // 1e8 + 1 is not representable in f32: the realized step of x = 1e8 is 0, not −1.
        let mut x = vec![1e8f32, 1.0];
        let mut s = vec![0.0; 2];
        let sums = move_and_record(&mut x, &[1.0, 1.0], 1.0, &mut s, &[1.0, 1.0]);
        assert_eq!(s, vec![0.0, -1.0]);
        assert_eq!(x, vec![1e8, 0.0]);
        let st = sums.stats();
        assert!((st.step_norm - 1.0).abs() < 1e-7);
    }

    #[test]
    fn dimension_mismatch_is_a_named_error() {
        let err = check_dims("adam", 3, &[0.0; 3], &[0.0; 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "adam: built for 3 parameters, got 3 parameters and a gradient of 2"
        );
    }
}
