#!/usr/bin/env python3
"""Plot fusio-manifest performance and chaos-test results.

Usage
-----
    python3 plot_results.py chaos_sweep.csv --chaos            # chaos figure
    python3 plot_results.py comprehensive_sweep.csv            # comprehensive figure
    python3 plot_results.py FILE.csv PARAM ["Title"]           # one parameter sweep
    python3 plot_results.py FILE.csv ... --output other.png    # choose the PNG path

Mode: ``--chaos`` gives the chaos figure; a PARAM argument gives the single
sweep figure; otherwise the comprehensive figure is drawn.  The PNG goes
beside the CSV with the same stem (``DIR/STEM.csv`` -> ``DIR/STEM.png``)
unless ``--output`` is given.  It is written atomically (temporary file in
the same directory, then ``os.replace``) and the script ends by printing
``✅ Wrote <path> (<w>x<h> px)``.

Install the dependencies with ``pip install -r requirements.txt``.  Plots are
rendered headless with matplotlib's Agg backend.

Inputs
------
A run named STEM in an output directory DIR keeps the files the plan names at
the top, ``DIR/STEM.csv`` and ``DIR/STEM.png``; everything else of the run
lives in its run folder ``DIR/STEM/``.

Main CSV ``DIR/STEM.csv``: the 24 columns of ``EXPECTED_COLUMNS``, one row per
configuration (``config_label``).  The rates ``precondition_failure_rate``,
``retry_failure_rate`` and ``retry_success_rate`` are fractions 0..1 and are
shown as percentages.

Optional sidecars in the run folder ``DIR/STEM/`` (used by the chaos figure):

* ``STEM_timeline.csv``: config_label, second, commits,
  precondition_failures, write_errors, reads, s3_ops (per-second counts),
  read_p50_ms (median latency of that second's reads; empty without reads).
* ``STEM_events.csv``: config_label, t_ms, event, detail (t_ms counts from
  the scenario's start; ``block_start``/``block_end`` pairs delimit network
  blocks, other events are ignored).
* ``STEM_verification.csv``: config_label, ops_checked, the anomaly counts of
  ``ANOMALY_COLUMNS``, verdict: what the isolation checker judged.  Files of
  older harness versions also hold the actor counts (now in
  ``STEM_actors.csv``); extra columns are ignored.  A verdict is one of

  - ``PASS`` and ``FAIL``;
  - ``UNKNOWN: <reason>``: the checker could not decide (amber; the reason is
    shown in the verification chart);
  - ``INVALID: harness fault``: the harness itself failed during the run, so
    the scenario's figures say nothing about fusio-manifest (purple).

  Any other verdict is drawn grey as "unrecognised" and named on stderr.
  Scenarios whose verdict is UNKNOWN, INVALID or unrecognised carry
  "(UNKNOWN)", "(INVALID: harness fault)" or "(unrecognised verdict)" in the
  scenario axis of every chart.
* ``STEM_actors.csv``: config_label and ``ACTOR_COLUMNS``, what the run's
  actors did (compactor passes and errors, segments and checkpoints deleted,
  manifests, pinned read sessions and their oldest snapshot, clock skew,
  crashes, multi-key transactions, deletes, range scans).  No chart draws it,
  so the script does not read it; its header is in ``RESULT_HEADERS`` so the
  shared schema check covers it.
* ``STEM_host.csv``: config_label, probe_lag_p50_ms, probe_lag_p99_ms,
  probe_lag_max_ms, process_cpu_pct, s3_in_flight_max, host; one row per
  scenario, ``host`` is ``OK`` or ``HOST-SATURATED``.  A scenario that ran on
  a saturated host carries "(HOST-SATURATED)" in the scenario axis of every
  chart (after any verdict marker) and on its verification bar, its line in
  chart 8 is dashed with "(host saturated)" in the legend, and the title says
  "N of M scenarios ran on a saturated host: their figures describe the
  machine, not fusio-manifest".  Runs of older harness versions have no host
  file: nothing is marked and stderr gets one note.  A host file with a wrong
  header, non-numeric measurements or a ``host`` value other than the two
  states is named on stderr and ignored as a whole (nothing is marked).

The column lists of all six CSVs are the constants of ``RESULT_HEADERS``;
``tests_py/result_headers.json`` holds the same lists and tests on both the
Python and the Rust side compare against it.

A missing or unreadable sidecar never stops the plot: its chart cell names
the file and the command that produces it, and a warning goes to stderr.
Sidecars left beside ``DIR/STEM.csv`` by older harness versions are not read;
the warning says when one is found there.

Provenance ``DIR/STEM/STEM_run.json``: a JSON object with (at least) ``seed``
(integer), ``git_revision``, ``build_profile`` (``release`` or ``debug``) and
``backend`` (strings).  Every figure gets a footer
``seed <seed> · rev <revision> · <build_profile> · <backend>`` (revision: the
first 12 characters of git_revision, keeping a ``-dirty`` suffix).  If the
file is missing or malformed the footer says ``provenance: <path> missing``
or ``provenance: <path> unreadable (<why>)`` and a warning goes to stderr;
the figure is still written.

Chaos figure (``--chaos``): 3x3 grid, 20x12 in at 300 DPI = 6000x3600 px.
Rows sharing a ``config_label`` are averaged; scenarios keep file order and
each scenario keeps one colour across charts.

1. Failure Rate Under Chaos: precondition_failure_rate, %.
2. Write Throughput Under Chaos: write_tps.
3. Write Latency Distribution: write p50/p95/p99 (ms) per scenario.
4. Failure Rate Degradation vs Baseline: % change of the failure rate against
   the ``baseline`` row; if the baseline failure rate is 0 the bars show the
   absolute difference in percentage points (the axis label says so).
5. TPS Degradation vs Baseline: % change of write_tps against ``baseline``
   (absolute TPS difference if the baseline TPS is 0).
   Without a ``baseline`` row charts 4 and 5 say so instead.
6. Read Latency Distribution: read p50/p99 (ms).
7. Retry Effectiveness Analysis: retry_success_rate (green) and
   retry_failure_rate (red), %.
8. Throughput Over Time: rolling commits/s of each scenario from
   STEM_timeline.csv: the commits of the ``ROLLING_WINDOW_S`` (5) seconds up to
   each point divided by 5, drawn at the end of that window; the first seconds
   of a scenario divide by the seconds there are so far.  Network-block
   windows from STEM_events.csv are shaded.
9. Isolation Verification: one bar per scenario from STEM_verification.csv,
   length = ops checked, green PASS / red FAIL / amber UNKNOWN (with its
   reason) / purple INVALID / grey unrecognised, annotated with the non-zero
   anomaly counts.

Comprehensive figure (default mode): for every swept parameter of
``SWEEP_PARAMS`` that takes more than one value, the mean failure rate (top
row) and mean write TPS (second row) at each of its values, averaged over all
other parameters (error bars: standard deviation).  The bottom row ranks the
parameters by influence and shows a heatmap of mean write TPS over the two
most influential ones.  Influence rule: group the rows by the parameter,
take the mean write_tps of each group; influence = largest group mean minus
smallest group mean (ties keep the order of ``SWEEP_PARAMS``).

Single sweep figure (PARAM given): write TPS, failure rate, write p50/p99
latency and retry success/failure rates against column PARAM (mean of the
rows sharing a PARAM value), titled with TITLE.

Errors (missing or empty CSV, missing columns, bad PARAM, missing Python
packages, unwritable output) are reported as one line on stderr with exit
code 2.
"""

