//! The WGSL emitter: turns one mechanism of the IR into one WGSL compute shader module with an
//! entry point per non-empty kernel (`init`, `current`, `state`), in f32.
//!
//! # The kernel ABI (shared with the CPU emitter)
//! A mechanism's data is the set of per-instance *columns* of `crate::ir::abi`, the layout the CPU
//! programs use too. The caller gathers node values (voltage, ion values, geometry) into their
//! columns before a kernel and scatters the written ones back after it.
//!
//! On the GPU an *element* is one (instance, lane) pair, interleaved as
//! `element = instance * lanes_padded + lane`, so that neighbouring threads (lanes) read
//! neighbouring memory. One thread per element. All columns of a block of elements live in one
//! storage buffer `data`, column-major: column `c` of element `e` is `data[c * stride + e]`.
//! The uniform `params` gives the number of elements (`count`, threads beyond it return at once),
//! the column `stride` (at least `count`), and +inf, -inf and NaN (WGSL has no literals for them
//! and rejects constant expressions that produce them). The dispatch may be two-dimensional: the
//! element is `gid.x + gid.y * num_workgroups.x * WORKGROUP_SIZE`.
//!
//! A kernel reads every value it loads first, computes, then stores its writes in the IR's order
//! (`Set` targets are overwritten, current targets are added to), which is the IR's meaning.
//!
//! # Precision
//! Everything is f32: constants are rounded from the IR's f64 once, when emitted. f64 is not used
//! (lavapipe's f64 transcendentals are broken; see the numerics spec). Where WGSL's built-ins
//! differ from C's on parts of the domain the models reach, a helper keeps C's meaning: `pow` of a
//! negative base with an integer exponent, `tanh` of large arguments, `log10`. `exp`, the
//! function every rate uses, is computed by the module itself (`nm_exp`, about 1 ulp) rather than
//! by the device's `exp`, whose required precision (3 + 2|x| ulp) is too loose next to the rate
//! functions' removable singularities and differs between vendors.
//!
//! # Names
//! Values are named after what they hold (`v`, `ek`, `gNaTgbar`) and intermediates after the
//! IR dump's numbering (`t12` is `%12` of the kernel in `crate::ir::dump`). A [`Namer`] keeps
//! every name clear of WGSL keywords, reserved words, predeclared types and built-in functions, and
//! of each other. The text depends only on the IR: emitting twice gives identical bytes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::ir::abi::position;
pub use crate::ir::abi::{columns_of, Column};
use crate::ir::{Binary, Expr, ExprId, Hook, Mechanism, Unary};

/// Threads per workgroup of every generated kernel (one dimension).
pub const WORKGROUP_SIZE: u32 = 64;

/// Binding of the uniform `params` (group 0).
pub const BINDING_PARAMS: u32 = 0;

/// Binding of the column storage buffer `data` (group 0).
pub const BINDING_DATA: u32 = 1;

/// A mechanism as one WGSL module.
#[derive(Clone, Debug, PartialEq)]
pub struct WgslMechanism {
    pub name: String,
    pub columns: Vec<Column>,
    /// The module text.
    pub source: String,
    /// The hooks that have an entry point (those whose kernel writes something), in hook order.
    /// The entry point of a hook is named [`Hook::name`].
    pub entry_points: Vec<Hook>,
}

impl WgslMechanism {
    /// The index of a column, if the mechanism has it.
    pub fn column(&self, c: Column) -> Option<usize> {
        position(&self.columns, c)
    }

    /// Whether the module has an entry point for `hook`.
    pub fn has_entry_point(&self, hook: Hook) -> bool {
        self.entry_points.contains(&hook)
    }
}

