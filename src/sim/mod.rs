//! Simulation pieces that do not depend on mechanisms: the electrode currents of a protocol
//! ([`stimulus`], with NEURON's fixed-step clock) and where its recordings are read
//! ([`probe`]), the holding/threshold current searches threshold-based protocols depend on
//! ([`search`]), the built-in protocol templates ([`templates`]), the `emsweep run` driver that
//! puts them together with the engine ([`sweep`]), the scoring of what it recorded against the
//! package's features ([`evaluate`]), and the comparison of backends on one sweep ([`compare`]).

pub mod compare;
pub mod evaluate;
pub mod probe;
pub mod stimulus;
pub mod templates;
