//! Symbolic calculus on the expression arena: substitution of placeholders, dependence tests and
//! the derivative with respect to a placeholder (used to integrate `x' = a + b*x` exactly and to
//! check that a system is linear in its states).
//!
//! All walks are iterative over the handles reachable from the root, in creation order, so deep
//! expressions cannot overflow the stack and shared sub-expressions are visited once.

use std::collections::HashMap;

use super::expr::{Arena, Binary, Expr, ExprId, Ty, Unary};

/// Why a derivative could not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DerivError {
    /// A condition (of `if`, `fmin`, ...) depends on the variable: the expression is only
    /// piecewise smooth in it.
    Piecewise,
}

/// `root` with each placeholder `Sym(s)` listed in `subs` replaced by its value.
pub fn substitute(arena: &mut Arena, root: ExprId, subs: &[(u32, ExprId)]) -> ExprId {
    let order = arena.reachable([root]);
    let mut map: HashMap<ExprId, ExprId> = HashMap::with_capacity(order.len());
    for id in order {
        let e = *arena.get(id);
        let new = match e {
            Expr::Sym(s) => match subs.iter().find(|(k, _)| *k == s) {
                Some(&(_, v)) => v,
                None => id,
            },
            Expr::Num(_) | Expr::Bool(_) | Expr::Load(_) => id,
            other => {
                let mapped = other.map_children(|c| map.get(&c).copied().unwrap_or(c));
                arena.rebuild(mapped)
            }
        };
        map.insert(id, new);
    }
    map.get(&root).copied().unwrap_or(root)
}

/// Whether `root` refers to placeholder `sym` (any placeholder when `sym` is `None`).
pub fn depends_on(arena: &Arena, root: ExprId, sym: Option<u32>) -> bool {
    arena
        .reachable([root])
        .into_iter()
        .any(|id| matches!(*arena.get(id), Expr::Sym(s) if sym.is_none_or(|t| t == s)))
}

/// The derivative of `root` with respect to placeholder `sym`: `Ok(None)` when it is identically
/// zero by structure (the expression does not involve `sym` through any smooth path).
pub fn derivative(arena: &mut Arena, root: ExprId, sym: u32) -> Result<Option<ExprId>, DerivError> {
    let order = arena.reachable([root]);
    // Which nodes involve the placeholder at all: the rest have derivative zero.
    let mut involves: HashMap<ExprId, bool> = HashMap::with_capacity(order.len());
    for &id in &order {
        let e = *arena.get(id);
        let inv = match e {
            Expr::Sym(s) => s == sym,
            other => other
                .children()
                .any(|c| involves.get(&c).copied().unwrap_or(false)),
        };
        involves.insert(id, inv);
    }
    let mut d: HashMap<ExprId, Option<ExprId>> = HashMap::with_capacity(order.len());
    for &id in &order {
        if !involves[&id] {
            d.insert(id, None);
            continue;
        }
        let e = *arena.get(id);
        let dv = |d: &HashMap<ExprId, Option<ExprId>>, c: ExprId| d.get(&c).copied().flatten();
        let r = match e {
            Expr::Sym(_) => Some(arena.num(1.0)),
            Expr::Num(_) | Expr::Bool(_) | Expr::Load(_) => None,
            Expr::Unary(op, a) => {
                let da = dv(&d, a);
                match da {
                    None => None,
                    Some(da) => unary_derivative(arena, op, a, da)?,
                }
            }
            Expr::Binary(op, a, b) => {
                if arena.ty(id) == Ty::Bool {
                    // Truth values have no derivative; a select on them reports Piecewise.
                    None
                } else {
                    binary_derivative(arena, op, a, b, dv(&d, a), dv(&d, b))?
                }
            }
            Expr::Select(c, a, b) => {
                if involves[&c] {
                    return Err(DerivError::Piecewise);
                }
                match (dv(&d, a), dv(&d, b)) {
                    (None, None) => None,
                    (da, db) => {
                        let zero = arena.num(0.0);
                        Some(arena.select(c, da.unwrap_or(zero), db.unwrap_or(zero)))
                    }
                }
            }
        };
        d.insert(id, r);
    }
    Ok(d.get(&root).copied().flatten())
}

