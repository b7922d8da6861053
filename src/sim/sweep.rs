//! `emsweep run`: discover packages, build every e-model, run the selected protocols on a
//! backend, and write what they recorded (`traces.h5`, optional `.dat` files, `run.json`).
//!
//! Each protocol of each e-model runs as one lane (the e-model's own parameter set); the
//! recordings are sampled every step (NEURON's `dt`, no decimation). Problems stay local: a
//! package that does not read, a cell or mechanism that does not build, a protocol whose
//! stimulus or recordings cannot be made, a lane that diverges — each is recorded in
//! `run.json` (with file and line where it has one) and the rest goes on.
//!
//! Protocols whose currents come from the holding/threshold current search (EModelRunner's
//! `StepThreshold`/`RampThreshold`, steps or holdings with a null amplitude, BluePyEModel's
//! threshold-based e-codes, and the built-in templates of `protocols/`) run after that search
//! ([`crate::sim::search`]), once per e-model, at the currents it found; the search and its
//! results are recorded in `run.json`. The rules are the package's own: EModelRunner's main
//! protocol where the package has one, BluePyEModel's search protocols otherwise. An e-model
//! that configures no search (emsweep's examples, BluePyOpt's L5PC, a BluePyEModel package
//! without `SearchHoldingCurrent` targets) gets what BluePyEModel gives a
//! `ThresholdBasedNoHoldingProtocol`: no holding current, and the threshold of
//! `SearchThresholdCurrent` with the pipeline's defaults.
//!
//! `--protocols` entries that name a built-in template (`step`, `ramp`, `IDrest`, ...) add its
//! protocols to every e-model; other entries are names or globs of the packages' own
//! protocols, or `package` for all of them.

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
use crate::output::run_report::{CurrentSearchReport, HoldingStep, SearchReport, ThresholdStep};
use crate::output::run_report::{EModelRun, Failure, ProtocolRun, RunReport, RunStatus};
use crate::output::traces::{SamplesRef, TraceBlock, TracesWriter};
use crate::package::{ECodeProtocolType, EModel, Protocol, Stimulus};
use crate::sim::probe::{self, ProbeVariable};
use crate::sim::search::{self, CellResult, EngineRunner, SearchPlan};
use crate::sim::stimulus::{self, LaneCurrents};
use crate::sim::templates::{self, Template};

/// The protocol selection word meaning "every protocol of the packages".
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

/// Why a protocol needs the holding/threshold current search, if it does.
pub fn search_needed(stimulus: &Stimulus) -> Option<&'static str> {
    const REASON: &str = "its currents come from the holding/threshold current search";
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

/// The built-in templates `patterns` name, in the order named.
pub fn selected_templates(patterns: &[String]) -> Vec<Template> {
    let mut out: Vec<Template> = Vec::new();
    for p in patterns {
        if let Some(t) = templates::find(p) {
            if !out.iter().any(|x| x.name == t.name) {
                out.push(t);
            }
        }
    }
    out
}

/// The search's findings as `run.json` records them.
fn search_report(
    plan: &SearchPlan,
    note: &str,
    cell: &CellResult,
    runner: &EngineRunner,
    wall_s: f64,
) -> SearchReport {
    SearchReport {
        rules: plan.rules().name().into(),
        note: note.into(),
        rmp_mv: cell.rmp_mv,
        searches: cell
            .variants
            .iter()
            .map(|v| CurrentSearchReport {
                variant: v.variant.clone(),
                target_voltage_mv: v.target_voltage_mv,
                rin_noholding_mohm: v.rin_noholding_mohm,
                bpo_holding_current: v.holding_na,
                rin_mohm: v.rin_mohm,
                max_threshold_current_na: v.max_threshold_na,
                bpo_threshold_current: v.threshold_na,
                holding_steps: v
                    .holding_steps
                    .iter()
                    .map(|&(current_na, voltage_base_mv)| HoldingStep {
                        current_na,
                        voltage_base_mv,
                    })
                    .collect(),
                threshold_steps: v
                    .threshold_steps
                    .iter()
                    .map(|s| ThresholdStep {
                        current_na: s.current_na,
                        short: s.short,
                        spiked: s.spiked,
                    })
                    .collect(),
                failure: v.failure.clone(),
            })
            .collect(),
        simulated_ms: runner.simulated_ms,
        batches: runner.batches,
        wall_s,
    }
}

