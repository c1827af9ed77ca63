//! Command-line interface.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "lodo-tui",
    version,
    about = "Watch LODO, a learned quasi-Newton optimizer, train"
)]
pub struct Cli {}
