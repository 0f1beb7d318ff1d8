//! The process's open-file limit. Every operation in flight holds an HTTP connection, and with
//! the embedded S3 server both ends of it are this process's file descriptors, so a batch of
//! heavy configurations can need more descriptors than the usual soft limit (1024 on many
//! hosts). Out of descriptors, the server cannot accept and the client cannot connect: requests
//! fail without an answer (which the storage layer records as a harness fault, see
//! [`crate::chaos::StorageLayer::with_own_server`]) and history files cannot be opened.
//! A run therefore raises its soft limit to the hard limit first, and a sweep warns before a
//! batch whose worst case exceeds the limit.

use std::sync::OnceLock;

use super::MAX_IN_FLIGHT_PER_CLIENT;

/// Connections one operation in flight can hold at once: its session's current request and
/// its lease keeper's heartbeat.
const CONNECTIONS_PER_OP: u64 = 2;

/// Descriptors a run holds apart from its connections: its history file, the result files
/// being written, the HTTP client's pool housekeeping.
const PER_RUN: u64 = 16;

/// Descriptors the process holds apart from its runs: the test harness, the embedded server's
/// listener and runtime, stdio, the tests' own files.
const BASE: u64 = 128;

/// Raises the soft open-file limit to the hard limit, once per process, and returns the soft
/// limit in force afterwards (`None` where it cannot be read).
pub fn raise_to_hard_limit() -> Option<u64> {
    static RAISED: OnceLock<Option<u64>> = OnceLock::new();
    *RAISED.get_or_init(|| {
        let mut limit = current()?;
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            // SAFETY: `limit` is a valid rlimit, passed by pointer for the call only.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
                return current().map(|l| l.rlim_cur);
            }
        }
        Some(limit.rlim_cur)
    })
}

fn current() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the call's duration.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

/// The most descriptors runs with these client counts (writers + readers each) can hold at
/// once: every client's in-flight cap of operations, each with [`CONNECTIONS_PER_OP`]
/// connections (both ends counted when the server is ours).
pub fn worst_case(clients_per_run: &[usize], own_server: bool) -> u64 {
    let ends = if own_server { 2 } else { 1 };
    let connections: u64 = clients_per_run
        .iter()
        .map(|&c| (c * MAX_IN_FLIGHT_PER_CLIENT) as u64 * CONNECTIONS_PER_OP * ends + PER_RUN)
        .sum();
    connections + BASE
}

/// A warning when runs with these client counts, started together, may run out of file
/// descriptors under `limit`; it names the fixes.
pub fn shortfall(clients_per_run: &[usize], own_server: bool, limit: u64) -> Option<String> {
    let needed = worst_case(clients_per_run, own_server);
    (needed > limit).then(|| {
        format!(
            "warning: these {} runs may hold up to {needed} open files (every client keeps up to \
             {MAX_IN_FLIGHT_PER_CLIENT} operations in flight), above this process's limit of \
             {limit}; if they do, requests fail and the runs are INVALID. Raise the limit \
             (`ulimit -n {needed}`, or the hard limit in /etc/security/limits.conf) or run \
             fewer at once (CHAOS_PARALLEL).",
            clients_per_run.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let after = raise_to_hard_limit().expect("RLIMIT_NOFILE is readable");
        let hard = current().expect("readable").rlim_max;
        assert_eq!(after, hard);
    }

    #[test]
    fn a_batch_beyond_the_limit_is_named_with_its_fix() {
        // Eight runs of 16 clients against our own server: 8 * (16 * 64 * 2 * 2 + 16) + 128.
        let batch = [16; 8];
        assert_eq!(worst_case(&batch, true), 33_024);
        let warning = shortfall(&batch, true, 20_000).expect("33,024 > 20,000");
        assert!(warning.contains("ulimit -n 33024") && warning.contains("CHAOS_PARALLEL"));
        assert_eq!(shortfall(&batch, true, 40_000), None);
        // One default run (8 clients) on real S3: 8 * 64 * 2 + 16 + 128 = 1,168.
        assert_eq!(shortfall(&[8], false, 2048), None);
        assert!(shortfall(&[8], false, 1024).is_some());
    }
}
