//! The run cut into chunks and run in order. A chunk is lanes of one structure group, as many as
//! the host's memory holds ([`plan::chunk_lanes`]); each chunk's searches and protocols run
//! ([`Executor::run_chunk`]), its lanes go into the sinks, and its record and a checkpoint go
//! into the output folder's store before the next chunk's. Chunks an earlier invocation of the
//! same run finished are not run again: their records are read.
//!
//! Chunks too small to fill the CPU backend's threads (a few cells of different structures,
//! each one lane) run side by side, one per thread, taken in order as threads come free; what
//! they give is filed in chunk order, exactly as if they had run one after another, so the
//! output is the same.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::output::run_report::{EModelRun, Failure};
use crate::sweep::collect::Collected;
use crate::sweep::execute::{ChunkLane, Executor, LaneOutcome};
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
        let start = start.min(chunks.len());
        for (_, chunk) in &chunks[..start] {
            progress.skip(chunk.lanes.len());
        }
        let threads = if self.exec.backend.parallel_batches() {
            rayon::current_num_threads().max(1)
        } else {
            1
        };
        let mut index = start;
        while index < chunks.len() {
            let end = segment_end(chunks, index, threads);
            if end - index == 1 {
                let lanes = &chunks[index].1.lanes;
                let model = &members[lanes[0].member].model;
                let outcome = self
                    .exec
                    .run_chunk(members, model, lanes, &mut self.tallies);
                self.finish_one(members, index, &chunks[index].1, outcome, progress);
            } else {
                self.run_segment(members, chunks, index..end, threads, progress);
            }
            index = end;
        }
    }

    /// Runs chunks `range` (each too small to fill the threads) side by side, one per thread,
    /// taken in order as threads come free; each is filed as soon as every chunk before it is
    /// (its totals and tallies added, then sinks, record and checkpoint), so the output is that of
    /// one after another. At most `2 × threads` chunks are run or wait to be filed at once.
    fn run_segment(
        &mut self,
        members: &[Member],
        chunks: &[(usize, Chunk)],
        range: Range<usize>,
        threads: usize,
        progress: &mut Progress,
    ) {
        let base: Vec<Vec<Tally>> = self
            .tallies
            .iter()
            .map(|m| m.iter().map(Tally::blank).collect())
            .collect();
        let backend = self.exec.backend;
        let window = 2 * threads;
        let next = AtomicUsize::new(range.start);
        let filing = Mutex::new(Filing {
            state: self,
            progress,
            next: range.start,
            pending: BTreeMap::new(),
        });
        let filed = Condvar::new();
        rayon::scope(|s| {
            for _ in 0..threads {
                s.spawn(|_| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= range.end {
                        break;
                    }
                    {
                        let mut f = filing.lock().unwrap();
                        while i >= f.next + window {
                            f = filed.wait(f).unwrap();
                        }
                    }
                    let chunk = &chunks[i].1;
                    let mut exec = Executor {
                        backend,
                        stats: Default::default(),
                        failures: Vec::new(),
                    };
                    let mut tallies = base.clone();
                    let model = &members[chunk.lanes[0].member].model;
                    let outcomes = exec.run_chunk(members, model, &chunk.lanes, &mut tallies);
                    let mut f = filing.lock().unwrap();
                    f.pending.insert(i, (exec, tallies, outcomes));
                    f.file_ready(members, chunks, &base);
                    filed.notify_all();
                });
            }
        });
    }

    /// Files chunk `index`'s outcome: sinks, record and checkpoint, progress.
    fn finish_one(
        &mut self,
        members: &[Member],
        index: usize,
        chunk: &Chunk,
        outcomes: Vec<LaneOutcome>,
        progress: &mut Progress,
    ) {
        let record = self.file_chunk(members, index, chunk, outcomes);
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

    /// Hands chunk `index`'s outcomes to the sinks; its record.
    fn file_chunk(
        &mut self,
        members: &[Member],
        index: usize,
        chunk: &Chunk,
        outcomes: Vec<LaneOutcome>,
    ) -> ChunkRecord {
        let ranges = chunk.ranges();
        if let Err(e) = self
            .sinks
            .begin_chunk(members, &ranges, self.store.chunk_traces(index))
        {
            output_failure(&mut self.sinks.failures, e);
        }
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

/// A chunk run by one thread, waiting to be filed: its totals, tallies and outcomes.
type Ran<'a> = (Executor<'a>, Vec<Vec<Tally>>, Vec<LaneOutcome>);

/// The filing side of [`ChunkState::run_segment`]: chunks are filed in order, `next` first.
struct Filing<'s, 'r, 'a> {
    state: &'s mut ChunkState<'r, 'a>,
    progress: &'s mut Progress,
    next: usize,
    pending: BTreeMap<usize, Ran<'a>>,
}

impl Filing<'_, '_, '_> {
    /// Files every chunk whose turn it is, in order.
    fn file_ready(&mut self, members: &[Member], chunks: &[(usize, Chunk)], base: &[Vec<Tally>]) {
        while let Some((exec, tallies, outcomes)) = self.pending.remove(&self.next) {
            let st = &mut *self.state;
            st.exec.stats.absorb(exec.stats);
            st.exec.failures.extend(exec.failures);
            for (m, member) in tallies.into_iter().enumerate() {
                for (q, t) in member.into_iter().enumerate() {
                    st.tallies[m][q].absorb(&base[m][q], t);
                }
            }
            st.finish_one(
                members,
                self.next,
                &chunks[self.next].1,
                outcomes,
                self.progress,
            );
            self.next += 1;
        }
    }
}

/// The end of the run of chunks from `start` on that go side by side on `threads` threads:
/// chunks with fewer lanes than threads (one with as many fills the threads alone).
fn segment_end(chunks: &[(usize, Chunk)], start: usize, threads: usize) -> usize {
    let small = |c: &(usize, Chunk)| threads > 1 && c.1.lanes.len() < threads;
    if !small(&chunks[start]) {
        return start + 1;
    }
    let mut end = start + 1;
    while end < chunks.len() && small(&chunks[end]) {
        end += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_chunks_go_side_by_side_and_large_ones_run_alone() {
        let of = |sizes: &[usize]| -> Vec<(usize, Chunk)> {
            sizes
                .iter()
                .map(|&n| {
                    let lanes = (0..n).map(|set| ChunkLane { member: 0, set }).collect();
                    (0, Chunk { lanes })
                })
                .collect()
        };
        let waves = |sizes: &[usize], threads: usize| {
            let chunks = of(sizes);
            let mut out = Vec::new();
            let mut i = 0;
            while i < chunks.len() {
                let e = segment_end(&chunks, i, threads);
                out.push(e - i);
                i = e;
            }
            out
        };
        assert_eq!(waves(&[1, 1, 1, 1, 1], 2), vec![5]);
        assert_eq!(waves(&[1, 4, 1, 1], 2), vec![1, 1, 2]);
        assert_eq!(waves(&[1, 1, 2, 1, 4, 3], 4), vec![4, 1, 1]);
        assert_eq!(waves(&[1, 1, 1], 1), vec![1, 1, 1]);
    }

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
