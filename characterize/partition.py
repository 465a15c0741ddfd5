"""Switching activity of a hierarchical netlist one module instance at a time, each driven by the RTL's own
port values: the power stage of designs too large to simulate flat.

Icarus compiles the flat gate-level model of an 8 x 8 accelerator in about 9.5 GB and would need some 32 GB
for the Eyeriss array (12 x 14). This simulation needs memory for one batch of modules, whatever the design.

Method
------
1. Every module instance of the hierarchical netlist
   (:data:`~quidam.characterize.synth.HIERARCHICAL_NETLIST`) that holds cells is a *unit*: its own cells,
   with each child instance replaced by a stub. The units are grouped in depth-first order into batches of
   at most ``max_cells`` cells.
2. Icarus runs the design's RTL on the stimulus's vectors (the testbench timing of
   :mod:`~quidam.characterize.activity`: inputs at 4k, clock edge at 4k+2) and records, for each batch,
   every unit's ports and every stub's outputs, before each clock edge (at 4k+1, settled) and after it
   (4k+3).
3. Each batch is one gate-level Icarus run of its units side by side. Before the edge a unit's inputs and
   its stubs' outputs take their recorded values before the edge; half a step after it, their recorded
   values after it. A unit's cells then see the values they see in the whole netlist's simulation (zero
   delay: each sample is a settled state, and a module's ports carry the same values in its RTL and in
   its netlist, which keep the hierarchy), so they toggle alike; except where the netlist holds an
   unknown value (x: a register not written since power-up) and the RTL its initial value, which the
   next unit then sees. Every unit's outputs are compared with the RTL's in every measured cycle, before
   and after the edge: a bit known in both must agree.
4. The probes and toggle counts are :func:`~quidam.characterize.activity.simulate`'s, per unit. A fanout
   buffer, added to the flat netlist after synthesis, toggles with the source of its net
   (:attr:`~quidam.characterize.fanout.FanoutRepair.sources`). The result has the shape of
   :func:`~quidam.characterize.activity.simulate`'s, keyed by the flat netlist's instance names
   (``array.pe_0_1.mac._12_``); ``partition.json`` lists the batches, their cells and run times.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quidam.files import write_json, write_text
from quidam.inputs import load_json
from quidam.pdk.sram import SRAMMacro

from .activity import (PROBE_WORDS_PER_WRITE, Probe, Stimulus, _chunks, _compiler_base, _escaped, _macro_ports,
                       _result, _shorten_names, count_toggles, pin_reference, simulation_model, sram_model,
                       vector_words)
from .cells import Cell
from .primitives import cell_primitives, positional_instances
from .tools import Tool, ToolFailure, run_tool

__all__ = ["MAX_CELLS", "simulate_partitioned"]

STAGE = "3_power"

#: Most cells one gate-level run simulates (about 1.5 GB of Icarus memory at 100,000 cells).
MAX_CELLS = 100_000

_MODULE = re.compile(r"^module (\\\S+ |[A-Za-z_][\w$]*)\s*\(.*?^endmodule\n", re.M | re.S)
_PORT = re.compile(r"^\s*(input|output)\s+(?:\[(\d+):(\d+)\]\s*)?(\\\S+\s|[A-Za-z_][\w$]*)\s*;", re.M)
_INSTANCE = re.compile(r"^  (\\\S+ |[A-Za-z_][\w$]*) +(\\\S+ |[A-Za-z_][\w$]*) *\($", re.M)
_DIFFER = "`define QUIDAM_DIFFER(a, b) ((|(((a) ^ (b)) & ~(((a) ^ (b)) ^ ((a) ^ (b))))) === 1'b1)"


def _bare(identifier: str) -> str:
    return identifier.strip().lstrip("\\")


@dataclass(frozen=True)
class _Module:
    """A module of the simulation model: its text, ports (identifier as written, direction, width) and
    instances (type, identifier as written)."""

    text: str
    ports: tuple[tuple[str, str, int], ...]
    instances: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Unit:
    """A module instance simulated on its own: its path (identifiers as written, ``()`` for the top), module,
    child instances (identifier, module) and cells (identifier, cell or macro)."""

    path: tuple[str, ...]
    module: str
    children: tuple[tuple[str, str], ...]
    cells: tuple[tuple[str, str], ...]

    @property
    def flat(self) -> str:
        """The prefix of its cells' names in the flat netlist."""
        return "".join(f"{_bare(part)}." for part in self.path)

    def rtl(self, port: str) -> str:
        """A port's hierarchical name in the RTL testbench."""
        return ".".join(["dut", *self.path, port if not port.startswith("\\") else port.rstrip() + " "])


