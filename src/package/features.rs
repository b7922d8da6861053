//! Target features in their three spellings: EModelRunner's legacy dictionary
//! (`{protocol: {recording: [{feature, val, ...}]}}`), BluePyEModel's `efeatures` list, and
//! BluePyOpt's example (`{protocol: {location: {feature: [mean, std]}}}`).

use crate::diag::Diagnostics;

use super::fields::Fields;
use super::json::{Json, JsonFile, JsonValue};
use super::model::{EfelSetting, Feature};

/// EModelRunner's `define_efeatures`: `strict_stim` defaults to true, `threshold` to -30 mV for
/// protocols with a stimulus start (`has_stim_start` tells which), `weight` to 1.
pub(crate) fn read_emodelrunner(
    file: &JsonFile,
    has_stim_start: &dyn Fn(&str) -> bool,
    diags: &mut Diagnostics,
) -> Vec<Feature> {
    let mut f = Fields::new(file, diags);
    let mut out = Vec::new();
    for prot in f.object(&file.root, "a feature file").unwrap_or(&[]) {
        if prot.key == "__comment" {
            continue;
        }
        let timed = has_stim_start(&prot.key);
        for rec in f
            .object(&prot.value, &format!("features of `{}`", prot.key))
            .unwrap_or(&[])
        {
            for feat in f
                .array(
                    &rec.value,
                    &format!("features of `{}.{}`", prot.key, rec.key),
                )
                .unwrap_or(&[])
            {
                let ctx = format!("a feature of `{}.{}`", prot.key, rec.key);
                let name = f.str_field(feat, "feature", &ctx).map(str::to_string);
                let val = f.req(feat, "val", &ctx).and_then(|v| mean_std(&mut f, v));
                let (Some(name), Some((mean, std))) = (name, val) else {
                    continue;
                };
                let strict = f.opt_bool_field(feat, "strict_stim").unwrap_or(true);
                let threshold = match f.opt_num_field(feat, "threshold") {
                    Some(t) if timed => Some(t),
                    None if timed => Some(-30.0),
                    _ => None,
                };
                let weight = f.opt_num_field(feat, "weight").unwrap_or(1.0);
                out.push(Feature {
                    name: format!("{}.{}.{}", prot.key, rec.key, name),
                    protocol: prot.key.clone(),
                    recording: rec.key.clone(),
                    efel_name: name,
                    mean,
                    std,
                    threshold_mv: threshold,
                    strict_stim: Some(strict),
                    weight,
                    efel_settings: vec![("strict_stiminterval".into(), EfelSetting::Bool(strict))],
                    origin: f.origin(feat),
                });
            }
        }
    }
    out
}

/// `val`: `[mean, std, ...]` (only the first two are used).
fn mean_std(f: &mut Fields, v: &Json) -> Option<(f64, f64)> {
    let items = f.array(v, "`val`")?;
    if items.len() < 2 {
        f.error(v, "json-type", "`val` should hold at least [mean, std]");
        return None;
    }
    let mean = f.number(&items[0], "the mean");
    let std = f.number(&items[1], "the standard deviation");
    Some((mean?, std?))
}

fn setting(v: &Json) -> Option<EfelSetting> {
    Some(match &v.value {
        JsonValue::Bool(b) => EfelSetting::Bool(*b),
        JsonValue::Number(n) if n.is_int => EfelSetting::Int(n.value as i64),
        JsonValue::Number(n) => EfelSetting::Float(n.value),
        JsonValue::String(s) => EfelSetting::Text(s.clone()),
        JsonValue::Array(items) => {
            EfelSetting::Floats(items.iter().map(Json::as_f64).collect::<Option<Vec<_>>>()?)
        }
        _ => return None,
    })
}

fn settings_of(f: &mut Fields, v: &Json) -> Vec<(String, EfelSetting)> {
    let mut out = Vec::new();
    for m in f.object(v, "`efel_settings`").unwrap_or(&[]) {
        match setting(&m.value) {
            Some(s) => out.push((m.key.clone(), s)),
            None => f.warning(
                &m.value,
                "json-type",
                format!("eFEL setting `{}` has an unusable value; ignored", m.key),
            ),
        }
    }
    out
}

