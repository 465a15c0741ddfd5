"""``quidam explore``: evaluate a design space on a workload and write the results (:mod:`~quidam.dse.outputs`)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from quidam.config import PE_TYPES
from quidam.errors import ConfigError
from quidam.workloads.networks import NETWORKS

from .explore import DRAM_PJ_PER_BIT, explore
from .outputs import comparison, write_outputs

__all__ = ["explore_command"]

_MODELS = Path("models/cards")


def _pe_types(value: str) -> tuple[str, ...] | None:
    if value == "all":
        return None
    types = tuple(part.strip() for part in value.split(",") if part.strip())
    for pe_type in types:
        if pe_type not in PE_TYPES:
            raise ConfigError(f"--pe: unknown PE type {pe_type!r}; allowed: all or a comma-separated list of "
                              f"{', '.join(PE_TYPES)}")
    if not types:
        raise ConfigError(f"--pe: give all or a comma-separated list of {', '.join(PE_TYPES)}")
    return types


@click.command("explore")
@click.option("--workload", required=True, metavar="NET", help=f"Network: {', '.join(NETWORKS)}.")
@click.option("--dataset", metavar="DATASET", help="cifar10, cifar100 or imagenet (default: the network's own).")
@click.option("--pe", "pe", default="all", show_default=True, metavar="all|TYPE,...",
              help="PE types to explore (default: the space's, those with a model card).")
@click.option("--space", default="default", show_default=True, metavar="default|FILE.yaml",
              help="Design space (see quidam.dse.space).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: reports/explore/<workload>-<dataset>).")
@click.option("--models", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=_MODELS,
              show_default=True, help="Folder of the model cards.")
@click.option("--dram-pj-per-bit", type=click.FloatRange(min=0), default=DRAM_PJ_PER_BIT, show_default=True,
              help="Off-chip access energy per bit.")
def explore_command(workload, dataset, pe, space, out_dir, models_dir, dram_pj_per_bit):
    """Performance per area and energy of every design point of a space on a workload; Pareto set and plots."""
    start = time.perf_counter()
    result = explore(workload, dataset, pe_types=_pe_types(pe), space=space, models_dir=models_dir,
                     dram_pj_per_bit=dram_pj_per_bit)
    network = result.network
    out_dir = out_dir or Path("reports/explore") / f"{network.name}-{network.dataset}"
    files = write_outputs(result, out_dir)
    elapsed = time.perf_counter() - start
    points = len(result.columns["pe_type"])
    click.echo(f"{network.name} on {network.dataset}: {points} design points x {len(network.layers)} layers "
               f"in {elapsed:.1f} s; {int(result.valid.sum())} valid, {int(result.columns['pareto'].sum())} "
               f"Pareto-optimal, {int(result.columns['extrapolated'].sum())} outside the models' fitted ranges")
    for reason, count in result.failures.items():
        click.echo(f"  invalid: {count} points: {reason}")
    if result.missing_cards:
        click.echo(f"  left out (no model card): {', '.join(result.missing_cards)}")
    for row in comparison(result)["ratios"]:
        if row["perf_per_area"] is not None:
            click.echo(f"  best {row['pe_type']} vs best {row['reference']}: perf/area {row['perf_per_area']:.2f}x "
                       f"(QADAM {row['qadam_perf_per_area']}x), energy {row['energy_reduction']:.2f}x less "
                       f"(QADAM {row['qadam_energy_reduction']}x)")
    click.echo(f"wrote {', '.join(str(path) for path in files.values())}")
