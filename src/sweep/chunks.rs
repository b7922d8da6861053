//! The run cut into chunks and run one after another. A chunk is lanes of one structure group,
//! as many as the host's memory holds ([`plan::chunk_lanes`]); each chunk's searches and
//! protocols run ([`Executor::run_chunk`]), its lanes go into the sinks, and its record and a
//! checkpoint go into the output folder's store before the next chunk starts. Chunks an
//! earlier invocation of the same run finished are not run again: their records are read.

use std::ops::Range;

use crate::output::run_report::{EModelRun, Failure};
use crate::sweep::collect::Collected;
use crate::sweep::execute::{ChunkLane, Executor};
use crate::sweep::manifest::{Checkpoint, ChunkRecord, Store};
use crate::sweep::member::{Member, Tally};
use crate::sweep::progress::Progress;
use crate::sweep::sinks::Sinks;
use crate::sweep::{plan, report};

/// One chunk: lanes of one structure group, members in order, each member's sets contiguous.
pub struct Chunk {
    pub lanes: Vec<ChunkLane>,
}

impl Chunk {
    /// Per member in the chunk: (member, first set, end set).
    pub fn ranges(&self) -> Vec<(usize, usize, usize)> {
        let mut out: Vec<(usize, usize, usize)> = Vec::new();
        for l in &self.lanes {
            match out.last_mut() {
                Some((m, _, end)) if *m == l.member && *end == l.set => *end += 1,
                _ => out.push((l.member, l.set, l.set + 1)),
            }
        }
        out
    }
}

