//! The cell emsweep builds from a real package is NEURON's cell, number for number: every section,
//! segment area, axial resistance, diameter, path distance and parameter value against the references
//! that `tests/reference/geometry/generate.py` read from NEURON 9.0.2 through the packages' own tools.

use crate::common::{real_packages_dir, repo_root};
use emsweep::cell::Cell;
use serde_json::Value;
use std::collections::BTreeMap;

/// |Δ| ≤ RTOL·|ref| + ATOL, in the quantity's own unit (tests/reference/geometry/README.md).
const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-12;

fn close(ours: f64, reference: f64) -> bool {
    (ours - reference).abs() <= RTOL * reference.abs() + ATOL
}

fn load_reference(case: &str) -> Value {
    let path = repo_root()
        .join("tests/reference/geometry")
        .join(format!("{case}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Build the cells of the package at `rel` (below the bootstrap's packages folder) and return the
/// one named `emodel` whose morphology file name contains `morph_hint`.
fn build(rel: &str, emodel: &str, morph_hint: &str) -> Cell {
    let dir = real_packages_dir().join(rel);
    let read = emsweep::package::read_package(&dir);
    assert!(
        !read.diagnostics.has_errors(),
        "{}",
        render(&read.diagnostics)
    );
    let emodels = read.emodels;
    let model = emodels
        .iter()
        .find(|m| m.name == emodel && m.morphology.to_string_lossy().contains(morph_hint))
        .unwrap_or_else(|| {
            let names: Vec<_> = emodels
                .iter()
                .map(|m| (m.name.clone(), m.morphology.clone()))
                .collect();
            panic!("no e-model {emodel} with morphology ~{morph_hint} in {rel}: {names:?}")
        });
    let (cell, diags) = emsweep::cell::build(model);
    assert!(!diags.has_errors(), "{}", render(&diags));
    cell.expect("cell built without errors")
}

fn render(d: &emsweep::diag::Diagnostics) -> String {
    d.iter()
        .map(|x| x.render(None))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compare everything; collect every mismatch so one run shows them all.
fn compare(case: &str, cell: &Cell) {
    let reference = load_reference(case);
    let mut bad: Vec<String> = Vec::new();
    let mut worst: BTreeMap<&str, f64> = BTreeMap::new();
    let mut check = |what: &'static str, at: &str, ours: f64, r: f64, bad: &mut Vec<String>| {
        let rel = (ours - r).abs() / r.abs().max(1e-300);
        let e = worst.entry(what).or_insert(0.0);
        *e = e.max(if r == 0.0 { (ours - r).abs() } else { rel });
        if !close(ours, r) {
            bad.push(format!("{at} {what}: ours {ours:.17e} ref {r:.17e}"));
        }
    };

    // Counts per list.
    for (kind, counts) in reference["counts"].as_object().unwrap() {
        for (list_name, n) in counts.as_object().unwrap() {
            let list = emsweep::morph::SectionList::from_name(list_name).unwrap();
            let ours = match kind.as_str() {
                "sections" => cell.disc.sections_in(list).count(),
                _ => cell
                    .disc
                    .sections_in(list)
                    .map(|s| cell.disc.sections[s.index()].nseg as usize)
                    .sum(),
            };
            if ours as u64 != n.as_u64().unwrap() {
                bad.push(format!("{kind} in {list_name}: ours {ours} ref {n}"));
            }
        }
    }

    let ref_sections = reference["sections"].as_array().unwrap();
    let by_name: BTreeMap<&str, usize> = cell
        .disc
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    for rs in ref_sections {
        let name = rs["name"].as_str().unwrap();
        let Some(&i) = by_name.get(name) else {
            bad.push(format!("section {name} missing"));
            continue;
        };
        let s = &cell.disc.sections[i];
        if s.nseg as u64 != rs["nseg"].as_u64().unwrap() {
            bad.push(format!("{name} nseg: ours {} ref {}", s.nseg, rs["nseg"]));
        }
        check("L", name, s.length_um, rs["L"].as_f64().unwrap(), &mut bad);
        check(
            "Ra",
            name,
            cell.section_ra_ohm_cm(emsweep::morph::SectionId(i as u32)),
            rs["Ra"].as_f64().unwrap(),
            &mut bad,
        );
        let parent = cell.parent_of(emsweep::morph::SectionId(i as u32));
        let ours_parent = parent.map(|(p, x)| (cell.disc.sections[p.index()].name.clone(), x));
        let ref_parent = rs["parent"]
            .as_str()
            .map(|p| (p.to_string(), rs["parent_x"].as_f64().unwrap()));
        if ours_parent != ref_parent {
            bad.push(format!(
                "{name} parent: ours {ours_parent:?} ref {ref_parent:?}"
            ));
        }
        let mut ours_mechs = cell.mechanisms_of(emsweep::morph::SectionId(i as u32));
        ours_mechs.sort();
        let ref_mechs: Vec<String> = rs["mechanisms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect();
        if ours_mechs != ref_mechs {
            bad.push(format!(
                "{name} mechanisms: ours {ours_mechs:?} ref {ref_mechs:?}"
            ));
        }
    }

    let defaults = reference["defaults"].as_object().unwrap();
    let ref_segments = reference["segments"].as_array().unwrap();
    let mut seen_per_section: BTreeMap<&str, u32> = BTreeMap::new();
    for rseg in ref_segments {
        let sec_name = rseg["section"].as_str().unwrap();
        let k = seen_per_section.entry(sec_name).or_insert(0);
        let Some(&si) = by_name.get(sec_name) else {
            continue;
        };
        let sec = &cell.disc.sections[si];
        let seg_id = emsweep::discretize::SegmentId(sec.first_segment.0 + *k);
        *k += 1;
        let seg = &cell.disc.segments[seg_id.0 as usize];
        let at = format!("{sec_name}({})", rseg["x"]);
        check("x", &at, seg.x, rseg["x"].as_f64().unwrap(), &mut bad);
        check(
            "area",
            &at,
            seg.area_um2,
            rseg["area"].as_f64().unwrap(),
            &mut bad,
        );
        check(
            "ri",
            &at,
            cell.segment_ri_megaohm(seg_id),
            rseg["ri"].as_f64().unwrap(),
            &mut bad,
        );
        check(
            "diam",
            &at,
            seg.diam_um,
            rseg["diam"].as_f64().unwrap(),
            &mut bad,
        );
        check(
            "distance",
            &at,
            seg.distance_um,
            rseg["distance"].as_f64().unwrap(),
            &mut bad,
        );
        let ours = cell.parameters_at(seg_id);
        let ref_params = rseg["params"].as_object().unwrap();
        for (pname, rv) in ref_params {
            let rv = rv.as_f64().unwrap();
            match ours.get(pname.as_str()) {
                Some(&v) => check("param", &format!("{at} {pname}"), v, rv, &mut bad),
                None => {
                    // Not set by the package: NEURON must hold the default there.
                    let d = defaults.get(pname).and_then(|d| d.as_f64());
                    if d != Some(rv) {
                        bad.push(format!(
                            "{at} {pname}: not set by us, NEURON has {rv} (default {d:?})"
                        ));
                    }
                }
            }
        }
        for pname in ours.keys() {
            if !ref_params.contains_key(*pname) && defaults.contains_key(*pname) {
                bad.push(format!("{at} {pname}: set by us, absent in NEURON"));
            }
        }
    }
    assert_eq!(
        ref_segments.len(),
        cell.disc.segments.len(),
        "{case}: segment count"
    );
    eprintln!("{case}: worst relative deviation per quantity: {worst:?}");
    assert!(
        bad.is_empty(),
        "{case}: {} mismatches:\n{}",
        bad.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn sscx_sample_is_neurons_cell() {
    let cell = build("emodelrunner/sscx_sample_dir", "cADpyr_L4UPC", "");
    compare("sscx_cADpyr_L4UPC", &cell);
}

#[test]
fn thalamus_sample_is_neurons_cell() {
    let cell = build("emodelrunner/thalamus_sample_dir", "dNAD_ltb", "");
    compare("thalamus_dNAD_ltb", &cell);
}

#[test]
fn synplas_postcell_is_neurons_cell() {
    let cell = build(
        "emodelrunner/synplas_sample_dir",
        "cADpyr_L4UPC",
        "C120398A-P3",
    );
    compare("synplas_cADpyr_L4UPC", &cell);
}

#[test]
fn synplas_precell_is_neurons_cell() {
    let cell = build(
        "emodelrunner/synplas_sample_dir",
        "cADpyr_L4TPC",
        "sm100429a1-5_INT_idG_axon",
    );
    compare("synplas_cADpyr_L4TPC", &cell);
}

#[test]
fn bluepyemodel_simplecell_is_neurons_cell() {
    let cell = build("bluepyemodel/simplecell", "simplecell", "");
    compare("bluepyemodel_simplecell", &cell);
}
