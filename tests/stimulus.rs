//! Electrode currents against NEURON: every protocol type of the real packages, emsweep's
//! examples and made-up e-codes and edge cases, recorded sample by sample by
//! `tests/reference/stimulus/generate.py` (IClamp.i summed over clamps, NEURON 9.0.2, fixed
//! step 0.025 ms). Every sample must agree within 1e-12 nA and every recorded time exactly.

use crate::common::{real_packages_dir, repo_root};
use emsweep::package::{
    ecode_for, ECode, ECodeProtocolType, EModel, Origin, Protocol, RampPulse, SquarePulse, Stimulus,
};
use emsweep::sim::stimulus::{build, FixedStepClock, LaneCurrents};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// |Δ| allowed per sample [nA].
const TOL_NA: f64 = 1e-12;

fn load(name: &str) -> Value {
    let path = repo_root()
        .join("tests/reference/stimulus")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn currents(case: &Value) -> LaneCurrents {
    let c = &case["currents"];
    LaneCurrents {
        holding_na: num(&c["holding"]),
        threshold_na: num(&c["threshold"]),
        step_na: None,
    }
}

/// The e-models of the package a reference file was made from.
fn package_emodels(doc: &Value) -> Vec<EModel> {
    let rel = doc["package"].as_str().unwrap();
    let dir: PathBuf = match doc["root"].as_str().unwrap() {
        "packages" => real_packages_dir().join(rel),
        _ => repo_root().join(rel),
    };
    let read = emsweep::package::read_package(&dir);
    assert!(
        !read.emodels.is_empty(),
        "no e-model read from {}",
        dir.display()
    );
    read.emodels
}

/// The protocol `name` of the protocol file `file` (relative to the package).
fn package_protocol(emodels: &[EModel], file: &str, name: &str) -> Protocol {
    for em in emodels {
        for set in &em.protocol_sets {
            if set.file.ends_with(file) {
                if let Some(p) = set.protocols.iter().find(|p| p.name == name) {
                    return p.clone();
                }
            }
        }
    }
    panic!("protocol {name} of {file} not found in the package")
}

fn pulse(v: &Value) -> SquarePulse {
    SquarePulse {
        delay_ms: v["delay"].as_f64().unwrap(),
        amp_na: v["amp"].as_f64(),
        duration_ms: v["duration"].as_f64().unwrap(),
        total_duration_ms: v["totduration"].as_f64().unwrap(),
    }
}

fn origin() -> Origin {
    Origin::new(Path::new("tests/reference/stimulus/synthetic.json"), None)
}

/// The synthetic EModelRunner-format definitions, read into the package model by hand.
fn synthetic_pulses(name: &str, def: &Value) -> Protocol {
    let stimuli = &def["stimuli"];
    let stimulus = match def["type"].as_str() {
        Some("StepProtocol") => Stimulus::Step {
            steps: stimuli["step"]
                .as_array()
                .unwrap()
                .iter()
                .map(pulse)
                .collect(),
            holding: stimuli.get("holding").map(pulse),
        },
        Some("RampProtocol") => {
            let r = &stimuli["ramp"];
            Stimulus::Ramp {
                ramp: RampPulse {
                    delay_ms: r["ramp_delay"].as_f64().unwrap(),
                    duration_ms: r["ramp_duration"].as_f64().unwrap(),
                    amp_start_na: r["ramp_amplitude_start"].as_f64(),
                    amp_end_na: r["ramp_amplitude_end"].as_f64(),
                    total_duration_ms: r["totduration"].as_f64().unwrap(),
                },
                holding: stimuli.get("holding").map(pulse),
            }
        }
        None => Stimulus::Pulses(stimuli.as_array().unwrap().iter().map(pulse).collect()),
        Some(other) => panic!("{other}"),
    };
    Protocol {
        name: name.into(),
        stimulus,
        recordings: Vec::new(),
        origin: origin(),
    }
}

/// A made-up e-code protocol, as the BluePyEModel reader would hold it.
fn synthetic_ecode(name: &str, ptype: &str, stim: &Value) -> Protocol {
    let (key, class) = ecode_for(name).unwrap();
    let mut params = Vec::new();
    let mut null_params = Vec::new();
    for (k, v) in stim.as_object().unwrap() {
        match v.as_f64() {
            Some(x) => params.push((k.clone(), x)),
            None => null_params.push(k.clone()),
        }
    }
    let protocol_type = match ptype {
        "Protocol" => ECodeProtocolType::Fixed,
        "ThresholdBasedProtocol" => ECodeProtocolType::ThresholdBased,
        other => panic!("{other}"),
    };
    Protocol {
        name: name.into(),
        stimulus: Stimulus::ECode(ECode {
            key,
            class,
            protocol_type,
            params,
            null_params,
        }),
        recordings: Vec::new(),
        origin: origin(),
    }
}

/// The recorded samples, expanded from runs.
fn expand(case: &Value) -> Vec<f64> {
    let n = case["n_samples"].as_u64().unwrap() as usize;
    let runs = case["i_runs"].as_array().unwrap();
    let mut out = Vec::with_capacity(n);
    for (i, r) in runs.iter().enumerate() {
        let start = r[0].as_u64().unwrap() as usize;
        let end = runs
            .get(i + 1)
            .map_or(n, |next| next[0].as_u64().unwrap() as usize);
        assert_eq!(out.len(), start);
        out.extend(std::iter::repeat_n(r[1].as_f64().unwrap(), end - start));
    }
    out
}

/// Compares one case; returns the largest |Δ| [nA].
fn check_case(
    file: &str,
    case: &Value,
    protocol: &Protocol,
    dt: f64,
    bad: &mut Vec<String>,
) -> f64 {
    let name = case["name"].as_str().unwrap();
    let lane = currents(case);
    let prog = match build(protocol, &[lane]) {
        Ok(p) => p,
        Err(d) => {
            bad.push(format!("{file} {name}: {}", d.message));
            return f64::NAN;
        }
    };
    if prog.tstop_ms != case["tstop"].as_f64().unwrap() {
        bad.push(format!(
            "{file} {name}: tstop {} vs {}",
            prog.tstop_ms, case["tstop"]
        ));
    }
    if prog.clamps.len() as u64 != case["clamps"].as_u64().unwrap() {
        bad.push(format!(
            "{file} {name}: {} clamps vs {}",
            prog.clamps.len(),
            case["clamps"]
        ));
    }
    let steps = FixedStepClock::steps(dt, prog.tstop_ms);
    let reference = expand(case);
    if steps.len() + 1 != reference.len() {
        bad.push(format!(
            "{file} {name}: {} samples vs {}",
            steps.len() + 1,
            reference.len()
        ));
        return f64::NAN;
    }
    for c in case["t_checks"].as_array().unwrap() {
        let k = c[0].as_u64().unwrap() as usize;
        let t = if k == 0 { 0.0 } else { steps[k - 1].end_ms };
        if t.to_bits() != c[1].as_f64().unwrap().to_bits() {
            bad.push(format!("{file} {name}: t[{k}] = {t:e} vs {}", c[1]));
        }
    }
    let mut worst = 0.0f64;
    let mut out = [0.0f64];
    for (k, want) in reference.iter().enumerate() {
        let t = if k == 0 { 0.0 } else { steps[k - 1].mid_ms };
        let got = prog.current_na(0, t);
        out[0] = 0.0;
        prog.add_currents_na(t, &mut out);
        let d = (got - want).abs();
        worst = worst.max(d);
        if (d > TOL_NA || out[0].to_bits() != got.to_bits()) && bad.len() < 40 {
            bad.push(format!(
                "{file} {name}: sample {k} (t {t}): {got:.17e} (hot loop {:.17e}) vs NEURON {want:.17e}",
                out[0]
            ));
        }
    }
    worst
}

#[test]
fn electrode_currents_match_neuron_sample_by_sample() {
    let files = [
        "emodelrunner_sscx",
        "emodelrunner_thalamus",
        "examples_ball_and_stick_hh",
        "bluepyopt_l5pc",
        "bluepyemodel_L5PC",
        "bluepyemodel_simplecell",
        "examples_two_compartment_swc",
        "synthetic",
    ];
    let mut bad = Vec::new();
    let mut report = Vec::new();
    let mut cases = 0;
    for file in files {
        let doc = load(file);
        let dt = doc["dt"].as_f64().unwrap();
        let emodels = if doc["package"].is_null() {
            Vec::new()
        } else {
            package_emodels(&doc)
        };
        let mut worst = 0.0f64;
        for case in doc["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let protocol = if let Some(def) = case.get("definition") {
                synthetic_pulses(name, def)
            } else if let Some(stim) = case.get("stimulus") {
                synthetic_ecode(name, case["protocol_type"].as_str().unwrap(), stim)
            } else {
                package_protocol(&emodels, case["file"].as_str().unwrap(), name)
            };
            worst = worst.max(check_case(file, case, &protocol, dt, &mut bad));
            cases += 1;
        }
        report.push(format!("{file}: max |Δi| = {worst:.3e} nA"));
    }
    println!("{cases} protocols\n{}", report.join("\n"));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(cases >= 60, "only {cases} cases");
}

/// A lane batch gives every lane what it gives alone.
#[test]
fn lanes_are_independent() {
    let doc = load("synthetic");
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "sAHP_rel")
        .unwrap();
    let protocol = synthetic_ecode("sAHP_rel", "ThresholdBasedProtocol", &case["stimulus"]);
    let lanes: Vec<LaneCurrents> = (0..5)
        .map(|i| LaneCurrents {
            holding_na: Some(-0.05 + 0.01 * i as f64),
            threshold_na: Some(0.1 + 0.03 * i as f64),
            step_na: None,
        })
        .collect();
    let batch = build(&protocol, &lanes).unwrap();
    let alone: Vec<_> = lanes
        .iter()
        .map(|l| build(&protocol, &[*l]).unwrap())
        .collect();
    let mut out = vec![0.0; lanes.len()];
    for st in FixedStepClock::steps(0.025, batch.tstop_ms) {
        out.iter_mut().for_each(|o| *o = 0.0);
        batch.add_currents_na(st.mid_ms, &mut out);
        for (l, a) in alone.iter().enumerate() {
            assert_eq!(out[l].to_bits(), a.current_na(0, st.mid_ms).to_bits());
        }
    }
}
