"""Run the points of a sweep in parallel on Dask: cached, deduplicated, resumable.

:func:`run_sweep` works in two rounds on a Dask cluster (an embedded
:class:`~distributed.LocalCluster` of worker processes by default, or an
existing scheduler given by its address):

1. every configuration's design (:func:`~quidam.characterize.points.design_for`)
   is generated on a worker and its design id and stored result looked up
   (:func:`~quidam.characterize.flow.point_run_dir`); configurations with the same
   design id are one point;
2. each point without a stored result (or with a stored failure, when
   ``retry_failed``) is characterized by one worker
   (:func:`~quidam.characterize.flow.characterize_point`), with a progress bar.

Nothing is lost when a sweep is killed: each point's ``metrics.json`` is
written atomically when it finishes, and a point is only ever run by one
worker, so a later sweep finds every finished point and runs the rest. A point
that fails (a tool error in its run, a bug, a worker that dies) is counted as
failed with its reason and never stops the others; a problem of the
environment (a missing tool, missing PDK files: :class:`~quidam.errors.ToolError`,
:class:`~quidam.errors.PDKError`) stops the sweep at once. With an external
scheduler, the workers must see the same runs folder and PDK (a shared file
system) and have quidam installed.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tqdm import tqdm

from quidam.config import AcceleratorConfig
from quidam.errors import PDKError, QuidamError, ToolError
from quidam.pdk.locate import cell_library_path, resolve_pdk_dir

from .flow import CORNER, characterize_point, point_run_dir
from .points import UNITS, design_for
from .tools import tool_versions

__all__ = ["PointResult", "SweepError", "SweepSummary", "run_sweep"]

# Seconds to wait for an external scheduler and for its first worker.
_CONNECT_TIMEOUT_S = 10
_WORKERS_TIMEOUT_S = 120


class SweepError(QuidamError):
    """The sweep cannot run: no scheduler, no workers, or the environment is broken."""


@dataclass(frozen=True)
class PointResult:
    """One configuration of a sweep and the result of its design point.

    Attributes
    ----------
    config : AcceleratorConfig
        The configuration.
    design_id : str or None
        Its design point (``None`` when its design could not be generated).
    status : str
        ``new`` (characterized now), ``cached`` (stored result read back) or ``failed``.
    record : dict
        ``metrics.json`` when ok; else the failure record (``stage``, ``reason``,
        ``failed_json``: the ``failed.json`` path, or ``None`` when nothing was recorded).
    """

    config: AcceleratorConfig
    design_id: str | None
    status: str
    record: dict[str, Any]


@dataclass
class SweepSummary:
    """What a sweep did; ``new``, ``cached`` and ``failed`` count distinct design points.

    Attributes
    ----------
    new, cached, failed : int
        Points characterized now, read back from their run folders, failed
        (now, or stored and not retried).
    points : list of PointResult
        One per configuration, in the sweep's order.
    elapsed_s : float
        Wall-clock time of the sweep.
    """

    new: int
    cached: int
    failed: int
    points: list[PointResult] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def failures(self) -> list[dict[str, Any]]:
        """The failure record of each failed design point (one per design id)."""
        seen: dict[Any, dict[str, Any]] = {}
        for point in self.points:
            if point.status == "failed":
                seen.setdefault(point.design_id or id(point), point.record)
        return list(seen.values())

    def format(self) -> str:
        """The summary printed at the end of a sweep: counts, then each failure's reason and record."""
        configs = len(self.points)
        distinct = self.new + self.cached + self.failed
        lines = [f"{configs} configuration{'s' * (configs != 1)}, {distinct} design point{'s' * (distinct != 1)}: "
                 f"{self.new} new, {self.cached} cached, {self.failed} failed ({self.elapsed_s:.1f} s)"]
        for record in self.failures:
            where = record.get("failed_json") or "no failed.json"
            lines.append(f"  failed {record.get('design_id') or '-'} in {record.get('stage', '?')}: "
                         f"{record.get('reason', '?')} ({where})")
        if any(record.get("stored") for record in self.failures):
            lines.append("  stored failures are not run again; --retry-failed runs them")
        return "\n".join(lines)


