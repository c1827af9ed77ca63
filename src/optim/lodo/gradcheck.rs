//! The hand-written hypergradients against central finite differences, for every learned family.
//!
//! The reference is independent of the production passes: each family's `M(θ)` is rebuilt from
//! its definition (docs/algorithm.md §2, §4) in f64 — transposes written as the transposes of the forward
//! maps (a permutation's transpose scatters, where production gathers by the inverse) — and
//! `θ ↦ f(x_{t−1} − α0'·M(θ)·m_{t−1})` is differentiated by central differences in f64. The production hypergradient is read back
//! from Adam's first moment after one meta step from zeroed moments (`m₁ = (1−β1)·∂f/∂θ`), so the
//! fused backward + meta update is what is checked, at a generic θ reached by a few real steps.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::block_net::{BlockNet, hidden_width};
use super::family::Family;
use super::meta::META_ADAM_BETA1;
use super::residuals::Residuals;
use crate::optim::{BuildContext, OptimizerSpec, OptimizerState, spec::build};

/// The small problem size of most checks (docs/algorithm.md §3: "n ≈ 10").
const N: usize = 10;
const SEED: u64 = 42;

/// `f(x) = ½ (x−c)ᵀ H (x−c)` with a random SPD `H = 0.3·I + (2.7/n)·B·Bᵀ`, `B` an `n×r`
/// matrix of U(−1, 1) entries with `r = min(n, 10)` (full rank for the small checks, cheap for
/// the large ones); its eigenvalues lie in about [0.3, 4].
struct Quadratic {
    /// `B` stored column by column.
    b: Vec<Vec<f64>>,
    c: Vec<f64>,
}

