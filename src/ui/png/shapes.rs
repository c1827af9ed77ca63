//! Box drawing, block elements and braille drawn from their code points, as terminals such as
//! kitty and WezTerm do: a font's versions of these rarely fill the cell exactly, and a chart or
//! a border must join its neighbours without seams.

/// Coverage of one cell, row-major, 0 (background) to 255 (foreground).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    pub width: u32,
    pub height: u32,
    pub alpha: Vec<u8>,
}

impl Mask {
    pub fn empty(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            alpha: vec![0; (width * height) as usize],
        }
    }

    pub fn at(&self, x: u32, y: u32) -> u8 {
        self.alpha[(y * self.width + x) as usize]
    }

    /// Covers the pixels `[x0, x1) × [y0, y1)` (clipped to the cell) by `a`.
    fn fill(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, a: u8) {
        let (w, h) = (self.width as i32, self.height as i32);
        for y in y0.max(0)..y1.min(h) {
            for x in x0.max(0)..x1.min(w) {
                let p = &mut self.alpha[(y * w + x) as usize];
                *p = (*p).max(a);
            }
        }
    }

    /// Covers what `inside` holds, anti-aliased by 4×4 samples per pixel.
    fn paint(&mut self, inside: impl Fn(f32, f32) -> bool) {
        const N: u32 = 4;
        for y in 0..self.height {
            for x in 0..self.width {
                let mut hits = 0;
                for sy in 0..N {
                    for sx in 0..N {
                        let px = x as f32 + (sx as f32 + 0.5) / N as f32;
                        let py = y as f32 + (sy as f32 + 0.5) / N as f32;
                        hits += u32::from(inside(px, py));
                    }
                }
                let a = (hits * 255 / (N * N)) as u8;
                let p = &mut self.alpha[(y * self.width + x) as usize];
                *p = (*p).max(a);
            }
        }
    }
}

/// The shape of `ch` in a `width × height` cell, if it is one drawn here.
pub fn mask(ch: char, width: u32, height: u32) -> Option<Mask> {
    let mut m = Mask::empty(width, height);
    let c = u32::from(ch);
    let drawn = match c {
        0x2800..=0x28ff => {
            braille(&mut m, c - 0x2800);
            true
        }
        0x2580..=0x259f => {
            block(&mut m, c);
            true
        }
        0x2500..=0x257f => box_drawing(&mut m, c),
        _ => false,
    };
    drawn.then_some(m)
}

/// Braille: bit `i` of the pattern is dot `i + 1`; dots 1–3 and 7 run down the left column,
/// 4–6 and 8 down the right.
fn braille(m: &mut Mask, pattern: u32) {
    const DOTS: [(u32, u32); 8] = [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
        (0, 3),
        (1, 3),
    ];
    let (w, h) = (m.width as f32, m.height as f32);
    let r = (w / 4.0).min(h / 8.0) * 0.62;
    for (bit, (col, row)) in DOTS.iter().enumerate() {
        if pattern & (1 << bit) == 0 {
            continue;
        }
        let cx = w * (1 + 2 * col) as f32 / 4.0;
        let cy = h * (1 + 2 * row) as f32 / 8.0;
        m.paint(|x, y| (x - cx).powi(2) + (y - cy).powi(2) <= r * r);
    }
}

/// Block elements: halves, eighths, shades and quadrants, on whole pixels so neighbouring cells
/// (half-block pictures, bar charts) meet without seams.
fn block(m: &mut Mask, c: u32) {
    let (w, h) = (m.width as i32, m.height as i32);
    let frac = |total: i32, eighths: i32| (total * eighths + 4) / 8;
    match c {
        0x2580 => m.fill(0, 0, w, frac(h, 4), 255),
        0x2581..=0x2588 => m.fill(0, h - frac(h, (c - 0x2580) as i32), w, h, 255),
        0x2589..=0x258f => m.fill(0, 0, frac(w, (0x2590 - c) as i32), h, 255),
        0x2590 => m.fill(frac(w, 4), 0, w, h, 255),
        0x2591..=0x2593 => m.fill(0, 0, w, h, (64 * (c - 0x2590)) as u8),
        0x2594 => m.fill(0, 0, w, frac(h, 1), 255),
        0x2595 => m.fill(w - frac(w, 1), 0, w, h, 255),
        _ => {
            // Quadrants: bit 0 upper left, 1 upper right, 2 lower left, 3 lower right.
            const QUADRANTS: [u8; 10] = [4, 8, 1, 13, 9, 7, 11, 2, 6, 14];
            let q = QUADRANTS[(c - 0x2596) as usize];
            let (mx, my) = (frac(w, 4), frac(h, 4));
            for (bit, (x0, y0, x1, y1)) in [
                (0, 0, mx, my),
                (mx, 0, w, my),
                (0, my, mx, h),
                (mx, my, w, h),
            ]
            .into_iter()
            .enumerate()
            {
                if q & (1 << bit) != 0 {
                    m.fill(x0, y0, x1, y1, 255);
                }
            }
        }
    }
}

