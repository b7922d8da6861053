//! `shaders/hines.wgsl` on a real Vulkan adapter (lavapipe without a GPU) against its CPU twins,
//! kernels-cpu's `hines_solve` and `cable_step` in f32, on random trees with different
//! coefficients per lane.

use emsweep::backend::gpu::cable::{CableBuffers, HinesKernel};
use kernels_cpu::{cable_step, hines_solve, Cable, NodeCoefficients, Tree};

use crate::gpu_kernels::{gpu, Rng};

/// A random tree of `nodes` nodes (each parent drawn among the nodes before it, with a bias to
/// the last few so that long branches occur) and, per lane, NEURON-like coefficients: negative
/// off-diagonals and a diagonally dominant diagonal, as `cable_step` builds them.
struct System {
    parent: Vec<u32>,
    lanes: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    d: Vec<f32>,
    rhs: Vec<f32>,
}

fn random_system(nodes: usize, lanes: usize, rng: &mut Rng) -> System {
    let mut parent = vec![0u32];
    for i in 1..nodes {
        let p = if rng.uniform(0.0, 1.0) < 0.7 {
            i - 1
        } else {
            (rng.uniform(0.0, i as f64) as usize).min(i - 1)
        };
        parent.push(p as u32);
    }
    let mut a = vec![0.0f32; nodes * lanes];
    let mut b = vec![0.0f32; nodes * lanes];
    let mut d = vec![0.0f32; nodes * lanes];
    let mut rhs = vec![0.0f32; nodes * lanes];
    for lane in 0..lanes {
        for i in 0..nodes {
            let k = i * lanes + lane;
            if i > 0 {
                // coupling spans decades, as between thin dendrites and the soma
                a[k] = -(10f64.powf(rng.uniform(-3.0, 1.0))) as f32;
                b[k] = -(10f64.powf(rng.uniform(-3.0, 1.0))) as f32;
            }
            // membrane + capacitance: 0.04 S/cm2 (cm/dt) plus channel conductance
            d[k] = rng.uniform(0.04, 0.5) as f32;
            rhs[k] = rng.uniform(-1.0, 1.0) as f32;
        }
        // the axial terms on the diagonal, as add_axial puts them
        for (i, &p) in parent.iter().enumerate().skip(1) {
            let k = i * lanes + lane;
            let kp = p as usize * lanes + lane;
            d[k] -= b[k];
            d[kp] -= a[k];
        }
    }
    System {
        parent,
        lanes,
        a,
        b,
        d,
        rhs,
    }
}

fn cpu_cable(s: &System) -> Cable<f32> {
    let parents: Vec<Option<u32>> = s
        .parent
        .iter()
        .enumerate()
        .map(|(i, &p)| (i > 0).then_some(p))
        .collect();
    let tree = Tree::new(&parents).unwrap();
    let nodes = s.parent.len();
    let zero = NodeCoefficients {
        a: vec![0.0; nodes],
        b: vec![0.0; nodes],
    };
    let mut cable = Cable::<f32>::uniform(tree, s.lanes, &zero).unwrap();
    for lane in 0..s.lanes {
        let coef = NodeCoefficients {
            a: (0..nodes)
                .map(|i| f64::from(s.a[i * s.lanes + lane]))
                .collect(),
            b: (0..nodes)
                .map(|i| f64::from(s.b[i * s.lanes + lane]))
                .collect(),
        };
        cable.set_lane(lane, &coef).unwrap();
    }
    cable
}

fn cpu_solve(s: &System) -> (Vec<f32>, Vec<f32>) {
    let cable = cpu_cable(s);
    let (mut d, mut rhs) = (s.d.clone(), s.rhs.clone());
    hines_solve(&cable, &mut d, &mut rhs);
    (d, rhs)
}

/// Distance in units in the last place between two finite f32 of the same sign.
fn ulps(x: f32, y: f32) -> u64 {
    if x.to_bits() == y.to_bits() {
        return 0;
    }
    let key = |v: f32| {
        let b = v.to_bits() as i64;
        if b < 0x8000_0000 {
            b
        } else {
            0x8000_0000 - b
        }
    };
    (key(x) - key(y)).unsigned_abs()
}

