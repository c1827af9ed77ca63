//! lodo-tui: train neural networks and synthetic problems with LODO and watch the run live.

pub mod builders;
pub mod cli;
pub mod cmd;
pub mod data;
pub mod exit;
pub mod format;
pub mod headless;
pub mod jsonfloat;
pub mod launch;
pub mod optim;
pub mod output_file;
pub mod preset;
pub mod record;
pub mod run;
pub mod schema;
pub mod table;
pub mod task;
pub mod train;
pub mod ui;

#[cfg(test)]
pub mod testkit;

/// Runs the program for parsed command-line arguments.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    ignore_file_size_signal();
    cmd::run(cli)
}

/// A file size limit (`ulimit -f`) kills a process that writes past it with SIGXFSZ: no summary,
/// no message, a temporary file left behind. Ignored, the write fails with EFBIG instead, and the
/// run stops cleanly and says what it could not save.
fn ignore_file_size_signal() {
    // SAFETY: SIG_IGN installs no handler; nothing else in the program handles SIGXFSZ.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
