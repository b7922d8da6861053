//! Channel-distribution formulas (`"(-0.8696 + 2.087*math.exp(({distance})*0.0031))*{value}"`):
//! parsed once, evaluated per segment with the numbers Python would compute.
//!
//! BluePyOpt evaluates these strings with Python's `eval` after substituting the placeholders as
//! text: `{value}`, `{distance}` and parameter dependencies are formatted with `'%.17g'`, the
//! distribution's own parameters (`{constant}`) and BluePyEModel's `{step_begin}`/`{step_end}`
//! with `str()`. Both spellings round-trip a double exactly, so we substitute numbers, not text,
//! and keep the three ways text substitution still shows through:
//! - an integral value below 1e17 prints without a decimal point and becomes a Python `int`;
//! - a negative value prints with a leading `-`, so `{value}**2` reads `-0.5**2`, which Python
//!   evaluates as `-(0.5**2)` (`**` binds tighter than unary minus on its left);
//! - `inf` and `nan` print as names Python does not know: the evaluation fails.
//!
//! The language is the part of Python these formulas use: numbers, `+ - * / // % **`, unary
//! `+ -`, parentheses, comparisons (chained, giving `True`/`False`, which count as 1/0),
//! `& | ^` on booleans and integers, `and or not`, `True False`, `abs min max int float pow`,
//! `math.` `exp log log10 pow sqrt fabs floor ceil sin cos tan tanh sinh cosh atan pi e`.
//! Operator precedence and associativity are Python's. Python's errors (division by zero,
//! `math.log(0)`, overflow in `**` and `math.exp`, a complex result) are evaluation errors.

use std::cmp::Ordering;
use std::fmt;

/// A Python number: `bool`, `int` (kept exact while it fits an i64) or `float`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PyNum {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl PyNum {
    /// The value NEURON receives (`float()` of it).
    pub fn to_f64(self) -> f64 {
        match self {
            PyNum::Bool(b) => f64::from(u8::from(b)),
            PyNum::Int(i) => i as f64,
            PyNum::Float(x) => x,
        }
    }

    fn truthy(self) -> bool {
        match self {
            PyNum::Bool(b) => b,
            PyNum::Int(i) => i != 0,
            PyNum::Float(x) => x != 0.0,
        }
    }

    /// bool counts as int in arithmetic.
    fn int_like(self) -> Option<i64> {
        match self {
            PyNum::Bool(b) => Some(i64::from(b)),
            PyNum::Int(i) => Some(i),
            PyNum::Float(_) => None,
        }
    }
}

impl fmt::Display for PyNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyNum::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            PyNum::Int(i) => write!(f, "{i}"),
            PyNum::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// A value for a placeholder, with the way Python turns it into text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg {
    /// `'%.17g' % x` (BluePyOpt's `format_float`: `{value}`, `{distance}`, dependencies).
    Formatted(f64),
    /// `str(x)` of a Python number (`string.Formatter().vformat`: distribution parameters).
    Str(PyNum),
}

impl Arg {
    /// What Python reads back from the text, and whether the text starts with `-`.
    fn as_python(self) -> Result<(PyNum, bool), String> {
        match self {
            Arg::Formatted(x) | Arg::Str(PyNum::Float(x)) => {
                if !x.is_finite() {
                    let word = if x.is_nan() { "nan" } else { "inf" };
                    return Err(format!(
                        "the value {x} is substituted as `{word}`, which Python does not know (NameError)"
                    ));
                }
                let negative = x.is_sign_negative();
                if matches!(self, Arg::Formatted(_)) && x.fract() == 0.0 && x.abs() < 1e17 {
                    // '%.17g' prints integral values below 1e17 without a point: a Python int
                    Ok((PyNum::Int(x as i64), negative))
                } else {
                    Ok((PyNum::Float(x), negative))
                }
            }
            Arg::Str(PyNum::Int(i)) => Ok((PyNum::Int(i), i < 0)),
            Arg::Str(b @ PyNum::Bool(_)) => Ok((b, false)),
        }
    }
}

/// A problem in a formula, at byte `offset` of its text (column `col`, 1-based, in characters).
#[derive(Clone, Debug, PartialEq)]
pub struct FormulaError {
    /// `formula-syntax`, `unknown-name` or `formula-eval`.
    pub kind: &'static str,
    pub offset: usize,
    pub col: u32,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    BitAnd,
    BitOr,
    BitXor,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    Abs,
    Min,
    Max,
    Int,
    Float,
    Pow,
    MathExp,
    MathLog,
    MathLog10,
    MathPow,
    MathSqrt,
    MathFabs,
    MathFloor,
    MathCeil,
    MathSin,
    MathCos,
    MathTan,
    MathTanh,
    MathSinh,
    MathCosh,
    MathAtan,
}

impl Func {
    fn builtin(name: &str) -> Option<Func> {
        Some(match name {
            "abs" => Func::Abs,
            "min" => Func::Min,
            "max" => Func::Max,
            "int" => Func::Int,
            "float" => Func::Float,
            "pow" => Func::Pow,
            _ => return None,
        })
    }

