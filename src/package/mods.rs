//! A package's mechanism directory: the `.mod` files `nrnivmodl` compiles (top level only) and
//! the names they declare (`SUFFIX`, `POINT_PROCESS`, `ARTIFICIAL_CELL`), so that a package naming
//! a mechanism it does not ship is caught when it is read.

use std::path::{Path, PathBuf};

/// NEURON's built-in density mechanisms (insertable without a `.mod` file).
pub const BUILTIN_MECHANISMS: [&str; 4] = ["pas", "hh", "fastpas", "extracellular"];

/// The `.mod` files directly in `dir`, sorted by name.
pub fn mod_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "mod"))
        .collect();
    out.sort();
    out
}

/// The mechanism name a `.mod` text declares in its NEURON block, if any.
pub fn declared_name(text: &str) -> Option<String> {
    let mut in_comment = false;
    let mut words = Vec::new();
    for line in text.lines() {
        let code = line.split(':').next().unwrap_or("");
        for w in code.split(|c: char| c.is_whitespace() || c == '{' || c == '}') {
            if w.is_empty() {
                continue;
            }
            if in_comment {
                if w == "ENDCOMMENT" {
                    in_comment = false;
                }
                continue;
            }
            if w == "COMMENT" {
                in_comment = true;
                continue;
            }
            words.push(w);
        }
    }
    words
        .windows(2)
        .find(|w| matches!(w[0], "SUFFIX" | "POINT_PROCESS" | "ARTIFICIAL_CELL"))
        .map(|w| w[1].to_string())
}

/// (declared name, file) for every readable `.mod` file of `files`.
pub fn declared_names(files: &[PathBuf]) -> Vec<(String, PathBuf)> {
    files
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            let text = String::from_utf8_lossy(&bytes);
            declared_name(&text).map(|n| (n, p.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_declared_name_outside_comments() {
        let t = "COMMENT\nSUFFIX fake\nENDCOMMENT\n: SUFFIX alsofake\nNEURON {\n  SUFFIX NaTg\n  USEION na READ ena WRITE ina\n}\n";
        assert_eq!(declared_name(t).as_deref(), Some("NaTg"));
        assert_eq!(
            declared_name("NEURON{POINT_PROCESS Exp2Syn}").as_deref(),
            Some("Exp2Syn")
        );
        assert_eq!(declared_name("NEURON { }"), None);
    }
}
