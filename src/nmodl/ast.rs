//! The NMODL syntax tree, with byte spans into the source for every name, expression and
//! statement.

/// A byte range `[start, end)` of the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start.min(u32::MAX as usize) as u32,
            end: end.min(u32::MAX as usize) as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The source text of the span (empty if it does not fit `src`).
    pub fn text(self, src: &str) -> &str {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }
}

/// A name with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole .mod file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

/// A top-level block.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Neuron(Vec<NeuronStmt>, Span),
    Units(Vec<UnitDef>),
    Constant(Vec<VarDecl>),
    Parameter(Vec<VarDecl>),
    Assigned(Vec<VarDecl>),
    State(Vec<VarDecl>),
    Initial(Block),
    Breakpoint(Block),
    Derivative(Ident, Block),
    Procedure(FuncDef),
    Function(FuncDef),
    /// `DEFINE NAME value`.
    Define(Ident, f64),
    /// Something outside the supported subset: the construct's name and where it is.
    Unsupported(String, Span),
}

/// A statement of the NEURON block.
#[derive(Clone, Debug, PartialEq)]
pub enum NeuronStmt {
    Suffix(Ident),
    PointProcess(Ident),
    ArtificialCell(Ident),
    UseIon {
        ion: Ident,
        read: Vec<Ident>,
        write: Vec<Ident>,
        valence: Option<(f64, Span)>,
    },
    NonspecificCurrent(Vec<Ident>),
    Range(Vec<Ident>),
    Global(Vec<Ident>),
    ThreadSafe,
    Unsupported(String, Span),
}

/// A declaration in PARAMETER, ASSIGNED, STATE or CONSTANT.
#[derive(Clone, Debug, PartialEq)]
pub struct VarDecl {
    pub name: Ident,
    /// `= value` as written (with its sign).
    pub value: Option<(f64, Span)>,
    pub unit: Option<String>,
    /// `<lo, hi>`.
    pub limits: Option<(f64, f64)>,
    /// `FROM lo TO hi` (STATE).
    pub from_to: Option<(f64, f64)>,
}

/// A line of the UNITS block.
#[derive(Clone, Debug, PartialEq)]
pub enum UnitDef {
    /// `(name) = (definition)`.
    Alias {
        name: String,
        definition: String,
        span: Span,
    },
    /// `NAME = (unit) (unit)`: a physical constant expressed in a unit.
    Factor {
        name: Ident,
        from: String,
        to: String,
        span: Span,
    },
    /// `NAME = number (unit)`.
    Value {
        name: Ident,
        value: f64,
        unit: Option<String>,
    },
}

/// FUNCTION or PROCEDURE.
#[derive(Clone, Debug, PartialEq)]
pub struct FuncDef {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Local(Vec<Ident>),
    Assign(Ident, Expr),
    /// `x' = expr`.
    Derivative(Ident, Expr),
    /// A call used as a statement.
    Call(Ident, Vec<Expr>),
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    /// A nested `{ ... }`.
    Block(Block),
    Solve {
        name: Ident,
        method: Option<Ident>,
    },
    Table(TableStmt),
    /// A statement without effect on the numbers (`printf`), skipped with a warning.
    Ignored(String),
    Unsupported(String),
}

/// `TABLE names DEPEND names FROM lo TO hi WITH n`, kept as written.
#[derive(Clone, Debug, PartialEq)]
pub struct TableStmt {
    pub names: Vec<Ident>,
    pub depend: Vec<Ident>,
    pub from: String,
    pub to: String,
    pub with: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Num(f64),
    Name(String),
    Call(Ident, Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Visit every sub-expression (this one included), parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            match &e.kind {
                ExprKind::Num(_) | ExprKind::Name(_) => {}
                ExprKind::Call(_, args) => stack.extend(args.iter().rev()),
                ExprKind::Unary(_, a) => stack.push(a),
                ExprKind::Binary(_, a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
            }
        }
    }
}
