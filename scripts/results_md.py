#!/usr/bin/env python3
"""Markdown of saved runs: one section per run, every figure read from the run's files.

Usage
-----
    python3 scripts/results_md.py [DIR ...]                      # print the Markdown
    python3 scripts/results_md.py [DIR ...] --update RESULTS.md  # refresh its generated block

DIR is an output directory of the harness (the workspace root unless ``CHAOS_OUTPUT_DIR`` was
set; without DIR the script reads ``CHAOS_OUTPUT_DIR``, else the workspace root), or one run
folder ``DIR/STEM/``.  Several directories may be given; each run appears once, oldest first.

What it reads, per run named STEM in DIR (``fusio-manifest/src/results.rs`` names the files):

* ``DIR/STEM/STEM_run.json`` (``provenance::RunRecord``): stem, started_at, ended_at, seed,
  git_revision, build_profile, time (and sim_store), backend, s3_profile,
  fusio_manifest_version, fusio_manifest_source, harness_version, host_cores, replay, and
  scenarios[] (label, seed, digest in simulated time).  A folder of DIR that holds the run's
  files (``STEM.csv`` beside it, or files named ``STEM_*`` / ``STEM.*`` in it) but no
  ``STEM_run.json`` is an error: it is written last, so the run crashed or the folder is
  older than provenance.
* ``DIR/STEM.csv`` (``metrics::MetricsSummary``): per scenario the columns of
  ``SUMMARY_COLUMNS``, the plan's summary table (``console::print_summary_table``) plus write
  p50 and read p99, rounded as the console rounds them.  A scenario listed in run.json
  without a row here produced no result.
* ``DIR/STEM/STEM_verification.csv`` (``checker::VerificationRow``): each scenario's verdict.
* ``DIR/STEM/STEM_host.csv`` (``host::HostRow``), if present (older runs lack it): ``OK`` or
  ``HOST-SATURATED``.
* ``DIR/STEM/STEM_verdicts.json`` (``verdicts``), if present: the chaos sweep's success
  criteria and retry verdicts, the fault sweep's liveness.  Other steps write none.

``--update FILE`` rewrites, atomically (temporary file in the same directory, then
``os.replace``), the text of FILE between the lines ``BEGIN`` and ``END`` below; the rest of
FILE stays as it is.  Bad input (a missing directory or file, malformed JSON or CSV, missing
columns or fields, markers missing) is reported as one line on stderr, exit code 2, and FILE
is left untouched.
"""

import argparse
import csv
import io
import json
import math
import os
import stat
import sys
import tempfile
from pathlib import Path

BEGIN = "<!-- generated: results_md.py BEGIN -->"
END = "<!-- generated: results_md.py END -->"
WORKSPACE = Path(__file__).resolve().parent.parent

# (column of STEM.csv, table header, scale, decimals): the plan's summary table as the
# console prints it (Failure%, WriteTPS, P99, RetrySucc%, RetryFail%) plus write p50 and
# read p99.  Rates are fractions in the CSV and percentages here.
SUMMARY_COLUMNS = (
    ("precondition_failure_rate", "failure %", 100.0, 2),
    ("write_tps", "write TPS", 1.0, 2),
    ("write_p50_ms", "write p50 ms", 1.0, 1),
    ("write_p99_ms", "write p99 ms", 1.0, 1),
    ("read_p99_ms", "read p99 ms", 1.0, 1),
    ("retry_success_rate", "retry success %", 100.0, 1),
    ("retry_failure_rate", "retry failure %", 100.0, 1),
)
# Fields of STEM_run.json the section needs, and their JSON types.
RUN_FIELDS = {
    "stem": str, "replay": str, "seed": int, "scenarios": list, "time": str,
    "build_profile": str, "backend": str, "git_revision": str, "started_at": str,
    "ended_at": str,
}
# Shown when present (older harness versions lack some).
RUN_OPTIONAL = {
    "sim_store": str, "s3_profile": str, "fusio_manifest_version": str,
    "fusio_manifest_source": str, "harness_version": str, "host_cores": int,
}
RETRY_FIELDS = {
    "label": str, "verdict": str, "retry_success_pct": float, "retry_failure_pct": float,
    "max_retries_exceeded_pct": float, "precondition_failures": int, "suggestions": list,
}
CRITERION_FIELDS = {"number": int, "met": bool, "measured": str}
LIVENESS_FIELDS = {
    "no_commit_ms": int, "from_ms": int, "fault_window_ms": int, "far_longer": bool,
    "injected": dict,
}
INJECTED_FIELDS = {"transient": int, "ambiguous": int, "stalls": int, "refused": int}
RETRY_WORDS = {"no_retries": "no precondition failures"}
TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
              list: "a list", dict: "an object"}


