//! Shards: `--shard K/N` runs the K-th of N contiguous ranges of a sweep's lanes (in e-model
//! order, then lane order), and `emsweep merge OUT SHARD_DIRS...` joins the shards' outputs into
//! what one unsharded run writes: `traces.h5` (every lane's row from the shard that ran it),
//! `scores.json` and `features.csv` (entries and rows in lane order), `run.json` (lanes,
//! protocol outcomes, searches and failures joined) and `population.csv`. `report.html` is not
//! rebuilt (it needs the evaluations, which the files do not hold whole): the merged run.json
//! says so.
//!
//! A shard's traces.h5 has every lane's row, NaN where another shard ran the lane; its run.json
//! records which lanes it ran ([`Shard`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::output::report::{FEATURES_CSV, SCORES_JSON};
use crate::output::run_report::{
    read_run_json, write_run_json, EModelRun, ProtocolRun, RunReport, RunStatus, Shard,
};
use crate::output::traces::{
    read_traces, Samples, SamplesRef, StoredTrace, TraceBlock, TracesWriter,
};

/// `K/N` (1 ≤ K ≤ N) as (K, N).
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard must be K/N with 1 ≤ K ≤ N (e.g. 2/8), not `{text}`");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The global lanes shard `k` of `n` runs, of `total`: a contiguous range.
pub fn shard_range(k: usize, n: usize, total: usize) -> std::ops::Range<usize> {
    (k - 1) * total / n..k * total / n
}

fn io(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    serde_json::from_str(&text).map_err(|e| io(path, e))
}

/// Writes `text` to `path` atomically.
fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    crate::output::atomic::write(path, text.as_bytes()).map_err(|e| e.to_string())
}

/// One shard's output folder, read.
struct ShardOut {
    dir: PathBuf,
    run: RunReport,
    shard: Shard,
}

/// Whether shard `s` ran lane `lane` of e-model `label`.
fn owns(s: &Shard, label: &str, lane: usize) -> bool {
    s.ranges
        .iter()
        .any(|r| r.emodel == label && (r.first..r.end).contains(&lane))
}

/// The protocols of one e-model over every shard: ran where any shard ran them, failed lanes
/// joined, the status taken again over all lanes run.
fn merge_protocols(runs: &[&EModelRun]) -> Vec<ProtocolRun> {
    let mut out: Vec<ProtocolRun> = runs[0].protocols.clone();
    for (q, p) in out.iter_mut().enumerate() {
        let all: Vec<&ProtocolRun> = runs.iter().filter_map(|r| r.protocols.get(q)).collect();
        let ran: Vec<&&ProtocolRun> = all
            .iter()
            .filter(|x| x.status != RunStatus::Skipped)
            .collect();
        let Some(first) = ran.iter().find(|x| x.samples > 0).or(ran.first()) else {
            continue;
        };
        *p = (**first).clone();
        p.failed_lanes = ran
            .iter()
            .flat_map(|x| x.failed_lanes.iter().copied())
            .collect();
        p.failed_lanes.sort_unstable();
        p.wall_s = ran.iter().map(|x| x.wall_s).sum();
        let any_ok = ran
            .iter()
            .any(|x| matches!(x.status, RunStatus::Ok | RunStatus::Partial));
        let any_bad = ran
            .iter()
            .any(|x| matches!(x.status, RunStatus::Failed | RunStatus::Partial));
        p.status = match (any_ok, any_bad) {
            (true, false) => RunStatus::Ok,
            (true, true) => RunStatus::Partial,
            (false, _) => RunStatus::Failed,
        };
        if p.status == RunStatus::Ok {
            p.note = None;
        }
    }
    out
}

