"""Stage ``3_power``: power at the configured clock with every cell's switching activity from simulation.

Method
------
This OpenSTA (2019) reads no VCD or SAIF, and its power engine overwrites any
activity set on an internal pin when it propagates activities (only top-level
input activities survive; its ``set_power_activity -pins`` is broken in the
Tcl, and ``-global`` overrides everything). Yet its power model is linear in
the activities: each non-clock pin contributes (internal energy per transition
+ for an output 1/2 C V^2) x toggles per second, clock pins toggle twice a
period, leakage does not depend on activity. So, with the pin toggle rates
measured by :func:`~quidam.characterize.activity.simulate` (a flat netlist) or
:func:`~quidam.characterize.partition.simulate_partitioned` (a hierarchical
one, one module instance at a time):

1. ``power.tcl`` runs OpenSTA twice more per instance (``sta::instance_power``,
   written to ``instance_power.txt``): with ``set_power_activity -global``
   0 (clocks only) and 1 (every other pin one transition per cycle). OpenSTA
   does all the physics: Liberty tables at the slews and loads of the
   netlist, clock pins, leakage. Another replay of the same netlist (a
   block's idle one) reads the same file.
2. Each instance's power is ``P0 + (P1 - P0) x t``, internal and switching
   separately, where ``t`` is the mean measured toggle rate (per cycle) of its
   probed pins. For single-output combinational cells (all that ABC maps to)
   this is exactly OpenSTA's model with the measured activity; for a
   flip-flop it shares one factor between its D pin's internal energy and its
   outputs' energy (the mean of the D, Q and QN rates).
3. The sums by group (sequential, combinational, macro) and in total are
   written to ``power.rpt`` in the layout of ``report_power``.

For comparison, ``power_propagated.rpt`` is OpenSTA's own ``report_power``
when only the measured input activities are applied (``set_power_activity
-input_ports``) and it propagates them through the cell functions assuming
independent signals: ``power__propagated__dynamic_w``. On the MAC units that
estimate is off by up to 2x in either direction, which is why it is not the
result.

Energy per operation: ``power__<op>__energy_per_op_j`` = dynamic power x the
measured time (cycles x period) / operations in it. For a MAC unit fed one
operation every cycle this is dynamic power x clock period. Leakage is left
out (it depends on utilisation, which the accelerator model applies).

Limits: zero-delay simulation (no glitches); no clock tree yet (only the
flip-flops' clock pins); no wire load (Nangate45's library has none by default).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

from quidam.files import write_text

from .activity import Stimulus
from .cells import Cell
from .sta import sta_preamble
from .tools import Tool, ToolFailure, run_tool

__all__ = ["STAGE", "GROUPS", "analyze_power", "block_of", "parse_power_report"]

STAGE = "3_power"

#: Groups of ``report_power``, in its order.
GROUPS = ("Sequential", "Combinational", "Macro", "Pad", "Total")

_FLOAT = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_COMPONENTS = ("internal", "switching", "leakage")


def _script(preamble: list[str], inputs: dict[str, list[list[float]]], widths: dict[str, int]) -> str:
    lines = list(preamble)
    for port, bits in inputs.items():
        for index, (toggles, duty) in enumerate(bits):
            name = port if widths[port] == 1 else f"{port}[{index}]"
            lines.append(f"set_power_activity -input_ports [get_ports {{{name}}}] "
                         f"-activity {toggles:.6g} -duty {duty:.6g}")
    lines += [
        "report_power -digits 6 > power_propagated.rpt",
        "set corner [sta::cmd_corner]",
        "set stream [open instance_power.txt w]",
        "foreach activity {0 1} {",
        "  set_power_activity -global -activity $activity",
        "  foreach inst [get_cells *] {",
        '    puts $stream "$activity [get_full_name $inst] [get_property $inst ref_name] '
        '[sta::instance_power $inst $corner]"',
        "  }",
        "}",
        "close $stream",
    ]
    return "\n".join(lines) + "\n"


def parse_power_report(text: str, log: Path) -> dict[str, dict[str, float]]:
    """Internal, switching, leakage and total power (W) of each group of a ``report_power`` table.

    Raises
    ------
    ToolFailure
        A group's row is missing or malformed.
    """
    groups = {}
    for group in GROUPS:
        row = re.search(rf"^{group}\s+{_FLOAT}\s+{_FLOAT}\s+{_FLOAT}\s+{_FLOAT}", text, re.MULTILINE)
        if row is None:
            raise ToolFailure(STAGE, f"no {group} row in the power report", log)
        internal, switching, leakage, total = (float(value) for value in row.groups())
        groups[group.lower()] = {"internal": internal, "switching": switching, "leakage": leakage, "total": total}
    return groups


def _unit_powers(text: str, log: Path) -> dict[str, dict[str, Any]]:
    """``instance_power.txt``: per instance, its cell and (internal, switching, leakage) at activity 0 and 1."""
    instances: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 7 or fields[0] not in ("0", "1"):
            raise ToolFailure(STAGE, f"malformed line in instance_power.txt: {line!r}", log)
        entry = instances.setdefault(fields[1], {"cell": fields[2]})
        entry[int(fields[0])] = tuple(float(value) for value in fields[3:6])
    if not instances or any(0 not in entry or 1 not in entry for entry in instances.values()):
        raise ToolFailure(STAGE, "instance_power.txt lacks an instance's power at activity 0 or 1", log)
    return instances


def _report(groups: dict[str, dict[str, float]]) -> str:
    lines = ["Power with the simulated switching activity of every cell pin (see quidam.characterize.power)",
             "", f"{'Group':<16}{'Internal':>14}{'Switching':>14}{'Leakage':>14}{'Total':>14}",
             f"{'':<16}{'Power':>14}{'Power':>14}{'Power':>14}{'Power':>14}", "-" * 72]
    for group in GROUPS:
        figures = groups[group.lower()]
        if group == "Total":
            lines.append("-" * 72)
        lines.append(f"{group:<16}" + "".join(f"{figures[key]:>14.6e}" for key in (*_COMPONENTS, "total")))
    return "\n".join(lines) + "\n"


def block_of(instance: str, top: str, blocks: tuple[tuple[str, str], ...]) -> str | None:
    """The block of a flattened instance (``array.pe_0_1.mac._12_``): the first whose pattern matches its
    module's name (``<top>.array.pe_0_1.mac``); ``None`` when none does."""
    module = f"{top}.{instance.rsplit('.', 1)[0]}" if "." in instance else top
    return next((block for block, pattern in blocks if fnmatch.fnmatchcase(module, pattern)), None)


