//! MNIST autoregression: generated digits in greyscale half blocks (two pixel rows per terminal
//! row), appearing pixel by pixel while the model samples them, and validation loss in bits per
//! pixel over time.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::format;
use crate::task::{Digits, Headline};
use crate::ui::app::App;
use crate::ui::history::Series;
use crate::ui::model::LaneData;
use crate::ui::plot::{Plot, Scale};
use crate::ui::theme::Theme;
use crate::ui::traces::{self, Window};

use super::task::scale;

/// Columns between digits.
const GAP: u16 = 1;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let focus = app.view.focus;
    let headline = app
        .model
        .lanes
        .get(focus)
        .and_then(|l| headline_series(app, l));
    let latest = headline.and_then(|(series, h)| {
        let (step, v) = series.last()?;
        Some((step, (f64::from(v) * h.factor) as f32, h.unit.as_str()))
    });
    let title = title(app, latest, area.width);
    let block = theme.block(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let digits_rows = match &app.model.digits {
        Some(d) => fit(d, inner.width, inner.height).map_or(0, |f| f.height),
        None => 1,
    };
    let [top, chart] = Layout::vertical([
        Constraint::Length(digits_rows.min(inner.height)),
        Constraint::Min(0),
    ])
    .areas(inner);
    match &app.model.digits {
        Some(d) => frame.render_widget(DigitGrid { digits: d, theme }, top),
        // A record holds no digits, and a view cannot ask for them.
        None if app.read_only => frame.render_widget(
            Paragraph::new(Span::styled("no digits in a record", theme.muted())),
            top,
        ),
        None => frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("g", theme.key()),
                Span::styled(" draws digits from the current model", theme.muted()),
            ])),
            top,
        ),
    }
    if chart.height >= 4 {
        render_bits(frame, chart, app);
    }
}

/// `Samples · drawing 588/784 · val 2.020 bits/px @ 2,000` (the unit is the task's headline's),
/// terser until it fits in `width`.
fn title(app: &App, latest: Option<(f64, f32, &str)>, width: u16) -> Line<'static> {
    let theme = &app.theme;
    let sep = theme.glyphs().sep;
    let progress = app.model.digits.as_ref().and_then(|d| {
        let per_image = d.rows * d.cols;
        (d.pixels_done < per_image).then_some((d.pixels_done, per_image))
    });
    for verbosity in (0..3).rev() {
        let mut spans = vec![Span::styled(" Samples ", theme.strong())];
        if let Some((done, total)) = progress {
            let text = if verbosity > 0 {
                format!("{sep} drawing {done}/{total} ")
            } else {
                format!("{sep} {done}/{total} ")
            };
            spans.push(Span::styled(text, theme.warn()));
        }
        if let Some((step, value, unit)) = latest {
            spans.push(Span::styled(format!("{sep} val "), theme.muted()));
            spans.push(Span::styled(format!("{value:.3}"), theme.strong()));
            let unit = match verbosity {
                2 => format!(" {unit} @ {} ", format::thousands(step as u64)),
                1 => format!(" {unit} "),
                _ => " ".to_string(),
            };
            spans.push(Span::styled(unit, theme.muted()));
        }
        let line = Line::from(spans);
        if line.width() + 4 <= usize::from(width) || verbosity == 0 {
            return line;
        }
    }
    Line::default()
}

/// A lane's series of the first of the task's headline metrics it reports, with that headline
/// (its factor turns the series into its unit: the validation loss in nats into bits per pixel).
fn headline_series<'a, 'b>(app: &'b App, lane: &'a LaneData) -> Option<(&'a Series, &'b Headline)> {
    let face = app.model.face.as_ref()?;
    face.headline
        .iter()
        .find_map(|h| lane.evals.get(&h.metric).map(|s| (s, h)))
}

/// Validation loss of every lane in bits per pixel.
fn render_bits(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let span = app.model.x_span().unwrap_or((0.0, 0.0));
    let window = Window::new(area, theme, app.view.x_range(span), 0.0);
    let mut traces = Vec::new();
    for (i, lane) in app.model.lanes.iter().enumerate() {
        if let Some((series, Headline { factor, .. })) = headline_series(app, lane) {
            let mut t = traces::line(
                &window.columns_of(series),
                theme.lane(i),
                theme.line_marker(),
            );
            scale(&mut t, *factor);
            traces.push(t);
        }
    }
    let plot = Plot {
        traces: &traces,
        x_range: window.x,
        scale: Scale::Linear,
        rules: &[],
        y_fixed: None,
        empty: "validation bits/px appear after the first evaluation",
        theme,
    };
    frame.render_widget(&plot, area);
}

/// How the digits are laid out in an area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fit {
    /// Image pixels per displayed pixel along each axis (1 or 2).
    scale: usize,
    per_row: u16,
    rows: u16,
    cell_w: u16,
    cell_h: u16,
    height: u16,
}

/// Full resolution when it shows a few digits, half resolution when that shows more.
fn fit(d: &Digits, width: u16, height: u16) -> Option<Fit> {
    let layout = |scale: usize| -> Option<Fit> {
        let cell_w = d.cols.div_ceil(scale) as u16;
        let cell_h = d.rows.div_ceil(scale).div_ceil(2) as u16;
        if cell_w == 0 || cell_h == 0 || cell_w > width || cell_h > height {
            return None;
        }
        let per_row = ((width + GAP) / (cell_w + GAP)).min(d.count as u16);
        let rows = ((height + GAP) / (cell_h + GAP)).min((d.count as u16).div_ceil(per_row));
        let height = rows * cell_h + rows.saturating_sub(1) * GAP;
        Some(Fit {
            scale,
            per_row,
            rows,
            cell_w,
            cell_h,
            height,
        })
    };
    let shown = |f: &Fit| usize::from(f.per_row * f.rows);
    match (layout(1), layout(2)) {
        (Some(full), _) if shown(&full) >= d.count.min(3) => Some(full),
        (full, Some(half)) if full.as_ref().is_none_or(|f| shown(f) < shown(&half)) => Some(half),
        (full, half) => full.or(half),
    }
}

