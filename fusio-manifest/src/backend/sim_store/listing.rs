//! The lazy, paged listing of a [`SimS3`], as fusio's `AmazonS3` lists.

use fusio::fs::FileMeta;
use fusio::path::Path;
use fusio::Error as FsError;
use futures_util::{stream, Stream};

use super::{wire, SimS3, SIM_BUCKET};
use crate::backend::object_model::{ListEntry, ListRequest, MAX_KEYS_PER_PAGE};

/// A listing of the keys starting with a prefix: the page being handed out, and what to ask
/// for next. A page is read only when the stream reaches it (like `AmazonS3`, which sends a
/// LIST request whenever its stream runs out of entries), so a key written meanwhile is
/// listed if it sorts after the pages already read.
pub(super) struct Listing {
    store: SimS3,
    prefix: String,
    page: std::vec::IntoIter<ListEntry>,
    /// `None` before the first page; then the continuation token, `Some(None)` at the end.
    next: Option<Option<String>>,
}

impl Listing {
    /// A listing of `store`'s keys starting with `prefix`; nothing is read yet.
    pub(super) fn new(store: SimS3, prefix: String) -> Self {
        Self {
            store,
            prefix,
            page: Vec::new().into_iter(),
            next: None,
        }
    }

    /// The listing as fusio's `Fs::list` stream.
    pub(super) fn into_stream(self) -> impl Stream<Item = Result<FileMeta, FsError>> {
        stream::unfold(self, |mut listing| async move {
            listing.next_item().map(|item| (item, listing))
        })
    }

    /// The next item, reading the next page when this one is used up.
    fn next_item(&mut self) -> Option<Result<FileMeta, FsError>> {
        loop {
            if let Some(entry) = self.page.next() {
                let meta = Path::parse(&entry.key)
                    .map(|path| FileMeta {
                        path,
                        size: entry.size,
                    })
                    .map_err(|e| FsError::Path(Box::new(e)));
                if meta.is_err() {
                    self.end();
                }
                return Some(meta);
            }
            let start_after = match &self.next {
                None => None,
                Some(None) => return None,
                Some(Some(token)) => Some(token.as_str()),
            };
            let request = ListRequest {
                prefix: &self.prefix,
                start_after,
                max_keys: MAX_KEYS_PER_PAGE,
            };
            match self.store.inner.model.list_page(SIM_BUCKET, request) {
                Ok(page) => {
                    self.page = page.entries.into_iter();
                    self.next = Some(page.next_token);
                }
                Err(e) => {
                    self.end();
                    return Some(Err(wire::list_failed(&e)));
                }
            }
        }
    }

    fn end(&mut self) {
        self.page = Vec::new().into_iter();
        self.next = Some(None);
    }
}
