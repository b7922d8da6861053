//! SWC reader: `id type x y z radius parent` lines into [`RawCell`] sections, cut and attached
//! the way NEURON's `Import3d_SWC_read` does it.
//!
//! NEURON's rules, in short: numbers are read in single precision; points are sorted by id; a
//! section is a run of points where each has exactly one child, the next point, of the same
//! type; a child section starts with a copy of its parent point (with the child's own first
//! diameter when the parent is soma), except that dendrites hanging from the soma's interior
//! or from a point of the soma that other soma points also hang from are attached "by wire"
//! (without the copy). Children of the first point of the root attach at 0, of a one-point
//! soma or of the soma's interior at 0.5, all others at 1. A 3-point soma in NeuroMorpho's
//! style (both outer points children of the middle, equal diameters, length ≈ diameter)
//! becomes a sphere.
//!
//! Errors (with the line): a line that is not 7 numbers, ids out of increasing order (NEURON's
//! reader fails on those), a duplicate id, a parent id that is no point of the file or not
//! smaller than the point's id, several roots.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics, LineCol};

use super::import3d::{RawCell, RawSection};
use super::SectionKind;

/// One point line.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    id: i64,
    kind: i64,
    x: f64,
    y: f64,
    z: f64,
    /// Diameter (twice the file's radius) [µm].
    d: f64,
    pid: i64,
    line: u32,
}

/// Reads an SWC file's text (its path is used in diagnostics only).
pub fn parse(text: &str, path: &Path) -> Result<RawCell, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut samples: Vec<Sample> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i as u32 + 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        match parse_line(t) {
            Ok(mut s) => {
                s.line = lineno;
                samples.push(s);
            }
            Err(msg) => diags.push(
                Diagnostic::error(
                    "swc-bad-line",
                    path,
                    Some(LineCol {
                        line: lineno,
                        col: 1,
                    }),
                    msg,
                )
                .with_note("an SWC point line is `id type x y z radius parent`"),
            ),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    if samples.is_empty() {
        diags.push(Diagnostic::error(
            "swc-empty",
            path,
            None,
            "the SWC file has no points",
        ));
        return Err(diags);
    }
    let at = |s: &Sample| {
        Some(LineCol {
            line: s.line,
            col: 1,
        })
    };
    // NEURON 9.0.2's reader fails on files whose ids are not increasing (its sorting code
    // refers to an undefined name), so such files have no NEURON cell to reproduce.
    if let Some(w) = samples.windows(2).find(|w| w[1].id < w[0].id) {
        diags.push(
            Diagnostic::error(
                "swc-unsorted",
                path,
                at(&w[1]),
                format!(
                    "id {} comes after id {}: ids must increase down the file",
                    w[1].id, w[0].id
                ),
            )
            .with_note(
                "NEURON's Import3d fails on SWC files with unsorted ids; sort the lines by id",
            ),
        );
        return Err(diags);
    }
    let mut index_of: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, s) in samples.iter().enumerate() {
        if let Some(&j) = index_of.get(&s.id) {
            diags.push(
                Diagnostic::error(
                    "swc-duplicate-id",
                    path,
                    at(s),
                    format!("id {} is used twice", s.id),
                )
                .with_note(format!("first used at line {}", samples[j].line)),
            );
        } else {
            index_of.insert(s.id, i);
        }
    }
    let mut parent: Vec<Option<usize>> = vec![None; samples.len()];
    let mut roots = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if s.pid < 0 {
            roots.push(i);
            continue;
        }
        // A parent that exists nowhere is the more useful message than one out of order.
        let Some(&p) = index_of.get(&s.pid) else {
            diags.push(Diagnostic::error(
                "swc-unknown-parent",
                path,
                at(s),
                format!(
                    "point {} has parent {}, which is no point of the file",
                    s.id, s.pid
                ),
            ));
            continue;
        };
        if s.pid >= s.id {
            diags.push(Diagnostic::error(
                "swc-parent-order",
                path,
                at(s),
                format!(
                    "point {} has parent {}: a parent id must be smaller than the point's id",
                    s.id, s.pid
                ),
            ));
            continue;
        }
        parent[i] = Some(p);
    }
    if roots.len() > 1 {
        let mut d = Diagnostic::error(
            "swc-several-roots",
            path,
            at(&samples[roots[1]]),
            format!("{} points have no parent: a cell is one tree", roots.len()),
        );
        d = d.with_note(format!(
            "the first root is at line {}",
            samples[roots[0]].line
        ));
        diags.push(d);
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(RawCell {
        sections: sections(&samples, parent, path, &mut diags)?,
        warnings: Diagnostics::new(),
    })
}

