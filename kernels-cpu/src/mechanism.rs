//! Mechanism programs: straight-line register code that the main crate's `emit::cpu` makes from a
//! mechanism kernel, interpreted here over many instances at once, in `f64` or `f32`.
//!
//! A program reads per-instance *columns* (parameters, states, the node's voltage and ion values),
//! computes into registers, and at the end stores (`Set`) or accumulates (`Add`) into columns.
//! [`Program::compile`] turns it into a [`Kernel`]: constants and column loads become operands,
//! pairs of arithmetic instructions fuse into one pass. A kernel runs over a column's own array
//! or, for node values, over a per-node array through each instance's row (no copies around
//! the call). Instances are processed in chunks of [`Real::CHUNK`]: every instruction runs over
//! the whole chunk before the next, so the inner loops are simple and vectorise (AVX-512F or
//! AVX2 builds chosen at run time, never contracting into FMA). All reads of a chunk happen
//! before any of its stores, so a column may be both read and written (a state), exactly as the
//! IR defines a kernel.
//!
//! Truth values are numbers: comparisons give 1 or 0, a select takes its first branch when the
//! condition is not 0, as in C.

mod exp;
mod glibc_exp;

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
    /// Instances evaluated together in this precision (a multiple of the step of 8; 512 bytes
    /// per register either way).
    const CHUNK: usize;
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
    /// `exp` of [`exp::WIDTH`] values at once.
    #[inline(always)]
    fn exp_lanes(x: [Self; exp::WIDTH]) -> [Self; exp::WIDTH] {
        x.map(Self::exp)
    }
}

