//! Test problems shared by the optimizer tests: a seeded normal generator, quadratics with a
//! known Hessian, and a same-batch oracle for optimizers that must not ask for one.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::Preconditioner;

/// A `SameBatch` for first-order optimizers: calling it is a test failure.
pub fn no_same_batch() -> impl FnMut(&[f32], &mut [f32]) -> anyhow::Result<f32> {
    |_: &[f32], _: &mut [f32]| {
        anyhow::bail!("this optimizer must not ask for a same-batch gradient")
    }
}

/// Seeded standard-normal samples.
pub struct TestRng(ChaCha8Rng);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    pub fn normal(&mut self) -> f32 {
        StandardNormal.sample(&mut self.0)
    }

    pub fn normal64(&mut self) -> f64 {
        StandardNormal.sample(&mut self.0)
    }
}

/// `f(x) = ½ (x − c)ᵀ A (x − c)` with `A = Q diag(λ) Qᵀ`, `λ` log-spaced in `[lo, hi]` and `Q`
/// a seeded random orthogonal matrix (Gram–Schmidt of a Gaussian matrix); condition `hi/lo`.
pub struct Quadratic {
    pub n: usize,
    /// `A`, dense row-major, f64.
    a: Vec<f64>,
    /// `A⁻¹ = Q diag(1/λ) Qᵀ`.
    a_inv: Vec<f64>,
    pub centre: Vec<f32>,
}

impl Quadratic {
    pub fn new(n: usize, lo: f64, hi: f64, seed: u64) -> Self {
        let mut rng = TestRng::new(seed);
        let mut q: Vec<Vec<f64>> = Vec::with_capacity(n);
        while q.len() < n {
            let mut v: Vec<f64> = (0..n).map(|_| rng.normal64()).collect();
            for u in &q {
                let p: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(v, u)| *v -= p * u);
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-6 {
                q.push(v.into_iter().map(|x| x / norm).collect());
            }
        }
        let lambda: Vec<f64> = (0..n)
            .map(|i| {
                let t = if n > 1 {
                    i as f64 / (n - 1) as f64
                } else {
                    0.0
                };
                lo * (hi / lo).powf(t)
            })
            .collect();
        let dense = |f: &dyn Fn(f64) -> f64| {
            let mut m = vec![0.0; n * n];
            for (u, &l) in q.iter().zip(&lambda) {
                for i in 0..n {
                    for j in 0..n {
                        m[i * n + j] += f(l) * u[i] * u[j];
                    }
                }
            }
            m
        };
        Self {
            n,
            a: dense(&|l| l),
            a_inv: dense(&|l| 1.0 / l),
            centre: vec![0.0; n],
        }
    }

    /// Moves the minimum to `centre`.
    pub fn set_centre(&mut self, centre: &[f32]) {
        self.centre.copy_from_slice(centre);
    }

    /// The quadratic with its minimum moved to `centre`.
    pub fn centred(mut self, centre: Vec<f32>) -> Self {
        assert_eq!(centre.len(), self.n);
        self.centre = centre;
        self
    }

    /// The quadratic whose gradient at `x` is `g`: the minimum moves to `x − A⁻¹·g`.
    pub fn with_gradient_at(self, x: &[f32], g: &[f32]) -> Self {
        let n = self.n;
        let centre = (0..n)
            .map(|i| {
                let a_inv_g: f64 = (0..n).map(|j| self.a_inv[i * n + j] * g[j] as f64).sum();
                (x[i] as f64 - a_inv_g) as f32
            })
            .collect();
        self.centred(centre)
    }

    /// The paper's Hessian approximation error `‖I − G·A‖_F/√n` of a preconditioner `G`.
    pub fn hessian_error(&self, p: &dyn Preconditioner) -> f64 {
        let n = self.n;
        let mut sum = 0.0;
        let mut col = vec![0.0f32; n];
        for j in 0..n {
            let e_j: Vec<f32> = (0..n).map(|i| (i == j) as u8 as f32).collect();
            p.apply(&self.hessian_times(&e_j), &mut col);
            for (i, &c) in col.iter().enumerate() {
                sum += ((i == j) as u8 as f64 - c as f64).powi(2);
            }
        }
        (sum / n as f64).sqrt()
    }

    pub fn hessian_inverse(&self) -> &[f64] {
        &self.a_inv
    }

    pub fn hessian_times(&self, v: &[f32]) -> Vec<f32> {
        let n = self.n;
        (0..n)
            .map(|i| (0..n).map(|j| self.a[i * n + j] * v[j] as f64).sum::<f64>() as f32)
            .collect()
    }

    pub fn loss_and_grad(&self, x: &[f32], g: &mut [f32]) -> f32 {
        let d: Vec<f32> = x.iter().zip(&self.centre).map(|(x, c)| x - c).collect();
        let ad = self.hessian_times(&d);
        g.copy_from_slice(&ad);
        0.5 * d
            .iter()
            .zip(&ad)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum::<f64>() as f32
    }

    /// The deterministic same-batch oracle of this quadratic.
    pub fn oracle(&self) -> impl FnMut(&[f32], &mut [f32]) -> anyhow::Result<f32> + '_ {
        |x: &[f32], g: &mut [f32]| Ok(self.loss_and_grad(x, g))
    }

    /// `‖x − c‖`.
    pub fn distance(&self, x: &[f32]) -> f64 {
        x.iter()
            .zip(&self.centre)
            .map(|(x, c)| ((x - c) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }
}