    fn math(name: &str) -> Option<Func> {
        Some(match name {
            "exp" => Func::MathExp,
            "log" => Func::MathLog,
            "log10" => Func::MathLog10,
            "pow" => Func::MathPow,
            "sqrt" => Func::MathSqrt,
            "fabs" => Func::MathFabs,
            "floor" => Func::MathFloor,
            "ceil" => Func::MathCeil,
            "sin" => Func::MathSin,
            "cos" => Func::MathCos,
            "tan" => Func::MathTan,
            "tanh" => Func::MathTanh,
            "sinh" => Func::MathSinh,
            "cosh" => Func::MathCosh,
            "atan" => Func::MathAtan,
            _ => return None,
        })
    }

    /// Allowed numbers of arguments.
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Min | Func::Max => (2, usize::MAX),
            Func::Pow | Func::MathPow => (2, 2),
            Func::MathLog => (1, 2),
            _ => (1, 1),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Num(PyNum),
    Placeholder(String, usize),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>, usize),
    Cmp(Box<Expr>, Vec<(CmpOp, Expr)>),
    Call(Func, Vec<Expr>, usize),
}

/// A parsed formula.
#[derive(Clone, Debug, PartialEq)]
pub struct Formula {
    source: String,
    expr: Expr,
    placeholders: Vec<String>,
}

impl Formula {
    /// Parse `source`. All unknown names are reported; a syntax error stops the parse.
    pub fn parse(source: &str) -> Result<Formula, Vec<FormulaError>> {
        let mut errors = Vec::new();
        let tokens = match lex(source) {
            Ok(t) => t,
            Err((offset, message)) => {
                return Err(vec![error(source, "formula-syntax", offset, message)]);
            }
        };
        let mut p = Parser {
            src: source,
            tokens,
            i: 0,
            errors: &mut errors,
            placeholders: Vec::new(),
        };
        let expr = p.expr();
        let expr = match expr {
            Ok(e) => {
                if p.i < p.tokens.len() {
                    let off = p.tokens[p.i].offset;
                    p.errors.push(error(
                        source,
                        "formula-syntax",
                        off,
                        "unexpected text after the expression".into(),
                    ));
                }
                Some(e)
            }
            Err(e) => {
                p.errors.push(e);
                None
            }
        };
        let placeholders = std::mem::take(&mut p.placeholders);
        match expr {
            Some(expr) if errors.is_empty() => Ok(Formula {
                source: source.to_string(),
                expr,
                placeholders,
            }),
            _ => Err(errors),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Distinct placeholder names, in order of first appearance.
    pub fn placeholders(&self) -> &[String] {
        &self.placeholders
    }

    /// Evaluate with placeholder values from `lookup`; the result is the Python value.
    pub fn eval_py(&self, lookup: &dyn Fn(&str) -> Option<Arg>) -> Result<PyNum, FormulaError> {
        eval(&self.expr, lookup)
            .map_err(|(offset, message)| error(&self.source, "formula-eval", offset, message))
    }

    /// Evaluate and convert to the double NEURON stores.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<Arg>) -> Result<f64, FormulaError> {
        self.eval_py(lookup).map(PyNum::to_f64)
    }
}

fn error(src: &str, kind: &'static str, offset: usize, message: String) -> FormulaError {
    let offset = offset.min(src.len());
    let col = src[..offset].chars().count() as u32 + 1;
    FormulaError {
        kind,
        offset,
        col,
        message,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(PyNum),
    Placeholder(String),
    Name(String),
    Op(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    tok: Tok,
    offset: usize,
}

const OPS: [&str; 22] = [
    "**", "//", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "(", ")", ",", ".", "&",
    "|", "^", "~", "=",
];

fn lex(src: &str) -> Result<Vec<Token>, (usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0i32;
    while i < b.len() {
        let c = b[i];
        if c == b' ' || c == b'\t' || c == b'\x0c' {
            i += 1;
            continue;
        }
        if c == b'\n' || c == b'\r' {
            // a line break continues an expression inside brackets; at the top level only
            // trailing ones are allowed (eval strips them)
            if depth > 0 || src[i..].trim().is_empty() {
                i += 1;
                continue;
            }
            return Err((i, "line break in the middle of the expression".into()));
        }
        let start = i;
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (num, end) = lex_number(src, i)?;
            out.push(Token {
                tok: Tok::Num(num),
                offset: start,
            });
            i = end;
            continue;
        }
        if c == b'_' || c.is_ascii_alphabetic() {
            while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Name(src[start..i].to_string()),
                offset: start,
            });
            continue;
        }
        if c == b'{' {
            let Some(close) = src[i..].find('}') else {
                return Err((i, "`{` without its `}`".into()));
            };
            let name = &src[i + 1..i + close];
            let valid = !name.is_empty()
                && name.bytes().all(|x| x == b'_' || x.is_ascii_alphanumeric())
                && !name.as_bytes()[0].is_ascii_digit();
            if !valid {
                return Err((
                    i,
                    format!("`{{{name}}}` is not a placeholder (a name in braces is expected)"),
                ));
            }
            out.push(Token {
                tok: Tok::Placeholder(name.to_string()),
                offset: start,
            });
            i += close + 1;
            continue;
        }
        if c == b'}' {
            return Err((i, "`}` without its `{`".into()));
        }
        match OPS.iter().find(|op| src[i..].starts_with(**op)) {
            Some(op) => {
                match *op {
                    "(" => depth += 1,
                    ")" => depth -= 1,
                    _ => {}
                }
                out.push(Token {
                    tok: Tok::Op(op),
                    offset: start,
                });
                i += op.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err((i, format!("unexpected character `{ch}`")));
            }
        }
    }
    Ok(out)
}

