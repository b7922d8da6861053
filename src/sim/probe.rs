//! Probes: where each recording of a protocol is read on the discretised cell, following the
//! location classes the tools use (BluePyOpt's, through EModelRunner and BluePyEModel).
//!
//! The rules, as NEURON runs them:
//! - `soma.v` is `somatic[0](0.5)`; BluePyEModel's `ais` is `axonal[0](0.5)`.
//! - `nrnseclistcomp` (`seclist_name`, `sec_index`, `comp_x`): the `sec_index`-th section of a
//!   section list (`all`, `somatic`, `basal`, ...) or of a section array (`soma`, `axon`,
//!   `dend`, `apic`, `myelin`), at `comp_x`.
//! - `somadistance` (BluePyOpt's `NrnSomaDistanceCompLocation`): the path distances from
//!   soma[0](0.5) of each section's two ends are computed (NEURON's `distance`, from node
//!   positions); every section of the list whose ends bracket the distance D gives
//!   x = (D − min)/(max − min), and the *last* such section of the list wins.
//! - EModelRunner's `somadistanceapic` (`NrnSecSomaDistanceCompLocation`): the same search, but
//!   over the path from section `apic[apical_point_isec]` up to (not including) soma[0],
//!   visited from the apical point towards the soma (so the most proximal bracketing section
//!   wins). The list name is mapped to its array (`apical` → `apic`, `somatic` → `soma`,
//!   `axonal` → `axon`, `myelinated` → `myelin`).
//! - BluePyEModel's `somadistanceapic` (`NrnTrunkSomaDistanceCompLocation`, direction
//!   "radial"): the apical point is the section of the list whose last 3-D point lies farthest
//!   from the origin of the coordinates (the first one on ties); then as above.
//! - A point `sec(x)` reads its voltage at the node of the segment holding x, except at x = 0
//!   (the node the section's 0-end joins, on its parent) and x = 1 (the section's zero-area
//!   end node); mechanism variables (`cai`) are read on the segment holding x (the first or
//!   last segment at x = 0 or 1).

use crate::cell::Cell;
use crate::diag::{Diagnostic, Diagnostics};
use crate::discretize::{Discretization, NodeId, SegmentId};
use crate::morph::{SectionId, SectionKind, SectionList, Shape};
use crate::package::{Dialect, EModel, Protocol, Recording, RecordingSite};

/// What a probe reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProbeVariable {
    /// Membrane potential [mV].
    V,
    /// Internal calcium concentration [mM] (a state where a mechanism writes it).
    Cai,
}

impl ProbeVariable {
    pub fn from_name(name: &str) -> Option<ProbeVariable> {
        match name {
            "v" => Some(ProbeVariable::V),
            "cai" => Some(ProbeVariable::Cai),
            _ => None,
        }
    }

    /// NEURON's name.
    pub fn name(self) -> &'static str {
        match self {
            ProbeVariable::V => "v",
            ProbeVariable::Cai => "cai",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            ProbeVariable::V => "mV",
            ProbeVariable::Cai => "mM",
        }
    }
}

/// A recording resolved on the cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The recording's name without the protocol (`soma.v`, `dend1.v`, `ca_soma.cai`).
    pub name: String,
    pub variable: ProbeVariable,
    pub section: SectionId,
    /// The position on the section that was asked for, in [0, 1].
    pub x: f64,
    /// The segment whose mechanism and ion variables are read.
    pub segment: SegmentId,
    /// The node whose voltage is read.
    pub node: NodeId,
}

/// A location, in the terms of the tools' location classes.
#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    /// `NrnSeclistCompLocation`: a list's or array's `sec_index`-th section at `comp_x`.
    SeclistComp {
        seclist: String,
        sec_index: u32,
        comp_x: f64,
    },
    /// `NrnSomaDistanceCompLocation`.
    SomaDistance { seclist: String, distance_um: f64 },
    /// `NrnSecSomaDistanceCompLocation`: along the path from `array[sec_index]` to the soma.
    SomaDistanceOnPath {
        array: String,
        sec_index: u32,
        distance_um: f64,
    },
    /// `NrnTrunkSomaDistanceCompLocation` with direction "radial".
    Trunk { seclist: String, distance_um: f64 },
}

