//! The step schedule: the phases of `finitialize` and of one fixed step, in NEURON's order, as
//! data built once per cell structure and executed by every backend.
//!
//! NEURON's `finitialize(v_init)` (`nrn_finitialize`): `t = 0`; `v = v_init` everywhere; the
//! INITIAL blocks in phase order (the ions' `ion_init` among them: concentrations of state ions
//! reset to the defaults, reversal potentials from Nernst where `einit`); a mechanism that writes
//! a concentration in INITIAL recomputes that ion's reversal potential (`nrn_wrote_conc`); then one
//! pass of the currents at `t = 0` (`setup_tree_matrix`, whose only lasting effects are the
//! BREAKPOINT's assigned variables and the reversal potentials of `eadvance` ions); record.
//!
//! One fixed step (`nrn_fixed_step`): `t += dt/2`; currents in phase order (`ion_cur` zeroes the
//! ion currents and recomputes `eadvance` reversal potentials; each mechanism adds its current and
//! finite-difference conductance; electrodes at this `t`); the cable step (capacitance, axial
//! terms, Hines solve, `v += dv`); `t += dt/2`; the SOLVE blocks in phase order with the new `v`;
//! then emsweep's own lane check and the recording.

use super::model::{CellModel, Entry};

/// One phase of the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `v = v_init` at every node.
    SetVoltage,
    /// `ion_init` of every ion species.
    IonInit,
    /// The INITIAL block of mechanism `m` (then `nrn_wrote_conc` if it writes a concentration).
    Init(usize),
    /// Current and conductance accumulators to zero (`nrn_rhs`, `nrn_lhs`).
    ClearMatrix,
    /// `ion_cur` of every ion species.
    IonCurrents,
    /// The BREAKPOINT currents of mechanism `m` at the present `v` and `t`.
    Current(usize),
    /// Electrode currents at the present `t`.
    Electrodes,
    /// Capacitance, axial terms, Hines solve, `v += dv`.
    Cable,
    /// `t += dt/2`.
    HalfStep,
    /// The SOLVE blocks of mechanism `m` at the present `v` and `t`.
    State(usize),
    /// Lanes whose voltage is NaN or beyond ±1000 mV anywhere are marked failed.
    CheckLanes,
    /// Probes sampled (every `record_every` steps).
    Record,
}

/// `finitialize` and one step, as phase lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub init: Vec<Phase>,
    pub step: Vec<Phase>,
}

impl Schedule {
    /// NEURON's fixed step (`secondorder = 0`) for `model`. Mechanisms without code for a hook
    /// get no phase for it.
    pub fn fixed_step(model: &CellModel) -> Schedule {
        let has = |m: usize, hook: crate::ir::Hook| {
            !model.mechanisms[m].cpu.program(hook).outputs.is_empty()
        };
        let currents: Vec<Phase> = std::iter::once(Phase::ClearMatrix)
            .chain(model.order.iter().filter_map(|e| match *e {
                Entry::Mechanism(m) => {
                    has(m, crate::ir::Hook::Current).then_some(Phase::Current(m))
                }
                Entry::Ions => Some(Phase::IonCurrents),
                Entry::Electrodes => Some(Phase::Electrodes),
            }))
            .collect();
        let mut init = vec![Phase::SetVoltage];
        init.extend(model.order.iter().filter_map(|e| match *e {
            Entry::Mechanism(m) => has(m, crate::ir::Hook::Init).then_some(Phase::Init(m)),
            Entry::Ions => Some(Phase::IonInit),
            Entry::Electrodes => None,
        }));
        init.extend(currents.iter().copied());
        init.extend([Phase::CheckLanes, Phase::Record]);

        let mut step = vec![Phase::HalfStep];
        step.extend(currents);
        step.extend([Phase::Cable, Phase::HalfStep]);
        step.extend(model.order.iter().filter_map(|e| match *e {
            Entry::Mechanism(m) => has(m, crate::ir::Hook::State).then_some(Phase::State(m)),
            _ => None,
        }));
        step.extend([Phase::CheckLanes, Phase::Record]);
        Schedule { init, step }
    }
}
