"""Characterize one design point: synthesis, timing, power, in its own run folder.

:func:`characterize_point` runs ``1_synth`` (:mod:`~quidam.characterize.synth`),
``2_sta`` (:mod:`~quidam.characterize.sta`) and ``3_power``
(:mod:`~quidam.characterize.activity`, :mod:`~quidam.characterize.power`) for
a :class:`~quidam.characterize.design.Design` on the Nangate45 platform and
writes ``metrics.json`` (see :mod:`~quidam.characterize.run_dir` for the
folder layout and the design id). It is a plain function of picklable data,
so a sweep can map it over points on worker processes; each point reads and
writes only its own folder (plus the shared, atomically filled Liberty cache).

Environment problems (a missing tool, missing or corrupt PDK files) raise
:class:`~quidam.errors.ToolError` / :class:`~quidam.errors.PDKError` before any
folder is written. A failure of the design point itself (Yosys rejects the
Verilog, the netlist disagrees with the golden model, a report lacks a value)
is recorded in ``failed.json`` with the stage, the reason, the log and the
metrics of the stages that finished, and
returned (raised as :class:`PointFailed` with ``strict=True``). A stored
result is returned only when it verifies (:meth:`RunDir.cached`), and a point
is computed only under its run folder's lock (:meth:`RunDir.lock`).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform as host_platform
import socket
import time
from pathlib import Path
from typing import Any

from quidam import __version__
from quidam.errors import PDKError, QuidamError
from quidam.files import write_text
from quidam.inputs import output_dir
from quidam.pdk import platform as platform_settings
from quidam.pdk.locate import SRAM_MACRO_DIR, cell_library_path, file_sha256, resolve_pdk_dir
from quidam.pdk.sram import SRAMMacro, read_sram_macro

from . import activity, partition, power, sta, synth
from .cells import cell_library
from .design import Design, ports_of
from .run_dir import RunDir, canonical_json, sources_digest
from .tools import ToolFailure, check_script_path, iverilog_tool, sta_tool, tool_versions, vvp_tool, yosys_tool

__all__ = ["ORCHESTRATION_MODULES", "PLATFORM", "PointFailed", "characterize_point", "check_environment",
           "flow_source_digest", "point_run_dir"]

#: Platform name: the folder under the runs root.
PLATFORM = "nangate45"

#: Corner of the standard-cell library used for synthesis, timing and power.
CORNER = "typ"


class PointFailed(QuidamError):
    """A design point failed (raised only with ``strict=True``); ``record`` is its ``failed.json``."""

    def __init__(self, record: dict[str, Any]):
        super().__init__(f"design point {record['design_id']} failed in {record['stage']}: {record['reason']} "
                         f"(see {record['failed_json']})")
        self.record = record


#: Modules of this package that orchestrate points but cannot change one point's result (sweeps, dataset,
#: command line): left out of :func:`flow_source_digest`, so editing them keeps every cached point valid.
ORCHESTRATION_MODULES = frozenset({"__init__.py", "cli.py", "points.py", "sweep.py", "dataset.py", "blocks.py",
                                   "block_dataset.py"})


def flow_source_digest() -> str:
    """SHA-256 over this package's flow sources (``characterize/*.py`` but :data:`ORCHESTRATION_MODULES`)
    and the platform settings they read (:mod:`quidam.pdk.platform`)."""
    return hashlib.sha256("".join([
        sources_digest([Path(__file__).parent], exclude=ORCHESTRATION_MODULES),
        sources_digest([Path(platform_settings.__file__).parent], pattern=Path(platform_settings.__file__).name),
    ]).encode()).hexdigest()


def check_environment(runs_root: str | os.PathLike[str], pdk_dir: str | os.PathLike[str] | None,
                      yosys: str | None) -> tuple[Path, Path]:
    """Check, before any work, that the flow can run; the runs folder (created) and the PDK folder, absolute.

    Raises
    ------
    PDKError
        No PDK folder or cell library.
    ToolError
        A tool is missing or its version probe fails, or a folder's path cannot be quoted in the tools'
        scripts (:func:`~quidam.characterize.tools.check_script_path`).
    InputError
        The runs folder cannot be created.
    """
    pdk = resolve_pdk_dir(pdk_dir)
    check_script_path(pdk, "PDK folder")
    cell_library_path(CORNER, pdk)
    tool_versions(yosys)
    runs = Path(runs_root).resolve()
    check_script_path(runs, "runs folder")
    return output_dir(runs, "runs folder"), pdk


def _macros(design: Design, pdk_dir: Path) -> list[SRAMMacro]:
    """The design's SRAM macros: each entry a Liberty path, or a macro name looked up in the PDK."""
    macros = []
    for entry in design.macros:
        path = Path(entry)
        if not path.is_file():
            path = pdk_dir / SRAM_MACRO_DIR / f"{entry}.lib"
            if not path.is_file():
                raise PDKError(f"SRAM macro {entry}: no such Liberty file, nor {path}")
        macros.append(read_sram_macro(path))
    return macros


