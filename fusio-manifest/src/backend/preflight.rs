//! Checks a bucket before a run: it exists, and it honours conditional writes.
//!
//! fusio-manifest commits by conditional PUT of `HEAD.json`. On a store that ignores
//! `If-None-Match` / `If-Match`, every commit "succeeds" and concurrent commits overwrite each
//! other, so throughput, failure rates and isolation verdicts would all be meaningless.

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::{new_prefix, S3Settings};

/// Why a bucket cannot be used for runs.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The bucket cannot be reached or does not exist.
    #[error(
        "preflight: bucket {bucket:?} is not reachable ({detail}). Check FUSIO_MANIFEST_BUCKET, \
         AWS_REGION and AWS_ENDPOINT_URL, and that the credentials may access it; or unset \
         FUSIO_CHAOS_BACKEND/AWS_* to use the embedded server"
    )]
    Unreachable {
        /// Bucket name.
        bucket: String,
        /// What the server or client said.
        detail: String,
    },
    /// The bucket accepted a write it should have refused.
    #[error(
        "preflight: bucket {bucket:?} does not honour conditional writes ({detail}). \
         fusio-manifest commits by conditional PUT, so on this store every result (failure \
         rates, throughput, isolation) would be meaningless. Use AWS S3 or a server with \
         If-Match/If-None-Match support (e.g. a recent MinIO), or the embedded backend"
    )]
    NoConditionalWrites {
        /// Bucket name.
        bucket: String,
        /// Which check failed.
        detail: String,
    },
}

/// Builds an aws-sdk-s3 client from explicit settings: static credentials, region and
/// endpoint, so the SDK never probes the default credential chain or metadata endpoints.
pub fn sdk_client(settings: &S3Settings) -> Client {
    let creds = Credentials::new(
        settings.access_key.clone(),
        settings.secret_key.clone(),
        settings.session_token.clone(),
        None,
        "fusio-manifest-chaos",
    );
    let mut builder = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .credentials_provider(creds)
        .region(Region::new(settings.region.clone()));
    if let Some(endpoint) = &settings.endpoint {
        builder = builder
            .endpoint_url(endpoint.clone())
            .force_path_style(true);
    }
    Client::from_conf(builder.build())
}

/// Runs the preflight against `settings`. Leaves nothing behind in the bucket.
pub async fn run(settings: &S3Settings) -> Result<(), PreflightError> {
    let client = sdk_client(settings);
    let bucket = settings.bucket.clone();
    client
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .map_err(|e| PreflightError::Unreachable {
            bucket: bucket.clone(),
            detail: describe(&e),
        })?;
    let key = format!("{}/probe", new_prefix("preflight"));
    let result = probe_conditions(&client, &bucket, &key).await;
    // Best effort: the probe object is tiny and under a unique prefix.
    let _ = client
        .delete_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await;
    result
}

async fn probe_conditions(client: &Client, bucket: &str, key: &str) -> Result<(), PreflightError> {
    let put = |cond: Cond| {
        let mut req = client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from_static(b"preflight"));
        req = match cond {
            Cond::IfNoneMatch => req.if_none_match("*"),
            Cond::IfMatch(tag) => req.if_match(tag),
        };
        req.send()
    };
    put(Cond::IfNoneMatch)
        .await
        .map_err(|e| PreflightError::Unreachable {
            bucket: bucket.to_string(),
            detail: format!("first If-None-Match PUT failed: {}", describe(&e)),
        })?;
    let no_conditions = |detail: String| PreflightError::NoConditionalWrites {
        bucket: bucket.to_string(),
        detail,
    };
    match put(Cond::IfNoneMatch).await {
        Ok(_) => {
            return Err(no_conditions(
                "a second `If-None-Match: *` PUT on an existing key succeeded instead of 412"
                    .into(),
            ))
        }
        Err(e) if status_of(&e) == Some(412) => {}
        Err(e) => {
            return Err(no_conditions(format!(
                "a second `If-None-Match: *` PUT gave {} instead of 412",
                describe(&e)
            )))
        }
    }
    match put(Cond::IfMatch("\"00000000000000000000000000000000\"")).await {
        Ok(_) => Err(no_conditions(
            "an `If-Match` PUT with a wrong ETag succeeded instead of 412".into(),
        )),
        Err(e) if status_of(&e) == Some(412) => Ok(()),
        Err(e) => Err(no_conditions(format!(
            "an `If-Match` PUT with a wrong ETag gave {} instead of 412",
            describe(&e)
        ))),
    }
}

enum Cond {
    IfNoneMatch,
    IfMatch(&'static str),
}

type SdkError<E> = aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

fn status_of<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn describe<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = status_of(err)
        .map(|s| format!("HTTP {s} "))
        .unwrap_or_default();
    match err.code() {
        Some(code) => format!("{status}{code}"),
        None => format!("{status}{}", aws_sdk_s3::error::DisplayErrorContext(err)),
    }
}
