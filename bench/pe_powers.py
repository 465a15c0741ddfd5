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
from statistics import mean

from quidam.characterize.accelerator import BLOCKS
from quidam.characterize.power import _unit_powers, block_of
from quidam.models.composed import PE_BLOCKS


def pe_powers(run: Path) -> dict[str, dict[tuple[int, int], float]]:
    """Block -> (row, col) -> the PE's dynamic power of that block (W), each instance in the flow's block
    (:func:`~quidam.characterize.power.block_of` on :data:`~quidam.characterize.accelerator.BLOCKS`)."""
    power_dir = run / "3_power"
    rates = json.loads((power_dir / "activity.json").read_text())["instances"]
    units = _unit_powers((power_dir / "instance_power.txt").read_text(), power_dir / "power.log")
    powers: dict[str, dict[tuple[int, int], float]] = defaultdict(lambda: defaultdict(float))
    for name, entry in units.items():
        block = block_of(name, "accelerator", BLOCKS)
        if block not in PE_BLOCKS:
            continue
        row, col = (int(index) for index in name.split(".")[1].split("_")[1:])
        # Internal and switching power at activity 0 and 1, at the instance's measured activity.
        at0, at1 = entry[0][0] + entry[0][1], entry[1][0] + entry[1][1]
        powers[block][row, col] += at0 + (at1 - at0) * rates[name]
    return powers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="A whole-accelerator run folder (runs/nangate45/<design id>).")
    args = parser.parse_args()
    powers = pe_powers(args.run)
    for block in PE_BLOCKS:
        values = powers[block]
        rows = sorted({row for row, _ in values})
        by_row = " ".join(f"{row}:{1e6 * mean([v for (r, _), v in values.items() if r == row]):.1f}" for row in rows)
        print(f"{block}: uW per PE min {1e6 * min(values.values()):.1f} max {1e6 * max(values.values()):.1f} "
              f"mean {1e6 * mean(values.values()):.1f}; by row {by_row}")


if __name__ == "__main__":
    main()
