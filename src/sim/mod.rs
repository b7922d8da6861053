//! Simulation pieces that do not depend on mechanisms: the electrode currents of a protocol
//! ([`stimulus`], with NEURON's fixed-step clock) and where its recordings are read
//! ([`probe`]), and the `emsweep run` driver that puts them together with the engine
//! ([`sweep`]), the comparison of backends on the same sweep ([`compare`]), and the scoring of what it recorded against the package's features
//! ([`evaluate`]).

pub mod compare;
pub mod evaluate;
pub mod probe;
pub mod stimulus;
pub mod sweep;