/// The name a column's value goes by in the source (before the namer makes it unique).
fn column_stem(m: &Mechanism, c: Column) -> String {
    match c {
        Column::Field(f) => m
            .field(f)
            .map_or_else(|| format!("field{}", f.0), |x| x.name.clone()),
        Column::Ion(i, var) => m
            .ion(i)
            .map_or_else(|| format!("ion{}", i.0), |x| var.nmodl_name(&x.name)),
        Column::Sim(s) => s.name().to_string(),
        Column::Current => "i_membrane".to_string(),
        Column::Conductance => "g_membrane".to_string(),
    }
}

/// WGSL keywords, reserved words, predeclared types and built-in functions: never used as names.
#[rustfmt::skip]
const RESERVED: &[&str] = &[
    // keywords
    "alias", "break", "case", "const", "const_assert", "continue", "continuing", "default",
    "diagnostic", "discard", "else", "enable", "false", "fn", "for", "if", "let", "loop",
    "override", "requires", "return", "struct", "switch", "true", "var", "while",
    // reserved words
    "NULL", "Self", "abstract", "active", "alignas", "alignof", "as", "asm", "asm_fragment",
    "async", "attribute", "auto", "await", "become", "binding_array", "cast", "catch", "class",
    "co_await", "co_return", "co_yield", "coherent", "column_major", "common", "compile",
    "compile_fragment", "concept", "const_cast", "consteval", "constexpr", "constinit", "crate",
    "debugger", "decltype", "delete", "demote", "demote_to_helper", "do", "dynamic_cast", "enum",
    "explicit", "export", "extends", "extern", "external", "fallthrough", "filter", "final",
    "finally", "friend", "from", "fxgroup", "get", "goto", "groupshared", "highp", "impl",
    "implements", "import", "inline", "instanceof", "interface", "layout", "lowp", "macro",
    "macro_rules", "match", "mediump", "meta", "mod", "module", "move", "mut", "mutable",
    "namespace", "new", "nil", "noexcept", "noinline", "nointerpolation", "noperspective", "null",
    "nullptr", "of", "operator", "package", "packoffset", "partition", "pass", "patch",
    "pixelfragment", "precise", "precision", "premerge", "priv", "protected", "pub", "public",
    "readonly", "ref", "regardless", "register", "reinterpret_cast", "require", "resource",
    "restrict", "self", "set", "shared", "sizeof", "smooth", "snorm", "static", "static_assert",
    "static_cast", "std", "subroutine", "super", "target", "template", "this", "thread_local",
    "throw", "trait", "try", "type", "typedef", "typeid", "typename", "typeof", "union", "unless",
    "unorm", "unsafe", "unsized", "use", "using", "varying", "virtual", "volatile", "wgsl",
    "where", "with", "writeonly", "yield",
    // predeclared types and enumerants
    "bool", "f16", "f32", "i32", "u32", "vec2", "vec3", "vec4", "mat2x2", "mat2x3", "mat2x4",
    "mat3x2", "mat3x3", "mat3x4", "mat4x2", "mat4x3", "mat4x4", "array", "atomic", "ptr",
    "sampler", "sampler_comparison", "read", "write", "read_write", "function", "private",
    "workgroup", "uniform", "storage", "handle",
    // built-in functions
    "abs", "acos", "acosh", "all", "any", "arrayLength", "asin", "asinh", "atan", "atan2",
    "atanh", "bitcast", "ceil", "clamp", "cos", "cosh", "countLeadingZeros", "countOneBits",
    "countTrailingZeros", "cross", "degrees", "determinant", "distance", "dot", "exp", "exp2",
    "extractBits", "faceForward", "firstLeadingBit", "firstTrailingBit", "floor", "fma", "fract",
    "frexp", "insertBits", "inverseSqrt", "ldexp", "length", "log", "log2", "max", "min", "mix",
    "modf", "normalize", "pow", "quantizeToF16", "radians", "reflect", "refract", "reverseBits",
    "round", "saturate", "select", "sign", "sin", "sinh", "smoothstep", "sqrt", "step",
    "storageBarrier", "tan", "tanh", "transpose", "trunc", "workgroupBarrier",
    // names of the generated module itself
    "Params", "params", "data", "ld", "gid", "nwg", "e", "init", "current", "state", "nm_pow",
    "nm_tanh", "nm_log10", "nm_exp", "main",
];

