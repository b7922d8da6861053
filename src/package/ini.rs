//! `config.ini` files read exactly as Python's `configparser.ConfigParser` (3.11, default
//! settings) reads them: `[Section]` headers (case-sensitive), `key = value` and `key: value`
//! (keys case-insensitive), full-line `#` / `;` comments, continuation lines indented deeper than
//! their key, a `DEFAULT` section seen by every section, and `%(name)s` interpolation done on
//! reading a value (`%%` is a literal `%`, at most 10 levels deep).
//!
//! Unlike configparser, reading never stops at the first problem: every problem becomes a
//! diagnostic with its line and column, and what could be read is kept.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, LineCol};

/// configparser's `MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// configparser's name of the section every other section inherits from.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// One `key = value` (after joining continuation lines).
#[derive(Clone, Debug, PartialEq)]
pub struct IniOption {
    /// Lower-cased, as configparser's `optionxform` makes it.
    pub key: String,
    /// The raw (not yet interpolated) value.
    pub raw: String,
    /// Where the value starts in the file; None for a built-in default.
    pub pos: Option<LineCol>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IniSection {
    pub name: String,
    pub options: Vec<IniOption>,
    /// Where the `[name]` header was written (None for built-in defaults).
    pub pos: Option<LineCol>,
}

impl IniSection {
    fn new(name: &str) -> Self {
        IniSection {
            name: name.to_string(),
            options: Vec::new(),
            pos: None,
        }
    }

    fn find(&self, key: &str) -> Option<&IniOption> {
        self.options.iter().find(|o| o.key == key)
    }

    fn set(&mut self, opt: IniOption) -> &mut IniOption {
        match self.options.iter().position(|o| o.key == opt.key) {
            Some(i) => {
                self.options[i] = opt;
                &mut self.options[i]
            }
            None => {
                self.options.push(opt);
                self.options.last_mut().expect("just pushed")
            }
        }
    }
}

/// A parsed configuration: defaults first (as `read_dict` puts them), then the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Ini {
    pub path: PathBuf,
    pub defaults: IniSection,
    pub sections: Vec<IniSection>,
}

/// configparser's `str.strip()`: Python's whitespace, which includes the separators
/// U+001C..U+001F that Rust does not count.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

impl Ini {
    pub fn new(path: &Path) -> Ini {
        Ini {
            path: path.to_path_buf(),
            defaults: IniSection::new(DEFAULT_SECTION),
            sections: Vec::new(),
        }
    }

    /// configparser's `read_dict`: set built-in defaults (they carry no file position).
    pub fn set_defaults(&mut self, defaults: &[(&str, &[(&str, &str)])]) {
        for (section, options) in defaults {
            let sect = self.section_mut_or_create(section);
            for (k, v) in options.iter() {
                sect.set(IniOption {
                    key: k.to_lowercase(),
                    raw: v.to_string(),
                    pos: None,
                });
            }
        }
    }

    fn section_mut_or_create(&mut self, name: &str) -> &mut IniSection {
        if name == DEFAULT_SECTION {
            return &mut self.defaults;
        }
        match self.sections.iter().position(|s| s.name == name) {
            Some(i) => &mut self.sections[i],
            None => {
                self.sections.push(IniSection::new(name));
                self.sections.last_mut().expect("just pushed")
            }
        }
    }

