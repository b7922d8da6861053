//! The mechanism IR: what a density mechanism computes, independent of NMODL syntax and of any
//! back end.
//!
//! A [`Mechanism`] is a list of per-instance [`Field`]s, the [`Ion`]s it uses, one shared [`Arena`]
//! of pure expressions, and three [`Kernel`]s, one per simulator hook:
//! - `init`: run once by `finitialize` after ion concentrations and reversal potentials are set
//!   (NEURON's `finitialize` then runs the current kernel once at `v_init`, which is why the
//!   BREAKPOINT's assigned variables already hold values at t = 0);
//! - `current`: run at the start of each step; adds the membrane current and its conductance
//!   (NEURON's finite difference `(I(v + 0.001) - I(v)) / 0.001`) to the node, and its ion currents to
//!   the ions;
//! - `state`: run after the voltage update; advances the states.
//!
//! A kernel is straight-line: every expression reads only the values its loads give at kernel entry
//! (fields, ion variables, simulator values) and the kernel ends by storing its [`Write`]s, each
//! target at most once. Branches of the source are `Select`s of pure expressions.
//!
//! The emitters (WGSL, CPU) read only this module; [`abi`] is the column layout they share.
//! [`validate`] checks the invariants and returns the side table of what each kernel reads and
//! writes; [`dump`] prints a stable text form for snapshot tests.

pub mod abi;
pub mod deriv;
pub mod dump;
pub mod eval;
pub mod expr;
pub mod validate;

pub use expr::{Arena, Binary, Expr, ExprId, FieldId, IonId, IonVar, Load, SimVar, Ty, Unary};
pub use validate::{validate, Info, KernelInfo};

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldRole {
    /// An input set before the run (NMODL PARAMETER).
    Parameter,
    /// A value computed by the kernels (NMODL ASSIGNED, currents).
    Assigned,
    /// An integrated state (NMODL STATE).
    State,
}

/// Who sees a field and how it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One value per instance, settable and recordable as `<name>_<suffix>` (NMODL RANGE, STATE).
    Range,
    /// One value for the whole mechanism, never written by a kernel (NMODL GLOBAL PARAMETER).
    Global,
    /// One value per instance, kept between kernels but not visible to the user (an ASSIGNED
    /// variable that NEURON keeps as a GLOBAL or hidden per-instance value and that some kernel reads
    /// before writing).
    Instance,
}

/// One field of a mechanism instance.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Field {
    pub name: String,
    pub role: FieldRole,
    pub scope: Scope,
    /// Value at allocation (parameters: their declared default as NEURON rounds it; others 0).
    pub default: f64,
    /// Unit as written in the source, e.g. `S/cm2`.
    pub unit: Option<String>,
    /// Declared bounds `<lo, hi>` of a parameter (documentation only).
    pub limits: Option<(f64, f64)>,
}

/// An ion species used by a mechanism.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Ion {
    pub name: String,
    /// Charge number (NMODL VALENCE, or the built-in valence of na, k, ca).
    pub valence: f64,
    /// Whether VALENCE was given in the source.
    pub valence_declared: bool,
    /// Variables read at kernel entry, in a fixed order (Erev, Inside, Outside, Current).
    pub reads: Vec<IonVar>,
    /// Variables written (concentrations and reversal potential are stored; the current is added
    /// to the ion's total by the current kernel).
    pub writes: Vec<IonVar>,
}

impl Ion {
    /// Whether the mechanism writes a concentration of this ion (then the simulator treats that
    /// concentration as a state and recomputes the reversal potential from it).
    pub fn writes_concentration(&self) -> bool {
        self.writes.iter().any(|w| w.is_concentration())
    }
}

/// The simulator hook a kernel belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    Init,
    Current,
    State,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::Init, Hook::Current, Hook::State];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Init => "init",
            Hook::Current => "current",
            Hook::State => "state",
        }
    }
}

/// Where a kernel result goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Store into a field of the instance.
    Field(FieldId),
    /// Store a concentration or reversal potential of an ion at the instance's node.
    Ion(IonId, IonVar),
    /// Add to the ion's total current at the node [mA/cm2] (current kernel only).
    IonCurrent(IonId),
    /// Add to the node's membrane current density [mA/cm2] (current kernel only).
    Current,
    /// Add to the node's membrane conductance dI/dv [S/cm2] (current kernel only).
    Conductance,
}

