"""Reading Liberty files: parsing, units, table points, and a cell library summary.

Parsing is done by the PyPI ``liberty-parser`` package
(:func:`liberty.parser.parse_liberty`); this module only walks the groups it
returns. Parsed libraries are cached in-process, keyed by resolved path and
SHA-256 of the file, so a file that changes on disk is parsed again. The full
Nangate45 typical library (6.7 MB of text) takes about 2 s to parse on one core
and holds about 45 MB; the 26 fakeram45 models together take about 0.1 s. That
is fast enough that no on-disk cache is kept.

Units
-----
Every number is converted to SI with the library's own unit attributes
(``time_unit``, ``voltage_unit``, ``current_unit``, ``leakage_power_unit``,
``capacitive_load_unit``); a library lacking one of them is rejected rather than
guessed. Liberty has no energy unit: ``internal_power`` tables (``rise_power``,
``fall_power``) hold energy per transition in ``capacitive_load_unit *
voltage_unit**2``, so 1 fF x (1 V)**2 = 1e-15 J and 1 pF x (1 V)**2 = 1e-12 J.
This is the scale OpenSTA applies (``LibertyReader::setEnergyScale``). Liberty
has no area unit either; by convention ``area`` is in square micrometres.
"""

from __future__ import annotations

import functools
import gzip
from dataclasses import asdict, dataclass
from pathlib import Path

from liberty.parser import parse_liberty
from liberty.types import EscapedString, Group

from ..errors import PDKError
from .locate import available_corners, cell_library_path, file_sha256, resolve_pdk_dir

__all__ = [
    "LibertyUnits",
    "CellLibrarySummary",
    "read_liberty",
    "attribute_text",
    "required_attribute",
    "required_number",
    "library_units",
    "table_first_point",
    "cell_library_summary",
]

