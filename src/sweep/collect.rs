//! The run's results gathered from its chunks, in chunk order, whether a chunk ran now or in an
//! earlier, interrupted invocation of the same run: evaluations, searches and the traces
//! `report.html` draws ([`Collected::apply`]), and `traces.h5` joined from the chunks' traces
//! files ([`assemble_traces`]), one chunk in memory at a time.

use std::path::Path;

use crate::features::evaluate::Evaluation;
use crate::output::report::LaneTrace;
use crate::output::run_report::EModelRun;
use crate::output::traces::{read_traces, RowDataset, Samples, TracesWriter};
use crate::sweep::manifest::{ChunkRecord, Store};
use crate::sweep::member::Member;

/// Everything the chunks gave so far.
#[derive(Default)]
pub struct Collected {
    /// (member, parameter set, evaluation).
    pub evaluations: Vec<(usize, usize, Evaluation)>,
    pub report_traces: Vec<LaneTrace>,
    /// Per chunk: (member, first set, end set).
    pub ranges: Vec<Vec<(usize, usize, usize)>>,
}

impl Collected {
    /// Takes in one chunk's record (chunks in order); its searches go to their e-model's
    /// report in `runs` (per e-model of the run: its report and member index).
    pub fn apply(&mut self, record: ChunkRecord, runs: &mut [(EModelRun, Option<usize>)]) {
        for (member, own, search) in record.searches {
            if let Some((run, _)) = runs.iter_mut().find(|(_, idx)| *idx == Some(member)) {
                if own {
                    run.search = Some(search);
                } else {
                    run.lane_searches.push(search);
                }
            }
        }
        self.evaluations.extend(record.evaluations);
        self.report_traces.extend(record.report_traces);
        self.ranges.push(record.ranges);
    }
}

/// Writes `out` (under its temporary name, then renamed) from the traces files of the chunks
/// `ranges` describes: each chunk's rows into the rows of their lanes. `Ok(false)`: no chunk
/// recorded a trace (`--record none`), nothing written.
pub fn assemble_traces(
    store: &Store,
    members: &[Member],
    ranges: &[Vec<(usize, usize, usize)>],
    out: &Path,
) -> Result<bool, String> {
    let mut writer: Option<TracesWriter> = None;
    let tmp = crate::output::atomic::temporary_path(out);
    for (index, chunk) in ranges.iter().enumerate() {
        let path = store.chunk_traces(index);
        if !path.exists() {
            continue;
        }
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(TracesWriter::create(&tmp).map_err(|e| e.to_string())?),
        };
        for t in read_traces(&path).map_err(|e| e.to_string())? {
            let Some(&(m, first, end)) = chunk.iter().find(|(m, _, _)| members[*m].key == t.emodel)
            else {
                return Err(format!(
                    "{}: traces of `{}`, which the chunk does not hold",
                    path.display(),
                    t.emodel
                ));
            };
            if t.lanes != end - first {
                return Err(format!(
                    "{}: {}/{}/{} has {} rows for {} lanes",
                    path.display(),
                    t.emodel,
                    t.protocol,
                    t.recording,
                    t.lanes,
                    end - first
                ));
            }
            let labels: Vec<String> = members[m].sets.iter().map(|s| s.label.clone()).collect();
            let d = RowDataset {
                emodel: &t.emodel,
                protocol: &t.protocol,
                recording: &t.recording,
                variable: &t.variable,
                units: &t.units,
                dt_ms: t.dt_ms,
                t0_ms: t.t0_ms,
                samples: t.samples,
                lane_labels: &labels,
                f32: matches!(t.data, Samples::F32(_)),
            };
            for r in 0..t.lanes {
                let row = r * t.samples..(r + 1) * t.samples;
                let values: Vec<f64> = match &t.data {
                    Samples::F64(v) => v[row].to_vec(),
                    Samples::F32(v) => v[row].iter().map(|&x| f64::from(x)).collect(),
                };
                w.write_row(&d, first + r, &values)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    match writer {
        Some(w) => {
            w.finish().map_err(|e| e.to_string())?;
            crate::output::atomic::commit(out).map_err(|e| e.to_string())?;
            Ok(true)
        }
        None => Ok(false),
    }
}
