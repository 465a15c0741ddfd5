"""LightNN weight codes and the bit-exact golden models of the LightPE MAC units.

LightPE-1 (LightNN-1) weight code, 4 bits ``[s e2 e1 e0]``::

    value = (-1)**s * 2**e,   e = [e2 e1 e0] in 0..7

so the sixteen codes stand for +-1, +-2, ..., +-128. **There is no zero
weight**: the smallest magnitude is 1, and a quantizer maps 0 to ``+1``
(code 0) times the layer scale.

LightPE-2 (LightNN-2) weight code, 8 bits: the high nibble and the low nibble
are each a LightPE-1 code and the weight is the sum of the two terms::

    value = lightpe1_value(code >> 4) + lightpe1_value(code & 0xF)

which spans -256..256 and represents zero (for example ``+2**e + -2**e``).
Several codes can stand for the same value.

Activations are signed 8-bit integers; the partial sum is two's complement
and wraps modulo ``2**psum_bits`` (24 bits unless configured otherwise)::

    psum_out = (signed(a) * value(w) + signed(psum_in)) mod 2**psum_bits

Operands and results travel as unsigned bit patterns, as on the MAC's ports.
The hardware realises the products with shifts and adds; this model multiplies
plain Python integers, independently of the RTL.
"""

from __future__ import annotations

from quidam.config import default_psum_bits, operand_bits

from .integer import to_signed, wrap

__all__ = [
    "LIGHTPE1_CODES",
    "LIGHTPE2_CODES",
    "lightpe1_value",
    "lightpe2_value",
    "lightpe1_mac_bits",
    "lightpe2_mac_bits",
]

#: Number of distinct weight codes of each format (every bit pattern is a valid code).
LIGHTPE1_CODES = 1 << operand_bits("lightpe1")[1]
LIGHTPE2_CODES = 1 << operand_bits("lightpe2")[1]

_ACT_BITS = operand_bits("lightpe1")[0]


def lightpe1_value(code: int) -> int:
    """Integer weight of a LightPE-1 code ``[s e2 e1 e0]``: ``(-1)**s * 2**e``.

    Raises
    ------
    ValueError
        If ``code`` is not in ``0..15``.
    """
    if not isinstance(code, int) or not 0 <= code < LIGHTPE1_CODES:
        raise ValueError(f"LightPE-1 code must be an integer in 0..{LIGHTPE1_CODES - 1}, not {code!r}")
    magnitude = 1 << (code & 0b111)
    return -magnitude if code & 0b1000 else magnitude


def lightpe2_value(code: int) -> int:
    """Integer weight of a LightPE-2 code: the sum of its two LightPE-1 nibbles.

    Raises
    ------
    ValueError
        If ``code`` is not in ``0..255``.
    """
    if not isinstance(code, int) or not 0 <= code < LIGHTPE2_CODES:
        raise ValueError(f"LightPE-2 code must be an integer in 0..{LIGHTPE2_CODES - 1}, not {code!r}")
    return lightpe1_value(code >> 4) + lightpe1_value(code & 0xF)


def lightpe1_mac_bits(a: int, w: int, psum: int, *,
                      psum_bits: int = default_psum_bits("lightpe1", *operand_bits("lightpe1"))) -> int:
    """Golden LightPE-1 multiply-accumulate on bit patterns.

    Parameters
    ----------
    a : int
        Signed 8-bit activation, as its bit pattern.
    w : int
        LightPE-1 weight code, ``0..15``.
    psum : int
        Incoming partial sum, ``psum_bits``-wide two's-complement bit pattern.
    psum_bits : int
        Accumulator width (default 24).

    Returns
    -------
    int
        Bit pattern of ``signed(a) * lightpe1_value(w) + signed(psum)`` modulo
        ``2**psum_bits``.
    """
    return wrap(to_signed(a, _ACT_BITS) * lightpe1_value(w) + to_signed(psum, psum_bits), psum_bits)


def lightpe2_mac_bits(a: int, w: int, psum: int, *,
                      psum_bits: int = default_psum_bits("lightpe2", *operand_bits("lightpe2"))) -> int:
    """Golden LightPE-2 multiply-accumulate on bit patterns.

    Parameters
    ----------
    a : int
        Signed 8-bit activation, as its bit pattern.
    w : int
        LightPE-2 weight code, ``0..255``.
    psum : int
        Incoming partial sum, ``psum_bits``-wide two's-complement bit pattern.
    psum_bits : int
        Accumulator width (default 24).

    Returns
    -------
    int
        Bit pattern of ``signed(a) * lightpe2_value(w) + signed(psum)`` modulo
        ``2**psum_bits``.
    """
    return wrap(to_signed(a, _ACT_BITS) * lightpe2_value(w) + to_signed(psum, psum_bits), psum_bits)
