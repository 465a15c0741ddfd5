"""``quidam report``: one self-contained HTML page of the model accuracy and the exploration results.

The page is assembled from what the pipeline has already written, so it
costs seconds and never refits or re-explores:

* model accuracy: each seed PE type's card (``models/cards/<pe>.json``)
  validated afresh on its held-out points
  (``data/characterization/<pe>-heldout.csv``, :func:`~quidam.models.report.validate`),
  next to the card's cross-validated errors and the acceptance limits, with
  the actual-versus-predicted plot of ``quidam fit`` (``reports/models/accuracy.png``);
* exploration: every ``reports/explore/<workload>-<dataset>/`` folder written
  by ``quidam explore``: its counts and failures, its QADAM-style plot, the
  best configuration of each PE type, and the comparison with QADAM's
  published ratios, gathered in one table across the workloads;
* accuracy in the loop: every ``reports/coexplore/<network>-<dataset>/``
  folder written by ``quidam coexplore``: each format's top-1 accuracy (mean
  and standard deviation over the seeds) beside its best normalized
  performance per area and least normalized energy, and the fronts' plot.

Plots are embedded as base64 PNG; the page needs no other file. What is
missing (a PE type without a card or held-out points, a workload not
explored) is listed on the page with the command that produces it.
"""

from __future__ import annotations

import base64
import datetime
import html
import os
from pathlib import Path

import numpy as np

from quidam import __version__
from quidam.characterize.dataset import DATA_DIR, dataset_path
from quidam.config import SEED_PE_TYPES
from quidam.errors import ConfigError
from quidam.files import write_text
from quidam.inputs import InputError, load_json
from quidam.models.card import CARDS_DIR, ModelCard, card_path
from quidam.models.fit import load_dataset
from quidam.models.predict import stale_reasons
from quidam.models.report import HEADLINE, accuracy_cells, validate

from .outputs import QADAM_RATIOS

__all__ = ["EXPLORATION_FILES", "write_html_report"]

#: What ``quidam explore`` leaves in a folder that the report reads.
EXPLORATION_FILES = ("summary.json", "comparison.json", "explore.png")

_SUMMARY_KEYS = {"workload", "dataset", "layers", "space", "points", "valid", "pareto", "extrapolated", "failures"}

