//! Output: the files a run leaves behind — simulated traces in HDF5 ([`traces`]),
//! EModelRunner-style two-column text files ([`dat`]) and the run report `run.json`
//! ([`run_report`]), and the feature-score reports `scores.json`, `features.csv` and
//! `report.html` ([`report`]). Writers see traces and reports, never backends; everything is written in
//! the order the caller gives, and read back in name order; every file is written atomically
//! ([`atomic`]).

pub mod atomic;
pub mod dat;
pub mod report;
pub mod run_report;
pub mod traces;

use std::path::PathBuf;

/// A file that could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {source}")]
    Hdf5 {
        path: PathBuf,
        #[source]
        source: hdf5::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}
