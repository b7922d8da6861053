//! Tests of the cable module: Hines against a dense solve, physics of passive cables, lane
//! independence, current conservation of the axial terms.

use super::*;
use proptest::prelude::*;

/// A small deterministic generator (SplitMix64) for reproducible random batches.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Log-uniform in [lo, hi].
    fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// A random tree of `n` nodes shaped like a neuron: mostly chains (parent = i − 1), with
/// branches to any earlier node.
fn random_tree(rng: &mut Rng, n: usize) -> Tree {
    let parents: Vec<Option<u32>> = (0..n)
        .map(|i| match i {
            0 => None,
            _ if rng.unit() < 0.75 => Some(i as u32 - 1),
            _ => Some(rng.below(i) as u32),
        })
        .collect();
    Tree::new(&parents).unwrap()
}

/// One cell's values in NEURON's units, with magnitudes like a real cell's at dt = 0.025 ms.
struct CellValues {
    coef: NodeCoefficients,
    /// Membrane part of the diagonal (capacitance and channels) [S/cm²]; 0 at zero-area nodes.
    membrane_s_cm2: Vec<f64>,
    rhs: Vec<f64>,
}

fn random_cell(rng: &mut Rng, tree: &Tree) -> CellValues {
    let n = tree.len();
    // Each node gets a segment of a cylinder: diameter, length and Ra as in real cells (thin
    // axon pieces to thick somata); 15% are zero-area section ends, joined by half a segment.
    let mut area_um2 = vec![0.0; n];
    let mut g_axial_us = vec![0.0; n];
    for i in 0..n {
        let diam_um = rng.log_range(0.2, 10.0);
        let dx_um = rng.log_range(0.5, 60.0);
        let ra_ohm_cm = rng.range(50.0, 300.0);
        let r_megaohm = 1e-2 * ra_ohm_cm * dx_um / (std::f64::consts::PI * diam_um * diam_um / 4.0);
        if i == 0 || rng.unit() < 0.15 {
            g_axial_us[i] = 2.0 / r_megaohm;
        } else {
            area_um2[i] = std::f64::consts::PI * diam_um * dx_um;
            g_axial_us[i] = 1.0 / r_megaohm;
        }
    }
    let coef = NodeCoefficients::from_geometry(tree, &g_axial_us, &area_um2).unwrap();
    let membrane_s_cm2 = area_um2
        .iter()
        .map(|&a| {
            if a > 0.0 {
                1e-3 * rng.range(0.5, 2.0) / 0.025 + rng.log_range(1e-6, 1e-1)
            } else {
                0.0
            }
        })
        .collect();
    let rhs = (0..n).map(|_| rng.range(-1.0, 1.0)).collect();
    CellValues {
        coef,
        membrane_s_cm2,
        rhs,
    }
}

/// The full diagonal of one cell: membrane part minus the off-diagonals of the node's column
/// entries (NEURON's `d −= b[i]`, `d[p] −= a[i]`), making each row diagonally dominant.
fn diagonal(tree: &Tree, c: &CellValues) -> Vec<f64> {
    let mut d = c.membrane_s_cm2.clone();
    for i in 1..tree.len() {
        let p = tree.parent(i).unwrap();
        d[i] -= c.coef.b[i];
        d[p] -= c.coef.a[i];
    }
    d
}

/// The dense matrix of one cell's tree system.
fn dense_matrix(tree: &Tree, coef: &NodeCoefficients, d: &[f64]) -> Vec<Vec<f64>> {
    let n = tree.len();
    let mut m = vec![vec![0.0; n]; n];
    for i in 0..n {
        m[i][i] = d[i];
        if let Some(p) = tree.parent(i) {
            m[i][p] = coef.b[i];
            m[p][i] = coef.a[i];
        }
    }
    m
}

/// `Σ x·y` accurate to about one rounding of the exact sum (Ogita–Rump–Oishi's Dot2: exact
/// products by fused multiply-add, exact sums by TwoSum).
fn dot_accurate(terms: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for (x, y) in terms {
        let p = x * y;
        let pe = x.mul_add(y, -p);
        let t = s + p;
        let z = t - s;
        let se = (s - (t - z)) + (p - z);
        s = t;
        c += pe + se;
    }
    s + c
}

