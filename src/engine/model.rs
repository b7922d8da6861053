//! The simulation structure of a cell, built once and shared by every lane of a batch: the node
//! tree, where each mechanism has instances, the ion species and how NEURON treats them at each
//! node, and NEURON's order of mechanisms within a phase. Per-lane numbers (parameters,
//! capacitance, ion values, axial coefficients) are [`LaneValues`], checked against the structure.
//!
//! # NEURON's rules reproduced here
//! - **Order within a phase** (`memb_order_` in NEURON's `init.cpp`): mechanisms run in the order
//!   they were registered (built-ins, then the package's `.mod` files as `nrnivmodl` lists them),
//!   except that every ion mechanism and every mechanism that WRITEs an ion concentration is
//!   moved forward (`nrn_writes_conc`): `pas` (built-in type 4) first, then the ions, then the
//!   concentration writers in *reverse* registration order (each is inserted at the same place),
//!   then the electrodes (`IClamp`, built in after those), then the remaining mechanisms in
//!   registration order. So `CaDynamics_DC0` updates `cai` before `SK_E2` reads it, in every phase.
//! - **Ion styles** (`nrn_promote` in `eion.cpp`), per node from every mechanism there using the
//!   ion: a mechanism that writes a concentration makes it a state (`cinit`: concentrations reset
//!   to the defaults at initialisation), one that reads it makes the reversal potential at least
//!   "assigned"; with a concentration in use and the reversal potential not written, it is
//!   computed by Nernst at initialisation (`einit`), and every step as well when a concentration
//!   is a state (`eadvance`). Otherwise the reversal potential keeps its value (the default, or
//!   the section parameter `ena`, `ek`, ...).
//! - **Defaults** (`membdef.h`): na 50 mV / 10 mM / 140 mM, k −77 mV / 54.4 / 2.5, ca
//!   12.5·ln(2/5e-5) mV / 5e-5 / 2, any other ion 0 mV / 1 mM / 1 mM; `cm` 1 µF/cm².

use std::path::PathBuf;

use kernels_cpu::cable::{NodeCoefficients, Tree};

use crate::cell::{Cell, DEFAULT_RA_OHM_CM};
use crate::diag::{Diagnostic, Diagnostics};
use crate::discretize::{discretize, SegmentId};
use crate::emit::cpu::CpuMechanism;
use crate::ir::{IonVar, Mechanism, Scope};
use crate::layout::Node;
use crate::morph::SectionKind;
use crate::package::ResolvedParameters;

use super::library::{MechanismLibrary, Origin};

/// NEURON's default specific capacitance [µF/cm²].
pub const DEFAULT_CM_UF_CM2: f64 = 1.0;

/// Elementary charge [C] (2019 SI, exact), as NEURON's `nrnunits.h`.
const ELECTRON_CHARGE_C: f64 = 1.602176634e-19;
/// Avogadro's number [1/mol] (exact).
const AVOGADRO_PER_MOL: f64 = 6.02214076e+23;
/// Boltzmann's constant [J/K] (exact).
const BOLTZMANN_J_PER_K: f64 = 1.380649e-23;
/// Faraday's constant [C/mol], computed as NEURON computes it.
pub const FARADAY_C_PER_MOL: f64 = ELECTRON_CHARGE_C * AVOGADRO_PER_MOL;
/// The gas constant [J/(mol·K)], computed as NEURON computes it.
pub const GAS_CONSTANT_J_PER_MOL_K: f64 = BOLTZMANN_J_PER_K * AVOGADRO_PER_MOL;

/// NEURON's `ktf` [mV]: RT/F in millivolts at `celsius` (same operations as `eion.cpp`).
pub fn ktf_mv(celsius: f64) -> f64 {
    1000.0 * GAS_CONSTANT_J_PER_MOL_K * (celsius + 273.15) / FARADAY_C_PER_MOL
}

/// NEURON's `nrn_nernst` [mV] for concentrations [mM] and valence `z`.
pub fn nernst_mv(inside_mm: f64, outside_mm: f64, valence: f64, celsius: f64) -> f64 {
    if valence == 0.0 {
        0.0
    } else if inside_mm <= 0.0 {
        1e6
    } else if outside_mm <= 0.0 {
        -1e6
    } else {
        ktf_mv(celsius) / valence * (outside_mm / inside_mm).ln()
    }
}

