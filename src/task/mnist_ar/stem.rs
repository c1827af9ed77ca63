//! The stem: 1×1 convolution 5→20 with bias on the 5-channel input (no activation after it,
//! docs/algorithm.md §8.3). The input is data, so only the parameter gradient is computed.

use anyhow::Result;
use dfdx::prelude::{Cpu, Tape};
use rayon::prelude::*;

use super::buffers;
use super::layout::{IN_CH, PIXELS, STEM_B, STEM_W, WIDTH};
use super::matmul::{MatRef, matmul};
use super::par::{Partials, add_column_sums, images_per_task};
use super::tape::{self, Flat, InputGrad, Params};

/// Stem parameters: weights then biases.
const STEM_LEN: usize = IN_CH * WIDTH + WIDTH;

pub fn stem<T: Tape<f32, Cpu>>(x: Flat<T>, batch: usize, params: &Params) -> Result<Flat<T>> {
    let xs = tape::values(&x);
    let task_rows = images_per_task(batch, PIXELS) * PIXELS;
    let p = &params.values;
    let (weight, bias) = (&p[STEM_W..STEM_B], &p[STEM_B..STEM_B + WIDTH]);
    let mut y = buffers::take(batch * PIXELS * WIDTH);
    y.par_chunks_mut(task_rows * WIDTH)
        .zip(xs.par_chunks(task_rows * IN_CH))
        .for_each(|(y, x)| {
            let rows = x.len() / IN_CH;
            for row in y.chunks_exact_mut(WIDTH) {
                row.copy_from_slice(bias);
            }
            let (x, w) = (
                MatRef::new(x, rows, IN_CH),
                MatRef::new(weight, IN_CH, WIDTH),
            );
            matmul(y, x, w, true);
        });
    let saved = if T::OWNS_TAPE {
        Some(xs)
    } else {
        buffers::give(xs);
        None
    };
    tape::record(x, y, params, InputGrad::None, move |g| {
        let xs = saved.expect("inputs are saved whenever a tape records");
        let mut partials = Partials::new(xs.len().div_ceil(task_rows * IN_CH), STEM_LEN);
        let tasks = (
            xs.par_chunks(task_rows * IN_CH),
            g.output.par_chunks(task_rows * WIDTH),
            partials.rows(),
        );
        tasks.into_par_iter().for_each(|(x, dy, gp)| {
            let rows = x.len() / IN_CH;
            let (gw, gb) = gp.split_at_mut(IN_CH * WIDTH);
            let (xt, d) = (
                MatRef::new(x, rows, IN_CH).t(),
                MatRef::new(dy, rows, WIDTH),
            );
            matmul(gw, xt, d, true);
            add_column_sums(gb, dy);
        });
        partials.add_into(&mut g.params[STEM_W..STEM_W + STEM_LEN]);
        buffers::give(xs);
    })
}
