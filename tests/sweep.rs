//! Sweeps over populations, as users run them: a population is the same simulation as its sets
//! run as separate packages (bit for bit, searches included), a JSON population and the same
//! sets as CSV give the same outputs, a run's scores.json is the next run's population, bad
//! population files fail with their place, `--sample` is deterministic, `--record` chooses what
//! is written.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use emsweep::output::run_report::{read_run_json, RunStatus};
use emsweep::sweep::population::{self, Sampler};
use serde_json::Value;

use crate::common::{emsweep, load, real_packages_dir, TempDir};

const SSCX: &str = "emodelrunner/sscx_sample_dir";
const EMODEL: &str = "cADpyr_L4UPC";

fn sscx_dir() -> PathBuf {
    real_packages_dir().join(SSCX)
}

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

/// Runs `emsweep` and returns its exit code, stdout and stderr; panics with them on a code
/// other than `want`.
fn run(args: &[&str], want: i32) -> (String, String) {
    let a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let (code, out, err) = emsweep(&a);
    assert_eq!(
        code, want,
        "emsweep {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    (out, err)
}

/// Every `.dat` file of `dir` by name, with its bytes.
fn dat_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `n` sets of the SSCx e-model drawn with `seed`, as population.csv text.
fn sampled_csv(n: usize, seed: u64) -> (Vec<population::ParameterSet>, String) {
    let (em, _) = load(SSCX, EMODEL);
    let sets = population::sample(&em, n, seed, Sampler::Lhs).unwrap();
    let csv = population::to_csv(&sets);
    (sets, csv)
}

/// Copies of the SSCx package under `root/<label>`, each with its final.json holding one set.
fn write_packages(root: &Path, sets: &[population::ParameterSet]) {
    for s in sets {
        let dir = root.join(&s.label);
        copy_tree(&sscx_dir(), &dir);
        let path = dir.join("config/params/final.json");
        let mut fin: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let params = fin[EMODEL]["params"].as_object_mut().unwrap();
        for (k, v) in &s.values {
            assert!(params.contains_key(k), "{k} not in final.json");
            params.insert(k.clone(), serde_json::json!(v.to_f64()));
        }
        std::fs::write(&path, serde_json::to_string_pretty(&fin).unwrap()).unwrap();
    }
}

/// The `.dat` files of a population run renamed as a run of one package per set names them
/// (`<label>_<e-model>.<protocol>...` for every package but the first, `<e-model>.` for it).
fn as_package_names(files: Vec<(String, Vec<u8>)>, first: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(name, bytes)| {
            let rest = name.strip_prefix(&format!("{EMODEL}.")).unwrap();
            let (label, tail) = rest.split_once('.').unwrap();
            let renamed = if label == first {
                format!("{EMODEL}.{tail}")
            } else {
                format!("{label}_{EMODEL}.{tail}")
            };
            (renamed, bytes)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_population_is_the_same_simulation_as_its_sets_run_as_packages() {
    let t = TempDir::new("pop-vs-pkgs");
    let (sets, csv) = sampled_csv(2, 7);
    let pop = t.0.join("population.csv");
    std::fs::write(&pop, &csv).unwrap();
    write_packages(&t.0.join("pkgs"), &sets);
    let a = t.0.join("a");
    let b = t.0.join("b");
    let (pkg, a_s, b_s) = (
        sscx_dir().display().to_string(),
        a.display().to_string(),
        b.display().to_string(),
    );
    let pkgs = t.0.join("pkgs").display().to_string();
    // the holding/threshold searches run too: `step` is relative to each lane's threshold
    let (out, _) = run(
        &[
            "run",
            "--protocols",
            "step",
            "--population",
            pop.to_str().unwrap(),
            "--emodel",
            EMODEL,
            "--record",
            "soma",
            "--threads",
            "2",
            "--out",
            &a_s,
            "--dat-dir",
            &format!("{a_s}/dat"),
            &pkg,
        ],
        0,
    );
    assert!(out.contains("2 lanes (0 failed)"), "{out}");
    run(
        &[
            "run",
            "--protocols",
            "step",
            "--record",
            "soma",
            "--out",
            &b_s,
            "--dat-dir",
            &format!("{b_s}/dat"),
            &pkgs,
        ],
        0,
    );
    let from_population = as_package_names(dat_files(&a.join("dat")), &sets[0].label);
    let from_packages = dat_files(&b.join("dat"));
    assert_eq!(from_population.len(), 2 * 3, "three steps per set");
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&from_population), names(&from_packages));
    for (x, y) in from_population.iter().zip(&from_packages) {
        assert!(x.1 == y.1, "{}: the traces differ", x.0);
    }
    // the searches found the same currents, and they ran in lockstep (as many batches as one)
    let ra = read_run_json(&a.join("run.json")).unwrap();
    let rb = read_run_json(&b.join("run.json")).unwrap();
    let lane_currents: Vec<_> = ra.emodels[0]
        .lane_searches
        .iter()
        .map(|s| s.searches[0].bpo_threshold_current)
        .collect();
    let pkg_currents: Vec<_> = rb
        .emodels
        .iter()
        .map(|e| e.search.as_ref().unwrap().searches[0].bpo_threshold_current)
        .collect();
    assert_eq!(lane_currents.len(), 2);
    assert_eq!(lane_currents, pkg_currents);
    assert!(lane_currents.iter().all(Option::is_some));
    let batches_a = ra.emodels[0].lane_searches[0].batches;
    let batches_b = rb.emodels[0].search.as_ref().unwrap().batches;
    assert_eq!(
        batches_a, batches_b,
        "the packages searched in one lockstep too"
    );
    // scores: one entry per set, keyed by its label, in the population's order
    let scores: Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("scores.json")).unwrap()).unwrap();
    let keys: Vec<&String> = scores.as_object().unwrap().keys().collect();
    let labels: Vec<&String> = sets.iter().map(|s| &s.label).collect();
    assert_eq!(keys, labels);
    for s in &sets {
        let params = scores[&s.label]["params"].as_object().unwrap();
        for (k, v) in &s.values {
            assert_eq!(params[k].as_f64(), Some(v.to_f64()), "{}: {k}", s.label);
        }
    }
}

