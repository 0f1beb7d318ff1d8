"""End-to-end tests of plot_results.py, run as a subprocess to check exit codes."""

import csv
import importlib.util
import json
import shutil

import numpy as np
import pytest

from conftest import (
    ACTORS, CHAOS_SCENARIOS, COLUMNS, HEADERS, HEADERS_JSON, REGEN_CHAOS, RETRY_COLUMNS, RUN_INFO,
    RUN_INFO_FOOTER, SCRIPT, chaos_rows, host_rows, make_chaos_csv, make_comprehensive_csv,
    png_size, run_file, run_plot, timeline_rows, write_csv, write_rows, write_run_info,
)

CHAOS_PX = (6000, 3600)


def load_module():
    spec = importlib.util.spec_from_file_location("plot_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_wrote(result, png):
    assert result.returncode == 0, result.stderr
    assert png.is_file()
    assert f"✅ Wrote {png}" in result.stdout
    size = png_size(png)
    assert f"({size[0]}x{size[1]} px)" in result.stdout
    return size


def assert_input_error(result, *fragments):
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


# ---------------------------------------------------------------- chaos figure

def test_chaos_with_sidecars_is_6000x3600(chaos_with_sidecars):
    csv_path, result = chaos_with_sidecars
    png = csv_path.with_suffix(".png")
    assert assert_wrote(result, png) == CHAOS_PX
    assert result.stderr == ""
    assert sorted(p.name for p in csv_path.parent.iterdir() if ".tmp" in p.name) == []


def test_chaos_without_sidecars_still_plots(tmp_path):
    csv_path = make_chaos_csv(tmp_path, sidecars=False)
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    for name in ("chaos_sweep_timeline.csv", "chaos_sweep_verification.csv"):
        assert f"{tmp_path / 'chaos_sweep' / name} is missing" in result.stderr
    assert REGEN_CHAOS in result.stderr
    assert f"provenance: {tmp_path / 'chaos_sweep' / 'chaos_sweep_run.json'} missing" \
        in result.stderr


def test_malformed_sidecars_and_no_baseline(tmp_path):
    labels = [label for label in CHAOS_SCENARIOS if label != "baseline"]
    csv_path = make_chaos_csv(tmp_path, labels=labels)
    folder = tmp_path / "chaos_sweep"
    (folder / "chaos_sweep_events.csv").write_text('config_label,t_ms\n"unterminated\n')
    (folder / "chaos_sweep_verification.csv").write_bytes(b"\xff\xfe\x00garbage")
    result = run_plot(csv_path, "--chaos", "--output", tmp_path / "custom.png")
    assert assert_wrote(result, tmp_path / "custom.png") == CHAOS_PX
    assert not (tmp_path / "chaos_sweep.png").exists()
    assert "chaos_sweep/chaos_sweep_events.csv is unreadable" in result.stderr
    assert "chaos_sweep/chaos_sweep_verification.csv is unreadable" in result.stderr
    assert "Traceback" not in result.stderr


def test_sidecar_message_names_file_and_command(tmp_path):
    module = load_module()
    message = module.sidecar_problem_message(tmp_path / "chaos_sweep.csv", "timeline",
                                             "is missing")
    assert f"{tmp_path / 'chaos_sweep' / 'chaos_sweep_timeline.csv'} is missing" in message
    assert REGEN_CHAOS in message


def test_change_vs_baseline_never_divides_by_zero():
    module = load_module()
    values = np.array([0.0, 2.5, 10.0])
    change, label = module.change_vs_baseline(values, 0.0, "percentage points")
    assert list(change) == [0.0, 2.5, 10.0]
    assert "percentage points" in label
    change, label = module.change_vs_baseline(values, 5.0, "percentage points")
    assert list(change) == [-100.0, -50.0, 100.0]
    assert label == "% change vs baseline"


def test_block_windows_pairs_and_open_end():
    module = load_module()
    module.import_plotting_modules()
    events = module.pd.DataFrame({
        "config_label": ["b", "b", "b", "b", "other"],
        "t_ms": [5000, 15000, 40000, 100, 0],
        "event": ["block_start", "block_end", "block_start", "chaos_start", "block_start"],
    })
    assert module.block_windows(events, "b", 60) == [(5.0, 15.0), (40.0, 60)]


# ---------------------------------------------------- comprehensive and single

@pytest.fixture(scope="module")
def comprehensive_csv(tmp_path_factory):
    return make_comprehensive_csv(tmp_path_factory.mktemp("comprehensive"))


def test_comprehensive_figure(comprehensive_csv):
    result = run_plot(comprehensive_csv)
    assert_wrote(result, comprehensive_csv.with_name("comprehensive_sweep.png"))
    assert result.stderr == ""  # its run.json is there: no provenance warning


def test_influence_ranks_parameters_by_range_of_means(comprehensive_csv):
    module = load_module()
    module.import_plotting_modules()
    frame = module.load_main_csv(comprehensive_csv)
    assert module.varying_params(frame) == list(module.SWEEP_PARAMS)
    influence = module.influence_on_tps(frame, module.varying_params(frame))
    assert set(influence.index[:2]) == {"num_writers", "writer_rate"}
    assert list(influence) == sorted(influence, reverse=True)


def test_single_sweep(comprehensive_csv, tmp_path):
    output = tmp_path / "writers.png"
    result = run_plot(comprehensive_csv, "num_writers", "Writers sweep", "--output", output)
    assert_wrote(result, output)


def test_single_sweep_default_output(tmp_path):
    csv_path = write_rows(tmp_path / "writers_sweep.csv", chaos_rows()[:3])
    result = run_plot(csv_path, "write_tps")
    assert_wrote(result, tmp_path / "writers_sweep.png")


def test_bad_param_names_valid_columns(tmp_path):
    csv_path = make_chaos_csv(tmp_path, sidecars=False)
    result = run_plot(csv_path, "no_such_column", "Title")
    assert_input_error(result, "no_such_column", "num_writers", "retry_success_rate")


def test_comprehensive_without_varying_parameter_exits_2(tmp_path):
    csv_path = make_chaos_csv(tmp_path, sidecars=False)
    assert_input_error(run_plot(csv_path), "--chaos")


# ------------------------------------------------------------------ bad inputs

def test_old_csv_without_retry_columns(tmp_path):
    old_columns = [column for column in COLUMNS if column not in RETRY_COLUMNS]
    csv_path = write_rows(tmp_path / "chaos_sweep.csv", chaos_rows(), old_columns)
    assert len(old_columns) == 20
    assert_input_error(run_plot(csv_path, "--chaos"), *RETRY_COLUMNS, REGEN_CHAOS)


def test_missing_file(tmp_path):
    missing = tmp_path / "comprehensive_sweep.csv"
    assert_input_error(run_plot(missing), str(missing), "not found",
                       REGEN_CHAOS.replace("test_chaos_sweep", "test_comprehensive_sweep"))


def test_missing_file_generic_hint(tmp_path):
    assert_input_error(run_plot(tmp_path / "mystery.csv", "--chaos"), "mystery.csv",
                       "cargo test --release -p fusio-manifest-chaos")


def test_empty_file(tmp_path):
    csv_path = tmp_path / "fault_sweep.csv"
    csv_path.write_bytes(b"")
    assert_input_error(run_plot(csv_path, "--chaos"), "empty", "test_fault_sweep")


def test_header_only_file(tmp_path):
    csv_path = tmp_path / "test_baseline.csv"
    with csv_path.open("w", newline="") as handle:
        csv.writer(handle).writerow(COLUMNS)
    assert_input_error(run_plot(csv_path, "--chaos"), "no data rows", "test_baseline")


def test_non_numeric_value(tmp_path):
    rows = chaos_rows()
    rows[2]["write_tps"] = "fast"
    csv_path = write_rows(tmp_path / "chaos_sweep.csv", rows)
    assert_input_error(run_plot(csv_path, "--chaos"), "write_tps", "non-numeric")


def test_missing_output_directory(tmp_path):
    csv_path = make_chaos_csv(tmp_path, sidecars=False)
    assert_input_error(run_plot(csv_path, "--chaos", "--output", tmp_path / "nope" / "x.png"),
                       "does not exist")


def test_missing_python_package(tmp_path, monkeypatch):
    fake = tmp_path / "fake_site"
    fake.mkdir()
    (fake / "seaborn.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'seaborn'\", name='seaborn')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake))
    csv_path = make_chaos_csv(tmp_path, sidecars=False)
    assert_input_error(run_plot(csv_path, "--chaos"), "pip install -r requirements.txt",
                       "seaborn")


def test_help_and_usage_errors(tmp_path):
    result = run_plot("--help")
    assert result.returncode == 0
    assert "--chaos" in result.stdout and "--output" in result.stdout
    assert run_plot(tmp_path / "x.csv", "num_writers", "--chaos").returncode == 2


def test_invalid_verdict_is_purple_and_named_on_every_axis(tmp_path):
    module = load_module()
    assert module.verdict_color("INVALID: harness fault") == module.INVALID_COLOR
    assert module.verdict_color("PASS") == module.PASS_COLOR
    assert module.verdict_color("FAIL") == module.FAIL_COLOR
    assert module.verdict_color("UNKNOWN") == module.OTHER_VERDICT_COLOR  # reason required
    csv_path = make_chaos_csv(tmp_path)
    sidecar = tmp_path / "chaos_sweep" / "chaos_sweep_verification.csv"
    with open(sidecar, newline="") as f:
        rows = list(csv.reader(f))
    rows[2][-1] = "INVALID: harness fault"
    write_csv(sidecar, rows[0], rows[1:])
    pandas = pytest.importorskip("pandas")
    verification = pandas.read_csv(sidecar)
    flags = module.flagged_scenarios(verification)
    assert flags == {rows[2][0]: "(INVALID: harness fault)"}
    labels = list(CHAOS_SCENARIOS)
    shown = module.shown_labels(labels, flags)
    assert shown[1] == f"{labels[1]}\n(INVALID: harness fault)"
    assert shown[0] == labels[0]
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX


# ------------------------------------------------- shared headers (result_headers.json)

HEADER_KINDS = ["main", "timeline", "events", "verification", "actors", "host"]


def header_drift(expected, constants):
    """One line per difference between result_headers.json and plot_results.py's lists."""
    problems = []
    for kind in sorted(set(expected) | set(constants)):
        if kind not in constants:
            problems.append(f"{kind}: only in {HEADERS_JSON.name}")
        elif kind not in expected:
            problems.append(f"{kind}: only in plot_results.py")
        elif list(expected[kind]) != list(constants[kind]):
            problems.append(f"{kind}: {HEADERS_JSON.name} has {list(expected[kind])}, "
                            f"plot_results.py has {list(constants[kind])}")
    return problems


def header_shape_problems(headers):
    """What makes a headers mapping break the contract: kinds, 24 main columns,
    config_label first in every file, no name twice."""
    problems = []
    if list(headers) != HEADER_KINDS:
        problems.append(f"kinds are {list(headers)}, not {HEADER_KINDS}")
    if len(headers.get("main", [])) != 24:
        problems.append(f"main has {len(headers.get('main', []))} columns, not 24")
    for kind, names in headers.items():
        if not names or names[0] != "config_label":
            problems.append(f"{kind}: first column is not config_label")
        if len(set(names)) != len(names):
            problems.append(f"{kind}: a column name appears twice")
    return problems


def test_column_constants_equal_result_headers_json():
    module = load_module()
    expected = json.loads(HEADERS_JSON.read_text(encoding="utf-8"))
    assert header_drift(expected, module.RESULT_HEADERS) == []
    # RESULT_HEADERS holds the very constants the loaders check against.
    assert module.RESULT_HEADERS["main"] is module.EXPECTED_COLUMNS
    assert module.RESULT_HEADERS["timeline"] is module.TIMELINE_COLUMNS
    assert module.RESULT_HEADERS["events"] is module.EVENTS_COLUMNS
    assert module.RESULT_HEADERS["verification"] is module.VERIFICATION_COLUMNS
    assert module.RESULT_HEADERS["actors"] is module.ACTORS_FILE_COLUMNS
    assert module.RESULT_HEADERS["host"] is module.HOST_COLUMNS


def test_header_drift_is_reported():
    renamed = {**HEADERS, "verification": ["scenario", *HEADERS["verification"][1:]]}
    swapped = {**HEADERS, "main": [HEADERS["main"][1], HEADERS["main"][0],
                                   *HEADERS["main"][2:]]}
    dropped = {kind: names for kind, names in HEADERS.items() if kind != "events"}
    extra = {**HEADERS, "timeline": [*HEADERS["timeline"], "s3_errors"]}
    no_host = {kind: names for kind, names in HEADERS.items() if kind != "host"}
    host_renamed = {**HEADERS, "host": [*HEADERS["host"][:-1], "host_state"]}
    # An actor count back in the verdict file: both files drift.
    actors_back = {**HEADERS, "actors": HEADERS["actors"][:-1],
                   "verification": [*HEADERS["verification"][:-1], HEADERS["actors"][-1],
                                    "verdict"]}
    assert header_drift(HEADERS, renamed) == [
        f"verification: {HEADERS_JSON.name} has {HEADERS['verification']}, "
        f"plot_results.py has {renamed['verification']}"]
    assert [line.split(":")[0] for line in header_drift(HEADERS, swapped)] == ["main"]
    assert header_drift(HEADERS, dropped) == [f"events: only in {HEADERS_JSON.name}"]
    assert header_drift(dropped, HEADERS) == ["events: only in plot_results.py"]
    assert [line.split(":")[0] for line in header_drift(HEADERS, extra)] == ["timeline"]
    assert header_drift(HEADERS, no_host) == [f"host: only in {HEADERS_JSON.name}"]
    assert [line.split(":")[0] for line in header_drift(HEADERS, host_renamed)] == ["host"]
    assert [line.split(":")[0] for line in header_drift(HEADERS, actors_back)] == [
        "actors", "verification"]


def test_result_headers_json_follows_the_contract():
    assert header_shape_problems(HEADERS) == []
    old_verification = {**HEADERS, "verification": ["scenario", *HEADERS["verification"][1:]]}
    assert header_shape_problems(old_verification) == [
        "verification: first column is not config_label"]
    short_main = {**HEADERS, "main": HEADERS["main"][:-1]}
    assert header_shape_problems(short_main) == ["main has 23 columns, not 24"]
    twice = {**HEADERS, "events": [*HEADERS["events"], "event"]}
    assert header_shape_problems(twice) == ["events: a column name appears twice"]
    reordered = dict(reversed(list(HEADERS.items())))
    assert len(header_shape_problems(reordered)) == 1


# ------------------------------------------------------------- run folder layout

def test_run_files_live_in_the_run_folder(tmp_path):
    module = load_module()
    csv_path = tmp_path / "chaos_sweep.csv"
    folder = tmp_path / "chaos_sweep"
    assert module.run_folder(csv_path) == folder
    for kind in ("timeline", "events", "verification", "actors", "host"):
        assert module.sidecar_path(csv_path, kind) == folder / f"chaos_sweep_{kind}.csv"
    assert module.run_info_path(csv_path) == folder / "chaos_sweep_run.json"


def test_sidecars_in_the_old_layout_are_named_not_read(tmp_path):
    csv_path = make_chaos_csv(tmp_path)
    folder = tmp_path / "chaos_sweep"
    for kind in ("timeline", "events", "verification"):
        shutil.move(folder / f"chaos_sweep_{kind}.csv", tmp_path / f"chaos_sweep_{kind}.csv")
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    for kind in ("timeline", "verification"):
        assert (f"{folder / f'chaos_sweep_{kind}.csv'} is missing (chaos_sweep_{kind}.csv "
                f"beside chaos_sweep.csv is from an older harness layout and is not read)"
                in result.stderr)


def test_actor_counts_are_not_in_the_verdict_file():
    module = load_module()
    assert list(module.ACTOR_COLUMNS) == ACTORS
    assert module.ACTORS_FILE_COLUMNS == ("config_label", *ACTORS)
    assert not set(ACTORS) & set(module.VERIFICATION_COLUMNS)
    row = {name: 0 for name in module.ANOMALY_COLUMNS}
    row.update(compactions=12, segments_deleted=30, manifests=9)
    assert module.anomaly_summary(row) == " · no anomalies"
    row["lost_write"] = 2
    assert module.anomaly_summary(row) == "\nlost_write=2"


def test_a_verification_file_with_the_old_actor_columns_still_plots(tmp_path):
    """Older harness versions wrote the actor counts into the verification file, before
    the verdict; the extra columns are ignored, the verdicts drawn."""
    csv_path = make_chaos_csv(tmp_path)
    sidecar = run_file(tmp_path, "chaos_sweep", "_verification.csv")
    (tmp_path / "chaos_sweep" / "chaos_sweep_actors.csv").unlink()
    with open(sidecar, newline="") as handle:
        rows = list(csv.reader(handle))
    write_csv(sidecar, [*rows[0][:-1], *ACTORS, rows[0][-1]],
              [[*row[:-1], *([0] * len(ACTORS)), row[-1]] for row in rows[1:]])
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    assert result.stderr == ""


def test_verification_with_the_old_scenario_column_is_reported(tmp_path):
    csv_path = make_chaos_csv(tmp_path)
    sidecar = run_file(tmp_path, "chaos_sweep", "_verification.csv")
    with open(sidecar, newline="") as handle:
        rows = list(csv.reader(handle))
    write_csv(sidecar, ["scenario", *rows[0][1:]], rows[1:])
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    assert (f"{sidecar} is unreadable (missing columns: config_label)" in result.stderr)


# ------------------------------------------------------------------ verdict states

@pytest.mark.parametrize("verdict, expected", [
    ("PASS", ("PASS", "")),
    ("FAIL", ("FAIL", "")),
    ("UNKNOWN: history incomplete", ("UNKNOWN", "history incomplete")),
    ("  UNKNOWN :  op timed out  ", ("UNKNOWN", "op timed out")),
    ("INVALID: harness fault", ("INVALID", "harness fault")),
    ("UNKNOWN", ("unrecognised", "UNKNOWN")),         # the reason is required
    ("UNKNOWN:   ", ("unrecognised", "UNKNOWN:")),
    ("INVALID", ("unrecognised", "INVALID")),
    ("FAIL: lost write", ("unrecognised", "FAIL: lost write")),
    ("pass", ("unrecognised", "pass")),
    ("MAYBE", ("unrecognised", "MAYBE")),
    ("", ("unrecognised", "")),
])
def test_parse_verdict(verdict, expected):
    assert load_module().parse_verdict(verdict) == expected


def set_verdicts(csv_path, verdicts):
    """Overwrite the verdict of the scenarios named in ``verdicts`` in the run's sidecar."""
    sidecar = run_file(csv_path.parent, csv_path.stem, "_verification.csv")
    with open(sidecar, newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:]:
        row[-1] = verdicts.get(row[0], row[-1])
    write_csv(sidecar, rows[0], rows[1:])
    return sidecar


def test_unknown_verdict_has_its_colour_reason_and_axis_label(tmp_path, capsys):
    module = load_module()
    colors = [module.PASS_COLOR, module.FAIL_COLOR, module.UNKNOWN_COLOR,
              module.INVALID_COLOR, module.OTHER_VERDICT_COLOR]
    assert len(set(colors)) == len(colors)
    reason = "history incomplete: 3 writers timed out before their final commit"
    assert module.verdict_color(f"UNKNOWN: {reason}") == module.UNKNOWN_COLOR
    assert module.verdict_flag(f"UNKNOWN: {reason}") == "(UNKNOWN)"
    assert module.verdict_flag("PASS") is None

    csv_path = make_chaos_csv(tmp_path)
    set_verdicts(csv_path, {"net-delay-200ms": f"UNKNOWN: {reason}",
                            "net-delay-100ms": "INVALID: harness fault"})
    module.import_plotting_modules()
    fig = module.plot_chaos(module.load_main_csv(csv_path), csv_path)
    assert capsys.readouterr().err == ""  # UNKNOWN is a known state: no warning
    ax_fail, ax_ver = fig.axes[0], fig.axes[8]
    ticks = [label.get_text() for label in ax_fail.get_xticklabels()]
    assert ticks[1] == "net-delay-100ms\n(INVALID: harness fault)"
    assert ticks[2] == "net-delay-200ms\n(UNKNOWN)"
    assert ticks[0] == "baseline"
    to_rgba = module.plt.matplotlib.colors.to_rgba
    bar_colors = [patch.get_facecolor() for patch in ax_ver.patches]
    assert bar_colors[2] == to_rgba(module.UNKNOWN_COLOR, 0.85)
    assert bar_colors[1] == to_rgba(module.INVALID_COLOR, 0.85)
    assert bar_colors[0] == to_rgba(module.PASS_COLOR, 0.85)
    texts = [text.get_text() for text in ax_ver.texts]
    assert texts[2].startswith("net-delay-200ms: UNKNOWN · ")
    assert reason in " ".join(texts[2].split())  # readable, possibly wrapped
    legend = [text.get_text() for text in ax_ver.get_legend().get_texts()]
    assert legend == ["PASS (4)", "FAIL (1)", "UNKNOWN (1)", "INVALID (1)"]
    module.plt.close(fig)


def test_unrecognised_verdict_is_reported_not_fatal(tmp_path):
    module = load_module()
    assert module.verdict_color("MAYBE") == module.OTHER_VERDICT_COLOR
    assert module.verdict_flag("MAYBE") == "(unrecognised verdict)"
    csv_path = make_chaos_csv(tmp_path)
    sidecar = set_verdicts(csv_path, {"net-block-10s-3x": "MAYBE", "baseline": ""})
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    assert "Traceback" not in result.stderr
    notes = result.stderr.strip().splitlines()
    assert len(notes) == 2, result.stderr
    assert notes[0].startswith(f"⚠️  {sidecar}: scenario 'baseline' has an unrecognised "
                               f"verdict ''")
    assert "scenario 'net-block-10s-3x' has an unrecognised verdict 'MAYBE'" in notes[1]


def test_known_verdicts_give_no_unrecognised_notes(tmp_path):
    module = load_module()
    module.import_plotting_modules()
    verification = module.pd.DataFrame({
        "config_label": ["a", "b", "c", "d", "e"],
        "verdict": ["PASS", "FAIL", "UNKNOWN: x", "INVALID: harness fault", "PASSED"]})
    notes = module.unrecognised_verdict_notes(verification, tmp_path / "v.csv")
    assert len(notes) == 1 and "scenario 'e'" in notes[0] and "'PASSED'" in notes[0]
    assert module.unrecognised_verdict_notes(verification.iloc[:4], tmp_path / "v.csv") == []


# --------------------------------------------------------------- provenance footer

def test_provenance_footer_from_valid_run_json(tmp_path):
    module = load_module()
    path = write_run_info(tmp_path, "chaos_sweep")
    run_info, problem = module.read_run_info(path)
    assert problem is None
    assert module.provenance_footer(run_info, problem, path) == RUN_INFO_FOOTER


@pytest.mark.parametrize("revision, shown", [
    ("0123456789abcdef0123456789abcdef01234567", "0123456789ab"),
    ("0123456789abcdef0123456789abcdef01234567-dirty", "0123456789ab-dirty"),
    ("unknown", "unknown"),
    ("unknown-dirty", "unknown-dirty"),
])
def test_short_revision_keeps_the_dirty_marker(revision, shown):
    assert load_module().short_revision(revision) == shown


@pytest.mark.parametrize("content, why", [
    (b"{not json", "Expecting property name"),
    (b"\xff\xfe\x00", "codec can't decode"),
    (b"[1, 2]", "top level is a JSON list, not an object"),
    (json.dumps({**RUN_INFO, "seed": "42"}).encode(), "'seed' is \"42\", not a JSON integer"),
    (json.dumps({**RUN_INFO, "seed": True}).encode(), "'seed' is true, not a JSON integer"),
    (json.dumps({**RUN_INFO, "seed": 4.5}).encode(), "'seed' is 4.5, not a JSON integer"),
    (json.dumps({k: v for k, v in RUN_INFO.items() if k != "backend"}).encode(),
     "no 'backend' key"),
    (json.dumps({**RUN_INFO, "git_revision": 7}).encode(),
     "'git_revision' is 7, not a JSON string"),
    (json.dumps({**RUN_INFO, "backend": " "}).encode(), "'backend' is empty"),
    (json.dumps({**RUN_INFO, "build_profile": "fast"}).encode(),
     "'build_profile' is \"fast\", not release or debug"),
])
def test_malformed_run_json_gives_the_unreadable_footer(tmp_path, content, why):
    module = load_module()
    path = tmp_path / "chaos_sweep_run.json"
    path.write_bytes(content)
    run_info, problem = module.read_run_info(path)
    assert run_info is None
    footer = module.provenance_footer(run_info, problem, path)
    assert footer.startswith(f"provenance: {path} unreadable (")
    assert why in footer


def test_missing_run_json_gives_the_missing_footer_and_still_plots(tmp_path):
    module = load_module()
    path = tmp_path / "writers_sweep" / "writers_sweep_run.json"
    run_info, problem = module.read_run_info(path)
    assert module.provenance_footer(run_info, problem, path) == f"provenance: {path} missing"
    csv_path = write_rows(tmp_path / "writers_sweep.csv", chaos_rows()[:3])
    result = run_plot(csv_path, "write_tps")
    assert_wrote(result, tmp_path / "writers_sweep.png")
    assert f"provenance: {path} missing" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def footer_drawn(module, monkeypatch, argv):
    """Run plot_results in-process and return the footer text of the figure it saved."""
    footers = []
    save = module.save_atomically

    def spy(fig, output):
        found = fig.findobj(lambda artist: artist.get_gid() == "provenance_footer")
        footers.extend(artist.get_text() for artist in found)
        save(fig, output)

    monkeypatch.setattr(module, "save_atomically", spy)
    assert module.main([str(arg) for arg in argv]) == 0
    assert len(footers) == 1
    return footers[0]


def test_every_mode_draws_the_footer(tmp_path, monkeypatch, comprehensive_csv, capsys):
    module = load_module()
    chaos_csv = make_chaos_csv(tmp_path)
    assert footer_drawn(module, monkeypatch, [chaos_csv, "--chaos"]) == RUN_INFO_FOOTER
    assert footer_drawn(module, monkeypatch,
                        [comprehensive_csv, "--output", tmp_path / "c.png"]) == RUN_INFO_FOOTER
    assert footer_drawn(module, monkeypatch, [comprehensive_csv, "num_writers", "--output",
                                              tmp_path / "s.png"]) == RUN_INFO_FOOTER
    broken = write_run_info(tmp_path, "chaos_sweep", {**RUN_INFO, "build_profile": "fast"})
    assert footer_drawn(module, monkeypatch, [chaos_csv, "--chaos"]).startswith(
        f"provenance: {broken} unreadable (")
    assert f"provenance: {broken} unreadable (" in capsys.readouterr().err


# ------------------------------------------------------ chart 8: rolling commits/s

def test_rolling_window_is_five_seconds_and_named_in_the_axis_label():
    module = load_module()
    assert module.ROLLING_WINDOW_S == 5


def test_rolling_rate_of_a_constant_rate_is_that_rate_from_the_first_second():
    rolling_rate = load_module().rolling_rate
    seconds, rates = rolling_rate(range(60), [3] * 60)
    assert seconds == list(range(60))
    assert rates == [3.0] * 60  # also before the first full window


def test_rolling_rate_spreads_a_spike_over_the_five_seconds_it_is_in_the_window():
    rolling_rate = load_module().rolling_rate
    counts = [0] * 30
    counts[10] = 5
    expected = [1.0 if 10 <= second <= 14 else 0.0 for second in range(30)]
    assert rolling_rate(range(30), counts)[1] == expected
    # The wrong window gives other numbers: this test pins the 5 s window.
    assert rolling_rate(range(30), counts, window=1)[1] != expected
    assert rolling_rate(range(30), counts, window=10)[1] != expected


def test_rolling_rate_divides_the_first_seconds_by_the_seconds_there_are():
    rolling_rate = load_module().rolling_rate
    counts = [5] + [0] * 9
    assert rolling_rate(range(10), counts)[1] == pytest.approx(
        [5.0, 2.5, 5 / 3, 1.25, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    # A timeline starting later than second 0 starts its window there.
    assert rolling_rate([7, 8, 9], [4, 4, 4])[1] == [4.0, 4.0, 4.0]


def test_rolling_rate_takes_unsorted_repeated_and_missing_seconds():
    rolling_rate = load_module().rolling_rate
    seconds, rates = rolling_rate([2, 0, 1, 1], [3, 3, 1, 2])  # second 1: 1 + 2
    assert seconds == [0, 1, 2] and rates == [3.0, 3.0, 3.0]
    nan = float("nan")
    seconds, rates = rolling_rate([0, 1, 2, nan], [3, nan, 3, 9])  # not seconds it has
    assert seconds == [0, 2] and rates == [3.0, 3.0]
    assert rolling_rate([], []) == ([], [])
    for window in (0, -5):
        with pytest.raises(ValueError, match="at least 1 s"):
            rolling_rate(range(5), [1] * 5, window=window)


def test_chart_8_draws_a_timeline_written_before_read_p50_ms_existed(tmp_path, capsys):
    module = load_module()
    labels = ["baseline", "net-block-10s-3x"]
    csv_path = make_chaos_csv(tmp_path, labels=labels)
    old = [column for column in HEADERS["timeline"] if column != "read_p50_ms"]
    write_csv(run_file(tmp_path, "chaos_sweep", "_timeline.csv"), old,
              [row[:len(old)] for row in timeline_rows(labels)])
    module.import_plotting_modules()
    fig = module.plot_chaos(module.load_main_csv(csv_path), csv_path)
    assert capsys.readouterr().err == ""
    lines = {line.get_label() for line in fig.axes[7].get_lines()}
    assert set(labels) <= lines


def test_chart_8_draws_the_rolling_rate_and_keeps_the_block_shading(tmp_path, capsys):
    module = load_module()
    labels = ["baseline", "net-block-10s-3x"]
    csv_path = make_chaos_csv(tmp_path, labels=labels)
    module.import_plotting_modules()
    fig = module.plot_chaos(module.load_main_csv(csv_path), csv_path)
    assert capsys.readouterr().err == ""
    ax_time = fig.axes[7]
    assert ax_time.get_ylabel() == "commits/s (rolling 5 s)"
    rows = timeline_rows(labels)
    lines = {line.get_label(): line for line in ax_time.get_lines()}
    for label in labels:
        counts = [row[2] for row in rows if row[0] == label]
        expected = module.rolling_rate(range(len(counts)), counts)[1]
        assert list(lines[label].get_xdata()) == list(range(1, len(counts) + 1))
        assert list(lines[label].get_ydata()) == pytest.approx(expected)
    blocked = list(lines["net-block-10s-3x"].get_ydata())
    assert blocked[14] == 0.0  # seconds 10..14 all inside the 5..15 block
    assert 0 < blocked[15] < max(blocked)  # climbing back one second after the block
    assert len(ax_time.patches) == 3  # the three block windows are still shaded
    module.plt.close(fig)


# ------------------------------------------------------- HOST-SATURATED marks

def host_frame(module, rows):
    module.import_plotting_modules()
    return module.pd.DataFrame(rows, columns=module.HOST_COLUMNS)


def test_saturated_scenarios_are_the_host_saturated_rows():
    module = load_module()
    labels = ["baseline", "net-delay-100ms", "cpu-4threads-80pct"]
    frame = host_frame(module, host_rows(labels, saturated={"net-delay-100ms"}))
    assert module.saturated_scenarios(frame) == ["net-delay-100ms"]
    assert module.saturated_scenarios(host_frame(module, host_rows(labels))) == []
    assert module.saturated_scenarios(None) == []  # no host sidecar: nothing marked
    twice = host_frame(module, host_rows(labels, saturated=labels) * 2)
    assert module.saturated_scenarios(twice) == labels


def test_shown_labels_combine_verdict_and_host_markers():
    module = load_module()
    labels = ["a", "b", "c", "d"]
    flags = {"a": "(INVALID: harness fault)", "c": "(UNKNOWN)"}
    assert module.shown_labels(labels, flags, ["a", "b"]) == [
        "a\n(INVALID: harness fault)\n(HOST-SATURATED)", "b\n(HOST-SATURATED)",
        "c\n(UNKNOWN)", "d"]
    assert module.shown_labels(labels, {}, []) == labels
    assert module.shown_labels(labels, flags) == ["a\n(INVALID: harness fault)", "b",
                                                  "c\n(UNKNOWN)", "d"]


def test_timeline_style_dashes_saturated_scenarios():
    module = load_module()
    assert module.timeline_style("x", ["x"]) == {"linestyle": "--",
                                                 "label": "x (host saturated)"}
    assert module.timeline_style("y", ["x"]) == {"linestyle": "-", "label": "y"}
    assert module.timeline_style("y", []) == {"linestyle": "-", "label": "y"}


def test_saturation_note_counts_only_the_plotted_scenarios():
    module = load_module()
    scenarios = list(CHAOS_SCENARIOS)
    assert module.saturation_note(scenarios, ["net-delay-500ms"]) == (
        "1 of 7 scenarios ran on a saturated host: their figures describe the machine, "
        "not fusio-manifest")
    assert module.saturation_note(scenarios, ["net-delay-500ms", "baseline", "gone"]) \
        .startswith("2 of 7 scenarios ran on a saturated host")
    assert module.saturation_note(scenarios, []) is None
    assert module.saturation_note(scenarios, ["not-a-scenario"]) is None


def chaos_figure(module, csv_path):
    module.import_plotting_modules()
    return module.plot_chaos(module.load_main_csv(csv_path), csv_path)


def figure_marks(fig):
    """(tick labels of the seven scenario-axis charts, chart 8 lines, chart 9 texts, title)."""
    ticks = [[label.get_text() for label in ax.get_xticklabels()] for ax in fig.axes[:7]]
    lines = {line.get_label(): line.get_linestyle() for line in fig.axes[7].get_lines()}
    texts = [text.get_text() for text in fig.axes[8].texts]
    return ticks, lines, texts, fig.get_suptitle()


def test_saturated_scenario_is_marked_on_every_chart(tmp_path, capsys):
    module = load_module()
    csv_path = make_chaos_csv(tmp_path, saturated={"net-delay-500ms"})
    set_verdicts(csv_path, {"net-delay-500ms": "INVALID: harness fault"})
    fig = chaos_figure(module, csv_path)
    assert capsys.readouterr().err == ""
    ticks, lines, texts, title = figure_marks(fig)
    for chart in ticks:
        assert chart[3] == "net-delay-500ms\n(INVALID: harness fault)\n(HOST-SATURATED)"
        assert sum("(HOST-SATURATED)" in tick for tick in chart) == 1
    assert lines["net-delay-500ms (host saturated)"] == "--"
    assert "net-delay-500ms" not in lines
    assert [style for label, style in lines.items() if "saturated" not in label] == ["-"] * 6
    legend = [text.get_text() for text in fig.axes[7].get_legend().get_texts()]
    assert "net-delay-500ms (host saturated)" in legend
    assert texts[3].startswith("net-delay-500ms (HOST-SATURATED): INVALID · ")
    assert sum("(HOST-SATURATED)" in text for text in texts) == 1
    assert title.endswith("\n1 of 7 scenarios ran on a saturated host: their figures "
                          "describe the machine, not fusio-manifest")
    module.plt.close(fig)


def test_saturated_run_writes_the_png_quietly(tmp_path):
    csv_path = make_chaos_csv(tmp_path, saturated={"baseline", "net-block-10s-3x"})
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    assert result.stderr == ""


def test_all_ok_host_marks_nothing(tmp_path, capsys):
    module = load_module()
    fig = chaos_figure(module, make_chaos_csv(tmp_path))
    assert capsys.readouterr().err == ""
    ticks, lines, texts, title = figure_marks(fig)
    assert not any("HOST-SATURATED" in tick for chart in ticks for tick in chart)
    assert set(lines.values()) == {"-"}
    assert not any("HOST-SATURATED" in text for text in texts)
    assert "saturated" not in title
    module.plt.close(fig)


def test_missing_host_sidecar_marks_nothing_and_still_plots(tmp_path, capsys):
    module = load_module()
    csv_path = make_chaos_csv(tmp_path)
    host = run_file(tmp_path, "chaos_sweep", "_host.csv")
    host.unlink()
    fig = chaos_figure(module, csv_path)
    note = capsys.readouterr().err
    assert note.splitlines() == [
        f"note: {host} is missing (runs of older harness versions have none):"
        f" no scenario is marked HOST-SATURATED"]
    ticks, lines, texts, title = figure_marks(fig)
    assert not any("HOST-SATURATED" in tick for chart in ticks for tick in chart)
    assert set(lines.values()) == {"-"}
    assert "saturated" not in title
    module.plt.close(fig)
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    assert result.stderr.splitlines() == note.splitlines()  # one note, no warning


def test_host_sidecar_problem_names_unknown_values():
    module = load_module()
    labels = ["a", "b", "c"]
    frame = host_frame(module, host_rows(labels, saturated={"b"}))
    assert module.host_sidecar_problem(frame) is None
    frame.loc[0, "host"] = "BUSY"
    frame.loc[2, "host"] = "host-saturated"
    assert module.unknown_host_values(frame) == [("a", "BUSY"), ("c", "host-saturated")]
    assert module.host_sidecar_problem(frame) == (
        "has unknown host value(s): 'BUSY' for scenario 'a', 'host-saturated' for "
        "scenario 'c' (expected OK or HOST-SATURATED)")


def rewrite_host(csv_path, header=None, value=None, lag=None):
    """Spoil the run's STEM_host.csv: rename its header, or set a host value or a lag
    (row of net-delay-100ms, which ran on a saturated host)."""
    host = run_file(csv_path.parent, csv_path.stem, "_host.csv")
    with open(host, newline="") as handle:
        rows = list(csv.reader(handle))
    row = next(row for row in rows[1:] if row[0] == "net-delay-100ms")
    if value is not None:
        row[-1] = value
    if lag is not None:
        row[1] = lag
    write_csv(host, header or rows[0], rows[1:])
    return host


@pytest.mark.parametrize("spoil, why", [
    ({"header": [*HEADERS["host"][:-1], "host_state"]},
     "is unreadable (missing columns: host)"),
    ({"header": ["scenario", *HEADERS["host"][1:]]},
     "is unreadable (missing columns: config_label)"),
    ({"value": "BUSY"}, "has unknown host value(s): 'BUSY' for scenario 'net-delay-100ms'"),
    ({"value": "saturated"}, "'saturated' for scenario 'net-delay-100ms'"),
    ({"value": ""}, "has unknown host value(s): '' for scenario 'net-delay-100ms'"),
    ({"lag": "fast"}, "is unreadable (non-numeric values in probe_lag_p50_ms)"),
])
def test_malformed_host_sidecar_is_reported_and_ignored(tmp_path, capsys, spoil, why):
    module = load_module()
    csv_path = make_chaos_csv(tmp_path, saturated={"net-delay-100ms"})
    host = rewrite_host(csv_path, **spoil)
    fig = chaos_figure(module, csv_path)
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 1, notes
    assert notes[0].startswith(f"⚠️  {host} ")
    assert why in notes[0]
    assert notes[0].endswith(": the file is ignored, no scenario is marked HOST-SATURATED")
    ticks, lines, texts, title = figure_marks(fig)
    assert not any("HOST-SATURATED" in tick for chart in ticks for tick in chart)
    assert set(lines.values()) == {"-"}
    assert "saturated" not in title
    module.plt.close(fig)


def test_unreadable_host_sidecar_is_not_fatal(tmp_path):
    csv_path = make_chaos_csv(tmp_path, saturated={"net-delay-100ms"})
    host = rewrite_host(csv_path, value="BUSY")
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert f"{host} has unknown host value(s): 'BUSY'" in result.stderr
    host.write_bytes(b"\xff\xfe\x00garbage")
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
    assert f"{host} is unreadable (" in result.stderr
    assert len(result.stderr.splitlines()) == 1
