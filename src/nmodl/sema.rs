//! Semantic analysis of a parsed .mod file: what every name means (the symbol table) and every rule
//! a density channel must follow, all problems collected.
//!
//! Names resolve, innermost first, to: LOCALs and arguments of the enclosing FUNCTION/PROCEDURE (and
//! a FUNCTION's own name, its result), then the file's variables. `v`, `t`, `dt`, `celsius`,
//! `diam` and `area` are always the simulator's values, even when declared as PARAMETER or ASSIGNED;
//! a name listed in USEION READ/WRITE is the ion's variable. `PI` is predefined as NEURON does.

use std::collections::BTreeMap;

use super::ast::*;
use super::units::Units;
use crate::ir::{IonVar, SimVar};

/// Which kind of NMODL file this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A density mechanism (SUFFIX).
    Density,
    /// A POINT_PROCESS (synapse, electrode): not a density channel.
    PointProcess,
    /// An ARTIFICIAL_CELL: not a density channel.
    ArtificialCell,
    /// No NEURON block naming the mechanism.
    Unknown,
}

/// A problem found by the checker.
#[derive(Clone, Debug, PartialEq)]
pub struct SemaDiag {
    pub severity: crate::diag::Severity,
    pub kind: &'static str,
    pub span: Option<Span>,
    pub message: String,
}

impl SemaDiag {
    fn error(kind: &'static str, span: Span, message: impl Into<String>) -> Self {
        SemaDiag {
            severity: crate::diag::Severity::Error,
            kind,
            span: Some(span),
            message: message.into(),
        }
    }
    fn warning(kind: &'static str, span: Span, message: impl Into<String>) -> Self {
        SemaDiag {
            severity: crate::diag::Severity::Warning,
            kind,
            span: Some(span),
            message: message.into(),
        }
    }
}

/// An ion the file uses.
#[derive(Clone, Debug, PartialEq)]
pub struct IonDecl {
    pub name: String,
    pub valence: f64,
    pub valence_declared: bool,
    pub reads: Vec<IonVar>,
    pub writes: Vec<IonVar>,
}

/// What a file-level name is.
#[derive(Clone, Debug, PartialEq)]
pub enum VarKind {
    Sim(SimVar),
    Ion { ion: usize, var: IonVar },
    Parameter,
    Assigned,
    State,
    Constant(f64),
}

/// A file-level variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    pub name: String,
    pub kind: VarKind,
    pub span: Option<Span>,
    pub unit: Option<String>,
    /// Declared default (parameters).
    pub default: f64,
    pub limits: Option<(f64, f64)>,
    pub range: bool,
    pub global: bool,
    /// Declared in STATE (also for ion concentrations a mechanism integrates).
    pub is_state: bool,
    /// A membrane current of the mechanism (written ion current or NONSPECIFIC_CURRENT).
    pub is_current: bool,
}

impl Var {
    /// Whether statements may assign to it.
    pub fn writable(&self) -> bool {
        match self.kind {
            VarKind::Sim(s) => s == SimVar::V,
            VarKind::Constant(_) => false,
            _ => true,
        }
    }
}

/// A FUNCTION or PROCEDURE.
#[derive(Clone, Copy, Debug)]
pub struct Callable<'f> {
    pub def: &'f FuncDef,
    pub is_function: bool,
}

/// The symbol table of a file.
#[derive(Debug)]
pub struct Symbols<'f> {
    pub kind: FileKind,
    pub suffix: Option<Ident>,
    pub ions: Vec<IonDecl>,
    pub vars: Vec<Var>,
    pub by_name: BTreeMap<String, usize>,
    pub callables: BTreeMap<String, Callable<'f>>,
    pub derivatives: BTreeMap<String, &'f Block>,
    pub initial: Option<&'f Block>,
    pub breakpoint: Option<&'f Block>,
    /// TABLE statements, with the block that holds them.
    pub tables: Vec<(String, &'f TableStmt)>,
}

impl<'f> Symbols<'f> {
    pub fn var(&self, name: &str) -> Option<(usize, &Var)> {
        self.by_name.get(name).map(|&i| (i, &self.vars[i]))
    }