fn unary_derivative(
    arena: &mut Arena,
    op: Unary,
    a: ExprId,
    da: ExprId,
) -> Result<Option<ExprId>, DerivError> {
    use Binary::*;
    let one = arena.num(1.0);
    Ok(Some(match op {
        Unary::Neg => arena.unary(Unary::Neg, da),
        Unary::Not => return Ok(None),
        Unary::Exp => {
            let ea = arena.unary(Unary::Exp, a);
            arena.binary(Mul, ea, da)
        }
        Unary::Log => arena.binary(Div, da, a),
        Unary::Log10 => {
            let ln10 = arena.num(std::f64::consts::LN_10);
            let den = arena.binary(Mul, a, ln10);
            arena.binary(Div, da, den)
        }
        Unary::Sqrt => {
            let two = arena.num(2.0);
            let s = arena.unary(Unary::Sqrt, a);
            let den = arena.binary(Mul, two, s);
            arena.binary(Div, da, den)
        }
        Unary::Sin => {
            let c = arena.unary(Unary::Cos, a);
            arena.binary(Mul, c, da)
        }
        Unary::Cos => {
            let s = arena.unary(Unary::Sin, a);
            let m = arena.binary(Mul, s, da);
            arena.unary(Unary::Neg, m)
        }
        Unary::Tan => {
            let c = arena.unary(Unary::Cos, a);
            let c2 = arena.binary(Mul, c, c);
            arena.binary(Div, da, c2)
        }
        Unary::Tanh => {
            let t = arena.unary(Unary::Tanh, a);
            let t2 = arena.binary(Mul, t, t);
            let f = arena.binary(Sub, one, t2);
            arena.binary(Mul, f, da)
        }
        Unary::Sinh => {
            let c = arena.unary(Unary::Cosh, a);
            arena.binary(Mul, c, da)
        }
        Unary::Cosh => {
            let s = arena.unary(Unary::Sinh, a);
            arena.binary(Mul, s, da)
        }
        Unary::Atan => {
            let a2 = arena.binary(Mul, a, a);
            let den = arena.binary(Add, one, a2);
            arena.binary(Div, da, den)
        }
        Unary::Asin | Unary::Acos => {
            let a2 = arena.binary(Mul, a, a);
            let r = arena.binary(Sub, one, a2);
            let den = arena.unary(Unary::Sqrt, r);
            let q = arena.binary(Div, da, den);
            if op == Unary::Acos {
                arena.unary(Unary::Neg, q)
            } else {
                q
            }
        }
        Unary::Fabs => {
            let zero = arena.num(0.0);
            let neg = arena.binary(Lt, a, zero);
            let nda = arena.unary(Unary::Neg, da);
            arena.select(neg, nda, da)
        }
        // Piecewise constant: derivative zero wherever it exists.
        Unary::Floor | Unary::Ceil => return Ok(None),
    }))
}

