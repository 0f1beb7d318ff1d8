//! Shrinking a failing seed to a minimal [`Repro`]: replay its recorded faults as fault points
//! with random faults off, cut them to the shortest prefix that still fails, delta-debug the
//! rest (Zeller's ddmin), then make the workload smaller (fewer clients, no compactor, no
//! skew, a shorter run) while the failure holds, and ddmin once more on the smaller workload.
//! "Still fails" means the replay shows the same [`Feature`]; every step is a simulated run,
//! so a repro fails every time it runs.

use std::collections::HashMap;
use std::path::Path;

use super::repro::Repro;
use super::schedule::{Case, Draw};
use super::signature::Feature;
use crate::chaos::fault_log::spec;
use crate::chaos::FaultPoint;

/// At most this many replays per shrink (each a simulated run).
pub const MAX_REPLAYS: usize = 80;

/// What shrinking one seed gave.
pub struct Shrunk {
    /// The minimal repro, if the failure showed again with random faults off.
    pub repro: Option<Repro>,
    /// Replays run.
    pub replays: usize,
    /// Faults the seed's run injected.
    pub recorded: usize,
}

/// Replays candidates of one seed and remembers each answer.
struct Oracle<'a> {
    feature: &'a Feature,
    out_dir: &'a Path,
    seen: HashMap<String, bool>,
    replays: usize,
}

impl Oracle<'_> {
    /// Whether `repro` with `points` shows the feature (false once the budget is spent).
    async fn fails(&mut self, repro: &Repro, points: &[FaultPoint]) -> bool {
        let candidate = Repro {
            points: spec(points),
            ..repro.clone()
        };
        let key = format!("{candidate:?}");
        if let Some(&answer) = self.seen.get(&key) {
            return answer;
        }
        if self.replays >= MAX_REPLAYS {
            return false;
        }
        self.replays += 1;
        let answer = match candidate.run(self.out_dir).await {
            Ok(ran) => ran.signature.has(self.feature),
            Err(_) => false,
        };
        self.seen.insert(key, answer);
        answer
    }
}

/// A failure test over candidate lists.
trait Judge<T> {
    /// Whether `items` still fail.
    async fn fails(&mut self, items: &[T]) -> bool;
}

/// The oracle with one repro's workload fixed: judges lists of points.
struct ForRepro<'o, 'a> {
    oracle: &'o mut Oracle<'a>,
    repro: &'o Repro,
}

impl Judge<FaultPoint> for ForRepro<'_, '_> {
    async fn fails(&mut self, items: &[FaultPoint]) -> bool {
        self.oracle.fails(self.repro, items).await
    }
}

