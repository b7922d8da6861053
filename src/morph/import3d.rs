//! NEURON's Import3d rules: from the branches a reader found in a file to the sections NEURON
//! instantiates (which sections survive, their names and order, where they attach, and their
//! 3-D points exactly as NEURON stores them).
//!
//! Behaviour reproduced (NEURON 9.0.2, `Import3d_GUI.instantiate` as BluePyOpt calls it):
//! - a non-root section with a single point, or with two points at the same place (within
//!   NEURON's `float_epsilon`, 1e-11 µm), is dropped and its children move to its parent;
//! - sections are named per type in file order (`soma[i]`, `axon[i]`, `dend[i]`, `apic[i]`) and
//!   created type by type (soma, axon, dend, apic), which is the order of the cell's `all` list;
//! - a Neurolucida soma contour becomes one line of 21 points along the contour's principal
//!   axis, with the contour's width across that axis as diameter ([`contour_to_centroid`]);
//! - a one-point root becomes a 3-point cylinder with L = diam;
//! - every coordinate and diameter reaches NEURON printed with `%.8g` and is then stored in
//!   single precision ([`neuron_pt3d_value`]).

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics, LineCol};

use super::{Attachment, Morphology, Pt3d, Section, SectionId, SectionKind, Shape};

/// A branch as a reader hands it over: the points that become the section's 3-D points (the
/// reader has already applied its format's rules about repeated parent points).
#[derive(Clone, Debug, PartialEq)]
pub struct RawSection {
    pub kind: SectionKind,
    /// (x, y, z, diameter) [µm]. For a soma contour: the contour's outline.
    pub points: Vec<[f64; 4]>,
    /// A closed soma outline (Neurolucida `CellBody`), to be turned into a centroid line.
    pub contour: bool,
    /// Index of the parent in [`RawCell::sections`] (always smaller than this section's index).
    pub parent: Option<usize>,
    /// Where on the parent the section attaches (`parent(x)`).
    pub parent_x: f64,
    /// Where the branch starts in the file.
    pub pos: Option<LineCol>,
}

/// A whole file as a reader understood it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawCell {
    pub sections: Vec<RawSection>,
    /// Things NEURON would only print.
    pub warnings: Diagnostics,
}

/// NEURON's `float_epsilon` (hoc_epsilon), used by `Vector.eq`.
const HOC_EPSILON: f64 = 1e-11;

/// The value NEURON stores for a number Import3d passes to `pt3dadd`: printed with `%.8g`, read
/// back as a double, stored as a float.
pub fn neuron_pt3d_value(v: f64) -> f32 {
    hoc_print_8g(v) as f32
}

/// `v` rounded to 8 significant decimal digits, as `printf("%.8g")` followed by `strtod` gives.
pub fn hoc_print_8g(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    // `{:.7e}` prints 8 significant digits, correctly rounded from the exact binary value.
    format!("{v:.7e}").parse::<f64>().unwrap_or(v)
}

