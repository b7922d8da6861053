//! The NMODL parser: tokens to the syntax tree of [`super::ast`], collecting every syntax error.
//!
//! Recursive descent with recovery: a bad statement is skipped up to the next line at the same
//! brace depth, a bad top-level block up to its closing brace, so one mistake does not hide the
//! next. Constructs outside the density-channel subset (VERBATIM, NET_RECEIVE, KINETIC, ...) are
//! parsed over and kept as `Unsupported` nodes; the checker reports them, or does not when the file
//! turns out to be a point process. Nesting is bounded, so hostile input cannot exhaust the stack.

use super::ast::*;
use super::lexer::{lex, TokKind, Token};

/// A syntax problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub span: Span,
    pub message: String,
}

/// The deepest nesting of expressions and statements the parser follows.
const MAX_DEPTH: usize = 200;

const TOP_KEYWORDS: &[&str] = &[
    "NEURON",
    "UNITS",
    "PARAMETER",
    "ASSIGNED",
    "STATE",
    "CONSTANT",
    "INDEPENDENT",
    "INITIAL",
    "BREAKPOINT",
    "DERIVATIVE",
    "PROCEDURE",
    "FUNCTION",
    "NET_RECEIVE",
    "KINETIC",
    "LINEAR",
    "NONLINEAR",
    "DISCRETE",
    "PARTIAL",
    "FUNCTION_TABLE",
    "CONSTRUCTOR",
    "DESTRUCTOR",
    "BEFORE",
    "AFTER",
    "LOCAL",
    "INCLUDE",
    "DEFINE",
];

const NEURON_KEYWORDS: &[&str] = &[
    "SUFFIX",
    "POINT_PROCESS",
    "ARTIFICIAL_CELL",
    "USEION",
    "READ",
    "WRITE",
    "VALENCE",
    "REPRESENTS",
    "NONSPECIFIC_CURRENT",
    "ELECTRODE_CURRENT",
    "RANGE",
    "GLOBAL",
    "POINTER",
    "BBCOREPOINTER",
    "EXTERNAL",
    "THREADSAFE",
    "RANDOM",
];

/// Parse `src`: the tree and every problem found (lexical ones included).
pub fn parse(src: &str) -> (File, Vec<ParseError>) {
    let (toks, lex_errs) = lex(src);
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        errors: lex_errs
            .into_iter()
            .map(|e| ParseError {
                span: e.span,
                message: e.message,
            })
            .collect(),
        depth: 0,
    };
    let file = p.file();
    let mut errors = p.errors;
    errors.sort_by_key(|e| e.span.start);
    (file, errors)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    errors: Vec<ParseError>,
    depth: usize,
}

type PResult<T> = Result<T, ()>;

impl<'a> Parser<'a> {
    // ---- token helpers ------------------------------------------------------------------------

    fn peek(&self) -> Token {
        self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn kind(&self) -> TokKind {
        self.peek().kind
    }

    fn text(&self, t: Token) -> &'a str {
        t.span.text(self.src)
    }

