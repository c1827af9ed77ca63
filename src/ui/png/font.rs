//! The cell font: DejaVu Sans Mono (regular and bold, embedded; the default monospace face of
//! many Linux terminals), rasterised with `ab_glyph` into cell-sized masks.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use anyhow::{Context, Result};

use super::shapes::Mask;

const REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf");
const BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono-Bold.ttf");

pub struct CellFont {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
    scale: PxScale,
    /// Cell size in pixels.
    pub width: u32,
    pub height: u32,
    /// Baseline, in pixels from the top of the cell.
    baseline: f32,
}

impl CellFont {
    /// DejaVu Sans Mono with lines `line_height` pixels apart (ascent to descent, no extra gap,
    /// as terminals set it).
    pub fn dejavu(line_height: u32) -> Result<Self> {
        let regular = FontRef::try_from_slice(REGULAR)
            .ok()
            .context("the embedded font DejaVuSansMono.ttf cannot be parsed")?;
        let bold = FontRef::try_from_slice(BOLD)
            .ok()
            .context("the embedded font DejaVuSansMono-Bold.ttf cannot be parsed")?;
        let scale = PxScale::from(line_height as f32);
        let scaled = regular.as_scaled(scale);
        let width = scaled.h_advance(regular.glyph_id('M')).round().max(1.0) as u32;
        let baseline = scaled.ascent().round();
        Ok(Self {
            regular,
            bold,
            scale,
            width,
            height: line_height,
            baseline,
        })
    }

    /// Whether the face has a glyph for `ch` (bold falls back to regular when it has none).
    pub fn has(&self, ch: char) -> bool {
        self.regular.glyph_id(ch) != GlyphId(0)
    }

    /// `ch` in one cell, or `None` when the font has no glyph for it. What overflows the cell is
    /// cut off, as terminals do.
    pub fn mask(&self, ch: char, bold: bool) -> Option<Mask> {
        let font = if bold && self.bold.glyph_id(ch) != GlyphId(0) {
            &self.bold
        } else {
            &self.regular
        };
        let id = font.glyph_id(ch);
        if id == GlyphId(0) {
            return None;
        }
        let mut mask = Mask::empty(self.width, self.height);
        let advance = font.as_scaled(self.scale).h_advance(id);
        let x = ((self.width as f32 - advance) / 2.0).round();
        let glyph = id.with_scale_and_position(self.scale, point(x, self.baseline));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
                if (0..i64::from(self.width)).contains(&px)
                    && (0..i64::from(self.height)).contains(&py)
                {
                    let i = py as usize * self.width as usize + px as usize;
                    let a = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
                    mask.alpha[i] = mask.alpha[i].max(a);
                }
            });
        }
        Some(mask)
    }
}
