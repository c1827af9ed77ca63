use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

const SMALL: Mlp = Mlp {
    inputs: 6,
    hidden: 5,
    classes: 4,
};

fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

#[test]
fn layout_tiles_the_flat_vector() {
    let layers = SMALL.layers();
    assert_eq!(SMALL.dim(), 6 * 5 + 5 + 5 * 4 + 4);
    assert_eq!(layers[0].range.start, 0);
    assert!(
        layers
            .windows(2)
            .all(|w| w[0].range.end == w[1].range.start)
    );
    assert_eq!(layers[3].range.end, SMALL.dim());
    assert_eq!(layers[1].name, "hidden.bias");
}

#[test]
fn gradient_matches_central_differences_in_f64() {
    // Every coordinate; step 1e-6 in f64: truncation ~1e-12, rounding ~1e-10 relative to the
    // loss (~1.5 nats). A ReLU kink within 1e-6 of a pre-activation would break this, with
    // probability ~1e-5 per unit at these scales; the seed is fixed.
    let dev = Cpu::default();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let params = random(SMALL.dim(), &mut rng);
    let x = random(7 * SMALL.inputs, &mut rng);
    let labels = [0, 3, 1, 2, 2, 0, 3];
    let mut grad = vec![0.0; SMALL.dim()];
    let loss = SMALL
        .loss_and_grad(&dev, &params, x.clone(), &labels, &mut grad)
        .unwrap();
    let mean = |p: &[f64]| {
        SMALL
            .tally(&dev, p, x.clone(), &labels)
            .unwrap()
            .mean_loss()
    };
    assert!(
        (mean(&params) - loss).abs() < 1e-12,
        "{} vs {loss}",
        mean(&params)
    );
    let h = 1e-6;
    for i in 0..SMALL.dim() {
        let mut p = params.clone();
        p[i] += h;
        let up = mean(&p);
        p[i] -= 2.0 * h;
        let fd = (up - mean(&p)) / (2.0 * h);
        assert!(
            (fd - grad[i]).abs() < 1e-7 + 1e-6 * grad[i].abs(),
            "{i}: {fd} vs {}",
            grad[i]
        );
    }
    // Every layer receives gradient (the slices are all wired into the flat vector).
    for layer in SMALL.layers() {
        assert!(
            grad[layer.range.clone()].iter().any(|&g| g != 0.0),
            "{}",
            layer.name
        );
    }
}

#[test]
fn f32_agrees_with_f64() {
    let dev = Cpu::default();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let params = random(SMALL.dim(), &mut rng);
    let x = random(5 * SMALL.inputs, &mut rng);
    let labels = [1, 1, 0, 3, 2];
    let mut g64 = vec![0.0; SMALL.dim()];
    let l64 = SMALL
        .loss_and_grad(&dev, &params, x.clone(), &labels, &mut g64)
        .unwrap();
    let narrow = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let mut g32 = vec![0.0f32; SMALL.dim()];
    let l32 = SMALL
        .loss_and_grad(&dev, &narrow(&params), narrow(&x), &labels, &mut g32)
        .unwrap();
    assert!((f64::from(l32) - l64).abs() < 1e-5);
    for (a, b) in g32.iter().zip(&g64) {
        assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn zero_parameters_give_uniform_predictions() {
    // All logits 0: cross-entropy ln(classes) for every example.
    let dev = Cpu::default();
    let tally = SMALL
        .tally(
            &dev,
            &vec![0.0f32; SMALL.dim()],
            vec![0.5; 3 * 6],
            &[0, 1, 2],
        )
        .unwrap();
    assert!((tally.mean_loss() - 4f64.ln()).abs() < 1e-6);
    assert_eq!(tally.count, 3);
}

#[test]
fn accuracy_counts_the_argmax() {
    // hidden = relu(x) through identity weights, output = hidden: the prediction is the
    // largest input.
    let model = Mlp {
        inputs: 3,
        hidden: 3,
        classes: 3,
    };
    let mut params = vec![0.0f32; model.dim()];
    for i in 0..3 {
        params[i * 3 + i] = 1.0;
        params[12 + i * 3 + i] = 1.0;
    }
    let x = vec![0.1, 0.9, 0.2, 0.8, 0.1, 0.1, 0.3, 0.2, 0.1];
    let tally = model
        .tally(&Cpu::default(), &params, x, &[1, 0, 2])
        .unwrap();
    assert_eq!((tally.correct, tally.count), (2, 3));
    let err = model
        .tally(&Cpu::default(), &params, vec![0.0; 3], &[5])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not below 3 classes"), "{err}");
}

#[test]
fn init_is_seeded_with_the_stated_scale() {
    let model = Mlp {
        inputs: 400,
        hidden: 100,
        classes: 10,
    };
    let a = model.init(&mut ChaCha8Rng::seed_from_u64(3));
    assert_eq!(a, model.init(&mut ChaCha8Rng::seed_from_u64(3)));
    let [w1, b1, ..] = model.ranges();
    // 40,000 samples of N(0, 1/400): the sample std is within 2% of 0.05.
    let std = (a[w1].iter().map(|w| w * w).sum::<f32>() / 40_000.0).sqrt();
    assert!((std / 0.05 - 1.0).abs() < 0.02, "std {std}");
    assert!(a[b1].iter().all(|&b| b == 0.0));
}
