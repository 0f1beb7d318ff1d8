//! The chaos scenarios of the plan, as data.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cpu::CpuLoad;
use super::faults::{FaultKind, FaultSpec};
use super::network::{BlockMode, LatencySpec};
use super::S3OpKind;

/// The duration the plan's block schedule is written for.
pub const PLAN_DURATION: Duration = Duration::from_secs(300);

/// Network blocks: `count` blocks of `length`, each starting a random 30-90 s (seeded) after
/// the previous one ended (the first after the run started). For runs shorter than 300 s,
/// lengths and gaps scale by `duration / 300 s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockPlan {
    /// Number of blocks.
    pub count: u32,
    /// Length of each block at the plan's 300 s.
    pub length: Duration,
    /// Shortest gap before a block, at 300 s.
    pub min_gap: Duration,
    /// Longest gap before a block, at 300 s.
    pub max_gap: Duration,
}

impl BlockPlan {
    /// The plan's default: 3 blocks of 10 s, 30-90 s apart.
    pub fn plan_default() -> Self {
        Self {
            count: 3,
            length: Duration::from_secs(10),
            min_gap: Duration::from_secs(30),
            max_gap: Duration::from_secs(90),
        }
    }

    /// Block windows `(start, end)` relative to the run start, for a run of `duration`.
    pub fn schedule(&self, duration: Duration, seed: u64) -> Vec<(Duration, Duration)> {
        let scale = (duration.as_secs_f64() / PLAN_DURATION.as_secs_f64()).min(1.0);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut t = Duration::ZERO;
        let mut windows = Vec::new();
        for _ in 0..self.count {
            let gap = rng.random_range(self.min_gap.as_secs_f64()..=self.max_gap.as_secs_f64());
            let start = t + Duration::from_secs_f64(gap * scale);
            let end = start + self.length.mul_f64(scale);
            windows.push((start, end));
            t = end;
        }
        windows
    }
}

/// One chaos scenario: what is injected while the workload runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ChaosScenario {
    /// Label (`config_label` in the CSV).
    pub label: String,
    /// Added latency per S3 operation.
    pub latency: Option<LatencySpec>,
    /// Network blocks.
    pub blocks: Option<BlockPlan>,
    /// CPU burners (process wide).
    pub cpu: Option<CpuLoad>,
    /// What blocks do: hold operations (the plan's partition) or refuse them.
    pub block_mode: BlockMode,
    /// S3-level faults.
    pub faults: Vec<FaultSpec>,
    /// `CHAOS_*` workload settings this scenario runs with, over the sweep's workload (its
    /// actors: compactors, pinned readers, per-client manifests, skew, crashes, retention,
    /// lapsing leases).
    pub settings: Vec<(&'static str, &'static str)>,
}

impl ChaosScenario {
    /// A scenario without chaos.
    pub fn baseline() -> Self {
        Self {
            label: "baseline".into(),
            latency: None,
            blocks: None,
            cpu: None,
            block_mode: BlockMode::Hold,
            faults: Vec::new(),
            settings: Vec::new(),
        }
    }

    /// The settings as a user would set them to run this workload alone, e.g.
    /// `CHAOS_COMPACT_EVERY_MS=5000 CHAOS_SEGMENT_TTL_SECS=5`.
    pub fn settings_line(&self) -> String {
        crate::utils::settings_line(self.settings.iter().copied())
    }

    /// The longest single fault window this scenario injects: a block, or a stall.
    pub fn longest_fault_window(&self, duration: Duration) -> Duration {
        let block = self
            .blocks
            .map(|b| {
                b.length
                    .mul_f64((duration.as_secs_f64() / PLAN_DURATION.as_secs_f64()).min(1.0))
            })
            .unwrap_or_default();
        let stall = self
            .faults
            .iter()
            .filter_map(|f| match f.kind {
                FaultKind::Stall(d) => Some(d),
                _ => None,
            })
            .max()
            .unwrap_or_default();
        block.max(stall)
    }

    /// Whether this scenario loads the CPU (and so every scenario sharing the process).
    pub fn uses_cpu(&self) -> bool {
        self.cpu.is_some()
    }
}

fn latency(ms: u64) -> Option<LatencySpec> {
    Some(LatencySpec {
        delay: Duration::from_millis(ms),
        jitter: Duration::ZERO,
    })
}

