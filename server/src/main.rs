//! `canhgac-server`: the server's command line.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("canhgac-server: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