/// The reference solution: dense LU with partial pivoting in f64, then iterative refinement
/// with residuals computed to twice the precision, so the reference is accurate to about one
/// f64 rounding whatever the conditioning (for cond · 2⁻⁵³ ≪ 1).
fn dense_solve(tree: &Tree, coef: &NodeCoefficients, d: &[f64], rhs: &[f64]) -> Vec<f64> {
    let n = tree.len();
    let m = dense_matrix(tree, coef, d);
    // LU in place with row permutation `perm`.
    let mut lu = m.clone();
    let mut perm: Vec<usize> = (0..n).collect();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&x, &y| lu[x][col].abs().total_cmp(&lu[y][col].abs()))
            .unwrap();
        lu.swap(col, piv);
        perm.swap(col, piv);
        for r in col + 1..n {
            let f = lu[r][col] / lu[col][col];
            lu[r][col] = f;
            if f != 0.0 {
                let (upper, lower) = lu.split_at_mut(r);
                for (x, &y) in lower[0][col + 1..].iter_mut().zip(&upper[col][col + 1..]) {
                    *x -= f * y;
                }
            }
        }
    }
    let lu_solve = |b: &[f64]| -> Vec<f64> {
        let mut y: Vec<f64> = perm.iter().map(|&p| b[p]).collect();
        for i in 0..n {
            for k in 0..i {
                y[i] -= lu[i][k] * y[k];
            }
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                y[i] -= lu[i][k] * y[k];
            }
            y[i] /= lu[i][i];
        }
        y
    };
    let mut x = lu_solve(rhs);
    for _ in 0..4 {
        let r: Vec<f64> = (0..n)
            .map(|i| {
                dot_accurate(
                    std::iter::once((rhs[i], 1.0))
                        .chain(m[i].iter().zip(&x).map(|(&a, &xk)| (-a, xk))),
                )
            })
            .collect();
        let dx = lu_solve(&r);
        for (xi, di) in x.iter_mut().zip(dx) {
            *xi += di;
        }
    }
    x
}

/// Interleaves per-lane vectors: `out[node · lanes + lane] = per_lane[lane][node]`.
fn interleave<R: Real>(per_lane: &[Vec<f64>]) -> Vec<R> {
    let lanes = per_lane.len();
    let n = per_lane[0].len();
    let mut out = vec![R::ZERO; n * lanes];
    for (lane, xs) in per_lane.iter().enumerate() {
        for (i, &x) in xs.iter().enumerate() {
            out[i * lanes + lane] = R::from_f64(x);
        }
    }
    out
}

/// Max-norm relative error of lane `lane` of `x` against `reference`.
fn lane_error<R: Real>(x: &[R], lanes: usize, lane: usize, reference: &[f64]) -> f64 {
    let scale = reference.iter().fold(0.0f64, |m, r| m.max(r.abs()));
    let err = reference.iter().enumerate().fold(0.0f64, |m, (i, r)| {
        m.max((x[i * lanes + lane].to_f64() - r).abs())
    });
    err / scale
}