fn parse_line(t: &str) -> Result<Sample, String> {
    let fields: Vec<&str> = t.split_whitespace().collect();
    if fields.len() < 7 {
        return Err(format!("expected 7 numbers, found {} fields", fields.len()));
    }
    // NEURON reads all seven as single-precision floats.
    let mut v = [0f64; 7];
    for (k, f) in fields.iter().take(7).enumerate() {
        let x: f32 = f
            .parse()
            .map_err(|_| format!("field {} `{f}` is not a number", k + 1))?;
        if !x.is_finite() {
            return Err(format!("field {} `{f}` is not a finite number", k + 1));
        }
        v[k] = f64::from(x);
    }
    for (k, name) in [(0usize, "id"), (1, "type"), (6, "parent")] {
        if v[k].fract() != 0.0 {
            return Err(format!("the {name} `{}` is not an integer", fields[k]));
        }
    }
    if v[5] < 0.0 {
        return Err(format!("negative radius `{}`", fields[5]));
    }
    Ok(Sample {
        id: v[0] as i64,
        kind: v[1] as i64,
        x: v[2],
        y: v[3],
        z: v[4],
        d: v[5] * 2.0,
        pid: v[6] as i64,
        line: 0,
    })
}

fn kind_of(t: i64) -> Option<SectionKind> {
    match t {
        1 => Some(SectionKind::Soma),
        2 => Some(SectionKind::Axon),
        3 => Some(SectionKind::Basal),
        4 => Some(SectionKind::Apical),
        _ => None,
    }
}

