"""Explore a design space on a workload: latency, performance per area and energy of every point.

:func:`explore` is the entry point. For each PE type it predicts every
point's area, fmax, leakage and per-action energies, from its characterized
blocks composed (``model="composed"``, the default, :mod:`quidam.models.composed`:
the array size an exact count, each block's idle energy per cycle times its
count) or from the PE type's model card (``model="cards"``: polynomials fitted
on 2 x 2 to 3 x 3 whole accelerators, extrapolated to the space), then maps each
layer of the workload on all points at once
(:func:`~quidam.mapping.search.layer_performance`) and sums:

* latency = the layers' cycles / fmax (each design runs at its predicted
  fmax), throughput = 1 / latency (inferences per second);
* performance per area = throughput / total area (inferences/s/mm^2);
* energy per inference = sum over actions of count x energy per action (the
  card's ``energy__*_j``: MAC operations, reads and writes of each scratchpad
  and of the GLB, array transfers, and control energy per cycle) + leakage x
  latency + off-chip words x word bits x :data:`DRAM_PJ_PER_BIT`.

A point is *invalid* when a layer does not map (the reason is kept), or when
its models give a non-physical figure (an area, fmax, leakage or per-action
energy at or below zero: an extrapolation far outside the fitted range). Both
are counted and written out, never dropped silently. Points outside the
ranges the card was fitted on (composed: where a block parameter leaves its
characterized range) are flagged ``extrapolated``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from quidam.characterize.dataset import ACTIONS
from quidam.config import FIELDS
from quidam.errors import ConfigError
from quidam.mapping.model import mac_operations
from quidam.mapping.search import FAILURES, layer_performance
from quidam.models.card import CARDS_DIR, FMAX, CardError, ModelCard, card_path
from quidam.models.composed import ACTION_COUNTS, ComposedModel
from quidam.workloads.networks import Network, get_network

from .points import point_table
from .space import DesignSpace, load_space

__all__ = ["DRAM_PJ_PER_BIT", "MODELS", "Exploration", "explore", "pareto_front"]

#: Off-chip access energy per bit: 20 pJ/bit, the low end of Horowitz (ISSCC 2014: 1.3-2.6 nJ per 64-bit DRAM
#: access). Not characterized here (no DRAM model in the PDK); every point pays it for the same traffic model.
DRAM_PJ_PER_BIT = 20.0

#: Where an exploration's area, fmax, leakage and energies come from (:func:`explore`'s ``model``).
MODELS = ("cards", "composed")

AREA = "synth__area__total_um2"
LEAKAGE = "power__total__leakage_w"
_CONFIG_FIELDS = tuple(rule.name for rule in FIELDS)
_INVALID_MODEL = 5  # failure code: a model predicted a non-physical figure


def pareto_front(perf_per_area: np.ndarray, energy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mask of the valid points no other valid point beats in both performance per area (up) and energy (down)."""
    front = np.zeros(len(energy), dtype=bool)
    index = np.flatnonzero(valid)
    if index.size == 0:
        return front
    # Best performance per area first (ties: least energy first); a point is optimal when its energy is below
    # every energy seen before it.
    order = index[np.lexsort((energy[index], -perf_per_area[index]))]
    running = np.minimum.accumulate(energy[order])
    previous = np.concatenate(([np.inf], running[:-1]))
    front[order[energy[order] < previous]] = True
    return front


@dataclass
class Exploration:
    """Every point of a space on one workload.

    Members
    -------
    network : Network
    space : DesignSpace
    columns : dict
        Column name -> numpy array over all points (configuration fields, figures, flags).
    failures : dict
        Reason -> count of invalid points.
    cards : dict
        PE type -> the model card used (``composed:<block data folder>`` for a composed exploration).
    missing_cards : list
        PE types of the space left out because they have no card (only when the types were not asked for).
    """

    network: Network
    space: DesignSpace
    columns: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)
    cards: dict = field(default_factory=dict)
    missing_cards: list = field(default_factory=list)

    @property
    def valid(self) -> np.ndarray:
        return self.columns["failure"] == ""

    def best(self, pe_type: str) -> dict:
        """The point of ``pe_type`` with the highest performance per area, and the one with the least energy
        (figure, row index and configuration of each; empty when no point of the type is valid)."""
        mask = self.valid & (self.columns["pe_type"] == pe_type)
        if not mask.any():
            return {}
        index = np.flatnonzero(mask)
        top = index[np.argmax(self.columns["perf_per_area"][index])]
        frugal = index[np.argmin(self.columns["energy_j"][index])]
        return {"perf_per_area": float(self.columns["perf_per_area"][top]), "perf_index": int(top),
                "perf_config": self._config(top), "energy_j": float(self.columns["energy_j"][frugal]),
                "energy_index": int(frugal), "energy_config": self._config(frugal)}

    def _config(self, index: int) -> dict:
        return {name: self.columns[name][index].item() for name in _CONFIG_FIELDS}


