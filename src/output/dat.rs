//! EModelRunner-style trace files: one text file per protocol and recording,
//! `<prefix>.<protocol>.<recording>.dat` (EModelRunner's response key plus `.dat`), two columns
//! `t [ms]` and the value (mV for `v`, mM for `cai`), written as NumPy's `savetxt` writes them:
//! every number with C's `%.18e` (18 digits after the point, an exponent of at least two
//! digits with its sign), one space between the columns, `\n` after every row.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::OutputError;

/// The file name EModelRunner gives a response: `<prefix>.<protocol>.<recording>.dat`.
pub fn dat_file_name(prefix: &str, protocol: &str, recording: &str) -> String {
    format!("{prefix}.{protocol}.{recording}.dat")
}

/// `x` formatted as C's `printf("%.18e", x)` (what `numpy.savetxt` writes by default).
pub fn format_e18(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:.18e}` rounds the same exact decimal expansion as glibc; only the exponent is
    // written differently (`e2` instead of `e+02`).
    let s = format!("{x:.18e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// The text of a two-column file.
pub fn dat_text(times_ms: &[f64], values: &[f64]) -> String {
    let mut out = String::with_capacity(times_ms.len() * 52);
    for (t, v) in times_ms.iter().zip(values) {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{} {}", format_e18(*t), format_e18(*v));
    }
    out
}

/// Writes `times_ms` and `values` (the same length) as `<dir>/<file_name>`.
pub fn write_dat(
    dir: &Path,
    file_name: &str,
    times_ms: &[f64],
    values: &[f64],
) -> Result<PathBuf, OutputError> {
    let path = dir.join(file_name);
    if times_ms.len() != values.len() {
        return Err(OutputError::Invalid {
            path,
            message: format!("{} times but {} values", times_ms.len(), values.len()),
        });
    }
    super::atomic::write(&path, dat_text(times_ms, values).as_bytes())?;
    Ok(path)
}

/// Reads a two-column file back (times, values).
pub fn read_dat(path: &Path) -> Result<(Vec<f64>, Vec<f64>), OutputError> {
    let text = std::fs::read_to_string(path).map_err(|source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut t = Vec::new();
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = || OutputError::Invalid {
            path: path.to_path_buf(),
            message: format!("line {}: expected two numbers", i + 1),
        };
        let mut cols = line.split(' ');
        let a: f64 = cols.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let b: f64 = cols.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        if cols.next().is_some() {
            return Err(bad());
        }
        t.push(a);
        v.push(b);
    }
    Ok((t, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings C's printf("%.18e") gives for these numbers (glibc, checked with Python's
    /// `'%.18e' % x`, the formatting numpy.savetxt uses).
    #[test]
    fn numbers_are_written_like_printf() {
        let cases: [(f64, &str); 8] = [
            (0.0, "0.000000000000000000e+00"),
            (-0.0, "-0.000000000000000000e+00"),
            (0.025, "2.500000000000000139e-02"),
            (-65.0, "-6.500000000000000000e+01"),
            (300.0000000000042, "3.000000000000042064e+02"),
            (1e-300, "1.000000000000000025e-300"),
            (123456789.0, "1.234567890000000000e+08"),
            (f64::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(format_e18(x), want, "{x:e}");
        }
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = std::env::temp_dir().join(format!("emsweep-dat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t: Vec<f64> = (0..50).map(|k| k as f64 * 0.025).collect();
        let v: Vec<f64> = t.iter().map(|t| -65.0 + (t * 7.0).sin() * 1e-3).collect();
        let name = dat_file_name("_", "Step_150", "soma.v");
        assert_eq!(name, "_.Step_150.soma.v.dat");
        let path = write_dat(&dir, &name, &t, &v).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "0.000000000000000000e+00 -6.500000000000000000e+01"
        );
        let (t2, v2) = read_dat(&path).unwrap();
        // 19 significant digits round-trip every double.
        assert_eq!(t2, t);
        assert_eq!(v2, v);
        assert!(write_dat(&dir, "bad.dat", &t, &v[1..]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
