//! The e-model as emsweep holds it: everything a package says about one cell, in the package's
//! order, independent of the dialect it was written in.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, LineCol};
use crate::morph::{AxonReplacement, SectionList};

use super::formula::{Formula, PyNum};

/// Where an item was written: a file and, when known, its line and column.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub file: PathBuf,
    pub pos: Option<LineCol>,
}

impl Origin {
    pub fn new(file: &Path, pos: Option<LineCol>) -> Origin {
        Origin {
            file: file.to_path_buf(),
            pos,
        }
    }

    pub fn error(&self, kind: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(kind, &self.file, self.pos, message)
    }

    pub fn warning(&self, kind: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(kind, &self.file, self.pos, message)
    }

    pub fn note(&self, kind: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::note(kind, &self.file, self.pos, message)
    }
}

/// The tool whose rules a package follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    /// EModelRunner / e-model-packager: `config/*.ini` files.
    EModelRunner(PackageType),
    /// BluePyEModel's example layout: `config/recipes.json`.
    BluePyEModel,
    /// BluePyOpt's example layout: flat `config/parameters.json` + `config/mechanisms.json`.
    BluePyOpt,
}

/// EModelRunner's `[Package] type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PackageType {
    Sscx,
    Thalamus,
    Synplas,
}

impl PackageType {
    pub fn name(self) -> &'static str {
        match self {
            PackageType::Sscx => "sscx",
            PackageType::Thalamus => "thalamus",
            PackageType::Synplas => "synplas",
        }
    }
}

/// A location name of a package (`somatic`, `alldend`, ...) and the section lists it stands for,
/// in the order the tools visit them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub name: String,
    pub lists: Vec<SectionList>,
}

impl Location {
    /// The names every dialect knows: the section lists and EModelRunner's / BluePyEModel's
    /// unions (`allnoaxon` is BluePyEModel's; EModelRunner does not know it).
    pub fn standard(name: &str) -> Option<Location> {
        use SectionList::*;
        let lists: Vec<SectionList> = match name {
            "alldend" => vec![Apical, Basal],
            "somadend" | "allnoaxon" => vec![Apical, Basal, Somatic],
            "somaxon" => vec![Axonal, Somatic],
            "allact" => vec![Apical, Basal, Somatic, Axonal],
            other => vec![SectionList::from_name(other)?],
        };
        Some(Location {
            name: name.to_string(),
            lists,
        })
    }
}

/// One mechanism inserted at one location (BluePyOpt's `NrnMODMechanism`), in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub struct MechanismUse {
    /// The NMODL SUFFIX (not the file name).
    pub suffix: String,
    pub location: Location,
    pub origin: Origin,
}

/// A channel distribution (`{name: {"fun": ..., "parameters": [...]}}`).
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    pub name: String,
    /// None when the formula did not parse (already reported).
    pub formula: Option<Formula>,
    /// The distribution's own parameters (`constant`), set by `distribution_<name>` parameters.
    pub param_names: Vec<String>,
    /// Where along the soma distances start (BluePyOpt's `soma_ref_location`, default 0.5).
    pub soma_ref_location: f64,
    pub origin: Origin,
}

/// What a parameter sets, following BluePyOpt's parameter classes.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamTarget {
    /// `NrnGlobalParameter`: a hoc global (`celsius`, `v_init`, a mechanism GLOBAL).
    Global,
    /// `NrnSectionParameter` with the uniform scaler: one value on every section of the location.
    Section { location: Location },
    /// `NrnRangeParameter`: a value per segment, through a distribution of `distance`.
    Range {
        location: Location,
        distribution: String,
    },
    /// `MetaParameter`: a parameter of a distribution formula (`constant` of `decay`).
    DistributionParam { distribution: String },
}

/// A fixed value, or a free parameter (bounds) with the value an optimisation found, if any.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Fixed(PyNum),
    Free {
        bounds: (f64, f64),
        value: Option<PyNum>,
    },
}

impl ParamValue {
    /// The value to apply, if there is one.
    pub fn value(&self) -> Option<PyNum> {
        match self {
            ParamValue::Fixed(v) => Some(*v),
            ParamValue::Free { value, .. } => *value,
        }
    }
}

/// One parameter definition, in the package's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// NEURON's name: `gNaTgbar_NaTg`, `cm`, `Ra`, `ena`, `v_init`, `constant`.
    pub name: String,
    /// The name final values use: `<name>.<location>` (`gNaTgbar_NaTg.axonal`,
    /// `constant.distribution_decay`); just `<name>` for globals.
    pub key: String,
    pub target: ParamTarget,
    pub value: ParamValue,
    pub origin: Origin,
}

