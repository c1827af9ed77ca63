//! The limited-memory curvature pairs and the two-loop recursion shared by L-BFGS and O-LBFGS.
//!
//! A pair `(s, y)` is a step and the change of the gradient it caused *on the same minibatch*
//! (plus `λ·s` for O-LBFGS). The memory keeps the last `m` accepted pairs and applies the L-BFGS
//! inverse-Hessian approximation `H` to a vector with the two-loop recursion (Nocedal & Wright,
//! *Numerical Optimization*, 2nd ed., Algorithm 7.4), where the initial matrix `H0 = γ·I` is
//! chosen by the caller: L-BFGS uses the newest pair's `sᵀy/yᵀy` (N&W eq. 7.20), O-LBFGS the
//! average over the memory (Schraudolph, Yu & Günter 2007).
//!
//! Pairs whose curvature `sᵀy` is not positive (or numerically zero: `sᵀy ≤ 1e-8·‖s‖‖y‖`) would
//! make `H` indefinite or unbounded; they are skipped and counted.

use anyhow::{Result, ensure};

use super::OptimizerState;
use super::kernels::{curvature_pair, dot, update_dot};
use super::snapshot::{buffer, count};

/// Pairs with `sᵀy ≤ MIN_COS·‖s‖‖y‖` are skipped.
const MIN_COS: f64 = 1e-8;

/// Whether a pair with these products may enter a quasi-Newton update (also used by BFGS):
/// `sᵀy > 1e-8·‖s‖‖y‖`, all finite. Written so that NaN fails it.
pub fn positive_curvature(sy: f64, yy: f64, ss: f64) -> bool {
    sy > MIN_COS * (ss * yy).sqrt() && yy > 0.0 && sy.is_finite() && yy.is_finite()
}

pub struct CurvatureMemory {
    /// `memory + 1` slots: the accepted pairs plus one slot the next step is written into, so a
    /// rejected pair never costs an accepted one.
    s: Vec<Vec<f32>>,
    y: Vec<Vec<f32>>,
    sy: Vec<f64>,
    yy: Vec<f64>,
    /// Slots of the accepted pairs, oldest first.
    order: Vec<usize>,
    skipped: u64,
    /// Scratch for the recursion's α coefficients (one per pair).
    alpha: Vec<f64>,
}

impl CurvatureMemory {
    pub fn new(n: usize, memory: usize) -> Self {
        Self {
            s: vec![vec![0.0; n]; memory + 1],
            y: vec![vec![0.0; n]; memory + 1],
            sy: vec![0.0; memory + 1],
            yy: vec![0.0; memory + 1],
            order: Vec::with_capacity(memory),
            skipped: 0,
            alpha: vec![0.0; memory],
        }
    }

    pub fn memory(&self) -> usize {
        self.s.len() - 1
    }