impl Quadratic {
    fn new(n: usize, rng: &mut ChaCha8Rng) -> Self {
        let b = (0..n.min(10))
            .map(|_| (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect())
            .collect();
        let c = (0..n).map(|_| rng.gen_range(-2.0..2.0)).collect();
        Self { b, c }
    }

    /// `H·d`.
    fn hessian_times(&self, d: &[f64]) -> Vec<f64> {
        let weight = 2.7 / d.len() as f64;
        let mut out: Vec<f64> = d.iter().map(|x| 0.3 * x).collect();
        for column in &self.b {
            let p = weight * dot(column, d);
            out.iter_mut().zip(column).for_each(|(o, bi)| *o += p * bi);
        }
        out
    }

    fn value(&self, x: &[f64]) -> f64 {
        let d: Vec<f64> = x.iter().zip(&self.c).map(|(a, b)| a - b).collect();
        0.5 * dot(&d, &self.hessian_times(&d))
    }

    fn grad32(&self, x: &[f32]) -> Vec<f32> {
        let d: Vec<f64> = x
            .iter()
            .zip(&self.c)
            .map(|(&a, b)| f64::from(a) - b)
            .collect();
        self.hessian_times(&d).iter().map(|&g| g as f32).collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `(P z)[j] = z[π[j]]`, the convention of docs/algorithm.md §2 ("permutes by π_i").
fn permute(perm: &[u32], z: &[f64]) -> Vec<f64> {
    perm.iter().map(|&p| z[p as usize]).collect()
}

/// `Pᵀ y`, written as the transpose of [`permute`]'s matrix: entry `(j, π[j])` moves `y[j]` to
/// `π[j]`.
fn permute_transposed(perm: &[u32], y: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; y.len()];
    for (j, &p) in perm.iter().enumerate() {
        z[p as usize] += y[j];
    }
    z
}

/// `B z` (or `Bᵀ z`) for the block-diagonal `B` whose row-major `k×k` blocks are `weights`.
fn blocks(weights: &[f64], k: usize, z: &[f64], transposed: bool) -> Vec<f64> {
    let mut out = vec![0.0; z.len()];
    for b in 0..z.len() / k {
        for r in 0..k {
            for c in 0..k {
                let w = weights[b * k * k + r * k + c];
                if transposed {
                    out[b * k + c] += w * z[b * k + r];
                } else {
                    out[b * k + r] += w * z[b * k + c];
                }
            }
        }
    }
    out
}

/// A family's `M(θ)·v` from its definition, in f64.
enum Reference {
    /// `EᵀAᵀAE`, `A = B_N P_N ⋯ B_1 P_1`.
    Block {
        perms: Vec<Vec<u32>>,
        h: usize,
        k: usize,
    },
    /// `Eᵀ R_1ᵀ⋯R_Nᵀ D R_N⋯R_1 E`, `R_i = I + diag(w_i) P_i`, `D = diag(d)` applied once (the
    /// authors' residual variant).
    Residual {
        perms: Vec<Vec<u32>>,
        h: usize,
    },
    Diagonal,
    Global,
}

impl Reference {
    fn block(n: usize, depth: usize, k: usize) -> Self {
        let net = BlockNet::new(n, depth, k, SEED);
        let perms = (1..=depth).map(|l| net.permutation(l).to_vec()).collect();
        Reference::Block {
            perms,
            h: hidden_width(n, k),
            k,
        }
    }

    fn residual(n: usize, depth: usize) -> Self {
        let net = Residuals::new(n, depth, SEED);
        let perms = (1..=depth).map(|l| net.permutation(l).to_vec()).collect();
        Reference::Residual { perms, h: 2 * n }
    }

    fn apply(&self, theta: &[f64], v: &[f64]) -> Vec<f64> {
        let mut z = v.to_vec();
        match self {
            Reference::Block { perms, h, k } => {
                let layer = |i: usize| &theta[i * h * k..(i + 1) * h * k];
                z.resize(*h, 0.0);
                for (i, p) in perms.iter().enumerate() {
                    z = blocks(layer(i), *k, &permute(p, &z), false);
                }
                for (i, p) in perms.iter().enumerate().rev() {
                    z = permute_transposed(p, &blocks(layer(i), *k, &z, true));
                }
            }
            Reference::Residual { perms, h } => {
                let w = |i: usize| &theta[i * h..(i + 1) * h];
                z.resize(*h, 0.0);
                for (i, p) in perms.iter().enumerate() {
                    let pz = permute(p, &z);
                    z.iter_mut()
                        .enumerate()
                        .for_each(|(j, x)| *x += w(i)[j] * pz[j]);
                }
                let d = &theta[perms.len() * h..];
                z.iter_mut().zip(d).for_each(|(x, di)| *x *= di);
                for (i, p) in perms.iter().enumerate().rev() {
                    let wz: Vec<f64> = z.iter().zip(w(i)).map(|(a, b)| a * b).collect();
                    let back = permute_transposed(p, &wz);
                    z.iter_mut().zip(&back).for_each(|(x, b)| *x += b);
                }
            }
            Reference::Diagonal => z.iter_mut().zip(theta).for_each(|(x, t)| *x *= t),
            Reference::Global => z.iter_mut().for_each(|x| *x *= theta[0]),
        }
        z.truncate(v.len());
        z
    }

    /// Lengths of the layers of θ, in the order the optimizer reports them.
    fn layer_lengths(&self, theta_len: usize) -> Vec<usize> {
        match self {
            Reference::Block { perms, h, k } => vec![h * k; perms.len()],
            Reference::Residual { perms, h } => vec![*h; perms.len() + 1],
            Reference::Diagonal | Reference::Global => vec![theta_len],
        }
    }
}

fn spec(name: &str, tweak: impl Fn(&mut OptimizerSpec)) -> OptimizerSpec {
    let mut spec = OptimizerSpec::named(name);
    spec.lr = Some(0.4);
    spec.meta_lr = Some(0.02);
    tweak(&mut spec);
    spec
}

fn buffer(state: &OptimizerState, name: &str) -> Vec<f32> {
    state
        .buffers
        .iter()
        .find(|(k, _)| k == name)
        .expect("buffer exists")
        .1
        .clone()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Which entries of each layer of θ to check.
#[derive(Clone, Copy)]
enum Entries {
    All,
    /// This many per layer, spread evenly over the layer (so every chunk is visited).
    Spread(usize),
}

/// Takes a few real steps (so θ and the momentum are generic), then checks the hypergradient
/// of the next step against central differences, layer by layer. `tolerance` is relative to the
/// largest |∂f/∂θ| of each layer.
fn check(spec: OptimizerSpec, reference: Reference, n: usize, entries: Entries, tolerance: f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let f = Quadratic::new(n, &mut rng);
    let ctx = BuildContext {
        n,
        layers: &[],
        seed: SEED,
        horizon: None,
    };
    let mut opt = build(&spec, &ctx).unwrap();
    let mut x: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut no_batch = |_: &[f32], _: &mut [f32]| -> anyhow::Result<f32> { unreachable!() };
    let mut x_prev = x.clone();
    for _ in 0..4 {
        x_prev.copy_from_slice(&x);
        let g = f.grad32(&x);
        opt.step(&mut x, &g, &mut no_batch).unwrap();
    }
    // The step that led to x was x − x_prev = −α0'·M(θ)·m with the θ, m and α0' saved now.
    let mut state = opt.state();
    let theta = f64s(&buffer(&state, "theta"));
    let m_prev = f64s(&buffer(&state, "momentum"));
    let alpha_prev = state.scalar("last_step_lr").unwrap();
    let x_prev = f64s(&x_prev);
    let reproduced = reference.apply(&theta, &m_prev);
    for i in 0..n {
        let expected = x_prev[i] - alpha_prev * reproduced[i];
        assert!(
            (f64::from(x[i]) - expected).abs() < 1e-5 * expected.abs().max(1.0),
            "reference disagrees with the step at {i}: {} vs {expected}",
            x[i]
        );
    }
    // Zeroed Adam moments: after one meta step the first moment is (1−β1)·∂f/∂θ.
    for (name, buf) in &mut state.buffers {
        if name.starts_with("meta_") {
            buf.fill(0.0);
        }
    }
    for (name, value) in &mut state.scalars {
        if name == "meta_steps" {
            *value = 0.0;
        }
    }
    opt.load_state(&state).unwrap();
    // The hypergradient judges the previous step, so it must use that step's α0, not the new one.
    opt.set_lr(spec.lr.unwrap() * 1.7).unwrap();
    let g = f.grad32(&x);
    let stats = opt.step(&mut x, &g, &mut no_batch).unwrap();
    let after = opt.state();
    let analytic: Vec<f64> = match after.buffers.iter().find(|(k, _)| k == "meta_first") {
        Some((_, first)) => first
            .iter()
            .map(|&m| f64::from(m) / f64::from(1.0 - META_ADAM_BETA1))
            .collect(),
        None => {
            let lr = f64::from(spec.meta_lr.unwrap());
            let new = f64s(&buffer(&after, "theta"));
            theta.iter().zip(&new).map(|(a, b)| (a - b) / lr).collect()
        }
    };
    let phi = |theta: &[f64]| {
        let step = reference.apply(theta, &m_prev);
        let x: Vec<f64> = x_prev
            .iter()
            .zip(&step)
            .map(|(x, s)| x - alpha_prev * s)
            .collect();
        f.value(&x)
    };
    let lodo = stats.lodo.expect("LODO statistics");
    let mut start = 0;
    for (layer, len) in reference.layer_lengths(theta.len()).into_iter().enumerate() {
        let picked: Vec<usize> = match entries {
            Entries::All => (start..start + len).collect(),
            Entries::Spread(count) => (0..count).map(|i| start + i * len / count).collect(),
        };
        let mut theta = theta.clone();
        let mut worst = (0.0f64, 0.0f64);
        for &e in &picked {
            let (saved, eps) = (theta[e], 1e-5);
            theta[e] = saved + eps;
            let up = phi(&theta);
            theta[e] = saved - eps;
            let down = phi(&theta);
            theta[e] = saved;
            let fd = (up - down) / (2.0 * eps);
            worst.0 = worst.0.max(fd.abs());
            worst.1 = worst.1.max((fd - analytic[e]).abs());
        }
        assert!(
            worst.0 > 1e-6,
            "layer {layer}: no signal to check ({})",
            worst.0
        );
        assert!(
            worst.1 <= tolerance * worst.0,
            "{}: layer {layer}: |analytic − finite difference| = {:.3e}, largest |∂f/∂θ| = {:.3e}",
            spec.name,
            worst.1,
            worst.0
        );
        if let Entries::All = entries {
            let norm = analytic[start..start + len]
                .iter()
                .map(|a| a * a)
                .sum::<f64>()
                .sqrt();
            let reported = f64::from(lodo.layer_hypergrad_norms[layer]);
            assert!(
                (reported - norm).abs() <= 1e-4 * norm,
                "layer {layer}: norm {reported} vs {norm}"
            );
        }
        start += len;
    }
    assert_eq!(start, theta.len(), "the layers tile θ");
    assert_eq!(
        lodo.layer_hypergrad_norms.len(),
        reference.layer_lengths(theta.len()).len()
    );
}

/// Tolerance of the Adam-read checks, relative to each layer's largest entry: the analytic side is
/// f32 arithmetic through up to 2·64 layers (measured ≤ 1e-7 for LODO, ≤ 3e-6 for the 64-layer
/// residual network); the f64 central differences (ε = 1e-5) are accurate to ~1e-9. A wrong
/// transpose, permutation or α0 gives errors of order 1.
const TOL: f64 = 2e-5;

#[test]
fn lodo_default_network_all_layers() {
    check(
        spec("lodo", |_| {}),
        Reference::block(N, 16, 4),
        N,
        Entries::All,
        TOL,
    );
}

#[test]
fn lodo_block_sizes_and_padding() {
    // k = 3 takes the runtime-k kernels and pads 20 → 21; k = 1 and 8 other fixed kernels.
    for (depth, k) in [(5, 3), (4, 1), (3, 8), (2, 5)] {
        let s = spec("lodo", |s| {
            s.depth = Some(depth);
            s.block_size = Some(k);
        });
        check(s, Reference::block(N, depth, k), N, Entries::All, TOL);
    }
}

#[test]
fn lodo_without_momentum() {
    check(
        spec("lodo-no-momentum", |_| {}),
        Reference::block(N, 16, 4),
        N,
        Entries::All,
        TOL,
    );
}

#[test]
fn lodo_with_sgd_meta_optimizer() {
    // Read back as (θ_before − θ_after)/meta_lr: f32 cancellation costs up to ~1e-5 relative.
    let s = spec("lodo-sgd", |s| s.depth = Some(6));
    check(s, Reference::block(N, 6, 4), N, Entries::All, 2e-4);
}

#[test]
fn lodo_many_chunks_in_parallel() {
    // n = 2500, k = 4: 1250 blocks per layer, more than one chunk (1024 blocks), so the parallel
    // chunked path and its offsets are exercised; 24 entries spread over each layer.
    let n = 2500;
    assert!(BlockNet::new(n, 4, 4, SEED).runs_in_parallel());
    let s = spec("lodo", |s| s.depth = Some(4));
    check(s, Reference::block(n, 4, 4), n, Entries::Spread(24), TOL);
}

#[test]
fn lodo_residuals_many_chunks_in_parallel() {
    // n = 5000: width 10,000 is more than one parallel chunk of the residual passes.
    let n = 5000;
    assert!(Residuals::new(n, 3, SEED).runs_in_parallel());
    let s = spec("lodo-residuals", |s| s.depth = Some(3));
    check(s, Reference::residual(n, 3), n, Entries::Spread(16), TOL);
}

#[test]
fn lodo_diagonal() {
    check(
        spec("lodo-diagonal", |_| {}),
        Reference::Diagonal,
        N,
        Entries::All,
        TOL,
    );
}

#[test]
fn lodo_global() {
    check(
        spec("lodo-global", |_| {}),
        Reference::Global,
        N,
        Entries::All,
        TOL,
    );
}

#[test]
fn lodo_residuals_all_layers() {
    check(
        spec("lodo-residuals", |_| {}),
        Reference::residual(N, 64),
        N,
        Entries::All,
        TOL,
    );
    let s = spec("lodo-residuals", |s| {
        s.depth = Some(3);
        s.beta = Some(0.0);
    });
    check(s, Reference::residual(N, 3), N, Entries::All, TOL);
}
