//! Harness self-check: a panic in any task of a run (ours or fusio-manifest's), or a request
//! our own S3 server left unanswered ([`record_fault`], called by the storage layer), is a
//! harness fault, and the run's verdict becomes `INVALID: harness fault` instead of PASS or FAIL.
//!
//! Every task a run starts is spawned with [`spawn`], which carries the run's
//! [`HarnessFaults`] into the new task as a tokio task-local; fusio-manifest's own background
//! tasks go through the run's executor, which does the same. A process-wide panic hook
//! (installed once, chained before the previous hook, which still prints the panic) records
//! each panic into the run whose task panicked. A panic outside any run's tasks cannot be
//! attributed, so when it happens on a thread the harness or its runtimes own (the embedded S3
//! server, a CPU burner, a history thread, a simulated world, or a tokio worker running the
//! connection tasks reqwest/hyper start with plain `tokio::spawn` inside fusio's HTTP client:
//! [`harness_thread`]) it invalidates every run that was in progress. A panic on any other
//! thread outside a run is a test's own failing assertion on libtest's thread: that test
//! fails, and the runs of the tests beside it in the same binary stay valid.
//!
//! Limit: in a debug build, a panic inside a fusio-manifest call while a session holds its
//! lease unwinds through the session's drop, where fusio-manifest's debug assertion ("Session
//! dropped without releasing its lease") panics again and Rust aborts the process, so no
//! verdict is written at all. Release builds (which every documented run command uses) record
//! the panic and mark the run `INVALID`.

use std::future::Future;
use std::panic::PanicHookInfo;
use std::sync::{Arc, Once};

use parking_lot::Mutex;

tokio::task_local! {
    static RUN: Arc<HarnessFaults>;
}

/// Panics that could not be attributed to one run, in order.
static UNATTRIBUTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

static HOOK: Once = Once::new();

/// The harness faults of one run.
#[derive(Debug)]
pub struct HarnessFaults {
    panics: Mutex<Vec<String>>,
    unattributed_at_start: usize,
}

impl HarnessFaults {
    /// A record for a run that starts now; installs the panic hook on first use.
    pub fn new() -> Arc<Self> {
        install_hook();
        Arc::new(Self {
            panics: Mutex::new(Vec::new()),
            unattributed_at_start: UNATTRIBUTED.lock().len(),
        })
    }

    /// Records one harness fault.
    pub fn record(&self, what: String) {
        self.panics.lock().push(what);
    }

    /// Every fault of this run so far: its own panics, then panics outside any run's tasks
    /// since the run started.
    pub fn faults(&self) -> Vec<String> {
        let mut all = self.panics.lock().clone();
        let outside = UNATTRIBUTED.lock();
        all.extend(
            outside
                .iter()
                .skip(self.unattributed_at_start)
                .map(|p| format!("outside any run's tasks: {p}")),
        );
        all
    }

    /// Runs `fut` as part of this run: tasks it spawns with [`spawn`] belong to the run too.
    pub async fn scope<F: Future>(self: &Arc<Self>, fut: F) -> F::Output {
        RUN.scope(self.clone(), fut).await
    }
}

/// Spawns `fut` as a task of the run the caller belongs to (if any), so a panic in it is
/// attributed to that run.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(in_run(fut))
}

/// Wraps `fut` so it runs as part of the caller's run (if any), for spawners other than
/// [`spawn`], such as a `JoinSet`.
pub fn in_run<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let run = RUN.try_with(Arc::clone).ok();
    async move {
        match run {
            Some(run) => RUN.scope(run, fut).await,
            None => fut.await,
        }
    }
}

/// Records a harness fault that is not a panic (e.g. the embedded S3 server failing to answer)
/// into the run the calling task belongs to, or, outside any run's tasks, into every run in
/// progress.
pub fn record_fault(what: String) {
    if RUN.try_with(|run| run.record(what.clone())).is_err() {
        UNATTRIBUTED.lock().push(what);
    }
}

/// The verdict of a run with harness faults, as written to the console, CSV and plot.
pub const INVALID_VERDICT: &str = "INVALID: harness fault";

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_run = RUN.try_with(|_| ()).is_ok();
            if in_run || harness_thread(std::thread::current().name()) {
                record_fault(describe(info));
            }
            previous(info);
        }));
    });
}

/// Names (prefixes) of the threads the harness or its runtimes run on: each is the constant
/// the code that names those threads uses, so a renamed thread stays on the list.
const HARNESS_THREADS: &[&str] = &[
    crate::backend::embedded::SERVER_THREAD_NAME,
    TOKIO_WORKER_THREAD_NAME,
    BURNER_THREAD_PREFIX,
    crate::history::READER_THREAD_NAME,
    crate::history::WRITER_THREAD_NAME,
    crate::world::sim::THREAD_PREFIX,
];

