//! `run.json`: what a run did — which e-models, protocols and lanes ran, with which tools and
//! settings, how long each part took, and every failure with where it came from. Written with
//! serde in a fixed order (struct fields in declaration order, maps sorted), pretty-printed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::OutputError;
use crate::diag::{Diagnostic, Severity};

/// The `format` field of the reports this module writes.
pub const FORMAT: &str = "emsweep-run-1";

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub format: String,
    pub emsweep_version: String,
    /// The command line, argument by argument.
    pub command: Vec<String>,
    /// When the run started [s since the Unix epoch].
    pub started_unix_s: f64,
    /// `cpu-f64`, `cpu-f32`, `gpu-f32`, ...
    pub backend: String,
    /// Versions of what took part (compiler, GPU adapter and driver, ...), by name.
    pub versions: BTreeMap<String, String>,
    /// Settings that change results (dt override, lanes per batch, ...), by name.
    pub settings: BTreeMap<String, String>,
    pub emodels: Vec<EModelRun>,
    /// Time of the run's phases [s], by phase (`read`, `compile`, `simulate`, ...): wall clock,
    /// except `search` and `simulate`, which add up the chunks run side by side on several
    /// threads and can then exceed `total`.
    pub timings_s: BTreeMap<String, f64>,
    pub failures: Vec<Failure>,
    /// Which lanes this run ran, when it is one shard of a sweep (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// The part of a sweep one shard ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    /// K of `--shard K/N` (from 1).
    pub index: usize,
    /// N.
    pub count: usize,
    /// The lanes it ran, per e-model (its key in the run), as ranges of lane indices.
    pub ranges: Vec<ShardRange>,
}

/// Lanes `first..end` of one e-model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardRange {
    pub emodel: String,
    pub first: usize,
    pub end: usize,
}

impl RunReport {
    /// An empty report for `command`, started now.
    pub fn new(command: Vec<String>, backend: &str) -> RunReport {
        let started_unix_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        RunReport {
            format: FORMAT.into(),
            emsweep_version: env!("CARGO_PKG_VERSION").into(),
            command,
            started_unix_s,
            backend: backend.into(),
            versions: BTreeMap::new(),
            settings: BTreeMap::new(),
            emodels: Vec::new(),
            timings_s: BTreeMap::new(),
            failures: Vec::new(),
            shard: None,
        }
    }

    /// The command line without what differs between the shards of one sweep (`--shard`,
    /// `--out`, `--dat-dir` and their values), and without the program's path.
    pub fn command_key(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut skip = false;
        for a in self.command.iter().skip(1) {
            if skip {
                skip = false;
                continue;
            }
            if ["--shard", "--out", "--dat-dir"].contains(&a.as_str()) {
                skip = true;
                continue;
            }
            if ["--shard=", "--out=", "--dat-dir="]
                .iter()
                .any(|p| a.starts_with(p))
            {
                continue;
            }
            out.push(a.clone());
        }
        out
    }

    /// Whether anything failed (the exit code says so); skipped protocols are not failures.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
            || self
                .emodels
                .iter()
                .flat_map(|e| &e.protocols)
                .any(|p| matches!(p.status, RunStatus::Partial | RunStatus::Failed))
    }
}

/// One e-model of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EModelRun {
    /// `name` or `name[variant]`.
    pub label: String,
    pub package: String,
    /// How many parameter sets (lanes) ran.
    pub lanes: usize,
    /// The lanes' labels, in order, when they came from a population (none: the e-model's own
    /// parameters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lane_labels: Vec<String>,
    /// The free parameters (key as final.json writes it, bounds), for optimisers driving
    /// `--population` runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub free_parameters: Vec<FreeParameter>,
    /// The holding/threshold current search of the e-model's own parameters, when a selected
    /// protocol needed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchReport>,
    /// The search of every lane of a population, in lane order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lane_searches: Vec<SearchReport>,
    pub protocols: Vec<ProtocolRun>,
}

