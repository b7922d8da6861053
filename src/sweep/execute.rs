//! Execution of one chunk of lanes that share a structure: their parameter values, their
//! current searches in lockstep (one batch per search round, whatever e-model a lane comes
//! from), then every selected protocol of every lane, packed into as few batches as the steps
//! and probes allow. What comes back is, per lane, the outcome of each protocol (traces in
//! memory) and the currents it ran with; the sinks write and score them.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::backend::Backend;
use crate::diag::Diagnostic;
use crate::engine::{Batch, CellModel, LaneSpec, LaneStimulus, LaneValues, RunConfig};
use crate::features::evaluate::{EModelCurrents, ProtocolOutcome, Recorded, SearchedCurrents};
use crate::output::run_report::Failure;
use crate::package::{ECodeProtocolType, Stimulus};
use crate::sim::stimulus::{self, LaneCurrents};
use crate::sweep::member::{Member, Tally};
use crate::sweep::plan;
use crate::sweep::search::{self, CellResult, EngineRunner, SearchPlan};

/// One lane of a chunk: parameter set `set` of member `member`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkLane {
    pub member: usize,
    pub set: usize,
}

/// What one lane of a chunk gave.
#[derive(Clone, Debug)]
pub struct LaneOutcome {
    pub lane: ChunkLane,
    /// By the protocol's name in the run.
    pub outcomes: BTreeMap<String, ProtocolOutcome>,
    pub currents: EModelCurrents,
    /// The lane's current search, when one ran.
    pub search: Option<CellResult>,
}

/// Totals over the chunks run so far.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ExecStats {
    /// Engine runs (searches and protocols).
    pub batches: usize,
    /// Simulated time summed over lanes that did not fail [ms].
    pub simulated_ms: f64,
    /// Compartment-steps simulated (nodes × steps, over lanes).
    pub compartment_steps: f64,
    /// Time in searches and in protocol simulations [s], summed over chunks (chunks run side by
    /// side each count their own).
    pub search_s: f64,
    pub simulate_s: f64,
    /// Per member: simulated time, batches and wall time of its searches.
    pub search_by_member: BTreeMap<usize, (f64, usize, f64)>,
}

impl ExecStats {
    /// Adds the totals of `other` (chunks run side by side) to these.
    pub fn absorb(&mut self, other: ExecStats) {
        self.batches += other.batches;
        self.simulated_ms += other.simulated_ms;
        self.compartment_steps += other.compartment_steps;
        self.search_s += other.search_s;
        self.simulate_s += other.simulate_s;
        for (m, (ms, n, s)) in other.search_by_member {
            let e = self.search_by_member.entry(m).or_default();
            e.0 += ms;
            e.1 += n;
            e.2 += s;
        }
    }
}

/// Runs chunks on a backend and collects their failures.
pub struct Executor<'a> {
    pub backend: &'a dyn Backend,
    pub stats: ExecStats,
    pub failures: Vec<Failure>,
}

/// Why a lane cannot run a protocol, as its outcome says it.
fn not_run(reason: impl Into<String>) -> ProtocolOutcome {
    ProtocolOutcome::NotRun {
        reason: reason.into(),
    }
}

/// The currents protocol `name` of a lane runs with, from the lane's search; `Err` with why
/// it cannot run.
fn searched_currents(
    search: Option<&Result<CellResult, String>>,
    stimulus: &Stimulus,
    name: &str,
    plan: Option<&SearchPlan>,
) -> Result<LaneCurrents, String> {
    let cell = match search {
        Some(Ok(c)) => c,
        Some(Err(m)) => return Err(format!("the current search failed: {m}")),
        None => return Err("the current search did not run".into()),
    };
    let Some(v) = cell.currents_for(name) else {
        return Err(
            "no current search serves this protocol (a thalamus package without a `dep` search)"
                .into(),
        );
    };
    if let Some(f) = &v.failure {
        return Err(format!(
            "the current search{} failed: {f}",
            if v.variant.is_empty() {
                String::new()
            } else {
                format!(" `{}`", v.variant)
            }
        ));
    }
    let mut currents = cell.lane_currents(name);
    if let Stimulus::ECode(e) = stimulus {
        if e.protocol_type == ECodeProtocolType::ThresholdBasedNoHolding {
            let no_holding =
                matches!(plan, Some(SearchPlan::BluePyEModel(p)) if p.holding_feature.is_none());
            if !no_holding {
                return Err("a ThresholdBasedNoHoldingProtocol needs a threshold search without holding current; this e-model's search holds the cell".into());
            }
            currents.holding_na = Some(0.0);
        }
    }
    Ok(currents)
}

