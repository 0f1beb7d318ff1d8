//! Handmade histories for every anomaly class, the verdict, the recorder round trip, the
//! `check-history` logic, and the checker benchmark; anomaly files in [`saved`].

use std::path::PathBuf;

use super::*;
use crate::history::{make_value, read_history, value_id, HistoryRecorder};

mod saved;
mod txns;

/// The client, op and attempt of a value id `client:op:attempt` (0 for a missing number).
fn split_id(id: &str) -> (String, u64, u32) {
    let mut parts = id.split(':');
    let client = parts.next().unwrap_or_default().to_string();
    let op = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    let attempt = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    (client, op, attempt)
}

/// Builds histories event by event.
#[derive(Default)]
struct H {
    events: Vec<Event>,
}

impl H {
    /// The `invoke` of write attempt `id` at `t_us` (on `key`, if one); returns the parts of
    /// `id` (see [`split_id`]).
    fn invoke_write(&mut self, id: &str, t_us: u64, key: Option<&str>) -> (String, u64, u32) {
        let (client, op, attempt) = split_id(id);
        self.events.push(Event::Invoke {
            client: client.clone(),
            op,
            attempt,
            kind: OpKind::Write,
            t_us,
            key: key.map(str::to_string),
        });
        (client, op, attempt)
    }

    /// A write attempt `id` (`client:op:attempt`) on `key`, invoked at `t.0` and completed at
    /// `t.1`; `read`: `None` if the read did not return; an `ok` commit gets txn `snap + 1`.
    fn write(
        &mut self,
        id: &str,
        key: &str,
        t: (u64, u64),
        snap: Option<u64>,
        read: Option<Option<&str>>,
        outcome: Outcome,
    ) -> &mut Self {
        let (client, op, attempt) = self.invoke_write(id, t.0, Some(key));
        self.events.push(Event::Write {
            client,
            op,
            attempt,
            t_us: t.1,
            outcome,
            key: key.to_string(),
            snapshot_txn: snap,
            read_done: read.is_some(),
            read: read.flatten().map(str::to_string),
            wrote: id.to_string(),
            txn_id: match outcome {
                Outcome::Ok => snap.map(|s| s + 1),
                _ => None,
            },
            error: (outcome != Outcome::Ok).then(|| "error".to_string()),
        });
        self
    }

    /// An acknowledged write at snapshot `snap` (txn `snap + 1`).
    fn ok(
        &mut self,
        id: &str,
        key: &str,
        t: (u64, u64),
        snap: u64,
        read: Option<&str>,
    ) -> &mut Self {
        self.write(id, key, t, Some(snap), Some(read), Outcome::Ok)
    }

    /// Overrides the txn id of the last write.
    fn txn(&mut self, txn: u64) -> &mut Self {
        if let Some(Event::Write { txn_id, .. }) = self.events.last_mut() {
            *txn_id = Some(txn);
        }
        self
    }

    /// A read operation of `client` op `op` at snapshot `snap`.
    fn read(
        &mut self,
        client: &str,
        op: u64,
        t: (u64, u64),
        snap: u64,
        reads: &[(&str, Option<&str>)],
        scan: bool,
    ) -> &mut Self {
        self.events.push(Event::Invoke {
            client: client.to_string(),
            op,
            attempt: 0,
            kind: OpKind::Read,
            t_us: t.0,
            key: None,
        });
        self.events.push(Event::Read {
            client: client.to_string(),
            op,
            t_us: t.1,
            outcome: Outcome::Ok,
            snapshot_txn: Some(snap),
            scan,
            reads: reads
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            error: None,
            range: None,
        });
        self
    }

