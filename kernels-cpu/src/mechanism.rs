//! Mechanism programs: straight-line register code that the main crate's `emit::cpu` makes from a
//! mechanism kernel, interpreted here over many instances at once, in `f64` or `f32`.
//!
//! A program reads per-instance *columns* (parameters, states, the node's voltage and ion values,
//! gathered by the caller into one slice per column), computes into registers, and at the end
//! stores (`Set`) or accumulates (`Add`) into columns. Instances are processed in chunks of
//! [`CHUNK`]: every operation runs over the whole chunk before the next, so the inner loops are
//! simple and vectorisable. All reads of a chunk happen before any of its stores, so a column may
//! be both read and written (a state), exactly as the IR defines a kernel.
//!
//! Truth values are numbers: comparisons give 1 or 0, a select takes its first branch when the
//! condition is not 0, as in C.

/// Instances evaluated together.
pub const CHUNK: usize = 64;

/// The floating-point type a program runs in.
pub trait Real:
    Copy
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn log10(self) -> Self;
    fn abs(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    fn sqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tan(self) -> Self;
    fn tanh(self) -> Self;
    fn sinh(self) -> Self;
    fn cosh(self) -> Self;
    fn atan(self) -> Self;
    fn asin(self) -> Self;
    fn acos(self) -> Self;
    fn powf(self, e: Self) -> Self;
    fn atan2(self, x: Self) -> Self;
    fn min(self, o: Self) -> Self;
    fn max(self, o: Self) -> Self;
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn log10(self) -> Self {
                <$t>::log10(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn sinh(self) -> Self {
                <$t>::sinh(self)
            }
            fn cosh(self) -> Self {
                <$t>::cosh(self)
            }
            fn atan(self) -> Self {
                <$t>::atan(self)
            }
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            fn atan2(self, x: Self) -> Self {
                <$t>::atan2(self, x)
            }
            fn min(self, o: Self) -> Self {
                <$t>::min(self, o)
            }
            fn max(self, o: Self) -> Self {
                <$t>::max(self, o)
            }
        }
    };
}

impl_real!(f32);
impl_real!(f64);

/// One-operand operations (`Not` maps 0 to 1 and anything else, NaN included, to 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
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

/// Two-operand operations (comparisons give 1 or 0; `And`/`Or` treat non-zero as true).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
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

/// One instruction; registers and columns are indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    Const {
        dst: u32,
        value: f64,
    },
    Read {
        dst: u32,
        column: u32,
    },
    Unary {
        dst: u32,
        op: UnaryOp,
        a: u32,
    },
    Binary {
        dst: u32,
        op: BinaryOp,
        a: u32,
        b: u32,
    },
    Select {
        dst: u32,
        cond: u32,
        a: u32,
        b: u32,
    },
}

/// A result of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `column[i] = register`.
    Set { column: u32, src: u32 },
    /// `column[i] += register`.
    Add { column: u32, src: u32 },
}

/// A straight-line program over per-instance columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub ops: Vec<Op>,
    pub outputs: Vec<Output>,
    /// Number of registers the ops use.
    pub registers: u32,
}

/// Why a program cannot run on the columns given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramError {
    /// An op or output names a register at or beyond `registers`.
    BadRegister(u32),
    /// An op or output names a column the caller did not give.
    BadColumn(u32),
    /// Columns of different lengths.
    Ragged,
}

impl Program {
    /// Check registers and columns once, so that [`Program::run`] cannot index out of bounds.
    pub fn check(&self, columns: usize) -> Result<(), ProgramError> {
        let reg = |r: u32| {
            if r < self.registers {
                Ok(())
            } else {
                Err(ProgramError::BadRegister(r))
            }
        };
        let col = |c: u32| {
            if (c as usize) < columns {
                Ok(())
            } else {
                Err(ProgramError::BadColumn(c))
            }
        };
        for op in &self.ops {
            match *op {
                Op::Const { dst, .. } => reg(dst)?,
                Op::Read { dst, column } => {
                    reg(dst)?;
                    col(column)?
                }
                Op::Unary { dst, a, .. } => {
                    reg(dst)?;
                    reg(a)?
                }
                Op::Binary { dst, a, b, .. } => {
                    reg(dst)?;
                    reg(a)?;
                    reg(b)?
                }
                Op::Select { dst, cond, a, b } => {
                    reg(dst)?;
                    reg(cond)?;
                    reg(a)?;
                    reg(b)?
                }
            }
        }
        for o in &self.outputs {
            match *o {
                Output::Set { column, src } | Output::Add { column, src } => {
                    reg(src)?;
                    col(column)?
                }
            }
        }
        Ok(())
    }

