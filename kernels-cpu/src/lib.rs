//! CPU kernels of emsweep: the numerical inner loops that the GPU shaders twin.
//!
//! This crate depends on nothing in the main crate; it sees plain slices. Per-node arrays of a
//! batch are interleaved by lane (`index = node · lanes + lane`) so that loops over lanes read
//! contiguous memory and vectorise.
//!
//! - [`cable`]: the tree matrix of NEURON's fixed step, its Hines solve, the voltage update.
//! - [`mechanism`]: the register programs that run mechanism kernels over many lanes.
//! - [`device`]: twins of the GPU backend's hand-written lane, gather and electrode shaders.
//! - [`Real`]: the precisions the kernels run in (`f32`, `f64`).

pub mod cable;
pub mod device;
pub mod mechanism;
mod real;

pub use cable::{cable_step, hines_solve, Cable, CableError, NodeCoefficients, Tree};
pub use real::Real;
