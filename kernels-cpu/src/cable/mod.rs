//! The cable equation of NEURON's fixed step for many cells (lanes) at once: the tree matrix in
//! NEURON's row units, its Hines solve, and the voltage update around it.
//!
//! # The matrix
//! One unknown per node, `dv` [mV], the change of membrane potential over the step. Nodes form a
//! tree ([`Tree`]): node 0 is the root, every other node `i` has one parent `p < i`. Row `i`
//! holds the diagonal `d[i]` and `b[i]` in column `p`; row `p` holds `a[i]` in column `i`
//! (NEURON's `NODEB`, below the diagonal, and `NODEA`, above it):
//!
//! ```text
//!   row p:  ... d[p] dv[p] + a[i] dv[i] ...          = rhs[p]
//!   row i:      b[i] dv[p] + d[i] dv[i] + Σ_children = rhs[i]
//! ```
//!
//! # Units (NEURON's, reproduced so that rounding follows NEURON's)
//! Each row is scaled by its node's area. A node with membrane (area > 0) has its row in
//! current density: `rhs` [mA/cm²], `d`, `a`, `b` [mA/cm²/mV = S/cm²]. A zero-area node (a
//! section end) has no membrane; NEURON gives it the dimensionless "area" 100
//! ([`ZERO_AREA_ROW_UM2`]) so that the same formulas put its row in absolute units: `rhs` [nA],
//! `d`, `a`, `b` [nA/mV = µS]. With `g` [µS] the axial conductance between `i` and `p` and
//! `A'` the row area (the area in µm², or 100 for a zero-area node):
//!
//! ```text
//!   a[i] = −100 · g / A'[p]      (effect of dv[i] on the parent's row, parent's row units)
//!   b[i] = −100 · g / A'[i]      (effect of dv[p] on row i, row i's units)
//! ```
//!
//! where 100 converts µS/µm² to S/cm² (1 µS/µm² = 10⁻⁶ S / 10⁻⁸ cm²). A point current `I` [nA]
//! at node `i` enters `rhs[i]` as `I · 100 / A'[i]` ([`na_to_row_units`]).
//!
//! # One fixed step ([`cable_step`], NEURON's `setup_tree_matrix` + `nrn_solve` + update)
//! On entry `rhs` and `d` hold the mechanisms' contributions (`rhs = −Σ i_membrane + electrode
//! currents`, `d = Σ di/dv`), in the row units above. Then, in NEURON's order of additions:
//! 1. `d += 10⁻³ · cm / dt` at nodes with membrane ([`add_capacitance`]);
//! 2. axial terms: `rhs[i] −= b[i]·(v[p] − v[i])`, `rhs[p] += a[i]·(v[p] − v[i])`,
//!    `d[i] −= b[i]`, `d[p] −= a[i]`, for `i` ascending ([`add_axial`]);
//! 3. Hines solve: `rhs` becomes `dv` [mV] ([`hines_solve`]);
//! 4. `v += dv` ([`add_dv`]).
//!
//! This is backward Euler on `cm dv/dt = −i_membrane + axial`, linearised about the old `v`.
//!
//! # Layout
//! Every per-node array holds all lanes interleaved: `index = node · lanes + lane`, where
//! `lanes` is the padded lane count (the row stride). Lanes are independent systems: a lane's
//! result never depends on another lane's values, and is bit-identical to solving that lane
//! alone (each lane sees the same sequence of IEEE operations). The inner loops run over the
//! lanes of one row, on contiguous slices, so the compiler vectorises across lanes. Padding
//! lanes are solved too: give them a solvable system (e.g. a copy of a real lane).

#[cfg(test)]
mod tests;

use crate::Real;
use std::fmt;

/// The "area" [µm², dimensionless in effect] NEURON gives zero-area nodes so that their rows
/// come out in absolute units (nA, µS) instead of densities.
pub const ZERO_AREA_ROW_UM2: f64 = 100.0;

/// Converts µS/µm² to S/cm² (and nA/µm² to mA/cm²): 10⁻⁶ / 10⁻⁸.
pub const S_CM2_PER_US_UM2: f64 = 100.0;

/// Converts µF/cm²/ms to S/cm²: 10⁻⁶ F / 10⁻³ s = 10⁻³ S.
pub const S_CM2_PER_UF_CM2_MS: f64 = 1e-3;

