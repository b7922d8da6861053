//! Resume: the output folder's record of the run that writes it (`manifest.json`, keyed by a
//! hash of the inputs' contents, the settings and the emsweep build) and of the chunks it has
//! finished (`chunks/`: each chunk's traces and evaluations, and a checkpoint of the sweep's
//! running totals after the last one). Rerunning the same command on the same folder skips the
//! finished chunks and writes the same files an uninterrupted run writes; a folder of another
//! run is refused unless `--force` replaces it.
//!
//! Every file is written atomically (a temporary file synced and renamed), in the order chunk
//! traces, chunk evaluations, checkpoint: a run killed at any moment loses at most the chunk in
//! flight, and what it leaves reads (the checkpoint names only chunks whose files are whole).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::features::evaluate::Evaluation;
use crate::output::report::{LaneTrace, FEATURES_CSV, REPORT_HTML, SCORES_JSON};
use crate::output::run_report::{Failure, SearchReport};
use crate::sweep::execute::ExecStats;
use crate::sweep::member::Tally;

/// The manifest's file name in the output folder.
pub const MANIFEST_JSON: &str = "manifest.json";
/// The folder of finished chunks in the output folder.
pub const CHUNKS_DIR: &str = "chunks";
const FORMAT: &str = "emsweep-manifest-1";
const CHECKPOINT: &str = "checkpoint.cbor";

/// What the output folder says about the run that writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub emsweep_version: String,
    /// SHA-256 of the inputs' contents, the settings and the emsweep build.
    pub key: String,
    /// The command that started the run.
    pub command: Vec<String>,
    /// Input files hashed into the key.
    pub input_files: usize,
    /// Lanes per chunk, per structure group in run order (a resumed run cuts the same chunks).
    pub chunk_lanes: Vec<usize>,
    /// Every chunk finished and the output files written.
    pub complete: bool,
}

impl Manifest {
    pub fn new(
        key: String,
        command: Vec<String>,
        input_files: usize,
        chunk_lanes: Vec<usize>,
    ) -> Self {
        Manifest {
            format: FORMAT.into(),
            emsweep_version: env!("CARGO_PKG_VERSION").into(),
            key,
            command,
            input_files,
            chunk_lanes,
            complete: false,
        }
    }
}

/// The sweep's running totals after its first `chunks_done` chunks.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    pub chunks_done: usize,
    pub tallies: Vec<Vec<Tally>>,
    pub stats: ExecStats,
    pub exec_failures: Vec<Failure>,
    pub sink_failures: Vec<Failure>,
}

/// What one finished chunk gave besides its traces, in lane order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChunkRecord {
    pub index: usize,
    /// Per member in the chunk: (member, first set, end set); its rows in the chunk's traces
    /// are the sets in order.
    pub ranges: Vec<(usize, usize, usize)>,
    /// (member, parameter set, evaluation).
    pub evaluations: Vec<(usize, usize, Evaluation)>,
    /// (member, the member's own search rather than a lane's, the search).
    pub searches: Vec<(usize, bool, SearchReport)>,
    /// The traces `report.html` draws, of this chunk's lanes.
    pub report_traces: Vec<LaneTrace>,
}

/// The files of the run's key: every file below `dirs` (sorted by path, `exclude` and what is
/// below it left out) and each of `files`.
#[derive(Clone, Debug, Default)]
pub struct KeyInputs {
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
    pub exclude: Vec<PathBuf>,
    /// Every setting that changes what the run writes, as text.
    pub settings: String,
}

fn io(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Every file below `dir`, sorted, leaving out `exclude` (canonical paths).
fn files_below(dir: &Path, exclude: &[PathBuf], out: &mut Vec<PathBuf>) -> Result<(), String> {
    let canonical = dir.canonicalize().map_err(|e| io(dir, e))?;
    if exclude.iter().any(|x| canonical.starts_with(x)) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_below(&p, exclude, out)?;
        } else if p.is_file() {
            let c = p.canonicalize().map_err(|e| io(&p, e))?;
            if !exclude.iter().any(|x| c.starts_with(x)) {
                out.push(p);
            }
        }
    }
    Ok(())
}

