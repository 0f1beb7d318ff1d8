//! Handmade histories for every anomaly class, the recorder round trip, the `check-history`
//! logic, and the checker benchmark.

use std::path::PathBuf;
use std::time::Instant;

use super::*;
use crate::history::{make_value, value_id, HistoryRecorder};

/// Builds histories event by event.
#[derive(Default)]
struct H {
    events: Vec<Event>,
}

impl H {
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
        self.events.push(Event::Invoke {
            client: client.clone(),
            op,
            attempt,
            kind: OpKind::Write,
            t_us: t.0,
            key: Some(key.to_string()),
        });
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
    let r = h.check();
    assert_eq!(found(&r), vec![(class, 1)], "{}", console(&r));
    assert_eq!(r.anomalies().len(), 1);
    assert_eq!(r.anomalies()[0].class, class);
    assert!(!r.anomalies()[0].explanation.is_empty());
    assert_eq!(r.problems().0, 0, "{}", console(&r));
    assert!(!r.is_valid());
    r
}

/// Retries, an observed and an unobserved indeterminate write, concurrent readers, a scan.
fn clean_history() -> H {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write("w1:1:0", "k1", (2, 12), Some(0), Some(None), Outcome::Fail)
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
        .fin(4, &[("k1", "w1:1:1"), ("k2", "w0:3:0")]);
    h
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
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write("w1:1:0", "k1", (1, 11), Some(0), Some(None), Outcome::Fail)
        .read("r0", 1, (20, 30), 1, &[("k1", Some("w1:1:0"))], false)
        .fin(1, &[("k1", "w0:1:0")]);
    let r = assert_only(&h, AnomalyClass::AbortedRead);
    let ops = &r.anomalies()[0].ops;
    assert_eq!((ops[0].kind, ops[1].client.as_str()), (OpKind::Read, "w1"));
    assert!(console(&r).contains("❌ Uncommitted or unknown data observed"));
}

#[test]
fn lost_write_in_final_state() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .ok("w0:2:0", "k1", (20, 30), 1, Some("w0:1:0"))
        .fin(2, &[("k1", "w0:1:0")]);
    let r = assert_only(&h, AnomalyClass::LostWrite);
    assert_eq!(r.anomalies()[0].ops[0].txn_id, Some(2));
    assert_eq!(r.verification_row("lost").lost_write, 1);
}

#[test]
fn lost_write_key_missing_from_final_state() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None).fin(1, &[]);
    assert_only(&h, AnomalyClass::LostWrite);
}

#[test]
fn lost_update_fork() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .ok("w1:1:0", "k1", (20, 30), 1, None)
        .fin(2, &[("k1", "w1:1:0")]);
    let r = assert_only(&h, AnomalyClass::LostUpdate);
    assert_eq!(r.anomalies()[0].ops.len(), 2);
}

#[test]
fn lost_update_same_snapshot() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write("w1:1:0", "k2", (2, 12), Some(0), Some(None), Outcome::Info)
        .fin(1, &[("k1", "w0:1:0"), ("k2", "w1:1:0")]);
    assert_only(&h, AnomalyClass::LostUpdate);
}

#[test]
fn duplicate_txn_id() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .ok("w1:1:0", "k2", (2, 12), 0, None)
        .fin(1, &[("k1", "w0:1:0"), ("k2", "w1:1:0")]);
    assert_only(&h, AnomalyClass::DuplicateTxnId);
}

#[test]
fn non_snapshot_read_stale() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .ok("w0:2:0", "k1", (20, 30), 1, Some("w0:1:0"))
        .read("r0", 1, (40, 50), 2, &[("k1", Some("w0:1:0"))], false)
        .fin(2, &[("k1", "w0:2:0")]);
    let r = assert_only(&h, AnomalyClass::NonSnapshotRead);
    assert!(r.anomalies()[0].explanation.contains("stale"));
}

#[test]
fn non_snapshot_read_future() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .read("r0", 1, (1, 20), 0, &[("k1", Some("w0:1:0"))], false)
        .fin(1, &[("k1", "w0:1:0")]);
    let r = assert_only(&h, AnomalyClass::NonSnapshotRead);
    assert!(r.anomalies()[0].explanation.contains("future"));
}

