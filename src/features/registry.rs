//! The table from eFEL feature names to the functions computing them.

use super::context::FeatureContext;
use super::spike_event as se;
use super::spike_shape as ss;
use super::subthreshold as st;

/// A feature: `None` where eFEL gives no value.
pub(crate) type FeatureFn = fn(&FeatureContext) -> Option<Vec<f64>>;

/// Every feature emsweep computes: first those the real packages use (spec/FEATURES.md order),
/// then the intermediate features they are built from.
const TABLE: &[(&str, FeatureFn)] = &[
    ("voltage_base", st::voltage_base),
    ("AP_amplitude", ss::AP_amplitude),
    ("AHP_depth", ss::AHP_depth),
    ("inv_first_ISI", se::inv_first_ISI),
    ("inv_second_ISI", se::inv_second_ISI),
    ("mean_frequency", se::mean_frequency),
    ("inv_third_ISI", se::inv_third_ISI),
    ("inv_fourth_ISI", se::inv_fourth_ISI),
    ("inv_fifth_ISI", se::inv_fifth_ISI),
    ("inv_last_ISI", se::inv_last_ISI),
    ("voltage_after_stim", st::voltage_after_stim),
    ("inv_time_to_first_spike", se::inv_time_to_first_spike),
    ("time_to_last_spike", se::time_to_last_spike),
    ("APlast_amp", ss::APlast_amp),
    (
        "maximum_voltage_from_voltagebase",
        st::maximum_voltage_from_voltagebase,
    ),
    ("Spikecount", se::Spikecount),
    ("AP_duration_half_width", ss::AP_duration_half_width),
    (
        "ohmic_input_resistance_vb_ssse",
        st::ohmic_input_resistance_vb_ssse,
    ),
    ("burst_number", se::burst_number),
    ("AP1_amp", ss::AP1_amp),
    ("voltage_deflection", st::voltage_deflection),
    ("voltage_deflection_begin", st::voltage_deflection_begin),
    ("time_to_first_spike", se::time_to_first_spike),
    ("ISI_CV", se::ISI_CV),
    ("AP2_amp", ss::AP2_amp),
    ("time_to_second_spike", se::time_to_second_spike),
    (
        "decay_time_constant_after_stim",
        st::decay_time_constant_after_stim,
    ),
    ("adaptation_index2", se::adaptation_index2),
    ("AHP_depth_abs", ss::AHP_depth_abs),
    (
        "steady_state_voltage_stimend",
        st::steady_state_voltage_stimend,
    ),
    ("depol_block_bool", se::depol_block_bool),
    ("Spikecount_stimint", se::Spikecount_stimint),
    ("spike_count", se::spike_count),
    ("AHP_time_from_peak", ss::AHP_time_from_peak),
    ("min_AHP_values", ss::min_AHP_values),
    ("AP_width", ss::AP_width),
    ("AP_height", ss::AP_height),
    ("AHP_slow_time", ss::AHP_slow_time),
    ("doublet_ISI", se::doublet_ISI),
    ("AHP_depth_abs_slow", ss::AHP_depth_abs_slow),
    (
        "AP_amplitude_from_voltagebase",
        ss::AP_amplitude_from_voltagebase,
    ),
    ("sag_amplitude", st::sag_amplitude),
    ("spike_count_stimint", se::spike_count_stimint),
    // intermediates
    ("peak_indices", se::peak_indices),
    ("peak_time", se::peak_time),
    ("peak_voltage", ss::peak_voltage),
    ("all_ISI_values", se::all_ISI_values),
    ("ISI_values", se::ISI_values),
    ("inv_ISI_values", se::inv_ISI_values),
    ("min_AHP_indices", ss::min_AHP_indices),
    ("AP_begin_indices", ss::AP_begin_indices),
    ("AP_begin_voltage", ss::AP_begin_voltage),
    ("AP_end_indices", ss::AP_end_indices),
    ("AP_rise_indices", ss::AP_rise_indices),
    ("AP_fall_indices", ss::AP_fall_indices),
    ("maximum_voltage", st::maximum_voltage),
    ("minimum_voltage", st::minimum_voltage),
    ("voltage_deflection_vb_ssse", st::voltage_deflection_vb_ssse),
    ("burst_ISI_indices", se::burst_ISI_indices),
    ("burst_mean_freq", se::burst_mean_freq),
    ("depol_block", se::depol_block),
];

/// The function of feature `name`, if emsweep computes it.
pub(crate) fn lookup(name: &str) -> Option<FeatureFn> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The names of every feature emsweep computes, in a fixed order.
pub fn feature_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = feature_names().collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
