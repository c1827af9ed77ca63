//! Every number the program shows, formatted once: short, stable-width strings a researcher
//! reads at a glance (`12,345` steps, `1.6e-5`, `0.734`, `3.2k it/s`, `01:02:03`, `3m05s`), the
//! four-significant-digit cells of tables, hyperparameters as people write them, and axis tick
//! labels and positions ([`ticks`]).

pub mod ticks;

pub use ticks::{linear_ticks, log_tick, log_ticks, nice_step, tick};

/// An integer with thousands separators: `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A real number in at most ~6 characters: plain with 3 significant digits between 0.01 and
/// 10,000 (`0.734`, `12.3`, `1234`), otherwise scientific with 2 (`1.6e-5`, `8e-6`, `3.2e6`).
pub fn num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (0.01..9999.5).contains(&a) {
        let magnitude = a.log10().floor() as i32;
        let decimals = (2 - magnitude).max(0) as usize;
        let s = format!("{v:.decimals$}");
        // A value that rounds up to the next decade (9.996 → "10.00") gets one decimal too many;
        // trimming zeros handles it.
        return trim_zeros(&s);
    }
    sci(v, 1)
}

/// Scientific notation with `decimals` mantissa decimals and no redundant zeros: `1.6e-5`, `8e-6`.
pub fn sci(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa)),
        None => s,
    }
}

/// A number in a table: 4 significant digits, scientific outside [1e-3, 1e5), `-` for NaN.
pub fn cell(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&x.abs()) {
        fixed4(x)
    } else {
        format!("{x:.3e}")
    }
}

/// `x` (with 1e-3 ≤ |x| < 1e5) with 4 significant digits, trailing zeros kept: `0.1250`.
fn fixed4(x: f64) -> String {
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.digits$}")
}

/// A hyperparameter as people write it, every digit the value holds and no more: `0.085`,
/// `8e-6`, `1.6e-5` (for event texts, where a rounded value would misreport the setting).
pub fn exact(v: f32) -> String {
    if v != 0.0 && !(1e-3..1e4).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// A count in at most 5 characters for axis labels: `950`, `12k`, `1.5k`, `3.2M`.
pub fn compact(n: f64) -> String {
    let a = n.abs();
    let (value, suffix) = if a >= 1e9 {
        (n / 1e9, "G")
    } else if a >= 1e6 {
        (n / 1e6, "M")
    } else if a >= 1e3 {
        (n / 1e3, "k")
    } else {
        return format!("{}", n.round() as i64);
    };
    if value.abs() >= 100.0 {
        format!("{}{suffix}", value.round() as i64)
    } else {
        format!("{}{suffix}", trim_zeros(&format!("{value:.1}")))
    }
}

/// Elapsed or remaining time as `hh:mm:ss` (hours grow past 99 rather than wrapping).
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "--:--:--".into();
    }
    let total = secs.round() as u64;
    format!(
        "{:02}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

/// A span of time as people say it: `4ms`, `2.5s`, `12s`, `3m05s`, `1h02m` (uptimes, ETAs, run
/// lengths). Short spans keep their precision: a 100-step quadratic run takes milliseconds.
pub fn span(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 0.9995 {
        return format!("{}ms", (seconds * 1000.0).round() as u64);
    }
    if seconds < 9.95 {
        return format!("{seconds:.1}s");
    }
    let s = seconds.round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, _) => format!("{h}h{min:02}m"),
    }
}

/// A size in bytes, decimal units, three significant digits: `820 kB`, `147 MB`, `1.25 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

/// Training speed: `3.2 it/s`, `512 it/s`, `12.3k it/s`.
pub fn rate(per_s: f64) -> String {
    if !per_s.is_finite() || per_s <= 0.0 {
        return "– it/s".into();
    }
    if per_s >= 1e4 {
        format!("{} it/s", compact(per_s))
    } else if per_s >= 100.0 {
        format!("{} it/s", per_s.round() as u64)
    } else {
        format!("{per_s:.1} it/s")
    }
}

/// The hyperparameters a spec sets, formatted for reading (`lr 0.085`, `meta-lr 8e-6`, `β 0.9`),
/// in the order of the one field list. `ascii` spells Greek letters out.
pub fn spec_fields(spec: &crate::optim::OptimizerSpec, ascii: bool) -> Vec<(&'static str, String)> {
    use crate::optim::fields::{self, FieldValue};
    fields::set(spec)
        .map(|(field, value)| {
            let text = match value {
                FieldValue::Real(v) => num(f64::from(v)),
                FieldValue::Count(n) => n.to_string(),
                FieldValue::Seed(s) => s.to_string(),
            };
            (field.label(ascii), text)
        })
        .collect()
}

