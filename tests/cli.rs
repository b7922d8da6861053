//! The `emsweep` binary as users run it: `check` on the bundled examples and on every downloaded
//! real package succeeds; broken input and bad usage give the documented exit codes.

use crate::common::{real_packages_dir, repo_root};
use std::process::Command;

fn emsweep(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_emsweep"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_succeeds_on_examples_and_every_real_package() {
    let pk = real_packages_dir();
    let (code, stdout, stderr) = emsweep(&[
        "check".as_ref(),
        repo_root().join("examples").as_os_str(),
        pk.join("emodelrunner").as_os_str(),
        pk.join("bluepyemodel").as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // Every e-model the packages hold was built; none failed.
    for name in [
        "e-model ballstick_hh — built",
        "e-model two_compartment — built",
        "e-model cADpyr_L4UPC — built",
        "e-model dNAD_ltb — built",
        "e-model cADpyr_L4TPC — built",
        "e-model L5PC — built",
        "e-model simplecell — built",
    ] {
        assert!(stdout.contains(name), "missing `{name}` in:\n{stdout}");
    }
    assert!(
        stdout
            .contains("segments     196: somatic 1, axonal 10, basal 87, apical 93, myelinated 5"),
        "{stdout}"
    );
    assert!(!stdout.contains("not built"), "{stdout}");
    assert!(
        stdout.contains("checked 7 packages (0 failed), 8 e-models (8 built, 0 failed); 0 errors"),
        "{stdout}"
    );
}

#[test]
fn broken_package_exits_1_and_the_sweep_goes_on() {
    let broken = repo_root().join("tests/fixtures/broken/_base");
    let bad = std::env::temp_dir().join(format!("emsweep-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&bad);
    std::fs::create_dir_all(bad.join("pkg/config")).unwrap();
    std::fs::write(
        bad.join("pkg/config/config.ini"),
        "[Package]\ntype = sscx\n",
    )
    .unwrap();
    let (code, stdout, _) = emsweep(&["check".as_ref(), bad.as_os_str(), broken.as_os_str()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("e-model tiny — built"),
        "the good package is still checked:\n{stdout}"
    );
    assert!(stdout.contains("error[missing-key]"), "{stdout}");
    let _ = std::fs::remove_dir_all(&bad);
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, _) = emsweep(&["check".as_ref(), "/no/such/dir".as_ref()]);
    assert_eq!(code, 2);
    let (code, _, _) = emsweep(&["frobnicate".as_ref()]);
    assert_eq!(code, 2);
    let (code, _, _) = emsweep(&["check".as_ref()]);
    assert_eq!(code, 2);
}
