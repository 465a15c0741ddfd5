"""Two's-complement integers and the bit-exact golden model of the integer MAC.

The ``int16`` and ``int`` PE types multiply a signed ``act_bits`` activation by
a signed ``wt_bits`` weight exactly and add the product to a two's-complement
partial sum that wraps modulo ``2**psum_bits``::

    psum_out = (signed(a) * signed(w) + signed(psum_in)) mod 2**psum_bits

Operands and results travel as unsigned bit patterns (Python ints in
``0 .. 2**bits - 1``), the way they appear on the MAC's ports. Everything here
is plain Python integer arithmetic, written independently of the RTL.
"""

from __future__ import annotations

__all__ = ["to_signed", "from_signed", "wrap", "int_mac_bits"]


def _check_width(bits: int) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits <= 0:
        raise ValueError(f"width must be a positive integer, not {bits!r}")


def to_signed(pattern: int, bits: int) -> int:
    """Read a ``bits``-wide bit pattern as a two's-complement integer.

    Parameters
    ----------
    pattern : int
        Unsigned bit pattern, ``0 <= pattern < 2**bits``.
    bits : int
        Width in bits.

    Returns
    -------
    int
        The signed value, in ``-2**(bits-1) .. 2**(bits-1) - 1``.

    Raises
    ------
    ValueError
        If ``pattern`` does not fit in ``bits`` unsigned bits.
    """
    _check_width(bits)
    if not 0 <= pattern < 1 << bits:
        raise ValueError(f"bit pattern must be in 0..{(1 << bits) - 1} for {bits} bits, not {pattern!r}")
    return pattern - (1 << bits) if pattern >> (bits - 1) else pattern


def from_signed(value: int, bits: int) -> int:
    """Encode a signed integer as its ``bits``-wide two's-complement bit pattern.

    Parameters
    ----------
    value : int
        Signed value, ``-2**(bits-1) <= value < 2**(bits-1)``.
    bits : int
        Width in bits.

    Returns
    -------
    int
        The unsigned bit pattern.

    Raises
    ------
    ValueError
        If ``value`` does not fit; use :func:`wrap` to reduce modulo ``2**bits``.
    """
    _check_width(bits)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not low <= value <= high:
        raise ValueError(f"signed value must be in {low}..{high} for {bits} bits, not {value!r}")
    return value & ((1 << bits) - 1)


def wrap(value: int, bits: int) -> int:
    """Reduce any integer modulo ``2**bits``: the bit pattern a ``bits``-wide register keeps."""
    _check_width(bits)
    return value & ((1 << bits) - 1)


def int_mac_bits(a: int, w: int, psum: int, *, act_bits: int, wt_bits: int, psum_bits: int) -> int:
    """Golden integer multiply-accumulate on bit patterns.

    Parameters
    ----------
    a, w, psum : int
        Bit patterns of the activation (``act_bits`` wide), the weight
        (``wt_bits``) and the incoming partial sum (``psum_bits``), each read
        as two's complement.
    act_bits, wt_bits, psum_bits : int
        Operand and accumulator widths.

    Returns
    -------
    int
        Bit pattern of ``signed(a) * signed(w) + signed(psum)`` modulo
        ``2**psum_bits``.
    """
    product = to_signed(a, act_bits) * to_signed(w, wt_bits)
    return wrap(product + to_signed(psum, psum_bits), psum_bits)
