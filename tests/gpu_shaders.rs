//! The GPU backend's hand-written shaders (`shaders/lanes.wgsl`, `gather.wgsl`,
//! `electrodes.wgsl`) on a real Vulkan adapter (lavapipe without a GPU; never skipped) against
//! their CPU twins in kernels-cpu's `device` module, entry point by entry point on random inputs.
//! Copies and sign flips must agree bit for bit; Nernst (WGSL's `log`) and the electrode
//! interpolation (a multiply-add the device may fuse) within a few ulp.

use emsweep::backend::gpu::backend::{ELECTRODES_WGSL, GATHER_WGSL, LANES_WGSL};
use emsweep::backend::gpu::{Binding, OnceBuffer};
use kernels_cpu::device::{self, BlockShape, LaneShape, NodeArrays};

use crate::gpu_kernels::{gpu, Rng};

const RO: Binding = Binding::Storage { read_only: true };
const RW: Binding = Binding::Storage { read_only: false };
const STEP: Binding = Binding::DynamicUniform { size: 16 };
const OP: Binding = Binding::DynamicUniform { size: 32 };

fn f32s(b: &[u8]) -> Vec<f32> {
    bytemuck::cast_slice(b).to_vec()
}

fn u32s(b: &[u8]) -> Vec<u32> {
    bytemuck::cast_slice(b).to_vec()
}

fn close(a: f32, b: f32, ulps: u32) -> bool {
    a.to_bits() == b.to_bits() || (a - b).abs() <= ulps as f32 * f32::EPSILON * a.abs().max(b.abs())
}

/// The buffers of `shaders/lanes.wgsl` for one test case.
struct LaneCase {
    s: LaneShape,
    probes: u32,
    v: Vec<f32>,
    acc_i: Vec<f32>,
    acc_g: Vec<f32>,
    ions: Vec<f32>,
    lane_values: Vec<f32>,
    lists: Vec<u32>,
    out: Vec<u32>,
    step: [u32; 4],
    op: [u32; 8],
}

impl LaneCase {
    fn random(rng: &mut Rng, nodes: usize, lanes: usize, species: usize) -> LaneCase {
        let mut r = |lo: f64, hi: f64, n: usize| -> Vec<f32> {
            (0..n).map(|_| rng.uniform(lo, hi) as f32).collect()
        };
        let nl = nodes * lanes;
        let mut ions = Vec::new();
        for _ in 0..species {
            ions.extend(r(-100.0, 100.0, nl));
            ions.extend(r(1e-5, 20.0, nl));
            ions.extend(r(0.5, 150.0, nl));
            ions.extend(r(-1.0, 1.0, nl));
        }
        let mut lane_values = r(-90.0, -60.0, lanes);
        lane_values.extend(r(5.0, 30.0, species * lanes));
        LaneCase {
            s: LaneShape { nodes, lanes },
            probes: 0,
            v: r(-100.0, 50.0, nl),
            acc_i: r(-1.0, 1.0, nl),
            acc_g: r(0.0, 1.0, nl),
            ions,
            lane_values,
            lists: Vec::new(),
            out: vec![0; 4 * lanes],
            step: [0; 4],
            op: [0; 8],
        }
    }

    /// Runs `entry` on the device; the case's buffers afterwards.
    fn on_device(&self, entry: &str) -> LaneCase {
        let params = [
            self.s.nodes as u32,
            self.s.lanes as u32,
            self.probes,
            1000.0f32.to_bits(),
        ];
        let groups = vec![
            vec![
                OnceBuffer::new(Binding::Uniform, &params),
                OnceBuffer::new(RW, &self.v),
                OnceBuffer::new(RW, &self.acc_i),
                OnceBuffer::new(RW, &self.acc_g),
                OnceBuffer::new(RW, &self.ions),
                OnceBuffer::new(RO, &self.lane_values),
                OnceBuffer::new(RO, &self.lists),
                OnceBuffer::new(RW, &self.out),
            ],
            vec![OnceBuffer::new(STEP, &self.step)],
            vec![OnceBuffer::new(OP, &self.op)],
        ];
        let wg = (self.s.lanes as u32).div_ceil(64);
        let r = gpu()
            .run_once(entry, LANES_WGSL, entry, &groups, (wg, 1))
            .unwrap_or_else(|e| panic!("{entry}: {e}"));
        LaneCase {
            v: f32s(&r[0][1]),
            acc_i: f32s(&r[0][2]),
            acc_g: f32s(&r[0][3]),
            ions: f32s(&r[0][4]),
            out: u32s(&r[0][7]),
            lists: self.lists.clone(),
            lane_values: self.lane_values.clone(),
            ..*self
        }
    }
}

