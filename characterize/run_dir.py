"""The run folder of one design point: layout, design id, atomic results, cache and failure records.

Layout, after OpenROAD-flow-scripts (one numbered folder per stage)::

    runs/<platform>/<design-id>/
        design.json        everything the design id was computed from
        0_rtl/             the Verilog characterized (<top>.v)
        1_synth/           synth.ys, synth.log, netlist.v, stat.json
        2_sta/             constraints.sdc, sta.tcl, sta.log, timing.rpt
        3_power/           stimulus.hex, tb.v, sim_netlist.v, sim.log, activity.json,
                           power.tcl, power.log, power.rpt
        metrics.json       the point's metrics and provenance (written last)
        failed.json        instead of metrics.json when a stage failed

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
(a run that was killed) is simply run again. One point must not be run by two
processes at once (a sweep hands each design id to one worker).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from quidam.files import write_json

__all__ = [
    "ID_CHARS",
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


def canonical_json(data: Any) -> str:
    """JSON text with sorted keys and no whitespace: equal data gives equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def design_id(identity: dict[str, Any]) -> str:
    """The design id of a point: the first :data:`ID_CHARS` hex digits of SHA-256 over ``identity``."""
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:ID_CHARS]


def sources_digest(folders: list[Path], pattern: str = "*.py", exclude: frozenset[str] = frozenset()) -> str:
    """SHA-256 over the files matching ``pattern`` in ``folders`` (names and contents, sorted).

    Used for the generator source (``rtl_gen/``, ``formats/``) and the flow's
    own source (``characterize/``); caches (``__pycache__``) are not matched,
    nor the file names in ``exclude``.
    """
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).glob(pattern)):
            if path.name in exclude:
                continue
            digest.update(f"{Path(folder).name}/{path.name}\0".encode())
            digest.update(path.read_bytes())
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

    def cached(self) -> dict[str, Any] | None:
        """The stored result: ``metrics.json``, else ``failed.json``, else ``None`` (not run or killed)."""
        for path in (self.metrics_path, self.failed_path):
            if path.is_file():
                return json.loads(path.read_text())
        return None

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
        """Record a finished point (``metrics.json``, atomically)."""
        write_json(self.metrics_path, metrics)

    def fail(self, record: dict[str, Any]) -> None:
        """Record a failed point (``failed.json``, atomically); stage folders and logs stay."""
        write_json(self.failed_path, record)
