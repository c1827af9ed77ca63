//! LODO's preconditioner `M(θ) = EᵀAᵀAE`, `A = B_N P_N ⋯ B_1 P_1` (docs/algorithm.md §2).
//!
//! `E` zero-pads `R^n` into the hidden width `h` (the smallest multiple of `k` that is ≥ 2n),
//! `P_i` is a fixed random permutation (`(P_i z)[j] = z[π_i[j]]`) and `B_i` multiplies each
//! consecutive `k`-block by its own `k×k` matrix. θ holds the `N` layers one after another, each
//! as `h/k` row-major `k×k` blocks.
//!
//! A forward pass stores each layer's permuted input `y_i = P_i z_{i−1}` (and the output
//! `z_N`), so the backward pass reads them sequentially. The forward pass of the momentum made
//! for a step is kept: the next hypergradient, `∂/∂θ ⟨A·E·g, A·E·m⟩`, needs exactly those
//! activations with exactly that θ. Each step therefore costs one forward pass of `g`, one fused
//! backward pass + meta update, one forward pass of the new `m` and one transposed pass.

use anyhow::{Result, ensure};
use rayon::prelude::*;

use super::block_kernels::{
    BackwardChunk, BackwardLayer, Source, Upstream, backward_chunk, blocks_per_chunk,
    forward_chunk, transpose_chunk, with_block_cap,
};
use super::family::Family;
use super::init::{permutation_rng, permutations, random_orthogonal, weight_rng};
use super::meta::{MetaOptimizer, MetaStep, MetaSums, moment_chunks};

/// Hidden width for `n` parameters and block size `k`: the smallest multiple of `k` ≥ 2n.
pub fn hidden_width(n: usize, k: usize) -> usize {
    (2 * n).div_ceil(k) * k
}

/// The block-diagonal permuted network and the buffers of its passes.
pub(crate) struct BlockNet {
    n: usize,
    width: usize,
    k: usize,
    depth: usize,
    seed: u64,
    /// `π_1..π_N`, each of length `width`, concatenated; `inverses` likewise.
    perms: Vec<u32>,
    inverses: Vec<u32>,
    theta: Vec<f32>,
    /// Forward passes of the last preconditioned momentum (`acts_m`) and of the gradient being
    /// judged (`acts_g`): rows `0..N` are the layer inputs `y_1..y_N`, row `N` is `z_N = A·E·v`.
    acts_m: Vec<f32>,
    acts_g: Vec<f32>,
    /// Whether `acts_m` belongs to the current θ and momentum.
    m_cached: bool,
    /// Ping-pong vectors of the single-path passes (layer outputs `z_i`, transposed pass).
    ping_pong: [Vec<f32>; 2],
    /// Ping-pong of the backward pass: `Wᵀδ` of both paths, interleaved `(g, m)`.
    down: [Vec<f32>; 2],
    /// Per-chunk sums of one layer's meta update, summed in order (deterministic statistics).
    partials: Vec<MetaSums>,
}

impl BlockNet {
    /// A network with orthogonal blocks (so `M = I`); the caller has validated the sizes.
    pub fn new(n: usize, depth: usize, k: usize, seed: u64) -> Self {
        let width = hidden_width(n, k);
        let (perms, inverses) = permutations(&mut permutation_rng(seed), depth, width);
        let chunks = (width / k).div_ceil(blocks_per_chunk(k));
        let mut net = Self {
            n,
            width,
            k,
            depth,
            seed,
            perms,
            inverses,
            theta: vec![0.0; depth * width * k],
            acts_m: vec![0.0; (depth + 1) * width],
            acts_g: vec![0.0; (depth + 1) * width],
            m_cached: false,
            ping_pong: [vec![0.0; width], vec![0.0; width]],
            down: [vec![0.0; 2 * width], vec![0.0; 2 * width]],
            partials: vec![MetaSums::default(); chunks],
        };
        net.reinit();
        net
    }

    /// `π_layer` (1-based layer).
    #[cfg(test)]
    pub fn permutation(&self, layer: usize) -> &[u32] {
        &self.perms[(layer - 1) * self.width..layer * self.width]
    }

    fn layer_weights(&self, layer: usize) -> &[f32] {
        let len = self.width * self.k;
        &self.theta[(layer - 1) * len..layer * len]
    }

    /// Forward pass of `E·v` (already written into `ping_pong[0]`), storing every layer input
    /// in the rows of `acts` and the output in its last row.
    fn forward(&self, acts: &mut [f32], ping_pong: &mut [Vec<f32>; 2]) {
        let h = self.width;
        let (inputs, top) = acts.split_at_mut(self.depth * h);
        for (i, y) in inputs.chunks_exact_mut(h).enumerate() {
            let layer = i + 1;
            let [even, odd] = &mut *ping_pong;
            let (z_in, z_out) = if i % 2 == 0 {
                (&*even, odd)
            } else {
                (&*odd, even)
            };
            let out = if layer == self.depth {
                &mut *top
            } else {
                &mut z_out[..]
            };
            self.forward_layer(layer, z_in, y, out);
        }
    }

