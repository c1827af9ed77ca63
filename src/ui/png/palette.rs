//! Terminal colours as RGB: xterm's palette (its 16 named colours, the 6×6×6 cube and the grey
//! ramp of the 256-colour set) with light grey on black for the defaults, the common dark setting.

use ratatui::style::Color;

pub type Rgb = [u8; 3];

/// xterm's 16 named colours, in ANSI order (black, red, green, yellow, blue, magenta, cyan, white,
/// then the bright eight).
const NAMED: [Rgb; 16] = [
    [0x00, 0x00, 0x00],
    [0xcd, 0x00, 0x00],
    [0x00, 0xcd, 0x00],
    [0xcd, 0xcd, 0x00],
    [0x00, 0x00, 0xee],
    [0xcd, 0x00, 0xcd],
    [0x00, 0xcd, 0xcd],
    [0xe5, 0xe5, 0xe5],
    [0x7f, 0x7f, 0x7f],
    [0xff, 0x00, 0x00],
    [0x00, 0xff, 0x00],
    [0xff, 0xff, 0x00],
    [0x5c, 0x5c, 0xff],
    [0xff, 0x00, 0xff],
    [0x00, 0xff, 0xff],
    [0xff, 0xff, 0xff],
];

/// The channel levels of the 6×6×6 cube (indices 16–231).
const CUBE: [u8; 6] = [0, 95, 135, 175, 215, 255];

/// What `Color::Reset` stands for.
pub const DEFAULT_FG: Rgb = NAMED[7];
pub const DEFAULT_BG: Rgb = NAMED[0];

/// A 256-colour palette index as RGB.
pub fn indexed(i: u8) -> Rgb {
    match i {
        0..=15 => NAMED[usize::from(i)],
        16..=231 => {
            let i = i - 16;
            [
                CUBE[usize::from(i / 36)],
                CUBE[usize::from(i / 6 % 6)],
                CUBE[usize::from(i % 6)],
            ]
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            [v, v, v]
        }
    }
}

/// A colour as RGB; `None` for `Reset` (the caller knows whether it is a foreground or not).
pub fn rgb(color: Color) -> Option<Rgb> {
    let index = match color {
        Color::Reset => return None,
        Color::Rgb(r, g, b) => return Some([r, g, b]),
        Color::Indexed(i) => i,
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
    };
    Some(indexed(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden values: xterm's default colour resources and its formula for the cube and the greys.
    #[test]
    fn xterm_palette() {
        assert_eq!(rgb(Color::Cyan), Some([0, 205, 205]));
        assert_eq!(rgb(Color::DarkGray), Some([127, 127, 127]));
        assert_eq!(rgb(Color::LightBlue), Some([92, 92, 255]));
        assert_eq!(rgb(Color::Indexed(16)), Some([0, 0, 0]));
        assert_eq!(rgb(Color::Indexed(23)), Some([0, 95, 95]));
        assert_eq!(rgb(Color::Indexed(58)), Some([95, 95, 0]));
        assert_eq!(rgb(Color::Indexed(231)), Some([255, 255, 255]));
        assert_eq!(rgb(Color::Indexed(232)), Some([8, 8, 8]));
        assert_eq!(rgb(Color::Indexed(244)), Some([128, 128, 128]));
        assert_eq!(rgb(Color::Indexed(255)), Some([238, 238, 238]));
        assert_eq!(rgb(Color::Rgb(1, 2, 3)), Some([1, 2, 3]));
        assert_eq!(rgb(Color::Reset), None);
    }
}