impl Clone for LaneCase {
    fn clone(&self) -> LaneCase {
        LaneCase {
            v: self.v.clone(),
            acc_i: self.acc_i.clone(),
            acc_g: self.acc_g.clone(),
            ions: self.ions.clone(),
            lane_values: self.lane_values.clone(),
            lists: self.lists.clone(),
            out: self.out.clone(),
            ..*self
        }
    }
}

fn assert_bits(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "{what}[{k}]: device {x}, twin {y}"
        );
    }
}

#[test]
fn lane_shaders_match_their_twins() {
    let mut rng = Rng::new(0x1a9e5);
    let (nodes, lanes, species) = (13, 70, 2);
    let base = LaneCase::random(&mut rng, nodes, lanes, species);
    let s = base.s;

    let d = base.on_device("set_voltage");
    let mut t = base.clone();
    device::set_voltage(s, &t.lane_values[..lanes], &mut t.v);
    assert_bits("set_voltage v", &d.v, &t.v);

    let d = base.on_device("clear_matrix");
    let mut t = base.clone();
    device::clear_matrix(&mut t.acc_i, &mut t.acc_g);
    assert_bits(
        "clear_matrix",
        &[d.acc_i, d.acc_g].concat(),
        &[t.acc_i, t.acc_g].concat(),
    );

    let d = base.on_device("negate_currents");
    let mut t = base.clone();
    device::negate_currents(&mut t.acc_i);
    assert_bits("negate_currents", &d.acc_i, &t.acc_i);

    // a node list, species 1, with a zero and a negative concentration among the nodes
    let mut case = base.clone();
    let list: Vec<u32> = vec![0, 3, 4, 7, 12];
    case.lists = list.clone();
    case.ions[((4 + 1) * nodes + 4) * lanes + 5] = 0.0;
    case.ions[((4 + 2) * nodes + 7) * lanes + 6] = -1.0;
    case.op = [
        1,
        0,
        list.len() as u32,
        0,
        3.5f32.to_bits(),
        2.25f32.to_bits(),
        2.0f32.to_bits(),
        0,
    ];
    let d = case.on_device("set_concentrations");
    let mut t = case.clone();
    device::set_concentrations(s, 1, &list, 3.5, 2.25, &mut t.ions);
    assert_bits("set_concentrations", &d.ions, &t.ions);

    let d = case.on_device("nernst");
    let mut t = case.clone();
    device::nernst(
        s,
        1,
        &list,
        2.0,
        &t.lane_values[lanes * 2..lanes * 3],
        &mut t.ions,
    );
    // Vulkan's `log` is within 3 ulp outside [0.5, 2] and within 2^-21 absolute inside it;
    // times coef (< 30 mV here), plus the product's rounding
    for (k, (x, y)) in d.ions.iter().zip(&t.ions).enumerate() {
        let bound = 4.0 * f32::EPSILON * y.abs() + 30.0 * 2f32.powi(-21);
        assert!(
            x.to_bits() == y.to_bits() || (x - y).abs() <= bound,
            "nernst ions[{k}]: device {x}, twin {y}"
        );
    }
    assert_eq!(t.ions[(4 * nodes + 4) * lanes + 5], 1e6);
    assert_eq!(t.ions[(4 * nodes + 7) * lanes + 6], -1e6);
    let mut z = case.clone();
    z.op[6] = 0.0f32.to_bits();
    let d = z.on_device("nernst");
    device::nernst(s, 1, &list, 0.0, &z.lane_values[lanes * 2..], &mut z.ions);
    assert_bits("nernst valence 0", &d.ions, &z.ions);

    let d = case.on_device("clear_ion_current");
    let mut t = case.clone();
    device::clear_ion_current(s, 1, &mut t.ions);
    assert_bits("clear_ion_current", &d.ions, &t.ions);

    // lanes failing: NaN, beyond the bound, one failed before (left alone)
    let mut case = base.clone();
    case.v[5 * lanes + 3] = f32::NAN;
    case.v[2 * lanes + 9] = 1000.5;
    case.v[8 * lanes + 9] = -2000.0;
    case.v[lanes + 11] = -1000.0;
    case.out[4 * 20] = 17;
    case.step = [0, 0, 42, 0];
    let d = case.on_device("check_lanes");
    let mut t = case.clone();
    device::check_lanes(s, &t.v, 1000.0, 42, &mut t.out);
    assert_eq!(d.out, t.out);
    assert_eq!(&t.out[12..15], &[43, 5, f32::NAN.to_bits()]);
    assert_eq!(&t.out[36..39], &[43, 2, 1000.5f32.to_bits()]);
    assert_eq!(t.out[44], 0);

    // recording: three probes (v, an ion concentration, an ion current) into sample 2
    let mut case = base.clone();
    case.probes = 3;
    case.lists = vec![0, 6, 1 + 4 + 1, 2, 1 + 3, 12];
    case.out = vec![0; 4 * lanes + 3 * 3 * lanes];
    case.step = [0, 0, 0, 2];
    let d = case.on_device("record");
    let mut t = case.clone();
    device::record(s, &t.lists.clone(), &t.v, &t.ions, 2, &mut t.out);
    assert_eq!(d.out, t.out);
}