def _modules(text: str) -> dict[str, _Module]:
    modules = {}
    for match in _MODULE.finditer(text):
        body = match.group(0)
        header_end = body.index(";")
        ports = tuple((name.rstrip() + " " if name.startswith("\\") else name.strip(), direction,
                       abs(int(high) - int(low)) + 1 if high else 1)
                      for direction, high, low, name in _PORT.findall(body[header_end:]))
        instances = tuple((_bare(kind), name) for kind, name in _INSTANCE.findall(body))
        modules[_bare(match.group(1))] = _Module(body, ports, instances)
    return modules


def _units(modules: dict[str, _Module], top: str, cells: set[str]) -> list[_Unit]:
    """The module instances under ``top`` that hold cells, and the top, depth first."""
    units, pending = [], [((), top)]
    while pending:
        path, name = pending.pop()
        module = modules[name]
        children = tuple((instance, kind) for kind, instance in module.instances if kind in modules)
        own = tuple((instance, kind) for kind, instance in module.instances if kind not in modules)
        unknown = sorted({kind for _, kind in own if kind not in cells})
        if unknown:
            raise ToolFailure(STAGE, f"module {name} instantiates {', '.join(unknown)}: neither a module of the "
                                     "netlist nor a cell of the library")
        if own or not path:   # the top's ports are the design's, always probed
            units.append(_Unit(path, name, children, own))
        pending += [((*path, instance), kind) for instance, kind in reversed(children)]
    return units


def _batches(units: list[_Unit], max_cells: int) -> list[list[_Unit]]:
    batches: list[list[_Unit]] = []
    cells = 0
    for unit in units:
        if not batches or cells + len(unit.cells) > max_cells:
            batches.append([])
            cells = 0
        batches[-1].append(unit)
        cells += len(unit.cells)
    return batches


@dataclass(frozen=True)
class _Field:
    """A recorded port: its RTL name, width, and bit offset in a batch's recorded word (each field padded to
    whole hex digits)."""

    rtl: str
    width: int
    low: int

    @property
    def slice(self) -> str:
        return f"now[{self.low + self.width - 1}:{self.low}]"


