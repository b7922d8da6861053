//! One e-model of a sweep, built: its cell and structure, its lanes (parameter sets), the
//! protocols it runs with their probes placed, its search plan, and the tally of what each
//! protocol did over its lanes.

use crate::cell::Cell;
use crate::diag::{Diagnostic, Diagnostics, Severity};
use crate::engine::{CellModel, LaneValues, MechanismLibrary, Probe, Quantity};
use crate::ir::IonVar;
use crate::layout::Node;
use crate::output::run_report::{EModelRun, Failure, ProtocolRun, RunStatus};
use crate::package::{ECodeProtocolType, EModel, Protocol, Stimulus};
use crate::sim::probe::{self, ProbeVariable};
use crate::sweep::population::{self, ParameterSet};
use crate::sweep::search::SearchPlan;
use crate::sweep::select::{glob_match, named_protocols, search_needed, selected};

/// A protocol a member runs on its lanes.
#[derive(Clone, Debug)]
pub struct Selected {
    /// Under its name in the run (unique within the e-model).
    pub protocol: Protocol,
    pub needs_search: bool,
    pub probes: Vec<probe::Probe>,
    pub engine_probes: Vec<Probe>,
    /// Its place in the member's run report.
    pub report_index: usize,
}

/// A built e-model and its lanes.
pub struct Member<'e> {
    pub em: &'e EModel,
    /// The e-model's key in the run (`label`, or `package/label` on a clash).
    pub key: String,
    pub cell: Cell,
    pub model: CellModel,
    /// One per lane.
    pub sets: Vec<ParameterSet>,
    /// The single lane is the e-model's own parameter set (no population).
    pub own: bool,
    pub protocols: Vec<Selected>,
    /// How its currents are searched (`Err`: why they cannot be).
    pub plan: Result<SearchPlan, String>,
    /// [`crate::sweep::plan::search_signature`] of the plan.
    pub signature: String,
    /// [`crate::sweep::plan::structure_key`] of the model.
    pub structure: String,
}

impl Member<'_> {
    pub fn needs_search(&self) -> bool {
        self.protocols.iter().any(|p| p.needs_search)
    }

    pub fn lanes(&self) -> usize {
        self.sets.len()
    }

    /// The values of lane `set` on structure `model` (this member's own or one equal to it).
    pub fn values_on(&self, model: &CellModel, set: usize) -> Result<LaneValues, Diagnostics> {
        if self.own {
            return model.lane_values(&self.cell.params, self.em.celsius, self.em.v_init_mv);
        }
        let em = population::apply(self.em, &self.sets[set]);
        let (params, d) = crate::cell::parameters_on(&em, &self.cell);
        if d.has_errors() {
            return Err(d);
        }
        model.lane_values(&params, self.em.celsius, self.em.v_init_mv)
    }
}

/// What a protocol did over a member's lanes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub run: ProtocolRun,
    /// Lanes that ran it or tried to.
    attempted: usize,
    ok: usize,
    /// The first reason a lane could not run it.
    first_reason: Option<String>,
}

impl Tally {
    pub fn new(run: ProtocolRun) -> Tally {
        Tally {
            run,
            attempted: 0,
            ok: 0,
            first_reason: None,
        }
    }

    /// Lane `lane` could not run it, for `reason`.
    pub fn note_failure(&mut self, lane: usize, reason: &str) {
        self.attempted += 1;
        self.run.failed_lanes.push(lane);
        self.first_reason.get_or_insert_with(|| reason.to_string());
    }

    /// Lane `lane` diverged.
    pub fn note_diverged(&mut self, lane: usize) {
        self.attempted += 1;
        self.run.failed_lanes.push(lane);
    }

    pub fn note_ok(&mut self) {
        self.attempted += 1;
        self.ok += 1;
    }

    /// The same protocol with nothing counted yet: what a chunk run side by side with others
    /// starts from before [`Tally::absorb`] adds it in.
    pub fn blank(&self) -> Tally {
        let mut run = self.run.clone();
        run.failed_lanes.clear();
        run.wall_s = 0.0;
        Tally {
            run,
            attempted: 0,
            ok: 0,
            first_reason: None,
        }
    }

    /// Adds `other`, a chunk's tally that started as `base` (a [`Tally::blank`]), as if its
    /// chunk had run after everything counted here: counts and failed lanes add up, the first
    /// reason stays the earliest, and what the chunk set (duration, samples, recordings,
    /// currents) replaces what was here.
    pub fn absorb(&mut self, base: &Tally, other: Tally) {
        self.attempted += other.attempted;
        self.ok += other.ok;
        if self.first_reason.is_none() {
            self.first_reason = other.first_reason;
        }
        let (b, mut o) = (&base.run, other.run);
        self.run.failed_lanes.append(&mut o.failed_lanes);
        self.run.wall_s += o.wall_s;
        if o.tstop_ms.to_bits() != b.tstop_ms.to_bits() {
            self.run.tstop_ms = o.tstop_ms;
        }
        if o.samples != b.samples {
            self.run.samples = o.samples;
        }
        if o.recordings != b.recordings {
            self.run.recordings = o.recordings;
        }
        if o.holding_current_na != b.holding_current_na {
            self.run.holding_current_na = o.holding_current_na;
        }
        if o.threshold_current_na != b.threshold_current_na {
            self.run.threshold_current_na = o.threshold_current_na;
        }
    }

