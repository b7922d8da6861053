//! Backends: what executes a [`Schedule`] over a [`Batch`]. Every backend runs the same phases in
//! the same order; they differ in where (CPU threads, a GPU) and in what precision.
//!
//! - [`cpu::CpuBackend`]: the reference backend, f64 (compared with NEURON) or f32 (the GPU's
//!   precision), lanes cut into blocks run in parallel with rayon.
//! - [`gpu`]: the same schedule on a wgpu device (`gpu::GpuBackend`, f32; lavapipe included).

pub mod cpu;
pub mod gpu;

use crate::diag::Diagnostics;
use crate::engine::{Batch, RunConfig, RunOutput, Schedule};

/// Runs `batch` on `backend` after checking it (`crate::engine::run::check`): NEURON's
/// `finitialize` then `config.steps` fixed steps.
pub fn run(
    backend: &dyn Backend,
    batch: &Batch,
    config: &RunConfig,
) -> Result<RunOutput, Diagnostics> {
    let d = crate::engine::run::check(batch, config);
    if d.has_errors() {
        return Err(d);
    }
    let schedule = Schedule::fixed_step(batch.model);
    backend.run(batch, &schedule, config)
}

/// The floating-point precision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    F32,
    F64,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// Something that runs batches.
pub trait Backend: Sync {
    /// A short description (`cpu-f64`).
    fn name(&self) -> String;

    /// The floating-point precision it simulates in.
    fn precision(&self) -> Precision;

    /// Whether batches too small to fill it should run side by side (on the threads of the
    /// current rayon pool): true for the CPU backend, whose one-lane batch keeps one core busy.
    fn parallel_batches(&self) -> bool {
        false
    }

    /// What it runs on, for `run.json`'s `versions` (a GPU's adapter and driver), by name.
    fn versions(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Runs `batch` (already checked by [`run`]) through `schedule`: the init
    /// phases once, then the step phases `config.steps` times.
    fn run(
        &self,
        batch: &Batch,
        schedule: &Schedule,
        config: &RunConfig,
    ) -> Result<RunOutput, Diagnostics>;
}