/// The fixed-amplitude `Step_150` of three sets: from CSV, from the same sets as JSON, and from
/// the first run's scores.json: the same traces and scores.
#[test]
fn csv_json_and_a_previous_scores_json_are_the_same_population() {
    let t = TempDir::new("pop-formats");
    let (sets, csv) = sampled_csv(3, 11);
    let csv_path = t.0.join("pop.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let mut json = serde_json::Map::new();
    for s in &sets {
        let mut params = serde_json::Map::new();
        for (k, v) in &s.values {
            params.insert(k.clone(), serde_json::json!(v.to_f64()));
        }
        json.insert(s.label.clone(), serde_json::json!({ "params": params }));
    }
    let json_path = t.0.join("pop.json");
    std::fs::write(&json_path, Value::Object(json).to_string()).unwrap();
    let pkg = sscx_dir().display().to_string();
    let mut outs = Vec::new();
    for (tag, pop) in [
        ("csv", csv_path.clone()),
        ("json", json_path.clone()),
        ("scores", t.0.join("csv/scores.json")),
    ] {
        let out = t.0.join(tag);
        let o = out.display().to_string();
        run(
            &[
                "run",
                "--protocols",
                "Step_150",
                "--population",
                pop.to_str().unwrap(),
                "--dat-dir",
                &format!("{o}/dat"),
                "--out",
                &o,
                &pkg,
            ],
            0,
        );
        outs.push(out);
    }
    let strip = |p: &Path| -> Value {
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("scores.json")).unwrap()).unwrap();
        for e in v.as_object_mut().unwrap().values_mut() {
            e.as_object_mut().unwrap().remove("package");
        }
        v
    };
    for o in &outs[1..] {
        assert_eq!(dat_files(&outs[0].join("dat")), dat_files(&o.join("dat")));
        assert_eq!(strip(&outs[0]), strip(o));
        assert_eq!(
            std::fs::read_to_string(outs[0].join("population.csv")).unwrap(),
            std::fs::read_to_string(o.join("population.csv")).unwrap()
        );
    }
    assert_eq!(
        std::fs::read_to_string(outs[0].join("population.csv")).unwrap(),
        csv
    );
}

