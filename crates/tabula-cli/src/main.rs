//! The `tabula` command-line tool. Inspecting, querying, verifying and repairing database
//! directories comes with the CLI issue; until then it explains what it will do.
#![forbid(unsafe_code)]

use std::process::ExitCode;

const HELP: &str = "\
tabula - inspect and query tabula databases

USAGE:
    tabula --help       print this help
    tabula --version    print the version

The subcommands (demo, tables, schema, query, insert, update, delete, stats, checkpoint,
export, import, verify, repair, wal) arrive with the command-line issue. Until then, use the
library: see README.md and `cargo run --release --example university`.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("tabula {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("tabula: unknown command {other:?}\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}