macro_rules! impl_real {
    ($t:ty, $chunk:expr $(, $extra:item)*) => {
        impl Real for $t {
            $($extra)*
            const CHUNK: usize = $chunk;
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

impl_real!(
    f32,
    128,
    #[inline(always)]
    fn exp_lanes(x: [f32; exp::WIDTH]) -> [f32; exp::WIDTH] {
        exp::exp_f32(x)
    }
);
impl_real!(
    f64,
    64,
    #[inline(always)]
    fn exp_lanes(x: [f64; exp::WIDTH]) -> [f64; exp::WIDTH] {
        match glibc_exp::unwrapped() {
            // SAFETY: a checked `double (double)` function (see `glibc_exp`)
            Some(f) => x.map(|v| unsafe { f(v) }),
            None => x.map(f64::exp),
        }
    }
);

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

    /// Run over all instances: `columns[c][i]` is column `c` of instance `i`. Compiles the
    /// program each time; a caller running it repeatedly keeps a [`Kernel`] and a [`Workspace`].
    pub fn run<T: Real>(&self, columns: &mut [&mut [T]]) -> Result<(), ProgramError> {
        let kernel = self.compile(columns.len())?;
        let n = columns.first().map_or(0, |c| c.len());
        let mut cols: Vec<Column<T>> = columns.iter_mut().map(|c| Column::Direct(c)).collect();
        let mut ws = kernel.workspace();
        kernel.run(&mut ws, &mut cols, n, 1)
    }

    /// The program in the form [`Kernel::run`] executes, for `columns` columns: loads and
    /// constants become operands (no pass of their own), every operand one slot index.
    pub fn compile(&self, columns: usize) -> Result<Kernel, ProgramError> {
        self.check(columns)?;
        let regs = self.registers as usize;
        let mut consts: Vec<f64> = Vec::new();
        // what each register holds now: a register, a constant or a column
        #[derive(Clone, Copy)]
        enum Src {
            Reg(u32),
            Const(u32),
            Col(u32),
        }
        let mut bound: Vec<Src> = (0..self.registers).map(Src::Reg).collect();
        let mut instrs = Vec::with_capacity(self.ops.len());
        let mut read_columns: Vec<u32> = Vec::new();
        // slots are fixed once the constant count is known: record operands symbolically first
        let mut sym: Vec<(Code, u32, [Src; 3])> = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            match *op {
                Op::Const { dst, value } => {
                    let k = match consts.iter().position(|c| c.to_bits() == value.to_bits()) {
                        Some(k) => k,
                        None => {
                            consts.push(value);
                            consts.len() - 1
                        }
                    };
                    bound[dst as usize] = Src::Const(k as u32);
                }
                Op::Read { dst, column } => {
                    if !read_columns.contains(&column) {
                        read_columns.push(column);
                    }
                    bound[dst as usize] = Src::Col(column);
                }
                Op::Unary { dst, op, a } => {
                    let a = bound[a as usize];
                    sym.push((Code::unary(op), dst, [a, a, a]));
                    bound[dst as usize] = Src::Reg(dst);
                }
                Op::Binary { dst, op, a, b } => {
                    let (a, b) = (bound[a as usize], bound[b as usize]);
                    sym.push((Code::binary(op), dst, [a, b, b]));
                    bound[dst as usize] = Src::Reg(dst);
                }
                Op::Select { dst, cond, a, b } => {
                    let (c, a, b) = (bound[cond as usize], bound[a as usize], bound[b as usize]);
                    sym.push((Code::Select, dst, [c, a, b]));
                    bound[dst as usize] = Src::Reg(dst);
                }
            }
        }
        // outputs read registers; a value still in a column or a constant is copied into a
        // fresh register first, so that no output reads a column another output has written
        let mut extra = 0u32;
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for o in &self.outputs {
            let (column, src, add) = match *o {
                Output::Set { column, src } => (column, src, false),
                Output::Add { column, src } => (column, src, true),
            };
            let reg = match bound[src as usize] {
                Src::Reg(r) => r,
                other => {
                    let r = self.registers + extra;
                    extra += 1;
                    sym.push((Code::Copy, r, [other, other, other]));
                    r
                }
            };
            outputs.push(KernelOutput {
                column,
                slot: reg,
                add,
            });
        }
        let regs_total = regs + extra as usize;
        let const_base = regs_total;
        let col_base = const_base + consts.len();
        let slot = |s: Src| -> u32 {
            match s {
                Src::Reg(r) => r,
                Src::Const(k) => (const_base as u32) + k,
                Src::Col(c) => (col_base as u32) + c,
            }
        };
        for (code, dst, [a, b, c]) in sym {
            instrs.push(Instr {
                code,
                d: dst,
                a: slot(a),
                b: slot(b),
                c: slot(c),
                f: 0,
            });
        }
        let instrs = fuse(instrs, &outputs);
        for o in &self.outputs {
            if let Output::Add { column, .. } = *o {
                if !read_columns.contains(&column) {
                    read_columns.push(column);
                }
            }
        }
        read_columns.sort_unstable();
        Ok(Kernel {
            instrs,
            outputs,
            registers: regs_total,
            consts,
            columns,
            read_columns,
        })
    }
}

/// What one instruction computes: the operations of [`UnaryOp`] (operand `a`) and [`BinaryOp`]
/// (`a`, `b`) in one flat list, so that dispatch is one jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
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
    /// `d = a != 0 ? b : c`.
    Select,
    /// `d = (a op₁ b) op₂ c` or `d = c op₂ (a op₁ b)`, op₁ and op₂ among `+ − × ÷` (see [`fuse`]).
    Fused,
    /// `d = a`.
    Copy,
}

impl Code {
    fn unary(op: UnaryOp) -> Code {
        match op {
            UnaryOp::Neg => Code::Neg,
            UnaryOp::Not => Code::Not,
            UnaryOp::Exp => Code::Exp,
            UnaryOp::Log => Code::Log,
            UnaryOp::Log10 => Code::Log10,
            UnaryOp::Fabs => Code::Fabs,
            UnaryOp::Floor => Code::Floor,
            UnaryOp::Ceil => Code::Ceil,
            UnaryOp::Sqrt => Code::Sqrt,
            UnaryOp::Sin => Code::Sin,
            UnaryOp::Cos => Code::Cos,
            UnaryOp::Tan => Code::Tan,
            UnaryOp::Tanh => Code::Tanh,
            UnaryOp::Sinh => Code::Sinh,
            UnaryOp::Cosh => Code::Cosh,
            UnaryOp::Atan => Code::Atan,
            UnaryOp::Asin => Code::Asin,
            UnaryOp::Acos => Code::Acos,
        }
    }

