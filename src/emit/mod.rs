//! Emitters: each turns the mechanism IR into code for one back end, reading only `crate::ir`.
//! Emitters never import each other.

pub mod cpu;
pub mod wgsl;
