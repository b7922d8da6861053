//! The feature-score reports of `emsweep run` (`scores.json`, `features.csv`, `report.html`):
//!
//! - on the bundled examples: the scores agree with the fitness the examples' `final.json` files
//!   store (computed by EModelRunner 1.2.5 / BluePyEModel 1.0.50 with NEURON 9.0.2, whose `hh`
//!   rate table moves spikes slightly: per feature |Δscore| ≤ 0.05, total within 2 %, BluePyEModel
//!   feature values within 1 %);
//! - on the bundled examples and the SSCx sample's fixed-amplitude protocols: headless Chromium
//!   opens `report.html` and every trace of the run is drawn as a path of non-zero length and
//!   extent (counted by the page's own script, read back from the DOM dump);
//! - `features::evaluate` on the SSCx package's own protocols gives EModelRunner's stimulus windows
//!   and BluePyOpt's scores of `tests/reference/scores`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use emsweep::features::evaluate::{
    evaluate, feature_window, EvaluationLabel, ProtocolOutcome, Recorded, SearchedCurrents,
    ValidationRule,
};
use emsweep::output::report::features_csv;
use emsweep::output::run_report::{read_run_json, RunReport, RunStatus};
use emsweep::output::traces::read_traces;
use serde_json::Value;

use crate::common::{emsweep, real_packages_dir, repo_root, TempDir};

/// `emsweep run ARGS...`.
fn emsweep_run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["run".as_ref()];
    all.extend_from_slice(args);
    emsweep(&all)
}

/// The headless browser the bootstrap installs. Panics (never skips) when it is missing.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!("headless Chromium is missing: run the bootstrap first (bash scripts/bootstrap.sh)");
}

/// Opens `html` in headless Chromium and returns what its script measured: (trace paths drawn
/// with a non-empty extent and length, trace paths in the page).
fn drawn_traces(html: &Path, scratch: &Path) -> (usize, usize) {
    let profile = scratch.join("chromium-profile");
    let dump = scratch.join("dom.html");
    let errors = scratch.join("chromium.err");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .stdout(std::fs::File::create(&dump).unwrap())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .expect("chromium starts");
    // a browser that hangs fails the test instead of holding it
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(180) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 180 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium: {}",
        std::fs::read_to_string(&errors).unwrap_or_default()
    );
    let out = std::fs::read(&dump).unwrap();
    let dom = String::from_utf8_lossy(&out);
    let read = |id: &str| -> usize {
        let tag = format!("id=\"{id}\">");
        let at = dom
            .find(&tag)
            .unwrap_or_else(|| panic!("#{id} not in the DOM dump"));
        let rest = &dom[at + tag.len()..];
        let text = &rest[..rest.find('<').unwrap()];
        text.parse()
            .unwrap_or_else(|_| panic!("#{id} holds `{text}`: the page's script did not run"))
    };
    (read("drawn-traces"), read("trace-paths"))
}

/// Traces of the run: (datasets × lanes in traces.h5, recordings × lanes that ran per run.json).
fn trace_counts(out: &Path, report: &RunReport) -> (usize, usize) {
    let stored: usize = read_traces(&out.join("traces.h5"))
        .unwrap()
        .iter()
        .map(|t| t.lanes)
        .sum();
    let listed: usize = report
        .emodels
        .iter()
        .flat_map(|e| e.protocols.iter().map(move |p| (e.lanes, p)))
        .filter(|(_, p)| matches!(p.status, RunStatus::Ok | RunStatus::Partial))
        .map(|(lanes, p)| lanes * p.recordings.len())
        .sum();
    (stored, listed)
}

fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        other => panic!("not a number: {other}"),
    }
}

