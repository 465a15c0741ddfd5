"""Sweep points: which configurations a sweep visits, and what is characterized for each.

:func:`design_for` is the one place that says what one sweep point
characterizes; :func:`load_sweep` expands a sweep definition into validated
configurations of one PE type.

Sweep definitions
-----------------
A sweep is a mapping, written in YAML (safe loader) or built in
(:data:`BUILTIN_SWEEPS`: ``default``, ``heldout``, ``full`` and ``scale``)::

    description: square arrays, two buffer sizes   # optional, free text
    dataset: heldout      # optional: the points go to <pe>-heldout.csv, not <pe>.csv
    base:                 # fields shared by every point (any field of `quidam config fields`)
      clock_mhz: 200
      glb_banks: 4
    grid:                 # field -> list of values: the points are the cartesian product
      rows: [4, 8]
      cols: [4, 8]
      glb_kib: [16, 32]

``grid`` may also be a list of such mappings: the sweep is then the union of
their products (for instance an array-shape grid plus one-at-a-time variations
of the scratchpads around ``base``). A grid value overrides ``base``; fields in
neither take their defaults. The PE type comes from the command line
(``--pe``): one sweep, one PE type, one dataset; ``base`` may repeat it but not
contradict it, and it is not a grid field. For ``pe_type: int``, ``act_bits``
and ``wt_bits`` may be grid fields.

``dataset`` names a separate dataset for points that must not be fitted
(``heldout``: the design points the models are validated on).

``grid`` is required (an empty sweep file is an error, not one default point)
and has at most :data:`MAX_SWEEP_COMBINATIONS` combinations. The file is read
through the input boundary (:func:`quidam.inputs.load_yaml`: size, UTF-8,
duplicate keys, aliases, nesting). Validation: an unknown key or field, a value of the wrong type or out of its
range is a :class:`~quidam.errors.ConfigError` naming the sweep, the field and
what is allowed. A combination of valid values that is not a valid
configuration (a GLB size that does not split into its banks, a ``psum_bits``
narrower than the product) is skipped and counted (:attr:`Sweep.skipped`, with
the reason); a sweep with no valid point at all is an error. Repeated points
are visited once.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from quidam.config import FIELDS, AcceleratorConfig, operand_bits, parse_config
from quidam.pe_types import pe_type_info
from quidam.errors import ConfigError
from quidam.inputs import InputError, free_text, load_yaml

from .design import Design
from .accelerator import accelerator_design
from .mac import mac_design

__all__ = ["BUILTIN_SWEEPS", "MAX_SWEEP_COMBINATIONS", "SWEEP_KEYS", "UNITS", "Sweep", "design_for", "expand_sweep",
           "load_sweep"]

#: Top-level keys of a sweep definition.
SWEEP_KEYS = ("description", "dataset", "base", "grid")

#: Most grid combinations a sweep may have (each is a synthesis run; ``full`` has 576).
MAX_SWEEP_COMBINATIONS = 10_000

_RULES = {rule.name: rule for rule in FIELDS}

# The base point of `default`: a 2x2 array, small scratchpads and a 16 KiB GLB in 4 banks of fakeram45_512x64.
_DEFAULT_BASE = {"rows": 2, "cols": 2, "ifmap_spad_depth": 12, "filter_spad_depth": 32, "psum_spad_depth": 16,
                 "glb_kib": 16, "glb_banks": 4, "glb_word_bits": 64, "clock_mhz": 200.0}

# Eyeriss's array, scratchpads and GLB (configs/eyeriss.yaml), as one grid combination.
_EYERISS = {"rows": [12], "cols": [14], "ifmap_spad_depth": [12], "filter_spad_depth": [224], "psum_spad_depth": [24],
            "glb_kib": [108], "glb_banks": [27]}

#: The built-in sweeps, as the mappings a YAML sweep file holds; ``<name>@int`` adds grids for pe_type int.
BUILTIN_SWEEPS: dict[str, dict[str, Any]] = {
    # Small enough for 2 cores in well under 30 minutes (each point is a whole accelerator through synthesis,
    # timing and a gate-level replay of a real layer): 4 array shapes, and each scratchpad and the GLB doubled
    # around the 2x2 base (8 points; 4 more operand widths for pe_type int).
    "default": {
        "description": "array shapes 2..3 x 2..3, each scratchpad and the GLB doubled around a 2x2 base",
        "base": _DEFAULT_BASE,
        "grid": [
            {"rows": [2, 3], "cols": [2, 3]},
            {"ifmap_spad_depth": [24]},
            {"filter_spad_depth": [64]},
            {"psum_spad_depth": [32]},
            {"glb_kib": [32]},
        ],
    },
    "default@int": {"grid": [{"act_bits": [4, 8], "wt_bits": [4, 8]}]},
    # Points never fitted, to validate the models on: the default sweep's values in combinations it lacks.
    "heldout": {
        "description": "held-out points: combinations of the default sweep's values that it does not visit",
        "dataset": "heldout",
        "base": _DEFAULT_BASE,
        "grid": [
            {"rows": [3], "cols": [3], "ifmap_spad_depth": [24], "psum_spad_depth": [32]},
            {"rows": [2], "cols": [3], "filter_spad_depth": [64], "glb_kib": [32]},
            {"rows": [3], "cols": [2], "ifmap_spad_depth": [24], "filter_spad_depth": [64], "psum_spad_depth": [32]},
            {"ifmap_spad_depth": [24], "psum_spad_depth": [32], "glb_kib": [32]},
        ],
    },
    # QADAM-like: array rows and cols, the three scratchpad depths and the GLB size, full factorial (576 points).
    "full": {
        "description": "QADAM-like space: rows x cols x ifmap/filter/psum scratchpads x GLB size",
        "base": {"glb_banks": 27, "glb_word_bits": 64, "clock_mhz": 200.0},
        "grid": {
            "rows": [4, 8, 12, 16],
            "cols": [4, 8, 14, 16],
            "ifmap_spad_depth": [12, 24],
            "filter_spad_depth": [112, 224],
            "psum_spad_depth": [16, 24, 32],
            "glb_kib": [54, 108, 216],
        },
    },
    # Whole accelerators where the exploration uses the models, never fitted: 4 x 4 and 8 x 8 for every type,
    # Eyeriss (configs/eyeriss.yaml) for int16 and lightpe1, 16 x 16 with 256 KiB for int16. Hours each at the
    # largest sizes on 2 cores.
    "scale": {
        "description": "validation at scale: whole accelerators from 4 x 4 to 16 x 16",
        "dataset": "scale",
        "base": {"glb_word_bits": 64, "dram_bytes_per_cycle": 8, "clock_mhz": 200.0},
        "grid": [
            {"rows": [4], "cols": [4], "ifmap_spad_depth": [12], "filter_spad_depth": [64], "psum_spad_depth": [16],
             "glb_kib": [32], "glb_banks": [8]},
            {"rows": [8], "cols": [8], "ifmap_spad_depth": [16], "filter_spad_depth": [128],
             "psum_spad_depth": [24], "glb_kib": [64], "glb_banks": [16]},
        ],
    },
    "scale@int16": {"grid": [_EYERISS, {**_EYERISS, "rows": [16], "cols": [16], "glb_kib": [256], "glb_banks": [64]}]},
    "scale@lightpe1": {"grid": [_EYERISS]},
    "full@int": {"grid": [{"act_bits": [2, 4, 8, 16], "wt_bits": [2, 4, 8, 16], "rows": [4, 8, 12, 16],
                           "cols": [4, 8, 14, 16]}]},
}


#: What a sweep point characterizes: the whole accelerator (the default) or only its MAC unit.
UNITS = ("accelerator", "mac")


def design_for(config: AcceleratorConfig, pdk_dir: str | None = None, unit: str = "accelerator") -> Design:
    """The design characterized for one sweep point.

    ``unit="accelerator"``: the configuration's whole accelerator with macro
    memories and its real-layer workload
    (:func:`~quidam.characterize.accelerator.accelerator_design`);
    ``unit="mac"``: its MAC unit alone (:func:`~quidam.characterize.mac.mac_design`,
    which depends on the PE type, widths and clock only).
    """
    if unit == "accelerator":
        return accelerator_design(config, pdk_dir=pdk_dir)
    if unit == "mac":
        return mac_design(config)
    raise ConfigError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")


class Sweep(list):
    """The configurations of a sweep, in visiting order (a list), with what was left out.

    Attributes
    ----------
    name : str
        The built-in name or the file's path.
    pe_type : str
        The PE type of every point.
    skipped : list of (dict, str)
        Combinations that are not valid configurations: the grid values and the reason.
    description : str
        The definition's description, if any.
    dataset : str
        The separate dataset the points go to (``<pe>-<dataset>.csv``), or ``""`` for ``<pe>.csv``.
    """

    def __init__(self, configs: Iterable[AcceleratorConfig], *, name: str, pe_type: str,
                 skipped: list[tuple[dict[str, Any], str]], description: str = "", dataset: str = ""):
        super().__init__(configs)
        self.name, self.pe_type, self.skipped, self.description = name, pe_type, skipped, description
        self.dataset = dataset


def _check_field(source: str, where: str, name: Any, value: Any, pe_type: str) -> None:
    """A single field's value on its own (its type, range, and whether the PE type takes it)."""
    if name not in _RULES:
        raise ConfigError(f"{source}: {where}: unknown field {name!r}; allowed fields: {', '.join(_RULES)}")
    if name == "pe_type":
        if where == "grid":
            raise ConfigError(f"{source}: grid: pe_type is not a grid field; the PE type is chosen with --pe "
                              f"(one PE type per sweep and dataset)")
        if value != pe_type:
            raise ConfigError(f"{source}: base: pe_type is {value!r} but the sweep runs pe_type {pe_type} "
                              f"(--pe); remove pe_type from base or make them agree")
        return
    try:
        _RULES[name].check(value)
    except ConfigError as error:
        raise ConfigError(f"{source}: {where}: {error}") from None
    if name in ("act_bits", "wt_bits") and not pe_type_info(pe_type).free_widths:
        width = operand_bits(pe_type)[name == "wt_bits"]
        if value != width:
            raise ConfigError(f"{source}: {where}: {name}: pe_type {pe_type} fixes it at {width}, not {value!r}; "
                              f"only pe_type int takes act_bits and wt_bits")