    /// Run over all instances: `columns[c][i]` is column `c` of instance `i`.
    pub fn run<T: Real>(&self, columns: &mut [&mut [T]]) -> Result<(), ProgramError> {
        self.check(columns.len())?;
        let n = columns.first().map_or(0, |c| c.len());
        if columns.iter().any(|c| c.len() != n) {
            return Err(ProgramError::Ragged);
        }
        let mut regs = vec![[T::ZERO; CHUNK]; self.registers as usize];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (just detected).
            unsafe { self.run_chunks_avx2(columns, n, &mut regs) };
            return Ok(());
        }
        self.run_chunks(columns, n, &mut regs);
        Ok(())
    }

    /// [`Program::run_chunks`] compiled for AVX2: wider vectors for the same IEEE operations.
    /// FMA stays off (and Rust never contracts `a * b + c`), so results are bit-identical to the
    /// baseline build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_chunks_avx2<T: Real>(
        &self,
        columns: &mut [&mut [T]],
        n: usize,
        regs: &mut [[T; CHUNK]],
    ) {
        self.run_chunks(columns, n, regs)
    }

    #[inline(always)]
    fn run_chunks<T: Real>(&self, columns: &mut [&mut [T]], n: usize, regs: &mut [[T; CHUNK]]) {
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            self.run_chunk(columns, start, len, regs);
            start += len;
        }
    }

    /// One chunk of `len` instances from `start`. Every operation runs over all [`CHUNK`] slots
    /// of its registers (fixed-length loops the compiler vectorises without bounds checks); in a
    /// short last chunk the slots from `len` on hold stale values whose results are never stored.
    #[inline(always)]
    fn run_chunk<T: Real>(
        &self,
        columns: &mut [&mut [T]],
        start: usize,
        len: usize,
        regs: &mut [[T; CHUNK]],
    ) {
        let b = |t: bool| if t { T::ONE } else { T::ZERO };
        for op in &self.ops {
            match *op {
                Op::Const { dst, value } => {
                    regs[dst as usize] = [T::from_f64(value); CHUNK];
                }
                Op::Read { dst, column } => {
                    regs[dst as usize][..len]
                        .copy_from_slice(&columns[column as usize][start..start + len]);
                }
                Op::Unary { dst, op, a } => {
                    // one loop per operation (not a match per element), so each can vectorise;
                    // in place when `dst` is `a`, else from a separate register
                    let (d, lo, hi) = split(regs, dst as usize);
                    let x = operand(lo, hi, dst as usize, a as usize);
                    macro_rules! each {
                        ($f:expr) => {{
                            let f = $f;
                            match x {
                                Some(x) => {
                                    for k in 0..CHUNK {
                                        d[k] = f(x[k]);
                                    }
                                }
                                None => {
                                    for v in d.iter_mut() {
                                        *v = f(*v);
                                    }
                                }
                            }
                        }};
                    }
                    match op {
                        UnaryOp::Neg => each!(|x: T| -x),
                        UnaryOp::Not => each!(|x: T| b(x == T::ZERO)),
                        UnaryOp::Exp => each!(|x: T| x.exp()),
                        UnaryOp::Log => each!(|x: T| x.ln()),
                        UnaryOp::Log10 => each!(|x: T| x.log10()),
                        UnaryOp::Fabs => each!(|x: T| x.abs()),
                        UnaryOp::Floor => each!(|x: T| x.floor()),
                        UnaryOp::Ceil => each!(|x: T| x.ceil()),
                        UnaryOp::Sqrt => each!(|x: T| x.sqrt()),
                        UnaryOp::Sin => each!(|x: T| x.sin()),
                        UnaryOp::Cos => each!(|x: T| x.cos()),
                        UnaryOp::Tan => each!(|x: T| x.tan()),
                        UnaryOp::Tanh => each!(|x: T| x.tanh()),
                        UnaryOp::Sinh => each!(|x: T| x.sinh()),
                        UnaryOp::Cosh => each!(|x: T| x.cosh()),
                        UnaryOp::Atan => each!(|x: T| x.atan()),
                        UnaryOp::Asin => each!(|x: T| x.asin()),
                        UnaryOp::Acos => each!(|x: T| x.acos()),
                    }
                }
                Op::Binary { dst, op, a, b: bb } => {
                    let (d, lo, hi) = split(regs, dst as usize);
                    let x = operand(lo, hi, dst as usize, a as usize);
                    let y = operand(lo, hi, dst as usize, bb as usize);
                    // four loops so that none reads a register through a copy or an alias
                    macro_rules! each {
                        ($f:expr) => {{
                            let f = $f;
                            match (x, y) {
                                (Some(x), Some(y)) => {
                                    for k in 0..CHUNK {
                                        d[k] = f(x[k], y[k]);
                                    }
                                }
                                (None, Some(y)) => {
                                    for k in 0..CHUNK {
                                        d[k] = f(d[k], y[k]);
                                    }
                                }
                                (Some(x), None) => {
                                    for k in 0..CHUNK {
                                        d[k] = f(x[k], d[k]);
                                    }
                                }
                                (None, None) => {
                                    for v in d.iter_mut() {
                                        *v = f(*v, *v);
                                    }
                                }
                            }
                        }};
                    }
                    match op {
                        BinaryOp::Add => each!(|x: T, y: T| x + y),
                        BinaryOp::Sub => each!(|x: T, y: T| x - y),
                        BinaryOp::Mul => each!(|x: T, y: T| x * y),
                        BinaryOp::Div => each!(|x: T, y: T| x / y),
                        BinaryOp::Pow => each!(|x: T, y: T| x.powf(y)),
                        BinaryOp::Atan2 => each!(|x: T, y: T| x.atan2(y)),
                        BinaryOp::Fmin => each!(|x: T, y: T| x.min(y)),
                        BinaryOp::Fmax => each!(|x: T, y: T| x.max(y)),
                        BinaryOp::Lt => each!(|x: T, y: T| b(x < y)),
                        BinaryOp::Le => each!(|x: T, y: T| b(x <= y)),
                        BinaryOp::Gt => each!(|x: T, y: T| b(x > y)),
                        BinaryOp::Ge => each!(|x: T, y: T| b(x >= y)),
                        BinaryOp::Eq => each!(|x: T, y: T| b(x == y)),
                        BinaryOp::Ne => each!(|x: T, y: T| b(x != y)),
                        BinaryOp::And => each!(|x: T, y: T| b(x != T::ZERO && y != T::ZERO)),
                        BinaryOp::Or => each!(|x: T, y: T| b(x != T::ZERO || y != T::ZERO)),
                    }
                }
                Op::Select {
                    dst,
                    cond,
                    a,
                    b: bb,
                } => {
                    let (d, lo, hi) = split(regs, dst as usize);
                    // an operand that is `dst` itself is read from a copy taken before the loop
                    let own = *d;
                    let pick = |r: u32| operand(lo, hi, dst as usize, r as usize).unwrap_or(&own);
                    let (c, x, y) = (pick(cond), pick(a), pick(bb));
                    for k in 0..CHUNK {
                        d[k] = if c[k] != T::ZERO { x[k] } else { y[k] };
                    }
                }
            }
        }
        for o in &self.outputs {
            match *o {
                Output::Set { column, src } => {
                    columns[column as usize][start..start + len]
                        .copy_from_slice(&regs[src as usize][..len]);
                }
                Output::Add { column, src } => {
                    for (x, r) in columns[column as usize][start..start + len]
                        .iter_mut()
                        .zip(&regs[src as usize][..len])
                    {
                        *x = *x + *r;
                    }
                }
            }
        }
    }
}