class _Layout:
    """What a batch records: each unit's ports and each stub's outputs, as fields of one word."""

    def __init__(self, batch: list[_Unit], modules: dict[str, _Module], clock_port: str):
        self.fields: list[_Field] = []
        self.ports: dict[tuple[int, str], _Field] = {}     # (unit, port) -> field
        self.stubs: dict[tuple[int, str], _Field] = {}     # (unit, child.output) -> field
        for index, unit in enumerate(batch):
            for port, _, width in modules[unit.module].ports:
                if port != clock_port:
                    self.ports[index, port] = self._add(unit.rtl(port), width)
            for child, kind in unit.children:
                child_unit = _Unit((*unit.path, child), kind, (), ())
                for port, direction, width in modules[kind].ports:
                    if direction == "output":
                        self.stubs[index, f"{child}.{port}"] = self._add(child_unit.rtl(port), width)

    def _add(self, rtl: str, width: int) -> _Field:
        low = self.fields[-1].low + -(-self.fields[-1].width // 4) * 4 if self.fields else 0
        self.fields.append(_Field(rtl, width, low))
        return self.fields[-1]

    @property
    def width(self) -> int:
        last = self.fields[-1]
        return last.low + -(-last.width // 4) * 4


def _writes(handle: str, expressions: list[str]) -> list[str]:
    """``$fwrite`` statements printing ``expressions`` (most significant first) as one hex word and a newline."""
    lines = []
    for first in range(0, len(expressions), PROBE_WORDS_PER_WRITE):
        group = expressions[first:first + PROBE_WORDS_PER_WRITE]
        lines.append(f'      $fwrite({handle}, "{"%h" * len(group)}", {", ".join(group)});')
    return lines + [f'      $fwrite({handle}, "\\n");']


def _record(iverilog: Tool, vvp: Tool, folder: Path, rtl: Path, top: str, clock_port: str, stimulus: Stimulus,
            macros: list[SRAMMacro], layouts: list[_Layout]) -> None:
    """Icarus on the RTL: ``record_<k>.hex``, each batch's word before and after every clock edge."""
    from quidam.testbenches.runner import icarus_source

    names = [name for name, _ in stimulus.inputs]
    total = sum(width for _, width in stimulus.inputs)
    lines = ["`timescale 1ns/1ns", "module tb;", f"  reg {clock_port} = 0;",
             *(f"  reg [{width - 1}:0] {_escaped(name)};" for name, width in stimulus.inputs),
             f"  reg [{total - 1}:0] vectors [0:{len(stimulus.vectors) - 1}];", "  integer cycle;",
             *(f"  integer record_{index};" for index in range(len(layouts))),
             f"  {top} dut({', '.join(f'.{_escaped(name)}({_escaped(name)})' for name in [clock_port, *names])});",
             "  task record; begin"]
    for index, layout in enumerate(layouts):
        lines += _writes(f"record_{index}", [field.rtl for field in reversed(layout.fields)])
    lines += ["  end endtask", "  initial begin", '    $readmemh("stimulus.hex", vectors);',
              *(f'    record_{index} = $fopen("record_{index}.hex", "w");' for index in range(len(layouts))),
              f"    for (cycle = 0; cycle < {len(stimulus.vectors)}; cycle = cycle + 1) begin",
              f"      {{{', '.join(_escaped(name) for name in names)}}} = vectors[cycle];",
              f"      #1 record; #1 {clock_port} = 1; #1 record; #1 {clock_port} = 0;", "    end",
              *(f"    $fclose(record_{index});" for index in range(len(layouts))), "    $finish;", "  end",
              "endmodule"]
    write_text(folder / "record_tb.v", "\n".join(lines) + "\n")
    write_text(folder / "stimulus.hex", vector_words(stimulus.inputs, stimulus.vectors))
    shutil.copyfile(rtl, folder / "rtl.v")
    write_text(folder / "rtl_macros.v", "".join(sram_model(macro) for macro in macros))
    source = icarus_source(folder / "rtl.v").name
    run_tool(iverilog, ["-g2012", "-o", "record.vvp", "-s", "tb", "record_tb.v", source, "rtl_macros.v"],
             cwd=folder, log=folder / "record_iverilog.log", stage=STAGE)
    run_tool(vvp, ["-n", "record.vvp"], cwd=folder, log=folder / "record.log", stage=STAGE)
    (folder / "record.vvp").unlink()


def _stub(name: str, module: _Module, outputs: dict[str, _Field]) -> str:
    """A module with ``module``'s ports whose outputs replay their recorded values."""
    lines = [f"module {name}({', '.join(port for port, _, _ in module.ports)});"]
    for port, direction, width in module.ports:
        lines.append(f"  {direction} {f'[{width - 1}:0] ' if width > 1 else ''}{port};")
    lines += [f"  assign {port} = tb.{outputs[port].slice};" for port, direction, _ in module.ports
              if direction == "output"]
    return "\n".join(lines) + "\nendmodule\n"


@dataclass
class _Group:
    """Probes sampled together: their chunks' testbench names and widths, and the probes, least significant
    first."""

    probes: list[Probe]
    chunks: list[tuple[str, int]]

    @property
    def width(self) -> int:
        """Bits the group takes in a sample line (its last chunk padded to whole hex digits)."""
        return sum(-(-width // 4) * 4 for _, width in self.chunks)


def _batch_sources(batch: list[_Unit], layout: _Layout, modules: dict[str, _Module], clock_port: str,
                   stimulus: Stimulus, library: dict[str, Cell], macros: dict[str, SRAMMacro],
                   primitives: dict[str, tuple[str, ...]]) -> tuple[str, str, list[_Group]]:
    """The batch's units (probed, children stubbed, the cells of ``primitives`` connected by position) and
    stubs, its testbench and its probe groups."""
    texts, groups, stubs = [], [], 0
    lines = ["`timescale 1ns/100ps", _DIFFER, "module tb;", f"  reg {clock_port} = 0;",
             f"  reg [{layout.width - 1}:0] record [0:{2 * len(stimulus.vectors) - 1}];",
             f"  reg [{layout.width - 1}:0] now;", f"  reg [1:0] flags [0:{len(stimulus.vectors) - 1}];",
             "  integer cycle, trace, result, checks, bad;"]
    checks = []
    for index, unit in enumerate(batch):
        module = modules[unit.module]
        text = module.text
        for child, kind in unit.children:
            stubs += 1
            stub = f"quidam_stub_{stubs}"
            text = re.sub(rf"^  {re.escape(_escaped(kind))} +{re.escape(child)} *\($", f"  {stub} {child} (", text,
                          count=1, flags=re.M)
            texts.append(_stub(stub, modules[kind], {port: layout.stubs[index, f"{child}.{port}"]
                                                      for port, direction, _ in modules[kind].ports
                                                      if direction == "output"}))
        text, nets = positional_instances(text, primitives)
        probes = []
        for instance, cell in unit.cells:
            name = f"{unit.flat}{_bare(instance)}"
            pins = ([(port, bits) for port, bits in _macro_ports(macros[cell])] if cell in macros
                    else [(pin, 1) for pin in library[cell].activity_pins])
            probes += [Probe(name, pin, bits, pin_reference(_bare(instance), pin, nets)) for pin, bits in pins]
        chunks = _chunks(probes)
        end = text.rindex("endmodule")
        text = text[:end] + "".join(f"  wire [{width - 1}:0] quidam_probes_{k} = {chunk};\n"
                                    for k, (chunk, width) in enumerate(chunks)) + text[end:]
        texts.append(text)
        groups.append(_Group(probes, [(f"u{index}.quidam_probes_{k}", width) for k, (_, width) in enumerate(chunks)]))
        connections = []
        for port, direction, width in module.ports:
            if port == clock_port:
                connections.append(f".{port}({clock_port})")
            elif direction == "input":
                connections.append(f".{port}({layout.ports[index, port].slice})")
            else:
                wire = f"u{index}_out_{len(checks)}"
                lines.append(f"  wire [{width - 1}:0] {wire};")
                connections.append(f".{port}({wire})")
                checks.append((wire, layout.ports[index, port], f"{unit.flat}{_bare(port)}"))
        lines.append(f"  {_escaped(unit.module)} u{index} ({', '.join(connections)});")
        if not unit.path:   # the design's inputs: probed as in the flat simulation
            inputs = []
            for name, bits in stimulus.inputs:
                wire = f"quidam_input_{len(inputs)}"
                lines.append(f"  wire [{bits - 1}:0] {wire} = {layout.ports[index, _escaped(name)].slice};")
                inputs.append(Probe("", name, bits, wire))
            input_chunks = _chunks(inputs)
            lines += [f"  wire [{width - 1}:0] quidam_inputs_{k} = {chunk};" for k, (chunk, width) in
                      enumerate(input_chunks)]
            groups.insert(0, _Group(inputs, [(f"quidam_inputs_{k}", width) for k, (_, width) in
                                             enumerate(input_chunks)]))
    expressions = [name for group in reversed(groups) for name, _ in reversed(group.chunks)]
    lines += ["  task sample; begin", *_writes("trace", expressions), "  end endtask", "  task check; begin"]
    for wire, field, name in checks:
        lines += [f"    if (`QUIDAM_DIFFER({wire}, {field.slice})) begin",
                  "      bad = bad + 1;",
                  f'      if (bad <= 10) $fdisplay(result, "cycle %0d: {name} = %h, the RTL has %h", cycle, '
                  f"{wire}, {field.slice});", "    end"]
    lines += [f"    checks = checks + {len(checks)};", "  end endtask", "  initial begin",
              '    $readmemh("record.hex", record);', '    $readmemh("samples.hex", flags);',
              '    trace = $fopen("probes.hex", "w");', '    result = $fopen("checks.txt", "w");',
              "    checks = 0; bad = 0;",
              f"    for (cycle = 0; cycle < {len(stimulus.vectors)}; cycle = cycle + 1) begin",
              "      now = record[2 * cycle];",
              f"      #1 if (flags[cycle][0]) sample; if (cycle >= {stimulus.measure_from}) check;",
              f"      #1 {clock_port} = 1;", "      #0.5 now = record[2 * cycle + 1];",
              f"      #0.5 if (flags[cycle][1]) sample; if (cycle >= {stimulus.measure_from}) check;",
              f"      #1 {clock_port} = 0;", "    end",
              '    $fdisplay(result, "checked %0d mismatched %0d", checks, bad);', "    $fclose(result);",
              "    $fclose(trace);", "    $finish;", "  end", "endmodule"]
    return "".join(texts), "\n".join(lines) + "\n", groups


def _check_result(folder: Path, log: Path) -> int:
    text = (folder / "checks.txt").read_text() if (folder / "checks.txt").is_file() else ""
    summary = re.search(r"^checked (\d+) mismatched (\d+)$", text, re.M)
    if summary is None:
        raise ToolFailure(STAGE, f"the gate-level simulation of {folder.name} ended without its checks", log)
    if int(summary.group(2)):
        first = text.splitlines()[0]
        raise ToolFailure(STAGE, f"the netlist disagrees with the RTL in {summary.group(2)} of "
                          f"{summary.group(1)} port comparisons of {folder.name}; first: {first}", log)
    return int(summary.group(1))


def simulate_partitioned(yosys: Tool, iverilog: Tool, vvp: Tool, *, stage_dir: Path, hierarchical_netlist: Path,
                         fanout_sources: Path, rtl: Path, liberty: Path, library: dict[str, Cell],
                         macros: list[SRAMMacro], top: str, clock_port: str, stimulus: Stimulus,
                         max_cells: int = MAX_CELLS, model: str | None = None) -> dict[str, Any]:
    """The activity of every cell of the flat netlist, simulated unit by unit (see the module docstring).

    Parameters
    ----------
    yosys, iverilog, vvp : Tool
        The tools.
    stage_dir : Path
        The ``3_power`` folder; the runs go to its ``partition/`` folder (kept: logs, testbenches,
        ``partition.json``; the recorded words and probe samples are deleted).
    hierarchical_netlist, fanout_sources : Path
        :data:`~quidam.characterize.synth.HIERARCHICAL_NETLIST` and
        :data:`~quidam.characterize.synth.FANOUT_SOURCES` of the synthesis stage.
    rtl : Path
        The design's Verilog (what was synthesized).
    liberty, library, macros, top, clock_port, stimulus
        As for :func:`~quidam.characterize.activity.simulate` (``stimulus.vectors`` drive the RTL).
    max_cells : int
        Most cells of one gate-level run.
    model : str, optional
        The hierarchical netlist's :func:`~quidam.characterize.activity.simulation_model`, where the
        caller has it; else made here.

    Returns
    -------
    dict
        :func:`~quidam.characterize.activity.simulate`'s result (``results_checked``: port comparisons
        with the RTL), also written to ``activity.json``.

    Raises
    ------
    ToolFailure
        A tool fails, or a unit's outputs disagree with the RTL's.
    """
    if not isinstance(max_cells, int) or max_cells < 1:
        raise ValueError(f"max cells must be a positive integer, not {max_cells!r}")
    folder = stage_dir / "partition"
    folder.mkdir(parents=True, exist_ok=True)
    if model is None:
        model = simulation_model(yosys, folder=folder, netlist=hierarchical_netlist, liberty=liberty, macros=macros,
                                 top=top)
    by_macro = {macro.name: macro for macro in macros}
    every = _modules(model)
    cell_models, primitives = cell_primitives("".join(every[name].text for name in every if name in library))
    modules = {name: module for name, module in every.items() if name not in library and name not in by_macro}
    units = _units(modules, top, set(library) | set(by_macro))
    batches = _batches(units, max_cells)
    layouts = [_Layout(batch, modules, clock_port) for batch in batches]
    clock = time.perf_counter()
    _record(iverilog, vvp, folder, rtl, top, clock_port, stimulus, macros, layouts)
    summary: dict[str, Any] = {"max_cells": max_cells, "record_s": time.perf_counter() - clock, "batches": []}
    flags = "\n".join(f"{flag:x}" for flag in stimulus.sample_flags()) + "\n"
    counted = stimulus.counted_pairs()
    rates: dict[str, list[float]] = {}
    pins: dict[tuple[str, str], np.ndarray] = {}
    inputs: dict[str, list[list[float]]] = {}
    checked, unknown_bits, sampled_bits = 0, 0.0, 0
    for number, (batch, layout) in enumerate(zip(batches, layouts)):
        clock = time.perf_counter()
        run = folder / f"batch_{number}"
        run.mkdir(exist_ok=True)
        (folder / f"record_{number}.hex").replace(run / "record.hex")
        design_text, testbench, groups = _batch_sources(batch, layout, modules, clock_port, stimulus, library,
                                                        by_macro, primitives)
        design_text, testbench = _shorten_names([design_text, testbench])
        write_text(run / "model.v", cell_models + design_text)
        write_text(run / "tb.v", testbench)
        write_text(run / "macros.v", "".join(sram_model(macro) for macro in macros))
        write_text(run / "samples.hex", flags)
        log = run / "sim.log"
        base = _compiler_base(run / "ivl")
        run_tool(iverilog, [f"-B{base.name}", "-g2012", "-o", "sim.vvp", "-s", "tb", "tb.v", "model.v", "macros.v"],
                 cwd=run, log=run / "iverilog.log", stage=STAGE)
        run_tool(vvp, ["-n", "sim.vvp"], cwd=run, log=log, stage=STAGE)
        shutil.rmtree(base)
        (run / "sim.vvp").unlink()
        (run / "record.hex").unlink()
        checked += _check_result(run, log)
        width = sum(group.width for group in groups)
        try:
            with open(run / "probes.hex") as samples:
                toggles, duty, unknown = count_toggles(samples, width, counted)
        except ValueError as error:
            raise ToolFailure(STAGE, f"{run / 'probes.hex'}: {error}", log) from None
        (run / "probes.hex").unlink()
        unknown_bits += unknown * width
        sampled_bits += width
        bit_rates = toggles / stimulus.sampled_cycles
        offset = 0
        for group in groups:
            position = offset
            for probe in group.probes:
                bits = slice(position, position + probe.width)
                position += probe.width
                if probe.instance:
                    rates.setdefault(probe.instance, []).extend(bit_rates[bits].tolist())
                    pins[probe.instance, probe.pin] = bit_rates[bits]
                else:
                    inputs[probe.pin] = [[float(r), float(d)] for r, d in zip(bit_rates[bits], duty[bits])]
            offset += group.width
        summary["batches"].append({"units": len(batch), "cells": sum(len(unit.cells) for unit in batch),
                                   "seconds": time.perf_counter() - clock})
    for buffer, (instance, pin, bit) in load_json(fanout_sources, "fanout sources").items():
        if instance:
            rate = pins.get((instance, pin))
            rate = None if rate is None else float(rate[bit])
        else:
            rate = inputs[pin][bit][0] if pin in inputs else None
        if rate is None:
            raise ToolFailure(STAGE, f"fanout buffer {buffer}: its source {instance or 'port'} {pin}[{bit}] was "
                                     "not simulated")
        rates[buffer] = [rate, rate]
    write_json(folder / "partition.json", summary)
    return _result(stage_dir, stimulus, checked, unknown_bits / sampled_bits, inputs, rates)