_SI_PREFIXES = {"": 1.0, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


@dataclass(frozen=True)
class LibertyUnits:
    """Size of one Liberty unit of each quantity, in SI units.

    Multiply a number read from the library by the matching field to get SI.
    """

    time_s: float
    voltage_v: float
    current_a: float
    leakage_power_w: float
    capacitance_f: float

    @property
    def energy_j(self) -> float:
        """One unit of ``internal_power`` table energy: capacitance x voltage squared, in joules."""
        return self.capacitance_f * self.voltage_v**2

    def to_dict(self) -> dict[str, float]:
        """Every unit by name, ``energy_j`` included (for JSON)."""
        return {**asdict(self), "energy_j": self.energy_j}


@dataclass(frozen=True)
class CellLibrarySummary:
    """The facts of one cell library that identify it and scale its numbers.

    Attributes
    ----------
    name
        The ``library`` group's name, e.g. ``NangateOpenCellLibrary``.
    corner
        The corner of the file read, one of ``typ``, ``fast``, ``slow``.
    path, sha256
        The file read (verified against the known digest) and its digest.
    nom_process, nom_temperature_c, nom_voltage_v
        The library's nominal operating point.
    units
        Its unit attributes in SI.
    cell_count
        Number of ``cell`` groups.
    flip_flop_cell_count, latch_cell_count
        Cells holding an ``ff`` group and cells holding a ``latch`` group.
    available_corners
        Corners whose libraries are present (and verified) in the same PDK
        directory.
    """

    name: str
    corner: str
    path: Path
    sha256: str
    nom_process: float
    nom_temperature_c: float
    nom_voltage_v: float
    units: LibertyUnits
    cell_count: int
    flip_flop_cell_count: int
    latch_cell_count: int
    available_corners: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values (path as a string, units as a mapping)."""
        return {
            **asdict(self),
            "path": str(self.path),
            "units": self.units.to_dict(),
            "available_corners": list(self.available_corners),
        }


@functools.lru_cache(maxsize=64)
def _parse_cached(path: str, sha256: str) -> Group:
    """Parse ``path``; ``sha256`` is only part of the cache key, so a changed file is a new entry."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                text = stream.read()
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise PDKError(f"{path}: cannot read as Liberty text ({error})") from None
    try:
        return parse_liberty(text)
    except Exception as error:  # the parser raises assorted types; any of them means bad content
        reason = " ".join(str(error).split())[:200]
        raise PDKError(f"{path}: not a valid Liberty file ({reason})") from None


def read_liberty(path: str | Path) -> Group:
    """Parse the Liberty file at ``path`` (gzip-compressed when it ends in ``.gz``).

    Parameters
    ----------
    path
        The file. Results are cached by resolved path and SHA-256, so a second
        call on an unchanged file costs one hash; treat the returned groups as
        read-only, they are shared.

    Returns
    -------
    liberty.types.Group
        The top ``library`` group.

    Raises
    ------
    PDKError
        The file is missing, cannot be decompressed or decoded, or does not parse
        as Liberty; the message names the path.
    """
    resolved = Path(path).resolve()
    return _parse_cached(str(resolved), file_sha256(resolved))


def attribute_text(value: object) -> str:
    """A Liberty attribute value as plain text, without the quotes of a quoted string."""
    return value.value if isinstance(value, EscapedString) else str(value)


def required_attribute(group: Group, name: str, path: Path) -> object:
    """The single value of attribute ``name`` in ``group``.

    Raises
    ------
    PDKError
        The attribute is absent or repeated; the message names ``path`` and the group.
    """
    values = group.get_attributes(name)
    if len(values) != 1:
        where = f"{group.group_name}({', '.join(map(str, group.args))})"
        problem = "missing" if not values else f"given {len(values)} times"
        raise PDKError(f"{path}: attribute {name} of {where} is {problem}")
    return values[0]


def required_number(group: Group, name: str, path: Path) -> float:
    """The single value of attribute ``name`` in ``group``, as a float.

    Raises
    ------
    PDKError
        The attribute is absent, repeated or not a number.
    """
    value = required_attribute(group, name, path)
    try:
        return float(attribute_text(value))
    except ValueError:
        raise PDKError(f"{path}: attribute {name} is {value!r}, not a number") from None


def _scale_of(text: str, base: str) -> float | None:
    """SI size of a unit string: ``"1nW"`` with base ``"w"`` is 1e-9, ``"100ps"`` with ``"s"`` 1e-10.

    Case-insensitive, as libraries write both ``1nW`` and ``1nw``; ``None`` when
    ``text`` is not ``<number><SI prefix><base>``.
    """
    lowered = text.strip().lower()
    if not lowered.endswith(base):
        return None
    head = lowered[: -len(base)]
    prefix = head[-1:] if head[-1:].isalpha() else ""
    number = head[: len(head) - len(prefix)]
    if prefix not in _SI_PREFIXES:
        return None
    try:
        return float(number or "1") * _SI_PREFIXES[prefix]
    except ValueError:
        return None


def library_units(library: Group, path: Path) -> LibertyUnits:
    """Read the unit attributes of ``library`` (parsed from ``path``) as SI scales.

    Raises
    ------
    PDKError
        A unit attribute is missing or not of the form ``<number><SI prefix><unit>``.
    """
    scales = {}
    for attribute, base in (
        ("time_unit", "s"),
        ("voltage_unit", "v"),
        ("current_unit", "a"),
        ("leakage_power_unit", "w"),
    ):
        text = attribute_text(required_attribute(library, attribute, path))
        scales[attribute] = _scale_of(text, base)
        if scales[attribute] is None:
            raise PDKError(f"{path}: {attribute} {text!r} is not a known unit")
    # The complex attribute ``capacitive_load_unit (1, ff)`` parses as ``[1, "ff"]``.
    load_unit = required_attribute(library, "capacitive_load_unit", path)
    capacitance = None
    if isinstance(load_unit, list) and len(load_unit) == 2:
        capacitance = _scale_of(f"{load_unit[0]}{attribute_text(load_unit[1])}", "f")
    if capacitance is None:
        raise PDKError(f"{path}: capacitive_load_unit {load_unit!r} is not a known unit")
    return LibertyUnits(
        time_s=scales["time_unit"],
        voltage_v=scales["voltage_unit"],
        current_a=scales["current_unit"],
        leakage_power_w=scales["leakage_power_unit"],
        capacitance_f=capacitance,
    )


def table_first_point(table: Group, path: Path) -> float:
    """Value of a Liberty lookup table at its first index point, in library units.

    For a ``scalar`` table that is its one value; for a 1-D or 2-D table it is
    ``values[0][0]``: the smallest ``index_1`` (and ``index_2``), i.e. the
    sharpest input transition and the lightest load of the template.

    Raises
    ------
    PDKError
        The table has no ``values`` or they are not numbers.
    """
    required_attribute(table, "values", path)
    try:
        return float(table.get_array("values").flat[0])
    except (ValueError, IndexError, AttributeError):
        raise PDKError(f"{path}: {table.group_name} table has no numeric values") from None


def cell_library_summary(corner: str = "typ", pdk_dir: str | Path | None = None) -> CellLibrarySummary:
    """Summarise the Nangate45 cell library of ``corner``.

    Parameters
    ----------
    corner
        One of ``typ``, ``fast``, ``slow``.
    pdk_dir
        As for :func:`~quidam.pdk.locate.resolve_pdk_dir`.

    Raises
    ------
    PDKError
        The library is missing, fails its digest check or does not parse.
    """
    root = resolve_pdk_dir(pdk_dir)
    path = cell_library_path(corner, root)
    library = read_liberty(path)
    cells = library.get_groups("cell")
    return CellLibrarySummary(
        name=attribute_text(library.args[0]) if library.args else "",
        corner=corner,
        path=path,
        sha256=file_sha256(path),
        nom_process=required_number(library, "nom_process", path),
        nom_temperature_c=required_number(library, "nom_temperature", path),
        nom_voltage_v=required_number(library, "nom_voltage", path),
        units=library_units(library, path),
        cell_count=len(cells),
        flip_flop_cell_count=sum(1 for cell in cells if cell.get_groups("ff")),
        latch_cell_count=sum(1 for cell in cells if cell.get_groups("latch")),
        available_corners=available_corners(root),
    )
