"""``quidam accuracy`` (train every PE format, resumable) and ``quidam coexplore`` (accuracy vs hardware)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click

from quidam.errors import ConfigError
from quidam.inputs import output_dir

from .data import DATASET_NAMES

__all__ = ["accuracy_command", "coexplore_command", "tensors_command"]

_RESULTS = Path("reports/accuracy")


def _network(name: str, dataset: str):
    from quidam.workloads.networks import get_network

    if dataset not in DATASET_NAMES:
        raise ConfigError(f"--dataset: unknown dataset {dataset!r}; allowed: {', '.join(DATASET_NAMES)}")
    try:
        return get_network(name, dataset)
    except ConfigError as error:
        raise ConfigError(f"--network: {error}") from None


@click.command("accuracy")
@click.option("--network", required=True, metavar="NET", help="resnet8, vgg8 (digits); resnet20, resnet56, vgg16, "
              "resnet8, vgg8 (CIFAR).")
@click.option("--dataset", default="digits", show_default=True, metavar="DATASET",
              help="digits (built in), cifar10 or cifar100 (from --data-dir).")
@click.option("--pe", "pe", default="all", show_default=True, metavar="all|FORMAT,...",
              help="Formats: fp32, int16, lightpe1, lightpe2, int<A>x<W> (all: the seed types, int8x8, int4x4, "
                   "int2x2).")
@click.option("--seeds", type=click.IntRange(1, 100), default=5, show_default=True, help="Seeds 0..N-1 per format.")
@click.option("--epochs", type=click.IntRange(1, 10_000), help="Epochs (default: the recipe's for the dataset).")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Folder holding cifar-10-batches-py or "
              "cifar-100-python (or that folder itself).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=_RESULTS,
              show_default=True, help="Folder of the results file and the weights.")
@click.option("--check-weights", is_flag=True, help="Reload the weights of every kept run, check their SHA-256 and "
              "evaluate them again (exit 1 when a result changed).")
def accuracy_command(network, dataset, pe, seeds, epochs, data_dir, out_dir, check_weights):
    """Quantization-aware training of a network in every PE format and seed; top-1 through the golden convolution.

    Resumable: finished (format, seed) runs in OUT/<network>-<dataset>.json are
    kept, the others trained; each run is written as soon as it finishes.
    Exit status 1 when a format's golden-path predictions differ from its
    fake-quant model's on any test image (integer formats), 2 on bad input.
    """
    from .data import load_data
    from .quantizers import parse_labels
    from .runs import code_digest, run_accuracy, summarize
    from .train import RECIPES

    net = _network(network, dataset)
    labels = parse_labels(pe)
    data = load_data(dataset, data_dir)
    out_dir = output_dir(out_dir, "output folder")
    recipe = RECIPES[dataset] if epochs is None else dataclasses.replace(RECIPES[dataset], epochs=epochs)
    start = time.perf_counter()
    try:
        results = run_accuracy(net, data, labels, range(seeds), recipe, out_dir, check_weights=check_weights,
                               progress=True, echo=click.echo)
    except RuntimeError as error:
        click.echo(f"error: {error}", err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(f"{net.name} on {dataset}: {len(labels)} formats x {seeds} seeds in "
               f"{time.perf_counter() - start:.1f} s; {len(data.train_y)} train, {len(data.test_y)} test images")
    asked = {label: {str(seed): results["runs"][label][str(seed)] for seed in range(seeds)} for label in labels}
    for label, scores in summarize(asked).items():
        click.echo(f"  {label:<9} top-1 {100 * scores['top1_mean']:6.2f} % +- {100 * scores['top1_std']:.2f} "
                   f"over {scores['seeds']} seeds")
    code = code_digest()
    mismatched = [f"{label} seed {seed}" for label, by_seed in asked.items() for seed, run in by_seed.items()
                  if label != "fp32" and run["agree"] != run["images"]]
    stale = sum(run["code_digest"] != code for by_seed in results["runs"].values() for run in by_seed.values())
    if stale:
        click.echo(f"  note: {stale} kept runs were trained by code of another digest than this checkout's "
                   f"(kept all the same; delete the results file to retrain them)")
    click.echo(f"wrote {out_dir / f'{net.name}-{dataset}.json'}")
    if mismatched:
        click.echo(f"error: golden-path predictions differ from the fake-quant model's: {', '.join(mismatched)}",
                   err=True)
        raise click.exceptions.Exit(1)


@click.command("coexplore")
@click.option("--network", required=True, metavar="NET", help="A network trained by quidam accuracy.")
@click.option("--dataset", default="digits", show_default=True, metavar="DATASET", help="digits, cifar10 or cifar100.")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=_RESULTS,
              show_default=True, help="Folder of quidam accuracy's results.")
@click.option("--space", default="default", show_default=True, metavar="default|FILE.yaml",
              help="Design space (see quidam.dse.space).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: reports/coexplore/<network>-<dataset>).")
def coexplore_command(network, dataset, results_dir, space, out_dir):
    """Accuracy vs normalized perf/area and vs normalized energy: Pareto fronts, plot and table.

    Joins quidam accuracy's results with the exploration of the same workload
    (the committed model cards); writes coexplore.json, coexplore.md and
    coexplore.png.
    """
    from .coexplore import write_coexplore

    net = _network(network, dataset)
    out_dir = output_dir(out_dir or Path("reports/coexplore") / f"{net.name}-{dataset}", "output folder")
    table, files = write_coexplore(net.name, dataset, results_dir=results_dir, out_dir=out_dir, space=space)
    click.echo(f"{net.name} on {dataset}: {table['points_with_accuracy']} of {table['points']} design points "
               f"have an accuracy; fronts of {len(table['fronts']['perf_per_area'])} (perf/area) and "
               f"{len(table['fronts']['energy'])} (energy) points")
    for row in table["formats"]:
        best = row["best_perf"]
        where = (f"best perf/area {best['norm_perf_per_area']:.2f}, least energy "
                 f"{row['best_energy']['norm_energy']:.2f}" if best else "no design point")
        click.echo(f"  {row['label']:<9} top-1 {100 * row['top1_mean']:6.2f} % +- {100 * row['top1_std']:.2f}; {where}")
    click.echo(f"wrote {', '.join(str(path) for path in files.values())}")


@click.command("accuracy-tensors")
@click.option("--network", required=True, metavar="NET", help="A network trained by quidam accuracy.")
@click.option("--dataset", default="digits", show_default=True, metavar="DATASET", help="digits, cifar10 or cifar100.")
@click.option("--pe", "label", required=True, metavar="FORMAT", help="The trained format (fp32, lightpe1, int8x8, ...).")
@click.option("--seed", type=click.IntRange(0, 100), default=0, show_default=True, help="The trained seed.")
@click.option("--layer", "index", type=click.IntRange(0), required=True, help="Layer index (quidam workloads show).")
@click.option("--image", type=click.IntRange(0), default=0, show_default=True, help="Test image index.")
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path), default=_RESULTS,
              show_default=True, help="Folder of quidam accuracy's results and weights.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="CIFAR folder (as for quidam accuracy).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .npz to write (the input of quidam simulate --tensors).")
def tensors_command(network, dataset, label, seed, index, image, results_dir, data_dir, out_file):
    """Write one trained layer's real operands (a test image through the layers before it) for quidam simulate.

    \b
    Example: quidam accuracy-tensors --network resnet8 --pe lightpe2 --layer 1 --out l1.npz
             quidam simulate --config LIGHTPE2.yaml --layer resnet8:1 --dataset digits --tensors l1.npz
    """
    from quidam.inputs import InputError

    from .data import load_data
    from .quantizers import pe_config
    from .runs import read_results, results_path
    from .tensors import write_layer_tensors
    from .train import load_weights

    net = _network(network, dataset)
    pe_config(label)
    if index >= len(net.layers):
        raise ConfigError(f"--layer: {net.name} has layers 0..{len(net.layers) - 1}, not {index}")
    path = results_path(results_dir, net)
    run = read_results(path, net)["runs"].get(label, {}).get(str(seed))
    if run is None:
        raise InputError(f"accuracy results {path}: no run of {label} seed {seed}; train it with quidam accuracy")
    model = load_weights(path.parent / run["weights"], net, label)
    data = load_data(dataset, data_dir)
    if image >= len(data.test_y):
        raise ConfigError(f"--image: the test split has images 0..{len(data.test_y) - 1}, not {image}")
    arrays = write_layer_tensors(model, data.test_x[image], index, image, out_file)
    layer = net.layers[index]
    click.echo(f"{net.name} layer {index} ({layer.name}) in {label}, seed {seed}, test image {image}: ifmap "
               f"{arrays['ifmap_codes'].shape}, weights {arrays['weight_codes'].shape}, scales "
               f"{float(arrays['activation_scale']):.6g} x {float(arrays['weight_scale']):.6g}")
    click.echo(f"wrote {out_file}")
