//! Every method of the storage wrapper, under every fault kind and block mode: nothing panics,
//! each call returns the error its fault promises (or the storage's own answer when the fault
//! lets it through), and a read hands its buffer back on every path.
//!
//! fusio's `read_to_end_at(buf)` takes the buffer by value and returns it with the result; the
//! wrapper once lost it on an early error and panicked inside fusio-manifest's orphan
//! recovery. This test is the structural guard against that class of harness fault.

// Real-time runs against the embedded server: the host's clock is what they time.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Store;
use fusio::fs::{CasCondition, Fs, FsCas, OpenOptions};
use fusio::path::Path;
use fusio::{FileCommit, Read, Write};
use fusio_manifest::ObjectHead;
use fusio_manifest_chaos::chaos::{
    BlockMode, ChaosFs, FaultKind, FaultSpec, InjectedError, StorageLayer,
};
use fusio_manifest_chaos::selfcheck::{self, HarnessFaults};
use futures_util::TryStreamExt;

type S3 = fusio::remotes::aws::fs::AmazonS3;

/// Every wrapper entry point fusio-manifest can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    OpenForAppend,
    ReadToEnd,
    ReadExact,
    Size,
    WriteAll,
    Flush,
    Close,
    Commit,
    List,
    Remove,
    Copy,
    Link,
    Exists,
    LoadWithTag,
    PutConditional,
    HeadMetadata,
}

const METHODS: [Method; 16] = [
    Method::OpenForAppend,
    Method::ReadToEnd,
    Method::ReadExact,
    Method::Size,
    Method::WriteAll,
    Method::Flush,
    Method::Close,
    Method::Commit,
    Method::List,
    Method::Remove,
    Method::Copy,
    Method::Link,
    Method::Exists,
    Method::LoadWithTag,
    Method::PutConditional,
    Method::HeadMetadata,
];

impl Method {
    /// Whether the call goes through the layer (and so can be faulted). `write_all` and
    /// `flush` only buffer; S3 has no links.
    fn faultable(self) -> bool {
        !matches!(self, Method::WriteAll | Method::Flush | Method::Link)
    }
}

/// The condition a call runs under.
#[derive(Clone, Copy, Debug)]
enum Condition {
    Transient,
    AnswerLost,
    Stall,
    HoldingBlock,
    RefusingBlock,
}

const CONDITIONS: [Condition; 5] = [
    Condition::Transient,
    Condition::AnswerLost,
    Condition::Stall,
    Condition::HoldingBlock,
    Condition::RefusingBlock,
];

/// How long a stall or a holding block lasts in this test.
const HOLD: Duration = Duration::from_millis(80);

/// What one call returned.
#[derive(Debug)]
struct Answer {
    ok: bool,
    injected: Option<InjectedError>,
    /// For reads: the buffer came back with at least its original capacity.
    buffer_back: bool,
    elapsed: Duration,
    /// For calls with a visible effect on storage: whether it happened (read back with the
    /// raw client afterwards).
    applied: Option<bool>,
    /// Operations the layer recorded for the call.
    recorded: u64,
}

const BUF_CAPACITY: usize = 4096;

/// Seed of the storage layer's randomness.
const SEED: u64 = 7;

fn path(s: &str) -> Path {
    Path::parse(s).expect("test path")
}

fn injected(e: &fusio::Error) -> Option<InjectedError> {
    match e {
        fusio::Error::Remote(inner) => inner.downcast_ref::<InjectedError>().copied(),
        _ => None,
    }
}

fn answer<T>(r: &Result<T, fusio::Error>, buffer_back: bool, t0: Instant) -> Answer {
    Answer {
        ok: r.is_ok(),
        injected: r.as_ref().err().and_then(injected),
        buffer_back,
        elapsed: t0.elapsed(),
        applied: None,
        recorded: 0,
    }
}

/// Whether the call's effect is visible in storage, for calls that have one.
async fn effect(r: &Store, m: Method, case: &str) -> Option<bool> {
    let exists = |name: &str| {
        let p = path(&format!("{case}/{name}"));
        async move { r.raw.load_with_tag(&p).await.expect("raw read").is_some() }
    };
    match m {
        Method::PutConditional => Some(exists("cas").await),
        Method::Remove => Some(!exists("obj").await),
        Method::Close | Method::Commit => Some(exists("new").await),
        Method::Copy => Some(exists("copy").await),
        _ => None,
    }
}

