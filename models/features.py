"""Model features: documented transforms of the configuration fields.

An accelerator's area and power are close to sums over its parts: every PE
repeats the same scratchpads and MAC, the buses run along the rows and
columns, the GLB is a number of macros. So the features are the quantities
those parts scale with (:data:`FEATURES`), and a polynomial of low degree in
them fits a dataset whose array shapes and scratchpad depths vary only a
little. A feature that is constant over a dataset says nothing and is left out
of that PE type's models (the card records its value: a configuration with
another value lies outside the fitted range).

The filter scratchpad is flip-flops below 64 entries and a fakeram45 macro
from 64 entries on (:func:`quidam.rtl_gen.pe.filter_spad_macro`), so its area
is not a smooth function of the depth: the ``pe_filter_words`` term of a
model fitted on depths 32 and 64 is the secant between the two
implementations, not a per-word cost to extrapolate with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from quidam.config import AcceleratorConfig

__all__ = ["FEATURES", "Feature", "feature_matrix", "feature_table"]


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
    Feature("pe_filter_words", "rows * cols * filter_spad_depth: filter scratchpad entries in the array",
            lambda c: c.rows * c.cols * c.filter_spad_depth),
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