/// A square current pulse at the soma (BluePyOpt's `NrnSquarePulse`) [ms, nA]. The amplitude is
/// None where the protocol sets it at run time (threshold-based protocols, holding searches).
#[derive(Clone, Debug, PartialEq)]
pub struct SquarePulse {
    pub delay_ms: f64,
    pub amp_na: Option<f64>,
    pub duration_ms: f64,
    pub total_duration_ms: f64,
}

/// A linear ramp at the soma (BluePyOpt's `NrnRampPulse`) [ms, nA].
#[derive(Clone, Debug, PartialEq)]
pub struct RampPulse {
    pub delay_ms: f64,
    pub duration_ms: f64,
    pub amp_start_na: Option<f64>,
    pub amp_end_na: Option<f64>,
    pub total_duration_ms: f64,
}

/// How a BluePyEModel protocol sets its amplitudes (`protocol_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ECodeProtocolType {
    /// `Protocol`: the stimulus' own `amp` and `holding_current`.
    Fixed,
    /// `ThresholdBasedProtocol`: amplitude from `thresh_perc` of the model's threshold current,
    /// holding from its holding current.
    ThresholdBased,
    /// `ThresholdBasedNoHoldingProtocol`: threshold search without holding current.
    ThresholdBasedNoHolding,
    /// `LocalThresholdBasedProtocol`: threshold search at the stimulus location.
    LocalThresholdBased,
}

/// A BluePyEModel e-code stimulus (IDrest, IV, APWaveform, sAHP, ...), kept with its raw
/// numbers; the e-code decides the waveform.
#[derive(Clone, Debug, PartialEq)]
pub struct ECode {
    /// The e-code key found in the protocol name (`idrest`, `iv`, `sahp`, ...).
    pub key: &'static str,
    /// BluePyEModel's class for it (`IDrest`, `IV`, `sAHP`, ...).
    pub class: &'static str,
    pub protocol_type: ECodeProtocolType,
    /// Every numeric field of the stimulus, in file order (`delay`, `amp`, `thresh_perc`,
    /// `duration`, `totduration`, `holding_current`, `tmid`, `toff`, `long_amp`, ...). A null
    /// field is absent.
    pub params: Vec<(String, f64)>,
    /// The fields given as `null`, in file order. BluePyEModel passes them on as `None`, which
    /// is not the same as leaving them out: an absent `thresh_perc` takes the e-code's default
    /// percentage, a null one means "use `amp`".
    pub null_params: Vec<String>,
}

impl ECode {
    pub fn get(&self, key: &str) -> Option<f64> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Whether the field was written as `null`.
    pub fn is_null(&self, key: &str) -> bool {
        self.null_params.iter().any(|k| k == key)
    }
}

/// What is injected.
#[derive(Clone, Debug, PartialEq)]
pub enum Stimulus {
    /// `StepProtocol`: one or several steps, and an optional holding pulse.
    Step {
        steps: Vec<SquarePulse>,
        holding: Option<SquarePulse>,
    },
    /// `StepThresholdProtocol`: steps at `thresh_perc` % of the threshold current, holding at the
    /// holding current (delay 0, lasting the last step's total duration).
    StepThreshold {
        steps: Vec<SquarePulse>,
        thresh_perc: f64,
        holding: SquarePulse,
    },
    /// `RampProtocol`.
    Ramp {
        ramp: RampPulse,
        holding: Option<SquarePulse>,
    },
    /// `RampThresholdProtocol`: start and end amplitudes in % of the threshold current.
    RampThreshold {
        ramp: RampPulse,
        thresh_perc_start: f64,
        thresh_perc_end: f64,
        holding: SquarePulse,
    },
    /// An untyped protocol (`"stimuli": [...]`, BluePyOpt's `SweepProtocol`): every pulse is
    /// injected; by convention the second one is the holding current.
    Pulses(Vec<SquarePulse>),
    ECode(ECode),
}

