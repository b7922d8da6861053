//! Generated WGSL kernels on a real Vulkan adapter (lavapipe on machines without a GPU) against
//! their CPU twins: the same mechanism kernel run by kernels-cpu's program interpreter in f32, and
//! in f64 as the reference for both.
//!
//! These tests never skip: without an adapter they fail and name the packages to install.

use std::sync::OnceLock;

use emsweep::backend::gpu::mechanism::{ColumnBlock, MechanismKernels};
use emsweep::backend::gpu::{AdapterPolicy, Gpu, VULKAN_PACKAGES};
use emsweep::emit::cpu;
use emsweep::emit::wgsl::{self, Column};
use emsweep::ir::{FieldRole, Hook, IonVar, Mechanism, Scope, SimVar};

use crate::gpu_wgsl::{mechanism, mechanism_path, CHANNELS};

/// The device shared by the GPU tests (any adapter: lavapipe counts).
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();
    match GPU.get_or_init(|| Gpu::new(AdapterPolicy::Any).map_err(|e| e.to_string())) {
        Ok(g) => g,
        Err(e) => panic!(
            "the GPU tests need a Vulkan adapter and found none ({e}). On a machine without a \
             GPU install Mesa's lavapipe: apt-get install {VULKAN_PACKAGES} \
             (scripts/bootstrap.sh does)"
        ),
    }
}

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
}

/// Physiological random values for a column, already rounded to f32.
fn random_column(m: &Mechanism, c: Column, n: usize, rng: &mut Rng) -> Vec<f32> {
    let ion_name = |i: emsweep::ir::IonId| m.ion(i).map_or("", |x| x.name.as_str()).to_string();
    (0..n)
        .map(|_| {
            let x = match c {
                Column::Field(f) => {
                    let field = &m.fields[f.index()];
                    match (field.role, field.scope) {
                        (FieldRole::State, _) => rng.uniform(0.0, 1.0),
                        (FieldRole::Parameter, Scope::Global) => field.default,
                        (FieldRole::Parameter, _) if field.default != 0.0 => {
                            field.default * rng.uniform(0.5, 2.0)
                        }
                        (FieldRole::Parameter, _) => rng.uniform(0.0, 1.0),
                        // hidden per-instance values read before written (CaDynamics'
                        // surftovol = 4/diam)
                        (FieldRole::Assigned, Scope::Instance) => rng.uniform(0.5, 5.0),
                        (FieldRole::Assigned, _) => rng.uniform(-1.0, 1.0),
                    }
                }
                Column::Ion(i, var) => match (ion_name(i).as_str(), var) {
                    ("na", IonVar::Erev) => rng.uniform(40.0, 60.0),
                    ("k", IonVar::Erev) => rng.uniform(-100.0, -80.0),
                    ("ca", IonVar::Erev) => rng.uniform(100.0, 140.0),
                    (_, IonVar::Erev) => rng.uniform(-50.0, 50.0),
                    ("ca", IonVar::Inside) => rng.uniform(5e-5, 1e-3),
                    ("ca", IonVar::Outside) => rng.uniform(1.8, 2.2),
                    ("na", IonVar::Inside) => rng.uniform(9.0, 11.0),
                    ("na", IonVar::Outside) => rng.uniform(130.0, 150.0),
                    ("k", IonVar::Inside) => rng.uniform(50.0, 60.0),
                    ("k", IonVar::Outside) => rng.uniform(2.0, 3.0),
                    (_, IonVar::Inside | IonVar::Outside) => rng.uniform(0.5, 1.5),
                    ("ca", IonVar::Current) => rng.uniform(-1e-3, 0.0),
                    (_, IonVar::Current) => rng.uniform(-0.1, 0.1),
                },
                Column::Sim(s) => match s {
                    SimVar::V => rng.uniform(-100.0, 50.0),
                    SimVar::T => rng.uniform(0.0, 1000.0),
                    SimVar::Dt => 0.025,
                    SimVar::Celsius => 34.0,
                    SimVar::Diam => rng.uniform(0.2, 5.0),
                    SimVar::Area => rng.uniform(10.0, 1000.0),
                },
                Column::Current => rng.uniform(-0.01, 0.01),
                Column::Conductance => rng.uniform(0.0, 0.01),
            };
            x as f32
        })
        .collect()
}

