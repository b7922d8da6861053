//! Electrode currents: turn a protocol's stimulus into the current clamps NEURON creates at
//! soma(0.5), a program of the engine's stimulus runtime ([`crate::engine::stimulus`]).
//!
//! # How the tools set the clamps
//! - EModelRunner `StepProtocol` / `StepThresholdProtocol`: one clamp per step (del = delay,
//!   dur = duration), then the holding clamp. Threshold protocols take
//!   `threshold × (thresh_perc / 100)` for the steps and the holding current for the holding.
//!   A holding clamp whose `amp` is null (the Rin protocol) takes the holding current.
//! - `RampProtocol` (BluePyOpt's `NrnRampPulse`): a clamp with del = 0, dur = total duration,
//!   and the breakpoints (0, 0), (delay, 0), (delay, start), (delay + duration, end),
//!   (delay + duration, 0), (total, 0); then the holding clamp.
//! - Untyped protocols: one clamp per pulse.
//! - BluePyEModel e-codes: one clamp with del = 0, dur = total duration and breakpoints of
//!   holding + amplitude (IDrest, IV, APWaveform, FirePattern, sAHP, HyperDepol, DeHyperpol,
//!   PosCheops, NegCheops, Ramp, Comb, SpikeRecMultiSpikes, ThresholdAddition); SineSpec samples
//!   its waveform every 0.1 ms and its clamp ends at the last sample; BPOSquarePulse is two
//!   square clamps. Threshold-based protocols take the lane's holding and threshold currents,
//!   `Protocol` ones the stimulus' own `holding_current` (or 0) and `amp`.
//!
//! The runtime ([`StimulusProgram`], [`Clamp`], [`FixedStepClock`]) is the engine's
//! (`engine::stimulus`); this module builds programs from protocols.

use crate::diag::Diagnostic;
pub use crate::engine::stimulus::{Amplitude, Clamp, FixedStepClock, StepTimes, StimulusProgram};
use crate::package::{ECode, ECodeProtocolType, Protocol, RampPulse, SquarePulse, Stimulus};

/// BluePyEModel samples generated e-codes (SineSpec) every 0.1 ms [ms].
pub const ECODE_SAMPLE_MS: f64 = 0.1;

/// The currents a protocol takes from the model rather than from its file, for one lane [nA].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LaneCurrents {
    /// The holding current: holding clamps of threshold protocols and of holdings whose `amp`
    /// is null, and the holding of threshold-based e-codes (0 for `ThresholdBasedNoHolding`).
    pub holding_na: Option<f64>,
    /// The threshold current that `thresh_perc` percentages scale.
    pub threshold_na: Option<f64>,
    /// The amplitude of steps whose `amp` is null in a plain step protocol (the threshold
    /// search's step template).
    pub step_na: Option<f64>,
}

// ------------------------------------------------------------------------------------------
// Building
// ------------------------------------------------------------------------------------------

/// A clamp of one lane, before the lanes are merged.
#[derive(Clone, Debug, PartialEq)]
struct LaneClamp {
    label: String,
    delay_ms: f64,
    stop_ms: f64,
    wave: LaneWave,
}

#[derive(Clone, Debug, PartialEq)]
enum LaneWave {
    Fixed(f64),
    Played(Vec<f64>, Vec<f64>),
}

/// A lane's clamps and its protocol's duration.
struct LaneStimulus {
    clamps: Vec<LaneClamp>,
    tstop_ms: f64,
}

fn square(label: String, delay_ms: f64, duration_ms: f64, amp_na: f64) -> LaneClamp {
    LaneClamp {
        label,
        delay_ms,
        stop_ms: delay_ms + duration_ms,
        wave: LaneWave::Fixed(amp_na),
    }
}

/// A clamp with del = 0 and dur = `duration_ms` playing `points`.
fn played(label: &str, duration_ms: f64, points: Vec<(f64, f64)>) -> LaneClamp {
    let (t, v) = points.into_iter().unzip();
    LaneClamp {
        label: label.to_string(),
        delay_ms: 0.0,
        stop_ms: 0.0 + duration_ms,
        wave: LaneWave::Played(t, v),
    }
}

fn need(value: Option<f64>, what: &str) -> Result<f64, String> {
    value.ok_or_else(|| format!("the {what} is not known"))
}

/// `threshold × (perc / 100)`, as EModelRunner and BluePyEModel compute it.
fn percent_of(threshold_na: f64, perc: f64) -> f64 {
    threshold_na * (perc / 100.0)
}

