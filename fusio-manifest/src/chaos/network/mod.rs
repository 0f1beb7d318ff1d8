//! Per-scenario network conditions applied around every S3 operation, in three parts: the
//! latency model ([`latency`]: the S3 profile and injected latency with jitter), network blocks
//! ([`blocks`]: partitions that hold or refuse requests and answers) and S3 faults ([`faults`]:
//! rules and fault points). Each operation's draws come from a stream of its own
//! (`op_rng`), so a replay with some faults removed keeps every other operation's draws.

pub mod blocks;
pub mod faults;
pub mod latency;

pub use blocks::{BlockMode, Blocks};
pub use faults::Faults;
pub use latency::{LatencyModel, LatencySpec, S3LatencyProfile};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::S3OpKind;

/// The network and S3 conditions one scenario sees. Cheap to consult on every operation.
pub struct NetworkChaos {
    latency: LatencyModel,
    blocks: Blocks,
    faults: Faults,
}

impl NetworkChaos {
    /// A network with the given S3 profile, no injected latency, no block and no fault,
    /// seeded.
    pub fn new(profile: S3LatencyProfile, seed: u64) -> Self {
        Self {
            latency: LatencyModel::new(profile, seed),
            blocks: Blocks::default(),
            faults: Faults::new(seed),
        }
    }

    /// The latency model.
    pub fn latency(&self) -> &LatencyModel {
        &self.latency
    }

    /// Network blocks.
    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// S3 faults.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}

/// The random stream of the `nth` operation of `op` on `key` (for one `salt`): a function of
/// the seed and the operation alone, so an operation draws the same fault and delay whatever
/// other operations did or did not happen before it.
fn op_rng(seed: u64, salt: u64, op: S3OpKind, key: &str, nth: u64) -> StdRng {
    let mixed = seed
        ^ salt
        ^ crate::utils::label_key(key).rotate_left(21)
        ^ nth.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (op as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    StdRng::seed_from_u64(mixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::fault_points::FaultPoint;
    use crate::chaos::faults::{FaultDecision, FaultKind, FaultSpec};
    use std::time::Duration;

    #[test]
    fn standard_profile_medians_match_the_model() {
        let net = NetworkChaos::new(S3LatencyProfile::S3Standard, 7);
        let mut puts: Vec<f64> = (0..4001)
            .map(|n| {
                net.latency()
                    .draw_delay(S3OpKind::Put, "k", n)
                    .as_secs_f64()
                    * 1000.0
            })
            .collect();
        puts.sort_by(f64::total_cmp);
        let median = puts[2000];
        assert!((50.0..70.0).contains(&median), "PUT median {median}");
    }

    #[test]
    fn fault_points_fire_through_decide_fault_exactly_once() {
        let net = NetworkChaos::new(S3LatencyProfile::None, 3);
        net.faults()
            .set_faults(vec![FaultSpec::everywhere(FaultKind::Transient, 1.0)
                .on(&[S3OpKind::Get])
                .on_keys("HEAD.json")]);
        net.faults().add_fault_point(FaultPoint::once(
            S3OpKind::CondPut,
            "HEAD.json",
            2,
            crate::chaos::fault_points::FaultAction::AnswerLost,
        ));
        let decisions: Vec<_> = (1..5)
            .map(|n| {
                // A GET of the same key matches only the probabilistic rule.
                assert!(matches!(
                    net.faults().decide_fault(S3OpKind::Get, "p/HEAD.json", n),
                    FaultDecision::Fail(_)
                ));
                net.faults()
                    .decide_fault(S3OpKind::CondPut, "p/HEAD.json", n)
            })
            .collect();
        assert_eq!(
            decisions,
            vec![
                FaultDecision::None,
                FaultDecision::Ambiguous,
                FaultDecision::None,
                FaultDecision::None
            ]
        );
        let status = net.faults().fault_points();
        assert_eq!((status[0].matched, status[0].fired), (4, 1));
        assert_eq!(
            net.faults().fault_counts().ambiguous,
            0,
            "points are counted apart"
        );
        net.faults().set_fault_points(Vec::new());
        assert!(net.faults().fault_points().is_empty());
    }

    #[test]
    fn injected_latency_stays_within_jitter() {
        let net = NetworkChaos::new(S3LatencyProfile::None, 1);
        net.latency().set_latency(Some(LatencySpec {
            delay: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
        }));
        for n in 0..1000 {
            let d = net.latency().draw_delay(S3OpKind::Get, "k", n).as_millis();
            assert!((90..=110).contains(&d), "{d}");
        }
        net.latency().set_latency(None);
        assert_eq!(
            net.latency().draw_delay(S3OpKind::Get, "k", 1),
            Duration::ZERO
        );
    }

    #[test]
    fn an_operations_draws_depend_on_it_alone() {
        let net = NetworkChaos::new(S3LatencyProfile::S3Standard, 5);
        let a = net.latency().draw_delay(S3OpKind::Get, "p/HEAD.json", 3);
        net.latency().draw_delay(S3OpKind::Put, "p/x", 1);
        assert_eq!(net.latency().draw_delay(S3OpKind::Get, "p/HEAD.json", 3), a);
        assert_ne!(net.latency().draw_delay(S3OpKind::Get, "p/HEAD.json", 4), a);
    }
}
