//! Rosenbrock's banana valley in the paper's scaling (docs/algorithm.md §8.2):
//! `f(x, y) = 0.01 (1 − x)² + (y − x²)²`, start `(−0.5, 2)`, minimum `f(1, 1) = 0`.
//!
//! The 0.01 makes the floor of the valley `y = x²` almost flat, so reaching the minimum means
//! following a long, gently sloped curve, which is where curvature information pays off.
//! Deterministic: there is no minibatch.

use anyhow::{Result, bail, ensure};

use super::{EvalContext, Heatmap, Layer, Metrics, Task, TaskKind, TaskState, TaskView};

pub const DEFAULT_START: (f32, f32) = (-0.5, 2.0);
pub const MINIMUM: [f32; 2] = [1.0, 1.0];
/// Weight of `(1 − x)²`.
const A: f64 = 0.01;
/// The heat map's region: holds the start, the minimum and the overshoots of typical runs.
pub const X_RANGE: (f32, f32) = (-2.0, 2.0);
pub const Y_RANGE: (f32, f32) = (-1.0, 3.0);
/// 160 × 96 cells: finer than a full-screen braille canvas (2×4 dots per character).
pub const HEATMAP_SIZE: (usize, usize) = (160, 96);
/// log10 f is clamped here (f reaches 0 only at the minimum).
const LOG_FLOOR: f64 = -12.0;

pub fn value(x: f64, y: f64) -> f64 {
    A * (1.0 - x).powi(2) + (y - x * x).powi(2)
}

pub fn gradient(x: f64, y: f64) -> [f64; 2] {
    let valley = y - x * x;
    [-2.0 * A * (1.0 - x) - 4.0 * x * valley, 2.0 * valley]
}

pub struct Rosenbrock {
    start: [f32; 2],
}

impl Rosenbrock {
    pub fn new(start: (f32, f32)) -> Result<Self> {
        ensure!(
            start.0.is_finite() && start.1.is_finite(),
            "rosenbrock: start ({}, {}) must be finite",
            start.0,
            start.1
        );
        Ok(Self {
            start: [start.0, start.1],
        })
    }

    /// `log10 f` over [`X_RANGE`] × [`Y_RANGE`] at cell centres.
    pub fn heatmap() -> Heatmap {
        let (width, height) = HEATMAP_SIZE;
        let mut map = Heatmap {
            x_range: X_RANGE,
            y_range: Y_RANGE,
            width,
            height,
            values: Vec::with_capacity(width * height),
            minimum: MINIMUM,
        };
        for row in 0..height {
            for col in 0..width {
                let [x, y] = map.cell_centre(col, row);
                let f = value(f64::from(x), f64::from(y));
                map.values.push(f.log10().max(LOG_FLOOR) as f32);
            }
        }
        map
    }
}

fn point(params: &[f32]) -> Result<[f64; 2]> {
    match params {
        [x, y] => Ok([f64::from(*x), f64::from(*y)]),
        _ => bail!("rosenbrock: params has length {}, expected 2", params.len()),
    }
}

impl Task for Rosenbrock {
    fn kind(&self) -> TaskKind {
        TaskKind::Rosenbrock
    }

    fn title(&self) -> String {
        format!(
            "Rosenbrock valley 0.01(1−x)² + (y−x²)² from ({}, {})",
            self.start[0], self.start[1]
        )
    }

    fn dim(&self) -> usize {
        2
    }

    /// The configured start; nothing random.
    fn init_params(&self) -> Vec<f32> {
        self.start.to_vec()
    }

    fn layers(&self) -> Vec<Layer> {
        vec![Layer {
            name: "xy".into(),
            range: 0..2,
        }]
    }

    fn next_batch(&mut self) {}

    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> Result<f32> {
        let [x, y] = point(params)?;
        ensure!(
            grad.len() == 2,
            "rosenbrock: grad has length {}, expected 2",
            grad.len()
        );
        let [gx, gy] = gradient(x, y);
        grad.copy_from_slice(&[gx as f32, gy as f32]);
        Ok(value(x, y) as f32)
    }

    /// `distance_to_minimum`: Euclidean distance from `(1, 1)`; `loss`: `f` itself.
    fn evaluate(&mut self, params: &[f32], _ctx: &EvalContext) -> Result<Metrics> {
        let [x, y] = point(params)?;
        let mut metrics = Metrics::new();
        metrics.insert("distance_to_minimum".into(), (x - 1.0).hypot(y - 1.0));
        metrics.insert("loss".into(), value(x, y));
        Ok(metrics)
    }

    fn static_view(&self) -> Option<TaskView> {
        Some(TaskView::Heatmap(Self::heatmap()))
    }

    fn point_view(&self, params: &[f32]) -> Option<[f32; 2]> {
        match params {
            [x, y] => Some([*x, *y]),
            _ => None,
        }
    }

    fn state(&self) -> TaskState {
        TaskState::default()
    }