import argparse
import csv
import json
import math
import os
import struct
import sys
import tempfile
import textwrap
from pathlib import Path

EXPECTED_COLUMNS = (
    "config_label", "num_writers", "num_readers", "writer_rate", "reader_rate",
    "key_pool_size", "key_overlap_ratio", "max_retry_count", "duration_secs",
    "precondition_failure_rate", "write_tps", "read_tps",
    "write_p50_ms", "write_p95_ms", "write_p99_ms",
    "precond_p50_ms", "precond_p99_ms", "read_p50_ms", "read_p99_ms",
    "avg_retry_count", "total_retry_failures", "total_max_retries_exceeded",
    "retry_failure_rate", "retry_success_rate",
)
SWEEP_PARAMS = (
    "num_writers", "num_readers", "writer_rate", "reader_rate",
    "key_pool_size", "key_overlap_ratio",
)
TIMELINE_COLUMNS = (
    "config_label", "second", "commits", "precondition_failures",
    "write_errors", "reads", "s3_ops", "read_p50_ms",
)
# Timeline columns added later than the others: a file without them still plots (the
# figure does not draw them).
TIMELINE_OPTIONAL = ("read_p50_ms",)
EVENTS_COLUMNS = ("config_label", "t_ms", "event", "detail")
ANOMALY_COLUMNS = (
    "aborted_read", "lost_write", "lost_update", "duplicate_txn_id",
    "non_snapshot_read", "realtime_violation", "non_monotonic_read",
    "garbage_read", "duplicate_key", "txn_count_mismatch", "g0", "g1c", "g_single", "g2",
)
VERIFICATION_COLUMNS = ("config_label", "ops_checked", *ANOMALY_COLUMNS, "verdict")
# What the run's actors did (compactor, GC, independent clients, clock skew, crashes,
# multi-key transactions and their deletes, range scans): STEM_actors.csv, not drawn.
ACTOR_COLUMNS = (
    "compactions", "compaction_errors", "segments_deleted", "checkpoints_deleted",
    "manifests", "pinned_reads", "pinned_read_errors", "pinned_oldest_ms", "clock_skew_ms",
    "crashes", "multi_key_txns", "deletes", "range_scans",
)
ACTORS_FILE_COLUMNS = ("config_label", *ACTOR_COLUMNS)
HOST_COLUMNS = (
    "config_label", "probe_lag_p50_ms", "probe_lag_p99_ms", "probe_lag_max_ms",
    "process_cpu_pct", "s3_in_flight_max", "host",
)
# The one place the expected headers live; tests_py/result_headers.json must match.
RESULT_HEADERS = {
    "main": EXPECTED_COLUMNS,
    "timeline": TIMELINE_COLUMNS,
    "events": EVENTS_COLUMNS,
    "verification": VERIFICATION_COLUMNS,
    "actors": ACTORS_FILE_COLUMNS,
    "host": HOST_COLUMNS,
}

BASELINE_LABEL = "baseline"
DPI = 300
CHAOS_FIGSIZE = (20, 12)
PASS_COLOR = "#43a047"
FAIL_COLOR = "#e53935"
UNKNOWN_COLOR = "#ffb300"
INVALID_COLOR = "#8e24aa"
OTHER_VERDICT_COLOR = "#9e9e9e"
FOOTER_COLOR = "#616161"

# Verdict states: PASS and FAIL stand alone, UNKNOWN and INVALID carry a reason
# ("UNKNOWN: <reason>"); any other verdict string is UNRECOGNISED.
PASS, FAIL, UNKNOWN, INVALID = "PASS", "FAIL", "UNKNOWN", "INVALID"
UNRECOGNISED = "unrecognised"
VERDICT_COLORS = {
    PASS: PASS_COLOR, FAIL: FAIL_COLOR, UNKNOWN: UNKNOWN_COLOR,
    INVALID: INVALID_COLOR, UNRECOGNISED: OTHER_VERDICT_COLOR,
}
REASON_WIDTH = 80  # characters per line of an UNKNOWN/INVALID reason in chart 9

