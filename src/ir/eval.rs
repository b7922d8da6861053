//! A slow reference evaluation of one kernel for one mechanism instance, straight from the
//! expression arena. It defines what a kernel means (read everything at entry, then store every
//! result) and is what emitters and tests compare against; it is not used for simulation.

use super::expr::{IonVar, Load, SimVar};
use super::{Hook, Mechanism, Target};

/// The simulator's values seen by an instance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimValues {
    pub v_mv: f64,
    pub t_ms: f64,
    pub dt_ms: f64,
    pub celsius: f64,
    pub diam_um: f64,
    pub area_um2: f64,
}

impl Default for SimValues {
    fn default() -> Self {
        SimValues {
            v_mv: -65.0,
            t_ms: 0.0,
            dt_ms: 0.025,
            celsius: 34.0,
            diam_um: 1.0,
            area_um2: 100.0,
        }
    }
}

fn ion_slot(var: IonVar) -> usize {
    match var {
        IonVar::Erev => 0,
        IonVar::Inside => 1,
        IonVar::Outside => 2,
        IonVar::Current => 3,
    }
}

/// One instance: its fields, the ion values at its node (`[erev, inside, outside, current]` per
/// ion of the mechanism) and the node's current and conductance accumulators.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub fields: Vec<f64>,
    pub ions: Vec<[f64; 4]>,
    pub sim: SimValues,
    /// Membrane current added by the current kernel [mA/cm2].
    pub current: f64,
    /// Conductance added by the current kernel [S/cm2].
    pub conductance: f64,
}

impl Instance {
    /// Fields at their defaults, ions at zero.
    pub fn new(m: &Mechanism, sim: SimValues) -> Instance {
        Instance {
            fields: m.fields.iter().map(|f| f.default).collect(),
            ions: vec![[0.0; 4]; m.ions.len()],
            sim,
            current: 0.0,
            conductance: 0.0,
        }
    }

    pub fn field(&self, m: &Mechanism, name: &str) -> Option<f64> {
        m.field_id(name)
            .and_then(|f| self.fields.get(f.index()).copied())
    }

    pub fn set_field(&mut self, m: &Mechanism, name: &str, value: f64) -> bool {
        match m
            .field_id(name)
            .and_then(|f| self.fields.get_mut(f.index()))
        {
            Some(x) => {
                *x = value;
                true
            }
            None => false,
        }
    }

    pub fn ion(&self, m: &Mechanism, ion: &str, var: IonVar) -> Option<f64> {
        m.ion_id(ion)
            .and_then(|i| self.ions.get(i.index()))
            .map(|v| v[ion_slot(var)])
    }

    pub fn set_ion(&mut self, m: &Mechanism, ion: &str, var: IonVar, value: f64) -> bool {
        match m.ion_id(ion).and_then(|i| self.ions.get_mut(i.index())) {
            Some(v) => {
                v[ion_slot(var)] = value;
                true
            }
            None => false,
        }
    }
}

/// Run `hook`'s kernel on `inst`: evaluate every result from the values at entry, then store
/// them (fields and ion concentrations replaced; currents and conductance added).
pub fn run_kernel(m: &Mechanism, hook: Hook, inst: &mut Instance) {
    let k = m.kernel(hook);
    let load = |l: Load| -> f64 {
        match l {
            Load::Field(f) => inst.fields.get(f.index()).copied().unwrap_or(f64::NAN),
            Load::Ion(i, var) => inst
                .ions
                .get(i.index())
                .map_or(f64::NAN, |v| v[ion_slot(var)]),
            Load::Sim(s) => match s {
                SimVar::V => inst.sim.v_mv,
                SimVar::T => inst.sim.t_ms,
                SimVar::Dt => inst.sim.dt_ms,
                SimVar::Celsius => inst.sim.celsius,
                SimVar::Diam => inst.sim.diam_um,
                SimVar::Area => inst.sim.area_um2,
            },
        }
    };
    let values: Vec<f64> = k
        .writes
        .iter()
        .map(|w| m.arena.eval(w.value, load, |_| f64::NAN))
        .collect();
    for (w, x) in k.writes.iter().zip(values) {
        match w.target {
            Target::Field(f) => {
                if let Some(slot) = inst.fields.get_mut(f.index()) {
                    *slot = x;
                }
            }
            Target::Ion(i, var) => {
                if let Some(v) = inst.ions.get_mut(i.index()) {
                    v[ion_slot(var)] = x;
                }
            }
            Target::IonCurrent(i) => {
                if let Some(v) = inst.ions.get_mut(i.index()) {
                    v[ion_slot(IonVar::Current)] += x;
                }
            }
            Target::Current => inst.current += x,
            Target::Conductance => inst.conductance += x,
        }
    }
}