    /// Indices of the membrane currents, in NEURON's summation order: written ion currents in
    /// USEION order, then NONSPECIFIC_CURRENTs in declaration order.
    pub fn current_order(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for (ion_idx, ion) in self.ions.iter().enumerate() {
            if ion.writes.contains(&IonVar::Current) {
                let name = IonVar::Current.nmodl_name(&ion.name);
                if let Some((i, v)) = self.var(&name) {
                    if matches!(v.kind, VarKind::Ion { ion, .. } if ion == ion_idx) {
                        out.push(i);
                    }
                }
            }
        }
        for (i, v) in self.vars.iter().enumerate() {
            if v.is_current && !matches!(v.kind, VarKind::Ion { .. }) {
                out.push(i);
            }
        }
        out
    }

    /// The METHOD of the first `SOLVE name METHOD m` of the BREAKPOINT block.
    pub fn solve_method(&self, name: &str) -> Option<&'f str> {
        self.breakpoint?.stmts.iter().find_map(|st| match &st.kind {
            StmtKind::Solve { name: n, method } if n.name == name => {
                method.as_ref().map(|m| m.name.as_str())
            }
            _ => None,
        })
    }

    pub fn has_currents(&self) -> bool {
        self.vars.iter().any(|v| v.is_current)
    }
}

/// Valences of the ions NEURON defines itself.
fn builtin_valence(ion: &str) -> Option<f64> {
    match ion {
        "na" | "k" => Some(1.0),
        "ca" => Some(2.0),
        _ => None,
    }
}

/// Message for a construct outside the supported subset.
pub fn unsupported_message(construct: &str) -> String {
    format!("not supported in a density channel: {construct}")
}

