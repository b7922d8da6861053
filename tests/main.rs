//! emsweep's integration tests: one binary, one module per area, shared fixture helpers in `common`.

mod broken_inputs;
mod cli;
mod common;
mod geometry;
mod nmodl;
mod sim;
