//! `emsweep run`: every lane the packages (and a population) give, packed into as few batches
//! as their structures allow, simulated chunk by chunk, scored and written as each chunk
//! finishes.
//!
//! The pieces, in the order a run uses them: [`select`] (which protocols an e-model runs),
//! [`population`] (parameter sets from a file or drawn inside the bounds), [`member`] (an
//! e-model built, with its lanes and protocols), [`plan`] (structure keys, search signatures,
//! batch keys, chunk sizes), [`execute`] (a chunk's searches in lockstep and its protocol
//! batches), [`sinks`] (traces, `.dat` files, evaluations, in memory) and [`report`] (the
//! searches as `run.json` records them). [`search`] holds the tools' search rules.
//!
//! Problems stay local: a package that does not read, a cell or mechanism that does not build,
//! a population entry that names an unknown parameter, a protocol whose stimulus or recordings
//! cannot be made, a lane that diverges: each is recorded in `run.json` (with file and line
//! where it has one) and the rest goes on.
//!
//! Protocols whose currents come from the holding/threshold current search (EModelRunner's
//! `StepThreshold`/`RampThreshold`, steps or holdings with a null amplitude, BluePyEModel's
//! threshold-based e-codes, and the built-in templates of `protocols/`) run after that search,
//! at the currents it found for their lane. The rules are the package's own: EModelRunner's main
//! protocol where the package has one, BluePyEModel's search protocols otherwise. An e-model
//! that configures no search gets what BluePyEModel gives a `ThresholdBasedNoHoldingProtocol`:
//! no holding current, and the threshold of `SearchThresholdCurrent` with the pipeline's
//! defaults.

pub mod chunks;
pub mod collect;
pub mod execute;
pub mod manifest;
pub mod member;
pub mod merge;
pub mod plan;
pub mod population;
pub mod progress;
pub mod report;
pub mod search;
pub mod select;
pub mod sinks;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use crate::backend::Backend;
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::output::run_report::{EModelRun, Failure, RunReport, RunStatus};
use crate::package::{EModel, Protocol};

use execute::Executor;
use member::{Member, Tally};
use population::ParameterSet;
pub use population::Sampler;
pub use select::{glob_match, search_needed, selected_templates, PACKAGE_SELECTION};
pub use sinks::Record;

/// Where a population comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum PopulationSource {
    /// A `final.json`-like file (either dialect) or a CSV file.
    File(PathBuf),
    /// `n` sets drawn inside the bounds.
    Sample {
        n: usize,
        seed: u64,
        sampler: Sampler,
    },
}

/// The name of the population file a run with a population writes.
pub const POPULATION_CSV: &str = "population.csv";

/// Lanes per chunk at most, whatever the memory allows.
pub const MAX_CHUNK_LANES: usize = 4096;

/// What `emsweep run` was asked to do.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Protocol names or globs (`*`, `?`), or [`PACKAGE_SELECTION`].
    pub protocols: Vec<String>,
    pub out_dir: PathBuf,
    pub dat_dir: Option<PathBuf>,
    /// The command line, for `run.json`.
    pub command: Vec<String>,
    /// Show progress on stderr.
    pub progress: bool,
    /// Parameter sets of one e-model (`emodel`, or the only one).
    pub population: Option<PopulationSource>,
    pub emodel: Option<String>,
    pub record: Record,
    /// Keep every K-th sample in traces.h5 and `.dat` files (features use every step).
    pub record_every: usize,
    /// Lanes per chunk at most (`None`: from the host's memory, at most [`MAX_CHUNK_LANES`]).
    pub max_chunk_lanes: Option<usize>,
    /// Run only shard K of N (`(K, N)`, K from 1): see [`merge`].
    pub shard: Option<(usize, usize)>,
    /// Replace an output folder of another run (else it is an error; the same run resumes).
    pub force: bool,
}

