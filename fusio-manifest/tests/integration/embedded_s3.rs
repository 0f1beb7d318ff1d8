//! The embedded S3 server: atomic conditional PUT, AWS status codes, metadata, listing,
//! SigV4, and the preflight that must reject a store ignoring conditions.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use common::{embedded, embedded_with, list_keys};
use fusio::fs::{CasCondition, Fs, FsCas};
use fusio::path::Path;
use fusio_manifest::ObjectHead;
use fusio_manifest_chaos::backend::preflight::{self, sdk_client, PreflightError};
use fusio_manifest_chaos::backend::{FaultMode, S3Settings};

/// `writers` tasks each add 1 to a counter object `per_writer` times by compare-and-swap.
/// Returns (acknowledged PUTs, final counter value).
async fn cas_increments(
    settings: &S3Settings,
    key: &str,
    writers: usize,
    per_writer: usize,
) -> (u64, u64) {
    let fs = settings.fusio_client();
    let path = Path::parse(key).unwrap();
    fs.put_conditional(&path, b"0", None, None, CasCondition::IfNotExists)
        .await
        .unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let fs = fs.clone();
        let path = path.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < per_writer {
                let (bytes, tag) = fs.load_with_tag(&path).await.unwrap().unwrap();
                let n: u64 = String::from_utf8(bytes).unwrap().parse().unwrap();
                let next = (n + 1).to_string();
                match fs
                    .put_conditional(
                        &path,
                        next.as_bytes(),
                        None,
                        None,
                        CasCondition::IfMatch(tag),
                    )
                    .await
                {
                    Ok(_) => {
                        acked.fetch_add(1, Ordering::SeqCst);
                        done += 1;
                    }
                    Err(fusio::Error::PreconditionFailed) => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (bytes, _) = fs.load_with_tag(&path).await.unwrap().unwrap();
    let value = String::from_utf8(bytes).unwrap().parse().unwrap();
    (acked.load(Ordering::SeqCst), value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_put_is_atomic_under_concurrent_cas() {
    let b = embedded().await;
    let (acked, value) = cas_increments(b.settings(), "cas/counter", 8, 40).await;
    assert_eq!(acked, 320);
    assert_eq!(
        value, acked,
        "every acknowledged CAS must be reflected exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_atomic_fault_mode_loses_updates() {
    // The must-fail twin of the test above: the same workload on a broken store is caught.
    let b = embedded_with(FaultMode::NonAtomic).await;
    let (acked, value) = cas_increments(b.settings(), "cas/broken", 8, 40).await;
    assert!(
        value < acked,
        "a non-atomic CAS should lose updates (acked {acked}, value {value})"
    );
}

fn status<E>(
    r: Result<impl Sized, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
    }
}

#[tokio::test]
async fn conditional_writes_give_aws_status_codes() {
    let b = embedded().await;
    let s3 = sdk_client(b.settings());
    let bucket = &b.settings().bucket;
    let put = |key: &'static str| {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from_static(b"x"))
    };
    assert_eq!(status(put("a").if_none_match("*").send().await), 200);
    assert_eq!(
        status(put("a").if_none_match("*").send().await),
        412,
        "If-None-Match on existing key"
    );
    assert_eq!(
        status(put("a").if_match("\"nope\"").send().await),
        412,
        "If-Match with another ETag"
    );
    assert_eq!(
        status(put("missing").if_match("\"nope\"").send().await),
        404,
        "If-Match on missing key"
    );
    let etag = s3
        .head_object()
        .bucket(bucket)
        .key("a")
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    assert_eq!(
        status(put("a").if_match(&etag).send().await),
        200,
        "If-Match with the current ETag"
    );
    assert_eq!(
        status(put("a").if_match(&etag).send().await),
        412,
        "the old ETag no longer matches"
    );
}

#[tokio::test]
async fn metadata_head_delete_and_paged_listing() {
    let b = embedded().await;
    let fs = b.settings().fusio_client();
    let meta = vec![("x-amz-meta-seq".to_string(), "7".to_string())];
    let path = Path::parse("m/seg-7.json").unwrap();
    fs.put_conditional(
        &path,
        b"{}",
        Some("application/json"),
        Some(meta),
        CasCondition::IfNotExists,
    )
    .await
    .unwrap();
    let head = fs.head_metadata(&path).await.unwrap().unwrap();
    assert_eq!(head.get("x-amz-meta-seq").map(String::as_str), Some("7"));

    let s3 = sdk_client(b.settings());
    let bucket = &b.settings().bucket;
    for i in 0..25 {
        s3.put_object()
            .bucket(bucket)
            .key(format!("list/{i:03}"))
            .body(ByteStream::from_static(b"v"))
            .send()
            .await
            .unwrap();
    }
    // Neighbours on both sides of the prefix: a page starts at the prefix and stops where it
    // ends, so neither may leak in.
    for key in ["lisa/before", "list", "listx/other"] {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from_static(b"v"))
            .send()
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix("list/")
            .max_keys(10)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(keys.len(), 25);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert!(keys.iter().all(|k| k.starts_with("list/")), "{keys:?}");
    // fusio's Path drops the trailing slash, so listing `list/` also returns `list` and
    // `listx/...`: the reason no run prefix may be a string prefix of another.
    assert_eq!(list_keys(&fs, "list/").await.len(), 27);

    fs.remove(&path).await.unwrap();
    assert!(fs.head_metadata(&path).await.unwrap().is_none());
}

#[tokio::test]
async fn sigv4_is_checked() {
    let b = embedded().await;
    let mut wrong = b.settings().clone();
    wrong.secret_key = "not-the-secret".into();
    let s3 = sdk_client(&wrong);
    let r = s3.head_bucket().bucket(&wrong.bucket).send().await;
    assert_eq!(status(r), 403);
}

#[tokio::test]
async fn each_server_has_its_own_random_credentials_and_never_prints_the_secret() {
    let (a, b) = (embedded().await, embedded().await);
    let (sa, sb) = (a.settings(), b.settings());
    assert_ne!(sa.access_key, sb.access_key);
    assert_ne!(sa.secret_key, sb.secret_key);
    assert!(sa.secret_key.len() >= 32, "a 20-byte secret");
    // b's keys do not open a's bucket.
    let mut foreign = sa.clone();
    foreign.access_key = sb.access_key.clone();
    foreign.secret_key = sb.secret_key.clone();
    let r = sdk_client(&foreign)
        .head_bucket()
        .bucket(&sa.bucket)
        .send()
        .await;
    assert_eq!(status(r), 403);
    let shown = format!("{sa:?} {}", a.describe());
    assert!(!shown.contains(&sa.secret_key), "{shown}");
}

#[tokio::test]
async fn preflight_accepts_the_embedded_server() {
    let b = embedded().await;
    preflight::run(b.settings())
        .await
        .expect("a correct store passes");
}

#[tokio::test]
async fn preflight_rejects_a_store_that_ignores_conditions() {
    let b = embedded_with(FaultMode::IgnoreConditions).await;
    let err = preflight::run(b.settings()).await.unwrap_err();
    assert!(
        matches!(err, PreflightError::NoConditionalWrites { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("meaningless") && msg.contains("If-None-Match"),
        "{msg}"
    );
}

#[tokio::test]
async fn preflight_names_an_unreachable_bucket() {
    let b = embedded().await;
    let mut missing = b.settings().clone();
    missing.bucket = "no-such-bucket".into();
    let err = preflight::run(&missing).await.unwrap_err();
    assert!(matches!(err, PreflightError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("FUSIO_MANIFEST_BUCKET"));
}
