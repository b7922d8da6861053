//! The feature-score reports of a run: `scores.json` ([`scores_json`], BluePyEModel's
//! `final.json` dialect), `features.csv` ([`features_csv`]) and `report.html` ([`html`], inline
//! SVG from [`svg`]). [`evaluate_run`] turns what a run recorded (`run.json`'s report and the
//! traces of `traces.h5`) into evaluations; [`write_reports`] writes the three files.

pub mod features_csv;
pub mod html;
pub mod scores_json;
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::run_report::{Failure, RunReport, RunStatus};
use super::traces::{Samples, StoredTrace};
use super::OutputError;
use crate::features::evaluate::{
    evaluate, EModelCurrents, Evaluation, EvaluationLabel, ProtocolOutcome, Recorded,
    SearchedCurrents, ValidationRule,
};
use crate::package::EModel;

/// File names in the output folder.
pub const SCORES_JSON: &str = "scores.json";
pub const FEATURES_CSV: &str = "features.csv";
pub const REPORT_HTML: &str = "report.html";

/// A stored trace's samples as f64.
fn samples_f64(t: &StoredTrace) -> Vec<f64> {
    match &t.data {
        Samples::F64(v) => v.clone(),
        Samples::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
    }
}

/// A trace of the run, one lane, ready to plot.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LaneTrace {
    pub emodel: String,
    pub protocol: String,
    pub recording: String,
    pub lane: String,
    pub units: String,
    pub t0_ms: f64,
    pub dt_ms: f64,
    pub values: Vec<f64>,
}

impl LaneTrace {
    fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.emodel, self.protocol, self.recording, self.lane
        )
    }
}

/// Every lane of every stored trace, in the stored order.
pub fn lane_traces(traces: &[StoredTrace]) -> Vec<LaneTrace> {
    let mut out = Vec::new();
    for t in traces {
        let data = samples_f64(t);
        for lane in 0..t.lanes {
            let lo = lane * t.samples;
            let Some(values) = data.get(lo..lo + t.samples) else {
                continue;
            };
            out.push(LaneTrace {
                emodel: t.emodel.clone(),
                protocol: t.protocol.clone(),
                recording: t.recording.clone(),
                lane: t
                    .lane_labels
                    .get(lane)
                    .cloned()
                    .unwrap_or_else(|| lane.to_string()),
                units: t.units.clone(),
                t0_ms: t.t0_ms,
                dt_ms: t.dt_ms,
                values: values.to_vec(),
            });
        }
    }
    out
}

/// A failure as one line: `kind: message (file:line:col)`.
pub fn failure_line(f: &Failure) -> String {
    let mut s = String::new();
    if let Some(p) = &f.protocol {
        s.push_str(&format!("[{p}] "));
    }
    s.push_str(&format!("{}: {}", f.kind, f.message));
    if let Some(file) = &f.file {
        s.push_str(&format!(" ({file}"));
        if let Some(l) = f.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = f.column {
                s.push_str(&format!(":{c}"));
            }
        }
        s.push(')');
    }
    s
}

/// Whether the run's key `key` names the e-model labelled `label` (`label`, or on a clash
/// `package/label`, `package/label#2`, ...).
fn key_names(key: &str, label: &str) -> bool {
    key == label
        || key.ends_with(&format!("/{label}"))
        || key
            .rsplit_once('#')
            .is_some_and(|(k, _)| k == label || k.ends_with(&format!("/{label}")))
}