/// Cuts the sorted points into sections and attaches them (NEURON's `mark_branch`,
/// `sectionify` and `mksection`).
fn sections(
    s: &[Sample],
    mut parent: Vec<Option<usize>>,
    path: &Path,
    diags: &mut Diagnostics,
) -> Result<Vec<RawSection>, Diagnostics> {
    let n = s.len();
    let soma = |i: usize| s[i].kind == 1;

    // Child counts: +1 per child, +0.01 more when the child does not follow its parent in the
    // file or has another type, so that any value but exactly 1 ends a section.
    let mut nchild = vec![0.0f64; n];
    let mut to_proximal = vec![false; n];
    for i in 0..n {
        let Some(p) = parent[i] else { continue };
        nchild[p] += 1.0;
        if p + 1 != i {
            nchild[p] += 0.01;
            if p > 1 {
                let pp_soma = parent[p].is_some_and(soma);
                if !soma(p) && pp_soma {
                    // A branch from the first point of a dendrite wired to the soma: attach it
                    // to that dendrite's proximal end.
                    to_proximal[i] = true;
                    nchild[p] = 1.0;
                }
            } else if p == 0 && !soma(0) {
                to_proximal[i] = true;
                nchild[p] = 1.0;
            }
        }
        if s[p].kind != s[i].kind {
            nchild[p] += 0.01;
        }
    }
    let mut soma_children = vec![0usize; n];
    let mut soma_points = usize::from(soma(0));
    for (i, pi) in parent.iter().enumerate().skip(1) {
        if soma(i) {
            soma_points += 1;
            if let Some(p) = *pi {
                if soma(p) {
                    soma_children[p] += 1;
                }
            }
        }
    }
    let mut sphere = false;
    if soma_points == 3 && n >= 3 && parent[1] == Some(0) && parent[2] == Some(0) {
        let (a, b, c) = (&s[0], &s[1], &s[2]);
        if nchild[1] == 0.0 && nchild[2] == 0.0 && b.d == a.d && c.d == a.d {
            let dist = |q: &Sample| {
                ((q.x - a.x).powi(2) + (q.y - a.y).powi(2) + (q.z - a.z).powi(2)).sqrt()
            };
            let len = dist(b) + dist(c);
            if (len / a.d - 1.0).abs() < 0.01 {
                sphere = true;
                parent[2] = Some(1);
            }
        }
    }
    for i in 0..n.saturating_sub(1) {
        if soma(i) && soma(i + 1) && parent[i + 1] == Some(i) && !(i != 0 && soma_children[i] > 1) {
            nchild[i] = 1.0;
        }
    }
    // Section of each point.
    let ends: Vec<usize> = (0..n).filter(|&i| nchild[i] != 1.0).collect();
    let mut sec_of = vec![0usize; n];
    let mut si = 0usize;
    for (i, slot) in sec_of.iter_mut().enumerate().skip(1) {
        if i > ends[si] {
            si += 1;
        }
        *slot = si;
    }

    struct Built {
        first_point: usize,
        /// Points as NEURON's Import3d_Section holds them (a child's include its parent point).
        raw: Vec<[f64; 4]>,
        skip_first: bool,
        kind: i64,
        parent: Option<usize>,
        parent_x: f64,
    }
    let pt = |i: usize| [s[i].x, s[i].y, s[i].z, s[i].d];
    let mut built: Vec<Built> = Vec::new();
    let mut first = 0usize;
    for i in 0..=n {
        let boundary = i == n || sec_of[i] > built.len();
        if !boundary {
            continue;
        }
        let end = i;
        let isec = built.len();
        if isec == 0 {
            let last = if sphere { 1 } else { end };
            built.push(Built {
                first_point: first,
                raw: (first..last).map(pt).collect(),
                skip_first: false,
                kind: s[first].kind,
                parent: None,
                parent_x: 1.0,
            });
        } else {
            let pp = parent[first].expect("a non-root section's first point has a parent");
            let psec = sec_of[pp];
            let (p_first, p_len, p_kind) = {
                let b = &built[psec];
                (b.first_point, b.raw.len(), b.kind)
            };
            let own = end - first;
            let den_con_soma = p_kind == 1 && s[first].kind != 1;
            let con_soma = p_kind == 1;
            let mut parent_x = 1.0;
            let mut skip_first = false;
            let mut handled = false;
            if psec == 0 {
                handled = true;
                if den_con_soma && p_len == 1 {
                    parent_x = 0.5;
                    if own > 1 {
                        skip_first = true;
                    }
                } else if pp == p_first {
                    parent_x = 0.0;
                    if s[first].kind != 1 && soma_children[pp] > 1 {
                        skip_first = true;
                    }
                } else {
                    handled = false;
                }
            }
            if !handled && con_soma {
                let offset: isize = if p_first == 0 { -1 } else { -2 };
                if (pp as isize) < p_first as isize + p_len as isize + offset {
                    parent_x = 0.5;
                    if den_con_soma && own > 1 {
                        skip_first = true;
                    }
                } else if own > 1 && soma_children[pp] > 1 && s[first].kind != 1 {
                    skip_first = true;
                }
            }
            let mut raw = Vec::with_capacity(own + 1);
            raw.push(pt(pp));
            raw.extend((first..end).map(pt));
            if p_kind == 1 && s[first].kind != 1 {
                raw[0][3] = raw[1][3];
            }
            if to_proximal[first] {
                parent_x = 0.0;
            }
            built.push(Built {
                first_point: first,
                raw,
                skip_first,
                kind: s[first].kind,
                parent: Some(psec),
                parent_x,
            });
        }
        first = i;
    }

    let mut out = Vec::with_capacity(built.len());
    for b in built {
        let Some(kind) = kind_of(b.kind) else {
            diags.push(
                Diagnostic::error(
                    "swc-unknown-type",
                    path,
                    Some(LineCol {
                        line: s[b.first_point].line,
                        col: 1,
                    }),
                    format!("point type {} is not soma (1), axon (2), basal (3) or apical (4)", b.kind),
                )
                .with_note("NEURON would create `dend_N` sections that no section list of the packages covers"),
            );
            continue;
        };
        let points = if b.skip_first {
            b.raw[1..].to_vec()
        } else {
            b.raw
        };
        out.push(RawSection {
            kind,
            points,
            contour: false,
            parent: b.parent,
            parent_x: b.parent_x,
            pos: Some(LineCol {
                line: s[b.first_point].line,
                col: 1,
            }),
        });
    }
    if diags.has_errors() {
        return Err(std::mem::take(diags));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<RawCell, Diagnostics> {
        parse(text, Path::new("t.swc"))
    }

    #[test]
    fn three_point_chain_soma_is_one_section() {
        let cell = read(
            "# Dummy\n1 1 -5.0 0.0 0.0 5.0 -1\n2 1 0.0 0.0 0.0 5.0 1\n3 1 5.0 0.0 0.0 5.0 2\n",
        )
        .unwrap();
        assert_eq!(cell.sections.len(), 1);
        let s = &cell.sections[0];
        assert_eq!(s.kind, SectionKind::Soma);
        assert_eq!(
            s.points,
            vec![
                [-5.0, 0.0, 0.0, 10.0],
                [0.0, 0.0, 0.0, 10.0],
                [5.0, 0.0, 0.0, 10.0]
            ]
        );
        assert_eq!(s.pos, Some(LineCol { line: 2, col: 1 }));
    }

    #[test]
    fn neuromorpho_three_point_soma_is_a_sphere_and_dendrites_attach_by_wire() {
        // Middle point first, both ends children of it, length = diameter = 10.
        let text =
            "1 1 0 0 0 5 -1\n2 1 0 -5 0 5 1\n3 1 0 5 0 5 1\n4 3 0 10 0 1 1\n5 3 0 20 0 1 4\n";
        let cell = read(text).unwrap();
        assert_eq!(cell.sections.len(), 2);
        assert_eq!(cell.sections[0].points, vec![[0.0, 0.0, 0.0, 10.0]]);
        let dend = &cell.sections[1];
        assert_eq!(dend.kind, SectionKind::Basal);
        assert_eq!(dend.parent, Some(0));
        assert_eq!(dend.parent_x, 0.5);
        // Wired: the soma point is not one of its 3-D points.
        assert_eq!(
            dend.points,
            vec![[0.0, 10.0, 0.0, 2.0], [0.0, 20.0, 0.0, 2.0]]
        );
    }

    #[test]
    fn branches_copy_the_parent_point_and_attach_at_one() {
        let text = "\
1 1 0 0 0 5 -1
2 1 0 10 0 5 1
3 3 0 20 0 1 2
4 3 0 30 0 1 3
5 3 5 40 0 0.5 4
6 3 -5 40 0 0.5 4
";
        let cell = read(text).unwrap();
        let parents: Vec<_> = cell
            .sections
            .iter()
            .map(|s| (s.parent, s.parent_x))
            .collect();
        assert_eq!(
            parents,
            vec![(None, 1.0), (Some(0), 1.0), (Some(1), 1.0), (Some(1), 1.0)]
        );
        // The soma's child starts at the soma's last point with the child's own diameter.
        assert_eq!(cell.sections[1].points[0], [0.0, 10.0, 0.0, 2.0]);
        assert_eq!(cell.sections[1].points.len(), 3);
        // A dendrite's child starts at the fork with the parent's diameter.
        assert_eq!(
            cell.sections[2].points,
            vec![[0.0, 30.0, 0.0, 2.0], [5.0, 40.0, 0.0, 1.0]]
        );
    }

    #[test]
    fn numbers_are_read_in_single_precision() {
        let cell = read("1 1 0.1 0 0 1 -1\n2 1 0.2 0 0 1 1\n").unwrap();
        assert_eq!(cell.sections[0].points[0][0], f64::from(0.1f32));
    }

    fn errors(text: &str) -> Vec<(&'static str, u32)> {
        read(text)
            .unwrap_err()
            .into_iter()
            .map(|d| (d.kind, d.pos.map_or(0, |p| p.line)))
            .collect()
    }

    #[test]
    fn malformed_files_give_line_numbers() {
        assert_eq!(
            errors("1 1 0 0 0 1 -1\n2 3 0 0 oops 1 1\n3 3 0 0\n"),
            vec![("swc-bad-line", 2), ("swc-bad-line", 3)]
        );
        assert_eq!(
            errors("1 1 0 0 0 1 -1\n2 3 0 0 1 1 1\n2 3 0 0 2 1 1\n"),
            vec![("swc-duplicate-id", 3)]
        );
        assert_eq!(
            errors("1 1 0 0 0 1 -1\n\n3 3 0 0 1 1 2\n"),
            vec![("swc-unknown-parent", 3)]
        );
        assert_eq!(
            errors("1 1 0 0 0 1 -1\n2 3 0 0 1 1 5\n5 3 0 0 1 1 1\n"),
            vec![("swc-parent-order", 2)]
        );
        assert_eq!(
            errors("1 1 0 0 0 1 -1\n2 3 0 0 1 1 -1\n"),
            vec![("swc-several-roots", 2)]
        );
        assert_eq!(
            errors("1 1 0 0 0 1 -1\n2 7 0 0 1 1 1\n"),
            vec![("swc-unknown-type", 2)]
        );
        assert_eq!(errors("# nothing\n"), vec![("swc-empty", 0)]);
        assert_eq!(
            errors("1 1 0 0 0 1 -1\n3 3 0 0 1 1 1\n2 3 0 0 1 1 1\n"),
            vec![("swc-unsorted", 3)]
        );
        assert_eq!(errors("1 1 0 0 0 1.5.2 -1\n"), vec![("swc-bad-line", 1)]);
    }

    proptest::proptest! {
        /// Random point lists (random parents, types, positions) are read or rejected, never a
        /// panic; what is read can be instantiated and discretised.
        #[test]
        fn never_panics(
            pts in proptest::collection::vec((0u32..6, -3i32..12, -20i32..20, -20i32..20, 0u32..4), 1..30)
        ) {
            let mut text = String::new();
            for (i, &(t, dp, x, y, r)) in pts.iter().enumerate() {
                let id = i as i32 + 1;
                let pid = if i == 0 { -1 } else { (id - 1 - dp).max(-1) };
                text.push_str(&format!("{id} {t} {x} {y} 0 {r} {pid}\n"));
            }
            if let Ok(raw) = parse(&text, Path::new("fuzz.swc")) {
                if let Ok(mut m) = super::super::import3d::instantiate(raw, Path::new("fuzz.swc")) {
                    for s in &mut m.sections {
                        s.nseg = super::super::nseg_for_length(s.length_um());
                    }
                    let d = crate::discretize::discretize_uniform(&m, 100.0);
                    for (k, n) in d.nodes.iter().enumerate() {
                        proptest::prop_assert!(n.parent.is_none_or(|p| p.index() < k));
                    }
                }
            }
        }
    }
}
