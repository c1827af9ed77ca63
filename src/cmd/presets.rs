//! `lodo-tui presets [NAME]`: the built-in presets, or one of them as RON.

use anyhow::Result;

use crate::{preset, table};

pub fn run(name: Option<&str>) -> Result<()> {
    if let Some(name) = name {
        let (_, text) = preset::builtin::find(name)?;
        print!("{text}");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = preset::builtin::BUILTIN
        .iter()
        .map(|(name, text)| {
            let description = preset::Preset::parse_syntax(text, name)
                .map(|p| p.description)
                .unwrap_or_else(|e| format!("(invalid: {e})"));
            vec![name.to_string(), description]
        })
        .collect();
    let headers = ["preset".to_string(), "description".to_string()];
    print!("{}", table::plain(&headers, &rows));
    println!(
        "\n`lodo-tui presets NAME` prints one as RON: save it, edit it, run it with \
         `--preset FILE.ron`."
    );
    Ok(())
}
