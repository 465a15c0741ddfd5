"""The run folder of one design point: layout, design id, atomic results, cache and failure records.

Layout, after OpenROAD-flow-scripts (one numbered folder per stage)::

    runs/<platform>/<design-id>/
        design.json        everything the design id was computed from
        0_rtl/             the Verilog characterized (<top>.v)
        1_synth/           synth.ys, synth.log, netlist.v, fanout.json, stat.json (with blocks:
                           hier.v, stat_modules.json)
        2_sta/             constraints.sdc, sta.tcl, sta.log, timing.rpt
        3_power/           stimulus.hex, tb.v, sim_netlist.v, sim.log (with blocks: partition/),
                           activity.json, power.tcl, power.log, power.rpt
        metrics.json       the point's metrics and provenance (written last)
        failed.json        instead of metrics.json when a stage failed
        lock               held (flock) while a process computes the point

The design id is the first :data:`ID_CHARS` hex digits of the SHA-256 of the
canonical JSON of ``design.json``: the resolved parameters, the Verilog text's
digest, the stimulus digest (the layer data and the expected outputs), the
tool versions, the PDK files' digests and the flow's own source digest.
Anything that can change a result changes the id, so a finished point is never
recomputed and an RTL or tool change invalidates exactly the points it
touches: a generator edit that leaves a point's Verilog and stimulus as they
were keeps it cached (the generator's source digest is provenance, not
identity).

Every result file is written atomically (a temporary file in the same folder,
then :func:`os.replace`): a killed run leaves either the old file or the new
one. A point with ``metrics.json`` is done; one with ``failed.json`` stays
failed (its logs kept) until it is retried explicitly; a folder with neither
(a run that was killed) is simply run again.

Each record holds the SHA-256 of its own canonical JSON (``sha256``) and is
verified when read back (:meth:`RunDir.cached`): a record that is truncated,
empty, altered, or lacks a key its status must have (:data:`REQUIRED_KEYS`) is
not trusted; :attr:`RunDir.corruption` says which file and why, and the point
is run again. A process computes a point only while it holds the folder's lock
(:meth:`RunDir.lock`), so two sweeps on one runs folder share the work: the
second waits, then reads the first one's result.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from quidam.files import locked, write_json
from quidam.inputs import InputError, load_json

__all__ = [
    "ID_CHARS",
    "REQUIRED_KEYS",
    "STAGES",
    "RunDir",
    "canonical_json",
    "design_id",
    "sources_digest",
]

#: Hex digits of the design id (64 bits: collisions are not a concern for sweeps).
ID_CHARS = 16

#: Stage folders in flow order.
STAGES = ("0_rtl", "1_synth", "2_sta", "3_power")

#: Keys a stored record must have, by its ``status``: a finished point's one metric of each stage, a failure's
#: stage and reason.
REQUIRED_KEYS = {
    "ok": ("design_id", "run_dir", "design", "provenance", "synth__area__stdcell_um2",
           "sta__timing__critical_path_ns", "power__total__dynamic_w"),
    "failed": ("design_id", "run_dir", "stage", "reason"),
}

# The key of a record's own checksum.
_CHECKSUM = "sha256"

# CPython 3.11's AST constructors are not thread-safe ("AST constructor recursion depth mismatch" when two threads
# parse at once, gh-106905), and a Dask worker with several threads resolves several points at once.
_AST_LOCK = threading.Lock()


def canonical_json(data: Any) -> str:
    """JSON text with sorted keys and no whitespace: equal data gives equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def design_id(identity: dict[str, Any]) -> str:
    """The design id of a point: the first :data:`ID_CHARS` hex digits of SHA-256 over ``identity``."""
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:ID_CHARS]


@functools.lru_cache(maxsize=512)
def _python_code(source: bytes) -> bytes:
    """The code of a Python module without its docstrings and comments (an edit of either is no change)."""
    with _AST_LOCK:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                    and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
        return ast.dump(tree, include_attributes=False).encode()


