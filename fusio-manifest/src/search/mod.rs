//! The seed search: many random schedules in simulated time, failures grouped by signature,
//! each first failure shrunk to a minimal repro.
//!
//! A seed draws a whole schedule ([`schedule`]); the search runs a range of seeds (or one shard
//! of it) one per core at once, each in its own simulated world ([`crate::world::sim`]), checks
//! each history and groups failing seeds by [`Signature`] ([`signature`]). A single-process
//! search (or the merge of shard reports, `CHAOS_SEARCH_MERGE`) then shrinks the first seed of
//! each feature ([`shrink`]) to a [`Repro`]: the seed's schedule with random faults off and at
//! most a few fault points, on a smaller workload. Results go to `seed_search/` under the
//! output directory: `search.json` and `search.md` (shards: `search-shard-I-of-N.json`), and
//! per shrunk feature `shrunk-FEATURE.txt` (its `CHAOS_FAULT_POINTS` and workload) and
//! `shrunk-FEATURE.rs` (a test to paste).

pub mod findings;
pub mod report;
pub mod repro;
pub mod schedule;
pub mod shrink;
pub mod signature;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

pub use report::{Range, SearchReport, ShrunkEntry, Tally};
pub use repro::{run_and_judge, Repro};
pub use schedule::{Case, Draw};
pub use signature::{Feature, Signature};

use crate::config::Settings;
use crate::results::write_atomic;

/// The folder of a search's files under the output directory.
pub const FOLDER: &str = "seed_search";

/// Seeds run at once: one per core (each simulated run is one thread).
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Where a search writes.
pub fn folder(out_dir: &Path) -> PathBuf {
    out_dir.join(FOLDER)
}

/// The range `all` describe, for runs of `duration`.
pub fn range(all: &Settings, duration: Duration) -> Range {
    let settings = &all.search;
    Range {
        from: settings.from,
        seeds: settings.seeds,
        duration_secs: duration.as_secs(),
        faults: settings.faults,
        compactors: settings.compactors,
        store: all.sim_store.name().to_string(),
    }
}