/// Turns the raw sections into NEURON's sections (3-D points, names, order, attachments); nseg
/// is left at 1 for the caller to set.
pub fn instantiate(raw: RawCell, path: &Path) -> Result<Morphology, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut warnings = raw.warnings;
    let mut sections = raw.sections;

    // Drop one-point and zero-length two-point sections (never roots), re-attaching children.
    let mut alive: Vec<bool> = vec![true; sections.len()];
    for i in (0..sections.len()).rev() {
        let s = &sections[i];
        if s.parent.is_none() {
            continue;
        }
        let n = s.points.len();
        let drop = if n <= 1 {
            Some("a one-point section")
        } else if n == 2 && same_place(&s.points[0], &s.points[1]) {
            Some("a two-point section of length 0")
        } else {
            None
        };
        if let Some(what) = drop {
            warnings.push(Diagnostic::warning(
                "morph-section-removed",
                path,
                s.pos,
                format!("{what} is removed (as NEURON's Import3d does); its children attach to its parent"),
            ));
            alive[i] = false;
            let (parent, parent_x) = (s.parent, s.parent_x);
            for later in sections.iter_mut().skip(i + 1) {
                if later.parent == Some(i) {
                    later.parent = parent;
                    later.parent_x = parent_x;
                }
            }
        }
    }

    // Exactly one root, and it must be a soma.
    let roots: Vec<usize> = (0..sections.len())
        .filter(|&i| alive[i] && sections[i].parent.is_none())
        .collect();
    match roots.as_slice() {
        [] => diags.push(Diagnostic::error(
            "morph-no-soma",
            path,
            None,
            "the morphology has no sections",
        )),
        [r] if sections[*r].kind != SectionKind::Soma => diags.push(
            Diagnostic::error(
                "morph-no-soma",
                path,
                sections[*r].pos,
                "the morphology has no soma: its tree starts here",
            )
            .with_note("the packages' cells need soma[0] (their stimuli and recordings are there)"),
        ),
        [_] => {}
        [first, rest @ ..] => {
            let mut d = Diagnostic::error(
                "morph-several-trees",
                path,
                sections[*first].pos,
                format!(
                    "the morphology has {} unconnected trees (a cell needs one soma and one tree)",
                    roots.len()
                ),
            );
            for r in rest {
                if let Some(p) = sections[*r].pos {
                    d = d.with_note(format!("another tree starts at line {}", p.line));
                }
            }
            diags.push(d);
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }

    // New ids: kinds in NEURON's creation order, file order within a kind.
    const CREATION_ORDER: [SectionKind; 5] = [
        SectionKind::Soma,
        SectionKind::Axon,
        SectionKind::Basal,
        SectionKind::Apical,
        SectionKind::Myelin,
    ];
    let mut new_id: Vec<Option<SectionId>> = vec![None; sections.len()];
    let mut order: Vec<usize> = Vec::with_capacity(sections.len());
    let mut index_in_kind: Vec<u32> = vec![0; sections.len()];
    for kind in CREATION_ORDER {
        let mut k = 0u32;
        for (i, s) in sections.iter().enumerate() {
            if alive[i] && s.kind == kind {
                new_id[i] = Some(SectionId(order.len() as u32));
                index_in_kind[i] = k;
                k += 1;
                order.push(i);
            }
        }
    }

    let mut out: Vec<Section> = Vec::with_capacity(order.len());
    for &i in &order {
        let s = &mut sections[i];
        let values = if s.contour {
            match contour_to_centroid(&s.points) {
                Ok(v) => v,
                Err(msg) => {
                    diags.push(Diagnostic::error("morph-soma-contour", path, s.pos, msg));
                    continue;
                }
            }
        } else if s.points.len() == 1 {
            sphere_as_cylinder(s.points[0])
        } else {
            std::mem::take(&mut s.points)
        };
        if let Some(bad) = values.iter().find(|p| p.iter().any(|v| !v.is_finite())) {
            diags.push(Diagnostic::error(
                "morph-bad-number",
                path,
                s.pos,
                format!("a point of this section is not a finite number: {bad:?}"),
            ));
            continue;
        }
        if values.iter().any(|p| p[3] < 0.0) {
            diags.push(Diagnostic::error(
                "morph-negative-diameter",
                path,
                s.pos,
                "a point of this section has a negative diameter (NEURON refuses it)",
            ));
            continue;
        }
        let stored: Vec<[f32; 4]> = values
            .iter()
            .map(|p| {
                [
                    neuron_pt3d_value(p[0]),
                    neuron_pt3d_value(p[1]),
                    neuron_pt3d_value(p[2]),
                    neuron_pt3d_value(p[3]),
                ]
            })
            .collect();
        let parent = s.parent.map(|p| Attachment {
            section: new_id[p].expect("a surviving section's parent survives"),
            x: s.parent_x,
        });
        out.push(Section {
            kind: s.kind,
            index: index_in_kind[i],
            parent,
            shape: Shape::Points(Pt3d::section_points(&stored)),
            nseg: 1,
            line: s.pos.map(|p| p.line),
        });
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Morphology {
        path: path.to_path_buf(),
        sections: out,
        warnings,
    })
}