def sources_digest(folders: list[Path], pattern: str = "*.py", exclude: frozenset[str] = frozenset()) -> str:
    """SHA-256 over the files matching ``pattern`` in ``folders`` (names and contents, sorted).

    Used for the generator source (``rtl_gen/``, ``formats/``) and the flow's
    own source (``characterize/``); caches (``__pycache__``) are not matched,
    nor the file names in ``exclude``. A Python file counts by its code
    (:func:`ast.dump` without docstrings): comments, docstrings and layout do
    not change the digest.
    """
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).glob(pattern)):
            if path.name in exclude:
                continue
            content = path.read_bytes()
            digest.update(f"{Path(folder).name}/{path.name}\0".encode())
            digest.update(_python_code(content) if path.suffix == ".py" else content)
            digest.update(b"\0")
    return digest.hexdigest()


class RunDir:
    """The folder ``<runs_root>/<platform>/<design id>`` of one design point.

    Parameters
    ----------
    runs_root : path
        Root of all runs (``runs/`` by default in the flow).
    platform : str
        Platform name, e.g. ``nangate45``.
    identity : dict
        Everything the result depends on (JSON-ready); hashed into the id and
        written to ``design.json``.
    """

    def __init__(self, runs_root: str | os.PathLike[str], platform: str, identity: dict[str, Any]):
        self.identity = identity
        self.design_id = design_id(identity)
        self.corruption: str | None = None
        self.path = Path(runs_root).resolve() / platform / self.design_id

    def stage(self, name: str) -> Path:
        """The folder of stage ``name`` (one of :data:`STAGES`), created when missing."""
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
        folder = self.path / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def metrics_path(self) -> Path:
        """``metrics.json`` of the point."""
        return self.path / "metrics.json"

    @property
    def failed_path(self) -> Path:
        """``failed.json`` of the point."""
        return self.path / "failed.json"

    def lock(self):
        """A context manager holding this point's lock (``<folder>/lock``) while a process computes it."""
        return locked(self.path / "lock")

    def cached(self) -> dict[str, Any] | None:
        """The stored, verified result: ``metrics.json``, else ``failed.json``, else ``None``.

        ``None`` also when the record found is corrupt; :attr:`corruption` then
        names its path and what is wrong (else it is ``None``).
        """
        self.corruption = None
        for path in (self.metrics_path, self.failed_path):
            if path.is_file():
                try:
                    return self._verified(path)
                except InputError as error:
                    self.corruption = str(error)
                    return None
        return None

    def _verified(self, path: Path) -> dict[str, Any]:
        record = load_json(path, "stored result")
        if not isinstance(record, dict) or not record:
            raise InputError(f"stored result {path}: empty or not a JSON object")
        checksum = record.pop(_CHECKSUM, None)
        if checksum != hashlib.sha256(canonical_json(record).encode()).hexdigest():
            raise InputError(f"stored result {path}: its checksum does not match its content (altered or "
                             f"written by another version)")
        expected = "ok" if path == self.metrics_path else "failed"
        if record.get("status") != expected:
            raise InputError(f"stored result {path}: status is {record.get('status')!r}, not {expected!r}")
        missing = [key for key in REQUIRED_KEYS[expected] if key not in record]
        if missing or record["design_id"] != self.design_id:
            what = f"no key {missing[0]}" if missing else f"the design id of another point ({record['design_id']!r})"
            raise InputError(f"stored result {path}: {what}")
        return record

    def start(self) -> None:
        """Prepare a fresh run: clear earlier stage folders and records, write ``design.json``."""
        for name in (*STAGES, "metrics.json", "failed.json"):
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        write_json(self.path / "design.json", self.identity)

    def finish(self, metrics: dict[str, Any]) -> None:
        """Record a finished point (``metrics.json`` with its checksum, atomically)."""
        self._write(self.metrics_path, metrics)

    def fail(self, record: dict[str, Any]) -> None:
        """Record a failed point (``failed.json`` with its checksum, atomically); stage folders and logs stay."""
        self._write(self.failed_path, record)

    @staticmethod
    def _write(path: Path, record: dict[str, Any]) -> None:
        checksum = hashlib.sha256(canonical_json(record).encode()).hexdigest()
        write_json(path, {**record, _CHECKSUM: checksum})
