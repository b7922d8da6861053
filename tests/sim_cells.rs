//! Whole-cell simulation against NEURON 9.0.2 beyond the SSCx sample: the thalamus sample's
//! `dNAD_ltb` on its threshold-based protocols at the currents EModelRunner's own searches found,
//! and the synplas sample's two e-models (fixhp applied) under a step clamp
//! (tests/reference/traces: generator, data, provenance, criteria).

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::Precision;
use emsweep::engine::{
    run, Batch, CellModel, LaneSpec, LaneStimulus, MechanismLibrary, Probe, Quantity, RunConfig,
};
use emsweep::package::{EModel, Stimulus};
use emsweep::sim::stimulus::{Amplitude, Clamp, StimulusProgram};
use serde_json::Value;

use crate::common::{real_packages_dir, repo_root};

/// Spike detection threshold of spec/NUMERICS.md [mV].
const SPIKE_THRESHOLD_MV: f64 = -20.0;
/// Acceptance criteria (tests/reference/traces/README.md).
const SPIKE_TIME_TOL_MS: f64 = 1e-3;
const PRE_SPIKE_DV_TOL_MV: f64 = 1e-4;

fn render(d: &emsweep::diag::Diagnostics) -> String {
    d.iter()
        .map(|x| x.render(None))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The e-model `name` of package `package` (below the packages folder) and its cell model.
fn load(package: &str, name: &str) -> (EModel, CellModel) {
    let read = emsweep::package::read_package(&real_packages_dir().join(package));
    assert!(
        !read.diagnostics.has_errors(),
        "{}",
        render(&read.diagnostics)
    );
    let em = read
        .emodels
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} in {package}"));
    let (cell, d) = emsweep::cell::build(&em);
    assert!(!d.has_errors(), "{}", render(&d));
    let (lib, d) = MechanismLibrary::for_emodel(&em);
    assert!(!d.has_errors(), "{}", render(&d));
    let (model, d) = CellModel::new(&cell.unwrap(), &lib, em.celsius, em.v_init_mv);
    assert!(!d.has_errors(), "{}", render(&d));
    (em, model.unwrap())
}

/// The reference header and, per trace, its header entry and NEURON's voltage.
fn reference(case: &str) -> (Value, Vec<(Value, Vec<f64>)>) {
    let dir = repo_root().join("tests/reference/traces");
    let header: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{case}.json"))).unwrap())
            .unwrap();
    let raw = std::fs::read(dir.join(header["raw_file"].as_str().unwrap())).unwrap();
    let values: Vec<f64> = raw
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let traces = header["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let off = t["offset"].as_u64().unwrap() as usize;
            let n = t["samples"].as_u64().unwrap() as usize;
            (t.clone(), values[off..off + n].to_vec())
        })
        .collect();
    (header, traces)
}

/// NEURON's settings of the reference runs agree with the e-model's.
fn assert_settings(header: &Value, em: &EModel) {
    let s = &header["settings"];
    assert_eq!(s["celsius"].as_f64(), Some(em.celsius), "celsius");
    assert_eq!(s["v_init"].as_f64(), Some(em.v_init_mv), "v_init");
    assert_eq!(s["secondorder"].as_i64(), Some(0));
    assert_eq!(s["cvode_active"].as_i64(), Some(0));
}

/// Square pulses at the soma, in the order of the header's stimuli (NEURON's `IClamp` order),
/// for one lane.
fn square_electrodes(model: &CellModel, stimuli: &[Value]) -> Option<LaneStimulus> {
    let clamps: Vec<Clamp> = stimuli
        .iter()
        .enumerate()
        .map(|(k, s)| {
            assert_eq!(s["kind"], "square");
            assert_eq!(s["location"], "soma[0](0.5)");
            let delay_ms = s["delay_ms"].as_f64().unwrap();
            Clamp {
                label: format!("clamp {k}"),
                delay_ms,
                stop_ms: delay_ms + s["duration_ms"].as_f64().unwrap(),
                amplitude: Amplitude::Fixed(vec![s["amp_na"].as_f64().unwrap()]),
            }
        })
        .collect();
    let program = StimulusProgram {
        protocol: "reference".into(),
        lanes: 1,
        tstop_ms: clamps.iter().map(|c| c.stop_ms).fold(0.0, f64::max),
        clamps,
    };
    Some(LaneStimulus::lanes_of(program, model.soma_node).remove(0))
}

/// Upward crossings of the threshold, linearly interpolated between samples `dt_ms` apart.
fn spike_times(v: &[f64], dt_ms: f64) -> Vec<f64> {
    v.windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < SPIKE_THRESHOLD_MV && w[1] >= SPIKE_THRESHOLD_MV)
        .map(|(i, w)| (i as f64 + (SPIKE_THRESHOLD_MV - w[0]) / (w[1] - w[0])) * dt_ms)
        .collect()
}

/// Runs the lanes in f64 and returns each lane's soma voltage.
fn run_f64(model: &CellModel, lanes: Vec<LaneSpec>, tstop_ms: f64, dt_ms: f64) -> Vec<Vec<f64>> {
    let batch = Batch { model, lanes };
    let config = RunConfig {
        dt_ms,
        steps: RunConfig::steps_for(tstop_ms, dt_ms),
        record_every: 1,
        probes: vec![Probe {
            node: model.soma_node,
            quantity: Quantity::V,
        }],
    };
    let out = run(&CpuBackend::new(Precision::F64), &batch, &config)
        .unwrap_or_else(|d| panic!("{}", render(&d)));
    out.lanes.into_iter().map(|l| l.traces[0].clone()).collect()
}