/// The weight of each arm (up, right, down, left) of U+2500–U+254B and U+2550–U+256C: 0 none,
/// 1 light, 2 heavy, 3 double. Dashed lines (U+2504–250B, U+254C–254F) are `None` here.
const ARMS: [Option<[u8; 4]>; 0x6d] = {
    const fn a(up: u8, right: u8, down: u8, left: u8) -> Option<[u8; 4]> {
        Some([up, right, down, left])
    }
    [
        // U+2500 ─ ━ │ ┃
        a(0, 1, 0, 1),
        a(0, 2, 0, 2),
        a(1, 0, 1, 0),
        a(2, 0, 2, 0),
        // U+2504–250B: dashed
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        // U+250C ┌ ┍ ┎ ┏ ┐ ┑ ┒ ┓
        a(0, 1, 1, 0),
        a(0, 2, 1, 0),
        a(0, 1, 2, 0),
        a(0, 2, 2, 0),
        a(0, 0, 1, 1),
        a(0, 0, 1, 2),
        a(0, 0, 2, 1),
        a(0, 0, 2, 2),
        // U+2514 └ ┕ ┖ ┗ ┘ ┙ ┚ ┛
        a(1, 1, 0, 0),
        a(1, 2, 0, 0),
        a(2, 1, 0, 0),
        a(2, 2, 0, 0),
        a(1, 0, 0, 1),
        a(1, 0, 0, 2),
        a(2, 0, 0, 1),
        a(2, 0, 0, 2),
        // U+251C ├ ┝ ┞ ┟ ┠ ┡ ┢ ┣
        a(1, 1, 1, 0),
        a(1, 2, 1, 0),
        a(2, 1, 1, 0),
        a(1, 1, 2, 0),
        a(2, 1, 2, 0),
        a(2, 2, 1, 0),
        a(1, 2, 2, 0),
        a(2, 2, 2, 0),
        // U+2524 ┤ ┥ ┦ ┧ ┨ ┩ ┪ ┫
        a(1, 0, 1, 1),
        a(1, 0, 1, 2),
        a(2, 0, 1, 1),
        a(1, 0, 2, 1),
        a(2, 0, 2, 1),
        a(2, 0, 1, 2),
        a(1, 0, 2, 2),
        a(2, 0, 2, 2),
        // U+252C ┬ ┭ ┮ ┯ ┰ ┱ ┲ ┳
        a(0, 1, 1, 1),
        a(0, 1, 1, 2),
        a(0, 2, 1, 1),
        a(0, 2, 1, 2),
        a(0, 1, 2, 1),
        a(0, 1, 2, 2),
        a(0, 2, 2, 1),
        a(0, 2, 2, 2),
        // U+2534 ┴ ┵ ┶ ┷ ┸ ┹ ┺ ┻
        a(1, 1, 0, 1),
        a(1, 1, 0, 2),
        a(1, 2, 0, 1),
        a(1, 2, 0, 2),
        a(2, 1, 0, 1),
        a(2, 1, 0, 2),
        a(2, 2, 0, 1),
        a(2, 2, 0, 2),
        // U+253C ┼ ┽ ┾ ┿ ╀ ╁ ╂ ╃
        a(1, 1, 1, 1),
        a(1, 1, 1, 2),
        a(1, 2, 1, 1),
        a(1, 2, 1, 2),
        a(2, 1, 1, 1),
        a(1, 1, 2, 1),
        a(2, 1, 2, 1),
        a(2, 1, 1, 2),
        // U+2544 ╄ ╅ ╆ ╇ ╈ ╉ ╊ ╋
        a(2, 2, 1, 1),
        a(1, 1, 2, 2),
        a(1, 2, 2, 1),
        a(2, 2, 1, 2),
        a(1, 2, 2, 2),
        a(2, 1, 2, 2),
        a(2, 2, 2, 1),
        a(2, 2, 2, 2),
        // U+254C–254F: dashed
        None,
        None,
        None,
        None,
        // U+2550 ═ ║ ╒ ╓ ╔ ╕ ╖ ╗
        a(0, 3, 0, 3),
        a(3, 0, 3, 0),
        a(0, 3, 1, 0),
        a(0, 1, 3, 0),
        a(0, 3, 3, 0),
        a(0, 0, 1, 3),
        a(0, 0, 3, 1),
        a(0, 0, 3, 3),
        // U+2558 ╘ ╙ ╚ ╛ ╜ ╝ ╞ ╟
        a(1, 3, 0, 0),
        a(3, 1, 0, 0),
        a(3, 3, 0, 0),
        a(1, 0, 0, 3),
        a(3, 0, 0, 1),
        a(3, 0, 0, 3),
        a(1, 3, 1, 0),
        a(3, 1, 3, 0),
        // U+2560 ╠ ╡ ╢ ╣ ╤ ╥ ╦ ╧
        a(3, 3, 3, 0),
        a(1, 0, 1, 3),
        a(3, 0, 3, 1),
        a(3, 0, 3, 3),
        a(0, 3, 1, 3),
        a(0, 1, 3, 1),
        a(0, 3, 3, 3),
        a(1, 3, 0, 3),
        // U+2568 ╨ ╩ ╪ ╫ ╬
        a(3, 1, 0, 1),
        a(3, 3, 0, 3),
        a(1, 3, 1, 3),
        a(3, 1, 3, 1),
        a(3, 3, 3, 3),
    ]
};

