//! Properties every baseline optimizer must have, checked for all of them through
//! [`spec::build`](super::spec::build): full live specs, bit-exact state round trips, live lr
//! changes that keep state, resets, finite steps on steep functions, named validation errors.

use std::ops::Range;

use super::testkit::{Quadratic, TestRng};
use super::{BuildContext, Optimizer, OptimizerSpec, OptimizerState, spec};

/// Every optimizer outside the LODO family, from the one registry.
fn baselines() -> impl Iterator<Item = &'static str> {
    spec::NAMES
        .iter()
        .copied()
        .filter(|name| !super::lodo::is_lodo(name))
}

const N: usize = 20;
const LAYERS: &[Range<usize>] = &[0..7, 7..20];

fn build(spec: &OptimizerSpec) -> Box<dyn Optimizer> {
    let ctx = BuildContext {
        n: N,
        layers: LAYERS,
        seed: 0,
        horizon: None,
    };
    spec::build(spec, &ctx).unwrap_or_else(|e| panic!("{}: {e:#}", spec.name))
}

fn build_err(spec: &OptimizerSpec) -> String {
    let ctx = BuildContext {
        n: N,
        layers: LAYERS,
        seed: 0,
        horizon: None,
    };
    match spec::build(spec, &ctx) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// A noisy quadratic bowl (condition 100) whose minimum takes a seeded random walk, one move per
/// step; the same-batch oracle sees the minimum of its step.
struct NoisyBowl {
    q: Quadratic,
    centres: Vec<Vec<f32>>,
}

impl NoisyBowl {
    fn new(steps: usize) -> Self {
        let mut rng = TestRng::new(42);
        let mut c = vec![0.0f32; N];
        let centres = (0..steps)
            .map(|_| {
                c.iter_mut().for_each(|c| *c += 0.1 * rng.normal());
                c.clone()
            })
            .collect();
        Self {
            q: Quadratic::new(N, 1.0, 100.0, 7),
            centres,
        }
    }

    /// Steps `range` of the walk from `x`.
    fn run(&mut self, opt: &mut dyn Optimizer, x: &mut [f32], range: Range<usize>) {
        let mut g = vec![0.0; N];
        for t in range {
            self.q.set_centre(&self.centres[t]);
            self.q.loss_and_grad(x, &mut g);
            let stats = opt.step(x, &g, &mut self.q.oracle()).unwrap();
            assert!(stats.step_norm.is_finite(), "{}", opt.name());
        }
    }
}

fn start() -> Vec<f32> {
    let mut rng = TestRng::new(1);
    (0..N).map(|_| rng.normal()).collect()
}

#[test]
fn every_baseline_builds_with_defaults_and_reports_its_full_live_spec() {
    for name in baselines() {
        let opt = build(&OptimizerSpec::named(name));
        assert_eq!(opt.name(), name);
        let spec = opt.spec();
        assert_eq!(spec.name, name);
        assert_eq!(spec.lr, Some(opt.lr()), "{name}");
        // The live spec rebuilds the same optimizer.
        assert_eq!(build(&spec).spec(), spec, "{name}");
        assert!(!opt.summary().is_empty(), "{name}");
        assert_eq!(opt.meta_lr(), None);
    }
}

#[test]
fn the_fields_an_optimizer_takes_are_the_fields_of_its_live_spec() {
    // The "does not apply" error lists the fields derived from the config; the live spec sets
    // every field of the config. For every baseline, set each field its live spec leaves unset:
    // the error must list exactly the live spec's fields.
    for name in baselines() {
        let live = build(&OptimizerSpec::named(name)).spec();
        let mut taken = live.set_fields();
        taken.sort_unstable();
        let unset = super::fields::FIELDS
            .iter()
            .filter(|f| !taken.contains(&f.key));
        for field in unset {
            let mut spec = OptimizerSpec::named(name);
            match field.key {
                "depth" => spec.depth = Some(3),
                "block_size" => spec.block_size = Some(3),
                "memory" => spec.memory = Some(3),
                "seed" => spec.seed = Some(3),
                key => {
                    let text = format!(r#"{{"name": "{name}", "{key}": 0.5}}"#);
                    spec = serde_json::from_str(&text).unwrap();
                }
            }
            let err = build_err(&spec);
            let prefix = format!(
                "{name}: field `{}` does not apply ({name} takes: ",
                field.key
            );
            let listed = err
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .unwrap_or_else(|| panic!("{name}/{}: {err}", field.key));
            let mut listed: Vec<&str> = listed.split(", ").collect();
            listed.sort_unstable();
            assert_eq!(listed, taken, "{name}");
        }
    }
}

#[test]
fn state_round_trip_continues_the_bit_identical_trajectory() {
    // Run A takes 30 steps; run B is a fresh optimizer given A's state (through RON and JSON
    // text, as a checkpoint would) and parameters after 15 steps, then takes the same last 15.
    for name in baselines() {
        let mut bowl = NoisyBowl::new(30);
        let mut a = build(&OptimizerSpec::named(name));
        let mut xa = start();
        bowl.run(a.as_mut(), &mut xa, 0..15);
        let snapshot = a.state();
        let x_snapshot = xa.clone();
        bowl.run(a.as_mut(), &mut xa, 15..30);

        let text = ron::to_string(&snapshot).unwrap();
        let restored: OptimizerState = ron::from_str(&text).unwrap();
        assert_eq!(restored, snapshot, "{name}: RON round trip of the state");
        let json = serde_json::to_string(&restored).unwrap();
        let restored: OptimizerState = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, snapshot, "{name}: JSON round trip of the state");
        let mut b = build(&OptimizerSpec::named(name));
        b.load_state(&restored).unwrap();
        assert_eq!(b.state(), snapshot, "{name}");
        let mut xb = x_snapshot;
        bowl.run(b.as_mut(), &mut xb, 15..30);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&xa), bits(&xb), "{name}: trajectories diverge");
        assert_eq!(a.state(), b.state(), "{name}");
    }
}

