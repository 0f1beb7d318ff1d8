//! Targeted, deterministic fault points in the spirit of tikv/fail-rs: "at the Nth operation of
//! this kind on keys matching this pattern, do X". Unlike the probabilistic
//! [`FaultSpec`](super::FaultSpec)s, a fault point fires at exactly known operations, so a test
//! can inject one fault and assert its consequence.
//!
//! Each point counts the operations that match it (its kind and key filter), starting at 1 when
//! the point is added; it fires on the counts its [`Hits`] names. Counting is per point: an
//! operation matching two points counts for both; if both would fire, the one added first wins
//! and the other only counts the match.
//!
//! # Spec grammar
//!
//! A spec is a `;`-separated list of points (whitespace around parts is ignored, empty items
//! are skipped):
//!
//! ```text
//! spec   := point (';' point)*
//! point  := op ':' key '#' hits '=' action
//! op     := get | put | condput | head | list | delete | *        (case-insensitive)
//! key    := any text without '#', '=' or ';'; matches keys containing it; empty: any key
//! hits   := N            the Nth matching operation only (N >= 1)
//!         | N..          every matching operation from the Nth on
//!         | N..=M        the Nth through the Mth, inclusive (M >= N)
//! action := answer_lost  applied, then the caller gets a connection error (answer lost)
//!         | refuse       not applied: connection refused
//!         | transient    not applied: HTTP 503 SlowDown
//!         | internal     not applied: HTTP 500 InternalError
//!         | reset        not applied: connection reset before the request was sent
//!         | stall(D)     applied, the answer is held for D, e.g. stall(250ms), stall(3s)
//!         | delay(D)     the request is held for D before it leaves (a holding block)
//!         | crash        condput only: applied, then the writer's process dies before it
//!                        hears the answer (see [`super::crash`]); no effect on a client
//!                        without a process
//! ```
//!
//! Every fault a run injects, whether drawn at random, by a network block, by a crash or by a
//! point, is recorded as the point that injects exactly it ([`super::fault_log`]), so a run's
//! faults can be replayed, and shrunk, with random faults off.
//!
//! Example: `condput:HEAD.json#2=answer_lost; get:leases/#1=stall(3s)` loses the answer to the
//! second conditional PUT of a key containing `HEAD.json` and holds the answer to the first GET
//! of a key containing `leases/` for three seconds.
//!
//! Operation kinds are those of [`S3OpKind`]: `condput` is a PUT with `If-Match` or
//! `If-None-Match` (HEAD, segments, leases), `put` a plain PUT, `head` a HEAD object.
//! The suggested environment variable for wiring a spec into runs is `CHAOS_FAULT_POINTS`.

use parking_lot::Mutex;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::faults::{FaultDecision, InjectedError};
use super::S3OpKind;

/// What a fault point does to the operation it hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Apply the operation, then report a lost answer ([`InjectedError::AnswerLost`]).
    AnswerLost,
    /// Do not apply it: connection refused ([`InjectedError::Refused`]).
    Refuse,
    /// Do not apply it: HTTP 503 SlowDown ([`InjectedError::SlowDown`]).
    Transient,
    /// Do not apply it: HTTP 500 InternalError ([`InjectedError::InternalError`]).
    Internal,
    /// Do not apply it: connection reset ([`InjectedError::ConnectionReset`]).
    Reset,
    /// Apply it, then hold the answer this long (written in whole ms or s).
    Stall(Duration),
    /// Hold the request this long before it leaves, then run it normally.
    Delay(Duration),
    /// A conditional PUT only: apply it, then kill the calling writer's process.
    Crash,
}

impl FaultAction {
    /// The decision the storage wrapper applies.
    pub fn decision(self) -> FaultDecision {
        match self {
            Self::AnswerLost => FaultDecision::Ambiguous,
            Self::Refuse => FaultDecision::Fail(InjectedError::Refused),
            Self::Transient => FaultDecision::Fail(InjectedError::SlowDown),
            Self::Internal => FaultDecision::Fail(InjectedError::InternalError),
            Self::Reset => FaultDecision::Fail(InjectedError::ConnectionReset),
            Self::Stall(d) => FaultDecision::Stall(d),
            Self::Delay(d) => FaultDecision::Delay(d),
            Self::Crash => FaultDecision::Crash,
        }
    }
}

