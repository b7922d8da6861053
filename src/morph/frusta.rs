//! Per-segment geometry of one section, as NEURON computes it (`nrn_area_ri` and
//! `diam_from_list` in NEURON's treeset.cpp, reimplemented from their documented behaviour):
//! each segment is split into two halves; over each half the 3-D points are integrated as
//! frusta (diameter linearly interpolated along the arc length at the half ends).
//!
//! - area [µm²]: Σ π·(d₁+d₂)/2·√(Δs² + ((d₂−d₁)/2)²) over both halves (lateral frustum areas);
//! - diam [µm]: the length-average of the diameter over the segment (NEURON's `seg.diam`);
//! - half resistances [MΩ]: Ra·(4/π)·Σ Δs/(d₁·d₂)·10⁻² over each half (exact for a frustum).
//!
//! A section without 3-D points is a chain of cylinders of the segments' own diameters.

use std::f64::consts::PI;

use super::Pt3d;

/// Geometry of one segment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SegmentGeometry {
    /// Membrane area [µm²] (`seg.area()`).
    pub area_um2: f64,
    /// Average diameter [µm] (`seg.diam`).
    pub diam_um: f64,
    /// Axial resistance of the half from the segment's start to its centre [MΩ].
    pub r_left_megaohm: f64,
    /// Axial resistance of the half from the centre to the segment's end [MΩ].
    pub r_right_megaohm: f64,
}

/// Segments of a section with 3-D points (at least two), for axial resistivity `ra_ohm_cm`.
pub fn from_points(points: &[Pt3d], nseg: u32, ra_ohm_cm: f64) -> Vec<SegmentGeometry> {
    let npt = points.len();
    assert!(npt >= 2, "a 3-D section has at least two points");
    let nseg = nseg.max(1);
    let ds = points[npt - 1].arc_um / f64::from(nseg);
    let diam_at = |i: usize| f64::from(points[i].diam_um.abs());
    // The integration walks the points once; x1/y1 is where the previous piece ended.
    let mut j = 0usize;
    let mut x1 = points[0].arc_um;
    let mut y1 = diam_at(0);
    let mut out = Vec::with_capacity(nseg as usize);
    for inode in 0..nseg {
        let mut si = f64::from(inode) * ds;
        let mut diam = 0.0f64;
        let mut area = 0.0f64;
        let mut halves = [0.0f64; 2];
        for half in &mut halves {
            let mut ri = 0.0f64;
            let sip = si + ds / 2.0;
            loop {
                let jp = j + 1;
                let xj = points[j].arc_um;
                let xjp = points[jp].arc_um;
                let (x2, y2, jnext) = if xjp > sip || jp == npt - 1 {
                    let frac = if (xjp - xj).abs() < 1e-10 {
                        1.0
                    } else {
                        (sip - xj) / (xjp - xj)
                    };
                    (sip, (1.0 - frac) * diam_at(j) + frac * diam_at(jp), j)
                } else {
                    (xjp, diam_at(jp), jp)
                };
                let mut delta = x2 - x1;
                diam += (y2 + y1) * delta;
                if delta < 1e-15 {
                    delta = 1e-15;
                }
                let mut temp = y2 * y1 / delta;
                if temp == 0.0 {
                    temp = 1e-15;
                }
                ri += 1.0 / temp;
                let taper = 0.5 * (y2 - y1);
                let slant = (delta * delta + taper * taper).sqrt();
                area += (y2 + y1) * slant;
                x1 = x2;
                y1 = y2;
                if j == jnext {
                    break;
                }
                j = jnext;
            }
            *half = ri * ra_ohm_cm / PI * (4.0 * 0.01);
            si = sip;
        }
        out.push(SegmentGeometry {
            area_um2: area * 0.5 * PI,
            diam_um: diam * (0.5 / ds),
            r_left_megaohm: halves[0],
            r_right_megaohm: halves[1],
        });
    }
    out
}

/// Segments of a section without 3-D points: `diam_um[i]` is segment i's diameter.
pub fn from_cylinders(length_um: f64, diam_um: &[f64], ra_ohm_cm: f64) -> Vec<SegmentGeometry> {
    let nseg = diam_um.len().max(1);
    let dx = length_um / nseg as f64;
    diam_um
        .iter()
        .map(|&d| {
            let d = if d <= 0.0 { 1e-6 } else { d };
            let r = 1e-2 * ra_ohm_cm * (dx / 2.0) / (PI * d * d / 4.0);
            SegmentGeometry {
                area_um2: PI * d * dx,
                diam_um: d,
                r_left_megaohm: r,
                r_right_megaohm: r,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[(f32, f32)]) -> Vec<Pt3d> {
        let v: Vec<[f32; 4]> = points.iter().map(|&(x, d)| [x, 0.0, 0.0, d]).collect();
        Pt3d::section_points(&v)
    }

    #[test]
    fn a_cylinder_has_textbook_areas_and_resistances() {
        // L = 100 µm, d = 2 µm, Ra = 100 Ω·cm, 5 segments, with an interior point.
        let pts = line(&[(0.0, 2.0), (37.0, 2.0), (100.0, 2.0)]);
        let segs = from_points(&pts, 5, 100.0);
        for s in &segs {
            let area = PI * 2.0 * 20.0;
            assert!((s.area_um2 - area).abs() < 1e-12 * area);
            assert!((s.diam_um - 2.0).abs() < 1e-14);
            // Ra·(L/2)/(π d²/4), Ra in Ω·cm, lengths in µm: 1e-2 converts to MΩ.
            let r_half = 100.0 * 10.0e-4 / (PI * (2.0e-4f64).powi(2) / 4.0) * 1e-6;
            assert!((s.r_left_megaohm - r_half).abs() < 1e-12 * r_half);
            assert!((s.r_right_megaohm - r_half).abs() < 1e-12 * r_half);
        }
        let cyl = from_cylinders(100.0, &[2.0; 5], 100.0);
        for (a, b) in segs.iter().zip(&cyl) {
            assert!((a.area_um2 - b.area_um2).abs() < 1e-12 * b.area_um2);
            assert!((a.r_left_megaohm - b.r_left_megaohm).abs() < 1e-12 * b.r_left_megaohm);
        }
    }

    #[test]
    fn a_cone_has_frustum_area_and_resistance() {
        // One segment of a cone from d = 4 to d = 2 over 10 µm.
        let pts = line(&[(0.0, 4.0), (10.0, 2.0)]);
        let s = from_points(&pts, 1, 50.0)[0];
        // Halves: 4 -> 3 over 5 µm and 3 -> 2 over 5 µm.
        let lateral = |d1: f64, d2: f64, h: f64| {
            PI * (d1 + d2) / 2.0 * (h * h + ((d1 - d2) / 2.0).powi(2)).sqrt()
        };
        let area = lateral(4.0, 3.0, 5.0) + lateral(3.0, 2.0, 5.0);
        assert!((s.area_um2 - area).abs() < 1e-12 * area);
        assert!((s.diam_um - 3.0).abs() < 1e-14);
        // ∫ ρ ds / (π r²) for a frustum is ρ h / (π r1 r2).
        let r = |d1: f64, d2: f64| 50.0 * 5.0 / (PI * d1 / 2.0 * d2 / 2.0) * 1e-2;
        assert!((s.r_left_megaohm - r(4.0, 3.0)).abs() < 1e-12 * r(4.0, 3.0));
        assert!((s.r_right_megaohm - r(3.0, 2.0)).abs() < 1e-12 * r(3.0, 2.0));
    }
}
