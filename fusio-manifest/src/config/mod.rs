//! Every environment variable the harness reads, in one table, and the one place that reads
//! them.
//!
//! [`VARS`] lists each variable with its default and meaning (README's configuration table is
//! checked against it by a test). [`Settings::from_env`] reads the process environment once
//! and returns everything a run needs, parsed and checked; the other modules receive values
//! and never read the environment themselves. A bad value stops the run with one line naming
//! the variable; an unknown `CHAOS_*` / `FUSIO_CHAOS_*` variable gets a warning naming the
//! closest known one.

mod knobs;
mod overrides;
mod search;
mod settings;
mod vars;
mod workload;

pub use knobs::{WorkloadConfig, WorkloadOverrides};
pub use search::{SearchSettings, Shard};
pub use settings::{parse_scenarios, Settings};
pub use workload::ManifestMode;

pub use crate::config_error::ConfigError;

/// One environment variable: its name, its default and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// The name, e.g. `CHAOS_NUM_WRITERS`.
    pub name: &'static str,
    /// The default, as README states it.
    pub default: &'static str,
    /// What it sets.
    pub meaning: &'static str,
}

const fn var(name: &'static str, default: &'static str, meaning: &'static str) -> Var {
    Var {
        name,
        default,
        meaning,
    }
}

/// Every environment variable the harness reads, in README's order: the workload knobs (the
/// knob table of `knobs.rs`), then the rest.
pub const VARS: &[Var] = &ALL_VARS;

const ALL_VARS: [Var; knobs::KNOB_VARS.len() + OTHER_VARS.len()] =
    concat(knobs::KNOB_VARS, OTHER_VARS);

