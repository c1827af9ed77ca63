//! Bounded time series for the charts.
//!
//! A [`Series`] is a multi-resolution buffer: level `k` keeps the most recent `capacity` buckets of
//! `2^k` consecutive points each (their min, max and mean). Level 0 is full resolution; a coarser
//! level is created the first time the finest-so-far one has to forget a bucket, so the coarsest
//! level always covers the whole run. Memory is `O(capacity · log(points))` and a chart query
//! touches at most ~`2·columns` buckets, however long the run: a million-step run draws as fast as
//! a short one, and min/max are preserved at every level so spikes never disappear.

use std::collections::VecDeque;

/// Buckets kept per level. Twice the widest chart we expect (in pixel columns), so a query can
/// always find a level with at least one bucket per column.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Summary of consecutive points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub x_first: f64,
    pub x_last: f64,
    pub min: f32,
    pub max: f32,
    pub mean: f32,
    pub count: u32,
}

impl Bucket {
    fn point(x: f64, y: f32) -> Self {
        Self {
            x_first: x,
            x_last: x,
            min: y,
            max: y,
            mean: y,
            count: 1,
        }
    }

    /// `self` followed by `later`.
    fn merge(self, later: Bucket) -> Self {
        let count = self.count + later.count;
        let mean = (f64::from(self.mean) * f64::from(self.count)
            + f64::from(later.mean) * f64::from(later.count))
            / f64::from(count);
        Self {
            x_first: self.x_first,
            x_last: later.x_last,
            min: self.min.min(later.min),
            max: self.max.max(later.max),
            mean: mean as f32,
            count,
        }
    }

    fn x_mid(&self) -> f64 {
        0.5 * (self.x_first + self.x_last)
    }
}

#[derive(Clone, Debug)]
struct Level {
    /// Points per complete bucket (`2^k`).
    width: u32,
    buckets: VecDeque<Bucket>,
    /// Points since the last complete bucket.
    partial: Option<Bucket>,
    /// Whether this level has forgotten its oldest buckets.
    truncated: bool,
}

impl Level {
    fn new(width: u32, capacity: usize) -> Self {
        Self {
            width,
            buckets: VecDeque::with_capacity(capacity + 1),
            partial: None,
            truncated: false,
        }
    }

    fn covers(&self, x: f64) -> bool {
        !self.truncated || self.buckets.front().is_some_and(|b| b.x_first <= x)
    }

    /// Buckets (complete ones and the partial one) whose range meets `[x0, x1]`.
    fn range(&self, x0: f64, x1: f64) -> (usize, usize) {
        let start = self.buckets.partition_point(|b| b.x_last < x0);
        let end = self.buckets.partition_point(|b| b.x_first <= x1);
        (start, end.max(start))
    }

    fn get(&self, i: usize) -> Option<&Bucket> {
        if i < self.buckets.len() {
            self.buckets.get(i)
        } else if i == self.buckets.len() {
            self.partial.as_ref()
        } else {
            None
        }
    }
}

/// One chart column: the points of a series that fall into it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Column {
    /// Middle of the x range the column's points cover.
    pub x: f64,
    pub min: f32,
    pub max: f32,
    pub mean: f32,
    /// The exponential moving average at the column's last point.
    pub smooth: f32,
}

/// A bounded series of `(x, y)` points with non-decreasing x.
#[derive(Clone, Debug)]
pub struct Series {
    capacity: usize,
    levels: Vec<Level>,
    len: u64,
    first: Option<(f64, f32)>,
    last: Option<(f64, f32)>,
}

impl Default for Series {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Series {
    /// `capacity` buckets per level (rounded up to an even number ≥ 2).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(2).next_multiple_of(2);
        Self {
            capacity,
            levels: vec![Level::new(1, capacity)],
            len: 0,
            first: None,
            last: None,
        }
    }

    /// Appends a point; non-finite values are not plotted and are skipped.
    pub fn push(&mut self, x: f64, y: f32) {
        if !y.is_finite() || !x.is_finite() {
            return;
        }
        self.len += 1;
        self.first.get_or_insert((x, y));
        self.last = Some((x, y));
        let point = Bucket::point(x, y);
        let top = self.levels.len() - 1;
        for k in 0..=top {
            let level = &mut self.levels[k];
            let bucket = match level.partial.take() {
                Some(p) => p.merge(point),
                None => point,
            };
            if bucket.count < level.width {
                level.partial = Some(bucket);
                continue;
            }
            level.buckets.push_back(bucket);
            if level.buckets.len() > self.capacity {
                if k == top {
                    let coarser = self.coarsen(k);
                    self.levels.push(coarser);
                }
                let level = &mut self.levels[k];
                level.buckets.pop_front();
                level.truncated = true;
            }
        }
    }

