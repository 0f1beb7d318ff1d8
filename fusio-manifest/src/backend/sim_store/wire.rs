//! What would cross the wire between fusio's `AmazonS3` and the embedded server, emulated:
//! the headers fusio builds (and the errors building them gives), what s3s makes of them
//! (400 `InvalidArgument` for a header it cannot parse), and the `fusio::Error` each of
//! fusio's calls turns an error status into, with s3s's error document as the body.

use std::collections::{BTreeMap, HashMap};

use ::http::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use ::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;
use fusio::fs::CasCondition;
use fusio::impls::remotes::http::HttpError;
use fusio::Error as FsError;

use crate::backend::object_model::{
    ByteRange, EtagCondition, ModelError, NewObject, PutConditions,
};

/// The prefix of user-metadata headers.
const META_PREFIX: &str = "x-amz-meta-";

/// The status a model error is answered with.
fn status(e: &ModelError) -> StatusCode {
    match e {
        ModelError::NoSuchBucket(_) | ModelError::NoSuchKey => StatusCode::NOT_FOUND,
        ModelError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ModelError::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
    }
}

/// The error document s3s sends with an error status.
fn error_document(code: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code></Error>"#)
}

/// `text` escaped as XML character data, as s3s's serializer (quick-xml) escapes it.
fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '\'' => escaped.push_str("&apos;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn not_success(status: StatusCode, body: String) -> HttpError {
    HttpError::HttpNotSuccess { status, body }
}

/// A GET, DELETE or conditional PUT that got an error status: `Error::Remote` holding
/// `HttpError::HttpNotSuccess` with the error document.
pub(super) fn remote(e: &ModelError) -> FsError {
    FsError::Remote(Box::new(not_success(status(e), error_document(e.code()))))
}

/// A header s3s cannot parse: 400 `InvalidArgument` with s3s's message, as [`remote`].
fn invalid_header(name: &str, value: &HeaderValue) -> FsError {
    let message = xml_escape(&format!("invalid header: {name}: {value:?}"));
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>{message}</Message></Error>"#
    );
    FsError::Remote(Box::new(not_success(StatusCode::BAD_REQUEST, body)))
}

/// A file's `size` (a HEAD: no body) that got an error status: `Error::Other`.
pub(super) fn head_failed(e: &ModelError) -> FsError {
    FsError::Other(Box::new(not_success(status(e), String::new())))
}

/// A LIST page that got an error status: `Error::Other`.
pub(super) fn list_failed(e: &ModelError) -> FsError {
    FsError::Other(Box::new(not_success(status(e), error_document(e.code()))))
}

/// A plain PUT (file close or commit) or a copy that got an error status: fusio's upload
/// wraps an `Error::Other` message in `Error::Remote`.
pub(super) fn write_failed(e: &ModelError) -> FsError {
    let message = format!(
        "failed to write to S3, HTTP status: {} content: {}",
        status(e),
        error_document(e.code())
    );
    FsError::Remote(Box::new(FsError::Other(message.into())))
}

/// A read that came back shorter than the buffer (fusio's `read_exact` on the body).
pub(super) fn unexpected_eof() -> FsError {
    FsError::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "failed to fill whole buffer",
    ))
}

/// The range of `Range: bytes=first-last` (or `bytes=first-`) as s3s parses it: a bound past
/// `i64::MAX` or a last byte before the first is refused with 400.
pub(super) fn range(first: u64, last: Option<u64>) -> Result<ByteRange, FsError> {
    let too_big = |n: u64| n > i64::MAX as u64;
    if too_big(first) || last.is_some_and(|l| too_big(l) || l < first) {
        let last = last.map(|l| l.to_string()).unwrap_or_default();
        let value = HeaderValue::from_str(&format!("bytes={first}-{last}"))
            .map_err(|e| FsError::Remote(Box::new(e)))?;
        return Err(invalid_header("range", &value));
    }
    Ok(ByteRange::Int { first, last })
}

/// User metadata as `AmazonS3::head_object` reports it: header names with their
/// `x-amz-meta-` prefix.
pub(super) fn metadata_headers(metadata: &BTreeMap<String, String>) -> HashMap<String, String> {
    metadata
        .iter()
        .map(|(k, v)| (format!("{META_PREFIX}{k}"), v.clone()))
        .collect()
}

/// What a conditional PUT asks the store for, once on the server.
pub(super) struct ConditionalPut {
    /// The object to write.
    pub(super) object: NewObject,
    /// Its conditional headers.
    pub(super) conditions: PutConditions,
}