/// The run reports of the shards as one.
fn merge_runs(shards: &[ShardOut]) -> RunReport {
    let mut run = shards[0].run.clone();
    run.shard = None;
    run.emodels.clear();
    run.failures.clear();
    run.settings.insert(
        "merged_from".into(),
        shards
            .iter()
            .map(|s| s.dir.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    run.settings.insert(
        "report_html".into(),
        "not rebuilt by emsweep merge: see each shard's report.html".into(),
    );
    for t in run.timings_s.values_mut() {
        *t = 0.0;
    }
    for s in shards {
        for (k, v) in &s.run.timings_s {
            *run.timings_s.entry(k.clone()).or_default() += v;
        }
        run.failures.extend(s.run.failures.iter().cloned());
    }
    for (e, first) in shards[0].run.emodels.iter().enumerate() {
        let all: Vec<&EModelRun> = shards.iter().filter_map(|s| s.run.emodels.get(e)).collect();
        let mut m = first.clone();
        m.search = all.iter().find_map(|r| r.search.clone());
        m.lane_searches = all
            .iter()
            .flat_map(|r| r.lane_searches.iter().cloned())
            .collect();
        m.protocols = merge_protocols(&all);
        run.emodels.push(m);
    }
    run
}

/// Every dataset of the shards as one: each row from the shard that ran its lane.
fn merge_traces(shards: &[ShardOut], out: &Path) -> Result<(), String> {
    let mut by_key: BTreeMap<(String, String, String), Vec<(usize, StoredTrace)>> = BTreeMap::new();
    for (k, s) in shards.iter().enumerate() {
        let path = s.dir.join("traces.h5");
        if !path.exists() {
            continue;
        }
        for t in read_traces(&path).map_err(|e| e.to_string())? {
            by_key
                .entry((t.emodel.clone(), t.protocol.clone(), t.recording.clone()))
                .or_default()
                .push((k, t));
        }
    }
    if by_key.is_empty() {
        return Ok(());
    }
    let tmp = crate::output::atomic::temporary_path(out);
    let mut w = TracesWriter::create(&tmp).map_err(|e| e.to_string())?;
    for ((emodel, _, _), parts) in by_key {
        let first = &parts[0].1;
        let (lanes, samples) = (first.lanes, first.samples);
        let mut data64 = vec![f64::NAN; lanes * samples];
        let mut data32 = vec![f32::NAN; lanes * samples];
        let is32 = matches!(first.data, Samples::F32(_));
        for (k, t) in &parts {
            if t.lanes != lanes || t.samples != samples {
                return Err(format!(
                    "{}: {}/{}/{} has {}×{} values, another shard {lanes}×{samples}",
                    shards[*k].dir.display(),
                    t.emodel,
                    t.protocol,
                    t.recording,
                    t.lanes,
                    t.samples
                ));
            }
            for lane in (0..lanes).filter(|&l| owns(&shards[*k].shard, &emodel, l)) {
                let rows = lane * samples..(lane + 1) * samples;
                match &t.data {
                    Samples::F64(v) => data64[rows.clone()].copy_from_slice(&v[rows]),
                    Samples::F32(v) => data32[rows.clone()].copy_from_slice(&v[rows]),
                }
            }
        }
        let block = TraceBlock {
            emodel: &first.emodel,
            protocol: &first.protocol,
            recording: &first.recording,
            variable: &first.variable,
            units: &first.units,
            dt_ms: first.dt_ms,
            t0_ms: first.t0_ms,
            lanes,
            samples,
            lane_labels: &first.lane_labels,
            data: if is32 {
                SamplesRef::F32(&data32)
            } else {
                SamplesRef::F64(&data64)
            },
        };
        w.write(&block).map_err(|e| e.to_string())?;
    }
    w.finish().map_err(|e| e.to_string())?;
    crate::output::atomic::commit(out).map_err(|e| e.to_string())
}

/// Joins the outputs of `dirs` (shards of one sweep, any order) into `out`.
pub fn merge(out: &Path, dirs: &[PathBuf]) -> Result<(), String> {
    let mut shards = Vec::new();
    for d in dirs {
        let run = read_run_json(&d.join("run.json")).map_err(|e| e.to_string())?;
        let shard = run
            .shard
            .clone()
            .ok_or_else(|| format!("{}: not the output of a --shard run", d.display()))?;
        shards.push(ShardOut {
            dir: d.clone(),
            run,
            shard,
        });
    }
    shards.sort_by_key(|s| s.shard.index);
    let Some(first) = shards.first() else {
        return Err("merge needs at least one shard folder".into());
    };
    let n = first.shard.count;
    let indices: Vec<usize> = shards.iter().map(|s| s.shard.index).collect();
    if shards.iter().any(|s| s.shard.count != n) || indices != (1..=n).collect::<Vec<_>>() {
        return Err(format!(
            "the folders hold shards {indices:?} of {n}: every shard 1..={n} once is needed"
        ));
    }
    if shards
        .iter()
        .any(|s| s.run.command_key() != first.run.command_key())
    {
        return Err("the shards come from different commands (their run.json differ)".into());
    }
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    merge_traces(&shards, &out.join("traces.h5"))?;
    // scores.json: the shards' entries in shard order (each shard a contiguous range of lanes)
    let mut scores = Map::new();
    let mut csv = String::new();
    for s in &shards {
        if let Value::Object(m) = read_json(&s.dir.join(SCORES_JSON))? {
            scores.extend(m);
        }
        let text = std::fs::read_to_string(s.dir.join(FEATURES_CSV))
            .map_err(|e| io(&s.dir.join(FEATURES_CSV), e))?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        if csv.is_empty() {
            csv.push_str(header);
            csv.push('\n');
        }
        for l in lines {
            csv.push_str(l);
            csv.push('\n');
        }
    }
    let mut scores_text =
        serde_json::to_string_pretty(&Value::Object(scores)).map_err(|e| e.to_string())?;
    scores_text.push('\n');
    write_atomic(&out.join(SCORES_JSON), &scores_text)?;
    write_atomic(&out.join(FEATURES_CSV), &csv)?;
    let population = first.dir.join(super::POPULATION_CSV);
    if population.exists() {
        let text = std::fs::read_to_string(&population).map_err(|e| io(&population, e))?;
        write_atomic(&out.join(super::POPULATION_CSV), &text)?;
    }
    let run = merge_runs(&shards);
    write_run_json(&out.join("run.json"), &run).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_lane_once() {
        for total in [0, 1, 5, 17, 1000] {
            for n in 1..=7 {
                let mut seen = Vec::new();
                for k in 1..=n {
                    seen.extend(shard_range(k, n, total));
                }
                assert_eq!(
                    seen,
                    (0..total).collect::<Vec<_>>(),
                    "{total} lanes, {n} shards"
                );
            }
        }
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        assert!(parse_shard("0/8").is_err());
        assert!(parse_shard("9/8").is_err());
        assert!(parse_shard("1-8").is_err());
    }
}
