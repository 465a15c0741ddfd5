"""Fanout repair of the mapped netlist: a tree of buffers on every net that drives too many pins.

Yosys's ``abc`` buffers and sizes only the logic it maps, one module at a time:
a net that leaves it (a flip-flop's output, a block's port, a net into the
SRAM macros) reaches ABC as one output with one load, however many pins it
drives. In the accelerator one ``OAI21_X1`` then drives the GLB's write mask
into every macro pin, 256 pins of 5 fF for a 16 KiB GLB, and that one gate is
most of the critical path (2.9 of 3.1 ns), doubling with the GLB. A real flow
repairs such nets before timing (OpenROAD's ``repair_design``); this module
does the same on the flat netlist Yosys writes, before timing and power.

Method
------
1. The netlist (one flat module, as ``write_verilog -noattr -simple-lhs``
   writes it) is read bit by bit: each ``assign`` makes its left-hand bits
   aliases of the right-hand ones, each cell pin bit is a driver (an output
   pin of the Liberty cell or SRAM macro) or a load (any other pin), and each
   output port bit is a load that stays where it is.
2. Every net bit with more than :data:`~quidam.pdk.platform.MAX_FANOUT`
   loads, the clock excepted (ideal: a clock tree is a later stage), gets a
   tree: its cell pins, in netlist order (which keeps a block's pins
   together), are split into groups of at most that many, each driven by a
   new :data:`~quidam.pdk.platform.FANOUT_BUFFER`; the buffers are grouped
   again until one is left, which the original driver drives. A driver then
   sees one buffer input (plus any output ports) instead of hundreds of pins.
3. A buffer is named after its net's driver (``controller.quidam_fanout_3``
   for a net driven by ``controller._13197_``), so its area and power go to
   the driver's block; a net driven by an input port puts its buffers at the
   top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quidam.pdk.platform import FANOUT_BUFFER, FANOUT_BUFFER_PINS, MAX_FANOUT

__all__ = ["FanoutRepair", "repair_fanout", "max_fanout"]

_DECLARATION = re.compile(r"^\s*(input|output|inout|wire)\s+(?:\[(\d+):(\d+)\]\s*)?(\\\S+\s|[A-Za-z_][\w$]*)\s*;",
                          re.MULTILINE)
_ASSIGN = re.compile(r"^\s*assign\s+(.+?)\s*=\s*(.+?)\s*;\s*$", re.MULTILINE)
_INSTANCE = re.compile(r"^\s*([A-Za-z_]\w*)\s+(\\\S+|[A-Za-z_][\w$]*)\s*\(\s*((?:\.\w+\([^()]*\)\s*,?\s*)*)\);",
                       re.MULTILINE)
_CONNECTION = re.compile(r"\.(\w+)\(([^()]*)\)")
_TOKEN = re.compile(r"\s*(\\\S+(?:\s|$)|[A-Za-z_][\w$]*|\d+'[sS]?[bBhHdD][0-9a-fA-FxXzZ_?]+|\[\s*\d+\s*(?::\s*\d+\s*)?\]|[{},])")
_CONSTANT = re.compile(r"(\d+)'[sS]?([bBhHdD])([0-9a-fA-FxXzZ_?]+)")
_DIGIT_BITS = {"b": 1, "h": 4}

# A bit: (net name, index), the index None for a net declared without a range; a constant bit is ("1'bX", None).
Bit = tuple[str, "int | None"]


@dataclass(frozen=True)
class FanoutRepair:
    """A netlist after fanout repair.

    Attributes
    ----------
    netlist : str
        The netlist with the buffer trees.
    buffers : tuple of str
        The buffer instances added (names as OpenSTA reports them).
    sources : dict
        Each buffer's signal: where its tree's net comes from, ``(instance, pin, bit)`` of the driving cell or
        macro output, or ``("", port, bit)`` for an input port (a buffer toggles with it: activities of the
        partitioned simulation, :mod:`~quidam.characterize.partition`).
    nets : int
        Net bits repaired.
    fanout_before, fanout_after : int
        Largest number of loads of a net bit (the clock excepted) before and after.
    """

    netlist: str
    buffers: tuple[str, ...]
    sources: dict[str, tuple[str, str, int]]
    nets: int
    fanout_before: int
    fanout_after: int


def _constant_bits(text: str) -> list[Bit]:
    """The bits of a sized constant, least significant first."""
    width, base, digits = _CONSTANT.fullmatch(text).groups()
    digits = digits.replace("_", "").lower()
    base = base.lower()
    if base == "d":
        spelled = format(int(digits), "b")
    else:
        spelled = "".join(digit * _DIGIT_BITS[base] if digit in "xz?" else
                          format(int(digit, 16), f"0{_DIGIT_BITS[base]}b") for digit in digits)
    spelled = spelled.rjust(int(width), "0")[-int(width):]
    return [(f"1'b{digit}", None) for digit in reversed(spelled)]


class _Netlist:
    """The declarations of a flat netlist and a parser of its connection expressions."""

    def __init__(self, text: str):
        self.ranges: dict[str, tuple[int, int] | None] = {}
        self.outputs: list[str] = []
        for kind, msb, lsb, name in _DECLARATION.findall(text):
            name = name.strip()
            self.ranges[name] = (int(msb), int(lsb)) if msb else None
            if kind == "output":
                self.outputs.append(name)

    def _net_bits(self, name: str, select: str | None) -> list[Bit]:
        declared = self.ranges.get(name)
        if select is None:
            if declared is None:
                return [(name, None)]
            high, low = declared
        else:
            parts = select.strip("[] ").split(":")
            high, low = int(parts[0]), int(parts[-1])
        step = 1 if high >= low else -1
        return [(name, index) for index in range(low, high + step, step)]

    def bits(self, expression: str) -> list[Bit]:
        """The bits of a connection expression (names, selects, sized constants, concatenations), LSB first."""
        tokens = _TOKEN.findall(expression)
        if "".join(token.strip() for token in tokens) != re.sub(r"\s+", "", expression):
            raise ValueError(f"cannot read the connection {expression!r}")
        terms: list[list[Bit]] = []  # most significant first
        index = 0
        while index < len(tokens):
            token = tokens[index].strip()
            index += 1
            if token in "{},":
                continue
            if _CONSTANT.fullmatch(token):
                terms.append(_constant_bits(token))
                continue
            select = None
            if index < len(tokens) and tokens[index].strip().startswith("["):
                select, index = tokens[index], index + 1
            terms.append(self._net_bits(token, select))
        return [bit for term in reversed(terms) for bit in term]

    def spell(self, bits: list[Bit]) -> str:
        """A connection expression for ``bits`` (LSB first)."""
        def one(bit: Bit) -> str:
            name, index = bit
            if index is None:
                return name if name.startswith("1'b") or not name.startswith("\\") else f"{name} "
            return f"{name} [{index}]" if name.startswith("\\") else f"{name}[{index}]"

        words = [one(bit) for bit in reversed(bits)]
        return words[0] if len(words) == 1 else "{ " + ", ".join(words) + " }"


def _analyse(text: str, outputs_of: dict[str, frozenset[str]]):
    """Per root net bit: its driver (instance, pin, position) and its loads (instance, pin, position); port loads."""
    netlist = _Netlist(text)
    alias: dict[Bit, Bit] = {}
    for left, right in _ASSIGN.findall(text):
        for target, source in zip(netlist.bits(left), netlist.bits(right)):
            alias[target] = source

    def root(bit: Bit) -> Bit:
        seen = []
        while bit in alias:
            seen.append(bit)
            bit = alias[bit]
        for step in seen:
            alias[step] = bit
        return bit

    drivers: dict[Bit, tuple[str, str, int]] = {}
    loads: dict[Bit, list[tuple[str, str, int]]] = {}
    instances = []
    for match in _INSTANCE.finditer(text):
        cell, name = match.group(1), match.group(2)
        if cell in ("module", "assign"):
            continue
        outputs = outputs_of.get(cell)
        if outputs is None:
            raise ValueError(f"cell {cell} of instance {name} is neither a library cell nor a given macro")
        instances.append(match)
        for pin, expression in _CONNECTION.findall(match.group(3)):
            for position, bit in enumerate(netlist.bits(expression)):
                bit = root(bit)
                if bit[0].startswith("1'b"):
                    continue
                if pin in outputs:
                    drivers[bit] = (name, pin, position)
                else:
                    loads.setdefault(bit, []).append((name, pin, position))
    ports: dict[Bit, int] = {}
    for name in netlist.outputs:
        for bit in netlist.bits(name):
            ports[root(bit)] = ports.get(root(bit), 0) + 1
    return netlist, instances, drivers, loads, ports


def max_fanout(text: str, outputs_of: dict[str, frozenset[str]], clock_port: str) -> int:
    """The largest number of loads (cell pins and output ports) of a net bit of ``text``, the clock excepted.

    ``outputs_of`` maps each cell and macro name to its output pins.
    """
    _, _, _, loads, ports = _analyse(text, outputs_of)
    counts = {bit: len(pins) for bit, pins in loads.items()}
    for bit, count in ports.items():
        counts[bit] = counts.get(bit, 0) + count
    return max((count for bit, count in counts.items() if bit[0] != clock_port), default=0)


def repair_fanout(text: str, outputs_of: dict[str, frozenset[str]], clock_port: str,
                  limit: int = MAX_FANOUT) -> FanoutRepair:
    """Add the buffer trees of the module docstring to the flat netlist ``text``.

    Parameters
    ----------
    text : str
        A flat netlist written by Yosys (``write_verilog -noattr -simple-lhs``).
    outputs_of : dict
        Each library cell and SRAM macro name to its output pins.
    clock_port : str
        The clock input, left unbuffered.
    limit : int
        Most loads of a net bit afterwards (at least 2).

    Raises
    ------
    ValueError
        A connection or a cell the netlist uses cannot be read.
    """
    if limit < 2:
        raise ValueError(f"a fanout limit must be at least 2, not {limit}")
    netlist, instances, drivers, loads, ports = _analyse(text, outputs_of)
    counts = {bit: len(pins) + ports.get(bit, 0) for bit, pins in loads.items()}
    before = max((count for bit, count in counts.items() if bit[0] != clock_port), default=0)
    moved: dict[tuple[str, str, int], Bit] = {}  # a load pin bit and the buffer net it moves to
    sources: dict[str, tuple[str, str, int]] = {}
    buffers: list[tuple[str, Bit, Bit]] = []  # instance name, input bit, output bit
    repaired, widest = [], 0
    for bit, pins in loads.items():
        if bit[0] == clock_port or counts[bit] <= limit:
            continue
        repaired.append(bit)
        source = drivers.get(bit, ("", bit[0], bit[1] or 0))  # an input port bit where no cell drives it
        driver = source[0]
        prefix = driver.lstrip("\\").rsplit(".", 1)[0] + "." if "." in driver else ""
        level: list[tuple[str, str, int] | int] = list(pins)
        while True:
            groups = [level[first:first + limit] for first in range(0, len(level), limit)]
            widest = max(widest, *map(len, groups))
            parents = []
            for group in groups:
                number = len(buffers)
                output: Bit = (f"quidam_fanout_{number}_z", None)
                buffers.append((f"\\{prefix}quidam_fanout_{number}", bit, output))
                sources[f"{prefix}quidam_fanout_{number}"] = (source[0].lstrip("\\").rstrip(), *source[1:])
                for member in group:
                    if isinstance(member, int):
                        name, _, _ = buffers[member]
                        buffers[member] = (name, output, buffers[member][2])
                    else:
                        moved[member] = output
                parents.append(number)
            if len(parents) == 1:
                break
            level = parents
    if not buffers:
        return FanoutRepair(text, (), {}, 0, before, before)

    touched = {(name, pin) for name, pin, _ in moved}
    pieces, cursor = [], 0
    for match in instances:
        name = match.group(2)
        if not any((name, pin) in touched for pin, _ in _CONNECTION.findall(match.group(3))):
            continue

        def connect(connection: re.Match, name: str = name) -> str:
            pin, expression = connection.group(1), connection.group(2)
            bits = netlist.bits(expression)
            changed = [moved.get((name, pin, position), bit) for position, bit in enumerate(bits)]
            return connection.group(0) if changed == bits else f".{pin}({netlist.spell(changed)})"

        pieces += [text[cursor:match.start(3)], _CONNECTION.sub(connect, match.group(3))]
        cursor = match.end(3)
    pieces.append(text[cursor:])
    body = "".join(pieces)
    header_end = body.index(";", body.index("module ")) + 1
    wires = "".join(f"\n  wire {output[0]};" for _, _, output in buffers)
    buffer_in, buffer_out = FANOUT_BUFFER_PINS
    cells = "".join(f"  {FANOUT_BUFFER} {name}  (\n    .{buffer_in}({netlist.spell([source])}),\n"
                    f"    .{buffer_out}({output[0]})\n  );\n" for name, source, output in buffers)
    end = body.rindex("endmodule")
    kept = (count for bit, count in counts.items() if bit[0] != clock_port and count <= limit)
    after = max([*kept, *(1 + ports.get(bit, 0) for bit in repaired), widest])
    return FanoutRepair(body[:header_end] + wires + body[header_end:end] + cells + body[end:],
                        tuple(name.lstrip("\\") for name, _, _ in buffers), sources, len(repaired), before, after)