impl Stimulus {
    /// The protocol's simulated time: the largest total duration of its stimuli [ms].
    pub fn tstop_ms(&self) -> f64 {
        let pulses_max = |p: &[SquarePulse]| {
            p.iter()
                .map(|s| s.total_duration_ms)
                .fold(f64::MIN, f64::max)
        };
        match self {
            Stimulus::Step { steps, holding } => {
                let h = holding.as_ref().map_or(f64::MIN, |h| h.total_duration_ms);
                pulses_max(steps).max(h)
            }
            Stimulus::StepThreshold { steps, holding, .. } => {
                pulses_max(steps).max(holding.total_duration_ms)
            }
            Stimulus::Ramp { ramp, holding } => {
                let h = holding.as_ref().map_or(f64::MIN, |h| h.total_duration_ms);
                ramp.total_duration_ms.max(h)
            }
            Stimulus::RampThreshold { ramp, holding, .. } => {
                ramp.total_duration_ms.max(holding.total_duration_ms)
            }
            Stimulus::Pulses(p) => pulses_max(p),
            Stimulus::ECode(e) => e.get("totduration").unwrap_or(f64::NAN),
        }
    }
}

/// Where a recording is made.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordingSite {
    /// `soma[0](0.5)`.
    Soma,
    /// BluePyEModel's `ais` location.
    Ais,
    /// `somadistance`: the point at `distance_um` from the soma on the last section of the list
    /// that spans it.
    SomaDistance { distance_um: f64, seclist: String },
    /// `somadistanceapic`: along the path from the soma to section `apical_point_isec`.
    SomaDistanceApic { distance_um: f64, seclist: String },
    /// `nrnseclistcomp`: section `sec_index` of a list (or section array), at `comp_x`.
    SeclistComp {
        seclist: String,
        sec_index: u32,
        comp_x: f64,
    },
}

/// A recorded variable (`soma.v`, `dend1.v`, `ca_prox_apic.cai`).
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// The name features refer to, without the protocol: `soma.v`, `dend1.v`.
    pub name: String,
    pub site: RecordingSite,
    pub variable: String,
}

/// A protocol: a stimulus and what is recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Protocol {
    pub name: String,
    pub stimulus: Stimulus,
    /// Always starts with the soma voltage.
    pub recordings: Vec<Recording>,
    pub origin: Origin,
}

/// How EModelRunner's main protocol searches the holding and threshold currents (one search for
/// SSCx; a depolarised and a hyperpolarised one for the thalamus).
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentSearch {
    /// `""` (SSCx), `"dep"` or `"hyp"` (thalamus).
    pub variant: String,
    /// The input-resistance protocol the holding search is built on (`Rin`, `Rin_hyp`).
    pub rin_protocol: String,
    pub holdi_precision: f64,
    pub holdi_max_depth: u32,
    pub holdi_estimate_multiplier: f64,
    /// The step the threshold detection scales (`step_template`).
    pub detection_template: Stimulus,
    /// The holding search's target: the experimental mean of `<rin_protocol>.soma.v.voltage_base`
    /// [mV] (None until the features are read, or when they lack it).
    pub target_voltage_mv: Option<f64>,
    pub origin: Origin,
}

/// EModelRunner's `RatSSCxMainProtocol`: RMP, holding and threshold searches, then the other
/// protocols at the currents found.
#[derive(Clone, Debug, PartialEq)]
pub struct MainProtocol {
    pub rmp_protocol: String,
    /// The feature of the RMP protocol taken as the resting potential (`voltage_base` for SSCx,
    /// `steady_state_voltage_stimend` for the thalamus).
    pub rmp_feature: String,
    pub searches: Vec<CurrentSearch>,
    pub other_protocols: Vec<String>,
    pub pre_protocols: Vec<String>,
    pub rmp_score_threshold: Option<f64>,
    pub rin_score_threshold: Option<f64>,
    pub preprot_score_threshold: Option<f64>,
    pub origin: Origin,
}

/// The protocols of one protocol file, with the configs that name it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolSet {
    pub file: PathBuf,
    pub configs: Vec<PathBuf>,
    pub protocols: Vec<Protocol>,
    pub main: Option<MainProtocol>,
}

/// A value of an eFEL setting.
#[derive(Clone, Debug, PartialEq)]
pub enum EfelSetting {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Floats(Vec<f64>),
}

/// A target feature.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    pub protocol: String,
    /// `soma.v`, `dend1.v`, ...
    pub recording: String,
    /// eFEL's name of the feature.
    pub efel_name: String,
    /// The name scores use: `<protocol>.<recording>.<efeature_name or efel_name>`.
    pub name: String,
    pub mean: f64,
    pub std: f64,
    /// Spike detection threshold [mV]; None: eFEL's default.
    pub threshold_mv: Option<f64>,
    /// `strict_stiminterval`; None: eFEL's default.
    pub strict_stim: Option<bool>,
    pub weight: f64,
    /// Every eFEL setting as given (BluePyEModel: the pipeline's settings merged with the
    /// feature's).
    pub efel_settings: Vec<(String, EfelSetting)>,
    pub origin: Origin,
}

