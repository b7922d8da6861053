//! The `emsweep` command: parse the command line, hand it to the library, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match emsweep::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                emsweep::cli::exit::USAGE
            } else {
                emsweep::cli::exit::OK
            });
        }
    };
    ExitCode::from(emsweep::cli::run(cli))
}
