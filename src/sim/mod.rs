//! Protocols as the engine needs them: the electrode currents of a protocol ([`stimulus`]: it
//! builds the engine's stimulus programs), where its recordings are read ([`probe`]), the
//! built-in protocol templates ([`templates`]), and the comparison of backends on one sweep
//! ([`compare`]). The sweep that puts them together is `crate::sweep`; the scoring of what it
//! recorded, `crate::features::evaluate`.

pub mod compare;
pub mod probe;
pub mod stimulus;
pub mod templates;