    /// The protocol's report once every lane is done.
    pub fn finish(mut self) -> ProtocolRun {
        if self.attempted == 0 {
            // every lane of the e-model belongs to other shards
            self.run.note = Some("no lane of this shard".into());
            return self.run;
        }
        self.run.failed_lanes.sort_unstable();
        self.run.status = if self.run.failed_lanes.is_empty() && self.ok > 0 {
            RunStatus::Ok
        } else if self.ok == 0 {
            RunStatus::Failed
        } else {
            RunStatus::Partial
        };
        if self.run.status != RunStatus::Ok {
            self.run.note = Some(match (&self.first_reason, self.ok) {
                (Some(r), 0) if self.run.failed_lanes.len() <= 1 => r.clone(),
                (Some(r), _) => format!("lanes {:?} failed (first: {r})", self.run.failed_lanes),
                (None, _) => format!("lanes {:?} diverged", self.run.failed_lanes),
            });
        }
        self.run
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

/// What building an e-model gave: the member (when it can run), its run report (protocols not
/// run already final), the tallies of the protocols it runs, and the failures met.
pub struct Built<'e> {
    pub member: Option<Member<'e>>,
    pub run: EModelRun,
    pub tallies: Vec<Tally>,
    pub failures: Vec<Failure>,
    /// The `--protocols` entries that selected one of its protocols.
    pub matched: Vec<String>,
}

fn blank_run(p: &Protocol, dt_ms: f64) -> ProtocolRun {
    ProtocolRun {
        name: p.name.clone(),
        status: RunStatus::Skipped,
        tstop_ms: 0.0,
        dt_ms,
        samples: 0,
        recordings: Vec::new(),
        failed_lanes: Vec::new(),
        wall_s: 0.0,
        note: None,
        holding_current_na: None,
        threshold_current_na: None,
    }
}

/// Why an e-model's protocol is not run at all, if it is not.
fn skip_reason(p: &Protocol) -> Option<&'static str> {
    match &p.stimulus {
        Stimulus::ECode(e) if e.protocol_type == ECodeProtocolType::LocalThresholdBased => Some(
            "a LocalThresholdBasedProtocol needs a threshold search at its own location, which emsweep does not do",
        ),
        _ => None,
    }
}

/// The cell and mechanisms of `em`, or the diagnostics why not.
fn build_model(em: &EModel, failures: &mut Vec<Failure>, key: &str) -> Option<(Cell, CellModel)> {
    let mut record = |d: &Diagnostics| {
        for x in d.iter().filter(|x| x.severity == Severity::Error) {
            failures.push(Failure::from_diagnostic(x, Some(key), None, None));
        }
    };
    let (cell, d) = crate::cell::build(em);
    record(&d);
    let cell = cell.filter(|_| !d.has_errors())?;
    let (lib, d) = MechanismLibrary::for_emodel(em);
    record(&d);
    if d.has_errors() {
        return None;
    }
    let (model, d) = CellModel::new(&cell, &lib, em.celsius, em.v_init_mv);
    record(&d);
    Some((cell, model.filter(|_| !d.has_errors())?))
}

