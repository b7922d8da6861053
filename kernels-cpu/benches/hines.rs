//! Throughput of the lane-interleaved Hines solve and of a whole cable step, in node-solves per
//! second (nodes × lanes per call), on a random 196-node tree shaped like the SSCx cell's
//! (mostly chains, some branches, 15% zero-area section ends), for f32 and f64, 64 and 1024
//! lanes.
//!
//! `cargo bench -p kernels-cpu --bench hines -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kernels_cpu::{cable_step, hines_solve, Cable, NodeCoefficients, Real, Tree};
use std::hint::black_box;

const NODES: usize = 196;
const DT_MS: f64 = 0.025;

/// SplitMix64: reproducible values without a dependency.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A batch's inputs of a step: interleaved arrays over `lanes` lanes.
#[derive(Clone)]
struct Batch<R> {
    cm_uf_cm2: Vec<R>,
    v_mv: Vec<R>,
    rhs: Vec<R>,
    d: Vec<R>,
}

fn setup<R: Real>(lanes: usize) -> (Cable<R>, Batch<R>) {
    let mut rng = Rng(196);
    let parents: Vec<Option<u32>> = (0..NODES)
        .map(|i| match i {
            0 => None,
            _ if rng.unit() < 0.8 => Some(i as u32 - 1),
            _ => Some((rng.unit() * i as f64) as u32),
        })
        .collect();
    let tree = Tree::new(&parents).expect("parents precede children");
    let area_um2: Vec<f64> = (0..NODES)
        .map(|i| {
            if i == 0 || rng.unit() < 0.15 {
                0.0
            } else {
                10.0 + 500.0 * rng.unit()
            }
        })
        .collect();
    let g_axial_us: Vec<f64> = (0..NODES).map(|_| 0.5 + 20.0 * rng.unit()).collect();
    let coef = NodeCoefficients::from_geometry(&tree, &g_axial_us, &area_um2).expect("valid");
    let cable = Cable::uniform(tree, lanes, &coef).expect("lanes > 0");
    let n = NODES * lanes;
    let has_area = |k: usize| area_um2[k / lanes] > 0.0;
    let cm_uf_cm2 = (0..n)
        .map(|k| R::from_f64(if has_area(k) { 1.0 } else { 0.0 }))
        .collect();
    let v_mv = (0..n)
        .map(|_| R::from_f64(-70.0 + 10.0 * rng.unit()))
        .collect();
    let rhs = (0..n).map(|_| R::from_f64(rng.unit() - 0.5)).collect();
    let d = (0..n)
        .map(|k| R::from_f64(if has_area(k) { 1e-3 * rng.unit() } else { 0.0 }))
        .collect();
    let mut batch = Batch {
        cm_uf_cm2,
        v_mv,
        rhs,
        d,
    };
    // The solve alone needs a full diagonal: capacitance and axial terms added once.
    let mut full = batch.clone();
    kernels_cpu::cable::add_capacitance(&cable, &full.cm_uf_cm2, DT_MS, &mut full.d);
    kernels_cpu::cable::add_axial(&cable, &full.v_mv, &mut full.rhs, &mut full.d);
    batch.d = full.d;
    batch.rhs = full.rhs;
    (cable, batch)
}

fn bench_precision<R: Real>(c: &mut Criterion, name: &str) {
    for lanes in [64, 1024] {
        let (cable, batch) = setup::<R>(lanes);
        let mut group = c.benchmark_group(format!("hines_solve/{name}"));
        group.throughput(Throughput::Elements((NODES * lanes) as u64));
        group.bench_function(format!("{lanes} lanes"), |bench| {
            bench.iter_batched_ref(
                || (batch.d.clone(), batch.rhs.clone()),
                |(d, rhs)| hines_solve(black_box(&cable), d, rhs),
                BatchSize::LargeInput,
            )
        });
        group.finish();

        // Matrix set-up, solve and update; the inputs hold membrane terms only.
        let (cable, mut batch) = setup::<R>(lanes);
        batch.d.iter_mut().for_each(|x| *x = R::ZERO);
        let mut group = c.benchmark_group(format!("cable_step/{name}"));
        group.throughput(Throughput::Elements((NODES * lanes) as u64));
        group.bench_function(format!("{lanes} lanes"), |bench| {
            bench.iter_batched_ref(
                || batch.clone(),
                |b| {
                    cable_step(
                        black_box(&cable),
                        &b.cm_uf_cm2,
                        DT_MS,
                        &mut b.v_mv,
                        &mut b.rhs,
                        &mut b.d,
                    )
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    bench_precision::<f32>(c, "f32");
    bench_precision::<f64>(c, "f64");
}

criterion_group!(hines, benches);
criterion_main!(hines);
