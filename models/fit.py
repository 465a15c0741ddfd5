"""Fitting model cards to characterization datasets.

For every target column of a PE type's dataset (each metric column but the
design id and fmax, which is 1000 / critical path), :func:`fit_card` selects
the polynomial degree and the ridge penalty of :func:`~quidam.models.card.make_pipeline`
with :class:`~sklearn.model_selection.GridSearchCV` over k-fold splits
(:data:`DEGREES` x :data:`ALPHAS`, mean absolute error; the critical path
degree 1 only, :data:`LINEAR_TARGETS`), refits the
chosen pipeline on every point, and records the cross-validated error: each
point predicted by the model fitted without its fold
(:func:`~sklearn.model_selection.cross_val_predict`). A target with an exact macro part
(:data:`~quidam.models.features.OFFSETS`) is fitted as the remainder over
it; its errors are those of the whole target. The inputs are the
:data:`~quidam.models.features.FEATURES` that vary over the dataset and are
not linear combinations of the features before them (``pe_product_bits`` is
``32 * pes`` when the operand widths are fixed). Where the dataset has the
area or the power by block, the total is not fitted: it is the sum of the block
models (:data:`~quidam.models.card.BLOCK_TOTALS`, :attr:`~quidam.models.card.ModelCard.sums`),
cross-validated as the sum of their cross-validated predictions.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_absolute_percentage_error, r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict

from quidam.characterize.dataset import CONFIG_COLUMNS, DatasetError, read_dataset
from quidam.characterize.design import generator_source_digest
from quidam.config import FIELDS, AcceleratorConfig, parse_config

from .card import BLOCK_TOTALS, CRITICAL_PATH, FMAX, ModelCard, TargetModel, fmax_mhz, make_pipeline
from .features import FEATURES, OFFSETS, feature_matrix, offsets

__all__ = ["ALPHAS", "DEGREES", "FOLDS", "LINEAR_TARGETS", "SCORING", "Dataset", "absolute_percentage_errors",
           "fit_card", "load_dataset"]

#: Polynomial degrees and ridge penalties cross-validation chooses from. The largest penalties let a target
#: with no trend over the dataset (a critical path that moves only with synthesis) be nearly constant.
DEGREES = (1, 2)
ALPHAS = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
#: Targets fitted with degree 1 only. The critical path is the longest of many paths, moving +-6 % with
#: synthesis between neighbouring points; on 8 points the 30-odd degree-2 terms fit that scatter, and the
#: held-out INT16 3 x 3 point (433 MHz) came out at 519 MHz (README "PPA models").
LINEAR_TARGETS = (CRITICAL_PATH,)
#: Model selection score: mean absolute error (of the whole target; see :data:`~quidam.models.features.OFFSETS`).
SCORING = "neg_mean_absolute_error"
#: At most this many folds (fewer when the dataset has fewer points); shuffled with seed 0.
FOLDS = 5

_KIND = {rule.name: rule.kind for rule in FIELDS}


@dataclass(frozen=True)
class Dataset:
    """A characterization dataset read for fitting.

    Attributes
    ----------
    path : Path
    sha256 : str
        Of the file's bytes.
    configs : list of AcceleratorConfig
        One per row.
    targets : dict
        Target column -> values (float64 array, one per row).
    """

    path: Path
    sha256: str
    configs: list[AcceleratorConfig]
    targets: dict[str, np.ndarray]

    @property
    def pe_type(self) -> str:
        """The PE type of every row."""
        return self.configs[0].pe_type


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset CSV written by ``quidam characterize``.

    Raises
    ------
    DatasetError
        Missing or empty file, rows of several PE types, a row that is not a
        valid configuration, or a metric that is not a number.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no dataset {path}: run `quidam characterize --pe <type>` first")
    columns, rows = read_dataset(path)
    if not rows:
        raise DatasetError(f"{path}: no rows to fit")
    configs = []
    for number, row in enumerate(rows, start=2):
        try:
            configs.append(parse_config({name: _KIND[name](row[name]) for name in CONFIG_COLUMNS},
                                        source=f"{path} line {number}"))
        except ValueError as error:
            raise DatasetError(f"{path} line {number}: not a configuration ({error})") from None
    if len({config.pe_type for config in configs}) != 1:
        raise DatasetError(f"{path}: rows of several PE types ({sorted({c.pe_type for c in configs})})")
    targets = {}
    for name in columns:
        if name in CONFIG_COLUMNS or name in ("design_id", FMAX):
            continue
        try:
            targets[name] = np.array([float(row[name]) for row in rows], dtype=np.float64)
        except ValueError:
            raise DatasetError(f"{path}: column {name} holds a value that is not a number") from None
        bad = np.flatnonzero(~np.isfinite(targets[name]))
        if bad.size:
            raise DatasetError(f"{path} line {bad[0] + 2}: column {name} is {rows[bad[0]][name]!r}, not a finite "
                               f"number")
    if CRITICAL_PATH not in targets:
        raise DatasetError(f"{path}: no column {CRITICAL_PATH}")
    return Dataset(path, hashlib.sha256(path.read_bytes()).hexdigest(), configs, targets)


def absolute_percentage_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``|predicted - actual| / |actual|`` (0 where both are 0, as scikit-learn's MAPE scores it)."""
    actual, predicted = np.asarray(actual, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    return np.abs(predicted - actual) / np.maximum(np.abs(actual), np.finfo(np.float64).eps)


def _errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    errors = absolute_percentage_errors(actual, predicted)
    return {"cv_mape": float(mean_absolute_percentage_error(actual, predicted)),
            "cv_max_ape": float(errors.max()), "cv_r2": float(r2_score(actual, predicted))}


def _informative_columns(matrix: np.ndarray) -> list[int]:
    """Columns that vary and are not linear combinations of the columns kept before them."""
    spread = matrix.std(axis=0)
    centred = (matrix - matrix.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    kept: list[int] = []
    for index in range(matrix.shape[1]):
        if spread[index] > 0 and np.linalg.matrix_rank(centred[:, [*kept, index]]) == len(kept) + 1:
            kept.append(index)
    return kept


def fit_card(dataset: Dataset) -> tuple[ModelCard, dict[str, np.ndarray]]:
    """Select, fit and cross-validate the model of every target of ``dataset``.

    Returns
    -------
    card : ModelCard
    cv_predictions : dict
        Target (and fmax) -> the cross-validated prediction of each point.

    Raises
    ------
    DatasetError
        Fewer than 3 points, or no configuration field varies.
    """
    points = len(dataset.configs)
    if points < 3:
        raise DatasetError(f"{dataset.path}: {points} points; fitting with cross-validation needs at least 3")
    everything = feature_matrix(dataset.configs, [feature.name for feature in FEATURES])
    varying = _informative_columns(everything)
    if not varying:
        raise DatasetError(f"{dataset.path}: no feature varies over its {points} points: nothing to fit")
    inputs = everything[:, varying]
    folds = KFold(n_splits=min(FOLDS, points), shuffle=True, random_state=0)
    grid = {"poly__degree": list(DEGREES), "ridge__alpha": list(ALPHAS)}
    sums = {}
    for total, (prefix, suffix) in BLOCK_TOTALS.items():
        blocks = sorted(name for name in dataset.targets if name.startswith(prefix) and name.endswith(suffix))
        if blocks and total in dataset.targets:
            sums[total] = blocks
    targets, predictions = {}, {}
    with warnings.catch_warnings():
        # Ridge on a handful of points may warn about ill-conditioning; the chosen model's CV error says how it did.
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*[Ii]ll-conditioned.*")
        for name, values in dataset.targets.items():
            if name in sums:
                continue
            exact = offsets(dataset.configs, name)
            # Absolute errors of the remainder are those of the whole target (the exact part cancels).
            search = GridSearchCV(make_pipeline(), {**grid, "poly__degree": [1]} if name in LINEAR_TARGETS else grid,
                                  scoring=SCORING, cv=folds)
            search.fit(inputs, values - exact)
            best = search.best_params_
            predicted = cross_val_predict(make_pipeline(best["poly__degree"], best["ridge__alpha"]), inputs,
                                          values - exact, cv=folds) + exact
            predictions[name] = predicted
            poly, scale, ridge = (step for _, step in search.best_estimator_.steps)
            targets[name] = TargetModel(
                degree=int(best["poly__degree"]), alpha=float(best["ridge__alpha"]), powers=poly.powers_.tolist(),
                scaler_mean=scale.mean_.tolist(), scaler_scale=scale.scale_.tolist(), coef=ridge.coef_.tolist(),
                intercept=float(ridge.intercept_), **_errors(values, predicted),
                train_min=float(values.min()), train_max=float(values.max()),
                offset=OFFSETS[name][1] if name in OFFSETS else "")
    for name, parts in sums.items():
        predictions[name] = sum(predictions[part] for part in parts)
    predictions[FMAX] = fmax_mhz(predictions[CRITICAL_PATH])
    derived = {name: _errors(dataset.targets[name], predictions[name]) for name in sums}
    derived[FMAX] = _errors(fmax_mhz(dataset.targets[CRITICAL_PATH]), predictions[FMAX])
    field_ranges = {}
    for rule in FIELDS:
        values = [getattr(config, rule.name) for config in dataset.configs]
        if all(isinstance(value, (int, float)) for value in values):
            field_ranges[rule.name] = [min(values), max(values)]
    features = [{"name": FEATURES[index].name, "meaning": FEATURES[index].meaning,
                 "min": float(everything[:, index].min()), "max": float(everything[:, index].max())}
                for index in varying]
    card = ModelCard(
        pe_type=dataset.pe_type, features=features, field_ranges=field_ranges, targets=targets, derived=derived,
        sums=sums,
        cross_validation={"folds": folds.get_n_splits(), "shuffle_seed": 0, "degrees": list(DEGREES),
                          "linear_targets": list(LINEAR_TARGETS), "alphas": list(ALPHAS), "scoring": SCORING},
        provenance={"dataset": dataset.path.as_posix(), "dataset_sha256": dataset.sha256, "dataset_rows": points,
                    "generator_sha256": generator_source_digest(),
                    "software": {"scikit-learn": sklearn.__version__, "numpy": np.__version__}})
    return card, predictions