/// Line widths for a cell: light, heavy, and the gap between the two strokes of a double line.
fn strokes(m: &Mask) -> (i32, i32, i32) {
    let light = ((m.width as f32 / 9.0).round() as i32).max(1);
    (light, 2 * light + 1, light)
}

/// The band `[start, start + t)` of thickness `t` centred in `total`.
fn centred(total: i32, t: i32) -> (i32, i32) {
    let start = (total - t) / 2;
    (start, start + t)
}

fn box_drawing(m: &mut Mask, c: u32) -> bool {
    match c {
        0x2500..=0x256c => match ARMS[(c - 0x2500) as usize] {
            Some(arms) => lines(m, arms),
            None => dashed(m, c),
        },
        0x256d..=0x2570 => arc(m, c),
        0x2571..=0x2573 => diagonal(m, c),
        _ => {
            // U+2574–257F: half lines (left, up, right, down; light, heavy, then mixed).
            const HALVES: [[u8; 4]; 12] = [
                [0, 0, 0, 1],
                [1, 0, 0, 0],
                [0, 1, 0, 0],
                [0, 0, 1, 0],
                [0, 0, 0, 2],
                [2, 0, 0, 0],
                [0, 2, 0, 0],
                [0, 0, 2, 0],
                [0, 2, 0, 1],
                [1, 0, 2, 0],
                [0, 1, 0, 2],
                [2, 0, 1, 0],
            ];
            lines(m, HALVES[(c - 0x2574) as usize]);
        }
    }
    true
}

/// Arms from the centre to the edges. Each reaches across the band of the arms crossing it, so
/// corners and tees close.
fn lines(m: &mut Mask, [up, right, down, left]: [u8; 4]) {
    let (w, h) = (m.width as i32, m.height as i32);
    let (light, heavy, gap) = strokes(m);
    let width = |weight: u8| match weight {
        0 => 0,
        1 => light,
        2 => heavy,
        _ => 2 * light + gap,
    };
    let vertical = width(up).max(width(down)).max(light);
    let horizontal = width(left).max(width(right)).max(light);
    let (vx0, vx1) = centred(w, vertical);
    let (hy0, hy1) = centred(h, horizontal);
    // One stroke, or the two of a double line, across a band of `total` centred in `span`.
    let strokes_of = |weight: u8, span: i32| -> Vec<(i32, i32)> {
        let (s0, s1) = centred(span, width(weight));
        if weight == 3 {
            vec![(s0, s0 + light), (s1 - light, s1)]
        } else {
            vec![(s0, s1)]
        }
    };
    if up > 0 {
        for (x0, x1) in strokes_of(up, w) {
            m.fill(x0, 0, x1, hy1, 255);
        }
    }
    if down > 0 {
        for (x0, x1) in strokes_of(down, w) {
            m.fill(x0, hy0, x1, h, 255);
        }
    }
    if left > 0 {
        for (y0, y1) in strokes_of(left, h) {
            m.fill(0, y0, vx1, y1, 255);
        }
    }
    if right > 0 {
        for (y0, y1) in strokes_of(right, h) {
            m.fill(vx0, y0, w, y1, 255);
        }
    }
}

