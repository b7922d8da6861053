//! The GPU back end's machinery: choosing an adapter, opening a device within the default limits,
//! building pipelines for generated mechanism shaders and the hand-written cable solve, moving
//! data in and out, and submitting work. It runs whatever schedule drives it; it holds no
//! simulation logic of its own.
//!
//! - [`Gpu`]: an adapter and a device opened with [`wgpu::Limits::default`] (8 storage buffers per
//!   stage, 128 MiB per binding), plus the submission and read-back helpers.
//! - [`AdapterPolicy`]: `--backend gpu` takes any adapter wgpu offers (lavapipe included) and says
//!   which; `auto` takes only a real GPU, never a CPU-type adapter.
//! - [`shader`]: naga parsing and validation of WGSL text, without a device.
//! - [`mechanism`]: pipelines of one mechanism's WGSL module and its column blocks.
//! - [`cable`]: the Hines solve of `shaders/hines.wgsl` and its buffers.
//! - [`blocks`]: how elements are split into blocks that fit one binding.
//! - [`backend`]: [`GpuBackend`], the engine's schedule executed on the device.
//! - [`traffic`]: bytes and flops of one step, counted from the schedule and kernels.
//! - [`stimulus`]: the electrode tables of a batch (where each time falls among the clamps).

pub mod backend;
pub mod blocks;
pub mod cable;
pub mod mechanism;
pub mod shader;
pub mod stimulus;
pub mod traffic;

pub use backend::GpuBackend;

use std::fmt;

/// The Debian packages that provide a Vulkan adapter on a machine without a GPU (Mesa's lavapipe).
pub const VULKAN_PACKAGES: &str = "mesa-vulkan-drivers libvulkan1";

/// Which adapters may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterPolicy {
    /// Any adapter, a CPU implementation such as lavapipe included (`--backend gpu`); a real GPU
    /// is preferred when there is one.
    Any,
    /// Only a real GPU (discrete, integrated or virtual), never a CPU-type adapter
    /// (`--backend auto`, which otherwise falls back to the CPU back end).
    RealGpu,
}

/// Why the GPU back end cannot run.
#[derive(Debug)]
pub enum GpuError {
    /// No Vulkan adapter at all.
    NoAdapter,
    /// Only CPU-type adapters, and the policy asked for a real GPU.
    NoRealGpu { found: Vec<String> },
    /// The adapter refused the device (limits or features).
    Device(String),
    /// A shader failed to parse or validate.
    Shader { label: String, message: String },
    /// wgpu reported a validation or out-of-memory error.
    Wgpu(String),
    /// Reading a buffer back failed.
    Map(String),
    /// Data does not fit the device limits even when split.
    TooLarge(String),
    /// Inputs of the wrong size.
    Size(String),
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::NoAdapter => write!(
                f,
                "no Vulkan adapter found: install a GPU driver, or Mesa's lavapipe \
                 (Debian packages: {VULKAN_PACKAGES})"
            ),
            GpuError::NoRealGpu { found } => write!(
                f,
                "no real GPU found (only CPU adapters: {})",
                found.join(", ")
            ),
            GpuError::Device(m) => write!(f, "cannot open the GPU device: {m}"),
            GpuError::Shader { label, message } => write!(f, "shader {label}: {message}"),
            GpuError::Wgpu(m) => write!(f, "GPU error: {m}"),
            GpuError::Map(m) => write!(f, "cannot read GPU memory: {m}"),
            GpuError::TooLarge(m) => write!(f, "too large for the GPU: {m}"),
            GpuError::Size(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for GpuError {}

/// What the chosen adapter is, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    /// `discrete GPU`, `integrated GPU`, `virtual GPU`, `CPU`, `other`.
    pub kind: &'static str,
    pub driver: String,
    pub backend: String,
}

impl AdapterSummary {
    fn of(info: &wgpu::AdapterInfo) -> AdapterSummary {
        AdapterSummary {
            name: info.name.clone(),
            kind: kind_name(info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            backend: format!("{:?}", info.backend),
        }
    }

    /// Whether this is a CPU implementation (lavapipe, SwiftShader).
    pub fn is_cpu(&self) -> bool {
        self.kind == "CPU"
    }
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.kind, self.backend)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        write!(f, ")")
    }
}