/// The currents of the lane's main search for the `bpo_*` features: the only one, or the
/// thalamus `dep` search.
fn main_currents(cell: &CellResult) -> SearchedCurrents {
    let main = cell
        .variants
        .iter()
        .find(|v| v.variant.is_empty() || v.variant == "dep")
        .or(cell.variants.first());
    SearchedCurrents {
        holding_na: main.and_then(|m| m.holding_na),
        threshold_na: main.and_then(|m| m.threshold_na),
    }
}

/// Work of one batch: (chunk lane index, member protocol index, its stimulus).
type BatchItem = (usize, usize, LaneStimulus);

impl Executor<'_> {
    fn fail(&mut self, d: &Diagnostic, emodel: &str, protocol: Option<&str>, lane: Option<usize>) {
        self.failures
            .push(Failure::from_diagnostic(d, Some(emodel), protocol, lane));
    }

    /// Each lane's values on the chunk's structure `model` (`Err`: why there are none).
    fn lane_values(
        &mut self,
        members: &[Member],
        model: &CellModel,
        lanes: &[ChunkLane],
    ) -> Vec<Result<LaneValues, String>> {
        lanes
            .iter()
            .map(|l| {
                let m = &members[l.member];
                let lane = Some(l.set);
                match m.values_on(model, l.set) {
                    Ok(v) => Ok(v),
                    Err(d) => {
                        for x in d
                            .iter()
                            .filter(|x| x.severity == crate::diag::Severity::Error)
                        {
                            self.fail(x, &m.key, None, lane);
                        }
                        Err("the lane's parameters did not apply".to_string())
                    }
                }
            })
            .collect()
    }

    /// The searches of every lane that needs one, in lockstep per plan.
    fn searches(
        &mut self,
        members: &[Member],
        model: &CellModel,
        lanes: &[ChunkLane],
        values: &[Result<LaneValues, String>],
    ) -> Vec<Option<Result<CellResult, String>>> {
        let mut out: Vec<Option<Result<CellResult, String>>> = vec![None; lanes.len()];
        // lanes grouped by plan signature, in first-appearance order
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (k, l) in lanes.iter().enumerate() {
            let m = &members[l.member];
            if !m.needs_search() {
                continue;
            }
            match (&m.plan, &values[k]) {
                (Err(reason), _) => out[k] = Some(Err(reason.clone())),
                (Ok(_), Err(reason)) => out[k] = Some(Err(reason.clone())),
                (Ok(_), Ok(_)) => {
                    let sig = m.signature.clone();
                    match groups.iter_mut().find(|(s, _)| *s == sig) {
                        Some((_, v)) => v.push(k),
                        None => groups.push((sig, vec![k])),
                    }
                }
            }
        }
        for (_, group) in groups {
            let first = &members[lanes[group[0]].member];
            let Ok(plan) = &first.plan else { continue };
            let t = Instant::now();
            let mut runner = EngineRunner {
                backend: self.backend,
                model,
                cells: group
                    .iter()
                    .filter_map(|&k| values[k].as_ref().ok().cloned())
                    .collect(),
                dt_ms: first.em.dt_ms,
                simulated_ms: 0.0,
                batches: 0,
            };
            let result = search::search(plan, &mut runner, group.len());
            let wall_s = t.elapsed().as_secs_f64();
            self.stats.search_s += wall_s;
            self.stats.batches += runner.batches;
            self.stats.simulated_ms += runner.simulated_ms;
            self.stats.compartment_steps +=
                runner.simulated_ms / first.em.dt_ms * model.node_count() as f64;
            let mut members_seen: Vec<usize> = group.iter().map(|&k| lanes[k].member).collect();
            members_seen.dedup();
            for m in members_seen {
                let e = self.stats.search_by_member.entry(m).or_default();
                e.0 += runner.simulated_ms;
                e.1 += runner.batches;
                e.2 += wall_s;
            }
            match result {
                Ok(cells) if cells.len() == group.len() => {
                    for (&k, c) in group.iter().zip(cells) {
                        out[k] = Some(Ok(c));
                    }
                }
                Ok(_) => {
                    for &k in &group {
                        out[k] = Some(Err("no result".into()));
                    }
                }
                Err(d) => {
                    let key = first.key.clone();
                    self.fail(&d, &key, None, None);
                    for &k in &group {
                        out[k] = Some(Err(d.message.clone()));
                    }
                }
            }
        }
        out
    }

    /// Runs chunk `lanes` (all on structure `model`): searches, then every selected protocol of
    /// each lane. `runs[m][q]` tallies protocol `q` of member `m`, updated here.
    pub fn run_chunk(
        &mut self,
        members: &[Member],
        model: &CellModel,
        lanes: &[ChunkLane],
        runs: &mut [Vec<Tally>],
    ) -> Vec<LaneOutcome> {
        let values = self.lane_values(members, model, lanes);
        let searches = self.searches(members, model, lanes, &values);
        let mut out: Vec<LaneOutcome> = lanes
            .iter()
            .zip(&searches)
            .map(|(l, s)| {
                let mut currents = EModelCurrents::default();
                if let Some(Ok(c)) = s {
                    currents.bpo = main_currents(c);
                }
                LaneOutcome {
                    lane: *l,
                    outcomes: BTreeMap::new(),
                    currents,
                    search: s.as_ref().and_then(|r| r.as_ref().ok().cloned()),
                }
            })
            .collect();

        // per (member, protocol): the lanes that run it, with their currents
        let mut wanted: BTreeMap<(usize, usize), Vec<(usize, LaneCurrents)>> = BTreeMap::new();
        for (k, l) in lanes.iter().enumerate() {
            let m = &members[l.member];
            let lane_no = l.set;
            for (q, sel) in m.protocols.iter().enumerate() {
                let name = sel.protocol.name.clone();
                if let Err(reason) = &values[k] {
                    runs[l.member][q].note_failure(lane_no, reason);
                    out[k].outcomes.insert(name, not_run(reason.clone()));
                    continue;
                }
                let currents = if sel.needs_search {
                    match searched_currents(
                        searches[k].as_ref(),
                        &sel.protocol.stimulus,
                        &name,
                        m.plan.as_ref().ok(),
                    ) {
                        Ok(c) => c,
                        Err(reason) => {
                            runs[l.member][q].note_failure(lane_no, &reason);
                            out[k].outcomes.insert(name, not_run(reason));
                            continue;
                        }
                    }
                } else {
                    LaneCurrents::default()
                };
                if sel.needs_search {
                    out[k].currents.by_protocol.insert(
                        name,
                        SearchedCurrents {
                            holding_na: currents.holding_na,
                            threshold_na: currents.threshold_na,
                        },
                    );
                    if m.own {
                        runs[l.member][q].run.holding_current_na = currents.holding_na;
                        runs[l.member][q].run.threshold_current_na = currents.threshold_na;
                    }
                }
                wanted.entry((l.member, q)).or_default().push((k, currents));
            }
        }

        // stimuli per (member, protocol), packed into batches by steps and probes
        let mut batches: Vec<(String, usize, usize, Vec<BatchItem>)> = Vec::new();
        for ((mi, q), items) in wanted {
            let m = &members[mi];
            let sel = &m.protocols[q];
            let currents: Vec<LaneCurrents> = items.iter().map(|(_, c)| *c).collect();
            let program = match stimulus::build(&sel.protocol, &currents) {
                Ok(p) => p,
                Err(d) => {
                    self.fail(&d, &m.key, Some(&sel.protocol.name), None);
                    for (k, _) in &items {
                        runs[mi][q].note_failure(lanes[*k].set, &d.message);
                        out[*k]
                            .outcomes
                            .insert(sel.protocol.name.clone(), not_run(d.message.clone()));
                    }
                    continue;
                }
            };
            let steps = RunConfig::steps_for(program.tstop_ms, m.em.dt_ms);
            runs[mi][q].run.tstop_ms = program.tstop_ms;
            let key = plan::batch_key(steps, &sel.engine_probes);
            let stimuli = LaneStimulus::lanes_of(program, model.soma_node);
            let batch_items: Vec<BatchItem> = items
                .iter()
                .zip(stimuli)
                .map(|((k, _), st)| (*k, q, st))
                .collect();
            match batches.iter_mut().find(|(k, _, _, _)| *k == key) {
                Some((_, _, _, v)) => v.extend(batch_items),
                None => batches.push((key, steps, mi, batch_items)),
            }
        }
        for (_, steps, mi, items) in batches {
            self.run_batch(
                members, model, lanes, &values, steps, mi, items, runs, &mut out,
            );
        }
        out
    }

    /// Runs one batch of `items` (`steps` steps; probes of member `probe_member`'s protocol of
    /// the first item, which every item shares) and files each lane's traces.
    #[allow(clippy::too_many_arguments)]
    fn run_batch(
        &mut self,
        members: &[Member],
        model: &CellModel,
        lanes: &[ChunkLane],
        values: &[Result<LaneValues, String>],
        steps: usize,
        probe_member: usize,
        items: Vec<BatchItem>,
        runs: &mut [Vec<Tally>],
        out: &mut [LaneOutcome],
    ) {
        let Some((_, q0, _)) = items.first() else {
            return;
        };
        let first = &members[probe_member].protocols[*q0];
        let dt_ms = members[probe_member].em.dt_ms;
        let config = RunConfig {
            dt_ms,
            steps,
            record_every: 1,
            probes: first.engine_probes.clone(),
            spike_detector: None,
        };
        let recordings: Vec<String> = first.probes.iter().map(|p| p.name.clone()).collect();
        let specs: Vec<LaneSpec> = items
            .iter()
            .filter_map(|(k, _, st)| {
                values[*k].as_ref().ok().map(|v| LaneSpec {
                    values: v.clone(),
                    stimulus: Some(st.clone()),
                })
            })
            .collect();
        let batch = Batch {
            model,
            lanes: specs,
        };
        let t = Instant::now();
        let result = crate::backend::run(self.backend, &batch, &config);
        drop(batch);
        let wall_s = t.elapsed().as_secs_f64();
        self.stats.simulate_s += wall_s;
        self.stats.batches += 1;
        let share = wall_s / items.len().max(1) as f64;
        let output = match result {
            Ok(o) => o,
            Err(d) => {
                for (k, q, _) in &items {
                    let m = &members[lanes[*k].member];
                    let name = &m.protocols[*q].protocol.name;
                    let reason = d.iter().next().map_or_else(
                        || "the batch did not run".to_string(),
                        |x| x.message.clone(),
                    );
                    runs[lanes[*k].member][*q].note_failure(lanes[*k].set, &reason);
                    out[*k].outcomes.insert(name.clone(), not_run(reason));
                }
                let key = members[probe_member].key.clone();
                for x in d.iter() {
                    self.fail(x, &key, None, None);
                }
                return;
            }
        };
        for ((k, q, _), lane) in items.iter().zip(output.lanes) {
            let l = lanes[*k];
            let m = &members[l.member];
            let sel = &m.protocols[*q];
            let run = &mut runs[l.member][*q];
            let lane_no = l.set;
            run.run.wall_s += share;
            run.run.samples = config.samples();
            run.run.recordings = recordings.clone();
            let mut recs = BTreeMap::new();
            if let Some(f) = lane.failure {
                let message = format!(
                    "protocol `{}`: lane {} diverged at t = {} ms (v = {} mV at node {})",
                    sel.protocol.name, lane_no, f.t_ms, f.v_mv, f.node.0
                );
                let mut fl = Failure::from_diagnostic(
                    &sel.protocol.origin.error("lane-diverged", message.clone()),
                    Some(&m.key),
                    Some(&sel.protocol.name),
                    Some(lane_no),
                );
                fl.file = None;
                fl.line = None;
                fl.column = None;
                self.failures.push(fl);
                run.note_diverged(lane_no);
                for r in &recordings {
                    recs.insert(
                        r.clone(),
                        Recorded::Failed {
                            reason: message.clone(),
                        },
                    );
                }
            } else {
                run.note_ok();
                self.stats.simulated_ms += steps as f64 * dt_ms;
                self.stats.compartment_steps += (steps * model.node_count()) as f64;
                for (r, trace) in recordings.iter().zip(lane.traces) {
                    recs.insert(
                        r.clone(),
                        Recorded::Trace {
                            t0_ms: 0.0,
                            dt_ms: output.record_dt_ms,
                            values: trace,
                        },
                    );
                }
            }
            out[*k]
                .outcomes
                .insert(sel.protocol.name.clone(), ProtocolOutcome::Ran(recs));
        }
    }
}
