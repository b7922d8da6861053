//! How a lane's current search appears in `run.json`: what it found, every step it took, and
//! why its rules apply.

use crate::output::run_report::{CurrentSearchReport, HoldingStep, SearchReport, ThresholdStep};
use crate::package::EModel;
use crate::sweep::search::{CellResult, SearchPlan};

/// The search's findings as `run.json` records them.
pub fn search_report(
    plan: &SearchPlan,
    note: &str,
    cell: &CellResult,
    lane: Option<String>,
) -> SearchReport {
    SearchReport {
        lane,
        rules: plan.rules().name().into(),
        note: note.into(),
        rmp_mv: cell.rmp_mv,
        searches: cell
            .variants
            .iter()
            .map(|v| CurrentSearchReport {
                variant: v.variant.clone(),
                target_voltage_mv: v.target_voltage_mv,
                rin_noholding_mohm: v.rin_noholding_mohm,
                bpo_holding_current: v.holding_na,
                rin_mohm: v.rin_mohm,
                max_threshold_current_na: v.max_threshold_na,
                bpo_threshold_current: v.threshold_na,
                holding_steps: v
                    .holding_steps
                    .iter()
                    .map(|&(current_na, voltage_base_mv)| HoldingStep {
                        current_na,
                        voltage_base_mv,
                    })
                    .collect(),
                threshold_steps: v
                    .threshold_steps
                    .iter()
                    .map(|s| ThresholdStep {
                        current_na: s.current_na,
                        short: s.short,
                        spiked: s.spiked,
                    })
                    .collect(),
                failure: v.failure.clone(),
            })
            .collect(),
        // the lockstep search's totals, filled in when every chunk has run
        simulated_ms: 0.0,
        batches: 0,
        wall_s: 0.0,
    }
}

/// Why the rules of `plan` apply to `em`.
pub fn plan_note(plan: &SearchPlan, em: &EModel) -> String {
    match plan {
        SearchPlan::EModelRunner { .. } => "the package's `Main` protocol (EModelRunner)".into(),
        SearchPlan::BluePyEModel(p) => {
            let own = if em.dialect == crate::package::Dialect::BluePyEModel {
                "BluePyEModel's search protocols"
            } else {
                "no search configured: BluePyEModel's search protocols with the pipeline's defaults"
            };
            if p.holding_feature.is_none() {
                format!("{own}, no holding current (as for a ThresholdBasedNoHoldingProtocol)")
            } else {
                own.to_string()
            }
        }
    }
}