    /// Read the file at `self.path` over the defaults. Problems go to `diags`.
    pub fn read_file(&mut self, diags: &mut Diagnostics) -> bool {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.read_str(&text, diags);
                true
            }
            Err(e) => {
                diags.push(Diagnostic::error(
                    "io",
                    &self.path,
                    None,
                    format!("cannot read the file: {e}"),
                ));
                false
            }
        }
    }

    /// configparser's `read_string` (lines split as Python's universal newlines split them).
    pub fn read_str(&mut self, text: &str, diags: &mut Diagnostics) {
        // (section index or None for DEFAULT, key) pairs added by this read: strict mode refuses
        // a second one in the same source
        let mut added_sections: Vec<String> = Vec::new();
        let mut added_options: Vec<(String, String)> = Vec::new();
        // current section name; None before the first header
        let mut cur: Option<String> = None;
        // the option receiving continuation lines: (section, key, lines)
        let mut cur_opt: Option<(String, String)> = None;
        let mut pending: Vec<(String, String, Vec<String>, LineCol)> = Vec::new();
        let mut indent_level = 0usize;
        let mut missing_header_reported = false;

        for (idx, line) in split_universal_lines(text).enumerate() {
            let lineno = idx as u32 + 1;
            let stripped = py_strip(line);
            let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
            let value = if is_comment { "" } else { stripped };
            if value.is_empty() {
                // empty_lines_in_values: a blank (not comment) line inside a value is kept
                if !is_comment {
                    if let Some((s, k)) = &cur_opt {
                        if let Some(p) = pending.iter_mut().rev().find(|p| &p.0 == s && &p.1 == k) {
                            p.2.push(String::new());
                        }
                    }
                }
                continue;
            }
            let cur_indent = line.chars().take_while(|&c| is_py_space(c)).count();
            let continuation = match (&cur, &cur_opt) {
                (Some(_), Some(open)) if cur_indent > indent_level => Some(open),
                _ => None,
            };
            if let Some((s, k)) = continuation {
                if let Some(p) = pending.iter_mut().rev().find(|p| &p.0 == s && &p.1 == k) {
                    p.2.push(value.to_string());
                }
                continue;
            }
            indent_level = cur_indent;
            let value_col = cur_indent as u32 + 1;
            if value.starts_with('[') && value.len() > 2 && value[1..].contains(']') {
                // SECTCRE `\[(?P<header>.+)\]` matched at the start: up to the last `]`
                let close = value.rfind(']').expect("contains ]");
                if close >= 2 {
                    let name = &value[1..close];
                    if name != DEFAULT_SECTION && added_sections.iter().any(|s| s == name) {
                        diags.push(Diagnostic::error(
                            "ini-duplicate",
                            &self.path,
                            Some(LineCol {
                                line: lineno,
                                col: value_col,
                            }),
                            format!("section `[{name}]` appears twice (configparser refuses it)"),
                        ));
                    }
                    if name != DEFAULT_SECTION {
                        added_sections.push(name.to_string());
                    }
                    let header = self.section_mut_or_create(name);
                    if header.pos.is_none() {
                        header.pos = Some(LineCol {
                            line: lineno,
                            col: value_col,
                        });
                    }
                    cur = Some(name.to_string());
                    cur_opt = None;
                    continue;
                }
            }
            let Some(sect) = cur.clone() else {
                if !missing_header_reported {
                    diags.push(Diagnostic::error(
                        "ini-syntax",
                        &self.path,
                        Some(LineCol {
                            line: lineno,
                            col: value_col,
                        }),
                        "an option before any `[section]` header",
                    ));
                    missing_header_reported = true;
                }
                continue;
            };
            // OPTCRE: the shortest key before the first `=` or `:`
            let Some(delim) = value.find(['=', ':']) else {
                diags.push(Diagnostic::error(
                    "ini-syntax",
                    &self.path,
                    Some(LineCol {
                        line: lineno,
                        col: value_col,
                    }),
                    format!("`{value}` is neither `[section]` nor `key = value`"),
                ));
                // configparser keeps the previous option open for continuation lines
                continue;
            };
            let key = py_strip(&value[..delim]).to_lowercase();
            let after = &value[delim + 1..];
            let val = py_strip(after);
            let lead = after.len() - after.trim_start_matches(is_py_space).len();
            let col = value_col + value[..delim + 1 + lead].chars().count() as u32;
            let pos = LineCol { line: lineno, col };
            if key.is_empty() {
                diags.push(Diagnostic::error(
                    "ini-syntax",
                    &self.path,
                    Some(LineCol {
                        line: lineno,
                        col: value_col,
                    }),
                    "an option with an empty name",
                ));
            }
            if added_options.iter().any(|(s, k)| s == &sect && k == &key) {
                diags.push(Diagnostic::error(
                    "ini-duplicate",
                    &self.path,
                    Some(LineCol {
                        line: lineno,
                        col: value_col,
                    }),
                    format!("option `{key}` appears twice in `[{sect}]` (configparser refuses it)"),
                ));
            }
            added_options.push((sect.clone(), key.clone()));
            pending.push((sect.clone(), key.clone(), vec![val.to_string()], pos));
            cur_opt = Some((sect, key));
        }
        // _join_multiline_values: '\n'.join(lines).rstrip(); a later duplicate overrides
        for (sect, key, lines, pos) in pending {
            let joined = lines.join("\n");
            let raw = joined.trim_end_matches(is_py_space).to_string();
            self.section_mut_or_create(&sect).set(IniOption {
                key,
                raw,
                pos: Some(pos),
            });
        }
    }

    /// Whether `[section]` exists (from the file or the defaults).
    pub fn has_section(&self, section: &str) -> bool {
        section == DEFAULT_SECTION || self.sections.iter().any(|s| s.name == section)
    }

    fn section(&self, section: &str) -> Option<&IniSection> {
        if section == DEFAULT_SECTION {
            return Some(&self.defaults);
        }
        self.sections.iter().find(|s| s.name == section)
    }

    /// The raw option as `get(section, key, raw=True)` finds it (section first, then DEFAULT).
    pub fn raw(&self, section: &str, key: &str) -> Option<&IniOption> {
        let key = key.to_lowercase();
        self.section(section)?
            .find(&key)
            .or_else(|| self.defaults.find(&key))
    }

    /// Where the `[section]` header was written (None when absent from the file).
    pub fn section_pos(&self, section: &str) -> Option<LineCol> {
        self.section(section).and_then(|s| s.pos)
    }

    /// Where option `key` of `section` was written (None when it is a built-in default).
    pub fn pos(&self, section: &str, key: &str) -> Option<LineCol> {
        self.raw(section, key).and_then(|o| o.pos)
    }

    /// `get(section, key)` with interpolation. Ok(None) when the option is absent; Err with a
    /// message when interpolation fails.
    pub fn get(&self, section: &str, key: &str) -> Result<Option<String>, String> {
        let Some(opt) = self.raw(section, key) else {
            return Ok(None);
        };
        let mut out = String::new();
        self.interpolate(section, &opt.key, &opt.raw, &mut out, 1)?;
        Ok(Some(out))
    }

    fn interpolate(
        &self,
        section: &str,
        option: &str,
        rest: &str,
        out: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_INTERPOLATION_DEPTH {
            return Err(format!(
                "`%(...)s` references in `{option}` nest deeper than {MAX_INTERPOLATION_DEPTH} levels (a loop?)"
            ));
        }
        let mut rest = rest;
        while !rest.is_empty() {
            let Some(p) = rest.find('%') else {
                out.push_str(rest);
                return Ok(());
            };
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            match rest.as_bytes().get(1) {
                Some(b'%') => {
                    out.push('%');
                    rest = &rest[2..];
                }
                Some(b'(') => {
                    // _KEYCRE `%\(([^)]+)\)s`
                    let close = rest[2..].find(')').map(|i| i + 2);
                    let ok = close.filter(|&c| c > 2 && rest.as_bytes().get(c + 1) == Some(&b's'));
                    let Some(c) = ok else {
                        return Err(format!("bad interpolation variable reference `{rest}`"));
                    };
                    let var = rest[2..c].to_lowercase();
                    rest = &rest[c + 2..];
                    let Some(v) = self.raw(section, &var) else {
                        return Err(format!(
                            "`%({var})s` names no option of `[{section}]` or `[DEFAULT]`"
                        ));
                    };
                    if v.raw.contains('%') {
                        self.interpolate(section, option, &v.raw, out, depth + 1)?;
                    } else {
                        out.push_str(&v.raw);
                    }
                }
                _ => {
                    return Err(format!(
                        "`%` must be followed by `%` or `(`, found `{rest}`"
                    ))
                }
            }
        }
        Ok(())
    }

    /// `get` reporting problems as `ini-interpolation` diagnostics.
    pub fn get_or_report(
        &self,
        section: &str,
        key: &str,
        diags: &mut Diagnostics,
    ) -> Option<String> {
        match self.get(section, key) {
            Ok(v) => v,
            Err(msg) => {
                diags.push(Diagnostic::error(
                    "ini-interpolation",
                    &self.path,
                    self.pos(section, key),
                    format!("[{section}] {key}: {msg}"),
                ));
                None
            }
        }
    }

    /// `getboolean`: 1/yes/true/on and 0/no/false/off, any case.
    pub fn get_bool(&self, section: &str, key: &str, diags: &mut Diagnostics) -> Option<bool> {
        let v = self.get_or_report(section, key, diags)?;
        match v.to_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Some(true),
            "0" | "no" | "false" | "off" => Some(false),
            _ => {
                self.bad_value(section, key, &v, "a boolean", diags);
                None
            }
        }
    }

    /// `getfloat` (Python's `float()` of the string).
    pub fn get_f64(&self, section: &str, key: &str, diags: &mut Diagnostics) -> Option<f64> {
        let v = self.get_or_report(section, key, diags)?;
        match parse_py_float(&v) {
            Some(x) => Some(x),
            None => {
                self.bad_value(section, key, &v, "a number", diags);
                None
            }
        }
    }

    /// `getint` (Python's `int()` of the string).
    pub fn get_i64(&self, section: &str, key: &str, diags: &mut Diagnostics) -> Option<i64> {
        let v = self.get_or_report(section, key, diags)?;
        match parse_py_int(&v) {
            Some(x) => Some(x),
            None => {
                self.bad_value(section, key, &v, "an integer", diags);
                None
            }
        }
    }

    fn bad_value(&self, section: &str, key: &str, v: &str, what: &str, diags: &mut Diagnostics) {
        diags.push(Diagnostic::error(
            "ini-value",
            &self.path,
            self.pos(section, key),
            format!("[{section}] {key} = `{v}` is not {what}"),
        ));
    }
}