/// Normwise backward error of lane `lane` of `x` as a solution of `m x = rhs`:
/// ‖rhs − m x‖∞ / (‖m‖∞ ‖x‖∞ + ‖rhs‖∞), residual computed accurately.
fn backward_error<R: Real>(m: &[Vec<f64>], rhs: &[f64], x: &[R], lanes: usize, lane: usize) -> f64 {
    let xs: Vec<f64> = (0..rhs.len())
        .map(|i| x[i * lanes + lane].to_f64())
        .collect();
    let inf = |v: &[f64]| v.iter().fold(0.0f64, |acc, y| acc.max(y.abs()));
    let residual: Vec<f64> = (0..rhs.len())
        .map(|i| {
            let terms = m[i].iter().zip(&xs).map(|(&a, &xk)| (-a, xk));
            dot_accurate(std::iter::once((rhs[i], 1.0)).chain(terms))
        })
        .collect();
    let m_norm = m
        .iter()
        .map(|row| row.iter().map(|y| y.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    inf(&residual) / (m_norm * inf(&xs) + inf(rhs))
}

/// Solves a random batch with Hines and every lane densely; returns the worst lane's forward
/// error (max-norm relative, against the dense reference) and backward error.
fn worst_error_vs_dense<R: Real>(rng: &mut Rng, n: usize, lanes: usize) -> (f64, f64) {
    let tree = random_tree(rng, n);
    let cells: Vec<CellValues> = (0..lanes).map(|_| random_cell(rng, &tree)).collect();
    let mut cable = Cable::<R>::uniform(tree.clone(), lanes, &cells[0].coef).unwrap();
    for (lane, c) in cells.iter().enumerate() {
        cable.set_lane(lane, &c.coef).unwrap();
    }
    let diags: Vec<Vec<f64>> = cells.iter().map(|c| diagonal(&tree, c)).collect();
    let mut d = interleave::<R>(&diags);
    let mut rhs = interleave::<R>(&cells.iter().map(|c| c.rhs.clone()).collect::<Vec<_>>());
    hines_solve(&cable, &mut d, &mut rhs);
    let (mut forward, mut backward) = (0.0f64, 0.0f64);
    for (lane, c) in cells.iter().enumerate() {
        // The reference sees the inputs as rounded to R, so only the solve's error counts.
        let rounded =
            |xs: &[f64]| -> Vec<f64> { xs.iter().map(|&x| R::from_f64(x).to_f64()).collect() };
        let coef = NodeCoefficients {
            a: rounded(&c.coef.a),
            b: rounded(&c.coef.b),
        };
        let (d, b) = (rounded(&diags[lane]), rounded(&c.rhs));
        let x = dense_solve(&tree, &coef, &d, &b);
        forward = forward.max(lane_error(&rhs, lanes, lane, &x));
        let m = dense_matrix(&tree, &coef, &d);
        backward = backward.max(backward_error(&m, &b, &rhs, lanes, lane));
    }
    (forward, backward)
}

const SIZES: [(usize, usize); 6] = [(1, 3), (2, 1), (7, 5), (50, 13), (196, 8), (400, 4)];

#[test]
fn hines_f64_matches_dense_solve() {
    let mut rng = Rng(1);
    for (n, lanes) in SIZES {
        for _ in 0..4 {
            let (forward, backward) = worst_error_vs_dense::<f64>(&mut rng, n, lanes);
            assert!(
                forward < 1e-12,
                "n {n}, lanes {lanes}: relative error {forward:e}"
            );
            assert!(
                backward < 4.0 * f64::EPSILON,
                "n {n}: backward error {backward:e}"
            );
        }
    }
}

/// f32: measured over these 24 batches, the forward error (max-norm relative) reaches 5.2e-4
/// — the cable's conditioning (axial coupling ≫ capacitance/dt) times f32's 6e-8 rounding —
/// while the backward error stays below one f32 ulp (measured 3.8e-8): the solve is as good
/// as f32 allows. The bounds leave about 4× and 3× room.
const F32_FORWARD_BOUND: f64 = 2e-3;
const F32_BACKWARD_BOUND: f64 = 4.0 * f32::EPSILON as f64;

#[test]
fn hines_f32_matches_dense_solve() {
    let mut rng = Rng(2);
    let (mut forward, mut backward) = (0.0f64, 0.0f64);
    for (n, lanes) in SIZES {
        for _ in 0..4 {
            let (f, b) = worst_error_vs_dense::<f32>(&mut rng, n, lanes);
            forward = forward.max(f);
            backward = backward.max(b);
        }
    }
    println!("f32 Hines vs dense: forward error {forward:e}, backward error {backward:e}");
    assert!(forward < F32_FORWARD_BOUND, "f32 forward error {forward:e}");
    assert!(
        backward < F32_BACKWARD_BOUND,
        "f32 backward error {backward:e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any tree with parent < child and any positive geometry: Hines equals the dense solve.
    #[test]
    fn hines_equals_dense_on_any_tree(
        nodes in prop::collection::vec(
            (0.0..1.0f64, prop::option::of(0.5..5000.0f64), 0.01..500.0f64, 1e-4..50.0f64, -1.0..1.0f64),
            1..120,
        ),
        lanes in 1usize..6,
    ) {
        let parents: Vec<Option<u32>> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (i > 0).then_some((n.0 * i as f64) as u32))
            .collect();
        let tree = Tree::new(&parents).unwrap();
        let area: Vec<f64> = nodes.iter().map(|n| n.1.unwrap_or(0.0)).collect();
        // Without any membrane the matrix is singular (a pure Laplacian).
        prop_assume!(area.iter().any(|&a| a > 0.0));
        let g: Vec<f64> = nodes.iter().map(|n| n.2).collect();
        let coef = NodeCoefficients::from_geometry(&tree, &g, &area).unwrap();
        let cell = CellValues {
            membrane_s_cm2: nodes
                .iter()
                .map(|n| if n.1.is_some() { n.3 } else { 0.0 })
                .collect(),
            rhs: nodes.iter().map(|n| n.4).collect(),
            coef: coef.clone(),
        };
        let d = diagonal(&tree, &cell);
        let reference = dense_solve(&tree, &coef, &d, &cell.rhs);
        // Lane `l` solves the system scaled by (l + 1): the same solution.
        let cable = Cable::<f64>::uniform(tree.clone(), lanes, &coef).unwrap();
        let scaled = |xs: &[f64]| -> Vec<Vec<f64>> {
            (0..lanes).map(|l| xs.iter().map(|x| x * (l + 1) as f64).collect()).collect()
        };
        let mut dd = interleave::<f64>(&vec![d.clone(); lanes]);
        let mut rhs = interleave::<f64>(&scaled(&cell.rhs));
        hines_solve(&cable, &mut dd, &mut rhs);
        for lane in 0..lanes {
            let scaled_ref: Vec<f64> = reference.iter().map(|x| x * (lane + 1) as f64).collect();
            let e = lane_error(&rhs, lanes, lane, &scaled_ref);
            prop_assert!(e < 1e-12, "lane {} error {:e}", lane, e);
        }
    }
}

/// One batch prepared for `cable_step`: membrane terms, cm, v, all interleaved.
#[derive(Clone)]
struct StepBatch<R> {
    cable: Cable<R>,
    cm: Vec<R>,
    v: Vec<R>,
    rhs: Vec<R>,
    d: Vec<R>,
}

fn random_step_batch<R: Real>(rng: &mut Rng, tree: &Tree, lanes: usize) -> StepBatch<R> {
    let cells: Vec<CellValues> = (0..lanes).map(|_| random_cell(rng, tree)).collect();
    let mut cable = Cable::<R>::uniform(tree.clone(), lanes, &cells[0].coef).unwrap();
    for (lane, c) in cells.iter().enumerate() {
        cable.set_lane(lane, &c.coef).unwrap();
    }
    let per = |f: &mut dyn FnMut(&CellValues, usize) -> f64| -> Vec<Vec<f64>> {
        cells
            .iter()
            .map(|c| (0..tree.len()).map(|i| f(c, i)).collect())
            .collect()
    };
    let cm = per(&mut |c, i| if c.membrane_s_cm2[i] > 0.0 { 1.0 } else { 0.0 });
    let v = per(&mut |_, _| rng.range(-80.0, 20.0));
    let rhs = per(&mut |c, i| c.rhs[i]);
    let d = per(&mut |c, i| c.membrane_s_cm2[i]);
    StepBatch {
        cable,
        cm: interleave(&cm),
        v: interleave(&v),
        rhs: interleave(&rhs),
        d: interleave(&d),
    }
}

impl<R: Real> StepBatch<R> {
    fn step(&mut self, dt_ms: f64) {
        cable_step(
            &self.cable,
            &self.cm,
            dt_ms,
            &mut self.v,
            &mut self.rhs,
            &mut self.d,
        );
    }

    /// Lane `lane` alone, as a batch of one lane.
    fn lane(&self, lane: usize) -> StepBatch<R> {
        let lanes = self.cable.lanes();
        let pick = |xs: &[R]| -> Vec<R> { xs.iter().skip(lane).step_by(lanes).copied().collect() };
        let n = self.cable.tree().len();
        let coef = NodeCoefficients {
            a: pick(self.cable.a()).iter().map(|x| x.to_f64()).collect(),
            b: pick(self.cable.b()).iter().map(|x| x.to_f64()).collect(),
        };
        assert_eq!(coef.a.len(), n);
        StepBatch {
            cable: Cable::uniform(self.cable.tree().clone(), 1, &coef).unwrap(),
            cm: pick(&self.cm),
            v: pick(&self.v),
            rhs: pick(&self.rhs),
            d: pick(&self.d),
        }
    }
}

/// Bit patterns of lane `lane` of every output array.
fn lane_bits<R: Real>(b: &StepBatch<R>, lane: usize) -> Vec<u64> {
    let lanes = b.cable.lanes();
    [&b.v, &b.rhs, &b.d]
        .iter()
        .flat_map(|xs| xs.iter().skip(lane).step_by(lanes))
        .map(|x| x.to_f64().to_bits())
        .collect()
}

fn lane_invariance<R: Real>(seed: u64) {
    let mut rng = Rng(seed);
    let tree = random_tree(&mut rng, 97);
    let lanes = 11;
    let batch = random_step_batch::<R>(&mut rng, &tree, lanes);
    for lane in [0, 4, lanes - 1] {
        // The lane alone, as a batch of one.
        let mut alone = batch.lane(lane);
        alone.step(0.025);
        let want = lane_bits(&alone, 0);
        assert!(want.iter().all(|&b| f64::from_bits(b).is_finite()));

        // The lane in its own batch.
        let mut original = batch.clone();
        original.step(0.025);
        assert_eq!(lane_bits(&original, lane), want, "lane {lane} in its batch");

        // The lane among other values, some of them garbage (zero diagonals, huge v).
        let mut mixed = random_step_batch::<R>(&mut rng, &tree, lanes);
        for x in mixed.d.iter_mut().skip(3).step_by(7) {
            *x = R::ZERO;
        }
        for x in mixed.v.iter_mut().step_by(5) {
            *x = R::from_f64(1e30);
        }
        let single = batch.lane(lane);
        let coef = NodeCoefficients {
            a: single.cable.a().iter().map(|x| x.to_f64()).collect(),
            b: single.cable.b().iter().map(|x| x.to_f64()).collect(),
        };
        mixed.cable.set_lane(lane, &coef).unwrap();
        for i in 0..tree.len() {
            let k = i * lanes + lane;
            mixed.cm[k] = single.cm[i];
            mixed.v[k] = single.v[i];
            mixed.rhs[k] = single.rhs[i];
            mixed.d[k] = single.d[i];
        }
        mixed.step(0.025);
        assert_eq!(
            lane_bits(&mixed, lane),
            want,
            "lane {lane} among other lanes"
        );
    }
}

#[test]
fn lanes_are_independent_and_bit_identical_f64() {
    lane_invariance::<f64>(3);
}

#[test]
fn lanes_are_independent_and_bit_identical_f32() {
    lane_invariance::<f32>(4);
}

/// A uniform cylinder as NEURON discretises it: node 0 the zero-area x = 0 end, nodes 1..=nseg
/// the segment centres, node nseg + 1 the zero-area x = 1 end. Returns the tree and, per node,
/// g_axial [µS] and area [µm²].
fn cylinder(
    nseg: usize,
    length_um: f64,
    diam_um: f64,
    ra_ohm_cm: f64,
) -> (Tree, Vec<f64>, Vec<f64>) {
    let n = nseg + 2;
    let parents: Vec<Option<u32>> = (0..n).map(|i| (i > 0).then(|| i as u32 - 1)).collect();
    let dx = length_um / nseg as f64;
    // Half a segment's axial resistance [MΩ]: Ra·(dx/2)/(π d²/4), with 10⁻² for the units
    // (Ω·cm·µm/µm² = 10⁴ Ω = 10⁻² MΩ).
    let r_half = 1e-2 * ra_ohm_cm * (dx / 2.0) / (std::f64::consts::PI * diam_um * diam_um / 4.0);
    let g: Vec<f64> = (0..n)
        .map(|i| match i {
            0 => 0.0,
            1 => 1.0 / r_half,
            _ if i == n - 1 => 1.0 / r_half,
            _ => 1.0 / (2.0 * r_half),
        })
        .collect();
    let seg_area = std::f64::consts::PI * diam_um * dx;
    let area: Vec<f64> = (0..n)
        .map(|i| if i == 0 || i == n - 1 { 0.0 } else { seg_area })
        .collect();
    (Tree::new(&parents).unwrap(), g, area)
}

/// A passive cell (one lane) stepped with `cable_step`: leak g [S/cm²], e [mV], cm 1 µF/cm²,
/// a constant current `i_na` [nA] into node `inject`.
struct Passive<R> {
    cable: Cable<R>,
    area: Vec<f64>,
    g_pas_s_cm2: f64,
    e_pas_mv: f64,
    inject: usize,
    i_na: f64,
    cm: Vec<R>,
    v: Vec<R>,
}

impl<R: Real> Passive<R> {
    fn new(tree: Tree, g_axial: &[f64], area: Vec<f64>, g_pas: f64, e_pas: f64) -> Self {
        let coef = NodeCoefficients::from_geometry(&tree, g_axial, &area).unwrap();
        let n = tree.len();
        Passive {
            cable: Cable::uniform(tree, 1, &coef).unwrap(),
            cm: area
                .iter()
                .map(|&a| R::from_f64(if a > 0.0 { 1.0 } else { 0.0 }))
                .collect(),
            area,
            g_pas_s_cm2: g_pas,
            e_pas_mv: e_pas,
            inject: 0,
            i_na: 0.0,
            v: vec![R::from_f64(e_pas); n],
        }
    }

    /// Mechanism phase (leak and electrode, as NEURON's `nrn_cur`), then the cable step.
    fn step(&mut self, dt_ms: f64) {
        let n = self.v.len();
        let mut rhs = vec![R::ZERO; n];
        let mut d = vec![R::ZERO; n];
        for i in 0..n {
            if self.area[i] > 0.0 {
                let g = R::from_f64(self.g_pas_s_cm2);
                rhs[i] -= g * (self.v[i] - R::from_f64(self.e_pas_mv));
                d[i] += g;
            }
        }
        rhs[self.inject] += R::from_f64(self.i_na * na_to_row_units(self.area[self.inject]));
        cable_step(&self.cable, &self.cm, dt_ms, &mut self.v, &mut rhs, &mut d);
    }
}

/// Steady state of a sealed finite cable under constant current at one end, against the
/// analytic V(x) = I r_a λ cosh((L − x)/λ) / sinh(L/λ) (so V(0) = I · r_a λ coth(L/λ)).
/// The compartmental model is a second-order finite-volume scheme: the error must fall ~100×
/// when segments are 10× shorter.
fn sealed_cable_error<R: Real>(nseg: usize) -> (f64, f64) {
    let (length_um, diam_um, ra, g_pas, e_pas, i_na) = (1000.0, 2.0, 100.0, 5e-5, -70.0, 0.1);
    let (tree, g, area) = cylinder(nseg, length_um, diam_um, ra);
    let mut cell = Passive::<R>::new(tree, &g, area, g_pas, e_pas);
    cell.i_na = i_na;
    // Backward Euler's fixed point is the steady state for any dt; τ = 20 ms, so steps of
    // 1 s shrink every transient by ≥ 51× each.
    for _ in 0..40 {
        cell.step(1000.0);
    }
    // r_a [MΩ/µm] = 10⁻² · 4 Ra / (π d²); λ [µm] = sqrt(d Rm / (4 Ra)) with 10⁴ µm/cm.
    let r_a = 1e-2 * 4.0 * ra / (std::f64::consts::PI * diam_um * diam_um);
    let lambda = (diam_um * (1.0 / g_pas) / (4.0 * ra) * 1e4).sqrt();
    let l = length_um / lambda;
    let r_in = r_a * lambda / l.tanh();
    let analytic =
        |x_um: f64| i_na * r_a * lambda * ((length_um - x_um) / lambda).cosh() / l.sinh();
    let v0 = cell.v[0].to_f64() - e_pas;
    let input_err = (v0 - i_na * r_in).abs() / (i_na * r_in);
    let dx = length_um / nseg as f64;
    let profile_err = (1..=nseg)
        .map(|k| {
            let x = (k as f64 - 0.5) * dx;
            ((cell.v[k].to_f64() - e_pas) - analytic(x)).abs() / analytic(0.0)
        })
        .fold(0.0f64, f64::max);
    (input_err, profile_err)
}

#[test]
fn sealed_cable_reaches_analytic_steady_state() {
    let (e20, p20) = sealed_cable_error::<f64>(20);
    let (e200, p200) = sealed_cable_error::<f64>(200);
    println!(
        "sealed cable: input error {e20:e} (20 seg), {e200:e} (200 seg); profile {p20:e}, {p200:e}"
    );
    // (dx/λ)² = 2.5e-3 at 20 segments: the second-order error is a fraction of that.
    assert!(e20 < 2.5e-3 && p20 < 2.5e-3, "{e20:e} {p20:e}");
    // Error ∝ dx^order: 10× shorter segments divide it by 10^order.
    for (coarse, fine) in [(e20, e200), (p20, p200)] {
        let order = (coarse / fine).log10();
        assert!((1.9..2.1).contains(&order), "convergence order {order}");
    }
    // f32 reaches the same state up to its rounding.
    let (e200_f32, _) = sealed_cable_error::<f32>(200);
    assert!(
        (e200_f32 - e200).abs() < 1e-4,
        "f32 {e200_f32:e} f64 {e200:e}"
    );
}

/// A single isopotential compartment (nseg = 1 between its two zero-area ends) charged by a
/// constant current. With u = v − e, x = h/τ, backward Euler gives exactly
/// u_n = IR (1 − (1 + x)^(−n)). Since (1 + x)^(−n) = e^(−s) · e^(n(x − ln(1 + x)))
/// = e^(−s) (1 + s x / 2 + O(x²)) with s = n x = t/τ, its error against the exact
/// IR (1 − e^(−s)) is IR · s e^(−s) · x / 2 + O(x²), largest at s = 1: IR · h / (2 e τ).
#[test]
fn isopotential_compartment_charges_like_backward_euler() {
    let (area_um2, g_pas, e_pas, i_na, dt) = (1000.0, 1e-4, -65.0, 0.01, 0.025);
    let tree = Tree::new(&[None, Some(0), Some(1)]).unwrap();
    // A short fat soma: large axial conductances to its ends.
    let g = [0.0, 300.0, 300.0];
    let area = vec![0.0, area_um2, 0.0];
    let mut cell = Passive::<f64>::new(tree, &g, area, g_pas, e_pas);
    cell.inject = 1;
    cell.i_na = i_na;
    // R [MΩ] = 1 / (g · A · 10⁻⁸ cm²/µm²) / 10⁶ = 100 / (g A); τ [ms] = cm / g · 10⁻³.
    let r_megaohm = 100.0 / (g_pas * area_um2);
    let tau_ms = 1.0 / g_pas * 1e-3;
    let v_inf = i_na * r_megaohm;
    let x = dt / tau_ms;
    let mut worst_exact = 0.0f64;
    let mut worst_discrete = 0.0f64;
    for n in 1..=2000 {
        cell.step(dt);
        let u = cell.v[1].to_f64() - e_pas;
        let t = n as f64 * dt;
        let discrete = v_inf * (1.0 - (1.0 + x).powi(-n));
        worst_discrete = worst_discrete.max((u - discrete).abs());
        worst_exact = worst_exact.max((v_inf * (1.0 - (-t / tau_ms).exp()) - u).abs());
        // The zero-area ends follow the compartment.
        for end in [0, 2] {
            assert!((cell.v[end].to_f64() - cell.v[1].to_f64()).abs() < 1e-9);
        }
    }
    assert!(worst_discrete < 1e-11 * v_inf, "{worst_discrete:e}");
    let bound = v_inf * x / (2.0 * std::f64::consts::E);
    println!("isopotential: worst error {worst_exact:e} mV, leading-order bound {bound:e} mV");
    assert!(
        worst_exact <= bound * (1.0 + x) && worst_exact >= 0.95 * bound,
        "{worst_exact:e} vs {bound:e}"
    );
}

/// The axial terms move current between nodes without creating any: converted back to nA
/// (row value × A'/100), the rhs contributions of `add_axial` sum to zero.
#[test]
fn axial_terms_conserve_current() {
    let mut rng = Rng(9);
    let tree = random_tree(&mut rng, 150);
    let n = tree.len();
    let area: Vec<f64> = (0..n)
        .map(|i| {
            if i == 0 || rng.unit() < 0.2 {
                0.0
            } else {
                rng.log_range(1.0, 3000.0)
            }
        })
        .collect();
    let g: Vec<f64> = (0..n).map(|_| rng.log_range(0.05, 200.0)).collect();
    let coef = NodeCoefficients::from_geometry(&tree, &g, &area).unwrap();
    let cable = Cable::<f64>::uniform(tree.clone(), 1, &coef).unwrap();
    let v: Vec<f64> = (0..n).map(|_| rng.range(-80.0, 30.0)).collect();
    let mut rhs = vec![0.0; n];
    let mut d = vec![0.0; n];
    super::add_axial(&cable, &v, &mut rhs, &mut d);
    let to_na = |i: usize, x: f64| x * row_area_um2(area[i]) / S_CM2_PER_US_UM2;
    let total: f64 = (0..n).map(|i| to_na(i, rhs[i])).sum();
    let scale: f64 = (0..n).map(|i| to_na(i, rhs[i]).abs()).sum();
    assert!(total.abs() < 1e-12 * scale, "net {total:e} of {scale:e} nA");
    // And each link carries g·(v_p − v_i) nA into node i.
    for i in 1..n {
        let p = tree.parent(i).unwrap();
        let into_i = -coef.b[i] * (v[p] - v[i]);
        assert!((to_na(i, into_i) - g[i] * (v[p] - v[i])).abs() < 1e-9 * g[i] * 200.0);
    }
    // The diagonal is the column sum of conductances: a constant v gives no current.
    let mut rhs0 = vec![0.0; n];
    let mut d0 = vec![0.0; n];
    super::add_axial(&cable, &vec![-65.0; n], &mut rhs0, &mut d0);
    assert!(rhs0.iter().all(|&x| x == 0.0));
    assert_eq!(d0, d);
}

#[test]
fn coefficients_follow_neuron_scaling() {
    // Parent with 50 µm² of membrane, child a zero-area end, 2 µS between them.
    let tree = Tree::new(&[None, Some(0), Some(1)]).unwrap();
    let coef = NodeCoefficients::from_geometry(&tree, &[0.0, 4.0, 2.0], &[0.0, 50.0, 0.0]).unwrap();
    // Root row in µS: a[1] = −4 µS... into the root's row; b[1] in node 1's row [S/cm²]:
    // 4 µS / 50 µm² = 0.08 µS/µm² = 8 S/cm².
    assert_eq!(coef.a[1], -4.0);
    assert_eq!(coef.b[1], -8.0);
    // a[2] in node 1's row: 2 µS / 50 µm² = 4 S/cm²; b[2] in node 2's row [µS].
    assert_eq!(coef.a[2], -4.0);
    assert_eq!(coef.b[2], -2.0);
    assert_eq!(na_to_row_units(50.0), 2.0); // 1 nA over 50 µm² = 2 mA/cm²
    assert_eq!(na_to_row_units(0.0), 1.0);
}

#[test]
fn bad_trees_and_values_are_reported() {
    assert_eq!(Tree::new(&[]), Err(CableError::EmptyTree));
    assert_eq!(Tree::new(&[Some(0)]), Err(CableError::RootHasParent));
    assert_eq!(
        Tree::new(&[None, None]),
        Err(CableError::SecondRoot { node: 1 })
    );
    assert_eq!(
        Tree::new(&[None, Some(0), Some(2)]),
        Err(CableError::ParentNotBefore { node: 2, parent: 2 })
    );
    let tree = Tree::new(&[None, Some(0)]).unwrap();
    assert!(matches!(
        NodeCoefficients::from_geometry(&tree, &[0.0, 0.0], &[0.0, 1.0]),
        Err(CableError::BadValue {
            what: "g_axial_us",
            node: 1,
            ..
        })
    ));
    assert!(matches!(
        NodeCoefficients::from_geometry(&tree, &[0.0, 1.0], &[f64::NAN, 1.0]),
        Err(CableError::BadValue {
            what: "area_um2",
            node: 0,
            ..
        })
    ));
    assert!(matches!(
        NodeCoefficients::from_geometry(&tree, &[1.0], &[0.0, 1.0]),
        Err(CableError::Length { .. })
    ));
    let coef = NodeCoefficients::from_geometry(&tree, &[0.0, 1.0], &[0.0, 1.0]).unwrap();
    assert_eq!(
        Cable::<f32>::uniform(tree, 0, &coef),
        Err(CableError::NoLanes)
    );
}
