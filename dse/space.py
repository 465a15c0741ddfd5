"""Design spaces: which configurations an exploration visits.

A space is a mapping, written in YAML (safe loader) or built in
(:data:`DEFAULT_SPACE`)::

    description: arrays up to 16x16          # optional, free text
    pe_types: [fp32, int16, lightpe1, lightpe2]
    base:                                     # fields shared by every point
      glb_banks: 4
    grid:                                     # field -> values: the points are the cartesian product
      rows: [4, 8, 12, 16]
      cols: [4, 8, 14, 16]
      glb_kib: [64, 128]

Every field of :class:`~quidam.config.AcceleratorConfig` but ``pe_type`` may
be in ``base`` or ``grid`` (``pe_types`` lists the PE types, the int type with
its widths as ``int:ACTxWT``, which then override ``base`` and ``grid``;
``quidam explore --pe`` overrides the list). ``clock_mhz`` is the synthesis target the PPA models are
asked about; every point runs at its predicted fmax. Validation happens before
any point is built: an unknown key or field, a value of the wrong type or out
of its range is a :class:`~quidam.errors.ConfigError` naming the space, the
field and what is allowed. A combination of valid values that is not a valid
configuration (a GLB that does not split into its banks) is skipped and
counted.

The default space is larger than QADAM's (array shapes 4..16 x 4..16, three
depths of each scratchpad, four GLB sizes and three off-chip bandwidths, for
each of the four seed PE types: 4 x 5,184 points).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from quidam.config import FIELDS, PE_TYPES, SEED_PE_TYPES, AcceleratorConfig, pe_format_fields
from quidam.errors import ConfigError
from quidam.inputs import InputError, free_text, load_yaml

__all__ = ["DEFAULT_SPACE", "MAX_SPACE_POINTS", "SPACE_KEYS", "DesignSpace", "load_space"]

#: Top-level keys of a space definition.
SPACE_KEYS = ("description", "pe_types", "base", "grid")


DEFAULT_SPACE: dict[str, Any] = {
    "description": "arrays 4..16 x 4..16, three depths of each scratchpad, GLB 32..256 KiB, 4..16 bytes/cycle",
    "pe_types": list(SEED_PE_TYPES),
    "base": {"glb_banks": 8, "glb_word_bits": 64, "clock_mhz": 200.0},
    "grid": {
        "rows": [4, 8, 12, 16],
        "cols": [4, 8, 14, 16],
        "ifmap_spad_depth": [12, 16, 24],
        "filter_spad_depth": [64, 128, 224],
        "psum_spad_depth": [16, 24, 32],
        "glb_kib": [32, 64, 128, 256],
        "dram_bytes_per_cycle": [4, 8, 16],
    },
}

#: Most points a space may have, over all its PE types (ten times the default space).
MAX_SPACE_POINTS = 200_000

_RULES = {rule.name: rule for rule in FIELDS}


@dataclass(frozen=True)
class DesignSpace:
    """The configurations of a space, grouped by PE type.

    Members
    -------
    name : str
        ``default`` or the file it was read from.
    configs : dict
        PE type -> list of :class:`~quidam.config.AcceleratorConfig`.
    skipped : int
        Combinations that are not valid configurations.
    description : str
    grid : dict
        The grid's fields and values.
    """

    name: str
    configs: dict
    skipped: int = 0
    description: str = ""
    grid: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(configs) for configs in self.configs.values())


def _check_value(rule, value, where: str):
    try:
        return rule.check(value)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def _expand(definition: Any, name: str, pe_types: tuple[str, ...] | None) -> DesignSpace:
    if not isinstance(definition, Mapping):
        raise ConfigError(f"space {name}: must be a mapping with keys {', '.join(SPACE_KEYS)}, "
                          f"not {type(definition).__name__}")
    unknown = [key for key in definition if key not in SPACE_KEYS]
    if unknown:
        raise ConfigError(f"space {name}: unknown key {unknown[0]!r}; allowed keys: {', '.join(SPACE_KEYS)}")
    types = pe_types or definition.get("pe_types") or SEED_PE_TYPES
    if not isinstance(types, (list, tuple)) or not all(isinstance(t, str) for t in types):
        raise ConfigError(f"space {name}: pe_types must be a list of PE types ({', '.join(PE_TYPES)})")
    types = tuple(dict.fromkeys(types))
    formats = {}
    for pe_type in types:
        try:
            formats[pe_type] = pe_format_fields(pe_type)
        except ConfigError as error:
            raise ConfigError(f"space {name}: pe_types: {error}") from None
    base, grid = definition.get("base") or {}, definition.get("grid") or {}
    for key, value in (("base", base), ("grid", grid)):
        if not isinstance(value, Mapping):
            raise ConfigError(f"space {name}: {key} must be a mapping of field: value")
    for part, values in (("base", base), ("grid", grid)):
        for field_name, value in values.items():
            if field_name == "pe_type":
                raise ConfigError(f"space {name}: {part}.pe_type: list the PE types under pe_types")
            if field_name not in _RULES:
                raise ConfigError(f"space {name}: {part}: unknown field {field_name!r}; allowed fields: "
                                  f"{', '.join(rule for rule in _RULES if rule != 'pe_type')}")
            where = f"space {name}: {part}.{field_name}"
            if part == "grid":
                if not isinstance(value, list) or not value:
                    raise ConfigError(f"{where}: must be a non-empty list of values")
                for item in value:
                    _check_value(_RULES[field_name], item, where)
            else:
                _check_value(_RULES[field_name], value, where)
    fields = list(grid)
    size = len(types) * math.prod(len(grid[f]) for f in fields)
    if size > MAX_SPACE_POINTS:
        raise ConfigError(f"space {name}: {size:,} points ({len(types)} PE types x the grid), more than the cap of "
                          f"{MAX_SPACE_POINTS:,}; make the grid smaller")
    configs: dict[str, list[AcceleratorConfig]] = {}
    skipped = 0
    for pe_type in types:
        points = []
        for values in itertools.product(*(grid[f] for f in fields)):
            try:
                points.append(AcceleratorConfig(**{**base, **dict(zip(fields, values)), **formats[pe_type]}))
            except ConfigError:
                skipped += 1
        configs[pe_type] = points
    if not any(configs.values()):
        raise ConfigError(f"space {name}: no combination of its values is a valid configuration")
    description = free_text(definition.get("description", ""), f"space {name}: description")
    return DesignSpace(name=name, configs=configs, skipped=skipped, description=description,
                       grid={f: list(grid[f]) for f in fields})


def load_space(space: str | Path = "default", *, pe_types: tuple[str, ...] | None = None) -> DesignSpace:
    """The space ``default`` or the one in a YAML file, for ``pe_types`` (default: the space's own list).

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or the space is invalid (the message names what and what is allowed).
    """
    if str(space) == "default":
        return _expand(DEFAULT_SPACE, "default", pe_types)
    if not Path(space).exists():
        raise ConfigError(f"space {space}: no such file (give `default` or a YAML file)")
    try:
        definition = load_yaml(space, "space")
    except InputError as error:
        raise ConfigError(str(error)) from None
    return _expand(definition, str(space), pe_types)