impl SweepOptions {
    /// Every package protocol, the e-models' own parameters, every recording, into `out_dir`.
    pub fn new(protocols: Vec<String>, out_dir: PathBuf) -> SweepOptions {
        SweepOptions {
            protocols,
            out_dir,
            dat_dir: None,
            command: Vec::new(),
            progress: false,
            population: None,
            emodel: None,
            record: Record::All,
            record_every: 1,
            max_chunk_lanes: None,
            shard: None,
            force: false,
        }
    }
}

/// Totals for the closing summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepSummary {
    pub emodels: usize,
    /// Parameter sets over all e-models.
    pub lanes: usize,
    pub protocols_run: usize,
    pub protocols_skipped: usize,
    pub protocols_failed: usize,
    /// Lanes with at least one protocol that failed.
    pub lanes_failed: usize,
    /// Engine runs.
    pub batches: usize,
    /// Simulated time summed over lanes [ms].
    pub simulated_ms: f64,
    pub compartment_steps: f64,
    /// Lanes and compartment-steps an earlier invocation of the run finished (resumed).
    pub resumed_lanes: usize,
    pub resumed_compartment_steps: f64,
    pub wall_s: f64,
    /// Any failure at all (exit code 1).
    pub failed: bool,
}

impl SweepSummary {
    pub fn render(&self) -> String {
        let wall = self.wall_s.max(1e-9);
        let resumed = if self.resumed_lanes > 0 {
            format!(
                "; {} lanes finished by an earlier run, not in the rates",
                self.resumed_lanes
            )
        } else {
            String::new()
        };
        format!(
            "{} e-models, {} lanes ({} failed), protocols: {} run, {} skipped, {} failed; {:.0} ms simulated in {:.2} s wall time ({} batches, {:.1} lanes/s, {:.3e} compartment-steps/s{resumed})\n",
            self.emodels,
            self.lanes,
            self.lanes_failed,
            self.protocols_run,
            self.protocols_skipped,
            self.protocols_failed,
            self.simulated_ms,
            self.wall_s,
            self.batches,
            self.lanes.saturating_sub(self.resumed_lanes) as f64 / wall,
            (self.compartment_steps - self.resumed_compartment_steps) / wall,
        )
    }
}

/// Records the errors of `d` (warnings and notes are not failures).
fn record(failures: &mut Vec<Failure>, d: &Diagnostics, emodel: Option<&str>) {
    for x in d.iter().filter(|x| x.severity == Severity::Error) {
        failures.push(Failure::from_diagnostic(x, emodel, None, None));
    }
}

/// Every e-model of every package under `paths`, in order.
fn read_all(paths: &[PathBuf], failures: &mut Vec<Failure>) -> Vec<EModel> {
    let mut emodels = Vec::new();
    for root in paths {
        let (dirs, d) = crate::package::discover(root);
        record(failures, &d, None);
        if dirs.is_empty() && root.is_dir() && !d.has_errors() {
            let mut none = Diagnostics::new();
            none.push(Diagnostic::error(
                "no-package",
                root,
                None,
                "no e-model package below this directory",
            ));
            record(failures, &none, None);
        }
        for dir in dirs {
            let read = crate::package::read_package(&dir);
            record(failures, &read.diagnostics, None);
            if !read.diagnostics.has_errors() {
                emodels.extend(read.emodels);
            }
        }
    }
    emodels
}

/// The e-model a population is for: `--emodel` (name or label), or the only one. `Err`: a
/// usage problem.
fn population_target(emodels: &[EModel], name: Option<&str>) -> Result<usize, String> {
    let labels = || {
        emodels
            .iter()
            .map(EModel::label)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => {
            let found: Vec<usize> = (0..emodels.len())
                .filter(|&k| emodels[k].name == n || emodels[k].label() == n)
                .collect();
            match found.as_slice() {
                [k] => Ok(*k),
                [] => Err(format!("--emodel `{n}`: no such e-model (found: {})", labels())),
                _ => Err(format!(
                    "--emodel `{n}` names {} e-models: give the label (`name[variant]`) or one package",
                    found.len()
                )),
            }
        }
        None if emodels.len() == 1 => Ok(0),
        None => Err(format!(
            "a population is for one e-model and the run has {}: name it with --emodel (found: {})",
            emodels.len(),
            labels()
        )),
    }
}

