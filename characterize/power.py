"""Stage ``3_power``: OpenSTA ``report_power`` at the configured clock, activity from simulation.

Method
------
1. :func:`~quidam.characterize.activity.simulate` runs the mapped netlist
   (gate level, Icarus) on the design's stimulus, checks its outputs against
   the golden model and measures each input bit's toggle rate (transitions per
   clock cycle) and duty over the measured cycles.
2. ``power.tcl`` loads the same libraries, netlist and constraints as the
   timing stage and applies each input bit's measured activity with
   ``set_power_activity -input_ports <bit> -activity <toggles/cycle> -duty
   <duty>``. OpenSTA propagates these through the cell functions and across
   flip-flops; clock pins toggle twice per period. No ``-global`` activity is
   set: in this OpenSTA it would override every measured value.
3. ``report_power -digits 6`` (``power.rpt``) gives internal, switching and
   leakage power in watts per group (sequential, combinational, macro) and in
   total; dynamic power is internal plus switching.

Energy per operation: ``power__<op>__energy_per_op_j`` = dynamic power x the
measured time (cycles x period) / operations in it. For a MAC unit fed one
operation every cycle this is dynamic power x clock period. Leakage is left
out of it (it depends on utilisation, which the accelerator model applies).

Limits: activities inside the design are OpenSTA's probabilistic estimate from
the measured inputs (signals taken as independent, no glitches); there is no
clock tree yet (only the flip-flops' clock pins). A newer OpenSTA with
``read_vcd`` / ``read_saif`` would take every net's measured activity.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .activity import Stimulus
from .run_dir import write_text
from .sta import sta_preamble
from .tools import Tool, ToolFailure, run_tool

__all__ = ["STAGE", "analyze_power"]

STAGE = "3_power"

_GROUPS = ("Sequential", "Combinational", "Macro", "Pad", "Total")
_FLOAT = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"


def _activity_commands(activity: dict[str, list[tuple[float, float]]], widths: dict[str, int]) -> list[str]:
    lines = []
    for port, bits in activity.items():
        for index, (toggles, duty) in enumerate(bits):
            name = port if widths[port] == 1 else f"{port}[{index}]"
            lines.append(f"set_power_activity -input_ports [get_ports {{{name}}}] "
                         f"-activity {toggles:.6g} -duty {duty:.6g}")
    return lines


def parse_power_report(text: str, log: Path) -> dict[str, dict[str, float]]:
    """Internal, switching, leakage and total power (W) of each group of a ``report_power`` table.

    Raises
    ------
    ToolFailure
        A group's row is missing or malformed.
    """
    groups = {}
    for group in _GROUPS:
        row = re.search(rf"^{group}\s+{_FLOAT}\s+{_FLOAT}\s+{_FLOAT}\s+{_FLOAT}", text, re.MULTILINE)
        if row is None:
            raise ToolFailure(STAGE, f"power.rpt has no {group} row", log)
        internal, switching, leakage, total = (float(value) for value in row.groups())
        groups[group.lower()] = {"internal": internal, "switching": switching, "leakage": leakage, "total": total}
    return groups


def analyze_power(sta: Tool, *, stage_dir: Path, libraries: list[Path], netlist: Path, top: str, sdc: Path,
                  period_ns: float, stimulus: Stimulus, activity: dict[str, Any],
                  widths: dict[str, int]) -> dict[str, Any]:
    """Run ``report_power`` with the measured activities and return the ``power__*`` metrics.

    Parameters
    ----------
    sta : Tool
        OpenSTA.
    stage_dir : Path
        The ``3_power`` folder; receives ``power.tcl``, ``power.log`` and ``power.rpt``.
    libraries, netlist, top, sdc
        As loaded by the timing stage (the same ``constraints.sdc``).
    period_ns : float
        Clock period.
    stimulus : Stimulus
        The simulated workload (measured cycles, operation count and name).
    activity : dict
        :func:`~quidam.characterize.activity.simulate`'s result.
    widths : dict
        Width of every input port (a 1-bit port has no bit index).

    Returns
    -------
    dict
        ``power__total__{internal,switching,dynamic,leakage,total}_w``, the same
        for ``sequential``, ``combinational`` and ``macro``,
        ``power__activity__input_toggle_rate`` (mean over input bits),
        ``power__activity__measured_cycles``, ``power__activity__results_checked``
        and ``power__<op>__energy_per_op_j``.

    Raises
    ------
    ToolFailure
        OpenSTA fails, a row is missing, or the power is not positive.
    """
    lines = sta_preamble(libraries=libraries, netlist=netlist, top=top, sdc=sdc)
    lines += _activity_commands(activity["activity"], widths)
    lines.append("report_power -digits 6 > power.rpt")
    write_text(stage_dir / "power.tcl", "\n".join(lines) + "\n")
    log = stage_dir / "power.log"
    run_tool(sta, ["-no_init", "-no_splash", "-exit", "power.tcl"], cwd=stage_dir, log=log, stage=STAGE)
    report = stage_dir / "power.rpt"
    if not report.is_file():
        raise ToolFailure(STAGE, "OpenSTA wrote no power.rpt", log)
    groups = parse_power_report(report.read_text(), log)
    metrics: dict[str, Any] = {}
    for group in ("total", "sequential", "combinational", "macro"):
        figures = groups[group]
        metrics[f"power__{group}__internal_w"] = figures["internal"]
        metrics[f"power__{group}__switching_w"] = figures["switching"]
        metrics[f"power__{group}__dynamic_w"] = figures["internal"] + figures["switching"]
        metrics[f"power__{group}__leakage_w"] = figures["leakage"]
        metrics[f"power__{group}__total_w"] = figures["total"]
    if metrics["power__total__dynamic_w"] <= 0 or metrics["power__total__leakage_w"] <= 0:
        raise ToolFailure(STAGE, "report_power gives no dynamic or no leakage power", log)
    rates = [toggles for bits in activity["activity"].values() for toggles, _ in bits]
    metrics["power__activity__input_toggle_rate"] = sum(rates) / len(rates)
    metrics["power__activity__measured_cycles"] = activity["measured_cycles"]
    metrics["power__activity__results_checked"] = activity["results_checked"]
    measured_s = stimulus.measure_cycles * period_ns * 1e-9
    metrics[f"power__{stimulus.op_name}__energy_per_op_j"] = (
        metrics["power__total__dynamic_w"] * measured_s / stimulus.ops)
    return metrics
