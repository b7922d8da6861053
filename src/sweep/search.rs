//! The current searches threshold-based protocols depend on: for each cell, its resting
//! potential, input resistance, holding current and threshold current (rheobase), found by
//! simulating it as the packages' own tools do, with their exact rules.
//!
//! # EModelRunner (`RatSSCxMainProtocol`; SSCx and thalamus packages)
//! 1. RMP: the package's `RMP` protocol; the resting potential is the package's feature of it
//!    (`voltage_base` for SSCx, `steady_state_voltage_stimend` for the thalamus), computed with
//!    the feature's own settings.
//! 2. Per search (SSCx: one; thalamus: `dep` and `hyp`): input resistance Rin0 from the `Rin`
//!    protocol with a holding current of 0 (the package's `ohmic_input_resistance_vb_ssse`
//!    feature, `stimulus_current` = the Rin step amplitude).
//! 3. Holding current: estimate (target − RMP) / Rin0, where the target is the experimental mean
//!    of the Rin protocol's `voltage_base`; bisection between `holdi_estimate_multiplier` ×
//!    estimate and an upper bound (SSCx 0, thalamus 0.22 nA) on the `voltage_base` of the Rin
//!    protocol run with that holding (eFEL defaults: −20 mV, `interp_step` 0.1 ms, not strict),
//!    until within `holdi_precision` of the target or `holdi_max_depth` is reached. SSCx
//!    simulates up to `holdi_max_depth + 1` midpoints and returns the last; the thalamus
//!    simulates up to `holdi_max_depth` and returns the next midpoint unsimulated.
//! 4. Rin at the holding current (the package's feature on the Rin protocol).
//! 5. Threshold: the largest current tried is (V_max − target) / Rin (V_max −40 mV; thalamus
//!    `hyp` −50 mV); short pulses (10 % of the step's duration; the run ends with them) at
//!    `linspace(lower, max, n)` (SSCx: lower = −holding, n = 20; thalamus: lower = 0, n = 5);
//!    the first that spikes is the upper bound, else the full step at the last amplitude must
//!    spike (or the search fails); then bisection on "at least one spike" with full steps,
//!    precision 0.01 nA, at most 5 runs; the threshold is the final upper bound. Spikes are
//!    counted with eFEL's defaults (−20 mV; SSCx `spike_count` over the whole trace, thalamus
//!    `spike_count_stimint`).
//!
//! # BluePyEModel (`SearchHoldingCurrent`, `RMPProtocol`, `RinProtocol`, `SearchThresholdCurrent`)
//! Used for BluePyEModel packages and for e-models that configure no search (see
//! [`SearchPlan::for_emodel`]): RMP = `steady_state_voltage_stimend` over the last 100 ms of 500
//! ms without current; holding current by bisection in [−0.2, 0.2] nA on the same feature
//! (strict bounds, depth 7, precision 0.1 mV, no spike allowed) when the e-model has a
//! `SearchHoldingCurrent` target, else 0 (`NoHoldingCurrent`, and spikes at the holding are then
//! allowed: the lower bound drops by 0.5 nA); Rin from a −0.02 nA step (500–1000 ms of 1000 ms)
//! at the holding current; threshold: upper bound min((−30 − RMP) / Rin, 2 nA) must spike, then
//! bisection between the holding and it (precision 0.01 nA, depth 10) on `Spikecount` of a step
//! at 500 ms for 2000 ms of 3000 ms. The stimuli are BluePyEModel's sampled `step` e-code.
//!
//! # Batching
//! EModelRunner's searches run every phase for all cells (lanes) still searching as one batch:
//! the resting potentials together, each bisection round together, and all short pulses of all
//! cells as lanes of one batch (EModelRunner stops at the first pulse that spikes; every pulse
//! is an independent simulation, so running them all gives the same answer). BluePyEModel's
//! searches put the amplitude into the e-code's waveform, so each lane of a round has its own
//! stimulus program; every round (a holding midpoint, the Rin step, a threshold step of every
//! cell still searching) is one batch all the same.

use crate::backend::Backend;
use crate::diag::Diagnostic;
use crate::engine::{
    Batch, CellModel, LaneSpec, LaneStimulus, LaneValues, Probe, Quantity, RunConfig,
};
use crate::features::score::{numpy_sum, ScoreRule, ScoreTrace, Scorer};
use crate::features::{Settings, Trace};
use crate::package::{
    Dialect, ECode, ECodeProtocolType, EModel, Feature, Origin, PackageType, Protocol, SquarePulse,
    Stimulus,
};
use crate::sim::stimulus::{self, FixedStepClock, LaneCurrents};
use std::collections::BTreeMap;

/// EModelRunner's threshold search: how long the short pulses are, as a fraction of the step.
pub const SHORT_FRACTION: f64 = 0.1;
/// Bisection precision of both tools' threshold searches [nA].
pub const THRESHOLD_PRECISION_NA: f64 = 0.01;
/// EModelRunner's bisection depth of the threshold search.
pub const EMR_THRESHOLD_DEPTH: u32 = 5;

/// One simulation a search asks for: cell `cell` (an index into the runner's parameter sets)
/// with these currents.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchRun {
    pub cell: usize,
    pub currents: LaneCurrents,
}

/// What runs the searches' simulations: the soma voltage of each requested lane, sampled at
/// every step from t = 0 (NEURON's clock), or `None` for a lane that failed.
pub trait SomaRunner {
    fn dt_ms(&self) -> f64;
    fn run_soma(
        &mut self,
        protocol: &Protocol,
        lanes: &[SearchRun],
    ) -> Result<Vec<Option<Vec<f64>>>, Diagnostic>;

    /// Like [`SomaRunner::run_soma`], each lane under its own protocol (of one duration): one
    /// batch where the runner can, else one run per lane.
    fn run_soma_each(
        &mut self,
        runs: &[(Protocol, SearchRun)],
    ) -> Result<Vec<Option<Vec<f64>>>, Diagnostic> {
        let mut out = Vec::with_capacity(runs.len());
        for (p, l) in runs {
            out.extend(self.run_soma(p, std::slice::from_ref(l))?);
        }
        Ok(out)
    }
}

/// [`SomaRunner`] on the engine: one batch per call, lanes sharing `model`.
pub struct EngineRunner<'a> {
    pub backend: &'a dyn Backend,
    pub model: &'a CellModel,
    /// The parameter sets searched, indexed by [`SearchRun::cell`].
    pub cells: Vec<LaneValues>,
    pub dt_ms: f64,
    /// Simulated time summed over lanes [ms].
    pub simulated_ms: f64,
    /// Batches run.
    pub batches: usize,
}