/// Hands out identifiers that are valid WGSL, clear of [`RESERVED`] and of every name handed out
/// before, in a deterministic way (the same requests in the same order give the same names).
#[derive(Clone, Debug, Default)]
pub struct Namer {
    used: BTreeSet<String>,
}

impl Namer {
    pub fn new() -> Namer {
        Namer::default()
    }

    /// A fresh name as close to `wanted` as allowed: characters outside `[A-Za-z0-9_]` become
    /// `_`; a name that is empty, starts with a digit or with `__`, or is `_` gets an `x` in
    /// front; a taken or reserved name gets `_1`, `_2`, ... appended.
    pub fn name(&mut self, wanted: &str) -> String {
        let mut base: String = wanted
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if base.is_empty()
            || base.starts_with(|c: char| c.is_ascii_digit())
            || base.starts_with("__")
            || base == "_"
        {
            base.insert(0, 'x');
        }
        let free = |s: &str, used: &BTreeSet<String>| !RESERVED.contains(&s) && !used.contains(s);
        let mut name = base.clone();
        let mut k = 1;
        while !free(&name, &self.used) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used.insert(name.clone());
        name
    }
}

/// An f32 literal for `x` rounded to f32, or `None` when the rounded value is not finite (then the
/// emitted code takes it from `params`).
fn f32_literal(x: f64) -> Option<String> {
    let y = x as f32;
    if !y.is_finite() {
        return None;
    }
    // Rust's Debug form is the shortest text that reads back as the same f32.
    let text = format!("{:?}", y.abs());
    Some(if y.is_sign_negative() {
        format!("(-{text}f)")
    } else {
        format!("{text}f")
    })
}

fn number(x: f64) -> String {
    f32_literal(x).unwrap_or_else(|| {
        let y = x as f32;
        if y.is_nan() {
            "params.nan".to_string()
        } else if y > 0.0 {
            "params.pos_inf".to_string()
        } else {
            "params.neg_inf".to_string()
        }
    })
}

/// Helper functions a kernel may call, emitted only when used, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Helper {
    Exp,
    Pow,
    Tanh,
    Log10,
}

/// The module's own `exp` (emitted when a kernel uses `exp`; it reads `params.pos_inf`).
pub const HELPER_EXP: &str = "\
// exp(x) in f32 to about 1 ulp on every device (Vulkan lets a device's exp be off by 3 + 2|x| ulp;
// lavapipe's reaches 61 ulp near x = -80 and 3.4 ulp near 0, which 1 - exp(x) next to a rate
// function's removable singularity turns into large relative errors). x = n ln2 + r with
// |r| <= ln2/2 (ln2 split in two so that n * ln2_hi is exact), exp(r) by Cephes' expf polynomial,
// times 2^n.
fn nm_exp(x: f32) -> f32 {
    if (x != x) {
        return x;
    }
    if (x > 88.72284f) {
        return params.pos_inf;
    }
    if (x < -103.97208f) {
        return 0.0f;
    }
    let n = floor(x * 1.44269504f + 0.5f);
    let r = (x - n * 0.693359375f) - n * (-2.12194440e-4f);
    let z = r * r;
    var p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    let k = i32(n);
    if (k < -125) {
        // subnormal results: scale in two steps
        return ldexp(ldexp(p, k + 64), -64);
    }
    return ldexp(p, k);
}
";