/// Writes `d` as the grammar's whole seconds, else whole milliseconds.
fn write_duration(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    if d.subsec_nanos() == 0 {
        write!(f, "{}s", d.as_secs())
    } else {
        write!(f, "{}ms", d.as_millis())
    }
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AnswerLost => f.write_str("answer_lost"),
            Self::Refuse => f.write_str("refuse"),
            Self::Transient => f.write_str("transient"),
            Self::Internal => f.write_str("internal"),
            Self::Reset => f.write_str("reset"),
            Self::Crash => f.write_str("crash"),
            Self::Stall(d) => {
                f.write_str("stall(")?;
                write_duration(f, *d)?;
                f.write_str(")")
            }
            Self::Delay(d) => {
                f.write_str("delay(")?;
                write_duration(f, *d)?;
                f.write_str(")")
            }
        }
    }
}

/// Which matching operations (counted from 1) a point fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hits {
    /// Only the Nth (`Nth(0)` never fires; the parser rejects 0).
    Nth(u64),
    /// Every one from the Nth on.
    From(u64),
    /// The first through the last, inclusive.
    Between(u64, u64),
}

impl Hits {
    /// Whether the `n`th matching operation (1-based) is hit.
    pub fn contains(self, n: u64) -> bool {
        match self {
            Self::Nth(k) => n == k,
            Self::From(k) => n >= k,
            Self::Between(first, last) => (first..=last).contains(&n),
        }
    }
}

impl fmt::Display for Hits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nth(n) => write!(f, "{n}"),
            Self::From(n) => write!(f, "{n}.."),
            Self::Between(first, last) => write!(f, "{first}..={last}"),
        }
    }
}

/// One targeted fault: on the operations of kind `op` (all kinds if `None`) on keys containing
/// `key_contains` (all keys if `None`), the `hits`-th ones get `action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPoint {
    /// Operation kind it watches (`None`: every kind).
    pub op: Option<S3OpKind>,
    /// Only keys containing this (`None`: every key), e.g. `HEAD.json` or `segments/`.
    pub key_contains: Option<String>,
    /// Which matching operations it fires on.
    pub hits: Hits,
    /// What it does to them.
    pub action: FaultAction,
}

impl FaultPoint {
    /// A point firing once, at the `nth` (1-based) operation of kind `op` on a key containing
    /// `key_contains` (an empty string matches every key).
    pub fn once(op: S3OpKind, key_contains: &str, nth: u64, action: FaultAction) -> Self {
        Self {
            op: Some(op),
            key_contains: (!key_contains.is_empty()).then(|| key_contains.to_string()),
            hits: Hits::Nth(nth),
            action,
        }
    }

    /// Whether an operation of kind `op` on `key` counts for this point.
    pub fn matches(&self, op: S3OpKind, key: &str) -> bool {
        self.op.is_none_or(|o| o == op)
            && self.key_contains.as_deref().is_none_or(|k| key.contains(k))
    }
}

impl fmt::Display for FaultPoint {
    /// The spec form, which [`FaultPoint::from_str`] parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op.map_or("*", op_name);
        let key = self.key_contains.as_deref().unwrap_or("");
        write!(f, "{op}:{key}#{}={}", self.hits, self.action)
    }
}

impl FromStr for FaultPoint {
    type Err = FaultPointError;