/// The three values of an ion at a node: reversal potential [mV], inside and outside
/// concentrations [mM].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IonValues {
    pub erev_mv: f64,
    pub inside_mm: f64,
    pub outside_mm: f64,
}

impl IonValues {
    /// NEURON's values for a freshly inserted ion (`membdef.h`, `eion.cpp`).
    pub fn neuron_default(ion: &str) -> IonValues {
        let (erev_mv, inside_mm, outside_mm) = match ion {
            "na" => (115.0 + -65.0, 10.0, 140.0),
            "k" => (-12.0 + -65.0, 54.4, 2.5),
            "ca" => (12.5 * (2.0f64 / 5.0e-5).ln(), 5.0e-5, 2.0),
            _ => (0.0, 1.0, 1.0),
        };
        IonValues {
            erev_mv,
            inside_mm,
            outside_mm,
        }
    }
}

/// How NEURON treats an ion at one node (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IonStyle {
    /// Concentrations reset to the defaults by `finitialize` (a concentration is a state).
    pub cinit: bool,
    /// Reversal potential from Nernst at `finitialize` (and after an INITIAL block writes a
    /// concentration).
    pub einit: bool,
    /// Reversal potential from Nernst at the start of every step.
    pub eadvance: bool,
}

impl IonStyle {
    /// NEURON's `nrn_promote` over the mechanisms at a node: `conc` 3 if one writes a
    /// concentration, 1 if one reads one, else 0; `rev` 3 if one writes the reversal potential, 1
    /// if one reads it, else 0.
    pub fn promote(conc: u8, rev: u8) -> IonStyle {
        let rev = if conc > 0 && rev < 2 { 2 } else { rev };
        IonStyle {
            cinit: conc == 3,
            einit: conc > 0 && rev == 2,
            eadvance: conc == 3 && rev == 2,
        }
    }
}

/// An ion species of the cell.
#[derive(Clone, Debug, PartialEq)]
pub struct IonSpecies {
    pub name: String,
    pub valence: f64,
    pub defaults: IonValues,
    /// Per node: `None` where no mechanism there uses the ion.
    pub styles: Vec<Option<IonStyle>>,
}

/// A mechanism with its instances in this cell.
#[derive(Clone, Debug)]
pub struct PlacedMechanism {
    pub suffix: String,
    pub ir: Mechanism,
    pub cpu: CpuMechanism,
    /// The node of each instance (instances in node order).
    pub nodes: Vec<Node>,
    /// The segment of each instance.
    pub segments: Vec<SegmentId>,
    /// For each ion of the mechanism (`ir.ions`), its index in [`CellModel::ions`].
    pub ion_index: Vec<usize>,
    pub writes_concentration: bool,
}

/// One entry of NEURON's per-phase order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A mechanism of [`CellModel::mechanisms`].
    Mechanism(usize),
    /// The ion mechanisms (all species).
    Ions,
    /// The electrodes (`IClamp`s).
    Electrodes,
}

/// The structure of a cell shared by every lane of a batch.
#[derive(Clone, Debug)]
pub struct CellModel {
    /// `package :: emodel`, for messages.
    pub label: String,
    /// The file diagnostics about lane values point at.
    pub source: PathBuf,
    cell: Cell,
    /// Parent of each node (`None` for node 0), parents first.
    pub parents: Vec<Option<u32>>,
    /// Membrane area of each node [µm²] (0 for zero-area section ends).
    pub area_um2: Vec<f64>,
    /// The segment of each node (`None` for zero-area nodes).
    pub node_segment: Vec<Option<SegmentId>>,
    /// The node of every segment.
    pub segment_node: Vec<Node>,
    /// `soma[0](0.5)`.
    pub soma_node: Node,
    /// Axial coefficients with the cell's own Ra.
    pub coefficients: NodeCoefficients,
    /// The Ra of each section the coefficients were made with [Ω·cm].
    ra_ohm_cm: Vec<f64>,
    pub mechanisms: Vec<PlacedMechanism>,
    pub ions: Vec<IonSpecies>,
    /// NEURON's order within every phase.
    pub order: Vec<Entry>,
    /// Mechanisms inserted per section (the structure lanes must share).
    pub section_mechanisms: Vec<Vec<String>>,
    /// The e-model's temperature [°C] and initial voltage [mV].
    pub celsius: f64,
    pub v_init_mv: f64,
}