#[test]
fn bad_population_files_fail_with_file_line_and_parameter() {
    let t = TempDir::new("pop-bad");
    let (_, csv) = sampled_csv(2, 1);
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    // row 1: a NaN; a misspelt column; a missing free parameter
    let mut row: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    row[2] = "nan".into();
    lines[2] = row.join(",");
    let bad_nan = lines.join("\n");
    let renamed = csv.replacen("g_pas.all", "g_pass.all", 1);
    let mut header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let dropped = header.remove(3).to_string();
    let short: Vec<String> = std::iter::once(header.join(","))
        .chain(csv.lines().skip(1).map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(3);
            f.join(",")
        }))
        .collect();
    let cases = [
        (
            "nan.csv",
            bad_nan,
            "3:".to_string(),
            "is NaN, not a finite number".to_string(),
        ),
        (
            "unknown.csv",
            renamed,
            "2:".to_string(),
            "`g_pass.all` is not a parameter".to_string(),
        ),
        (
            "missing.csv",
            short.join("\n"),
            "2:1".to_string(),
            format!("no value for free parameter `{dropped}`"),
        ),
    ];
    let pkg = sscx_dir().display().to_string();
    for (name, text, place, message) in cases {
        let path = t.0.join(name);
        std::fs::write(&path, text).unwrap();
        let out = t.0.join(format!("out-{name}"));
        let (_, err) = run(
            &[
                "run",
                "--protocols",
                "Step_150",
                "--population",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                &pkg,
            ],
            1,
        );
        let at = format!("{}:{place}", path.display());
        assert!(
            err.lines().any(|l| l.contains(&at) && l.contains(&message)),
            "{name}: wanted `{at}` and `{message}` in:\n{err}"
        );
        // nothing ran with a defaulted value
        let r = read_run_json(&out.join("run.json")).unwrap();
        assert!(r.emodels[0]
            .protocols
            .iter()
            .all(|p| p.status != RunStatus::Ok));
    }
    // two e-models and no --emodel: a usage error naming them
    let examples = crate::common::repo_root().join("examples");
    let (_, err) = run(
        &[
            "run",
            "--sample",
            "2",
            "--out",
            t.0.join("x").to_str().unwrap(),
            examples.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("--emodel"), "{err}");
}

#[test]
fn sampling_is_deterministic_inside_the_bounds() {
    let (em, _) = load(SSCX, EMODEL);
    for sampler in [Sampler::Uniform, Sampler::Lhs] {
        let a = population::sample(&em, 20, 5, sampler).unwrap();
        let b = population::sample(&em, 20, 5, sampler).unwrap();
        let c = population::sample(&em, 20, 6, sampler).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let free = population::free_parameters(&em);
        for s in &a {
            assert_eq!(s.values.len(), free.len());
            for ((k, v), p) in s.values.iter().zip(&free) {
                assert_eq!(k, &p.key);
                let emsweep::package::ParamValue::Free { bounds, .. } = p.value else {
                    unreachable!()
                };
                let x = v.to_f64();
                assert!(
                    x >= bounds.0 && x <= bounds.1,
                    "{k} = {x} outside {bounds:?}"
                );
            }
        }
    }
    // Latin hypercube: every tenth of every range holds one of ten sets
    let lhs = population::sample(&em, 10, 9, Sampler::Lhs).unwrap();
    for (j, p) in population::free_parameters(&em).iter().enumerate() {
        let emsweep::package::ParamValue::Free {
            bounds: (lo, hi), ..
        } = p.value
        else {
            unreachable!()
        };
        if hi == lo {
            continue;
        }
        let mut strata: Vec<usize> = lhs
            .iter()
            .map(|s| (((s.values[j].1.to_f64() - lo) / (hi - lo)) * 10.0).floor() as usize)
            .map(|k| k.min(9))
            .collect();
        strata.sort();
        assert_eq!(strata, (0..10).collect::<Vec<_>>(), "{}", p.key);
    }
}

