"""``quidam generate``: write the Verilog of a unit and its ``config.json`` sidecar.

The options form an accelerator configuration (fields the options leave out
take :class:`~quidam.config.AcceleratorConfig` defaults), validated exactly as
a YAML configuration is, so a bad width is a one-line
:class:`~quidam.errors.ConfigError` and exit status 2. Each ``--unit`` has one
writer taking ``(config, out_dir)``.
"""

from __future__ import annotations

from pathlib import Path

import click

from quidam.config import PE_TYPES, parse_config
from quidam.errors import QuidamError

from .emit import SIDECAR, write_mac

__all__ = ["UNITS", "generate"]

#: Generatable units and their writers, ``writer(config, out_dir) -> sidecar``.
UNITS = {"mac": write_mac}


@click.command("generate")
@click.option("--unit", default="mac", show_default=True, metavar="UNIT",
              help=f"What to generate: {', '.join(UNITS)}.")
@click.option("--pe", "pe_type", metavar="TYPE",
              help=f"PE type: {', '.join(PE_TYPES)} (default: the configuration default, int16).")
@click.option("--act-bits", type=int, help="Activation width, pe type int only (2..16).")
@click.option("--wt-bits", type=int, help="Weight width, pe type int only (2..16).")
@click.option("--psum-bits", type=int, help="Accumulator width (default: the PE type's, see `quidam config fields`).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder; created when missing.")
def generate(unit, pe_type, act_bits, wt_bits, psum_bits, out_dir):
    """Write UNIT's Verilog (top module named after the unit, no HDL parameters) and config.json to --out.

    \b
    Example: quidam generate --unit mac --pe lightpe1 --out build/mac
    """
    if unit not in UNITS:
        raise QuidamError(f"unit: must be one of {', '.join(UNITS)}, not {unit!r}")
    options = {"pe_type": pe_type, "act_bits": act_bits, "wt_bits": wt_bits, "psum_bits": psum_bits}
    config = parse_config({name: value for name, value in options.items() if value is not None})
    sidecar = UNITS[unit](config, out_dir)
    click.echo(
        f"wrote {out_dir / sidecar['verilog']['file']} and {out_dir / SIDECAR}: {sidecar['unit']} "
        f"{config.pe_type} {config.act_bits}x{config.wt_bits} -> {config.psum_bits}-bit psum, "
        f"latency {sidecar['latency']}"
    )