fn same_place(a: &[f64; 4], b: &[f64; 4]) -> bool {
    (0..3).all(|k| a[k] - b[k] < HOC_EPSILON && b[k] - a[k] < HOC_EPSILON)
}

/// Import3d's spherical soma: one point becomes three along x, L = diam.
fn sphere_as_cylinder(p: [f64; 4]) -> Vec<[f64; 4]> {
    let [x, y, z, d] = p;
    vec![[x - d / 2.0, y, z, d], [x, y, z, d], [x + d / 2.0, y, z, d]]
}

/// The centre of a closed outline as Import3d computes it: the outline (its x-y projection for
/// the perimeter) is resampled at 101 points equally spaced along the perimeter, and the centre
/// is their mean. Returns the centre and the resampled x, y, z.
pub fn contour_center(points: &[[f64; 4]]) -> ([f64; 3], [Vec<f64>; 3]) {
    let n = points.len();
    // Cumulative perimeter at each point, from the x-y projection, not closing the loop.
    let mut perim = vec![0.0f64; n];
    for i in 1..n {
        let dx = points[i][0] - points[i - 1][0];
        let dy = points[i][1] - points[i - 1][1];
        let dz = 0.0f64;
        perim[i] = perim[i - 1] + (dx * dx + dy * dy + dz * dz).sqrt();
    }
    let step = perim[n - 1] / 100.0;
    let at: Vec<f64> = (0..101).map(|i| i as f64 * step).collect();
    let mut resampled: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut center = [0.0f64; 3];
    for k in 0..3 {
        let ys: Vec<f64> = points.iter().map(|p| p[k]).collect();
        let v = interpolate(&at, &perim, &ys);
        center[k] = v.iter().fold(0.0, |a, &b| a + b) / v.len() as f64;
        resampled[k] = v;
    }
    (center, resampled)
}

/// NEURON's `Vector.interpolate(xdest, xsrc, ysrc)`: piecewise linear, constant outside the
/// source domain, source intervals of zero or negative width skipped.
fn interpolate(xd: &[f64], xs: &[f64], ys: &[f64]) -> Vec<f64> {
    let nd = xd.len();
    let ns = xs.len();
    let mut yd = vec![0.0f64; nd];
    let mut id = 0usize;
    while id < nd && xd[id] <= xs[0] {
        yd[id] = ys[0];
        id += 1;
    }
    let mut is = 1usize;
    while is < ns && id < nd {
        if xs[is] > xs[is - 1] {
            while xd[id] <= xs[is] {
                let thet = (xd[id] - xs[is - 1]) / (xs[is] - xs[is - 1]);
                yd[id] = (1.0 - thet) * ys[is - 1] + thet * ys[is];
                id += 1;
                if id >= nd {
                    break;
                }
            }
        }
        is += 1;
    }
    while id < nd {
        yd[id] = ys[ns - 1];
        id += 1;
    }
    yd
}

fn dot3(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let mut s = 0.0;
    for k in 0..3 {
        s += a[k] * b[k];
    }
    s
}

