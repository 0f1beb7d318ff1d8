//! Writer crashes end to end (`CHAOS_CRASH_EVERY_MS`, per-client manifests): a writer armed
//! to crash dies when its lease PUT, segment PUT or HEAD CAS lands, its attempts in flight are
//! recorded as crashed (`info` once the commit started, else `fail`), a fresh process takes
//! over, and the run counts the crashes and stays free of harness faults.

use crate::common;

use std::time::Duration;

use common::{spec, workload, TempDir};
use fusio_manifest_chaos::config::{ManifestMode, WorkloadConfig};
use fusio_manifest_chaos::history::{read_history, Event, Outcome};
use fusio_manifest_chaos::workload::run_workload;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_writers_are_recorded_counted_and_replaced() {
    let dir = TempDir::new("crash");
    let backend = common::embedded().await;
    let config = WorkloadConfig {
        manifests: ManifestMode::PerClient,
        crash_every_ms: 1_500,
        lease_ttl_secs: 1,
        ..workload(3, 1, 5.0, 20, Duration::from_secs(8))
    };
    let spec = spec("crash", config, &dir).build();
    let history = spec.history_path.clone();
    let result = run_workload(&backend, common::layer(1), spec)
        .await
        .expect("run");
    assert!(
        result.harness_faults.is_empty(),
        "{:?}",
        result.harness_faults
    );
    let crashes = result.crashes;
    println!(
        "crashes {crashes:?}; verdict {}; {:?}",
        result.verdict(),
        result.actor_row()
    );
    assert!(crashes.armed >= 3, "{crashes:?}");
    assert!(crashes.total() >= 2, "{crashes:?}");
    assert_eq!(result.actor_row().crashes, crashes.total());
    let mut crashed = Vec::new();
    let mut after_crash_commits = 0;
    for event in read_history(&history) {
        if let Event::Write {
            client,
            outcome,
            error,
            ..
        } = event.expect("readable history")
        {
            match error {
                Some(e) if e.contains("crashed (injected") => {
                    // A writer's segment PUT happens only inside its commit, so the attempt may
                    // have landed: `info`. A HEAD CAS is a commit's, or the process's orphan
                    // recovery's (run when a session opens, or in the background), so it may
                    // fall before the attempt's commit began (`fail`) or inside it (`info`), as
                    // may a lease PUT (at session open, or a keeper heartbeat during commit).
                    let in_commit = e.contains("after-segment-put");
                    match outcome {
                        Outcome::Ok => panic!("a crashed attempt recorded as ok: {e}"),
                        Outcome::Fail => assert!(
                            !in_commit,
                            "an attempt crashed inside its commit recorded as fail: {e}"
                        ),
                        Outcome::Info => {}
                    }
                    crashed.push((client, in_commit));
                }
                _ if outcome == Outcome::Ok && crashed.iter().any(|(c, _)| *c == client) => {
                    after_crash_commits += 1
                }
                _ => {}
            }
        }
    }
    assert!(!crashed.is_empty(), "no crashed attempt in the history");
    assert!(
        after_crash_commits > 0,
        "no writer committed after its crash: the fresh process did not take over"
    );
}