struct DigitGrid<'a> {
    digits: &'a Digits,
    theme: &'a Theme,
}

impl DigitGrid<'_> {
    /// The mean intensity of the drawn image pixels a displayed pixel covers, if any are drawn.
    fn pixel(&self, image: usize, row: usize, col: usize, scale: usize) -> Option<u8> {
        let d = self.digits;
        let per_image = d.rows * d.cols;
        let (mut sum, mut n) = (0u32, 0u32);
        for r in row * scale..((row + 1) * scale).min(d.rows) {
            for c in col * scale..((col + 1) * scale).min(d.cols) {
                let in_image = r * d.cols + c;
                // `pixels_done` counts raster positions within each image (images are sampled
                // in parallel); beyond one image's size it counts across images.
                let drawn = if d.pixels_done <= per_image {
                    in_image < d.pixels_done
                } else {
                    image * per_image + in_image < d.pixels_done
                };
                if drawn && let Some(&v) = d.pixels.get(image * per_image + in_image) {
                    sum += u32::from(v);
                    n += 1;
                }
            }
        }
        (n > 0).then(|| (sum / n) as u8)
    }
}

impl Widget for DigitGrid<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let Some(f) = fit(self.digits, area.width, area.height) else {
            return;
        };
        let theme = self.theme;
        for image in 0..usize::from(f.per_row * f.rows).min(self.digits.count) {
            let ox = area.x + (image as u16 % f.per_row) * (f.cell_w + GAP);
            let oy = area.y + (image as u16 / f.per_row) * (f.cell_h + GAP);
            for cy in 0..f.cell_h {
                for cx in 0..f.cell_w {
                    let (row, col) = (usize::from(cy) * 2, usize::from(cx));
                    let upper = self.pixel(image, row, col, f.scale);
                    let lower = self.pixel(image, row + 1, col, f.scale);
                    let cell = &mut buf[(ox + cx, oy + cy)];
                    let grey = |v: Option<u8>| v.map_or(Color::Reset, |v| theme.grey(v));
                    match (theme.color, theme.ascii, upper, lower) {
                        (_, _, None, None) => {}
                        (true, false, Some(_), _) => {
                            cell.set_symbol("▀")
                                .set_style(Style::new().fg(grey(upper)).bg(grey(lower)));
                        }
                        (true, false, None, Some(_)) => {
                            cell.set_symbol("▄").set_style(Style::new().fg(grey(lower)));
                        }
                        (true, true, _, _) => {
                            let mean = mean(upper, lower);
                            cell.set_symbol(" ")
                                .set_style(Style::new().bg(theme.grey(mean)));
                        }
                        (false, _, _, _) => {
                            let mean = mean(upper, lower);
                            cell.set_char(theme.shade(f32::from(mean) / 255.0));
                        }
                    }
                }
            }
        }
    }
}

fn mean(a: Option<u8>, b: Option<u8>) -> u8 {
    match (a, b) {
        (Some(a), Some(b)) => ((u16::from(a) + u16::from(b)) / 2) as u8,
        (a, b) => a.or(b).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` 28×28 images of a diagonal gradient, `done` pixels of them drawn.
    fn digits(count: usize, done: usize) -> Digits {
        let pixels = (0..count * 784)
            .map(|i| (((i % 28) + (i / 28) % 28) * 255 / 54) as u8)
            .collect();
        Digits {
            rows: 28,
            cols: 28,
            count,
            pixels,
            pixels_done: done,
        }
    }

    #[test]
    fn fit_prefers_full_resolution_when_it_shows_a_few() {
        let d = digits(8, 784);
        // 94×16: three full-size digits (28 columns × 14 rows each).
        let f = fit(&d, 94, 16).unwrap();
        assert_eq!((f.scale, f.per_row, f.rows, f.height), (1, 3, 1, 14));
        // 44×7: too short for full size; three half-size digits (14 × 7, gaps of 1).
        let f = fit(&d, 44, 7).unwrap();
        assert_eq!((f.scale, f.per_row, f.rows), (2, 3, 1));
        assert!(fit(&d, 5, 3).is_none());
    }

    #[test]
    fn undrawn_pixels_stay_blank() {
        let theme = Theme::new(false, true);
        // Only the first 2 rows of each image drawn.
        let d = digits(1, 56);
        let grid = DigitGrid {
            digits: &d,
            theme: &theme,
        };
        assert!(grid.pixel(0, 0, 0, 1).is_some());
        assert!(grid.pixel(0, 1, 27, 1).is_some());
        assert!(grid.pixel(0, 2, 0, 1).is_none());
        // Image-major progress: the whole first image and two rows of the second.
        let d = Digits {
            pixels_done: 784 + 56,
            ..digits(2, 784)
        };
        let grid = DigitGrid {
            digits: &d,
            theme: &theme,
        };
        assert!(grid.pixel(0, 27, 27, 1).is_some());
        assert!(grid.pixel(1, 1, 0, 1).is_some());
        assert!(grid.pixel(1, 2, 0, 1).is_none());
    }
}
