//! Neurolucida ASC reader: the s-expression file into [`RawCell`] branches, as NEURON's
//! `Import3d_Neurolucida3` reads it.
//!
//! What is kept: `("CellBody" ...)` (also `"Cell Body"`, `"Soma"`) contours of more than two
//! points, and trees whose last property is `(Axon)`, `(Dendrite)` or `(Apical)`; a tree's
//! branches `( ... | ... )` become sections whose parent is the enclosing branch (attached at 1),
//! starting with a copy of the parent's last point (with the branch's first diameter) unless
//! the branch repeats that point itself; every tree root is attached to the soma at 0.5 (without
//! a point at the soma). Everything else that the grammar allows is
//! read and dropped: properties (`(Color ...)`, `(Resolution ...)`, `(Name "...")`, ...), other
//! contours, markers, text, sets, spines (`<( ... )>`), branch-end labels (`Normal`,
//! `Incomplete`, ...), bezier modifiers and `;` comments.
//!
//! Two of NEURON's quirks are kept because they change the cell: a marker written as the very
//! first item of a branch lends its points to the branch; a tree's type is decided by its *last*
//! property. Where NEURON stops with "parse error", this reader reports an error with the line
//! and column (and, unlike NEURON, text left after the last complete object is an error too).

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics, LineCol};

use super::import3d::{RawCell, RawSection};
use super::SectionKind;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    LPar,
    RPar,
    Comma,
    Bar,
    LSpine,
    RSpine,
    Set,
    Rgb,
    Str(String),
    Label(String),
    /// Text that is no token; the message says why.
    Bad(String),
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Byte offset of the token's first character.
    offset: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(x) => format!("number {x}"),
        Tok::LPar => "`(`".into(),
        Tok::RPar => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Bar => "`|`".into(),
        Tok::LSpine => "`<`".into(),
        Tok::RSpine => "`>`".into(),
        Tok::Set => "`set`".into(),
        Tok::Rgb => "`RGB`".into(),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Label(s) => format!("`{s}`"),
        Tok::Bad(s) => s.clone(),
        Tok::Eof => "the end of the file".into(),
    }
}

/// Splits the text into tokens the way NEURON's line-based lexer does: `;` starts a comment
/// that runs to the end of the line, strings end on their line.
fn lex(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut line_start = 0usize;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        let bytes = trimmed.as_bytes();
        let mut i = 0usize;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_whitespace() {
                i += 1;
                continue;
            }
            if c == b';' {
                break;
            }
            let start = i;
            let offset = line_start + start;
            if let Some((end, tok)) = lex_number(trimmed, start) {
                out.push(Token { tok, offset });
                i = end;
                continue;
            }
            let simple = match c {
                b'(' => Some(Tok::LPar),
                b')' => Some(Tok::RPar),
                b',' => Some(Tok::Comma),
                b'|' => Some(Tok::Bar),
                b'<' => Some(Tok::LSpine),
                b'>' => Some(Tok::RSpine),
                _ => None,
            };
            if let Some(tok) = simple {
                out.push(Token { tok, offset });
                i += 1;
                continue;
            }
            let rest = &trimmed[start..];
            let keyword = ["set", "Set", "SET", "RGB"]
                .iter()
                .find(|k| rest.starts_with(*k) && !rest[3..].trim().is_empty());
            if let Some(k) = keyword {
                let tok = if *k == "RGB" { Tok::Rgb } else { Tok::Set };
                out.push(Token { tok, offset });
                i += 3;
                continue;
            }
            if c == b'"' {
                match rest[1..].find('"') {
                    Some(close) => {
                        out.push(Token {
                            tok: Tok::Str(rest[1..1 + close].to_string()),
                            offset,
                        });
                        i = start + close + 2;
                    }
                    None => {
                        out.push(Token {
                            tok: Tok::Bad("a string with no closing `\"` on its line".into()),
                            offset,
                        });
                        // NEURON drops the rest of the line.
                        i = bytes.len();
                    }
                }
                continue;
            }
            let label_len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if label_len > 0 {
                out.push(Token {
                    tok: Tok::Label(rest[..label_len].to_string()),
                    offset,
                });
                i = start + label_len;
                continue;
            }
            let ch = rest.chars().next().unwrap_or('?');
            out.push(Token {
                tok: Tok::Bad(format!("unexpected character `{ch}`")),
                offset,
            });
            i = start + ch.len_utf8();
        }
        line_start += line.len();
    }
    out.push(Token {
        tok: Tok::Eof,
        offset: text.len(),
    });
    out
}

