//! Handmade histories for every anomaly class (each with exactly one anomaly), a clean
//! history and a pinned read that pass, and the inference of a txn's sole occupant.

use super::*;

/// A pinned read (one session held open for 30 s while writers commit) must see exactly the
/// state at its snapshot: the old value is clean; "not found" for a key that existed at the
/// snapshot (a lost read) or a value committed after it is a non-snapshot read.
#[test]
fn a_pinned_read_sees_its_snapshot_for_as_long_as_it_stays_open() {
    let pinned = |seen: Option<&'static str>| {
        first_write_then(|h| {
            h.ok("w1:1:0", "k1", (100, 200), 1, Some("w0:1:0"))
                .ok("w1:2:0", "k2", (300, 400), 2, None)
                .read(
                    "p0",
                    0,
                    (12, 30_000),
                    1,
                    &[("k1", seen), ("k2", None)],
                    false,
                )
                .fin(3, &[("k1", "w1:1:0"), ("k2", "w1:2:0")])
        })
    };
    assert_passes(&pinned(Some("w0:1:0")));
    let lost = assert_only(&pinned(None), AnomalyClass::NonSnapshotRead);
    let text = &lost.anomalies()[0].explanation;
    assert!(text.contains("stale"), "{text}");
    let future = assert_only(&pinned(Some("w1:1:0")), AnomalyClass::NonSnapshotRead);
    let text = &future.anomalies()[0].explanation;
    assert!(text.contains("future"), "{text}");
}

#[test]
fn clean_history_passes() {
    let r = clean_history().check();
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.total_anomalies(), 0);
    assert_eq!(r.ops_checked(), 10);
    assert_eq!(r.acknowledged_writes(), 3);
    assert_eq!(r.read_ops(), 4);
    assert_eq!(r.readers(), 2);
    assert_eq!(r.head_txn(), Some(4));
    let text = console(&r);
    assert!(text.contains("✅ All successful writes accounted for (3 acknowledged writes)"));
    assert!(text.contains("✅ Readers only observed committed data (4 reads, 7 values)"));
    assert!(text.contains("✅ Monotonic reads verified for all readers (2 readers)"));
    assert!(!text.contains('❌'), "{text}");
    assert_eq!(r.verification_row("clean").verdict, "PASS");
}

#[test]
fn aborted_read() {
    let r = must_fail(AnomalyClass::AbortedRead, |h| {
        h.write("w1:1:0", "k1", (1, 11), Some(0), Some(None), Outcome::Fail)
            .read("r0", 1, (20, 30), 1, &[("k1", Some("w1:1:0"))], false)
            .fin(1, &[("k1", "w0:1:0")])
    });
    let ops = &r.anomalies()[0].ops;
    assert_eq!((ops[0].kind, ops[1].client.as_str()), (OpKind::Read, "w1"));
    assert!(console(&r).contains("❌ Uncommitted or unknown data observed"));
}

#[test]
fn lost_write_in_final_state() {
    let r = must_fail(AnomalyClass::LostWrite, |h| {
        h.ok("w0:2:0", "k1", (20, 30), 1, Some("w0:1:0"))
            .fin(2, &[("k1", "w0:1:0")])
    });
    assert_eq!(r.anomalies()[0].ops[0].txn_id, Some(2));
    assert_eq!(r.verification_row("lost").lost_write, 1);
}

#[test]
fn lost_update_fork() {
    let r = must_fail_with_cycle(AnomalyClass::LostUpdate, AnomalyClass::GSingle, |h| {
        h.ok("w1:1:0", "k1", (20, 30), 1, None)
            .fin(2, &[("k1", "w1:1:0")])
    });
    assert_eq!(r.anomalies()[0].ops.len(), 2);
}

#[test]
fn non_snapshot_read_stale() {
    let r = must_fail(AnomalyClass::NonSnapshotRead, |h| {
        h.ok("w0:2:0", "k1", (20, 30), 1, Some("w0:1:0"))
            .read("r0", 1, (40, 50), 2, &[("k1", Some("w0:1:0"))], false)
            .fin(2, &[("k1", "w0:2:0")])
    });
    assert!(r.anomalies()[0].explanation.contains("stale"));
}

