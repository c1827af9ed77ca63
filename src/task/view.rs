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
///
/// Cell `(col, row)` covers an equal share of the region and its value is f at the cell's centre
/// (see [`Heatmap::cell_centre`]), so the grid never samples exactly on the region's edge.
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

impl Heatmap {
    /// The point whose value cell `(col, row)` holds: the centre of the cell.
    pub fn cell_centre(&self, col: usize, row: usize) -> [f32; 2] {
        let dx = (self.x_range.1 - self.x_range.0) / self.width as f32;
        let dy = (self.y_range.1 - self.y_range.0) / self.height as f32;
        [
            self.x_range.0 + (col as f32 + 0.5) * dx,
            self.y_range.0 + (row as f32 + 0.5) * dy,
        ]
    }

    /// The value of the cell containing `(x, y)`, or `None` outside the region.
    pub fn value_at(&self, x: f32, y: f32) -> Option<f32> {
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        if !(0.0..=1.0).contains(&fx) || !(0.0..=1.0).contains(&fy) {
            return None;
        }
        let col = ((fx * self.width as f32) as usize).min(self.width.checked_sub(1)?);
        let row = ((fy * self.height as f32) as usize).min(self.height.checked_sub(1)?);
        self.values.get(row * self.width + col).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cover_the_region_edge_to_edge() {
        // 4 × 2 cells over [0, 4] × [10, 12]: cell (c, r) spans [c, c+1] × [10+r, 11+r].
        let map = Heatmap {
            x_range: (0.0, 4.0),
            y_range: (10.0, 12.0),
            width: 4,
            height: 2,
            values: (0..8).map(|v| v as f32).collect(),
            minimum: [0.0, 0.0],
        };
        assert_eq!(map.cell_centre(0, 0), [0.5, 10.5]);
        assert_eq!(map.cell_centre(3, 1), [3.5, 11.5]);
        assert_eq!(map.value_at(0.0, 10.0), Some(0.0));
        assert_eq!(map.value_at(2.5, 11.2), Some(6.0));
        assert_eq!(map.value_at(4.0, 12.0), Some(7.0));
        assert_eq!(map.value_at(4.01, 11.0), None);
        assert_eq!(map.value_at(1.0, 9.99), None);
    }
}
