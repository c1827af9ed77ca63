//! LODO-Residuals (docs/algorithm.md §4.3): `M(θ) = Eᵀ R_1ᵀ⋯R_Nᵀ D R_N⋯R_1 E`, as the authors'
//! residual variant (`LODOWithResidualsMinimizationProcedure` in their `training/lodo.py`) builds it.
//!
//! Each residual layer is `R_i z = z + w_i ⊙ (P_i z)`, i.e. `z[j] += w_i[j]·z[π_i[j]]`, with a
//! learned vector `w_i ~ N(0, 1/N)` (standard deviation `1/√N`) and a fixed random permutation
//! `π_i`; `D = diag(d)` is a learned diagonal initialised to ones and applied once, between the
//! layers and their transposes. The width is `h = 2n` with `E` the zero padding, and N = 64 by
//! default, all as the authors. θ is laid out as `w_1, …, w_N, d`, each of length `h`.
//!
//! `M` is symmetric for every θ, but positive semi-definite only while `d ≥ 0`
//! (`vᵀMv = Σ_j d_j (R E v)_j²`): like LODO-Diagonal's θ, `d` is not constrained, and an entry
//! the hypergradient drives below zero lets a step go uphill along some direction. Nothing
//! downstream needs `M ⪰ 0`: the quadratic's Hessian error `‖I − G H‖_F` and the dashboard take
//! any `G`; only LODO proper (`EᵀAᵀAE`) is PSD by construction.
//!
//! Every pass is element-wise with a gather, split into parallel chunks for large problems.

use anyhow::{Result, ensure};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use super::family::Family;
use super::init::{permutation_rng, permutations, weight_rng};
use super::meta::{MetaOptimizer, MetaStep, MetaSums};

/// Entries per parallel task: a problem of at most this width runs on the calling thread.
const CHUNK: usize = 8192;

/// `out[j] = f(a[j], b[j], index[j])` for every `j`, in parallel chunks.
#[inline(always)]
fn map_indexed(
    out: &mut [f32],
    (a, b, index): (&[f32], &[f32], &[u32]),
    f: impl Fn(f32, f32, usize) -> f32 + Send + Sync + Copy,
) {
    (
        out.par_chunks_mut(CHUNK),
        a.par_chunks(CHUNK),
        b.par_chunks(CHUNK),
        index.par_chunks(CHUNK),
    )
        .into_par_iter()
        .for_each(move |(o, a, b, index)| {
            for (((o, &a), &b), &i) in o.iter_mut().zip(a).zip(b).zip(index) {
                *o = f(a, b, i as usize);
            }
        });
}

/// `out[j] = f(a[j], b[j], c[j])` for every `j`, in parallel chunks.
#[inline(always)]
fn map3(
    out: &mut [f32],
    (a, b, c): (&[f32], &[f32], &[f32]),
    f: impl Fn(f32, f32, f32) -> f32 + Send + Sync + Copy,
) {
    (
        out.par_chunks_mut(CHUNK),
        a.par_chunks(CHUNK),
        b.par_chunks(CHUNK),
        c.par_chunks(CHUNK),
    )
        .into_par_iter()
        .for_each(move |(o, a, b, c)| {
            for (((o, &a), &b), &c) in o.iter_mut().zip(a).zip(b).zip(c) {
                *o = f(a, b, c);
            }
        });
}

pub(crate) struct Residuals {
    n: usize,
    width: usize,
    depth: usize,
    seed: u64,
    perms: Vec<u32>,
    inverses: Vec<u32>,
    theta: Vec<f32>,
    /// Layer vectors `z_0 = E·v … z_N` of the g path and of the cached m path.
    acts_g: Vec<f32>,
    acts_m: Vec<f32>,
    m_cached: bool,
    /// Ping-pong of the downward vectors of each path, and one layer's hypergradient.
    down_g: [Vec<f32>; 2],
    down_m: [Vec<f32>; 2],
    grad: Vec<f32>,
    /// Per-chunk sums of one layer's meta update.
    partials: Vec<MetaSums>,
}

impl Residuals {
    pub fn new(n: usize, depth: usize, seed: u64) -> Self {
        let width = 2 * n;
        let (perms, inverses) = permutations(&mut permutation_rng(seed), depth, width);
        let mut net = Self {
            n,
            width,
            depth,
            seed,
            perms,
            inverses,
            theta: vec![0.0; (depth + 1) * width],
            acts_g: vec![0.0; (depth + 1) * width],
            acts_m: vec![0.0; (depth + 1) * width],
            m_cached: false,
            down_g: [vec![0.0; width], vec![0.0; width]],
            down_m: [vec![0.0; width], vec![0.0; width]],
            grad: vec![0.0; width],
            partials: vec![MetaSums::default(); width.div_ceil(CHUNK)],
        };
        net.reinit();
        net
    }

    #[cfg(test)]
    pub fn permutation(&self, layer: usize) -> &[u32] {
        &self.perms[(layer - 1) * self.width..layer * self.width]
    }