impl EngineRunner<'_> {
    /// Runs lanes `(parameter set, stimulus)` for `tstop_ms` and returns each one's soma
    /// voltage (None: failed).
    fn run_specs(
        &mut self,
        origin: &Origin,
        tstop_ms: f64,
        lanes: Vec<(usize, LaneStimulus)>,
    ) -> Result<Vec<Option<Vec<f64>>>, Diagnostic> {
        let config = RunConfig {
            dt_ms: self.dt_ms,
            steps: RunConfig::steps_for(tstop_ms, self.dt_ms),
            record_every: 1,
            probes: vec![Probe {
                node: self.model.soma_node,
                quantity: Quantity::V,
            }],
            spike_detector: None,
        };
        let n = lanes.len();
        let mut specs = Vec::with_capacity(n);
        for (cell, st) in lanes {
            let values = self
                .cells
                .get(cell)
                .ok_or_else(|| origin.error("search", format!("no parameter set {cell}")))?;
            specs.push(LaneSpec {
                values: values.clone(),
                stimulus: Some(st),
            });
        }
        let batch = Batch {
            model: self.model,
            lanes: specs,
        };
        let out = crate::backend::run(self.backend, &batch, &config).map_err(|d| {
            d.iter()
                .next()
                .cloned()
                .unwrap_or_else(|| origin.error("search", "the search's simulation failed"))
        })?;
        self.batches += 1;
        self.simulated_ms += config.steps as f64 * self.dt_ms * n as f64;
        Ok(out
            .lanes
            .into_iter()
            .map(|mut l| match l.failure {
                Some(_) => None,
                None => Some(l.traces.swap_remove(0)),
            })
            .collect())
    }
}

impl SomaRunner for EngineRunner<'_> {
    fn dt_ms(&self) -> f64 {
        self.dt_ms
    }

    fn run_soma(
        &mut self,
        protocol: &Protocol,
        lanes: &[SearchRun],
    ) -> Result<Vec<Option<Vec<f64>>>, Diagnostic> {
        let currents: Vec<LaneCurrents> = lanes.iter().map(|l| l.currents).collect();
        let program = stimulus::build(protocol, &currents)?;
        let tstop_ms = program.tstop_ms;
        let specs = LaneStimulus::lanes_of(program, self.model.soma_node)
            .into_iter()
            .zip(lanes)
            .map(|(st, l)| (l.cell, st))
            .collect();
        self.run_specs(&protocol.origin, tstop_ms, specs)
    }

    /// One batch per duration: lanes of different protocols share it.
    fn run_soma_each(
        &mut self,
        runs: &[(Protocol, SearchRun)],
    ) -> Result<Vec<Option<Vec<f64>>>, Diagnostic> {
        // (tstop, indices into `runs`, the lanes' stimuli)
        type Group = (f64, Vec<usize>, Vec<(usize, LaneStimulus)>);
        let mut groups: Vec<Group> = Vec::new();
        for (k, (p, l)) in runs.iter().enumerate() {
            let program = stimulus::build(p, &[l.currents])?;
            let tstop_ms = program.tstop_ms;
            let st = LaneStimulus::lanes_of(program, self.model.soma_node).remove(0);
            match groups.iter_mut().find(|g| g.0 == tstop_ms) {
                Some(g) => {
                    g.1.push(k);
                    g.2.push((l.cell, st));
                }
                None => groups.push((tstop_ms, vec![k], vec![(l.cell, st)])),
            }
        }
        let mut out = vec![None; runs.len()];
        for (tstop_ms, index, specs) in groups {
            let origin = runs[index[0]].0.origin.clone();
            for (k, v) in index
                .into_iter()
                .zip(self.run_specs(&origin, tstop_ms, specs)?)
            {
                out[k] = v;
            }
        }
        Ok(out)
    }
}

// ------------------------------------------------------------------------------------------
// Plans
// ------------------------------------------------------------------------------------------

/// Which tool's search rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// EModelRunner's SSCx `RatSSCxMainProtocol`.
    EModelRunnerSscx,
    /// EModelRunner's thalamus `RatSSCxMainProtocol` (dep/hyp searches).
    EModelRunnerThalamus,
    /// BluePyEModel's search protocols.
    BluePyEModel,
}

impl Rules {
    pub fn name(self) -> &'static str {
        match self {
            Rules::EModelRunnerSscx => "emodelrunner-sscx",
            Rules::EModelRunnerThalamus => "emodelrunner-thalamus",
            Rules::BluePyEModel => "bluepyemodel",
        }
    }
}

/// A package feature the search reads, with what its protocol tells eFEL.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowedFeature {
    pub feature: Feature,
    pub stim_start_ms: f64,
    pub stim_end_ms: f64,
    pub stimulus_current_na: Option<f64>,
}

/// One EModelRunner search (SSCx: the only one; thalamus: `dep` or `hyp`).
#[derive(Clone, Debug, PartialEq)]
pub struct EmrVariant {
    /// `""`, `dep` or `hyp`.
    pub variant: String,
    /// The Rin protocol, its holding to be set.
    pub rin: Protocol,
    pub rin_feature: WindowedFeature,
    /// The holding search's target [mV].
    pub target_mv: f64,
    pub precision_mv: f64,
    pub max_depth: u32,
    pub multiplier: f64,
    /// The threshold detection's step template (a step and a holding, amplitudes unset).
    pub template: Protocol,
    /// The voltage whose current bounds the threshold search [mV].
    pub max_threshold_voltage_mv: f64,
    pub short_steps: usize,
}

/// BluePyEModel's search settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BpemPlan {
    /// The RMP target feature (`steady_state_voltage_stimend`), its settings.
    pub rmp_feature: Option<Feature>,
    /// The Rin target (`ohmic_input_resistance_vb_ssse`).
    pub rin_feature: Option<Feature>,
    /// The holding search's target feature (`SearchHoldingCurrent ... steady_state_voltage_stimend`);
    /// None: no holding current (0).
    pub holding_feature: Option<Feature>,
    /// eFEL settings of the pipeline for features made here (when the e-model has none).
    pub default_settings: Settings,
}

/// How to search one e-model's currents.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchPlan {
    EModelRunner {
        rules: Rules,
        rmp: Box<Protocol>,
        rmp_feature: Box<WindowedFeature>,
        variants: Vec<EmrVariant>,
    },
    BluePyEModel(Box<BpemPlan>),
}

/// A `StepProtocol`'s stimulus window as EModelRunner's protocol classes give it: the first
/// step's delay to the last step's end (the thalamus classes have one step: the same).
fn step_window(stim: &Stimulus) -> Option<(f64, f64)> {
    match stim {
        Stimulus::Step { steps, .. } | Stimulus::StepThreshold { steps, .. } => {
            let first = steps.first()?;
            let last = steps.last()?;
            Some((first.delay_ms, last.delay_ms + last.duration_ms))
        }
        _ => None,
    }
}

/// The protocol's `step_amplitude` (SSCx: the mean of the step amplitudes).
fn step_amplitude(stim: &Stimulus) -> Option<f64> {
    match stim {
        Stimulus::Step { steps, .. } => {
            let amps: Option<Vec<f64>> = steps.iter().map(|s| s.amp_na).collect();
            let amps = amps?;
            (!amps.is_empty()).then(|| numpy_sum(&amps) / amps.len() as f64)
        }
        _ => None,
    }
}