/// A free parameter and its bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FreeParameter {
    pub key: String,
    pub lower: f64,
    pub upper: f64,
}

/// What the current search of one lane did and found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// The lane's label (a population's lanes; none for the e-model's own parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// Whose rules: `emodelrunner-sscx`, `emodelrunner-thalamus`, `bluepyemodel`.
    pub rules: String,
    /// Why these rules (e.g. the e-model configures no search and BluePyEModel's defaults apply).
    pub note: String,
    /// The resting potential [mV].
    pub rmp_mv: Option<f64>,
    /// One per search: SSCx and BluePyEModel one (`variant` ""), the thalamus `dep` and `hyp`.
    pub searches: Vec<CurrentSearchReport>,
    /// Simulated time of the search, summed over every lane searched in lockstep with it [ms].
    pub simulated_ms: f64,
    /// Batches (engine runs) the lockstep search took.
    pub batches: usize,
    pub wall_s: f64,
}

/// One search's results and every step it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentSearchReport {
    pub variant: String,
    /// The holding search's target voltage [mV] (none: no holding search).
    pub target_voltage_mv: Option<f64>,
    /// Input resistance without holding current [MΩ] (EModelRunner).
    pub rin_noholding_mohm: Option<f64>,
    /// The holding current found [nA] (the tools' `bpo_holding_current`).
    pub bpo_holding_current: Option<f64>,
    /// Input resistance at the holding current [MΩ].
    pub rin_mohm: Option<f64>,
    /// The largest current the threshold search tried [nA].
    pub max_threshold_current_na: Option<f64>,
    /// The threshold current found [nA] (the tools' `bpo_threshold_current`).
    pub bpo_threshold_current: Option<f64>,
    /// Every holding current tried [nA] with the voltage base it gave [mV].
    pub holding_steps: Vec<HoldingStep>,
    /// Every step current tried, in order.
    pub threshold_steps: Vec<ThresholdStep>,
    /// Why the search gave no current.
    #[serde(default)]
    pub failure: Option<String>,
}

/// One holding current tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldingStep {
    pub current_na: f64,
    pub voltage_base_mv: Option<f64>,
}

/// One step current tried by the threshold search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdStep {
    pub current_na: f64,
    /// A short pulse (EModelRunner's first phase) rather than the full step.
    pub short: bool,
    pub spiked: bool,
}

/// How a protocol ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    /// Some lanes failed (their numbers in `failed_lanes`).
    Partial,
    Failed,
    Skipped,
}

/// One protocol of one e-model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtocolRun {
    pub name: String,
    pub status: RunStatus,
    /// How long it ran [ms] (0 when it was not run).
    pub tstop_ms: f64,
    pub dt_ms: f64,
    /// Samples per recording (NEURON's: steps + 1).
    pub samples: usize,
    /// `soma.v`, `dend1.v`, ... in recording order.
    pub recordings: Vec<String>,
    pub failed_lanes: Vec<usize>,
    /// Wall-clock time of the protocol's simulation [s].
    pub wall_s: f64,
    /// Why it was skipped or failed (`None` when it ran).
    #[serde(default)]
    pub note: Option<String>,
    /// The holding current it ran with when the search set it [nA].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding_current_na: Option<f64>,
    /// The threshold current its percentages scaled, when the search found it [nA].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_current_na: Option<f64>,
}

/// A problem the run met.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// `error` or `warning`.
    pub severity: String,
    /// A short stable name (`stimulus`, `recording`, `nan-voltage`, ...).
    pub kind: String,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub emodel: Option<String>,
    pub protocol: Option<String>,
    pub lane: Option<usize>,
}

impl Failure {
    /// From a diagnostic, with the context it happened in.
    pub fn from_diagnostic(
        d: &Diagnostic,
        emodel: Option<&str>,
        protocol: Option<&str>,
        lane: Option<usize>,
    ) -> Failure {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        let file = d.file.to_string_lossy();
        Failure {
            severity: severity.into(),
            kind: d.kind.into(),
            message: d.message.clone(),
            file: (!file.is_empty()).then(|| file.into_owned()),
            line: d.pos.map(|p| p.line),
            column: d.pos.map(|p| p.col),
            emodel: emodel.map(str::to_string),
            protocol: protocol.map(str::to_string),
            lane,
        }
    }
}

