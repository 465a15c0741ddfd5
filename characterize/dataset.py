"""The characterization dataset: one CSV per PE type, one row per sweep configuration.

:func:`update_dataset` writes ``data/characterization/<pe>.csv`` (see
:func:`dataset_path`) from the ``metrics.json`` of a sweep's points, merged
with the rows already there, atomically (:func:`quidam.files.write_text`).

Columns, in this order (:data:`COLUMNS`; :func:`columns_markdown` writes the
README's table): the configuration fields (every field of
:data:`quidam.config.FIELDS`, in its order), the total area, the area of each
block, dynamic and leakage power, the critical path and fmax, the per-action
energies, and the design id. The block areas and per-action energies are the
``synth__area__*`` and ``power__*__energy*_j`` keys the points' metrics hold,
sorted by name. Metric columns are named as the ``metrics.json`` keys.

Every point must have every column: a metric missing from one point's
``metrics.json``, or present in some points and not others, is a
:class:`DatasetError`, never an empty cell. Rows are keyed by the
configuration: a new result for a configuration replaces its old row (after an
RTL or tool change, the same configuration is a new design point), rows of
other configurations are kept. Rows are sorted by the configuration fields
(numerically), then the design id; numbers are written with Python's shortest
round-trip ``repr``, so an unchanged dataset is rewritten byte for byte.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from quidam.config import FIELDS, AcceleratorConfig
from quidam.errors import QuidamError
from quidam.files import write_text
from quidam.inputs import CSV_BYTES, InputError, read_text

__all__ = ["ACTIONS", "COLUMNS", "CONFIG_COLUMNS", "DATA_DIR", "Column", "DatasetError", "action_energies",
           "columns_markdown", "dataset_columns", "dataset_path", "read_dataset", "update_dataset"]

#: Where the datasets are committed, relative to the repository root.
DATA_DIR = Path("data/characterization")

#: The configuration columns (every configuration field, in declaration order).
CONFIG_COLUMNS = tuple(rule.name for rule in FIELDS)

_KIND = {rule.name: rule.kind for rule in FIELDS}


class DatasetError(QuidamError):
    """A dataset cannot be written or read: a metric is missing, or the existing file does not fit."""


@dataclass(frozen=True)
class Column:
    """One column, or a family of columns (``pattern`` set: every metric key matching it, sorted).

    Attributes
    ----------
    name : str
        The column name, or the family's name with a ``<placeholder>``.
    unit : str
        Unit of the values.
    meaning : str
        One line for the README.
    pattern : str or None
        Regular expression of the metric keys of a family.
    """

    name: str
    unit: str
    meaning: str
    pattern: str | None = None


#: Every column in order (see the module docstring).
COLUMNS: tuple[Column, ...] = (
    Column("pe_type ... clock_mhz", "", "the configuration: every field of `quidam config fields`, in that "
           "order (" + ", ".join(CONFIG_COLUMNS) + ")"),
    Column("synth__area__total_um2", "um^2", "total area: standard cells plus SRAM macros"),
    Column("synth__area__<block>_um2", "um^2", "area by block: every other `synth__area__*` metric, by name "
           "(`block__<block>` for each block of the design, and combinational, macro, sequential, stdcell)",
           r"synth__area__(?!total_um2$)\w+_um2"),
    Column("power__total__dynamic_w", "W", "dynamic power (internal + switching) at the configured clock, with "
           "the switching activity of the simulated workload"),
    Column("power__total__leakage_w", "W", "leakage power (typical corner)"),
    Column("sta__timing__critical_path_ns", "ns", "critical path: data arrival plus the capture flop's setup"),
    Column("sta__timing__fmax_mhz", "MHz", "highest clock the critical path allows, 1000 / critical path"),
    Column("power__block__<block>__{dynamic,leakage}_w", "W", "power by block (the blocks of the area "
           "breakdown)", r"power__block__\w+__(dynamic|leakage)_w"),
    Column("power__<op>__energy_per_op_j", "J", "dynamic energy of the whole design per operation of its "
           "workload (`layer_mac`: per MAC of the simulated layer)", r"power__\w+__energy\w*_j"),
    Column("energy__<action>_j", "J", "per-action energies (see `ACTIONS`): a block's dynamic energy over the "
           "simulated layer divided by the events that drove it", r"energy__\w+_j"),
    Column("design_id", "", "the design point: its run folder is `runs/nangate45/<design_id>/`"),
)


#: Per-action energies: column, the blocks whose dynamic energy it takes, the workload events it divides by.
#: A scratchpad's or the GLB's figure is per access, reads and writes of the layer together; the last is the
#: energy per cycle of what no action accounts for (PE sequencers, controller: mostly their clocked flops).
ACTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("energy__mac_op_j", ("mac",), ("macs",)),
    ("energy__ifmap_spad_access_j", ("ifmap_spad",), ("spad_ifmap_read", "spad_ifmap_write")),
    ("energy__filter_spad_access_j", ("filter_spad",), ("spad_filter_read", "spad_filter_write")),
    ("energy__psum_spad_access_j", ("psum_spad",), ("spad_psum_read", "spad_psum_write")),
    ("energy__glb_access_j", ("glb",), ("glb_read", "glb_write")),
    ("energy__array_transfer_j", ("array_bus",),
     ("array_ifmap_bus", "array_filter_bus", "array_psum_in", "array_psum_out")),
    ("energy__control_per_cycle_j", ("pe_control", "controller", "top"), ("cycles",)),
)


def action_energies(metrics: dict[str, Any]) -> dict[str, float]:
    """The :data:`ACTIONS` energies of a point whose workload counted its events (none for a MAC unit alone).

    Energy of a block = its dynamic power x the measured time (measured cycles x clock period).

    Raises
    ------
    DatasetError
        A block's power or an event count is missing, or an action never happened in the workload.
    """
    if "workload__cycles" not in metrics:
        return {}
    where = f"design point {metrics.get('design_id', '?')}"
    try:
        seconds = metrics["power__activity__measured_cycles"] * metrics["sta__clock__period_ns"] * 1e-9
        energies = {}
        for column, blocks, events in ACTIONS:
            count = sum(metrics[f"workload__{event}"] for event in events)
            if count <= 0:
                raise DatasetError(f"{where}: its workload has no {' or '.join(events)} events, so {column} is "
                                   f"undefined")
            energies[column] = sum(metrics[f"power__block__{block}__dynamic_w"] for block in blocks) * seconds / count
    except KeyError as missing:
        raise DatasetError(f"{where}: metrics.json has no {missing.args[0]}; re-run the point") from None
    return energies


def dataset_path(data_dir: str | os.PathLike[str], pe_type: str) -> Path:
    """``<data_dir>/<pe_type>.csv``."""
    return Path(data_dir) / f"{pe_type}.csv"


def columns_markdown() -> str:
    """The column table of the README (Markdown)."""
    lines = ["| column | unit | meaning |", "|---|---|---|"]
    for column in COLUMNS:
        lines.append(f"| `{column.name}` | {column.unit or '-'} | {column.meaning} |")
    return "\n".join(lines)


def dataset_columns(metrics: Iterable[dict[str, Any]]) -> list[str]:
    """The column names for points with these metrics (families expanded over the union of their keys)."""
    keys = set().union(*(record.keys() for record in metrics))
    names: list[str] = []
    for column in COLUMNS:
        if column.name.startswith("pe_type"):
            names.extend(CONFIG_COLUMNS)
        elif column.pattern is not None:
            names.extend(sorted(key for key in keys if re.fullmatch(column.pattern, key)))
        else:
            names.append(column.name)
    return names


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    return repr(value) if isinstance(value, float) else str(value)


def _row(config: AcceleratorConfig, metrics: dict[str, Any], columns: list[str]) -> dict[str, str]:
    row = {name: _text(getattr(config, name)) for name in CONFIG_COLUMNS}
    where = f"design point {metrics.get('design_id', '?')} ({metrics.get('run_dir', 'no run folder')})"
    if metrics.get("status") != "ok":
        raise DatasetError(f"{where} has no metrics: it {metrics.get('status', 'did not finish')}")
    for name in columns[len(CONFIG_COLUMNS):]:
        value = metrics.get(name)
        if value is None:
            raise DatasetError(f"{where}: metrics.json has no {name}, which other points have; "
                               f"re-run the point (delete its folder) or the others")
        if name != "design_id" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise DatasetError(f"{where}: {name} is {value!r}, not a number")
        row[name] = _text(value)
    return row


def _sort_key(row: dict[str, str], path: Path) -> tuple:
    key = []
    for name in CONFIG_COLUMNS:
        try:
            key.append(_KIND[name](row[name]))
        except (KeyError, ValueError):
            raise DatasetError(f"{path}: row of design {row.get('design_id', '?')}: {name} is "
                               f"{row.get(name)!r}, not {_KIND[name].__name__}") from None
    return (*key, row["design_id"])


def read_dataset(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows (as text) of a dataset CSV; ``([], [])`` when it does not exist.

    Raises
    ------
    DatasetError
        The file is not a quidam dataset (no configuration or design id columns).
    """
    path = Path(path)
    if not path.exists():
        return [], []
    try:
        reader = csv.DictReader(io.StringIO(read_text(path, "dataset", limit=CSV_BYTES), newline=""))
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    except InputError as error:
        raise DatasetError(str(error)) from None
    except csv.Error as error:
        raise DatasetError(f"dataset {path}: malformed CSV: {error}") from None
    missing = [name for name in (*CONFIG_COLUMNS, "design_id") if name not in columns]
    if missing:
        raise DatasetError(f"{path}: not a quidam dataset (no column {missing[0]}); move it away or choose "
                           f"another --data folder")
    for number, row in enumerate(rows, start=2):
        if None in row or any(value is None for value in row.values()):
            raise DatasetError(f"{path}: line {number} has {'more' if None in row else 'fewer'} fields than "
                               f"the header")
    return columns, rows


