//! Lowering of a checked .mod file to [`crate::ir::Mechanism`]: the statements of each hook are
//! executed symbolically, giving one pure expression per value a kernel stores.
//!
//! Semantics follow the C++ that NEURON 9's `nocmodl` generates:
//! - `v` and READ-only ion variables are copies made at kernel entry: assigning them changes the
//!   copy, never the membrane potential or the ion; FUNCTION/PROCEDURE arguments are by value;
//!   calls are inlined; LOCALs start at 0; `if`/`else` become selects between the two branches.
//! - init: non-ion STATEs start at 0, then INITIAL runs.
//! - current (only for mechanisms with currents): the BREAKPOINT statements other than SOLVE run
//!   at `v + 0.001`, then again at `v`; the current is the sum of the written ion currents (USEION
//!   order) and NONSPECIFIC_CURRENTs, the conductance `(I(v + 0.001) - I(v)) / 0.001`; each ion
//!   current is added to its ion.
//! - state: each SOLVE of the BREAKPOINT block in order; then, for mechanisms without currents,
//!   the other BREAKPOINT statements (as NEURON does).
//! - `cnexp`: statements run in order; `x' = f` is replaced in place by
//!   `x + (1 - exp(dt*b)) * (-a/b - x)` with `b = df/dx` and `a = f|x=0`, differentiating only the
//!   occurrences of `x` written in `f` itself (as nocmodl does: a variable computed from `x` earlier
//!   counts as a constant); `x + dt*f` when `f` does not contain `x`. A right-hand side not linear
//!   in its state is rejected (NEURON silently linearises it or switches to Newton iterations).
//! - `derivimplicit`: one backward-Euler step, `x1 = x0 + dt*f(x1)`, which NEURON solves by Newton
//!   iterations to convergence. emsweep solves it exactly when the system is linear in the states
//!   and not cyclically coupled (each state depends on itself and on states solved before it), then
//!   runs the block once more at the new states, as NEURON's last iteration leaves assigned
//!   variables at their values for the new states. Other systems are rejected.
//! - PARAMETER defaults are rounded to 6 significant digits: nocmodl prints them with `%g`.

use super::ast::{self, Block, Expr as AExpr, ExprKind, Ident, StmtKind};
use super::sema::{SemaDiag, Symbols, VarKind};
use crate::diag::Severity;
use crate::ir::deriv::{depends_on, derivative, substitute, DerivError};
use crate::ir::{
    Arena, Binary, ExprId, Field, FieldId, FieldRole, Ion, IonId, IonVar, Kernel, Load, Mechanism,
    Scope, SimVar, TableNote, Target, Unary, Write,
};

/// How many statements and expressions lowering may produce before giving up (a guard against
/// exponential inlining in hostile input; real channels need a few thousand).
const BUDGET: usize = 2_000_000;

/// The deepest inlining of nested calls followed.
const MAX_CALL_DEPTH: usize = 64;

/// A PARAMETER default as NEURON stores it: printed with C's `%g` (6 significant digits) by
/// nocmodl and read back by the C++ compiler.
pub fn neuron_parameter_default(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.5e}").parse().unwrap_or(x)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DerivMode {
    /// Not in a SOLVEd DERIVATIVE block (derivatives are ignored; the checker reported them).
    Ignore,
    Cnexp,
    /// First derivimplicit pass: collect the right-hand sides.
    Collect,
}

struct Slot {
    entry: ExprId,
    field: Option<usize>,
    ion_store: Option<(IonId, IonVar)>,
}

struct ProtoField {
    field: Field,
    /// Dropped when no kernel reads it at entry (an ASSIGNED that is always computed before use).
    droppable: bool,
}

struct Lowerer<'s, 'f> {
    s: &'s Symbols<'f>,
    arena: Arena,
    slots: Vec<Slot>,
    fields: Vec<ProtoField>,
    env: Vec<ExprId>,
    /// LOCALs, arguments and function results of the innermost call (lexical scoping: outer frames
    /// are invisible).
    frames: Vec<Vec<(String, ExprId)>>,
    cnexp: Option<(usize, ExprId)>,
    mode: DerivMode,
    collected: Vec<(usize, ExprId, ast::Span)>,
    branch_depth: usize,
    calls: Vec<String>,
    budget: usize,
    next_sym: u32,
    quiet: bool,
    diags: Vec<SemaDiag>,
}