#[test]
fn non_snapshot_read_future() {
    let r = must_fail(AnomalyClass::NonSnapshotRead, |h| {
        h.read("r0", 1, (1, 20), 0, &[("k1", Some("w0:1:0"))], false)
            .fin(1, &[("k1", "w0:1:0")])
    });
    assert!(r.anomalies()[0].explanation.contains("future"));
}

#[test]
fn realtime_violation() {
    let r = must_fail(AnomalyClass::RealtimeViolation, |h| {
        h.read("r0", 1, (20, 30), 0, &[("k1", None)], false)
            .fin(1, &[("k1", "w0:1:0")])
    });
    assert_eq!(r.anomalies()[0].ops[0].client, "w0");
}

#[test]
fn non_monotonic_read() {
    let r = must_fail(AnomalyClass::NonMonotonicRead, |h| {
        h.read("r0", 1, (5, 12), 1, &[("k1", Some("w0:1:0"))], false)
            .read("r0", 2, (14, 20), 0, &[("k1", None)], false)
            .fin(1, &[("k1", "w0:1:0")])
    });
    assert!(console(&r).contains("❌ Non-monotonic reads: 1"));
}

#[test]
fn txn_count_mismatch_unexplained_txns() {
    let r = must_fail(AnomalyClass::TxnCountMismatch, |h| {
        h.fin(3, &[("k1", "w0:1:0")])
    });
    assert!(r.anomalies()[0].explanation.contains("e.g. txn 2, 3"));
}

/// One `#[test]` per entry `name: Class => rest;`, asserting
/// [`must_fail`]`(AnomalyClass::Class, rest)`.
macro_rules! must_fail_tests {
    ($($name:ident: $class:ident => $rest:expr;)*) => {
        $(
            #[test]
            fn $name() {
                must_fail(AnomalyClass::$class, $rest);
            }
        )*
    };
}

// Histories with exactly one anomaly, and nothing more to check about it.
must_fail_tests! {
    lost_write_key_missing_from_final_state: LostWrite => |h| h.fin(1, &[]);
    lost_update_same_snapshot: LostUpdate => |h| {
        h.write("w1:1:0", "k2", (2, 12), Some(0), Some(None), Outcome::Info)
            .fin(1, &[("k1", "w0:1:0"), ("k2", "w1:1:0")])
    };
    duplicate_txn_id: DuplicateTxnId => |h| {
        h.ok("w1:1:0", "k2", (2, 12), 0, None)
            .fin(1, &[("k1", "w0:1:0"), ("k2", "w1:1:0")])
    };
    non_snapshot_read_scan_misses_key: NonSnapshotRead => |h| {
        h.read("r0", 1, (40, 50), 1, &[], true)
            .fin(1, &[("k1", "w0:1:0")])
    };
    non_snapshot_read_by_failed_writer: NonSnapshotRead => |h| {
        h.write("w1:1:0", "k1", (20, 30), Some(1), Some(None), Outcome::Fail)
            .fin(1, &[("k1", "w0:1:0")])
    };
    garbage_read: GarbageRead => |h| {
        h.read("r0", 1, (20, 30), 1, &[("k1", Some("zz:9:9"))], false)
            .fin(1, &[("k1", "w0:1:0")])
    };
    duplicate_key_in_scan: DuplicateKey => |h| {
        h.read(
            "r0",
            1,
            (20, 30),
            1,
            &[("k1", Some("w0:1:0")), ("k1", Some("w0:1:0"))],
            true,
        )
        .fin(1, &[("k1", "w0:1:0")])
    };
    duplicate_key_in_final_state: DuplicateKey => |h| {
        h.fin(1, &[("k1", "w0:1:0"), ("k1", "w0:1:0")])
    };
    txn_count_mismatch_txn_not_snapshot_plus_one: TxnCountMismatch => |h| {
        h.ok("w0:2:0", "k2", (20, 30), 2, None)
            .txn(2)
            .fin(2, &[("k1", "w0:1:0"), ("k2", "w0:2:0")])
    };
    txn_count_mismatch_txn_above_head: TxnCountMismatch => |h| {
        h.ok("w0:2:0", "k2", (20, 30), 1, None)
            .fin(1, &[("k1", "w0:1:0"), ("k2", "w0:2:0")])
    };
    txn_count_mismatch_unplaceable_observed_write: TxnCountMismatch => |h| {
        h.write("w1:1:0", "k2", (0, 10), None, None, Outcome::Info)
            .fin(2, &[("k1", "w0:1:0"), ("k2", "w1:1:0")])
    };
}

