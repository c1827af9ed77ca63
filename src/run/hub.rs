//! The hub: the one thread that owns the trainer's message receiver, fanning every message out to
//! the in-process observer (lossless, in order) and to each viewer (bounded, never waited for).
//!
//! A viewer gets its own bounded queue of encoded frames, filled with `try_send` only, so a slow
//! or stuck viewer never slows training. When its queue is full, step and point batches are
//! skipped (it is told how many once it catches up); other messages wait in its backlog, and a
//! viewer whose backlog has not moved for [`STUCK_LIMIT`] is dropped with a goodbye.

use std::collections::VecDeque;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::train::Msg;

use super::protocol::{self, MAX_TO_VIEWER, ToViewer};
use super::snapshot::{STEPS_PER_MSG, Snapshot};
use super::sysinfo::Sampler;

/// Frames a viewer's queue holds: several seconds of step batches at ~50 a second.
pub const QUEUE: usize = 256;
/// A viewer whose non-step messages could not be queued for this long is dropped.
pub const STUCK_LIMIT: Duration = Duration::from_secs(5);
/// Non-step messages waiting for a viewer beyond which it is dropped at once.
const MAX_BACKLOG: usize = 4_096;
/// How often waiting backlogs are retried when the trainer is quiet (paused).
const TICK: Duration = Duration::from_millis(100);
/// How often the run process's resource use is sampled and sent to viewers that want it.
pub const SYSTEM_EVERY: Duration = Duration::from_secs(1);

/// An encoded frame, shared by every viewer it goes to.
pub type Frame = Arc<Vec<u8>>;

/// What a viewer's writer thread is handed when it joins.
pub struct Joined {
    pub id: u64,
    /// The history so far, to send before the queue.
    pub snapshot: Vec<Msg>,
    pub queue: Receiver<Frame>,
    /// Set before the queue is closed: the goodbye to write after what is queued.
    pub farewell: Arc<Mutex<Option<Frame>>>,
}

struct Viewer {
    id: u64,
    queue: SyncSender<Frame>,
    backlog: VecDeque<Frame>,
    /// When the backlog last could not move.
    stuck_since: Option<Instant>,
    /// Step and point batches skipped since the viewer last received one.
    skipped: u64,
    farewell: Arc<Mutex<Option<Frame>>>,
    /// To close the connection from here.
    stream: UnixStream,
    /// It asked for system readings in its hello.
    system: bool,
}

