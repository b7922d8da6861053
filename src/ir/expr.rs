//! The expression arena of the mechanism IR: pure expressions with typed handles, hash-consed so that
//! equal expressions share one handle, and built children-first so that every handle refers only to
//! handles created before it ("defined before use").
//!
//! Simplifications made while building are exact in IEEE double arithmetic (constant folding with the
//! same operations the emitted code would perform, `x - 0`, `x * 1`, `x / 1`, `--x`, selects on a
//! constant condition); nothing that could change a result bit (such as `x * 0 -> 0` or `x + 0 -> x`,
//! wrong for NaN, infinities or -0) is done.

use std::collections::HashMap;
use std::fmt;

/// A handle to an expression of an [`Arena`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

impl ExprId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A handle to a per-instance (or per-mechanism) field of a [`crate::ir::Mechanism`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct FieldId(pub u32);

impl FieldId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A handle to an ion used by a [`crate::ir::Mechanism`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct IonId(pub u32);

impl IonId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Values the simulator provides to every mechanism instance, as NEURON has them when it calls the
/// hook (during the current phase of a fixed step NEURON's `t` is already t + dt/2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum SimVar {
    /// Membrane potential of the node [mV].
    V,
    /// Simulation time [ms].
    T,
    /// Time step [ms].
    Dt,
    /// Temperature [degC].
    Celsius,
    /// Segment diameter [um].
    Diam,
    /// Segment membrane area [um2].
    Area,
}

impl SimVar {
    pub fn name(self) -> &'static str {
        match self {
            SimVar::V => "v",
            SimVar::T => "t",
            SimVar::Dt => "dt",
            SimVar::Celsius => "celsius",
            SimVar::Diam => "diam",
            SimVar::Area => "area",
        }
    }

    pub fn from_name(name: &str) -> Option<SimVar> {
        Some(match name {
            "v" => SimVar::V,
            "t" => SimVar::T,
            "dt" => SimVar::Dt,
            "celsius" => SimVar::Celsius,
            "diam" => SimVar::Diam,
            "area" => SimVar::Area,
            _ => return None,
        })
    }
}

/// The four per-node values of an ion species.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum IonVar {
    /// Reversal potential `e<ion>` [mV].
    Erev,
    /// Inside concentration `<ion>i` [mM].
    Inside,
    /// Outside concentration `<ion>o` [mM].
    Outside,
    /// Membrane current density `i<ion>` [mA/cm2].
    Current,
}

impl IonVar {
    /// The NMODL name of this variable for ion `ion` (`ena`, `nai`, `nao`, `ina`).
    pub fn nmodl_name(self, ion: &str) -> String {
        match self {
            IonVar::Erev => format!("e{ion}"),
            IonVar::Inside => format!("{ion}i"),
            IonVar::Outside => format!("{ion}o"),
            IonVar::Current => format!("i{ion}"),
        }
    }

    /// Which variable of ion `ion` the NMODL name `name` is, if any.
    pub fn from_nmodl_name(ion: &str, name: &str) -> Option<IonVar> {
        [
            IonVar::Erev,
            IonVar::Inside,
            IonVar::Outside,
            IonVar::Current,
        ]
        .into_iter()
        .find(|k| k.nmodl_name(ion) == name)
    }

    pub fn is_concentration(self) -> bool {
        matches!(self, IonVar::Inside | IonVar::Outside)
    }
}

/// Where a value read at kernel entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Load {
    Field(FieldId),
    Ion(IonId, IonVar),
    Sim(SimVar),
}

/// Operations of one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unary {
    Neg,
    /// Logical negation (bool -> bool).
    Not,
    Exp,
    Log,
    Log10,
    Fabs,
    Floor,
    Ceil,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sinh,
    Cosh,
    Atan,
    Asin,
    Acos,
}

