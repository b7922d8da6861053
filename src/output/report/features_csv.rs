//! `features.csv`: one row per e-model (its key in the run), variant, lane, protocol, recording, feature and value
//! (a feature without a value has one row with empty `value_index` and `value`), with its score.
//! RFC 4180: comma-separated, CRLF-free (`\n` line ends), a field quoted when it holds a comma,
//! a quote, a line break or leading/trailing spaces, quotes doubled inside. Numbers are written
//! in Rust's shortest round-trip form; non-finite ones as `nan`, `inf`, `-inf`.

use crate::features::evaluate::Evaluation;
use crate::features::score::Outcome;

/// The header row.
pub const COLUMNS: [&str; 13] = [
    "emodel",
    "variant",
    "lane",
    "protocol",
    "recording",
    "feature",
    "efel_feature",
    "value_index",
    "value",
    "score",
    "weight",
    "weighted_score",
    "outcome",
];

/// A field as CSV writes it.
pub fn quote(field: &str) -> String {
    let needs =
        field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ');
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A number as the file writes it.
pub fn format_number(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x}")
    }
}

fn outcome(o: &Outcome) -> &str {
    match o {
        Outcome::Scored => "scored",
        Outcome::MissingTrace => "missing-trace",
        Outcome::NoValue => "no-value",
        Outcome::NotANumber => "nan",
        Outcome::Capped { .. } => "capped",
        Outcome::Error { kind, .. } => kind.as_ref(),
    }
}

fn row(out: &mut String, fields: &[String]) {
    let line: Vec<String> = fields.iter().map(|f| quote(f)).collect();
    out.push_str(&line.join(","));
    out.push('\n');
}

/// The whole file.
pub fn to_string(evaluations: &[Evaluation]) -> String {
    let mut out = String::new();
    row(
        &mut out,
        &COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
    );
    for e in evaluations {
        for f in &e.scores.features {
            let base = |index: String, value: String| {
                vec![
                    e.key.clone(),
                    e.variant.clone().unwrap_or_default(),
                    e.lane.clone().unwrap_or_default(),
                    f.protocol.clone(),
                    f.recording.clone(),
                    f.name.clone(),
                    f.efel_name.clone(),
                    index,
                    value,
                    format_number(f.score),
                    format_number(f.weight),
                    format_number(f.weighted),
                    outcome(&f.outcome).to_string(),
                ]
            };
            match f.values.as_deref() {
                Some(values) if !values.is_empty() => {
                    for (i, v) in values.iter().enumerate() {
                        row(&mut out, &base(i.to_string(), format_number(*v)));
                    }
                }
                _ => row(&mut out, &base(String::new(), String::new())),
            }
        }
    }
    out
}

/// Reads CSV text as this module writes it (RFC 4180 quoting): rows of fields. Errors on an
/// unterminated quote or a character after a closing quote.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                loop {
                    match chars.next() {
                        None => return Err(format!("line {line}: unterminated quoted field")),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(x) => {
                            if x == '\n' {
                                line += 1;
                            }
                            field.push(x)
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') => {}
                    Some(x) => return Err(format!("line {line}: `{x}` after a closing quote")),
                }
                at_field_start = false;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
                line += 1;
            }
            x => {
                field.push(x);
                at_field_start = false;
            }
        }
    }
    if !at_field_start || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}
