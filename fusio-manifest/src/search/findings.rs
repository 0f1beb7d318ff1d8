//! Which finding of FINDINGS.md a shrunk repro shows, judged by its feature and the shape of
//! its minimal faults (operation, object kind, action), not by its exact keys or counts.

use super::signature::Feature;
use crate::chaos::{FaultAction, FaultPoint, S3OpKind};
use crate::config::WorkloadConfig;

/// The object kind a point's key names.
fn object(point: &FaultPoint) -> &'static str {
    let key = point.key_contains.as_deref().unwrap_or("");
    if key.contains("HEAD.json") {
        "head"
    } else if key.contains("segments/") {
        "segment"
    } else if key.contains("leases/") {
        "lease"
    } else if key.contains("checkpoints/") {
        "checkpoint"
    } else {
        "other"
    }
}

/// The anomaly classes a read session that loses its snapshot's segments shows: a key it read
/// before reads as absent (finding 12).
const READ_SNAPSHOT_CLASSES: [&str; 3] = ["non_snapshot_read", "g_single", "g2"];

fn is_error(action: FaultAction) -> bool {
    matches!(
        action,
        FaultAction::Transient | FaultAction::Internal | FaultAction::Reset | FaultAction::Refuse
    )
}

fn is_hold(action: FaultAction) -> bool {
    matches!(action, FaultAction::Stall(_) | FaultAction::Delay(_))
}

/// The finding `feature` with minimal faults `points` on `workload` matches, as `N: title`,
/// if any.
pub fn matching(
    feature: &Feature,
    points: &[FaultPoint],
    workload: &WorkloadConfig,
) -> Option<String> {
    let skewed = workload.clock_skew_ms != 0 || workload.clock_drift_ms_per_s != 0;
    let has = |op: S3OpKind, obj: &str, pred: &dyn Fn(FaultAction) -> bool| {
        points
            .iter()
            .any(|p| p.op == Some(op) && object(p) == obj && pred(p.action))
    };
    let lost = |a| a == FaultAction::AnswerLost;
    let finding = match feature {
        Feature::Anomaly(class)
            if READ_SNAPSHOT_CLASSES.contains(&class.as_str())
                && workload.compact_every_ms > 0
                && workload.pinned_readers > 0 =>
        {
            "12: GC deletes the segments a live read session still reads"
        }
        Feature::StrayLease => {
            "11: a lease whose creation's answer is lost, or whose DELETE fails, is never removed"
        }
        Feature::Anomaly(_) if has(S3OpKind::CondPut, "head", &lost) => {
            "1: a HEAD CAS whose answer is lost returns PreconditionFailed, yet is committed"
        }
        Feature::Anomaly(_)
            if !points.iter().any(|p| lost(p.action))
                && has(S3OpKind::CondPut, "segment", &is_hold) =>
        {
            "5: orphan recovery adopts a live commit's segment; that commit then fails"
        }
        Feature::Anomaly(_) | Feature::StallBeyondLeaseTtl
            if has(S3OpKind::CondPut, "segment", &lost) =>
        {
            "2: a lost answer to a segment PUT blocks writers until orphan recovery adopts the segment (and the failed write)"
        }
        Feature::StallBeyondLeaseTtl | Feature::UnreleasedWriteLease
            if has(S3OpKind::Get, "head", &is_error)
                || has(S3OpKind::CondPut, "segment", &is_hold) =>
        {
            "3: a commit failing on its HEAD reload leaks its write lease"
        }
        Feature::Anomaly(_) if skewed && !points.iter().any(|p| lost(p.action)) => {
            "7: a clock more than the lease TTL ahead adopts a live commit"
        }
        Feature::Anomaly(_) if points.is_empty() && !skewed && workload.compact_every_ms == 0 => {
            "5: orphan recovery adopts a live commit's segment; that commit then fails"
        }
        Feature::Anomaly(_) if points.is_empty() && workload.compact_every_ms > 0 => {
            "10: a commit that loses its HEAD CAS to a compaction is adopted by orphan recovery later"
        }
        Feature::NoFinalState if workload.compact_every_ms > 0 => {
            "6: after a compaction, reads of compacted keys fail with 404 on S3"
        }
        _ => return None,
    };
    Some(finding.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::parse_fault_points;

    fn found(feature: Feature, spec: &str) -> Option<String> {
        let w = WorkloadConfig::default();
        matching(&feature, &parse_fault_points(spec).unwrap(), &w)
            .and_then(|f| f.split(':').next().map(str::to_string))
    }

    #[test]
    fn the_known_shapes_map_to_their_findings_and_others_to_none() {
        let aborted = || Feature::Anomaly("aborted_read".into());
        assert_eq!(
            found(aborted(), "condput:HEAD.json#4=answer_lost"),
            Some("1".into())
        );
        assert_eq!(
            found(
                aborted(),
                "get:HEAD.json#1=stall(2s); condput:segments/seg-1.json#1=stall(4s)"
            ),
            Some("5".into())
        );
        let stall = || Feature::StallBeyondLeaseTtl;
        assert_eq!(
            found(stall(), "condput:segments/seg-3.json#1=answer_lost"),
            Some("2".into())
        );
        assert_eq!(
            found(
                stall(),
                "condput:HEAD.json#2=transient; get:HEAD.json#5=transient"
            ),
            Some("3".into())
        );
        assert_eq!(
            found(
                Feature::UnreleasedWriteLease,
                "condput:HEAD.json#2=transient; get:HEAD.json#5=transient"
            ),
            Some("3".into())
        );
        assert_eq!(
            found(Feature::StrayLease, "delete:leases/lease-1.json#1=refuse"),
            Some("11".into())
        );
        assert_eq!(
            found(
                Feature::StrayLease,
                "condput:leases/lease-1.json#1=answer_lost"
            ),
            Some("11".into())
        );
        assert_eq!(found(stall(), "get:leases/lease-1.json#1=refuse"), None);
        assert_eq!(found(aborted(), "get:leases/lease-1.json#1=refuse"), None);
        assert_eq!(
            found(aborted(), "condput:segments/seg-2.json#1=answer_lost"),
            Some("2".into())
        );
        let compacting = WorkloadConfig {
            compact_every_ms: 3_000,
            ..WorkloadConfig::default()
        };
        let ten = matching(&aborted(), &[], &compacting);
        assert!(ten.is_some_and(|f| f.starts_with("10")));
        let pinned = WorkloadConfig {
            pinned_readers: 1,
            ..compacting.clone()
        };
        let torn = Feature::Anomaly("non_snapshot_read".into());
        let twelve = matching(&torn, &[], &pinned);
        assert!(twelve.is_some_and(|f| f.starts_with("12")));
        assert!(matching(&torn, &[], &compacting).is_none_or(|f| !f.starts_with("12")));
        let skewed = WorkloadConfig {
            clock_skew_ms: 20_000,
            ..WorkloadConfig::default()
        };
        let five = matching(&aborted(), &[], &WorkloadConfig::default());
        assert!(five.is_some_and(|f| f.starts_with('5')));
        let seven = matching(&aborted(), &[], &skewed);
        assert!(seven.is_some_and(|f| f.starts_with('7')));
        assert_eq!(
            found(Feature::NoFinalState, ""),
            None,
            "no compactor: not 6"
        );
    }
}
