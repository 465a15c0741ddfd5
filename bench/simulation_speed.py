"""Benchmark: simulate real layers on the generated accelerator and record simulator speed.

Each layer runs through :func:`quidam.testbenches.accelerator_runner.run_layer`
(bit-exact check against the golden convolution, cycles and accesses against
the model) on one simulator; the results go to a JSON file after every layer,
so an interrupted run resumes where it stopped (results recorded with other
RTL or mapper sources, by their digest, are discarded, not resumed). The build
is compiled once and reused for every layer.

Usage::

    python bench/simulation_speed.py --config configs/eyeriss.yaml --network resnet20 --sim verilator
    python bench/simulation_speed.py --config configs/eyeriss.yaml --layers resnet20:9 --sim icarus
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
import warnings
from pathlib import Path

from quidam.config import load_config
from quidam.files import write_json
from quidam.testbenches.accelerator_runner import run_layer
from quidam.workloads.networks import get_network, parse_layer_ref

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def _sources_digest() -> str:
    """sha256 of the sources the cycles depend on: the RTL generator, the mapper and the testbench."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("rtl_gen/*.py"), *ROOT.glob("mapping/*.py"), *ROOT.glob("testbenches/*.py")]):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--network", help="every layer of this network")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--layers", nargs="*", default=[], help="NET:INDEX references")
    parser.add_argument("--sim", default="verilator", choices=("icarus", "verilator"))
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/sim-<sim>-<what>.json)")
    parser.add_argument("--build", type=Path, default=Path("sim_build/bench"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*created but never used")

    config = load_config(args.config)
    refs = list(args.layers)
    if args.network:
        network = get_network(args.network, args.dataset)
        refs += [f"{args.network}:{index}" for index in range(len(network.layers))]
    what = args.network or "-".join(ref.replace(":", "_") for ref in refs)
    out = args.out or Path("bench/results") / f"sim-{args.sim}-{args.config.stem}-{what}.json"
    sources = _sources_digest()
    results = json.loads(out.read_text()) if out.is_file() else {}
    if results.get("sources_sha256") != sources or results.get("config") != config.to_dict():
        results = {"layers": {}}
    results.update({"config": config.to_dict(), "simulator": args.sim, "sources_sha256": sources,
                    "machine": platform.platform(),
                    "processor": platform.processor() or platform.machine()})
    for ref in refs:
        if ref in results["layers"]:
            continue
        _, layer = parse_layer_ref(ref, args.dataset)
        started = time.perf_counter()
        run = run_layer(config, layer, args.build / f"{args.sim}-{config.config_hash[:12]}", simulator=args.sim)
        results["layers"][ref] = {
            "name": layer.name, "macs": layer.macs, "rtl_cycles": run.rtl_cycles, "model_cycles": run.model_cycles,
            "bit_exact": run.bit_exact, "accesses_match": run.accesses_match, "utilization": run.utilization,
            "sim_seconds": round(run.sim_seconds, 2), "wall_seconds": round(time.perf_counter() - started, 2),
            "cycles_per_second": round(run.rtl_cycles / run.sim_seconds),
        }
        layers = results["layers"].values()
        results["total"] = {
            "rtl_cycles": sum(entry["rtl_cycles"] for entry in layers),
            "sim_seconds": round(sum(entry["sim_seconds"] for entry in layers), 2),
            "all_exact": all(entry["bit_exact"] and entry["rtl_cycles"] == entry["model_cycles"]
                             and entry["accesses_match"] for entry in layers),
        }
        results["total"]["cycles_per_second"] = round(results["total"]["rtl_cycles"]
                                                      / max(results["total"]["sim_seconds"], 1e-9))
        write_json(out, results)
        print(f"{ref}: {run.rtl_cycles} cycles (model {run.model_cycles}), bit exact {run.bit_exact}, "
              f"{run.sim_seconds:.1f} s, {run.rtl_cycles / run.sim_seconds:.0f} cycles/s", flush=True)
    print(json.dumps(results.get("total", {})))


if __name__ == "__main__":
    main()