def _identity(design: Design, versions: dict[str, str], library: Path, macros: list[SRAMMacro]) -> dict[str, Any]:
    return {
        "platform": PLATFORM,
        "corner": CORNER,
        "design": {"name": design.name, "top": design.top, "clock_port": design.clock_port,
                   "clock_mhz": design.clock_mhz, "params": design.params,
                   **({"blocks": [list(block) for block in design.blocks]} if design.blocks else {})},
        "verilog_sha256": design.verilog_digest,
        "stimulus_sha256": design.stimulus.digest,
        **({"variants": {name: stimulus.digest for name, stimulus in design.variants}} if design.variants else {}),
        "tools": versions,
        "pdk": {path.name: file_sha256(path) for path in [library, *(m.liberty_path for m in macros)]},
        "flow_sha256": flow_source_digest(),
    }


def _provenance(design: Design, identity: dict[str, Any], runtimes: dict[str, float]) -> dict[str, Any]:
    return {
        "quidam": __version__,
        "tools": identity["tools"],
        "generator_sha256": design.generator_digest,
        "config_sha256": hashlib.sha256(canonical_json(identity["design"]["params"]).encode()).hexdigest(),
        "verilog_sha256": identity["verilog_sha256"],
        "stimulus_sha256": identity["stimulus_sha256"],
        "pdk": identity["pdk"],
        "flow_sha256": identity["flow_sha256"],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "python": host_platform.python_version(),
        "runtime_s": runtimes,
    }


def _run_stages(design: Design, run: RunDir, liberty: Path, macros: list[SRAMMacro], yosys: str | None,
                runtimes: dict[str, float], metrics: dict[str, Any]) -> None:
    """Every stage in turn, its metrics added to ``metrics`` as it finishes (a failure keeps the finished
    stages' ones)."""
    rtl = run.stage("0_rtl") / f"{design.name}.v"
    write_text(rtl, design.verilog)
    libraries = [liberty, *(macro.liberty_path for macro in macros)]

    clock = time.perf_counter()
    metrics.update(synth.synthesize(yosys_tool(yosys), stage_dir=run.stage(synth.STAGE), verilog=rtl,
                                    top=design.top, clock_port=design.clock_port, liberty=liberty, macros=macros,
                                    clock_period_ns=design.period_ns, blocks=design.blocks))
    netlist = run.stage(synth.STAGE) / "netlist.v"
    runtimes["synth"] = time.perf_counter() - clock

    clock = time.perf_counter()
    sta_dir = run.stage(sta.STAGE)
    metrics.update(sta.analyze_timing(sta_tool(), stage_dir=sta_dir, libraries=libraries, netlist=netlist,
                                      top=design.top, clock_port=design.clock_port, period_ns=design.period_ns))
    runtimes["sta"] = time.perf_counter() - clock

    clock = time.perf_counter()
    power_dir = run.stage(power.STAGE)
    # The replays share the netlist's simulation model and each instance's power at activity 0 and 1; a flat
    # netlist's replays also share one simulation.
    simulated = netlist.parent / synth.HIERARCHICAL_NETLIST if design.blocks else netlist
    model = activity.simulation_model(yosys_tool(yosys), folder=power_dir, netlist=simulated, liberty=liberty,
                                      macros=macros, top=design.top)
    folders = [power_dir, *(power_dir / name for name, _ in design.variants)]
    ports = ports_of(netlist.read_text())
    stimuli = [_stimulus(design, workload, folder, ports)
               for folder, workload in zip(folders, [design.stimulus, *(w for _, w in design.variants)])]
    measured = _activities(design, list(zip(folders, stimuli)), rtl, netlist, ports, liberty, macros, yosys, model)
    for index, (folder, stimulus, found) in enumerate(zip(folders, stimuli, measured)):
        figures = _power(design, stimulus, found, folder, netlist, sta_dir, liberty, macros,
                         instance_power=power_dir / "instance_power.txt" if index else None)
        prefix = f"variant__{folder.name}__" if index else ""
        metrics.update({f"{prefix}{key}": value for key, value in figures.items()})
    runtimes["power"] = time.perf_counter() - clock


