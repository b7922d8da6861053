//! The dependency rules of the architecture, kept true: which top-level module of `src/` may
//! import which. Read from the sources' `crate::…` paths (comments and `#[cfg(test)]` parts left
//! out, since tests may reach for fixtures anywhere).
//!
//! The rules: the modules import each other without cycles; `ir` knows nothing of NMODL, the
//! emitters, WGSL, wgpu or rayon; the emitters never import each other and share only `ir::abi`;
//! `engine` and `backend` never import the protocol layer (`sim`), `features`, `sweep` or `output`;
//! `features` and `output` never import `backend`; `wgpu` appears only under `backend/gpu`;
//! nothing but `cli` imports `sweep`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::repo_root;

/// One source file: its path below `src/` (with `/`) and its code.
struct Source {
    path: String,
    code: String,
}

impl Source {
    /// The top-level module the file belongs to (`engine` for `engine/run.rs`, `lib` for `lib.rs`).
    fn module(&self) -> &str {
        let first = self.path.split('/').next().unwrap_or("");
        first.strip_suffix(".rs").unwrap_or(first)
    }
}

/// The code without comments and without its test module (`#[cfg(test)]` before a `mod`,
/// which by the project's layout ends the file).
fn code_of(text: &str) -> String {
    let test_module = text
        .match_indices("#[cfg(test)]")
        .find(|(i, m)| text[i + m.len()..].trim_start().starts_with("mod "));
    let text = match test_module {
        Some((i, _)) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read_sources(dir: &Path, below: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_sources(&p, below, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            let rel = p.strip_prefix(below).unwrap().to_string_lossy();
            out.push(Source {
                path: rel.replace('\\', "/"),
                code: code_of(&text),
            });
        }
    }
}

/// The top-level modules named by `crate::NAME` paths in `code`.
fn crate_imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `crate::{a, b::{c, d}}` groups: the first name of every top-level item in the braces
        if name.is_empty() && after.starts_with('{') {
            for item in top_level_items(after) {
                let n: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !n.is_empty() {
                    out.insert(n);
                }
            }
        } else if !name.is_empty() {
            out.insert(name);
        }
        rest = after;
    }
    out
}

/// The comma-separated items of the brace group `group` opens (`{a, b::{c, d}}` gives `a` and
/// `b::{c, d}`).
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 1;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    items.push(&group[start..i]);
                    break;
                }
            }
            ',' if depth == 1 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// Whether `code` names the external crate `name` (`use name::…`, `name::…`).
fn names_crate(code: &str, name: &str) -> bool {
    let pat = format!("{name}::");
    code.match_indices(&pat).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    })
}

/// The import graph between top-level modules, with the files behind each edge.
fn graph(sources: &[Source]) -> BTreeMap<(String, String), Vec<String>> {
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for s in sources {
        for m in crate_imports(&s.code) {
            if m != s.module() {
                edges
                    .entry((s.module().to_string(), m))
                    .or_default()
                    .push(s.path.clone());
            }
        }
    }
    edges
}

