//! EModelRunner / e-model-packager packages: every `config/*.ini` read as EModelRunner reads it
//! (its defaults per package type, configparser rules), the cells they describe (two for
//! synplas: the cell and its pre-synaptic partner), merged into one e-model per cell with the
//! protocol files of all the configs that describe it.
//!
//! Paths are resolved against the package directory: EModelRunner runs from there
//! (`run_py.sh`), and values like `%(memodel_dir)s/config/params/final.json` already carry
//! `memodel_dir`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, LineCol};
use crate::morph::AxonReplacement;

use super::formula::PyNum;
use super::ini::Ini;
use super::json::JsonFile;
use super::model::{
    Dialect, EModel, Feature, Origin, PackageType, ParamTarget, ParamValue, ProtocolSet, Stimulus,
};
use super::params::{self, FinalLookup, LocationRules, ParamsDef};
use super::{features, finish_emodel, protocols};

/// `config/*.ini`, sorted.
pub(crate) fn config_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir.join("config")) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "ini"))
        .collect();
    out.sort();
    out
}

/// EModelRunner's validators' `default_values` for a package type.
fn defaults(t: PackageType) -> Vec<(&'static str, &'static [(&'static str, &'static str)])> {
    const PATHS_CELL: &[(&str, &str)] = &[
        ("memodel_dir", "."),
        ("output_dir", "%(memodel_dir)s/python_recordings"),
        ("params_path", "%(memodel_dir)s/config/params/final.json"),
        ("templates_dir", "%(memodel_dir)s/templates"),
        ("syn_dir", "%(memodel_dir)s/synapses"),
        ("syn_dir_for_hoc", "%(memodel_dir)s/synapses"),
        ("syn_data_file", "synapses.tsv"),
        ("syn_conf_file", "synconf.txt"),
        ("syn_mtype_map", "mtype_map.tsv"),
    ];
    const CELL: &[(&str, &str)] = &[("celsius", "34"), ("v_init", "-80"), ("gid", "0")];
    const PROTOCOL: &[(&str, &str)] = &[("apical_point_isec", "-1")];
    const MORPH: &[(&str, &str)] = &[("do_replace_axon", "True"), ("mtype", "")];
    const SIM: &[(&str, &str)] = &[("cvode_active", "False"), ("dt", "0.025")];
    const SYN: &[(&str, &str)] = &[
        ("add_synapses", "False"),
        ("seed", "846515"),
        ("rng_settings_mode", "Random123"),
    ];
    match t {
        PackageType::Sscx => vec![
            ("Package", &[("type", "sscx")]),
            ("Cell", CELL),
            ("Protocol", PROTOCOL),
            ("Morphology", MORPH),
            ("Sim", SIM),
            ("Synapses", SYN),
            ("Paths", PATHS_CELL),
        ],
        PackageType::Thalamus => vec![
            ("Package", &[("type", "thalamus")]),
            ("Cell", CELL),
            ("Protocol", PROTOCOL),
            ("Morphology", MORPH),
            ("Sim", SIM),
            ("Synapses", SYN),
            ("Paths", PATHS_CELL),
        ],
        PackageType::Synplas => vec![
            ("Package", &[("type", "synplas")]),
            (
                "Paths",
                &[
                    ("memodel_dir", "."),
                    ("params_path", "%(memodel_dir)s/config/params/final.json"),
                    (
                        "synplas_fit_params_path",
                        "%(memodel_dir)s/config/fit_params.json",
                    ),
                    ("syn_dir", "%(memodel_dir)s/synapses"),
                    ("syn_prop_path", "%(syn_dir)s/synapse_properties.json"),
                ],
            ),
            ("Morphology", &[("do_replace_axon", "True")]),
            (
                "Synapses",
                &[("seed", "846515"), ("rng_settings_mode", "Random123")],
            ),
        ],
    }
}

/// What makes two configs describe the same cell.
#[derive(Clone, Debug, PartialEq)]
struct CellSettings {
    name: String,
    package_type: PackageType,
    morph: PathBuf,
    params: PathBuf,
    final_path: Option<PathBuf>,
    do_replace_axon: bool,
    celsius: f64,
    v_init: f64,
    dt: f64,
    cvode: bool,
    features: Option<PathBuf>,
    apical_point_isec: Option<u32>,
}