/// Runs one call in its own task (so a panic is caught) and fills in its effect and the
/// operations the layer recorded for it.
async fn observed_call(
    r: &Arc<Store>,
    m: Method,
    case: String,
    prepared: Prepared,
) -> Result<Answer, tokio::task::JoinError> {
    let before = r.layer.total_ops();
    let rig = r.clone();
    let task_case = case.clone();
    let answer = tokio::spawn(async move { call(&rig, m, &task_case, prepared).await }).await?;
    let recorded = r.layer.total_ops() - before;
    Ok(Answer {
        applied: effect(r, m, &case).await,
        recorded,
        ..answer
    })
}

/// A file opened (faults off) for the method, if it needs one.
enum Prepared {
    None,
    Reader(<ChaosFs<S3> as Fs>::File),
    Writer(<ChaosFs<S3> as Fs>::File),
}

/// Puts the objects the call needs with the raw client and opens its file, all before any
/// fault is armed.
async fn prepare(r: &Store, m: Method, case: &str) -> Prepared {
    let obj = path(&format!("{case}/obj"));
    r.raw
        .put_conditional(&obj, b"hello world", None, None, CasCondition::IfNotExists)
        .await
        .expect("seed object");
    match m {
        Method::ReadToEnd | Method::ReadExact | Method::Size => Prepared::Reader(
            r.chaos
                .open_options(&obj, OpenOptions::default())
                .await
                .expect("open for read"),
        ),
        Method::WriteAll | Method::Flush | Method::Close | Method::Commit => {
            let options = OpenOptions::default()
                .create(true)
                .write(true)
                .truncate(true);
            let mut file = r
                .chaos
                .open_options(&path(&format!("{case}/new")), options)
                .await
                .expect("open for write");
            let (res, _) = file.write_all(b"payload".to_vec()).await;
            res.expect("buffered write");
            Prepared::Writer(file)
        }
        _ => Prepared::None,
    }
}

/// Calls `m` once through the wrapper.
async fn call(r: &Store, m: Method, case: &str, prepared: Prepared) -> Answer {
    let obj = path(&format!("{case}/obj"));
    let t0 = Instant::now();
    match (m, prepared) {
        (Method::ReadToEnd, Prepared::Reader(mut f)) => {
            let (res, buf) = f.read_to_end_at(Vec::with_capacity(BUF_CAPACITY), 0).await;
            answer(&res, buf.capacity() >= BUF_CAPACITY, t0)
        }
        (Method::ReadExact, Prepared::Reader(mut f)) => {
            let (res, buf) = f.read_exact_at(vec![0u8; 5], 0).await;
            answer(&res, buf.len() == 5, t0)
        }
        (Method::Size, Prepared::Reader(f)) => answer(&f.size().await, true, t0),
        (Method::WriteAll, Prepared::Writer(mut f)) => {
            let (res, buf) = f.write_all(b"more".to_vec()).await;
            answer(&res, buf.len() == 4, t0)
        }
        (Method::Flush, Prepared::Writer(mut f)) => answer(&f.flush().await, true, t0),
        (Method::Close, Prepared::Writer(mut f)) => answer(&f.close().await, true, t0),
        (Method::Commit, Prepared::Writer(mut f)) => answer(&f.commit().await, true, t0),
        (Method::OpenForAppend, _) => {
            let options = OpenOptions::default().write(true);
            answer(&r.chaos.open_options(&obj, options).await, true, t0)
        }
        (Method::List, _) => {
            let listed = match r.chaos.list(&path(case)).await {
                Ok(s) => s.try_collect::<Vec<_>>().await,
                Err(e) => Err(e),
            };
            answer(&listed, true, t0)
        }
        (Method::Remove, _) => answer(&r.chaos.remove(&obj).await, true, t0),
        (Method::Copy, _) => {
            let to = path(&format!("{case}/copy"));
            answer(&r.chaos.copy(&obj, &to).await, true, t0)
        }
        (Method::Link, _) => {
            let to = path(&format!("{case}/link"));
            answer(&r.chaos.link(&obj, &to).await, true, t0)
        }
        (Method::Exists, _) => answer(&r.chaos.exists(&obj).await, true, t0),
        (Method::LoadWithTag, _) => answer(&r.chaos.load_with_tag(&obj).await, true, t0),
        (Method::PutConditional, _) => {
            let to = path(&format!("{case}/cas"));
            let put = r
                .chaos
                .put_conditional(&to, b"v", None, None, CasCondition::IfNotExists)
                .await;
            answer(&put, true, t0)
        }
        (Method::HeadMetadata, _) => answer(&r.chaos.head_metadata(&obj).await, true, t0),
        (m, _) => panic!("no file prepared for {m:?}"),
    }
}

