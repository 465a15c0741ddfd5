"""Process facts: locating and reading the Nangate45 cell libraries and fakeram45 SRAM macros.

Only facts about the process live here (where its files are, what they say, in
SI units); how a flow uses them belongs to :mod:`quidam.characterize`.

* :mod:`~quidam.pdk.locate`: choosing the PDK directory (``--pdk-dir``, then
  ``$QUIDAM_PDK_DIR``, then ``../shared/pdk/nangate45`` next to the checkout)
  and checking the cell libraries' SHA-256.
* :mod:`~quidam.pdk.liberty`: parsing Liberty files (cached), their units, and
  a summary of a cell library.
* :mod:`~quidam.pdk.sram`: the fakeram45 macros as :class:`SRAMMacro` records.
* :mod:`~quidam.pdk.cli`: ``quidam pdk info``.
"""

from .liberty import CellLibrarySummary, LibertyUnits, cell_library_summary, library_units, read_liberty
from .locate import (
    CELL_LIBRARY_SHA256,
    CORNERS,
    PDK_DIR_ENV,
    SRAM_MACRO_NAMES,
    available_corners,
    cell_library_path,
    default_pdk_dir,
    file_sha256,
    resolve_pdk_dir,
    sram_library_paths,
)
from .sram import SRAMMacro, find_macro, find_macros, read_sram_macro

__all__ = [
    "CELL_LIBRARY_SHA256",
    "CORNERS",
    "PDK_DIR_ENV",
    "SRAM_MACRO_NAMES",
    "CellLibrarySummary",
    "LibertyUnits",
    "SRAMMacro",
    "available_corners",
    "cell_library_path",
    "cell_library_summary",
    "default_pdk_dir",
    "file_sha256",
    "find_macro",
    "find_macros",
    "library_units",
    "read_liberty",
    "read_sram_macro",
    "resolve_pdk_dir",
    "sram_library_paths",
]