/// The target's parameter sets, read or drawn (`Err`: the diagnostics, already recorded).
fn population_sets(
    source: &PopulationSource,
    em: &EModel,
    failures: &mut Vec<Failure>,
) -> Option<Vec<ParameterSet>> {
    let key = em.label();
    match source {
        PopulationSource::File(path) => {
            let (sets, d) = population::read(path, em);
            record(failures, &d, Some(&key));
            (!d.has_errors()).then_some(sets)
        }
        PopulationSource::Sample { n, seed, sampler } => {
            match population::sample(em, *n, *seed, *sampler) {
                Ok(s) => Some(s),
                Err(d) => {
                    failures.push(Failure::from_diagnostic(&d, Some(&key), None, None));
                    None
                }
            }
        }
    }
}

/// A key for `em` unique within the run (`label`, or `package/label` on a clash).
fn emodel_key(taken: &mut BTreeSet<String>, em: &EModel) -> String {
    let label = em.label();
    let mut key = label.clone();
    if taken.contains(&key) {
        let pkg = em
            .package_dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        key = format!("{pkg}/{label}");
        let mut k = 2;
        while taken.contains(&key) {
            key = format!("{pkg}/{label}#{k}");
            k += 1;
        }
    }
    taken.insert(key.clone());
    key
}

/// What the built e-models of a run are.
struct Built<'e> {
    members: Vec<Member<'e>>,
    /// Per e-model of the run: its report and, when it runs, its member index.
    runs: Vec<(EModelRun, Option<usize>)>,
    tallies: Vec<Vec<Tally>>,
    matched: BTreeSet<String>,
}

/// Builds every e-model (the population's target with its sets).
fn build_all<'e>(
    emodels: &'e [EModel],
    opts: &SweepOptions,
    templates: &'e [Protocol],
    mut target: Option<(usize, Option<Vec<ParameterSet>>)>,
    failures: &mut Vec<Failure>,
) -> Built<'e> {
    let mut keys = BTreeSet::new();
    let mut out = Built {
        members: Vec::new(),
        runs: Vec::new(),
        tallies: Vec::new(),
        matched: BTreeSet::new(),
    };
    for (k, em) in emodels.iter().enumerate() {
        let key = emodel_key(&mut keys, em);
        let sets = match &mut target {
            Some((t, sets)) if *t == k => match sets.take() {
                Some(s) => Some(s),
                None => {
                    // the population did not read: the e-model is reported, not simulated
                    let mut run = EModelRun {
                        label: key,
                        package: em.package_dir.display().to_string(),
                        lanes: 0,
                        lane_labels: Vec::new(),
                        search: None,
                        lane_searches: Vec::new(),
                        free_parameters: Vec::new(),
                        protocols: Vec::new(),
                    };
                    run.protocols.clear();
                    out.runs.push((run, None));
                    continue;
                }
            },
            _ => None,
        };
        let b = member::build(em, key, &opts.protocols, templates, sets);
        failures.extend(b.failures);
        out.matched.extend(b.matched);
        match b.member {
            Some(m) => {
                out.runs.push((b.run, Some(out.members.len())));
                out.members.push(m);
                out.tallies.push(b.tallies);
            }
            None => out.runs.push((b.run, None)),
        }
    }
    out
}

