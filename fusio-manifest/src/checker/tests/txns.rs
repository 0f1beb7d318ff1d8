//! Multi-key transactions, deletes and range scans: a clean history, and for each anomaly
//! they make visible (write, read and write skew cycles, lost deletes, phantoms and missing
//! rows) a handmade history that must be flagged.

use super::*;

/// A `(key, value id or none)` read.
type R<'a> = (&'a str, Option<&'a str>);

impl H {
    /// A multi-key transaction attempt `id` at snapshot `snap`, invoked at `t.0` and completed
    /// at `t.1`: it read `reads`, put its value into `puts`, deleted `deletes`; an `ok` commit
    /// gets txn `snap + 1`.
    fn txn_op(
        &mut self,
        id: &str,
        t: (u64, u64),
        snap: u64,
        (reads, puts, deletes): (&[R], &[&str], &[&str]),
        outcome: Outcome,
    ) -> &mut Self {
        let (client, op, attempt) = self.invoke_write(id, t.0, None);
        let strings = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect();
        self.events.push(Event::Txn {
            client,
            op,
            attempt,
            t_us: t.1,
            outcome,
            snapshot_txn: Some(snap),
            reads: reads
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            puts: strings(puts),
            deletes: strings(deletes),
            wrote: id.to_string(),
            txn_id: (outcome == Outcome::Ok).then_some(snap + 1),
            error: (outcome != Outcome::Ok).then(|| "error".to_string()),
        });
        self
    }

    /// An acknowledged [`H::txn_op`].
    fn txn_ok(
        &mut self,
        id: &str,
        t: (u64, u64),
        snap: u64,
        ops: (&[R], &[&str], &[&str]),
    ) -> &mut Self {
        self.txn_op(id, t, snap, ops, Outcome::Ok)
    }

    /// A range scan of `[from, to)` by `client` op `op` at snapshot `snap`.
    fn range_read(
        &mut self,
        client: &str,
        op: u64,
        t: (u64, u64),
        snap: u64,
        reads: &[R],
        (from, to): (&str, &str),
    ) -> &mut Self {
        self.read(client, op, t, snap, reads, true);
        if let Some(Event::Read { range, .. }) = self.events.last_mut() {
            *range = Some((from.to_string(), to.to_string()));
        }
        self
    }
}

/// `t1` (txn 1) puts `x` and `y`; `t2` (txn 2) reads both and puts `x`, deletes `y`.
fn two_txns() -> H {
    let mut h = H::default();
    h.txn_ok(
        "t1:1:0",
        (0, 10),
        0,
        (&[("x", None), ("y", None)], &["x", "y"], &[]),
    )
    .txn_ok(
        "t2:1:0",
        (20, 30),
        1,
        (
            &[("x", Some("t1:1:0")), ("y", Some("t1:1:0"))],
            &["x"],
            &["y"],
        ),
    );
    h
}

#[test]
fn a_clean_history_of_transactions_deletes_and_range_scans_passes() {
    let mut h = two_txns();
    h.read(
        "r0",
        1,
        (12, 18),
        1,
        &[("x", Some("t1:1:0")), ("y", Some("t1:1:0"))],
        false,
    )
    .range_read("r0", 2, (40, 50), 2, &[("x", Some("t2:1:0"))], ("x", "z"))
    .range_read("r1", 1, (12, 19), 1, &[("y", Some("t1:1:0"))], ("y", "z"))
    .write("t3:1:0", "y", (60, 70), Some(2), Some(None), Outcome::Ok)
    .txn_op(
        "t4:1:0",
        (80, 90),
        3,
        (&[("x", Some("t2:1:0"))], &[], &["x"]),
        Outcome::Fail,
    )
    .fin(3, &[("x", "t2:1:0"), ("y", "t3:1:0")]);
    let r = h.check();
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.total_anomalies(), 0);
    assert_eq!(
        (r.multi_key_txns(), r.deletes(), r.range_scans()),
        (2, 1, 2)
    );
}

