//! The seed search: shards run as separate processes and merged give the report one process
//! gives over the same seeds; and the shrunk repros of the findings the search found, each
//! run twice with random faults off, show their finding and replay exactly.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fusio_manifest_chaos::config::{SearchSettings, Settings, Shard};
use fusio_manifest_chaos::search::{self, Feature, Repro, SearchReport};
use fusio_manifest_chaos::workload::RunResult;
use fusio_manifest_chaos::world::trace::{check_replay, RunProof};

/// Where a child process writes its shard report (set only for the child).
const CHILD_DIR: &str = "FMC_SEED_SEARCH_CHILD_DIR";
/// The shard a child runs (`I/N`).
const CHILD_SHARD: &str = "FMC_SEED_SEARCH_CHILD_SHARD";
/// Seeds and simulated seconds of the shard test.
const SEEDS: u64 = 12;
const DURATION: Duration = Duration::from_secs(20);

fn settings(shard: Shard) -> Settings {
    Settings {
        search: SearchSettings {
            seeds: SEEDS,
            from: 1,
            shard,
            shrink: false,
            ..SearchSettings::default()
        },
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_in_four_processes_merge_into_the_report_of_one_process() {
    let (one_dir, shard_dir) = (
        common::TempDir::new("search-one"),
        common::TempDir::new("search-shards"),
    );
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(std::env::current_exe().expect("test binary"))
                .args([
                    "--exact",
                    "seed_search::child_shard",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CHILD_DIR, shard_dir.as_os_str())
                .env(CHILD_SHARD, format!("{i}/4"))
                .spawn()
                .expect("start a shard process")
        })
        .collect();
    let one = search::run_seeds(&settings(Shard::default()), DURATION, &one_dir).await;
    for mut child in children {
        let status = child.wait().expect("a shard process ends");
        assert!(status.success(), "a shard process failed: {status}");
    }
    let paths: Vec<_> = (0..4)
        .map(|i| search::report_path(&shard_dir, &std::collections::BTreeSet::from([(i, 4)])))
        .collect();
    let shards = search::load(&paths).expect("every shard wrote its report");
    let merged = SearchReport::merge(&shards).expect("the shards merge");
    assert_eq!(merged.tally, one.tally);
    assert_eq!(merged.tally.ran, SEEDS);
    assert!(
        merged.tally.clean < SEEDS,
        "the seeds showed no failure at all: the comparison proves little"
    );
    let three = SearchReport::merge(&shards[..3]).expect("three shards merge");
    assert_ne!(three.tally, one.tally, "a missing shard changes the report");
}

/// One shard of [`four_shards_in_four_processes_merge_into_the_report_of_one_process`], in a
/// child process; does nothing when run any other way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child half of the shard test"]
async fn child_shard() {
    let (Some(dir), Some(shard)) = (std::env::var_os(CHILD_DIR), std::env::var(CHILD_SHARD).ok())
    else {
        return;
    };
    let shard = Shard::parse(CHILD_SHARD, &shard).expect("a shard");
    let report = search::run_seeds(&settings(shard), DURATION, Path::new(&dir)).await;
    search::save(&report, Path::new(&dir)).expect("save the shard report");
}

/// What the replay check needs of run `r`.
fn proof(r: &RunResult) -> RunProof<'_> {
    RunProof {
        digest: r.replay.as_ref(),
        history: &r.history_path,
    }
}

/// Runs `repro` twice: both runs must show `feature` and replay each other exactly.
async fn assert_shows(repro: &Repro, feature: &str) {
    let feature: Feature = feature.parse().expect("a feature");
    let (a_dir, b_dir) = (
        common::TempDir::new("repro-a"),
        common::TempDir::new("repro-b"),
    );
    let a = repro.run(&a_dir).await.expect("a valid repro");
    let b = repro.run(&b_dir).await.expect("a valid repro");
    for ran in [&a, &b] {
        assert!(
            ran.signature.has(&feature),
            "expected {feature}, showed {}",
            ran.signature
        );
    }
    let (ra, rb) = (
        a.result.as_ref().expect("a result"),
        b.result.as_ref().expect("a result"),
    );
    check_replay(&proof(ra), &proof(rb)).expect("the repro replays exactly");
}

// The shrunk repros of the findings a 2,000-seed search found (`CHAOS_SEARCH_SEEDS=2000`,
// seeds 1-2000, 60 s each), pasted from `seed_search/shrunk-*.rs`: each is the seed's schedule
// with random faults, blocks and crashes off and one fault point (or none) left.

/// FINDINGS.md 1: one lost answer to a HEAD CAS; the commit is reported failed, yet visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f1_aborted_read_seed_6() {
    let repro = Repro {
        seed: 6,
        duration_secs: 15,
        compactors: true,
        faults: true,
        workload: "CHAOS_NUM_READERS=0".into(),
        points: "condput:HEAD.json#31=answer_lost".into(),
        store: "s3".into(),
    };
    assert_shows(&repro, "aborted_read").await;
}