fn step_clamps(
    steps: &[SquarePulse],
    amps: impl Fn(&SquarePulse) -> Result<f64, String>,
) -> Result<Vec<LaneClamp>, String> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(square(
                format!("step {i}"),
                s.delay_ms,
                s.duration_ms,
                amps(s)?,
            ))
        })
        .collect()
}

fn holding_clamp(h: &SquarePulse, amp_na: f64) -> LaneClamp {
    square("holding".into(), h.delay_ms, h.duration_ms, amp_na)
}

/// BluePyOpt's `NrnRampPulse`.
fn ramp_clamp(r: &RampPulse, start_na: f64, end_na: f64) -> LaneClamp {
    let on = r.delay_ms;
    let off = r.delay_ms + r.duration_ms;
    played(
        "ramp",
        r.total_duration_ms,
        vec![
            (0.0, 0.0),
            (on, 0.0),
            (on, start_na),
            (off, end_na),
            (off, 0.0),
            (r.total_duration_ms, 0.0),
        ],
    )
}

fn lane_stimulus(stim: &Stimulus, lane: &LaneCurrents) -> Result<LaneStimulus, String> {
    let mut clamps = Vec::new();
    match stim {
        Stimulus::Step { steps, holding } => {
            clamps.extend(step_clamps(steps, |s| match s.amp_na {
                Some(a) => Ok(a),
                None => need(lane.step_na, "step amplitude (null in the protocol)"),
            })?);
            if let Some(h) = holding {
                let amp = match h.amp_na {
                    Some(a) => a,
                    None => need(lane.holding_na, "holding current")?,
                };
                clamps.push(holding_clamp(h, amp));
            }
        }
        Stimulus::StepThreshold {
            steps,
            thresh_perc,
            holding,
        } => {
            let thr = need(lane.threshold_na, "threshold current")?;
            let hold = need(lane.holding_na, "holding current")?;
            clamps.extend(step_clamps(steps, |_| Ok(percent_of(thr, *thresh_perc)))?);
            clamps.push(holding_clamp(holding, hold));
        }
        Stimulus::Ramp { ramp, holding } => {
            let start = need(ramp.amp_start_na, "ramp's start amplitude")?;
            let end = need(ramp.amp_end_na, "ramp's end amplitude")?;
            clamps.push(ramp_clamp(ramp, start, end));
            if let Some(h) = holding {
                let amp = match h.amp_na {
                    Some(a) => a,
                    None => need(lane.holding_na, "holding current")?,
                };
                clamps.push(holding_clamp(h, amp));
            }
        }
        Stimulus::RampThreshold {
            ramp,
            thresh_perc_start,
            thresh_perc_end,
            holding,
        } => {
            let thr = need(lane.threshold_na, "threshold current")?;
            let hold = need(lane.holding_na, "holding current")?;
            clamps.push(ramp_clamp(
                ramp,
                percent_of(thr, *thresh_perc_start),
                percent_of(thr, *thresh_perc_end),
            ));
            clamps.push(holding_clamp(holding, hold));
        }
        Stimulus::Pulses(pulses) => {
            for (i, p) in pulses.iter().enumerate() {
                let amp = need(p.amp_na, "pulse amplitude (null in the protocol)")?;
                clamps.push(square(format!("pulse {i}"), p.delay_ms, p.duration_ms, amp));
            }
        }
        Stimulus::ECode(e) => return ecode_stimulus(e, lane),
    }
    Ok(LaneStimulus {
        clamps,
        tstop_ms: stim.tstop_ms(),
    })
}

