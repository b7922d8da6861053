//! `traces.h5`: the simulated traces of a run, one dataset per e-model, protocol and recording.
//!
//! Layout (HDF5; names that contain `/` or `%` are percent-encoded, `%2F` and `%25`, and every
//! group and dataset also carries its exact name in a `name` attribute):
//! ```text
//! /                                     attrs: format = "emsweep-traces-1", emsweep_version
//! /<e-model label>/                     one group per e-model (`cADpyr_L4UPC`, `name[variant]`)
//! /<e-model label>/<protocol>/          one group per protocol (`Step_150`, `IDrest_0.2`)
//! /<e-model label>/<protocol>/<recording>
//!     dataset [lanes × samples], f64 or f32 (as simulated), row-major: lane l's trace is row l;
//!     sample k is at t0_ms + k·dt_ms (NEURON's accumulated times differ from these by rounding)
//!     attrs: name, units ("mV", "mM"), variable ("v", "cai"), dt_ms, t0_ms,
//!            lane_labels (one string per lane: the parameter set each lane ran)
//! ```
//! `<recording>` is the recording's name without the protocol: `soma.v`, `dend1.v`,
//! `ca_soma.cai`. Datasets are written in the order given; [`read_traces`] returns them sorted
//! by (e-model, protocol, recording).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::types::VarLenUnicode;

use super::OutputError;

/// The `format` attribute of the files this module writes.
pub const FORMAT: &str = "emsweep-traces-1";

/// Samples of every lane of one recording, lane-major (`values[lane * samples + k]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplesRef<'a> {
    F64(&'a [f64]),
    F32(&'a [f32]),
}

impl SamplesRef<'_> {
    fn len(&self) -> usize {
        match self {
            SamplesRef::F64(v) => v.len(),
            SamplesRef::F32(v) => v.len(),
        }
    }
}

/// Owned samples, as read back.
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    F64(Vec<f64>),
    F32(Vec<f32>),
}

/// One dataset to write.
#[derive(Clone, Copy, Debug)]
pub struct TraceBlock<'a> {
    pub emodel: &'a str,
    pub protocol: &'a str,
    /// `soma.v`, `dend1.v`, ...
    pub recording: &'a str,
    /// NEURON's variable name (`v`, `cai`).
    pub variable: &'a str,
    pub units: &'a str,
    pub dt_ms: f64,
    pub t0_ms: f64,
    pub lanes: usize,
    pub samples: usize,
    /// One label per lane.
    pub lane_labels: &'a [String],
    pub data: SamplesRef<'a>,
}

/// One dataset read back.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTrace {
    pub emodel: String,
    pub protocol: String,
    pub recording: String,
    pub variable: String,
    pub units: String,
    pub dt_ms: f64,
    pub t0_ms: f64,
    pub lanes: usize,
    pub samples: usize,
    pub lane_labels: Vec<String>,
    pub data: Samples,
}

/// The HDF5 link name of an e-model, protocol or recording: `/` and `%` percent-encoded (and
/// the two names HDF5 refuses, "" and ".", spelled `%empty` and `%2E`). Distinct names give
/// distinct links; the exact name is kept in the `name` attribute.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    // HDF5 refuses these two as link names; a bare `%` never occurs in an encoded name.
    match out.as_str() {
        "" => "%empty".into(),
        "." => "%2E".into(),
        _ => out,
    }
}

/// An open `traces.h5` being written.
pub struct TracesWriter {
    file: hdf5::File,
    path: PathBuf,
    /// Datasets written row by row ([`TracesWriter::write_row`]), by e-model, protocol and
    /// recording.
    open: std::collections::BTreeMap<(String, String, String), hdf5::Dataset>,
}

/// A dataset written one lane (row) at a time: every lane's label known up front, rows not
/// written stay NaN (lanes that did not run).
#[derive(Clone, Copy, Debug)]
pub struct RowDataset<'a> {
    pub emodel: &'a str,
    pub protocol: &'a str,
    pub recording: &'a str,
    pub variable: &'a str,
    pub units: &'a str,
    pub dt_ms: f64,
    pub t0_ms: f64,
    pub samples: usize,
    /// One label per row.
    pub lane_labels: &'a [String],
    /// Stored as f32 (else f64).
    pub f32: bool,
}

