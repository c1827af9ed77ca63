//! Timing with cold caches, as a step meets them in training when another pass over hundreds of
//! megabytes ran in between: before each timed call (untimed) both threads write a buffer larger
//! than the last-level cache.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// Larger than this machine's last-level cache (480 MB reported).
const EVICT: usize = 1 << 30;

pub struct Cold {
    junk: Vec<u8>,
}

impl Cold {
    pub fn new() -> Self {
        // Written once here, so the first timed calls do not share the machine with the
        // kernel faulting in a gigabyte of fresh pages.
        Self {
            junk: vec![1u8; EVICT],
        }
    }

    /// For criterion's `iter_custom`: the time of `iters` calls of `f`, each after an eviction.
    pub fn time(&mut self, iters: u64, mut f: impl FnMut()) -> Duration {
        let mut timed = Duration::ZERO;
        for i in 0..iters {
            self.junk
                .par_chunks_mut(1 << 20)
                .for_each(|c| c.fill(i as u8));
            black_box(&self.junk);
            let began = Instant::now();
            f();
            timed += began.elapsed();
        }
        timed
    }
}