/// Register `d` mutably, with the registers below and above it.
#[inline(always)]
fn split<T>(regs: &mut [[T; CHUNK]], d: usize) -> (&mut [T; CHUNK], &[[T; CHUNK]], &[[T; CHUNK]]) {
    let (lo, rest) = regs.split_at_mut(d);
    let (dst, hi) = rest
        .split_first_mut()
        .expect("register checked by Program::check");
    (dst, lo, hi)
}

/// Register `r` read while `d` is written: `None` when it is `d` itself.
#[inline(always)]
fn operand<'a, T>(
    lo: &'a [[T; CHUNK]],
    hi: &'a [[T; CHUNK]],
    d: usize,
    r: usize,
) -> Option<&'a [T; CHUNK]> {
    match r.cmp(&d) {
        std::cmp::Ordering::Less => Some(&lo[r]),
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(&hi[r - d - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// g * (v - e) into column 3, added to column 4; v in column 0, g 1, e 2; a state update
    /// `column 1 = column 1 * 2` reads and writes the same column.
    fn program() -> Program {
        Program {
            ops: vec![
                Op::Read { dst: 0, column: 0 },
                Op::Read { dst: 1, column: 1 },
                Op::Read { dst: 2, column: 2 },
                Op::Binary {
                    dst: 0,
                    op: BinaryOp::Sub,
                    a: 0,
                    b: 2,
                },
                Op::Binary {
                    dst: 0,
                    op: BinaryOp::Mul,
                    a: 1,
                    b: 0,
                },
                Op::Const { dst: 2, value: 2.0 },
                Op::Binary {
                    dst: 1,
                    op: BinaryOp::Mul,
                    a: 1,
                    b: 2,
                },
                Op::Binary {
                    dst: 2,
                    op: BinaryOp::Gt,
                    a: 0,
                    b: 2,
                },
                Op::Select {
                    dst: 2,
                    cond: 2,
                    a: 0,
                    b: 1,
                },
            ],
            outputs: vec![
                Output::Set { column: 3, src: 0 },
                Output::Add { column: 4, src: 0 },
                Output::Set { column: 1, src: 1 },
                Output::Set { column: 5, src: 2 },
            ],
            registers: 3,
        }
    }

    fn run_with<T: Real>(n: usize) -> Vec<Vec<T>> {
        let mut cols: Vec<Vec<T>> = (0..6)
            .map(|c| {
                (0..n)
                    .map(|i| T::from_f64(c as f64 * 10.0 + i as f64 * 0.5 - 3.0))
                    .collect()
            })
            .collect();
        let mut refs: Vec<&mut [T]> = cols.iter_mut().map(|c| c.as_mut_slice()).collect();
        program().run(&mut refs).unwrap();
        cols
    }

    #[test]
    fn runs_over_chunks_in_both_precisions() {
        for n in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 5] {
            let out = run_with::<f64>(n);
            let out32 = run_with::<f32>(n);
            for i in 0..n {
                let c = |k: usize| k as f64 * 10.0 + i as f64 * 0.5 - 3.0;
                let i_here = c(1) * (c(0) - c(2));
                assert_eq!(out[3][i], i_here);
                assert_eq!(out[4][i], c(4) + i_here);
                assert_eq!(out[1][i], c(1) * 2.0);
                assert_eq!(out[5][i], if i_here > 2.0 { i_here } else { c(1) * 2.0 });
                assert!((out32[3][i] as f64 - i_here).abs() <= 1e-5 * (1.0 + i_here.abs()));
            }
        }
    }

    #[test]
    fn bad_programs_are_refused() {
        let mut p = program();
        let mut a = vec![0.0f64; 4];
        let mut cols: Vec<&mut [f64]> = vec![&mut a];
        assert_eq!(p.run(&mut cols), Err(ProgramError::BadColumn(1)));
        p.registers = 1;
        assert_eq!(p.check(6), Err(ProgramError::BadRegister(1)));
        let p = program();
        let mut c: Vec<Vec<f64>> = (0..6)
            .map(|k| vec![0.0; if k == 2 { 3 } else { 4 }])
            .collect();
        let mut refs: Vec<&mut [f64]> = c.iter_mut().map(|c| c.as_mut_slice()).collect();
        assert_eq!(p.run(&mut refs), Err(ProgramError::Ragged));
    }
}