#[test]
fn a_key_deleted_last_is_absent_from_the_final_state() {
    let r = two_txns().fin(2, &[("x", "t2:1:0")]).check();
    assert!(r.is_valid(), "{}", console(&r));
}

#[test]
fn a_lost_delete_is_a_lost_write() {
    let r = assert_only(
        two_txns().fin(2, &[("x", "t2:1:0"), ("y", "t1:1:0")]),
        AnomalyClass::LostWrite,
    );
    let text = &r.anomalies()[0].explanation;
    assert!(text.contains("deleted by t2:1:0"), "{text}");
}

#[test]
fn a_range_scan_returning_a_deleted_key_is_a_phantom() {
    let mut h = two_txns();
    h.range_read("r0", 1, (40, 50), 2, &[("y", Some("t1:1:0"))], ("y", "z"))
        .fin(2, &[("x", "t2:1:0")]);
    let r = assert_only(&h, AnomalyClass::NonSnapshotRead);
    let text = &r.anomalies()[0].explanation;
    assert!(text.contains("phantom"), "{text}");
}

#[test]
fn a_range_scan_missing_a_row_is_flagged() {
    let mut h = two_txns();
    h.range_read("r0", 1, (12, 18), 1, &[("x", Some("t1:1:0"))], ("x", "z"))
        .fin(2, &[("x", "t2:1:0")]);
    let r = assert_only(&h, AnomalyClass::NonSnapshotRead);
    let text = &r.anomalies()[0].explanation;
    assert!(text.contains("missed y"), "{text}");
}

#[test]
fn a_range_scan_that_failed_has_no_missing_rows() {
    let mut h = two_txns();
    h.range_read("r0", 1, (12, 18), 1, &[], ("x", "z"));
    if let Some(Event::Read { outcome, .. }) = h.events.last_mut() {
        *outcome = Outcome::Fail;
    }
    let r = h.fin(2, &[("x", "t2:1:0")]).check();
    assert!(r.is_valid(), "{}", console(&r));
}

#[test]
fn a_range_scan_returning_a_key_outside_its_range_is_flagged() {
    let mut h = two_txns();
    h.range_read(
        "r0",
        1,
        (12, 18),
        1,
        &[("x", Some("t1:1:0")), ("y", Some("t1:1:0"))],
        ("x", "y"),
    )
    .fin(2, &[("x", "t2:1:0")]);
    let r = assert_only(&h, AnomalyClass::NonSnapshotRead);
    let text = &r.anomalies()[0].explanation;
    assert!(text.contains("outside the scanned range"), "{text}");
}

#[test]
fn a_transaction_value_read_from_a_key_it_did_not_put_is_flagged() {
    let mut h = two_txns();
    h.read(
        "r0",
        1,
        (40, 50),
        2,
        &[("x", Some("t2:1:0")), ("y", Some("t2:1:0"))],
        false,
    )
    .fin(2, &[("x", "t2:1:0")]);
    let r = assert_only(&h, AnomalyClass::NonSnapshotRead);
    let text = &r.anomalies()[0].explanation;
    assert!(text.contains("did not put into y"), "{text}");
}

/// The classes a cycle anomaly of `h` is reported under, and its explanation.
fn cycle_of(h: &H, with: AnomalyClass, cycle: AnomalyClass) -> String {
    let r = assert_found(h, &[with, cycle]);
    r.anomalies()[1].explanation.clone()
}