#[test]
fn record_chooses_what_is_written_and_scores_stay_the_same() {
    let t = TempDir::new("pop-record");
    let pkg = sscx_dir().display().to_string();
    let mut scores = Vec::new();
    for (tag, record, every) in [
        ("all", "all", "1"),
        ("soma", "soma", "10"),
        ("none", "none", "1"),
    ] {
        let out = t.0.join(tag);
        let o = out.display().to_string();
        run(
            &[
                "run",
                "--protocols",
                "Step_150",
                "--sample",
                "2",
                "--seed",
                "4",
                "--record",
                record,
                "--record-every",
                every,
                "--dat-dir",
                &format!("{o}/dat"),
                "--out",
                &o,
                &pkg,
            ],
            0,
        );
        scores.push(std::fs::read_to_string(out.join("scores.json")).unwrap());
        let dats = dat_files(&out.join("dat"));
        match record {
            "none" => {
                assert!(dats.is_empty());
                assert!(!out.join("traces.h5").exists());
            }
            _ => {
                assert!(!dats.is_empty());
                let traces = emsweep::output::traces::read_traces(&out.join("traces.h5")).unwrap();
                for tr in &traces {
                    assert_eq!(tr.lanes, 2);
                    assert_eq!(tr.lane_labels, vec!["sample_0", "sample_1"]);
                    if record == "soma" {
                        assert_eq!(tr.recording, "soma.v");
                        assert_eq!(tr.dt_ms, 0.25);
                        assert_eq!(tr.samples, 12000 / 10 + 1);
                    }
                }
            }
        }
    }
    // features are computed on every step whatever is written
    assert_eq!(scores[0], scores[1]);
    assert_eq!(scores[0], scores[2]);
}