#[test]
fn non_snapshot_read_scan_misses_key() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .read("r0", 1, (40, 50), 1, &[], true)
        .fin(1, &[("k1", "w0:1:0")]);
    assert_only(&h, AnomalyClass::NonSnapshotRead);
}

#[test]
fn non_snapshot_read_by_failed_writer() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write("w1:1:0", "k1", (20, 30), Some(1), Some(None), Outcome::Fail)
        .fin(1, &[("k1", "w0:1:0")]);
    assert_only(&h, AnomalyClass::NonSnapshotRead);
}

#[test]
fn realtime_violation() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .read("r0", 1, (20, 30), 0, &[("k1", None)], false)
        .fin(1, &[("k1", "w0:1:0")]);
    let r = assert_only(&h, AnomalyClass::RealtimeViolation);
    assert_eq!(r.anomalies()[0].ops[0].client, "w0");
}

#[test]
fn non_monotonic_read() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .read("r0", 1, (5, 12), 1, &[("k1", Some("w0:1:0"))], false)
        .read("r0", 2, (14, 20), 0, &[("k1", None)], false)
        .fin(1, &[("k1", "w0:1:0")]);
    let r = assert_only(&h, AnomalyClass::NonMonotonicRead);
    assert!(console(&r).contains("❌ Non-monotonic reads: 1"));
}

#[test]
fn garbage_read() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .read("r0", 1, (20, 30), 1, &[("k1", Some("zz:9:9"))], false)
        .fin(1, &[("k1", "w0:1:0")]);
    assert_only(&h, AnomalyClass::GarbageRead);
}

#[test]
fn duplicate_key_in_scan() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .read(
            "r0",
            1,
            (20, 30),
            1,
            &[("k1", Some("w0:1:0")), ("k1", Some("w0:1:0"))],
            true,
        )
        .fin(1, &[("k1", "w0:1:0")]);
    assert_only(&h, AnomalyClass::DuplicateKey);
}

#[test]
fn duplicate_key_in_final_state() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .fin(1, &[("k1", "w0:1:0"), ("k1", "w0:1:0")]);
    assert_only(&h, AnomalyClass::DuplicateKey);
}

#[test]
fn txn_count_mismatch_unexplained_txns() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .fin(3, &[("k1", "w0:1:0")]);
    let r = assert_only(&h, AnomalyClass::TxnCountMismatch);
    assert!(r.anomalies()[0].explanation.contains("e.g. txn 2, 3"));
}

#[test]
fn txn_count_mismatch_txn_not_snapshot_plus_one() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .ok("w0:2:0", "k2", (20, 30), 2, None)
        .txn(2)
        .fin(2, &[("k1", "w0:1:0"), ("k2", "w0:2:0")]);
    assert_only(&h, AnomalyClass::TxnCountMismatch);
}

#[test]
fn txn_count_mismatch_txn_above_head() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .ok("w0:2:0", "k2", (20, 30), 1, None)
        .fin(1, &[("k1", "w0:1:0"), ("k2", "w0:2:0")]);
    assert_only(&h, AnomalyClass::TxnCountMismatch);
}

#[test]
fn txn_count_mismatch_unplaceable_observed_write() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write("w1:1:0", "k2", (0, 10), None, None, Outcome::Info)
        .fin(2, &[("k1", "w0:1:0"), ("k2", "w1:1:0")]);
    assert_only(&h, AnomalyClass::TxnCountMismatch);
}

/// `w1:1:0` (`info`, snapshot 1) is the only attempt that can have made txn 2 (HEAD is 3; the
/// racer `w2:1:0` definitely failed), and nobody observed it unless `next_read` (what the next
/// writer of `k1`, at snapshot 2, read) is its value.
fn sole_occupant(next_read: &str) -> H {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write(
            "w1:1:0",
            "k1",
            (20, 30),
            Some(1),
            Some(Some("w0:1:0")),
            Outcome::Info,
        )
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
        .fin(3, &[("k1", "w0:2:0")]);
    h
}