/// Runs the sweep and writes its files; returns the report (as written to `run.json`) and the
/// summary. An `Err` is a usage problem (an ambiguous `--emodel`), an output folder of another
/// run, or a problem with the output folder itself (nothing could be recorded).
pub fn sweep(
    paths: &[PathBuf],
    opts: &SweepOptions,
    backend: &dyn Backend,
) -> Result<(RunReport, SweepSummary), String> {
    let started = Instant::now();
    let mut report = RunReport::new(opts.command.clone(), &backend.name());
    report.versions.extend(backend.versions());
    let mut failures = Vec::new();
    let t_read = Instant::now();
    let emodels = read_all(paths, &mut failures);
    let target = match &opts.population {
        Some(source) => {
            let t = population_target(&emodels, opts.emodel.as_deref())?;
            Some((t, population_sets(source, &emodels[t], &mut failures)))
        }
        None => None,
    };
    report
        .timings_s
        .insert("read".into(), t_read.elapsed().as_secs_f64());
    settings(&mut report, opts);

    let chosen = selected_templates(&opts.protocols);
    let template_protocols: Vec<Protocol> = chosen
        .iter()
        .flat_map(|t| t.protocols.iter().cloned())
        .collect();
    let t_build = Instant::now();
    let sets = target.as_ref().and_then(|(_, s)| s.clone());
    let mut built = build_all(&emodels, opts, &template_protocols, target, &mut failures);
    built.matched.extend(chosen.iter().map(|t| t.name.clone()));
    report
        .timings_s
        .insert("build".into(), t_build.elapsed().as_secs_f64());

    let groups = structure_groups(&built.members);
    let taken = lanes_taken(&built.members, opts.shard);
    let (key, files) = manifest::run_key(&key_inputs(paths, opts, backend, &emodels))?;
    let max = opts.max_chunk_lanes.unwrap_or(MAX_CHUNK_LANES);
    let sizes = chunks::chunk_sizes(&built.members, &groups, max);
    let fresh = manifest::Manifest::new(key, opts.command.clone(), files, sizes);
    let (store, checkpoint) = manifest::Store::open(&opts.out_dir, fresh, opts.force)?;
    let sizes = store.manifest.chunk_lanes.clone();
    if sizes.len() != groups.len() {
        return Err(format!(
            "{}: its manifest.json cuts {} structure groups, this run has {}: rerun with --force",
            opts.out_dir.display(),
            sizes.len(),
            groups.len()
        ));
    }
    if let Some(d) = &opts.dat_dir {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    if let Some(sets) = &sets {
        let path = opts.out_dir.join(POPULATION_CSV);
        crate::output::atomic::write(&path, population::to_csv(sets).as_bytes())
            .map_err(|e| e.to_string())?;
    }
    if let Some((index, count)) = opts.shard {
        report.shard = Some(crate::output::run_report::Shard {
            index,
            count,
            ranges: built
                .members
                .iter()
                .zip(&taken)
                .map(|(m, r)| crate::output::run_report::ShardRange {
                    emodel: m.key.clone(),
                    first: r.start,
                    end: r.end,
                })
                .collect(),
        });
    }
    let chunk_list = chunks::cut(&groups, &taken, &sizes);
    let Built {
        members,
        mut runs,
        tallies,
        matched,
    } = built;
    let mut state = chunks::ChunkState {
        exec: Executor {
            backend,
            stats: execute::ExecStats::default(),
            failures: Vec::new(),
        },
        sinks: sinks::Sinks {
            traces: None,
            traces_path: PathBuf::new(),
            precision: backend.precision(),
            record: opts.record,
            record_every: opts.record_every.max(1),
            dat_dir: opts.dat_dir.clone().filter(|_| opts.record != Record::None),
            rows: Default::default(),
            report_traces: Vec::new(),
            evaluations: Vec::new(),
            failures: Vec::new(),
        },
        tallies,
        collected: collect::Collected::default(),
        runs: &mut runs,
        store,
    };
    let start = match checkpoint {
        Some(c) => state.restore(c)?,
        None => 0,
    };
    let resumed_lanes: usize = chunk_list[..start.min(chunk_list.len())]
        .iter()
        .map(|(_, c)| c.lanes.len())
        .sum();
    let resumed_steps = state.exec.stats.compartment_steps;
    let total: usize = taken.iter().map(|r| r.len()).sum();
    let mut progress = progress::Progress::new(opts.progress, total);
    state.run(&members, &chunk_list, start, &mut progress);
    progress.finish();
    let chunks::ChunkState {
        exec,
        sinks,
        tallies,
        collected,
        mut store,
        ..
    } = state;
    let traces = opts.out_dir.join("traces.h5");
    let kept = store.manifest.complete && traces.exists();
    if !kept {
        match collect::assemble_traces(&store, &members, &collected.ranges, &traces) {
            Ok(true) => {}
            // `--record none`: no traces.h5 at all rather than an empty one
            Ok(false) => {
                let _ = std::fs::remove_file(&traces);
            }
            Err(e) => failures.push(Failure::from_diagnostic(
                &Diagnostic::error("output", &traces, None, e),
                None,
                None,
                None,
            )),
        }
    }
    let built = Built {
        members,
        runs,
        tallies,
        matched,
    };
    let out = finish(
        &mut report,
        opts,
        &emodels,
        built,
        exec,
        sinks,
        collected,
        failures,
        started,
    )?;
    store.complete(chunk_list.len())?;
    let (report, mut summary) = out;
    summary.resumed_lanes = resumed_lanes;
    summary.resumed_compartment_steps = resumed_steps;
    Ok((report, summary))
}

/// What the run's key is made of: the packages' files and the population file, every setting
/// that changes what the run writes, and the backend.
fn key_inputs(
    paths: &[PathBuf],
    opts: &SweepOptions,
    backend: &dyn Backend,
    emodels: &[EModel],
) -> manifest::KeyInputs {
    let mut dirs: Vec<PathBuf> = emodels.iter().map(|e| e.package_dir.clone()).collect();
    dirs.dedup();
    let files = match &opts.population {
        Some(PopulationSource::File(p)) => vec![p.clone()],
        _ => Vec::new(),
    };
    let mut exclude = vec![opts.out_dir.clone()];
    exclude.extend(opts.dat_dir.clone());
    let settings = format!(
        "paths={:?}\nbackend={}\nprotocols={:?}\npopulation={:?}\nemodel={:?}\nrecord={}\nrecord_every={}\nshard={:?}\ndat_dir={:?}\n",
        paths,
        backend.name(),
        opts.protocols,
        opts.population,
        opts.emodel,
        opts.record.name(),
        opts.record_every.max(1),
        opts.shard,
        opts.dat_dir,
    );
    manifest::KeyInputs {
        dirs,
        files,
        exclude,
        settings,
    }
}

/// The run's settings as `run.json` records them.
fn settings(report: &mut RunReport, opts: &SweepOptions) {
    let s = &mut report.settings;
    s.insert("protocols".into(), opts.protocols.join(","));
    s.insert(
        "population".into(),
        match &opts.population {
            None => "none (each e-model's own parameters)".into(),
            Some(PopulationSource::File(p)) => p.display().to_string(),
            Some(PopulationSource::Sample { n, seed, sampler }) => {
                format!("{n} sets, {} sampler, seed {seed}", sampler.name())
            }
        },
    );
    s.insert("record".into(), opts.record.name().into());
    s.insert("record_every".into(), opts.record_every.max(1).to_string());
    s.insert("threads".into(), rayon::current_num_threads().to_string());
    if let Some((k, n)) = opts.shard {
        s.insert("shard".into(), format!("{k}/{n}"));
    }
}

/// Members grouped by structure, in first-appearance order.
fn structure_groups(members: &[Member]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (k, m) in members.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| members[g[0]].structure == m.structure)
        {
            Some(g) => g.push(k),
            None => groups.push(vec![k]),
        }
    }
    groups
}