    fn at_eof(&self) -> bool {
        self.kind() == TokKind::Eof
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != TokKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn at_word(&self, w: &str) -> bool {
        let t = self.peek();
        t.kind == TokKind::Ident && self.text(t) == w
    }

    fn eat(&mut self, k: TokKind) -> bool {
        if self.kind() == k {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.at_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(ParseError {
            span,
            message: message.into(),
        });
    }

    fn describe(&self, t: Token) -> String {
        match t.kind {
            TokKind::Eof => "the end of the file".to_string(),
            TokKind::Verbatim => "VERBATIM".to_string(),
            _ => format!("`{}`", self.text(t)),
        }
    }

    fn expect(&mut self, k: TokKind, what: &str) -> PResult<Token> {
        if self.kind() == k {
            Ok(self.bump())
        } else {
            let t = self.peek();
            let msg = format!("expected {what}, found {}", self.describe(t));
            self.error(t.span, msg);
            Err(())
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.expect(TokKind::Ident, what)?;
        Ok(Ident {
            name: self.text(t).to_string(),
            span: t.span,
        })
    }

    /// A number with an optional sign.
    fn signed_number(&mut self, what: &str) -> PResult<(f64, Span)> {
        let start = self.peek().span;
        let neg = if self.eat(TokKind::Minus) {
            true
        } else {
            self.eat(TokKind::Plus);
            false
        };
        let t = self.expect(TokKind::Number, what)?;
        let v = self.number_value(t);
        Ok((if neg { -v } else { v }, start.to(t.span)))
    }

    fn number_value(&mut self, t: Token) -> f64 {
        match self.text(t).parse::<f64>() {
            Ok(v) => v,
            Err(_) => {
                self.error(t.span, "malformed number");
                0.0
            }
        }
    }

    /// After `(`: the text up to the matching `)`, whitespace collapsed.
    fn unit_group(&mut self) -> PResult<String> {
        let open = self.expect(TokKind::LParen, "`(`")?;
        let start = open.span.end as usize;
        let mut depth = 1usize;
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::Eof => {
                    self.error(open.span, "unclosed `(` in a unit");
                    return Err(());
                }
                TokKind::LParen => depth += 1,
                TokKind::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        let text = self
                            .src
                            .get(start..t.span.start as usize)
                            .unwrap_or("")
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ");
                        self.bump();
                        return Ok(text);
                    }
                }
                TokKind::LBrace | TokKind::RBrace => {
                    self.error(t.span, "unclosed `(` in a unit");
                    return Err(());
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// Skip a `{ ... }` group (the current token must be `{`).
    fn skip_braced(&mut self) {
        if self.kind() != TokKind::LBrace {
            return;
        }
        let open = self.bump();
        let mut depth = 1usize;
        loop {
            match self.kind() {
                TokKind::Eof => {
                    self.error(open.span, "unclosed `{`");
                    return;
                }
                TokKind::LBrace => depth += 1,
                TokKind::RBrace => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        return;
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// Skip a `( ... )` group if present.
    fn skip_parens(&mut self) {
        if self.kind() != TokKind::LParen {
            return;
        }
        let mut depth = 0usize;
        loop {
            match self.kind() {
                TokKind::Eof | TokKind::LBrace | TokKind::RBrace => return,
                TokKind::LParen => depth += 1,
                TokKind::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        return;
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// Skip to the next token that starts a line at brace depth 0 (relative to here) or to the
    /// `}` closing the current block (not consumed). Always makes progress unless at `}`/end.
    fn recover_stmt(&mut self) {
        let mut depth = 0usize;
        let mut first = true;
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::Eof => return,
                TokKind::RBrace if depth == 0 => return,
                _ if !first && depth == 0 && t.line_start => return,
                TokKind::LBrace => depth += 1,
                TokKind::RBrace => depth -= 1,
                _ => {}
            }
            first = false;
            self.bump();
        }
    }

    /// Skip to the next top-level keyword at the start of a line.
    fn recover_top(&mut self) {
        let mut first = true;
        loop {
            let t = self.peek();
            if t.kind == TokKind::Eof {
                return;
            }
            if !first
                && t.line_start
                && t.kind == TokKind::Ident
                && TOP_KEYWORDS.contains(&self.text(t))
            {
                return;
            }
            first = false;
            self.bump();
        }
    }

    // ---- top level ----------------------------------------------------------------------------

    fn file(&mut self) -> File {
        let mut items = Vec::new();
        while !self.at_eof() {
            let before = self.pos;
            let errs_before = self.errors.len();
            match self.item(&mut items) {
                Ok(()) => {}
                Err(()) => {
                    if self.errors.len() == errs_before {
                        let t = self.peek();
                        self.error(t.span, "syntax error");
                    }
                    self.recover_top();
                }
            }
            if self.pos == before {
                self.bump();
            }
        }
        File { items }
    }

    fn item(&mut self, items: &mut Vec<Item>) -> PResult<()> {
        let t = self.peek();
        match t.kind {
            TokKind::Verbatim => {
                self.bump();
                items.push(Item::Unsupported("VERBATIM".into(), t.span));
                return Ok(());
            }
            TokKind::Ident => {}
            _ => {
                let msg = format!("expected a block keyword, found {}", self.describe(t));
                self.error(t.span, msg);
                return Err(());
            }
        }
        let word = self.text(t);
        match word {
            "NEURON" => {
                self.bump();
                let stmts = self.neuron_block()?;
                items.push(Item::Neuron(stmts, t.span));
            }
            "UNITS" => {
                self.bump();
                items.push(Item::Units(self.units_block()?));
            }
            "PARAMETER" | "ASSIGNED" | "STATE" | "CONSTANT" => {
                self.bump();
                let decls = self.decl_block(items)?;
                items.push(match word {
                    "PARAMETER" => Item::Parameter(decls),
                    "ASSIGNED" => Item::Assigned(decls),
                    "STATE" => Item::State(decls),
                    _ => Item::Constant(decls),
                });
            }
            "INDEPENDENT" => {
                self.bump();
                if self.kind() != TokKind::LBrace {
                    self.expect(TokKind::LBrace, "`{`")?;
                }
                self.skip_braced();
            }
            "INITIAL" => {
                self.bump();
                items.push(Item::Initial(self.block()?));
            }
            "BREAKPOINT" => {
                self.bump();
                items.push(Item::Breakpoint(self.block()?));
            }
            "DERIVATIVE" => {
                self.bump();
                let name = self.ident("a DERIVATIVE block name")?;
                let body = self.block()?;
                items.push(Item::Derivative(name, body));
            }
            "PROCEDURE" | "FUNCTION" => {
                self.bump();
                let f = self.func_def(word == "FUNCTION", t.span)?;
                items.push(if word == "FUNCTION" {
                    Item::Function(f)
                } else {
                    Item::Procedure(f)
                });
            }
            "DEFINE" => {
                self.bump();
                let name = self.ident("a name after DEFINE")?;
                let (v, _) = self.signed_number("a number")?;
                items.push(Item::Define(name, v));
            }
            "NET_RECEIVE" | "KINETIC" | "LINEAR" | "NONLINEAR" | "DISCRETE" | "PARTIAL"
            | "CONSTRUCTOR" | "DESTRUCTOR" | "BEFORE" | "AFTER" => {
                self.bump();
                // header up to the block
                while !matches!(self.kind(), TokKind::LBrace | TokKind::Eof) {
                    let h = self.peek();
                    if h.line_start
                        && h.kind == TokKind::Ident
                        && TOP_KEYWORDS.contains(&self.text(h))
                    {
                        break;
                    }
                    self.bump();
                }
                let end = self.peek().span;
                self.skip_braced();
                items.push(Item::Unsupported(word.to_string(), t.span.to(end)));
            }
            "FUNCTION_TABLE" | "LOCAL" | "INCLUDE" => {
                self.bump();
                // rest of the line
                while !self.at_eof() && !self.peek().line_start {
                    self.bump();
                }
                let what = match word {
                    "LOCAL" => "LOCAL outside a block",
                    other => other,
                };
                items.push(Item::Unsupported(what.to_string(), t.span));
            }
            _ => {
                self.error(t.span, format!("expected a block keyword, found `{word}`"));
                return Err(());
            }
        }
        Ok(())
    }

    /// `a, b, c`. In the NEURON block (`keywords` given) the commas may be left out between names
    /// on one line, the next keyword ending the list.
    fn name_list(&mut self, what: &str, keywords: &[&str]) -> PResult<Vec<Ident>> {
        let mut out = vec![self.ident(what)?];
        loop {
            if self.eat(TokKind::Comma) {
                out.push(self.ident(what)?);
                continue;
            }
            let t = self.peek();
            if !keywords.is_empty()
                && t.kind == TokKind::Ident
                && !t.line_start
                && !keywords.contains(&self.text(t))
            {
                out.push(self.ident(what)?);
                continue;
            }
            return Ok(out);
        }
    }

    fn neuron_block(&mut self) -> PResult<Vec<NeuronStmt>> {
        self.expect(TokKind::LBrace, "`{` after NEURON")?;
        let mut out = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::RBrace => {
                    self.bump();
                    return Ok(out);
                }
                TokKind::Eof => {
                    self.error(t.span, "NEURON block not closed");
                    return Err(());
                }
                _ => {}
            }
            match self.neuron_stmt(&mut out) {
                Ok(()) => {}
                Err(()) => self.recover_stmt(),
            }
        }
    }

    fn neuron_stmt(&mut self, out: &mut Vec<NeuronStmt>) -> PResult<()> {
        let t = self.peek();
        if t.kind != TokKind::Ident {
            let msg = format!(
                "expected a NEURON block statement, found {}",
                self.describe(t)
            );
            self.error(t.span, msg);
            return Err(());
        }
        let word = self.text(t);
        self.bump();
        match word {
            "SUFFIX" => out.push(NeuronStmt::Suffix(self.ident("a SUFFIX name")?)),
            "POINT_PROCESS" => out.push(NeuronStmt::PointProcess(self.ident("a name")?)),
            "ARTIFICIAL_CELL" => out.push(NeuronStmt::ArtificialCell(self.ident("a name")?)),
            "USEION" => {
                let ion = self.ident("an ion name")?;
                let mut read = Vec::new();
                let mut write = Vec::new();
                let mut valence = None;
                loop {
                    if self.eat_word("READ") {
                        read.extend(self.name_list("a variable name", NEURON_KEYWORDS)?);
                    } else if self.eat_word("WRITE") {
                        write.extend(self.name_list("a variable name", NEURON_KEYWORDS)?);
                    } else if self.eat_word("VALENCE") {
                        valence = Some(self.signed_number("a valence")?);
                    } else if self.eat_word("REPRESENTS") {
                        self.ident("an ontology name")?;
                    } else {
                        break;
                    }
                }
                out.push(NeuronStmt::UseIon {
                    ion,
                    read,
                    write,
                    valence,
                });
            }
            "NONSPECIFIC_CURRENT" => out.push(NeuronStmt::NonspecificCurrent(
                self.name_list("a current name", NEURON_KEYWORDS)?,
            )),
            "RANGE" => out.push(NeuronStmt::Range(
                self.name_list("a variable name", NEURON_KEYWORDS)?,
            )),
            "GLOBAL" => out.push(NeuronStmt::Global(
                self.name_list("a variable name", NEURON_KEYWORDS)?,
            )),
            "THREADSAFE" => out.push(NeuronStmt::ThreadSafe),
            "REPRESENTS" => {
                self.ident("an ontology name")?;
            }
            "ELECTRODE_CURRENT" | "POINTER" | "BBCOREPOINTER" | "EXTERNAL" | "RANDOM" => {
                let names = self.name_list("a name", NEURON_KEYWORDS)?;
                let end = names.last().map_or(t.span, |n| n.span);
                out.push(NeuronStmt::Unsupported(word.to_string(), t.span.to(end)));
            }
            _ => {
                self.error(
                    t.span,
                    format!("`{word}` is not a statement of the NEURON block"),
                );
                return Err(());
            }
        }
        Ok(())
    }

    fn units_block(&mut self) -> PResult<Vec<UnitDef>> {
        self.expect(TokKind::LBrace, "`{` after UNITS")?;
        let mut out = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::RBrace => {
                    self.bump();
                    return Ok(out);
                }
                TokKind::Eof => {
                    self.error(t.span, "UNITS block not closed");
                    return Err(());
                }
                _ => {}
            }
            match self.unit_def() {
                Ok(d) => out.push(d),
                Err(()) => self.recover_stmt(),
            }
        }
    }

    fn unit_def(&mut self) -> PResult<UnitDef> {
        let t = self.peek();
        match t.kind {
            TokKind::LParen => {
                let name = self.unit_group()?;
                self.expect(TokKind::Assign, "`=`")?;
                let definition = self.unit_group()?;
                let end = self.toks[self.pos.saturating_sub(1)].span;
                Ok(UnitDef::Alias {
                    name,
                    definition,
                    span: t.span.to(end),
                })
            }
            TokKind::Ident => {
                let name = self.ident("a constant name")?;
                self.expect(TokKind::Assign, "`=`")?;
                if self.kind() == TokKind::LParen {
                    let from = self.unit_group()?;
                    let to = self.unit_group()?;
                    let end = self.toks[self.pos.saturating_sub(1)].span;
                    Ok(UnitDef::Factor {
                        name,
                        from,
                        to,
                        span: t.span.to(end),
                    })
                } else {
                    let (value, _) = self.signed_number("a number or a unit")?;
                    let unit = if self.kind() == TokKind::LParen {
                        Some(self.unit_group()?)
                    } else {
                        None
                    };
                    Ok(UnitDef::Value { name, value, unit })
                }
            }
            _ => {
                let msg = format!("expected a unit definition, found {}", self.describe(t));
                self.error(t.span, msg);
                Err(())
            }
        }
    }

    fn decl_block(&mut self, items: &mut Vec<Item>) -> PResult<Vec<VarDecl>> {
        self.expect(TokKind::LBrace, "`{`")?;
        let mut out = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                TokKind::RBrace => {
                    self.bump();
                    return Ok(out);
                }
                TokKind::Eof => {
                    self.error(t.span, "block not closed");
                    return Err(());
                }
                TokKind::Ident => match self.var_decl(items) {
                    Ok(Some(d)) => out.push(d),
                    Ok(None) => {}
                    Err(()) => self.recover_stmt(),
                },
                _ => {
                    let msg = format!("expected a variable name, found {}", self.describe(t));
                    self.error(t.span, msg);
                    self.recover_stmt();
                }
            }
        }
    }

    fn var_decl(&mut self, items: &mut Vec<Item>) -> PResult<Option<VarDecl>> {
        let name = self.ident("a variable name")?;
        let mut d = VarDecl {
            name,
            value: None,
            unit: None,
            limits: None,
            from_to: None,
        };
        let mut array = None;
        loop {
            match self.kind() {
                TokKind::LBracket => {
                    let open = self.bump();
                    while !matches!(
                        self.kind(),
                        TokKind::RBracket | TokKind::Eof | TokKind::RBrace
                    ) {
                        self.bump();
                    }
                    let close = self.expect(TokKind::RBracket, "`]`")?;
                    array = Some(open.span.to(close.span));
                }
                TokKind::Assign => {
                    self.bump();
                    d.value = Some(self.signed_number("a number")?);
                }
                TokKind::LParen => d.unit = Some(self.unit_group()?),
                TokKind::Lt => {
                    self.bump();
                    let (lo, _) = self.signed_number("a lower bound")?;
                    if self.eat(TokKind::Comma) {
                        let (hi, _) = self.signed_number("an upper bound")?;
                        d.limits = Some((lo, hi));
                    }
                    self.expect(TokKind::Gt, "`>`")?;
                }
                TokKind::Ident if self.at_word("FROM") => {
                    self.bump();
                    let (lo, _) = self.signed_number("a number after FROM")?;
                    if !self.eat_word("TO") {
                        let t = self.peek();
                        let msg = format!("expected TO, found {}", self.describe(t));
                        self.error(t.span, msg);
                        return Err(());
                    }
                    let (hi, _) = self.signed_number("a number after TO")?;
                    d.from_to = Some((lo, hi));
                }
                _ => break,
            }
        }
        if let Some(span) = array {
            items.push(Item::Unsupported(
                format!("array variable `{}`", d.name.name),
                d.name.span.to(span),
            ));
            return Ok(None);
        }
        Ok(Some(d))
    }

    fn func_def(&mut self, is_function: bool, kw: Span) -> PResult<FuncDef> {
        let name = self.ident(if is_function {
            "a FUNCTION name"
        } else {
            "a PROCEDURE name"
        })?;
        self.expect(TokKind::LParen, "`(`")?;
        let mut params = Vec::new();
        if !self.eat(TokKind::RParen) {
            loop {
                params.push(self.ident("a parameter name")?);
                if self.kind() == TokKind::LParen {
                    self.unit_group()?;
                }
                if self.eat(TokKind::Comma) {
                    continue;
                }
                self.expect(TokKind::RParen, "`,` or `)`")?;
                break;
            }
        }
        if self.kind() == TokKind::LParen {
            self.unit_group()?;
        }
        let body = self.block()?;
        let span = kw.to(body.span);
        Ok(FuncDef {
            name,
            params,
            body,
            span,
        })
    }

    // ---- statements ---------------------------------------------------------------------------

    fn block(&mut self) -> PResult<Block> {
        let open = self.expect(TokKind::LBrace, "`{`")?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            self.error(open.span, "blocks nested too deeply");
            self.pos -= 1;
            self.skip_braced();
            return Err(());
        }
        let mut stmts = Vec::new();
        let r = loop {
            let t = self.peek();
            match t.kind {
                TokKind::RBrace => {
                    self.bump();
                    break Ok(Block {
                        stmts,
                        span: open.span.to(t.span),
                    });
                }
                TokKind::Eof => {
                    self.error(open.span, "`{` not closed");
                    break Err(());
                }
                _ => {}
            }
            let before = self.pos;
            match self.stmt() {
                Ok(Some(s)) => stmts.push(s),
                Ok(None) => {}
                Err(()) => self.recover_stmt(),
            }
            if self.pos == before && self.kind() != TokKind::RBrace {
                self.bump();
            }
        };
        self.depth -= 1;
        r
    }