/// Per-lane numbers of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneValues {
    pub celsius: f64,
    pub v_init_mv: f64,
    /// Specific capacitance per node [µF/cm²] (0 at zero-area nodes).
    pub cm_uf_cm2: Vec<f64>,
    /// Axial coefficients when this lane's Ra differs from the model's.
    pub coefficients: Option<NodeCoefficients>,
    /// `fields[m][f][i]`: field `f` of instance `i` of mechanism `m`, before `finitialize`.
    pub fields: Vec<Vec<Vec<f64>>>,
    /// `ions[s][n]`: values of ion species `s` at node `n` before `finitialize`.
    pub ions: Vec<Vec<IonValues>>,
}

fn error(file: &std::path::Path, kind: &'static str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(kind, file, None, message)
}

impl CellModel {
    /// The structure of `cell` (built from the e-model `em`) with the mechanisms of `lib`.
    pub fn new(
        cell: &Cell,
        lib: &MechanismLibrary,
        celsius: f64,
        v_init_mv: f64,
    ) -> (Option<CellModel>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let source = PathBuf::from(&cell.label);
        let disc = &cell.disc;
        let n_nodes = disc.nodes.len();
        let parents: Vec<Option<u32>> = disc.nodes.iter().map(|n| n.parent.map(|p| p.0)).collect();
        let area_um2: Vec<f64> = disc.nodes.iter().map(|n| n.area_um2).collect();
        let node_segment: Vec<Option<SegmentId>> = disc.nodes.iter().map(|n| n.segment).collect();
        let segment_node: Vec<Node> = disc.segments.iter().map(|s| Node::from(s.node)).collect();
        let Some(soma) = cell.morphology.first_of(SectionKind::Soma) else {
            diags.push(error(&source, "no-soma", "the cell has no soma section"));
            return (None, diags);
        };
        let soma_node = segment_node[disc.segment_at(soma, 0.5).0 as usize];
        let tree = match Tree::new(&parents) {
            Ok(t) => t,
            Err(e) => {
                diags.push(error(&source, "bad-tree", format!("node tree: {e}")));
                return (None, diags);
            }
        };
        let g_axial: Vec<f64> = disc.nodes.iter().map(|n| n.g_axial_us).collect();
        let coefficients = match NodeCoefficients::from_geometry(&tree, &g_axial, &area_um2) {
            Ok(c) => c,
            Err(e) => {
                diags.push(error(&source, "bad-geometry", format!("cable: {e}")));
                return (None, diags);
            }
        };
        let ra_ohm_cm: Vec<f64> = disc.sections.iter().map(|s| s.ra_ohm_cm).collect();

        // Mechanisms with instances, in registration order.
        let mut mechanisms: Vec<PlacedMechanism> = Vec::new();
        let mut ions: Vec<IonSpecies> = Vec::new();
        let mut missing: Vec<&String> = Vec::new();
        for used in cell.params.section_mechanisms.iter().flatten() {
            if lib.get(used).is_none() && !missing.contains(&used) {
                missing.push(used);
                diags.push(error(
                    &source,
                    "unknown-mechanism",
                    format!("mechanism `{used}` is inserted but was not compiled"),
                ));
            }
        }
        if diags.has_errors() {
            return (None, diags);
        }
        // NEURON registers na and k with its built-in hh, before any .mod file.
        for name in ["na", "k"] {
            if lib
                .mechanisms
                .iter()
                .any(|m| m.ir.ions.iter().any(|i| i.name == name))
            {
                ions.push(IonSpecies {
                    name: name.to_string(),
                    valence: 1.0,
                    defaults: IonValues::neuron_default(name),
                    styles: vec![None; n_nodes],
                });
            }
        }
        for lm in &lib.mechanisms {
            let mut segs: Vec<SegmentId> = Vec::new();
            for (s, list) in cell.params.section_mechanisms.iter().enumerate() {
                if list.contains(&lm.suffix) {
                    segs.extend(disc.segments_of(crate::morph::SectionId(s as u32)));
                }
            }
            if segs.is_empty() {
                continue;
            }
            segs.sort_by_key(|s| segment_node[s.0 as usize]);
            let mut ion_index = Vec::new();
            for ion in &lm.ir.ions {
                let k = match ions.iter().position(|s| s.name == ion.name) {
                    Some(k) => k,
                    None => {
                        ions.push(IonSpecies {
                            name: ion.name.clone(),
                            valence: ion.valence,
                            defaults: IonValues::neuron_default(&ion.name),
                            styles: vec![None; n_nodes],
                        });
                        ions.len() - 1
                    }
                };
                if ion.valence_declared || !ions[k].valence.is_finite() {
                    let v = ion.valence;
                    if v.is_finite() {
                        if ions[k].valence.is_finite() && ions[k].valence != v {
                            diags.push(error(
                                &source,
                                "ion-valence",
                                format!(
                                    "ion `{}` has valence {} in `{}` but {} elsewhere",
                                    ion.name, v, lm.suffix, ions[k].valence
                                ),
                            ));
                        }
                        ions[k].valence = v;
                    }
                }
                ion_index.push(k);
            }
            mechanisms.push(PlacedMechanism {
                suffix: lm.suffix.clone(),
                ir: lm.ir.clone(),
                cpu: lm.cpu.clone(),
                nodes: segs.iter().map(|s| segment_node[s.0 as usize]).collect(),
                segments: segs,
                ion_index,
                writes_concentration: lm.writes_concentration(),
            });
        }
        for ion in &ions {
            if !ion.valence.is_finite() {
                diags.push(error(
                    &source,
                    "ion-valence",
                    format!("no mechanism gives a VALENCE for ion `{}`", ion.name),
                ));
            }
        }

        // Ion styles per node.
        let mut levels: Vec<Vec<Option<(u8, u8)>>> = vec![vec![None; n_nodes]; ions.len()];
        for m in &mechanisms {
            for (j, ion) in m.ir.ions.iter().enumerate() {
                let conc = if ion.writes.iter().any(|v| v.is_concentration()) {
                    3
                } else if ion.reads.iter().any(|v| v.is_concentration()) {
                    1
                } else {
                    0
                };
                let rev = if ion.writes.contains(&IonVar::Erev) {
                    3
                } else if ion.reads.contains(&IonVar::Erev) {
                    1
                } else {
                    0
                };
                for node in &m.nodes {
                    let slot = &mut levels[m.ion_index[j]][node.index()];
                    let (c, r) = slot.unwrap_or((0, 0));
                    *slot = Some((c.max(conc), r.max(rev)));
                }
            }
        }
        for (ion, lv) in ions.iter_mut().zip(levels) {
            ion.styles = lv
                .into_iter()
                .map(|l| l.map(|(c, r)| IonStyle::promote(c, r)))
                .collect();
        }

        // NEURON's order within a phase.
        let is_file = |m: &PlacedMechanism| {
            matches!(
                lib.get(&m.suffix).map(|l| &l.origin),
                Some(Origin::File { .. })
            )
        };
        let mut order = Vec::new();
        if let Some(k) = mechanisms
            .iter()
            .position(|m| m.suffix == "pas" && !is_file(m))
        {
            order.push(Entry::Mechanism(k));
        }
        order.push(Entry::Ions);
        for (k, m) in mechanisms.iter().enumerate().rev() {
            if m.writes_concentration {
                order.push(Entry::Mechanism(k));
            }
        }
        order.push(Entry::Electrodes);
        for (k, m) in mechanisms.iter().enumerate() {
            if !m.writes_concentration && !order.contains(&Entry::Mechanism(k)) {
                order.push(Entry::Mechanism(k));
            }
        }

        if diags.has_errors() {
            return (None, diags);
        }
        let model = CellModel {
            label: cell.label.clone(),
            source,
            cell: cell.clone(),
            parents,
            area_um2,
            node_segment,
            segment_node,
            soma_node,
            coefficients,
            ra_ohm_cm,
            mechanisms,
            ions,
            order,
            section_mechanisms: cell.params.section_mechanisms.clone(),
            celsius,
            v_init_mv,
        };
        (Some(model), diags)
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.parents.len()
    }