/// The shortest prefix of `items` that still fails (binary search; `items` fails).
async fn shortest_prefix<T, J: Judge<T>>(judge: &mut J, items: &[T]) -> usize {
    let (mut lo, mut hi) = (0, items.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if judge.fails(&items[..mid]).await {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    hi
}

/// ddmin: a 1-minimal sublist of `items` (which fails) that still fails.
async fn ddmin<T: Clone, J: Judge<T>>(judge: &mut J, mut items: Vec<T>) -> Vec<T> {
    let mut n = 2;
    while items.len() >= 2 {
        let chunks = split(&items, n);
        let mut reduced = false;
        for chunk in &chunks {
            if judge.fails(chunk).await {
                items = chunk.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced {
            for i in 0..chunks.len() {
                let rest: Vec<T> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                if judge.fails(&rest).await {
                    items = rest;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= items.len() {
                break;
            }
            n = (2 * n).min(items.len());
        }
    }
    items
}

/// `items` in `n` nearly equal consecutive chunks.
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let n = n.min(items.len()).max(1);
    (0..n)
        .map(|i| items[i * items.len() / n..(i + 1) * items.len() / n].to_vec())
        .collect()
}

/// The workload changes tried, in order, each kept when the failure holds.
fn workload_steps(case: &Case) -> Vec<String> {
    let c = &case.config;
    let mut steps = Vec::new();
    if c.num_readers > 0 {
        steps.push("CHAOS_NUM_READERS=0".to_string());
    }
    if c.pinned_readers > 0 {
        steps.push("CHAOS_PINNED_READERS=0".into());
    }
    if c.compact_every_ms > 0 {
        steps.push("CHAOS_COMPACT_EVERY_MS=0".into());
    }
    if c.clock_skew_ms != 0 {
        steps.push("CHAOS_CLOCK_SKEW_MS=0".into());
    }
    if c.clock_drift_ms_per_s != 0 {
        steps.push("CHAOS_CLOCK_DRIFT_MS_PER_S=0".into());
    }
    if c.txn_keys > 1 {
        steps.push("CHAOS_TXN_KEYS=1".into());
    }
    steps
}

/// Shrinks seed `case.seed` (whose run showed `feature` and injected `recorded`) to a minimal
/// repro; `compactors` is the search's draw setting, `store` its store's answers.
pub async fn shrink(
    case: &Case,
    draw: Draw,
    store: &str,
    recorded: Vec<FaultPoint>,
    feature: &Feature,
    out_dir: &Path,
) -> Shrunk {
    let mut oracle = Oracle {
        feature,
        out_dir,
        seen: HashMap::new(),
        replays: 0,
    };
    let mut repro = Repro {
        seed: case.seed,
        duration_secs: case.config.duration.as_secs(),
        compactors: draw.compactors,
        faults: draw.faults,
        workload: String::new(),
        points: String::new(),
        store: store.to_string(),
    };
    let total = recorded.len();
    if !oracle.fails(&repro, &recorded).await {
        return Shrunk {
            repro: None,
            replays: oracle.replays,
            recorded: total,
        };
    }
    let judge = &mut ForRepro {
        oracle: &mut oracle,
        repro: &repro,
    };
    let prefix = shortest_prefix(judge, &recorded).await;
    let mut points = ddmin(judge, recorded[..prefix].to_vec()).await;
    for step in workload_steps(case) {
        let tried = Repro {
            workload: join(&repro.workload, &step),
            ..repro.clone()
        };
        // A smaller workload shifts every operation count: take it if the points still fail,
        // or if the whole recorded prefix does (then shrink the points again).
        if oracle.fails(&tried, &points).await {
            repro = tried;
        } else if oracle.fails(&tried, &recorded[..prefix]).await {
            let judge = &mut ForRepro {
                oracle: &mut oracle,
                repro: &tried,
            };
            points = ddmin(judge, recorded[..prefix].to_vec()).await;
            repro = tried;
        }
    }
    // The fewest writers that still fail, counting up.
    for writers in 1..case.config.num_writers {
        let tried = Repro {
            workload: join(&repro.workload, &format!("CHAOS_NUM_WRITERS={writers}")),
            ..repro.clone()
        };
        if oracle.fails(&tried, &points).await {
            repro = tried;
            break;
        }
    }
    while repro.duration_secs > 10 {
        let tried = Repro {
            duration_secs: repro.duration_secs / 2,
            ..repro.clone()
        };
        if !oracle.fails(&tried, &points).await {
            break;
        }
        repro = tried;
    }
    let judge = &mut ForRepro {
        oracle: &mut oracle,
        repro: &repro,
    };
    points = ddmin(judge, points).await;
    repro.points = spec(&points);
    Shrunk {
        repro: Some(repro),
        replays: oracle.replays,
        recorded: total,
    }
}

/// `a` and `b` space-separated.
fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a} {b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when the list holds every item of `needed`; counts its calls.
    struct Needs {
        needed: Vec<u32>,
        calls: usize,
    }

    impl Judge<u32> for Needs {
        async fn fails(&mut self, items: &[u32]) -> bool {
            self.calls += 1;
            self.needed.iter().all(|n| items.contains(n))
        }
    }

    #[tokio::test]
    async fn ddmin_finds_exactly_the_needed_items_and_the_prefix_ends_at_the_last() {
        let items: Vec<u32> = (0..40).collect();
        let mut judge = Needs {
            needed: vec![3, 17, 29],
            calls: 0,
        };
        assert_eq!(shortest_prefix(&mut judge, &items).await, 30);
        assert_eq!(ddmin(&mut judge, items.clone()).await, vec![3, 17, 29]);
        let mut one = Needs {
            needed: vec![8],
            calls: 0,
        };
        assert_eq!(ddmin(&mut one, items).await, vec![8]);
        assert!(one.calls < 40, "{} calls", one.calls);
    }

    #[test]
    fn split_covers_every_item_once_in_order() {
        let items: Vec<u32> = (0..7).collect();
        for n in 1..=9 {
            let chunks = split(&items, n);
            assert_eq!(chunks.concat(), items, "n = {n}");
            assert!(chunks.iter().all(|c| !c.is_empty()));
        }
    }
}