#[test]
fn g0_write_cycle() {
    // t2 (txn 2) overwrote t1's x; t1 (txn 1) read and overwrote t2's y: the versions of x
    // and y are in opposite orders.
    let mut h = H::default();
    h.txn_ok(
        "t1:1:0",
        (0, 10),
        0,
        (&[("y", Some("t2:1:0"))], &["x", "y"], &[]),
    )
    .txn_ok(
        "t2:1:0",
        (20, 30),
        1,
        (&[("x", Some("t1:1:0"))], &["x", "y"], &[]),
    )
    .fin(2, &[("x", "t2:1:0"), ("y", "t2:1:0")]);
    // t1 also read y from t2, which read x from t1: a G1c cycle in the same component.
    let classes = [
        AnomalyClass::NonSnapshotRead,
        AnomalyClass::G0,
        AnomalyClass::G1c,
    ];
    let r = assert_found(&h, &classes);
    let text = &r.anomalies()[1].explanation;
    assert!(text.contains("-ww "), "{text}");
    assert!(!text.contains("-rw ") && !text.contains("-wr "), "{text}");
    let text = &r.anomalies()[2].explanation;
    assert!(text.contains("-wr ") && !text.contains("-rw "), "{text}");
}

#[test]
fn g1c_circular_information_flow() {
    // t1 (txn 1) read y from t2 (txn 2), which read x from t1.
    let mut h = H::default();
    h.txn_ok(
        "t1:1:0",
        (0, 10),
        0,
        (&[("y", Some("t2:1:0"))], &["x"], &[]),
    )
    .txn_ok(
        "t2:1:0",
        (20, 30),
        1,
        (&[("x", Some("t1:1:0"))], &["y"], &[]),
    )
    .fin(2, &[("x", "t1:1:0"), ("y", "t2:1:0")]);
    let text = cycle_of(&h, AnomalyClass::NonSnapshotRead, AnomalyClass::G1c);
    assert!(text.contains("-wr "), "{text}");
    assert!(!text.contains("-rw "), "{text}");
}

#[test]
fn g_single_read_skew() {
    // r0 at snapshot 2 saw t2's x but t1's y, which t2 had overwritten.
    let mut h = H::default();
    h.txn_ok("t1:1:0", (0, 10), 0, (&[], &["x", "y"], &[]))
        .txn_ok(
            "t2:1:0",
            (20, 30),
            1,
            (
                &[("x", Some("t1:1:0")), ("y", Some("t1:1:0"))],
                &["x", "y"],
                &[],
            ),
        )
        .read(
            "r0",
            1,
            (40, 50),
            2,
            &[("x", Some("t2:1:0")), ("y", Some("t1:1:0"))],
            false,
        )
        .fin(2, &[("x", "t2:1:0"), ("y", "t2:1:0")]);
    let text = cycle_of(&h, AnomalyClass::NonSnapshotRead, AnomalyClass::GSingle);
    assert_eq!(text.matches("-rw ").count(), 1, "{text}");
    assert!(text.contains("read r0 op 1"), "{text}");
}

#[test]
fn g2_write_skew() {
    // t1 and t2 each read x and y as absent and wrote one of them: each missed the other's.
    let mut h = H::default();
    h.txn_ok(
        "t1:1:0",
        (0, 10),
        0,
        (&[("x", None), ("y", None)], &["x"], &[]),
    )
    .txn_ok(
        "t2:1:0",
        (20, 30),
        1,
        (&[("x", None), ("y", None)], &["y"], &[]),
    )
    .fin(2, &[("x", "t1:1:0"), ("y", "t2:1:0")]);
    let text = cycle_of(&h, AnomalyClass::NonSnapshotRead, AnomalyClass::G2);
    assert_eq!(text.matches("-rw ").count(), 2, "{text}");
}

#[test]
fn transactions_parse_from_a_file_and_check_the_same() {
    let mut h = two_txns();
    h.range_read("r0", 1, (40, 50), 2, &[("x", Some("t2:1:0"))], ("x", "z"))
        .fin(2, &[("x", "t2:1:0"), ("y", "t1:1:0")]);
    let path = temp_path("txns");
    let text: String = h
        .events
        .iter()
        .map(|e| serde_json::to_string(e).expect("serializable") + "\n")
        .collect();
    std::fs::write(&path, text).expect("write history");
    let from_file = check_file(&path).expect("readable");
    let _ = std::fs::remove_file(&path);
    let in_memory = h.check();
    assert_eq!(from_file.anomalies(), in_memory.anomalies());
    assert_eq!(in_memory.count(AnomalyClass::LostWrite), 1);
}
