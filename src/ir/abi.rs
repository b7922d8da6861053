//! The kernel ABI: which per-instance columns a mechanism's kernels run over, in which order, and
//! which column each load and store of the IR touches. Both emitters (CPU programs, WGSL modules)
//! and both back ends read this one layout, so they cannot drift apart.
//!
//! The columns of a mechanism are, in this order: its fields, the variables of each ion it uses
//! (erev, inside, outside, current, each when read or written), the simulator values its kernels
//! read (in `SimVar` order), then the membrane current and conductance accumulators. The caller
//! gathers node values (voltage, ion values, geometry) into their columns before a kernel and
//! scatters the written ones (ion concentrations, added currents) back after it.

use std::collections::BTreeSet;

use super::{Expr, FieldId, Hook, IonId, IonVar, Load, Mechanism, SimVar, Target};

/// What a column holds, per instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    Field(FieldId),
    /// An ion variable at the instance's node; for `IonVar::Current` the current kernel adds its
    /// contribution (clear it, or pass the node's running total, before the current kernel).
    Ion(IonId, IonVar),
    Sim(SimVar),
    /// Membrane current density added by the current kernel [mA/cm2].
    Current,
    /// Conductance added by the current kernel [S/cm2].
    Conductance,
}

impl Column {
    /// The column a load reads.
    pub fn of_load(l: Load) -> Column {
        match l {
            Load::Field(f) => Column::Field(f),
            Load::Ion(i, v) => Column::Ion(i, v),
            Load::Sim(s) => Column::Sim(s),
        }
    }

    /// The column a store writes, and whether it adds to the column (currents) rather than
    /// overwriting it.
    pub fn of_target(t: Target) -> (Column, bool) {
        match t {
            Target::Field(f) => (Column::Field(f), false),
            Target::Ion(i, v) => (Column::Ion(i, v), false),
            Target::IonCurrent(i) => (Column::Ion(i, IonVar::Current), true),
            Target::Current => (Column::Current, true),
            Target::Conductance => (Column::Conductance, true),
        }
    }
}

/// The columns of `m`, in the documented order.
pub fn columns_of(m: &Mechanism) -> Vec<Column> {
    let mut cols: Vec<Column> = (0..m.fields.len())
        .map(|i| Column::Field(FieldId(i as u32)))
        .collect();
    for (i, ion) in m.ions.iter().enumerate() {
        for var in [
            IonVar::Erev,
            IonVar::Inside,
            IonVar::Outside,
            IonVar::Current,
        ] {
            if ion.reads.contains(&var) || ion.writes.contains(&var) {
                cols.push(Column::Ion(IonId(i as u32), var));
            }
        }
    }
    let mut sims: BTreeSet<SimVar> = BTreeSet::new();
    for hook in Hook::ALL {
        let roots = m.kernel(hook).writes.iter().map(|w| w.value);
        for id in m.arena.reachable(roots) {
            if let Expr::Load(Load::Sim(s)) = *m.arena.get(id) {
                sims.insert(s);
            }
        }
    }
    cols.extend(sims.into_iter().map(Column::Sim));
    cols.push(Column::Current);
    cols.push(Column::Conductance);
    cols
}

/// The index of column `c` in `columns`, if it is there.
pub fn position(columns: &[Column], c: Column) -> Option<usize> {
    columns.iter().position(|x| *x == c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_add_only_to_currents() {
        let (c, add) = Column::of_target(Target::IonCurrent(IonId(0)));
        assert_eq!((c, add), (Column::Ion(IonId(0), IonVar::Current), true));
        assert!(!Column::of_target(Target::Field(FieldId(2))).1);
        assert!(Column::of_target(Target::Conductance).1);
        assert_eq!(
            Column::of_load(Load::Sim(SimVar::V)),
            Column::Sim(SimVar::V)
        );
    }
}
