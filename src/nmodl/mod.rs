//! The NMODL front end: a .mod file of a density channel in, one [`crate::ir::Mechanism`] out, or
//! every problem of the file as diagnostics.
//!
//! Stages: [`lexer`] (tokens with byte spans), [`parser`] (syntax tree, every syntax error),
//! [`sema`] (symbol table and the rules of the supported subset), [`lower`] (symbolic execution
//! into the IR, cnexp and derivimplicit, the finite-difference conductance), then the IR validator.
//!
//! What is outside the subset is reported as `unsupported` ("not supported in a density channel:
//! VERBATIM", POINTER, BBCOREPOINTER, NET_RECEIVE, KINETIC, LINEAR, NONLINEAR, ...). A
//! POINT_PROCESS or ARTIFICIAL_CELL file (a synapse, a spike source) gets a single note saying so:
//! it is not a channel, so its other constructs are not listed. TABLE statements are recorded and
//! ignored: emsweep evaluates the tabulated functions exactly, which matches NEURON run with
//! `usetable_<suffix> = 0`. Nothing here panics on any input.

pub mod ast;
pub mod builtin;
pub mod lexer;
pub mod lower;
pub mod parser;
pub mod report;
pub mod resolve;
pub mod sema;
pub mod units;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, LineCol};
use crate::ir;

pub use sema::FileKind;

/// The result of compiling one file.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub path: PathBuf,
    pub kind: FileKind,
    /// The SUFFIX (or point process name), when the file has one.
    pub name: Option<String>,
    /// Present when the file compiled without errors.
    pub mechanism: Option<ir::Mechanism>,
    /// The validator's side table of `mechanism`.
    pub info: Option<ir::Info>,
    pub diagnostics: Diagnostics,
}

impl Compiled {
    /// The distinct constructs reported as unsupported, in order of appearance.
    pub fn unsupported(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in self.diagnostics.iter() {
            if d.kind == "unsupported" {
                let c = d
                    .message
                    .strip_prefix("not supported in a density channel: ")
                    .unwrap_or(&d.message)
                    .to_string();
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }
}

/// Compile the file at `path`.
pub fn compile_file(path: &Path) -> Compiled {
    match std::fs::read(path) {
        Ok(bytes) => compile_bytes(path, &bytes),
        Err(e) => {
            let mut diagnostics = Diagnostics::new();
            diagnostics.push(Diagnostic::error(
                "io",
                path,
                None,
                format!("cannot read the file: {e}"),
            ));
            Compiled {
                path: path.to_path_buf(),
                kind: FileKind::Unknown,
                name: None,
                mechanism: None,
                info: None,
                diagnostics,
            }
        }
    }
}

/// Compile file contents that may not be UTF-8 (comments of real .mod files sometimes are
/// Latin-1): invalid bytes become U+FFFD, which can only appear in comments of a valid file.
pub fn compile_bytes(path: &Path, bytes: &[u8]) -> Compiled {
    let text = String::from_utf8_lossy(bytes);
    compile_source(path, &text)
}

/// Compile NMODL source text; `path` is used in diagnostics.
pub fn compile_source(path: &Path, src: &str) -> Compiled {
    let mut diagnostics = Diagnostics::new();
    let at = |span: ast::Span| Some(LineCol::of_offset(src, span.start as usize));
    let (file, syntax) = parser::parse(src);
    let (syms, sema_diags) = sema::analyse(&file);
    let kind = syms.kind;
    let name = syms.suffix.as_ref().map(|s| s.name.clone());
    if kind == FileKind::PointProcess || kind == FileKind::ArtificialCell {
        let what = if kind == FileKind::PointProcess {
            "a POINT_PROCESS"
        } else {
            "an ARTIFICIAL_CELL"
        };
        let pos = syms.suffix.as_ref().and_then(|s| at(s.span));
        diagnostics.push(
            Diagnostic::note(
                "not-density",
                path,
                pos,
                format!(
                    "`{}` is {what} (a synapse, electrode or spike source), not a density channel; skipped",
                    name.as_deref().unwrap_or("?")
                ),
            )
            .with_note("emsweep simulates current-clamp cells: only density mechanisms (SUFFIX) take part"),
        );
        return Compiled {
            path: path.to_path_buf(),
            kind,
            name,
            mechanism: None,
            info: None,
            diagnostics,
        };
    }
    for e in &syntax {
        diagnostics.push(Diagnostic::error(
            "nmodl-syntax",
            path,
            at(e.span),
            &e.message,
        ));
    }
    let push_sema = |diagnostics: &mut Diagnostics, d: &sema::SemaDiag| {
        diagnostics.push(Diagnostic::new(
            d.severity,
            d.kind,
            path,
            d.span.and_then(at),
            &d.message,
        ));
    };
    let mut sema_diags = sema_diags;
    sema_diags.sort_by_key(|d| d.span.map(|s| s.start));
    for d in &sema_diags {
        push_sema(&mut diagnostics, d);
    }
    let mut mechanism = None;
    let mut info = None;
    if !diagnostics.has_errors() {
        let (m, lower_diags) = lower::lower(&syms);
        for d in &lower_diags {
            push_sema(&mut diagnostics, d);
        }
        if let Some(m) = m {
            match ir::validate(&m) {
                Ok(i) => {
                    info = Some(i);
                    mechanism = Some(m);
                }
                Err(errs) => {
                    for e in errs {
                        diagnostics.push(Diagnostic::error(
                            "internal",
                            path,
                            None,
                            format!("emsweep produced an invalid mechanism (a bug): {e}"),
                        ));
                    }
                }
            }
        }
    }
    if diagnostics.has_errors() {
        mechanism = None;
        info = None;
    }
    Compiled {
        path: path.to_path_buf(),
        kind,
        name,
        mechanism,
        info,
        diagnostics,
    }
}
