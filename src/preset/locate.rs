//! Field paths inside RON text (`optimizer.lr`, `alternatives[2].name`).
//!
//! RON reports where a preset is malformed but not which field the position belongs to, and our
//! own semantic checks (unknown optimizer, bad hyperparameter) know the field but not where it is.
//! This small scanner bridges both ways. It understands only what it needs: strings, comments and
//! bracket nesting, `key:` inside `( … )` and elements inside `[ … ]`.

/// Line and column (both 1-based, columns in characters), as RON reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub col: usize,
}

/// Where a scan stopped: the path of the enclosing container and of the value at that point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Path of the innermost open `( … )` or `[ … ]` ("" at the top level).
    pub container: String,
    /// Whether that container is a struct/tuple `( … )` (rather than a list).
    pub in_parens: bool,
    /// Path of the field or element being read at that point.
    pub value: String,
}

struct Frame {
    path: String,
    parens: bool,
    key: Option<String>,
    index: usize,
}

impl Frame {
    fn value_path(&self) -> String {
        if self.parens {
            match &self.key {
                Some(key) => join(&self.path, key),
                None => self.path.clone(),
            }
        } else {
            format!("{}[{}]", self.path, self.index)
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Scans `text` up to byte offset `stop`, calling `entry(path, offset)` at every field key and
/// list element, and returns where the scan stopped.
fn scan(text: &str, stop: usize, entry: &mut dyn FnMut(&str, usize)) -> Cursor {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut element_pending = false;
    let mut i = 0;
    while i < bytes.len().min(stop) {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = text[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
            continue;
        }
        if element_pending && c != b']' {
            if let Some(top) = stack.last() {
                entry(&top.value_path(), i);
            }
            element_pending = false;
        }
        match c {
            b'"' => i = skip_string(bytes, i),
            b'(' | b'[' | b'{' => {
                let path = stack.last().map(Frame::value_path).unwrap_or_default();
                stack.push(Frame {
                    path,
                    parens: c != b'[',
                    key: None,
                    index: 0,
                });
                element_pending = c == b'[';
                i += 1;
            }
            b')' | b']' | b'}' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                if let Some(top) = stack.last_mut().filter(|f| !f.parens) {
                    top.index += 1;
                    element_pending = true;
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let rest = text[i..].trim_start();
                if let Some(top) = stack.last_mut().filter(|f| f.parens)
                    && rest.starts_with(':')
                {
                    top.key = Some(text[start..i].to_string());
                    entry(&top.value_path(), start);
                }
            }
            _ => i += 1,
        }
    }
    match stack.last() {
        Some(top) => Cursor {
            container: top.path.clone(),
            in_parens: top.parens,
            value: top.value_path(),
        },
        None => Cursor::default(),
    }
}

/// Index just past the string literal starting at `start` (a `"`).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The path of the value being read at `pos`.
pub fn cursor_at(text: &str, pos: Position) -> Cursor {
    scan(text, offset_of(text, pos), &mut |_, _| {})
}

/// Where the field or element `path` first appears.
pub fn position_of(text: &str, path: &str) -> Option<Position> {
    let mut found = None;
    scan(text, text.len(), &mut |p, offset| {
        if found.is_none() && p == path {
            found = Some(offset);
        }
    });
    found.map(|offset| position_at(text, offset))
}

/// Byte offset of a line/column position (clamped to the text).
pub fn offset_of(text: &str, pos: Position) -> usize {
    let mut line_start = 0;
    for _ in 1..pos.line {
        match text[line_start..].find('\n') {
            Some(n) => line_start += n + 1,
            None => return text.len(),
        }
    }
    text[line_start..]
        .char_indices()
        .nth(pos.col.saturating_sub(1))
        .map_or(text.len(), |(n, _)| line_start + n)
}

/// Line/column position of a byte offset.
pub fn position_at(text: &str, offset: usize) -> Position {
    let before = &text[..offset.min(text.len())];
    let line = 1 + before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    Position {
        line,
        col: 1 + before[line_start..].chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"// a comment with name: "x" and ( [
(
    name: "demo",
    task: (name: "quadratic", eigenvalues: Some((0.001, 1.0))),
    /* block ( */ optimizer: (name: "lodo", lr: 0.1),
    alternatives: [
        (name: "adam", lr: 1e-3),
        (name: "lodo-sgd", meta_lr: "oops"),
    ],
)
"#;

    fn pos(line: usize, col: usize) -> Position {
        Position { line, col }
    }

    #[test]
    fn finds_nested_fields_and_list_elements() {
        assert_eq!(position_of(TEXT, "name"), Some(pos(3, 5)));
        assert_eq!(position_of(TEXT, "task.eigenvalues"), Some(pos(4, 31)));
        assert_eq!(position_of(TEXT, "optimizer.lr"), Some(pos(5, 45)));
        assert_eq!(position_of(TEXT, "alternatives[1]"), Some(pos(8, 9)));
        assert_eq!(
            position_of(TEXT, "alternatives[1].meta_lr"),
            Some(pos(8, 28))
        );
        assert_eq!(position_of(TEXT, "alternatives[2]"), None);
    }

    #[test]
    fn cursor_names_the_field_whose_value_is_at_a_position() {
        // The `"oops"` string on line 8.
        let at = cursor_at(TEXT, pos(8, 37));
        assert_eq!(at.value, "alternatives[1].meta_lr");
        assert_eq!(at.container, "alternatives[1]");
        assert!(at.in_parens);
        // Inside the tuple of `Some(( … ))`.
        assert_eq!(cursor_at(TEXT, pos(4, 51)).value, "task.eigenvalues");
        // Between list elements.
        let between = cursor_at(TEXT, pos(7, 9));
        assert_eq!(between.value, "alternatives[0]");
        assert!(!between.in_parens);
    }

    #[test]
    fn offsets_and_positions_round_trip() {
        for offset in [0, 5, 40, TEXT.len()] {
            assert_eq!(offset_of(TEXT, position_at(TEXT, offset)), offset);
        }
    }
}