    /// The final state.
    fn fin(&mut self, head: u64, state: &[(&str, &str)]) -> &mut Self {
        self.events.push(Event::Final {
            t_us: 1_000_000,
            head_txn: head,
            state: state
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        self
    }

    fn check(&self) -> CheckReport {
        check(self.events.clone())
    }
}

fn console(r: &CheckReport) -> String {
    let mut out = Vec::new();
    r.write_console(&mut out, "test").expect("writing to a Vec");
    String::from_utf8_lossy(&out).into_owned()
}

fn found(r: &CheckReport) -> Vec<(AnomalyClass, u64)> {
    AnomalyClass::ALL
        .iter()
        .map(|&c| (c, r.count(c)))
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// The history has exactly one anomaly, of `class`, and nothing else wrong.
fn assert_only(h: &H, class: AnomalyClass) -> CheckReport {
    assert_found(h, &[class])
}

/// The history has exactly one anomaly of each of `classes` (in report order), and nothing
/// else wrong.
fn assert_found(h: &H, classes: &[AnomalyClass]) -> CheckReport {
    let r = h.check();
    let expected: Vec<(AnomalyClass, u64)> = classes.iter().map(|&c| (c, 1)).collect();
    assert_eq!(found(&r), expected, "{}", console(&r));
    let listed: Vec<AnomalyClass> = r.anomalies().iter().map(|a| a.class).collect();
    assert_eq!(listed, classes);
    assert!(r.anomalies().iter().all(|a| !a.explanation.is_empty()));
    assert_eq!(r.problems().0, 0, "{}", console(&r));
    assert!(!r.is_valid());
    r
}

/// [`must_fail`] for an anomaly that is also a dependency cycle of class `cycle`.
fn must_fail_with_cycle(
    class: AnomalyClass,
    cycle: AnomalyClass,
    rest: impl FnOnce(&mut H) -> &mut H,
) -> CheckReport {
    assert_found(&first_write_then(rest), &[class, cycle])
}

/// The history has no anomaly and passes.
fn assert_passes(h: &H) -> CheckReport {
    let r = h.check();
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.total_anomalies(), 0);
    r
}

/// A history of the acknowledged write `w0:1:0` of `k1` at snapshot 0 (txn 1), then what
/// `rest` adds.
fn first_write_then(rest: impl FnOnce(&mut H) -> &mut H) -> H {
    let mut h = H::default();
    rest(h.ok("w0:1:0", "k1", (0, 10), 0, None));
    h
}

/// [`first_write_then`] `rest` must have exactly one anomaly, of `class` (see
/// [`assert_only`]).
fn must_fail(class: AnomalyClass, rest: impl FnOnce(&mut H) -> &mut H) -> CheckReport {
    assert_only(&first_write_then(rest), class)
}

/// Retries, an observed and an unobserved indeterminate write, concurrent readers, a scan.
fn clean_history() -> H {
    first_write_then(|h| {
        h.write("w1:1:0", "k1", (2, 12), Some(0), Some(None), Outcome::Fail)
            .ok("w1:1:1", "k1", (13, 20), 1, Some("w0:1:0"))
            .write("w0:2:0", "k2", (21, 30), Some(2), Some(None), Outcome::Info)
            .write(
                "w1:2:0",
                "k1",
                (22, 31),
                Some(2),
                Some(Some("w1:1:1")),
                Outcome::Info,
            )
            .write("w1:3:0", "k2", (32, 33), None, None, Outcome::Info)
            .read("r0", 1, (5, 11), 0, &[("k1", None)], false)
            .read(
                "r1",
                1,
                (11, 25),
                1,
                &[("k1", Some("w0:1:0")), ("k2", None)],
                false,
            )
            .read(
                "r0",
                2,
                (32, 35),
                3,
                &[("k2", Some("w0:2:0")), ("k1", Some("w1:1:1"))],
                false,
            )
            .ok("w0:3:0", "k2", (36, 40), 3, Some("w0:2:0"))
            .read(
                "r1",
                2,
                (41, 45),
                4,
                &[("k1", Some("w1:1:1")), ("k2", Some("w0:3:0"))],
                true,
            )
            .fin(4, &[("k1", "w1:1:1"), ("k2", "w0:3:0")])
    })
}

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

/// The indeterminate write `w1:1:0` of `k1` at snapshot 1, which read `w0:1:0`.
fn indeterminate_w1(h: &mut H) -> &mut H {
    h.write(
        "w1:1:0",
        "k1",
        (20, 30),
        Some(1),
        Some(Some("w0:1:0")),
        Outcome::Info,
    )
}

/// `w1:1:0` (`info`, snapshot 1) is the only attempt that can have made txn 2 (HEAD is 3; the
/// racer `w2:1:0` definitely failed), and nobody observed it unless `next_read` (what the next
/// writer of `k1`, at snapshot 2, read) is its value.
fn sole_occupant(next_read: &str) -> H {
    first_write_then(|h| {
        indeterminate_w1(h)
            .write(
                "w2:1:0",
                "k1",
                (21, 31),
                Some(1),
                Some(Some("w0:1:0")),
                Outcome::Fail,
            )
            .read("r0", 1, (22, 32), 1, &[("k1", Some("w0:1:0"))], false)
            .ok("w0:2:0", "k1", (40, 50), 2, Some(next_read))
            .fin(3, &[("k1", "w0:2:0")])
    })
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

#[test]
fn missing_final_state_is_not_valid() {
    let mut h = clean_history();
    h.events.pop();
    let r = h.check();
    assert_eq!(r.total_anomalies(), 0, "{}", console(&r));
    assert!(!r.final_present());
    assert!(!r.ran(AnomalyClass::LostWrite));
    assert!(!r.ran(AnomalyClass::TxnCountMismatch));
    assert!(r.ran(AnomalyClass::AbortedRead));
    assert!(!r.is_valid());
    assert_eq!(
        r.verification_row("nofinal").verdict,
        "UNKNOWN: no final state could be read"
    );
    assert!(console(&r).contains("no final state"));
}

#[test]
fn inconsistent_history_is_a_problem() {
    let mut h = clean_history();
    h.fin(4, &[]);
    let r = h.check();
    assert_eq!(r.total_anomalies(), 0, "{}", console(&r));
    assert_eq!(r.problems().0, 1);
    assert!(!r.is_valid());
}

/// A history with 50 garbage reads (more than [`MAX_EXAMPLES`] of one class).
fn fifty_garbage_reads() -> H {
    let mut h = first_write_then(|h| h);
    for op in 0..50 {
        h.read(
            "r0",
            op,
            (20 + op, 21 + op),
            1,
            &[("k1", Some("nobody"))],
            false,
        );
    }
    h.fin(1, &[("k1", "w0:1:0")]);
    h
}

#[test]
fn anomaly_examples_are_bounded_but_counted() {
    let r = fifty_garbage_reads().check();
    assert_eq!(r.count(AnomalyClass::GarbageRead), 50);
    assert_eq!(r.anomalies().len(), MAX_EXAMPLES);
    assert!(console(&r).contains("... and 30 more"));
}

#[test]
fn verification_row_columns() {
    let row = clean_history().check().verification_row("s1");
    let json = serde_json::to_string(&row).expect("serializable");
    let columns: Vec<&str> = [
        "config_label",
        "ops_checked",
        "aborted_read",
        "lost_write",
        "lost_update",
        "duplicate_txn_id",
        "non_snapshot_read",
        "realtime_violation",
        "non_monotonic_read",
        "garbage_read",
        "duplicate_key",
        "txn_count_mismatch",
        "g0",
        "g1c",
        "g_single",
        "g2",
        "verdict",
    ]
    .to_vec();
    let mut at = 0;
    for c in &columns {
        let pos = json[at..]
            .find(&format!("\"{c}\":"))
            .unwrap_or_else(|| panic!("column {c} missing or out of order in {json}"));
        at += pos;
    }
    let names: Vec<&str> = AnomalyClass::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, columns[2..16].to_vec());
}

#[test]
fn verification_header_matches_the_serialized_row() {
    let row = clean_history().check().verification_row("s1");
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(&row).expect("serializable");
    let bytes = w.into_inner().expect("written to a Vec");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let mut lines = text.lines();
    let header = crate::visualization::header::<VerificationRow>();
    assert_eq!(lines.next(), Some(header.join(",").as_str()));
    assert_eq!(header[0], "config_label");
    let values: Vec<&str> = lines.next().expect("a row").split(',').collect();
    assert_eq!(values.len(), header.len());
    assert_eq!((values[0], values[header.len() - 1]), ("s1", "PASS"));
}

#[test]
fn clean_history_verdict_is_pass() {
    let r = clean_history().check();
    assert_eq!(r.verdict(), Verdict::Pass);
    assert_eq!(r.verdict().to_string(), "PASS");
    assert!(console(&r).contains("Verdict [test]: PASS (0 anomalies)"));
}

#[test]
fn history_without_final_event_verdict_is_unknown() {
    let mut h = clean_history();
    h.events.pop();
    let r = h.check();
    let reason = "no final state could be read";
    assert_eq!(r.verdict(), Verdict::Unknown(reason.to_string()));
    assert_eq!(r.verdict().to_string(), format!("UNKNOWN: {reason}"));
    let text = console(&r);
    assert!(
        text.contains(&format!("Verdict [test]: UNKNOWN: {reason} (0 anomalies)")),
        "{text}"
    );
}

#[test]
fn a_history_of_nothing_but_its_final_state_is_unknown() {
    let mut h = H::default();
    h.fin(0, &[]);
    let r = h.check();
    assert!(r.final_present());
    assert_eq!(
        r.verdict(),
        Verdict::Unknown("no operation completed, so nothing was checked".to_string())
    );
    assert!(!r.is_valid());
}

#[test]
fn a_history_of_reads_alone_is_unknown() {
    let mut h = H::default();
    h.read("r0", 1, (1, 5), 0, &[("k1", None)], false)
        .read("r0", 2, (6, 9), 0, &[("k2", None)], false)
        .fin(0, &[]);
    let r = h.check();
    assert_eq!((r.read_ops(), r.acknowledged_writes()), (2, 0));
    assert_eq!(r.total_anomalies(), 0, "{}", console(&r));
    assert_eq!(
        r.verdict(),
        Verdict::Unknown("no write was acknowledged, so no isolation was checked".to_string())
    );
    assert_eq!(
        r.verification_row("readers-only").verdict,
        r.verdict().to_string()
    );
}

#[test]
fn anomaly_without_final_event_verdict_is_fail() {
    let h = first_write_then(|h| h.read("r0", 1, (20, 30), 1, &[("k1", Some("zz:9:9"))], false));
    let r = h.check();
    assert!(!r.final_present());
    assert_eq!(r.count(AnomalyClass::GarbageRead), 1, "{}", console(&r));
    assert_eq!(r.verdict(), Verdict::Fail);
    assert_eq!(r.verification_row("x").verdict, "FAIL");
    assert!(console(&r).contains("Verdict [test]: FAIL (1 anomalies)"));
}

#[test]
fn inconsistent_history_verdict_is_unknown_with_the_count() {
    let mut h = clean_history();
    h.fin(4, &[]).fin(4, &[]);
    let r = h.check();
    let reason = "the history itself is inconsistent (2 problems)";
    assert_eq!(r.verdict(), Verdict::Unknown(reason.to_string()));
    assert!(!r.is_valid());
}

#[test]
fn value_helpers() {
    let v = make_value("w3:17:0", Some("w1:2:1"), 64);
    assert!(v.starts_with("w3:17:0|prev=w1:2:1|"));
    assert_eq!(v.len(), 64);
    assert_eq!(value_id(&v), "w3:17:0");
    let short = make_value("w0:1:0", None, 4);
    assert_eq!(short, "w0:1:0|prev=-|");
    assert_eq!(value_id(&short), "w0:1:0");
    assert_eq!(value_id("w0:1:0"), "w0:1:0");
    assert_eq!(value_id("bogus|prev=-|"), "bogus|prev=-|");
    assert_eq!(value_id("w0:x:0|prev=-|"), "w0:x:0|prev=-|");
    let long = "é".repeat(40);
    assert_eq!(value_id(&long).len(), 64);
    let odd = format!("a{}", "é".repeat(40));
    assert_eq!(value_id(&odd).len(), 63);
}

/// A unique path in the temp dir.
fn temp_path(name: &str) -> PathBuf {
    crate::utils::temp_jsonl("checker", name)
}

#[test]
fn recorder_round_trip() {
    let events = clean_history().events;
    let path = temp_path("roundtrip");
    let (recorder, writer) = HistoryRecorder::create(&path).expect("create history");
    let threads: Vec<_> = (0..2)
        .map(|half| {
            let recorder = recorder.clone();
            let mine: Vec<Event> = events.iter().skip(half).step_by(2).cloned().collect();
            std::thread::spawn(move || mine.into_iter().for_each(|e| recorder.record(e)))
        })
        .collect();
    for t in threads {
        t.join().expect("recording thread");
    }
    drop(recorder);
    assert_eq!(writer.finish().expect("finish"), events.len() as u64);
    let mut back: Vec<Event> = read_history(&path)
        .collect::<Result<_, _>>()
        .expect("read back");
    let key = |e: &Event| serde_json::to_string(e).unwrap_or_default();
    let mut expected = events.clone();
    back.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(back, expected);
    assert!(check_files(&[&path]).expect("valid file"));
    let _ = std::fs::remove_file(&path);

    let (memory, history) = HistoryRecorder::in_memory();
    events.iter().cloned().for_each(|e| memory.record(e));
    assert_eq!(history.take(), events);
    assert!(history.take().is_empty());
}

#[test]
fn recorder_and_errors_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<HistoryRecorder>();
    assert_send_sync::<crate::history::HistoryWriter>();
    assert_send_sync::<crate::history::HistoryError>();
    assert_send_sync::<CheckReport>();
}

#[test]
fn malformed_line_names_the_line() {
    let path = temp_path("malformed");
    let good = serde_json::to_string(&clean_history().events[0]).expect("serializable");
    std::fs::write(
        &path,
        format!("{good}\n\n{{\"type\":\"invoke\",\"client\":\"w0\"\n"),
    )
    .expect("write temp file");
    let items: Vec<_> = read_history(&path).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    let err = items[1].as_ref().expect_err("line 3 is malformed");
    assert_eq!(err.line, Some(3));
    let text = err.to_string();
    assert!(
        text.contains("line 3") && text.contains("malformed event"),
        "{text}"
    );

    let err = check_files(&[&path]).expect_err("bad file");
    assert_eq!(err.line, Some(3));
    let _ = std::fs::remove_file(&path);

    let missing = temp_path("missing");
    let err = check_files(&[&missing]).expect_err("missing file");
    assert_eq!(err.line, None);
    assert!(err.to_string().contains("cannot open"));
}

#[test]
fn check_files_reports_anomalies() {
    let path = temp_path("anomalous");
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None).fin(1, &[]);
    let text: String = h
        .events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
        .collect();
    std::fs::write(&path, text).expect("write temp file");
    assert!(!check_files(&[&path]).expect("readable"));
    let _ = std::fs::remove_file(&path);
}

