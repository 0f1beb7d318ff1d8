//! Recovery after network blocks: how long after an unblock commits run again at >= 50% of
//! the rate before the block.
//!
//! Pre-block rate = commits in the 10 s before the block (or since the run started, if
//! shorter) per second. Recovery time = from the unblock to the first commit `c` such that the
//! second starting at `c` holds at least half the pre-block rate's commits. Fault windows are
//! also where [`longest_commit_gap`] looks for the longest stretch without a commit.

use super::controller::ChaosEvent;

/// Window before a block used to measure its pre-block rate.
pub const PRE_WINDOW_MS: u64 = 10_000;

/// The recovery measured for one block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recovery {
    /// 1-based block number.
    pub block: usize,
    /// Block start, ms since the run started.
    pub start_ms: u64,
    /// Block end (unblock), ms since the run started.
    pub end_ms: u64,
    /// Commits per second before the block.
    pub pre_rate: f64,
    /// Time from the unblock until commits ran at >= 50% of `pre_rate`; `None` if they never
    /// did before the run ended (or there was no pre-block rate to compare with).
    pub recovery_ms: Option<u64>,
}

impl Recovery {
    /// One line: how long commits took to come back after the block, or why that is unknown.
    pub fn detail(&self) -> String {
        match self.recovery_ms {
            Some(ms) => format!(
                "block {}: {ms} ms to >=50% of {:.1} commits/s",
                self.block, self.pre_rate
            ),
            None if self.pre_rate == 0.0 => format!(
                "block {}: not measurable (no commit in the 10 s before the block)",
                self.block
            ),
            None => format!(
                "block {}: not recovered to >=50% of {:.1} commits/s",
                self.block, self.pre_rate
            ),
        }
    }

    /// The `recovered` / `not_recovered` event for the events log.
    pub fn event(&self) -> ChaosEvent {
        ChaosEvent {
            t_ms: self.end_ms + self.recovery_ms.unwrap_or(0),
            event: if self.recovery_ms.is_some() {
                "recovered"
            } else {
                "not_recovered"
            }
            .into(),
            detail: self.detail(),
        }
    }
}

/// Pairs `block_start` / `block_end` events into windows `(start_ms, end_ms)`; a start without
/// an end lasts until `run_end_ms`.
pub fn block_windows(events: &[ChaosEvent], run_end_ms: u64) -> Vec<(u64, u64)> {
    let mut windows = Vec::new();
    let mut open = None;
    for e in events {
        match e.event.as_str() {
            "block_start" => open = Some(e.t_ms),
            "block_end" => {
                if let Some(s) = open.take() {
                    windows.push((s, e.t_ms));
                }
            }
            _ => {}
        }
    }
    if let Some(s) = open {
        windows.push((s, run_end_ms));
    }
    windows
}

/// Recovery after each window, from the sorted commit acknowledgement times (ms).
pub fn recovery_times(windows: &[(u64, u64)], commits_ms: &[u64]) -> Vec<Recovery> {
    let count_in = |from: u64, to: u64| {
        commits_ms.partition_point(|&c| c < to) - commits_ms.partition_point(|&c| c < from)
    };
    windows
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| {
            let pre_from = start.saturating_sub(PRE_WINDOW_MS);
            let pre_secs = (start - pre_from) as f64 / 1000.0;
            let pre_rate = if pre_secs > 0.0 {
                count_in(pre_from, start) as f64 / pre_secs
            } else {
                0.0
            };
            let need = (0.5 * pre_rate).ceil().max(1.0) as usize;
            let first_after = commits_ms.partition_point(|&c| c < end);
            let recovery_ms = if pre_rate > 0.0 {
                commits_ms[first_after..]
                    .iter()
                    .find(|&&c| count_in(c, c + 1000) >= need)
                    .map(|&c| c - end)
            } else {
                None
            };
            Recovery {
                block: i + 1,
                start_ms: start,
                end_ms: end,
                pre_rate,
                recovery_ms,
            }
        })
        .collect()
}

/// The longest stretch (ms) with no commit between `from_ms` and `to_ms`, and where it began.
pub fn longest_commit_gap(commits_ms: &[u64], from_ms: u64, to_ms: u64) -> (u64, u64) {
    let mut prev = from_ms;
    let mut best = (0, from_ms);
    for &c in commits_ms.iter().filter(|&&c| c >= from_ms && c <= to_ms) {
        if c - prev > best.0 {
            best = (c - prev, prev);
        }
        prev = c;
    }
    if to_ms.saturating_sub(prev) > best.0 {
        best = (to_ms - prev, prev);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(from: u64, to: u64, every: u64) -> Vec<u64> {
        (from..to).step_by(every as usize).collect()
    }

    #[test]
    fn recovery_is_measured_from_the_unblock() {
        // 10 commits/s, a block 20-30 s, commits resume 1.5 s after the unblock.
        let mut c = steady(0, 20_000, 100);
        c.extend(steady(31_500, 40_000, 100));
        let r = recovery_times(&[(20_000, 30_000)], &c);
        assert_eq!(r.len(), 1);
        assert!((r[0].pre_rate - 10.0).abs() < 1e-9);
        assert_eq!(r[0].recovery_ms, Some(1_500));
    }

    #[test]
    fn a_trickle_below_half_rate_is_not_recovery() {
        let mut c = steady(0, 20_000, 100);
        c.extend(steady(30_000, 35_000, 1000)); // 1/s: below 5/s
        c.extend(steady(35_000, 40_000, 100));
        let r = recovery_times(&[(20_000, 30_000)], &c);
        assert_eq!(r[0].recovery_ms, Some(5_000));
        let never = recovery_times(&[(20_000, 30_000)], &steady(0, 20_000, 100));
        assert_eq!(never[0].recovery_ms, None);
    }

    #[test]
    fn windows_pair_starts_and_ends() {
        let ev = |t, e: &str| ChaosEvent {
            t_ms: t,
            event: e.into(),
            detail: String::new(),
        };
        let events = [
            ev(5, "block_start"),
            ev(9, "block_end"),
            ev(20, "block_start"),
        ];
        assert_eq!(block_windows(&events, 30), vec![(5, 9), (20, 30)]);
    }

    #[test]
    fn longest_gap_includes_the_edges() {
        assert_eq!(longest_commit_gap(&[10, 20, 60], 0, 70), (40, 20));
        assert_eq!(longest_commit_gap(&[], 0, 70), (70, 0));
    }
}