/// The sections NEURON iterates for `getattr(icell, name)`: a section list (in the cell's
/// section order) or a section array (in index order).
pub fn sections_named(disc: &Discretization, name: &str) -> Option<Vec<SectionId>> {
    if let Some(list) = SectionList::from_name(name) {
        return Some(disc.sections_in(list).collect());
    }
    let kind = [
        SectionKind::Soma,
        SectionKind::Axon,
        SectionKind::Basal,
        SectionKind::Apical,
        SectionKind::Myelin,
    ]
    .into_iter()
    .find(|k| k.neuron_name() == name)?;
    let mut secs: Vec<(u32, SectionId)> = disc
        .sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == kind)
        .map(|(i, s)| (array_index(&s.name), SectionId(i as u32)))
        .collect();
    secs.sort();
    Some(secs.into_iter().map(|(_, s)| s).collect())
}

/// `dend[12]` → 12.
fn array_index(name: &str) -> u32 {
    name.rsplit_once('[')
        .and_then(|(_, rest)| rest.trim_end_matches(']').parse().ok())
        .unwrap_or(0)
}

/// Path distances from soma[0](0.5), computed the way NEURON's `distance` walks the tree.
struct Distances<'a> {
    disc: &'a Discretization,
    origin_section: Option<SectionId>,
    origin_node: NodeId,
}