    /// `y = P_layer·input` and `out = B_layer·y`.
    fn forward_layer(&self, layer: usize, input: &[f32], y: &mut [f32], out: &mut [f32]) {
        let (k, cb) = (self.k, blocks_per_chunk(self.k));
        let weights = self.layer_weights(layer);
        let source = Source::Gathered(input, &self.perms[(layer - 1) * self.width..]);
        if !self.runs_in_parallel() {
            with_block_cap!(k, |d| forward_chunk(d, k, weights, source, 0, y, out));
            return;
        }
        with_block_cap!(k, |d| {
            (
                out.par_chunks_mut(cb * k),
                y.par_chunks_mut(cb * k),
                weights.par_chunks(cb * k * k),
            )
                .into_par_iter()
                .enumerate()
                .for_each(|(c, (o, y, w))| forward_chunk(d, k, w, source, c * cb * k, y, o))
        });
    }

    /// `out = Eᵀ Aᵀ · top`, using `bufs` as the ping-pong of the downward pass.
    fn transpose(&self, top: &[f32], bufs: &mut [Vec<f32>; 2], out: &mut [f32]) {
        let (k, cb, h) = (self.k, blocks_per_chunk(self.k), self.width);
        for layer in (1..=self.depth).rev() {
            let (read, write) = split_ping_pong(bufs, (self.depth - layer) % 2);
            let source = if layer == self.depth {
                Source::Direct(top)
            } else {
                Source::Gathered(read, &self.inverses[layer * h..])
            };
            let weights = self.layer_weights(layer);
            if !self.runs_in_parallel() {
                with_block_cap!(k, |d| transpose_chunk(d, k, weights, source, 0, write));
                continue;
            }
            with_block_cap!(k, |d| {
                write
                    .par_chunks_mut(cb * k)
                    .zip(weights.par_chunks(cb * k * k))
                    .enumerate()
                    .for_each(|(c, (o, w))| transpose_chunk(d, k, w, source, c * cb * k, o))
            });
        }
        // Layer 1 wrote the buffer of its parity, (N − 1) mod 2.
        let (_, bottom) = split_ping_pong(bufs, (self.depth - 1) % 2);
        for (o, &i) in out.iter_mut().zip(&self.inverses[..self.n]) {
            *o = bottom[i as usize];
        }
    }

    /// Forward pass of the padded vector in `ping_pong[0]` into `acts_m`, then `out = M·v`.
    fn precondition_padded(&mut self, out: &mut [f32]) {
        let mut acts = std::mem::take(&mut self.acts_m);
        let mut bufs = std::mem::take(&mut self.ping_pong);
        self.forward(&mut acts, &mut bufs);
        self.transpose(&acts[self.depth * self.width..], &mut bufs, out);
        (self.acts_m, self.ping_pong) = (acts, bufs);
        self.m_cached = true;
    }

    /// Writes `E·v` into `ping_pong[0]`.
    fn embed(&mut self, v: &[f32]) {
        let z0 = &mut self.ping_pong[0];
        z0[..self.n].copy_from_slice(v);
        z0[self.n..].fill(0.0);
    }

    /// Forward pass of `v` into `acts` (one of the two activation buffers, taken out of `self`).
    fn forward_of(&mut self, v: &[f32], acts: &mut [f32]) {
        self.embed(v);
        let mut bufs = std::mem::take(&mut self.ping_pong);
        self.forward(acts, &mut bufs);
        self.ping_pong = bufs;
    }
}

impl Family for BlockNet {
    fn describe(&self) -> String {
        format!(
            "block-diagonal, N={}, k={}, h={}",
            self.depth, self.k, self.width
        )
    }

    /// A layer of one chunk (small n) runs its kernels directly on the calling thread: the pool's
    /// iterator plumbing would cost more than the work.
    fn runs_in_parallel(&self) -> bool {
        self.partials.len() > 1
    }

    fn layer_count(&self) -> usize {
        self.depth
    }

    fn theta(&self) -> &[f32] {
        &self.theta
    }

    fn load_theta(&mut self, theta: &[f32]) -> Result<()> {
        ensure!(
            theta.len() == self.theta.len(),
            "lodo: θ has {} entries, this network needs {}",
            theta.len(),
            self.theta.len()
        );
        self.theta.copy_from_slice(theta);
        self.m_cached = false;
        Ok(())
    }

    fn reinit(&mut self) {
        let mut rng = weight_rng(self.seed);
        let k = self.k;
        for block in self.theta.chunks_exact_mut(k * k) {
            random_orthogonal(&mut rng, k, block);
        }
        self.m_cached = false;
    }

    fn apply(&self, v: &[f32], out: &mut [f32]) {
        if self.depth == 0 {
            out.copy_from_slice(v);
            return;
        }
        let h = self.width;
        let mut bufs = [vec![0.0; h], vec![0.0; h]];
        bufs[0][..self.n].copy_from_slice(v);
        let mut acts = vec![0.0; (self.depth + 1) * h];
        self.forward(&mut acts, &mut bufs);
        self.transpose(&acts[self.depth * h..], &mut bufs, out);
    }

