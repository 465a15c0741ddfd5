"""Independent re-synthesis of characterized points: another Yosys build, a plain flat script, OpenSTA.

For each design point given (a run folder, or a design id of a dataset under
``runs/nangate45/``), the point's own Verilog (``0_rtl/*.v``) goes through a
different Yosys (default the native ``yosys`` on PATH, e.g. Debian's 0.23,
where the flow uses its pinned 0.70) with the textbook script
``synth -flatten; dfflibmap; abc; stat`` (no hierarchy kept, no ABC
constraints), and the standard-cell area Yosys prints is compared with the
dataset's ``synth__area__stdcell_um2``. OpenSTA then times the independent
netlist at the point's clock. Results go to ``bench/results/resynthesis.json``
(one entry per point, merged, written atomically).

Usage::

    python bench/resynthesis_check.py runs/nangate45/<design id> [...] [--yosys yosys]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from quidam.files import write_json

RESULTS = Path(__file__).parent / "results" / "resynthesis.json"


def _run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:2])} failed in {cwd}:\n{(done.stdout + done.stderr)[-2000:]}")
    return done.stdout


def check(run_dir: Path, yosys: str) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    design = metrics["design"]
    verilog = next((run_dir / "0_rtl").glob("*.v")).resolve()
    sta_script = (run_dir / "2_sta" / "sta.tcl").read_text()
    libraries = [line.split()[1] for line in sta_script.splitlines() if line.startswith("read_liberty")]
    cells, macros = libraries[0], libraries[1:]
    period = 1000.0 / design["clock_mhz"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        script = [f"read_verilog -sv {verilog}", *(f"read_liberty -lib {macro}" for macro in macros),
                  f"synth -flatten -top {design['top']}", f"dfflibmap -liberty {cells}",
                  f"abc -D {round(period * 1000)} -liberty {cells}", "opt_clean", f"stat -liberty {cells}",
                  "write_verilog -noattr -simple-lhs netlist.v"]
        (work / "synth.ys").write_text("\n".join(script) + "\n")
        _run([yosys, "-q", "-l", "synth.log", "synth.ys"], work)
        log = (work / "synth.log").read_text()
        version = _run([yosys, "-V"], work).strip()
        area = float(re.findall(r"Chip area for (?:top )?module '\\?[\w.]+': ([\d.]+)", log)[-1])
        stdcell = area  # stat is given the cell library only: the macros, black boxes, add no area
        tcl = [*(f"read_liberty {lib}" for lib in libraries), "read_verilog netlist.v",
               f"link_design {design['top']}", f"create_clock -name clk -period {period} [get_ports clk]",
               'puts "slack [worst_slack -max]"']
        (work / "sta.tcl").write_text("\n".join(tcl) + "\n")
        slack = float(re.search(r"^slack (\S+)$", _run(["sta", "-no_init", "-no_splash", "-exit", "sta.tcl"], work),
                                re.M).group(1))
    flow = metrics["synth__area__stdcell_um2"]
    return {"design_id": metrics["design_id"], "config": {k: v for k, v in design["params"].items()
                                                          if k not in ("workload",)},
            "flow_yosys": metrics["provenance"]["tools"]["yosys"], "independent_yosys": version,
            "flow_stdcell_um2": flow, "independent_stdcell_um2": stdcell,
            "relative_difference": (stdcell - flow) / flow,
            "flow_critical_path_ns": metrics["sta__timing__critical_path_ns"],
            "independent_slack_ns": slack, "independent_critical_path_ns": period - slack}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("points", nargs="+", type=Path, help="run folders (or design ids under runs/nangate45/)")
    parser.add_argument("--yosys", default="yosys", help="the other Yosys (default: yosys on PATH)")
    options = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for point in options.points:
        run_dir = (point if point.is_dir() else Path("runs/nangate45") / str(point)).resolve()
        if not (run_dir / "metrics.json").is_file():
            sys.exit(f"{run_dir}: no metrics.json (not a finished design point)")
        entry = check(run_dir, options.yosys)
        results[entry["design_id"]] = entry
        print(f"{entry['design_id']}: stdcell area {entry['flow_stdcell_um2']:.0f} um^2 (flow) vs "
              f"{entry['independent_stdcell_um2']:.0f} um^2 ({entry['independent_yosys'].split(' (')[0]}): "
              f"{100 * entry['relative_difference']:+.2f}%; critical path {entry['flow_critical_path_ns']:.3f} ns vs "
              f"{entry['independent_critical_path_ns']:.3f} ns")
    write_json(RESULTS, results)


if __name__ == "__main__":
    main()