fn kind_name(t: wgpu::DeviceType) -> &'static str {
    match t {
        wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        wgpu::DeviceType::VirtualGpu => "virtual GPU",
        wgpu::DeviceType::Cpu => "CPU",
        wgpu::DeviceType::Other => "other",
    }
}

/// Preference order of adapter kinds (lower is better).
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// The kind of one buffer binding of a compute shader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Uniform,
    /// A uniform bound with a dynamic offset, `size` bytes at a time.
    DynamicUniform {
        size: u64,
    },
    Storage {
        read_only: bool,
    },
}

/// An open device and its queue.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    /// The limits the device was opened with (the defaults).
    pub limits: wgpu::Limits,
}

impl Gpu {
    /// Opens the best adapter the policy allows (see [`AdapterPolicy`]), with the default limits.
    pub fn new(policy: AdapterPolicy) -> Result<Gpu, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
        if adapters.is_empty() {
            return Err(GpuError::NoAdapter);
        }
        // deterministic choice: by kind, then by name
        adapters.sort_by_key(|a| {
            let info = a.get_info();
            (rank(info.device_type), info.name.clone())
        });
        let chosen = match policy {
            AdapterPolicy::Any => adapters.into_iter().next(),
            AdapterPolicy::RealGpu => {
                let found: Vec<String> = adapters
                    .iter()
                    .map(|a| AdapterSummary::of(&a.get_info()).to_string())
                    .collect();
                match adapters
                    .into_iter()
                    .find(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
                {
                    Some(a) => Some(a),
                    None => return Err(GpuError::NoRealGpu { found }),
                }
            }
        };
        let adapter = chosen.ok_or(GpuError::NoAdapter)?;
        let summary = AdapterSummary::of(&adapter.get_info());
        let limits = wgpu::Limits::default();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("emsweep"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device(e.to_string()))?;
        Ok(Gpu {
            device,
            queue,
            adapter: summary,
            limits,
        })
    }