/// The report as written: pretty JSON and a final newline.
pub fn to_json(report: &RunReport) -> String {
    // Serialising plain structs, strings, numbers and sorted maps cannot fail, except for
    // non-finite numbers, which serde_json writes as null.
    let mut s =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// Writes `report` to `path`.
pub fn write_run_json(path: &Path, report: &RunReport) -> Result<(), OutputError> {
    super::atomic::write(path, to_json(report).as_bytes())
}

/// Reads a report back.
pub fn read_run_json(path: &Path) -> Result<RunReport, OutputError> {
    let text = std::fs::read_to_string(path).map_err(|source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| OutputError::Json {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::LineCol;

    fn sample() -> RunReport {
        let mut r = RunReport::new(
            vec!["emsweep".into(), "run".into(), "examples".into()],
            "cpu-f64",
        );
        r.started_unix_s = 1.5e9;
        r.versions.insert("rustc".into(), "1.95.0".into());
        r.versions.insert("emsweep".into(), "0.1.0".into());
        r.settings.insert("dt_ms".into(), "0.025".into());
        r.timings_s.insert("simulate".into(), 1.25);
        r.timings_s.insert("read".into(), 0.5);
        r.emodels.push(EModelRun {
            lane_labels: Vec::new(),
            lane_searches: Vec::new(),
            free_parameters: Vec::new(),
            label: "ballstick_hh".into(),
            package: "examples/ball_and_stick_hh".into(),
            lanes: 2,
            search: None,
            protocols: vec![ProtocolRun {
                name: "Step_300".into(),
                status: RunStatus::Ok,
                tstop_ms: 300.0,
                dt_ms: 0.025,
                samples: 12001,
                recordings: vec!["soma.v".into()],
                failed_lanes: vec![],
                wall_s: 0.75,
                note: None,
                holding_current_na: None,
                threshold_current_na: None,
            }],
        });
        r
    }

    #[test]
    fn report_round_trips_and_is_deterministic() {
        let mut r = sample();
        assert!(!r.failed());
        let d = Diagnostic::error(
            "stimulus",
            "pkg/config/protocols/p.json",
            Some(LineCol { line: 3, col: 5 }),
            "protocol `Step_1`: lane 0: the threshold current is not known",
        );
        r.failures.push(Failure::from_diagnostic(
            &d,
            Some("ballstick_hh"),
            Some("Step_1"),
            None,
        ));
        assert!(r.failed());
        let text = to_json(&r);
        // Maps are written sorted, whatever the insertion order.
        let read_pos = text.find("\"read\"").unwrap();
        assert!(read_pos < text.find("\"simulate\"").unwrap());
        assert!(text.find("\"emsweep\"").unwrap() < text.find("\"rustc\"").unwrap());
        assert!(text.contains("\"status\": \"ok\""));
        assert!(text.ends_with("}\n"));
        let dir = std::env::temp_dir().join(format!("emsweep-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.json");
        write_run_json(&path, &r).unwrap();
        let back = read_run_json(&path).unwrap();
        assert_eq!(back, r);
        assert_eq!(to_json(&back), text);
        let f = &back.failures[0];
        assert_eq!(
            (f.line, f.column, f.kind.as_str()),
            (Some(3), Some(5), "stimulus")
        );
        assert_eq!(f.file.as_deref(), Some("pkg/config/protocols/p.json"));
        std::fs::write(&path, "{\"format\": 1}").unwrap();
        assert!(matches!(
            read_run_json(&path),
            Err(OutputError::Json { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_partial_protocol_marks_the_run_failed() {
        let mut r = sample();
        r.emodels[0].protocols[0].status = RunStatus::Partial;
        r.emodels[0].protocols[0].failed_lanes = vec![1];
        assert!(r.failed());
    }
}
