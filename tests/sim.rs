//! Whole-cell simulation against NEURON 9.0.2: the SSCx sample cell `cADpyr_L4UPC` on its
//! fixed-amplitude protocols (tests/reference/traces: generator, data, provenance, criteria),
//! f32 against f64, layout invariance and failure isolation.

use std::sync::OnceLock;

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::run;
use emsweep::backend::Precision;
use emsweep::engine::{
    Batch, CellModel, LaneSpec, LaneStimulus, MechanismLibrary, Probe, Quantity, RunConfig,
    RunOutput,
};
use emsweep::package::EModel;
use emsweep::sim::stimulus::{self, Amplitude, Clamp, LaneCurrents};
use serde_json::Value;

use crate::common::{real_packages_dir, repo_root, squares};

/// Spike detection threshold of spec/NUMERICS.md [mV].
const SPIKE_THRESHOLD_MV: f64 = -20.0;
/// Acceptance criteria (tests/reference/traces/README.md).
pub(crate) const SPIKE_TIME_TOL_MS: f64 = 1e-3;
pub(crate) const PRE_SPIKE_DV_TOL_MV: f64 = 1e-4;
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

pub(crate) fn render(d: &emsweep::diag::Diagnostics) -> String {
    d.iter()
        .map(|x| x.render(None))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One NEURON trace of the reference file.
pub(crate) struct RefTrace {
    /// The trace's entry in the reference header (protocol, stimuli, currents, ...).
    pub(crate) entry: Value,
    pub(crate) protocol: String,
    stimuli: Vec<Value>,
    pub(crate) tstop_ms: f64,
    pub(crate) v_mv: Vec<f64>,
}

pub(crate) fn reference(case: &str) -> (Value, Vec<RefTrace>) {
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
                entry: t.clone(),
                protocol: t["protocol"].as_str().unwrap().to_string(),
                stimuli: t["stimuli"].as_array().unwrap().clone(),
                tstop_ms: t["tstop_ms"].as_f64().unwrap(),
                v_mv: values[off..off + n].to_vec(),
            }
        })
        .collect();
    (header, traces)
}

/// The electrode currents the stimulus layer makes from the package's own protocol `name`
/// (fixed amplitudes: no model currents needed), for one lane at soma(0.5).
fn stimulus_of(em: &EModel, model: &CellModel, name: &str) -> LaneStimulus {
    let p = em
        .protocols()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("protocol {name}"));
    let program = stimulus::build(p, &[LaneCurrents::default()])
        .unwrap_or_else(|d| panic!("{}", d.render(None)));
    LaneStimulus::lanes_of(program, model.soma_node).remove(0)
}

/// A played clamp's breakpoints `(t, amp)` of lane 0.
fn breakpoints(c: &Clamp) -> Vec<(f64, f64)> {
    match &c.amplitude {
        Amplitude::Played {
            times_ms,
            values_na,
        } => times_ms
            .iter()
            .copied()
            .zip(values_na.iter().copied())
            .collect(),
        Amplitude::Fixed(a) => panic!("{}: fixed amplitude {a:?}", c.label),
    }
}

