"""Where one block point's time goes: chosen block points characterized cold, one after another, in one process.

Each point (``KIND:INDEX``, the INDEX-th point of that kind in :func:`quidam.characterize.blocks.plan` of the PE
type) runs into an empty runs folder, so it pays for its recording (the accelerator's Verilog, the RTL
simulation of the layer) as the first point of a recording does in ``quidam characterize-blocks``. A MAC point
in a throwaway folder runs first and is not counted: it reads the Liberty files, as a worker does once.
Records each point's wall seconds and its stages' (``provenance.runtime_s``; the power stage includes the
recording) to ``--out`` (written atomically).

Usage::

    python bench/block_points.py --pe int16 --point pe:0 --point controller:3 --out bench/results/block-points.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from quidam.characterize.blocks import characterize_block, plan
from quidam.config import pe_format_fields
from quidam.files import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pe", default="int16", help="PE type, as for quidam characterize-blocks --pe.")
    parser.add_argument("--point", action="append", metavar="KIND:INDEX",
                        help="A block point (repeatable; default pe:0, ifmap_spad:0, glb:0, controller:3).")
    parser.add_argument("--yosys", default=None, help="As for quidam characterize-blocks --yosys.")
    parser.add_argument("--commit", default="", help="The commit it ran at.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/block-points.json"))
    args = parser.parse_args()
    points = plan([pe_format_fields(args.pe)])
    wanted = []
    for spec in args.point or ("pe:0", "ifmap_spad:0", "glb:0", "controller:3"):
        kind, _, index = spec.partition(":")
        of_kind = [point for point in points if point.kind == kind]
        if not index.isdigit() or int(index) >= len(of_kind):
            raise SystemExit(f"--point {spec}: expected KIND:INDEX with INDEX below {len(of_kind)} for kind {kind!r}")
        wanted.append(of_kind[int(index)])
    with tempfile.TemporaryDirectory() as scratch:
        mac = next(point for point in points if point.kind == "mac")
        characterize_block(mac, runs_root=Path(scratch) / "warm-up", yosys=args.yosys)
        rows = []
        for point in wanted:
            start = time.perf_counter()
            metrics, _ = characterize_block(point, runs_root=Path(scratch) / f"point-{len(rows)}", yosys=args.yosys)
            wall = time.perf_counter() - start
            if metrics["status"] != "ok":
                raise SystemExit(f"{point.kind} point failed in {metrics['stage']}: {metrics['reason']}")
            config = point.config
            rows.append({"kind": point.kind, "rows": config.rows, "cols": config.cols, "glb_kib": config.glb_kib,
                         "depths": [config.ifmap_spad_depth, config.filter_spad_depth, config.psum_spad_depth],
                         "wall_s": round(wall, 1),
                         **{f"{stage}_s": round(seconds, 1)
                            for stage, seconds in metrics["provenance"]["runtime_s"].items()}})
            print(json.dumps(rows[-1]), flush=True)
    write_json(args.out, {"pe": args.pe, "yosys": args.yosys or "default", "commit": args.commit, "points": rows,
                          "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                                   "python": platform.python_version()}})


if __name__ == "__main__":
    main()
