//! The `emsweep` binary as users run it: `check` on the bundled examples and on every downloaded
//! real package succeeds; broken input and bad usage give the documented exit codes.

use crate::common::{emsweep, real_packages_dir, repo_root};

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

#[test]
fn mech_check_prints_every_diagnostic_and_exits_1_on_errors() {
    let dir = real_packages_dir().join("emodelrunner/sscx_sample_dir/mechanisms");
    let (code, stdout, stderr) = emsweep(&[
        "mech".as_ref(),
        "check".as_ref(),
        dir.join("NaTg.mod").as_os_str(),
        dir.join("VecStim.mod").as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("NaTg.mod: density mechanism `NaTg` compiles"),
        "{stdout}"
    );
    assert!(stdout.contains("note[not-density]:"), "{stdout}");
    assert!(
        stdout.contains("checked 2 files: 1 compiled, 1 not density channels, 0 failed; 0 errors"),
        "{stdout}"
    );

    let (code, stdout, _) = emsweep(&[
        "mech".as_ref(),
        "check".as_ref(),
        dir.join("StochKv3.mod").as_os_str(),
        dir.join("NaTg.mod").as_os_str(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    // line 34 of the file is `    BBCOREPOINTER rng`; every VERBATIM block is reported, not only
    // the first
    assert!(
        stdout.contains("StochKv3.mod:34:5: not supported in a density channel: BBCOREPOINTER"),
        "{stdout}"
    );
    assert!(
        stdout
            .matches("not supported in a density channel: VERBATIM")
            .count()
            >= 10,
        "{stdout}"
    );
    assert!(stdout.contains("stands in for it"), "{stdout}");
    assert!(stdout.contains("NaTg.mod: density mechanism `NaTg` compiles"));

    let (code, _, stderr) = emsweep(&["mech".as_ref(), "check".as_ref(), "/no/such.mod".as_ref()]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = emsweep(&["mech".as_ref(), "check".as_ref()]);
    assert_eq!(code, 2);
}

#[test]
fn mech_emit_ir_prints_the_stable_dump() {
    let dir = real_packages_dir().join("emodelrunner/sscx_sample_dir/mechanisms");
    let (code, stdout, stderr) = emsweep(&[
        "mech".as_ref(),
        "emit".as_ref(),
        "--ir".as_ref(),
        dir.join("SK_E2.mod").as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let path = dir.join("SK_E2.mod");
    let m = emsweep::nmodl::compile_file(&path).mechanism.unwrap();
    assert_eq!(stdout, emsweep::ir::dump::dump(&m));
    assert!(stdout.starts_with("mechanism SK_E2\nion k valence 1.0 read [ek] write [ik]\n"));

    // a file that does not compile: diagnostics on stderr, nothing on stdout
    let (code, stdout, stderr) = emsweep(&[
        "mech".as_ref(),
        "emit".as_ref(),
        "--ir".as_ref(),
        dir.join("StochKv3.mod").as_os_str(),
    ]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("error[unsupported]"), "{stderr}");
    // what to emit must be said
    let (code, _, _) = emsweep(&[
        "mech".as_ref(),
        "emit".as_ref(),
        dir.join("SK_E2.mod").as_os_str(),
    ]);
    assert_eq!(code, 2);
}

/// `check` compiles the channels each e-model uses: a used channel that does not compile is an
/// error; StochKv3 used is replaced by the built-in (a note); synapses, unused variants and
/// unused files that do not compile are notes.
#[test]
fn check_compiles_the_channels_each_emodel_uses() {
    fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let pkg = std::env::temp_dir().join(format!("emsweep-cli-mechs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&pkg);
    copy_tree(&repo_root().join("tests/fixtures/broken/_base"), &pkg);
    let params = pkg.join("config/params/params.json");
    let text = std::fs::read_to_string(&params).unwrap();
    let with = |mechs: &str| {
        text.replace(
            r#""somatic": {"mech": ["hh"]}"#,
            &format!(r#""somatic": {{"mech": ["hh"{mechs}]}}"#),
        )
    };
    let mechs = pkg.join("mechanisms");
    std::fs::create_dir_all(&mechs).unwrap();
    let real = real_packages_dir().join("emodelrunner/sscx_sample_dir/mechanisms");
    for f in ["StochKv3.mod", "ProbAMPANMDA_EMS.mod", "KdShu2007.mod"] {
        std::fs::copy(real.join(f), mechs.join(f)).unwrap();
    }
    std::fs::write(
        mechs.join("kbad.mod"),
        "NEURON {\n    SUFFIX kbad\n    USEION k READ ek WRITE ik\n}\nASSIGNED { v ek ik }\nBREAKPOINT {\nVERBATIM\n    ik = 0;\nENDVERBATIM\n}\n",
    )
    .unwrap();
    std::fs::write(
        mechs.join("unusedbad.mod"),
        "NEURON { SUFFIX unusedbad POINTER p }\nASSIGNED { p }\n",
    )
    .unwrap();

    std::fs::write(&params, with(r#", "kbad", "StochKv3""#)).unwrap();
    let (code, stdout, _) = emsweep(&["check".as_ref(), pkg.as_os_str()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("kbad.mod:7:1: not supported in a density channel: VERBATIM\n    = `kbad` is used by e-model `tiny`: the channels an e-model uses must compile"),
        "{stdout}"
    );
    assert!(stdout.contains("note[builtin-replacement]:"), "{stdout}");
    assert!(
        stdout.contains("`StochKv3` is outside emsweep's NMODL subset (BBCOREPOINTER, VERBATIM)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("note[not-density]:") && stdout.contains("ProbAMPANMDA_EMS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("unusedbad.mod:1:27: `unusedbad` does not compile (POINTER), but no e-model uses it: skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "compiled but used by no e-model (variants; not simulated): KdShu2007 (KdShu2007.mod)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "channels     4: 0 compiled from the package; built in: pas hh; replaced by a built-in: StochKv3; do not compile: kbad"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 errors"), "{stdout}");

    // without the broken channel the package passes, the notes stay
    std::fs::write(&params, with(r#", "StochKv3""#)).unwrap();
    let (code, stdout, _) = emsweep(&["check".as_ref(), pkg.as_os_str()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("note[builtin-replacement]:"), "{stdout}");
    assert!(
        stdout.contains("kbad.mod:7:1: `kbad` does not compile (VERBATIM), but no e-model uses it"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&pkg);
}

#[test]
fn check_of_the_real_packages_compiles_every_channel_used() {
    let pk = real_packages_dir();
    let (code, stdout, _) = emsweep(&[
        "check".as_ref(),
        pk.join("emodelrunner/sscx_sample_dir").as_os_str(),
        pk.join("bluepyemodel/simplecell").as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    // sscx: pas plus ten channels from files (config/params: CaDynamics_DC0 Ca_HVA2 Ca_LVAst
    // SKv3_1 SK_E2 K_Pst K_Tst NaTg Ih Nap_Et2); simplecell: NEURON's hh, no .mod file
    assert!(
        stdout.contains("channels     11: 10 compiled from the package; built in: pas"),
        "{stdout}"
    );
    assert!(
        stdout.contains("channels     1: 0 compiled from the package; built in: hh"),
        "{stdout}"
    );
    assert!(
        stdout.contains("StochKv3.mod:34:5: `StochKv3` does not compile (BBCOREPOINTER, VERBATIM), but no e-model uses it: skipped (emsweep's built-in"),
        "{stdout}"
    );
    assert!(stdout.contains("; 0 errors"), "{stdout}");
}