    fn binary(op: BinaryOp) -> Code {
        match op {
            BinaryOp::Add => Code::Add,
            BinaryOp::Sub => Code::Sub,
            BinaryOp::Mul => Code::Mul,
            BinaryOp::Div => Code::Div,
            BinaryOp::Pow => Code::Pow,
            BinaryOp::Atan2 => Code::Atan2,
            BinaryOp::Fmin => Code::Fmin,
            BinaryOp::Fmax => Code::Fmax,
            BinaryOp::Lt => Code::Lt,
            BinaryOp::Le => Code::Le,
            BinaryOp::Gt => Code::Gt,
            BinaryOp::Ge => Code::Ge,
            BinaryOp::Eq => Code::Eq,
            BinaryOp::Ne => Code::Ne,
            BinaryOp::And => Code::And,
            BinaryOp::Or => Code::Or,
        }
    }
}

/// One instruction of a [`Kernel`]: operands are slots (registers, then constants, then
/// columns).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Instr {
    code: Code,
    d: u32,
    a: u32,
    b: u32,
    c: u32,
    /// For [`Code::Fused`]: which pair (see [`fuse`]).
    f: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KernelOutput {
    column: u32,
    /// The register holding the value.
    slot: u32,
    add: bool,
}

/// A [`Program`] compiled for repeated runs (see [`Program::compile`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    instrs: Vec<Instr>,
    outputs: Vec<KernelOutput>,
    registers: usize,
    consts: Vec<f64>,
    /// Columns the kernel was compiled for.
    columns: usize,
    /// Columns the kernel reads (ops, or accumulating outputs).
    read_columns: Vec<u32>,
}

/// Scratch memory for running one [`Kernel`] in one precision: registers, the constants
/// (filled once) and a staging block per column.
pub struct Workspace<T> {
    /// `T::CHUNK` values per slot.
    blocks: Vec<T>,
    /// Per slot, the block each operand reads in the current chunk.
    slots: Vec<*const T>,
}

/// One column of a kernel run: per instance and lane (`instance · width + lane`).
pub enum Column<'a, T> {
    /// The column's own array.
    Direct(&'a mut [T]),
    /// Values of a per-row array: instance `i` uses row `rows[i]` (`rows[i] · width + lane`).
    Rows { data: &'a mut [T], rows: &'a [u32] },
}

impl<T> Column<'_, T> {
    fn fits(&self, instances: usize, width: usize) -> bool {
        match self {
            Column::Direct(d) => d.len() >= instances * width,
            Column::Rows { data, rows } => {
                rows.len() >= instances
                    && rows[..instances]
                        .iter()
                        .all(|&r| (r as usize + 1) * width <= data.len())
            }
        }
    }
}

impl Kernel {
    /// A workspace for this kernel with its constants in place.
    pub fn workspace<T: Real>(&self) -> Workspace<T> {
        let slots = self.registers + self.consts.len() + self.columns;
        let mut blocks = vec![T::ZERO; slots * T::CHUNK];
        for (k, c) in self.consts.iter().enumerate() {
            blocks[(self.registers + k) * T::CHUNK..][..T::CHUNK].fill(T::from_f64(*c));
        }
        Workspace {
            blocks,
            slots: vec![std::ptr::null(); slots],
        }
    }

    /// Run over `instances` instances of `width` lanes each: element `e` of the run is lane
    /// `e % width` of instance `e / width`. `ws` must come from [`Kernel::workspace`] of this
    /// kernel.
    pub fn run<T: Real>(
        &self,
        ws: &mut Workspace<T>,
        columns: &mut [Column<T>],
        instances: usize,
        width: usize,
    ) -> Result<(), ProgramError> {
        if columns.len() != self.columns {
            return Err(ProgramError::BadColumn(columns.len() as u32));
        }
        if ws.blocks.len() != (self.registers + self.consts.len() + self.columns) * T::CHUNK {
            return Err(ProgramError::BadRegister(ws.blocks.len() as u32));
        }
        if width == 0 || columns.iter().any(|c| !c.fits(instances, width)) {
            return Err(ProgramError::Ragged);
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("NO512").is_none() && std::arch::is_x86_feature_detected!("avx512f")
            {
                // SAFETY: the CPU has AVX-512F (just detected); sizes checked above.
                unsafe { self.run_avx512(ws, columns, instances, width) };
                return Ok(());
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (just detected); sizes checked above.
                unsafe { self.run_avx2(ws, columns, instances, width) };
                return Ok(());
            }
        }
        // SAFETY: sizes checked above.
        unsafe { self.run_all(ws, columns, instances, width) };
        Ok(())
    }