def _extrapolated(card: ModelCard, fields: dict) -> np.ndarray:
    """Points with a configuration field outside the range the card was fitted on."""
    flags = np.zeros(len(fields["pe_type"]), dtype=bool)
    for name, (low, high) in card.field_ranges.items():
        flags |= (fields[name] < low) | (fields[name] > high)
    return flags


def _card_ppa(card: ModelCard, configs: list, fields: dict) -> dict:
    """A card's figures of every point: area, fmax, leakage, energy per workload event, extrapolated."""
    ppa = card.predict(configs)
    per_event: dict[str, np.ndarray] = {}
    for column, _, action_events in ACTIONS:
        for event in action_events:
            per_event[event] = per_event.get(event, 0) + ppa[column]
    return {"area": ppa[AREA], "fmax": ppa[FMAX], "leakage": ppa[LEAKAGE], "per_event": per_event,
            "extrapolated": _extrapolated(card, fields)}


def _composed_ppa(model: ComposedModel, configs: list) -> dict:
    """The block composition's figures of every point (:mod:`quidam.models.composed`): the energy per cycle
    is every block's idle energy times its count; extrapolated where a block parameter leaves its
    characterized range (never the array size, an exact count)."""
    compositions = [model.compose(config) for config in configs]
    per_event: dict[str, np.ndarray] = {}
    for block, actions in ACTION_COUNTS.items():
        for action, counter in actions:
            event = counter.replace(".", "_")
            per_event[event] = per_event.get(event, 0) + np.array([c.energies[block][action] for c in compositions])
    per_event["cycles"] = per_event.get("cycles", 0) + np.array(
        [sum(c.energies[block]["idle"] * c.counts(block) for block in c.energies) for c in compositions])
    return {"area": np.array([c.total_area_um2 for c in compositions]),
            "fmax": np.array([c.fmax_mhz for c in compositions]),
            "leakage": np.array([c.total_leakage_w for c in compositions]), "per_event": per_event,
            "extrapolated": np.array([bool(c.warnings) for c in compositions])}


def _evaluate_type(network: Network, ppa: dict, configs: list, dram_pj_per_bit: float) -> dict:
    points = point_table(configs)
    n = len(configs)
    cycles = np.zeros(n, dtype=np.int64)
    events = {}
    failure = np.zeros(n, dtype=np.int64)
    # Layers of one shape (ResNets repeat theirs) map alike: each shape is searched once, in the order of its
    # first layer, so the first failing shape is the first failing layer's.
    shapes = Counter(replace(layer, name="") for layer in network.layers)
    for shape, count in shapes.items():
        perf = layer_performance(shape, points)
        cycles += count * perf.cycles
        for key, values in perf.accesses.items():
            events[key.replace(".", "_")] = events.get(key.replace(".", "_"), 0) + count * values
        failure = np.where(failure == 0, perf.failure, failure)
    events["cycles"] = cycles
    events["mac_ops"] = mac_operations(macs=events["macs"], psum_out=events["array_psum_out"], rows=points["rows"],
                                       reduce_beside=points["reduce_beside"])
    fmax, leakage = ppa["fmax"], ppa["leakage"]
    area_mm2 = ppa["area"] * 1e-6
    physical = (ppa["area"] > 0) & (fmax > 0) & (leakage > 0)
    dynamic = np.zeros(n)
    for event, energy in ppa["per_event"].items():
        physical &= energy > 0
        dynamic += energy * events[event]
    failure = np.where((failure == 0) & ~physical, _INVALID_MODEL, failure)
    with np.errstate(divide="ignore", invalid="ignore"):
        latency = cycles / (fmax * 1e6)
        dram_words = events["dram_read"] + events["dram_write"]
        energy = dynamic + leakage * latency + dram_words * points["glb_word_bits"] * dram_pj_per_bit * 1e-12
        throughput = 1.0 / latency
        perf_per_area = throughput / area_mm2
        utilization = events["macs"] / (cycles * points["rows"] * points["cols"])
    ok = failure == 0
    nan = lambda values: np.where(ok, values, np.nan)  # noqa: E731
    return {
        "cycles": np.where(ok, cycles, 0), "fmax_mhz": fmax, "area_mm2": area_mm2,
        "latency_s": nan(latency), "throughput_ips": nan(throughput), "perf_per_area": nan(perf_per_area),
        "energy_j": nan(energy), "dynamic_energy_j": nan(dynamic), "leakage_energy_j": nan(leakage * latency),
        "dram_words": np.where(ok, dram_words, 0), "utilization": nan(utilization),
        "extrapolated": ppa["extrapolated"], "failure_code": failure,
    }


