"""Corrupted results, concurrent sweeps, tool paths and Dask faults, with the real tools and a real cluster.

Every sweep here characterizes tiny int MAC units (``--unit mac``), a few
seconds a point.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quidam.characterize.accelerator import WORKLOAD, trace_digest
from quidam.characterize.run_dir import REQUIRED_KEYS, RunDir, sources_digest
from quidam.characterize.tools import UnquotablePath, tcl_word, yosys_word
from quidam.config import AcceleratorConfig
from quidam.errors import PDKError
from quidam.testbenches import accelerator_runner

try:
    from quidam.pdk.locate import resolve_pdk_dir

    PDK = resolve_pdk_dir()
except PDKError as missing:
    pytest.skip(f"no Nangate45 data: {missing}", allow_module_level=True)

# Three MAC units (one per activation width): three design points.
THREE_POINTS = "base: {clock_mhz: 500}\ngrid: {act_bits: [2, 3, 4], wt_bits: [2]}\n"


def _characterize(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "quidam", "characterize", "--pe", "int", "--unit", "mac",
                           "--no-progress", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def _one_error_line(done) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
def sweep(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(THREE_POINTS)
    return path


def test_corrupted_metrics_are_named_and_recomputed_and_nothing_else(tmp_path, sweep):
    # The runs folder's name holds every character the tools' scripts accept besides letters and digits.
    runs = tmp_path / "runs+x=1,a@b%c~d"
    first = _characterize("--sweep", sweep, "--runs", runs, "--data", tmp_path / "a", "--jobs", 2)
    assert first.returncode == 0, first.stderr
    assert "3 design points: 3 new, 0 cached, 0 failed" in first.stdout
    metrics = sorted(Path(runs, "nangate45").glob("*/metrics.json"))
    assert len(metrics) == 3
    truncated, emptied, altered = metrics
    truncated.write_text(truncated.read_text()[:200])
    emptied.write_text("{}")
    record = json.loads(altered.read_text())
    record["synth__area__stdcell_um2"] *= 1.01
    altered.write_text(json.dumps(record))

    again = _characterize("--sweep", sweep, "--runs", runs, "--data", tmp_path / "b", "--jobs", 2)
    assert again.returncode == 0, again.stderr
    assert "3 design points: 3 new, 0 cached, 0 failed" in again.stdout
    assert f"recomputed: stored result {truncated}: malformed JSON" in again.stdout
    assert f"recomputed: stored result {emptied}: empty or not a JSON object" in again.stdout
    assert f"recomputed: stored result {altered}: its checksum does not match" in again.stdout
    assert (tmp_path / "b/int-mac.csv").read_text() == (tmp_path / "a/int-mac.csv").read_text()

    emptied.write_text("[]")
    third = _characterize("--sweep", sweep, "--runs", runs, "--data", tmp_path / "c")
    assert third.returncode == 0 and "1 new, 2 cached, 0 failed" in third.stdout, third.stdout
    assert f"recomputed: stored result {emptied}: empty or not a JSON object" in third.stdout


def test_a_record_missing_a_key_of_its_status_is_not_trusted(tmp_path):
    run = RunDir(tmp_path, "nangate45", {"any": "identity"})
    record = {"status": "ok", "design_id": run.design_id, "run_dir": str(run.path), "design": {}, "provenance": {},
              "synth__area__stdcell_um2": 1.0, "sta__timing__critical_path_ns": 1.0, "power__total__dynamic_w": 1.0}
    run.finish(record)
    assert run.cached() == record and run.corruption is None
    for key in REQUIRED_KEYS["ok"]:
        run.finish({name: value for name, value in record.items() if name != key})
        assert run.cached() is None
        assert run.corruption == f"stored result {run.metrics_path}: no key {key}"
    run.finish({**record, "design_id": "0" * 16})
    assert run.cached() is None and "the design id of another point" in run.corruption


def test_a_source_digest_follows_the_code_not_its_docstrings_or_comments(tmp_path):
    module = tmp_path / "block.py"
    module.write_text('"""A block."""\n\ndef width(n):\n    """Bits."""\n    return n + 1\n')
    (tmp_path / "table.txt").write_text("a table\n")
    digest = sources_digest([tmp_path], pattern="*")
    module.write_text('"""A block, documented again."""\n\n\ndef width(n):  # why\n'
                      '    """Bits of a word."""\n    return n + 1\n')
    assert sources_digest([tmp_path], pattern="*") == digest
    module.write_text('"""A block."""\n\ndef width(n):\n    """Bits."""\n    return n + 2\n')
    assert sources_digest([tmp_path], pattern="*") != digest
    module.write_text('"""A block."""\n\ndef width(n):\n    return "Bits."\n')
    assert sources_digest([tmp_path], pattern="*") != digest
    (tmp_path / "table.txt").write_text("a table  \n")  # not Python: every byte counts
    assert sources_digest([tmp_path], pattern="*") != digest


def test_a_recorded_trace_follows_the_program_the_mapper_makes(monkeypatch):
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=2, glb_kib=16, glb_banks=4)
    digest = trace_digest(config, WORKLOAD)
    assert trace_digest(config, {**WORKLOAD, "seed": 2}) != digest  # other operands
    assert trace_digest(dataclasses.replace(config, cols=3), WORKLOAD) != digest
    assert trace_digest(config, dict(WORKLOAD)) == digest
    # One more cycle in the model's figures (the simulation is checked against them): another trace.
    real = accelerator_runner.evaluate
    monkeypatch.setattr(accelerator_runner, "evaluate",
                        lambda schedule: dataclasses.replace(real(schedule), cycles=real(schedule).cycles + 1))
    assert trace_digest(config, WORKLOAD) != digest
    # A layer that does not map digests its error instead of failing.
    unmappable = dataclasses.replace(config, ifmap_spad_depth=6)
    assert trace_digest(unmappable, {**WORKLOAD, "layer": "resnet34:0", "dataset": "imagenet"}) != digest


def test_two_concurrent_identical_sweeps_share_one_runs_folder(tmp_path, sweep):
    runs = tmp_path / "runs"
    jobs = [subprocess.Popen([sys.executable, "-m", "quidam", "characterize", "--pe", "int", "--unit", "mac",
                              "--no-progress", "--sweep", str(sweep), "--runs", str(runs), "--data",
                              str(tmp_path / name), "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            for name in ("a", "b")]
    results = [job.communicate(timeout=900) for job in jobs]
    for job, (out, err) in zip(jobs, results):
        assert job.returncode == 0, err
        assert ", 0 failed" in out, out
    assert (tmp_path / "a/int-mac.csv").read_text() == (tmp_path / "b/int-mac.csv").read_text()
    assert len(list(Path(runs, "nangate45").glob("*/metrics.json"))) == 3


@pytest.mark.parametrize("name", ["r[exec touch PWNED]", "r x", "r$HOME", "r\"q", "r'q", "r;q", "r{q}"])
def test_runs_and_pdk_folders_with_script_metacharacters_are_refused(tmp_path, name):
    line = _one_error_line(subprocess.run([sys.executable, "-m", "quidam", "characterize-mac", "--pe", "int",
                                           "--runs", str(tmp_path / name)], capture_output=True, text=True,
                                          cwd=tmp_path))
    assert line.startswith(f"error: runs folder {str(tmp_path / name)!r}: the character ")
    pdk = tmp_path / name / "nangate45"  # refused before its files are looked for
    pdk.mkdir(parents=True)
    line = _one_error_line(_characterize("--pdk-dir", pdk, "--runs", tmp_path / "runs"))
    assert line.startswith("error: PDK folder ")
    assert not list(tmp_path.rglob("PWNED")) and not (tmp_path / "runs").exists()


def test_paths_in_scripts_are_quoted_or_refused():
    assert tcl_word("/a/b+c,d=e@f%g~h/x.lib") == "{/a/b+c,d=e@f%g~h/x.lib}"
    assert yosys_word("../../_liberty/x.lib") == '"../../_liberty/x.lib"'
    for bad in ("/a/[exec x]", "/a/$y", "/a b", "/a/\"", "/a/{", "/a/\\", "/a/;", "/a/#", "/a/\n"):
        with pytest.raises(UnquotablePath, match="cannot be passed to the tools' scripts"):
            tcl_word(bad)
        with pytest.raises(UnquotablePath):
            yosys_word(bad)


def test_a_failing_yosys_version_probe_is_an_environment_error(tmp_path):
    fake = tmp_path / "crashing-yosys"
    fake.write_text("#!/bin/sh\necho 'Yosys 9.99 (segmentation fault in 3 places)'\nexit 139\n")
    fake.chmod(0o755)
    line = _one_error_line(_characterize("--yosys", fake, "--runs", tmp_path / "runs"))
    assert "exited with status 139" in line


def _start(*argv, **options):
    return subprocess.Popen([sys.executable, "-m", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, **options)


@pytest.fixture
def scheduler(tmp_path):
    """A real ``dask scheduler`` process on localhost, and a function starting ``dask worker`` processes."""
    info = tmp_path / "scheduler.json"
    processes = [_start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(info))]
    deadline = time.monotonic() + 120
    while not info.exists() or not info.read_text().strip():
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.2)
    address = json.loads(info.read_text())["address"]

    def worker():
        processes.append(_start("distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
                                "--no-nanny", "--no-dashboard"))
        return processes[-1]

    yield address, processes[0], worker
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _when_started(job, timeout=300):
    """Wait for the sweep's header line (printed once its cluster is ready)."""
    deadline = time.monotonic() + timeout
    line = job.stdout.readline()
    assert line.startswith("sweep "), (line, job.stderr.read() if job.poll() is not None else "")
    assert time.monotonic() < deadline


