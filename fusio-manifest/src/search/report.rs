//! The search's report: per signature (and per single feature) the first seed, how many seeds
//! showed it and the command that replays that seed; shard reports merge into the report of
//! one run over the same seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::signature::Signature;
use crate::config::Shard;

/// Seeds kept per signature (the smallest ones).
pub const SEEDS_KEPT: usize = 20;

/// What one search was asked to run (equal across the shards of one search).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The first seed.
    pub from: u64,
    /// How many seeds the whole range holds.
    pub seeds: u64,
    /// Simulated seconds per seed.
    pub duration_secs: u64,
    /// Schedules drew faults.
    pub faults: bool,
    /// Schedules could draw compactors.
    pub compactors: bool,
    /// What the simulated store answered as: `s3` or `fs` (`CHAOS_SIM_STORE`).
    pub store: String,
}

impl Range {
    /// The command that runs seed `seed` of this range alone, exactly (its files are kept).
    pub fn replay_command(&self, seed: u64) -> String {
        let mut vars = format!(
            "CHAOS_SEARCH_FROM={seed} CHAOS_SEARCH_SEEDS=1 CHAOS_SEARCH_SHRINK=off \
             CHAOS_DURATION_SECS={}",
            self.duration_secs
        );
        if !self.faults {
            vars.push_str(" CHAOS_SEARCH_FAULTS=off");
        }
        if !self.compactors {
            vars.push_str(" CHAOS_SEARCH_COMPACTORS=off");
        }
        if self.store != "s3" {
            vars.push_str(&format!(" CHAOS_SIM_STORE={}", self.store));
        }
        format!("{vars} {SEARCH_COMMAND}")
    }
}

/// The command that runs the search, after its `CHAOS_*` variables.
pub const SEARCH_COMMAND: &str = "cargo test --release -p fusio-manifest-chaos --test \
                                  performance_test test_seed_search -- --ignored --nocapture";

/// Fault points as `CHAOS_FAULT_POINTS` takes them for a replay: `spec`, or `none` for none
/// (an empty value would leave the variable unset and random faults on).
pub fn points_or_none(spec: &str) -> &str {
    if spec.is_empty() {
        "none"
    } else {
        spec
    }
}

/// Seeds that showed one signature or feature.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// How many seeds.
    pub count: u64,
    /// The smallest of them, at most [`SEEDS_KEPT`], ascending (the first is the first seed).
    pub seeds: Vec<u64>,
}

impl Seen {
    fn add(&mut self, seed: u64) {
        self.count += 1;
        self.seeds.push(seed);
        self.seeds.sort_unstable();
        self.seeds.truncate(SEEDS_KEPT);
    }

    fn merge(&mut self, other: &Seen) {
        self.count += other.count;
        self.seeds.extend(&other.seeds);
        self.seeds.sort_unstable();
        self.seeds.dedup();
        self.seeds.truncate(SEEDS_KEPT);
    }

    /// The first (smallest) seed.
    pub fn first(&self) -> Option<u64> {
        self.seeds.first().copied()
    }
}

/// What the seeds showed: a function of the range and the seeds run, whatever the sharding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Seeds run.
    pub ran: u64,
    /// Seeds that showed nothing.
    pub clean: u64,
    /// Per signature (its text, e.g. `aborted_read+stall>lease_ttl`).
    pub signatures: BTreeMap<String, Seen>,
    /// Per single feature (its text, e.g. `stall>lease_ttl`), whatever else the seed showed.
    pub features: BTreeMap<String, Seen>,
}

impl Tally {
    /// Counts seed `seed`, which showed `signature`.
    pub fn add(&mut self, seed: u64, signature: &Signature) {
        self.ran += 1;
        if signature.is_clean() {
            self.clean += 1;
            return;
        }
        self.signatures
            .entry(signature.to_string())
            .or_default()
            .add(seed);
        for feature in &signature.0 {
            self.features
                .entry(feature.to_string())
                .or_default()
                .add(seed);
        }
    }

    /// Adds another tally (of other seeds).
    pub fn merge(&mut self, other: &Tally) {
        self.ran += other.ran;
        self.clean += other.clean;
        for (k, v) in &other.signatures {
            self.signatures.entry(k.clone()).or_default().merge(v);
        }
        for (k, v) in &other.features {
            self.features.entry(k.clone()).or_default().merge(v);
        }
    }
}

/// One feature's shrunk repro, as saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShrunkEntry {
    /// The feature (e.g. `aborted_read`).
    pub feature: String,
    /// The seed shrunk.
    pub seed: u64,
    /// Faults that seed's run injected.
    pub recorded: usize,
    /// Replays the shrink ran.
    pub replays: usize,
    /// The minimal repro, `None` if the failure did not show with random faults off.
    pub repro: Option<super::Repro>,
    /// The finding of FINDINGS.md its cause matches, if any.
    pub finding: Option<String>,
}

