"""Block-level characterization: each block of the accelerator synthesized alone, its actions' energies measured.

As Accelergy, ZigZag and NeuroMeter tabulate components, but from our own
synthesis and gate-level simulation. A *block* (:data:`KINDS`) is one
module of the accelerator's Verilog cut out with its submodules
(:func:`~quidam.characterize.block_replay.extract_block`): the PE (MAC,
three scratchpads and the sequencer, ``pe_control``), each scratchpad,
the MAC, the GLB and the controller. A *block point* is one such block of
one configuration; it runs the ordinary flow
(:func:`~quidam.characterize.flow.characterize_point`: synthesis, timing,
power, one run folder with numbered stages and a ``metrics.json``) with the
port activity recorded in the RTL simulation of a real layer
(:class:`~quidam.characterize.block_replay.Recording`) replayed through its
own netlist, several times (the flow's ``variants``):

* ``full``: the recorded activity;
* ``idle``: every input held after reset, action ports at 0: the energy of
  the clocked block doing nothing, per cycle;
* ``write`` (scratchpads, GLB): the read enables at 0 and the read side held.

Each action's energy is then the energy a replay adds over the one
without that action, per action it adds (:func:`action_energies`):
``write = (E_write - E_idle) / writes``, ``read = (E_full - E_write) /
reads``, ``mac = (E_full - E_idle) / macs``; the sequencer of a PE
(``pe_control``) is measured inside the PE's own replays. A block's energy
over any run is then ``idle x cycles + sum(action x count)``.

Recordings are of a 2 x 2 array on :data:`WORKLOAD` (smaller than the
whole-accelerator flow's layer: the blocks need activity, not a large
layer), and for the GLB and the controller (:data:`SCALE_KINDS`) also of
the scale sweep's whole accelerators (4 x 4 to 16 x 16, 32 to 256 KiB) and
of two-row arrays with the exploration space's GLBs (:data:`GLB_CORNERS`)
and with its largest drain FIFO;
which configurations are recorded and which blocks each one yields is
:func:`plan` (each block key once, so points that differ only in
parameters a block does not depend on share its point).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quidam.config import AcceleratorConfig, parse_config
from quidam.dse.space import DEFAULT_SPACE
from quidam.errors import QuidamError

from .block_replay import Recording, RecordedStimulus
from .design import Design, generator_source_digest
from .flow import PLATFORM, characterize_point, point_run_dir
from .points import load_sweep

__all__ = ["DEPTHS", "GLB_CORNERS", "KINDS", "SCALE_KINDS", "WORKLOAD", "BlockKind", "BlockPoint", "action_energies", "block_design",
           "characterize_block", "plan"]

#: The layer the blocks' activity is recorded on.
WORKLOAD = {"layer": "resnet20:19", "dataset": "cifar10", "channels_scale": 1 / 32, "seed": 1}

#: Scratchpad depths characterized: ifmap, filter, psum (every combination for the PE): the default space's.
DEPTHS = {name: tuple(DEFAULT_SPACE["grid"][name]) for name in ("ifmap_spad_depth", "filter_spad_depth",
                                                                "psum_spad_depth")}

#: The recorded 2 x 2 base configuration (its GLB is the smallest explored: 16 KiB in 4 banks).
BASE = {"rows": 2, "cols": 2, "glb_kib": 16, "glb_banks": 4, "glb_word_bits": 64, "clock_mhz": 200.0,
        **{name: values[0] for name, values in DEPTHS.items()}}


@dataclass(frozen=True)
class BlockKind:
    """What a block is and how it is replayed.

    Attributes
    ----------
    instance : str
        Its instance path in the accelerator (the one recorded).
    key : tuple of str
        Configuration fields it depends on (with ``pe_type``: the data it sees).
    actions : tuple of (str, str)
        Action name and the regular expression of the input ports that flag it.
    read_side : str
        Regular expression of the inputs held in the ``write`` replay.
    check, valid : str
        The output compared in the ``full`` replay, and the regular
        expression of the input saying when.
    variants : tuple of str
        Replays besides ``full``.
    breakdown : tuple of (str, str)
        Blocks inside it (name, module pattern) for its area and power.
    counts : tuple of (str, str)
        Events counted on another block's recorded port (see
        :attr:`~quidam.characterize.block_replay.RecordedStimulus.counts`).
    """

    instance: str
    key: tuple[str, ...]
    actions: tuple[tuple[str, str], ...] = ()
    read_side: str = ""
    check: str = ""
    valid: str = ""
    variants: tuple[str, ...] = ("idle",)
    breakdown: tuple[tuple[str, str], ...] = ()
    counts: tuple[tuple[str, str], ...] = ()

    @property
    def widths(self) -> tuple[str, ...]:
        """The fields of :attr:`key` that say what data the block sees (of :data:`_WIDTHS`): a block of other
        widths is never a stand-in."""
        return tuple(name for name in self.key if name in _WIDTHS)


#: The PE type and operand widths: what data a block sees.
_WIDTHS = ("pe_type", "act_bits", "wt_bits", "psum_bits")
_SPAD = {"actions": (("read", r"(rd|read)_+en"), ("write", r"(wr|write)_+en")), "read_side": r"(rd|read)_+\w*",
         "check": "rd_data", "valid": r"(rd|read)_+en", "variants": ("idle", "write")}

#: The block kinds.
KINDS: dict[str, BlockKind] = {
    "pe": BlockKind(instance="array.pe_0_0", key=(*_WIDTHS, *DEPTHS),
                    breakdown=tuple((name, f"pe.{name}*") for name in ("mac", "ifmap_spad", "filter_spad",
                                                                        "psum_spad")) + (("pe_control", "pe"),),
                    counts=(("mac", "mac:in_valid"),)),
    "mac": BlockKind(instance="array.pe_0_0.mac", key=_WIDTHS, actions=(("mac", r"in_valid"),),
                     check="psum_out", valid="in_valid"),
    "ifmap_spad": BlockKind(instance="array.pe_0_0.ifmap_spad", key=("pe_type", "act_bits", "ifmap_spad_depth"),
                            **_SPAD),
    "filter_spad": BlockKind(instance="array.pe_0_0.filter_spad", key=("pe_type", "wt_bits", "filter_spad_depth"),
                             **_SPAD),
    "psum_spad": BlockKind(instance="array.pe_0_0.psum_spad", key=("pe_type", "psum_bits", "psum_spad_depth"),
                           **_SPAD),
    "glb": BlockKind(instance="glb", key=("pe_type", "psum_bits", "cols", "glb_kib", "glb_banks", "glb_word_bits"),
                     actions=(("read", r"(dma_|lane_)?rd_en"), ("write", r"(dma_|lane_)?wr_en")),
                     read_side=r"(dma_|lane_)?rd_en", check="rd_data", valid="rd_en", variants=("idle", "write")),
    # The psum scratchpad's depth sizes the controller's drain FIFO (a wide column's tokens).
    "controller": BlockKind(instance="controller", key=(*_WIDTHS, "psum_spad_depth", "rows", "cols", "glb_kib",
                                                        "glb_banks", "glb_word_bits", "dram_bytes_per_cycle")),
}


#: The kinds that depend on the array's size or the GLB, recorded also at the scale sweep's configurations.
SCALE_KINDS = ("glb", "controller")

#: Two-row arrays recorded for the GLB and the controller: the default exploration space's GLBs (every size at
#: its 8 banks: one to eight macros a bank) at its fewest and most columns (psum lanes), and the controller
#: with its largest psum scratchpad (with the most columns, the largest drain FIFO) at the smallest and the
#: largest GLB. ``tests/test_blocks.py`` checks that their features span the space's
#: (``quidam.dse.space.DEFAULT_SPACE``).
GLB_CORNERS = {"rows": (2,), "cols": (4, 16), "glb_kib": (32, 64, 128, 256), "glb_banks": (8,),
               "psum_spad_depth": (32,)}


@dataclass(frozen=True)
class BlockPoint:
    """One block of one recorded configuration."""

    kind: str
    config: AcceleratorConfig

    @property
    def key(self) -> tuple:
        """The block's parameters (:attr:`BlockKind.key`), as values."""
        return tuple(getattr(self.config, name) for name in KINDS[self.kind].key)

    @property
    def params(self) -> dict[str, Any]:
        return {name: getattr(self.config, name) for name in KINDS[self.kind].key}


