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
Main CSV: the 24 columns of ``EXPECTED_COLUMNS``, one row per configuration
(``config_label``).  The rates ``precondition_failure_rate``,
``retry_failure_rate`` and ``retry_success_rate`` are fractions 0..1 and are
shown as percentages.

Optional sidecars beside ``DIR/STEM.csv`` (used by the chaos figure):

* ``STEM_timeline.csv``: config_label, second, commits,
  precondition_failures, write_errors, reads, s3_ops (per-second counts).
* ``STEM_events.csv``: config_label, t_ms, event, detail (t_ms counts from
  the scenario's start; ``block_start``/``block_end`` pairs delimit network
  blocks, other events are ignored).
* ``STEM_verification.csv``: scenario, ops_checked, the anomaly counts of
  ``ANOMALY_COLUMNS``, verdict (PASS, FAIL, or ``INVALID: harness fault`` when
  the harness itself failed during the run: such a scenario's figures say
  nothing about fusio-manifest, and every chart marks it).

A missing or unreadable sidecar never stops the plot: its chart cell names
the file and the command that produces it, and a warning goes to stderr.

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
8. Throughput Over Time: commits per second of each scenario from
   STEM_timeline.csv, network-block windows from STEM_events.csv shaded.
9. Isolation Verification: one bar per scenario from STEM_verification.csv,
   length = ops checked, green PASS / red FAIL / purple INVALID, annotated
   with the non-zero anomaly counts. Scenarios whose verdict is INVALID carry
   "(INVALID: harness fault)" in the scenario axis of every chart.

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
    "write_errors", "reads", "s3_ops",
)
EVENTS_COLUMNS = ("config_label", "t_ms", "event", "detail")
ANOMALY_COLUMNS = (
    "aborted_read", "lost_write", "lost_update", "duplicate_txn_id",
    "non_snapshot_read", "realtime_violation", "non_monotonic_read",
    "garbage_read", "duplicate_key", "txn_count_mismatch",
)
VERIFICATION_COLUMNS = ("scenario", "ops_checked", *ANOMALY_COLUMNS, "verdict")

BASELINE_LABEL = "baseline"
DPI = 300
CHAOS_FIGSIZE = (20, 12)
PASS_COLOR = "#43a047"
FAIL_COLOR = "#e53935"
INVALID_COLOR = "#8e24aa"
OTHER_VERDICT_COLOR = "#9e9e9e"
INVALID_PREFIX = "INVALID"

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


def sidecar_path(csv_path, kind):
    """``DIR/STEM.csv`` -> ``DIR/STEM_<kind>.csv``."""
    return csv_path.with_name(f"{csv_path.stem}_{kind}.csv")


def sidecar_problem_message(csv_path, kind, problem):
    """Two lines for a chart cell (and stderr) when a sidecar of ``csv_path`` is unusable."""
    name = sidecar_path(csv_path, kind).name
    return f"{name} {problem}.\n{regenerate_hint(csv_path.stem).capitalize()}"


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
        if column not in numeric:
            frame[column] = frame[column].astype(str).str.strip()
    return frame, None


def load_sidecar(csv_path, kind, columns, numeric):
    """Read ``STEM_<kind>.csv``; return ``(frame, None)`` or ``(None, message)``.

    An unusable sidecar is reported on stderr, never fatal.
    """
    frame, problem = read_sidecar(sidecar_path(csv_path, kind), columns, numeric)
    if problem is None:
        return frame, None
    message = sidecar_problem_message(csv_path, kind, problem)
    print(f"⚠️  {message.replace(chr(10), ' ')}", file=sys.stderr)
    return None, message


# --------------------------------------------------------------------------
# Chart helpers
# --------------------------------------------------------------------------