    /// The cell this structure was built from.
    pub fn cell(&self) -> &Cell {
        &self.cell
    }

    /// The index of mechanism `suffix` in [`CellModel::mechanisms`].
    pub fn mechanism(&self, suffix: &str) -> Option<usize> {
        self.mechanisms.iter().position(|m| m.suffix == suffix)
    }

    /// The index of ion species `name` in [`CellModel::ions`].
    pub fn ion(&self, name: &str) -> Option<usize> {
        self.ions.iter().position(|s| s.name == name)
    }

    /// The values of the cell's own parameters, at the e-model's temperature and `v_init`.
    pub fn own_lane(&self) -> Result<LaneValues, Diagnostics> {
        self.lane_values(&self.cell.params, self.celsius, self.v_init_mv)
    }

    /// The values of a lane whose parameters resolve to `params` on this cell's structure:
    /// NEURON's defaults, then every value `params` sets. An error when the mechanisms per
    /// section differ from the structure's or a name is not a parameter of this cell.
    pub fn lane_values(
        &self,
        params: &ResolvedParameters,
        celsius: f64,
        v_init_mv: f64,
    ) -> Result<LaneValues, Diagnostics> {
        let mut diags = Diagnostics::new();
        let src = &self.source;
        if params.section_mechanisms != self.section_mechanisms {
            diags.push(error(
                src,
                "structure-mismatch",
                "the lane's mechanisms per section differ from the batch structure's",
            ));
            return Err(diags);
        }
        let n_nodes = self.node_count();
        let mut cm = vec![0.0; n_nodes];
        for (n, seg) in self.node_segment.iter().enumerate() {
            if seg.is_some() {
                cm[n] = DEFAULT_CM_UF_CM2;
            }
        }
        let mut fields: Vec<Vec<Vec<f64>>> = self
            .mechanisms
            .iter()
            .map(|m| {
                m.ir.fields
                    .iter()
                    .map(|f| vec![f.default; m.nodes.len()])
                    .collect()
            })
            .collect();
        let mut ions: Vec<Vec<IonValues>> = self
            .ions
            .iter()
            .map(|s| vec![s.defaults; n_nodes])
            .collect();

        // `<field>_<suffix>`: the mechanism with the longest matching suffix, and its field.
        let field_of = |name: &str| -> Option<(usize, usize)> {
            let (m, field) = self
                .mechanisms
                .iter()
                .enumerate()
                .filter_map(|(k, m)| {
                    let stem = name.strip_suffix(m.suffix.as_str())?.strip_suffix('_')?;
                    (!stem.is_empty()).then_some((k, stem))
                })
                .max_by_key(|(k, _)| self.mechanisms[*k].suffix.len())?;
            let f =
                self.mechanisms[m].ir.fields.iter().position(|f| {
                    f.name == field && matches!(f.scope, Scope::Range | Scope::Global)
                })?;
            Some((m, f))
        };
        let ion_of = |name: &str| -> Option<(usize, IonVar)> {
            self.ions.iter().enumerate().find_map(|(k, s)| {
                IonVar::from_nmodl_name(&s.name, name)
                    .filter(|v| *v != IonVar::Current)
                    .map(|v| (k, v))
            })
        };

        for (name, values) in &params.range {
            // set on no segment: nothing to place (e.g. the range variables of a mechanism the
            // synplas fixhp rule uninserted from every section that had it)
            if values.iter().all(Option::is_none) {
                continue;
            }
            let target = if name == "cm" {
                None
            } else if let Some(t) = ion_of(name) {
                Some(Err(t))
            } else if let Some(t) = field_of(name) {
                Some(Ok(t))
            } else {
                diags.push(error(
                    src,
                    "unknown-parameter",
                    format!("`{name}` is not a parameter of any mechanism or ion of this cell"),
                ));
                continue;
            };
            for (s, value) in values.iter().enumerate() {
                let Some(value) = *value else { continue };
                let node = self.segment_node[s];
                match target {
                    None => cm[node.index()] = value,
                    Some(Err((ion, var))) => {
                        if self.ions[ion].styles[node.index()].is_none() {
                            diags.push(error(
                                src,
                                "parameter-without-ion",
                                format!("`{name}` is set on segment {s}, where no mechanism uses that ion"),
                            ));
                            continue;
                        }
                        let slot = &mut ions[ion][node.index()];
                        match var {
                            IonVar::Erev => slot.erev_mv = value,
                            IonVar::Inside => slot.inside_mm = value,
                            IonVar::Outside => slot.outside_mm = value,
                            IonVar::Current => {}
                        }
                    }
                    Some(Ok((m, f))) => {
                        match self.mechanisms[m]
                            .segments
                            .iter()
                            .position(|g| g.0 as usize == s)
                        {
                            Some(i) => fields[m][f][i] = value,
                            None => diags.push(error(
                                src,
                                "parameter-without-mechanism",
                                format!(
                                    "`{name}` is set on segment {s}, which has no `{}`",
                                    self.mechanisms[m].suffix
                                ),
                            )),
                        }
                    }
                }
            }
        }
        for (name, value) in &params.globals {
            if name == "celsius" || name == "v_init" {
                continue;
            }
            match field_of(name) {
                Some((m, f)) => fields[m][f].iter_mut().for_each(|x| *x = *value),
                None => diags.push(error(
                    src,
                    "unknown-parameter",
                    format!("global `{name}` is not a parameter of any mechanism of this cell"),
                )),
            }
        }

        let ra: Vec<f64> = params
            .ra_ohm_cm
            .iter()
            .map(|r| r.unwrap_or(DEFAULT_RA_OHM_CM))
            .collect();
        let coefficients = if ra == self.ra_ohm_cm {
            None
        } else if ra.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            diags.push(error(src, "bad-ra", "Ra must be finite and positive"));
            None
        } else {
            let disc = discretize(&self.cell.morphology, &ra);
            let g: Vec<f64> = disc.nodes.iter().map(|n| n.g_axial_us).collect();
            let tree = Tree::new(&self.parents).map_err(|e| {
                let mut d = Diagnostics::new();
                d.push(error(src, "bad-tree", format!("node tree: {e}")));
                d
            })?;
            match NodeCoefficients::from_geometry(&tree, &g, &self.area_um2) {
                Ok(c) => Some(c),
                Err(e) => {
                    diags.push(error(src, "bad-geometry", format!("cable: {e}")));
                    None
                }
            }
        };
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(LaneValues {
            celsius,
            v_init_mv,
            cm_uf_cm2: cm,
            coefficients,
            fields,
            ions,
        })
    }

    /// Sets field `field` of mechanism `suffix` to `value` on every instance of a lane (a
    /// parameter scan without going through the package); false when there is no such field.
    pub fn set_field_everywhere(
        &self,
        lane: &mut LaneValues,
        suffix: &str,
        field: &str,
        value: f64,
    ) -> bool {
        let Some(m) = self.mechanism(suffix) else {
            return false;
        };
        let Some(f) = self.mechanisms[m].ir.field_id(field) else {
            return false;
        };
        lane.fields[m][f.index()]
            .iter_mut()
            .for_each(|x| *x = value);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_follows_neurons_table() {
        // CaDynamics (writes cai) + Ca_HVA2 (reads eca): cai a state, eca Nernst every step
        let s = IonStyle::promote(3, 1);
        assert!(s.cinit && s.einit && s.eadvance);
        // SK_E2 alone (reads cai): eca from Nernst once, concentrations left alone
        let s = IonStyle::promote(1, 0);
        assert!(!s.cinit && s.einit && !s.eadvance);
        // a channel reading ena only: ena stays as set
        assert_eq!(IonStyle::promote(0, 1), IonStyle::default());
        // a mechanism writing the reversal potential itself
        let s = IonStyle::promote(3, 3);
        assert!(s.cinit && !s.einit && !s.eadvance);
    }

    #[test]
    fn nernst_matches_neurons_formula() {
        // eca at initialisation with cai = 6.5e-5 mM at 34 °C (spec/NUMERICS.md)
        let e = nernst_mv(6.5e-5, 2.0, 2.0, 34.0);
        assert!((e - 136.764).abs() < 1e-3, "{e}");
        assert_eq!(nernst_mv(0.0, 2.0, 2.0, 34.0), 1e6);
        assert_eq!(nernst_mv(1.0, 0.0, 2.0, 34.0), -1e6);
        assert_eq!(nernst_mv(1.0, 2.0, 0.0, 34.0), 0.0);
        assert!((FARADAY_C_PER_MOL - 96485.33212331001).abs() < 1e-9);
        assert!((GAS_CONSTANT_J_PER_MOL_K - 8.31446261815324).abs() < 1e-13);
        let ca = IonValues::neuron_default("ca");
        assert!((ca.erev_mv - 132.4579341637009).abs() < 1e-12);
    }
}
