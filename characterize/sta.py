"""Stage ``2_sta``: OpenSTA static timing of the mapped netlist: worst slack, critical path, fmax.

Constraints (``2_sta/constraints.sdc``, read again by the power stage):

* ``create_clock`` of the configured period on the clock port, ideal (no clock
  tree yet: zero latency and skew).
* ``set_input_delay 0`` and ``set_output_delay 0`` against that clock on every
  other port: the unit is timed register to register, as if its inputs were
  launched by ideal flip-flops at the clock edge and its outputs captured by
  ideal flip-flops. In the accelerator the MAC's operands come from
  scratchpad registers and its psum goes back to one, so this is the path
  that limits the clock. (The input delays also give every input a clock,
  which OpenSTA's power analysis needs to scale activities; see
  :mod:`~quidam.characterize.power`.)
* ``set_driving_cell`` of the platform's driver cell (``BUF_X1``,
  :data:`~quidam.pdk.platform.DRIVER_CELL`) on the inputs, so input slews are
  those of a real driver rather than ideal steps. Outputs carry no extra load.

The script runs ``report_checks -path_delay max -digits 4`` into
``timing.rpt`` and prints ``worst_slack -max`` (this 2019 OpenSTA has
``worst_slack``; its ``report_worst_slack`` takes no ``-max``). Command units
are set to ns. The critical path delay is ``period - slack`` (data arrival
plus the capture flip-flop's setup time), and ``fmax = 1000 / (period -
slack)`` MHz. The slack printed by ``worst_slack`` must agree with the report's
slack line; a missing value is a stage failure, never a guess.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from quidam.files import write_text
from quidam.pdk.platform import DRIVER_CELL, DRIVER_PIN

from .tools import Tool, ToolFailure, run_tool, tcl_word

__all__ = ["STAGE", "write_constraints", "sta_preamble", "analyze_timing"]

STAGE = "2_sta"

_SLACK_TAG = "quidam_worst_slack_ns"
_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
# OpenSTA prints an unconstrained design's worst slack as a huge float.
_NO_PATH = 1e20


def write_constraints(path: Path, *, clock_port: str, period_ns: float) -> None:
    """Write the SDC described in the module docstring to ``path``."""
    others = f"[delete_from_list [all_inputs] [get_ports {clock_port}]]"
    write_text(path, "\n".join([
        f"create_clock -name {clock_port} -period {period_ns:.6g} [get_ports {clock_port}]",
        f"set_input_delay 0 -clock {clock_port} {others}",
        f"set_output_delay 0 -clock {clock_port} [all_outputs]",
        f"set_driving_cell -lib_cell {DRIVER_CELL} -pin {DRIVER_PIN} {others}",
    ]) + "\n")


def sta_preamble(*, libraries: list[Path], netlist: Path, top: str, sdc: Path) -> list[str]:
    """Tcl lines that load the libraries, link the netlist and read the constraints (paths quoted, :func:`tcl_word`)."""
    return [
        "set_cmd_units -time ns -power W",
        *(f"read_liberty {tcl_word(library)}" for library in libraries),
        f"read_verilog {tcl_word(netlist)}",
        f"link_design {top}",
        f"read_sdc {tcl_word(sdc)}",
    ]


def _parse(report: str, log_text: str, period_ns: float, log: Path) -> dict[str, Any]:
    tagged = re.search(rf"^{_SLACK_TAG} {_NUMBER}\s*$", log_text, re.MULTILINE)
    if tagged is None:
        raise ToolFailure(STAGE, "OpenSTA printed no worst slack", log)
    slack = float(tagged.group(1))
    if not math.isfinite(slack) or abs(slack) >= _NO_PATH:
        raise ToolFailure(STAGE, "no constrained timing path (is the clock port right?)", log)
    reported = re.search(rf"^\s*{_NUMBER}\s+slack \((?:MET|VIOLATED)\)", report, re.MULTILINE)
    start = re.search(r"^Startpoint: (\S+)", report, re.MULTILINE)
    end = re.search(r"^Endpoint: (\S+)", report, re.MULTILINE)
    arrival = re.search(rf"^\s*{_NUMBER}\s+data arrival time", report, re.MULTILINE)
    if not (reported and start and end and arrival):
        raise ToolFailure(STAGE, "timing.rpt lacks the slack, start/endpoint or arrival time of the worst path", log)
    if abs(float(reported.group(1)) - slack) > 1e-3:
        raise ToolFailure(STAGE, f"worst_slack {slack} disagrees with timing.rpt's {reported.group(1)}", log)
    critical = period_ns - slack
    if critical <= 0:
        raise ToolFailure(STAGE, f"critical path delay {critical} ns is not positive", log)
    return {
        "sta__clock__period_ns": period_ns,
        "sta__timing__slack_ns": slack,
        "sta__timing__critical_path_ns": critical,
        "sta__timing__fmax_mhz": 1000.0 / critical,
        "sta__timing__arrival_ns": float(arrival.group(1)),
        "sta__timing__startpoint": start.group(1),
        "sta__timing__endpoint": end.group(1),
    }


def analyze_timing(sta: Tool, *, stage_dir: Path, libraries: list[Path], netlist: Path, top: str,
                   clock_port: str, period_ns: float) -> dict[str, Any]:
    """Write the constraints and run OpenSTA's setup analysis in ``stage_dir``.

    Parameters
    ----------
    sta : Tool
        From :func:`~quidam.characterize.tools.sta_tool`.
    stage_dir : Path
        The ``2_sta`` folder; receives ``constraints.sdc``, ``sta.tcl``,
        ``sta.log`` and ``timing.rpt``.
    libraries : list of Path
        Uncompressed standard-cell library, then any SRAM macro libraries.
    netlist : Path
        The mapped netlist from the synthesis stage.
    top : str
        Top module.
    clock_port : str
        The clock input.
    period_ns : float
        Clock period.

    Returns
    -------
    dict
        ``sta__clock__period_ns``, ``sta__timing__slack_ns``,
        ``sta__timing__critical_path_ns``, ``sta__timing__fmax_mhz``,
        ``sta__timing__arrival_ns``, ``sta__timing__startpoint`` and
        ``sta__timing__endpoint``.

    Raises
    ------
    ToolFailure
        OpenSTA reports an error or a value is missing.
    """
    sdc = stage_dir / "constraints.sdc"
    write_constraints(sdc, clock_port=clock_port, period_ns=period_ns)
    lines = sta_preamble(libraries=libraries, netlist=netlist, top=top, sdc=sdc)
    lines += [
        "report_checks -path_delay max -digits 4 > timing.rpt",
        f'puts "{_SLACK_TAG} [worst_slack -max]"',
    ]
    write_text(stage_dir / "sta.tcl", "\n".join(lines) + "\n")
    log = stage_dir / "sta.log"
    log_text = run_tool(sta, ["-no_init", "-no_splash", "-exit", "sta.tcl"], cwd=stage_dir, log=log, stage=STAGE)
    report = stage_dir / "timing.rpt"
    if not report.is_file():
        raise ToolFailure(STAGE, "OpenSTA wrote no timing.rpt", log)
    return _parse(report.read_text(), log_text, period_ns, log)
