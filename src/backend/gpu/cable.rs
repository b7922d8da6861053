//! The Hines solve on the device: the pipeline of `shaders/hines.wgsl` ([`HinesKernel`]) and the
//! buffers of one batch's tree system ([`CableBuffers`]), interleaved like kernels-cpu's
//! (`index = node · lanes + lane`, `lanes` the padded count). One thread per lane.

use super::{workgroups, Binding, Gpu, GpuError};

/// The WGSL source of the Hines solve.
pub const HINES_WGSL: &str = include_str!("../../../shaders/hines.wgsl");

/// Threads per workgroup of `hines_solve` (as declared in the shader).
pub const HINES_WORKGROUP_SIZE: u32 = 64;

/// The uniform of `shaders/hines.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CableParams {
    pub nodes: u32,
    pub lanes: u32,
    pub pad: [u32; 2],
}

/// The Hines solve pipeline.
pub struct HinesKernel {
    group_layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

impl HinesKernel {
    pub fn new(gpu: &Gpu) -> Result<HinesKernel, GpuError> {
        let module = gpu.shader_module("hines", HINES_WGSL)?;
        let ro = Binding::Storage { read_only: true };
        let rw = Binding::Storage { read_only: false };
        let (group_layout, layout) = gpu.layout("hines", &[Binding::Uniform, ro, ro, ro, rw, rw]);
        let pipeline = gpu.compute_pipeline("hines", &layout, &module, "hines_solve")?;
        Ok(HinesKernel {
            group_layout,
            pipeline,
        })
    }
}

/// One batch's tree system on the device: parents (shared by all lanes), the interleaved
/// off-diagonals `a`, `b`, diagonal `d` and right-hand side `rhs`.
pub struct CableBuffers {
    pub nodes: usize,
    pub lanes: usize,
    d: wgpu::Buffer,
    rhs: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    _parent: wgpu::Buffer,
    _a: wgpu::Buffer,
    _b: wgpu::Buffer,
    _params: wgpu::Buffer,
}

impl CableBuffers {
    /// Uploads a tree system. `parent[i] < i` for `i ≥ 1` (`parent[0]` unused); `a`, `b`, `d`,
    /// `rhs` hold `nodes · lanes` values each, interleaved. Each array must fit one binding.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        kernel: &HinesKernel,
        parent: &[u32],
        lanes: usize,
        a: &[f32],
        b: &[f32],
        d: &[f32],
        rhs: &[f32],
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
        for (what, xs) in [("a", a), ("b", b), ("d", d), ("rhs", rhs)] {
            if xs.len() != nodes * lanes {
                return Err(GpuError::Size(format!(
                    "{what}: {} values, expected nodes × lanes = {}",
                    xs.len(),
                    nodes * lanes
                )));
            }
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
                pad: [0; 2],
            },
        );
        let parent_buf = gpu.storage_buffer("parent", parent);
        let a_buf = gpu.storage_buffer("a", a);
        let b_buf = gpu.storage_buffer("b", b);
        let d_buf = gpu.storage_buffer("d", d);
        let rhs_buf = gpu.storage_buffer("rhs", rhs);
        let bind_group = gpu.bind_group(
            "cable",
            &kernel.group_layout,
            &[&params, &parent_buf, &a_buf, &b_buf, &d_buf, &rhs_buf],
        );
        Ok(CableBuffers {
            nodes,
            lanes,
            d: d_buf,
            rhs: rhs_buf,
            bind_group,
            _parent: parent_buf,
            _a: a_buf,
            _b: b_buf,
            _params: params,
        })
    }

    /// Records the solve into `encoder`.
    pub fn dispatch(&self, gpu: &Gpu, kernel: &HinesKernel, encoder: &mut wgpu::CommandEncoder) {
        let (x, y) = workgroups(
            self.lanes as u64,
            HINES_WORKGROUP_SIZE,
            gpu.limits.max_compute_workgroups_per_dimension,
        );
        // the shader indexes lanes by gid.x only
        debug_assert_eq!(y, 1);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("hines"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Solves and waits.
    pub fn solve(&self, gpu: &Gpu, kernel: &HinesKernel) -> Result<(), GpuError> {
        gpu.checked(|| gpu.submit_and_wait(|enc| self.dispatch(gpu, kernel, enc)))?
    }

    /// Overwrites the diagonal and right-hand side (same sizes as at creation).
    pub fn write_system(&self, gpu: &Gpu, d: &[f32], rhs: &[f32]) -> Result<(), GpuError> {
        let n = self.nodes * self.lanes;
        if d.len() != n || rhs.len() != n {
            return Err(GpuError::Size(format!("d and rhs need {n} values each")));
        }
        gpu.queue.write_buffer(&self.d, 0, bytemuck::cast_slice(d));
        gpu.queue
            .write_buffer(&self.rhs, 0, bytemuck::cast_slice(rhs));
        Ok(())
    }

    /// The right-hand side (after a solve: `dv` [mV]), interleaved.
    pub fn read_rhs(&self, gpu: &Gpu) -> Result<Vec<f32>, GpuError> {
        gpu.read_buffer(&self.rhs, self.nodes * self.lanes)
    }

    /// The diagonal (after a solve: the eliminated diagonal), interleaved.
    pub fn read_d(&self, gpu: &Gpu) -> Result<Vec<f32>, GpuError> {
        gpu.read_buffer(&self.d, self.nodes * self.lanes)
    }
}