    /// The next level up, built from level `k` while it still holds the whole run.
    fn coarsen(&self, k: usize) -> Level {
        let fine = &self.levels[k];
        let mut level = Level::new(fine.width * 2, self.capacity);
        let mut pending: Option<Bucket> = None;
        for &b in &fine.buckets {
            match pending.take() {
                Some(p) => level.buckets.push_back(p.merge(b)),
                None => pending = Some(b),
            }
        }
        level.partial = match (pending, fine.partial) {
            (Some(p), Some(q)) => Some(p.merge(q)),
            (p, q) => p.or(q),
        };
        level
    }

    /// Number of points pushed (finite ones).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn last(&self) -> Option<(f64, f32)> {
        self.last
    }

    /// `(first x, last x)`.
    pub fn x_span(&self) -> Option<(f64, f64)> {
        Some((self.first?.0, self.last?.0))
    }

    /// Buckets held over all levels, complete and partial (what bounds the memory).
    pub fn bucket_count(&self) -> usize {
        self.levels
            .iter()
            .map(|l| l.buckets.len() + usize::from(l.partial.is_some()))
            .sum()
    }

    /// Downsamples the points with `x0 ≤ x ≤ x1` into at most `ncols` columns of equal x width,
    /// keeping each column's min and max, its mean, and an EMA with per-point decay `smoothing`
    /// (0 = none, 0.99 ≈ a 100-point window) evaluated at its last point.
    ///
    /// The EMA is run over the chosen level's bucket means, treating a bucket of `c` points as `c`
    /// points at its mean; it starts a few time constants before `x0` when the data is there.
    pub fn columns(&self, x0: f64, x1: f64, ncols: usize, smoothing: f64) -> Vec<Column> {
        let mut out = Vec::new();
        if ncols == 0 || self.is_empty() || x1 < x0 {
            return out;
        }
        let level = self.pick_level(x0, x1, ncols);
        let (start, end) = level.range(x0, x1);
        // The partial bucket holds the newest points; include it when it reaches into the window.
        let end = match level.partial {
            Some(p) if end == level.buckets.len() && p.x_first <= x1 && p.x_last >= x0 => end + 1,
            _ => end,
        };
        let smoothing = smoothing.clamp(0.0, 0.999_999);
        let warm = if smoothing > 0.0 {
            let points = 4.0 / (1.0 - smoothing);
            ((points / f64::from(level.width)).ceil() as usize).min(4 * self.capacity)
        } else {
            0
        };
        let mut ema = Ema::default();
        for i in start.saturating_sub(warm)..start {
            if let Some(b) = level.get(i) {
                ema.push(b, smoothing);
            }
        }
        let span = (x1 - x0).max(f64::MIN_POSITIVE);
        let mut current: Option<(usize, Bucket, f64)> = None;
        for i in start..end {
            let Some(b) = level.get(i) else { break };
            ema.push(b, smoothing);
            let value = ema.value();
            let col = (((b.x_mid() - x0) / span) * ncols as f64).floor();
            let col = (col.max(0.0) as usize).min(ncols - 1);
            current = match current {
                Some((c, acc, _)) if c == col => Some((c, acc.merge(*b), value)),
                Some((_, acc, smooth)) => {
                    out.push(column(&acc, smooth));
                    Some((col, *b, value))
                }
                None => Some((col, *b, value)),
            };
        }
        if let Some((_, acc, smooth)) = current {
            out.push(column(&acc, smooth));
        }
        out
    }

    /// The finest level that reaches back to `x0` and has at most ~2 buckets per column in the
    /// window; the coarsest level (which covers everything) otherwise.
    fn pick_level(&self, x0: f64, x1: f64, ncols: usize) -> &Level {
        for level in &self.levels {
            if level.covers(x0) {
                let (start, end) = level.range(x0, x1);
                if end - start <= 2 * ncols {
                    return level;
                }
            }
        }
        self.levels.last().expect("a series has at least one level")
    }
}

/// An exponential moving average with bias correction: the mean of the points so far weighted
/// by `smoothing^age`, so the first points do not anchor it (as they do when the average is
/// seeded with the first point).
#[derive(Clone, Copy, Debug, Default)]
struct Ema {
    sum: f64,
    weight: f64,
}

impl Ema {
    /// Adds a bucket of `count` points at its mean.
    fn push(&mut self, b: &Bucket, smoothing: f64) {
        let keep = smoothing.powf(f64::from(b.count));
        self.sum = keep * self.sum + (1.0 - keep) * f64::from(b.mean);
        self.weight = keep * self.weight + (1.0 - keep);
    }

