//! Discretisation: turn a morphology into NEURON's nodes and segments (areas, axial resistances,
//! diameters, path distances from soma(0.5)) and the parent order of the Hines solve.
//!
//! Contract used by `package` and `cell` (keep these names; add fields freely).
//!
//! NEURON's discretisation (treeset.cpp, solve.cpp), reproduced number for number:
//! - a section of nseg segments has a node at each segment centre (x = (i + ½)/nseg) and a
//!   zero-area node at x = 1; the root section also has a zero-area node at x = 0;
//! - a section's x = 0 end joins the parent's node at its connection point: the parent's x = 1
//!   node for `parent(1)`, the parent's own attachment node for `parent(0)`, and otherwise the
//!   centre node of the parent's segment containing x (soma(0.5) for Import3d roots);
//! - areas, diameters and half-segment resistances come from [`frusta`];
//! - the resistance between a segment's node and its parent node (`seg.ri()`) is the left half
//!   of the segment plus the right half of the previous segment of the same section (only the
//!   left half for a section's first segment); the x = 1 node's is the last right half;
//! - path distances follow `h.distance(soma(0.5), seg)` (NEURON's `topol_distance`).
//!
//! Ra is a per-section parameter the package sets later, so [`discretize`] takes it as input
//! (one value per section, Ω·cm); areas, diameters and distances do not depend on it.

use crate::morph::frusta;
use crate::morph::{Attachment, Morphology, Shape};
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
    /// Where its x = 0 end attaches (None for the root).
    pub parent: Option<Attachment>,
    /// Axial resistivity used for `ri` [Ω·cm].
    pub ra_ohm_cm: f64,
    /// The node the section's x = 0 end joins (the root's own x = 0 node for the root).
    pub start_node: NodeId,
    /// The section's zero-area node at x = 1.
    pub end_node: NodeId,
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
    /// The segment's node in [`Discretization::nodes`].
    pub node: NodeId,
}

/// Index of a node in [`Discretization::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An unknown of the cable equation: a segment centre, or a zero-area section end.
///
/// Nodes are ordered so that every parent precedes its children (`parent < self`), ready for a
/// Hines elimination. Between a node and its parent flows `g_axial_us · (v_parent − v)` [nA]
/// for voltages in mV. A zero-area node has no membrane (no capacitance, no mechanisms) but is
/// a full unknown of the matrix. (NEURON stores 100 as the "area" of these nodes so that their
/// matrix rows come out in µS; with absolute units, as here, nothing special is needed.)
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Node {
    pub section: SectionId,
    /// Position on the section: a segment centre in (0, 1), or 0 (the root's start) or 1.
    pub x: f64,
    /// None only for the first node (the root section's x = 0 end).
    pub parent: Option<NodeId>,
    /// Membrane area [µm²]; 0 for zero-area nodes.
    pub area_um2: f64,
    /// Axial resistance to the parent node [MΩ] (NEURON's `1/NODERINV`); infinite for the root.
    pub ri_megaohm: f64,
    /// Axial conductance to the parent node [µS] (NEURON's `NODERINV`); 0 for the root.
    pub g_axial_us: f64,
    /// The segment this node is the centre of; None for zero-area nodes.
    pub segment: Option<SegmentId>,
}

/// The discretised cell: sections in NEURON's creation order, segments grouped by section.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Discretization {
    pub sections: Vec<SectionGeom>,
    pub segments: Vec<Segment>,
    /// All nodes, parents first.
    pub nodes: Vec<Node>,
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

impl Discretization {
    /// The segment of section `id` that contains position x (NEURON's `sec(x)` for 0 < x < 1;
    /// x = 0 and x = 1 give the first and last segment).
    pub fn segment_at(&self, id: SectionId, x: f64) -> SegmentId {
        let s = &self.sections[id.index()];
        SegmentId(s.first_segment.0 + segment_index(s.nseg, x))
    }

    /// Parent index of every node (`None` for the first), in node order: the tree of the Hines
    /// solve.
    pub fn node_parents(&self) -> Vec<Option<NodeId>> {
        self.nodes.iter().map(|n| n.parent).collect()
    }
}