    fn load_state(&mut self, state: &TaskState) -> Result<()> {
        ensure!(
            state == &TaskState::default(),
            "rosenbrock: has no data stream, but the saved task state is not empty; the \
             checkpoint is from another task"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn gradient_matches_central_differences_at_random_points() {
        // f64 throughout; step 1e-6 gives truncation ~1e-12·|f'''| and rounding ~1e-10·|f|.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..500 {
            let (x, y) = (rng.gen_range(-3.0..3.0), rng.gen_range(-3.0..5.0));
            let h = 1e-6;
            let fd = [
                (value(x + h, y) - value(x - h, y)) / (2.0 * h),
                (value(x, y + h) - value(x, y - h)) / (2.0 * h),
            ];
            let g = gradient(x, y);
            for k in 0..2 {
                let tol = 1e-6 * (1.0 + g[k].abs());
                assert!(
                    (fd[k] - g[k]).abs() < tol,
                    "({x}, {y})[{k}]: {} vs {}",
                    fd[k],
                    g[k]
                );
            }
        }
    }

    #[test]
    fn known_values() {
        // f(−0.5, 2) = 0.01·2.25 + 1.75² = 3.085; f(1, 1) = 0 with zero gradient.
        let mut task = Rosenbrock::new(DEFAULT_START).unwrap();
        let mut g = [0.0; 2];
        let f = task.loss_and_grad(&task.init_params(), &mut g).unwrap();
        assert!((f - 3.085).abs() < 1e-6);
        // ∂f/∂x = −0.02·1.5 − 4·(−0.5)·1.75 = 3.47; ∂f/∂y = 2·1.75 = 3.5.
        assert!(
            (g[0] - 3.47).abs() < 1e-6 && (g[1] - 3.5).abs() < 1e-6,
            "{g:?}"
        );
        assert_eq!(task.loss_and_grad(&MINIMUM, &mut g).unwrap(), 0.0);
        assert_eq!(g, [0.0, 0.0]);
        let m = task.evaluate(&[1.0, 4.0], &EvalContext::default()).unwrap();
        assert_eq!(m["distance_to_minimum"], 3.0);
        assert_eq!(m["loss"], 9.0);
        let err = task.loss_and_grad(&[1.0], &mut g).unwrap_err().to_string();
        assert_eq!(err, "rosenbrock: params has length 1, expected 2");
    }

    #[test]
    fn heatmap_covers_start_and_minimum_and_holds_log_f() {
        let Some(TaskView::Heatmap(map)) = Rosenbrock::new(DEFAULT_START).unwrap().static_view()
        else {
            panic!("no heat map");
        };
        assert_eq!(map.values.len(), map.width * map.height);
        assert!(map.values.iter().all(|v| v.is_finite()));
        for [x, y] in [[-0.5, 2.0], MINIMUM] {
            assert!(map.value_at(x, y).is_some(), "({x}, {y}) outside the map");
        }
        assert_eq!(map.minimum, MINIMUM);
        // Every cell holds log10 f at its centre (row 0 = bottom y, column 0 = left x).
        for (col, row) in [(0, 0), (159, 0), (0, 95), (80, 50), (119, 47)] {
            let [x, y] = map.cell_centre(col, row);
            let want = value(f64::from(x), f64::from(y)).log10() as f32;
            let got = map.values[row * map.width + col];
            assert!((got - want).abs() < 1e-5, "({col}, {row}): {got} vs {want}");
        }
        assert_eq!(
            map.cell_centre(0, 0),
            [-2.0 + 0.0125, -1.0 + 4.0 / 96.0 / 2.0]
        );
        // The lowest cell is next to the minimum (the valley floor is flat, so a neighbouring
        // cell whose centre lies closer to y = x² can be lower than the one holding (1, 1)).
        let lowest = (0..map.values.len())
            .min_by(|&a, &b| map.values[a].total_cmp(&map.values[b]))
            .unwrap();
        let [x, y] = map.cell_centre(lowest % map.width, lowest / map.width);
        assert!((x - 1.0).hypot(y - 1.0) < 0.1, "lowest cell at ({x}, {y})");
        assert!(map.value_at(1.0, 1.0).unwrap() < -4.0);
        assert_eq!(map.value_at(2.5, 0.0), None);
    }

    #[test]
    fn point_view_state_and_settings() {
        let mut task = Rosenbrock::new((0.25, -0.5)).unwrap();
        assert_eq!(task.init_params(), vec![0.25, -0.5]);
        assert_eq!(task.point_view(&[0.5, 0.75]), Some([0.5, 0.75]));
        assert_eq!(
            task.layers(),
            vec![Layer {
                name: "xy".into(),
                range: 0..2
            }]
        );
        let state = task.state();
        task.next_batch();
        task.load_state(&state).unwrap();
        let foreign = TaskState {
            words: vec![1],
            buffers: vec![],
        };
        assert!(task.load_state(&foreign).is_err());
        assert!(Rosenbrock::new((f32::NAN, 0.0)).is_err());
        assert!(
            task.title().contains("from (0.25, -0.5)"),
            "{}",
            task.title()
        );
    }
}
