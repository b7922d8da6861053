//! The IR validator: checks the invariants every emitter relies on and returns the side table of
//! what each kernel reads and writes.
//!
//! Invariants: every handle is defined before use (children have smaller handles), operand types
//! fit their operations, kernels hold no placeholders, loads and writes name existing fields and
//! ion variables the mechanism declared, a kernel writes each target at most once, current
//! contributions appear only in the current kernel, and GLOBAL parameters are never written.

use std::collections::BTreeSet;

use super::expr::{Expr, ExprId, FieldId, IonId, IonVar, Load, SimVar, Ty, Unary};
use super::{Hook, Mechanism, Scope, Target};

/// What one kernel touches.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct KernelInfo {
    pub reads_fields: Vec<FieldId>,
    pub writes_fields: Vec<FieldId>,
    pub reads_ions: Vec<(IonId, IonVar)>,
    /// Ion variables stored or (for `Current`) added to.
    pub writes_ions: Vec<(IonId, IonVar)>,
    pub sim_vars: Vec<SimVar>,
    /// Adds membrane current and conductance to the node.
    pub adds_current: bool,
    /// Number of distinct expressions the kernel evaluates.
    pub expr_count: usize,
}

/// The side table of a valid mechanism.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Info {
    pub init: KernelInfo,
    pub current: KernelInfo,
    pub state: KernelInfo,
    /// Some kernel reads the time step.
    pub needs_dt: bool,
    /// Some kernel reads the segment diameter or area.
    pub needs_geometry: bool,
    /// Ions whose concentration this mechanism writes.
    pub concentration_ions: Vec<IonId>,
}

impl Info {
    pub fn kernel(&self, hook: Hook) -> &KernelInfo {
        match hook {
            Hook::Init => &self.init,
            Hook::Current => &self.current,
            Hook::State => &self.state,
        }
    }
}

