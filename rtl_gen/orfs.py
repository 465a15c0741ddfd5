"""Handoff to OpenROAD-flow-scripts: a design folder an ORFS ``nangate45`` run takes as it is.

:func:`write_orfs_design` writes, next to each other:

``accelerator.v`` and ``config.json``
    The accelerator with fakeram45 macro instances (``memory="macro"``), as
    :func:`~quidam.rtl_gen.emit.write_accelerator` writes it.
``constraint.sdc``
    The clock ``core_clock`` on port ``clk`` at the configured period, and
    input and output delays of :data:`IO_DELAY_FRACTION` of it on every other
    port, in the layout of the ORFS designs' own ``constraint.sdc``.
``config.mk``
    ``DESIGN_NAME``, ``PLATFORM``, ``VERILOG_FILES`` and ``SDC_FILE``
    (relative to the folder of ``config.mk`` through ``$(DESIGN_CONFIG)``),
    ``ADDITIONAL_LEFS`` and ``ADDITIONAL_LIBS`` for each macro used (the copies
    the nangate45 platform ships in ``$(PLATFORM_DIR)/lef`` and
    ``$(PLATFORM_DIR)/lib``), and a core utilisation and macro halo that
    leave room for the macros.

Run it with ``make -C flow DESIGN_CONFIG=<out>/config.mk`` in an ORFS checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quidam.config import AcceleratorConfig
from quidam.files import write_text

from .emit import write_accelerator

__all__ = ["CORE_UTILIZATION", "IO_DELAY_FRACTION", "write_orfs_design"]

#: Input and output delays, as a fraction of the clock period.
IO_DELAY_FRACTION = 0.2

#: Core utilisation (percent) asked of floorplanning: low, for the macros and their halos.
CORE_UTILIZATION = 30

# Halo around each macro (um), as ORFS's own fakeram designs use.
_MACRO_HALO_UM = 10


def _constraints(period_ns: float) -> str:
    return f"""# quidam: clock and I/O constraints of the accelerator ({1000 / period_ns:g} MHz)
set clk_name core_clock
set clk_port_name clk
set clk_period {period_ns:g}
set clk_io_pct {IO_DELAY_FRACTION:g}

set clk_port [get_ports $clk_port_name]
create_clock -name $clk_name -period $clk_period $clk_port

set non_clock_inputs [lsearch -inline -all -not -exact [all_inputs] $clk_port]
set_input_delay [expr $clk_period * $clk_io_pct] -clock $clk_name $non_clock_inputs
set_output_delay [expr $clk_period * $clk_io_pct] -clock $clk_name [all_outputs]
"""


def _config_mk(config: AcceleratorConfig, macros: list[str]) -> str:
    lines = [
        f"# quidam: the {config.pe_type} {config.rows}x{config.cols} accelerator for OpenROAD-flow-scripts",
        f"# (config hash {config.config_hash}); run: make -C flow DESIGN_CONFIG=<this folder>/config.mk",
        "export DESIGN_NAME = accelerator",
        "export PLATFORM = nangate45",
        "export DESIGN_NICKNAME = quidam_" + config.config_hash[:12],
        "",
        "export VERILOG_FILES = $(dir $(DESIGN_CONFIG))accelerator.v",
        "export SDC_FILE = $(dir $(DESIGN_CONFIG))constraint.sdc",
    ]
    if macros:
        lefs = " ".join(f"$(PLATFORM_DIR)/lef/{name}.lef" for name in macros)
        libs = " ".join(f"$(PLATFORM_DIR)/lib/{name}.lib" for name in macros)
        lines += [
            "",
            "# fakeram45 SRAM macros instantiated by the GLB banks and filter scratchpads",
            f"export ADDITIONAL_LEFS = {lefs}",
            f"export ADDITIONAL_LIBS = {libs}",
            f"export MACRO_PLACE_HALO = {_MACRO_HALO_UM} {_MACRO_HALO_UM}",
        ]
    lines += ["", f"export CORE_UTILIZATION = {CORE_UTILIZATION}", "export PLACE_DENSITY_LB_ADDON = 0.2", ""]
    return "\n".join(lines)


def write_orfs_design(config: AcceleratorConfig, out_dir: Path, *, pdk_dir: Path | None = None) -> dict[str, Any]:
    """Write the ORFS design folder of ``config`` into ``out_dir`` (see the module docstring).

    Returns
    -------
    dict
        The accelerator's sidecar (:func:`~quidam.rtl_gen.emit.write_accelerator`),
        with ``orfs``: the names of the files written.
    """
    out_dir = Path(out_dir)
    sidecar = write_accelerator(config, out_dir, memory="macro", pdk_dir=pdk_dir)
    write_text(out_dir / "constraint.sdc", _constraints(1000.0 / config.clock_mhz))
    write_text(out_dir / "config.mk", _config_mk(config, sorted(sidecar["macros"])))
    return {**sidecar, "orfs": ["accelerator.v", "constraint.sdc", "config.mk"]}
