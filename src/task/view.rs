//! Task views: what the dashboard's task panel draws, computed by the task.

use serde::{Deserialize, Serialize};

/// A task-specific picture for the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TaskView {
    /// A grid of log f values over a 2-D region (Rosenbrock), with the minimum marked.
    Heatmap(Heatmap),
    /// Generated images, possibly partially drawn.
    Digits(Digits),
}

/// Values of log f on a `width × height` grid; row 0 is `y_range.0`, column 0 is `x_range.0`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heatmap {
    pub x_range: (f32, f32),
    pub y_range: (f32, f32),
    pub width: usize,
    pub height: usize,
    /// Row-major, `width * height` values.
    pub values: Vec<f32>,
    /// Where the minimum is, to be marked.
    pub minimum: [f32; 2],
}

/// `count` greyscale images of `rows × cols`, of which the first `pixels_done` pixels (raster
/// order) are drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Digits {
    pub rows: usize,
    pub cols: usize,
    pub count: usize,
    /// Image-major, `count * rows * cols` intensities 0..=255.
    pub pixels: Vec<u8>,
    pub pixels_done: usize,
}
