//! Fixture helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder the bootstrap downloads real e-model packages into (`EMSWEEP_CACHE` overrides
/// `<repo>/.cache`). Panics with instructions when the packages are missing: tests never skip.
pub fn real_packages_dir() -> PathBuf {
    let cache = std::env::var_os("EMSWEEP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"));
    let dir = cache.join("packages");
    if !dir.join(".complete").exists() {
        panic!(
            "the real e-model packages are missing from {}: run the bootstrap first (bash scripts/bootstrap.sh)",
            dir.display()
        );
    }
    dir
}