/// Evaluates every e-model of `run` whose package was read (`emodels`, matched to the run's
/// e-models by package folder and name) on the traces the run stored; one evaluation per lane
/// (the lane named when a protocol ran several), with the currents each protocol ran with and
/// the search's for the `bpo_*` features (both as `run.json` records them).
pub fn evaluate_run(
    emodels: &[EModel],
    run: &RunReport,
    traces: &[LaneTrace],
    validation: ValidationRule,
) -> Vec<Evaluation> {
    let mut out = Vec::new();
    for r in &run.emodels {
        let Some(em) = emodels.iter().find(|em| {
            em.package_dir.display().to_string() == r.package && key_names(&r.label, &em.label())
        }) else {
            continue;
        };
        // the lane labels the run used (several only where parameter sets were swept)
        let mut lanes: Vec<String> = Vec::new();
        for t in traces.iter().filter(|t| t.emodel == r.label) {
            if !lanes.contains(&t.lane) {
                lanes.push(t.lane.clone());
            }
        }
        if lanes.is_empty() {
            lanes.push(String::new());
        }
        let several = lanes.len() > 1;
        for (lane_index, lane) in lanes.iter().enumerate() {
            let mut protocols: BTreeMap<String, ProtocolOutcome> = BTreeMap::new();
            for p in &r.protocols {
                let outcome = match p.status {
                    RunStatus::Skipped | RunStatus::Failed if p.samples == 0 => {
                        ProtocolOutcome::NotRun {
                            reason: p.note.clone().unwrap_or_else(|| format!("{:?}", p.status)),
                        }
                    }
                    _ => {
                        let mut recs = BTreeMap::new();
                        let failed = p.failed_lanes.contains(&lane_index);
                        for rec in &p.recordings {
                            if failed {
                                let reason = run
                                    .failures
                                    .iter()
                                    .find(|f| {
                                        f.emodel.as_deref() == Some(r.label.as_str())
                                            && f.protocol.as_deref() == Some(p.name.as_str())
                                            && f.lane == Some(lane_index)
                                    })
                                    .map_or_else(
                                        || "the lane failed".into(),
                                        |f| f.message.clone(),
                                    );
                                recs.insert(rec.clone(), Recorded::Failed { reason });
                                continue;
                            }
                            if let Some(t) = traces.iter().find(|t| {
                                t.emodel == r.label
                                    && t.protocol == p.name
                                    && &t.recording == rec
                                    && (t.lane == *lane || lane.is_empty())
                            }) {
                                recs.insert(
                                    rec.clone(),
                                    Recorded::Trace {
                                        t0_ms: t.t0_ms,
                                        dt_ms: t.dt_ms,
                                        values: t.values.clone(),
                                    },
                                );
                            }
                        }
                        ProtocolOutcome::Ran(recs)
                    }
                };
                protocols.insert(p.name.clone(), outcome);
            }
            let label = EvaluationLabel {
                key: r.label.clone(),
                lane: several.then(|| lane.clone()),
            };
            out.push(evaluate(
                label,
                em,
                &protocols,
                searched_currents(r),
                validation,
            ));
        }
    }
    out
}

/// The currents `run.json` records for e-model `r`: per protocol the ones it ran with, and for
/// the `bpo_*` features the main search's (the only one, or the thalamus `dep` search).
fn searched_currents(r: &crate::output::run_report::EModelRun) -> EModelCurrents {
    let mut c = EModelCurrents::default();
    if let Some(search) = &r.search {
        let main = search
            .searches
            .iter()
            .find(|s| s.variant.is_empty() || s.variant == "dep")
            .or(search.searches.first());
        if let Some(m) = main {
            c.bpo = SearchedCurrents {
                holding_na: m.bpo_holding_current,
                threshold_na: m.bpo_threshold_current,
            };
        }
    }
    for p in &r.protocols {
        if p.holding_current_na.is_some() || p.threshold_current_na.is_some() {
            c.by_protocol.insert(
                p.name.clone(),
                SearchedCurrents {
                    holding_na: p.holding_current_na,
                    threshold_na: p.threshold_current_na,
                },
            );
        }
    }
    c
}