/// A structural problem with the inputs of the cable set-up (a caller's data, not user input,
/// but reported rather than panicking).
#[derive(Clone, Debug, PartialEq)]
pub enum CableError {
    /// The tree has no nodes.
    EmptyTree,
    /// Node 0 must be the root (no parent).
    RootHasParent,
    /// A node other than 0 has no parent (one tree per lane).
    SecondRoot { node: usize },
    /// A parent must come before its child.
    ParentNotBefore { node: usize, parent: usize },
    /// A per-node array has the wrong length.
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A value that must be finite and non-negative (positive for axial conductances) is not.
    BadValue {
        what: &'static str,
        node: usize,
        value: f64,
    },
    /// The lane count must be at least 1.
    NoLanes,
}

impl fmt::Display for CableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CableError::EmptyTree => write!(f, "the cell has no nodes"),
            CableError::RootHasParent => write!(f, "node 0 must be the root"),
            CableError::SecondRoot { node } => write!(f, "node {node} has no parent"),
            CableError::ParentNotBefore { node, parent } => {
                write!(
                    f,
                    "node {node} has parent {parent}, which does not precede it"
                )
            }
            CableError::Length {
                what,
                expected,
                got,
            } => write!(f, "{what}: {got} values, expected {expected}"),
            CableError::BadValue { what, node, value } => {
                write!(f, "{what} of node {node} is {value}")
            }
            CableError::NoLanes => write!(f, "no lanes"),
        }
    }
}

impl std::error::Error for CableError {}

/// The node tree of one cell, shared by all lanes: node 0 the root, `parent(i) < i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    /// Parent of each node; entry 0 (the root) is 0 and unused.
    parent: Vec<u32>,
}

impl Tree {
    /// Builds a tree from each node's parent (`None` for node 0 only).
    pub fn new(parents: &[Option<u32>]) -> Result<Tree, CableError> {
        let (first, rest) = parents.split_first().ok_or(CableError::EmptyTree)?;
        if first.is_some() {
            return Err(CableError::RootHasParent);
        }
        let mut parent = Vec::with_capacity(parents.len());
        parent.push(0);
        for (i, p) in rest.iter().enumerate() {
            let node = i + 1;
            let p = p.ok_or(CableError::SecondRoot { node })?;
            if p as usize >= node {
                return Err(CableError::ParentNotBefore {
                    node,
                    parent: p as usize,
                });
            }
            parent.push(p);
        }
        Ok(Tree { parent })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Always false: a tree has its root.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Parent of node `i` (`None` for the root).
    pub fn parent(&self, i: usize) -> Option<usize> {
        (i > 0).then(|| self.parent[i] as usize)
    }
}

/// The area [µm²] that scales a node's row: its membrane area, or [`ZERO_AREA_ROW_UM2`] for a
/// zero-area node.
pub fn row_area_um2(area_um2: f64) -> f64 {
    if area_um2 > 0.0 {
        area_um2
    } else {
        ZERO_AREA_ROW_UM2
    }
}

/// The factor [row units / nA] that turns a point current in nA into node `i`'s row units:
/// mA/cm² per nA for a node with membrane, 1 for a zero-area node (NEURON's `100 / area`).
pub fn na_to_row_units(area_um2: f64) -> f64 {
    S_CM2_PER_US_UM2 / row_area_um2(area_um2)
}

/// The off-diagonal coefficients of one cell, per node (entry 0, the root's, is 0).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCoefficients {
    /// `a[i]`: coefficient of `dv[i]` in the parent's row [S/cm², or µS if the parent has no
    /// area] (NEURON's `NODEA`; negative).
    pub a: Vec<f64>,
    /// `b[i]`: coefficient of `dv[parent]` in row `i` [S/cm², or µS if node `i` has no area]
    /// (NEURON's `NODEB`; negative).
    pub b: Vec<f64>,
}

impl NodeCoefficients {
    /// NEURON's `connection_coef`: from the axial conductance to the parent `g_axial_us[i]`
    /// [µS] (ignored for the root) and the membrane area `area_um2[i]` [µm²] (0 for a
    /// zero-area node) of every node.
    pub fn from_geometry(
        tree: &Tree,
        g_axial_us: &[f64],
        area_um2: &[f64],
    ) -> Result<NodeCoefficients, CableError> {
        let n = tree.len();
        for (what, xs) in [("g_axial_us", g_axial_us), ("area_um2", area_um2)] {
            if xs.len() != n {
                return Err(CableError::Length {
                    what,
                    expected: n,
                    got: xs.len(),
                });
            }
        }
        for (node, &value) in area_um2.iter().enumerate() {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CableError::BadValue {
                    what: "area_um2",
                    node,
                    value,
                });
            }
        }
        let mut a = vec![0.0; n];
        let mut b = vec![0.0; n];
        for i in 1..n {
            let g = g_axial_us[i];
            if !(g.is_finite() && g > 0.0) {
                return Err(CableError::BadValue {
                    what: "g_axial_us",
                    node: i,
                    value: g,
                });
            }
            let p = tree.parent[i] as usize;
            // Same operations as NEURON: (−100 · g) / area.
            a[i] = -S_CM2_PER_US_UM2 * g / row_area_um2(area_um2[p]);
            b[i] = -S_CM2_PER_US_UM2 * g / row_area_um2(area_um2[i]);
        }
        Ok(NodeCoefficients { a, b })
    }
}