def analyze_power(sta: Tool, *, stage_dir: Path, libraries: list[Path], netlist: Path, top: str, sdc: Path,
                  period_ns: float, stimulus: Stimulus, activity: dict[str, Any], widths: dict[str, int],
                  library: dict[str, Cell], macro_cells: set[str],
                  blocks: tuple[tuple[str, str], ...] = (), instance_power: Path | None = None) -> dict[str, Any]:
    """Power of the netlist with the measured activities; the ``power__*`` metrics.

    Parameters
    ----------
    sta : Tool
        OpenSTA.
    stage_dir : Path
        The ``3_power`` folder; receives ``power.tcl``, ``power.log``,
        ``instance_power.txt``, ``power.rpt`` and ``power_propagated.rpt``.
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
    library : dict
        The standard cells (:func:`~quidam.characterize.cells.cell_library`).
    macro_cells : set of str
        Names of the SRAM macro cells.
    blocks : tuple of (str, str)
        Blocks and the patterns of their module names (see
        :attr:`~quidam.characterize.design.Design.blocks`): each instance's
        power is also summed into its block (:func:`block_of`).
    instance_power : Path, optional
        The ``instance_power.txt`` of another replay of the same netlist
        (each instance's power at activity 0 and 1 does not depend on the
        replay): OpenSTA is then not run, and there is no
        ``power__propagated__dynamic_w``.

    Returns
    -------
    dict
        ``power__<group>__{internal,switching,dynamic,leakage,total}_w`` for
        ``total``, ``sequential``, ``combinational`` and ``macro``;
        ``power__propagated__dynamic_w`` (without ``instance_power``); ``power__activity__input_toggle_rate``,
        ``power__activity__pin_toggle_rate``, ``power__activity__unknown_fraction``,
        ``power__activity__measured_cycles``,
        ``power__activity__results_checked``; ``power__<op>__energy_per_op_j``;
        with ``blocks``, ``power__block__<block>__{dynamic,leakage}_w``;
        ``workload__<event>`` for each of the stimulus's events.

    Raises
    ------
    ToolFailure
        OpenSTA fails, an instance was not simulated, or the power is not positive.
    """
    log = (stage_dir if instance_power is None else instance_power.parent) / "power.log"
    propagated = None
    if instance_power is None:
        preamble = sta_preamble(libraries=libraries, netlist=netlist, top=top, sdc=sdc)
        write_text(stage_dir / "power.tcl", _script(preamble, activity["inputs"], widths))
        run_tool(sta, ["-no_init", "-no_splash", "-exit", "power.tcl"], cwd=stage_dir, log=log, stage=STAGE)
        for name in ("power_propagated.rpt", "instance_power.txt"):
            if not (stage_dir / name).is_file():
                raise ToolFailure(STAGE, f"OpenSTA wrote no {name}", log)
        propagated = parse_power_report((stage_dir / "power_propagated.rpt").read_text(), log)
        instance_power = stage_dir / "instance_power.txt"
    units = _unit_powers(instance_power.read_text(), log)

    groups = {group.lower(): dict.fromkeys(_COMPONENTS, 0.0) for group in GROUPS}
    by_block = {block: {"dynamic": 0.0, "leakage": 0.0} for block, _ in blocks}
    rates = activity["instances"]
    for instance, entry in units.items():
        if instance not in rates:
            raise ToolFailure(STAGE, f"instance {instance} has no simulated activity", log)
        cell = entry["cell"]
        group = "macro" if cell in macro_cells else "sequential" if library[cell].sequential else "combinational"
        block = block_of(instance, top, blocks) if blocks else None
        if blocks and block is None:
            raise ToolFailure(STAGE, f"instance {instance} belongs to no block", log)
        for index, component in enumerate(_COMPONENTS):
            at0, at1 = entry[0][index], entry[1][index]
            value = at0 if component == "leakage" else at0 + (at1 - at0) * rates[instance]
            groups[group][component] += value
            groups["total"][component] += value
            if block is not None:
                by_block[block]["leakage" if component == "leakage" else "dynamic"] += value
    for figures in groups.values():
        figures["total"] = sum(figures[component] for component in _COMPONENTS)
    write_text(stage_dir / "power.rpt", _report(groups))

    metrics: dict[str, Any] = {}
    for group in ("total", "sequential", "combinational", "macro"):
        figures = groups[group]
        metrics[f"power__{group}__internal_w"] = figures["internal"]
        metrics[f"power__{group}__switching_w"] = figures["switching"]
        metrics[f"power__{group}__dynamic_w"] = figures["internal"] + figures["switching"]
        metrics[f"power__{group}__leakage_w"] = figures["leakage"]
        metrics[f"power__{group}__total_w"] = figures["total"]
    if metrics["power__total__dynamic_w"] <= 0 or metrics["power__total__leakage_w"] <= 0:
        raise ToolFailure(STAGE, "no dynamic or no leakage power", log)
    if propagated is not None:
        metrics["power__propagated__dynamic_w"] = propagated["total"]["internal"] + propagated["total"]["switching"]
    input_rates = [toggles for bits in activity["inputs"].values() for toggles, _ in bits]
    metrics["power__activity__input_toggle_rate"] = sum(input_rates) / len(input_rates)
    metrics["power__activity__pin_toggle_rate"] = activity["pin_toggle_rate"]
    metrics["power__activity__unknown_fraction"] = activity["unknown_fraction"]
    metrics["power__activity__measured_cycles"] = activity["measured_cycles"]
    metrics["power__activity__results_checked"] = activity["results_checked"]
    for block, figures in by_block.items():
        metrics[f"power__block__{block}__dynamic_w"] = figures["dynamic"]
        metrics[f"power__block__{block}__leakage_w"] = figures["leakage"]
    for event, count in stimulus.events:
        metrics[f"workload__{event}"] = count
    measured_s = stimulus.measure_cycles * period_ns * 1e-9
    metrics[f"power__{stimulus.op_name}__energy_per_op_j"] = (
        metrics["power__total__dynamic_w"] * measured_s / stimulus.ops)
    return metrics
