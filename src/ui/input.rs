//! Keyboard and resize input on a thread of its own.
//!
//! crossterm's reader spins forever, inside `poll`, on a terminal that has hung up (an SSH session
//! that dropped, a killed tmux). Reading on a separate thread keeps the event loop free to notice
//! the hang-up signal, stop the trainer properly and leave; the reader also checks for the
//! hang-up itself between polls, so in the common case it reports it and ends.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event};

/// How often the reader looks at the stop flag and for a hang-up while no key arrives.
const POLL: Duration = Duration::from_millis(100);

/// What the reader thread reports.
#[derive(Debug)]
pub enum Input {
    Event(Event),
    /// The terminal went away; nothing more will arrive.
    HungUp,
    /// Reading failed; the message says why.
    Failed(String),
}

/// The reader thread's channel; dropping it stops the thread within [`POLL`], so it does not take
/// keys meant for the shell once the dashboard has gone.
pub struct InputReader {
    pub events: Receiver<Input>,
    stop: Arc<AtomicBool>,
}

impl InputReader {
    pub fn spawn() -> anyhow::Result<Self> {
        let (tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        thread::Builder::new()
            .name("input".into())
            .spawn(move || read_until_stopped(&tx, &flag))?;
        Ok(Self { events, stop })
    }
}

impl Drop for InputReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn read_until_stopped(tx: &Sender<Input>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        if input_hung_up() {
            let _ = tx.send(Input::HungUp);
            return;
        }
        let next = match event::poll(POLL) {
            Ok(false) => continue,
            Ok(true) => event::read().map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let (input, last) = match next {
            Ok(ev) => (Input::Event(ev), false),
            Err(e) => (Input::Failed(format!("reading the terminal: {e}")), true),
        };
        if tx.send(input).is_err() || last {
            return;
        }
    }
}

/// Whether standard input is a terminal that has hung up, asked of poll(2) directly because
/// crossterm does not report it.
fn input_hung_up() -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&now)) {
        Ok(n) if n > 0 => fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL),
        _ => false,
    }
}
