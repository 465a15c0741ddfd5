"""The whole accelerator of a configuration as a :class:`~quidam.characterize.design.Design`.

What is characterized is the Verilog a user takes downstream: the
:class:`~quidam.rtl_gen.accelerator.Accelerator` with its memories built from
fakeram45 macros (``memory="macro"``: the GLB banks, and each PE's filter
scratchpad where a macro beats flip-flops), the macros black boxes whose
area, leakage and access energy come from their Liberty files. Synthesis keeps
the hierarchy through mapping so the area splits into :data:`BLOCKS`.

Workload (:class:`LayerStimulus`): one real layer (by default ResNet-20's
conv of the last stage, :data:`WORKLOAD`, at 1/32 of its channels, so every
configuration of the sweeps maps it in a few thousand cycles) on random
quantized operands. It is simulated on the RTL with the cocotb testbench
(:func:`~quidam.testbenches.accelerator_runner.run_layer`), which checks the
ofmap bit-exact against the golden convolution and the cycles against the
analytical model and records every input port in every cycle. The
gate-level simulation of the mapped netlist then replays those inputs, must
write the same words off-chip in the same order, and its pin toggles give the
activity (every ``sample_stride``-th cycle, chosen so about :data:`SAMPLES`
cycles are sampled). The RTL run happens on the worker, in the power stage;
the design id hashes the workload's description, the program the mapper
makes of it and the testbench sources instead of the trace itself, so
finding a cached point costs no simulation (and a mapper change that maps
the layer the same way keeps it).
"""

from __future__ import annotations

import hashlib
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from quidam.config import AcceleratorConfig
from quidam.files import write_json
from quidam.mapping.mapper import MappingError

from .activity import Stimulus
from .design import FRONT_END_MODULES, Design, generator_source_digest
from .run_dir import canonical_json, sources_digest
from .tools import ToolFailure

__all__ = ["BLOCKS", "SAMPLES", "WORKLOAD", "LayerStimulus", "accelerator_design", "trace_digest"]

#: Area breakdown: block name and the pattern of the Amaranth module names it covers (first match wins).
BLOCKS = (
    ("mac", "accelerator.array.pe_*.mac*"),
    ("ifmap_spad", "accelerator.array.pe_*.ifmap_spad*"),
    ("filter_spad", "accelerator.array.pe_*.filter_spad*"),
    ("psum_spad", "accelerator.array.pe_*.psum_spad*"),
    ("pe_control", "accelerator.array.pe_*"),
    ("array_bus", "accelerator.array*"),
    ("glb", "accelerator.glb*"),
    ("controller", "accelerator.controller*"),
    ("top", "*"),
)

#: The default workload: network, dataset, layer index and channel scale.
WORKLOAD = {"layer": "resnet20:19", "dataset": "cifar10", "channels_scale": 1 / 32, "seed": 1}

#: Cycles sampled for activity (about; see :class:`LayerStimulus`).
SAMPLES = 300

# Reset vectors put before the trace (the trace's own first cycles are in reset too).
_RESET_VECTORS = 2


def trace_digest(config: AcceleratorConfig, workload: dict[str, Any]) -> str:
    """SHA-256 over what shapes the trace of ``workload`` (``layer``, ``dataset``, ``channels_scale``,
    ``seed``) on ``config``: the layer's shape, the program the mapper makes of it
    (:func:`~quidam.testbenches.accelerator_runner.program_digest`) and the testbench and golden-model
    sources. The mapper's own source is not in it: a search that maps the layer the same way keeps a
    recorded trace."""
    import quidam.formats
    import quidam.testbenches
    from quidam.testbenches.accelerator_runner import program_digest
    from quidam.workloads.networks import parse_layer_ref

    _, layer = parse_layer_ref(workload["layer"], workload["dataset"])
    layer = layer.scaled(workload["channels_scale"])
    sources = sources_digest([Path(package.__file__).parent for package in (quidam.formats, quidam.testbenches)],
                             exclude=FRONT_END_MODULES)
    return hashlib.sha256(canonical_json({
        "layer": asdict(layer), "program": program_digest(config, layer, seed=workload["seed"]),
        "sources": sources}).encode()).hexdigest()