/// Lower a checked file. Errors (non-linear equations, a file too large) are returned with every
/// warning found.
pub fn lower(s: &Symbols) -> (Option<Mechanism>, Vec<SemaDiag>) {
    let mut lw = Lowerer {
        s,
        arena: Arena::new(),
        slots: Vec::new(),
        fields: Vec::new(),
        env: Vec::new(),
        frames: Vec::new(),
        cnexp: None,
        mode: DerivMode::Ignore,
        collected: Vec::new(),
        branch_depth: 0,
        calls: Vec::new(),
        budget: BUDGET,
        next_sym: 0,
        quiet: false,
        diags: Vec::new(),
    };
    lw.make_slots();
    let init = lw.init_kernel();
    let current = lw.current_kernel();
    let state = lw.state_kernel();
    let has_errors = lw.diags.iter().any(|d| d.severity == Severity::Error);
    if has_errors {
        return (None, lw.diags);
    }
    let m = lw.finish(init, current, state);
    (Some(m), lw.diags)
}

impl<'s, 'f> Lowerer<'s, 'f> {
    fn error(&mut self, kind: &'static str, span: ast::Span, message: impl Into<String>) {
        if self.quiet {
            return;
        }
        let d = SemaDiag {
            severity: Severity::Error,
            kind,
            span: Some(span),
            message: message.into(),
        };
        if !self.diags.contains(&d) {
            self.diags.push(d);
        }
    }

    fn spend(&mut self, n: usize) -> bool {
        if self.budget == 0 {
            return false;
        }
        if self.budget <= n {
            self.budget = 0;
            let quiet = self.quiet;
            self.quiet = false;
            self.error(
                "too-large",
                ast::Span::default(),
                "the mechanism grows too large when its FUNCTIONs and PROCEDUREs are inlined",
            );
            self.quiet = quiet;
            return false;
        }
        self.budget -= n;
        true
    }

    // ---- variables ----------------------------------------------------------------------------

    fn make_slots(&mut self) {
        let s = self.s;
        // fields in a fixed order: parameters, assigned (and currents), states
        let mut field_of: Vec<Option<usize>> = vec![None; s.vars.len()];
        for pass in 0..3 {
            for (i, v) in s.vars.iter().enumerate() {
                let (role, scope, droppable) = match (&v.kind, pass) {
                    (VarKind::Parameter, 0) => (
                        FieldRole::Parameter,
                        if v.range { Scope::Range } else { Scope::Global },
                        false,
                    ),
                    (VarKind::Assigned, 1) => (
                        FieldRole::Assigned,
                        if v.range {
                            Scope::Range
                        } else {
                            Scope::Instance
                        },
                        !v.range,
                    ),
                    (VarKind::Ion { ion, var }, 1)
                        if *var == IonVar::Current
                            && s.ions[*ion].writes.contains(&IonVar::Current) =>
                    {
                        let read = s.ions[*ion].reads.contains(&IonVar::Current);
                        if read && !v.range {
                            continue;
                        }
                        (
                            FieldRole::Assigned,
                            if v.range {
                                Scope::Range
                            } else {
                                Scope::Instance
                            },
                            !v.range,
                        )
                    }
                    (VarKind::State, 2) => (FieldRole::State, Scope::Range, false),
                    _ => continue,
                };
                let default = if role == FieldRole::Parameter {
                    neuron_parameter_default(v.default)
                } else {
                    0.0
                };
                field_of[i] = Some(self.fields.len());
                self.fields.push(ProtoField {
                    field: Field {
                        name: v.name.clone(),
                        role,
                        scope,
                        default,
                        unit: v.unit.clone(),
                        limits: v.limits,
                    },
                    droppable,
                });
            }
        }
        for (i, v) in s.vars.iter().enumerate() {
            let field = field_of[i];
            let (entry, ion_store) = match &v.kind {
                VarKind::Sim(sv) => (self.arena.load(Load::Sim(*sv)), None),
                VarKind::Constant(x) => (self.arena.num(*x), None),
                VarKind::Ion { ion, var } => {
                    let id = IonId(*ion as u32);
                    let decl = &s.ions[*ion];
                    let store = (decl.writes.contains(var) && *var != IonVar::Current)
                        .then_some((id, *var));
                    let read_from_ion = *var != IonVar::Current
                        || decl.reads.contains(&IonVar::Current)
                        || field.is_none();
                    let entry = if read_from_ion {
                        self.arena.load(Load::Ion(id, *var))
                    } else {
                        self.arena
                            .load(Load::Field(FieldId(field.unwrap_or(0) as u32)))
                    };
                    (entry, store)
                }
                _ => match field {
                    Some(f) => (self.arena.load(Load::Field(FieldId(f as u32))), None),
                    None => (self.arena.num(0.0), None),
                },
            };
            self.slots.push(Slot {
                entry,
                field,
                ion_store,
            });
        }
    }

