//! The write leases a store still holds at the end of a run, sorted by why no one removed
//! them.

/// The write leases a store still holds at the end of a run, by why no one removed them.
/// fusio-manifest deletes a lease only when its session releases it (`LeaseStore::release`,
/// which ignores a failed DELETE); nothing removes an expired one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LeasesLeft {
    /// No DELETE was ever sent for them and their creation was answered: a session ended
    /// without releasing its lease (a crashed writer, a session task cancelled at the end of
    /// the run, or fusio-manifest: finding 3).
    pub unreleased: usize,
    /// Their creation's answer was lost (the session created another and never learned of
    /// this one) or their DELETE failed: nothing ever removes them.
    pub stray: usize,
}

/// Sorts the write leases among `objects` (a store's final `(key, body)` pairs: lease
/// documents under a `leases/` folder whose `kind` is `write`). `delete_sent(key)` says whether
/// any DELETE of `key` was sent, `create_answer_lost(key)` whether the answer to its creation
/// was lost.
pub fn leases_left<'a>(
    objects: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    delete_sent: impl Fn(&str) -> bool,
    create_answer_lost: impl Fn(&str) -> bool,
) -> LeasesLeft {
    #[derive(serde::Deserialize)]
    struct LeaseKindOnly {
        #[serde(default)]
        kind: String,
    }
    let mut left = LeasesLeft::default();
    let writes = objects
        .into_iter()
        .filter(|(key, _)| key.contains("leases/"))
        .filter(|(_, body)| {
            serde_json::from_slice::<LeaseKindOnly>(body).is_ok_and(|d| d.kind == "write")
        });
    for (key, _) in writes {
        if delete_sent(key) || create_answer_lost(key) {
            left.stray += 1;
        } else {
            left.unreleased += 1;
        }
    }
    left
}