def _grids(source: str, grid: Any) -> list[dict[str, list]]:
    if grid is None or grid == {} or grid == []:
        raise ConfigError(f"{source}: grid: missing or empty; give at least one field: [values] (the points are "
                          f"the product of the grid's values)")
    blocks = [grid] if isinstance(grid, Mapping) else grid
    if not isinstance(blocks, list) or not all(isinstance(block, Mapping) for block in blocks):
        raise ConfigError(f"{source}: grid: must be a mapping of field: [values] or a list of such mappings, "
                          f"not {type(grid).__name__}")
    if not all(blocks):
        raise ConfigError(f"{source}: grid: an empty mapping in the list; give each at least one field: [values]")
    for block in blocks:
        for name, values in block.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{source}: grid: {name}: must be a non-empty list of values, not {values!r}")
    combinations = sum(math.prod(len(values) for values in block.values()) for block in blocks)
    if combinations > MAX_SWEEP_COMBINATIONS:
        raise ConfigError(f"{source}: grid: {combinations:,} combinations, more than the cap of "
                          f"{MAX_SWEEP_COMBINATIONS:,} per sweep; split it into several sweeps")
    return [dict(block) for block in blocks]


def expand_sweep(spec: Any, pe_type: str, *, name: str = "sweep") -> Sweep:
    """Validate a sweep definition (a mapping, see the module docstring) and expand it for ``pe_type``.

    Parameters
    ----------
    spec : mapping
        ``base``, ``grid`` and ``description``, as read from YAML.
    pe_type : str
        The PE type of every point.
    name : str
        The sweep's name or file, prefixed to error messages.

    Raises
    ------
    ConfigError
        Unknown key or field, bad value, or no valid point.
    """
    source = f"sweep {name}"
    parse_config({"pe_type": pe_type})  # names the allowed PE types when it is not one
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{source}: must be a mapping with keys {', '.join(SWEEP_KEYS)}, "
                          f"not {type(spec).__name__}")
    for key in spec:
        if key not in SWEEP_KEYS:
            raise ConfigError(f"{source}: unknown key {key!r}; allowed keys: {', '.join(SWEEP_KEYS)}")
    base = spec.get("base") or {}
    if not isinstance(base, Mapping):
        raise ConfigError(f"{source}: base: must be a mapping of field: value, not {type(base).__name__}")
    dataset = spec.get("dataset") or ""
    if not isinstance(dataset, str) or (dataset and not re.fullmatch(r"[a-z][a-z0-9_]*", dataset)):
        raise ConfigError(f"{source}: dataset: must be a name of lower-case letters, digits and _ (the points "
                          f"go to <pe>-<dataset>.csv), not {dataset!r}")
    description = free_text(spec.get("description", ""), f"{source}: description")
    for field, value in base.items():
        _check_field(source, "base", field, value, pe_type)
    blocks = _grids(source, spec.get("grid"))
    for block in blocks:
        for field, values in block.items():
            for value in values:
                _check_field(source, "grid", field, value, pe_type)

    configs: dict[AcceleratorConfig, None] = {}
    skipped: list[tuple[dict[str, Any], str]] = []
    for block in blocks:
        for values in itertools.product(*block.values()):
            point = dict(zip(block, values))
            try:
                config = parse_config({**base, **point, "pe_type": pe_type})
            except ConfigError as error:
                skipped.append((point, str(error)))
                continue
            configs.setdefault(config)
    if not configs:
        reason = f"; e.g. {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise ConfigError(f"{source}: no valid configuration of pe_type {pe_type}{reason}")
    return Sweep(configs, name=name, pe_type=pe_type, skipped=skipped, description=description,
                 dataset=dataset)