    /// [`Kernel::run_all`] compiled for AVX2: wider vectors for the same IEEE operations.
    /// FMA stays off (and Rust never contracts `a * b + c`), so results are bit-identical to the
    /// baseline build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2<T: Real>(
        &self,
        ws: &mut Workspace<T>,
        columns: &mut [Column<T>],
        instances: usize,
        width: usize,
    ) {
        self.run_all(ws, columns, instances, width)
    }

    /// [`Kernel::run_all`] compiled for AVX-512F; as for AVX2, no contraction into FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn run_avx512<T: Real>(
        &self,
        ws: &mut Workspace<T>,
        columns: &mut [Column<T>],
        instances: usize,
        width: usize,
    ) {
        self.run_all(ws, columns, instances, width)
    }

    /// Chunk by chunk: a chunk holds whole instances when `width ≤ T::CHUNK` (else `T::CHUNK` lanes).
    ///
    /// # Safety
    /// Columns and workspace sized as [`Kernel::run`] checks.
    #[inline(always)]
    unsafe fn run_all<T: Real>(
        &self,
        ws: &mut Workspace<T>,
        columns: &mut [Column<T>],
        instances: usize,
        width: usize,
    ) {
        let total = instances * width;
        let chunk = T::CHUNK;
        let step = if width <= chunk {
            (chunk / width) * width
        } else {
            chunk
        };
        let base = ws.blocks.as_mut_ptr();
        let col_base = self.registers + self.consts.len();
        for s in 0..col_base {
            ws.slots[s] = base.add(s * chunk);
        }
        let mut start = 0;
        while start < total {
            let len = step.min(total - start);
            // operands that are columns: the column itself where a whole block lies in it,
            // else a copy in the column's staging block
            for &c in &self.read_columns {
                let c = c as usize;
                let stage = base.add((col_base + c) * chunk);
                ws.slots[col_base + c] = match &columns[c] {
                    Column::Direct(d) => {
                        if start + chunk <= d.len() {
                            d.as_ptr().add(start)
                        } else {
                            copy_run(stage, d.as_ptr().add(start), len);
                            stage
                        }
                    }
                    Column::Rows { data, rows } => {
                        let first = rows[start / width] as usize * width + start % width;
                        if len <= width - start % width && first + chunk <= data.len() {
                            data.as_ptr().add(first)
                        } else {
                            for_runs(start, len, width, rows, |at, from, n| {
                                copy_run(stage.add(at), data.as_ptr().add(from), n);
                            });
                            stage
                        }
                    }
                };
            }
            // whole vectors of the values in use (a short chunk computes only those)
            self.run_chunk(base, &ws.slots, len.div_ceil(STEP) * STEP);
            for o in &self.outputs {
                let src = base.add(o.slot as usize * chunk) as *const T;
                match &mut columns[o.column as usize] {
                    Column::Direct(d) => {
                        let to = d.as_mut_ptr().add(start);
                        store(to, src, len, o.add);
                    }
                    Column::Rows { data, rows } => {
                        let to = data.as_mut_ptr();
                        for_runs(start, len, width, rows, |at, from, n| {
                            store(to.add(from), src.add(at), n, o.add);
                        });
                    }
                }
            }
            start += len;
        }
    }

    /// Every instruction over the first `n` slots of its blocks (`n` a multiple of the vector
    /// width, at most [`Real::CHUNK`]; loops without bounds checks); slots beyond a short chunk's
    /// values hold values whose results are never stored.
    ///
    /// # Safety
    /// `slots` holds a valid block pointer for every slot the instructions name; registers are
    /// the blocks at `base`.
    #[inline(always)]
    unsafe fn run_chunk<T: Real>(&self, base: *mut T, slots: &[*const T], n: usize) {
        let b = |t: bool| if t { T::ONE } else { T::ZERO };
        for ins in &self.instrs {
            let d = base.add(ins.d as usize * T::CHUNK);
            let a = *slots.get_unchecked(ins.a as usize);
            let y = *slots.get_unchecked(ins.b as usize);
            match ins.code {
                Code::Copy => map1(n, d, a, |x: T| x),
                Code::Neg => map1(n, d, a, |x: T| -x),
                Code::Not => map1(n, d, a, |x: T| b(x == T::ZERO)),
                Code::Exp => exp_block(n, d, a),
                Code::Log => map1(n, d, a, |x: T| x.ln()),
                Code::Log10 => map1(n, d, a, |x: T| x.log10()),
                Code::Fabs => map1(n, d, a, |x: T| x.abs()),
                Code::Floor => map1(n, d, a, |x: T| x.floor()),
                Code::Ceil => map1(n, d, a, |x: T| x.ceil()),
                Code::Sqrt => map1(n, d, a, |x: T| x.sqrt()),
                Code::Sin => map1(n, d, a, |x: T| x.sin()),
                Code::Cos => map1(n, d, a, |x: T| x.cos()),
                Code::Tan => map1(n, d, a, |x: T| x.tan()),
                Code::Tanh => map1(n, d, a, |x: T| x.tanh()),
                Code::Sinh => map1(n, d, a, |x: T| x.sinh()),
                Code::Cosh => map1(n, d, a, |x: T| x.cosh()),
                Code::Atan => map1(n, d, a, |x: T| x.atan()),
                Code::Asin => map1(n, d, a, |x: T| x.asin()),
                Code::Acos => map1(n, d, a, |x: T| x.acos()),
                Code::Add => map2(n, d, a, y, |x: T, y: T| x + y),
                Code::Sub => map2(n, d, a, y, |x: T, y: T| x - y),
                Code::Mul => map2(n, d, a, y, |x: T, y: T| x * y),
                Code::Div => map2(n, d, a, y, |x: T, y: T| x / y),
                Code::Pow => map2(n, d, a, y, |x: T, y: T| x.powf(y)),
                Code::Atan2 => map2(n, d, a, y, |x: T, y: T| x.atan2(y)),
                Code::Fmin => map2(n, d, a, y, |x: T, y: T| x.min(y)),
                Code::Fmax => map2(n, d, a, y, |x: T, y: T| x.max(y)),
                Code::Lt => map2(n, d, a, y, |x: T, y: T| b(x < y)),
                Code::Le => map2(n, d, a, y, |x: T, y: T| b(x <= y)),
                Code::Gt => map2(n, d, a, y, |x: T, y: T| b(x > y)),
                Code::Ge => map2(n, d, a, y, |x: T, y: T| b(x >= y)),
                Code::Eq => map2(n, d, a, y, |x: T, y: T| b(x == y)),
                Code::Ne => map2(n, d, a, y, |x: T, y: T| b(x != y)),
                Code::And => map2(n, d, a, y, |x: T, y: T| b(x != T::ZERO && y != T::ZERO)),
                Code::Or => map2(n, d, a, y, |x: T, y: T| b(x != T::ZERO || y != T::ZERO)),
                Code::Fused => {
                    let z = *slots.get_unchecked(ins.c as usize);
                    fused(n, d, a, y, z, ins.f);
                }
                Code::Select => {
                    let x = *slots.get_unchecked(ins.b as usize);
                    let y = *slots.get_unchecked(ins.c as usize);
                    map3(
                        n,
                        d,
                        a,
                        x,
                        y,
                        |c: T, x: T, y: T| if c != T::ZERO { x } else { y },
                    );
                }
            }
        }
    }
}