    fn precondition_momentum(&mut self, m: &mut [f32], g: &[f32], beta: f32, out: &mut [f32]) {
        // The momentum update writes straight into the padded input of the forward pass.
        let z0 = &mut self.ping_pong[0];
        for ((mi, &gi), z) in m.iter_mut().zip(g).zip(z0.iter_mut()) {
            *mi = beta * *mi + (1.0 - beta) * gi;
            *z = *mi;
        }
        z0[self.n..].fill(0.0);
        if self.depth == 0 {
            out.copy_from_slice(m);
        } else {
            self.precondition_padded(out);
        }
    }

    fn precondition_cached(&mut self, v: &[f32], out: &mut [f32]) {
        if self.depth == 0 {
            out.copy_from_slice(v);
        } else {
            self.embed(v);
            self.precondition_padded(out);
        }
    }

    fn meta_step(
        &mut self,
        g: &[f32],
        prev: &[f32],
        scale: f32,
        meta: &mut MetaOptimizer,
        layer_sq: &mut [f64],
    ) -> MetaSums {
        let step = meta.begin_step();
        if self.depth == 0 {
            return MetaSums::default();
        }
        let mut acts_m = std::mem::take(&mut self.acts_m);
        let mut acts_g = std::mem::take(&mut self.acts_g);
        if !self.m_cached {
            self.forward_of(prev, &mut acts_m);
        }
        self.forward_of(g, &mut acts_g);
        let mut total = MetaSums::default();
        for layer in (1..=self.depth).rev() {
            let sums = self.backward_layer(layer, &acts_g, &acts_m, scale, step, meta);
            layer_sq[layer - 1] = sums.grad_sq;
            total += sums;
        }
        (self.acts_m, self.acts_g) = (acts_m, acts_g);
        // θ changed, so the cached forward pass of `prev` is stale.
        self.m_cached = false;
        total
    }
}

impl BlockNet {
    /// Backward pass of one layer for both paths, updating its weights as it goes.
    fn backward_layer(
        &mut self,
        layer: usize,
        acts_g: &[f32],
        acts_m: &[f32],
        scale: f32,
        step: MetaStep,
        meta: &mut MetaOptimizer,
    ) -> MetaSums {
        let (k, cb, h, depth) = (self.k, blocks_per_chunk(self.k), self.width, self.depth);
        let range = (layer - 1) * h * k..layer * h * k;
        let Self {
            inverses,
            theta,
            down,
            partials,
            ..
        } = self;
        let (read, write) = split_ping_pong(down, (depth - layer) % 2);
        // ∂⟨u, w⟩/∂u = w and ∂⟨u, w⟩/∂w = u at the top; below, what the layer above sent down,
        // scattered back through its permutation.
        let upstream = if layer == depth {
            Upstream::Top(&acts_m[depth * h..], &acts_g[depth * h..])
        } else {
            Upstream::Pairs(read, &inverses[layer * h..(layer + 1) * h])
        };
        let pass = BackwardLayer {
            upstream,
            scale,
            meta: step,
        };
        let rows = (layer - 1) * h..layer * h;
        let (y_g, y_m) = (&acts_g[rows.clone()], &acts_m[rows]);
        let moments = meta
            .moments_mut()
            .map(|(a, b)| (&mut a[range.clone()], &mut b[range.clone()]));
        let chunks = partials.len();
        if chunks == 1 {
            // One chunk (small n): the kernel on the whole layer, without the thread pool's
            // iterator plumbing, which would cost more than the work.
            let chunk = BackwardChunk {
                start: 0,
                weights: &mut theta[range],
                moments,
                y_g,
                y_m,
                down: write,
            };
            return with_block_cap!(k, |d| backward_chunk(d, k, &pass, chunk));
        }
        with_block_cap!(k, |d| {
            (
                theta[range].par_chunks_mut(cb * k * k),
                moment_chunks(moments, cb * k * k, chunks),
                (y_g.par_chunks(cb * k), y_m.par_chunks(cb * k)),
                write.par_chunks_mut(2 * cb * k),
                partials.par_iter_mut(),
            )
                .into_par_iter()
                .enumerate()
                .for_each(|(c, (weights, moments, (y_g, y_m), down, sums))| {
                    let chunk = BackwardChunk {
                        start: c * cb * k,
                        weights,
                        moments,
                        y_g,
                        y_m,
                        down,
                    };
                    *sums = backward_chunk(d, k, &pass, chunk);
                })
        });
        let mut sums = MetaSums::default();
        for &p in partials.iter() {
            sums += p;
        }
        sums
    }
}

/// (the buffer the layer above wrote, the buffer this layer writes) for a layer of `parity`
/// (its distance from the top layer, mod 2).
fn split_ping_pong(bufs: &mut [Vec<f32>; 2], parity: usize) -> (&[f32], &mut [f32]) {
    let [even, odd] = bufs;
    if parity == 0 {
        (odd, even)
    } else {
        (even, odd)
    }
}
