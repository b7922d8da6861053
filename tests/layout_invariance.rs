//! Layout invariance (README, Accuracy: backends against each other): each of 8 cells run alone
//! is bit-identical to the same cell as a lane of a 1000-lane batch of random parameter values in
//! random lane order, on the CPU backend (f64 and f32) and on the GPU adapter (f32; lavapipe
//! without a GPU, never skipped), there also when the batch is split into lane groups.
//!
//! The cell is the repository's ball-and-stick example (hh soma and axon, passive dendrite,
//! several compartments) so that 1000 lanes stay cheap on CI's two cores; the protocol is 30 ms
//! with a step from 5 ms, long enough for every lane to fire.

use emsweep::backend::cpu::CpuBackend;
use emsweep::backend::run;
use emsweep::backend::{Backend, Precision};
use emsweep::engine::{Batch, CellModel, LaneSpec, Probe, Quantity, RunConfig, RunOutput};
use emsweep::ir::FieldRole;
use emsweep::package::EModel;

use crate::common::repo_root;
use crate::gpu_backend::{gpu_backend, squares};
use crate::gpu_kernels::Rng;
use crate::sim::render;

const TSTOP_MS: f64 = 30.0;
const BATCH_LANES: usize = 1000;

fn ball_and_stick() -> (EModel, CellModel) {
    crate::common::load_from(&repo_root().join("examples/ball_and_stick_hh"), None)
}

/// A lane with every mechanism parameter scaled by a random factor in [0.8, 1.2], its own Ra
/// and temperature, and a random step current from 5 ms on.
fn random_lane(em: &EModel, model: &CellModel, rng: &mut Rng) -> LaneSpec {
    let mut params = model.cell().params.clone();
    let ra_scale = rng.uniform(0.8, 1.2);
    for ra in params.ra_ohm_cm.iter_mut() {
        *ra = Some(ra.unwrap_or(emsweep::cell::DEFAULT_RA_OHM_CM) * ra_scale);
    }
    let celsius = em.celsius + rng.uniform(-1.0, 1.0);
    let mut values = model.lane_values(&params, celsius, em.v_init_mv).unwrap();
    assert!(values.coefficients.is_some(), "a lane with its own Ra");
    for (m, pm) in model.mechanisms.iter().enumerate() {
        for (f, field) in pm.ir.fields.iter().enumerate() {
            if field.role == FieldRole::Parameter {
                let k = rng.uniform(0.8, 1.2);
                values.fields[m][f].iter_mut().for_each(|x| *x *= k);
            }
        }
    }
    LaneSpec {
        values,
        stimulus: Some(squares(model, &[(5.0, 1000.0, rng.uniform(0.5, 1.5))])),
    }
}

fn run_with(
    backend: &dyn Backend,
    model: &CellModel,
    dt_ms: f64,
    lanes: Vec<LaneSpec>,
) -> RunOutput {
    let last = emsweep::layout::Node(model.node_count() as u32 - 1);
    let config = RunConfig {
        dt_ms,
        steps: RunConfig::steps_for(TSTOP_MS, dt_ms),
        record_every: 1,
        probes: vec![
            Probe {
                node: model.soma_node,
                quantity: Quantity::V,
            },
            Probe {
                node: last,
                quantity: Quantity::V,
            },
        ],
        spike_detector: None,
    };
    let batch = Batch { model, lanes };
    run(backend, &batch, &config).unwrap_or_else(|d| panic!("{}", render(&d)))
}

fn bits(traces: &[Vec<f64>]) -> Vec<Vec<u64>> {
    traces
        .iter()
        .map(|t| t.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// 8 target lanes, and a batch of 1000 lanes holding them at random positions among random
/// others; returns (targets, batch, position of each target in the batch).
fn batch() -> (EModel, CellModel, Vec<LaneSpec>, Vec<LaneSpec>, Vec<usize>) {
    let (em, model) = ball_and_stick();
    let mut rng = Rng::new(0x1a7_0a7);
    let targets: Vec<LaneSpec> = (0..8).map(|_| random_lane(&em, &model, &mut rng)).collect();
    let mut lanes: Vec<Option<LaneSpec>> = vec![None; BATCH_LANES];
    let mut positions = Vec::new();
    for t in &targets {
        let mut k = (rng.next_u64() % BATCH_LANES as u64) as usize;
        while lanes[k].is_some() {
            k = (k + 1) % BATCH_LANES;
        }
        lanes[k] = Some(t.clone());
        positions.push(k);
    }
    let lanes = lanes
        .into_iter()
        .map(|l| l.unwrap_or_else(|| random_lane(&em, &model, &mut rng)))
        .collect();
    (em, model, targets, lanes, positions)
}

fn assert_invariant(label: &str, backend: &dyn Backend, split: Option<&dyn Backend>) {
    let (em, model, targets, lanes, positions) = batch();
    let t = std::time::Instant::now();
    let all = run_with(backend, &model, em.dt_ms, lanes.clone());
    eprintln!(
        "{label}: {BATCH_LANES} lanes in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let split = split.map(|b| run_with(b, &model, em.dt_ms, lanes));
    for (k, (target, &pos)) in targets.iter().zip(&positions).enumerate() {
        let alone = run_with(backend, &model, em.dt_ms, vec![target.clone()]);
        let v = &alone.lanes[0].traces[0];
        let spikes = emsweep::features::spike_times_ms(
            &(0..v.len())
                .map(|i| i as f64 * em.dt_ms)
                .collect::<Vec<_>>(),
            v,
            -20.0,
        );
        assert!(!spikes.is_empty(), "{label}: target {k} fires");
        assert!(
            bits(&all.lanes[pos].traces) == bits(&alone.lanes[0].traces),
            "{label}: target {k} as lane {pos} of {BATCH_LANES} differs from its run alone"
        );
        if let Some(s) = &split {
            assert!(
                bits(&s.lanes[pos].traces) == bits(&alone.lanes[0].traces),
                "{label}: target {k} in a batch split into lane groups differs"
            );
        }
        // the lanes really differ
        let other = if pos == 0 { 1 } else { 0 };
        assert_ne!(bits(&all.lanes[other].traces), bits(&alone.lanes[0].traces));
    }
}

#[test]
fn cpu_lanes_are_bit_identical_alone_and_in_a_random_batch() {
    for precision in [Precision::F64, Precision::F32] {
        assert_invariant(
            &format!("cpu-{}", precision.name()),
            &CpuBackend::new(precision),
            None,
        );
    }
}

#[test]
fn gpu_lanes_are_bit_identical_alone_and_in_a_random_batch() {
    let mut split = gpu_backend().on_same_device();
    split.max_lanes_per_group = 300;
    split.steps_per_submission = 97;
    assert_invariant("gpu-f32", gpu_backend(), Some(&split));
}