impl Unary {
    pub fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Not => "not",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Log10 => "log10",
            Unary::Fabs => "fabs",
            Unary::Floor => "floor",
            Unary::Ceil => "ceil",
            Unary::Sqrt => "sqrt",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Tan => "tan",
            Unary::Tanh => "tanh",
            Unary::Sinh => "sinh",
            Unary::Cosh => "cosh",
            Unary::Atan => "atan",
            Unary::Asin => "asin",
            Unary::Acos => "acos",
        }
    }

    /// The math function of this name (as NMODL spells it), for one-argument built-ins.
    pub fn from_function_name(name: &str) -> Option<Unary> {
        Some(match name {
            "exp" => Unary::Exp,
            "log" => Unary::Log,
            "log10" => Unary::Log10,
            "fabs" => Unary::Fabs,
            "floor" => Unary::Floor,
            "ceil" => Unary::Ceil,
            "sqrt" => Unary::Sqrt,
            "sin" => Unary::Sin,
            "cos" => Unary::Cos,
            "tan" => Unary::Tan,
            "tanh" => Unary::Tanh,
            "sinh" => Unary::Sinh,
            "cosh" => Unary::Cosh,
            "atan" => Unary::Atan,
            "asin" => Unary::Asin,
            "acos" => Unary::Acos,
            _ => return None,
        })
    }

    /// Evaluate on a number (for `Not`, 0 is false and the result is 1 or 0).
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Unary::Neg => -x,
            Unary::Not => {
                if x == 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Log10 => x.log10(),
            Unary::Fabs => x.abs(),
            Unary::Floor => x.floor(),
            Unary::Ceil => x.ceil(),
            Unary::Sqrt => x.sqrt(),
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Tan => x.tan(),
            Unary::Tanh => x.tanh(),
            Unary::Sinh => x.sinh(),
            Unary::Cosh => x.cosh(),
            Unary::Atan => x.atan(),
            Unary::Asin => x.asin(),
            Unary::Acos => x.acos(),
        }
    }
}

/// Operations of two operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    /// `pow(a, b)` (NMODL `a^b`).
    Pow,
    Atan2,
    Fmin,
    Fmax,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Pow => "pow",
            Binary::Atan2 => "atan2",
            Binary::Fmin => "fmin",
            Binary::Fmax => "fmax",
            Binary::Lt => "lt",
            Binary::Le => "le",
            Binary::Gt => "gt",
            Binary::Ge => "ge",
            Binary::Eq => "eq",
            Binary::Ne => "ne",
            Binary::And => "and",
            Binary::Or => "or",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge | Binary::Eq | Binary::Ne
        )
    }

    pub fn is_logical(self) -> bool {
        matches!(self, Binary::And | Binary::Or)
    }

    /// The two-argument math function of this name, as NMODL spells it.
    pub fn from_function_name(name: &str) -> Option<Binary> {
        Some(match name {
            "pow" => Binary::Pow,
            "atan2" => Binary::Atan2,
            "fmin" => Binary::Fmin,
            "fmax" => Binary::Fmax,
            _ => return None,
        })
    }

    /// Evaluate on numbers (comparisons and logic give 1 or 0; logic treats non-zero as true).
    pub fn eval(self, a: f64, b: f64) -> f64 {
        let t = |c: bool| if c { 1.0 } else { 0.0 };
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Pow => a.powf(b),
            Binary::Atan2 => a.atan2(b),
            Binary::Fmin => a.min(b),
            Binary::Fmax => a.max(b),
            Binary::Lt => t(a < b),
            Binary::Le => t(a <= b),
            Binary::Gt => t(a > b),
            Binary::Ge => t(a >= b),
            Binary::Eq => t(a == b),
            Binary::Ne => t(a != b),
            Binary::And => t(a != 0.0 && b != 0.0),
            Binary::Or => t(a != 0.0 || b != 0.0),
        }
    }
}

/// The type of an expression: a double-precision number or a truth value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Ty {
    Num,
    Bool,
}

