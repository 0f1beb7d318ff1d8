"""End-to-end tests of plot_results.py, run as a subprocess to check exit codes."""

import csv
import importlib.util

import numpy as np
import pytest

from conftest import (
    CHAOS_SCENARIOS, COLUMNS, REGEN_CHAOS, RETRY_COLUMNS, SCRIPT, chaos_rows,
    make_chaos_csv, make_comprehensive_csv, png_size, run_plot, write_csv, write_rows,
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
        assert f"{name} is missing" in result.stderr
    assert REGEN_CHAOS in result.stderr


def test_malformed_sidecars_and_no_baseline(tmp_path):
    labels = [label for label in CHAOS_SCENARIOS if label != "baseline"]
    csv_path = make_chaos_csv(tmp_path, labels=labels)
    (tmp_path / "chaos_sweep_events.csv").write_text('config_label,t_ms\n"unterminated\n')
    (tmp_path / "chaos_sweep_verification.csv").write_bytes(b"\xff\xfe\x00garbage")
    result = run_plot(csv_path, "--chaos", "--output", tmp_path / "custom.png")
    assert assert_wrote(result, tmp_path / "custom.png") == CHAOS_PX
    assert not (tmp_path / "chaos_sweep.png").exists()
    assert "chaos_sweep_events.csv is unreadable" in result.stderr
    assert "chaos_sweep_verification.csv is unreadable" in result.stderr
    assert "Traceback" not in result.stderr


def test_sidecar_message_names_file_and_command(tmp_path):
    module = load_module()
    message = module.sidecar_problem_message(tmp_path / "chaos_sweep.csv", "timeline",
                                             "is missing")
    assert "chaos_sweep_timeline.csv is missing" in message
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
    assert module.verdict_color("UNKNOWN") == module.OTHER_VERDICT_COLOR
    csv_path = make_chaos_csv(tmp_path)
    sidecar = tmp_path / "chaos_sweep_verification.csv"
    with open(sidecar, newline="") as f:
        rows = list(csv.reader(f))
    rows[2][-1] = "INVALID: harness fault"
    write_csv(sidecar, rows[0], rows[1:])
    pandas = pytest.importorskip("pandas")
    verification = pandas.read_csv(sidecar)
    invalid = module.invalid_scenarios(verification)
    assert invalid == {rows[2][0]}
    labels = list(CHAOS_SCENARIOS)
    shown = module.shown_labels(labels, invalid)
    assert shown[1] == f"{labels[1]}\n(INVALID: harness fault)"
    assert shown[0] == labels[0]
    result = run_plot(csv_path, "--chaos")
    assert assert_wrote(result, tmp_path / "chaos_sweep.png") == CHAOS_PX
