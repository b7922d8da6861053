//! Simulation pieces that do not depend on mechanisms: the electrode currents of a protocol
//! ([`stimulus`], with NEURON's fixed-step clock) and where its recordings are read
//! ([`probe`]), and the `emsweep run` driver that puts them together with the engine
//! ([`sweep`]).

pub mod compare;
pub mod probe;
pub mod stimulus;
pub mod sweep;
