"""Sweeps on Dask with the real tools: a real scheduler and worker processes, kill and resume, cache, bad input.

The points are MAC units (``unit="mac"``, ``--unit mac``) of pe_type int with
2- and 3-bit operands (a few seconds each through Yosys, OpenSTA and Icarus);
the array fields in the grids do not change the MAC, so they also exercise the
deduplication of configurations that share one design point. Whole
accelerator points are tested in ``test_characterize_accelerator.py``.
"""

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quidam.characterize import sweep as sweep_module
from quidam.characterize.dataset import dataset_path, update_dataset
from quidam.characterize.design import design_from_verilog
from quidam.characterize.mac import mac_design
from quidam.characterize.points import load_sweep
from quidam.characterize.sweep import SweepError, run_sweep
from quidam.cli import main
from quidam.config import AcceleratorConfig
from quidam.errors import ConfigError, PDKError

try:
    from quidam.pdk.locate import resolve_pdk_dir

    resolve_pdk_dir()
except PDKError as missing:
    pytest.skip(f"no Nangate45 data: {missing}", allow_module_level=True)

# 2 operand widths x 2 x 2 array rows: 8 configurations, 4 design points.
SMALL_SWEEP = """\
description: tiny int MACs
base: {cols: 2, clock_mhz: 500}
grid:
  act_bits: [2, 3]
  wt_bits: [2, 3]
  rows: [2, 3]
"""