    fn weights(&self, layer: usize) -> &[f32] {
        &self.theta[(layer - 1) * self.width..layer * self.width]
    }

    fn diagonal(&self) -> &[f32] {
        &self.theta[self.depth * self.width..]
    }

    /// `z_0 = E·v`, then `z_i = R_i z_{i−1}` into the rows of `acts`.
    fn forward(&self, acts: &mut [f32], v: &[f32]) {
        let h = self.width;
        acts[..self.n].copy_from_slice(v);
        acts[self.n..h].fill(0.0);
        for layer in 1..=self.depth {
            let (done, rest) = acts.split_at_mut(layer * h);
            let input = &done[(layer - 1) * h..];
            let (w, perm) = (self.weights(layer), &self.perms[(layer - 1) * h..layer * h]);
            map_indexed(&mut rest[..h], (input, w, perm), |x, w, p| x + w * input[p]);
        }
    }

    /// `out = R_layerᵀ·delta`: `out[l] = δ[l] + w[π⁻¹[l]]·δ[π⁻¹[l]]`.
    fn transpose_layer(&self, layer: usize, delta: &[f32], out: &mut [f32]) {
        let h = self.width;
        let (w, inverse) = (
            self.weights(layer),
            &self.inverses[(layer - 1) * h..layer * h],
        );
        map_indexed(out, (delta, delta, inverse), |d, _, i| d + w[i] * delta[i]);
    }

    /// `out = Eᵀ Rᵀ D · top`, with `top = R·E·v`, using `bufs` as the ping-pong.
    fn finish(&self, top: &[f32], bufs: &mut [Vec<f32>; 2], out: &mut [f32]) {
        let d = self.diagonal();
        map3(&mut bufs[0], (d, d, top), |d, _, t| d * t);
        for layer in (1..=self.depth).rev() {
            let (read, write) = ping_pong(bufs, self.depth - layer);
            self.transpose_layer(layer, read, write);
        }
        out.copy_from_slice(&bufs[self.depth % 2][..self.n]);
    }
}

/// (the vector the previous pass wrote, the one this pass writes) for pass number `pass`.
fn ping_pong(bufs: &mut [Vec<f32>; 2], pass: usize) -> (&[f32], &mut [f32]) {
    let [even, odd] = bufs;
    if pass.is_multiple_of(2) {
        (even, odd)
    } else {
        (odd, even)
    }
}

impl Family for Residuals {
    fn describe(&self) -> String {
        format!("residual, N={}, h={}", self.depth, self.width)
    }

    fn runs_in_parallel(&self) -> bool {
        self.width > CHUNK
    }

    fn layer_count(&self) -> usize {
        self.depth + 1
    }

    fn theta(&self) -> &[f32] {
        &self.theta
    }

    fn load_theta(&mut self, theta: &[f32]) -> Result<()> {
        ensure!(
            theta.len() == self.theta.len(),
            "lodo-residuals: θ has {} entries, this network needs {}",
            theta.len(),
            self.theta.len()
        );
        self.theta.copy_from_slice(theta);
        self.m_cached = false;
        Ok(())
    }

    fn reinit(&mut self) {
        let mut rng = weight_rng(self.seed);
        let std = 1.0 / (self.depth.max(1) as f32).sqrt();
        let normal = Normal::new(0.0f32, std).expect("std = 1/√N is finite and positive");
        let (weights, diagonal) = self.theta.split_at_mut(self.depth * self.width);
        weights
            .iter_mut()
            .for_each(|w| *w = normal.sample(&mut rng));
        diagonal.fill(1.0);
        self.m_cached = false;
    }

    fn apply(&self, v: &[f32], out: &mut [f32]) {
        let h = self.width;
        let mut acts = vec![0.0; (self.depth + 1) * h];
        self.forward(&mut acts, v);
        let mut bufs = [vec![0.0; h], vec![0.0; h]];
        self.finish(&acts[self.depth * h..], &mut bufs, out);
    }

    fn precondition_cached(&mut self, v: &[f32], out: &mut [f32]) {
        let (mut acts, mut bufs) = (
            std::mem::take(&mut self.acts_m),
            std::mem::take(&mut self.down_g),
        );
        self.forward(&mut acts, v);
        self.finish(&acts[self.depth * self.width..], &mut bufs, out);
        (self.acts_m, self.down_g) = (acts, bufs);
        self.m_cached = true;
    }

    fn meta_step(
        &mut self,
        g: &[f32],
        prev: &[f32],
        scale: f32,
        meta: &mut MetaOptimizer,
        layer_sq: &mut [f64],
    ) -> MetaSums {
        let mut acts_m = std::mem::take(&mut self.acts_m);
        let mut acts_g = std::mem::take(&mut self.acts_g);
        if !self.m_cached {
            self.forward(&mut acts_m, prev);
        }
        self.forward(&mut acts_g, g);
        let step = meta.begin_step();
        let sums = self.backward(&acts_g, &acts_m, scale, step, meta, layer_sq);
        (self.acts_m, self.acts_g) = (acts_m, acts_g);
        self.m_cached = false;
        sums
    }
}

