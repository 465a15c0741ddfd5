"""Predictions of one configuration's PPA from its PE type's model card.

:func:`predict` evaluates every target model of the card (and fmax = 1000 /
the predicted critical path) and returns each figure with its unit and the
model's cross-validated error, plus the warnings a user must see: the
configuration lies outside the ranges the card was fitted on (the figures are
then extrapolations), or the card is stale (its dataset or the RTL generator
changed since the fit: re-run ``make characterize`` and ``make models``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quidam.characterize.design import generator_source_digest
from quidam.config import AcceleratorConfig

from .card import ModelCard
from .features import feature_matrix

__all__ = ["Figure", "Prediction", "predict", "stale_reasons", "unit_of"]

_UNITS = (("_um2", "um^2"), ("_mhz", "MHz"), ("_ns", "ns"), ("_w", "W"), ("_j", "J"))


def unit_of(column: str) -> str:
    """The unit of a dataset column, from its suffix."""
    return next((unit for suffix, unit in _UNITS if column.endswith(suffix)), "")


@dataclass(frozen=True)
class Figure:
    """One predicted figure.

    Attributes
    ----------
    value : float
    unit : str
    cv_mape : float
        The model's cross-validated mean absolute percentage error (fraction).
    """

    value: float
    unit: str
    cv_mape: float


@dataclass
class Prediction:
    """The predicted figures of one configuration.

    Attributes
    ----------
    config : AcceleratorConfig
    figures : dict
        Dataset column -> :class:`Figure` (every target of the card, and fmax).
    warnings : list of str
        Outside the fitted ranges, stale card.
    """

    config: AcceleratorConfig
    figures: dict[str, Figure]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return {"config": self.config.to_dict(),
                "figures": {name: {"value": figure.value, "unit": figure.unit, "cv_mape": figure.cv_mape}
                            for name, figure in self.figures.items()},
                "warnings": list(self.warnings)}


def _outside(card: ModelCard, config: AcceleratorConfig) -> list[str]:
    found = []
    for name, (low, high) in card.field_ranges.items():
        value = getattr(config, name)
        if not low <= value <= high:
            found.append(f"{name} {value:g} (fitted {low:g}..{high:g})")
    values = feature_matrix([config], card.feature_names)[0]
    for feature, value in zip(card.features, values):
        if not feature["min"] <= value <= feature["max"] and feature["name"] not in card.field_ranges:
            found.append(f"{feature['name']} {value:g} (fitted {feature['min']:g}..{feature['max']:g})")
    return found


def stale_reasons(card: ModelCard, *, root: str | os.PathLike[str] = ".") -> list[str]:
    """Why ``card`` no longer describes the RTL or its dataset (empty when it is current).

    The dataset is looked up at the card's recorded path under ``root``; one
    that is not there is not checked.
    """
    reasons = []
    dataset = Path(root) / card.provenance["dataset"]
    if dataset.exists() and hashlib.sha256(dataset.read_bytes()).hexdigest() != card.provenance["dataset_sha256"]:
        reasons.append(f"{card.provenance['dataset']} changed since the fit")
    if generator_source_digest() != card.provenance["generator_sha256"]:
        reasons.append("the RTL generator (rtl_gen/, formats/) changed since the fit")
    return reasons


def predict(card: ModelCard, config: AcceleratorConfig, *, root: str | os.PathLike[str] = ".") -> Prediction:
    """Every figure of ``card`` for ``config``, with errors and warnings (see the module docstring).

    Raises
    ------
    ValueError
        ``config`` is of another PE type than ``card``.
    """
    if config.pe_type != card.pe_type:
        raise ValueError(f"the model card is of pe_type {card.pe_type}, the configuration of {config.pe_type}")
    figures = {name: Figure(float(values[0]), unit_of(name), card.cv_mape(name))
               for name, values in card.predict([config]).items()}
    warnings = []
    outside = _outside(card, config)
    if outside:
        warnings.append(f"outside the fitted ranges of the {card.pe_type} models: {', '.join(outside)}; "
                        f"the figures are extrapolations")
    negative = [name for name, figure in figures.items() if not np.isfinite(figure.value) or figure.value < 0]
    if negative:
        warnings.append(f"negative or undefined predictions ({', '.join(negative[:4])}"
                        f"{', ...' if len(negative) > 4 else ''}): the configuration is too far from the data")
    stale = stale_reasons(card, root=root)
    if stale:
        warnings.append(f"the {card.pe_type} model card is stale ({'; '.join(stale)}): run `make characterize "
                        f"PE={card.pe_type}` and `make models`")
    return Prediction(config, figures, warnings)