/// Checking a file (read and parsed on a helper thread, fed as borrowed views) reports
/// exactly what checking its events in memory reports.
#[test]
fn check_file_reports_what_check_reports() {
    let mut inconsistent = clean_history();
    inconsistent.fin(4, &[]);
    let histories = [
        clean_history().events,
        fifty_garbage_reads().events,
        sole_occupant("w0:1:0").events,
        sole_occupant("w1:1:0").events,
        inconsistent.events,
        synthetic_history(30_000, 11).collect(),
    ];
    for events in histories {
        let path = temp_path("same-report");
        let text: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
            .collect();
        std::fs::write(&path, text).expect("write temp file");
        let from_file = check_file(&path).expect("readable");
        assert_eq!(console(&from_file), console(&check(&events)));
        let _ = std::fs::remove_file(&path);
    }
}

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

/// Indices of the acknowledged writes that read a previous value: an early and a late one.
fn early_and_late_acked(ev: &[Event]) -> (usize, usize) {
    let acked: Vec<usize> = (0..ev.len())
        .filter(|&i| {
            matches!(
                &ev[i],
                Event::Write {
                    outcome: Outcome::Ok,
                    read: Some(_),
                    ..
                }
            )
        })
        .collect();
    (acked[10], acked[acked.len() / 2])
}

