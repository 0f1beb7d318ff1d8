//! Tests of [`SimS3`] as a caller sees it: files, listings, conditions, the broken-store
//! fault modes, copies, the `fs` mode and the caller's clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fusio::fs::{CasCondition, FileMeta, FileSystemTag, Fs, FsCas, OpenOptions};
use fusio::impls::remotes::http::HttpError;
use fusio::path::Path;
use fusio::{Error as FsError, Read, Write};
use futures_util::TryStreamExt;

use super::{SimS3, SimStoreMode};
use crate::backend::object_model::FaultMode;

fn path(key: &str) -> Path {
    Path::parse(key).expect("a valid key")
}

/// The HTTP status inside an `Error::Remote` or `Error::Other`, if any.
fn status(e: &FsError) -> Option<u16> {
    let (FsError::Remote(inner) | FsError::Other(inner)) = e else {
        return None;
    };
    match inner.downcast_ref::<HttpError>() {
        Some(HttpError::HttpNotSuccess { status, .. }) => Some(status.as_u16()),
        _ => None,
    }
}

async fn put(s3: &SimS3, key: &str, body: &str, cond: CasCondition) -> Result<String, FsError> {
    s3.put_conditional(&path(key), body.as_bytes(), None, None, cond)
        .await
}

async fn keys(s3: &SimS3, prefix: &str) -> Vec<String> {
    let listed: Vec<FileMeta> = s3
        .list(&path(prefix))
        .await
        .expect("list")
        .try_collect()
        .await
        .expect("listing");
    listed.into_iter().map(|m| m.path.to_string()).collect()
}

#[tokio::test]
async fn an_object_is_invisible_until_its_file_is_closed() {
    let s3 = SimS3::new();
    let p = path("d/f");
    let options = OpenOptions::default().create(true).truncate(true);
    let mut file = s3.open_options(&p, options).await.expect("open");
    let (written, _) = file.write_all(&b"abc"[..]).await;
    written.expect("buffered");
    file.flush().await.expect("flushed");
    assert_eq!(s3.load_with_tag(&p).await.expect("get"), None);
    assert!(keys(&s3, "d").await.is_empty());
    assert_eq!(
        status(&file.size().await.expect_err("not there")),
        Some(404)
    );
    file.close().await.expect("uploaded");
    let (body, _) = s3.load_with_tag(&p).await.expect("get").expect("there");
    assert_eq!(body, b"abc");
    assert_eq!(file.size().await.expect("head"), 3);
    file.close().await.expect("a second close does nothing");
    assert_eq!(s3.object_count("d/"), 1);
}

#[tokio::test]
async fn list_is_sorted_paged_and_by_string_prefix() {
    let s3 = SimS3::new();
    let n = 2_345;
    for i in 0..n {
        let key = format!("l/k{:05}", (i * 7919) % n);
        put(&s3, &key, "x", CasCondition::IfNotExists)
            .await
            .expect("put");
    }
    put(&s3, "lz/other", "x", CasCondition::IfNotExists)
        .await
        .expect("put");
    let listed = keys(&s3, "l").await;
    assert_eq!(
        listed.len(),
        n + 1,
        "all pages, and `l` also selects `lz/...`"
    );
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted by key");
    assert_eq!(
        keys(&s3, "l/").await,
        listed,
        "Path::parse drops the trailing slash"
    );

    // Lazy pages: a key added behind the page being read is missed, one ahead is seen.
    let l = path("l");
    let mut stream = Box::pin(s3.list(&l).await.expect("list"));
    let first = stream.try_next().await.expect("page").expect("an item");
    assert_eq!(first.path.to_string(), "l/k00000");
    put(&s3, "l/k00000a", "x", CasCondition::IfNotExists)
        .await
        .expect("put");
    put(&s3, "l/k99999", "x", CasCondition::IfNotExists)
        .await
        .expect("put");
    let rest: Vec<FileMeta> = stream.try_collect().await.expect("rest");
    let rest: Vec<String> = rest.into_iter().map(|m| m.path.to_string()).collect();
    assert!(!rest.contains(&"l/k00000a".to_string()));
    assert!(rest.contains(&"l/k99999".to_string()));
}