/// One pure expression. Children are handles to earlier expressions.
#[derive(Clone, Copy, Debug)]
pub enum Expr {
    Num(f64),
    Bool(bool),
    /// The value a variable holds when the kernel starts.
    Load(Load),
    /// A placeholder variable used while differentiating (never present in a finished mechanism).
    Sym(u32),
    Unary(Unary, ExprId),
    Binary(Binary, ExprId, ExprId),
    /// `if cond { then } else { otherwise }`; `cond` is a [`Ty::Bool`], both branches have one type.
    Select(ExprId, ExprId, ExprId),
}

impl Expr {
    /// The handles this expression refers to, in order.
    pub fn children(&self) -> impl Iterator<Item = ExprId> {
        let (a, b, c) = match *self {
            Expr::Num(_) | Expr::Bool(_) | Expr::Load(_) | Expr::Sym(_) => (None, None, None),
            Expr::Unary(_, a) => (Some(a), None, None),
            Expr::Binary(_, a, b) => (Some(a), Some(b), None),
            Expr::Select(c, a, b) => (Some(c), Some(a), Some(b)),
        };
        a.into_iter().chain(b).chain(c)
    }

    /// The same expression with its children replaced through `f`.
    pub fn map_children(&self, mut f: impl FnMut(ExprId) -> ExprId) -> Expr {
        match *self {
            Expr::Unary(op, a) => Expr::Unary(op, f(a)),
            Expr::Binary(op, a, b) => {
                let a = f(a);
                Expr::Binary(op, a, f(b))
            }
            Expr::Select(c, a, b) => {
                let c = f(c);
                let a = f(a);
                Expr::Select(c, a, f(b))
            }
            other => other,
        }
    }
}

/// Hash key of an expression: numbers compared by their bits, so that hash-consing never merges
/// values that differ (0.0 and -0.0, NaN payloads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Num(u64),
    Bool(bool),
    Load(Load),
    Sym(u32),
    Unary(Unary, ExprId),
    Binary(Binary, ExprId, ExprId),
    Select(ExprId, ExprId, ExprId),
}

impl Key {
    fn of(e: &Expr) -> Key {
        match *e {
            Expr::Num(x) => Key::Num(x.to_bits()),
            Expr::Bool(b) => Key::Bool(b),
            Expr::Load(l) => Key::Load(l),
            Expr::Sym(s) => Key::Sym(s),
            Expr::Unary(op, a) => Key::Unary(op, a),
            Expr::Binary(op, a, b) => Key::Binary(op, a, b),
            Expr::Select(c, a, b) => Key::Select(c, a, b),
        }
    }
}