/// The variables that are not workload knobs.
const OTHER_VARS: &[Var] = &[
    var(
        "CHAOS_CONFIG",
        "unset",
        "`default`: chaos sweep uses the built-in workload instead of `comprehensive_sweep.csv`",
    ),
    var(
        "CHAOS_PARALLEL",
        "auto",
        "scenarios run at once (at least 1). `auto`: the chaos and fault sweeps run one scenario per 2 cores at once (one at a time on 2-3 cores; one scenario keeps about one core busy), then each CPU-chaos scenario alone, since burner threads load the whole process; the comprehensive sweep runs one configuration per 2 cores, at most 8",
    ),
    var("CHAOS_SEQUENTIAL", "0", "`1`: one scenario at a time"),
    var(
        "CHAOS_SCENARIOS",
        "all",
        "comma-separated subset, e.g. `baseline,net-block-10s-3x`",
    ),
    var(
        "CHAOS_SEED",
        "random",
        "fixes every random choice; printed at start and saved in `STEM/STEM_run.json`",
    ),
    var(
        "CHAOS_TIME",
        "`simulated` (fault and coverage sweeps), `real` (the rest)",
        "`real`: the host's clock and S3 over HTTP, for latency and throughput. `simulated`: each scenario on its own thread in virtual time with an in-process S3 store, replayed exactly by `CHAOS_SEED` (a digest of every storage operation is printed and saved in `STEM/STEM_run.json`); no CPU chaos there",
    ),
    var(
        "CHAOS_SIM_STORE",
        "`s3`",
        "what the simulated store answers as (simulated time only): `s3`: fusio's S3 client against the embedded server (a missing object is an HTTP 404); `fs`: fusio's local filesystem `TokioFs` (a missing file is an I/O `NotFound`, `If-Match` on a missing key `PreconditionFailed`, files written in place, listings of one directory)",
    ),
    var(
        "CHAOS_FAULT_POINTS",
        "unset",
        "targeted S3 faults for every scenario, e.g. `condput:HEAD.json#2=answer_lost;get:segments/#1..=3=stall(2s)` (grammar in `chaos::fault_points`); `none`: no point. With one seed of the seed search (set or `none`): replay that seed with random faults off and only these points, and the `CHAOS_*` workload settings given",
    ),
    var(
        "CHAOS_SEARCH_SEEDS",
        "200",
        "`test_seed_search`: how many seeds (random schedules) the search runs, from `CHAOS_SEARCH_FROM` (default 1)",
    ),
    var("CHAOS_SEARCH_FROM", "1", "`test_seed_search`: the first seed"),
    var(
        "CHAOS_SEARCH_SHARD",
        "0/1",
        "`test_seed_search`: `INDEX/COUNT`, the shard of the seed range this process runs (seeds `FROM + INDEX + k*COUNT`); merge shard reports with `CHAOS_SEARCH_MERGE`",
    ),
    var(
        "CHAOS_SEARCH_FAULTS",
        "on",
        "`test_seed_search`: `off` draws fault-free schedules (a false-alarm check)",
    ),
    var(
        "CHAOS_SEARCH_COMPACTORS",
        "on",
        "`test_seed_search`: `off` draws no compactors or pinned readers",
    ),
    var(
        "CHAOS_SEARCH_SHRINK",
        "on",
        "`test_seed_search`: `off` skips shrinking the first seed of each failure feature",
    ),
    var(
        "CHAOS_SEARCH_MERGE",
        "unset",
        "`test_seed_search`: comma-separated shard reports (`search.json`) to merge into one report instead of running seeds",
    ),
    var("CHAOS_OUTPUT_DIR", "workspace root", "where result files go"),
    var(
        "FUSIO_CHAOS_S3_PROFILE",
        "`s3-standard` (entry points), `none` (fast tests)",
        "per-operation latency model of the embedded server: `none`, `s3-standard`, `express`",
    ),
    var(
        "FUSIO_CHAOS_BACKEND",
        "auto",
        "`embedded` or `s3`; auto = `s3` when AWS keys are set",
    ),
    var(
        "AWS_ACCESS_KEY_ID",
        "unset",
        "access key for the `s3` backend (static; no metadata endpoint is probed)",
    ),
    var(
        "AWS_SECRET_ACCESS_KEY",
        "unset",
        "secret key for the `s3` backend; never printed or saved",
    ),
    var(
        "AWS_SESSION_TOKEN",
        "unset",
        "session token for the `s3` backend; never printed or saved",
    ),
    var("AWS_REGION", "ap-southeast-1", "region of the bucket"),
    var("FUSIO_MANIFEST_BUCKET", "—", "bucket for the `s3` backend"),
    var(
        "AWS_ENDPOINT_URL",
        "unset",
        "S3-compatible endpoint (path style), e.g. MinIO",
    ),
    var(
        "HTTP_PROXY",
        "unset",
        "also `http_proxy`; when set, `NO_PROXY` must hold 127.0.0.1 or the run stops",
    ),
    var(
        "ALL_PROXY",
        "unset",
        "also `all_proxy`; when set, `NO_PROXY` must hold 127.0.0.1 or the run stops",
    ),
    var(
        "NO_PROXY",
        "unset",
        "also `no_proxy`; hosts that bypass a proxy (`.ci/run` sets `127.0.0.1,localhost`)",
    ),
];

/// `a` then `b`, as an array of their `N` rows.
const fn concat<const N: usize>(a: &[Var], b: &[Var]) -> [Var; N] {
    assert!(a.len() + b.len() == N);
    let mut out = [var("", "", ""); N];
    let mut i = 0;
    while i < N {
        out[i] = if i < a.len() { a[i] } else { b[i - a.len()] };
        i += 1;
    }
    out
}

/// Variables whose values are secrets: never printed, never saved in provenance.
pub const SECRET_VARS: &[&str] = &["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// README's configuration table as [`VARS`] makes it (a test compares it with README).
pub fn markdown_table() -> String {
    let mut out = String::from("| variable | default | meaning |\n| --- | --- | --- |\n");
    for v in VARS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            v.name, v.default, v.meaning
        ));
    }
    out
}

/// The `CHAOS_*` / `FUSIO_CHAOS_*` names among `names` that the harness does not read, each
/// with the closest known name when one is near (a likely typo).
pub fn unknown_vars(
    names: impl IntoIterator<Item = String>,
) -> Vec<(String, Option<&'static str>)> {
    names
        .into_iter()
        .filter(|n| n.starts_with("CHAOS_") || n.starts_with("FUSIO_CHAOS_"))
        .filter(|n| !VARS.iter().any(|v| v.name == n))
        .map(|n| {
            let closest = VARS
                .iter()
                .map(|v| (strsim::levenshtein(&n, v.name), v.name))
                .min()
                .filter(|(d, _)| *d <= 3)
                .map(|(_, k)| k);
            (n, closest)
        })
        .collect()
}