/// The plan's seven scenarios, in order: baseline, net-delay-100ms, net-delay-200ms,
/// net-delay-500ms, net-block-10s-3x, cpu-4threads-80pct, combined-200ms-4threads-80pct.
pub fn create_chaos_scenarios() -> Vec<ChaosScenario> {
    let cpu = Some(CpuLoad {
        threads: 4,
        percent: 80,
    });
    let named = |label: &str| ChaosScenario {
        label: label.into(),
        ..ChaosScenario::baseline()
    };
    vec![
        ChaosScenario::baseline(),
        ChaosScenario {
            latency: latency(100),
            ..named("net-delay-100ms")
        },
        ChaosScenario {
            latency: latency(200),
            ..named("net-delay-200ms")
        },
        ChaosScenario {
            latency: latency(500),
            ..named("net-delay-500ms")
        },
        ChaosScenario {
            blocks: Some(BlockPlan::plan_default()),
            ..named("net-block-10s-3x")
        },
        ChaosScenario {
            cpu,
            ..named("cpu-4threads-80pct")
        },
        ChaosScenario {
            latency: latency(200),
            cpu,
            ..named("combined-200ms-4threads-80pct")
        },
    ]
}

/// How long a stalled operation holds its answer: twice the fault sweep's default client
/// timeout, so a stall always outlasts the client's patience.
pub const STALL: Duration = Duration::from_secs(4);

/// The client step timeout of the fault sweep's workload (unless `CHAOS_OP_TIMEOUT_MS` is
/// set) and of every seed search schedule, in ms.
pub const FAULT_SWEEP_OP_TIMEOUT_MS: u64 = 2000;

/// The fault sweep's scenarios, in order: baseline, transient-errors-5pct, ambiguous-put-2pct,
/// ambiguous-head-cas-5pct, stall-beyond-timeout, net-block-refused-10s-3x, lease-expiry,
/// combined-faults.
pub fn create_fault_scenarios() -> Vec<ChaosScenario> {
    use FaultKind::*;
    let named = |label: &str| ChaosScenario {
        label: label.into(),
        ..ChaosScenario::baseline()
    };
    let transient = |p| FaultSpec::everywhere(Transient, p);
    let ambiguous_cas = |p| FaultSpec::everywhere(AmbiguousSuccess, p).on(&[S3OpKind::CondPut]);
    let stall = |p| FaultSpec::everywhere(Stall(STALL), p);
    vec![
        ChaosScenario::baseline(),
        ChaosScenario {
            faults: vec![transient(0.05)],
            ..named("transient-errors-5pct")
        },
        ChaosScenario {
            faults: vec![ambiguous_cas(0.02)],
            ..named("ambiguous-put-2pct")
        },
        ChaosScenario {
            faults: vec![ambiguous_cas(0.05).on_keys("HEAD.json")],
            ..named("ambiguous-head-cas-5pct")
        },
        ChaosScenario {
            faults: vec![stall(0.02)],
            ..named("stall-beyond-timeout")
        },
        ChaosScenario {
            blocks: Some(BlockPlan::plan_default()),
            block_mode: BlockMode::Refuse,
            ..named("net-block-refused-10s-3x")
        },
        ChaosScenario {
            blocks: Some(BlockPlan::plan_default()),
            // A 1 s lease TTL: shorter than the blocks from 30 s runs up.
            settings: vec![
                ("CHAOS_LEASE_TTL_SECS", "1"),
                ("CHAOS_KEEP_LEASES", "false"),
            ],
            ..named("lease-expiry")
        },
        ChaosScenario {
            faults: vec![
                transient(0.02),
                ambiguous_cas(0.02).on_keys("HEAD.json"),
                stall(0.01),
            ],
            ..named("combined-faults")
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_scenarios_with_the_plans_labels_in_order() {
        let labels: Vec<String> = create_chaos_scenarios()
            .into_iter()
            .map(|s| s.label)
            .collect();
        assert_eq!(
            labels,
            [
                "baseline",
                "net-delay-100ms",
                "net-delay-200ms",
                "net-delay-500ms",
                "net-block-10s-3x",
                "cpu-4threads-80pct",
                "combined-200ms-4threads-80pct"
            ]
        );
    }

    #[test]
    fn block_schedule_fits_300s_and_scales_down() {
        let plan = BlockPlan::plan_default();
        for seed in 0..50 {
            let w = plan.schedule(PLAN_DURATION, seed);
            assert_eq!(w.len(), 3);
            let mut prev_end = Duration::ZERO;
            for (s, e) in &w {
                let gap = (*s - prev_end).as_secs_f64();
                assert!((30.0..=90.0).contains(&gap), "gap {gap}");
                assert_eq!(*e - *s, Duration::from_secs(10));
                prev_end = *e;
            }
            assert!(prev_end <= PLAN_DURATION);
            let short = plan.schedule(Duration::from_secs(30), seed);
            assert_eq!(short[0].1 - short[0].0, Duration::from_secs(1));
            assert!(short[2].1 <= Duration::from_secs(30));
        }
        assert_eq!(
            plan.schedule(PLAN_DURATION, 9),
            plan.schedule(PLAN_DURATION, 9)
        );
    }
}