fn binary_derivative(
    arena: &mut Arena,
    op: Binary,
    a: ExprId,
    b: ExprId,
    da: Option<ExprId>,
    db: Option<ExprId>,
) -> Result<Option<ExprId>, DerivError> {
    use Binary::*;
    let r = match op {
        Add => match (da, db) {
            (None, None) => None,
            (Some(x), None) | (None, Some(x)) => Some(x),
            (Some(x), Some(y)) => Some(arena.binary(Add, x, y)),
        },
        Sub => match (da, db) {
            (None, None) => None,
            (Some(x), None) => Some(x),
            (None, Some(y)) => Some(arena.unary(Unary::Neg, y)),
            (Some(x), Some(y)) => Some(arena.binary(Sub, x, y)),
        },
        Mul => match (da, db) {
            (None, None) => None,
            (Some(x), None) => Some(arena.binary(Mul, x, b)),
            (None, Some(y)) => Some(arena.binary(Mul, a, y)),
            (Some(x), Some(y)) => {
                let l = arena.binary(Mul, x, b);
                let r = arena.binary(Mul, a, y);
                Some(arena.binary(Add, l, r))
            }
        },
        Div => match (da, db) {
            (None, None) => None,
            (Some(x), None) => Some(arena.binary(Div, x, b)),
            (da, Some(y)) => {
                let b2 = arena.binary(Mul, b, b);
                let ay = arena.binary(Mul, a, y);
                let num = match da {
                    Some(x) => {
                        let xb = arena.binary(Mul, x, b);
                        arena.binary(Sub, xb, ay)
                    }
                    None => arena.unary(Unary::Neg, ay),
                };
                Some(arena.binary(Div, num, b2))
            }
        },
        Pow => {
            let p = arena.binary(Pow, a, b);
            match (da, db) {
                (None, None) => None,
                (Some(x), None) => {
                    // b * a^(b-1) * da
                    let one = arena.num(1.0);
                    let bm1 = arena.binary(Sub, b, one);
                    let pw = arena.binary(Pow, a, bm1);
                    let f = arena.binary(Mul, b, pw);
                    Some(arena.binary(Mul, f, x))
                }
                (None, Some(y)) => {
                    let ln = arena.unary(Unary::Log, a);
                    let f = arena.binary(Mul, p, ln);
                    Some(arena.binary(Mul, f, y))
                }
                (Some(x), Some(y)) => {
                    let ln = arena.unary(Unary::Log, a);
                    let t1 = arena.binary(Mul, y, ln);
                    let bx = arena.binary(Mul, b, x);
                    let t2 = arena.binary(Div, bx, a);
                    let s = arena.binary(Add, t1, t2);
                    Some(arena.binary(Mul, p, s))
                }
            }
        }
        Atan2 => {
            // d atan2(a, b) = (b da - a db) / (a^2 + b^2)
            if da.is_none() && db.is_none() {
                None
            } else {
                let a2 = arena.binary(Mul, a, a);
                let b2 = arena.binary(Mul, b, b);
                let den = arena.binary(Add, a2, b2);
                let l = da.map(|x| arena.binary(Mul, b, x));
                let r = db.map(|y| arena.binary(Mul, a, y));
                let num = match (l, r) {
                    (Some(l), Some(r)) => arena.binary(Sub, l, r),
                    (Some(l), None) => l,
                    (None, Some(r)) => arena.unary(Unary::Neg, r),
                    (None, None) => return Ok(None),
                };
                Some(arena.binary(Div, num, den))
            }
        }
        Fmin | Fmax => {
            // The choice depends on both operands: involving the variable makes it piecewise.
            return Err(DerivError::Piecewise);
        }
        Lt | Le | Gt | Ge | Eq | Ne | And | Or => None,
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::expr::{Load, SimVar};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + b.abs())
    }

    /// Build a few functions of x, compare the symbolic derivative with a central difference.
    #[test]
    fn derivative_matches_finite_difference() {
        let mut ar = Arena::new();
        let x = ar.sym(0);
        let v = ar.load(Load::Sim(SimVar::V));
        let two = ar.num(2.0);
        let three = ar.num(3.0);
        let ex = ar.unary(Unary::Exp, x);
        let xv = ar.binary(Binary::Mul, x, v);
        let s1 = ar.binary(Binary::Add, ex, xv); // exp(x) + x v
        let p = ar.binary(Binary::Pow, x, three); // x^3
        let q = ar.binary(Binary::Div, two, x); // 2/x
        let px = ar.binary(Binary::Pow, two, x); // 2^x
        let l = ar.unary(Unary::Log10, x);
        let t = ar.unary(Unary::Tanh, x);
        let sq = ar.unary(Unary::Sqrt, x);
        let at = ar.binary(Binary::Atan2, x, v);
        let ab = ar.unary(Unary::Fabs, x);
        let cases = [s1, p, q, px, l, t, sq, at, ab];
        for &f in &cases {
            let df = derivative(&mut ar, f, 0).unwrap().unwrap();
            for &x0 in &[0.3, 1.7, 2.5] {
                let h = 1e-6;
                let fv = |ar: &Arena, xx: f64| ar.eval(f, |_| 0.7, |_| xx);
                let fd = (fv(&ar, x0 + h) - fv(&ar, x0 - h)) / (2.0 * h);
                let sd = ar.eval(df, |_| 0.7, |_| x0);
                assert!(close(sd, fd) || (sd - fd).abs() < 1e-6, "{sd} vs {fd}");
            }
        }
    }

    #[test]
    fn linear_forms_have_free_slope() {
        // (minf - m)/mtau: slope -1/mtau, no m in it; constant part minf/mtau
        let mut ar = Arena::new();
        let m = ar.sym(0);
        let minf = ar.load(Load::Sim(SimVar::V));
        let mtau = ar.load(Load::Sim(SimVar::Celsius));
        let diff = ar.binary(Binary::Sub, minf, m);
        let rhs = ar.binary(Binary::Div, diff, mtau);
        let b = derivative(&mut ar, rhs, 0).unwrap().unwrap();
        assert!(!depends_on(&ar, b, Some(0)));
        let zero = ar.num(0.0);
        let a = substitute(&mut ar, rhs, &[(0, zero)]);
        assert!(!depends_on(&ar, a, None));
        // a is minf/mtau exactly (x - 0 simplifies)
        let expect = ar.binary(Binary::Div, minf, mtau);
        assert_eq!(a, expect);
        // b is -1/mtau
        let m1 = ar.num(-1.0);
        let expect_b = ar.binary(Binary::Div, m1, mtau);
        assert_eq!(b, expect_b);
        // x*x is not linear
        let sq = ar.binary(Binary::Mul, m, m);
        let d = derivative(&mut ar, sq, 0).unwrap().unwrap();
        assert!(depends_on(&ar, d, Some(0)));
    }

    #[test]
    fn condition_on_the_variable_is_piecewise() {
        let mut ar = Arena::new();
        let x = ar.sym(0);
        let one = ar.num(1.0);
        let c = ar.binary(Binary::Lt, x, one);
        let s = ar.select(c, x, one);
        assert_eq!(derivative(&mut ar, s, 0), Err(DerivError::Piecewise));
        // a condition not on x is fine
        let v = ar.load(Load::Sim(SimVar::V));
        let c2 = ar.binary(Binary::Lt, v, one);
        let s2 = ar.select(c2, x, one);
        assert!(derivative(&mut ar, s2, 0).unwrap().is_some());
        // no x at all: structurally zero
        assert_eq!(derivative(&mut ar, c2, 0), Ok(None));
    }

    #[test]
    fn deep_chains_do_not_overflow() {
        let mut ar = Arena::new();
        let mut e = ar.sym(0);
        let k = ar.num(1.000001);
        for _ in 0..200_000 {
            e = ar.binary(Binary::Mul, e, k);
        }
        let d = derivative(&mut ar, e, 0).unwrap().unwrap();
        assert!(!depends_on(&ar, d, Some(0)));
        let zero = ar.num(0.0);
        let s = substitute(&mut ar, e, &[(0, zero)]);
        assert_eq!(ar.as_num(s), Some(0.0));
    }
}
