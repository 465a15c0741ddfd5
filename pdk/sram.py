"""The fakeram45 SRAM macros as data: size, area, leakage, access energy, clock-to-output.

Each ``fakeram45_<depth>x<width>.lib`` models one single-port SRAM (ports
``clk``, ``rd_out``, ``ce_in``, ``we_in``, ``addr_in``, ``wd_in``,
``w_mask_in``) generated from CACTI by bsg_fakeram for the OpenROAD-flow-scripts
nangate45 platform. Every figure is read with the file's own unit attributes:
most files use nW and fF, while ``fakeram45_64x62`` and ``fakeram45_64x124`` use
uW and pF (see :mod:`quidam.pdk.liberty`).

How each :class:`SRAMMacro` field is derived
--------------------------------------------
depth, width
    ``<depth>x<width>`` at the end of the cell name, checked against the
    ``memory`` group (``word_width``; ``address_width`` must be the fewest bits
    that address ``depth`` words).
area_um2
    The cell's ``area`` (Liberty area is in square micrometres by convention).
leakage_w
    ``cell_leakage_power`` x ``leakage_power_unit``.
read_energy_j, write_energy_j
    Energy of one clock cycle that performs the access: the ``internal_power``
    of pin ``clk``, rising plus falling transition (``rise_power +
    fall_power``), each table at its first index point (sharpest clock slew),
    times the energy unit ``capacitive_load_unit * voltage_unit**2``. This is
    what OpenSTA charges per clock cycle (it averages rise and fall energy and
    multiplies by a clock's toggle density of two transitions per period), so
    the figures agree with ``report_power`` on a macro clocked every cycle.
    Only groups whose ``when`` condition holds for the access are counted: a
    read is ``ce_in & !we_in``, a write ``ce_in & we_in``; groups without
    ``when`` count for both. In fakeram45 the clock energy has no ``when``, so
    read and write energy are equal, and it is not gated by ``ce_in`` (an idle
    clocked cycle costs the same to OpenSTA). The per-bit internal energy of
    the signal pins (``addr_in``, ``wd_in``, ``w_mask_in``, ...) depends on
    their switching activity and is left to the activity-based power flow.
clk_to_q_s
    The largest of ``cell_rise`` and ``cell_fall`` of the ``rd_out`` timing arc
    related to ``clk``, each at its first index point (sharpest clock slew,
    lightest load), times ``time_unit``. The fakeram45 tables are constant, so
    the point chosen does not change the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from liberty.types import Group
from sympy import Symbol
from sympy.logic.boolalg import BooleanAtom

from ..errors import PDKError
from .liberty import (
    LibertyUnits,
    attribute_text,
    library_units,
    read_liberty,
    required_number,
    table_first_point,
)
from .locate import sram_library_paths

__all__ = ["SRAMMacro", "read_sram_macro", "find_macros", "find_macro"]

# Pin levels during a clock cycle that reads or writes; ``ce_in`` is active high.
_READ_STATE = {Symbol("ce_in"): True, Symbol("we_in"): False}
_WRITE_STATE = {Symbol("ce_in"): True, Symbol("we_in"): True}


@dataclass(frozen=True)
class SRAMMacro:
    """One SRAM macro model, every figure in SI units (see the module docstring for how).

    Attributes
    ----------
    name
        Cell name, e.g. ``fakeram45_512x64``.
    depth, width
        Words, and bits per word.
    area_um2
        Macro area in square micrometres.
    leakage_w
        Leakage power in watts.
    read_energy_j, write_energy_j
        Energy of one clock cycle that reads, or writes, one word, in joules.
    clk_to_q_s
        Clock-to-output delay of ``rd_out`` in seconds.
    liberty_path
        The Liberty file the figures were read from.
    """

    name: str
    depth: int
    width: int
    area_um2: float
    leakage_w: float
    read_energy_j: float
    write_energy_j: float
    clk_to_q_s: float
    liberty_path: Path

    def to_dict(self) -> dict[str, object]:
        """The figures as JSON-ready values, without the Liberty path."""
        return {
            "name": self.name,
            "depth": self.depth,
            "width": self.width,
            "area_um2": self.area_um2,
            "leakage_w": self.leakage_w,
            "read_energy_j": self.read_energy_j,
            "write_energy_j": self.write_energy_j,
            "clk_to_q_s": self.clk_to_q_s,
        }


def _port(cell: Group, name: str, path: Path) -> Group:
    """The one ``pin`` or ``bus`` group called ``name`` in ``cell``."""
    ports = cell.get_groups("pin", name) + cell.get_groups("bus", name)
    if len(ports) != 1:
        raise PDKError(f"{path}: expected one pin or bus {name}, found {len(ports)}")
    return ports[0]


def _dimensions(name: str, cell: Group, path: Path) -> tuple[int, int]:
    """``(depth, width)`` from the cell name, checked against its ``memory`` group."""
    memories = cell.get_groups("memory")
    if len(memories) != 1:
        raise PDKError(f"{path}: expected one memory group in cell {name}, found {len(memories)}")
    word_width = int(required_number(memories[0], "word_width", path))
    address_width = int(required_number(memories[0], "address_width", path))
    depth_text, _, width_text = name.rpartition("_")[2].partition("x")
    if not (depth_text.isdigit() and width_text.isdigit()):
        raise PDKError(f"{path}: cell name {name!r} does not end in _<depth>x<width>")
    depth, width = int(depth_text), int(width_text)
    if width != word_width or not 2 ** (address_width - 1) < depth <= 2**address_width:
        raise PDKError(
            f"{path}: cell name {name!r} disagrees with its memory group "
            f"(word_width {word_width}, address_width {address_width})"
        )
    return depth, width


def _applies(internal_power: Group, state: dict[Symbol, bool], path: Path) -> bool:
    """Whether an ``internal_power`` group counts for an access with pin levels ``state``."""
    if "when" not in internal_power:
        return True
    try:
        condition = internal_power.get_boolean_function("when")
    except Exception as error:  # the boolean parser raises assorted types
        raise PDKError(f"{path}: unreadable when condition ({error})") from None
    decided = condition.subs(state)
    if not isinstance(decided, BooleanAtom):
        raise PDKError(
            f"{path}: when condition {internal_power['when']} depends on pins other than ce_in and we_in"
        )
    return bool(decided)


def _clock_cycle_energy_j(cell: Group, state: dict[Symbol, bool], units: LibertyUnits, path: Path) -> float:
    """Clock-pin internal energy of one cycle (rise plus fall) with pin levels ``state``, in joules."""
    clock = _port(cell, "clk", path)
    groups = [group for group in clock.get_groups("internal_power") if _applies(group, state, path)]
    if not groups:
        raise PDKError(f"{path}: pin clk has no internal_power for this access")
    energy = 0.0
    for group in groups:
        for transition in ("rise_power", "fall_power"):
            tables = group.get_groups(transition)
            if len(tables) != 1:
                raise PDKError(
                    f"{path}: internal_power of pin clk has {len(tables)} {transition} tables, expected 1"
                )
            energy += table_first_point(tables[0], path)
    return energy * units.energy_j


def _clock_to_output_s(cell: Group, units: LibertyUnits, path: Path) -> float:
    """Largest ``clk`` to ``rd_out`` delay at the tables' first index point, in seconds."""
    arcs = [
        arc for arc in _port(cell, "rd_out", path).get_groups("timing")
        if attribute_text(arc.get("related_pin", "")).strip() == "clk"
    ]
    delays = [
        table_first_point(table, path)
        for arc in arcs
        for transition in ("cell_rise", "cell_fall")
        for table in arc.get_groups(transition)
    ]
    if not delays:
        raise PDKError(f"{path}: rd_out has no cell_rise/cell_fall timing related to clk")
    return max(delays) * units.time_s


