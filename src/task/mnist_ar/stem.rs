//! The stem: 1×1 convolution 5→20 with bias on the 5-channel input (no activation after it,
//! lodo.md §6). The input is data, so only the parameter gradient is computed.

use anyhow::Result;
use dfdx::prelude::{Cpu, Tape};
use rayon::prelude::*;

use super::buffers;
use super::layout::{IN_CH, PIXELS, STEM_B, STEM_W, WIDTH};
use super::matmul::{MatRef, matmul};
use super::par::{add_column_sums, add_partials, images_per_task};
use super::tape::{self, Flat, Params};

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
    tape::record(x, y, params, move |g| {
        let xs = saved.expect("inputs are saved whenever a tape records");
        let partials: Vec<Vec<f32>> = xs
            .par_chunks(task_rows * IN_CH)
            .zip(g.output.par_chunks(task_rows * WIDTH))
            .map(|(x, dy)| {
                let rows = x.len() / IN_CH;
                let mut gp = vec![0.0; IN_CH * WIDTH + WIDTH];
                let (gw, gb) = gp.split_at_mut(IN_CH * WIDTH);
                let (xt, d) = (
                    MatRef::new(x, rows, IN_CH).t(),
                    MatRef::new(dy, rows, WIDTH),
                );
                matmul(gw, xt, d, true);
                add_column_sums(gb, dy);
                gp
            })
            .collect();
        add_partials(&mut g.params[STEM_W..STEM_B + WIDTH], &partials);
        buffers::give(xs);
    })
}