/// The warning printed for an unknown variable.
pub fn unknown_var_warning(name: &str, closest: Option<&str>) -> String {
    match closest {
        Some(k) => {
            format!("⚠️ {name} is not a variable this harness reads (ignored); did you mean {k}?")
        }
        None => {
            format!("⚠️ {name} is not a variable this harness reads (ignored); README lists them")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_gets_a_warning_naming_the_closest_known_one() {
        let found = unknown_vars(
            [
                "CHAOS_NUM_WRITER",
                "CHAOS_NUM_WRITERS",
                "HOME",
                "CHAOS_ZZZZZZZZZZZZ",
            ]
            .map(String::from),
        );
        assert_eq!(
            found,
            [
                ("CHAOS_NUM_WRITER".to_string(), Some("CHAOS_NUM_WRITERS")),
                ("CHAOS_ZZZZZZZZZZZZ".to_string(), None),
            ]
        );
        assert!(
            unknown_var_warning("CHAOS_NUM_WRITER", Some("CHAOS_NUM_WRITERS"))
                .contains("did you mean CHAOS_NUM_WRITERS?")
        );
    }

    /// The byte range of the configuration table in `readme`: the `|` lines of its
    /// Configuration section.
    fn readme_table_span(readme: &str) -> std::ops::Range<usize> {
        let section = readme
            .find("## Configuration")
            .expect("README has a Configuration section");
        let end = readme[section + 1..]
            .find("\n## ")
            .map_or(readme.len(), |e| section + 1 + e + 1);
        let start = section
            + readme[section..end]
                .find("\n|")
                .expect("the Configuration section has a table")
            + 1;
        let last = start + readme[start..end].rfind("\n|").unwrap_or(0) + 1;
        let stop = last
            + readme[last..]
                .find('\n')
                .map_or(readme.len() - last, |n| n + 1);
        start..stop
    }

    /// README's table is the one the code prints. `UPDATE_README=1 cargo test -p
    /// fusio-manifest-chaos --lib readme_configuration_table` writes it into README instead
    /// (atomically), so adding a knob needs no hand edit of README.
    #[test]
    fn readme_configuration_table_is_the_table_in_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(&path).expect("README.md is readable");
        let span = readme_table_span(&readme);
        let expected = markdown_table();
        if std::env::var_os("UPDATE_README").is_some() && readme[span.clone()] != expected {
            let mut updated = readme.clone();
            updated.replace_range(span, &expected);
            crate::utils::write_atomic(&path, updated.as_bytes()).expect("README.md written");
            return;
        }
        assert_eq!(
            &readme[span], expected,
            "README's configuration table differs from config::VARS; run \
             `UPDATE_README=1 cargo test -p fusio-manifest-chaos --lib readme_configuration_table` \
             to write the expected table into README"
        );
    }

    #[test]
    fn the_readme_table_span_is_the_table_and_only_the_table() {
        let readme = "# T\n\n## Configuration\n\nSome text.\n\n| a | b |\n| --- | --- |\n| x | y |\n\nAfter.\n\n## Next\n\n| other | table |\n";
        let span = readme_table_span(readme);
        assert_eq!(&readme[span], "| a | b |\n| --- | --- |\n| x | y |\n");
        let last = "## Configuration\n| a |\n| b |";
        assert_eq!(&last[readme_table_span(last)], "| a |\n| b |");
    }

    /// README stays short: what it is, the two commands, this table, the backends, the
    /// reports and a few headline figures; the measured log is RESULTS.md.
    #[test]
    fn readme_stays_under_2500_words() {
        let words = include_str!("../../../README.md")
            .split_whitespace()
            .count();
        assert!(
            words <= 2_500,
            "README has {words} words; move detail to RESULTS.md or the plan"
        );
    }

    #[test]
    fn every_variable_is_listed_once() {
        let mut names: Vec<&str> = VARS.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARS.len());
        assert!(SECRET_VARS.iter().all(|s| names.contains(s)));
    }
}
