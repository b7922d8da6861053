//! Where a chunk's results go, in memory, as the chunk finishes: each lane is scored against its
//! e-model's features (on every step it simulated), its recordings are written to the chunk's
//! traces file (the ones `--record` keeps, every `--record-every` sample; [`super::collect`]
//! joins the chunks' files into `traces.h5`) and `.dat` files, and a few lanes per e-model are
//! kept for `report.html`. The evaluations and kept traces go into the chunk's record.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::backend::Precision;
use crate::diag::Diagnostic;
use crate::features::evaluate::ValidationRule;
use crate::features::evaluate::{evaluate, Evaluation, EvaluationLabel, ProtocolOutcome, Recorded};
use crate::output::report::LaneTrace;
use crate::output::run_report::Failure;
use crate::output::traces::{RowDataset, TracesWriter};
use crate::sweep::execute::LaneOutcome;
use crate::sweep::member::Member;

/// What `--record` keeps in `traces.h5` and `.dat` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// Every recording of every protocol.
    All,
    /// Each protocol's first recording (the soma voltage).
    Soma,
    /// No trace: features and scores only.
    None,
}

impl Record {
    pub fn parse(name: &str) -> Option<Record> {
        match name {
            "all" => Some(Record::All),
            "soma" => Some(Record::Soma),
            "none" => Some(Record::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Record::All => "all",
            Record::Soma => "soma",
            Record::None => "none",
        }
    }
}

/// Lanes per e-model whose traces `report.html` draws (a population's first ones).
pub const REPORT_LANES: usize = 4;

/// One lane's evaluation: its member, its parameter set and what was scored.
pub type MemberEvaluation = (usize, usize, Evaluation);

/// The sinks of a sweep.
pub struct Sinks {
    /// The current chunk's traces file (none with `--record none`).
    pub traces: Option<TracesWriter>,
    pub traces_path: PathBuf,
    pub precision: Precision,
    pub record: Record,
    pub record_every: usize,
    pub dat_dir: Option<PathBuf>,
    /// The current chunk's members: their first set and every set's label in the chunk.
    pub rows: BTreeMap<usize, (usize, Vec<String>)>,
    /// Traces `report.html` draws, of the current chunk.
    pub report_traces: Vec<LaneTrace>,
    /// (member, lane, evaluation) of the current chunk, in the order lanes finished.
    pub evaluations: Vec<MemberEvaluation>,
    pub failures: Vec<Failure>,
}

/// Every `every`-th value of `values`, from the first.
fn decimate(values: &[f64], every: usize) -> Vec<f64> {
    values.iter().step_by(every.max(1)).copied().collect()
}

impl Sinks {
    fn fail(&mut self, d: Diagnostic, emodel: &str, protocol: &str) {
        self.failures.push(Failure::from_diagnostic(
            &d,
            Some(emodel),
            Some(protocol),
            None,
        ));
    }

    /// Starts a chunk whose member lanes are `ranges` ((member, first set, end set)); its
    /// traces go to `path` (written under its temporary name until [`Sinks::end_chunk`]).
    pub fn begin_chunk(
        &mut self,
        members: &[Member],
        ranges: &[(usize, usize, usize)],
        path: PathBuf,
    ) -> Result<(), String> {
        self.rows = ranges
            .iter()
            .map(|&(m, first, end)| {
                let labels = members[m].sets[first..end]
                    .iter()
                    .map(|s| s.label.clone())
                    .collect();
                (m, (first, labels))
            })
            .collect();
        self.traces_path = path;
        self.traces = None;
        if self.record != Record::None {
            let tmp = crate::output::atomic::temporary_path(&self.traces_path);
            self.traces = Some(TracesWriter::create(&tmp).map_err(|e| e.to_string())?);
        }
        Ok(())
    }