impl<'a> Distances<'a> {
    fn new(disc: &'a Discretization) -> Distances<'a> {
        let origin_section = disc
            .sections
            .iter()
            .position(|s| s.kind == SectionKind::Soma)
            .or_else(|| disc.sections.iter().position(|s| s.parent.is_none()))
            .map(|i| SectionId(i as u32));
        let origin_node = origin_section.map_or(NodeId(0), |s| {
            disc.segments[disc.segment_at(s, 0.5).0 as usize].node
        });
        Distances {
            disc,
            origin_section,
            origin_node,
        }
    }

    fn length(&self, s: SectionId) -> f64 {
        self.disc.sections[s.index()].length_um.max(1e-9)
    }

    /// Position of `node` along section `s` [µm].
    fn node_position(&self, s: SectionId, node: NodeId) -> f64 {
        let g = &self.disc.sections[s.index()];
        if node == g.start_node {
            0.0
        } else if node == g.end_node {
            self.length(s)
        } else {
            let seg = self.disc.nodes[node.index()]
                .segment
                .map_or(0, |k| k.0 - g.first_segment.0);
            self.length(s) * ((f64::from(seg) + 0.5) / f64::from(g.nseg))
        }
    }

    fn depth(&self, mut s: SectionId) -> usize {
        let mut d = 0;
        while let Some(p) = self.disc.sections[s.index()].parent {
            s = p.section;
            d += 1;
        }
        d
    }

    /// NEURON's `distance(origin, node of s)`.
    fn to_node(&self, s: SectionId, node: NodeId) -> f64 {
        let Some(o) = self.origin_section else {
            return 1e20;
        };
        let parent = |s: SectionId| self.disc.sections[s.index()].parent.map(|a| a.section);
        let (mut s1, mut n1) = (Some(s), node);
        let (mut s2, mut n2) = (Some(o), self.origin_node);
        let (mut d1, mut d2) = (self.depth(s), self.depth(o));
        let mut d = 0.0f64;
        while s1 != s2 {
            match (s1, s2) {
                (Some(a), _) if d1 >= d2 => {
                    d += self.node_position(a, n1);
                    n1 = self.disc.sections[a.index()].start_node;
                    s1 = parent(a);
                    d1 = d1.saturating_sub(1);
                }
                (_, Some(b)) => {
                    d += self.node_position(b, n2);
                    n2 = self.disc.sections[b.index()].start_node;
                    s2 = parent(b);
                    d2 = d2.saturating_sub(1);
                }
                _ => return 1e20,
            }
        }
        match s1 {
            Some(s) if n1 != n2 => {
                let (x1, x2) = (self.node_position(s, n1), self.node_position(s, n2));
                d + if x1 < x2 { x2 - x1 } else { x1 - x2 }
            }
            Some(_) => d,
            None if n1 != n2 => 1e20,
            None => d,
        }
    }

    /// `h.distance(1, 0.0, sec=s)` and `h.distance(1, 1.0, sec=s)`.
    fn ends(&self, s: SectionId) -> (f64, f64) {
        let g = &self.disc.sections[s.index()];
        (self.to_node(s, g.start_node), self.to_node(s, g.end_node))
    }
}

/// BluePyOpt's `find_icomp`: the last section of `sections` whose ends bracket `distance_um`.
fn find_icomp(
    disc: &Discretization,
    sections: &[SectionId],
    distance_um: f64,
) -> Result<(SectionId, f64), String> {
    let dist = Distances::new(disc);
    let mut found = None;
    for &s in sections {
        let (a, b) = dist.ends(s);
        let (lo, hi) = (a.min(b), a.max(b));
        if lo <= distance_um && distance_um <= hi {
            if hi - lo == 0.0 {
                return Err(format!(
                    "section {} has no length between its ends (division by zero in the tool)",
                    disc.sections[s.index()].name
                ));
            }
            let x = (distance_um - lo) / (hi - lo);
            if disc.segments[disc.segment_at(s, x).0 as usize].diam_um > 0.0 {
                found = Some((s, x));
            }
        }
    }
    found.ok_or_else(|| format!("no section found at {distance_um} µm from the soma"))
}

/// The sections from `s` up to, not including, soma[0] (apical point first).
fn path_to_soma(disc: &Discretization, mut s: SectionId) -> Result<Vec<SectionId>, String> {
    let mut path = Vec::new();
    loop {
        let g = &disc.sections[s.index()];
        if g.name == "soma[0]" {
            return Ok(path);
        }
        path.push(s);
        match g.parent {
            Some(p) => s = p.section,
            None => return Err(format!("soma[0] is not reached from {}", g.name)),
        }
    }
}

fn nth(disc: &Discretization, name: &str, index: u32) -> Result<SectionId, String> {
    let secs = sections_named(disc, name)
        .ok_or_else(|| format!("the cell has no section list or array `{name}`"))?;
    secs.get(index as usize).copied().ok_or_else(|| {
        format!(
            "section index {index} is out of `{name}`, which holds {} sections",
            secs.len()
        )
    })
}

/// The section and position of a location on the cell.
pub fn locate(cell: &Cell, loc: &Location) -> Result<(SectionId, f64), String> {
    let disc = &cell.disc;
    match loc {
        Location::SeclistComp {
            seclist,
            sec_index,
            comp_x,
        } => {
            if !(0.0..=1.0).contains(comp_x) {
                return Err(format!("comp_x {comp_x} is outside [0, 1]"));
            }
            Ok((nth(disc, seclist, *sec_index)?, *comp_x))
        }
        Location::SomaDistance {
            seclist,
            distance_um,
        } => {
            let secs = sections_named(disc, seclist)
                .ok_or_else(|| format!("the cell has no section list or array `{seclist}`"))?;
            find_icomp(disc, &secs, *distance_um)
        }
        Location::SomaDistanceOnPath {
            array,
            sec_index,
            distance_um,
        } => {
            let start = nth(disc, array, *sec_index)?;
            find_icomp(disc, &path_to_soma(disc, start)?, *distance_um)
        }
        Location::Trunk {
            seclist,
            distance_um,
        } => {
            let secs = sections_named(disc, seclist)
                .ok_or_else(|| format!("the cell has no section list or array `{seclist}`"))?;
            let mut best: Option<(f64, usize)> = None;
            for (i, s) in secs.iter().enumerate() {
                let Shape::Points(p) = &cell.morphology.sections[s.index()].shape else {
                    return Err(format!(
                        "section {} has no 3-D points to find the trunk with",
                        disc.sections[s.index()].name
                    ));
                };
                let Some(last) = p.last() else {
                    return Err("a section without 3-D points".into());
                };
                let (x, y, z) = (
                    f64::from(last.x_um),
                    f64::from(last.y_um),
                    f64::from(last.z_um),
                );
                let r = (x * x + y * y + z * z).sqrt();
                if best.is_none_or(|(b, _)| r > b) {
                    best = Some((r, i));
                }
            }
            let (_, i) = best.ok_or_else(|| format!("`{seclist}` holds no section"))?;
            find_icomp(disc, &path_to_soma(disc, secs[i])?, *distance_um)
        }
    }
}

/// Where `sec(x)` reads: (segment for mechanism variables, node for the voltage).
pub fn read_points(disc: &Discretization, section: SectionId, x: f64) -> (SegmentId, NodeId) {
    let segment = disc.segment_at(section, x);
    let g = &disc.sections[section.index()];
    let node = if x <= 0.0 {
        g.start_node
    } else if x >= 1.0 {
        g.end_node
    } else {
        disc.segments[segment.0 as usize].node
    };
    (segment, node)
}

/// EModelRunner's map from list names to section arrays (`seclist_to_sec`).
fn array_of_list(name: &str) -> Option<&'static str> {
    match name {
        "somatic" => Some("soma"),
        "apical" => Some("apic"),
        "axonal" => Some("axon"),
        "myelinated" => Some("myelin"),
        _ => None,
    }
}

