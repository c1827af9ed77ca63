//! Axis ticks: where they go and how they are labelled, for the dashboard's charts (a log axis is
//! drawn in log10 space there, with a target number of ticks) and the SVG plots (a log axis in
//! value space, 1-2-5 values).

use super::{fixed4, num, sci, trim_zeros};

/// A tick label for a value on an axis whose ticks are `step` apart, with just enough decimals
/// to tell neighbouring ticks apart.
pub fn tick(v: f64, step: f64) -> String {
    if v == 0.0 || v.abs() < step * 1e-6 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) || step < 1e-4 {
        return sci(v, decimals_for(step / 10f64.powf(a.log10().floor())));
    }
    format!("{v:.*}", decimals_for(step))
}

fn decimals_for(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        // 0.25 needs 2 decimals, 0.5 one, 0.05 two.
        let mut d = 0;
        let mut s = step;
        while (s - s.round()).abs() > 1e-9 * s.max(1.0) && d < 9 {
            s *= 10.0;
            d += 1;
        }
        d
    }
}

/// A value on a log axis at a decade or a 2/5 subdivision: `1e-5`, `0.01`, `1`, `200`, `1e6`.
pub fn log_tick(v: f64) -> String {
    let a = v.abs();
    if (1e-2..=1e4).contains(&a) {
        num(v)
    } else {
        sci(v, 0)
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let e = 10f64.powf(raw.log10().floor());
    let f = raw / e;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * e
}

/// Round values inside `[lo, hi]`, about `target` of them, with labels.
pub fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<(f64, String)> {
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let mut out = Vec::new();
    let mut k = (lo / step).ceil();
    while k * step <= hi + step * 1e-9 && out.len() < 64 {
        let v = k * step;
        out.push((v, tick(v, step)));
        k += 1.0;
    }
    out
}

/// Ticks for a log axis, as `(log10 value, label)`: decades when there are enough of them,
/// else 1-2-5 values, else the decades there are, else round linear values.
pub fn log_ticks(lo: f64, hi: f64, target: usize) -> Vec<(f64, String)> {
    let target = target.max(1);
    let decades: Vec<f64> = ((lo.ceil() as i64)..=(hi.floor() as i64))
        .map(|d| d as f64)
        .collect();
    let label = |l: f64| log_tick(10f64.powf(l));
    if decades.len() >= target {
        let every = decades.len().div_ceil(target) as i64;
        return decades
            .into_iter()
            .filter(|d| (*d as i64).rem_euclid(every) == 0)
            .map(|d| (d, label(d)))
            .collect();
    }
    let mut steps = Vec::new();
    for e in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in [1.0f64, 2.0, 5.0] {
            let l = m.log10() + e as f64;
            if (lo..=hi).contains(&l) {
                steps.push((l, log_tick(m * 10f64.powf(e as f64))));
            }
        }
    }
    if (2..=target + 1).contains(&steps.len()) {
        return steps;
    }
    if decades.len() >= 2 {
        return decades.into_iter().map(|d| (d, label(d))).collect();
    }
    let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
    linear_ticks(a, b, target)
        .into_iter()
        .filter(|(v, _)| *v > 0.0)
        .map(|(v, s)| (v.log10(), s))
        .collect()
}

/// Labelled values of a log axis drawn in value space (the SVG plots): 1, 2, 5 × each power of ten in range, only the powers when
/// that makes too many, and every integer multiple when the range is too narrow for two.
pub fn log_values(lo: f64, hi: f64) -> Vec<f64> {
    let within = |mantissas: &[f64]| -> Vec<f64> {
        let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let ticks = within(&[1.0, 2.0, 5.0]);
    if ticks.len() > 12 {
        within(&[1.0])
    } else if ticks.len() < 3 {
        within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    } else {
        ticks
    }
}

/// A tick label: up to 4 significant digits without trailing zeros, `1e-3`-style beyond
/// [1e-3, 1e5).
pub fn plain_tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        trim_zeros(&fixed4(v))
    } else {
        let exp = a.log10().floor() as i32;
        let mantissa = v / 10f64.powi(exp);
        if (mantissa.abs() - 1.0).abs() < 1e-9 {
            format!("{}1e{exp}", if v < 0.0 { "-" } else { "" })
        } else {
            format!("{}e{exp}", plain_tick(mantissa))
        }
    }
}