# Host states of STEM_host.csv: a saturated host makes a scenario's figures describe
# the machine, so such scenarios are marked wherever they appear.
HOST_OK, HOST_SATURATED = "OK", "HOST-SATURATED"
HOST_STATES = (HOST_OK, HOST_SATURATED)
HOST_FLAG = f"({HOST_SATURATED})"           # scenario-axis marker
HOST_LEGEND_SUFFIX = " (host saturated)"     # chart 8 legend entry
SATURATED_LINESTYLE = "--"
NORMAL_LINESTYLE = "-"

# Chart 8: commits per second averaged over a trailing window of this many seconds.
ROLLING_WINDOW_S = 5

# STEM_run.json: the keys the footer shows and the type each must have.
RUN_INFO_TYPES = {"seed": int, "git_revision": str, "build_profile": str, "backend": str}
JSON_TYPE_NAMES = {int: "integer", str: "string"}
BUILD_PROFILES = ("release", "debug")
REVISION_CHARS = 12
DIRTY_SUFFIX = "-dirty"

CARGO_TEST = ("cargo test --release -p fusio-manifest-chaos --test performance_test"
              " {test} -- --ignored --nocapture")
TEST_BY_STEM = {
    "chaos_sweep": "test_chaos_sweep",
    "comprehensive_sweep": "test_comprehensive_sweep",
    "test_baseline": "test_baseline",
    "fault_sweep": "test_fault_sweep",
}

# Filled by import_plotting_modules(): the heavy imports wait until the
# arguments are parsed so that a missing package gives a one-line hint.
np = pd = plt = sns = None


class InputError(Exception):
    """An input or usage problem: one line on stderr, exit code 2."""


# --------------------------------------------------------------------------
# Messages, arguments and input checks (standard library only)
# --------------------------------------------------------------------------

def regenerate_hint(stem):
    """How to regenerate the CSV whose file stem is ``stem``."""
    test = TEST_BY_STEM.get(stem)
    if test is None:
        generic = CARGO_TEST.format(test="<test_name>")
        return f"regenerate it with the matching performance test: {generic}"
    return f"regenerate it with: {CARGO_TEST.format(test=test)}"


def run_folder(csv_path):
    """``DIR/STEM.csv`` -> ``DIR/STEM``: the folder holding the rest of the run's files."""
    return csv_path.parent / csv_path.stem


def sidecar_path(csv_path, kind):
    """``DIR/STEM.csv`` -> ``DIR/STEM/STEM_<kind>.csv``."""
    return run_folder(csv_path) / f"{csv_path.stem}_{kind}.csv"


def legacy_sidecar_path(csv_path, kind):
    """Where older harness versions put the sidecar: ``DIR/STEM_<kind>.csv``."""
    return csv_path.with_name(f"{csv_path.stem}_{kind}.csv")


def run_info_path(csv_path):
    """``DIR/STEM.csv`` -> ``DIR/STEM/STEM_run.json`` (seed, revision, build, backend)."""
    return run_folder(csv_path) / f"{csv_path.stem}_run.json"


def sidecar_problem_message(csv_path, kind, problem):
    """Two lines for a chart cell (and stderr) when a sidecar of ``csv_path`` is unusable."""
    path = sidecar_path(csv_path, kind)
    return f"{path} {problem}.\n{regenerate_hint(csv_path.stem).capitalize()}"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Plot fusio-manifest performance / chaos-test CSV results.",
        epilog="Modes: --chaos -> chaos figure; PARAM -> single sweep; "
               "otherwise the comprehensive figure. See the module docstring "
               "for what each chart shows.",
    )
    parser.add_argument("csv", type=Path, help="results CSV written by the Rust harness")
    parser.add_argument("param", nargs="?", metavar="PARAM",
                        help="column to plot a single sweep against")
    parser.add_argument("title", nargs="?", metavar="TITLE",
                        help="title of the single sweep figure")
    parser.add_argument("--chaos", action="store_true",
                        help="plot a chaos (or fault) sweep: one row per scenario")
    parser.add_argument("--output", type=Path, metavar="PATH",
                        help="PNG to write (default: the CSV path with .png)")
    args = parser.parse_intermixed_args(argv)  # options may come before PARAM
    if args.chaos and args.param is not None:
        parser.error("--chaos takes no PARAM or TITLE")
    return args


def check_main_csv(path):
    """Validate existence, emptiness and header of the main CSV; return the header."""
    hint = regenerate_hint(path.stem)
    if not path.is_file():
        raise InputError(f"{path}: file not found; {hint}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes); {hint}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = csv.reader(handle)
            header = [cell.strip() for cell in next(rows, [])]
            has_data = any(any(cell.strip() for cell in row) for row in rows)
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc}); {hint}") from None
    if not any(header):
        raise InputError(f"{path}: file has no header and no data; {hint}")
    missing = [column for column in EXPECTED_COLUMNS if column not in header]
    if missing:
        raise InputError(
            f"{path}: missing {len(missing)} expected column(s): {', '.join(missing)}"
            f" (older harness output?); {hint}")
    if not has_data:
        raise InputError(f"{path}: has a header but no data rows; {hint}")
    return header


def check_param(param, header):
    if param not in header:
        raise InputError(f"unknown PARAM '{param}'; valid columns: {', '.join(header)}")


def import_plotting_modules():
    global np, pd, plt, sns
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
        import numpy
        import pandas
        import seaborn
    except ImportError as exc:
        package = exc.name or str(exc)
        raise InputError(
            f"missing Python package '{package}': run pip install -r requirements.txt"
            f" (requirements.txt is in {Path(__file__).resolve().parent})") from None
    np, pd, plt, sns = numpy, pandas, pyplot, seaborn


# --------------------------------------------------------------------------
# Loading with pandas
# --------------------------------------------------------------------------

def to_numeric_columns(frame, columns):
    """Convert ``columns`` to numbers; return the first column that will not convert."""
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().sum() > frame[column].isna().sum():
            return column
        frame[column] = values
    return None


