//! Cell building: the cell NEURON builds from an e-model — morphology read with Import3d's rules,
//! the package's axon replacement, NEURON's discretisation, mechanisms inserted and every parameter
//! resolved on every segment, plus the package-type rules the packages' own runners apply.

pub mod axon;

use std::collections::BTreeMap;

use crate::diag::Diagnostics;
use crate::discretize::{discretize, Discretization, SegmentId};
use crate::morph::{Morphology, SectionId, SectionList};
use crate::package::{resolve_parameters, Dialect, EModel, PackageType, ResolvedParameters};

/// NEURON's default axial resistivity when a package does not set `Ra` [Ω·cm].
pub const DEFAULT_RA_OHM_CM: f64 = 35.4;

/// EModelRunner's synplas runners build their cells with `fixhp=True`: after the parameters are set,
/// this mechanism is removed from the somatic and axonal sections ("hyperpolarisation workaround").
const SYNPLAS_FIXHP_MECHANISM: &str = "SK_E2";

/// A built cell: geometry and everything the package sets on it.
#[derive(Clone, Debug)]
pub struct Cell {
    /// `package-dir :: emodel-label`, for messages.
    pub label: String,
    pub morphology: Morphology,
    pub disc: Discretization,
    pub params: ResolvedParameters,
}

impl Cell {
    /// Axial resistivity of a section [Ω·cm].
    pub fn section_ra_ohm_cm(&self, id: SectionId) -> f64 {
        self.disc.sections[id.index()].ra_ohm_cm
    }

    /// The section and position a section is attached to.
    pub fn parent_of(&self, id: SectionId) -> Option<(SectionId, f64)> {
        self.disc.sections[id.index()]
            .parent
            .map(|a| (a.section, a.x))
    }

    /// The mechanisms inserted in a section, in insertion order.
    pub fn mechanisms_of(&self, id: SectionId) -> Vec<String> {
        self.params.section_mechanisms[id.index()].clone()
    }

    /// NEURON's `seg.ri()` [MΩ].
    pub fn segment_ri_megaohm(&self, seg: SegmentId) -> f64 {
        self.disc.segments[seg.0 as usize].ri_megaohm
    }

    /// Every value the package sets on a segment, by NEURON name.
    pub fn parameters_at(&self, seg: SegmentId) -> BTreeMap<&str, f64> {
        self.params
            .range
            .iter()
            .filter_map(|(name, values)| {
                values
                    .get(seg.0 as usize)
                    .copied()
                    .flatten()
                    .map(|v| (name.as_str(), v))
            })
            .collect()
    }

    /// Total membrane area of the sections in `list` [µm²].
    pub fn area_um2(&self, list: SectionList) -> f64 {
        self.disc
            .sections_in(list)
            .flat_map(|s| self.disc.segments_of(s))
            .map(|g| self.disc.segments[g.0 as usize].area_um2)
            .sum()
    }
}

/// Build the cell of `em`. Problems are returned as diagnostics; the cell is `None` when an error
/// prevents building it.
pub fn build(em: &EModel) -> (Option<Cell>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let morphology = match axon::load(&em.morphology, em.axon) {
        Ok(m) => m,
        Err(d) => {
            diags.extend(d);
            return (None, diags);
        }
    };
    diags.extend(morphology.warnings.clone());

    // Path distances do not depend on Ra: resolve on a provisional discretisation, then discretise
    // again with the package's Ra per section (the resolution is unchanged by it).
    let provisional = discretize(
        &morphology,
        &vec![DEFAULT_RA_OHM_CM; morphology.sections.len()],
    );
    let (mut params, d) = resolve_parameters(em, &provisional);
    diags.extend(d);
    let ra: Vec<f64> = params
        .ra_ohm_cm
        .iter()
        .map(|r| r.unwrap_or(DEFAULT_RA_OHM_CM))
        .collect();
    let disc = discretize(&morphology, &ra);
    package_rules(em, &mut params, &disc);
    if diags.has_errors() {
        return (None, diags);
    }
    let label = format!("{} :: {}", em.package_dir.display(), em.label());
    (
        Some(Cell {
            label,
            morphology,
            disc,
            params,
        }),
        diags,
    )
}

/// The package-type rules the packages' own runners apply after the parameters are set (the
/// synplas runners' `fixhp`).
fn package_rules(em: &EModel, params: &mut ResolvedParameters, disc: &Discretization) {
    if em.dialect == Dialect::EModelRunner(PackageType::Synplas) {
        uninsert(
            params,
            disc,
            &[SectionList::Somatic, SectionList::Axonal],
            SYNPLAS_FIXHP_MECHANISM,
        );
    }
}

/// What `em` (the e-model `cell` was built from, with other parameter values) sets on `cell`:
/// the parameters resolved as [`build`] resolves them (path distances do not depend on Ra),
/// with the package-type rules applied.
pub fn parameters_on(em: &EModel, cell: &Cell) -> (ResolvedParameters, Diagnostics) {
    let (mut params, d) = resolve_parameters(em, &cell.disc);
    package_rules(em, &mut params, &cell.disc);
    (params, d)
}

/// NEURON's `sec.uninsert(suffix)` on every section of `lists`: the mechanism and every range
/// variable it owns (`<name>_<suffix>`) disappear from those sections.
fn uninsert(
    params: &mut ResolvedParameters,
    disc: &Discretization,
    lists: &[SectionList],
    suffix: &str,
) {
    let tail = format!("_{suffix}");
    for list in lists {
        for sec in disc.sections_in(*list) {
            params.section_mechanisms[sec.index()].retain(|m| m != suffix);
            for (name, values) in params.range.iter_mut() {
                if name.ends_with(&tail) {
                    for seg in disc.segments_of(sec) {
                        values[seg.0 as usize] = None;
                    }
                }
            }
        }
    }
}
