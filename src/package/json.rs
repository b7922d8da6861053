//! A JSON reader that remembers where every value and key came from (byte offsets), so that
//! problems in a package point at `file:line:col`.
//!
//! It accepts what Python's `json.load` accepts (the tools that write and read e-model packages
//! are Python): `NaN`, `Infinity` and `-Infinity`, integers of any size, lone `\u` surrogates.
//! An object keeps Python's dict semantics for repeated keys: the key stays at its first
//! position and takes its last value; each repetition is reported as a warning.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, LineCol};

/// A byte range in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A JSON number as Python reads it: an integer literal (no fraction, no exponent) becomes a
/// Python `int`, anything else a `float`. `value` is the nearest `f64` in both cases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number {
    pub value: f64,
    pub is_int: bool,
}

/// One `"key": value` pair of an object.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_span: Span,
    pub value: Json,
}

/// What a JSON value is.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Json>),
    /// Members in Python dict order (first occurrence), each with its last value.
    Object(Vec<Member>),
}

/// A JSON value with the span of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Json {
    pub value: JsonValue,
    pub span: Span,
}

impl Json {
    /// The member `key` of an object (None for other values or a missing key).
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.member(key).map(|m| &m.value)
    }

    pub fn member(&self, key: &str) -> Option<&Member> {
        match &self.value {
            JsonValue::Object(members) => members.iter().find(|m| m.key == key),
            _ => None,
        }
    }

    pub fn members(&self) -> Option<&[Member]> {
        match &self.value {
            JsonValue::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Json]> {
        match &self.value {
            JsonValue::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// A number (Python `bool` is an `int` too, but the packages never use it as one: not here).
    pub fn as_number(&self) -> Option<Number> {
        match &self.value {
            JsonValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().map(|n| n.value)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            JsonValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, JsonValue::Null)
    }

    /// The JSON type name, for messages (`object`, `array`, `string`, `number`, `boolean`, `null`).
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "boolean",
            JsonValue::Number(_) => "number",
            JsonValue::String(_) => "string",
            JsonValue::Array(_) => "array",
            JsonValue::Object(_) => "object",
        }
    }
}

/// A syntax error: where and what.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

/// A successful parse, with the warnings found on the way (repeated keys, lone surrogates).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub root: Json,
    pub warnings: Vec<(usize, String)>,
}

/// Parse a whole document (one value, surrounded by optional whitespace).
pub fn parse(text: &str) -> Result<Parsed, SyntaxError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        warnings: Vec::new(),
        depth: 0,
    };
    if text.starts_with('\u{feff}') {
        return Err(SyntaxError {
            offset: 0,
            message: "unexpected UTF-8 byte order mark (Python's json refuses it)".into(),
        });
    }
    p.skip_ws();
    let root = p.value()?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.error("extra data after the JSON value"));
    }
    Ok(Parsed {
        root,
        warnings: p.warnings,
    })
}

