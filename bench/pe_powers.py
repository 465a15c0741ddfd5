"""Each PE's block powers in a whole-accelerator run: where in the array the dynamic power of the PEs goes.

Reads a finished whole-accelerator run folder's power stage (``3_power/instance_power.txt``, OpenSTA's
per-instance internal and switching power at activity 0 and 1, and ``3_power/activity.json``, each
instance's measured activity) and sums each PE's instances by block as the flow's breakdown does (``mac``,
the three scratchpads, ``pe_control`` for the rest of the PE, its fanout buffers included); prints, per block,
the least, most and mean power of a PE and the mean of each PE row (uW).

Usage::

    python bench/pe_powers.py runs/nangate45/<design id>
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from quidam.models.composed import PE_BLOCKS


def pe_powers(run: Path) -> dict[str, dict[tuple[int, int], float]]:
    """Block -> (row, col) -> the PE's dynamic power of that block (W)."""
    rates = json.loads((run / "3_power" / "activity.json").read_text())["instances"]
    at_rate: dict[str, dict[int, float]] = defaultdict(dict)
    for line in (run / "3_power" / "instance_power.txt").read_text().splitlines():
        fields = line.split()
        at_rate[fields[1]][int(fields[0])] = float(fields[3]) + float(fields[4])
    powers: dict[str, dict[tuple[int, int], float]] = defaultdict(lambda: defaultdict(float))
    for name, power in at_rate.items():
        parts = name.split(".")
        if parts[0] != "array" or len(parts) < 3 or not parts[1].startswith("pe_"):
            continue
        block = parts[2] if len(parts) >= 4 and parts[2] in PE_BLOCKS else "pe_control"
        row, col = (int(index) for index in parts[1].split("_")[1:])
        powers[block][row, col] += power[0] + (power[1] - power[0]) * rates[name]
    return powers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="A whole-accelerator run folder (runs/nangate45/<design id>).")
    args = parser.parse_args()
    powers = pe_powers(args.run)
    for block in PE_BLOCKS:
        values = powers[block]
        rows = sorted({row for row, _ in values})
        by_row = " ".join(f"{row}:{1e6 * sum(v for (r, _), v in values.items() if r == row) / sum(1 for r, _ in values if r == row):.1f}"
                          for row in rows)
        print(f"{block}: uW per PE min {1e6 * min(values.values()):.1f} max {1e6 * max(values.values()):.1f} "
              f"mean {1e6 * sum(values.values()) / len(values):.1f}; by row {by_row}")


if __name__ == "__main__":
    main()