/// How far the GPU's and the CPU's f32 results of one column are from the f64 reference.
#[derive(Clone, Debug, Default)]
struct ColumnErrors {
    /// max |gpu − ref|
    gpu_abs: f64,
    /// max |cpu32 − ref|
    cpu_abs: f64,
    /// max |gpu − cpu32| / (|ref| + 1e-6 · max|ref|)
    gpu_vs_cpu_rel: f64,
    /// max |ref|
    scale: f64,
    /// elements where exactly one of gpu and cpu32 is NaN
    nan_mismatch: usize,
    /// elements where gpu and cpu32 differ in bits
    differing: usize,
}

/// Runs `hook` of the channel on `instances × lanes` random elements on the device, on the CPU
/// in f32 and in f64; returns the errors of every column the kernel writes.
fn compare(name: &str, hook: Hook, seed: u64) -> Vec<(String, ColumnErrors)> {
    let m = mechanism(&mechanism_path(name));
    let w = wgsl::emit(&m);
    let c = cpu::emit(&m);
    if !w.has_entry_point(hook) {
        return Vec::new();
    }
    let (instances, lanes) = (4usize, 1024usize);
    let n = instances * lanes;
    let mut rng = Rng::new(seed);
    let inputs: Vec<Vec<f32>> = w
        .columns
        .iter()
        .map(|&col| random_column(&m, col, n, &mut rng))
        .collect();

    let g = gpu();
    let kernels = MechanismKernels::new(g, &w).unwrap_or_else(|e| panic!("{name}: {e}"));
    let block = ColumnBlock::new(g, &kernels, &inputs).unwrap();
    block.run(g, &kernels, hook).unwrap();
    let on_gpu = block.read_columns(g).unwrap();

    let mut cpu32 = inputs.clone();
    let mut refs: Vec<&mut [f32]> = cpu32.iter_mut().map(|x| x.as_mut_slice()).collect();
    c.program(hook).run(&mut refs).unwrap();
    let mut cpu64: Vec<Vec<f64>> = inputs
        .iter()
        .map(|col| col.iter().map(|&x| f64::from(x)).collect())
        .collect();
    let mut refs: Vec<&mut [f64]> = cpu64.iter_mut().map(|x| x.as_mut_slice()).collect();
    c.program(hook).run(&mut refs).unwrap();

    let mut out = Vec::new();
    for (k, col) in w.columns.iter().enumerate() {
        let written = on_gpu[k] != inputs[k] || cpu32[k] != inputs[k];
        if !written {
            continue;
        }
        let scale = cpu64[k].iter().fold(0.0f64, |a, x| a.max(x.abs()));
        let mut e = ColumnErrors {
            scale,
            ..Default::default()
        };
        for i in 0..n {
            let (gv, cv, rv) = (f64::from(on_gpu[k][i]), f64::from(cpu32[k][i]), cpu64[k][i]);
            if gv.to_bits() != cv.to_bits() {
                e.differing += 1;
            }
            if gv.is_nan() != cv.is_nan() {
                e.nan_mismatch += 1;
                continue;
            }
            if gv.is_nan() {
                continue;
            }
            e.gpu_abs = e.gpu_abs.max((gv - rv).abs());
            e.cpu_abs = e.cpu_abs.max((cv - rv).abs());
            e.gpu_vs_cpu_rel = e
                .gpu_vs_cpu_rel
                .max((gv - cv).abs() / (rv.abs() + 1e-6 * scale));
        }
        out.push((format!("{name}.{} {:?}", hook.name(), col), e));
    }
    out
}