def read_sram_macro(path: str | os.PathLike[str]) -> SRAMMacro:
    """Read one SRAM macro model (a Liberty file holding one memory cell).

    Parameters
    ----------
    path
        The ``.lib`` file.

    Returns
    -------
    SRAMMacro
        Its figures in SI units.

    Raises
    ------
    PDKError
        The file is missing, does not parse, or lacks a figure; the message names
        the path and what is missing.
    """
    path = Path(path)
    library = read_liberty(path)
    cells = library.get_groups("cell")
    if len(cells) != 1:
        raise PDKError(f"{path}: expected one cell, found {len(cells)}")
    cell = cells[0]
    name = attribute_text(cell.args[0]) if cell.args else ""
    units = library_units(library, path)
    depth, width = _dimensions(name, cell, path)
    return SRAMMacro(
        name=name,
        depth=depth,
        width=width,
        area_um2=required_number(cell, "area", path),
        leakage_w=required_number(cell, "cell_leakage_power", path) * units.leakage_power_w,
        read_energy_j=_clock_cycle_energy_j(cell, _READ_STATE, units, path),
        write_energy_j=_clock_cycle_energy_j(cell, _WRITE_STATE, units, path),
        clk_to_q_s=_clock_to_output_s(cell, units, path),
        liberty_path=path,
    )


def find_macros(pdk_dir: str | os.PathLike[str] | None = None) -> tuple[SRAMMacro, ...]:
    """All SRAM macros of the PDK directory, sorted by depth, then width.

    Parameters
    ----------
    pdk_dir
        As for :func:`~quidam.pdk.locate.resolve_pdk_dir`.

    Raises
    ------
    PDKError
        A known macro file is missing or one file cannot be read.
    """
    macros = (read_sram_macro(path) for path in sram_library_paths(pdk_dir))
    return tuple(sorted(macros, key=lambda macro: (macro.depth, macro.width, macro.name)))


def find_macro(depth: int, width: int, pdk_dir: str | os.PathLike[str] | None = None) -> SRAMMacro:
    """The SRAM macro of exactly ``depth`` words of ``width`` bits.

    Raises
    ------
    PDKError
        No macro has that shape (the message lists the shapes there are).
    """
    macros = find_macros(pdk_dir)
    for macro in macros:
        if (macro.depth, macro.width) == (depth, width):
            return macro
    shapes = ", ".join(f"{macro.depth}x{macro.width}" for macro in macros)
    raise PDKError(f"no SRAM macro of {depth}x{width} in {macros[0].liberty_path.parent}; available: {shapes}")