/// The GPU solve equals the CPU twin's, value for value. Both do the same IEEE f32 operations
/// in the same order (a division, a multiply and a subtraction per step, no fused multiply-add
/// on either side), so bit-identical results are expected; the test reports the largest
/// difference in ulp and requires 0.
#[test]
fn hines_shader_matches_its_cpu_twin() {
    let g = gpu();
    let kernel = HinesKernel::new(g).unwrap();
    let mut rng = Rng::new(42);
    let mut worst = 0u64;
    let mut compared = 0usize;
    for (nodes, lanes) in [
        (1usize, 64usize),
        (2, 1),
        (37, 100),
        (200, 1024),
        (450, 256),
    ] {
        let s = random_system(nodes, lanes, &mut rng);
        let (d_cpu, x_cpu) = cpu_solve(&s);
        let cm = vec![1.0f32; s.a.len()];
        let buffers = CableBuffers::new(g, &kernel, &s.parent, s.lanes, &s.a, &s.b, &cm).unwrap();
        buffers.write_system(g, &s.d, &s.rhs).unwrap();
        buffers.solve(g, &kernel).unwrap();
        let x_gpu = buffers.read_rhs(g).unwrap();
        let d_gpu = buffers.read_d(g).unwrap();
        for (what, cpu, gpu) in [("dv", &x_cpu, &x_gpu), ("d", &d_cpu, &d_gpu)] {
            for (k, (c, v)) in cpu.iter().zip(gpu.iter()).enumerate() {
                assert!(c.is_finite(), "{what}[{k}] not finite on the CPU");
                let u = ulps(*c, *v);
                worst = worst.max(u);
                compared += 1;
                assert!(
                    u == 0,
                    "{nodes} nodes × {lanes} lanes: {what}[{k}] = {v} on the GPU, {c} on the CPU \
                     ({u} ulp)"
                );
            }
        }
    }
    eprintln!("hines: {compared} values compared, largest difference {worst} ulp");
}

/// Three cable steps (capacitance, axial terms at the present voltage, solve, v += dv) on the
/// device equal kernels-cpu's `cable_step` in f32, value for value; zero-area nodes (cm = 0)
/// included. The mechanisms' contributions to `rhs` and `d` are new random values each step.
#[test]
fn cable_step_shader_matches_its_cpu_twin() {
    let g = gpu();
    let kernel = HinesKernel::new(g).unwrap();
    let mut rng = Rng::new(9);
    let mut compared = 0usize;
    for (nodes, lanes) in [(1usize, 3usize), (60, 128), (300, 200)] {
        let s = random_system(nodes, lanes, &mut rng);
        let cable = cpu_cable(&s);
        // every fifth node has no membrane
        let cm: Vec<f32> = (0..nodes * lanes)
            .map(|k| {
                if (k / lanes) % 5 == 4 {
                    0.0
                } else {
                    rng.uniform(0.5, 2.0) as f32
                }
            })
            .collect();
        let mut v: Vec<f32> = (0..nodes * lanes)
            .map(|_| rng.uniform(-80.0, 20.0) as f32)
            .collect();
        let buffers = CableBuffers::new(g, &kernel, &s.parent, lanes, &s.a, &s.b, &cm).unwrap();
        buffers.write_v(g, &v).unwrap();
        for step in 0..3 {
            let mut d: Vec<f32> = (0..nodes * lanes)
                .map(|_| rng.uniform(0.0, 0.05) as f32)
                .collect();
            let mut rhs: Vec<f32> = (0..nodes * lanes)
                .map(|_| rng.uniform(-0.5, 0.5) as f32)
                .collect();
            buffers.write_system(g, &d, &rhs).unwrap();
            buffers.step(g, &kernel, 0.025).unwrap();
            cable_step(&cable, &cm, 0.025, &mut v, &mut rhs, &mut d);
            let v_gpu = buffers.read_v(g).unwrap();
            let dv_gpu = buffers.read_rhs(g).unwrap();
            for (what, cpu, gpu) in [("v", &v, &v_gpu), ("dv", &rhs, &dv_gpu)] {
                for (k, (c, x)) in cpu.iter().zip(gpu.iter()).enumerate() {
                    assert!(c.is_finite(), "{what}[{k}] not finite on the CPU");
                    compared += 1;
                    assert_eq!(
                        c.to_bits(),
                        x.to_bits(),
                        "{nodes} nodes × {lanes} lanes, step {step}: {what}[{k}] = {x} on the \
                         GPU, {c} on the CPU ({} ulp)",
                        ulps(*c, *x)
                    );
                }
            }
        }
    }
    eprintln!("cable_step: {compared} values compared, all bit-identical");
}

#[test]
fn bad_trees_are_refused() {
    let g = gpu();
    let kernel = HinesKernel::new(g).unwrap();
    let z = vec![0.0f32; 2];
    assert!(CableBuffers::new(g, &kernel, &[0, 1], 1, &z, &z, &z).is_err());
    assert!(CableBuffers::new(g, &kernel, &[0, 0], 1, &z, &z, &z[..1]).is_err());
    let ok = CableBuffers::new(g, &kernel, &[0, 0], 1, &z, &z, &z).unwrap();
    assert!(ok.write_system(g, &z, &z[..1]).is_err());
    assert!(ok.write_v(g, &z[..1]).is_err());
}