#[test]
fn gather_and_scatter_match_their_twins() {
    let mut rng = Rng::new(0x9a7e);
    let (nodes, lanes, species) = (11, 67, 2);
    let base = LaneCase::random(&mut rng, nodes, lanes, species);
    // 6 instances on nodes 1, 2, 4, 5, 8, 10; a block of instances 2..6
    let instance_nodes: Vec<u32> = vec![1, 2, 4, 5, 8, 10];
    let b = BlockShape {
        lanes,
        nodes,
        first_instance: 2,
        count: 4 * lanes,
        stride: 4 * lanes,
    };
    let columns = 7;
    let data: Vec<f32> = (0..columns * b.stride)
        .map(|_| rng.uniform(-5.0, 5.0) as f32)
        .collect();
    // gather: v, currents, conductances, t, two ion values; scatter: all but t
    let gather_plan: Vec<u32> = vec![0, 0, 1, 1, 2, 2, 3, 3, 5, 4 + 4 + 1, 6, 4 + 3];
    let scatter_plan: Vec<u32> = vec![0, 0, 1, 1, 2, 2, 5, 4 + 4 + 1, 6, 4 + 3];
    let t_ms = 12.375f32;
    for (entry, plan) in [("gather", &gather_plan), ("scatter", &scatter_plan)] {
        let mut lists = instance_nodes.clone();
        let plan_start = lists.len() as u32;
        lists.extend(plan.iter());
        let op = [
            lanes as u32,
            nodes as u32,
            b.first_instance as u32,
            b.count as u32,
            b.stride as u32,
            0,
            plan_start,
            (plan.len() / 2) as u32,
        ];
        let step = [t_ms.to_bits(), 0, 0, 0];
        let groups = vec![
            vec![
                OnceBuffer::new(RW, &base.v),
                OnceBuffer::new(RW, &base.acc_i),
                OnceBuffer::new(RW, &base.acc_g),
                OnceBuffer::new(RW, &base.ions),
                OnceBuffer::new(RO, &lists),
                OnceBuffer::new(RW, &data),
            ],
            vec![OnceBuffer::new(STEP, &step)],
            vec![OnceBuffer::new(OP, &op)],
        ];
        let r = gpu()
            .run_once(
                entry,
                GATHER_WGSL,
                entry,
                &groups,
                ((b.count as u32).div_ceil(64), 1),
            )
            .unwrap_or_else(|e| panic!("{entry}: {e}"));
        let (mut v, mut acc_i, mut acc_g, mut ions, mut d) = (
            base.v.clone(),
            base.acc_i.clone(),
            base.acc_g.clone(),
            base.ions.clone(),
            data.clone(),
        );
        let mut arrays = NodeArrays {
            v: &mut v,
            acc_i: &mut acc_i,
            acc_g: &mut acc_g,
            ions: &mut ions,
        };
        if entry == "gather" {
            device::gather(b, &instance_nodes, plan, t_ms, &arrays, &mut d);
        } else {
            device::scatter(b, &instance_nodes, plan, &data, &mut arrays);
        }
        assert_bits(&format!("{entry} v"), &f32s(&r[0][0]), &v);
        assert_bits(&format!("{entry} acc_i"), &f32s(&r[0][1]), &acc_i);
        assert_bits(&format!("{entry} acc_g"), &f32s(&r[0][2]), &acc_g);
        assert_bits(&format!("{entry} ions"), &f32s(&r[0][3]), &ions);
        assert_bits(&format!("{entry} data"), &f32s(&r[0][5]), &d);
    }
}