/// Import3d's soma from a closed outline (`contour2centroid`): a line of points along the
/// outline's principal axis through its centre, each with the outline's width across the axis
/// (in the plane of the axis and the x-y plane) as diameter. Returns (x, y, z, diam) points.
pub fn contour_to_centroid(points: &[[f64; 4]]) -> Result<Vec<[f64; 4]>, String> {
    if points.len() < 3 {
        return Err(format!(
            "a soma contour needs at least 3 points, this one has {}",
            points.len()
        ));
    }
    let (mean, resampled) = contour_center(points);
    let npts = resampled[0].len();
    let pts: Vec<[f64; 3]> = (0..npts)
        .map(|i| {
            [
                resampled[0][i] - mean[0],
                resampled[1][i] - mean[1],
                resampled[2][i] - mean[2],
            ]
        })
        .collect();
    let mut m = [[0.0f64; 3]; 3];
    for i in 0..3 {
        for j in i..3 {
            let s = pts.iter().fold(0.0, |a, p| a + p[i] * p[j]);
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    let (values, vectors) = symmetric_eigen3(m);
    let imax = first_index_of_max(&values);
    let imin = first_index_of_min(&values);
    let mut major = [vectors[0][imax], vectors[1][imax], vectors[2][imax]];
    // Import3d's sign convention: the largest component (in magnitude) is positive.
    let abs = [major[0].abs(), major[1].abs(), major[2].abs()];
    if major[first_index_of_max(&abs)] < 0.0 {
        for c in &mut major {
            *c = -*c;
        }
    }
    let imid = 3usize.wrapping_sub(imin).wrapping_sub(imax).min(2);
    let mut minor = [vectors[0][imid], vectors[1][imid], 0.0];
    let minor_mag = dot3(&minor, &minor).sqrt();
    let major_mag = dot3(&major, &major).sqrt();
    let ratio = minor_mag / (major_mag + 1e-100);
    if ratio.is_nan() || ratio < 1e-6 {
        return Err(
            "failed to compute the soma centroid from the contour (NEURON fails too)".into(),
        );
    }
    for c in &mut minor {
        *c /= minor_mag;
    }

    let mut d: Vec<f64> = pts.iter().map(|p| dot3(p, &major)).collect();
    let mut rad: Vec<f64> = pts.iter().map(|p| dot3(p, &minor)).collect();
    let imax_d = first_index_of_max(&d);
    d.rotate_left(imax_d);
    rad.rotate_left(imax_d);
    let imin_d = first_index_of_min(&d);
    let mut side2 = d[imin_d..].to_vec();
    let mut rad2 = rad[imin_d..].to_vec();
    d.truncate(imin_d);
    rad.truncate(imin_d);
    d.reverse();
    rad.reverse();
    make_increasing(&mut d, &mut rad);
    make_increasing(&mut side2, &mut rad2);
    if d.is_empty() || side2.is_empty() || d.len() + side2.len() < 4 {
        return Err("the soma contour is degenerate: it has no width across its main axis".into());
    }

    let mut all: Vec<f64> = d.iter().chain(side2.iter()).copied().collect();
    all.sort_by(|a, b| a.total_cmp(b));
    let lo = all[1];
    let hi = all[all.len() - 2];
    let step = (hi - lo) / 20.0;
    if step.is_nan() || step <= 0.0 {
        return Err("the soma contour is degenerate: it has no extent along its main axis".into());
    }
    // Vector.indgen(start, end, step): floor((end - start)/step + 1e-9) + 1 values.
    let count = ((hi - lo) / step + 1e-9).floor() as usize + 1;
    let positions: Vec<f64> = (0..count).map(|i| i as f64 * step + lo).collect();
    let r1 = interpolate(&positions, &d, &rad);
    let r2 = interpolate(&positions, &side2, &rad2);
    let mut out: Vec<[f64; 4]> = positions
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            [
                major[0] * t + mean[0],
                major[1] * t + mean[1],
                major[2] * t + mean[2],
                (r1[i] - r2[i]).abs(),
            ]
        })
        .collect();
    // Avoid zero-diameter ends.
    let n = out.len();
    if n >= 2 {
        out[0][3] = (out[0][3] + out[1][3]) / 2.0;
        out[n - 1][3] = (out[n - 1][3] + out[n - 2][3]) / 2.0;
    }
    Ok(out)
}

/// Import3d's convexity fix: walking from the end, drop every point whose position does not
/// exceed the one before it (re-checking after a removal, as NEURON's loop does).
fn make_increasing(d: &mut Vec<f64>, rad: &mut Vec<f64>) {
    if d.is_empty() {
        return;
    }
    let mut j = d.len() as isize - 1;
    while j > 0 {
        let ju = j as usize;
        if d[ju] <= d[ju - 1] {
            d.remove(ju);
            rad.remove(ju);
            if ju != d.len() {
                j += 1;
            }
        }
        j -= 1;
    }
}

fn first_index_of_max(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn first_index_of_min(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x < v[best] {
            best = i;
        }
    }
    best
}