/// Build the symbol table of `file` and check every body. Returns the table (even when there are
/// errors, as far as it could be built) and the problems.
pub fn analyse<'f>(file: &'f File) -> (Symbols<'f>, Vec<SemaDiag>) {
    let mut d: Vec<SemaDiag> = Vec::new();
    let mut s = Symbols {
        kind: FileKind::Unknown,
        suffix: None,
        ions: Vec::new(),
        vars: Vec::new(),
        by_name: BTreeMap::new(),
        callables: BTreeMap::new(),
        derivatives: BTreeMap::new(),
        initial: None,
        breakpoint: None,
        tables: Vec::new(),
    };

    // ---- NEURON block -----------------------------------------------------------------------
    let mut range: Vec<&Ident> = Vec::new();
    let mut global: Vec<&Ident> = Vec::new();
    let mut nonspecific: Vec<&Ident> = Vec::new();
    let mut ion_uses: Vec<(usize, &Ident, bool)> = Vec::new(); // ion index, name, is write
    for item in &file.items {
        let Item::Neuron(stmts, _) = item else {
            continue;
        };
        for st in stmts {
            match st {
                NeuronStmt::Suffix(n)
                | NeuronStmt::PointProcess(n)
                | NeuronStmt::ArtificialCell(n) => {
                    if let Some(prev) = &s.suffix {
                        d.push(SemaDiag::error(
                            "duplicate-name",
                            n.span,
                            format!("mechanism already named `{}`", prev.name),
                        ));
                        continue;
                    }
                    s.suffix = Some(n.clone());
                    s.kind = match st {
                        NeuronStmt::Suffix(_) => FileKind::Density,
                        NeuronStmt::PointProcess(_) => FileKind::PointProcess,
                        _ => FileKind::ArtificialCell,
                    };
                }
                NeuronStmt::UseIon {
                    ion,
                    read,
                    write,
                    valence,
                } => {
                    let idx = match s.ions.iter().position(|i| i.name == ion.name) {
                        Some(i) => i,
                        None => {
                            s.ions.push(IonDecl {
                                name: ion.name.clone(),
                                valence: builtin_valence(&ion.name).unwrap_or(f64::NAN),
                                valence_declared: false,
                                reads: Vec::new(),
                                writes: Vec::new(),
                            });
                            s.ions.len() - 1
                        }
                    };
                    if let Some((v, span)) = valence {
                        if let Some(b) = builtin_valence(&ion.name) {
                            if b != *v {
                                d.push(SemaDiag::error(
                                    "ion-valence",
                                    *span,
                                    format!(
                                        "ion `{}` has valence {b} in NEURON, not {v}",
                                        ion.name
                                    ),
                                ));
                            }
                        }
                        s.ions[idx].valence = *v;
                        s.ions[idx].valence_declared = true;
                    }
                    for r in read {
                        ion_uses.push((idx, r, false));
                    }
                    for w in write {
                        ion_uses.push((idx, w, true));
                    }
                }
                NeuronStmt::NonspecificCurrent(names) => nonspecific.extend(names.iter()),
                NeuronStmt::Range(names) => range.extend(names.iter()),
                NeuronStmt::Global(names) => global.extend(names.iter()),
                NeuronStmt::ThreadSafe => {}
                NeuronStmt::Unsupported(what, span) => d.push(SemaDiag::error(
                    "unsupported",
                    *span,
                    unsupported_message(what),
                )),
            }
        }
    }
    if s.kind == FileKind::PointProcess || s.kind == FileKind::ArtificialCell {
        // Not a density channel: nothing else is checked.
        return (s, Vec::new());
    }
    if s.suffix.is_none() {
        d.push(SemaDiag {
            severity: crate::diag::Severity::Error,
            kind: "missing-suffix",
            span: None,
            message: "no NEURON block with a SUFFIX: not a density mechanism".into(),
        });
    }
    for ion in &s.ions {
        if ion.valence.is_nan() {
            // the span of the USEION is not kept per ion; report at the first use of it
            let span = ion_uses
                .iter()
                .find(|(i, _, _)| s.ions[*i].name == ion.name)
                .map(|(_, n, _)| n.span)
                .unwrap_or_default();
            d.push(SemaDiag::error(
                "ion-valence",
                span,
                format!(
                    "ion `{}` is not one NEURON defines (na, k, ca): it needs a VALENCE",
                    ion.name
                ),
            ));
        }
    }

    let add_var = |s: &mut Symbols, v: Var| -> usize {
        let i = s.vars.len();
        s.by_name.insert(v.name.clone(), i);
        s.vars.push(v);
        i
    };
    let blank = |name: &str, kind: VarKind, span: Option<Span>| Var {
        name: name.to_string(),
        kind,
        span,
        unit: None,
        default: 0.0,
        limits: None,
        range: false,
        global: false,
        is_state: false,
        is_current: false,
    };

    // Simulator values.
    for sv in [
        SimVar::V,
        SimVar::T,
        SimVar::Dt,
        SimVar::Celsius,
        SimVar::Diam,
        SimVar::Area,
    ] {
        add_var(&mut s, blank(sv.name(), VarKind::Sim(sv), None));
    }
    // Ion variables.
    for (idx, name, is_write) in &ion_uses {
        let ion_name = s.ions[*idx].name.clone();
        let Some(var) = IonVar::from_nmodl_name(&ion_name, &name.name) else {
            d.push(SemaDiag::error(
                "bad-ion-variable",
                name.span,
                format!(
                    "`{}` is not a variable of ion `{ion_name}` (e{ion_name}, {ion_name}i, {ion_name}o, i{ion_name})",
                    name.name
                ),
            ));
            continue;
        };
        if let Some((_, prev)) = s.var(&name.name) {
            if !matches!(prev.kind, VarKind::Ion { .. }) {
                d.push(SemaDiag::error(
                    "duplicate-name",
                    name.span,
                    format!(
                        "`{}` is a simulator variable, not an ion variable",
                        name.name
                    ),
                ));
                continue;
            }
        }
        let list = if *is_write {
            &mut s.ions[*idx].writes
        } else {
            &mut s.ions[*idx].reads
        };
        if !list.contains(&var) {
            list.push(var);
            list.sort();
        }
        if s.var(&name.name).is_none() {
            add_var(
                &mut s,
                blank(&name.name, VarKind::Ion { ion: *idx, var }, Some(name.span)),
            );
        }
        if *is_write && var == IonVar::Current {
            let i = s.by_name[&name.name];
            s.vars[i].is_current = true;
        }
    }

    // Declarations.
    let mut units = Units::new();
    for item in &file.items {
        let (decls, what) = match item {
            Item::Parameter(v) => (v, "PARAMETER"),
            Item::Assigned(v) => (v, "ASSIGNED"),
            Item::State(v) => (v, "STATE"),
            Item::Constant(v) => (v, "CONSTANT"),
            Item::Units(defs) => {
                for def in defs {
                    match def {
                        UnitDef::Alias {
                            name,
                            definition,
                            span,
                        } => {
                            if let Err(e) = units.define(name, definition) {
                                d.push(SemaDiag::warning(
                                    "unknown-unit",
                                    *span,
                                    format!("unit `({name})` not understood ({e}); ignored"),
                                ));
                            }
                        }
                        UnitDef::Factor {
                            name,
                            from,
                            to,
                            span,
                        } => match units.convert(from, to) {
                            Ok(v) => {
                                if declare_check(&s, name, &mut d) {
                                    add_var(
                                        &mut s,
                                        blank(&name.name, VarKind::Constant(v), Some(name.span)),
                                    );
                                }
                            }
                            Err(e) => d.push(SemaDiag::error(
                                "unknown-unit",
                                *span,
                                format!("cannot give `{}` a value: {e}", name.name),
                            )),
                        },
                        UnitDef::Value { name, value, unit } => {
                            if declare_check(&s, name, &mut d) {
                                let mut v =
                                    blank(&name.name, VarKind::Constant(*value), Some(name.span));
                                v.unit = unit.clone();
                                add_var(&mut s, v);
                            }
                        }
                    }
                }
                continue;
            }
            Item::Define(name, value) => {
                if declare_check(&s, name, &mut d) {
                    add_var(
                        &mut s,
                        blank(&name.name, VarKind::Constant(*value), Some(name.span)),
                    );
                }
                continue;
            }
            _ => continue,
        };
        for decl in decls {
            let name = &decl.name;
            if let Some((i, prev)) = s.var(&name.name) {
                match prev.kind {
                    VarKind::Sim(sv) => {
                        if what == "STATE" || what == "CONSTANT" {
                            d.push(SemaDiag::error(
                                "read-only",
                                name.span,
                                format!(
                                    "`{}` is the simulator's {} and cannot be a {what}",
                                    name.name,
                                    sv.name()
                                ),
                            ));
                        }
                        continue;
                    }
                    VarKind::Ion { .. } => {
                        if what == "CONSTANT" {
                            d.push(SemaDiag::error(
                                "duplicate-name",
                                name.span,
                                format!("`{}` is an ion variable", name.name),
                            ));
                        }
                        if what == "STATE" {
                            s.vars[i].is_state = true;
                        }
                        if s.vars[i].unit.is_none() {
                            s.vars[i].unit = decl.unit.clone();
                        }
                        continue;
                    }
                    _ => {
                        // An undeclared NONSPECIFIC current cannot be here yet; anything else is
                        // a second declaration.
                        d.push(SemaDiag::error(
                            "duplicate-name",
                            name.span,
                            format!("`{}` is declared twice", name.name),
                        ));
                        continue;
                    }
                }
            }
            let kind = match what {
                "PARAMETER" => VarKind::Parameter,
                "ASSIGNED" => VarKind::Assigned,
                "STATE" => VarKind::State,
                _ => VarKind::Constant(decl.value.map_or(0.0, |v| v.0)),
            };
            if what == "ASSIGNED" || what == "STATE" {
                if let Some((_, span)) = decl.value {
                    d.push(SemaDiag::warning(
                        "ignored-value",
                        span,
                        format!("a value given to {what} `{}` is ignored", name.name),
                    ));
                }
            }
            let mut v = blank(&name.name, kind, Some(name.span));
            v.unit = decl.unit.clone();
            v.default = decl.value.map_or(0.0, |x| x.0);
            v.limits = decl.limits;
            v.is_state = what == "STATE";
            add_var(&mut s, v);
        }
    }
    // NONSPECIFIC currents (always RANGE in NEURON, listed or not).
    for n in &nonspecific {
        match s.var(&n.name) {
            Some((i, v)) => match v.kind {
                VarKind::Assigned => {
                    s.vars[i].is_current = true;
                    s.vars[i].range = true;
                }
                _ => d.push(SemaDiag::error(
                    "bad-current",
                    n.span,
                    format!(
                        "NONSPECIFIC_CURRENT `{}` must be an ASSIGNED variable",
                        n.name
                    ),
                )),
            },
            None => {
                let mut v = blank(&n.name, VarKind::Assigned, Some(n.span));
                v.is_current = true;
                v.range = true;
                add_var(&mut s, v);
            }
        }
    }
    // PI, as NEURON's generated code defines it.
    if s.var("PI").is_none() {
        add_var(
            &mut s,
            blank("PI", VarKind::Constant(std::f64::consts::PI), None),
        );
    }
    // RANGE and GLOBAL.
    for (names, is_range) in [(&range, true), (&global, false)] {
        for n in names.iter() {
            match s.by_name.get(&n.name) {
                Some(&i) => {
                    let v = &mut s.vars[i];
                    if matches!(v.kind, VarKind::Constant(_) | VarKind::Sim(_)) {
                        d.push(SemaDiag::warning(
                            "unused-range",
                            n.span,
                            format!("`{}` cannot be RANGE or GLOBAL; ignored", n.name),
                        ));
                    } else if is_range {
                        v.range = true;
                    } else {
                        v.global = true;
                    }
                }
                None => d.push(SemaDiag::warning(
                    "unused-range",
                    n.span,
                    format!(
                        "{} `{}` names no variable of the file; ignored (as NEURON does)",
                        if is_range { "RANGE" } else { "GLOBAL" },
                        n.name
                    ),
                )),
            }
        }
    }

    // Blocks.
    for item in &file.items {
        match item {
            Item::Initial(b) => {
                if s.initial.is_some() {
                    d.push(SemaDiag::error(
                        "duplicate-name",
                        b.span,
                        "second INITIAL block",
                    ));
                }
                s.initial = Some(b);
            }
            Item::Breakpoint(b) => {
                if s.breakpoint.is_some() {
                    d.push(SemaDiag::error(
                        "duplicate-name",
                        b.span,
                        "second BREAKPOINT block",
                    ));
                }
                s.breakpoint = Some(b);
            }
            Item::Derivative(n, b) => {
                if s.derivatives.contains_key(&n.name) || s.callables.contains_key(&n.name) {
                    d.push(SemaDiag::error(
                        "duplicate-name",
                        n.span,
                        format!("`{}` is defined twice", n.name),
                    ));
                }
                s.derivatives.insert(n.name.clone(), b);
            }
            Item::Function(f) | Item::Procedure(f) => {
                let is_function = matches!(item, Item::Function(_));
                if s.derivatives.contains_key(&f.name.name)
                    || s.callables.contains_key(&f.name.name)
                {
                    d.push(SemaDiag::error(
                        "duplicate-name",
                        f.name.span,
                        format!("`{}` is defined twice", f.name.name),
                    ));
                    continue;
                }
                if let Some((_, v)) = s.var(&f.name.name) {
                    if v.span.is_some() {
                        d.push(SemaDiag::error(
                            "duplicate-name",
                            f.name.span,
                            format!("`{}` is both a variable and a function", f.name.name),
                        ));
                        continue;
                    }
                }
                s.callables.insert(
                    f.name.name.clone(),
                    Callable {
                        def: f,
                        is_function,
                    },
                );
            }
            Item::Unsupported(what, span) => d.push(SemaDiag::error(
                "unsupported",
                *span,
                unsupported_message(what),
            )),
            _ => {}
        }
    }

    // Bodies.
    let mut ck = Checker {
        s: &s,
        d: &mut d,
        tables: Vec::new(),
        block_name: String::new(),
        verbatim: false,
    };
    if let Some(b) = s.initial {
        ck.body(b, Context::Initial, &[]);
    }
    if let Some(b) = s.breakpoint {
        ck.body(b, Context::Breakpoint, &[]);
    }
    for b in s.derivatives.values() {
        ck.body(b, Context::Derivative, &[]);
    }
    for (name, c) in &s.callables {
        let mut scope: Vec<&str> = c.def.params.iter().map(|p| p.name.as_str()).collect();
        if c.is_function {
            scope.push(name.as_str());
        }
        ck.block_name = name.clone();
        ck.body(&c.def.body, Context::Callable, &scope);
    }
    let tables = std::mem::take(&mut ck.tables);
    check_recursion(&s, &mut d);
    s.tables = tables;
    (s, d)
}