const HELPER_POW: &str = "\
// C's pow(x, y) in f32: WGSL's pow is undefined for x < 0 and at x = 0; NMODL's `^` is C's pow.
fn nm_pow(x: f32, y: f32) -> f32 {
    if (y == 0.0f) {
        return 1.0f;
    }
    if (x == 1.0f) {
        return 1.0f;
    }
    let ax = abs(x);
    var r = 0.0f;
    if (ax == 0.0f) {
        r = select(params.pos_inf, 0.0f, y > 0.0f);
    } else {
        r = pow(ax, y);
    }
    if (x < 0.0f) {
        if (floor(y) != y) {
            return params.nan;
        }
        // an odd integer exponent keeps the sign (|y| >= 2^24 is always even in f32)
        if (abs(y) < 16777216.0f && (floor(y * 0.5f) * 2.0f != y)) {
            r = -r;
        }
    }
    return r;
}
";

const HELPER_TANH: &str = "\
// tanh without the overflow of exp(2x) for large |x| (tanh(+-9) rounds to +-1 in f32).
fn nm_tanh(x: f32) -> f32 {
    return tanh(clamp(x, -9.0f, 9.0f));
}
";

const HELPER_LOG10: &str = "\
// log10(x) = log2(x) * log10(2).
fn nm_log10(x: f32) -> f32 {
    return log2(x) * 0.30103f;
}
";

/// Emit the WGSL module of `m` (which must be valid: see `crate::ir::validate`).
pub fn emit(m: &Mechanism) -> WgslMechanism {
    let columns = columns_of(m);
    let mut namer = Namer::new();
    // ion columns say so: a mechanism often has both a field `ik` and the ion's `ik`
    let col_const: Vec<String> = columns
        .iter()
        .map(|&c| match c {
            Column::Ion(..) => namer.name(&format!("col_ion_{}", column_stem(m, c))),
            _ => namer.name(&format!("col_{}", column_stem(m, c))),
        })
        .collect();

    // kernels first (they say which helpers are needed), then the module around them
    let mut helpers: BTreeSet<Helper> = BTreeSet::new();
    let mut kernels = String::new();
    let mut entry_points = Vec::new();
    for hook in Hook::ALL {
        if m.kernel(hook).writes.is_empty() {
            continue;
        }
        entry_points.push(hook);
        emit_kernel(
            m,
            hook,
            &columns,
            &col_const,
            &namer,
            &mut helpers,
            &mut kernels,
        );
    }

    let mut s = String::new();
    let _ = writeln!(
        s,
        "// emsweep: mechanism `{}`, generated from the IR (f32). Do not edit.",
        m.name
    );
    s.push_str(
        "// One thread per element = instance * lanes_padded + lane; column c of element e is\n\
         // data[c * params.stride + e].\n\n",
    );
    s.push_str(
        "struct Params {\n    \
         // elements in this block\n    count: u32,\n    \
         // distance between columns [elements], at least count\n    stride: u32,\n    \
         pos_inf: f32,\n    neg_inf: f32,\n    nan: f32,\n    \
         pad0: u32,\n    pad1: u32,\n    pad2: u32,\n}\n\n",
    );
    let _ = writeln!(
        s,
        "@group(0) @binding({BINDING_PARAMS}) var<uniform> params: Params;"
    );
    let _ = writeln!(
        s,
        "@group(0) @binding({BINDING_DATA}) var<storage, read_write> data: array<f32>;\n"
    );
    for (k, (c, name)) in columns.iter().zip(&col_const).enumerate() {
        let _ = writeln!(s, "const {name}: u32 = {k}u; // {}", column_doc(m, *c));
    }
    s.push_str("\nfn ld(c: u32, e: u32) -> f32 {\n    return data[c * params.stride + e];\n}\n");
    for h in &helpers {
        s.push('\n');
        s.push_str(match h {
            Helper::Exp => HELPER_EXP,
            Helper::Pow => HELPER_POW,
            Helper::Tanh => HELPER_TANH,
            Helper::Log10 => HELPER_LOG10,
        });
    }
    s.push_str(&kernels);
    WgslMechanism {
        name: m.name.clone(),
        columns,
        source: s,
        entry_points,
    }
}

