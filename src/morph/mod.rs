//! Morphology: read Neurolucida ASC and SWC files into sections of 3-D points following NEURON's
//! Import3d rules, name the section lists, and give the point geometry of a section's segments
//! ([`frusta`]). The packages' axon replacements are part of building the cell (`crate::cell`).
//!
//! Contract used by `discretize` and `package` (keep these names; add fields freely).
//!
//! The pipeline, one file per step:
//! - [`asc`] and [`swc`] read the file into [`import3d::RawCell`]: NEURON Import3d's own view
//!   of the file (branches of raw points, their types and parents);
//! - [`import3d`] turns that into the sections NEURON instantiates (soma contour to a centroid
//!   line, root branches attached at soma(0.5), names, 3-D points exactly as NEURON stores them);
//! - [`load_morphology`] then applies BluePyOpt's 40 µm rule.

pub mod asc;
pub mod frusta;
pub mod import3d;
pub mod swc;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics};

/// Index of a section in [`Morphology::sections`] (and in `Discretization::sections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SectionId(pub u32);

impl SectionId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a section is; decides its NEURON name (`soma`, `axon`, `dend`, `apic`, `myelin`) and the
/// one base section list it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum SectionKind {
    Soma,
    Axon,
    Basal,
    Apical,
    Myelin,
}

impl SectionKind {
    /// NEURON's section array name in the templates the packages use.
    pub fn neuron_name(self) -> &'static str {
        match self {
            SectionKind::Soma => "soma",
            SectionKind::Axon => "axon",
            SectionKind::Basal => "dend",
            SectionKind::Apical => "apic",
            SectionKind::Myelin => "myelin",
        }
    }

    /// The base section list holding sections of this kind.
    pub fn list(self) -> SectionList {
        match self {
            SectionKind::Soma => SectionList::Somatic,
            SectionKind::Axon => SectionList::Axonal,
            SectionKind::Basal => SectionList::Basal,
            SectionKind::Apical => SectionList::Apical,
            SectionKind::Myelin => SectionList::Myelinated,
        }
    }
}

/// NEURON's section lists of a cell template. `All` holds every section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum SectionList {
    All,
    Somatic,
    Axonal,
    Basal,
    Apical,
    Myelinated,
}

impl SectionList {
    pub const ALL: [SectionList; 6] = [
        SectionList::All,
        SectionList::Somatic,
        SectionList::Axonal,
        SectionList::Basal,
        SectionList::Apical,
        SectionList::Myelinated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SectionList::All => "all",
            SectionList::Somatic => "somatic",
            SectionList::Axonal => "axonal",
            SectionList::Basal => "basal",
            SectionList::Apical => "apical",
            SectionList::Myelinated => "myelinated",
        }
    }

    pub fn from_name(name: &str) -> Option<SectionList> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether a section of `kind` is a member of this list.
    pub fn contains(self, kind: SectionKind) -> bool {
        self == SectionList::All || kind.list() == self
    }
}

impl fmt::Display for SectionList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which axon replacement a package asks for (PACKAGES.md, "Building the cell").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AxonReplacement {
    /// Keep the axon of the morphology file.
    None,
    /// SSCx / BluePyEModel: two 30 µm tapered sections (nseg 5) plus a 1000 µm myelin section.
    SscxMyelin,
    /// Thalamus: two 30 µm tapered sections (nseg 5), no myelin.
    Thalamus,
    /// BluePyOpt's default stub: two 30 µm sections with nseg 1.
    BluePyOpt,
}

/// One 3-D point of a section, exactly as NEURON stores it (`Pt3d` in NEURON: single-precision
/// coordinates and diameter, double-precision arc length).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Pt3d {
    /// Position [µm].
    pub x_um: f32,
    pub y_um: f32,
    pub z_um: f32,
    /// Diameter [µm].
    pub diam_um: f32,
    /// Path length from the section's first point [µm], accumulated as NEURON does: coordinate
    /// differences in single precision, the rest in double precision.
    pub arc_um: f64,
}