    fn stmt(&mut self) -> PResult<Option<Stmt>> {
        let t = self.peek();
        let start = t.span;
        let kind = match t.kind {
            TokKind::Verbatim => {
                self.bump();
                StmtKind::Unsupported("VERBATIM".into())
            }
            TokKind::LBrace => StmtKind::Block(self.block()?),
            TokKind::Tilde => {
                self.recover_stmt();
                StmtKind::Unsupported("reaction statement `~` (KINETIC)".into())
            }
            TokKind::Ident => {
                let word = self.text(t);
                match word {
                    "LOCAL" => {
                        self.bump();
                        StmtKind::Local(self.name_list("a LOCAL name", &[])?)
                    }
                    "if" => return self.if_stmt().map(Some),
                    "else" => {
                        self.error(t.span, "`else` without `if`");
                        return Err(());
                    }
                    "SOLVE" => {
                        self.bump();
                        let name = self.ident("a block name after SOLVE")?;
                        let mut method = None;
                        if self.eat_word("METHOD") {
                            method = Some(self.ident("a method name")?);
                        } else if self.at_word("STEADYSTATE") {
                            self.bump();
                            self.ident("a method name")?;
                            return Ok(Some(Stmt {
                                kind: StmtKind::Unsupported("SOLVE ... STEADYSTATE".into()),
                                span: start,
                            }));
                        }
                        if self.at_word("IFERROR") {
                            self.bump();
                            self.skip_braced();
                        }
                        StmtKind::Solve { name, method }
                    }
                    "TABLE" => {
                        self.bump();
                        StmtKind::Table(self.table()?)
                    }
                    "printf" => {
                        self.bump();
                        self.skip_parens();
                        StmtKind::Ignored("printf".into())
                    }
                    "while"
                    | "FROM"
                    | "FOR_NETCONS"
                    | "WATCH"
                    | "CONSERVE"
                    | "COMPARTMENT"
                    | "LONGITUDINAL_DIFFUSION"
                    | "fprintf"
                    | "LAG"
                    | "SENS"
                    | "MATCH"
                    | "PROTECT"
                    | "MUTEXLOCK"
                    | "MUTEXUNLOCK"
                    | "RESET" => {
                        self.bump();
                        // Skip the rest of the construct: a parenthesised part, then a block or
                        // the rest of the line.
                        while !self.at_eof()
                            && !self.peek().line_start
                            && !matches!(self.kind(), TokKind::LBrace | TokKind::RBrace)
                        {
                            if self.kind() == TokKind::LParen {
                                self.skip_parens();
                            } else {
                                self.bump();
                            }
                        }
                        if self.kind() == TokKind::LBrace {
                            self.skip_braced();
                        }
                        let what = match word {
                            "while" => "while loop",
                            "FROM" => "FROM ... TO loop",
                            other => other,
                        };
                        StmtKind::Unsupported(what.to_string())
                    }
                    _ => {
                        let name = Ident {
                            name: word.to_string(),
                            span: t.span,
                        };
                        self.bump();
                        match self.kind() {
                            TokKind::Prime => {
                                self.bump();
                                if self.kind() == TokKind::Prime {
                                    self.error(
                                        self.peek().span,
                                        "higher derivatives are not NMODL",
                                    );
                                    return Err(());
                                }
                                self.expect(TokKind::Assign, "`=` after the derivative")?;
                                let e = self.expr()?;
                                StmtKind::Derivative(name, e)
                            }
                            TokKind::Assign => {
                                self.bump();
                                let e = self.expr()?;
                                StmtKind::Assign(name, e)
                            }
                            TokKind::LParen => {
                                let args = self.call_args()?;
                                StmtKind::Call(name, args)
                            }
                            TokKind::LBracket => {
                                self.recover_stmt();
                                StmtKind::Unsupported(format!("array element `{word}[...]`"))
                            }
                            _ => {
                                let n = self.peek();
                                let msg = format!(
                                    "expected `=`, `'` or `(` after `{word}`, found {}",
                                    self.describe(n)
                                );
                                self.error(n.span, msg);
                                return Err(());
                            }
                        }
                    }
                }
            }
            _ => {
                let msg = format!("expected a statement, found {}", self.describe(t));
                self.error(t.span, msg);
                return Err(());
            }
        };
        let end = self.toks[self.pos.saturating_sub(1)].span;
        Ok(Some(Stmt {
            kind,
            span: start.to(end),
        }))
    }

