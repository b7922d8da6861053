//! The simulation engine: a whole e-model simulated as NEURON 9's fixed step does it, for a batch
//! of lanes sharing one cell structure.
//!
//! - [`library`]: the mechanisms an e-model needs, compiled (built-ins from `nmodl::builtin`);
//! - [`model`]: the structure shared by all lanes ([`CellModel`]: node tree, mechanism
//!   instances, ion styles, NEURON's order within a phase) and the per-lane numbers
//!   ([`LaneValues`]);
//! - [`schedule`]: `finitialize` and one step as lists of phases ([`Schedule`]);
//! - [`run`]: batches, probes, run configuration and results, and the checks a batch passes
//!   before a backend runs it ([`run::check`]; `crate::backend::run` is the driver);
//! - [`spikes`]: threshold crossings placed between samples, as the spike detector reports them.
//!
//! Electrode currents are not described here: a lane points into a
//! [`crate::engine::stimulus::StimulusProgram`] ([`LaneStimulus`]), the one description of what
//! the `IClamp`s inject, evaluated at `t + dt/2` as NEURON's fixed step does.
//!
//! Backends (`crate::backend`) execute the schedule. This module lives outside `sim/` so that
//! the stimulus and probe layers (which turn protocols and recording sites into electrodes and
//! probes) can grow independently there.

pub mod library;
pub mod model;
pub mod run;
pub mod schedule;
pub mod spikes;
pub mod stimulus;

pub use library::MechanismLibrary;
pub use model::{CellModel, LaneValues};
pub use run::{
    Batch, LaneFailure, LaneResult, LaneSpec, LaneSpikes, LaneStimulus, Probe, Quantity, RunConfig,
    RunOutput, SpikeDetector,
};
pub use schedule::{Phase, Schedule};