/// One result of a kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Write {
    pub target: Target,
    pub value: ExprId,
}

/// The results of one hook, in a fixed order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kernel {
    pub writes: Vec<Write>,
}

/// A TABLE statement of the source: recorded, not used. emsweep computes the tabulated function
/// exactly; NEURON's default interpolates in a table (`usetable_<suffix> = 1`). Compare against
/// NEURON with `usetable_<suffix> = 0`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TableNote {
    /// The FUNCTION or PROCEDURE holding the statement.
    pub in_block: String,
    /// Tabulated variables (empty for a FUNCTION's own value).
    pub names: Vec<String>,
    pub depend: Vec<String>,
    /// `FROM`, `TO` and `WITH` as written.
    pub from: String,
    pub to: String,
    pub with: String,
}

/// A compiled density mechanism.
#[derive(Clone, Debug)]
pub struct Mechanism {
    /// NMODL SUFFIX.
    pub name: String,
    pub fields: Vec<Field>,
    pub ions: Vec<Ion>,
    pub arena: Arena,
    pub init: Kernel,
    pub current: Kernel,
    pub state: Kernel,
    pub tables: Vec<TableNote>,
}

impl Mechanism {
    pub fn kernel(&self, hook: Hook) -> &Kernel {
        match hook {
            Hook::Init => &self.init,
            Hook::Current => &self.current,
            Hook::State => &self.state,
        }
    }

    pub fn field(&self, id: FieldId) -> Option<&Field> {
        self.fields.get(id.index())
    }

    pub fn field_id(&self, name: &str) -> Option<FieldId> {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .map(|i| FieldId(i as u32))
    }

    pub fn ion(&self, id: IonId) -> Option<&Ion> {
        self.ions.get(id.index())
    }

    pub fn ion_id(&self, name: &str) -> Option<IonId> {
        self.ions
            .iter()
            .position(|i| i.name == name)
            .map(|i| IonId(i as u32))
    }

    /// Whether the mechanism contributes membrane current.
    pub fn has_current(&self) -> bool {
        !self.current.writes.is_empty()
    }

    /// Whether the mechanism writes an ion concentration (`WRITE cai`).
    pub fn writes_concentration(&self) -> bool {
        self.ions.iter().any(Ion::writes_concentration)
    }
}

/// The order in which NEURON calls the mechanisms of a node in every phase (INITIAL, currents,
/// states), given them in registration order (the order `nrnivmodl` compiled their files): the
/// mechanisms that write an ion concentration first, in registration order, then the others in
/// registration order. NEURON moves concentration writers ahead so that a mechanism reading
/// `cai` sees the value of the same phase; for example SK_E2 (registered first) reads in its
/// state update the `cai` that TC_cad (registered after it) has just advanced. Measured against
/// NEURON 9.0.2 by the replay test (tests/nmodl/replay.rs).
pub fn neuron_call_order(registered: &[&Mechanism]) -> Vec<usize> {
    let writers = (0..registered.len()).filter(|&i| registered[i].writes_concentration());
    let others = (0..registered.len()).filter(|&i| !registered[i].writes_concentration());
    writers.chain(others).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nmodl::compile_source;

    fn mech(src: &str) -> Mechanism {
        compile_source(std::path::Path::new("t.mod"), src)
            .mechanism
            .unwrap()
    }

    #[test]
    fn concentration_writers_are_called_first_in_registration_order() {
        let reader = mech(
            "NEURON { SUFFIX rd USEION ca READ cai }\nASSIGNED { cai x }\nBREAKPOINT { x = cai }\n",
        );
        let pump = mech("NEURON { SUFFIX pump USEION ca READ ica WRITE cai }\nASSIGNED { ica }\nSTATE { cai }\nBREAKPOINT { SOLVE s METHOD cnexp }\nDERIVATIVE s { cai' = -ica }\n");
        let leak = mech(
            "NEURON { SUFFIX lk NONSPECIFIC_CURRENT i }\nASSIGNED { i v }\nBREAKPOINT { i = v }\n",
        );
        assert!(pump.writes_concentration() && !reader.writes_concentration());
        assert_eq!(
            neuron_call_order(&[&reader, &pump, &leak, &pump]),
            vec![1, 3, 0, 2]
        );
        assert_eq!(neuron_call_order(&[]), Vec::<usize>::new());
    }
}
