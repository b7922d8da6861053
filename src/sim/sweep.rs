//! `emsweep run`: discover packages, build every e-model, run the selected protocols on a
//! backend, and write what they recorded (`traces.h5`, optional `.dat` files, `run.json`).
//!
//! Each protocol of each e-model runs as one lane (the e-model's own parameter set); the
//! recordings are sampled every step (NEURON's `dt`, no decimation). Problems stay local: a
//! package that does not read, a cell or mechanism that does not build, a protocol whose
//! stimulus or recordings cannot be made, a lane that diverges — each is recorded in
//! `run.json` (with file and line where it has one) and the rest goes on.
//!
//! Protocols whose currents come from the threshold/holding search (EModelRunner's
//! `StepThreshold`/`RampThreshold`, steps or holdings with a null amplitude, BluePyEModel's
//! threshold-based e-codes) are not run yet: they are listed as skipped with that reason.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use crate::backend::{Backend, Precision};
use crate::diag::{Diagnostic, Diagnostics};
use crate::engine::{
    Batch, CellModel, LaneSpec, LaneStimulus, MechanismLibrary, Probe, Quantity, RunConfig,
};
use crate::ir::IonVar;
use crate::layout::Node;
use crate::output::run_report::{EModelRun, Failure, ProtocolRun, RunReport, RunStatus};
use crate::output::traces::{SamplesRef, TraceBlock, TracesWriter};
use crate::package::{ECodeProtocolType, EModel, Protocol, Stimulus};
use crate::sim::probe::{self, ProbeVariable};
use crate::sim::stimulus::{self, LaneCurrents};

/// The protocol selection word meaning "every protocol that needs no current search".
pub const PACKAGE_SELECTION: &str = "package";

/// What `emsweep run` was asked to do.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Protocol names or globs (`*`, `?`), or [`PACKAGE_SELECTION`].
    pub protocols: Vec<String>,
    pub precision: Precision,
    pub out_dir: PathBuf,
    pub dat_dir: Option<PathBuf>,
    /// The command line, for `run.json`.
    pub command: Vec<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Totals for the closing summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepSummary {
    pub emodels: usize,
    pub protocols_run: usize,
    pub protocols_skipped: usize,
    pub protocols_failed: usize,
    /// Simulated time summed over lanes [ms].
    pub simulated_ms: f64,
    pub wall_s: f64,
    /// Any failure at all (exit code 1).
    pub failed: bool,
}

impl SweepSummary {
    pub fn render(&self) -> String {
        format!(
            "{} e-models, protocols: {} run, {} skipped, {} failed; {:.0} ms simulated in {:.2} s wall time\n",
            self.emodels,
            self.protocols_run,
            self.protocols_skipped,
            self.protocols_failed,
            self.simulated_ms,
            self.wall_s
        )
    }
}

/// Whether `name` matches the glob `pattern` (`*`: any run of characters, `?`: one).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Why a protocol cannot run without the threshold/holding current search, if it cannot.
pub fn search_needed(stimulus: &Stimulus) -> Option<&'static str> {
    const REASON: &str = "needs the threshold/holding current search, which is not implemented yet";
    let null_amp = |s: &crate::package::SquarePulse| s.amp_na.is_none();
    let needs = match stimulus {
        Stimulus::StepThreshold { .. } | Stimulus::RampThreshold { .. } => true,
        Stimulus::Step { steps, holding } => {
            steps.iter().any(null_amp) || holding.as_ref().is_some_and(null_amp)
        }
        Stimulus::Ramp { ramp, holding } => {
            ramp.amp_start_na.is_none()
                || ramp.amp_end_na.is_none()
                || holding.as_ref().is_some_and(null_amp)
        }
        Stimulus::Pulses(p) => p.iter().any(null_amp),
        Stimulus::ECode(e) => e.protocol_type != ECodeProtocolType::Fixed,
    };
    needs.then_some(REASON)
}

/// Whether `name` is selected by `patterns` (names, globs or the word `package`).
fn selected(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .any(|p| p == PACKAGE_SELECTION || glob_match(p, name))
}