    fn begin_kernel(&mut self) {
        self.env = self.slots.iter().map(|s| s.entry).collect();
        self.frames = vec![Vec::new()];
        self.cnexp = None;
        self.mode = DerivMode::Ignore;
        self.branch_depth = 0;
    }

    fn var_index(&self, name: &str) -> Option<usize> {
        self.s.by_name.get(name).copied()
    }

    fn local_pos(&self, name: &str) -> Option<usize> {
        self.frames
            .last()
            .and_then(|f| f.iter().rposition(|(n, _)| n == name))
    }

    fn read(&mut self, name: &str) -> ExprId {
        if let Some(p) = self.local_pos(name) {
            if let Some(f) = self.frames.last() {
                return f[p].1;
            }
        }
        match self.var_index(name) {
            Some(i) => match self.cnexp {
                Some((target, sym)) if target == i => sym,
                _ => self.env[i],
            },
            None => self.arena.num(0.0),
        }
    }

    fn assign(&mut self, name: &str, value: ExprId) {
        if let Some(p) = self.local_pos(name) {
            if let Some(f) = self.frames.last_mut() {
                f[p].1 = value;
            }
            return;
        }
        if let Some(i) = self.var_index(name) {
            if self.s.vars[i].writable() {
                self.env[i] = value;
            }
        }
    }

    // ---- expressions --------------------------------------------------------------------------

    fn expr(&mut self, e: &AExpr) -> ExprId {
        if !self.spend(1) {
            return self.arena.num(0.0);
        }
        match &e.kind {
            ExprKind::Num(x) => self.arena.num(*x),
            ExprKind::Name(n) => self.read(n),
            ExprKind::Unary(op, a) => {
                let a = self.expr(a);
                match op {
                    ast::UnOp::Neg => self.arena.unary(Unary::Neg, a),
                    ast::UnOp::Not => self.arena.unary(Unary::Not, a),
                }
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.expr(a);
                let b = self.expr(b);
                let op = match op {
                    ast::BinOp::Add => Binary::Add,
                    ast::BinOp::Sub => Binary::Sub,
                    ast::BinOp::Mul => Binary::Mul,
                    ast::BinOp::Div => Binary::Div,
                    ast::BinOp::Pow => Binary::Pow,
                    ast::BinOp::Lt => Binary::Lt,
                    ast::BinOp::Le => Binary::Le,
                    ast::BinOp::Gt => Binary::Gt,
                    ast::BinOp::Ge => Binary::Ge,
                    ast::BinOp::Eq => Binary::Eq,
                    ast::BinOp::Ne => Binary::Ne,
                    ast::BinOp::And => Binary::And,
                    ast::BinOp::Or => Binary::Or,
                };
                self.arena.binary(op, a, b)
            }
            ExprKind::Call(name, args) => self.call(name, args),
        }
    }