#[test]
fn sole_occupant_of_txn_is_inferred_committed() {
    let r = assert_only(&sole_occupant("w0:1:0"), AnomalyClass::LostUpdate);
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
    let r = sole_occupant("w1:1:0").check();
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.total_anomalies(), 0);
}

#[test]
fn sole_occupant_without_a_read_is_inferred_as_lost_write() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write("w1:1:0", "k1", (20, 30), Some(1), None, Outcome::Info)
        .ok("w0:2:0", "k1", (40, 50), 2, Some("w0:1:0"))
        .fin(3, &[("k1", "w0:2:0")]);
    let r = assert_only(&h, AnomalyClass::LostWrite);
    assert!(r.anomalies()[0]
        .explanation
        .contains("only possible occupant of txn 2"));

    // A reader at snapshot 2 must see the inferred write too.
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write("w1:1:0", "k1", (20, 30), Some(1), None, Outcome::Info)
        .read("r0", 1, (35, 38), 2, &[("k1", Some("w0:1:0"))], false)
        .write("w0:2:0", "k1", (40, 50), Some(2), None, Outcome::Ok)
        .fin(3, &[("k1", "w0:2:0")]);
    let r = assert_only(&h, AnomalyClass::NonSnapshotRead);
    assert!(r.anomalies()[0].explanation.contains("stale"));
}

#[test]
fn two_candidates_for_a_txn_are_not_inferred() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None)
        .write(
            "w1:1:0",
            "k1",
            (20, 30),
            Some(1),
            Some(Some("w0:1:0")),
            Outcome::Info,
        )
        .write("w2:1:0", "k2", (21, 31), Some(1), Some(None), Outcome::Info)
        .ok("w0:2:0", "k1", (40, 50), 2, Some("w0:1:0"))
        .fin(3, &[("k1", "w0:2:0")]);
    let r = h.check();
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.total_anomalies(), 0);
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
    let r = h.check();
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.total_anomalies(), 0);

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
    assert_eq!(r.verification_row("nofinal").verdict, "FAIL");
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

#[test]
fn anomaly_examples_are_bounded_but_counted() {
    let mut h = H::default();
    h.ok("w0:1:0", "k1", (0, 10), 0, None);
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
    let r = h.check();
    assert_eq!(r.count(AnomalyClass::GarbageRead), 50);
    assert_eq!(r.anomalies().len(), MAX_EXAMPLES);
    assert!(console(&r).contains("... and 30 more"));
}

