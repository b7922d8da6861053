//! Built-in protocol templates: the data files of `protocols/` (embedded in the binary, so an
//! installed `emsweep` needs no repository), read into protocols any e-model can run.
//!
//! A template is a named group of protocols (`step`: `step_150`, `step_200`, `step_250`) whose
//! amplitudes are percentages of each cell's threshold current on top of its holding current,
//! found by [`crate::sweep::search`]. `emsweep run --protocols step,ramp` adds them to every
//! e-model. The schema is documented in `protocols/README.md`:
//!
//! ```json
//! {"template": "step", "description": "...",
//!  "protocols": {"step_150": {"type": "StepThresholdProtocol", "delay": 700.0,
//!                             "duration": 2000.0, "totduration": 3000.0, "thresh_perc": 150.0}}}
//! ```
//! Types: `StepThresholdProtocol` (`delay`, `duration`, `totduration`, `thresh_perc`: one
//! square step and a holding clamp over the whole run, as EModelRunner builds it),
//! `RampThresholdProtocol` (`delay`, `duration`, `totduration`, `thresh_perc_start`,
//! `thresh_perc_end`), `ThresholdBasedProtocol` (`ecode`: a BluePyEModel e-code class, and the
//! numeric fields that e-code reads, e.g. `delay`, `duration`, `totduration`, `thresh_perc`,
//! `tmid`, `long_amp_rel`).

use std::path::Path;

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, LineCol};
use crate::package::{
    ECode, ECodeProtocolType, Origin, Protocol, RampPulse, Recording, RecordingSite, SquarePulse,
    Stimulus,
};

/// The embedded template files: (file name, text), in the order they are listed.
pub const TEMPLATE_FILES: [(&str, &str); 7] = [
    ("step.json", include_str!("../../protocols/step.json")),
    ("ramp.json", include_str!("../../protocols/ramp.json")),
    ("IDrest.json", include_str!("../../protocols/IDrest.json")),
    ("IV.json", include_str!("../../protocols/IV.json")),
    (
        "APWaveform.json",
        include_str!("../../protocols/APWaveform.json"),
    ),
    ("sAHP.json", include_str!("../../protocols/sAHP.json")),
    (
        "firepattern.json",
        include_str!("../../protocols/firepattern.json"),
    ),
];

/// One template: its name and protocols.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub protocols: Vec<Protocol>,
}

/// The names of the built-in templates, in order.
pub fn template_names() -> Vec<String> {
    builtin().into_iter().map(|t| t.name).collect()
}

/// Every built-in template. The embedded files are checked by the test suite; one that did
/// not read would be left out (never a panic).
pub fn builtin() -> Vec<Template> {
    TEMPLATE_FILES
        .iter()
        .filter_map(|(file, text)| parse(Path::new(&format!("protocols/{file}")), text).ok())
        .collect()
}

/// The built-in template `name`, if there is one.
pub fn find(name: &str) -> Option<Template> {
    builtin().into_iter().find(|t| t.name == name)
}

