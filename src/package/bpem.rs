//! BluePyEModel's example layout (`config/recipes.json`): one e-model per recipe, read as
//! BluePyEModel's local access point reads it (recipe paths relative to the package directory,
//! `final.json` beside the recipes' package, the pipeline settings' eFEL settings and morphology
//! modifiers).

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics};
use crate::morph::AxonReplacement;

use super::fields::Fields;
use super::json::{Json, JsonFile};
use super::model::{Dialect, EModel, Origin, ParamTarget};
use super::params::{self, FinalLookup, LocationRules};
use super::{features, finish_emodel, globals_of, protocols};

pub(crate) const RECIPES: &str = "config/recipes.json";

const MORPH_EXTENSIONS: [&str; 4] = [".asc", ".swc", ".ASC", ".SWC"];

/// Read every recipe of the package in `root`.
pub(crate) fn read(root: &Path, diags: &mut Diagnostics) -> Vec<EModel> {
    let recipes_path = root.join(RECIPES);
    let Some(recipes) = JsonFile::read(&recipes_path, diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let members = {
        let mut f = Fields::new(&recipes, diags);
        f.object(&recipes.root, "the recipes")
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    };
    for m in &members {
        if let Some(em) = read_recipe(root, &recipes, &m.key, &m.value, diags) {
            out.push(em);
        }
    }
    out
}

fn read_recipe(
    root: &Path,
    recipes: &JsonFile,
    name: &str,
    recipe: &Json,
    diags: &mut Diagnostics,
) -> Option<EModel> {
    let mut f = Fields::new(recipes, diags);
    let ctx = format!("recipe `{name}`");
    f.object(recipe, &ctx)?;
    let rel = |f: &mut Fields, key: &str| -> Option<(PathBuf, Origin)> {
        let v = f.req(recipe, key, &ctx)?;
        let s = f.string(v, &format!("`{key}`"))?;
        let p = super::join_clean(root, s);
        let origin = f.origin(v);
        if !p.exists() {
            f.error(
                v,
                "missing-file",
                format!(
                    "`{key}` names `{s}`, which does not exist (looked for {})",
                    p.display()
                ),
            );
            return None;
        }
        Some((p, origin))
    };

    // morphology: <morph_path or "morphology">/<the first supported file of `morphology`>
    let morph_dir = match recipe.get("morph_path") {
        Some(v) => super::join_clean(root, f.string(v, "`morph_path`").unwrap_or("morphology")),
        None => root.join("morphology"),
    };
    let morph_file = match recipe.get("morphology") {
        Some(v) if v.as_str().is_some() => v.as_str().map(str::to_string),
        Some(v) => f
            .array(v, "`morphology`")
            .unwrap_or(&[])
            .iter()
            .filter_map(|pair| pair.items().and_then(|p| p.get(1)).and_then(Json::as_str))
            .find(|file| MORPH_EXTENSIONS.iter().any(|e| file.ends_with(e)))
            .map(str::to_string),
        None => {
            f.error(recipe, "missing-key", format!("{ctx} has no `morphology`"));
            None
        }
    };
    let morphology = match morph_file {
        Some(file) => {
            let p = morph_dir.join(&file);
            if !p.is_file() {
                f.error(
                    recipe.get("morphology").unwrap_or(recipe),
                    "missing-file",
                    format!("morphology `{}` does not exist", p.display()),
                );
                None
            } else {
                Some(p)
            }
        }
        None => {
            f.error(
                recipe.get("morphology").unwrap_or(recipe),
                "missing-file",
                format!("{ctx}: no .asc or .swc morphology file named"),
            );
            None
        }
    };

    // `parameters` takes precedence over `params`
    let params_key = if recipe.get("parameters").is_some() {
        "parameters"
    } else {
        "params"
    };
    let params_file = rel(&mut f, params_key);
    let features_file = rel(&mut f, "features");
    let settings = match recipe.get("pipeline_settings") {
        Some(s) if s.as_str().is_some() => {
            f.warning(
                s,
                "unsupported",
                "pipeline settings in a separate file are not read; defaults are used",
            );
            None
        }
        other => other,
    };
    let setting = |key: &str| settings.and_then(|s| s.get(key));
    let multiloc: Vec<(String, Vec<String>)> = match recipe.get("multiloc_map") {
        Some(mm) if !mm.is_null() => f
            .object(mm, "`multiloc_map`")
            .unwrap_or(&[])
            .iter()
            .map(|m| {
                let names = f.strings(&m.value, &format!("`multiloc_map.{}`", m.key));
                (m.key.clone(), names)
            })
            .collect(),
        _ => Vec::new(),
    };
    let modifiers = setting("morph_modifiers").or_else(|| recipe.get("morph_modifiers"));
    let axon = match modifiers {
        None => AxonReplacement::SscxMyelin,
        Some(v) if v.is_null() => AxonReplacement::SscxMyelin,
        Some(v) => {
            let names: Option<Vec<Option<&str>>> = match v.items() {
                Some(items) => Some(
                    items
                        .iter()
                        .map(|i| if i.is_null() { None } else { i.as_str() })
                        .collect(),
                ),
                None => v.as_str().map(|s| vec![Some(s)]),
            };
            match names.as_deref() {
                Some([]) => AxonReplacement::None,
                Some([None]) | Some([Some("replace_axon_with_taper")]) => {
                    AxonReplacement::SscxMyelin
                }
                Some([Some("bluepyopt_replace_axon")]) => AxonReplacement::BluePyOpt,
                _ => {
                    f.error(v, "unsupported", "morphology modifiers other than replace_axon_with_taper and bluepyopt_replace_axon are not supported");
                    AxonReplacement::None
                }
            }
        }
    };
    let neuron_dt = setting("neuron_dt").and_then(Json::as_f64);
    let global_settings = features::bluepyemodel_global_settings(&mut f, setting("efel_settings"));
    if recipe.get("final").is_some() {
        f.warning(
            recipe.get("final").unwrap_or(recipe),
            "unsupported",
            "final values from an `EM_*.json` recipe entry are not read; `final.json` is used",
        );
    }
    let recipe_origin = f.origin_at(recipe.span.start);

    let (params_file, _) = params_file?;
    let params_json = JsonFile::read(&params_file, diags)?;
    let rules = LocationRules::BluePyEModel { extra: multiloc };
    let mut def = if params_json
        .root
        .get("mechanisms")
        .is_some_and(|m| m.members().is_some())
    {
        params::read_legacy_dict(&params_json, &rules, diags)
    } else {
        params::read_bluepyemodel_config(&params_json, &rules, diags)
    };
    params::apply_bluepyemodel_rules(&mut def, diags);
    let mut sources = vec![recipes.path.clone(), params_file.clone()];

    let mut parameters = def.parameters;
    let final_path = root.join("final.json");
    let mut final_values = None;
    if final_path.is_file()
        && parameters
            .iter()
            .any(|p| matches!(p.value, super::model::ParamValue::Free { .. }))
    {
        {
            if let Some(file) = JsonFile::read(&final_path, diags) {
                if let Some(fin) = params::read_final(&file, name, FinalLookup::BluePyEModel, diags)
                {
                    params::apply_final(&mut parameters, &fin, diags);
                    final_values = Some(fin.origin);
                }
            }
            sources.push(final_path);
        }
    }

    let mut protocol_sets = Vec::new();
    let mut feats = Vec::new();
    if let Some((fp, forigin)) = features_file {
        sources.push(fp.clone());
        if let Some(file) = JsonFile::read(&fp, diags) {
            let root_json = &file.root;
            if root_json.get("efeatures").is_none() && root_json.get("protocols").is_none() {
                diags.push(forigin.error("unsupported", "a legacy feature file (without `efeatures` and `protocols`) in a BluePyEModel recipe is not supported"));
            } else {
                if let Some(list) = root_json.get("protocols") {
                    let mut set = protocols::read_bluepyemodel(&file, list, diags);
                    set.configs = vec![recipes.path.clone()];
                    protocol_sets.push(set);
                }
                if let Some(list) = root_json.get("efeatures") {
                    feats = features::read_bluepyemodel(&file, list, &global_settings, diags);
                }
            }
        }
    }

    let (celsius, v_init) = globals_of(&parameters, &recipe_origin, diags);
    let dt_ms = match neuron_dt {
        Some(dt) => dt,
        None => {
            diags.push(recipe_origin.note(
                "variable-step",
                format!("BluePyEModel would run `{name}` with CVODE (no `neuron_dt` in the pipeline settings); emsweep runs fixed steps of 0.025 ms"),
            ));
            0.025
        }
    };
    let morphology = morphology?;
    sources.push(morphology.clone());
    let mut em = EModel {
        name: name.to_string(),
        variant: None,
        package_dir: root.to_path_buf(),
        dialect: Dialect::BluePyEModel,
        source_files: sources,
        morphology,
        axon,
        celsius,
        v_init_mv: v_init,
        dt_ms,
        authors_cvode: neuron_dt.is_none(),
        mechanisms: def.mechanisms,
        distributions: def.distributions,
        parameters,
        final_values,
        protocol_sets,
        features: feats,
        apical_point_isec: None,
        mechanism_dir: None,
        mod_files: Vec::new(),
    };
    if em.parameters.iter().any(
        |p| matches!(&p.target, ParamTarget::Range { distribution, .. } if distribution == "step"),
    ) {
        diags.push(Diagnostic::warning(
            "unsupported",
            &params_file,
            None,
            "the `step` distribution needs the apical hotspot of the morphology (BluePyEModel's get_hotspot_location), which emsweep does not compute",
        ));
    }
    finish_emodel(&mut em, &root.join("mechanisms"), diags);
    Some(em)
}