#[test]
fn verification_row_columns() {
    let row = clean_history().check().verification_row("s1");
    let json = serde_json::to_string(&row).expect("serializable");
    let columns: Vec<&str> = [
        "scenario",
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
    assert_eq!(names, columns[2..12].to_vec());
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
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!(
        "fmc-checker-{}-{nanos}-{name}.jsonl",
        std::process::id()
    ))
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

#[test]
fn synthetic_history_with_injected_anomalies_is_flagged() {
    let base: Vec<Event> = synthetic_history(3_000, 11).collect();
    let flagged = |class: AnomalyClass, mutate: &dyn Fn(&mut Vec<Event>)| {
        let mut events = base.clone();
        mutate(&mut events);
        let r = check(&events);
        assert!(r.count(class) > 0, "{class} not flagged:\n{}", console(&r));
    };
    // Acknowledged writes that read a previous value.
    let acked: Vec<usize> = (0..base.len())
        .filter(|&i| {
            matches!(
                &base[i],
                Event::Write {
                    outcome: Outcome::Ok,
                    read: Some(_),
                    ..
                }
            )
        })
        .collect();
    let (early, late) = (acked[10], acked[acked.len() / 2]);
    flagged(AnomalyClass::AbortedRead, &|ev| {
        if let Event::Write {
            outcome, txn_id, ..
        } = &mut ev[late]
        {
            *outcome = Outcome::Fail;
            *txn_id = None;
        }
    });
    flagged(AnomalyClass::LostWrite, &|ev| {
        if let Some(Event::Final { state, .. }) = ev.last_mut() {
            state.remove(0);
        }
    });
    flagged(AnomalyClass::LostUpdate, &|ev| {
        if let Event::Write { read, .. } = &mut ev[late] {
            *read = None;
        }
    });
    flagged(AnomalyClass::DuplicateTxnId, &|ev| {
        let Event::Write { txn_id: first, .. } = ev[early].clone() else {
            return;
        };
        if let Event::Write { txn_id, .. } = &mut ev[late] {
            *txn_id = first;
        }
    });
    let read_with_value = |ev: &[Event], from_end: bool| {
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
    };
    flagged(AnomalyClass::NonSnapshotRead, &|ev| {
        let i = read_with_value(ev, true);
        if let Event::Read { reads, .. } = &mut ev[i] {
            reads.iter_mut().for_each(|r| r.1 = None);
        }
    });
    flagged(AnomalyClass::GarbageRead, &|ev| {
        let i = read_with_value(ev, false);
        if let Event::Read { reads, .. } = &mut ev[i] {
            reads
                .iter_mut()
                .for_each(|r| r.1 = Some("nobody:1:0".to_string()));
        }
    });
    flagged(AnomalyClass::NonMonotonicRead, &|ev| {
        let i = read_with_value(ev, true);
        if let Event::Read { snapshot_txn, .. } = &mut ev[i] {
            *snapshot_txn = Some(0);
        }
    });
    flagged(AnomalyClass::RealtimeViolation, &|ev| {
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
    });
    flagged(AnomalyClass::DuplicateKey, &|ev| {
        if let Some(Event::Final { state, .. }) = ev.last_mut() {
            state.push(state[0].clone());
        }
    });
    flagged(AnomalyClass::TxnCountMismatch, &|ev| {
        if let Some(Event::Final { head_txn, .. }) = ev.last_mut() {
            *head_txn += 1;
        }
    });
}

/// Peak resident set size of this process (`VmHWM` of `/proc/self/status`).
fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs`), so each phase reports its own peak.
fn reset_hwm() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn rate(n: usize, d: std::time::Duration) -> String {
    format!(
        "{:.3} s = {:.0} ops/s",
        d.as_secs_f64(),
        n as f64 / d.as_secs_f64()
    )
}

/// The checker benchmark: `cargo test --release -- --ignored --nocapture bench`.
#[test]
#[ignore]
fn bench_check_1m_ops() {
    const N: usize = 1_000_000;
    println!("checker benchmark, {N} synthetic operations");

    reset_hwm();
    let t = Instant::now();
    let report = check(synthetic_history(N, 42));
    assert!(report.is_valid(), "{}", console(&report));
    assert_eq!(report.ops_checked(), N as u64);
    println!(
        "  generate + check, streamed: {}; peak RSS {}",
        rate(N, t.elapsed()),
        vm_hwm()
    );

    let events: Vec<Event> = synthetic_history(N, 42).collect();
    let mut best = std::time::Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let report = check(&events);
        best = best.min(t.elapsed());
        assert!(report.is_valid());
    }
    println!(
        "  check of {} events in memory (best of 3): {}",
        events.len(),
        rate(N, best)
    );
    let t = Instant::now();
    drop(events);
    println!(
        "  (dropping those events afterwards: {:.3} s)",
        t.elapsed().as_secs_f64()
    );

    let path = temp_path("bench");
    let t = Instant::now();
    let (recorder, writer) = HistoryRecorder::create(&path).expect("create history");
    for e in synthetic_history(N, 42) {
        recorder.record(e);
    }
    drop(recorder);
    let recorded = t.elapsed();
    let written = writer.finish().expect("finish");
    let finished = t.elapsed();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "  generate + record: {written} events ({:.0} MB) recorded in {:.3} s, written and fsynced after {:.3} s",
        bytes as f64 / 1e6,
        recorded.as_secs_f64(),
        finished.as_secs_f64()
    );
    let t = Instant::now();
    assert!(check_files(&[&path]).expect("readable"));
    println!(
        "  check-history on that file (parse + check): {}",
        rate(N, t.elapsed())
    );
    let _ = std::fs::remove_file(&path);
}
