//! LODO-Residuals (lodo.md §4): `M(θ) = Eᵀ R_1ᵀ⋯R_Nᵀ D² R_N⋯R_1 E`.
//!
//! Each residual layer is `R_i z = z + w_i ⊙ (P_i z)`, i.e. `z[j] += w_i[j]·z[π_i[j]]`, with a
//! learned vector `w_i ~ N(0, 1/N)`; `D = diag(d)` is a learned diagonal initialised to ones.
//! Squaring `d` makes `M` symmetric positive semi-definite by construction for every θ (rather
//! than clamping a diagonal at zero, which would stop its hypergradient). The network works in
//! the same zero-padded width `h = 2n` as LODO, so the two differ only in the layer type.
//! θ is laid out as `w_1, …, w_N, d`, each of length `h`.

use anyhow::{Result, ensure};
use rand_distr::{Distribution, Normal};

use super::family::Family;
use super::init::{permutation_rng, permutations, weight_rng};
use super::meta::{MetaOptimizer, MetaSums};

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
    /// Downward vectors of both paths, one layer's hypergradient, and scratch for transposes.
    down_g: Vec<f32>,
    down_m: Vec<f32>,
    grad: Vec<f32>,
    scratch: Vec<f32>,
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
            down_g: vec![0.0; width],
            down_m: vec![0.0; width],
            grad: vec![0.0; width],
            scratch: vec![0.0; width],
        };
        net.reinit();
        net
    }

    #[cfg(test)]
    pub fn permutation(&self, layer: usize) -> &[u32] {
        &self.perms[(layer - 1) * self.width..layer * self.width]
    }

    /// `z_0 = E·v`, then `z_i = R_i z_{i−1}` into the rows of `acts`.
    fn forward(&self, acts: &mut [f32], v: &[f32]) {
        let h = self.width;
        acts[..self.n].copy_from_slice(v);
        acts[self.n..h].fill(0.0);
        for layer in 1..=self.depth {
            let (done, rest) = acts.split_at_mut(layer * h);
            let input = &done[(layer - 1) * h..];
            let w = &self.theta[(layer - 1) * h..layer * h];
            let perm = &self.perms[(layer - 1) * h..layer * h];
            for (((z, &x), &wj), &p) in rest[..h].iter_mut().zip(input).zip(w).zip(perm) {
                *z = x + wj * input[p as usize];
            }
        }
    }

    /// `δ ← R_layerᵀ δ` using `scratch`: `δ[l] += w[π⁻¹[l]]·δ[π⁻¹[l]]`.
    fn transpose_layer(&self, layer: usize, delta: &mut [f32], scratch: &mut [f32]) {
        let h = self.width;
        let w = &self.theta[(layer - 1) * h..layer * h];
        let inverse = &self.inverses[(layer - 1) * h..layer * h];
        scratch.copy_from_slice(delta);
        for ((d, &x), &i) in delta.iter_mut().zip(scratch.iter()).zip(inverse) {
            *d = x + w[i as usize] * scratch[i as usize];
        }
    }

    fn diagonal(&self) -> &[f32] {
        &self.theta[self.depth * self.width..]
    }

    /// `out = Eᵀ Rᵀ D² · top`, with `top = R·E·v`.
    fn finish(&self, top: &[f32], delta: &mut [f32], scratch: &mut [f32], out: &mut [f32]) {
        for ((x, &t), &d) in delta.iter_mut().zip(top).zip(self.diagonal()) {
            *x = d * d * t;
        }
        for layer in (1..=self.depth).rev() {
            self.transpose_layer(layer, delta, scratch);
        }
        out.copy_from_slice(&delta[..self.n]);
    }
}

impl Family for Residuals {
    fn describe(&self) -> String {
        format!("residual, N={}, h={}", self.depth, self.width)
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
        let (mut delta, mut scratch) = (vec![0.0; h], vec![0.0; h]);
        self.finish(&acts[self.depth * h..], &mut delta, &mut scratch, out);
    }

    fn precondition_cached(&mut self, v: &[f32], out: &mut [f32]) {
        let h = self.width;
        let (mut acts, mut delta, mut scratch) = (
            std::mem::take(&mut self.acts_m),
            std::mem::take(&mut self.down_g),
            std::mem::take(&mut self.scratch),
        );
        self.forward(&mut acts, v);
        self.finish(&acts[self.depth * h..], &mut delta, &mut scratch, out);
        (self.acts_m, self.down_g, self.scratch) = (acts, delta, scratch);
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
    /// Hypergradient of `scale·⟨R E g, D² R E m⟩`, layer by layer from the top, each layer's
    /// weights updated as soon as its gradient is known (after its downward vectors are formed).
    fn backward(
        &mut self,
        acts_g: &[f32],
        acts_m: &[f32],
        scale: f32,
        step: super::meta::MetaStep,
        meta: &mut MetaOptimizer,
        layer_sq: &mut [f64],
    ) -> MetaSums {
        let (h, depth) = (self.width, self.depth);
        let (mut down_g, mut down_m, mut grad, mut scratch) = (
            std::mem::take(&mut self.down_g),
            std::mem::take(&mut self.down_m),
            std::mem::take(&mut self.grad),
            std::mem::take(&mut self.scratch),
        );
        let (top_g, top_m) = (&acts_g[depth * h..], &acts_m[depth * h..]);
        // s = Σ d_j² a_j b_j: ∂s/∂d_j = 2 d_j a_j b_j, ∂s/∂a = d² ⊙ b, ∂s/∂b = d² ⊙ a.
        for (j, &d) in self.diagonal().iter().enumerate() {
            let (a, b) = (top_g[j], top_m[j]);
            grad[j] = scale * 2.0 * d * a * b;
            down_g[j] = d * d * b;
            down_m[j] = d * d * a;
        }
        let mut total = self.update_layer(depth, &mut grad, step, meta);
        layer_sq[depth] = total.grad_sq;
        for layer in (1..=depth).rev() {
            let range = (layer - 1) * h..layer * h;
            let perm = &self.perms[range.clone()];
            let (zg, zm) = (&acts_g[range.clone()], &acts_m[range.clone()]);
            for (j, &p) in perm.iter().enumerate() {
                let p = p as usize;
                grad[j] = scale * (down_g[j] * zg[p] + down_m[j] * zm[p]);
            }
            self.transpose_layer(layer, &mut down_g, &mut scratch);
            self.transpose_layer(layer, &mut down_m, &mut scratch);
            let sums = self.update_layer(layer - 1, &mut grad, step, meta);
            layer_sq[layer - 1] = sums.grad_sq;
            total += sums;
        }
        (self.down_g, self.down_m, self.grad, self.scratch) = (down_g, down_m, grad, scratch);
        total
    }

    /// Meta update of the `index`-th length-`h` slice of θ (`depth` is the diagonal).
    fn update_layer(
        &mut self,
        index: usize,
        grad: &mut [f32],
        step: super::meta::MetaStep,
        meta: &mut MetaOptimizer,
    ) -> MetaSums {
        let range = index * self.width..(index + 1) * self.width;
        let moments = meta
            .moments_mut()
            .map(|(a, b)| (&mut a[range.clone()], &mut b[range.clone()]));
        step.apply_chunked(&mut self.theta[range], grad, moments)
    }
}
