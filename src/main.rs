use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // One plain line per error (with its causes), never a backtrace: the messages name files,
    // fields and valid values, and that is what the user needs.
    match lodo_tui::run(lodo_tui::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not eprintln!: stderr may be a terminal that hung up, and that must not panic.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(lodo_tui::exit::status(&e))
        }
    }
}