/// Every report file exists; scores.json has one entry per e-model with the package's features
/// in order, its score is the sum of its fitness, features.csv has a row per value of each.
fn check_files(out: &Path, report: &RunReport, packages: &[PathBuf]) -> Value {
    let scores = load_json(&out.join("scores.json"));
    let obj = scores.as_object().unwrap();
    let labels: Vec<&str> = report.emodels.iter().map(|e| e.label.as_str()).collect();
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, labels);
    let mut features_of = BTreeMap::new();
    for d in packages {
        for em in emsweep::package::read_package(d).emodels {
            features_of.insert(
                em.label(),
                em.features
                    .iter()
                    .map(|f| f.name.clone())
                    .collect::<Vec<_>>(),
            );
        }
    }
    let csv = std::fs::read_to_string(out.join("features.csv")).unwrap();
    let rows = features_csv::parse(&csv).unwrap();
    assert_eq!(rows[0], features_csv::COLUMNS);
    for (key, e) in obj {
        let fitness = e["fitness"].as_object().unwrap();
        let names: Vec<&String> = fitness.keys().collect();
        let expected = &features_of[key];
        assert_eq!(names.len(), expected.len(), "{key}");
        assert!(names.iter().zip(expected).all(|(a, b)| *a == b), "{key}");
        let sum: f64 = fitness.values().map(num).sum();
        assert!((sum - num(&e["score"])).abs() <= 1e-9 * sum.abs(), "{key}");
        assert!(e["validated"].is_boolean());
        assert_eq!(e["features"].as_object().unwrap().len(), expected.len());
        // features.csv: each feature's values in order, one row each (or one empty row)
        for (name, values) in e["feature_values"].as_object().unwrap() {
            let mine: Vec<&Vec<String>> = rows[1..]
                .iter()
                .filter(|r| r[0] == *key && r[5] == *name)
                .collect();
            match values.as_array() {
                Some(v) if !v.is_empty() => {
                    assert_eq!(mine.len(), v.len(), "{key} {name}");
                    for (r, x) in mine.iter().zip(v) {
                        let parsed: f64 = r[8].parse().unwrap();
                        assert!(parsed == num(x) || parsed.is_nan() && num(x).is_nan());
                    }
                }
                _ => assert_eq!(mine.len(), 1, "{key} {name}"),
            }
            let score: f64 = mine[0][11].parse().unwrap();
            assert!(score == num(&fitness[name]) || score.is_nan());
        }
    }
    scores
}