def plan(pe_configs: list[dict[str, Any]], *, dense: bool = True,
         kinds: tuple[str, ...] | None = None) -> list[BlockPoint]:
    """The block points of the given PE types (each a partial configuration: ``pe_type`` and widths).

    Every combination of :data:`DEPTHS` is recorded (``dense``; else the base
    and each depth varied alone) and yields its PE; the MAC, each scratchpad
    and the GLB and controller come from the first recording with their key.
    ``kinds``: only the points of these kinds (default: every kind of :data:`KINDS`).
    """
    unknown = sorted(set(kinds or ()) - set(KINDS))
    if unknown:
        raise QuidamError(f"block kind must be one of {', '.join(KINDS)}, not {', '.join(unknown)}")
    points, seen = [], set()

    def add(kinds, config):
        for kind in kinds:
            point = BlockPoint(kind, config)
            if (kind, point.key) not in seen:
                seen.add((kind, point.key))
                points.append(point)

    for fields in pe_configs:
        if dense:
            combos = list(itertools.product(*DEPTHS.values()))
        else:
            base = tuple(values[0] for values in DEPTHS.values())
            combos = [base] + [tuple(value if i == j else base[i] for i in range(3))
                               for j, values in enumerate(DEPTHS.values()) for value in values[1:]]
        for combo in combos:
            add(KINDS, parse_config({**BASE, **fields, **dict(zip(DEPTHS, combo))}))
        # The blocks that depend on the array's size, at the whole accelerators of the scale sweep too, and at
        # the exploration space's GLBs.
        for config in load_sweep("scale", fields["pe_type"]):
            # The sweep's widths give way to the PE's (its psum width included, derived from its own).
            shape = {name: value for name, value in config.to_dict().items() if name not in _WIDTHS}
            add(SCALE_KINDS, parse_config({**shape, **fields}))
        sizes = GLB_CORNERS["glb_kib"]
        for combo in itertools.product(*GLB_CORNERS.values()):
            config = parse_config({**BASE, **fields, **dict(zip(GLB_CORNERS, combo))})
            add(SCALE_KINDS if config.glb_kib in (min(sizes), max(sizes)) else ("glb",), config)
        # Where a long psum chain rather than the psum scratchpad sizes the drain FIFO (FP32's tallest arrays),
        # the space's largest one too.
        largest = _largest_drain_fifo(fields)
        if _drain_fifo_bits(largest) > max(_drain_fifo_bits(point.config) for point in points
                                           if point.kind == "controller" and point.config.pe_type == largest.pe_type):
            add(("controller",), largest)
    return [point for point in points if kinds is None or point.kind in kinds]