/// Why the rules of `plan` apply to `em`.
fn plan_note(plan: &SearchPlan, em: &EModel) -> String {
    match plan {
        SearchPlan::EModelRunner { .. } => "the package's `Main` protocol (EModelRunner)".into(),
        SearchPlan::BluePyEModel(p) => {
            let own = if em.dialect == crate::package::Dialect::BluePyEModel {
                "BluePyEModel's search protocols"
            } else {
                "no search configured: BluePyEModel's search protocols with the pipeline's defaults"
            };
            if p.holding_feature.is_none() {
                format!("{own}, no holding current (as for a ThresholdBasedNoHoldingProtocol)")
            } else {
                own.to_string()
            }
        }
    }
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
    /// Wall time of the current searches [s].
    search_s: f64,
}

/// An e-model's search, done once when a protocol first needs it.
enum SearchState {
    NotRun,
    Done(Box<CellResult>),
    Failed(String),
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
        search_s: 0.0,
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

    let chosen_templates = selected_templates(&opts.protocols);
    for t in &chosen_templates {
        s.matched.insert(t.name.clone());
    }
    let template_protocols: Vec<Protocol> = chosen_templates
        .iter()
        .flat_map(|t| t.protocols.iter().cloned())
        .collect();
    let total: usize = emodels
        .iter()
        .map(|em| named_protocols(em, &template_protocols).len())
        .sum();
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
        s.run_emodel(em, &template_protocols, &bar, &mut build_s, &mut simulate_s);
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
    s.report.timings_s.insert("search".into(), s.search_s);
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

/// One protocol an e-model runs, under a name unique within the e-model.
struct NamedProtocol<'p> {
    protocol: std::borrow::Cow<'p, Protocol>,
    /// The name its file gives it (`--protocols` patterns match this name too).
    plain: &'p str,
    template: bool,
}

