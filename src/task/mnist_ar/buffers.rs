//! Reuse of the large activation buffers across training steps.
//!
//! A step at batch 64 allocates ~200 MB of saved activations and frees it again at the end of
//! the backward pass; the allocator returns such memory to the OS, and touching it again next
//! step costs a page fault per page (a fifth of the step time when measured). The buffers are
//! therefore kept on the thread that runs forward and backward (the trainer thread; the tape is
//! not `Send`, so both passes run there) and handed out again by size.

use std::cell::RefCell;

/// Buffers kept for reuse at most; more are freed.
const MAX_FREE: usize = 128;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` floats with arbitrary contents (the caller overwrites them), reusing the
/// smallest released buffer that is large enough.
pub fn take(len: usize) -> Vec<f32> {
    let reused = FREE.with(|free| {
        let mut free = free.borrow_mut();
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(k, _)| k);
        best.map(|k| free.swap_remove(k))
    });
    match reused {
        Some(mut v) => {
            // Shrinking keeps the old values; growing writes zeros only past the old length.
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0.0);
            }
            v
        }
        None => vec![0.0; len],
    }
}

/// Returns a buffer for reuse by [`take`].
pub fn give(v: Vec<f32>) {
    if v.capacity() == 0 {
        return;
    }
    FREE.with(|free| {
        let mut free = free.borrow_mut();
        if free.len() < MAX_FREE {
            free.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_smallest_fitting_buffer() {
        let big = take(1000);
        let small = take(10);
        let (big_ptr, small_ptr) = (big.as_ptr(), small.as_ptr());
        give(big);
        give(small);
        let v = take(8);
        assert_eq!((v.len(), v.as_ptr()), (8, small_ptr));
        let w = take(900);
        assert_eq!((w.len(), w.as_ptr()), (900, big_ptr));
        let fresh = take(5000);
        assert_eq!(fresh, vec![0.0; 5000]);
        give(v);
        let grown = take(10);
        assert_eq!(grown.len(), 10);
    }
}