#[tokio::test]
async fn conditions_follow_s3_rules() {
    let s3 = SimS3::new();
    let a = put(&s3, "c", "1", CasCondition::IfNotExists)
        .await
        .expect("new");
    let again = put(&s3, "c", "2", CasCondition::IfNotExists).await;
    assert!(matches!(again, Err(FsError::PreconditionFailed)));
    let b = put(&s3, "c", "2", CasCondition::IfMatch(a.clone()))
        .await
        .expect("match");
    let stale = put(&s3, "c", "3", CasCondition::IfMatch(a)).await;
    assert!(matches!(stale, Err(FsError::PreconditionFailed)));
    let missing = put(&s3, "none", "1", CasCondition::IfMatch(b.clone())).await;
    let missing = missing.expect_err("If-Match on a missing key");
    assert!(matches!(missing, FsError::Remote(_)));
    assert_eq!(status(&missing), Some(404));
    let (body, tag) = s3
        .load_with_tag(&path("c"))
        .await
        .expect("get")
        .expect("there");
    assert_eq!((body.as_slice(), tag), (&b"2"[..], b));

    s3.set_fault_mode(FaultMode::IgnoreConditions);
    put(&s3, "c", "4", CasCondition::IfNotExists)
        .await
        .expect("ignored");
    put(&s3, "none", "1", CasCondition::IfMatch("\"x\"".into()))
        .await
        .expect("ignored");
}

#[tokio::test]
async fn non_atomic_fault_lets_racing_writers_both_pass() {
    let s3 = SimS3::new();
    let tag = put(&s3, "c", "0", CasCondition::IfNotExists)
        .await
        .expect("new");
    s3.set_fault_mode(FaultMode::NonAtomic);
    let (a, b) = tokio::join!(
        put(&s3, "c", "a", CasCondition::IfMatch(tag.clone())),
        put(&s3, "c", "b", CasCondition::IfMatch(tag)),
    );
    assert!(
        a.is_ok() && b.is_ok(),
        "both pass the same check: {a:?} {b:?}"
    );
}

#[tokio::test]
async fn copy_is_s3_copy_object() {
    let s3 = SimS3::new();
    let tag = put(&s3, "a", "1", CasCondition::IfNotExists)
        .await
        .expect("new");
    s3.copy(&path("a"), &path("b")).await.expect("copied");
    let (body, copy_tag) = s3
        .load_with_tag(&path("b"))
        .await
        .expect("get")
        .expect("there");
    assert_eq!(body, b"1");
    assert_ne!(copy_tag, tag, "a copy is a new write");
    let missing = s3.copy(&path("none"), &path("c")).await;
    assert!(matches!(missing, Err(FsError::Remote(_))));
}

#[tokio::test]
async fn fs_mode_mirrors_every_name_into_the_model() {
    let fs = SimS3::with_mode(SimStoreMode::Fs);
    let bodies = |fs: &SimS3| -> Vec<(String, Vec<u8>)> {
        fs.objects()
            .into_iter()
            .map(|o| (o.key, o.body.to_vec()))
            .collect()
    };
    let tag = put(&fs, "d/a", "1", CasCondition::IfNotExists)
        .await
        .expect("new");
    put(&fs, "d/a", "22", CasCondition::IfMatch(tag))
        .await
        .expect("replaced");
    fs.link(&path("d/a"), &path("d/b")).await.expect("linked");
    let options = OpenOptions::default().write(true);
    let mut file = fs.open_options(&path("d/b"), options).await.expect("open");
    let (written, _) = file.write_all(&b"+"[..]).await;
    written.expect("written in place");
    assert_eq!(
        bodies(&fs),
        vec![
            ("d/a".into(), b"22+".to_vec()),
            ("d/b".into(), b"22+".to_vec())
        ]
    );
    fs.remove(&path("d/a")).await.expect("removed");
    assert_eq!(bodies(&fs), vec![("d/b".into(), b"22+".to_vec())]);
    assert!(fs.is_dir("d") && !fs.is_dir("d/b"));
    assert_eq!(fs.file_system(), FileSystemTag::Local);
    let missing = fs.remove(&path("d/a")).await.expect_err("gone");
    assert!(matches!(missing, FsError::Io(e) if e.kind() == std::io::ErrorKind::NotFound));
}

#[tokio::test]
async fn writes_are_stamped_by_the_callers_clock() {
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(42);
    let s3 = SimS3::with_clock(Arc::new(move || when));
    put(&s3, "c", "0", CasCondition::IfNotExists)
        .await
        .expect("new");
    let obj = s3.get("c").expect("there");
    assert_eq!(obj.modified, when);
}
