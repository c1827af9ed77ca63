//! Central-difference checks of every custom op's backward pass, run through the dfdx tape
//! exactly as training runs them, and of the whole network's gradient.
//!
//! The ops compute in f32, so the differences use a large step (ε = 1e-2; the loss is smooth and
//! its third derivatives are O(1), so truncation error is ~ε² ≈ 1e-4) and sum losses in f64.
//! Tolerance: |analytic − numeric| ≤ 1e-3 + 1e-2·|numeric| (the largest deviation seen is
//! 4e-4). A wrong term in a backward pass is off by O(1) relative, far outside it.

use anyhow::Result;
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::block::{Geometry, block};
use super::input::{Batch, Query};
use super::layout::{self, IN_CH, PARAM_COUNT, PIXELS, WIDTH, block_range};
use super::model;
use super::pool::{pool, pooled};
use super::stem::stem;
use super::tape::{Flat, Params, values};

type Owned = OwnedTape<f32, Cpu>;
type Op = dyn Fn(Flat<Owned>, &Params) -> Result<Flat<Owned>>;

const EPS: f32 = 1e-2;

fn close(analytic: f64, numeric: f64) -> bool {
    (analytic - numeric).abs() <= 1e-3 + 1e-2 * numeric.abs()
}

/// L = Σ op(x) ⊙ u, in f64 from the op's f32 outputs.
fn loss(op: &Op, dev: &Cpu, x: &[f32], params: &[f32], u: &[f32]) -> f64 {
    let p = Params::new(dev, params).expect("params");
    let xt = dev
        .tensor_from_vec(x.to_vec(), (x.len(),))
        .put_tape(Owned::default());
    let y = values(&op(xt, &p).expect("forward"));
    y.iter().zip(u).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// Compares the tape's gradients of L with central differences at the given coordinates.
fn check_op(op: &Op, x: Vec<f32>, params: Vec<f32>, inputs: &[usize], coords: &[usize]) {
    let dev = Cpu::default();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let p = Params::new(&dev, &params).expect("params");
    let x_leaf = dev.tensor_from_vec(x.clone(), (x.len(),));
    let y = op(x_leaf.clone().put_tape(Owned::default()), &p).expect("forward");
    let n = y.shape().0;
    let u: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let ut = dev.tensor_from_vec(u.clone(), (n,));
    let mut grads = (y * ut).sum::<Rank0, _>().backward();
    let gx = grads
        .get_or_alloc_mut(&x_leaf)
        .expect("input grad")
        .to_vec();
    let gp = grads
        .get_or_alloc_mut(&p.tensor)
        .expect("param grad")
        .to_vec();
    for &k in inputs {
        let mut xv = x.clone();
        let f = |v: f32, xv: &mut Vec<f32>| {
            xv[k] = v;
            loss(op, &dev, xv, &params, &u)
        };
        let fd = (f(x[k] + EPS, &mut xv) - f(x[k] - EPS, &mut xv)) / (2.0 * EPS as f64);
        assert!(
            close(gx[k] as f64, fd),
            "input {k}: tape {} vs fd {fd}",
            gx[k]
        );
    }
    for &k in coords {
        let mut pv = params.clone();
        let f = |v: f32, pv: &mut Vec<f32>| {
            pv[k] = v;
            loss(op, &dev, &x, pv, &u)
        };
        let fd = (f(params[k] + EPS, &mut pv) - f(params[k] - EPS, &mut pv)) / (2.0 * EPS as f64);
        assert!(
            close(gp[k] as f64, fd),
            "param {k}: tape {} vs fd {fd}",
            gp[k]
        );
    }
}

fn random(n: usize, scale: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-scale..scale)).collect()
}

/// A few coordinates from every tensor whose name contains `filter`, plus each tensor's ends.
fn coords_of(filter: &str, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut out = Vec::new();
    for t in layout::tensors().iter().filter(|t| t.name.contains(filter)) {
        out.extend([t.range.start, t.range.end - 1]);
        out.extend((0..3).map(|_| rng.gen_range(t.range.clone())));
    }
    out
}

#[test]
fn stem_backward_matches_central_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let batch = 2;
    let x = random(batch * PIXELS * IN_CH, 1.0, &mut rng);
    let coords = coords_of("stem", &mut rng);
    let op: &Op = &move |x, p| stem(x, batch, p);
    check_op(op, x, layout::init_params(1), &[], &coords);
}

