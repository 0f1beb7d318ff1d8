"""Tests of scripts/results_md.py on small run folders built in temporary directories."""

import copy
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import COLUMNS, HEADERS, TESTS_DIR, write_csv

ROOT = TESTS_DIR.parent
SCRIPT = ROOT / "scripts" / "results_md.py"
RUST = ROOT / "fusio-manifest" / "src"

# label: (seed, summary figures as the CSV holds them, verification verdict, host)
CHAOS = {
    "baseline": (11, {"precondition_failure_rate": "0.6583", "write_tps": "2.3166666666666664",
                      "write_p50_ms": "389.04", "write_p99_ms": "796.26", "read_p99_ms": "41.73",
                      "retry_success_rate": "0.889", "retry_failure_rate": "0.0421"},
                 "PASS", "OK"),
    "net-delay-500ms": (12, {"precondition_failure_rate": "0.1234", "write_tps": "0.2933",
                             "write_p50_ms": "1500.44", "write_p99_ms": "2400.71",
                             "read_p99_ms": "512.36", "retry_success_rate": "0.5512",
                             "retry_failure_rate": "0.3333"},
                        "FAIL", "HOST-SATURATED"),
}
# The rows those figures must give: failure % and TPS to 2 places, ms and retry % to 1.
CHAOS_ROWS = [
    "| baseline | 11 | PASS | OK | 65.83 | 2.32 | 389.0 | 796.3 | 41.7 | 88.9 | 4.2 |",
    "| net-delay-500ms | 12 | FAIL | HOST-SATURATED | 12.34 | 0.29 | 1500.4 | 2400.7 | 512.4 | "
    "55.1 | 33.3 |",
]
CHAOS_VERDICTS = {
    "scenarios": 3,
    "retries": [
        {"label": "baseline", "verdict": "good", "retry_success_pct": 88.9,
         "retry_failure_pct": 4.21, "max_retries_exceeded_pct": 1.26,
         "precondition_failures": 120, "suggestions": []},
        {"label": "net-delay-500ms", "verdict": "poor", "retry_success_pct": 55.12,
         "retry_failure_pct": 33.33, "max_retries_exceeded_pct": 12.0,
         "precondition_failures": 40,
         "suggestions": ["increase max_retry_count from 1 to 2-3 (CHAOS_MAX_RETRY_COUNT)"]},
    ],
    "criteria": [
        {"number": 1, "met": False, "measured": "all scenarios complete: 2/3"},
        {"number": 3, "met": True,
         "measured": "precondition failure rate < 30% everywhere: worst 65.8% (baseline)"},
    ],
    "saturated": ["net-delay-500ms"],
}
FAULT = {
    "transient-errors-5pct": (21, dict(CHAOS["baseline"][1]), "PASS", "OK"),
    "ambiguous-put-2pct": (22, dict(CHAOS["net-delay-500ms"][1]), "INVALID: harness fault",
                           "OK"),
}
FAULT_VERDICTS = {"liveness": [
    {"label": "transient-errors-5pct", "judged": {"Ok": {
        "no_commit_ms": 300000, "from_ms": 1250, "fault_window_ms": 0, "far_longer": True,
        "injected": {"eligible": 900, "transient": 45, "ambiguous": 0, "stalls": 0,
                     "refused": 0}}}},
    {"label": "ambiguous-put-2pct",
     "judged": {"Err": "INVALID: harness fault (the harness failed, so the run says nothing "
                       "about fusio-manifest)"}},
]}
SHA = "ab" * 32


def run_record(stem, scenarios, time="real", **extra):
    record = {
        "stem": stem, "command": ["performance_test-0123", "test_" + stem],
        "replay": f"CHAOS_TIME={time} CHAOS_SEED=5 cargo test --release -p fusio-manifest-chaos "
                  f"--test performance_test test_{stem} -- --exact --ignored --nocapture",
        "seed": 5, "env": {"CHAOS_SEED": "5"}, "scenarios": scenarios,
        "backend": "embedded S3 server (http://127.0.0.1:40123)", "s3_profile": "s3-standard",
        "time": time, "build_profile": "release", "fusio_manifest_version": "0.6.1",
        "fusio_manifest_source": "crates.io 0.6.1", "harness_version": "0.1.0",
        "git_revision": "6327f17a0d1c0ffee0000000000000000000beef", "host_cores": 2,
        "started_at": "2026-12-10T09:00:00Z", "ended_at": "2026-12-10T09:40:00Z",
    }
    record.update(extra)
    return record