/// Whether `name` can be declared as a new constant (reports a duplicate otherwise).
fn declare_check(s: &Symbols, name: &Ident, d: &mut Vec<SemaDiag>) -> bool {
    if s.var(&name.name).is_some() {
        d.push(SemaDiag::error(
            "duplicate-name",
            name.span,
            format!("`{}` is declared twice", name.name),
        ));
        return false;
    }
    true
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Initial,
    Breakpoint,
    Derivative,
    Callable,
}

struct Checker<'a, 'f> {
    s: &'a Symbols<'f>,
    d: &'a mut Vec<SemaDiag>,
    tables: Vec<(String, &'f TableStmt)>,
    block_name: String,
    /// The body being checked holds VERBATIM: its names may be declared in the C code, so
    /// undeclared names are not reported (the VERBATIM itself is).
    verbatim: bool,
}

impl<'a, 'f> Checker<'a, 'f> {
    fn body(&mut self, b: &'f Block, ctx: Context, outer: &[&str]) {
        self.verbatim = has_verbatim(b);
        let mut scope: Vec<String> = outer.iter().map(|s| s.to_string()).collect();
        self.block(b, ctx, &mut scope);
    }

    fn block(&mut self, b: &'f Block, ctx: Context, scope: &mut Vec<String>) {
        let mark = scope.len();
        for st in &b.stmts {
            self.stmt(st, ctx, scope);
        }
        scope.truncate(mark);
    }

