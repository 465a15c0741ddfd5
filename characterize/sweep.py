"""Run the points of a sweep in parallel on Dask: cached, deduplicated, resumable.

:func:`run_sweep` works in two rounds on a Dask cluster (an embedded
:class:`~distributed.LocalCluster` of worker processes by default, or an
existing scheduler given by its address):

1. every configuration's design (:func:`~quidam.characterize.points.design_for`)
   is generated on a worker and its design id and stored result looked up
   (:func:`~quidam.characterize.flow.point_run_dir`); configurations with the same
   design id are one point; a stored result that does not verify is reported
   (:attr:`SweepSummary.corrupted`) and the point run again;
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
import math
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from tqdm import tqdm

from quidam.config import AcceleratorConfig
from quidam.errors import PDKError, QuidamError, ToolError

from .flow import characterize_point, check_environment, point_run_dir
from .points import UNITS, design_for

__all__ = ["WORKER_TIMEOUT_S", "PointResult", "SweepError", "SweepSummary", "run_sweep", "run_tasks"]

#: Seconds a sweep waits without any worker (at the start, or after losing them all) before it ends.
WORKER_TIMEOUT_S = 180.0

# Seconds to wait for an external scheduler; seconds between two looks at the cluster while points run.
_CONNECT_TIMEOUT_S = 10
_POLL_S = 2.0


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
    corrupted : list of str
        Each stored result found corrupt (its path and what is wrong); those points were run again.
    """

    new: int
    cached: int
    failed: int
    points: list[PointResult] = field(default_factory=list)
    elapsed_s: float = 0.0
    corrupted: list[str] = field(default_factory=list)

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
        lines += [f"  recomputed: {problem}" for problem in self.corrupted]
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
        return {"design_id": run.design_id, "stored": run.cached(), "corruption": run.corruption}
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

    def __init__(self, jobs: int | None, address: str | None, worker_timeout_s: float):
        from dask.distributed import Client, LocalCluster

        self.cluster, self.address, self.worker_timeout_s = None, address, worker_timeout_s
        if address is None:
            workers = jobs or os.cpu_count() or 1
            # No dashboard; the scheduler's small HTTP server on a free local port, not on 8787.
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.CRITICAL,
                                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
            self.client = Client(self.cluster)
            return
        # The client's own log lines (reconnection attempts, tracebacks of a lost scheduler) stay quiet: a lost
        # scheduler is one SweepError line.
        for name in ("distributed", "distributed.client", "distributed.core", "distributed.comm", "distributed.batched"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            self.client = Client(address, timeout=f"{_CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as error:
            raise SweepError(f"cannot connect to the Dask scheduler at {address}: {error}") from None
        try:
            self.client.wait_for_workers(1, timeout=worker_timeout_s)
        except TimeoutError:
            self.close()
            raise SweepError(f"the Dask scheduler at {address} has no worker after {worker_timeout_s:g} s; "
                             f"start some with `dask worker {address}`") from None

    def _lost(self, error: BaseException | None = None) -> SweepError:
        detail = f": {' '.join(str(error).split())}" if error is not None and str(error) else ""
        return SweepError(f"lost the Dask scheduler at {self.address or 'of the embedded cluster'}{detail}; the "
                          f"finished points are kept in the runs folder, run the sweep again to go on")

    def finished(self, futures: Iterable) -> Iterable:
        """Yield each of ``futures`` as it finishes, watching the cluster meanwhile.

        Raises
        ------
        SweepError
            The scheduler is lost, or the cluster has had no worker for :attr:`worker_timeout_s` seconds.
        """
        from distributed import wait
        from distributed.client import FuturesCancelledError

        remaining, alone_since = set(futures), None
        while remaining:
            try:
                done, remaining = wait(remaining, timeout=_POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            except (OSError, FuturesCancelledError):  # the sweep cancels no future itself
                raise self._lost() from None
            # The sweep cancels no future itself: a cancelled one means the scheduler dropped the client.
            if self.client.status != "running" or any(future.status == "cancelled" for future in done):
                raise self._lost()
            yield from done
            if not remaining:
                return
            try:
                workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
            except (OSError, TimeoutError) as error:
                raise self._lost(error) from None
            if workers:
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > self.worker_timeout_s:
                raise SweepError(f"every Dask worker has been gone for more than {self.worker_timeout_s:g} s "
                                 f"(--worker-timeout); {len(remaining)} points left undone, the finished ones are "
                                 f"kept in the runs folder: start workers and run the sweep again")

    def close(self) -> None:
        try:
            self.client.close(timeout=_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):  # a lost scheduler: nothing to close there
            pass
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
              progress: bool = True, label: str = "characterize", unit: str = "accelerator",
              worker_timeout_s: float = WORKER_TIMEOUT_S, on_ready: Callable[[], None] | None = None) -> SweepSummary:
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
    worker_timeout_s : float
        How long the sweep waits while the cluster has no worker (at the start, or after losing them all)
        before it ends with a :class:`SweepError`.
    on_ready : callable, optional
        Called once the inputs, the environment and the cluster are checked, before any point runs (the
        command line prints its header there, so an input error is never preceded by progress output).

    Raises
    ------
    ToolError, PDKError
        The environment cannot run the flow (raised before or as soon as a worker meets it).
    SweepError
        No scheduler at ``scheduler``, it is lost, or it has had no worker for ``worker_timeout_s``.
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
    runs, pdk = map(str, check_environment(runs_root, pdk_dir, yosys))  # fail fast, here
    results: dict[int, tuple[str | None, str, dict[str, Any]]] = {}
    if not (worker_timeout_s > 0 and math.isfinite(worker_timeout_s)):
        raise SweepError(f"worker timeout: must be a positive number of seconds, not {worker_timeout_s!r}")
    cluster = _Cluster(jobs, scheduler, worker_timeout_s)
    if on_ready is not None:
        on_ready()
    try:
        client = cluster.client
        token = uuid.uuid4().hex[:8]
        resolving = [client.submit(resolve_point, config, runs, pdk, yosys, unit, key=f"resolve-{index}-{token}")
                     for index, config in enumerate(configs)]
        owners: dict[str, list[int]] = {}  # design id -> configuration indices
        corrupted: list[str] = []
        with tqdm(total=len(resolving), desc=f"{label}: designs", unit="config", disable=not progress,
                  leave=False, dynamic_ncols=True) as designs:
            for _ in cluster.finished(resolving):
                designs.update(1)
        for index, future in enumerate(resolving):
            found, trouble = _result(future)
            if trouble is not None:
                results[index] = (None, "failed", trouble)
                continue
            design_id, stored = found["design_id"], found["stored"]
            if found.get("corruption") and found["corruption"] not in corrupted:
                corrupted.append(found["corruption"])
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
        del resolving
        pending = {design_id: indices[0] for design_id, indices in owners.items() if indices[0] not in results}
        futures = {client.submit(characterize_config, configs[index], runs, pdk, yosys, retry_failed, unit,
                                 key=f"characterize-{design_id}-{token}"): design_id
                   for design_id, index in pending.items()}
        _collect(cluster, futures, pending, results, progress=progress, label=label)
        for indices in owners.values():
            for index in indices[1:]:
                results[index] = results[indices[0]]
    finally:
        cluster.close()

    points = [PointResult(config, *results[index]) for index, config in enumerate(configs)]
    firsts = {point.design_id or id(point): point.status for point in points}
    counts = {status: sum(1 for value in firsts.values() if value == status) for status in ("new", "cached", "failed")}
    return SweepSummary(**counts, points=points, elapsed_s=time.perf_counter() - started, corrupted=corrupted)


def run_tasks(function: Callable[[Any], Any], items: Iterable, *, jobs: int | None = None,
              worker_timeout_s: float = WORKER_TIMEOUT_S) -> Iterable[tuple[int, Any, dict[str, Any] | None]]:
    """``function(item)`` for every item on an embedded Dask cluster of ``jobs`` worker processes (default:
    one per CPU core), as they finish: ``(index, value, None)``, or ``(index, None, failure)`` where the task
    raised or its worker died (environment errors, :class:`~quidam.errors.ToolError` and
    :class:`~quidam.errors.PDKError`, propagate). The block characterization's parallel loop."""
    if jobs is not None and jobs < 1:
        raise SweepError(f"jobs: must be at least 1, not {jobs}")
    cluster = _Cluster(jobs, None, worker_timeout_s)
    futures: dict = {}
    try:
        token = uuid.uuid4().hex[:8]
        futures = {cluster.client.submit(function, item, key=f"task-{index}-{token}"): index
                   for index, item in enumerate(items)}
        for future in cluster.finished(futures):
            value, failure = _result(future)
            yield futures[future], value, failure
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        cluster.close()


def _collect(cluster: _Cluster, futures: dict, pending: dict[str, int], results: dict, *, progress: bool,
             label: str) -> None:
    """Wait for the characterizations, updating the progress bar; fail fast on environment errors."""
    cached = sum(1 for _, status, _ in results.values() if status == "cached")
    counts = {"new": 0, "failed": 0}
    bar = tqdm(total=len(futures), desc=label, unit="point", disable=not progress or not futures,
               dynamic_ncols=True, smoothing=0.1)
    bar.set_postfix(cached=cached, refresh=False)
    try:
        for future in cluster.finished(futures):
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