/// Builds the electrode-current program of `protocol` for one lane per entry of `lanes`.
///
/// Errors (a missing current, an e-code outside what emsweep injects, inconsistent numbers)
/// are reported at the protocol's definition.
pub fn build(protocol: &Protocol, lanes: &[LaneCurrents]) -> Result<StimulusProgram, Diagnostic> {
    let fail = |kind: &'static str, msg: String| {
        protocol
            .origin
            .error(kind, format!("protocol `{}`: {msg}", protocol.name))
    };
    if lanes.is_empty() {
        return Err(fail(
            "stimulus",
            "no lanes to build the stimulus for".into(),
        ));
    }
    let mut clamps: Vec<Clamp> = Vec::new();
    let mut tstop_ms = f64::NAN;
    for (li, lane) in lanes.iter().enumerate() {
        let ls = lane_stimulus(&protocol.stimulus, lane)
            .map_err(|m| fail("stimulus", format!("lane {li}: {m}")))?;
        if li == 0 {
            tstop_ms = ls.tstop_ms;
            clamps = ls
                .clamps
                .iter()
                .map(|c| Clamp {
                    label: c.label.clone(),
                    delay_ms: c.delay_ms,
                    stop_ms: c.stop_ms,
                    amplitude: match &c.wave {
                        LaneWave::Fixed(_) => Amplitude::Fixed(Vec::with_capacity(lanes.len())),
                        LaneWave::Played(t, _) => Amplitude::Played {
                            times_ms: t.clone(),
                            values_na: Vec::with_capacity(lanes.len() * t.len()),
                        },
                    },
                })
                .collect();
        }
        if ls.clamps.len() != clamps.len() || ls.tstop_ms.to_bits() != tstop_ms.to_bits() {
            return Err(fail(
                "stimulus",
                format!("lane {li} has different clamp timing from lane 0"),
            ));
        }
        for (c, lc) in clamps.iter_mut().zip(ls.clamps) {
            let same_window = c.delay_ms.to_bits() == lc.delay_ms.to_bits()
                && c.stop_ms.to_bits() == lc.stop_ms.to_bits();
            match (&mut c.amplitude, lc.wave) {
                (Amplitude::Fixed(a), LaneWave::Fixed(v)) if same_window => a.push(v),
                (
                    Amplitude::Played {
                        times_ms,
                        values_na,
                    },
                    LaneWave::Played(t, v),
                ) if same_window && *times_ms == t => values_na.extend(v),
                _ => {
                    return Err(fail(
                        "stimulus",
                        format!("lane {li} has different clamp timing from lane 0"),
                    ))
                }
            }
        }
    }
    if !tstop_ms.is_finite() || tstop_ms < 0.0 {
        return Err(fail(
            "stimulus",
            format!("the total duration {tstop_ms} ms is not a duration"),
        ));
    }
    Ok(StimulusProgram {
        protocol: protocol.name.clone(),
        lanes: lanes.len(),
        tstop_ms,
        clamps,
    })
}

// ------------------------------------------------------------------------------------------
// BluePyEModel e-codes
// ------------------------------------------------------------------------------------------

/// A stimulus field as the e-code's constructor sees it (`kwargs.get(key, default)`).
fn arg(e: &ECode, key: &str, default: Option<f64>) -> Option<f64> {
    if e.is_null(key) {
        None
    } else {
        e.get(key).or(default)
    }
}

/// The e-code classes' amplitude rule: a percentage of the threshold current when both are
/// known, else the absolute amplitude.
fn amplitude(abs: Option<f64>, rel: Option<f64>, threshold: Option<f64>) -> Option<f64> {
    match (rel, threshold) {
        (Some(r), Some(t)) => Some(percent_of(t, r)),
        _ => abs,
    }
}

/// The holding and threshold currents an e-code protocol runs with.
fn ecode_currents(e: &ECode, lane: &LaneCurrents) -> Result<(Option<f64>, Option<f64>), String> {
    match e.protocol_type {
        ECodeProtocolType::Fixed => Ok((arg(e, "holding_current", None), None)),
        _ => Ok((
            Some(need(lane.holding_na, "holding current")?),
            Some(need(lane.threshold_na, "threshold current")?),
        )),
    }
}

/// Positive integer fields (`n_steps`, `n_spikes`).
fn count(value: f64, what: &str) -> Result<usize, String> {
    if value >= 0.0 && value.fract() == 0.0 && value < 1e7 {
        Ok(value as usize)
    } else {
        Err(format!(
            "`{what}` should be a non-negative integer, not {value}"
        ))
    }
}

fn field(value: Option<f64>, what: &str) -> Result<f64, String> {
    value.ok_or_else(|| format!("`{what}` is null"))
}