    fn value(&self) -> f64 {
        self.sum / self.weight
    }
}

fn column(acc: &Bucket, smooth: f64) -> Column {
    Column {
        x: acc.x_mid(),
        min: acc.min,
        max: acc.max,
        mean: acc.mean,
        smooth: smooth as f32,
    }
}

/// A bounded 2-D trajectory (Rosenbrock): keeps every `stride`-th point and doubles the stride
/// (dropping every other kept point) when full, so the whole path stays visible at bounded cost.
#[derive(Clone, Debug)]
pub struct Trail {
    capacity: usize,
    stride: u64,
    seen: u64,
    points: Vec<[f32; 2]>,
    last: Option<[f32; 2]>,
}

impl Default for Trail {
    fn default() -> Self {
        Self::with_capacity(4096)
    }
}

impl Trail {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(4),
            stride: 1,
            seen: 0,
            points: Vec::new(),
            last: None,
        }
    }

    pub fn push(&mut self, p: [f32; 2]) {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return;
        }
        if self.seen.is_multiple_of(self.stride) {
            self.points.push(p);
            if self.points.len() > self.capacity {
                let mut i = 0;
                self.points.retain(|_| {
                    i += 1;
                    (i - 1) % 2 == 0
                });
                self.stride *= 2;
            }
        }
        self.seen += 1;
        self.last = Some(p);
    }

    /// The kept points followed by the newest one.
    pub fn points(&self) -> impl Iterator<Item = [f32; 2]> + '_ {
        let tail = match (self.points.last(), self.last) {
            (Some(a), Some(b)) if *a == b => None,
            (_, b) => b,
        };
        self.points.iter().copied().chain(tail)
    }

    pub fn first(&self) -> Option<[f32; 2]> {
        self.points.first().copied()
    }

    pub fn last(&self) -> Option<[f32; 2]> {
        self.last
    }

    pub fn kept(&self) -> usize {
        self.points.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic, spiky test signal.
    fn signal(i: u64) -> f32 {
        let base = 1.0 / (1.0 + i as f32 * 1e-3);
        let wobble = ((i * 2_654_435_761) % 1000) as f32 / 1000.0 * 0.1;
        let spike = if i.is_multiple_of(9_973) { 5.0 } else { 0.0 };
        base + wobble + spike
    }

    fn filled(n: u64, capacity: usize) -> Series {
        let mut s = Series::with_capacity(capacity);
        for i in 1..=n {
            s.push(i as f64, signal(i));
        }
        s
    }

    fn true_min_max(a: u64, b: u64) -> (f32, f32) {
        (a..=b)
            .map(signal)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    }

    #[test]
    fn full_window_preserves_min_and_max() {
        let s = filled(200_000, 256);
        let cols = s.columns(1.0, 200_000.0, 300, 0.0);
        assert!(!cols.is_empty() && cols.len() <= 300);
        let lo = cols.iter().map(|c| c.min).fold(f32::INFINITY, f32::min);
        let hi = cols.iter().map(|c| c.max).fold(f32::NEG_INFINITY, f32::max);
        assert_eq!((lo, hi), true_min_max(1, 200_000));
        // The spikes (5.0 above the signal) survive decimation in the columns that hold them.
        assert!(hi > 5.0);
    }

    #[test]
    fn columns_are_ordered_and_within_window() {
        let s = filled(50_000, 256);
        // An old window is only held at a coarse level: fewer columns, still ordered and in range.
        let cols = s.columns(10_000.0, 20_000.0, 100, 0.0);
        assert!(!cols.is_empty() && cols.len() <= 100);
        assert!(cols.windows(2).all(|w| w[0].x < w[1].x));
        // Edge buckets may reach one bucket width (here 256 points) beyond the window, no more.
        assert!(cols[0].x >= 9_744.0 && cols.last().unwrap().x <= 20_256.0);
    }

    #[test]
    fn a_recent_window_gets_a_bucket_per_column() {
        // With capacity ≥ 2·columns, a window ending at the newest point finds a level with
        // between one and two buckets per column.
        let s = filled(50_000, 256);
        let cols = s.columns(40_001.0, 50_000.0, 100, 0.0);
        assert!(cols.len() >= 95, "{}", cols.len());
        let lo = cols.iter().map(|c| c.min).fold(f32::INFINITY, f32::min);
        let hi = cols.iter().map(|c| c.max).fold(f32::NEG_INFINITY, f32::max);
        let (tlo, thi) = true_min_max(40_001, 50_000);
        assert!(lo <= tlo && hi >= thi);
    }

    #[test]
    fn recent_window_uses_full_resolution() {
        let s = filled(100_000, 256);
        // 100 points into 200 columns: every point is its own column, exact values.
        let cols = s.columns(99_901.0, 100_000.0, 200, 0.0);
        assert_eq!(cols.len(), 100);
        for (c, i) in cols.iter().zip(99_901..) {
            assert_eq!(c.x, i as f64);
            assert_eq!((c.min, c.max), (signal(i), signal(i)));
        }
    }

    #[test]
    fn memory_is_bounded_by_levels_times_capacity() {
        let capacity = 128;
        let s = filled(1_000_000, capacity);
        // log2(1e6 / 128) ≈ 13 levels, each at most capacity + a partial bucket.
        let levels = (1_000_000f64 / capacity as f64).log2().ceil() as usize + 1;
        assert!(
            s.bucket_count() <= levels * (capacity + 1),
            "{}",
            s.bucket_count()
        );
        assert_eq!(s.len(), 1_000_000);
        let short = filled(1_000, capacity);
        assert!(short.bucket_count() < s.bucket_count());
    }

    #[test]
    fn newest_points_are_always_included() {
        // 1000 points with capacity 64: levels are coarse, but the partial buckets carry the tail.
        let s = filled(1_000, 64);
        let cols = s.columns(1.0, 1_000.0, 40, 0.0);
        let last = cols.last().unwrap();
        assert!(last.x > 975.0, "{}", last.x);
        assert_eq!(s.last(), Some((1_000.0, signal(1_000))));
    }

    #[test]
    fn ema_of_a_constant_is_that_constant_and_smooths_noise() {
        let mut s = Series::with_capacity(64);
        for i in 0..10_000 {
            s.push(i as f64, if i % 2 == 0 { 1.0 } else { 3.0 });
        }
        let cols = s.columns(5_000.0, 9_999.0, 50, 0.99);
        for c in &cols {
            assert!((c.smooth - 2.0).abs() < 0.1, "{c:?}");
            assert_eq!((c.min, c.max), (1.0, 3.0));
        }
        let raw = s.columns(9_990.0, 9_999.0, 50, 0.0);
        assert!(raw.iter().all(|c| c.smooth == c.mean));
    }

    #[test]
    fn ema_is_not_anchored_to_the_first_points() {
        // 10 points at 10, then 90 at 1, decay 0.99. Seeded with the first point, the average
        // would still be ≈ 0.99^90·10 + (1 − 0.99^90)·1 ≈ 4.6; bias-corrected, the early points
        // only carry their own weights: (Σ_{a=90}^{99} 0.99^a · 10 + Σ_{a<90} 0.99^a) / Σ 0.99^a
        // ≈ 1.55 (summed here directly).
        let mut s = Series::with_capacity(256);
        for i in 0..100 {
            s.push(i as f64, if i < 10 { 10.0 } else { 1.0 });
        }
        let cols = s.columns(0.0, 99.0, 200, 0.99);
        let weight = |a: i32| 0.99f64.powi(a);
        let expected = ((90..100).map(|a| weight(a) * 10.0).sum::<f64>()
            + (0..90).map(weight).sum::<f64>())
            / (0..100).map(weight).sum::<f64>();
        let got = f64::from(cols.last().unwrap().smooth);
        assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
        assert!((expected - 1.55).abs() < 0.01);
        // The first column is the first point itself.
        assert_eq!(cols[0].smooth, 10.0);
    }

    #[test]
    fn non_finite_points_are_skipped() {
        let mut s = Series::default();
        s.push(1.0, 1.0);
        s.push(2.0, f32::NAN);
        s.push(3.0, f32::INFINITY);
        s.push(4.0, 2.0);
        assert_eq!(s.len(), 2);
        let cols = s.columns(0.0, 10.0, 10, 0.0);
        assert_eq!(cols.len(), 2);
    }

    #[test]
    fn empty_and_degenerate_queries() {
        let s = Series::default();
        assert!(s.columns(0.0, 1.0, 10, 0.5).is_empty());
        let s = filled(10, 16);
        assert!(s.columns(0.0, 10.0, 0, 0.0).is_empty());
        assert!(s.columns(5.0, 4.0, 10, 0.0).is_empty());
        assert_eq!(s.columns(3.0, 3.0, 10, 0.0).len(), 1);
    }

    #[test]
    fn trail_stays_bounded_and_keeps_both_ends() {
        let mut t = Trail::with_capacity(100);
        for i in 0..10_000 {
            t.push([i as f32, 0.0]);
        }
        assert!(t.kept() <= 100);
        assert_eq!(t.first(), Some([0.0, 0.0]));
        assert_eq!(t.points().last(), Some([9_999.0, 0.0]));
        let xs: Vec<f32> = t.points().map(|p| p[0]).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]));
    }
}