/// The bound: on every column each kernel writes, the GPU's f32 result is within
/// `REL_BOUND · (|ref| + 10⁻⁶ · max|ref|)` of the CPU's f32 result (ref: the f64 run of the same
/// program on the same f32 inputs), and the GPU's error against f64 is at most
/// `ACCURACY_FACTOR` times the CPU's f32 error (plus 10⁻⁷ of the column's scale).
///
/// Measured on lavapipe (6 channels, 3 hooks, 4096 random elements, 67 written columns): kernels
/// without transcendentals (all current kernels) are bit-identical; the others differ by at most
/// 4.2e-6 relative (NaTg's hBeta after a state step), and the GPU's error against f64 equals the
/// CPU's within 1 %. Both run the same f32 operations in the same order; they differ only in
/// `exp` (the emitted `nm_exp`, 0.9 ulp, against Rust's 0.5 ulp), and that difference grows
/// through the cancellation of `1 − exp(x)` next to the rate functions' removable singularities.
/// The bound leaves a factor of about 10 for devices that contract `a·b + c` into a fused
/// multiply-add or flush subnormals. (With the device's own `exp`, 61 ulp on lavapipe, the
/// difference reached 2.5e-4 and the GPU's error was 100 times the CPU's.)
#[test]
fn generated_kernels_match_their_cpu_twin_in_f32() {
    let mut report = Vec::new();
    let mut problems = Vec::new();
    for (s, name) in CHANNELS.iter().enumerate() {
        for hook in Hook::ALL {
            for (label, e) in compare(name, hook, 1000 + s as u64 * 7 + hook as u64) {
                report.push(format!(
                    "{label}: gpu-cpu32 rel {:.2e}, |gpu-ref| {:.2e}, |cpu32-ref| {:.2e}, \
                     scale {:.2e}, differing {}",
                    e.gpu_vs_cpu_rel, e.gpu_abs, e.cpu_abs, e.scale, e.differing
                ));
                if e.nan_mismatch > 0 {
                    problems.push(format!("{label}: {} NaN mismatches", e.nan_mismatch));
                }
                if e.gpu_vs_cpu_rel > REL_BOUND {
                    problems.push(format!(
                        "{label}: GPU differs from the CPU f32 twin by {:.3e} relative",
                        e.gpu_vs_cpu_rel
                    ));
                }
                if e.gpu_abs > ACCURACY_FACTOR * e.cpu_abs + 1e-7 * e.scale {
                    problems.push(format!(
                        "{label}: GPU error {:.3e} against f64, CPU f32 error {:.3e}",
                        e.gpu_abs, e.cpu_abs
                    ));
                }
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(report.len() >= 20, "only {} columns compared", report.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Largest relative difference allowed between GPU and CPU f32 results (measured 4.2e-6).
const REL_BOUND: f64 = 5e-5;

/// How much larger the GPU's error against f64 may be than the CPU's f32 error (measured 1.0).
const ACCURACY_FACTOR: f64 = 2.0;

/// Blocks run their elements independently: a block of one instance gives the same bits as that
/// instance inside a larger block.
#[test]
fn an_element_does_not_depend_on_its_block() {
    let m = mechanism(&mechanism_path("NaTg"));
    let w = wgsl::emit(&m);
    let g = gpu();
    let kernels = MechanismKernels::new(g, &w).unwrap();
    let n = 3 * 64 + 5;
    let mut rng = Rng::new(7);
    let inputs: Vec<Vec<f32>> = w
        .columns
        .iter()
        .map(|&col| random_column(&m, col, n, &mut rng))
        .collect();
    let big = ColumnBlock::new(g, &kernels, &inputs).unwrap();
    big.run(g, &kernels, Hook::State).unwrap();
    let all = big.read_columns(g).unwrap();
    for i in [0usize, 63, 64, n - 1] {
        let one: Vec<Vec<f32>> = inputs.iter().map(|c| vec![c[i]]).collect();
        let small = ColumnBlock::new(g, &kernels, &one).unwrap();
        small.run(g, &kernels, Hook::State).unwrap();
        let got = small.read_columns(g).unwrap();
        for (k, col) in got.iter().enumerate() {
            assert_eq!(
                col[0].to_bits(),
                all[k][i].to_bits(),
                "column {k} element {i}"
            );
        }
    }
}

#[test]
fn the_adapter_is_named() {
    let g = gpu();
    assert!(!g.adapter.name.is_empty());
    eprintln!("GPU tests run on {}", g.adapter);
    assert_eq!(g.limits.max_storage_buffers_per_shader_stage, 8);
    assert_eq!(g.max_binding_bytes(), 128 << 20);
}

/// Runs `y = f(x)` on the device for every `x`, where `f` is a WGSL expression in `x`.
fn device_map(f: &str, xs: &[f32]) -> Vec<f32> {
    let mut source = format!(
        "struct Params {{ count: u32, stride: u32, pos_inf: f32, neg_inf: f32, nan: f32, \
         pad0: u32, pad1: u32, pad2: u32 }}\n\
         @group(0) @binding(0) var<uniform> params: Params;\n\
         @group(0) @binding(1) var<storage, read_write> data: array<f32>;\n\
         @compute @workgroup_size(64)\n\
         fn state(@builtin(global_invocation_id) gid: vec3<u32>) {{\n\
             let e = gid.x;\n\
             if (e >= params.count) {{ return; }}\n\
             let x = data[e];\n\
             data[params.stride + e] = {f};\n\
         }}\n"
    );
    if f.contains("nm_exp") {
        source.push_str(wgsl::HELPER_EXP);
    }
    let w = wgsl::WgslMechanism {
        name: "map".into(),
        columns: vec![Column::Current, Column::Conductance],
        source,
        entry_points: vec![Hook::State],
    };
    let g = gpu();
    let kernels = MechanismKernels::new(g, &w).unwrap();
    let block = ColumnBlock::new(g, &kernels, &[xs.to_vec(), vec![0.0; xs.len()]]).unwrap();
    block.run(g, &kernels, Hook::State).unwrap();
    block.read_columns(g).unwrap().swap_remove(1)
}

/// Error of an f32 result against the exact value, in units of the last place of the f32
/// nearest the exact value.
fn ulp_error(got: f32, exact: f64) -> f64 {
    let r = exact as f32;
    let ulp = f64::from(f32::from_bits(r.to_bits() + 1) - r).abs();
    (f64::from(got) - exact).abs() / ulp
}

/// Arguments of `exp` over the range where its f32 value is normal, denser near 0.
fn exp_arguments() -> Vec<f32> {
    (0..20000)
        .map(|k| -80.0 + 160.0 * k as f32 / 20000.0)
        .chain((0..2000).map(|k| -1e-3 + 2e-3 * k as f32 / 2000.0))
        .filter(|x| x.exp().is_finite() && x.exp() > 1e-37)
        .collect()
}

/// The emitted `nm_exp` is accurate to about 1 ulp on the device (measured: see the message),
/// whatever the device's own `exp` does, and handles the ends of the range.
#[test]
fn emitted_exp_is_accurate_on_the_device() {
    let xs = exp_arguments();
    let ys = device_map("nm_exp(x)", &xs);
    let mut worst = (0.0f64, 0.0f32);
    for (&x, &y) in xs.iter().zip(&ys) {
        let u = ulp_error(y, f64::from(x).exp());
        if u > worst.0 {
            worst = (u, x);
        }
    }
    eprintln!(
        "nm_exp on the device: worst {:.2} ulp (at x = {})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= 1.5,
        "nm_exp: {:.2} ulp at x = {}",
        worst.0,
        worst.1
    );
    let ends = [0.0f32, 88.8, 1000.0, -104.0, -1000.0, 88.7];
    let ys = device_map("nm_exp(x)", &ends);
    assert_eq!(ys[0], 1.0);
    assert_eq!(ys[1], f32::INFINITY);
    assert_eq!(ys[2], f32::INFINITY);
    assert_eq!(ys[3], 0.0);
    assert_eq!(ys[4], 0.0);
    assert!(ulp_error(ys[5], 88.7f32.to_f64_exp()) <= 1.5, "{}", ys[5]);
}

trait ExpF64 {
    fn to_f64_exp(self) -> f64;
}

impl ExpF64 for f32 {
    fn to_f64_exp(self) -> f64 {
        f64::from(self).exp()
    }
}

#[test]
fn device_exp_is_within_the_vulkan_precision() {
    let xs = exp_arguments();
    let ys = device_map("exp(x)", &xs);
    let mut worst = (0.0f64, 0.0f32);
    let mut worst_cpu = 0.0f64;
    let mut worst_small = 0.0f64;
    for (&x, &y) in xs.iter().zip(&ys) {
        let exact = f64::from(x).exp();
        let u = ulp_error(y, exact);
        if u > worst.0 {
            worst = (u, x);
        }
        if x.abs() < 1.0 {
            worst_small = worst_small.max(u);
        }
        worst_cpu = worst_cpu.max(ulp_error(x.exp(), exact));
        // Vulkan's precision for exp: 3 + 2·|x| ulp
        assert!(
            u <= 3.0 + 2.0 * f64::from(x.abs()),
            "exp({x}) = {y}: {u} ulp"
        );
    }
    eprintln!(
        "device exp: worst {:.2} ulp (at x = {}), {:.2} ulp for |x| < 1; Rust's f32 exp: {:.2} ulp",
        worst.0, worst.1, worst_small, worst_cpu
    );
}

/// Columns split into several blocks (a binding limit of 3 instances' worth) give the same bits
/// as one block.
#[test]
fn split_blocks_give_the_same_results() {
    use emsweep::backend::gpu::mechanism::MechanismBlocks;
    let m = mechanism(&mechanism_path("hh"));
    let w = wgsl::emit(&m);
    let g = gpu();
    let kernels = MechanismKernels::new(g, &w).unwrap();
    let (instances, lanes) = (10usize, 96usize);
    let mut rng = Rng::new(11);
    let inputs: Vec<Vec<f32>> = w
        .columns
        .iter()
        .map(|&col| random_column(&m, col, instances * lanes, &mut rng))
        .collect();
    let whole = MechanismBlocks::new(g, &kernels, &inputs, lanes).unwrap();
    assert_eq!(whole.block_count(), 1);
    let limit = (3 * lanes * w.columns.len() * 4) as u64;
    let split = MechanismBlocks::with_limit(g, &kernels, &inputs, lanes, limit).unwrap();
    assert_eq!(split.block_count(), 4);
    for hook in [Hook::Current, Hook::State] {
        whole.run(g, &kernels, hook).unwrap();
        split.run(g, &kernels, hook).unwrap();
    }
    let a = whole.read_columns(g).unwrap();
    let b = split.read_columns(g).unwrap();
    assert_eq!(a.len(), w.columns.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.len(), instances * lanes);
        assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
    assert_ne!(a, inputs, "the kernels changed nothing");
}

/// `auto` never takes a CPU adapter: where the best adapter is a CPU one (lavapipe), asking for a
/// real GPU fails and names what was found; elsewhere it gives a non-CPU adapter.
#[test]
fn a_real_gpu_is_never_a_cpu_adapter() {
    let any = gpu();
    match Gpu::new(AdapterPolicy::RealGpu) {
        Ok(real) => {
            assert!(!real.adapter.is_cpu(), "{}", real.adapter);
            assert!(
                !any.adapter.is_cpu(),
                "a real GPU exists but `gpu` took {}",
                any.adapter
            );
        }
        Err(e) => {
            assert!(any.adapter.is_cpu(), "{e}, yet {} was found", any.adapter);
            let text = e.to_string();
            assert!(
                text.contains("no real GPU") && text.contains(&any.adapter.name),
                "{text}"
            );
        }
    }
}