/// Deepest nesting accepted (Python's recursion limit stops near 1000; a file nested deeper than
/// this is not a package file and would only exhaust our stack).
const MAX_DEPTH: usize = 512;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    warnings: Vec<(usize, String)>,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<Json, SyntaxError> {
        let start = self.pos;
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(self.error("expected a value, found the end of the file"));
        };
        let value = match b {
            b'{' => self.object()?,
            b'[' => self.array()?,
            b'"' => JsonValue::String(self.string()?),
            b'-' | b'0'..=b'9' => self.number()?,
            _ => {
                let rest = &self.text[self.pos..];
                let words: [(&str, JsonValue); 5] = [
                    ("null", JsonValue::Null),
                    ("true", JsonValue::Bool(true)),
                    ("false", JsonValue::Bool(false)),
                    (
                        "NaN",
                        JsonValue::Number(Number {
                            value: f64::NAN,
                            is_int: false,
                        }),
                    ),
                    (
                        "Infinity",
                        JsonValue::Number(Number {
                            value: f64::INFINITY,
                            is_int: false,
                        }),
                    ),
                ];
                let mut found = None;
                for (word, v) in words {
                    if rest.starts_with(word) {
                        self.pos += word.len();
                        found = Some(v);
                        break;
                    }
                }
                match found {
                    Some(v) => v,
                    None => {
                        let c = rest.chars().next().unwrap_or(' ');
                        return Err(self.error(format!("expected a value, found `{c}`")));
                    }
                }
            }
        };
        Ok(Json {
            value,
            span: Span {
                start,
                end: self.pos,
            },
        })
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<JsonValue, SyntaxError> {
        self.enter()?;
        self.pos += 1; // '{'
        let mut members: Vec<Member> = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(JsonValue::Object(members));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a property name in double quotes"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            let key_span = Span {
                start: key_start,
                end: self.pos,
            };
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected `:` after the property name"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            if let Some(existing) = members.iter_mut().find(|m| m.key == key) {
                self.warnings.push((
                    key_start,
                    format!("key `{key}` repeated: the last value is used (as Python does)"),
                ));
                existing.value = value;
            } else {
                members.push(Member {
                    key,
                    key_span,
                    value,
                });
            }
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => return Err(self.error("expected `,` or `}` in an object")),
                None => return Err(self.error("unterminated object")),
            }
        }
        self.depth -= 1;
        Ok(JsonValue::Object(members))
    }

    fn array(&mut self) -> Result<JsonValue, SyntaxError> {
        self.enter()?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(JsonValue::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => return Err(self.error("expected `,` or `]` in an array")),
                None => return Err(self.error("unterminated array")),
            }
        }
        self.depth -= 1;
        Ok(JsonValue::Array(items))
    }

    fn number(&mut self) -> Result<JsonValue, SyntaxError> {
        let start = self.pos;
        let b = self.bytes;
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
            if self.text[i..].starts_with("Infinity") {
                self.pos = i + "Infinity".len();
                return Ok(JsonValue::Number(Number {
                    value: f64::NEG_INFINITY,
                    is_int: false,
                }));
            }
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while matches!(b.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return Err(self.error("expected a digit"));
            }
        }
        let mut is_int = true;
        if b.get(i) == Some(&b'.') && matches!(b.get(i + 1), Some(b'0'..=b'9')) {
            is_int = false;
            i += 1;
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if matches!(b.get(j), Some(b'0'..=b'9')) {
                is_int = false;
                while matches!(b.get(j), Some(b'0'..=b'9')) {
                    j += 1;
                }
                i = j;
            }
        }
        self.pos = i;
        let literal = &self.text[start..i];
        // Rust's float parsing is correctly rounded, like Python's `float()`; an integer literal
        // becomes Python's exact int, which converts to the same nearest double when used.
        let value: f64 = literal.parse().map_err(|_| SyntaxError {
            offset: start,
            message: format!("invalid number `{literal}`"),
        })?;
        // Python's int has no negative zero: `-0` is 0.
        let value = if is_int && value == 0.0 { 0.0 } else { value };
        Ok(JsonValue::Number(Number { value, is_int }))
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&c) = self.bytes.get(self.pos) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.bytes.get(self.pos) {
                None => {
                    return Err(SyntaxError {
                        offset: open,
                        message: "unterminated string".into(),
                    })
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc = self.bytes.get(self.pos + 1).copied();
                    let simple = match esc {
                        Some(b'"') => Some('"'),
                        Some(b'\\') => Some('\\'),
                        Some(b'/') => Some('/'),
                        Some(b'b') => Some('\u{8}'),
                        Some(b'f') => Some('\u{c}'),
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        out.push(c);
                        self.pos += 2;
                    } else if esc == Some(b'u') {
                        let at = self.pos;
                        let hi = self.hex4(self.pos + 2)?;
                        self.pos += 6;
                        let c = if (0xD800..0xDC00).contains(&hi)
                            && self.bytes.get(self.pos) == Some(&b'\\')
                            && self.bytes.get(self.pos + 1) == Some(&b'u')
                        {
                            let lo = self.hex4(self.pos + 2)?;
                            if (0xDC00..0xE000).contains(&lo) {
                                self.pos += 6;
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                None
                            }
                        } else {
                            char::from_u32(hi)
                        };
                        match c {
                            Some(c) => out.push(c),
                            None => {
                                self.warnings.push((
                                    at,
                                    "lone UTF-16 surrogate in a string: replaced by U+FFFD".into(),
                                ));
                                out.push('\u{fffd}');
                            }
                        }
                    } else {
                        return Err(self.error("invalid escape in a string"));
                    }
                }
                Some(_) => {
                    return Err(self.error("control character in a string (Python refuses it)"))
                }
            }
        }
    }

    fn hex4(&self, at: usize) -> Result<u32, SyntaxError> {
        let digits = self.text.get(at..at + 4).unwrap_or("");
        if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(u32::from_str_radix(digits, 16).unwrap_or(0))
        } else {
            Err(SyntaxError {
                offset: at,
                message: "invalid \\u escape (four hex digits expected)".into(),
            })
        }
    }
}