def _drain_fifo_bits(config: AcceleratorConfig) -> float:
    from quidam.models.block_models import FEATURES   # the feature the controller's model is range-checked on

    return FEATURES["controller"]["drain_fifo_bits"][1](config)


def _largest_drain_fifo(fields: dict[str, Any]) -> AcceleratorConfig:
    """The default space's controller with the largest drain FIFO (of those, the fewest PEs), at its smallest
    GLB."""
    grid = DEFAULT_SPACE["grid"]
    configs = [parse_config({**BASE, **DEFAULT_SPACE["base"], **fields, "rows": rows, "cols": cols,
                             "psum_spad_depth": depth, "glb_kib": min(grid["glb_kib"])})
               for rows, cols, depth in itertools.product(grid["rows"], grid["cols"], grid["psum_spad_depth"])]
    return max(configs, key=lambda config: (_drain_fifo_bits(config), -config.rows * config.cols))


def recording_of(config: AcceleratorConfig) -> Recording:
    """The recording of ``config``: every kind's instance, with its check."""
    return Recording(config=config, workload=WORKLOAD,
                     blocks=tuple((kind, spec.instance, spec.check, spec.valid) for kind, spec in KINDS.items()))


def block_design(point: BlockPoint, runs_platform: Path, pdk_dir: str | None = None) -> Design:
    """The :class:`~quidam.characterize.design.Design` of a block point, with its replays."""
    import re

    spec = KINDS[point.kind]
    recording = recording_of(point.config)
    block = recording.block_verilogs(runs_platform, pdk_dir)[point.kind]
    inputs = tuple((name, width) for name, direction, width, _ in block.ports
                   if direction == "input" and name != "clk")
    actions = tuple((action, tuple(name for name, _ in inputs if re.fullmatch(pattern, name)))
                    for action, pattern in spec.actions)
    held = tuple(name for name, _ in inputs if spec.read_side and re.fullmatch(spec.read_side, name))
    valid = next((name for name, _ in inputs if spec.valid and re.fullmatch(spec.valid, name)), "")

    def replay(variant: str) -> RecordedStimulus:
        return RecordedStimulus(recording=recording, block=point.kind, variant=variant, inputs=inputs,
                                actions=actions, held=held, check=spec.check if valid else "", valid=valid,
                                counts=spec.counts, pdk_dir=pdk_dir)

    params = {"unit": f"block:{point.kind}", **point.params, "recorded": point.config.to_dict(),
              "workload": WORKLOAD}
    return Design(name=point.kind, top=point.kind, verilog=block.verilog, params=params,
                  clock_mhz=point.config.clock_mhz, stimulus=replay("full"), macros=block.macros,
                  generator_digest=generator_source_digest(), blocks=spec.breakdown,
                  variants=tuple((variant, replay(variant)) for variant in spec.variants))


