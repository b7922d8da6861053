//! The pipelines of one mechanism's generated WGSL module ([`MechanismKernels`]) and the blocks of
//! columns they run over ([`ColumnBlock`]): the ABI of `crate::emit::wgsl`, on a device.

use crate::emit::wgsl::{WgslMechanism, BINDING_DATA, BINDING_PARAMS, WORKGROUP_SIZE};
use crate::ir::Hook;

use super::{workgroups, Binding, Gpu, GpuError};

/// The uniform `params` of a generated module (see `crate::emit::wgsl`): 32 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct KernelParams {
    /// Elements of the block.
    pub count: u32,
    /// Distance between columns [elements].
    pub stride: u32,
    pub pos_inf: f32,
    pub neg_inf: f32,
    pub nan: f32,
    pub pad: [u32; 3],
}

impl KernelParams {
    pub fn new(count: u32, stride: u32) -> KernelParams {
        KernelParams {
            count,
            stride,
            pos_inf: f32::INFINITY,
            neg_inf: f32::NEG_INFINITY,
            nan: f32::NAN,
            pad: [0; 3],
        }
    }
}

/// The compute pipelines of one mechanism, one per entry point, sharing one layout.
pub struct MechanismKernels {
    pub name: String,
    /// Number of columns of the mechanism.
    pub columns: usize,
    group_layout: wgpu::BindGroupLayout,
    pipelines: Vec<(Hook, wgpu::ComputePipeline)>,
}

impl MechanismKernels {
    /// Validates the module and builds a pipeline per entry point.
    pub fn new(gpu: &Gpu, m: &WgslMechanism) -> Result<MechanismKernels, GpuError> {
        debug_assert_eq!((BINDING_PARAMS, BINDING_DATA), (0, 1));
        let module = gpu.shader_module(&m.name, &m.source)?;
        let (group_layout, layout) = gpu.layout(
            &m.name,
            &[Binding::Uniform, Binding::Storage { read_only: false }],
        );
        let mut pipelines = Vec::new();
        for &hook in &m.entry_points {
            let label = format!("{}.{}", m.name, hook.name());
            let p = gpu.compute_pipeline(&label, &layout, &module, hook.name())?;
            pipelines.push((hook, p));
        }
        Ok(MechanismKernels {
            name: m.name.clone(),
            columns: m.columns.len(),
            group_layout,
            pipelines,
        })
    }

    /// The pipeline of `hook`, if the mechanism has that kernel.
    pub fn pipeline(&self, hook: Hook) -> Option<&wgpu::ComputePipeline> {
        self.pipelines
            .iter()
            .find(|(h, _)| *h == hook)
            .map(|(_, p)| p)
    }
}

/// All columns of a run of elements in one storage buffer, column-major, with its uniform and
/// bind group.
pub struct ColumnBlock {
    pub elements: usize,
    pub columns: usize,
    data: wgpu::Buffer,
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

impl ColumnBlock {
    /// A block holding `columns[c][e]` (every column the same length, one per column of the
    /// mechanism).
    pub fn new(
        gpu: &Gpu,
        kernels: &MechanismKernels,
        columns: &[Vec<f32>],
    ) -> Result<ColumnBlock, GpuError> {
        if columns.len() != kernels.columns {
            return Err(GpuError::Size(format!(
                "{}: {} columns given, the mechanism has {}",
                kernels.name,
                columns.len(),
                kernels.columns
            )));
        }
        let elements = columns.first().map_or(0, Vec::len);
        if columns.iter().any(|c| c.len() != elements) {
            return Err(GpuError::Size(format!(
                "{}: columns of different lengths",
                kernels.name
            )));
        }
        let bytes = (elements * columns.len() * 4) as u64;
        if bytes > gpu.max_binding_bytes() {
            return Err(GpuError::TooLarge(format!(
                "{}: {bytes} bytes in one block; split it (see backend::gpu::blocks)",
                kernels.name
            )));
        }
        let flat: Vec<f32> = columns.iter().flatten().copied().collect();
        let data = gpu.storage_buffer(&kernels.name, &flat);
        let params = gpu.uniform_buffer(
            &kernels.name,
            &KernelParams::new(elements as u32, elements as u32),
        );
        let bind_group = gpu.bind_group(&kernels.name, &kernels.group_layout, &[&params, &data]);
        Ok(ColumnBlock {
            elements,
            columns: columns.len(),
            data,
            params,
            bind_group,
        })
    }

