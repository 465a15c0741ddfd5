"""Quantizers: float tensors to the weight and activation codes the hardware reads.

Every quantizer takes a float array and a per-tensor (per-layer) ``scale`` and
returns a :class:`QuantizedTensor` whose ``codes`` are exactly the bit patterns
a MAC unit receives on its ``a`` or ``w`` port, decoded with the same
definitions as the golden models (:mod:`quidam.formats.integer`,
:mod:`quidam.formats.lightpe`). All quantizers are vectorized with numpy.

Formats (``fmt`` strings):

``"int<N>"``, N in 2..16 (``"int16"`` for the int16 PE type)
    Symmetric signed integers. ``scale = max|x| / (2**(N-1) - 1)``; the code is
    ``clip(round_half_even(x / scale), -(2**(N-1) - 1), 2**(N-1) - 1)``
    stored as an N-bit two's-complement pattern (``-2**(N-1)`` is never used).
    Used for weights and, for every integer PE type, for activations.
``"lightpe1"``
    ``scale = max|x| / 2**7``, so the largest magnitude maps to the largest
    term. Each ``v = x / scale`` becomes the signed power of two nearest in the
    log domain: ``e`` is the number of thresholds ``2**(k + 1/2)``
    (k = 0..6) that ``|v|`` reaches, i.e. ``round(log2|v|)`` clipped to 0..7,
    with a value exactly on a threshold going to the larger exponent. The sign
    bit is set for ``v < 0``. There is no zero code: 0 becomes ``+1 * scale``.
``"lightpe2"``
    The same scale as LightPE-1 (``max|x|`` maps to ``2**7``), so every
    LightPE-1 value is also a LightPE-2 value. Each ``v`` becomes the nearest
    of the LightPE-2 values (an exact search over all 256 codes, never worse
    than the greedy "power of two, then power of two of the residual"); a value
    exactly halfway between two representable values goes to the one of larger
    magnitude. Of the codes standing for the chosen value, the smallest is used.
``"fp32"``
    IEEE-754 binary32: ``codes`` are the float32 bit patterns (numpy's
    round-to-nearest-even from float64), ``scale`` is 1.

An all-zero (or empty) tensor gets ``scale = 1``. A given ``scale`` overrides
the rule above (for example a calibrated activation scale); values then
saturate at the largest code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from quidam.config import AcceleratorConfig

from .lightpe import LIGHTPE1_CODES, LIGHTPE2_CODES, lightpe1_value, lightpe2_value

__all__ = [
    "LIGHTPE1_VALUES",
    "LIGHTPE2_VALUES",
    "QuantizedTensor",
    "activation_format",
    "decode",
    "dequantize",
    "quantize",
    "quantize_int",
    "quantize_lightpe1",
    "quantize_lightpe2",
    "weight_format",
]

#: Integer weight of every LightPE-1 code, indexed by code.
LIGHTPE1_VALUES = np.array([lightpe1_value(c) for c in range(LIGHTPE1_CODES)], dtype=np.int64)
#: Integer weight of every LightPE-2 code, indexed by code.
LIGHTPE2_VALUES = np.array([lightpe2_value(c) for c in range(LIGHTPE2_CODES)], dtype=np.int64)

# Sorted distinct LightPE-2 values and, for each, the smallest code standing for it.
_LIGHTPE2_LEVELS, _LIGHTPE2_CANONICAL = np.unique(LIGHTPE2_VALUES, return_index=True)
# Geometric midpoints between consecutive LightPE-1 magnitudes 2**k and 2**(k+1).
_LIGHTPE1_THRESHOLDS = 2.0 ** (np.arange(7) + 0.5)
_LIGHTPE_MAX_TERM = 2 ** 7

_INT_FORMAT = re.compile(r"int([0-9]+)")


def _format_bits(fmt: str) -> int:
    """Code width of ``fmt``; raises ``ValueError`` for an unknown format."""
    fixed = {"fp32": 32, "lightpe1": 4, "lightpe2": 8}
    if fmt in fixed:
        return fixed[fmt]
    match = _INT_FORMAT.fullmatch(fmt) if isinstance(fmt, str) else None
    if match and 2 <= int(match.group(1)) <= 16:
        return int(match.group(1))
    raise ValueError(f"format must be one of fp32, lightpe1, lightpe2, int2..int16, not {fmt!r}")


def _code_dtype(bits: int) -> type:
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """A tensor in one number format: hardware codes plus one per-layer scale.

    Members
    -------
    codes : numpy.ndarray
        Unsigned bit patterns as the MAC port receives them (read-only).
    scale : float
        Real value of one integer unit; 1 for ``fp32``.
    fmt : str
        ``"int<N>"``, ``"lightpe1"``, ``"lightpe2"`` or ``"fp32"``.
    """

    codes: np.ndarray
    scale: float
    fmt: str

    def __post_init__(self):
        bits = _format_bits(self.fmt)
        codes = np.array(self.codes, dtype=_code_dtype(bits))
        if codes.size and int(codes.max()) >> bits:
            raise ValueError(f"codes of format {self.fmt} must fit in {bits} bits")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive finite number, not {self.scale!r}")
        codes.setflags(write=False)
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "scale", float(self.scale))

    def integers(self) -> np.ndarray:
        """The number each code stands for (float32 values for ``fp32``), see :func:`decode`."""
        return decode(self.codes, self.fmt)

    def values(self) -> np.ndarray:
        """Dequantized float64 values, ``integers() * scale``."""
        return dequantize(self.codes, self.scale, self.fmt)


def decode(codes: np.ndarray, fmt: str) -> np.ndarray:
    """Numbers that ``codes`` of format ``fmt`` stand for, before scaling.

    Returns int64 for the integer and LightPE formats (two's complement for
    ``int<N>``, the tables :data:`LIGHTPE1_VALUES` / :data:`LIGHTPE2_VALUES`)
    and float32 for ``fp32``.
    """
    bits = _format_bits(fmt)
    codes = np.asarray(codes).astype(np.int64)
    if fmt == "fp32":
        return codes.astype(np.uint32).view(np.float32)
    if fmt == "lightpe1":
        return LIGHTPE1_VALUES[codes]
    if fmt == "lightpe2":
        return LIGHTPE2_VALUES[codes]
    return np.where(codes >> (bits - 1), codes - (1 << bits), codes)


def dequantize(codes: np.ndarray, scale: float, fmt: str) -> np.ndarray:
    """Float64 values of ``codes``: ``decode(codes, fmt) * scale``."""
    return decode(codes, fmt).astype(np.float64) * float(scale)


def _prepare(x, scale: float | None, top: float) -> tuple[np.ndarray, float]:
    """Float64 copy of ``x`` and the scale mapping ``max|x|`` to ``top`` (or the given one)."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantize NaN or infinite values")
    if scale is None:
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        scale = peak / top if peak > 0 else 1.0
    elif not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, not {scale!r}")
    return x, float(scale)