impl SearchPlan {
    /// The search `em` configures: EModelRunner's main protocol when its package has one,
    /// BluePyEModel's rules otherwise (with its features where it has them, else the pipeline's
    /// defaults and no holding current: what a BluePyEModel user gets from a
    /// `ThresholdBasedNoHoldingProtocol`).
    pub fn for_emodel(em: &EModel) -> Result<SearchPlan, Diagnostic> {
        let main = em.protocol_sets.iter().find_map(|s| s.main.as_ref());
        match (main, em.dialect) {
            (Some(main), Dialect::EModelRunner(pt)) => Self::emodelrunner(em, main, pt),
            _ => Ok(Self::bluepyemodel(em)),
        }
    }

    fn emodelrunner(
        em: &EModel,
        main: &crate::package::MainProtocol,
        pt: PackageType,
    ) -> Result<SearchPlan, Diagnostic> {
        let rules = match pt {
            PackageType::Thalamus => Rules::EModelRunnerThalamus,
            _ => Rules::EModelRunnerSscx,
        };
        let err = |m: String| main.origin.error("search", m);
        let protocol = |name: &str| {
            em.protocols()
                .find(|p| p.name == name)
                .cloned()
                .ok_or_else(|| {
                    err(format!(
                        "the main protocol needs `{name}`, which is missing"
                    ))
                })
        };
        let feature = |p: &Protocol, efel: &str| -> Result<WindowedFeature, Diagnostic> {
            let f = em
                .features
                .iter()
                .find(|f| f.protocol == p.name && f.recording == "soma.v" && f.efel_name == efel)
                .cloned()
                .ok_or_else(|| {
                    err(format!(
                        "the main protocol needs feature `{}.soma.v.{efel}`",
                        p.name
                    ))
                })?;
            let (start, end) = step_window(&p.stimulus)
                .ok_or_else(|| err(format!("`{}` is not a step protocol", p.name)))?;
            Ok(WindowedFeature {
                feature: f,
                stim_start_ms: start,
                stim_end_ms: end,
                stimulus_current_na: step_amplitude(&p.stimulus),
            })
        };
        let rmp = protocol(&main.rmp_protocol)?;
        let rmp_feature = feature(&rmp, &main.rmp_feature)?;
        let mut variants = Vec::new();
        for s in &main.searches {
            let rin = protocol(&s.rin_protocol)?;
            let rin_feature = feature(&rin, "ohmic_input_resistance_vb_ssse")?;
            let target_mv = s.target_voltage_mv.ok_or_else(|| {
                err(format!(
                    "no target voltage (`{}.soma.v.voltage_base`)",
                    s.rin_protocol
                ))
            })?;
            let (max_v, short_steps) = match (rules, s.variant.as_str()) {
                (Rules::EModelRunnerThalamus, "hyp") => (-50.0, 5),
                (Rules::EModelRunnerThalamus, _) => (-40.0, 5),
                _ => (-40.0, 20),
            };
            let suffix = if s.variant.is_empty() {
                String::new()
            } else {
                format!("_{}", s.variant)
            };
            variants.push(EmrVariant {
                variant: s.variant.clone(),
                rin,
                rin_feature,
                target_mv,
                precision_mv: s.holdi_precision,
                max_depth: s.holdi_max_depth,
                multiplier: s.holdi_estimate_multiplier,
                template: Protocol {
                    name: format!("ThresholdDetection{suffix}"),
                    stimulus: s.detection_template.clone(),
                    recordings: Vec::new(),
                    origin: s.origin.clone(),
                },
                max_threshold_voltage_mv: max_v,
                short_steps,
            });
        }
        Ok(SearchPlan::EModelRunner {
            rules,
            rmp: Box::new(rmp),
            rmp_feature: Box::new(rmp_feature),
            variants,
        })
    }

    fn bluepyemodel(em: &EModel) -> SearchPlan {
        let find = |protocol: &str, efel: &str| {
            em.features
                .iter()
                .find(|f| f.protocol == protocol && f.efel_name == efel)
                .cloned()
        };
        SearchPlan::BluePyEModel(Box::new(BpemPlan {
            rmp_feature: find("RMPProtocol", "steady_state_voltage_stimend"),
            rin_feature: find("RinProtocol", "ohmic_input_resistance_vb_ssse"),
            holding_feature: find("SearchHoldingCurrent", "steady_state_voltage_stimend"),
            default_settings: Settings {
                interp_step_ms: 0.025,
                strict_stiminterval: true,
                ..Settings::default()
            },
        }))
    }

    pub fn rules(&self) -> Rules {
        match self {
            SearchPlan::EModelRunner { rules, .. } => *rules,
            SearchPlan::BluePyEModel(_) => Rules::BluePyEModel,
        }
    }

    /// The search variants, in order (`""` for a single search).
    pub fn variants(&self) -> Vec<String> {
        match self {
            SearchPlan::EModelRunner { variants, .. } => {
                variants.iter().map(|v| v.variant.clone()).collect()
            }
            SearchPlan::BluePyEModel(_) => vec![String::new()],
        }
    }
}

// ------------------------------------------------------------------------------------------
// Results
// ------------------------------------------------------------------------------------------

/// One step of a threshold search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThresholdStep {
    pub current_na: f64,
    /// A short pulse (EModelRunner's first phase).
    pub short: bool,
    pub spiked: bool,
}

/// What one search (variant) of one cell found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VariantResult {
    pub variant: String,
    pub target_voltage_mv: Option<f64>,
    /// Rin without holding current [MΩ] (EModelRunner).
    pub rin_noholding_mohm: Option<f64>,
    pub holding_na: Option<f64>,
    /// Rin at the holding current [MΩ].
    pub rin_mohm: Option<f64>,
    pub max_threshold_na: Option<f64>,
    pub threshold_na: Option<f64>,
    /// Every holding current tried, with the voltage it gave (None: no value / spiked).
    pub holding_steps: Vec<(f64, Option<f64>)>,
    pub threshold_steps: Vec<ThresholdStep>,
    /// Why the search stopped without a result.
    pub failure: Option<String>,
}

/// Everything found for one cell.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CellResult {
    pub rmp_mv: Option<f64>,
    pub variants: Vec<VariantResult>,
}

impl CellResult {
    /// The currents a protocol named `name` runs with: thalamus protocols whose name ends in
    /// `_hyp` take the `hyp` search's currents, the others the `dep` one's (EModelRunner's
    /// rule); a single search serves every protocol.
    pub fn currents_for(&self, name: &str) -> Option<&VariantResult> {
        if self.variants.len() == 1 {
            return self.variants.first();
        }
        let want = if name.ends_with("_hyp") { "hyp" } else { "dep" };
        self.variants.iter().find(|v| v.variant == want)
    }