struct ConfigCell {
    settings: CellSettings,
    config: PathBuf,
    /// `[Cell]` option naming the e-model (`emodel` or `precell_emodel`) and its position.
    name_pos: Option<LineCol>,
    protocols: Option<PathBuf>,
}

/// `determine_package_type`: `[SynapsePlasticity]` means synplas, else `[Package] type`.
fn package_type(path: &Path, diags: &mut Diagnostics) -> Option<PackageType> {
    let mut raw = Ini::new(path);
    let mut scratch = Diagnostics::new();
    if !raw.read_file(&mut scratch) {
        diags.extend(scratch);
        return None;
    }
    if raw.has_section("SynapsePlasticity") {
        return Some(PackageType::Synplas);
    }
    match raw.get("Package", "type") {
        Ok(Some(t)) => match t.to_lowercase().as_str() {
            "sscx" => Some(PackageType::Sscx),
            "thalamus" => Some(PackageType::Thalamus),
            "synplas" => Some(PackageType::Synplas),
            other => {
                diags.push(Diagnostic::error(
                    "unknown-package-type",
                    path,
                    raw.pos("Package", "type"),
                    format!("[Package] type `{other}` is none of sscx, thalamus, synplas"),
                ));
                None
            }
        },
        _ => {
            diags.push(Diagnostic::error(
                "missing-key",
                path,
                None,
                "no `[Package] type` (and no `[SynapsePlasticity]`): EModelRunner cannot tell the package type",
            ));
            None
        }
    }
}

/// A path option, resolved against the package directory; a missing file is reported at the
/// option. `keep_missing` returns the path anyway (so that the rest can still be checked).
fn path_option(
    ini: &Ini,
    root: &Path,
    section: &str,
    key: &str,
    keep_missing: bool,
    diags: &mut Diagnostics,
) -> Option<PathBuf> {
    let Some(v) = ini.get_or_report(section, key, diags) else {
        if ini.raw(section, key).is_none() {
            diags.push(Diagnostic::error(
                "missing-key",
                &ini.path,
                ini.section_pos(section),
                format!("no `[{section}] {key}`"),
            ));
        }
        return None;
    };
    let p = super::join_clean(root, &v);
    if !p.exists() {
        diags.push(Diagnostic::error(
            "missing-file",
            &ini.path,
            ini.pos(section, key),
            format!(
                "[{section}] {key} names `{v}`, which does not exist (looked for {})",
                p.display()
            ),
        ));
        return keep_missing.then_some(p);
    }
    Some(p)
}