def _failure(stage: str, reason: str, design_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"status": "failed", "design_id": design_id, "stage": stage, "reason": reason, "failed_json": None,
            **extra}


def _bug(stage: str, error: Exception, design_id: str | None = None) -> dict[str, Any]:
    reason = f"{type(error).__name__}: {error}".splitlines()[0]
    return _failure(stage, reason, design_id, traceback=traceback.format_exc())


def resolve_point(config: AcceleratorConfig, runs_root: str, pdk_dir: str, yosys: str | None,
                  unit: str = "accelerator") -> dict[str, Any]:
    """Round 1, on a worker: the design id of ``config``'s point and its stored result (``None`` if none)."""
    try:
        run = point_run_dir(design_for(config, pdk_dir, unit), pdk_dir=pdk_dir, runs_root=runs_root, yosys=yosys)
        return {"design_id": run.design_id, "stored": run.cached()}
    except (ToolError, PDKError):
        raise
    except Exception as error:  # a generator error is this point's failure, not the sweep's
        return {"design_id": None, "stored": _bug("generate", error)}


def characterize_config(config: AcceleratorConfig, runs_root: str, pdk_dir: str, yosys: str | None,
                        retry: bool, unit: str = "accelerator") -> dict[str, Any]:
    """Round 2, on a worker: characterize ``config``'s point; unexpected errors become a failure record."""
    try:
        return characterize_point(design_for(config, pdk_dir, unit), pdk_dir=pdk_dir, runs_root=runs_root, yosys=yosys,
                                  retry=retry)
    except (ToolError, PDKError):
        raise
    except Exception as error:
        return _bug("characterize", error)