    /// The largest storage binding [bytes].
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size
    }

    /// Runs `f` with wgpu errors captured: validation and out-of-memory errors become
    /// [`GpuError::Wgpu`] instead of wgpu's default (a panic).
    pub fn checked<T>(&self, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        match v.or(o) {
            Some(e) => Err(GpuError::Wgpu(e.to_string())),
            None => Ok(out),
        }
    }

    /// A storage buffer holding `data`, usable as a copy source and destination.
    pub fn storage_buffer<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        let bytes: &[u8] = bytemuck::cast_slice(data);
        // a binding may not be empty
        let padded;
        let contents = if bytes.is_empty() {
            padded = [0u8; 4];
            &padded[..]
        } else {
            bytes
        };
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// A uniform buffer holding `value`.
    pub fn uniform_buffer<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// Records commands with `f` into one encoder, submits them, and waits until they are done.
    pub fn submit_and_wait(
        &self,
        f: impl FnOnce(&mut wgpu::CommandEncoder),
    ) -> Result<(), GpuError> {
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        f(&mut encoder);
        let index = self.queue.submit([encoder.finish()]);
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| GpuError::Wgpu(e.to_string()))?;
        Ok(())
    }

    /// Copies `len` values of type `T` from the start of `buffer` back to the host.
    pub fn read_buffer<T: bytemuck::Pod>(
        &self,
        buffer: &wgpu::Buffer,
        len: usize,
    ) -> Result<Vec<T>, GpuError> {
        let bytes = (len * std::mem::size_of::<T>()) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.submit_and_wait(|enc| enc.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes))?;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Map(e.to_string()))?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(GpuError::Map(e.to_string())),
            Err(e) => return Err(GpuError::Map(e.to_string())),
        }
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| GpuError::Map(e.to_string()))?;
        let out = bytemuck::cast_slice::<u8, T>(&view).to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }

    /// Builds a compute pipeline for `entry` of `module` with an explicit layout (so that one bind
    /// group serves every entry point of the module).
    pub fn compute_pipeline(
        &self,
        label: &str,
        layout: &wgpu::PipelineLayout,
        module: &wgpu::ShaderModule,
        entry: &str,
    ) -> Result<wgpu::ComputePipeline, GpuError> {
        self.checked(|| {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(label),
                    layout: Some(layout),
                    module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
        })
    }

    /// A bind group layout of compute bindings `0..kinds.len()`, and the pipeline layout of that
    /// one group.
    pub fn layout(
        &self,
        label: &str,
        kinds: &[Binding],
    ) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        let group = self.group_layout(label, kinds);
        let pipeline = self.pipeline_layout(label, &[&group]);
        (group, pipeline)
    }

    /// A pipeline layout of several bind groups (group `k` is `groups[k]`).
    pub fn pipeline_layout(
        &self,
        label: &str,
        groups: &[&wgpu::BindGroupLayout],
    ) -> wgpu::PipelineLayout {
        let groups: Vec<Option<&wgpu::BindGroupLayout>> = groups.iter().map(|g| Some(*g)).collect();
        self.device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(label),
                bind_group_layouts: &groups,
                immediate_size: 0,
            })
    }

    /// A bind group layout of compute bindings `0..kinds.len()`.
    pub fn group_layout(&self, label: &str, kinds: &[Binding]) -> wgpu::BindGroupLayout {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match k {
                        Binding::Uniform | Binding::DynamicUniform { .. } => {
                            wgpu::BufferBindingType::Uniform
                        }
                        Binding::Storage { read_only } => wgpu::BufferBindingType::Storage {
                            read_only: *read_only,
                        },
                    },
                    has_dynamic_offset: matches!(k, Binding::DynamicUniform { .. }),
                    min_binding_size: match k {
                        Binding::DynamicUniform { size } => std::num::NonZeroU64::new(*size),
                        _ => None,
                    },
                },
                count: None,
            })
            .collect();
        self.device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries: &entries,
            })
    }

    /// A bind group of one uniform buffer bound `size` bytes at a time at a dynamic offset.
    pub fn dynamic_bind_group(
        &self,
        label: &str,
        layout: &wgpu::BindGroupLayout,
        buffer: &wgpu::Buffer,
        size: u64,
    ) -> wgpu::BindGroup {
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset: 0,
                    size: std::num::NonZeroU64::new(size),
                }),
            }],
        })
    }

    /// A uniform buffer of `bytes` bytes (zeros), writable from the queue.
    pub fn uniform_bytes(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// A bind group of `buffers`, bound whole at bindings `0..buffers.len()`.
    pub fn bind_group(
        &self,
        label: &str,
        layout: &wgpu::BindGroupLayout,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout,
            entries: &entries,
        })
    }

    /// A shader module from WGSL text, validated by naga before wgpu sees it.
    pub fn shader_module(&self, label: &str, source: &str) -> Result<wgpu::ShaderModule, GpuError> {
        shader::validate_wgsl(source).map_err(|message| GpuError::Shader {
            label: label.to_string(),
            message,
        })?;
        self.checked(|| {
            self.device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                })
        })
    }
}

/// One buffer of a one-off dispatch ([`Gpu::run_once`]): its binding kind and contents.
#[derive(Clone, Debug)]
pub struct OnceBuffer {
    pub kind: Binding,
    pub bytes: Vec<u8>,
}

impl OnceBuffer {
    pub fn new<T: bytemuck::Pod>(kind: Binding, data: &[T]) -> OnceBuffer {
        OnceBuffer {
            kind,
            bytes: bytemuck::cast_slice(data).to_vec(),
        }
    }
}