def load_main_csv(path):
    try:
        frame = pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, ValueError) as exc:
        first_line = str(exc).splitlines()[0]
        raise InputError(f"{path}: malformed CSV ({first_line}); "
                         f"{regenerate_hint(path.stem)}") from None
    frame.columns = [str(column).strip() for column in frame.columns]
    frame["config_label"] = frame["config_label"].astype(str).str.strip()
    bad = to_numeric_columns(frame, EXPECTED_COLUMNS[1:])
    if bad is not None:
        raise InputError(f"{path}: column {bad} holds non-numeric values; "
                         f"{regenerate_hint(path.stem)}")
    return frame


def read_sidecar(path, columns, numeric):
    """Return ``(frame, None)`` or ``(None, problem)`` for one sidecar file."""
    if not path.is_file():
        return None, "is missing"
    try:
        frame = pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        return None, f"is unreadable ({str(exc).splitlines()[0]})"
    frame.columns = [str(column).strip() for column in frame.columns]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        return None, f"is unreadable (missing columns: {', '.join(missing)})"
    if frame.empty:
        return None, "has no data rows (header only)"
    bad = to_numeric_columns(frame, numeric)
    if bad is not None:
        return None, f"is unreadable (non-numeric values in {bad})"
    for column in columns:
        if column not in numeric:  # an empty cell becomes "", not NaN
            frame[column] = frame[column].fillna("").astype(str).str.strip()
    return frame, None


def load_sidecar(csv_path, kind, columns, numeric):
    """Read ``STEM/STEM_<kind>.csv``; return ``(frame, None)`` or ``(None, message)``.

    An unusable sidecar is reported on stderr, never fatal.  A sidecar found
    only where older harness versions wrote it is not read, but named.
    """
    frame, problem = read_sidecar(sidecar_path(csv_path, kind), columns, numeric)
    if problem is None:
        return frame, None
    legacy = legacy_sidecar_path(csv_path, kind)
    if problem == "is missing" and legacy.is_file():
        problem += (f" ({legacy.name} beside {csv_path.name} is from an older harness"
                    f" layout and is not read)")
    message = sidecar_problem_message(csv_path, kind, problem)
    print(f"⚠️  {message.replace(chr(10), ' ')}", file=sys.stderr)
    return None, message


def unknown_host_values(host):
    """``(config_label, host)`` of the rows of a host frame whose ``host`` is neither
    ``OK`` nor ``HOST-SATURATED`` (compared exactly, after trimming blanks)."""
    return [(label, value) for label, value in zip(host["config_label"], host["host"])
            if value not in HOST_STATES]


def host_sidecar_problem(host):
    """Why a host frame (header and numbers already checked) is unusable, or None."""
    unknown = unknown_host_values(host)
    if not unknown:
        return None
    found = ", ".join(f"'{value}' for scenario '{label}'" for label, value in unknown)
    return (f"has unknown host value(s): {found} "
            f"(expected {' or '.join(HOST_STATES)})")


def host_sidecar_note(path, problem):
    """The one stderr line about an absent or unusable ``STEM_host.csv``."""
    if problem == "is missing":
        return (f"note: {path} is missing (runs of older harness versions have none):"
                f" no scenario is marked {HOST_SATURATED}")
    return (f"⚠️  {path} {problem}: the file is ignored, no scenario is marked"
            f" {HOST_SATURATED}")


def load_host_sidecar(csv_path):
    """Read ``STEM/STEM_host.csv``; return its frame, or None with one line on stderr.

    A missing file is normal (older runs); a malformed one (wrong header,
    non-numeric measurements, unknown ``host`` value) is named and ignored.
    Neither is fatal.
    """
    path = sidecar_path(csv_path, "host")
    host, problem = read_sidecar(path, HOST_COLUMNS, HOST_COLUMNS[1:-1])
    if problem is None:
        problem = host_sidecar_problem(host)
    if problem is not None:
        print(host_sidecar_note(path, problem), file=sys.stderr)
        return None
    return host


def saturated_scenarios(host):
    """Scenarios (file order, once each) whose host is ``HOST-SATURATED``; none
    without a usable host frame."""
    if host is None:
        return []
    rows = host[host["host"] == HOST_SATURATED]
    return list(dict.fromkeys(rows["config_label"]))


def saturation_note(scenarios, saturated):
    """Figure-level note on the scenarios that ran on a saturated host, or None if none did."""
    saturated = set(saturated)
    count = sum(1 for label in scenarios if label in saturated)
    if count == 0:
        return None
    return (f"{count} of {len(scenarios)} scenarios ran on a saturated host: "
            f"their figures describe the machine, not fusio-manifest")


# --------------------------------------------------------------------------
# Chart helpers
# --------------------------------------------------------------------------

def message_panel(ax, title, message):
    ax.set_title(title)
    ax.axis("off")
    # Long paths may break; the words of a command never do.
    wrapped = "\n".join(textwrap.fill(paragraph, width=70, break_on_hyphens=False)
                         for paragraph in message.splitlines())
    ax.text(0.5, 0.5, wrapped, transform=ax.transAxes, ha="center", va="center",
            fontsize=9, bbox={"boxstyle": "round", "fc": "#fff8e1", "ec": "#ffa000"})


def scenario_axis(ax, labels):
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right",
                  rotation_mode="anchor", fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def number_labels(values, fmt):
    return ["" if not math.isfinite(value) else fmt.format(value) for value in values]


def scenario_bars(ax, labels, values, colors, fmt):
    bars = ax.bar(range(len(labels)), values, color=colors)
    ax.bar_label(bars, labels=number_labels(values, fmt), fontsize=7, padding=2)
    ax.margins(y=0.15)
    scenario_axis(ax, labels)


def scenario_lines(ax, labels, data, series):
    """Plot ``(column, legend label, marker)`` series against the scenarios."""
    for column, legend, marker in series:
        ax.plot(range(len(labels)), data[column].to_numpy(), marker=marker,
                label=legend)
    ax.set_ylabel("latency (ms)")
    ax.legend(fontsize=8)
    scenario_axis(ax, labels)