fn read_config(path: &Path, root: &Path, diags: &mut Diagnostics) -> Vec<ConfigCell> {
    let Some(t) = package_type(path, diags) else {
        return Vec::new();
    };
    let mut ini = Ini::new(path);
    ini.set_defaults(&defaults(t));
    if !ini.read_file(diags) {
        return Vec::new();
    }
    if let Some(dir) = ini.get_or_report("Paths", "memodel_dir", diags) {
        let d = root.join(&dir);
        if d.canonicalize().ok() != root.canonicalize().ok() {
            diags.push(Diagnostic::note(
                "memodel-dir",
                path,
                ini.pos("Paths", "memodel_dir"),
                format!("memodel_dir is `{dir}`: paths are still resolved against the package directory, where EModelRunner runs"),
            ));
        }
    }
    let get_f64 = |key: (&str, &str), default: f64, diags: &mut Diagnostics| -> f64 {
        if ini.raw(key.0, key.1).is_none() {
            return default;
        }
        ini.get_f64(key.0, key.1, diags).unwrap_or(default)
    };
    let (celsius, v_init) = if t == PackageType::Synplas {
        for k in ["celsius", "v_init"] {
            if ini.raw("Cell", k).is_none() {
                diags.push(Diagnostic::error(
                    "missing-key",
                    path,
                    None,
                    format!("no `[Cell] {k}` (synplas configs have no default)"),
                ));
            }
        }
        (
            get_f64(("Cell", "celsius"), 34.0, diags),
            get_f64(("Cell", "v_init"), -65.0, diags),
        )
    } else {
        (
            get_f64(("Cell", "celsius"), 34.0, diags),
            get_f64(("Cell", "v_init"), -80.0, diags),
        )
    };
    let (dt, cvode) = if t == PackageType::Synplas {
        // run_synplas / run_pairsim simulate with CVODE; there is no [Sim] section
        (0.025, true)
    } else {
        let dt = get_f64(("Sim", "dt"), 0.025, diags);
        let cvode = ini.get_bool("Sim", "cvode_active", diags).unwrap_or(false);
        (dt, cvode)
    };
    if dt <= 0.0 || !dt.is_finite() {
        diags.push(Diagnostic::error(
            "ini-value",
            path,
            ini.pos("Sim", "dt"),
            format!("dt = {dt} is not a positive time step"),
        ));
    }
    let do_replace_axon = ini
        .get_bool("Morphology", "do_replace_axon", diags)
        .unwrap_or(true);
    let apical_point_isec = if t == PackageType::Synplas {
        None
    } else {
        match ini.get_i64("Protocol", "apical_point_isec", diags) {
            Some(-1) | None => None,
            Some(i) if i >= 0 => Some(i as u32),
            Some(i) => {
                diags.push(Diagnostic::error(
                    "ini-value",
                    path,
                    ini.pos("Protocol", "apical_point_isec"),
                    format!("apical_point_isec = {i}: a section index or -1 expected"),
                ));
                None
            }
        }
    };
    let final_path = path_option(&ini, root, "Paths", "params_path", false, diags);
    let features_path = if t == PackageType::Synplas {
        None
    } else {
        path_option(&ini, root, "Paths", "features_path", false, diags)
    };
    let prot_path = if t == PackageType::Synplas {
        if let Some(p) = ini.raw("Paths", "stimuli_path") {
            diags.push(Diagnostic::note(
                "out-of-scope",
                path,
                p.pos,
                "synaptic-plasticity stimulation (stimuli_path, spiketrain_path, synapses) is out of scope: the two cells are read as current-clamp cells without protocols",
            ));
        }
        None
    } else {
        path_option(&ini, root, "Paths", "prot_path", false, diags)
    };
    if t != PackageType::Synplas && ini.get_bool("Synapses", "add_synapses", diags) == Some(true) {
        diags.push(Diagnostic::note(
            "out-of-scope",
            path,
            ini.pos("Synapses", "add_synapses"),
            "add_synapses = True: synapses are out of scope; the cell is built without them",
        ));
    }
    let cells: Vec<(&str, &str, &str)> = if t == PackageType::Synplas {
        vec![
            ("emodel", "morph_path", "unoptimized_params_path"),
            (
                "precell_emodel",
                "precell_morph_path",
                "precell_unoptimized_params_path",
            ),
        ]
    } else {
        vec![("emodel", "morph_path", "unoptimized_params_path")]
    };
    let mut out = Vec::new();
    for (name_key, morph_key, params_key) in cells {
        let name = ini.get_or_report("Cell", name_key, diags);
        if name.is_none() && ini.raw("Cell", name_key).is_none() {
            diags.push(Diagnostic::error(
                "missing-key",
                path,
                None,
                format!("no `[Cell] {name_key}`"),
            ));
        }
        if name.as_deref() == Some("") {
            diags.push(Diagnostic::error(
                "ini-value",
                path,
                ini.pos("Cell", name_key),
                format!("`[Cell] {name_key}` is empty"),
            ));
        }
        let morph = path_option(&ini, root, "Paths", morph_key, true, diags);
        let params = path_option(&ini, root, "Paths", params_key, false, diags);
        let (Some(name), Some(morph), Some(params)) = (name, morph, params) else {
            continue;
        };
        out.push(ConfigCell {
            settings: CellSettings {
                name,
                package_type: t,
                morph,
                params,
                final_path: final_path.clone(),
                do_replace_axon,
                celsius,
                v_init,
                dt,
                cvode,
                features: features_path.clone(),
                apical_point_isec,
            },
            config: path.to_path_buf(),
            name_pos: ini.pos("Cell", name_key),
            protocols: prot_path.clone(),
        });
    }
    out
}

