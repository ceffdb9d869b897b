//! `folio`: the command line of the folio database. See `folio --help`, and the README's
//! tour. Read commands (`stats`, `check`, `cf list`, `get`, `scan`, `dump`) never write to
//! the database (apart from recovery trimming a torn log tail after a crash).

mod args;
mod backup_chain;
mod bench;
mod commands;
mod dump;
mod failure;
mod recovery_bench;
mod render;
mod watch;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("folio: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