def _builtin(name: str, pe_type: str) -> dict[str, Any]:
    spec = dict(BUILTIN_SWEEPS[name])
    extra = BUILTIN_SWEEPS.get(f"{name}@{pe_type}")
    if extra is not None:
        grid = spec["grid"]
        spec["grid"] = [*([grid] if isinstance(grid, Mapping) else grid), *extra["grid"]]
    return spec


def load_sweep(name_or_path: str | Path, pe_type: str) -> Sweep:
    """The configurations of ``pe_type`` a built-in sweep (``default``, ``heldout``, ``full``, ``scale``) or a YAML
    file visits.

    Returns
    -------
    Sweep
        A list of :class:`~quidam.config.AcceleratorConfig`, with the skipped combinations.

    Raises
    ------
    ConfigError
        Not a built-in name nor a readable file, malformed YAML, or an invalid
        definition (see :func:`expand_sweep`).
    """
    text = str(name_or_path)
    if text in BUILTIN_SWEEPS and "@" not in text:
        return expand_sweep(_builtin(text, pe_type), pe_type, name=text)
    if not Path(name_or_path).exists():
        builtins = ", ".join(name for name in BUILTIN_SWEEPS if "@" not in name)
        raise ConfigError(f"sweep {name_or_path}: not a built-in sweep ({builtins}) and cannot be read: no such file")
    try:
        spec = load_yaml(name_or_path, "sweep")
    except InputError as error:
        raise ConfigError(str(error)) from None
    return expand_sweep(spec, pe_type, name=text)