/// A cycle of the graph, if there is one (its modules in order, the first repeated at the end).
fn find_cycle(edges: &BTreeMap<(String, String), Vec<String>>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a).or_default().push(b);
    }
    // depth-first search; 1 = on the current path, 2 = done
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, 1);
        path.push(n);
        for &m in next.get(n).map(Vec::as_slice).unwrap_or(&[]) {
            match state.get(m) {
                Some(1) => {
                    let from = path.iter().position(|x| *x == m).unwrap();
                    let mut c: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                    c.push(m.to_string());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, next, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &n in next.keys() {
        if !state.contains_key(n) {
            if let Some(c) = visit(n, &next, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Every broken rule, one line each naming the file.
fn violations(sources: &[Source]) -> Vec<String> {
    let mut out = Vec::new();
    let edges = graph(sources);
    if let Some(c) = find_cycle(&edges) {
        let files: Vec<String> = c
            .windows(2)
            .map(|w| {
                format!(
                    "{} -> {}: {}",
                    w[0],
                    w[1],
                    edges[&(w[0].clone(), w[1].clone())].join(", ")
                )
            })
            .collect();
        out.push(format!(
            "import cycle {}\n  {}",
            c.join(" -> "),
            files.join("\n  ")
        ));
    }
    let forbidden: &[(&str, &[&str])] = &[
        (
            "ir",
            &[
                "nmodl", "emit", "backend", "engine", "sim", "sweep", "output",
            ],
        ),
        ("engine", &["sim", "features", "sweep", "output", "cli"]),
        ("backend", &["sim", "features", "sweep", "output", "cli"]),
        ("features", &["backend", "sweep", "cli"]),
        ("output", &["backend", "sweep", "cli"]),
    ];
    for ((from, to), files) in &edges {
        for (m, banned) in forbidden {
            if from == m && banned.contains(&to.as_str()) {
                out.push(format!("`{from}` imports `{to}`: {}", files.join(", ")));
            }
        }
        if to == "sweep" && !matches!(from.as_str(), "cli" | "main" | "lib") {
            out.push(format!(
                "`{from}` imports `sweep` (only `cli` may): {}",
                files.join(", ")
            ));
        }
    }
    for s in sources {
        let m = s.module();
        if m == "ir" {
            for c in ["wgpu", "rayon", "naga"] {
                if names_crate(&s.code, c) {
                    out.push(format!("{}: `ir` names `{c}`", s.path));
                }
            }
        }
        if names_crate(&s.code, "wgpu") && !s.path.starts_with("backend/gpu/") {
            out.push(format!("{}: `wgpu` outside backend/gpu", s.path));
        }
        for (own, other) in [("emit/cpu/", "wgsl"), ("emit/wgsl/", "cpu")] {
            if s.path.starts_with(own)
                && (s.code.contains(&format!("emit::{other}"))
                    || s.code.contains(&format!("super::{other}")))
            {
                out.push(format!("{}: imports the {other} emitter", s.path));
            }
        }
        if s.path.starts_with("emit/") && s.code.contains("enum Column") {
            out.push(format!(
                "{}: defines its own column layout (use ir::abi)",
                s.path
            ));
        }
    }
    out
}

#[test]
fn the_sources_keep_the_dependency_rules() {
    let src = repo_root().join("src");
    let mut sources = Vec::new();
    read_sources(&src, &src, &mut sources);
    assert!(sources.len() > 50, "read {} files of src/", sources.len());
    let v = violations(&sources);
    assert!(v.is_empty(), "{}", v.join("\n"));
}

fn source(path: &str, code: &str) -> Source {
    Source {
        path: path.to_string(),
        code: code_of(code),
    }
}

#[test]
fn the_checker_finds_each_kind_of_broken_rule() {
    let clean = [
        source("ir/mod.rs", "use crate::diag::Span;"),
        source("emit/cpu/mod.rs", "use crate::ir::abi::Column;"),
        source("engine/run.rs", "use crate::{ir, layout::Node};"),
        source("engine/model.rs", "use crate::{layout::{Lane, Node}, ir::{abi, Mechanism}};"),
        source(
            "engine/stimulus.rs",
            "#[cfg(test)]\nfn fixture() {}\nuse crate::ir::Expr;\n#[cfg(test)]\nmod tests { use crate::sim::x; }",
        ),
        source("cli/mod.rs", "crate::sweep::run(x)"),
        source(
            "features/mod.rs",
            "// crate::backend in a comment\nuse crate::engine::Lane;",
        ),
        source(
            "output/mod.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests { use crate::backend::cpu; }",
        ),
    ];
    assert_eq!(violations(&clean), Vec::<String>::new());
    let cases = [
        (
            vec![
                source("morph/axon.rs", "use crate::discretize::frusta;"),
                source("discretize/mod.rs", "use crate::morph::Pt3d;"),
            ],
            "import cycle",
        ),
        (
            vec![source(
                "engine/run.rs",
                "crate::features::spike_times_ms(t)",
            )],
            "`engine` imports `features`",
        ),
        (
            vec![source("backend/cpu.rs", "use crate::{diag, sim::Probe};")],
            "`backend` imports `sim`",
        ),
        (
            vec![source("output/x.rs", "use crate::backend::Precision;")],
            "`output` imports `backend`",
        ),
        (
            vec![source("package/x.rs", "use crate::sweep::Plan;")],
            "only `cli` may",
        ),
        (
            vec![source("ir/x.rs", "use rayon::prelude::*;")],
            "`ir` names `rayon`",
        ),
        (
            vec![source("sweep/x.rs", "let d = wgpu::Device;")],
            "`wgpu` outside backend/gpu",
        ),
        (
            vec![source("emit/wgsl/mod.rs", "use super::cpu::emit;")],
            "imports the cpu emitter",
        ),
        (
            vec![source("emit/cpu/mod.rs", "pub enum Column { A }")],
            "its own column layout",
        ),
    ];
    for (sources, want) in cases {
        let v = violations(&sources);
        assert!(v.iter().any(|l| l.contains(want)), "{want}: {v:?}");
    }
}