#[test]
fn load_state_rejects_foreign_or_misshapen_states_and_changes_nothing() {
    for name in baselines() {
        let mut bowl = NoisyBowl::new(5);
        let mut opt = build(&OptimizerSpec::named(name));
        let mut x = start();
        bowl.run(opt.as_mut(), &mut x, 0..5);
        let before = opt.state();

        let other = if name == "sgd" { "adam" } else { "sgd" };
        let foreign = build(&OptimizerSpec::named(other)).state();
        assert_eq!(
            opt.load_state(&foreign).unwrap_err().to_string(),
            format!("{name}: cannot load a state saved by `{other}`")
        );
        // Every buffer one entry short: the load must fail with a message naming the buffer.
        let mut short = before.clone();
        for (_, buf) in &mut short.buffers {
            buf.pop();
        }
        if !short.buffers.is_empty() {
            let msg = opt.load_state(&short).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("{name}: state buffer `")), "{msg}");
        }
        assert_eq!(
            opt.state(),
            before,
            "{name}: a failed load changed the optimizer"
        );
    }
}

#[test]
fn set_lr_changes_the_live_spec_and_keeps_the_state() {
    for name in baselines() {
        let mut bowl = NoisyBowl::new(5);
        let mut opt = build(&OptimizerSpec::named(name));
        let mut x = start();
        bowl.run(opt.as_mut(), &mut x, 0..5);
        let before = opt.state();
        let lr = opt.lr() * 0.5;
        opt.set_lr(lr).unwrap();
        assert_eq!(opt.lr(), lr);
        assert_eq!(opt.spec().lr, Some(lr));
        let after = opt.state();
        assert_eq!(
            (after.step, &after.scalars, &after.buffers),
            (before.step, &before.scalars, &before.buffers),
            "{name}"
        );
        assert_eq!(
            opt.set_lr(-1.0).unwrap_err().to_string(),
            format!("{name}: lr must be a positive finite number, got -1")
        );
        assert_eq!(opt.lr(), lr);
    }
}

#[test]
fn reset_returns_to_the_fresh_state() {
    for name in baselines() {
        let mut bowl = NoisyBowl::new(5);
        let mut opt = build(&OptimizerSpec::named(name));
        let fresh = opt.state();
        let mut x = start();
        bowl.run(opt.as_mut(), &mut x, 0..5);
        assert_ne!(opt.state(), fresh, "{name}: steps left no state");
        opt.reset();
        // The trust ratios LARS reports are 1 again, the pair memories empty, the moments zero.
        assert_eq!(opt.state(), fresh, "{name}");
    }
}

/// The lr at which each optimizer is run on the steep problems: adaptive and quasi-Newton
/// methods at their defaults; fixed-step methods below their stability limit `2/L` (heavy ball:
/// `2(1 + β)/L`) for the largest curvature `L` they meet — BFGS too, whose first steps are
/// `−lr·g` (`H0 = I`).
fn steep_spec(name: &str, max_curvature: f32) -> OptimizerSpec {
    let lr = match name {
        "sgd" | "momentum" | "nesterov" | "bfgs" => Some(1.0 / max_curvature),
        _ => None,
    };
    OptimizerSpec {
        lr,
        ..OptimizerSpec::named(name)
    }
}

