"""Synthesis and timing figures of whole-accelerator runs whose power stage failed, against the composed model.

A point that failed before 21f8d3c kept no metrics (now ``failed.json`` holds its finished stages' ones); its
finished stages keep their artefacts. This reads them as the flow's
synthesis and timing stages do (``1_synth/stat.json`` and the fanout buffers of ``1_synth/netlist.v``;
``2_sta/timing.rpt`` and ``sta.log``) and compares total area and fmax with
:meth:`quidam.models.composed.ComposedModel.compose` of the point's configuration. Results are merged into
``bench/results/stage-figures.json`` (one entry per design id, written atomically).

Usage::

    python bench/stage_figures.py runs/nangate45/<design id> [...]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from quidam.characterize.cells import cell_library
from quidam.characterize.sta import _parse as parse_timing
from quidam.characterize.synth import _area_metrics as area_metrics
from quidam.config import parse_config
from quidam.files import write_json
from quidam.models.composed import ComposedModel
from quidam.pdk.locate import SRAM_MACRO_DIR, resolve_pdk_dir
from quidam.pdk.platform import FANOUT_BUFFER
from quidam.pdk.sram import read_sram_macro

RESULTS = Path(__file__).parent / "results" / "stage-figures.json"


def stage_figures(run: Path, model: ComposedModel) -> dict:
    """The run's area and critical path, its configuration's composition, and the relative differences."""
    design = json.loads((run / "design.json").read_text())
    params = {name: value for name, value in design["design"]["params"].items()
              if name not in ("unit", "workload", "memory")}
    config = parse_config(params)
    top = design["design"]["top"]
    liberty = next((run.parent / "_liberty").glob("*/nangate45_typ.lib"))
    macros = [read_sram_macro(resolve_pdk_dir() / SRAM_MACRO_DIR / name) for name in design["pdk"]
              if name.startswith("fakeram45")]
    stat = json.loads((run / "1_synth" / "stat.json").read_text())
    module = stat["modules"].get(f"\\{top}") or stat["modules"][top]
    # The fanout repair adds its buffers to netlist.v after Yosys's statistics.
    in_netlist = len(re.findall(rf"^\s*{FANOUT_BUFFER}\s", (run / "1_synth" / "netlist.v").read_text(), re.M))
    added = in_netlist - module["num_cells_by_type"].get(FANOUT_BUFFER, 0)
    area = (area_metrics(stat, top, liberty, macros, run / "1_synth" / "synth.log")["synth__area__total_um2"]
            + added * cell_library(liberty)[FANOUT_BUFFER].area_um2)
    timing = parse_timing((run / "2_sta" / "timing.rpt").read_text(), (run / "2_sta" / "sta.log").read_text(),
                          1000.0 / design["design"]["clock_mhz"], run / "2_sta" / "sta.log")
    composed = model.compose(config)
    fmax = timing["sta__timing__fmax_mhz"]
    return {"config": config.to_dict(), "yosys": design["tools"]["yosys"], "area_um2": area,
            "fanout_buffers": added, "critical_path_ns": timing["sta__timing__critical_path_ns"], "fmax_mhz": fmax,
            "path": f"{timing['sta__timing__startpoint']} -> {timing['sta__timing__endpoint']}",
            "composed_area_um2": composed.total_area_um2, "composed_fmax_mhz": composed.fmax_mhz,
            "area_error": composed.total_area_um2 / area - 1, "fmax_error": composed.fmax_mhz / fmax - 1,
            "composed_warnings": composed.warnings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    model = ComposedModel()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for run in args.runs:
        found = stage_figures(run, model)
        results[run.name] = found
        config = found["config"]
        print(f"{run.name} {config['pe_type']} {config['rows']}x{config['cols']} {config['glb_kib']} KiB: "
              f"area {found['area_um2'] / 1e6:.4f} mm^2 (composed {100 * found['area_error']:+.1f} %), "
              f"fmax {found['fmax_mhz']:.1f} MHz (composed {100 * found['fmax_error']:+.1f} %), {found['path']}")
    write_json(RESULTS, results)


if __name__ == "__main__":
    main()
