//! Tests of the depthwise kernels against the direct definition.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// TF-ordered `[tap][o]` values (or `[o]` when `taps == 1`) in internal order.
fn to_internal(tf: &[f32], taps: usize) -> Vec<f32> {
    let mut out = vec![0.0; tf.len()];
    for t in 0..taps {
        for o in 0..DW_CH {
            out[t * DW_CH + o] = tf[t * DW_CH + tf_channel(o)];
        }
    }
    out
}

fn padded(a: &[f32], h: usize, w: usize, ch: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; padded_len(h, w) * ch];
    pad_rows((h, w), ch, &mut out, |i, row| {
        row.copy_from_slice(&a[i * row.len()..(i + 1) * row.len()]);
    });
    out
}

#[test]
fn channel_order_is_a_permutation() {
    let mut seen: Vec<usize> = (0..DW_CH).map(tf_channel).collect();
    assert_eq!(tf_channel(HIDDEN + 1), 4);
    seen.sort_unstable();
    assert!(seen.iter().copied().eq(0..DW_CH));
}

#[test]
fn forward_matches_the_definition_on_all_sizes() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (h, w) in [
        (1, 1),
        (2, 2),
        (4, 4),
        (7, 7),
        (3, 5),
        (14, 14),
        (28, 28),
        (5, 13),
    ] {
        let a40 = random(h * w * HIDDEN, &mut rng);
        let weight = random(TAPS * DW_CH, &mut rng);
        let bias = random(DW_CH, &mut rng);
        let mut z = vec![f32::NAN; h * w * DW_CH];
        let (wi, bi) = (to_internal(&weight, TAPS), to_internal(&bias, 1));
        forward(&padded(&a40, h, w, HIDDEN), (h, w), &wi, &bi, &mut z);
        let want = reference(&a40, h, w, &weight, &bias);
        for p in 0..h * w {
            for o in 0..DW_CH {
                let (g, r) = (z[p * DW_CH + o], want[p * DW_CH + tf_channel(o)]);
                assert!((g - r).abs() < 1e-5, "{h}×{w}: {g} vs {r}");
            }
        }
    }
}

/// The generic bodies (what CPUs without AVX2 run, with and without fused multiply-add)
/// agree with the dispatched version this machine runs.
#[test]
fn every_code_path_agrees() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (h, w) = (7, 13);
    let a = padded(&random(h * w * HIDDEN, &mut rng), h, w, HIDDEN);
    let dz = padded(&random(h * w * DW_CH, &mut rng), h, w, DW_CH);
    let (weight, bias) = (random(TAPS * DW_CH, &mut rng), random(DW_CH, &mut rng));
    type Outputs = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);
    let run = |path: usize| -> Outputs {
        let mut z = vec![0.0; h * w * DW_CH];
        let mut da = vec![0.0; h * w * HIDDEN];
        let (mut gw, mut gb) = (vec![0.0; TAPS * DW_CH], vec![0.0; DW_CH]);
        let g = (&mut gw[..], &mut gb[..]);
        match path {
            0 => {
                forward(&a, (h, w), &weight, &bias, &mut z);
                backward_input(&dz, (h, w), &weight, &mut da);
                backward_weights(&a, &dz, (h, w), g);
            }
            1 => {
                forward_body::<false>(&a, (h, w), &weight, &bias, &mut z);
                backward_input_body::<false>(&dz, (h, w), &weight, &mut da);
                backward_weights_body::<false>(&a, &dz, (h, w), g);
            }
            _ => {
                forward_body::<true>(&a, (h, w), &weight, &bias, &mut z);
                backward_input_body::<true>(&dz, (h, w), &weight, &mut da);
                backward_weights_body::<true>(&a, &dz, (h, w), g);
            }
        }
        (z, da, gw, gb)
    };
    let want = run(0);
    for path in [1, 2] {
        let got = run(path);
        for (g, w) in [
            (got.0, &want.0),
            (got.1, &want.1),
            (got.2, &want.2),
            (got.3, &want.3),
        ] {
            assert!(
                g.iter().zip(w).all(|(a, b)| (a - b).abs() < 1e-4),
                "path {path}"
            );
        }
    }
}

