"""The block datasets: ``data/characterization/blocks/<kind>.csv``, one row per block point.

Columns (:func:`block_row`): the block's parameters (its
:attr:`~quidam.characterize.blocks.BlockKind.key`), ``synth__area__total_um2``
(and for a PE the area of each block inside it,
``synth__area__block__<block>_um2``), ``power__total__leakage_w`` (for a PE
also ``power__block__<block>__leakage_w``), ``sta__timing__critical_path_ns``,
the measured energies ``energy__<action>_j`` of
:func:`~quidam.characterize.blocks.action_energies` (``idle`` per cycle, each
action per action), the recorded cycles and the design id. Rows are sorted
by their parameters; numbers are written with Python's shortest round-trip
``repr``, so an unchanged dataset is rewritten byte for byte
(:func:`write_block_dataset`, atomic).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Iterable

from quidam.errors import QuidamError
from quidam.files import write_text
from quidam.inputs import CSV_BYTES, read_text

from .blocks import KINDS, BlockPoint, action_energies
from .dataset import DATA_DIR

__all__ = ["BLOCK_DATA_DIR", "block_dataset_path", "block_row", "merge_block_dataset", "read_block_dataset",
           "write_block_dataset"]

#: Where the block datasets are committed, relative to the repository root.
BLOCK_DATA_DIR = DATA_DIR / "blocks"


def block_dataset_path(data_dir: str | os.PathLike[str], kind: str) -> Path:
    """``<data_dir>/<kind>.csv``."""
    return Path(data_dir) / f"{kind}.csv"


def block_row(point: BlockPoint, metrics: dict[str, Any]) -> dict[str, Any]:
    """One dataset row of a finished block point (see the module docstring).

    Raises
    ------
    QuidamError
        The point did not finish (its ``failed.json`` names the stage).
    """
    if metrics.get("status") != "ok":
        raise QuidamError(f"block {point.kind} {point.params}: no result ({metrics.get('stage')}: "
                          f"{metrics.get('reason')}; see {metrics.get('run_dir')})")
    row: dict[str, Any] = dict(point.params)
    row["synth__area__total_um2"] = metrics["synth__area__total_um2"]
    row.update({key: value for key, value in sorted(metrics.items()) if key.startswith("synth__area__block__")})
    row["power__total__leakage_w"] = metrics["power__total__leakage_w"]
    row.update({key: value for key, value in sorted(metrics.items())
                if key.startswith("power__block__") and key.endswith("__leakage_w")})
    row["sta__timing__critical_path_ns"] = metrics["sta__timing__critical_path_ns"]
    row.update({f"energy__{action}_j": value for action, value in action_energies(point.kind, metrics).items()})
    row["workload__cycles"] = metrics["workload__cycles"]
    row["design_id"] = metrics["design_id"]
    return row


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def write_block_dataset(rows: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write the rows of one block kind to ``path`` (atomic); the number of rows."""
    rows = list(rows)
    if not rows:
        raise QuidamError(f"{path}: no block point to write")
    columns = list(rows[0])
    if any(list(row) != columns for row in rows):
        raise QuidamError(f"{path}: the block points have different metrics; re-run them with one flow")
    kind = Path(path).stem
    keys = KINDS[kind].key
    rows.sort(key=lambda row: tuple(row[name] for name in keys))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_text(row[name]) for name in columns] for row in rows])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text(Path(path), buffer.getvalue())
    return len(rows)


def merge_block_dataset(rows: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> int:
    """Write ``rows`` into the dataset at ``path``, keeping its rows of other block keys (a row of the same
    key is replaced); the number of rows written."""
    rows = list(rows)
    keys = KINDS[Path(path).stem].key

    def key(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(row[name]) for name in keys)

    new = {key(row) for row in rows}
    kept = [row for row in read_block_dataset(path) if key(row) not in new] if Path(path).exists() else []
    return write_block_dataset(kept + rows, path)


def read_block_dataset(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a block dataset, numbers as ``int`` or ``float``, ``pe_type`` and ``design_id`` as text.

    Raises
    ------
    QuidamError
        The file is missing, is not CSV or lacks the kind's parameter columns.
    """
    path = Path(path)
    if not path.is_file():
        raise QuidamError(f"block dataset {path} does not exist; run `quidam characterize-blocks`")
    reader = csv.DictReader(io.StringIO(read_text(path, "block dataset", limit=CSV_BYTES), newline=""))
    kind = path.stem
    if kind not in KINDS or any(name not in (reader.fieldnames or []) for name in KINDS[kind].key):
        raise QuidamError(f"{path}: not a block dataset (a file <kind>.csv of {', '.join(KINDS)} with its "
                          f"parameter columns)")
    rows = []
    for row in reader:
        parsed: dict[str, Any] = {}
        for name, text in row.items():
            if name in ("pe_type", "design_id"):
                parsed[name] = text
            else:
                try:
                    parsed[name] = int(text)
                except ValueError:
                    try:
                        parsed[name] = float(text)
                    except ValueError:
                        raise QuidamError(f"{path}: {name} is {text!r}, not a number") from None
        rows.append(parsed)
    return rows
