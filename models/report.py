"""The model accuracy report: cross-validation and held-out validation, Markdown and plots.

The held-out points of a PE type (``data/characterization/<pe>-heldout.csv``,
written by ``quidam characterize --sweep heldout``) are design points that
were never fitted: :func:`validate` predicts them with the card and scores
each target by R^2 and MAPE. :func:`write_report` writes ``README.md`` (the
tables) and ``accuracy.png`` (actual versus predicted, in the style of QADAM's
Fig. 3: the fitted points as predicted by cross-validation, the held-out
points as predicted by the card).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import mean_absolute_percentage_error, r2_score

from quidam.files import write_text

from .card import CRITICAL_PATH, FMAX, ModelCard, fmax_mhz
from .fit import Dataset, absolute_percentage_errors

__all__ = ["ACCEPTANCE", "HEADLINE", "Validation", "accuracy_cells", "composed_lines", "validate", "write_report"]

#: The headline targets of the report and plots, with their labels.
HEADLINE = (("synth__area__total_um2", "total area (mm^2)", 1e-6),
            ("power__total__dynamic_w", "dynamic power (mW)", 1e3),
            ("power__total__leakage_w", "leakage power (mW)", 1e3),
            (FMAX, "fmax (MHz)", 1.0))

#: Held-out MAPE limits: total area 3 %, power 5 %, fmax 5 %.
ACCEPTANCE = {"synth__area__total_um2": 0.03, "power__total__dynamic_w": 0.05, "power__total__leakage_w": 0.05,
              FMAX: 0.05}


@dataclass(frozen=True)
class Validation:
    """A card's predictions of held-out points.

    Attributes
    ----------
    pe_type : str
    points : int
    actual, predicted : dict
        Target (and fmax) -> values at the held-out points.
    """

    pe_type: str
    points: int
    actual: dict[str, np.ndarray]
    predicted: dict[str, np.ndarray]

    def mape(self, target: str) -> float:
        """Mean absolute percentage error (fraction)."""
        return float(mean_absolute_percentage_error(self.actual[target], self.predicted[target]))

    def max_ape(self, target: str) -> float:
        """Largest absolute percentage error (fraction)."""
        return float(absolute_percentage_errors(self.actual[target], self.predicted[target]).max())

    def r2(self, target: str) -> float:
        """R^2 (undefined, NaN, with fewer than 2 points)."""
        if self.points < 2:
            return float("nan")
        return float(r2_score(self.actual[target], self.predicted[target]))


def validate(card: ModelCard, heldout: Dataset) -> Validation:
    """Predict the held-out points with ``card`` and keep actual and predicted values of every target."""
    everything = card.predict(heldout.configs)
    actual = {name: heldout.targets[name] for name in [*card.targets, *card.sums] if name in heldout.targets}
    actual[FMAX] = fmax_mhz(heldout.targets[CRITICAL_PATH])
    return Validation(card.pe_type, len(heldout.configs), actual, {name: everything[name] for name in actual})


def _percent(value: float) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{100 * value:.2f} %"


def accuracy_cells(card: ModelCard, validation: Validation | None, target: str, *,
                   exceeded: str = "**exceeded**") -> list[str]:
    """One headline target's row of the accuracy table, as text: fitted points, CV MAPE, held-out points,
    held-out MAPE, held-out max error, held-out R^2 and the limit with its verdict (``exceeded`` when above)."""
    cells = [str(card.provenance["dataset_rows"]), _percent(card.cv_mape(target))]
    if validation is None:
        return cells + ["0", "-", "-", "-", "-"]
    mape, r2 = validation.mape(target), validation.r2(target)
    verdict = "ok" if mape <= ACCEPTANCE[target] else exceeded
    return cells + [str(validation.points), _percent(mape), _percent(validation.max_ape(target)),
                    "-" if not np.isfinite(r2) else f"{r2:.3f}", f"{100 * ACCEPTANCE[target]:.0f} % {verdict}"]


def _plot(cards: list[ModelCard], fitted: dict[str, Dataset], cv_predictions: dict[str, dict[str, np.ndarray]],
          validations: dict[str, Validation], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(HEADLINE), figsize=(4.2 * len(HEADLINE), 4.2))
    colours = plt.get_cmap("tab10")
    for axis, (target, label, scale) in zip(axes, HEADLINE):
        low, high = np.inf, -np.inf
        for index, card in enumerate(cards):
            colour = colours(index)
            dataset = fitted[card.pe_type]
            actual = (fmax_mhz(dataset.targets[CRITICAL_PATH]) if target == FMAX else dataset.targets[target]) * scale
            cv = cv_predictions[card.pe_type][target] * scale
            axis.scatter(actual, cv, facecolors="none", edgecolors=[colour], s=28,
                         label=f"{card.pe_type} fitted (CV)")
            low, high = min(low, actual.min(), cv.min()), max(high, actual.max(), cv.max())
            validation = validations.get(card.pe_type)
            if validation is not None:
                held_actual, held_predicted = validation.actual[target] * scale, validation.predicted[target] * scale
                axis.scatter(held_actual, held_predicted, marker="^", color=colour, s=40,
                             label=f"{card.pe_type} held out")
                low = min(low, held_actual.min(), held_predicted.min())
                high = max(high, held_actual.max(), held_predicted.max())
        margin = 0.05 * (high - low)
        axis.plot([low - margin, high + margin], [low - margin, high + margin], color="grey", linewidth=0.8)
        axis.set_xlabel(f"actual {label}")
        axis.set_ylabel(f"predicted {label}")
        axis.set_title(label.split(" (")[0])
    axes[0].legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, dpi=110)
    plt.close(figure)
    os.replace(temporary, path)


def composed_lines(comparisons: list[tuple[str, str, str, dict]]) -> list[str]:
    """The report's section on the composed block model against whole accelerators: one row per point
    (PE type, dataset, point, :func:`~quidam.models.composed.compare_with_whole`'s figures), each error
    against :data:`~quidam.models.composed.LIMITS`."""
    from .composed import LIMITS, limit_of

    def cell(target: str, error: float) -> str:
        limit = limit_of(target)
        return f"{100 * error:+.1f} %" + ("" if abs(error) <= limit else " **>**")

    lines = ["", "## Composed block model against whole accelerators", "",
             "The accelerator composed of its characterized blocks (`quidam predict`, `quidam explore`; "
             "`models/composed.py`) against each whole-accelerator point of the datasets, "
             "none of which the blocks were fitted on (the default sweep's critical paths give the paths between "
             "blocks: its fmax column is in-sample): total area, leakage, fmax, the simulated layer's dynamic "
             "energy and energy with leakage, and the worst block's energy over the layer (the block's share of "
             "the whole point's power report). Limits: "
             + ", ".join(f"{name} {100 * limit:.0f} %" for name, limit in LIMITS.items())
             + "; **>** marks an error above its limit, (w) a point with a block taken from its model outside "
             "the characterized range or from the nearest characterized depth (`quidam predict` "
             "names it).", "",
             "| PE type | dataset | point | area | leakage | fmax | dynamic energy | energy | worst block |",
             "|---|---|---|---|---|---|---|---|---|"]
    for pe_type, dataset, point, figures in comparisons:
        blocks = {name: error for name, (_, _, error) in figures.items() if name.startswith("energy__")}
        worst = max(blocks, key=lambda name: abs(blocks[name]))
        lines.append(f"| {pe_type} | {dataset} | {point} | "
                     + " | ".join(cell(name, figures[name][2]) for name in
                                  ("area", "leakage", "fmax", "dynamic_energy", "energy"))
                     + f" | {worst.removeprefix('energy__')} {cell(worst, blocks[worst])} |")
    return lines


def write_report(cards: list[ModelCard], fitted: dict[str, Dataset],
                 cv_predictions: dict[str, dict[str, np.ndarray]], validations: dict[str, Validation],
                 out_dir: str | os.PathLike[str], *, command: str, extra: list[str] = ()) -> Path:
    """Write ``README.md`` and ``accuracy.png`` into ``out_dir``; returns the Markdown's path.

    Parameters
    ----------
    cards : list of ModelCard
        The fitted cards, one per PE type.
    fitted : dict
        PE type -> the dataset its card was fitted on.
    cv_predictions : dict
        PE type -> target (and fmax) -> cross-validated predictions of the fitted points.
    validations : dict
        PE type -> :class:`Validation` (PE types without held-out points are absent).
    command : str
        The command that reproduces the report.
    extra : list of str
        Further Markdown lines (:func:`composed_lines`).
    """
    out_dir = Path(out_dir)
    _plot(cards, fitted, cv_predictions, validations, out_dir / "accuracy.png")
    lines = ["# PPA model accuracy", "",
             f"Written by `{command}` from the committed datasets; each PE type's models are fitted on "
             "`data/characterization/<pe>.csv` (degree and ridge penalty chosen by k-fold cross-validation) "
             "and validated on `data/characterization/<pe>-heldout.csv`, design points never used in fitting "
             "(`quidam characterize --pe <pe> --sweep heldout`).", "",
             "![actual versus predicted](accuracy.png)", "",
             "## Held-out validation", "",
             "| PE type | target | fitted points | CV MAPE | held-out points | held-out MAPE | held-out max "
             "error | held-out R^2 | limit |", "|---|---|---|---|---|---|---|---|---|"]
    for card in cards:
        validation = validations.get(card.pe_type)
        for target, label, _ in HEADLINE:
            lines.append(f"| {card.pe_type} | {label.split(' (')[0]} | "
                         + " | ".join(accuracy_cells(card, validation, target)) + " |")
    for card in cards:
        validation = validations.get(card.pe_type)
        lines += ["", f"## {card.pe_type}", "",
                  f"Inputs: {', '.join(f'`{name}`' for name in card.feature_names)}; dataset "
                  f"`{card.provenance['dataset']}` (SHA-256 {card.provenance['dataset_sha256'][:16]}, "
                  f"{card.provenance['dataset_rows']} points), generator {card.provenance['generator_sha256'][:16]}.",
                  "", "| target | degree | alpha | CV MAPE | CV max error | CV R^2 | held-out MAPE | held-out R^2 |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, model in card.targets.items():
            # A target that is zero on some points (a block with no cells there) has no relative error.
            relative = model.train_min > 0 and (validation is None or validation.actual[name].min() > 0)
            no_ratio = "n/a (zero values)"
            held_mape = (_percent(validation.mape(name)) if relative else no_ratio) if validation else "-"
            held_r2 = f"{validation.r2(name):.3f}" if validation and np.isfinite(validation.r2(name)) else "-"
            cv_mape, cv_max = ((_percent(model.cv_mape), _percent(model.cv_max_ape)) if relative
                               else (no_ratio, no_ratio))
            lines.append(f"| `{name}` | {model.degree} | {model.alpha:g} | {cv_mape} | {cv_max} | "
                         f"{model.cv_r2:.3f} | {held_mape} | {held_r2} |")
    lines += extra
    path = out_dir / "README.md"
    write_text(path, "\n".join(lines) + "\n")
    return path