    fn is_local(scope: &[String], name: &str) -> bool {
        scope.iter().any(|s| s == name)
    }

    fn stmt(&mut self, st: &'f Stmt, ctx: Context, scope: &mut Vec<String>) {
        match &st.kind {
            StmtKind::Local(names) => {
                for n in names {
                    scope.push(n.name.clone());
                }
            }
            StmtKind::Assign(lhs, e) => {
                self.expr(e, scope);
                if Self::is_local(scope, &lhs.name) {
                    return;
                }
                match self.s.var(&lhs.name) {
                    Some((_, v)) if !v.writable() => self.d.push(SemaDiag::error(
                        "read-only",
                        lhs.span,
                        match v.kind {
                            VarKind::Sim(sv) => format!(
                                "`{}` is the simulator's {}: a mechanism cannot change it",
                                lhs.name,
                                sv.name()
                            ),
                            _ => format!("`{}` is a constant", lhs.name),
                        },
                    )),
                    Some(_) => {}
                    None if self.verbatim => {}
                    None => self.d.push(SemaDiag::error(
                        "unknown-name",
                        lhs.span,
                        format!("assignment to undeclared `{}`", lhs.name),
                    )),
                }
            }
            StmtKind::Derivative(x, e) => {
                self.expr(e, scope);
                if ctx != Context::Derivative {
                    self.d.push(SemaDiag::error(
                        "misplaced",
                        st.span,
                        "a derivative `x' = ...` belongs in a DERIVATIVE block",
                    ));
                }
                match self.s.var(&x.name) {
                    Some((_, v)) if v.is_state && !Self::is_local(scope, &x.name) => {}
                    _ => self.d.push(SemaDiag::error(
                        "not-a-state",
                        x.span,
                        format!("`{}` is not a STATE", x.name),
                    )),
                }
            }
            StmtKind::Call(name, args) => {
                for a in args {
                    self.expr(a, scope);
                }
                self.call(name, args.len(), true);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, scope);
                self.block(then, ctx, scope);
                if let Some(o) = otherwise {
                    self.block(o, ctx, scope);
                }
            }
            StmtKind::Block(b) => self.block(b, ctx, scope),
            StmtKind::Solve { name, method } => {
                if ctx != Context::Breakpoint {
                    self.d.push(SemaDiag::error(
                        "misplaced",
                        st.span,
                        "SOLVE belongs in the BREAKPOINT block",
                    ));
                    return;
                }
                if self.s.derivatives.contains_key(&name.name) {
                    match method.as_ref().map(|m| m.name.as_str()) {
                        Some("cnexp") | Some("derivimplicit") => {}
                        Some(other) => self.d.push(SemaDiag::error(
                            "unsupported",
                            method.as_ref().map_or(st.span, |m| m.span),
                            unsupported_message(&format!(
                                "METHOD {other} (emsweep integrates DERIVATIVE blocks with cnexp or derivimplicit)"
                            )),
                        )),
                        None => self.d.push(SemaDiag::error(
                            "unsupported",
                            name.span,
                            unsupported_message("SOLVE of a DERIVATIVE block without METHOD"),
                        )),
                    }
                } else if let Some(c) = self.s.callables.get(&name.name) {
                    if c.is_function || !c.def.params.is_empty() {
                        self.d.push(SemaDiag::error(
                            "bad-solve",
                            name.span,
                            format!("SOLVE needs a DERIVATIVE block or a PROCEDURE without arguments; `{}` is neither", name.name),
                        ));
                    }
                } else {
                    self.d.push(SemaDiag::error(
                        "unknown-name",
                        name.span,
                        format!(
                            "SOLVE names `{}`, which is no DERIVATIVE block or PROCEDURE of the file (KINETIC and other blocks are not supported)",
                            name.name
                        ),
                    ));
                }
            }
            StmtKind::Table(t) => {
                if ctx != Context::Callable {
                    self.d.push(SemaDiag::error(
                        "misplaced",
                        st.span,
                        "TABLE belongs in a FUNCTION or PROCEDURE",
                    ));
                }
                for n in t.names.iter().chain(&t.depend) {
                    if self.s.var(&n.name).is_none() {
                        self.d.push(SemaDiag::error(
                            "unknown-name",
                            n.span,
                            format!("TABLE names undeclared `{}`", n.name),
                        ));
                    }
                }
                self.tables.push((self.block_name.clone(), t));
            }
            StmtKind::Ignored(what) => self.d.push(SemaDiag::warning(
                "ignored",
                st.span,
                format!("`{what}` does not change the simulation; ignored"),
            )),
            StmtKind::Unsupported(what) => self.d.push(SemaDiag::error(
                "unsupported",
                st.span,
                unsupported_message(what),
            )),
        }
    }

