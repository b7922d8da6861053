//! The CPU emitter: each kernel of a mechanism becomes a `kernels_cpu::mechanism::Program`, a
//! straight-line register program over per-instance columns that the `kernels-cpu` crate runs over
//! many instances at once, in f64 or f32.
//!
//! The columns are those of the kernel ABI, `crate::ir::abi`. Registers are reused once a value is dead, so a program needs about as
//! many registers as values live at once, not one per expression.

use kernels_cpu::mechanism::{BinaryOp, Op, Output, Program, UnaryOp};

pub use crate::ir::abi::Column;
use crate::ir::abi::{columns_of, position};
use crate::ir::{Binary, Expr, ExprId, Hook, Mechanism, Unary};

/// A mechanism ready for the CPU back end.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuMechanism {
    pub name: String,
    pub columns: Vec<Column>,
    pub init: Program,
    pub current: Program,
    pub state: Program,
}

impl CpuMechanism {
    pub fn program(&self, hook: Hook) -> &Program {
        match hook {
            Hook::Init => &self.init,
            Hook::Current => &self.current,
            Hook::State => &self.state,
        }
    }

    /// The index of a column, if the mechanism has it.
    pub fn column(&self, c: Column) -> Option<usize> {
        position(&self.columns, c)
    }
}

fn unary_op(op: Unary) -> UnaryOp {
    match op {
        Unary::Neg => UnaryOp::Neg,
        Unary::Not => UnaryOp::Not,
        Unary::Exp => UnaryOp::Exp,
        Unary::Log => UnaryOp::Log,
        Unary::Log10 => UnaryOp::Log10,
        Unary::Fabs => UnaryOp::Fabs,
        Unary::Floor => UnaryOp::Floor,
        Unary::Ceil => UnaryOp::Ceil,
        Unary::Sqrt => UnaryOp::Sqrt,
        Unary::Sin => UnaryOp::Sin,
        Unary::Cos => UnaryOp::Cos,
        Unary::Tan => UnaryOp::Tan,
        Unary::Tanh => UnaryOp::Tanh,
        Unary::Sinh => UnaryOp::Sinh,
        Unary::Cosh => UnaryOp::Cosh,
        Unary::Atan => UnaryOp::Atan,
        Unary::Asin => UnaryOp::Asin,
        Unary::Acos => UnaryOp::Acos,
    }
}

fn binary_op(op: Binary) -> BinaryOp {
    match op {
        Binary::Add => BinaryOp::Add,
        Binary::Sub => BinaryOp::Sub,
        Binary::Mul => BinaryOp::Mul,
        Binary::Div => BinaryOp::Div,
        Binary::Pow => BinaryOp::Pow,
        Binary::Atan2 => BinaryOp::Atan2,
        Binary::Fmin => BinaryOp::Fmin,
        Binary::Fmax => BinaryOp::Fmax,
        Binary::Lt => BinaryOp::Lt,
        Binary::Le => BinaryOp::Le,
        Binary::Gt => BinaryOp::Gt,
        Binary::Ge => BinaryOp::Ge,
        Binary::Eq => BinaryOp::Eq,
        Binary::Ne => BinaryOp::Ne,
        Binary::And => BinaryOp::And,
        Binary::Or => BinaryOp::Or,
    }
}

/// Emit the three programs of `m` (which must be valid: see `crate::ir::validate`).
pub fn emit(m: &Mechanism) -> CpuMechanism {
    let columns = columns_of(m);
    let col = |c: Column| position(&columns, c).unwrap_or(0) as u32;
    let program = |hook: Hook| emit_kernel(m, hook, &col);
    CpuMechanism {
        name: m.name.clone(),
        init: program(Hook::Init),
        current: program(Hook::Current),
        state: program(Hook::State),
        columns,
    }
}

