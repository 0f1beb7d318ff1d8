//! The segment header that fusio-manifest's `ObjectHead for TokioFs` reads from a `.json`
//! object's payload, and the error it gives for one that is not a segment.

use fusio::path::Path;
use fusio::Error as FsError;
use serde::Deserialize;

/// fusio-manifest's segment metadata header names (segment.rs:80-82).
const TXN_ID_HEADER: &str = "x-amz-meta-fusio-txn-id";
const KEY_MIN_HEADER: &str = "x-amz-meta-fusio-key-min";
const KEY_MAX_HEADER: &str = "x-amz-meta-fusio-key-max";
/// The header fusio-manifest reads from a JSON segment (segment.rs:367-378).
#[derive(Deserialize)]
struct SegmentHeaderOnly {
    txn_id: u64,
    #[serde(default)]
    records: Vec<SegmentRecordKeyOnly>,
}

#[derive(Deserialize)]
struct SegmentRecordKeyOnly {
    key: serde_json::Value,
}

/// fusio-manifest's error for a `.json` object that is not a segment (segment.rs:380-407).
#[derive(Debug)]
struct SegmentMetadataParseError {
    path: String,
    source: serde_json::Error,
}

impl std::fmt::Display for SegmentMetadataParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed to parse txn metadata from segment {}", self.path)
    }
}

impl std::error::Error for SegmentMetadataParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// fusio-manifest's `segment_headers_from_payload` (segment.rs:352-365).
pub(super) fn segment_headers(
    path: &Path,
    bytes: &[u8],
) -> Result<std::collections::HashMap<String, String>, FsError> {
    let header: SegmentHeaderOnly = serde_json::from_slice(bytes).map_err(|source| {
        FsError::Other(Box::new(SegmentMetadataParseError {
            path: path.to_string(),
            source,
        }))
    })?;
    let mut meta = std::collections::HashMap::with_capacity(3);
    meta.insert(TXN_ID_HEADER.to_string(), header.txn_id.to_string());
    if let (Some(first), Some(last)) = (header.records.first(), header.records.last()) {
        meta.insert(KEY_MIN_HEADER.to_string(), first.key.to_string());
        meta.insert(KEY_MAX_HEADER.to_string(), last.key.to_string());
    }
    Ok(meta)
}