    fn if_stmt(&mut self) -> PResult<Stmt> {
        let kw = self.bump();
        self.depth += 1;
        let r = (|| {
            if self.depth > MAX_DEPTH {
                self.error(kw.span, "statements nested too deeply");
                return Err(());
            }
            self.expect(TokKind::LParen, "`(` after if")?;
            let cond = self.expr()?;
            self.expect(TokKind::RParen, "`)`")?;
            let then = self.block()?;
            let otherwise = if self.eat_word("else") {
                if self.at_word("if") {
                    let s = self.if_stmt()?;
                    let span = s.span;
                    Some(Block {
                        stmts: vec![s],
                        span,
                    })
                } else {
                    Some(self.block()?)
                }
            } else {
                None
            };
            let end = self.toks[self.pos.saturating_sub(1)].span;
            Ok(Stmt {
                kind: StmtKind::If {
                    cond,
                    then,
                    otherwise,
                },
                span: kw.span.to(end),
            })
        })();
        self.depth -= 1;
        r
    }

    fn table(&mut self) -> PResult<TableStmt> {
        let mut names = Vec::new();
        let kws = ["DEPEND", "FROM", "TO", "WITH"];
        if self.kind() == TokKind::Ident && !kws.contains(&self.text(self.peek())) {
            names = self.name_list("a table variable", &[])?;
        }
        let mut depend = Vec::new();
        if self.eat_word("DEPEND") {
            depend = self.name_list("a variable name", &[])?;
        }
        let part = |p: &mut Self, kw: &str| -> PResult<String> {
            if !p.eat_word(kw) {
                let t = p.peek();
                let msg = format!("expected {kw} in TABLE, found {}", p.describe(t));
                p.error(t.span, msg);
                return Err(());
            }
            let e = p.expr()?;
            Ok(e.span.text(p.src).to_string())
        };
        let from = part(self, "FROM")?;
        let to = part(self, "TO")?;
        let with = part(self, "WITH")?;
        Ok(TableStmt {
            names,
            depend,
            from,
            to,
            with,
        })
    }