impl Gpu {
    /// Runs entry point `entry` of `source` once over `workgroups` with bind groups `groups`
    /// (group k binding j is `groups[k][j]`; a `DynamicUniform` is bound at offset 0) and
    /// returns every buffer's contents afterwards, in the same nesting: the harness that tests a
    /// hand-written shader against its CPU twin.
    pub fn run_once(
        &self,
        label: &str,
        source: &str,
        entry: &str,
        groups: &[Vec<OnceBuffer>],
        workgroups: (u32, u32),
    ) -> Result<Vec<Vec<Vec<u8>>>, GpuError> {
        let module = self.shader_module(label, source)?;
        let layouts: Vec<wgpu::BindGroupLayout> = groups
            .iter()
            .map(|g| {
                let kinds: Vec<Binding> = g.iter().map(|b| b.kind).collect();
                self.group_layout(label, &kinds)
            })
            .collect();
        let refs: Vec<&wgpu::BindGroupLayout> = layouts.iter().collect();
        let layout = self.pipeline_layout(label, &refs);
        let pipeline = self.compute_pipeline(label, &layout, &module, entry)?;
        let buffers: Vec<Vec<wgpu::Buffer>> = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|b| {
                        use wgpu::util::DeviceExt;
                        let mut bytes = b.bytes.clone();
                        bytes.resize(bytes.len().max(4).next_multiple_of(4), 0);
                        let usage = match b.kind {
                            Binding::Storage { .. } => wgpu::BufferUsages::STORAGE,
                            _ => wgpu::BufferUsages::UNIFORM,
                        };
                        self.device
                            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                                label: Some(label),
                                contents: &bytes,
                                usage: usage | wgpu::BufferUsages::COPY_SRC,
                            })
                    })
                    .collect()
            })
            .collect();
        let binds: Vec<wgpu::BindGroup> = buffers
            .iter()
            .zip(&layouts)
            .zip(groups)
            .map(|((bs, l), g)| {
                let entries: Vec<wgpu::BindGroupEntry> = bs
                    .iter()
                    .zip(g)
                    .enumerate()
                    .map(|(i, (b, ob))| wgpu::BindGroupEntry {
                        binding: i as u32,
                        resource: match ob.kind {
                            Binding::DynamicUniform { size } => {
                                wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                    buffer: b,
                                    offset: 0,
                                    size: std::num::NonZeroU64::new(size),
                                })
                            }
                            _ => b.as_entire_binding(),
                        },
                    })
                    .collect();
                self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(label),
                    layout: l,
                    entries: &entries,
                })
            })
            .collect();
        self.checked(|| {
            self.submit_and_wait(|enc| {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(label),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&pipeline);
                for (k, b) in binds.iter().enumerate() {
                    let offsets: Vec<u32> = groups[k]
                        .iter()
                        .filter(|x| matches!(x.kind, Binding::DynamicUniform { .. }))
                        .map(|_| 0)
                        .collect();
                    pass.set_bind_group(k as u32, b, &offsets);
                }
                pass.dispatch_workgroups(workgroups.0, workgroups.1, 1);
            })
        })??;
        let mut out = Vec::new();
        for (g, bs) in groups.iter().zip(&buffers) {
            let mut o = Vec::new();
            for (ob, b) in g.iter().zip(bs) {
                let words: Vec<u32> = self.read_buffer(b, ob.bytes.len().div_ceil(4))?;
                let mut bytes: Vec<u8> = bytemuck::cast_slice(&words).to_vec();
                bytes.truncate(ob.bytes.len());
                o.push(bytes);
            }
            out.push(o);
        }
        Ok(out)
    }
}

/// Workgroups `(x, y)` covering `threads` threads with `workgroup_size` per group, within
/// `max_per_dimension` per dimension (a 2-D dispatch when one dimension does not suffice; the
/// shaders compute the thread index as `gid.x + gid.y * num_workgroups.x * workgroup_size`).
pub fn workgroups(threads: u64, workgroup_size: u32, max_per_dimension: u32) -> (u32, u32) {
    let groups = threads.div_ceil(u64::from(workgroup_size)).max(1);
    let max = u64::from(max_per_dimension.max(1));
    if groups <= max {
        (groups as u32, 1)
    } else {
        (max as u32, groups.div_ceil(max) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workgroups_cover_the_threads() {
        assert_eq!(workgroups(0, 64, 65535), (1, 1));
        assert_eq!(workgroups(64, 64, 65535), (1, 1));
        assert_eq!(workgroups(65, 64, 65535), (2, 1));
        let (x, y) = workgroups(64 * 65535 + 1, 64, 65535);
        assert_eq!((x, y), (65535, 2));
        for t in [1u64, 1000, 5_000_000, 300_000_000] {
            let (x, y) = workgroups(t, 64, 65535);
            assert!(u64::from(x) * u64::from(y) * 64 >= t);
            assert!(x <= 65535 && y <= 65535);
        }
    }
}
