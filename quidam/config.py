"""The accelerator configuration: one frozen, validated object that drives everything.

RTL generation, testbenches, characterization, PPA models and exploration all
read an :class:`AcceleratorConfig`. It is built from keyword arguments or loaded
from YAML (safe loader only) and dumped back losslessly: ``load(dump(c)) == c``.

Every field, its default, its allowed values and its meaning are declared once,
in :data:`FIELDS`; ``quidam config fields`` prints that table and the README
quotes it. Invalid input raises :class:`~quidam.errors.ConfigError` whose
message names the field, the bad value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ConfigError
from .inputs import InputError, load_yaml
from .pe_types import PE_TYPES, SEED_PE_TYPES, PEType, pe_type_info

__all__ = [
    "PE_TYPES",
    "SEED_PE_TYPES",
    "FieldRule",
    "FIELDS",
    "AcceleratorConfig",
    "load_config",
    "parse_config",
    "pe_format_fields",
    "pe_format_label",
    "operand_bits",
    "product_bits",
    "default_psum_bits",
]

GLB_WORD_BITS = (16, 32, 64, 128)


def operand_bits(pe_type: str, act_bits: int | None = None, wt_bits: int | None = None) -> tuple[int, int]:
    """Storage widths ``(activation, weight)`` in bits of one operand of ``pe_type``."""
    info = pe_type_info(pe_type)
    if info.free_widths:
        return (info.act_bits if act_bits is None else act_bits, info.wt_bits if wt_bits is None else wt_bits)
    return info.act_bits, info.wt_bits


def product_bits(pe_type: str, act_bits: int, wt_bits: int) -> int:
    """Width of the exact signed product of one activation and one weight.

    For LightPE the weight is ``+-2**e`` with ``e`` in 0..7, so a signed 8-bit
    activation times it spans ``[-2**14, 2**14]`` (16 bits); LightPE-2 adds two
    such terms (17 bits). For fp32 this is the IEEE word width.
    """
    return pe_type_info(pe_type).product_bits(act_bits, wt_bits)


def default_psum_bits(pe_type: str, act_bits: int, wt_bits: int) -> int:
    """Accumulator width used when the configuration does not set ``psum_bits``.

    fp32 accumulates in binary32; int16 in 32 bits (wrapping, as in Eyeriss);
    LightPE-1/2 in 24 bits; ``int`` in the product width plus 8 guard bits.
    """
    return pe_type_info(pe_type).default_psum_bits(act_bits, wt_bits)


@dataclass(frozen=True)
class FieldRule:
    """What one configuration field accepts.

    Members
    -------
    name : str
        The YAML key and Python keyword.
    kind : type
        ``int``, ``float`` or ``str``.
    default : object
        Value used when the key is absent; ``None`` means "derived from
        ``pe_type``" (see :func:`operand_bits` and :func:`default_psum_bits`).
    low, high : number or None
        Inclusive range for numbers.
    choices : tuple or None
        Allowed values when the field is an enumeration.
    doc : str
        One-line meaning, with the unit.
    """

    name: str
    kind: type
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    def allowed(self) -> str:
        """Human-readable statement of what this field accepts."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        noun = {int: "an integer", float: "a number", str: "a string"}[self.kind]
        if self.low is not None and self.high is not None:
            return f"{noun} in {_fmt(self.low)}..{_fmt(self.high)}"
        return noun

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised to :attr:`kind`, or raise :class:`ConfigError`."""
        ok_type = {
            int: isinstance(value, int) and not isinstance(value, bool),
            float: isinstance(value, (int, float)) and not isinstance(value, bool),
            str: isinstance(value, str),
        }[self.kind]
        if ok_type and self.kind is float:
            try:
                value = float(value)
            except OverflowError:  # an int too large for a float
                ok_type = False
        if (
            not ok_type
            or (self.kind is float and not math.isfinite(value))
            or (self.choices is not None and value not in self.choices)
            or (self.low is not None and value < self.low)
            or (self.high is not None and value > self.high)
        ):
            raise ConfigError(f"{self.name}: must be {self.allowed()}, not {value!r}")
        return value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


FIELDS: tuple[FieldRule, ...] = (
    FieldRule("pe_type", str, "int16", "processing-element arithmetic (number format of the MAC unit)",
              choices=tuple(PE_TYPES)),
    FieldRule("act_bits", int, None, "activation width in bits; range for pe_type int, the other "
              "types fix it (fp32 32, int16 16, lightpe1/2 8)", 2, 16),
    FieldRule("wt_bits", int, None, "weight width in bits; range for pe_type int, the other "
              "types fix it (fp32 32, int16 16, lightpe1 4, lightpe2 8)", 2, 16),
    FieldRule("psum_bits", int, None, "partial-sum (accumulator) width in bits; default fp32 32, "
              "int16 32, lightpe1/2 24, int act+wt+8; fp32 requires 32; integers wrap", 8, 64),
    FieldRule("rows", int, 12, "PE array rows (filter rows map to PE rows)", 2, 32),
    FieldRule("cols", int, 14, "PE array columns (output rows map to PE columns)", 2, 32),
    FieldRule("ifmap_spad_depth", int, 12, "ifmap scratchpad per PE, entries", 2, 256),
    FieldRule("filter_spad_depth", int, 224, "filter scratchpad per PE, entries", 2, 1024),
    FieldRule("psum_spad_depth", int, 24, "psum scratchpad per PE, entries", 2, 256),
    FieldRule("glb_kib", int, 108, "global buffer capacity, KiB", 1, 4096),
    FieldRule("glb_banks", int, 27, "global buffer banks", 1, 64),
    FieldRule("glb_word_bits", int, 64, "global buffer word width, bits", choices=GLB_WORD_BITS),
    FieldRule("dram_bytes_per_cycle", int, 8, "off-chip bandwidth, bytes per accelerator cycle", 1, 1024),
    FieldRule("clock_mhz", float, 200.0, "target clock frequency, MHz", 10, 2000),
)

_RULES = {rule.name: rule for rule in FIELDS}


@dataclass(frozen=True)
class AcceleratorConfig:
    """A validated row-stationary accelerator configuration.

    All parameters are keyword-only; see :data:`FIELDS` (or ``quidam config
    fields``) for defaults and ranges. ``act_bits``, ``wt_bits`` and
    ``psum_bits`` left as ``None`` are resolved from ``pe_type`` at
    construction, so a constructed object always holds concrete values.

    Members
    -------
    pe_type : str
        ``fp32``, ``int16``, ``lightpe1``, ``lightpe2`` or ``int``.
    act_bits, wt_bits, psum_bits : int
        Operand and accumulator widths.
    rows, cols : int
        PE array shape.
    ifmap_spad_depth, filter_spad_depth, psum_spad_depth : int
        Scratchpad depths per PE, in entries.
    glb_kib, glb_banks, glb_word_bits : int
        Global buffer capacity, bank count and word width.
    dram_bytes_per_cycle : int
        Off-chip bandwidth.
    clock_mhz : float
        Target clock.

    Raises
    ------
    ConfigError
        On a wrong type, an out-of-range value or an inconsistent combination.
    """

    pe_type: str = "int16"
    act_bits: int | None = None
    wt_bits: int | None = None
    psum_bits: int | None = None
    rows: int = 12
    cols: int = 14
    ifmap_spad_depth: int = 12
    filter_spad_depth: int = 224
    psum_spad_depth: int = 24
    glb_kib: int = 108
    glb_banks: int = 27
    glb_word_bits: int = 64
    dram_bytes_per_cycle: int = 8
    clock_mhz: float = 200.0

    def __post_init__(self):
        object.__setattr__(self, "pe_type", _RULES["pe_type"].check(self.pe_type))
        info = PE_TYPES[self.pe_type]
        fixed = None if info.free_widths else (info.act_bits, info.wt_bits)
        for rule in FIELDS[1:]:
            value = getattr(self, rule.name)
            if value is None and rule.default is None:
                continue
            if fixed is not None and rule.name in ("act_bits", "wt_bits"):
                is_weight = rule.name == "wt_bits"
                width = fixed[is_weight]
                if value != width:  # the resolved width is accepted, so dumps load back
                    raise ConfigError(
                        f"{rule.name}: pe_type {self.pe_type} has {width}-bit {'weights' if is_weight else 'activations'}, "
                        f"not {value!r}; only pe_type int takes act_bits and wt_bits"
                    )
                continue
            object.__setattr__(self, rule.name, rule.check(value))

        act, wt = operand_bits(self.pe_type, self.act_bits, self.wt_bits)
        object.__setattr__(self, "act_bits", act)
        object.__setattr__(self, "wt_bits", wt)

        if self.psum_bits is None:
            object.__setattr__(self, "psum_bits", default_psum_bits(self.pe_type, act, wt))
        elif info.is_float and self.psum_bits != 32:
            raise ConfigError(f"psum_bits: pe_type fp32 accumulates in binary32, so psum_bits must be 32, "
                              f"not {self.psum_bits}")
        elif self.psum_bits < self.product_bits:
            raise ConfigError(
                f"psum_bits: must be at least the {self.product_bits}-bit product width of pe_type "
                f"{self.pe_type} ({act}x{wt}), not {self.psum_bits}"
            )

        glb_bits = self.glb_kib * 1024 * 8
        if glb_bits % (self.glb_banks * self.glb_word_bits):
            raise ConfigError(
                f"glb_banks: {self.glb_kib} KiB does not split into {self.glb_banks} banks of whole "
                f"{self.glb_word_bits}-bit words; choose glb_banks dividing {glb_bits // self.glb_word_bits} "
                f"or another glb_kib"
            )
        widest = max(act, wt, self.psum_bits)
        if self.glb_word_bits < widest:
            raise ConfigError(
                f"glb_word_bits: must hold the widest operand or psum ({widest} bits), not {self.glb_word_bits}; "
                f"allowed: {', '.join(str(w) for w in GLB_WORD_BITS if w >= widest)}"
            )

    # Derived facts, read by generators and models instead of re-deriving them.

    @property
    def pe(self) -> PEType:
        """The registry entry of :attr:`pe_type` (:data:`~quidam.pe_types.PE_TYPES`)."""
        return PE_TYPES[self.pe_type]

    @property
    def num_pes(self) -> int:
        """Number of processing elements, ``rows * cols``."""
        return self.rows * self.cols

    @property
    def product_bits(self) -> int:
        """Width of one exact activation x weight product (see :func:`product_bits`)."""
        return product_bits(self.pe_type, self.act_bits, self.wt_bits)

    @property
    def glb_bank_depth(self) -> int:
        """Words per global-buffer bank."""
        return self.glb_kib * 1024 * 8 // (self.glb_banks * self.glb_word_bits)

    @property
    def clock_period_ns(self) -> float:
        """Target clock period in nanoseconds."""
        return 1000.0 / self.clock_mhz

    def replace(self, **changes: Any) -> AcceleratorConfig:
        """A validated copy with ``changes`` applied (unset widths re-derived when pe_type changes)."""
        if "pe_type" in changes:
            for name in ("act_bits", "wt_bits", "psum_bits"):
                changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Resolved fields in declaration order; :func:`parse_config` of it gives an equal object."""
        return {rule.name: getattr(self, rule.name) for rule in FIELDS}

    def to_yaml(self) -> str:
        """The resolved configuration as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @property
    def config_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict` (stable across runs and machines)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def parse_config(data: Any, *, source: str | None = None) -> AcceleratorConfig:
    """Validate a mapping (as read from YAML) and build the configuration.

    Parameters
    ----------
    data : mapping
        Field names to values; absent fields take their defaults.
    source : str, optional
        Where ``data`` came from; prefixed to error messages.
    """
    prefix = f"{source}: " if source else ""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix}a configuration must be a mapping of field: value, not {type(data).__name__}")
    for key in data:
        if key not in _RULES:
            close = difflib.get_close_matches(str(key), _RULES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{prefix}unknown field {key!r}{hint}; allowed fields: {', '.join(_RULES)}")
    try:
        return AcceleratorConfig(**data)
    except ConfigError as error:
        raise ConfigError(f"{prefix}{error}") from None


def load_config(path: str | Path) -> AcceleratorConfig:
    """Read a YAML file through the input boundary (:func:`~quidam.inputs.load_yaml`) and validate it.

    Raises
    ------
    ConfigError
        When the file is missing, is not valid YAML, or holds an invalid configuration.
    """
    try:
        data = load_yaml(path, "configuration")
    except InputError as error:
        raise ConfigError(str(error)) from None
    return parse_config(data, source=str(path))


def pe_format_label(config: AcceleratorConfig) -> str:
    """The PE type of ``config`` as :func:`pe_format_fields` reads it: ``lightpe1``, or ``int:8x8`` for a type
    of free widths."""
    return config.pe_type + (f":{config.act_bits}x{config.wt_bits}" if PE_TYPES[config.pe_type].free_widths else "")


def pe_format_fields(text: str) -> dict[str, Any]:
    """A PE type (``lightpe1``) or a type of free widths with its widths (``int:4x8``) as configuration fields.

    Raises
    ------
    ConfigError
        An unknown type, or widths that are not ``ACTxWT`` of a type that takes them.
    """
    pe_type, colon, widths = str(text).partition(":")
    if pe_type not in PE_TYPES:
        raise ConfigError(f"unknown PE type {pe_type!r}; allowed: {', '.join(PE_TYPES)} (int as int:ACTxWT, "
                          f"e.g. int:4x8)")
    fields: dict[str, Any] = {"pe_type": pe_type}
    if colon:
        act, _, wt = widths.partition("x")
        if not PE_TYPES[pe_type].free_widths or not (act.isdigit() and wt.isdigit()):
            raise ConfigError(f"{text!r}: widths are given only for int, as int:ACTxWT (int:4x8)")
        fields.update(act_bits=int(act), wt_bits=int(wt))
    AcceleratorConfig(**fields)
    return fields