/// BluePyEModel's `efeatures` list; `global_settings` are the pipeline's `efel_settings`, which
/// each feature's own settings override.
pub(crate) fn read_bluepyemodel(
    file: &JsonFile,
    list: &Json,
    global_settings: &[(String, EfelSetting)],
    diags: &mut Diagnostics,
) -> Vec<Feature> {
    let mut f = Fields::new(file, diags);
    let mut out = Vec::new();
    for feat in f.array(list, "`efeatures`").unwrap_or(&[]) {
        let ctx = "an efeature";
        let efel = f
            .str_field(feat, "efel_feature_name", ctx)
            .map(str::to_string);
        let prot = f.str_field(feat, "protocol_name", ctx).map(str::to_string);
        let rec = match feat.get("recording_name") {
            Some(r) if r.as_str().is_some() => r.as_str().map(str::to_string),
            Some(r) => match r.get("").and_then(Json::as_str) {
                // a multi-recording feature: its main recording is under ""
                Some(main) => Some(main.to_string()),
                None => {
                    f.error(
                        r,
                        "json-type",
                        "`recording_name` should be a string or {\"\": name, ...}",
                    );
                    None
                }
            },
            None => {
                f.error(feat, "missing-key", "an efeature has no `recording_name`");
                None
            }
        };
        let mean = f.num_field(feat, "mean", ctx);
        let (Some(efel), Some(prot), Some(rec), Some(mean)) = (efel, prot, rec, mean) else {
            continue;
        };
        let original_std = f
            .opt_num_field(feat, "original_std")
            .or_else(|| f.opt_num_field(feat, "std"));
        let threshold_std = f.opt_num_field(feat, "threshold_efeature_std");
        let default_std = f.opt_num_field(feat, "default_std_value").unwrap_or(1e-3);
        // EFeatureConfiguration.std
        let std = match threshold_std {
            None => original_std,
            Some(t) if mean == 0.0 => Some(if t != 0.0 { t } else { default_std }),
            Some(t) => {
                let limit = (t * mean).abs();
                Some(match original_std {
                    Some(o) if o >= limit => o,
                    _ => limit,
                })
            }
        };
        let Some(std) = std else {
            f.error(
                feat,
                "missing-key",
                format!("efeature `{efel}` of `{prot}` has no `original_std`"),
            );
            continue;
        };
        let mut settings: Vec<(String, EfelSetting)> = global_settings.to_vec();
        let own = match feat.get("efel_settings") {
            Some(s) if !s.is_null() => settings_of(&mut f, s),
            _ => vec![("strict_stiminterval".into(), EfelSetting::Bool(true))],
        };
        for (k, v) in own {
            match settings.iter_mut().find(|(x, _)| *x == k) {
                Some(slot) => slot.1 = v,
                None => settings.push((k, v)),
            }
        }
        let threshold =
            settings
                .iter()
                .find(|(k, _)| k == "Threshold")
                .and_then(|(_, v)| match v {
                    EfelSetting::Float(x) => Some(*x),
                    EfelSetting::Int(i) => Some(*i as f64),
                    _ => None,
                });
        let strict = settings
            .iter()
            .find(|(k, _)| k == "strict_stiminterval")
            .and_then(|(_, v)| match v {
                EfelSetting::Bool(b) => Some(*b),
                EfelSetting::Int(i) => Some(*i != 0),
                _ => None,
            });
        let shown = f
            .opt_str_field(feat, "efeature_name")
            .map(str::to_string)
            .unwrap_or_else(|| efel.clone());
        let weight = f.opt_num_field(feat, "weight").unwrap_or(1.0);
        out.push(Feature {
            name: format!("{prot}.{rec}.{shown}"),
            protocol: prot,
            recording: rec,
            efel_name: efel,
            mean,
            std,
            threshold_mv: threshold,
            strict_stim: strict,
            weight,
            efel_settings: settings,
            origin: f.origin(feat),
        });
    }
    out
}

/// The pipeline's eFEL settings (BluePyEModel's default when the recipe gives none).
pub(crate) fn bluepyemodel_global_settings(
    f: &mut Fields,
    v: Option<&Json>,
) -> Vec<(String, EfelSetting)> {
    match v {
        Some(s) if !s.is_null() => settings_of(f, s),
        _ => vec![
            ("interp_step".into(), EfelSetting::Float(0.025)),
            ("strict_stiminterval".into(), EfelSetting::Bool(true)),
        ],
    }
}

/// BluePyOpt's example: the threshold is -20 mV at the soma and -55 mV on dendrites.
pub(crate) fn read_bluepyopt(file: &JsonFile, diags: &mut Diagnostics) -> Vec<Feature> {
    let mut f = Fields::new(file, diags);
    let mut out = Vec::new();
    for prot in f.object(&file.root, "a feature file").unwrap_or(&[]) {
        for loc in f
            .object(&prot.value, &format!("features of `{}`", prot.key))
            .unwrap_or(&[])
        {
            let threshold = if loc.key == "soma" {
                Some(-20.0)
            } else if loc.key.contains("dend") {
                Some(-55.0)
            } else {
                let origin = f.origin_at(loc.key_span.start);
                f.push(origin.warning("no-threshold", format!("BluePyOpt's example sets thresholds for soma and dend* locations only; `{}` gets eFEL's default", loc.key)));
                None
            };
            for feat in f
                .object(
                    &loc.value,
                    &format!("features of `{}.{}`", prot.key, loc.key),
                )
                .unwrap_or(&[])
            {
                let Some((mean, std)) = mean_std(&mut f, &feat.value) else {
                    continue;
                };
                let recording = format!("{}.v", loc.key);
                out.push(Feature {
                    name: format!("{}.{}.{}", prot.key, loc.key, feat.key),
                    protocol: prot.key.clone(),
                    recording,
                    efel_name: feat.key.clone(),
                    mean,
                    std,
                    threshold_mv: threshold,
                    strict_stim: None,
                    weight: 1.0,
                    efel_settings: Vec::new(),
                    origin: f.origin_at(feat.key_span.start),
                });
            }
        }
    }
    out
}
