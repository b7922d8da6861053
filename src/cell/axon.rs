//! Axon replacements, as the packages' tools do them after Import3d and the 40 µm rule.
//!
//! - [`AxonReplacement::SscxMyelin`] (EModelRunner 1.2.5 `SSCXNrnFileMorphology`, also
//!   BluePyEModel's `replace_axon_with_taper`): walk the axonal sections in order, give each
//!   `1 + 2*int(L/6/2)` segments and collect their centre diameters until there are 10; delete
//!   the axon; create `axon[0]` and `axon[1]` (L = 30 µm, 5 segments, diameters 1-5 and 6-10),
//!   `axon[0](0)` on `soma[0](1)`, `axon[1](0)` on `axon[0](1)`; then `myelin[0]` (L = 1000 µm,
//!   5 segments, the 10th diameter) on `axon[1](1)`. An axon that yields fewer than 10
//!   diameters is an error (EModelRunner fails on it).
//! - [`AxonReplacement::Thalamus`] (EModelRunner `ThalamusNrnFileMorphology`): the same without
//!   myelin; missing diameters are filled with the second-last one collected (at least two
//!   are needed).
//! - [`AxonReplacement::BluePyOpt`] (BluePyOpt's default `replace_axon`): two 30 µm sections of
//!   one segment; diameters: `axon[0].diam` twice, the second replaced by the diameter (at 0.5)
//!   of the first axonal section whose middle lies more than 60 µm from soma(0.5); 1 µm for both
//!   when there is no axon.
//!
//! The new sections come after all others, in the order above (as in the cell's `all` list).

use std::path::Path;

use crate::diag::{Diagnostic, Diagnostics};
use crate::discretize::discretize_uniform;
use crate::morph::frusta;
use crate::morph::{
    load_morphology, nseg_for_length_with, Attachment, AxonReplacement, Morphology, Section,
    SectionId, SectionKind, Shape,
};

/// Length of the replacement stub (two sections of half this) [µm].
const STUB_LENGTH_UM: f64 = 60.0;
/// Number of diameters the tapered replacements sample.
const TAPER_SAMPLES: usize = 10;

/// Reads the morphology at `path` ([`load_morphology`]) and applies `how` to it.
pub fn load(path: &Path, how: AxonReplacement) -> Result<Morphology, Diagnostics> {
    let mut morph = load_morphology(path)?;
    replace(&mut morph, how)?;
    Ok(morph)
}

/// Applies `how` to `morph` in place.
pub fn replace(morph: &mut Morphology, how: AxonReplacement) -> Result<(), Diagnostics> {
    let diams: Vec<f64> = match how {
        AxonReplacement::None => return Ok(()),
        AxonReplacement::SscxMyelin | AxonReplacement::Thalamus => {
            let mut d = sample_taper(morph);
            if how == AxonReplacement::SscxMyelin && d.len() < TAPER_SAMPLES {
                return Err(too_short(morph, how, d.len()));
            }
            if d.len() < TAPER_SAMPLES {
                if d.len() < 2 {
                    return Err(too_short(morph, how, d.len()));
                }
                let fill = d[d.len() - 2];
                d.resize(TAPER_SAMPLES, fill);
            }
            d
        }
        AxonReplacement::BluePyOpt => bluepyopt_diameters(morph),
    };
    remove_axon(morph)?;
    let soma = morph.first_of(SectionKind::Soma).ok_or_else(|| {
        let mut d = Diagnostics::new();
        d.push(Diagnostic::error(
            "axon-replacement",
            &morph.path,
            None,
            "the axon replacement needs soma[0]",
        ));
        d
    })?;
    // BluePyOpt: one diameter per section, nseg from the 40 µm rule; the tapers: 5 each.
    let (nseg, per_section) = match how {
        AxonReplacement::BluePyOpt => {
            (nseg_for_length_with(STUB_LENGTH_UM / 2.0, 40.0) as usize, 1)
        }
        _ => (TAPER_SAMPLES / 2, TAPER_SAMPLES / 2),
    };
    let mut parent = Attachment {
        section: soma,
        x: 1.0,
    };
    for k in 0..2 {
        let diam_um: Vec<f64> = (0..nseg)
            .map(|s| diams[k * per_section + s.min(per_section - 1)])
            .collect();
        morph.sections.push(Section {
            kind: SectionKind::Axon,
            index: k as u32,
            parent: Some(parent),
            shape: Shape::Stylized {
                length_um: STUB_LENGTH_UM / 2.0,
                diam_um,
            },
            nseg: nseg as u32,
            line: None,
        });
        parent = Attachment {
            section: SectionId(morph.sections.len() as u32 - 1),
            x: 1.0,
        };
    }
    if how == AxonReplacement::SscxMyelin {
        morph.sections.push(Section {
            kind: SectionKind::Myelin,
            index: 0,
            parent: Some(parent),
            shape: Shape::Stylized {
                length_um: 1000.0,
                diam_um: vec![diams[TAPER_SAMPLES - 1]; 5],
            },
            nseg: 5,
            line: None,
        });
    }
    Ok(())
}

