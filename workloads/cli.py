"""``quidam workloads``: list the networks and print their layer tables."""

import json

import click

from .networks import NETWORKS, get_network

__all__ = ["workloads"]

_COLUMNS = ("index", "name", "C", "M", "H", "W", "R", "S", "stride", "padding", "E", "F", "MACs")


@click.group()
def workloads():
    """DNN layer tables (VGG-16, ResNet-20/56/34/50; ResNet-8, VGG-8 for digits) built in from the papers."""


@workloads.command("list")
def list_networks():
    """List the networks, their datasets, layer counts and MACs per inference."""
    click.echo(f"{'network':<10} {'dataset':<9} {'layers':>6} {'MACs':>15} {'weights':>12}")
    for name, (_, datasets, _) in NETWORKS.items():
        for dataset in datasets:
            net = get_network(name, dataset)
            click.echo(f"{name:<10} {dataset:<9} {len(net.layers):>6} {net.macs:>15,} {net.weights:>12,}")


@workloads.command("show")
@click.argument("net")
@click.option("--dataset", help="cifar10, cifar100, imagenet or digits (default: the network's own).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def show(net, dataset, as_json):
    """Print the layer table of NET: index, name, C, M, H, W, R, S, stride, padding, E, F, MACs."""
    network = get_network(net, dataset)
    rows = [
        (i, layer.name, layer.C, layer.M, layer.H, layer.W, layer.R, layer.S, layer.stride, layer.padding,
         layer.E, layer.F, layer.macs)
        for i, layer in enumerate(network.layers)
    ]
    if as_json:
        click.echo(json.dumps({"network": network.name, "dataset": network.dataset, "macs": network.macs,
                               "layers": [dict(zip(_COLUMNS, row)) for row in rows]}, indent=1))
        return
    widths = [max(len(str(c)), *(len(f"{r[i]:,}" if i == 12 else str(r[i])) for r in rows))
              for i, c in enumerate(_COLUMNS)]
    click.echo(f"{network.name} on {network.dataset}: {len(rows)} layers, {network.macs:,} MACs")
    click.echo("  ".join(c.rjust(w) if i != 1 else c.ljust(w) for i, (c, w) in enumerate(zip(_COLUMNS, widths))))
    for row in rows:
        cells = [f"{v:,}" if i == 12 else str(v) for i, v in enumerate(row)]
        click.echo("  ".join(c.rjust(w) if i != 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))))
