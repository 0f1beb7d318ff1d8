//! The verdict (PASS, FAIL, UNKNOWN with its reason), history problems, bounded examples,
//! and the verification row and its CSV header.

use super::*;

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
    // Only what the checker judged: what the run's actors did is in the actors file.
    assert_eq!(crate::utils::header::<VerificationRow>(), columns);
}

#[test]
fn verification_header_matches_the_serialized_row() {
    let row = clean_history().check().verification_row("s1");
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(&row).expect("serializable");
    let bytes = w.into_inner().expect("written to a Vec");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let mut lines = text.lines();
    let header = crate::utils::header::<VerificationRow>();
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
