//! Parameter resolution: what an e-model sets on a discretised cell, section by section and
//! segment by segment, exactly as BluePyOpt's `CellModel.instantiate` sets it: mechanisms are
//! inserted in the package's order, then every parameter is applied in the package's order (a
//! later one overrides an earlier one where they overlap), range parameters through their
//! distribution of the path distance from soma(0.5).
//!
//! Like BluePyOpt, a location without sections in this cell (`myelinated` when the axon is not
//! replaced) sets nothing; a parameter on a section that lacks its mechanism is an error
//! (NEURON raises); a free parameter without a value is left unset, with a warning.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics};
use crate::discretize::{Discretization, SegmentId};
use crate::morph::SectionId;

use super::formula::{Arg, PyNum};
use super::model::{EModel, Location, ParamTarget, Parameter};

/// The values an e-model sets on one cell.
///
/// Range values are stored per NEURON name as one `Option<f64>` per segment, indexed by
/// [`SegmentId`]: `None` where the package sets nothing (NEURON's default stays). `Ra` is a
/// section property and is kept per section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedParameters {
    /// Per section ([`SectionId`] order): the suffixes inserted, in first-insertion order (a
    /// second insertion of the same mechanism does nothing in NEURON).
    pub section_mechanisms: Vec<Vec<String>>,
    /// Globals (`celsius`, `v_init`, mechanism GLOBALs) in the order first set, with the last
    /// value set.
    pub globals: Vec<(String, f64)>,
    /// Axial resistivity per section [Ω·cm], where the package sets it.
    pub ra_ohm_cm: Vec<Option<f64>>,
    /// Per-segment values by name (`cm`, `ena`, `g_pas`, `gNaTgbar_NaTg`, ...).
    pub range: BTreeMap<String, Vec<Option<f64>>>,
    /// Keys of free parameters that had no value and were not applied.
    pub unset_free: Vec<String>,
}

impl ResolvedParameters {
    /// The value of `name` on segment `seg`, if the package sets it there.
    pub fn value(&self, name: &str, seg: SegmentId) -> Option<f64> {
        self.range.get(name)?.get(seg.0 as usize).copied().flatten()
    }

    pub fn global(&self, name: &str) -> Option<f64> {
        self.globals
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    pub fn has_mechanism(&self, sec: SectionId, suffix: &str) -> bool {
        self.section_mechanisms
            .get(sec.index())
            .is_some_and(|m| m.iter().any(|s| s == suffix))
    }
}

/// The sections of `location` in this cell, in the order BluePyOpt visits them (list by list;
/// a section in two lists of a union is visited twice, as in BluePyOpt).
fn sections_of(disc: &Discretization, location: &Location) -> Vec<SectionId> {
    location
        .lists
        .iter()
        .flat_map(|l| disc.sections_in(*l))
        .collect()
}

/// The inserted mechanism a parameter name belongs to (`gNaTgbar_NaTg` → `NaTg`): the longest
/// suffix `_<SUFFIX>` among the e-model's mechanisms.
fn owner<'a>(name: &str, suffixes: &[&'a str]) -> Option<&'a str> {
    suffixes
        .iter()
        .copied()
        .filter(|s| {
            name.len() > s.len() + 1
                && name.ends_with(s)
                && name.as_bytes()[name.len() - s.len() - 1] == b'_'
        })
        .max_by_key(|s| s.len())
}

