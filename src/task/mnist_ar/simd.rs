//! Run-time instruction-set dispatch for the hand-written kernels.
//!
//! The crate is compiled for baseline x86-64 (SSE2), where the kernels' loops would vectorize only
//! 4 wide and `f32::mul_add` would be a libm call. Each kernel body is therefore written once,
//! generic over `const FMA: bool`, and [`multiversion!`] wraps it in a function that runs the body
//! compiled with AVX-512 or AVX2+FMA when the CPU has them, and the plain body otherwise.

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

/// `s[at..at + 8]` without a bounds check, for kernels that check a whole run's range once.
///
/// # Safety
/// `at + LANES <= s.len()`.
#[inline(always)]
pub unsafe fn load_unchecked(s: &[f32], at: usize) -> V {
    debug_assert!(at + LANES <= s.len());
    // SAFETY: in bounds by the caller's contract; `V` is plain `f32`s, read unaligned.
    unsafe { s.as_ptr().add(at).cast::<V>().read_unaligned() }
}

/// Writes `s[at..at + 8]` without a bounds check.
///
/// # Safety
/// `at + LANES <= s.len()`.
#[inline(always)]
pub unsafe fn store_unchecked(s: &mut [f32], at: usize, v: V) {
    debug_assert!(at + LANES <= s.len());
    // SAFETY: in bounds by the caller's contract; written unaligned.
    unsafe { s.as_mut_ptr().add(at).cast::<V>().write_unaligned(v) }
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

/// Whether this CPU can run the AVX-512 versions (AVX-512F and VL: 32 vector registers, which
/// the register-blocked depthwise kernels need to hold their weights and accumulators).
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx2_fma()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `fn $name(args) -> ret` that calls `$body::<true>` compiled with AVX-512 or
/// AVX2+FMA when the CPU supports them, and `$body::<false>` otherwise. `$body` must be
/// `#[inline(always)]` so that it is compiled inside the feature-enabled wrappers.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        => $body:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body::<true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body::<true>($($arg),*)
                }
                if $crate::task::mnist_ar::simd::has_avx512() {
                    // SAFETY: the CPU supports AVX-512F/VL, AVX2 and FMA, checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::task::mnist_ar::simd::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body::<false>($($arg),*)
        }
    };
}
pub(crate) use multiversion;
