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
use crate::package::EModel;
use crate::sim::evaluate::{
    evaluate, Evaluation, EvaluationLabel, ProtocolOutcome, Recorded, SearchedCurrents,
    ValidationRule,
};

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
#[derive(Clone, Debug, PartialEq)]
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
/// (the lane named when a protocol ran several). `currents` holds the searched currents by
/// e-model key.
pub fn evaluate_run(
    emodels: &[EModel],
    run: &RunReport,
    traces: &[LaneTrace],
    currents: &BTreeMap<String, SearchedCurrents>,
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
            let c = currents.get(&r.label).copied().unwrap_or_default();
            out.push(evaluate(label, em, &protocols, c, validation));
        }
    }
    out
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
        std::fs::write(&path, text).map_err(|source| OutputError::Io {
            path: path.clone(),
            source,
        })?;
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
        let plots = mine
            .into_iter()
            .map(|(i, t)| svg::TracePlot {
                key: &keys[i],
                title: &titles[i],
                units: &t.units,
                t0_ms: t.t0_ms,
                dt_ms: t.dt_ms,
                values: &t.values,
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