fn column_doc(m: &Mechanism, c: Column) -> String {
    match c {
        Column::Field(f) => match m.field(f) {
            Some(x) => {
                let role = match x.role {
                    crate::ir::FieldRole::Parameter => "parameter",
                    crate::ir::FieldRole::Assigned => "assigned",
                    crate::ir::FieldRole::State => "state",
                };
                match &x.unit {
                    Some(u) => format!("field {} ({role}) [{u}]", x.name),
                    None => format!("field {} ({role})", x.name),
                }
            }
            None => format!("field #{}", f.0),
        },
        Column::Ion(i, var) => match m.ion(i) {
            Some(ion) => format!("ion {}", var.nmodl_name(&ion.name)),
            None => format!("ion #{}", i.0),
        },
        Column::Sim(s) => format!("simulator {}", s.name()),
        Column::Current => "membrane current added [mA/cm2]".to_string(),
        Column::Conductance => "membrane conductance added [S/cm2]".to_string(),
    }
}

fn unary_text(op: Unary, a: &str, helpers: &mut BTreeSet<Helper>) -> String {
    let f = match op {
        Unary::Neg => return format!("-{a}"),
        Unary::Not => return format!("!{a}"),
        Unary::Exp => {
            helpers.insert(Helper::Exp);
            "nm_exp"
        }
        Unary::Log => "log",
        Unary::Log10 => {
            helpers.insert(Helper::Log10);
            "nm_log10"
        }
        Unary::Fabs => "abs",
        Unary::Floor => "floor",
        Unary::Ceil => "ceil",
        Unary::Sqrt => "sqrt",
        Unary::Sin => "sin",
        Unary::Cos => "cos",
        Unary::Tan => "tan",
        Unary::Tanh => {
            helpers.insert(Helper::Tanh);
            "nm_tanh"
        }
        Unary::Sinh => "sinh",
        Unary::Cosh => "cosh",
        Unary::Atan => "atan",
        Unary::Asin => "asin",
        Unary::Acos => "acos",
    };
    format!("{f}({a})")
}

fn binary_text(op: Binary, a: &str, b: &str, helpers: &mut BTreeSet<Helper>) -> String {
    let infix = match op {
        Binary::Add => "+",
        Binary::Sub => "-",
        Binary::Mul => "*",
        Binary::Div => "/",
        Binary::Lt => "<",
        Binary::Le => "<=",
        Binary::Gt => ">",
        Binary::Ge => ">=",
        Binary::Eq => "==",
        Binary::Ne => "!=",
        Binary::And => "&&",
        Binary::Or => "||",
        Binary::Pow => {
            helpers.insert(Helper::Pow);
            return format!("nm_pow({a}, {b})");
        }
        Binary::Atan2 => return format!("atan2({a}, {b})"),
        Binary::Fmin => return format!("min({a}, {b})"),
        Binary::Fmax => return format!("max({a}, {b})"),
    };
    format!("{a} {infix} {b}")
}

