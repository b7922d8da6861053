//! Protocol files: EModelRunner's typed dictionary (`StepProtocol`, `StepThresholdProtocol`,
//! `RampProtocol`, the SSCx and thalamus main protocols), untyped BluePyOpt protocols
//! (`"stimuli": [...]`), and BluePyEModel's protocol list with its e-codes. Synaptic protocols
//! (`Vecstim`, `Netstim`) are out of scope and noted as such.

use crate::diag::Diagnostics;

use super::fields::Fields;
use super::json::{Json, JsonFile, JsonValue};
use super::model::{
    CurrentSearch, ECode, ECodeProtocolType, MainProtocol, PackageType, Protocol, ProtocolSet,
    RampPulse, Recording, RecordingSite, SquarePulse, Stimulus,
};

fn soma_v() -> Recording {
    Recording {
        name: "soma.v".into(),
        site: RecordingSite::Soma,
        variable: "v".into(),
    }
}

/// A `{delay, amp, duration, totduration}` pulse; `amp` is read only when `with_amp`.
fn pulse(f: &mut Fields, v: &Json, ctx: &str, with_amp: bool) -> Option<SquarePulse> {
    f.object(v, ctx)?;
    let delay = f.num_field(v, "delay", ctx);
    let amp = if with_amp {
        f.num_or_null_field(v, "amp", ctx).ok()?
    } else {
        None
    };
    let duration = f.num_field(v, "duration", ctx);
    let total = f.num_field(v, "totduration", ctx);
    Some(SquarePulse {
        delay_ms: delay?,
        amp_na: amp,
        duration_ms: duration?,
        total_duration_ms: total?,
    })
}