/// Samples one lane of `members[group...]` records at most, over its protocols (an estimate for
/// chunk sizes: each protocol's steps times its recordings).
fn samples_per_lane(members: &[Member], group: &[usize]) -> usize {
    group
        .iter()
        .map(|&m| {
            let mm = &members[m];
            mm.protocols
                .iter()
                .map(|p| {
                    let steps = (p.protocol.stimulus.tstop_ms() / mm.em.dt_ms)
                        .ceil()
                        .max(0.0);
                    (steps as usize + 1) * p.probes.len()
                })
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// Lanes per chunk of each structure group: what the host's memory holds, at most `max`.
pub fn chunk_sizes(members: &[Member], groups: &[Vec<usize>], max: usize) -> Vec<usize> {
    let budget = plan::memory_budget_bytes();
    groups
        .iter()
        .map(|g| {
            let per_lane = plan::lane_bytes(&members[g[0]].model, samples_per_lane(members, g));
            plan::chunk_lanes(per_lane, budget, max)
        })
        .collect()
}

/// The chunks of the lanes `taken` (per member), group by group, `sizes[g]` lanes each.
pub fn cut(groups: &[Vec<usize>], taken: &[Range<usize>], sizes: &[usize]) -> Vec<(usize, Chunk)> {
    let mut out = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let lanes: Vec<ChunkLane> = group
            .iter()
            .flat_map(|&m| {
                taken[m]
                    .clone()
                    .map(move |set| ChunkLane { member: m, set })
            })
            .collect();
        for c in lanes.chunks(sizes[g].max(1)) {
            out.push((g, Chunk { lanes: c.to_vec() }));
        }
    }
    out
}

/// What a sweep's chunks write into and add up.
pub struct ChunkState<'r, 'a> {
    pub exec: Executor<'a>,
    pub sinks: Sinks,
    pub tallies: Vec<Vec<Tally>>,
    pub collected: Collected,
    pub runs: &'r mut [(EModelRun, Option<usize>)],
    pub store: Store,
}

fn output_failure(failures: &mut Vec<Failure>, message: String) {
    failures.push(Failure::from_diagnostic(
        &crate::diag::Diagnostic::error("output", "", None, message),
        None,
        None,
        None,
    ));
}

impl ChunkState<'_, '_> {
    /// Takes up where `checkpoint` left: its totals, and the records of its chunks. `Err`: the
    /// checkpoint does not fit the run.
    pub fn restore(&mut self, checkpoint: Checkpoint) -> Result<usize, String> {
        let fits = checkpoint.tallies.len() == self.tallies.len()
            && checkpoint
                .tallies
                .iter()
                .zip(&self.tallies)
                .all(|(a, b)| a.len() == b.len());
        if !fits {
            return Err(
                "the checkpoint in chunks/ does not fit this run: rerun with --force".into(),
            );
        }
        self.tallies = checkpoint.tallies;
        self.exec.stats = checkpoint.stats;
        self.exec.failures = checkpoint.exec_failures;
        self.sinks.failures = checkpoint.sink_failures;
        for index in 0..checkpoint.chunks_done {
            let record = self.store.load_chunk(index)?;
            self.collected.apply(record, self.runs);
        }
        Ok(checkpoint.chunks_done)
    }

    /// Runs `chunks` from `start` on (the ones before are restored), each into the store.
    pub fn run(
        &mut self,
        members: &[Member],
        chunks: &[(usize, Chunk)],
        start: usize,
        progress: &mut Progress,
    ) {
        for (index, (_, chunk)) in chunks.iter().enumerate() {
            if index < start {
                progress.skip(chunk.lanes.len());
                continue;
            }
            let record = self.run_one(members, index, chunk);
            let checkpoint = Checkpoint {
                chunks_done: index + 1,
                tallies: self.tallies.clone(),
                stats: self.exec.stats.clone(),
                exec_failures: self.exec.failures.clone(),
                sink_failures: self.sinks.failures.clone(),
            };
            if let Err(e) = self.store.save_chunk(&record, &checkpoint) {
                output_failure(&mut self.sinks.failures, e);
            }
            self.collected.apply(record, self.runs);
            progress.advance(chunk.lanes.len(), &self.exec.stats);
        }
    }

    /// Runs chunk `index`; its record.
    fn run_one(&mut self, members: &[Member], index: usize, chunk: &Chunk) -> ChunkRecord {
        let ranges = chunk.ranges();
        let model = &members[chunk.lanes[0].member].model;
        if let Err(e) = self
            .sinks
            .begin_chunk(members, &ranges, self.store.chunk_traces(index))
        {
            output_failure(&mut self.sinks.failures, e);
        }
        let outcomes = self
            .exec
            .run_chunk(members, model, &chunk.lanes, &mut self.tallies);
        let mut searches = Vec::new();
        for o in outcomes {
            let m = &members[o.lane.member];
            if let (Some(cell), Ok(plan)) = (&o.search, &m.plan) {
                let note = report::plan_note(plan, m.em);
                let lane = (!m.own).then(|| m.sets[o.lane.set].label.clone());
                searches.push((
                    o.lane.member,
                    m.own,
                    report::search_report(plan, &note, cell, lane),
                ));
            }
            self.sinks.take(o.lane.member, m, o);
        }
        let (evaluations, report_traces) = match self.sinks.end_chunk() {
            Ok(x) => x,
            Err(e) => {
                output_failure(&mut self.sinks.failures, e);
                (
                    std::mem::take(&mut self.sinks.evaluations),
                    std::mem::take(&mut self.sinks.report_traces),
                )
            }
        };
        ChunkRecord {
            index,
            ranges,
            evaluations,
            searches,
            report_traces,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_each_members_sets_contiguous() {
        let groups = vec![vec![0, 2], vec![1]];
        let taken = vec![0..3, 0..2, 1..4];
        let chunks = cut(&groups, &taken, &[4, 5]);
        let ranges: Vec<_> = chunks.iter().map(|(g, c)| (*g, c.ranges())).collect();
        assert_eq!(
            ranges,
            vec![
                (0, vec![(0, 0, 3), (2, 1, 2)]),
                (0, vec![(2, 2, 4)]),
                (1, vec![(1, 0, 2)]),
            ]
        );
    }
}
