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
    <V as Block>::load(s, at)
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

/// A block of channels the depthwise kernels handle as one value: [`V`] (8 lanes, plain arrays
/// the compiler vectorizes) or [`Wide`] (16 lanes, one AVX-512 register).
pub trait Block: Copy {
    const LANES: usize;

    fn zero() -> Self;

    /// `s[at..at + LANES]` without a bounds check.
    ///
    /// # Safety
    /// `at + LANES <= s.len()`.
    unsafe fn load_unchecked(s: &[f32], at: usize) -> Self;

    /// Writes `s[at..at + LANES]` without a bounds check.
    ///
    /// # Safety
    /// `at + LANES <= s.len()`.
    unsafe fn store_unchecked(self, s: &mut [f32], at: usize);

    /// Lane-wise `self * b + c`, fused when `FMA`.
    fn madd<const FMA: bool>(self, b: Self, c: Self) -> Self;

    fn add(self, b: Self) -> Self;

    #[inline(always)]
    fn load(s: &[f32], at: usize) -> Self {
        assert!(at + Self::LANES <= s.len());
        // SAFETY: checked just above.
        unsafe { Self::load_unchecked(s, at) }
    }

    #[inline(always)]
    fn store(self, s: &mut [f32], at: usize) {
        assert!(at + Self::LANES <= s.len());
        // SAFETY: checked just above.
        unsafe { self.store_unchecked(s, at) }
    }
}

impl Block for V {
    const LANES: usize = LANES;

    #[inline(always)]
    fn zero() -> Self {
        [0.0; LANES]
    }

    #[inline(always)]
    unsafe fn load_unchecked(s: &[f32], at: usize) -> Self {
        debug_assert!(at + LANES <= s.len());
        // SAFETY: in bounds by the caller's contract; `V` is plain `f32`s, read unaligned.
        unsafe { s.as_ptr().add(at).cast::<V>().read_unaligned() }
    }

    #[inline(always)]
    unsafe fn store_unchecked(self, s: &mut [f32], at: usize) {
        debug_assert!(at + LANES <= s.len());
        // SAFETY: in bounds by the caller's contract; written unaligned.
        unsafe { s.as_mut_ptr().add(at).cast::<V>().write_unaligned(self) }
    }

    #[inline(always)]
    fn madd<const FMA: bool>(self, b: Self, c: Self) -> Self {
        vmadd::<FMA>(self, b, c)
    }

    #[inline(always)]
    fn add(mut self, b: Self) -> Self {
        for k in 0..LANES {
            self[k] += b[k];
        }
        self
    }
}

/// 16 lanes in one AVX-512 register, always fused. Written with intrinsics: as a 16-float
/// array the compiler vectorizes the kernels' loops over neighbouring pixels instead, with
/// gathers and scatters (3× slower than 8 lanes).
///
/// Only code that runs on a CPU with AVX-512F may use it: the `wide` form of
/// [`multiversion!`] does so only in its AVX-512 branch.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub struct Wide(std::arch::x86_64::__m512);

#[cfg(target_arch = "x86_64")]
impl Block for Wide {
    const LANES: usize = 16;

    #[inline(always)]
    fn zero() -> Self {
        // SAFETY: AVX-512F is present wherever `Wide` is used (see the type).
        Self(unsafe { std::arch::x86_64::_mm512_setzero_ps() })
    }

    #[inline(always)]
    unsafe fn load_unchecked(s: &[f32], at: usize) -> Self {
        debug_assert!(at + 16 <= s.len());
        // SAFETY: in bounds by the caller's contract; AVX-512F as for `zero`.
        Self(unsafe { std::arch::x86_64::_mm512_loadu_ps(s.as_ptr().add(at)) })
    }

    #[inline(always)]
    unsafe fn store_unchecked(self, s: &mut [f32], at: usize) {
        debug_assert!(at + 16 <= s.len());
        // SAFETY: in bounds by the caller's contract; AVX-512F as for `zero`.
        unsafe { std::arch::x86_64::_mm512_storeu_ps(s.as_mut_ptr().add(at), self.0) }
    }

    #[inline(always)]
    fn madd<const FMA: bool>(self, b: Self, c: Self) -> Self {
        debug_assert!(FMA, "Wide runs only where FMA does");
        // SAFETY: AVX-512F as for `zero`.
        Self(unsafe { std::arch::x86_64::_mm512_fmadd_ps(self.0, b.0, c.0) })
    }

    #[inline(always)]
    fn add(self, b: Self) -> Self {
        // SAFETY: AVX-512F as for `zero`.
        Self(unsafe { std::arch::x86_64::_mm512_add_ps(self.0, b.0) })
    }
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
///
/// The `wide` form (`=> wide $body`) is for bodies generic over the [`Block`] type too,
/// `$body::<FMA, B>`: they run on [`Wide`] blocks under AVX-512 and on [`V`] otherwise (one
/// AVX2 register; 16 lanes would not fit AVX2's 16 registers).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        => $body:ident) => {
        $crate::task::mnist_ar::simd::multiversion! {
            @dispatch $(#[$meta])* $vis fn $name($($arg: $ty),*) $(-> $ret)?
                => [$body::<true>] [$body::<true>] [$body::<false>]
        }
    };
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        => wide $body:ident) => {
        $crate::task::mnist_ar::simd::multiversion! {
            @dispatch $(#[$meta])* $vis fn $name($($arg: $ty),*) $(-> $ret)?
                => [$body::<true, $crate::task::mnist_ar::simd::Wide>]
                   [$body::<true, $crate::task::mnist_ar::simd::V>]
                   [$body::<false, $crate::task::mnist_ar::simd::V>]
        }
    };
    (@dispatch $(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?
        => [$($wide:tt)*] [$($avx2:tt)*] [$($plain:tt)*]) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $($wide)*($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $($avx2)*($($arg),*)
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
            $($plain)*($($arg),*)
        }
    };
}
pub(crate) use multiversion;