/// Check `m` and describe it. All problems are returned at once.
pub fn validate(m: &Mechanism) -> Result<Info, Vec<String>> {
    let mut errs = Vec::new();
    let arena = &m.arena;

    // Field names are unique.
    let mut names = BTreeSet::new();
    for f in &m.fields {
        if !names.insert(f.name.as_str()) {
            errs.push(format!("field `{}` declared twice", f.name));
        }
    }
    let mut ion_names = BTreeSet::new();
    for i in &m.ions {
        if !ion_names.insert(i.name.as_str()) {
            errs.push(format!("ion `{}` declared twice", i.name));
        }
    }

    // Every node: children defined before it, types fit.
    for (id, e) in arena.iter() {
        for c in e.children() {
            if c >= id {
                errs.push(format!("%{} uses %{} before it is defined", id.0, c.0));
            }
        }
        if errs.len() > 50 {
            break;
        }
        let ty_of = |c: ExprId| arena.try_ty(c);
        let ty = arena.ty(id);
        let ok = match *e {
            Expr::Num(_) | Expr::Load(_) | Expr::Sym(_) => ty == Ty::Num,
            Expr::Bool(_) => ty == Ty::Bool,
            Expr::Unary(Unary::Not, a) => ty == Ty::Bool && ty_of(a) == Some(Ty::Bool),
            Expr::Unary(_, a) => ty == Ty::Num && ty_of(a) == Some(Ty::Num),
            Expr::Binary(op, a, b) => {
                let (want_in, want_out) = if op.is_logical() {
                    (Ty::Bool, Ty::Bool)
                } else if op.is_comparison() {
                    (Ty::Num, Ty::Bool)
                } else {
                    (Ty::Num, Ty::Num)
                };
                ty == want_out && ty_of(a) == Some(want_in) && ty_of(b) == Some(want_in)
            }
            Expr::Select(c, a, b) => {
                ty_of(c) == Some(Ty::Bool) && ty_of(a) == Some(ty) && ty_of(b) == Some(ty)
            }
        };
        if !ok {
            errs.push(format!("%{} has operands of the wrong type", id.0));
        }
        if let Expr::Load(l) = e {
            if let Some(msg) = check_load(m, *l) {
                errs.push(format!("%{}: {msg}", id.0));
            }
        }
    }

    let mut info = Info::default();
    for hook in Hook::ALL {
        let k = m.kernel(hook);
        let mut ki = KernelInfo::default();
        let mut targets = BTreeSet::new();
        let mut reads_f = BTreeSet::new();
        let mut writes_f = BTreeSet::new();
        let mut reads_i = BTreeSet::new();
        let mut writes_i = BTreeSet::new();
        let mut sims = BTreeSet::new();
        for w in &k.writes {
            if !targets.insert(w.target) {
                errs.push(format!(
                    "{} kernel writes {:?} twice",
                    hook.name(),
                    w.target
                ));
            }
            match arena.try_ty(w.value) {
                Some(Ty::Num) => {}
                Some(Ty::Bool) => errs.push(format!(
                    "{} kernel stores a truth value (%{}) into {:?}",
                    hook.name(),
                    w.value.0,
                    w.target
                )),
                None => errs.push(format!(
                    "{} kernel refers to %{} which does not exist",
                    hook.name(),
                    w.value.0
                )),
            }
            match w.target {
                Target::Field(f) => match m.field(f) {
                    None => errs.push(format!(
                        "{} kernel writes unknown field {}",
                        hook.name(),
                        f.0
                    )),
                    Some(field) => {
                        if field.scope == Scope::Global {
                            errs.push(format!(
                                "{} kernel writes GLOBAL parameter `{}`",
                                hook.name(),
                                field.name
                            ));
                        }
                        writes_f.insert(f);
                    }
                },
                Target::Ion(i, var) => match m.ion(i) {
                    None => errs.push(format!("{} kernel writes unknown ion {}", hook.name(), i.0)),
                    Some(ion) => {
                        if var == IonVar::Current || !ion.writes.contains(&var) {
                            errs.push(format!(
                                "{} kernel stores `{}` which the mechanism does not WRITE",
                                hook.name(),
                                var.nmodl_name(&ion.name)
                            ));
                        }
                        writes_i.insert((i, var));
                    }
                },
                Target::IonCurrent(i) => {
                    if hook != Hook::Current {
                        errs.push(format!("{} kernel adds an ion current", hook.name()));
                    }
                    match m.ion(i) {
                        Some(ion) if ion.writes.contains(&IonVar::Current) => {}
                        _ => errs.push(format!(
                            "{} kernel adds the current of ion {} which is not written",
                            hook.name(),
                            i.0
                        )),
                    }
                    writes_i.insert((i, IonVar::Current));
                }
                Target::Current | Target::Conductance => {
                    if hook != Hook::Current {
                        errs.push(format!("{} kernel adds membrane current", hook.name()));
                    }
                    ki.adds_current = true;
                }
            }
        }
        let roots: Vec<ExprId> = k
            .writes
            .iter()
            .map(|w| w.value)
            .filter(|v| v.index() < arena.len())
            .collect();
        let reach = arena.reachable(roots);
        ki.expr_count = reach.len();
        for id in reach {
            match *arena.get(id) {
                Expr::Sym(s) => errs.push(format!(
                    "{} kernel still holds placeholder s{s} (%{})",
                    hook.name(),
                    id.0
                )),
                Expr::Load(Load::Field(f)) => {
                    reads_f.insert(f);
                }
                Expr::Load(Load::Ion(i, v)) => {
                    reads_i.insert((i, v));
                }
                Expr::Load(Load::Sim(s)) => {
                    sims.insert(s);
                }
                _ => {}
            }
        }
        ki.reads_fields = reads_f.into_iter().collect();
        ki.writes_fields = writes_f.into_iter().collect();
        ki.reads_ions = reads_i.into_iter().collect();
        ki.writes_ions = writes_i.into_iter().collect();
        ki.sim_vars = sims.into_iter().collect();
        if ki.sim_vars.contains(&SimVar::Dt) {
            info.needs_dt = true;
        }
        if ki.sim_vars.contains(&SimVar::Diam) || ki.sim_vars.contains(&SimVar::Area) {
            info.needs_geometry = true;
        }
        match hook {
            Hook::Init => info.init = ki,
            Hook::Current => info.current = ki,
            Hook::State => info.state = ki,
        }
    }
    if info.current.adds_current && !m.current.writes.iter().any(|w| w.target == Target::Current) {
        errs.push("current kernel adds conductance but no current".into());
    }
    info.concentration_ions = m
        .ions
        .iter()
        .enumerate()
        .filter(|(_, i)| i.writes_concentration())
        .map(|(k, _)| IonId(k as u32))
        .collect();

    if errs.is_empty() {
        Ok(info)
    } else {
        Err(errs)
    }
}