/// Runs the shard of the range `settings` name, printing progress; returns its report
/// (tally only: shrinking is [`shrink_firsts`]).
pub async fn run_seeds(all: &Settings, duration: Duration, out_dir: &Path) -> SearchReport {
    let settings = &all.search;
    let range = range(all, duration);
    let store = all.sim_store;
    let draw = Draw {
        faults: settings.faults,
        compactors: settings.compactors,
    };
    let scratch = folder(out_dir).join("runs");
    let keep_files = settings.seeds == 1;
    let seeds: Vec<u64> = settings
        .shard
        .seeds(settings.from, settings.seeds)
        .collect();
    let total = seeds.len();
    let mut report = SearchReport::new(range.clone(), settings.shard);
    // The host's clock, for the search's speed only (never inside a simulated run).
    #[allow(clippy::disallowed_methods)]
    let wall = std::time::Instant::now();
    let mut last_line = Duration::ZERO;
    let mut runs = stream::iter(seeds)
        .map(|seed| {
            let dir = scratch.join(format!("seed-{seed}"));
            async move {
                let case = Case::draw(seed, duration, draw);
                let ran = run_and_judge(&case, Vec::new(), store, &dir).await;
                if !keep_files {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                (seed, ran)
            }
        })
        .buffer_unordered(parallelism());
    while let Some((seed, ran)) = runs.next().await {
        report.tally.add(seed, &ran.signature);
        if keep_files {
            print_seed(seed, &ran, &scratch);
        }
        let elapsed = host_since(wall);
        if elapsed - last_line >= Duration::from_secs(5) || report.tally.ran as usize == total {
            last_line = elapsed;
            print_progress(&report.tally, total, elapsed);
        }
    }
    report.wall_secs = host_since(wall).as_secs_f64();
    report
}

/// The host's time since `start`: the search's own speed, measured outside every simulated
/// run (a run reads only its world's clock).
#[allow(clippy::disallowed_methods)]
fn host_since(start: std::time::Instant) -> Duration {
    start.elapsed()
}

fn print_seed(seed: u64, ran: &repro::Ran, scratch: &Path) {
    println!("seed {seed}: {}", ran.signature);
    if let Ok(r) = &ran.result {
        println!(
            "  verdict {}; history {}",
            r.verdict(),
            r.history_path.display()
        );
    }
    println!(
        "  {} faults injected: CHAOS_FAULT_POINTS='{}'",
        ran.injected.len(),
        report::points_or_none(&crate::chaos::fault_log::spec(&ran.injected))
    );
    println!("  files under {}", scratch.display());
}

fn print_progress(tally: &Tally, total: usize, elapsed: Duration) {
    let rate = tally.ran as f64 / elapsed.as_secs_f64().max(1e-3);
    let sigs: Vec<String> = tally
        .signatures
        .iter()
        .map(|(s, seen)| format!("{s} ({})", seen.count))
        .collect();
    println!(
        "search: {}/{total} seeds, {rate:.2} seeds/s, {} clean, {} signatures: {}",
        tally.ran,
        tally.clean,
        tally.signatures.len(),
        sigs.join(", ")
    );
}

/// Shrinks the first seed of each feature of `report` (harness faults excepted: those are
/// ours to fix, not findings) and saves each repro beside the report.
pub async fn shrink_firsts(report: &mut SearchReport, out_dir: &Path) -> std::io::Result<()> {
    let draw = Draw {
        faults: report.range.faults,
        compactors: report.range.compactors,
    };
    let duration = Duration::from_secs(report.range.duration_secs);
    let store = crate::backend::SimStoreMode::parse("CHAOS_SIM_STORE", &report.range.store)
        .map_err(std::io::Error::other)?;
    let dir = folder(out_dir);
    let scratch = dir.join("shrink");
    let firsts = seeds_to_shrink(report);
    for (feature, seed) in firsts {
        let case = Case::draw(seed, duration, draw);
        let ran = run_and_judge(&case, Vec::new(), store, &scratch).await;
        let shrunk = shrink::shrink(
            &case,
            draw,
            &report.range.store,
            ran.injected.clone(),
            &feature,
            &scratch,
        )
        .await;
        let finding = shrunk.repro.as_ref().and_then(|r| {
            let workload = r.case().ok()?.config;
            findings::matching(&feature, &r.fault_points().unwrap_or_default(), &workload)
        });
        let entry = ShrunkEntry {
            feature: feature.to_string(),
            seed,
            recorded: shrunk.recorded,
            replays: shrunk.replays,
            repro: shrunk.repro,
            finding,
        };
        print_shrunk(&entry);
        if let Some(repro) = &entry.repro {
            save_repro(&dir, &entry.feature, repro)?;
        }
        report.shrunk.push(entry);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Signatures shrunk per feature, at most: a feature whose first seed has one cause (finding
/// 2's stall, say) may have another under another signature, but 2,000 seeds give some 50
/// signatures, and shrinking each for each of its features would take most of an hour.
const SIGNATURES_PER_FEATURE: usize = 3;

/// The (feature, seed) pairs to shrink: for each feature (harness faults excepted: those are
/// ours to fix, not findings), the first seeds of the [`SIGNATURES_PER_FEATURE`] signatures
/// with the fewest other features that show it (the fewer features, the likelier one cause),
/// earliest seed first on a tie.
fn seeds_to_shrink(report: &SearchReport) -> Vec<(Feature, u64)> {
    let mut candidates: Vec<(Feature, usize, u64)> = Vec::new();
    for (sig, seen) in &report.tally.signatures {
        let Some(seed) = seen.first() else { continue };
        let features: Vec<Feature> = sig.split('+').filter_map(|f| f.parse().ok()).collect();
        for feature in features.iter().filter(|f| !f.is_harness()) {
            candidates.push((feature.clone(), features.len(), seed));
        }
    }
    candidates.sort();
    candidates.dedup_by(|a, b| a.0 == b.0 && a.2 == b.2);
    let mut picked: Vec<(Feature, u64)> = Vec::new();
    for (feature, _, seed) in candidates {
        if picked.iter().filter(|(f, _)| *f == feature).count() < SIGNATURES_PER_FEATURE {
            picked.push((feature, seed));
        }
    }
    picked
}

fn print_shrunk(s: &ShrunkEntry) {
    match &s.repro {
        Some(r) => println!(
            "shrunk {} (seed {}): {} recorded faults -> {} in {} replays; workload `{}`, {} s; \
             finding {}\n  CHAOS_FAULT_POINTS='{}'",
            s.feature,
            s.seed,
            s.recorded,
            r.fault_points().map(|p| p.len()).unwrap_or_default(),
            s.replays,
            r.workload,
            r.duration_secs,
            s.finding.as_deref().unwrap_or("none matched"),
            r.points
        ),
        None => println!(
            "shrunk {} (seed {}): did not show again with random faults off ({} replays)",
            s.feature, s.seed, s.replays
        ),
    }
}

/// A feature's name as a file name.
fn file_name(feature: &str) -> String {
    feature
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn save_repro(dir: &Path, feature: &str, repro: &Repro) -> std::io::Result<()> {
    let name = file_name(feature);
    let txt = format!(
        "feature: {feature}\nseed: {}\nduration_secs: {}\ncompactors: {}\nfaults drawn: {}\n\
         workload: {}\nCHAOS_FAULT_POINTS='{}'\nreplay: {}\n",
        repro.seed,
        repro.duration_secs,
        repro.compactors,
        repro.faults,
        repro.workload,
        repro.points,
        repro.command()
    );
    write_atomic(&dir.join(format!("shrunk-{name}.txt")), txt.as_bytes())?;
    let test = repro.as_test(&format!("shrunk_{name}_seed_{}", repro.seed), feature);
    write_atomic(&dir.join(format!("shrunk-{name}.rs")), test.as_bytes())
}

/// The file a report of `shards` is saved as.
pub fn report_path(out_dir: &Path, shards: &std::collections::BTreeSet<(u64, u64)>) -> PathBuf {
    let name = match shards.iter().next() {
        Some((i, n)) if shards.len() == 1 && *n > 1 => format!("search-shard-{i}-of-{n}.json"),
        _ => "search.json".to_string(),
    };
    folder(out_dir).join(name)
}

/// Saves `report` (JSON, and Markdown beside it) and returns the JSON's path.
pub fn save(report: &SearchReport, out_dir: &Path) -> std::io::Result<PathBuf> {
    let path = report_path(out_dir, &report.shards);
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    write_atomic(&path, &json)?;
    write_atomic(&path.with_extension("md"), report.markdown().as_bytes())?;
    Ok(path)
}

/// Reads shard reports, naming the file that cannot be read.
pub fn load(paths: &[PathBuf]) -> Result<Vec<SearchReport>, String> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read shard report {}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{} is not a seed-search report ({e}); pass the search-shard-I-of-N.json \
                     files a search wrote",
                    p.display()
                )
            })
        })
        .collect()
}

