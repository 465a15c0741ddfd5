"""Blocks cut out of the accelerator's own Verilog, and their port activity recorded in its RTL simulation.

A block (a PE, one scratchpad, the MAC, the GLB, the controller) is
characterized from the very module the accelerator instantiates: Amaranth
writes one Verilog module per submodule (``\\accelerator.array.pe_0_0.mac``),
and :func:`extract_block` copies that module and every module it
instantiates into a file of its own, renamed (top ``mac``, children
``\\mac.<child>``) and with escaped port names made plain (``\\port$803$23``
becomes ``port_0``). Synthesized alone it is the same logic the whole
accelerator's hierarchical synthesis maps, which also stops at module
boundaries.

Recording (:class:`Recording`): one real layer runs on the accelerator RTL
in the cocotb testbench (:func:`~quidam.testbenches.accelerator_runner.run_layer`,
checked bit-exact against the golden convolution and cycle-exact against
the analytical model), which records the accelerator's inputs in every
cycle. An Icarus run of the RTL then replays those inputs and samples, in
every cycle, every input port of every recorded block instance (after the
inputs change, before the clock edge) and one output of each (after the
edge). The result is kept in ``<runs>/<platform>/_recordings/<id>/``
(``blocks.json``: each block's Verilog and ports; ``trace.npz``: the
sampled values), its id a hash of the configuration, the workload and the
sources that shape the trace, so finding it costs no simulation.

Replays (:class:`RecordedStimulus`): a block's recorded inputs drive its
netlist in the gate-level power stage, as recorded (``full``), with every
input held at its value after reset and the action ports at 0 (``idle``:
the clocked block doing nothing), or with only some actions left
(``write``: the read enables at 0 and the read-side inputs held), and the
netlist's output must equal the RTL's wherever the block acted.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.files import locked, write_json, write_text
from quidam.inputs import load_json

from .activity import Stimulus, sram_model, vector_words
from .run_dir import canonical_json
from .tools import ToolFailure, iverilog_tool, run_tool, vvp_tool

__all__ = ["RESET_VECTORS", "BlockVerilog", "Recording", "RecordedStimulus", "extract_block"]

#: Reset cycles put before the recorded trace (the trace's own first cycles are in reset too).
RESET_VECTORS = 2

STAGE = "3_power"

_MODULE = re.compile(r"^(?:\(\*[^\n]*\*\)\n)?module (\\\S+ |\w+)\s*\((.*?)\);\n.*?^endmodule\n", re.M | re.S)
_INSTANCE = re.compile(r"^  (\\\S+ |\w+) +(\\\S+ |\w+) \($", re.M)
_PORT = re.compile(r"^  (input|output) (?:\[(\d+):(\d+)\] )?(\\\S+ |\w+);$", re.M)


@dataclass(frozen=True)
class BlockVerilog:
    """One block's Verilog, cut out of the accelerator's.

    Attributes
    ----------
    name : str
        The block's top module.
    instance : str
        Its instance path in the accelerator (``array.pe_0_0.mac``).
    verilog : str
        The module and the modules it instantiates, renamed.
    ports : tuple of (str, str, int, str)
        Per port: the block's name for it, direction, width, and the name
        in the accelerator's module (the clock included).
    macros : tuple of str
        fakeram45 modules it instantiates.
    """

    name: str
    instance: str
    verilog: str
    ports: tuple[tuple[str, str, int, str], ...]
    macros: tuple[str, ...]


def _bare(name: str) -> str:
    return name[1:-1] if name.startswith("\\") else name


def extract_block(verilog: str, instance: str, name: str) -> BlockVerilog:
    """The module of ``accelerator.<instance>`` and its submodules as block ``name`` (see the module docstring).

    Raises
    ------
    ToolFailure
        The accelerator's Verilog has no such module.
    """
    modules = {_bare(match.group(1)): match.group(0) for match in _MODULE.finditer(verilog)}
    root = f"accelerator.{instance}"
    if root not in modules:
        raise ToolFailure(STAGE, f"the accelerator's Verilog has no module {root} to cut block {name} from")
    order, pending = [], [root]
    while pending:
        module = pending.pop()
        if module not in order:
            order.append(module)
            pending += [_bare(kind) for kind, _ in _INSTANCE.findall(modules[module]) if _bare(kind) in modules]
    text = "".join(modules[module] for module in order)
    text = text.replace(f"\\{root}.", f"\\{name}.").replace(f"\\{root} ", f"{name} ")
    header = _MODULE.search(text)
    top = text[header.start():header.end()]
    ports, renamed = [], top
    for direction, high, low, port in _PORT.findall(top):
        plain = port
        if port.startswith("\\"):
            plain = f"port_{sum(1 for entry in ports if entry[3].startswith(chr(92)))}"
            renamed = renamed.replace(port, f"{plain} ")
        ports.append((plain, direction, abs(int(high) - int(low)) + 1 if high else 1, port.rstrip()))
    text = text[:header.start()] + renamed + text[header.end():]
    macros = tuple(sorted(set(re.findall(r"^  (fakeram45_\d+x\d+) ", text, re.M))))
    return BlockVerilog(name=name, instance=instance, verilog=text, ports=tuple(ports), macros=macros)


@dataclass(frozen=True)
class Recording:
    """A layer simulated on the accelerator RTL with the ports of some of its blocks recorded.

    Attributes
    ----------
    config : AcceleratorConfig
    workload : dict
        ``layer``, ``dataset``, ``channels_scale``, ``seed`` (see
        :class:`~quidam.characterize.accelerator.LayerStimulus`).
    blocks : tuple of (str, str, str, str)
        Per block: its name, instance path, the output compared in its
        replays and the input that says when (``""`` for none).
    """

    config: AcceleratorConfig
    workload: dict[str, Any]
    blocks: tuple[tuple[str, str, str, str], ...]

    @property
    def digest(self) -> str:
        """SHA-256 of the configuration, workload, blocks and what shapes the trace."""
        from .accelerator import trace_digest
        from .design import generator_source_digest

        return hashlib.sha256(canonical_json({
            "config": self.config.to_dict(), "workload": self.workload, "blocks": [list(b) for b in self.blocks],
            "trace": trace_digest(self.config, self.workload), "generator": generator_source_digest(),
            "module": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}).encode()).hexdigest()

    def folder(self, runs_platform: Path) -> Path:
        """``<runs>/<platform>/_recordings/<digest[:16]>``."""
        return Path(runs_platform) / "_recordings" / self.digest[:16]

    def block_verilogs(self, runs_platform: Path, pdk_dir: str | None = None) -> dict[str, BlockVerilog]:
        """Each block's Verilog, cut from the accelerator's once and then read back from ``blocks.json``."""
        folder = self.folder(runs_platform)
        stored = folder / "blocks.json"
        if not stored.is_file():
            from quidam.rtl_gen.emit import accelerator_verilog

            _, verilog = accelerator_verilog(self.config, memory="macro", pdk_dir=pdk_dir)
            folder.mkdir(parents=True, exist_ok=True)
            write_text(folder / "accelerator.v", verilog)
            write_json(stored, {name: {"instance": instance, **_as_json(extract_block(verilog, instance, name))}
                                for name, instance, _, _ in self.blocks})
        return {name: BlockVerilog(name=name, instance=entry["instance"], verilog=entry["verilog"],
                                   ports=tuple(tuple(port) for port in entry["ports"]),
                                   macros=tuple(entry["macros"]))
                for name, entry in load_json(stored, "block recording").items()}

    def trace(self, runs_platform: Path, pdk_dir: str | None = None) -> dict[str, np.ndarray]:
        """The recorded arrays (computed once, under the folder's lock): ``<block>:<port>`` -> one value per
        cycle (Python ints in an object array), ``<block>:check`` -> the compared output, and ``rtl_cycles``,
        ``measure_from``."""
        folder = self.folder(runs_platform)
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder / "lock"):
            if not (folder / "trace.npz").is_file():
                self._record(folder, self.block_verilogs(runs_platform, pdk_dir), pdk_dir)
        with np.load(folder / "trace.npz", allow_pickle=True) as stored:
            return {key: stored[key] for key in stored.files}

    def _record(self, folder: Path, blocks: dict[str, BlockVerilog], pdk_dir: str | None) -> None:
        from quidam.testbenches.accelerator_runner import run_layer
        from quidam.workloads.networks import parse_layer_ref

        _, layer = parse_layer_ref(self.workload["layer"], self.workload["dataset"])
        layer = layer.scaled(self.workload["channels_scale"])
        run = run_layer(self.config, layer, folder / "rtl_sim", seed=self.workload["seed"], memory="macro",
                        trace=True, pdk_dir=pdk_dir)
        shutil.rmtree(folder / "rtl_sim", ignore_errors=True)
        if not (run.bit_exact and run.cycles_match):
            raise ToolFailure(STAGE, f"RTL simulation of {self.workload['layer']}: {run.mismatches} ofmap values "
                              f"wrong, {run.rtl_cycles} cycles against the model's {run.model_cycles}")
        names = [name for name, _ in run.trace["inputs"]]
        reset = names.index("rst")
        vectors = [tuple(int(i == reset) for i in range(len(names)))] * RESET_VECTORS + \
            [tuple(row) for row in run.trace["vectors"]]
        probes = [(block, plain, original, width) for block in blocks.values()
                  for plain, direction, width, original in block.ports if direction == "input" and original != "clk"]
        checks = [(name, check, valid) for name, _, check, valid in self.blocks if check]
        _simulate_rtl(folder, run.trace["inputs"], vectors, probes, checks, blocks, pdk_dir)
        measure_from = next(i for i in range(RESET_VECTORS, len(vectors))
                            if vectors[i][reset] == 0 and vectors[i - 1][reset] == 1)
        arrays = _read_samples(folder, probes, checks, len(vectors))
        arrays["rtl_cycles"] = np.array(run.rtl_cycles)
        arrays["measure_from"] = np.array(measure_from)
        write_json(folder / "rtl_sim.json", {**self.workload, **run.to_json()})
        temporary = folder / "trace.tmp.npz"
        np.savez_compressed(temporary, **arrays)
        temporary.replace(folder / "trace.npz")


def _as_json(block: BlockVerilog) -> dict[str, Any]:
    return {"verilog": block.verilog, "ports": [list(port) for port in block.ports], "macros": list(block.macros)}


def _reference(block: BlockVerilog, original: str) -> str:
    port = f"{original} " if original.startswith("\\") else original
    return f"dut.{block.instance}.{port}"


def _simulate_rtl(folder: Path, inputs, vectors, probes, checks, blocks: dict[str, BlockVerilog],
                  pdk_dir: str | None) -> None:
    """Icarus on the accelerator RTL: drive ``vectors``, write ``ports.txt`` (inputs before each edge) and
    ``checks.txt`` (each check output after it)."""
    from quidam.pdk.sram import find_macros
    from quidam.testbenches.runner import icarus_source

    total = sum(width for _, width in inputs)
    names = [name for name, _ in inputs]
    lines = ["`timescale 1ns/1ns", "module tb;", "  reg clk = 0;",
             *(f"  reg [{width - 1}:0] {name};" for name, width in inputs),
             f"  reg [{total - 1}:0] vectors [0:{len(vectors) - 1}];", "  integer cycle, ports, checks;",
             f"  accelerator dut({', '.join(f'.{name}({name})' for name in ['clk', *names])});",
             "  initial begin", '    $readmemh("stimulus.hex", vectors);',
             '    ports = $fopen("ports.txt", "w");', '    checks = $fopen("checks.txt", "w");',
             f"    for (cycle = 0; cycle < {len(vectors)}; cycle = cycle + 1) begin",
             f"      {{{', '.join(names)}}} = vectors[cycle];", "      #1"]
    fields = [_reference(block, original) for block, _, original, _ in probes]
    lines.append(f'      $fwrite(ports, "{" ".join(["%h"] * len(fields))}\\n", {", ".join(fields)});')
    lines.append("      #1 clk = 1; #1")
    outputs = []
    for name, check, valid in checks:
        block = blocks[name]
        original = next(port[3] for port in block.ports if port[0] == check)
        outputs.append(_reference(block, original))
    if outputs:
        lines.append(f'      $fwrite(checks, "{" ".join(["%h"] * len(outputs))}\\n", {", ".join(outputs)});')
    lines += ["      #1 clk = 0;", "    end", "    $fclose(ports);", "    $fclose(checks);", "    $finish;",
              "  end", "endmodule"]
    write_text(folder / "tb.v", "\n".join(lines) + "\n")
    write_text(folder / "stimulus.hex", vector_words(inputs, vectors))
    used = set(re.findall(r"^  (fakeram45_\d+x\d+) ", (folder / "accelerator.v").read_text(), re.M))
    write_text(folder / "macros.v", "".join(sram_model(macro) for macro in find_macros(pdk_dir) if macro.name in used))
    source = icarus_source(folder / "accelerator.v").name  # combinational blocks evaluated after time 0
    run_tool(iverilog_tool(), ["-g2012", "-o", "rec.vvp", "-s", "tb", "tb.v", source, "macros.v"],
             cwd=folder, log=folder / "iverilog.log", stage=STAGE)
    run_tool(vvp_tool(), ["-n", "rec.vvp"], cwd=folder, log=folder / "rec.log", stage=STAGE)
    (folder / "rec.vvp").unlink()


def _values(text: str) -> list[int]:
    return [int(word.translate(str.maketrans("xXzZ", "0000")), 16) for word in text.split()]


def _read_samples(folder: Path, probes, checks, cycles: int) -> dict[str, np.ndarray]:
    """``ports.txt`` and ``checks.txt`` as arrays (unknown bits read as 0); the text files are deleted."""
    arrays: dict[str, np.ndarray] = {}
    for path, keys in ((folder / "ports.txt", [f"{block.name}:{plain}" for block, plain, _, _ in probes]),
                       (folder / "checks.txt", [f"{name}:check" for name, _, _ in checks])):
        if not keys:
            continue
        rows = [_values(line) for line in path.read_text().splitlines()]
        if len(rows) != cycles or any(len(row) != len(keys) for row in rows):
            raise ToolFailure(STAGE, f"{path}: {len(rows)} samples of the RTL, expected {cycles} of {len(keys)} "
                              "values")
        for index, key in enumerate(keys):
            arrays[key] = np.array([row[index] for row in rows], dtype=object)
        path.unlink()
    return arrays


@dataclass(frozen=True)
class RecordedStimulus:
    """A block's recorded port activity as a replay :class:`~quidam.characterize.activity.Stimulus` (lazy).

    Attributes
    ----------
    recording : Recording
    block : str
        The block's name in the recording.
    variant : str
        ``full``, ``idle`` or ``write`` (see the module docstring).
    inputs : tuple of (str, int)
        The block's input ports (clock excluded) and widths.
    actions : tuple of (str, tuple of str)
        Action name and the ports whose nonzero value is the action (``read``, ``write``, ``mac``).
    held : tuple of str
        Inputs held in the ``write`` variant (the read side).
    check, valid : str
        The output compared and the input saying when (``""``: nothing compared).
    counts : tuple of (str, str)
        Events counted, in the ``full`` replay only, on another block's
        recorded input (event name, ``<block>:<port>``): a PE's MACs.
    pdk_dir : str, optional
        Where the fakeram45 macros are, for a recording made now (not part of the digest).
    """

    recording: Recording
    block: str
    variant: str
    inputs: tuple[tuple[str, int], ...]
    actions: tuple[tuple[str, tuple[str, ...]], ...]
    held: tuple[str, ...] = ()
    check: str = ""
    valid: str = ""
    counts: tuple[tuple[str, str], ...] = ()
    pdk_dir: str | None = None

    @property
    def digest(self) -> str:
        """SHA-256 of the recording's digest and this replay's description (part of the design id)."""
        return hashlib.sha256(canonical_json({
            "recording": self.recording.digest, "block": self.block, "variant": self.variant,
            "inputs": [list(i) for i in self.inputs], "actions": [[a, list(p)] for a, p in self.actions],
            "held": list(self.held), "check": self.check, "valid": self.valid,
            "counts": [list(count) for count in self.counts]}).encode()).hexdigest()

    def resolve(self, stage_dir: Path) -> Stimulus:
        """The replay's vectors, from the recording (made now if it is not stored yet)."""
        stage_dir = Path(stage_dir).resolve()
        runs_platform = next(p for p in (stage_dir, *stage_dir.parents) if p.name == STAGE).parents[1]
        if self.variant not in ("full", "idle", "write"):
            raise ToolFailure(STAGE, f"unknown replay variant {self.variant!r}")
        trace = self.recording.trace(runs_platform, self.pdk_dir)
        start = int(trace["measure_from"])
        columns = {name: [int(v) for v in trace[f"{self.block}:{name}"]] for name, _ in self.inputs}
        forced = {port for action, ports in self.actions for port in ports
                  if self.variant == "idle" or (self.variant == "write" and action == "read")}
        for name in columns:
            if self.variant == "idle" or name in forced or (self.variant == "write" and name in self.held):
                keep = 0 if name in forced else columns[name][start]
                columns[name] = columns[name][:start] + [keep] * (len(columns[name]) - start)
        vectors = tuple(zip(*(columns[name] for name, _ in self.inputs)))
        events = tuple((action, sum(bin(columns[port][cycle]).count("1") for port in ports
                                    for cycle in range(start, len(vectors))))
                       for action, ports in self.actions)
        events += tuple((event, sum(1 for value in trace[source][start:] if value) if self.variant == "full" else 0)
                        for event, source in self.counts)
        expected: tuple[int, ...] = ()
        if self.check and self.variant == "full":
            valid = columns[self.valid]
            outputs = trace[f"{self.block}:check"]
            expected = tuple(int(outputs[cycle]) for cycle in range(len(vectors)) if valid[cycle])
        return Stimulus(inputs=self.inputs, vectors=vectors, measure_from=start,
                        measure_cycles=len(vectors) - start, ops=max(1, dict(events).get("mac", 1)),
                        op_name="replay", check_port=self.check if expected else None,
                        valid_port=self.valid if expected else None, expected=expected, unknown_as_zero=True,
                        events=(("cycles", len(vectors) - start), *events))