/// U+2504–250B and U+254C–254F: triple, quadruple and double dashes, light or heavy.
fn dashed(m: &mut Mask, c: u32) {
    let (w, h) = (m.width as i32, m.height as i32);
    let (light, heavy, _) = strokes(m);
    let (dashes, horizontal, heavy_line) = match c {
        0x2504..=0x250b => {
            let i = c - 0x2504;
            (if i < 4 { 3 } else { 4 }, i % 4 < 2, i % 2 == 1)
        }
        _ => {
            let i = c - 0x254c;
            (2, i < 2, i % 2 == 1)
        }
    };
    let t = if heavy_line { heavy } else { light };
    let span = if horizontal { w } else { h };
    let (a0, a1) = centred(if horizontal { h } else { w }, t);
    for d in 0..dashes {
        let s0 = span * d / dashes;
        let s1 = s0 + (span / dashes * 2 / 3).max(1);
        if horizontal {
            m.fill(s0, a0, s1, a1, 255);
        } else {
            m.fill(a0, s0, a1, s1, 255);
        }
    }
}

/// U+256D–2570 ╭ ╮ ╯ ╰: a quarter circle joining the centres of two edges.
fn arc(m: &mut Mask, c: u32) {
    let (w, h) = (m.width as f32, m.height as f32);
    let (light, _, _) = strokes(m);
    let t = light as f32;
    // The stroke centres of the straight lines this arc meets.
    let (x0, _) = centred(m.width as i32, light);
    let (y0, _) = centred(m.height as i32, light);
    let (cx, cy) = (x0 as f32 + t / 2.0, y0 as f32 + t / 2.0);
    // The arc bends towards (sx, sy): right and down for ╭.
    let (sx, sy) = match c {
        0x256d => (1.0, 1.0),
        0x256e => (-1.0, 1.0),
        0x256f => (-1.0, -1.0),
        _ => (1.0, -1.0),
    };
    let r = (w / 2.0).min(h / 2.0);
    let (ox, oy) = (cx + sx * r, cy + sy * r);
    m.paint(|x, y| {
        let (dx, dy) = (x - ox, y - oy);
        // Only the quarter facing the cell centre.
        if dx * sx > 0.0 || dy * sy > 0.0 {
            return false;
        }
        ((dx * dx + dy * dy).sqrt() - r).abs() <= t / 2.0
    });
    // Straight on from the arc's ends to the edges.
    let (li, ri) = (x0, x0 + light);
    let (ti, bi) = (y0, y0 + light);
    let vy = oy.round() as i32;
    let hx = ox.round() as i32;
    if sy > 0.0 {
        m.fill(li, vy, ri, m.height as i32, 255);
    } else {
        m.fill(li, 0, ri, vy, 255);
    }
    if sx > 0.0 {
        m.fill(hx, ti, m.width as i32, bi, 255);
    } else {
        m.fill(0, ti, hx, bi, 255);
    }
}