impl Pt3d {
    /// Builds the points of a section from (x, y, z, diam) values already rounded the way they
    /// reach NEURON, computing the arc lengths as NEURON's `pt3dadd` does.
    pub fn section_points(values: &[[f32; 4]]) -> Vec<Pt3d> {
        let mut out: Vec<Pt3d> = Vec::with_capacity(values.len());
        for v in values {
            let arc_um = match out.last() {
                None => 0.0,
                Some(p) => {
                    // NEURON subtracts the stored floats in single precision, then squares and
                    // sums in double precision.
                    let dx = f64::from(v[0] - p.x_um);
                    let dy = f64::from(v[1] - p.y_um);
                    let dz = f64::from(v[2] - p.z_um);
                    p.arc_um + (dx * dx + dy * dy + dz * dz).sqrt()
                }
            };
            out.push(Pt3d {
                x_um: v[0],
                y_um: v[1],
                z_um: v[2],
                diam_um: v[3],
                arc_um,
            });
        }
        out
    }
}

/// The geometry of a section.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum Shape {
    /// 3-D points (at least two): length, areas, resistances and diameters come from their frusta.
    Points(Vec<Pt3d>),
    /// No 3-D points (the replaced axon, the myelin): a length and one diameter per segment, as
    /// set by `sec.L = ...` and `seg.diam = ...`. `diam_um.len()` is the section's nseg.
    Stylized { length_um: f64, diam_um: Vec<f64> },
}

/// Where a section's x = 0 end is attached: `parent(x)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Attachment {
    pub section: SectionId,
    /// Position on the parent section, in [0, 1] (0.5 for roots on an Import3d soma, 1 for forks).
    pub x: f64,
}

/// A section of the cell NEURON builds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Section {
    pub kind: SectionKind,
    /// Index in NEURON's section array of this kind: the section is `soma[i]`, `dend[i]`, ...
    pub index: u32,
    /// None for the root (the soma).
    pub parent: Option<Attachment>,
    pub shape: Shape,
    /// Number of segments (BluePyOpt's rule `1 + 2*int(L/40)`, or the replacement's own).
    pub nseg: u32,
    /// 1-based line of the file where the section's points start (None for made-up sections).
    pub line: Option<u32>,
}

impl Section {
    /// NEURON's name of the section inside its cell, e.g. `dend[12]`.
    pub fn name(&self) -> String {
        format!("{}[{}]", self.kind.neuron_name(), self.index)
    }

    /// `sec.L` [µm]: the arc length of the last 3-D point, or the stylized length.
    pub fn length_um(&self) -> f64 {
        match &self.shape {
            Shape::Points(p) => p.last().map_or(0.0, |p| p.arc_um),
            Shape::Stylized { length_um, .. } => *length_um,
        }
    }
}

/// A cell's sections in NEURON's order: the order in which the template's `all` section list
/// holds them (Import3d creates soma, axon, dend, apic arrays in that order; a replaced axon
/// and the myelin are appended last). Parents need not precede children in this order; use
/// [`Morphology::topological_order`] for that.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Morphology {
    /// The file it was read from.
    pub path: PathBuf,
    pub sections: Vec<Section>,
    /// Problems NEURON would only print (zero-length sections removed, root branches outside
    /// the soma, ...).
    pub warnings: Diagnostics,
}

impl Morphology {
    pub fn section(&self, id: SectionId) -> &Section {
        &self.sections[id.index()]
    }

    /// Children of every section, each list in section order.
    pub fn children(&self) -> Vec<Vec<SectionId>> {
        let mut ch = vec![Vec::new(); self.sections.len()];
        for (i, s) in self.sections.iter().enumerate() {
            if let Some(a) = s.parent {
                ch[a.section.index()].push(SectionId(i as u32));
            }
        }
        ch
    }

    /// Sections ordered so that every parent precedes its children: roots in section order,
    /// each followed (depth first) by its subtree, children in section order.
    pub fn topological_order(&self) -> Vec<SectionId> {
        let children = self.children();
        let mut order = Vec::with_capacity(self.sections.len());
        let mut stack: Vec<SectionId> = Vec::new();
        for (i, s) in self.sections.iter().enumerate().rev() {
            if s.parent.is_none() {
                stack.push(SectionId(i as u32));
            }
        }
        while let Some(id) = stack.pop() {
            order.push(id);
            for &c in children[id.index()].iter().rev() {
                stack.push(c);
            }
        }
        order
    }