class InputError(Exception):
    """Bad input: the message names the file and the fix."""


def rerun(stem):
    return (f"re-run the step (the replay line of {stem}/{stem}_run.json, or README "
            f"\"Run the main job\")")


# ------------------------------------------------------------------ reading files

def read_text(path, stem):
    """The file's text; a file that cannot be read or is not UTF-8 is an InputError."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: the file is damaged; {rerun(stem)}")
    except OSError as err:
        raise InputError(f"{path} cannot be read ({err.strerror}): check its permissions")


def load_json(path, stem):
    text = read_text(path, stem)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON (line {err.lineno} column {err.colno}: "
                         f"{err.msg}): it was cut off or edited; {rerun(stem)}")
    if not isinstance(value, dict):
        raise InputError(f"{path} holds a JSON {type(value).__name__}, not an object; "
                         f"{rerun(stem)}")
    return value


def is_type(value, kind):
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def fields(obj, wanted, path, where, stem):
    """``obj``'s fields ``wanted`` (name: type), checked; ``where`` says which object."""
    if not isinstance(obj, dict):
        raise InputError(f"{path}: {where} is not a JSON object; {rerun(stem)}")
    missing = [name for name in wanted if name not in obj]
    if missing:
        raise InputError(f"{path}: {where} lacks {', '.join(missing)}: it was written by another "
                         f"harness version or edited; {rerun(stem)} with this checkout")
    for name, kind in wanted.items():
        if not is_type(obj[name], kind):
            raise InputError(f"{path}: {where}'s {name} is {json.dumps(obj[name])}, not "
                             f"{TYPE_NAMES[kind]}; {rerun(stem)}")
    return obj


def read_csv(path, required, stem):
    """Rows of ``path`` as dicts; the header must hold ``required``."""
    if not path.is_file():
        raise InputError(f"{path} is missing (every run writes it before {stem}_run.json): put "
                         f"it back where the run wrote it, or {rerun(stem)}")
    text = read_text(path, stem)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise InputError(f"{path} is empty (no header): the file is damaged; {rerun(stem)}")
        missing = [column for column in required if column not in header]
        if missing:
            raise InputError(f"{path} lacks the column(s) {', '.join(missing)}: it was written by "
                             f"another harness version; {rerun(stem)} with this checkout")
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(f"{path} line {reader.line_num} has {len(row)} fields, the header "
                                 f"{len(header)}: the file is damaged; {rerun(stem)}")
            rows.append(dict(zip(header, row)))
    except csv.Error as err:
        raise InputError(f"{path} is not valid CSV (line {reader.line_num}: {err}): the file is "
                         f"damaged; {rerun(stem)}")
    return rows


def number(row, column, path, stem):
    try:
        return float(row[column])
    except ValueError:
        raise InputError(f"{path}: {column} of {row['config_label']!r} is {row[column]!r}, not a "
                         f"number: the file is damaged; {rerun(stem)}")


def by_label(rows, path, stem):
    table = {}
    for row in rows:
        if row["config_label"] in table:
            raise InputError(f"{path} has two rows for {row['config_label']!r}: files of two runs "
                             f"were mixed; {rerun(stem)}")
        table[row["config_label"]] = row
    return table


def looks_like_run(out, folder):
    stem = folder.name
    if (out / f"{stem}.csv").is_file():
        return True
    try:
        names = [child.name for child in folder.iterdir() if child.is_file()]
    except OSError:
        return False
    return any(name.startswith((f"{stem}_", f"{stem}.")) for name in names)


def find_runs(directory):
    """Run json paths in ``directory`` (an output directory, or one run folder)."""
    if not directory.exists():
        raise InputError(f"{directory}: no such directory; pass the output directory of a run "
                         f"(the workspace root, or the CHAOS_OUTPUT_DIR it ran with)")
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory; pass the output directory of a run "
                         f"(the one holding STEM.csv and STEM/)")
    own = directory / f"{directory.name}_run.json"
    if own.is_file():
        return [own]
    found = []
    for folder in sorted(child for child in directory.iterdir() if child.is_dir()):
        run_json = folder / f"{folder.name}_run.json"
        if run_json.is_file():
            found.append(run_json)
        elif looks_like_run(directory, folder):
            raise InputError(
                f"{folder} holds a run's files but no {folder.name}_run.json (written last: the "
                f"run crashed, or a harness older than provenance wrote it); {rerun(folder.name)}, "
                f"or move the folder out of {directory}")
    return found


