//! Configuration of the LODO family: documented defaults, live specs, and the exact text of every
//! validation error.
#![allow(clippy::unwrap_used)]

use lodo_tui::optim::lodo::{self, FamilyConfig, LodoConfig, MetaOptimizerKind};
use lodo_tui::optim::spec::build;
use lodo_tui::optim::{BuildContext, OptimizerSpec};

fn ctx(n: usize) -> BuildContext<'static> {
    BuildContext {
        n,
        layers: &[],
        seed: 17,
        horizon: None,
    }
}

fn error(spec: &OptimizerSpec, n: usize) -> String {
    match build(spec, &ctx(n)) {
        Ok(_) => panic!("{spec} should be rejected"),
        Err(e) => e.to_string(),
    }
}

fn with(name: &str, tweak: impl Fn(&mut OptimizerSpec)) -> OptimizerSpec {
    let mut spec = OptimizerSpec::named(name);
    tweak(&mut spec);
    spec
}

#[test]
fn defaults_are_the_documented_ones() {
    // docs/algorithm.md §3: α0 = 1, meta_lr = 1e-3, β = 0.9, N = 16, k = 4; §4.3: 64 layers.
    let fields = |name: &str| {
        let s = build(&OptimizerSpec::named(name), &ctx(10)).unwrap().spec();
        (s.lr, s.meta_lr, s.beta, s.depth, s.block_size, s.seed)
    };
    assert_eq!(
        fields("lodo"),
        (
            Some(1.0),
            Some(1e-3),
            Some(0.9),
            Some(16),
            Some(4),
            Some(17)
        )
    );
    assert_eq!(
        fields("lodo-sgd"),
        (
            Some(1.0),
            Some(1e-3),
            Some(0.9),
            Some(16),
            Some(4),
            Some(17)
        )
    );
    assert_eq!(
        fields("lodo-no-momentum"),
        (Some(1.0), Some(1e-3), None, Some(16), Some(4), Some(17))
    );
    assert_eq!(
        fields("lodo-residuals"),
        (Some(1.0), Some(1e-3), Some(0.9), Some(64), None, Some(17))
    );
    assert_eq!(
        fields("lodo-diagonal"),
        (Some(1.0), Some(1e-3), Some(0.9), None, None, None)
    );
    assert_eq!(
        fields("lodo-global"),
        (Some(1.0), Some(1e-3), Some(0.9), None, None, None)
    );

    let config = LodoConfig::defaults("lodo-no-momentum", 3).unwrap();
    assert_eq!(config.beta, 0.0);
    assert_eq!(
        LodoConfig::defaults("lodo-sgd", 3).unwrap().meta_optimizer,
        MetaOptimizerKind::Sgd
    );
    assert_eq!(
        LodoConfig::defaults("lodo-diagonal", 3).unwrap().family,
        FamilyConfig::Diagonal
    );
}

#[test]
fn every_member_builds_and_rebuilds_from_its_own_spec() {
    for &name in lodo::LODO_NAMES {
        let opt = build(&OptimizerSpec::named(name), &ctx(12)).unwrap();
        assert_eq!(opt.name(), name);
        assert_eq!(opt.meta_lr(), Some(1e-3));
        assert!(opt.preconditioner().is_some());
        let again = build(&opt.spec(), &ctx(12)).unwrap();
        assert_eq!(again.spec(), opt.spec());
        assert_eq!(
            again.state(),
            opt.state(),
            "{name}: the spec pins the whole network"
        );
    }
}

#[test]
fn specs_come_from_ron() {
    let ron =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let text = r#"(name: "lodo", lr: 0.085, meta_lr: 8e-6, block_size: 2)"#;
    let spec: OptimizerSpec = ron.from_str(text).unwrap();
    let opt = build(&spec, &ctx(100)).unwrap();
    assert_eq!((opt.lr(), opt.meta_lr()), (0.085, Some(8e-6)));
    assert_eq!(opt.spec().block_size, Some(2));
}