/// The name tokio (1.54, `runtime/builder.rs`) gives the workers and blocking threads of a
/// runtime built without a thread name: the callers' runtimes, `#[tokio::test]`'s included.
/// Not ours to choose; a unit test checks it against a real worker, so a tokio that renames
/// them fails that test instead of dropping them from [`HARNESS_THREADS`].
const TOKIO_WORKER_THREAD_NAME: &str = "tokio-rt-worker";

/// Name prefix of the CPU burner threads (`cpu-burner-0`, ...), which
/// [`crate::chaos::CpuBurners`] names by it. Defined here, below the chaos module, so the
/// self-check names it without importing chaos; a thread so named is the harness's.
pub(crate) const BURNER_THREAD_PREFIX: &str = "cpu-burner-";

/// Whether a thread named `name` belongs to the harness (see the module doc); an unnamed
/// thread, started by a library without a name, is counted as the harness's.
pub fn harness_thread(name: Option<&str>) -> bool {
    name.is_none_or(|name| HARNESS_THREADS.iter().any(|p| name.starts_with(p)))
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into());
    let thread = std::thread::current();
    let location = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!(
        "panic in thread '{}'{location}: {message}",
        thread.name().unwrap_or("unnamed")
    )
}

#[cfg(test)]
mod tests {
    use fusio::executor::Executor;

    use super::*;
    use crate::manifest::RunExecutor;

    /// Whether a thread named `name` sees itself as the harness's.
    fn seen_from_a_thread_named(name: &str) -> bool {
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(|| harness_thread(std::thread::current().name()))
            .expect("a thread starts")
            .join()
            .expect("no panic")
    }

    #[test]
    fn a_tests_own_thread_is_not_the_harnesss() {
        for name in [
            "chaos_live::cpu_burners_burn_the_requested_share_and_stop",
            "main",
        ] {
            assert!(!seen_from_a_thread_named(name), "{name}");
        }
        assert!(harness_thread(None));
    }

    /// Each thread name as the code that starts the thread builds it from its constant.
    #[test]
    fn a_thread_named_as_the_harness_names_its_threads_is_the_harnesss() {
        for name in [
            crate::backend::embedded::SERVER_THREAD_NAME.to_string(),
            format!("{BURNER_THREAD_PREFIX}0"),
            crate::history::READER_THREAD_NAME.to_string(),
            crate::history::WRITER_THREAD_NAME.to_string(),
            format!("{}baseline", crate::world::sim::THREAD_PREFIX),
        ] {
            assert!(seen_from_a_thread_named(&name), "{name}");
        }
    }

    /// The threads a simulation and a multi-thread tokio runtime really run on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_simulations_thread_and_a_tokio_worker_are_the_harnesss() {
        let in_sim = crate::world::sim::run("selfcheck", 1, || async {
            harness_thread(std::thread::current().name())
        })
        .await;
        assert_eq!(in_sim, Ok(true));
        let on_worker = tokio::spawn(async { harness_thread(std::thread::current().name()) })
            .await
            .expect("no panic");
        assert!(on_worker);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_a_runs_task_is_recorded_for_that_run_only() {
        let run = HarnessFaults::new();
        let other = HarnessFaults::new();
        let bystander = other.scope(async {
            spawn(tokio::time::sleep(std::time::Duration::from_millis(200)))
                .await
                .expect("bystander task")
        });
        let culprit = run.scope(async {
            // A task spawned by a task of the run still belongs to it.
            spawn(async { spawn(async { panic!("deliberate") }).await })
                .await
                .expect("outer task")
        });
        let ((), joined) = tokio::join!(bystander, culprit);
        assert!(joined.is_err_and(|e| e.is_panic()));
        let faults = run.faults();
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(faults[0].contains("deliberate") && faults[0].contains("selfcheck.rs"));
        assert!(other.faults().is_empty(), "{:?}", other.faults());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_fusio_manifests_background_work_is_recorded() {
        let run = HarnessFaults::new();
        let executor = RunExecutor::default();
        let joined = run
            .scope(async { executor.spawn(async { panic!("in orphan recovery") }).await })
            .await;
        assert!(joined.is_err_and(|e| e.is_panic()));
        let faults = run.faults();
        assert!(
            faults.len() == 1 && faults[0].contains("in orphan recovery"),
            "{faults:?}"
        );
    }
}
