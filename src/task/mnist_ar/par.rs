//! How the batch is split into rayon tasks, and per-thread scratch memory.

use std::cell::Cell;

use rayon::prelude::*;

use super::buffers;
use super::layout::{HIDDEN, PIXELS, WIDTH};
use super::simd::multiversion;

/// Images per rayon task for a batch of `batch` images of `pixels` pixels each: about one 28×28
/// image worth of rows per task (so a task's working set stays in L2), but at least 8 tasks when
/// the batch allows. It depends only on the shapes, so sums over tasks happen in the same order
/// on every machine.
pub fn images_per_task(batch: usize, pixels: usize) -> usize {
    let by_rows = PIXELS.div_ceil(pixels.max(1));
    let by_tasks = batch.div_ceil(8);
    by_rows.min(by_tasks).max(1)
}

thread_local! {
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on `len` floats of this thread's scratch memory, reused across calls so the hot loop
/// does not allocate. The contents are arbitrary: `f` must write before it reads.
pub fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = SCRATCH.with(Cell::take);
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let out = f(&mut buf[..len]);
    SCRATCH.with(|s| s.set(buf));
    out
}

/// Splits `s` into consecutive pieces of the given sizes.
pub fn carve<const N: usize>(mut s: &mut [f32], sizes: [usize; N]) -> [&mut [f32]; N] {
    let mut out: [&mut [f32]; N] = std::array::from_fn(|_| Default::default());
    for (piece, n) in out.iter_mut().zip(sizes) {
        let (head, tail) = std::mem::take(&mut s).split_at_mut(n);
        *piece = head;
        s = tail;
    }
    out
}

/// Adds the column sums of the row-major `rows × cols` matrix `m` to `dst` (`cols` values).
/// Each column is summed row by row onto `dst`'s value, whatever the width.
pub fn add_column_sums(dst: &mut [f32], m: &[f32]) {
    match dst.len() {
        WIDTH => column_sums_20(dst, m),
        HIDDEN => column_sums_40(dst, m),
        _ => column_sums(dst, m),
    }
}

/// The sums with the columns in a local array: for a width known at compile time it stays in
/// vector registers across the rows (through `dst`, the compiler stores every partial sum).
#[inline(always)]
fn column_sums_n<const N: usize>(dst: &mut [f32], m: &[f32]) {
    let mut acc: [f32; N] = (&*dst).try_into().expect("N columns");
    for row in m.chunks_exact(N) {
        for j in 0..N {
            acc[j] += row[j];
        }
    }
    dst.copy_from_slice(&acc);
}

fn column_sums(dst: &mut [f32], m: &[f32]) {
    for row in m.chunks_exact(dst.len()) {
        for (d, v) in dst.iter_mut().zip(row) {
            *d += v;
        }
    }
}

#[inline(always)]
fn column_sums_20_body<const FMA: bool>(dst: &mut [f32], m: &[f32]) {
    column_sums_n::<WIDTH>(dst, m)
}

#[inline(always)]
fn column_sums_40_body<const FMA: bool>(dst: &mut [f32], m: &[f32]) {
    column_sums_n::<HIDDEN>(dst, m)
}

multiversion! {
    fn column_sums_20(dst: &mut [f32], m: &[f32]) => column_sums_20_body
}

multiversion! {
    fn column_sums_40(dst: &mut [f32], m: &[f32]) => column_sums_40_body
}

/// One zeroed gradient row of `len` per rayon task, in a reused buffer: tasks write their own
/// row (no allocation on the worker threads, whose freed memory the allocator would not see
/// again soon), and the rows are summed in task order, so the result does not depend on how the
/// work was scheduled.
pub struct Partials {
    buf: Vec<f32>,
    len: usize,
}

impl Partials {
    pub fn new(tasks: usize, len: usize) -> Self {
        let mut buf = buffers::take(tasks * len);
        buf.fill(0.0);
        Self { buf, len }
    }

    /// The rows, one per task, for zipping with the tasks' inputs.
    pub fn rows(&mut self) -> rayon::slice::ChunksExactMut<'_, f32> {
        self.buf.par_chunks_exact_mut(self.len)
    }

    /// Adds the sum of the rows into `dst` (`len` values).
    pub fn add_into(self, dst: &mut [f32]) {
        for row in self.buf.chunks_exact(self.len) {
            for (d, v) in dst.iter_mut().zip(row) {
                *d += v;
            }
        }
        buffers::give(self.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_sizes() {
        assert_eq!(images_per_task(64, 784), 1);
        assert_eq!(images_per_task(64, 196), 4);
        assert_eq!(images_per_task(64, 49), 8);
        assert_eq!(images_per_task(256, 1), 32);
        assert_eq!(images_per_task(1, 1), 1);
        assert_eq!(images_per_task(0, 4), 1);
    }

    #[test]
    fn column_sums_add_each_column_in_row_order_for_every_width() {
        for cols in [WIDTH, HIDDEN, 3] {
            let m: Vec<f32> = (0..7 * cols).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut got: Vec<f32> = (0..cols).map(|j| j as f32).collect();
            let mut want = got.clone();
            for row in m.chunks_exact(cols) {
                for (w, v) in want.iter_mut().zip(row) {
                    *w += v;
                }
            }
            add_column_sums(&mut got, &m);
            assert_eq!(got, want, "{cols} columns");
        }
    }

    #[test]
    fn partials_sum_in_order() {
        let mut p = Partials::new(3, 2);
        p.rows().enumerate().for_each(|(k, row)| row[1] = k as f32);
        let mut dst = [1.0, 1.0];
        p.add_into(&mut dst);
        assert_eq!(dst, [1.0, 4.0]);
    }

    #[test]
    fn carve_splits_in_order() {
        let mut buf: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let [a, b, c] = carve(&mut buf, [2, 3, 4]);
        assert_eq!((a.len(), b.len(), c.len()), (2, 3, 4));
        assert_eq!((a[0], b[0], c[0]), (0.0, 2.0, 5.0));
    }

    #[test]
    fn scratch_is_reused_and_nesting_is_safe() {
        let inner = with_scratch(10, |a| {
            a.fill(1.0);
            with_scratch(5, |b| {
                b.fill(2.0);
                b.len()
            }) + a.len()
        });
        assert_eq!(inner, 15);
    }
}