/// This emsweep build: its version and the size and modification time of its executable (a
/// rebuilt binary is another build, whatever its version says).
fn build_id() -> String {
    let exe = std::env::current_exe().ok().and_then(|p| p.metadata().ok());
    let stamp = exe.map_or_else(String::new, |m| {
        let modified = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{} bytes, modified {modified}", m.len())
    });
    format!("emsweep {} ({stamp})", env!("CARGO_PKG_VERSION"))
}

/// The run's key and the number of files hashed into it.
pub fn run_key(inputs: &KeyInputs) -> Result<(String, usize), String> {
    let exclude: Vec<PathBuf> = inputs
        .exclude
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for d in &inputs.dirs {
        if seen.insert(d.canonicalize().map_err(|e| io(d, e))?) {
            files_below(d, &exclude, &mut files)?;
        }
    }
    files.extend(inputs.files.iter().cloned());
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(build_id().as_bytes());
    field(inputs.settings.as_bytes());
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| io(f, e))?;
        field(f.to_string_lossy().as_bytes());
        field(&bytes);
    }
    let key = h
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok((key, files.len()))
}

/// The files a run writes into its output folder (besides `.dat` files).
const OUTPUTS: [&str; 6] = [
    "run.json",
    "traces.h5",
    SCORES_JSON,
    FEATURES_CSV,
    REPORT_HTML,
    super::POPULATION_CSV,
];

/// An output folder being written.
pub struct Store {
    dir: PathBuf,
    pub manifest: Manifest,
}

/// Removes the files a run writes from `dir` (what `--force` replaces); other files stay.
fn clear(dir: &Path) -> Result<(), String> {
    for name in OUTPUTS.iter().chain(&[MANIFEST_JSON]) {
        let p = dir.join(name);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
        }
    }
    let chunks = dir.join(CHUNKS_DIR);
    if chunks.exists() {
        std::fs::remove_dir_all(&chunks).map_err(|e| io(&chunks, e))?;
    }
    Ok(())
}

fn read_cbor<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    ciborium::from_reader(std::io::BufReader::new(f)).map_err(|e| io(path, e))
}

fn write_cbor<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).map_err(|e| io(path, e))?;
    crate::output::atomic::write(path, &bytes).map_err(|e| e.to_string())
}

