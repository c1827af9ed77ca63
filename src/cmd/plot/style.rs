//! Fonts, colours and number labels shared by every picture.

use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::style::{FontStyle, RGBColor, register_font};

/// DejaVu Sans, embedded so that plotting needs no system fonts (headless servers have none).
const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font under every family name plotters may ask for. Plotters' font
/// table is global, so this runs once per process.
pub fn register_fonts() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        for family in ["sans-serif", "serif", "monospace"] {
            register_font(family, FontStyle::Normal, FONT)
                .map_err(|_| "the embedded font DejaVuSans.ttf cannot be parsed".to_string())?;
        }
        Ok(())
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Line colours, one per legend entry in order: saturated, distinguishable on white and on the
/// heat map, and the first few distinguishable by most colour-blind readers. After 14 entries
/// the colours repeat.
pub const PALETTE: [RGBColor; 14] = [
    RGBColor(214, 39, 40),   // red
    RGBColor(31, 119, 180),  // blue
    RGBColor(44, 160, 44),   // green
    RGBColor(255, 127, 14),  // orange
    RGBColor(148, 103, 189), // purple
    RGBColor(23, 190, 207),  // cyan
    RGBColor(140, 86, 75),   // brown
    RGBColor(227, 119, 194), // pink
    RGBColor(127, 127, 127), // grey
    RGBColor(188, 189, 34),  // olive
    RGBColor(0, 0, 0),       // black
    RGBColor(0, 60, 120),    // navy
    RGBColor(120, 0, 40),    // maroon
    RGBColor(0, 110, 90),    // teal
];

pub fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// The heat map's colour ramp, from low to high: near-black slate to near-white. Without hue, so
/// that the coloured paths drawn over it keep their colours; low (the valley) is dark.
const HEAT: [(f64, RGBColor); 4] = [
    (0.0, RGBColor(22, 27, 45)),
    (0.35, RGBColor(78, 92, 118)),
    (0.7, RGBColor(170, 178, 190)),
    (1.0, RGBColor(246, 246, 240)),
];

/// The ramp colour at `t ∈ [0, 1]` (clamped), interpolated linearly between its stops.
pub fn heat(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    for pair in HEAT.windows(2) {
        let ((t0, c0), (t1, c1)) = (pair[0], pair[1]);
        if t <= t1 {
            let u = (t - t0) / (t1 - t0);
            let mix =
                |a: u8, b: u8| (f64::from(a) + u * (f64::from(b) - f64::from(a))).round() as u8;
            return RGBColor(mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2));
        }
    }
    HEAT[HEAT.len() - 1].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_registers() {
        register_fonts().unwrap();
        register_fonts().unwrap();
    }

    #[test]
    fn the_heat_ramp_runs_from_its_first_to_its_last_stop() {
        assert_eq!(heat(0.0), HEAT[0].1);
        assert_eq!(heat(1.0), HEAT[3].1);
        assert_eq!(heat(-3.0), HEAT[0].1);
        assert_eq!(heat(f64::NAN), HEAT[0].1);
        // Halfway between the first two stops.
        assert_eq!(heat(0.175), RGBColor(50, 60, 82));
    }
}
