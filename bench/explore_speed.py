"""Design-point x layer evaluations per second of the vectorized model, and the speedup over characterization.

Usage: python bench/explore_speed.py [--out bench/results/explore-speed.json]

Times :func:`quidam.mapping.search.layer_performance` (mapping search, cycles and access counts) over the
default space's points of one PE type on every layer of the six workloads, best of three; then the whole
`explore` (the composed block model included) on ResNet-20. With --point-seconds (the worker-seconds one design point takes to
characterize: synthesis, timing and the gate-level power replay), the record also holds the speedup of one
point-layer evaluation over characterizing one point.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from quidam.dse.explore import explore
from quidam.mapping.search import layer_performance
from quidam.dse.points import point_table
from quidam.dse.space import load_space
from quidam.files import write_json
from quidam.workloads.networks import get_network

WORKLOADS = (("vgg16", "cifar10"), ("resnet20", "cifar10"), ("resnet56", "cifar100"), ("vgg16", "imagenet"),
             ("resnet34", "imagenet"), ("resnet50", "imagenet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/explore-speed.json")
    parser.add_argument("--point-seconds", type=float, default=None,
                        help="Worker-seconds to characterize one design point (README: 86 for the lightpe1 default sweep).")
    args = parser.parse_args()
    configs = load_space(pe_types=("int16",)).configs["int16"]
    points = point_table(configs)
    layers = [layer for name, dataset in WORKLOADS for layer in get_network(name, dataset).layers]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for layer in layers:
            layer_performance(layer, points)
        best = min(best, time.perf_counter() - start)
    rate = len(configs) * len(layers) / best
    start = time.perf_counter()
    result = explore("resnet20", "cifar10")
    explore_s = time.perf_counter() - start
    explore_rate = len(result.columns["pe_type"]) * len(result.network.layers) / explore_s
    record = {
        "points": len(configs), "layers": len(layers), "model_seconds": best,
        "point_layer_evaluations_per_s": rate,
        "explore_resnet20": {"points": len(result.columns["pe_type"]), "layers": len(result.network.layers),
                             "seconds": explore_s, "point_layer_evaluations_per_s": explore_rate},
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
    }
    if args.point_seconds:
        record["characterize_point_seconds"] = args.point_seconds
        record["speedup_per_point_layer_vs_characterization"] = args.point_seconds * rate
    write_json(Path(args.out), record)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