    fn call(&mut self, name: &Ident, args: &[AExpr]) -> ExprId {
        let vals: Vec<ExprId> = args.iter().map(|a| self.expr(a)).collect();
        let zero = self.arena.num(0.0);
        if let Some(c) = self.s.callables.get(&name.name).copied() {
            if self.calls.contains(&name.name) || self.calls.len() >= MAX_CALL_DEPTH {
                // recursion was reported by the checker
                return zero;
            }
            let mut frame: Vec<(String, ExprId)> = c
                .def
                .params
                .iter()
                .enumerate()
                .map(|(k, p)| (p.name.clone(), vals.get(k).copied().unwrap_or(zero)))
                .collect();
            if c.is_function {
                frame.push((name.name.clone(), zero));
            }
            self.frames.push(frame);
            self.calls.push(name.name.clone());
            let saved = self.cnexp.take();
            self.block(&c.def.body);
            self.cnexp = saved;
            self.calls.pop();
            let frame = self.frames.pop().unwrap_or_default();
            if c.is_function {
                return frame
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == name.name)
                    .map_or(zero, |(_, v)| *v);
            }
            return zero;
        }
        if let Some(body) = self.s.derivatives.get(&name.name).copied() {
            // A DERIVATIVE block called like a PROCEDURE (from INITIAL, say) runs its integration
            // step, as in NEURON's generated code.
            if self.calls.contains(&name.name) || self.calls.len() >= MAX_CALL_DEPTH {
                return zero;
            }
            self.calls.push(name.name.clone());
            let saved_mode = self.mode;
            let saved_cnexp = self.cnexp.take();
            match self.s.solve_method(&name.name) {
                Some("cnexp") => {
                    self.mode = DerivMode::Cnexp;
                    self.block(body);
                }
                Some("derivimplicit") => self.solve_implicit(name, body),
                _ => {}
            }
            self.mode = saved_mode;
            self.cnexp = saved_cnexp;
            self.calls.pop();
            return zero;
        }
        if let Some(op) = Unary::from_function_name(&name.name) {
            let a = vals.first().copied().unwrap_or(zero);
            return self.arena.unary(op, a);
        }
        if let Some(op) = Binary::from_function_name(&name.name) {
            let a = vals.first().copied().unwrap_or(zero);
            let b = vals.get(1).copied().unwrap_or(zero);
            return self.arena.binary(op, a, b);
        }
        zero
    }

    // ---- statements ---------------------------------------------------------------------------

    fn block(&mut self, b: &Block) {
        let mark = self.frames.last().map_or(0, |f| f.len());
        for st in &b.stmts {
            if !self.spend(1) {
                break;
            }
            self.stmt(st);
        }
        if let Some(f) = self.frames.last_mut() {
            f.truncate(mark);
        }
    }

    fn stmt(&mut self, st: &ast::Stmt) {
        match &st.kind {
            StmtKind::Local(names) => {
                let zero = self.arena.num(0.0);
                if let Some(f) = self.frames.last_mut() {
                    for n in names {
                        f.push((n.name.clone(), zero));
                    }
                }
            }
            StmtKind::Assign(lhs, e) => {
                let v = self.expr(e);
                self.assign(&lhs.name, v);
            }
            StmtKind::Derivative(x, e) => match self.mode {
                DerivMode::Ignore => {}
                DerivMode::Cnexp => self.cnexp_update(x, e),
                DerivMode::Collect => {
                    if self.branch_depth > 0 {
                        self.error(
                            "unsupported",
                            st.span,
                            super::sema::unsupported_message(
                                "a derivative inside if/else with METHOD derivimplicit",
                            ),
                        );
                    }
                    let v = self.expr(e);
                    if let Some(i) = self.var_index(&x.name) {
                        if self.collected.iter().any(|(k, _, _)| *k == i) {
                            self.error(
                                "duplicate-name",
                                x.span,
                                format!("a second equation for `{}'`", x.name),
                            );
                        }
                        self.collected.push((i, v, st.span));
                    }
                }
            },
            StmtKind::Call(name, args) => {
                self.call(name, args);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(cond);
                let c = self.arena.to_bool(c);
                let env0 = self.env.clone();
                let frame0 = self.frames.last().cloned().unwrap_or_default();
                self.branch_depth += 1;
                self.block(then);
                let env_then = std::mem::replace(&mut self.env, env0);
                let frame_then = self.frames.last().cloned().unwrap_or_default();
                if let Some(f) = self.frames.last_mut() {
                    *f = frame0;
                }
                if let Some(o) = otherwise {
                    self.block(o);
                }
                self.branch_depth -= 1;
                for (i, &t) in env_then.iter().enumerate() {
                    if t != self.env[i] {
                        self.env[i] = self.arena.select(c, t, self.env[i]);
                    }
                }
                let arena = &mut self.arena;
                if let Some(f) = self.frames.last_mut() {
                    for (k, (_, v)) in f.iter_mut().enumerate() {
                        if let Some((_, t)) = frame_then.get(k) {
                            if *t != *v {
                                *v = arena.select(c, *t, *v);
                            }
                        }
                    }
                }
            }
            StmtKind::Block(b) => self.block(b),
            StmtKind::Solve { .. }
            | StmtKind::Table(_)
            | StmtKind::Ignored(_)
            | StmtKind::Unsupported(_) => {}
        }
    }

    fn dt(&mut self) -> ExprId {
        self.arena.load(Load::Sim(SimVar::Dt))
    }

    fn cnexp_update(&mut self, x: &Ident, rhs: &AExpr) {
        let Some(i) = self.var_index(&x.name) else {
            return;
        };
        // A FUNCTION applied to the state: nocmodl gives up on cnexp here.
        let mut bad_call = None;
        rhs.walk(&mut |e| {
            if let ExprKind::Call(f, args) = &e.kind {
                if self.s.callables.contains_key(&f.name) {
                    let mut mentions = false;
                    for a in args {
                        a.walk(&mut |y| {
                            if matches!(&y.kind, ExprKind::Name(n) if *n == x.name) {
                                mentions = true;
                            }
                        });
                    }
                    if mentions && bad_call.is_none() {
                        bad_call = Some(f.name.clone());
                    }
                }
            }
        });
        if let Some(f) = bad_call {
            self.error(
                "non-linear",
                rhs.span,
                format!(
                    "cnexp cannot integrate `{0}'`: the state is passed to FUNCTION `{f}` (NEURON switches to Newton iterations here; emsweep needs `{0}' = a + b*{0}`)",
                    x.name
                ),
            );
            return;
        }
        let sym = self.arena.sym(self.next_sym);
        self.next_sym += 1;
        self.cnexp = Some((i, sym));
        let f = self.expr(rhs);
        self.cnexp = None;
        let x0 = self.env[i];
        let dt = self.dt();
        let nonlinear = |lw: &mut Self| {
            lw.error(
                "non-linear",
                rhs.span,
                format!(
                    "cnexp needs `{0}' = a + b*{0}` with a and b free of `{0}`; this right-hand side is not linear in `{0}` (NEURON would silently linearise it)",
                    x.name
                ),
            );
        };
        let b = match derivative(&mut self.arena, f, self.next_sym - 1) {
            Ok(b) => b,
            Err(DerivError::Piecewise) => {
                nonlinear(self);
                return;
            }
        };
        let new = match b {
            None => {
                let fx = substitute(&mut self.arena, f, &[(self.next_sym - 1, x0)]);
                let step = self.arena.binary(Binary::Mul, dt, fx);
                self.arena.binary(Binary::Add, x0, step)
            }
            Some(b) => {
                if depends_on(&self.arena, b, None) {
                    nonlinear(self);
                    return;
                }
                let zero = self.arena.num(0.0);
                let a = substitute(&mut self.arena, f, &[(self.next_sym - 1, zero)]);
                let one = self.arena.num(1.0);
                let dtb = self.arena.binary(Binary::Mul, dt, b);
                let e = self.arena.unary(Unary::Exp, dtb);
                let frac = self.arena.binary(Binary::Sub, one, e);
                let na = self.arena.unary(Unary::Neg, a);
                let xinf = self.arena.binary(Binary::Div, na, b);
                let diff = self.arena.binary(Binary::Sub, xinf, x0);
                let step = self.arena.binary(Binary::Mul, frac, diff);
                self.arena.binary(Binary::Add, x0, step)
            }
        };
        self.env[i] = new;
    }

    /// `SOLVE block METHOD derivimplicit`.
    fn solve_implicit(&mut self, name: &Ident, body: &Block) {
        let env0 = self.env.clone();
        // states with equations, in order of appearance
        let mut targets: Vec<usize> = Vec::new();
        collect_targets(body, &mut |n: &str| {
            if let Some(i) = self.s.by_name.get(n).copied() {
                if !targets.contains(&i) {
                    targets.push(i);
                }
            }
        });
        let base = self.next_sym;
        let syms: Vec<ExprId> = (0..targets.len())
            .map(|k| self.arena.sym(base + k as u32))
            .collect();
        self.next_sym += targets.len() as u32;
        for (k, &i) in targets.iter().enumerate() {
            self.env[i] = syms[k];
        }
        self.mode = DerivMode::Collect;
        self.collected.clear();
        self.block(body);
        self.mode = DerivMode::Ignore;
        let collected = std::mem::take(&mut self.collected);
        self.env = env0.clone();

        let n = targets.len();
        let zero = self.arena.num(0.0);
        let all_zero: Vec<(u32, ExprId)> = (0..n).map(|k| (base + k as u32, zero)).collect();
        // f_i = a_i + sum_j B_ij x_j
        let mut a: Vec<ExprId> = Vec::with_capacity(n);
        let mut bm: Vec<Vec<Option<ExprId>>> = Vec::with_capacity(n);
        let mut ok = true;
        for (k, &i) in targets.iter().enumerate() {
            let Some(&(_, f, span)) = collected.iter().find(|(v, _, _)| *v == i) else {
                // a target always has an equation; keep going defensively
                a.push(zero);
                bm.push(vec![None; n]);
                let _ = k;
                continue;
            };
            let mut row = Vec::with_capacity(n);
            for j in 0..n {
                match derivative(&mut self.arena, f, base + j as u32) {
                    Ok(Some(d)) if !depends_on(&self.arena, d, None) => row.push(Some(d)),
                    Ok(None) => row.push(None),
                    _ => {
                        ok = false;
                        let xn = &self.s.vars[i].name;
                        self.error(
                            "non-linear",
                            span,
                            format!(
                                "derivimplicit: `{xn}'` is not linear in the states of `{}`; emsweep solves derivimplicit exactly for linear systems only (NEURON iterates Newton's method)",
                                name.name
                            ),
                        );
                        break;
                    }
                }
            }
            if !ok {
                return;
            }
            a.push(substitute(&mut self.arena, f, &all_zero));
            bm.push(row);
        }
        // order: each state after the states it depends on
        let mut order: Vec<usize> = Vec::with_capacity(n);
        let mut done = vec![false; n];
        while order.len() < n {
            let next = (0..n)
                .find(|&k| !done[k] && (0..n).all(|j| j == k || done[j] || bm[k][j].is_none()));
            match next {
                Some(k) => {
                    done[k] = true;
                    order.push(k);
                }
                None => {
                    self.error(
                        "unsupported",
                        name.span,
                        super::sema::unsupported_message(
                            "derivimplicit with states coupled in a cycle (emsweep solves triangular linear systems exactly)",
                        ),
                    );
                    return;
                }
            }
        }
        let dt = self.dt();
        let one = self.arena.num(1.0);
        let mut new = vec![zero; n];
        for &k in &order {
            let i = targets[k];
            let mut rhs = a[k];
            for j in 0..n {
                if j != k {
                    if let Some(b) = bm[k][j] {
                        let t = self.arena.binary(Binary::Mul, b, new[j]);
                        rhs = self.arena.binary(Binary::Add, rhs, t);
                    }
                }
            }
            let step = self.arena.binary(Binary::Mul, dt, rhs);
            let mut x = self.arena.binary(Binary::Add, env0[i], step);
            if let Some(bkk) = bm[k][k] {
                let dtb = self.arena.binary(Binary::Mul, dt, bkk);
                let den = self.arena.binary(Binary::Sub, one, dtb);
                x = self.arena.binary(Binary::Div, x, den);
            }
            new[k] = x;
        }
        // run the block once more at the new states for the assigned values it leaves
        self.env = env0;
        for (k, &i) in targets.iter().enumerate() {
            self.env[i] = new[k];
        }
        let quiet = self.quiet;
        self.quiet = true;
        self.block(body);
        self.quiet = quiet;
        for (k, &i) in targets.iter().enumerate() {
            self.env[i] = new[k];
        }
    }

    // ---- kernels ------------------------------------------------------------------------------

    fn collect(&mut self) -> Vec<Write> {
        let mut out = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let v = self.env[i];
            if v == slot.entry {
                continue;
            }
            if let Some(f) = slot.field {
                out.push(Write {
                    target: Target::Field(FieldId(f as u32)),
                    value: v,
                });
            }
            if let Some((ion, var)) = slot.ion_store {
                out.push(Write {
                    target: Target::Ion(ion, var),
                    value: v,
                });
            }
        }
        out
    }

    fn init_kernel(&mut self) -> Kernel {
        self.begin_kernel();
        let zero = self.arena.num(0.0);
        for (i, v) in self.s.vars.iter().enumerate() {
            if v.kind == VarKind::State {
                self.env[i] = zero;
            }
        }
        if let Some(b) = self.s.initial {
            self.block(b);
        }
        Kernel {
            writes: self.collect(),
        }
    }

    fn breakpoint_body(&mut self, b: &Block) {
        for st in &b.stmts {
            if matches!(st.kind, StmtKind::Solve { .. }) {
                continue;
            }
            if !self.spend(1) {
                break;
            }
            self.stmt(st);
        }
    }

    fn current_kernel(&mut self) -> Kernel {
        let s = self.s;
        if !s.has_currents() {
            return Kernel::default();
        }
        self.begin_kernel();
        let Some(v_idx) = self.var_index("v") else {
            return Kernel::default();
        };
        let v = self.arena.load(Load::Sim(SimVar::V));
        let dv = self.arena.num(0.001);
        let v_plus = self.arena.binary(Binary::Add, v, dv);
        let order = s.current_order();
        let sum = |lw: &mut Self| -> ExprId {
            let mut acc: Option<ExprId> = None;
            for &i in &order {
                let x = lw.env[i];
                acc = Some(match acc {
                    None => x,
                    Some(a) => lw.arena.binary(Binary::Add, a, x),
                });
            }
            acc.unwrap_or_else(|| lw.arena.num(0.0))
        };
        self.env[v_idx] = v_plus;
        if let Some(b) = s.breakpoint {
            self.breakpoint_body(b);
        }
        let i_plus = sum(self);
        self.env[v_idx] = v;
        let quiet = self.quiet;
        self.quiet = true;
        if let Some(b) = s.breakpoint {
            self.breakpoint_body(b);
        }
        self.quiet = quiet;
        let i_here = sum(self);
        let diff = self.arena.binary(Binary::Sub, i_plus, i_here);
        let g = self.arena.binary(Binary::Div, diff, dv);
        let mut writes = self.collect();
        for &i in &order {
            if let VarKind::Ion { ion, .. } = s.vars[i].kind {
                writes.push(Write {
                    target: Target::IonCurrent(IonId(ion as u32)),
                    value: self.env[i],
                });
            }
        }
        writes.push(Write {
            target: Target::Current,
            value: i_here,
        });
        writes.push(Write {
            target: Target::Conductance,
            value: g,
        });
        Kernel { writes }
    }

    fn state_kernel(&mut self) -> Kernel {
        let s = self.s;
        let Some(bp) = s.breakpoint else {
            return Kernel::default();
        };
        self.begin_kernel();
        for st in &bp.stmts {
            let StmtKind::Solve { name, method } = &st.kind else {
                continue;
            };
            if let Some(body) = s.derivatives.get(&name.name).copied() {
                match method.as_ref().map(|m| m.name.as_str()) {
                    Some("cnexp") => {
                        self.mode = DerivMode::Cnexp;
                        self.block(body);
                        self.mode = DerivMode::Ignore;
                    }
                    Some("derivimplicit") => self.solve_implicit(name, body),
                    _ => {}
                }
            } else if s.callables.contains_key(&name.name) {
                self.call(name, &[]);
            }
        }
        if !s.has_currents() {
            self.breakpoint_body(bp);
        }
        Kernel {
            writes: self.collect(),
        }
    }

    /// Drop fields no kernel needs, make written GLOBAL parameters per-instance, compact the
    /// arena.
    fn finish(&mut self, init: Kernel, current: Kernel, state: Kernel) -> Mechanism {
        let kernels = [init, current, state];
        let roots: Vec<ExprId> = kernels
            .iter()
            .flat_map(|k| k.writes.iter().map(|w| w.value))
            .collect();
        let mut loaded = vec![false; self.fields.len()];
        for id in self.arena.reachable(roots.iter().copied()) {
            if let crate::ir::Expr::Load(Load::Field(f)) = self.arena.get(id) {
                if let Some(l) = loaded.get_mut(f.index()) {
                    *l = true;
                }
            }
        }
        let mut written = vec![false; self.fields.len()];
        for k in &kernels {
            for w in &k.writes {
                if let Target::Field(f) = w.target {
                    if let Some(x) = written.get_mut(f.index()) {
                        *x = true;
                    }
                }
            }
        }
        let mut new_index: Vec<Option<u32>> = vec![None; self.fields.len()];
        let mut fields = Vec::new();
        for (k, pf) in self.fields.iter().enumerate() {
            if pf.droppable && !loaded[k] {
                continue;
            }
            let mut f = pf.field.clone();
            let declared_global = self.s.var(&f.name).is_some_and(|(_, v)| v.global);
            if pf.droppable && declared_global {
                self.diags.push(SemaDiag {
                    severity: Severity::Warning,
                    kind: "global-assigned",
                    span: self.s.var(&f.name).and_then(|(_, v)| v.span),
                    message: format!(
                        "GLOBAL `{}` is read before it is written in some block; NEURON shares one value among all instances (the last written), emsweep keeps one per instance",
                        f.name
                    ),
                });
            }
            if f.scope == Scope::Global && written[k] {
                f.scope = Scope::Instance;
                self.diags.push(SemaDiag {
                    severity: Severity::Warning,
                    kind: "global-written",
                    span: self
                        .s
                        .var(&f.name)
                        .and_then(|(_, v)| v.span),
                    message: format!(
                        "GLOBAL PARAMETER `{}` is assigned by the mechanism; emsweep keeps one value per instance",
                        f.name
                    ),
                });
            }
            new_index[k] = Some(fields.len() as u32);
            fields.push(f);
        }
        let (arena, map) = self.arena.compact(roots, |l| match l {
            Load::Field(f) => Load::Field(FieldId(
                new_index.get(f.index()).copied().flatten().unwrap_or(f.0),
            )),
            other => other,
        });
        let remap = |k: &Kernel| Kernel {
            writes: k
                .writes
                .iter()
                .filter_map(|w| {
                    let target = match w.target {
                        Target::Field(f) => {
                            Target::Field(FieldId(new_index.get(f.index()).copied().flatten()?))
                        }
                        other => other,
                    };
                    Some(Write {
                        target,
                        value: map.get(w.value.index()).copied().flatten()?,
                    })
                })
                .collect(),
        };
        let [init, current, state] = &kernels;
        let ions = self
            .s
            .ions
            .iter()
            .map(|i| Ion {
                name: i.name.clone(),
                valence: i.valence,
                valence_declared: i.valence_declared,
                reads: i.reads.clone(),
                writes: i.writes.clone(),
            })
            .collect();
        let tables = self
            .s
            .tables
            .iter()
            .map(|(block, t)| TableNote {
                in_block: block.clone(),
                names: t.names.iter().map(|n| n.name.clone()).collect(),
                depend: t.depend.iter().map(|n| n.name.clone()).collect(),
                from: t.from.clone(),
                to: t.to.clone(),
                with: t.with.clone(),
            })
            .collect();
        Mechanism {
            name: self
                .s
                .suffix
                .as_ref()
                .map_or_else(String::new, |s| s.name.clone()),
            fields,
            ions,
            init: remap(init),
            current: remap(current),
            state: remap(state),
            arena,
            tables,
        }
    }
}

/// Call `f` with the name of every `x'` target of `b`, in order.
fn collect_targets(b: &Block, f: &mut dyn FnMut(&str)) {
    for st in &b.stmts {
        match &st.kind {
            StmtKind::Derivative(x, _) => f(&x.name),
            StmtKind::If {
                then, otherwise, ..
            } => {
                collect_targets(then, f);
                if let Some(o) = otherwise {
                    collect_targets(o, f);
                }
            }
            StmtKind::Block(inner) => collect_targets(inner, f),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_defaults_round_like_percent_g() {
        assert_eq!(neuron_parameter_default(0.123_456_789_012_345_68), 0.123457);
        assert_eq!(neuron_parameter_default(96485.33212331001), 96485.3);
        assert_eq!(neuron_parameter_default(1.23456789e-7), 1.23457e-7);
        assert_eq!(neuron_parameter_default(0.015625), 0.015625);
        assert_eq!(neuron_parameter_default(-43.0), -43.0);
        assert_eq!(neuron_parameter_default(6.5e-5), 6.5e-5);
        assert_eq!(neuron_parameter_default(0.0), 0.0);
    }
}
