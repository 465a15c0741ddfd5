"""``quidam explore``: evaluate a design space on a workload and write the results (:mod:`~quidam.dse.outputs`)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from quidam.characterize.dataset import DATA_DIR
from quidam.config import PE_TYPES, pe_format_fields
from quidam.errors import ConfigError
from quidam.inputs import FiniteFloat, output_dir
from quidam.models.card import CARDS_DIR
from quidam.workloads.networks import NETWORKS

from .explore import DRAM_PJ_PER_BIT, MODELS, explore
from .outputs import comparison, write_outputs
from .report import write_html_report

__all__ = ["explore_command", "report_command"]


def _pe_types(value: str) -> tuple[str, ...] | None:
    if value == "all":
        return None
    types = tuple(part.strip() for part in value.split(",") if part.strip())
    for pe_type in types:
        try:
            pe_format_fields(pe_type)
        except ConfigError as error:
            raise ConfigError(f"--pe: {error}; give all or a comma-separated list") from None
    if not types:
        raise ConfigError(f"--pe: give all or a comma-separated list of {', '.join(PE_TYPES)}")
    return types


@click.command("explore")
@click.option("--workload", required=True, metavar="NET", help=f"Network: {', '.join(NETWORKS)}.")
@click.option("--dataset", metavar="DATASET", help="cifar10, cifar100 or imagenet (default: the network's own).")
@click.option("--pe", "pe", default="all", show_default=True, metavar="all|TYPE,...",
              help="PE types to explore (default: the space's, those with characterized blocks or a model card).")
@click.option("--space", default="default", show_default=True, metavar="default|FILE.yaml",
              help="Design space (see quidam.dse.space).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: reports/explore/<workload>-<dataset>).")
@click.option("--models", "models_dir", type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder of the model cards, with --model cards (default: {CARDS_DIR}).")
@click.option("--dram-pj-per-bit", type=FiniteFloat(min=0, max=1e6), default=DRAM_PJ_PER_BIT, show_default=True,
              help="Off-chip access energy per bit.")
@click.option("--model", "model", type=click.Choice(MODELS), default="composed", show_default=True,
              help="Where area, fmax, leakage and energies come from: the characterized blocks composed "
              "(data/characterization/blocks, models/composed.py), or the PE types' model cards (fitted on "
              "2 x 2 to 3 x 3 accelerators).")
def explore_command(workload, dataset, pe, space, out_dir, models_dir, dram_pj_per_bit, model):
    """Performance per area and energy of every design point of a space on a workload; Pareto set and plots.

    Exit status 1 when no point of the space is valid (the files are written
    all the same, with every point's failure), 2 on bad input.
    """
    if models_dir is not None and model != "cards":
        raise ConfigError(f"--models {models_dir} names a folder of model cards: add --model cards (the "
                          f"default, --model {model}, reads the characterized blocks)")
    start = time.perf_counter()
    result = explore(workload, dataset, pe_types=_pe_types(pe), space=space, models_dir=models_dir or CARDS_DIR,
                     dram_pj_per_bit=dram_pj_per_bit, model=model)
    network = result.network
    out_dir = output_dir(out_dir or Path("reports/explore") / f"{network.name}-{network.dataset}", "output folder")
    files = write_outputs(result, out_dir)
    elapsed = time.perf_counter() - start
    points = len(result.columns["pe_type"])
    click.echo(f"{network.name} on {network.dataset}: {points} design points x {len(network.layers)} layers "
               f"in {elapsed:.1f} s; {int(result.valid.sum())} valid, {int(result.columns['pareto'].sum())} "
               f"Pareto-optimal, {int(result.columns['extrapolated'].sum())} outside the models' fitted ranges")
    for reason, count in result.failures.items():
        click.echo(f"  invalid: {count} points: {reason}")
    if result.missing_cards:
        click.echo(f"  left out (no {'model card' if model == 'cards' else 'characterized blocks'}): "
                   f"{', '.join(result.missing_cards)}")
    for row in comparison(result)["ratios"]:
        if row["perf_per_area"] is not None:
            click.echo(f"  best {row['pe_type']} vs best {row['reference']}: perf/area {row['perf_per_area']:.2f}x "
                       f"(QADAM {row['qadam_perf_per_area']}x), energy {row['energy_reduction']:.2f}x less "
                       f"(QADAM {row['qadam_energy_reduction']}x)")
    click.echo(f"wrote {', '.join(str(path) for path in files.values())}")
    if not result.valid.any():
        click.echo("error: no design point of the space is valid (reasons above)", err=True)
        raise click.exceptions.Exit(1)


@click.command("report")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("reports/quidam.html"), show_default=True, help="The HTML page to write.")
@click.option("--explore", "explore_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/explore"), show_default=True,
              help="Folder of the exploration results (one subfolder per workload, from quidam explore).")
@click.option("--models", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=CARDS_DIR,
              show_default=True, help="Folder of the model cards.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DATA_DIR, show_default=True,
              help="Folder of the datasets (held-out points <pe>-heldout.csv).")
@click.option("--model-report", "model_report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/models"), show_default=True,
              help="Folder of quidam fit's accuracy report (accuracy.png).")
@click.option("--coexplore", "coexplore_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/coexplore"), show_default=True,
              help="Folder of the co-exploration results (one subfolder per network, from quidam coexplore).")
def report_command(out_file, explore_dir, models_dir, data_dir, model_report_dir, coexplore_dir):
    """One self-contained HTML page: model accuracy, exploration results and the comparison with QADAM.

    Reads what quidam fit, quidam explore and quidam coexplore wrote; exit status 2 when there
    is no exploration result to report.

    \b
    Example: make explore && quidam report --out reports/quidam.html
    """
    output_dir(out_file.parent, "output folder")
    path = write_html_report(out_file, models_dir=models_dir, data_dir=data_dir, model_report_dir=model_report_dir,
                             explore_dir=explore_dir, coexplore_dir=coexplore_dir)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
