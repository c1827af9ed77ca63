//! The dashboard's speed limit: at most so many iterations a second, so that a task whose steps
//! take microseconds (Rosenbrock, the quadratic) can be watched instead of finishing in a blink.

use std::time::{Duration, Instant};

use crate::schema::MAX_PACE;

/// Limits below this many steps a second are raised to it (one step every ten seconds).
const MIN_PACE: f64 = 0.1;
/// Weight of the newest interval in the measured rate.
const RATE_WEIGHT: f64 = 0.1;
/// How far behind its schedule a paced run may fall and still catch up (by skipping waits).
const CATCH_UP: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
pub struct Pacer {
    limit: Option<f64>,
    next_due: Option<Instant>,
    last_start: Option<Instant>,
    /// Exponential average of the time between iteration starts, in seconds.
    interval: Option<f64>,
}

impl Pacer {
    pub fn new(limit: Option<f64>) -> Self {
        Self {
            limit: limit.map(clamp).filter(|&p| p <= MAX_PACE),
            ..Self::default()
        }
    }

    /// Steps per second allowed; `None` means full speed.
    pub fn limit(&self) -> Option<f64> {
        self.limit
    }

    /// How long to wait before the next iteration may start; `None` means now.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.limit?;
        let due = self.next_due?;
        (due > now).then(|| due - now)
    }

    /// An iteration starts now.
    pub fn started(&mut self, now: Instant) {
        if let Some(last) = self.last_start {
            let dt = (now - last).as_secs_f64();
            self.interval = Some(match self.interval {
                Some(avg) => avg + RATE_WEIGHT * (dt - avg),
                None => dt,
            });
        }
        self.last_start = Some(now);
        self.next_due = self.limit.map(|limit| {
            let interval = Duration::from_secs_f64(1.0 / limit);
            // Keep the schedule through late wake-ups (the average rate then holds at the
            // limit), but start afresh after a pause or a slow step instead of bursting.
            let base = match self.next_due {
                Some(due) if due + interval.max(CATCH_UP) > now => due,
                _ => now,
            };
            base + interval
        });
    }

    /// The measured rate, in iterations per second.
    pub fn rate(&self) -> Option<f64> {
        self.interval.filter(|&dt| dt > 0.0).map(|dt| 1.0 / dt)
    }

    /// Multiplies the limit by `factor`; slowing down a run at full speed starts from its measured
    /// rate (at most [`MAX_PACE`], so that a run faster than that still slows when asked), and a
    /// limit beyond [`MAX_PACE`] is no limit. Returns the new limit.
    pub fn scale(&mut self, factor: f64) -> Option<f64> {
        let measured = || self.rate().map(|r| r.min(MAX_PACE));
        let base = self.limit.or_else(|| measured().filter(|_| factor < 1.0));
        self.limit = base.map(|b| clamp(b * factor)).filter(|&p| p <= MAX_PACE);
        self.limit
    }
}

fn clamp(pace: f64) -> f64 {
    pace.max(MIN_PACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn no_limit_never_waits() {
        let mut p = Pacer::new(None);
        let t0 = Instant::now();
        p.started(t0);
        assert_eq!(p.wait(t0), None);
    }

    #[test]
    fn a_limit_spaces_iteration_starts() {
        // 10 steps/s: the next start is due 100 ms after the previous one.
        let mut p = Pacer::new(Some(10.0));
        let t0 = Instant::now();
        p.started(t0);
        assert_eq!(p.wait(at(t0, 30)), Some(Duration::from_millis(70)));
        assert_eq!(p.wait(at(t0, 100)), None);
        // A start 5 ms late keeps the schedule: the next is due at 200 ms, not 205.
        p.started(at(t0, 105));
        assert_eq!(p.wait(at(t0, 150)), Some(Duration::from_millis(50)));
    }

    #[test]
    fn late_wake_ups_do_not_lower_the_average_rate() {
        // 2,000 steps/s (every 500 µs) while wake-ups come 50 µs late, and every tenth one
        // 1.2 ms late (more than a whole interval): the schedule holds, so 1,000 steps take
        // 0.5 s, not the 0.57 s that restarting the schedule after each late one would give.
        let mut p = Pacer::new(Some(2000.0));
        let t0 = Instant::now();
        let mut now = t0;
        for i in 0..1000 {
            p.started(now);
            let late = if i % 10 == 9 { 1200 } else { 50 };
            now += p.wait(now).unwrap_or_default() + Duration::from_micros(late);
        }
        let elapsed = (now - t0).as_secs_f64();
        assert!((0.49..0.51).contains(&elapsed), "{elapsed} s");
    }

    #[test]
    fn slow_iterations_are_not_delayed_further() {
        // Each iteration takes 300 ms at a 10/s limit: no extra wait after it.
        let mut p = Pacer::new(Some(10.0));
        let t0 = Instant::now();
        p.started(t0);
        assert_eq!(p.wait(at(t0, 300)), None);
        p.started(at(t0, 300));
        assert_eq!(p.wait(at(t0, 600)), None);
    }

    #[test]
    fn no_burst_after_a_pause() {
        let mut p = Pacer::new(Some(10.0));
        let t0 = Instant::now();
        p.started(t0);
        // Paused for 5 s: the next step goes at once, the one after keeps the pace.
        p.started(at(t0, 5000));
        assert_eq!(p.wait(at(t0, 5000)), Some(Duration::from_millis(100)));
    }

    #[test]
    fn slowing_a_run_faster_than_the_largest_limit_still_slows_it() {
        // 4 million steps/s (every 250 ns): half of that is still beyond MAX_PACE, which would
        // leave the run at full speed; slowing starts from MAX_PACE instead.
        let mut p = Pacer::new(None);
        let t0 = Instant::now();
        for i in 0..50 {
            p.started(t0 + Duration::from_nanos(250 * i));
        }
        assert!(p.rate().unwrap() > 2.0 * MAX_PACE);
        assert_eq!(p.scale(0.5), Some(MAX_PACE * 0.5));
    }

    #[test]
    fn scaling_from_full_speed_starts_at_the_measured_rate() {
        let mut p = Pacer::new(None);
        let t0 = Instant::now();
        for i in 0..50 {
            p.started(at(t0, 2 * i)); // 500 steps/s
        }
        let rate = p.rate().unwrap();
        assert!((rate - 500.0).abs() < 1.0, "{rate}");
        // Speeding up a run at full speed changes nothing.
        assert_eq!(p.scale(2.0), None);
        let slowed = p.scale(0.5).unwrap();
        assert!((slowed - 250.0).abs() < 1.0, "{slowed}");
        assert!((p.scale(2.0).unwrap() - 500.0).abs() < 2.0);
    }

    #[test]
    fn limits_are_clamped_and_huge_ones_lifted() {
        let mut p = Pacer::new(Some(0.01));
        assert_eq!(p.limit(), Some(MIN_PACE));
        let mut q = Pacer::new(Some(MAX_PACE * 0.75));
        assert_eq!(q.scale(2.0), None);
        assert_eq!(p.scale(0.5), Some(MIN_PACE));
        assert_eq!(Pacer::new(Some(MAX_PACE * 10.0)).limit(), None);
    }
}