/// Arms `c` on the layer; returns a task that lifts a holding block after [`HOLD`].
fn arm(layer: &Arc<StorageLayer>, c: Condition) -> Option<tokio::task::JoinHandle<()>> {
    let net = layer.network();
    let rule = |kind| vec![FaultSpec::everywhere(kind, 1.0)];
    match c {
        Condition::Transient => net.faults().set_faults(rule(FaultKind::Transient)),
        Condition::AnswerLost => net.faults().set_faults(rule(FaultKind::AmbiguousSuccess)),
        Condition::Stall => net.faults().set_faults(rule(FaultKind::Stall(HOLD))),
        Condition::RefusingBlock => {
            net.blocks().set_block_mode(BlockMode::Refuse);
            net.blocks().set_blocked(true);
        }
        Condition::HoldingBlock => {
            net.blocks().set_block_mode(BlockMode::Hold);
            net.blocks().set_blocked(true);
            let layer = layer.clone();
            return Some(tokio::spawn(async move {
                tokio::time::sleep(HOLD).await;
                layer.network().blocks().set_blocked(false);
            }));
        }
    }
    None
}

fn disarm(layer: &StorageLayer) {
    let net = layer.network();
    net.faults().set_faults(Vec::new());
    net.blocks().set_blocked(false);
    net.blocks().set_block_mode(BlockMode::Hold);
}

/// Checks one answer against what condition `c` promises for method `m`, given what the same
/// call does without faults (`clean`): the right error or answer, the buffer back, the effect
/// applied or not as the fault promises, and exactly one operation recorded.
fn verdict(m: Method, c: Condition, clean: &Answer, a: &Answer) -> Result<(), String> {
    let clean_ok = clean.ok;
    if !a.buffer_back {
        return Err("the read buffer did not come back".into());
    }
    if !m.faultable() {
        return (a.ok == clean_ok && a.injected.is_none() && a.recorded == 0)
            .then_some(())
            .ok_or_else(|| format!("pass-through call changed its answer: {a:?}"));
    }
    if a.recorded != 1 {
        return Err(format!("recorded {} operations, not 1: {a:?}", a.recorded));
    }
    let applied_expected = match c {
        Condition::Transient | Condition::RefusingBlock => clean.applied.map(|_| false),
        _ => clean.applied,
    };
    if a.applied != applied_expected {
        return Err(format!(
            "effect applied {:?}, expected {applied_expected:?}: {a:?}",
            a.applied
        ));
    }
    let expected_err = match c {
        Condition::Transient => Some(
            &[
                InjectedError::SlowDown,
                InjectedError::InternalError,
                InjectedError::ConnectionReset,
            ][..],
        ),
        Condition::AnswerLost => Some(&[InjectedError::AnswerLost][..]),
        Condition::RefusingBlock => Some(&[InjectedError::Refused][..]),
        Condition::Stall | Condition::HoldingBlock => None,
    };
    match expected_err {
        Some(allowed) => match a.injected {
            Some(e) if !a.ok && allowed.contains(&e) => Ok(()),
            _ => Err(format!("expected one of {allowed:?}, got {a:?}")),
        },
        None if a.ok != clean_ok => Err(format!("expected ok={clean_ok}, got {a:?}")),
        None if a.elapsed < HOLD => Err(format!("answered before the {HOLD:?} hold: {a:?}")),
        None => Ok(()),
    }
}

