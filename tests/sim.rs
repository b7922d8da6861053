//! Whole-cell simulation against NEURON 9.0.2: the SSCx sample cell `cADpyr_L4UPC` on its
//! fixed-amplitude protocols (tests/reference/traces: generator, data, provenance, criteria),
//! f32 against f64, layout invariance and failure isolation.

use std::path::PathBuf;
use std::sync::OnceLock;

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::Precision;
use emsweep::engine::{
    run, Batch, CellModel, Electrode, LaneSpec, MechanismLibrary, Probe, Quantity, RunConfig,
    RunOutput, Waveform,
};
use emsweep::package::{EModel, SquarePulse, Stimulus};
use serde_json::Value;

use crate::common::{real_packages_dir, repo_root};

/// Spike detection threshold of spec/NUMERICS.md [mV].
const SPIKE_THRESHOLD_MV: f64 = -20.0;
/// Acceptance criteria (tests/reference/traces/README.md).
const SPIKE_TIME_TOL_MS: f64 = 1e-3;
const PRE_SPIKE_DV_TOL_MV: f64 = 1e-4;
const F32_SPIKE_TIME_TOL_MS: f64 = 0.05;

struct Sscx {
    em: EModel,
    model: CellModel,
}

fn sscx() -> &'static Sscx {
    static CELL: OnceLock<Sscx> = OnceLock::new();
    CELL.get_or_init(|| {
        let dir = real_packages_dir().join("emodelrunner/sscx_sample_dir");
        let read = emsweep::package::read_package(&dir);
        assert!(
            !read.diagnostics.has_errors(),
            "{}",
            render(&read.diagnostics)
        );
        let em = read
            .emodels
            .into_iter()
            .find(|m| m.name == "cADpyr_L4UPC")
            .expect("cADpyr_L4UPC in the SSCx package");
        let (cell, d) = emsweep::cell::build(&em);
        assert!(!d.has_errors(), "{}", render(&d));
        let cell = cell.unwrap();
        let (lib, d) = MechanismLibrary::for_emodel(&em);
        assert!(!d.has_errors(), "{}", render(&d));
        let (model, d) = CellModel::new(&cell, &lib, em.celsius, em.v_init_mv);
        assert!(!d.has_errors(), "{}", render(&d));
        Sscx {
            model: model.unwrap(),
            em,
        }
    })
}

fn render(d: &emsweep::diag::Diagnostics) -> String {
    d.iter()
        .map(|x| x.render(None))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One NEURON trace of the reference file.
struct RefTrace {
    protocol: String,
    stimuli: Vec<Value>,
    tstop_ms: f64,
    v_mv: Vec<f64>,
}

fn reference(case: &str) -> (Value, Vec<RefTrace>) {
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
            RefTrace {
                protocol: t["protocol"].as_str().unwrap().to_string(),
                stimuli: t["stimuli"].as_array().unwrap().clone(),
                tstop_ms: t["tstop_ms"].as_f64().unwrap(),
                v_mv: values[off..off + n].to_vec(),
            }
        })
        .collect();
    (header, traces)
}

/// The electrodes emsweep makes from the package's own protocol `name` (the stimulus layer's
/// job; a minimal translation here): steps, then the holding current, at soma(0.5).
fn electrodes(em: &EModel, model: &CellModel, name: &str) -> Vec<Electrode> {
    let p = em
        .protocols()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("protocol {name}"));
    let square = |s: &SquarePulse| Waveform::Square {
        delay_ms: s.delay_ms,
        duration_ms: s.duration_ms,
        amp_na: s.amp_na.expect("fixed amplitude"),
    };
    let waves: Vec<Waveform> = match &p.stimulus {
        Stimulus::Step { steps, holding } => {
            steps.iter().chain(holding.as_ref()).map(square).collect()
        }
        Stimulus::Ramp { ramp, holding } => std::iter::once(Waveform::ramp(
            ramp.delay_ms,
            ramp.duration_ms,
            ramp.amp_start_na.expect("fixed amplitude"),
            ramp.amp_end_na.expect("fixed amplitude"),
            ramp.total_duration_ms,
        ))
        .chain(holding.as_ref().map(square))
        .collect(),
        other => panic!("{name}: not a fixed step or ramp: {other:?}"),
    };
    waves
        .into_iter()
        .map(|waveform| Electrode {
            node: model.soma_node,
            waveform,
        })
        .collect()
}

