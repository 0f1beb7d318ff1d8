//! Tests of the checker, by theme: handmade histories with one anomaly each
//! ([`anomalies`]), the verdict and the report's rows ([`verdict`]), the recorder round
//! trip and the `check-history` logic ([`files`]), synthetic histories ([`synthetic`]),
//! multi-key transactions ([`txns`]) and anomaly files ([`saved`]). This file holds the
//! helpers they share: the history builder [`H`], the assertions, and the injections of
//! anomalies into synthetic histories.

use std::path::PathBuf;

use super::*;
use crate::history::{make_value, read_history, value_id, HistoryRecorder};

mod anomalies;
mod files;
mod saved;
mod synthetic;
mod txns;
mod verdict;

/// The client, op and attempt of a value id `client:op:attempt` (0 for a missing number).
fn split_id(id: &str) -> (String, u64, u32) {
    let mut parts = id.split(':');
    let client = parts.next().unwrap_or_default().to_string();
    let op = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    let attempt = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_default();
    (client, op, attempt)
}

/// Builds histories event by event.
#[derive(Default)]
struct H {
    events: Vec<Event>,
}

impl H {
    /// The `invoke` of write attempt `id` at `t_us` (on `key`, if one); returns the parts of
    /// `id` (see [`split_id`]).
    fn invoke_write(&mut self, id: &str, t_us: u64, key: Option<&str>) -> (String, u64, u32) {
        let (client, op, attempt) = split_id(id);
        self.events.push(Event::Invoke {
            client: client.clone(),
            op,
            attempt,
            kind: OpKind::Write,
            t_us,
            key: key.map(str::to_string),
        });
        (client, op, attempt)
    }

    /// A write attempt `id` (`client:op:attempt`) on `key`, invoked at `t.0` and completed at
    /// `t.1`; `read`: `None` if the read did not return; an `ok` commit gets txn `snap + 1`.
    fn write(
        &mut self,
        id: &str,
        key: &str,
        t: (u64, u64),
        snap: Option<u64>,
        read: Option<Option<&str>>,
        outcome: Outcome,
    ) -> &mut Self {
        let (client, op, attempt) = self.invoke_write(id, t.0, Some(key));
        self.events.push(Event::Write {
            client,
            op,
            attempt,
            t_us: t.1,
            outcome,
            key: key.to_string(),
            snapshot_txn: snap,
            read_done: read.is_some(),
            read: read.flatten().map(str::to_string),
            wrote: id.to_string(),
            txn_id: match outcome {
                Outcome::Ok => snap.map(|s| s + 1),
                _ => None,
            },
            error: (outcome != Outcome::Ok).then(|| "error".to_string()),
        });
        self
    }

    /// An acknowledged write at snapshot `snap` (txn `snap + 1`).
    fn ok(
        &mut self,
        id: &str,
        key: &str,
        t: (u64, u64),
        snap: u64,
        read: Option<&str>,
    ) -> &mut Self {
        self.write(id, key, t, Some(snap), Some(read), Outcome::Ok)
    }

    /// Overrides the txn id of the last write.
    fn txn(&mut self, txn: u64) -> &mut Self {
        if let Some(Event::Write { txn_id, .. }) = self.events.last_mut() {
            *txn_id = Some(txn);
        }
        self
    }

    /// A read operation of `client` op `op` at snapshot `snap`.
    fn read(
        &mut self,
        client: &str,
        op: u64,
        t: (u64, u64),
        snap: u64,
        reads: &[(&str, Option<&str>)],
        scan: bool,
    ) -> &mut Self {
        self.events.push(Event::Invoke {
            client: client.to_string(),
            op,
            attempt: 0,
            kind: OpKind::Read,
            t_us: t.0,
            key: None,
        });
        self.events.push(Event::Read {
            client: client.to_string(),
            op,
            t_us: t.1,
            outcome: Outcome::Ok,
            snapshot_txn: Some(snap),
            scan,
            reads: reads
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            error: None,
            range: None,
        });
        self
    }

