//! What one fixed step moves through memory and computes on the device, counted from the
//! schedule, the gather/scatter plans and the generated kernels the GPU backend runs: the inputs
//! of a roofline estimate (bytes and floating-point operations per compartment-step). Counts are
//! of the f32 values each thread loads and stores (caches and uniforms ignored) and of the
//! arithmetic operators in the kernels' text (`nm_exp`, `log`, `pow` and the like counted as
//! [`TRANSCENDENTAL_FLOPS`] each; comparisons and selects not counted).

use crate::emit::wgsl;
use crate::engine::{CellModel, Phase, Schedule};
use crate::ir::Hook;

use super::backend::kernel_plans;

/// Operations charged for one transcendental call (`nm_exp` is a 7-term polynomial, a floor, a
/// scale and a few multiply-adds).
pub const TRANSCENDENTAL_FLOPS: f64 = 20.0;

/// Bytes one lane's cable step moves per node (f32): capacitance `d += cfac·cm` (d read and
/// written, cm read: 12), axial terms (v of node and parent, rhs and d of both read and written,
/// a, b, parent index: 52), elimination (a, b, d and rhs of node and parent, parent index: 36),
/// substitution (rhs read and written, b, d, parent's rhs, parent index: 24), `v += dv` (12).
pub const CABLE_BYTES_PER_NODE: f64 = 136.0;

/// Floating-point operations of the cable step per node: 2 (capacitance) + 7 (axial) + 5
/// (elimination) + 3 (substitution) + 1 (update).
pub const CABLE_FLOPS_PER_NODE: f64 = 18.0;

/// One line of the count.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficLine {
    pub what: String,
    /// Per lane and step.
    pub bytes: f64,
    pub flops: f64,
    pub dispatches: usize,
}

/// The count for one step of one lane.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTraffic {
    pub nodes: usize,
    pub lines: Vec<TrafficLine>,
}

impl StepTraffic {
    pub fn bytes(&self) -> f64 {
        self.lines.iter().map(|l| l.bytes).sum()
    }

    pub fn flops(&self) -> f64 {
        self.lines.iter().map(|l| l.flops).sum()
    }

    pub fn dispatches(&self) -> usize {
        self.lines.iter().map(|l| l.dispatches).sum()
    }

    /// Bytes per compartment-step.
    pub fn bytes_per_compartment_step(&self) -> f64 {
        self.bytes() / self.nodes.max(1) as f64
    }

    /// Flops per compartment-step.
    pub fn flops_per_compartment_step(&self) -> f64 {
        self.flops() / self.nodes.max(1) as f64
    }
}

/// Memory accesses (f32) and flops of one element of entry point `hook` in a generated module.
pub fn kernel_counts(source: &str, hook: Hook) -> (f64, f64) {
    let head = format!("fn {}(", hook.name());
    let Some(start) = source.find(&head) else {
        return (0.0, 0.0);
    };
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
    let count = |pat: &str| body.matches(pat).count() as f64;
    let accesses = count("ld(") + count("data[");
    let arithmetic = count(" + ") + count(" - ") + count(" * ") + count(" / ");
    let calls = ["nm_exp(", "log(", "nm_pow(", "nm_log10(", "nm_tanh(", "sqrt("]
        .iter()
        .map(|p| count(p))
        .sum::<f64>()
        // `log(` also matches inside `nm_log10(`
        - count("nm_log10(");
    (accesses, arithmetic + calls * TRANSCENDENTAL_FLOPS)
}

/// The count of `schedule`'s step for `model`, with `clamps` electrode clamps per lane and
/// `probes` probes recorded every step.
pub fn step_traffic(
    model: &CellModel,
    schedule: &Schedule,
    clamps: usize,
    probes: usize,
) -> StepTraffic {
    let n = model.node_count() as f64;
    let plans = kernel_plans(model);
    let sources: Vec<String> = model
        .mechanisms
        .iter()
        .map(|pm| wgsl::emit(&pm.ir).source)
        .collect();
    let mut lines = Vec::new();
    let mut push = |what: String, bytes: f64, flops: f64, dispatches: usize| {
        lines.push(TrafficLine {
            what,
            bytes,
            flops,
            dispatches,
        })
    };
    for phase in &schedule.step {
        match *phase {
            Phase::HalfStep => {}
            Phase::ClearMatrix => push("clear accumulators".into(), 8.0 * n, 0.0, 1),
            Phase::IonCurrents => {
                for s in &model.ions {
                    let adv = s.styles.iter().flatten().filter(|st| st.eadvance).count() as f64;
                    // current cleared; Nernst: node index, inside, outside read, erev written
                    push(
                        format!("ion {}: clear current, Nernst at {adv} nodes", s.name),
                        4.0 * n + 16.0 * adv,
                        adv * (2.0 + TRANSCENDENTAL_FLOPS),
                        1 + usize::from(adv > 0.0),
                    );
                }
            }
            Phase::Current(m) | Phase::State(m) | Phase::Init(m) => {
                let hook = match *phase {
                    Phase::Current(_) => Hook::Current,
                    Phase::State(_) => Hook::State,
                    _ => Hook::Init,
                };
                let pm = &model.mechanisms[m];
                let inst = pm.nodes.len() as f64;
                let plan = &plans[m][super::backend::hook_index(hook)];
                let (acc, flops) = kernel_counts(&sources[m], hook);
                let (g, s) = (plan.gather.len() as f64, plan.scatter.len() as f64);
                // gather/scatter: the instance's node index, then a read and a write per entry
                let moves = (if g > 0.0 { 4.0 + 8.0 * g } else { 0.0 })
                    + (if s > 0.0 { 4.0 + 8.0 * s } else { 0.0 });
                push(
                    format!(
                        "{} {} ({} instances)",
                        pm.suffix,
                        hook.name(),
                        pm.nodes.len()
                    ),
                    inst * (4.0 * acc + moves),
                    inst * flops,
                    1 + usize::from(g > 0.0) + usize::from(s > 0.0),
                );
            }
            Phase::Electrodes => push(
                format!("electrodes ({clamps} clamps)"),
                16.0 + clamps as f64 * 28.0 + 8.0,
                clamps as f64 * 4.0,
                1,
            ),
            Phase::Cable => push(
                "negate currents, cable step".into(),
                8.0 * n + CABLE_BYTES_PER_NODE * n,
                CABLE_FLOPS_PER_NODE * n,
                2,
            ),
            Phase::CheckLanes => push("lane check".into(), 4.0 * n, 0.0, 1),
            Phase::Record => push(
                format!("record {probes} probes"),
                8.0 * probes as f64,
                0.0,
                1,
            ),
            Phase::SetVoltage | Phase::IonInit => {}
        }
    }
    StepTraffic {
        nodes: model.node_count(),
        lines,
    }
}
