//! `lodo-tui sample`: digits drawn by a trained mnist-ar model, from a checkpoint, written as a
//! greyscale PNG grid.
//!
//! The checkpoint's lane parameters go into the CNN, which samples every digit pixel by pixel in
//! raster order (as the dashboard's `g` does); no MNIST data is needed. The digits are laid out
//! row by row, each 28×28 cell framed by one pixel of mid grey, and the whole picture is scaled
//! up by an integer factor (nearest neighbour) so the pixels stay sharp.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail, ensure};
use plotters::prelude::{BitMapBackend, DrawingBackend};

use crate::cli::SampleArgs;
use crate::task::Digits;
use crate::task::mnist_ar::{self, layout::SIDE};
use crate::train::Checkpoint;

/// Grey of the frame between the digits (the digits are white on black).
pub const FRAME_GREY: u8 = 96;
/// Largest `--scale`.
pub const MAX_SCALE: usize = 16;
/// Largest `--count` (each digit costs 784 forward passes of its share of a batch).
pub const MAX_COUNT: usize = 1024;

/// A greyscale picture, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grey {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Lays out `digits` in a grid of `cols` columns (rows as needed), each cell framed by one pixel
/// of [`FRAME_GREY`], cells after the last digit filled with the frame grey, everything scaled
/// by `scale`.
pub fn grid(digits: &Digits, cols: usize, scale: usize) -> Result<Grey> {
    ensure!(cols >= 1, "the grid needs at least one column");
    ensure!(
        (1..=MAX_SCALE).contains(&scale),
        "scale {scale} is out of range 1..={MAX_SCALE}"
    );
    let (h, w) = (digits.rows, digits.cols);
    ensure!(
        digits.pixels.len() == digits.count * h * w,
        "{} pixels for {} digits of {h}×{w}",
        digits.pixels.len(),
        digits.count
    );
    let rows = digits.count.div_ceil(cols).max(1);
    // Unscaled: a one-pixel frame before every cell and after the last one.
    let width = cols * (w + 1) + 1;
    let height = rows * (h + 1) + 1;
    let mut small = vec![FRAME_GREY; width * height];
    for (k, digit) in digits.pixels.chunks_exact(h * w).enumerate() {
        let (top, left) = ((k / cols) * (h + 1) + 1, (k % cols) * (w + 1) + 1);
        for (r, line) in digit.chunks_exact(w).enumerate() {
            let start = (top + r) * width + left;
            small[start..start + w].copy_from_slice(line);
        }
    }
    let mut pixels = Vec::with_capacity(width * height * scale * scale);
    for line in small.chunks_exact(width) {
        let wide: Vec<u8> = line
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, scale))
            .collect();
        for _ in 0..scale {
            pixels.extend_from_slice(&wide);
        }
    }
    Ok(Grey {
        width: width * scale,
        height: height * scale,
        pixels,
    })
}

/// Writes `image` as a PNG file (RGB, grey on all three channels).
pub fn write_png(path: &Path, image: &Grey) -> Result<()> {
    check_png_path(path)?;
    let size = (u32::try_from(image.width)?, u32::try_from(image.height)?);
    let rgb: Vec<u8> = image.pixels.iter().flat_map(|&v| [v, v, v]).collect();
    let mut backend = BitMapBackend::new(path, size);
    backend
        .blit_bitmap((0, 0), size, &rgb)
        .map_err(|e| anyhow!("{e}"))?;
    backend
        .present()
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

fn check_png_path(path: &Path) -> Result<()> {
    let png = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    ensure!(png, "{}: the output must be a .png file", path.display());
    crate::output_file::check_writable(path)
}

/// What was sampled, for the report line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    pub digits: Digits,
    /// The lane's active optimizer.
    pub optimizer: String,
    /// The lane's step at the checkpoint.
    pub step: u64,
}

/// Samples `count` digits from lane `lane` of an mnist-ar checkpoint; `progress` as in
/// [`mnist_ar::generate_digits`].
pub fn sample(
    checkpoint: &Checkpoint,
    lane: usize,
    count: usize,
    seed: u64,
    progress: &mut dyn FnMut(&Digits) -> bool,
) -> Result<Sampled> {
    let preset = checkpoint.preset()?;
    if preset.task.name != "mnist-ar" {
        bail!(
            "sample needs a checkpoint of the mnist-ar task; this one is of {} (preset {})",
            preset.task.name,
            preset.name
        );
    }
    ensure!(
        (1..=MAX_COUNT).contains(&count),
        "--count {count} is out of range 1..={MAX_COUNT}"
    );
    let snapshot = checkpoint.lanes.get(lane).with_context(|| {
        format!(
            "the checkpoint has {} lane(s); there is no lane {lane}",
            checkpoint.lanes.len()
        )
    })?;
    let optimizer = snapshot
        .optimizers()?
        .first()
        .map_or_else(|| "?".to_string(), |s| s.origin.name.clone());
    let digits = mnist_ar::generate_digits(&snapshot.params, count, seed, progress)?;
    Ok(Sampled {
        digits,
        optimizer,
        step: snapshot.step,
    })
}