/// Resolve every parameter of `em` on `disc`.
pub fn resolve_parameters(em: &EModel, disc: &Discretization) -> (ResolvedParameters, Diagnostics) {
    let mut diags = Diagnostics::new();
    let n_seg = disc.segments.len();
    let mut out = ResolvedParameters {
        section_mechanisms: vec![Vec::new(); disc.sections.len()],
        ra_ohm_cm: vec![None; disc.sections.len()],
        ..Default::default()
    };
    let mut empty_reported: Vec<String> = Vec::new();
    let mut report_empty = |loc: &Location,
                            origin: &super::model::Origin,
                            diags: &mut Diagnostics| {
        if !empty_reported.contains(&loc.name) {
            empty_reported.push(loc.name.clone());
            diags.push(origin.note(
                "empty-location",
                format!("this cell has no section in `{}`: nothing is inserted or set there (as in BluePyOpt)", loc.name),
            ));
        }
    };

    for m in &em.mechanisms {
        let secs = sections_of(disc, &m.location);
        if secs.is_empty() {
            report_empty(&m.location, &m.origin, &mut diags);
        }
        for s in secs {
            let list = &mut out.section_mechanisms[s.index()];
            if !list.contains(&m.suffix) {
                list.push(m.suffix.clone());
            }
        }
    }
    let suffixes: Vec<&str> = em.mechanisms.iter().map(|m| m.suffix.as_str()).collect();

    // distribution parameters are attributes of the distribution: the last value set wins
    let mut dist_params: BTreeMap<(String, String), PyNum> = BTreeMap::new();
    for p in &em.parameters {
        if let (ParamTarget::DistributionParam { distribution }, Some(v)) =
            (&p.target, p.value.value())
        {
            dist_params.insert((distribution.clone(), p.name.clone()), v);
        }
    }

    for p in &em.parameters {
        let Some(value) = p.value.value() else {
            out.unset_free.push(p.key.clone());
            continue;
        };
        match &p.target {
            ParamTarget::Global => match out.globals.iter_mut().find(|(n, _)| *n == p.name) {
                Some(slot) => slot.1 = value.to_f64(),
                None => out.globals.push((p.name.clone(), value.to_f64())),
            },
            ParamTarget::DistributionParam { .. } => {}
            ParamTarget::Section { location } => {
                let secs = sections_of(disc, location);
                if secs.is_empty() {
                    report_empty(location, &p.origin, &mut diags);
                }
                // NrnSegmentLinearScaler: 1.0 * value + 0.0
                let v = 1.0 * value.to_f64() + 0.0;
                apply(&mut out, disc, p, &secs, &suffixes, &mut diags, &|_| Ok(v));
            }
            ParamTarget::Range {
                location,
                distribution,
            } => {
                let secs = sections_of(disc, location);
                if secs.is_empty() {
                    report_empty(location, &p.origin, &mut diags);
                }
                if distribution == "uniform" {
                    let v = 1.0 * value.to_f64() + 0.0;
                    apply(&mut out, disc, p, &secs, &suffixes, &mut diags, &|_| Ok(v));
                    continue;
                }
                let Some(dist) = em.distribution(distribution) else {
                    diags.push(p.origin.error(
                        "unknown-distribution",
                        format!(
                            "`{}` uses distribution `{distribution}`, which is not defined",
                            p.name
                        ),
                    ));
                    continue;
                };
                let Some(formula) = &dist.formula else {
                    continue; // its parse error is reported with the package
                };
                if dist.soma_ref_location != 0.5 {
                    diags.push(dist.origin.error("unsupported", format!("distribution `{}` measures distances from soma({}); emsweep's distances start at soma(0.5)", dist.name, dist.soma_ref_location)));
                    continue;
                }
                let lookup_dist = |name: &str| -> Option<PyNum> {
                    dist_params
                        .get(&(distribution.clone(), name.to_string()))
                        .copied()
                };
                if let Some(missing) = dist.param_names.iter().find(|n| lookup_dist(n).is_none()) {
                    diags.push(p.origin.error("missing-parameter", format!("distribution `{distribution}` needs `{missing}`, which has no value (BluePyOpt: uninitialised)")));
                    continue;
                }
                let eval = |seg: &crate::discretize::Segment| -> Result<f64, String> {
                    let lookup = |name: &str| -> Option<Arg> {
                        match name {
                            "value" => Some(Arg::Formatted(value.to_f64())),
                            "distance" => Some(Arg::Formatted(seg.distance_um)),
                            other => lookup_dist(other).map(Arg::Str),
                        }
                    };
                    formula.eval(&lookup).map_err(|e| e.message)
                };
                apply(&mut out, disc, p, &secs, &suffixes, &mut diags, &eval);
            }
        }
    }
    if !out.unset_free.is_empty() {
        let first = em
            .parameters
            .iter()
            .find(|p| p.value.value().is_none())
            .map(|p| p.origin.clone());
        if let Some(o) = first {
            diags.push(o.warning(
                "unset-free-parameters",
                format!(
                    "free parameters without a value are not set: {}",
                    out.unset_free.join(", ")
                ),
            ));
        }
    }
    for values in out.range.values() {
        debug_assert_eq!(values.len(), n_seg);
    }
    (out, diags)
}

/// Set parameter `p` on every segment of `secs` (Ra on the sections), with `value_at` giving the
/// value of a segment. The first failure is reported and stops this parameter.
fn apply(
    out: &mut ResolvedParameters,
    disc: &Discretization,
    p: &Parameter,
    secs: &[SectionId],
    suffixes: &[&str],
    diags: &mut Diagnostics,
    value_at: &dyn Fn(&crate::discretize::Segment) -> Result<f64, String>,
) {
    let owner = owner(&p.name, suffixes);
    let n_seg = disc.segments.len();
    for &s in secs {
        let sec = &disc.sections[s.index()];
        if let Some(mech) = owner {
            if !out.section_mechanisms[s.index()].iter().any(|m| m == mech) {
                diags.push(p.origin.error(
                    "mechanism-not-inserted",
                    format!(
                        "`{}` is set on {}, where `{mech}` is not inserted (NEURON refuses it)",
                        p.name, sec.name
                    ),
                ));
                return;
            }
        }
        if p.name == "Ra" {
            // a section property: the value at the section's first segment (uniform scalers)
            let Some(first) = disc.segments_of(s).next() else {
                continue;
            };
            match value_at(&disc.segments[first.0 as usize]) {
                Ok(v) => out.ra_ohm_cm[s.index()] = Some(v),
                Err(e) => {
                    diags.push(
                        p.origin
                            .error("formula-eval", format!("`{}` on {}: {e}", p.name, sec.name)),
                    );
                    return;
                }
            }
            continue;
        }
        for seg_id in disc.segments_of(s) {
            let seg = &disc.segments[seg_id.0 as usize];
            match value_at(seg) {
                Ok(v) => {
                    let slot = out
                        .range
                        .entry(p.name.clone())
                        .or_insert_with(|| vec![None; n_seg]);
                    slot[seg_id.0 as usize] = Some(v);
                }
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "formula-eval",
                        &p.origin.file,
                        p.origin.pos,
                        format!(
                            "`{}` on {}({:.6}) at distance {} µm: {e}",
                            p.name, sec.name, seg.x, seg.distance_um
                        ),
                    ));
                    return;
                }
            }
        }
    }
}
