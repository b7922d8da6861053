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
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
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