/// One cell and the configs (with their protocol files) that describe it.
struct Group {
    settings: CellSettings,
    configs: Vec<PathBuf>,
    protocols: Vec<(PathBuf, Vec<PathBuf>)>,
    name_origin: Origin,
}

/// Read every e-model of the EModelRunner package in `root`.
pub(crate) fn read(root: &Path, diags: &mut Diagnostics) -> Vec<EModel> {
    let configs = config_files(root);
    let mut groups: Vec<Group> = Vec::new();
    for cfg in &configs {
        for cell in read_config(cfg, root, diags) {
            let g = match groups.iter_mut().position(|g| g.settings == cell.settings) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(Group {
                        settings: cell.settings.clone(),
                        configs: Vec::new(),
                        protocols: Vec::new(),
                        name_origin: Origin::new(&cell.config, cell.name_pos),
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            g.configs.push(cell.config.clone());
            if let Some(p) = cell.protocols {
                match g.protocols.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, cfgs)) => cfgs.push(cell.config.clone()),
                    None => g.protocols.push((p, vec![cell.config.clone()])),
                }
            }
        }
    }

    // files read once per package, whatever the number of e-models using them
    let mut jsons: BTreeMap<PathBuf, Option<JsonFile>> = BTreeMap::new();
    let mut load = |p: &Path, diags: &mut Diagnostics| -> Option<JsonFile> {
        jsons
            .entry(p.to_path_buf())
            .or_insert_with(|| JsonFile::read(p, diags))
            .clone()
    };
    let mut defs: BTreeMap<PathBuf, ParamsDef> = BTreeMap::new();
    let mut sets: BTreeMap<(PathBuf, Option<u32>, PackageType), ProtocolSet> = BTreeMap::new();

    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let s = &g.settings;
        let same_name = groups.iter().filter(|o| o.settings.name == s.name).count();
        let variant = (same_name > 1).then(|| {
            g.configs[0]
                .file_stem()
                .map_or_else(|| format!("{i}"), |x| x.to_string_lossy().into_owned())
        });
        if same_name > 1 && groups.iter().position(|o| o.settings.name == s.name) == Some(i) {
            diags.push(g.name_origin.note(
                "several-cells",
                format!("configs describe e-model `{}` with different settings: each becomes its own e-model", s.name),
            ));
        }
        let mut sources = g.configs.clone();

        let def = match defs.get(&s.params) {
            Some(d) => d.clone(),
            None => {
                let d = load(&s.params, diags)
                    .map(|f| params::read_legacy_dict(&f, &LocationRules::EModelRunner, diags))
                    .unwrap_or_default();
                defs.insert(s.params.clone(), d.clone());
                d
            }
        };
        sources.push(s.params.clone());
        let mut parameters = def.parameters;
        // EModelRunner forces v_init and celsius to the config's values
        for p in parameters.iter_mut() {
            if !matches!(p.target, ParamTarget::Global) {
                continue;
            }
            let forced = match p.name.as_str() {
                "v_init" => s.v_init,
                "celsius" => s.celsius,
                _ => continue,
            };
            if p.value.value().map(PyNum::to_f64) != Some(forced) {
                diags.push(p.origin.note(
                    "config-override",
                    format!(
                            "`{}` = {} here; the config's {} is used, as EModelRunner does",
                            p.name,
                            p.value
                                .value()
                                .map_or("free".to_string(), |v| v.to_string()),
                            forced
                        ),
                ));
            }
            p.value = ParamValue::Fixed(PyNum::Float(forced));
        }

        let mut final_values = None;
        let has_free = parameters
            .iter()
            .any(|p| matches!(p.value, ParamValue::Free { .. }));
        if let (true, Some(fp)) = (has_free, &s.final_path) {
            if let Some(f) = load(fp, diags) {
                if let Some(fin) = params::read_final(&f, &s.name, FinalLookup::Exact, diags) {
                    params::apply_final(&mut parameters, &fin, diags);
                    final_values = Some(fin.origin);
                }
            }
            sources.push(fp.clone());
        }

        let mut protocol_sets = Vec::new();
        for (p, cfgs) in &g.protocols {
            let key = (p.clone(), s.apical_point_isec, s.package_type);
            if !sets.contains_key(&key) {
                let set = match load(p, diags) {
                    Some(f) => {
                        protocols::read_emodelrunner(&f, s.package_type, s.apical_point_isec, diags)
                    }
                    None => ProtocolSet {
                        file: p.clone(),
                        configs: Vec::new(),
                        protocols: Vec::new(),
                        main: None,
                    },
                };
                sets.insert(key.clone(), set);
            }
            let mut set = sets[&key].clone();
            set.configs = cfgs.clone();
            sources.push(p.clone());
            protocol_sets.push(set);
        }

        let mut feats = Vec::new();
        if let Some(fp) = &s.features {
            sources.push(fp.clone());
            if let Some(f) = load(fp, diags) {
                // only step protocols have a stimulus start (EModelRunner's `stim_start`)
                let timed = |name: &str| {
                    protocol_sets
                        .iter()
                        .flat_map(|s| s.protocols.iter())
                        .any(|p| {
                            p.name == name
                                && matches!(
                                    p.stimulus,
                                    Stimulus::Step { .. } | Stimulus::StepThreshold { .. }
                                )
                        })
                };
                feats = features::read_emodelrunner(&f, &timed, diags);
            }
        }

        for set in protocol_sets.iter_mut() {
            if let Some(main) = set.main.as_mut() {
                link_main_features(main, &feats, s.features.is_some(), diags);
            }
        }

        let axon = match s.package_type {
            _ if !s.do_replace_axon => AxonReplacement::None,
            PackageType::Sscx | PackageType::Synplas => AxonReplacement::SscxMyelin,
            PackageType::Thalamus => AxonReplacement::Thalamus,
        };
        if s.cvode {
            diags.push(g.name_origin.note(
                "variable-step",
                format!("EModelRunner would run `{}` with CVODE (variable steps); emsweep runs fixed steps of {} ms", s.name, s.dt),
            ));
        }
        sources.push(s.morph.clone());
        let mut em = EModel {
            name: s.name.clone(),
            variant,
            package_dir: root.to_path_buf(),
            dialect: Dialect::EModelRunner(s.package_type),
            source_files: Vec::new(),
            morphology: s.morph.clone(),
            axon,
            celsius: s.celsius,
            v_init_mv: s.v_init,
            dt_ms: s.dt,
            authors_cvode: s.cvode,
            mechanisms: def.mechanisms,
            distributions: def.distributions,
            parameters,
            final_values,
            protocol_sets,
            features: feats,
            apical_point_isec: s.apical_point_isec,
            mechanism_dir: None,
            mod_files: Vec::new(),
        };
        let mut seen = Vec::new();
        for p in sources {
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
        em.source_files = seen;
        finish_emodel(&mut em, &root.join("mechanisms"), diags);
        out.push(em);
    }
    out
}

