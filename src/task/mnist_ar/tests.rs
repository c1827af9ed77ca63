//! The task as the trainer uses it: building from a spec, the batch stream and its state,
//! evaluation, generation, and a short training run on real MNIST.

use std::path::Path;
use std::sync::OnceLock;

use super::*;
use crate::data::mnist::load_with_cache;
use crate::task::spec::{TaskSpec, build};

/// The 60,000 real MNIST training images, loaded once per test binary.
fn mnist_images() -> Vec<u8> {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| {
        let cache = tempfile::tempdir().expect("temp dir");
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
        load_with_cache(&assets, cache.path())
            .expect("MNIST in assets/mnist")
            .train_images
    })
    .clone()
}

fn small_task(batch: usize, val_queries: usize, seed: u64) -> MnistAr {
    let images = super::gradcheck::synthetic_images(VAL_IMAGES + 100, seed);
    MnistAr::new(images, batch, val_queries, seed).expect("task")
}

#[test]
fn the_task_is_send() {
    fn is_send<T: Send>() {}
    is_send::<MnistAr>();
}

#[test]
fn builds_from_a_spec_with_its_defaults_and_names_misplaced_fields() {
    let task = build(&TaskSpec::named("mnist-ar"), 0).expect("build");
    assert_eq!((task.kind(), task.dim()), (TaskKind::MnistAr, 94_696));
    assert!(task.title().contains("94,696"), "{}", task.title());
    assert!(task.can_generate());
    let layers = task.layers();
    assert_eq!(layers.first().map(|l| l.range.start), Some(0));
    assert_eq!(layers.last().map(|l| l.range.end), Some(94_696));
    let spec = TaskSpec {
        hidden: Some(3),
        ..TaskSpec::named("mnist-ar")
    };
    let err = build(&spec, 0).err().expect("error").to_string();
    assert_eq!(
        err,
        "mnist-ar: field `hidden` does not apply (mnist-ar takes: batch_size, data_dir, val_queries, with_replacement)"
    );
    let spec = TaskSpec {
        batch_size: Some(0),
        ..TaskSpec::named("mnist-ar")
    };
    let err = build(&spec, 0).err().expect("error").to_string();
    assert_eq!(err, "mnist-ar: batch_size 0 is out of range 1..=59936");
}

#[test]
fn rejects_bad_image_sets_and_settings() {
    let err = |r: Result<MnistAr>| r.err().expect("error").to_string();
    assert!(err(MnistAr::new(vec![0; 100], 1, 1, 0)).contains("whole number"));
    assert!(err(MnistAr::new(vec![0; 64 * PIXELS], 1, 1, 0)).contains("more than 64"));
    let images = vec![0; 70 * PIXELS];
    assert!(err(MnistAr::new(images, 1, 0, 0)).contains("val_queries 0"));
}

#[test]
fn state_continues_the_identical_batch_stream() {
    let mut a = small_task(8, 4, 5);
    for _ in 0..7 {
        a.next_batch();
    }
    let saved = a.state();
    let mut b = small_task(8, 4, 5);
    b.load_state(&saved).expect("load");
    for _ in 0..30 {
        assert_eq!(a.batch(), b.batch());
        a.next_batch();
        b.next_batch();
    }
}

#[test]
fn evaluation_uses_fixed_queries_of_held_out_images() {
    let mut task = small_task(4, 32, 2);
    assert!(
        task.val
            .iter()
            .all(|&(i, _)| (100..100 + VAL_IMAGES).contains(&i))
    );
    let params = task.init_params();
    let ctx = EvalContext::default();
    let m1 = task.evaluate(&params, &ctx).expect("evaluate");
    task.next_batch();
    let m2 = task.evaluate(&params, &ctx).expect("evaluate");
    assert_eq!(m1, m2);
    let nats = m1["val_loss"];
    assert!(nats.is_finite() && nats > 1.0, "{nats}");
    assert!((m1["val_bits_per_pixel"] - nats / std::f64::consts::LN_2).abs() < 1e-12);
}

#[test]
fn generation_draws_every_pixel_and_honours_cancellation() {
    let mut task = small_task(4, 4, 3);
    let params = task.init_params();
    let mut calls = Vec::new();
    let digits = task
        .generate(&params, 2, 11, &mut |d: &Digits| {
            calls.push(d.pixels_done);
            true
        })
        .expect("generate");
    assert_eq!(calls, (1..=PIXELS).collect::<Vec<_>>());
    assert_eq!((digits.rows, digits.cols, digits.count), (28, 28, 2));
    assert_eq!(
        (digits.pixels.len(), digits.pixels_done),
        (2 * PIXELS, PIXELS)
    );
    // An untrained model spreads its probability: the samples are not all one value.
    assert!(digits.pixels.iter().any(|&p| p != digits.pixels[0]));
    let again = task
        .generate(&params, 2, 11, &mut |_: &Digits| true)
        .expect("generate");
    assert_eq!(again, digits, "same seed, same digits");

    let mut seen = 0;
    let partial = task
        .generate(&params, 1, 11, &mut |_: &Digits| {
            seen += 1;
            seen < 5
        })
        .expect("generate");
    assert_eq!((seen, partial.pixels_done), (5, 5));
    assert!(partial.pixels[5..].iter().all(|&p| p == 0));
}

/// A few hundred steps of plain Adam (lr 2e-3, β = 0.9/0.999, ε = 1e-8) at batch 32 on real
/// MNIST. Takes about a minute in release on the 2-core machine.
#[test]
fn adam_brings_the_loss_well_below_two_nats() {
    let mut task = MnistAr::new(mnist_images(), 32, 256, 0).expect("task");
    let mut x = task.init_params();
    let mut grad = vec![0.0; x.len()];
    let (mut m, mut v) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
    let (lr, b1, b2, eps) = (2e-3f32, 0.9f32, 0.999f32, 1e-8f32);
    let ctx = EvalContext::default();
    let before = task.evaluate(&x, &ctx).expect("evaluate")["val_loss"];
    let mut losses = Vec::new();
    for t in 1..=STEPS {
        task.next_batch();
        losses.push(task.loss_and_grad(&x, &mut grad).expect("loss"));
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for i in 0..x.len() {
            m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
            v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
            x[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
        }
    }
    let after = task.evaluate(&x, &ctx).expect("evaluate")["val_loss"];
    let late: f32 = losses[losses.len() - 50..].iter().sum::<f32>() / 50.0;
    eprintln!("val loss {before:.3} → {after:.3} nats; mean of the last 50 batches {late:.3}");
    assert!(before > 4.5, "initial validation loss {before}");
    assert!(
        after < 1.5 && late < 1.5,
        "after {STEPS} steps: val {after}, train {late}"
    );
}

const STEPS: i32 = 300;

/// The same loss and gradient to the bit on every call and whether the kernels run on one
/// thread or two: every sum has a fixed order (per-task partials summed in task order, and the
/// kernels' own fixed orders), which the trainer's determinism and resume rest on.
#[test]
fn loss_and_gradient_are_bit_identical_across_calls_and_thread_counts() {
    let mut task = small_task(11, 16, 3);
    let params = task.init_params();
    let run = |task: &mut MnistAr| {
        let mut grad = vec![0.0; params.len()];
        let loss = task.loss_and_grad(&params, &mut grad).expect("loss");
        (
            loss.to_bits(),
            grad.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
        )
    };
    let first = run(&mut task);
    assert_eq!(run(&mut task), first, "a second call");
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        assert_eq!(pool.install(|| run(&mut task)), first, "{threads} threads");
    }
    assert!(first.1.iter().any(|&g| g != 0), "a gradient at all");
}
