//! Small helpers shared across modules: seed derivation, panic messages, the atomic file
//! writer every result file uses, the CSV header a row type serializes to, and the settings
//! line (`CHAOS_VAR=value …`) that workloads and scenarios are written as.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

/// `pairs` as one settings line, `CHAOS_NUM_WRITERS=4 CHAOS_NUM_READERS=2 …`: the one
/// spelling of settings a user can paste before a command, and that
/// [`crate::config::WorkloadOverrides::from_line`] reads back.
pub fn settings_line<V: std::fmt::Display>(
    pairs: impl IntoIterator<Item = (impl std::fmt::Display, V)>,
) -> String {
    let words: Vec<String> = pairs
        .into_iter()
        .map(|(var, value)| format!("{var}={value}"))
        .collect();
    words.join(" ")
}

/// 2^64 / φ, the Fibonacci-hashing multiplier: multiplying consecutive integers by it spreads
/// them evenly over `u64`, so seeds derived for neighbouring clients or scenarios are
/// unrelated streams rather than near neighbours.
pub const SEED_SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// Which kind of client a derived seed is for (its tag is the ASCII of the name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedStream {
    /// Writers: tag `"WRIT"`.
    Writer,
    /// Readers: tag `"READ"`.
    Reader,
    /// Pinned readers: tag `"PINR"`.
    Pinned,
    /// Crash injection (which point each crash aims at): tag `"CRSH"`.
    Crash,
}

impl SeedStream {
    fn tag(self) -> u64 {
        match self {
            Self::Writer => 0x5752_4954,
            Self::Reader => 0x5245_4144,
            Self::Pinned => 0x5049_4E52,
            Self::Crash => 0x4352_5348,
        }
    }
}

/// A unique path for a test's JSON Lines file in the temp dir:
/// `fmc-PREFIX-PID-NANOS-NAME.jsonl`.
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
pub(crate) fn temp_jsonl(prefix: &str, name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!(
        "fmc-{prefix}-{}-{nanos}-{name}.jsonl",
        std::process::id()
    ))
}

/// The seed of client `index` of `stream` in a run seeded with `run_seed`.
pub fn client_seed(run_seed: u64, stream: SeedStream, index: usize) -> u64 {
    run_seed ^ (stream.tag() + index as u64).wrapping_mul(SEED_SPREAD)
}

/// A stable number for scenario `label` (FNV-1a of its bytes): a sweep derives the
/// scenario's seeds from it, so a scenario gets the same seeds whichever others run beside
/// it, and `CHAOS_SCENARIOS=label` with the run's `CHAOS_SEED` replays it.
pub fn label_key(label: &str) -> u64 {
    use std::hash::Hasher;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(label.as_bytes());
    hasher.finish()
}

/// The seed of scenario `index`'s storage layer (latency and fault draws).
pub fn layer_seed(run_seed: u64, index: u64) -> u64 {
    run_seed.wrapping_add(index.wrapping_mul(SEED_SPREAD))
}

/// The seed of scenario `index` (a position, or a [`label_key`]) of a sweep seeded with
/// `run_seed`.
pub fn scenario_seed(run_seed: u64, index: u64) -> u64 {
    run_seed.wrapping_add(index)
}

/// An error and every source below it, joined by `: ` (reqwest's top-level message alone,
/// "error sending request", hides whether the connection was refused, reset or never opened).
/// A source whose message its parent already contains (a transparent wrapper) is skipped.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut last = out.clone();
    let mut next = e.source();
    while let Some(source) = next {
        let msg = source.to_string();
        if !last.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        last = msg;
        next = source.source();
    }
    out
}

/// The message of a task that panicked (`panicked: MESSAGE`), or `cancelled`. Never the task's
/// id, which tokio counts process wide: a history that holds this text replays exactly.
pub fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => format!("panicked: {}", payload_text(payload.as_ref())),
        Err(_) => "cancelled".into(),
    }
}

/// The text of a panic's payload (`panic!`'s message), or a placeholder.
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Waits for `tasks` until `deadline`, then aborts each one still running and waits for its
/// cancellation (so anything it trips is recorded before the caller goes on). Returns how many
/// were cancelled.
pub async fn join_or_cancel(
    tasks: impl IntoIterator<Item = tokio::task::JoinHandle<()>>,
    deadline: tokio::time::Instant,
) -> usize {
    let mut cancelled = 0;
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            task.abort();
            let _ = task.await;
            cancelled += 1;
        }
    }
    cancelled
}

/// The CSV header a row type serializes to, derived from the type itself.
pub fn header<T: Serialize + Default>() -> Vec<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut names = Vec::new();
    if w.serialize(T::default()).is_ok() {
        if let Ok(bytes) = w.into_inner() {
            let mut r = csv::Reader::from_reader(bytes.as_slice());
            if let Ok(h) = r.headers() {
                names = h.iter().map(str::to_string).collect();
            }
        }
    }
    names
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("chaos-viz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.csv");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("http error: {0}")]
        Http(#[source] Inner),
        #[error(transparent)]
        Transparent(Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn error_chain_names_every_cause_once() {
        let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            error_chain(&Outer::Http(Inner(refused()))),
            "http error: error sending request: refused"
        );
        assert_eq!(
            error_chain(&Outer::Transparent(Inner(refused()))),
            "error sending request: refused"
        );
    }

    #[test]
    fn derived_seeds_differ_by_stream_index_and_run() {
        let seeds = [
            client_seed(1, SeedStream::Writer, 0),
            client_seed(1, SeedStream::Writer, 1),
            client_seed(1, SeedStream::Reader, 0),
            client_seed(2, SeedStream::Writer, 0),
            layer_seed(1, 0),
            layer_seed(1, 1),
        ];
        for (i, a) in seeds.iter().enumerate() {
            assert!(seeds[i + 1..].iter().all(|b| a != b), "{seeds:?}");
        }
    }

    #[tokio::test]
    async fn a_panicking_or_cancelled_task_gives_its_message() {
        // Inside a run's scope, so the self-check files the panic under that run and no
        // other test sees it.
        let faults = crate::selfcheck::HarnessFaults::new();
        let e = faults
            .scope(async { crate::selfcheck::spawn(async { panic!("boom") }).await })
            .await
            .unwrap_err();
        assert_eq!(panic_message(e), "panicked: boom");
        let pending = tokio::spawn(std::future::pending::<()>());
        pending.abort();
        let e = pending.await.unwrap_err();
        assert_eq!(panic_message(e), "cancelled", "no task id");
    }
}
