"""Model features: documented transforms of the configuration fields.

An accelerator's area and power are close to sums over its parts: every PE
repeats the same scratchpads and MAC, the buses run along the rows and
columns, the GLB is a number of macros. So the features are the quantities
those parts scale with (:data:`FEATURES`), and a polynomial of low degree in
them fits a dataset whose array shapes and scratchpad depths vary only a
little. A feature that is constant over a dataset says nothing and is left out
of that PE type's models (the card records its value: a configuration with
another value lies outside the fitted range).

The SRAM macros are process facts, not something to fit: the GLB banks and,
from 64 entries on, each PE's filter scratchpad are fakeram45 macros chosen
by the generator's own rules (:func:`quidam.rtl_gen.glb.macro_tiling`,
:func:`quidam.rtl_gen.pe.filter_spad_macro`), whose area and leakage the
PDK's Liberty files give (:class:`MacroInventory`). The targets that contain
them are fitted as the remainder over that exact part (:data:`OFFSETS`) and
predicted as model + exact part, so an array of 168 filter macros is not a
20-fold extrapolation of a fitted slope. The filter scratchpad's flip-flop
words and its macro count are separate features for the same reason: its
cost per entry is not one smooth function of the depth.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from quidam.config import AcceleratorConfig
from quidam.pdk.sram import SRAMMacro, find_macros
from quidam.rtl_gen.glb import macro_tiling
from quidam.rtl_gen.pe import filter_spad_macro

__all__ = ["FEATURES", "OFFSETS", "Feature", "MacroInventory", "feature_matrix", "feature_table", "macro_inventory",
           "offsets"]


@dataclass(frozen=True)
class MacroInventory:
    """The fakeram45 macros of one configuration's accelerator.

    Attributes
    ----------
    glb : tuple of (SRAMMacro, int)
        The GLB's macro and how many instances.
    filter_spad : tuple of (SRAMMacro, int) or None
        Each PE's filter scratchpad macro and how many (one per PE), or ``None`` for flip-flops.
    """

    glb: tuple[SRAMMacro, int]
    filter_spad: tuple[SRAMMacro, int] | None

    def area_um2(self, block: str | None = None) -> float:
        """Macro area of ``block`` (``glb``, ``filter_spad``) or of both."""
        return sum(macro.area_um2 * count for macro, count in self._parts(block))

    def leakage_w(self, block: str | None = None) -> float:
        """Macro leakage of ``block`` or of both."""
        return sum(macro.leakage_w * count for macro, count in self._parts(block))

    def _parts(self, block):
        parts = {"glb": self.glb, "filter_spad": self.filter_spad}
        return [part for name, part in parts.items() if part is not None and block in (None, name)]


@functools.lru_cache(maxsize=4)
def _macros(pdk_dir: str | None) -> dict[tuple[int, int], SRAMMacro]:
    return {(macro.depth, macro.width): macro for macro in find_macros(pdk_dir)}


def macro_inventory(config: AcceleratorConfig, pdk_dir: str | os.PathLike[str] | None = None) -> MacroInventory:
    """The macros the generator instantiates for ``config`` (``memory="macro"``), from the PDK's fakeram45 set."""
    return _inventory(config, None if pdk_dir is None else str(pdk_dir))


# Every feature and offset of a configuration asks for its inventory: choose the macros once. The features are
# computed feature by feature over all configurations, so the cache must hold a whole space (the default one has
# 20,736): a smaller LRU is swept through and never hits.
@functools.lru_cache(maxsize=1 << 16)
def _inventory(config: AcceleratorConfig, pdk_dir: str | None) -> MacroInventory:
    macros = _macros(pdk_dir)
    shape, deep, wide = macro_tiling(config.glb_bank_depth, config.glb_word_bits, list(macros))
    filter_shape = filter_spad_macro(config, list(macros))
    return MacroInventory(
        glb=(macros[shape], config.glb_banks * deep * wide),
        filter_spad=None if filter_shape is None else (macros[filter_shape], config.rows * config.cols))


def _filter_in_macro(config: AcceleratorConfig) -> bool:
    return macro_inventory(config).filter_spad is not None