fn ecode_stimulus(e: &ECode, lane: &LaneCurrents) -> Result<LaneStimulus, String> {
    let (holding, threshold) = ecode_currents(e, lane)?;
    let h = holding.unwrap_or(0.0);
    let amp_missing = |what: &str| format!("{}: the amplitude is unknown ({what})", e.class);
    let (clamps, total) = match e.class {
        "IDrest" | "IV" | "APWaveform" | "FirePattern" | "ThresholdAddition" => {
            let (perc, delay, duration, total) = match e.class {
                "IV" => (-40.0, 250.0, 3000.0, 3500.0),
                "APWaveform" => (220.0, 250.0, 50.0, 550.0),
                "FirePattern" => (200.0, 250.0, 3600.0, 4100.0),
                _ => (200.0, 250.0, 1350.0, 1850.0),
            };
            let abs = arg(e, "amp", None);
            let rel = arg(e, "thresh_perc", Some(perc));
            let delay = field(arg(e, "delay", Some(delay)), "delay")?;
            let duration = field(arg(e, "duration", Some(duration)), "duration")?;
            let total = field(arg(e, "totduration", Some(total)), "totduration")?;
            let a = if e.class == "ThresholdAddition" {
                let t = threshold.ok_or_else(|| amp_missing("no threshold current"))?;
                t + abs.ok_or_else(|| amp_missing("`amp` is null"))?
            } else {
                amplitude(abs, rel, threshold)
                    .ok_or_else(|| amp_missing("`amp` is null and no percentage applies"))?
            };
            let end = delay + duration;
            let on = h + a;
            let points = vec![
                (0.0, h),
                (delay, h),
                (delay, on),
                (end, on),
                (end, h),
                (total, h),
            ];
            (vec![played(e.class, total, points)], total)
        }
        "sAHP" => {
            let a = amplitude(arg(e, "amp", None), arg(e, "thresh_perc", None), threshold)
                .ok_or_else(|| amp_missing("`amp` and `thresh_perc` are null"))?;
            let la = amplitude(
                arg(e, "long_amp", None),
                arg(e, "long_amp_rel", None),
                threshold,
            )
            .ok_or_else(|| amp_missing("`long_amp` and `long_amp_rel` are null"))?;
            let delay = field(arg(e, "delay", Some(250.0)), "delay")?;
            let tmid = field(arg(e, "tmid", Some(500.0)), "tmid")?;
            let tmid2 = field(arg(e, "tmid2", Some(725.0)), "tmid2")?;
            let toff = field(arg(e, "toff", Some(1175.0)), "toff")?;
            let total = field(arg(e, "totduration", Some(1425.0)), "totduration")?;
            let (hl, ha) = (h + la, h + a);
            let points = vec![
                (0.0, h),
                (delay, h),
                (delay, hl),
                (tmid, hl),
                (tmid, ha),
                (tmid2, ha),
                (tmid2, hl),
                (toff, hl),
                (toff, h),
                (total, h),
            ];
            (vec![played(e.class, total, points)], total)
        }
        "HyperDepol" | "DeHyperpol" => {
            let hyper_depol = e.class == "HyperDepol";
            // The two classes name their amplitudes differently; both end with a first
            // phase (from delay to tmid) and a second one (tmid to toff).
            let (hyper_abs, hyper_rel, depol_abs, depol_rel) = if hyper_depol {
                (
                    arg(e, "hyper_amp", None).or(arg(e, "amp", None)),
                    arg(e, "hyper_amp_rel", None).or(arg(e, "thresh_perc", None)),
                    arg(e, "depol_amp", None).or(arg(e, "amp2", None)),
                    arg(e, "depol_amp_rel", None),
                )
            } else {
                (
                    arg(e, "amp2", None),
                    arg(e, "amp2_rel", None).or(arg(e, "thresh_perc", None)),
                    arg(e, "amp", None),
                    arg(e, "amp_rel", None),
                )
            };
            if hyper_abs.is_none() && hyper_rel.is_none() {
                return Err(amp_missing("no hyperpolarising amplitude"));
            }
            if depol_abs.is_none() && depol_rel.is_none() {
                return Err(amp_missing("no depolarising amplitude"));
            }
            let hyper = amplitude(hyper_abs, hyper_rel, threshold)
                .ok_or_else(|| amp_missing("the hyperpolarising amplitude needs a threshold"))?;
            let depol = amplitude(depol_abs, depol_rel, threshold)
                .ok_or_else(|| amp_missing("the depolarising amplitude needs a threshold"))?;
            let (tmid_default, first, second) = if hyper_depol {
                (700.0, hyper, depol)
            } else {
                (520.0, depol, hyper)
            };
            let delay = field(arg(e, "delay", Some(250.0)), "delay")?;
            let tmid = field(arg(e, "tmid", Some(tmid_default)), "tmid")?;
            let toff = field(arg(e, "toff", Some(970.0)), "toff")?;
            let total = field(arg(e, "totduration", Some(1220.0)), "totduration")?;
            let (p1, p2) = (h + first, h + second);
            let points = vec![
                (0.0, h),
                (delay, h),
                (delay, p1),
                (tmid, p1),
                (tmid, p2),
                (toff, p2),
                (toff, h),
                (total, h),
            ];
            (vec![played(e.class, total, points)], total)
        }
        "PosCheops" | "NegCheops" => cheops(e, h, threshold)?,
        "Ramp" => {
            let a = amplitude(
                arg(e, "amp", None),
                arg(e, "thresh_perc", Some(200.0)),
                threshold,
            )
            .ok_or_else(|| amp_missing("`amp` is null and no percentage applies"))?;
            let delay = field(arg(e, "delay", Some(250.0)), "delay")?;
            let duration = field(arg(e, "duration", Some(1350.0)), "duration")?;
            let total = field(arg(e, "totduration", Some(1850.0)), "totduration")?;
            let end = delay + duration;
            let points = vec![(0.0, h), (delay, h), (end, h + a), (end, h), (total, h)];
            (vec![played(e.class, total, points)], total)
        }
        "Comb" => {
            // Comb ignores the holding current (it plays 0 between its pulses).
            let inter = field(arg(e, "inter_delay", Some(5.0)), "inter_delay")?;
            let n = count(field(arg(e, "n_steps", Some(20.0)), "n_steps")?, "n_steps")?;
            let amp = field(arg(e, "amp", Some(40.0)), "amp")?;
            let delay = field(arg(e, "delay", Some(200.0)), "delay")?;
            let duration = field(arg(e, "duration", Some(0.5)), "duration")?;
            let total = field(arg(e, "totduration", Some(350.0)), "totduration")?;
            if delay + n as f64 * duration > total {
                return Err(format!(
                    "Comb: its pulses end after the total duration {total} ms"
                ));
            }
            let mut points = vec![(0.0, 0.0)];
            for step in 0..n {
                let on = step as f64 * inter + delay;
                let off = on + duration;
                points.extend([(on, 0.0), (on, amp), (off, amp), (off, 0.0)]);
            }
            points.push((total, 0.0));
            (vec![played(e.class, total, points)], total)
        }
        "SpikeRecMultiSpikes" => {
            let a = amplitude(arg(e, "amp", None), arg(e, "thresh_perc", None), threshold)
                .ok_or_else(|| amp_missing("`amp` and `thresh_perc` are null"))?;
            let delay = field(arg(e, "delay", Some(10.0)), "delay")?;
            let n = count(
                field(arg(e, "n_spikes", Some(2.0)), "n_spikes")?,
                "n_spikes",
            )?;
            let width = field(arg(e, "spike_duration", Some(3.5)), "spike_duration")?;
            let delta = field(arg(e, "delta", Some(3.5)), "delta")?;
            let total = field(arg(e, "totduration", Some(1500.0)), "totduration")?;
            let on = h + a;
            let mut points = vec![(0.0, h)];
            let mut start = delay;
            let mut end = start + width;
            points.extend([(start, h), (start, on), (end, on), (end, h)]);
            for _ in 1..n {
                start = end + delta;
                end = start + width;
                points.extend([(start, h), (start, on), (end, on), (end, h)]);
            }
            points.push((total, h));
            (vec![played(e.class, total, points)], total)
        }
        "SineSpec" => sine_spec(e, h, threshold)?,
        "BPOSquarePulse" => {
            let amp = field(arg(e, "amp", None), "amp")?;
            let delay = field(arg(e, "delay", Some(250.0)), "delay")?;
            let duration = field(arg(e, "duration", Some(1350.0)), "duration")?;
            let total = field(arg(e, "totduration", Some(1850.0)), "totduration")?;
            let mut clamps = vec![square("step".into(), delay, duration, amp)];
            if let Some(hold) = holding {
                clamps.push(square("holding".into(), 0.0, total, hold));
            }
            (clamps, total)
        }
        other => {
            return Err(format!(
                "e-code `{other}` is not injected by emsweep (it needs data files, random \
                 numbers or a dendritic location)"
            ))
        }
    };
    Ok(LaneStimulus {
        clamps,
        tstop_ms: total,
    })
}

