//! The cable equation on the device: the pipelines of `shaders/hines.wgsl` ([`HinesKernel`]: the
//! Hines solve and the whole cable step) and the buffers of one batch's cable ([`CableBuffers`]),
//! interleaved like kernels-cpu's (`index = node · lanes + lane`, `lanes` the padded count).
//! One thread per lane.

use super::{workgroups, Binding, Gpu, GpuError};

/// The WGSL source of the cable kernels.
pub const HINES_WGSL: &str = include_str!("../../../shaders/hines.wgsl");

/// Threads per workgroup of `hines_solve` and `cable_step` (as declared in the shader).
pub const HINES_WORKGROUP_SIZE: u32 = 64;

/// The uniform of `shaders/hines.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CableParams {
    pub nodes: u32,
    pub lanes: u32,
    /// `10⁻³ / dt` [S/cm² per µF/cm²], rounded to f32 from f64 as kernels-cpu does.
    pub cfac: f32,
    pub pad: u32,
}

/// The capacitive factor of a step of `dt_ms` [ms], exactly as kernels-cpu's `add_capacitance`
/// rounds it.
pub fn capacitive_factor(dt_ms: f64) -> f32 {
    (kernels_cpu::cable::S_CM2_PER_UF_CM2_MS * (1.0 / dt_ms)) as f32
}

/// The pipelines of `shaders/hines.wgsl`: the Hines solve alone, and the whole cable step.
pub struct HinesKernel {
    group_layout: wgpu::BindGroupLayout,
    solve: wgpu::ComputePipeline,
    step: wgpu::ComputePipeline,
}

impl HinesKernel {
    pub fn new(gpu: &Gpu) -> Result<HinesKernel, GpuError> {
        let module = gpu.shader_module("hines", HINES_WGSL)?;
        let ro = Binding::Storage { read_only: true };
        let rw = Binding::Storage { read_only: false };
        // uniform; parent, a, b, cm; d, rhs, v: 7 storage buffers of the 8 allowed
        let (group_layout, layout) =
            gpu.layout("cable", &[Binding::Uniform, ro, ro, ro, ro, rw, rw, rw]);
        let solve = gpu.compute_pipeline("hines_solve", &layout, &module, "hines_solve")?;
        let step = gpu.compute_pipeline("cable_step", &layout, &module, "cable_step")?;
        Ok(HinesKernel {
            group_layout,
            solve,
            step,
        })
    }
}

/// One batch's cable on the device. The structure is uploaded once: parents (shared by all
/// lanes), the interleaved off-diagonals `a`, `b` and capacitance `cm` [µF/cm²]; the diagonal
/// `d`, right-hand side `rhs` and voltage `v` [mV] are written and read per step.
pub struct CableBuffers {
    pub nodes: usize,
    pub lanes: usize,
    params: wgpu::Buffer,
    d: wgpu::Buffer,
    rhs: wgpu::Buffer,
    v: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    _structure: [wgpu::Buffer; 4],
}

impl CableBuffers {
    /// Uploads the structure. `parent[i] < i` for `i ≥ 1` (`parent[0]` unused); `a`, `b`, `cm`
    /// hold `nodes · lanes` values each, interleaved, and each array must fit one binding.
    /// `d`, `rhs` and `v` start at 0.
    pub fn new(
        gpu: &Gpu,
        kernel: &HinesKernel,
        parent: &[u32],
        lanes: usize,
        a: &[f32],
        b: &[f32],
        cm: &[f32],
    ) -> Result<CableBuffers, GpuError> {
        let nodes = parent.len();
        if nodes == 0 || lanes == 0 {
            return Err(GpuError::Size("a tree system needs nodes and lanes".into()));
        }
        for (i, &p) in parent.iter().enumerate().skip(1) {
            if p as usize >= i {
                return Err(GpuError::Size(format!(
                    "node {i} has parent {p}, which does not precede it"
                )));
            }
        }
        for (what, xs) in [("a", a), ("b", b), ("cm", cm)] {
            check_len(what, xs, nodes * lanes)?;
        }
        let bytes = (nodes * lanes * 4) as u64;
        if bytes > gpu.max_binding_bytes() {
            return Err(GpuError::TooLarge(format!(
                "{nodes} nodes × {lanes} lanes = {bytes} bytes per array; at most {} lanes fit",
                gpu.max_binding_bytes() / (nodes as u64 * 4)
            )));
        }
        let params = gpu.uniform_buffer(
            "cable",
            &CableParams {
                nodes: nodes as u32,
                lanes: lanes as u32,
                cfac: 0.0,
                pad: 0,
            },
        );
        let zeros = vec![0.0f32; nodes * lanes];
        let structure = [
            gpu.storage_buffer("parent", parent),
            gpu.storage_buffer("a", a),
            gpu.storage_buffer("b", b),
            gpu.storage_buffer("cm", cm),
        ];
        let d = gpu.storage_buffer("d", &zeros);
        let rhs = gpu.storage_buffer("rhs", &zeros);
        let v = gpu.storage_buffer("v", &zeros);
        let bind_group = gpu.bind_group(
            "cable",
            &kernel.group_layout,
            &[
                &params,
                &structure[0],
                &structure[1],
                &structure[2],
                &structure[3],
                &d,
                &rhs,
                &v,
            ],
        );
        Ok(CableBuffers {
            nodes,
            lanes,
            params,
            d,
            rhs,
            v,
            bind_group,
            _structure: structure,
        })
    }