def load_run(run_json):
    """Everything a run's section shows, read and checked."""
    folder = run_json.parent
    out, stem = folder.parent, folder.name
    record = fields(load_json(run_json, stem), RUN_FIELDS, run_json, "the record", stem)
    for name, kind in RUN_OPTIONAL.items():
        if name in record and record[name] is not None and not is_type(record[name], kind):
            raise InputError(f"{run_json}: {name} is {json.dumps(record[name])}, not "
                             f"{TYPE_NAMES[kind]}; {rerun(stem)}")
    if record["stem"] != stem:
        raise InputError(f"{run_json} names the run {record['stem']!r}, its folder {stem!r}: "
                         f"the file was moved; put it back in {record['stem']}/")
    for index, scenario in enumerate(record["scenarios"]):
        where = f"scenarios[{index}]"
        fields(scenario, {"label": str, "seed": int}, run_json, where, stem)
        if scenario.get("digest") is not None:
            fields(scenario["digest"], {"ops": int, "objects": int, "sha256": str}, run_json,
                   f"{where}.digest", stem)
    summary_path = out / f"{stem}.csv"
    summary = by_label(read_csv(summary_path, ["config_label"] + [c for c, *_ in SUMMARY_COLUMNS],
                                stem), summary_path, stem)
    verification_path = folder / f"{stem}_verification.csv"
    verification = by_label(read_csv(verification_path, ["config_label", "verdict"], stem),
                            verification_path, stem)
    host_path = folder / f"{stem}_host.csv"
    host = None
    if host_path.is_file():
        host = by_label(read_csv(host_path, ["config_label", "host"], stem), host_path, stem)
    labels = {scenario["label"] for scenario in record["scenarios"]}
    for path, table in ((summary_path, summary), (verification_path, verification),
                        (host_path, host or {})):
        strangers = sorted(set(table) - labels)
        if strangers:
            raise InputError(f"{path} has a row for {strangers[0]!r}, which {run_json.name} does not "
                             f"list: files of two runs were mixed; {rerun(stem)}")
    verdicts_path = folder / f"{stem}_verdicts.json"
    verdicts = None
    if verdicts_path.is_file():
        verdicts = check_verdicts(load_json(verdicts_path, stem), verdicts_path, stem)
    return {
        "stem": stem, "out": out, "record": record, "summary": summary,
        "summary_path": summary_path, "verification": verification, "host": host,
        "verdicts": verdicts, "run_json": run_json,
    }


def check_verdicts(verdicts, path, stem):
    if "criteria" not in verdicts and "retries" not in verdicts and "liveness" not in verdicts:
        raise InputError(f"{path} holds neither criteria, retries nor liveness: it was written by "
                         f"another harness version or edited; {rerun(stem)}")
    if "criteria" in verdicts or "retries" in verdicts:
        fields(verdicts, {"scenarios": int, "retries": list, "criteria": list, "saturated": list},
               path, "the verdicts", stem)
        for index, retry in enumerate(verdicts["retries"]):
            fields(retry, RETRY_FIELDS, path, f"retries[{index}]", stem)
        for index, criterion in enumerate(verdicts["criteria"]):
            fields(criterion, CRITERION_FIELDS, path, f"criteria[{index}]", stem)
        if not all(isinstance(label, str) for label in verdicts["saturated"]):
            raise InputError(f"{path}: the verdicts' saturated is "
                             f"{json.dumps(verdicts['saturated'])}, not a list of scenario labels; "
                             f"{rerun(stem)}")
    if "liveness" in verdicts:
        fields(verdicts, {"liveness": list}, path, "the verdicts", stem)
        for index, live in enumerate(verdicts["liveness"]):
            where = f"liveness[{index}]"
            fields(live, {"label": str, "judged": dict}, path, where, stem)
            judged = live["judged"]
            if "Ok" in judged:
                fields(judged["Ok"], LIVENESS_FIELDS, path, f"{where}.judged.Ok", stem)
                fields(judged["Ok"]["injected"], INJECTED_FIELDS, path,
                       f"{where}.judged.Ok.injected", stem)
            elif not isinstance(judged.get("Err"), str):
                raise InputError(f"{path}: {where}.judged is neither {{\"Ok\": ...}} nor "
                                 f"{{\"Err\": reason}}; {rerun(stem)}")
    return verdicts