def change_vs_baseline(values, base, unit):
    """Percent change against ``base``, or the plain difference when base is 0."""
    if base != 0:
        return (values - base) / abs(base) * 100, "% change vs baseline"
    return values - base, f"difference vs baseline ({unit})\nbaseline is 0: no % change"


def degradation_chart(ax, title, labels, values, base, unit, worse_if_positive):
    if not math.isfinite(base):
        message_panel(ax, title, "The baseline row has no value for this metric; "
                                 "degradation not computed.")
        return
    change, ylabel = change_vs_baseline(values, base, unit)
    worse = change > 0 if worse_if_positive else change < 0
    colors = np.where(worse, FAIL_COLOR, PASS_COLOR)
    scenario_bars(ax, labels, change, colors, "{:+.1f}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.use_sticky_edges = False  # leave room for value labels on both sides of 0
    ax.autoscale_view()
    ax.set_title(title)
    ax.set_ylabel(ylabel)


def scenario_colors(labels):
    """One distinct colour per scenario (tab10, or tab20 beyond ten scenarios)."""
    palette = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20").colors
    return {label: palette[index % len(palette)] for index, label in enumerate(labels)}


def ordered(labels, order):
    """``labels`` (unique) sorted by position in ``order``, unknown ones last."""
    unique = list(dict.fromkeys(labels))
    rank = {label: index for index, label in enumerate(order)}
    return sorted(unique, key=lambda label: rank.get(label, len(rank)))


# --------------------------------------------------------------------------
# Chaos figure
# --------------------------------------------------------------------------

def block_windows(events, label, end_s):
    """``(start_s, end_s)`` network-block windows of one scenario."""
    rows = events[events["config_label"] == label].sort_values("t_ms", kind="stable")
    windows, start = [], None
    for t_ms, event in zip(rows["t_ms"], rows["event"]):
        if event == "block_start" and start is None:
            start = t_ms / 1000
        elif event == "block_end" and start is not None:
            windows.append((start, t_ms / 1000))
            start = None
    if start is not None:
        windows.append((start, end_s))
    return windows


def rolling_rate(seconds, counts, window=ROLLING_WINDOW_S):
    """Trailing ``window``-second mean of per-second ``counts``: ``(seconds, rates)``.

    The rate of second ``t`` is the sum of the counts of the seconds
    ``t - window + 1 .. t`` divided by how many of those seconds the timeline
    has: a full window divides by ``window``, the first seconds of a scenario
    by the seconds there are so far, so the line starts at the right level.
    Rows repeating a second are added up; a row with no second or no count
    (NaN) is not a second the timeline has.  ``seconds`` comes back sorted.
    """
    if window < 1:
        raise ValueError(f"rolling window must be at least 1 s, not {window}")
    totals = {}
    for second, count in zip(seconds, counts):
        if math.isfinite(second) and math.isfinite(count):
            totals[second] = totals.get(second, 0) + count
    ordered_seconds = sorted(totals)
    rates, first, total = [], 0, 0
    for last, second in enumerate(ordered_seconds):
        total += totals[second]
        while ordered_seconds[first] <= second - window:  # fell out of the window
            total -= totals[ordered_seconds[first]]
            first += 1
        rates.append(total / (last - first + 1))
    return ordered_seconds, rates


def timeline_style(label, saturated):
    """Line style and legend entry of a scenario in chart 8: dashed and
    "(host saturated)" for a scenario that ran on a saturated host."""
    if label in saturated:
        return {"linestyle": SATURATED_LINESTYLE, "label": label + HOST_LEGEND_SUFFIX}
    return {"linestyle": NORMAL_LINESTYLE, "label": label}


def plot_timeline(ax, timeline, events, events_problem, colors, saturated=()):
    title = "Throughput Over Time"
    labels = ordered(timeline["config_label"], list(colors))
    colors = scenario_colors(ordered([*colors, *labels], list(colors)))
    peak = 0
    for label in labels:
        rows = timeline[timeline["config_label"] == label].sort_values("second")
        seconds, rates = rolling_rate(rows["second"], rows["commits"])
        # Each rate covers the window ending with its second: draw it at that end.
        ax.plot([second + 1 for second in seconds], rates, color=colors[label],
                linewidth=1.2, **timeline_style(label, saturated))
        peak = max([peak, *rates])
        if events is None:
            continue
        end_s = rows["second"].max() + 1
        for index, (start, end) in enumerate(block_windows(events, label, end_s)):
            ax.axvspan(start, end, color=colors[label], alpha=0.2,
                       label=f"network block ({label})" if index == 0 else None)
    xlabel = "seconds since scenario start"
    if events_problem is not None:
        xlabel += f"\nNo block shading: {events_problem}"
    ax.set_title(title)
    ax.set_xlabel(xlabel, fontsize=None if events_problem is None else 7)
    ax.set_ylabel(f"commits/s (rolling {ROLLING_WINDOW_S} s)")
    ax.grid(alpha=0.3)
    ax.set_ylim(0, peak * 1.5 if peak > 0 else 1)  # headroom for the legend
    ax.legend(fontsize=6.5, ncol=3, loc="upper center")


def anomaly_summary(row):
    """Suffix of a verification bar's text: the non-zero anomaly counts on a second line."""
    found = [f"{name}={int(row[name])}" for name in ANOMALY_COLUMNS
             if math.isfinite(row[name]) and row[name] != 0]
    return "\n" + ", ".join(found) if found else " · no anomalies"


def parse_verdict(verdict):
    """``(state, reason)`` of a verdict string; state is one of ``VERDICT_COLORS``.

    ``PASS``/``FAIL`` have no reason, ``UNKNOWN: <reason>`` and
    ``INVALID: <reason>`` need a non-empty one.  Anything else is
    ``(UNRECOGNISED, <the verdict as written>)``.
    """
    text = str(verdict).strip()
    if text in (PASS, FAIL):
        return text, ""
    state, colon, reason = text.partition(":")
    if colon and state.strip() in (UNKNOWN, INVALID) and reason.strip():
        return state.strip(), reason.strip()
    return UNRECOGNISED, text


def verdict_color(verdict):
    """Bar colour of a verdict: PASS green, FAIL red, UNKNOWN amber, INVALID purple,
    unrecognised grey."""
    return VERDICT_COLORS[parse_verdict(verdict)[0]]


def verdict_flag(verdict):
    """Scenario-axis marker of a verdict that leaves the scenario's figures in doubt, or None."""
    state, reason = parse_verdict(verdict)
    if state == INVALID:
        return f"({INVALID}: {reason})"
    if state == UNKNOWN:
        return f"({UNKNOWN})"
    if state == UNRECOGNISED:
        return "(unrecognised verdict)"
    return None


def flagged_scenarios(verification):
    """``{config_label: axis marker}`` of the scenarios with an UNKNOWN, INVALID or
    unrecognised verdict (empty without a sidecar)."""
    if verification is None:
        return {}
    flags = {}
    for label, verdict in zip(verification["config_label"], verification["verdict"]):
        flag = verdict_flag(verdict)
        if flag is not None and flag not in flags.get(label, []):
            flags.setdefault(label, []).append(flag)
    return {label: "\n".join(found) for label, found in flags.items()}


def shown_labels(labels, flags, saturated=()):
    """Scenario axis labels: flagged scenarios (``flags``, see ``flagged_scenarios``)
    and those that ran on a saturated host (``saturated``) say so wherever they appear,
    the verdict marker first."""
    saturated = set(saturated)
    shown = []
    for label in labels:
        lines = [label]
        if label in flags:
            lines.append(flags[label])
        if label in saturated:
            lines.append(HOST_FLAG)
        shown.append("\n".join(lines))
    return shown


def unrecognised_verdict_notes(verification, path):
    """One stderr line per verification row whose verdict is not one of the known states."""
    notes = []
    for label, verdict in zip(verification["config_label"], verification["verdict"]):
        state, text = parse_verdict(verdict)
        if state == UNRECOGNISED:
            notes.append(
                f"⚠️  {path}: scenario '{label}' has an unrecognised verdict '{text}' "
                f"(expected {PASS}, {FAIL}, '{UNKNOWN}: <reason>' or '{INVALID}: <reason>');"
                f" drawn grey and marked '(unrecognised verdict)'")
    return notes


def verification_text(row, saturated=()):
    """Text on a verification bar: scenario (marked if it ran on a saturated host),
    verdict, ops checked, reason, anomalies."""
    state, reason = parse_verdict(row["verdict"])
    ops = number_labels([row["ops_checked"]], "{:,.0f}")[0] or "?"
    shown = f"unrecognised verdict '{reason}'" if state == UNRECOGNISED else state
    name = row["config_label"]
    if name in saturated:
        name += f" {HOST_FLAG}"
    text = f"{name}: {shown} · {ops} ops"
    if reason and state != UNRECOGNISED:
        text += "\n" + textwrap.fill(
            textwrap.shorten(reason, width=2 * REASON_WIDTH, placeholder=" …"),
            width=REASON_WIDTH)
    return text + anomaly_summary(row)


def plot_verification(ax, verification, order, saturated=()):
    rank = {label: index for index, label in enumerate(order)}
    rows = verification.sort_values(
        "config_label",
        key=lambda names: names.map(lambda name: rank.get(name, len(rank))), kind="stable")
    states = [parse_verdict(verdict)[0] for verdict in rows["verdict"]]
    positions = range(len(rows))
    ax.barh(positions, rows["ops_checked"], color=[VERDICT_COLORS[s] for s in states],
            alpha=0.85)
    for position, (_, row) in zip(positions, rows.iterrows()):
        ax.text(0.01, position, verification_text(row, saturated),
                transform=ax.get_yaxis_transform(),
                va="center", fontsize=7.5, fontweight="bold")
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel("operations checked")
    ax.set_title("Isolation Verification")
    shown = [state for state in VERDICT_COLORS if state != UNRECOGNISED or state in states]
    handles = [plt.Rectangle((0, 0), 1, 1, color=VERDICT_COLORS[state]) for state in shown]
    ax.legend(handles, [f"{state} ({states.count(state)})" for state in shown],
              fontsize=7, ncol=len(shown), loc="upper center", bbox_to_anchor=(0.5, -0.16))


def plot_retry(ax, labels, data):
    positions = np.arange(len(labels))
    width = 0.4
    for offset, column, color, legend in (
            (-width / 2, "retry_success_rate", PASS_COLOR, "retry success rate"),
            (width / 2, "retry_failure_rate", FAIL_COLOR, "retry failure rate")):
        values = data[column].to_numpy() * 100
        bars = ax.bar(positions + offset, values, width, color=color, label=legend)
        ax.bar_label(bars, labels=number_labels(values, "{:.0f}"), fontsize=6.5, padding=1)
    ax.set_ylim(0, 125)
    ax.set_title("Retry Effectiveness Analysis")
    ax.set_ylabel("rate (%)")
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    scenario_axis(ax, labels)


def plot_chaos(frame, csv_path):
    data = frame.groupby("config_label", sort=False).mean(numeric_only=True)
    scenarios = list(data.index)
    colors = scenario_colors(scenarios)
    bar_colors = [colors[label] for label in scenarios]
    verification, verification_problem = load_sidecar(
        csv_path, "verification", VERIFICATION_COLUMNS, VERIFICATION_COLUMNS[1:-1])
    if verification is not None:
        for note in unrecognised_verdict_notes(verification,
                                               sidecar_path(csv_path, "verification")):
            print(note, file=sys.stderr)
    saturated = saturated_scenarios(load_host_sidecar(csv_path))
    labels = shown_labels(scenarios, flagged_scenarios(verification), saturated)
    failure_pct = data["precondition_failure_rate"].to_numpy() * 100
    tps = data["write_tps"].to_numpy()

    fig, axes = plt.subplots(3, 3, figsize=CHAOS_FIGSIZE, layout="constrained")
    title = f"fusio-manifest chaos sweep: {csv_path.name} ({len(scenarios)} scenarios)"
    note = saturation_note(scenarios, saturated)
    fig.suptitle(title if note is None else f"{title}\n{note}", fontsize=14)
    (ax_fail, ax_tps, ax_wlat), (ax_fdeg, ax_tdeg, ax_rlat), (ax_retry, ax_time, ax_ver) = axes

    scenario_bars(ax_fail, labels, failure_pct, bar_colors, "{:.1f}%")
    ax_fail.set_title("Failure Rate Under Chaos")
    ax_fail.set_ylabel("precondition failure rate (%)")

    scenario_bars(ax_tps, labels, tps, bar_colors, "{:.1f}")
    ax_tps.set_title("Write Throughput Under Chaos")
    ax_tps.set_ylabel("write TPS")

    scenario_lines(ax_wlat, labels, data, [("write_p50_ms", "p50", "o"),
                                           ("write_p95_ms", "p95", "s"),
                                           ("write_p99_ms", "p99", "^")])
    ax_wlat.set_title("Write Latency Distribution")

    if BASELINE_LABEL in data.index:
        base = data.loc[BASELINE_LABEL]
        degradation_chart(ax_fdeg, "Failure Rate Degradation vs Baseline", labels,
                          failure_pct, base["precondition_failure_rate"] * 100,
                          "percentage points", worse_if_positive=True)
        degradation_chart(ax_tdeg, "TPS Degradation vs Baseline", labels, tps,
                          base["write_tps"], "TPS", worse_if_positive=False)
    else:
        message = (f"No '{BASELINE_LABEL}' row in {csv_path.name}: degradation vs "
                   f"baseline not computed.")
        message_panel(ax_fdeg, "Failure Rate Degradation vs Baseline", message)
        message_panel(ax_tdeg, "TPS Degradation vs Baseline", message)

    scenario_lines(ax_rlat, labels, data, [("read_p50_ms", "p50", "o"),
                                           ("read_p99_ms", "p99", "^")])
    ax_rlat.set_title("Read Latency Distribution")

    plot_retry(ax_retry, labels, data)

    required = [column for column in TIMELINE_COLUMNS if column not in TIMELINE_OPTIONAL]
    timeline, timeline_problem = load_sidecar(csv_path, "timeline", required, required[1:])
    if timeline is None:
        message_panel(ax_time, "Throughput Over Time", timeline_problem)
    else:
        events, events_problem = load_sidecar(csv_path, "events", EVENTS_COLUMNS, ("t_ms",))
        plot_timeline(ax_time, timeline, events, events_problem, colors, saturated)

    if verification is None:
        message_panel(ax_ver, "Isolation Verification", verification_problem)
    else:
        plot_verification(ax_ver, verification, scenarios, saturated)
    return fig


# --------------------------------------------------------------------------
# Comprehensive and single sweep figures
# --------------------------------------------------------------------------

def varying_params(frame):
    return [param for param in SWEEP_PARAMS if frame[param].nunique() > 1]


def influence_on_tps(frame, params):
    """Range of the mean write_tps across each parameter's values, largest first."""
    spans = {param: np.ptp(frame.groupby(param)["write_tps"].mean().to_numpy())
             for param in params}
    return pd.Series(spans, dtype=float).sort_values(ascending=False, kind="stable")


def plot_comprehensive(frame, csv_path):
    params = varying_params(frame)
    if not params:
        raise InputError(
            f"{csv_path}: none of {', '.join(SWEEP_PARAMS)} varies across its "
            f"{len(frame)} row(s); use --chaos to compare the rows by config_label, "
            f"or pass PARAM for a single sweep")
    frame = frame.assign(failure_pct=frame["precondition_failure_rate"] * 100)
    ncols = max(len(params), 2)
    fig = plt.figure(figsize=(max(4 * ncols, 12), 13), layout="constrained")
    grid = fig.add_gridspec(3, ncols)
    fig.suptitle(f"fusio-manifest comprehensive sweep: {csv_path.name} ({len(frame)} runs; "
                 f"points = mean over the other parameters, bars = std dev)", fontsize=14)
    for column, param in enumerate(params):
        for row, (y, ylabel, color) in enumerate((
                ("failure_pct", "precondition failure rate (%)", FAIL_COLOR),
                ("write_tps", "write TPS", "#1e88e5"))):
            ax = fig.add_subplot(grid[row, column])
            sns.pointplot(data=frame, x=param, y=y, errorbar="sd", capsize=0.15,
                          color=color, ax=ax)
            ax.set_title(f"{ylabel.split(' (')[0]} vs {param}", fontsize=10)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)

    influence = influence_on_tps(frame, params)
    split = ncols // 2
    ax_rank = fig.add_subplot(grid[2, :split])
    bars = ax_rank.barh(influence.index, influence.to_numpy(), color="#1e88e5")
    ax_rank.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax_rank.invert_yaxis()
    ax_rank.set_title("Influence on write TPS (max - min of the per-value mean)")
    ax_rank.set_xlabel("write TPS range")
    ax_rank.grid(axis="x", alpha=0.3)

    ax_heat = fig.add_subplot(grid[2, split:])
    if len(influence) < 2:
        message_panel(ax_heat, "Write TPS heatmap",
                      "A heatmap needs at least two parameters that vary.")
    else:
        rows_param, cols_param = influence.index[:2]
        table = frame.pivot_table(index=rows_param, columns=cols_param,
                                  values="write_tps", aggfunc="mean")
        sns.heatmap(table, annot=True, fmt=".1f", cmap="viridis", ax=ax_heat,
                    cbar_kws={"label": "mean write TPS"})
        ax_heat.set_title(f"Mean write TPS: {rows_param} x {cols_param} "
                          f"(two most influential)")
    return fig