/// A Python decimal number literal starting at `i` (integers, floats, exponents, `_` groups).
fn lex_number(src: &str, start: usize) -> Result<(PyNum, usize), (usize, String)> {
    let b = src.as_bytes();
    let digits = |mut i: usize| -> Result<usize, (usize, String)> {
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            if b[i] == b'_' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                return Err((i, "invalid `_` in a number".into()));
            }
            i += 1;
        }
        Ok(i)
    };
    let mut i = digits(start)?;
    let mut is_float = false;
    if b.get(i) == Some(&b'.') {
        is_float = true;
        i = digits(i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if !b.get(j).is_some_and(u8::is_ascii_digit) {
            return Err((i, "invalid exponent in a number".into()));
        }
        is_float = true;
        i = digits(j)?;
    }
    if i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphabetic()) {
        let what = if matches!(b[i], b'j' | b'J') {
            "complex numbers are not supported"
        } else {
            "invalid number literal"
        };
        return Err((i, what.into()));
    }
    let text: String = src[start..i].chars().filter(|&c| c != '_').collect();
    if is_float {
        let x: f64 = text
            .parse()
            .map_err(|_| (start, format!("invalid number `{text}`")))?;
        Ok((PyNum::Float(x), i))
    } else {
        if text.len() > 1 && text.starts_with('0') && text.bytes().any(|c| c != b'0') {
            return Err((
                start,
                "leading zeros in an integer are not allowed (Python refuses them)".into(),
            ));
        }
        let num = match text.parse::<i64>() {
            Ok(v) => PyNum::Int(v),
            // beyond i64: Python keeps the exact int; the nearest double is what NEURON gets
            Err(_) => PyNum::Float(text.parse().unwrap_or(f64::INFINITY)),
        };
        Ok((num, i))
    }
}

struct Parser<'a, 'e> {
    src: &'a str,
    tokens: Vec<Token>,
    i: usize,
    errors: &'e mut Vec<FormulaError>,
    placeholders: Vec<String>,
}

