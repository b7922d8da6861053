//! Whole-cell simulation against NEURON 9.0.2 beyond the SSCx sample: the thalamus sample's
//! `dNAD_ltb` on its threshold-based protocols at the currents EModelRunner's own searches found,
//! and the synplas sample's two e-models (fixhp applied) under a step clamp
//! (tests/reference/traces: generator, data, provenance, criteria).

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::run;
use emsweep::backend::Precision;
use emsweep::engine::{Batch, CellModel, LaneSpec, LaneStimulus, Probe, Quantity, RunConfig};
use emsweep::package::{EModel, Stimulus};
use emsweep::sim::stimulus::{Amplitude, Clamp, StimulusProgram};
use serde_json::Value;

use crate::sim::{compare, reference, render, PRE_SPIKE_DV_TOL_MV, SPIKE_TIME_TOL_MS};

use crate::common::load;

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
        spike_detector: None,
    };
    let out = run(&CpuBackend::new(Precision::F64), &batch, &config)
        .unwrap_or_else(|d| panic!("{}", render(&d)));
    out.lanes.into_iter().map(|l| l.traces[0].clone()).collect()
}

/// Compares one trace with NEURON's by the README's criteria; returns (spike count, worst spike
/// time difference [ms], worst |ΔV| before min(first spike) − 1 ms [mV]).
fn check(label: &str, ours: &[f64], theirs: &[f64], dt_ms: f64) -> usize {
    let c = compare(ours, theirs, dt_ms);
    eprintln!(
        "{label}: {} spikes, worst spike Δt {:e} ms, worst pre-spike |ΔV| {:e} mV",
        c.spikes_ours, c.worst_spike_dt_ms, c.worst_pre_spike_dv_mv
    );
    assert_eq!(c.spikes_ours, c.spikes_ref, "{label}: spike counts");
    assert!(
        c.worst_spike_dt_ms <= SPIKE_TIME_TOL_MS,
        "{label}: spike times differ by {} ms",
        c.worst_spike_dt_ms
    );
    assert!(
        c.worst_pre_spike_dv_mv <= PRE_SPIKE_DV_TOL_MV,
        "{label}: |ΔV| before the first spike up to {} mV",
        c.worst_pre_spike_dv_mv
    );
    c.spikes_ours
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
    for r in &refs {
        let t = &r.entry;
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
    for (r, ours) in refs.iter().zip(&ours) {
        let spikes = check(&r.protocol, ours, &r.v_mv, dt);
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
    for r in &refs {
        let (t, theirs) = (&r.entry, &r.v_mv);
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
        let spikes = check(name, &ours[0], theirs, em.dt_ms);
        assert!(spikes > 0, "{name}: the step makes the cell fire");
    }
}