/// The arithmetic codes a fused pair may combine, in the order of their index in `Instr::f`.
const FUSABLE: [Code; 4] = [Code::Add, Code::Sub, Code::Mul, Code::Div];

/// Merges an arithmetic instruction into the next one when the next is arithmetic too, reads
/// its result as exactly one operand, and nothing reads that result afterwards (a later
/// instruction or an output): one pass over the blocks instead of two, the same operations in
/// the same order, so the same bits. `f = op₁ · 8 + op₂ · 2 + (1 if the result is op₂'s right
/// operand)`; `a`, `b` are op₁'s operands, `c` op₂'s other operand.
fn fuse(instrs: Vec<Instr>, outputs: &[KernelOutput]) -> Vec<Instr> {
    let index = |c: Code| FUSABLE.iter().position(|x| *x == c);
    let reads = |ins: &Instr, r: u32| match ins.code {
        Code::Select | Code::Fused => ins.a == r || ins.b == r || ins.c == r,
        _ => ins.a == r || ins.b == r,
    };
    // whether register `r` is read after position `from` before being written again
    let live_after = |from: usize, r: u32| {
        for ins in &instrs[from..] {
            if reads(ins, r) {
                return true;
            }
            if ins.d == r {
                return false;
            }
        }
        outputs.iter().any(|o| o.slot == r)
    };
    let mut out = Vec::with_capacity(instrs.len());
    let mut k = 0;
    while k < instrs.len() {
        let first = instrs[k];
        if let (Some(op1), Some(next)) = (index(first.code), instrs.get(k + 1)) {
            if let Some(op2) = index(next.code) {
                let r = first.d;
                let right = next.b == r && next.a != r;
                let left = next.a == r && next.b != r;
                if (left || right) && (next.d == r || !live_after(k + 2, r)) {
                    out.push(Instr {
                        code: Code::Fused,
                        d: next.d,
                        a: first.a,
                        b: first.b,
                        c: if left { next.b } else { next.a },
                        f: (op1 * 8 + op2 * 2 + right as usize) as u8,
                    });
                    k += 2;
                    continue;
                }
            }
        }
        out.push(first);
        k += 1;
    }
    out
}