    /// Parses one point (see the module docs for the grammar).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let point = s.trim();
        let err = |reason: String| FaultPointError {
            point: point.to_string(),
            reason,
        };
        let (lhs, action) = point
            .rsplit_once('=')
            .ok_or_else(|| err("missing `=action`".into()))?;
        let (op, rest) = lhs
            .split_once(':')
            .ok_or_else(|| err("missing `op:` before the key".into()))?;
        let (key, hits) = rest
            .rsplit_once('#')
            .ok_or_else(|| err("missing `#N` after the key".into()))?;
        let key = key.trim();
        let op = parse_op(op.trim()).map_err(err)?;
        let action = parse_action(action.trim()).map_err(err)?;
        if action == FaultAction::Crash && op != Some(S3OpKind::CondPut) {
            return Err(err(
                "`crash` applies to conditional PUTs only: write condput:KEY#N=crash".into(),
            ));
        }
        Ok(Self {
            op,
            key_contains: (!key.is_empty()).then(|| key.to_string()),
            hits: parse_hits(hits.trim()).map_err(err)?,
            action,
        })
    }
}

/// A spec that does not parse: names the offending point and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad fault point `{point}`: {reason}")]
pub struct FaultPointError {
    /// The point as written.
    pub point: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a `;`-separated list of points (see the module docs); an empty spec gives no points.
pub fn parse_fault_points(spec: &str) -> Result<Vec<FaultPoint>, FaultPointError> {
    spec.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

fn op_name(op: S3OpKind) -> &'static str {
    match op {
        S3OpKind::Get => "get",
        S3OpKind::Put => "put",
        S3OpKind::CondPut => "condput",
        S3OpKind::Head => "head",
        S3OpKind::List => "list",
        S3OpKind::Delete => "delete",
    }
}

fn parse_op(op: &str) -> Result<Option<S3OpKind>, String> {
    if op == "*" {
        return Ok(None);
    }
    S3OpKind::ALL
        .into_iter()
        .find(|k| op.eq_ignore_ascii_case(op_name(*k)))
        .map(Some)
        .ok_or_else(|| {
            format!("unknown operation `{op}`: expected get, put, condput, head, list, delete or *")
        })
}

fn parse_count(n: &str) -> Result<u64, String> {
    match n.trim().parse::<u64>() {
        Ok(0) => Err("hit numbers count from 1, not 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "bad hit number `{n}`: expected N, N.. or N..=M with N >= 1"
        )),
    }
}

fn parse_hits(hits: &str) -> Result<Hits, String> {
    let Some((first, rest)) = hits.split_once("..") else {
        return parse_count(hits).map(Hits::Nth);
    };
    let first = parse_count(first)?;
    if rest.trim().is_empty() {
        return Ok(Hits::From(first));
    }
    let Some(last) = rest.strip_prefix('=') else {
        return Err(format!(
            "`{hits}`: write an inclusive range as N..=M (an exclusive N..M is not accepted)"
        ));
    };
    let last = parse_count(last)?;
    if last < first {
        return Err(format!("`{hits}`: the range ends before it starts"));
    }
    Ok(Hits::Between(first, last))
}

fn parse_action(action: &str) -> Result<FaultAction, String> {
    match action.to_ascii_lowercase().as_str() {
        "answer_lost" => return Ok(FaultAction::AnswerLost),
        "refuse" => return Ok(FaultAction::Refuse),
        "transient" => return Ok(FaultAction::Transient),
        "internal" => return Ok(FaultAction::Internal),
        "reset" => return Ok(FaultAction::Reset),
        "crash" => return Ok(FaultAction::Crash),
        _ => {}
    }
    let timed = |name: &str| {
        action
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
    };
    if let Some(d) = timed("stall") {
        return parse_duration(d.trim()).map(FaultAction::Stall);
    }
    if let Some(d) = timed("delay") {
        return parse_duration(d.trim()).map(FaultAction::Delay);
    }
    Err(format!(
        "unknown action `{action}`: expected answer_lost, refuse, transient, internal, reset, \
         stall(D), delay(D) or crash"
    ))
}

fn parse_duration(d: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration `{d}`: expected e.g. 250ms or 3s");
    let (digits, unit) = if let Some(ms) = d.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(s) = d.strip_suffix('s') {
        (s, 1000)
    } else {
        return Err(bad());
    };
    let n: u64 = digits.trim().parse().map_err(|_| bad())?;
    n.checked_mul(unit)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// A point with how many operations matched it and how often it fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPointStatus {
    /// The point.
    pub point: FaultPoint,
    /// Operations that matched its kind and key filter since it was added.
    pub matched: u64,
    /// Operations it fired on.
    pub fired: u64,
}