    fn record(
        &self,
        gpu: &Gpu,
        pipeline: &wgpu::ComputePipeline,
        encoder: &mut wgpu::CommandEncoder,
    ) {
        let (x, y) = workgroups(
            self.lanes as u64,
            HINES_WORKGROUP_SIZE,
            gpu.limits.max_compute_workgroups_per_dimension,
        );
        // the shader indexes lanes by gid.x only (65535 × 64 lanes at most)
        debug_assert_eq!(y, 1);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("cable"),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Records the Hines solve into `encoder`: `rhs` becomes `dv` [mV].
    pub fn dispatch_solve(
        &self,
        gpu: &Gpu,
        kernel: &HinesKernel,
        encoder: &mut wgpu::CommandEncoder,
    ) {
        self.record(gpu, &kernel.solve, encoder);
    }

    /// Records one cable step into `encoder` (the step size is set by [`CableBuffers::set_dt`]).
    pub fn dispatch_step(
        &self,
        gpu: &Gpu,
        kernel: &HinesKernel,
        encoder: &mut wgpu::CommandEncoder,
    ) {
        self.record(gpu, &kernel.step, encoder);
    }

    /// Sets the step size [ms] used by later cable steps.
    pub fn set_dt(&self, gpu: &Gpu, dt_ms: f64) {
        let p = CableParams {
            nodes: self.nodes as u32,
            lanes: self.lanes as u32,
            cfac: capacitive_factor(dt_ms),
            pad: 0,
        };
        gpu.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&p));
    }

    /// The membrane potential buffer [mV] (interleaved f32).
    pub fn v_buffer(&self) -> &wgpu::Buffer {
        &self.v
    }

    /// The right-hand side buffer (the schedule accumulates membrane currents in it).
    pub fn rhs_buffer(&self) -> &wgpu::Buffer {
        &self.rhs
    }

    /// The diagonal buffer (the schedule accumulates membrane conductances in it).
    pub fn d_buffer(&self) -> &wgpu::Buffer {
        &self.d
    }

    /// Records the cable step over the lanes into an open compute pass (bind group 0 only).
    pub fn dispatch_step_in(&self, gpu: &Gpu, kernel: &HinesKernel, pass: &mut wgpu::ComputePass) {
        let (x, y) = workgroups(
            self.lanes as u64,
            HINES_WORKGROUP_SIZE,
            gpu.limits.max_compute_workgroups_per_dimension,
        );
        pass.set_pipeline(&kernel.step);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Solves and waits.
    pub fn solve(&self, gpu: &Gpu, kernel: &HinesKernel) -> Result<(), GpuError> {
        gpu.checked(|| gpu.submit_and_wait(|enc| self.dispatch_solve(gpu, kernel, enc)))?
    }

    /// One cable step of `dt_ms` [ms] (see kernels-cpu's `cable_step`), and waits.
    pub fn step(&self, gpu: &Gpu, kernel: &HinesKernel, dt_ms: f64) -> Result<(), GpuError> {
        self.set_dt(gpu, dt_ms);
        gpu.checked(|| gpu.submit_and_wait(|enc| self.dispatch_step(gpu, kernel, enc)))?
    }

    /// Overwrites the diagonal and right-hand side.
    pub fn write_system(&self, gpu: &Gpu, d: &[f32], rhs: &[f32]) -> Result<(), GpuError> {
        let n = self.nodes * self.lanes;
        check_len("d", d, n)?;
        check_len("rhs", rhs, n)?;
        gpu.queue.write_buffer(&self.d, 0, bytemuck::cast_slice(d));
        gpu.queue
            .write_buffer(&self.rhs, 0, bytemuck::cast_slice(rhs));
        Ok(())
    }

    /// Overwrites the membrane potential [mV].
    pub fn write_v(&self, gpu: &Gpu, v_mv: &[f32]) -> Result<(), GpuError> {
        check_len("v", v_mv, self.nodes * self.lanes)?;
        gpu.queue
            .write_buffer(&self.v, 0, bytemuck::cast_slice(v_mv));
        Ok(())
    }

    /// The right-hand side (after a solve or step: `dv` [mV]), interleaved.
    pub fn read_rhs(&self, gpu: &Gpu) -> Result<Vec<f32>, GpuError> {
        gpu.read_buffer(&self.rhs, self.nodes * self.lanes)
    }

    /// The diagonal (after a solve: the eliminated diagonal), interleaved.
    pub fn read_d(&self, gpu: &Gpu) -> Result<Vec<f32>, GpuError> {
        gpu.read_buffer(&self.d, self.nodes * self.lanes)
    }

    /// The membrane potential [mV], interleaved.
    pub fn read_v(&self, gpu: &Gpu) -> Result<Vec<f32>, GpuError> {
        gpu.read_buffer(&self.v, self.nodes * self.lanes)
    }
}

fn check_len(what: &str, xs: &[f32], n: usize) -> Result<(), GpuError> {
    if xs.len() == n {
        Ok(())
    } else {
        Err(GpuError::Size(format!(
            "{what}: {} values, expected nodes × lanes = {n}",
            xs.len()
        )))
    }
}
