//! `lodo-tui completions SHELL` and `lodo-tui man`: both generated from the command-line
//! definition itself, so they list exactly the subcommands and options the binary takes.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "lodo-tui", out);
    out.flush().context("cannot write the completion script")
}

/// Writes the manual page: the main page, then one section per subcommand, as one roff document.
pub fn man(out: &mut dyn Write) -> Result<()> {
    let command = Cli::command();
    clap_mangen::Man::new(command.clone())
        .render(out)
        .context("cannot write the manual page")?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("lodo-tui {}", sub.get_name());
        let page = clap_mangen::Man::new(sub.clone());
        writeln!(out, ".SH \"{}\"", name.to_uppercase()).context("cannot write the manual page")?;
        page.render_description_section(out)
            .and_then(|()| page.render_options_section(out))
            .with_context(|| format!("cannot write the manual page section of {name}"))?;
    }
    out.flush().context("cannot write the manual page")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .filter(|n| n != "help")
            .collect()
    }

    #[test]
    fn completions_offer_every_subcommand_and_option() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            for name in subcommands() {
                assert!(text.contains(&name), "{shell}: no `{name}`");
            }
            for option in ["preset", "optimizer", "grad-evals", "checkpoint-dir"] {
                assert!(text.contains(option), "{shell}: no `{option}`");
            }
        }
    }

    #[test]
    fn man_page_is_roff_with_a_section_per_subcommand() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(".ie") || text.starts_with(".TH"),
            "{}",
            &text[..40]
        );
        assert!(text.contains(".TH lodo-tui 1"), "no title header");
        for name in subcommands() {
            let heading = format!(".SH \"LODO-TUI {}\"", name.to_uppercase());
            assert!(text.contains(&heading), "no section {heading}");
        }
        assert!(
            text.contains("grad\\-evals"),
            "compare's options are missing"
        );
    }
}