def test_losing_every_worker_ends_the_sweep_after_the_timeout(tmp_path, sweep, scheduler):
    address, _, worker = scheduler
    only = worker()
    job = subprocess.Popen([sys.executable, "-m", "quidam", "characterize", "--pe", "int", "--unit", "mac",
                            "--no-progress", "--sweep", str(sweep), "--runs", str(tmp_path / "runs"), "--data",
                            str(tmp_path / "data"), "--scheduler", address, "--worker-timeout", "5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _when_started(job)
    os.killpg(only.pid, signal.SIGKILL)
    start = time.monotonic()
    out, err = job.communicate(timeout=300)
    assert job.returncode == 2, (out, err)
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "every Dask worker has been gone for more than 5 s (--worker-timeout)" in line
    assert time.monotonic() - start < 120


def test_a_lost_scheduler_is_one_line_and_exit_2(tmp_path, sweep, scheduler):
    address, process, worker = scheduler
    worker()
    job = subprocess.Popen([sys.executable, "-m", "quidam", "characterize", "--pe", "int", "--unit", "mac",
                            "--no-progress", "--sweep", str(sweep), "--runs", str(tmp_path / "runs"), "--data",
                            str(tmp_path / "data"), "--scheduler", address],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _when_started(job)
    os.killpg(process.pid, signal.SIGKILL)
    out, err = job.communicate(timeout=300)
    assert job.returncode == 2, (out, err)
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: lost the Dask scheduler at {address}")
