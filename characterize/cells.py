"""What the flow needs to know about each standard cell, and the instances of a mapped netlist.

:func:`cell_library` reads a Liberty file once per process (parsed with
:mod:`quidam.pdk.liberty`, about 2 s for Nangate45) into :class:`Cell` records:
area, whether the cell is sequential, and the pins whose switching activity
OpenSTA's power model uses (outputs, and inputs carrying ``internal_power``
other than clocks). :func:`netlist_instances` lists the cell instances of a
Yosys-written netlist.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from quidam.pdk.liberty import attribute_text, read_liberty
from quidam.pdk.locate import file_sha256

__all__ = ["Cell", "cell_library", "netlist_instances"]

# An instance as Yosys writes it: "CELL name (" then ".PIN(net)," lines, then ");".
_INSTANCE = re.compile(r"^\s*([A-Za-z_]\w*)\s+(\\\S+|[A-Za-z_][\w$]*)\s*\(\s*((?:\.\w+\([^()]*\)\s*,?\s*)*)\);",
                       re.MULTILINE)
_CONNECTION = re.compile(r"\.(\w+)\(")


@dataclass(frozen=True)
class Cell:
    """One Liberty cell.

    Attributes
    ----------
    name : str
        Cell name.
    area_um2 : float
        Liberty ``area``.
    sequential : bool
        The cell has an ``ff`` or ``latch`` group.
    activity_pins : tuple of str
        Pins whose toggles OpenSTA charges: every output (switching and
        internal power) and every non-clock input with ``internal_power``
        groups (a flip-flop's D, reset and scan pins).
    outputs : frozenset of str
        Output pins and buses (``rd_out`` of an SRAM macro): what drives a net.
    """

    name: str
    area_um2: float
    sequential: bool
    activity_pins: tuple[str, ...]
    outputs: frozenset[str]


@functools.lru_cache(maxsize=8)
def _read(path: str, digest: str) -> dict[str, Cell]:
    del digest  # part of the cache key only
    cells = {}
    for group in read_liberty(Path(path)).get_groups("cell"):
        name = attribute_text(group.args[0])
        pins = []
        for pin in group.get_groups("pin"):
            direction = attribute_text(pin.get("direction", ""))
            clock = attribute_text(pin.get("clock", "false")) == "true"
            if direction == "output" or (direction == "input" and not clock and pin.get_groups("internal_power")):
                pins.append(attribute_text(pin.args[0]))
        outputs = frozenset(attribute_text(port.args[0]) for port in group.get_groups("pin") + group.get_groups("bus")
                            if attribute_text(port.get("direction", "")) == "output")
        cells[name] = Cell(name=name, area_um2=float(group.get("area", 0.0)),
                           sequential=bool(group.get_groups("ff") or group.get_groups("latch")),
                           activity_pins=tuple(pins), outputs=outputs)
    return cells


def cell_library(path: Path) -> dict[str, Cell]:
    """Every cell of the Liberty file at ``path`` by name (cached per process by path and digest)."""
    path = Path(path).resolve()
    return _read(str(path), file_sha256(path))


def netlist_instances(netlist: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Cell instances of a netlist written by Yosys ``write_verilog``: name to (cell, connected pins).

    Names are as OpenSTA reports them (an escaped identifier loses its
    backslash).
    """
    return {name.lstrip("\\"): (cell, tuple(_CONNECTION.findall(body)))
            for cell, name, body in _INSTANCE.findall(netlist) if cell not in ("module", "assign")}