_STYLE = """
body { font-family: sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eee; }
.bad { color: #b00; font-weight: bold; }
.note { color: #555; font-size: 0.9rem; }
img { max-width: 100%; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table; the cells are HTML already (escape text with :func:`_e`)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def _accuracy_section(models_dir: Path, data_dir: Path, model_report_dir: Path) -> str:
    parts = ["<h2>PPA model accuracy</h2>",
             "<p>Each PE type's models are fitted on <code>data/characterization/&lt;pe&gt;.csv</code> "
             "(degree and ridge penalty chosen by k-fold cross-validation) and validated here on "
             "<code>&lt;pe&gt;-heldout.csv</code>, design points never used in fitting.</p>"]
    rows, missing = [], []
    for pe_type in SEED_PE_TYPES:
        path = card_path(models_dir, pe_type)
        if not path.exists():
            missing.append(f"{pe_type}: no model card ({_e(path)}; run <code>make characterize PE={pe_type}</code> "
                           "and <code>make models</code>)")
            continue
        card = ModelCard.load(path, pe_type=pe_type)
        stale = stale_reasons(card)
        if stale:
            missing.append(f"{pe_type}: the card is stale ({_e('; '.join(stale))})")
        heldout_path = dataset_path(data_dir, f"{pe_type}-heldout")
        validation = validate(card, load_dataset(heldout_path)) if heldout_path.exists() else None
        if validation is None:
            missing.append(f"{pe_type}: no held-out points ({_e(heldout_path)}; run <code>quidam characterize "
                           f"--pe {pe_type} --sweep heldout</code>)")
        for target, label, _ in HEADLINE:
            rows.append([_e(pe_type), _e(label.split(" (")[0]),
                         *accuracy_cells(card, validation, target, exceeded='<span class="bad">exceeded</span>')])
    if rows:
        parts.append(_table(["PE type", "target", "fitted points", "CV MAPE", "held-out points", "held-out MAPE",
                             "held-out max error", "held-out R<sup>2</sup>", "limit"], rows))
    plot = model_report_dir / "accuracy.png"
    if plot.exists():
        parts.append(_image(plot, "actual versus predicted"))
    else:
        missing.append(f"the actual-versus-predicted plot ({_e(plot)}; run <code>make models</code>)")
    if missing:
        parts.append("<p>Missing or stale:</p><ul>" + "".join(f"<li>{item}</li>" for item in missing) + "</ul>")
    return "\n".join(parts)


def _load_explorations(explore_dir: Path) -> list[tuple[Path, dict, dict]]:
    found = []
    folders = sorted(path for path in explore_dir.iterdir() if path.is_dir()) if explore_dir.is_dir() else []
    for folder in folders:
        if not all((folder / name).exists() for name in EXPLORATION_FILES):
            continue
        try:
            summary = load_json(folder / "summary.json", "exploration result")
            table = load_json(folder / "comparison.json", "exploration result")
        except InputError as error:
            raise ConfigError(f"{error}; run quidam explore again") from None
        complete = (isinstance(summary, dict) and isinstance(table, dict) and _SUMMARY_KEYS <= summary.keys()
                    and {"ratios", "spread", "best"} <= table.keys() and isinstance(table["best"], dict)
                    and all(not best or (isinstance(best, dict) and {"perf_config", "energy_config"} <= best.keys())
                            for best in table["best"].values()))
        if not complete:
            raise ConfigError(f"{folder}: the exploration result lacks fields this report needs (written by an "
                              "older quidam); run quidam explore again")
        found.append((folder, summary, table))
    if not found:
        raise ConfigError(f"no exploration results in {explore_dir} (folders holding {', '.join(EXPLORATION_FILES)}):"
                          " run `make explore` (or `quidam explore --workload NET`) first")
    return found


def _comparison_section(explorations: list[tuple[Path, dict, dict]]) -> str:
    pairs = list(QADAM_RATIOS)
    header = ["PE type vs reference"] + [_e(f"{table['workload']} / {table['dataset']}")
                                         for _, _, table in explorations] + ["mean (ours)", "QADAM"]
    blocks = []
    for metric, label, qadam_index in (("perf_per_area", "performance per area", 0),
                                       ("energy_reduction", "energy reduction", 1)):
        rows = []
        for pe_type, reference in pairs:
            values = []
            for _, _, table in explorations:
                row = next((r for r in table["ratios"] if (r["pe_type"], r["reference"]) == (pe_type, reference)),
                           None)
                values.append(None if row is None else row[metric])
            known = [value for value in values if value is not None]
            mean = float(np.mean(known)) if known else None
            rows.append([_e(f"{pe_type} vs {reference}"), *map(_ratio, values), _ratio(mean),
                         f"{QADAM_RATIOS[(pe_type, reference)][qadam_index]}x"])
        blocks.append(f"<h3>Best {label}: each type's best point against the reference type's best</h3>"
                      + _table(header, rows))
    spread_rows = [[_e(f"{table['workload']} / {table['dataset']}"), _ratio(table["spread"]["perf_per_area"]),
                    _e(table["spread"]["qadam_perf_per_area"]) + "x", _ratio(table["spread"]["energy"]),
                    _e(table["spread"]["qadam_energy"]) + "x"] for _, _, table in explorations]
    blocks.append("<h3>Spread across the valid points</h3>"
                  + _table(["workload", "perf/area max/min", "QADAM", "energy max/min", "QADAM"], spread_rows))
    notes = ("<p class=\"note\">A dash: the pair has no result (a PE type without a model card, or without a "
             "valid point). QADAM's figures are its published averages over its workloads; ours come from models "
             "fitted to this repository's open-tool characterization (Yosys, OpenSTA, Nangate45) and are "
             "extrapolations wherever the explored configurations lie outside the characterized ones (counted "
             "per workload below).</p>")
    return "<h2>Comparison with QADAM</h2>\n" + "\n".join(blocks) + notes


def _config_text(config: dict) -> str:
    keys = ("rows", "cols", "ifmap_spad_depth", "filter_spad_depth", "psum_spad_depth", "glb_kib",
            "dram_bytes_per_cycle")
    return ", ".join(f"{key} {config[key]}" for key in keys if key in config)


def _exploration_section(folder: Path, summary: dict, table: dict) -> str:
    title = f"{summary['workload']} on {summary['dataset']}"
    counts = (f"{summary['points']} design points ({summary['space']} space) x {summary['layers']} layers: "
              f"{summary['valid']} valid, {summary['pareto']} Pareto-optimal, {summary['extrapolated']} outside "
              "the models' fitted ranges.")
    parts = [f"<h3>{_e(title)}</h3>", f"<p>{_e(counts)}</p>"]
    if summary["failures"]:
        parts.append(_table(["invalid points: reason", "points"],
                            [[_e(reason), str(count)] for reason, count in summary["failures"].items()]))
    if summary.get("missing_cards"):
        parts.append(f"<p>Left out, no PPA model: {_e(', '.join(summary['missing_cards']))}.</p>")
    rows = []
    for pe_type, best in table["best"].items():
        if not best:
            reason = "no PPA model" if pe_type in summary.get("missing_cards", ()) else "no valid point"
            rows.append([_e(pe_type), reason, "", "", ""])
            continue
        rows.append([_e(pe_type), f"{best['perf_per_area']:.4g}", _e(_config_text(best["perf_config"])),
                     f"{1e3 * best['energy_j']:.4g}", _e(_config_text(best["energy_config"]))])
    parts.append(_table(["PE type", "best perf/area (inf/s/mm<sup>2</sup>)", "its configuration",
                         "least energy (mJ/inference)", "its configuration"], rows))
    parts.append(_image(folder / "explore.png", f"exploration of {title}"))
    return "\n".join(parts)


def _coexploration_section(coexplore_dir: Path) -> str:
    folders = sorted(path for path in coexplore_dir.iterdir() if path.is_dir()) if coexplore_dir.is_dir() else []
    parts = ["<h2>Accuracy vs hardware (co-exploration)</h2>"]
    for folder in folders:
        if not ((folder / "coexplore.json").exists() and (folder / "coexplore.png").exists()):
            continue
        try:
            table = load_json(folder / "coexplore.json", "co-exploration result")
            rows = [[_e(row["label"]), str(row["seeds"]), f"{100 * row['top1_mean']:.2f} &plusmn; "
                     f"{100 * row['top1_std']:.2f}",
                     f"{row['best_perf']['norm_perf_per_area']:.2f}" if row["best_perf"] else "no design point",
                     f"{row['best_energy']['norm_energy']:.2f}" if row["best_energy"] else ""]
                    for row in table["formats"]]
            title = f"{table['network']} on {table['dataset']}"
        except (InputError, KeyError, TypeError) as error:
            raise ConfigError(f"{folder / 'coexplore.json'}: unreadable ({error}); run quidam coexplore again") from None
        parts += [f"<h3>{_e(title)}</h3>",
                  _table(["format", "seeds", "top-1 (%)", "best perf/area (norm.)", "least energy (norm.)"], rows),
                  _image(folder / "coexplore.png", f"accuracy vs hardware of {title}")]
    if len(parts) == 1:
        parts.append("<p class=\"note\">No co-exploration result: run <code>make coexplore</code>.</p>")
    return "\n".join(parts)


def write_html_report(out: str | os.PathLike[str], *, models_dir: str | os.PathLike[str] = CARDS_DIR,
                      data_dir: str | os.PathLike[str] = DATA_DIR,
                      model_report_dir: str | os.PathLike[str] = "reports/models",
                      explore_dir: str | os.PathLike[str] = "reports/explore",
                      coexplore_dir: str | os.PathLike[str] = "reports/coexplore") -> Path:
    """Write the report page to ``out`` (atomically) and return its path.

    Raises
    ------
    ConfigError
        ``explore_dir`` holds no exploration result, or one is unreadable.
    """
    explorations = _load_explorations(Path(explore_dir))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>quidam report</h1><p class=\"note\">quidam {_e(__version__)}, written {stamp} by "
            "<code>quidam report</code> from the model cards, the characterization datasets and the "
            f"exploration results in {_e(explore_dir)}.</p>",
            _accuracy_section(Path(models_dir), Path(data_dir), Path(model_report_dir)),
            _comparison_section(explorations),
            "<h2>Exploration results</h2>",
            *(_exploration_section(folder, summary, table) for folder, summary, table in explorations),
            _coexploration_section(Path(coexplore_dir))]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>quidam report</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    out = Path(out)
    write_text(out, page)
    return out