/// Index of a read operation (op > 1) that saw a value: the last one, or the sixth one.
fn read_with_value(ev: &[Event], from_end: bool) -> usize {
    let mut found = (0..ev.len()).filter(|&i| {
        matches!(&ev[i], Event::Read { op, reads, .. }
            if *op > 1 && reads.iter().any(|r| r.1.is_some()))
    });
    if from_end {
        found.next_back()
    } else {
        found.nth(5)
    }
    .expect("a read that saw a value")
}

/// Lets a late acknowledged write fail instead: its value was read by then.
fn inject_aborted_read(ev: &mut [Event]) {
    let (_, late) = early_and_late_acked(ev);
    if let Event::Write {
        outcome, txn_id, ..
    } = &mut ev[late]
    {
        *outcome = Outcome::Fail;
        *txn_id = None;
    }
}

/// Drops a key from the final state.
fn inject_lost_write(ev: &mut [Event]) {
    if let Some(Event::Final { state, .. }) = ev.last_mut() {
        state.remove(0);
    }
}

/// Makes a late acknowledged write read nothing (a fork with the key's first writer).
fn inject_lost_update(ev: &mut [Event]) {
    let (_, late) = early_and_late_acked(ev);
    if let Event::Write { read, .. } = &mut ev[late] {
        *read = None;
    }
}