impl Residuals {
    /// Hypergradient of `scale·⟨R E g, D R E m⟩`, layer by layer from the top, each layer's
    /// weights updated as soon as its gradient is known (after its downward vectors are formed
    /// with the weights it had).
    fn backward(
        &mut self,
        acts_g: &[f32],
        acts_m: &[f32],
        scale: f32,
        step: MetaStep,
        meta: &mut MetaOptimizer,
        layer_sq: &mut [f64],
    ) -> MetaSums {
        let (h, depth) = (self.width, self.depth);
        let mut down_g = std::mem::take(&mut self.down_g);
        let mut down_m = std::mem::take(&mut self.down_m);
        let mut grad = std::mem::take(&mut self.grad);
        let (a, b, d) = (&acts_g[depth * h..], &acts_m[depth * h..], self.diagonal());
        // s = Σ d_j a_j b_j: ∂s/∂d_j = a_j b_j, ∂s/∂a = d ⊙ b, ∂s/∂b = d ⊙ a.
        map3(&mut grad, (a, b, b), |a, b, _| scale * a * b);
        map3(&mut down_g[0], (d, d, b), |d, _, b| d * b);
        map3(&mut down_m[0], (d, d, a), |d, _, a| d * a);
        let mut total = self.update(depth, &mut grad, step, meta);
        layer_sq[depth] = total.grad_sq;
        for layer in (1..=depth).rev() {
            let rows = (layer - 1) * h..layer * h;
            let perm = &self.perms[rows.clone()];
            let (zg, zm) = (&acts_g[rows.clone()], &acts_m[rows]);
            let pass = depth - layer;
            let (dg, out_g) = ping_pong(&mut down_g, pass);
            let (dm, out_m) = ping_pong(&mut down_m, pass);
            map_indexed(&mut grad, (dg, dm, perm), |dg, dm, p| {
                scale * (dg * zg[p] + dm * zm[p])
            });
            self.transpose_layer(layer, dg, out_g);
            self.transpose_layer(layer, dm, out_m);
            let sums = self.update(layer - 1, &mut grad, step, meta);
            layer_sq[layer - 1] = sums.grad_sq;
            total += sums;
        }
        (self.down_g, self.down_m, self.grad) = (down_g, down_m, grad);
        total
    }

    /// Meta update of the `index`-th length-`h` slice of θ (`depth` is the diagonal).
    fn update(
        &mut self,
        index: usize,
        grad: &mut [f32],
        step: MetaStep,
        meta: &mut MetaOptimizer,
    ) -> MetaSums {
        let range = index * self.width..(index + 1) * self.width;
        let moments = meta
            .moments_mut()
            .map(|(a, b)| (&mut a[range.clone()], &mut b[range.clone()]));
        step.apply_parallel(
            &mut self.theta[range],
            grad,
            moments,
            CHUNK,
            &mut self.partials,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diagonal_is_applied_once() {
        // n = 1, h = 2, one layer with w = (0.5, 0.25), d = (2, −1), v = (3), by hand:
        // π = (1, 0): R = [[1, 0.5], [0.25, 1]], R·E·v = (3, 0.75), D·(3, 0.75) = (6, −0.75),
        //   Eᵀ·Rᵀ picks R's first column (1, 0.25): M·v = 6 − 0.1875 = 5.8125 (D² gives 12.1875).
        // π = (0, 1): R = diag(1.5, 1.25), R·E·v = (4.5, 0), D· = (9, 0), M·v = 1.5·9 = 13.5
        //   (D² gives 27).
        let mut net = Residuals::new(1, 1, 3);
        net.load_theta(&[0.5, 0.25, 2.0, -1.0]).unwrap();
        let want = match net.permutation(1) {
            [1, 0] => 5.8125,
            [0, 1] => 13.5,
            other => panic!("not a permutation of two entries: {other:?}"),
        };
        let mut out = [0.0f32];
        net.apply(&[3.0], &mut out);
        assert!(
            (out[0] - want).abs() < 1e-6,
            "M·v = {}, want {want}",
            out[0]
        );
    }

    #[test]
    fn a_negative_diagonal_entry_makes_m_indefinite() {
        // With no residual layers M = Eᵀ D E = diag(d_1 … d_n): d = (2, −1 | 1, 1) gives
        // M·e_1 = 2·e_1 and M·e_2 = −e_2, so e_2ᵀ M e_2 = −1 < 0 (D² would give +1).
        let mut net = Residuals::new(2, 0, 3);
        net.load_theta(&[2.0, -1.0, 1.0, 1.0]).unwrap();
        let mut out = [0.0f32; 2];
        for (v, want) in [([1.0, 0.0], [2.0, 0.0]), ([0.0, 1.0], [0.0, -1.0])] {
            net.apply(&v, &mut out);
            assert!(
                out.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-7),
                "{out:?}"
            );
        }
    }
}