def message_panel(ax, title, message):
    ax.set_title(title)
    ax.axis("off")
    wrapped = "\n".join(textwrap.fill(paragraph, width=70, break_long_words=False,
                                       break_on_hyphens=False)
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


def plot_timeline(ax, timeline, events, events_problem, colors):
    title = "Throughput Over Time"
    labels = ordered(timeline["config_label"], list(colors))
    colors = scenario_colors(ordered([*colors, *labels], list(colors)))
    for label in labels:
        rows = timeline[timeline["config_label"] == label].sort_values("second")
        ax.plot(rows["second"], rows["commits"], drawstyle="steps-post",
                color=colors[label], linewidth=1.2, label=label)
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
    ax.set_ylabel("commits / s")
    ax.grid(alpha=0.3)
    peak = timeline["commits"].max()
    ax.set_ylim(0, peak * 1.5 if peak > 0 else 1)  # headroom for the legend
    ax.legend(fontsize=6.5, ncol=3, loc="upper center")


def anomaly_summary(row):
    """Suffix of a verification bar's text: the non-zero anomaly counts on a second line."""
    found = [f"{name}={int(row[name])}" for name in ANOMALY_COLUMNS
             if math.isfinite(row[name]) and row[name] != 0]
    return "\n" + ", ".join(found) if found else " · no anomalies"


def verdict_color(verdict):
    """Bar colour of a verdict: PASS green, FAIL red, INVALID purple, anything else grey."""
    if verdict == "PASS":
        return PASS_COLOR
    if verdict == "FAIL":
        return FAIL_COLOR
    if str(verdict).startswith(INVALID_PREFIX):
        return INVALID_COLOR
    return OTHER_VERDICT_COLOR


def invalid_scenarios(verification):
    """Scenarios whose verdict says the harness failed (empty without a sidecar)."""
    if verification is None:
        return set()
    verdicts = verification["verdict"].astype(str)
    return set(verification.loc[verdicts.str.startswith(INVALID_PREFIX), "scenario"])


def shown_labels(labels, invalid):
    """Scenario axis labels: INVALID scenarios say so wherever they appear."""
    return [f"{label}\n(INVALID: harness fault)" if label in invalid else label
            for label in labels]


def plot_verification(ax, verification, order):
    rank = {label: index for index, label in enumerate(order)}
    rows = verification.sort_values(
        "scenario", key=lambda names: names.map(lambda name: rank.get(name, len(rank))),
        kind="stable")
    colors = [verdict_color(verdict) for verdict in rows["verdict"]]
    positions = range(len(rows))
    ax.barh(positions, rows["ops_checked"], color=colors, alpha=0.85)
    for position, (_, row) in zip(positions, rows.iterrows()):
        ops = number_labels([row["ops_checked"]], "{:,.0f}")[0] or "?"
        ax.text(0.01, position, f"{row['scenario']}: {row['verdict']} · {ops} ops"
                                f"{anomaly_summary(row)}",
                transform=ax.get_yaxis_transform(), va="center", fontsize=7.5,
                fontweight="bold")
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel("operations checked")
    ax.set_title("Isolation Verification")
    counts = rows["verdict"].value_counts()
    invalid = int(rows["verdict"].astype(str).str.startswith(INVALID_PREFIX).sum())
    handles = [plt.Rectangle((0, 0), 1, 1, color=color)
               for color in (PASS_COLOR, FAIL_COLOR, INVALID_COLOR)]
    ax.legend(handles, [f"PASS ({counts.get('PASS', 0)})", f"FAIL ({counts.get('FAIL', 0)})",
                        f"INVALID: harness fault ({invalid})"],
              fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16))


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
    labels = shown_labels(scenarios, invalid_scenarios(verification))
    failure_pct = data["precondition_failure_rate"].to_numpy() * 100
    tps = data["write_tps"].to_numpy()

    fig, axes = plt.subplots(3, 3, figsize=CHAOS_FIGSIZE, layout="constrained")
    fig.suptitle(f"fusio-manifest chaos sweep: {csv_path.name} ({len(scenarios)} scenarios)",
                 fontsize=14)
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

    timeline, timeline_problem = load_sidecar(csv_path, "timeline", TIMELINE_COLUMNS,
                                              TIMELINE_COLUMNS[1:])
    if timeline is None:
        message_panel(ax_time, "Throughput Over Time", timeline_problem)
    else:
        events, events_problem = load_sidecar(csv_path, "events", EVENTS_COLUMNS, ("t_ms",))
        plot_timeline(ax_time, timeline, events, events_problem, colors)

    if verification is None:
        message_panel(ax_ver, "Isolation Verification", verification_problem)
    else:
        plot_verification(ax_ver, verification, scenarios)
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