def action_energies(kind: str, metrics: dict[str, Any]) -> dict[str, float]:
    """Idle energy per cycle and each action's energy (J) of a block point's ``metrics.json``.

    Returns ``idle`` and one entry per action (see the module docstring);
    for a PE, ``pe_control_idle`` and ``pe_control_mac`` (per MAC of the PE,
    counted by its MAC's enable in the same recording) from its sequencer.
    """
    period = metrics["sta__clock__period_ns"] * 1e-9

    def energy(prefix: str, key: str = "power__total__dynamic_w") -> float:
        return metrics[f"{prefix}{key}"] * metrics[f"{prefix}power__activity__measured_cycles"] * period

    cycles = metrics["workload__cycles"]
    result = {"idle": energy("variant__idle__") / cycles}
    actions = [action for action, _ in (*KINDS[kind].actions, *KINDS[kind].counts)]
    if "write" in actions:
        result["write"] = (energy("variant__write__") - energy("variant__idle__")) / metrics["workload__write"]
        result["read"] = (energy("") - energy("variant__write__")) / metrics["workload__read"]
    elif actions:
        (action,) = actions
        result[action] = (energy("") - energy("variant__idle__")) / metrics[f"workload__{action}"]
    else:
        result["active"] = (energy("") - energy("variant__idle__")) / cycles
    if kind == "pe":
        block = "power__block__pe_control__dynamic_w"
        result["pe_control_idle"] = energy("variant__idle__", block) / cycles
        result["pe_control_mac"] = (energy("", block) - energy("variant__idle__", block)) / metrics["workload__mac"]
    return result


def characterize_block(point: BlockPoint, *, runs_root: Path, pdk_dir: Path | None = None,
                       yosys: str | None = None, retry: bool = False) -> tuple[dict[str, Any], bool]:
    """Characterize one block point, or read its stored result.

    Returns
    -------
    metrics : dict
        Its ``metrics.json`` (or ``failed.json``) content.
    computed : bool
        Whether it ran now (``False``: read back).
    """
    runs_platform = Path(runs_root).resolve() / PLATFORM
    design = block_design(point, runs_platform, str(pdk_dir) if pdk_dir else None)
    before = point_run_dir(design, pdk_dir=pdk_dir, runs_root=runs_root, yosys=yosys).cached()
    metrics = characterize_point(design, pdk_dir=pdk_dir, runs_root=runs_root, yosys=yosys, retry=retry)
    return metrics, before is None or (retry and before["status"] != "ok")