/// NEURON's `node_index`: the segment of a section of `nseg` segments that holds x.
fn segment_index(nseg: u32, x: f64) -> u32 {
    let n = f64::from(nseg);
    let i = (n * x.clamp(0.0, 1.0)) as u32;
    i.min(nseg.saturating_sub(1))
}

/// Per-section geometry before numbering: segment geometries from the frusta.
fn section_segments(
    morph: &Morphology,
    id: SectionId,
    ra_ohm_cm: f64,
) -> Vec<frusta::SegmentGeometry> {
    let s = morph.section(id);
    match &s.shape {
        Shape::Points(p) if p.len() >= 2 => frusta::from_points(p, s.nseg, ra_ohm_cm),
        Shape::Points(p) => {
            // Not produced by the readers; NEURON would use the segments' diameters.
            let d = p.first().map_or(1e-6, |q| f64::from(q.diam_um));
            frusta::from_cylinders(s.length_um(), &vec![d; s.nseg as usize], ra_ohm_cm)
        }
        Shape::Stylized { length_um, diam_um } => {
            frusta::from_cylinders(*length_um, diam_um, ra_ohm_cm)
        }
    }
}

/// Discretises `morph` with axial resistivity `ra_ohm_cm[i]` [Ω·cm] for section i.
///
/// # Panics
/// When `ra_ohm_cm` does not hold one value per section (a caller's mistake, not input).
pub fn discretize(morph: &Morphology, ra_ohm_cm: &[f64]) -> Discretization {
    assert_eq!(
        ra_ohm_cm.len(),
        morph.sections.len(),
        "discretize needs one Ra per section"
    );
    let nsec = morph.sections.len();
    let geoms: Vec<Vec<frusta::SegmentGeometry>> = (0..nsec)
        .map(|i| section_segments(morph, SectionId(i as u32), ra_ohm_cm[i]))
        .collect();

    // Segments numbered in section order.
    let mut first_segment = Vec::with_capacity(nsec);
    let mut count = 0u32;
    for g in &geoms {
        first_segment.push(SegmentId(count));
        count += g.len() as u32;
    }

    // Nodes numbered parents first.
    let order = morph.topological_order();
    let mut nodes: Vec<Node> = Vec::with_capacity(count as usize + nsec + 1);
    let mut start_node = vec![NodeId(0); nsec];
    let mut end_node = vec![NodeId(0); nsec];
    let mut seg_node = vec![NodeId(0); count as usize];
    let mut topo_rank = vec![0usize; nsec];
    for (rank, &id) in order.iter().enumerate() {
        let i = id.index();
        topo_rank[i] = rank;
        let sec = morph.section(id);
        let start = match sec.parent {
            None => {
                nodes.push(Node {
                    section: id,
                    x: 0.0,
                    parent: None,
                    area_um2: 0.0,
                    ri_megaohm: f64::INFINITY,
                    g_axial_us: 0.0,
                    segment: None,
                });
                NodeId(nodes.len() as u32 - 1)
            }
            Some(a) => {
                let p = a.section.index();
                if a.x <= 0.0 {
                    start_node[p]
                } else if a.x >= 1.0 {
                    end_node[p]
                } else {
                    let k = segment_index(morph.sections[p].nseg, a.x);
                    seg_node[(first_segment[p].0 + k) as usize]
                }
            }
        };
        start_node[i] = start;
        let mut prev = start;
        let mut r_prev = 0.0f64;
        for (k, g) in geoms[i].iter().enumerate() {
            let g_axial = 1.0 / (r_prev + g.r_left_megaohm);
            let seg = SegmentId(first_segment[i].0 + k as u32);
            nodes.push(Node {
                section: id,
                x: (k as f64 + 0.5) / geoms[i].len() as f64,
                parent: Some(prev),
                area_um2: g.area_um2,
                ri_megaohm: 1.0 / g_axial,
                g_axial_us: g_axial,
                segment: Some(seg),
            });
            prev = NodeId(nodes.len() as u32 - 1);
            seg_node[seg.0 as usize] = prev;
            r_prev = g.r_right_megaohm;
        }
        let g_axial = 1.0 / r_prev;
        nodes.push(Node {
            section: id,
            x: 1.0,
            parent: Some(prev),
            area_um2: 0.0,
            ri_megaohm: 1.0 / g_axial,
            g_axial_us: g_axial,
            segment: None,
        });
        end_node[i] = NodeId(nodes.len() as u32 - 1);
    }

    // Path distances from soma[0](0.5).
    let origin = morph
        .first_of(SectionKind::Soma)
        .or_else(|| order.first().copied());
    let length: Vec<f64> = morph
        .sections
        .iter()
        .map(|s| s.length_um().max(1e-9))
        .collect();
    let node_dist = |sec: usize, node: NodeId| -> f64 {
        if node == start_node[sec] {
            0.0
        } else if node == end_node[sec] {
            length[sec]
        } else {
            let n = &nodes[node.index()];
            let nseg = geoms[sec].len() as f64;
            let k = n.segment.map_or(0, |s| s.0 - first_segment[sec].0) as f64;
            length[sec] * ((k + 0.5) / nseg)
        }
    };
    let parent_sec = |sec: usize| morph.sections[sec].parent.map(|a| a.section.index());
    let distance = |from: (usize, NodeId), to: (usize, NodeId)| -> f64 {
        let (mut s1, mut n1) = (Some(from.0), from.1);
        let (mut s2, mut n2) = (Some(to.0), to.1);
        let mut d = 0.0f64;
        while s1 != s2 {
            let move_first = match (s1, s2) {
                (None, _) => false,
                (_, None) => true,
                (Some(a), Some(b)) => topo_rank[a] > topo_rank[b],
            };
            if move_first {
                let a = s1.expect("moving a section up");
                d += node_dist(a, n1);
                n1 = start_node[a];
                s1 = parent_sec(a);
            } else {
                let b = s2.expect("moving a section up");
                d += node_dist(b, n2);
                n2 = start_node[b];
                s2 = parent_sec(b);
            }
        }
        match s1 {
            None => {
                if n1 != n2 {
                    d = 1e20;
                }
            }
            Some(s) => {
                if n1 != n2 {
                    let x1 = node_dist(s, n1);
                    let x2 = node_dist(s, n2);
                    d += if x1 < x2 { x2 - x1 } else { x1 - x2 };
                }
            }
        }
        d
    };

    let mut sections = Vec::with_capacity(nsec);
    let mut segments = Vec::with_capacity(count as usize);
    let origin_node = origin.map(|o| {
        let k = segment_index(geoms[o.index()].len() as u32, 0.5);
        (
            o.index(),
            seg_node[(first_segment[o.index()].0 + k) as usize],
        )
    });
    for (i, sec) in morph.sections.iter().enumerate() {
        let id = SectionId(i as u32);
        sections.push(SectionGeom {
            name: sec.name(),
            kind: sec.kind,
            nseg: geoms[i].len() as u32,
            length_um: sec.length_um(),
            first_segment: first_segment[i],
            parent: sec.parent,
            ra_ohm_cm: ra_ohm_cm[i],
            start_node: start_node[i],
            end_node: end_node[i],
        });
        for (k, g) in geoms[i].iter().enumerate() {
            let seg = first_segment[i].0 as usize + k;
            let node = seg_node[seg];
            let distance_um = origin_node.map_or(0.0, |o| distance(o, (i, node)));
            segments.push(Segment {
                section: id,
                x: (k as f64 + 0.5) / geoms[i].len() as f64,
                area_um2: g.area_um2,
                ri_megaohm: nodes[node.index()].ri_megaohm,
                diam_um: g.diam_um,
                distance_um,
                node,
            });
        }
    }
    Discretization {
        sections,
        segments,
        nodes,
    }
}

