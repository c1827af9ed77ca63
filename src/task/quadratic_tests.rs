use super::*;

/// A dense matrix as a preconditioner.
struct Dense {
    n: usize,
    m: Vec<f32>,
}

impl Preconditioner for Dense {
    fn apply(&self, v: &[f32], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(self.m.chunks_exact(self.n)) {
            *o = row.iter().zip(v).map(|(a, b)| a * b).sum();
        }
    }
}

fn scaled_identity(n: usize, a: f32) -> Dense {
    let mut m = vec![0.0; n * n];
    (0..n).for_each(|i| m[i * n + i] = a);
    Dense { n, m }
}

fn default_task(seed: u64) -> Quadratic {
    Quadratic::new(DEFAULT_DIM, DEFAULT_EIGENVALUES, DEFAULT_NOISE, seed).unwrap()
}

#[test]
fn rotation_is_orthogonal_and_hessian_has_the_chosen_spectrum() {
    let q = default_task(3);
    let n = q.n;
    for i in 0..n {
        for j in 0..n {
            let dot: f64 = (0..n)
                .map(|k| q.rotation[i * n + k] * q.rotation[j * n + k])
                .sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-12, "QQᵀ[{i},{j}] = {dot}");
        }
    }
    let h = q.hessian();
    let trace: f64 = (0..n).map(|i| f64::from(h[i * n + i])).sum();
    let frob2: f64 = h.iter().map(|&v| f64::from(v).powi(2)).sum();
    let lam = q.eigenvalues();
    // tr H = Σλ and ‖H‖_F² = Σλ² (similarity invariants); f32 rounding of H gives ~1e-7 relative.
    assert!((trace - lam.iter().sum::<f64>()).abs() < 1e-5);
    assert!((frob2 - lam.iter().map(|l| l * l).sum::<f64>()).abs() < 1e-5);
    assert!((0..n).all(|i| (0..n).all(|j| h[i * n + j] == h[j * n + i])));
    // The ends are the f32 settings 0.001 and 1 (0.001 is not exact in f32: ~5e-11 off).
    assert!((lam[0] - 0.001).abs() < 1e-10 && (lam[n - 1] - 1.0).abs() < 1e-12);
    // Log-spaced: constant ratio between neighbours, (1/0.001)^(1/99).
    let ratio = (1.0 / f64::from(0.001f32)).powf(1.0 / 99.0);
    assert!(lam.windows(2).all(|w| (w[1] / w[0] - ratio).abs() < 1e-12));
}

#[test]
fn gradient_matches_central_differences() {
    // f is quadratic, so central differences are exact up to rounding; step 0.05, f ≈ 10, f32
    // loss rounding ~1e-6 → ≤ 1e-4 error in the difference quotient.
    let mut q = default_task(5);
    q.next_batch();
    let x: Vec<f32> = (0..q.n)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 4.0)
        .collect();
    let mut g = vec![0.0; q.n];
    q.loss_and_grad(&x, &mut g).unwrap();
    let mut scratch = vec![0.0; q.n];
    let h = 0.05;
    for i in (0..q.n).step_by(7) {
        let mut xp = x.clone();
        xp[i] += h;
        let fp = q.loss_and_grad(&xp, &mut scratch).unwrap();
        xp[i] -= 2.0 * h;
        let fm = q.loss_and_grad(&xp, &mut scratch).unwrap();
        let fd = (fp - fm) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() < 2e-4 + 1e-3 * g[i].abs(),
            "{i}: {fd} vs {}",
            g[i]
        );
    }
}

#[test]
fn loss_is_zero_at_the_centre_and_matches_the_hessian_along_eigenvectors() {
    let mut q = default_task(9);
    let c = q.centre().to_vec();
    let mut g = vec![0.0; q.n];
    assert_eq!(q.loss_and_grad(&c, &mut g).unwrap(), 0.0);
    assert!(g.iter().all(|&v| v == 0.0));
    // Along eigenvector k, f(c + t q_k) = ½ t² λ_k exactly.
    for k in [0, 50, 99] {
        let x: Vec<f32> = (0..q.n)
            .map(|i| c[i] + 2.0 * q.eigenvectors()[k * q.n + i] as f32)
            .collect();
        let f = q.loss_and_grad(&x, &mut g).unwrap();
        let want = 2.0 * q.eigenvalues()[k] as f32;
        assert!(
            (f - want).abs() < 1e-5 + 1e-4 * want,
            "k={k}: {f} vs {want}"
        );
    }
}