/// A number at `start` as C's `strtod` reads it (decimal forms), or None when there is none.
/// Infinities, NaNs and hexadecimal numbers, which `strtod` would accept, come back as bad tokens.
fn lex_number(s: &str, start: usize) -> Option<(usize, Tok)> {
    let b = s.as_bytes();
    let mut i = start;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let rest = &s[i..];
    let lower: String = rest
        .chars()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    if lower.starts_with("inf") || lower.starts_with("nan") {
        let len = if lower.starts_with("infinity") { 8 } else { 3 };
        return Some((
            i + len,
            Tok::Bad(format!("`{}` is not a finite number", &s[start..i + len])),
        ));
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - digits_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        let j = i + 1;
        let mut k = j;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        frac_digits = k - j;
        if int_digits + frac_digits > 0 {
            i = k;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if int_digits == 1
        && frac_digits == 0
        && b[digits_start] == b'0'
        && i < b.len()
        && (b[i] == b'x' || b[i] == b'X')
    {
        return Some((
            i + 1,
            Tok::Bad("hexadecimal numbers are not supported".into()),
        ));
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut k = i + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        let exp_start = k;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        if k > exp_start {
            i = k;
        }
    }
    let text = &s[start..i];
    let parsed = text.strip_prefix('+').unwrap_or(text).parse::<f64>();
    match parsed {
        Ok(v) if v.is_finite() => Some((i, Tok::Num(v))),
        _ => Some((i, Tok::Bad(format!("`{text}` is not a finite number")))),
    }
}

/// Reads an ASC file's text (its path is used in diagnostics only).
pub fn parse(text: &str, path: &Path) -> Result<RawCell, Diagnostics> {
    let tokens = lex(text);
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let mut p = Parser {
        text,
        path,
        tokens,
        line_starts,
        depth: 0,
        pos: 0,
        sections: Vec::new(),
        warnings: Diagnostics::new(),
    };
    let mut diags = Diagnostics::new();
    if let Err(d) = p.file() {
        diags.push(d);
        return Err(diags);
    }
    p.connect_to_soma()
}

type PResult<T> = Result<T, Diagnostic>;

/// Deepest nesting of branches or sets accepted (real files nest a few dozen levels; the
/// limit keeps a hostile file from exhausting the stack).
const MAX_DEPTH: usize = 1000;

struct Parser<'a> {
    text: &'a str,
    path: &'a Path,
    tokens: Vec<Token>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    /// Current nesting of branches and sets.
    depth: usize,
    pos: usize,
    sections: Vec<RawSection>,
    warnings: Diagnostics,
}

impl Parser<'_> {
    fn tok(&self, ahead: usize) -> &Tok {
        let i = (self.pos + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn cur(&self) -> &Tok {
        self.tok(0)
    }

    fn advance(&mut self) {
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
    }

    fn line_col(&self, token_index: usize) -> LineCol {
        let i = token_index.min(self.tokens.len() - 1);
        let offset = self.tokens[i].offset;
        // The line holding `offset`: the last line start at or before it.
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |t| t.chars().count());
        LineCol {
            line: line as u32,
            col: col as u32 + 1,
        }
    }

    fn here(&self) -> LineCol {
        self.line_col(self.pos)
    }

    /// An error at the current token: `wanted` says what the grammar expected there.
    fn error(&self, wanted: &str) -> Diagnostic {
        let found = self.cur();
        let (kind, msg) = match found {
            Tok::Bad(m) => ("asc-bad-token", m.clone()),
            Tok::Eof => (
                "asc-unexpected-eof",
                format!("the file ends where {wanted} was expected (unbalanced parentheses?)"),
            ),
            other => (
                "asc-syntax",
                format!("expected {wanted}, found {}", describe(other)),
            ),
        };
        Diagnostic::error(kind, self.path, Some(self.here()), msg)
    }

    fn expect_lpar(&mut self) -> PResult<()> {
        if *self.cur() != Tok::LPar {
            return Err(self.error("`(`"));
        }
        self.advance();
        Ok(())
    }

    fn expect_rpar(&mut self) -> PResult<()> {
        if *self.cur() != Tok::RPar {
            return Err(self.error("`)`"));
        }
        self.advance();
        Ok(())
    }

    fn expect_num(&mut self) -> PResult<f64> {
        match *self.cur() {
            Tok::Num(x) => {
                self.advance();
                Ok(x)
            }
            _ => Err(self.error("a number")),
        }
    }

    fn opt_comma(&mut self) {
        if *self.cur() == Tok::Comma {
            self.advance();
        }
    }

    fn file(&mut self) -> PResult<()> {
        self.object()?;
        loop {
            self.opt_comma();
            if *self.cur() != Tok::LPar {
                break;
            }
            self.object()?;
        }
        if *self.cur() != Tok::Eof {
            let mut d = self.error("`(` starting another object, or the end of the file");
            if *self.cur() == Tok::RPar {
                d.message = "unbalanced parentheses: this `)` closes nothing".into();
            }
            return Err(d);
        }
        Ok(())
    }

    fn object(&mut self) -> PResult<()> {
        if *self.cur() != Tok::LPar {
            return Err(self.error("`(` starting an object"));
        }
        match self.tok(1) {
            Tok::Str(_) => self.contour(),
            Tok::Label(_) => {
                if *self.tok(2) == Tok::LPar {
                    self.marker().map(|_| ())
                } else {
                    self.property().map(|_| ())
                }
            }
            Tok::LPar => self.tree_or_text(),
            Tok::Set => self.set(),
            _ => {
                self.advance();
                Err(self.error("a contour name, a property, a tree or a set after `(`"))
            }
        }
    }

    /// `( "Name" properties points )`; kept when it is a cell body.
    fn contour(&mut self) -> PResult<()> {
        let open = self.pos;
        self.expect_lpar()?;
        let name = match self.cur() {
            Tok::Str(s) => s.clone(),
            _ => return Err(self.error("a contour name")),
        };
        self.advance();
        self.properties()?;
        let first_point = self.here();
        let mut points = vec![self.point()?];
        loop {
            self.opt_comma();
            if *self.cur() != Tok::LPar {
                break;
            }
            points.push(self.point()?);
        }
        self.expect_rpar()?;
        if matches!(name.as_str(), "CellBody" | "Cell Body" | "Soma") {
            if points.len() > 2 {
                self.sections.push(RawSection {
                    kind: SectionKind::Soma,
                    points,
                    contour: true,
                    parent: None,
                    parent_x: 1.0,
                    pos: Some(first_point),
                });
            } else {
                self.warnings.push(Diagnostic::warning(
                    "asc-small-contour",
                    self.path,
                    Some(self.line_col(open)),
                    "a CellBody contour with fewer than three points is ignored (as NEURON does)",
                ));
            }
        }
        Ok(())
    }

    /// `(Label values)`; returns the label.
    fn property(&mut self) -> PResult<String> {
        self.expect_lpar()?;
        let label = match self.cur() {
            Tok::Label(s) => s.clone(),
            _ => return Err(self.error("a property name")),
        };
        self.advance();
        loop {
            match self.cur() {
                Tok::Num(_) | Tok::Str(_) | Tok::Label(_) => self.advance(),
                Tok::Rgb => {
                    self.advance();
                    self.expect_lpar()?;
                    self.expect_num()?;
                    self.opt_comma();
                    self.expect_num()?;
                    self.opt_comma();
                    self.expect_num()?;
                    self.expect_rpar()?;
                }
                _ => break,
            }
        }
        self.expect_rpar()?;
        Ok(label)
    }

    /// `( set "name" objects )`: read and dropped.
    fn set(&mut self) -> PResult<()> {
        self.enter()?;
        let result = self.set_inner();
        self.depth -= 1;
        result
    }

    fn set_inner(&mut self) -> PResult<()> {
        self.expect_lpar()?;
        if *self.cur() != Tok::Set {
            return Err(self.error("`set`"));
        }
        self.advance();
        if !matches!(self.cur(), Tok::Str(_)) {
            return Err(self.error("the set's name"));
        }
        self.advance();
        if *self.cur() != Tok::RPar {
            self.object()?;
            loop {
                self.opt_comma();
                if *self.cur() != Tok::LPar {
                    break;
                }
                self.object()?;
            }
        }
        self.expect_rpar()
    }

    /// Any run of properties and sets; returns the property names in order.
    fn properties(&mut self) -> PResult<Vec<String>> {
        let mut names = Vec::new();
        while *self.cur() == Tok::LPar {
            match self.tok(1) {
                Tok::Label(_) => names.push(self.property()?),
                Tok::Set => self.set()?,
                _ => break,
            }
            self.opt_comma();
        }
        Ok(names)
    }

    /// `( Label properties points )`; returns the points.
    fn marker(&mut self) -> PResult<Vec<[f64; 4]>> {
        self.expect_lpar()?;
        if !matches!(self.cur(), Tok::Label(_)) {
            return Err(self.error("a marker name"));
        }
        self.advance();
        self.properties()?;
        let mut points = vec![self.point()?];
        loop {
            self.opt_comma();
            if *self.cur() != Tok::LPar {
                break;
            }
            points.push(self.point()?);
        }
        self.expect_rpar()?;
        Ok(points)
    }

    /// `( x [,] y [[,] z [[,] d [label] [bezier]]] )`.
    fn point(&mut self) -> PResult<[f64; 4]> {
        self.expect_lpar()?;
        let x = self.expect_num()?;
        self.opt_comma();
        let y = self.expect_num()?;
        let (mut z, mut d) = (0.0, 0.0);
        self.opt_comma();
        if let Tok::Num(v) = *self.cur() {
            z = v;
            self.advance();
            self.opt_comma();
            if let Tok::Num(v) = *self.cur() {
                d = v;
                self.advance();
                self.opt_comma();
                if matches!(self.cur(), Tok::Label(_)) {
                    self.advance();
                }
                self.opt_comma();
                if *self.cur() == Tok::LPar {
                    // bezier control: four numbers
                    self.advance();
                    self.expect_num()?;
                    self.opt_comma();
                    self.expect_num()?;
                    self.opt_comma();
                    self.expect_num()?;
                    self.opt_comma();
                    self.expect_num()?;
                    self.expect_rpar()?;
                }
            }
        }
        self.expect_rpar()?;
        Ok([x, y, z, d])
    }

    /// `< properties point >` repeated: spines, read and dropped.
    fn spines(&mut self) -> PResult<()> {
        while *self.cur() == Tok::LSpine {
            self.advance();
            self.properties()?;
            self.point()?;
            if *self.cur() != Tok::RSpine {
                return Err(self.error("`>` closing a spine"));
            }
            self.advance();
        }
        Ok(())
    }

    /// A text object `( properties point "text" )` looks like the start of a tree; NEURON tries
    /// text first and falls back to a tree.
    fn tree_or_text(&mut self) -> PResult<()> {
        let start = self.pos;
        self.expect_lpar()?;
        self.properties()?;
        self.point()?;
        if matches!(self.cur(), Tok::Str(_)) {
            self.advance();
            if *self.cur() == Tok::RPar {
                self.advance();
                return Ok(());
            }
        }
        self.pos = start;
        self.tree()
    }

    fn tree(&mut self) -> PResult<()> {
        self.expect_lpar()?;
        let props_at = self.here();
        let props = self.properties()?;
        let kind = match props.last().map(String::as_str) {
            Some("Axon") => SectionKind::Axon,
            Some("Dendrite") => SectionKind::Basal,
            Some("Apical") => SectionKind::Apical,
            other => {
                let what = match other {
                    Some(p) => format!("its last property is `({p})`"),
                    None => "it has no properties".to_string(),
                };
                return Err(Diagnostic::error(
                    "asc-tree-type",
                    self.path,
                    Some(props_at),
                    format!("a tree of unknown type: {what}"),
                )
                .with_note(
                    "NEURON takes a tree's type from its last property: (Axon), (Dendrite) or (Apical)",
                ));
            }
        };
        self.branch(kind, None)?;
        self.expect_rpar()
    }

    fn branch(&mut self, kind: SectionKind, parent: Option<usize>) -> PResult<()> {
        self.enter()?;
        let result = self.branch_inner(kind, parent);
        self.depth -= 1;
        result
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_DEPTH {
            return Err(Diagnostic::error(
                "asc-too-deep",
                self.path,
                Some(self.here()),
                format!("branches or sets nested more than {MAX_DEPTH} deep"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn branch_inner(&mut self, kind: SectionKind, parent: Option<usize>) -> PResult<()> {
        let start = self.here();
        let mut points = Vec::new();
        // The first item may be a marker (whose points join the branch) or a property.
        if matches!(self.tok(1), Tok::Label(_)) {
            if *self.tok(2) == Tok::LPar {
                points.extend(self.marker()?);
            } else {
                self.property()?;
            }
        } else {
            points.push(self.point()?);
            self.spines()?;
        }
        loop {
            self.opt_comma();
            if !(*self.cur() == Tok::LPar && matches!(self.tok(1), Tok::Num(_))) {
                break;
            }
            points.push(self.point()?);
            self.spines()?;
        }
        // A branch that does not repeat its parent's last point gets a copy of it, with the
        // branch's own first diameter (NEURON's `newsec` "need_extra").
        if let (Some(p), Some(first)) = (parent, points.first().copied()) {
            if let Some(last) = self.sections[p].points.last() {
                if last[0] != first[0] || last[1] != first[1] || last[2] != first[2] {
                    points.insert(0, [last[0], last[1], last[2], first[3]]);
                }
            }
        }
        let index = self.sections.len();
        self.sections.push(RawSection {
            kind,
            points,
            contour: false,
            parent,
            parent_x: 1.0,
            pos: Some(start),
        });
        // Branch end: markers, then a split or an end label.
        self.opt_comma();
        if *self.cur() == Tok::LPar {
            while matches!(self.tok(1), Tok::Label(_)) {
                self.skip_balanced()?;
            }
        }
        self.opt_comma();
        match self.cur() {
            Tok::LPar => {
                self.advance();
                self.branch(kind, Some(index))?;
                while *self.cur() == Tok::Bar {
                    self.advance();
                    self.branch(kind, Some(index))?;
                }
                self.expect_rpar()?;
            }
            Tok::Label(_) => self.advance(),
            _ => {}
        }
        Ok(())
    }

    /// Skips a parenthesised group (a marker inside a tree).
    fn skip_balanced(&mut self) -> PResult<()> {
        let open = self.pos;
        self.expect_lpar()?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.cur() {
                Tok::LPar => depth += 1,
                Tok::RPar => depth -= 1,
                Tok::Eof => {
                    let at = self.line_col(open);
                    return Err(Diagnostic::error(
                        "asc-unexpected-eof",
                        self.path,
                        Some(at),
                        "unbalanced parentheses: this `(` is never closed",
                    ));
                }
                _ => {}
            }
            self.advance();
        }
        Ok(())
    }

    /// Import3d's `connect2soma`: contours first, every tree root attached to the soma at 0.5.
    fn connect_to_soma(self) -> Result<RawCell, Diagnostics> {
        let mut diags = Diagnostics::new();
        let mut warnings = self.warnings;
        let sections = self.sections;
        let contours: Vec<usize> = (0..sections.len())
            .filter(|&i| sections[i].contour)
            .collect();
        match contours.len() {
            0 => {
                diags.push(
                    Diagnostic::error(
                        "asc-no-soma",
                        self.path,
                        None,
                        "no CellBody contour: the morphology has no soma",
                    )
                    .with_note("NEURON's Import3d leaves the trees unconnected without one"),
                );
                return Err(diags);
            }
            1 => {}
            _ => {
                let mut d = Diagnostic::error(
                    "asc-several-somata",
                    self.path,
                    sections[contours[1]].pos,
                    format!(
                        "{} CellBody contours: soma stacks and several somata are not supported",
                        contours.len()
                    ),
                );
                if let Some(p) = sections[contours[0]].pos {
                    d = d.with_note(format!("the first contour starts at line {}", p.line));
                }
                diags.push(d);
                return Err(diags);
            }
        }
        // New order: the contour first, the rest in file order.
        let soma_old = contours[0];
        let mut order = vec![soma_old];
        order.extend((0..sections.len()).filter(|&i| i != soma_old));
        let mut new_index = vec![0usize; sections.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let soma_pts = &sections[soma_old].points;
        let bbox = |k: usize| {
            let lo = soma_pts.iter().map(|p| p[k]).fold(f64::INFINITY, f64::min);
            let hi = soma_pts
                .iter()
                .map(|p| p[k])
                .fold(f64::NEG_INFINITY, f64::max);
            (lo - 0.5, hi + 0.5)
        };
        let (xmin, xmax) = bbox(0);
        let (ymin, ymax) = bbox(1);
        let mut out = Vec::with_capacity(sections.len());
        for &old in &order {
            let mut s = sections[old].clone();
            if s.contour {
                s.parent = None;
            } else if let Some(p) = s.parent {
                s.parent = Some(new_index[p]);
            } else {
                s.parent = Some(0);
                s.parent_x = 0.5;
                if let Some(first) = s.points.first() {
                    let inside = first[0] >= xmin
                        && first[0] <= xmax
                        && first[1] >= ymin
                        && first[1] <= ymax;
                    if !inside {
                        warnings.push(Diagnostic::warning(
                            "asc-root-outside-soma",
                            self.path,
                            s.pos,
                            "this tree starts outside the soma's bounding box; it is connected to the soma centre anyway (as NEURON does)",
                        ));
                    }
                }
            }
            out.push(s);
        }
        Ok(RawCell {
            sections: out,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<RawCell, Diagnostics> {
        parse(text, Path::new("t.asc"))
    }

    const SMALL: &str = r#"; a comment line
(ImageCoords Filename "x.tif" Merge 65535 65535 65535 0)
("CellBody"
  (Color RGB (255, 0, 0))
  (CellBody)
  ( 1 0 0 0)  ; 1, 1
  ( 0 1 0 0)
  (-1 0 0 0)
  ( 0 -1 0 0)
)  ;  End of contour

( (Color Red)
  (Dendrite)
  ( 0.5 0.5 0 2)  ; Root
  ( 3 3 0 2 S1)
  (
    ( 3 3 0 1)  ; 1, R-1
    ( 5 3 0 1)
    <(5.5 3.5 0 0.2)>
    (Cross (Color White) (Name "Marker 3") ( 1 2 3 4))
    Normal
  |
    ( 3 3 0 1.5)
    ( 3 7, 0, 1.5)
    Incomplete
  )  ;  End of split
)  ;  End of tree

((Color Blue) (Name "label") (10 10 0 1) "some text")
(Dot (Color Green) (1 1 1 1) (2 2 2 2))
( (Color Cyan)
  (Axon)
  (0 -0.5 0 1)
  (0 -9 0 1)
)
"#;

    #[test]
    fn reads_contour_trees_and_skips_the_rest() {
        let cell = parse_str(SMALL).unwrap();
        let kinds: Vec<_> = cell.sections.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                SectionKind::Soma,
                SectionKind::Basal,
                SectionKind::Basal,
                SectionKind::Basal,
                SectionKind::Axon
            ]
        );
        let soma = &cell.sections[0];
        assert!(soma.contour && soma.parent.is_none() && soma.points.len() == 4);
        let root = &cell.sections[1];
        assert_eq!(root.parent, Some(0));
        assert_eq!(root.parent_x, 0.5);
        assert_eq!(
            root.points,
            vec![[0.5, 0.5, 0.0, 2.0], [3.0, 3.0, 0.0, 2.0]]
        );
        // The spine and the marker after the points are not points of the branch.
        assert_eq!(cell.sections[2].points.len(), 2);
        assert_eq!(cell.sections[2].parent, Some(1));
        assert_eq!(cell.sections[2].parent_x, 1.0);
        assert_eq!(cell.sections[3].points[1], [3.0, 7.0, 0.0, 1.5]);
        assert_eq!(cell.sections[3].parent, Some(1));
        assert_eq!(cell.sections[4].parent, Some(0));
        assert_eq!(cell.sections[2].pos, Some(LineCol { line: 17, col: 5 }));
        assert!(cell.warnings.is_empty(), "{:?}", cell.warnings);
    }

    #[test]
    fn a_leading_marker_lends_its_points_and_the_last_property_decides_the_type() {
        let text = r#"("CellBody" (0 0 0 0) (1 0 0 0) (1 1 0 0))
( (Apical) (Color Red)
  (1 1 0 1)
  (
    (Dot (1 2 0 1))
    (1 3 0 1)
  |
    (1 1 0 1) (2 1 0 1)
  )
)"#;
        let err = parse_str(text).unwrap_err();
        let d = err.iter().next().unwrap();
        assert_eq!(d.kind, "asc-tree-type");
        assert_eq!(d.pos, Some(LineCol { line: 2, col: 3 }));

        let fixed = text.replace("(Apical) (Color Red)", "(Color Red) (Apical)");
        let cell = parse_str(&fixed).unwrap();
        assert_eq!(cell.sections[1].kind, SectionKind::Apical);
        // The first branch of the split: the marker's point, then its own; as it does not repeat
        // the fork point, it starts with a copy of it.
        assert_eq!(
            cell.sections[2].points,
            vec![
                [1.0, 1.0, 0.0, 1.0],
                [1.0, 2.0, 0.0, 1.0],
                [1.0, 3.0, 0.0, 1.0]
            ]
        );
        // The second repeats the fork point: no copy.
        assert_eq!(
            cell.sections[3].points,
            vec![[1.0, 1.0, 0.0, 1.0], [2.0, 1.0, 0.0, 1.0]]
        );
    }

    #[test]
    fn root_outside_the_soma_is_a_warning() {
        let text =
            "(\"CellBody\" (0 0 0 0) (1 0 0 0) (1 1 0 0))\n((Dendrite) (50 50 0 1) (60 60 0 1))";
        let cell = parse_str(text).unwrap();
        let w: Vec<_> = cell.warnings.iter().map(|d| d.kind).collect();
        assert_eq!(w, vec!["asc-root-outside-soma"]);
        assert_eq!(cell.sections[1].parent, Some(0));
    }

    fn first_error(text: &str) -> (String, u32, u32) {
        let d = parse_str(text).unwrap_err().into_vec().remove(0);
        let p = d.pos.unwrap_or(LineCol { line: 0, col: 0 });
        (d.kind.to_string(), p.line, p.col)
    }

    #[test]
    fn malformed_inputs_give_located_errors() {
        let soma = "(\"CellBody\" (0 0 0 0) (1 0 0 0) (1 1 0 0))\n";
        // Truncated inside a tree.
        let t = format!("{soma}((Dendrite)\n  (1 1 0 1)\n  (2 2 0");
        assert_eq!(first_error(&t), ("asc-unexpected-eof".into(), 4, 9));
        // A closing parenthesis too many.
        let t = format!("{soma}((Dendrite) (1 1 0 1) (2 2 0 1)))\n");
        assert_eq!(first_error(&t), ("asc-syntax".into(), 2, 33));
        // A bad number.
        let t = format!("{soma}((Dendrite) (1 1 0 1) (2 2x 0 1))\n");
        assert_eq!(first_error(&t), ("asc-syntax".into(), 2, 27));
        let t = format!("{soma}((Dendrite) (1 1 0 1) (2 nan 0 1))\n");
        assert_eq!(first_error(&t), ("asc-bad-token".into(), 2, 26));
        let t = format!("{soma}((Dendrite) (1 1 0 1) (2 1e999 0 1))\n");
        assert_eq!(first_error(&t), ("asc-bad-token".into(), 2, 26));
        // An unterminated string.
        let t = format!("{soma}((Dendrite) (Name \"abc\n (1 1 0 1))\n");
        assert_eq!(first_error(&t), ("asc-bad-token".into(), 2, 19));
        // A marker skipped at a branch end but never closed.
        let t = format!("{soma}((Dendrite) (1 1 0 1) (2 2 0 1)\n (Cross (1 2 3 4)\n");
        assert_eq!(first_error(&t), ("asc-unexpected-eof".into(), 3, 2));
        // No soma at all.
        let (kind, _, _) = first_error("((Dendrite) (1 1 0 1) (2 2 0 1))");
        assert_eq!(kind, "asc-no-soma");
        // An empty file.
        assert_eq!(first_error(""), ("asc-unexpected-eof".into(), 1, 1));
    }

    #[test]
    fn numbers_lex_like_strtod() {
        let toks: Vec<Tok> = lex("(1.5e1 -.5 +2. 3E-1,7)")
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(
            toks,
            vec![
                Tok::LPar,
                Tok::Num(15.0),
                Tok::Num(-0.5),
                Tok::Num(2.0),
                Tok::Num(0.3),
                Tok::Comma,
                Tok::Num(7.0),
                Tok::RPar,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 5000;
        let mut t = String::from(
            "(\"CellBody\" (0 0 0 0) (1 0 0 0) (1 1 0 0))\n((Dendrite) (0 0 0 1) (1 1 0 1)\n",
        );
        for _ in 0..depth {
            t.push_str("( (1 1 0 1) (2 2 0 1)\n");
        }
        let (kind, _, _) = first_error(&t);
        assert_eq!(kind, "asc-too-deep");
    }

    proptest::proptest! {
        /// Any soup of ASC-like fragments is read or rejected, never a panic; what is read can be
        /// instantiated and discretised.
        #[test]
        fn never_panics(parts in proptest::collection::vec(0usize..24, 0..120)) {
            const FRAGMENTS: [&str; 24] = [
                "(", ")", "(", ")", "(\"CellBody\"", "(Dendrite)", "(Axon)", "(Apical)", "(Color Red)",
                "(1 2 3 4)", "(0 0 0 0)", "(5 -1 2 0.5)", "|", "Normal", "<", ">", ",", "\"txt\"",
                "; c\n", "\n", "1e3", "(Cross (1 2 3 4))", "(1 1)", "(2 2 2 2 S1)",
            ];
            let text: String = parts.iter().map(|&i| FRAGMENTS[i]).collect::<Vec<_>>().join(" ");
            if let Ok(raw) = parse(&text, Path::new("fuzz.asc")) {
                if let Ok(mut m) = super::super::import3d::instantiate(raw, Path::new("fuzz.asc")) {
                    for s in &mut m.sections {
                        s.nseg = super::super::nseg_for_length(s.length_um());
                    }
                    let _ = crate::discretize::discretize_uniform(&m, 100.0);
                }
            }
        }
    }
}