/// A search's report (one shard's, or merged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// The range searched.
    pub range: Range,
    /// The shards in this report (`index/count`).
    pub shards: BTreeSet<(u64, u64)>,
    /// What the seeds showed.
    pub tally: Tally,
    /// Wall time of the search, s (summed over shards).
    pub wall_secs: f64,
    /// Shrunk repros (merged reports and single-shard runs).
    pub shrunk: Vec<ShrunkEntry>,
}

impl SearchReport {
    /// An empty report of `shard` of `range`.
    pub fn new(range: Range, shard: Shard) -> Self {
        Self {
            range,
            shards: BTreeSet::from([(shard.index, shard.count)]),
            tally: Tally::default(),
            wall_secs: 0.0,
            shrunk: Vec::new(),
        }
    }

    /// Merges shard reports of one search; refuses reports of different ranges or repeated
    /// shards.
    pub fn merge(reports: &[SearchReport]) -> Result<SearchReport, String> {
        let first = reports.first().ok_or("no report to merge")?;
        let mut merged = SearchReport {
            shards: BTreeSet::new(),
            tally: Tally::default(),
            wall_secs: 0.0,
            shrunk: Vec::new(),
            range: first.range.clone(),
        };
        for r in reports {
            if r.range != first.range {
                return Err(format!(
                    "shard reports of different searches: {:?} and {:?}",
                    first.range, r.range
                ));
            }
            for shard in &r.shards {
                if !merged.shards.insert(*shard) {
                    return Err(format!("shard {}/{} appears twice", shard.0, shard.1));
                }
            }
            merged.tally.merge(&r.tally);
            merged.wall_secs += r.wall_secs;
        }
        Ok(merged)
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let r = &self.range;
        let mut md = format!(
            "# Seed search\n\nSeeds {}..{} ({} simulated s each, faults {}, compactors {}, \
             store {}), shards {:?}: {} run, {} clean, {:.0} s of wall time.\n\n",
            r.from,
            r.from + r.seeds,
            r.duration_secs,
            on(r.faults),
            on(r.compactors),
            r.store,
            self.shards,
            self.tally.ran,
            self.tally.clean,
            self.wall_secs
        );
        md.push_str("| signature | seeds | first seed | replay |\n|---|---|---|---|\n");
        for (sig, seen) in &self.tally.signatures {
            let first = seen.first().unwrap_or_default();
            let _ = writeln!(
                md,
                "| `{sig}` | {} | {first} | `{}` |",
                seen.count,
                r.replay_command(first)
            );
        }
        md.push_str("\n| feature | seeds | first seed |\n|---|---|---|\n");
        for (feature, seen) in &self.tally.features {
            let _ = writeln!(
                md,
                "| `{feature}` | {} | {} |",
                seen.count,
                seen.first().unwrap_or_default()
            );
        }
        for s in &self.shrunk {
            let _ = write!(
                md,
                "\n## Shrunk: `{}` (seed {}, {} recorded faults, {} replays)\n\n",
                s.feature, s.seed, s.recorded, s.replays
            );
            match &s.repro {
                Some(repro) => {
                    let _ = writeln!(
                        md,
                        "Finding: {}. Workload: `{}`, {} s. `CHAOS_FAULT_POINTS='{}'`",
                        s.finding.as_deref().unwrap_or("none matched"),
                        repro.workload,
                        repro.duration_secs,
                        repro.points
                    );
                }
                None => md.push_str("Did not show again with random faults off.\n"),
            }
        }
        md
    }
}

fn on(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::search::Feature;

    fn sig(features: &[Feature]) -> Signature {
        Signature(features.iter().cloned().collect())
    }

    #[test]
    fn merged_shards_equal_one_tally_and_a_repeated_shard_is_refused() {
        let range = Range {
            from: 1,
            seeds: 40,
            duration_secs: 60,
            faults: true,
            compactors: true,
            store: "s3".into(),
        };
        let show = |seed: u64| match seed % 5 {
            0 => sig(&[Feature::Anomaly("aborted_read".into())]),
            1 => sig(&[Feature::StallBeyondLeaseTtl, Feature::NoFinalState]),
            _ => Signature::default(),
        };
        let mut one = SearchReport::new(range.clone(), Shard::default());
        for seed in Shard::default().seeds(1, 40) {
            one.tally.add(seed, &show(seed));
        }
        let shards: Vec<SearchReport> = (0..4)
            .map(|index| {
                let shard = Shard { index, count: 4 };
                let mut r = SearchReport::new(range.clone(), shard);
                for seed in shard.seeds(1, 40) {
                    r.tally.add(seed, &show(seed));
                }
                r
            })
            .collect();
        let json: Vec<SearchReport> = shards
            .iter()
            .map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap())
            .collect();
        assert_eq!(json, shards, "a report survives its JSON file");
        let merged = SearchReport::merge(&json).unwrap();
        assert_eq!(merged.tally, one.tally);
        assert_eq!(merged.tally.ran, 40);
        assert!(SearchReport::merge(&[shards[0].clone(), shards[0].clone()]).is_err());
        let mut other = shards[1].clone();
        other.range.seeds = 41;
        assert!(SearchReport::merge(&[shards[0].clone(), other]).is_err());
    }
}