def explore(workload: str, dataset: str | None = None, *, pe_types: tuple[str, ...] | None = None,
            space: str | os.PathLike[str] = "default", models_dir: str | os.PathLike[str] | None = None,
            dram_pj_per_bit: float = DRAM_PJ_PER_BIT, model: str = "composed") -> Exploration:
    """Evaluate every point of ``space`` on ``workload`` (on ``dataset``).

    ``model`` is where the area, fmax, leakage and energies come from: ``composed`` (the characterized
    blocks, :mod:`quidam.models.composed`) or ``cards`` (each PE type's model card in ``models_dir``).

    Raises
    ------
    ConfigError
        An unknown workload, dataset or model, an invalid space.
    CardError
        No PE type of the space has characterized blocks (``composed``) or a model card in ``models_dir``
        (``cards``; default: the committed cards).
    """
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
    network = get_network(workload, dataset)
    design_space = load_space(space, pe_types=pe_types)
    models_dir = Path(models_dir) if models_dir else Path(__file__).resolve().parent.parent / CARDS_DIR
    composed = ComposedModel() if model == "composed" else None
    if composed is None and not models_dir.is_dir():
        raise CardError(f"no model card folder {models_dir}: run `quidam fit` (make models) first")
    parts, missing, card_paths = [], [], {}
    for pe_type, configs in design_space.configs.items():
        if not configs:
            continue
        fields = {name: np.array([getattr(config, name) for config in configs]) for name in _CONFIG_FIELDS}
        if composed is not None:
            widths = {(config.act_bits, config.wt_bits) for config in configs}
            if not widths <= {(row["act_bits"], row["wt_bits"]) for row in composed.tables["pe"]
                              if row["pe_type"] == configs[0].pe_type}:
                missing.append(pe_type)   # a PE of widths without blocks is never stood in for
                continue
            ppa, card_paths[pe_type] = _composed_ppa(composed, configs), f"composed:{composed.data_dir}"
        else:
            path = card_path(models_dir, pe_type)
            if pe_types is None and not path.is_file():
                missing.append(pe_type)  # the space's own list: explore what has a card, say what had none
                continue
            ppa = _card_ppa(ModelCard.load(path, pe_type=pe_type), configs, fields)
            card_paths[pe_type] = str(path)
        parts.append({**fields, **_evaluate_type(network, ppa, configs, dram_pj_per_bit)})
    if not parts:
        raise CardError(f"no model card or block of any PE type of the space in "
                        f"{models_dir if composed is None else composed.data_dir}: run `quidam fit` "
                        f"(or `quidam characterize-blocks`) first")
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    reasons = {**FAILURES, _INVALID_MODEL: "a PPA model predicts a non-physical figure (extrapolation)"}
    codes = columns.pop("failure_code")
    columns["failure"] = np.array([reasons.get(int(code), "") for code in codes], dtype=object)
    failed, counts = np.unique(codes[codes != 0], return_counts=True)
    result = Exploration(network=network, space=design_space, columns=columns, cards=card_paths,
                         missing_cards=missing,
                         failures={reasons[int(code)]: int(count) for code, count in zip(failed, counts)})
    valid = result.valid
    columns["pareto"] = pareto_front(columns["perf_per_area"], columns["energy_j"], valid)
    if valid.any():
        reference = result.best("int16") or {"perf_index": int(np.nanargmax(columns["perf_per_area"]))}
        ref = reference["perf_index"]
        columns["norm_perf_per_area"] = columns["perf_per_area"] / columns["perf_per_area"][ref]
        columns["norm_energy"] = columns["energy_j"] / columns["energy_j"][ref]
    else:  # nothing to normalize to: every point's failure is written out all the same
        columns["norm_perf_per_area"] = columns["norm_energy"] = np.full(len(valid), np.nan)
    return result