class _Cluster:
    """A Dask client on an embedded LocalCluster, or on the scheduler at ``address``."""

    def __init__(self, jobs: int | None, address: str | None):
        from dask.distributed import Client, LocalCluster

        self.cluster = None
        if address is None:
            workers = jobs or os.cpu_count() or 1
            # No dashboard; the scheduler's small HTTP server on a free local port, not on 8787.
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.CRITICAL,
                                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            self.client = Client(self.cluster)
            return
        try:
            self.client = Client(address, timeout=f"{_CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as error:
            raise SweepError(f"cannot connect to the Dask scheduler at {address}: {error}") from None
        try:
            self.client.wait_for_workers(1, timeout=_WORKERS_TIMEOUT_S)
        except TimeoutError:
            self.close()
            raise SweepError(f"the Dask scheduler at {address} has no worker after {_WORKERS_TIMEOUT_S} s; "
                             f"start some with `dask worker {address}`") from None

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _result(future) -> tuple[Any, dict[str, Any] | None]:
    """``(value, None)``, or ``(None, failure)`` when the task's worker died; environment errors propagate."""
    from distributed import KilledWorker

    try:
        return future.result(), None
    except (ToolError, PDKError):
        raise
    except KilledWorker as error:
        return None, _failure("worker", f"the worker running it died ({error})")
    except Exception as error:  # noqa: BLE001  (whatever happened to one task is that point's failure)
        return None, _failure("worker", f"{type(error).__name__}: {error}".splitlines()[0])


def run_sweep(configs: Iterable[AcceleratorConfig], *, jobs: int | None = None, scheduler: str | None = None,
              retry_failed: bool = False, runs_root: str | os.PathLike[str] = "runs",
              pdk_dir: str | os.PathLike[str] | None = None, yosys: str | None = None,
              progress: bool = True, label: str = "characterize", unit: str = "accelerator") -> SweepSummary:
    """Characterize every configuration's design point on Dask; see the module docstring.

    Parameters
    ----------
    configs : iterable of AcceleratorConfig
        The sweep (e.g. :func:`~quidam.characterize.points.load_sweep`).
    jobs : int, optional
        Worker processes of the embedded cluster (default: the CPU count).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) to use instead.
    retry_failed : bool
        Run points again whose stored result is a failure.
    runs_root, pdk_dir, yosys
        As for :func:`~quidam.characterize.flow.characterize_point`.
    progress : bool
        Show a progress bar (standard error) with counts and ETA.
    label : str
        The progress bar's title.
    unit : str
        What each point characterizes (:data:`~quidam.characterize.points.UNITS`).

    Raises
    ------
    ToolError, PDKError
        The environment cannot run the flow (raised before or as soon as a worker meets it).
    SweepError
        No scheduler at ``scheduler``, or it has no worker.
    """
    started = time.perf_counter()
    configs = list(configs)
    if jobs is not None and scheduler is not None:
        raise SweepError("--jobs sets the workers of the embedded cluster; with --scheduler the scheduler's "
                         "workers run the points")
    if jobs is not None and jobs < 1:
        raise SweepError(f"jobs: must be at least 1, not {jobs}")
    if unit not in UNITS:
        raise SweepError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    runs = str(Path(runs_root).resolve())
    pdk = str(resolve_pdk_dir(pdk_dir).resolve())
    cell_library_path(CORNER, pdk)  # fail fast, here, when the cell library or a tool is missing
    tool_versions(yosys)
    results: dict[int, tuple[str | None, str, dict[str, Any]]] = {}
    cluster = _Cluster(jobs, scheduler)
    try:
        client = cluster.client
        token = uuid.uuid4().hex[:8]
        resolving = [client.submit(resolve_point, config, runs, pdk, yosys, unit, key=f"resolve-{index}-{token}")
                     for index, config in enumerate(configs)]
        owners: dict[str, list[int]] = {}  # design id -> configuration indices
        designs = tqdm(resolving, desc=f"{label}: designs", unit="config", disable=not progress, leave=False,
                       dynamic_ncols=True)
        for index, future in enumerate(designs):
            found, trouble = _result(future)
            if trouble is not None:
                results[index] = (None, "failed", trouble)
                continue
            design_id, stored = found["design_id"], found["stored"]
            if design_id is None:
                results[index] = (None, "failed", stored)
            elif design_id in owners:
                owners[design_id].append(index)
            elif stored is not None and (stored["status"] == "ok" or not retry_failed):
                owners[design_id] = [index]
                status = "cached" if stored["status"] == "ok" else "failed"
                results[index] = (design_id, status, {**stored, "stored": True} if status == "failed" else stored)
            else:
                owners[design_id] = [index]
        designs.close()
        del resolving, designs
        pending = {design_id: indices[0] for design_id, indices in owners.items() if indices[0] not in results}
        futures = {client.submit(characterize_config, configs[index], runs, pdk, yosys, retry_failed, unit,
                                 key=f"characterize-{design_id}-{token}"): design_id
                   for design_id, index in pending.items()}
        _collect(futures, pending, results, progress=progress, label=label)
        for indices in owners.values():
            for index in indices[1:]:
                results[index] = results[indices[0]]
    finally:
        cluster.close()

    points = [PointResult(config, *results[index]) for index, config in enumerate(configs)]
    firsts = {point.design_id or id(point): point.status for point in points}
    counts = {status: sum(1 for value in firsts.values() if value == status) for status in ("new", "cached", "failed")}
    return SweepSummary(**counts, points=points, elapsed_s=time.perf_counter() - started)


def _collect(futures: dict, pending: dict[str, int], results: dict, *, progress: bool, label: str) -> None:
    """Wait for the characterizations, updating the progress bar; fail fast on environment errors."""
    from dask.distributed import as_completed

    cached = sum(1 for _, status, _ in results.values() if status == "cached")
    counts = {"new": 0, "failed": 0}
    bar = tqdm(total=len(futures), desc=label, unit="point", disable=not progress or not futures,
               dynamic_ncols=True, smoothing=0.1)
    bar.set_postfix(cached=cached, refresh=False)
    try:
        for future in as_completed(futures):
            design_id = futures[future]
            record, trouble = _result(future)
            if trouble is not None:
                record = {**trouble, "design_id": design_id}
            status = "new" if record.get("status") == "ok" else "failed"
            if status == "failed":
                record = {**record, "design_id": record.get("design_id") or design_id}
            counts[status] += 1
            results[pending[design_id]] = (design_id, status, record)
            bar.set_postfix(new=counts["new"], cached=cached, failed=counts["failed"], refresh=False)
            bar.update(1)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        bar.close()
