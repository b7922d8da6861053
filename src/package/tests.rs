//! Reading the real packages (downloaded by the bootstrap) and broken copies of them.
//!
//! Expected numbers come from the packages' files and from running the Python tools on them
//! (EModelRunner 1.2.5, BluePyEModel 1.0.50, BluePyOpt 1.14.26): the parameter lists, their
//! order and values were compared one by one with `load_unoptimized_parameters`,
//! `create_cell_model` and `l5pc_model.create`.

use std::path::{Path, PathBuf};

use super::*;
use crate::diag::LineCol;
use crate::morph::{AxonReplacement, SectionList};
use formula::PyNum;

/// The real packages: `$EMSWEEP_CACHE/packages` or `<repo>/.cache/packages`.
pub(crate) fn packages_dir() -> PathBuf {
    let cache = std::env::var_os("EMSWEEP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache"));
    let dir = cache.join("packages");
    if !dir.join(".complete").exists() {
        panic!(
            "the real e-model packages are missing from {}: run the bootstrap (bash scripts/bootstrap.sh)",
            dir.display()
        );
    }
    dir
}

fn read(rel: &str) -> PackageRead {
    read_package(&packages_dir().join(rel))
}

fn kinds(r: &PackageRead) -> Vec<(&'static str, crate::diag::Severity)> {
    r.diagnostics.iter().map(|d| (d.kind, d.severity)).collect()
}

fn param<'a>(e: &'a EModel, key: &str) -> &'a Parameter {
    e.parameters
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no parameter {key}"))
}

#[test]
fn sscx_seven_configs_make_one_emodel_with_all_protocol_files() {
    let r = read("emodelrunner/sscx_sample_dir");
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    assert_eq!(r.layout, Some(Layout::EModelRunner));
    assert_eq!(r.emodels.len(), 1);
    let e = &r.emodels[0];
    assert_eq!(e.label(), "cADpyr_L4UPC");
    assert_eq!(e.dialect, Dialect::EModelRunner(PackageType::Sscx));
    assert_eq!(e.axon, AxonReplacement::SscxMyelin);
    assert_eq!(
        (e.celsius, e.v_init_mv, e.dt_ms, e.authors_cvode),
        (34.0, -80.0, 0.025, false)
    );
    assert_eq!(e.apical_point_isec, Some(22));
    assert!(e.morphology.ends_with(
        "morphology/dend-C231296A-P4B2_axon-C200897C-P2_-_Scale_x1.000_y0.975_z1.000.asc"
    ));
    // protocol files in config order, each once
    let files: Vec<String> = e
        .protocol_sets
        .iter()
        .map(|s| s.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        [
            "allsteps.json",
            "RmpRiTau.json",
            "multiprotocols.json",
            "cADpyr_L4PC.json",
            "singlestep.json",
            "synapses.json",
            "synapses_short.json"
        ]
    );
    // the synaptic protocols are notes, not errors
    let notes = r
        .diagnostics
        .iter()
        .filter(|d| d.kind == "out-of-scope")
        .count();
    assert_eq!(notes, 6, "{:#?}", r.diagnostics);
    // parameters: 52 in pyr.json order, v_init forced by the config, finals applied
    assert_eq!(e.parameters.len(), 52);
    assert_eq!(e.parameters[0].key, "v_init");
    assert_eq!(
        param(e, "constant.distribution_decay").value.value(),
        Some(PyNum::Float(-0.0055559422855153305))
    );
    assert_eq!(
        param(e, "g_pas.all").value.value(),
        Some(PyNum::Float(2.9406907117360732e-05))
    );
    assert_eq!(param(e, "Ra.all").value.value(), Some(PyNum::Int(100)));
    assert!(
        matches!(&param(e, "gIhbar_Ih.somadend").target, ParamTarget::Range { distribution, location } if distribution == "exp" && location.lists == [SectionList::Apical, SectionList::Basal, SectionList::Somatic])
    );
    assert!(e.free_without_value().is_empty());
    let by_loc: Vec<(String, Vec<&str>)> = e
        .mechanisms_by_location()
        .into_iter()
        .map(|(l, m)| (l.name.clone(), m))
        .collect();
    assert_eq!(
        by_loc[1],
        (
            "allact".to_string(),
            vec!["CaDynamics_DC0", "Ca_HVA2", "Ca_LVAst"]
        )
    );
    assert_eq!(by_loc.len(), 7);
    assert_eq!(e.mod_files.len(), 15);
    assert_eq!(e.features.len(), 64);
    let f = e
        .features
        .iter()
        .find(|f| f.name == "Step_200.soma.v.AP_amplitude")
        .unwrap();
    assert_eq!((f.threshold_mv, f.strict_stim), (Some(-30.0), Some(true)));
    let thr = e
        .features
        .iter()
        .find(|f| f.protocol == "Threshold")
        .unwrap();
    assert_eq!(
        (thr.efel_name.as_str(), thr.mean, thr.std, thr.threshold_mv),
        ("bpo_threshold_current", 0.0887, 0.0301, None)
    );
}