/// Eigenvalues and unit eigenvectors (as columns) of a symmetric 3×3 matrix, by cyclic Jacobi
/// rotations (accurate to rounding for well-separated eigenvalues).
pub fn symmetric_eigen3(mut a: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _sweep in 0..100 {
        let off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
        if off == 0.0 {
            break;
        }
        for (p, q) in [(0usize, 1usize), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            // A <- J^T A J with J the rotation in the (p, q) plane.
            for row in a.iter_mut() {
                let (akp, akq) = (row[p], row[q]);
                row[p] = c * akp - s * akq;
                row[q] = s * akp + c * akq;
            }
            let (rp, rq) = (a[p], a[q]);
            a[p] = std::array::from_fn(|k| c * rp[k] - s * rq[k]);
            a[q] = std::array::from_fn(|k| s * rp[k] + c * rq[k]);
            for row in &mut v {
                let vkp = row[p];
                let vkq = row[q];
                row[p] = c * vkp - s * vkq;
                row[q] = s * vkp + c * vkq;
            }
        }
    }
    ([a[0][0], a[1][1], a[2][2]], v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::morph::Section;

    #[test]
    fn eigen_of_a_rotated_diagonal_matrix() {
        // R diag(5, 2, 1) R^T with R a rotation about z by 30 degrees.
        let (s, c) = (0.5f64, 3f64.sqrt() / 2.0);
        let r = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let dvals = [5.0, 2.0, 1.0];
        let mut m = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                for k in 0..3 {
                    m[i][j] += r[i][k] * dvals[k] * r[j][k];
                }
            }
        }
        let (vals, vecs) = symmetric_eigen3(m);
        let imax = first_index_of_max(&vals);
        assert!((vals[imax] - 5.0).abs() < 1e-14);
        let major = [vecs[0][imax], vecs[1][imax], vecs[2][imax]];
        // Parallel to the first column of R.
        let cosang = dot3(&major, &[c, s, 0.0]).abs();
        assert!((cosang - 1.0).abs() < 1e-14);
    }

    #[test]
    fn print_8g_rounds_to_eight_significant_digits() {
        assert_eq!(hoc_print_8g(1.234567891), 1.2345679);
        assert_eq!(hoc_print_8g(-0.000123456789), -0.00012345679);
        assert_eq!(hoc_print_8g(22.72253369432), 22.722534);
        assert_eq!(hoc_print_8g(0.0), 0.0);
        // Exact ties round to even, as glibc's printf does.
        assert_eq!(hoc_print_8g(12345678.5), 12345678.0);
        assert_eq!(hoc_print_8g(12345679.5), 12345680.0);
    }

    #[test]
    fn circle_contour_becomes_a_cylinder_of_its_diameter() {
        // A circle of radius 5 in the x-y plane (slightly stretched along x to fix the axis).
        let n = 400;
        let pts: Vec<[f64; 4]> = (0..n)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
                [10.0 + 6.0 * a.cos(), -3.0 + 5.0 * a.sin(), 2.0, 0.0]
            })
            .collect();
        let line = contour_to_centroid(&pts).unwrap();
        assert_eq!(line.len(), 21);
        // Along x, through the centre.
        for p in &line {
            // The centre is the mean of the perimeter resampled at 101 points: close to, not
            // exactly at, the ellipse's centre.
            assert!((p[1] + 3.0).abs() < 0.01 && p[2] == 2.0, "{p:?}");
        }
        // Widest in the middle: about the minor diameter 10.
        let mid = line[10][3];
        assert!((mid - 10.0).abs() < 0.1, "{mid}");
        assert!(line[0][3] < mid && line[20][3] < mid);
    }

    #[test]
    fn interpolate_matches_neuron_edges() {
        let xs = [0.0, 1.0, 1.0, 3.0];
        let ys = [0.0, 10.0, 99.0, 30.0];
        let got = interpolate(&[-1.0, 0.5, 1.0, 2.0, 5.0], &xs, &ys);
        // The zero-width interval is skipped; outside the domain the ends are kept.
        assert_eq!(got, vec![0.0, 5.0, 10.0, 64.5, 30.0]);
    }

    #[test]
    fn make_increasing_drops_backtracking_points() {
        let mut d = vec![0.0, 1.0, 0.5, 2.0, 2.0, 3.0];
        let mut r = vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        make_increasing(&mut d, &mut r);
        assert_eq!(d, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(r, vec![0.0, 1.0, 3.0, 5.0]);
    }

    fn raw(kind: SectionKind, points: Vec<[f64; 4]>, parent: Option<usize>, x: f64) -> RawSection {
        RawSection {
            kind,
            points,
            contour: false,
            parent,
            parent_x: x,
            pos: Some(LineCol { line: 1, col: 1 }),
        }
    }

    #[test]
    fn instantiate_names_orders_and_drops_like_import3d() {
        let p = |x: f64, d: f64| [x, 0.0, 0.0, d];
        let cell = RawCell {
            sections: vec![
                raw(
                    SectionKind::Soma,
                    vec![p(0.0, 5.0), p(10.0, 5.0)],
                    None,
                    1.0,
                ),
                raw(
                    SectionKind::Apical,
                    vec![p(10.0, 2.0), p(20.0, 2.0)],
                    Some(0),
                    1.0,
                ),
                // one point: dropped, its child moves to the apical root at 1
                raw(SectionKind::Apical, vec![p(20.0, 1.0)], Some(1), 1.0),
                raw(
                    SectionKind::Apical,
                    vec![p(20.0, 1.0), p(30.0, 1.0)],
                    Some(2),
                    1.0,
                ),
                raw(
                    SectionKind::Basal,
                    vec![p(5.0, 1.0), p(-10.0, 1.0)],
                    Some(0),
                    0.5,
                ),
                // zero length within 1e-11: dropped
                raw(
                    SectionKind::Basal,
                    vec![p(-10.0, 1.0), p(-10.0 + 1e-12, 1.0)],
                    Some(4),
                    1.0,
                ),
                raw(
                    SectionKind::Axon,
                    vec![p(5.0, 1.0), p(5.0, 1.0), p(-20.0, 1.0)],
                    Some(0),
                    0.5,
                ),
            ],
            warnings: Diagnostics::new(),
        };
        let m = instantiate(cell, Path::new("x.asc")).unwrap();
        let names: Vec<String> = m.sections.iter().map(Section::name).collect();
        assert_eq!(
            names,
            ["soma[0]", "axon[0]", "dend[0]", "apic[0]", "apic[1]"]
        );
        let parents: Vec<Option<(u32, f64)>> = m
            .sections
            .iter()
            .map(|s| s.parent.map(|a| (a.section.0, a.x)))
            .collect();
        assert_eq!(
            parents,
            [
                None,
                Some((0, 0.5)),
                Some((0, 0.5)),
                Some((0, 1.0)),
                Some((3, 1.0))
            ]
        );
        let kinds: Vec<&str> = m.warnings.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, ["morph-section-removed", "morph-section-removed"]);
        // A repeated point is kept (it adds no length).
        assert_eq!(m.sections[1].length_um(), 25.0);
    }

    #[test]
    fn points_are_stored_as_neuron_stores_them() {
        // 0.1 + 1e-9 prints as 0.1 with %.8g; the float of 0.1 is then stored.
        let v = neuron_pt3d_value(0.1 + 1e-9);
        assert_eq!(v, 0.1f32);
        // Arc lengths: single-precision differences, double-precision sums.
        let pts = Pt3d::section_points(&[[0.1, 0.0, 0.0, 1.0], [0.3, 0.0, 0.0, 1.0]]);
        assert_eq!(pts[1].arc_um, f64::from(0.3f32 - 0.1f32));
        assert_ne!(pts[1].arc_um, f64::from(0.3f32) - f64::from(0.1f32));
    }

    #[test]
    fn a_tree_without_soma_is_an_error() {
        let cell = RawCell {
            sections: vec![raw(
                SectionKind::Basal,
                vec![[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0]],
                None,
                1.0,
            )],
            warnings: Diagnostics::new(),
        };
        let err = instantiate(cell, Path::new("x.swc")).unwrap_err();
        assert_eq!(err.iter().next().unwrap().kind, "morph-no-soma");
    }
}
