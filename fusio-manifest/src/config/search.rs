//! The seed search's settings (`CHAOS_SEARCH_*`, see [`crate::search`]).

use std::path::PathBuf;

use super::ConfigError;

/// One shard of a seed range: of the seeds `from..from + count`, those at positions
/// `index, index + count_of_shards, ...`, so shards are interleaved and equally loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards the range is split into (at least 1).
    pub count: u64,
}

impl Default for Shard {
    /// The whole range in one shard.
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parses `i/n` with `0 <= i < n`.
    pub fn parse(var: &'static str, value: &str) -> Result<Self, ConfigError> {
        let bad = |reason: &str| ConfigError::invalid(var, value, reason);
        let (i, n) = value
            .split_once('/')
            .ok_or_else(|| bad("expected INDEX/COUNT, e.g. 0/4"))?;
        let index: u64 = i.trim().parse().map_err(|_| bad("INDEX is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| bad("COUNT is not a number"))?;
        if count == 0 || index >= count {
            return Err(bad("expected 0 <= INDEX < COUNT"));
        }
        Ok(Self { index, count })
    }

    /// The seeds of this shard among `from..from + seeds`.
    pub fn seeds(self, from: u64, seeds: u64) -> impl Iterator<Item = u64> {
        (0..seeds)
            .filter(move |i| i % self.count == self.index)
            .map(move |i| from + i)
    }
}

/// What `test_seed_search` does (`CHAOS_SEARCH_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchSettings {
    /// `CHAOS_SEARCH_SEEDS`: how many seeds the range holds.
    pub seeds: u64,
    /// `CHAOS_SEARCH_FROM`: the first seed.
    pub from: u64,
    /// `CHAOS_SEARCH_SHARD`: the part of the range this process runs.
    pub shard: Shard,
    /// `CHAOS_SEARCH_FAULTS`: schedules draw faults (`on`) or none (`off`).
    pub faults: bool,
    /// `CHAOS_SEARCH_COMPACTORS`: schedules may draw compactors and pinned readers.
    pub compactors: bool,
    /// `CHAOS_SEARCH_SHRINK`: shrink the first seed of each failure feature.
    pub shrink: bool,
    /// `CHAOS_SEARCH_MERGE`: shard reports to merge instead of running seeds.
    pub merge: Option<Vec<PathBuf>>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            seeds: 200,
            from: 1,
            shard: Shard::default(),
            faults: true,
            compactors: true,
            shrink: true,
            merge: None,
        }
    }
}

/// Parses `on` / `off`.
pub fn on_off(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(ConfigError::invalid(var, value, "expected on or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_range_without_overlap_or_gap() {
        let mut all: Vec<u64> = (0..4)
            .flat_map(|index| Shard { index, count: 4 }.seeds(10, 10))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (10..20).collect::<Vec<_>>());
        assert_eq!(
            Shard::parse("V", "1/4").unwrap(),
            Shard { index: 1, count: 4 }
        );
        for bad in ["4/4", "1", "a/2", "0/0"] {
            assert!(Shard::parse("V", bad).is_err(), "{bad}");
        }
    }
}
