"""Synthetic harness output and a runner for plot_results.py tests."""

import csv
import itertools
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
SCRIPT = TESTS_DIR.parent / "plot_results.py"
# The headers the Rust harness writes; a Rust test checks them against this file too.
HEADERS_JSON = TESTS_DIR / "result_headers.json"
HEADERS = json.loads(HEADERS_JSON.read_text(encoding="utf-8"))

COLUMNS = HEADERS["main"]
RETRY_COLUMNS = [
    "total_retry_failures", "total_max_retries_exceeded",
    "retry_failure_rate", "retry_success_rate",
]
# What the run's actors did: the columns of STEM_actors.csv after config_label.
ACTORS = HEADERS["actors"][1:]
# Between ops_checked and the verdict.
ANOMALIES = HEADERS["verification"][2:-1]
DURATION_S = 60
BLOCK_WINDOWS_S = [(5, 15), (25, 35), (45, 55)]

# label: (failure rate, write tps, write p50 ms, extra read latency ms)
CHAOS_SCENARIOS = {
    "baseline": (0.021, 48.0, 28.0, 0.0),
    "net-delay-100ms": (0.048, 31.5, 235.0, 100.0),
    "net-delay-200ms": (0.083, 21.2, 440.0, 200.0),
    "net-delay-500ms": (0.162, 9.8, 1050.0, 500.0),
    "net-block-10s-3x": (0.215, 17.4, 310.0, 40.0),
    "cpu-4threads-80pct": (0.037, 39.6, 62.0, 12.0),
    "combined-200ms-4threads-80pct": (0.124, 16.3, 560.0, 230.0),
}
RUN_INFO = {
    "seed": 1234567890123, "git_revision": "0123456789abcdef0123456789abcdef01234567",
    "build_profile": "release", "backend": "embedded-s3",
    "started_at": "2025-01-02T03:04:05Z", "ended_at": "2025-01-02T03:14:05Z",
    "command": ["cargo", "test", "--release", "test_chaos_sweep"],
    "replay": "CHAOS_SEED=1234567890123 cargo test --release test_chaos_sweep",
}
RUN_INFO_FOOTER = "seed 1234567890123 · rev 0123456789ab · release · embedded-s3"
REGEN_CHAOS = ("cargo test --release -p fusio-manifest-chaos --test performance_test "
               "test_chaos_sweep -- --ignored --nocapture")


def write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def result_row(label, params, failure, tps, p50, read_extra, rng):
    writers, readers, writer_rate, reader_rate, pool, overlap = params
    retry_failure = min(1.0, failure * 0.6)
    return {
        "config_label": label, "num_writers": writers, "num_readers": readers,
        "writer_rate": writer_rate, "reader_rate": reader_rate,
        "key_pool_size": pool, "key_overlap_ratio": overlap,
        "max_retry_count": 5, "duration_secs": DURATION_S,
        "precondition_failure_rate": round(failure, 4),
        "write_tps": round(tps, 2), "read_tps": round(readers * reader_rate * 0.9, 2),
        "write_p50_ms": round(p50, 1), "write_p95_ms": round(p50 * 1.9, 1),
        "write_p99_ms": round(p50 * 2.8 + rng.uniform(0, 20), 1),
        "precond_p50_ms": round(p50 * 0.8, 1), "precond_p99_ms": round(p50 * 2.2, 1),
        "read_p50_ms": round(9.0 + read_extra, 1),
        "read_p99_ms": round(24.0 + read_extra * 1.6, 1),
        "avg_retry_count": round(failure * 4, 3),
        "total_retry_failures": int(failure * 400),
        "total_max_retries_exceeded": int(failure * 40),
        "retry_failure_rate": round(retry_failure, 4),
        "retry_success_rate": round(1 - retry_failure, 4),
    }


def chaos_rows(labels=None):
    rng = random.Random(7)
    params = (4, 8, 5, 20, 500, 0.5)
    labels = labels or list(CHAOS_SCENARIOS)
    return [result_row(label, params, *CHAOS_SCENARIOS[label], rng) for label in labels]


def write_rows(path, rows, columns=COLUMNS):
    return write_csv(path, columns, [[row[column] for column in columns] for row in rows])


def timeline_rows(labels):
    rng = random.Random(11)
    rows = []
    for label in labels:
        tps = CHAOS_SCENARIOS[label][1]
        for second in range(DURATION_S):
            blocked = label.startswith("net-block") and any(
                start <= second < end for start, end in BLOCK_WINDOWS_S)
            commits = 0 if blocked else max(0, round(tps * rng.uniform(0.8, 1.2)))
            rows.append([label, second, commits, rng.randint(0, 3), int(blocked),
                         rng.randint(150, 170), commits * 4 + 160, 40 + second / 2])
    return rows


