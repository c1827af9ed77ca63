//! The two ends of a running trainer as its observers see them.

use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;

use crate::schema::{Command, Msg};

/// Channels to and from a trainer thread, plus the thread itself.
///
/// Dropping the command sender (or sending `Command::Quit`) ends the trainer; it also ends on its
/// own when every message receiver has hung up.
pub struct TrainerHandle {
    pub commands: Sender<Command>,
    pub messages: Receiver<Msg>,
    thread: Option<JoinHandle<()>>,
}

impl TrainerHandle {
    pub fn new(
        commands: Sender<Command>,
        messages: Receiver<Msg>,
        thread: Option<JoinHandle<()>>,
    ) -> Self {
        Self {
            commands,
            messages,
            thread,
        }
    }

    /// The command sender, the message receiver and the thread, for a wrapper that puts itself
    /// between the trainer and its observer (the run server).
    pub fn into_parts(self) -> (Sender<Command>, Receiver<Msg>, Option<JoinHandle<()>>) {
        (self.commands, self.messages, self.thread)
    }

    /// Sends a command; a trainer that has already stopped is not an error for the caller.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Asks the trainer to quit and waits for its thread; reports a trainer panic as an error.
    ///
    /// The message receiver is dropped first, so a trainer waiting for room in a full channel
    /// sees the hang-up instead of waiting forever.
    pub fn shutdown(self) -> anyhow::Result<()> {
        join(self.hang_up())
    }

    /// Sends `Quit`, drops the receiver and hands back the thread to wait for.
    fn hang_up(self) -> Option<JoinHandle<()>> {
        let TrainerHandle {
            commands,
            messages,
            thread,
        } = self;
        let _ = commands.send(Command::Quit);
        drop(messages);
        thread
    }

    /// Like [`shutdown`](Self::shutdown), but waits at most `patience`; a trainer still busy
    /// after that (in a long step or checkpoint) is left to end with the process.
    pub fn shutdown_within(self, patience: std::time::Duration) -> anyhow::Result<()> {
        let thread = self.hang_up();
        let deadline = std::time::Instant::now() + patience;
        while thread.as_ref().is_some_and(|t| !t.is_finished()) {
            if std::time::Instant::now() >= deadline {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        join(thread)
    }

    /// Lets go of a run served elsewhere without asking it to stop: a viewer detaching. (On an
    /// in-process trainer this drops the command sender, which ends it.)
    pub fn detach(self) {
        drop(self);
    }

    /// Waits for a trainer that ends by itself (max steps reached, observer gone) without asking
    /// it to quit.
    pub fn join(mut self) -> anyhow::Result<()> {
        join(self.thread.take())
    }
}

fn join(thread: Option<JoinHandle<()>>) -> anyhow::Result<()> {
    match thread {
        Some(thread) => thread
            .join()
            .map_err(|_| anyhow::anyhow!("the trainer thread panicked")),
        None => Ok(()),
    }
}
