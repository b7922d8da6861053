//! Diagnostics: problems found in user input, collected (never fail-fast) and rendered as
//! `severity[kind]: file:line:col: message`.
//!
//! Every reader in emsweep reports through [`Diagnostics`]; a reader keeps going after a problem
//! where it can, so a user sees every problem of a file at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is. Errors make the item (package, e-model, mechanism) fail; warnings and
/// notes are reported and the item goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A position in a text file: 1-based line and column (column counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct LineCol {
    pub line: u32,
    pub col: u32,
}

impl LineCol {
    /// The line and column of byte offset `offset` in `text` (clamped to the end of the text).
    pub fn of_offset(text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() as u32 + 1;
        LineCol { line, col }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One problem, with where it is and what kind it is. `kind` is a short stable name
/// (`json-syntax`, `missing-key`, `unknown-name`, ...) that tests and scripts can match on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: &'static str,
    pub file: PathBuf,
    /// Absent when the problem concerns the file as a whole (missing, unreadable).
    pub pos: Option<LineCol>,
    pub message: String,
    /// Further lines of explanation, printed indented below the message.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        kind: &'static str,
        file: impl Into<PathBuf>,
        pos: Option<LineCol>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            kind,
            file: file.into(),
            pos,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    pub fn error(
        kind: &'static str,
        file: impl Into<PathBuf>,
        pos: Option<LineCol>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, kind, file, pos, message)
    }

    pub fn warning(
        kind: &'static str,
        file: impl Into<PathBuf>,
        pos: Option<LineCol>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, kind, file, pos, message)
    }

    pub fn note(
        kind: &'static str,
        file: impl Into<PathBuf>,
        pos: Option<LineCol>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Note, kind, file, pos, message)
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// `file:line:col` (or just `file`), with the path shown relative to `base` when it lies below it.
    pub fn location(&self, base: Option<&Path>) -> String {
        let shown = base
            .and_then(|b| self.file.strip_prefix(b).ok())
            .unwrap_or(&self.file);
        match self.pos {
            Some(p) => format!("{}:{}:{}", shown.display(), p.line, p.col),
            None => shown.display().to_string(),
        }
    }

    /// The one-line rendering `severity[kind]: file:line:col: message` plus indented notes.
    pub fn render(&self, base: Option<&Path>) -> String {
        let mut s = format!(
            "{}[{}]: {}: {}",
            self.severity,
            self.kind,
            self.location(base),
            self.message
        );
        for n in &self.notes {
            s.push_str("\n    = ");
            s.push_str(n);
        }
        s
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

/// A collector of diagnostics, in the order they were found.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_chars() {
        let t = "ab\ncdé\nf";
        assert_eq!(LineCol::of_offset(t, 0), LineCol { line: 1, col: 1 });
        assert_eq!(LineCol::of_offset(t, 3), LineCol { line: 2, col: 1 });
        // 'é' is two bytes: the offset after it is column 4 of line 2
        assert_eq!(LineCol::of_offset(t, 7), LineCol { line: 2, col: 4 });
        assert_eq!(LineCol::of_offset(t, 8), LineCol { line: 3, col: 1 });
        assert_eq!(LineCol::of_offset(t, 100), LineCol { line: 3, col: 2 });
    }

    #[test]
    fn render_has_file_line_col_and_kind() {
        let d = Diagnostic::error(
            "missing-key",
            "/a/b/final.json",
            Some(LineCol { line: 3, col: 5 }),
            "no key `x`",
        )
        .with_note("keys present: y");
        assert_eq!(
            d.render(Some(Path::new("/a"))),
            "error[missing-key]: b/final.json:3:5: no key `x`\n    = keys present: y"
        );
    }
}