#[test]
fn sscx_protocols_are_typed() {
    let r = read("emodelrunner/sscx_sample_dir");
    let e = &r.emodels[0];
    let find = |file: &str, name: &str| {
        e.protocol_sets
            .iter()
            .filter(|s| s.file.ends_with(file))
            .flat_map(|s| s.protocols.iter())
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{file} {name}"))
    };
    let step = find("allsteps.json", "Step_150");
    match &step.stimulus {
        Stimulus::Step { steps, holding } => {
            assert_eq!(steps.len(), 1);
            assert_eq!(
                (steps[0].delay_ms, steps[0].amp_na, steps[0].duration_ms),
                (70.0, Some(0.20915625), 200.0)
            );
            assert_eq!(holding.as_ref().unwrap().amp_na, Some(-0.0896244038173676));
        }
        s => panic!("{s:?}"),
    }
    assert_eq!(step.stimulus.tstop_ms(), 300.0);
    match &find("multiprotocols.json", "MultiStepProtocolNoHolding").stimulus {
        Stimulus::Step {
            steps,
            holding: None,
        } => assert_eq!(steps.len(), 2),
        s => panic!("{s:?}"),
    }
    let ramp = find("multiprotocols.json", "Ramp");
    match &ramp.stimulus {
        Stimulus::Ramp {
            ramp,
            holding: Some(_),
        } => {
            assert_eq!(
                (ramp.delay_ms, ramp.amp_end_na, ramp.duration_ms),
                (70.0, Some(0.20915625), 200.0)
            )
        }
        s => panic!("{s:?}"),
    }
    let names: Vec<&str> = ramp.recordings.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "soma.v",
            "ca_soma.cai",
            "ca_ais.cai",
            "ca_prox_basal.cai",
            "dend1.v"
        ]
    );
    assert!(
        matches!(&ramp.recordings[2].site, RecordingSite::SeclistComp { seclist, sec_index: 0, comp_x } if seclist == "axon" && *comp_x == 0.5)
    );
    match &find("cADpyr_L4PC.json", "Step_200").stimulus {
        Stimulus::StepThreshold {
            steps,
            thresh_perc,
            holding,
        } => {
            assert_eq!(*thresh_perc, 212.1597);
            assert_eq!(steps[0].amp_na, None);
            assert_eq!((holding.delay_ms, holding.duration_ms), (0.0, 3000.0));
        }
        s => panic!("{s:?}"),
    }
    let bap = find("cADpyr_L4PC.json", "bAP");
    assert_eq!(bap.recordings[1].name, "dend1.v");
    assert!(
        matches!(&bap.recordings[1].site, RecordingSite::SomaDistanceApic { distance_um, seclist } if *distance_um == 91.0 && seclist == "apical")
    );
    let main = e
        .protocol_sets
        .iter()
        .find_map(|s| s.main.as_ref())
        .unwrap();
    assert_eq!(
        main.other_protocols,
        [
            "bAP",
            "Step_140",
            "Step_200",
            "Step_280",
            "APWaveform_360",
            "IV_-100",
            "SpikeRec_all"
        ]
    );
    assert_eq!(main.searches.len(), 1);
    let s = &main.searches[0];
    assert_eq!(
        (
            s.rin_protocol.as_str(),
            s.holdi_precision,
            s.holdi_max_depth,
            s.holdi_estimate_multiplier
        ),
        ("Rin", 0.1, 7, 2.0)
    );
    match &s.detection_template {
        Stimulus::Step {
            steps,
            holding: Some(h),
        } => {
            assert_eq!(
                (
                    steps[0].delay_ms,
                    steps[0].duration_ms,
                    steps[0].total_duration_ms,
                    h.duration_ms
                ),
                (700.0, 2000.0, 3000.0, 3000.0)
            )
        }
        t => panic!("{t:?}"),
    }
}