struct Sweep<'a> {
    opts: &'a SweepOptions,
    backend: &'a dyn Backend,
    report: RunReport,
    summary: SweepSummary,
    traces: Option<TracesWriter>,
    emodel_keys: BTreeSet<String>,
    /// The `--protocols` entries that selected at least one protocol.
    matched: BTreeSet<String>,
}

/// Runs the sweep and writes its files; returns the report (as written to `run.json`) and the
/// summary. An `Err` is a problem with the output folder itself (nothing could be recorded).
pub fn sweep(
    paths: &[PathBuf],
    opts: &SweepOptions,
    backend: &dyn Backend,
) -> Result<(RunReport, SweepSummary), String> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| format!("{}: {e}", opts.out_dir.display()))?;
    if let Some(d) = &opts.dat_dir {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let traces_path = opts.out_dir.join("traces.h5");
    let traces = TracesWriter::create(&traces_path).map_err(|e| e.to_string())?;
    let mut report = RunReport::new(opts.command.clone(), &backend.name());
    report
        .settings
        .insert("protocols".into(), opts.protocols.join(","));
    report.settings.insert(
        "lanes_per_protocol".into(),
        "1 (the e-model's own parameters)".into(),
    );
    report.settings.insert("record_every".into(), "1".into());
    let mut s = Sweep {
        opts,
        backend,
        report,
        summary: SweepSummary::default(),
        traces: Some(traces),
        emodel_keys: BTreeSet::new(),
        matched: BTreeSet::new(),
    };

    // Read every package first: the progress bar counts protocols.
    let t_read = Instant::now();
    let mut emodels: Vec<EModel> = Vec::new();
    for root in paths {
        let (dirs, d) = crate::package::discover(root);
        s.fail_all(&d, None, None);
        if dirs.is_empty() && root.is_dir() && !d.has_errors() {
            s.fail(
                &Diagnostic::error(
                    "no-package",
                    root,
                    None,
                    "no e-model package below this directory",
                ),
                None,
                None,
            );
        }
        for dir in dirs {
            let read = crate::package::read_package(&dir);
            s.fail_all(&read.diagnostics, None, None);
            if read.diagnostics.has_errors() {
                continue;
            }
            emodels.extend(read.emodels);
        }
    }
    s.report
        .timings_s
        .insert("read".into(), t_read.elapsed().as_secs_f64());
    s.summary.emodels = emodels.len();

    let total: usize = emodels.iter().map(|em| unique_protocols(em).len()).sum();
    let bar = if opts.progress {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} protocols {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut build_s = 0.0;
    let mut simulate_s = 0.0;
    for em in &emodels {
        s.run_emodel(em, &bar, &mut build_s, &mut simulate_s);
    }
    bar.finish_and_clear();
    // A name or glob that selected nothing is most likely a typo: say so.
    let unmatched: Vec<String> = opts
        .protocols
        .iter()
        .filter(|p| p.as_str() != PACKAGE_SELECTION && !s.matched.contains(*p))
        .cloned()
        .collect();
    for p in unmatched {
        s.fail(
            &Diagnostic::error(
                "no-protocol",
                "",
                None,
                format!("--protocols `{p}` matches no protocol of the packages"),
            ),
            None,
            None,
        );
    }
    s.report.timings_s.insert("build".into(), build_s);
    s.report.timings_s.insert("simulate".into(), simulate_s);

    if let Some(w) = s.traces.take() {
        if let Err(e) = w.finish() {
            s.fail(
                &Diagnostic::error("output", &traces_path, None, e.to_string()),
                None,
                None,
            );
        }
    }
    // Feature-score reports (scores.json, features.csv, report.html): see `write_score_reports`.
    s.write_score_reports(&emodels, &traces_path);
    s.summary.wall_s = started.elapsed().as_secs_f64();
    s.report.timings_s.insert("total".into(), s.summary.wall_s);
    s.summary.failed = s.report.failed();
    let json = opts.out_dir.join("run.json");
    crate::output::run_report::write_run_json(&json, &s.report).map_err(|e| e.to_string())?;
    Ok((s.report, s.summary))
}

/// The protocols of `em`, first of each name.
fn unique_protocols(em: &EModel) -> Vec<&Protocol> {
    let mut seen = BTreeSet::new();
    em.protocols()
        .filter(|p| seen.insert(p.name.clone()))
        .collect()
}

impl Sweep<'_> {
    fn fail(&mut self, d: &Diagnostic, emodel: Option<&str>, protocol: Option<&str>) {
        self.report
            .failures
            .push(Failure::from_diagnostic(d, emodel, protocol, None));
    }

    /// Records the errors of `d` (warnings are not failures).
    fn fail_all(&mut self, d: &Diagnostics, emodel: Option<&str>, protocol: Option<&str>) {
        for x in d
            .iter()
            .filter(|x| x.severity == crate::diag::Severity::Error)
        {
            self.fail(x, emodel, protocol);
        }
    }

    /// A key for `em` unique within the run (`label`, or `package/label` on a clash).
    fn emodel_key(&mut self, em: &EModel) -> String {
        let label = em.label();
        let mut key = label.clone();
        if self.emodel_keys.contains(&key) {
            let pkg = em
                .package_dir
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            key = format!("{pkg}/{label}");
            let mut k = 2;
            while self.emodel_keys.contains(&key) {
                key = format!("{pkg}/{label}#{k}");
                k += 1;
            }
        }
        self.emodel_keys.insert(key.clone());
        key
    }

    fn run_emodel(
        &mut self,
        em: &EModel,
        bar: &indicatif::ProgressBar,
        build_s: &mut f64,
        simulate_s: &mut f64,
    ) {
        let key = self.emodel_key(em);
        bar.set_message(key.clone());
        let protocols = unique_protocols(em);
        let mut run = EModelRun {
            label: key.clone(),
            package: em.package_dir.display().to_string(),
            lanes: 1,
            protocols: Vec::new(),
        };
        // An e-model with free parameters but no values (BluePyEModel's L5PC: bounds only) has
        // nothing meaningful to simulate: its protocols are skipped with the reason.
        let unset = em.free_without_value().len();
        let t_build = Instant::now();
        let model = if unset == 0 {
            self.build_model(em, &key)
        } else {
            None
        };
        *build_s += t_build.elapsed().as_secs_f64();
        for p in protocols {
            let mut pr = ProtocolRun {
                name: p.name.clone(),
                status: RunStatus::Skipped,
                tstop_ms: 0.0,
                dt_ms: em.dt_ms,
                samples: 0,
                recordings: Vec::new(),
                failed_lanes: Vec::new(),
                wall_s: 0.0,
                note: None,
            };
            for pat in &self.opts.protocols {
                if glob_match(pat, &p.name) {
                    self.matched.insert(pat.clone());
                }
            }
            if !selected(&self.opts.protocols, &p.name) {
                pr.note = Some("not selected by --protocols".into());
            } else if unset > 0 {
                pr.note = Some(format!(
                    "the e-model has {unset} free parameters without a value (bounds only): not simulated"
                ));
            } else if let Some(reason) = search_needed(&p.stimulus) {
                pr.note = Some(reason.into());
            } else if let Some(model) = &model {
                let t = Instant::now();
                self.run_protocol(em, &key, model, p, &mut pr);
                pr.wall_s = t.elapsed().as_secs_f64();
                *simulate_s += pr.wall_s;
            } else {
                pr.status = RunStatus::Failed;
                pr.note = Some("the cell or its mechanisms did not build".into());
            }
            match pr.status {
                RunStatus::Ok => self.summary.protocols_run += 1,
                RunStatus::Skipped => self.summary.protocols_skipped += 1,
                RunStatus::Partial | RunStatus::Failed => self.summary.protocols_failed += 1,
            }
            run.protocols.push(pr);
            bar.inc(1);
        }
        self.report.emodels.push(run);
    }

    /// The cell and mechanisms of `em`, or `None` with its errors recorded.
    fn build_model(&mut self, em: &EModel, key: &str) -> Option<CellModel> {
        let (cell, d) = crate::cell::build(em);
        self.fail_all(&d, Some(key), None);
        let cell = cell.filter(|_| !d.has_errors())?;
        let (lib, d) = MechanismLibrary::for_emodel(em);
        self.fail_all(&d, Some(key), None);
        if d.has_errors() {
            return None;
        }
        let (model, d) = CellModel::new(&cell, &lib, em.celsius, em.v_init_mv);
        self.fail_all(&d, Some(key), None);
        model.filter(|_| !d.has_errors())
    }

    fn run_protocol(
        &mut self,
        em: &EModel,
        key: &str,
        model: &CellModel,
        p: &Protocol,
        pr: &mut ProtocolRun,
    ) {
        pr.status = RunStatus::Failed;
        let program = match stimulus::build(p, &[LaneCurrents::default()]) {
            Ok(x) => x,
            Err(d) => {
                pr.note = Some(d.message.clone());
                self.fail(&d, Some(key), Some(&p.name));
                return;
            }
        };
        pr.tstop_ms = program.tstop_ms;
        let (probes, d) = probe::resolve_protocol(p, em, model.cell());
        self.fail_all(&d, Some(key), Some(&p.name));
        let mut engine_probes = Vec::new();
        let mut kept = Vec::new();
        for pb in probes {
            match engine_probe(model, &pb) {
                Ok(x) => {
                    engine_probes.push(x);
                    kept.push(pb);
                }
                Err(m) => self.fail(
                    &p.origin
                        .error("recording", format!("protocol `{}`: {m}", p.name)),
                    Some(key),
                    Some(&p.name),
                ),
            }
        }
        if kept.is_empty() {
            pr.note = Some("no recording could be placed".into());
            return;
        }
        let values = match model.own_lane() {
            Ok(v) => v,
            Err(d) => {
                self.fail_all(&d, Some(key), Some(&p.name));
                return;
            }
        };
        let dt_ms = em.dt_ms;
        let config = RunConfig {
            dt_ms,
            steps: RunConfig::steps_for(program.tstop_ms, dt_ms),
            record_every: 1,
            probes: engine_probes,
            spike_detector: None,
        };
        let lanes: Vec<LaneSpec> = LaneStimulus::lanes_of(program, model.soma_node)
            .into_iter()
            .map(|st| LaneSpec {
                values: values.clone(),
                stimulus: Some(st),
            })
            .collect();
        let batch = Batch { model, lanes };
        let out = match crate::engine::run(self.backend, &batch, &config) {
            Ok(o) => o,
            Err(d) => {
                self.fail_all(&d, Some(key), Some(&p.name));
                return;
            }
        };
        let samples = config.samples();
        pr.samples = samples;
        pr.recordings = kept.iter().map(|k| k.name.clone()).collect();
        let n_lanes = out.lanes.len();
        for (l, lane) in out.lanes.iter().enumerate() {
            if let Some(f) = lane.failure {
                pr.failed_lanes.push(l);
                let mut fl = Failure::from_diagnostic(
                    &p.origin.error(
                        "lane-diverged",
                        format!(
                            "protocol `{}`: lane {l} diverged at t = {} ms (v = {} mV at node {})",
                            p.name, f.t_ms, f.v_mv, f.node.0
                        ),
                    ),
                    Some(key),
                    Some(&p.name),
                    Some(l),
                );
                fl.file = None;
                fl.line = None;
                fl.column = None;
                self.report.failures.push(fl);
            } else {
                self.summary.simulated_ms += config.steps as f64 * dt_ms;
            }
        }
        let labels: Vec<String> = (0..n_lanes).map(|_| "own".to_string()).collect();
        let times: Vec<f64> = (0..samples).map(|k| k as f64 * out.record_dt_ms).collect();
        for (r, pb) in kept.iter().enumerate() {
            let data: Vec<f64> = out
                .lanes
                .iter()
                .flat_map(|lane| lane.traces[r].iter().copied())
                .collect();
            let data32: Vec<f32>;
            let samples_ref = match self.opts.precision {
                Precision::F64 => SamplesRef::F64(&data),
                Precision::F32 => {
                    data32 = data.iter().map(|&x| x as f32).collect();
                    SamplesRef::F32(&data32)
                }
            };
            let block = TraceBlock {
                emodel: key,
                protocol: &p.name,
                recording: &pb.name,
                variable: pb.variable.name(),
                units: pb.variable.unit(),
                dt_ms: out.record_dt_ms,
                t0_ms: 0.0,
                lanes: n_lanes,
                samples,
                lane_labels: &labels,
                data: samples_ref,
            };
            if let Some(w) = self.traces.as_mut() {
                if let Err(e) = w.write(&block) {
                    let d = Diagnostic::error(
                        "output",
                        self.opts.out_dir.join("traces.h5"),
                        None,
                        e.to_string(),
                    );
                    self.fail(&d, Some(key), Some(&p.name));
                    return;
                }
            }
            if let Some(dir) = &self.opts.dat_dir {
                let prefix = key.replace('/', "_");
                let name = crate::output::dat::dat_file_name(&prefix, &p.name, &pb.name);
                if let Err(e) = crate::output::dat::write_dat(dir, &name, &times, &data[..samples])
                {
                    let d = Diagnostic::error("output", dir.join(&name), None, e.to_string());
                    self.fail(&d, Some(key), Some(&p.name));
                    return;
                }
            }
        }
        pr.status = if pr.failed_lanes.is_empty() {
            RunStatus::Ok
        } else if pr.failed_lanes.len() == n_lanes {
            RunStatus::Failed
        } else {
            RunStatus::Partial
        };
        if !pr.failed_lanes.is_empty() {
            pr.note = Some(format!("lanes {:?} diverged", pr.failed_lanes));
        }
    }
}

