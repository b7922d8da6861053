//! emsweep: a batch simulation engine for validating single-cell neuron e-models.
//!
//! The pipeline (see the README): packages are read into e-models (`package`), morphologies into
//! sections (`morph`) and then NEURON's segments (`discretize`); `cell` builds the cell NEURON would
//! build from both; `engine` simulates it as NEURON's fixed step does, for batches of lanes laid
//! out by `layout`, on a `backend`. `cli` turns command lines into runs; `diag` collects every problem found.

pub mod backend;
pub mod cell;
pub mod check;
pub mod cli;
pub mod diag;
pub mod discretize;
pub mod emit;
pub mod engine;
pub mod features;
pub mod ir;
pub mod layout;
pub mod morph;
pub mod nmodl;
pub mod output;
pub mod package;
pub mod sim;
pub mod sweep;