fn vlu(path: &Path, s: &str) -> Result<VarLenUnicode, OutputError> {
    VarLenUnicode::from_str(s).map_err(|e| OutputError::Invalid {
        path: path.to_path_buf(),
        message: format!("text `{s}` cannot be stored: {e}"),
    })
}

impl TracesWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<TracesWriter, OutputError> {
        let h5 = |source| OutputError::Hdf5 {
            path: path.to_path_buf(),
            source,
        };
        // No modification times in object headers: the same run writes the same bytes. The 1.8
        // file format at least, whose dense attribute storage holds attributes over 64 KiB (the
        // `lane_labels` of a few thousand lanes).
        let file = hdf5::File::with_options()
            .with_fcpl(|p| p.obj_track_times(false))
            .with_fapl(|p| p.libver_v18())
            .create(path)
            .map_err(h5)?;
        let w = TracesWriter {
            file,
            path: path.to_path_buf(),
            open: std::collections::BTreeMap::new(),
        };
        w.text_attr(&w.file, "format", FORMAT)?;
        w.text_attr(&w.file, "emsweep_version", env!("CARGO_PKG_VERSION"))?;
        Ok(w)
    }

    fn h5(&self, source: hdf5::Error) -> OutputError {
        OutputError::Hdf5 {
            path: self.path.clone(),
            source,
        }
    }

    fn text_attr(&self, at: &hdf5::Location, name: &str, value: &str) -> Result<(), OutputError> {
        let v = vlu(&self.path, value)?;
        at.new_attr::<VarLenUnicode>()
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .map_err(|e| self.h5(e))
    }

    fn f64_attr(&self, at: &hdf5::Location, name: &str, value: f64) -> Result<(), OutputError> {
        at.new_attr::<f64>()
            .create(name)
            .and_then(|a| a.write_scalar(&value))
            .map_err(|e| self.h5(e))
    }

    /// The group `name` under `parent`, created (with its `name` attribute) when missing.
    fn group(&self, parent: &hdf5::Group, name: &str) -> Result<hdf5::Group, OutputError> {
        let link = encode_name(name);
        if parent.link_exists(&link) {
            return parent.group(&link).map_err(|e| self.h5(e));
        }
        let g = parent
            .create_group_builder()
            .obj_track_times(false)
            .create(link.as_str())
            .map_err(|e| self.h5(e))?;
        self.text_attr(&g, "name", name)?;
        Ok(g)
    }

    /// Writes one dataset. Fails when it exists already or when the sizes do not match.
    pub fn write(&mut self, b: &TraceBlock) -> Result<(), OutputError> {
        let invalid = |message: String| OutputError::Invalid {
            path: self.path.clone(),
            message: format!("{}/{}/{}: {message}", b.emodel, b.protocol, b.recording),
        };
        if b.data.len() != b.lanes * b.samples {
            return Err(invalid(format!(
                "{} values for {} lanes × {} samples",
                b.data.len(),
                b.lanes,
                b.samples
            )));
        }
        if b.lane_labels.len() != b.lanes {
            return Err(invalid(format!(
                "{} lane labels for {} lanes",
                b.lane_labels.len(),
                b.lanes
            )));
        }
        let root = self.file.as_group().map_err(|e| self.h5(e))?;
        let em = self.group(&root, b.emodel)?;
        let pr = self.group(&em, b.protocol)?;
        let link = encode_name(b.recording);
        if pr.link_exists(&link) {
            return Err(invalid("written twice".into()));
        }
        let shape = (b.lanes, b.samples);
        let ds = match b.data {
            SamplesRef::F64(v) => pr
                .new_dataset::<f64>()
                .shape(shape)
                .create(link.as_str())
                .and_then(|ds| ds.write_raw(v).map(|_| ds)),
            SamplesRef::F32(v) => pr
                .new_dataset::<f32>()
                .shape(shape)
                .create(link.as_str())
                .and_then(|ds| ds.write_raw(v).map(|_| ds)),
        }
        .map_err(|e| self.h5(e))?;
        self.dataset_attrs(
            &ds,
            b.recording,
            b.variable,
            b.units,
            b.dt_ms,
            b.t0_ms,
            b.lane_labels,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn dataset_attrs(
        &self,
        ds: &hdf5::Dataset,
        recording: &str,
        variable: &str,
        units: &str,
        dt_ms: f64,
        t0_ms: f64,
        lane_labels: &[String],
    ) -> Result<(), OutputError> {
        self.text_attr(ds, "name", recording)?;
        self.text_attr(ds, "variable", variable)?;
        self.text_attr(ds, "units", units)?;
        self.f64_attr(ds, "dt_ms", dt_ms)?;
        self.f64_attr(ds, "t0_ms", t0_ms)?;
        let labels = lane_labels
            .iter()
            .map(|l| vlu(&self.path, l))
            .collect::<Result<Vec<_>, _>>()?;
        ds.new_attr::<VarLenUnicode>()
            .shape(labels.len())
            .create("lane_labels")
            .and_then(|a| a.write_raw(&labels))
            .map_err(|e| self.h5(e))?;
        Ok(())
    }

    /// Writes `values` as row `row` of dataset `d`, creating the dataset (every row NaN) on
    /// its first row. Fails when the sizes do not match the dataset's.
    pub fn write_row(
        &mut self,
        d: &RowDataset,
        row: usize,
        values: &[f64],
    ) -> Result<(), OutputError> {
        let invalid = |message: String| OutputError::Invalid {
            path: self.path.clone(),
            message: format!("{}/{}/{}: {message}", d.emodel, d.protocol, d.recording),
        };
        if values.len() != d.samples || row >= d.lane_labels.len() {
            return Err(invalid(format!(
                "row {row} of {} values for {} lanes × {} samples",
                values.len(),
                d.lane_labels.len(),
                d.samples
            )));
        }
        let key = (
            d.emodel.to_string(),
            d.protocol.to_string(),
            d.recording.to_string(),
        );
        if !self.open.contains_key(&key) {
            let root = self.file.as_group().map_err(|e| self.h5(e))?;
            let em = self.group(&root, d.emodel)?;
            let pr = self.group(&em, d.protocol)?;
            let link = encode_name(d.recording);
            if pr.link_exists(&link) {
                return Err(invalid("written twice".into()));
            }
            let shape = (d.lane_labels.len(), d.samples);
            let ds = if d.f32 {
                pr.new_dataset::<f32>()
                    .shape(shape)
                    .fill_value(f32::NAN)
                    .obj_track_times(false)
                    .create(link.as_str())
            } else {
                pr.new_dataset::<f64>()
                    .shape(shape)
                    .fill_value(f64::NAN)
                    .obj_track_times(false)
                    .create(link.as_str())
            }
            .map_err(|e| self.h5(e))?;
            self.dataset_attrs(
                &ds,
                d.recording,
                d.variable,
                d.units,
                d.dt_ms,
                d.t0_ms,
                d.lane_labels,
            )?;
            self.open.insert(key.clone(), ds);
        }
        let Some(ds) = self.open.get(&key) else {
            return Err(invalid("not open".into()));
        };
        let written = if d.f32 {
            let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
            ds.write_slice(&v[..], (row, ..))
        } else {
            ds.write_slice(values, (row, ..))
        };
        written.map_err(|e| OutputError::Hdf5 {
            path: self.path.clone(),
            source: e,
        })
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<(), OutputError> {
        self.open.clear();
        self.file.flush().map_err(|source| OutputError::Hdf5 {
            path: self.path.clone(),
            source,
        })?;
        self.file.close().map_err(|source| OutputError::Hdf5 {
            path: self.path,
            source,
        })
    }
}

/// Reads every dataset of a `traces.h5`, sorted by (e-model, protocol, recording).
pub fn read_traces(path: &Path) -> Result<Vec<StoredTrace>, OutputError> {
    let h5 = |source| OutputError::Hdf5 {
        path: path.to_path_buf(),
        source,
    };
    let text = |at: &hdf5::Location, name: &str| -> Result<String, OutputError> {
        at.attr(name)
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .map(|v| v.as_str().to_string())
            .map_err(h5)
    };
    let number = |at: &hdf5::Location, name: &str| -> Result<f64, OutputError> {
        at.attr(name)
            .and_then(|a| a.read_scalar::<f64>())
            .map_err(h5)
    };
    let file = hdf5::File::open(path).map_err(h5)?;
    let format = text(&file, "format")?;
    if format != FORMAT {
        return Err(OutputError::Invalid {
            path: path.to_path_buf(),
            message: format!("format `{format}`, expected `{FORMAT}`"),
        });
    }
    let mut out = Vec::new();
    for em in file.groups().map_err(h5)? {
        let em_name = text(&em, "name")?;
        for pr in em.groups().map_err(h5)? {
            let pr_name = text(&pr, "name")?;
            for ds in pr.datasets().map_err(h5)? {
                let shape = ds.shape();
                let [lanes, samples] = shape[..] else {
                    return Err(OutputError::Invalid {
                        path: path.to_path_buf(),
                        message: format!("{}: not two-dimensional", ds.name()),
                    });
                };
                let dtype = ds.dtype().map_err(h5)?;
                let data = if dtype.is::<f32>() {
                    Samples::F32(ds.read_raw::<f32>().map_err(h5)?)
                } else {
                    Samples::F64(ds.read_raw::<f64>().map_err(h5)?)
                };
                let labels = ds
                    .attr("lane_labels")
                    .and_then(|a| a.read_raw::<VarLenUnicode>())
                    .map_err(h5)?
                    .into_iter()
                    .map(|v| v.as_str().to_string())
                    .collect();
                out.push(StoredTrace {
                    emodel: em_name.clone(),
                    protocol: pr_name.clone(),
                    recording: text(&ds, "name")?,
                    variable: text(&ds, "variable")?,
                    units: text(&ds, "units")?,
                    dt_ms: number(&ds, "dt_ms")?,
                    t0_ms: number(&ds, "t0_ms")?,
                    lanes,
                    samples,
                    lane_labels: labels,
                    data,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.emodel, &a.protocol, &a.recording).cmp(&(&b.emodel, &b.protocol, &b.recording))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("emsweep-traces-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("set {i}")).collect()
    }

    /// Writes a small run: two e-models (one with a `/` in its name), f64 and f32 datasets,
    /// given in an order that is not the name order.
    fn write_sample(path: &Path, v64: &[f64], v32: &[f32]) {
        let l3 = labels(3);
        let l2 = labels(2);
        let mut w = TracesWriter::create(path).unwrap();
        let block = |emodel, protocol, recording, lanes, labels, data| TraceBlock {
            emodel,
            protocol,
            recording,
            variable: "v",
            units: "mV",
            dt_ms: 0.025,
            t0_ms: 0.0,
            lanes,
            samples: 4,
            lane_labels: labels,
            data,
        };
        w.write(&block(
            "model_b",
            "Step_150",
            "soma.v",
            3,
            &l3,
            SamplesRef::F64(v64),
        ))
        .unwrap();
        w.write(&block(
            "model_b",
            "IDrest_0.2",
            "soma.v",
            2,
            &l2,
            SamplesRef::F32(v32),
        ))
        .unwrap();
        let mut ca = block(
            "a/weird%name",
            "Ramp",
            "ca_soma.cai",
            2,
            &l2,
            SamplesRef::F32(v32),
        );
        ca.variable = "cai";
        ca.units = "mM";
        ca.t0_ms = 1.5;
        w.write(&ca).unwrap();
        // A duplicate and a wrong size are refused, and leave the file usable.
        assert!(w
            .write(&block(
                "model_b",
                "Step_150",
                "soma.v",
                3,
                &l3,
                SamplesRef::F64(v64)
            ))
            .is_err());
        assert!(w
            .write(&block(
                "model_b",
                "Step_150",
                "dend.v",
                2,
                &l2,
                SamplesRef::F64(v64)
            ))
            .is_err());
        assert!(w
            .write(&block(
                "model_b",
                "Step_150",
                "dend.v",
                3,
                &l2,
                SamplesRef::F64(v64)
            ))
            .is_err());
        w.finish().unwrap();
    }

    #[test]
    fn traces_round_trip_exactly_in_name_order() {
        let v64: Vec<f64> = (0..12)
            .map(|i| -65.0 + f64::from(i) * 0.1 + 1e-13)
            .collect();
        let v32: Vec<f32> = (0..8).map(|i| -70.0 + i as f32 * 0.3).collect();
        let path = temp("a.h5");
        write_sample(&path, &v64, &v32);
        let read = read_traces(&path).unwrap();
        let keys: Vec<(&str, &str, &str)> = read
            .iter()
            .map(|t| (t.emodel.as_str(), t.protocol.as_str(), t.recording.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("a/weird%name", "Ramp", "ca_soma.cai"),
                ("model_b", "IDrest_0.2", "soma.v"),
                ("model_b", "Step_150", "soma.v"),
            ]
        );
        let step = &read[2];
        assert_eq!(step.data, Samples::F64(v64.clone()));
        assert_eq!((step.lanes, step.samples), (3, 4));
        assert_eq!(step.lane_labels, labels(3));
        assert_eq!((step.dt_ms, step.t0_ms), (0.025, 0.0));
        assert_eq!((step.units.as_str(), step.variable.as_str()), ("mV", "v"));
        assert_eq!(read[1].data, Samples::F32(v32.clone()));
        let ca = &read[0];
        assert_eq!(
            (ca.units.as_str(), ca.variable.as_str(), ca.t0_ms),
            ("mM", "cai", 1.5)
        );

        // The same calls write the same bytes.
        let again = temp("b.h5");
        write_sample(&again, &v64, &v32);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(&again).unwrap()
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&again).unwrap();
    }

    #[test]
    fn thousands_of_lane_labels_fit() {
        let path = temp("many.h5");
        let lanes = 10_000;
        let labels: Vec<String> = (0..lanes).map(|k| format!("sample_{k}")).collect();
        let mut w = TracesWriter::create(&path).unwrap();
        let d = RowDataset {
            emodel: "cell",
            protocol: "Step_150",
            recording: "soma.v",
            variable: "v",
            units: "mV",
            dt_ms: 0.25,
            t0_ms: 0.0,
            samples: 2,
            lane_labels: &labels,
            f32: true,
        };
        for row in [0, 4096, lanes - 1] {
            w.write_row(&d, row, &[row as f64, -1.0]).unwrap();
        }
        w.finish().unwrap();
        let read = read_traces(&path).unwrap();
        assert_eq!(read[0].lane_labels, labels);
        let Samples::F32(v) = &read[0].data else {
            panic!("f32 data")
        };
        assert_eq!(
            (v[2 * 4096], v[2 * (lanes - 1)]),
            (4096.0, (lanes - 1) as f32)
        );
        assert!(v[2].is_nan(), "unwritten rows stay NaN");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn names_are_encoded_reversibly() {
        assert_eq!(encode_name("soma.v"), "soma.v");
        assert_eq!(encode_name("a/b%c"), "a%2Fb%25c");
        assert_eq!(encode_name("."), "%2E");
        assert_eq!(encode_name(""), "%empty");
    }

    #[test]
    fn foreign_files_are_refused() {
        let path = temp("foreign.h5");
        let f = hdf5::File::create(&path).unwrap();
        f.new_attr::<VarLenUnicode>()
            .create("format")
            .unwrap()
            .write_scalar(&VarLenUnicode::from_str("other").unwrap())
            .unwrap();
        drop(f);
        assert!(matches!(
            read_traces(&path),
            Err(OutputError::Invalid { .. })
        ));
        std::fs::remove_file(&path).unwrap();
    }
}
