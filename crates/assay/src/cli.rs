//! The `assay` command: parse the flags, run the command, map the outcome to an exit code.
//!
//! Exit codes: 0 the command completed (findings or not); 1 `--fail-on` severity reached;
//! 2 usage error; 3 the input could not be read or the output not written; 4 `verify` found
//! something in the report that the image does not back.

mod commands;
mod flags;
mod progress;

use clap::Parser;

fn main() {
    let cli = flags::Cli::parse();
    let code = match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            // The message may quote a file name or a report's text: one escaped line.
            let message = format!("assay: {e:#}");
            eprintln!("{}", assay_model::terminal::escape(&message));
            if e.downcast_ref::<commands::UsageError>().is_some() {
                2
            } else {
                3
            }
        }
    };
    std::process::exit(code);
}
