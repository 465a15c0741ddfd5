"""What the flow characterizes: a Verilog top, its parameters, clock, SRAM macros and workload.

A :class:`Design` is plain, picklable data (it can be shipped to a worker
process): the Verilog text itself, not a path, so the design id can hash it.
:func:`design_from_verilog` builds one from a file; generators build theirs
from a configuration (:func:`quidam.characterize.mac.mac_design`).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quidam.errors import QuidamError

from .activity import Stimulus
from .run_dir import sources_digest

__all__ = ["FRONT_END_MODULES", "Design", "design_from_verilog", "generator_source_digest", "ports_of"]

_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s*)?([A-Za-z_][\w$]*)\s*[;,]",
                   re.MULTILINE)


#: Generator modules that only write files around the Verilog (command line, flow handoff): left out of
#: :func:`generator_source_digest`, so editing them keeps every cached point valid.
FRONT_END_MODULES = frozenset({"cli.py", "orfs.py"})


def generator_source_digest() -> str:
    """SHA-256 over the RTL generator's Python sources (``rtl_gen/*.py`` but :data:`FRONT_END_MODULES`,
    and ``formats/*.py``)."""
    import quidam.formats
    import quidam.rtl_gen

    return sources_digest([Path(quidam.rtl_gen.__file__).parent, Path(quidam.formats.__file__).parent],
                          exclude=FRONT_END_MODULES)


@dataclass(frozen=True)
class Design:
    """One design to characterize.

    Attributes
    ----------
    name : str
        Short name of the unit (``mac``); the Verilog is kept as ``0_rtl/<name>.v``.
    top : str
        Top module.
    verilog : str
        The Verilog text (parameter-free: every width fixed).
    params : dict
        The resolved configuration or parameters that produced it (JSON-ready);
        part of the design id and of ``metrics.json``.
    clock_mhz : float
        Target clock frequency.
    stimulus : Stimulus
        The workload simulated for switching activity.
    clock_port : str
        The clock input.
    macros : tuple of str
        Liberty files of the SRAM macros the Verilog instantiates (fakeram45).
    generator_digest : str or None
        Digest of the generator's sources when generated (see
        :func:`generator_source_digest`), ``None`` for hand-written Verilog.
    blocks : tuple of (str, str)
        Area breakdown: block names and :mod:`fnmatch` patterns of module
        names, first match wins. When given, synthesis keeps the hierarchy
        until the cells are mapped (so each module's area is known), then
        flattens; when empty it flattens first.
    variants : tuple of (str, Stimulus)
        More workloads replayed through the same netlist after ``stimulus``
        (in ``3_power/<name>/``; metrics ``variant__<name>__power__*``): one
        synthesis serves several controlled replays of a block.
    """

    name: str
    top: str
    verilog: str
    params: dict[str, Any]
    clock_mhz: float
    stimulus: Stimulus
    clock_port: str = "clk"
    macros: tuple[str, ...] = ()
    generator_digest: str | None = None
    blocks: tuple[tuple[str, str], ...] = ()
    variants: tuple[tuple[str, Stimulus], ...] = ()

    def __post_init__(self):
        if not self.clock_mhz > 0:
            raise QuidamError(f"clock_mhz: must be a positive number, not {self.clock_mhz!r}")

    @property
    def period_ns(self) -> float:
        """Clock period in nanoseconds."""
        return 1000.0 / self.clock_mhz

    @property
    def verilog_digest(self) -> str:
        """SHA-256 of the Verilog text."""
        return hashlib.sha256(self.verilog.encode()).hexdigest()


def ports_of(verilog: str) -> dict[str, tuple[str, int]]:
    """Ports declared as ``input [h:l] name;`` (as Yosys writes netlists): name to (direction, width)."""
    ports = {}
    for direction, high, low, name in _PORT.findall(verilog):
        width = abs(int(high) - int(low)) + 1 if high else 1
        ports.setdefault(name, (direction, width))
    return ports


def design_from_verilog(path: str | os.PathLike[str], *, top: str, params: dict[str, Any], clock_mhz: float,
                        stimulus: Stimulus, clock_port: str = "clk",
                        macros: tuple[str, ...] = ()) -> Design:
    """A :class:`Design` from a Verilog file (its text is read now).

    Raises
    ------
    QuidamError
        The file cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise QuidamError(f"{path}: cannot read Verilog ({error.strerror or error})") from None
    return Design(name=path.stem, top=top, verilog=text, params=dict(params), clock_mhz=float(clock_mhz),
                  stimulus=stimulus, clock_port=clock_port, macros=tuple(str(m) for m in macros))