    fn call(&mut self, name: &Ident, nargs: usize, as_statement: bool) {
        if let Some(c) = self.s.callables.get(&name.name) {
            if !c.is_function && !as_statement {
                self.d.push(SemaDiag::error(
                    "not-a-function",
                    name.span,
                    format!("PROCEDURE `{}` has no value", name.name),
                ));
            }
            if c.def.params.len() != nargs {
                self.d.push(SemaDiag::error(
                    "arity",
                    name.span,
                    format!(
                        "`{}` takes {} argument(s), given {nargs}",
                        name.name,
                        c.def.params.len()
                    ),
                ));
            }
            return;
        }
        let want = if crate::ir::Unary::from_function_name(&name.name).is_some() {
            Some(1)
        } else if crate::ir::Binary::from_function_name(&name.name).is_some() {
            Some(2)
        } else {
            None
        };
        match want {
            Some(n) if n == nargs => {}
            Some(n) => self.d.push(SemaDiag::error(
                "arity",
                name.span,
                format!("`{}` takes {n} argument(s), given {nargs}", name.name),
            )),
            None => {
                let msg = if self.s.derivatives.contains_key(&name.name) {
                    match (as_statement, nargs, self.s.solve_method(&name.name)) {
                        (true, 0, Some("cnexp" | "derivimplicit")) => return,
                        (true, 0, _) => format!(
                            "DERIVATIVE block `{}` is called but no SOLVE gives it a METHOD",
                            name.name
                        ),
                        _ => format!(
                            "DERIVATIVE block `{}` can only be called as a statement without arguments",
                            name.name
                        ),
                    }
                } else {
                    format!("no FUNCTION or PROCEDURE named `{}`", name.name)
                };
                self.d.push(SemaDiag::error("unknown-name", name.span, msg))
            }
        }
    }

