//! A seed draws a whole schedule: a workload shape and a fault mix, within the bounds below.
//! The same seed always draws the same [`Case`] (a `StdRng` seeded by it, drawn in a fixed
//! order), so a seed names a run.
//!
//! | part | bounds |
//! |---|---|
//! | writers | 1-4, each 0.5-4 commits/s attempted; 0-2 retries on `PreconditionFailed` |
//! | readers | 0-2, 2-10 reads/s |
//! | keys | pool of 4-64 (doubled until every writer has a private key), overlap 0-1; a third of schedules write 2-3 keys per transaction |
//! | manifests | shared or one per client (half each) |
//! | lease TTL | 3-20 s (short, so a stall past it shows inside a run) |
//! | client step timeout | the fault sweep's, 2 s |
//! | compactors | a third of schedules (with `CHAOS_SEARCH_COMPACTORS=on`): 1-2 compactors every 2-8 s, segment and checkpoint TTL 2-10 s, keep 1-2 checkpoints, half of those with a pinned reader holding 3-15 s |
//! | transient errors | half of schedules: 0.2-3% of every operation (503, 500 or a reset) |
//! | lost answers | half: 0.3-4% of conditional PUTs, on every key or only `HEAD.json`, `segments/` or `leases/` |
//! | stalls | a quarter: 0.2-1% of operations held 0.5-2 s after they are applied |
//! | network blocks | a third: 1-3 blocks of 1-8 s, 5-20 s apart, holding or refusing (half each) |
//! | writer crashes | a fifth of per-client schedules: one writer armed every 3-15 s |
//! | clock skew / drift | a third of per-client schedules: writer 0's clock 1-30 s ahead or behind; a fifth: drifting 10-500 ms/s |
//!
//! With `CHAOS_SEARCH_FAULTS=off` a schedule draws the same workload shape and none of the
//! faults (no errors, lost answers, stalls, blocks, crashes, skew or drift).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::chaos::scenario::{FAULT_SWEEP_OP_TIMEOUT_MS, PLAN_DURATION};
use crate::chaos::{BlockMode, BlockPlan, ChaosScenario, FaultKind, FaultSpec, S3OpKind};
use crate::config::{ManifestMode, WorkloadConfig};

/// What a seed draws: the workload and the chaos of one simulated run.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The seed.
    pub seed: u64,
    /// The workload (duration included).
    pub config: WorkloadConfig,
    /// The chaos (label `seed-N`).
    pub scenario: ChaosScenario,
}

/// Which parts a schedule may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draw {
    /// Faults (errors, lost answers, stalls, blocks, crashes, skew, drift).
    pub faults: bool,
    /// Compactors and pinned readers.
    pub compactors: bool,
}

/// The keys a lost-answer rule may be limited to (`None`: every key).
const LOST_ANSWER_KEYS: [Option<&str>; 4] =
    [None, Some("HEAD.json"), Some("segments/"), Some("leases/")];

impl Case {
    /// The schedule seed `seed` draws for a run of `duration`.
    pub fn draw(seed: u64, duration: Duration, draw: Draw) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut config = workload(&mut rng, duration, draw.compactors);
        let mut scenario = ChaosScenario::baseline();
        scenario.label = format!("seed-{seed}");
        if draw.faults {
            faults(&mut rng, &mut config, &mut scenario, duration);
        }
        Self {
            seed,
            config,
            scenario,
        }
    }
}

fn chance(rng: &mut StdRng, p: f64) -> bool {
    rng.random_bool(p)
}

fn workload(rng: &mut StdRng, duration: Duration, compactors: bool) -> WorkloadConfig {
    let mut c = WorkloadConfig {
        duration,
        num_writers: rng.random_range(1..=4),
        num_readers: rng.random_range(0..=2),
        writer_rate: rng.random_range(0.5..=4.0),
        reader_rate: rng.random_range(2.0..=10.0),
        key_pool_size: rng.random_range(4..=64),
        key_overlap_ratio: rng.random_range(0.0..=1.0),
        max_retry_count: rng.random_range(0..=2),
        value_size: 128,
        op_timeout_ms: FAULT_SWEEP_OP_TIMEOUT_MS,
        lease_ttl_secs: rng.random_range(3..=20),
        ..WorkloadConfig::default()
    };
    if chance(rng, 1.0 / 3.0) {
        c.txn_keys = rng.random_range(2..=3);
    }
    // Every writer needs a private key (and a transaction its distinct keys): grow the pool
    // until the workload is valid.
    while c.validate().is_err() && c.key_pool_size < 4096 {
        c.key_pool_size *= 2;
    }
    if chance(rng, 0.5) {
        c.manifests = ManifestMode::PerClient;
    }
    if compactors && chance(rng, 1.0 / 3.0) {
        c.compact_every_ms = rng.random_range(2_000..=8_000);
        c.compactors = rng.random_range(1..=2);
        c.segment_ttl_secs = rng.random_range(2..=10);
        c.checkpoint_ttl_secs = rng.random_range(2..=10);
        c.checkpoints_keep = rng.random_range(1..=2);
        if chance(rng, 0.5) {
            c.pinned_readers = 1;
            c.pin_secs = rng.random_range(3..=15);
        }
    }
    c
}