#[test]
fn hessian_error_has_known_values() {
    let mut q = default_task(2);
    let lam = q.eigenvalues().to_vec();
    let dim = q.n;
    let n = dim as f64;
    let ctx_error = |q: &mut Quadratic, g: &Dense| {
        let ctx = EvalContext {
            preconditioner: Some(g),
        };
        q.evaluate(&q.init_params(), &ctx).unwrap()["hessian_error"]
    };
    // G = αI: ‖I − αH‖_F/√n = √(Σ(1 − αλ)²/n).
    for alpha in [0.0f32, 1.0, 3.0] {
        let got = ctx_error(&mut q, &scaled_identity(dim, alpha));
        let want = (lam
            .iter()
            .map(|l| (1.0 - f64::from(alpha) * l).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!((got - want).abs() < 1e-5, "α={alpha}: {got} vs {want}");
    }
    // G = H⁻¹ (condition number 1000, f32): close to 0.
    let inverse = Dense {
        n: dim,
        m: q.hessian_power(-1.0),
    };
    let got = ctx_error(&mut q, &inverse);
    assert!(got < 1e-3, "exact inverse gives {got}");
    // G = 1.9·H⁻¹ is off by 0.9 as is, and exact up to its scale.
    let scaled = Dense {
        n: dim,
        m: inverse.m.iter().map(|v| 1.9 * v).collect(),
    };
    let fit = q.preconditioner_fit(&scaled);
    assert!((fit.error - 0.9).abs() < 1e-3, "{fit:?}");
    assert!(fit.best_scale_error < 1e-3, "{fit:?}");
    assert!((fit.best_scale - 1.0 / 1.9).abs() < 1e-3, "{fit:?}");
    // G = αI: the best multiple of I, s·α = tr H/‖H‖_F², leaves √(1 − (tr H)²/(n‖H‖_F²)).
    let (tr, frob) = (
        lam.iter().sum::<f64>(),
        lam.iter().map(|l| l * l).sum::<f64>(),
    );
    let want = (1.0 - tr * tr / (n * frob)).sqrt();
    for alpha in [1.0f32, 3.0] {
        let m = q
            .evaluate(
                &q.init_params(),
                &EvalContext {
                    preconditioner: Some(&scaled_identity(dim, alpha)),
                },
            )
            .unwrap();
        let got = m["hessian_error_best_scale"];
        assert!((got - want).abs() < 1e-5, "α={alpha}: {got} vs {want}");
    }
    // The zero matrix has no best scale: the error is that of G = 0.
    let zero = q.preconditioner_fit(&scaled_identity(dim, 0.0));
    assert_eq!((zero.best_scale_error, zero.best_scale), (1.0, 0.0));
    // Without a preconditioner there is no hessian_error.
    let m = q
        .evaluate(&q.init_params(), &EvalContext::default())
        .unwrap();
    assert!(!m.contains_key("hessian_error"));
    assert!(!m.contains_key("hessian_error_best_scale"));
}

#[test]
fn metrics_describe_the_current_centre() {
    let mut q = Quadratic::new(4, (0.5, 2.0), 0.5, 1).unwrap();
    let mut x = q.centre().to_vec();
    x[0] += 3.0;
    let mut g = vec![0.0; 4];
    let loss = q.loss_and_grad(&x, &mut g).unwrap();
    let m = q.evaluate(&x, &EvalContext::default()).unwrap();
    assert!((m["loss_at_centre"] - f64::from(loss)).abs() < 1e-6);
    assert!((m["distance_to_centre"] - 3.0).abs() < 1e-6);
    // ½ σ² tr H with λ = 0.5, 0.794, 1.260, 2 (log-spaced): tr = 4.554.
    let trace: f64 = q.eigenvalues().iter().sum();
    assert!((trace - 4.5543).abs() < 1e-3);
    assert!((m["noise_floor"] - 0.125 * trace).abs() < 1e-12);
}

#[test]
fn centre_takes_gaussian_steps_of_the_chosen_size() {
    // 60 steps × 100 coordinates = 6000 increments of N(0, 0.5²): the sample mean is within
    // 5 standard errors (5 · 0.5/√6000 = 0.032) of 0 and the variance within 10% of 0.25
    // (standard error √(2/6000) ≈ 1.8%).
    let mut q = Quadratic::new(100, DEFAULT_EIGENVALUES, 0.5, 4).unwrap();
    let mut steps = Vec::new();
    for _ in 0..60 {
        let before = q.centre().to_vec();
        q.next_batch();
        steps.extend(
            q.centre()
                .iter()
                .zip(&before)
                .map(|(a, b)| f64::from(a - b)),
        );
    }
    let mean = steps.iter().sum::<f64>() / steps.len() as f64;
    let var = steps.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / steps.len() as f64;
    assert!(mean.abs() < 0.032, "mean {mean}");
    assert!((var / 0.25 - 1.0).abs() < 0.1, "variance {var}");
    // noise = 0: a fixed quadratic.
    let mut fixed = Quadratic::new(10, DEFAULT_EIGENVALUES, 0.0, 4).unwrap();
    let c = fixed.centre().to_vec();
    fixed.next_batch();
    assert_eq!(fixed.centre(), c.as_slice());
}

#[test]
fn gradient_descent_converges_on_the_fixed_quadratic() {
    // λ ≤ 1, so step size 1 contracts every eigen-direction by (1 − λ); after 100 steps the
    // loss of the stiffest directions is gone and the total must have fallen.
    let mut q = Quadratic::new(20, (0.1, 1.0), 0.0, 8).unwrap();
    let mut x = q.init_params();
    let mut g = vec![0.0; 20];
    let start = q.loss_and_grad(&x, &mut g).unwrap();
    for _ in 0..100 {
        q.loss_and_grad(&x, &mut g).unwrap();
        x.iter_mut().zip(&g).for_each(|(xi, gi)| *xi -= gi);
    }
    let end = q.loss_and_grad(&x, &mut g).unwrap();
    assert!(end < 1e-6 * start, "{start} -> {end}");
}

#[test]
fn state_round_trip_replays_the_same_centres() {
    let mut q = default_task(11);
    q.next_batch();
    let saved = q.state();
    let run = |q: &mut Quadratic| {
        (0..3)
            .map(|_| {
                q.next_batch();
                q.centre().to_vec()
            })
            .collect::<Vec<_>>()
    };
    let first = run(&mut q);
    q.load_state(&saved).unwrap();
    assert_eq!(run(&mut q), first);
    // A fresh task with the same seed continues identically from the saved state.
    let mut fresh = default_task(11);
    fresh.load_state(&saved).unwrap();
    assert_eq!(run(&mut fresh), first);
    let err = default_task(12).load_state(&saved).unwrap_err().to_string();
    assert!(err.contains("from seed 11, this run has seed 12"), "{err}");
}

#[test]
fn seeds_and_settings() {
    assert_eq!(default_task(1).hessian(), default_task(1).hessian());
    assert_ne!(default_task(1).hessian(), default_task(2).hessian());
    let q = default_task(1);
    assert_eq!(q.dim(), 100);
    assert_eq!(
        q.layers(),
        vec![Layer {
            name: "x".into(),
            range: 0..100
        }]
    );
    assert!(q.init_params().iter().all(|&v| v == 0.0));
    assert!(
        q.title().starts_with("Noisy quadratic bowl (n = 100"),
        "{}",
        q.title()
    );
    let bad = |r: Result<Quadratic>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(bad(Quadratic::new(0, (0.1, 1.0), 1.0, 0)).contains("dim 0 is out of range"));
    assert!(bad(Quadratic::new(5, (0.0, 1.0), 1.0, 0)).contains("0 < smallest <= largest"));
    assert!(bad(Quadratic::new(5, (0.1, 1.0), -1.0, 0)).contains("noise -1"));
    let mut q = default_task(1);
    let err = q
        .loss_and_grad(&[0.0; 3], &mut [0.0; 3])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "quadratic: params has length 3, expected dim = 100");
}