#[test]
fn thalamus_has_two_searches_and_its_own_axon() {
    let r = read("emodelrunner/thalamus_sample_dir");
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    let e = &r.emodels[0];
    assert_eq!(e.name, "dNAD_ltb");
    assert_eq!(e.axon, AxonReplacement::Thalamus);
    assert_eq!(e.v_init_mv, -80.0);
    // the params file's v_init (-79) is overridden by the config (-80), with a note there
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.kind == "config-override")
        .unwrap();
    assert!(d.file.ends_with("config/params/bAC_TC_VPL.json"));
    let main = e.protocol_sets[0].main.as_ref().unwrap();
    let variants: Vec<(&str, u32, f64)> = main
        .searches
        .iter()
        .map(|s| {
            (
                s.variant.as_str(),
                s.holdi_max_depth,
                s.holdi_estimate_multiplier,
            )
        })
        .collect();
    assert_eq!(variants, [("dep", 14, 1.0), ("hyp", 14, 1.0)]);
    assert_eq!(main.rmp_feature, "steady_state_voltage_stimend");
    assert!(main.searches.iter().all(|s| s.target_voltage_mv.is_some()));
    assert_eq!(e.mod_files.len(), 34);
    assert!(e
        .mod_files
        .iter()
        .all(|p| !p.to_string_lossy().contains("other_versions")));
    assert_eq!(e.features.len(), 34);
    // somadend and alldend both insert TC_ih_Bud97 on dendrites
    let ih: Vec<&str> = e
        .mechanisms
        .iter()
        .filter(|m| m.suffix == "TC_ih_Bud97")
        .map(|m| m.location.name.as_str())
        .collect();
    assert_eq!(ih, ["somatic", "alldend", "somadend"]);
}

#[test]
fn synplas_gives_two_cells_and_notes_the_synapses() {
    let r = read("emodelrunner/synplas_sample_dir");
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    let names: Vec<&str> = r.emodels.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["cADpyr_L4UPC", "cADpyr_L4TPC"]);
    assert_ne!(r.emodels[0].morphology, r.emodels[1].morphology);
    for e in &r.emodels {
        assert_eq!(
            (e.v_init_mv, e.celsius, e.axon),
            (-65.0, 34.0, AxonReplacement::SscxMyelin)
        );
        assert!(e.protocol_sets.is_empty());
    }
    assert_eq!(
        param(&r.emodels[1], "g_pas.all").value.value(),
        Some(PyNum::Float(4.252927638565983e-05))
    );
    assert_eq!(
        param(&r.emodels[0], "g_pas.all").value.value(),
        Some(PyNum::Float(2.9406907117360732e-05))
    );
    assert!(kinds(&r).contains(&("out-of-scope", crate::diag::Severity::Note)));
    // the shared params file's override note is reported once
    assert_eq!(
        r.diagnostics
            .iter()
            .filter(|d| d.kind == "config-override")
            .count(),
        1
    );
}

#[test]
fn bluepyemodel_l5pc_has_bounds_only() {
    let r = read("bluepyemodel/L5PC");
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    let e = &r.emodels[0];
    assert_eq!(
        (e.dialect, e.axon),
        (Dialect::BluePyEModel, AxonReplacement::SscxMyelin)
    );
    assert_eq!(e.free_without_value().len(), 31);
    let w = r
        .diagnostics
        .iter()
        .find(|d| d.kind == "no-final-values")
        .unwrap();
    assert!(
        w.message.contains("gIhbar_Ih.somadend")
            && w.message.contains("constant.distribution_decay")
    );
    assert_eq!(e.features.len(), 42);
    let prots: Vec<(&str, &str, f64)> = e
        .protocols()
        .map(|p| match &p.stimulus {
            Stimulus::ECode(c) => (p.name.as_str(), c.class, p.stimulus.tstop_ms()),
            s => panic!("{s:?}"),
        })
        .collect();
    assert_eq!(
        prots,
        [
            ("IDrest_150", "IDrest", 3000.0),
            ("IDrest_250", "IDrest", 3000.0),
            ("IV_-100", "IV", 1320.0),
            ("APWaveform_280", "APWaveform", 59.99),
            ("sAHP_220", "sAHP", 2740.0)
        ]
    );
    let Stimulus::ECode(c) = &e.protocols().next().unwrap().stimulus else {
        unreachable!()
    };
    assert_eq!(c.protocol_type, ECodeProtocolType::ThresholdBased);
    assert_eq!(c.get("thresh_perc"), Some(154.49389673905893));
    let f = &e.features[0];
    assert_eq!(
        (f.name.as_str(), f.threshold_mv, f.strict_stim),
        ("IDrest_150.soma.v.Spikecount", Some(-20.0), Some(true))
    );
}