#[test]
fn examples_reports_match_the_tools_and_draw_every_trace() {
    let tmp = TempDir::new("examples");
    let out = tmp.0.join("out");
    let examples = repo_root().join("examples");
    let (code, stdout, stderr) =
        emsweep_run(&["--out".as_ref(), out.as_os_str(), examples.as_os_str()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report = read_run_json(&out.join("run.json")).unwrap();
    let packages = vec![
        examples.join("ball_and_stick_hh"),
        examples.join("two_compartment_swc"),
    ];
    let scores = check_files(&out, &report, &packages);

    // the fitness the tools stored for the same cells and protocols
    let stored = [
        (
            "ballstick_hh",
            load_json(&examples.join("ball_and_stick_hh/config/params/final.json"))["ballstick_hh"]
                .clone(),
            "ballstick.",
        ),
        (
            "two_compartment",
            load_json(&examples.join("two_compartment_swc/final.json"))["two_compartment__1"]
                .clone(),
            "",
        ),
    ];
    for (key, reference, prefix) in &stored {
        let ours = &scores[*key];
        let total = num(&ours["score"]);
        let ref_total = num(&reference["score"]);
        eprintln!("{key}: total {total:.6} (tool {ref_total})");
        assert!((total - ref_total).abs() <= 0.02 * ref_total, "{key}");
        assert_eq!(ours["validated"], Value::Bool(true), "{key}");
        for (name, s) in ours["fitness"].as_object().unwrap() {
            let r = num(&reference["fitness"][format!("{prefix}{name}")]);
            assert!((num(s) - r).abs() <= 0.05, "{key} {name}: {s} vs {r}");
            if let Some(v) = reference.get("features").and_then(|f| f.get(name)) {
                let (a, b) = (num(&ours["features"][name]), num(v));
                assert!((a - b).abs() <= 0.01 * b.abs(), "{key} {name}: {a} vs {b}");
            }
        }
        assert!(ours["failures"].as_array().unwrap().is_empty(), "{key}");
    }

    let (stored, listed) = trace_counts(&out, &report);
    assert_eq!(stored, listed);
    assert!(stored > 0);
    let (drawn, paths) = drawn_traces(&out.join("report.html"), &tmp.0);
    assert_eq!((drawn, paths), (stored, stored));
}

#[test]
fn sscx_fixed_protocols_report_draws_every_trace() {
    let tmp = TempDir::new("sscx");
    let out = tmp.0.join("out");
    let pkg = real_packages_dir().join("emodelrunner/sscx_sample_dir");
    // the protocols with fixed amplitudes (the main protocol's threshold-based ones, which need
    // the search, are left out; tests/search.rs runs the whole package)
    let (code, stdout, stderr) = emsweep_run(&[
        "--protocols".as_ref(),
        "RMP,Step_150,Step_200@allsteps,Step_250,RmpRiTau,Ramp,MultiStepProtocolNoHolding".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        pkg.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report = read_run_json(&out.join("run.json")).unwrap();
    let scores = check_files(&out, &report, std::slice::from_ref(&pkg));
    let e = &scores["cADpyr_L4UPC"];
    assert_eq!(e["dialect"], "emodelrunner-sscx");
    // the protocols not selected did not run: their features score 250 with the reason
    let failures = e["failures"].as_array().unwrap();
    assert!(failures
        .iter()
        .any(|f| f["feature"] == "Step_280.soma.v.Spikecount"
            || f["feature"].as_str().unwrap().starts_with("Step_280.")));
    for f in failures {
        assert_eq!(num(&e["fitness"][f["feature"].as_str().unwrap()]), 250.0);
        assert!(!f["reason"].as_str().unwrap().is_empty());
    }
    // RMP ran with fixed amplitudes: scored on its trace
    assert!(num(&e["fitness"]["RMP.soma.v.voltage_base"]) < 250.0);

    let (stored, listed) = trace_counts(&out, &report);
    assert_eq!(stored, listed);
    assert!(stored >= 7, "{stored}");
    let (drawn, paths) = drawn_traces(&out.join("report.html"), &tmp.0);
    assert_eq!((drawn, paths), (stored, stored));
    let html = std::fs::metadata(out.join("report.html")).unwrap().len();
    eprintln!("SSCx: {stored} traces drawn, report.html {html} bytes");
    assert!(html < 2_000_000, "report.html is {html} bytes");
}

/// `evaluate` on the SSCx package's main protocols, fed the traces `tests/reference/scores`
/// assigned to them: the windows are EModelRunner's, the scores BluePyOpt's. Left out: the RMP
/// protocol (its stand-in trace carries another window) and the features reading
/// `stimulus_current` (the stand-ins carry their traces' amplitudes, not the package's).
#[test]
fn evaluate_gives_emodelrunner_windows_and_scores() {
    let refs = repo_root().join("tests/reference");
    let doc = load_json(&refs.join("scores/scores.json"));
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["package"] == "emodelrunner/sscx_sample_dir")
        .unwrap();
    let mut traces: BTreeMap<String, (f64, Vec<f64>)> = BTreeMap::new();
    for file in ["traces.json", "packages/sscx_cADpyr_L4UPC.json"] {
        let d = load_json(&refs.join("features").join(file));
        for t in d["traces"].as_array().unwrap() {
            if let Some(dt) = t["dt"].as_f64() {
                let v = t["v"].as_array().unwrap().iter().map(num).collect();
                traces.insert(t["name"].as_str().unwrap().into(), (dt, v));
            }
        }
    }
    let read =
        emsweep::package::read_package(&real_packages_dir().join("emodelrunner/sscx_sample_dir"));
    let mut em = read
        .emodels
        .into_iter()
        .find(|e| e.name == "cADpyr_L4UPC")
        .unwrap();
    // the feature file goes with the main protocol's set
    em.protocol_sets.retain(|s| s.main.is_some());
    assert!(!em.protocol_sets.is_empty());

    let mut protocols: BTreeMap<String, ProtocolOutcome> = BTreeMap::new();
    let mut windows_checked = 0;
    for f in case["features"].as_array().unwrap() {
        let Some(tr) = f["trace"].as_object() else {
            continue;
        };
        let prot = f["protocol"].as_str().unwrap();
        let name = tr["name"].as_str().unwrap();
        let (dt, v) = &traces[name];
        let entry = protocols
            .entry(prot.to_string())
            .or_insert_with(|| ProtocolOutcome::Ran(BTreeMap::new()));
        if let ProtocolOutcome::Ran(recs) = entry {
            recs.insert(
                f["recording"].as_str().unwrap().to_string(),
                // the references' times, i·dt: the tool's features saw these samples as they are
                Recorded::ToolSamples {
                    t_ms: (0..v.len()).map(|i| i as f64 * dt).collect(),
                    values: v.clone(),
                },
            );
        }
        if prot != "RMP" {
            let p = em.protocols().find(|p| p.name == prot).unwrap();
            let w = feature_window(p, em.dialect, &SearchedCurrents::default()).unwrap();
            assert_eq!(
                (w.stim_start_ms, w.stim_end_ms),
                (num(&f["stim_start"]), num(&f["stim_end"])),
                "{prot}"
            );
            windows_checked += 1;
        }
    }
    let ev = evaluate(
        EvaluationLabel {
            key: "cADpyr_L4UPC".into(),
            lane: None,
        },
        &em,
        &protocols,
        SearchedCurrents::default().into(),
        ValidationRule::default(),
    );
    let records = case["features"].as_array().unwrap();
    let mut compared = 0;
    let mut missing = 0;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        let name = r["name"].as_str().unwrap();
        // the k-th feature of that name (the reference appends tight-std copies of two
        // features under the same names; the package has no such copies)
        let k = seen.entry(name).or_insert(0);
        *k += 1;
        let Some(ours) = ev
            .scores
            .features
            .iter()
            .filter(|f| f.name == name)
            .nth(*k - 1)
        else {
            continue;
        };
        if r["protocol"] == "RMP" || r["efel_feature_name"].as_str().unwrap().contains("ohmic") {
            continue;
        }
        let reference = num(&r["score"]);
        assert!(
            (ours.score - reference).abs() <= 1e-9 * reference.abs() + 1e-12,
            "{name}: ours {} reference {reference}",
            ours.score
        );
        compared += 1;
        if r["trace"].is_null() {
            missing += 1;
            assert_eq!(ours.score, 250.0);
        }
    }
    eprintln!(
        "{windows_checked} windows and {compared} scores ({missing} without a trace) as the tools"
    );
    assert!(windows_checked > 10 && compared > 40 && missing > 0);
}

/// `feature_window` on BluePyEModel's e-codes gives what BluePyEModel 1.0.50's own stimulus
/// classes (`bluepyemodel.ecode.eCodes[...]`, built from the same protocol definitions, with a
/// threshold current of 0.3 nA for the threshold-based ones) give as `stim_start`, `stim_end`
/// and `amplitude`.
#[test]
fn ecode_windows_are_bluepyemodels() {
    let expected = [
        (
            "L5PC",
            "IDrest_150",
            700.0000000000001,
            2700.0,
            0.4634816902171768,
        ),
        (
            "L5PC",
            "IDrest_250",
            700.0000000000001,
            2700.0,
            0.7689790922919698,
        ),
        ("L5PC", "IV_-100", 20.0, 1020.0, -0.29825481340026877),
        (
            "L5PC",
            "APWaveform_280",
            5.0,
            55.00000000000001,
            0.8529668462417008,
        ),
        ("L5PC", "sAHP_220", 25.0, 2720.0, 0.6811518883984652),
        (
            "simplecell",
            "IDrest_0.2",
            700.0000000000001,
            2700.0,
            0.23945312993600965,
        ),
        (
            "simplecell",
            "IDrest_0.4",
            700.0000000000001,
            2700.0,
            0.3318749852478504,
        ),
        ("simplecell", "IV_-0.1", 20.0, 1020.0, -0.1265624992083758),
    ];
    let currents = SearchedCurrents {
        holding_na: Some(-0.1),
        threshold_na: Some(0.3),
    };
    for pkg in ["L5PC", "simplecell"] {
        let read =
            emsweep::package::read_package(&real_packages_dir().join("bluepyemodel").join(pkg));
        let em = &read.emodels[0];
        for (_, name, start, end, amp) in expected.iter().filter(|x| x.0 == pkg) {
            let p = em
                .protocols()
                .find(|p| p.name == *name)
                .unwrap_or_else(|| panic!("{pkg} {name}"));
            let w = feature_window(p, em.dialect, &currents).unwrap();
            assert_eq!(
                (w.stim_start_ms, w.stim_end_ms, w.stimulus_current_na),
                (*start, *end, Some(*amp)),
                "{pkg} {name}"
            );
        }
    }
}

/// BluePyEModel's simplecell example, run with its fixed-amplitude protocols: the scores and
/// feature values agree with the `final.json` BluePyEModel 1.0.50 wrote for the same parameters
/// (NEURON with CVODE there, fixed steps here: per feature |Δscore| ≤ max(0.01, 1 %), values
/// within 0.01 %). BluePyEModel files the validation protocol's scores under
/// `validation_fitness` and leaves them out of `score`; emsweep scores every feature of the file
/// (the verdict takes both in either tool).
#[test]
fn simplecell_scores_match_bluepyemodels_final_json() {
    let tmp = TempDir::new("simplecell");
    let out = tmp.0.join("out");
    let pkg = real_packages_dir().join("bluepyemodel/simplecell");
    let (code, stdout, stderr) = emsweep_run(&["--out".as_ref(), out.as_os_str(), pkg.as_os_str()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report = read_run_json(&out.join("run.json")).unwrap();
    let scores = check_files(&out, &report, std::slice::from_ref(&pkg));
    let ours = &scores["simplecell"];
    let reference = &load_json(&pkg.join("final.json"))["simplecell__1"];
    let mut tool_scores = BTreeMap::new();
    for part in ["fitness", "validation_fitness"] {
        for (k, v) in reference[part].as_object().unwrap() {
            tool_scores.insert(k.clone(), num(v));
        }
    }
    let fitness = ours["fitness"].as_object().unwrap();
    assert_eq!(fitness.len(), tool_scores.len());
    for (name, r) in &tool_scores {
        let s = num(&fitness[name]);
        assert!(
            (s - r).abs() <= 0.01f64.max(0.01 * r.abs()),
            "{name}: {s} vs {r}"
        );
        let (a, b) = (
            num(&ours["features"][name]),
            num(&reference["features"][name]),
        );
        assert!((a - b).abs() <= 1e-4 * b.abs(), "{name}: {a} vs {b}");
    }
    let total: f64 = tool_scores.values().sum();
    assert!((num(&ours["score"]) - total).abs() <= 0.01 * total);
    assert_eq!(ours["validated"], reference["validated"]);
    let (drawn, paths) = drawn_traces(&out.join("report.html"), &tmp.0);
    let (stored, _) = trace_counts(&out, &report);
    assert_eq!((drawn, paths), (stored, stored));
}