/// Writes `scores.json`, `features.csv` and `report.html` into `out_dir`; returns their paths.
pub fn write_reports(
    out_dir: &Path,
    run: &RunReport,
    evaluations: &[Evaluation],
    traces: &[LaneTrace],
) -> Result<Vec<PathBuf>, OutputError> {
    let write = |name: &str, text: String| -> Result<PathBuf, OutputError> {
        let path = out_dir.join(name);
        super::atomic::write(&path, text.as_bytes())?;
        Ok(path)
    };
    let mut paths = vec![
        write(SCORES_JSON, scores_json::to_string(evaluations))?,
        write(FEATURES_CSV, features_csv::to_string(evaluations))?,
    ];
    let keys: Vec<String> = traces.iter().map(LaneTrace::key).collect();
    let titles: Vec<String> = traces
        .iter()
        .map(|t| {
            if t.lane.is_empty() || t.lane == "own" {
                format!("{} · {}", t.protocol, t.recording)
            } else {
                format!("{} · {} · {}", t.protocol, t.recording, t.lane)
            }
        })
        .collect();
    let mut sections = Vec::new();
    for r in &run.emodels {
        let mut failures: Vec<String> = run
            .failures
            .iter()
            .filter(|f| f.emodel.as_deref() == Some(r.label.as_str()))
            .map(failure_line)
            .collect();
        for p in &r.protocols {
            match p.status {
                RunStatus::Failed | RunStatus::Partial => failures.push(format!(
                    "[{}] {:?}: {}",
                    p.name,
                    p.status,
                    p.note.as_deref().unwrap_or("")
                )),
                RunStatus::Skipped if p.note.as_deref() != Some("not selected by --protocols") => {
                    failures.push(format!(
                        "[{}] skipped: {}",
                        p.name,
                        p.note.as_deref().unwrap_or("")
                    ))
                }
                _ => {}
            }
        }
        // in the run's protocol and recording order
        let mut mine: Vec<(usize, &LaneTrace)> = traces
            .iter()
            .enumerate()
            .filter(|(_, t)| t.emodel == r.label)
            .collect();
        mine.sort_by_key(|(i, t)| {
            let p = r.protocols.iter().position(|p| p.name == t.protocol);
            let rec = p.and_then(|p| {
                r.protocols[p]
                    .recordings
                    .iter()
                    .position(|x| *x == t.recording)
            });
            (p.unwrap_or(usize::MAX), rec.unwrap_or(usize::MAX), *i)
        });
        let window = |t: &LaneTrace| {
            evaluations
                .iter()
                .filter(|e| e.key == r.label)
                .find_map(|e| e.windows.get(&t.protocol))
                .map(|w| (w.stim_start_ms, w.stim_end_ms))
        };
        let plots = mine
            .into_iter()
            .map(|(i, t)| svg::TracePlot {
                key: &keys[i],
                title: &titles[i],
                units: &t.units,
                t0_ms: t.t0_ms,
                dt_ms: t.dt_ms,
                values: &t.values,
                window_ms: window(t),
            })
            .collect();
        sections.push(html::Section {
            key: &r.label,
            package: &r.package,
            evaluations: evaluations.iter().filter(|e| e.key == r.label).collect(),
            traces: plots,
            failures,
        });
    }
    // traces of e-models the report does not list still get drawn
    let listed: Vec<&str> = run.emodels.iter().map(|r| r.label.as_str()).collect();
    let orphans: Vec<svg::TracePlot<'_>> = traces
        .iter()
        .enumerate()
        .filter(|(_, t)| !listed.contains(&t.emodel.as_str()))
        .map(|(i, t)| svg::TracePlot {
            key: &keys[i],
            title: &titles[i],
            units: &t.units,
            t0_ms: t.t0_ms,
            dt_ms: t.dt_ms,
            values: &t.values,
            window_ms: None,
        })
        .collect();
    if !orphans.is_empty() {
        sections.push(html::Section {
            key: "(traces of e-models not in run.json)",
            package: "",
            evaluations: Vec::new(),
            traces: orphans,
            failures: Vec::new(),
        });
    }
    let header = html::Header {
        command: &run.command,
        backend: &run.backend,
        failures: run
            .failures
            .iter()
            .filter(|f| f.emodel.is_none())
            .map(failure_line)
            .collect(),
    };
    paths.push(write(REPORT_HTML, html::to_string(&header, &sections))?);
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::evaluate::{FeatureNote, Validation};
    use crate::features::score::{
        FeatureScore, Outcome, ProtocolScore, ScoreReport, ScoreRule, ValidationFunction,
    };

    fn fs(protocol: &str, efel: &str, values: Option<Vec<f64>>, score: f64) -> FeatureScore {
        FeatureScore {
            name: format!("{protocol}.soma.v.{efel}"),
            protocol: protocol.into(),
            recording: "soma.v".into(),
            efel_name: efel.into(),
            values,
            score,
            weight: 1.0,
            weighted: score,
            outcome: Outcome::Scored,
        }
    }

    /// An evaluation with awkward names and numbers: a comma, quotes and a line break in a
    /// protocol name, several values, NaN among them, an infinite score, a missing trace.
    fn sample() -> Evaluation {
        let mut missing = fs("Step_280", "Spikecount", None, 250.0);
        missing.outcome = Outcome::MissingTrace;
        let features = vec![
            fs(
                "Step,\"1\"\nb",
                "AP_amplitude",
                Some(vec![80.5, f64::NAN, 79.25]),
                0.1,
            ),
            fs(
                "Step_200",
                "voltage_base",
                Some(vec![-70.125]),
                f64::INFINITY,
            ),
            fs("Step_200", "ISI_values", Some(vec![]), 250.0),
            missing,
        ];
        let total = features.iter().map(|f| f.weighted).sum();
        Evaluation {
            params: vec![("g_pas.all".into(), 3e-5)],
            key: "pkg/cell[v1]".into(),
            emodel: "cell".into(),
            variant: Some("v1".into()),
            lane: None,
            package: "p".into(),
            dialect: "emodelrunner-sscx".into(),
            scores: ScoreReport {
                rule: ScoreRule::EModelRunner,
                protocols: vec![ProtocolScore {
                    protocol: "Step_200".into(),
                    score: f64::INFINITY,
                    features: 2,
                }],
                features,
                total,
            },
            notes: vec![
                None,
                None,
                None,
                Some(FeatureNote::NotRun("skipped".into())),
            ],
            validation: Validation {
                rule: ValidationRule {
                    function: ValidationFunction::MaxScore,
                    threshold: 5.0,
                },
                statistic: Some(f64::INFINITY),
                validated: false,
            },
            currents: SearchedCurrents {
                holding_na: Some(-0.0625),
                threshold_na: None,
            },
            windows: BTreeMap::new(),
        }
    }

    #[test]
    fn scores_json_has_final_json_keys_and_reads_back() {
        let e = sample();
        let text = scores_json::to_string(std::slice::from_ref(&e));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let entry = &v["pkg/cell[v1]"];
        let keys: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for k in [
            "score",
            "fitness",
            "features",
            "validated",
            "dialect",
            "threshold",
            "failures",
        ] {
            assert!(keys.contains(&k), "{k}");
        }
        let fitness = entry["fitness"].as_object().unwrap();
        let names: Vec<&str> = fitness.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "Step,\"1\"\nb.soma.v.AP_amplitude",
                "Step_200.soma.v.voltage_base",
                "Step_200.soma.v.ISI_values",
                "Step_280.soma.v.Spikecount"
            ]
        );
        assert_eq!(fitness["Step,\"1\"\nb.soma.v.AP_amplitude"], 0.1);
        assert_eq!(fitness["Step_200.soma.v.voltage_base"], "inf");
        assert_eq!(entry["score"], "inf");
        assert_eq!(entry["validated"], false);
        assert_eq!(entry["threshold"], 5.0);
        // BluePyEModel's features: the NaN-ignoring mean; null without a value
        let f = &entry["features"];
        assert_eq!(f["Step,\"1\"\nb.soma.v.AP_amplitude"], (80.5 + 79.25) / 2.0);
        assert_eq!(f["Step_200.soma.v.ISI_values"], serde_json::Value::Null);
        assert_eq!(f["Step_280.soma.v.Spikecount"], serde_json::Value::Null);
        let all = &entry["feature_values"]["Step,\"1\"\nb.soma.v.AP_amplitude"];
        assert_eq!(all[1], "nan");
        let failures = entry["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0]["feature"], "Step_280.soma.v.Spikecount");
        assert_eq!(failures[0]["reason"], "protocol not run: skipped");
        assert_eq!(entry["currents"]["bpo_holding_current"], -0.0625);
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn features_csv_quotes_and_reads_back() {
        let e = sample();
        let text = features_csv::to_string(std::slice::from_ref(&e));
        let rows = features_csv::parse(&text).unwrap();
        assert_eq!(rows[0], features_csv::COLUMNS);
        // 3 values + 1 + 1 empty array + 1 missing
        assert_eq!(rows.len(), 1 + 3 + 1 + 1 + 1);
        for r in &rows {
            assert_eq!(r.len(), features_csv::COLUMNS.len());
        }
        let r = &rows[1];
        assert_eq!(r[0], "pkg/cell[v1]");
        assert_eq!(r[1], "v1");
        assert_eq!(r[3], "Step,\"1\"\nb");
        assert_eq!(r[5], "Step,\"1\"\nb.soma.v.AP_amplitude");
        assert_eq!((r[7].as_str(), r[8].as_str()), ("0", "80.5"));
        assert_eq!(rows[2][8], "nan");
        assert_eq!(rows[3][8].parse::<f64>().unwrap(), 79.25);
        assert_eq!(rows[4][8].parse::<f64>().unwrap(), -70.125);
        assert_eq!(rows[4][9], "inf");
        assert_eq!((rows[5][7].as_str(), rows[5][8].as_str()), ("", ""));
        assert_eq!(rows[6][12], "missing-trace");
        // quoting only where needed
        assert_eq!(features_csv::quote("plain"), "plain");
        assert_eq!(features_csv::quote("a,b"), "\"a,b\"");
        assert_eq!(features_csv::quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(features_csv::quote(" x"), "\" x\"");
        assert!(features_csv::parse("\"open").is_err());
        assert!(features_csv::parse("\"a\"b,c\n").is_err());
    }

    #[test]
    fn html_draws_every_trace_once_and_lists_failures() {
        let e = sample();
        let traces = vec![
            LaneTrace {
                emodel: "pkg/cell[v1]".into(),
                protocol: "Step_200".into(),
                recording: "soma.v".into(),
                lane: "own".into(),
                units: "mV".into(),
                t0_ms: 0.0,
                dt_ms: 0.025,
                values: (0..200_000)
                    .map(|k| ((k % 4000) as f64 / 100.0) - 70.0)
                    .collect(),
            },
            LaneTrace {
                emodel: "other".into(),
                protocol: "<b>".into(),
                recording: "soma.v".into(),
                lane: "own".into(),
                units: "mV".into(),
                t0_ms: 0.0,
                dt_ms: 0.1,
                values: vec![-70.0; 10],
            },
        ];
        let mut run = RunReport::new(vec!["emsweep".into(), "run".into()], "cpu-f64");
        run.emodels.push(crate::output::run_report::EModelRun {
            lane_labels: Vec::new(),
            lane_searches: Vec::new(),
            free_parameters: Vec::new(),
            label: "pkg/cell[v1]".into(),
            package: "p".into(),
            lanes: 1,
            search: None,
            protocols: Vec::new(),
        });
        let dir = std::env::temp_dir().join(format!("emsweep-report-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths = write_reports(&dir, &run, std::slice::from_ref(&e), &traces).unwrap();
        assert_eq!(paths.len(), 3);
        let html = std::fs::read_to_string(dir.join(REPORT_HTML)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(html.matches("<path class=\"trace\"").count(), 2);
        assert!(html.contains("Step_280.soma.v.Spikecount: 250 (protocol not run: skipped)"));
        assert!(!html.contains("<b>"), "names are escaped");
        assert!(!html.contains("http://") || !html.contains("src=\"http"));
        assert!(!html.contains("<link") && !html.contains("<script src"));
        // 200 000 samples drawn with at most 4 points per pixel column
        assert!(html.len() < 60_000, "{}", html.len());
    }

    #[test]
    fn a_page_of_many_lanes_draws_the_first_and_summarises_the_rest() {
        let lanes = html::DRAWN_LANES + 15;
        let evaluations: Vec<Evaluation> = (0..lanes)
            .map(|k| {
                let mut e = sample();
                e.lane = Some(format!("sample_{k}"));
                e.scores.total = k as f64;
                e
            })
            .collect();
        let refs: Vec<&Evaluation> = evaluations.iter().collect();
        let page = html::to_string(
            &html::Header::default(),
            &[html::Section {
                key: "cell",
                package: "p",
                evaluations: refs,
                traces: Vec::new(),
                failures: Vec::new(),
            }],
        );
        assert_eq!(
            page.matches("<h3>Feature scores</h3>").count(),
            html::DRAWN_LANES
        );
        assert!(page.contains(&format!("{lanes} lanes, ")), "summary");
        assert!(page.contains("min 0.0000, median 17.0000, max 34.0000"));
        // each lane has one unscored feature: the list stops, the count of the rest follows
        assert!(lanes < html::LISTED_FAILURES);
        assert!(!page.contains("more (run.json, scores.json)"));
    }

    /// Two lanes of the ball-and-stick example's steps, the second diverged in `Step_300`: one
    /// evaluation per lane, named by lane; the failed lane's features score 250 with the
    /// failure's message, the other lane's are computed on its own samples.
    #[test]
    fn every_lane_is_evaluated_and_failed_lanes_score_250() {
        use crate::output::run_report::{EModelRun, ProtocolRun};
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ball_and_stick_hh");
        let read = crate::package::read_package(&dir);
        let em = &read.emodels[0];
        let key = em.label();
        let mut run = RunReport::new(vec![], "cpu-f64");
        let protocol = |name: &str, failed: Vec<usize>| ProtocolRun {
            name: name.into(),
            status: if failed.is_empty() {
                RunStatus::Ok
            } else {
                RunStatus::Partial
            },
            tstop_ms: 300.0,
            dt_ms: 0.025,
            samples: 12001,
            recordings: vec!["soma.v".into()],
            failed_lanes: failed,
            wall_s: 0.0,
            note: None,
            holding_current_na: None,
            threshold_current_na: None,
        };
        run.emodels.push(EModelRun {
            lane_labels: Vec::new(),
            lane_searches: Vec::new(),
            free_parameters: Vec::new(),
            label: key.clone(),
            package: em.package_dir.display().to_string(),
            lanes: 2,
            search: None,
            protocols: vec![protocol("Step_300", vec![1]), protocol("Step_-100", vec![])],
        });
        run.failures.push(Failure {
            severity: "error".into(),
            kind: "lane-diverged".into(),
            message: "lane 1 diverged at t = 3 ms".into(),
            file: None,
            line: None,
            column: None,
            emodel: Some(key.clone()),
            protocol: Some("Step_300".into()),
            lane: Some(1),
        });
        let mut traces = Vec::new();
        for p in ["Step_300", "Step_-100"] {
            for (lane, v) in [("a", -70.0), ("b", -65.0)] {
                traces.push(LaneTrace {
                    emodel: key.clone(),
                    protocol: p.into(),
                    recording: "soma.v".into(),
                    lane: lane.into(),
                    units: "mV".into(),
                    t0_ms: 0.0,
                    dt_ms: 0.025,
                    values: vec![v; 12001],
                });
            }
        }
        let evs = evaluate_run(
            std::slice::from_ref(em),
            &run,
            &traces,
            ValidationRule::default(),
        );
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].lane.as_deref(), Some("a"));
        assert_eq!(evs[1].lane.as_deref(), Some("b"));
        let base = |e: &Evaluation, p: &str| {
            let i = e
                .scores
                .features
                .iter()
                .position(|f| f.name == format!("{p}.soma.v.voltage_base"))
                .unwrap();
            (e.scores.features[i].values.clone(), e.notes[i].clone())
        };
        assert_eq!(base(&evs[0], "Step_300"), (Some(vec![-70.0]), None));
        assert_eq!(base(&evs[1], "Step_-100"), (Some(vec![-65.0]), None));
        let (values, note) = base(&evs[1], "Step_300");
        assert_eq!(values, None);
        assert_eq!(
            note,
            Some(FeatureNote::LaneFailed(
                "lane 1 diverged at t = 3 ms".into()
            ))
        );
        let text = scores_json::to_string(&evs);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        // lanes of a population are keyed by their labels (the next run's --population)
        assert!(v.get("a").is_some() && v.get("b").is_some(), "{text}");
        assert_eq!(v["a"]["emodel"], serde_json::json!(em.name));
    }
}
