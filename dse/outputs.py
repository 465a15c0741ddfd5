"""What an exploration writes: all points, the Pareto set, the QADAM-style plot and the comparison table.

Files in the output folder (each written atomically):

* ``points.csv``: one row per design point: configuration fields, cycles,
  fmax, area, latency, throughput, performance per area, energy (total,
  dynamic, leakage), off-chip words, utilization, both normalized figures,
  ``pareto``, ``extrapolated`` and ``failure`` (empty for a valid point);
* ``pareto.csv``: the Pareto-optimal rows (performance per area up, energy down);
* ``explore.png``: normalized performance per area versus normalized energy,
  one colour per PE type, Pareto points outlined (QADAM's Fig. 4), normalized
  to the INT16 point with the highest performance per area;
* ``comparison.json`` / ``comparison.md``: each PE type's best performance per
  area and least energy against INT16's (and INT16 against FP32), next to
  QADAM's published averages, and the spread across the space;
* ``summary.json``: workload, space, counts, failures, the cards used.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from quidam.files import write_json, write_text

from .explore import Exploration

__all__ = ["QADAM_RATIOS", "comparison", "write_outputs"]

#: QADAM's published averages: (perf/area ratio, energy reduction) of a type's best point over the reference's.
QADAM_RATIOS = {("lightpe1", "int16"): (4.8, 4.7), ("lightpe2", "int16"): (4.1, 4.0), ("int16", "fp32"): (1.8, 1.5)}

_COLOURS = {"fp32": "tab:red", "int16": "tab:blue", "lightpe1": "tab:green", "lightpe2": "tab:orange",
            "int": "tab:purple"}


def _csv_text(columns: dict, mask: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    for index in np.flatnonzero(mask):
        row = []
        for name in names:
            value = columns[name][index]
            if isinstance(value, (float, np.floating)):
                row.append("" if np.isnan(value) else f"{float(value):.6g}")
            elif isinstance(value, (bool, np.bool_)):
                row.append(int(value))
            else:
                row.append(value.item() if hasattr(value, "item") else value)
        writer.writerow(row)
    return buffer.getvalue()


def comparison(result: Exploration) -> dict:
    """Best-point ratios per PE type pair, QADAM's figures beside them, and the spread of the space."""
    best = {pe_type: result.best(pe_type) for pe_type in result.space.configs}
    rows = []
    for (pe_type, reference), (qadam_perf, qadam_energy) in QADAM_RATIOS.items():
        ours, ref = best.get(pe_type), best.get(reference)
        row = {"pe_type": pe_type, "reference": reference, "qadam_perf_per_area": qadam_perf,
               "qadam_energy_reduction": qadam_energy, "perf_per_area": None, "energy_reduction": None}
        if ours and ref:
            row["perf_per_area"] = ours["perf_per_area"] / ref["perf_per_area"]
            row["energy_reduction"] = ref["energy_j"] / ours["energy_j"]
        rows.append(row)
    valid = result.valid
    perf, energy = result.columns["perf_per_area"][valid], result.columns["energy_j"][valid]
    spread = {"perf_per_area": float(perf.max() / perf.min()) if perf.size else None,
              "energy": float(energy.max() / energy.min()) if energy.size else None,
              "qadam_perf_per_area": "> 5", "qadam_energy": "> 35"}
    return {"workload": result.network.name, "dataset": result.network.dataset, "ratios": rows,
            "spread": spread, "best": best}


def _markdown(table: dict) -> str:
    fmt = lambda value: "n/a (no card)" if value is None else f"{value:.2f}x"  # noqa: E731
    lines = [f"### {table['workload']} on {table['dataset']}", "",
             "| PE type vs reference | perf/area (ours) | perf/area (QADAM) | energy reduction (ours) | "
             "energy reduction (QADAM) |", "|---|---|---|---|---|"]
    for row in table["ratios"]:
        lines.append(f"| {row['pe_type']} vs {row['reference']} | {fmt(row['perf_per_area'])} | "
                     f"{row['qadam_perf_per_area']}x | {fmt(row['energy_reduction'])} | "
                     f"{row['qadam_energy_reduction']}x |")
    spread = table["spread"]
    lines += ["", f"Spread across the valid points: perf/area {fmt(spread['perf_per_area'])} (QADAM > 5x), "
              f"energy {fmt(spread['energy'])} (QADAM > 35x).", ""]
    return "\n".join(lines)


def _plot(result: Exploration, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns, valid = result.columns, result.valid
    figure, axes = plt.subplots(figsize=(6.4, 4.8))
    for pe_type in result.space.configs:
        mask = valid & (columns["pe_type"] == pe_type)
        if mask.any():
            axes.scatter(columns["norm_energy"][mask], columns["norm_perf_per_area"][mask], s=6, alpha=0.5,
                         color=_COLOURS.get(pe_type), label=pe_type)
    front = columns["pareto"]
    axes.scatter(columns["norm_energy"][front], columns["norm_perf_per_area"][front], s=28, facecolors="none",
                 edgecolors="black", linewidths=0.8, label="Pareto-optimal")
    if valid.any():
        axes.set_xscale("log")
        axes.set_yscale("log")
    else:
        axes.text(0.5, 0.5, "no valid design point", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("normalized energy per inference")
    axes.set_ylabel("normalized performance per area")
    axes.set_title(f"{result.network.name} ({result.network.dataset}): normalized to the best INT16 perf/area")
    if valid.any():
        axes.legend(markerscale=2, fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, path)


def write_outputs(result: Exploration, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the files listed in the module docstring into ``out_dir``; return them by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    columns = result.columns
    table = comparison(result)
    files = {name: out / name for name in ("points.csv", "pareto.csv", "explore.png", "comparison.json",
                                           "comparison.md", "summary.json")}
    write_text(files["points.csv"], _csv_text(columns, np.ones(len(columns["pe_type"]), dtype=bool)))
    write_text(files["pareto.csv"], _csv_text(columns, columns["pareto"]))
    _plot(result, files["explore.png"])
    write_json(files["comparison.json"], table)
    write_text(files["comparison.md"], _markdown(table))
    write_json(files["summary.json"], {
        "workload": result.network.name, "dataset": result.network.dataset, "layers": len(result.network.layers),
        "space": result.space.name, "points": int(len(columns["pe_type"])), "valid": int(result.valid.sum()),
        "pareto": int(columns["pareto"].sum()), "extrapolated": int(columns["extrapolated"].sum()),
        "skipped_combinations": result.space.skipped, "failures": result.failures, "cards": result.cards,
        "missing_cards": result.missing_cards})
    return files