    /// The first section of `kind` (e.g. `soma[0]`), if any.
    pub fn first_of(&self, kind: SectionKind) -> Option<SectionId> {
        self.sections
            .iter()
            .position(|s| s.kind == kind && s.index == 0)
            .map(|i| SectionId(i as u32))
    }
}

/// BluePyOpt's `set_nseg`: `1 + 2*int(L/40)` segments for a section of length `length_um`.
pub fn nseg_for_length(length_um: f64) -> u32 {
    nseg_for_length_with(length_um, 40.0)
}

/// `1 + 2*int(L/frequency)`, the odd segment count BluePyOpt gives a section.
pub fn nseg_for_length_with(length_um: f64, frequency_um: f64) -> u32 {
    let q = (length_um / frequency_um).trunc();
    // Lengths are finite and non-negative; the cast saturates for absurd ones.
    1 + 2 * (q as u32)
}

/// Reads a morphology file (`.asc` Neurolucida or `.swc`, by extension, case-insensitively) into
/// the cell NEURON 9 builds from it through BluePyOpt (Import3d, then the 40 µm rule), before
/// any axon replacement.
pub fn load_morphology(path: &Path) -> Result<Morphology, Diagnostics> {
    let mut diags = Diagnostics::new();
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            diags.push(Diagnostic::error(
                "morph-read",
                path,
                None,
                format!("cannot read morphology: {e}"),
            ));
            return Err(diags);
        }
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let raw = match ext.as_deref() {
        Some("asc") => asc::parse(&text, path),
        Some("swc") => swc::parse(&text, path),
        _ => {
            diags.push(
                Diagnostic::error("morph-format", path, None, "unknown morphology format")
                    .with_note("expected a Neurolucida `.asc` or an `.swc` file"),
            );
            return Err(diags);
        }
    }?;
    let mut morph = import3d::instantiate(raw, path)?;
    for s in &mut morph.sections {
        s.nseg = nseg_for_length(s.length_um());
    }
    Ok(morph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_micron_rule() {
        assert_eq!(nseg_for_length(0.5), 1);
        assert_eq!(nseg_for_length(39.999), 1);
        assert_eq!(nseg_for_length(40.0), 3);
        assert_eq!(nseg_for_length(125.0), 7);
    }

    #[test]
    fn load_reports_unreadable_and_unknown_files() {
        let err = load_morphology(Path::new("/nonexistent/cell.asc")).unwrap_err();
        assert_eq!(err.iter().next().unwrap().kind, "morph-read");
        let dir = std::env::temp_dir().join(format!("emsweep-morph-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let h5 = dir.join("cell.h5");
        std::fs::write(&h5, "x").unwrap();
        let err = load_morphology(&h5).unwrap_err();
        let d = err.iter().next().unwrap();
        assert_eq!((d.kind, d.file.as_path()), ("morph-format", h5.as_path()));
        // The extension is matched case-insensitively; errors name the file.
        let swc = dir.join("cell.SWC");
        std::fs::write(&swc, "1 1 0 0 0 5 -1\n2 3 0 0 oops 1 1\n").unwrap();
        let err = load_morphology(&swc).unwrap_err();
        let d = err.iter().next().unwrap();
        assert_eq!(d.kind, "swc-bad-line");
        assert_eq!(d.render(None), format!("error[swc-bad-line]: {}:2:1: field 5 `oops` is not a number\n    = an SWC point line is `id type x y z radius parent`", swc.display()));
        // A valid file goes through the whole pipeline.
        std::fs::write(
            &swc,
            "1 1 -5 0 0 5 -1\n2 1 0 0 0 5 1\n3 1 5 0 0 5 2\n4 3 5 0 0 1 3\n5 3 95 0 0 1 4\n",
        )
        .unwrap();
        let m = load_morphology(&swc).unwrap();
        let summary: Vec<(String, u32, f64)> = m
            .sections
            .iter()
            .map(|s| (s.name(), s.nseg, s.length_um()))
            .collect();
        assert_eq!(
            summary,
            [
                ("soma[0]".to_string(), 1, 10.0),
                ("dend[0]".to_string(), 5, 90.0)
            ]
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