/// The lanes of `members` this run takes (all, or its shard's contiguous range in member
/// order, then lane order), per member as a range of lane indices.
fn lanes_taken(members: &[Member], shard: Option<(usize, usize)>) -> Vec<std::ops::Range<usize>> {
    let total: usize = members.iter().map(Member::lanes).sum();
    let mine = shard.map_or(0..total, |(k, n)| merge::shard_range(k, n, total));
    let mut offset = 0;
    members
        .iter()
        .map(|m| {
            let (lo, hi) = (offset, offset + m.lanes());
            offset = hi;
            let first = mine.start.clamp(lo, hi) - lo;
            let end = mine.end.clamp(lo, hi) - lo;
            first..end.max(first)
        })
        .collect()
}

/// Closes the run: protocol reports, failures, search totals, traces.h5, the score reports and
/// `run.json`.
#[allow(clippy::too_many_arguments)]
fn finish(
    report: &mut RunReport,
    opts: &SweepOptions,
    emodels: &[EModel],
    built: Built,
    exec: Executor,
    mut sinks: sinks::Sinks,
    collected: collect::Collected,
    mut failures: Vec<Failure>,
    started: Instant,
) -> Result<(RunReport, SweepSummary), String> {
    let mut summary = SweepSummary {
        emodels: emodels.len(),
        batches: exec.stats.batches,
        simulated_ms: exec.stats.simulated_ms,
        compartment_steps: exec.stats.compartment_steps,
        ..Default::default()
    };
    let Built {
        members,
        runs,
        tallies,
        matched,
    } = built;
    let mut tallies: Vec<Option<Vec<Tally>>> = tallies.into_iter().map(Some).collect();
    for (mut run, idx) in runs {
        if let Some(m) = idx {
            let mut failed_lanes = BTreeSet::new();
            for (t, sel) in tallies[m]
                .take()
                .unwrap_or_default()
                .into_iter()
                .zip(&members[m].protocols)
            {
                let pr = t.finish();
                failed_lanes.extend(pr.failed_lanes.iter().copied());
                run.protocols[sel.report_index] = pr;
            }
            summary.lanes_failed += failed_lanes.len();
            if let Some((sim, batches, wall)) = exec.stats.search_by_member.get(&m) {
                for s in run.search.iter_mut().chain(run.lane_searches.iter_mut()) {
                    s.simulated_ms = *sim;
                    s.batches = *batches;
                    s.wall_s = *wall;
                }
            }
        }
        for p in &run.protocols {
            match p.status {
                RunStatus::Ok => summary.protocols_run += 1,
                RunStatus::Skipped => summary.protocols_skipped += 1,
                RunStatus::Partial | RunStatus::Failed => summary.protocols_failed += 1,
            }
        }
        report.emodels.push(run);
    }
    // a name or glob that selected nothing is most likely a typo: say so
    for p in opts
        .protocols
        .iter()
        .filter(|p| p.as_str() != PACKAGE_SELECTION && !matched.contains(*p))
    {
        failures.push(Failure::from_diagnostic(
            &Diagnostic::error(
                "no-protocol",
                "",
                None,
                format!("--protocols `{p}` matches no protocol of the packages"),
            ),
            None,
            None,
            None,
        ));
    }
    failures.extend(exec.failures);
    failures.append(&mut sinks.failures);
    report
        .timings_s
        .insert("search".into(), exec.stats.search_s);
    report
        .timings_s
        .insert("simulate".into(), exec.stats.simulate_s);
    let t = Instant::now();
    let collect::Collected {
        mut evaluations,
        report_traces,
        ..
    } = collected;
    evaluations.sort_by_key(|(m, set, _)| (*m, *set));
    let evaluations: Vec<_> = evaluations.into_iter().map(|(_, _, e)| e).collect();
    summary.lanes = evaluations.len();
    report.failures = failures;
    if let Err(e) =
        crate::output::report::write_reports(&opts.out_dir, report, &evaluations, &report_traces)
    {
        report.failures.push(Failure::from_diagnostic(
            &Diagnostic::error("report", &opts.out_dir, None, e.to_string()),
            None,
            None,
            None,
        ));
    }
    report
        .timings_s
        .insert("report".into(), t.elapsed().as_secs_f64());
    summary.wall_s = started.elapsed().as_secs_f64();
    report.timings_s.insert("total".into(), summary.wall_s);
    summary.failed = report.failed();
    let json = opts.out_dir.join("run.json");
    crate::output::run_report::write_run_json(&json, report).map_err(|e| e.to_string())?;
    Ok((report.clone(), summary))
}