    fn expr(&mut self, e: &Expr, scope: &[String]) {
        let mut calls: Vec<(&Ident, usize)> = Vec::new();
        let mut names: Vec<(&str, Span)> = Vec::new();
        e.walk(&mut |x| match &x.kind {
            ExprKind::Name(n) => names.push((n.as_str(), x.span)),
            ExprKind::Call(n, args) => calls.push((n, args.len())),
            _ => {}
        });
        for (n, span) in names {
            if !self.verbatim && !Self::is_local(scope, n) && self.s.var(n).is_none() {
                self.d.push(SemaDiag::error(
                    "unknown-name",
                    span,
                    format!("`{n}` is not declared"),
                ));
            }
        }
        for (n, k) in calls {
            self.call(n, k, false);
        }
    }
}

/// Report calls that (directly or not) call themselves: NMODL functions are inlined.
fn check_recursion(s: &Symbols, d: &mut Vec<SemaDiag>) {
    // call graph: caller -> callees with the span of the call
    let mut graph: BTreeMap<&str, Vec<(&str, Span)>> = BTreeMap::new();
    let bodies = s
        .callables
        .iter()
        .map(|(n, c)| (n, &c.def.body))
        .chain(s.derivatives.iter().map(|(n, b)| (n, *b)));
    for (name, body) in bodies {
        let mut out = Vec::new();
        collect_calls(body, &mut out);
        graph.insert(
            name.as_str(),
            out.into_iter()
                .filter(|(n, _)| s.callables.contains_key(*n) || s.derivatives.contains_key(*n))
                .collect(),
        );
    }
    // iterative DFS with colours
    let mut colour: BTreeMap<&str, u8> = BTreeMap::new(); // 0 white, 1 grey, 2 black
    for &start in graph.keys() {
        if colour.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        colour.insert(start, 1);
        while let Some((node, i)) = stack.pop() {
            let edges = graph.get(node).map(|v| v.as_slice()).unwrap_or(&[]);
            if i < edges.len() {
                stack.push((node, i + 1));
                let (next, span) = edges[i];
                match colour.get(next).copied().unwrap_or(0) {
                    0 => {
                        colour.insert(next, 1);
                        stack.push((next, 0));
                    }
                    1 => d.push(SemaDiag::error(
                        "recursion",
                        span,
                        format!("`{next}` calls itself (through `{node}`); NMODL functions are inlined, so recursion is not supported"),
                    )),
                    _ => {}
                }
            } else {
                colour.insert(node, 2);
            }
        }
    }
}