fn number(obj: &Map<String, Value>, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

/// Reads a template file's text (`file` names it in diagnostics).
pub fn parse(file: &Path, text: &str) -> Result<Template, Diagnostic> {
    let err = |m: String| Diagnostic::error("template", file, None, m);
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let pos = LineCol {
            line: e.line() as u32,
            col: e.column() as u32,
        };
        Diagnostic::error("template", file, Some(pos), e.to_string())
    })?;
    let root = root
        .as_object()
        .ok_or_else(|| err("a template is a JSON object".into()))?;
    let name = root
        .get("template")
        .and_then(Value::as_str)
        .ok_or_else(|| err("no `template` name".into()))?
        .to_string();
    let description = root
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let protocols = root
        .get("protocols")
        .and_then(Value::as_object)
        .ok_or_else(|| err("no `protocols` object".into()))?;
    let origin = Origin::new(file, None);
    let mut out = Vec::new();
    for (pname, def) in protocols {
        let ctx = format!("protocol `{pname}`");
        let def = def
            .as_object()
            .ok_or_else(|| err(format!("{ctx} is not an object")))?;
        let kind = def
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| err(format!("{ctx} has no `type`")))?;
        let need = |key: &str| {
            number(def, key).ok_or_else(|| err(format!("{ctx} needs a number `{key}`")))
        };
        let stimulus = match kind {
            "StepThresholdProtocol" => {
                let total = need("totduration")?;
                Stimulus::StepThreshold {
                    steps: vec![SquarePulse {
                        delay_ms: need("delay")?,
                        amp_na: None,
                        duration_ms: need("duration")?,
                        total_duration_ms: total,
                    }],
                    thresh_perc: need("thresh_perc")?,
                    holding: SquarePulse {
                        delay_ms: 0.0,
                        amp_na: None,
                        duration_ms: total,
                        total_duration_ms: total,
                    },
                }
            }
            "RampThresholdProtocol" => {
                let total = need("totduration")?;
                Stimulus::RampThreshold {
                    ramp: RampPulse {
                        delay_ms: need("delay")?,
                        duration_ms: need("duration")?,
                        amp_start_na: None,
                        amp_end_na: None,
                        total_duration_ms: total,
                    },
                    thresh_perc_start: need("thresh_perc_start")?,
                    thresh_perc_end: need("thresh_perc_end")?,
                    holding: SquarePulse {
                        delay_ms: 0.0,
                        amp_na: None,
                        duration_ms: total,
                        total_duration_ms: total,
                    },
                }
            }
            "ThresholdBasedProtocol" => {
                let class = def
                    .get("ecode")
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(format!("{ctx} needs an `ecode` class")))?;
                let (key, class) = crate::package::ecode_for(class)
                    .filter(|(_, c)| c.eq_ignore_ascii_case(class))
                    .ok_or_else(|| err(format!("{ctx}: `{class}` is not a BluePyEModel e-code")))?;
                need("totduration")?;
                let mut params = Vec::new();
                for (k, v) in def {
                    if k == "type" || k == "ecode" {
                        continue;
                    }
                    let x = v
                        .as_f64()
                        .ok_or_else(|| err(format!("{ctx}: `{k}` should be a number")))?;
                    params.push((k.clone(), x));
                }
                Stimulus::ECode(ECode {
                    key,
                    class,
                    protocol_type: ECodeProtocolType::ThresholdBased,
                    params,
                    null_params: Vec::new(),
                })
            }
            other => return Err(err(format!("{ctx}: unknown type `{other}`"))),
        };
        out.push(Protocol {
            name: pname.clone(),
            stimulus,
            recordings: vec![Recording {
                name: "soma.v".into(),
                site: RecordingSite::Soma,
                variable: "v".into(),
            }],
            origin: origin.clone(),
        });
    }
    if out.is_empty() {
        return Err(err("the template has no protocol".into()));
    }
    Ok(Template {
        name,
        description,
        protocols: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_reads() {
        for (file, text) in TEMPLATE_FILES {
            let t = parse(Path::new(file), text).unwrap_or_else(|d| panic!("{file}: {d:?}"));
            assert_eq!(format!("{}.json", t.name), file);
        }
        assert_eq!(builtin().len(), TEMPLATE_FILES.len());
    }

    #[test]
    fn bad_templates_are_diagnosed() {
        let p = Path::new("x.json");
        assert_eq!(parse(p, "{").unwrap_err().kind, "template");
        assert!(parse(p, r#"{"template": "x", "protocols": {}}"#).is_err());
        let bad_type = r#"{"template": "x", "protocols": {"a": {"type": "Nope"}}}"#;
        assert!(parse(p, bad_type)
            .unwrap_err()
            .message
            .contains("unknown type"));
        let bad_ecode = r#"{"template": "x", "protocols": {"a": {"type": "ThresholdBasedProtocol", "ecode": "Foo", "totduration": 1}}}"#;
        assert!(parse(p, bad_ecode).is_err());
        let missing = r#"{"template": "x", "protocols": {"a": {"type": "StepThresholdProtocol", "delay": 1}}}"#;
        assert!(parse(p, missing)
            .unwrap_err()
            .message
            .contains("totduration"));
    }
}