/// An error building an expression: operand types that do not fit the operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeError(pub String);

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The arena: expressions in creation order, their types, and the hash-consing index (used only for
/// look-ups, never iterated).
#[derive(Clone, Debug, Default)]
pub struct Arena {
    exprs: Vec<Expr>,
    types: Vec<Ty>,
    index: HashMap<Key, ExprId>,
}

impl Arena {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.exprs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    /// The expression behind a handle. Panics on a handle of another arena that is out of range;
    /// handles made by this arena are always valid.
    pub fn get(&self, id: ExprId) -> &Expr {
        &self.exprs[id.index()]
    }

    /// The expression behind a handle, or `None` when the handle is out of range.
    pub fn try_get(&self, id: ExprId) -> Option<&Expr> {
        self.exprs.get(id.index())
    }

    pub fn ty(&self, id: ExprId) -> Ty {
        self.types[id.index()]
    }

    pub fn try_ty(&self, id: ExprId) -> Option<Ty> {
        self.types.get(id.index()).copied()
    }

    /// All expressions with their handles, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = (ExprId, &Expr)> {
        self.exprs
            .iter()
            .enumerate()
            .map(|(i, e)| (ExprId(i as u32), e))
    }

    /// Add an expression exactly as given (after hash-consing), computing its type. Children must
    /// be handles of this arena.
    fn intern(&mut self, e: Expr, ty: Ty) -> ExprId {
        let key = Key::of(&e);
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = ExprId(self.exprs.len() as u32);
        self.exprs.push(e);
        self.types.push(ty);
        self.index.insert(key, id);
        id
    }

    pub fn num(&mut self, x: f64) -> ExprId {
        self.intern(Expr::Num(x), Ty::Num)
    }

    pub fn boolean(&mut self, b: bool) -> ExprId {
        self.intern(Expr::Bool(b), Ty::Bool)
    }

    pub fn load(&mut self, l: Load) -> ExprId {
        self.intern(Expr::Load(l), Ty::Num)
    }

    pub fn sym(&mut self, s: u32) -> ExprId {
        self.intern(Expr::Sym(s), Ty::Num)
    }

    /// The constant number behind a handle, if it is one.
    pub fn as_num(&self, id: ExprId) -> Option<f64> {
        match self.exprs.get(id.index()) {
            Some(Expr::Num(x)) => Some(*x),
            _ => None,
        }
    }

    fn as_bool(&self, id: ExprId) -> Option<bool> {
        match self.exprs.get(id.index()) {
            Some(Expr::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// Turn a truth value into 1 or 0 (a number is returned unchanged).
    pub fn to_num(&mut self, id: ExprId) -> ExprId {
        if self.ty(id) == Ty::Num {
            return id;
        }
        let one = self.num(1.0);
        let zero = self.num(0.0);
        self.select_unchecked(id, one, zero)
    }

    /// Turn a number into a truth value the way C does (`x != 0`; NaN is true). A truth value is
    /// returned unchanged.
    pub fn to_bool(&mut self, id: ExprId) -> ExprId {
        if self.ty(id) == Ty::Bool {
            return id;
        }
        let zero = self.num(0.0);
        self.binary_unchecked(Binary::Ne, id, zero)
    }

    /// A one-operand operation. `Not` takes a truth value (a number is converted C-style); the
    /// others take numbers (a truth value is converted to 1 or 0).
    pub fn unary(&mut self, op: Unary, a: ExprId) -> ExprId {
        if op == Unary::Not {
            let a = self.to_bool(a);
            if let Some(b) = self.as_bool(a) {
                return self.boolean(!b);
            }
            if let Expr::Unary(Unary::Not, inner) = *self.get(a) {
                return inner;
            }
            return self.intern(Expr::Unary(op, a), Ty::Bool);
        }
        let a = self.to_num(a);
        if let Some(x) = self.as_num(a) {
            return self.num(op.eval(x));
        }
        if op == Unary::Neg {
            if let Expr::Unary(Unary::Neg, inner) = *self.get(a) {
                return inner;
            }
        }
        self.intern(Expr::Unary(op, a), Ty::Num)
    }

    /// A two-operand operation, converting operands to the types the operation takes.
    pub fn binary(&mut self, op: Binary, a: ExprId, b: ExprId) -> ExprId {
        let (a, b) = if op.is_logical() {
            (self.to_bool(a), self.to_bool(b))
        } else {
            (self.to_num(a), self.to_num(b))
        };
        self.binary_unchecked(op, a, b)
    }

    fn binary_unchecked(&mut self, op: Binary, a: ExprId, b: ExprId) -> ExprId {
        if op.is_logical() {
            match (op, self.as_bool(a), self.as_bool(b)) {
                (_, Some(x), Some(y)) => {
                    return self.boolean(if op == Binary::And { x && y } else { x || y })
                }
                (Binary::And, Some(true), None) | (Binary::Or, Some(false), None) => return b,
                (Binary::And, None, Some(true)) | (Binary::Or, None, Some(false)) => return a,
                _ => {}
            }
            return self.intern(Expr::Binary(op, a, b), Ty::Bool);
        }
        if let (Some(x), Some(y)) = (self.as_num(a), self.as_num(b)) {
            let r = op.eval(x, y);
            return if op.is_comparison() {
                self.boolean(r != 0.0)
            } else {
                self.num(r)
            };
        }
        if op.is_comparison() {
            return self.intern(Expr::Binary(op, a, b), Ty::Bool);
        }
        // Exact identities only.
        let bn = self.as_num(b);
        let an = self.as_num(a);
        match op {
            Binary::Sub if bn.is_some_and(|y| y == 0.0 && y.is_sign_positive()) => return a,
            Binary::Add if bn.is_some_and(|y| y == 0.0 && y.is_sign_negative()) => return a,
            Binary::Add if an.is_some_and(|x| x == 0.0 && x.is_sign_negative()) => return b,
            Binary::Mul | Binary::Div if bn == Some(1.0) => return a,
            Binary::Mul if an == Some(1.0) => return b,
            Binary::Pow if bn == Some(1.0) => return a,
            _ => {}
        }
        self.intern(Expr::Binary(op, a, b), Ty::Num)
    }

    /// `if cond { a } else { b }`. The condition is converted to a truth value; if the branches
    /// differ in type both become numbers.
    pub fn select(&mut self, cond: ExprId, a: ExprId, b: ExprId) -> ExprId {
        let cond = self.to_bool(cond);
        let (a, b) = if self.ty(a) == self.ty(b) {
            (a, b)
        } else {
            (self.to_num(a), self.to_num(b))
        };
        self.select_unchecked(cond, a, b)
    }

    fn select_unchecked(&mut self, cond: ExprId, a: ExprId, b: ExprId) -> ExprId {
        if a == b {
            return a;
        }
        if let Some(c) = self.as_bool(cond) {
            return if c { a } else { b };
        }
        let ty = self.ty(a);
        self.intern(Expr::Select(cond, a, b), ty)
    }

    /// Rebuild `e` (whose children are already handles of this arena) through the simplifying
    /// constructors.
    pub fn rebuild(&mut self, e: Expr) -> ExprId {
        match e {
            Expr::Num(x) => self.num(x),
            Expr::Bool(b) => self.boolean(b),
            Expr::Load(l) => self.load(l),
            Expr::Sym(s) => self.sym(s),
            Expr::Unary(op, a) => self.unary(op, a),
            Expr::Binary(op, a, b) => self.binary(op, a, b),
            Expr::Select(c, a, b) => self.select(c, a, b),
        }
    }

    /// Every handle reachable from `roots`, in increasing order (children before parents).
    /// Iterative: deep expressions cannot overflow the stack.
    pub fn reachable(&self, roots: impl IntoIterator<Item = ExprId>) -> Vec<ExprId> {
        let mut seen = vec![false; self.exprs.len()];
        let mut stack: Vec<ExprId> = Vec::new();
        for r in roots {
            if r.index() < seen.len() && !seen[r.index()] {
                seen[r.index()] = true;
                stack.push(r);
            }
        }
        while let Some(id) = stack.pop() {
            for c in self.exprs[id.index()].children() {
                if c.index() < seen.len() && !seen[c.index()] {
                    seen[c.index()] = true;
                    stack.push(c);
                }
            }
        }
        seen.iter()
            .enumerate()
            .filter(|(_, &s)| s)
            .map(|(i, _)| ExprId(i as u32))
            .collect()
    }

    /// Copy the expressions reachable from `roots` into a fresh arena, keeping their relative
    /// order, with `Load`s rewritten by `map_load`. Returns the new arena and the mapping of old
    /// handles to new ones (`None` for unreachable ones).
    pub fn compact(
        &self,
        roots: impl IntoIterator<Item = ExprId>,
        mut map_load: impl FnMut(Load) -> Load,
    ) -> (Arena, Vec<Option<ExprId>>) {
        let keep = self.reachable(roots);
        let mut map: Vec<Option<ExprId>> = vec![None; self.exprs.len()];
        let mut out = Arena::new();
        for id in keep {
            let e = self.exprs[id.index()];
            let e = match e {
                Expr::Load(l) => Expr::Load(map_load(l)),
                other => other,
            };
            // Children precede parents, so they are mapped already.
            let mapped = e.map_children(|c| map[c.index()].unwrap_or(c));
            let ty = self.types[id.index()];
            map[id.index()] = Some(out.intern(mapped, ty));
        }
        (out, map)
    }

    /// Evaluate `root` with `load` giving the values of loads and `sym` those of placeholders.
    /// Truth values evaluate to 1 or 0. Iterative over the reachable set.
    pub fn eval(
        &self,
        root: ExprId,
        mut load: impl FnMut(Load) -> f64,
        mut sym: impl FnMut(u32) -> f64,
    ) -> f64 {
        let order = self.reachable([root]);
        let mut val: HashMap<ExprId, f64> = HashMap::with_capacity(order.len());
        for id in order {
            let v = match self.exprs[id.index()] {
                Expr::Num(x) => x,
                Expr::Bool(b) => {
                    if b {
                        1.0
                    } else {
                        0.0
                    }
                }
                Expr::Load(l) => load(l),
                Expr::Sym(s) => sym(s),
                Expr::Unary(op, a) => op.eval(val[&a]),
                Expr::Binary(op, a, b) => op.eval(val[&a], val[&b]),
                Expr::Select(c, a, b) => {
                    if val[&c] != 0.0 {
                        val[&a]
                    } else {
                        val[&b]
                    }
                }
            };
            val.insert(id, v);
        }
        val.get(&root).copied().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_consing_shares_equal_expressions() {
        let mut a = Arena::new();
        let v = a.load(Load::Sim(SimVar::V));
        let one = a.num(1.0);
        let x = a.binary(Binary::Add, v, one);
        let y = a.binary(Binary::Add, v, one);
        assert_eq!(x, y);
        assert_eq!(a.len(), 3);
        // 0.0 and -0.0 stay apart
        assert_ne!(a.num(0.0), a.num(-0.0));
    }

    #[test]
    fn constants_fold_with_double_arithmetic() {
        let mut a = Arena::new();
        let n34 = a.num(34.0);
        let n21 = a.num(21.0);
        let n10 = a.num(10.0);
        let d = a.binary(Binary::Sub, n34, n21);
        let q = a.binary(Binary::Div, d, n10);
        assert_eq!(a.as_num(q), Some(1.3));
        let base = a.num(2.3);
        let p = a.binary(Binary::Pow, base, q);
        assert_eq!(a.as_num(p), Some(2.3f64.powf(1.3)));
    }

    #[test]
    fn only_exact_identities_are_applied() {
        let mut a = Arena::new();
        let v = a.load(Load::Sim(SimVar::V));
        let zero = a.num(0.0);
        let one = a.num(1.0);
        assert_eq!(a.binary(Binary::Sub, v, zero), v);
        assert_eq!(a.binary(Binary::Mul, one, v), v);
        assert_ne!(
            a.binary(Binary::Add, v, zero),
            v,
            "v + 0 is -0 -> +0, not exact"
        );
        assert_ne!(
            a.binary(Binary::Mul, v, zero),
            zero,
            "v * 0 is NaN for v = inf"
        );
        let n = a.unary(Unary::Neg, v);
        assert_eq!(a.unary(Unary::Neg, n), v);
    }

    #[test]
    fn types_convert_like_c() {
        let mut a = Arena::new();
        let v = a.load(Load::Sim(SimVar::V));
        let c = a.to_bool(v);
        assert_eq!(a.ty(c), Ty::Bool);
        let n = a.to_num(c);
        assert_eq!(a.ty(n), Ty::Num);
        let s = a.select(v, v, c);
        assert_eq!(a.ty(s), Ty::Num);
        let val = a.eval(s, |_| f64::NAN, |_| 0.0);
        // NaN is true in C: select picks v (NaN)
        assert!(val.is_nan());
        let val = a.eval(s, |_| 0.0, |_| 0.0);
        assert_eq!(val, 0.0);
    }

    #[test]
    fn compact_keeps_order_and_drops_unreachable() {
        let mut a = Arena::new();
        let v = a.load(Load::Sim(SimVar::V));
        let _junk = a.num(42.0);
        let two = a.num(2.0);
        let x = a.binary(Binary::Mul, v, two);
        let (b, map) = a.compact([x], |l| l);
        assert_eq!(b.len(), 3);
        let nx = map[x.index()].unwrap();
        assert_eq!(nx, ExprId(2));
        assert_eq!(b.eval(nx, |_| 3.0, |_| 0.0), 6.0);
    }
}