#[test]
fn no_nan_on_a_quadratic_with_curvature_up_to_1e4() {
    // Eigenvalues log-spaced in [1, 1e4], start ~10·N(0, 1), 300 steps: every parameter and
    // statistic stays finite and the loss ends below where it started.
    let q = Quadratic::new(N, 1.0, 1e4, 3);
    for name in baselines() {
        let mut opt = build(&steep_spec(name, 1e4));
        let mut x: Vec<f32> = start().iter().map(|v| 10.0 * v).collect();
        let mut g = vec![0.0; N];
        let f0 = q.loss_and_grad(&x, &mut g);
        for t in 0..300 {
            q.loss_and_grad(&x, &mut g);
            let st = opt.step(&mut x, &g, &mut q.oracle()).unwrap();
            assert!(
                x.iter().all(|v| v.is_finite()) && st.step_norm.is_finite(),
                "{name}: non-finite at step {t}"
            );
        }
        let f1 = q.loss_and_grad(&x, &mut g);
        assert!(f1 < f0, "{name}: loss {f0} → {f1}");
    }
}

#[test]
fn no_nan_on_a_steep_quartic() {
    // f = 1e3·Σ xᵢ⁴ from xᵢ = ±3 (|g| = 1.08e5, curvature 1.08e5 at the start), 300 steps.
    let quartic = |x: &[f32], g: &mut [f32]| -> anyhow::Result<f32> {
        let mut f = 0.0;
        for (g, &x) in g.iter_mut().zip(x) {
            *g = 4e3 * x * x * x;
            f += 1e3 * x * x * x * x;
        }
        Ok(f)
    };
    for name in baselines() {
        let mut opt = build(&steep_spec(name, 1.1e5));
        let mut x: Vec<f32> = (0..N)
            .map(|i| if i % 2 == 0 { 3.0 } else { -3.0 })
            .collect();
        let mut g = vec![0.0; N];
        let f0 = quartic(&x, &mut g).unwrap();
        for t in 0..300 {
            quartic(&x, &mut g).unwrap();
            let st = opt.step(&mut x, &g, &mut { quartic }).unwrap();
            assert!(
                x.iter().all(|v| v.is_finite()) && st.step_norm.is_finite(),
                "{name}: non-finite at step {t}"
            );
        }
        let f1 = quartic(&x, &mut g).unwrap();
        assert!(f1 < f0, "{name}: loss {f0} → {f1}");
    }
}

#[test]
fn a_zero_gradient_gives_a_zero_finite_step() {
    // At the minimum (g = 0 everywhere, also on the same batch): no 0/0 anywhere — Adam's
    // m/(√v + ε), LARS's ratio, the first quasi-Newton step's 1/‖g‖₁, a pair with s = 0.
    let zero = |_: &[f32], g: &mut [f32]| -> anyhow::Result<f32> {
        g.fill(0.0);
        Ok(0.0)
    };
    for name in baselines() {
        let mut spec = OptimizerSpec::named(name);
        if name == "lars" {
            // LARS's default weight decay (5e-4, the authors') rightly moves x even at g = 0.
            spec.weight_decay = Some(0.0);
        }
        let mut opt = build(&spec);
        let mut x = start();
        let x0 = x.clone();
        for _ in 0..3 {
            let st = opt.step(&mut x, &[0.0; N], &mut { zero }).unwrap();
            assert_eq!(st.step_norm, 0.0, "{name}");
            assert_eq!(
                (st.cos_step_neg_grad, st.effective_lr),
                (0.0, 0.0),
                "{name}"
            );
        }
        assert_eq!(x, x0, "{name}");
    }
}

