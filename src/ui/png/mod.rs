//! The dashboard's screen as a picture (the README's screenshot): a ratatui buffer drawn cell by
//! cell as a dark terminal shows it. Glyphs come from the embedded cell font, except box drawing,
//! block elements and braille, which are drawn from their code points; a glyph neither has is a
//! hollow box, counted in [`Screenshot::missing`].
//!
//! It lives in the library, not the binary's path: nothing the program runs calls it, but the
//! screenshot example and the tests that keep it honest do, and the crates it needs (`image`,
//! `ab_glyph`) are already in the build for `lodo-tui plot`.

pub mod font;
pub mod palette;
pub mod shapes;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use image::{Rgb, RgbImage};
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;

pub use font::CellFont;
use palette::{DEFAULT_BG, DEFAULT_FG};
use shapes::Mask;

/// A rendered screen and what it could not draw.
pub struct Screenshot {
    pub image: RgbImage,
    /// Symbols drawn as a hollow box, with how many cells show each.
    pub missing: BTreeMap<String, usize>,
}

impl Screenshot {
    pub fn missing_cells(&self) -> usize {
        self.missing.values().sum()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        self.image
            .save_with_format(path, image::ImageFormat::Png)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Draws every cell of `buffer`: background, glyph in its foreground colour (bold face for
/// `BOLD`, half-way to the background for `DIM`, swapped for `REVERSED`), underline and strike.
pub fn render(buffer: &Buffer, font: &CellFont) -> Screenshot {
    let area = buffer.area;
    let (cw, ch) = (font.width, font.height);
    let mut image = RgbImage::from_pixel(
        u32::from(area.width) * cw,
        u32::from(area.height) * ch,
        Rgb(DEFAULT_BG),
    );
    let mut missing = BTreeMap::new();
    let mut masks: HashMap<(String, bool), Option<Mask>> = HashMap::new();
    let hollow = hollow_box(cw, ch);
    for y in 0..area.height {
        for x in 0..area.width {
            let cell = &buffer[(area.x + x, area.y + y)];
            let (fg, bg) = colours(cell);
            let (x0, y0) = (u32::from(x) * cw, u32::from(y) * ch);
            let bold = cell.modifier.contains(Modifier::BOLD);
            let symbol = cell.symbol();
            let mask = masks
                .entry((symbol.to_string(), bold))
                .or_insert_with(|| glyph(symbol, bold, font));
            let mask = match mask {
                Some(m) => &*m,
                None => {
                    *missing.entry(symbol.to_string()).or_insert(0) += 1;
                    &hollow
                }
            };
            let hidden = cell.modifier.contains(Modifier::HIDDEN);
            for py in 0..ch {
                for px in 0..cw {
                    let a = if hidden { 0 } else { mask.at(px, py) };
                    image.put_pixel(x0 + px, y0 + py, Rgb(blend(bg, fg, a)));
                }
            }
            let mut rule = |py: u32| {
                for px in 0..cw {
                    image.put_pixel(x0 + px, y0 + py.min(ch - 1), Rgb(fg));
                }
            };
            if cell.modifier.contains(Modifier::UNDERLINED) {
                rule(ch - ch / 8);
            }
            if cell.modifier.contains(Modifier::CROSSED_OUT) {
                rule(ch / 2);
            }
        }
    }
    Screenshot { image, missing }
}

/// The mask of a cell's symbol: a shape drawn from its code point, else the font's glyph; `None`
/// when neither has it. A symbol of more than one character (a base and combining marks) is
/// drawn as its base when the marks are all the font knows.
fn glyph(symbol: &str, bold: bool, font: &CellFont) -> Option<Mask> {
    let mut chars = symbol.chars();
    let Some(first) = chars.next() else {
        return Some(Mask::empty(font.width, font.height));
    };
    if !chars.all(|c| font.has(c)) {
        return None;
    }
    shapes::mask(first, font.width, font.height).or_else(|| font.mask(first, bold))
}

/// A cell's foreground and background as drawn, after `REVERSED` and `DIM`.
fn colours(cell: &ratatui::buffer::Cell) -> (palette::Rgb, palette::Rgb) {
    let mut fg = palette::rgb(cell.fg).unwrap_or(DEFAULT_FG);
    let mut bg = palette::rgb(cell.bg).unwrap_or(DEFAULT_BG);
    if cell.modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut fg, &mut bg);
    }
    if cell.modifier.contains(Modifier::DIM) {
        fg = blend(bg, fg, 128);
    }
    (fg, bg)
}

/// `bg` covered by `fg` at opacity `a / 255`.
fn blend(bg: palette::Rgb, fg: palette::Rgb, a: u8) -> palette::Rgb {
    let mix = |b: u8, f: u8| {
        let (b, f, a) = (u32::from(b), u32::from(f), u32::from(a));
        ((b * (255 - a) + f * a + 127) / 255) as u8
    };
    [mix(bg[0], fg[0]), mix(bg[1], fg[1]), mix(bg[2], fg[2])]
}

/// The stand-in for a missing glyph: a rectangle outline inset by a pixel.
fn hollow_box(width: u32, height: u32) -> Mask {
    let mut m = Mask::empty(width, height);
    let (x1, y1) = (width.saturating_sub(2), height.saturating_sub(3));
    for y in 2..=y1 {
        for x in 1..=x1 {
            if x == 1 || x == x1 || y == 2 || y == y1 {
                m.alpha[(y * width + x) as usize] = 255;
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::{Color, Style};

    const LINE: u32 = 18;

    fn font() -> CellFont {
        CellFont::dejavu(LINE).expect("the embedded font parses")
    }

    fn pixel(shot: &Screenshot, x: u32, y: u32) -> [u8; 3] {
        shot.image.get_pixel(x, y).0
    }

    #[test]
    fn cells_are_nine_by_eighteen() {
        // DejaVu Sans Mono advances 1233/2048 em and spans 2384/2048 em from ascent to descent,
        // so 18-pixel lines give 18 × 1233 / 2384 = 9.3 → 9-pixel cells.
        let f = font();
        assert_eq!((f.width, f.height), (9, 18));
        let shot = render(&Buffer::empty(Rect::new(0, 0, 3, 2)), &f);
        assert_eq!(shot.image.dimensions(), (27, 36));
    }

    #[test]
    fn a_letter_is_the_fonts_glyph_in_its_colours() {
        let f = font();
        let mut buffer = Buffer::empty(Rect::new(0, 0, 2, 1));
        buffer.set_string(0, 0, "l", Style::new().fg(Color::Red).bg(Color::Blue));
        let shot = render(&buffer, &f);
        let (red, blue) = ([0xcd, 0, 0], [0, 0, 0xee]);
        // `l` is a stem down the middle of the cell, from the ascender to the baseline; it is
        // not hinted, so it straddles two columns, each the mix its coverage says.
        let mask = f.mask('l', false).expect("l is in the font");
        let row: Vec<_> = (0..9).map(|x| pixel(&shot, x, 9)).collect();
        for (x, &p) in row.iter().enumerate() {
            assert_eq!(
                p,
                blend(blue, red, mask.at(x as u32, 9)),
                "column {x}: {row:?}"
            );
            if !(3..=5).contains(&x) {
                assert_eq!(p, blue, "ink outside the stem at {x}: {row:?}");
            }
        }
        let ink: u32 = (0..9).map(|x| u32::from(mask.at(x, 9))).sum();
        assert!(
            (255..=3 * 255).contains(&ink),
            "a stem 1 to 3 pixels wide: {ink}"
        );
        assert_eq!(pixel(&shot, 0, 9), blue);
        assert_eq!(pixel(&shot, 8, 9), blue);
        assert_eq!(pixel(&shot, 4, 0), blue, "above the ascender");
        assert_eq!(pixel(&shot, 4, 17), blue, "below the baseline");
        // The second cell is blank: the default background, black.
        assert!((9..18).all(|x| (0..18).all(|y| pixel(&shot, x, y) == [0, 0, 0])));
        assert!(shot.missing.is_empty());
    }

    #[test]
    fn braille_dots_light_where_their_bits_say() {
        let f = font();
        let mut buffer = Buffer::empty(Rect::new(0, 0, 1, 1));
        // Dots 1 and 8: upper left and lower right.
        buffer.set_string(0, 0, "\u{2881}", Style::new().fg(Color::Cyan));
        let shot = render(&buffer, &f);
        let cyan = [0, 0xcd, 0xcd];
        // Dot centres of a 9×18 cell: x 2.25, 6.75; y 2.25, 6.75, 11.25, 15.75.
        assert_eq!(pixel(&shot, 2, 2), cyan);
        assert_eq!(pixel(&shot, 6, 15), cyan);
        for (x, y) in [(6, 2), (2, 15), (2, 6), (6, 11)] {
            assert_eq!(pixel(&shot, x, y), [0, 0, 0], "dot at ({x}, {y}) is off");
        }
    }

    #[test]
    fn colours_follow_the_palette_and_modifiers() {
        let f = font();
        let mut buffer = Buffer::empty(Rect::new(0, 0, 3, 1));
        buffer.set_string(0, 0, " ", Style::new().bg(Color::Indexed(23)));
        buffer.set_string(1, 0, "█", Style::new().add_modifier(Modifier::REVERSED));
        buffer.set_string(
            2,
            0,
            "█",
            Style::new().fg(Color::White).add_modifier(Modifier::DIM),
        );
        let shot = render(&buffer, &f);
        assert_eq!(pixel(&shot, 4, 9), [0, 95, 95]);
        // Reversed: the default foreground becomes the background, and the full block is drawn
        // in the default background.
        assert_eq!(pixel(&shot, 13, 9), [0, 0, 0]);
        // Dim white on black: half-way, 255 × 128 / 255 = 128.
        assert_eq!(pixel(&shot, 22, 9), [128, 128, 128]);
    }

    #[test]
    fn bold_uses_the_bold_face() {
        let f = font();
        let ink = |bold| {
            f.mask('M', bold)
                .expect("M is in the font")
                .alpha
                .iter()
                .map(|&a| u32::from(a))
                .sum::<u32>()
        };
        assert!(
            ink(true) > ink(false) * 11 / 10,
            "{} vs {}",
            ink(true),
            ink(false)
        );
    }

    #[test]
    fn a_glyph_the_font_lacks_is_a_counted_hollow_box() {
        let f = font();
        let mut buffer = Buffer::empty(Rect::new(0, 0, 4, 1));
        // CJK is not in DejaVu Sans Mono (and is two cells wide).
        buffer.set_string(0, 0, "漢x", Style::new());
        let shot = render(&buffer, &f);
        assert_eq!(shot.missing.get("漢"), Some(&1), "{:?}", shot.missing);
        assert_eq!(shot.missing_cells(), 1);
        // The box's left edge at x = 1 from y = 2 to 15, its inside empty.
        assert!((2..=15).all(|y| pixel(&shot, 1, y) == DEFAULT_FG));
        assert_eq!(pixel(&shot, 4, 9), DEFAULT_BG);
    }
}
