"""Where the time of a block characterization goes: worker-seconds per block kind and stage of a runs folder.

Reads every finished block point of ``RUNS/nangate45/`` (``metrics.json``: its ``provenance.runtime_s``, the
synthesis, timing and power stages; a point whose recording it made pays for the recording in its power
stage) and writes their sums per block kind and PE type, with the wall time of the run that made them (the
last line of `quidam characterize-blocks`, ``--log``), to ``--out`` (written atomically).

Usage::

    quidam characterize-blocks --runs RUNS --data DATA --jobs 2 > LOG
    python bench/block_times.py RUNS --log LOG --command "..." --out bench/results/block-characterization.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from collections import defaultdict
from pathlib import Path

from quidam.files import write_json

_SUMMARY = re.compile(r"^(\d+) block points \((\d+) computed, (\d+) failed\) in (\d+) s$", re.M)


def block_times(runs: Path) -> dict:
    """Points and worker-seconds per stage, per block kind and per PE type, of the block points in ``runs``."""
    by_kind: dict = defaultdict(lambda: defaultdict(float))
    by_type: dict = defaultdict(lambda: defaultdict(float))
    for metrics_path in sorted((runs / "nangate45").glob("*/metrics.json")):
        metrics = json.loads(metrics_path.read_text())
        params = json.loads((metrics_path.parent / "design.json").read_text())["design"]["params"]
        if not str(params.get("unit", "")).startswith("block:"):
            continue
        kind = params["unit"].removeprefix("block:")
        recorded = params["recorded"]   # the configuration recorded: the PE type's widths
        label = recorded["pe_type"] if recorded["pe_type"] != "int" else \
            f"int:{recorded['act_bits']}x{recorded['wt_bits']}"
        for table, key in ((by_kind, kind), (by_type, label)):
            table[key]["points"] += 1
            for stage, seconds in metrics["provenance"]["runtime_s"].items():
                table[key][f"{stage}_s"] += seconds
    rounded = lambda table: {key: {name: round(value, 1) for name, value in sorted(row.items())}  # noqa: E731
                             for key, row in sorted(table.items())}
    kinds = rounded(by_kind)
    return {"by_kind": kinds, "by_pe_type": rounded(by_type),
            "points": int(sum(row["points"] for row in kinds.values())),
            "worker_s": round(sum(value for row in kinds.values() for name, value in row.items()
                                  if name.endswith("_s")), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="The --runs folder of the block characterization.")
    parser.add_argument("--log", type=Path, help="Its standard output (the last line gives the wall time).")
    parser.add_argument("--command", default="", help="The command that made it, recorded as is.")
    parser.add_argument("--commit", default="", help="The commit it ran at.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/block-characterization.json"))
    args = parser.parse_args()
    record = {"command": args.command, "commit": args.commit, **block_times(args.runs),
              "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}}
    if args.log:
        found = _SUMMARY.findall(args.log.read_text())
        if not found:
            raise SystemExit(f"{args.log}: no summary line (`N block points (C computed, F failed) in S s`): "
                             "the run has not finished")
        total, computed, failed, seconds = (int(value) for value in found[-1])
        record.update({"listed": total, "computed": computed, "failed": failed, "wall_s": seconds})
    write_json(args.out, record)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