#[test]
fn electrodes_match_their_twin() {
    let mut rng = Rng::new(0xe1ec);
    let (nodes, lanes, clamps, slots) = (9, 75, 3, 4);
    // every lane: clamps 0 (fixed) and 1 (played, 5 breakpoints) or clamp 2 alone; some none
    let mut lane_info = Vec::new();
    let mut entries = Vec::new();
    let mut values = Vec::new();
    for lane in 0..lanes {
        if lane % 7 == 3 {
            lane_info.extend([u32::MAX, 0, 0, 0]);
            continue;
        }
        let node = (rng.next_u64() % nodes as u64) as u32;
        let first = (entries.len() / 2) as u32;
        let list: &[u32] = if lane % 2 == 0 { &[0, 1] } else { &[2] };
        for &g in list {
            entries.extend([g, values.len() as u32]);
            let n = if g == 1 { 5 } else { 1 };
            for _ in 0..n {
                values.push(rng.uniform(-0.02, 0.05) as f32);
            }
        }
        // an exact zero amplitude is skipped
        if lane == 8 {
            values[entries[entries.len() - 1] as usize] = 0.0;
        }
        lane_info.extend([node, first, list.len() as u32, 0]);
    }
    // positions per slot and clamp: every mode appears
    let modes = [
        [[1u32, 0, 0, 0], [3, 2, 0.375f32.to_bits(), 0], [1, 0, 0, 0]],
        [[0, 0, 0, 0], [2, 4, 0, 0], [0, 0, 0, 0]],
        [[1, 0, 0, 0], [4, 3, 0, 0], [1, 0, 0, 0]],
        [[1, 0, 0, 0], [3, 4, 1.75f32.to_bits(), 0], [0, 0, 0, 0]],
    ];
    let positions: Vec<u32> = modes.iter().flatten().flatten().copied().collect();
    assert_eq!(positions.len(), slots * clamps * 4);
    let acc_i: Vec<f32> = (0..nodes * lanes)
        .map(|_| rng.uniform(-1.0, 1.0) as f32)
        .collect();
    for slot in 0..slots {
        let step = [0u32, slot as u32, 0, 0];
        let groups = vec![
            vec![
                OnceBuffer::new(Binding::Uniform, &[lanes as u32, clamps as u32, 0, 0]),
                OnceBuffer::new(RO, &lane_info),
                OnceBuffer::new(RO, &entries),
                OnceBuffer::new(RO, &values),
                OnceBuffer::new(RO, &positions),
                OnceBuffer::new(RW, &acc_i),
            ],
            vec![OnceBuffer::new(STEP, &step)],
        ];
        let r = gpu()
            .run_once("electrodes", ELECTRODES_WGSL, "electrodes", &groups, (2, 1))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut twin = acc_i.clone();
        device::electrodes(
            &device::ElectrodeTables {
                lanes,
                clamps,
                lane_info: &lane_info,
                entries: &entries,
                values: &values,
                positions: &positions,
            },
            slot,
            &mut twin,
        );
        let dev = f32s(&r[0][5]);
        let changed = twin.iter().zip(&acc_i).filter(|(a, b)| a != b).count();
        assert!(changed > 10, "slot {slot}: the clamps inject");
        for (k, (x, y)) in dev.iter().zip(&twin).enumerate() {
            assert!(
                close(*x, *y, 2),
                "slot {slot} acc_i[{k}]: device {x}, twin {y}"
            );
        }
    }
}
