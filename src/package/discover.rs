//! Finding packages: every directory under a root that is a package (by layout), in sorted
//! order; a package directory is not searched further, hidden directories are skipped, and a
//! directory reached twice (through a symbolic link) is visited once.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics};

use super::layout_of;

/// Packages under `root` (root itself when it is one), sorted by path.
pub fn discover(root: &Path) -> (Vec<PathBuf>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut found = Vec::new();
    let mut seen = Vec::new();
    if !root.is_dir() {
        diags.push(Diagnostic::error(
            "io",
            root,
            None,
            "not a directory (or it cannot be read)",
        ));
        return (found, diags);
    }
    walk(root, &mut found, &mut seen, &mut diags);
    (found, diags)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, seen: &mut Vec<PathBuf>, diags: &mut Diagnostics) {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if seen.contains(&canonical) {
        return;
    }
    seen.push(canonical);
    if layout_of(dir).is_some() {
        found.push(dir.to_path_buf());
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            diags.push(Diagnostic::warning(
                "io",
                dir,
                None,
                format!("cannot list the directory: {e}"),
            ));
            return;
        }
    };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for sub in subdirs {
        walk(&sub, found, seen, diags);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "{}").unwrap();
    }

    #[test]
    fn finds_packages_in_order_without_descending_into_them() {
        let tmp = std::env::temp_dir().join(format!("emsweep-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        touch(&tmp.join("b/pkg2/config/c.ini"));
        touch(&tmp.join("a/pkg1/config/recipes.json"));
        // a package inside a package is part of it, not another package
        touch(&tmp.join("a/pkg1/nested/config/x.ini"));
        touch(&tmp.join("c/pkg3/config/parameters.json"));
        touch(&tmp.join("c/pkg3/config/mechanisms.json"));
        touch(&tmp.join(".hidden/pkg4/config/c.ini"));
        touch(&tmp.join("d/notapkg/config/other.json"));
        let (found, diags) = discover(&tmp);
        assert!(diags.is_empty());
        let rel: Vec<String> = found
            .iter()
            .map(|p| p.strip_prefix(&tmp).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["a/pkg1", "b/pkg2", "c/pkg3"]);
        let (one, _) = discover(&tmp.join("b/pkg2"));
        assert_eq!(one, [tmp.join("b/pkg2")]);
        let (none, d) = discover(&tmp.join("missing"));
        assert!(none.is_empty() && d.has_errors());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