def _sweep_file(tmp_path, text=SMALL_SWEEP, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _stamps(runs):
    """metrics.json of every finished point: design id -> (mtime_ns, content)."""
    return {path.parent.name: (path.stat().st_mtime_ns, path.read_bytes())
            for path in Path(runs, "nangate45").glob("*/metrics.json")}


def _cluster(**options):
    """A real Dask scheduler and workers on localhost (no dashboard, HTTP server on a free port)."""
    from dask.distributed import LocalCluster

    return LocalCluster(dashboard_address=None, silence_logs=logging.CRITICAL,
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, **options)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "quidam", "characterize", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def test_sweep_through_a_dask_scheduler_then_all_cached(tmp_path, capsys):
    configs = load_sweep(_sweep_file(tmp_path), "int")
    assert len(configs) == 8 and not configs.skipped
    runs = tmp_path / "runs"
    with _cluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        summary = run_sweep(configs, scheduler=cluster.scheduler_address, runs_root=runs, progress=False, unit="mac")
    assert (summary.new, summary.cached, summary.failed) == (4, 0, 0)
    assert [point.config for point in summary.points] == list(configs)
    by_widths = {}
    for point in summary.points:
        assert point.status == "new"
        metrics = point.record
        assert metrics["status"] == "ok" and metrics["design_id"] == point.design_id
        assert metrics["power__activity__results_checked"] == metrics["power__activity__measured_cycles"] > 0
        assert metrics["synth__area__total_um2"] > 0 and metrics["power__total__dynamic_w"] > 0
        by_widths.setdefault((point.config.act_bits, point.config.wt_bits), set()).add(point.design_id)
    assert all(len(ids) == 1 for ids in by_widths.values())  # the rows do not change the MAC: one point
    assert len(set().union(*by_widths.values())) == 4
    area = {(p.config.act_bits, p.config.wt_bits): p.record["synth__area__total_um2"] for p in summary.points}
    assert area[(2, 2)] < area[(3, 3)]

    csv_path = dataset_path(tmp_path / "data", "int-mac")
    assert update_dataset([(p.config, p.record) for p in summary.points], csv_path) == 8
    with open(csv_path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 8
    for row in rows:
        stored = Path(runs, "nangate45", row["design_id"], "metrics.json")
        metrics = json.loads(stored.read_text())
        assert float(row["synth__area__total_um2"]) == metrics["synth__area__total_um2"]
        assert float(row["sta__timing__fmax_mhz"]) == metrics["sta__timing__fmax_mhz"]
        assert float(row["power__mac__energy_per_op_j"]) == metrics["power__mac__energy_per_op_j"]
        assert row["pe_type"] == "int" and row["cols"] == "2" and row["clock_mhz"] == "500.0"
    assert [(row["act_bits"], row["wt_bits"], row["rows"]) for row in rows] == sorted(
        (row["act_bits"], row["wt_bits"], row["rows"]) for row in rows)

    # Second run, embedded cluster, through the command line: every point cached, nothing rewritten.
    before = _stamps(runs)
    main(["characterize", "--pe", "int", "--unit", "mac", "--sweep", str(tmp_path / "sweep.yaml"), "--jobs", "1",
          "--runs", str(runs), "--data", str(tmp_path / "data"), "--no-progress"])  # returns: exit status 0
    out = capsys.readouterr().out
    assert "8 configurations, 4 design points: 0 new, 4 cached, 0 failed" in out
    assert f"dataset {csv_path}: 8 rows" in out
    assert _stamps(runs) == before


def test_a_killed_sweep_resumes_without_recomputing_or_losing_a_point(tmp_path):
    sweep = _sweep_file(tmp_path, SMALL_SWEEP.replace("rows: [2, 3]", "rows: [2]"))
    runs, data = tmp_path / "runs", tmp_path / "data"
    args = ["--pe", "int", "--unit", "mac", "--sweep", sweep, "--jobs", "1", "--runs", runs, "--data", data,
            "--no-progress"]
    process = subprocess.Popen([sys.executable, "-m", "quidam", "characterize", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while not _stamps(runs):
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "no point finished in 300 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the whole sweep: command, cluster, workers, tools
        process.wait()
    done = _stamps(runs)
    assert 1 <= len(done) < 4, "the sweep was not stopped midway"
    assert not dataset_path(data, "int-mac").exists()

    resumed = _cli(*args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"4 design points: {4 - len(done)} new, {len(done)} cached, 0 failed" in resumed.stdout
    after = _stamps(runs)
    assert len(after) == 4
    assert {design_id: after[design_id] for design_id in done} == done  # not recomputed, not rewritten
    with open(dataset_path(data, "int-mac"), newline="") as stream:
        assert sorted(row["design_id"] for row in csv.DictReader(stream)) == sorted(after)


def test_a_failed_point_is_counted_and_does_not_stop_the_sweep(tmp_path, monkeypatch):
    """In-process workers (threads) so the patched design_for reaches them: one design is broken Verilog."""
    broken = tmp_path / "broken.v"
    broken.write_text("module broken(input clk, output reg q);\n  always @(posedge clk) q <= ;\nendmodule\n")

    def design_for(config, pdk_dir=None, unit="accelerator"):
        design = mac_design(config, ops=200)
        if config.act_bits == 3:
            return design_from_verilog(broken, top="broken", params={"case": "broken"}, clock_mhz=500,
                                       stimulus=design.stimulus)
        return design

    monkeypatch.setattr(sweep_module, "design_for", design_for)
    configs = [AcceleratorConfig(pe_type="int", act_bits=bits, wt_bits=2, clock_mhz=500) for bits in (2, 3)]
    runs = tmp_path / "runs"
    with _cluster(n_workers=1, threads_per_worker=2, processes=False) as cluster:
        summary = run_sweep(configs, scheduler=cluster.scheduler_address, runs_root=runs, progress=False, unit="mac")
        assert (summary.new, summary.cached, summary.failed) == (1, 0, 1), summary.format()
        (failure,) = summary.failures
        assert failure["stage"] == "1_synth" and "syntax error" in failure["reason"], failure
        assert Path(failure["failed_json"]).is_file()
        text = summary.format()
        assert "1 new, 0 cached, 1 failed" in text and failure["failed_json"] in text

        stamp = Path(failure["log"]).stat().st_mtime_ns
        again = run_sweep(configs, scheduler=cluster.scheduler_address, runs_root=runs, progress=False, unit="mac")
        assert (again.new, again.cached, again.failed) == (0, 1, 1), again.format()
        assert "--retry-failed" in again.format()
        assert Path(failure["log"]).stat().st_mtime_ns == stamp

        retried = run_sweep(configs, scheduler=cluster.scheduler_address, runs_root=runs, progress=False, unit="mac",
                            retry_failed=True)
        assert (retried.new, retried.cached, retried.failed) == (0, 1, 1)
        assert retried.failures[0]["stage"] == "1_synth" and not retried.failures[0].get("stored")


def _fails(capsys, *args):
    with pytest.raises(SystemExit) as done:
        main(["characterize", *map(str, args)])
    assert done.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    (line,) = captured.err.strip().splitlines()
    return line


@pytest.mark.parametrize("text, message", [
    ("base: {rows: 4}\ngrid: {colz: [2, 4]}\n", "grid: unknown field 'colz'; allowed fields: pe_type"),
    ("base: {rows: 4}\ngrids: {cols: [2]}\n", "unknown key 'grids'; allowed keys: description, dataset, base, grid"),
    ("grid: {rows: [2, 99]}\n", "grid: rows: must be an integer in 2..32, not 99"),
    ("grid: {rows: 4}\n", "grid: rows: must be a non-empty list of values, not 4"),
    ("base: {glb_word_bits: 24}\n", "base: glb_word_bits: must be one of 16, 32, 64, 128, not 24"),
    ("grid: {pe_type: [int, fp32]}\n", "pe_type is not a grid field; the PE type is chosen with --pe"),
    ("base: {pe_type: fp32}\n", "base: pe_type is 'fp32' but the sweep runs pe_type int"),
    ("grid: {rows: [2, 4]\n", "malformed YAML at line 2"),
    ("- rows\n", "must be a mapping with keys description, dataset, base, grid, not list"),
    ("dataset: Held-Out\ngrid: {rows: [2]}\n", "dataset: must be a name of lower-case letters, digits and _"),
    ("base: {act_bits: 8}\ngrid: {psum_bits: [8, 9]}\n", "no valid configuration of pe_type int; e.g. "
                                                         "{'psum_bits': 8}: psum_bits: must be at least"),
])
def test_bad_sweep_files_exit_2_with_a_clear_message(tmp_path, capsys, text, message):
    line = _fails(capsys, "--pe", "int", "--sweep", _sweep_file(tmp_path, text), "--runs", tmp_path / "runs")
    assert line.startswith(f"error: sweep {tmp_path / 'sweep.yaml'}: ")
    assert message in line
    assert not (tmp_path / "runs").exists()


def test_bad_arguments_exit_2_with_a_clear_message(tmp_path, capsys, monkeypatch):
    assert "not a built-in sweep (default, heldout, full, scale) and cannot be read" in _fails(capsys, "--pe", "int", "--sweep",
                                                                                 tmp_path / "none.yaml")
    assert "pe_type: must be one of fp32, int16, lightpe1, lightpe2, int, not 'int9'" in _fails(capsys, "--pe",
                                                                                                 "int9")
    assert "act_bits: pe_type lightpe1 fixes it at 8, not 2" in _fails(
        capsys, "--pe", "lightpe1", "--sweep", _sweep_file(tmp_path))
    assert "with --scheduler the scheduler's workers run the points" in _fails(
        capsys, "--pe", "int", "--sweep", _sweep_file(tmp_path), "--jobs", 2, "--scheduler", "tcp://127.0.0.1:9",
        "--runs", tmp_path / "runs")
    assert "no-such-yosys not found on PATH" in _fails(capsys, "--pe", "int", "--sweep", _sweep_file(tmp_path),
                                                       "--yosys", "no-such-yosys", "--runs", tmp_path / "runs")
    monkeypatch.setattr(sweep_module, "_CONNECT_TIMEOUT_S", 1)
    with pytest.raises(SweepError, match="cannot connect to the Dask scheduler at tcp://127.0.0.1:9"):
        run_sweep(load_sweep(_sweep_file(tmp_path), "int"), scheduler="tcp://127.0.0.1:9", runs_root=tmp_path)


def test_builtin_sweeps_and_skipped_combinations(tmp_path):
    for pe_type in ("fp32", "int16", "lightpe1", "lightpe2"):
        default, full = load_sweep("default", pe_type), load_sweep("full", pe_type)
        assert len(default) == 8 and len(full) == 4 * 4 * 2 * 2 * 3 * 3
        assert {config.pe_type for config in default + full} == {pe_type}
        assert {(c.rows, c.cols) for c in default} == {(2, 2), (2, 3), (3, 2), (3, 3)}
        assert {c.glb_kib for c in full} == {54, 108, 216} and {c.psum_spad_depth for c in full} == {16, 24, 32}
        # Held-out points: never in the default sweep, every field within the default sweep's values.
        heldout = load_sweep("heldout", pe_type)
        assert len(heldout) == 4 and heldout.dataset == "heldout" and default.dataset == ""
        assert not set(heldout) & set(default)
        for name in ("rows", "cols", "ifmap_spad_depth", "filter_spad_depth", "psum_spad_depth", "glb_kib"):
            assert {getattr(c, name) for c in heldout} <= {getattr(c, name) for c in default}, name
    widths = {(c.act_bits, c.wt_bits) for c in load_sweep("default", "int")}
    assert widths == {(4, 4), (4, 8), (8, 4), (8, 8)}

    # Valid values, invalid together (108 KiB does not split into 5 banks): skipped and counted; repeats once.
    sweep = load_sweep(_sweep_file(tmp_path, "grid:\n  glb_kib: [100, 108, 100]\n  glb_banks: [4, 5]\n"), "int16")
    assert [(c.glb_kib, c.glb_banks) for c in sweep] == [(100, 4), (100, 5), (108, 4)]
    assert len(sweep.skipped) == 1 and sweep.skipped[0][0] == {"glb_kib": 108, "glb_banks": 5}
    assert "glb_banks" in sweep.skipped[0][1]
    with pytest.raises(ConfigError, match="no valid configuration"):
        load_sweep(_sweep_file(tmp_path, "base: {glb_kib: 108}\ngrid: {glb_banks: [5, 7]}\n"), "int16")


def test_a_failed_point_makes_characterize_exit_1(tmp_path, monkeypatch, capsys):
    """The command's exit status, not the sweep: a summary with a failure exits 1 after printing it."""
    import quidam.characterize.cli as characterize_cli
    from quidam.characterize.sweep import SweepSummary

    monkeypatch.setattr(characterize_cli, "run_sweep", lambda *args, **kwargs: SweepSummary(new=0, cached=0, failed=1))
    with pytest.raises(SystemExit) as done:
        main(["characterize", "--pe", "lightpe1", "--data", str(tmp_path)])
    assert done.value.code == 1 and "no finished point: dataset not written" in capsys.readouterr().out


def test_run_tasks_spreads_the_work_over_real_workers_and_reports_a_failing_task():
    # The block characterization's parallel loop, on an embedded Dask cluster of two worker processes.
    import math
    from quidam.characterize.sweep import run_tasks

    found = sorted(run_tasks(math.factorial, [3, 5, 4], jobs=2))
    assert found == [(0, 6, None), (1, 120, None), (2, 24, None)]
    (index, value, failure), = list(run_tasks(math.sqrt, [-1.0], jobs=1))
    assert (index, value) == (0, None) and failure["status"] == "failed"
    assert "ValueError" in failure["reason"]
    with pytest.raises(SweepError, match="at least 1"):
        list(run_tasks(math.sqrt, [1.0], jobs=0))