/// `lodo-tui sample`: loads, samples with progress on stderr, writes the PNG.
pub fn run(args: &SampleArgs) -> Result<()> {
    check_png_path(&args.output)?;
    ensure!(
        (1..=MAX_SCALE).contains(&args.scale),
        "--scale {} is out of range 1..={MAX_SCALE}",
        args.scale
    );
    if args.cols == Some(0) {
        bail!("--cols must be at least 1");
    }
    let loaded = Checkpoint::open(&args.resume)?;
    for note in &loaded.notes {
        eprintln!("{note}");
    }
    let checkpoint = loaded.checkpoint;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let mut progress = |d: &Digits| {
        if d.pixels_done.is_multiple_of(SIDE * 7) {
            eprintln!("sampling: {}/{} rows", d.pixels_done / SIDE, SIDE);
        }
        true
    };
    let sampled =
        pool.install(|| sample(&checkpoint, args.lane, args.count, args.seed, &mut progress))?;
    let cols = args
        .cols
        .unwrap_or_else(|| (args.count as f64).sqrt().ceil() as usize)
        .max(1);
    write_png(&args.output, &grid(&sampled.digits, cols, args.scale)?)?;
    println!(
        "wrote {}: {} digits sampled (seed {}) from lane {} ({}, step {})",
        args.output.display(),
        args.count,
        args.seed,
        args.lane,
        sampled.optimizer,
        sampled.step
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(count: usize) -> Digits {
        // Digit k is filled with 10·(k+1), except its top-left pixel (0) and bottom-right (255).
        let mut pixels = Vec::new();
        for k in 0..count {
            let mut d = vec![10 * (k as u8 + 1); SIDE * SIDE];
            d[0] = 0;
            d[SIDE * SIDE - 1] = 255;
            pixels.extend(d);
        }
        Digits {
            rows: SIDE,
            cols: SIDE,
            count,
            pixels,
            pixels_done: SIDE * SIDE,
        }
    }

    #[test]
    fn grid_places_every_digit_in_its_framed_cell() {
        let g = grid(&digits(3), 2, 1).unwrap();
        assert_eq!((g.width, g.height), (2 * 29 + 1, 2 * 29 + 1));
        let at = |x: usize, y: usize| g.pixels[y * g.width + x];
        // Frame lines.
        for i in 0..g.width {
            assert_eq!(at(i, 0), FRAME_GREY);
            assert_eq!(at(i, 29), FRAME_GREY);
            assert_eq!(at(0, i), FRAME_GREY);
            assert_eq!(at(29, i), FRAME_GREY);
        }
        // Digit 0 top left, digit 1 to its right, digit 2 below digit 0, the fourth cell empty.
        assert_eq!((at(1, 1), at(2, 1), at(28, 28)), (0, 10, 255));
        assert_eq!((at(30, 1), at(31, 1), at(57, 28)), (0, 20, 255));
        assert_eq!((at(1, 30), at(5, 40), at(28, 57)), (0, 30, 255));
        assert_eq!((at(30, 30), at(57, 57)), (FRAME_GREY, FRAME_GREY));
    }

    #[test]
    fn grid_scales_by_repeating_pixels() {
        let one = grid(&digits(2), 2, 1).unwrap();
        let three = grid(&digits(2), 2, 3).unwrap();
        assert_eq!((three.width, three.height), (one.width * 3, one.height * 3));
        for y in 0..three.height {
            for x in 0..three.width {
                assert_eq!(
                    three.pixels[y * three.width + x],
                    one.pixels[(y / 3) * one.width + x / 3],
                    "({x}, {y})"
                );
            }
        }
        assert!(grid(&digits(2), 0, 1).is_err());
        assert!(grid(&digits(2), 1, 0).is_err());
        assert!(grid(&digits(2), 1, MAX_SCALE + 1).is_err());
    }

    #[test]
    fn png_only() {
        let dir = tempfile::tempdir().unwrap();
        let g = grid(&digits(1), 1, 1).unwrap();
        let e = write_png(&dir.path().join("x.jpg"), &g).unwrap_err();
        assert!(
            e.to_string().ends_with("the output must be a .png file"),
            "{e}"
        );
        let path = dir.path().join("x.PNG");
        write_png(&path, &g).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }
}