def make_run(out, stem, scenarios, crashed=(), time="real", verdicts=None, host=True,
             **extra):
    """OUT/STEM.csv and OUT/STEM/ as the harness writes them: ``scenarios`` (label: seed,
    figures, verdict, host) have results, ``crashed`` (label: seed) are listed without."""
    folder = out / stem
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for label, (seed, *_rest) in scenarios.items():
        record = {"label": label, "seed": seed}
        if time == "simulated":
            record["digest"] = {"ops": 4321, "objects": 17, "sha256": SHA, "trace": None}
        records.append(record)
    records += [{"label": label, "seed": seed} for label, seed in dict(crashed).items()]
    summary = []
    for label, (_, figures, _, _) in scenarios.items():
        row = {column: "0" for column in COLUMNS}
        row.update(figures, config_label=label)
        summary.append([row[column] for column in COLUMNS])
    write_csv(out / f"{stem}.csv", COLUMNS, summary)
    verification = HEADERS["verification"]
    write_csv(folder / f"{stem}_verification.csv", verification,
              [[label] + ["0"] * (len(verification) - 2) + [verdict]
               for label, (_, _, verdict, _) in scenarios.items()])
    if host:
        write_csv(folder / f"{stem}_host.csv", HEADERS["host"],
                  [[label, "0.4", "2.5", "6.0", "41.0", "12", state]
                   for label, (_, _, _, state) in scenarios.items()])
    (folder / f"{stem}_run.json").write_text(
        json.dumps(run_record(stem, records, time, **extra), indent=2), encoding="utf-8")
    if verdicts is not None:
        (folder / f"{stem}_verdicts.json").write_text(json.dumps(verdicts), encoding="utf-8")
    return folder


def chaos_run(out):
    return make_run(out, "chaos_sweep", CHAOS, crashed={"crashed": 13},
                    verdicts=copy.deepcopy(CHAOS_VERDICTS))


def run_script(*args, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=60, env=env)