/// Byte offset in the file of byte `index` of the decoded contents of the string literal at
/// `span` (escapes are walked, so the offset is exact even after `\n` or `\u00e9`).
pub fn string_content_offset(text: &str, span: Span, index: usize) -> usize {
    let raw = text.get(span.start..span.end).unwrap_or("");
    let bytes = raw.as_bytes();
    let mut i = 1; // after the opening quote
    let mut decoded = 0;
    while i < bytes.len().saturating_sub(1) && decoded < index {
        if bytes[i] == b'\\' {
            let (raw_len, dec_len) = match bytes.get(i + 1) {
                Some(b'u') => {
                    let cp = raw
                        .get(i + 2..i + 6)
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .unwrap_or(0xfffd);
                    let c = char::from_u32(cp).unwrap_or('\u{fffd}');
                    (6, c.len_utf8())
                }
                _ => (2, 1),
            };
            i += raw_len;
            decoded += dec_len;
        } else {
            let len = raw[i..].chars().next().map_or(1, char::len_utf8);
            i += len;
            decoded += len;
        }
    }
    span.start + i
}

/// A JSON file read from disk, kept with its text so that positions can be rendered.
#[derive(Clone, Debug)]
pub struct JsonFile {
    pub path: PathBuf,
    pub text: String,
    pub root: Json,
}