fn check_load(m: &Mechanism, l: Load) -> Option<String> {
    match l {
        Load::Field(f) => m
            .field(f)
            .is_none()
            .then(|| format!("load of unknown field {}", f.0)),
        Load::Ion(i, var) => match m.ion(i) {
            None => Some(format!("load of unknown ion {}", i.0)),
            Some(ion) => {
                let readable = ion.reads.contains(&var)
                    || (var != IonVar::Current && ion.writes.contains(&var));
                (!readable).then(|| {
                    format!(
                        "load of `{}` which the mechanism neither READs nor WRITEs",
                        var.nmodl_name(&ion.name)
                    )
                })
            }
        },
        Load::Sim(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Arena, Binary, Field, FieldRole, Ion, Kernel, Write};

    fn tiny() -> Mechanism {
        let mut arena = Arena::new();
        let g = arena.load(Load::Field(FieldId(0)));
        let v = arena.load(Load::Sim(SimVar::V));
        let e = arena.load(Load::Ion(IonId(0), IonVar::Erev));
        let d = arena.binary(Binary::Sub, v, e);
        let i = arena.binary(Binary::Mul, g, d);
        Mechanism {
            name: "leak".into(),
            fields: vec![Field {
                name: "g".into(),
                role: FieldRole::Parameter,
                scope: Scope::Range,
                default: 1e-3,
                unit: None,
                limits: None,
            }],
            ions: vec![Ion {
                name: "k".into(),
                valence: 1.0,
                valence_declared: false,
                reads: vec![IonVar::Erev],
                writes: vec![IonVar::Current],
            }],
            arena,
            init: Kernel::default(),
            current: Kernel {
                writes: vec![
                    Write {
                        target: Target::IonCurrent(IonId(0)),
                        value: i,
                    },
                    Write {
                        target: Target::Current,
                        value: i,
                    },
                    Write {
                        target: Target::Conductance,
                        value: g,
                    },
                ],
            },
            state: Kernel::default(),
            tables: vec![],
        }
    }

    #[test]
    fn a_valid_mechanism_is_described() {
        let m = tiny();
        let info = validate(&m).unwrap();
        assert_eq!(info.current.reads_fields, vec![FieldId(0)]);
        assert_eq!(info.current.reads_ions, vec![(IonId(0), IonVar::Erev)]);
        assert_eq!(info.current.writes_ions, vec![(IonId(0), IonVar::Current)]);
        assert!(info.current.adds_current);
        assert!(!info.needs_dt);
        assert_eq!(info.current.sim_vars, vec![SimVar::V]);
    }

    #[test]
    fn broken_mechanisms_are_reported() {
        let mut m = tiny();
        // ion current added from the state kernel, twice the same target, unknown field
        let v = m.current.writes[0].value;
        m.state.writes.push(Write {
            target: Target::IonCurrent(IonId(0)),
            value: v,
        });
        m.state.writes.push(Write {
            target: Target::Field(FieldId(7)),
            value: v,
        });
        m.state.writes.push(Write {
            target: Target::Field(FieldId(7)),
            value: v,
        });
        m.fields[0].scope = Scope::Global;
        m.init.writes.push(Write {
            target: Target::Field(FieldId(0)),
            value: v,
        });
        let errs = validate(&m).unwrap_err();
        let all = errs.join("\n");
        assert!(all.contains("state kernel adds an ion current"), "{all}");
        assert!(all.contains("unknown field 7"), "{all}");
        assert!(all.contains("twice"), "{all}");
        assert!(all.contains("GLOBAL parameter `g`"), "{all}");
    }

    #[test]
    fn placeholders_and_bad_types_are_rejected() {
        let mut m = tiny();
        let s = m.arena.sym(0);
        let c = m.arena.to_bool(s);
        m.state.writes.push(Write {
            target: Target::Field(FieldId(0)),
            value: c,
        });
        m.fields[0].role = FieldRole::State;
        let errs = validate(&m).unwrap_err().join("\n");
        assert!(errs.contains("placeholder"), "{errs}");
        assert!(errs.contains("truth value"), "{errs}");
    }
}
