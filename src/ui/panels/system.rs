//! The system line: the run process's CPU, memory and threads and the machine's load, written
//! into the bottom border of the event log, right-aligned, in the longest form that fits.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::format;
use crate::schema::msg::SysStats;
use crate::ui::app::App;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let Some(stats) = &app.model.system else {
        return;
    };
    // Inside the border's corners, with a dash of border kept at the right.
    if area.height < 2 || area.width < 8 {
        return;
    }
    let room = usize::from(area.width) - 4;
    let sep = app.theme.glyphs().sep;
    let Some(text) = forms(stats, sep)
        .into_iter()
        .map(|t| format!(" {t} "))
        .find(|t| t.chars().count() <= room)
    else {
        return;
    };
    let width = text.chars().count() as u16;
    let row = Rect {
        x: area.right() - 2 - width,
        y: area.bottom() - 1,
        width,
        height: 1,
    };
    let line = Line::from(Span::styled(text, app.theme.muted()));
    frame.render_widget(Paragraph::new(line), row);
}

/// The line from longest to shortest.
pub fn forms(s: &SysStats, sep: &str) -> Vec<String> {
    let all_unknown = s.cpu_percent.is_none()
        && s.rss_bytes.is_none()
        && s.threads.is_none()
        && s.load1.is_none();
    if all_unknown {
        return vec!["system n/a".into()];
    }
    let cpu = format!("cpu {}", s.cpu_percent.map_or("–".into(), percent));
    let mem = s.rss_bytes.map_or("–".into(), format::bytes);
    let threads = s.threads.map_or("–".into(), |n| n.to_string());
    let load = s.load1.map_or("–".into(), |l| format!("{l:.2}"));
    let cores = s.cores.map_or("–".into(), |n| n.to_string());
    vec![
        format!("{cpu} {sep} mem {mem} {sep} {threads} threads {sep} load {load} on {cores} cores"),
        format!("{cpu} {sep} {mem} {sep} {threads} thr {sep} load {load}/{cores}"),
        format!("{cpu} {sep} {mem}"),
    ]
}

fn percent(p: f64) -> String {
    if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_shorten_and_unknowns_say_so() {
        let s = SysStats {
            cpu_percent: Some(98.4),
            rss_bytes: Some(412_300_000),
            threads: Some(9),
            load1: Some(1.934),
            cores: Some(2),
        };
        assert_eq!(
            forms(&s, "·"),
            [
                "cpu 98% · mem 412 MB · 9 threads · load 1.93 on 2 cores",
                "cpu 98% · 412 MB · 9 thr · load 1.93/2",
                "cpu 98% · 412 MB",
            ]
        );
        let first = SysStats {
            cpu_percent: None,
            ..s.clone()
        };
        assert!(forms(&first, "|")[0].starts_with("cpu – | mem 412 MB"));
        assert_eq!(forms(&SysStats::default(), "·"), ["system n/a"]);
    }
}