def event_rows(labels):
    rows = []
    for label in labels:
        rows.append([label, 0, "chaos_start", "scenario start"])
        if label.startswith("net-block"):
            for start, end in BLOCK_WINDOWS_S:
                rows.append([label, start * 1000, "block_start", "iptables DROP s3"])
                rows.append([label, end * 1000, "block_end", "iptables restored"])
                rows.append([label, end * 1000 + 850, "recovered", "first commit"])
        if label.startswith("cpu") or label.startswith("combined"):
            rows.append([label, 120, "cpu_start", "4 threads @ 80%"])
        rows.append([label, DURATION_S * 1000, "chaos_stop", ""])
    return rows


def verification_rows(labels):
    rows = []
    for index, label in enumerate(labels):
        anomalies = [0] * len(ANOMALIES)
        if label.startswith("combined"):
            anomalies[ANOMALIES.index("lost_write")] = 2
            anomalies[ANOMALIES.index("non_monotonic_read")] = 1
        verdict = "FAIL" if any(anomalies) else "PASS"
        rows.append([label, 2400 + 173 * index, *anomalies, verdict])
    return rows


def actor_rows(labels):
    """One STEM_actors.csv row per scenario: one shared manifest, no other actor."""
    return [[label, *(1 if name == "manifests" else 0 for name in ACTORS)] for label in labels]


def host_rows(labels, saturated=()):
    """One STEM_host.csv row per scenario: ``HOST-SATURATED`` for those in ``saturated``."""
    rows = []
    for index, label in enumerate(labels):
        busy = label in saturated
        rows.append([label, 0.4 + 0.1 * index, 35.0 if busy else 2.5, 180.0 if busy else 6.0,
                     96.5 if busy else 41.0 + index, 64 if busy else 12,
                     "HOST-SATURATED" if busy else "OK"])
    return rows


def run_file(directory, stem, suffix):
    """``directory/STEM/STEM<suffix>``: a file of the run's folder."""
    return directory / stem / f"{stem}{suffix}"


def write_run_info(directory, stem, info=None):
    """Write ``directory/STEM/STEM_run.json`` (``RUN_INFO`` unless ``info`` is given)."""
    path = run_file(directory, stem, "_run.json")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(RUN_INFO if info is None else info), encoding="utf-8")
    return path


def make_chaos_csv(directory, labels=None, sidecars=True, stem="chaos_sweep", saturated=()):
    """Write STEM.csv and, if asked, its run folder STEM/ (five sidecars and run.json);
    the scenarios in ``saturated`` ran on a saturated host."""
    labels = labels or list(CHAOS_SCENARIOS)
    csv_path = write_rows(directory / f"{stem}.csv", chaos_rows(labels))
    if sidecars:
        (directory / stem).mkdir(exist_ok=True)
        write_csv(run_file(directory, stem, "_timeline.csv"), HEADERS["timeline"],
                  timeline_rows(labels))
        write_csv(run_file(directory, stem, "_events.csv"), HEADERS["events"],
                  event_rows(labels))
        write_csv(run_file(directory, stem, "_verification.csv"), HEADERS["verification"],
                  verification_rows(labels))
        write_csv(run_file(directory, stem, "_actors.csv"), HEADERS["actors"],
                  actor_rows(labels))
        write_csv(run_file(directory, stem, "_host.csv"), HEADERS["host"],
                  host_rows(labels, saturated))
        write_run_info(directory, stem)
    return csv_path


def make_comprehensive_csv(directory, stem="comprehensive_sweep"):
    """96 runs over writers x readers x writer_rate x reader_rate x pool x overlap,
    with the run's STEM/STEM_run.json."""
    rng = random.Random(3)
    rows = []
    grid = itertools.product([2, 4, 8], [4, 8], [1, 5], [10, 50], [100, 500], [0.3, 0.7])
    for params in grid:
        writers, _, writer_rate, _, pool, overlap = params
        contention = writers * writer_rate * overlap / pool
        failure = min(0.9, 0.01 + contention * 0.8)
        tps = writers * writer_rate * (1 - failure) * rng.uniform(0.9, 1.0)
        rows.append(result_row(f"w{writers}-r{params[1]}", params, failure, tps,
                               25 + 40 * contention, 0.0, rng))
    write_run_info(directory, stem)
    return write_rows(directory / f"{stem}.csv", rows)


def run_plot(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def png_size(path):
    header = Path(path).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.fixture(scope="module")
def chaos_with_sidecars(tmp_path_factory):
    """The full chaos figure, drawn once per module: (csv path, completed process)."""
    csv_path = make_chaos_csv(tmp_path_factory.mktemp("chaos_full"))
    return csv_path, run_plot(csv_path, "--chaos")
