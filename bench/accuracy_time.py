"""CPU time of the digits accuracy runs, and what `make coexplore` costs on two idle cores.

Usage: python bench/accuracy_time.py [--seeds 1] [--out bench/results/accuracy-digits.json]

Trains and evaluates every default format (:data:`quidam.accuracy.quantizers.DEFAULT_LABELS`) of both digits
networks with the committed recipe, one seed each by default, in this process (one thread), and records per run
the wall and CPU seconds (``time.process_time``: what a busy machine does not inflate). `make coexplore` runs
the two networks side by side, one core each, so on two idle cores it takes about the larger of the two
networks' CPU totals for five seeds: the record's ``make_coexplore_estimate_s``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from quidam.accuracy.data import load_data
from quidam.accuracy.quantizers import DEFAULT_LABELS
from quidam.accuracy.train import RECIPES, evaluate, train
from quidam.files import write_json
from quidam.workloads.networks import get_network

NETWORKS = ("resnet8", "vgg8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/accuracy-digits.json"))
    args = parser.parse_args()
    data = load_data("digits")
    recipe = RECIPES["digits"]
    runs, totals = [], {}
    for name in NETWORKS:
        network = get_network(name, "digits")
        for label in DEFAULT_LABELS:
            for seed in range(args.seeds):
                wall, cpu = time.perf_counter(), time.process_time()
                top1 = evaluate(train(network, label, data, seed, recipe), data)["top1"]
                record = {"network": name, "label": label, "seed": seed, "top1": top1,
                          "wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}
                runs.append(record)
                totals[name] = totals.get(name, 0.0) + record["cpu_s"]
                print(record, flush=True)
    per_seed = {name: total / args.seeds for name, total in totals.items()}
    write_json(args.out, {
        "recipe": recipe.to_dict(), "seeds_timed": args.seeds, "runs": runs,
        "cpu_s_per_seed_of_every_format": {name: round(value, 1) for name, value in per_seed.items()},
        "make_coexplore_estimate_s": round(5 * max(per_seed.values()), 1),
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version()},
    })
    print(f"five seeds, the networks side by side on two cores: about {5 * max(per_seed.values()):.0f} s")


if __name__ == "__main__":
    main()