/// `adam  lr 1e-3 · β1 0.9`: a spec on one line.
pub fn spec_line(spec: &crate::optim::OptimizerSpec, ascii: bool) -> String {
    let sep = if ascii { " | " } else { " · " };
    let fields: Vec<String> = spec_fields(spec, ascii)
        .into_iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if fields.is_empty() {
        spec.name.clone()
    } else {
        format!("{}  {}", spec.name, fields.join(sep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_decimal_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_000), "1.00 kB");
        assert_eq!(bytes(1_761_280), "1.76 MB");
        assert_eq!(bytes(147_000_000), "147 MB");
        assert_eq!(bytes(12_345_678_901), "12.3 GB");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345), "12,345");
        assert_eq!(thousands(94_696), "94,696");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn numbers_are_short_and_readable() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.7341), "0.734");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(1.6e-5), "1.6e-5");
        assert_eq!(num(8e-6), "8e-6");
        assert_eq!(num(0.085), "0.085");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-2.5), "-2.5");
        assert_eq!(num(3.2e6), "3.2e6");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(f64::INFINITY), "inf");
        assert_eq!(num(9.9996), "10");
    }

    #[test]
    fn compact_counts() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(1500.0), "1.5k");
        assert_eq!(compact(2000.0), "2k");
        assert_eq!(compact(12_000.0), "12k");
        assert_eq!(compact(250_000.0), "250k");
        assert_eq!(compact(3_200_000.0), "3.2M");
    }

    #[test]
    fn durations_and_rates() {
        assert_eq!(duration(754.0), "00:12:34");
        assert_eq!(duration(3723.4), "01:02:03");
        assert_eq!(duration(f64::NAN), "--:--:--");
        assert_eq!(rate(3.21), "3.2 it/s");
        assert_eq!(rate(512.4), "512 it/s");
        assert_eq!(rate(12_300.0), "12.3k it/s");
        assert_eq!(rate(0.0), "– it/s");
    }

    #[test]
    fn table_numbers_read_well() {
        assert_eq!(cell(0.91234), "0.9123");
        assert_eq!(cell(12.3456), "12.35");
        assert_eq!(cell(1234.5), "1234");
        assert_eq!(cell(2.5e-5), "2.500e-5");
        assert_eq!(cell(3e7), "3.000e7");
        assert_eq!(cell(0.0), "0");
        assert_eq!(cell(f64::NAN), "-");
        assert_eq!(thousands(94696), "94,696");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn table_cells_keep_four_significant_digits() {
        assert_eq!(cell(f64::NAN), "-");
        assert_eq!(cell(0.0), "0");
        assert_eq!(cell(0.125), "0.1250");
        assert_eq!(cell(2.5), "2.500");
        assert_eq!(cell(1234.5678), "1235");
        assert_eq!(cell(-0.001), "-0.001000");
        assert_eq!(cell(1e-4), "1.000e-4");
        assert_eq!(cell(123_456.0), "1.235e5");
    }

    #[test]
    fn hyperparameters_keep_every_digit() {
        assert_eq!(exact(0.085), "0.085");
        assert_eq!(exact(8e-6), "8e-6");
        assert_eq!(exact(1.6e-5), "1.6e-5");
        assert_eq!(exact(0.0), "0");
        assert_eq!(exact(2.0), "2");
        assert_eq!(exact(3e4), "3e4");
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(12.4), "12s");
        assert_eq!(span(12.6), "13s");
        assert_eq!(span(185.0), "3m05s");
        assert_eq!(span(3720.0), "1h02m");
        assert_eq!(span(3725.0), "1h02m");
        assert_eq!(span(-1.0), "0ms");
        assert_eq!(span(0.0042), "4ms");
        assert_eq!(span(0.9996), "1.0s");
        assert_eq!(span(2.54), "2.5s");
        assert_eq!(span(9.96), "10s");
    }

    #[test]
    fn specs_read_without_float_noise() {
        let spec = crate::optim::OptimizerSpec {
            lr: Some(0.085),
            meta_lr: Some(8e-6),
            beta: Some(0.9),
            depth: Some(16),
            ..crate::optim::OptimizerSpec::named("lodo")
        };
        assert_eq!(
            spec_line(&spec, false),
            "lodo  lr 0.085 · meta-lr 8e-6 · β 0.9 · depth 16"
        );
        assert_eq!(
            spec_line(&spec, true),
            "lodo  lr 0.085 | meta-lr 8e-6 | beta 0.9 | depth 16"
        );
        let plain = crate::optim::OptimizerSpec::named("sgd");
        assert_eq!(spec_line(&plain, false), "sgd");
        // Every field of the spec has a label, τ and the seed included.
        let olbfgs = crate::optim::OptimizerSpec {
            tau: Some(1e4),
            seed: Some(3),
            ..crate::optim::OptimizerSpec::named("olbfgs")
        };
        assert_eq!(spec_line(&olbfgs, false), "olbfgs  τ 1e4 · seed 3");
        assert_eq!(spec_line(&olbfgs, true), "olbfgs  tau 1e4 | seed 3");
    }
}