    /// Records the kernel of `hook` over the block into `encoder` (nothing when the mechanism has
    /// no such kernel).
    pub fn dispatch(
        &self,
        gpu: &Gpu,
        kernels: &MechanismKernels,
        hook: Hook,
        encoder: &mut wgpu::CommandEncoder,
    ) {
        let Some(pipeline) = kernels.pipeline(hook) else {
            return;
        };
        if self.elements == 0 {
            return;
        }
        let (x, y) = workgroups(
            self.elements as u64,
            WORKGROUP_SIZE,
            gpu.limits.max_compute_workgroups_per_dimension,
        );
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(&kernels.name),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// Runs the kernel of `hook` over the block and waits for it.
    pub fn run(&self, gpu: &Gpu, kernels: &MechanismKernels, hook: Hook) -> Result<(), GpuError> {
        gpu.checked(|| gpu.submit_and_wait(|enc| self.dispatch(gpu, kernels, hook, enc)))?
    }

    /// Overwrites every column (same shapes as at creation).
    pub fn write_columns(&self, gpu: &Gpu, columns: &[Vec<f32>]) -> Result<(), GpuError> {
        if columns.len() != self.columns || columns.iter().any(|c| c.len() != self.elements) {
            return Err(GpuError::Size(format!(
                "{} columns of {} elements expected",
                self.columns, self.elements
            )));
        }
        let flat: Vec<f32> = columns.iter().flatten().copied().collect();
        if !flat.is_empty() {
            gpu.queue
                .write_buffer(&self.data, 0, bytemuck::cast_slice(&flat));
        }
        Ok(())
    }

    /// Reads every column back: `out[c][e]`.
    pub fn read_columns(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>, GpuError> {
        let flat: Vec<f32> = gpu.read_buffer(&self.data, self.elements * self.columns)?;
        Ok(if self.elements == 0 {
            vec![Vec::new(); self.columns]
        } else {
            flat.chunks(self.elements).map(<[f32]>::to_vec).collect()
        })
    }

    /// The storage buffer holding every column (column-major, stride [`ColumnBlock::elements`]).
    pub fn data_buffer(&self) -> &wgpu::Buffer {
        &self.data
    }

    /// Records the kernel of `hook` into an open compute pass (bind group 0 only).
    pub fn dispatch_in(
        &self,
        gpu: &Gpu,
        kernels: &MechanismKernels,
        hook: Hook,
        pass: &mut wgpu::ComputePass,
    ) {
        let Some(pipeline) = kernels.pipeline(hook) else {
            return;
        };
        if self.elements == 0 {
            return;
        }
        let (x, y) = workgroups(
            self.elements as u64,
            WORKGROUP_SIZE,
            gpu.limits.max_compute_workgroups_per_dimension,
        );
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// The uniform buffer of the block (for a schedule that updates `count`).
    pub fn params_buffer(&self) -> &wgpu::Buffer {
        &self.params
    }
}

/// A mechanism's columns over `instances × lanes` elements, split into as many [`ColumnBlock`]s
/// as the binding limit requires (see [`super::blocks`]); each block is one dispatch.
pub struct MechanismBlocks {
    pub lanes: usize,
    pub instances: usize,
    blocks: Vec<(super::blocks::Block, ColumnBlock)>,
}

impl MechanismBlocks {
    /// Uploads `columns[c][instance · lanes + lane]`, within the device's binding limit.
    pub fn new(
        gpu: &Gpu,
        kernels: &MechanismKernels,
        columns: &[Vec<f32>],
        lanes: usize,
    ) -> Result<MechanismBlocks, GpuError> {
        Self::with_limit(gpu, kernels, columns, lanes, gpu.max_binding_bytes())
    }

    /// As [`MechanismBlocks::new`], with blocks of at most `max_binding_bytes` (at most the
    /// device's limit).
    pub fn with_limit(
        gpu: &Gpu,
        kernels: &MechanismKernels,
        columns: &[Vec<f32>],
        lanes: usize,
        max_binding_bytes: u64,
    ) -> Result<MechanismBlocks, GpuError> {
        let elements = columns.first().map_or(0, Vec::len);
        if lanes == 0 || !elements.is_multiple_of(lanes) {
            return Err(GpuError::Size(format!(
                "{}: {elements} elements is not a whole number of instances of {lanes} lanes",
                kernels.name
            )));
        }
        let instances = elements / lanes;
        let limit = max_binding_bytes.min(gpu.max_binding_bytes());
        let plan = super::blocks::plan_blocks(columns.len(), instances, lanes, limit)?;
        let mut blocks = Vec::with_capacity(plan.len());
        for b in plan {
            let range = b.first_instance * lanes..(b.first_instance + b.instances) * lanes;
            let part: Vec<Vec<f32>> = columns
                .iter()
                .map(|c| {
                    c.get(range.clone())
                        .map(<[f32]>::to_vec)
                        .unwrap_or_default()
                })
                .collect();
            blocks.push((b, ColumnBlock::new(gpu, kernels, &part)?));
        }
        Ok(MechanismBlocks {
            lanes,
            instances,
            blocks,
        })
    }

    /// The blocks: which instances each holds, and its columns.
    pub fn blocks(&self) -> impl Iterator<Item = (&super::blocks::Block, &ColumnBlock)> {
        self.blocks.iter().map(|(b, c)| (b, c))
    }

    /// Number of blocks (bindings, dispatches per kernel).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Records the kernel of `hook` over every block.
    pub fn dispatch(
        &self,
        gpu: &Gpu,
        kernels: &MechanismKernels,
        hook: Hook,
        encoder: &mut wgpu::CommandEncoder,
    ) {
        for (_, b) in &self.blocks {
            b.dispatch(gpu, kernels, hook, encoder);
        }
    }

    /// Runs the kernel of `hook` over every block and waits.
    pub fn run(&self, gpu: &Gpu, kernels: &MechanismKernels, hook: Hook) -> Result<(), GpuError> {
        gpu.checked(|| gpu.submit_and_wait(|enc| self.dispatch(gpu, kernels, hook, enc)))?
    }

    /// Reads every column back, blocks joined: `out[c][instance · lanes + lane]`.
    pub fn read_columns(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>, GpuError> {
        let mut out: Vec<Vec<f32>> = Vec::new();
        for (_, b) in &self.blocks {
            let cols = b.read_columns(gpu)?;
            if out.is_empty() {
                out = vec![Vec::with_capacity(self.instances * self.lanes); cols.len()];
            }
            for (o, c) in out.iter_mut().zip(cols) {
                o.extend(c);
            }
        }
        Ok(out)
    }
}