#[test]
fn bluepyemodel_simplecell_takes_its_final_entry() {
    let r = read("bluepyemodel/simplecell");
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    let e = &r.emodels[0];
    assert_eq!(e.axon, AxonReplacement::None);
    assert_eq!(
        param(e, "gnabar_hh.somatic").value.value(),
        Some(PyNum::Float(0.05000000003749999))
    );
    assert_eq!(e.mechanisms.len(), 1);
    assert_eq!(
        (
            e.mechanisms[0].suffix.as_str(),
            e.mechanisms[0].location.name.as_str()
        ),
        ("hh", "somatic")
    );
    assert!(e.mechanism_dir.is_none());
}

#[test]
fn bluepyopt_l5pc_reads_release_params_and_its_inline_distribution() {
    let r = read("bluepyopt/l5pc");
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    let e = &r.emodels[0];
    assert_eq!(
        (e.name.as_str(), e.axon, e.v_init_mv, e.celsius),
        ("l5pc", AxonReplacement::BluePyOpt, -65.0, 34.0)
    );
    assert_eq!(e.parameters.len(), 37);
    assert_eq!(
        param(e, "gNaTs2_tbar_NaTs2_t.apical").value.value(),
        Some(PyNum::Float(0.026145))
    );
    let ih = param(e, "gIhbar_Ih.apical");
    let ParamTarget::Range { distribution, .. } = &ih.target else {
        panic!("{ih:?}")
    };
    assert!(e.distribution(distribution).unwrap().formula.is_some());
    assert_eq!(e.protocols().count(), 4);
    assert_eq!(e.features.len(), 35);
    let dend = e
        .features
        .iter()
        .find(|f| f.recording == "dend1.v")
        .unwrap();
    assert_eq!(dend.threshold_mv, Some(-55.0));
}

#[test]
fn discovery_finds_all_six_packages_in_order() {
    let root = packages_dir();
    let (found, diags) = discover(&root);
    assert!(diags.is_empty());
    let rel: Vec<String> = found
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        rel,
        [
            "bluepyemodel/L5PC",
            "bluepyemodel/simplecell",
            "bluepyopt/l5pc",
            "emodelrunner/sscx_sample_dir",
            "emodelrunner/synplas_sample_dir",
            "emodelrunner/thalamus_sample_dir"
        ]
    );
}

#[test]
fn reading_is_deterministic() {
    let a = read("emodelrunner/sscx_sample_dir");
    let b = read("emodelrunner/sscx_sample_dir");
    assert_eq!(a.emodels, b.emodels);
    assert_eq!(a.diagnostics, b.diagnostics);
}

// ---- broken copies of the SSCx sample ------------------------------------------------------

