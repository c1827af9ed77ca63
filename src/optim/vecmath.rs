//! Small dense-vector kernels shared by the optimizers (f64 accumulation for reductions).

/// Σ aᵢ·bᵢ, accumulated in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// ‖a‖₂, accumulated in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}