/// [`discretize`] with the same Ra [Ω·cm] in every section.
pub fn discretize_uniform(morph: &Morphology, ra_ohm_cm: f64) -> Discretization {
    discretize(morph, &vec![ra_ohm_cm; morph.sections.len()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::morph::{Pt3d, Section};
    use std::f64::consts::PI;
    use std::path::PathBuf;

    fn straight(x0: f32, x1: f32, d: f32) -> Shape {
        Shape::Points(Pt3d::section_points(&[
            [x0, 0.0, 0.0, d],
            [x1, 0.0, 0.0, d],
        ]))
    }

    fn section(
        kind: SectionKind,
        index: u32,
        parent: Option<(u32, f64)>,
        shape: Shape,
        nseg: u32,
    ) -> Section {
        Section {
            kind,
            index,
            parent: parent.map(|(s, x)| Attachment {
                section: SectionId(s),
                x,
            }),
            shape,
            nseg,
            line: None,
        }
    }

    /// soma (L 20, d 20, 1 seg), dend[0] at soma(0.5) (L 100, d 2, 5 segs), dend[1] at
    /// dend[0](1) (L 40, d 1, 3 segs), axon[0] at soma(1) (stylized L 30, 2 segs).
    fn cylinders() -> Morphology {
        Morphology {
            path: PathBuf::from("cylinders"),
            sections: vec![
                section(SectionKind::Soma, 0, None, straight(-10.0, 10.0, 20.0), 1),
                section(
                    SectionKind::Axon,
                    0,
                    Some((0, 1.0)),
                    Shape::Stylized {
                        length_um: 30.0,
                        diam_um: vec![1.5, 1.0],
                    },
                    2,
                ),
                section(
                    SectionKind::Basal,
                    0,
                    Some((0, 0.5)),
                    straight(0.0, 100.0, 2.0),
                    5,
                ),
                section(
                    SectionKind::Basal,
                    1,
                    Some((2, 1.0)),
                    straight(100.0, 140.0, 1.0),
                    3,
                ),
            ],
            warnings: Diagnostics::new(),
        }
    }

    /// Resistance of a cylinder [MΩ]: Ra [Ω·cm] · L [µm] / (π d² / 4) [µm²] · 1e-2.
    fn r_cyl(ra: f64, l: f64, d: f64) -> f64 {
        ra * l / (PI * d * d / 4.0) * 1e-2
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs() + 1e-12
    }

    #[test]
    fn cylinders_have_textbook_areas_resistances_and_distances() {
        let ra = [100.0, 150.0, 80.0, 80.0];
        let d = discretize(&cylinders(), &ra);
        let names: Vec<&str> = d.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["soma[0]", "axon[0]", "dend[0]", "dend[1]"]);
        assert_eq!(d.segments.len(), 1 + 2 + 5 + 3);

        let soma = &d.segments[0];
        assert!(close(soma.area_um2, PI * 20.0 * 20.0));
        assert!(close(soma.ri_megaohm, r_cyl(100.0, 10.0, 20.0)));
        assert_eq!(soma.distance_um, 0.0);

        // The axon hangs from soma(1): its first segment's ri is its own left half only, the
        // second's the two halves around the centres; distances go through half the soma.
        let ax: Vec<&Segment> = d
            .segments_of(SectionId(1))
            .map(|s| &d.segments[s.0 as usize])
            .collect();
        assert!(close(ax[0].area_um2, PI * 1.5 * 15.0));
        assert!(close(ax[0].ri_megaohm, r_cyl(150.0, 7.5, 1.5)));
        assert!(close(
            ax[1].ri_megaohm,
            r_cyl(150.0, 7.5, 1.5) + r_cyl(150.0, 7.5, 1.0)
        ));
        assert!(close(ax[0].distance_um, 10.0 + 7.5));
        assert!(close(ax[1].distance_um, 10.0 + 22.5));
        assert_eq!(ax[1].diam_um, 1.0);

        // dend[0] hangs from soma(0.5): no part of the soma in its distances.
        let de: Vec<&Segment> = d
            .segments_of(SectionId(2))
            .map(|s| &d.segments[s.0 as usize])
            .collect();
        for (k, s) in de.iter().enumerate() {
            assert!(close(s.area_um2, PI * 2.0 * 20.0));
            assert!(close(s.distance_um, 20.0 * (k as f64 + 0.5)));
            let r = if k == 0 {
                r_cyl(80.0, 10.0, 2.0)
            } else {
                r_cyl(80.0, 20.0, 2.0)
            };
            assert!(close(s.ri_megaohm, r), "{k}: {} vs {r}", s.ri_megaohm);
        }
        let d1_first = &d.segments[d.segments_of(SectionId(3)).next().unwrap().0 as usize];
        assert!(close(d1_first.distance_um, 100.0 + 40.0 / 6.0));

        // Zero-area end nodes carry the last half resistance; dend[1] starts on dend[0]'s end.
        let g = &d.sections[2];
        let end = &d.nodes[g.end_node.index()];
        assert_eq!(end.area_um2, 0.0);
        assert!(close(end.ri_megaohm, r_cyl(80.0, 10.0, 2.0)));
        assert_eq!(d.sections[3].start_node, g.end_node);
        // dend[0] starts on the soma's centre node, the axon on the soma's end node.
        assert_eq!(d.sections[2].start_node, d.segments[0].node);
        assert_eq!(d.sections[1].start_node, d.sections[0].end_node);
    }

    #[test]
    fn node_tree_counts_and_order() {
        let d = discretize_uniform(&cylinders(), 100.0);
        // One node per segment, one x = 1 node per section, the root's x = 0 node.
        assert_eq!(d.nodes.len(), d.segments.len() + d.sections.len() + 1);
        assert_eq!(d.nodes[0].parent, None);
        for (i, n) in d.nodes.iter().enumerate().skip(1) {
            let p = n.parent.expect("only the first node has no parent");
            assert!(p.index() < i);
            assert!(close(n.g_axial_us * n.ri_megaohm, 1.0));
        }
        for (i, s) in d.segments.iter().enumerate() {
            assert_eq!(d.nodes[s.node.index()].segment, Some(SegmentId(i as u32)));
            assert_eq!(d.nodes[s.node.index()].area_um2, s.area_um2);
        }
    }

    /// A random tree: each section i > 0 hangs from an earlier one at 0, 0.5 or 1, with random
    /// lengths, diameters and segment counts; section order shuffled by kind so that parents
    /// may come after their children in section order.
    fn random_tree(
        parents: &[(usize, u8)],
        lens: &[f32],
        nsegs: &[u32],
        kinds: &[u8],
    ) -> Morphology {
        let kind_of = |k: u8| match k % 3 {
            0 => SectionKind::Axon,
            1 => SectionKind::Basal,
            _ => SectionKind::Apical,
        };
        let mut sections = vec![section(
            SectionKind::Soma,
            0,
            None,
            straight(0.0, 10.0, 10.0),
            1,
        )];
        let mut count = [0u32; 3];
        for i in 0..parents.len() {
            let (p, xsel) = parents[i];
            let x = [0.0, 0.5, 1.0][usize::from(xsel % 3)];
            let k = kind_of(kinds[i]);
            let idx = &mut count[usize::from(kinds[i] % 3)];
            sections.push(section(
                k,
                *idx,
                Some(((p % (i + 1)) as u32, x)),
                straight(0.0, lens[i], 1.0 + lens[i] / 100.0),
                nsegs[i],
            ));
            *idx += 1;
        }
        Morphology {
            path: PathBuf::from("random"),
            sections,
            warnings: Diagnostics::new(),
        }
    }

    proptest::proptest! {
        #[test]
        fn parents_precede_children(
            spec in proptest::collection::vec((0usize..50, 0u8..3, 1.0f32..300.0, 1u32..8, 0u8..3), 1..40)
        ) {
            let parents: Vec<(usize, u8)> = spec.iter().map(|s| (s.0, s.1)).collect();
            let lens: Vec<f32> = spec.iter().map(|s| s.2).collect();
            let nsegs: Vec<u32> = spec.iter().map(|s| s.3).collect();
            let kinds: Vec<u8> = spec.iter().map(|s| s.4).collect();
            let m = random_tree(&parents, &lens, &nsegs, &kinds);
            let d = discretize_uniform(&m, 100.0);
            proptest::prop_assert_eq!(d.nodes.len(), d.segments.len() + d.sections.len() + 1);
            for (i, n) in d.nodes.iter().enumerate() {
                match n.parent {
                    None => proptest::prop_assert_eq!(i, 0),
                    Some(p) => proptest::prop_assert!(p.index() < i),
                }
            }
            // Distances never decrease from a segment to the next one of its section.
            for s in 0..d.sections.len() {
                let segs: Vec<f64> = d.segments_of(SectionId(s as u32)).map(|g| d.segments[g.0 as usize].distance_um).collect();
                for w in segs.windows(2) {
                    proptest::prop_assert!(w[1] > w[0]);
                }
            }
            let order = m.topological_order();
            proptest::prop_assert_eq!(order.len(), m.sections.len());
        }
    }
}