#[test]
fn invalid_hyperparameters_fail_with_named_errors() {
    let spec = |name: &str, f: &dyn Fn(&mut OptimizerSpec)| {
        let mut s = OptimizerSpec::named(name);
        f(&mut s);
        s
    };
    let cases: Vec<(OptimizerSpec, &str)> = vec![
        (
            spec("sgd", &|s| s.lr = Some(-1.0)),
            "sgd: lr must be a positive finite number, got -1",
        ),
        (
            spec("momentum", &|s| s.beta = Some(1.0)),
            "momentum: beta must be in [0, 1), got 1",
        ),
        (
            spec("nesterov", &|s| s.weight_decay = Some(-0.1)),
            "nesterov: weight_decay must be a finite number >= 0, got -0.1",
        ),
        (
            spec("rmsprop", &|s| s.rho = Some(1.5)),
            "rmsprop: rho must be in [0, 1), got 1.5",
        ),
        (
            spec("adam", &|s| s.beta2 = Some(1.5)),
            "adam: beta2 must be in [0, 1), got 1.5",
        ),
        (
            spec("adam", &|s| s.depth = Some(3)),
            "adam: field `depth` does not apply (adam takes: lr, beta1, beta2, eps, weight_decay)",
        ),
        (
            spec("yogi", &|s| s.eps = Some(0.0)),
            "yogi: eps must be a positive finite number, got 0",
        ),
        (
            spec("lars", &|s| s.trust = Some(f32::NAN)),
            "lars: trust must be a positive finite number, got NaN",
        ),
        (
            spec("lbfgs", &|s| s.memory = Some(0)),
            "lbfgs: memory must be >= 1, got 0",
        ),
        (
            spec("lbfgs", &|s| s.lambda = Some(0.1)),
            "lbfgs: field `lambda` does not apply (lbfgs takes: lr, memory, eps, tau)",
        ),
        (
            spec("lbfgs", &|s| s.eps = Some(0.0)),
            "lbfgs: eps must be a positive finite number, got 0",
        ),
        (
            spec("lm", &|s| s.lambda = Some(-1.0)),
            "lm: lambda must be a finite number >= 0, got -1",
        ),
        (
            spec("lm", &|s| s.memory = Some(3)),
            "lm: field `memory` does not apply (lm takes: lr, lambda)",
        ),
        (
            spec("olbfgs", &|s| s.lambda = Some(-1.0)),
            "olbfgs: lambda must be a finite number >= 0, got -1",
        ),
        (
            spec("olbfgs", &|s| s.tau = Some(0.0)),
            "olbfgs: tau must be a positive finite number, got 0",
        ),
        (
            spec("bfgs", &|s| s.memory = Some(5)),
            "bfgs: field `memory` does not apply (bfgs takes: lr)",
        ),
        (
            spec("bfgs-same-batch", &|s| s.lr = Some(0.0)),
            "bfgs-same-batch: lr must be a positive finite number, got 0",
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(build_err(&spec), want);
    }
    assert!(build_err(&OptimizerSpec::named("adamw")).starts_with("unknown optimizer `adamw`"));
}

#[test]
fn wrong_dimensions_and_failed_same_batch_calls_are_named_errors() {
    let failing = |_: &[f32], _: &mut [f32]| -> anyhow::Result<f32> { anyhow::bail!("disk gone") };
    for name in baselines() {
        let mut opt = build(&OptimizerSpec::named(name));
        let err = opt
            .step(&mut [0.0; 3], &[0.0; 3], &mut { failing })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{name}: built for {N} parameters, got 3 parameters and a gradient of 3")
        );
    }
    for name in ["lbfgs", "olbfgs", "bfgs-same-batch"] {
        let mut opt = build(&OptimizerSpec::named(name));
        let err = opt
            .step(&mut start(), &[1.0; N], &mut { failing })
            .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!("{name}: same-batch gradient after the step: disk gone")
        );
    }
    let mut opt = build(&OptimizerSpec::named("lm"));
    let err = opt
        .step(&mut start(), &[1.0; N], &mut { failing })
        .unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        "lm: same-batch gradient for the Hessian: disk gone"
    );
    // The authors' BFGS pairs each gradient with the next one and never asks.
    let mut opt = build(&OptimizerSpec::named("bfgs"));
    let mut x = start();
    for _ in 0..3 {
        opt.step(&mut x, &[1.0; N], &mut { failing }).unwrap();
    }
}

#[test]
fn quasi_newton_summaries_show_history_fill_and_skipped_pairs() {
    let mut bowl = NoisyBowl::new(4);
    // η0 = 1, ε = 0.1: the first probe's gradient change is resolved, so every step keeps a pair.
    let mut opt = build(&OptimizerSpec {
        lr: Some(1.0),
        eps: Some(0.1),
        memory: Some(10),
        ..OptimizerSpec::named("olbfgs")
    });
    let mut x = start();
    bowl.run(opt.as_mut(), &mut x, 0..4);
    let summary = opt.summary();
    let get = |k: &str| {
        summary
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("history").as_deref(), Some("4/10"));
    assert_eq!(get("skipped sᵀy≤0").as_deref(), Some("0"));
    assert_eq!(get("probes refused").as_deref(), Some("0"));
}
