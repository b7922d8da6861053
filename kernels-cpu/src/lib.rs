//! CPU kernels of emsweep: the numerical inner loops that the GPU shaders twin.
//!
//! This crate depends on nothing in the main crate; it sees plain slices.

pub mod mechanism;