    fn call_args(&mut self) -> PResult<Vec<Expr>> {
        self.expect(TokKind::LParen, "`(`")?;
        let mut args = Vec::new();
        if self.eat(TokKind::RParen) {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(TokKind::Comma) {
                continue;
            }
            self.expect(TokKind::RParen, "`,` or `)`")?;
            return Ok(args);
        }
    }

    // ---- expressions --------------------------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            let t = self.peek();
            self.error(t.span, "expression nested too deeply");
            Err(())
        } else {
            self.or_expr()
        };
        self.depth -= 1;
        r
    }

    fn binary_level(
        &mut self,
        next: fn(&mut Self) -> PResult<Expr>,
        ops: &[(TokKind, BinOp)],
    ) -> PResult<Expr> {
        let mut lhs = next(self)?;
        loop {
            let k = self.kind();
            let Some(&(_, op)) = ops.iter().find(|(tk, _)| *tk == k) else {
                return Ok(lhs);
            };
            self.bump();
            let rhs = next(self)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        self.binary_level(Self::and_expr, &[(TokKind::OrOr, BinOp::Or)])
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        self.binary_level(Self::cmp_expr, &[(TokKind::AndAnd, BinOp::And)])
    }

    fn cmp_expr(&mut self) -> PResult<Expr> {
        self.binary_level(
            Self::add_expr,
            &[
                (TokKind::Lt, BinOp::Lt),
                (TokKind::Le, BinOp::Le),
                (TokKind::Gt, BinOp::Gt),
                (TokKind::Ge, BinOp::Ge),
                (TokKind::EqEq, BinOp::Eq),
                (TokKind::NotEq, BinOp::Ne),
            ],
        )
    }

    fn add_expr(&mut self) -> PResult<Expr> {
        self.binary_level(
            Self::mul_expr,
            &[(TokKind::Plus, BinOp::Add), (TokKind::Minus, BinOp::Sub)],
        )
    }

    fn mul_expr(&mut self) -> PResult<Expr> {
        self.binary_level(
            Self::unary_expr,
            &[(TokKind::Star, BinOp::Mul), (TokKind::Slash, BinOp::Div)],
        )
    }

    fn unary_expr(&mut self) -> PResult<Expr> {
        let t = self.peek();
        let op = match t.kind {
            TokKind::Minus => Some(UnOp::Neg),
            TokKind::Not => Some(UnOp::Not),
            TokKind::Plus => None,
            _ => return self.pow_expr(),
        };
        self.bump();
        self.depth += 1;
        let inner = if self.depth > MAX_DEPTH {
            self.error(t.span, "expression nested too deeply");
            Err(())
        } else {
            self.unary_expr()
        };
        self.depth -= 1;
        let inner = inner?;
        Ok(match op {
            None => inner,
            Some(op) => {
                let span = t.span.to(inner.span);
                Expr {
                    kind: ExprKind::Unary(op, Box::new(inner)),
                    span,
                }
            }
        })
    }

    fn pow_expr(&mut self) -> PResult<Expr> {
        let base = self.primary()?;
        if self.eat(TokKind::Caret) {
            // right-associative, and the exponent may carry a sign: 2^-3, a^b^c = a^(b^c)
            let exp = self.unary_expr()?;
            let span = base.span.to(exp.span);
            return Ok(Expr {
                kind: ExprKind::Binary(BinOp::Pow, Box::new(base), Box::new(exp)),
                span,
            });
        }
        Ok(base)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.kind {
            TokKind::Number => {
                self.bump();
                let v = self.number_value(t);
                let mut span = t.span;
                // a literal may carry a unit: 10 (mV), 0.004(1/mM)
                if self.kind() == TokKind::LParen {
                    self.unit_group()?;
                    span = span.to(self.toks[self.pos.saturating_sub(1)].span);
                }
                Ok(Expr {
                    kind: ExprKind::Num(v),
                    span,
                })
            }
            TokKind::Ident => {
                self.bump();
                let name = self.text(t).to_string();
                if self.kind() == TokKind::LParen {
                    self.depth += 1;
                    let args = if self.depth > MAX_DEPTH {
                        self.error(t.span, "expression nested too deeply");
                        Err(())
                    } else {
                        self.call_args()
                    };
                    self.depth -= 1;
                    let args = args?;
                    let span = t.span.to(self.toks[self.pos.saturating_sub(1)].span);
                    return Ok(Expr {
                        kind: ExprKind::Call(Ident { name, span: t.span }, args),
                        span,
                    });
                }
                Ok(Expr {
                    kind: ExprKind::Name(name),
                    span: t.span,
                })
            }
            TokKind::LParen => {
                self.bump();
                let mut e = self.expr()?;
                let close = self.expect(TokKind::RParen, "`)`")?;
                e.span = t.span.to(close.span);
                Ok(e)
            }
            _ => {
                let msg = format!("expected an expression, found {}", self.describe(t));
                self.error(t.span, msg);
                Err(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> File {
        let (f, e) = parse(src);
        assert!(e.is_empty(), "{e:?}");
        f
    }

    fn expr_of(src: &str) -> Expr {
        let f = parse_ok(&format!("INITIAL {{ x = {src} }}"));
        match &f.items[0] {
            Item::Initial(b) => match &b.stmts[0].kind {
                StmtKind::Assign(_, e) => e.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Num(v) => format!("{v}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Call(n, a) => format!(
                "{}({})",
                n.name,
                a.iter().map(show).collect::<Vec<_>>().join(",")
            ),
            ExprKind::Unary(op, a) => format!("({op:?} {})", show(a)),
            ExprKind::Binary(op, a, b) => format!("({op:?} {} {})", show(a), show(b)),
        }
    }

    #[test]
    fn precedence_follows_nmodl() {
        assert_eq!(show(&expr_of("-x^2")), "(Neg (Pow x 2))");
        assert_eq!(show(&expr_of("a^b^c")), "(Pow a (Pow b c))");
        assert_eq!(show(&expr_of("2^-3")), "(Pow 2 (Neg 3))");
        assert_eq!(
            show(&expr_of("a < b && c || !d == e")),
            "(Or (And (Lt a b) c) (Eq (Not d) e))"
        );
        assert_eq!(
            show(&expr_of("a - b - c * d / e")),
            "(Sub (Sub a b) (Div (Mul c d) e))"
        );
        assert_eq!(show(&expr_of("0.004(1/mM) * cai")), "(Mul 0.004 cai)");
        assert_eq!(
            show(&expr_of("f(a, b+1) + g()")),
            "(Add f(a,(Add b 1)) g())"
        );
    }

    #[test]
    fn a_channel_parses() {
        let src = r#"
TITLE test
NEURON {
    THREADSAFE
    SUFFIX kx
    USEION k READ ek WRITE ik
    USEION ttx READ ttxo, ttxi VALENCE 1
    NONSPECIFIC_CURRENT i
    RANGE gbar, ik GLOBAL minf
}
UNITS { (mV) = (millivolt) FARADAY = (faraday) (coulomb) R = 8.314 (volt-coul/degC) }
PARAMETER { gbar = 0.1 (S/cm2) <0, 1e9> vh = -43 (mV) celsius }
ASSIGNED { ik (mA/cm2) minf mtau (ms) }
STATE { m FROM 0 TO 1 }
BREAKPOINT { SOLVE states METHOD cnexp ik = gbar*m*(v - ek) i = 0 }
DERIVATIVE states { rates(v) m' = (minf - m)/mtau }
PROCEDURE rates(v (mV)) { LOCAL q
    TABLE minf DEPEND celsius FROM -100 TO 100 WITH 200
    if (v < -10) { minf = 1 } else if (v > 3) { minf = 0 } else { minf = 0.5 }
    mtau = 1
}
FUNCTION f(x(mV)) (ms) { f = x }
"#;
        let f = parse_ok(src);
        assert_eq!(f.items.len(), 9);
        match &f.items[0] {
            Item::Neuron(s, _) => {
                assert_eq!(s.len(), 7);
                match &s[2] {
                    NeuronStmt::UseIon { read, write, .. } => {
                        assert_eq!(read.len(), 1);
                        assert_eq!(write.len(), 1);
                    }
                    other => panic!("{other:?}"),
                }
                match &s[3] {
                    NeuronStmt::UseIon { read, valence, .. } => {
                        assert_eq!(read.len(), 2);
                        assert_eq!(valence.map(|v| v.0), Some(1.0));
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        match &f.items[1] {
            Item::Units(u) => {
                assert_eq!(u.len(), 3);
                assert!(
                    matches!(&u[1], UnitDef::Factor { from, to, .. } if from == "faraday" && to == "coulomb")
                );
                assert!(
                    matches!(&u[2], UnitDef::Value { value, unit: Some(un), .. } if *value == 8.314 && un == "volt-coul/degC")
                );
            }
            other => panic!("{other:?}"),
        }
        match &f.items[2] {
            Item::Parameter(d) => {
                assert_eq!(d.len(), 3);
                assert_eq!(d[0].limits, Some((0.0, 1e9)));
                assert_eq!(d[0].unit.as_deref(), Some("S/cm2"));
                assert_eq!(d[1].value.map(|v| v.0), Some(-43.0));
                assert_eq!(d[2].value, None);
            }
            other => panic!("{other:?}"),
        }
        match &f.items[3] {
            Item::Assigned(d) => {
                assert_eq!(d.len(), 3);
                assert_eq!(d[1].unit, None);
                assert_eq!(d[2].unit.as_deref(), Some("ms"));
            }
            other => panic!("{other:?}"),
        }
        match &f.items[7] {
            Item::Procedure(p) => {
                assert_eq!(p.params.len(), 1);
                assert_eq!(p.body.stmts.len(), 4);
                assert!(
                    matches!(&p.body.stmts[1].kind, StmtKind::Table(t) if t.from == "-100" && t.depend.len() == 1)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsupported_constructs_are_kept() {
        let src = "NEURON { SUFFIX a POINTER p }\nVERBATIM x ENDVERBATIM\nNET_RECEIVE(w) { x = 1 }\nKINETIC k { ~ a <-> b (1, 2) }\nINITIAL { VERBATIM y ENDVERBATIM while (1) { x = 1 } }";
        let (f, e) = parse(src);
        assert!(e.is_empty(), "{e:?}");
        let names: Vec<String> = f
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Unsupported(n, _) => Some(n.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(names, vec!["VERBATIM", "NET_RECEIVE", "KINETIC"]);
    }

    #[test]
    fn errors_are_all_reported_with_recovery() {
        let src = "NEURON { SUFFIX a }\nINITIAL {\n x = (1 +\n y = 2\n z = * 3\n}\nBREAKPOINT { q = 1 }\nBOGUS { }\nPARAMETER { a = }\n";
        let (f, e) = parse(src);
        assert!(e.len() >= 4, "{e:?}");
        // the BREAKPOINT after the broken INITIAL still parsed
        assert!(f.items.iter().any(|i| matches!(i, Item::Breakpoint(_))));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!(
            "INITIAL {{ x = {}1{} }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let (_, e) = parse(&src);
        assert!(e.iter().any(|e| e.message.contains("too deeply")));
        let src = format!("INITIAL {{ x = {}1 }}", "-".repeat(5000));
        let (_, e) = parse(&src);
        assert!(e.iter().any(|e| e.message.contains("too deeply")));
        let src = format!("INITIAL {}{}", "{ ".repeat(5000), "}".repeat(5000));
        let (_, e) = parse(&src);
        assert!(e.iter().any(|e| e.message.contains("too deeply")));
    }
}
