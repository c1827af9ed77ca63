//! One frame: the panels where the layout puts them, then whatever dialog is open.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::{App, Mode};
use super::layout;
use super::model::Phase;
use super::panels::{
    dialog, dynamics, events, header, help, keybar, loss, optimizer, picker, system, task,
    too_small,
};

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    match layout::split(area, header::height(app)) {
        None => too_small::render(frame, area, &app.theme),
        Some(a) => {
            header::render(frame, a.header, app);
            loss::render(frame, a.loss, app);
            optimizer::render(frame, a.optimizer, app);
            dynamics::render(frame, a.dynamics, app);
            task::render(frame, a.task, app);
            let lanes = app.model.lanes.len();
            events::render(frame, a.events, app.model.events.iter(), lanes, &app.theme);
            system::render(frame, a.events, app);
            keybar::render(frame, a.keys, app);
        }
    }
    overlay(frame, area, app);
}

fn overlay(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let focus = app.view.focus;
    let purpose = |race| picker::Purpose {
        race,
        lane: focus,
        current: app.model.lanes.get(focus).map(|l| l.optimizer()),
    };
    match &app.mode {
        Mode::Help => help::render(frame, area, &app.view, app.read_only, theme),
        Mode::Picker(p) => {
            picker::render(frame, area, p, app.alternatives(), &purpose(false), theme)
        }
        Mode::Race(p) => picker::render(frame, area, p, app.alternatives(), &purpose(true), theme),
        Mode::ConfirmQuit => dialog::confirm_quit(frame, area, theme, app.run_id.is_some()),
        Mode::Stopping => dialog::stopping(frame, area, theme),
        Mode::Normal => {
            if let Phase::Failed(message) = app.model.phase()
                && !app.error_dismissed
            {
                dialog::failure(frame, area, &message, theme);
            }
        }
    }
}