    /// Ends the chunk: its traces file closed and put in place; its evaluations and the traces
    /// `report.html` draws handed over.
    pub fn end_chunk(&mut self) -> Result<(Vec<MemberEvaluation>, Vec<LaneTrace>), String> {
        if let Some(w) = self.traces.take() {
            w.finish().map_err(|e| e.to_string())?;
            crate::output::atomic::commit(&self.traces_path).map_err(|e| e.to_string())?;
        }
        Ok((
            std::mem::take(&mut self.evaluations),
            std::mem::take(&mut self.report_traces),
        ))
    }

    /// The recordings of protocol `q` of `m` that `--record` keeps.
    fn kept(&self, m: &Member, q: usize) -> usize {
        match self.record {
            Record::All => m.protocols[q].probes.len(),
            Record::Soma => m.protocols[q].probes.len().min(1),
            Record::None => 0,
        }
    }

    /// Writes, keeps and scores one lane of member `m` (its index `member`).
    pub fn take(&mut self, member: usize, m: &Member, lane: LaneOutcome) {
        let set = lane.lane.set;
        let label = m.sets[set].label.clone();
        let (first, lane_labels) = self.rows.get(&member).cloned().unwrap_or_default();
        for (q, sel) in m.protocols.iter().enumerate() {
            let Some(ProtocolOutcome::Ran(recs)) = lane.outcomes.get(&sel.protocol.name) else {
                continue;
            };
            for (r, probe) in sel.probes.iter().enumerate() {
                let Some(Recorded::Trace {
                    t0_ms,
                    dt_ms,
                    values,
                }) = recs.get(&probe.name)
                else {
                    continue;
                };
                if set < REPORT_LANES {
                    self.report_traces.push(LaneTrace {
                        emodel: m.key.clone(),
                        protocol: sel.protocol.name.clone(),
                        recording: probe.name.clone(),
                        lane: label.clone(),
                        units: probe.variable.unit().into(),
                        t0_ms: *t0_ms,
                        dt_ms: *dt_ms,
                        values: values.clone(),
                    });
                }
                if r >= self.kept(m, q) {
                    continue;
                }
                let kept = decimate(values, self.record_every);
                let kept_dt_ms = dt_ms * self.record_every as f64;
                if let Some(w) = self.traces.as_mut() {
                    let d = RowDataset {
                        emodel: &m.key,
                        protocol: &sel.protocol.name,
                        recording: &probe.name,
                        variable: probe.variable.name(),
                        units: probe.variable.unit(),
                        dt_ms: kept_dt_ms,
                        t0_ms: *t0_ms,
                        samples: kept.len(),
                        lane_labels: &lane_labels,
                        f32: self.precision == Precision::F32,
                    };
                    if let Err(e) = w.write_row(&d, set - first, &kept) {
                        let d = Diagnostic::error("output", &self.traces_path, None, e.to_string());
                        self.fail(d, &m.key, &sel.protocol.name);
                    }
                }
                if let Some(dir) = self.dat_dir.clone() {
                    let mut prefix = m.key.replace('/', "_");
                    if !m.own {
                        prefix = format!("{prefix}.{}", label.replace('/', "_"));
                    }
                    let name =
                        crate::output::dat::dat_file_name(&prefix, &sel.protocol.name, &probe.name);
                    let times: Vec<f64> = (0..kept.len())
                        .map(|k| t0_ms + k as f64 * kept_dt_ms)
                        .collect();
                    if let Err(e) = crate::output::dat::write_dat(&dir, &name, &times, &kept) {
                        let d = Diagnostic::error("output", dir.join(&name), None, e.to_string());
                        self.fail(d, &m.key, &sel.protocol.name);
                    }
                }
            }
        }
        let eval_label = EvaluationLabel {
            key: m.key.clone(),
            lane: (!m.own).then(|| label.clone()),
        };
        let mut e = evaluate(
            eval_label,
            m.em,
            &lane.outcomes,
            lane.currents,
            ValidationRule::default(),
        );
        e.params = m.sets[set]
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.to_f64()))
            .collect();
        self.evaluations.push((member, set, e));
    }
}