def load_module():
    spec = importlib.util.spec_from_file_location("results_md", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_input_error(result, fragment):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("results_md.py: ")
    assert fragment in result.stderr, result.stderr


# ---------------------------------------------------------------- a good run

def test_a_good_run_renders_its_provenance_rows_and_verdicts(tmp_path):
    chaos_run(tmp_path)
    result = run_script(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = result.stdout
    lines = text.splitlines()
    for expected in (
        "### chaos_sweep, 2026-12-10T09:00:00Z",
        "- step: `chaos_sweep`; started 2026-12-10T09:00:00Z, results written "
        "2026-12-10T09:40:00Z",
        "- git revision: `6327f17a0d1c0ffee0000000000000000000beef`; harness 0.1.0",
        "- build profile: release; time: real; host cores: 2",
        "- backend: embedded S3 server (http://127.0.0.1:40123), latency profile s3-standard",
        "- fusio-manifest: crates.io 0.6.1; resolved version 0.6.1",
        "- run seed: 5",
        "CHAOS_TIME=real CHAOS_SEED=5 cargo test --release -p fusio-manifest-chaos --test "
        "performance_test test_chaos_sweep -- --exact --ignored --nocapture",
        "| scenario | seed | verdict | host | failure % | write TPS | write p50 ms | "
        "write p99 ms | read p99 ms | retry success % | retry failure % |",
        *CHAOS_ROWS,
        "| crashed | 13 | no result (no row in chaos_sweep.csv) |  |  |  |  |  |  |  |  |",
        "Success criteria (chaos_sweep_verdicts.json, 3 scenarios):",
        "- NOT MET: 1. all scenarios complete: 2/3",
        "- met: 3. precondition failure rate < 30% everywhere: worst 65.8% (baseline)",
        "- host saturated in 1/3 scenarios (net-delay-500ms): their figures (criteria 3-5) "
        "describe the machine",
        "| baseline | good | 88.9 | 4.2 | 1.3 | 120 |  |",
        "| net-delay-500ms | poor | 55.1 | 33.3 | 12.0 | 40 | increase max_retry_count from 1 "
        "to 2-3 (CHAOS_MAX_RETRY_COUNT) |",
    ):
        assert expected in lines, f"{expected!r} not in\n{text}"
    assert "digest" not in text  # real time: no digest column
    assert "Traceback" not in text


def test_a_simulated_run_shows_digests_and_liveness(tmp_path):
    make_run(tmp_path, "fault_sweep", FAULT, time="simulated", sim_store="s3",
             verdicts=FAULT_VERDICTS, started_at="2026-12-11T10:00:00Z")
    chaos_run(tmp_path)
    result = run_script(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "- build profile: release; time: simulated (store answers as s3); host cores: 2" in lines
    digest = f"sha256 {SHA} over 4321 ops, 17 objects"
    assert (f"| transient-errors-5pct | 21 | PASS | OK | 65.83 | 2.32 | 389.0 | 796.3 | 41.7 | "
            f"88.9 | 4.2 | {digest} |") in lines
    assert ("| ambiguous-put-2pct | 22 | INVALID: harness fault | OK | 12.34 | 0.29 | 1500.4 | "
            f"2400.7 | 512.4 | 55.1 | 33.3 | {digest} |") in lines
    assert ("| transient-errors-5pct | 300000 | 1250 | 0 | FAR LONGER than the fault | 45 "
            "transient, 0 ambiguous, 0 stalls, 0 refused |") in lines
    assert ("| ambiguous-put-2pct | not judged: INVALID: harness fault (the harness failed, so "
            "the run says nothing about fusio-manifest) |  |  |  |  |") in lines
    # Oldest first, each run once even when its folder is also passed on its own.
    again = run_script(tmp_path, tmp_path / "chaos_sweep")
    assert again.returncode == 0, again.stderr
    headings = [line for line in again.stdout.splitlines() if line.startswith("### ")]
    assert headings == ["### chaos_sweep, 2026-12-10T09:00:00Z",
                        "### fault_sweep, 2026-12-11T10:00:00Z"]


def test_verdicts_come_from_the_files_a_fail_shows_as_fail(tmp_path):
    """Flip the files' values and the output flips: nothing is taken for granted."""
    folder = chaos_run(tmp_path)
    verification = folder / "chaos_sweep_verification.csv"
    verification.write_text(verification.read_text().replace(",PASS", ",FAIL"))
    verdicts = json.loads((folder / "chaos_sweep_verdicts.json").read_text())
    verdicts["criteria"][1]["met"] = False
    verdicts["retries"][0]["verdict"] = "poor"
    (folder / "chaos_sweep_verdicts.json").write_text(json.dumps(verdicts))
    summary = tmp_path / "chaos_sweep.csv"
    summary.write_text(summary.read_text().replace("2.3166666666666664", "9.876"))
    result = run_script(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "| baseline | 11 | FAIL | OK | 65.83 | 9.88 | 389.0 | 796.3 | 41.7 | 88.9 | 4.2 |" \
        in lines
    assert not any(line.startswith("| baseline | 11 | PASS") for line in lines)
    assert "- NOT MET: 3. precondition failure rate < 30% everywhere: worst 65.8% (baseline)" \
        in lines
    assert "| baseline | poor | 88.9 | 4.2 | 1.3 | 120 |  |" in lines


def test_runs_without_host_or_verdicts_say_so(tmp_path):
    make_run(tmp_path, "test_baseline", {"baseline": CHAOS["baseline"]}, host=False)
    result = run_script(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "| baseline | 11 | PASS | 65.83 | 2.32 | 389.0 | 796.3 | 41.7 | 88.9 | 4.2 |" in lines
    assert ("No test_baseline_host.csv (a harness older than host health): host state not "
            "recorded.") in lines
    assert "No test_baseline_verdicts.json (only the chaos and fault sweeps save verdicts)." \
        in lines


def test_default_directory_is_chaos_output_dir(tmp_path):
    chaos_run(tmp_path)
    result = run_script(env={**os.environ, "CHAOS_OUTPUT_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert CHAOS_ROWS[0] in result.stdout.splitlines()


def test_folders_that_are_not_runs_are_ignored(tmp_path):
    chaos_run(tmp_path)
    (tmp_path / "fusio-manifest" / "src").mkdir(parents=True)
    (tmp_path / "fusio-manifest" / "Cargo.toml").write_text("[package]\n")
    (tmp_path / "seed_search").mkdir()
    (tmp_path / "seed_search" / "search.json").write_text("{}")
    result = run_script(tmp_path)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- bad input

def without_run_json(out):
    (out / "chaos_sweep" / "chaos_sweep_run.json").unlink()


def edit_json(name, change):
    def edit(out):
        path = out / "chaos_sweep" / name
        value = json.loads(path.read_text())
        change(value)
        path.write_text(json.dumps(value))
    return edit


def write_file(relative, content):
    def write(out):
        path = out / relative
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return write


def edit_summary(old, new):
    def edit(out):
        path = out / "chaos_sweep.csv"
        path.write_text(path.read_text().replace(old, new, 1))
    return edit


def drop_summary_column(column):
    def drop(out):
        path = out / "chaos_sweep.csv"
        lines = path.read_text().splitlines()
        index = lines[0].split(",").index(column)
        path.write_text("\n".join(",".join(v for i, v in enumerate(line.split(",")) if i != index)
                                  for line in lines) + "\n")
    return drop


BAD_INPUTS = {
    "folder without run.json": (
        without_run_json, "chaos_sweep holds a run's files but no chaos_sweep_run.json"),
    "run.json not JSON": (
        write_file("chaos_sweep/chaos_sweep_run.json", '{"stem": "chaos_sweep",'),
        "chaos_sweep_run.json is not valid JSON (line 1 column"),
    "run.json lacks a field": (
        edit_json("chaos_sweep_run.json", lambda v: v.pop("replay")),
        "the record lacks replay"),
    "run.json field of the wrong type": (
        edit_json("chaos_sweep_run.json", lambda v: v.update(seed="five")),
        "the record's seed is \"five\", not an integer"),
    "run.json of another folder": (
        edit_json("chaos_sweep_run.json", lambda v: v.update(stem="fault_sweep")),
        "names the run 'fault_sweep', its folder 'chaos_sweep'"),
    "scenario without seed": (
        edit_json("chaos_sweep_run.json", lambda v: v["scenarios"][0].pop("seed")),
        "scenarios[0] lacks seed"),
    "summary CSV missing": (
        lambda out: (out / "chaos_sweep.csv").unlink(), "chaos_sweep.csv is missing"),
    "summary CSV lacks a column": (
        drop_summary_column("write_tps"), "chaos_sweep.csv lacks the column(s) write_tps"),
    "summary CSV row too long": (
        edit_summary("2.3166666666666664", "2.31,66"), "chaos_sweep.csv line 2 has 25 fields"),
    "summary CSV not a number": (
        edit_summary("796.26", "fast"), "write_p99_ms of 'baseline' is 'fast', not a number"),
    "summary CSV empty": (write_file("chaos_sweep.csv", ""), "chaos_sweep.csv is empty"),
    "summary CSV bad quoting": (
        edit_summary("389.04", '"389"x'), "chaos_sweep.csv is not valid CSV (line 2"),
    "summary CSV of another run": (
        edit_summary("baseline", "stranger"),
        "chaos_sweep.csv has a row for 'stranger', which chaos_sweep_run.json does not list"),
    "verification CSV missing": (
        lambda out: (out / "chaos_sweep" / "chaos_sweep_verification.csv").unlink(),
        "chaos_sweep_verification.csv is missing"),
    "verification CSV not text": (
        write_file("chaos_sweep/chaos_sweep_verification.csv", b"\xff\xfe\x00garbage"),
        "chaos_sweep_verification.csv is not UTF-8 text"),
    "verification CSV lacks verdict": (
        write_file("chaos_sweep/chaos_sweep_verification.csv", "config_label,ops_checked\n"),
        "chaos_sweep_verification.csv lacks the column(s) verdict"),
    "host CSV lacks host": (
        write_file("chaos_sweep/chaos_sweep_host.csv", "config_label,probe_lag_p99_ms\n"),
        "chaos_sweep_host.csv lacks the column(s) host"),
    "verdicts not JSON": (
        write_file("chaos_sweep/chaos_sweep_verdicts.json", "[1, 2"),
        "chaos_sweep_verdicts.json is not valid JSON"),
    "verdicts criterion lacks met": (
        edit_json("chaos_sweep_verdicts.json", lambda v: v["criteria"][0].pop("met")),
        "criteria[0] lacks met"),
    "verdicts saturated not labels": (
        edit_json("chaos_sweep_verdicts.json", lambda v: v.update(saturated=[1])),
        "the verdicts' saturated is [1], not a list of scenario labels"),
    "verdicts of nothing known": (
        write_file("chaos_sweep/chaos_sweep_verdicts.json", '{"other": 1}'),
        "holds neither criteria, retries nor liveness"),
    "liveness neither Ok nor Err": (
        write_file("chaos_sweep/chaos_sweep_verdicts.json",
                   '{"liveness": [{"label": "baseline", "judged": {"Maybe": 1}}]}'),
        "liveness[0].judged is neither"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_fix(tmp_path, case):
    damage, fragment = BAD_INPUTS[case]
    chaos_run(tmp_path)
    damage(tmp_path)
    result = run_script(tmp_path)
    assert_input_error(result, fragment)
    assert "re-run" in result.stderr or "put it back" in result.stderr


def test_a_missing_directory_and_one_without_runs(tmp_path):
    assert_input_error(run_script(tmp_path / "nope"), "nope: no such directory; pass the output "
                                                      "directory of a run")
    (tmp_path / "empty").mkdir()
    assert_input_error(run_script(tmp_path / "empty"),
                       "(no folder STEM/ with STEM_run.json): run a step first")
    (tmp_path / "file").write_text("x")
    assert_input_error(run_script(tmp_path / "file"), "file is not a directory")


# ---------------------------------------------------------------- --update

DOC = ("# Measured results\n\nHand-written text before.\n\n{begin}\nstale generated text\n{end}\n"
       "\n## After\n\nHand-written text after, | with a table | .\n")


def doc(tmp_path, begin=None, end=None):
    module = load_module()
    path = tmp_path / "RESULTS.md"
    path.write_text(DOC.format(begin=begin or module.BEGIN, end=end or module.END))
    return module, path


def test_update_rewrites_only_the_block_between_the_markers(tmp_path):
    out = tmp_path / "out"
    chaos_run(out)
    module, path = doc(tmp_path)
    result = run_script(out, "--update", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"updated {path}: the block between its markers\n"
    text = path.read_text()
    before, rest = text.split(module.BEGIN + "\n")
    block, after = rest.split(module.END)
    assert before == "# Measured results\n\nHand-written text before.\n\n"
    assert after == "\n\n## After\n\nHand-written text after, | with a table | .\n"
    printed = run_script(out).stdout
    assert block == printed.replace(f"results_md.py {out}`", f"results_md.py {out} --update "
                                                             f"{path}`")
    assert "stale generated text" not in text
    for row in CHAOS_ROWS:
        assert row in block.splitlines()
    # Running it again gives the same file.
    assert run_script(out, "--update", path).returncode == 0
    assert path.read_text() == text


def test_update_is_atomic_a_rename_of_a_complete_temporary_file(tmp_path):
    out = tmp_path / "out"
    chaos_run(out)
    module, path = doc(tmp_path)
    original = path.read_text()
    old_inode = path.stat().st_ino
    with path.open() as reader:  # a reader that opened the old file keeps the whole old file
        assert module.main([str(out), "--update", str(path)]) == 0
        assert reader.read() == original
    assert path.stat().st_ino != old_inode
    assert CHAOS_ROWS[0] in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESULTS.md", "out"]


def test_an_update_that_fails_leaves_the_file_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "out"
    chaos_run(out)
    module, path = doc(tmp_path)
    original = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(module.os, "replace", broken_replace)
    assert module.main([str(out), "--update", str(path)]) == 2
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESULTS.md", "out"]


def test_update_refuses_missing_markers_and_bad_runs_without_touching_the_file(tmp_path):
    out = tmp_path / "out"
    chaos_run(out)
    _, path = doc(tmp_path, begin="<!-- no marker -->")
    original = path.read_bytes()
    assert_input_error(run_script(out, "--update", path), "must hold each marker once (found 0")
    assert path.read_bytes() == original
    assert_input_error(run_script(out, "--update", tmp_path / "NOPE.md"), "NOPE.md: no such file")
    module, path = doc(tmp_path)
    original = path.read_bytes()
    (out / "chaos_sweep" / "chaos_sweep_run.json").write_text("{")
    assert_input_error(run_script(out, "--update", path), "is not valid JSON")
    assert path.read_bytes() == original


def test_results_md_holds_the_markers_once_with_the_command():
    module = load_module()
    text = (ROOT / "RESULTS.md").read_text(encoding="utf-8")
    assert text.count(module.BEGIN) == 1 and text.count(module.END) == 1
    assert text.index(module.BEGIN) < text.index(module.END)
    assert "python3 scripts/results_md.py --update RESULTS.md" in text


# ---------------------------------------------------------------- the schema follows Rust

def rust_fields(path, struct):
    """The field names of ``pub struct STRUCT { ... }`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    match = re.search(r"pub struct " + struct + r"\b[^{]*\{(.*?)\n\}", text, re.S)
    assert match, f"pub struct {struct} not found in {path}"
    return set(re.findall(r"^\s*pub (\w+):", match.group(1), re.M))


def test_what_the_script_reads_is_what_the_harness_writes():
    module = load_module()
    provenance = RUST / "provenance.rs"
    assert set(module.RUN_FIELDS) | set(module.RUN_OPTIONAL) <= rust_fields(provenance,
                                                                           "RunRecord")
    assert {"label", "seed", "digest"} <= rust_fields(provenance, "ScenarioRecord")
    assert {"ops", "objects", "sha256"} <= rust_fields(RUST / "world" / "trace.rs", "Digest")
    verdicts = RUST / "verdicts.rs"
    assert {"scenarios", "retries", "criteria", "saturated"} <= rust_fields(verdicts, "Verdicts")
    assert set(module.RETRY_FIELDS) <= rust_fields(verdicts, "ScenarioRetries")
    assert set(module.CRITERION_FIELDS) <= rust_fields(verdicts, "Criterion")
    assert {"label", "judged"} <= rust_fields(verdicts, "Liveness")
    assert set(module.LIVENESS_FIELDS) <= rust_fields(verdicts, "LivenessFigures")
    assert set(module.INJECTED_FIELDS) <= rust_fields(RUST / "chaos" / "faults.rs", "FaultCounts")
    assert '"liveness": live' in (RUST / "plan" / "steps.rs").read_text(encoding="utf-8")
    assert {column for column, *_ in module.SUMMARY_COLUMNS} <= set(HEADERS["main"])
    assert {"config_label", "verdict"} <= set(HEADERS["verification"])
    assert {"config_label", "host"} <= set(HEADERS["host"])
    results = (RUST / "results.rs").read_text(encoding="utf-8")
    for name in ('"{}_run.json"', '"{}_verdicts.json"', '"{}.csv"', '"{stem}_{suffix}.csv"'):
        assert name in results
