//! Synthetic histories: a clean one passes, and each injected anomaly class is flagged.

use super::*;

#[test]
fn synthetic_history_passes() {
    let events: Vec<Event> = synthetic_history(10_000, 7).collect();
    let (mut writes, mut fails, mut infos, mut reads) = (0, 0, 0, 0);
    for e in &events {
        match e {
            Event::Write { outcome, .. } => {
                writes += 1;
                fails += usize::from(*outcome == Outcome::Fail);
                infos += usize::from(*outcome == Outcome::Info);
            }
            Event::Read { .. } => reads += 1,
            _ => {}
        }
    }
    assert!(
        fails > 0 && infos > 0,
        "{writes} attempts, {fails} fail, {infos} info"
    );
    let r = check(events);
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.ops_checked(), 10_000);
    let write_ops = r.ops_checked() - r.read_ops();
    assert!(
        (2_000..4_000).contains(&write_ops),
        "{write_ops} write ops, {reads} read ops, {writes} write attempts"
    );
}

/// Changes a (synthetic) history so that it has an anomaly.
type Injection = fn(&mut [Event]);

/// One way to inject each anomaly class into a synthetic history.
const INJECTIONS: [(AnomalyClass, Injection); 10] = [
    (AnomalyClass::AbortedRead, inject_aborted_read),
    (AnomalyClass::LostWrite, inject_lost_write),
    (AnomalyClass::LostUpdate, inject_lost_update),
    (AnomalyClass::DuplicateTxnId, inject_duplicate_txn_id),
    (AnomalyClass::NonSnapshotRead, inject_non_snapshot_read),
    (AnomalyClass::GarbageRead, inject_garbage_read),
    (AnomalyClass::NonMonotonicRead, inject_non_monotonic_read),
    (AnomalyClass::RealtimeViolation, inject_realtime_violation),
    (AnomalyClass::DuplicateKey, inject_duplicate_key),
    (AnomalyClass::TxnCountMismatch, inject_txn_count_mismatch),
];

#[test]
fn synthetic_history_with_injected_anomalies_is_flagged() {
    let base: Vec<Event> = synthetic_history(3_000, 11).collect();
    let clean = check(&base);
    assert!(
        clean.is_valid(),
        "the base history is not clean:\n{}",
        console(&clean)
    );
    for (class, inject) in INJECTIONS {
        let mut events = base.clone();
        inject(&mut events);
        assert_ne!(events, base, "the {class} injection changed nothing");
        let r = check(&events);
        assert!(r.count(class) > 0, "{class} not flagged:\n{}", console(&r));
        assert_eq!(r.verdict(), Verdict::Fail, "{class}");
    }
}
