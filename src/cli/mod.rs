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
