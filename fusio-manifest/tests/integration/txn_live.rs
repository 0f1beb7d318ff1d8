//! Multi-key transactions and range scans end to end (`CHAOS_TXN_KEYS`,
//! `CHAOS_DELETE_PERCENT`, `CHAOS_SCAN_KEYS`): every writer op is one transaction that reads
//! three keys and puts or deletes each, recorded as a `txn` event; every reader op is one
//! `scan_range` of five consecutive keys, recorded as a `read` with its range; and the
//! checker finds a fault-free run clean.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{assert_pass, spec, workload, TempDir};
use fusio_manifest_chaos::config::WorkloadConfig;
use fusio_manifest_chaos::history::{read_history, Event, OpKind, Outcome};
use fusio_manifest_chaos::workload::run_workload;

/// The index of a key name (`k000042` is 42).
fn key_index(key: &str) -> usize {
    key.trim_start_matches('k').parse().expect("a key name")
}

/// What the history of a multi-key run holds.
#[derive(Debug, Default)]
struct Seen {
    txns: usize,
    with_puts: usize,
    with_deletes: usize,
    committed: usize,
    scans: usize,
    scans_with_rows: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_and_range_scans_are_recorded_and_check_clean() {
    let dir = TempDir::new("txn");
    let backend = common::embedded().await;
    let config = WorkloadConfig {
        txn_keys: 3,
        delete_percent: 30,
        scan_keys: 5,
        ..workload(3, 2, 5.0, 20, Duration::from_secs(4))
    };
    config.validate().expect("a valid multi-key workload");
    let spec = spec("txn", config, &dir).build();
    let history = spec.history_path.clone();
    // The history is complete before the checker reads it: look at what the clients recorded
    // first, whatever the check then says.
    let run = tokio::spawn(async move { run_workload(&backend, common::layer(1), spec).await });
    let finished = run.await;
    let seen = recorded(&history);
    println!("{seen:?}");
    assert!(seen.txns > 0 && seen.with_puts > 0, "{seen:?}");
    assert!(seen.with_deletes > 0, "30% deletes: {seen:?}");
    assert!(seen.committed > 0, "{seen:?}");
    assert!(seen.scans > 0 && seen.scans_with_rows > 0, "{seen:?}");
    let result = finished
        .expect("the run and its check finish")
        .expect("run");
    assert!(
        result.harness_faults.is_empty(),
        "{:?}",
        result.harness_faults
    );
    assert!(result.counts.commits > 0, "{:?}", result.counts);
    assert_pass(&result, "multi-key transactions and range scans, no fault");
}

/// Reads the history at `path`, checking each transaction and range scan on the way.
fn recorded(path: &Path) -> Seen {
    let mut seen = Seen::default();
    for event in read_history(path) {
        match event.expect("history line") {
            Event::Invoke {
                kind: OpKind::Write,
                key,
                ..
            } => assert_eq!(key, None, "a transaction's invoke names no key"),
            Event::Write { .. } => panic!("CHAOS_TXN_KEYS=3 records no single-key write"),
            Event::Txn {
                client,
                op,
                attempt,
                outcome,
                reads,
                puts,
                deletes,
                wrote,
                txn_id,
                ..
            } => {
                assert_eq!(wrote, format!("{client}:{op}:{attempt}"));
                let mut keys: Vec<&String> = puts.iter().chain(&deletes).collect();
                keys.sort_unstable();
                keys.dedup();
                assert_eq!(keys.len(), 3, "three distinct keys: {puts:?} {deletes:?}");
                seen.txns += 1;
                seen.with_puts += usize::from(!puts.is_empty());
                seen.with_deletes += usize::from(!deletes.is_empty());
                if outcome == Outcome::Ok {
                    assert!(txn_id.is_some(), "a commit has its txn id");
                    assert_eq!(reads.len(), 3, "a commit read every key first");
                    seen.committed += 1;
                }
            }
            Event::Read {
                client,
                scan,
                range,
                reads,
                outcome,
                ..
            } if client.starts_with('r') => {
                assert!(scan, "a reader op is a range scan");
                let (from, to) = range.expect("a range scan records its range");
                assert_eq!(key_index(&to) - key_index(&from), 5, "{from}..{to}");
                for (key, value) in &reads {
                    assert!(from <= *key && *key < to, "{key} outside {from}..{to}");
                    assert!(value.is_some(), "a scan returns present keys only");
                }
                seen.scans += 1;
                seen.scans_with_rows += usize::from(outcome == Outcome::Ok && !reads.is_empty());
            }
            _ => {}
        }
    }
    seen
}