fn has_verbatim(b: &Block) -> bool {
    b.stmts.iter().any(|st| match &st.kind {
        StmtKind::Unsupported(w) => w == "VERBATIM",
        StmtKind::If {
            then, otherwise, ..
        } => has_verbatim(then) || otherwise.as_ref().is_some_and(has_verbatim),
        StmtKind::Block(inner) => has_verbatim(inner),
        _ => false,
    })
}

fn collect_calls<'f>(b: &'f Block, out: &mut Vec<(&'f str, Span)>) {
    let mut stack: Vec<&'f Block> = vec![b];
    while let Some(b) = stack.pop() {
        for st in &b.stmts {
            let mut exprs: Vec<&Expr> = Vec::new();
            match &st.kind {
                StmtKind::Assign(_, e) | StmtKind::Derivative(_, e) => exprs.push(e),
                StmtKind::Call(n, args) => {
                    out.push((n.name.as_str(), n.span));
                    exprs.extend(args.iter());
                }
                StmtKind::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    exprs.push(cond);
                    stack.push(then);
                    if let Some(o) = otherwise {
                        stack.push(o);
                    }
                }
                StmtKind::Block(inner) => stack.push(inner),
                _ => {}
            }
            for e in exprs {
                e.walk(&mut |x| {
                    if let ExprKind::Call(n, _) = &x.kind {
                        out.push((n.name.as_str(), n.span));
                    }
                });
            }
        }
    }
}