/// PosCheops / NegCheops: three triangular ramps of decreasing duration. `h` is the holding
/// current the protocol runs with.
fn cheops(e: &ECode, h: f64, threshold: Option<f64>) -> Result<(Vec<LaneClamp>, f64), String> {
    let pos = e.class == "PosCheops";
    let abs = arg(e, "amp", if pos { None } else { Some(-0.25) });
    let rel = arg(e, "thresh_perc", if pos { Some(300.0) } else { None });
    // The constructor checks the absolute amplitude against the stimulus' own holding current
    // (before any threshold is known).
    let own_holding = arg(e, "holding_current", if pos { None } else { Some(0.0) });
    let (Some(a0), Some(h0)) = (abs, own_holding) else {
        return Err(format!(
            "{}: `amp` and `holding_current` are needed",
            e.class
        ));
    };
    if (pos && a0 < h0) || (!pos && a0 > h0) {
        return Err(format!(
            "{}: amplitude {a0} is on the wrong side of the holding current {h0}",
            e.class
        ));
    }
    let delay = field(
        arg(e, "delay", Some(if pos { 250.0 } else { 1750.0 })),
        "delay",
    )?;
    let (r1, r2, r3) = if pos {
        (4000.0, 2000.0, 1333.0)
    } else {
        (3333.0, 1666.0, 1111.0)
    };
    let r1 = arg(e, "ramp1_duration", Some(r1));
    let r2 = arg(e, "ramp2_duration", Some(r2));
    let r3 = arg(e, "ramp3_duration", Some(r3));
    let inter = arg(e, "inter_delay", Some(2000.0));
    // `t_next = t_prev + 2·ramp` or `t_prev + inter_delay` where not given.
    let derive = |given: Option<f64>, from: Option<f64>, plus: Option<f64>, ramp: bool| {
        given.or(match (from, plus) {
            (Some(f), Some(p)) if ramp => Some(f + 2.0 * p),
            (Some(f), Some(p)) => Some(f + p),
            _ => None,
        })
    };
    let t1 = derive(arg(e, "t1", None), Some(delay), r1, true);
    let t2 = derive(arg(e, "t2", None), t1, inter, false);
    let t3 = derive(arg(e, "t3", None), t2, r2, true);
    let t4 = derive(arg(e, "t4", None), t3, inter, false);
    let toff = derive(arg(e, "toff", None), t4, r3, true);
    let total = if pos {
        arg(e, "totduration", None).or(toff.map(|t| t + 250.0))
    } else {
        arg(e, "totduration", Some(18220.0))
    };
    let t1 = field(t1, "t1")?;
    let t2 = field(t2, "t2")?;
    let t3 = field(t3, "t3")?;
    let t4 = field(t4, "t4")?;
    let toff = field(toff, "toff")?;
    let total = field(total, "totduration")?;
    let a = amplitude(abs, rel, threshold).ok_or_else(|| format!("{}: no amplitude", e.class))?;
    let peak = h + a;
    let points = vec![
        (0.0, h),
        (delay, h),
        ((t1 + delay) / 2.0, peak),
        (t1, h),
        (t2, h),
        ((t2 + t3) / 2.0, peak),
        (t3, h),
        (t4, h),
        ((t4 + toff) / 2.0, peak),
        (toff, h),
        (total, h),
    ];
    Ok((vec![played(e.class, total, points)], total))
}