fn emit_kernel(m: &Mechanism, hook: Hook, col: &dyn Fn(Column) -> u32) -> Program {
    let k = m.kernel(hook);
    let roots: Vec<ExprId> = k.writes.iter().map(|w| w.value).collect();
    let order = m.arena.reachable(roots.iter().copied());
    let pos_of = |id: ExprId| order.binary_search(&id).ok();
    // last use of each value (usize::MAX: an output needs it at the end)
    let mut last_use = vec![0usize; order.len()];
    for (p, id) in order.iter().enumerate() {
        for c in m.arena.get(*id).children() {
            if let Some(q) = pos_of(c) {
                last_use[q] = last_use[q].max(p);
            }
        }
    }
    for r in &roots {
        if let Some(q) = pos_of(*r) {
            last_use[q] = usize::MAX;
        }
    }
    let mut reg_of = vec![0u32; order.len()];
    let mut free: Vec<u32> = Vec::new();
    let mut registers = 0u32;
    let mut ops = Vec::with_capacity(order.len());
    for (p, id) in order.iter().enumerate() {
        let e = *m.arena.get(*id);
        let r = |c: ExprId| pos_of(c).map_or(0, |q| reg_of[q]);
        // operands dying here give their registers back first: ops work element-wise, so the
        // result may overwrite an operand
        let mut dying: Vec<u32> = Vec::new();
        for c in e.children() {
            if let Some(q) = pos_of(c) {
                if last_use[q] == p && !dying.contains(&reg_of[q]) {
                    dying.push(reg_of[q]);
                }
            }
        }
        let operands: Vec<u32> = e.children().map(r).collect();
        free.extend(dying);
        let dst = free.pop().unwrap_or_else(|| {
            registers += 1;
            registers - 1
        });
        reg_of[p] = dst;
        ops.push(match e {
            Expr::Num(x) => Op::Const { dst, value: x },
            Expr::Bool(b) => Op::Const {
                dst,
                value: if b { 1.0 } else { 0.0 },
            },
            Expr::Sym(_) => Op::Const {
                dst,
                value: f64::NAN,
            },
            Expr::Load(l) => Op::Read {
                dst,
                column: col(Column::of_load(l)),
            },
            Expr::Unary(op, _) => Op::Unary {
                dst,
                op: unary_op(op),
                a: operands[0],
            },
            Expr::Binary(op, _, _) => Op::Binary {
                dst,
                op: binary_op(op),
                a: operands[0],
                b: operands[1],
            },
            Expr::Select(..) => Op::Select {
                dst,
                cond: operands[0],
                a: operands[1],
                b: operands[2],
            },
        });
        if last_use[p] == 0 && !roots.contains(id) {
            // unused (cannot happen for reachable values, kept for safety)
            free.push(dst);
        }
    }
    let outputs = k
        .writes
        .iter()
        .map(|w| {
            let src = pos_of(w.value).map_or(0, |q| reg_of[q]);
            let (c, add) = Column::of_target(w.target);
            let column = col(c);
            if add {
                Output::Add { column, src }
            } else {
                Output::Set { column, src }
            }
        })
        .collect();
    Program {
        ops,
        outputs,
        registers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::eval::{run_kernel, Instance, SimValues};
    use crate::ir::{IonVar, SimVar};
    use crate::nmodl::compile_source;
    use kernels_cpu::mechanism::Real;
    use proptest::prelude::*;

    const CHANNEL: &str = "
NEURON {
    SUFFIX chan
    USEION na READ ena WRITE ina
    USEION ca READ ica WRITE cai
    NONSPECIFIC_CURRENT il
    RANGE gbar, gl
}
UNITS { FARADAY = (faraday) (coulomb) }
PARAMETER { gbar = 0.1 gl = 1e-4 tau = 20 }
ASSIGNED { ina ena il ica minf mtau diam }
STATE { m h cai }
INITIAL { rates(v) m = minf h = 1 - minf cai = 1e-4 }
BREAKPOINT { SOLVE s METHOD cnexp  ina = gbar*m*m*m*h*(v - ena)  il = gl*(v + 70) }
DERIVATIVE s {
    rates(v)
    m' = (minf - m)/mtau
    h' = (1 - minf - h)/(2*mtau)
    cai' = -ica*10000/(2*FARADAY*diam) - (cai - 1e-4)/tau
}
PROCEDURE rates(v) { LOCAL a
    if (v == -40) { v = v + 1e-4 }
    a = (v + 40)/(1 - exp(-(v + 40)/10))
    minf = a/(a + 4*exp(-(v + 65)/18))
    mtau = 1/(a + 4*exp(-(v + 65)/18))
}
";

    fn mech() -> Mechanism {
        let c = compile_source(std::path::Path::new("chan.mod"), CHANNEL);
        c.mechanism
            .unwrap_or_else(|| panic!("{:?}", c.diagnostics.into_vec()))
    }

    /// The columns of `n` instances from reference-evaluation instances.
    fn gather<T: Real>(cm: &CpuMechanism, m: &Mechanism, insts: &[Instance]) -> Vec<Vec<T>> {
        cm.columns
            .iter()
            .map(|c| {
                insts
                    .iter()
                    .map(|inst| {
                        T::from_f64(match *c {
                            Column::Field(f) => inst.fields[f.index()],
                            Column::Ion(i, v) => {
                                inst.ion(m, &m.ions[i.index()].name, v).unwrap_or(f64::NAN)
                            }
                            Column::Sim(s) => match s {
                                SimVar::V => inst.sim.v_mv,
                                SimVar::T => inst.sim.t_ms,
                                SimVar::Dt => inst.sim.dt_ms,
                                SimVar::Celsius => inst.sim.celsius,
                                SimVar::Diam => inst.sim.diam_um,
                                SimVar::Area => inst.sim.area_um2,
                            },
                            Column::Current => inst.current,
                            Column::Conductance => inst.conductance,
                        })
                    })
                    .collect()
            })
            .collect()
    }

    fn instances(m: &Mechanism, seeds: &[(f64, f64, f64)]) -> Vec<Instance> {
        seeds
            .iter()
            .map(|&(v, x, ica)| {
                let mut inst = Instance::new(
                    m,
                    SimValues {
                        v_mv: v,
                        diam_um: 2.0,
                        ..SimValues::default()
                    },
                );
                inst.set_field(m, "m", x);
                inst.set_field(m, "h", 1.0 - x);
                inst.set_ion(m, "na", IonVar::Erev, 50.0);
                inst.set_ion(m, "ca", IonVar::Current, ica);
                inst.set_ion(m, "ca", IonVar::Inside, 5e-5 + x * 1e-4);
                inst
            })
            .collect()
    }

    fn check_against_reference(seeds: &[(f64, f64, f64)]) {
        let m = mech();
        let cm = emit(&m);
        for hook in Hook::ALL {
            let mut insts = instances(&m, seeds);
            let mut cols64 = gather::<f64>(&cm, &m, &insts);
            let mut cols32 = gather::<f32>(&cm, &m, &insts);
            let mut r64: Vec<&mut [f64]> = cols64.iter_mut().map(|c| c.as_mut_slice()).collect();
            cm.program(hook).run(&mut r64).unwrap();
            let mut r32: Vec<&mut [f32]> = cols32.iter_mut().map(|c| c.as_mut_slice()).collect();
            cm.program(hook).run(&mut r32).unwrap();
            for inst in insts.iter_mut() {
                run_kernel(&m, hook, inst);
            }
            let want = gather::<f64>(&cm, &m, &insts);
            for (c, col) in cm.columns.iter().enumerate() {
                for i in 0..insts.len() {
                    let (w, g) = (want[c][i], cols64[c][i]);
                    assert!(
                        w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                        "{hook:?} {col:?} instance {i}: {g} vs {w}"
                    );
                    // f32 inherits the cancellations of the model's formulas (1 - minf near 1,
                    // (v + 40)/(1 - exp(...)) next to its removable singularity): a sanity bound
                    let g32 = cols32[c][i] as f64;
                    assert!(
                        (g32 - w).abs() <= 1e-3 * w.abs().max(1.0) || (w.is_nan() && g32.is_nan()),
                        "{hook:?} {col:?} instance {i} f32: {g32} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn programs_match_the_reference_evaluation() {
        let seeds: Vec<(f64, f64, f64)> = (0..150)
            .map(|k| {
                let v = -90.0 + k as f64 * 0.7;
                (v, (k % 10) as f64 / 10.0, -1e-3 * (k % 3) as f64)
            })
            .chain([(-40.0, 0.5, 0.0)])
            .collect();
        check_against_reference(&seeds);
    }

    #[test]
    fn registers_are_reused() {
        let m = mech();
        let cm = emit(&m);
        let p = &cm.state;
        assert!(p.check(cm.columns.len()).is_ok());
        assert!(
            (p.registers as usize) < p.ops.len() / 2,
            "{} registers for {} ops",
            p.registers,
            p.ops.len()
        );
        assert!(cm.column(Column::Sim(SimVar::Dt)).is_some());
        assert!(cm.column(Column::Sim(SimVar::T)).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn random_states_match(seeds in proptest::collection::vec((-120.0f64..60.0, 0.0f64..1.0, -0.01f64..0.0), 1..200)) {
            check_against_reference(&seeds);
        }
    }
}