#[test]
fn block_backward_matches_central_differences_at_every_stage_size() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for (k, side, batch) in [(0, 7, 3), (9, 4, 2), (13, 2, 5), (19, 1, 9)] {
        let geo = Geometry {
            batch,
            h: side,
            w: side,
        };
        let x = random(batch * side * side * WIDTH, 1.5, &mut rng);
        let prefix = format!("stage{}.block{}", k / 4, k % 4);
        let coords = coords_of(&prefix, &mut rng);
        assert_eq!(coords.len(), 6 * 5);
        assert!(coords.iter().all(|c| block_range(k).contains(c)));
        let inputs: Vec<usize> = (0..12).map(|_| rng.gen_range(0..x.len())).collect();
        let op: &Op = &move |x, p| block(x, k, geo, p);
        check_op(op, x, layout::init_params(2), &inputs, &coords);
    }
}

#[test]
fn pool_backward_matches_central_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (side, batch) in [(7, 2), (4, 3), (1, 2)] {
        let x = random(batch * side * side * WIDTH, 1.0, &mut rng);
        let inputs: Vec<usize> = (0..x.len()).collect();
        let op: &Op = &move |x, p| pool(x, (batch, side, side, WIDTH), p);
        check_op(op, x, layout::init_params(3), &inputs, &[]);
        assert_eq!(pooled(side), side.div_ceil(2));
    }
}

/// Digit-like synthetic images: a bright ring of random radius on a dark background, with noise.
pub fn synthetic_images(count: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count * PIXELS);
    for _ in 0..count {
        let (cy, cx) = (rng.gen_range(11.0..17.0f32), rng.gen_range(11.0..17.0f32));
        let r = rng.gen_range(4.0..9.0f32);
        for i in 0..28 {
            for j in 0..28 {
                let d = ((i as f32 - cy).powi(2) + (j as f32 - cx).powi(2)).sqrt();
                let v = (255.0 * (1.0 - (d - r).abs() / 2.0)).clamp(0.0, 255.0);
                out.push(if v > 0.0 {
                    (v - rng.gen_range(0.0..30.0)).max(0.0) as u8
                } else {
                    0
                });
            }
        }
    }
    out
}

/// The whole network: mean cross-entropy of a batch of 3 against central differences, on
/// coordinates of every tensor kind in the stem, a first-, middle- and last-stage block, and
/// the dense layer. Loss differences are of f32 losses here, so the tolerance is the same
/// formula with the f32 rounding of a ~5-nat loss (5e-7/ε ≈ 5e-5) well inside it.
#[test]
fn whole_network_gradient_matches_central_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let images = synthetic_images(3, 4);
    let queries = [(200, 0), (407, 1), (530, 2)];
    let items: Vec<(&[u8], Query)> = queries
        .iter()
        .map(|&(p, i)| (&images[i * PIXELS..(i + 1) * PIXELS], Query::from_index(p)))
        .collect();
    let batch = Batch::new(&items);
    let dev = Cpu::default();
    let params = layout::init_params(5);
    let mut grad = vec![0.0; PARAM_COUNT];
    let l0 = model::loss_and_grad(&dev, &params, &batch, &mut grad).expect("loss");
    assert!(l0.is_finite() && l0 > 3.0, "initial loss {l0}");
    let mut coords = Vec::new();
    for filter in [
        "stem",
        "stage0.block0",
        "stage2.block1",
        "stage4.block3",
        "dense",
    ] {
        coords.extend(coords_of(filter, &mut rng));
    }
    let mut scratch = vec![0.0; PARAM_COUNT];
    let mut at = |pv: &[f32]| model::loss_and_grad(&dev, pv, &batch, &mut scratch).expect("loss");
    for k in coords {
        let mut pv = params.clone();
        pv[k] = params[k] + EPS;
        let up = at(&pv) as f64;
        pv[k] = params[k] - EPS;
        let down = at(&pv) as f64;
        let fd = (up - down) / (2.0 * EPS as f64);
        assert!(
            close(grad[k] as f64, fd),
            "param {k}: tape {} vs fd {fd}",
            grad[k]
        );
    }
}
