//! Simulation pieces that do not depend on mechanisms: the electrode currents of a protocol
//! ([`stimulus`], with NEURON's fixed-step clock) and where its recordings are read
//! ([`probe`]).

pub mod probe;
pub mod stimulus;
