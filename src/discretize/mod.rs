//! Discretisation: turn a morphology into NEURON's nodes and segments (areas, axial resistances,
//! diameters, path distances from soma(0.5)) and the parent order of the Hines solve.
//!
//! Contract used by `package` and `cell` (keep these names; add fields freely).

use crate::morph::{SectionId, SectionKind, SectionList};

/// Index of a segment (a node with membrane, at a segment centre) in [`Discretization::segments`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct SegmentId(pub u32);

/// A section after discretisation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SectionGeom {
    /// NEURON's name, e.g. `soma[0]`, `dend[12]`, `apic[3]`, `axon[1]`, `myelin[0]`.
    pub name: String,
    pub kind: SectionKind,
    pub nseg: u32,
    pub length_um: f64,
    /// Segments of this section are `first_segment .. first_segment + nseg`, in order of x.
    pub first_segment: SegmentId,
}

/// A segment (compartment) of a section.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Segment {
    pub section: SectionId,
    /// Position of the segment centre along its section, in (0, 1).
    pub x: f64,
    /// NEURON's `seg.area()` [µm²].
    pub area_um2: f64,
    /// NEURON's `seg.ri()`: resistance between this node and its parent node [MΩ].
    pub ri_megaohm: f64,
    /// NEURON's `seg.diam` [µm].
    pub diam_um: f64,
    /// NEURON's `h.distance(soma(0.5), seg)` [µm].
    pub distance_um: f64,
}

/// The discretised cell: sections in NEURON's creation order, segments grouped by section.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Discretization {
    pub sections: Vec<SectionGeom>,
    pub segments: Vec<Segment>,
}

impl Discretization {
    /// Sections that are members of `list`, in section order.
    pub fn sections_in(&self, list: SectionList) -> impl Iterator<Item = SectionId> + '_ {
        self.sections
            .iter()
            .enumerate()
            .filter(move |(_, s)| list.contains(s.kind))
            .map(|(i, _)| SectionId(i as u32))
    }

    /// Segments of section `id`, in order of x.
    pub fn segments_of(&self, id: SectionId) -> impl Iterator<Item = SegmentId> {
        let s = &self.sections[id.index()];
        let first = s.first_segment.0;
        (first..first + s.nseg).map(SegmentId)
    }
}