/// Runs one method once without faults (to learn the storage's own answer) and then under
/// every condition, each call in its own task so a panic is caught and reported.
async fn exercise(r: &Arc<Store>, m: Method) -> Vec<String> {
    let mut problems = Vec::new();
    let clean_case = format!("wrapper/{m:?}/clean");
    let prepared = prepare(r, m, &clean_case).await;
    let clean = match observed_call(r, m, clean_case, prepared).await {
        Ok(a) => a,
        Err(e) => return vec![format!("{m:?} without faults: {e}")],
    };
    for c in CONDITIONS {
        let case = format!("wrapper/{m:?}/{c:?}");
        let prepared = prepare(r, m, &case).await;
        // A holding block's hold runs from when it is armed, which is a little before the
        // call starts; time the answer from the same moment, never from later.
        let armed = Instant::now();
        let lift = arm(&r.layer, c);
        let joined = observed_call(r, m, case, prepared).await.map(|a| Answer {
            elapsed: armed.elapsed(),
            ..a
        });
        if let Some(lift) = lift {
            lift.await.expect("unblock task");
        }
        disarm(&r.layer);
        match joined {
            Err(e) if e.is_panic() => problems.push(format!("{m:?} under {c:?}: panicked")),
            Err(e) => problems.push(format!("{m:?} under {c:?}: task failed: {e}")),
            Ok(a) => {
                if let Err(why) = verdict(m, c, &clean, &a) {
                    problems.push(format!("{m:?} under {c:?}: {why}"));
                }
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wrapper_method_survives_every_fault_and_block() {
    let r = Arc::new(Store::new(SEED).await);
    let mut problems = Vec::new();
    for m in METHODS {
        problems.extend(exercise(&r, m).await);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn verdict_catches_a_lost_buffer_a_wrong_error_an_early_answer_a_wrong_effect_and_a_miscount() {
    let clean = Answer {
        ok: true,
        injected: None,
        buffer_back: true,
        elapsed: Duration::ZERO,
        applied: Some(true),
        recorded: 1,
    };
    let refused = Answer {
        ok: false,
        injected: Some(InjectedError::Refused),
        applied: Some(false),
        ..clean
    };
    let c = Condition::RefusingBlock;
    assert!(verdict(Method::PutConditional, c, &clean, &refused).is_ok());
    let lost_buffer = Answer {
        buffer_back: false,
        ..refused
    };
    assert!(verdict(Method::ReadToEnd, c, &clean, &lost_buffer).is_err());
    let wrong_error = Answer {
        injected: Some(InjectedError::AnswerLost),
        ..refused
    };
    assert!(verdict(Method::PutConditional, c, &clean, &wrong_error).is_err());
    let applied_anyway = Answer {
        applied: Some(true),
        ..refused
    };
    assert!(verdict(Method::PutConditional, c, &clean, &applied_anyway).is_err());
    let counted_twice = Answer {
        recorded: 2,
        ..refused
    };
    assert!(verdict(Method::PutConditional, c, &clean, &counted_twice).is_err());
    let lost_but_not_applied = Answer {
        ok: false,
        injected: Some(InjectedError::AnswerLost),
        applied: Some(false),
        ..clean
    };
    let lost = Condition::AnswerLost;
    assert!(verdict(Method::PutConditional, lost, &clean, &lost_but_not_applied).is_err());
    let early = Answer {
        elapsed: Duration::from_millis(1),
        ..clean
    };
    assert!(verdict(Method::Remove, Condition::Stall, &clean, &early).is_err());
}

/// The panic is a task of a run of its own (as a run's storage calls are), so it is that
/// run's harness fault, not one of every run in progress in this binary: a panic on a tokio
/// worker outside any run's tasks invalidates them all (`selfcheck`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deliberate_harness_panic_fires_once() {
    let r = Store::new(SEED).await;
    r.layer
        .inject_harness_panic(fusio_manifest_chaos::chaos::S3OpKind::Head);
    let chaos = r.chaos.clone();
    let run = HarnessFaults::new();
    let call = async move {
        chaos
            .head_metadata(&path("wrapper/panic/obj"))
            .await
            .map(|_| ())
    };
    let first = run.scope(async { selfcheck::spawn(call).await }).await;
    assert!(first.is_err_and(|e| e.is_panic()), "the armed call panics");
    let faults = run.faults();
    assert!(
        faults.len() == 1 && faults[0].contains("deliberate harness fault"),
        "recorded as the run's harness fault: {faults:?}"
    );
    let second = r.chaos.head_metadata(&path("wrapper/panic/obj")).await;
    assert!(
        matches!(second, Ok(None)),
        "the next HEAD runs normally: {second:?}"
    );
}
