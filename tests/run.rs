//! `emsweep run` as users run it: the bundled examples give the expected traces.h5 datasets,
//! run.json and .dat files; the SSCx cell's `Step_150` read back from traces.h5 matches NEURON;
//! a broken package fails alone; bad usage exits 2.

use std::path::{Path, PathBuf};

use emsweep::output::run_report::{read_run_json, RunReport, RunStatus};
use emsweep::output::traces::{read_traces, Samples, StoredTrace};

use crate::common::{emsweep, real_packages_dir, repo_root, TempDir};
use crate::sim::{compare, reference, PRE_SPIKE_DV_TOL_MV, SPIKE_TIME_TOL_MS};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn f64_data(t: &StoredTrace) -> &[f64] {
    match &t.data {
        Samples::F64(v) => v,
        Samples::F32(_) => panic!("{}/{}: f32 data from an f64 run", t.protocol, t.recording),
    }
}

/// Every protocol of every e-model under `dirs`, as the package reader lists them.
fn package_protocols(dirs: &[PathBuf]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in dirs {
        let read = emsweep::package::read_package(d);
        for em in &read.emodels {
            for p in em.protocols() {
                let k = (em.label(), p.name.clone());
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
    }
    out.sort();
    out
}

fn reported_protocols(r: &RunReport) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r
        .emodels
        .iter()
        .flat_map(|e| {
            e.protocols
                .iter()
                .map(|p| (e.label.clone(), p.name.clone()))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn run_on_examples_writes_traces_dat_and_report() {
    let tmp = TempDir::new("examples");
    let out = tmp.0.join("out");
    let dat = tmp.0.join("dat");
    let examples = repo_root().join("examples");
    let (code, stdout, stderr) = emsweep(&[
        "run".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        "--dat-dir".as_ref(),
        dat.as_os_str(),
        examples.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 e-models, 2 lanes (0 failed), protocols:"),
        "{stdout}"
    );

    let report = read_run_json(&out.join("run.json")).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.backend, "cpu-f64");
    // every protocol of the packages is listed, each run or skipped with a reason
    let dirs = vec![
        examples.join("ball_and_stick_hh"),
        examples.join("two_compartment_swc"),
    ];
    let expected = package_protocols(&dirs);
    assert!(!expected.is_empty());
    assert_eq!(reported_protocols(&report), expected);
    for p in report.emodels.iter().flat_map(|e| &e.protocols) {
        match p.status {
            RunStatus::Ok => assert!(p.note.is_none(), "{p:?}"),
            RunStatus::Skipped => assert!(p.note.is_some(), "{p:?}"),
            _ => panic!("{p:?}"),
        }
    }

    let traces = read_traces(&out.join("traces.h5")).unwrap();
    let mut datasets = 0;
    for e in &report.emodels {
        for p in e.protocols.iter().filter(|p| p.status == RunStatus::Ok) {
            // NEURON's sample count: one at t = 0 and one per fixed step
            let samples = (p.tstop_ms / p.dt_ms).round() as usize + 1;
            assert_eq!(p.samples, samples, "{}", p.name);
            assert_eq!(p.recordings.first().map(String::as_str), Some("soma.v"));
            for rec in &p.recordings {
                datasets += 1;
                let t = traces
                    .iter()
                    .find(|t| t.emodel == e.label && t.protocol == p.name && &t.recording == rec)
                    .unwrap_or_else(|| panic!("{}/{}/{rec} in traces.h5", e.label, p.name));
                assert_eq!((t.lanes, t.samples), (1, samples), "{}/{rec}", p.name);
                assert_eq!((t.units.as_str(), t.variable.as_str()), ("mV", "v"));
                assert_eq!((t.dt_ms, t.t0_ms), (p.dt_ms, 0.0));
                let v = f64_data(t);
                assert_eq!(v.len(), samples);
                assert!(v.iter().all(|x| x.is_finite() && x.abs() < 200.0));

                // the .dat file: EModelRunner's name and numpy.savetxt's `%.18e` columns
                let name = format!("{}.{}.{rec}.dat", e.label, p.name);
                let text = std::fs::read_to_string(dat.join(&name))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.len(), samples, "{name}");
                assert!(text.ends_with('\n'));
                for (k, line) in lines.iter().enumerate().step_by(997) {
                    let cols: Vec<&str> = line.split(' ').collect();
                    assert_eq!(cols.len(), 2, "{name}:{k}");
                    for c in &cols {
                        let (mant, exp) = c.split_once('e').unwrap();
                        let digits = mant.trim_start_matches('-');
                        assert_eq!(digits.len(), 20, "{name}:{k}: {c}");
                        assert_eq!(&digits[1..2], ".");
                        assert!(exp.len() == 3 && (exp.starts_with('+') || exp.starts_with('-')));
                    }
                    let t_ms: f64 = cols[0].parse().unwrap();
                    let val: f64 = cols[1].parse().unwrap();
                    assert!((t_ms - k as f64 * p.dt_ms).abs() < 1e-9, "{name}:{k}");
                    assert_eq!(val, v[k], "{name}:{k}: the value of traces.h5");
                }
            }
        }
    }
    assert!(datasets > 0);
    assert_eq!(traces.len(), datasets, "no datasets beyond the report's");
}

#[test]
fn step_150_read_back_from_traces_matches_neuron() {
    let tmp = TempDir::new("sscx");
    let out = tmp.0.join("out");
    let pkg = real_packages_dir().join("emodelrunner/sscx_sample_dir");
    let (code, stdout, stderr) = emsweep(&[
        "run".as_ref(),
        "--protocols".as_ref(),
        // allsteps.json's and singlestep.json's (the second runs as `Step_150@singlestep`)
        "Step_150".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        pkg.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report = read_run_json(&out.join("run.json")).unwrap();
    let protocols: Vec<_> = report.emodels.iter().flat_map(|e| &e.protocols).collect();
    let ran: Vec<&str> = protocols
        .iter()
        .filter(|p| p.status == RunStatus::Ok)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(ran, ["Step_150", "Step_150@singlestep"]);

    let traces = read_traces(&out.join("traces.h5")).unwrap();
    let t = traces
        .iter()
        .find(|t| t.emodel == "cADpyr_L4UPC" && t.protocol == "Step_150" && t.recording == "soma.v")
        .expect("soma.v of Step_150");
    let (_, refs) = reference("sscx_cADpyr_L4UPC");
    let r = refs.iter().find(|r| r.protocol == "Step_150").unwrap();
    assert_eq!(t.samples, r.v_mv.len());
    let c = compare(f64_data(t), &r.v_mv, t.dt_ms);
    eprintln!("Step_150 from traces.h5 vs NEURON: {c:?}");
    assert!(c.spikes_ref > 0);
    assert_eq!(c.spikes_ours, c.spikes_ref);
    assert!(c.worst_spike_dt_ms <= SPIKE_TIME_TOL_MS, "{c:?}");
    assert!(c.worst_pre_spike_dv_mv <= PRE_SPIKE_DV_TOL_MV, "{c:?}");
}

#[test]
fn a_broken_package_fails_alone() {
    let tmp = TempDir::new("broken");
    let good = tmp.0.join("pkgs/good");
    let broken = tmp.0.join("pkgs/broken");
    let example = repo_root().join("examples/two_compartment_swc");
    copy_tree(&example, &good);
    copy_tree(&example, &broken);
    // a truncated parameter file
    let params = broken.join("config/params/two_compartment.json");
    let text = std::fs::read_to_string(&params).unwrap();
    std::fs::write(&params, &text[..text.len() / 2]).unwrap();
    let out = tmp.0.join("out");
    let (code, stdout, stderr) = emsweep(&[
        "run".as_ref(),
        "--protocols".as_ref(),
        "Step_*".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        tmp.0.join("pkgs").as_os_str(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report = read_run_json(&out.join("run.json")).unwrap();
    let f = report
        .failures
        .iter()
        .find(|f| {
            f.file
                .as_deref()
                .is_some_and(|p| p.ends_with("two_compartment.json") && p.contains("broken"))
        })
        .unwrap_or_else(|| panic!("{:?}", report.failures));
    assert!(f.line.is_some(), "{f:?}");
    assert!(stderr.contains("two_compartment.json"), "{stderr}");
    // the good package still ran its steps
    assert_eq!(report.emodels.len(), 1);
    let e = &report.emodels[0];
    assert!(e.package.ends_with("good"), "{}", e.package);
    let ran: Vec<&str> = e
        .protocols
        .iter()
        .filter(|p| p.status == RunStatus::Ok)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(ran, ["Step_150", "Step_-50"]);
    let traces = read_traces(&out.join("traces.h5")).unwrap();
    assert_eq!(traces.len(), 2);
}

#[test]
fn run_usage_errors_exit_2() {
    let examples = repo_root().join("examples");
    for args in [
        vec!["run", "--backend", "gpu", "--precision", "f64"],
        vec!["run", "--precision", "f16"],
        vec!["run", "--backend", "tpu"],
        vec!["run", "no/such/dir"],
        vec!["run"],
    ] {
        let mut a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        if args.len() > 1 && args[1].starts_with("--") {
            a.push(examples.as_os_str());
        }
        let (code, stdout, stderr) = emsweep(&a);
        assert_eq!(code, 2, "{args:?}\n{stdout}\n{stderr}");
        assert!(!stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn a_protocol_name_matching_nothing_is_reported() {
    let tmp = TempDir::new("typo");
    let out = tmp.0.join("out");
    let (code, stdout, stderr) = emsweep(&[
        "run".as_ref(),
        "--protocols".as_ref(),
        "Stpe_150".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        repo_root().join("examples").as_os_str(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report = read_run_json(&out.join("run.json")).unwrap();
    assert!(
        report.failures.iter().any(|f| f.kind == "no-protocol"),
        "{:?}",
        report.failures
    );
    for p in report.emodels.iter().flat_map(|e| &e.protocols) {
        assert_eq!(p.status, RunStatus::Skipped, "{p:?}");
        assert_eq!(p.note.as_deref(), Some("not selected by --protocols"));
    }
}
