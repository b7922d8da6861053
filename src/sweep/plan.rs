//! Planning: which lanes may share a batch, and how many lanes go into one.
//!
//! - **Structure.** Lanes of different e-models (other packages, other parameter sets) share a
//!   batch when their cells have one simulation structure: the same sections (kind, shape,
//!   segments), node tree, membrane areas, mechanisms (by their IR, never by name alone: packages
//!   ship different files under one SUFFIX) on the same nodes, ion species and styles, phase
//!   order and time step. [`structure_key`] spells all of that out as text; lanes group by equal
//!   text (no hash, so no collision can put a lane on the wrong cell).
//! - **Searches.** Lanes whose current searches follow the same plan (the same protocols and
//!   features, wherever the files are) search in lockstep: [`search_signature`].
//! - **Protocols.** A protocol's amplitudes are lane data, so lanes of different protocols share a
//!   batch when they run the same number of steps and record the same probes:
//!   [`batch_key`].
//! - **Sizes.** A chunk of lanes is searched, simulated, evaluated and written before the next
//!   one starts; its size comes from the memory the host has ([`chunk_lanes`]).

use std::fmt::Write;

use crate::engine::{CellModel, Probe};
use crate::sweep::search::SearchPlan;

/// The structure of `model` at time step `dt_ms` as text: equal texts, one structure.
pub fn structure_key(model: &CellModel, dt_ms: f64) -> String {
    let mut k = String::new();
    let _ = writeln!(k, "dt_ms {:?}", dt_ms.to_bits());
    for s in &model.cell().morphology.sections {
        let _ = writeln!(
            k,
            "section {:?} {} {:?} {} {:?}",
            s.kind, s.index, s.parent, s.nseg, s.shape
        );
    }
    let _ = writeln!(k, "parents {:?}", model.parents);
    let area: Vec<u64> = model.area_um2.iter().map(|a| a.to_bits()).collect();
    let _ = writeln!(k, "area {area:?}");
    let _ = writeln!(k, "node_segment {:?}", model.node_segment);
    let _ = writeln!(k, "segment_node {:?}", model.segment_node);
    let _ = writeln!(k, "soma {:?}", model.soma_node);
    for m in &model.mechanisms {
        let _ = writeln!(
            k,
            "mechanism {} nodes {:?} segments {:?} ions {:?} writes_conc {}\n{}",
            m.suffix,
            m.nodes,
            m.segments,
            m.ion_index,
            m.writes_concentration,
            crate::ir::dump::dump(&m.ir)
        );
    }
    for s in &model.ions {
        let _ = writeln!(
            k,
            "ion {} {:?} {:?} {:?}",
            s.name,
            s.valence.to_bits(),
            s.defaults,
            s.styles
        );
    }
    let _ = writeln!(k, "order {:?}", model.order);
    let _ = writeln!(k, "section_mechanisms {:?}", model.section_mechanisms);
    k
}

/// `text` without every `Origin { ... }` block (where a value was read), skipping quoted
/// strings, so that two plans read from different files compare by what they say.
fn without_origins(text: &str) -> String {
    const OPEN: &str = "Origin {";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut end = rest.len();
        for (j, c) in rest[i..].char_indices() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push_str("Origin");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// What a search plan does, without where it was read from: equal signatures search alike.
pub fn search_signature(plan: &SearchPlan) -> String {
    without_origins(&format!("{plan:?}"))
}

/// Lanes with equal keys run in one batch: the same number of steps and the same probes.
pub fn batch_key(steps: usize, probes: &[Probe]) -> String {
    format!("{steps} {probes:?}")
}

/// Bytes one lane of `model` holds while a chunk is in flight: its parameter values and
/// simulation state (twice: values and the backend's copy), and `samples` recorded values per
/// lane over all its protocols (twice: the backend's result and the evaluation's copy).
pub fn lane_bytes(model: &CellModel, samples: usize) -> usize {
    let fields: usize = model
        .mechanisms
        .iter()
        .map(|m| m.ir.fields.len() * m.nodes.len())
        .sum();
    let nodes = model.node_count() * (4 + 3 * model.ions.len());
    2 * 8 * (fields + nodes) + 2 * 8 * samples
}

/// The memory a chunk may use [bytes]: a quarter of what the host has available (Linux
/// `MemAvailable`), between 256 MiB and 4 GiB; 1 GiB where it cannot be read.
pub fn memory_budget_bytes() -> usize {
    const MIB: usize = 1 << 20;
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map(|kb| kb * 1024);
    available.map_or(1024 * MIB, |a| (a / 4).clamp(256 * MIB, 4096 * MIB))
}

/// Lanes per chunk: as many as `budget_bytes` holds at `lane_bytes` each, at most
/// `max_lanes`, at least one.
pub fn chunk_lanes(lane_bytes: usize, budget_bytes: usize, max_lanes: usize) -> usize {
    (budget_bytes / lane_bytes.max(1)).clamp(1, max_lanes.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_left_out_but_nothing_else() {
        let a = r#"P { name: "x", origin: Origin { file: "a/b{.json", pos: Some(LineCol { line: 3, col: 4 }) }, amp: 1.0 }"#;
        let b = r#"P { name: "x", origin: Origin { file: "c.json", pos: None }, amp: 1.0 }"#;
        let c = r#"P { name: "x", origin: Origin { file: "c.json", pos: None }, amp: 2.0 }"#;
        assert_eq!(without_origins(a), without_origins(b));
        assert_ne!(without_origins(b), without_origins(c));
        assert_eq!(
            without_origins(a),
            r#"P { name: "x", origin: Origin, amp: 1.0 }"#
        );
    }

    #[test]
    fn chunks_fit_the_budget() {
        assert_eq!(chunk_lanes(100, 1000, 64), 10);
        assert_eq!(chunk_lanes(100, 100_000, 64), 64);
        assert_eq!(chunk_lanes(10_000, 100, 64), 1);
    }
}