def _stimulus(design: Design, workload: Any, folder: Path, ports: dict[str, tuple[str, int]]) -> activity.Stimulus:
    """``workload``'s vectors (resolved in ``folder``), checked to drive the inputs of the netlist's ``ports``
    (:func:`~quidam.characterize.design.ports_of`)."""
    folder.mkdir(parents=True, exist_ok=True)
    stimulus = workload.resolve(folder)
    inputs = {name: width for name, (direction, width) in ports.items()
              if direction == "input" and name != design.clock_port}
    driven = dict(stimulus.inputs)
    if driven != inputs:
        raise ToolFailure(power.STAGE, f"the stimulus drives {driven} but the netlist's inputs are {inputs}")
    return stimulus


def _activities(design: Design, replays: list[tuple[Path, activity.Stimulus]], rtl: Path, netlist: Path,
                ports: dict[str, tuple[str, int]], liberty: Path, macros: list[SRAMMacro], yosys: str | None,
                model: str) -> list[dict[str, Any]]:
    """The activity of each replay ``(folder, stimulus)`` of ``netlist``.

    A design with blocks (synthesized with its hierarchy) is simulated one module instance at a time
    (:mod:`~quidam.characterize.partition`), a replay after another; any other flat, the first replay and
    those that hold their inputs after reset (idle) in one simulation
    (:func:`~quidam.characterize.activity.simulate_replays`: one compile and one load of the model), each
    other on its own. ``model`` is the simulated netlist's
    :func:`~quidam.characterize.activity.simulation_model`."""
    library = cell_library(liberty)
    if design.blocks:
        return [partition.simulate_partitioned(
            yosys_tool(yosys), iverilog_tool(), vvp_tool(), stage_dir=folder,
            hierarchical_netlist=netlist.parent / synth.HIERARCHICAL_NETLIST,
            fanout_sources=netlist.parent / synth.FANOUT_SOURCES, rtl=rtl, liberty=liberty, library=library,
            macros=macros, top=design.top, clock_port=design.clock_port, stimulus=stimulus, model=model)
            for folder, stimulus in replays]
    outputs = [(name, width) for name, (direction, width) in ports.items() if direction == "output"]
    together = [0, *(index for index, (_, stimulus) in enumerate(replays) if index and stimulus.holds_inputs)]
    groups = [together, *([index] for index in range(len(replays)) if index not in together)]
    found: dict[int, dict[str, Any]] = {}
    for group in groups:
        results = activity.simulate_replays(
            yosys_tool(yosys), iverilog_tool(), vvp_tool(), replays=[replays[index] for index in group],
            netlist=netlist, liberty=liberty, library=library, macros=macros, top=design.top,
            clock_port=design.clock_port, outputs=outputs, model=model)
        found.update(zip(group, results))
    return [found[index] for index in range(len(replays))]


def _power(design: Design, stimulus: activity.Stimulus, measured: dict[str, Any], power_dir: Path, netlist: Path,
           sta_dir: Path, liberty: Path, macros: list[SRAMMacro],
           instance_power: Path | None = None) -> dict[str, Any]:
    """Stage ``3_power``'s figures of one replay in ``power_dir`` from its activity ``measured``;
    ``instance_power`` another replay's (:func:`~quidam.characterize.power.analyze_power`)."""
    inputs = {name: width for name, width in stimulus.inputs}
    libraries = [liberty, *(macro.liberty_path for macro in macros)]
    return power.analyze_power(sta_tool(), stage_dir=power_dir, libraries=libraries, netlist=netlist,
                               top=design.top, sdc=sta_dir / "constraints.sdc", period_ns=design.period_ns,
                               stimulus=stimulus, activity=measured, widths=inputs, library=cell_library(liberty),
                               macro_cells={macro.name for macro in macros}, blocks=design.blocks,
                               instance_power=instance_power)