/// `stimuli.step`: one step or a list of steps (with the last step's definition, which
/// EModelRunner reads `thresh_perc` and the holding duration from).
fn steps<'j>(
    f: &mut Fields,
    stimuli: &'j Json,
    ctx: &str,
    with_amp: bool,
) -> Option<(Vec<SquarePulse>, &'j Json)> {
    let step = f.req(stimuli, "step", ctx)?;
    let defs: Vec<&Json> = match &step.value {
        JsonValue::Array(items) => items.iter().collect(),
        _ => vec![step],
    };
    let Some(&last) = defs.last() else {
        f.error(
            step,
            "missing-key",
            format!("{ctx}: the step list is empty"),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for d in defs {
        match pulse(f, d, &format!("a step of {ctx}"), with_amp) {
            Some(p) => out.push(p),
            None => ok = false,
        }
    }
    ok.then_some((out, last))
}

fn holding(f: &mut Fields, stimuli: &Json, ctx: &str) -> Result<Option<SquarePulse>, ()> {
    match stimuli.get("holding") {
        None => Ok(None),
        Some(h) => pulse(f, h, &format!("the holding of {ctx}"), true)
            .map(Some)
            .ok_or(()),
    }
}

/// The threshold protocols' holding pulse: delay 0, as long as the last stimulus.
fn threshold_holding(total_ms: f64) -> SquarePulse {
    SquarePulse {
        delay_ms: 0.0,
        amp_na: None,
        duration_ms: total_ms,
        total_duration_ms: total_ms,
    }
}

fn ramp(f: &mut Fields, r: &Json, ctx: &str, with_amps: bool) -> Option<RampPulse> {
    let delay = f.num_field(r, "ramp_delay", ctx);
    let duration = f.num_field(r, "ramp_duration", ctx);
    let total = f.num_field(r, "totduration", ctx);
    let (start, end) = if with_amps {
        (
            f.num_field(r, "ramp_amplitude_start", ctx),
            f.num_field(r, "ramp_amplitude_end", ctx),
        )
    } else {
        (None, None)
    };
    if with_amps && (start.is_none() || end.is_none()) {
        return None;
    }
    Some(RampPulse {
        delay_ms: delay?,
        duration_ms: duration?,
        amp_start_na: start,
        amp_end_na: end,
        total_duration_ms: total?,
    })
}

/// EModelRunner's `get_recordings`: the soma voltage, then `extra_recordings`.
fn recordings(
    f: &mut Fields,
    def: &Json,
    ctx: &str,
    apical_point_isec: Option<u32>,
) -> Vec<Recording> {
    let mut out = vec![soma_v()];
    let Some(extra) = def.get("extra_recordings") else {
        return out;
    };
    for r in f.array(extra, "`extra_recordings`").unwrap_or(&[]) {
        if let Some(rec) = extra_recording(f, r, ctx, apical_point_isec) {
            out.push(rec);
        }
    }
    out
}

fn extra_recording(
    f: &mut Fields,
    r: &Json,
    ctx: &str,
    apical_point_isec: Option<u32>,
) -> Option<Recording> {
    let rctx = format!("a recording of {ctx}");
    let kind = f.str_field(r, "type", &rctx)?;
    let name = f.str_field(r, "name", &rctx)?.to_string();
    let site = match kind {
        "somadistance" | "somadistanceapic" => {
            let d = f.num_field(r, "somadistance", &rctx)?;
            let seclist = f.str_field(r, "seclist_name", &rctx)?.to_string();
            if kind == "somadistance" {
                RecordingSite::SomaDistance {
                    distance_um: d,
                    seclist,
                }
            } else {
                if apical_point_isec.is_none() {
                    f.error(r, "missing-apical-point", format!("{rctx}: `somadistanceapic` needs `[Protocol] apical_point_isec` in the config"));
                    return None;
                }
                RecordingSite::SomaDistanceApic {
                    distance_um: d,
                    seclist,
                }
            }
        }
        "nrnseclistcomp" => {
            let seclist = f.str_field(r, "seclist_name", &rctx)?.to_string();
            let idx = f.num_field(r, "sec_index", &rctx)?;
            let x = f.num_field(r, "comp_x", &rctx)?;
            if idx < 0.0 || idx.fract() != 0.0 {
                f.error(
                    r,
                    "json-type",
                    format!("{rctx}: `sec_index` should be a non-negative integer"),
                );
                return None;
            }
            RecordingSite::SeclistComp {
                seclist,
                sec_index: idx as u32,
                comp_x: x,
            }
        }
        other => {
            f.error(r, "unknown-recording", format!("{rctx}: recording type `{other}` is none of somadistance, somadistanceapic, nrnseclistcomp"));
            return None;
        }
    };
    let variable = f.str_field(r, "var", &rctx)?.to_string();
    Some(Recording {
        name: format!("{name}.{variable}"),
        site,
        variable,
    })
}

/// Names of the EModelRunner protocol types that only run inside a main protocol.
const NEEDS_MAIN: [&str; 4] = [
    "StepThresholdProtocol",
    "RampThresholdProtocol",
    "RatSSCxThresholdDetectionProtocol",
    "RatSSCxRinHoldcurrentProtocol",
];

/// EModelRunner's `ProtocolParser` for an SSCx or thalamus package.
pub(crate) fn read_emodelrunner(
    file: &JsonFile,
    package_type: PackageType,
    apical_point_isec: Option<u32>,
    diags: &mut Diagnostics,
) -> ProtocolSet {
    let mut f = Fields::new(file, diags);
    let mut set = ProtocolSet {
        file: file.path.clone(),
        configs: Vec::new(),
        protocols: Vec::new(),
        main: None,
    };
    let thalamus = package_type == PackageType::Thalamus;
    let Some(defs) = f.object(&file.root, "a protocol file") else {
        return set;
    };
    // threshold detections: (variant, template, origin)
    let mut detections: Vec<(String, Stimulus, super::model::Origin)> = Vec::new();
    let mut needs_main: Vec<(String, &Json)> = Vec::new();
    let skip: &[&str] = if thalamus {
        &[
            "Main",
            "RinHoldcurrent_dep",
            "RinHoldcurrent_hyp",
            "__comment",
        ]
    } else {
        &["Main", "RinHoldcurrent", "__comment"]
    };
    for m in defs {
        let name = m.key.as_str();
        if skip.contains(&name) {
            continue;
        }
        let def = &m.value;
        let ctx = format!("protocol `{name}`");
        if f.object(def, &ctx).is_none() {
            continue;
        }
        let recs = if thalamus {
            if def.get("extra_recordings").is_some() {
                f.note(def, "ignored", format!("{ctx}: the thalamus reader records the soma only; `extra_recordings` are ignored (as EModelRunner does)"));
            }
            vec![soma_v()]
        } else {
            recordings(&mut f, def, &ctx, apical_point_isec)
        };
        let Some(kind_json) = def.get("type") else {
            // untyped: a list of pulses (BluePyOpt's SweepProtocol)
            let Some(stimuli) = f.req(def, "stimuli", &ctx) else {
                continue;
            };
            let Some(list) = f.array(stimuli, "`stimuli`") else {
                continue;
            };
            let pulses: Vec<_> = list
                .iter()
                .map(|s| pulse(&mut f, s, &format!("a stimulus of {ctx}"), true))
                .collect();
            if let Some(pulses) = pulses.into_iter().collect::<Option<Vec<_>>>() {
                set.protocols.push(Protocol {
                    name: name.to_string(),
                    stimulus: Stimulus::Pulses(pulses),
                    recordings: recs,
                    origin: f.origin_at(m.key_span.start),
                });
            }
            continue;
        };
        let Some(kind) = f.string(kind_json, "`type`") else {
            continue;
        };
        if NEEDS_MAIN.contains(&kind) {
            needs_main.push((kind.to_string(), kind_json));
        }
        let origin = f.origin_at(m.key_span.start);
        let stimulus = match kind {
            "StepProtocol" | "StepThresholdProtocol" => {
                let Some(stimuli) = f.req(def, "stimuli", &ctx) else {
                    continue;
                };
                let threshold = kind == "StepThresholdProtocol";
                let Some((mut pulses, last)) = steps(&mut f, stimuli, &ctx, !threshold) else {
                    continue;
                };
                if thalamus && pulses.len() > 1 {
                    f.warning(stimuli, "ignored", format!("{ctx}: the thalamus reader uses only the first of {} steps (as EModelRunner does)", pulses.len()));
                    pulses.truncate(1);
                }
                if threshold {
                    let Some(perc) = f.num_field(last, "thresh_perc", &ctx) else {
                        continue;
                    };
                    let total = pulses.last().map_or(0.0, |p| p.total_duration_ms);
                    let total = if thalamus {
                        // holding lasts the last step definition's totduration in both readers
                        f.opt_num_field(last, "totduration").unwrap_or(total)
                    } else {
                        total
                    };
                    Stimulus::StepThreshold {
                        steps: pulses,
                        thresh_perc: perc,
                        holding: threshold_holding(total),
                    }
                } else {
                    let Ok(hold) = holding(&mut f, stimuli, &ctx) else {
                        continue;
                    };
                    Stimulus::Step {
                        steps: pulses,
                        holding: hold,
                    }
                }
            }
            "RampProtocol" | "RampThresholdProtocol" if !thalamus => {
                let Some(stimuli) = f.req(def, "stimuli", &ctx) else {
                    continue;
                };
                let Some(r) = f.req(stimuli, "ramp", &ctx) else {
                    continue;
                };
                if kind == "RampProtocol" {
                    let Some(rp) = ramp(&mut f, r, &ctx, true) else {
                        continue;
                    };
                    let Ok(hold) = holding(&mut f, stimuli, &ctx) else {
                        continue;
                    };
                    Stimulus::Ramp {
                        ramp: rp,
                        holding: hold,
                    }
                } else {
                    let rp = ramp(&mut f, r, &ctx, false);
                    let start = f.num_field(r, "thresh_perc_start", &ctx);
                    let end = f.num_field(r, "thresh_perc_end", &ctx);
                    let (Some(rp), Some(start), Some(end)) = (rp, start, end) else {
                        continue;
                    };
                    let total = rp.total_duration_ms;
                    Stimulus::RampThreshold {
                        ramp: rp,
                        thresh_perc_start: start,
                        thresh_perc_end: end,
                        holding: threshold_holding(total),
                    }
                }
            }
            "RatSSCxThresholdDetectionProtocol" => {
                let variant = if thalamus {
                    match name {
                        "ThresholdDetection_dep" => "dep",
                        "ThresholdDetection_hyp" => "hyp",
                        _ => {
                            f.warning(kind_json, "ignored", format!("{ctx}: the thalamus reader only knows ThresholdDetection_dep and ThresholdDetection_hyp; this one is ignored"));
                            continue;
                        }
                    }
                } else {
                    ""
                };
                let Some(template) = f.req(def, "step_template", &ctx) else {
                    continue;
                };
                let tctx = format!("the step template of {ctx}");
                let Some(stimuli) = f.req(template, "stimuli", &tctx) else {
                    continue;
                };
                let Some((mut pulses, _)) = steps(&mut f, stimuli, &tctx, true) else {
                    continue;
                };
                if thalamus {
                    pulses.truncate(1);
                }
                let Ok(hold) = holding(&mut f, stimuli, &tctx) else {
                    continue;
                };
                detections.push((
                    variant.to_string(),
                    Stimulus::Step {
                        steps: pulses,
                        holding: hold,
                    },
                    origin,
                ));
                continue;
            }
            "Vecstim" | "Netstim" if !thalamus => {
                f.note(kind_json, "out-of-scope", format!("{ctx}: synaptic stimulation (`{kind}`) is out of scope; the protocol is skipped"));
                continue;
            }
            _ => {
                // EModelRunner's reader silently drops such a protocol; a typo would then vanish from the
                // run, so emsweep makes it an error.
                f.error(
                    kind_json,
                    "unknown-protocol-type",
                    format!(
                        "{ctx}: protocol type `{kind}` is unknown to EModelRunner's {} reader",
                        package_type.name()
                    ),
                );
                continue;
            }
        };
        set.protocols.push(Protocol {
            name: name.to_string(),
            stimulus,
            recordings: recs,
            origin,
        });
    }

    match file.root.get("Main") {
        Some(main) => set.main = read_main(&mut f, main, &set.protocols, detections, thalamus),
        None => {
            for (kind, at) in needs_main {
                f.error(at, "needs-main-protocol", format!("a `{kind}` runs only inside a `Main` protocol, and this file has none (EModelRunner refuses it)"));
            }
        }
    }
    set
}

fn read_main(
    f: &mut Fields,
    main: &Json,
    protocols: &[Protocol],
    detections: Vec<(String, Stimulus, super::model::Origin)>,
    thalamus: bool,
) -> Option<MainProtocol> {
    let ctx = "the `Main` protocol";
    let root = &f.file.root;
    let exists = |n: &str| protocols.iter().any(|p| p.name == n);
    let mut ok = true;
    let require = |f: &mut Fields, name: &str| -> bool {
        if exists(name) {
            return true;
        }
        f.error(
            main,
            "missing-protocol",
            format!("{ctx} needs a protocol `{name}`, which this file lacks"),
        );
        false
    };
    ok &= require(f, "RMP");
    let variants: &[&str] = if thalamus {
        let has_dep = root.get("RinHoldcurrent_dep").is_some();
        if has_dep {
            &["dep", "hyp"]
        } else {
            &["hyp"]
        }
    } else {
        &[""]
    };
    let mut searches = Vec::new();
    for v in variants {
        let suffix = if v.is_empty() {
            String::new()
        } else {
            format!("_{v}")
        };
        let rin = format!("Rin{suffix}");
        ok &= require(f, &rin);
        let hold_name = format!("RinHoldcurrent{suffix}");
        let Some(hold) = f.req(root, &hold_name, "the protocol file") else {
            ok = false;
            continue;
        };
        let hctx = format!("`{hold_name}`");
        let precision = f.num_field(hold, "holdi_precision", &hctx);
        let depth = f.num_field(hold, "holdi_max_depth", &hctx);
        let multiplier = if thalamus {
            f.num_field(hold, "holdi_estimate_multiplier", &hctx)
        } else {
            // the SSCx reader never passes it: the class default
            Some(2.0)
        };
        let detection = detections.iter().find(|(dv, _, _)| dv == v);
        if detection.is_none() {
            f.error(main, "missing-protocol", format!("{ctx} needs a `RatSSCxThresholdDetectionProtocol` named `ThresholdDetection{suffix}`"));
            ok = false;
        }
        let (Some(precision), Some(depth), Some(multiplier), Some((_, template, origin))) =
            (precision, depth, multiplier, detection)
        else {
            ok = false;
            continue;
        };
        searches.push(CurrentSearch {
            variant: v.to_string(),
            rin_protocol: rin,
            holdi_precision: precision,
            holdi_max_depth: depth.max(0.0) as u32,
            holdi_estimate_multiplier: multiplier,
            detection_template: template.clone(),
            target_voltage_mv: None,
            origin: origin.clone(),
        });
    }
    let list = |f: &mut Fields, key: &str, required: bool| -> Vec<String> {
        match main.get(key) {
            Some(v) => f.strings(v, &format!("`{key}`")),
            None => {
                if required {
                    f.error(main, "missing-key", format!("{ctx} has no `{key}`"));
                }
                Vec::new()
            }
        }
    };
    let mut other = list(f, "other_protocols", true);
    let pre = list(f, "pre_protocols", false);
    if thalamus {
        for n in other.iter().chain(pre.iter()) {
            if !exists(n) {
                f.error(main, "missing-protocol", format!("{ctx} lists `{n}`, which this file lacks (EModelRunner's thalamus reader fails)"));
                ok = false;
            }
        }
    } else {
        // the SSCx reader skips unknown other_protocols silently, but not pre_protocols
        let missing: Vec<String> = other.iter().filter(|n| !exists(n)).cloned().collect();
        for n in &missing {
            f.warning(
                main,
                "missing-protocol",
                format!("{ctx} lists `{n}`, which this file lacks: skipped (as EModelRunner does)"),
            );
        }
        other.retain(|n| !missing.contains(n));
        for n in &pre {
            if !exists(n) {
                f.error(
                    main,
                    "missing-protocol",
                    format!("{ctx} lists pre-protocol `{n}`, which this file lacks"),
                );
                ok = false;
            }
        }
    }
    let origin = f.origin(main);
    ok.then(|| MainProtocol {
        rmp_protocol: "RMP".into(),
        rmp_feature: if thalamus {
            "steady_state_voltage_stimend".into()
        } else {
            "voltage_base".into()
        },
        searches,
        other_protocols: other,
        pre_protocols: pre,
        rmp_score_threshold: f.opt_num_field(main, "rmp_score_threshold"),
        rin_score_threshold: f.opt_num_field(main, "rin_score_threshold"),
        preprot_score_threshold: f.opt_num_field(main, "preprot_score_threshold"),
        origin,
    })
}

/// BluePyEModel's e-code names, in its dictionary's order (the first one found in the protocol
/// name, lower-cased, decides), with their classes.
const ECODES: [(&str, &str); 41] = [
    ("spontaneous", "IDrest"),
    ("step", "IDrest"),
    ("idrest", "IDrest"),
    ("idthres", "IDrest"),
    ("idthresh", "IDrest"),
    ("spontaps", "IDrest"),
    ("sponnohold30", "IDrest"),
    ("sponhold30", "IDrest"),
    ("rinholdcurrent", "IDrest"),
    ("bap", "IDrest"),
    ("spikerecmultispikes", "SpikeRecMultiSpikes"),
    ("iv", "IV"),
    ("spikerec", "IDrest"),
    ("apwaveform", "APWaveform"),
    ("firepattern", "FirePattern"),
    ("sahp", "sAHP"),
    ("idhyperpol", "sAHP"),
    ("irdepol", "sAHP"),
    ("irhyperpol", "sAHP"),
    ("iddepol", "sAHP"),
    ("hyperdepol", "HyperDepol"),
    ("dehyperpol", "DeHyperpol"),
    ("poscheops", "PosCheops"),
    ("negcheops", "NegCheops"),
    ("ramp", "Ramp"),
    ("ap_thresh", "Ramp"),
    ("apthresh", "Ramp"),
    ("sinespec", "SineSpec"),
    ("subwhitenoise", "SubWhiteNoise"),
    ("noiseou3", "NoiseOU3"),
    ("whitenoise", "WhiteNoise"),
    ("highfreq", "Comb"),
    ("synaptic", "Synaptic"),
    ("bac", "BAC"),
    ("dendritic", "DendriticStep"),
    ("randomsteps", "MultipleRandomStepInputs"),
    ("custom", "CustomFromFile"),
    ("startnohold", "IDrest"),
    ("thresholdaddition", "ThresholdAddition"),
    ("probampanmda_ems", "ProbAMPANMDA_EMS"),
    ("bposquarepulse", "BPOSquarePulse"),
];

/// The e-code BluePyEModel picks for a protocol name.
pub fn ecode_for(protocol_name: &str) -> Option<(&'static str, &'static str)> {
    let lower = protocol_name.to_lowercase();
    ECODES.iter().copied().find(|(k, _)| lower.contains(k))
}

/// BluePyEModel's `protocols` list (in `features/<emodel>.json`).
pub(crate) fn read_bluepyemodel(
    file: &JsonFile,
    list: &Json,
    diags: &mut Diagnostics,
) -> ProtocolSet {
    let mut f = Fields::new(file, diags);
    let mut set = ProtocolSet {
        file: file.path.clone(),
        configs: Vec::new(),
        protocols: Vec::new(),
        main: None,
    };
    for p in f.array(list, "`protocols`").unwrap_or(&[]) {
        let Some(name) = f.str_field(p, "name", "a protocol").map(str::to_string) else {
            continue;
        };
        let ctx = format!("protocol `{name}`");
        let Some(stimuli) = f.req(p, "stimuli", &ctx) else {
            continue;
        };
        let Some(stims) = f.array(stimuli, "`stimuli`") else {
            continue;
        };
        if stims.len() != 1 {
            f.error(stimuli, "unsupported", format!("{ctx} has {} stimuli; BluePyEModel implements protocols with a single stimulus only", stims.len()));
            continue;
        }
        let stim = &stims[0];
        let Some(fields) = f.object(stim, "a stimulus") else {
            continue;
        };
        let Some((key, class)) = ecode_for(&name) else {
            f.error(
                p,
                "unknown-ecode",
                format!("{ctx}: no BluePyEModel e-code name occurs in the protocol name"),
            );
            continue;
        };
        if matches!(class, "Synaptic" | "ProbAMPANMDA_EMS" | "CustomFromFile") {
            f.note(
                p,
                "out-of-scope",
                format!("{ctx}: e-code `{class}` is out of scope; the protocol is skipped"),
            );
            continue;
        }
        let ptype = match p
            .get("protocol_type")
            .and_then(Json::as_str)
            .unwrap_or("ThresholdBasedProtocol")
        {
            "Protocol" => ECodeProtocolType::Fixed,
            "ThresholdBasedProtocol" => ECodeProtocolType::ThresholdBased,
            "ThresholdBasedNoHoldingProtocol" => ECodeProtocolType::ThresholdBasedNoHolding,
            "LocalThresholdBasedProtocol" => ECodeProtocolType::LocalThresholdBased,
            other => {
                f.error(
                    p.get("protocol_type").unwrap_or(p),
                    "unknown-protocol-type",
                    format!("{ctx}: protocol type `{other}` is unknown to BluePyEModel"),
                );
                continue;
            }
        };
        let mut params = Vec::new();
        let mut null_params = Vec::new();
        for m in fields {
            match &m.value.value {
                JsonValue::Number(n) => params.push((m.key.clone(), n.value)),
                JsonValue::Null => null_params.push(m.key.clone()),
                JsonValue::Object(_) if m.key == "location" => {
                    f.note(&m.value, "ignored", format!("{ctx}: stimulus locations other than the soma are not supported; the soma is used"));
                }
                JsonValue::String(s) if m.key == "location" && s == "soma" => {}
                _ => f.warning(
                    &m.value,
                    "ignored",
                    format!("{ctx}: stimulus field `{}` is not a number; ignored", m.key),
                ),
            }
        }
        if !params.iter().any(|(k, _)| k == "totduration") {
            f.error(
                stim,
                "missing-key",
                format!("{ctx}: the stimulus has no `totduration`"),
            );
            continue;
        }
        let mut recs = Vec::new();
        let rec_list = p
            .get("recordings_from_config")
            .or_else(|| p.get("recordings"));
        for r in rec_list
            .and_then(|r| f.array(r, "`recordings_from_config`"))
            .unwrap_or(&[])
        {
            if let Some(rec) = bluepyemodel_recording(&mut f, r, &name, &ctx) {
                recs.push(rec);
            }
        }
        if !recs.iter().any(|r| r.name == "soma.v") {
            recs.insert(0, soma_v());
        }
        set.protocols.push(Protocol {
            name,
            stimulus: Stimulus::ECode(ECode {
                key,
                class,
                protocol_type: ptype,
                params,
                null_params,
            }),
            recordings: recs,
            origin: f.origin(p),
        });
    }
    set
}

fn bluepyemodel_recording(
    f: &mut Fields,
    r: &Json,
    protocol: &str,
    ctx: &str,
) -> Option<Recording> {
    let rctx = format!("a recording of {ctx}");
    let kind = f.str_field(r, "type", &rctx)?;
    let full = f.str_field(r, "name", &rctx)?;
    let name = full
        .strip_prefix(&format!("{protocol}."))
        .unwrap_or(full)
        .to_string();
    let variable = r
        .get("variable")
        .or_else(|| r.get("var"))
        .and_then(Json::as_str)
        .unwrap_or("v")
        .to_string();
    let site = match kind {
        "CompRecording" | "LooseDtRecordingCustom" | "FixedDtRecordingCustom" => {
            match r.get("location").and_then(Json::as_str) {
                Some("soma") | None => RecordingSite::Soma,
                Some("ais") => RecordingSite::Ais,
                Some(other) => {
                    f.error(r, "unknown-recording", format!("{rctx}: BluePyEModel records a CompRecording at soma or ais, not `{other}`"));
                    return None;
                }
            }
        }
        "somadistance" | "somadistanceapic" => {
            let d = f.num_field(r, "somadistance", &rctx)?;
            let seclist = f.str_field(r, "seclist_name", &rctx)?.to_string();
            if kind == "somadistance" {
                RecordingSite::SomaDistance {
                    distance_um: d,
                    seclist,
                }
            } else {
                RecordingSite::SomaDistanceApic {
                    distance_um: d,
                    seclist,
                }
            }
        }
        "nrnseclistcomp" => RecordingSite::SeclistComp {
            seclist: f.str_field(r, "seclist_name", &rctx)?.to_string(),
            sec_index: f.num_field(r, "sec_index", &rctx)?.max(0.0) as u32,
            comp_x: f.num_field(r, "comp_x", &rctx)?,
        },
        "FixedDtRecordingStimulus" | "LooseDtRecordingStimulus" => {
            f.note(
                r,
                "ignored",
                format!("{rctx}: recordings of the stimulus current are not needed; skipped"),
            );
            return None;
        }
        other => {
            f.error(
                r,
                "unknown-recording",
                format!("{rctx}: unknown recording type `{other}`"),
            );
            return None;
        }
    };
    Some(Recording {
        name,
        site,
        variable,
    })
}

/// BluePyOpt's example protocols (untyped, with `extra_recordings` of type `somadistance`).
pub(crate) fn read_bluepyopt(file: &JsonFile, diags: &mut Diagnostics) -> ProtocolSet {
    let mut f = Fields::new(file, diags);
    let mut set = ProtocolSet {
        file: file.path.clone(),
        configs: Vec::new(),
        protocols: Vec::new(),
        main: None,
    };
    for m in f.object(&file.root, "a protocol file").unwrap_or(&[]) {
        let ctx = format!("protocol `{}`", m.key);
        let recs = recordings(&mut f, &m.value, &ctx, None);
        let Some(stimuli) = f.req(&m.value, "stimuli", &ctx) else {
            continue;
        };
        let Some(list) = f.array(stimuli, "`stimuli`") else {
            continue;
        };
        let pulses: Option<Vec<_>> = list
            .iter()
            .map(|s| pulse(&mut f, s, &format!("a stimulus of {ctx}"), true))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        if let Some(pulses) = pulses {
            set.protocols.push(Protocol {
                name: m.key.clone(),
                stimulus: Stimulus::Pulses(pulses),
                recordings: recs,
                origin: f.origin_at(m.key_span.start),
            });
        }
    }
    set
}