/// A step count for the x axis: `500`, `2k`, `1.5M`.
pub fn steps_tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", plain_tick(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", plain_tick(v / 1e3))
    } else {
        plain_tick(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_have_enough_decimals() {
        assert_eq!(tick(0.5, 0.25), "0.50");
        assert_eq!(tick(0.75, 0.25), "0.75");
        assert_eq!(tick(2.0, 1.0), "2");
        assert_eq!(tick(0.0, 0.1), "0");
        assert_eq!(tick(0.3, 0.1), "0.3");
        assert_eq!(tick(2e-5, 1e-5), "2e-5");
        assert_eq!(tick(200_000.0, 100_000.0), "2e5");
        assert_eq!(log_tick(1e-5), "1e-5");
        assert_eq!(log_tick(0.1), "0.1");
        assert_eq!(log_tick(200.0), "200");
        assert_eq!(log_tick(1e6), "1e6");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(nice_step(0.9), 1.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(31.0), 50.0);
        assert_eq!(nice_step(70.0), 100.0);
    }

    #[test]
    fn linear_ticks_are_round_and_inside() {
        let t = linear_ticks(0.63, 2.41, 4);
        let values: Vec<f64> = t.iter().map(|(v, _)| *v).collect();
        assert_eq!(values, vec![1.0, 1.5, 2.0]);
        let labels: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, vec!["1.0", "1.5", "2.0"]);
    }

    #[test]
    fn log_ticks_use_decades_then_subdivisions() {
        let t = log_ticks(-5.2, 0.3, 4);
        let labels: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, vec!["1e-4", "0.01", "1"]);
        // Within a decade: 1-2-5 values (0.2 and 0.5 between 0.15 and 0.9).
        let t = log_ticks(0.15f64.log10(), 0.9f64.log10(), 4);
        let labels: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, vec!["0.2", "0.5"]);
        // Two decades with room for more: 1-2-5 values.
        let t = log_ticks(0.08f64.log10(), 2.5f64.log10(), 6);
        let labels: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(labels, vec!["0.1", "0.2", "0.5", "1", "2"]);
        // A narrow range falls back to round linear values.
        let t = log_ticks(0.70f64.log10(), 0.80f64.log10(), 3);
        assert!(t.len() >= 2, "{t:?}");
        assert!(
            t.iter()
                .all(|(l, _)| (0.70f64.log10()..=0.80f64.log10()).contains(l))
        );
    }

    #[test]
    fn log_axes_get_enough_labels() {
        let close = |got: Vec<f64>, want: &[f64]| {
            got.len() == want.len()
                && got
                    .iter()
                    .zip(want)
                    .all(|(g, w)| (g / w - 1.0).abs() < 1e-9)
        };
        // 1-2-5 within 1.4..14.
        assert!(close(log_values(1.4, 14.0), &[2.0, 5.0, 10.0]));
        // Nine decades: only the powers of ten.
        let wide = log_values(1e-3, 1e6);
        assert!(close(
            wide,
            &[1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
        ));
        // Too narrow for 1-2-5: every integer multiple.
        assert!(close(
            log_values(3.0, 9.0),
            &[3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        ));
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(plain_tick(0.0), "0");
        assert_eq!(plain_tick(2.5), "2.5");
        assert_eq!(plain_tick(10.0), "10");
        assert_eq!(plain_tick(0.125), "0.125");
        assert_eq!(plain_tick(1e-4), "1e-4");
        assert_eq!(plain_tick(2e-6), "2e-6");
        assert_eq!(plain_tick(1e6), "1e6");
        assert_eq!(plain_tick(-0.5), "-0.5");
        assert_eq!(steps_tick(20000.0), "20k");
        assert_eq!(steps_tick(2500.0), "2.5k");
        assert_eq!(steps_tick(500.0), "500");
        assert_eq!(steps_tick(1.5e6), "1.5M");
    }
}