/// The axial part of the matrix for a batch of lanes: the tree and the interleaved `a`, `b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cable<R> {
    tree: Tree,
    lanes: usize,
    /// `a[node · lanes + lane]` (see [`NodeCoefficients::a`]).
    a: Vec<R>,
    /// `b[node · lanes + lane]` (see [`NodeCoefficients::b`]).
    b: Vec<R>,
}

impl<R: Real> Cable<R> {
    /// All `lanes` lanes (the padded count) with the same coefficients.
    pub fn uniform(tree: Tree, lanes: usize, coef: &NodeCoefficients) -> Result<Self, CableError> {
        if lanes == 0 {
            return Err(CableError::NoLanes);
        }
        let mut cable = Cable {
            a: vec![R::ZERO; tree.len() * lanes],
            b: vec![R::ZERO; tree.len() * lanes],
            tree,
            lanes,
        };
        for lane in 0..lanes {
            cable.set_lane(lane, coef)?;
        }
        Ok(cable)
    }

    /// Sets one lane's coefficients (e.g. a lane with its own axial resistivity).
    ///
    /// # Panics
    /// When `lane >= self.lanes()`.
    pub fn set_lane(&mut self, lane: usize, coef: &NodeCoefficients) -> Result<(), CableError> {
        assert!(lane < self.lanes, "lane {lane} of {}", self.lanes);
        let n = self.tree.len();
        for (what, xs) in [("a", &coef.a), ("b", &coef.b)] {
            if xs.len() != n {
                return Err(CableError::Length {
                    what,
                    expected: n,
                    got: xs.len(),
                });
            }
        }
        for i in 0..n {
            self.a[i * self.lanes + lane] = R::from_f64(coef.a[i]);
            self.b[i * self.lanes + lane] = R::from_f64(coef.b[i]);
        }
        Ok(())
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The padded lane count: the stride between consecutive nodes in every array.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Length of every per-node array of this batch: nodes × lanes.
    pub fn len(&self) -> usize {
        self.tree.len() * self.lanes
    }

    /// Always false.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Interleaved `a` (see [`NodeCoefficients::a`]).
    pub fn a(&self) -> &[R] {
        &self.a
    }

    /// Interleaved `b` (see [`NodeCoefficients::b`]).
    pub fn b(&self) -> &[R] {
        &self.b
    }

    fn check_len(&self, what: &str, xs: &[R]) {
        assert_eq!(
            xs.len(),
            self.len(),
            "{what}: nodes × lanes values expected"
        );
    }
}

/// Row `i` of an interleaved array.
#[inline(always)]
fn row<R>(xs: &[R], lanes: usize, i: usize) -> &[R] {
    &xs[i * lanes..][..lanes]
}

/// Rows `p` and `i` of an interleaved array, both mutable (`p < i`).
#[inline(always)]
fn two_rows<R>(xs: &mut [R], lanes: usize, p: usize, i: usize) -> (&mut [R], &mut [R]) {
    debug_assert!(p < i);
    let (lo, hi) = xs.split_at_mut(i * lanes);
    (&mut lo[p * lanes..][..lanes], &mut hi[..lanes])
}

/// Solves the tree system of every lane in place (NEURON's `triang` then `bksub`).
///
/// On entry `d` holds the diagonal and `rhs` the right-hand side, in the row units of the
/// module doc; on exit `rhs` holds the solution `dv` [mV] and `d` the eliminated diagonal.
///
/// # Panics
/// When `d` or `rhs` does not hold nodes × lanes values.
pub fn hines_solve<R: Real>(cable: &Cable<R>, d: &mut [R], rhs: &mut [R]) {
    cable.check_len("d", d);
    cable.check_len("rhs", rhs);
    let lanes = cable.lanes;
    let parent = &cable.tree.parent;

    // Elimination, children before parents: row p −= (a[i] / d[i]) · row i.
    for i in (1..parent.len()).rev() {
        let p = parent[i] as usize;
        let a = row(&cable.a, lanes, i);
        let b = row(&cable.b, lanes, i);
        let (d_p, d_i) = two_rows(d, lanes, p, i);
        let (r_p, r_i) = two_rows(rhs, lanes, p, i);
        let (d_i, r_i) = (&d_i[..lanes], &r_i[..lanes]);
        for k in 0..lanes {
            let f = a[k] / d_i[k];
            d_p[k] -= f * b[k];
            r_p[k] -= f * r_i[k];
        }
    }

    // Substitution, parents before children.
    for (r, &dd) in rhs[..lanes].iter_mut().zip(&d[..lanes]) {
        *r /= dd;
    }
    for (i, &p) in parent.iter().enumerate().skip(1) {
        let p = p as usize;
        let b = row(&cable.b, lanes, i);
        let d_i = row(d, lanes, i);
        let (r_p, r_i) = two_rows(rhs, lanes, p, i);
        let r_p = &r_p[..lanes];
        for k in 0..lanes {
            r_i[k] -= b[k] * r_p[k];
            r_i[k] /= d_i[k];
        }
    }
}

/// Adds the capacitive term `10⁻³ · cm / dt` [S/cm²] to the diagonal (NEURON's
/// `nrn_cap_jacob`). `cm_uf_cm2` [µF/cm²] is interleaved like `d` and must be 0 at zero-area
/// nodes (which have no capacitance); `dt_ms` [ms] is the step.
pub fn add_capacitance<R: Real>(cable: &Cable<R>, cm_uf_cm2: &[R], dt_ms: f64, d: &mut [R]) {
    cable.check_len("cm_uf_cm2", cm_uf_cm2);
    cable.check_len("d", d);
    // NEURON: cfac = .001 * cj, with cj = 1/dt for the fixed step, in double precision.
    let cfac = R::from_f64(S_CM2_PER_UF_CM2_MS * (1.0 / dt_ms));
    for (dd, &cm) in d.iter_mut().zip(cm_uf_cm2) {
        *dd += cfac * cm;
    }
}

/// Adds the axial currents at the present `v_mv` [mV] to `rhs` and the axial conductances to
/// `d` (NEURON's axial loops of `nrn_rhs` and `nrn_lhs`), in row units.
pub fn add_axial<R: Real>(cable: &Cable<R>, v_mv: &[R], rhs: &mut [R], d: &mut [R]) {
    cable.check_len("v_mv", v_mv);
    cable.check_len("rhs", rhs);
    cable.check_len("d", d);
    let lanes = cable.lanes;
    let parent = &cable.tree.parent;
    for (i, &p) in parent.iter().enumerate().skip(1) {
        let p = p as usize;
        let a = row(&cable.a, lanes, i);
        let b = row(&cable.b, lanes, i);
        let v_p = row(v_mv, lanes, p);
        let v_i = row(v_mv, lanes, i);
        let (r_p, r_i) = two_rows(rhs, lanes, p, i);
        let (d_p, d_i) = two_rows(d, lanes, p, i);
        let (v_p, v_i, d_p, d_i) = (
            &v_p[..lanes],
            &v_i[..lanes],
            &mut d_p[..lanes],
            &mut d_i[..lanes],
        );
        for k in 0..lanes {
            let dv = v_p[k] - v_i[k];
            r_i[k] -= b[k] * dv;
            r_p[k] += a[k] * dv;
            d_i[k] -= b[k];
            d_p[k] -= a[k];
        }
    }
}

/// `v += dv` [mV] (NEURON's `nrn_update_voltage`, first order).
pub fn add_dv<R: Real>(v_mv: &mut [R], dv_mv: &[R]) {
    assert_eq!(v_mv.len(), dv_mv.len(), "v and dv differ in length");
    for (v, &dv) in v_mv.iter_mut().zip(dv_mv) {
        *v += dv;
    }
}

/// One backward-Euler step of the cable equation for every lane (see the module doc).
///
/// Inputs: `rhs` [mA/cm², nA at zero-area nodes] and `d` [S/cm², µS] hold the mechanisms'
/// currents and conductances, `cm_uf_cm2` [µF/cm²] the specific capacitance (0 at zero-area
/// nodes), `dt_ms` [ms] the step, `v_mv` [mV] the membrane potential.
/// Outputs: `v_mv` advanced by one step; `rhs` holds the `dv` [mV] applied; `d` is consumed.
pub fn cable_step<R: Real>(
    cable: &Cable<R>,
    cm_uf_cm2: &[R],
    dt_ms: f64,
    v_mv: &mut [R],
    rhs: &mut [R],
    d: &mut [R],
) {
    add_capacitance(cable, cm_uf_cm2, dt_ms, d);
    add_axial(cable, v_mv, rhs, d);
    hines_solve(cable, d, rhs);
    add_dv(v_mv, rhs);
}