fn emit_kernel(
    m: &Mechanism,
    hook: Hook,
    columns: &[Column],
    col_const: &[String],
    module_names: &Namer,
    helpers: &mut BTreeSet<Helper>,
    out: &mut String,
) {
    let k = m.kernel(hook);
    let roots: Vec<ExprId> = k.writes.iter().map(|w| w.value).collect();
    let order = m.arena.reachable(roots.iter().copied());
    let pos_of = |id: ExprId| order.binary_search(&id).ok();
    let col_of = |c: Column| position(columns, c).unwrap_or(0);
    let mut namer = module_names.clone();
    // the text each value is referred to by: a literal, or the name of its `let`
    let mut text: Vec<String> = Vec::with_capacity(order.len());
    let mut body = String::new();
    for (n, id) in order.iter().enumerate() {
        let e = *m.arena.get(*id);
        let arg = |c: ExprId, text: &Vec<String>| {
            pos_of(c).map_or_else(|| "params.nan".to_string(), |q| text[q].clone())
        };
        let rhs = match e {
            Expr::Num(x) => {
                text.push(number(x));
                continue;
            }
            Expr::Bool(b) => {
                text.push(b.to_string());
                continue;
            }
            // placeholders never reach a valid kernel; NaN like the CPU emitter
            Expr::Sym(_) => {
                text.push("params.nan".to_string());
                continue;
            }
            Expr::Load(l) => {
                let c = Column::of_load(l);
                let name = namer.name(&column_stem(m, c));
                let _ = writeln!(body, "    let {name} = ld({}, e);", col_const[col_of(c)]);
                text.push(name);
                continue;
            }
            Expr::Unary(op, a) => unary_text(op, &arg(a, &text), helpers),
            Expr::Binary(op, a, b) => binary_text(op, &arg(a, &text), &arg(b, &text), helpers),
            Expr::Select(c, a, b) => format!(
                "select({}, {}, {})",
                arg(b, &text),
                arg(a, &text),
                arg(c, &text)
            ),
        };
        let name = namer.name(&format!("t{n}"));
        let _ = writeln!(body, "    let {name} = {rhs};");
        text.push(name);
    }
    for w in &k.writes {
        let value = pos_of(w.value).map_or_else(|| "params.nan".to_string(), |q| text[q].clone());
        let (c, add) = Column::of_target(w.target);
        let slot = format!("data[{} * params.stride + e]", col_const[col_of(c)]);
        if add {
            let _ = writeln!(body, "    {slot} = {slot} + {value};");
        } else {
            let _ = writeln!(body, "    {slot} = {value};");
        }
    }
    let _ = write!(
        out,
        "\n@compute @workgroup_size({WORKGROUP_SIZE})\n\
         fn {}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {{\n    \
         let e = gid.x + gid.y * nwg.x * {WORKGROUP_SIZE}u;\n    \
         if (e >= params.count) {{\n        return;\n    }}\n{body}}}\n",
        hook.name()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namer_avoids_reserved_words_and_repeats() {
        let mut n = Namer::new();
        assert_eq!(n.name("gbar"), "gbar");
        assert_eq!(n.name("gbar"), "gbar_1");
        assert_eq!(n.name("gbar"), "gbar_2");
        assert_eq!(n.name("let"), "let_1");
        assert_eq!(n.name("exp"), "exp_1");
        assert_eq!(n.name("f32"), "f32_1");
        assert_eq!(n.name("__x"), "x__x");
        assert_eq!(n.name("_"), "x_");
        assert_eq!(n.name("2x"), "x2x");
        assert_eq!(n.name(""), "x");
        assert_eq!(n.name("a.b"), "a_b");
        // a name that equals a suffixed one taken before
        let mut n = Namer::new();
        assert_eq!(n.name("m_1"), "m_1");
        assert_eq!(n.name("m"), "m");
        assert_eq!(n.name("m"), "m_2");
    }

    #[test]
    fn literals_round_trip_through_f32() {
        for x in [
            0.001,
            1e-5,
            18.7,
            -9.7,
            192970.66424662003,
            0.0,
            1e-300,
            3.0e38,
        ] {
            let lit = f32_literal(x).unwrap();
            let t = lit.trim_start_matches("(-").trim_end_matches(')');
            let t = t.trim_end_matches('f');
            let back: f32 = t.parse().unwrap();
            let back = if lit.starts_with("(-") { -back } else { back };
            assert_eq!(back.to_bits(), (x as f32).to_bits(), "{x} -> {lit}");
        }
        assert_eq!(f32_literal(-0.0).as_deref(), Some("(-0.0f)"));
        assert_eq!(f32_literal(1e39), None);
        assert_eq!(number(1e39), "params.pos_inf");
        assert_eq!(number(-1e39), "params.neg_inf");
        assert_eq!(number(f64::NAN), "params.nan");
    }
}