def plot_single(frame, param, title):
    numeric = pd.api.types.is_numeric_dtype(frame[param])
    # Group by the values (not the column name) so PARAM stays plottable itself.
    data = frame.select_dtypes("number").groupby(frame[param].to_numpy(), sort=numeric).mean()
    x = data.index.to_numpy() if numeric else data.index.astype(str).to_numpy()
    fig, axes = plt.subplots(2, 2, figsize=(14, 9), layout="constrained")
    subtitle = "" if len(data) == len(frame) else (
        f" (mean of {len(frame)} rows over {len(data)} values)")
    fig.suptitle(title + subtitle, fontsize=14)
    panels = (  # title, y label, [(column, legend, scale, colour)]
        ("Write throughput", "write TPS", [("write_tps", "write TPS", 1, "#1e88e5")]),
        ("Precondition failure rate", "failure rate (%)",
         [("precondition_failure_rate", "failure rate", 100, FAIL_COLOR)]),
        ("Write latency", "latency (ms)",
         [("write_p50_ms", "p50", 1, "#1e88e5"), ("write_p99_ms", "p99", 1, "#fb8c00")]),
        ("Retry rates", "rate (%)",
         [("retry_success_rate", "retry success rate", 100, PASS_COLOR),
          ("retry_failure_rate", "retry failure rate", 100, FAIL_COLOR)]),
    )
    for ax, (panel_title, ylabel, series) in zip(axes.ravel(), panels):
        for column, legend, scale, color in series:
            ax.plot(x, data[column].to_numpy() * scale, marker="o", label=legend,
                    color=color)
        ax.set_title(f"{panel_title} vs {param}")
        ax.set_xlabel(param)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if numeric and len(x) <= 12:
            ax.set_xticks(x)
        elif not numeric:
            plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    return fig