/// Compares one trace with NEURON's by the README's criteria; returns (spike count, worst spike
/// time difference [ms], worst |ΔV| before min(first spike) − 1 ms [mV]).
fn check(label: &str, ours: &[f64], theirs: &[f64], dt_ms: f64) -> (usize, f64, f64) {
    assert_eq!(ours.len(), theirs.len(), "{label}: sample counts");
    let a = spike_times(ours, dt_ms);
    let b = spike_times(theirs, dt_ms);
    assert_eq!(
        a.len(),
        b.len(),
        "{label}: spike counts (ours {a:?}, NEURON {b:?})"
    );
    let worst_dt = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let first = a.iter().chain(&b).copied().fold(f64::INFINITY, f64::min);
    let worst_dv = ours
        .iter()
        .zip(theirs)
        .enumerate()
        .take_while(|(i, _)| (*i as f64) * dt_ms < first - 1.0)
        .map(|(_, (x, y))| (x - y).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "{label}: {} spikes, worst spike Δt {worst_dt:e} ms, worst pre-spike |ΔV| {worst_dv:e} mV",
        a.len()
    );
    assert!(
        worst_dt <= SPIKE_TIME_TOL_MS,
        "{label}: spike times differ by {worst_dt} ms (ours {a:?}, NEURON {b:?})"
    );
    assert!(
        worst_dv <= PRE_SPIKE_DV_TOL_MV,
        "{label}: |ΔV| before the first spike up to {worst_dv} mV"
    );
    (a.len(), worst_dt, worst_dv)
}

/// The thalamus sample's `Step_200` and `Step_200_hyp` (100 ms each, one batch of two lanes): the
/// package's `StepThresholdProtocol`s at the holding and threshold currents EModelRunner's
/// searches found (recorded by the generator), against NEURON.
#[test]
fn thalamus_threshold_protocols_match_neuron() {
    let (em, model) = load("emodelrunner/thalamus_sample_dir", "dNAD_ltb");
    let (header, refs) = reference("thalamus_dNAD_ltb");
    assert_settings(&header, &em);
    assert_eq!(refs.len(), 2);
    let dt = em.dt_ms;
    let mut lanes = Vec::new();
    let mut tstop_ms = None;
    for (t, _) in &refs {
        let name = t["protocol"].as_str().unwrap();
        let p = em
            .protocols()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("protocol {name} in the package"));
        let Stimulus::StepThreshold {
            steps,
            thresh_perc,
            holding,
        } = &p.stimulus
        else {
            panic!("{name}: not a StepThresholdProtocol: {:?}", p.stimulus)
        };
        // the amplitudes EModelRunner's StepThresholdProtocol gives NEURON: `_hyp` protocols use
        // the hyperpolarised search's currents, the others the depolarised one's
        let side = if name.ends_with("_hyp") { "hyp" } else { "dep" };
        let search = &t["search"];
        let threshold = search[format!("threshold_current_{side}_na")]
            .as_f64()
            .unwrap();
        let holding_na = search[format!("holding_current_{side}_na")]
            .as_f64()
            .unwrap();
        assert_eq!(t["thresh_perc"].as_f64(), Some(*thresh_perc), "{name}");
        assert_eq!(steps.len(), 1, "{name}");
        let stim = t["stimuli"].as_array().unwrap();
        assert_eq!(stim.len(), 2, "{name}: step, then holding");
        let f = |i: usize, k: &str| stim[i][k].as_f64().unwrap();
        assert_eq!(
            (f(0, "delay_ms"), f(0, "duration_ms"), f(0, "amp_na")),
            (
                steps[0].delay_ms,
                steps[0].duration_ms,
                threshold * (thresh_perc / 100.0)
            ),
            "{name}: step"
        );
        assert_eq!(
            (f(1, "delay_ms"), f(1, "duration_ms"), f(1, "amp_na")),
            (holding.delay_ms, holding.duration_ms, holding_na),
            "{name}: holding"
        );
        let tstop = p.stimulus.tstop_ms();
        assert_eq!(t["tstop_ms"].as_f64(), Some(tstop), "{name}");
        assert!(tstop_ms.is_none_or(|x| x == tstop));
        tstop_ms = Some(tstop);
        lanes.push(LaneSpec {
            values: model.own_lane().unwrap(),
            stimulus: square_electrodes(&model, stim),
        });
    }
    let ours = run_f64(&model, lanes, tstop_ms.unwrap(), dt);
    for ((t, theirs), ours) in refs.iter().zip(&ours) {
        let (spikes, _, _) = check(t["protocol"].as_str().unwrap(), ours, theirs, dt);
        assert!(spikes > 0, "the threshold protocols make the cell fire");
    }
}

/// The synplas sample's post-cell (`cADpyr_L4UPC`) and pre-cell (`cADpyr_L4TPC`), each built as
/// EModelRunner's pair simulation builds it (fixhp), under the generator's step clamp, against
/// NEURON.
#[test]
fn synplas_pair_cells_match_neuron() {
    let (header, refs) = reference("synplas_pair");
    assert_eq!(refs.len(), 2);
    for (t, theirs) in &refs {
        let name = t["emodel"].as_str().unwrap();
        assert_eq!(t["fixhp"], true);
        let (em, model) = load("emodelrunner/synplas_sample_dir", name);
        assert_settings(&header, &em);
        assert_eq!(em.dt_ms, header["settings"]["dt"].as_f64().unwrap());
        let lanes = vec![LaneSpec {
            values: model.own_lane().unwrap(),
            stimulus: square_electrodes(&model, t["stimuli"].as_array().unwrap()),
        }];
        let ours = run_f64(&model, lanes, t["tstop_ms"].as_f64().unwrap(), em.dt_ms);
        let (spikes, _, _) = check(name, &ours[0], theirs, em.dt_ms);
        assert!(spikes > 0, "{name}: the step makes the cell fire");
    }
}
