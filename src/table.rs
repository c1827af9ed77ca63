//! Small text tables for the headless summary and `compare` (their numbers are
//! [`crate::format::cell`]s).

fn widths(headers: &[String], rows: &[Vec<String>]) -> Vec<usize> {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(cell.chars().count());
            }
        }
    }
    w
}

fn pad(cell: &str, width: usize) -> String {
    format!(
        "{cell}{}",
        " ".repeat(width.saturating_sub(cell.chars().count()))
    )
}

/// The metric columns of a table over several rows' metrics: each name once, nats (the paper's
/// unit) before bits, otherwise by name.
pub fn metric_columns<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut names: Vec<&String> = names.collect();
    names.sort_by_key(|m| (m.contains("bits"), m.as_str()));
    names.dedup();
    names
}

/// A GitHub-flavoured markdown table with aligned columns.
pub fn markdown(headers: &[String], rows: &[Vec<String>]) -> String {
    let w = widths(headers, rows);
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&w).map(|(c, &w)| pad(c, w)).collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(headers);
    let rule: Vec<String> = w.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// Plain aligned columns separated by two spaces.
pub fn plain(headers: &[String], rows: &[Vec<String>]) -> String {
    let w = widths(headers, rows);
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&w).map(|(c, &w)| pad(c, w)).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_align() {
        let h = vec!["a".to_string(), "long".to_string()];
        let rows = vec![vec!["xyz".to_string(), "1".to_string()]];
        assert_eq!(
            markdown(&h, &rows),
            "| a   | long |\n|-----|------|\n| xyz | 1    |\n"
        );
        assert_eq!(plain(&h, &rows), "a    long\nxyz  1\n");
    }

    #[test]
    fn metric_columns_put_nats_before_bits_once_each() {
        let names: Vec<String> = [
            "val_full_bits_per_pixel",
            "val_loss",
            "val_full_nats",
            "val_loss",
        ]
        .map(String::from)
        .to_vec();
        let cols = metric_columns(names.iter());
        assert_eq!(
            cols,
            ["val_full_nats", "val_loss", "val_full_bits_per_pixel"]
        );
    }
}
