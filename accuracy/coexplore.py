"""Co-exploration: the accuracy of each PE format joined with the exploration's design points.

:func:`coexplore` reads the results of ``quidam accuracy``
(:mod:`~quidam.accuracy.runs`) and explores the design space on the same
workload (:func:`quidam.dse.explore.explore`, from the characterized blocks):
every valid design point gets the mean top-1 accuracy of its PE format (the
space's PE types, and the int type at the act_bits x wt_bits of each trained
int label, ``int:ACTxWT``). It then
forms, with :func:`quidam.dse.explore.pareto_front`, two Pareto fronts over
all points: accuracy (up) vs normalized performance per area (up), and
accuracy (up) vs normalized energy per inference (down); figures are
normalized to the INT16 point of highest performance per area, as in
:mod:`quidam.dse.explore`. Beside them, QADAM's view (Fig. 5, 6): the best
point of each format (highest perf/area; least energy) with its mean and
standard deviation of accuracy. A format without characterized blocks has
accuracies and no hardware points; the table says so.

Files in the output folder (each written atomically): ``coexplore.json``
(the per-format rows and both fronts with their configurations),
``coexplore.md`` (the table) and ``coexplore.png`` (two panels).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from quidam.config import pe_format_label
from quidam.dse.explore import Exploration, explore, pareto_front
from quidam.dse.space import load_space
from quidam.files import write_bytes, write_json, write_text
from quidam.inputs import InputError
from quidam.workloads.networks import Network, get_network

from .quantizers import pe_config
from .runs import read_results, results_path, summarize

__all__ = ["coexplore", "write_coexplore"]

_CONFIG_KEYS = ("pe_type", "act_bits", "wt_bits", "rows", "cols", "glb_kib")


def _label_mask(result: Exploration, label: str) -> np.ndarray:
    config = pe_config(label)
    columns = result.columns
    return (result.valid & (columns["pe_type"] == config.pe_type) & (columns["act_bits"] == config.act_bits)
            & (columns["wt_bits"] == config.wt_bits))


def _point(result: Exploration, index: int, accuracy: float, label: str) -> dict:
    columns = result.columns
    return {"label": label, "accuracy": accuracy, "norm_perf_per_area": float(columns["norm_perf_per_area"][index]),
            "norm_energy": float(columns["norm_energy"][index]),
            **{key: columns[key][index].item() for key in _CONFIG_KEYS}}


def coexplore(network: Network, results_dir: str | os.PathLike[str], *, space: str = "default",
              models_dir: str | os.PathLike[str] | None = None) -> dict:
    """Per-format rows and the two Pareto fronts of ``network`` (see the module notes).

    Raises
    ------
    InputError
        No accuracy results for the network in ``results_dir``, or a malformed file.
    """
    path = results_path(results_dir, network)
    if not path.exists():
        raise InputError(f"accuracy results {path}: no such file; run `quidam accuracy --network {network.name} "
                         f"--dataset {network.dataset}` first")
    summary = summarize(read_results(path, network)["runs"])
    if not summary:
        raise InputError(f"accuracy results {path}: no finished run")
    # The space's PE types, and each trained int format at its widths (explored where it has blocks).
    trained = [pe_config(label) for label in summary]
    formats = [pe_format_label(config) for config in trained if config.pe_type == "int"]
    pe_types = (*load_space(space).configs, *formats)
    result = explore(network.name, network.dataset, pe_types=pe_types, space=space, models_dir=models_dir)
    columns = result.columns
    accuracy = np.full(len(columns["pe_type"]), np.nan)
    label_of = np.full(len(accuracy), None, dtype=object)
    rows = []
    for label, scores in summary.items():
        mask = _label_mask(result, label)
        accuracy[mask] = scores["top1_mean"]
        label_of[mask] = label
        row = {"label": label, **scores, "points": int(mask.sum()), "best_perf": None, "best_energy": None}
        if mask.any():
            index = np.flatnonzero(mask)
            row["best_perf"] = _point(result, index[np.argmax(columns["norm_perf_per_area"][index])],
                                      scores["top1_mean"], label)
            row["best_energy"] = _point(result, index[np.argmin(columns["norm_energy"][index])],
                                        scores["top1_mean"], label)
        rows.append(row)
    known = ~np.isnan(accuracy)
    fronts = {}
    for name, mask in (("perf_per_area", pareto_front(accuracy, -columns["norm_perf_per_area"], known)),
                       ("energy", pareto_front(accuracy, columns["norm_energy"], known))):
        index = np.flatnonzero(mask)
        order = index[np.argsort(columns["norm_perf_per_area" if name == "perf_per_area" else "norm_energy"][index])]
        fronts[name] = [_point(result, i, float(accuracy[i]), label_of[i]) for i in order]
    return {"network": network.name, "dataset": network.dataset, "results": str(path), "space": result.space.name,
            "points": int(len(accuracy)), "points_with_accuracy": int(known.sum()), "formats": rows,
            "fronts": fronts, "result": result, "accuracy": accuracy}


def _markdown(table: dict) -> str:
    percent = lambda value: f"{100 * value:.2f}"  # noqa: E731
    lines = [f"### {table['network']} on {table['dataset']}: accuracy vs hardware", "",
             "| format | seeds | top-1 mean (%) | std (%) | best perf/area (norm.) | its energy (norm.) | "
             "least energy (norm.) | design points |", "|---|---|---|---|---|---|---|---|"]
    for row in table["formats"]:
        if row["best_perf"]:
            hardware = (f"{row['best_perf']['norm_perf_per_area']:.2f} | {row['best_perf']['norm_energy']:.2f} | "
                        f"{row['best_energy']['norm_energy']:.2f} | {row['points']}")
        else:
            hardware = "n/a | n/a | n/a | 0 (no design point)"
        lines.append(f"| {row['label']} | {row['seeds']} | {percent(row['top1_mean'])} | {percent(row['top1_std'])} | "
                     f"{hardware} |")
    for name, title in (("perf_per_area", "accuracy vs perf/area"), ("energy", "accuracy vs energy")):
        points = ", ".join(f"{p['label']} {p['rows']}x{p['cols']} ({p['norm_perf_per_area']:.2f}, "
                           f"{p['norm_energy']:.2f})" for p in table["fronts"][name])
        lines += ["", f"Pareto front, {title} (format array (norm. perf/area, norm. energy)): {points or 'empty'}"]
    return "\n".join(lines) + "\n"


def _plot(table: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from quidam.dse.outputs import _COLOURS

    result, accuracy = table["result"], table["accuracy"]
    columns = result.columns
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for axis, key, front, xlabel in ((axes[0], "norm_perf_per_area", "perf_per_area", "normalized performance per area"),
                                     (axes[1], "norm_energy", "energy", "normalized energy per inference")):
        for row in table["formats"]:
            mask = _label_mask(result, row["label"])
            colour = _COLOURS.get(pe_config(row["label"]).pe_type)
            if mask.any():
                axis.scatter(columns[key][mask], 100 * accuracy[mask], s=4, alpha=0.15, color=colour)
                best = row["best_perf" if front == "perf_per_area" else "best_energy"]
                axis.errorbar(best[key], 100 * row["top1_mean"], yerr=100 * row["top1_std"], fmt="o", color=colour,
                              markeredgecolor="black", capsize=3, label=f"{row['label']} (best point)")
        points = table["fronts"][front]
        if points:
            axis.plot([p[key] for p in points], [100 * p["accuracy"] for p in points], "k--", linewidth=1,
                      marker="s", markersize=11, markerfacecolor="none", label="Pareto front")
        axis.set_xscale("log")
        axis.set_xlabel(xlabel)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("top-1 accuracy (%), mean over seeds")
    axes[0].legend(fontsize=7)
    figure.suptitle(f"{table['network']} on {table['dataset']}: accuracy vs normalized hardware figures "
                    "(1 = best INT16 perf/area point)", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_bytes(path, buffer.getvalue())


def write_coexplore(network: str, dataset: str, *, results_dir: str | os.PathLike[str],
                    out_dir: str | os.PathLike[str], space: str = "default",
                    models_dir: str | os.PathLike[str] | None = None) -> tuple[dict, dict[str, Path]]:
    """Run :func:`coexplore` and write the files of the module notes into ``out_dir``; return the table and files."""
    table = coexplore(get_network(network, dataset), results_dir, space=space, models_dir=models_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / name for name in ("coexplore.json", "coexplore.md", "coexplore.png")}
    write_json(files["coexplore.json"], {key: value for key, value in table.items()
                                         if key not in ("result", "accuracy")})
    write_text(files["coexplore.md"], _markdown(table))
    _plot(table, files["coexplore.png"])
    return table, files
