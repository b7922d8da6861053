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
    /// Simulate the protocols of every e-model under PATHS and write traces.h5 and run.json.
    Run {
        /// Protocol names or globs (`*`, `?`), comma-separated; `package` = every protocol of
        /// the packages; built-in template names (`step`, `ramp`, `IDrest`, `IV`, `APWaveform`,
        /// `sAHP`, `firepattern`) add those protocols to every e-model.
        #[arg(long, value_delimiter = ',', default_value = "package")]
        protocols: Vec<String>,
        /// Where to simulate: `cpu` (the GPU backend is not driven by the schedule yet).
        #[arg(long, default_value = "cpu")]
        backend: String,
        /// Floating-point precision of the simulation: `f64` or `f32`.
        #[arg(long, default_value = "f64")]
        precision: String,
        /// Output folder for traces.h5 and run.json.
        #[arg(long, default_value = "emsweep-out")]
        out: PathBuf,
        /// Also write EModelRunner-style `.dat` files here.
        #[arg(long)]
        dat_dir: Option<PathBuf>,
        /// Package directories, or directories to search for packages.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Compile NMODL mechanism files on their own.
    Mech {
        #[command(subcommand)]
        action: MechCommand,
    },
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
        Command::Run {
            protocols,
            backend,
            precision,
            out,
            dat_dir,
            paths,
        } => run_sweep(protocols, &backend, &precision, out, dat_dir, &paths),
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

fn run_sweep(
    protocols: Vec<String>,
    backend: &str,
    precision: &str,
    out: PathBuf,
    dat_dir: Option<PathBuf>,
    paths: &[PathBuf],
) -> u8 {
    use crate::backend::Precision;
    let precision = match precision {
        "f64" => Precision::F64,
        "f32" => Precision::F32,
        other => {
            eprintln!("error: --precision must be f64 or f32, not `{other}`");
            return exit::USAGE;
        }
    };
    match backend {
        "cpu" => {}
        "gpu" => {
            eprintln!(
                "error: --backend gpu is not available for `run` yet (the GPU backend is not driven by the engine's schedule); use --backend cpu"
            );
            return exit::USAGE;
        }
        other => {
            eprintln!("error: --backend must be cpu, not `{other}`");
            return exit::USAGE;
        }
    }
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        eprintln!("error: {}: no such file or directory", missing.display());
        return exit::USAGE;
    }
    if let Some(file) = paths.iter().find(|p| !p.is_dir()) {
        eprintln!(
            "error: {}: not a directory (protocol files as PATHS are not supported yet; give package directories)",
            file.display()
        );
        return exit::USAGE;
    }
    if protocols.iter().any(|p| p.trim().is_empty()) {
        eprintln!("error: --protocols: an empty protocol name");
        return exit::USAGE;
    }
    let opts = crate::sim::sweep::SweepOptions {
        protocols,
        precision,
        out_dir: out,
        dat_dir,
        command: std::env::args().collect(),
        progress: true,
    };
    let backend = crate::backend::cpu::CpuBackend::new(precision);
    match crate::sim::sweep::sweep(paths, &opts, &backend) {
        Ok((report, summary)) => {
            for f in &report.failures {
                let at = match (&f.file, f.line) {
                    (Some(file), Some(line)) => format!("{file}:{line}: "),
                    (Some(file), None) => format!("{file}: "),
                    _ => String::new(),
                };
                eprintln!("{}[{}]: {at}{}", f.severity, f.kind, f.message);
            }
            print!("{}", summary.render());
            println!("wrote {}", opts.out_dir.display());
            if summary.failed {
                exit::SOME_FAILED
            } else {
                exit::OK
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::SOME_FAILED
        }
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