# --------------------------------------------------------------------------
# Provenance footer
# --------------------------------------------------------------------------

def run_info_problem(info):
    """Why a parsed ``STEM_run.json`` cannot give the footer, or None if it can."""
    if not isinstance(info, dict):
        return f"top level is a JSON {type(info).__name__}, not an object"
    for key, kind in RUN_INFO_TYPES.items():
        if key not in info:
            return f"no '{key}' key"
        value = info[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            shown = textwrap.shorten(json.dumps(value), width=40, placeholder="…")
            return f"'{key}' is {shown}, not a JSON {JSON_TYPE_NAMES[kind]}"
        if kind is str and not value.strip():
            return f"'{key}' is empty"
    if info["build_profile"] not in BUILD_PROFILES:
        return (f"'build_profile' is {json.dumps(info['build_profile'])}, "
                f"not {' or '.join(BUILD_PROFILES)}")
    return None


def read_run_info(path):
    """Return ``(run_info, None)`` or ``(None, "missing" | "unreadable (<why>)")``."""
    if not path.is_file():
        return None, "missing"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad UTF-8 or bad JSON
        return None, f"unreadable ({str(exc).splitlines()[0]})"
    why = run_info_problem(info)
    if why is not None:
        return None, f"unreadable ({why})"
    return info, None


def short_revision(revision):
    """The first ``REVISION_CHARS`` characters of a revision, keeping a ``-dirty`` suffix."""
    if revision.endswith(DIRTY_SUFFIX):
        return revision[:-len(DIRTY_SUFFIX)][:REVISION_CHARS] + DIRTY_SUFFIX
    return revision[:REVISION_CHARS]


def provenance_footer(run_info, problem, path):
    """Footer text of a figure: ``run_info`` from ``read_run_info``, or its ``problem``."""
    if problem is not None:
        return f"provenance: {path} {problem}"
    return (f"seed {run_info['seed']} · rev {short_revision(run_info['git_revision'])}"
            f" · {run_info['build_profile']} · {run_info['backend']}")


def add_provenance_footer(fig, csv_path):
    """Draw the provenance footer of ``csv_path``'s run; warn on stderr if it has none."""
    path = run_info_path(csv_path)
    run_info, problem = read_run_info(path)
    text = provenance_footer(run_info, problem, path)
    if problem is not None:
        print(f"⚠️  {text}: the figure's footer says so; {regenerate_hint(csv_path.stem)}",
              file=sys.stderr)
    # A figure-level x label, so the constrained layout keeps room for it.
    footer = fig.supxlabel(text, x=0.995, ha="right", fontsize=7, color=FOOTER_COLOR)
    footer.set_gid("provenance_footer")
    return footer


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def png_size(path):
    with open(path, "rb") as handle:
        header = handle.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise InputError(f"{path}: written file is not a PNG")
    return struct.unpack(">II", header[16:24])


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_atomically(fig, output):
    """Save into a temporary file beside ``output``, then rename it over ``output``."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".png.tmp",
                                             dir=output.parent)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            fig.savefig(stream, dpi=DPI, format="png")
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run(args):
    header = check_main_csv(args.csv)
    if args.param is not None:
        check_param(args.param, header)
    output = args.output or args.csv.with_suffix(".png")
    if not output.parent.is_dir():
        raise InputError(f"cannot write {output}: directory {output.parent} does not exist")
    import_plotting_modules()
    frame = load_main_csv(args.csv)
    if args.chaos:
        fig = plot_chaos(frame, args.csv)
    elif args.param is not None:
        fig = plot_single(frame, args.param,
                          args.title or f"{args.csv.stem}: sweep over {args.param}")
    else:
        fig = plot_comprehensive(frame, args.csv)
    add_provenance_footer(fig, args.csv)
    save_atomically(fig, output)
    plt.close(fig)
    width, height = png_size(output)
    print(f"✅ Wrote {output} ({width}x{height} px)")


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
