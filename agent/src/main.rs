//! `canhgac-agent`: the scanner's command line.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    canhgac_agent::init_crypto();
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("canhgac-agent: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