/// The electrodes agree with what NEURON was given (the reference header's stimuli).
fn assert_same_stimuli(name: &str, ours: &[Electrode], theirs: &[Value]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: electrode count");
    for (e, s) in ours.iter().zip(theirs) {
        let f = |k: &str| s[k].as_f64().unwrap();
        match (&e.waveform, s["kind"].as_str().unwrap()) {
            (
                Waveform::Square {
                    delay_ms,
                    duration_ms,
                    amp_na,
                },
                "square",
            ) => {
                assert_eq!(
                    (*delay_ms, *duration_ms, *amp_na),
                    (f("delay_ms"), f("duration_ms"), f("amp_na")),
                    "{name}"
                );
            }
            (Waveform::Played { points, .. }, "ramp") => {
                let env: Vec<(f64, f64)> = s["envelope"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                    .collect();
                assert_eq!(points, &env, "{name}");
            }
            (w, k) => panic!("{name}: {w:?} vs {k}"),
        }
    }
}

/// Upward crossings of the threshold, linearly interpolated between samples `dt_ms` apart.
fn spike_times(v: &[f64], dt_ms: f64) -> Vec<f64> {
    v.windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < SPIKE_THRESHOLD_MV && w[1] >= SPIKE_THRESHOLD_MV)
        .map(|(i, w)| (i as f64 + (SPIKE_THRESHOLD_MV - w[0]) / (w[1] - w[0])) * dt_ms)
        .collect()
}

fn run_lanes(
    precision: Precision,
    lanes: Vec<LaneSpec>,
    tstop_ms: f64,
    probes: Vec<Probe>,
) -> RunOutput {
    let s = sscx();
    let dt = s.em.dt_ms;
    let batch = Batch {
        model: &s.model,
        lanes,
    };
    let config = RunConfig {
        dt_ms: dt,
        steps: RunConfig::steps_for(tstop_ms, dt),
        record_every: 1,
        probes,
    };
    run(&CpuBackend::new(precision), &batch, &config).unwrap_or_else(|d| panic!("{}", render(&d)))
}

fn soma_v(model: &CellModel) -> Probe {
    Probe {
        node: model.soma_node,
        quantity: Quantity::V,
    }
}

#[test]
fn sscx_exploration() {
    let s = sscx();
    let (_h, refs) = reference("sscx_cADpyr_L4UPC");
    let mut lanes = Vec::new();
    let mut chosen = Vec::new();
    for r in refs.iter().filter(|r| r.tstop_ms == 300.0) {
        let el = electrodes(&s.em, &s.model, &r.protocol);
        assert_same_stimuli(&r.protocol, &el, &r.stimuli);
        lanes.push(LaneSpec {
            values: s.model.own_lane().unwrap(),
            electrodes: el,
        });
        chosen.push(r);
    }
    let t0 = std::time::Instant::now();
    let out = run_lanes(Precision::F64, lanes, 300.0, vec![soma_v(&s.model)]);
    eprintln!("wall {:?}", t0.elapsed());
    for (r, lane) in chosen.iter().zip(&out.lanes) {
        let ours = &lane.traces[0];
        let a = spike_times(ours, 0.025);
        let b = spike_times(&r.v_mv, 0.025);
        let first = a
            .first()
            .copied()
            .unwrap_or(f64::MAX)
            .min(b.first().copied().unwrap_or(f64::MAX));
        let lim = ((first - 1.0) / 0.025) as usize;
        let dv = ours
            .iter()
            .zip(&r.v_mv)
            .take(lim.min(ours.len()))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{} ours {:?}\n  neuron {:?}\n  dv {dv:e}  v[1] {} {}",
            r.protocol, a, b, ours[1], r.v_mv[1]
        );
    }
}

#[allow(dead_code)]
fn unused(_: PathBuf) {}
