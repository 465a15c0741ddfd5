"""``quidam generate``: write the Verilog of a unit and its ``config.json`` sidecar.

The configuration comes from ``--config FILE`` (YAML), with the options on
top; fields neither sets take :class:`~quidam.config.AcceleratorConfig`
defaults. It is validated exactly as a YAML configuration is, so a bad width
is a one-line :class:`~quidam.errors.ConfigError` and exit status 2. Each
``--unit`` has one writer taking ``(config, out_dir)``; with ``--config`` the
default unit is the whole accelerator.
"""

from __future__ import annotations

from pathlib import Path

import click

from quidam.config import PE_TYPES, load_config, parse_config
from quidam.errors import QuidamError

from .emit import SIDECAR, write_accelerator, write_mac
from .glb import MEMORIES
from .orfs import write_orfs_design

__all__ = ["FLOWS", "UNITS", "generate"]

#: Generatable units and their writers, ``writer(config, out_dir) -> sidecar``.
UNITS = {"mac": write_mac, "accelerator": write_accelerator}

#: Downstream flows ``--flow`` writes a design folder for.
FLOWS = ("orfs",)


@click.command("generate")
@click.option("--unit", metavar="UNIT",
              help=f"What to generate: {', '.join(UNITS)} (default: accelerator with --config, else mac).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Accelerator configuration (YAML); the options below override its fields.")
@click.option("--memory", metavar="KIND",
              help=f"Accelerator memories: {', '.join(MEMORIES)} (macro: fakeram45 instances in the GLB and filter "
                   "scratchpads; default behavioural, macro with --flow orfs).")
@click.option("--flow", metavar="FLOW",
              help=f"Also write what a downstream flow needs: {', '.join(FLOWS)} (OpenROAD-flow-scripts nangate45: "
                   "constraint.sdc and config.mk next to the Verilog).")
@click.option("--pe", "pe_type", metavar="TYPE",
              help=f"PE type: {', '.join(PE_TYPES)} (default: the configuration default, int16).")
@click.option("--act-bits", type=int, help="Activation width, pe type int only (2..16).")
@click.option("--wt-bits", type=int, help="Weight width, pe type int only (2..16).")
@click.option("--psum-bits", type=int, help="Accumulator width (default: the PE type's, see `quidam config fields`).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; created when missing.")
def generate(unit, config_file, memory, flow, pe_type, act_bits, wt_bits, psum_bits, out_dir):
    """Write UNIT's Verilog (top module named after the unit, no HDL parameters) and config.json to --out.

    \b
    Examples: quidam generate --unit mac --pe lightpe1 --out build/mac;
    quidam generate --config configs/eyeriss.yaml --out build/eyeriss;
    quidam generate --config configs/eyeriss.yaml --flow orfs --out build/eyeriss-orfs
    """
    if unit is None:
        unit = "accelerator" if config_file or flow is not None else "mac"
    if unit not in UNITS:
        raise QuidamError(f"unit: must be one of {', '.join(UNITS)}, not {unit!r}")
    if flow is not None:
        if flow not in FLOWS:
            raise QuidamError(f"flow: must be one of {', '.join(FLOWS)}, not {flow!r}")
        if unit != "accelerator" or memory not in (None, "macro"):
            raise QuidamError(f"flow {flow}: hands off the whole accelerator with macro memories "
                              f"(--unit accelerator --memory macro), not --unit {unit} --memory {memory or 'macro'}")
        memory = "macro"
    memory = "behavioural" if memory is None else memory
    if memory not in MEMORIES:
        raise QuidamError(f"memory: must be one of {', '.join(MEMORIES)}, not {memory!r}")
    options = {"pe_type": pe_type, "act_bits": act_bits, "wt_bits": wt_bits, "psum_bits": psum_bits}
    options = {name: value for name, value in options.items() if value is not None}
    if config_file:
        config = load_config(config_file)
        if "pe_type" in options:   # the file's widths are its PE type's; a new type's unset widths are its own
            options = {"act_bits": None, "wt_bits": None, "psum_bits": None, **options}
        config = parse_config({**config.to_dict(), **options}, source=str(config_file)) if options else config
    else:
        config = parse_config(options)
    if flow == "orfs":
        sidecar = write_orfs_design(config, out_dir)
        macros = ", ".join(f"{count} x {name}" for name, count in sorted(sidecar["macros"].items())) or "none"
        click.echo(f"wrote {', '.join(str(out_dir / name) for name in sidecar['orfs'])}: accelerator "
                   f"{config.pe_type} {config.rows}x{config.cols} PEs at {config.clock_mhz:g} MHz for "
                   f"OpenROAD-flow-scripts nangate45; macros: {macros}")
        return
    if unit == "accelerator":
        sidecar = write_accelerator(config, out_dir, memory=memory)
        timing = sidecar["timing"]
        click.echo(f"wrote {out_dir / sidecar['verilog']['file']} and {out_dir / SIDECAR}: accelerator "
                   f"{config.pe_type} {config.rows}x{config.cols} PEs, {config.glb_kib} KiB GLB ({memory}), "
                   f"MAC latency {timing['mac_latency']}")
        return
    sidecar = UNITS[unit](config, out_dir)
    click.echo(
        f"wrote {out_dir / sidecar['verilog']['file']} and {out_dir / SIDECAR}: {sidecar['unit']} "
        f"{config.pe_type} {config.act_bits}x{config.wt_bits} -> {config.psum_bits}-bit psum, "
        f"latency {sidecar['latency']}"
    )