# ------------------------------------------------------------------ rendering

def cell(value):
    """A table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def figure(value, scale, decimals):
    """``value`` times ``scale`` to ``decimals`` places, as the console's ``{:.N}`` prints it."""
    scaled = value * scale
    if math.isnan(scaled):
        return "NaN"
    if math.isinf(scaled):
        return "inf" if scaled > 0 else "-inf"
    return f"{scaled:.{decimals}f}"


def scenario_rows(run):
    record, stem = run["record"], run["stem"]
    simulated = record["time"] == "simulated"
    rows = []
    for scenario in record["scenarios"]:
        label = scenario["label"]
        summary = run["summary"].get(label)
        verification = run["verification"].get(label)
        if verification:
            verdict = verification["verdict"]
        elif summary is None:
            verdict = f"no result (no row in {stem}.csv)"
        else:
            verdict = f"not in {stem}_verification.csv"
        row = [label, scenario["seed"], verdict]
        if run["host"] is not None:
            host = run["host"].get(label)
            row.append(host["host"] if host else
                       "" if summary is None else f"not in {stem}_host.csv")
        if summary is None:
            row += [""] * len(SUMMARY_COLUMNS)
        else:
            row += [figure(number(summary, column, run["summary_path"], stem), scale, decimals)
                    for column, _, scale, decimals in SUMMARY_COLUMNS]
        if simulated:
            digest = scenario.get("digest")
            row.append(f"sha256 {digest['sha256']} over {digest['ops']} ops, {digest['objects']} "
                       f"objects" if digest else "none")
        rows.append(row)
    return rows


def render_run(run):
    record, stem = run["record"], run["stem"]
    time = record["time"]
    if record.get("sim_store"):
        time += f" (store answers as {record['sim_store']})"
    backend = record["backend"]
    if record.get("s3_profile"):
        backend += f", latency profile {record['s3_profile']}"
    source = record.get("fusio_manifest_source") or "not recorded (older harness)"
    if record.get("fusio_manifest_version"):
        source += f"; resolved version {record['fusio_manifest_version']}"
    lines = [
        f"### {stem}, {record['started_at']}",
        "",
        f"- step: `{stem}`; started {record['started_at']}, results written {record['ended_at']}",
        f"- git revision: `{record['git_revision']}`"
        + (f"; harness {record['harness_version']}" if record.get("harness_version") else ""),
        f"- build profile: {record['build_profile']}; time: {time}"
        + (f"; host cores: {record['host_cores']}" if record.get("host_cores") is not None
           else ""),
        f"- backend: {backend}",
        f"- fusio-manifest: {source}",
        f"- run seed: {record['seed']}",
        "",
        "Replay:",
        "",
        "```bash",
        record["replay"],
        "```",
        "",
    ]
    header = ["scenario", "seed", "verdict"]
    if run["host"] is not None:
        header.append("host")
    header += [title for _, title, *_ in SUMMARY_COLUMNS]
    if time.startswith("simulated"):
        header.append("digest")
    if record["scenarios"]:
        lines += table(header, scenario_rows(run))
    else:
        lines.append(f"{stem}_run.json lists no scenario.")
    if run["host"] is None:
        lines += ["", f"No {stem}_host.csv (a harness older than host health): host state not "
                      f"recorded."]
    lines += [""] + render_verdicts(run)
    return "\n".join(lines).rstrip("\n") + "\n"