type PResult = Result<Expr, FormulaError>;

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.i).map(|t| &t.tok)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.i).map_or(self.src.len(), |t| t.offset)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == name)
    }

    fn syntax(&self, offset: usize, message: impl Into<String>) -> FormulaError {
        error(self.src, "formula-syntax", offset, message.into())
    }

    fn expect(&mut self, op: &str) -> Result<(), FormulaError> {
        if self.is_op(op) {
            self.i += 1;
            Ok(())
        } else {
            let found = match self.peek() {
                None => "the end of the formula".to_string(),
                Some(_) => format!(
                    "`{}`",
                    &self.src[self.offset()..]
                        .chars()
                        .take(12)
                        .collect::<String>()
                ),
            };
            Err(self.syntax(self.offset(), format!("expected `{op}`, found {found}")))
        }
    }

    fn expr(&mut self) -> PResult {
        let mut left = self.and_expr()?;
        while self.is_name("or") {
            self.i += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> PResult {
        let mut left = self.not_expr()?;
        while self.is_name("and") {
            self.i += 1;
            let right = self.not_expr()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> PResult {
        if self.is_name("not") {
            self.i += 1;
            return Ok(Expr::Not(Box::new(self.not_expr()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult {
        let first = self.bitor()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Some(Tok::Op("<")) => CmpOp::Lt,
                Some(Tok::Op("<=")) => CmpOp::Le,
                Some(Tok::Op(">")) => CmpOp::Gt,
                Some(Tok::Op(">=")) => CmpOp::Ge,
                Some(Tok::Op("==")) => CmpOp::Eq,
                Some(Tok::Op("!=")) => CmpOp::Ne,
                _ => break,
            };
            self.i += 1;
            rest.push((op, self.bitor()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Cmp(Box::new(first), rest)
        })
    }

    fn binary_level(&mut self, ops: &[(&str, BinOp)], next: fn(&mut Self) -> PResult) -> PResult {
        let mut left = next(self)?;
        loop {
            let found = ops.iter().find(|(s, _)| self.is_op(s));
            let Some(&(_, op)) = found else { break };
            let at = self.offset();
            self.i += 1;
            let right = next(self)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right), at);
        }
        Ok(left)
    }

    fn bitor(&mut self) -> PResult {
        self.binary_level(&[("|", BinOp::BitOr)], Self::bitxor)
    }

    fn bitxor(&mut self) -> PResult {
        self.binary_level(&[("^", BinOp::BitXor)], Self::bitand)
    }

    fn bitand(&mut self) -> PResult {
        self.binary_level(&[("&", BinOp::BitAnd)], Self::sum)
    }

    fn sum(&mut self) -> PResult {
        self.binary_level(&[("+", BinOp::Add), ("-", BinOp::Sub)], Self::term)
    }

    fn term(&mut self) -> PResult {
        self.binary_level(
            &[
                ("*", BinOp::Mul),
                ("/", BinOp::Div),
                ("//", BinOp::FloorDiv),
                ("%", BinOp::Mod),
            ],
            Self::factor,
        )
    }

    fn factor(&mut self) -> PResult {
        if self.is_op("-") {
            self.i += 1;
            return Ok(Expr::Neg(Box::new(self.factor()?)));
        }
        if self.is_op("+") {
            self.i += 1;
            return Ok(Expr::Pos(Box::new(self.factor()?)));
        }
        if self.is_op("~") {
            return Err(self.syntax(self.offset(), "`~` is not supported"));
        }
        self.power()
    }

    fn power(&mut self) -> PResult {
        let base = self.atom()?;
        if self.is_op("**") {
            let at = self.offset();
            self.i += 1;
            let exp = self.factor()?;
            return Ok(Expr::Bin(BinOp::Pow, Box::new(base), Box::new(exp), at));
        }
        Ok(base)
    }

    fn atom(&mut self) -> PResult {
        let at = self.offset();
        let Some(tok) = self.peek().cloned() else {
            return Err(self.syntax(at, "the formula ends where a value is expected"));
        };
        self.i += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Placeholder(name) => {
                if !self.placeholders.contains(&name) {
                    self.placeholders.push(name.clone());
                }
                Ok(Expr::Placeholder(name, at))
            }
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Op(op) => Err(self.syntax(at, format!("unexpected `{op}`"))),
            Tok::Name(name) => self.name(name, at),
        }
    }

    fn name(&mut self, name: String, at: usize) -> PResult {
        match name.as_str() {
            "True" => return Ok(Expr::Num(PyNum::Bool(true))),
            "False" => return Ok(Expr::Num(PyNum::Bool(false))),
            "and" | "or" | "not" | "if" | "else" | "lambda" | "in" | "is" | "None" => {
                return Err(self.syntax(at, format!("unexpected `{name}`")))
            }
            _ => {}
        }
        let (func, shown) = if name == "math" {
            self.expect(".")?;
            let attr_at = self.offset();
            let Some(Tok::Name(attr)) = self.peek().cloned() else {
                return Err(self.syntax(attr_at, "expected a name after `math.`"));
            };
            self.i += 1;
            match attr.as_str() {
                "pi" => return Ok(Expr::Num(PyNum::Float(std::f64::consts::PI))),
                "e" => return Ok(Expr::Num(PyNum::Float(std::f64::consts::E))),
                _ => {}
            }
            match Func::math(&attr) {
                Some(f) => (Some(f), format!("math.{attr}")),
                None => {
                    self.errors.push(error(
                        self.src,
                        "unknown-name",
                        attr_at,
                        format!("`math.{attr}` is not a known function"),
                    ));
                    (None, format!("math.{attr}"))
                }
            }
        } else {
            match Func::builtin(&name) {
                Some(f) => (Some(f), name.clone()),
                None => {
                    self.errors.push(error(
                        self.src,
                        "unknown-name",
                        at,
                        format!("unknown name `{name}` (a placeholder is written `{{{name}}}`)"),
                    ));
                    if !self.is_op("(") {
                        return Ok(Expr::Num(PyNum::Int(0)));
                    }
                    (None, name.clone())
                }
            }
        };
        if !self.is_op("(") {
            return Err(self.syntax(
                self.offset(),
                format!("`{shown}` is a function: `(` expected"),
            ));
        }
        self.i += 1;
        let mut args = Vec::new();
        if !self.is_op(")") {
            loop {
                args.push(self.expr()?);
                if self.is_op(",") {
                    self.i += 1;
                    if self.is_op(")") {
                        break;
                    }
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        let Some(func) = func else {
            return Ok(Expr::Num(PyNum::Int(0)));
        };
        let (lo, hi) = func.arity();
        if args.len() < lo || args.len() > hi {
            return Err(self.syntax(
                at,
                format!(
                    "`{shown}` takes {} argument(s), {} given",
                    arity_text(lo, hi),
                    args.len()
                ),
            ));
        }
        Ok(Expr::Call(func, args, at))
    }
}

fn arity_text(lo: usize, hi: usize) -> String {
    if lo == hi {
        lo.to_string()
    } else if hi == usize::MAX {
        format!("at least {lo}")
    } else {
        format!("{lo} to {hi}")
    }
}

type EResult = Result<PyNum, (usize, String)>;

fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<Arg>) -> EResult {
    match e {
        Expr::Num(n) => Ok(*n),
        Expr::Placeholder(name, at) => placeholder(name, *at, lookup).map(|(v, _)| v),
        Expr::Neg(x) => neg(eval(x, lookup)?),
        Expr::Pos(x) => Ok(match eval(x, lookup)? {
            PyNum::Bool(b) => PyNum::Int(i64::from(b)),
            v => v,
        }),
        Expr::Not(x) => Ok(PyNum::Bool(!eval(x, lookup)?.truthy())),
        Expr::And(a, b) => {
            let l = eval(a, lookup)?;
            if l.truthy() {
                eval(b, lookup)
            } else {
                Ok(l)
            }
        }
        Expr::Or(a, b) => {
            let l = eval(a, lookup)?;
            if l.truthy() {
                Ok(l)
            } else {
                eval(b, lookup)
            }
        }
        Expr::Bin(BinOp::Pow, base, exp, at) => {
            if let Expr::Placeholder(name, p_at) = base.as_ref() {
                let (v, text_negative) = placeholder(name, *p_at, lookup)?;
                if text_negative {
                    // `-0.5**2` in the substituted text: the minus applies after the power
                    let e = eval(exp, lookup)?;
                    let mag = neg(v)?;
                    return neg(power(mag, e).map_err(|m| (*at, m))?);
                }
                let e = eval(exp, lookup)?;
                return power(v, e).map_err(|m| (*at, m));
            }
            let b = eval(base, lookup)?;
            let x = eval(exp, lookup)?;
            power(b, x).map_err(|m| (*at, m))
        }
        Expr::Bin(op, a, b, at) => {
            let l = eval(a, lookup)?;
            let r = eval(b, lookup)?;
            binary(*op, l, r).map_err(|m| (*at, m))
        }
        Expr::Cmp(first, rest) => {
            let mut left = eval(first, lookup)?;
            for (op, right) in rest {
                let r = eval(right, lookup)?;
                if !compare(*op, left, r) {
                    return Ok(PyNum::Bool(false));
                }
                left = r;
            }
            Ok(PyNum::Bool(true))
        }
        Expr::Call(f, args, at) => {
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(eval(a, lookup)?);
            }
            call(*f, &vals).map_err(|m| (*at, m))
        }
    }
}

fn placeholder(
    name: &str,
    at: usize,
    lookup: &dyn Fn(&str) -> Option<Arg>,
) -> Result<(PyNum, bool), (usize, String)> {
    let Some(arg) = lookup(name) else {
        return Err((at, format!("no value for `{{{name}}}`")));
    };
    arg.as_python()
        .map_err(|m| (at, format!("`{{{name}}}`: {m}")))
}

fn neg(v: PyNum) -> EResult {
    Ok(match v {
        PyNum::Bool(b) => PyNum::Int(-i64::from(b)),
        PyNum::Int(i) => match i.checked_neg() {
            Some(n) => PyNum::Int(n),
            None => PyNum::Float(-(i as f64)),
        },
        PyNum::Float(x) => PyNum::Float(-x),
    })
}

fn int_op(a: i64, b: i64, op: BinOp) -> Result<PyNum, String> {
    let checked = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::FloorDiv | BinOp::Mod => {
            if b == 0 {
                return Err("integer division or modulo by zero".into());
            }
            let (q, r) = (a.checked_div(b), a.checked_rem(b));
            match (q, r) {
                (Some(q), Some(r)) => {
                    let adjust = r != 0 && ((r < 0) != (b < 0));
                    Some(if op == BinOp::FloorDiv {
                        q - i64::from(adjust)
                    } else if adjust {
                        r + b
                    } else {
                        r
                    })
                }
                _ => None,
            }
        }
        BinOp::BitAnd => Some(a & b),
        BinOp::BitOr => Some(a | b),
        BinOp::BitXor => Some(a ^ b),
        BinOp::Div | BinOp::Pow => None,
    };
    match checked {
        Some(v) => Ok(PyNum::Int(v)),
        // beyond i64 Python stays exact; we continue in doubles
        None => float_op(a as f64, b as f64, op),
    }
}

fn float_op(a: f64, b: f64, op: BinOp) -> Result<PyNum, String> {
    Ok(PyNum::Float(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => {
            if b == 0.0 {
                return Err("division by zero".into());
            }
            a / b
        }
        BinOp::Mod | BinOp::FloorDiv => {
            if b == 0.0 {
                return Err("float modulo or floor division by zero".into());
            }
            // CPython's float_divmod
            let mut m = a % b;
            let mut div = (a - m) / b;
            if m != 0.0 {
                if (b < 0.0) != (m < 0.0) {
                    m += b;
                    div -= 1.0;
                }
            } else {
                m = 0.0f64.copysign(b);
            }
            if op == BinOp::Mod {
                m
            } else if div != 0.0 {
                let f = div.floor();
                if div - f > 0.5 {
                    f + 1.0
                } else {
                    f
                }
            } else {
                0.0f64.copysign(a / b)
            }
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
            return Err("`&`, `|` and `^` need booleans or integers, not floats".into())
        }
        BinOp::Pow => return float_pow(a, b),
    }))
}

fn binary(op: BinOp, l: PyNum, r: PyNum) -> Result<PyNum, String> {
    if let (PyNum::Bool(a), PyNum::Bool(b)) = (l, r) {
        match op {
            BinOp::BitAnd => return Ok(PyNum::Bool(a & b)),
            BinOp::BitOr => return Ok(PyNum::Bool(a | b)),
            BinOp::BitXor => return Ok(PyNum::Bool(a ^ b)),
            _ => {}
        }
    }
    match (l.int_like(), r.int_like()) {
        (Some(a), Some(b)) if op == BinOp::Div => {
            if b == 0 {
                return Err("division by zero".into());
            }
            Ok(PyNum::Float(a as f64 / b as f64))
        }
        (Some(a), Some(b)) => int_op(a, b, op),
        _ => float_op(l.to_f64(), r.to_f64(), op),
    }
}

/// CPython's `float.__pow__` (and `int ** negative int`).
fn float_pow(x: f64, y: f64) -> Result<PyNum, String> {
    if y == 0.0 {
        return Ok(PyNum::Float(1.0));
    }
    if x.is_nan() {
        return Ok(PyNum::Float(x));
    }
    if y.is_nan() {
        return Ok(PyNum::Float(if x == 1.0 { 1.0 } else { y }));
    }
    if x == 0.0 && y < 0.0 {
        return Err("0.0 cannot be raised to a negative power (ZeroDivisionError)".into());
    }
    if x < 0.0 && x.is_finite() && y.is_finite() && y.fract() != 0.0 {
        return Err(format!(
            "{x:?} ** {y:?} is a complex number, which NEURON cannot take"
        ));
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(format!("{x:?} ** {y:?} overflows (OverflowError)"));
    }
    Ok(PyNum::Float(r))
}

fn power(base: PyNum, exp: PyNum) -> Result<PyNum, String> {
    match (base.int_like(), exp.int_like()) {
        (Some(a), Some(b)) if b >= 0 => {
            let exact = u32::try_from(b).ok().and_then(|e| a.checked_pow(e));
            match exact {
                Some(v) => Ok(PyNum::Int(v)),
                None => float_pow(a as f64, b as f64),
            }
        }
        (Some(a), Some(b)) => {
            if a == 0 {
                return Err("0.0 cannot be raised to a negative power (ZeroDivisionError)".into());
            }
            float_pow(a as f64, b as f64)
        }
        _ => float_pow(base.to_f64(), exp.to_f64()),
    }
}

/// Python's numeric comparison (int against float compared exactly).
fn py_cmp(a: PyNum, b: PyNum) -> Option<Ordering> {
    match (a.int_like(), b.int_like()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(i), None) => int_float_cmp(i, b.to_f64()),
        (None, Some(i)) => int_float_cmp(i, a.to_f64()).map(Ordering::reverse),
        (None, None) => a.to_f64().partial_cmp(&b.to_f64()),
    }
}

fn int_float_cmp(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    let approx = (i as f64).partial_cmp(&f)?;
    if approx != Ordering::Equal || f.abs() >= 9.2e18 {
        return Some(approx);
    }
    // f is integral here (it equals a rounded integer below 2^63): compare exactly
    Some((i as i128).cmp(&(f as i128)))
}

fn compare(op: CmpOp, a: PyNum, b: PyNum) -> bool {
    let ord = py_cmp(a, b);
    match op {
        CmpOp::Lt => ord == Some(Ordering::Less),
        CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ord == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Eq => ord == Some(Ordering::Equal),
        CmpOp::Ne => ord != Some(Ordering::Equal),
    }
}

/// CPython's `math_1`: a NaN from a number is a domain error, an infinity from a finite number an
/// overflow (for functions that can overflow) or a domain error.
fn math1(x: f64, f: fn(f64) -> f64, can_overflow: bool) -> Result<PyNum, String> {
    let r = f(x);
    if r.is_nan() && !x.is_nan() {
        return Err("math domain error (ValueError)".into());
    }
    if r.is_infinite() && x.is_finite() {
        return Err(if can_overflow {
            "math range error (OverflowError)".into()
        } else {
            "math domain error (ValueError)".into()
        });
    }
    Ok(PyNum::Float(r))
}

fn to_int(x: f64) -> Result<PyNum, String> {
    if x.is_nan() {
        return Err("cannot convert float NaN to integer (ValueError)".into());
    }
    if x.is_infinite() {
        return Err("cannot convert float infinity to integer (OverflowError)".into());
    }
    if x.abs() < 9.2e18 {
        Ok(PyNum::Int(x as i64))
    } else {
        Ok(PyNum::Float(x.trunc()))
    }
}

fn call(f: Func, args: &[PyNum]) -> Result<PyNum, String> {
    let x = args[0];
    let xf = x.to_f64();
    match f {
        Func::Abs => Ok(match x {
            PyNum::Bool(b) => PyNum::Int(i64::from(b)),
            PyNum::Int(i) => match i.checked_abs() {
                Some(a) => PyNum::Int(a),
                None => PyNum::Float((i as f64).abs()),
            },
            PyNum::Float(v) => PyNum::Float(v.abs()),
        }),
        Func::Min | Func::Max => {
            // the first extreme element wins, replaced only when strictly beyond it
            let mut best = x;
            for &a in &args[1..] {
                let want = if f == Func::Max {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
                if py_cmp(a, best) == Some(want) {
                    best = a;
                }
            }
            Ok(best)
        }
        Func::Int => match x {
            PyNum::Float(v) => to_int(v),
            v => Ok(PyNum::Int(v.int_like().unwrap_or(0))),
        },
        Func::Float => Ok(PyNum::Float(xf)),
        Func::Pow => power(x, args[1]),
        Func::MathPow => {
            let y = args[1].to_f64();
            // math.pow raises ValueError where ** gives a complex number or ZeroDivisionError
            if (xf == 0.0 && y < 0.0 && y.is_finite())
                || (xf < 0.0 && xf.is_finite() && y.is_finite() && y.fract() != 0.0)
            {
                return Err("math domain error (ValueError)".into());
            }
            if xf == 1.0 || y == 0.0 {
                return Ok(PyNum::Float(1.0));
            }
            let r = xf.powf(y);
            if r.is_infinite() && xf.is_finite() && y.is_finite() {
                return Err("math range error (OverflowError)".into());
            }
            Ok(PyNum::Float(r))
        }
        Func::MathExp => math1(xf, f64::exp, true),
        Func::MathLog => {
            let l = math1(xf, f64::ln, false)?;
            if args.len() == 2 {
                let base = math1(args[1].to_f64(), f64::ln, false)?.to_f64();
                if base == 0.0 {
                    return Err("math.log with base 1: division by zero".into());
                }
                return Ok(PyNum::Float(l.to_f64() / base));
            }
            Ok(l)
        }
        Func::MathLog10 => math1(xf, f64::log10, false),
        Func::MathSqrt => math1(xf, f64::sqrt, false),
        Func::MathFabs => Ok(PyNum::Float(xf.abs())),
        Func::MathFloor => match x {
            PyNum::Float(v) => to_int(v.floor()),
            v => Ok(PyNum::Int(v.int_like().unwrap_or(0))),
        },
        Func::MathCeil => match x {
            PyNum::Float(v) => to_int(v.ceil()),
            v => Ok(PyNum::Int(v.int_like().unwrap_or(0))),
        },
        Func::MathSin => math1(xf, f64::sin, false),
        Func::MathCos => math1(xf, f64::cos, false),
        Func::MathTan => math1(xf, f64::tan, false),
        Func::MathTanh => math1(xf, f64::tanh, false),
        Func::MathSinh => math1(xf, f64::sinh, true),
        Func::MathCosh => math1(xf, f64::cosh, true),
        Func::MathAtan => math1(xf, f64::atan, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(src: &str) -> f64 {
        Formula::parse(src).unwrap().eval(&|_| None).unwrap()
    }

    fn ev_with(src: &str, vals: &[(&str, Arg)]) -> Result<f64, FormulaError> {
        let f = Formula::parse(src).unwrap();
        f.eval(&|n| vals.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))
    }

    // Expected numbers come from python3 (3.11) evaluating the expression in the comment.

    #[test]
    fn precedence_and_associativity_are_pythons() {
        assert_eq!(ev("-2**2"), -4.0); // -2**2
        assert_eq!(ev("2**-1"), 0.5); // 2**-1
        assert_eq!(ev("2**3**2"), 512.0); // 2**3**2
        assert_eq!(ev("(-2)**2"), 4.0); // (-2)**2
        assert_eq!(ev("2*3+4*5-6/4"), 24.5); // 2*3+4*5-6/4
        assert_eq!(ev("10-4-3"), 3.0); // 10-4-3
        assert_eq!(ev("2**-2**2"), 0.0625); // 2**-2**2
        assert_eq!(ev("-3**-2"), -0.1111111111111111); // -3**-2
        assert_eq!(ev("7//2 + -7//2 + 7%-3"), -3.0); // 7//2 + -7//2 + 7%-3
        assert_eq!(ev("-7.5//2"), -4.0); // -7.5//2
        assert_eq!(ev("-7.5%2"), 0.5); // -7.5%2
        assert_eq!(ev("1 < 2 < 3"), 1.0); // 1 < 2 < 3  -> True
        assert_eq!(ev("3 > 2 > 2"), 0.0); // 3 > 2 > 2  -> False
        assert_eq!(ev("(1 < 2) + (2 <= 2) + (1 == 1.0)"), 3.0); // True + True + True
        assert_eq!(ev("0.1 + 0.9 * int((5 > 2) & (5 < 10))"), 1.0); // step distribution
        assert_eq!(ev("0.1 + 0.9 * int((50 > 2) & (50 < 10))"), 0.1);
    }

    #[test]
    fn math_functions_match_python_bits() {
        // (-0.8696 + 2.087*math.exp((123.456)*0.0031))*4.5e-05
        assert_eq!(
            ev("(-0.8696 + 2.087*math.exp((123.456)*0.0031))*4.5e-05"),
            9.857162322807485e-05
        );
        // math.exp(250.75*-0.0039)*0.1
        assert_eq!(ev("math.exp(250.75*-0.0039)*0.1"), 0.03760906779150802);
        assert_eq!(ev("math.log(10)"), std::f64::consts::LN_10); // math.log(10) == 2.302585092994046
        assert_eq!(ev("math.log(8, 2)"), 3.0); // math.log(8, 2)
        assert_eq!(ev("math.sqrt(2)"), std::f64::consts::SQRT_2); // math.sqrt(2)
        assert_eq!(ev("math.pow(2, 0.5)"), std::f64::consts::SQRT_2); // math.pow(2, 0.5)
        assert_eq!(ev("abs(-3) + min(4, 2.5, 7) + max(1, 9)"), 14.5);
        assert_eq!(ev("1e-3 + .5 + 1_000"), 1000.501); // 1e-3 + .5 + 1_000
        assert_eq!(ev("math.pi"), std::f64::consts::PI);
    }

    #[test]
    fn placeholders_substitute_like_python_text() {
        let f = "(-0.8696 + 2.087*math.exp(({distance})*0.0031))*{value}";
        // '%.17g' % 137.30000000000001 substitutes the same double
        let got = ev_with(
            f,
            &[
                ("distance", Arg::Formatted(137.3)),
                ("value", Arg::Formatted(7.8e-05)),
            ],
        )
        .unwrap();
        // eval('(-0.8696 + 2.087*math.exp((%.17g)*0.0031))*%.17g' % (137.3, 7.8e-05))
        assert_eq!(got, 0.0001813240228997536);
        // a negative value as the base of ** reads `-0.5**2` = -(0.5**2)
        let neg = ev_with("{value}**2", &[("value", Arg::Formatted(-0.5))]).unwrap();
        assert_eq!(neg, -0.25); // eval('%.17g**2' % -0.5)
        let neg_dist = ev_with("{c}**2", &[("c", Arg::Str(PyNum::Float(-0.5)))]).unwrap();
        assert_eq!(neg_dist, -0.25); // eval('{c}**2'.format(c=-0.5))
                                     // elsewhere the sign is an ordinary unary minus
        let e = ev_with(
            "math.exp({distance}*{constant})*{value}",
            &[
                ("distance", Arg::Formatted(10.0)),
                ("constant", Arg::Str(PyNum::Float(-0.0054993896903911335))),
                ("value", Arg::Formatted(0.099_937_269_709_686_42)),
            ],
        )
        .unwrap();
        // eval('math.exp(%.17g*{constant})*%.17g'.format(constant=-0.0054993896903911335) % ...)
        assert_eq!(e, 0.09458971879562096);
        // integral values become ints: 3/2 is true division either way, 7//2 is not
        assert_eq!(
            ev_with("{value}//2", &[("value", Arg::Formatted(7.0))]).unwrap(),
            3.0
        );
        // inf and nan are substituted as names Python does not know
        let err = ev_with("{value}*2", &[("value", Arg::Formatted(f64::INFINITY))]).unwrap_err();
        assert_eq!(err.kind, "formula-eval");
        assert!(err.message.contains("NameError"), "{err:?}");
        let missing = ev_with("{value}*{nope}", &[("value", Arg::Formatted(1.0))]).unwrap_err();
        assert!(missing.message.contains("{nope}"));
    }

    #[test]
    fn evaluation_errors_are_pythons() {
        let cases = [
            ("1/0", "division by zero"),
            ("math.log(0)", "domain"),
            ("math.log(-1)", "domain"),
            ("math.sqrt(-1)", "domain"),
            ("math.exp(1000)", "OverflowError"),
            ("10.0**400", "overflows"),
            ("(-8.0)**(1/3)", "complex"),
            ("0**-1", "ZeroDivisionError"),
            ("math.pow(-8, 0.5)", "domain"),
            ("1.5 & 1", "floats"),
        ];
        for (src, msg) in cases {
            let e = Formula::parse(src).unwrap().eval(&|_| None).unwrap_err();
            assert!(e.message.contains(msg), "{src}: {e:?}");
        }
        // 10**400 is an exact Python int; here it is out of i64 and continues as a double
        assert!(ev("1e308*10").is_infinite()); // float overflow in * gives inf in Python too
    }

    #[test]
    fn syntax_errors_have_columns() {
        let cases = [
            ("math.exp({distance}*0.0031", 27, "formula-syntax"),
            ("2 ** * 3", 6, "formula-syntax"),
            ("{value} + foo", 11, "unknown-name"),
            ("math.expp(1)", 6, "unknown-name"),
            ("{distance x}", 1, "formula-syntax"),
            ("1 + 2)", 6, "formula-syntax"),
            ("0123", 1, "formula-syntax"),
            ("max(1)", 1, "formula-syntax"),
            ("é + 1", 1, "formula-syntax"),
            ("1 + é", 5, "formula-syntax"),
            ("math.exp", 9, "formula-syntax"),
        ];
        for (src, col, kind) in cases {
            let errs = Formula::parse(src).unwrap_err();
            assert_eq!((errs[0].col, errs[0].kind), (col, kind), "{src}: {errs:?}");
        }
        // every unknown name is reported, not only the first
        let errs = Formula::parse("a + b * {value}").unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!((errs[0].col, errs[1].col), (1, 5));
    }

    #[test]
    fn placeholders_are_listed_once_in_order() {
        let f = Formula::parse("{value}*({distance} > {step_begin})*{value}").unwrap();
        assert_eq!(f.placeholders(), ["value", "distance", "step_begin"]);
    }

    #[test]
    fn never_panics_on_fragments() {
        let s = "(-0.8696 + 2.087*math.exp(({distance})*0.0031))*{value} ** -1e3 // 2 % 3";
        for i in 0..=s.len() {
            for j in i..=s.len() {
                if let Ok(f) = Formula::parse(&s[i..j]) {
                    let _ = f.eval(&|_| Some(Arg::Formatted(-1.5)));
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in "[-+*/%()<>=!&|^,.{}a-z0-9_ eé]{0,40}") {
            if let Ok(f) = Formula::parse(&s) {
                let _ = f.eval(&|_| Some(Arg::Formatted(-0.0)));
                let _ = f.eval(&|_| Some(Arg::Str(PyNum::Int(i64::MIN))));
            }
        }
    }
}