/// The clamps agree with what NEURON was given (the reference header's stimuli).
fn assert_same_stimuli(name: &str, ours: &LaneStimulus, theirs: &[Value]) {
    let clamps = &ours.program.clamps;
    assert_eq!(clamps.len(), theirs.len(), "{name}: electrode count");
    for (c, s) in clamps.iter().zip(theirs) {
        let f = |k: &str| s[k].as_f64().unwrap();
        match s["kind"].as_str().unwrap() {
            "square" => {
                assert_eq!(c.amplitude, Amplitude::Fixed(vec![f("amp_na")]), "{name}");
                assert_eq!(
                    (c.delay_ms, c.stop_ms),
                    (f("delay_ms"), f("delay_ms") + f("duration_ms")),
                    "{name}"
                );
            }
            "ramp" => {
                let env: Vec<(f64, f64)> = s["envelope"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                    .collect();
                assert_eq!(breakpoints(c), env, "{name}");
            }
            k => panic!("{name}: {c:?} vs {k}"),
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
        spike_detector: None,
    };
    run(&CpuBackend::new(precision), &batch, &config).unwrap_or_else(|d| panic!("{}", render(&d)))
}

fn soma_v(model: &CellModel) -> Probe {
    Probe {
        node: model.soma_node,
        quantity: Quantity::V,
    }
}

/// How one emsweep trace compares with NEURON's (spec/NUMERICS.md).
#[derive(Debug)]
pub(crate) struct Comparison {
    pub(crate) spikes_ours: usize,
    pub(crate) spikes_ref: usize,
    /// max |Δ spike time| [ms] (when the counts agree).
    pub(crate) worst_spike_dt_ms: f64,
    /// max |ΔV| [mV] before min(first spike) − 1 ms, or over the whole trace without spikes.
    pub(crate) worst_pre_spike_dv_mv: f64,
}

pub(crate) fn compare(ours: &[f64], reference: &[f64], dt_ms: f64) -> Comparison {
    assert_eq!(ours.len(), reference.len(), "sample counts");
    let a = spike_times(ours, dt_ms);
    let b = spike_times(reference, dt_ms);
    let worst_spike_dt_ms = if a.len() == b.len() {
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    } else {
        f64::INFINITY
    };
    let first = a.iter().chain(&b).copied().fold(f64::INFINITY, f64::min);
    let worst_pre_spike_dv_mv = ours
        .iter()
        .zip(reference)
        .enumerate()
        .take_while(|(i, _)| (*i as f64) * dt_ms < first - 1.0)
        .map(|(_, (x, y))| (x - y).abs())
        .fold(0.0, f64::max);
    Comparison {
        spikes_ours: a.len(),
        spikes_ref: b.len(),
        worst_spike_dt_ms,
        worst_pre_spike_dv_mv,
    }
}

/// The lanes of the reference traces lasting `tstop_ms`, with NEURON's traces.
fn reference_lanes(tstop_ms: f64) -> (Vec<LaneSpec>, Vec<RefTrace>) {
    let s = sscx();
    let (_, refs) = reference("sscx_cADpyr_L4UPC");
    let refs: Vec<RefTrace> = refs
        .into_iter()
        .filter(|r| r.tstop_ms == tstop_ms)
        .collect();
    let lanes = refs
        .iter()
        .map(|r| {
            let stimulus = stimulus_of(&s.em, &s.model, &r.protocol);
            assert_same_stimuli(&r.protocol, &stimulus, &r.stimuli);
            LaneSpec {
                values: s.model.own_lane().unwrap(),
                stimulus: Some(stimulus),
            }
        })
        .collect();
    (lanes, refs)
}

/// NEURON's order of mechanisms within a phase for this cell: `pas`, the ions, the one
/// concentration writer, the electrodes, then the .mod files in nrnivmodl's (byte) order.
#[test]
fn sscx_phase_order_is_neurons() {
    use emsweep::engine::model::Entry;
    let s = sscx();
    let names: Vec<String> = s
        .model
        .order
        .iter()
        .map(|e| match *e {
            Entry::Mechanism(m) => s.model.mechanisms[m].suffix.clone(),
            Entry::Ions => "(ions)".into(),
            Entry::Electrodes => "(IClamp)".into(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "pas",
            "(ions)",
            "CaDynamics_DC0",
            "(IClamp)",
            "Ca_HVA2",
            "Ca_LVAst",
            "Ih",
            "K_Pst",
            "K_Tst",
            "NaTg",
            "Nap_Et2",
            "SK_E2",
            "SKv3_1"
        ]
    );
    let ions: Vec<&str> = s.model.ions.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(ions, ["na", "k", "ca", "ttx"]);
    // cai is a state wherever CaDynamics_DC0 is: eca from Nernst every step
    let ca = s.model.ion("ca").unwrap();
    let soma = s.model.soma_node.index();
    let style = s.model.ions[ca].styles[soma].unwrap();
    assert!(style.cinit && style.einit && style.eadvance);
    // ena is only read: it keeps the package's 50 mV
    let na = s.model.ion("na").unwrap();
    assert_eq!(s.model.ions[na].styles[soma], Some(Default::default()));
}

/// The five 300 ms protocols, run as the five lanes of one batch, in f64 against NEURON and in
/// f32 against f64.
#[test]
fn sscx_300ms_protocols_match_neuron() {
    let s = sscx();
    let dt = s.em.dt_ms;
    let (lanes, refs) = reference_lanes(300.0);
    assert_eq!(refs.len(), 5);
    let probes = vec![soma_v(&s.model)];
    let start = std::time::Instant::now();
    let f64_out = run_lanes(Precision::F64, lanes.clone(), 300.0, probes.clone());
    let f64_wall = start.elapsed();
    let start = std::time::Instant::now();
    let f32_out = run_lanes(Precision::F32, lanes, 300.0, probes);
    let f32_wall = start.elapsed();
    eprintln!(
        "5 lanes x 300 ms: f64 {f64_wall:?}, f32 {f32_wall:?} wall ({:.2} s / simulated s / lane in f64)",
        f64_wall.as_secs_f64() / 1.5
    );
    let mut problems = Vec::new();
    for ((r, l64), l32) in refs.iter().zip(&f64_out.lanes).zip(&f32_out.lanes) {
        assert!(
            l64.failure.is_none() && l32.failure.is_none(),
            "{}",
            r.protocol
        );
        let c = compare(&l64.traces[0], &r.v_mv, dt);
        let c32 = compare(&l32.traces[0], &l64.traces[0], dt);
        eprintln!("{}: f64 vs NEURON {c:?}; f32 vs f64 {c32:?}", r.protocol);
        if c.spikes_ours != c.spikes_ref
            || c.worst_spike_dt_ms > SPIKE_TIME_TOL_MS
            || c.worst_pre_spike_dv_mv > PRE_SPIKE_DV_TOL_MV
        {
            problems.push(format!("{} f64 vs NEURON: {c:?}", r.protocol));
        }
        if c.spikes_ref == 0 {
            problems.push(format!("{}: NEURON's trace should spike", r.protocol));
        }
        if c32.spikes_ours != c32.spikes_ref || c32.worst_spike_dt_ms > F32_SPIKE_TIME_TOL_MS {
            problems.push(format!("{} f32 vs f64: {c32:?}", r.protocol));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// RmpRiTau (3 s, a −10 pA step from 1 s to 2 s, no spike): the whole trace against NEURON.
#[test]
fn sscx_hyperpolarising_step_matches_neuron() {
    let s = sscx();
    let dt = s.em.dt_ms;
    let (lanes, refs) = reference_lanes(3000.0);
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].protocol, "RmpRiTau");
    let start = std::time::Instant::now();
    let out = run_lanes(Precision::F64, lanes, 3000.0, vec![soma_v(&s.model)]);
    eprintln!("1 lane x 3000 ms: {:?} wall", start.elapsed());
    let c = compare(&out.lanes[0].traces[0], &refs[0].v_mv, dt);
    eprintln!("RmpRiTau f64 vs NEURON: {c:?}");
    assert_eq!((c.spikes_ours, c.spikes_ref), (0, 0));
    assert!(c.worst_pre_spike_dv_mv <= PRE_SPIKE_DV_TOL_MV, "{c:?}");
    // the step is there: 1 s into it the soma is more than 1 mV below rest
    let v = &refs[0].v_mv;
    assert!(v[(1999.0 / dt) as usize] < v[(999.0 / dt) as usize] - 1.0);
}

/// A small deterministic generator (xorshift64*) for random lanes.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        lo + (hi - lo) * (x as f64 / (1u64 << 53) as f64)
    }
}

/// A lane with every mechanism parameter scaled by a random factor in [0.7, 1.3], its own Ra,
/// temperature, and a random step current from 5 ms on.
fn random_lane(rng: &mut Rng) -> LaneSpec {
    use emsweep::ir::FieldRole;
    let s = sscx();
    let mut params = s.model.cell().params.clone();
    let ra_scale = rng.uniform(0.7, 1.3);
    for ra in params.ra_ohm_cm.iter_mut().flatten() {
        *ra *= ra_scale;
    }
    let celsius = s.em.celsius + rng.uniform(-1.0, 1.0);
    let mut values = s
        .model
        .lane_values(&params, celsius, s.em.v_init_mv)
        .unwrap();
    assert!(values.coefficients.is_some(), "a lane with its own Ra");
    for (m, pm) in s.model.mechanisms.iter().enumerate() {
        for (f, field) in pm.ir.fields.iter().enumerate() {
            if field.role == FieldRole::Parameter {
                let k = rng.uniform(0.7, 1.3);
                values.fields[m][f].iter_mut().for_each(|x| *x *= k);
            }
        }
    }
    LaneSpec {
        values,
        stimulus: Some(squares(&s.model, &[(5.0, 1000.0, rng.uniform(0.2, 0.6))])),
    }
}

/// Soma voltage, soma cai and the voltage of the last node (a dendrite or axon tip).
fn invariance_probes(model: &CellModel) -> Vec<Probe> {
    let ca = model.ion("ca").unwrap();
    vec![
        soma_v(model),
        Probe {
            node: model.soma_node,
            quantity: Quantity::Ion {
                ion: ca,
                var: emsweep::ir::IonVar::Inside,
            },
        },
        Probe {
            node: emsweep::layout::Node(model.node_count() as u32 - 1),
            quantity: Quantity::V,
        },
    ]
}

fn run_with(backend: &CpuBackend, lanes: Vec<LaneSpec>, tstop_ms: f64) -> RunOutput {
    let s = sscx();
    let batch = Batch {
        model: &s.model,
        lanes,
    };
    let config = RunConfig {
        dt_ms: s.em.dt_ms,
        steps: RunConfig::steps_for(tstop_ms, s.em.dt_ms),
        record_every: 1,
        probes: invariance_probes(&s.model),
        spike_detector: None,
    };
    run(backend, &batch, &config).unwrap_or_else(|d| panic!("{}", render(&d)))
}

fn bits(traces: &[Vec<f64>]) -> Vec<Vec<u64>> {
    traces
        .iter()
        .map(|t| t.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// A lane gives bit-identical results alone and as lane 5 of a batch of random lanes, whatever
/// the block width and padding, in f64 and in f32.
#[test]
fn lane_results_do_not_depend_on_the_batch() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let lanes: Vec<LaneSpec> = (0..7).map(|_| random_lane(&mut rng)).collect();
    let target = 5;
    for precision in [Precision::F64, Precision::F32] {
        let solo = CpuBackend {
            precision,
            block_lanes: 1,
            align: 1,
        };
        let alone = run_with(&solo, vec![lanes[target].clone()], 40.0);
        let spikes = spike_times(&alone.lanes[0].traces[0], sscx().em.dt_ms).len();
        assert!(spikes >= 1, "the lane should spike within 40 ms");
        for (block_lanes, align) in [(4, 4), (16, 8), (7, 1)] {
            let backend = CpuBackend {
                precision,
                block_lanes,
                align,
            };
            let out = run_with(&backend, lanes.clone(), 40.0);
            assert_eq!(out.lanes.len(), 7);
            assert!(
                bits(&out.lanes[target].traces) == bits(&alone.lanes[0].traces),
                "{precision:?}, blocks of {block_lanes} aligned to {align}: lane {target} differs from its solo run"
            );
            // the lanes really differ from each other
            assert_ne!(
                bits(&out.lanes[target].traces[..1]),
                bits(&out.lanes[0].traces[..1])
            );
        }
    }
}

/// A lane whose voltage turns NaN, and one driven beyond ±1000 mV, are marked failed with the
/// time; the lane beside them is unaffected (bit-identical to its solo run).
#[test]
fn failing_lanes_fail_alone() {
    let s = sscx();
    let mut rng = Rng(0x0bad_cafe_0000_0002);
    let good = random_lane(&mut rng);
    let mut nan = good.clone();
    assert!(s
        .model
        .set_field_everywhere(&mut nan.values, "pas", "g", f64::NAN));
    let mut wild = good.clone();
    let step = &good.stimulus.as_ref().unwrap().program.clamps[0];
    let Amplitude::Fixed(amp) = &step.amplitude else {
        unreachable!()
    };
    wild.stimulus = Some(squares(
        &s.model,
        &[
            (step.delay_ms, step.stop_ms - step.delay_ms, amp[0]),
            (10.0, 1.0, 1e5),
        ],
    ));
    let backend = CpuBackend::new(Precision::F64);
    let out = run_with(&backend, vec![nan, good.clone(), wild], 20.0);
    let alone = run_with(&backend, vec![good], 20.0);
    assert!(out.lanes[1].failure.is_none());
    assert!(bits(&out.lanes[1].traces) == bits(&alone.lanes[0].traces));

    let f = out.lanes[0].failure.expect("the NaN lane fails");
    assert_eq!(f.t_ms, 0.025, "{f:?}");
    assert!(f.v_mv.is_nan());
    assert!(out.lanes[0].traces[0][0].is_finite(), "t = 0 was fine");
    assert!(out.lanes[0].traces[0][1..].iter().all(|x| x.is_nan()));

    let f = out.lanes[2].failure.expect("the overdriven lane fails");
    assert!(f.t_ms > 10.0 && f.t_ms <= 10.1, "{f:?}");
    assert!(f.v_mv.is_nan() || f.v_mv.abs() > 1000.0, "{f:?}");
    let k = (f.t_ms / s.em.dt_ms).round() as usize;
    assert!(out.lanes[2].traces[0][..k].iter().all(|x| x.is_finite()));
    assert!(out.lanes[2].traces[0][k..].iter().all(|x| x.is_nan()));
}

/// Recording every k-th step gives exactly every k-th sample of the every-step recording.
#[test]
fn decimated_recording_samples_every_kth_step() {
    let s = sscx();
    let mut rng = Rng(0xdec1_3a7e_0000_0003);
    let lane = random_lane(&mut rng);
    let backend = CpuBackend::new(Precision::F64);
    let config = |record_every| RunConfig {
        dt_ms: s.em.dt_ms,
        steps: 800,
        record_every,
        probes: invariance_probes(&s.model),
        spike_detector: None,
    };
    let batch = Batch {
        model: &s.model,
        lanes: vec![lane],
    };
    let every = run(&backend, &batch, &config(1)).unwrap();
    let fourth = run(&backend, &batch, &config(4)).unwrap();
    assert_eq!(config(4).samples(), 201);
    assert_eq!(fourth.record_dt_ms, 4.0 * s.em.dt_ms);
    for (a, b) in every.lanes[0].traces.iter().zip(&fourth.lanes[0].traces) {
        let picked: Vec<u64> = a.iter().step_by(4).map(|x| x.to_bits()).collect();
        let got: Vec<u64> = b.iter().map(|x| x.to_bits()).collect();
        assert_eq!(picked, got);
    }
}

/// Bad batches and lane values are reported as diagnostics, never run.
#[test]
fn bad_inputs_are_diagnosed() {
    let s = sscx();
    let kinds = |d: &emsweep::diag::Diagnostics| d.iter().map(|x| x.kind).collect::<Vec<_>>();
    let lane = LaneSpec {
        values: s.model.own_lane().unwrap(),
        stimulus: None,
    };
    let backend = CpuBackend::new(Precision::F64);
    let batch = Batch {
        model: &s.model,
        lanes: vec![lane.clone()],
    };
    let mut config = RunConfig {
        dt_ms: 0.0,
        steps: 10,
        record_every: 0,
        probes: vec![Probe {
            node: emsweep::layout::Node(1_000_000),
            quantity: Quantity::V,
        }],
        spike_detector: None,
    };
    let d = run(&backend, &batch, &config).unwrap_err();
    assert_eq!(kinds(&d), ["bad-dt", "bad-record", "bad-probe"]);
    // the ttx ion exists only where NaTg is: not in the myelin
    let ttx = s.model.ion("ttx").unwrap();
    let bare = (0..s.model.node_count())
        .find(|&n| s.model.ions[ttx].styles[n].is_none())
        .unwrap();
    config.dt_ms = 0.025;
    config.record_every = 1;
    config.probes = vec![Probe {
        node: emsweep::layout::Node(bare as u32),
        quantity: Quantity::Ion {
            ion: ttx,
            var: emsweep::ir::IonVar::Inside,
        },
    }];
    assert_eq!(
        kinds(&run(&backend, &batch, &config).unwrap_err()),
        ["bad-probe"]
    );
    let empty = Batch {
        model: &s.model,
        lanes: vec![],
    };
    config.probes.clear();
    assert_eq!(
        kinds(&run(&backend, &empty, &config).unwrap_err()),
        ["empty-batch"]
    );

    let mut params = s.model.cell().params.clone();
    params
        .range
        .insert("gFoo_bar".into(), vec![Some(1.0); params.range["cm"].len()]);
    let d = s.model.lane_values(&params, 34.0, -80.0).unwrap_err();
    assert_eq!(kinds(&d), ["unknown-parameter"]);
    let mut params = s.model.cell().params.clone();
    params.section_mechanisms[0].pop();
    let d = s.model.lane_values(&params, 34.0, -80.0).unwrap_err();
    assert_eq!(kinds(&d), ["structure-mismatch"]);
}

/// BluePyEModel's simplecell (one compartment, NEURON's built-in hh, e-code stimuli played into
/// an IClamp) against NEURON, both protocols as lanes of one batch, whole traces.
#[test]
fn simplecell_matches_neuron() {
    let dir = real_packages_dir().join("bluepyemodel/simplecell");
    let (em, model) = crate::common::load_from(&dir, None);
    let (_, refs) = reference("bluepyemodel_simplecell");
    let mut lanes = Vec::new();
    for r in &refs {
        // BluePyEModel's IDrest / IV: one IClamp on for the whole protocol, its amplitude
        // played from holding, holding + amp from `delay` for `duration`, holding again
        let stimulus = stimulus_of(&em, &model, &r.protocol);
        let s = &r.stimuli[0];
        let clamps = &stimulus.program.clamps;
        assert_eq!(clamps.len(), 1, "{}", r.protocol);
        let recorded: Vec<(f64, f64)> = s["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        assert_eq!(
            breakpoints(&clamps[0]),
            recorded,
            "{}: what NEURON played",
            r.protocol
        );
        assert_eq!(clamps[0].delay_ms, 0.0);
        assert_eq!(clamps[0].stop_ms, s["iclamp_dur_ms"].as_f64().unwrap());
        lanes.push(LaneSpec {
            values: model.own_lane().unwrap(),
            stimulus: Some(stimulus),
        });
    }
    // the longest protocol sets the run; shorter ones are compared over their own length
    let tstop = refs.iter().map(|r| r.tstop_ms).fold(0.0, f64::max);
    let batch = Batch {
        model: &model,
        lanes,
    };
    let config = RunConfig {
        dt_ms: em.dt_ms,
        steps: RunConfig::steps_for(tstop, em.dt_ms),
        record_every: 1,
        probes: vec![soma_v(&model)],
        spike_detector: None,
    };
    let out = run(&CpuBackend::new(Precision::F64), &batch, &config).unwrap();
    for (r, lane) in refs.iter().zip(&out.lanes) {
        let ours = &lane.traces[0][..r.v_mv.len()];
        let c = compare(ours, &r.v_mv, em.dt_ms);
        eprintln!("{}: f64 vs NEURON {c:?}", r.protocol);
        assert_eq!(c.spikes_ours, c.spikes_ref, "{}", r.protocol);
        assert!(
            c.worst_spike_dt_ms <= SPIKE_TIME_TOL_MS,
            "{}: {c:?}",
            r.protocol
        );
        assert!(
            c.worst_pre_spike_dv_mv <= PRE_SPIKE_DV_TOL_MV,
            "{}: {c:?}",
            r.protocol
        );
    }
}