@dataclass(frozen=True)
class LayerStimulus:
    """A real layer simulated on the RTL, recorded, and replayed on the netlist (see the module docstring).

    Attributes
    ----------
    config : AcceleratorConfig
    layer : str
        Layer reference ``network:index``.
    dataset : str
    channels_scale : float
        Fraction of the layer's channels simulated.
    seed : int
        Seed of the random operands.
    samples : int
        About how many cycles to sample for activity.
    pdk_dir : str, optional
        Where the fakeram45 macros are (not part of the digest: the macros are).
    """

    config: AcceleratorConfig
    layer: str
    dataset: str
    channels_scale: float
    seed: int
    samples: int = SAMPLES
    pdk_dir: str | None = None

    @property
    def description(self) -> dict[str, Any]:
        """The workload as JSON-ready data."""
        return {"layer": self.layer, "dataset": self.dataset, "channels_scale": self.channels_scale,
                "seed": self.seed, "samples": self.samples}

    @property
    def digest(self) -> str:
        """SHA-256 of the workload, the configuration and what shapes its trace (part of the design id)."""
        return hashlib.sha256(canonical_json({**self.description, "config": self.config.to_dict(),
                                              "trace": trace_digest(self.config, self.description)}).encode()).hexdigest()

    def resolve(self, stage_dir: Path) -> Stimulus:
        """Simulate the layer on the RTL in ``stage_dir/rtl_sim`` and return its trace as a :class:`Stimulus`.

        The cocotb build is deleted afterwards; ``rtl_sim.json`` keeps the
        run's figures.

        Raises
        ------
        ToolFailure
            The layer does not map, the simulation fails, or its ofmap or
            cycles disagree with the golden model or the analytical model.
        """
        from quidam.testbenches.accelerator_runner import run_layer
        from quidam.testbenches.runner import SimulationFailed
        from quidam.workloads.networks import parse_layer_ref

        _, layer = parse_layer_ref(self.layer, self.dataset)
        layer = layer.scaled(self.channels_scale)
        build = Path(stage_dir) / "rtl_sim"
        try:
            run = run_layer(self.config, layer, build, seed=self.seed, memory="macro", trace=True,
                            pdk_dir=self.pdk_dir)
        except MappingError as error:
            raise ToolFailure("3_power", f"workload {self.layer} does not map: {error}") from None
        except SimulationFailed as error:
            raise ToolFailure("3_power", f"RTL simulation of {self.layer} failed: {error}") from None
        summary = {**self.description, "shape": {"C": layer.C, "M": layer.M, "H": layer.H, "W": layer.W,
                                                  "R": layer.R, "S": layer.S, "stride": layer.stride,
                                                  "padding": layer.padding}, **run.to_json()}
        write_json(Path(stage_dir) / "rtl_sim.json", summary)
        shutil.rmtree(build, ignore_errors=True)
        if not (run.bit_exact and run.cycles_match):
            raise ToolFailure("3_power", f"RTL simulation of {self.layer}: {run.mismatches} ofmap values wrong, "
                              f"{run.rtl_cycles} cycles against the model's {run.model_cycles} "
                              f"(see {Path(stage_dir) / 'rtl_sim.json'})")
        trace = run.trace
        reset = [name for name, _ in trace["inputs"]].index("rst")
        in_reset = tuple(1 if index == reset else 0 for index in range(len(trace["inputs"])))
        vectors = [in_reset] * _RESET_VECTORS + [tuple(row) for row in trace["vectors"]]
        start = next(index for index in range(_RESET_VECTORS, len(vectors))
                     if vectors[index][reset] == 0 and vectors[index - 1][reset] == 1)
        measured = len(vectors) - start
        return Stimulus(inputs=tuple(trace["inputs"]), vectors=tuple(vectors), measure_from=start,
                        measure_cycles=measured, ops=run.macs, op_name="layer_mac",
                        check_port="wr_data__payload", valid_port="wr_data__valid", ready_port="wr_data__ready",
                        expected=tuple(trace["written"]), unknown_as_zero=True,
                        sample_stride=max(1, math.ceil((measured - 1) / self.samples)),
                        events=(("cycles", run.rtl_cycles),
                                *((key.replace(".", "_"), count) for key, count in run.accesses["rtl"].items())))


def accelerator_design(config: AcceleratorConfig, *, pdk_dir: str | None = None, layer: str = WORKLOAD["layer"],
                       dataset: str = WORKLOAD["dataset"], channels_scale: float = WORKLOAD["channels_scale"],
                       seed: int = WORKLOAD["seed"], samples: int = SAMPLES) -> Design:
    """The accelerator of ``config`` with macro memories, at ``config.clock_mhz``, and its workload.

    Parameters
    ----------
    config : AcceleratorConfig
    pdk_dir : path, optional
        Where the fakeram45 macros are (see :func:`~quidam.pdk.locate.resolve_pdk_dir`).
    layer, dataset, channels_scale, seed, samples
        The workload (see :class:`LayerStimulus`).
    """
    from quidam.rtl_gen.emit import accelerator_verilog

    accelerator, verilog = accelerator_verilog(config, memory="macro", pdk_dir=pdk_dir)
    stimulus = LayerStimulus(config, layer=layer, dataset=dataset, channels_scale=channels_scale, seed=seed,
                             samples=samples, pdk_dir=pdk_dir)
    params: dict[str, Any] = {"unit": "accelerator", **config.to_dict(), "memory": "macro",
                              "workload": stimulus.description}
    return Design(name="accelerator", top="accelerator", verilog=verilog, params=params,
                  clock_mhz=config.clock_mhz, stimulus=stimulus, macros=tuple(sorted(accelerator.macros)),
                  generator_digest=generator_source_digest(), blocks=BLOCKS)
