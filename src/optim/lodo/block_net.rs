//! LODO's preconditioner network: `M(θ) = EᵀAᵀAE` with `A = B_N P_N ⋯ B_1 P_1` (lodo.md §2).
//!
//! `E` zero-pads `R^n` into the hidden width `h` (the smallest multiple of `k` that is ≥ 2n),
//! `P_i` is a fixed random permutation (`(P_i z)[j] = z[π_i[j]]`) and `B_i` multiplies each
//! consecutive `k`-block by its own `k×k` matrix. θ holds the `N` layers one after another, each
//! as `h/k` row-major `k×k` blocks.
//!
//! The forward pass of the momentum `m` made for a step is kept (all `N+1` layer vectors): the
//! next hypergradient, `∂/∂θ ⟨A·E·g, A·E·m⟩`, needs exactly those activations with exactly that θ,
//! so each step costs one forward pass of `g`, one fused backward + meta update, one forward of
//! the new `m` and one transposed pass.

use anyhow::{Result, ensure};
use rayon::iter::Either;
use rayon::prelude::*;

use super::block_kernels::{
    BackwardLayer, Source, backward_chunk, blocks_per_chunk, forward_chunk, transpose_chunk,
    with_block_dim,
};
use super::family::Family;
use super::init::{permutation_rng, permutations, random_orthogonal, weight_rng};
use super::meta::{MetaOptimizer, MetaSums, MomentsMut};

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
    /// Layer vectors `z_0 = E·v, …, z_N = A·E·v` of the last preconditioned momentum (`acts_m`)
    /// and of the gradient being judged (`acts_g`), `(N+1)·width` each.
    acts_m: Vec<f32>,
    acts_g: Vec<f32>,
    /// Whether `acts_m` belongs to the current θ and momentum.
    m_cached: bool,
    /// Ping-pong buffers of the downward passes, per path.
    down_g: [Vec<f32>; 2],
    down_m: [Vec<f32>; 2],
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
            down_g: [vec![0.0; width], vec![0.0; width]],
            down_m: [vec![0.0; width], vec![0.0; width]],
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

    fn layer_len(&self) -> usize {
        self.width * self.k
    }

    /// Writes `z_0 = E·v` into the first row of `acts` and runs layers `1..=N` into the others.
    fn forward_all(&self, acts: &mut [f32], v: &[f32]) {
        let (row0, _) = acts.split_at_mut(self.width);
        row0[..self.n].copy_from_slice(v);
        row0[self.n..].fill(0.0);
        self.forward_layers(acts);
    }

    fn forward_layers(&self, acts: &mut [f32]) {
        let h = self.width;
        for layer in 1..=self.depth {
            let (done, rest) = acts.split_at_mut(layer * h);
            self.forward_layer(layer, &done[(layer - 1) * h..], &mut rest[..h]);
        }
    }

    /// `out = B_layer P_layer · input`.
    fn forward_layer(&self, layer: usize, input: &[f32], out: &mut [f32]) {
        let (k, cb) = (self.k, blocks_per_chunk(self.k));
        let weights = &self.theta[(layer - 1) * self.layer_len()..layer * self.layer_len()];
        let source = Source::Gathered(input, &self.perms[(layer - 1) * self.width..]);
        with_block_dim!(k, |d| {
            out.par_chunks_mut(cb * k)
                .zip(weights.par_chunks(cb * k * k))
                .enumerate()
                .for_each(|(c, (o, w))| forward_chunk(d, w, source, c * cb * k, o))
        });
    }

    /// `out = Eᵀ Aᵀ · top`, using `bufs` as the ping-pong of the downward pass.
    fn transpose_all(&self, top: &[f32], bufs: &mut [Vec<f32>; 2], out: &mut [f32]) {
        let (k, cb, h) = (self.k, blocks_per_chunk(self.k), self.width);
        for layer in (1..=self.depth).rev() {
            let (read, write) = split_ping_pong(bufs, (self.depth - layer) % 2);
            let source = if layer == self.depth {
                Source::Direct(top)
            } else {
                Source::Gathered(read, &self.inverses[layer * h..])
            };
            let weights = &self.theta[(layer - 1) * self.layer_len()..layer * self.layer_len()];
            with_block_dim!(k, |d| {
                write
                    .par_chunks_mut(cb * k)
                    .zip(weights.par_chunks(cb * k * k))
                    .enumerate()
                    .for_each(|(c, (o, w))| transpose_chunk(d, w, source, c * cb * k, o))
            });
        }
        // Layer 1 wrote the buffer of its parity, (N − 1) mod 2.
        let (_, bottom) = split_ping_pong(bufs, (self.depth - 1) % 2);
        for (o, &i) in out.iter_mut().zip(&self.inverses[..self.n]) {
            *o = bottom[i as usize];
        }
    }

    /// `out = M·v` with the cached forward pass of `v` already in `acts_m`.
    fn finish_cached(&mut self, out: &mut [f32]) {
        let mut bufs = std::mem::take(&mut self.down_g);
        let top = &self.acts_m[self.depth * self.width..];
        self.transpose_all(top, &mut bufs, out);
        self.down_g = bufs;
        self.m_cached = true;
    }
}