// ---- Feature-score reports ---------------------------------------------------------------------
// Kept apart from the sweep itself: read back what traces.h5 holds, evaluate every e-model
// (src/sim/evaluate.rs) and write the reports (src/output/report/).
impl Sweep<'_> {
    /// Scores every e-model on the traces of the run and writes `scores.json`, `features.csv`
    /// and `report.html` into the output folder; problems are recorded as `report` failures.
    fn write_score_reports(&mut self, emodels: &[EModel], traces_path: &std::path::Path) {
        use crate::output::report;
        let t = Instant::now();
        let stored = match crate::output::traces::read_traces(traces_path) {
            Ok(x) => x,
            Err(e) => {
                let d = Diagnostic::error("report", traces_path, None, e.to_string());
                self.fail(&d, None, None);
                return;
            }
        };
        let traces = report::lane_traces(&stored);
        drop(stored);
        // The threshold/holding search's currents by e-model key, for `bpo_*` features and
        // threshold-based windows; none are searched yet.
        let currents = std::collections::BTreeMap::new();
        let evaluations = report::evaluate_run(
            emodels,
            &self.report,
            &traces,
            &currents,
            crate::sim::evaluate::ValidationRule::default(),
        );
        if let Err(e) =
            report::write_reports(&self.opts.out_dir, &self.report, &evaluations, &traces)
        {
            let d = Diagnostic::error("report", &self.opts.out_dir, None, e.to_string());
            self.fail(&d, None, None);
        }
        self.report
            .timings_s
            .insert("report".into(), t.elapsed().as_secs_f64());
    }
}

/// The engine probe reading `p`: the voltage of its node, or `cai` of its segment's node.
fn engine_probe(model: &CellModel, p: &probe::Probe) -> Result<Probe, String> {
    match p.variable {
        ProbeVariable::V => Ok(Probe {
            node: Node::from(p.node),
            quantity: Quantity::V,
        }),
        ProbeVariable::Cai => {
            let ion = model
                .ion("ca")
                .ok_or_else(|| format!("`{}`: the cell has no calcium", p.name))?;
            Ok(Probe {
                node: model.segment_node[p.segment.0 as usize],
                quantity: Quantity::Ion {
                    ion,
                    var: IonVar::Inside,
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("Step_*", "Step_150"));
        assert!(glob_match("Step_15?", "Step_150"));
        assert!(!glob_match("Step_15?", "Step_1500"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*_2*0", "Step_200_and_250"));
        assert!(!glob_match("IDrest*", "Step_150"));
        assert!(glob_match("a*b*c", "aXbYbc"));
        assert!(!glob_match("a*b*c", "aXbYb"));
    }
}
