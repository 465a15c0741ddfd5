"""The characterization commands.

* ``quidam characterize --pe TYPE [--sweep default|full|FILE.yaml] ...``: a
  sweep of design points on Dask (:mod:`~quidam.characterize.sweep`), then the
  dataset ``<data>/<pe>.csv`` (:mod:`~quidam.characterize.dataset`).
* ``quidam characterize-mac --pe TYPE``: the MAC unit of one PE type, one point.
* ``quidam characterize-blocks [--pe TYPE ...]``: the block points of
  :mod:`~quidam.characterize.blocks`, one after the other, then the block
  datasets ``<data>/blocks/<kind>.csv``.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import click

from quidam.config import PE_TYPES, SEED_PE_TYPES, parse_config, pe_format_fields
from quidam.errors import ConfigError
from quidam.inputs import FiniteFloat, output_dir

from .block_dataset import BLOCK_DATA_DIR, block_dataset_path, block_row, merge_block_dataset
from .blocks import KINDS, characterize_block, plan
from .dataset import DATA_DIR, dataset_path, read_dataset, update_dataset
from .flow import characterize_point, check_environment, point_run_dir
from .mac import MAX_OPS, mac_design
from .points import BUILTIN_SWEEPS, UNITS, load_sweep
from .sweep import WORKER_TIMEOUT_S, run_sweep, run_tasks
from .tools import YOSYS_ENV

__all__ = ["characterize", "characterize_blocks", "characterize_mac", "SUMMARY"]

_BUILTINS = "|".join(name for name in BUILTIN_SWEEPS if "@" not in name)

#: Metrics printed by default: key, label, unit, scale.
SUMMARY = (
    ("synth__area__stdcell_um2", "area", "um^2", 1.0),
    ("synth__area__sequential_um2", "  of which sequential", "um^2", 1.0),
    ("synth__cells__count", "cells", "", 1),
    ("sta__timing__critical_path_ns", "critical path", "ns", 1.0),
    ("sta__timing__slack_ns", "slack", "ns", 1.0),
    ("sta__timing__fmax_mhz", "fmax", "MHz", 1.0),
    ("power__total__dynamic_w", "dynamic power", "mW", 1e3),
    ("power__total__leakage_w", "leakage power", "uW", 1e6),
    ("power__mac__energy_per_op_j", "energy per MAC", "pJ", 1e12),
)


@click.command("characterize-mac")
@click.option("--pe", "pe_type", metavar="TYPE", required=True, help=f"PE type: {', '.join(PE_TYPES)}.")
@click.option("--act-bits", type=int, help="Activation width, pe type int only (2..16).")
@click.option("--wt-bits", type=int, help="Weight width, pe type int only (2..16).")
@click.option("--psum-bits", type=int, help="Accumulator width (default: the PE type's).")
@click.option("--clock-mhz", type=FiniteFloat(), help="Target clock in MHz (default: the configuration's, 200).")
@click.option("--ops", type=click.IntRange(2, MAX_OPS), default=2000, show_default=True,
              help=f"MAC operations simulated for the switching activity (2..{MAX_OPS:,}).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random operands (0..2^32-1).")
@click.option("--pdk-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Nangate45 directory (default: $QUIDAM_PDK_DIR, else ../shared/pdk/nangate45).")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Root of the run folders.")
@click.option("--yosys", metavar="YOSYS", help=f"native (default), yowasp or a Yosys command; also ${YOSYS_ENV}.")
@click.option("--retry", is_flag=True, help="Run a point again whose stored result is a failure.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole metrics.json instead of the summary.")
def characterize_mac(pe_type, act_bits, wt_bits, psum_bits, clock_mhz, ops, seed, pdk_dir, runs_root, yosys,
                     retry, as_json):
    """Synthesize the MAC unit of one PE type to Nangate45, time it and measure its power.

    Results go to RUNS/nangate45/<design id>/ (metrics.json, stage folders); a
    point already done is read back, not recomputed.

    \b
    Example: quidam characterize-mac --pe lightpe1 --clock-mhz 500
    """
    options = {"pe_type": pe_type, "act_bits": act_bits, "wt_bits": wt_bits, "psum_bits": psum_bits,
               "clock_mhz": clock_mhz}
    config = parse_config({name: value for name, value in options.items() if value is not None})
    runs_root, pdk_dir = check_environment(runs_root, pdk_dir, yosys)
    design = mac_design(config, ops=ops, seed=seed)
    run = point_run_dir(design, pdk_dir=pdk_dir, runs_root=runs_root, yosys=yosys)
    if run.cached() is None and run.corruption:
        click.echo(f"warning: {run.corruption}; computing the point again", err=True)
    metrics = characterize_point(design, pdk_dir=pdk_dir, runs_root=runs_root, yosys=yosys, retry=retry,
                                 strict=True)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    click.echo(f"{config.pe_type} MAC {config.act_bits}x{config.wt_bits} -> {config.psum_bits}-bit psum "
               f"at {config.clock_mhz:g} MHz: {metrics['run_dir']}")
    for key, label, unit, scale in SUMMARY:
        value = metrics[key] * scale
        text = f"{value:d}" if isinstance(value, int) else f"{value:.4g}"
        click.echo(f"  {label:<22} {text:>10} {unit}")


@click.command("characterize")
@click.option("--pe", "pe_type", metavar="TYPE", required=True, help=f"PE type: {', '.join(PE_TYPES)}.")
@click.option("--sweep", "sweep_name", metavar=f"{_BUILTINS}|FILE.yaml", default="default", show_default=True,
              help="A built-in sweep or a YAML sweep file (base: fields, grid: field -> [values]).")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Worker processes of the embedded Dask cluster (default: one per CPU core).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Use the Dask scheduler at ADDRESS (tcp://host:8786) instead of an embedded cluster.")
@click.option("--retry-failed", is_flag=True, help="Run points again whose stored result is a failure.")
@click.option("--unit", type=click.Choice(UNITS), default="accelerator", show_default=True,
              help="Characterize each point's whole accelerator, or only its MAC unit (dataset <pe>-mac.csv).")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Root of the run folders.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DATA_DIR, show_default=True, help="Folder of the datasets (<pe>.csv).")
@click.option("--pdk-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Nangate45 directory (default: $QUIDAM_PDK_DIR, else ../shared/pdk/nangate45).")
@click.option("--yosys", metavar="YOSYS", help=f"native (default), yowasp or a Yosys command; also ${YOSYS_ENV}.")
@click.option("--worker-timeout", "worker_timeout_s", type=FiniteFloat(min=1, max=86400), metavar="SECONDS",
              default=WORKER_TIMEOUT_S, show_default=True,
              help="End the sweep when the cluster has had no worker for this long (workers lost or never started).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def characterize(pe_type, sweep_name, jobs, scheduler, retry_failed, unit, runs_root, data_dir, pdk_dir, yosys,
                 worker_timeout_s, no_progress):
    """Characterize a sweep of design points of one PE type in parallel and write its dataset.

    Each point goes to RUNS/nangate45/<design id>/ (a point already done is read
    back, a killed sweep resumes where it stopped); the finished points are
    merged into DATA/<pe>.csv (DATA/<pe>-<dataset>.csv for a sweep that
    names a dataset, as heldout does). Prints a summary (new, cached, failed points);
    exit status 1 when a point failed, 2 on bad input or a broken environment.

    \b
    Example: quidam characterize --pe lightpe1 --sweep default --jobs 2
    """
    sweep = load_sweep(sweep_name, pe_type)
    suffixes = [*([unit] if unit != "accelerator" else []), *([sweep.dataset] if sweep.dataset else [])]
    path = dataset_path(output_dir(data_dir, "dataset folder"), "-".join([pe_type, *suffixes]))
    read_dataset(path)  # an existing dataset that is not one is refused now, not after the sweep

    def announce():
        skipped = f", {len(sweep.skipped)} invalid combinations skipped" if sweep.skipped else ""
        click.echo(f"sweep {sweep.name}: {len(sweep)} configurations of pe_type {pe_type}{skipped}")
        for point, reason in sweep.skipped[:3]:
            click.echo(f"  skipped {point}: {reason}")
        if len(sweep.skipped) > 3:
            click.echo(f"  ... and {len(sweep.skipped) - 3} more")

    summary = run_sweep(sweep, jobs=jobs, scheduler=scheduler, retry_failed=retry_failed, runs_root=runs_root,
                        pdk_dir=pdk_dir, yosys=yosys, progress=not no_progress, label=f"characterize {pe_type}",
                        unit=unit, worker_timeout_s=worker_timeout_s, on_ready=announce)
    finished = [(point.config, point.record) for point in summary.points if point.status != "failed"]
    click.echo(summary.format())
    if finished:
        rows = update_dataset(finished, path)
        click.echo(f"dataset {path}: {rows} rows ({len(finished)} from this sweep)")
    else:
        click.echo("no finished point: dataset not written")
    if summary.failed:
        raise click.exceptions.Exit(1)


@click.command("characterize-blocks")
@click.option("--pe", "pe_types", metavar="TYPE", multiple=True,
              help=f"PE type (repeatable; default: {', '.join(SEED_PE_TYPES)}). For int: TYPE:ACTxWT, e.g. int:4x8.")
@click.option("--sparse", is_flag=True,
              help="Record the base depths and each depth varied alone (7 PEs per type), not every combination.")
@click.option("--kind", "kinds", type=click.Choice(list(KINDS)), multiple=True,
              help="Only the blocks of this kind (repeatable; default: every kind), e.g. after a change to the PE.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Root of the run folders.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=BLOCK_DATA_DIR, show_default=True, help="Folder of the block datasets (<kind>.csv).")
@click.option("--pdk-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Nangate45 directory (default: $QUIDAM_PDK_DIR, else ../shared/pdk/nangate45).")
@click.option("--yosys", metavar="YOSYS", help=f"native (default), yowasp or a Yosys command; also ${YOSYS_ENV}.")
@click.option("--retry-failed", is_flag=True, help="Run block points again whose stored result is a failure.")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Worker processes of an embedded Dask cluster (default: one per CPU core; 1: in this process).")
def characterize_blocks(pe_types, sparse, kinds, runs_root, data_dir, pdk_dir, yosys, retry_failed, jobs):
    """Characterize the accelerator's blocks (PE, MAC, scratchpads, GLB, controller) and write their datasets.

    Each block is cut out of the accelerator's Verilog, synthesized alone and
    replayed with the port activity recorded in the RTL simulation of a real
    layer (full, idle and write-only replays); each point goes to
    RUNS/nangate45/<design id>/ and a point already done is read back. Merges
    the rows into DATA/<kind>.csv (the rows of other PE types and block keys
    are kept). Exit status 1 when a point failed, 2 on bad input.

    \b
    Example: quidam characterize-blocks --pe lightpe1 --pe int:4x4
    """
    configs = [_pe_fields(text) for text in (pe_types or SEED_PE_TYPES)]
    runs_root, pdk_dir = check_environment(runs_root, pdk_dir, yosys)
    data_dir = output_dir(data_dir, "block dataset folder")
    points = plan(configs, dense=not sparse, kinds=kinds or None)
    click.echo(f"{len(points)} block points of {', '.join(pe_types or SEED_PE_TYPES)}")
    start, rows, failed, computed, done = time.perf_counter(), {}, [], 0, 0
    task = functools.partial(characterize_block, runs_root=runs_root, pdk_dir=pdk_dir, yosys=yosys,
                             retry=retry_failed)
    if jobs == 1:
        results = ((index, task(point), None) for index, point in enumerate(points))
    else:   # the points of one recording share it: the first records it, the others wait for its lock
        results = run_tasks(task, points, jobs=jobs)
    for index, value, trouble in results:
        point, done = points[index], done + 1
        metrics, fresh = value if trouble is None else (trouble, False)
        computed += fresh
        if metrics["status"] != "ok":
            failed.append(f"{point.kind} {point.params}: {metrics['stage']}: {metrics['reason']}")
            click.echo(f"[{done}/{len(points)}] {point.kind} FAILED: {failed[-1]}", err=True)
            continue
        rows.setdefault(point.kind, []).append((index, block_row(point, metrics)))
        if fresh:
            click.echo(f"[{done}/{len(points)}] {point.kind} {point.key} at {time.perf_counter() - start:.0f} s")
    for kind, kind_rows in rows.items():
        path = block_dataset_path(data_dir, kind)
        click.echo(f"dataset {path}: {merge_block_dataset([row for _, row in sorted(kind_rows)], path)} rows")
    click.echo(f"{len(points)} block points ({computed} computed, {len(failed)} failed) in "
               f"{time.perf_counter() - start:.0f} s")
    if failed:
        raise click.exceptions.Exit(1)


def _pe_fields(text: str) -> dict:
    """``lightpe1`` or ``int:4x8`` as configuration fields (validated)."""
    try:
        return pe_format_fields(text)
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--pe") from None
