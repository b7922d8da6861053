//! The trace a feature is computed on and the eFEL settings that change feature values.

use super::FeatureError;

/// One recorded trace and its stimulus window, as eFEL takes it (`T`, `V`, `stim_start`,
/// `stim_end`). `v_mv` may hold any recorded variable (a concentration too); features name it
/// "voltage" as eFEL does.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'a> {
    /// Sample times [ms], non-decreasing.
    pub t_ms: &'a [f64],
    /// Samples at those times [mV].
    pub v_mv: &'a [f64],
    /// Start of the stimulus window [ms] (a step's delay).
    pub stim_start_ms: f64,
    /// End of the stimulus window [ms] (delay + duration; the whole trace for bAP protocols).
    pub stim_end_ms: f64,
}

/// How `voltage_base` summarises the samples before the stimulus (eFEL `voltage_base_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseMode {
    Mean,
    Median,
}

/// The eFEL settings that change the values of the features emsweep computes, with eFEL 5.7's
/// names in the docs. `Default` gives eFEL's defaults; [`Settings::emodelrunner`] the settings
/// EModelRunner scores its packages with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `Threshold` [mV]: a spike is an excursion above this value. eFEL default −20.
    pub threshold_mv: f64,
    /// `DerivativeThreshold` [mV/ms]: dV/dt above which an action potential has begun. Default 10.
    pub derivative_threshold_mv_per_ms: f64,
    /// `DownDerivativeThreshold` [mV/ms]: dV/dt the repolarisation must climb back above for an
    /// action potential to have ended. Default −12.
    pub down_derivative_threshold_mv_per_ms: f64,
    /// `DerivativeWindow` [samples]: how many consecutive samples dV/dt must stay above
    /// `derivative_threshold_mv_per_ms` at an AP's beginning. Default 3.
    pub derivative_window: usize,
    /// `interp_step` [ms]: the trace is resampled to this uniform step first. Default 0.1.
    pub interp_step_ms: f64,
    /// `strict_stiminterval`: only spikes whose peak lies inside the stimulus window count.
    /// Default false.
    pub strict_stiminterval: bool,
    /// `voltage_base_start_perc`: `voltage_base` averages from this fraction of `stim_start`.
    /// Default 0.9.
    pub voltage_base_start_perc: f64,
    /// `voltage_base_end_perc`: ... up to this fraction of `stim_start`. Default 1.0.
    pub voltage_base_end_perc: f64,
    /// `voltage_base_mode`. Default mean.
    pub voltage_base_mode: BaseMode,
    /// `precision_threshold` [ms]: slack on the end time of `voltage_base`'s window. Default 1e-10.
    pub precision_threshold_ms: f64,
    /// `sahp_start` [ms]: the slow AHP is searched from this long after a spike. Default 5.
    pub sahp_start_ms: f64,
    /// `ignore_first_ISI`: ISI-statistics features leave out the first interval. Default true.
    pub ignore_first_isi: bool,
    /// `burst_factor`: an interval this many times longer than the median of the current burst's
    /// intervals, followed by a shorter one, starts a new burst. Default 1.5.
    pub burst_factor: f64,
    /// `depol_block_min_duration` [ms]: a plateau above the mean AP onset voltage (or a stretch
    /// below −75 mV) this long is a depolarisation block. Default 50.
    pub depol_block_min_duration_ms: f64,
    /// `decay_start_after_stim` [ms]: the decay fit starts this long after the stimulus. eFEL's
    /// default (used when the setting is absent) 1.
    pub decay_start_after_stim_ms: f64,
    /// `decay_end_after_stim` [ms]: ... and ends this long after it. Default 10.
    pub decay_end_after_stim_ms: f64,
    /// `stimulus_current` [nA]: the step amplitude, needed by the input-resistance features.
    /// eFEL has no default: without it those features have no value.
    pub stimulus_current_na: Option<f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold_mv: -20.0,
            derivative_threshold_mv_per_ms: 10.0,
            down_derivative_threshold_mv_per_ms: -12.0,
            derivative_window: 3,
            interp_step_ms: 0.1,
            strict_stiminterval: false,
            voltage_base_start_perc: 0.9,
            voltage_base_end_perc: 1.0,
            voltage_base_mode: BaseMode::Mean,
            precision_threshold_ms: 1e-10,
            sahp_start_ms: 5.0,
            ignore_first_isi: true,
            burst_factor: 1.5,
            depol_block_min_duration_ms: 50.0,
            decay_start_after_stim_ms: 1.0,
            decay_end_after_stim_ms: 10.0,
            stimulus_current_na: None,
        }
    }
}