#[test]
fn config_serializes() {
    let config = LodoConfig::from_spec(&with("lodo", |s| s.depth = Some(3)), &ctx(5)).unwrap();
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(
        json,
        r#"{"lr":1.0,"meta_lr":0.001,"beta":0.9,"meta_optimizer":"adam","family":{"kind":"block-diagonal","depth":3,"block_size":4},"seed":17}"#
    );
    assert_eq!(serde_json::from_str::<LodoConfig>(&json).unwrap(), config);
}

#[test]
fn invalid_hyperparameters_are_named() {
    let cases: Vec<(OptimizerSpec, &str)> = vec![
        (
            with("lodo", |s| s.block_size = Some(0)),
            "lodo: block_size must be >= 1, got 0",
        ),
        (
            with("lodo-sgd", |s| s.block_size = Some(65)),
            "lodo-sgd: block_size must be <= 64, got 65",
        ),
        (
            with("lodo", |s| s.lr = Some(0.0)),
            "lodo: lr must be a finite number > 0, got 0",
        ),
        (
            with("lodo-global", |s| s.lr = Some(-1.0)),
            "lodo-global: lr must be a finite number > 0, got -1",
        ),
        (
            with("lodo", |s| s.lr = Some(f32::INFINITY)),
            "lodo: lr must be a finite number > 0, got inf",
        ),
        (
            with("lodo", |s| s.meta_lr = Some(-1e-3)),
            "lodo: meta_lr must be a finite number >= 0, got -0.001",
        ),
        (
            with("lodo-diagonal", |s| s.meta_lr = Some(f32::NAN)),
            "lodo-diagonal: meta_lr must be a finite number >= 0, got NaN",
        ),
        (
            with("lodo", |s| s.beta = Some(1.0)),
            "lodo: beta must be in [0, 1), got 1",
        ),
        (
            with("lodo-residuals", |s| s.beta = Some(-0.1)),
            "lodo-residuals: beta must be in [0, 1), got -0.1",
        ),
        (
            with("lodo-diagonal", |s| s.depth = Some(3)),
            "lodo-diagonal: field `depth` does not apply (lodo-diagonal takes: lr, meta_lr, beta)",
        ),
        (
            with("lodo-no-momentum", |s| s.beta = Some(0.5)),
            "lodo-no-momentum: field `beta` does not apply (lodo-no-momentum takes: lr, meta_lr, depth, block_size, seed)",
        ),
        (
            with("lodo-residuals", |s| s.block_size = Some(2)),
            "lodo-residuals: field `block_size` does not apply (lodo-residuals takes: lr, meta_lr, beta, depth, seed)",
        ),
        (
            with("lodo", |s| s.eps = Some(1e-8)),
            "lodo: field `eps` does not apply (lodo takes: lr, meta_lr, beta, depth, block_size, seed)",
        ),
    ];
    for (spec, expected) in cases {
        assert_eq!(error(&spec, 10), expected);
    }
}

#[test]
fn impossible_sizes_are_refused() {
    assert_eq!(
        error(&OptimizerSpec::named("lodo"), 0),
        "lodo: the problem has no parameters (n = 0)"
    );
    // 10,000 layers × 189,392 × 4 entries at the CNN size: 7.6e9 meta parameters.
    let err = error(&with("lodo", |s| s.depth = Some(10_000)), 94_696);
    assert_eq!(
        err,
        "lodo: depth 10000 and block_size 4 with n = 94696 would need 7575680000 meta parameters; \
         the limit is 536870912 (reduce depth or block_size)"
    );
}

#[test]
fn the_lodo_builder_only_builds_its_family() {
    let err = match lodo::build(&OptimizerSpec::named("adam"), &ctx(3)) {
        Ok(_) => panic!("adam is not LODO"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        err,
        "`adam` is not a member of the LODO family (lodo, lodo-diagonal, lodo-global, lodo-residuals, lodo-no-momentum, lodo-sgd)"
    );
}