/// Loss L = Σ z ⊙ u for a fixed random u (L is linear in every coordinate, so central
/// differences are exact up to rounding); every input, weight and bias coordinate on a 3×10
/// image (covering runs of 8, and of 1 at the row end).
#[test]
fn backward_matches_central_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (h, w) = (3, 10);
    let a40 = random(h * w * HIDDEN, &mut rng);
    let weight = random(TAPS * DW_CH, &mut rng);
    let bias = random(DW_CH, &mut rng);
    let u = random(h * w * DW_CH, &mut rng); // TF order
    let loss = |a40: &[f32], weight: &[f32], bias: &[f32]| -> f64 {
        let z = reference(a40, h, w, weight, bias);
        z.iter().zip(&u).map(|(&z, &u)| z as f64 * u as f64).sum()
    };
    let mut u_internal = vec![0.0; u.len()];
    for p in 0..h * w {
        for o in 0..DW_CH {
            u_internal[p * DW_CH + o] = u[p * DW_CH + tf_channel(o)];
        }
    }
    let (wi, ap) = (to_internal(&weight, TAPS), padded(&a40, h, w, HIDDEN));
    let dz = padded(&u_internal, h, w, DW_CH);
    let (mut gw, mut gb) = (vec![0.0; TAPS * DW_CH], vec![0.0; DW_CH]);
    let mut da = vec![f32::NAN; h * w * HIDDEN];
    backward_input(&dz, (h, w), &wi, &mut da);
    backward_weights(&ap, &dz, (h, w), (&mut gw, &mut gb));
    let eps = 1e-2f32;
    let fd = |f: &dyn Fn(f32) -> f64, x: f32| (f(x + eps) - f(x - eps)) / (2.0 * eps as f64);
    for k in 0..a40.len() {
        let f = |v: f32| {
            let mut a = a40.clone();
            a[k] = v;
            loss(&a, &weight, &bias)
        };
        assert!((fd(&f, a40[k]) - da[k] as f64).abs() < 1e-3, "input {k}");
    }
    for t in 0..TAPS {
        for o in 0..DW_CH {
            let k = t * DW_CH + tf_channel(o);
            let f = |v: f32| {
                let mut wt = weight.clone();
                wt[k] = v;
                loss(&a40, &wt, &bias)
            };
            let g = gw[t * DW_CH + o] as f64;
            assert!((fd(&f, weight[k]) - g).abs() < 1e-3, "weight {k}");
        }
    }
    for (o, &g) in gb.iter().enumerate() {
        let k = tf_channel(o);
        let f = |v: f32| {
            let mut b = bias.clone();
            b[k] = v;
            loss(&a40, &weight, &b)
        };
        assert!((fd(&f, bias[k]) - g as f64).abs() < 1e-3, "bias {k}");
    }
}

/// The direct definition in TF's channel order (`o = 3c + m` reads input channel `c`), with
/// zero padding, for tests.
fn reference(a40: &[f32], h: usize, w: usize, weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let mut z = vec![0.0; h * w * DW_CH];
    for i in 0..h as isize {
        for j in 0..w as isize {
            for c in 0..HIDDEN {
                for m in 0..MULT {
                    let o = c * MULT + m;
                    let mut s = bias[o] as f64;
                    for t in 0..TAPS as isize {
                        let (ii, jj) = (i + t / 3 - 1, j + t % 3 - 1);
                        if ii >= 0 && ii < h as isize && jj >= 0 && jj < w as isize {
                            let x = a40[(ii as usize * w + jj as usize) * HIDDEN + c] as f64;
                            s += x * weight[t as usize * DW_CH + o] as f64;
                        }
                    }
                    z[(i as usize * w + j as usize) * DW_CH + o] = s as f32;
                }
            }
        }
    }
    z
}
