//! Recording locations against NEURON: for every extra recording of the real packages (and of
//! the examples) and a grid of made-up locations on five cells, the section, position, voltage
//! node and segment that the tools' location classes pick under NEURON 9.0.2
//! (`tests/reference/probe/generate.py`) must be what `emsweep::sim::probe` picks.

use crate::common::{real_packages_dir, repo_root};
use emsweep::cell::Cell;
use emsweep::package::{EModel, RecordingSite};
use emsweep::sim::probe::{locate, location_of, read_points, resolve, Location};
use serde_json::Value;
use std::path::PathBuf;

/// |Δx| allowed (x is a ratio of path distances) [1].
const X_TOL: f64 = 1e-12;

fn load(case: &str) -> Value {
    let path = repo_root()
        .join("tests/reference/probe")
        .join(format!("{case}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn build(dir: PathBuf, emodel: &str, morph_hint: &str) -> (EModel, Cell) {
    let read = emsweep::package::read_package(&dir);
    let em = read
        .emodels
        .into_iter()
        .find(|m| m.name == emodel && m.morphology.to_string_lossy().contains(morph_hint))
        .unwrap_or_else(|| panic!("no e-model {emodel} in {}", dir.display()));
    let (cell, diags) = emsweep::cell::build(&em);
    assert!(!diags.has_errors(), "{}: cell not built", dir.display());
    (em, cell.unwrap())
}

/// What NEURON reported for (section, x): "segment k", "start" or "end", and the segment.
fn describe(cell: &Cell, section: emsweep::morph::SectionId, x: f64) -> (String, u32) {
    let (segment, node) = read_points(&cell.disc, section, x);
    let g = &cell.disc.sections[section.index()];
    let k = segment.0 - g.first_segment.0;
    let v_node = if node == g.start_node {
        "start".to_string()
    } else if node == g.end_node {
        "end".to_string()
    } else {
        let seg = cell.disc.nodes[node.index()].segment.unwrap();
        format!("segment {}", seg.0 - g.first_segment.0)
    };
    (v_node, k)
}

/// The made-up locations, in the tools' terms.
fn synthetic(rec: &Value, em: &EModel) -> Result<Location, String> {
    let d = || rec["somadistance"].as_f64().unwrap();
    let list = || rec["seclist_name"].as_str().unwrap().to_string();
    match rec["type"].as_str().unwrap() {
        "somadistance" => Ok(Location::SomaDistance {
            seclist: list(),
            distance_um: d(),
        }),
        "somadistanceapic" => {
            let mut em = em.clone();
            em.apical_point_isec = rec["apical_point_isec"].as_u64().map(|i| i as u32);
            location_of(
                &RecordingSite::SomaDistanceApic {
                    distance_um: d(),
                    seclist: list(),
                },
                &em,
            )
        }
        "bluepyemodel_somadistanceapic" => Ok(Location::Trunk {
            seclist: list(),
            distance_um: d(),
        }),
        "bluepyemodel_ais" => location_of(&RecordingSite::Ais, em),
        "nrnseclistcomp" => Ok(Location::SeclistComp {
            seclist: list(),
            sec_index: rec["sec_index"].as_u64().unwrap() as u32,
            comp_x: rec["comp_x"].as_f64().unwrap(),
        }),
        other => panic!("{other}"),
    }
}

fn compare(case: &str, em: &EModel, cell: &Cell) {
    let reference = load(case);
    let mut bad = Vec::new();
    let (mut worst_x, mut found, mut errors, mut packaged) = (0.0f64, 0, 0, 0);
    for loc in reference["locations"].as_array().unwrap() {
        let rec = &loc["recording"];
        let ours: Result<(emsweep::morph::SectionId, f64), String> = if loc["file"].is_null() {
            synthetic(rec, em).and_then(|l| locate(cell, &l))
        } else {
            packaged += 1;
            let file = loc["file"].as_str().unwrap();
            let protocol = em
                .protocol_sets
                .iter()
                .filter(|s| s.file.ends_with(file))
                .flat_map(|s| &s.protocols)
                .find(|p| p.name == loc["protocol"].as_str().unwrap())
                .unwrap_or_else(|| panic!("{case}: protocol {} of {file}", loc["protocol"]));
            let name = format!(
                "{}.{}",
                rec["name"].as_str().unwrap(),
                rec["var"].as_str().unwrap()
            );
            let r = protocol
                .recordings
                .iter()
                .find(|r| r.name == name)
                .unwrap_or_else(|| panic!("{case}: recording {name}"));
            resolve(r, em, cell).map(|p| {
                let (v_node, _) = describe(cell, p.section, p.x);
                let (seg, node) = read_points(&cell.disc, p.section, p.x);
                assert_eq!((seg, node), (p.segment, p.node), "{v_node}");
                (p.section, p.x)
            })
        };
        let what = format!("{case} {rec}");
        match (&ours, loc.get("error")) {
            (Err(_), Some(_)) => errors += 1,
            (Err(m), None) => bad.push(format!(
                "{what}: ours fails ({m}), NEURON finds {}",
                loc["section"]
            )),
            (Ok((s, x)), Some(e)) => bad.push(format!(
                "{what}: ours {}({x}), NEURON fails ({e})",
                cell.disc.sections[s.index()].name
            )),
            (Ok((s, x)), None) => {
                found += 1;
                let name = &cell.disc.sections[s.index()].name;
                let rx = loc["x"].as_f64().unwrap();
                worst_x = worst_x.max((x - rx).abs());
                let (v_node, seg) = describe(cell, *s, *x);
                if name != loc["section"].as_str().unwrap()
                    || (x - rx).abs() > X_TOL
                    || v_node != loc["v_node"].as_str().unwrap()
                    || u64::from(seg) != loc["segment"].as_u64().unwrap()
                {
                    bad.push(format!(
                        "{what}: ours {name}({x:.17}) {v_node} seg {seg}, NEURON {}({rx:.17}) {} seg {}",
                        loc["section"], loc["v_node"], loc["segment"]
                    ));
                }
            }
        }
    }
    println!(
        "{case}: {found} located ({packaged} packaged), {errors} refused by both, max |Δx| = {worst_x:.2e}"
    );
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(found > 20, "{case}: only {found} locations");
}

#[test]
fn sscx_recordings_are_where_neuron_reads_them() {
    let (em, cell) = build(
        real_packages_dir().join("emodelrunner/sscx_sample_dir"),
        "cADpyr_L4UPC",
        "",
    );
    compare("sscx_cADpyr_L4UPC", &em, &cell);

    // Every protocol starts with soma.v, read at soma[0](0.5)'s node.
    let protocol = em.protocols().find(|p| p.name == "Ramp").unwrap();
    let (probes, diags) = emsweep::sim::probe::resolve_protocol(protocol, &em, &cell);
    assert!(!diags.has_errors());
    assert_eq!(probes.len(), protocol.recordings.len());
    let soma = &probes[0];
    assert_eq!((soma.name.as_str(), soma.x), ("soma.v", 0.5));
    assert_eq!(cell.disc.sections[soma.section.index()].name, "soma[0]");
    assert_eq!(soma.node, cell.disc.segments[soma.segment.0 as usize].node);
    assert_eq!(probes[1].variable, emsweep::sim::probe::ProbeVariable::Cai);

    // What the tools refuse is refused: a variable emsweep does not record, and EModelRunner's
    // somadistanceapic on a list it maps to no section array (a KeyError there).
    let mut rec = protocol.recordings[0].clone();
    rec.variable = "ik".into();
    assert!(resolve(&rec, &em, &cell).is_err());
    rec.variable = "v".into();
    rec.site = RecordingSite::SomaDistanceApic {
        distance_um: 50.0,
        seclist: "basal".into(),
    };
    assert!(resolve(&rec, &em, &cell).is_err());
}

#[test]
fn thalamus_locations_are_neurons() {
    let (em, cell) = build(
        real_packages_dir().join("emodelrunner/thalamus_sample_dir"),
        "dNAD_ltb",
        "",
    );
    compare("thalamus_dNAD_ltb", &em, &cell);
}

#[test]
fn synplas_locations_are_neurons() {
    let dir = real_packages_dir().join("emodelrunner/synplas_sample_dir");
    let (em, cell) = build(dir.clone(), "cADpyr_L4UPC", "C120398A-P3");
    compare("synplas_cADpyr_L4UPC", &em, &cell);
    let (em, cell) = build(dir, "cADpyr_L4TPC", "sm100429a1-5_INT_idG_axon");
    compare("synplas_cADpyr_L4TPC", &em, &cell);
}

#[test]
fn example_recordings_are_where_neuron_reads_them() {
    let (em, cell) = build(
        repo_root().join("examples/ball_and_stick_hh"),
        "ballstick_hh",
        "",
    );
    compare("examples_ball_and_stick_hh", &em, &cell);
}