impl JsonFile {
    /// Read and parse `path`; problems go to `diags` (`io`, `json-syntax`, `duplicate-key`).
    pub fn read(path: &Path, diags: &mut Diagnostics) -> Option<JsonFile> {
        let text = match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let pos = LineCol::of_offset(
                        &String::from_utf8_lossy(e.as_bytes()),
                        e.utf8_error().valid_up_to(),
                    );
                    diags.push(Diagnostic::error(
                        "json-syntax",
                        path,
                        Some(pos),
                        "the file is not valid UTF-8",
                    ));
                    return None;
                }
            },
            Err(e) => {
                diags.push(Diagnostic::error(
                    "io",
                    path,
                    None,
                    format!("cannot read the file: {e}"),
                ));
                return None;
            }
        };
        Self::from_text(path, text, diags)
    }

    /// Parse `text` as the contents of `path`.
    pub fn from_text(path: &Path, text: String, diags: &mut Diagnostics) -> Option<JsonFile> {
        match parse(&text) {
            Ok(parsed) => {
                for (offset, msg) in parsed.warnings {
                    diags.push(Diagnostic::warning(
                        "duplicate-key",
                        path,
                        Some(LineCol::of_offset(&text, offset)),
                        msg,
                    ));
                }
                Some(JsonFile {
                    path: path.to_path_buf(),
                    text,
                    root: parsed.root,
                })
            }
            Err(e) => {
                diags.push(Diagnostic::error(
                    "json-syntax",
                    path,
                    Some(LineCol::of_offset(&text, e.offset)),
                    e.message,
                ));
                None
            }
        }
    }

    /// Line and column of a byte offset of this file.
    pub fn pos(&self, offset: usize) -> LineCol {
        LineCol::of_offset(&self.text, offset)
    }

    /// Line and column where `value` starts.
    pub fn pos_of(&self, value: &Json) -> LineCol {
        self.pos(value.span.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Json {
        parse(t).unwrap().root
    }

    #[test]
    fn values_and_spans() {
        let t = r#"{"a": [1, 2.5, -3e2, true, null], "b": "x\ty"}"#;
        let j = p(t);
        let a = j.get("a").unwrap();
        assert_eq!(a.span, Span { start: 6, end: 32 });
        let items = a.items().unwrap();
        assert_eq!(
            items[0].as_number(),
            Some(Number {
                value: 1.0,
                is_int: true
            })
        );
        assert_eq!(items[1].as_f64(), Some(2.5));
        assert_eq!(
            items[2].as_number(),
            Some(Number {
                value: -300.0,
                is_int: false
            })
        );
        assert_eq!(items[2].span, Span { start: 15, end: 19 });
        assert_eq!(items[3].as_bool(), Some(true));
        assert!(items[4].is_null());
        assert_eq!(j.get("b").unwrap().as_str(), Some("x\ty"));
        let m = j.member("b").unwrap();
        assert_eq!(&t[m.key_span.start..m.key_span.end], "\"b\"");
    }

    #[test]
    fn python_extensions() {
        let j = p("[NaN, Infinity, -Infinity, -0, -0.0, 123456789012345678901234567890]");
        let v: Vec<f64> = j
            .items()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(v[0].is_nan());
        assert_eq!(v[1], f64::INFINITY);
        assert_eq!(v[2], f64::NEG_INFINITY);
        // `-0` is Python's int 0 (no sign); `-0.0` keeps its sign
        assert!(v[3] == 0.0 && v[3].is_sign_positive());
        assert!(v[4] == 0.0 && v[4].is_sign_negative());
        assert_eq!(v[5], 1.2345678901234568e29);
    }

    #[test]
    fn repeated_keys_keep_first_position_last_value() {
        let parsed = parse(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let keys: Vec<&str> = parsed
            .root
            .members()
            .unwrap()
            .iter()
            .map(|m| m.key.as_str())
            .collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(parsed.root.get("a").unwrap().as_f64(), Some(3.0));
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].0, 17);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            ("{\"a\": 1,}", 8, "property name"),
            ("[1 2]", 3, "`,` or `]`"),
            ("{\"a\" 1}", 5, "`:`"),
            ("[01]", 2, "`,` or `]`"),
            ("[1] x", 4, "extra data"),
            ("\"abc", 0, "unterminated string"),
            ("[\"a\nb\"]", 3, "control character"),
            ("[tru]", 1, "expected a value"),
            ("[\"\\x\"]", 2, "invalid escape"),
            ("", 0, "end of the file"),
            ("[1.]", 2, "`,` or `]`"),
            ("\u{feff}{}", 0, "byte order mark"),
        ];
        for (text, offset, msg) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{text:?}: {e:?}");
            assert!(e.message.contains(msg), "{text:?}: {e:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(parse(&text).unwrap_err().message.contains("nesting"));
    }

    #[test]
    fn unicode_escapes() {
        let j = p(r#"["\u00e9\ud83d\ude00", "\ud800x"]"#);
        let items = j.items().unwrap();
        assert_eq!(items[0].as_str(), Some("é😀"));
        assert_eq!(items[1].as_str(), Some("\u{fffd}x"));
    }

    #[test]
    fn offsets_inside_strings_walk_escapes() {
        let t = r#"{"f": "a\n\u00e9b*"}"#;
        let j = p(t);
        let s = j.get("f").unwrap();
        let content = s.as_str().unwrap();
        let star = content.find('*').unwrap();
        assert_eq!(&t[string_content_offset(t, s.span, star)..][..1], "*");
        assert_eq!(string_content_offset(t, s.span, 0), s.span.start + 1);
    }

    #[test]
    fn file_diagnostics_have_line_and_column() {
        let mut d = Diagnostics::new();
        let r = JsonFile::from_text(
            Path::new("x.json"),
            "{\n  \"a\": 1,\n  \"a\": [1,,2]\n}".into(),
            &mut d,
        );
        assert!(r.is_none());
        let v = d.into_vec();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, "json-syntax");
        assert_eq!(v[0].pos, Some(LineCol { line: 3, col: 11 }));
    }

    #[test]
    fn never_panics_on_prefixes_of_a_real_document() {
        let t = r#"{"a": [1, -2.5e-3, "x\u00e9\"", {"b": null}], "c": NaN, "d": -Infinity}"#;
        for i in 0..=t.len() {
            if t.is_char_boundary(i) {
                let _ = parse(&t[..i]);
            }
        }
        assert!(parse(t).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,64}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_json_like_text(s in "[\\[\\]{}\",:0-9eE.+\\- \\\\unNaIfity]{0,48}") {
            if let Ok(p) = parse(&s) {
                // spans stay inside the text and on character boundaries
                assert!(p.root.span.end <= s.len());
            }
        }
    }
}
