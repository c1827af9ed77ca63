//! Where a learned preconditioner `G` stands against the inverse Hessian of the noisy quadratic,
//! eigen-direction by eigen-direction: the diagnostic behind docs/results.md §1.
//!
//! ```sh
//! cargo run --release --example quadratic_spectrum -- SPEC [STEPS] [SEED] [REPORTS]
//! cargo run --release --example quadratic_spectrum -- lodo:meta_lr=1e-3 100000 0 10
//! ```
//!
//! Runs the optimizer SPEC (as `compare` takes it, with the `quadratic` preset's settings) on the
//! preset's task and prints, REPORTS times, the Hessian error `‖I − G·H‖_F/√n`, the mean loss
//! since the last report, and `Γ = QᵀGQ` (G in H's eigenbasis) summarised over 5 bands of 20
//! eigenvalues each, from the flattest to the stiffest: the mean gain `Γ_ii·λ_i` (1 is Newton's
//! step), and each band's share of the squared error, split into the diagonal part
//! `Σ_i (1 − Γ_ii λ_i)²` and the off-diagonal part `Σ_{i≠j} Γ_ij² λ_j²` (columns `j` in the
//! band). `‖I − GH‖_F² = ‖I − ΓΛ‖_F²` because Q is orthogonal, so the shares add up to 100%.
//! Last, the error of the best scalar multiple of G, `min_s ‖I − s·G·H‖_F/√n`, and that `s`.

use anyhow::{Context, Result, bail};
use lodo_tui::builders::Builders;
use lodo_tui::launch::spec_arg;
use lodo_tui::optim::spec::build;
use lodo_tui::optim::{BuildContext, Optimizer};
use lodo_tui::preset::Preset;
use lodo_tui::task::Task;
use lodo_tui::task::quadratic::Quadratic;

const BANDS: usize = 5;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(spec_text) = args.first() else {
        bail!("usage: quadratic_spectrum SPEC [STEPS] [SEED] [REPORTS]");
    };
    let number = |i: usize, default: u64| -> Result<u64> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse()
                .with_context(|| format!("argument {i}: `{s}` is not a number"))
        })
    };
    let (steps, seed, reports) = (number(1, 20_000)?, number(2, 0)?, number(3, 10)?.max(1));
    let preset = Preset::load_with("quadratic", &Builders::default())?;
    let entry = spec_arg::parse(spec_text, &preset)?;
    let t = &preset.task;
    let mut task = Quadratic::new(
        t.dim.context("the quadratic preset sets dim")?,
        t.eigenvalues
            .context("the quadratic preset sets eigenvalues")?,
        t.noise.context("the quadratic preset sets noise")?,
        seed,
    )?;
    let n = task.dim();
    let ctx = BuildContext {
        n,
        layers: &[],
        seed,
        horizon: None,
    };
    let mut opt = build(&entry.spec, &ctx)?;
    println!("{} on {}, seed {seed}", entry.spec, task.title());
    println!(
        "{:>8} {:>8} {:>9}  gain Γ_ii·λ_i per band (flat → stiff)   error share diag/off per band   \
         best-scale error",
        "step", "H error", "mean loss"
    );
    report(&task, opt.as_ref(), 0, f64::NAN)?;
    let mut x = task.init_params();
    let mut g = vec![0.0; n];
    let every = (steps / reports).max(1);
    let mut loss_sum = 0.0;
    for step in 1..=steps {
        task.next_batch();
        loss_sum += f64::from(task.loss_and_grad(&x, &mut g)?);
        let mut same = |p: &[f32], out: &mut [f32]| task.loss_and_grad(p, out);
        opt.step(&mut x, &g, &mut same)?;
        if step % every == 0 {
            report(&task, opt.as_ref(), step, loss_sum / every as f64)?;
            loss_sum = 0.0;
        }
    }
    Ok(())
}

fn report(task: &Quadratic, opt: &dyn Optimizer, step: u64, mean_loss: f64) -> Result<()> {
    let g = opt
        .preconditioner()
        .context("this optimizer has no preconditioner to compare with H⁻¹")?;
    let n = task.dim();
    let q = task.eigenvectors();
    let lambda = task.eigenvalues();
    // Γ = QᵀGQ, column j from G·q_j.
    let mut gamma = vec![0.0f64; n * n];
    let mut out = vec![0.0f32; n];
    for j in 0..n {
        let qj: Vec<f32> = q[j * n..(j + 1) * n].iter().map(|&v| v as f32).collect();
        g.apply(&qj, &mut out);
        for i in 0..n {
            let qi = &q[i * n..(i + 1) * n];
            gamma[i * n + j] = qi.iter().zip(&out).map(|(&a, &b)| a * f64::from(b)).sum();
        }
    }
    let band = n.div_ceil(BANDS);
    let mut gains = Vec::new();
    let mut diag = [0.0; BANDS];
    let mut off = [0.0; BANDS];
    for (b, range) in (0..n).collect::<Vec<_>>().chunks(band).enumerate() {
        let mut gain = 0.0;
        for &j in range {
            gain += gamma[j * n + j] * lambda[j];
            diag[b] += (1.0 - gamma[j * n + j] * lambda[j]).powi(2);
            off[b] += (0..n)
                .filter(|&i| i != j)
                .map(|i| (gamma[i * n + j] * lambda[j]).powi(2))
                .sum::<f64>();
        }
        gains.push(gain / range.len() as f64);
    }
    let total: f64 = diag.iter().chain(&off).sum();
    let fit = task.preconditioner_fit(g);
    let (error, scaled, scale) = (fit.error, fit.best_scale_error, fit.best_scale);
    let check = (total / n as f64).sqrt();
    // The decomposition must add up to the task's own metric (f32 products, so 1e-3 relative).
    if (check - error).abs() > 1e-3 * error.max(1e-6) {
        bail!("the eigenbasis decomposition gives {check}, the task's Hessian error {error}");
    }
    let gains: Vec<String> = gains.iter().map(|v| format!("{v:7.3}")).collect();
    let shares: Vec<String> = diag
        .iter()
        .zip(&off)
        .map(|(d, o)| format!("{:2.0}/{:2.0}", 100.0 * d / total, 100.0 * o / total))
        .collect();
    println!(
        "{step:>8} {error:>8.4} {mean_loss:>9.3}  {}   {}   {scaled:.4} at s = {scale:.3}",
        gains.join(" "),
        shares.join(" ")
    );
    Ok(())
}