/// Three shards of a five-set population, merged, equal the unsharded run: scores.json and
/// features.csv byte for byte, every trace value, every e-model's protocol outcomes.
#[test]
fn merged_shards_equal_one_unsharded_run() {
    let t = TempDir::new("pop-shards");
    let pkg = sscx_dir().display().to_string();
    let common = [
        "run",
        "--protocols",
        "Step_150",
        "--sample",
        "5",
        "--seed",
        "8",
    ];
    let mut shard_dirs = Vec::new();
    for k in 1..=3 {
        let dir = t.0.join(format!("shard{k}"));
        let shard = format!("{k}/3");
        let mut args: Vec<&str> = common.to_vec();
        args.extend(["--shard", &shard, "--out", dir.to_str().unwrap(), &pkg]);
        run(&args, 0);
        shard_dirs.push(dir);
    }
    let whole = t.0.join("whole");
    let mut args: Vec<&str> = common.to_vec();
    args.extend(["--out", whole.to_str().unwrap(), &pkg]);
    run(&args, 0);
    let merged = t.0.join("merged");
    // shards in any order
    run(
        &[
            "merge",
            merged.to_str().unwrap(),
            shard_dirs[2].to_str().unwrap(),
            shard_dirs[0].to_str().unwrap(),
            shard_dirs[1].to_str().unwrap(),
        ],
        0,
    );
    for f in ["scores.json", "features.csv", "population.csv"] {
        assert_eq!(
            std::fs::read(merged.join(f)).unwrap(),
            std::fs::read(whole.join(f)).unwrap(),
            "{f}"
        );
    }
    let a = emsweep::output::traces::read_traces(&merged.join("traces.h5")).unwrap();
    let b = emsweep::output::traces::read_traces(&whole.join("traces.h5")).unwrap();
    assert_eq!(a, b);
    assert!(!a.is_empty());
    let outcomes = |p: &Path| {
        let mut r = read_run_json(&p.join("run.json")).unwrap();
        for e in &mut r.emodels {
            for p in &mut e.protocols {
                p.wall_s = 0.0;
            }
        }
        r.emodels
    };
    assert_eq!(outcomes(&merged), outcomes(&whole));
    // a shard missing is refused
    let (_, err) = run(
        &[
            "merge",
            t.0.join("bad").to_str().unwrap(),
            shard_dirs[0].to_str().unwrap(),
            shard_dirs[1].to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("every shard 1..=3 once is needed"), "{err}");
}

/// A sweep killed (SIGKILL) after its first chunk and run again with the same command resumes:
/// it skips what was finished and leaves the same scores.json, features.csv, traces.h5 and
/// .dat files, byte for byte, as an uninterrupted run. Another command on the same folder is
/// refused; `--force` replaces it.
#[test]
fn a_killed_sweep_resumes_to_the_same_output() {
    let t = TempDir::new("pop-resume");
    let pkg = sscx_dir().display().to_string();
    let args = |out: &Path| -> Vec<String> {
        let o = out.display().to_string();
        [
            "run",
            "--protocols",
            "Step_150",
            "--sample",
            "6",
            "--seed",
            "11",
            "--chunk-lanes",
            "2",
            "--record",
            "soma",
            "--record-every",
            "5",
            "--dat-dir",
            &format!("{o}/dat"),
            "--out",
            &o,
            &pkg,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let whole = t.0.join("whole");
    let a = args(&whole);
    run(&a.iter().map(String::as_str).collect::<Vec<_>>(), 0);

    let killed = t.0.join("killed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_emsweep"))
        .args(args(&killed))
        .current_dir(crate::common::repo_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = killed.join("chunks/checkpoint.cbor");
    let started = std::time::Instant::now();
    while !checkpoint.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(
            started.elapsed().as_secs() < 600,
            "no checkpoint in 10 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        status.code().is_none(),
        "killed by a signal, not finished: {status:?}"
    );
    assert!(
        !killed.join("scores.json").exists(),
        "killed before the end"
    );

    let k = args(&killed);
    let (out, _) = run(&k.iter().map(String::as_str).collect::<Vec<_>>(), 0);
    assert!(out.contains("finished by an earlier run"), "{out}");
    for f in ["scores.json", "features.csv", "traces.h5", "population.csv"] {
        assert_eq!(
            std::fs::read(killed.join(f)).unwrap(),
            std::fs::read(whole.join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        dat_files(&killed.join("dat")),
        dat_files(&whole.join("dat"))
    );
    assert!(!dat_files(&whole.join("dat")).is_empty());

    // another command on the folder: refused, then replaced with --force
    let mut other = args(&killed);
    other[6] = "12".into(); // --seed
    let (_, err) = run(&other.iter().map(String::as_str).collect::<Vec<_>>(), 2);
    assert!(err.contains("holds the output of another run"), "{err}");
    other.insert(1, "--force".into());
    run(&other.iter().map(String::as_str).collect::<Vec<_>>(), 0);
    assert_ne!(
        std::fs::read(killed.join("population.csv")).unwrap(),
        std::fs::read(whole.join("population.csv")).unwrap()
    );
}

/// `v` without its `wall_s` entries, at any depth.
fn without_wall_times(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("wall_s");
            o.values_mut().for_each(without_wall_times);
        }
        Value::Array(a) => a.iter_mut().for_each(without_wall_times),
        _ => {}
    }
}

/// The run.json of `dir` without its timings (which differ from run to run).
fn run_json_without_timings(dir: &Path) -> Value {
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    without_wall_times(&mut v);
    let o = v.as_object_mut().unwrap();
    o.remove("timings_s");
    o.remove("started_unix_s");
    o.remove("command");
    // the one setting the two runs differ in
    o["settings"].as_object_mut().unwrap().remove("threads");
    v
}

#[test]
fn chunks_side_by_side_give_the_output_of_one_after_another() {
    let t = TempDir::new("waves");
    let examples = crate::common::repo_root().join("examples");
    let ball = examples.join("ball_and_stick_hh");
    // two structures, one lane each; and one e-model's lanes cut into one-lane chunks (their
    // searches and protocols tallied from chunks that ran side by side)
    let cases: [(&str, Vec<String>); 2] = [
        ("examples", vec![examples.display().to_string()]),
        (
            "sampled",
            [
                "--protocols",
                "step,Step_300",
                "--sample",
                "3",
                "--seed",
                "4",
                "--chunk-lanes",
                "1",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([ball.display().to_string()])
            .collect(),
        ),
    ];
    for (name, extra) in cases {
        let mut outs = Vec::new();
        for threads in ["1", "2"] {
            let out = t.0.join(format!("{name}-{threads}"));
            let o = out.display().to_string();
            let dat = format!("{o}/dat");
            let mut args = vec!["run", "--threads", threads, "--dat-dir", &dat, "--out", &o];
            args.extend(extra.iter().map(String::as_str));
            run(&args, 0);
            outs.push(out);
        }
        for f in ["scores.json", "features.csv", "traces.h5"] {
            assert_eq!(
                std::fs::read(outs[0].join(f)).unwrap(),
                std::fs::read(outs[1].join(f)).unwrap(),
                "{name}: {f}"
            );
        }
        assert_eq!(
            run_json_without_timings(&outs[0]),
            run_json_without_timings(&outs[1]),
            "{name}: run.json"
        );
        let dat = dat_files(&outs[0].join("dat"));
        assert!(!dat.is_empty(), "{name}");
        assert_eq!(dat, dat_files(&outs[1].join("dat")), "{name}");
    }
}