/// FINDINGS.md 2: one lost answer to a segment PUT; the failed write is adopted later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f2_aborted_read_seed_28() {
    let repro = Repro {
        seed: 28,
        duration_secs: 7,
        compactors: true,
        faults: true,
        workload: "CHAOS_NUM_READERS=0 CHAOS_NUM_WRITERS=1".into(),
        points: "condput:segments/seg-00000000000000000001.json#1=answer_lost".into(),
        store: "s3".into(),
    };
    assert_shows(&repro, "aborted_read").await;
}

/// FINDINGS.md 2: one lost answer to a segment PUT stops every commit past the lease TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f2_stall_seed_18() {
    let repro = Repro {
        seed: 18,
        duration_secs: 60,
        compactors: true,
        faults: true,
        workload: "CHAOS_NUM_READERS=0 CHAOS_NUM_WRITERS=1".into(),
        points: "condput:segments/seg-00000000000000000007.json#2=answer_lost".into(),
        store: "s3".into(),
    };
    assert_shows(&repro, "stall>lease_ttl").await;
}

/// FINDINGS.md 3: a commit whose first HEAD load is reset returns the error through
/// `store.head.load().await?` and never releases its write lease. The two earlier points only
/// steer the schedule to that load (each shifts later operation counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f3_unreleased_write_lease_seed_172() {
    let repro = Repro {
        seed: 172,
        duration_secs: 60,
        compactors: true,
        faults: true,
        workload: String::new(),
        points: "head:segments/seg-00000000000000000082.json#3=stall(856ms); \
                 get:segments/seg-00000000000000000090.json#1=internal; get:HEAD.json#395=reset"
            .into(),
        store: "s3".into(),
    };
    assert_shows(&repro, "unreleased_write_lease").await;
}

/// FINDINGS.md 5, from a fault-free search (`CHAOS_SEARCH_FAULTS=off
/// CHAOS_SEARCH_COMPACTORS=off`): S3 latency alone lets orphan recovery adopt a live commit,
/// which then reports `PreconditionFailed`. No fault point; no smaller workload keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f5_aborted_read_seed_8() {
    let repro = Repro {
        seed: 8,
        duration_secs: 60,
        compactors: false,
        faults: false,
        workload: String::new(),
        points: String::new(),
        store: "s3".into(),
    };
    assert_shows(&repro, "aborted_read").await;
}

/// FINDINGS.md 11: one lost answer to a lease's creation leaves a lease no one removes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f11_stray_lease_seed_1() {
    let repro = Repro {
        seed: 1,
        duration_secs: 7,
        compactors: true,
        faults: true,
        workload: String::new(),
        points: "condput:leases/lease-1767225600533.json#1=answer_lost".into(),
        store: "s3".into(),
    };
    assert_shows(&repro, "stray_lease").await;
}

/// FINDINGS.md 12: no fault at all; GC deletes the segments a pinned reader's session reads,
/// and a key it read before reads as absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f12_non_snapshot_read_seed_1581() {
    let repro = Repro {
        seed: 1581,
        duration_secs: 15,
        compactors: true,
        faults: true,
        workload: String::new(),
        points: String::new(),
        store: "s3".into(),
    };
    assert_shows(&repro, "non_snapshot_read").await;
}

/// FINDINGS.md 6: no fault at all; after a compaction the final read fails with 404 on S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrunk_f6_no_final_state_seed_2() {
    let repro = Repro {
        seed: 2,
        duration_secs: 7,
        compactors: true,
        faults: true,
        workload: String::new(),
        points: String::new(),
        store: "s3".into(),
    };
    assert_shows(&repro, "no_final_state").await;
}

/// A check that cannot fail proves nothing: the F1 repro without its point shows no
/// aborted read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_point_the_f1_repro_is_clean_of_aborted_reads() {
    let repro = Repro {
        seed: 6,
        duration_secs: 15,
        compactors: true,
        faults: true,
        workload: "CHAOS_NUM_READERS=0".into(),
        points: String::new(),
        store: "s3".into(),
    };
    let dir = common::TempDir::new("repro-none");
    let ran = repro.run(&dir).await.expect("a valid repro");
    assert!(
        !ran.signature.has(&Feature::Anomaly("aborted_read".into())),
        "showed {}",
        ran.signature
    );
}

/// The lease features can fail to show: the F3 repro without its points releases every
/// lease, and leaves none astray.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_points_the_f3_repro_leaves_no_lease() {
    let repro = Repro {
        seed: 172,
        duration_secs: 60,
        compactors: true,
        faults: true,
        workload: String::new(),
        points: String::new(),
        store: "s3".into(),
    };
    let dir = common::TempDir::new("repro-none-f3");
    let ran = repro.run(&dir).await.expect("a valid repro");
    for lease in [Feature::UnreleasedWriteLease, Feature::StrayLease] {
        assert!(!ran.signature.has(&lease), "showed {}", ran.signature);
    }
}
