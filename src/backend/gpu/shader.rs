//! WGSL checking without a device: naga parses and validates a module exactly as wgpu will, so
//! a bad shader is reported with naga's message (and tests can check every generated shader on a
//! machine with no adapter).

/// Parses and validates `source`; the error is naga's report, with the offending line.
pub fn validate_wgsl(source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| e.emit_to_string(source))?;
    Ok(())
}

/// The entry points of a valid module, in the order naga lists them.
pub fn entry_points(source: &str) -> Result<Vec<String>, String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    Ok(module.entry_points.iter().map(|e| e.name.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_wgsl_is_reported() {
        assert!(validate_wgsl("fn f() -> f32 { return 1.0; }").is_ok());
        let e = validate_wgsl("fn f() -> f32 { return x; }").unwrap_err();
        assert!(e.contains('x'), "{e}");
        // a type error caught by validation rather than parsing
        let e = validate_wgsl("fn f() -> f32 { let b = true; return select(1.0, 2.0, 3u); }");
        assert!(e.is_err());
    }

    #[test]
    fn the_hines_shader_is_valid() {
        let src = include_str!("../../../shaders/hines.wgsl");
        validate_wgsl(src).unwrap();
        assert_eq!(
            entry_points(src).unwrap(),
            vec!["hines_solve".to_string(), "cable_step".to_string()]
        );
    }

    #[test]
    fn the_backend_shaders_are_valid() {
        use crate::backend::gpu::backend::{ELECTRODES_WGSL, GATHER_WGSL, LANES_WGSL};
        for (src, entries) in [
            (
                LANES_WGSL,
                &[
                    "set_voltage",
                    "clear_matrix",
                    "negate_currents",
                    "set_concentrations",
                    "nernst",
                    "clear_ion_current",
                    "check_lanes",
                    "record",
                ][..],
            ),
            (GATHER_WGSL, &["gather", "scatter"][..]),
            (ELECTRODES_WGSL, &["electrodes"][..]),
        ] {
            validate_wgsl(src).unwrap();
            assert_eq!(entry_points(src).unwrap(), entries);
        }
    }
}