@dataclass(frozen=True)
class Feature:
    """One model input.

    Attributes
    ----------
    name : str
        Column name in a model card.
    meaning : str
        The transform, in words, for the README and the card.
    of : callable
        ``AcceleratorConfig -> float``.
    """

    name: str
    meaning: str
    of: Callable[[AcceleratorConfig], float]


#: Every candidate feature, in card order.
FEATURES: tuple[Feature, ...] = (
    Feature("pes", "rows * cols: PEs in the array", lambda c: c.rows * c.cols),
    Feature("rows", "rows: filter-row buses and the psum chain length", lambda c: c.rows),
    Feature("cols", "cols: ifmap diagonals and psum outputs", lambda c: c.cols),
    Feature("pe_ifmap_words", "rows * cols * ifmap_spad_depth: ifmap scratchpad entries in the array",
            lambda c: c.rows * c.cols * c.ifmap_spad_depth),
    Feature("pe_filter_flop_words", "rows * cols * filter_spad_depth where the filter scratchpad is "
            "flip-flops, else 0", lambda c: 0 if _filter_in_macro(c) else c.rows * c.cols * c.filter_spad_depth),
    Feature("pe_filter_macros", "rows * cols where the filter scratchpad is a macro, else 0: the macro's "
            "port logic", lambda c: c.rows * c.cols if _filter_in_macro(c) else 0),
    Feature("pe_psum_words", "rows * cols * psum_spad_depth: psum scratchpad entries in the array",
            lambda c: c.rows * c.cols * c.psum_spad_depth),
    Feature("glb_kib", "glb_kib: global buffer capacity", lambda c: c.glb_kib),
    Feature("glb_banks", "glb_banks: global buffer banks", lambda c: c.glb_banks),
    Feature("act_bits", "act_bits: activation width (pe_type int)", lambda c: c.act_bits),
    Feature("wt_bits", "wt_bits: weight width (pe_type int)", lambda c: c.wt_bits),
    Feature("pe_product_bits", "rows * cols * act_bits * wt_bits: multiplier size over the array",
            lambda c: c.rows * c.cols * c.act_bits * c.wt_bits),
    Feature("clock_mhz", "clock_mhz: the clock power was measured at", lambda c: c.clock_mhz),
)

_BY_NAME = {feature.name: feature for feature in FEATURES}


#: Targets fitted as the remainder over their exact macro part: column -> (part, meaning).
OFFSETS: dict[str, tuple[Callable[[MacroInventory], float], str]] = {
    "synth__area__total_um2": (lambda m: m.area_um2(), "macro area"),
    "synth__area__macro_um2": (lambda m: m.area_um2(), "macro area"),
    "synth__area__block__glb_um2": (lambda m: m.area_um2("glb"), "GLB macro area"),
    "synth__area__block__filter_spad_um2": (lambda m: m.area_um2("filter_spad"), "filter macro area"),
    "power__total__leakage_w": (lambda m: m.leakage_w(), "macro leakage"),
    "power__block__glb__leakage_w": (lambda m: m.leakage_w("glb"), "GLB macro leakage"),
    "power__block__filter_spad__leakage_w": (lambda m: m.leakage_w("filter_spad"), "filter macro leakage"),
}


def offsets(configs: Iterable[AcceleratorConfig], target: str) -> np.ndarray:
    """The exact macro part of ``target`` for each configuration (zeros for a target without one)."""
    configs = list(configs)
    if target not in OFFSETS:
        return np.zeros(len(configs))
    part, _ = OFFSETS[target]
    return np.array([part(macro_inventory(config)) for config in configs], dtype=np.float64)


def feature_matrix(configs: Iterable[AcceleratorConfig], names: Iterable[str]) -> np.ndarray:
    """The ``(points, features)`` matrix of the named features (float64).

    Raises
    ------
    KeyError
        An unknown feature name.
    """
    features = [_BY_NAME[name] for name in names]
    return np.array([[float(feature.of(config)) for feature in features] for config in configs],
                    dtype=np.float64).reshape(-1, len(features))


def feature_table() -> str:
    """The feature table of the README (Markdown)."""
    lines = ["| feature | transform |", "|---|---|"]
    lines += [f"| `{feature.name}` | {feature.meaning} |" for feature in FEATURES]
    return "\n".join(lines)
