//! Command line: clap definitions of the raw arguments and their dispatch to the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Everything requested ran and passed.
    pub const OK: u8 = 0;
    /// Some item (package, e-model, cell) failed; the rest ran.
    pub const SOME_FAILED: u8 = 1;
    /// The command line itself was wrong.
    pub const USAGE: u8 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "emsweep",
    version,
    about = "Batch simulation engine for validating single-cell neuron e-models"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read every e-model package under PATHS and report what cell each builds, and every problem.
    Check {
        /// Package directories, or directories to search for packages.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Simulate the protocols of every e-model under PATHS and write traces.h5, run.json and the
    /// feature-score reports (scores.json, features.csv, report.html).
    Run {
        /// Protocol names or globs (`*`, `?`), comma-separated; `package` = every protocol of
        /// the packages; built-in template names (`step`, `ramp`, `IDrest`, `IV`, `APWaveform`,
        /// `sAHP`, `firepattern`) add those protocols to every e-model.
        #[arg(long, value_delimiter = ',', default_value = "package")]
        protocols: Vec<String>,
        /// Where to simulate: `cpu`; `gpu` (any Vulkan adapter, lavapipe included; f32); `auto`
        /// (a real GPU when there is one, otherwise the CPU backend; never a CPU-type adapter).
        #[arg(long, default_value = "cpu")]
        backend: String,
        /// Floating-point precision of the simulation: `f64` or `f32` (default: f64 on the CPU,
        /// f32 on a GPU).
        #[arg(long)]
        precision: Option<String>,
        /// Output folder for traces.h5, run.json, scores.json, features.csv and report.html.
        #[arg(long, default_value = "emsweep-out")]
        out: PathBuf,
        /// Also write EModelRunner-style `.dat` files here.
        #[arg(long)]
        dat_dir: Option<PathBuf>,
        #[command(flatten)]
        lanes: LaneArgs,
        /// Package directories, or directories to search for packages.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the same sweep on several backends and compare their voltage traces (spike counts,
    /// spike times, |ΔV| before the first spike); exit 1 beyond the tolerances between backends
    /// (equal spike counts; spike times within 0.05 ms; same precision: |ΔV| ≤ 1e-2 mV).
    Compare {
        /// Backends, comma-separated (`cpu`, `gpu`, `auto`); the first is the reference.
        #[arg(long, value_delimiter = ',', default_value = "cpu,gpu")]
        backends: Vec<String>,
        /// Precision of every backend: `f32` or `f64` (a GPU runs f32 only).
        #[arg(long, default_value = "f32")]
        precision: String,
        /// Protocol names or globs, as for `run`.
        #[arg(long, value_delimiter = ',', default_value = "package")]
        protocols: Vec<String>,
        /// Output folder: one subfolder per backend (`cpu-f32/`, `gpu-f32/`).
        #[arg(long, default_value = "emsweep-compare")]
        out: PathBuf,
        #[command(flatten)]
        lanes: LaneArgs,
        /// Package directories, or directories to search for packages.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Join the output folders of the shards of one sweep (`run --shard K/N`, every K once)
    /// into OUT, as one unsharded run writes it (report.html excepted).
    Merge {
        /// The merged output folder.
        out: PathBuf,
        /// The shards' output folders, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
    /// Compile NMODL mechanism files on their own.
    Mech {
        #[command(subcommand)]
        action: MechCommand,
    },
}

/// `run`'s choice of lanes, what it keeps and where it runs.
#[derive(clap::Args, Debug, Clone)]
pub struct LaneArgs {
    /// Parameter sets for one e-model (`--emodel`, or the only one): a final.json-like file
    /// (EModelRunner's `{label: {params}}` or BluePyEModel's entries; a previous run's
    /// scores.json) or CSV with a header of parameter keys (`gNaTgbar_NaTg.axonal`) and an
    /// optional `label` column. Every entry is one lane.
    #[arg(long, conflicts_with = "sample")]
    pub population: Option<PathBuf>,
    /// Draw N parameter sets inside the bounds of the e-model's free parameters (written to
    /// population.csv in the output folder).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Seed of `--sample` (the same seed draws the same sets).
    #[arg(long, default_value_t = 0, requires = "sample")]
    pub seed: u64,
    /// How `--sample` draws: `uniform` or `lhs` (Latin hypercube).
    #[arg(long, default_value = "uniform", requires = "sample")]
    pub sampler: String,
    /// The e-model `--population` / `--sample` is for (its name or `name[variant]`).
    #[arg(long)]
    pub emodel: Option<String>,
    /// What traces.h5 and the .dat files keep: `all`, `soma` (each protocol's soma voltage) or
    /// `none` (features and scores only). Features are always computed on every step.
    #[arg(long, default_value = "all")]
    pub record: String,
    /// Keep every K-th sample of the traces written.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub record_every: usize,
    /// CPU threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Run only the K-th of N equal, contiguous parts of the lanes (K from 1; for job arrays);
    /// `emsweep merge` joins the parts.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Lanes per chunk at most (default: as many as the host's memory holds, at most 4096). A
    /// chunk is what a killed run loses and what its rerun skips once finished.
    #[arg(long, value_name = "N")]
    pub chunk_lanes: Option<usize>,
    /// Replace the output folder's earlier run. Without it, the same command on the same
    /// folder resumes (skipping finished chunks) and another run's folder is an error.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum MechCommand {
    /// Compile each FILE and print every diagnostic; exit 1 when any file has an error.
    Check {
        #[arg(required = true, value_name = "FILE.mod")]
        files: Vec<PathBuf>,
    },
    /// Compile FILE and print what it became.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["ir"])))]
    Emit {
        /// Print the mechanism IR in its stable text form.
        #[arg(long)]
        ir: bool,
        #[arg(value_name = "FILE.mod")]
        file: PathBuf,
    },
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Mech { action } => run_mech(action),
        Command::Merge { out, shards } => match crate::sweep::merge::merge(&out, &shards) {
            Ok(()) => {
                println!("merged {} shards into {}", shards.len(), out.display());
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::SOME_FAILED
            }
        },
        Command::Run {
            protocols,
            backend,
            precision,
            out,
            dat_dir,
            lanes,
            paths,
        } => run_sweep(
            protocols,
            &backend,
            precision.as_deref(),
            out,
            dat_dir,
            &lanes,
            &paths,
        ),
        Command::Compare {
            backends,
            precision,
            protocols,
            out,
            lanes,
            paths,
        } => run_compare(&backends, &precision, protocols, out, &lanes, &paths),
        Command::Check { paths } => {
            if let Some(missing) = paths.iter().find(|p| !p.exists()) {
                eprintln!("error: {}: no such file or directory", missing.display());
                return exit::USAGE;
            }
            let report = crate::check::check_paths(&paths);
            print!("{}", crate::check::render(&report));
            if report.failed() {
                exit::SOME_FAILED
            } else {
                exit::OK
            }
        }
    }
}

/// The backend `--backend` names, at `precision` (`None`: the backend's own default), or the
/// message of a usage error. A GPU backend's adapter is printed.
fn make_backend(
    name: &str,
    precision: Option<&str>,
) -> Result<Box<dyn crate::backend::Backend>, String> {
    use crate::backend::gpu::{AdapterPolicy, GpuBackend};
    use crate::backend::{cpu::CpuBackend, Precision};
    let parse = |p: &str| match p {
        "f64" => Ok(Precision::F64),
        "f32" => Ok(Precision::F32),
        other => Err(format!("--precision must be f64 or f32, not `{other}`")),
    };
    let precision = precision.map(parse).transpose()?;
    match name {
        "cpu" => Ok(Box::new(CpuBackend::new(
            precision.unwrap_or(Precision::F64),
        ))),
        "gpu" | "auto" => {
            if precision == Some(Precision::F64) {
                if name == "auto" {
                    eprintln!(
                        "backend auto: f64 asked for, the GPU runs f32: using the CPU backend"
                    );
                    return Ok(Box::new(CpuBackend::new(Precision::F64)));
                }
                return Err("--backend gpu runs in f32 only: use --precision f32 (or --backend cpu for f64)".into());
            }
            let policy = if name == "gpu" {
                AdapterPolicy::Any
            } else {
                AdapterPolicy::RealGpu
            };
            match GpuBackend::new(policy) {
                Ok(b) => {
                    eprintln!("backend {name}: GPU adapter {}", b.adapter());
                    Ok(Box::new(b))
                }
                Err(e) if name == "auto" => {
                    eprintln!("backend auto: {e}; using the CPU backend");
                    Ok(Box::new(CpuBackend::new(
                        precision.unwrap_or(Precision::F32),
                    )))
                }
                Err(e) => Err(format!("--backend gpu: {e}")),
            }
        }
        other => Err(format!("--backend must be cpu, gpu or auto, not `{other}`")),
    }
}

/// Checks the PATHS and protocol selection of `run` and `compare`; the usage error, if any.
fn check_inputs(paths: &[PathBuf], protocols: &[String]) -> Result<(), String> {
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        return Err(format!("{}: no such file or directory", missing.display()));
    }
    if let Some(file) = paths.iter().find(|p| !p.is_dir()) {
        return Err(format!(
            "{}: not a directory (protocol files as PATHS are not supported yet; give package directories)",
            file.display()
        ));
    }
    if protocols.iter().any(|p| p.trim().is_empty()) {
        return Err("--protocols: an empty protocol name".into());
    }
    Ok(())
}

/// The sweep options of `run` and `compare`; the usage error, if any.
fn sweep_options(
    protocols: Vec<String>,
    out: PathBuf,
    dat_dir: Option<PathBuf>,
    lanes: Option<&LaneArgs>,
) -> Result<crate::sweep::SweepOptions, String> {
    use crate::sweep::{PopulationSource, Record, Sampler, SweepOptions};
    let mut opts = SweepOptions::new(protocols, out);
    opts.dat_dir = dat_dir;
    opts.command = std::env::args().collect();
    opts.progress = true;
    let Some(l) = lanes else {
        return Ok(opts);
    };
    opts.population = match (&l.population, l.sample) {
        (Some(p), _) => {
            if !p.is_file() {
                return Err(format!("--population {}: no such file", p.display()));
            }
            Some(PopulationSource::File(p.clone()))
        }
        (None, Some(0)) => return Err("--sample must draw at least one set".into()),
        (None, Some(n)) => Some(PopulationSource::Sample {
            n,
            seed: l.seed,
            sampler: Sampler::parse(&l.sampler)
                .ok_or_else(|| format!("--sampler must be uniform or lhs, not `{}`", l.sampler))?,
        }),
        (None, None) => None,
    };
    opts.emodel = l.emodel.clone();
    opts.shard = l
        .shard
        .as_deref()
        .map(crate::sweep::merge::parse_shard)
        .transpose()?;
    opts.record = Record::parse(&l.record)
        .ok_or_else(|| format!("--record must be all, soma or none, not `{}`", l.record))?;
    if l.record_every == 0 {
        return Err("--record-every must be at least 1".into());
    }
    opts.record_every = l.record_every;
    if l.chunk_lanes == Some(0) {
        return Err("--chunk-lanes must be at least 1".into());
    }
    opts.max_chunk_lanes = l.chunk_lanes;
    opts.force = l.force;
    Ok(opts)
}

/// Runs the sweep on `backend` with `opts`; prints failures and the summary. `Ok(true)` when
/// something failed.
fn sweep_on(
    backend: &dyn crate::backend::Backend,
    opts: &crate::sweep::SweepOptions,
    paths: &[PathBuf],
) -> Result<bool, String> {
    let (report, summary) = crate::sweep::sweep(paths, opts, backend)?;
    for f in &report.failures {
        let at = match (&f.file, f.line, f.column) {
            (Some(file), Some(line), Some(col)) => format!("{file}:{line}:{col}: "),
            (Some(file), Some(line), None) => format!("{file}:{line}: "),
            (Some(file), None, _) => format!("{file}: "),
            _ => String::new(),
        };
        eprintln!("{}[{}]: {at}{}", f.severity, f.kind, f.message);
    }
    print!("{}", summary.render());
    println!("wrote {}", opts.out_dir.display());
    Ok(summary.failed)
}

/// Runs `f` on a pool of `threads` threads (`None`: rayon's global pool, which honours
/// RAYON_NUM_THREADS).
fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, String> {
    match threads {
        None => Ok(f()),
        Some(0) => Err("--threads must be at least 1".into()),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| format!("--threads {n}: {e}")),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_sweep(
    protocols: Vec<String>,
    backend: &str,
    precision: Option<&str>,
    out: PathBuf,
    dat_dir: Option<PathBuf>,
    lanes: &LaneArgs,
    paths: &[PathBuf],
) -> u8 {
    if let Err(e) = check_inputs(paths, &protocols) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    let opts = match sweep_options(protocols, out, dat_dir, Some(lanes)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let backend = match make_backend(backend, precision) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let backend = backend.as_ref();
    match with_threads(lanes.threads, || sweep_on(backend, &opts, paths)) {
        Ok(Ok(false)) => exit::OK,
        Ok(Ok(true)) => exit::SOME_FAILED,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            if e.starts_with("--emodel")
                || e.starts_with("a population is for one")
                || e.contains("holds the output of another run")
            {
                exit::USAGE
            } else {
                exit::SOME_FAILED
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

fn run_compare(
    backends: &[String],
    precision: &str,
    protocols: Vec<String>,
    out: PathBuf,
    lanes: &LaneArgs,
    paths: &[PathBuf],
) -> u8 {
    if lanes.record == "none" {
        eprintln!("error: compare reads the traces: --record none leaves none");
        return exit::USAGE;
    }
    use crate::sim::compare;
    if let Err(e) = check_inputs(paths, &protocols) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    if backends.len() < 2 {
        eprintln!("error: --backends needs at least two backends to compare");
        return exit::USAGE;
    }
    let mut made = Vec::new();
    for name in backends {
        match make_backend(name.trim(), Some(precision)) {
            Ok(b) => made.push(b),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    }
    // one folder per backend; the same backend twice gets numbered folders
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for (k, b) in made.iter().enumerate() {
        let name = b.name();
        let dir = if made.iter().filter(|o| o.name() == name).count() > 1 {
            out.join(format!("{name}.{k}"))
        } else {
            out.join(&name)
        };
        dirs.push((name, dir));
    }
    let mut failed = false;
    for (b, (_, dir)) in made.iter().zip(&dirs) {
        println!("== {}", b.name());
        let opts = match sweep_options(protocols.clone(), dir.clone(), None, Some(lanes)) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        let backend = b.as_ref();
        match with_threads(lanes.threads, || sweep_on(backend, &opts, paths)).and_then(|r| r) {
            Ok(f) => failed |= f,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::SOME_FAILED;
            }
        }
    }
    let (ref_name, ref_dir) = &dirs[0];
    for (name, dir) in &dirs[1..] {
        let tol = compare::tolerance(ref_name, name);
        match compare::diff_files(&ref_dir.join("traces.h5"), &dir.join("traces.h5"), &tol) {
            Ok(rows) => {
                print!("{}", compare::render(&rows, ref_name, name, &tol));
                let bad = rows.iter().filter(|r| !r.ok).count();
                if bad > 0 {
                    println!("{bad} of {} traces beyond tolerance", rows.len());
                    failed = true;
                } else {
                    println!("all {} traces within tolerance", rows.len());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        exit::SOME_FAILED
    } else {
        exit::OK
    }
}

fn run_mech(action: MechCommand) -> u8 {
    match action {
        MechCommand::Check { files } => {
            if let Some(missing) = files.iter().find(|p| !p.is_file()) {
                eprintln!("error: {}: no such file", missing.display());
                return exit::USAGE;
            }
            let report = crate::nmodl::report::check_files(&files);
            print!("{}", crate::nmodl::report::render(&report));
            if report.failed() {
                exit::SOME_FAILED
            } else {
                exit::OK
            }
        }
        MechCommand::Emit { ir: _, file } => {
            if !file.is_file() {
                eprintln!("error: {}: no such file", file.display());
                return exit::USAGE;
            }
            let c = crate::nmodl::compile_file(&file);
            for d in c.diagnostics.iter() {
                eprintln!("{}", d.render(None));
            }
            match &c.mechanism {
                Some(m) => {
                    print!("{}", crate::ir::dump::dump(m));
                    exit::OK
                }
                None => {
                    eprintln!("{}", crate::nmodl::report::outcome_line(&c));
                    exit::SOME_FAILED
                }
            }
        }
    }
}