/// One fused pair over a block (see [`fuse`]).
#[inline(always)]
unsafe fn fused<T: Real>(n: usize, d: *mut T, a: *const T, b: *const T, c: *const T, f: u8) {
    macro_rules! pair {
        ($op1:tt, $op2:tt) => {
            if f & 1 == 0 {
                map3(n, d, a, b, c, |x: T, y: T, z: T| (x $op1 y) $op2 z)
            } else {
                map3(n, d, a, b, c, |x: T, y: T, z: T| z $op2 (x $op1 y))
            }
        };
    }
    match f >> 1 {
        0 => pair!(+, +),
        1 => pair!(+, -),
        2 => pair!(+, *),
        3 => pair!(+, /),
        4 => pair!(-, +),
        5 => pair!(-, -),
        6 => pair!(-, *),
        7 => pair!(-, /),
        8 => pair!(*, +),
        9 => pair!(*, -),
        10 => pair!(*, *),
        11 => pair!(*, /),
        12 => pair!(/, +),
        13 => pair!(/, -),
        14 => pair!(/, *),
        _ => pair!(/, /),
    }
}

/// Lanes per step of the element loops: every step loads its operands into locals before it
/// stores, so a destination may be one of its operands.
const STEP: usize = exp::WIDTH;

#[inline(always)]
unsafe fn load<T: Copy>(p: *const T, j: usize) -> [T; STEP] {
    std::ptr::read_unaligned(p.add(j) as *const [T; STEP])
}

#[inline(always)]
unsafe fn map1<T: Real>(n: usize, d: *mut T, a: *const T, f: impl Fn(T) -> T) {
    for j in (0..n).step_by(STEP) {
        let x = load(a, j);
        let r = x.map(&f);
        std::ptr::write_unaligned(d.add(j) as *mut [T; STEP], r);
    }
}

#[inline(always)]
unsafe fn exp_block<T: Real>(n: usize, d: *mut T, a: *const T) {
    for j in (0..n).step_by(STEP) {
        let r = T::exp_lanes(load(a, j));
        std::ptr::write_unaligned(d.add(j) as *mut [T; STEP], r);
    }
}