fn axonal(morph: &Morphology) -> Vec<SectionId> {
    let mut ids: Vec<SectionId> = (0..morph.sections.len())
        .map(|i| SectionId(i as u32))
        .filter(|&i| morph.section(i).kind == SectionKind::Axon)
        .collect();
    ids.sort_by_key(|&i| morph.section(i).index);
    ids
}

fn too_short(morph: &Morphology, how: AxonReplacement, got: usize) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.push(
        Diagnostic::error(
            "axon-replacement",
            &morph.path,
            None,
            format!(
                "the axon is too short for the {how:?} replacement: it yields {got} of the {TAPER_SAMPLES} diameters needed"
            ),
        )
        .with_note("the package's tool fails on this morphology too"),
    );
    d
}

/// Centre diameters of the axonal sections cut into ~6 µm segments, at most 10.
fn sample_taper(morph: &Morphology) -> Vec<f64> {
    let chunk_um = STUB_LENGTH_UM / TAPER_SAMPLES as f64;
    let mut out = Vec::new();
    for id in axonal(morph) {
        let s = morph.section(id);
        let length = s.length_um();
        let nseg = 1 + 2 * ((length / chunk_um / 2.0).trunc() as u32);
        let diams: Vec<f64> = match &s.shape {
            Shape::Points(p) if p.len() >= 2 => frusta::from_points(p, nseg, 1.0)
                .iter()
                .map(|g| g.diam_um)
                .collect(),
            _ => frusta::from_cylinders(length, &stylized_diams(s, nseg), 1.0)
                .iter()
                .map(|g| g.diam_um)
                .collect(),
        };
        for d in diams {
            out.push(d);
            if out.len() == TAPER_SAMPLES {
                return out;
            }
        }
    }
    out
}

/// A stylized section's diameters after changing its nseg (each new segment takes the diameter
/// of the old segment holding its centre, as NEURON does).
fn stylized_diams(s: &Section, nseg: u32) -> Vec<f64> {
    match &s.shape {
        Shape::Stylized { diam_um, .. } => (0..nseg)
            .map(|k| {
                let x = (f64::from(k) + 0.5) / f64::from(nseg);
                let i = ((x * diam_um.len() as f64) as usize).min(diam_um.len() - 1);
                diam_um[i]
            })
            .collect(),
        Shape::Points(p) => vec![p.first().map_or(1.0, |q| f64::from(q.diam_um)); nseg as usize],
    }
}

/// BluePyOpt's two stub diameters.
fn bluepyopt_diameters(morph: &Morphology) -> Vec<f64> {
    let axon = axonal(morph);
    if axon.is_empty() {
        return vec![1.0, 1.0];
    }
    // Diameters and distances with the nseg the 40 µm rule gave (Ra plays no part).
    let disc = discretize_uniform(morph, 35.4);
    let diam_mid = |id: SectionId| disc.segments[disc.segment_at(id, 0.5).0 as usize].diam_um;
    let first = diam_mid(axon[0]);
    let mut out = vec![first, first];
    if axon.len() > 1 {
        for &id in &axon {
            let seg = &disc.segments[disc.segment_at(id, 0.5).0 as usize];
            if seg.distance_um > STUB_LENGTH_UM {
                out[1] = seg.diam_um;
                break;
            }
        }
    }
    out
}

