"""The accelerator model as a composition of characterized blocks.

From the block datasets (:mod:`quidam.characterize.block_dataset`,
``data/characterization/blocks/<kind>.csv``), for one configuration:

* area = sum over blocks of count x block area: ``rows x cols`` PEs (each the
  PE block of its PE type and scratchpad depths, MAC, scratchpads and
  sequencer inside), one GLB, one controller;
* leakage = the same sum over the blocks' leakage;
* critical path = the longest of the blocks' own critical paths (register to
  register inside a block, its ports timed against ideal flops) and of the
  paths between blocks (``boundary``): the controller to the GLB's macros
  and to the PEs' scratchpads, PE to PE down the psum chain. Those are
  taken from the PE type's whole accelerators of the default sweep
  (``data/characterization/<pe>.csv``, 2 x 2 to 3 x 3 PEs: the mean of
  their critical paths), as independent of the array size: the flow buffers
  the broadcast nets, and the whole accelerators of 4 x 4 and 8 x 8 PEs
  (never used here) have paths within 6 % of that mean;
* energy of a run of ``cycles`` cycles with the analytical model's access
  counts (:data:`~quidam.mapping.model.ACCESS_KEYS`) = per block, idle
  energy x its block-cycles (count x cycles) + each action's energy x its
  count (:data:`ACTION_COUNTS`), the PE sequencer per MAC; + leakage x time.
  A MAC that also adds the psums of the reduction (FP32's) spends its
  energy per operation on those additions too
  (:func:`~quidam.mapping.model.mac_operations`): its block replay measures
  the energy per ``in_valid`` cycle, MACs and additions alike.

A block whose parameters were characterized is read as it is. Otherwise a
GLB or a controller, whose size follows the array and the GLB, comes from
its fitted model (:class:`~quidam.models.block_models.BlockModel`: linear in
its macros, banks, psum lanes and drain FIFO bits), with a warning only
where one of those leaves the characterized range; a PE block takes the row
of the same PE type nearest in its parameters (each scaled by its
characterized range), with a warning naming the parameter. The array size
is never looked up: it is the exact count. The array buses and
the accelerator's top level are not characterized as blocks (0.2 % of the
area and power of the 2 x 2 points).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quidam.characterize.block_dataset import BLOCK_DATA_DIR, block_dataset_path, read_block_dataset
from quidam.characterize.blocks import KINDS
from quidam.characterize.dataset import DATA_DIR, dataset_path, read_dataset
from quidam.config import AcceleratorConfig, pe_format_label
from quidam.dse.points import timing_of
from quidam.errors import QuidamError
from quidam.mapping.model import ACCESS_KEYS, mac_operations

from .block_models import TARGETS, BlockModel

__all__ = ["ACTION_COUNTS", "LIMITS", "PE_BLOCKS", "Composition", "ComposedModel", "compare_dataset", "limit_of",
           "compare_with_whole"]

#: Per block inside a PE and outside it: the action energies and the access counter (or ``mac_ops``,
#: :func:`~quidam.mapping.model.mac_operations`) each multiplies.
ACTION_COUNTS: dict[str, tuple[tuple[str, str], ...]] = {
    "mac": (("mac", "mac_ops"),),
    "ifmap_spad": (("read", "spad.ifmap_read"), ("write", "spad.ifmap_write")),
    "filter_spad": (("read", "spad.filter_read"), ("write", "spad.filter_write")),
    "psum_spad": (("read", "spad.psum_read"), ("write", "spad.psum_write")),
    "pe_control": (("pe_control_mac", "macs"),),
    "glb": (("read", "glb.read"), ("write", "glb.write")),
    "controller": (("active", "cycles"),),
}

#: Blocks of one PE, in the PE block's area breakdown.
PE_BLOCKS = ("mac", "ifmap_spad", "filter_spad", "psum_spad", "pe_control")

#: How close the composition must come to a whole accelerator (relative error), per target of
#: :func:`compare_with_whole`; ``energy__<block>`` each block's energy over the layer.
LIMITS = {"area": 0.03, "fmax": 0.05, "leakage": 0.10, "dynamic_energy": 0.10, "energy": 0.10,
          "energy__<block>": 0.15}


def limit_of(target: str) -> float:
    """The :data:`LIMITS` entry of a :func:`compare_with_whole` target (``energy__mac`` -> ``energy__<block>``)."""
    return LIMITS["energy__<block>" if target.startswith("energy__") else target]


@dataclass
class Composition:
    """The composed figures of one configuration.

    Attributes
    ----------
    config : AcceleratorConfig
    area_um2 : dict
        Block (the PE's inner blocks, ``glb``, ``controller``) -> its total area (count included).
    leakage_w : dict
        Likewise for leakage.
    critical_path_ns : float
    critical_block : str
        The block whose path is the longest, or ``boundary`` (a path between blocks).
    energies : dict
        Block -> action -> energy (J): ``idle`` per block-cycle, the rest per action.
    warnings : list of str
    """

    config: AcceleratorConfig
    area_um2: dict[str, float]
    leakage_w: dict[str, float]
    critical_path_ns: float
    critical_block: str
    energies: dict[str, dict[str, float]]
    warnings: list[str] = field(default_factory=list)

    @property
    def total_area_um2(self) -> float:
        return sum(self.area_um2.values())

    @property
    def total_leakage_w(self) -> float:
        return sum(self.leakage_w.values())

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.critical_path_ns

    def counts(self, block: str) -> int:
        """How many of ``block`` the accelerator has."""
        return self.config.rows * self.config.cols if block in PE_BLOCKS else 1

    def run_energy(self, cycles: int, accesses: dict[str, int]) -> dict[str, float]:
        """Dynamic energy (J) of each block over a run of ``cycles`` cycles with these access counts."""
        counts = {**accesses, "cycles": cycles,
                  "mac_ops": int(mac_operations(macs=accesses["macs"], psum_out=accesses["array.psum_out"],
                                                rows=self.config.rows,
                                                reduce_beside=timing_of(self.config)["reduce_beside"]))}
        return {block: self.energies[block]["idle"] * cycles * self.counts(block)
                + sum(self.energies[block][action] * counts[counter] for action, counter in ACTION_COUNTS[block])
                for block in self.energies}

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "area_um2": self.area_um2, "total_area_um2": self.total_area_um2,
                "leakage_w": self.leakage_w, "total_leakage_w": self.total_leakage_w,
                "critical_path_ns": self.critical_path_ns, "critical_block": self.critical_block,
                "fmax_mhz": self.fmax_mhz, "energies_j": self.energies, "warnings": self.warnings}


class ComposedModel:
    """The block tables, and the composition of a configuration from them (see the module docstring).

    Parameters
    ----------
    data_dir : path
        The folder of the block datasets (default: the committed ones).
    whole_dir : path
        The folder of the whole-accelerator datasets whose default sweep (``<pe>.csv``) gives each PE type's
        paths between blocks (default: the committed ones).
    """

    def __init__(self, data_dir: str | Path | None = None, whole_dir: str | Path | None = None):
        root = Path(__file__).resolve().parent.parent
        self.data_dir = Path(data_dir) if data_dir is not None else root / BLOCK_DATA_DIR
        self.whole_dir = Path(whole_dir) if whole_dir is not None else root / DATA_DIR
        self.tables = {kind: read_block_dataset(block_dataset_path(self.data_dir, kind)) for kind in KINDS}
        self.block_models = {kind: BlockModel(kind).fit(self.tables[kind]) for kind in TARGETS}
        self._rows: dict[tuple, tuple[dict[str, Any], tuple[str, ...]]] = {}
        self._boundaries: dict[tuple, float | None] = {}

    def boundary_path_ns(self, config: AcceleratorConfig) -> float | None:
        """The mean critical path of the whole accelerators of ``config``'s PE type and widths in the default
        sweep (the paths between blocks, see the module docstring); ``None`` without such points."""
        key = (config.pe_type, config.act_bits, config.wt_bits)
        if key not in self._boundaries:
            _, rows = read_dataset(dataset_path(self.whole_dir, config.pe_type))
            paths = [float(row["sta__timing__critical_path_ns"]) for row in rows
                     if (row["pe_type"], int(row["act_bits"]), int(row["wt_bits"])) == key]
            self._boundaries[key] = sum(paths) / len(paths) if paths else None
        return self._boundaries[key]

    def row(self, kind: str, config: AcceleratorConfig, warnings: list[str]) -> dict[str, Any]:
        """The characterized row of block ``kind`` for ``config``, else its model's or the nearest row of its
        PE type (warned; see the module docstring). Each block key is looked up once."""
        key = (kind, *(getattr(config, name) for name in KINDS[kind].key))
        if key not in self._rows:
            found: list[str] = []
            self._rows[key] = self._row(kind, config, found), tuple(found)
        row, found = self._rows[key]
        warnings.extend(found)
        return row

    def _row(self, kind: str, config: AcceleratorConfig, warnings: list[str]) -> dict[str, Any]:
        keys = KINDS[kind].key
        wanted = {name: getattr(config, name) for name in keys}
        # A block of other operand widths sees other data: never a stand-in (int:4x4 is not int:8x8).
        rows = [row for row in self.tables[kind] if all(row[name] == wanted[name] for name in KINDS[kind].widths)]
        if not rows:
            label = pe_format_label(config)
            raise QuidamError(f"no {kind} block of {label} in {self.data_dir}: run "
                              f"`quidam characterize-blocks --pe {label}`")
        exact = [row for row in rows if all(row[name] == value for name, value in wanted.items())]
        if exact:
            return exact[0]
        if kind in self.block_models:
            model = self.block_models[kind]
            outside = model.outside(config)
            if outside:
                warnings.append(f"{kind} block: " + "; ".join(outside) + " -> its fitted model extrapolates")
            return {**wanted, **{target: float(values[0]) for target, values in model.predict([config]).items()}}
        numeric = [name for name in keys if name != "pe_type"]
        spans = {name: (max(row[name] for row in rows) - min(row[name] for row in rows)) or 1 for name in numeric}
        nearest = min(rows, key=lambda row: sum(((row[n] - wanted[n]) / spans[n]) ** 2 for n in numeric))
        differing = [f"{name} {wanted[name]} (characterized: "
                     f"{', '.join(str(v) for v in sorted({row[name] for row in rows}))})"
                     for name in numeric if nearest[name] != wanted[name]]
        warnings.append(f"{kind} block: " + "; ".join(differing) + " -> the block of "
                        + ", ".join(f"{name} {nearest[name]}" for name in numeric if nearest[name] != wanted[name]))
        return nearest

    def compose(self, config: AcceleratorConfig) -> Composition:
        """Area, leakage, critical path and per-action energies of ``config`` from its blocks."""
        warnings: list[str] = []
        rows = {kind: self.row(kind, config, warnings) for kind in KINDS}
        pes = config.rows * config.cols
        pe = rows["pe"]
        area = {block: pes * pe[f"synth__area__block__{block}_um2"] for block in PE_BLOCKS}
        leakage = {block: pes * pe[f"power__block__{block}__leakage_w"] for block in PE_BLOCKS}
        for kind in ("glb", "controller"):
            area[kind] = rows[kind]["synth__area__total_um2"]
            leakage[kind] = rows[kind]["power__total__leakage_w"]
        energies: dict[str, dict[str, float]] = {}
        for block in ("mac", "ifmap_spad", "filter_spad", "psum_spad", "glb", "controller"):
            row = rows[block]
            energies[block] = {action: row[f"energy__{action}_j"]
                               for action in ("idle", *(a for a, _ in ACTION_COUNTS[block]))}
        energies["pe_control"] = {"idle": pe["energy__pe_control_idle_j"],
                                  "pe_control_mac": pe["energy__pe_control_mac_j"]}
        paths = {kind: rows[kind]["sta__timing__critical_path_ns"] for kind in ("pe", "glb", "controller")}
        boundary = self.boundary_path_ns(config)
        if boundary is None:
            warnings.append(f"no whole accelerator of {pe_format_label(config)} in {self.whole_dir}: the critical path "
                            "leaves out the paths between blocks")
        else:
            paths["boundary"] = boundary
        critical = max(paths, key=paths.get)
        return Composition(config=config, area_um2=area, leakage_w=leakage, critical_path_ns=paths[critical],
                           critical_block=critical, energies=energies, warnings=warnings)


def compare_with_whole(composition: Composition, metrics: dict[str, Any]) -> dict[str, tuple[float, float, float]]:
    """The composed figures against a whole-accelerator point's ``metrics.json`` of the same configuration.

    The run is the whole point's simulated layer: its measured cycles and
    the access counts its workload recorded (the RTL's, equal to the
    analytical model's). Returns target -> (composed, whole, relative
    error): ``area`` and ``leakage`` (totals), ``dynamic_energy`` (the
    layer's), ``energy`` (dynamic + leakage over the layer), ``fmax`` and
    ``energy__<block>`` for each composed block (its share of the whole
    point's power report).
    """
    cycles = metrics["power__activity__measured_cycles"]
    seconds = cycles * metrics["sta__clock__period_ns"] * 1e-9
    accesses = {key: metrics[f"workload__{key.replace('.', '_')}"] for key in ACCESS_KEYS}
    blocks = composition.run_energy(cycles, accesses)
    dynamic = sum(blocks.values())
    figures = {
        "area": (composition.total_area_um2, metrics["synth__area__total_um2"]),
        "leakage": (composition.total_leakage_w, metrics["power__total__leakage_w"]),
        "dynamic_energy": (dynamic, metrics["power__total__dynamic_w"] * seconds),
        "energy": (dynamic + composition.total_leakage_w * seconds,
                   (metrics["power__total__dynamic_w"] + metrics["power__total__leakage_w"]) * seconds),
        "fmax": (composition.fmax_mhz, metrics["sta__timing__fmax_mhz"]),
        **{f"energy__{block}": (energy, metrics[f"power__block__{block}__dynamic_w"] * seconds)
           for block, energy in blocks.items()},
    }
    return {target: (mine, whole, mine / whole - 1.0) for target, (mine, whole) in figures.items()}


def compare_dataset(model: ComposedModel, configs: list[AcceleratorConfig],
                    targets: dict[str, Any]) -> list[tuple[dict, list[str]]]:
    """:func:`compare_with_whole` for every row of a whole-accelerator dataset (``configs`` and their
    ``targets`` columns, as :func:`quidam.models.fit.load_dataset` reads them), with the composition's
    warnings.

    A dataset row keeps the simulated layer's power but not its counts: the layer
    (``characterize.accelerator.WORKLOAD``) is mapped again, and the analytical model's cycles and counts,
    equal to the RTL's, stand in for the run's; the power was measured at ``clock_mhz``.
    """
    from quidam.characterize.accelerator import WORKLOAD
    from quidam.mapping.mapper import map_layer
    from quidam.mapping.model import evaluate
    from quidam.workloads.networks import parse_layer_ref

    from .card import CRITICAL_PATH, fmax_mhz

    needed = ["synth__area__total_um2", "power__total__leakage_w", "power__total__dynamic_w", CRITICAL_PATH,
              *(f"power__block__{block}__dynamic_w" for block in ACTION_COUNTS)]
    missing = [name for name in needed if name not in targets]
    if missing:
        raise QuidamError(f"the dataset lacks {', '.join(missing)}: not a whole-accelerator dataset")
    layer = parse_layer_ref(WORKLOAD["layer"], WORKLOAD["dataset"])[1].scaled(WORKLOAD["channels_scale"])
    found = []
    for index, config in enumerate(configs):
        performance = evaluate(map_layer(layer, config))
        metrics = {name: float(values[index]) for name, values in targets.items()}
        metrics.update({"power__activity__measured_cycles": performance.cycles,
                        "sta__timing__fmax_mhz": float(fmax_mhz(metrics[CRITICAL_PATH])),
                        "sta__clock__period_ns": 1000.0 / config.clock_mhz,
                        **{f"workload__{key.replace('.', '_')}": value for key, value in performance.accesses.items()}})
        composition = model.compose(config)
        found.append((compare_with_whole(composition, metrics), composition.warnings))
    return found