def render_verdicts(run):
    verdicts, stem = run["verdicts"], run["stem"]
    if verdicts is None:
        return [f"No {stem}_verdicts.json (only the chaos and fault sweeps save verdicts)."]
    lines = []
    if "criteria" in verdicts:
        lines += [f"Success criteria ({stem}_verdicts.json, {verdicts['scenarios']} scenarios):",
                  ""]
        lines += [f"- {'met' if c['met'] else 'NOT MET'}: {c['number']}. {cell(c['measured'])}"
                  for c in verdicts["criteria"]]
        if verdicts["saturated"]:
            lines.append(f"- host saturated in {len(verdicts['saturated'])}/"
                         f"{verdicts['scenarios']} scenarios ({', '.join(verdicts['saturated'])}): "
                         f"their figures (criteria 3-5) describe the machine")
        lines.append("")
    if "retries" in verdicts:
        lines += ["Retry verdicts:", ""]
        lines += table(
            ["scenario", "retry verdict", "retry success %", "retry failure %",
             "max retries exceeded %", "precondition failures", "suggestions"],
            [[r["label"], RETRY_WORDS.get(r["verdict"], r["verdict"]),
              figure(r["retry_success_pct"], 1.0, 1), figure(r["retry_failure_pct"], 1.0, 1),
              figure(r["max_retries_exceeded_pct"], 1.0, 1), r["precondition_failures"],
              "; ".join(map(str, r["suggestions"]))]
             for r in verdicts["retries"]])
        lines.append("")
    if "liveness" in verdicts:
        lines += ["Liveness: longest stretch without a commit against the longest injected fault "
                  "window:", ""]
        rows = []
        for live in verdicts["liveness"]:
            judged = live["judged"]
            if "Ok" not in judged:
                rows.append([live["label"], f"not judged: {judged['Err']}", "", "", "", ""])
                continue
            f, i = judged["Ok"], judged["Ok"]["injected"]
            rows.append([live["label"], f["no_commit_ms"], f["from_ms"], f["fault_window_ms"],
                         "FAR LONGER than the fault" if f["far_longer"] else "ok",
                         f"{i['transient']} transient, {i['ambiguous']} ambiguous, "
                         f"{i['stalls']} stalls, {i['refused']} refused"])
        lines += table(["scenario", "no commit for ms", "from ms", "longest fault window ms",
                        "liveness", "injected"], rows)
        lines.append("")
    return lines


def render(directories, shown):
    """The Markdown of every run in ``directories``; ``shown`` names them in the header."""
    seen, runs = set(), []
    for directory in directories:
        for run_json in find_runs(directory):
            key = run_json.resolve()
            if key not in seen:
                seen.add(key)
                runs.append(load_run(run_json))
    if not runs:
        raise InputError(f"no run in {', '.join(map(str, directories))} (no folder STEM/ with "
                         f"STEM_run.json): run a step first, or pass the CHAOS_OUTPUT_DIR it "
                         f"wrote to")
    runs.sort(key=lambda run: (run["record"]["started_at"], run["stem"]))
    head = (f"Generated by `python3 scripts/results_md.py {shown}` from {len(runs)} saved "
            f"run(s), oldest first; every figure is read from the run's files. Do not edit by "
            f"hand: re-run the command.")
    return "\n".join([head, ""] + [render_run(run) for run in runs]).rstrip("\n") + "\n"


# ------------------------------------------------------------------ updating a file

def update(path, block):
    """Replace the text between BEGIN and END in ``path`` by ``block``, atomically."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; pass the Markdown file that holds the markers "
                         f"{BEGIN} and {END}")
    except OSError as err:
        raise InputError(f"{path} cannot be read ({err.strerror}): check its permissions")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text")
    if BEGIN in block or END in block:
        raise InputError("a run's files contain the marker text itself; rename what holds it")
    begins, ends = text.count(BEGIN), text.count(END)
    if begins != 1 or ends != 1:
        raise InputError(f"{path} must hold each marker once (found {begins} {BEGIN} and {ends} "
                         f"{END}): add the two lines where the generated block goes")
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    if stop < start:
        raise InputError(f"{path} has {END} before {BEGIN}: swap them")
    newline = "\r\n" if "\r\n" in text else "\n"
    new = text[:start] + newline + block.replace("\n", newline) + text[stop:]
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(new.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def default_directory():
    return Path(os.environ.get("CHAOS_OUTPUT_DIR") or WORKSPACE)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Markdown of saved runs, every figure read from their files.")
    parser.add_argument("directories", nargs="*", type=Path, metavar="DIR",
                        help="output directory of a run, or one run folder STEM/ "
                             "(default: CHAOS_OUTPUT_DIR, else the workspace root)")
    parser.add_argument("--update", type=Path, metavar="FILE",
                        help=f"rewrite the block of FILE between {BEGIN} and {END}")
    args = parser.parse_args(argv)
    directories = args.directories or [default_directory()]
    shown = " ".join(map(str, args.directories))
    if args.update:
        shown = f"{shown} --update {args.update}".strip()
    try:
        markdown = render(directories, shown)
        if args.update:
            update(args.update, markdown)
            print(f"updated {args.update}: the block between its markers")
        else:
            sys.stdout.write(markdown)
    except InputError as err:
        print(f"results_md.py: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"results_md.py: {err.filename or ''}: {err.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
