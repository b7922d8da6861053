//! emsweep's integration tests: one binary, one module per area, shared fixture helpers in `common`.

mod architecture;
mod broken_inputs;
mod cli;
mod common;
mod features;
mod geometry;
mod gpu_backend;
mod gpu_compare;
mod gpu_hines;
mod gpu_kernels;
mod gpu_shaders;
mod gpu_spikes;
mod gpu_wgsl;
mod layout_invariance;
mod nmodl;
mod probe;
mod report;
mod run;
mod scores;
mod search;
mod sim;
mod sim_cells;
mod stimulus;
mod sweep;