    /// The final state.
    fn fin(&mut self, head: u64, state: &[(&str, &str)]) -> &mut Self {
        self.events.push(Event::Final {
            t_us: 1_000_000,
            head_txn: head,
            state: state
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        self
    }

    fn check(&self) -> CheckReport {
        check(self.events.clone())
    }
}

fn console(r: &CheckReport) -> String {
    let mut out = Vec::new();
    r.write_console(&mut out, "test").expect("writing to a Vec");
    String::from_utf8_lossy(&out).into_owned()
}

fn found(r: &CheckReport) -> Vec<(AnomalyClass, u64)> {
    AnomalyClass::ALL
        .iter()
        .map(|&c| (c, r.count(c)))
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// The history has exactly one anomaly, of `class`, and nothing else wrong.
fn assert_only(h: &H, class: AnomalyClass) -> CheckReport {
    assert_found(h, &[class])
}

/// The history has exactly one anomaly of each of `classes` (in report order), and nothing
/// else wrong.
fn assert_found(h: &H, classes: &[AnomalyClass]) -> CheckReport {
    let r = h.check();
    let expected: Vec<(AnomalyClass, u64)> = classes.iter().map(|&c| (c, 1)).collect();
    assert_eq!(found(&r), expected, "{}", console(&r));
    let listed: Vec<AnomalyClass> = r.anomalies().iter().map(|a| a.class).collect();
    assert_eq!(listed, classes);
    assert!(r.anomalies().iter().all(|a| !a.explanation.is_empty()));
    assert_eq!(r.problems().0, 0, "{}", console(&r));
    assert!(!r.is_valid());
    r
}

/// [`must_fail`] for an anomaly that is also a dependency cycle of class `cycle`.
fn must_fail_with_cycle(
    class: AnomalyClass,
    cycle: AnomalyClass,
    rest: impl FnOnce(&mut H) -> &mut H,
) -> CheckReport {
    assert_found(&first_write_then(rest), &[class, cycle])
}

/// The history has no anomaly and passes.
fn assert_passes(h: &H) -> CheckReport {
    let r = h.check();
    assert!(r.is_valid(), "{}", console(&r));
    assert_eq!(r.total_anomalies(), 0);
    r
}

/// A history of the acknowledged write `w0:1:0` of `k1` at snapshot 0 (txn 1), then what
/// `rest` adds.
fn first_write_then(rest: impl FnOnce(&mut H) -> &mut H) -> H {
    let mut h = H::default();
    rest(h.ok("w0:1:0", "k1", (0, 10), 0, None));
    h
}

/// [`first_write_then`] `rest` must have exactly one anomaly, of `class` (see
/// [`assert_only`]).
fn must_fail(class: AnomalyClass, rest: impl FnOnce(&mut H) -> &mut H) -> CheckReport {
    assert_only(&first_write_then(rest), class)
}

/// Retries, an observed and an unobserved indeterminate write, concurrent readers, a scan.
fn clean_history() -> H {
    first_write_then(|h| {
        h.write("w1:1:0", "k1", (2, 12), Some(0), Some(None), Outcome::Fail)
            .ok("w1:1:1", "k1", (13, 20), 1, Some("w0:1:0"))
            .write("w0:2:0", "k2", (21, 30), Some(2), Some(None), Outcome::Info)
            .write(
                "w1:2:0",
                "k1",
                (22, 31),
                Some(2),
                Some(Some("w1:1:1")),
                Outcome::Info,
            )
            .write("w1:3:0", "k2", (32, 33), None, None, Outcome::Info)
            .read("r0", 1, (5, 11), 0, &[("k1", None)], false)
            .read(
                "r1",
                1,
                (11, 25),
                1,
                &[("k1", Some("w0:1:0")), ("k2", None)],
                false,
            )
            .read(
                "r0",
                2,
                (32, 35),
                3,
                &[("k2", Some("w0:2:0")), ("k1", Some("w1:1:1"))],
                false,
            )
            .ok("w0:3:0", "k2", (36, 40), 3, Some("w0:2:0"))
            .read(
                "r1",
                2,
                (41, 45),
                4,
                &[("k1", Some("w1:1:1")), ("k2", Some("w0:3:0"))],
                true,
            )
            .fin(4, &[("k1", "w1:1:1"), ("k2", "w0:3:0")])
    })
}

/// The indeterminate write `w1:1:0` of `k1` at snapshot 1, which read `w0:1:0`.
fn indeterminate_w1(h: &mut H) -> &mut H {
    h.write(
        "w1:1:0",
        "k1",
        (20, 30),
        Some(1),
        Some(Some("w0:1:0")),
        Outcome::Info,
    )
}

/// `w1:1:0` (`info`, snapshot 1) is the only attempt that can have made txn 2 (HEAD is 3; the
/// racer `w2:1:0` definitely failed), and nobody observed it unless `next_read` (what the next
/// writer of `k1`, at snapshot 2, read) is its value.
fn sole_occupant(next_read: &str) -> H {
    first_write_then(|h| {
        indeterminate_w1(h)
            .write(
                "w2:1:0",
                "k1",
                (21, 31),
                Some(1),
                Some(Some("w0:1:0")),
                Outcome::Fail,
            )
            .read("r0", 1, (22, 32), 1, &[("k1", Some("w0:1:0"))], false)
            .ok("w0:2:0", "k1", (40, 50), 2, Some(next_read))
            .fin(3, &[("k1", "w0:2:0")])
    })
}

/// A history with 50 garbage reads (more than [`MAX_EXAMPLES`] of one class).
fn fifty_garbage_reads() -> H {
    let mut h = first_write_then(|h| h);
    for op in 0..50 {
        h.read(
            "r0",
            op,
            (20 + op, 21 + op),
            1,
            &[("k1", Some("nobody"))],
            false,
        );
    }
    h.fin(1, &[("k1", "w0:1:0")]);
    h
}

/// A unique path in the temp dir.
fn temp_path(name: &str) -> PathBuf {
    crate::utils::temp_jsonl("checker", name)
}

/// Indices of the acknowledged writes that read a previous value: an early and a late one.
fn early_and_late_acked(ev: &[Event]) -> (usize, usize) {
    let acked: Vec<usize> = (0..ev.len())
        .filter(|&i| {
            matches!(
                &ev[i],
                Event::Write {
                    outcome: Outcome::Ok,
                    read: Some(_),
                    ..
                }
            )
        })
        .collect();
    (acked[10], acked[acked.len() / 2])
}

/// Index of a read operation (op > 1) that saw a value: the last one, or the sixth one.
fn read_with_value(ev: &[Event], from_end: bool) -> usize {
    let mut found = (0..ev.len()).filter(|&i| {
        matches!(&ev[i], Event::Read { op, reads, .. }
            if *op > 1 && reads.iter().any(|r| r.1.is_some()))
    });
    if from_end {
        found.next_back()
    } else {
        found.nth(5)
    }
    .expect("a read that saw a value")
}

/// Lets a late acknowledged write fail instead: its value was read by then.
fn inject_aborted_read(ev: &mut [Event]) {
    let (_, late) = early_and_late_acked(ev);
    if let Event::Write {
        outcome, txn_id, ..
    } = &mut ev[late]
    {
        *outcome = Outcome::Fail;
        *txn_id = None;
    }
}

/// Drops a key from the final state.
fn inject_lost_write(ev: &mut [Event]) {
    if let Some(Event::Final { state, .. }) = ev.last_mut() {
        state.remove(0);
    }
}

/// Makes a late acknowledged write read nothing (a fork with the key's first writer).
fn inject_lost_update(ev: &mut [Event]) {
    let (_, late) = early_and_late_acked(ev);
    if let Event::Write { read, .. } = &mut ev[late] {
        *read = None;
    }
}

/// Gives a late acknowledged write the txn id of an early one.
fn inject_duplicate_txn_id(ev: &mut [Event]) {
    let (early, late) = early_and_late_acked(ev);
    let Event::Write { txn_id: first, .. } = ev[early].clone() else {
        return;
    };
    if let Event::Write { txn_id, .. } = &mut ev[late] {
        *txn_id = first;
    }
}

/// Makes the last read that saw values see nothing.
fn inject_non_snapshot_read(ev: &mut [Event]) {
    let i = read_with_value(ev, true);
    if let Event::Read { reads, .. } = &mut ev[i] {
        reads.iter_mut().for_each(|r| r.1 = None);
    }
}

/// Makes an early read that saw values see a value nobody wrote.
fn inject_garbage_read(ev: &mut [Event]) {
    let i = read_with_value(ev, false);
    if let Event::Read { reads, .. } = &mut ev[i] {
        reads
            .iter_mut()
            .for_each(|r| r.1 = Some("nobody:1:0".to_string()));
    }
}

/// Moves the last read that saw values back to snapshot 0.
fn inject_non_monotonic_read(ev: &mut [Event]) {
    let i = read_with_value(ev, true);
    if let Event::Read { snapshot_txn, .. } = &mut ev[i] {
        *snapshot_txn = Some(0);
    }
}

/// Moves the last failed write attempt back to snapshot 0.
fn inject_realtime_violation(ev: &mut [Event]) {
    let failed = ev
        .iter()
        .rposition(|e| {
            matches!(
                e,
                Event::Write {
                    outcome: Outcome::Fail,
                    ..
                }
            )
        })
        .expect("a failed attempt");
    if let Event::Write { snapshot_txn, .. } = &mut ev[failed] {
        *snapshot_txn = Some(0);
    }
}

/// Repeats a key of the final state.
fn inject_duplicate_key(ev: &mut [Event]) {
    if let Some(Event::Final { state, .. }) = ev.last_mut() {
        state.push(state[0].clone());
    }
}

/// Raises HEAD by one txn nobody made.
fn inject_txn_count_mismatch(ev: &mut [Event]) {
    if let Some(Event::Final { head_txn, .. }) = ev.last_mut() {
        *head_txn += 1;
    }
}
