"""Combinational standard cells as Verilog user-defined primitives in the gate-level replays.

The simulation model (:func:`~quidam.characterize.activity.simulation_model`)
writes each cell as a module of its Liberty function: a chain of one-operator
``assign`` statements. Icarus gives every instance of such a module a scope,
a net per port and per intermediate wire, and a functor per operator: for a
controller of 37,000 cells, 260,000 nets, most of its compile and load time.
:func:`cell_primitives` turns each combinational cell with one output into a
UDP of the same name whose table is the module's value for every input of 0, 1
and x, evaluated with Verilog's operators (so an unknown input gives what the
module gives: ``0 & x`` is 0); :func:`positional_instances` connects the
instances of those cells by position, as a UDP instance must be. A UDP
instance has no scope: a probe reads the net connected to its pin
(returned by :func:`positional_instances`, read by
:func:`~quidam.characterize.activity.pin_reference`), which in a zero-delay
simulation carries the pin's value. Sequential cells stay modules, each
flip-flop with one register where Yosys writes two loaded alike
(:func:`_one_register_per_state`). The sampled activity is the same, bit for
bit; an INT16 8 x 8 controller replays in about half the time (compile and
run) and half the memory.
"""

from __future__ import annotations

import itertools
import re

from .tools import ToolFailure

__all__ = ["cell_primitives", "positional_instances"]

_MODULE = re.compile(r"^module (\w+)\((.*?)\);\n(.*?)^endmodule\n", re.M | re.S)
_DIRECTION = re.compile(r"^\s*(input|output) (\w+);", re.M)
_ASSIGN = re.compile(r"^\s*assign (\w+) = (.*);", re.M)
# One instance as Yosys writes it, each connection on a line of its own: "  CELL name (", ".PIN(net),", "  );".
_INSTANCE = re.compile(r"^(  )(\w+) +(\\\S+ |[A-Za-z_][\w$]*) *\(\n((?:\s*\.\w+\([^()]*\),?\n)*)\s*\);", re.M)
_CONNECTION = re.compile(r"\.(\w+)\(([^()]*)\)")
# A process as Yosys writes it: "  always @(...)" and its statements, each on a line indented further.
_PROCESS = re.compile(r"^  always @.*\n(?:    .*\n)+", re.M)
_OPERATOR = re.compile(r"(~?)(\w+)(?: ([&|^]) (\w+))?")

_X = "x"
_BINARY = {
    "&": lambda a, b: "0" if "0" in (a, b) else "1" if a == b == "1" else _X,
    "|": lambda a, b: "1" if "1" in (a, b) else "0" if a == b == "0" else _X,
    "^": lambda a, b: _X if _X in (a, b) else str(int(a) ^ int(b)),
}


def _not(value: str) -> str:
    return _X if value == _X else "1" if value == "0" else "0"


def _table(inputs: list[str], output: str, assigns: list[tuple[str, str]]) -> list[str] | None:
    """The output for every combination of 0, 1 and x on ``inputs``, or ``None`` where an assignment is not
    one operator on wires (the cell then stays a module)."""
    steps = []
    for target, expression in assigns:
        match = _OPERATOR.fullmatch(expression.strip())
        if match is None or (match.group(1) and match.group(3)):
            return None
        steps.append((target, *match.groups()))
    # Each assignment after those of its operands (Yosys writes them in any order).
    order, known = [], set(inputs)
    while len(order) < len(steps):
        ready = [step for step in steps if step not in order and step[2] in known and step[4] in (None, *known)]
        if not ready:
            return None   # a wire nothing drives
        order += ready
        known |= {target for target, *_ in ready}
    if output not in known:
        return None
    rows = []
    for values in itertools.product("01x", repeat=len(inputs)):
        value = dict(zip(inputs, values))
        for target, invert, left, operator, right in order:
            result = _BINARY[operator](value[left], value[right]) if operator else value[left]
            value[target] = _not(result) if invert else result
        rows.append(f"    {' '.join(values)} : {value[output]};")
    return rows


def _one_register_per_state(module: str) -> str:
    """``module`` with each register that another one's process duplicates (the same events, the same
    statements but for the register's name) replaced by that one: Yosys writes a flip-flop's ``IQ`` and
    ``IQN`` as two registers loaded alike, which doubles its events in Icarus. Registers loaded differently
    (a set-reset flop's, whose two outputs are both 0 while both act) stay."""
    processes = {}
    for process in _PROCESS.finditer(module):
        assigned = set(re.findall(r"(\w+) <?= ", process.group(0)))
        if len(assigned) == 1:
            (register,) = assigned
            processes[register] = process.group(0)
    kept: dict[str, str] = {}
    for register, process in processes.items():
        shape = re.sub(rf"\b{register}\b", "@register", process)
        if shape not in kept:
            kept[shape] = register
            continue
        module = module.replace(process, "").replace(f"  reg {register};\n", "")
        module = re.sub(rf"\b{register}\b", kept[shape], module)
    return module


def cell_primitives(cell_models: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    """``cell_models`` (cell modules of a simulation model) with each combinational cell of one output and at
    least one input a UDP of the same name; the others stay modules, a flip-flop's duplicate register merged
    (:func:`_one_register_per_state`).

    Returns the text and each primitive's ports, output first (the order of a positional instance).
    """
    texts, primitives = [], {}
    for match in _MODULE.finditer(cell_models):
        name, body = match.group(1), match.group(3)
        ports = _DIRECTION.findall(body)
        inputs = [port for direction, port in ports if direction == "input"]
        outputs = [port for direction, port in ports if direction == "output"]
        rows = None
        if len(outputs) == 1 and inputs and "always" not in body and "reg " not in body:
            rows = _table(inputs, outputs[0], _ASSIGN.findall(body))
        if rows is None:
            texts.append(_one_register_per_state(match.group(0)))
            continue
        primitives[name] = (outputs[0], *inputs)
        texts.append(f"primitive {name}({', '.join(primitives[name])});\n  output {outputs[0]};\n"
                     + "".join(f"  input {port};\n" for port in inputs)
                     + "  table\n" + "\n".join(rows) + "\n  endtable\nendprimitive\n")
    return "".join(texts), primitives


def positional_instances(text: str, primitives: dict[str, tuple[str, ...]]) -> tuple[str, dict[str, dict[str, str]]]:
    """``text`` (design modules of a simulation model) with each instance of a cell of ``primitives``
    connected by position.

    Returns the text and, per such instance (its name without the escape's backslash and space), each pin's
    connected expression: what a probe of the pin reads.

    Raises
    ------
    ToolFailure
        An instance leaves a pin of its primitive unconnected (a synthesized netlist connects every pin of a
        combinational cell).
    """
    nets: dict[str, dict[str, str]] = {}

    def positional(match: re.Match) -> str:
        cell, name = match.group(2), match.group(3)
        ports = primitives.get(cell)
        if ports is None:
            return match.group(0)
        pins = dict(_CONNECTION.findall(match.group(4)))
        if any(not pins.get(port, "").strip() for port in ports):
            raise ToolFailure("3_power", f"instance {name.strip()} of {cell} leaves a pin unconnected")
        nets[name.strip().lstrip("\\")] = pins
        return f"{match.group(1)}{cell} {name}({', '.join(pins[port] for port in ports)});"

    return _INSTANCE.sub(positional, text), nets