def update_dataset(points: Iterable[tuple[AcceleratorConfig, dict[str, Any]]],
                   path: str | os.PathLike[str]) -> int:
    """Merge the points' rows into the dataset at ``path`` (see the module docstring); atomic.

    Parameters
    ----------
    points : iterable of (AcceleratorConfig, dict)
        Each configuration and its ``metrics.json`` content.
    path : path
        The CSV (created with its folder when missing).

    Returns
    -------
    int
        Rows in the dataset after the merge.

    Raises
    ------
    DatasetError
        A point lacks a metric the others have, or the existing file's
        columns differ from the new points' while it keeps rows the new
        points do not replace.
    """
    path = Path(path)
    points = list(points)
    if not points:
        raise DatasetError(f"{path}: no finished point to write")
    points = [(config, {**metrics, **action_energies(metrics)}) for config, metrics in points]
    columns = dataset_columns(metrics for _, metrics in points)
    new = {}
    for config, metrics in points:
        row = _row(config, metrics, columns)
        new[tuple(row[name] for name in CONFIG_COLUMNS)] = row
    old_columns, old_rows = read_dataset(path)
    kept = [row for row in old_rows if tuple(row[name] for name in CONFIG_COLUMNS) not in new]
    if kept and set(old_columns) != set(columns):
        differ = sorted(set(old_columns) ^ set(columns))
        raise DatasetError(f"{path}: its {len(kept)} rows of other configurations have different columns "
                           f"from the new points ({', '.join(differ[:4])}{', ...' if len(differ) > 4 else ''}): "
                           f"re-run those configurations too, or move the file away to start a new dataset")
    rows = sorted([*kept, *new.values()], key=lambda row: _sort_key(row, path))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())
    return len(rows)
