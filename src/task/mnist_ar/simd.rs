//! Run-time instruction-set dispatch for the hand-written kernels.
//!
//! The crate is compiled for baseline x86-64 (SSE2), where the kernels' loops would vectorize only
//! 4 wide and `f32::mul_add` would be a libm call. Each kernel body is therefore written once,
//! generic over `const FMA: bool`, and [`multiversion!`] wraps it in a function that runs the body
//! compiled with AVX2+FMA when the CPU has them, and the plain body otherwise.

/// Whether this CPU can run the AVX2+FMA versions (detected once by `std`, then a cached load).
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `a * b + c`, fused when the body is compiled with FMA (one rounding, one instruction) and
/// unfused otherwise: without the FMA feature `mul_add` would be a slow libm call.
#[inline(always)]
pub fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Lanes of the [`V`] blocks the kernels work in (one AVX register).
pub const LANES: usize = 8;

/// A block of 8 channels; arithmetic on it compiles to single vector instructions.
pub type V = [f32; LANES];

/// The 8 values at `s[at..at + 8]`.
#[inline(always)]
pub fn load(s: &[f32], at: usize) -> V {
    s[at..at + LANES]
        .try_into()
        .expect("a block of LANES values")
}

#[inline(always)]
pub fn store(s: &mut [f32], at: usize, v: V) {
    s[at..at + LANES].copy_from_slice(&v);
}

/// Lane-wise `a * b + c`.
#[inline(always)]
pub fn vmadd<const FMA: bool>(a: V, b: V, mut c: V) -> V {
    // Plain loops rather than `array::from_fn`, which is not always inlined and then moves
    // the arrays through memory.
    for k in 0..LANES {
        c[k] = madd::<FMA>(a[k], b[k], c[k]);
    }
    c
}

/// Lane-wise `a + b`.
#[inline(always)]
pub fn vadd(mut a: V, b: V) -> V {
    for k in 0..LANES {
        a[k] += b[k];
    }
    a
}

/// Defines `fn $name(args) -> ret` that calls `$body::<true>` compiled with AVX2+FMA when the
/// CPU supports them and `$body::<false>` otherwise. `$body` must be `#[inline(always)]` so that
/// it is compiled inside the feature-enabled wrapper.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        => $body:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn fast($($arg: $ty),*) $(-> $ret)? {
                    $body::<true>($($arg),*)
                }
                if $crate::task::mnist_ar::simd::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { fast($($arg),*) };
                }
            }
            $body::<false>($($arg),*)
        }
    };
}
pub(crate) use multiversion;
