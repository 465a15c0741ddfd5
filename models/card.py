"""Model cards: the fitted models of one PE type as JSON data, not pickles.

A card holds, for every target column of the dataset, the chosen polynomial
degree and ridge penalty, the scaler's and the linear model's fitted
parameters, and the cross-validated error; plus the features and their fitted
ranges, the configuration fields the dataset held constant, and provenance
(the dataset's SHA-256, the RTL generator's source hash, the scikit-learn and
numpy versions). :meth:`ModelCard.pipeline` rebuilds the scikit-learn
pipeline of one target from those numbers: JSON keeps every float exactly
(shortest round-trip repr), so a loaded card predicts exactly what the fitted
one did.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from quidam.errors import QuidamError
from quidam.files import write_json
from quidam.inputs import InputError, load_json

from .features import feature_matrix, offsets

__all__ = ["BLOCK_TOTALS", "CARDS_DIR", "CARD_FORMAT", "CRITICAL_PATH", "FMAX", "TOTAL_AREA", "CardError", "ModelCard",
           "TargetModel", "card_path", "fmax_mhz", "make_pipeline"]

#: Where the model cards are committed, relative to the repository root.
CARDS_DIR = Path("models/cards")

#: The ``format`` of a card this code reads.
CARD_FORMAT = "quidam-model-card/1"
#: fmax is not fitted: it is 1000 / the fitted critical path.
CRITICAL_PATH = "sta__timing__critical_path_ns"
FMAX = "sta__timing__fmax_mhz"
TOTAL_AREA = "synth__area__total_um2"
#: Totals that, where the dataset has them by block, are the sum of the block models, not models of their own:
#: total -> (prefix, suffix) of its block columns.
BLOCK_TOTALS = {TOTAL_AREA: ("synth__area__block__", "_um2"),
                "power__total__dynamic_w": ("power__block__", "__dynamic_w"),
                "power__total__leakage_w": ("power__block__", "__leakage_w")}


def fmax_mhz(critical_path_ns: np.ndarray) -> np.ndarray:
    """1000 / critical path, NaN where the critical path is not positive."""
    critical_path_ns = np.asarray(critical_path_ns, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(critical_path_ns > 0, 1000.0 / critical_path_ns, np.nan)


#: Numeric members of a :class:`TargetModel`, checked when a card is loaded (JSON refuses NaN and infinities).
_NUMBERS = ("alpha", "scaler_mean", "scaler_scale", "coef", "intercept", "cv_mape", "cv_max_ape", "cv_r2",
            "train_min", "train_max")


class CardError(QuidamError):
    """A model card is missing, unreadable or of another format."""


def make_pipeline(degree: int = 1, alpha: float = 1.0) -> Pipeline:
    """Polynomial features of the inputs, standardized, into a ridge regression (one target)."""
    return Pipeline([("poly", PolynomialFeatures(degree=degree, include_bias=False)),
                     ("scale", StandardScaler()),
                     ("ridge", Ridge(alpha=alpha))])


@dataclass
class TargetModel:
    """The fitted model of one target column.

    Attributes
    ----------
    degree : int
        Polynomial degree chosen by cross-validation.
    alpha : float
        Ridge penalty chosen by cross-validation.
    powers : list of list of int
        Exponent of each feature in each polynomial term (``PolynomialFeatures.powers_``).
    scaler_mean, scaler_scale : list of float
        The scaler's fitted ``mean_`` and ``scale_`` (one per polynomial term).
    coef : list of float
        The ridge coefficients (one per polynomial term).
    intercept : float
        The ridge intercept.
    cv_mape : float
        Mean absolute percentage error (as a fraction) of the cross-validated
        predictions: each point predicted by the model fitted without its fold.
    cv_max_ape : float
        The largest absolute percentage error (fraction) among them.
    cv_r2 : float
        R^2 of the cross-validated predictions.
    train_min, train_max : float
        Range of the target in the dataset.
    offset : str
        The exact part the model is the remainder over
        (:data:`~quidam.models.features.OFFSETS`, e.g. ``macro area``), or ``""``.
    """

    degree: int
    alpha: float
    powers: list[list[int]]
    scaler_mean: list[float]
    scaler_scale: list[float]
    coef: list[float]
    intercept: float
    cv_mape: float
    cv_max_ape: float
    cv_r2: float
    train_min: float
    train_max: float
    offset: str = ""


@dataclass
class ModelCard:
    """Every fitted model of one PE type, with what they were fitted on.

    Attributes
    ----------
    pe_type : str
    features : list of dict
        ``name``, ``meaning``, ``min`` and ``max`` of each model input, in input order.
    field_ranges : dict
        Configuration field -> ``[min, max]`` over the dataset (numeric fields).
    targets : dict
        Target column -> :class:`TargetModel`.
    derived : dict
        Figures computed from targets (``sta__timing__fmax_mhz`` = 1000 / critical
        path, and each figure of ``sums``) -> their cross-validated ``cv_mape``,
        ``cv_max_ape``, ``cv_r2``.
    cross_validation : dict
        How the models were selected: folds, shuffle seed, degree and alpha grids, scoring.
    provenance : dict
        ``dataset`` (path), ``dataset_sha256``, ``dataset_rows``, ``generator_sha256``, software versions.
    sums : dict
        Figures predicted as the sum of target models -> those targets (the total
        area and power as the sums of the blocks' (:data:`BLOCK_TOTALS`): each
        block scales its own way, and a direct model of the total mixes them).
    """

    pe_type: str
    features: list[dict[str, Any]]
    field_ranges: dict[str, list[float]]
    targets: dict[str, TargetModel]
    derived: dict[str, dict[str, float]]
    cross_validation: dict[str, Any]
    provenance: dict[str, Any]
    sums: dict[str, list[str]] = field(default_factory=dict)
    format: str = field(default=CARD_FORMAT)

    @property
    def feature_names(self) -> list[str]:
        """The model inputs, in order."""
        return [feature["name"] for feature in self.features]

    def pipeline(self, target: str) -> Pipeline:
        """The fitted scikit-learn pipeline of ``target``, rebuilt from the card's numbers."""
        model = self.targets[target]
        pipeline = make_pipeline(model.degree, model.alpha)
        poly, scale, ridge = (step for _, step in pipeline.steps)
        poly.fit(np.zeros((1, len(self.features))))
        if poly.powers_.tolist() != model.powers:
            raise CardError(f"model card of {self.pe_type}: the polynomial terms of {target} do not match "
                            f"degree {model.degree} over {len(self.features)} features in this scikit-learn")
        terms = len(model.powers)
        scale.mean_ = np.array(model.scaler_mean, dtype=np.float64)
        scale.scale_ = np.array(model.scaler_scale, dtype=np.float64)
        scale.var_ = scale.scale_ ** 2
        scale.n_features_in_ = terms
        scale.n_samples_seen_ = self.provenance["dataset_rows"]
        ridge.coef_ = np.array(model.coef, dtype=np.float64)
        ridge.intercept_ = float(model.intercept)
        ridge.n_features_in_ = terms
        return pipeline

    def predict(self, configs) -> dict[str, np.ndarray]:
        """Every target at each configuration (fitted pipeline plus exact macro part, if any), the sums, and fmax."""
        configs = list(configs)
        inputs = feature_matrix(configs, self.feature_names)
        values = {name: self.pipeline(name).predict(inputs) + offsets(configs, name) for name in self.targets}
        for name, parts in self.sums.items():
            values[name] = sum(values[part] for part in parts)
        values[FMAX] = fmax_mhz(values[CRITICAL_PATH])
        return values

    def cv_mape(self, target: str) -> float:
        """Cross-validated MAPE (fraction) of a target, a sum or fmax."""
        return self.derived[target]["cv_mape"] if target in self.derived else self.targets[target].cv_mape

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content."""
        return asdict(self)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the card as JSON, atomically."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, pe_type: str | None = None) -> ModelCard:
        """Read a card written by :meth:`save` (the card of ``pe_type``, if given).

        Raises
        ------
        CardError
            The file is missing, not JSON, not a card of :data:`CARD_FORMAT`, or
            the card of another PE type than ``pe_type``.
        """
        path = Path(path)
        if not path.exists():
            raise CardError(f"no model card {path}: run `quidam fit` (make models) first")
        try:
            data = load_json(path, "model card")
        except InputError as error:
            raise CardError(str(error)) from None
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
            raise CardError(f"{path} is not a model card of format {CARD_FORMAT}: refit with `quidam fit`")
        try:
            targets = {name: TargetModel(**model) for name, model in data.pop("targets").items()}
            card = cls(targets=targets, **data)
        except (TypeError, AttributeError, KeyError) as error:
            raise CardError(f"model card {path} is malformed ({error}): refit with `quidam fit`") from None
        for name, model in targets.items():
            for member in _NUMBERS:
                values = np.asarray(getattr(model, member), dtype=object).ravel()
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                    raise CardError(f"model card {path}: targets.{name}.{member} must hold numbers: refit with "
                                    f"`quidam fit`")
        if pe_type is not None and card.pe_type != pe_type:
            raise CardError(f"model card {path} is of pe_type {card.pe_type!r}, not {pe_type!r}: refit with "
                            f"`quidam fit --pe {pe_type}`")
        return card


def card_path(models_dir: str | os.PathLike[str], pe_type: str) -> Path:
    """``<models_dir>/<pe_type>.json``."""
    return Path(models_dir) / f"{pe_type}.json"