/// U+2571–2573 ╱ ╲ ╳: corner to corner.
fn diagonal(m: &mut Mask, c: u32) {
    let (w, h) = (m.width as f32, m.height as f32);
    let t = strokes(m).0 as f32;
    let len = (w * w + h * h).sqrt();
    // Distance from (x, y) to the line through (0, h)–(w, 0), or (0, 0)–(w, h).
    let rising = move |x: f32, y: f32| ((h * x + w * y - w * h) / len).abs() <= t / 2.0 + 0.2;
    let falling = move |x: f32, y: f32| ((h * x - w * y) / len).abs() <= t / 2.0 + 0.2;
    match c {
        0x2571 => m.paint(rising),
        0x2572 => m.paint(falling),
        _ => m.paint(|x, y| rising(x, y) || falling(x, y)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(m: &Mask) -> Vec<String> {
        (0..m.height)
            .map(|y| {
                (0..m.width)
                    .map(|x| match m.at(x, y) {
                        0 => '.',
                        255 => '#',
                        _ => '+',
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn braille_dots_sit_in_two_columns_of_four() {
        // U+2801 is dot 1 alone (upper left), U+2880 dot 8 alone (lower right); an 8×16 cell
        // puts dot centres at x = 2, 6 and y = 2, 6, 10, 14.
        let one = mask('\u{2801}', 8, 16).expect("braille is drawn");
        assert!(
            one.at(1, 1) > 128 && one.at(2, 2) > 128,
            "{:#?}",
            rows(&one)
        );
        assert_eq!(one.at(6, 14), 0);
        let covered = one.alpha.iter().filter(|&&a| a > 0).count();
        assert!(
            covered <= 16,
            "one dot covers at most 4×4 pixels: {:#?}",
            rows(&one)
        );
        let eight = mask('\u{2880}', 8, 16).expect("braille is drawn");
        assert!(eight.at(5, 13) > 128 && eight.at(6, 14) > 128);
        assert_eq!(eight.at(2, 2), 0);
        // Dot 7 (bit 6) is in the left column's fourth row, dot 4 (bit 3) at the right's top.
        let seven = mask('\u{2840}', 8, 16).expect("braille is drawn");
        assert!(seven.at(2, 14) > 128 && seven.at(2, 2) == 0);
        let four = mask('\u{2808}', 8, 16).expect("braille is drawn");
        assert!(four.at(6, 2) > 128 && four.at(2, 2) == 0);
        assert!(mask('\u{2800}', 8, 16).is_some_and(|m| m.alpha.iter().all(|&a| a == 0)));
    }

    #[test]
    fn box_lines_reach_the_edges_and_join() {
        let m = mask('┼', 9, 18).expect("box drawing is drawn");
        // A 1-pixel cross through column 4 and row 8.
        assert_eq!(m.at(4, 0), 255);
        assert_eq!(m.at(4, 17), 255);
        assert_eq!(m.at(0, 8), 255);
        assert_eq!(m.at(8, 8), 255);
        assert_eq!(m.at(3, 0), 0);
        assert_eq!(m.at(0, 7), 0);
        let corner = mask('└', 9, 18).expect("box drawing is drawn");
        assert_eq!(corner.at(4, 0), 255);
        assert_eq!(corner.at(8, 8), 255);
        assert_eq!(corner.at(4, 17), 0, "no arm down");
        assert_eq!(corner.at(0, 8), 0, "no arm left");
    }

    #[test]
    fn rounded_corners_meet_the_straight_lines() {
        // ╭ continues a horizontal line at its right edge and a vertical one at its bottom.
        let m = mask('╭', 9, 18).expect("arcs are drawn");
        let line = mask('─', 9, 18).expect("box drawing is drawn");
        let bar = mask('│', 9, 18).expect("box drawing is drawn");
        assert_eq!(line.at(0, 8), 255);
        assert!(m.at(8, 8) > 160, "{:#?}", rows(&m));
        assert_eq!(m.at(4, 17), bar.at(4, 0));
        assert_eq!(m.at(0, 0), 0);
        assert_eq!(m.at(0, 8), 0, "nothing left of the bend");
    }

    #[test]
    fn blocks_fill_whole_pixels() {
        let upper = mask('▀', 9, 18).expect("blocks are drawn");
        assert!((0..9).all(|y| upper.at(0, y) == 255 && upper.at(8, y) == 255));
        assert!((9..18).all(|y| upper.at(0, y) == 0));
        let low = mask('▁', 8, 16).expect("blocks are drawn");
        assert_eq!(low.alpha.iter().filter(|&&a| a == 255).count(), 2 * 8);
        let full = mask('█', 8, 16).expect("blocks are drawn");
        assert!(full.alpha.iter().all(|&a| a == 255));
        let quadrant = mask('▚', 8, 16).expect("blocks are drawn");
        assert_eq!((quadrant.at(0, 0), quadrant.at(7, 0)), (255, 0));
        assert_eq!((quadrant.at(0, 15), quadrant.at(7, 15)), (0, 255));
    }

    #[test]
    fn every_box_and_block_code_point_is_drawn() {
        for c in (0x2500..=0x259f).chain(0x2800..=0x28ff) {
            let ch = char::from_u32(c).expect("valid code point");
            let m = mask(ch, 9, 18).unwrap_or_else(|| panic!("U+{c:04X} not drawn"));
            if c != 0x2800 {
                assert!(m.alpha.iter().any(|&a| a > 0), "U+{c:04X} is blank");
            }
        }
        assert!(mask('a', 9, 18).is_none());
    }
}
