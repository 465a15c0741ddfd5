"""Per-layer cycles, utilization, off-chip words and stall cycles of the dataflow on given configurations.

Usage: python bench/dataflow_cycles.py [--out bench/results/dataflow-cycles.json] [--label NAME]
       python bench/dataflow_cycles.py --compare BEFORE AFTER [--markdown docs/dataflow-cycles.md]

For ResNet-20 / CIFAR-10, VGG-16 / ImageNet and ResNet-50 / ImageNet on ``configs/eyeriss.yaml``, and the six
exploration workloads on Eyeriss and on a 4 x 4 array with a 32 KiB GLB, every layer's cycles and access counts
come from the analytical model, which is exact to the RTL (``tests/test_accelerator.py``), evaluated through
:func:`quidam.mapping.search.layer_performance` on one design point (equal to ``evaluate(map_layer(...))``,
``tests/test_dse.py``, and fast on VGG-16's largest layers). Utilization is ``macs / (cycles * rows * cols)``;
stall cycles are the cycles beyond a fully busy array, ``cycles - ceil(macs / (rows * cols))``. The record is
labelled (``--label``, default the git commit) so runs of two commits can be compared layer by layer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from math import ceil
from pathlib import Path

from quidam.config import load_config, parse_config
from quidam.mapping.search import layer_performance
from quidam.dse.points import point_table
from quidam.files import write_json, write_text
from quidam.workloads.networks import get_network

WORKLOADS = (("vgg16", "cifar10"), ("resnet20", "cifar10"), ("resnet56", "cifar100"), ("vgg16", "imagenet"),
             ("resnet34", "imagenet"), ("resnet50", "imagenet"))
SMALL = {"rows": 4, "cols": 4, "ifmap_spad_depth": 12, "filter_spad_depth": 224, "psum_spad_depth": 24,
         "glb_kib": 32, "glb_banks": 8}


def _layers(config, name: str, dataset: str) -> list[dict]:
    points = point_table([config])
    rows = []
    for index, layer in enumerate(get_network(name, dataset).layers):
        perf = layer_performance(layer, points)
        if perf.failure[0]:
            rows.append({"index": index, "layer": layer.name, "cycles": None})
            continue
        cycles, macs = int(perf.cycles[0]), int(perf.accesses["macs"][0])
        pes = config.rows * config.cols
        rows.append({"index": index, "layer": layer.name, "cycles": cycles, "macs": macs,
                     "utilization": round(macs / (cycles * pes), 4),
                     "offchip_words": int(perf.accesses["dram.read"][0] + perf.accesses["dram.write"][0]),
                     "stall_cycles": cycles - ceil(macs / pes)})
    return rows


#: The workloads whose layers the comparison lists one by one.
TABLES = ("eyeriss/resnet20-cifar10", "eyeriss/vgg16-imagenet", "eyeriss/resnet50-imagenet")


def _markdown(before: dict, after: dict) -> str:
    """Per-workload totals and per-layer tables of two records, before -> after."""
    lines = [f"# Dataflow cycles: {before['label']} -> {after['label']}", "",
             "Written by `python bench/dataflow_cycles.py --compare`; the model is exact to the RTL.", "",
             "| configuration / workload | cycles | utilization | speed-up |", "|---|---|---|---|"]
    for name, old in before["workloads"].items():
        new = after["workloads"][name]
        lines.append(f"| {name} | {old['cycles']:,} -> {new['cycles']:,} | {old['utilization']:.1%} -> "
                     f"{new['utilization']:.1%} | {old['cycles'] / new['cycles']:.2f}x |")
    for name in TABLES:
        lines += ["", f"## {name}", "", "| # | layer | cycles | utilization | off-chip words | stall cycles |",
                  "|---|---|---|---|---|---|"]
        for old, new in zip(before["workloads"][name]["layers"], after["workloads"][name]["layers"]):
            lines.append(f"| {old['index']} | {old['layer']} | {old['cycles']:,} -> {new['cycles']:,} | "
                         f"{old['utilization']:.1%} -> {new['utilization']:.1%} | {old['offchip_words']:,} -> "
                         f"{new['offchip_words']:,} | {old['stall_cycles']:,} -> {new['stall_cycles']:,} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/dataflow-cycles.json")
    parser.add_argument("--label", default=None)
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="labels of two recorded runs")
    parser.add_argument("--markdown", default="docs/dataflow-cycles.md")
    args = parser.parse_args()
    if args.compare:
        records = json.loads(Path(args.out).read_text())
        write_text(Path(args.markdown), _markdown(*(records[label] for label in args.compare)))
        return
    label = args.label or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True, check=False).stdout.strip()
    configs = {"eyeriss": load_config("configs/eyeriss.yaml"), "4x4-32KiB": parse_config(SMALL)}
    record = {"label": label, "configs": {name: config.to_dict() for name, config in configs.items()},
              "workloads": {}}
    for config_name, config in configs.items():
        for name, dataset in WORKLOADS:
            layers = _layers(config, name, dataset)
            mapped = [row for row in layers if row["cycles"] is not None]
            cycles, macs = sum(r["cycles"] for r in mapped), sum(r["macs"] for r in mapped)
            record["workloads"][f"{config_name}/{name}-{dataset}"] = {
                "cycles": cycles, "macs": macs, "utilization": round(macs / (cycles * config.rows * config.cols), 4),
                "unmapped": [r["layer"] for r in layers if r["cycles"] is None], "layers": layers}
            print(f"{config_name:10s} {name}-{dataset:9s} {cycles:>13,} cycles  "
                  f"{macs / (cycles * config.rows * config.cols):6.1%}")
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    previous[label] = record
    write_json(out, previous)


if __name__ == "__main__":
    main()