/// Deletes every axon section, renumbering the others (which keep their order).
fn remove_axon(morph: &mut Morphology) -> Result<(), Diagnostics> {
    let is_axon: Vec<bool> = morph
        .sections
        .iter()
        .map(|s| s.kind == SectionKind::Axon)
        .collect();
    let mut diags = Diagnostics::new();
    for s in &morph.sections {
        if let Some(a) = s.parent {
            if s.kind != SectionKind::Axon && is_axon[a.section.index()] {
                diags.push(Diagnostic::error(
                    "axon-replacement",
                    &morph.path,
                    s.line.map(|line| crate::diag::LineCol { line, col: 1 }),
                    format!(
                        "{} hangs from the axon: replacing the axon would cut it off",
                        s.name()
                    ),
                ));
            }
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let mut new_id = vec![None; morph.sections.len()];
    let mut kept = Vec::with_capacity(morph.sections.len());
    for (i, s) in std::mem::take(&mut morph.sections).into_iter().enumerate() {
        if !is_axon[i] {
            new_id[i] = Some(SectionId(kept.len() as u32));
            kept.push(s);
        }
    }
    for s in &mut kept {
        if let Some(a) = &mut s.parent {
            a.section = new_id[a.section.index()].expect("parents of kept sections are kept");
        }
    }
    morph.sections = kept;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discretize::discretize_uniform;
    use crate::morph::{nseg_for_length, Pt3d, SectionList};
    use std::path::PathBuf;

    /// A straight section along x from `x0` over `len`, diameter going linearly from d0 to d1
    /// through 5 points.
    fn taper(x0: f32, len: f32, d0: f32, d1: f32) -> Shape {
        let v: Vec<[f32; 4]> = (0..5)
            .map(|i| {
                let t = i as f32 / 4.0;
                [x0 + t * len, 0.0, 0.0, d0 + t * (d1 - d0)]
            })
            .collect();
        Shape::Points(Pt3d::section_points(&v))
    }

    /// soma[0] (L 10) with a chain of axon sections `(len, d0, d1)` from soma(0.5), and one
    /// dendrite; nseg by the 40 µm rule, as after Import3d.
    fn cell(axon: &[(f32, f32, f32)]) -> Morphology {
        let mut sections = vec![Section {
            kind: SectionKind::Soma,
            index: 0,
            parent: None,
            shape: taper(-5.0, 10.0, 10.0, 10.0),
            nseg: 1,
            line: None,
        }];
        let mut x = 0.0;
        for (k, &(len, d0, d1)) in axon.iter().enumerate() {
            let parent = if k == 0 {
                Attachment {
                    section: SectionId(0),
                    x: 0.5,
                }
            } else {
                Attachment {
                    section: SectionId(k as u32),
                    x: 1.0,
                }
            };
            sections.push(Section {
                kind: SectionKind::Axon,
                index: k as u32,
                parent: Some(parent),
                shape: taper(x, len, d0, d1),
                nseg: 1,
                line: None,
            });
            x += len;
        }
        sections.push(Section {
            kind: SectionKind::Basal,
            index: 0,
            parent: Some(Attachment {
                section: SectionId(0),
                x: 0.5,
            }),
            shape: taper(0.0, 100.0, 2.0, 1.0),
            nseg: 1,
            line: None,
        });
        for s in &mut sections {
            s.nseg = nseg_for_length(s.length_um());
        }
        Morphology {
            path: PathBuf::from("cell"),
            sections,
            warnings: Diagnostics::new(),
        }
    }

    fn stylized(m: &Morphology, i: usize) -> (SectionKind, u32, f64, Vec<f64>, Attachment) {
        let s = &m.sections[i];
        match &s.shape {
            Shape::Stylized { length_um, diam_um } => (
                s.kind,
                s.index,
                *length_um,
                diam_um.clone(),
                s.parent.unwrap(),
            ),
            Shape::Points(_) => panic!("{} is not stylized", s.name()),
        }
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn sscx_taper_samples_six_micron_segments_and_adds_myelin() {
        // axon[0]: 12 µm, 3 -> 1 (3 sampling segments: centre diameters 8/3, 2, 4/3);
        // axon[1]: 18 µm of 1.5 (3 segments); axon[2]: 60 µm of 1 (11 segments, 4 taken).
        let mut m = cell(&[(12.0, 3.0, 1.0), (18.0, 1.5, 1.5), (60.0, 1.0, 1.0)]);
        replace(&mut m, AxonReplacement::SscxMyelin).unwrap();
        let names: Vec<String> = m.sections.iter().map(Section::name).collect();
        assert_eq!(
            names,
            ["soma[0]", "dend[0]", "axon[0]", "axon[1]", "myelin[0]"]
        );
        let (_, _, l0, d0, p0) = stylized(&m, 2);
        assert_eq!((l0, p0.section, p0.x), (30.0, SectionId(0), 1.0));
        assert_close(&d0, &[8.0 / 3.0, 2.0, 4.0 / 3.0, 1.5, 1.5]);
        let (_, _, l1, d1, p1) = stylized(&m, 3);
        assert_eq!((l1, p1.section, p1.x), (30.0, SectionId(2), 1.0));
        assert_close(&d1, &[1.5, 1.0, 1.0, 1.0, 1.0]);
        let (kind, _, lm, dm, pm) = stylized(&m, 4);
        assert_eq!(
            (kind, lm, pm.section, pm.x),
            (SectionKind::Myelin, 1000.0, SectionId(3), 1.0)
        );
        assert_close(&dm, &[1.0; 5]);
        assert_eq!(m.sections[4].nseg, 5);
        // The dendrite still hangs from the soma.
        assert_eq!(m.sections[1].parent.unwrap().section, SectionId(0));
    }

    #[test]
    fn thalamus_pads_with_the_second_last_diameter_and_has_no_myelin() {
        let mut m = cell(&[(12.0, 3.0, 1.0)]);
        replace(&mut m, AxonReplacement::Thalamus).unwrap();
        assert_eq!(m.sections.len(), 4);
        assert_close(&stylized(&m, 2).3, &[8.0 / 3.0, 2.0, 4.0 / 3.0, 2.0, 2.0]);
        assert_close(&stylized(&m, 3).3, &[2.0; 5]);
        assert!(m.sections.iter().all(|s| s.kind != SectionKind::Myelin));
    }

    #[test]
    fn sscx_taper_refuses_a_short_axon() {
        let mut m = cell(&[(12.0, 3.0, 1.0)]);
        let err = replace(&mut m, AxonReplacement::SscxMyelin).unwrap_err();
        assert_eq!(err.iter().next().unwrap().kind, "axon-replacement");
        let mut none = cell(&[]);
        assert!(replace(&mut none, AxonReplacement::Thalamus).is_err());
    }

    #[test]
    fn bluepyopt_stub_takes_the_first_diameter_beyond_60_microns() {
        // axon[0]: 40 µm, 3 -> 1, 3 segments: centre segment's mean diameter 2; its middle is
        // 20 µm from soma(0.5). axon[1]: 30 µm of 1.375, middle at 55 µm. axon[2]: 30 µm of 1.25,
        // middle at 85 µm: the first beyond 60.
        let mut m = cell(&[(40.0, 3.0, 1.0), (30.0, 1.375, 1.375), (30.0, 1.25, 1.25)]);
        replace(&mut m, AxonReplacement::BluePyOpt).unwrap();
        assert_eq!(m.sections.len(), 4);
        let (k0, i0, l0, d0, p0) = stylized(&m, 2);
        let (k1, i1, l1, d1, p1) = stylized(&m, 3);
        assert_eq!(
            (k0, i0, l0, p0.section, p0.x),
            (SectionKind::Axon, 0, 30.0, SectionId(0), 1.0)
        );
        assert_eq!(
            (k1, i1, l1, p1.section, p1.x),
            (SectionKind::Axon, 1, 30.0, SectionId(2), 1.0)
        );
        assert_close(&d0, &[2.0]);
        assert_close(&d1, &[1.25]);
        // One axon section: its diameter twice; none: 1 µm.
        let mut one = cell(&[(40.0, 3.0, 1.0)]);
        replace(&mut one, AxonReplacement::BluePyOpt).unwrap();
        assert_close(&stylized(&one, 3).3, &[2.0]);
        let mut none = cell(&[]);
        replace(&mut none, AxonReplacement::BluePyOpt).unwrap();
        assert_close(&stylized(&none, 2).3, &[1.0]);
        assert_close(&stylized(&none, 3).3, &[1.0]);
    }

    /// The unpacked real packages (`EMSWEEP_CACHE`, else `<repo>/.cache`); panics with what to
    /// do when they are missing (tests never skip).
    fn real_packages() -> PathBuf {
        let cache = std::env::var_os("EMSWEEP_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache"));
        let dir = cache.join("packages");
        assert!(
            dir.join(".complete").exists(),
            "the real e-model packages are missing from {}: run the bootstrap first (bash scripts/bootstrap.sh)",
            dir.display()
        );
        dir
    }

    #[test]
    fn sscx_sample_cell_has_neurons_counts() {
        let path = real_packages().join(
            "emodelrunner/sscx_sample_dir/morphology/dend-C231296A-P4B2_axon-C200897C-P2_-_Scale_x1.000_y0.975_z1.000.asc",
        );
        let m = load(&path, AxonReplacement::SscxMyelin).unwrap();
        let d = discretize_uniform(&m, 100.0);
        assert_eq!(d.sections.len(), 66);
        assert_eq!(d.segments.len(), 196);
        let count = |list: SectionList| {
            let secs: Vec<SectionId> = d.sections_in(list).collect();
            let segs: u32 = secs.iter().map(|s| d.sections[s.index()].nseg).sum();
            (secs.len(), segs)
        };
        assert_eq!(count(SectionList::Somatic), (1, 1));
        assert_eq!(count(SectionList::Axonal), (2, 10));
        assert_eq!(count(SectionList::Basal), (33, 87));
        assert_eq!(count(SectionList::Apical), (29, 93));
        assert_eq!(count(SectionList::Myelinated), (1, 5));
        // The soma NEURON builds from the contour (PACKAGES.md): L, diam, area.
        let soma = &d.segments[0];
        assert!((d.sections[0].length_um - 22.7225).abs() < 1e-4);
        assert!((soma.diam_um - 9.2732).abs() < 1e-4);
        assert!((soma.area_um2 - 758.90).abs() < 1e-2);
    }

    /// Section and segment counts per list that NEURON 9.0.2 gives the other sample cells
    /// (read from NEURON through EModelRunner / BluePyEModel).
    #[test]
    fn other_sample_cells_have_neurons_counts() {
        let pk = real_packages();
        // (file, replacement, [(list, sections, segments)])
        type Counts = [(SectionList, usize, u32); 3];
        let cases: [(&str, AxonReplacement, Counts); 4] = [
            (
                "emodelrunner/thalamus_sample_dir/morphology/dend-jy180118_C_idD_axon-AA0318_-_Scale_x1.000_y1.050_z1.000.asc",
                AxonReplacement::Thalamus,
                [(SectionList::All, 138, 512), (SectionList::Axonal, 2, 10), (SectionList::Basal, 135, 501)],
            ),
            (
                "emodelrunner/synplas_sample_dir/morphology/dend-C120398A-P3_axon-sm100429a1-5_INT_idG_-_Scale_x1.000_y0.975_z1.000.asc",
                AxonReplacement::SscxMyelin,
                [(SectionList::All, 58, 180), (SectionList::Basal, 54, 164), (SectionList::Myelinated, 1, 5)],
            ),
            (
                "emodelrunner/synplas_sample_dir/morphology/dend-sm100429a1-5_INT_idG_axon-sm100429a1-5_INT_idE_-_Scale_x1.000_y0.950_z1.000_-_Clone_0.asc",
                AxonReplacement::SscxMyelin,
                [(SectionList::All, 55, 177), (SectionList::Basal, 51, 161), (SectionList::Axonal, 2, 10)],
            ),
            (
                "bluepyemodel/simplecell/morphologies/simple.swc",
                AxonReplacement::None,
                [(SectionList::All, 1, 1), (SectionList::Somatic, 1, 1), (SectionList::Axonal, 0, 0)],
            ),
        ];
        for (file, how, lists) in cases {
            let m = load(&pk.join(file), how).unwrap();
            let d = discretize_uniform(&m, 100.0);
            for (list, nsec, nseg) in lists {
                let secs: Vec<SectionId> = d.sections_in(list).collect();
                let segs: u32 = secs.iter().map(|s| d.sections[s.index()].nseg).sum();
                assert_eq!((secs.len(), segs), (nsec, nseg), "{file} {list}");
            }
        }
    }
}
