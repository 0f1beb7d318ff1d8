//! The embedded S3 server runs on its own runtime: it keeps answering while the caller's
//! runtime is blocked, it reports how many requests it is handling, and dropping it stops its
//! threads and its listener.
//!
//! Every test here takes [`SERIAL`] for as long as its server lives, so the server threads one
//! test counts are its own.

// Real-time runs against the embedded server: the host's clock is what they time.
#![allow(clippy::disallowed_methods)]

use crate::common;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use common::{embedded, embedded_with};
use fusio_manifest_chaos::backend::embedded::SERVER_THREAD_NAME;
use fusio_manifest_chaos::backend::preflight::sdk_client;
use fusio_manifest_chaos::backend::{Backend, FaultMode, S3Settings};

/// One server alive at a time in this binary (see the module docs).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a test blocks its own runtime thread at most while it waits for an answer from
/// another thread. Only a hang guard: a working server answers in milliseconds, and a server
/// on the blocked runtime never answers at all.
const BLOCK: Duration = Duration::from_secs(30);

/// Runs `HeadBucket` then `PutObject` against `settings` on a fresh std thread with its own
/// small runtime, and sends whether both succeeded (or the error) on the returned channel.
fn request_from_another_thread(
    settings: S3Settings,
) -> (
    mpsc::Receiver<Result<(), String>>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let result = rt.block_on(async {
            let s3 = sdk_client(&settings);
            s3.head_bucket()
                .bucket(&settings.bucket)
                .send()
                .await
                .map_err(|e| format!("head_bucket: {e:?}"))?;
            s3.put_object()
                .bucket(&settings.bucket)
                .key("blocked-caller/probe")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .map_err(|e| format!("put_object: {e:?}"))?;
            Ok(())
        });
        let _ = tx.send(result);
    });
    (rx, thread)
}

#[tokio::test(flavor = "current_thread")]
async fn server_answers_while_the_callers_runtime_is_blocked() {
    let _serial = SERIAL.lock().await;
    let b = embedded().await;
    let (answer, client) = request_from_another_thread(b.settings().clone());
    // Block the test's only runtime thread on purpose (as a CPU burner or a stuck client would)
    // until the answer arrives. A server whose tasks live on this runtime cannot make progress
    // now, so the answer would only come after the block ends: the receive times out.
    let during_block = answer.recv_timeout(BLOCK);
    let result = during_block.expect(
        "the server must answer while the caller's runtime is blocked (it needs its own runtime)",
    );
    result.expect("the request succeeds");
    client.join().expect("client thread");
    assert_eq!(
        b.embedded_server().unwrap().object_count("blocked-caller/"),
        1
    );
}

/// The server's `127.0.0.1:PORT`.
fn server_addr(b: &Backend) -> SocketAddr {
    let endpoint = b.settings().endpoint.clone().expect("an embedded endpoint");
    endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("endpoint is http://IP:PORT")
}

/// Threads of this process named [`SERVER_THREAD_NAME`] (Linux: `/proc/self/task/*/comm`).
#[cfg(target_os = "linux")]
fn server_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == SERVER_THREAD_NAME)
        .count()
}

/// Server threads still alive; 0 off Linux, where they cannot be listed.
#[cfg(not(target_os = "linux"))]
fn server_threads() -> usize {
    0
}

/// Polls `done` until it holds; panics with `what` if it still does not after [`BLOCK`] (a
/// hang guard, not a timing assertion).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + BLOCK;
    while !done() {
        assert!(Instant::now() < deadline, "still not true: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn refuses_connections(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_gauge_counts_requests_inside_the_handler() {
    let _serial = SERIAL.lock().await;
    // NonAtomic holds every PUT in the handler for a couple of milliseconds after its check.
    let b = embedded_with(FaultMode::NonAtomic).await;
    let server = b.embedded_server().unwrap();
    assert_eq!(server.requests_in_flight(), 0);
    assert_eq!(server.take_max_in_flight(), 0, "nothing ran yet");

    // PUTs one after another until a sample of the live gauge lands inside a held PUT.
    let s3 = sdk_client(b.settings());
    let bucket = b.settings().bucket.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let (s3, bucket, stop) = (s3.clone(), bucket.clone(), stop.clone());
        tokio::spawn(async move {
            for i in 0..5000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                s3.put_object()
                    .bucket(&bucket)
                    .key(format!("gauge/{i}"))
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await
                    .expect("put");
            }
        })
    };
    let mut seen_live = false;
    while !driver.is_finished() {
        if server.requests_in_flight() >= 1 {
            seen_live = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.store(true, Ordering::SeqCst);
    driver.await.expect("driver");
    assert!(seen_live, "a held PUT never showed in requests_in_flight");
    assert!(server.take_max_in_flight() >= 1);
    assert_eq!(server.requests_in_flight(), 0, "every PUT answered");
    assert_eq!(
        server.take_max_in_flight(),
        0,
        "the peak restarts from the current count"
    );

    // A burst of concurrent requests, half of them failing in the handler (GET of a missing
    // key): an error leaves the count too.
    let requests = (0..32).map(|i| {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        tokio::spawn(async move {
            if i % 2 == 0 {
                let put = s3
                    .put_object()
                    .bucket(&bucket)
                    .key(format!("burst/{i}"))
                    .body(ByteStream::from_static(b"x"))
                    .send()
                    .await;
                assert!(put.is_ok(), "{put:?}");
            } else {
                let get = s3
                    .get_object()
                    .bucket(&bucket)
                    .key("burst/missing")
                    .send()
                    .await;
                assert!(get.is_err(), "no such key");
            }
        })
    });
    for r in futures_util::future::join_all(requests).await {
        r.expect("request task");
    }
    assert!(server.take_max_in_flight() >= 1);
    assert_eq!(server.requests_in_flight(), 0, "errors are counted out too");
    assert_eq!(server.object_count("burst/"), 16);
}

#[tokio::test]
async fn dropping_the_server_inside_async_code_stops_its_runtime_and_listener() {
    let _serial = SERIAL.lock().await;
    // An earlier test's server may still be finishing its shutdown in the background.
    wait_until("earlier servers' threads exited", || server_threads() == 0);
    let b = embedded().await;
    let addr = server_addr(&b);
    sdk_client(b.settings())
        .head_bucket()
        .bucket(&b.settings().bucket)
        .send()
        .await
        .expect("the server answers");
    if cfg!(target_os = "linux") {
        // A thread takes its name once it first runs, which under load can be a moment late.
        wait_until("two worker threads of its own", || server_threads() == 2);
    }
    // Dropping a tokio runtime inside another one panics; the server must not.
    drop(b);
    // Inside an async context the shutdown is only signalled; the workers finish it at once.
    wait_until("the listener closed", || refuses_connections(addr));
    wait_until("the server threads exited", || server_threads() == 0);
}

#[test]
fn dropping_the_server_outside_async_code_closes_its_listener_at_once() {
    let _serial = SERIAL.blocking_lock();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let b = rt.block_on(embedded());
    let addr = server_addr(&b);
    rt.block_on(async {
        sdk_client(b.settings())
            .head_bucket()
            .bucket(&b.settings().bucket)
            .send()
            .await
            .expect("the server answers")
    });
    // Outside any runtime the drop waits for the shutdown: every task (the accept loop with
    // its listener among them) is gone when it returns.
    drop(b);
    assert!(refuses_connections(addr), "the listener is closed");
    // A joined thread can linger in /proc for a moment after it is joined.
    wait_until("the server threads exited", || server_threads() == 0);
}