#[inline(always)]
unsafe fn map2<T: Real>(n: usize, d: *mut T, a: *const T, b: *const T, f: impl Fn(T, T) -> T) {
    for j in (0..n).step_by(STEP) {
        let (x, y) = (load(a, j), load(b, j));
        let mut r = x;
        for k in 0..STEP {
            r[k] = f(x[k], y[k]);
        }
        std::ptr::write_unaligned(d.add(j) as *mut [T; STEP], r);
    }
}

#[inline(always)]
unsafe fn map3<T: Real>(
    n: usize,
    d: *mut T,
    a: *const T,
    b: *const T,
    c: *const T,
    f: impl Fn(T, T, T) -> T,
) {
    for j in (0..n).step_by(STEP) {
        let (x, y, z) = (load(a, j), load(b, j), load(c, j));
        let mut r = x;
        for k in 0..STEP {
            r[k] = f(x[k], y[k], z[k]);
        }
        std::ptr::write_unaligned(d.add(j) as *mut [T; STEP], r);
    }
}

/// `n` values from `src` into `to`, stored or added.
#[inline(always)]
unsafe fn store<T: Real>(to: *mut T, src: *const T, n: usize, add: bool) {
    if add {
        let mut k = 0;
        while k + STEP <= n {
            let (x, y) = (load(to, k), load(src, k));
            let mut r = x;
            for i in 0..STEP {
                r[i] = x[i] + y[i];
            }
            std::ptr::write_unaligned(to.add(k) as *mut [T; STEP], r);
            k += STEP;
        }
        for i in k..n {
            *to.add(i) = *to.add(i) + *src.add(i);
        }
    } else {
        copy_run(to, src, n);
    }
}

/// Copies `n` values in blocks of [`STEP`] (inline: the runs are short, a call would cost more).
#[inline(always)]
unsafe fn copy_run<T: Copy>(to: *mut T, src: *const T, n: usize) {
    let mut k = 0;
    while k + STEP <= n {
        std::ptr::write_unaligned(to.add(k) as *mut [T; STEP], load(src, k));
        k += STEP;
    }
    while k < n {
        *to.add(k) = *src.add(k);
        k += 1;
    }
}

/// The contiguous runs of elements `start..start + len` in a row-indexed array: calls
/// `f(offset in the chunk, index in the array, length)` for each.
#[inline(always)]
fn for_runs(
    start: usize,
    len: usize,
    width: usize,
    rows: &[u32],
    mut f: impl FnMut(usize, usize, usize),
) {
    let mut e = start;
    while e < start + len {
        let (inst, lane) = (e / width, e % width);
        let n = (width - lane).min(start + len - e);
        f(e - start, rows[inst] as usize * width + lane, n);
        e += n;
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
        for n in [0, 1, 63, 64, 127, 128, 3 * 128 + 5] {
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

    /// The test program's `Sub` then `Mul` into the same register become one fused pass, and
    /// the results above are those of the fused kernel; a value still read later is not fused.
    #[test]
    fn arithmetic_pairs_are_fused_only_when_the_first_result_dies() {
        let k = program().compile(6).unwrap();
        let fused: Vec<&Instr> = k.instrs.iter().filter(|i| i.code == Code::Fused).collect();
        assert_eq!(fused.len(), 1, "{:?}", k.instrs);
        // (v - e) * g: Sub (index 1) then Mul (index 2), the difference as Mul's right operand
        assert_eq!(fused[0].f, 8 + 2 * 2 + 1);
        let mut p = program();
        // keep register 0's difference alive: the Mul now writes register 2, read by an output
        p.ops[4] = Op::Binary {
            dst: 2,
            op: BinaryOp::Mul,
            a: 1,
            b: 0,
        };
        p.outputs.push(Output::Set { column: 3, src: 0 });
        let k = p.compile(6).unwrap();
        assert!(
            k.instrs.iter().all(|i| i.code != Code::Fused),
            "{:?}",
            k.instrs
        );
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