impl Viewer {
    /// Moves what it can from the backlog into the queue; `false` if the viewer is gone.
    fn flush(&mut self, now: Instant) -> bool {
        while let Some(frame) = self.backlog.front() {
            match self.queue.try_send(frame.clone()) {
                Ok(()) => {
                    self.backlog.pop_front();
                    self.stuck_since = None;
                }
                Err(TrySendError::Full(_)) => {
                    self.stuck_since.get_or_insert(now);
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        true
    }

    /// Offers a frame; step batches are skipped rather than queued behind a backlog.
    fn offer(&mut self, frame: &Frame, thinnable: bool, now: Instant) -> bool {
        if !self.flush(now) {
            return false;
        }
        if !thinnable {
            self.backlog.push_back(frame.clone());
            return self.flush(now);
        }
        if !self.backlog.is_empty() {
            self.skipped += 1;
            return true;
        }
        if self.skipped > 0 {
            let note = format!(
                "your stream was thinned: {} step batches skipped",
                self.skipped
            );
            match encode(&ToViewer::<&Msg>::Note(note)) {
                Some(note) => match self.queue.try_send(note) {
                    Ok(()) => self.skipped = 0,
                    Err(TrySendError::Full(_)) => {
                        self.skipped += 1;
                        return true;
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                },
                None => self.skipped = 0,
            }
        }
        match self.queue.try_send(frame.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.skipped += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn stuck(&self, now: Instant) -> bool {
        self.backlog.len() > MAX_BACKLOG
            || self
                .stuck_since
                .is_some_and(|t| now.duration_since(t) >= STUCK_LIMIT)
    }

    /// Leaves `reason` as the last frame and closes the queue (by being dropped).
    fn say_goodbye(&self, reason: &str) {
        if let Ok(mut farewell) = self.farewell.lock() {
            *farewell = encode(&ToViewer::<&Msg>::Goodbye(reason.to_string()));
        }
    }
}

#[derive(Default)]
struct State {
    snapshot: Snapshot,
    viewers: Vec<Viewer>,
    next_id: u64,
    /// Why the stream ended (the trainer finished), told to viewers who join later.
    ended: Option<String>,
}

/// The hub's shared state; cloned by the server to let viewers join and leave.
#[derive(Clone, Default)]
pub struct Hub {
    state: Arc<Mutex<State>>,
}

fn encode(value: &ToViewer<&Msg>) -> Option<Frame> {
    // A message too big for one frame is not sent to viewers (the snapshot and the splitting of
    // step batches keep real messages far below the limit).
    protocol::encode(value, MAX_TO_VIEWER).ok().map(Arc::new)
}

/// A message as frames, step and point batches split so each frame stays small.
fn frames(msg: &Msg) -> Vec<Frame> {
    let parts: Vec<Msg> = match msg {
        Msg::Steps(records) if records.len() > STEPS_PER_MSG => records
            .chunks(STEPS_PER_MSG)
            .map(|c| Msg::Steps(c.to_vec()))
            .collect(),
        Msg::Points(points) if points.len() > STEPS_PER_MSG => points
            .chunks(STEPS_PER_MSG)
            .map(|c| Msg::Points(c.to_vec()))
            .collect(),
        _ => return encode(&ToViewer::Msg(msg)).into_iter().collect(),
    };
    parts
        .iter()
        .filter_map(|m| encode(&ToViewer::Msg(m)))
        .collect()
}

/// Encodes a history for a joining viewer, split like the live stream.
pub fn snapshot_frames(snapshot: &[Msg]) -> impl Iterator<Item = Frame> + '_ {
    snapshot.iter().flat_map(frames)
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; serving it is still safe.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the hub thread: it reads `messages` until the trainer hangs up.
    pub fn start(&self, messages: Receiver<Msg>, observer: Sender<Msg>) -> anyhow::Result<()> {
        let hub = self.clone();
        std::thread::Builder::new()
            .name("lodo-hub".into())
            .spawn(move || hub.run(messages, observer))
            .map(|_: JoinHandle<()>| ())
            .context("cannot start the hub thread")
    }

    fn run(&self, messages: Receiver<Msg>, observer: Sender<Msg>) {
        // Sampled every second whether or not anyone watches, so the first reading a viewer
        // gets already covers a full interval.
        let mut sampler = Sampler::new();
        sampler.sample();
        let mut next_sample = Instant::now() + SYSTEM_EVERY;
        loop {
            match messages.recv_timeout(TICK) {
                Ok(msg) => {
                    self.publish(&msg);
                    // An observer that has gone (a detached dashboard) is not a reason to stop.
                    let _ = observer.send(msg);
                }
                Err(RecvTimeoutError::Timeout) => self.flush_all(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            if now >= next_sample {
                next_sample = now + SYSTEM_EVERY;
                self.publish_system(&Msg::System(sampler.sample()));
            }
        }
        self.end("the run has ended");
    }

    /// Offers a system reading to the viewers that asked for one; like a step batch, it is
    /// skipped for a viewer that is behind, and it is not part of the history.
    fn publish_system(&self, msg: &Msg) {
        let mut state = self.lock();
        if !state.viewers.iter().any(|v| v.system) {
            return;
        }
        let Some(frame) = encode(&ToViewer::Msg(msg)) else {
            return;
        };
        let now = Instant::now();
        state.viewers.retain_mut(|v| {
            let alive = !v.system || v.offer(&frame, true, now);
            keep_or_drop(v, alive, now)
        });
    }

    fn publish(&self, msg: &Msg) {
        let mut state = self.lock();
        state.snapshot.record(msg);
        if state.viewers.is_empty() {
            return;
        }
        let thinnable = matches!(msg, Msg::Steps(_) | Msg::Points(_));
        let frames = frames(msg);
        let now = Instant::now();
        state.viewers.retain_mut(|v| {
            let alive = frames.iter().all(|f| v.offer(f, thinnable, now));
            keep_or_drop(v, alive, now)
        });
    }

    fn flush_all(&self) {
        let now = Instant::now();
        self.lock().viewers.retain_mut(|v| {
            let alive = v.flush(now);
            keep_or_drop(v, alive, now)
        });
    }

    /// Says goodbye to every viewer; later ones get the history and the same goodbye.
    fn end(&self, reason: &str) {
        let mut state = self.lock();
        for v in &state.viewers {
            v.say_goodbye(reason);
        }
        state.viewers.clear();
        state.ended = Some(reason.to_string());
    }

    /// Registers a viewer: from now on it receives every message, after the returned history.
    pub fn join(&self, stream: UnixStream, system: bool) -> Joined {
        let mut state = self.lock();
        let (queue, rx) = sync_channel(QUEUE);
        let farewell = Arc::new(Mutex::new(None));
        state.next_id += 1;
        let id = state.next_id;
        let snapshot = state.snapshot.messages();
        match state.ended.clone() {
            Some(reason) => {
                if let Ok(mut f) = farewell.lock() {
                    *f = encode(&ToViewer::<&Msg>::Goodbye(reason));
                }
            }
            None => state.viewers.push(Viewer {
                id,
                queue,
                backlog: VecDeque::new(),
                stuck_since: None,
                skipped: 0,
                farewell: farewell.clone(),
                stream,
                system,
            }),
        }
        Joined {
            id,
            snapshot,
            queue: rx,
            farewell,
        }
    }

    /// Tells one viewer something, after what it has been sent so far.
    pub fn note(&self, id: u64, text: String) {
        let Some(frame) = encode(&ToViewer::<&Msg>::Note(text)) else {
            return;
        };
        let now = Instant::now();
        if let Some(v) = self.lock().viewers.iter_mut().find(|v| v.id == id) {
            v.offer(&frame, false, now);
        }
    }

    /// Forgets a viewer that left.
    pub fn leave(&self, id: u64) {
        self.lock().viewers.retain(|v| v.id != id);
    }

    pub fn viewers(&self) -> usize {
        self.lock().viewers.len()
    }

    /// Closes every viewer's connection (the server is going away).
    pub fn close_all(&self, reason: &str) {
        let mut state = self.lock();
        for v in &state.viewers {
            v.say_goodbye(reason);
            let _ = v.stream.shutdown(std::net::Shutdown::Read);
        }
        state.viewers.clear();
    }
}

/// Keeps a live viewer that keeps up; drops a gone one, or a stuck one with a goodbye.
fn keep_or_drop(v: &Viewer, alive: bool, now: Instant) -> bool {
    if !alive {
        return false;
    }
    if v.stuck(now) {
        v.say_goodbye(&format!(
            "dropped: your connection could not keep up for {} s",
            STUCK_LIMIT.as_secs()
        ));
        return false;
    }
    true
}