impl Store {
    /// Opens `dir` for the run `manifest` describes: a new run (an empty or missing folder, or
    /// any folder with `force`), or the same run again (the checkpoint of what it finished).
    /// `Err`: the folder holds another run's output.
    pub fn open(
        dir: &Path,
        manifest: Manifest,
        force: bool,
    ) -> Result<(Store, Option<Checkpoint>), String> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join(MANIFEST_JSON);
        let store = |m| Store {
            dir: dir.to_path_buf(),
            manifest: m,
        };
        if force {
            clear(dir)?;
        } else if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            let old: Manifest = serde_json::from_str(&text).map_err(|e| io(&path, e))?;
            if old.key != manifest.key {
                return Err(format!(
                    "{} holds the output of another run (other inputs, settings or emsweep build: \
                     its manifest.json was written by `{}`): give another --out, or --force to replace it",
                    dir.display(),
                    old.command.join(" ")
                ));
            }
            let ckpt = dir.join(CHUNKS_DIR).join(CHECKPOINT);
            let checkpoint = if ckpt.exists() {
                Some(read_cbor(&ckpt)?)
            } else {
                None
            };
            let mut s = store(old);
            s.manifest.command = manifest.command;
            return Ok((s, checkpoint));
        } else if let Some(name) = OUTPUTS.iter().find(|n| dir.join(n).exists()) {
            return Err(format!(
                "{} holds the output of another run ({name}, but no {MANIFEST_JSON}): give another \
                 --out, or --force to replace it",
                dir.display()
            ));
        }
        let s = store(manifest);
        std::fs::create_dir_all(s.chunks()).map_err(|e| io(&s.chunks(), e))?;
        s.save_manifest()?;
        Ok((s, None))
    }

    fn chunks(&self) -> PathBuf {
        self.dir.join(CHUNKS_DIR)
    }

    /// Where chunk `index` keeps its traces.
    pub fn chunk_traces(&self, index: usize) -> PathBuf {
        self.chunks().join(format!("chunk-{index:06}.h5"))
    }

    fn chunk_record(&self, index: usize) -> PathBuf {
        self.chunks().join(format!("chunk-{index:06}.cbor"))
    }

    pub fn save_manifest(&self) -> Result<(), String> {
        let path = self.dir.join(MANIFEST_JSON);
        let mut text = serde_json::to_string_pretty(&self.manifest).map_err(|e| io(&path, e))?;
        text.push('\n');
        crate::output::atomic::write(&path, text.as_bytes()).map_err(|e| e.to_string())
    }

    /// Records a finished chunk: its evaluations, then the checkpoint after it (its traces are
    /// already in place).
    pub fn save_chunk(&self, record: &ChunkRecord, checkpoint: &Checkpoint) -> Result<(), String> {
        std::fs::create_dir_all(self.chunks()).map_err(|e| io(&self.chunks(), e))?;
        write_cbor(&self.chunk_record(record.index), record)?;
        write_cbor(&self.chunks().join(CHECKPOINT), checkpoint)
    }

    /// The evaluations of finished chunk `index`.
    pub fn load_chunk(&self, index: usize) -> Result<ChunkRecord, String> {
        read_cbor(&self.chunk_record(index))
    }

    /// Marks the run complete and removes the chunks' traces (now in `traces.h5`); their
    /// evaluations stay, so the same command again rewrites the same reports.
    pub fn complete(&mut self, chunks: usize) -> Result<(), String> {
        self.manifest.complete = true;
        self.save_manifest()?;
        for i in 0..chunks {
            let p = self.chunk_traces(i);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("emsweep-manifest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn manifest(key: &str) -> Manifest {
        Manifest::new(key.into(), vec!["emsweep".into(), "run".into()], 0, vec![4])
    }

    #[test]
    fn the_key_follows_contents_and_settings_and_leaves_out_the_output() {
        let d = scratch("key");
        std::fs::create_dir_all(d.join("pkg/sub")).unwrap();
        std::fs::create_dir_all(d.join("pkg/out")).unwrap();
        std::fs::write(d.join("pkg/a.json"), "{}").unwrap();
        std::fs::write(d.join("pkg/sub/b.mod"), "NEURON {}").unwrap();
        let inputs = KeyInputs {
            dirs: vec![d.join("pkg")],
            files: vec![],
            exclude: vec![d.join("pkg/out")],
            settings: "protocols=step".into(),
        };
        let (k1, n) = run_key(&inputs).unwrap();
        assert_eq!(n, 2);
        std::fs::write(d.join("pkg/out/run.json"), "{}").unwrap();
        assert_eq!(
            run_key(&inputs).unwrap().0,
            k1,
            "the output folder is not an input"
        );
        std::fs::write(d.join("pkg/sub/b.mod"), "NEURON { }").unwrap();
        let (k2, _) = run_key(&inputs).unwrap();
        assert_ne!(k1, k2, "a changed file changes the key");
        let other = KeyInputs {
            settings: "protocols=ramp".into(),
            ..inputs.clone()
        };
        assert_ne!(run_key(&other).unwrap().0, k2, "other settings, other key");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn another_runs_folder_is_refused_unless_forced() {
        let d = scratch("open");
        let (s, c) = Store::open(&d, manifest("a"), false).unwrap();
        assert!(c.is_none());
        let ckpt = Checkpoint {
            chunks_done: 1,
            ..Default::default()
        };
        s.save_chunk(&ChunkRecord::default(), &ckpt).unwrap();
        let (_, c) = Store::open(&d, manifest("a"), false).unwrap();
        assert_eq!(c.map(|c| c.chunks_done), Some(1), "the same run resumes");
        let e = Store::open(&d, manifest("b"), false).err().unwrap();
        assert!(e.contains("another run") && e.contains("--force"), "{e}");
        let (_, c) = Store::open(&d, manifest("b"), true).unwrap();
        assert!(c.is_none(), "--force starts over");
        let plain = scratch("plain");
        std::fs::write(plain.join("run.json"), "{}").unwrap();
        let e = Store::open(&plain, manifest("a"), false).err().unwrap();
        assert!(e.contains("no manifest.json"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
        std::fs::remove_dir_all(&plain).unwrap();
    }
}