/// Lines as Python's text-mode iteration yields them (`\n`, `\r\n` and `\r` end a line), without
/// their line ends.
fn split_universal_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\n', '\r']) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// Remove Python's digit-group underscores (only accepted between two digits).
fn without_underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = b.get(i + 1).is_some_and(|c| c.is_ascii_digit());
            if !(before && after) {
                return None;
            }
        }
    }
    Some(s.replace('_', ""))
}

/// Python's `float(str)`.
pub fn parse_py_float(s: &str) -> Option<f64> {
    let t = without_underscores(py_strip(s))?;
    let body = t.trim_start_matches(['+', '-']);
    if body.len() + 1 < t.len() {
        return None; // two signs
    }
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let v = if lower == "nan" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if t.starts_with('-') { -v } else { v });
    }
    // Rust accepts "1.", ".5", "1e5" like Python; refuse its extra spellings
    if body.is_empty()
        || !body
            .bytes()
            .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
    {
        return None;
    }
    t.parse().ok()
}

/// Python's `int(str)` (base 10).
pub fn parse_py_int(s: &str) -> Option<i64> {
    let t = without_underscores(py_strip(s))?;
    let body = t.strip_prefix(['+', '-']).unwrap_or(&t);
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Ini, Diagnostics) {
        let mut ini = Ini::new(Path::new("c.ini"));
        let mut d = Diagnostics::new();
        ini.read_str(text, &mut d);
        (ini, d)
    }

    // Expected values below were produced by Python 3.11's configparser.ConfigParser on the same
    // text (python3 -c "import configparser; c=configparser.ConfigParser(); c.read_string(T); ...").

    #[test]
    fn interpolation_from_section_and_default() {
        let (ini, d) = read(
            "[DEFAULT]\nroot = /pkg\n\n[Paths]\nMEMODEL_DIR = %(root)s/m\nparams = %(memodel_dir)s/p.json\npct = 100%%\n",
        );
        assert!(d.is_empty());
        // c.get('Paths','params') == '/pkg/m/p.json'
        assert_eq!(
            ini.get("Paths", "params").unwrap().unwrap(),
            "/pkg/m/p.json"
        );
        assert_eq!(ini.get("Paths", "PCT").unwrap().unwrap(), "100%");
        // DEFAULT options are visible from every section
        assert_eq!(ini.get("Paths", "root").unwrap().unwrap(), "/pkg");
        assert_eq!(ini.get("Paths", "missing").unwrap(), None);
    }

    #[test]
    fn interpolation_errors() {
        let (ini, _) = read("[S]\na = %(b)s\nb = %(a)s\nc = %(nope)s\nd = 5%\ne = %(x)\n");
        assert!(ini.get("S", "a").unwrap_err().contains("deeper than 10"));
        assert!(ini.get("S", "c").unwrap_err().contains("names no option"));
        assert!(ini.get("S", "d").unwrap_err().contains("must be followed"));
        assert!(ini.get("S", "e").unwrap_err().contains("bad interpolation"));
        let mut d = Diagnostics::new();
        assert_eq!(ini.get_or_report("S", "c", &mut d), None);
        let v = d.into_vec();
        assert_eq!(v[0].kind, "ini-interpolation");
        assert_eq!(v[0].pos, Some(LineCol { line: 4, col: 5 }));
    }

    #[test]
    fn delimiters_comments_and_continuations() {
        let text = "# top\n[Cell]\nemodel: cADpyr  \n; note\nv_init=-65\nsynrec = [\"a\",\n   \"b\"]\n\n  # indented comment\nlong =\n    x\n\n    y\n\nafter = 1\n";
        let (ini, d) = read(text);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(ini.get("Cell", "emodel").unwrap().unwrap(), "cADpyr");
        assert_eq!(ini.get("Cell", "v_init").unwrap().unwrap(), "-65");
        // c.get('Cell','synrec') == '["a",\n"b"]'
        assert_eq!(
            ini.get("Cell", "synrec").unwrap().unwrap(),
            "[\"a\",\n\"b\"]"
        );
        // c.get('Cell','long') == '\nx\n\ny'
        assert_eq!(ini.get("Cell", "long").unwrap().unwrap(), "\nx\n\ny");
        assert_eq!(ini.get("Cell", "after").unwrap().unwrap(), "1");
        assert_eq!(ini.pos("Cell", "v_init"), Some(LineCol { line: 5, col: 8 }));
        assert_eq!(ini.pos("Cell", "emodel"), Some(LineCol { line: 3, col: 9 }));
    }

    #[test]
    fn key_is_shortest_prefix_before_first_delimiter() {
        let (ini, _) = read("[S]\nurl = http://x:80/a=b\nk:v=w\n");
        assert_eq!(ini.get("S", "url").unwrap().unwrap(), "http://x:80/a=b");
        assert_eq!(ini.get("S", "k").unwrap().unwrap(), "v=w");
    }

    #[test]
    fn defaults_are_overridden_by_the_file_and_keep_no_position() {
        let mut ini = Ini::new(Path::new("c.ini"));
        ini.set_defaults(&[
            ("Cell", &[("celsius", "34"), ("v_init", "-80")]),
            (
                "Paths",
                &[
                    ("memodel_dir", "."),
                    ("params_path", "%(memodel_dir)s/final.json"),
                ],
            ),
        ]);
        let mut d = Diagnostics::new();
        ini.read_str("[Cell]\nv_init = -65\n[Paths]\nmemodel_dir = pkg\n", &mut d);
        assert!(d.is_empty());
        assert_eq!(ini.get("Cell", "v_init").unwrap().unwrap(), "-65");
        assert_eq!(ini.get("Cell", "celsius").unwrap().unwrap(), "34");
        assert_eq!(ini.pos("Cell", "celsius"), None);
        assert_eq!(
            ini.get("Paths", "params_path").unwrap().unwrap(),
            "pkg/final.json"
        );
    }

    #[test]
    fn problems_are_reported_and_reading_goes_on() {
        let (ini, d) = read("orphan = 1\n[S]\na = 1\nno delimiter here\na = 2\n[S]\nb = 3\n");
        let kinds: Vec<(&str, u32)> = d.iter().map(|x| (x.kind, x.pos.unwrap().line)).collect();
        assert_eq!(
            kinds,
            [
                ("ini-syntax", 1),
                ("ini-syntax", 4),
                ("ini-duplicate", 5),
                ("ini-duplicate", 6)
            ]
        );
        assert_eq!(ini.get("S", "a").unwrap().unwrap(), "2");
        assert_eq!(ini.get("S", "b").unwrap().unwrap(), "3");
    }

    #[test]
    fn typed_getters_follow_python() {
        let (ini, _) = read("[S]\nt = True\nf = off\nx = 1_000.5\ni = -7\nbad = maybe\nn = 3.\n");
        let mut d = Diagnostics::new();
        assert_eq!(ini.get_bool("S", "t", &mut d), Some(true));
        assert_eq!(ini.get_bool("S", "f", &mut d), Some(false));
        assert_eq!(ini.get_f64("S", "x", &mut d), Some(1000.5));
        assert_eq!(ini.get_f64("S", "n", &mut d), Some(3.0));
        assert_eq!(ini.get_i64("S", "i", &mut d), Some(-7));
        assert!(d.is_empty());
        assert_eq!(ini.get_bool("S", "bad", &mut d), None);
        assert_eq!(ini.get_i64("S", "x", &mut d), None);
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|x| x.kind == "ini-value"));
        assert_eq!(parse_py_float(" -inf "), Some(f64::NEG_INFINITY));
        assert_eq!(parse_py_float("1__0"), None);
        assert_eq!(parse_py_float("0x10"), None);
        assert_eq!(parse_py_int("+5"), Some(5));
    }

    #[test]
    fn crlf_and_cr_line_ends() {
        // a file read with configparser.read() (universal newlines): {'a': '1', 'b': '2'}
        let (ini, d) = read("[S]\r\na = 1\rb = 2\r\n");
        assert!(d.is_empty());
        assert_eq!(ini.get("S", "a").unwrap().unwrap(), "1");
        assert_eq!(ini.get("S", "b").unwrap().unwrap(), "2");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in "[\\[\\]=:%()s#; a-zA-Z\\n\\r\\té]{0,80}") {
            let mut ini = Ini::new(Path::new("x.ini"));
            let mut d = Diagnostics::new();
            ini.read_str(&s, &mut d);
            for sect in ini.sections.clone() {
                for o in &sect.options {
                    let _ = ini.get(&sect.name, &o.key);
                }
            }
        }
    }
}
