//! `check-history PATH [PATH...]`: checks recorded histories offline.
//!
//! Streams each JSON Lines history file through the isolation checker and prints its console
//! report. Exit status: 0 when every history is valid, 1 when any has anomalies (or no final
//! state), 2 on a usage error or an unreadable or malformed file.

use std::process::ExitCode;

use fusio_manifest_chaos::checker::check_files;

const USAGE: &str = "usage: check-history PATH [PATH...]

Checks each recorded history (JSON Lines) for isolation anomalies and prints a report.
Exit status: 0 all valid, 1 anomalies found, 2 usage error or unreadable/malformed file.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let mut paths = Vec::new();
    let mut options_done = false;
    for arg in args {
        if !options_done && arg == "--" {
            options_done = true;
        } else if !options_done && arg.starts_with('-') {
            eprintln!("check-history: unknown option {arg}\n{USAGE}");
            return ExitCode::from(2);
        } else {
            paths.push(arg);
        }
    }
    if paths.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    match check_files(&paths) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("check-history: {e}");
            ExitCode::from(2)
        }
    }
}