/// What `test_seed_search` does with `all.search`: merge the shard reports
/// `CHAOS_SEARCH_MERGE` names, or run this process's shard of the range; then (a whole range
/// only, with `CHAOS_SEARCH_SHRINK=on`) shrink each feature's first seed; save and return the
/// report. One seed with `CHAOS_FAULT_POINTS` set runs that seed's schedule with random
/// faults off and only those points instead (a repro), and keeps its files.
pub async fn run(
    all: &Settings,
    duration: Duration,
    out_dir: &Path,
) -> Result<SearchReport, String> {
    let settings = &all.search;
    if settings.seeds == 1 && all.fault_points_given {
        let repro = Repro {
            seed: settings.from,
            duration_secs: duration.as_secs(),
            compactors: settings.compactors,
            faults: settings.faults,
            workload: String::new(),
            points: crate::chaos::fault_log::spec(&all.fault_points),
            store: all.sim_store.name().to_string(),
        };
        let scratch = folder(out_dir).join("runs");
        let ran = repro.run_over(&scratch, &all.workload).await?;
        print_seed(settings.from, &ran, &scratch);
        let mut report = SearchReport::new(range(all, duration), settings.shard);
        report.tally.add(settings.from, &ran.signature);
        return Ok(report);
    }
    let mut report = match &settings.merge {
        Some(paths) => SearchReport::merge(&load(paths)?)?,
        None => {
            crate::console::quiet_runs(settings.seeds > 1);
            let report = run_seeds(all, duration, out_dir).await;
            crate::console::quiet_runs(false);
            report
        }
    };
    let whole = report.shards.iter().map(|s| s.1).max() == Some(report.shards.len() as u64);
    if settings.shrink && whole && report.tally.ran > 1 {
        crate::console::quiet_runs(true);
        let shrunk = shrink_firsts(&mut report, out_dir).await;
        crate::console::quiet_runs(false);
        shrunk.map_err(|e| format!("saving a shrunk repro: {e}"))?;
    }
    let path = save(&report, out_dir).map_err(|e| format!("saving the search report: {e}"))?;
    print!("{}", report.markdown());
    println!("\nreport: {} (and .md)", path.display());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Shard;

    fn sig(features: &[Feature]) -> Signature {
        Signature(features.iter().cloned().collect())
    }

    #[test]
    fn each_feature_shrinks_its_purest_signatures_first_and_at_most_three() {
        let lease = Feature::StrayLease;
        let stall = Feature::StallBeyondLeaseTtl;
        let mut report = SearchReport::new(
            range(&Settings::default(), Duration::from_secs(1)),
            Shard::default(),
        );
        report.tally.add(1, &sig(&[lease.clone(), stall.clone()]));
        report.tally.add(
            2,
            &sig(&[lease.clone(), stall.clone(), Feature::NoFinalState]),
        );
        report.tally.add(3, &sig(std::slice::from_ref(&stall)));
        report.tally.add(4, &sig(&[Feature::Harness]));
        report.tally.add(5, &sig(std::slice::from_ref(&lease)));
        report
            .tally
            .add(6, &sig(&[lease.clone(), Feature::NoFinalState]));
        report
            .tally
            .add(7, &sig(&[stall.clone(), Feature::NoFinalState]));
        let picked = seeds_to_shrink(&report);
        let of = |f: &Feature| -> Vec<u64> {
            picked.iter().filter(|(g, _)| g == f).map(|p| p.1).collect()
        };
        assert_eq!(
            of(&lease),
            vec![5, 1, 6],
            "one feature first, then two, by seed"
        );
        assert_eq!(of(&stall), vec![3, 1, 7]);
        assert_eq!(of(&Feature::NoFinalState), vec![6, 7, 2]);
        assert!(of(&Feature::Harness).is_empty(), "ours: never shrunk");
    }
}