/// Gives a late acknowledged write the txn id of an early one.
fn inject_duplicate_txn_id(ev: &mut [Event]) {
    let (early, late) = early_and_late_acked(ev);
    let Event::Write { txn_id: first, .. } = ev[early].clone() else {
        return;
    };
    if let Event::Write { txn_id, .. } = &mut ev[late] {
        *txn_id = first;
    }
}

/// Makes the last read that saw values see nothing.
fn inject_non_snapshot_read(ev: &mut [Event]) {
    let i = read_with_value(ev, true);
    if let Event::Read { reads, .. } = &mut ev[i] {
        reads.iter_mut().for_each(|r| r.1 = None);
    }
}

/// Makes an early read that saw values see a value nobody wrote.
fn inject_garbage_read(ev: &mut [Event]) {
    let i = read_with_value(ev, false);
    if let Event::Read { reads, .. } = &mut ev[i] {
        reads
            .iter_mut()
            .for_each(|r| r.1 = Some("nobody:1:0".to_string()));
    }
}

/// Moves the last read that saw values back to snapshot 0.
fn inject_non_monotonic_read(ev: &mut [Event]) {
    let i = read_with_value(ev, true);
    if let Event::Read { snapshot_txn, .. } = &mut ev[i] {
        *snapshot_txn = Some(0);
    }
}

/// Moves the last failed write attempt back to snapshot 0.
fn inject_realtime_violation(ev: &mut [Event]) {
    let failed = ev
        .iter()
        .rposition(|e| {
            matches!(
                e,
                Event::Write {
                    outcome: Outcome::Fail,
                    ..
                }
            )
        })
        .expect("a failed attempt");
    if let Event::Write { snapshot_txn, .. } = &mut ev[failed] {
        *snapshot_txn = Some(0);
    }
}

/// Repeats a key of the final state.
fn inject_duplicate_key(ev: &mut [Event]) {
    if let Some(Event::Final { state, .. }) = ev.last_mut() {
        state.push(state[0].clone());
    }
}

/// Raises HEAD by one txn nobody made.
fn inject_txn_count_mismatch(ev: &mut [Event]) {
    if let Some(Event::Final { head_txn, .. }) = ev.last_mut() {
        *head_txn += 1;
    }
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
    for (class, inject) in INJECTIONS {
        let mut events = base.clone();
        inject(&mut events);
        let r = check(&events);
        assert!(r.count(class) > 0, "{class} not flagged:\n{}", console(&r));
    }
}