/// The moment buffers of one layer, split into the chunks the backward pass iterates over.
fn moment_chunks(
    moments: MomentsMut<'_>,
    chunk: usize,
    count: usize,
) -> impl IndexedParallelIterator<Item = MomentsMut<'_>> {
    match moments {
        Some((first, second)) => Either::Left(
            first
                .par_chunks_mut(chunk)
                .zip(second.par_chunks_mut(chunk))
                .map(Some),
        ),
        None => Either::Right(rayon::iter::repeat_n((), count).map(|()| None)),
    }
}

impl Family for BlockNet {
    fn describe(&self) -> String {
        format!(
            "block-diagonal, N={}, k={}, h={}",
            self.depth, self.k, self.width
        )
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
        let mut forward = [vec![0.0; h], vec![0.0; h]];
        forward[0][..self.n].copy_from_slice(v);
        for layer in 1..=self.depth {
            let [a, b] = &mut forward;
            let (input, output) = if layer % 2 == 1 { (&*a, b) } else { (&*b, a) };
            self.forward_layer(layer, input, output);
        }
        let top = &forward[self.depth % 2];
        let mut bufs = [vec![0.0; h], vec![0.0; h]];
        self.transpose_all(top, &mut bufs, out);
    }

    fn precondition_momentum(&mut self, m: &mut [f32], g: &[f32], beta: f32, out: &mut [f32]) {
        // The momentum update writes straight into the padded input row of the forward pass.
        let (row0, _) = self.acts_m.split_at_mut(self.width);
        for ((mi, &gi), z) in m.iter_mut().zip(g).zip(row0.iter_mut()) {
            *mi = beta * *mi + (1.0 - beta) * gi;
            *z = *mi;
        }
        row0[self.n..].fill(0.0);
        if self.depth == 0 {
            out.copy_from_slice(m);
            return;
        }
        let mut acts = std::mem::take(&mut self.acts_m);
        self.forward_layers(&mut acts);
        self.acts_m = acts;
        self.finish_cached(out);
    }

    fn precondition_cached(&mut self, v: &[f32], out: &mut [f32]) {
        if self.depth == 0 {
            out.copy_from_slice(v);
            return;
        }
        let mut acts = std::mem::take(&mut self.acts_m);
        self.forward_all(&mut acts, v);
        self.acts_m = acts;
        self.finish_cached(out);
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
            self.forward_all(&mut acts_m, prev);
        }
        self.forward_all(&mut acts_g, g);
        let mut total = MetaSums::default();
        for layer in (1..=self.depth).rev() {
            let sums = self.backward_layer(layer, &acts_g, &acts_m, scale, step, meta);
            layer_sq[layer - 1] = sums.grad_sq;
            total += sums;
        }
        self.acts_m = acts_m;
        self.acts_g = acts_g;
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
        step: super::meta::MetaStep,
        meta: &mut MetaOptimizer,
    ) -> MetaSums {
        let (k, cb, h, depth) = (self.k, blocks_per_chunk(self.k), self.width, self.depth);
        let layer_len = self.layer_len();
        let range = (layer - 1) * layer_len..layer * layer_len;
        let Self {
            perms,
            inverses,
            theta,
            down_g,
            down_m,
            partials,
            ..
        } = self;
        let parity = (depth - layer) % 2;
        let (read_g, write_g) = split_ping_pong(down_g, parity);
        let (read_m, write_m) = split_ping_pong(down_m, parity);
        let perm = &perms[(layer - 1) * h..layer * h];
        // ∂⟨u, w⟩/∂u = w and ∂⟨u, w⟩/∂w = u at the top; below, what the layer above sent down
        // (scattered back through its permutation).
        let (upstream_g, upstream_m) = if layer == depth {
            (
                Source::Direct(&acts_m[depth * h..]),
                Source::Direct(&acts_g[depth * h..]),
            )
        } else {
            let inverse = &inverses[layer * h..(layer + 1) * h];
            (
                Source::Gathered(read_g, inverse),
                Source::Gathered(read_m, inverse),
            )
        };
        let pass = BackwardLayer {
            input_g: Source::Gathered(&acts_g[(layer - 1) * h..layer * h], perm),
            input_m: Source::Gathered(&acts_m[(layer - 1) * h..layer * h], perm),
            upstream_g,
            upstream_m,
            scale,
            meta: step,
        };
        let moments = meta
            .moments_mut()
            .map(|(a, b)| (&mut a[range.clone()], &mut b[range.clone()]));
        let weights = &mut theta[range];
        let chunks = partials.len();
        with_block_dim!(k, |d| {
            (
                weights.par_chunks_mut(cb * k * k),
                moment_chunks(moments, cb * k * k, chunks),
                write_g.par_chunks_mut(cb * k),
                write_m.par_chunks_mut(cb * k),
                partials.par_iter_mut(),
            )
                .into_par_iter()
                .enumerate()
                .for_each(|(c, (w, mom, og, om, sums))| {
                    *sums = backward_chunk(d, &pass, c * cb * k, w, mom, og, om);
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
