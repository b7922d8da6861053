//! The stable text form of a mechanism, for snapshot tests and for reading what a .mod file became.
//!
//! Each kernel lists the expressions it evaluates in dependency order, numbered from `%0` within the
//! kernel, then its results. Numbers are printed as Rust's shortest round-trip form, so a dump
//! changes exactly when a value changes.

use std::fmt::Write as _;

use super::expr::{Expr, ExprId, Load};
use super::{FieldRole, Hook, Mechanism, Scope, Target};

fn num(x: f64) -> String {
    format!("{x:?}")
}

fn load_text(m: &Mechanism, l: Load) -> String {
    match l {
        Load::Field(f) => match m.field(f) {
            Some(field) => format!("field {}", field.name),
            None => format!("field #{}", f.0),
        },
        Load::Ion(i, var) => match m.ion(i) {
            Some(ion) => format!("ion {}", var.nmodl_name(&ion.name)),
            None => format!("ion #{} {var:?}", i.0),
        },
        Load::Sim(s) => format!("sim {}", s.name()),
    }
}

fn target_text(m: &Mechanism, t: Target) -> String {
    match t {
        Target::Field(f) => match m.field(f) {
            Some(field) => format!("store field {}", field.name),
            None => format!("store field #{}", f.0),
        },
        Target::Ion(i, var) => match m.ion(i) {
            Some(ion) => format!("store ion {}", var.nmodl_name(&ion.name)),
            None => format!("store ion #{} {var:?}", i.0),
        },
        Target::IonCurrent(i) => match m.ion(i) {
            Some(ion) => format!("add ion_current {}", ion.name),
            None => format!("add ion_current #{}", i.0),
        },
        Target::Current => "add current".to_string(),
        Target::Conductance => "add conductance".to_string(),
    }
}

/// The dump of `m`.
pub fn dump(m: &Mechanism) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "mechanism {}", m.name);
    for ion in &m.ions {
        let reads: Vec<String> = ion.reads.iter().map(|v| v.nmodl_name(&ion.name)).collect();
        let writes: Vec<String> = ion.writes.iter().map(|v| v.nmodl_name(&ion.name)).collect();
        let _ = writeln!(
            s,
            "ion {} valence {}{} read [{}] write [{}]",
            ion.name,
            num(ion.valence),
            if ion.valence_declared {
                " (declared)"
            } else {
                ""
            },
            reads.join(" "),
            writes.join(" ")
        );
    }
    for (k, f) in m.fields.iter().enumerate() {
        let role = match f.role {
            FieldRole::Parameter => "parameter",
            FieldRole::Assigned => "assigned",
            FieldRole::State => "state",
        };
        let scope = match f.scope {
            Scope::Range => "range",
            Scope::Global => "global",
            Scope::Instance => "instance",
        };
        let _ = write!(
            s,
            "field {k} {} {role} {scope} default {}",
            f.name,
            num(f.default)
        );
        if let Some(u) = &f.unit {
            let _ = write!(s, " unit ({u})");
        }
        if let Some((lo, hi)) = f.limits {
            let _ = write!(s, " limits <{}, {}>", num(lo), num(hi));
        }
        s.push('\n');
    }
    for t in &m.tables {
        let _ = writeln!(
            s,
            "table in {} [{}] depend [{}] from {} to {} with {} (computed exactly)",
            t.in_block,
            t.names.join(" "),
            t.depend.join(" "),
            t.from,
            t.to,
            t.with
        );
    }
    for hook in Hook::ALL {
        let k = m.kernel(hook);
        let _ = writeln!(s, "kernel {}", hook.name());
        let roots: Vec<ExprId> = k.writes.iter().map(|w| w.value).collect();
        let order = m.arena.reachable(roots);
        let mut local = std::collections::HashMap::with_capacity(order.len());
        for (n, id) in order.iter().enumerate() {
            local.insert(*id, n);
        }
        let r = |id: ExprId| match local.get(&id) {
            Some(n) => format!("%{n}"),
            None => format!("%?{}", id.0),
        };
        for (n, id) in order.iter().enumerate() {
            let text = match *m.arena.get(*id) {
                Expr::Num(x) => format!("num {}", num(x)),
                Expr::Bool(b) => format!("bool {b}"),
                Expr::Load(l) => format!("load {}", load_text(m, l)),
                Expr::Sym(k) => format!("sym s{k}"),
                Expr::Unary(op, a) => format!("{} {}", op.name(), r(a)),
                Expr::Binary(op, a, b) => format!("{} {} {}", op.name(), r(a), r(b)),
                Expr::Select(c, a, b) => format!("select {} {} {}", r(c), r(a), r(b)),
            };
            let _ = writeln!(s, "  %{n} = {text}");
        }
        for w in &k.writes {
            let _ = writeln!(s, "  {} = {}", target_text(m, w.target), r(w.value));
        }
    }
    s
}