impl Settings {
    /// The settings EModelRunner 1.2.5 scores a package with (spec/FEATURES.md): eFEL's defaults
    /// except a −30 mV spike threshold and `strict_stiminterval` on. A feature that sets its own
    /// `threshold` or `strict_stim` overrides these.
    pub fn emodelrunner() -> Self {
        Settings {
            threshold_mv: -30.0,
            strict_stiminterval: true,
            ..Settings::default()
        }
    }
}

/// A setting's value as feature files and eFEL's `set_setting` give it.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue<'a> {
    Number(f64),
    Bool(bool),
    Text(&'a str),
}

impl Settings {
    /// Set the eFEL setting `name` (eFEL's spelling, e.g. `Threshold`, `interp_step`,
    /// `strict_stiminterval`, `stimulus_current`). Numbers are accepted for the boolean settings
    /// (non-zero is true) and must be whole and non-negative for `DerivativeWindow`. Errors for a
    /// name that changes none of the features emsweep computes, or a value of the wrong kind.
    pub fn set(&mut self, name: &str, value: &SettingValue<'_>) -> Result<(), FeatureError> {
        let bad = || FeatureError::BadSetting {
            name: name.to_string(),
            value: format!("{value:?}"),
        };
        let number = || match value {
            SettingValue::Number(x) if x.is_finite() => Ok(*x),
            _ => Err(bad()),
        };
        let flag = || match value {
            SettingValue::Bool(b) => Ok(*b),
            SettingValue::Number(x) if x.is_finite() => Ok(*x != 0.0),
            _ => Err(bad()),
        };
        match name {
            "Threshold" => self.threshold_mv = number()?,
            "DerivativeThreshold" => self.derivative_threshold_mv_per_ms = number()?,
            "DownDerivativeThreshold" => self.down_derivative_threshold_mv_per_ms = number()?,
            "DerivativeWindow" => {
                let x = number()?;
                if x < 0.0 || x.fract() != 0.0 || x > 1e9 {
                    return Err(bad());
                }
                self.derivative_window = x as usize;
            }
            "interp_step" => self.interp_step_ms = number()?,
            "strict_stiminterval" => self.strict_stiminterval = flag()?,
            "voltage_base_start_perc" => self.voltage_base_start_perc = number()?,
            "voltage_base_end_perc" => self.voltage_base_end_perc = number()?,
            "voltage_base_mode" => {
                self.voltage_base_mode = match value {
                    SettingValue::Text("mean") => BaseMode::Mean,
                    SettingValue::Text("median") => BaseMode::Median,
                    _ => return Err(bad()),
                }
            }
            "precision_threshold" => self.precision_threshold_ms = number()?,
            "sahp_start" => self.sahp_start_ms = number()?,
            "ignore_first_ISI" => self.ignore_first_isi = flag()?,
            "burst_factor" => self.burst_factor = number()?,
            "depol_block_min_duration" => self.depol_block_min_duration_ms = number()?,
            "decay_start_after_stim" => self.decay_start_after_stim_ms = number()?,
            "decay_end_after_stim" => self.decay_end_after_stim_ms = number()?,
            "stimulus_current" => self.stimulus_current_na = Some(number()?),
            _ => {
                return Err(FeatureError::UnknownSetting {
                    name: name.to_string(),
                })
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_by_efel_name() {
        let mut s = Settings::default();
        s.set("Threshold", &SettingValue::Number(-30.0)).unwrap();
        s.set("strict_stiminterval", &SettingValue::Bool(true))
            .unwrap();
        s.set("ignore_first_ISI", &SettingValue::Number(0.0))
            .unwrap();
        s.set("DerivativeWindow", &SettingValue::Number(2.0))
            .unwrap();
        s.set("voltage_base_mode", &SettingValue::Text("median"))
            .unwrap();
        s.set("stimulus_current", &SettingValue::Number(-0.1))
            .unwrap();
        assert_eq!(s.threshold_mv, -30.0);
        assert!(s.strict_stiminterval);
        assert!(!s.ignore_first_isi);
        assert_eq!(s.derivative_window, 2);
        assert_eq!(s.voltage_base_mode, BaseMode::Median);
        assert_eq!(s.stimulus_current_na, Some(-0.1));
        let e = s
            .set("DerivativeWindow", &SettingValue::Number(2.5))
            .unwrap_err();
        assert_eq!(e.kind(), "bad-setting");
        let e = s
            .set("voltage_base_mode", &SettingValue::Text("mode"))
            .unwrap_err();
        assert_eq!(e.kind(), "bad-setting");
        let e = s.set("Threshold", &SettingValue::Text("high")).unwrap_err();
        assert_eq!(e.kind(), "bad-setting");
        let e = s.set("no_such", &SettingValue::Number(1.0)).unwrap_err();
        assert_eq!(e.kind(), "unknown-setting");
    }
}
