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
    // Free parameters without a value were reported by the reader (`missing-final`,
    // `no-final-values`); they are listed in `unset_free` and left at NEURON's defaults.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretize::{NodeId, SectionGeom, Segment};
    use crate::morph::SectionKind;
    use crate::package::tests::packages_dir;
    use crate::package::{read_package, Distribution, Origin, ParamValue};

    /// soma (1 segment), a basal dendrite (3), an apical dendrite (3), an axon (1); no myelin.
    fn cell() -> Discretization {
        let mut d = Discretization::default();
        let secs: [(&str, SectionKind, &[f64]); 4] = [
            ("soma[0]", SectionKind::Soma, &[0.0]),
            ("dend[0]", SectionKind::Basal, &[10.0, 30.0, 50.0]),
            ("apic[0]", SectionKind::Apical, &[20.0, 137.3, 400.0]),
            ("axon[0]", SectionKind::Axon, &[15.0]),
        ];
        for (i, (name, kind, dists)) in secs.iter().enumerate() {
            let nseg = dists.len() as u32;
            d.sections.push(SectionGeom {
                name: name.to_string(),
                kind: *kind,
                nseg,
                length_um: 10.0 * f64::from(nseg),
                first_segment: SegmentId(d.segments.len() as u32),
                // topology is not used by resolution
                parent: None,
                ra_ohm_cm: 100.0,
                start_node: NodeId(0),
                end_node: NodeId(0),
            });
            for (j, &dist) in dists.iter().enumerate() {
                d.segments.push(Segment {
                    section: SectionId(i as u32),
                    x: (j as f64 + 0.5) / f64::from(nseg),
                    area_um2: 100.0,
                    ri_megaohm: 1.0,
                    diam_um: 1.0,
                    distance_um: dist,
                    node: NodeId(0),
                });
            }
        }
        d
    }

    fn sscx() -> EModel {
        let r = read_package(&packages_dir().join("emodelrunner/sscx_sample_dir"));
        r.emodels.into_iter().next().unwrap()
    }

    fn values(r: &ResolvedParameters, name: &str) -> Vec<Option<f64>> {
        r.range[name].clone()
    }

    #[test]
    fn sscx_values_per_segment_match_bluepyopt() {
        let (r, diags) = resolve_parameters(&sscx(), &cell());
        // one note: the cell has no myelin, so `myelinated` sets nothing
        let d: Vec<&str> = diags.iter().map(|d| d.kind).collect();
        assert_eq!(d, ["empty-location"], "{diags:#?}");
        assert!(diags.iter().next().unwrap().message.contains("myelinated"));
        let names = |s: usize| {
            r.section_mechanisms[s]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(0),
            [
                "pas",
                "CaDynamics_DC0",
                "Ca_HVA2",
                "Ca_LVAst",
                "SKv3_1",
                "SK_E2",
                "K_Pst",
                "K_Tst",
                "NaTg",
                "Ih"
            ]
        );
        assert_eq!(
            names(1),
            ["pas", "CaDynamics_DC0", "Ca_HVA2", "Ca_LVAst", "Ih"]
        );
        assert_eq!(
            names(2),
            [
                "pas",
                "CaDynamics_DC0",
                "Ca_HVA2",
                "Ca_LVAst",
                "NaTg",
                "SKv3_1",
                "Ih"
            ]
        );
        assert_eq!(
            names(3),
            [
                "pas",
                "CaDynamics_DC0",
                "Ca_HVA2",
                "Ca_LVAst",
                "SKv3_1",
                "SK_E2",
                "K_Pst",
                "K_Tst",
                "NaTg",
                "Nap_Et2"
            ]
        );
        assert_eq!(
            (r.global("v_init"), r.global("celsius")),
            (Some(-80.0), Some(34.0))
        );
        assert_eq!(r.ra_ohm_cm, [Some(100.0); 4]);
        let s = Some;
        assert_eq!(
            values(&r, "cm"),
            [
                s(1.0),
                s(2.0),
                s(2.0),
                s(2.0),
                s(2.0),
                s(2.0),
                s(2.0),
                s(1.0)
            ]
        );
        assert_eq!(values(&r, "g_pas"), [s(2.9406907117360732e-05); 8]);
        // eval(NrnSegmentSomaDistanceScaler(distribution=exp).eval_dist(0.00016020154747782431, d))
        // for d in 0, 10, 30, 50, 20, 137.3, 400
        assert_eq!(
            values(&r, "gIhbar_Ih"),
            [
                s(0.00019502936389950332),
                s(0.0002055562470917627),
                s(0.00022761478182959928),
                s(0.0002510842321705327),
                s(0.00021641457450568495),
                s(0.00037241524440314076),
                s(0.0010160407157286538),
                None
            ]
        );
        // decay with constant -0.0055559422855153305 on the apical dendrite; finals elsewhere
        assert_eq!(
            values(&r, "gNaTgbar_NaTg"),
            [
                s(0.27437938752385277),
                None,
                None,
                None,
                s(0.029077470256497148),
                s(0.015153804555970124),
                s(0.003520861091041819),
                s(0.5488045990951773)
            ]
        );
        assert_eq!(r.value("e_pas", SegmentId(5)), Some(-83.86327277350318));
        assert!(r.unset_free.is_empty());
    }

    #[test]
    fn a_parameter_where_its_mechanism_is_missing_is_an_error() {
        let mut em = sscx();
        let mut p = em
            .parameters
            .iter()
            .find(|p| p.key == "gNaTgbar_NaTg.somatic")
            .unwrap()
            .clone();
        p.target = ParamTarget::Section {
            location: Location::standard("basal").unwrap(),
        };
        em.parameters.push(p);
        let (_, diags) = resolve_parameters(&em, &cell());
        let e: Vec<(&str, &str)> = diags
            .iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
            .map(|d| (d.kind, d.message.as_str()))
            .collect();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "mechanism-not-inserted");
        assert!(
            e[0].1.contains("dend[0]") && e[0].1.contains("`NaTg`"),
            "{e:?}"
        );
    }

    #[test]
    fn later_parameters_override_earlier_ones() {
        let mut em = sscx();
        let mut p = em
            .parameters
            .iter()
            .find(|p| p.key == "cm.axonal")
            .unwrap()
            .clone();
        p.target = ParamTarget::Section {
            location: Location::standard("all").unwrap(),
        };
        p.value = ParamValue::Fixed(PyNum::Float(0.75));
        em.parameters.push(p);
        let (r, _) = resolve_parameters(&em, &cell());
        assert_eq!(values(&r, "cm"), [Some(0.75); 8]);
    }

    #[test]
    fn a_formula_failing_on_a_segment_is_reported() {
        let mut em = sscx();
        let f = crate::package::formula::Formula::parse("math.log({distance})*{value}").unwrap();
        let i = em
            .distributions
            .iter()
            .position(|d| d.name == "exp")
            .unwrap();
        em.distributions[i] = Distribution {
            formula: Some(f),
            ..em.distributions[i].clone()
        };
        let (r, diags) = resolve_parameters(&em, &cell());
        let err = diags.iter().find(|d| d.kind == "formula-eval").unwrap();
        // the soma's distance is 0: math.log(0) fails, as in Python
        assert!(
            err.message.contains("soma[0]") && err.message.contains("math domain error"),
            "{err}"
        );
        assert!(err.file.ends_with("config/params/pyr.json") && err.pos.is_some());
        // somadend visits apical, basal, then somatic: the dendrites were set before the failure
        // math.log(10)*0.00016020154747782431
        assert_eq!(
            r.value("gIhbar_Ih", SegmentId(1)),
            Some(0.00036887769509701617)
        );
    }

    #[test]
    fn free_parameters_without_values_are_left_unset_with_a_warning() {
        let r = read_package(&packages_dir().join("bluepyemodel/L5PC"));
        let em = &r.emodels[0];
        let (res, diags) = resolve_parameters(em, &cell());
        assert!(res.unset_free.iter().any(|k| k == "g_pas.all"));
        assert_eq!(res.unset_free.len(), 31);
        assert!(!res.range.contains_key("g_pas"));
        assert_eq!(res.ra_ohm_cm[0], Some(100.0));
        assert!(!diags.has_errors(), "{diags:#?}");
    }

    #[test]
    fn every_real_emodel_resolves_without_errors() {
        let (pkgs, _) = crate::package::discover(&packages_dir());
        let mut n = 0;
        for p in pkgs {
            for em in read_package(&p).emodels {
                let (r, diags) = resolve_parameters(&em, &cell());
                assert!(!diags.has_errors(), "{}: {diags:#?}", em.label());
                assert!(r.global("celsius").is_some(), "{}", em.label());
                n += 1;
            }
        }
        assert_eq!(n, 7);
    }

    #[test]
    fn the_owner_of_a_parameter_is_the_longest_matching_suffix() {
        assert_eq!(
            owner("gSKv3_1bar_SKv3_1", &["SKv3_1", "K_Pst"]),
            Some("SKv3_1")
        );
        assert_eq!(owner("gbar_Ca_HVA", &["HVA", "Ca_HVA"]), Some("Ca_HVA"));
        assert_eq!(owner("gkbar_K", &["K", "bar_K"]), Some("K"));
        assert_eq!(owner("cm", &["pas"]), None);
        assert_eq!(owner("e_pas", &["pas"]), Some("pas"));
        let _ = Origin::new(std::path::Path::new("x"), None);
    }
}
