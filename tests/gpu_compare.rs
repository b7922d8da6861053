//! `emsweep compare --backends cpu,gpu` end to end on lavapipe (or a real GPU): both sweeps
//! written, the table printed, exit 0 within the tolerances; usage errors exit 2.

use std::ffi::OsStr;

/// `emsweep ARGS...` with plain string arguments.
fn emsweep(args: &[&str]) -> (i32, String, String) {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    crate::common::emsweep(&args)
}

/// The two-compartment example's `Step_150` (300 ms, hh) on cpu-f32 and gpu-f32.
#[test]
fn compare_cpu_and_gpu_on_an_example() {
    let out = std::env::temp_dir().join(format!("emsweep-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_string_lossy().to_string();
    let (code, stdout, stderr) = emsweep(&[
        "compare",
        "--backends",
        "cpu,gpu",
        "--protocols",
        "Step_150",
        "--out",
        &out_s,
        "examples/two_compartment_swc",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("GPU adapter"), "{stderr}");
    assert!(out.join("cpu-f32/traces.h5").is_file());
    assert!(out.join("gpu-f32/traces.h5").is_file());
    assert!(stdout.contains("gpu-f32 against cpu-f32"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.contains("Step_150") && l.contains("soma.v"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(row.ends_with("ok"), "{row}");
    // the cell fires: a spike count above zero in both columns
    let cols: Vec<&str> = row.split_whitespace().collect();
    let n = cols.len();
    assert_eq!(cols[n - 5], cols[n - 4], "{row}");
    assert_ne!(cols[n - 5], "0", "{row}");
    assert!(stdout.contains("all 1 traces within tolerance"), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn compare_usage_errors_exit_2() {
    for args in [
        vec!["compare", "--backends", "cpu", "examples"],
        vec!["compare", "--backends", "cpu,tpu", "examples"],
        vec![
            "compare",
            "--backends",
            "cpu,gpu",
            "--precision",
            "f64",
            "examples",
        ],
        vec!["compare", "no/such/dir"],
    ] {
        let (code, stdout, stderr) = emsweep(&args);
        assert_eq!(code, 2, "{args:?}\n{stdout}\n{stderr}");
        assert!(!stderr.is_empty(), "{args:?}");
    }
}

/// A sampled population of the ball-and-stick example as one batch on cpu-f32 and gpu-f32:
/// every lane within the tolerances between backends (equal spike counts, spike times within
/// 0.05 ms, |ΔV| before the first spike within 1e-2 mV).
#[test]
fn compare_cpu_and_gpu_on_a_population() {
    let out = std::env::temp_dir().join(format!("emsweep-compare-pop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_string_lossy().to_string();
    let (code, stdout, stderr) = emsweep(&[
        "compare",
        "--backends",
        "cpu,gpu",
        "--sample",
        "24",
        "--seed",
        "2",
        "--protocols",
        "Step_300",
        "--record",
        "soma",
        "--out",
        &out_s,
        "examples/ball_and_stick_hh",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("24 lanes (0 failed)"), "{stdout}");
    assert!(
        stdout.contains("all 24 traces within tolerance"),
        "{stdout}"
    );
    // the population spans firing and silent cells: not every lane has the same spike count
    let counts: std::collections::BTreeSet<&str> = stdout
        .lines()
        .filter(|l| l.contains("Step_300") && l.ends_with("ok"))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols[cols.len() - 5]
        })
        .collect();
    assert!(counts.len() > 1, "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}