/// The features a main protocol reads (`set_sscx_main_protocol_efeatures`,
/// `set_thalamus_main_protocol_efeatures`): the resting potential, the input resistances, and
/// the holding searches' target voltages. A missing one is an error (EModelRunner fails).
fn link_main_features(
    main: &mut super::model::MainProtocol,
    feats: &[Feature],
    have_file: bool,
    diags: &mut Diagnostics,
) {
    if !have_file {
        return;
    }
    let find = |protocol: &str, efel: &str| {
        feats
            .iter()
            .find(|f| f.protocol == protocol && f.recording == "soma.v" && f.efel_name == efel)
    };
    let mut needed = vec![(main.rmp_protocol.clone(), main.rmp_feature.clone())];
    for s in main.searches.iter_mut() {
        needed.push((
            s.rin_protocol.clone(),
            "ohmic_input_resistance_vb_ssse".into(),
        ));
        needed.push((s.rin_protocol.clone(), "voltage_base".into()));
        s.target_voltage_mv = find(&s.rin_protocol, "voltage_base").map(|f| f.mean);
    }
    for (p, f) in needed {
        if find(&p, &f).is_none() {
            diags.push(main.origin.error(
                "missing-feature",
                format!("the `Main` protocol needs feature `{p}.soma.v.{f}`, which the feature file lacks"),
            ));
        }
    }
}