/// The location class a recording site stands for in `em`'s dialect.
pub fn location_of(site: &RecordingSite, em: &EModel) -> Result<Location, String> {
    Ok(match site {
        RecordingSite::Soma => Location::SeclistComp {
            seclist: "somatic".into(),
            sec_index: 0,
            comp_x: 0.5,
        },
        RecordingSite::Ais => Location::SeclistComp {
            seclist: "axonal".into(),
            sec_index: 0,
            comp_x: 0.5,
        },
        RecordingSite::SomaDistance {
            distance_um,
            seclist,
        } => Location::SomaDistance {
            seclist: seclist.clone(),
            distance_um: *distance_um,
        },
        RecordingSite::SomaDistanceApic {
            distance_um,
            seclist,
        } => match em.dialect {
            Dialect::BluePyEModel => Location::Trunk {
                seclist: seclist.clone(),
                distance_um: *distance_um,
            },
            _ => {
                let array = array_of_list(seclist).ok_or_else(|| {
                    format!("EModelRunner maps no section array to the list `{seclist}`")
                })?;
                let sec_index = em.apical_point_isec.ok_or_else(|| {
                    "`somadistanceapic` needs `[Protocol] apical_point_isec`".to_string()
                })?;
                Location::SomaDistanceOnPath {
                    array: array.into(),
                    sec_index,
                    distance_um: *distance_um,
                }
            }
        },
        RecordingSite::SeclistComp {
            seclist,
            sec_index,
            comp_x,
        } => Location::SeclistComp {
            seclist: seclist.clone(),
            sec_index: *sec_index,
            comp_x: *comp_x,
        },
    })
}

/// Resolves one recording of `em` on its built cell.
pub fn resolve(rec: &Recording, em: &EModel, cell: &Cell) -> Result<Probe, String> {
    let variable = ProbeVariable::from_name(&rec.variable).ok_or_else(|| {
        format!(
            "recording `{}`: variable `{}` is not recorded by emsweep (v, cai)",
            rec.name, rec.variable
        )
    })?;
    let loc = location_of(&rec.site, em).map_err(|m| format!("recording `{}`: {m}", rec.name))?;
    let (section, x) = locate(cell, &loc).map_err(|m| format!("recording `{}`: {m}", rec.name))?;
    let (segment, node) = read_points(&cell.disc, section, x);
    Ok(Probe {
        name: rec.name.clone(),
        variable,
        section,
        x,
        segment,
        node,
    })
}

/// Resolves every recording of a protocol, in its order; a recording that cannot be placed
/// is reported at the protocol and left out.
pub fn resolve_protocol(
    protocol: &Protocol,
    em: &EModel,
    cell: &Cell,
) -> (Vec<Probe>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut probes = Vec::new();
    for rec in &protocol.recordings {
        match resolve(rec, em, cell) {
            Ok(p) => probes.push(p),
            Err(m) => diags.push(recording_error(protocol, m)),
        }
    }
    (probes, diags)
}

fn recording_error(protocol: &Protocol, message: String) -> Diagnostic {
    protocol.origin.error(
        "recording",
        format!("protocol `{}`: {message}", protocol.name),
    )
}
