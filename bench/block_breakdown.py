"""Where the area and the energy go, block by block, at each PE type's best point of a composed exploration.

Usage: python bench/block_breakdown.py [--workload resnet20] [--dataset cifar10] [--out FILE.md]

Runs ``explore(..., model="composed")`` on the default space, takes each PE type's point with the highest
performance per area, and splits its area (count x block area) and its energy per inference (each block's
idle energy x block-cycles + per-action energies x the mapped layers' access counts, leakage x latency, off-chip
words) by block, from the same composition the exploration used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from quidam.config import AcceleratorConfig
from quidam.dse.explore import DRAM_PJ_PER_BIT, explore
from quidam.dse.points import point_table
from quidam.files import write_text
from quidam.mapping.search import layer_performance
from quidam.models.composed import ComposedModel


def breakdown(workload: str, dataset: str | None) -> str:
    result = explore(workload, dataset, model="composed")
    model = ComposedModel()
    lines = [f"{workload} / {result.network.dataset}, composed exploration of the default space: each PE type's "
             f"best point (perf/area); area in mm^2 and energy per inference in uJ, by block", ""]
    header, rows = None, []
    for pe_type in ("fp32", "int16", "lightpe1", "lightpe2"):
        best = result.best(pe_type)
        if not best:
            continue
        config = AcceleratorConfig(**best["perf_config"])
        composition = model.compose(config)
        points = point_table([config])
        cycles, accesses = 0, {}
        for layer in result.network.layers:
            performance = layer_performance(layer, points)
            cycles += int(performance.cycles[0])
            for key, values in performance.accesses.items():
                accesses[key] = accesses.get(key, 0) + int(values[0])
        energy = composition.run_energy(cycles, accesses)
        seconds = cycles / (composition.fmax_mhz * 1e6)
        energy["leakage"] = composition.total_leakage_w * seconds
        energy["off-chip"] = (accesses["dram.read"] + accesses["dram.write"]) * config.glb_word_bits \
            * DRAM_PJ_PER_BIT * 1e-12
        blocks = list(composition.area_um2)
        if header is None:
            header = ["PE type", "point", "fmax MHz", "area", *(f"{b} area" for b in blocks), "energy",
                      *(f"{b} energy" for b in energy)]
        point = f"{config.rows}x{config.cols}, {config.ifmap_spad_depth}/{config.filter_spad_depth}/" \
                f"{config.psum_spad_depth}, {config.glb_kib} KiB, {config.dram_bytes_per_cycle} B/cycle"
        rows.append([pe_type, point, f"{composition.fmax_mhz:.0f}", f"{composition.total_area_um2 * 1e-6:.3f}",
                     *(f"{composition.area_um2[b] * 1e-6:.3f}" for b in blocks),
                     f"{sum(energy.values()) * 1e6:.1f}", *(f"{value * 1e6:.1f}" for value in energy.values())])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="resnet20")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    text = breakdown(args.workload, args.dataset)
    if args.out:
        write_text(args.out, text)
    print(text, end="")


if __name__ == "__main__":
    main()