/// A copy of the SSCx sample with one config, to break.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn sscx(tag: &str) -> Scratch {
        let src = packages_dir().join("emodelrunner/sscx_sample_dir");
        let dir = std::env::temp_dir().join(format!("emsweep-pkg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in [
            "config/params",
            "config/protocols",
            "config/features",
            "morphology",
            "mechanisms",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            for e in std::fs::read_dir(src.join(sub)).unwrap() {
                let p = e.unwrap().path();
                if p.is_file() {
                    std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
                }
            }
        }
        std::fs::copy(
            src.join("config/config_singlestep.ini"),
            dir.join("config/config_singlestep.ini"),
        )
        .unwrap();
        Scratch { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Replace the first `from` in file `rel` by `to`; returns the new text.
    fn edit(&self, rel: &str, from: &str, to: &str) -> String {
        let p = self.path(rel);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{from} not in {rel}");
        let new = text.replacen(from, to, 1);
        std::fs::write(&p, &new).unwrap();
        new
    }

    /// The line and column of the first `needle` in file `rel`.
    fn pos_of(&self, rel: &str, needle: &str) -> LineCol {
        let text = std::fs::read_to_string(self.path(rel)).unwrap();
        LineCol::of_offset(
            &text,
            text.find(needle).unwrap_or_else(|| panic!("{needle}")),
        )
    }

    fn read(&self) -> PackageRead {
        read_package(&self.dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn errors(r: &PackageRead) -> Vec<(String, Option<LineCol>, &'static str)> {
    r.diagnostics
        .iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .map(|d| {
            (
                d.file.file_name().unwrap().to_string_lossy().into_owned(),
                d.pos,
                d.kind,
            )
        })
        .collect()
}

#[test]
fn the_untouched_copy_reads_cleanly() {
    let s = Scratch::sscx("clean");
    let r = s.read();
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    assert_eq!(r.emodels[0].protocol_sets.len(), 1);
}

#[test]
fn a_missing_final_value_is_reported_at_the_params_object() {
    let s = Scratch::sscx("final");
    s.edit(
        "config/params/final.json",
        "\"gK_Pstbar_K_Pst.axonal\"",
        "\"renamed.axonal\"",
    );
    let r = s.read();
    let pos = s.pos_of("config/params/final.json", "\"params\": {");
    let params_obj = LineCol {
        line: pos.line,
        col: pos.col + "\"params\": ".len() as u32,
    };
    assert_eq!(
        errors(&r),
        [("final.json".to_string(), Some(params_obj), "missing-final")]
    );
    assert!(r
        .diagnostics
        .iter()
        .any(|d| d.message.contains("gK_Pstbar_K_Pst.axonal")));
    assert!(r
        .diagnostics
        .iter()
        .any(|d| d.kind == "unused-final" && d.message.contains("renamed.axonal")));
}

#[test]
fn an_unknown_name_in_a_formula_points_into_the_string() {
    let s = Scratch::sscx("formula");
    s.edit(
        "config/params/pyr.json",
        "2.087*math.exp(",
        "2.087*mth.exp(",
    );
    let r = s.read();
    let at = s.pos_of("config/params/pyr.json", "mth.exp");
    let errs = errors(&r);
    assert_eq!(errs[0], ("pyr.json".to_string(), Some(at), "unknown-name"));
    assert!(r
        .diagnostics
        .iter()
        .any(|d| d.message.contains("column 18 of the formula")));
}

#[test]
fn an_undeclared_placeholder_is_an_unknown_name() {
    let s = Scratch::sscx("placeholder");
    s.edit("config/params/pyr.json", "*{constant})", "*{konstant})");
    let r = s.read();
    let at = s.pos_of("config/params/pyr.json", "{konstant}");
    let errs = errors(&r);
    assert!(
        errs.contains(&("pyr.json".to_string(), Some(at), "unknown-name")),
        "{errs:?}"
    );
    // BluePyOpt also refuses a declared parameter the formula does not use
    assert!(errs.iter().any(|e| e.2 == "unused-parameter"), "{errs:?}");
}

#[test]
fn an_unknown_location_is_reported_at_its_key() {
    let s = Scratch::sscx("location");
    s.edit(
        "config/params/pyr.json",
        "\"somadend\": {",
        "\"dendritic\": {",
    );
    let r = s.read();
    let at = s.pos_of("config/params/pyr.json", "\"dendritic\"");
    assert_eq!(
        errors(&r),
        [("pyr.json".to_string(), Some(at), "unknown-location")]
    );
}

#[test]
fn a_protocol_without_totduration_is_reported_at_its_step() {
    let s = Scratch::sscx("totduration");
    let text = s.edit(
        "config/protocols/singlestep.json",
        ",\n                \"totduration\": 300.0\n            },\n            \"holding\"",
        "\n            },\n            \"holding\"",
    );
    let r = s.read();
    let step = text.find("\"step\": {").unwrap() + "\"step\": ".len();
    let at = LineCol::of_offset(&text, step);
    assert_eq!(
        errors(&r),
        [("singlestep.json".to_string(), Some(at), "missing-key")]
    );
    assert!(r
        .diagnostics
        .iter()
        .any(|d| d.message.contains("`totduration`")));
}

#[test]
fn bad_json_is_reported_and_other_files_still_read() {
    let s = Scratch::sscx("json");
    let text = s.edit(
        "config/features/cADpyr_L4PC.json",
        "\"val\": [",
        "\"val\" [",
    );
    let r = s.read();
    let bad = text.find("\"val\" [").unwrap() + "\"val\" ".len();
    assert_eq!(
        errors(&r),
        [(
            "cADpyr_L4PC.json".to_string(),
            Some(LineCol::of_offset(&text, bad)),
            "json-syntax"
        )]
    );
    // the e-model is still read, with its protocols
    assert_eq!(r.emodels[0].protocols().count(), 1);
}

#[test]
fn several_problems_are_all_reported() {
    let s = Scratch::sscx("many");
    s.edit(
        "config/params/pyr.json",
        "\"somadend\": {",
        "\"dendritic\": {",
    );
    s.edit(
        "config/params/final.json",
        "\"gK_Pstbar_K_Pst.axonal\"",
        "\"renamed.axonal\"",
    );
    s.edit(
        "config/config_singlestep.ini",
        "morph_path = morphology/",
        "morph_path = morphologies/",
    );
    let r = s.read();
    let mut k: Vec<&str> = errors(&r).into_iter().map(|e| e.2).collect();
    k.sort();
    assert_eq!(k, ["missing-file", "missing-final", "unknown-location"]);
    let missing = r
        .diagnostics
        .iter()
        .find(|d| d.kind == "missing-file")
        .unwrap();
    assert_eq!(
        missing.pos,
        Some(s.pos_of("config/config_singlestep.ini", "morphologies/"))
    );
}

#[test]
fn a_mechanism_without_mod_file_is_reported() {
    let s = Scratch::sscx("mech");
    std::fs::remove_file(s.path("mechanisms/Ih.mod")).unwrap();
    let r = s.read();
    let at = s.pos_of("config/params/pyr.json", "\"Ih\"");
    assert_eq!(
        errors(&r),
        [("pyr.json".to_string(), Some(at), "unknown-mechanism")]
    );
}

#[test]
fn a_threshold_protocol_needs_a_main_protocol() {
    let s = Scratch::sscx("main");
    s.edit(
        "config/protocols/singlestep.json",
        "\"type\": \"StepProtocol\"",
        "\"type\": \"StepThresholdProtocol\"",
    );
    s.edit(
        "config/protocols/singlestep.json",
        "\"amp\": 0.20915625,",
        "\"thresh_perc\": 150.0,",
    );
    let r = s.read();
    let at = s.pos_of(
        "config/protocols/singlestep.json",
        "\"StepThresholdProtocol\"",
    );
    assert_eq!(
        errors(&r),
        [(
            "singlestep.json".to_string(),
            Some(at),
            "needs-main-protocol"
        )]
    );
}

#[test]
fn a_main_protocol_without_its_features_is_an_error() {
    let s = Scratch::sscx("mainfeat");
    let cfg = std::fs::read_to_string(s.path("config/config_singlestep.ini")).unwrap();
    std::fs::write(
        s.path("config/config_singlestep.ini"),
        cfg.replace("protocols/singlestep.json", "protocols/cADpyr_L4PC.json"),
    )
    .unwrap();
    s.edit(
        "config/features/cADpyr_L4PC.json",
        "\"ohmic_input_resistance_vb_ssse\"",
        "\"renamed\"",
    );
    let r = s.read();
    let at = s.pos_of("config/protocols/cADpyr_L4PC.json", "\"Main\": {");
    let at = LineCol {
        line: at.line,
        col: at.col + "\"Main\": ".len() as u32,
    };
    let errs = errors(&r);
    assert_eq!(
        errs,
        [("cADpyr_L4PC.json".to_string(), Some(at), "missing-feature")],
        "{r:#?}"
    );
}

#[test]
fn configs_with_different_settings_make_separate_emodels() {
    let s = Scratch::sscx("variants");
    let cfg = std::fs::read_to_string(s.path("config/config_singlestep.ini")).unwrap();
    std::fs::write(
        s.path("config/config_warm.ini"),
        cfg.replace("celsius = 34", "celsius = 36"),
    )
    .unwrap();
    let r = s.read();
    assert!(!r.failed(), "{:#?}", r.diagnostics);
    let labels: Vec<(String, f64)> = r.emodels.iter().map(|e| (e.label(), e.celsius)).collect();
    assert_eq!(
        labels,
        [
            ("cADpyr_L4UPC[config_singlestep]".to_string(), 34.0),
            ("cADpyr_L4UPC[config_warm]".to_string(), 36.0)
        ]
    );
    assert!(r.diagnostics.iter().any(|d| d.kind == "several-cells"));
}

#[test]
fn not_a_package() {
    let dir = std::env::temp_dir().join(format!("emsweep-notpkg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = read_package(&dir);
    assert!(r.failed());
    assert_eq!(kinds(&r), [("not-a-package", crate::diag::Severity::Error)]);
    std::fs::remove_dir_all(&dir).unwrap();
}
