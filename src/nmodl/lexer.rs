//! The NMODL lexer: source text to tokens with byte spans.
//!
//! Comments (`:` and `?` to the end of the line, `COMMENT ... ENDCOMMENT`), `TITLE` lines and the
//! unit-checking switches `UNITSOFF` / `UNITSON` (which change nothing numerically) are dropped here.
//! `VERBATIM ... ENDVERBATIM` becomes one token so that the parser can name it. Problems (an
//! unterminated comment, a stray character) are collected, never fatal.

use super::ast::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokKind {
    Ident,
    Number,
    Str,
    /// A whole `VERBATIM ... ENDVERBATIM` block.
    Verbatim,
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// `'` right after a name: a derivative.
    Prime,
    Assign,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    AndAnd,
    OrOr,
    Not,
    Tilde,
    Pipe,
    /// Any other character (reported by the parser where it appears).
    Other,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokKind,
    pub span: Span,
    /// The first token on its line.
    pub line_start: bool,
}

/// A lexing problem at a place in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub span: Span,
    pub message: String,
}

/// The tokens of `src`, ending with one `Eof`, and the problems found.
pub fn lex(src: &str) -> (Vec<Token>, Vec<LexError>) {
    let b = src.as_bytes();
    let n = b.len();
    let mut toks: Vec<Token> = Vec::new();
    let mut errs = Vec::new();
    let mut i = 0usize;
    let mut line_start = true;
    let sp = |s: usize, e: usize| Span::new(s, e);
    while i < n {
        let c = b[i];
        if c == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b':' || c == b'?' {
            while i < n && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let push = |kind: TokKind, end: usize, toks: &mut Vec<Token>, line_start: &mut bool| {
            toks.push(Token {
                kind,
                span: sp(start, end),
                line_start: *line_start,
            });
            *line_start = false;
        };
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &src[start..i];
            match word {
                "COMMENT" => match find_word(src, i, "ENDCOMMENT") {
                    Some((_, end)) => i = end,
                    None => {
                        errs.push(LexError {
                            span: sp(start, i),
                            message: "COMMENT without ENDCOMMENT".into(),
                        });
                        i = n;
                    }
                },
                "VERBATIM" => match find_word(src, i, "ENDVERBATIM") {
                    Some((_, end)) => {
                        push(TokKind::Verbatim, end, &mut toks, &mut line_start);
                        i = end;
                    }
                    None => {
                        errs.push(LexError {
                            span: sp(start, i),
                            message: "VERBATIM without ENDVERBATIM".into(),
                        });
                        push(TokKind::Verbatim, n, &mut toks, &mut line_start);
                        i = n;
                    }
                },
                "TITLE" => {
                    while i < n && b[i] != b'\n' {
                        i += 1;
                    }
                }
                "UNITSOFF" | "UNITSON" => {}
                _ => {
                    let is_prime = i < n && b[i] == b'\'';
                    push(TokKind::Ident, i, &mut toks, &mut line_start);
                    if is_prime {
                        toks.push(Token {
                            kind: TokKind::Prime,
                            span: sp(i, i + 1),
                            line_start: false,
                        });
                        i += 1;
                    }
                }
            }
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && i + 1 < n && b[i + 1].is_ascii_digit()) {
            while i < n && b[i].is_ascii_digit() {
                i += 1;
            }
            if i < n && b[i] == b'.' {
                i += 1;
                while i < n && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < n && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < n && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < n && b[j].is_ascii_digit() {
                    while j < n && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            push(TokKind::Number, i, &mut toks, &mut line_start);
            continue;
        }
        if c == b'"' {
            i += 1;
            while i < n && b[i] != b'"' && b[i] != b'\n' {
                i += 1;
            }
            if i < n && b[i] == b'"' {
                i += 1;
            } else {
                errs.push(LexError {
                    span: sp(start, i),
                    message: "unterminated string".into(),
                });
            }
            push(TokKind::Str, i, &mut toks, &mut line_start);
            continue;
        }
        let two = if i + 1 < n { Some(b[i + 1]) } else { None };
        let (kind, len) = match (c, two) {
            (b'=', Some(b'=')) => (TokKind::EqEq, 2),
            (b'!', Some(b'=')) => (TokKind::NotEq, 2),
            (b'<', Some(b'=')) => (TokKind::Le, 2),
            (b'>', Some(b'=')) => (TokKind::Ge, 2),
            (b'&', Some(b'&')) => (TokKind::AndAnd, 2),
            (b'|', Some(b'|')) => (TokKind::OrOr, 2),
            (b'{', _) => (TokKind::LBrace, 1),
            (b'}', _) => (TokKind::RBrace, 1),
            (b'(', _) => (TokKind::LParen, 1),
            (b')', _) => (TokKind::RParen, 1),
            (b'[', _) => (TokKind::LBracket, 1),
            (b']', _) => (TokKind::RBracket, 1),
            (b',', _) => (TokKind::Comma, 1),
            (b'\'', _) => (TokKind::Prime, 1),
            (b'=', _) => (TokKind::Assign, 1),
            (b'<', _) => (TokKind::Lt, 1),
            (b'>', _) => (TokKind::Gt, 1),
            (b'+', _) => (TokKind::Plus, 1),
            (b'-', _) => (TokKind::Minus, 1),
            (b'*', _) => (TokKind::Star, 1),
            (b'/', _) => (TokKind::Slash, 1),
            (b'^', _) => (TokKind::Caret, 1),
            (b'!', _) => (TokKind::Not, 1),
            (b'~', _) => (TokKind::Tilde, 1),
            (b'|', _) => (TokKind::Pipe, 1),
            _ => {
                // One whole character (may be several bytes).
                let ch_len = src[i..].chars().next().map_or(1, |ch| ch.len_utf8());
                (TokKind::Other, ch_len)
            }
        };
        i += len;
        push(kind, i, &mut toks, &mut line_start);
    }
    toks.push(Token {
        kind: TokKind::Eof,
        span: Span::new(n, n),
        line_start: true,
    });
    (toks, errs)
}

/// The first occurrence of `word` as a whole word at or after `from`: its start and end.
fn find_word(src: &str, from: usize, word: &str) -> Option<(usize, usize)> {
    let b = src.as_bytes();
    let mut at = from;
    while let Some(k) = src.get(at..).and_then(|s| s.find(word)) {
        let s = at + k;
        let e = s + word.len();
        let before_ok = s == 0 || !(b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_');
        let after_ok = e >= b.len() || !(b[e].is_ascii_alphanumeric() || b[e] == b'_');
        if before_ok && after_ok {
            return Some((s, e));
        }
        at = e;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokKind> {
        lex(src).0.into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn tokens_and_comments() {
        use TokKind::*;
        let src = "TITLE hello : world\nm' = (minf-m)/1e-3 : c\n? q\nx=.5e+2";
        let (t, e) = lex(src);
        assert!(e.is_empty());
        let k: Vec<TokKind> = t.iter().map(|t| t.kind).collect();
        assert_eq!(
            k,
            vec![
                Ident, Prime, Assign, LParen, Ident, Minus, Ident, RParen, Slash, Number, Ident,
                Assign, Number, Eof
            ]
        );
        assert_eq!(t[9].span.text(src), "1e-3");
        assert_eq!(t[12].span.text(src), ".5e+2");
        assert!(t[0].line_start && t[10].line_start && !t[1].line_start);
    }

    #[test]
    fn comment_blocks_verbatim_and_unit_switches() {
        use TokKind::*;
        let src = "COMMENT x = 1 ENDCOMMENT UNITSOFF a VERBATIM return 0; ENDVERBATIM UNITSON b";
        assert_eq!(kinds(src), vec![Ident, Verbatim, Ident, Eof]);
        let (_, e) = lex("COMMENT never ends");
        assert_eq!(e.len(), 1);
        let (_, e) = lex("VERBATIM never ends");
        assert_eq!(e.len(), 1);
        // ENDCOMMENT must be a whole word
        assert_eq!(kinds("COMMENT ENDCOMMENTS ENDCOMMENT z"), vec![Ident, Eof]);
    }

    #[test]
    fn operators_and_odd_bytes() {
        use TokKind::*;
        assert_eq!(
            kinds("a<=b>=c==d!=e&&f||!g<h>i^j~k|l"),
            vec![
                Ident, Le, Ident, Ge, Ident, EqEq, Ident, NotEq, Ident, AndAnd, Ident, OrOr, Not,
                Ident, Lt, Ident, Gt, Ident, Caret, Ident, Tilde, Ident, Pipe, Ident, Eof
            ]
        );
        assert_eq!(kinds("µ @"), vec![Other, Other, Eof]);
        // number followed by 'e' but no exponent digits
        let (t, _) = lex("2e x");
        assert_eq!(t[0].span.text("2e x"), "2");
    }
}