fn faults(
    rng: &mut StdRng,
    config: &mut WorkloadConfig,
    scenario: &mut ChaosScenario,
    duration: Duration,
) {
    if chance(rng, 0.5) {
        let p = rng.random_range(0.002..=0.03);
        scenario
            .faults
            .push(FaultSpec::everywhere(FaultKind::Transient, p));
    }
    if chance(rng, 0.5) {
        let p = rng.random_range(0.003..=0.04);
        let mut rule =
            FaultSpec::everywhere(FaultKind::AmbiguousSuccess, p).on(&[S3OpKind::CondPut]);
        if let Some(keys) = LOST_ANSWER_KEYS[rng.random_range(0..LOST_ANSWER_KEYS.len())] {
            rule = rule.on_keys(keys);
        }
        scenario.faults.push(rule);
    }
    if chance(rng, 0.25) {
        let p = rng.random_range(0.002..=0.01);
        let held = Duration::from_millis(rng.random_range(500..=2_000));
        scenario
            .faults
            .push(FaultSpec::everywhere(FaultKind::Stall(held), p));
    }
    if chance(rng, 1.0 / 3.0) {
        // A plan is written at PLAN_DURATION and scaled by duration / PLAN_DURATION.
        let scale = (duration.as_secs_f64() / PLAN_DURATION.as_secs_f64()).min(1.0);
        let at_plan = |secs: f64| Duration::from_secs_f64(secs / scale);
        let (gap_a, gap_b) = (rng.random_range(5.0..=20.0), rng.random_range(5.0..=20.0));
        scenario.blocks = Some(BlockPlan {
            count: rng.random_range(1..=3),
            length: at_plan(rng.random_range(1.0..=8.0)),
            min_gap: at_plan(f64::min(gap_a, gap_b)),
            max_gap: at_plan(f64::max(gap_a, gap_b)),
        });
        scenario.block_mode = if chance(rng, 0.5) {
            BlockMode::Hold
        } else {
            BlockMode::Refuse
        };
    }
    if config.manifests == ManifestMode::PerClient && chance(rng, 0.2) {
        config.crash_every_ms = rng.random_range(3_000..=15_000);
    }
    // A shared manifest has one clock for every client: skew needs per-client manifests.
    let per_client = config.manifests == ManifestMode::PerClient;
    if per_client && chance(rng, 1.0 / 3.0) {
        let ms: i64 = rng.random_range(1_000..=30_000);
        config.clock_skew_ms = if chance(rng, 0.5) { ms } else { -ms };
    }
    if per_client && chance(rng, 0.2) {
        config.clock_drift_ms_per_s = rng.random_range(10..=500);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Draw = Draw {
        faults: true,
        compactors: true,
    };

    #[test]
    fn a_seed_names_one_schedule_and_seeds_differ() {
        let d = Duration::from_secs(60);
        assert_eq!(Case::draw(7, d, ALL), Case::draw(7, d, ALL));
        let distinct: std::collections::HashSet<String> = (0..50)
            .map(|s| format!("{:?}", Case::draw(s, d, ALL).config))
            .collect();
        assert!(distinct.len() > 45);
    }

    #[test]
    fn schedules_stay_in_their_bounds_and_off_draws_nothing() {
        let d = Duration::from_secs(60);
        let mut saw = (false, false, false);
        for seed in 0..300 {
            let c = Case::draw(seed, d, ALL);
            assert!((1..=4).contains(&c.config.num_writers));
            assert!((3..=20).contains(&c.config.lease_ttl_secs));
            assert!(c.config.crash_every_ms == 0 || c.config.manifests == ManifestMode::PerClient);
            assert!(c.config.clock_skew_ms == 0 || c.config.manifests == ManifestMode::PerClient);
            c.config.validate().expect("a valid workload");
            saw.0 |= c.scenario.blocks.is_some();
            saw.1 |= c.config.compact_every_ms > 0;
            saw.2 |= c.config.crash_every_ms > 0;
            let quiet = Case::draw(
                seed,
                d,
                Draw {
                    faults: false,
                    compactors: false,
                },
            );
            assert!(quiet.scenario.faults.is_empty() && quiet.scenario.blocks.is_none());
            assert_eq!(
                (quiet.config.crash_every_ms, quiet.config.clock_skew_ms),
                (0, 0)
            );
            assert_eq!(quiet.config.compact_every_ms, 0);
        }
        assert_eq!(saw, (true, true, true), "every part is drawn by some seed");
    }
}
