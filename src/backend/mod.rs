//! Back ends: the machines a simulation runs on.

pub mod gpu;
