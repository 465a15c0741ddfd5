"""Simulate one layer on the generated accelerator and check it against the golden convolution and the model."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.files import write_json, write_text
from quidam.formats.conv import LayerOperands, conv2d_golden, random_layer_operands
from quidam.mapping import MappingError, Performance, Schedule, evaluate, map_layer
from quidam.mapping.dram_image import pack_operands, unpack_ofmap
from quidam.rtl_gen.emit import write_accelerator
from quidam.workloads.layer import ConvLayer

from .runner import run_cocotb

__all__ = ["LayerRun", "layer_program", "program_digest", "run_layer"]


@dataclass(frozen=True)
class LayerRun:
    """The outcome of one simulated layer.

    Members
    -------
    rtl_cycles, model_cycles : int
    macs : int
    utilization : float
        From the model (equal to the RTL's when the cycles agree).
    accesses : dict
        ``{"rtl": {...}, "model": {...}}``, per level (``ACCESS_KEYS``).
    bit_exact : bool
        The RTL's ofmap equals the golden convolution's, bit for bit.
    mismatches : int
        Output values that differ.
    schedule : dict
        The mapping choice and command counts.
    ifmap, weights, ofmap, golden : numpy.ndarray
        Operand codes ``(1, C, H, W)`` and ``(M, C, R, S)``, the RTL's and the
        golden ``(1, M, E, F)`` psums.
    operands : object
        The :class:`~quidam.formats.conv.LayerOperands` (codes and values).
    sim_seconds : float
    trace : dict or None
        With ``trace=True``: ``inputs`` (port names and widths), ``vectors``
        (each cycle's input values, ints) and ``written`` (the words written
        off-chip, in order); see :mod:`quidam.testbenches.accelerator_tb`.
    """

    rtl_cycles: int
    model_cycles: int
    macs: int
    utilization: float
    accesses: dict
    bit_exact: bool
    mismatches: int
    schedule: dict
    ofmap: np.ndarray
    golden: np.ndarray
    operands: Any
    sim_seconds: float
    trace: dict | None = None

    @property
    def cycles_match(self) -> bool:
        return self.rtl_cycles == self.model_cycles

    @property
    def accesses_match(self) -> bool:
        return self.accesses["rtl"] == self.accesses["model"]

    def to_json(self) -> dict[str, Any]:
        """The figures ``quidam simulate --json`` prints."""
        return {"rtl_cycles": self.rtl_cycles, "model_cycles": self.model_cycles, "macs": self.macs,
                "utilization": self.utilization, "accesses": self.accesses, "bit_exact": self.bit_exact,
                "mismatches": self.mismatches, "schedule": self.schedule,
                "sim_seconds": round(self.sim_seconds, 3)}


def layer_program(config: AcceleratorConfig, layer: ConvLayer, *, seed: int = 1,
                  operands: LayerOperands | None = None) -> tuple[Schedule, Performance, LayerOperands, list[int]]:
    """What :func:`run_layer` simulates: the mapped layer, its modelled performance, its operands (random
    from ``seed`` unless given) and the off-chip memory image.

    Raises :class:`~quidam.mapping.MappingError` for an unmappable layer.
    """
    schedule = map_layer(layer, config)
    performance = evaluate(schedule)
    if operands is None:
        operands = random_layer_operands(layer, config, np.random.default_rng(seed))
    return schedule, performance, operands, pack_operands(schedule, operands.ifmap_codes[0], operands.weight_codes)


def program_digest(config: AcceleratorConfig, layer: ConvLayer, *, seed: int = 1) -> str:
    """SHA-256 of what the simulation of ``layer`` is given and checked against: the command words, the
    off-chip memory image and the model's cycles and access counts (of an unmappable layer: its error).

    A recorded trace depends on the mapper only through these, so a change to
    the mapper's search that maps the layer the same way keeps it valid.
    """
    try:
        schedule, performance, _, image = layer_program(config, layer, seed=seed)
    except MappingError as error:
        content: dict[str, Any] = {"unmappable": str(error)}
    else:
        content = {"commands": [format(word, "x") for word in schedule.encoded()],
                   "dram": [format(word, "x") for word in image],
                   "cycles": performance.cycles, "accesses": performance.accesses}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def run_layer(config: AcceleratorConfig, layer: ConvLayer, build_dir: Path, *, seed: int = 1,
              memory: str = "behavioural", simulator: str = "icarus", trace: bool = False,
              stall: float = 0.0, operands: LayerOperands | None = None,
              pdk_dir: str | os.PathLike[str] | None = None) -> LayerRun:
    """Map ``layer``, generate the accelerator into ``build_dir``, simulate one random image, compare.

    ``operands`` replaces the random image and weights with given ones (one
    image, in the codes :func:`~quidam.formats.conv2d_golden` reads), such as
    a trained network's layer (``quidam accuracy-tensors``). ``pdk_dir`` is where
    the fakeram45 macros are (:func:`~quidam.pdk.locate.resolve_pdk_dir`).

    With ``memory="macro"`` the GLB is built from fakeram45 instances, which
    simulate on a behavioural model of each macro (``macros.v``). A build
    folder that already holds this configuration's accelerator (the same
    Verilog, by sha256, and memory) is not recompiled, so a sequence of layers
    pays for one build.

    Raises :class:`~quidam.mapping.MappingError` for an unmappable layer and
    :class:`~quidam.testbenches.runner.SimulationFailed` when the simulation
    itself fails; a wrong result or cycle count is reported in the returned
    :class:`LayerRun`, not raised. ``trace=True`` records every input port
    in every cycle (:attr:`LayerRun.trace`). ``stall`` is the probability
    that off-chip memory holds off in a cycle (backpressure; the cycles then
    exceed the model's, everything else stays exact).
    """
    build_dir = Path(build_dir).resolve()
    schedule, performance, operands, image = layer_program(config, layer, seed=seed, operands=operands)
    fresh = write_accelerator(config, build_dir / "generated", memory=memory, pdk_dir=pdk_dir)
    sidecar_path = build_dir / "config.json"
    sidecar = json.loads(sidecar_path.read_text()) if sidecar_path.is_file() else None
    reuse = (sidecar is not None and sidecar["verilog"] == fresh["verilog"] and sidecar["memory"] == memory
             and (build_dir / "accelerator.v").is_file())
    if not reuse:
        for name in ("accelerator.v", "config.json"):
            os.replace(build_dir / "generated" / name, build_dir / name)
        sidecar = fresh
    sources = [build_dir / "accelerator.v"]
    if sidecar["macros"]:
        from quidam.characterize.activity import sram_model
        from quidam.pdk.sram import find_macros
        models = {macro.name: sram_model(macro) for macro in find_macros(pdk_dir)}
        text = "".join(models[name] for name in sorted(sidecar["macros"]))
        if not reuse or not (build_dir / "macros.v").is_file():
            write_text(build_dir / "macros.v", text)
        sources.append(build_dir / "macros.v")
    job, result_path = build_dir / "job.json", build_dir / "result.json"
    result_path.unlink(missing_ok=True)
    write_json(job, {
        "commands": [format(word, "x") for word in schedule.encoded()],
        "dram": [format(word, "x") for word in image],
        "word_bits": config.glb_word_bits, "dram_bytes_per_cycle": config.dram_bytes_per_cycle,
        "result": str(result_path), "trace": trace, "stall": {"probability": stall, "seed": seed},
    })
    run_cocotb(build_dir, verilog=sources, toplevel="accelerator",
               test_module="quidam.testbenches.accelerator_tb", extra_env={"QUIDAM_ACCEL_JOB": str(job)},
               seed=seed, simulator=simulator, rebuild=not reuse)
    result = json.loads(result_path.read_text())
    ofmap = unpack_ofmap(schedule, [int(word, 16) for word in result["dram"]])[None]
    groups = schedule.reduction_groups if config.pe.is_float else None
    golden = conv2d_golden(operands.ifmap_codes, operands.weight_codes, config=config, stride=layer.stride,
                           padding=layer.padding, groups=groups)
    mismatches = int(np.count_nonzero(ofmap != golden))
    return LayerRun(
        rtl_cycles=result["rtl_cycles"], model_cycles=performance.cycles, macs=performance.macs,
        utilization=performance.utilization,
        accesses={"rtl": result["accesses"], "model": performance.accesses},
        bit_exact=mismatches == 0, mismatches=mismatches, schedule=schedule.summary(),
        ofmap=ofmap, golden=golden, operands=operands, sim_seconds=result["sim_seconds"],
        trace=_trace(result["trace"]) if trace else None)


def _trace(recorded: dict[str, Any]) -> dict[str, Any]:
    return {"inputs": [(name, width) for name, width in recorded["inputs"]],
            "vectors": [[int(value, 16) for value in row] for row in recorded["vectors"]],
            "written": [int(word, 16) for word in recorded["written"]]}
