//! One operation's session task and the client that follows it: the task runs every step of
//! the session to completion and reports each; the client waits for each report within the
//! step timeout. [`SessionState`] decides, by one compare-and-swap, whether a client that
//! stops following an attempt records it as `fail` or `info` ([`unfollowed_outcome`]): the
//! harness's most correctness-critical rule, since a `fail` that committed would be a false
//! anomaly.

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::history::Outcome;
use crate::selfcheck;
use crate::utils::panic_message;

use super::ClientContext;

/// Session task states shared by a client and its task: the client may abandon an operation
/// only while it is `OPEN`; the task may start a commit only while it is `OPEN`. One
/// compare-and-swap decides, so a write the client recorded as `fail` can never commit.
const OPEN: u8 = 0;
const COMMITTING: u8 = 1;
const ABANDONED: u8 = 2;

/// The state one operation's client and its session task share (see [`OPEN`]).
#[derive(Clone, Debug, Default)]
pub(super) struct SessionState(Arc<AtomicU8>);

impl SessionState {
    /// The task claims the right to commit; `false` if the client abandoned the operation
    /// first.
    pub(super) fn begin_commit(&self) -> bool {
        self.0
            .compare_exchange(OPEN, COMMITTING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The client stops following the operation: abandons it unless its commit already
    /// started. Returns whether the commit started.
    pub(super) fn abandon(&self) -> bool {
        self.0
            .compare_exchange(OPEN, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    }

    /// Whether the task has claimed the commit.
    pub(super) fn commit_started(&self) -> bool {
        self.0.load(Ordering::SeqCst) == COMMITTING
    }

    /// Whether the client abandoned the operation.
    fn abandoned(&self) -> bool {
        self.0.load(Ordering::SeqCst) == ABANDONED
    }
}

/// How the history records an attempt whose client stopped following it (a step timeout, a
/// crashed writer process, a panicked task): `info` (it may have committed) once its commit
/// started, `fail` (nothing can have been committed) before.
pub(super) fn unfollowed_outcome(commit_started: bool) -> Outcome {
    if commit_started {
        Outcome::Info
    } else {
        Outcome::Fail
    }
}

/// The session task's side of a [`Steps`] channel.
pub(super) struct Reporter<S> {
    pub(super) tx: mpsc::UnboundedSender<S>,
    state: SessionState,
}

impl<S> Reporter<S> {
    /// Reports one step; `false` once the client has abandoned the operation (the task
    /// should then end its session rather than go on).
    pub(super) fn report(&self, step: S) -> bool {
        let _ = self.tx.send(step);
        !self.state.abandoned()
    }

    /// Claims the right to commit; `false` if the client abandoned the operation first.
    pub(super) fn begin_commit(&self) -> bool {
        self.state.begin_commit()
    }
}

/// The client's side of one operation's session task.
pub(super) struct Steps<S> {
    rx: mpsc::UnboundedReceiver<S>,
    state: SessionState,
    task: Option<JoinHandle<()>>,
}

/// The next thing a client learns about its session task.
pub(super) enum Next<S> {
    /// A step finished.
    Step(S),
    /// No step finished within the step timeout.
    TimedOut,
    /// The task ended without reporting (it panicked: a harness fault the run records).
    Died(String),
}

impl<S> Steps<S> {
    pub(super) async fn next(&mut self, ctx: &ClientContext) -> Next<S> {
        match ctx.bounded(self.rx.recv()).await {
            Some(Some(step)) => Next::Step(step),
            None => Next::TimedOut,
            Some(None) => {
                let why = match self.task.take() {
                    Some(t) => match t.await {
                        Err(e) => format!("session task failed: {}", panic_message(e)),
                        Ok(()) => "session task ended without an outcome".into(),
                    },
                    None => "session task ended without an outcome".into(),
                };
                Next::Died(why)
            }
        }
    }

    /// Whether the task has claimed the commit.
    pub(super) fn commit_started(&self) -> bool {
        self.state.commit_started()
    }

    /// At a step timeout: abandons the operation unless its commit already started.
    /// Returns whether the commit started (the outcome is then unknown, `info`).
    pub(super) fn abandon(&self, ctx: &ClientContext) -> bool {
        ctx.abandoned.fetch_add(1, Ordering::Relaxed);
        self.state.abandon()
    }

    /// The client moves on: a task still running (finishing a commit or releasing its
    /// session) is tracked until the run ends.
    pub(super) fn release(mut self, ctx: &ClientContext) {
        if let Some(task) = self.task.take().filter(|t| !t.is_finished()) {
            let mut background = ctx.background.lock();
            background.retain(|t| !t.is_finished());
            background.push(task);
        }
    }
}

impl ClientContext {
    /// Starts `task` as one operation's session task, reporting its steps to the returned
    /// [`Steps`].
    pub(super) fn start_steps<S, F>(&self, task: impl FnOnce(Reporter<S>) -> F) -> Steps<S>
    where
        S: Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = SessionState::default();
        let reporter = Reporter {
            tx,
            state: state.clone(),
        };
        Steps {
            rx,
            state,
            task: Some(selfcheck::spawn(task(reporter))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_abandoned_before_its_commit_is_a_fail_and_can_never_commit() {
        let state = SessionState::default();
        let started = state.abandon();
        assert!(!started);
        assert_eq!(unfollowed_outcome(started), Outcome::Fail);
        assert!(
            !state.begin_commit(),
            "a write recorded as fail went on to commit"
        );
        assert!(!state.commit_started());
    }

    #[test]
    fn an_attempt_abandoned_after_its_commit_started_is_info() {
        let state = SessionState::default();
        assert!(state.begin_commit());
        let started = state.abandon();
        assert!(started);
        assert_eq!(unfollowed_outcome(started), Outcome::Info);
        assert!(
            state.commit_started(),
            "abandoning must not undo a started commit"
        );
    }

    #[test]
    fn a_crash_or_panic_is_judged_by_whether_the_commit_started() {
        let state = SessionState::default();
        assert_eq!(unfollowed_outcome(state.commit_started()), Outcome::Fail);
        assert!(state.begin_commit());
        assert_eq!(unfollowed_outcome(state.commit_started()), Outcome::Info);
    }

    #[test]
    fn a_task_reports_go_on_until_the_client_abandons() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let state = SessionState::default();
        let reporter = Reporter {
            tx,
            state: state.clone(),
        };
        assert!(reporter.report(()));
        state.abandon();
        assert!(
            !reporter.report(()),
            "the task must end its session once abandoned"
        );
    }

    #[test]
    fn a_race_between_abandon_and_commit_has_one_winner() {
        for _ in 0..2_000 {
            let state = SessionState::default();
            let task = state.clone();
            let committer = std::thread::spawn(move || task.begin_commit());
            let commit_started = state.abandon();
            let committed = committer.join().expect("committer thread");
            assert_eq!(
                committed,
                commit_started,
                "the client recorded {:?} but the task {} its commit",
                unfollowed_outcome(commit_started),
                if committed { "began" } else { "did not begin" }
            );
        }
    }
}
