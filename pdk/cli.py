"""``quidam pdk``: show the process data the flow will use.

``quidam pdk info`` prints the typical-corner cell library summary and the SRAM
macro table (sorted by depth, then width); ``--json`` prints the same as
``{"cell_library": {...}, "macros": [{...}, ...]}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .liberty import CellLibrarySummary, cell_library_summary
from .locate import PDK_DIR_ENV
from .sram import SRAMMacro, find_macros

__all__ = ["pdk"]

# (heading, SRAMMacro attribute, format) of each column of the macro table.
_MACRO_COLUMNS = (
    ("name", "name", "{}"),
    ("depth", "depth", "{}"),
    ("width", "width", "{}"),
    ("area_um2", "area_um2", "{:.1f}"),
    ("leakage_w", "leakage_w", "{:.3e}"),
    ("read_energy_j", "read_energy_j", "{:.3e}"),
    ("write_energy_j", "write_energy_j", "{:.3e}"),
    ("clk_to_q_s", "clk_to_q_s", "{:.3e}"),
)


def _summary_lines(summary: CellLibrarySummary) -> list[str]:
    units = summary.units
    nominal = f"{summary.nom_voltage_v:g} V, {summary.nom_temperature_c:g} C, process {summary.nom_process:g}"
    return [
        f"cell library    {summary.name} ({summary.corner} corner)",
        f"  file          {summary.path}",
        f"  sha256        {summary.sha256}",
        f"  nominal       {nominal}",
        f"  units         time {units.time_s:g} s, voltage {units.voltage_v:g} V, current {units.current_a:g} A,",
        f"                leakage {units.leakage_power_w:g} W, capacitance {units.capacitance_f:g} F, "
        f"energy {units.energy_j:g} J",
        f"  cells         {summary.cell_count} ({summary.flip_flop_cell_count} flip-flop, "
        f"{summary.latch_cell_count} latch)",
        f"  corners       {', '.join(summary.available_corners)}",
    ]


def _macro_table_lines(macros: tuple[SRAMMacro, ...]) -> list[str]:
    rows = [[heading for heading, _, _ in _MACRO_COLUMNS]]
    rows += [[form.format(getattr(macro, field)) for _, field, form in _MACRO_COLUMNS] for macro in macros]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_MACRO_COLUMNS))]
    # Name left-aligned, numbers right-aligned.
    return [
        "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


@click.group()
def pdk():
    """Nangate45 cell libraries and SRAM macros.

    Process data only: where the files are, that they are the expected ones,
    and their figures in SI units.
    """


@pdk.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: cell_library and macros.")
@click.option(
    "--pdk-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"PDK directory (default: ${PDK_DIR_ENV}, else ../shared/pdk/nangate45 next to the checkout).",
)
def pdk_info(as_json: bool, pdk_dir: Path | None):
    """Show the typical cell library summary and every SRAM macro (sorted by depth, then width)."""
    summary = cell_library_summary("typ", pdk_dir)
    macros = find_macros(pdk_dir)
    if as_json:
        document = {"cell_library": summary.to_dict(), "macros": [macro.to_dict() for macro in macros]}
        click.echo(json.dumps(document, indent=2))
        return
    lines = _summary_lines(summary)
    lines += ["", f"SRAM macros ({len(macros)}, sorted by depth then width; energy per clocked access)"]
    lines += _macro_table_lines(macros)
    click.echo("\n".join(lines))