/// SineSpec: a chirp sampled every 0.1 ms (numpy's arange and linspace, reproduced).
fn sine_spec(e: &ECode, h: f64, threshold: Option<f64>) -> Result<(Vec<LaneClamp>, f64), String> {
    let a = amplitude(
        arg(e, "amp", None),
        arg(e, "thresh_perc", Some(60.0)),
        threshold,
    )
    .ok_or_else(|| "SineSpec: the amplitude is unknown (`amp` is null)".to_string())?;
    let delay = field(arg(e, "delay", Some(0.0)), "delay")?;
    let duration = field(arg(e, "duration", Some(5000.0)), "duration")?;
    let total = field(arg(e, "totduration", Some(5000.0)), "totduration")?;
    let dt = ECODE_SAMPLE_MS;
    let n = (total / dt).ceil().max(0.0) as usize;
    let times: Vec<f64> = (0..n).map(|i| i as f64 * dt).collect();
    let mut values = vec![h; n];
    let on = (delay / dt) as usize;
    let off = ((duration + delay) / dt) as usize;
    if off > n || on > off {
        return Err(format!(
            "SineSpec: the sine ({delay} to {} ms) does not fit in the total duration {total} ms",
            duration + delay
        ));
    }
    let m = off - on;
    let step = (duration / 1e3) / m as f64;
    for (k, v) in values[on..off].iter_mut().enumerate() {
        let ts = k as f64 * step;
        let x = ts - 0.1;
        *v += a * (2.0 * std::f64::consts::PI * (1.0 + (1.0 / (5.15 - x))) * x).sin();
    }
    let Some(&last) = times.last() else {
        return Err("SineSpec: the total duration is shorter than one sample".into());
    };
    let points = times.into_iter().zip(values).collect();
    Ok((vec![played("SineSpec", last, points)], total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn protocol(stimulus: Stimulus) -> Protocol {
        Protocol {
            name: "p".into(),
            stimulus,
            recordings: Vec::new(),
            origin: crate::package::Origin::new(Path::new("p.json"), None),
        }
    }

    fn pulse(delay: f64, amp: Option<f64>, dur: f64, total: f64) -> SquarePulse {
        SquarePulse {
            delay_ms: delay,
            amp_na: amp,
            duration_ms: dur,
            total_duration_ms: total,
        }
    }

    fn ecode(
        name: &str,
        ptype: ECodeProtocolType,
        params: &[(&str, f64)],
        nulls: &[&str],
    ) -> Protocol {
        let (key, class) = crate::package::ecode_for(name).unwrap();
        protocol(Stimulus::ECode(ECode {
            key,
            class,
            protocol_type: ptype,
            params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            null_params: nulls.iter().map(|k| k.to_string()).collect(),
        }))
    }

    fn played(times: &[f64], values: &[f64], stop: f64) -> Clamp {
        Clamp {
            label: "x".into(),
            delay_ms: 0.0,
            stop_ms: stop,
            amplitude: Amplitude::Played {
                times_ms: times.to_vec(),
                values_na: values.to_vec(),
            },
        }
    }

    /// The rules as NEURON 9.0.2 applies them (checked there: these vectors played into two
    /// IClamps, dt 0.25 ms, gave 2.375 at t = 1.375, 7.0 from t = 3.125 on, and 5.25 at 3.125).
    #[test]
    fn played_vectors_interpolate_like_neuron() {
        let c = played(
            &[0.0, 1.0, 1.0, 3.0, 3.0],
            &[0.0, 0.0, 2.0, 4.0, 10.0],
            10.0,
        );
        // Before the first breakpoint and on it: the first value.
        assert_eq!(c.amplitude_na(0, -1.0), 0.0);
        assert_eq!(c.amplitude_na(0, 0.0), 0.0);
        // At a repeated time (an edge) the value after the edge; then linear.
        assert_eq!(c.amplitude_na(0, 1.0), 2.0);
        assert_eq!(c.amplitude_na(0, 2.0), 3.0);
        // Past the last breakpoint, whose time repeats: the mean of the last two values.
        assert_eq!(c.amplitude_na(0, 3.0), 7.0);
        assert_eq!(c.amplitude_na(0, 5.0), 7.0);
        // Past a last segment of positive length: extended.
        let d = played(&[0.0, 1.0, 2.0], &[0.0, 1.0, 3.0], 10.0);
        assert_eq!(d.amplitude_na(0, 3.0), 5.0);
        // A single breakpoint holds its value.
        assert_eq!(played(&[4.0], &[1.5], 10.0).amplitude_na(0, 9.0), 1.5);
        // The window closes at stop_ms.
        assert_eq!(d.current_na(0, 9.999), d.amplitude_na(0, 9.999));
        assert_eq!(d.current_na(0, 10.0), 0.0);
    }

    /// NEURON 9.0.2 records t = 0.09999999999999999 after 4 steps of 0.025 ms and takes 2400
    /// steps for tstop = 59.99 ms (2401 samples), 12000 for 300 ms.
    #[test]
    fn the_clock_accumulates_like_neuron() {
        let steps = FixedStepClock::steps(0.025, 0.4);
        assert_eq!(steps.len(), 16);
        assert_eq!(steps[3].end_ms, 0.09999999999999999);
        assert_eq!(steps[4].mid_ms, 0.09999999999999999 + 0.0125);
        assert_eq!(FixedStepClock::steps(0.025, 59.99).len(), 2400);
        assert_eq!(FixedStepClock::steps(0.025, 300.0).len(), 12000);
        let samples = FixedStepClock::sample_times_ms(0.025, 0.4);
        assert_eq!(samples.len(), 17);
        assert_eq!((samples[0], samples[4]), (0.0, 0.09999999999999999));
    }

    #[test]
    fn steps_and_holding_take_the_lane_currents() {
        let p = protocol(Stimulus::StepThreshold {
            steps: vec![pulse(10.0, None, 20.0, 50.0)],
            thresh_perc: 150.0,
            holding: pulse(0.0, None, 50.0, 50.0),
        });
        let lanes = [
            LaneCurrents {
                holding_na: Some(-0.1),
                threshold_na: Some(0.2),
                step_na: None,
            },
            LaneCurrents {
                holding_na: Some(0.0),
                threshold_na: Some(0.4),
                step_na: None,
            },
        ];
        let prog = build(&p, &lanes).unwrap();
        assert_eq!(prog.tstop_ms, 50.0);
        assert_eq!(prog.clamps.len(), 2);
        assert_eq!(prog.current_na(0, 5.0), -0.1);
        assert_eq!(prog.current_na(0, 15.0), 0.2 * (150.0 / 100.0) + -0.1);
        assert_eq!(prog.current_na(1, 15.0), 0.4 * 1.5);
        assert_eq!(prog.current_na(1, 30.0), 0.0);
        // A missing current is an error at the protocol, naming the lane.
        let err = build(&p, &[LaneCurrents::default()]).unwrap_err();
        assert_eq!(err.kind, "stimulus");
        assert!(err.message.contains("lane 0"), "{}", err.message);
        assert!(build(&p, &[]).is_err());
        // A null step amplitude takes `step_na`; a null holding the holding current.
        let template = protocol(Stimulus::Step {
            steps: vec![pulse(10.0, None, 20.0, 50.0)],
            holding: Some(pulse(0.0, None, 50.0, 50.0)),
        });
        assert!(build(&template, &[LaneCurrents::default()]).is_err());
        let lane = LaneCurrents {
            holding_na: Some(-0.05),
            threshold_na: None,
            step_na: Some(0.3),
        };
        let prog = build(&template, &[lane]).unwrap();
        assert_eq!(prog.current_na(0, 12.0), 0.3 + -0.05);
    }

    #[test]
    fn ecode_rules_and_refusals() {
        use ECodeProtocolType::*;
        let lane = LaneCurrents {
            holding_na: Some(-0.02),
            threshold_na: Some(0.2),
            step_na: None,
        };
        let base = [
            ("delay", 10.0),
            ("duration", 20.0),
            ("totduration", 40.0),
            ("amp", 0.5),
        ];
        // An absent thresh_perc is IDrest's 200 %; a null one means `amp`.
        let absent = build(&ecode("IDrest_a", ThresholdBased, &base, &[]), &[lane]).unwrap();
        let null = build(
            &ecode("IDrest_b", ThresholdBased, &base, &["thresh_perc"]),
            &[lane],
        )
        .unwrap();
        assert_eq!(absent.current_na(0, 15.0), -0.02 + 0.2 * 2.0);
        assert_eq!(null.current_na(0, 15.0), -0.02 + 0.5);
        // `Protocol` ignores the lane: its own holding (here none: 0) and amp.
        let fixed = build(&ecode("IDrest_c", Fixed, &base, &[]), &[lane]).unwrap();
        assert_eq!(fixed.current_na(0, 15.0), 0.5);
        assert_eq!(fixed.current_na(0, 5.0), 0.0);
        // The clamp ends with the total duration.
        assert_eq!(fixed.clamps[0].stop_ms, 40.0);
        // Threshold-based needs both currents.
        assert!(build(
            &ecode("IDrest_d", ThresholdBased, &base, &[]),
            &[LaneCurrents::default()]
        )
        .is_err());
        // E-codes emsweep does not inject, and inconsistent ones, are refused.
        assert!(build(&ecode("WhiteNoise_1", Fixed, &base, &[]), &[lane]).is_err());
        let comb = [
            ("delay", 10.0),
            ("duration", 5.0),
            ("n_steps", 10.0),
            ("totduration", 40.0),
        ];
        assert!(build(&ecode("highfreq_1", Fixed, &comb, &[]), &[lane]).is_err());
        let cheops = [
            ("amp", -0.5),
            ("holding_current", 0.0),
            ("totduration", 40.0),
        ];
        assert!(build(&ecode("PosCheops_1", Fixed, &cheops, &[]), &[lane]).is_err());
        let sine = [
            ("delay", 30.0),
            ("duration", 20.0),
            ("totduration", 40.0),
            ("amp", 0.1),
        ];
        assert!(build(&ecode("SineSpec_1", Fixed, &sine, &[]), &[lane]).is_err());
    }
}