/// fusio's `put_conditional` as the embedded server receives it. On the client side a bad
/// header name or value is an `Error::Remote` before anything is sent; metadata entries are
/// headers inserted after the condition and `Content-Type` (so a same-named entry replaces
/// them), and only `x-amz-meta-*` ones with a non-empty suffix become metadata. On the server
/// side a condition s3s cannot parse as an ETag, or a header value that is not text, is 400.
pub(super) fn conditional_put(
    body: Bytes,
    content_type: Option<String>,
    metadata: Option<Vec<(String, String)>>,
    condition: &CasCondition,
) -> Result<ConditionalPut, FsError> {
    let mut headers = HeaderMap::new();
    let (name, value) = match condition {
        CasCondition::IfNotExists => (IF_NONE_MATCH, "*"),
        CasCondition::IfMatch(tag) => (IF_MATCH, tag.as_str()),
    };
    let value = HeaderValue::from_str(value)
        .map_err(|e| FsError::Remote(Box::new(HttpError::from(::http::Error::from(e)))))?;
    headers.insert(name, value);
    if let Some(content_type) = content_type {
        let value: HeaderValue = content_type
            .parse()
            .map_err(|e| FsError::Remote(Box::new(e)))?;
        headers.insert(CONTENT_TYPE, value);
    }
    for (name, value) in metadata.unwrap_or_default() {
        let name: HeaderName = name.parse().map_err(|e| FsError::Remote(Box::new(e)))?;
        let value: HeaderValue = value.parse().map_err(|e| FsError::Remote(Box::new(e)))?;
        headers.insert(name, value);
    }
    server_side(body, &headers)
}

/// What s3s makes of a PUT's headers.
fn server_side(body: Bytes, headers: &HeaderMap) -> Result<ConditionalPut, FsError> {
    let condition = |name: HeaderName| {
        headers
            .get(&name)
            .map(|v| etag_condition(v.as_bytes()).ok_or_else(|| invalid_header(name.as_str(), v)))
            .transpose()
    };
    let conditions = PutConditions {
        if_match: condition(IF_MATCH)?,
        if_none_match: condition(IF_NONE_MATCH)?,
    };
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| invalid_header(CONTENT_TYPE.as_str(), v))
        })
        .transpose()?;
    let mut metadata = BTreeMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(META_PREFIX) else {
            continue;
        };
        if key.is_empty() {
            continue;
        }
        let value = std::str::from_utf8(value.as_bytes())
            .map_err(|_| invalid_header(name.as_str(), value))?;
        metadata.insert(key.to_string(), value.to_string());
    }
    Ok(ConditionalPut {
        object: NewObject {
            body,
            metadata,
            content_type,
        },
        conditions,
    })
}

/// An `If-Match`/`If-None-Match` value as s3s parses it: `*`, `"tag"`, `W/"tag"` or an
/// unquoted tag of letters, digits and dashes; anything else is unparseable (`None`).
fn etag_condition(src: &[u8]) -> Option<EtagCondition> {
    let text = |val: &[u8]| {
        val.iter()
            .all(|&b| (32..127).contains(&b) || b == b'\t')
            .then(|| String::from_utf8_lossy(val).into_owned())
    };
    match src {
        b"*" => Some(EtagCondition::Any),
        [b'"', val @ .., b'"'] | [b'W', b'/', b'"', val @ .., b'"'] => {
            text(val).map(EtagCondition::Tag)
        }
        val if !val.is_empty() && val.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') => {
            text(val).map(EtagCondition::Tag)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_conditions_parse_as_s3s_does() {
        let tag = |s: &str| Some(EtagCondition::Tag(s.to_string()));
        assert_eq!(etag_condition(b"*"), Some(EtagCondition::Any));
        assert_eq!(etag_condition(b"\"abc\""), tag("abc"));
        assert_eq!(etag_condition(b"W/\"abc\""), tag("abc"));
        assert_eq!(etag_condition(b"abc-1"), tag("abc-1"));
        assert_eq!(etag_condition(b"\"abc"), None);
        assert_eq!(etag_condition(b"a b"), None);
        assert_eq!(etag_condition(b""), None);
    }

    #[test]
    fn metadata_entries_are_headers() {
        let metadata = vec![
            ("X-Amz-Meta-Txn".to_string(), "7".to_string()),
            ("x-amz-meta-".to_string(), "dropped".to_string()),
            ("content-type".to_string(), "text/plain".to_string()),
        ];
        let put = conditional_put(
            Bytes::new(),
            Some("application/json".to_string()),
            Some(metadata),
            &CasCondition::IfNotExists,
        )
        .expect("valid headers");
        assert_eq!(put.object.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            put.object.metadata.into_iter().collect::<Vec<_>>(),
            vec![("txn".to_string(), "7".to_string())]
        );
        assert_eq!(put.conditions.if_none_match, Some(EtagCondition::Any));
    }

    #[test]
    fn bad_headers_fail_like_fusio_and_s3s() {
        let put = |metadata: Vec<(&str, &str)>, tag: &str| {
            let metadata = metadata
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            conditional_put(
                Bytes::new(),
                None,
                Some(metadata),
                &CasCondition::IfMatch(tag.to_string()),
            )
        };
        assert!(matches!(
            put(vec![("bad name", "v")], "\"t\""),
            Err(FsError::Remote(_))
        ));
        assert!(matches!(put(vec![], "\"t\n\""), Err(FsError::Remote(_))));
        let Err(FsError::Remote(e)) = put(vec![], "not an etag") else {
            panic!("an unparseable If-Match is a 400");
        };
        let http = e.downcast_ref::<HttpError>().expect("an HTTP error");
        assert!(matches!(
            http,
            HttpError::HttpNotSuccess { status, .. } if *status == StatusCode::BAD_REQUEST
        ));
    }
}