def quantize_int(x, bits: int, *, scale: float | None = None) -> QuantizedTensor:
    """Symmetric signed ``bits``-bit quantization (round half to even, clip).

    Parameters
    ----------
    x : array_like
        Float values (weights or activations of one layer).
    bits : int
        Code width, 2..16.
    scale : float, optional
        Real value of one integer unit; default ``max|x| / (2**(bits-1) - 1)``.
    """
    fmt = f"int{bits}"
    _format_bits(fmt)
    top = (1 << (bits - 1)) - 1
    x, scale = _prepare(x, scale, top)
    q = np.clip(np.rint(x / scale), -top, top).astype(np.int64)
    return QuantizedTensor(q & ((1 << bits) - 1), scale, fmt)


def quantize_lightpe1(x, *, scale: float | None = None) -> QuantizedTensor:
    """Nearest signed power of two in the log domain (LightNN-1); see the module notes."""
    x, scale = _prepare(x, scale, _LIGHTPE_MAX_TERM)
    v = x / scale
    exponent = np.searchsorted(_LIGHTPE1_THRESHOLDS, np.abs(v), side="right")
    return QuantizedTensor((v < 0).astype(np.int64) << 3 | exponent, scale, "lightpe1")


def quantize_lightpe2(x, *, scale: float | None = None) -> QuantizedTensor:
    """Nearest sum of two signed powers of two (LightNN-2); see the module notes."""
    x, scale = _prepare(x, scale, _LIGHTPE_MAX_TERM)
    v = x / scale
    levels = _LIGHTPE2_LEVELS
    upper = np.clip(np.searchsorted(levels, v), 1, len(levels) - 1)
    low, high = levels[upper - 1], levels[upper]
    to_low, to_high = np.abs(v - low), np.abs(high - v)
    take_high = (to_high < to_low) | ((to_high == to_low) & (np.abs(high) > np.abs(low)))
    index = np.where(take_high, upper, upper - 1)
    return QuantizedTensor(_LIGHTPE2_CANONICAL[index], scale, "lightpe2")


def quantize(x, fmt: str, *, scale: float | None = None) -> QuantizedTensor:
    """Quantize ``x`` to format ``fmt`` (see the module notes for each format's rule)."""
    bits = _format_bits(fmt)
    if fmt == "fp32":
        return QuantizedTensor(np.asarray(x, dtype=np.float32).view(np.uint32), 1.0, fmt)
    if fmt == "lightpe1":
        return quantize_lightpe1(x, scale=scale)
    if fmt == "lightpe2":
        return quantize_lightpe2(x, scale=scale)
    return quantize_int(x, bits, scale=scale)


def weight_format(config: AcceleratorConfig) -> str:
    """Weight format of a configuration's PE type (``"int16"``, ``"int4"``, ``"lightpe1"``, ...)."""
    return config.pe.weight_format_of(config.wt_bits)


def activation_format(config: AcceleratorConfig) -> str:
    """Activation format of a configuration's PE type (``"fp32"`` or ``"int<act_bits>"``)."""
    return config.pe.activation_format_of(config.act_bits)