#[test]
fn sole_occupant_of_txn_is_inferred_committed() {
    let r = assert_found(
        &sole_occupant("w0:1:0"),
        &[AnomalyClass::LostUpdate, AnomalyClass::GSingle],
    );
    let a = &r.anomalies()[0];
    assert!(
        a.explanation.contains("only possible occupant of txn 2"),
        "{}",
        a.explanation
    );
    assert!(a.explanation.contains("w1:1:0"), "{}", a.explanation);
    let inferred = a.ops.iter().find(|o| o.client == "w1");
    assert_eq!(inferred.and_then(|o| o.txn_id), Some(2));
}

#[test]
fn sole_occupant_observed_consistently_passes() {
    assert_passes(&sole_occupant("w1:1:0"));
}

#[test]
fn sole_occupant_without_a_read_is_inferred_as_lost_write() {
    let r = must_fail_with_cycle(AnomalyClass::LostWrite, AnomalyClass::GSingle, |h| {
        h.write("w1:1:0", "k1", (20, 30), Some(1), None, Outcome::Info)
            .ok("w0:2:0", "k1", (40, 50), 2, Some("w0:1:0"))
            .fin(3, &[("k1", "w0:2:0")])
    });
    assert!(r.anomalies()[0]
        .explanation
        .contains("only possible occupant of txn 2"));

    // A reader at snapshot 2 must see the inferred write too.
    let r = must_fail(AnomalyClass::NonSnapshotRead, |h| {
        h.write("w1:1:0", "k1", (20, 30), Some(1), None, Outcome::Info)
            .read("r0", 1, (35, 38), 2, &[("k1", Some("w0:1:0"))], false)
            .write("w0:2:0", "k1", (40, 50), Some(2), None, Outcome::Ok)
            .fin(3, &[("k1", "w0:2:0")])
    });
    assert!(r.anomalies()[0].explanation.contains("stale"));
}

#[test]
fn two_candidates_for_a_txn_are_not_inferred() {
    assert_passes(&first_write_then(|h| {
        indeterminate_w1(h)
            .write("w2:1:0", "k2", (21, 31), Some(1), Some(None), Outcome::Info)
            .ok("w0:2:0", "k1", (40, 50), 2, Some("w0:1:0"))
            .fin(3, &[("k1", "w0:2:0")])
    }));
}

#[test]
fn sole_candidate_is_not_inferred_when_another_attempt_may_explain_the_txn() {
    // An attempt that never completed (snapshot unknown) could have made txn 2.
    let mut h = sole_occupant("w0:1:0");
    h.events.insert(
        0,
        Event::Invoke {
            client: "w3".to_string(),
            op: 1,
            attempt: 0,
            kind: OpKind::Write,
            t_us: 15,
            key: Some("k2".to_string()),
        },
    );
    assert_passes(&h);

    // So could a commit that cannot be placed (but it is reported itself).
    let mut h = sole_occupant("w0:1:0");
    h.events.pop();
    h.write("w3:1:0", "k2", (15, 16), None, None, Outcome::Info)
        .fin(3, &[("k1", "w0:2:0"), ("k2", "w3:1:0")]);
    assert_only(&h, AnomalyClass::TxnCountMismatch);
}
