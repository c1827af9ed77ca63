//! Seeded randomness of the LODO family: the fixed permutations and the initial weights.
//!
//! Permutations and weights come from separate ChaCha8 streams of the same seed, so `reset()` can
//! redraw the initial weights without redrawing (or storing) the permutations, and the same seed
//! always gives the same network.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// ChaCha stream of the permutations.
const PERMUTATION_STREAM: u64 = 0;
/// ChaCha stream of the initial weights.
const WEIGHT_STREAM: u64 = 1;

/// The generator for the permutations of a network seeded with `seed`.
pub(crate) fn permutation_rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(PERMUTATION_STREAM);
    rng
}

/// The generator for the initial weights of a network seeded with `seed`.
pub(crate) fn weight_rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(WEIGHT_STREAM);
    rng
}

/// `count` uniformly random permutations of `0..len`, concatenated, and their inverses.
///
/// Permutation `i` occupies `[i·len, (i+1)·len)`; `inverse[perm[j]] = j` within each.
pub(crate) fn permutations(rng: &mut ChaCha8Rng, count: usize, len: usize) -> (Vec<u32>, Vec<u32>) {
    debug_assert!(u32::try_from(len).is_ok(), "width checked by the config");
    let mut perms = Vec::with_capacity(count * len);
    let mut inverses = vec![0u32; count * len];
    for _ in 0..count {
        let start = perms.len();
        perms.extend(0..len as u32);
        perms[start..].shuffle(rng);
        for (j, &p) in perms[start..].iter().enumerate() {
            inverses[start + p as usize] = j as u32;
        }
    }
    (perms, inverses)
}

/// Fills `out` (row-major `k×k`) with a random orthogonal matrix, distributed uniformly (Haar).
///
/// Gram–Schmidt on the columns of a Gaussian matrix gives the Q of its QR factorization with a
/// positive diagonal R, which is Haar-distributed (Mezzadri 2007, "How to generate random
/// matrices from the classical compact groups", §5). Done in f64, orthogonalising twice, so QᵀQ
/// is the identity to f32 rounding.
pub(crate) fn random_orthogonal(rng: &mut ChaCha8Rng, k: usize, out: &mut [f32]) {
    debug_assert_eq!(out.len(), k * k);
    let mut columns: Vec<Vec<f64>> = Vec::with_capacity(k);
    while columns.len() < k {
        let mut v: Vec<f64> = (0..k).map(|_| StandardNormal.sample(rng)).collect();
        let drawn_norm = norm(&v);
        for _pass in 0..2 {
            for q in &columns {
                let proj: f64 = q.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(q).for_each(|(x, qi)| *x -= proj * qi);
            }
        }
        let remaining = norm(&v);
        // A draw (almost) inside the span of the previous columns has probability zero; redraw.
        if remaining > 1e-6 * drawn_norm {
            v.iter_mut().for_each(|x| *x /= remaining);
            columns.push(v);
        }
    }
    for (c, column) in columns.iter().enumerate() {
        for (r, &x) in column.iter().enumerate() {
            out[r * k + c] = x as f32;
        }
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_permutations_with_correct_inverses() {
        let (perms, inverses) = permutations(&mut permutation_rng(7), 3, 50);
        for layer in 0..3 {
            let p = &perms[layer * 50..(layer + 1) * 50];
            let inv = &inverses[layer * 50..(layer + 1) * 50];
            let mut sorted = p.to_vec();
            sorted.sort_unstable();
            assert!(sorted.iter().enumerate().all(|(i, &x)| x as usize == i));
            assert!((0..50).all(|j| inv[p[j] as usize] as usize == j));
        }
        assert_ne!(
            perms[..50],
            perms[50..100],
            "layers draw different permutations"
        );
    }

    #[test]
    fn same_seed_same_permutations_different_seed_different() {
        let a = permutations(&mut permutation_rng(1), 2, 40).0;
        let b = permutations(&mut permutation_rng(1), 2, 40).0;
        let c = permutations(&mut permutation_rng(2), 2, 40).0;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn random_orthogonal_has_orthonormal_columns() {
        let mut rng = weight_rng(3);
        for k in [1, 2, 3, 4, 8, 16] {
            let mut q = vec![0.0f32; k * k];
            random_orthogonal(&mut rng, k, &mut q);
            for a in 0..k {
                for b in 0..k {
                    let dot: f64 = (0..k)
                        .map(|r| f64::from(q[r * k + a]) * f64::from(q[r * k + b]))
                        .sum();
                    let expected = if a == b { 1.0 } else { 0.0 };
                    // f32 rounding of k entries: well under 1e-6.
                    assert!((dot - expected).abs() < 1e-6, "k={k} ({a},{b}): {dot}");
                }
            }
        }
    }

    #[test]
    fn permutation_and_weight_streams_differ() {
        use rand::RngCore;
        assert_ne!(permutation_rng(5).next_u64(), weight_rng(5).next_u64());
    }
}
