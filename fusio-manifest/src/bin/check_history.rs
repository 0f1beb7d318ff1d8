//! `check-history`: checks recorded histories offline, and saves or prints their anomalies.
//!
//! - `check-history PATH [PATH...]` streams each JSON Lines history file through the isolation
//!   checker and prints its console report.
//! - `check-history --write-anomalies OUT HISTORY` does the same for one history and also
//!   writes its anomalies to `OUT` as JSON Lines (atomically).
//! - `check-history --anomalies FILE [FILE...]` pretty-prints saved anomalies files again.
//!
//! Exit status: 0 when every verdict is PASS (with `--anomalies`: no file holds an anomaly),
//! 1 when any verdict is FAIL or UNKNOWN (with `--anomalies`: some file holds an anomaly), 2 on
//! a usage error or an unreadable or malformed file.

use std::path::Path;
use std::process::ExitCode;

use fusio_manifest_chaos::checker::{check_file, check_files, print_anomaly_files};

const USAGE: &str = "usage: check-history [--] HISTORY [HISTORY...]
       check-history --write-anomalies OUT.anomalies.jsonl HISTORY
       check-history --anomalies FILE.anomalies.jsonl [FILE...]

Checks each recorded history (JSON Lines) for isolation anomalies and prints a report with its
verdict (PASS, FAIL or UNKNOWN: reason).
  --write-anomalies OUT  also write the anomalies of the (one) history to OUT as JSON Lines:
                         one anomaly a line (class, explanation, ops), then {\"truncated\": N}
                         if more were found than kept
  --anomalies            print saved anomalies files instead of checking histories
Exit status: 0 all PASS (--anomalies: no anomaly in any file), 1 any FAIL or UNKNOWN
(--anomalies: some file holds an anomaly), 2 usage error or unreadable/malformed file.";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    /// Print the usage.
    Help,
    /// Check these histories.
    Check(Vec<String>),
    /// Check one history and write its anomalies file.
    WriteAnomalies {
        /// The anomalies file to write.
        out: String,
        /// The history to check.
        history: String,
    },
    /// Print these anomalies files.
    ShowAnomalies(Vec<String>),
}

/// Parses the arguments (without the program name); `Err` is the usage error to report.
fn parse_args(args: Vec<String>) -> Result<Command, String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Command::Help);
    }
    let mut paths = Vec::new();
    let mut out = None;
    let mut show = false;
    let mut options_done = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            _ if options_done => paths.push(arg),
            "--" => options_done = true,
            "--anomalies" => show = true,
            "--write-anomalies" => {
                let path = args
                    .next()
                    .ok_or("--write-anomalies needs an output path")?;
                out = Some(path);
            }
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ => paths.push(arg),
        }
    }
    if paths.is_empty() {
        return Err("no file given".to_string());
    }
    match (show, out) {
        (true, Some(_)) => Err("--anomalies and --write-anomalies exclude each other".to_string()),
        (true, None) => Ok(Command::ShowAnomalies(paths)),
        (false, Some(out)) if paths.len() == 1 => Ok(Command::WriteAnomalies {
            out,
            history: paths.remove(0),
        }),
        (false, Some(_)) => Err("--write-anomalies takes exactly one history".to_string()),
        (false, None) => Ok(Command::Check(paths)),
    }
}

/// Exit status 0 when `ok`, else 1.
fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Prints `message` as an error and returns exit status 2.
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("check-history: {message}");
    ExitCode::from(2)
}

/// Checks `history`, prints its report and writes its anomalies to `out`.
fn write_anomalies(out: &str, history: &str) -> ExitCode {
    let report = match check_file(history) {
        Ok(report) => report,
        Err(e) => return fail(e),
    };
    report.print_console(history);
    if let Err(e) = report.write_anomalies(Path::new(out)) {
        return fail(format_args!("cannot write anomalies file {out}: {e}"));
    }
    println!(
        "Anomalies [{history}]: {} found, saved to {out}",
        report.total_anomalies()
    );
    status(report.is_valid())
}

fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1).collect()) {
        Ok(command) => command,
        Err(message) => return fail(format_args!("{message}\n{USAGE}")),
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Check(paths) => check_files(&paths).map_or_else(fail, status),
        Command::WriteAnomalies { out, history } => write_anomalies(&out, &history),
        Command::ShowAnomalies(paths) => print_anomaly_files(&paths).map_or_else(fail, status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|a| a.to_string()).collect())
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn parses_the_three_modes() {
        assert_eq!(parse(&["a", "b"]), Ok(Command::Check(strings(&["a", "b"]))));
        assert_eq!(
            parse(&["--", "-odd"]),
            Ok(Command::Check(strings(&["-odd"])))
        );
        assert_eq!(
            parse(&["--anomalies", "x.jsonl", "y.jsonl"]),
            Ok(Command::ShowAnomalies(strings(&["x.jsonl", "y.jsonl"])))
        );
        assert_eq!(
            parse(&["h.jsonl", "--write-anomalies", "out.jsonl"]),
            Ok(Command::WriteAnomalies {
                out: "out.jsonl".to_string(),
                history: "h.jsonl".to_string(),
            })
        );
        assert_eq!(parse(&["x", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn rejects_bad_usage() {
        for (args, message) in [
            (&[][..], "no file given"),
            (&["--bogus", "a"][..], "unknown option --bogus"),
            (&["--write-anomalies"][..], "needs an output path"),
            (
                &["--write-anomalies", "o", "a", "b"][..],
                "exactly one history",
            ),
            (&["--write-anomalies", "o"][..], "no file given"),
            (
                &["--anomalies", "--write-anomalies", "o", "a"][..],
                "exclude",
            ),
        ] {
            let err = parse(args).expect_err("usage error");
            assert!(err.contains(message), "{args:?}: {err}");
        }
    }
}
