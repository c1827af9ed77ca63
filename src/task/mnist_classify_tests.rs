use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::data::mnist::load_with_cache;

/// Real MNIST, loaded once per test binary (inflated into a temporary cache).
fn mnist() -> Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| {
        let cache = tempfile::tempdir().unwrap();
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
        load_with_cache(&assets, cache.path()).unwrap()
    })
    .clone()
}

fn task(batch: usize, hidden: usize, seed: u64) -> MnistClassify {
    MnistClassify::new(mnist(), batch, hidden, seed).unwrap()
}

#[test]
fn pixel_statistics_match_the_normalisation_constants() {
    // The constants are the well-known MNIST training statistics; recompute them (0..1 scale).
    let data = mnist();
    let n = data.train_images.len() as f64;
    let mean = data
        .train_images
        .iter()
        .map(|&p| f64::from(p) / 255.0)
        .sum::<f64>()
        / n;
    let var = data
        .train_images
        .iter()
        .map(|&p| (f64::from(p) / 255.0 - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!((mean - f64::from(PIXEL_MEAN)).abs() < 1e-4, "mean {mean}");
    assert!(
        (var.sqrt() - f64::from(PIXEL_STD)).abs() < 1e-4,
        "std {}",
        var.sqrt()
    );
}

#[test]
fn an_epoch_visits_every_training_image_once_and_never_a_validation_image() {
    let mut t = task(5000, 8, 1);
    let mut seen = HashSet::new();
    for b in 0..11 {
        assert!(
            t.batch_indices()
                .iter()
                .all(|&i| (i as usize) < TRAIN_SPLIT)
        );
        seen.extend(t.batch_indices().iter().copied());
        assert_eq!((t.epoch, t.cursor), (0, b + 1));
        t.next_batch();
    }
    assert_eq!(seen.len(), TRAIN_SPLIT);
    // The twelfth batch starts epoch 1 with a different order.
    assert_eq!((t.epoch, t.cursor), (1, 1));
    let first_of_epoch_0 = task(5000, 8, 1).batch_indices().to_vec();
    assert_ne!(t.batch_indices(), first_of_epoch_0.as_slice());
    // The batch holds the normalised pixels and labels of those indices.
    let i = t.batch_indices()[3] as usize;
    let x = &t.batch_x[3 * PIXELS..4 * PIXELS];
    let p = t.data.train_image(i)[400];
    assert!((x[400] - (f32::from(p) / 255.0 - PIXEL_MEAN) / PIXEL_STD).abs() < 1e-6);
    assert_eq!(t.batch_y[3], t.data.train_labels[i]);
}

#[test]
fn seeds_decide_data_order_and_init_independently() {
    let (a, b) = (task(64, 16, 1), task(64, 16, 2));
    assert_ne!(a.batch_indices(), b.batch_indices());
    assert_ne!(a.init_params(), b.init_params());
    // Changing the batch size changes neither the init nor the epoch's order.
    let c = task(32, 16, 1);
    assert_eq!(a.init_params(), c.init_params());
    assert_eq!(&a.batch_indices()[..32], c.batch_indices());
}

#[test]
fn state_round_trip_replays_the_same_batches() {
    let mut t = task(6000, 8, 3);
    for _ in 0..7 {
        t.next_batch();
    }
    let saved = t.state();
    let params = t.init_params();
    let run = |t: &mut MnistClassify| {
        (0..4)
            .map(|_| {
                t.next_batch();
                let mut g = vec![0.0; t.dim()];
                let loss = t.loss_and_grad(&params, &mut g).unwrap();
                (t.epoch, t.batch_indices().to_vec(), loss.to_bits())
            })
            .collect::<Vec<_>>()
    };
    let first = run(&mut t);
    assert!(
        first.iter().any(|(epoch, ..)| *epoch == 1),
        "crosses an epoch boundary"
    );
    t.load_state(&saved).unwrap();
    assert_eq!(run(&mut t), first);
    let mut fresh = task(6000, 8, 3);
    fresh.load_state(&saved).unwrap();
    assert_eq!(run(&mut fresh), first);
    let err = task(3000, 8, 3).load_state(&saved).unwrap_err().to_string();
    assert!(err.contains("batch size 6000, this run 3000"), "{err}");
}

#[test]
fn gradient_matches_central_differences_on_a_real_batch() {
    // The task's own batch and initial parameters, in f64 (step 1e-5, tolerance 1e-6 relative +
    // 1e-8 absolute), at 40 random coordinates of every layer; then the task's f32 gradient
    // against the f64 one (tolerance 1e-5 absolute: f32 sums of 784 products).
    let t = task(8, 32, 5);
    let params32 = t.init_params();
    let params: Vec<f64> = params32.iter().map(|&p| f64::from(p)).collect();
    let x: Vec<f64> = t.batch_x.iter().map(|&v| f64::from(v)).collect();
    let mut grad = vec![0.0; t.dim()];
    t.model
        .loss_and_grad(&t.dev, &params, x.clone(), &t.batch_y, &mut grad)
        .unwrap();
    let loss = |p: &[f64]| {
        t.model
            .tally(&t.dev, p, x.clone(), &t.batch_y)
            .unwrap()
            .mean_loss()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let h = 1e-5;
    for layer in t.layers() {
        for _ in 0..10 {
            let i = rng.gen_range(layer.range.clone());
            let mut p = params.clone();
            p[i] += h;
            let up = loss(&p);
            p[i] -= 2.0 * h;
            let fd = (up - loss(&p)) / (2.0 * h);
            let tol = 1e-8 + 1e-6 * grad[i].abs();
            assert!(
                (fd - grad[i]).abs() < tol,
                "{} [{i}]: {fd} vs {}",
                layer.name,
                grad[i]
            );
        }
    }
    let mut t = t;
    let mut g32 = vec![0.0; t.dim()];
    t.loss_and_grad(&params32, &mut g32).unwrap();
    for (a, b) in g32.iter().zip(&grad) {
        assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn adam_reaches_over_95_percent_test_accuracy() {
    // Plain Adam (lr 1e-3, β = 0.9/0.999, ε = 1e-8) for 1,000 steps of 128 (2.3 epochs) on the
    // default 784→128→10 model.
    let mut t = task(DEFAULT_BATCH_SIZE, DEFAULT_HIDDEN, 0);
    let mut x = t.init_params();
    let start = t.evaluate(&x, &EvalContext::default()).unwrap();
    let (mut m, mut v, mut g) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
    let (lr, b1, b2, eps) = (1e-3f32, 0.9f32, 0.999f32, 1e-8f32);
    let clock = Instant::now();
    let steps = 1000;
    for step in 1..=steps {
        t.next_batch();
        let loss = t.loss_and_grad(&x, &mut g).unwrap();
        assert!(loss.is_finite());
        let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
        for i in 0..x.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            x[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
        }
    }
    let train_time = clock.elapsed();
    let clock = Instant::now();
    let end = t.evaluate(&x, &EvalContext::default()).unwrap();
    eprintln!(
        "mnist-classify Adam: {steps} steps in {train_time:?}, eval {:?}; start {start:?}; \
         end {end:?}",
        clock.elapsed()
    );
    assert!((start["test_accuracy"] - 0.1).abs() < 0.1, "{start:?}");
    assert!(end["test_accuracy"] > 0.95, "{end:?}");
    assert!(end["val_accuracy"] > 0.95, "{end:?}");
    assert!(end["val_loss"] < 0.5 * start["val_loss"], "{end:?}");
}

#[test]
fn settings_are_validated_and_named() {
    let err = |r: Result<MnistClassify>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(MnistClassify::new(mnist(), 0, 8, 0)).contains("batch_size 0 is out of range"));
    assert!(err(MnistClassify::new(mnist(), 8, 0, 0)).contains("hidden 0 is out of range"));
    let t = task(DEFAULT_BATCH_SIZE, DEFAULT_HIDDEN, 0);
    assert_eq!(t.dim(), 101_770);
    assert_eq!(
        t.title(),
        "MNIST classifier: MLP 784→128→10, ReLU (101,770 params)"
    );
    let layers = t.layers();
    assert_eq!(layers.first().unwrap().range.start, 0);
    assert_eq!(layers.last().unwrap().range.end, t.dim());
    assert!(
        layers
            .windows(2)
            .all(|w| w[0].range.end == w[1].range.start)
    );
}