impl fmt::Display for FaultPointStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: matched {}, fired {}",
            self.point, self.matched, self.fired
        )
    }
}

/// The live fault points of one network, with their counters.
#[derive(Default)]
pub(crate) struct FaultPoints {
    any: AtomicBool,
    points: Mutex<Vec<FaultPointStatus>>,
}

impl FaultPoints {
    /// Replaces every point; counters start at zero.
    pub(crate) fn set(&self, points: Vec<FaultPoint>) {
        let mut guard = self.points.lock();
        *guard = points
            .into_iter()
            .map(|point| FaultPointStatus {
                point,
                matched: 0,
                fired: 0,
            })
            .collect();
        self.any.store(!guard.is_empty(), Ordering::Release);
    }

    /// Adds one point after the existing ones; its counter starts at zero.
    pub(crate) fn add(&self, point: FaultPoint) {
        let mut guard = self.points.lock();
        guard.push(FaultPointStatus {
            point,
            matched: 0,
            fired: 0,
        });
        self.any.store(true, Ordering::Release);
    }

    /// Every point with its counters, in the order added.
    pub(crate) fn status(&self) -> Vec<FaultPointStatus> {
        self.points.lock().clone()
    }

    /// Counts one operation for every point it matches; returns the decision of the first
    /// point that fires on it, if any.
    pub(crate) fn decide(&self, op: S3OpKind, key: &str) -> Option<FaultDecision> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut fired = None;
        for p in self
            .points
            .lock()
            .iter_mut()
            .filter(|p| p.point.matches(op, key))
        {
            p.matched += 1;
            if fired.is_none() && p.point.hits.contains(p.matched) {
                p.fired += 1;
                fired = Some(p.point.action.decision());
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let points =
            parse_fault_points("condput:HEAD.json#2=answer_lost; get:leases/#1=stall(3s)").unwrap();
        assert_eq!(
            points,
            vec![
                FaultPoint::once(S3OpKind::CondPut, "HEAD.json", 2, FaultAction::AnswerLost),
                FaultPoint::once(
                    S3OpKind::Get,
                    "leases/",
                    1,
                    FaultAction::Stall(Duration::from_secs(3))
                ),
            ]
        );
    }

    #[test]
    fn parses_every_form() {
        let p: FaultPoint = " LIST : #3.. = refuse ".parse().unwrap();
        assert_eq!(p.op, Some(S3OpKind::List));
        assert_eq!(p.key_contains, None);
        assert_eq!(p.hits, Hits::From(3));
        assert_eq!(p.action, FaultAction::Refuse);
        let p: FaultPoint = "*:segments/#2..=4=transient".parse().unwrap();
        assert_eq!(p.op, None);
        assert_eq!(p.hits, Hits::Between(2, 4));
        assert_eq!(p.action, FaultAction::Transient);
        let p: FaultPoint = "delete:x#1=stall(250ms)".parse().unwrap();
        assert_eq!(p.action, FaultAction::Stall(Duration::from_millis(250)));
        assert_eq!(parse_fault_points(" ; ").unwrap(), Vec::new());
        assert_eq!(parse_fault_points("put:a#1=refuse;").unwrap().len(), 1);
    }

    #[test]
    fn display_round_trips() {
        for spec in [
            "condput:HEAD.json#2=answer_lost",
            "get:leases/#1=stall(3s)",
            "head:#5..=refuse",
            "*:segments/#2..=4=transient",
            "delete:x#1=stall(1500ms)",
            "get:HEAD.json#3=internal",
            "list:leases#1=reset",
            "put:segments/seg-1.json#1=delay(2500ms)",
            "condput:leases/lease-1.json#1=crash",
        ] {
            let p: FaultPoint = spec.parse().unwrap();
            assert_eq!(p.to_string().parse::<FaultPoint>().unwrap(), p, "{spec}");
        }
        let p: FaultPoint = "head:#5..=refuse".parse().unwrap();
        assert_eq!(p.to_string(), "head:#5..=refuse");
    }

    #[test]
    fn rejects_bad_specs_naming_the_bad_part() {
        let cases = [
            ("condput:HEAD.json#2", "missing `=action`"),
            ("HEAD.json#2=refuse", "missing `op:`"),
            ("get:HEAD.json=refuse", "missing `#N`"),
            ("post:HEAD.json#1=refuse", "unknown operation `post`"),
            ("get:x#0=refuse", "count from 1"),
            ("get:x#two=refuse", "bad hit number `two`"),
            ("get:x#2..4=refuse", "N..=M"),
            ("get:x#4..=2=refuse", "ends before it starts"),
            ("get:x#1=explode", "unknown action `explode`"),
            ("get:x#1=stall(3)", "bad duration `3`"),
            ("get:x#1=stall(fast)", "bad duration"),
            ("get:x#1=stall(3s", "unknown action"),
            ("get:x#1=delay(2)", "bad duration `2`"),
            ("get:x#1=crash", "conditional PUTs only"),
        ];
        for (spec, reason) in cases {
            let e = spec.parse::<FaultPoint>().unwrap_err();
            assert_eq!(e.point, spec);
            assert!(e.reason.contains(reason), "{spec}: {}", e.reason);
        }
        let e = parse_fault_points("get:a#1=refuse; put:b#x=refuse").unwrap_err();
        assert_eq!(e.point, "put:b#x=refuse");
        assert!(e
            .to_string()
            .starts_with("bad fault point `put:b#x=refuse`"));
    }

    #[test]
    fn fires_once_at_the_nth_matching_operation() {
        let points = FaultPoints::default();
        points.set(parse_fault_points("condput:HEAD.json#3=answer_lost").unwrap());
        let mut fired_at = Vec::new();
        for i in 1..=10 {
            // Non-matching operations in between must not count.
            assert_eq!(points.decide(S3OpKind::Get, "p/HEAD.json"), None);
            assert_eq!(points.decide(S3OpKind::CondPut, "p/segments/seg-1"), None);
            if let Some(d) = points.decide(S3OpKind::CondPut, "p/HEAD.json") {
                assert_eq!(d, FaultDecision::Ambiguous);
                fired_at.push(i);
            }
        }
        assert_eq!(fired_at, vec![3]);
        let status = &points.status()[0];
        assert_eq!((status.matched, status.fired), (10, 1));
        assert_eq!(
            status.to_string(),
            "`condput:HEAD.json#3=answer_lost`: matched 10, fired 1"
        );
    }

    #[test]
    fn ranges_and_open_ranges_fire_on_their_counts() {
        let points = FaultPoints::default();
        points.set(parse_fault_points("get:a#2..=3=refuse; get:a#4..=transient").unwrap());
        let decisions: Vec<_> = (0..6).map(|_| points.decide(S3OpKind::Get, "a")).collect();
        let refused = Some(FaultDecision::Fail(InjectedError::Refused));
        let slow = Some(FaultDecision::Fail(InjectedError::SlowDown));
        assert_eq!(
            decisions,
            vec![None, refused, refused, slow, slow, slow],
            "each point counts every matching op"
        );
        let fired: Vec<_> = points.status().iter().map(|s| s.fired).collect();
        assert_eq!(fired, vec![2, 3]);
    }

    #[test]
    fn the_first_point_wins_and_the_other_still_counts() {
        let points = FaultPoints::default();
        points.add(FaultPoint::once(S3OpKind::Put, "", 1, FaultAction::Refuse));
        points.add(FaultPoint::once(
            S3OpKind::Put,
            "k",
            1,
            FaultAction::AnswerLost,
        ));
        assert_eq!(
            points.decide(S3OpKind::Put, "k"),
            Some(FaultDecision::Fail(InjectedError::Refused))
        );
        assert_eq!(points.decide(S3OpKind::Put, "k"), None);
        let status = points.status();
        assert_eq!((status[1].matched, status[1].fired), (2, 0));
    }
}