/// The protocols `em` runs: its own and then the templates', each under a name unique within
/// the e-model. Where protocol sets share a name (the SSCx sample's `Step_200` is in
/// `allsteps.json` and in the main protocol's file), the main protocol's set keeps the name —
/// the feature file was written for it — and the others run as `<name>@<file stem>`; a template
/// protocol named like a package protocol runs as `<name>@template`. Nothing is dropped.
fn named_protocols<'p>(em: &'p EModel, templates: &'p [Protocol]) -> Vec<NamedProtocol<'p>> {
    use std::borrow::Cow;
    let sets = em
        .protocol_sets
        .iter()
        .filter(|s| s.main.is_some())
        .chain(em.protocol_sets.iter().filter(|s| s.main.is_none()));
    let mut out: Vec<NamedProtocol> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut add = |p: &'p Protocol, qualifier: String, template: bool| {
        let mut name = p.name.clone();
        if taken.contains(&name) {
            name = format!("{}@{qualifier}", p.name);
            let mut k = 2;
            while taken.contains(&name) {
                name = format!("{}@{qualifier}#{k}", p.name);
                k += 1;
            }
        }
        taken.insert(name.clone());
        let protocol = if name == p.name {
            Cow::Borrowed(p)
        } else {
            Cow::Owned(Protocol { name, ..p.clone() })
        };
        out.push(NamedProtocol {
            protocol,
            plain: &p.name,
            template,
        });
    };
    for set in sets {
        let stem = set
            .file
            .file_stem()
            .map_or_else(|| "set".to_string(), |x| x.to_string_lossy().into_owned());
        for p in &set.protocols {
            add(p, stem.clone(), false);
        }
    }
    for p in templates {
        add(p, "template".into(), true);
    }
    out
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
        template_protocols: &[Protocol],
        bar: &indicatif::ProgressBar,
        build_s: &mut f64,
        simulate_s: &mut f64,
    ) {
        let key = self.emodel_key(em);
        bar.set_message(key.clone());
        let all = named_protocols(em, template_protocols);
        let mut run = EModelRun {
            label: key.clone(),
            package: em.package_dir.display().to_string(),
            lanes: 1,
            search: None,
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
        let mut search_state = SearchState::NotRun;
        for np in &all {
            let (p, is_template) = (np.protocol.as_ref(), np.template);
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
                holding_current_na: None,
                threshold_current_na: None,
            };
            if !is_template {
                for pat in &self.opts.protocols {
                    if glob_match(pat, &p.name) || glob_match(pat, np.plain) {
                        self.matched.insert(pat.clone());
                    }
                }
            }
            let needs_search = is_template || search_needed(&p.stimulus).is_some();
            if !is_template
                && !selected(&self.opts.protocols, &p.name)
                && !selected(&self.opts.protocols, np.plain)
            {
                pr.note = Some("not selected by --protocols".into());
            } else if unset > 0 {
                pr.note = Some(format!(
                    "the e-model has {unset} free parameters without a value (bounds only): not simulated"
                ));
            } else if let Some(model) = &model {
                let currents = if needs_search {
                    self.currents_for(em, &key, model, p, &mut search_state, &mut run)
                } else {
                    Ok(LaneCurrents::default())
                };
                match currents {
                    Ok(currents) => {
                        if needs_search {
                            pr.holding_current_na = currents.holding_na;
                            pr.threshold_current_na = currents.threshold_na;
                        }
                        let t = Instant::now();
                        self.run_protocol(em, &key, model, p, currents, &mut pr);
                        pr.wall_s = t.elapsed().as_secs_f64();
                        *simulate_s += pr.wall_s;
                    }
                    Err((status, note)) => {
                        pr.status = status;
                        pr.note = Some(note);
                    }
                }
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

    /// The currents protocol `p` runs with, searching them first if this e-model's search has
    /// not run yet; `Err` with the protocol's status and why when it cannot run.
    fn currents_for(
        &mut self,
        em: &EModel,
        key: &str,
        model: &CellModel,
        p: &Protocol,
        state: &mut SearchState,
        run: &mut EModelRun,
    ) -> Result<LaneCurrents, (RunStatus, String)> {
        if let Stimulus::ECode(e) = &p.stimulus {
            if e.protocol_type == ECodeProtocolType::LocalThresholdBased {
                return Err((
                    RunStatus::Skipped,
                    "a LocalThresholdBasedProtocol needs a threshold search at its own location, which emsweep does not do".into(),
                ));
            }
        }
        if let SearchState::NotRun = state {
            *state = self.run_search(em, key, model, run);
        }
        let cell = match state {
            SearchState::Done(c) => c,
            SearchState::Failed(m) => {
                return Err((RunStatus::Failed, format!("the current search failed: {m}")))
            }
            SearchState::NotRun => {
                return Err((RunStatus::Failed, "the current search did not run".into()))
            }
        };
        let Some(v) = cell.currents_for(&p.name) else {
            return Err((
                RunStatus::Failed,
                "no current search serves this protocol (a thalamus package without a `dep` search)".into(),
            ));
        };
        if let Some(f) = &v.failure {
            return Err((
                RunStatus::Failed,
                format!(
                    "the current search{} failed: {f}",
                    if v.variant.is_empty() {
                        String::new()
                    } else {
                        format!(" `{}`", v.variant)
                    }
                ),
            ));
        }
        let mut currents = cell.lane_currents(&p.name);
        if let Stimulus::ECode(e) = &p.stimulus {
            if e.protocol_type == ECodeProtocolType::ThresholdBasedNoHolding {
                let no_holding_search = run
                    .search
                    .as_ref()
                    .is_some_and(|s| s.searches.iter().all(|v| v.target_voltage_mv.is_none()));
                if !no_holding_search {
                    return Err((
                        RunStatus::Skipped,
                        "a ThresholdBasedNoHoldingProtocol needs a threshold search without holding current; this e-model's search holds the cell".into(),
                    ));
                }
                currents.holding_na = Some(0.0);
            }
        }
        Ok(currents)
    }

    /// Runs `em`'s current search on its own parameters and records it in `run`.
    fn run_search(
        &mut self,
        em: &EModel,
        key: &str,
        model: &CellModel,
        run: &mut EModelRun,
    ) -> SearchState {
        let t = Instant::now();
        let plan = match SearchPlan::for_emodel(em) {
            Ok(p) => p,
            Err(d) => {
                let m = d.message.clone();
                self.fail(&d, Some(key), None);
                return SearchState::Failed(m);
            }
        };
        let values = match model.own_lane() {
            Ok(v) => v,
            Err(d) => {
                self.fail_all(&d, Some(key), None);
                return SearchState::Failed("the e-model's parameters did not apply".into());
            }
        };
        let mut runner = EngineRunner {
            backend: self.backend,
            model,
            cells: vec![values],
            dt_ms: em.dt_ms,
            simulated_ms: 0.0,
            batches: 0,
        };
        let result = search::search(&plan, &mut runner, 1);
        let wall_s = t.elapsed().as_secs_f64();
        self.search_s += wall_s;
        self.summary.simulated_ms += runner.simulated_ms;
        match result {
            Ok(mut cells) if !cells.is_empty() => {
                let cell = cells.swap_remove(0);
                run.search = Some(search_report(
                    &plan,
                    &plan_note(&plan, em),
                    &cell,
                    &runner,
                    wall_s,
                ));
                SearchState::Done(Box::new(cell))
            }
            Ok(_) => SearchState::Failed("no result".into()),
            Err(d) => {
                let m = d.message.clone();
                self.fail(&d, Some(key), None);
                SearchState::Failed(m)
            }
        }
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
        currents: LaneCurrents,
        pr: &mut ProtocolRun,
    ) {
        pr.status = RunStatus::Failed;
        let program = match stimulus::build(p, &[currents]) {
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
        // the searched currents come from the run report (per protocol and per e-model)
        let evaluations = report::evaluate_run(
            emodels,
            &self.report,
            &traces,
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