/// Builds e-model `em` under `key` with lanes `sets` (`None`: its own parameters), selecting
/// protocols by `patterns` and adding `templates`.
pub fn build<'e>(
    em: &'e EModel,
    key: String,
    patterns: &[String],
    templates: &'e [Protocol],
    sets: Option<Vec<ParameterSet>>,
) -> Built<'e> {
    let own = sets.is_none();
    let sets = sets.unwrap_or_else(|| vec![population::own_set(em, "own")]);
    let mut failures = Vec::new();
    let mut matched = Vec::new();
    let mut run = EModelRun {
        label: key.clone(),
        package: em.package_dir.display().to_string(),
        lanes: sets.len(),
        lane_labels: if own {
            Vec::new()
        } else {
            sets.iter().map(|s| s.label.clone()).collect()
        },
        search: None,
        lane_searches: Vec::new(),
        free_parameters: population::free_parameters(em)
            .iter()
            .filter_map(|p| match p.value {
                crate::package::ParamValue::Free {
                    bounds: (lower, upper),
                    ..
                } => Some(crate::output::run_report::FreeParameter {
                    key: p.key.clone(),
                    lower,
                    upper,
                }),
                _ => None,
            })
            .collect(),
        protocols: Vec::new(),
    };
    let unset = if own {
        em.free_without_value().len()
    } else {
        0
    };
    let built = if unset == 0 {
        build_model(em, &mut failures, &key)
    } else {
        None
    };
    let mut wanted: Vec<(Protocol, bool)> = Vec::new();
    for np in named_protocols(em, templates) {
        let p = np.protocol.as_ref();
        let mut pr = blank_run(p, em.dt_ms);
        if !np.template {
            for pat in patterns {
                if glob_match(pat, &p.name) || glob_match(pat, np.plain) {
                    matched.push(pat.clone());
                }
            }
        }
        let needs_search = np.template || search_needed(&p.stimulus).is_some();
        if !np.template && !selected(patterns, &p.name) && !selected(patterns, np.plain) {
            pr.note = Some("not selected by --protocols".into());
        } else if unset > 0 {
            pr.note = Some(format!(
                "the e-model has {unset} free parameters without a value (bounds only): not simulated"
            ));
        } else if let Some(reason) = skip_reason(p).filter(|_| needs_search) {
            pr.note = Some(reason.into());
        } else if built.is_none() {
            pr.status = RunStatus::Failed;
            pr.note = Some("the cell or its mechanisms did not build".into());
        } else {
            wanted.push((p.clone(), needs_search));
        }
        run.protocols.push(pr);
    }
    let Some((cell, model)) = built else {
        return Built {
            member: None,
            run,
            tallies: Vec::new(),
            failures,
            matched,
        };
    };
    // place every wanted protocol's recordings
    let mut protocols = Vec::new();
    let mut tallies = Vec::new();
    for (p, needs_search) in wanted {
        let report_index = run
            .protocols
            .iter()
            .position(|r| r.name == p.name)
            .unwrap_or(0);
        let (probes, d) = probe::resolve_protocol(&p, em, model.cell());
        for x in d.iter().filter(|x| x.severity == Severity::Error) {
            failures.push(Failure::from_diagnostic(x, Some(&key), Some(&p.name), None));
        }
        let mut kept = Vec::new();
        let mut engine_probes = Vec::new();
        for pb in probes {
            match engine_probe(&model, &pb) {
                Ok(x) => {
                    engine_probes.push(x);
                    kept.push(pb);
                }
                Err(m) => failures.push(Failure::from_diagnostic(
                    &p.origin
                        .error("recording", format!("protocol `{}`: {m}", p.name)),
                    Some(&key),
                    Some(&p.name),
                    None,
                )),
            }
        }
        if kept.is_empty() {
            let pr = &mut run.protocols[report_index];
            pr.status = RunStatus::Failed;
            pr.note = Some("no recording could be placed".into());
            continue;
        }
        tallies.push(Tally::new(run.protocols[report_index].clone()));
        protocols.push(Selected {
            protocol: p,
            needs_search,
            probes: kept,
            engine_probes,
            report_index,
        });
    }
    let plan = if protocols.iter().any(|p| p.needs_search) {
        SearchPlan::for_emodel(em).map_err(|d: Diagnostic| {
            failures.push(Failure::from_diagnostic(&d, Some(&key), None, None));
            d.message
        })
    } else {
        Err("no protocol needs a search".into())
    };
    let signature = plan.as_ref().map_or_else(
        |e| format!("no plan: {e}"),
        crate::sweep::plan::search_signature,
    );
    let structure = crate::sweep::plan::structure_key(&model, em.dt_ms);
    Built {
        member: Some(Member {
            em,
            key,
            cell,
            model,
            sets,
            own,
            protocols,
            plan,
            signature,
            structure,
        }),
        run,
        tallies,
        failures,
        matched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Tally {
        Tally::new(ProtocolRun {
            name: "Step_150".into(),
            status: RunStatus::Skipped,
            tstop_ms: 0.0,
            dt_ms: 0.025,
            samples: 0,
            recordings: Vec::new(),
            failed_lanes: Vec::new(),
            wall_s: 0.0,
            note: None,
            holding_current_na: None,
            threshold_current_na: None,
        })
    }

    /// What chunk A (lanes 0, 1; lane 1 fails) and chunk B (lanes 2, 3; lane 3 fails for another
    /// reason, and B sets the duration and recordings) do to a tally.
    fn chunk_a(t: &mut Tally) {
        t.note_ok();
        t.note_failure(1, "first reason");
    }
    fn chunk_b(t: &mut Tally) {
        t.run.tstop_ms = 300.0;
        t.run.samples = 12001;
        t.run.recordings = vec!["soma.v".into()];
        t.note_ok();
        t.note_failure(3, "second reason");
    }

    #[test]
    fn chunks_absorbed_in_order_equal_chunks_run_in_order() {
        let mut sequential = fresh();
        chunk_a(&mut sequential);
        chunk_b(&mut sequential);

        let mut merged = fresh();
        let base = merged.blank();
        let (mut a, mut b) = (base.clone(), base.clone());
        chunk_b(&mut b);
        chunk_a(&mut a);
        merged.absorb(&base, a);
        merged.absorb(&base, b);

        assert_eq!(merged.run, sequential.run);
        assert_eq!(merged.first_reason.as_deref(), Some("first reason"));
        assert_eq!(merged.finish(), sequential.finish());
    }
}