def _locate(design: Design, pdk_dir: str | os.PathLike[str] | None, runs_root: str | os.PathLike[str],
            yosys: str | None) -> tuple[RunDir, Path, list[SRAMMacro]]:
    """The point's run folder, the cell library (gzipped Liberty) and its SRAM macros."""
    pdk = resolve_pdk_dir(pdk_dir)
    library_gz = cell_library_path(CORNER, pdk)
    macros = _macros(design, pdk)
    identity = _identity(design, tool_versions(yosys), library_gz, macros)
    return RunDir(runs_root, PLATFORM, identity), library_gz, macros


def point_run_dir(design: Design, *, pdk_dir: str | os.PathLike[str] | None = None,
                  runs_root: str | os.PathLike[str] = "runs", yosys: str | None = None) -> RunDir:
    """The run folder (and so the design id) :func:`characterize_point` uses for ``design``; runs nothing.

    A sweep calls it to find duplicate points and stored results before it
    hands work to its workers. Parameters and errors (``ToolError``,
    ``PDKError``) as for :func:`characterize_point`.
    """
    return _locate(design, pdk_dir, runs_root, yosys)[0]


def characterize_point(design: Design, *, pdk_dir: str | os.PathLike[str] | None = None,
                       runs_root: str | os.PathLike[str] = "runs", yosys: str | None = None,
                       retry: bool = False, strict: bool = False) -> dict[str, Any]:
    """Synthesize, time and power one design point, or return its stored result.

    Parameters
    ----------
    design : Design
        What to characterize (e.g. :func:`~quidam.characterize.mac.mac_design`).
    pdk_dir : path, optional
        PDK directory (see :func:`~quidam.pdk.locate.resolve_pdk_dir`).
    runs_root : path
        Root of the run folders; the point goes to ``<runs_root>/nangate45/<design id>/``.
    yosys : str, optional
        ``native``, ``yowasp`` or a Yosys command (default ``$QUIDAM_YOSYS``, else ``native``: see
        :mod:`~quidam.characterize.tools`).
    retry : bool
        Run a point again whose stored result is a failure.
    strict : bool
        Raise :class:`PointFailed` instead of returning a failure record.

    Returns
    -------
    dict
        The content of ``metrics.json`` (``status`` ``"ok"``: ``design_id``,
        ``run_dir``, ``design``, the ``synth__*``, ``sta__*`` and ``power__*``
        metrics, ``provenance``), or of ``failed.json`` (``status``
        ``"failed"``: ``design_id``, ``run_dir``, ``stage``, ``reason``, ``log``,
        ``metrics`` of the stages before the failing one).

    Raises
    ------
    ToolError
        A tool is missing (the message says what to install).
    PDKError
        The PDK files are missing or corrupt.
    PointFailed
        With ``strict=True``, when the point fails (now or in a stored run).
    """
    run, library_gz, macros = _locate(design, pdk_dir, runs_root, yosys)
    with run.lock():  # another process computing this point finishes first; its result is then read back
        stored = run.cached()
        if stored is not None and (stored["status"] == "ok" or not retry):
            if stored["status"] != "ok" and strict:
                raise PointFailed(stored)
            return stored
        return _compute(design, run, library_gz, macros, yosys, strict)


def _compute(design: Design, run: RunDir, library_gz: Path, macros: list[SRAMMacro], yosys: str | None,
             strict: bool) -> dict[str, Any]:
    """Run every stage of ``design`` in ``run`` (whose lock the caller holds) and record the result."""
    identity = run.identity
    run.start()
    liberty = synth.uncompressed_liberty(library_gz, run.path.parent / "_liberty")
    runtimes: dict[str, float] = {}
    metrics: dict[str, Any] = {}
    head = {"design_id": run.design_id, "run_dir": str(run.path)}
    try:
        _run_stages(design, run, liberty, macros, yosys, runtimes, metrics)
    except ToolFailure as failure:
        record = {**head, "status": "failed", "stage": failure.stage, "reason": failure.reason,
                  "log": str(failure.log) if failure.log else None, "failed_json": str(run.failed_path),
                  "metrics": metrics, "provenance": _provenance(design, identity, runtimes)}
        run.fail(record)
        if strict:
            raise PointFailed(record) from None
        return record
    result = {**head, "status": "ok", "platform": PLATFORM, "design": identity["design"], **metrics,
              "provenance": _provenance(design, identity, runtimes)}
    run.finish(result)
    return result
