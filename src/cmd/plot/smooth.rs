//! Smoothing and thinning of `(step, value)` series before drawing.
//!
//! A 100,000-step run has far more points than a picture has pixel columns; drawing them all is
//! slow and adds nothing. Raw curves are thinned to the lowest and highest value of each pixel
//! column (so the band of the noise keeps its true extent), smoothed curves to the mean of each
//! column (they no longer have a band).

/// Trailing moving average over `window` points (fewer at the start, where fewer exist).
pub fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let window = window.max(1);
    let mut sum = 0.0;
    let mut out = Vec::with_capacity(points.len());
    for (i, &(x, y)) in points.iter().enumerate() {
        sum += y;
        if i >= window {
            sum -= points[i - window].1;
        }
        let count = (i + 1).min(window);
        out.push((x, sum / count as f64));
    }
    out
}

/// The columns of `[lo, hi]` split into `columns` equal parts, and which one `x` falls in.
struct Columns {
    lo: f64,
    width: f64,
    count: usize,
}

impl Columns {
    fn new(x_range: (f64, f64), count: usize) -> Self {
        let count = count.max(1);
        let span = (x_range.1 - x_range.0).max(f64::MIN_POSITIVE);
        Self {
            lo: x_range.0,
            width: span / count as f64,
            count,
        }
    }

    fn of(&self, x: f64) -> usize {
        (((x - self.lo) / self.width).max(0.0) as usize).min(self.count - 1)
    }
}

impl Columns {
    /// The runs of consecutive points that fall in the same column.
    fn runs<'a>(&'a self, points: &'a [(f64, f64)]) -> impl Iterator<Item = &'a [(f64, f64)]> {
        points.chunk_by(move |a, b| self.of(a.0) == self.of(b.0))
    }
}

/// At most two points per column: the lowest and the highest, in step order. Series with no more
/// points than columns are returned as they are.
pub fn min_max_per_column(
    points: &[(f64, f64)],
    x_range: (f64, f64),
    columns: usize,
) -> Vec<(f64, f64)> {
    if points.len() <= columns {
        return points.to_vec();
    }
    let cols = Columns::new(x_range, columns);
    let mut out = Vec::with_capacity(2 * columns);
    for run in cols.runs(points) {
        // The first of equal extremes, so a flat run thins to one point.
        let lo = run
            .iter()
            .fold(run[0], |m, &p| if p.1 < m.1 { p } else { m });
        let hi = run
            .iter()
            .fold(run[0], |m, &p| if p.1 > m.1 { p } else { m });
        let (first, second) = if lo.0 <= hi.0 { (lo, hi) } else { (hi, lo) };
        out.push(first);
        if second != first {
            out.push(second);
        }
    }
    out
}

/// One point per column: the mean step and mean value of the points in it.
pub fn mean_per_column(
    points: &[(f64, f64)],
    x_range: (f64, f64),
    columns: usize,
) -> Vec<(f64, f64)> {
    if points.len() <= columns {
        return points.to_vec();
    }
    let cols = Columns::new(x_range, columns);
    cols.runs(points)
        .map(|run| {
            let n = run.len() as f64;
            let (sx, sy) = run
                .iter()
                .fold((0.0, 0.0), |(sx, sy), p| (sx + p.0, sy + p.1));
            (sx / n, sy / n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, v))
            .collect()
    }

    #[test]
    fn moving_average_grows_its_window_then_slides() {
        let out = moving_average(&series(&[1.0, 3.0, 5.0, 7.0]), 2);
        assert_eq!(out, series(&[1.0, 2.0, 4.0, 6.0]));
        assert_eq!(
            moving_average(&series(&[4.0, 8.0]), 10),
            series(&[4.0, 6.0])
        );
        assert_eq!(moving_average(&series(&[4.0, 8.0]), 0), series(&[4.0, 8.0]));
    }

    #[test]
    fn min_max_keeps_the_extremes_of_each_column_in_step_order() {
        // 8 points in 2 columns of 4: [5, 1, 9, 2] and [3, 3, 0, 4].
        let pts = series(&[5.0, 1.0, 9.0, 2.0, 3.0, 3.0, 0.0, 4.0]);
        let out = min_max_per_column(&pts, (0.0, 8.0), 2);
        assert_eq!(out, vec![(1.0, 1.0), (2.0, 9.0), (6.0, 0.0), (7.0, 4.0)]);
        // A constant column gives one point; short series are left alone.
        let flat = min_max_per_column(&series(&[2.0; 6]), (0.0, 6.0), 3);
        assert_eq!(flat, vec![(0.0, 2.0), (2.0, 2.0), (4.0, 2.0)]);
        assert_eq!(min_max_per_column(&pts, (0.0, 8.0), 100), pts);
    }

    #[test]
    fn mean_per_column_averages_step_and_value() {
        let pts = series(&[1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
        let out = mean_per_column(&pts, (0.0, 6.0), 2);
        assert_eq!(out, vec![(1.0, 3.0), (4.0, 9.0)]);
    }
}