    /// Number of pairs held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Pairs rejected for non-positive curvature since the last reset.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    pub fn clear(&mut self) {
        self.order.clear();
        self.skipped = 0;
    }

    /// `sᵀy/yᵀy` of the newest pair (N&W eq. 7.20), the scale of `H0` in L-BFGS.
    pub fn gamma_newest(&self) -> Option<f64> {
        let &k = self.order.last()?;
        Some(self.sy[k] / self.yy[k])
    }

    /// The average of `sᵀy/yᵀy` over the pairs held, the scale of `H0` in O-LBFGS.
    pub fn gamma_mean(&self) -> Option<f64> {
        if self.order.is_empty() {
            return None;
        }
        let sum: f64 = self.order.iter().map(|&k| self.sy[k] / self.yy[k]).sum();
        Some(sum / self.order.len() as f64)
    }

    /// The slot the next step is recorded into (free while no pair occupies it).
    fn spare(&self) -> usize {
        (0..self.s.len())
            .find(|k| !self.order.contains(k))
            .expect("memory + 1 slots hold at most memory pairs, so one is free")
    }

    /// The buffer the caller writes the step `s` it takes into, before [`Self::push`].
    pub fn next_step(&mut self) -> &mut [f32] {
        let k = self.spare();
        &mut self.s[k]
    }

    /// Completes the pair of the step written into [`Self::next_step`]:
    /// `y = g_new − g + λ·s`; keeps it if its curvature is positive, dropping the oldest pair when
    /// the memory is full. Returns whether it was kept.
    pub fn push(&mut self, g: &[f32], g_new: &[f32], lambda: f32) -> bool {
        let kept = self.push_if(g, g_new, lambda, |_| true);
        if !kept {
            self.skipped += 1;
        }
        kept
    }

    /// [`Self::push`], keeping the pair only if `accept(y)` holds as well; a pair it does not
    /// keep is left for the caller to count.
    pub fn push_if(
        &mut self,
        g: &[f32],
        g_new: &[f32],
        lambda: f32,
        accept: impl Fn(&[f32]) -> bool,
    ) -> bool {
        let k = self.spare();
        let (sy, yy, ss) = curvature_pair(&mut self.y[k], g_new, g, &self.s[k], lambda);
        if !(positive_curvature(sy, yy, ss) && accept(&self.y[k])) {
            return false;
        }
        (self.sy[k], self.yy[k]) = (sy, yy);
        if self.order.len() == self.memory() {
            self.order.remove(0);
        }
        self.order.push(k);
        true
    }

    /// `out = H·v` with `H0 = gamma·I`, by the two-loop recursion; each pass of the vectors
    /// also computes the dot product the next pass needs. With no pair, `H = H0`.
    pub fn apply(&mut self, v: &[f32], gamma: f64, out: &mut [f32]) {
        let mut alpha = std::mem::take(&mut self.alpha);
        self.apply_with(v, gamma, out, &mut alpha);
        self.alpha = alpha;
    }

    /// [`Self::apply`] with caller-provided scratch (`alpha.len() ≥ self.len()`), for `&self` uses
    /// such as the preconditioner view.
    pub fn apply_with(&self, v: &[f32], gamma: f64, out: &mut [f32], alpha: &mut [f64]) {
        let pairs = &self.order;
        let Some(&newest) = pairs.last() else {
            out.copy_from_slice(v);
            out.iter_mut().for_each(|o| *o *= gamma as f32);
            return;
        };
        let rho = |k: usize| 1.0 / self.sy[k];
        // First loop, newest to oldest: α_i = ρ_i·s_iᵀq, q ← q − α_i·y_i.
        let mut d = update_dot(out, v, &self.s[newest], |_, v| v);
        for j in (0..pairs.len()).rev() {
            let k = pairs[j];
            alpha[j] = rho(k) * d;
            let a = -alpha[j] as f32;
            d = if j > 0 {
                update_dot(out, &self.y[k], &self.s[pairs[j - 1]], |q, y| q + a * y)
            } else {
                // Last update of the first loop, then r = H0·q, projected on the oldest y.
                let g = gamma as f32;
                update_dot(out, &self.y[k], &self.y[k], |q, y| g * (q + a * y))
            };
        }
        // Second loop, oldest to newest: β = ρ_i·y_iᵀr, r ← r + (α_i − β)·s_i.
        for j in 0..pairs.len() {
            let k = pairs[j];
            let c = (alpha[j] - rho(k) * d) as f32;
            // The last pass projects on its own y only to share the kernel; that dot is unused.
            let next = pairs.get(j + 1).map_or(&self.y[k], |&k1| &self.y[k1]);
            d = update_dot(out, &self.s[k], next, |r, s| r + c * s);
        }
    }

    /// Adds the pairs and counters to a snapshot, oldest pair first. `sᵀy` and `yᵀy` are not
    /// saved but recomputed on load: arbitrary f64 values do not survive every text format
    /// bit for bit (serde_json's default parser may round the last bit), the f32 buffers do.
    pub fn save(&self, state: &mut OptimizerState) {
        state
            .scalars
            .push(("pairs".into(), self.order.len() as f64));
        state.scalars.push(("skipped".into(), self.skipped as f64));
        for (i, &k) in self.order.iter().enumerate() {
            state.buffers.push((format!("s{i}"), self.s[k].clone()));
            state.buffers.push((format!("y{i}"), self.y[k].clone()));
        }
    }

    /// A memory of `memory` pairs over `n` parameters holding the pairs of a snapshot.
    pub fn load(n: usize, memory: usize, state: &OptimizerState) -> Result<Self> {
        let pairs = count(state, "pairs")? as usize;
        ensure!(
            pairs <= memory,
            "{}: state holds {pairs} curvature pairs but memory is {memory}",
            state.spec.name
        );
        let mut out = Self::new(n, memory);
        out.skipped = count(state, "skipped")?;
        for i in 0..pairs {
            out.s[i] = buffer(state, &format!("s{i}"), n)?;
            out.y[i] = buffer(state, &format!("y{i}"), n)?;
            // `dot` sums in the same lane order as `curvature_pair` did when the pair was
            // formed, so these are the bits the saved optimizer held.
            out.sy[i] = dot(&out.s[i], &out.y[i]);
            out.yy[i] = dot(&out.y[i], &out.y[i]);
            ensure!(
                out.sy[i] > 0.0 && out.yy[i] > 0.0,
                "{}: state curvature pair {i} has sᵀy = {} (must be > 0)",
                state.spec.name,
                out.sy[i]
            );
            out.order.push(i);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::{Quadratic, TestRng};

    /// The BFGS inverse update applied pair by pair to `H0 = γI`, densely in f64 (N&W eq. 7.19,
    /// the matrix the two-loop recursion multiplies by without forming it).
    fn dense_lbfgs(pairs: &[(Vec<f64>, Vec<f64>)], gamma: f64, n: usize) -> Vec<f64> {
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            h[i * n + i] = gamma;
        }
        for (s, y) in pairs {
            let rho = 1.0 / s.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
            // V = I − ρ·y·sᵀ; H ← Vᵀ·H·V + ρ·s·sᵀ.
            let v: Vec<f64> = (0..n * n)
                .map(|ij| {
                    let (i, j) = (ij / n, ij % n);
                    (i == j) as u8 as f64 - rho * y[i] * s[j]
                })
                .collect();
            let mut hv = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    hv[i * n + j] = (0..n).map(|k| h[i * n + k] * v[k * n + j]).sum();
                }
            }
            for i in 0..n {
                for j in 0..n {
                    let vthv: f64 = (0..n).map(|k| v[k * n + i] * hv[k * n + j]).sum();
                    h[i * n + j] = vthv + rho * s[i] * s[j];
                }
            }
        }
        h
    }

    #[test]
    fn two_loop_equals_the_dense_bfgs_recursion_and_drops_the_oldest_pair() {
        // Pairs from a convex quadratic (y = A·s), memory 3, four pairs pushed: the recursion must
        // equal the dense product over the newest three, for both choices of γ, to f32 precision.
        let n = 7;
        let q = Quadratic::new(n, 1.0, 50.0, 1);
        let mut rng = TestRng::new(5);
        let mut mem = CurvatureMemory::new(n, 3);
        let mut kept = Vec::new();
        for _ in 0..4 {
            let s: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
            mem.next_step().copy_from_slice(&s);
            let y = q.hessian_times(&s);
            assert!(mem.push(&vec![0.0; n], &y, 0.0));
            kept.push((
                s.iter().map(|&v| v as f64).collect::<Vec<_>>(),
                y.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            ));
        }
        assert_eq!(mem.len(), 3);
        let newest = &kept[1..];
        let v: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
        for gamma in [mem.gamma_newest().unwrap(), mem.gamma_mean().unwrap()] {
            let h = dense_lbfgs(newest, gamma, n);
            let mut out = vec![0.0; n];
            mem.apply(&v, gamma, &mut out);
            let scale: f64 = h.iter().map(|x| x.abs()).fold(0.0, f64::max);
            for i in 0..n {
                let want: f64 = (0..n).map(|j| h[i * n + j] * v[j] as f64).sum();
                assert!(
                    (out[i] as f64 - want).abs() < 1e-4 * scale,
                    "row {i}: {} vs {want}",
                    out[i]
                );
            }
        }
    }

    #[test]
    fn secant_equation_holds_for_the_newest_pair() {
        // H·y_newest = s_newest exactly in exact arithmetic (N&W §6.1); f32 tolerance.
        let n = 12;
        let q = Quadratic::new(n, 1.0, 100.0, 2);
        let mut rng = TestRng::new(9);
        let mut mem = CurvatureMemory::new(n, 5);
        let mut last = (vec![], vec![]);
        for _ in 0..5 {
            let s: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
            mem.next_step().copy_from_slice(&s);
            let y = q.hessian_times(&s);
            mem.push(&vec![0.0; n], &y, 0.0);
            last = (s, y);
        }
        let mut hy = vec![0.0; n];
        mem.apply(&last.1, mem.gamma_mean().unwrap(), &mut hy);
        for (a, b) in hy.iter().zip(&last.0) {
            assert!(
                (a - b).abs() < 1e-4 * (1.0 + b.abs()),
                "{hy:?} vs {:?}",
                last.0
            );
        }
    }

    #[test]
    fn non_positive_curvature_is_skipped_and_keeps_the_held_pairs() {
        let mut mem = CurvatureMemory::new(2, 1);
        mem.next_step().copy_from_slice(&[1.0, 0.0]);
        assert!(mem.push(&[0.0, 0.0], &[2.0, 0.0], 0.0)); // sᵀy = 2
        mem.next_step().copy_from_slice(&[0.0, 1.0]);
        assert!(!mem.push(&[0.0, 0.0], &[0.0, -1.0], 0.0)); // sᵀy = −1
        mem.next_step().copy_from_slice(&[0.0, 1.0]);
        assert!(!mem.push(&[0.0, 0.0], &[3.0, 0.0], 0.0)); // sᵀy = 0
        mem.next_step().copy_from_slice(&[0.0, 1.0]);
        assert!(!mem.push(&[0.0, 0.0], &[f32::NAN, 1.0], 0.0));
        // λ·s turns the zero-curvature pair into a positive one (O-LBFGS's regularizer).
        assert_eq!((mem.len(), mem.skipped()), (1, 3));
        assert_eq!(mem.gamma_newest(), Some(0.5));
        mem.next_step().copy_from_slice(&[0.0, 1.0]);
        assert!(mem.push(&[0.0, 0.0], &[3.0, 0.0], 0.5)); // y = (3, 0.5), sᵀy = 0.5
        assert_eq!(mem.gamma_newest(), Some(0.5 / 9.25));
    }

    #[test]
    fn saved_pairs_reload_with_their_curvature_and_bad_pairs_are_refused() {
        let mut mem = CurvatureMemory::new(2, 3);
        mem.next_step().copy_from_slice(&[1.0, 2.0]);
        assert!(mem.push(&[0.0, 0.0], &[3.0, 1.0], 0.0)); // sᵀy = 5, yᵀy = 10
        let mut state = OptimizerState {
            spec: crate::optim::OptimizerSpec::named("lbfgs"),
            ..OptimizerState::default()
        };
        mem.save(&mut state);
        let back = CurvatureMemory::load(2, 3, &state).unwrap();
        assert_eq!(back.gamma_newest(), Some(0.5));
        assert_eq!(back.len(), 1);
        // A pair whose y points against s (sᵀy = −5) cannot come from this optimizer.
        for (key, buf) in &mut state.buffers {
            if key == "y0" {
                buf.iter_mut().for_each(|v| *v = -*v);
            }
        }
        assert_eq!(
            CurvatureMemory::load(2, 3, &state)
                .err()
                .unwrap()
                .to_string(),
            "lbfgs: state curvature pair 0 has sᵀy = -5 (must be > 0)"
        );
        assert_eq!(
            CurvatureMemory::load(2, 0, &state)
                .err()
                .unwrap()
                .to_string(),
            "lbfgs: state holds 1 curvature pairs but memory is 0"
        );
    }
}
