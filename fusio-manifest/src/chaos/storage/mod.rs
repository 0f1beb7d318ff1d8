//! The storage wrapper every manifest is built on: it counts and times S3 operations by kind
//! and applies the scenario's network conditions around each one.
//!
//! Mapping of fusio calls to S3 operations: `load_with_tag` and file reads are GET,
//! `put_conditional` is a conditional PUT, file `close`/`commit` is a plain PUT, `head_metadata`,
//! `exists` and file `size` are HEAD, `list` is LIST, `remove` is DELETE. `list` is collected
//! eagerly inside the wrapper (all pages), so its latency and blocks apply to the whole listing;
//! the manifest consumes listings whole anyway. `write_all`/`flush` only buffer (fusio uploads
//! parts only beyond 5 MiB, which manifest objects never reach) and pass through untouched.
//!
//! The wrapper itself is [`StorageLayer`] (`layer.rs`); [`ChaosFs`] and [`ChaosFile`]
//! (`chaos_fs.rs`) are the fusio filesystem and files that send every call through it.

mod chaos_fs;
mod layer;

pub use chaos_fs::{ChaosFile, ChaosFs};
pub use layer::{is_transport_error, Deleted, OpCount, Pass, S3OpSink, StorageLayer};
