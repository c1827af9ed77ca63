//! Tests of the depthwise kernels against the direct definition.

use super::*;
#[cfg(target_arch = "x86_64")]
use crate::task::mnist_ar::simd::Wide;
use crate::task::mnist_ar::simd::{has_avx2_fma, has_avx512};
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
        let mut rows = Vec::new();
        let ap = padded(&a40, h, w, HIDDEN);
        forward(&ap, (h, w), &wi, &bi, &mut z, &mut |i, row| {
            rows.push((i, row.to_vec()))
        });
        // Each row handed over once, in order, already complete.
        assert_eq!(rows.len(), h);
        for (k, (i, row)) in rows.into_iter().enumerate() {
            assert_eq!((i, &row[..]), (k, &z[k * w * DW_CH..(k + 1) * w * DW_CH]));
        }
        let want = reference(&a40, h, w, &weight, &bias);
        for p in 0..h * w {
            for o in 0..DW_CH {
                let (g, r) = (z[p * DW_CH + o], want[p * DW_CH + tf_channel(o)]);
                assert!((g - r).abs() < 1e-5, "{h}×{w}: {g} vs {r}");
            }
        }
    }
}

type Outputs = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// The three passes on random data of an `h × w` image through one code path: 0 the dispatched
/// one this machine runs, 1 the portable body (unfused, 8 wide), 2 the fused body 8 wide (compiled
/// here without the target features: the same arithmetic in other instructions), 3 the fused
/// body 16 wide (AVX-512 only).
fn run_path(path: usize, (h, w): (usize, usize), seed: u64) -> Outputs {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = padded(&random(h * w * HIDDEN, &mut rng), h, w, HIDDEN);
    let dz = padded(&random(h * w * DW_CH, &mut rng), h, w, DW_CH);
    let (weight, bias) = (random(TAPS * DW_CH, &mut rng), random(DW_CH, &mut rng));
    let mut z = vec![0.0; h * w * DW_CH];
    let mut da = vec![0.0; h * w * HIDDEN];
    // Gradients are added: start from values, not zeros, to see that too.
    let (mut gw, mut gb) = (random(TAPS * DW_CH, &mut rng), random(DW_CH, &mut rng));
    let g = (&mut gw[..], &mut gb[..]);
    let hw = (h, w);
    match path {
        0 => {
            forward(&a, hw, &weight, &bias, &mut z, &mut |_, _| {});
            backward_input(&dz, hw, &weight, &mut da);
            backward_weights(&a, &dz, hw, g);
        }
        1 => {
            forward_body::<false, V>(&a, hw, &weight, &bias, &mut z, &mut |_, _| {});
            backward_input_body::<false, V>(&dz, hw, &weight, &mut da);
            backward_weights_body::<false, V>(&a, &dz, hw, g);
        }
        2 => {
            forward_body::<true, V>(&a, hw, &weight, &bias, &mut z, &mut |_, _| {});
            backward_input_body::<true, V>(&dz, hw, &weight, &mut da);
            backward_weights_body::<true, V>(&a, &dz, hw, g);
        }
        #[cfg(target_arch = "x86_64")]
        3 => {
            assert!(has_avx512(), "the 16-wide blocks need AVX-512");
            forward_body::<true, Wide>(&a, hw, &weight, &bias, &mut z, &mut |_, _| {});
            backward_input_body::<true, Wide>(&dz, hw, &weight, &mut da);
            backward_weights_body::<true, Wide>(&a, &dz, hw, g);
        }
        _ => unreachable!("path {path}"),
    }
    (z, da, gw, gb)
}

/// The portable body (what CPUs without AVX2 run) agrees with the dispatched version this
/// machine runs to rounding.
#[test]
fn every_code_path_agrees() {
    let want = run_path(0, (7, 13), 5);
    let got = run_path(1, (7, 13), 5);
    for (g, w) in [
        (got.0, &want.0),
        (got.1, &want.1),
        (got.2, &want.2),
        (got.3, &want.3),
    ] {
        assert!(g.iter().zip(w).all(|(a, b)| (a - b).abs() < 1e-4));
    }
}

/// With fused multiply-add, 16-wide blocks (AVX-512) and 8-wide ones (AVX2) give the same bits,
/// and so does the path this machine dispatches to when it has FMA: a run's numbers do not
/// depend on the vector width of the machine. Sizes cover runs of 8, 4 and 1 outputs. (The
/// 16-wide check needs a CPU with AVX-512, the dispatched one FMA.)
#[test]
fn block_widths_agree_bit_for_bit() {
    let as_bits = |o: Outputs| -> Vec<Vec<u32>> {
        [o.0, o.1, o.2, o.3]
            .iter()
            .map(|v| v.iter().map(|x| x.to_bits()).collect())
            .collect()
    };
    for (k, hw) in [(1, 1), (2, 2), (4, 4), (7, 13), (28, 28)]
        .into_iter()
        .enumerate()
    {
        let seed = 10 + k as u64;
        let eight = as_bits(run_path(2, hw, seed));
        #[cfg(target_arch = "x86_64")]
        if has_avx512() {
            assert_eq!(as_bits(run_path(3, hw, seed)), eight, "{hw:?}: 16 wide");
        }
        if has_avx2_fma() {
            assert_eq!(as_bits(run_path(0, hw, seed)), eight, "{hw:?}: dispatched");
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
