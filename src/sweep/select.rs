//! Which protocols an e-model runs: `--protocols` names and globs against the packages' own
//! protocols, the built-in templates they name, and a name unique within the e-model for each.

use std::collections::BTreeSet;

use crate::package::{ECodeProtocolType, EModel, Protocol, Stimulus};
use crate::sim::templates::{self, Template};

/// The protocol selection word meaning "every protocol of the packages".
pub const PACKAGE_SELECTION: &str = "package";

/// Whether `name` matches the glob `pattern` (`*`: any run of characters, `?`: one).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Why a protocol needs the holding/threshold current search, if it does.
pub fn search_needed(stimulus: &Stimulus) -> Option<&'static str> {
    const REASON: &str = "its currents come from the holding/threshold current search";
    let null_amp = |s: &crate::package::SquarePulse| s.amp_na.is_none();
    let needs = match stimulus {
        Stimulus::StepThreshold { .. } | Stimulus::RampThreshold { .. } => true,
        Stimulus::Step { steps, holding } => {
            steps.iter().any(null_amp) || holding.as_ref().is_some_and(null_amp)
        }
        Stimulus::Ramp { ramp, holding } => {
            ramp.amp_start_na.is_none()
                || ramp.amp_end_na.is_none()
                || holding.as_ref().is_some_and(null_amp)
        }
        Stimulus::Pulses(p) => p.iter().any(null_amp),
        Stimulus::ECode(e) => e.protocol_type != ECodeProtocolType::Fixed,
    };
    needs.then_some(REASON)
}

/// Whether `name` is selected by `patterns` (names, globs or the word `package`).
pub fn selected(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .any(|p| p == PACKAGE_SELECTION || glob_match(p, name))
}

/// The built-in templates `patterns` name, in the order named.
pub fn selected_templates(patterns: &[String]) -> Vec<Template> {
    let mut out: Vec<Template> = Vec::new();
    for p in patterns {
        if let Some(t) = templates::find(p) {
            if !out.iter().any(|x| x.name == t.name) {
                out.push(t);
            }
        }
    }
    out
}

/// One protocol an e-model runs, under a name unique within the e-model.
pub struct NamedProtocol<'p> {
    pub protocol: std::borrow::Cow<'p, Protocol>,
    /// The name its file gives it (`--protocols` patterns match this name too).
    pub plain: &'p str,
    pub template: bool,
}

/// The protocols `em` runs: its own and then the templates', each under a name unique within
/// the e-model. Where protocol sets share a name (the SSCx sample's `Step_200` is in
/// `allsteps.json` and in the main protocol's file), the main protocol's set keeps the name —
/// the feature file was written for it — and the others run as `<name>@<file stem>`; a template
/// protocol named like a package protocol runs as `<name>@template`. Nothing is dropped.
pub fn named_protocols<'p>(em: &'p EModel, templates: &'p [Protocol]) -> Vec<NamedProtocol<'p>> {
    use std::borrow::Cow;
    let sets = em
        .protocol_sets
        .iter()
        .filter(|s| s.main.is_some())
        .chain(em.protocol_sets.iter().filter(|s| s.main.is_none()));
    let mut out: Vec<NamedProtocol> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut add = |p: &'p Protocol, qualifier: String, template: bool| {
        let mut name = p.name.clone();
        if taken.contains(&name) {
            name = format!("{}@{qualifier}", p.name);
            let mut k = 2;
            while taken.contains(&name) {
                name = format!("{}@{qualifier}#{k}", p.name);
                k += 1;
            }
        }
        taken.insert(name.clone());
        let protocol = if name == p.name {
            Cow::Borrowed(p)
        } else {
            Cow::Owned(Protocol { name, ..p.clone() })
        };
        out.push(NamedProtocol {
            protocol,
            plain: &p.name,
            template,
        });
    };
    for set in sets {
        let stem = set
            .file
            .file_stem()
            .map_or_else(|| "set".to_string(), |x| x.to_string_lossy().into_owned());
        for p in &set.protocols {
            add(p, stem.clone(), false);
        }
    }
    for p in templates {
        add(p, "template".into(), true);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("Step_*", "Step_150"));
        assert!(glob_match("Step_15?", "Step_150"));
        assert!(!glob_match("Step_15?", "Step_1500"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*_2*0", "Step_200_and_250"));
        assert!(!glob_match("IDrest*", "Step_150"));
        assert!(glob_match("a*b*c", "aXbYbc"));
        assert!(!glob_match("a*b*c", "aXbYb"));
    }
}