/// One e-model: a cell (morphology + mechanisms + parameters) and what to run on it.
#[derive(Clone, Debug, PartialEq)]
pub struct EModel {
    /// The e-model's name (`cADpyr_L4UPC`); unique within its package together with `variant`.
    pub name: String,
    /// Set when one package holds several different cells under one name: the config it
    /// comes from.
    pub variant: Option<String>,
    pub package_dir: PathBuf,
    pub dialect: Dialect,
    /// Every file this e-model was read from.
    pub source_files: Vec<PathBuf>,
    pub morphology: PathBuf,
    pub axon: AxonReplacement,
    pub celsius: f64,
    pub v_init_mv: f64,
    pub dt_ms: f64,
    /// Whether the package's own runner would use CVODE (variable steps); emsweep always runs
    /// fixed steps of `dt_ms`.
    pub authors_cvode: bool,
    /// Mechanism insertions, in the order BluePyOpt inserts them.
    pub mechanisms: Vec<MechanismUse>,
    pub distributions: Vec<Distribution>,
    /// In the package's order; later ones override earlier ones where they overlap.
    pub parameters: Vec<Parameter>,
    /// Where the free parameters' values came from (`final.json` and its entry).
    pub final_values: Option<Origin>,
    pub protocol_sets: Vec<ProtocolSet>,
    pub features: Vec<Feature>,
    /// EModelRunner's `[Protocol] apical_point_isec` (None for -1 or absent).
    pub apical_point_isec: Option<u32>,
    /// The directory of the package's `.mod` files, if any.
    pub mechanism_dir: Option<PathBuf>,
    /// The `.mod` files NEURON's `nrnivmodl` would compile (top level only), sorted.
    pub mod_files: Vec<PathBuf>,
}

impl EModel {
    /// `name` or `name[variant]`: unique within the package.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}[{}]", self.name, v),
            None => self.name.clone(),
        }
    }

    /// Free parameters that have no value (nothing to run them with).
    pub fn free_without_value(&self) -> Vec<&Parameter> {
        self.parameters
            .iter()
            .filter(|p| matches!(p.value, ParamValue::Free { value: None, .. }))
            .collect()
    }

    pub fn distribution(&self, name: &str) -> Option<&Distribution> {
        self.distributions.iter().find(|d| d.name == name)
    }

    /// Mechanisms grouped by location, in first-appearance order of the locations, each with
    /// its suffixes in insertion order.
    pub fn mechanisms_by_location(&self) -> Vec<(&Location, Vec<&str>)> {
        let mut out: Vec<(&Location, Vec<&str>)> = Vec::new();
        for m in &self.mechanisms {
            match out.iter_mut().find(|(l, _)| **l == m.location) {
                Some((_, v)) => v.push(&m.suffix),
                None => out.push((&m.location, vec![&m.suffix])),
            }
        }
        out
    }

    /// Every protocol of every set, in order.
    pub fn protocols(&self) -> impl Iterator<Item = &Protocol> {
        self.protocol_sets.iter().flat_map(|s| s.protocols.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_locations_expand_in_tool_order() {
        use SectionList::*;
        let l = |n: &str| Location::standard(n).map(|l| l.lists);
        assert_eq!(l("all"), Some(vec![All]));
        assert_eq!(l("alldend"), Some(vec![Apical, Basal]));
        assert_eq!(l("somadend"), Some(vec![Apical, Basal, Somatic]));
        assert_eq!(l("allnoaxon"), Some(vec![Apical, Basal, Somatic]));
        assert_eq!(l("somaxon"), Some(vec![Axonal, Somatic]));
        assert_eq!(l("allact"), Some(vec![Apical, Basal, Somatic, Axonal]));
        assert_eq!(l("myelinated"), Some(vec![Myelinated]));
        assert_eq!(l("dendritic"), None);
    }

    #[test]
    fn tstop_is_the_longest_total_duration() {
        let p = |t| SquarePulse {
            delay_ms: 0.0,
            amp_na: None,
            duration_ms: 1.0,
            total_duration_ms: t,
        };
        let s = Stimulus::Step {
            steps: vec![p(300.0), p(250.0)],
            holding: Some(p(320.0)),
        };
        assert_eq!(s.tstop_ms(), 320.0);
        assert_eq!(Stimulus::Pulses(vec![p(3.0), p(5.0)]).tstop_ms(), 5.0);
    }
}