    /// The lane currents of protocol `name`.
    pub fn lane_currents(&self, name: &str) -> LaneCurrents {
        let v = self.currents_for(name);
        LaneCurrents {
            holding_na: v.and_then(|v| v.holding_na),
            threshold_na: v.and_then(|v| v.threshold_na),
            step_na: None,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Features
// ------------------------------------------------------------------------------------------

/// NEURON's sample times of a run of `tstop_ms` [ms].
fn sample_times(dt_ms: f64, tstop_ms: f64) -> Vec<f64> {
    FixedStepClock::sample_times_ms(dt_ms, tstop_ms)
}

/// eFEL's mean of a feature's values (`getMeanFeatureValues`), None without value.
fn mean_of(values: Option<Vec<f64>>) -> Option<f64> {
    let v = values.filter(|v| !v.is_empty())?;
    Some(numpy_sum(&v) / v.len() as f64)
}

/// A package feature's value as BluePyOpt's `calculate_feature` gives it.
fn package_feature(
    f: &Feature,
    t: &[f64],
    v: &[f64],
    window: (f64, f64),
    stimulus_current_na: Option<f64>,
) -> Option<f64> {
    let key = format!("{}.{}", f.protocol, f.recording);
    let mut traces = BTreeMap::new();
    traces.insert(
        key,
        ScoreTrace {
            trace: Trace {
                t_ms: t,
                v_mv: v,
                stim_start_ms: window.0,
                stim_end_ms: window.1,
            },
            stimulus_current_na,
        },
    );
    let features = std::slice::from_ref(f);
    let report = Scorer::new(features, ScoreRule::EModelRunner).score(&traces, &BTreeMap::new());
    mean_of(report.features.into_iter().next()?.values)
}

/// A feature under `settings` (the searches' internal checks).
fn efel_value(
    name: &str,
    t: &[f64],
    v: &[f64],
    window: (f64, f64),
    settings: &Settings,
) -> Option<f64> {
    let trace = Trace {
        t_ms: t,
        v_mv: v,
        stim_start_ms: window.0,
        stim_end_ms: window.1,
    };
    mean_of(crate::features::feature(name, &trace, settings))
}

// ------------------------------------------------------------------------------------------
// Protocol shapes
// ------------------------------------------------------------------------------------------

fn with_stimulus(p: &Protocol, name: &str, stimulus: Stimulus) -> Protocol {
    Protocol {
        name: name.to_string(),
        stimulus,
        recordings: Vec::new(),
        origin: p.origin.clone(),
    }
}

/// The threshold detection's short protocol: the first step's duration is 10 % of the
/// stimulus duration and the run ends with it; the holding lasts as long.
fn short_protocol(template: &Protocol) -> Option<Protocol> {
    let Stimulus::Step { steps, holding } = &template.stimulus else {
        return None;
    };
    let (start, end) = step_window(&template.stimulus)?;
    let short = (end - start) * SHORT_FRACTION;
    let total = start + short;
    let mut steps = steps.clone();
    steps[0].duration_ms = short;
    steps[0].total_duration_ms = total;
    let holding = holding.clone().map(|h| SquarePulse {
        duration_ms: total,
        total_duration_ms: total,
        ..h
    });
    Some(with_stimulus(
        template,
        &format!("{}_short", template.name),
        Stimulus::Step { steps, holding },
    ))
}

/// numpy's `linspace(start, stop, n)`.
pub fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![start];
    }
    let div = (n - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut out: Vec<f64> = (0..n)
        .map(|i| {
            let y = i as f64;
            if step == 0.0 {
                y / div * delta + start
            } else {
                y * step + start
            }
        })
        .collect();
    out[n - 1] = stop;
    out
}

/// BluePyEModel's `step` e-code (IDrest, sampled) with absolute amplitude and holding.
fn bpem_step(
    name: &str,
    delay_ms: f64,
    amp_na: f64,
    duration_ms: f64,
    total_ms: f64,
    holding_na: f64,
) -> Protocol {
    let (key, class) = crate::package::ecode_for("step").unwrap_or(("step", "IDrest"));
    Protocol {
        name: name.to_string(),
        stimulus: Stimulus::ECode(ECode {
            key,
            class,
            protocol_type: ECodeProtocolType::Fixed,
            params: vec![
                ("delay".into(), delay_ms),
                ("amp".into(), amp_na),
                ("duration".into(), duration_ms),
                ("totduration".into(), total_ms),
                ("holding_current".into(), holding_na),
            ],
            null_params: vec!["thresh_perc".into()],
        }),
        recordings: Vec::new(),
        origin: Origin::new(std::path::Path::new("<built-in search>"), None),
    }
}

// ------------------------------------------------------------------------------------------
// The searches
// ------------------------------------------------------------------------------------------

/// Each lane's soma voltage (None: the lane failed).
type LaneTraces = Vec<Option<Vec<f64>>>;

/// Runs `protocol` for the given lanes and returns the sample times and each lane's soma
/// voltage.
fn run_lanes(
    runner: &mut dyn SomaRunner,
    protocol: &Protocol,
    lanes: &[SearchRun],
) -> Result<(Vec<f64>, LaneTraces), Diagnostic> {
    if lanes.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let out = runner.run_soma(protocol, lanes)?;
    let tstop = protocol.stimulus.tstop_ms();
    Ok((sample_times(runner.dt_ms(), tstop), out))
}

/// Searches the currents of `cells` parameter sets (indices 0..cells) under `plan`.
/// An `Err` is a simulation that could not be set up at all; a search that fails for a cell is
/// recorded in its [`VariantResult::failure`].
pub fn search(
    plan: &SearchPlan,
    runner: &mut dyn SomaRunner,
    cells: usize,
) -> Result<Vec<CellResult>, Diagnostic> {
    match plan {
        SearchPlan::EModelRunner {
            rules,
            rmp,
            rmp_feature,
            variants,
        } => emr_search(*rules, rmp, rmp_feature, variants, runner, cells),
        SearchPlan::BluePyEModel(p) => bpem_search(p, runner, cells),
    }
}

fn plain(cell: usize) -> SearchRun {
    SearchRun {
        cell,
        currents: LaneCurrents::default(),
    }
}

fn holding_run(cell: usize, holding_na: f64) -> SearchRun {
    SearchRun {
        cell,
        currents: LaneCurrents {
            holding_na: Some(holding_na),
            threshold_na: None,
            step_na: None,
        },
    }
}

fn step_run(cell: usize, holding_na: f64, step_na: f64) -> SearchRun {
    SearchRun {
        cell,
        currents: LaneCurrents {
            holding_na: Some(holding_na),
            threshold_na: None,
            step_na: Some(step_na),
        },
    }
}

/// State of one EModelRunner holding bisection.
struct HoldState {
    upper: f64,
    lower: f64,
    middle: f64,
    n: u32,
    done: bool,
}

fn emr_search(
    rules: Rules,
    rmp: &Protocol,
    rmp_feature: &WindowedFeature,
    variants: &[EmrVariant],
    runner: &mut dyn SomaRunner,
    cells: usize,
) -> Result<Vec<CellResult>, Diagnostic> {
    let thalamus = rules == Rules::EModelRunnerThalamus;
    let mut results: Vec<CellResult> = (0..cells)
        .map(|_| CellResult {
            rmp_mv: None,
            variants: variants
                .iter()
                .map(|v| VariantResult {
                    variant: v.variant.clone(),
                    target_voltage_mv: Some(v.target_mv),
                    ..VariantResult::default()
                })
                .collect(),
        })
        .collect();
    let fail = |r: &mut VariantResult, m: &str| {
        if r.failure.is_none() {
            r.failure = Some(m.to_string());
        }
    };

    // 1. RMP
    let all: Vec<SearchRun> = (0..cells).map(plain).collect();
    let (t, traces) = run_lanes(runner, rmp, &all)?;
    for (c, tr) in traces.iter().enumerate() {
        results[c].rmp_mv = tr.as_ref().and_then(|v| {
            package_feature(
                &rmp_feature.feature,
                &t,
                v,
                (rmp_feature.stim_start_ms, rmp_feature.stim_end_ms),
                rmp_feature.stimulus_current_na,
            )
        });
        if results[c].rmp_mv.is_none() {
            for r in &mut results[c].variants {
                fail(r, "no resting potential (the RMP feature has no value)");
            }
        }
    }

    let defaults = Settings::default();
    for (vi, var) in variants.iter().enumerate() {
        let rin_window = (var.rin_feature.stim_start_ms, var.rin_feature.stim_end_ms);
        let rin_of = |t: &[f64], v: &[f64]| {
            package_feature(
                &var.rin_feature.feature,
                t,
                v,
                rin_window,
                var.rin_feature.stimulus_current_na,
            )
        };
        let alive = |results: &[CellResult]| -> Vec<usize> {
            (0..cells)
                .filter(|&c| results[c].variants[vi].failure.is_none())
                .collect()
        };

        // 2. Rin without holding current
        let live = alive(&results);
        let runs: Vec<SearchRun> = live.iter().map(|&c| holding_run(c, 0.0)).collect();
        let (t, traces) = run_lanes(runner, &var.rin, &runs)?;
        for (&c, tr) in live.iter().zip(&traces) {
            let r = &mut results[c].variants[vi];
            r.rin_noholding_mohm = tr.as_ref().and_then(|v| rin_of(&t, v));
            if r.rin_noholding_mohm.is_none() {
                fail(r, "no input resistance without holding current");
            }
        }

        // 3. Holding current
        let live = alive(&results);
        let mut states: BTreeMap<usize, HoldState> = BTreeMap::new();
        for &c in &live {
            let rmp = results[c].rmp_mv.unwrap_or(f64::NAN);
            let rin0 = results[c].variants[vi]
                .rin_noholding_mohm
                .unwrap_or(f64::NAN);
            let estimate = (var.target_mv - rmp) / rin0;
            let upper = if thalamus { 0.22 } else { 0.0 };
            let lower = var.multiplier * estimate;
            let middle = upper - (upper - lower).abs() / 2.0;
            // the thalamus' recursion returns before simulating past its depth
            let done = thalamus && 1 > var.max_depth;
            if done {
                results[c].variants[vi].holding_na = Some(middle);
            }
            states.insert(
                c,
                HoldState {
                    upper,
                    lower,
                    middle,
                    n: if thalamus { 1 } else { 0 },
                    done,
                },
            );
        }
        loop {
            let active: Vec<usize> = states
                .iter()
                .filter(|(_, s)| !s.done)
                .map(|(&c, _)| c)
                .collect();
            if active.is_empty() {
                break;
            }
            let runs: Vec<SearchRun> = active
                .iter()
                .map(|&c| holding_run(c, states[&c].middle))
                .collect();
            let (t, traces) = run_lanes(runner, &var.rin, &runs)?;
            for (&c, tr) in active.iter().zip(&traces) {
                let s = states.get_mut(&c).expect("active state");
                let vb = tr
                    .as_ref()
                    .and_then(|v| efel_value("voltage_base", &t, v, rin_window, &defaults));
                let r = &mut results[c].variants[vi];
                r.holding_steps.push((s.middle, vb));
                let Some(vb) = vb else {
                    s.done = true;
                    fail(r, "the holding search's voltage base has no value");
                    continue;
                };
                let target = var.target_mv;
                if thalamus {
                    // binsearch_holdi: stop within precision, else recurse one level deeper
                    if (vb - target).abs() < var.precision_mv {
                        s.done = true;
                        r.holding_na = Some(s.middle);
                        continue;
                    } else if vb > target {
                        s.upper = s.middle;
                    } else if vb < target {
                        s.lower = s.middle;
                    } else {
                        s.done = true;
                        fail(r, "the holding search met an undefined voltage");
                        continue;
                    }
                    s.middle = s.upper - (s.upper - s.lower).abs() / 2.0;
                    s.n += 1;
                    if s.n > var.max_depth {
                        s.done = true;
                        r.holding_na = Some(s.middle);
                    }
                } else {
                    // search_holdi: loop while outside the precision and below the depth
                    if !((vb - target).abs() > var.precision_mv && s.n < var.max_depth) {
                        s.done = true;
                        r.holding_na = Some(s.middle);
                        continue;
                    }
                    if vb > target {
                        s.upper = s.middle;
                    } else {
                        s.lower = s.middle;
                    }
                    s.middle = s.upper - (s.upper - s.lower).abs() / 2.0;
                    s.n += 1;
                }
            }
        }

        // 4. Rin at the holding current
        let live = alive(&results);
        let runs: Vec<SearchRun> = live
            .iter()
            .map(|&c| holding_run(c, results[c].variants[vi].holding_na.unwrap_or(0.0)))
            .collect();
        let (t, traces) = run_lanes(runner, &var.rin, &runs)?;
        for (&c, tr) in live.iter().zip(&traces) {
            let r = &mut results[c].variants[vi];
            r.rin_mohm = tr.as_ref().and_then(|v| rin_of(&t, v));
            match r.rin_mohm {
                Some(rin) => {
                    r.max_threshold_na = Some((var.max_threshold_voltage_mv - var.target_mv) / rin)
                }
                None => fail(r, "no input resistance at the holding current"),
            }
        }

        // 5. Threshold: short pulses, all cells and amplitudes as lanes of one batch
        let short = short_protocol(&var.template).ok_or_else(|| {
            var.template.origin.error(
                "search",
                format!(
                    "`{}`: the threshold detection template is not a step protocol",
                    var.template.name
                ),
            )
        })?;
        let short_window = step_window(&short.stimulus).unwrap_or((0.0, 0.0));
        let long_window = step_window(&var.template.stimulus).unwrap_or((0.0, 0.0));
        let spikes = |t: &[f64], v: &Option<Vec<f64>>, window: (f64, f64)| -> Option<bool> {
            let name = if thalamus {
                "spike_count_stimint"
            } else {
                "spike_count"
            };
            v.as_ref()
                .and_then(|v| efel_value(name, t, v, window, &defaults))
                .map(|n| n >= 1.0)
        };
        let live = alive(&results);
        let mut amps: BTreeMap<usize, (f64, Vec<f64>)> = BTreeMap::new();
        let mut runs = Vec::new();
        for &c in &live {
            let r = &results[c].variants[vi];
            let hold = r.holding_na.unwrap_or(0.0);
            let lower = if thalamus { 0.0 } else { -hold };
            let xs = linspace(
                lower,
                r.max_threshold_na.unwrap_or(f64::NAN),
                var.short_steps,
            );
            runs.extend(xs.iter().map(|&x| step_run(c, hold, x)));
            amps.insert(c, (lower, xs));
        }
        let (t, traces) = run_lanes(runner, &short, &runs)?;
        let mut k = 0;
        // (cell, lower, upper) of the bisections to come; cells needing a long check
        let mut bisect: Vec<(usize, f64, f64)> = Vec::new();
        let mut long_check: Vec<(usize, f64, f64)> = Vec::new();
        for &c in &live {
            let (lower, xs) = &amps[&c];
            let r = &mut results[c].variants[vi];
            let mut found = None;
            for &x in xs {
                let s = spikes(&t, &traces[k], short_window);
                k += 1;
                if found.is_some() {
                    continue;
                }
                r.threshold_steps.push(ThresholdStep {
                    current_na: x,
                    short: true,
                    spiked: s == Some(true),
                });
                if s == Some(true) {
                    found = Some(x);
                }
            }
            match (found, xs.last()) {
                (Some(x), _) => bisect.push((c, *lower, x)),
                (None, Some(&last)) => long_check.push((c, *lower, last)),
                (None, None) => fail(r, "no short pulse to try"),
            }
        }
        if !long_check.is_empty() {
            let runs: Vec<SearchRun> = long_check
                .iter()
                .map(|&(c, _, x)| step_run(c, results[c].variants[vi].holding_na.unwrap_or(0.0), x))
                .collect();
            let (t, traces) = run_lanes(runner, &var.template, &runs)?;
            for (&(c, lower, x), tr) in long_check.iter().zip(&traces) {
                let s = spikes(&t, tr, long_window) == Some(true);
                let r = &mut results[c].variants[vi];
                r.threshold_steps.push(ThresholdStep {
                    current_na: x,
                    short: false,
                    spiked: s,
                });
                if s {
                    bisect.push((c, lower, x));
                } else {
                    fail(r, "no spike at the largest current tried");
                }
            }
        }
        // bisection on full steps, every cell's round as one batch
        let mut depth = 0;
        loop {
            let active: Vec<usize> = (0..bisect.len())
                .filter(|&i| (bisect[i].2 - bisect[i].1).abs() >= THRESHOLD_PRECISION_NA)
                .collect();
            if depth >= EMR_THRESHOLD_DEPTH || active.is_empty() {
                break;
            }
            let runs: Vec<SearchRun> = active
                .iter()
                .map(|&i| {
                    let (c, lower, upper) = bisect[i];
                    let middle = upper - (upper - lower).abs() / 2.0;
                    step_run(c, results[c].variants[vi].holding_na.unwrap_or(0.0), middle)
                })
                .collect();
            let (t, traces) = run_lanes(runner, &var.template, &runs)?;
            for (&i, tr) in active.iter().zip(&traces) {
                let (c, lower, upper) = bisect[i];
                let middle = upper - (upper - lower).abs() / 2.0;
                let s = spikes(&t, tr, long_window) == Some(true);
                results[c].variants[vi].threshold_steps.push(ThresholdStep {
                    current_na: middle,
                    short: false,
                    spiked: s,
                });
                bisect[i] = if s {
                    (c, lower, middle)
                } else {
                    (c, middle, upper)
                };
            }
            depth += 1;
        }
        for (c, _, upper) in bisect {
            results[c].variants[vi].threshold_na = Some(upper);
        }
    }
    Ok(results)
}

// BluePyEModel's defaults (FitnessCalculatorConfiguration, EModelPipelineSettings).
const BPEM_RMP_DURATION_MS: f64 = 500.0;
const BPEM_RIN_AMP_NA: f64 = -0.02;
const BPEM_RIN_DELAY_MS: f64 = 500.0;
const BPEM_RIN_DURATION_MS: f64 = 500.0;
const BPEM_RIN_TOTAL_MS: f64 = 1000.0;
const BPEM_HOLD_DURATION_MS: f64 = 500.0;
const BPEM_HOLD_BOUNDS_NA: (f64, f64) = (-0.2, 0.2);
const BPEM_HOLD_PRECISION_MV: f64 = 0.1;
const BPEM_HOLD_DEPTH: u32 = 7;
const BPEM_THRESHOLD_DELAY_MS: f64 = 500.0;
const BPEM_THRESHOLD_DURATION_MS: f64 = 2000.0;
const BPEM_THRESHOLD_TOTAL_MS: f64 = 3000.0;
const BPEM_MAX_THRESHOLD_VOLTAGE_MV: f64 = -30.0;
const BPEM_MAX_THRESHOLD_NA: f64 = 2.0;
const BPEM_THRESHOLD_DEPTH: u32 = 10;

/// A BluePyEModel target feature's value: the e-model's feature with its settings when it
/// has one, else `name` under the pipeline's default settings.
fn bpem_value(
    f: Option<&Feature>,
    name: &str,
    defaults: &Settings,
    t: &[f64],
    v: &[f64],
    window: (f64, f64),
    stimulus_current_na: f64,
) -> Option<f64> {
    match f {
        Some(f) => package_feature(f, t, v, window, Some(stimulus_current_na)),
        None => {
            let settings = Settings {
                stimulus_current_na: Some(stimulus_current_na),
                ..defaults.clone()
            };
            efel_value(name, t, v, window, &settings)
        }
    }
}

fn bpem_search(
    plan: &BpemPlan,
    runner: &mut dyn SomaRunner,
    cells: usize,
) -> Result<Vec<CellResult>, Diagnostic> {
    let mut results: Vec<CellResult> = (0..cells)
        .map(|_| CellResult {
            rmp_mv: None,
            variants: vec![VariantResult::default()],
        })
        .collect();
    let fail = |r: &mut VariantResult, m: &str| {
        if r.failure.is_none() {
            r.failure = Some(m.to_string());
        }
    };
    let defaults = &plan.default_settings;

    // RMP: 500 ms without current, steady_state_voltage_stimend over the last 100 ms
    let rmp = bpem_step(
        "RMPProtocol",
        0.0,
        0.0,
        BPEM_RMP_DURATION_MS,
        BPEM_RMP_DURATION_MS,
        0.0,
    );
    let all: Vec<SearchRun> = (0..cells).map(plain).collect();
    let (t, traces) = run_lanes(runner, &rmp, &all)?;
    let rmp_window = (BPEM_RMP_DURATION_MS - 100.0, BPEM_RMP_DURATION_MS);
    for (c, tr) in traces.iter().enumerate() {
        results[c].rmp_mv = tr.as_ref().and_then(|v| {
            bpem_value(
                plan.rmp_feature.as_ref(),
                "steady_state_voltage_stimend",
                defaults,
                &t,
                v,
                rmp_window,
                0.0,
            )
        });
        if results[c].rmp_mv.is_none() {
            fail(&mut results[c].variants[0], "no resting potential");
        }
    }
    let alive = |results: &[CellResult]| -> Vec<usize> {
        (0..cells)
            .filter(|&c| results[c].variants[0].failure.is_none())
            .collect()
    };

    // Holding current: every cell's bisection in lockstep, one batch per round
    let no_spikes = plan.holding_feature.is_some();
    match &plan.holding_feature {
        None => {
            for r in &mut results {
                r.variants[0].holding_na = Some(0.0);
            }
        }
        Some(target) => {
            let cells = alive(&results);
            bpem_holding(target, runner, &mut results, &cells)?;
        }
    }

    // Rin at the holding current, all cells in one batch
    let live = alive(&results);
    let runs: Vec<(Protocol, SearchRun)> = live
        .iter()
        .map(|&c| {
            let hold = results[c].variants[0].holding_na.unwrap_or(0.0);
            let p = bpem_step(
                "RinProtocol",
                BPEM_RIN_DELAY_MS,
                BPEM_RIN_AMP_NA,
                BPEM_RIN_DURATION_MS,
                BPEM_RIN_TOTAL_MS,
                hold,
            );
            (p, plain(c))
        })
        .collect();
    let (t, traces) = run_each(runner, &runs)?;
    for (&c, v) in live.iter().zip(traces) {
        let r = &mut results[c].variants[0];
        r.rin_mohm = v.and_then(|v| {
            bpem_value(
                plan.rin_feature.as_ref(),
                "ohmic_input_resistance_vb_ssse",
                defaults,
                &t,
                &v,
                (BPEM_RIN_DELAY_MS, BPEM_RIN_DELAY_MS + BPEM_RIN_DURATION_MS),
                BPEM_RIN_AMP_NA,
            )
        });
        if r.rin_mohm.is_none() {
            fail(r, "no input resistance");
        }
    }

    let cells = alive(&results);
    bpem_threshold(runner, &mut results, &cells, no_spikes)?;
    Ok(results)
}

/// Runs each lane under its own protocol (one duration) and returns the sample times and each
/// lane's soma voltage.
fn run_each(
    runner: &mut dyn SomaRunner,
    runs: &[(Protocol, SearchRun)],
) -> Result<(Vec<f64>, LaneTraces), Diagnostic> {
    let Some((first, _)) = runs.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let out = runner.run_soma_each(runs)?;
    Ok((sample_times(runner.dt_ms(), first.stimulus.tstop_ms()), out))
}

/// BluePyEModel's holding-current bisection on `target` for cells `cells`, in lockstep: each
/// round simulates every cell still searching at its own midpoint, in one batch.
fn bpem_holding(
    target: &Feature,
    runner: &mut dyn SomaRunner,
    results: &mut [CellResult],
    cells: &[usize],
) -> Result<(), Diagnostic> {
    let spike_settings = Settings::default();
    let window = (BPEM_HOLD_DURATION_MS - 100.0, BPEM_HOLD_DURATION_MS);
    let mut states: BTreeMap<usize, (f64, f64, u32)> = cells
        .iter()
        .map(|&c| (c, (BPEM_HOLD_BOUNDS_NA.0, BPEM_HOLD_BOUNDS_NA.1, 0)))
        .collect();
    for r in results.iter_mut() {
        r.variants[0].target_voltage_mv = Some(target.mean);
    }
    while !states.is_empty() {
        // one protocol per current: the amplitude is the holding (delay 0)
        let round: Vec<(usize, f64)> = states
            .iter()
            .map(|(&c, &(lower, upper, _))| (c, (upper + lower) * 0.5))
            .collect();
        let runs: Vec<(Protocol, SearchRun)> = round
            .iter()
            .map(|&(c, mid)| {
                let p = bpem_step(
                    "SearchHoldingCurrent",
                    0.0,
                    mid,
                    BPEM_HOLD_DURATION_MS,
                    BPEM_HOLD_DURATION_MS,
                    0.0,
                );
                (p, plain(c))
            })
            .collect();
        let (t, traces) = run_each(runner, &runs)?;
        for (&(c, mid), v) in round.iter().zip(traces) {
            let (lower, upper, depth) = states[&c];
            let spiking = v.as_ref().and_then(|v| {
                efel_value(
                    "Spikecount",
                    &t,
                    v,
                    (0.0, BPEM_HOLD_DURATION_MS),
                    &spike_settings,
                )
            });
            // a spike at the holding makes the voltage unusable (`no_spikes`)
            let vb = if spiking == Some(0.0) {
                v.as_ref()
                    .and_then(|v| package_feature(target, &t, v, window, Some(0.0)))
            } else {
                None
            };
            let r = &mut results[c].variants[0];
            r.holding_steps.push((mid, vb));
            if depth > BPEM_HOLD_DEPTH {
                r.holding_na = Some(lower);
                states.remove(&c);
                continue;
            }
            if let Some(vb) = vb {
                if (vb - target.mean).abs() < BPEM_HOLD_PRECISION_MV {
                    r.holding_na = Some(mid);
                    states.remove(&c);
                    continue;
                }
            }
            let next = match vb {
                Some(vb) if vb <= target.mean => (mid, upper, depth + 1),
                _ => (lower, mid, depth + 1),
            };
            states.insert(c, next);
        }
    }
    Ok(())
}

/// Where one cell's BluePyEModel threshold search stands.
#[derive(Clone, Copy, Debug)]
enum ThresholdPhase {
    /// The upper bound must spike.
    Max,
    /// The holding current: a spike there lowers the bracket (or fails the search).
    Lower,
    /// Bisection between the bounds.
    Bisect { lower: f64, upper: f64, depth: u32 },
}

/// The bracket after the first two steps, or the threshold when it is already closed.
fn bpem_bracket(lower: f64, upper: f64) -> Result<ThresholdPhase, f64> {
    let upper = if lower > upper { lower } else { upper };
    if (lower - upper).abs() >= THRESHOLD_PRECISION_NA {
        Ok(ThresholdPhase::Bisect {
            lower,
            upper,
            depth: 0,
        })
    } else {
        Err(upper)
    }
}

/// BluePyEModel's threshold search for cells `cells`, in lockstep: each round simulates every
/// cell still searching at the current its own search is at, in one batch. Each cell takes
/// exactly the steps it takes alone.
fn bpem_threshold(
    runner: &mut dyn SomaRunner,
    results: &mut [CellResult],
    cells: &[usize],
    no_spikes: bool,
) -> Result<(), Diagnostic> {
    let spike_settings = Settings::default();
    let window = (
        BPEM_THRESHOLD_DELAY_MS,
        BPEM_THRESHOLD_DELAY_MS + BPEM_THRESHOLD_DURATION_MS,
    );
    let mut active: BTreeMap<usize, ThresholdPhase> = BTreeMap::new();
    for &c in cells {
        let rmp = results[c].rmp_mv.unwrap_or(f64::NAN);
        let r = &mut results[c].variants[0];
        let rin = r.rin_mohm.unwrap_or(f64::NAN);
        r.max_threshold_na =
            Some(((BPEM_MAX_THRESHOLD_VOLTAGE_MV - rmp) / rin).min(BPEM_MAX_THRESHOLD_NA));
        active.insert(c, ThresholdPhase::Max);
    }
    while !active.is_empty() {
        let round: Vec<(usize, f64)> = active
            .iter()
            .map(|(&c, phase)| {
                let r = &results[c].variants[0];
                let amp = match *phase {
                    ThresholdPhase::Max => r.max_threshold_na.unwrap_or(f64::NAN),
                    ThresholdPhase::Lower => r.holding_na.unwrap_or(0.0),
                    ThresholdPhase::Bisect { lower, upper, .. } => (upper + lower) * 0.5,
                };
                (c, amp)
            })
            .collect();
        let runs: Vec<(Protocol, SearchRun)> = round
            .iter()
            .map(|&(c, amp)| {
                let hold = results[c].variants[0].holding_na.unwrap_or(0.0);
                let p = bpem_step(
                    "SearchThresholdCurrent",
                    BPEM_THRESHOLD_DELAY_MS,
                    amp,
                    BPEM_THRESHOLD_DURATION_MS,
                    BPEM_THRESHOLD_TOTAL_MS,
                    hold,
                );
                (p, plain(c))
            })
            .collect();
        let (t, traces) = run_each(runner, &runs)?;
        for (&(c, amp), v) in round.iter().zip(traces) {
            // a failed lane counts as many spikes, as BluePyEModel's timeout does
            let n = v
                .and_then(|v| efel_value("Spikecount", &t, &v, window, &spike_settings))
                .unwrap_or(2.0);
            let r = &mut results[c].variants[0];
            r.threshold_steps.push(ThresholdStep {
                current_na: amp,
                short: false,
                spiked: n > 0.0,
            });
            let hold = r.holding_na.unwrap_or(0.0);
            let max = r.max_threshold_na.unwrap_or(f64::NAN);
            let next = match active[&c] {
                ThresholdPhase::Max if n == 0.0 => {
                    r.failure.get_or_insert_with(|| {
                        "no spike at the upper bound of the threshold search".into()
                    });
                    None
                }
                ThresholdPhase::Max => Some(ThresholdPhase::Lower),
                ThresholdPhase::Lower if n > 0.0 && no_spikes => {
                    r.failure
                        .get_or_insert_with(|| "spikes at the holding current".into());
                    None
                }
                ThresholdPhase::Lower => {
                    let lower = if n > 0.0 { hold - 0.5 } else { hold };
                    match bpem_bracket(lower, max) {
                        Ok(p) => Some(p),
                        Err(th) => {
                            r.threshold_na = Some(th);
                            None
                        }
                    }
                }
                ThresholdPhase::Bisect {
                    mut lower,
                    mut upper,
                    depth,
                } => {
                    let mid = amp;
                    if n == 0.0 {
                        lower = mid;
                    } else {
                        upper = mid;
                    }
                    let depth = depth + 1;
                    if (lower - upper).abs() >= THRESHOLD_PRECISION_NA
                        && depth <= BPEM_THRESHOLD_DEPTH
                    {
                        Some(ThresholdPhase::Bisect {
                            lower,
                            upper,
                            depth,
                        })
                    } else {
                        r.threshold_na = Some(upper);
                        None
                    }
                }
            };
            match next {
                Some(p) => {
                    active.insert(c, p);
                }
                None => {
                    active.remove(&c);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_is_numpys() {
        // numpy 2.4: np.linspace(-0.05, 0.3, 5).tolist()
        let x = linspace(-0.05, 0.3, 5);
        assert_eq!(x.len(), 5);
        assert_eq!(x[0], -0.05);
        assert_eq!(x[1], 1.0 * ((0.3 - -0.05) / 4.0) + -0.05);
        assert_eq!(x[4], 0.3);
        assert_eq!(linspace(1.0, 1.0, 3), vec![1.0, 1.0, 1.0]);
        assert!(linspace(0.0, 1.0, 0).is_empty());
    }

    /// A runner whose cell spikes when the step current reaches `threshold_na` and whose
    /// voltage base is linear in the holding current: the searches' control flow, checked
    /// without a simulator.
    struct Toy {
        dt: f64,
        threshold_na: f64,
        calls: usize,
    }

    impl SomaRunner for Toy {
        fn dt_ms(&self) -> f64 {
            self.dt
        }
        fn run_soma(
            &mut self,
            protocol: &Protocol,
            lanes: &[SearchRun],
        ) -> Result<Vec<Option<Vec<f64>>>, Diagnostic> {
            self.calls += 1;
            let program = stimulus::build(
                protocol,
                &lanes.iter().map(|l| l.currents).collect::<Vec<_>>(),
            )?;
            let times = sample_times(self.dt, program.tstop_ms);
            Ok((0..lanes.len())
                .map(|l| {
                    // passive 100 MΩ cell at -70 mV, with a spike when the current is large
                    let mut v: Vec<f64> = times
                        .iter()
                        .map(|&t| -70.0 + 100.0 * program.current_na(l, t))
                        .collect();
                    let peak = times
                        .iter()
                        .map(|&t| program.current_na(l, t))
                        .fold(f64::MIN, f64::max);
                    let hold = program.current_na(l, 0.0);
                    if peak - hold >= self.threshold_na {
                        let k = v.len() / 2;
                        for x in &mut v[k..k + 8] {
                            *x = 20.0;
                        }
                    }
                    Some(v)
                })
                .collect())
        }
    }

    #[test]
    fn bluepyemodel_rules_find_a_toy_threshold_by_bisection() {
        let plan = SearchPlan::BluePyEModel(Box::new(BpemPlan {
            rmp_feature: None,
            rin_feature: None,
            holding_feature: None,
            default_settings: Settings {
                interp_step_ms: 0.025,
                strict_stiminterval: true,
                ..Settings::default()
            },
        }));
        let mut toy = Toy {
            dt: 0.1,
            threshold_na: 0.1234,
            calls: 0,
        };
        let r = search(&plan, &mut toy, 1).unwrap();
        let v = &r[0].variants[0];
        assert_eq!(v.failure, None);
        assert_eq!(v.holding_na, Some(0.0));
        let rmp = r[0].rmp_mv.unwrap();
        assert!((rmp + 70.0).abs() < 1e-9, "{rmp}");
        let rin = v.rin_mohm.unwrap();
        // the toy's step edges are resolved only to its 0.1 ms samples
        assert!((rin - 100.0).abs() < 1.0, "{rin}");
        let thr = v.threshold_na.unwrap();
        assert!(
            thr >= 0.1234 && thr - 0.1234 < THRESHOLD_PRECISION_NA,
            "{thr}"
        );
        // upper bound ((-30 - RMP) / Rin, about 0.4 nA), lower bound, then the bisection
        assert_eq!(v.threshold_steps[0].current_na, (-30.0 - rmp) / rin);
        assert!(v.threshold_steps[0].spiked && !v.threshold_steps[1].spiked);
    }
}
